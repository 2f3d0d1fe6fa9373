//! Float formatting as Prometheus prints numbers (Go's `strconv`).

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest decimal that round-trips, never an
/// exponent; `NaN`, `+Inf`, `-Inf`. Used for label values (`count_values`) and messages.
pub fn format_go_float(v: f64) -> String {
    let mut out = String::new();
    write_go_float(&mut out, v, false);
    out
}

/// Sample values in API responses: `'f'` form, switching to an exponent (Go's `'e'`, at least
/// two exponent digits: `1e-07`, `1.5e+21`) below 1e-6 and from 1e21.
pub fn format_api_float(v: f64) -> String {
    let mut out = String::new();
    write_api_float(&mut out, v);
    out
}

/// [`format_api_float`] appended to `out`.
pub fn write_api_float(out: &mut String, v: f64) {
    let a = v.abs();
    write_go_float(out, v, a != 0.0 && !(1e-6..1e21).contains(&a));
}

/// Append the decimal digits of `n` (without `fmt` machinery).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

/// Go's shortest formatting of `v` in `'f'` or `'e'` form. The digits are ryu's: the shortest
/// that round-trip, ties to even — what Go's `strconv` prints (Rust's `{}` rounds such ties
/// differently, e.g. 82946228525205.125 → `…205.13` where Go prints `…205.12`).
fn write_go_float(out: &mut String, v: f64, exponent: bool) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    if !exponent && v.fract() == 0.0 && v.abs() < 1e15 {
        push_u64(out, v.abs() as u64);
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(v.abs());
    if !exponent && !text.as_bytes().contains(&b'e') {
        // ryu's plain form is Go's 'f' form, but for a trailing ".0".
        out.push_str(text.strip_suffix(".0").unwrap_or(text));
        return;
    }
    // ryu prints `d.ddd`, `ddd.0` or `d.ddde±x`: collect the significant digits and the
    // position of the decimal point relative to them.
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let mut point = int_part.len() as i32 + exp;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    point -= leading as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let digits = std::str::from_utf8(&digits).unwrap_or("0");
    if exponent {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = point - 1;
        let _ = std::fmt::Write::write_fmt(out, format_args!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
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

    #[test]
    fn ties_round_as_go_does() {
        // Printed by Debian's Prometheus 2.42 (Go's strconv) for these exact doubles.
        assert_eq!(format_api_float(82946228525205.125), "82946228525205.12");
        assert_eq!(format_api_float(1658206780088562.25), "1658206780088562.2");
        assert_eq!(format_go_float(0.000001), "0.000001");
        assert_eq!(format_go_float(1e21), "1000000000000000000000");
        assert_eq!(format_go_float(123456789.125), "123456789.125");
        assert_eq!(format_api_float(-0.0), "-0");
    }

    #[test]
    fn every_value_round_trips() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            for v in [f64::from_bits(state), unit * 10f64.powi((state % 40) as i32 - 15)] {
                if v.is_finite() {
                    assert_eq!(format_api_float(v).parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v:e}");
                    assert_eq!(format_go_float(v).parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v:e}");
                }
            }
        }
    }
}

// Pharos — query/src/promql/number.rs
