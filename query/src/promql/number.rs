//! Float formatting as Prometheus prints numbers (Go's `strconv`).

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest decimal that round-trips, never an
/// exponent; `NaN`, `+Inf`, `-Inf`. Used for label values (`count_values`) and messages.
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() }
    } else {
        format!("{v}")
    }
}

/// Sample values in API responses: `'f'` form, switching to an exponent (Go's `'e'`, at least
/// two exponent digits: `1e-07`, `1.5e+21`) below 1e-6 and from 1e21.
pub fn format_api_float(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let digits = if digits.len() < 2 { format!("0{digits}") } else { digits.to_string() };
        format!("{mantissa}e{sign}{digits}")
    } else {
        format_go_float(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_floats_match_prometheus() {
        assert_eq!(format_api_float(2.0), "2");
        assert_eq!(format_api_float(0.1), "0.1");
        assert_eq!(format_api_float(1e-7), "1e-07");
        assert_eq!(format_api_float(1.5e21), "1.5e+21");
        assert_eq!(format_api_float(-2.5e-10), "-2.5e-10");
        assert_eq!(format_api_float(1e20), "100000000000000000000");
        assert_eq!(format_api_float(f64::NAN), "NaN");
        assert_eq!(format_api_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_api_float(0.0), "0");
    }
}

// Pharos — query/src/promql/number.rs
