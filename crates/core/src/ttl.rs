//! TTL rules: what a valid time-to-live is.
//!
//! A TTL is given in seconds (`60`, `1.5`) or as a [`Duration`], and must be positive and
//! finite: zero, negatives, NaN and infinity are [`ErrorKind::InvalidTtl`] errors, as in
//! py-key-value (which, unlike us, lets NaN and infinity through).
//!
//! ```
//! use key_value_core::ttl::Ttl;
//! use std::time::Duration;
//!
//! assert_eq!(Ttl::from(60).validate()?, Duration::from_secs(60));
//! assert_eq!(Ttl::from(1.5).validate()?, Duration::from_millis(1500));
//! assert_eq!(Ttl::from(Duration::from_secs(2)).validate()?, Duration::from_secs(2));
//! assert!(Ttl::from(0).validate().is_err());
//! assert!(Ttl::from(-1.0).validate().is_err());
//! assert!(Ttl::from(f64::NAN).validate().is_err());
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// The longest TTL accepted: 1000 years. Longer ones could not be written as a timestamp that
/// Python reads, and no cache needs them.
pub const MAX_TTL: Duration = Duration::from_secs(1000 * 366 * 86_400);

/// A TTL as the caller gave it, before validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ttl {
    /// Seconds, possibly fractional, as py-key-value takes them.
    Seconds(f64),
    /// An exact duration.
    Duration(Duration),
}

impl Ttl {
    /// Checks the TTL and turns it into a [`Duration`] of at least one microsecond (the
    /// precision of the stored timestamps).
    pub fn validate(self) -> Result<Duration> {
        let d = match self {
            Ttl::Seconds(s) => {
                if !(s.is_finite() && s > 0.0) {
                    return Err(invalid(format!(
                        "a TTL must be positive and finite, got {s}"
                    )));
                }
                Duration::try_from_secs_f64(s)
                    .map_err(|_| invalid(format!("a TTL must be at most {MAX_TTL:?}, got {s}")))?
            }
            Ttl::Duration(d) => {
                if d.is_zero() {
                    return Err(invalid("a TTL must be positive, got 0".to_string()));
                }
                d
            }
        };
        if d > MAX_TTL {
            return Err(invalid(format!(
                "a TTL must be at most {} seconds, got {}",
                MAX_TTL.as_secs(),
                d.as_secs_f64()
            )));
        }
        Ok(d.max(Duration::from_micros(1)))
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidTtl, message)
}

impl From<Duration> for Ttl {
    fn from(d: Duration) -> Self {
        Ttl::Duration(d)
    }
}

impl From<f64> for Ttl {
    fn from(s: f64) -> Self {
        Ttl::Seconds(s)
    }
}

impl From<f32> for Ttl {
    fn from(s: f32) -> Self {
        Ttl::Seconds(f64::from(s))
    }
}

macro_rules! ttl_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Ttl {
            fn from(s: $t) -> Self {
                Ttl::Seconds(s as f64)
            }
        }
    )*};
}
ttl_from_int!(i32, i64, u32, u64, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_py_key_value_rejects_and_more() {
        for bad in [
            Ttl::from(0),
            Ttl::from(-100),
            Ttl::from(-0.0),
            Ttl::from(f64::NAN),
            Ttl::from(f64::INFINITY),
            Ttl::from(f64::NEG_INFINITY),
            Ttl::from(Duration::ZERO),
            Ttl::from(1e300),
            Ttl::from(Duration::from_secs(u64::MAX)),
        ] {
            let err = bad.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidTtl, "{bad:?}");
        }
    }

    #[test]
    fn tiny_ttls_round_up_to_a_microsecond() {
        assert_eq!(
            Ttl::from(1e-9).validate().unwrap(),
            Duration::from_micros(1)
        );
        assert_eq!(Ttl::from(MAX_TTL).validate().unwrap(), MAX_TTL);
    }
}
