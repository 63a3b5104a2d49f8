//! Parts: their numbers, and reading the byte ranges they were stored
//! in. What may be stored where is `ingest::rules`.

/// A part's number within its session, from 1.
pub type PartNumber = u32;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_that_continue_in_one_blob_merge_and_others_stay() {
        let pieces = [("a", 0, 10), ("a", 10, 20), ("a", 25, 30), ("b", 30, 40), ("b", 40, 41)];
        assert_eq!(coalesce(pieces), vec![("a", 0, 20), ("a", 25, 30), ("b", 30, 41)]);
        assert!(coalesce(Vec::<(&str, u64, u64)>::new()).is_empty());
        // The same offsets in different blobs never merge.
        assert_eq!(coalesce([("a", 0, 5), ("b", 5, 9)]), vec![("a", 0, 5), ("b", 5, 9)]);
    }
}
