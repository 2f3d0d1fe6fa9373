//! Go's predefined template functions (`and`, `or`, `not`, `len`, `index`, `slice`, `eq`…`ge`,
//! `print`, `printf`, `println`, `html`, `js`, `urlquery`), the function table of each dialect, and
//! the argument conversions functions share.

use pharos_query::promql::go_quote;
use std::rc::Rc;

use super::exec::Env;
use super::value::{ListKind, MapKind, Value, format_float_e, format_float_f, format_float_g, format_v};
use super::{notification, rule};

/// A function's implementation: arguments already evaluated; errors are plain messages that the
/// executor prefixes with the template position.
pub type FuncImpl = fn(&Env<'_>, Vec<Value>) -> Result<Value, String>;

/// How many arguments a function takes.
#[derive(Clone, Copy, Debug)]
pub enum Arity {
    Exact(usize),
    AtLeast(usize),
    Between(usize, usize),
}

pub struct FuncDef {
    pub name: &'static str,
    pub arity: Arity,
    pub imp: FuncImpl,
}

impl FuncDef {
    pub fn check_arity(&self, got: usize) -> Result<(), String> {
        let ok = match self.arity {
            Arity::Exact(n) => got == n,
            Arity::AtLeast(n) => got >= n,
            Arity::Between(lo, hi) => (lo..=hi).contains(&got),
        };
        if ok {
            return Ok(());
        }
        let want = match self.arity {
            Arity::Exact(n) => n.to_string(),
            Arity::AtLeast(n) => format!("at least {n}"),
            Arity::Between(lo, hi) => format!("{lo} to {hi}"),
        };
        Err(format!("wrong number of args for {}: want {want} got {got}", self.name))
    }
}

/// Which function set a template sees: Prometheus rule templates or Alertmanager notification
/// templates (both on top of Go's predefined functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Rule,
    Notification,
}

impl Dialect {
    pub fn lookup(self, name: &str) -> Option<&'static FuncDef> {
        let own: &[FuncDef] = match self {
            Dialect::Rule => rule::FUNCTIONS,
            Dialect::Notification => notification::FUNCTIONS,
        };
        own.iter().chain(BUILTINS).find(|f| f.name == name)
    }
}

/// Go's predefined functions. `and` and `or` are evaluated lazily by the executor; their entries
/// here exist for arity and name checks.
pub static BUILTINS: &[FuncDef] = &[
    FuncDef { name: "and", arity: Arity::AtLeast(1), imp: |_, a| Ok(a.into_iter().last().unwrap_or(Value::Nil)) },
    FuncDef { name: "or", arity: Arity::AtLeast(1), imp: |_, a| Ok(a.into_iter().last().unwrap_or(Value::Nil)) },
    FuncDef { name: "not", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Bool(!a[0].truth())) },
    FuncDef { name: "len", arity: Arity::Exact(1), imp: len },
    FuncDef { name: "index", arity: Arity::AtLeast(1), imp: index },
    FuncDef { name: "slice", arity: Arity::Between(1, 4), imp: slice },
    FuncDef { name: "eq", arity: Arity::AtLeast(1), imp: eq },
    FuncDef { name: "ne", arity: Arity::Exact(2), imp: |_, a| Ok(Value::Bool(!equal(&a[0], &a[1])?)) },
    FuncDef { name: "lt", arity: Arity::Exact(2), imp: |_, a| Ok(Value::Bool(less(&a[0], &a[1])?)) },
    FuncDef {
        name: "le",
        arity: Arity::Exact(2),
        imp: |_, a| Ok(Value::Bool(less(&a[0], &a[1])? || equal(&a[0], &a[1])?)),
    },
    FuncDef {
        name: "gt",
        arity: Arity::Exact(2),
        imp: |_, a| Ok(Value::Bool(!(less(&a[0], &a[1])? || equal(&a[0], &a[1])?))),
    },
    FuncDef { name: "ge", arity: Arity::Exact(2), imp: |_, a| Ok(Value::Bool(!less(&a[0], &a[1])?)) },
    FuncDef { name: "print", arity: Arity::AtLeast(0), imp: |_, a| Ok(Value::Str(sprint(&a))) },
    FuncDef { name: "println", arity: Arity::AtLeast(0), imp: |_, a| Ok(Value::Str(sprintln(&a))) },
    FuncDef { name: "printf", arity: Arity::AtLeast(1), imp: printf },
    FuncDef { name: "html", arity: Arity::AtLeast(0), imp: |_, a| Ok(Value::Str(html_escape(&sprint(&a)))) },
    FuncDef { name: "js", arity: Arity::AtLeast(0), imp: |_, a| Ok(Value::Str(js_escape(&sprint(&a)))) },
    FuncDef { name: "urlquery", arity: Arity::AtLeast(0), imp: |_, a| Ok(Value::Str(query_escape(&sprint(&a)))) },
];

/// A string argument (string-kinded values only, as Go's typed parameters).
pub fn arg_str(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("wrong type for value; expected string; got {}", v.type_name()))
}

/// A list of strings (`[]string`).
pub fn arg_strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::List(items, _) => items.iter().map(arg_str).collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("wrong type for value; expected []string; got {}", other.type_name())),
    }
}

/// A time argument (`time.Time`).
pub fn arg_time(v: &Value) -> Result<i64, String> {
    match v {
        Value::Time(t) => Ok(*t),
        other => Err(format!("wrong type for value; expected time.Time; got {}", other.type_name())),
    }
}

fn len(_: &Env<'_>, a: Vec<Value>) -> Result<Value, String> {
    let n = match &a[0] {
        Value::Str(s) | Value::Html(s) => s.len(),
        Value::List(l, _) => l.len(),
        Value::Map(m, _) => m.len(),
        other => return Err(format!("error calling len: len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

fn int_index(v: &Value, cap: usize) -> Result<usize, String> {
    let i = match v {
        Value::Int(i) => *i,
        other => return Err(format!("cannot index slice/array with type {}", other.type_name())),
    };
    if i < 0 || i as usize >= cap {
        return Err(format!("index out of range: {i}"));
    }
    Ok(i as usize)
}

fn index(_: &Env<'_>, a: Vec<Value>) -> Result<Value, String> {
    let mut item = a[0].clone();
    for key in &a[1..] {
        item = match &item {
            Value::List(l, _) => l[int_index(key, l.len()).map_err(|e| format!("error calling index: {e}"))?].clone(),
            Value::Str(s) | Value::Html(s) => {
                let i = int_index(key, s.len()).map_err(|e| format!("error calling index: {e}"))?;
                Value::Int(i64::from(s.as_bytes()[i]))
            }
            Value::Map(m, kind) => {
                let Some(k) = key.as_str() else {
                    return Err(format!("error calling index: value has type {}; should be string", key.type_name()));
                };
                match (m.get(k), kind) {
                    (Some(v), _) => v.clone(),
                    (None, MapKind::Any) => Value::Nil,
                    (None, _) => Value::Str(String::new()),
                }
            }
            Value::Nil => return Err("error calling index: index of untyped nil".into()),
            other => return Err(format!("error calling index: can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(_: &Env<'_>, a: Vec<Value>) -> Result<Value, String> {
    let len = match &a[0] {
        Value::List(l, _) => l.len(),
        Value::Str(s) | Value::Html(s) => s.len(),
        other => return Err(format!("error calling slice: can't slice item of type {}", other.type_name())),
    };
    let mut bounds = Vec::new();
    for v in &a[1..] {
        match v {
            Value::Int(i) if *i >= 0 && (*i as usize) <= len => bounds.push(*i as usize),
            Value::Int(i) => return Err(format!("error calling slice: index out of range: {i}")),
            other => {
                return Err(format!("error calling slice: cannot index slice/array with type {}", other.type_name()));
            }
        }
    }
    let lo = bounds.first().copied().unwrap_or(0);
    let hi = bounds.get(1).copied().unwrap_or(len);
    if lo > hi {
        return Err(format!("error calling slice: invalid slice index: {lo} > {hi}"));
    }
    match &a[0] {
        Value::List(l, kind) => Ok(Value::List(Rc::new(l[lo..hi].to_vec()), *kind)),
        Value::Str(s) | Value::Html(s) => {
            if bounds.len() == 3 {
                return Err("error calling slice: cannot 3-index slice a string".into());
            }
            match s.get(lo..hi) {
                Some(sub) => Ok(Value::Str(sub.to_string())),
                None => Ok(Value::Str(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned())),
            }
        }
        _ => unreachable!("checked above"),
    }
}

/// The comparison class of a value, as Go's `basicKind`.
#[derive(PartialEq, Eq, Debug, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
}

fn kind(v: &Value) -> Option<Kind> {
    match v {
        Value::Bool(_) => Some(Kind::Bool),
        Value::Int(_) | Value::Duration(_) => Some(Kind::Int),
        Value::Float(_) => Some(Kind::Float),
        Value::Str(_) | Value::Html(_) => Some(Kind::Str),
        _ => None,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Duration(i) => *i,
        _ => 0,
    }
}

/// Go's `eq` of two values: same basic kind required ("incompatible types for comparison").
fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    match (kind(a), kind(b)) {
        (Some(ka), Some(kb)) if ka != kb => Err("error calling eq: incompatible types for comparison".into()),
        (Some(Kind::Bool), _) => Ok(a.truth() == b.truth()),
        (Some(Kind::Int), _) => Ok(int_of(a) == int_of(b)),
        (Some(Kind::Float), _) => match (a, b) {
            (Value::Float(x), Value::Float(y)) => Ok(x == y),
            _ => Ok(false),
        },
        (Some(Kind::Str), _) => Ok(a.as_str() == b.as_str()),
        (None, _) => match (a, b) {
            (Value::Time(x), Value::Time(y)) => Ok(x == y),
            (Value::Nil, Value::Nil) => Ok(true),
            (Value::Nil, _) | (_, Value::Nil) => Ok(false),
            _ => Err("error calling eq: invalid type for comparison".into()),
        },
    }
}

fn eq(_: &Env<'_>, a: Vec<Value>) -> Result<Value, String> {
    if a.len() < 2 {
        return Err("error calling eq: missing argument for comparison".into());
    }
    for b in &a[1..] {
        if equal(&a[0], b)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// Go's `lt`: ordered basic kinds only.
fn less(a: &Value, b: &Value) -> Result<bool, String> {
    match (kind(a), kind(b)) {
        (Some(Kind::Bool), _) | (_, Some(Kind::Bool)) | (None, _) | (_, None) => {
            Err("error calling lt: invalid type for comparison".into())
        }
        (Some(ka), Some(kb)) if ka != kb => Err("error calling lt: incompatible types for comparison".into()),
        (Some(Kind::Int), _) => Ok(int_of(a) < int_of(b)),
        (Some(Kind::Float), _) => match (a, b) {
            (Value::Float(x), Value::Float(y)) => Ok(x < y),
            _ => Ok(false),
        },
        (Some(Kind::Str), _) => Ok(a.as_str() < b.as_str()),
    }
}

/// Go's `fmt.Sprint`: operands joined, with a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && a.as_str().is_none() && args[i - 1].as_str().is_none() {
            out.push(' ');
        }
        out.push_str(&format_v(a));
    }
    out
}

/// Go's `fmt.Sprintln`: operands separated by spaces, then a newline.
fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(format_v).collect();
    format!("{}\n", parts.join(" "))
}

/// Go's `html/template` / `template.HTMLEscapeString` escaping.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One `%` directive's flags.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn printf(_: &Env<'_>, a: Vec<Value>) -> Result<Value, String> {
    let format = arg_str(&a[0])?;
    Ok(Value::Str(sprintf(&format, &a[1..])))
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %e %g %q %x %X %t %c %%`, with
/// flags `- + space 0 #`, width and precision (`*` not supported). Mismatches print Go's
/// `%!d(string=x)` forms; missing and extra operands as Go does.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize).min(1 << 16));
                chars.next();
            }
            n
        };
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let body = format_one(verb, &spec, arg);
        out.push_str(&pad(body, &spec, matches!(arg, Value::Int(_) | Value::Float(_)) && verb != 's'));
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..].iter().map(|a| format!("{}={}", a.type_name(), format_v(a))).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn bad_verb(verb: char, arg: &Value) -> String {
    match arg {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", arg.type_name(), format_v(arg)),
    }
}

fn signed(text: String, negative: bool, spec: &Spec) -> String {
    if negative || text.starts_with('-') {
        text
    } else if spec.plus {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    }
}

fn format_one(verb: char, spec: &Spec, arg: &Value) -> String {
    match (verb, arg) {
        ('v', Value::Float(f)) => signed(format_float_g(*f, spec.precision), *f < 0.0, spec),
        ('v', Value::Int(i)) => signed(i.to_string(), *i < 0, spec),
        ('v', _) => format_v(arg),
        ('s', Value::Str(s) | Value::Html(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('s', Value::Time(_) | Value::Duration(_)) => format_v(arg),
        ('s', Value::List(..) | Value::Map(..) | Value::Struct(_)) => format_v(arg),
        ('q', Value::Str(s) | Value::Html(s)) => go_quote(s),
        ('q', Value::Int(i)) => match char::from_u32(*i as u32) {
            Some(c) => format!("'{c}'"),
            None => bad_verb(verb, arg),
        },
        ('d', Value::Int(i) | Value::Duration(i)) => signed(i.to_string(), *i < 0, spec),
        ('c', Value::Int(i)) => char::from_u32(*i as u32).map_or_else(|| "\u{FFFD}".into(), |c| c.to_string()),
        ('x' | 'X', Value::Int(i)) => {
            let text = if *i < 0 { format!("-{:x}", i.unsigned_abs()) } else { format!("{i:x}") };
            let text = if spec.sharp { text.replacen("", "0x", 1) } else { text };
            if verb == 'X' { text.to_uppercase() } else { text }
        }
        ('x' | 'X', Value::Str(s) | Value::Html(s)) => {
            let text: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            if verb == 'X' { text.to_uppercase() } else { text }
        }
        ('o', Value::Int(i)) => format!("{i:o}"),
        ('b', Value::Int(i)) => format!("{i:b}"),
        ('t', Value::Bool(b)) => b.to_string(),
        ('f' | 'F', Value::Float(f)) => signed(format_float_f(*f, spec.precision.unwrap_or(6)), *f < 0.0, spec),
        ('e' | 'E', Value::Float(f)) => {
            let text = signed(format_float_e(*f, spec.precision.unwrap_or(6)), *f < 0.0, spec);
            if verb == 'E' { text.to_uppercase() } else { text }
        }
        ('g' | 'G', Value::Float(f)) => {
            let text = signed(format_float_g(*f, spec.precision), *f < 0.0, spec);
            if verb == 'G' { text.to_uppercase() } else { text }
        }
        (_, Value::List(items, ListKind::Plain)) if "dfegsxq".contains(verb) => {
            let parts: Vec<String> = items.iter().map(|i| format_one(verb, spec, i)).collect();
            format!("[{}]", parts.join(" "))
        }
        _ => bad_verb(verb, arg),
    }
}

/// Apply width: left-justified with `-`, zero-padded after the sign for numbers with `0`.
fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else { return body };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric && !body.contains("Inf") && !body.contains("NaN") {
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
            _ => (String::new(), body),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

// Pharos — alerting/src/template/functions.rs
