//! Named time intervals (`time_intervals:` and the older `mute_time_intervals:`), which routes use
//! to mute notifications or to send them only at certain times, as Alertmanager's
//! `timeinterval` package reads and evaluates them.
//!
//! Every part is optional; an interval contains a time when every part that is given contains it
//! (a part is a list of ranges, any one of which suffices). Ranges are inclusive except `times`,
//! whose end minute is exclusive. Evaluation happens in the interval's `location` (UTC by
//! default; `Local` is the host's zone; other names come from the system's tz database, through
//! the `jiff` crate).

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::file::{RawTimeInterval, RawTimeRange, Scalar};

/// One time interval: the parts of a time that must all match.
#[derive(Clone, Debug)]
pub struct TimeInterval {
    /// Minute-of-day ranges `[start, end)`, 0..=1440.
    pub times: Option<Vec<(u32, u32)>>,
    /// Inclusive weekday ranges, 0 = Sunday … 6 = Saturday.
    pub weekdays: Option<Vec<(i32, i32)>>,
    /// Inclusive day-of-month ranges; negative days count from the end of the month (-1 = last).
    pub days_of_month: Option<Vec<(i32, i32)>>,
    /// Inclusive month ranges, 1 = January.
    pub months: Option<Vec<(i32, i32)>>,
    /// Inclusive year ranges.
    pub years: Option<Vec<(i32, i32)>>,
    /// The zone name as written (`UTC` when absent).
    pub location: String,
    zone: TimeZone,
}

impl PartialEq for TimeInterval {
    fn eq(&self, other: &Self) -> bool {
        (&self.times, &self.weekdays, &self.days_of_month, &self.months, &self.years, &self.location)
            == (&other.times, &other.weekdays, &other.days_of_month, &other.months, &other.years, &other.location)
    }
}

impl TimeInterval {
    /// Whether the instant `t_nanos` (ns since the epoch) lies in the interval.
    pub fn contains(&self, t_nanos: i64) -> bool {
        let Ok(instant) = Timestamp::from_nanosecond(i128::from(t_nanos)) else { return false };
        let local: Zoned = instant.to_zoned(self.zone.clone());
        let in_any = |ranges: &Option<Vec<(i32, i32)>>, value: i32| {
            ranges.as_ref().is_none_or(|ranges| ranges.iter().any(|&(begin, end)| begin <= value && value <= end))
        };
        if let Some(times) = &self.times {
            let minute = local.hour() as u32 * 60 + local.minute() as u32;
            if !times.iter().any(|&(start, end)| start <= minute && minute < end) {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let month_days = i32::from(local.days_in_month());
            let day = i32::from(local.day());
            let from_end = |d: i32| if d < 0 { month_days + d + 1 } else { d };
            let hit = days.iter().any(|&(begin, end)| {
                let (begin, end) = (from_end(begin), from_end(end));
                begin <= month_days
                    && day >= begin.clamp(-month_days, month_days)
                    && day <= end.clamp(-month_days, month_days)
            });
            if !hit {
                return false;
            }
        }
        in_any(&self.months, i32::from(local.month()))
            && in_any(&self.weekdays, i32::from(local.weekday().to_sunday_zero_offset()))
            && in_any(&self.years, i32::from(local.year()))
    }

    /// Validate and convert one interval as written.
    pub(super) fn from_raw(raw: &RawTimeInterval) -> Result<TimeInterval, String> {
        let ranges = |list: &Option<Vec<Scalar>>, parse: fn(&str) -> Result<(i32, i32), String>| {
            list.as_ref().map(|items| items.iter().map(|s| parse(&s.0)).collect::<Result<Vec<_>, _>>()).transpose()
        };
        let times = raw.times.as_ref().map(|t| t.iter().map(time_range).collect::<Result<Vec<_>, _>>()).transpose()?;
        let location = raw.location.as_ref().map_or("UTC", |s| s.0.as_str()).to_string();
        let zone = match location.as_str() {
            "" | "UTC" => TimeZone::UTC,
            "Local" => TimeZone::try_system().unwrap_or(TimeZone::UTC),
            name => TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))?,
        };
        Ok(TimeInterval {
            times,
            weekdays: ranges(&raw.weekdays, weekday_range)?,
            days_of_month: ranges(&raw.days_of_month, day_of_month_range)?,
            months: ranges(&raw.months, month_range)?,
            years: ranges(&raw.years, year_range)?,
            location,
            zone,
        })
    }
}

/// `HH:MM` (00:00–23:59, or 24:00) to minutes of the day.
fn minute_of_day(text: &str) -> Result<u32, String> {
    let invalid = || format!("couldn't parse timestamp {text}, invalid format");
    let (h, m) = text.split_once(':').ok_or_else(invalid)?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| invalid())?, m.parse().map_err(|_| invalid())?);
    if (h < 24 && m < 60) || (h == 24 && m == 0) { Ok(h * 60 + m) } else { Err(invalid()) }
}

fn time_range(raw: &RawTimeRange) -> Result<(u32, u32), String> {
    let (start, end) = (raw.start_time.as_ref().map_or("", |s| &s.0), raw.end_time.as_ref().map_or("", |s| &s.0));
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".into());
    }
    let (start, end) = (minute_of_day(start)?, minute_of_day(end)?);
    if start >= end {
        return Err("start time cannot be equal or greater than end time".into());
    }
    Ok((start, end))
}

/// `a` or `a:b` (case-insensitive), each member mapped by `member`.
fn range_of(text: &str, member: impl Fn(&str) -> Result<i32, String>) -> Result<(i32, i32), String> {
    let lower = text.to_lowercase();
    if lower.contains(':') {
        let parts: Vec<&str> = lower.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {lower}, invalid format"));
        }
        return Ok((member(parts[0])?, member(parts[1])?));
    }
    let value = member(&lower)?;
    Ok((value, value))
}

fn integer(text: &str) -> Result<i32, String> {
    text.parse().map_err(|_| format!("strconv.Atoi: parsing {text:?}: invalid syntax"))
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn weekday_range(text: &str) -> Result<(i32, i32), String> {
    let (begin, end) = range_of(text, |day| {
        WEEKDAYS.iter().position(|d| *d == day).map(|i| i as i32).ok_or_else(|| format!("{day} is not a valid weekday"))
    })?;
    if begin > end {
        return Err("start day cannot be before end day".into());
    }
    Ok((begin, end))
}

fn day_of_month_range(text: &str) -> Result<(i32, i32), String> {
    let (begin, end) = range_of(text, integer)?;
    for day in [begin, end] {
        if day == 0 || !(-31..=31).contains(&day) {
            return Err(format!("{day} is not a valid day of the month: out of range"));
        }
    }
    if begin < 0 && end > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    // With negative days the order depends on the month; check against the shortest (28 days).
    let shortest = |d: i32| if d < 0 { 28 + d } else { d };
    if shortest(begin) > shortest(end) {
        return Err(format!("end day {end} is always before start day {begin}"));
    }
    Ok((begin, end))
}

fn month_range(text: &str) -> Result<(i32, i32), String> {
    let (begin, end) = range_of(text, |month| match MONTHS.iter().position(|m| *m == month) {
        Some(i) => Ok(i as i32 + 1),
        None => month.parse().map_err(|_| format!("{month} is not a valid month")),
    })?;
    if begin > end {
        let name = |m: i32| usize::try_from(m - 1).ok().and_then(|i| MONTHS.get(i)).copied().unwrap_or("");
        return Err(format!("end month {} is before start month {}", name(end), name(begin)));
    }
    Ok((begin, end))
}

fn year_range(text: &str) -> Result<(i32, i32), String> {
    let (begin, end) = range_of(text, integer)?;
    if begin > end {
        return Err(format!("end year {end} is before start year {begin}"));
    }
    Ok((begin, end))
}

// Pharos — alerting/src/notifier/config/time_interval.rs
