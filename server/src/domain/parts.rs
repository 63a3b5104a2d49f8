//! Part arithmetic for upload sessions: how a file of `file_size` bytes is
//! cut into parts of `part_size`, and which parts a byte range touches.
//!
//! Parts count from 1. Every part but the last is exactly `part_size`
//! bytes; the last holds the remainder; a zero-byte file has one empty
//! part.

/// A part's number within its session, from 1.
pub type PartNumber = u32;

/// How one file is cut into parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    pub file_size: u64,
    pub part_size: u64,
}

impl PartPlan {
    pub fn new(file_size: u64, part_size: u64) -> Self {
        assert!(part_size > 0, "part size must be positive");
        PartPlan { file_size, part_size }
    }

    /// Number of parts; at least one, even for an empty file.
    pub fn part_count(&self) -> PartNumber {
        let full = self.file_size.div_ceil(self.part_size).max(1);
        PartNumber::try_from(full).unwrap_or(PartNumber::MAX)
    }

    /// Byte offset where `part` starts.
    pub fn offset_of(&self, part: PartNumber) -> u64 {
        u64::from(part.saturating_sub(1)) * self.part_size
    }

    /// Exact length `part` must have, or `None` when the file has no such part.
    pub fn expected_len(&self, part: PartNumber) -> Option<u64> {
        if part == 0 || part > self.part_count() {
            return None;
        }
        Some((self.file_size - self.offset_of(part)).min(self.part_size))
    }

    pub fn is_last(&self, part: PartNumber) -> bool {
        part == self.part_count()
    }

    /// Bytes received once parts `1..next_part` are stored.
    pub fn received_before(&self, next_part: PartNumber) -> u64 {
        self.offset_of(next_part).min(self.file_size)
    }

    /// The parts that hold bytes `start..end` of the file, each with the
    /// range inside that part: `(part, start_in_part, end_in_part)`.
    pub fn parts_covering(
        &self,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = (PartNumber, u64, u64)> + '_ {
        let end = end.min(self.file_size);
        let first = start / self.part_size;
        let last = end.div_ceil(self.part_size);
        (first..last.max(first)).filter_map(move |index| {
            let part_start = index * self.part_size;
            let from = start.max(part_start) - part_start;
            let to = end.min(part_start + self.part_size) - part_start;
            (from < to).then(|| (index as PartNumber + 1, from, to))
        })
    }
}

/// Merges runs of byte ranges `(blob, start, end)` that continue each
/// other in the same blob, so parts stored side by side are read in one
/// request.
pub fn coalesce<K: PartialEq>(
    pieces: impl IntoIterator<Item = (K, u64, u64)>,
) -> Vec<(K, u64, u64)> {
    let mut merged: Vec<(K, u64, u64)> = Vec::new();
    for (key, start, end) in pieces {
        match merged.last_mut() {
            Some((last_key, _, last_end)) if *last_key == key && *last_end == start => {
                *last_end = end;
            }
            _ => merged.push((key, start, end)),
        }
    }
    merged
}

/// What to do with part `part` of a session expecting `next_part`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartArrival {
    /// The next expected part: check and store it.
    Next,
    /// A part already stored: compare bytes and answer as the first time.
    Replay,
    /// A part beyond the next expected one: 409 with the resume point.
    Ahead,
    /// Not a part of this file at all (0 or past the last).
    Unknown,
}

impl PartArrival {
    pub fn classify(plan: &PartPlan, next_part: PartNumber, part: PartNumber) -> Self {
        if part == 0 || part > plan.part_count() {
            PartArrival::Unknown
        } else if part < next_part {
            PartArrival::Replay
        } else if part == next_part {
            PartArrival::Next
        } else {
            PartArrival::Ahead
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 512 * 1024;

    #[test]
    fn ranges_that_continue_in_one_blob_merge_and_others_stay() {
        let pieces = [("a", 0, 10), ("a", 10, 20), ("a", 25, 30), ("b", 30, 40), ("b", 40, 41)];
        assert_eq!(coalesce(pieces), vec![("a", 0, 20), ("a", 25, 30), ("b", 30, 41)]);
        assert!(coalesce(Vec::<(&str, u64, u64)>::new()).is_empty());
        // The same offsets in different blobs never merge.
        assert_eq!(coalesce([("a", 0, 5), ("b", 5, 9)]), vec![("a", 0, 5), ("b", 5, 9)]);
    }

    #[test]
    fn parts_are_full_size_except_the_remainder() {
        let plan = PartPlan::new(2 * K + 10, K);
        assert_eq!(plan.part_count(), 3);
        assert_eq!(plan.expected_len(1), Some(K));
        assert_eq!(plan.expected_len(2), Some(K));
        assert_eq!(plan.expected_len(3), Some(10));
        assert_eq!(plan.expected_len(4), None);
        assert_eq!(plan.expected_len(0), None);
        assert!(plan.is_last(3) && !plan.is_last(2));
    }

    #[test]
    fn exact_multiples_have_no_empty_tail_part() {
        let plan = PartPlan::new(2 * K, K);
        assert_eq!(plan.part_count(), 2);
        assert_eq!(plan.expected_len(2), Some(K));
    }

    #[test]
    fn a_zero_byte_file_has_one_empty_part() {
        let plan = PartPlan::new(0, K);
        assert_eq!(plan.part_count(), 1);
        assert_eq!(plan.expected_len(1), Some(0));
        assert!(plan.is_last(1));
    }

    #[test]
    fn received_counts_stored_parts_up_to_the_file_size() {
        let plan = PartPlan::new(2 * K + 10, K);
        assert_eq!(plan.received_before(1), 0);
        assert_eq!(plan.received_before(3), 2 * K);
        assert_eq!(plan.received_before(4), 2 * K + 10);
    }

    #[test]
    fn ranges_map_onto_the_parts_that_hold_them() {
        let plan = PartPlan::new(25, 10);
        let covering = |s, e| plan.parts_covering(s, e).collect::<Vec<_>>();
        assert_eq!(covering(0, 25), vec![(1, 0, 10), (2, 0, 10), (3, 0, 5)]);
        assert_eq!(covering(5, 15), vec![(1, 5, 10), (2, 0, 5)]);
        assert_eq!(covering(10, 20), vec![(2, 0, 10)]);
        assert_eq!(covering(24, 99), vec![(3, 4, 5)]);
        assert!(covering(7, 7).is_empty());
    }

    #[test]
    fn arrivals_are_classified_against_the_next_expected_part() {
        let plan = PartPlan::new(3 * K, K);
        assert_eq!(PartArrival::classify(&plan, 2, 1), PartArrival::Replay);
        assert_eq!(PartArrival::classify(&plan, 2, 2), PartArrival::Next);
        assert_eq!(PartArrival::classify(&plan, 2, 3), PartArrival::Ahead);
        assert_eq!(PartArrival::classify(&plan, 2, 4), PartArrival::Unknown);
        assert_eq!(PartArrival::classify(&plan, 2, 0), PartArrival::Unknown);
        // After completion every part is a replay.
        assert_eq!(PartArrival::classify(&plan, 4, 3), PartArrival::Replay);
    }
}
