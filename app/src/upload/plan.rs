//! The upload widget's arithmetic, in plain Rust so it is tested on the
//! host: which bytes make part *n*, where to continue after `received`
//! bytes, how long to wait before a retry, what a failed answer means,
//! how a file is recognised after a page reload, and speed and time left.

use std::collections::VecDeque;

/// A file cut into parts of `part_size` bytes (the last one shorter), as
/// the server's `max_part_size` says. A zero-byte file is one empty part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    pub size: u64,
    pub part_size: u64,
}

impl Parts {
    /// `None` for a part size of zero.
    pub fn new(size: u64, part_size: u64) -> Option<Parts> {
        (part_size > 0).then_some(Parts { size, part_size })
    }

    pub fn count(&self) -> u32 {
        self.size.div_ceil(self.part_size).max(1) as u32
    }

    /// The byte range `[start, end)` of part `n` (from 1).
    pub fn range(&self, n: u32) -> Option<(u64, u64)> {
        if n == 0 || n > self.count() {
            return None;
        }
        let start = u64::from(n - 1) * self.part_size;
        Some((start, (start + self.part_size).min(self.size)))
    }

    /// The part that holds byte `received`, the first the server lacks
    /// (it may keep the start of a part whose request was cut off; the
    /// part is then sent from `received` on), or `None` when the server's
    /// figure is past this file's end (it belongs to another file).
    pub fn next_after(&self, received: u64) -> Option<u32> {
        if received > self.size {
            return None;
        }
        if received == self.size && received > 0 {
            return Some(self.count() + 1);
        }
        Some((received / self.part_size) as u32 + 1)
    }

    /// Where the part that ends the file is cut in two, if it is: that
    /// part goes alone, after every other part is acknowledged (it
    /// completes the file), so the link would idle while it travels. All
    /// of it up to the file's last whole `TAIL_ALIGN` goes with the other
    /// parts instead; only the rest, at most `TAIL_ALIGN` bytes, goes
    /// alone. `None` when the last part is no longer than that.
    pub fn tail_split(&self) -> Option<u64> {
        let (start, end) = self.range(self.count())?;
        let at = end.saturating_sub(1) / TAIL_ALIGN * TAIL_ALIGN;
        (at > start).then_some(at)
    }
}

/// The most bytes of the file that go alone at its end (`Parts::tail_split`):
/// a whole number of MiB before it, so progress still moves in whole
/// parts of any size that divides a MiB.
pub const TAIL_ALIGN: u64 = 1 << 20;

/// Exponential backoff with jitter: attempt 1 waits about `base_ms`, each
/// next one twice as long, never more than `max_ms`. Half of the delay
/// is fixed and half random, so many widgets that failed together do not
/// retry together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base_ms: u32,
    pub max_ms: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base_ms: 500, max_ms: 30_000 }
    }
}

impl Backoff {
    /// The wait before retry `attempt` (from 1); `random` is in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, random: f64) -> u32 {
        let exp = u64::from(self.base_ms).saturating_mul(1 << attempt.saturating_sub(1).min(20));
        let ceiling = exp.min(u64::from(self.max_ms)) as f64;
        let random = random.clamp(0.0, 1.0);
        (ceiling / 2.0 + ceiling / 2.0 * random).round() as u32
    }
}

/// How long a `Retry-After` header asks to wait, in milliseconds: delay
/// seconds, or an HTTP date compared with `now_ms` (unix milliseconds).
pub fn retry_after_ms(header: &str, now_ms: f64) -> Option<u32> {
    let header = header.trim();
    if let Ok(seconds) = header.parse::<u32>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = http_date_unix(header)? as f64 * 1000.0;
    Some((at - now_ms).clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// Unix seconds of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// form HTTP servers send.
fn http_date_unix(text: &str) -> Option<i64> {
    let mut fields = text.split_whitespace();
    let _weekday = fields.next()?;
    let day: i64 = fields.next()?.parse().ok()?;
    let month = match fields.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = fields.next()?.parse().ok()?;
    let mut clock = fields.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if fields.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// What the widget does after an answer that is not a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Network trouble, 408, 429, 5xx: wait, ask the server where to
    /// continue, go on.
    Retry,
    /// The part was corrupted on the way (460): send it again.
    Resend,
    /// The server is elsewhere in the upload (409): ask where, continue.
    Resync,
    /// The session is gone (404, 410): it cannot continue.
    Gone,
    /// The request is wrong (other 4xx): retrying will not help.
    Fatal,
}

/// The meaning of an HTTP status for a part upload or a resume query.
pub fn classify(status: u16) -> Failure {
    match status {
        408 | 425 | 429 => Failure::Retry,
        460 => Failure::Resend,
        409 => Failure::Resync,
        404 | 410 => Failure::Gone,
        500..=599 => Failure::Retry,
        _ => Failure::Fatal,
    }
}

/// What identifies a picked file across page reloads: the browser gives
/// no path, but name, size and modification time together are unlikely
/// to match another file.
#[derive(Clone, Debug, PartialEq)]
pub struct Fingerprint {
    pub name: String,
    pub size: u64,
    /// `File.lastModified`, unix milliseconds.
    pub last_modified: f64,
}

/// Prefix of every key the widget keeps in `localStorage`.
pub const STORAGE_PREFIX: &str = "satchel:upload:v1:";

impl Fingerprint {
    /// The `localStorage` key of this file's unfinished upload; `target`
    /// tells a new version of one file from a new file.
    pub fn key(&self, endpoint: &str, target: Option<&str>) -> String {
        format!(
            "{STORAGE_PREFIX}{endpoint}|{}|{}|{}|{}",
            target.unwrap_or("new"),
            self.size,
            self.last_modified as i64,
            self.name
        )
    }
}

/// A remembered unfinished upload, as kept in `localStorage`:
/// `upload_url expires_at part_size`, space separated (the URL has no
/// spaces). Expired entries are dropped when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub upload_url: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub part_size: u64,
}

impl Saved {
    pub fn encode(&self) -> String {
        format!("{} {} {}", self.upload_url, self.expires_at, self.part_size)
    }

    /// The entry, if it parses and has not expired at `now` (unix
    /// seconds); leave a minute for the upload to get going.
    pub fn decode(text: &str, now: i64) -> Option<Saved> {
        let mut fields = text.split(' ');
        let saved = Saved {
            upload_url: fields.next().filter(|u| !u.is_empty())?.to_owned(),
            expires_at: fields.next()?.parse().ok()?,
            part_size: fields.next()?.parse().ok().filter(|p| *p > 0)?,
        };
        (fields.next().is_none() && saved.expires_at > now + 60).then_some(saved)
    }
}

/// Speed over the last few seconds, and the time left at that speed.
#[derive(Clone, Debug, Default)]
pub struct Meter {
    /// (milliseconds, bytes done) samples inside the window.
    samples: VecDeque<(f64, u64)>,
}

/// How far back the speed looks.
pub const METER_WINDOW_MS: f64 = 5_000.0;

impl Meter {
    pub fn record(&mut self, now_ms: f64, done: u64) {
        self.samples.push_back((now_ms, done));
        while self.samples.len() > 2
            && self.samples.front().is_some_and(|(t, _)| now_ms - t > METER_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// Forget the history (after a pause or a stall).
    pub fn reset(&mut self) {
        self.samples.clear();
    }

    /// Bytes per second, once there are two samples apart in time.
    pub fn speed(&self) -> Option<f64> {
        let (t0, b0) = *self.samples.front()?;
        let (t1, b1) = *self.samples.back()?;
        (t1 > t0 && b1 >= b0).then(|| (b1 - b0) as f64 * 1000.0 / (t1 - t0))
    }

    /// Seconds left for `remaining` bytes at the current speed.
    pub fn eta_secs(&self, remaining: u64) -> Option<f64> {
        let speed = self.speed().filter(|s| *s > 0.0)?;
        Some(remaining as f64 / speed)
    }
}

/// `n` bytes for people: `512 B`, `1.5 KB`, `20.0 MB` (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    value /= 1000.0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration for people: `45 s`, `3 min 20 s`, `2 h 5 min`.
pub fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_last_part_longer_than_a_mib_is_cut_at_the_files_last_whole_mib() {
        const MIB: u64 = 1 << 20;
        // 64 MiB in 4 MiB parts: the last MiB goes alone.
        assert_eq!(Parts::new(64 * MIB, 4 * MIB).unwrap().tail_split(), Some(63 * MIB));
        // A last part of 4 MiB + 10 bytes' tail: cut after its whole MiB.
        let p = Parts::new(8 * MIB + 10, 4 * MIB).unwrap();
        assert_eq!(p.range(3), Some((8 * MIB, 8 * MIB + 10)));
        assert_eq!(p.tail_split(), None, "a 10-byte last part goes whole");
        let p = Parts::new(10 * MIB + 10, 4 * MIB).unwrap();
        assert_eq!(p.tail_split(), Some(10 * MIB), "[8 MiB, 10 MiB + 10) is cut at 10 MiB");
        // Parts of a MiB or less, and files of one MiB or less, are not cut.
        assert_eq!(Parts::new(10 * MIB + 7, 512 * 1024).unwrap().tail_split(), None);
        assert_eq!(Parts::new(10 * MIB, MIB).unwrap().tail_split(), None);
        assert_eq!(Parts::new(MIB, 4 * MIB).unwrap().tail_split(), None);
        assert_eq!(Parts::new(0, 4 * MIB).unwrap().tail_split(), None);
        // A part size that does not divide a MiB: cut where the MiB falls.
        let p = Parts::new(2 * MIB, 640 * 1024).unwrap();
        assert_eq!(p.range(4), Some((1920 * 1024, 2 * MIB)));
        assert_eq!(p.tail_split(), None);
        let p = Parts::new(1280 * 1024, 640 * 1024).unwrap();
        assert_eq!(p.tail_split(), Some(MIB));
    }

    #[test]
    fn parts_cover_the_file_exactly() {
        let p = Parts::new(1_300_000, 524_288).unwrap();
        assert_eq!(p.count(), 3);
        assert_eq!(p.range(1), Some((0, 524_288)));
        assert_eq!(p.range(3), Some((1_048_576, 1_300_000)));
        assert_eq!(p.range(0), None);
        assert_eq!(p.range(4), None);
        let exact = Parts::new(1_048_576, 524_288).unwrap();
        assert_eq!(exact.count(), 2);
        assert_eq!(exact.range(2), Some((524_288, 1_048_576)));
        let empty = Parts::new(0, 524_288).unwrap();
        assert_eq!((empty.count(), empty.range(1)), (1, Some((0, 0))));
        assert!(Parts::new(10, 0).is_none());
        // Every byte in exactly one part.
        let odd = Parts::new(10_007, 1000).unwrap();
        let total: u64 = (1..=odd.count()).map(|n| odd.range(n).map(|(a, b)| b - a).unwrap()).sum();
        assert_eq!(total, 10_007);
    }

    #[test]
    fn the_next_part_is_the_one_holding_the_first_missing_byte() {
        let p = Parts::new(1_300_000, 524_288).unwrap();
        assert_eq!(p.next_after(0), Some(1));
        assert_eq!(p.next_after(524_288), Some(2));
        assert_eq!(p.next_after(1_048_576), Some(3));
        assert_eq!(p.next_after(1_300_000), Some(4), "all received");
        let exact = Parts::new(1_048_576, 524_288).unwrap();
        assert_eq!(exact.next_after(1_048_576), Some(3));
        let empty = Parts::new(0, 524_288).unwrap();
        assert_eq!(empty.next_after(0), Some(1), "the empty part is still to send");
        assert_eq!(p.next_after(1000), Some(1), "the rest of a part that was cut off");
        assert_eq!(p.next_after(600_000), Some(2));
        assert_eq!(p.next_after(2_000_000), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_ceiling() {
        let b = Backoff { base_ms: 500, max_ms: 30_000 };
        assert_eq!(b.delay_ms(1, 0.0), 250);
        assert_eq!(b.delay_ms(1, 1.0), 500);
        assert_eq!(b.delay_ms(2, 1.0), 1000);
        assert_eq!(b.delay_ms(3, 0.5), 1500);
        assert_eq!(b.delay_ms(10, 1.0), 30_000);
        assert_eq!(b.delay_ms(64, 0.0), 15_000, "no overflow");
        for attempt in 1..12 {
            let (lo, hi) = (b.delay_ms(attempt, 0.0), b.delay_ms(attempt, 0.999));
            assert!(lo <= hi && hi <= 30_000 && lo * 2 >= hi - 1, "{attempt}: {lo}..{hi}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after_ms("3", 0.0), Some(3000));
        assert_eq!(retry_after_ms(" 0 ", 0.0), Some(0));
        // 1994-11-06T08:49:37Z is unix 784111777.
        let at = 784_111_777_000.0;
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at - 2000.0), Some(2000));
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at + 5000.0), Some(0));
        assert_eq!(http_date_unix("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date_unix("Sat, 29 Feb 2020 12:00:00 GMT"), Some(1_582_977_600));
        assert_eq!(retry_after_ms("soon", 0.0), None);
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 PST", 0.0), None);
    }

    #[test]
    fn statuses_map_to_what_the_widget_does() {
        assert_eq!(classify(503), Failure::Retry);
        assert_eq!(classify(429), Failure::Retry);
        assert_eq!(classify(408), Failure::Retry);
        assert_eq!(classify(460), Failure::Resend);
        assert_eq!(classify(409), Failure::Resync);
        assert_eq!(classify(410), Failure::Gone);
        assert_eq!(classify(404), Failure::Gone);
        assert_eq!(classify(400), Failure::Fatal);
        assert_eq!(classify(413), Failure::Fatal);
    }

    #[test]
    fn fingerprints_key_by_endpoint_target_size_time_and_name() {
        let f =
            Fingerprint { name: "a b.pdf".into(), size: 10, last_modified: 1_700_000_000_123.0 };
        let key = f.key("http://x", None);
        assert_eq!(key, "satchel:upload:v1:http://x|new|10|1700000000123|a b.pdf");
        assert_ne!(key, f.key("http://x", Some("uuid")));
        let touched = Fingerprint { last_modified: 1_700_000_000_124.0, ..f.clone() };
        assert_ne!(key, touched.key("http://x", None));
    }

    #[test]
    fn saved_uploads_round_trip_and_expire() {
        let s = Saved {
            upload_url: "http://h/upload/t0k".into(),
            expires_at: 10_000,
            part_size: 524_288,
        };
        assert_eq!(Saved::decode(&s.encode(), 9_000), Some(s.clone()));
        assert_eq!(Saved::decode(&s.encode(), 9_950), None, "about to expire");
        assert_eq!(Saved::decode("garbage", 0), None);
        assert_eq!(Saved::decode("u 10000 0", 0), None);
        assert_eq!(Saved::decode("u 10000 5 extra", 0), None);
    }

    #[test]
    fn speed_and_time_left_come_from_the_recent_window() {
        let mut m = Meter::default();
        assert_eq!(m.speed(), None);
        m.record(0.0, 0);
        assert_eq!(m.speed(), None);
        m.record(1000.0, 2_000_000);
        assert_eq!(m.speed(), Some(2_000_000.0));
        assert_eq!(m.eta_secs(4_000_000), Some(2.0));
        // Old samples leave the window: the speed is the recent one.
        m.record(10_000.0, 2_000_000);
        m.record(11_000.0, 3_000_000);
        assert_eq!(m.speed(), Some(1_000_000.0));
        m.reset();
        assert_eq!(m.eta_secs(1), None);
    }

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_500), "1.5 KB");
        assert_eq!(human_bytes(25_000_000), "25.0 MB");
        assert_eq!(human_bytes(999_999), "1.0 MB");
        assert_eq!(human_duration(45.2), "45 s");
        assert_eq!(human_duration(200.0), "3 min 20 s");
        assert_eq!(human_duration(7_500.0), "2 h 5 min");
    }
}
