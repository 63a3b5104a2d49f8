//! HTTP `Range: bytes=...` for downloads (RFC 9110 §14). One range is
//! served as 206; several ranges, or a header this does not understand,
//! get the whole file as 200, which the RFC allows.

/// What a download answers for a Range header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with every byte.
    Full,
    /// 206 with bytes `start..end`.
    Partial { start: u64, end: u64 },
    /// 416: the range starts past the end.
    Unsatisfiable,
}

pub fn answer_range(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.parse::<u64>().ok(), last.parse::<u64>().ok()) {
        // bytes=-n: the last n bytes
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial { start: size.saturating_sub(n), end: size }
            }
        }
        // bytes=a- and bytes=a-b
        (Some(a), b) if b.is_some() || last.is_empty() => {
            if a >= size {
                return RangeAnswer::Unsatisfiable;
            }
            match b {
                Some(b) if b < a => RangeAnswer::Full,
                Some(b) => RangeAnswer::Partial { start: a, end: b.saturating_add(1).min(size) },
                None => RangeAnswer::Partial { start: a, end: size },
            }
        }
        _ => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn single_ranges_of_every_form() {
        assert_eq!(answer_range(Some("bytes=0-9"), 100), Partial { start: 0, end: 10 });
        assert_eq!(answer_range(Some("bytes=90-"), 100), Partial { start: 90, end: 100 });
        assert_eq!(answer_range(Some("bytes=-5"), 100), Partial { start: 95, end: 100 });
        assert_eq!(answer_range(Some("bytes=95-1000"), 100), Partial { start: 95, end: 100 });
        assert_eq!(answer_range(Some("bytes=-500"), 100), Partial { start: 0, end: 100 });
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(answer_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(answer_range(Some("bytes=200-300"), 100), Unsatisfiable);
        assert_eq!(answer_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(answer_range(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn anything_else_gets_the_whole_file() {
        assert_eq!(answer_range(None, 100), Full);
        assert_eq!(answer_range(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(answer_range(Some("items=0-1"), 100), Full);
        assert_eq!(answer_range(Some("bytes=5-2"), 100), Full);
        assert_eq!(answer_range(Some("bytes=x-y"), 100), Full);
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any header, any size: an answer inside the file.
        #[test]
        fn any_range_header_gets_an_answer_inside_the_file(
            header in proptest::option::of(any::<String>()),
            size in any::<u64>(),
        ) {
            if let RangeAnswer::Partial { start, end } = answer_range(header.as_deref(), size) {
                prop_assert!(start < end && end <= size);
            }
        }

        #[test]
        fn a_first_last_range_serves_those_bytes(size in 1u64..1 << 40, a in any::<u64>(), len in any::<u64>()) {
            let a = a % (size + 10);
            let b = a.saturating_add(len % (size + 10));
            let answer = answer_range(Some(&format!("bytes={a}-{b}")), size);
            if a >= size {
                prop_assert_eq!(answer, RangeAnswer::Unsatisfiable);
            } else {
                prop_assert_eq!(answer, RangeAnswer::Partial { start: a, end: b.saturating_add(1).min(size) });
            }
        }

        #[test]
        fn a_suffix_range_serves_the_last_bytes(size in 1u64..1 << 40, n in 1u64..1 << 41) {
            let answer = answer_range(Some(&format!("bytes=-{n}")), size);
            prop_assert_eq!(answer, RangeAnswer::Partial { start: size.saturating_sub(n), end: size });
        }
    }
}
