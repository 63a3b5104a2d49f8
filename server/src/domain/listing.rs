//! `GET /v1.0/files`: Kommo's list filters, order and paging, parsed from
//! the query string into plain values. Every bad value is refused with a
//! message naming its parameter.

use super::{
    date_preset::DatePreset,
    paging::{Paging, MAX_LIMIT},
    query::QueryParams,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderField {
    CreatedAt,
    UpdatedAt,
    Size,
    Name,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateField {
    CreatedAt,
    UpdatedAt,
}

/// A time range in unix seconds, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub field: DateField,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Everything a listing asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub uuids: Vec<String>,
    pub name: Option<String>,
    /// Lowercase, without the dot.
    pub extensions: Vec<String>,
    pub term: Option<String>,
    pub source_id: Option<i64>,
    /// Only trashed files (otherwise only files outside the trash):
    /// `filter[deleted]` was passed.
    pub deleted: bool,
    /// Bytes, both ends included.
    pub size_from: Option<u64>,
    pub size_to: Option<u64>,
    pub date: Option<DateRange>,
    pub created_by: Vec<i64>,
    pub updated_by: Vec<i64>,
    pub order: OrderField,
    pub ascending: bool,
    pub paging: Paging,
}

impl ListQuery {
    /// Reads the query string's parameters; `now` anchors the date
    /// presets. Lists take every form `QueryParams` reads (`[]`, `[0]`,
    /// repeated keys) and comma lists; `filter[...]` keys this list does
    /// not know are ignored, as Kommo ignores them.
    pub fn parse(params: &QueryParams, now: i64) -> Result<ListQuery, String> {
        let one = |key: &str| params.one(key);
        let numbers = |key: &str, named: &str| -> Result<Vec<i64>, String> {
            params.comma_list(key).into_iter().map(|v| number(named, v)).collect()
        };
        let mut query = ListQuery {
            uuids: params.comma_list("filter[uuid]").into_iter().map(String::from).collect(),
            name: one("filter[name]")?.and_then(non_empty),
            extensions: params
                .comma_list("filter[extensions]")
                .into_iter()
                .map(|e| e.trim_start_matches('.').to_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
            term: one("filter[term]")?.and_then(non_empty),
            source_id: optional(params, "filter[source_id]", number)?,
            deleted: optional(params, "filter[deleted]", passed)?.unwrap_or(false),
            size_from: optional(params, "filter[size][from]", size)?,
            size_to: optional(params, "filter[size][to]", size)?,
            date: None,
            created_by: numbers("filter[created_by]", "filter[created_by][]")?,
            updated_by: numbers("filter[updated_by]", "filter[updated_by][]")?,
            order: OrderField::CreatedAt,
            ascending: false,
            paging: Paging::from_query(params)?,
        };
        let size_unit: u64 = optional(params, "filter[size][unit]", size)?.unwrap_or(1);
        if size_unit == 0 {
            return Err("filter[size][unit] is bytes per unit and must be at least 1".into());
        }
        let date_type = optional(params, "filter[date][type]", |key, value| match value {
            "created_at" => Ok(DateField::CreatedAt),
            "updated_at" => Ok(DateField::UpdatedAt),
            _ => Err(format!("{key} is created_at or updated_at, not `{value}`")),
        })?;
        let date_from = optional(params, "filter[date][from]", number)?;
        let date_to = optional(params, "filter[date][to]", number)?;
        let preset = optional(params, "filter[date][date_preset]", |key, value| {
            DatePreset::parse(value)
                .ok_or_else(|| format!("{key} is one of {}; not `{value}`", DatePreset::names()))?
                .range(now)
                .ok_or_else(|| format!("{key}: the server's clock is outside the calendar"))
        })?;
        let orders: Vec<&str> = params
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("order[") && k.ends_with(']'))
            .collect();
        if orders.len() > 1 {
            return Err("order by one field at a time".into());
        }
        if let Some(key) = orders.first() {
            query.order = match &key[6..key.len() - 1] {
                "created_at" => OrderField::CreatedAt,
                "updated_at" => OrderField::UpdatedAt,
                "size" => OrderField::Size,
                "name" => OrderField::Name,
                other => {
                    return Err(format!(
                        "order by created_at, updated_at, size or name, not `{other}`"
                    ))
                }
            };
            let value = one(key)?.unwrap_or_default();
            query.ascending = match value.to_ascii_lowercase().as_str() {
                "asc" => true,
                "desc" => false,
                _ => return Err(format!("{key} is asc or desc, not `{value}`")),
            };
        }
        for (key, count) in [
            ("filter[uuid]", query.uuids.len()),
            ("filter[extensions][]", query.extensions.len()),
            ("filter[created_by][]", query.created_by.len()),
            ("filter[updated_by][]", query.updated_by.len()),
        ] {
            if count > MAX_LIMIT as usize {
                return Err(format!("{key} names at most {MAX_LIMIT} values, not {count}"));
            }
        }
        query.size_from = query.size_from.map(|n| n.saturating_mul(size_unit));
        query.size_to = query.size_to.map(|n| n.saturating_mul(size_unit));
        if let (Some(from), Some(to)) = (query.size_from, query.size_to) {
            if from > to {
                return Err(format!(
                    "filter[size][from] ({from}) is above filter[size][to] ({to})"
                ));
            }
        }
        let (from, to) = match preset {
            Some((from, to)) => (Some(from), Some(to)),
            None => (date_from, date_to),
        };
        if from.is_some() || to.is_some() {
            query.date =
                Some(DateRange { field: date_type.unwrap_or(DateField::CreatedAt), from, to });
        }
        Ok(query)
    }
}

/// The one value of `key`, read by `read`; `None` when absent.
fn optional<T>(
    params: &QueryParams,
    key: &str,
    read: impl FnOnce(&str, &str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    params.one(key)?.map(|value| read(key, value)).transpose()
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{key} must be a whole number, not `{value}`"))
}

/// A size in bytes (or bytes per unit): a whole number from 0 to
/// `i64::MAX`, the largest size a database column holds.
fn size(key: &str, value: &str) -> Result<u64, String> {
    let n: u64 = number(key, value)?;
    if n > i64::MAX as u64 {
        return Err(format!("{key} must be at most {}, not `{value}`", i64::MAX));
    }
    Ok(n)
}

/// Whether a flag Kommo reads as "if passed" was passed: any value is,
/// even an empty one (`filter[deleted]=`), but `0` and `false`, which a
/// client sends to say "not".
fn passed(_key: &str, value: &str) -> Result<bool, String> {
    Ok(!matches!(value.to_ascii_lowercase().as_str(), "0" | "false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Wednesday 2026-11-25 15:30:00 UTC.
    const NOW: i64 = 1_795_620_600;

    fn parse(query: &str) -> Result<ListQuery, String> {
        ListQuery::parse(&QueryParams::parse(query), NOW)
    }

    fn day(y: i32, m: u32, d: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    #[test]
    fn the_fixed_now_is_a_wednesday_afternoon() {
        let now = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
        assert_eq!(now.to_rfc3339(), "2026-11-25T15:30:00+00:00");
    }

    #[test]
    fn defaults_are_newest_first_fifty_a_page_outside_the_trash() {
        let q = parse("").unwrap();
        assert_eq!(
            (q.order, q.ascending, q.paging, q.deleted),
            (OrderField::CreatedAt, false, Paging { page: 1, limit: 50 }, false)
        );
        assert_eq!(parse("page=3&limit=20").unwrap().paging.offset(), 40);
    }

    #[test]
    fn a_limit_over_the_maximum_is_read_as_the_maximum() {
        assert_eq!(parse("limit=1000").unwrap().paging, Paging { page: 1, limit: MAX_LIMIT });
        assert_eq!(parse("limit=250&page=2").unwrap().paging, Paging { page: 2, limit: 250 });
    }

    #[test]
    fn deleted_is_read_as_kommo_does_if_passed() {
        for passed in
            ["filter[deleted]=true", "filter[deleted]=1", "filter[deleted]=", "filter[deleted]=Y"]
        {
            assert!(parse(passed).unwrap().deleted, "{passed}");
        }
        for not in ["", "filter[deleted]=false", "filter[deleted]=0", "filter[deleted]=FALSE"] {
            assert!(!parse(not).unwrap().deleted, "{not}");
        }
    }

    #[test]
    fn every_filter_parses() {
        let q = parse(
            "filter[uuid]=a,b&filter[name]=Report&filter[extensions][]=PDF&filter[extensions][]=.png\
             &filter[term]=q3&filter[source_id]=7&filter[deleted]=true&filter[size][from]=1\
             &filter[size][to]=5&filter[size][unit]=1024&filter[created_by][]=3&filter[created_by][]=4\
             &filter[date][type]=updated_at&filter[date][from]=100&filter[date][to]=200\
             &order[size]=asc&with=deleted",
        )
        .unwrap();
        assert_eq!(q.uuids, ["a", "b"]);
        assert_eq!(q.name.as_deref(), Some("Report"));
        assert_eq!(q.extensions, ["pdf", "png"]);
        assert_eq!(q.term.as_deref(), Some("q3"));
        assert_eq!(q.source_id, Some(7));
        assert!(q.deleted);
        assert_eq!((q.size_from, q.size_to), (Some(1024), Some(5 * 1024)));
        assert_eq!(q.created_by, [3, 4]);
        assert_eq!(
            q.date,
            Some(DateRange { field: DateField::UpdatedAt, from: Some(100), to: Some(200) })
        );
        assert_eq!((q.order, q.ascending), (OrderField::Size, true));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, named) in [
            ("filter[size][from]=ten", "filter[size][from]"),
            ("filter[size][unit]=0", "filter[size][unit]"),
            ("filter[size][unit]=9223372036854775808", "filter[size][unit]"),
            ("filter[size][to]=18446744073709551615", "filter[size][to]"),
            ("filter[size][from]=9&filter[size][to]=3", "filter[size][from]"),
            ("filter[date][date_preset]=fortnight", "filter[date][date_preset]"),
            ("filter[date][type]=deleted_at", "filter[date][type]"),
            ("filter[deleted][]=1", "filter[deleted]"),
            ("filter[created_by][]=bob", "filter[created_by][]"),
            ("filter[name][]=Report", "filter[name]"),
            ("order[size][]=asc", "order[size]"),
            ("order[color]=asc", "order by"),
            ("order[size]=up", "order[size]"),
            ("page=0", "page"),
            ("limit=0", "limit"),
            ("limit=x", "limit"),
            (&format!("filter[uuid]={}", vec!["u"; 251].join(",")), "filter[uuid]"),
        ] {
            let error = parse(query).unwrap_err();
            assert!(error.contains(named), "{query}: {error}");
        }
    }

    #[test]
    fn lists_read_as_php_builds_them_and_as_kommo_documents_them() {
        let php = parse(
            "filter%5Buuid%5D=a%2Cb&filter%5Bextensions%5D%5B0%5D=pdf&filter%5Bextensions%5D%5B2%5D=TXT\
             &filter%5Bcreated_by%5D%5B0%5D=3&filter%5Bupdated_by%5D%5B0%5D=4&filter%5Bupdated_by%5D%5B1%5D=5\
             &limit=50&page=1",
        )
        .unwrap();
        let kommo = parse(
            "filter[uuid][]=a&filter[uuid][]=b&filter[extensions][]=pdf&filter[extensions][]=txt\
             &filter[created_by][]=3&filter[updated_by][]=4,5",
        )
        .unwrap();
        assert_eq!(php, kommo);
        assert_eq!(php.uuids, ["a", "b"]);
        assert_eq!(php.extensions, ["pdf", "txt"]);
        assert_eq!((php.created_by.as_slice(), php.updated_by.as_slice()), (&[3][..], &[4, 5][..]));
        let error = parse("filter[updated_by][1]=x").unwrap_err();
        assert!(error.contains("filter[updated_by][]"), "{error}");
    }

    #[test]
    fn filters_this_list_does_not_know_are_ignored() {
        assert_eq!(
            parse("filter[colour]=red&filter[responsible_user_id][0]=1&filter[extensions][]=pdf")
                .unwrap(),
            parse("filter[extensions][]=pdf").unwrap()
        );
    }

    #[test]
    fn a_preset_is_its_calendar_period_and_wins_over_explicit_bounds() {
        for preset in DatePreset::ALL {
            let q = parse(&format!("filter[date][date_preset]={}", preset.as_str())).unwrap();
            let (from, to) = preset.range(NOW).unwrap();
            assert_eq!(
                q.date,
                Some(DateRange { field: DateField::CreatedAt, from: Some(from), to: Some(to) }),
                "{preset:?}"
            );
        }
        let q = parse(
            "filter%5Bdate%5D%5Bdate_preset%5D=yesterday&filter%5Bdate%5D%5Bfrom%5D=5\
             &filter%5Bdate%5D%5Btype%5D=updated_at",
        )
        .unwrap();
        assert_eq!(
            q.date,
            Some(DateRange {
                field: DateField::UpdatedAt,
                from: Some(day(2026, 11, 24)),
                to: Some(day(2026, 11, 25) - 1)
            })
        );
        // One end alone is a range open on the other side.
        let q = parse("filter[date][to]=99").unwrap();
        assert_eq!(
            q.date,
            Some(DateRange { field: DateField::CreatedAt, from: None, to: Some(99) })
        );
        assert_eq!(parse("filter[date][type]=updated_at").unwrap().date, None);
    }
}
