//! The values a template computes with, modelled on the Go types Prometheus and Alertmanager hand
//! to `text/template`, and how Go's `fmt` prints them (`%v`).
//!
//! Values live only while one template executes, so containers share their contents with `Rc`.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::gotime;

/// One template value.
#[derive(Clone, Debug)]
pub enum Value {
    /// Go's invalid value / nil interface: a missing map entry, `nil`, an absent `.`.
    Nil,
    Bool(bool),
    /// Go's `int` (integer literals, `len`, range indexes).
    Int(i64),
    /// Go's `float64` (`$value`, sample values, float literals).
    Float(f64),
    Str(String),
    /// Trusted HTML (`safeHtml`, Go's `html/template.HTML`): a string that HTML rendering never escapes.
    Html(String),
    /// An instant in nanoseconds since the epoch, UTC (Go's `time.Time`).
    Time(i64),
    /// A span in nanoseconds (Go's `time.Duration`, an integer kind for comparisons).
    Duration(i64),
    List(Rc<Vec<Value>>, ListKind),
    Map(Rc<BTreeMap<String, Value>>, MapKind),
    Struct(Rc<Struct>),
}

/// Which Go slice type a list is: it decides the methods available on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `[]interface{}` / `[]string` / Prometheus' `queryResult`.
    Plain,
    /// Alertmanager's `Alerts` (methods `Firing`, `Resolved`).
    Alerts,
    /// Alertmanager's `Pairs` (methods `Names`, `Values`).
    Pairs,
}

/// Which Go map type a map is: it decides methods and the zero value of a missing entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `map[string]string` (Prometheus labels): a missing entry's zero value is "".
    Strings,
    /// `map[string]interface{}` (`args`): a missing entry's zero value is nil.
    Any,
    /// Alertmanager's `KV` (methods `SortedPairs`, `Names`, `Values`, `Remove`); zero value "".
    Kv,
}

/// A Go struct: its type name (for error messages) and exported fields in declaration order.
#[derive(Debug)]
pub struct Struct {
    pub type_name: &'static str,
    pub fields: Vec<(&'static str, Value)>,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn string_map(map: &BTreeMap<String, String>, kind: MapKind) -> Value {
        Value::Map(Rc::new(map.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))).collect()), kind)
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items), ListKind::Plain)
    }

    pub fn structure(type_name: &'static str, fields: Vec<(&'static str, Value)>) -> Value {
        Value::Struct(Rc::new(Struct { type_name, fields }))
    }

    /// Go's type name, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::Html(_) => "template.HTML".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Duration(_) => "time.Duration".into(),
            Value::List(_, ListKind::Plain) => "[]interface {}".into(),
            Value::List(_, ListKind::Alerts) => "template.Alerts".into(),
            Value::List(_, ListKind::Pairs) => "template.Pairs".into(),
            Value::Map(_, MapKind::Strings) => "map[string]string".into(),
            Value::Map(_, MapKind::Any) => "map[string]interface {}".into(),
            Value::Map(_, MapKind::Kv) => "template.KV".into(),
            Value::Struct(s) => s.type_name.into(),
        }
    }

    /// Go template truth: false, 0, nil and empty strings, lists and maps are false; structs and
    /// times are true.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Duration(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Html(s) => !s.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m, _) => !m.is_empty(),
            Value::Time(_) | Value::Struct(_) => true,
        }
    }

    /// The text of a string-kinded value (Go's `Kind() == String`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Html(s) => Some(s),
            _ => None,
        }
    }

    /// What `{{ . }}` writes: Go's `fmt.Print`, except an invalid value is `<no value>`.
    pub fn display(&self) -> String {
        match self {
            Value::Nil => "<no value>".into(),
            other => format_v(other),
        }
    }
}

/// Go's `%v` of a value.
pub fn format_v(value: &Value) -> String {
    match value {
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float_g(*f, None),
        Value::Str(s) | Value::Html(s) => s.clone(),
        Value::Time(t) => gotime::time_string(*t),
        Value::Duration(d) => gotime::duration_string(*d),
        Value::List(items, _) => {
            let parts: Vec<String> = items.iter().map(format_v).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(map, _) => {
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{}", format_v(v))).collect();
            format!("map[{}]", parts.join(" "))
        }
        Value::Struct(s) => {
            let parts: Vec<String> = s.fields.iter().map(|(_, v)| format_v(v)).collect();
            format!("{{{}}}", parts.join(" "))
        }
    }
}

/// Go's `%g` of a float64: `precision` significant digits (`None` = the shortest text that reads
/// back exactly, Go's `%v`), exponent form when the exponent is below -4 or at least the precision
/// (6 for the shortest form), trailing zeros removed, exponents with at least two digits (`1e+06`).
pub fn format_float_g(value: f64, precision: Option<usize>) -> String {
    if let Some(special) = non_finite(value) {
        return special;
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exp) = decimal_digits(value, precision);
    let eprec = match precision {
        None => 6,
        Some(p) => p.max(1) as i32,
    };
    let negative = value < 0.0;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// The significant digits (trailing zeros removed) and decimal exponent of `|value|`, rounded to
/// `precision` digits or shortest.
fn decimal_digits(value: f64, precision: Option<usize>) -> (String, i32) {
    let text = match precision {
        None => format!("{:e}", value.abs()),
        Some(p) => format!("{:.*e}", p.max(1) - 1, value.abs()),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp)
}

/// Go's text of NaN and infinities (`NaN`, `+Inf`, `-Inf`); `None` for finite values.
pub fn non_finite(value: f64) -> Option<String> {
    if value.is_nan() {
        Some("NaN".into())
    } else if value.is_infinite() {
        Some(if value > 0.0 { "+Inf".into() } else { "-Inf".into() })
    } else {
        None
    }
}

/// Go's `%e` with `precision` digits after the point (`1.234500e+03`).
pub fn format_float_e(value: f64, precision: usize) -> String {
    if let Some(special) = non_finite(value) {
        return special;
    }
    let text = format!("{:.*e}", precision, value);
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Go's `%f` with `precision` digits after the point.
pub fn format_float_f(value: f64, precision: usize) -> String {
    if let Some(special) = non_finite(value) {
        return special;
    }
    format!("{:.*}", precision, value)
}

// Pharos — alerting/src/template/value.rs
