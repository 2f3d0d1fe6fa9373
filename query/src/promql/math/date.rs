//! PromQL date functions (`minute`, `hour`, `day_of_month`, `day_of_week`,
//! `day_of_year`, `days_in_month`, `month`, `year`), UTC, as Prometheus'
//! `dateWrapper`: `time.Unix(int64(v), 0).UTC()` followed by Go's calendar
//! arithmetic.
//!
//! Faithful details:
//! * the sample value (seconds) is converted with Go's `int64(v)`: truncation
//!   towards zero, so `-0.5` is 1970-01-01T00:00:00 but `-1` is
//!   1969-12-31T23:59:59 (negative times work; proleptic Gregorian calendar);
//! * NaN, ±Inf and values outside the int64 range convert, as on amd64 (the
//!   platform of Prometheus' reference runs), to `i64::MIN`; Go's calendar
//!   code then wraps around its uint64 "absolute" epoch, and that wrapped
//!   result is reproduced here bit for bit (on arm64 Go would saturate
//!   instead, NaN → 0);
//! * the zero-argument forms (`year()` …) use the evaluation time
//!   `ts_ms / 1000` (integer division), see [`eval_time_seconds`];
//! * histogram samples are skipped by Prometheus (no output).

const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 3600;
const SECONDS_PER_DAY: u64 = 86_400;
const MARCH_THRU_DECEMBER: u64 = 306;
/// Go's `absoluteYears` (the absolute epoch is March 1, -292277022400).
const ABSOLUTE_YEARS: u64 = 292_277_022_400;
/// Go's `internalToAbsolute` = (absoluteYears·365.2425 + 306) days.
const INTERNAL_TO_ABSOLUTE: i64 =
    ((ABSOLUTE_YEARS * 365 + ABSOLUTE_YEARS / 400 * 97 + MARCH_THRU_DECEMBER) * SECONDS_PER_DAY) as i64;
/// Go's `unixToInternal` (1969 years, Gregorian).
const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * SECONDS_PER_DAY as i64;
const UNIX_TO_ABSOLUTE: i64 = UNIX_TO_INTERNAL + INTERNAL_TO_ABSOLUTE;

/// Go's `int64(f)` on amd64 (CVTTSD2SQ): truncation towards zero; NaN and
/// out-of-range values (including ±Inf) give `i64::MIN`.
pub fn go_f64_to_i64(v: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) { i64::MIN } else { v as i64 }
}

/// The timestamp argument Prometheus uses for the zero-argument forms
/// (`year()`, `hour()`, …): `enh.Ts / 1000` with integer division.
pub fn eval_time_seconds(ts_ms: i64) -> f64 {
    (ts_ms / 1000) as f64
}

/// All calendar fields of one instant (UTC), each as the `f64` PromQL
/// returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DateParts {
    /// `year(v)`.
    pub year: f64,
    /// `month(v)`: 1–12.
    pub month: f64,
    /// `day_of_month(v)`: 1–31.
    pub day_of_month: f64,
    /// `day_of_year(v)`: 1–365/366.
    pub day_of_year: f64,
    /// `day_of_week(v)`: 0 = Sunday … 6 = Saturday.
    pub day_of_week: f64,
    /// `hour(v)`: 0–23.
    pub hour: f64,
    /// `minute(v)`: 0–59.
    pub minute: f64,
    /// `days_in_month(v)`: 28–31.
    pub days_in_month: f64,
}

/// Split of absolute days into (century, cyear, ayday) — Neri/Schneider
/// calendar math on Go's March-1-based absolute epoch.
fn split(days: u64) -> (u64, u64, u64) {
    let d = days.wrapping_mul(4).wrapping_add(3);
    let century = d / 146_097;
    let cd = (d % 146_097) | 3; // 4·cdays + 3
    let cyear = cd / 1461;
    let ayday = (cd % 1461) / 4;
    (century, cyear, ayday)
}

/// (absolute month 3..=14, 1-based day) from the March-based day of year.
fn split_yday(ayday: u64) -> (u64, u64) {
    let d = 5 * ayday + 461;
    (d / 153, 1 + (d % 153) / 5)
}

fn year_of(century: u64, cyear: u64, jan_feb: u64) -> i64 {
    (century.wrapping_mul(100).wrapping_sub(ABSOLUTE_YEARS) as i64)
        .wrapping_add(cyear as i64)
        .wrapping_add(jan_feb as i64)
}

/// Go's `dateToAbsDays(year, month, day)` (day may be out of range).
fn date_to_abs_days(year: i64, month: u64, day: i64) -> u64 {
    let jan_feb = u64::from(month < 3);
    let amonth = month + 12 * jan_feb;
    let y = (year as u64).wrapping_sub(jan_feb).wrapping_add(ABSOLUTE_YEARS);
    let ayday = (979 * amonth - 2919) >> 5;
    let century = y / 100;
    let cyear = y % 100;
    let cday = 1461 * cyear / 4;
    let century_days = 146_097u64.wrapping_mul(century) / 4;
    century_days.wrapping_add(((cday + ayday) as i64).wrapping_add(day).wrapping_sub(1) as u64)
}

/// Day of month (1-based) of absolute days.
fn day_of(days: u64) -> u64 {
    let (_, _, ayday) = split(days);
    split_yday(ayday).1
}

/// Computes every date field for a sample value `v` (Unix seconds) exactly
/// like Prometheus' `dateWrapper` (see the module docs for NaN/Inf/negative
/// handling). Never panics.
pub fn date_parts(v: f64) -> DateParts {
    let sec = go_f64_to_i64(v);
    let abs = sec.wrapping_add(UNIX_TO_ABSOLUTE) as u64;
    let days = abs / SECONDS_PER_DAY;
    let (century, cyear, ayday) = split(days);
    let (amonth, day) = split_yday(ayday);
    let jan_feb = u64::from(ayday >= MARCH_THRU_DECEMBER);
    let month = amonth - jan_feb * 12;
    let year = year_of(century, cyear, jan_feb);
    let leap = u64::from(cyear % 4 == 0 && (cyear != 0 || century % 4 == 0));
    let yday = ayday as i64 + (1 + 31 + 28) + (leap & !jan_feb & 1) as i64 - 365 * jan_feb as i64;
    let weekday = (days.wrapping_add(3)) % 7; // the absolute epoch is a Wednesday
    let hour = (abs % SECONDS_PER_DAY) / SECONDS_PER_HOUR;
    let minute = (abs % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE;
    // days_in_month: 32 - time.Date(year, month, 32, 0, 0, 0, 0, UTC).Day().
    let d32 = date_to_abs_days(year, month, 32);
    let unix = (d32 as i64).wrapping_mul(SECONDS_PER_DAY as i64).wrapping_sub(UNIX_TO_ABSOLUTE);
    let abs32 = unix.wrapping_add(UNIX_TO_ABSOLUTE) as u64;
    let dim = 32 - day_of(abs32 / SECONDS_PER_DAY) as i64;
    DateParts {
        year: year as f64,
        month: month as f64,
        day_of_month: day as f64,
        day_of_year: yday as f64,
        day_of_week: weekday as f64,
        hour: hour as f64,
        minute: minute as f64,
        days_in_month: dim as f64,
    }
}

/// `year(v)`.
pub fn year(v: f64) -> f64 {
    date_parts(v).year
}
/// `month(v)`: 1–12.
pub fn month(v: f64) -> f64 {
    date_parts(v).month
}
/// `day_of_month(v)`: 1–31.
pub fn day_of_month(v: f64) -> f64 {
    date_parts(v).day_of_month
}
/// `day_of_year(v)`: 1–366.
pub fn day_of_year(v: f64) -> f64 {
    date_parts(v).day_of_year
}
/// `day_of_week(v)`: 0 (Sunday) – 6 (Saturday).
pub fn day_of_week(v: f64) -> f64 {
    date_parts(v).day_of_week
}
/// `days_in_month(v)`: 28–31.
pub fn days_in_month(v: f64) -> f64 {
    date_parts(v).days_in_month
}
/// `hour(v)`: 0–23.
pub fn hour(v: f64) -> f64 {
    date_parts(v).hour
}
/// `minute(v)`: 0–59.
pub fn minute(v: f64) -> f64 {
    date_parts(v).minute
}

/// The date functions by PromQL name (`year month day_of_month day_of_year
/// day_of_week days_in_month hour minute`), `None` otherwise.
pub fn date_function(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "year" => year,
        "month" => month,
        "day_of_month" => day_of_month,
        "day_of_year" => day_of_year,
        "day_of_week" => day_of_week,
        "days_in_month" => days_in_month,
        "hour" => hour,
        "minute" => minute,
        _ => return None,
    };
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_test_dates() {
        // `year()` etc. at 0m -> epoch.
        let e = date_parts(eval_time_seconds(0));
        assert_eq!(
            (e.year, e.month, e.day_of_month, e.day_of_year, e.day_of_week, e.hour, e.minute),
            (1970.0, 1.0, 1.0, 1.0, 4.0, 0.0, 0.0)
        );
        // 1136239445 = 2006-01-02T22:04:05Z (Monday).
        let p = date_parts(1136239445.0);
        assert_eq!(
            (p.year, p.month, p.day_of_month, p.day_of_year, p.day_of_week, p.hour, p.minute),
            (2006.0, 1.0, 2.0, 2.0, 1.0, 22.0, 4.0)
        );
        assert_eq!(year(1230767999.0), 2008.0);
        assert_eq!(year(1230768000.0), 2009.0);
        assert_eq!(month(1456790399.0) + day_of_month(1456790399.0) / 100.0, 2.29);
        assert_eq!(month(1456790400.0) + day_of_month(1456790400.0) / 100.0, 3.01);
        assert_eq!(day_of_year(1483191420.0), 366.0);
        assert_eq!(day_of_year(1672493820.0), 365.0);
        assert_eq!(days_in_month(1454284800.0), 29.0);
        assert_eq!(days_in_month(1485907200.0), 28.0);
    }

    #[test]
    fn negative_and_fractional_times() {
        let p = date_parts(-1.0); // 1969-12-31T23:59:59, Wednesday
        assert_eq!(
            (p.year, p.month, p.day_of_month, p.day_of_year, p.day_of_week, p.hour, p.minute, p.days_in_month),
            (1969.0, 12.0, 31.0, 365.0, 3.0, 23.0, 59.0, 31.0)
        );
        // Truncation towards zero: -0.5 s is the epoch itself.
        assert_eq!(year(-0.5), 1970.0);
        assert_eq!(hour(-0.5), 0.0);
        assert_eq!(minute(59.9), 0.0);
        // 1900-02-28 (not a leap year) and 2000-02-29 (leap year).
        let p = date_parts(-2203977600.0); // 1900-02-28T00:00:00Z
        assert_eq!((p.year, p.month, p.day_of_month, p.days_in_month, p.day_of_week), (1900.0, 2.0, 28.0, 28.0, 3.0));
        let p = date_parts(951782400.0); // 2000-02-29T00:00:00Z
        assert_eq!((p.year, p.month, p.day_of_month, p.days_in_month, p.day_of_year), (2000.0, 2.0, 29.0, 29.0, 60.0));
        // Year 1 and year 0 (proleptic Gregorian): 0000-03-01 is a Wednesday.
        let p = date_parts(-62162035200.0);
        assert_eq!((p.year, p.month, p.day_of_month, p.day_of_week), (0.0, 3.0, 1.0, 3.0));
        // Far future: 9999-12-31T23:59:59Z.
        let p = date_parts(253402300799.0);
        assert_eq!(
            (p.year, p.month, p.day_of_month, p.hour, p.minute, p.day_of_year),
            (9999.0, 12.0, 31.0, 23.0, 59.0, 365.0)
        );
    }

    #[test]
    fn every_day_matches_civil_algorithm() {
        // Cross-check against the RFC 3339 parser's days-from-civil for 1600..2400.
        use crate::params::days_from_civil;
        let mut days = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2400, 1, 1);
        let (mut y, mut m, mut d) = (1600i64, 1i64, 1i64);
        let mut doy = 1;
        while days < end {
            let p = date_parts((days * 86400 + 3723) as f64);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(m - 1) as usize];
            assert_eq!(
                (p.year, p.month, p.day_of_month, p.day_of_year, p.days_in_month, p.hour, p.minute),
                (y as f64, m as f64, d as f64, doy as f64, dim as f64, 1.0, 2.0)
            );
            assert_eq!(p.day_of_week, (days + 4).rem_euclid(7) as f64);
            days += 1;
            d += 1;
            doy += 1;
            if d > dim {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                    doy = 1;
                }
            }
        }
    }

    #[test]
    fn nan_inf_do_not_panic() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300, f64::MAX, f64::MIN] {
            let p = date_parts(v);
            assert!(p.month >= 1.0 && p.month <= 12.0);
            assert!(p.day_of_month >= 1.0 && p.day_of_month <= 31.0);
            assert!(p.hour < 24.0 && p.minute < 60.0 && p.day_of_week < 7.0);
        }
        // All of them collapse onto the same Go int64 (amd64 semantics).
        assert_eq!(date_parts(f64::NAN), date_parts(f64::INFINITY));
        assert_eq!(go_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(go_f64_to_i64(-1.9), -1);
        assert!(date_function("year").is_some() && date_function("time").is_none());
    }
}

// Pharos — query/src/promql/math/date.rs
