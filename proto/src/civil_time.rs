//! The proleptic Gregorian calendar in UTC, for the APIs that write and read dates (Prometheus and
//! Loki times, Elasticsearch `@timestamp` and date math, Loki and OTLP documents): day numbers ↔
//! dates (Howard Hinnant's `days_from_civil` / `civil_from_days`) and RFC 3339 text of a nanosecond
//! time, and the clock read as nanoseconds. Parsers stay with their APIs: each accepts its own grammar (Go's RFC 3339, Elasticsearch's
//! `strict_date_optional_time`, Loki's).

/// Now, in nanoseconds since the epoch (negative for a clock set before 1970; saturating).
pub fn now_nanos() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Days since 1970-01-01 of a date (`month` 1–12, `day` 1–31).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01: (year, month 1–12, day 1–31).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// How many fraction digits [`format_rfc3339`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fraction {
    /// Always nine (`…05.120000000Z`).
    Nanos,
    /// Always three, truncated (`…05.120Z`), as go-swagger's `strfmt.DateTime` (Alertmanager's API).
    Millis,
    /// As many as needed, none for a whole second (`…05.12Z`, `…05Z`), as Go's `RFC3339Nano`.
    Trimmed,
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` of a time in nanoseconds since the epoch, in UTC.
pub fn format_rfc3339(nanos: i64, fraction: Fraction) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", tod / 3600, tod / 60 % 60, tod % 60);
    match fraction {
        Fraction::Nanos => out.push_str(&format!(".{frac:09}")),
        Fraction::Millis => out.push_str(&format!(".{:03}", frac / 1_000_000)),
        Fraction::Trimmed if frac > 0 => {
            out.push('.');
            out.push_str(format!("{frac:09}").trim_end_matches('0'));
        }
        Fraction::Trimmed => {}
    }
    out.push('Z');
    out
}

/// A time as Go's `time.Time` marshals to JSON: [`Fraction::Trimmed`] RFC 3339, and `0` (unset)
/// as Go's zero time `0001-01-01T00:00:00Z` (Prometheus' and Alertmanager's JSON).
pub fn format_go_time(nanos: i64) -> String {
    if nanos == 0 { "0001-01-01T00:00:00Z".to_string() } else { format_rfc3339(nanos, Fraction::Trimmed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_across_eras() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn rfc3339_text() {
        assert_eq!(format_rfc3339(0, Fraction::Nanos), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_rfc3339(1_700_000_000_120_000_000, Fraction::Trimmed), "2023-11-14T22:13:20.12Z");
        assert_eq!(format_rfc3339(-1, Fraction::Trimmed), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339(86_400_000_000_000, Fraction::Trimmed), "1970-01-02T00:00:00Z");
        assert_eq!(format_rfc3339(1_700_000_000_123_456_789, Fraction::Millis), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_rfc3339(-1, Fraction::Millis), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_go_time(0), "0001-01-01T00:00:00Z");
        assert_eq!(format_go_time(1_000_000_000), "1970-01-01T00:00:01Z");
    }
}

// Pharos — proto/src/civil_time.rs
