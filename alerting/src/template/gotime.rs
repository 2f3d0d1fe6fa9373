//! Go's text of times and durations: `time.Time.String`, `time.Time.Format` layouts
//! (reference time "Mon Jan 2 15:04:05 MST 2006") and `time.Duration.String`. All times are UTC.

use pharos_proto::civil_time::civil_from_days;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Go's default text of a time: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub fn time_string(nanos: i64) -> String {
    format_layout(nanos, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// The broken-down UTC time of nanoseconds since the epoch.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    yday: i64,
    weekday: usize,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
}

/// Go's zero `time.Time` (0001-01-01 00:00:00 UTC), which nanoseconds since 1970 cannot reach:
/// represented by `i64::MIN`.
pub const GO_ZERO_TIME: i64 = i64::MIN;

/// Whole seconds since the epoch of a time (Go's `Unix()`), the zero time included.
pub fn unix_seconds(nanos: i64) -> i64 {
    if nanos == GO_ZERO_TIME { -62_135_596_800 } else { nanos.div_euclid(1_000_000_000) }
}

fn civil(nanos: i64) -> Civil {
    let secs = unix_seconds(nanos);
    let nanos = if nanos == GO_ZERO_TIME { 0 } else { nanos };
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let jan1 = pharos_proto::civil_time::days_from_civil(year, 1, 1);
    Civil {
        year,
        month,
        day,
        yday: days - jan1 + 1,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as usize,
        hour: tod / 3600,
        minute: tod / 60 % 60,
        second: tod % 60,
        nanos: nanos.rem_euclid(1_000_000_000),
    }
}

/// Go's `time.Time.Format(layout)` in UTC. Layout elements Go recognises are replaced; everything
/// else is copied.
pub fn format_layout(nanos: i64, layout: &str) -> String {
    let c = civil(nanos);
    let bytes = layout.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let at = |i: usize, s: &str| layout[i..].starts_with(s);
    while i < bytes.len() {
        let rest = &layout[i..];
        let (text, len): (String, usize) = if at(i, "January") {
            (MONTHS[(c.month - 1) as usize].into(), 7)
        } else if at(i, "Jan") {
            (MONTHS[(c.month - 1) as usize][..3].into(), 3)
        } else if at(i, "Monday") {
            (DAYS[c.weekday].into(), 6)
        } else if at(i, "Mon") {
            (DAYS[c.weekday][..3].into(), 3)
        } else if at(i, "MST") {
            ("UTC".into(), 3)
        } else if at(i, "2006") {
            (format!("{:04}", c.year), 4)
        } else if at(i, "002") {
            (format!("{:03}", c.yday), 3)
        } else if at(i, "01") {
            (format!("{:02}", c.month), 2)
        } else if at(i, "02") {
            (format!("{:02}", c.day), 2)
        } else if at(i, "03") {
            (format!("{:02}", hour12(c.hour)), 2)
        } else if at(i, "04") {
            (format!("{:02}", c.minute), 2)
        } else if at(i, "05") {
            (format!("{:02}", c.second), 2)
        } else if at(i, "06") {
            (format!("{:02}", c.year.rem_euclid(100)), 2)
        } else if at(i, "15") {
            (format!("{:02}", c.hour), 2)
        } else if at(i, "__2") {
            (format!("{:>3}", c.yday), 3)
        } else if at(i, "_2") && !at(i, "_2006") {
            (format!("{:>2}", c.day), 2)
        } else if at(i, "1") {
            (c.month.to_string(), 1)
        } else if at(i, "2") {
            (c.day.to_string(), 1)
        } else if at(i, "3") {
            (hour12(c.hour).to_string(), 1)
        } else if at(i, "4") {
            (c.minute.to_string(), 1)
        } else if at(i, "5") {
            (c.second.to_string(), 1)
        } else if at(i, "PM") {
            ((if c.hour >= 12 { "PM" } else { "AM" }).into(), 2)
        } else if at(i, "pm") {
            ((if c.hour >= 12 { "pm" } else { "am" }).into(), 2)
        } else if let Some(len) =
            ["-07:00:00", "-070000", "-07:00", "-0700", "-07"].iter().find(|z| at(i, z)).map(|z| z.len())
        {
            let text = match len {
                9 => "+00:00:00",
                7 => "+000000",
                6 => "+00:00",
                5 => "+0000",
                _ => "+00",
            };
            (text.into(), len)
        } else if let Some(z) = ["Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07"].iter().find(|z| at(i, z)) {
            ("Z".into(), z.len())
        } else if let Some((text, len)) = fraction(rest, c.nanos) {
            (text, len)
        } else {
            let ch = rest.chars().next().unwrap_or(' ');
            (ch.to_string(), ch.len_utf8())
        };
        out.push_str(&text);
        i += len;
    }
    out
}

fn hour12(hour: i64) -> i64 {
    match hour % 12 {
        0 => 12,
        h => h,
    }
}

/// A fractional-second element at the start of `rest` (`.000`, `,999`…, not followed by a digit):
/// its text and layout length. `0`s keep trailing zeros; `9`s trim them (and the point when none remain).
fn fraction(rest: &str, nanos: i64) -> Option<(String, usize)> {
    let bytes = rest.as_bytes();
    if bytes.len() < 2 || !(bytes[0] == b'.' || bytes[0] == b',') || !(bytes[1] == b'0' || bytes[1] == b'9') {
        return None;
    }
    let digit = bytes[1];
    let mut j = 1;
    while j < bytes.len() && bytes[j] == digit {
        j += 1;
    }
    if j < bytes.len() && bytes[j].is_ascii_digit() {
        return None;
    }
    let count = (j - 1).min(9);
    let all = format!("{nanos:09}");
    let mut digits = all[..count].to_string();
    if digit == b'9' {
        while digits.ends_with('0') {
            digits.pop();
        }
        if digits.is_empty() {
            return Some((String::new(), j));
        }
    }
    Some((format!("{}{digits}", bytes[0] as char), j))
}

/// Go's `time.Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let with_fraction = |whole: u64, frac: u64, width: usize| {
        if frac == 0 {
            whole.to_string()
        } else {
            let f = format!("{frac:0width$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", with_fraction(u / 1_000, u % 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", with_fraction(u / 1_000_000, u % 1_000_000, 6));
    }
    let secs = u / 1_000_000_000;
    let seconds = format!("{}s", with_fraction(secs % 60, u % 1_000_000_000, 9));
    let hours = secs / 3600;
    let minutes = secs / 60 % 60;
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}")
    } else {
        format!("{sign}{seconds}")
    }
}

// Pharos — alerting/src/template/gotime.rs
