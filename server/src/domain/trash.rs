//! The trash's rules: which files may be used, when a trashed file is due
//! for the purge, and how long it has left. Every place that puts a file
//! to use (a new version, a note, a custom-field value, an entity link)
//! asks `usable` and nothing else.

/// What `usable` needs to know of a file.
pub trait TrashState {
    /// Unix seconds when the file went to the trash; `None` outside it.
    fn trashed_at(&self) -> Option<i64>;
}

/// Why a file cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// No such file in the caller's account (never uploaded, purged, or
    /// another account's, which must look the same).
    Unknown,
    /// The file is in the trash: restore it first.
    Trashed,
}

/// Whether a file found (or not) in the caller's account may be put to
/// a new use.
pub fn usable<F: TrashState>(file: Option<&F>) -> Result<&F, Unusable> {
    match file {
        None => Err(Unusable::Unknown),
        Some(f) if f.trashed_at().is_some() => Err(Unusable::Trashed),
        Some(f) => Ok(f),
    }
}

/// Files trashed at or before this instant are due for the purge.
pub fn purge_cutoff(now: i64, trash_ttl_secs: i64) -> i64 {
    now.saturating_sub(trash_ttl_secs)
}

/// Whole days a trashed file has left before the purge, rounded up; 0 when
/// it is due.
pub fn days_left(trashed_at: i64, now: i64, trash_ttl_secs: i64) -> i64 {
    let remaining = trashed_at.saturating_add(trash_ttl_secs).saturating_sub(now);
    if remaining <= 0 {
        0
    } else {
        (remaining + 86_399) / 86_400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct F(Option<i64>);
    impl TrashState for F {
        fn trashed_at(&self) -> Option<i64> {
            self.0
        }
    }

    #[test]
    fn only_a_file_outside_the_trash_is_usable() {
        assert_eq!(usable::<F>(None).unwrap_err(), Unusable::Unknown);
        assert_eq!(usable(Some(&F(Some(5)))).unwrap_err(), Unusable::Trashed);
        // A file claimed by the purge is stamped 0: still trashed.
        assert_eq!(usable(Some(&F(Some(0)))).unwrap_err(), Unusable::Trashed);
        assert!(usable(Some(&F(None))).is_ok());
    }

    #[test]
    fn the_cutoff_is_ttl_before_now() {
        assert_eq!(purge_cutoff(1_000, 30), 970);
        assert_eq!(purge_cutoff(i64::MIN + 1, 30), i64::MIN);
    }

    #[test]
    fn days_left_round_up_and_stop_at_zero() {
        let ttl = 30 * 86_400;
        assert_eq!(days_left(0, 0, ttl), 30);
        assert_eq!(days_left(0, 1, ttl), 30, "29 days and change left: 30");
        assert_eq!(days_left(0, 29 * 86_400, ttl), 1);
        assert_eq!(days_left(0, ttl - 1, ttl), 1);
        assert_eq!(days_left(0, ttl, ttl), 0);
        assert_eq!(days_left(0, ttl + 50, ttl), 0);
    }
}
