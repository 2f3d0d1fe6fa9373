//! Prometheus' duration syntax: `[0-9]+` followed by a unit, units in the order
//! `y w d h m s ms`, each at most once (`1h30m`, `15s`, `1m0s`, `0`). A year is 365 days.
//!
//! Config files, rule files, PromQL range selectors and API parameters all use it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    #[error("duration out of range: {0:?}")]
    Overflow(String),
}

/// Parse a Prometheus duration into milliseconds.
pub fn parse_millis(text: &str) -> Result<u64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(0);
    }
    let invalid = || DurationError::Invalid(text.to_string());
    let mut rest = text;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| DurationError::Overflow(text.to_string()))?;
        rest = &rest[digits..];
        // "ms" must be tried before "m".
        let (index, unit) = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (name, _))| rest.starts_with(name))
            .max_by_key(|(_, (name, _))| name.len())
            .ok_or_else(invalid)?;
        rest = &rest[unit.0.len()..];
        next_unit = index + 1;
        total = number
            .checked_mul(unit.1)
            .and_then(|ms| total.checked_add(ms))
            .filter(|ms| *ms <= i64::MAX as u64)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
    }
    Ok(total)
}

/// Parse a Prometheus duration.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_millis(text).map(Duration::from_millis)
}

/// Format milliseconds as Prometheus does (`90000` → `1m30s`, `0` → `0s`).
pub fn format_millis(mut ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (name, unit) in UNITS {
        if ms >= unit {
            out.push_str(&(ms / unit).to_string());
            out.push_str(name);
            ms %= unit;
        }
    }
    out
}

/// A duration that reads and writes itself in Prometheus' syntax, for config structs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    pub const fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_millis(self.0.as_millis() as u64))
    }
}

impl std::str::FromStr for PromDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(PromDuration)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_prometheus_parses() {
        assert_eq!(parse_millis("0"), Ok(0));
        assert_eq!(parse_millis("15s"), Ok(15_000));
        assert_eq!(parse_millis("1m0s"), Ok(60_000));
        assert_eq!(parse_millis("1h30m"), Ok(5_400_000));
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("1m500ms"), Ok(60_500));
        assert_eq!(parse_millis("1y1w1d1h1m1s1ms"), Ok(31_536_000_000 + 604_800_000 + 86_400_000 + 3_661_001));
        assert_eq!(parse_millis("0s"), Ok(0));
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        assert_eq!(parse_millis(""), Err(DurationError::Empty));
        for bad in ["1", "s", "1.5s", "1s1m", "1m1m", "-1s", "1 s", "1S", "1sm", "5ms5s"] {
            assert!(matches!(parse_millis(bad), Err(DurationError::Invalid(_))), "{bad}");
        }
        assert!(matches!(parse_millis("99999999999999999999y"), Err(DurationError::Overflow(_))));
        assert!(matches!(parse_millis("300000000y"), Err(DurationError::Overflow(_))));
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_millis(0), "0s");
        assert_eq!(format_millis(90_000), "1m30s");
        assert_eq!(format_millis(86_400_000 * 8), "1w1d");
        assert_eq!(format_millis(1_500), "1s500ms");
        for text in ["2h", "1y2w3d4h5m6s7ms", "100ms"] {
            assert_eq!(format_millis(parse_millis(text).unwrap()), text);
        }
    }

    #[test]
    fn serde_round_trip() {
        let d: PromDuration = serde_json::from_str("\"5m\"").unwrap();
        assert_eq!(d, PromDuration::from_secs(300));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"5m\"");
        assert!(serde_json::from_str::<PromDuration>("\"5 minutes\"").is_err());
    }
}

// Pharos — proto/src/duration.rs
