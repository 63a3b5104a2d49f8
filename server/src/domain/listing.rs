//! `GET /v1.0/files`: Kommo's list filters, order and paging, parsed from
//! the query string into plain values. Every bad value is refused with a
//! message naming its parameter.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// Most files one page may hold.
pub const MAX_LIMIT: u32 = 250;
pub const DEFAULT_LIMIT: u32 = 50;

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
    /// Only trashed files (otherwise only files outside the trash).
    pub deleted: bool,
    /// Bytes, both ends included.
    pub size_from: Option<u64>,
    pub size_to: Option<u64>,
    pub date: Option<DateRange>,
    pub created_by: Vec<i64>,
    pub order: OrderField,
    pub ascending: bool,
    /// From 1.
    pub page: u32,
    pub limit: u32,
}

impl ListQuery {
    /// Parses the query string's pairs; `now` anchors the date presets.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: i64,
    ) -> Result<ListQuery, String> {
        let mut query = ListQuery {
            uuids: Vec::new(),
            name: None,
            extensions: Vec::new(),
            term: None,
            source_id: None,
            deleted: false,
            size_from: None,
            size_to: None,
            date: None,
            created_by: Vec::new(),
            order: OrderField::CreatedAt,
            ascending: false,
            page: 1,
            limit: DEFAULT_LIMIT,
        };
        let (mut size_unit, mut date_type, mut date_from, mut date_to, mut preset) =
            (1u64, None, None, None, None);
        let mut orders = 0;
        for (key, value) in pairs {
            let value = value.trim();
            match key {
                "filter[uuid]" | "filter[uuid][]" => query.uuids.extend(
                    value.split(',').map(str::trim).filter(|u| !u.is_empty()).map(String::from),
                ),
                "filter[name]" => query.name = non_empty(value),
                "filter[extensions][]" | "filter[extensions]" => query.extensions.extend(
                    value
                        .split(',')
                        .map(|e| e.trim().trim_start_matches('.').to_lowercase())
                        .filter(|e| !e.is_empty()),
                ),
                "filter[term]" => query.term = non_empty(value),
                "filter[source_id]" => query.source_id = Some(number(key, value)?),
                "filter[deleted]" => query.deleted = boolean(key, value)?,
                "filter[size][from]" => query.size_from = Some(number(key, value)?),
                "filter[size][to]" => query.size_to = Some(number(key, value)?),
                "filter[size][unit]" => {
                    size_unit = number(key, value)?;
                    if size_unit == 0 {
                        return Err(format!("{key} is bytes per unit and must be at least 1"));
                    }
                }
                "filter[date][type]" => {
                    date_type = Some(match value {
                        "created_at" => DateField::CreatedAt,
                        "updated_at" => DateField::UpdatedAt,
                        _ => {
                            return Err(format!("{key} is created_at or updated_at, not `{value}`"))
                        }
                    })
                }
                "filter[date][from]" => date_from = Some(number(key, value)?),
                "filter[date][to]" => date_to = Some(number(key, value)?),
                "filter[date][date_preset]" => {
                    preset = Some(preset_range(value, now).ok_or_else(|| {
                        format!(
                            "{key} is one of day, yesterday, week, previous_week, month, \
                             previous_month, quarter, year, last_3_days; not `{value}`"
                        )
                    })?)
                }
                "filter[created_by][]" | "filter[created_by]" => {
                    for id in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                        query.created_by.push(number(key, id)?);
                    }
                }
                "page" => {
                    query.page = number(key, value)?;
                    if query.page == 0 {
                        return Err("page counts from 1".into());
                    }
                }
                "limit" => {
                    query.limit = number(key, value)?;
                    if query.limit == 0 || query.limit > MAX_LIMIT {
                        return Err(format!("limit is 1 to {MAX_LIMIT}, not {}", query.limit));
                    }
                }
                _ if key.starts_with("order[") && key.ends_with(']') => {
                    orders += 1;
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
                    query.ascending = match value.to_ascii_lowercase().as_str() {
                        "asc" => true,
                        "desc" => false,
                        _ => return Err(format!("{key} is asc or desc, not `{value}`")),
                    };
                }
                _ if key.starts_with("filter[") => {
                    return Err(format!("{key} is not a filter of this list"));
                }
                // Other parameters (`with`, cache busters) are ignored.
                _ => {}
            }
        }
        if orders > 1 {
            return Err("order by one field at a time".into());
        }
        for (key, count) in [
            ("filter[uuid]", query.uuids.len()),
            ("filter[extensions][]", query.extensions.len()),
            ("filter[created_by][]", query.created_by.len()),
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

    /// Rows to skip for this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{key} must be a whole number, not `{value}`"))
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{key} is true or false, not `{value}`")),
    }
}

/// The range a date preset names at `now`, in UTC, from the first second
/// of its first day to `now` (or to the last second of a past period).
pub fn preset_range(preset: &str, now: i64) -> Option<(i64, i64)> {
    let now_dt: DateTime<Utc> = DateTime::from_timestamp(now, 0)?;
    let today = now_dt.date_naive();
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let month_start = today.with_day(1)?;
    let quarter_start = NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1)?;
    Some(match preset {
        "day" => (start(today)?, now),
        "yesterday" => (start(today - Duration::days(1))?, start(today)? - 1),
        "last_3_days" => (start(today - Duration::days(2))?, now),
        "week" => (start(monday)?, now),
        "previous_week" => (start(monday - Duration::days(7))?, start(monday)? - 1),
        "month" => (start(month_start)?, now),
        "previous_month" => {
            let last_month = (month_start - Duration::days(1)).with_day(1)?;
            (start(last_month)?, start(month_start)? - 1)
        }
        "quarter" => (start(quarter_start)?, now),
        "year" => (start(NaiveDate::from_ymd_opt(today.year(), 1, 1)?)?, now),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Wednesday 2026-11-25 15:30:00 UTC.
    const NOW: i64 = 1_795_620_600;

    fn parse(query: &str) -> Result<ListQuery, String> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), NOW)
    }

    fn day(y: i32, m: u32, d: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    #[test]
    fn the_fixed_now_is_a_wednesday_afternoon() {
        let now = DateTime::from_timestamp(NOW, 0).unwrap();
        assert_eq!(now.to_rfc3339(), "2026-11-25T15:30:00+00:00");
    }

    #[test]
    fn defaults_are_newest_first_fifty_a_page_outside_the_trash() {
        let q = parse("").unwrap();
        assert_eq!(
            (q.order, q.ascending, q.page, q.limit, q.deleted),
            (OrderField::CreatedAt, false, 1, 50, false)
        );
        assert_eq!(q.offset(), 0);
        assert_eq!(parse("page=3&limit=20").unwrap().offset(), 40);
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
            ("filter[size][from]=9&filter[size][to]=3", "filter[size][from]"),
            ("filter[date][date_preset]=fortnight", "filter[date][date_preset]"),
            ("filter[date][type]=deleted_at", "filter[date][type]"),
            ("filter[deleted]=maybe", "filter[deleted]"),
            ("filter[created_by][]=bob", "filter[created_by][]"),
            ("filter[colour]=red", "filter[colour]"),
            ("order[color]=asc", "order by"),
            ("order[size]=up", "order[size]"),
            ("page=0", "page"),
            ("limit=251", "limit"),
            ("limit=x", "limit"),
            (&format!("filter[uuid]={}", vec!["u"; 251].join(",")), "filter[uuid]"),
        ] {
            let error = parse(query).unwrap_err();
            assert!(error.contains(named), "{query}: {error}");
        }
    }

    #[test]
    fn presets_cover_their_calendar_periods() {
        let at = |p: &str| preset_range(p, NOW).unwrap();
        assert_eq!(at("day"), (day(2026, 11, 25), NOW));
        assert_eq!(at("yesterday"), (day(2026, 11, 24), day(2026, 11, 25) - 1));
        assert_eq!(at("last_3_days"), (day(2026, 11, 23), NOW));
        assert_eq!(at("week"), (day(2026, 11, 23), NOW));
        assert_eq!(at("previous_week"), (day(2026, 11, 16), day(2026, 11, 23) - 1));
        assert_eq!(at("month"), (day(2026, 11, 1), NOW));
        assert_eq!(at("previous_month"), (day(2026, 10, 1), day(2026, 11, 1) - 1));
        assert_eq!(at("quarter"), (day(2026, 10, 1), NOW));
        assert_eq!(at("year"), (day(2026, 1, 1), NOW));
        assert!(preset_range("decade", NOW).is_none());
        // January's previous month is last December.
        let january = day(2027, 1, 10);
        assert_eq!(
            preset_range("previous_month", january).unwrap(),
            (day(2026, 12, 1), day(2027, 1, 1) - 1)
        );
        // A preset wins over explicit bounds and filters created_at by default.
        let q = parse("filter[date][date_preset]=yesterday&filter[date][from]=5").unwrap();
        assert_eq!(q.date.unwrap().field, DateField::CreatedAt);
        assert_eq!(q.date.unwrap().from, Some(day(2026, 11, 24)));
    }
}
