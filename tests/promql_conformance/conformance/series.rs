//! Series descriptions: the `labels values…` lines of `load` blocks and of
//! expected results (FORMAT.md §2, §5.2), plus the small lexical helpers they
//! need (Go string unquoting, Go number literals, float formatting).
//!
//! This is a dedicated little parser for the series-description grammar only;
//! it does not implement PromQL.

use std::fmt::Write as _;

/// A label set: `(name, value)` pairs sorted by name (byte order), with the
/// metric name stored under `__name__`.
pub type Labels = Vec<(String, String)>;

/// The label name that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Bit pattern of Prometheus' staleness marker (a signalling-style NaN).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Largest repetition count accepted in `xN` (guards against absurd
/// allocations on bad input; the suite's largest is `x10000`).
pub const MAX_REPEAT: u64 = 10_000_000;

/// The staleness marker as an `f64`.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is exactly the staleness marker bit pattern.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One expanded item of a value sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// A float sample (possibly NaN, ±Inf or the StaleNaN marker).
    Float(f64),
    /// `_`: no sample at this index.
    Omitted,
    /// A native histogram literal, kept as its raw `{{…}}` text.
    Histogram(String),
}

impl SeqValue {
    /// Whether this is a native histogram item.
    pub fn is_histogram(&self) -> bool {
        matches!(self, SeqValue::Histogram(_))
    }
}

/// Parses a full series description: a label set in selector notation
/// followed by whitespace-separated value items.
///
/// Accepted label-set forms: `name`, `name{l="v",…}`, `{__name__="name",…}`,
/// `{l="v"}`, `{}`, and quoted UTF-8 names (`{"my.metric", "a.b"="c"}`).
/// Only `=` matchers are allowed; a trailing comma is accepted.
pub fn parse_series_desc(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let mut c = Cursor::new(line.trim());
    let labels = parse_metric(&mut c)?;
    let values = parse_values(&mut c)?;
    Ok((labels, values))
}

/// Parses just the label-set part at the start of `c` (metric identifier
/// and/or `{…}`), returning the sorted labels.
fn parse_metric(c: &mut Cursor<'_>) -> Result<Labels, String> {
    let mut name: Option<String> = None;
    let mut labels: Labels = Vec::new();
    let mut seen_any = false;

    if c.peek()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
    {
        let start = c.pos;
        while c
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        {
            c.pos += 1;
        }
        name = Some(c.s[start..c.pos].to_string());
        seen_any = true;
    }
    if c.peek() == Some(b'{') {
        c.pos += 1;
        seen_any = true;
        parse_label_set_body(c, &mut name, &mut labels)?;
    }
    if !seen_any {
        return Err(format!(
            "expected a metric name or label set at {:?}",
            c.rest()
        ));
    }
    if let Some(n) = name {
        labels.push((METRIC_NAME.to_string(), n));
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    for w in labels.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(format!(
                "duplicate label name {:?} in series description",
                w[0].0
            ));
        }
    }
    Ok(labels)
}

/// Parses the inside of `{…}` (the opening brace already consumed).
fn parse_label_set_body(
    c: &mut Cursor<'_>,
    name: &mut Option<String>,
    labels: &mut Labels,
) -> Result<(), String> {
    c.skip_ws();
    if c.peek() == Some(b'}') {
        c.pos += 1;
        return Ok(());
    }
    loop {
        c.skip_ws();
        let label_name = match c.peek() {
            Some(b'"' | b'\'' | b'`') => {
                let s = parse_quoted(c)?;
                c.skip_ws();
                if c.peek() != Some(b'=') {
                    // A bare quoted string is the metric name.
                    if name.replace(s).is_some() {
                        return Err("metric name given twice in series description".into());
                    }
                    None
                } else {
                    Some(s)
                }
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let start = c.pos;
                while c
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    c.pos += 1;
                }
                Some(c.s[start..c.pos].to_string())
            }
            _ => return Err(format!("unexpected {:?} in label set", c.rest())),
        };
        if let Some(label_name) = label_name {
            c.skip_ws();
            if c.peek() != Some(b'=') {
                return Err(format!("expected '=' after label name {label_name:?}"));
            }
            c.pos += 1;
            if matches!(c.peek(), Some(b'~' | b'=')) {
                return Err("only '=' matchers are allowed in series descriptions".into());
            }
            c.skip_ws();
            if !matches!(c.peek(), Some(b'"' | b'\'' | b'`')) {
                return Err(format!("expected quoted label value for {label_name:?}"));
            }
            let value = parse_quoted(c)?;
            if label_name == METRIC_NAME {
                if name.replace(value).is_some() {
                    return Err("metric name given twice in series description".into());
                }
            } else {
                labels.push((label_name, value));
            }
        } else if c.peek() == Some(b'!') {
            return Err("only '=' matchers are allowed in series descriptions".into());
        }
        c.skip_ws();
        match c.bump() {
            Some(b',') => {
                c.skip_ws();
                if c.peek() == Some(b'}') {
                    c.pos += 1;
                    return Ok(());
                }
            }
            Some(b'}') => return Ok(()),
            Some(_) => return Err("expected ',' or '}' in label set".into()),
            None => return Err("unterminated label set".into()),
        }
    }
}

/// Parses a quoted string (`"…"`, `'…'` or `` `…` ``) starting at the cursor,
/// with Go escape rules (single quotes may hold several characters, as in
/// Prometheus' lexer).
fn parse_quoted(c: &mut Cursor<'_>) -> Result<String, String> {
    let start = c.pos;
    let q = c.bump().ok_or("expected quoted string")?;
    loop {
        match c.bump() {
            None => return Err("unterminated quoted string".into()),
            Some(b'\\') if q != b'`' => {
                if c.bump().is_none() {
                    return Err("unterminated quoted string".into());
                }
            }
            Some(b'\n') if q != b'`' => return Err("newline in quoted string".into()),
            Some(b) if b == q => break,
            Some(_) => {}
        }
    }
    go_unquote(&c.s[start..c.pos], true)
}

/// Parses the value items after the label set. Every item must be preceded
/// by whitespace.
fn parse_values(c: &mut Cursor<'_>) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    loop {
        let had_ws = c.skip_ws();
        if c.eof() {
            return Ok(out);
        }
        if !had_ws {
            return Err(format!("expected whitespace before {:?}", c.rest()));
        }
        if c.rest().starts_with("{{") {
            parse_histogram_item(c, &mut out)?;
        } else {
            let start = c.pos;
            while c.peek().is_some_and(|b| !b.is_ascii_whitespace()) {
                c.pos += 1;
            }
            let tok = &c.s[start..c.pos];
            parse_float_item(tok, &mut out).map_err(|e| format!("invalid value {tok:?}: {e}"))?;
        }
        if out.len() as u64 > MAX_REPEAT {
            return Err("series description expands to too many values".into());
        }
    }
}

/// `{{H}}`, `{{H}}xN`, `{{H}}+{{D}}xN`, `{{H}}-{{D}}xN`.
fn parse_histogram_item(c: &mut Cursor<'_>, out: &mut Vec<SeqValue>) -> Result<(), String> {
    let first = take_histogram_literal(c)?;
    match c.peek() {
        None => {
            out.push(SeqValue::Histogram(first));
            return Ok(());
        }
        Some(b) if b.is_ascii_whitespace() => {
            out.push(SeqValue::Histogram(first));
            return Ok(());
        }
        Some(b'+' | b'-') => {
            c.pos += 1;
            if !c.rest().starts_with("{{") {
                return Err("expected histogram literal after '+'/'-'".into());
            }
            let _delta = take_histogram_literal(c)?;
            if c.bump() != Some(b'x') {
                return Err("expected 'x<count>' after histogram increment".into());
            }
        }
        Some(b'x') => c.pos += 1,
        Some(_) => return Err(format!("unexpected {:?} after histogram literal", c.rest())),
    }
    let start = c.pos;
    while c.peek().is_some_and(|b| !b.is_ascii_whitespace()) {
        c.pos += 1;
    }
    let n = parse_repeat(&c.s[start..c.pos])?;
    // Only the kind matters to this harness; every expanded item carries the
    // text of the starting literal.
    for _ in 0..=n {
        out.push(SeqValue::Histogram(first.clone()));
    }
    Ok(())
}

/// Takes `{{ … }}` from the cursor, checking its `key:value` items loosely.
fn take_histogram_literal(c: &mut Cursor<'_>) -> Result<String, String> {
    let start = c.pos;
    let rest = c.rest();
    let end = rest.find("}}").ok_or("unterminated histogram literal")?;
    let inner = &rest[2..end];
    validate_histogram_body(inner)?;
    c.pos += end + 2;
    Ok(c.s[start..c.pos].to_string())
}

const HISTOGRAM_KEYS: &[&str] = &[
    "schema",
    "sum",
    "count",
    "z_bucket",
    "z_bucket_w",
    "buckets",
    "offset",
    "n_buckets",
    "n_offset",
    "custom_values",
    "counter_reset_hint",
];

/// Loose validation of a histogram literal body: whitespace-separated
/// `key:value` pairs with known keys, list values in `[…]`.
fn validate_histogram_body(inner: &str) -> Result<(), String> {
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("expected key:value in histogram at {rest:?}"))?;
        let key = rest[..colon].trim();
        if !HISTOGRAM_KEYS.contains(&key) {
            return Err(format!("unknown histogram key {key:?}"));
        }
        rest = rest[colon + 1..].trim_start();
        if let Some(list) = rest.strip_prefix('[') {
            let close = list
                .find(']')
                .ok_or("unterminated '[' in histogram literal")?;
            rest = list[close + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("missing value for histogram key {key:?}"));
            }
            rest = rest[end..].trim_start();
        }
    }
    Ok(())
}

/// Parses one whitespace-free float item (`_`, `_xN`, `stale`, `A`, `AxN`,
/// `A+BxN`, `A-BxN`) and appends its expansion.
fn parse_float_item(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n = parse_repeat(n)?;
        out.extend((0..n).map(|_| SeqValue::Omitted));
        return Ok(());
    }
    let mut c = Cursor::new(tok);
    let base = parse_series_value(&mut c, true)?;
    match c.peek() {
        None => {
            out.push(SeqValue::Float(base));
            Ok(())
        }
        Some(b'x') => {
            c.pos += 1;
            let n = parse_repeat(c.rest())?;
            out.extend((0..=n).map(|_| SeqValue::Float(base)));
            Ok(())
        }
        Some(b'+' | b'-') => {
            let incr = parse_series_value(&mut c, false)?;
            if c.bump() != Some(b'x') {
                return Err("expected 'x<count>' after increment".into());
            }
            let n = parse_repeat(c.rest())?;
            let mut v = base;
            for _ in 0..=n {
                out.push(SeqValue::Float(v));
                v += incr;
            }
            Ok(())
        }
        Some(_) => Err(format!("unexpected {:?}", c.rest())),
    }
}

/// Parses `[+|-](number|Inf|NaN)` or (if `allow_stale`) `stale`.
fn parse_series_value(c: &mut Cursor<'_>, allow_stale: bool) -> Result<f64, String> {
    let mut sign = None;
    if let Some(b @ (b'+' | b'-')) = c.peek() {
        sign = Some(b);
        c.pos += 1;
    }
    let start = c.pos;
    let v = match c.peek() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
            while c
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                c.pos += 1;
            }
            let word = &c.s[start..c.pos];
            match word.to_ascii_lowercase().as_str() {
                "inf" => f64::INFINITY,
                "nan" => f64::NAN,
                _ if word == "stale" && allow_stale && sign.is_none() => return Ok(stale_nan()),
                _ => return Err(format!("expected number or \"stale\", got {word:?}")),
            }
        }
        Some(b)
            if b.is_ascii_digit()
                || (b == b'.' && c.peek_at(1).is_some_and(|d| d.is_ascii_digit())) =>
        {
            scan_number(c);
            if c.peek()
                .is_some_and(|b| (b.is_ascii_alphanumeric() || b == b'_') && b != b'x')
            {
                return Err(format!("unexpected {:?} after number", c.rest()));
            }
            parse_go_number(&c.s[start..c.pos])?
        }
        _ => return Err(format!("expected number at {:?}", c.rest())),
    };
    Ok(if sign == Some(b'-') { -v } else { v })
}

/// Advances over a decimal number literal (digits, `_`, `.`, exponent).
fn scan_number(c: &mut Cursor<'_>) {
    let digits = |c: &mut Cursor<'_>| {
        while c.peek().is_some_and(|b| b.is_ascii_digit() || b == b'_') {
            c.pos += 1;
        }
    };
    digits(c);
    if c.peek() == Some(b'.') {
        c.pos += 1;
        digits(c);
    }
    if matches!(c.peek(), Some(b'e' | b'E')) {
        c.pos += 1;
        if matches!(c.peek(), Some(b'+' | b'-')) {
            c.pos += 1;
        }
        digits(c);
    }
}

/// Parses the `N` of `xN` (decimal, non-negative, at most [`MAX_REPEAT`]).
fn parse_repeat(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid repetition count {s:?}"));
    }
    let n: u64 = s
        .parse()
        .map_err(|_| format!("invalid repetition count {s:?}"))?;
    if n > MAX_REPEAT {
        return Err(format!("repetition count {n} too large"));
    }
    Ok(n)
}

/// Parses a number the way Prometheus' test harness and PromQL parser do
/// (`strconv.ParseInt(s, 0, 64)` first, then `strconv.ParseFloat`): accepts
/// an optional sign, `0x`/`0o`/`0b` prefixes and legacy octal (`010` = 8),
/// `_` digit separators, decimal and hex floats, `Inf`/`Infinity`/`NaN`
/// (case-insensitive).
pub fn parse_go_number(s: &str) -> Result<f64, String> {
    if let Some(i) = go_parse_int(s) {
        return Ok(i as f64);
    }
    go_parse_float(s).ok_or_else(|| format!("error parsing number {s:?}"))
}

/// Go `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'+' || b[0] == b'-') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_digit() || (hex && ch.is_ascii_hexdigit()) {
            saw = b'0';
        } else if ch == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseInt(s, 0, 64)`; `None` on any error (syntax or range).
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let digits: String = digits.chars().filter(|&ch| ch != '_').collect();
    if digits.is_empty() || !digits.chars().all(|ch| ch.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).ok()
    }
}

/// `strconv.ParseFloat(s, 64)`; `None` on syntax error. Out-of-range values
/// give ±Inf in Go together with an error, so they are rejected here too.
fn go_parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let signed = |v: f64| if neg { -v } else { v };
    match lower.as_str() {
        "inf" | "infinity" => return Some(signed(f64::INFINITY)),
        // Go accepts "nan" only without a sign.
        "nan" => return if s.len() == 3 { Some(f64::NAN) } else { None },
        _ => {}
    }
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = lower.chars().filter(|&ch| ch != '_').collect();
    if let Some(hex) = clean.strip_prefix("0x") {
        return parse_hex_float(hex).map(signed);
    }
    // Go decimal syntax: digits [. digits] [e [sign] digits], at least one digit in the mantissa.
    let b = clean.as_bytes();
    let mut i = 0;
    let mut mant_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mant_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mant_digits += 1;
        }
    }
    if mant_digits == 0 {
        return None;
    }
    if i < b.len() && b[i] == b'e' {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let v: f64 = clean.parse().ok()?;
    if v.is_infinite() {
        return None;
    }
    Some(signed(v))
}

/// Hex float mantissa `h[.h]p[±]d` (the `0x` already stripped).
fn parse_hex_float(s: &str) -> Option<f64> {
    let p = s.find('p')?;
    let (mant, exp) = (&s[..p], &s[p + 1..]);
    let exp: i32 = exp.parse().ok()?;
    let mut value = 0f64;
    let mut frac_digits = 0i32;
    let mut seen_dot = false;
    let mut any = false;
    for ch in mant.chars() {
        if ch == '.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        let d = ch.to_digit(16)?;
        any = true;
        value = value * 16.0 + f64::from(d);
        if seen_dot {
            frac_digits += 1;
        }
    }
    if !any {
        return None;
    }
    let v = value * 2f64.powi(exp - 4 * frac_digits);
    v.is_finite().then_some(v)
}

/// Go-style unquoting of a complete quoted literal (`"…"`, `'…'`, `` `…` ``).
///
/// With `multi_char_single_quote` (Prometheus' `strutil.Unquote`) single
/// quotes delimit strings; without it (Go's `strconv.Unquote`) they must hold
/// exactly one character. The result must be valid UTF-8.
pub fn go_unquote(s: &str, multi_char_single_quote: bool) -> Result<String, String> {
    let err = || format!("invalid quoted string {s:?}");
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] {
        return Err(err());
    }
    let q = b[0];
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(err());
            }
            return Ok(inner.replace('\r', ""));
        }
        b'"' | b'\'' => {}
        _ => return Err(err()),
    }
    if inner.contains('\n') {
        return Err(err());
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut units = 0usize;
    let mut chars = inner.chars().peekable();
    while let Some(ch) = chars.next() {
        units += 1;
        if ch as u32 == u32::from(q) {
            return Err(err());
        }
        if ch != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(err)?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '\'' | '"' => {
                if e as u32 != u32::from(q) {
                    return Err(err());
                }
                Some(e as u8)
            }
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let mut take = |n: usize, radix: u32| -> Result<u32, String> {
            let mut v = 0u32;
            for _ in 0..n {
                let d = chars
                    .next()
                    .and_then(|c| c.to_digit(radix))
                    .ok_or_else(err)?;
                v = v * radix + d;
            }
            Ok(v)
        };
        match e {
            'x' => out.push(take(2, 16)? as u8),
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = (e as u32 - '0' as u32) * 64 + rest;
                if v > 255 {
                    return Err(err());
                }
                out.push(v as u8);
            }
            'u' | 'U' => {
                let v = take(if e == 'u' { 4 } else { 8 }, 16)?;
                let ch = char::from_u32(v).ok_or_else(err)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(err()),
        }
    }
    if q == b'\'' && !multi_char_single_quote && units != 1 {
        return Err(err());
    }
    String::from_utf8(out).map_err(|_| format!("quoted string {s:?} is not valid UTF-8"))
}

/// Whether `s` is a legacy (unquoted) metric name.
fn is_legacy_metric_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `s` is a legacy (unquoted) label name.
fn is_legacy_label_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Go `%q`-like quoting (enough for readable diffs).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats a label set in Prometheus notation: `name{a="b"}`, `{a="b"}`,
/// `{}` or `{"my.metric", a="b"}`.
pub fn format_labels(labels: &[(String, String)]) -> String {
    let name = labels
        .iter()
        .find(|(n, _)| n == METRIC_NAME)
        .map(|(_, v)| v.as_str());
    let mut parts: Vec<String> = Vec::new();
    let mut out = String::new();
    match name {
        Some(n) if is_legacy_metric_name(n) => out.push_str(n),
        Some(n) => parts.push(quote(n)),
        None => {}
    }
    for (k, v) in labels.iter().filter(|(n, _)| n != METRIC_NAME) {
        let key = if is_legacy_label_name(k) {
            k.clone()
        } else {
            quote(k)
        };
        parts.push(format!("{key}={}", quote(v)));
    }
    if !parts.is_empty() || name.is_none() {
        out.push('{');
        out.push_str(&parts.join(", "));
        out.push('}');
    }
    out
}

/// Formats a float for messages: `NaN`, `stale`, `+Inf`, `-Inf`, or the
/// shortest round-tripping decimal.
pub fn format_float(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".into()
    } else if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Minimal byte cursor over an ASCII-delimited string.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn peek_at(&self, off: usize) -> Option<u8> {
        self.s.as_bytes().get(self.pos + off).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }
    fn eof(&self) -> bool {
        self.pos >= self.s.len()
    }
    /// The unconsumed rest. `pos` only ever stops on ASCII boundaries or
    /// after complete quoted strings, so this slice is always valid.
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }
    /// Skips ASCII whitespace; returns whether any was skipped.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
        self.pos > start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn floats(vals: &[SeqValue]) -> Vec<Option<f64>> {
        vals.iter()
            .map(|v| match v {
                SeqValue::Float(f) => Some(*f),
                SeqValue::Omitted => None,
                SeqValue::Histogram(_) => panic!("histogram"),
            })
            .collect()
    }

    #[test]
    fn label_forms() {
        let (lbl, v) = parse_series_desc(r#"http_requests{job="api", instance="0"} 1"#).unwrap();
        assert_eq!(
            lbl,
            l(&[
                ("__name__", "http_requests"),
                ("instance", "0"),
                ("job", "api")
            ])
        );
        assert_eq!(v, vec![SeqValue::Float(1.0)]);

        assert_eq!(
            parse_series_desc("name").unwrap().0,
            l(&[("__name__", "name")])
        );
        assert_eq!(
            parse_series_desc("a:b_c{} 1").unwrap().0,
            l(&[("__name__", "a:b_c")])
        );
        assert_eq!(parse_series_desc("{} 1").unwrap().0, l(&[]));
        assert_eq!(
            parse_series_desc(r#"{__name__="name", l="v"} 1"#)
                .unwrap()
                .0,
            l(&[("__name__", "name"), ("l", "v")])
        );
        assert_eq!(
            parse_series_desc(r#"{l="v",} 1"#).unwrap().0,
            l(&[("l", "v")])
        );
        assert_eq!(
            parse_series_desc(r#"{"my.metric", "a.b"="c", d='e'} 1"#)
                .unwrap()
                .0,
            l(&[("__name__", "my.metric"), ("a.b", "c"), ("d", "e")])
        );
        // Keywords are fine as metric names; spacing inside braces is free.
        assert_eq!(
            parse_series_desc("sum{ by = `x\\y` } 2").unwrap().0,
            l(&[("__name__", "sum"), ("by", "x\\y")])
        );
        // Uppercase names sort before `__name__` (byte order).
        assert_eq!(
            parse_series_desc(r#"m{Z="1",a="2"}"#).unwrap().0,
            l(&[("Z", "1"), ("__name__", "m"), ("a", "2")])
        );
    }

    #[test]
    fn label_value_escapes() {
        let (lbl, _) =
            parse_series_desc(r#"m{a="x\"y\n\t\\ \u00e9\x41\101}", b='it\'s'} 1"#).unwrap();
        assert_eq!(
            lbl[1],
            ("a".to_string(), "x\"y\n\t\\ \u{e9}AA}".to_string())
        );
        assert_eq!(lbl[2], ("b".to_string(), "it's".to_string()));
        assert_eq!(
            parse_series_desc(r#"m{a="héllo wörld"} 1"#).unwrap().0[1].1,
            "héllo wörld"
        );
    }

    #[test]
    fn label_errors() {
        for bad in [
            r#"m{a!="b"} 1"#,
            r#"m{a=~"b"} 1"#,
            r#"m{a="b"#,
            r#"m{a=b} 1"#,
            r#"m{a="1",a="2"} 1"#,
            r#"m{__name__="x"} 1"#,
            r#"{"x", "y"} 1"#,
            r#"m{,} 1"#,
            r#"m{a="\q"} 1"#,
            r#"m{a="\xc5"} 1"#,
            "1 2",
            "m{a=\"b\"}1",
            // Upstream's lexer switches to values after a name followed by a space.
            "m {a=\"b\"} 1",
        ] {
            assert!(parse_series_desc(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn value_expansions() {
        let f = |s: &str| floats(&parse_series_desc(&format!("m {s}")).unwrap().1);
        assert_eq!(f("1 _ 3"), vec![Some(1.0), None, Some(3.0)]);
        assert_eq!(f("_x3"), vec![None, None, None]);
        assert_eq!(f("_x0 5"), vec![Some(5.0)]);
        assert_eq!(f("2x3"), vec![Some(2.0); 4]);
        assert_eq!(f("0x10").len(), 11);
        assert_eq!(f("1+1x3"), vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        assert_eq!(
            f("-2-1x5"),
            vec![
                Some(-2.0),
                Some(-3.0),
                Some(-4.0),
                Some(-5.0),
                Some(-6.0),
                Some(-7.0)
            ]
        );
        assert_eq!(f("10-2.5x2"), vec![Some(10.0), Some(7.5), Some(5.0)]);
        assert_eq!(
            f("1e3 .5 -1.5E+2 +3 5. 1_000"),
            vec![
                Some(1000.0),
                Some(0.5),
                Some(-150.0),
                Some(3.0),
                Some(5.0),
                Some(1000.0)
            ]
        );
        // Floating accumulation, not multiplication.
        let acc = f("0+0.1x3");
        assert_eq!(acc[3], Some(0.1 + 0.1 + 0.1));
        assert_ne!(acc[3], Some(0.3));
        let inf = f("Inf -Inf +inf NaN nan");
        assert_eq!(inf[0], Some(f64::INFINITY));
        assert_eq!(inf[1], Some(f64::NEG_INFINITY));
        assert_eq!(inf[2], Some(f64::INFINITY));
        assert!(inf[3].unwrap().is_nan() && !is_stale_nan(inf[3].unwrap()));
        assert!(inf[4].unwrap().is_nan());
        let st = f("1 stale 2");
        assert!(is_stale_nan(st[1].unwrap()));
        // Legacy octal like Go's ParseInt(s, 0, 64).
        assert_eq!(f("010"), vec![Some(8.0)]);
        assert_eq!(f("09"), vec![Some(9.0)]);
    }

    #[test]
    fn value_errors() {
        for bad in [
            "m 1+1",
            "m 0x1p3",
            "m 5m",
            "m stalex2",
            "m -stale",
            "m 1x",
            "m 1x-1",
            "m NaNx2",
            "m foo",
            "m 1ex2",
            "m 1x99999999999",
        ] {
            assert!(parse_series_desc(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn histogram_items() {
        let (_, v) = parse_series_desc(
            "m {{schema:0 sum:5 count:4 buckets:[1 2 1] counter_reset_hint:gauge}} _ {{count:1}}x2 {{sum:1}}+{{sum:2}}x1 3",
        )
        .unwrap();
        assert_eq!(v.len(), 1 + 1 + 3 + 2 + 1);
        assert!(v[0].is_histogram() && v[2].is_histogram() && v[6].is_histogram());
        assert_eq!(v[7], SeqValue::Float(3.0));
        assert!(parse_series_desc("m {{schema:0").is_err());
        assert!(parse_series_desc("m {{bogus:1}}").is_err());
        assert!(parse_series_desc("m {{sum:1}}+1x2").is_err());
    }

    #[test]
    fn go_numbers() {
        assert_eq!(parse_go_number("0x3d").unwrap(), 61.0);
        assert_eq!(parse_go_number("-0x10").unwrap(), -16.0);
        assert_eq!(parse_go_number("010").unwrap(), 8.0);
        assert_eq!(parse_go_number("-0.2e-6").unwrap(), -0.2e-6);
        assert_eq!(parse_go_number("+Inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_go_number("-infinity").unwrap(), f64::NEG_INFINITY);
        assert!(parse_go_number("NaN").unwrap().is_nan());
        assert!(parse_go_number("+NaN").is_err());
        assert_eq!(parse_go_number("0x1p-2").unwrap(), 0.25);
        assert_eq!(parse_go_number("1_000").unwrap(), 1000.0);
        assert_eq!(parse_go_number("99999999999999999999").unwrap(), 1e20);
        for bad in ["", "-", "1_", "_1", "1e", "abc", "1.2.3", "1e400", "{} 1"] {
            assert!(parse_go_number(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn unquote_rules() {
        assert_eq!(go_unquote(r#""a\"b""#, false).unwrap(), "a\"b");
        assert_eq!(go_unquote("`raw\\n`", false).unwrap(), "raw\\n");
        assert_eq!(go_unquote("'x'", false).unwrap(), "x");
        assert!(go_unquote("'xy'", false).is_err());
        assert_eq!(go_unquote("'xy'", true).unwrap(), "xy");
        assert!(go_unquote(r#""it\'s""#, true).is_err());
        assert!(go_unquote(r#""a"b""#, true).is_err());
        assert!(go_unquote(r#""\400""#, true).is_err());
        assert!(go_unquote("\"", true).is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(
            format_labels(&l(&[("__name__", "m"), ("a", "b")])),
            r#"m{a="b"}"#
        );
        assert_eq!(format_labels(&l(&[("__name__", "m")])), "m");
        assert_eq!(format_labels(&l(&[])), "{}");
        assert_eq!(
            format_labels(&l(&[("__name__", "my.m"), ("a.b", "c")])),
            r#"{"my.m", "a.b"="c"}"#
        );
        assert_eq!(format_float(stale_nan()), "stale");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(1.5), "1.5");
    }
}

// Pharos — tests/promql_conformance/conformance/series.rs
