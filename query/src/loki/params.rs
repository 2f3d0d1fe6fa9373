//! Reading and writing the scalar values of the Loki API: timestamps, durations, steps, byte
//! sizes, and the number formats of responses.
//!
//! - Timestamps: an integer is nanoseconds since the epoch; a number with `.` (or an exponent) is
//!   seconds; otherwise RFC 3339 (`2024-01-02T03:04:05.123Z`, `+02:00` offsets).
//! - Durations: Go/Prometheus style, a sequence of `<number><unit>` with units `ns us µs ms s m h d w
//!   y` (`1h30m`, `1.5s`, `250ms`).
//! - Steps: a duration, or a plain number of seconds (`15`, `0.5`).
//! - Byte sizes: `<number><unit>`, units case-insensitive `b kb mb gb tb pb eb` (powers of 1000) and
//!   `kib mib gib tib pib eib` (powers of 1024), `k`/`ki` style short forms too.

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses a Go/Prometheus duration into nanoseconds (negative not allowed).
pub fn parse_duration(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: i128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return None;
        }
        let num: f64 = s[start..i].parse().ok()?;
        let unit_start = i;
        while i < bytes.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit: i128 = match &s[unit_start..i] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "w" => 7 * 86_400 * 1_000_000_000,
            "y" => 365 * 86_400 * 1_000_000_000,
            _ => return None,
        };
        let whole = s[start..i].split_once('.').is_none();
        let part = if whole {
            (s[start..unit_start].parse::<i128>().ok()?).checked_mul(unit)?
        } else {
            (num * unit as f64) as i128
        };
        total = total.checked_add(part)?;
    }
    i64::try_from(total).ok()
}

/// Formats nanoseconds as a compact duration (`1h30m`, `5m`, `250ms`), for messages.
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = nanos;
    for (unit, name) in
        [(3_600 * NANOS_PER_SEC, "h"), (60 * NANOS_PER_SEC, "m"), (NANOS_PER_SEC, "s"), (1_000_000, "ms")]
    {
        if rest >= unit {
            out.push_str(&format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ns"));
    }
    out
}

/// Parses a humanised byte size (`5MB`, `1.5KiB`, `10b`).
pub fn parse_bytes(s: &str) -> Option<f64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    if split == 0 {
        return None;
    }
    let num: f64 = s[..split].parse().ok()?;
    let mult = match s[split..].to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024f64.powi(2),
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return None,
    };
    Some(num * mult)
}

/// Parses an API timestamp into nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a timestamp (integer nanoseconds, seconds with a fraction, or RFC 3339)");
    if s.is_empty() {
        return Err(bad());
    }
    let numeric = s.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'));
    if numeric {
        return s.parse::<i64>().map_err(|_| bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        let secs: f64 = s.parse().map_err(|_| bad())?;
        let nanos = (secs * 1e9).round();
        if !nanos.is_finite() || nanos.abs() > i64::MAX as f64 {
            return Err(bad());
        }
        return Ok(nanos as i64);
    }
    parse_rfc3339(s).ok_or_else(bad)
}

/// Parses a query step: a duration or a number of seconds. Must be positive.
pub fn parse_step(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a duration or a number of seconds");
    let nanos = match parse_duration(s) {
        Some(n) => n,
        None => {
            let secs: f64 = s.parse().map_err(|_| bad())?;
            let n = (secs * 1e9).round();
            if !n.is_finite() || n.abs() > i64::MAX as f64 {
                return Err(bad());
            }
            n as i64
        }
    };
    if nanos <= 0 {
        return Err("step must be positive".into());
    }
    Ok(nanos)
}

use pharos_proto::civil_time::{Fraction, days_from_civil, format_rfc3339};

/// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) into nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded: String = digits.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac = padded.parse().ok()?;
    }
    let offset_secs = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && tz.as_bytes()[3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

/// Formats nanoseconds as RFC 3339 in UTC with trailing zeros of the fraction trimmed.
pub fn format_rfc3339_nanos(nanos: i64) -> String {
    format_rfc3339(nanos, Fraction::Trimmed)
}

/// Seconds as a JSON number, exact from nanoseconds: `1700000000`, `1700000000.5`.
pub fn format_seconds(nanos: i64) -> String {
    let neg = nanos < 0;
    let abs = nanos.unsigned_abs();
    let secs = abs / NANOS_PER_SEC as u64;
    let frac = abs % NANOS_PER_SEC as u64;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&secs.to_string());
    if frac > 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

/// A sample value as Prometheus and Loki print it (Go's shortest `'f'` format, `NaN`, `+Inf`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        // Rust's Display is the shortest round-trip form without exponent, like Go's 'f', -1.
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300 * NANOS_PER_SEC));
        assert_eq!(parse_duration("1h30m"), Some(5400 * NANOS_PER_SEC));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("2d"), Some(2 * 86_400 * NANOS_PER_SEC));
        for bad in ["", "5", "m", "5x", "1..5s", "99999999999999y"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(5400 * NANOS_PER_SEC), "1h30m");
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("5MB"), Some(5e6));
        assert_eq!(parse_bytes("1.5KiB"), Some(1536.0));
        assert_eq!(parse_bytes("10b"), Some(10.0));
        assert_eq!(parse_bytes("10"), None);
        assert_eq!(parse_bytes("kb"), None);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("4000000000"), Ok(4_000_000_000));
        assert_eq!(parse_time("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_time("2024-01-02T03:04:05.123Z"), Ok(1_704_164_645_123_000_000));
        assert_eq!(parse_time("2024-01-02T05:04:05+02:00"), Ok(1_704_164_645_000_000_000));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("").is_err());
        assert_eq!(format_rfc3339_nanos(1_704_164_645_123_000_000), "2024-01-02T03:04:05.123Z");
        assert_eq!(parse_step("15000ms"), Ok(15 * NANOS_PER_SEC));
        assert_eq!(parse_step("0.5"), Ok(500_000_000));
        assert!(parse_step("0").is_err());
        assert!(parse_step("-1s").is_err());
    }

    #[test]
    fn number_formats() {
        assert_eq!(format_seconds(4_000_000_000), "4");
        assert_eq!(format_seconds(1_700_000_000_500_000_000), "1700000000.5");
        assert_eq!(format_value(2.0), "2");
        assert_eq!(format_value(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}

// Pharos — query/src/loki/params.rs
