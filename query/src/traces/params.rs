//! Request parameters of the trace APIs: the query string, Go durations (`1.5s`, `100ms`,
//! `500us`), integers with the parameter named in the error (RFC 3339 times: `crate::params`).

use super::error::TraceApiError;

/// The query string's pairs, in order (repeated keys such as Jaeger's `traceID` keep every value).
#[derive(Debug, Default, Clone)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> QueryParams {
        QueryParams(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// The first non-empty value of `key` (an empty value counts as absent, as Go's `Get` callers
    /// treat it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// The first non-empty value under any of `keys` (spellings of one parameter), with the key
    /// that supplied it.
    pub fn get_any<'a>(&'a self, keys: &[&'a str]) -> Option<(&'a str, &'a str)> {
        keys.iter().find_map(|key| self.get(key).map(|value| (*key, value)))
    }

    /// Every non-empty value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }

    /// An optional integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, TraceApiError> {
        self.get(key).map(|text| parse_int(key, text)).transpose()
    }

    /// An optional Go duration parameter, in nanoseconds.
    pub fn duration(&self, key: &str) -> Result<Option<u64>, TraceApiError> {
        self.get(key)
            .map(|text| {
                parse_go_duration(text)
                    .map_err(|e| TraceApiError::BadRequest(format!("unable to parse param '{key}': {e}")))
            })
            .transpose()
    }
}

/// A decimal integer parameter.
pub fn parse_int(key: &str, text: &str) -> Result<i64, TraceApiError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| TraceApiError::BadRequest(format!("unable to parse param '{key}': {text:?} is not an integer")))
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// A Go duration (`time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?unit)+` with units `ns`, `us`, `µs`,
/// `μs`, `ms`, `s`, `m`, `h`, or a bare `0`) in nanoseconds. Negative durations are refused: every
/// API here uses them as bounds on a span or trace duration.
pub fn parse_go_duration(text: &str) -> Result<u64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_digits = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_digits = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_digits = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        let overflow = || format!("time: invalid duration {text:?} (out of range)");
        let whole: u128 = if int_digits.is_empty() {
            0
        } else if int_digits.len() > 20 {
            return Err(overflow());
        } else {
            int_digits.parse().map_err(|_| overflow())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(overflow)?;
        // Digits past the 18th cannot change a value below one nanosecond times 3.6e12.
        let (mut numerator, mut denominator) = (0u128, 1u128);
        for digit in frac_digits.bytes().take(18) {
            numerator = numerator * 10 + u128::from(digit - b'0');
            denominator *= 10;
        }
        value += numerator * scale / denominator;
        total = total.checked_add(value).filter(|t| *t <= i64::MAX as u128).ok_or_else(overflow)?;
    }
    if negative && total > 0 {
        return Err(format!("negative duration {text:?}"));
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_in_every_unit() {
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("100ms"), Ok(100_000_000));
        assert_eq!(parse_go_duration("1.2s"), Ok(1_200_000_000));
        assert_eq!(parse_go_duration("500us"), Ok(500_000));
        assert_eq!(parse_go_duration("500µs"), Ok(500_000));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration(".5ms"), Ok(500_000));
        assert_eq!(parse_go_duration("1.ms"), Ok(1_000_000));
        assert_eq!(parse_go_duration("7ns"), Ok(7));
        assert_eq!(parse_go_duration("-0s"), Ok(0));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("10d").unwrap_err().contains("unknown unit"));
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("9999999999999h").is_err());
    }

    #[test]
    fn params_skip_empty_values_and_keep_repeats() {
        let p = QueryParams::parse(Some("a=&a=1&traceID=x&traceID=y&query.service_name=s"));
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.all("traceID"), vec!["x", "y"]);
        assert_eq!(p.get_any(&["query.serviceName", "query.service_name"]), Some(("query.service_name", "s")));
        assert!(QueryParams::parse(Some("limit=x")).int("limit").is_err());
    }
}

// Pharos — query/src/traces/params.rs
