//! `page` and `limit` of every Kommo list, read by one rule: the files
//! list, the notes lists and the CRM entity lists all page alike.
//!
//! Kommo documents 250 as the most items a page holds but not what a
//! larger `limit` does. A larger `limit` is read as 250, so a client that
//! asks for more still gets full pages and walks the rest with `next`;
//! page links write the limit that was used. `limit=0`, `page=0` or a
//! value that is not a whole number is refused, naming the parameter.

use super::query::QueryParams;

/// Most items one page holds: Kommo's documented maximum.
pub const MAX_LIMIT: i64 = 250;
/// Items on a page when `limit` is not sent (what Kommo's PHP library
/// sends by default too).
pub const DEFAULT_LIMIT: i64 = 50;

/// Which page of a list, and how long the pages are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    /// From 1.
    pub page: i64,
    /// 1 to `MAX_LIMIT`.
    pub limit: i64,
}

impl Default for Paging {
    fn default() -> Self {
        Paging { page: 1, limit: DEFAULT_LIMIT }
    }
}

/// A whole number from 1, or a message naming `key`.
pub fn positive(key: &str, value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{key} must be a whole number from 1, not `{value}`"))
}

/// The one value of `key` as a whole number from 1; an empty value is
/// no value.
fn read(query: &QueryParams, key: &str) -> Result<Option<i64>, String> {
    match query.one(key)? {
        None | Some("") => Ok(None),
        Some(value) => positive(key, value).map(Some),
    }
}

impl Paging {
    /// `page` (default 1) and `limit` (default `DEFAULT_LIMIT`, above
    /// `MAX_LIMIT` read as `MAX_LIMIT`).
    pub fn from_query(query: &QueryParams) -> Result<Paging, String> {
        Ok(Paging {
            page: read(query, "page")?.unwrap_or(1),
            limit: read(query, "limit")?.map_or(DEFAULT_LIMIT, |n| n.min(MAX_LIMIT)),
        })
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.limit)
    }

    /// Appends `page` and this paging's `limit` to a page link's query.
    pub fn append_to(&self, page: i64, query: &mut form_urlencoded::Serializer<'_, String>) {
        query.append_pair("page", &page.to_string()).append_pair("limit", &self.limit.to_string());
    }
}

/// A page of rows fetched with one extra (`limit + 1`): `None` when there
/// are none (the list answers 204), else the page and whether more follow.
pub fn page_of<T>(mut rows: Vec<T>, limit: i64) -> Option<(Vec<T>, bool)> {
    if rows.is_empty() {
        return None;
    }
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Some((rows, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(raw: &str) -> Result<Paging, String> {
        Paging::from_query(&QueryParams::parse(raw))
    }

    #[test]
    fn defaults_are_the_first_page_of_fifty() {
        assert_eq!(paging("").unwrap(), Paging { page: 1, limit: 50 });
        assert_eq!(paging("page=&limit=").unwrap(), Paging::default());
        assert_eq!(paging("page=3&limit=20").unwrap().offset(), 40);
    }

    #[test]
    fn a_limit_over_kommos_maximum_is_read_as_the_maximum() {
        assert_eq!(paging("limit=250").unwrap().limit, 250);
        assert_eq!(paging("limit=251").unwrap().limit, MAX_LIMIT);
        assert_eq!(paging("limit=100000&page=2").unwrap(), Paging { page: 2, limit: 250 });
        assert!(paging("limit=99999999999999999999").unwrap_err().contains("limit"));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (raw, named) in [
            ("limit=0", "limit"),
            ("limit=-5", "limit"),
            ("limit=ten", "limit"),
            ("limit[]=5", "limit"),
            ("page=0", "page"),
            ("page=1.5", "page"),
        ] {
            let error = paging(raw).unwrap_err();
            assert!(error.contains(named), "{raw}: {error}");
        }
    }

    #[test]
    fn links_carry_the_limit_used() {
        let used = paging("limit=900").unwrap();
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("filter[id][]", "3");
        used.append_to(2, &mut query);
        assert_eq!(query.finish(), "filter%5Bid%5D%5B%5D=3&page=2&limit=250");
    }

    #[test]
    fn a_page_is_cut_from_one_row_more_than_it_holds() {
        assert_eq!(page_of(Vec::<i32>::new(), 2), None);
        assert_eq!(page_of(vec![1, 2], 2), Some((vec![1, 2], false)));
        assert_eq!(page_of(vec![1, 2, 3], 2), Some((vec![1, 2], true)));
    }
}
