//! The Files manager's state as it lives in the page's query string:
//! what a link to a view holds, and the catalogue listing
//! (`GET /v1.0/files`) it asks for. Plain Rust, tested on the host.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

/// Rows per page of the manager.
pub const PAGE_SIZE: u32 = 25;

/// The columns a person can order by, with the API's names.
pub const ORDERS: [(&str, &str); 3] =
    [("name", "Name"), ("size", "Size"), ("created_at", "Created")];

/// Size units the filter offers: name and bytes per unit (as sizes are
/// shown, in powers of 1000).
pub const UNITS: [(&str, u64); 4] =
    [("B", 1), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000)];

/// The date presets the catalogue knows, with labels.
pub const PRESETS: [(&str, &str); 9] = [
    ("day", "Today"),
    ("yesterday", "Yesterday"),
    ("last_3_days", "Last 3 days"),
    ("week", "This week"),
    ("previous_week", "Last week"),
    ("month", "This month"),
    ("previous_month", "Last month"),
    ("quarter", "This quarter"),
    ("year", "This year"),
];

/// What the manager shows: every field is the query parameter of the
/// same name, empty (or the default) when absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesQuery {
    /// The Trash view instead of the active files.
    pub trash: bool,
    /// Extensions, separated by commas or spaces, with or without a dot.
    pub ext: String,
    pub term: String,
    pub size_from: String,
    pub size_to: String,
    /// One of `UNITS`' names; bytes when empty.
    pub unit: String,
    /// One of `PRESETS`, on `created_at`.
    pub preset: String,
    /// One of `ORDERS`' columns; `created_at` when empty.
    pub order: String,
    /// `asc` or `desc`; the column's natural direction when empty.
    pub dir: String,
    /// From 1; 0 means 1.
    pub page: u32,
    /// The file whose detail drawer is open.
    pub open: String,
}

/// Characters a query value keeps as they are.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn enc(value: &str) -> String {
    utf8_percent_encode(value, VALUE).to_string()
}

impl FilesQuery {
    /// Reads the state from query parameters (`get` answers one by name).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        Self {
            trash: matches!(text("trash").as_str(), "1" | "true" | "on"),
            ext: text("ext"),
            term: text("term"),
            size_from: text("size_from"),
            size_to: text("size_to"),
            unit: text("unit"),
            preset: text("preset"),
            order: text("order"),
            dir: text("dir"),
            page: text("page").parse().unwrap_or(0),
            open: text("open"),
        }
    }

    pub fn page(&self) -> u32 {
        self.page.max(1)
    }

    /// The column ordered by.
    pub fn order_column(&self) -> &str {
        match self.order.as_str() {
            "name" | "size" | "created_at" => &self.order,
            _ => "created_at",
        }
    }

    /// The direction: as asked, or names A to Z and the rest newest or
    /// largest first.
    pub fn direction(&self) -> &str {
        match self.dir.as_str() {
            "asc" | "desc" => &self.dir,
            _ if self.order_column() == "name" => "asc",
            _ => "desc",
        }
    }

    /// The extensions asked for, lowercase, without dots.
    pub fn extensions(&self) -> Vec<String> {
        self.ext
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|e| e.trim().trim_start_matches('.').to_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    }

    /// A size in the chosen unit as whole bytes (`1.5` MB is 1500000);
    /// a value that is no number goes as it is, for the API to name.
    fn bytes(&self, value: &str) -> String {
        let unit = UNITS.iter().find(|u| u.0 == self.unit).map_or(1, |u| u.1);
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 && n * (unit as f64) < 9.0e15 => {
                format!("{}", (n * unit as f64).round() as u64)
            }
            _ => enc(value),
        }
    }

    /// The catalogue listing (`GET /v1.0/files`) this state asks for. The
    /// API checks the values: a bad number or preset comes back as its
    /// 400 naming the parameter.
    pub fn api_uri(&self) -> String {
        let mut params = vec![format!("page={}", self.page()), format!("limit={PAGE_SIZE}")];
        if self.trash {
            params.push("filter[deleted]=true".into());
        }
        for ext in self.extensions() {
            params.push(format!("filter[extensions][]={}", enc(&ext)));
        }
        if !self.term.is_empty() {
            params.push(format!("filter[term]={}", enc(&self.term)));
        }
        for (name, value) in [("from", &self.size_from), ("to", &self.size_to)] {
            if !value.is_empty() {
                params.push(format!("filter[size][{name}]={}", self.bytes(value)));
            }
        }
        if !self.preset.is_empty() {
            params.push("filter[date][type]=created_at".into());
            params.push(format!("filter[date][date_preset]={}", enc(&self.preset)));
        }
        params.push(format!("order[{}]={}", self.order_column(), self.direction()));
        format!("/v1.0/files?{}", params.join("&"))
    }

    /// This state as a link to the manager, naming only what differs
    /// from the defaults.
    pub fn href(&self) -> String {
        let mut params = Vec::new();
        if self.trash {
            params.push("trash=1".to_owned());
        }
        for (name, value) in [
            ("ext", &self.ext),
            ("term", &self.term),
            ("size_from", &self.size_from),
            ("size_to", &self.size_to),
            ("unit", &self.unit),
            ("preset", &self.preset),
            ("order", &self.order),
            ("dir", &self.dir),
        ] {
            if !value.is_empty() {
                params.push(format!("{name}={}", enc(value)));
            }
        }
        if self.page > 1 {
            params.push(format!("page={}", self.page));
        }
        if !self.open.is_empty() {
            params.push(format!("open={}", enc(&self.open)));
        }
        if params.is_empty() {
            "/files".into()
        } else {
            format!("/files?{}", params.join("&"))
        }
    }

    /// Ordered by `column`: the other direction when it already is, its
    /// natural one otherwise; back to the first page.
    pub fn ordered_by(&self, column: &str) -> Self {
        let dir = if self.order_column() == column {
            if self.direction() == "asc" {
                "desc"
            } else {
                "asc"
            }
        } else if column == "name" {
            "asc"
        } else {
            "desc"
        };
        Self { order: column.into(), dir: dir.into(), page: 1, open: String::new(), ..self.clone() }
    }

    pub fn at_page(&self, page: u32) -> Self {
        Self { page, open: String::new(), ..self.clone() }
    }

    /// The same list with `uuid`'s drawer open (empty: closed).
    pub fn opened(&self, uuid: &str) -> Self {
        Self { open: uuid.into(), ..self.clone() }
    }

    /// The list itself, whatever drawer is open.
    pub fn list_part(&self) -> Self {
        self.opened("")
    }

    pub fn is_filtered(&self) -> bool {
        !(self.ext.is_empty()
            && self.term.is_empty()
            && self.size_from.is_empty()
            && self.size_to.is_empty()
            && self.preset.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> FilesQuery {
        FilesQuery::from_params(|name| {
            pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_defaults_ask_for_the_newest_active_files() {
        let q = query(&[]);
        assert_eq!(q.api_uri(), "/v1.0/files?page=1&limit=25&order[created_at]=desc");
        assert_eq!(q.href(), "/files");
        assert!(!q.is_filtered());
    }

    #[test]
    fn every_filter_reaches_the_api_with_its_kommo_name() {
        let q = query(&[
            ("trash", "1"),
            ("ext", ".PDF, png  jpg"),
            ("term", "Q3 report & co"),
            ("size_from", "1"),
            ("size_to", "20"),
            ("unit", "MB"),
            ("preset", "week"),
            ("order", "size"),
            ("dir", "asc"),
            ("page", "3"),
        ]);
        assert_eq!(
            q.api_uri(),
            "/v1.0/files?page=3&limit=25&filter[deleted]=true&filter[extensions][]=pdf\
             &filter[extensions][]=png&filter[extensions][]=jpg&filter[term]=Q3%20report%20%26%20co\
             &filter[size][from]=1000000&filter[size][to]=20000000\
             &filter[date][type]=created_at&filter[date][date_preset]=week&order[size]=asc"
        );
        assert!(q.is_filtered());
    }

    #[test]
    fn a_bad_value_is_passed_on_for_the_api_to_name() {
        // The API answers 400 naming `filter[size][from]`; the page shows it.
        let q = query(&[("size_from", "lots"), ("unit", "MB")]);
        assert!(q.api_uri().contains("&filter[size][from]=lots&"));
        let q = query(&[("size_to", "-1")]);
        assert!(q.api_uri().contains("&filter[size][to]=-1&"));
        let q = query(&[("order", "sideways"), ("page", "-2")]);
        assert!(q.api_uri().starts_with("/v1.0/files?page=1&"));
        assert!(q.api_uri().ends_with("order[created_at]=desc"));
    }

    #[test]
    fn sizes_are_sent_as_whole_bytes_of_the_chosen_unit() {
        let q = query(&[("size_from", "1.5"), ("size_to", "0.0004"), ("unit", "MB")]);
        assert!(q.api_uri().contains("&filter[size][from]=1500000&filter[size][to]=400&"));
        let q = query(&[("size_from", "20"), ("unit", "furlongs")]);
        assert!(q.api_uri().contains("&filter[size][from]=20&"));
    }

    #[test]
    fn links_round_trip_through_the_query_string() {
        let q = query(&[("term", "a b/c"), ("unit", "KB"), ("size_to", "5"), ("page", "2")]);
        assert_eq!(q.href(), "/files?term=a%20b%2Fc&size_to=5&unit=KB&page=2");
        let back = query(&[("term", "a b/c"), ("unit", "KB"), ("size_to", "5"), ("page", "2")]);
        assert_eq!(back, q);
        assert_eq!(
            q.opened("u-1").href(),
            "/files?term=a%20b%2Fc&size_to=5&unit=KB&page=2&open=u-1"
        );
        assert_eq!(q.opened("u-1").list_part(), q);
    }

    #[test]
    fn ordering_by_a_column_twice_reverses_it() {
        let q = query(&[("page", "4"), ("open", "x")]);
        let by_name = q.ordered_by("name");
        assert_eq!(
            (by_name.order_column(), by_name.direction(), by_name.page()),
            ("name", "asc", 1)
        );
        assert!(by_name.open.is_empty());
        let again = by_name.ordered_by("name");
        assert_eq!(again.direction(), "desc");
        let by_size = again.ordered_by("size");
        assert_eq!((by_size.order_column(), by_size.direction()), ("size", "desc"));
        // The default column is created_at, newest first; clicking it gives oldest first.
        assert_eq!(q.ordered_by("created_at").direction(), "asc");
    }

    #[test]
    fn the_trash_view_is_a_link_of_its_own() {
        let q = query(&[("trash", "on"), ("page", "2")]);
        assert!(q.trash && !q.is_filtered());
        assert_eq!(q.href(), "/files?trash=1&page=2");
        assert!(q.api_uri().contains("&filter[deleted]=true&"));
        assert!(!query(&[("trash", "no")]).trash);
    }
}
