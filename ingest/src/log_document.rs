//! Helpers shared by the log receivers: timestamps (RFC 3339 / epoch parsing and formatting without
//! a date library), JSON string escaping for responses and documents written as text, the
//! `service_name` label rule, and Elasticsearch-style auto-generated document ids.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use pharos_proto::civil_time::{Fraction, format_rfc3339};
use serde_json::{Map, Value};


pub use pharos_proto::civil_time::{civil_from_days, days_from_civil, now_nanos};

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (always nine fraction digits, UTC).
pub fn format_rfc3339_nanos(nanos: i64) -> String {
    format_rfc3339(nanos, Fraction::Nanos)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.s.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(part.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
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

/// Parses an ISO 8601 / RFC 3339 date-time as Elasticsearch's `strict_date_optional_time` accepts it:
/// `YYYY-MM-DD`, optionally followed by `T` (or a space) and `HH:MM[:SS[.fraction]]`, optionally
/// followed by `Z` or an offset `±HH[:MM]`/`±HHMM`. No zone means UTC. Fractions beyond nanoseconds
/// are truncated. Returns nanoseconds since the epoch, `None` when malformed or out of `i64` range.
pub fn parse_rfc3339_nanos(text: &str) -> Option<i64> {
    let mut c = Cursor { s: text.trim().as_bytes(), i: 0 };
    let year = i64::from(c.digits(4)?);
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut frac) = (0u32, 0u32, 0u32, 0i64);
    if c.eat(b'T') || c.eat(b't') || c.eat(b' ') {
        hour = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        minute = c.digits(2)?;
        if c.eat(b':') {
            second = c.digits(2)?;
            if c.eat(b'.') || c.eat(b',') {
                let start = c.i;
                let mut scale = 100_000_000i64;
                while let Some(b @ b'0'..=b'9') = c.peek() {
                    frac += i64::from(b - b'0') * scale;
                    scale /= 10;
                    c.i += 1;
                }
                if c.i == start {
                    return None;
                }
            }
        }
        // 24:00:00 is not accepted; leap second 60 is folded into the next second like most parsers.
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
    }
    let mut offset_secs = 0i64;
    match c.peek() {
        None => {}
        Some(b'Z' | b'z') => c.i += 1,
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            let om = if c.eat(b':') { c.digits(2)? } else { c.digits(2).unwrap_or(0) };
            if oh > 23 || om > 59 {
                return None;
            }
            offset_secs = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                offset_secs = -offset_secs;
            }
        }
        Some(_) => return None,
    }
    if c.i != c.s.len() {
        return None;
    }
    let secs = days_from_civil(year, i64::from(month), i64::from(day)) * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// An epoch count in `unit_nanos` units (digits with optional sign and fraction, as text) to ns.
fn parse_epoch_text(text: &str, unit_nanos: i64) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    let mut nanos = whole.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos / 10;
    for b in frac.bytes() {
        if scale == 0 {
            break;
        }
        nanos = nanos.checked_add(i64::from(b - b'0') * scale)?;
        scale /= 10;
    }
    Some(if t.starts_with('-') { -nanos } else { nanos })
}

fn number_to_nanos(n: &serde_json::Number, unit_nanos: i64) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return i.checked_mul(unit_nanos);
    }
    // Whole and fractional parts apart, so that e.g. 1704164645.25 s is exact.
    let f = n.as_f64()?;
    let whole = f.trunc();
    if !f.is_finite() || (whole * unit_nanos as f64).abs() >= 9.2e18 {
        return None;
    }
    (whole as i64).checked_mul(unit_nanos)?.checked_add(((f - whole) * unit_nanos as f64).round() as i64)
}

/// A timestamp value as Elasticsearch's default date mapping (`strict_date_optional_time||
/// epoch_millis`) reads it: an RFC 3339 string, a string of digits (epoch milliseconds, optional
/// sign and fraction) or a JSON number (epoch milliseconds). Nanoseconds since the epoch.
pub fn es_timestamp(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => parse_rfc3339_nanos(s).or_else(|| parse_epoch_text(s, 1_000_000)),
        Value::Number(n) => number_to_nanos(n, 1_000_000),
        _ => None,
    }
}

/// A timestamp for the JSON-lines endpoint: an RFC 3339 string, or an epoch number (JSON number or
/// string of digits) whose unit is guessed from its magnitude: below 1e11 seconds, below 1e14
/// milliseconds, below 1e17 microseconds, else nanoseconds.
pub fn guess_epoch_timestamp(value: &Value) -> Option<i64> {
    let magnitude_unit = |x: f64| match x.abs() {
        x if x < 1e11 => 1_000_000_000,
        x if x < 1e14 => 1_000_000,
        x if x < 1e17 => 1_000,
        _ => 1,
    };
    match value {
        Value::String(s) => parse_rfc3339_nanos(s).or_else(|| {
            let x: f64 = s.trim().parse().ok()?;
            parse_epoch_text(s, magnitude_unit(x))
        }),
        Value::Number(n) => number_to_nanos(n, magnitude_unit(n.as_f64()?)),
        _ => None,
    }
}

/// Appends `s` to `out` as a JSON string literal (quotes included), escaping exactly what JSON
/// requires (`"`, `\` and control characters).
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The service a document names, for the `service_name` label: `service.name` (nested object or
/// a literal dotted key), else `service_name`, else `service` when it is a string.
pub fn service_name(doc: &Map<String, Value>) -> Option<&str> {
    if let Some(Value::Object(service)) = doc.get("service")
        && let Some(Value::String(name)) = service.get("name")
    {
        return Some(name);
    }
    for key in ["service.name", "service_name", "service"] {
        if let Some(Value::String(name)) = doc.get(key) {
            return Some(name);
        }
    }
    None
}

/// The labels of a record stored into a named index: `index`, plus `service_name` when the
/// document names a service (sorted by name).
pub fn index_labels(index: &str, doc: &Map<String, Value>) -> Vec<(String, String)> {
    let mut labels = Vec::with_capacity(2);
    labels.push(("index".to_owned(), index.to_owned()));
    if let Some(service) = service_name(doc).filter(|s| !s.is_empty()) {
        labels.push(("service_name".to_owned(), service.to_owned()));
    }
    labels
}

fn base64_with(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            out.push_str(&"=="[..3 - chunk.len()]);
        }
    }
    out
}

/// URL-safe base64 without padding.
pub fn base64_url(bytes: &[u8]) -> String {
    base64_with(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false)
}

/// Standard base64 with padding (how OTLP/JSON writes `bytes`).
pub fn base64_std(bytes: &[u8]) -> String {
    base64_with(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
}

/// Generates Elasticsearch-style document ids: 20 URL-safe base64 characters encoding 15 bytes —
/// 6 bytes of the current Unix time in milliseconds, 3 bytes of a per-generator sequence and 6
/// random bytes drawn when the generator is created (so ids of two processes do not collide).
pub struct IdGenerator {
    sequence: AtomicU64,
    node: [u8; 6],
}

impl Default for IdGenerator {
    fn default() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_i64(now_nanos());
        hasher.write_u32(std::process::id());
        let random = hasher.finish().to_be_bytes();
        let mut node = [0u8; 6];
        node.copy_from_slice(&random[..6]);
        Self { sequence: AtomicU64::new(u64::from(random[6]) << 8 | u64::from(random[7])), node }
    }
}

impl IdGenerator {
    /// A fresh id.
    pub fn next_id(&self) -> String {
        let millis = (now_nanos() / 1_000_000).max(0) as u64;
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 15];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..9].copy_from_slice(&seq.to_be_bytes()[5..]);
        bytes[9..].copy_from_slice(&self.node);
        base64_url(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_forms() {
        let base = 1_704_164_645_000_000_000i64; // 2024-01-02T03:04:05Z
        assert_eq!(parse_rfc3339_nanos("2024-01-02T03:04:05Z"), Some(base));
        assert_eq!(parse_rfc3339_nanos("2024-01-02T03:04:05.123456789Z"), Some(base + 123_456_789));
        assert_eq!(parse_rfc3339_nanos("2024-01-02T03:04:05.5+01:00"), Some(base + 500_000_000 - 3_600_000_000_000));
        assert_eq!(parse_rfc3339_nanos("2024-01-02T03:04:05-0130"), Some(base + 5_400_000_000_000));
        assert_eq!(parse_rfc3339_nanos("2024-01-02 03:04:05"), Some(base));
        assert_eq!(parse_rfc3339_nanos("2024-01-02T03:04"), Some(base - 5_000_000_000));
        assert_eq!(parse_rfc3339_nanos("2024-01-02"), Some(base - 11_045_000_000_000));
        assert_eq!(parse_rfc3339_nanos("2024-01-02T03:04:05.1234567891234Z"), Some(base + 123_456_789));
        for bad in ["", "2024-13-01", "2023-02-29", "2024-01-02T25:00:00Z", "2024-01-02T03:04:05X", "yesterday"] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad}");
        }
        assert_eq!(format_rfc3339_nanos(base + 7), "2024-01-02T03:04:05.000000007Z");
        assert_eq!(format_rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        for days in [-800_000, -1, 0, 59, 60, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn es_and_guessed_epochs() {
        assert_eq!(es_timestamp(&json!(1_704_164_645_123i64)), Some(1_704_164_645_123_000_000));
        assert_eq!(es_timestamp(&json!("1704164645123")), Some(1_704_164_645_123_000_000));
        assert_eq!(es_timestamp(&json!("1704164645123.5")), Some(1_704_164_645_123_500_000));
        assert_eq!(es_timestamp(&json!(1.5)), Some(1_500_000));
        assert_eq!(es_timestamp(&json!(true)), None);
        assert_eq!(guess_epoch_timestamp(&json!(1_704_164_645)), Some(1_704_164_645_000_000_000));
        assert_eq!(guess_epoch_timestamp(&json!(1_704_164_645.25)), Some(1_704_164_645_250_000_000));
        assert_eq!(guess_epoch_timestamp(&json!(1_704_164_645_123i64)), Some(1_704_164_645_123_000_000));
        assert_eq!(guess_epoch_timestamp(&json!("1704164645123456")), Some(1_704_164_645_123_456_000));
        assert_eq!(guess_epoch_timestamp(&json!(1_704_164_645_123_456_789i64)), Some(1_704_164_645_123_456_789));
    }

    #[test]
    fn json_escaping_matches_serde() {
        for s in ["plain", "quote\" back\\slash", "line\nfeed\ttab\r\u{1}\u{1f}\u{7f}", "ünïcødé ✓", ""] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn service_names_and_ids() {
        let doc = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(service_name(&doc(json!({"service": {"name": "a"}}))), Some("a"));
        assert_eq!(service_name(&doc(json!({"service.name": "b"}))), Some("b"));
        assert_eq!(service_name(&doc(json!({"service_name": "c", "service": "d"}))), Some("c"));
        assert_eq!(service_name(&doc(json!({"service": "d"}))), Some("d"));
        assert_eq!(service_name(&doc(json!({"service": 5}))), None);
        assert_eq!(base64_url(b"Man"), "TWFu");
        assert_eq!(base64_url(b"Ma"), "TWE");
        assert_eq!(base64_std(b"Ma"), "TWE=");
        assert_eq!(base64_std(b"M"), "TQ==");
        assert_eq!(base64_std(&[0xfb, 0xff]), "+/8=");
        let ids = IdGenerator::default();
        let (a, b) = (ids.next_id(), ids.next_id());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}

// Pharos — ingest/src/log_document.rs
