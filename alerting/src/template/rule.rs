//! Prometheus rule templates: the labels and annotations of alerting rules, expanded for each
//! alert with `$labels`, `$externalLabels`, `$externalURL` and `$value` predefined, and
//! Prometheus' template functions (`humanize*`, `query`, `first`, `value`, …).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::exec::{Env, Library, Options, execute};
use super::functions::{Arity, Dialect, FuncDef, arg_str};
use super::value::{ListKind, MapKind, Value, format_float_g};
use super::{TemplateError, gotime, parser};

/// One sample of a `query` result: Prometheus' template `sample` (`.Labels`, `.Value`).
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The PromQL callback of `query`: an instant query's samples, or an error message.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<Vec<QuerySample>, String> + 'a;

/// What a rule's templates see.
pub struct RuleTemplateData<'a> {
    /// The alert's labels (`$labels`, `.Labels`).
    pub labels: &'a BTreeMap<String, String>,
    /// The sample value of the alert (`$value`, `.Value`).
    pub value: f64,
    /// `global.external_labels` (`$externalLabels`).
    pub external_labels: &'a BTreeMap<String, String>,
    /// The server's external URL (`$externalURL`, `externalURL`, `pathPrefix`).
    pub external_url: &'a str,
}

/// The variables Prometheus defines before every rule template.
const PRELUDE: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Expand a rule's label or annotation template (`name` appears in errors, e.g.
/// `__alert_InstanceDown`). `query` runs a PromQL instant query for the `query` function.
/// A missing label prints `<no value>`, as in Prometheus (no `missingkey` option).
pub fn expand_rule_template(
    name: &str,
    text: &str,
    data: &RuleTemplateData<'_>,
    query: &dyn Fn(&str) -> Result<Vec<QuerySample>, String>,
) -> Result<String, TemplateError> {
    let source = format!("{PRELUDE}{text}");
    let parsed =
        parser::parse(name, &source, Dialect::Rule).map_err(|e| user_position(TemplateError::parse(name, e)))?;
    let dot = Value::structure(
        "template.tmplData",
        vec![
            ("Labels", Value::string_map(data.labels, MapKind::Strings)),
            ("ExternalLabels", Value::string_map(data.external_labels, MapKind::Strings)),
            ("ExternalURL", Value::str(data.external_url)),
            ("Value", Value::Float(data.value)),
        ],
    );
    let shared = BTreeMap::new();
    let library = Library { local: &parsed.defined, shared: &shared };
    let env = Env { query: Some(query), external_url: data.external_url, now: pharos_proto::civil_time::now_nanos() };
    let options = Options { dialect: Dialect::Rule, html: false, missing_key_zero: false };
    execute(&parsed.main, dot, &library, &env, options).map_err(|e| user_position(TemplateError::exec(e)))
}

/// Positions of errors as in the user's text: the prelude sits before it on line 1.
fn user_position(mut e: TemplateError) -> TemplateError {
    if e.line == 1 && e.col as usize > PRELUDE.len() {
        e.col -= PRELUDE.len() as u32;
    }
    e
}

/// Parse a rule template without running it (what `promtool check rules` does).
pub fn check_rule_template(name: &str, text: &str) -> Result<(), TemplateError> {
    let source = format!("{PRELUDE}{text}");
    parser::parse(name, &source, Dialect::Rule).map(|_| ()).map_err(|e| user_position(TemplateError::parse(name, e)))
}

/// Prometheus' conversion of a function argument to float64: numbers, numeric strings, durations.
pub fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Duration(d) => Ok(*d as f64 / 1e9),
        Value::Str(s) | Value::Html(s) => {
            s.trim().parse::<f64>().map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
        }
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    format_float_g(v, Some(4))
}

/// `humanize`: SI prefixes (1234 → `1.234k`, 0.012 → `12m`).
fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    let (v, prefix) = small_si(v);
    format!("{}{prefix}", g4(v))
}

/// A value below 1 scaled up into [1, 1000) with its SI prefix (`m`, `u`, `n`…), as Prometheus'
/// `humanize` and `humanizeDuration` print fractions.
fn small_si(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// `humanize1024`: binary prefixes (1048576 → `1Mi`).
fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// `humanizeDuration` of seconds: `1d 2h 3m 4s`, `1.5s`, `12ms`. Shared with Alertmanager.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return "0s".into();
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let whole = v as i64;
        let days = whole / 86_400;
        let hours = whole / 3600 % 24;
        let minutes = whole / 60 % 60;
        let seconds = v % 60.0;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {}s", seconds as i64);
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {}s", seconds as i64);
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {}s", seconds as i64);
        }
        return format!("{sign}{}s", g4(seconds));
    }
    let (v, prefix) = small_si(v);
    format!("{}{prefix}s", g4(v))
}

/// Seconds since the epoch as a time, refusing what Go's time cannot hold.
fn time_of(v: f64) -> Result<i64, String> {
    if !v.is_finite() || v.abs() > 9.2e9 {
        return Err(format!("can't convert {} to time", format_float_g(v, None)));
    }
    Ok((v * 1e9).round() as i64)
}

/// Go's `net.SplitHostPort`: `None` when `s` is not `host:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let last = s.rfind(':')?;
    let host = if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']')?;
        if end + 2 != last {
            return None;
        }
        &inner[..end]
    } else {
        let host = &s[..last];
        if host.contains(':') || host.contains('[') || host.contains(']') {
            return None;
        }
        host
    };
    let port = &s[last + 1..];
    if port.contains('[') || port.contains(']') {
        return None;
    }
    Some((host, port))
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// `stripDomain`: keep the first DNS label of a host (and the port); IP addresses unchanged.
fn strip_domain(host_port: &str) -> String {
    if is_ip(host_port) {
        return host_port.to_string();
    }
    let (host, port) = split_host_port(host_port).unwrap_or((host_port, ""));
    if is_ip(host) {
        return host_port.to_string();
    }
    let first = host.split('.').next().unwrap_or(host);
    if port.is_empty() {
        first.to_string()
    } else if first.contains(':') {
        format!("[{first}]:{port}")
    } else {
        format!("{first}:{port}")
    }
}

/// Go's `strings.Title`: upper-case the first letter of each word.
pub fn title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() { !(c.is_ascii_alphanumeric() || c == '_') } else { !c.is_alphanumeric() && c.is_whitespace() }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Compile a Go (RE2) regular expression.
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("error parsing regexp: {e}"))
}

/// Go's `Regexp.ReplaceAllString`: `$1`, `${name}` expand (a `$name` takes the longest name).
pub fn replace_all(pattern: &str, replacement: &str, text: &str) -> Result<String, String> {
    Ok(compile(pattern)?.replace_all(text, replacement).into_owned())
}

fn sample(v: &Value) -> Result<(&BTreeMap<String, Value>, f64), String> {
    if let Value::Struct(s) = v
        && s.type_name == "*template.sample"
        && let (Some((_, Value::Map(labels, _))), Some((_, Value::Float(value)))) = (s.fields.first(), s.fields.get(1))
    {
        return Ok((labels, *value));
    }
    Err(format!("wrong type for value; expected *template.sample; got {}", v.type_name()))
}

fn samples(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::List(items, _) => Ok(items.to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("wrong type for value; expected template.queryResult; got {}", other.type_name())),
    }
}

fn sample_value(s: &QuerySample) -> Value {
    Value::structure(
        "*template.sample",
        vec![("Labels", Value::string_map(&s.labels, MapKind::Strings)), ("Value", Value::Float(s.value))],
    )
}

fn str_fn(f: fn(&str) -> String) -> impl Fn(&Value) -> Result<Value, String> {
    move |v| Ok(Value::Str(f(&arg_str(v)?)))
}

fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].split(['?', '#']).next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// Prometheus' rule-template functions.
pub static FUNCTIONS: &[FuncDef] = &[
    FuncDef { name: "humanize", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Str(humanize(to_float(&a[0])?))) },
    FuncDef {
        name: "humanize1024",
        arity: Arity::Exact(1),
        imp: |_, a| Ok(Value::Str(humanize1024(to_float(&a[0])?))),
    },
    FuncDef {
        name: "humanizeDuration",
        arity: Arity::Exact(1),
        imp: |_, a| Ok(Value::Str(humanize_duration(to_float(&a[0])?))),
    },
    FuncDef {
        name: "humanizePercentage",
        arity: Arity::Exact(1),
        imp: |_, a| Ok(Value::Str(format!("{}%", g4(to_float(&a[0])? * 100.0)))),
    },
    FuncDef {
        name: "humanizeTimestamp",
        arity: Arity::Exact(1),
        imp: |_, a| {
            let v = to_float(&a[0])?;
            if !v.is_finite() {
                return Ok(Value::Str(g4(v)));
            }
            Ok(Value::Str(gotime::time_string(time_of(v)?)))
        },
    },
    FuncDef { name: "toTime", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Time(time_of(to_float(&a[0])?)?)) },
    FuncDef {
        name: "toDuration",
        arity: Arity::Exact(1),
        imp: |_, a| {
            let v = to_float(&a[0])?;
            if !v.is_finite() || v.abs() > 9.2e9 {
                return Err(format!("can't convert {} to duration", format_float_g(v, None)));
            }
            Ok(Value::Duration((v * 1e9).round() as i64))
        },
    },
    FuncDef {
        name: "parseDuration",
        arity: Arity::Exact(1),
        imp: |_, a| {
            let text = arg_str(&a[0])?;
            pharos_proto::duration::parse(&text).map(|d| Value::Float(d.as_secs_f64())).map_err(|e| e.to_string())
        },
    },
    FuncDef { name: "title", arity: Arity::Exact(1), imp: |_, a| str_fn(title)(&a[0]) },
    FuncDef { name: "toUpper", arity: Arity::Exact(1), imp: |_, a| str_fn(|s| s.to_uppercase())(&a[0]) },
    FuncDef { name: "toLower", arity: Arity::Exact(1), imp: |_, a| str_fn(|s| s.to_lowercase())(&a[0]) },
    FuncDef {
        name: "stripPort",
        arity: Arity::Exact(1),
        imp: |_, a| str_fn(|s| split_host_port(s).map_or(s, |(h, _)| h).to_string())(&a[0]),
    },
    FuncDef { name: "stripDomain", arity: Arity::Exact(1), imp: |_, a| str_fn(strip_domain)(&a[0]) },
    FuncDef {
        name: "match",
        arity: Arity::Exact(2),
        imp: |_, a| Ok(Value::Bool(compile(&arg_str(&a[0])?)?.is_match(&arg_str(&a[1])?))),
    },
    FuncDef {
        name: "reReplaceAll",
        arity: Arity::Exact(3),
        imp: |_, a| Ok(Value::Str(replace_all(&arg_str(&a[0])?, &arg_str(&a[1])?, &arg_str(&a[2])?)?)),
    },
    FuncDef {
        name: "graphLink",
        arity: Arity::Exact(1),
        imp: |_, a| {
            Ok(Value::Str(format!("/graph?g0.expr={}&g0.tab=0", super::functions::query_escape(&arg_str(&a[0])?))))
        },
    },
    FuncDef {
        name: "tableLink",
        arity: Arity::Exact(1),
        imp: |_, a| {
            Ok(Value::Str(format!("/graph?g0.expr={}&g0.tab=1", super::functions::query_escape(&arg_str(&a[0])?))))
        },
    },
    FuncDef { name: "safeHtml", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Html(arg_str(&a[0])?)) },
    FuncDef { name: "externalURL", arity: Arity::Exact(0), imp: |env, _| Ok(Value::str(env.external_url)) },
    FuncDef { name: "pathPrefix", arity: Arity::Exact(0), imp: |env, _| Ok(Value::Str(url_path(env.external_url))) },
    FuncDef {
        name: "args",
        arity: Arity::AtLeast(0),
        imp: |_, a| {
            let map = a.into_iter().enumerate().map(|(i, v)| (format!("arg{i}"), v)).collect();
            Ok(Value::Map(Rc::new(map), MapKind::Any))
        },
    },
    FuncDef {
        name: "first",
        arity: Arity::Exact(1),
        imp: |_, a| {
            samples(&a[0])?.into_iter().next().ok_or_else(|| "first() called on vector with no elements".into())
        },
    },
    FuncDef {
        name: "label",
        arity: Arity::Exact(2),
        imp: |_, a| {
            let name = arg_str(&a[0])?;
            let (labels, _) = sample(&a[1])?;
            Ok(labels.get(&name).cloned().unwrap_or_else(|| Value::str("")))
        },
    },
    FuncDef { name: "value", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Float(sample(&a[0])?.1)) },
    FuncDef {
        name: "strvalue",
        arity: Arity::Exact(1),
        imp: |_, a| Ok(sample(&a[0])?.0.get("__value__").cloned().unwrap_or_else(|| Value::str(""))),
    },
    FuncDef {
        name: "sortByLabel",
        arity: Arity::Exact(2),
        imp: |_, a| {
            let name = arg_str(&a[0])?;
            let mut items = samples(&a[1])?;
            let mut keyed = Vec::with_capacity(items.len());
            for item in items.drain(..) {
                let key = sample(&item)?.0.get(&name).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                keyed.push((key, item));
            }
            keyed.sort_by(|x, y| x.0.cmp(&y.0));
            Ok(Value::List(Rc::new(keyed.into_iter().map(|(_, v)| v).collect()), ListKind::Plain))
        },
    },
    FuncDef {
        name: "query",
        arity: Arity::Exact(1),
        imp: |env, a| {
            let expr = arg_str(&a[0])?;
            let Some(query) = env.query else { return Err("query is not available here".into()) };
            let result = query(&expr)?;
            Ok(Value::List(Rc::new(result.iter().map(sample_value).collect()), ListKind::Plain))
        },
    },
];

// Pharos — alerting/src/template/rule.rs
