//! Dates as Elasticsearch writes them: `epoch_millis`, `epoch_second`, ISO 8601 /
//! `strict_date_optional_time` (with or without fraction and offset), and date math (`now-1h/d`,
//! `2024-01-01||+1M`). Everything is nanoseconds since the epoch, UTC; time zones other than fixed
//! offsets written in the date itself are not supported.

use serde_json::Value;

pub const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

pub use pharos_proto::civil_time::now_nanos;

/// Parses a date bound of a `range` query or aggregation bound. `format` is the `format` of the
/// request (`epoch_millis`, `epoch_second`, `strict_date_optional_time`, `a||b`…). `round_up` says
/// how date-math rounding (`/d`) resolves: to the last nanosecond of the unit (for `lte` and `gt`)
/// or its first (for `gte` and `lt`), as Elasticsearch does.
pub fn parse_date_value(value: &Value, format: Option<&str>, now: i64, round_up: bool) -> Result<i64, String> {
    let formats: Vec<&str> = format.map(|f| f.split("||").map(str::trim).collect()).unwrap_or_default();
    let seconds = formats.len() == 1 && formats[0] == "epoch_second";
    let nanos = match value {
        Value::Number(n) => {
            let v = n.as_f64().ok_or_else(|| format!("failed to parse date field [{n}]"))?;
            epoch_to_nanos(v, seconds).ok_or_else(|| format!("failed to parse date field [{n}]"))?
        }
        Value::String(s) => parse_date_str(s, &formats, now, round_up)?,
        other => return Err(format!("failed to parse date field [{other}]")),
    };
    // `@timestamp` is a millisecond `date` to clients: an upper bound given to the millisecond
    // covers the whole millisecond (documents keep nanoseconds).
    if round_up && millisecond_precision(value) {
        return Ok(nanos.saturating_add(NANOS_PER_MILLI - 1));
    }
    Ok(nanos)
}

/// Whether a date value carries no digits below the millisecond (and no date math).
fn millisecond_precision(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::String(s) => {
            let s = s.trim();
            if s.starts_with("now") || s.contains("||") {
                return false;
            }
            if s.chars().all(|c| c.is_ascii_digit() || c == '-') {
                return true;
            }
            match s.find(['.', ',']) {
                Some(dot) => s[dot + 1..].chars().take_while(char::is_ascii_digit).count() <= 3,
                None => true,
            }
        }
        _ => false,
    }
}

fn epoch_to_nanos(v: f64, seconds: bool) -> Option<i64> {
    let nanos = if seconds { v * NANOS_PER_SEC as f64 } else { v * NANOS_PER_MILLI as f64 };
    (nanos.is_finite() && nanos.abs() < 9.2e18).then_some(nanos as i64)
}

/// Parses a date string (see [`parse_date_value`]).
pub fn parse_date_str(s: &str, formats: &[&str], now: i64, round_up: bool) -> Result<i64, String> {
    let s = s.trim();
    let fail = || format!("failed to parse date field [{s}] with format [{}]", display_formats(formats));
    let (anchor, math) = if let Some(rest) = s.strip_prefix("now") {
        (now, rest)
    } else if let Some((date, math)) = s.split_once("||") {
        (parse_plain(date, formats).ok_or_else(fail)?, math)
    } else {
        return parse_plain(s, formats).ok_or_else(fail);
    };
    apply_date_math(anchor, math, round_up).ok_or_else(fail)
}

fn display_formats(formats: &[&str]) -> String {
    if formats.is_empty() { "strict_date_optional_time||epoch_millis".to_string() } else { formats.join("||") }
}

/// A date without math: epoch numbers as the format says, else ISO 8601.
fn parse_plain(s: &str, formats: &[&str]) -> Option<i64> {
    let numeric = !s.is_empty() && s.trim_start_matches('-').chars().all(|c| c.is_ascii_digit() || c == '.');
    let epoch_formats: Vec<&&str> = formats.iter().filter(|f| f.starts_with("epoch_")).collect();
    if numeric && (!epoch_formats.is_empty() || s.len() > 4) {
        let seconds = epoch_formats.first().is_some_and(|f| **f == "epoch_second");
        return epoch_to_nanos(s.parse::<f64>().ok()?, seconds);
    }
    parse_iso(s)
}

/// `YYYY[-MM[-DD]][(T| )HH[:mm[:ss[.f…]]]][Z|±HH[:mm]|±HHmm]`, UTC unless an offset is given.
pub fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, len: usize| -> Option<i64> {
        let digits = b.get(*i..*i + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *i += len;
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let year = num(&mut i, 4)?;
    let (mut month, mut day) = (1, 1);
    if b.get(i) == Some(&b'-') {
        i += 1;
        month = num(&mut i, 2)?;
        if b.get(i) == Some(&b'-') {
            i += 1;
            day = num(&mut i, 2)?;
        }
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut frac) = (0, 0, 0, 0i64);
    if matches!(b.get(i), Some(b'T') | Some(b't') | Some(b' ')) {
        i += 1;
        hour = num(&mut i, 2)?;
        if b.get(i) == Some(&b':') {
            i += 1;
            minute = num(&mut i, 2)?;
            if b.get(i) == Some(&b':') {
                i += 1;
                second = num(&mut i, 2)?;
                if matches!(b.get(i), Some(b'.') | Some(b',')) {
                    i += 1;
                    let start = i;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                    let digits = &s[start..i];
                    if digits.is_empty() {
                        return None;
                    }
                    let padded: String = digits.chars().chain(std::iter::repeat('0')).take(9).collect();
                    frac = padded.parse().ok()?;
                }
            }
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut offset_secs = 0;
    match b.get(i) {
        None => {}
        Some(b'Z') | Some(b'z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            i += 1;
            let oh = num(&mut i, 2)?;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            let om = if i < b.len() { num(&mut i, 2)? } else { 0 };
            offset_secs = (oh * 3600 + om * 60) * if sign == b'-' { -1 } else { 1 };
        }
        _ => return None,
    }
    if i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

/// Applies `+1h`, `-2d`, `/d` (in any sequence) to `anchor`.
fn apply_date_math(anchor: i64, math: &str, round_up: bool) -> Option<i64> {
    let mut t = anchor;
    let b = math.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let op = b[i];
        i += 1;
        let mut n = 1i64;
        if op != b'/' {
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i > start {
                n = math[start..i].parse().ok()?;
            }
        }
        let unit = *b.get(i)?;
        i += 1;
        match op {
            b'+' | b'-' => {
                let n = if op == b'-' { -n } else { n };
                t = match unit {
                    b'y' => add_months(t, n * 12)?,
                    b'M' => add_months(t, n)?,
                    _ => t.checked_add(n.checked_mul(unit_nanos(unit)?)?)?,
                };
            }
            b'/' => {
                let start = round_down(t, unit)?;
                t = if round_up {
                    let next = match unit {
                        b'y' => add_months(start, 12)?,
                        b'M' => add_months(start, 1)?,
                        _ => start + unit_nanos(unit)?,
                    };
                    next - 1
                } else {
                    start
                };
            }
            _ => return None,
        }
    }
    Some(t)
}

fn unit_nanos(unit: u8) -> Option<i64> {
    Some(match unit {
        b'w' => 7 * NANOS_PER_DAY,
        b'd' => NANOS_PER_DAY,
        b'h' | b'H' => 3600 * NANOS_PER_SEC,
        b'm' => 60 * NANOS_PER_SEC,
        b's' => NANOS_PER_SEC,
        _ => return None,
    })
}

fn round_down(t: i64, unit: u8) -> Option<i64> {
    let (y, m, _) = civil_from_days(t.div_euclid(NANOS_PER_DAY));
    Some(match unit {
        b'y' => days_from_civil(y, 1, 1) * NANOS_PER_DAY,
        b'M' => days_from_civil(y, m, 1) * NANOS_PER_DAY,
        b'w' => {
            // Weeks start on Monday; 1970-01-01 was a Thursday.
            let days = t.div_euclid(NANOS_PER_DAY);
            (days - (days + 3).rem_euclid(7)) * NANOS_PER_DAY
        }
        _ => {
            let u = unit_nanos(unit)?;
            t - t.rem_euclid(u)
        }
    })
}

fn add_months(t: i64, months: i64) -> Option<i64> {
    let days = t.div_euclid(NANOS_PER_DAY);
    let within = t.rem_euclid(NANOS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd).checked_mul(NANOS_PER_DAY)?.checked_add(within)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

pub use pharos_proto::civil_time::{civil_from_days, days_from_civil};

fn format_with_fraction(nanos: i64, min_digits: usize, max_digits: usize) -> String {
    let days = nanos.div_euclid(NANOS_PER_DAY);
    let in_day = nanos.rem_euclid(NANOS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = in_day / NANOS_PER_SEC;
    let frac = in_day % NANOS_PER_SEC;
    let mut digits = format!("{frac:09}");
    digits.truncate(max_digits);
    while digits.len() > min_digits && digits.ends_with('0') {
        digits.pop();
    }
    let dot = if digits.is_empty() { "" } else { "." };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{dot}{digits}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `strict_date_optional_time` as Elasticsearch prints a `date`: `2024-01-01T00:00:00.000Z`.
pub fn format_iso_millis(nanos: i64) -> String {
    format_with_fraction(nanos, 3, 3)
}

/// `strict_date_optional_time_nanos`: `2024-01-01T00:00:00.123456789Z` (3 to 9 fraction digits,
/// trailing zeros beyond the third trimmed, as Elasticsearch prints them).
pub fn format_iso_nanos(nanos: i64) -> String {
    format_with_fraction(nanos, 3, 9)
}

/// A date rendered in a format named by a request (`fields`, `docvalue_fields`, aggregations).
pub fn format_date(nanos: i64, format: Option<&str>) -> Value {
    let first = format.map(|f| f.split("||").next().unwrap_or("").trim());
    match first {
        Some("epoch_millis") => Value::String(nanos.div_euclid(NANOS_PER_MILLI).to_string()),
        Some("epoch_second") => Value::String(nanos.div_euclid(NANOS_PER_SEC).to_string()),
        Some(f) if f.contains("nanos") => Value::String(format_iso_nanos(nanos)),
        _ => Value::String(format_iso_millis(nanos)),
    }
}

/// Parses a fixed duration (`30s`, `1m`, `500ms`, `1h`, `2d`, `1w`, `1000micros`) into
/// milliseconds. Calendar units (`M`, `q`, `y`) are refused.
pub fn parse_fixed_interval_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().map_err(|_| format!("failed to parse setting [fixed_interval] with value [{s}]"))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        "w" => n.checked_mul(7 * 86_400_000),
        "micros" if n % 1000 == 0 => Some(n / 1000),
        "nanos" if n % 1_000_000 == 0 => Some(n / 1_000_000),
        "M" | "q" | "y" => {
            return Err(format!("calendar interval [{s}] is not supported; use a fixed interval (ms, s, m, h, d, w)"));
        }
        _ => None,
    };
    match ms {
        // Up to about 290 years, so that nanoseconds still fit in an i64.
        Some(ms) if ms > 0 && ms < 9_000_000_000_000 => Ok(ms),
        _ => Err(format!("failed to parse setting [fixed_interval] with value [{s}] as a time value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn iso_forms() {
        let base = 1_704_067_200 * NANOS_PER_SEC; // 2024-01-01T00:00:00Z
        assert_eq!(parse_iso("2024-01-01"), Some(base));
        assert_eq!(parse_iso("2024-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse_iso("2024-01-01T00:00:00.123456789Z"), Some(base + 123_456_789));
        assert_eq!(parse_iso("2024-01-01T02:00:00+02:00"), Some(base));
        assert_eq!(parse_iso("2024-01-01T00:00"), Some(base));
        assert_eq!(parse_iso("2024-13-01"), None);
        assert_eq!(parse_iso("garbage"), None);
    }

    #[test]
    fn formats_and_math() {
        let base = 1_704_067_200_000i64;
        let ns = base * NANOS_PER_MILLI;
        assert_eq!(parse_date_value(&json!(base), Some("epoch_millis"), 0, false), Ok(ns));
        assert_eq!(parse_date_value(&json!(base), Some("epoch_millis"), 0, true), Ok(ns + 999_999));
        let precise = "2024-01-01T00:00:00.000000001Z";
        assert_eq!(parse_date_value(&json!(precise), None, 0, true), Ok(ns + 1));
        assert_eq!(parse_date_value(&json!(base.to_string()), None, 0, false), Ok(ns));
        assert_eq!(parse_date_value(&json!(1_704_067_200), Some("epoch_second"), 0, false), Ok(ns));
        assert_eq!(parse_date_value(&json!("now-1h"), None, ns, false), Ok(ns - 3600 * NANOS_PER_SEC));
        let noon = ns + 12 * 3600 * NANOS_PER_SEC;
        assert_eq!(parse_date_value(&json!("now/d"), None, noon, false), Ok(ns));
        assert_eq!(parse_date_value(&json!("now/d"), None, noon, true), Ok(ns + NANOS_PER_DAY - 1));
        assert_eq!(
            parse_date_value(&json!("2024-01-31||+1M"), None, 0, false),
            parse_iso("2024-02-29").ok_or(String::new())
        );
        assert!(parse_date_value(&json!("yesterday"), None, 0, false).is_err());
    }

    #[test]
    fn printing() {
        let t = 1_704_067_200_123_456_789i64;
        assert_eq!(format_iso_nanos(t), "2024-01-01T00:00:00.123456789Z");
        assert_eq!(format_iso_nanos(1_704_067_200_120_000_000), "2024-01-01T00:00:00.120Z");
        assert_eq!(format_iso_millis(t), "2024-01-01T00:00:00.123Z");
        assert_eq!(format_iso_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_date(t, Some("epoch_millis")), json!("1704067200123"));
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_fixed_interval_ms("30s"), Ok(30_000));
        assert_eq!(parse_fixed_interval_ms("1w"), Ok(604_800_000));
        assert!(parse_fixed_interval_ms("1M").is_err());
        assert!(parse_fixed_interval_ms("abc").is_err());
    }
}

// Pharos — query/src/elastic/time.rs
