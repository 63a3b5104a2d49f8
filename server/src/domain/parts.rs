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

/// A piece of a stored version: file bytes `start..end`, kept in blob
/// `key` from `blob_offset` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPiece<K> {
    pub key: K,
    pub start: u64,
    pub end: u64,
    pub blob_offset: u64,
}

/// The blob ranges `(key, from, to)` that hold file bytes `start..end` of
/// a version of `size` bytes stored as `pieces` (in file order), merged
/// where they continue each other. Refused when the pieces do not cover
/// the version gap-free from 0 (a zero-byte version has one empty piece).
pub fn read_plan<K: PartialEq + Clone>(
    pieces: &[StoredPiece<K>],
    size: u64,
    start: u64,
    end: u64,
) -> Result<Vec<(K, u64, u64)>, String> {
    let covered = pieces.iter().try_fold(0u64, |at, p| (p.start == at).then_some(p.end));
    if covered != Some(size) {
        return Err(format!("its pieces do not hold its {size} bytes without a gap"));
    }
    if start > end || end > size {
        return Err(format!("bytes {start}..{end} lie outside its {size} bytes"));
    }
    Ok(coalesce(pieces.iter().filter_map(|p| {
        let (from, to) = (p.start.max(start), p.end.min(end));
        let in_blob = |file_offset: u64| p.blob_offset + (file_offset - p.start);
        (from < to).then(|| (p.key.clone(), in_blob(from), in_blob(to)))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(
        key: &'static str,
        start: u64,
        end: u64,
        blob_offset: u64,
    ) -> StoredPiece<&'static str> {
        StoredPiece { key, start, end, blob_offset }
    }

    #[test]
    fn a_read_plan_maps_file_bytes_to_blob_ranges() {
        // One session blob written in place, and blobs of one part each.
        let in_place = [piece("s", 0, 10, 0), piece("s", 10, 25, 10)];
        assert_eq!(read_plan(&in_place, 25, 0, 25), Ok(vec![("s", 0, 25)]));
        assert_eq!(read_plan(&in_place, 25, 5, 12), Ok(vec![("s", 5, 12)]));
        let per_part = [piece("p1", 0, 4, 0), piece("p2", 4, 8, 0), piece("p3", 8, 9, 0)];
        assert_eq!(
            read_plan(&per_part, 9, 3, 9),
            Ok(vec![("p1", 3, 4), ("p2", 0, 4), ("p3", 0, 1)])
        );
        assert_eq!(read_plan(&per_part, 9, 4, 4), Ok(vec![]));
        // A piece that starts inside its blob.
        assert_eq!(read_plan(&[piece("k", 0, 5, 100)], 5, 1, 3), Ok(vec![("k", 101, 103)]));
        // An empty version: one empty piece, nothing to read.
        assert_eq!(read_plan(&[piece("e", 0, 0, 0)], 0, 0, 0), Ok(vec![]));
    }

    #[test]
    fn a_read_plan_refuses_gaps_short_pieces_and_ranges_outside() {
        let gap = [piece("a", 0, 4, 0), piece("b", 5, 9, 0)];
        assert!(read_plan(&gap, 9, 0, 9).unwrap_err().contains("gap"));
        assert!(read_plan(&[piece("a", 0, 4, 0)], 9, 0, 4).is_err());
        assert!(read_plan(&[piece("a", 1, 9, 0)], 9, 1, 9).is_err());
        assert!(read_plan::<&str>(&[], 3, 0, 3).is_err());
        assert!(read_plan(&[piece("a", 0, 9, 0)], 9, 0, 10).unwrap_err().contains("outside"));
        assert!(read_plan(&[piece("a", 0, 9, 0)], 9, 6, 5).is_err());
    }

    #[test]
    fn ranges_that_continue_in_one_blob_merge_and_others_stay() {
        let pieces = [("a", 0, 10), ("a", 10, 20), ("a", 25, 30), ("b", 30, 40), ("b", 40, 41)];
        assert_eq!(coalesce(pieces), vec![("a", 0, 20), ("a", 25, 30), ("b", 30, 41)]);
        assert!(coalesce(Vec::<(&str, u64, u64)>::new()).is_empty());
        // The same offsets in different blobs never merge.
        assert_eq!(coalesce([("a", 0, 5), ("b", 5, 9)]), vec![("a", 0, 5), ("b", 5, 9)]);
    }
}
