//! Durations as written in the configuration and the admin API: `500ms`,
//! `5s`, `1m`, `1h`, and combinations in decreasing units such as `1m30s`.
//! Owns parsing and canonical formatting; never decides which values are
//! allowed where (zero, upper bounds): the callers do.

use std::fmt;
use std::time::Duration;

/// Why a duration string was rejected. The text is written for operators
/// and says what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

const ALLOWED: &str = "write a whole number and a unit, e.g. 500ms, 5s, 1m, 1h or 1m30s";

/// Parse `500ms`, `5s`, `1m`, `1h` or a combination such as `1h30m` or
/// `1m30s` (units in decreasing order, each at most once). Zero (`0s`) is
/// accepted; callers reject it where it makes no sense.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError(format!("empty duration; {ALLOWED}")));
    }
    let bytes = text.as_bytes();
    let mut total: u64 = 0;
    let mut last_unit: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(DurationError(format!(
                "{text:?} is not a duration; {ALLOWED}"
            )));
        }
        let digits = &text[start..i];
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        if unit.is_empty() {
            let hint = if unit_start == bytes.len() && start == 0 {
                format!("{text:?} has no unit; {ALLOWED}")
            } else {
                format!("{text:?} is not a duration; {ALLOWED}")
            };
            return Err(DurationError(hint));
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(DurationError(format!(
                "{text:?}: unknown unit {unit:?} (units: ms, s, m, h)"
            )));
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(DurationError(format!(
                "{text:?}: units must go from largest to smallest, each once (e.g. 1m30s)"
            )));
        }
        last_unit = Some(index);
        let amount: u64 = digits
            .parse()
            .map_err(|_| DurationError(format!("{text:?} is too long")))?;
        total = amount
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| DurationError(format!("{text:?} is too long")))?;
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration the way the configuration writes it: `500ms`, `5s`,
/// `1m30s`, `2h`. Sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> impl fmt::Display {
    FormatDuration(d)
}

struct FormatDuration(Duration);

impl fmt::Display for FormatDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in UNITS {
            if ms >= len {
                write!(f, "{}{unit}", ms / len)?;
                ms %= len;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("5s"), Ok(ms(5_000)));
        assert_eq!(parse_duration("1m"), Ok(ms(60_000)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
    }

    #[test]
    fn accepts_combinations_largest_unit_first() {
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1h2m3s4ms"), Ok(ms(3_723_004)));
    }

    #[test]
    fn zero_is_parsed_and_left_to_the_caller() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bare_number_is_rejected_with_a_hint() {
        let e = parse_duration("5").unwrap_err().to_string();
        assert!(e.contains("has no unit"), "{e}");
        assert!(e.contains("500ms"), "{e}");
    }

    #[test]
    fn rejects_space_sign_fraction_and_unknown_units() {
        for bad in [
            "5 s", " 5s", "-1s", "+1s", "1.5s", "5sec", "5S", "1d", "", "s", "1m1m", "30s1m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = parse_duration("1d").unwrap_err().to_string();
        assert!(e.contains("unknown unit \"d\""), "{e}");
        let e = parse_duration("30s1m").unwrap_err().to_string();
        assert!(e.contains("largest to smallest"), "{e}");
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert!(parse_duration("99999999999999999999999s").is_err());
        assert!(parse_duration("18446744073709551615h").is_err());
    }

    #[test]
    fn format_round_trips() {
        for text in ["500ms", "5s", "1m30s", "2h", "1h2m3s4ms", "0s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d).to_string(), text);
        }
    }
}
