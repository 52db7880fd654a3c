//! Time: [`Timestamp`]s in py-key-value's ISO-8601 form, and the injectable [`Clock`].
//!
//! Stores ask their [`Clock`] for the time instead of calling the system directly, so tests can
//! move time forward with a [`ManualClock`] instead of sleeping.
//!
//! ```
//! use key_value_core::time::{Clock, ManualClock, Timestamp};
//! use std::time::Duration;
//!
//! let manual = ManualClock::new(Timestamp::parse_iso("2025-01-01T00:00:00+00:00")?);
//! let clock = Clock::from(manual.clone());
//! manual.advance(Duration::from_millis(1500));
//! assert_eq!(clock.now().to_iso(), "2025-01-01T00:00:01.500000+00:00");
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999 in micros: Python's `datetime` range.
const MIN_MICROS: i64 = -62_135_596_800 * MICROS_PER_SECOND;
const MAX_MICROS: i64 = 253_402_300_799 * MICROS_PER_SECOND + 999_999;

/// An instant in UTC with microsecond precision, the precision of Python's `datetime`.
///
/// Within Python's `datetime` range (years 1 to 9999), so every `Timestamp` can be written in
/// the ISO form py-key-value reads.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00+00:00.
    pub const UNIX_EPOCH: Timestamp = Timestamp { micros: 0 };

    /// The timestamp `micros` microseconds after the Unix epoch, clamped to Python's range.
    ///
    /// ```
    /// use key_value_core::time::Timestamp;
    /// assert_eq!(Timestamp::from_unix_micros(1_500_000).to_iso(), "1970-01-01T00:00:01.500000+00:00");
    /// ```
    pub fn from_unix_micros(micros: i64) -> Self {
        Timestamp {
            micros: micros.clamp(MIN_MICROS, MAX_MICROS),
        }
    }

    /// The timestamp at `seconds` (fractional) after the Unix epoch, as Python's
    /// `datetime.fromtimestamp(seconds, timezone.utc)`; `None` if not finite or out of range.
    ///
    /// ```
    /// use key_value_core::time::Timestamp;
    /// assert_eq!(Timestamp::from_unix_seconds_f64(1.25).map(|t| t.unix_micros()), Some(1_250_000));
    /// assert!(Timestamp::from_unix_seconds_f64(f64::NAN).is_none());
    /// ```
    pub fn from_unix_seconds_f64(seconds: f64) -> Option<Self> {
        if !seconds.is_finite() {
            return None;
        }
        let micros = (seconds * 1e6).round();
        if micros < MIN_MICROS as f64 || micros > MAX_MICROS as f64 {
            return None;
        }
        Some(Timestamp {
            micros: micros as i64,
        })
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        self.micros
    }

    /// Seconds since the Unix epoch, as Python's `datetime.timestamp()`.
    pub fn unix_seconds_f64(self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// The current system time.
    pub fn now_system() -> Self {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(MAX_MICROS),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(-MIN_MICROS),
        };
        Timestamp::from_unix_micros(micros)
    }

    /// This instant plus `duration`, saturating at the end of Python's range.
    pub fn saturating_add(self, duration: Duration) -> Self {
        let add = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_unix_micros(self.micros.saturating_add(add))
    }

    /// How long from `earlier` to this instant, or `None` if `earlier` is not earlier.
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        let diff = self.micros.checked_sub(earlier.micros)?;
        (diff > 0).then(|| Duration::from_micros(diff as u64))
    }

    /// Python's `datetime.isoformat()` of this UTC instant: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`,
    /// the fraction left out when it is zero, exactly as py-key-value writes it.
    ///
    /// ```
    /// use key_value_core::time::Timestamp;
    /// assert_eq!(Timestamp::from_unix_micros(0).to_iso(), "1970-01-01T00:00:00+00:00");
    /// assert_eq!(Timestamp::from_unix_micros(1).to_iso(), "1970-01-01T00:00:00.000001+00:00");
    /// ```
    pub fn to_iso(self) -> String {
        let mut out = String::with_capacity(32);
        self.write_iso(&mut out);
        out
    }

    /// Appends [`to_iso`](Self::to_iso)'s text to `out` without allocating.
    pub fn write_iso(self, out: &mut String) {
        let secs = self.micros.div_euclid(MICROS_PER_SECOND);
        let frac = self.micros.rem_euclid(MICROS_PER_SECOND);
        let days = secs.div_euclid(SECONDS_PER_DAY);
        let sod = secs.rem_euclid(SECONDS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        push_digits(out, y as u64, 4);
        out.push('-');
        push_digits(out, u64::from(m), 2);
        out.push('-');
        push_digits(out, u64::from(d), 2);
        out.push('T');
        push_digits(out, (sod / 3600) as u64, 2);
        out.push(':');
        push_digits(out, (sod / 60 % 60) as u64, 2);
        out.push(':');
        push_digits(out, (sod % 60) as u64, 2);
        if frac != 0 {
            out.push('.');
            push_digits(out, frac as u64, 6);
        }
        out.push_str("+00:00");
    }

    /// Parses an ISO-8601 timestamp as Python's `datetime.fromisoformat` reads py-key-value's
    /// output: `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]]` followed by `+HH:MM[:SS]`, `-HH:MM`, `Z` or
    /// nothing (read as UTC, as py-key-value's DuckDB adapter does). Digits beyond microseconds
    /// are truncated.
    ///
    /// ```
    /// use key_value_core::time::Timestamp;
    /// let a = Timestamp::parse_iso("2025-01-01T00:00:10.123456+00:00")?;
    /// let b = Timestamp::parse_iso("2025-01-01T02:00:10.123456+02:00")?;
    /// assert_eq!(a, b);
    /// assert_eq!(Timestamp::parse_iso("2025-01-01T00:00:10Z")?.to_iso(), "2025-01-01T00:00:10+00:00");
    /// assert!(Timestamp::parse_iso("yesterday").is_err());
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn parse_iso(text: &str) -> Result<Self> {
        parse_iso(text.as_bytes()).ok_or_else(|| {
            Error::new(
                ErrorKind::Deserialization,
                format!("invalid datetime string: {text:?}"),
            )
        })
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_iso())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

fn push_digits(out: &mut String, mut value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while value > 0 || buf.len() - i < width {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.s.get(self.i..self.i + n)?;
        let mut v = 0i64;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        self.i += n;
        Some(v)
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
}

fn parse_iso(s: &[u8]) -> Option<Timestamp> {
    let mut c = Cursor { s, i: 0 };
    let year = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = u32::try_from(c.digits(2)?).ok()?;
    if !c.eat(b'-') {
        return None;
    }
    let day = u32::try_from(c.digits(2)?).ok()?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0);
    if c.eat(b'T') || c.eat(b' ') {
        hour = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        minute = c.digits(2)?;
        if c.eat(b':') {
            second = c.digits(2)?;
            if c.eat(b'.') || c.eat(b',') {
                let start = c.i;
                let mut scale = 100_000;
                while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                    micros += i64::from(b - b'0') * scale;
                    scale /= 10;
                    c.i += 1;
                }
                let n = c.i - start;
                if n == 0 || n > 9 {
                    return None;
                }
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_seconds = match c.peek() {
        None => 0,
        Some(b'Z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            if !c.eat(b':') {
                return None;
            }
            let om = c.digits(2)?;
            let os = if c.eat(b':') { c.digits(2)? } else { 0 };
            if oh > 23 || om > 59 || os > 59 {
                return None;
            }
            let total = oh * 3600 + om * 60 + os;
            if sign == b'-' { -total } else { total }
        }
        Some(_) => return None,
    };
    if c.i != s.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
    let total = secs.checked_mul(MICROS_PER_SECOND)?.checked_add(micros)?;
    (MIN_MICROS..=MAX_MICROS)
        .contains(&total)
        .then_some(Timestamp { micros: total })
}

/// Where a store gets the current time: the system clock, or a [`ManualClock`] in tests.
///
/// Cloning is cheap. The default is the system clock.
///
/// ```
/// use key_value_core::time::Clock;
/// let before = std::time::SystemTime::now();
/// let now = Clock::system().now();
/// assert!(now.unix_micros() > 1_700_000_000_000_000);
/// # let _ = before;
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

impl Clock {
    /// The system's real-time clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// The current time.
    #[inline]
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => Timestamp::now_system(),
            Some(m) => m.now(),
        }
    }

    /// Whether this is a manual (test) clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(m) => write!(f, "Clock::Manual({:?})", m.now()),
        }
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Self {
        Clock {
            manual: Some(manual),
        }
    }
}

/// A clock that moves only when told to; clones share the same time.
///
/// ```
/// use key_value_core::time::{ManualClock, Timestamp};
/// use std::time::Duration;
/// let clock = ManualClock::new(Timestamp::UNIX_EPOCH);
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().unix_micros(), 90_000_000);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    /// A manual clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            micros: Arc::new(AtomicI64::new(start.micros)),
        }
    }

    /// A manual clock starting at the current system time.
    pub fn starting_now() -> Self {
        ManualClock::new(Timestamp::now_system())
    }

    /// The time it shows.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.micros.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let add = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        let _ = self
            .micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(add).min(MAX_MICROS))
            });
    }

    /// Sets the clock to `to` (it may go backwards).
    pub fn set(&self, to: Timestamp) {
        self.micros.store(to.micros, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_like_python_isoformat() {
        let t = Timestamp::parse_iso("2026-11-25T17:56:48.732037+00:00").unwrap();
        assert_eq!(t.to_iso(), "2026-11-25T17:56:48.732037+00:00");
        let t = Timestamp::parse_iso("2026-11-25T17:56:48+00:00").unwrap();
        assert_eq!(t.to_iso(), "2026-11-25T17:56:48+00:00");
        assert_eq!(
            Timestamp::from_unix_micros(MIN_MICROS).to_iso(),
            "0001-01-01T00:00:00+00:00"
        );
        assert_eq!(
            Timestamp::from_unix_micros(MAX_MICROS).to_iso(),
            "9999-12-31T23:59:59.999999+00:00"
        );
        assert_eq!(
            Timestamp::from_unix_micros(-1).to_iso(),
            "1969-12-31T23:59:59.999999+00:00"
        );
    }

    #[test]
    fn parses_the_forms_python_writes_and_reads() {
        let base = Timestamp::parse_iso("2024-02-29T12:00:00+00:00").unwrap();
        for form in [
            "2024-02-29T12:00:00Z",
            "2024-02-29 12:00:00+00:00",
            "2024-02-29T12:00:00",
            "2024-02-29T12:00",
            "2024-02-29T07:00:00-05:00",
            "2024-02-29T12:00:00.000+00:00",
            "2024-02-29T12:00:00.000000000+00:00",
        ] {
            assert_eq!(Timestamp::parse_iso(form).unwrap(), base, "{form}");
        }
        assert_eq!(
            Timestamp::parse_iso("2024-02-29").unwrap(),
            Timestamp::parse_iso("2024-02-29T00:00:00+00:00").unwrap()
        );
        assert_eq!(
            Timestamp::parse_iso("2025-01-01T00:00:00.5+00:00")
                .unwrap()
                .unix_micros()
                % 1_000_000,
            500_000
        );
    }

    #[test]
    fn rejects_invalid_text() {
        for bad in [
            "",
            "2023-02-29T00:00:00+00:00",
            "2024-13-01T00:00:00+00:00",
            "2024-01-01T24:00:00+00:00",
            "2024-01-01T00:00:00+0000x",
            "2024-01-01T00:00:00.+00:00",
            "2024-01-01T00:00:00.1234567890+00:00",
            "0000-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00 +00:00",
            "２０２４-01-01",
        ] {
            let err = Timestamp::parse_iso(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Deserialization, "{bad}");
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let m = ManualClock::new(Timestamp::UNIX_EPOCH);
        let c = Clock::from(m.clone());
        assert_eq!(c.now(), Timestamp::UNIX_EPOCH);
        m.advance(Duration::from_secs(5));
        assert_eq!(c.now().unix_micros(), 5_000_000);
        m.set(Timestamp::from_unix_micros(7));
        assert_eq!(c.now().unix_micros(), 7);
        assert!(c.is_manual());
        assert!(!Clock::system().is_manual());
    }

    proptest! {
        #[test]
        fn iso_round_trips(micros in MIN_MICROS..=MAX_MICROS) {
            let t = Timestamp::from_unix_micros(micros);
            prop_assert_eq!(Timestamp::parse_iso(&t.to_iso()).unwrap(), t);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Timestamp::parse_iso(&s);
        }
    }
}
