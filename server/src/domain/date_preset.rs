//! Kommo's date presets (`filter[date][date_preset]` of the files list):
//! each names a calendar period around "now", turned here into a range
//! of unix seconds, both ends included.
//!
//! Every period is whole: `day` runs from the first to the last second of
//! today, `week` from Monday to Sunday (ISO weeks), `quarter` over the
//! three months of January, April, July or October. `last_3_days` is today
//! and the two days before, `next_3_days` today and the two days after;
//! `last_6_month` runs from the same day six months ago (the month's last
//! day when that month is shorter) to the end of today. Satchel keeps no
//! time zone per account, so days begin at midnight UTC.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate};

/// One of Kommo's presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePreset {
    Day,
    Tomorrow,
    Yesterday,
    Week,
    PreviousWeek,
    NextWeek,
    Month,
    NextMonth,
    PreviousMonth,
    Quarter,
    PreviousQuarter,
    NextQuarter,
    Last3Days,
    Next3Days,
    Last6Month,
    Year,
}

impl DatePreset {
    /// Every preset, in the order Kommo's reference lists them.
    pub const ALL: [DatePreset; 16] = [
        DatePreset::Day,
        DatePreset::Tomorrow,
        DatePreset::Yesterday,
        DatePreset::Week,
        DatePreset::PreviousWeek,
        DatePreset::NextWeek,
        DatePreset::Month,
        DatePreset::NextMonth,
        DatePreset::PreviousMonth,
        DatePreset::Quarter,
        DatePreset::PreviousQuarter,
        DatePreset::NextQuarter,
        DatePreset::Last3Days,
        DatePreset::Next3Days,
        DatePreset::Last6Month,
        DatePreset::Year,
    ];

    /// Kommo's name of the preset.
    pub fn as_str(self) -> &'static str {
        match self {
            DatePreset::Day => "day",
            DatePreset::Tomorrow => "tomorrow",
            DatePreset::Yesterday => "yesterday",
            DatePreset::Week => "week",
            DatePreset::PreviousWeek => "previous_week",
            DatePreset::NextWeek => "next_week",
            DatePreset::Month => "month",
            DatePreset::NextMonth => "next_month",
            DatePreset::PreviousMonth => "previous_month",
            DatePreset::Quarter => "quarter",
            DatePreset::PreviousQuarter => "previous_quarter",
            DatePreset::NextQuarter => "next_quarter",
            DatePreset::Last3Days => "last_3_days",
            DatePreset::Next3Days => "next_3_days",
            DatePreset::Last6Month => "last_6_month",
            DatePreset::Year => "year",
        }
    }

    /// The preset Kommo names `name` (exactly, as its reference spells it).
    pub fn parse(name: &str) -> Option<DatePreset> {
        DatePreset::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        DatePreset::ALL.map(DatePreset::as_str).join(", ")
    }

    /// The first and last second of the period at `now` (unix seconds,
    /// UTC); `None` only for a `now` outside chrono's calendar.
    pub fn range(self, now: i64) -> Option<(i64, i64)> {
        let today = DateTime::from_timestamp(now, 0)?.date_naive();
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        let month = today.with_day(1)?;
        let quarter = NaiveDate::from_ymd_opt(today.year(), today.month0() / 3 * 3 + 1, 1)?;
        let months = |first: NaiveDate, count: u32| {
            // `count` whole months from `first`, which is a month's first day.
            days(first, first.checked_add_months(Months::new(count))?.pred_opt()?)
        };
        let shift = |first: NaiveDate, by: i32| {
            let by_months = Months::new(by.unsigned_abs());
            if by < 0 {
                first.checked_sub_months(by_months)
            } else {
                first.checked_add_months(by_months)
            }
        };
        match self {
            DatePreset::Day => days(today, today),
            DatePreset::Tomorrow => days(today.succ_opt()?, today.succ_opt()?),
            DatePreset::Yesterday => days(today.pred_opt()?, today.pred_opt()?),
            DatePreset::Week => days(monday, monday + Duration::days(6)),
            DatePreset::PreviousWeek => {
                days(monday - Duration::days(7), monday - Duration::days(1))
            }
            DatePreset::NextWeek => days(monday + Duration::days(7), monday + Duration::days(13)),
            DatePreset::Month => months(month, 1),
            DatePreset::NextMonth => months(shift(month, 1)?, 1),
            DatePreset::PreviousMonth => months(shift(month, -1)?, 1),
            DatePreset::Quarter => months(quarter, 3),
            DatePreset::PreviousQuarter => months(shift(quarter, -3)?, 3),
            DatePreset::NextQuarter => months(shift(quarter, 3)?, 3),
            DatePreset::Last3Days => days(today - Duration::days(2), today),
            DatePreset::Next3Days => days(today, today + Duration::days(2)),
            DatePreset::Last6Month => days(today.checked_sub_months(Months::new(6))?, today),
            DatePreset::Year => days(today.with_ordinal(1)?, today.with_month(12)?.with_day(31)?),
        }
    }
}

/// From the first second of `first` to the last second of `last`, UTC.
fn days(first: NaiveDate, last: NaiveDate) -> Option<(i64, i64)> {
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
    Some((start(first)?, start(last.succ_opt()?)? - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Midnight UTC at the start of this day.
    fn at(y: i32, m: u32, d: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    /// The range from the start of `from` to the end of `to` (a whole day).
    fn span(from: (i32, u32, u32), to: (i32, u32, u32)) -> (i64, i64) {
        let end = NaiveDate::from_ymd_opt(to.0, to.1, to.2).unwrap().succ_opt().unwrap();
        (at(from.0, from.1, from.2), at(end.year(), end.month(), end.day()) - 1)
    }

    fn ranges(now: i64) -> Vec<(&'static str, (i64, i64))> {
        DatePreset::ALL.iter().map(|p| (p.as_str(), p.range(now).unwrap())).collect()
    }

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for preset in DatePreset::ALL {
            assert_eq!(DatePreset::parse(preset.as_str()), Some(preset));
        }
        for other in ["fortnight", "DAY", "last_6_months", "previous_year", ""] {
            assert_eq!(DatePreset::parse(other), None, "{other}");
        }
        assert!(DatePreset::names().starts_with("day, tomorrow, yesterday, week"));
    }

    #[test]
    fn a_wednesday_afternoon_in_november() {
        // Wednesday 2026-11-25 15:30:00 UTC.
        let now = at(2026, 11, 25) + 15 * 3600 + 30 * 60;
        assert_eq!(
            ranges(now),
            [
                ("day", span((2026, 11, 25), (2026, 11, 25))),
                ("tomorrow", span((2026, 11, 26), (2026, 11, 26))),
                ("yesterday", span((2026, 11, 24), (2026, 11, 24))),
                ("week", span((2026, 11, 23), (2026, 11, 29))),
                ("previous_week", span((2026, 11, 16), (2026, 11, 22))),
                ("next_week", span((2026, 11, 30), (2026, 12, 6))),
                ("month", span((2026, 11, 1), (2026, 11, 30))),
                ("next_month", span((2026, 12, 1), (2026, 12, 31))),
                ("previous_month", span((2026, 10, 1), (2026, 10, 31))),
                ("quarter", span((2026, 10, 1), (2026, 12, 31))),
                ("previous_quarter", span((2026, 7, 1), (2026, 9, 30))),
                ("next_quarter", span((2027, 1, 1), (2027, 3, 31))),
                ("last_3_days", span((2026, 11, 23), (2026, 11, 25))),
                ("next_3_days", span((2026, 11, 25), (2026, 11, 27))),
                ("last_6_month", span((2026, 5, 25), (2026, 11, 25))),
                ("year", span((2026, 1, 1), (2026, 12, 31))),
            ]
        );
    }

    #[test]
    fn new_years_eve_reaches_into_the_next_year() {
        // Thursday 2026-12-31 23:59:59 UTC: the last second of the year.
        let now = at(2027, 1, 1) - 1;
        let r = |p: DatePreset| p.range(now).unwrap();
        assert_eq!(r(DatePreset::Day), span((2026, 12, 31), (2026, 12, 31)));
        assert_eq!(r(DatePreset::Day).1, now, "the day ends with this second");
        assert_eq!(r(DatePreset::Tomorrow), span((2027, 1, 1), (2027, 1, 1)));
        assert_eq!(r(DatePreset::Week), span((2026, 12, 28), (2027, 1, 3)));
        assert_eq!(r(DatePreset::NextWeek), span((2027, 1, 4), (2027, 1, 10)));
        assert_eq!(r(DatePreset::NextMonth), span((2027, 1, 1), (2027, 1, 31)));
        assert_eq!(r(DatePreset::NextQuarter), span((2027, 1, 1), (2027, 3, 31)));
        assert_eq!(r(DatePreset::Next3Days), span((2026, 12, 31), (2027, 1, 2)));
        assert_eq!(r(DatePreset::Year), span((2026, 1, 1), (2026, 12, 31)));
    }

    #[test]
    fn new_years_day_looks_back_into_the_last_year() {
        // Friday 2027-01-01 00:00:00 UTC: the first second of the year.
        let now = at(2027, 1, 1);
        let r = |p: DatePreset| p.range(now).unwrap();
        assert_eq!(r(DatePreset::Day).0, now, "the day starts with this second");
        assert_eq!(r(DatePreset::Yesterday), span((2026, 12, 31), (2026, 12, 31)));
        assert_eq!(r(DatePreset::PreviousWeek), span((2026, 12, 21), (2026, 12, 27)));
        assert_eq!(r(DatePreset::PreviousMonth), span((2026, 12, 1), (2026, 12, 31)));
        assert_eq!(r(DatePreset::PreviousQuarter), span((2026, 10, 1), (2026, 12, 31)));
        assert_eq!(r(DatePreset::Quarter), span((2027, 1, 1), (2027, 3, 31)));
        assert_eq!(r(DatePreset::Last3Days), span((2026, 12, 30), (2027, 1, 1)));
        assert_eq!(r(DatePreset::Last6Month), span((2026, 7, 1), (2027, 1, 1)));
    }

    #[test]
    fn leap_years_give_february_its_29th() {
        // Tuesday 2028-02-29 12:00 UTC, a leap day.
        let leap_day = at(2028, 2, 29) + 12 * 3600;
        let r = |p: DatePreset, now: i64| p.range(now).unwrap();
        assert_eq!(r(DatePreset::Month, leap_day), span((2028, 2, 1), (2028, 2, 29)));
        assert_eq!(r(DatePreset::Week, leap_day), span((2028, 2, 28), (2028, 3, 5)));
        assert_eq!(r(DatePreset::PreviousWeek, leap_day), span((2028, 2, 21), (2028, 2, 27)));
        assert_eq!(r(DatePreset::Tomorrow, leap_day), span((2028, 3, 1), (2028, 3, 1)));
        assert_eq!(r(DatePreset::Last6Month, leap_day), span((2027, 8, 29), (2028, 2, 29)));
        // In March, the previous month is a leap February.
        let march = at(2028, 3, 10);
        assert_eq!(r(DatePreset::PreviousMonth, march), span((2028, 2, 1), (2028, 2, 29)));
        assert_eq!(r(DatePreset::Last3Days, at(2028, 3, 1)), span((2028, 2, 28), (2028, 3, 1)));
        // A common year's February has 28 days; January's next month too.
        assert_eq!(r(DatePreset::NextMonth, at(2027, 1, 31)), span((2027, 2, 1), (2027, 2, 28)));
        assert_eq!(r(DatePreset::Quarter, at(2028, 2, 29)), span((2028, 1, 1), (2028, 3, 31)));
    }

    #[test]
    fn six_months_back_from_a_long_months_end_stops_at_the_shorter_months_end() {
        // 2027-08-31: six months before is February, which has no 31st.
        let r = DatePreset::Last6Month.range(at(2027, 8, 31) + 60).unwrap();
        assert_eq!(r, span((2027, 2, 28), (2027, 8, 31)));
        let r = DatePreset::Last6Month.range(at(2028, 8, 31)).unwrap();
        assert_eq!(r, span((2028, 2, 29), (2028, 8, 31)));
    }

    #[test]
    fn every_period_holds_now_or_lies_wholly_before_or_after_it() {
        let now = at(2026, 11, 25) + 15 * 3600;
        for preset in DatePreset::ALL {
            let (from, to) = preset.range(now).unwrap();
            assert!(from <= to, "{preset:?}");
            let holds = from <= now && now <= to;
            let future = matches!(
                preset,
                DatePreset::Tomorrow
                    | DatePreset::NextWeek
                    | DatePreset::NextMonth
                    | DatePreset::NextQuarter
            );
            let past = matches!(
                preset,
                DatePreset::Yesterday
                    | DatePreset::PreviousWeek
                    | DatePreset::PreviousMonth
                    | DatePreset::PreviousQuarter
            );
            assert_eq!(holds, !future && !past, "{preset:?}");
            assert_eq!(from > now, future, "{preset:?}");
            assert_eq!(to < now, past, "{preset:?}");
        }
    }
}
