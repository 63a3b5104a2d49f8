//! The ingest rules, in plain Rust: which bytes may be appended where.
//! No I/O, no HTTP: the caller looks up the stored pieces and acts on the
//! plan these functions return.
//!
//! A session's bytes arrive as pieces, half-open file ranges
//! `start..end`, stored once and never overlapping. The *frontier* is the
//! end of the gap-free run of pieces from byte 0: the resume point. A new
//! piece may land anywhere in the *window*, `frontier ..frontier +
//! window_bytes`, in any order. Bytes sent again over stored pieces are
//! compared, never rewritten.

use crate::domain::parts::PartNumber;

/// A stored piece: file bytes `start..end`, sent as part `part`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: u64,
    pub end: u64,
    pub part: PartNumber,
}

impl Piece {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// What a session accepts, fixed when it opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub file_size: u64,
    /// The most one request may carry.
    pub max_part_size: u64,
    /// How many parts of `max_part_size` may be in flight past the frontier.
    pub window: u32,
}

impl Shape {
    /// Bytes past the frontier a new piece may reach.
    pub fn window_bytes(&self) -> u64 {
        self.max_part_size.saturating_mul(u64::from(self.window.max(1)))
    }

    /// Where part `n` of a client that cuts full-size parts starts, or
    /// `None` past the file's end (a zero-byte file has one empty part).
    pub fn offset_of_part(&self, n: PartNumber) -> Option<u64> {
        let start = u64::from(n.checked_sub(1)?).checked_mul(self.max_part_size)?;
        (start < self.file_size || (n == 1 && self.file_size == 0)).then_some(start)
    }
}

/// The end of the gap-free run of pieces that starts at `from`, where
/// every byte before `from` is known to be stored. `pieces` is sorted by
/// start and may include pieces before `from`.
pub fn frontier(pieces: &[Piece], from: u64) -> u64 {
    let mut at = from;
    for piece in pieces {
        if piece.start <= at && piece.end > at {
            at = piece.end;
        } else if piece.start > at {
            break;
        }
    }
    at
}

/// The part number a chain client sends next, after the piece that ends
/// at `frontier` (1 when nothing is stored).
pub fn next_part(pieces: &[Piece], frontier: u64) -> PartNumber {
    if frontier == 0 {
        return 1;
    }
    pieces
        .iter()
        .filter(|p| p.end == frontier && !p.is_empty())
        .map(|p| p.part.saturating_add(1))
        .max()
        .unwrap_or(1)
}

/// What to do with a request that sends bytes from `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Stored pieces the first bytes must equal, in order, from `start`.
    pub verify: Vec<Piece>,
    /// Where new bytes go after them: `store_from..store_limit`, with the
    /// body's length deciding the actual end. `None`: nothing new.
    pub store: Option<(u64, u64)>,
}

impl Plan {
    /// Where the bytes after the verified pieces start.
    pub fn verified_to(&self, start: u64) -> u64 {
        self.verify.last().map_or(start, |p| p.end)
    }
}

/// Why bytes cannot be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// More than `max_part_size` bytes in one request.
    TooLarge { max: u64 },
    /// The bytes would run past the end of the file.
    PastEnd { file_size: u64 },
    /// An empty request before the end of a non-empty file.
    Empty,
    /// Past the window: the client must send earlier bytes first.
    OutOfWindow { frontier: u64 },
    /// The range cuts through stored pieces, so it can be neither compared
    /// whole nor stored without overwriting.
    Overlap,
    /// The session is complete and the bytes are not a replay of it.
    Completed,
}

/// Decides what to do with `len` bytes (when the request declared its
/// length) sent from `start`, given the stored pieces that end at or after
/// `min(start, hashed)` (sorted by start) and `hashed`, a point below
/// which every byte is stored.
pub fn plan(
    shape: &Shape,
    pieces: &[Piece],
    hashed: u64,
    start: u64,
    len: Option<u64>,
) -> Result<Plan, Refusal> {
    if let Some(len) = len {
        if len > shape.max_part_size {
            return Err(Refusal::TooLarge { max: shape.max_part_size });
        }
        if start.saturating_add(len) > shape.file_size {
            return Err(Refusal::PastEnd { file_size: shape.file_size });
        }
        if len == 0 && shape.file_size > 0 {
            return Err(Refusal::Empty);
        }
    } else if start > shape.file_size || (start == shape.file_size && shape.file_size > 0) {
        return Err(Refusal::PastEnd { file_size: shape.file_size });
    }
    let end = len.map(|l| start + l);
    let complete = frontier(pieces, hashed) >= shape.file_size && !pieces.is_empty();

    // Stored pieces at the start are compared, whole ones only.
    let mut verify = Vec::new();
    let mut at = start;
    for piece in pieces.iter().filter(|p| p.end > start || (p.is_empty() && p.start == start)) {
        if piece.start != at || end.is_some_and(|e| piece.end > e) {
            break;
        }
        verify.push(*piece);
        at = piece.end;
        if piece.is_empty() {
            break;
        }
    }
    if end.is_some_and(|e| at >= e) && !verify.is_empty() {
        return Ok(Plan { verify, store: None });
    }
    if complete {
        return Err(Refusal::Completed);
    }
    // The first stored byte after `at` limits the new bytes; a piece that
    // began before `at` and runs past it cuts through the range.
    if pieces.iter().any(|p| p.start < at && p.end > at) {
        return Err(Refusal::Overlap);
    }
    if len.is_none() && !verify.is_empty() {
        // Without a declared length the replayed bytes cannot be told from
        // new ones; the client sends what the resume point asks instead.
        return Err(Refusal::Overlap);
    }
    let next_stored = pieces.iter().filter(|p| p.start >= at && !p.is_empty()).map(|p| p.start);
    let next_stored = next_stored.min().unwrap_or(shape.file_size);
    let frontier = frontier(pieces, hashed);
    let window_end = frontier.saturating_add(shape.window_bytes()).min(shape.file_size);
    let part_end = start.saturating_add(shape.max_part_size).min(shape.file_size);
    match end {
        Some(e) if e > next_stored => Err(Refusal::Overlap),
        Some(e) if e > window_end && e > at => Err(Refusal::OutOfWindow { frontier }),
        Some(e) => Ok(Plan { verify, store: Some((at, e)) }),
        None if at >= window_end && shape.file_size > 0 => Err(Refusal::OutOfWindow { frontier }),
        None => Ok(Plan { verify, store: Some((at, next_stored.min(window_end).min(part_end))) }),
    }
}

/// The gap-free pieces from `from` on, in order: what the whole-file
/// digest can take in next.
pub fn contiguous_from(pieces: &[Piece], from: u64) -> Vec<Piece> {
    let mut run = Vec::new();
    let mut at = from;
    for piece in pieces.iter().filter(|p| p.start >= from) {
        if piece.start != at {
            break;
        }
        run.push(*piece);
        at = piece.end;
    }
    run
}

/// Merged stored ranges, for a resume point that tells a client which
/// bytes past the frontier it need not send again.
pub fn merged(pieces: &[Piece]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for p in pieces.iter().filter(|p| !p.is_empty()) {
        match out.last_mut() {
            Some((_, end)) if *end == p.start => *end = p.end,
            _ => out.push((p.start, p.end)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 100;

    fn shape(file_size: u64) -> Shape {
        Shape { file_size, max_part_size: P, window: 4 }
    }

    fn piece(start: u64, end: u64, part: PartNumber) -> Piece {
        Piece { start, end, part }
    }

    #[test]
    fn parts_of_any_size_up_to_the_limit_are_stored_where_they_are_sent() {
        let s = shape(1000);
        assert_eq!(plan(&s, &[], 0, 0, Some(1)).unwrap().store, Some((0, 1)));
        assert_eq!(plan(&s, &[], 0, 0, Some(P)).unwrap().store, Some((0, P)));
        let stored = [piece(0, 30, 1)];
        assert_eq!(plan(&s, &stored, 0, 30, Some(25)).unwrap().store, Some((30, 55)));
    }

    #[test]
    fn bad_lengths_are_refused_before_anything_is_stored() {
        let s = shape(1000);
        assert_eq!(plan(&s, &[], 0, 0, Some(P + 1)), Err(Refusal::TooLarge { max: P }));
        assert_eq!(plan(&s, &[], 0, 950, Some(51)), Err(Refusal::PastEnd { file_size: 1000 }));
        assert_eq!(plan(&s, &[], 0, 10, Some(0)), Err(Refusal::Empty));
        assert_eq!(plan(&s, &[], 0, 1000, None), Err(Refusal::PastEnd { file_size: 1000 }));
    }

    #[test]
    fn a_zero_byte_file_takes_one_empty_part_and_then_only_its_replay() {
        let s = shape(0);
        assert_eq!(plan(&s, &[], 0, 0, Some(0)).unwrap().store, Some((0, 0)));
        let stored = [piece(0, 0, 1)];
        let replay = plan(&s, &stored, 0, 0, Some(0)).unwrap();
        assert_eq!((replay.verify, replay.store), (vec![piece(0, 0, 1)], None));
    }

    #[test]
    fn pieces_inside_the_window_may_arrive_in_any_order() {
        let s = shape(1000);
        // Nothing stored: the window is 0..400.
        assert_eq!(plan(&s, &[], 0, 300, Some(P)).unwrap().store, Some((300, 400)));
        assert_eq!(plan(&s, &[], 0, 301, Some(P)), Err(Refusal::OutOfWindow { frontier: 0 }));
        // With 0..100 and 300..400 stored the frontier is 100.
        let stored = [piece(0, 100, 1), piece(300, 400, 4)];
        assert_eq!(plan(&s, &stored, 0, 400, Some(P)).unwrap().store, Some((400, 500)));
        assert_eq!(plan(&s, &stored, 0, 401, Some(P)), Err(Refusal::OutOfWindow { frontier: 100 }));
        assert_eq!(plan(&s, &stored, 0, 100, Some(P)).unwrap().store, Some((100, 200)));
    }

    #[test]
    fn bytes_sent_again_over_stored_pieces_are_compared_not_rewritten() {
        let s = shape(1000);
        let stored = [piece(0, 100, 1), piece(100, 150, 2)];
        let again = plan(&s, &stored, 0, 0, Some(100)).unwrap();
        assert_eq!((again.verify, again.store), (vec![piece(0, 100, 1)], None));
        // A part cut off after 50 bytes, sent again whole: the stored
        // 50 are compared and the rest stored.
        let resumed = plan(&s, &stored, 0, 100, Some(100)).unwrap();
        assert_eq!(resumed.verify, vec![piece(100, 150, 2)]);
        assert_eq!(resumed.store, Some((150, 200)));
    }

    #[test]
    fn ranges_that_cut_through_stored_pieces_are_refused() {
        let s = shape(1000);
        let stored = [piece(0, 100, 1), piece(200, 300, 3)];
        assert_eq!(plan(&s, &stored, 0, 50, Some(100)), Err(Refusal::Overlap));
        assert_eq!(plan(&s, &stored, 0, 150, Some(100)), Err(Refusal::Overlap));
        assert_eq!(plan(&s, &stored, 0, 0, Some(60)), Err(Refusal::Overlap), "half a piece");
        // Without a declared length, new bytes stop at the next stored piece.
        assert_eq!(plan(&s, &stored, 0, 100, None).unwrap().store, Some((100, 200)));
    }

    #[test]
    fn a_complete_session_takes_only_replays() {
        let s = shape(150);
        let stored = [piece(0, 100, 1), piece(100, 150, 2)];
        assert!(plan(&s, &stored, 150, 100, Some(50)).unwrap().store.is_none());
        assert_eq!(plan(&s, &stored, 150, 100, Some(40)), Err(Refusal::Completed));
    }

    #[test]
    fn the_frontier_runs_over_gap_free_pieces_only() {
        let stored = [piece(0, 100, 1), piece(100, 130, 2), piece(200, 300, 4)];
        assert_eq!(frontier(&stored, 0), 130);
        assert_eq!(frontier(&stored[2..], 200), 300);
        assert_eq!(frontier(&[], 0), 0);
        assert_eq!(next_part(&stored, 130), 3);
        assert_eq!(next_part(&stored, 0), 1);
        assert_eq!(contiguous_from(&stored, 100), vec![piece(100, 130, 2)]);
        assert_eq!(merged(&stored), vec![(0, 130), (200, 300)]);
    }

    #[test]
    fn full_size_parts_sit_at_whole_multiples_of_the_part_size() {
        let s = shape(250);
        assert_eq!(s.offset_of_part(1), Some(0));
        assert_eq!(s.offset_of_part(3), Some(200));
        assert_eq!(s.offset_of_part(4), None);
        assert_eq!(s.offset_of_part(0), None);
        assert_eq!(shape(0).offset_of_part(1), Some(0));
    }
}
