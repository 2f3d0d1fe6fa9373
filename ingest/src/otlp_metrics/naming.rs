//! Prometheus names for OTLP metrics, units and attribute keys, under the default translation
//! strategy `UnderscoreEscapingWithSuffixes` (rules: `/work/shared/specs/otlp.md` §4).
//!
//! - Metric names are split into tokens on every character outside `[a-zA-Z0-9:]`; the unit adds
//!   a suffix token unless the name already has it; monotonic sums end in `total`, gauges with unit
//!   `1` in `ratio`; the tokens are joined with `_`, and a leading digit gets a `_` prefix.
//! - Units: `a/b` becomes `<a>_per_<b>` through two lookup tables; a unit part holding a `{…}`
//!   annotation contributes nothing (so `{request}` adds no suffix, `{packet}/s` adds `per_second`);
//!   unknown units pass through sanitised.
//! - Label names: characters outside `[a-zA-Z0-9_]` become `_`, a leading digit gets `key_`, a single
//!   leading `_` gets `key` (a leading `__` is kept).

/// What a metric is, as far as its name is concerned (`_total` and `_ratio` depend on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NamedKind {
    Gauge,
    MonotonicCounter,
    NonMonotonicCounter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

/// The Prometheus suffix of an OTLP (UCUM) main unit.
fn main_unit_suffix(unit: &str) -> Option<&'static str> {
    Some(match unit {
        // Time
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        // Bytes ("tibibytes" is Prometheus' spelling, kept for name compatibility)
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        // SI
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        // Misc
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        _ => return None,
    })
}

/// The Prometheus word for the denominator of a `a/b` unit (singular: "per second").
fn per_unit_suffix(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// True for the characters a classic metric name keeps (`_` is the separator, not a token char).
fn is_metric_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// The main and `per_…` suffixes of a unit, before sanitising: `By/s` → (`bytes`, `per_second`).
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main_part = parts.next().unwrap_or("").trim();
    let main = if !main_part.is_empty() && !main_part.contains(['{', '}']) {
        main_unit_suffix(main_part).unwrap_or(main_part).to_owned()
    } else {
        String::new()
    };
    let per = match parts.next() {
        Some(per_part) if !per_part.is_empty() => {
            let per_part = per_part.trim();
            let word = if !per_part.is_empty() && !per_part.contains(['{', '}']) {
                per_unit_suffix(per_part).unwrap_or(per_part)
            } else {
                ""
            };
            if word.is_empty() { String::new() } else { format!("per_{word}") }
        }
        _ => String::new(),
    };
    (main, per)
}

/// Invalid characters become `_`, runs of `_` collapse to one, and one leading `_` is dropped.
fn clean_up_unit(unit: &str) -> String {
    let mut cleaned = String::with_capacity(unit.len());
    for c in unit.chars() {
        let c = if is_metric_token_char(c) { c } else { '_' };
        if c == '_' && cleaned.ends_with('_') {
            continue;
        }
        cleaned.push(c);
    }
    match cleaned.strip_prefix('_') {
        Some(rest) => rest.to_owned(),
        None => cleaned,
    }
}

/// Append the unit tokens unless the name already carries them as a token.
fn add_unit_tokens(tokens: &mut Vec<String>, main: String, per: String) {
    let mut main = main;
    let mut per = per;
    if tokens.contains(&main) {
        main.clear();
    }
    if per == "per_" {
        per.clear();
    } else {
        if let Some(trimmed) = per.strip_suffix('_') {
            per = trimmed.to_owned();
        }
        if tokens.contains(&per) {
            per.clear();
        }
    }
    if !per.is_empty()
        && let Some(trimmed) = main.strip_suffix('_')
    {
        main = trimmed.to_owned();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
}

/// The Prometheus metric family name of an OTLP metric (without `_bucket`/`_sum`/`_count`).
/// Fails when nothing usable is left of the name.
pub(super) fn metric_family_name(name: &str, unit: &str, kind: NamedKind) -> Result<String, String> {
    let mut tokens: Vec<String> =
        name.split(|c: char| !is_metric_token_char(c)).filter(|token| !token.is_empty()).map(str::to_owned).collect();
    let (main, per) = unit_suffixes(unit);
    add_unit_tokens(&mut tokens, clean_up_unit(&main), clean_up_unit(&per));
    if kind == NamedKind::MonotonicCounter {
        tokens.retain(|token| token != "total");
        tokens.push("total".to_owned());
    }
    if unit == "1" && kind == NamedKind::Gauge {
        tokens.retain(|token| token != "ratio");
        tokens.push("ratio".to_owned());
    }
    let mut normalized = tokens.join("_");
    if normalized.starts_with(|c: char| c.is_ascii_digit()) {
        normalized.insert(0, '_');
    }
    if normalized.is_empty() {
        return Err(format!("normalization for metric {name:?} resulted in empty name"));
    }
    if normalized != name && normalized.chars().all(|c| c == '_') {
        return Err(format!("normalization for metric {name:?} resulted in invalid name {normalized:?}"));
    }
    Ok(normalized)
}

/// The unit as the metadata API reports it: `s` → `seconds`, `By/s` → `bytes_per_second`,
/// `1` and `{request}` → empty.
pub(super) fn prometheus_unit(unit: &str) -> String {
    let (main, per) = unit_suffixes(unit);
    let (main, per) = (clean_up_unit(&main), clean_up_unit(&per));
    let joined = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    let joined = joined.strip_prefix('_').unwrap_or(&joined);
    joined.strip_suffix('_').unwrap_or(joined).to_owned()
}

/// The Prometheus label name of an attribute key. Fails for an empty key and for keys that
/// become nothing but underscores.
pub(super) fn label_name(key: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("label name is empty".to_owned());
    }
    let sanitized: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    let named = if sanitized.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{sanitized}")
    } else if sanitized.starts_with('_') && !sanitized.starts_with("__") {
        format!("key{sanitized}")
    } else {
        sanitized
    };
    if named != key && named.chars().all(|c| c == '_') {
        return Err(format!("normalization for label name {key:?} resulted in invalid name {named:?}"));
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::NamedKind::*;
    use super::*;

    fn name(metric: &str, unit: &str, kind: NamedKind) -> String {
        metric_family_name(metric, unit, kind).unwrap_or_else(|e| format!("ERROR: {e}"))
    }

    #[test]
    fn names_get_unit_and_type_suffixes() {
        assert_eq!(name("http.server.request.duration", "s", Histogram), "http_server_request_duration_seconds");
        assert_eq!(name("system.memory.usage", "By", NonMonotonicCounter), "system_memory_usage_bytes");
        assert_eq!(name("system.memory.usage", "By", Gauge), "system_memory_usage_bytes");
        assert_eq!(name("requests", "{request}", MonotonicCounter), "requests_total");
        assert_eq!(name("cpu.utilization", "1", Gauge), "cpu_utilization_ratio");
        assert_eq!(name("cpu.utilization", "1", NonMonotonicCounter), "cpu_utilization");
        assert_eq!(name("requests.count", "1", MonotonicCounter), "requests_count_total");
        assert_eq!(name("network.io", "By/s", Gauge), "network_io_bytes_per_second");
        assert_eq!(name("packets", "{packet}/s", Gauge), "packets_per_second");
        assert_eq!(name("distance", "m/h", Gauge), "distance_meters_per_hour");
        assert_eq!(name("queue.size", "{item}s/mo", Gauge), "queue_size_per_month");
        assert_eq!(name("temperature", "Cel", Gauge), "temperature_celsius");
        assert_eq!(name("load", "%", Gauge), "load_percent");
        assert_eq!(name("disk", "TiBy", Gauge), "disk_tibibytes");
        assert_eq!(name("odd", "furlongs", Gauge), "odd_furlongs");
        assert_eq!(name("odd", "foo.bar", Gauge), "odd_foo_bar");
        assert_eq!(name("throughput", "  By / s ", Gauge), "throughput_bytes_per_second");
    }

    #[test]
    fn suffix_tokens_are_not_duplicated() {
        assert_eq!(name("process.cpu.time.seconds", "s", MonotonicCounter), "process_cpu_time_seconds_total");
        assert_eq!(name("requests_total", "", MonotonicCounter), "requests_total");
        assert_eq!(name("total.requests", "", MonotonicCounter), "requests_total");
        assert_eq!(name("hit.ratio", "1", Gauge), "hit_ratio");
        assert_eq!(name("bytes.per_second.rate", "By/s", Gauge), "bytes_per_second_rate_per_second");
        assert_eq!(name("rate.per.second", "By/s", Gauge), "rate_per_second_bytes_per_second");
        assert_eq!(name("io.bytes", "By/s", Gauge), "io_bytes_per_second");
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(name("  weird..name--x__y ", "", Gauge), "weird_name_x_y");
        assert_eq!(name("2xx.responses", "", MonotonicCounter), "_2xx_responses_total");
        assert_eq!(name("ns:sub.metric", "", Gauge), "ns:sub_metric");
        assert_eq!(name("temp°C", "", Gauge), "temp_C");
        assert!(metric_family_name("", "", Gauge).is_err());
        assert!(metric_family_name("...", "", Gauge).is_err());
        assert_eq!(name("...", "s", Gauge), "seconds");
    }

    #[test]
    fn units_for_metadata() {
        assert_eq!(prometheus_unit("s"), "seconds");
        assert_eq!(prometheus_unit("By/s"), "bytes_per_second");
        assert_eq!(prometheus_unit("{request}/s"), "per_second");
        assert_eq!(prometheus_unit("1"), "");
        assert_eq!(prometheus_unit("{request}"), "");
        assert_eq!(prometheus_unit(""), "");
    }

    #[test]
    fn label_names_are_sanitised() {
        assert_eq!(label_name("http.method").as_deref(), Ok("http_method"));
        assert_eq!(label_name("123invalid").as_deref(), Ok("key_123invalid"));
        assert_eq!(label_name("_private").as_deref(), Ok("key_private"));
        assert_eq!(label_name("__reserved__").as_deref(), Ok("__reserved__"));
        assert_eq!(label_name("héllo wörld").as_deref(), Ok("h_llo_w_rld"));
        assert_eq!(label_name(".").as_deref(), Ok("key_"));
        assert!(label_name("").is_err());
        assert!(label_name("..").is_err(), "becomes `__`, only underscores");
        assert_eq!(label_name("__").as_deref(), Ok("__"), "unchanged names are kept");
    }
}

// Pharos — ingest/src/otlp_metrics/naming.rs
