//! Request parameters as the Prometheus API reads them: the query string and, for POST, an
//! `application/x-www-form-urlencoded` body, merged; times and durations in Prometheus' forms.

use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use pharos_proto::{ApiError, ApiFamily, DecodedBody, ErrorCode};

/// All parameters of a request, in order (repeated keys such as `match[]` keep every value).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn from_query(query: &str) -> Params {
        Params(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let family = ApiFamily::for_request(&req);
        let mut params = Params::from_query(req.uri().query().unwrap_or(""));
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if req.method() == Method::POST && is_form {
            let body = DecodedBody::from_request(req, state).await?;
            params.0.extend(form_urlencoded::parse(&body.bytes).into_owned());
        } else if req.method() == Method::POST && req.headers().contains_key(header::CONTENT_TYPE) {
            let ct = req.headers()[header::CONTENT_TYPE].to_str().unwrap_or("?").to_string();
            return Err(ApiError::new(family, ErrorCode::BadData, format!("unsupported Content-Type {ct:?} for form parameters")));
        }
        Ok(params)
    }
}

/// The earliest and latest times Prometheus accepts (its `minTime`/`maxTime`), in milliseconds.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974;
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974;

/// A time parameter: float Unix seconds (millisecond precision) or RFC 3339, in milliseconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(format!("cannot parse {text:?} to a valid timestamp"));
        }
        let ms = (seconds * 1000.0).round();
        // Grafana's exemplar probe sends milliseconds where seconds belong: clamp, never error.
        return Ok(ms.clamp(MIN_TIME_MS as f64, MAX_TIME_MS as f64) as i64);
    }
    parse_rfc3339(text).ok_or_else(|| format!("cannot parse {text:?} to a valid timestamp"))
}

/// An optional time parameter with a default.
pub fn time_param(params: &Params, key: &str, default: i64) -> Result<i64, String> {
    match params.get(key) {
        None | Some("") => Ok(default),
        Some(text) => parse_time(text).map_err(|e| format!("invalid parameter {key:?}: {e}")),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → milliseconds since the epoch (the fraction
/// truncated to milliseconds).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse_rfc3339_nanos(text).map(|nanos| nanos.div_euclid(1_000_000))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → nanoseconds since the epoch, as Go's
/// `time.RFC3339Nano` reads it: `T`, `t` or a space between date and time, a leap second `60`,
/// any number of fraction digits (those past nine are dropped).
pub fn parse_rfc3339_nanos(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        nanos = format!("{:0<9}", &frac[..digits.min(9)]).parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let tz = rest.get(1..)?;
            if tz.len() != 5 || tz.as_bytes()[2] != b':' {
                return None;
            }
            let (h, m): (i64, i64) = (tz[..2].parse().ok()?, tz[3..].parse().ok()?);
            sign * (h * 60 + m)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

pub use pharos_proto::civil_time::days_from_civil;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_nanoseconds_offsets_and_go_leniency() {
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_nanos("2023-11-14T22:13:20.000000123Z"), Some(1_700_000_000_000_000_123));
        assert_eq!(parse_rfc3339_nanos("2023-11-15T00:13:20.5+02:00"), Some(1_700_000_000_500_000_000));
        assert_eq!(parse_rfc3339_nanos("2023-11-14 22:13:20Z"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_rfc3339_nanos("2023-11-14T22:13:20.1234567891Z"), Some(1_700_000_000_123_456_789));
        assert_eq!(parse_rfc3339_nanos("1969-12-31T23:59:59.9995Z"), Some(-500_000));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9995Z"), Some(-1), "milliseconds round down");
        assert_eq!(parse_rfc3339_nanos("2023-11-14T22:13:20."), None);
        assert_eq!(parse_rfc3339_nanos("yesterday"), None);
    }

    #[test]
    fn times_in_every_form() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1435781451"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("2015-07-01T22:10:51.781+02:00"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("1969-12-31T23:59:59Z"), Ok(-1000));
        assert_eq!(parse_time("2000-02-29T00:00:00.5Z"), Ok(951_782_400_500));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2015-13-01T00:00:00Z").is_err());
        assert!(parse_time("NaN").is_err());
        // Milliseconds where seconds belong (Grafana's exemplar probe) clamp instead of failing.
        assert!(parse_time("1700000000000000").is_ok());
    }

    #[test]
    fn params_keep_repeats() {
        let p = Params::from_query("match%5B%5D=up&match[]=%7Bjob%3D%22x%22%7D&start=1");
        assert_eq!(p.all("match[]"), vec!["up", "{job=\"x\"}"]);
        assert_eq!(time_param(&p, "start", 0), Ok(1000));
        assert_eq!(time_param(&p, "end", 7), Ok(7));
    }
}

// Pharos — query/src/params.rs
