//! Running a query's pipeline stages over one log entry.
//!
//! An entry starts with its base labels (stream labels, plus `detected_level`, see
//! [`detected_level`]) and its line. Stages run in the order written. Rules:
//! - Parsers (`json`, `logfmt`, `regexp`, `pattern`, `unpack`) add labels. A name that collides with
//!   a base label gets the suffix `_extracted`; within one stage the first occurrence wins, a later
//!   stage overwrites an earlier stage's label. Names are sanitised (`a.b-c` → `a_b_c`).
//! - `| json` flattens nested objects with `_` (`{"a":{"b":1}}` → `a_b="1"`), skips arrays and nulls;
//!   numbers and booleans keep their JSON text.
//! - Failures set `__error__` (first error wins): `JSONParserErr`, `LogfmtParserErr`,
//!   `LabelFilterErr` (a numeric label filter could not read the value; the line is kept),
//!   `TemplateFormatErr`, `SampleExtractionErr` (unwrap). `__error_details__` is not set.
//! - A numeric label filter on an absent label drops the line; string matchers read absent as "".

use std::borrow::Cow;

use serde_json::Value;

use super::ast::*;
use super::labels::{Labels, sanitize_label_name};
use super::params::{parse_bytes, parse_duration};
use super::template::TemplateInput;

pub const ERROR_LABEL: &str = "__error__";

/// The `detected_level` of an entry whose stream has no `level` label: the document's severity
/// (schema field `severity`) normalised to Grafana's level names — `trace`, `debug`, `info`, `warn`,
/// `error`, `critical`, `fatal` — other values lowercased, `unknown` when the document has none.
pub fn detected_level(severity: Option<&str>) -> String {
    let Some(s) = severity.map(str::trim).filter(|s| !s.is_empty()) else {
        return "unknown".into();
    };
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "trace" | "trc" => "trace",
        "debug" | "dbg" => "debug",
        "info" | "inf" | "information" | "informational" | "notice" => "info",
        "warn" | "warning" | "wrn" => "warn",
        "error" | "err" | "eror" => "error",
        "critical" | "crit" | "emerg" | "emergency" | "alert" => "critical",
        "fatal" | "ftl" | "panic" => "fatal",
        _ => return lower,
    }
    .into()
}

/// The result of running the pipeline over an entry that was kept.
pub struct Processed<'a> {
    pub line: Cow<'a, str>,
    /// Final labels, unsorted (see [`Processed::into_labels`]).
    pub labels: Vec<(String, String)>,
    /// The unwrapped value, when the query unwraps.
    pub value: Option<f64>,
}

impl Processed<'_> {
    pub fn into_labels(self) -> Labels {
        Labels::from_pairs(self.labels)
    }
}

/// Runs `stages` (and an unwrap) over an entry. `None` = the entry was filtered out.
pub fn run<'a>(
    stages: &[Stage],
    unwrap: Option<&Unwrap>,
    base: &Labels,
    line: &'a str,
    ts: i64,
) -> Option<Processed<'a>> {
    let mut st = State { base, labels: base.0.clone(), line: Cow::Borrowed(line), ts };
    for stage in stages {
        if !st.apply(stage) {
            return None;
        }
    }
    let mut value = None;
    if let Some(u) = unwrap {
        let raw = st.get(&u.label).map(str::trim);
        let parsed = raw.and_then(|raw| match u.conv {
            UnwrapConv::Number => parse_go_float(raw),
            UnwrapConv::Duration => parse_duration(raw).map(|n| n as f64 / 1e9).or_else(|| parse_signed_duration(raw)),
            UnwrapConv::Bytes => parse_bytes(raw).or_else(|| parse_go_float(raw)),
        });
        if parsed.is_none() {
            st.set_error("SampleExtractionErr");
        }
        value = Some(parsed.unwrap_or(0.0));
        st.remove(&u.label);
        for f in &u.post_filters {
            if !st.label_filter(f) {
                return None;
            }
        }
    }
    Some(Processed { line: st.line, labels: st.labels, value })
}

/// Whether a line passes a line filter.
pub fn line_filter_matches(f: &LineFilter, line: &str) -> bool {
    let any = f.needles.iter().any(|n| match n {
        LineNeedle::Text(t) => line.contains(t.as_str()),
        LineNeedle::Regex(r) => r.is_match(line),
        LineNeedle::Pattern(p) => pattern_match(p, line).is_some(),
    });
    match f.op {
        LineFilterOp::Contains | LineFilterOp::Match | LineFilterOp::Pattern => any,
        LineFilterOp::NotContains | LineFilterOp::NotMatch | LineFilterOp::NotPattern => !any,
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_signed_duration(s: &str) -> Option<f64> {
    let rest = s.strip_prefix('-')?;
    parse_duration(rest).map(|n| -(n as f64) / 1e9)
}

struct State<'b, 'a> {
    base: &'b Labels,
    labels: Vec<(String, String)>,
    line: Cow<'a, str>,
    ts: i64,
}

impl State<'_, '_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.labels.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => value.clone_into(&mut slot.1),
            None => self.labels.push((name.to_string(), value.to_string())),
        }
    }

    fn remove(&mut self, name: &str) {
        self.labels.retain(|(n, _)| n != name);
    }

    fn set_error(&mut self, err: &str) {
        if self.get(ERROR_LABEL).is_none() {
            self.labels.push((ERROR_LABEL.to_string(), err.to_string()));
        }
    }

    /// Adds the labels one parser stage extracted (first occurrence wins within the stage).
    fn add_parsed(&mut self, pairs: Vec<(String, String)>) {
        let mut seen: Vec<String> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if name.is_empty() {
                continue;
            }
            let name = if self.base.get(&name).is_some() { format!("{name}_extracted") } else { name };
            if seen.contains(&name) {
                continue;
            }
            self.set(&name, &value);
            seen.push(name);
        }
    }

    /// Applies one stage; false = drop the entry.
    fn apply(&mut self, stage: &Stage) -> bool {
        match stage {
            Stage::LineFilter(f) => return line_filter_matches(f, &self.line),
            Stage::Json(params) => match serde_json::from_str::<Value>(&self.line) {
                Ok(Value::Object(map)) => {
                    let mut out = Vec::new();
                    if params.is_empty() {
                        for (k, v) in &map {
                            flatten_json(&sanitize_label_name(k), v, &mut out);
                        }
                    } else {
                        let root = Value::Object(map);
                        for (name, path) in params {
                            if let Some(v) = json_lookup(&root, path) {
                                out.push((name.clone(), json_text(v)));
                            }
                        }
                    }
                    self.add_parsed(out);
                }
                _ => self.set_error("JSONParserErr"),
            },
            Stage::Logfmt { strict, keep_empty, params } => {
                let (pairs, ok) = parse_logfmt(&self.line, *strict, *keep_empty);
                let pairs = if params.is_empty() {
                    pairs.into_iter().map(|(k, v)| (sanitize_label_name(&k), v)).collect()
                } else {
                    params
                        .iter()
                        .filter_map(|(name, key)| {
                            pairs.iter().find(|(k, _)| k == key).map(|(_, v)| (name.clone(), v.clone()))
                        })
                        .collect()
                };
                self.add_parsed(pairs);
                if !ok {
                    self.set_error("LogfmtParserErr");
                }
            }
            Stage::Regexp(re) => {
                if let Some(caps) = re.captures(&self.line) {
                    let pairs = re
                        .capture_names()
                        .flatten()
                        .filter_map(|n| caps.name(n).map(|m| (n.to_string(), m.as_str().to_string())))
                        .collect();
                    self.add_parsed(pairs);
                }
            }
            Stage::Pattern(p) => {
                if let Some(pairs) = pattern_match(p, &self.line) {
                    self.add_parsed(pairs);
                }
            }
            Stage::Unpack => match serde_json::from_str::<Value>(&self.line) {
                Ok(Value::Object(map)) => {
                    let mut out = Vec::new();
                    let mut entry = None;
                    for (k, v) in map {
                        if let Value::String(s) = v {
                            if k == "_entry" {
                                entry = Some(s);
                            } else {
                                out.push((sanitize_label_name(&k), s));
                            }
                        }
                    }
                    self.add_parsed(out);
                    if let Some(e) = entry {
                        self.line = Cow::Owned(e);
                    }
                }
                _ => self.set_error("JSONParserErr"),
            },
            Stage::Decolorize => {
                if self.line.contains('\u{1b}') {
                    self.line = Cow::Owned(strip_ansi(&self.line));
                }
            }
            Stage::LabelFilter(f) => return self.label_filter(f),
            Stage::LineFormat(t) => {
                let rendered =
                    t.render(&TemplateInput { labels: &self.labels, line: &self.line, timestamp_nanos: self.ts });
                match rendered {
                    Ok(s) => self.line = Cow::Owned(s),
                    Err(_) => self.set_error("TemplateFormatErr"),
                }
            }
            Stage::LabelFormat(fmts) => {
                for f in fmts {
                    match f {
                        LabelFormat::Rename { dst, src } => {
                            if let Some(v) = self.get(src).map(str::to_string) {
                                self.remove(src);
                                self.set(dst, &v);
                            }
                        }
                        LabelFormat::Template { dst, template } => {
                            let rendered = template.render(&TemplateInput {
                                labels: &self.labels,
                                line: &self.line,
                                timestamp_nanos: self.ts,
                            });
                            match rendered {
                                Ok(v) => self.set(dst, &v),
                                Err(_) => self.set_error("TemplateFormatErr"),
                            }
                        }
                    }
                }
            }
            Stage::Drop(names) => {
                self.labels.retain(|(n, v)| {
                    !names.iter().any(|d| d.name == *n && d.matcher.as_ref().is_none_or(|m| m.matches(v)))
                });
            }
            Stage::Keep(names) => {
                self.labels.retain(|(n, v)| {
                    names.iter().any(|k| k.name == *n && k.matcher.as_ref().is_none_or(|m| m.matches(v)))
                });
            }
        }
        true
    }

    fn label_filter(&mut self, f: &LabelFilter) -> bool {
        match f {
            LabelFilter::And(a, b) => self.label_filter(a) && self.label_filter(b),
            LabelFilter::Or(a, b) => self.label_filter(a) || self.label_filter(b),
            LabelFilter::Matcher(m) => m.matches(self.get(&m.name).unwrap_or("")),
            LabelFilter::Compare { name, op, value, kind } => {
                let Some(raw) = self.get(name).map(str::trim) else {
                    return false;
                };
                let parsed = match kind {
                    NumKind::Number => parse_go_float(raw),
                    NumKind::Duration => {
                        parse_duration(raw).map(|n| n as f64 / 1e9).or_else(|| parse_signed_duration(raw))
                    }
                    NumKind::Bytes => parse_bytes(raw).or_else(|| parse_go_float(raw)),
                };
                match parsed {
                    Some(v) => op.apply(v, *value),
                    None => {
                        self.set_error("LabelFilterErr");
                        true
                    }
                }
            }
        }
    }
}

fn flatten_json(key: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_json(&format!("{key}_{}", sanitize_label_name(k)), v, out);
            }
        }
        Value::Array(_) | Value::Null => {}
        Value::String(s) => out.push((key.to_string(), s.clone())),
        Value::Number(n) => out.push((key.to_string(), n.to_string())),
        Value::Bool(b) => out.push((key.to_string(), b.to_string())),
    }
}

fn json_lookup<'v>(root: &'v Value, path: &JsonPath) -> Option<&'v Value> {
    let mut cur = root;
    for part in path {
        cur = match (part, cur) {
            (JsonPathPart::Key(k), Value::Object(m)) => m.get(k)?,
            (JsonPathPart::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Splits a logfmt line into pairs. Returns the pairs read and whether the line was well formed.
/// Standalone keys (no `=`) are kept with "" only with `keep_empty`; `strict` stops at the first
/// malformed token, otherwise it is skipped.
pub fn parse_logfmt(line: &str, strict: bool, keep_empty: bool) -> (Vec<(String, String)>, bool) {
    let mut out = Vec::new();
    let mut ok = true;
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else { break };
        let mut key_end = line.len();
        let mut bad_key = false;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                key_end = i;
                break;
            }
            if c == '"' || c.is_control() {
                bad_key = true;
            }
            chars.next();
        }
        let key = &line[start..key_end.max(start)];
        if key.is_empty() || bad_key {
            ok = false;
            if strict {
                break;
            }
            // Skip the malformed token.
            while chars.peek().is_some_and(|(_, c)| !c.is_whitespace()) {
                chars.next();
            }
            continue;
        }
        if chars.peek().map(|(_, c)| *c) != Some('=') {
            if keep_empty {
                out.push((key.to_string(), String::new()));
            }
            continue;
        }
        chars.next();
        let value = if chars.peek().map(|(_, c)| *c) == Some('"') {
            chars.next();
            let mut v = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => v.push('\n'),
                        Some((_, 't')) => v.push('\t'),
                        Some((_, 'r')) => v.push('\r'),
                        Some((_, c)) => v.push(c),
                        None => break,
                    },
                    c => v.push(c),
                }
            }
            if !closed {
                ok = false;
                if strict {
                    break;
                }
                continue;
            }
            v
        } else {
            let vstart = chars.peek().map_or(line.len(), |(i, _)| *i);
            let mut vend = line.len();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    vend = i;
                    break;
                }
                chars.next();
            }
            line[vstart..vend.max(vstart)].to_string()
        };
        out.push((key.to_string(), value));
    }
    (out, ok)
}

/// Matches a pattern against the whole line; returns the named captures.
pub fn pattern_match(p: &Pattern, line: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = line;
    let mut parts = p.parts.iter().peekable();
    while let Some(part) = parts.next() {
        match part {
            PatternPart::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
            PatternPart::Capture(name) => {
                let (value, after) = match parts.peek() {
                    Some(PatternPart::Literal(lit)) => {
                        let at = rest.find(lit.as_str())?;
                        (&rest[..at], &rest[at..])
                    }
                    _ => (rest, ""),
                };
                if let Some(n) = name {
                    out.push((n.clone(), value.to_string()));
                }
                rest = after;
            }
        }
    }
    // A pattern that ends with a literal matches lines with trailing text too (as Loki's).
    Some(out)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            while let Some(&d) = chars.peek() {
                chars.next();
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn stages(q: &str) -> (Vec<Stage>, Option<Unwrap>) {
        match parse(q).unwrap() {
            Expr::Log(l) => (l.stages, None),
            Expr::Metric(MetricExpr::Range(r)) => (r.log.stages, r.unwrap),
            other => panic!("{other:?}"),
        }
    }

    fn base() -> Labels {
        Labels::from_pairs(vec![("app".into(), "x".into()), ("detected_level".into(), "info".into())])
    }

    fn run_q(q: &str, line: &str) -> Option<(String, String)> {
        let (s, u) = stages(q);
        run(&s, u.as_ref(), &base(), line, 0).map(|p| (p.line.to_string(), p.into_labels().to_string()))
    }

    #[test]
    fn json_flattens_and_suffixes_collisions() {
        let (line, labels) =
            run_q(r#"{app="x"} | json"#, r#"{"a":{"b":1,"c-d":"e"},"app":"y","arr":[1],"n":null,"ok":true}"#).unwrap();
        assert_eq!(line, r#"{"a":{"b":1,"c-d":"e"},"app":"y","arr":[1],"n":null,"ok":true}"#);
        assert_eq!(labels, r#"{a_b="1", a_c_d="e", app="x", app_extracted="y", detected_level="info", ok="true"}"#);
        let (_, labels) = run_q(r#"{app="x"} | json"#, "not json").unwrap();
        assert_eq!(labels, r#"{__error__="JSONParserErr", app="x", detected_level="info"}"#);
        let (_, labels) =
            run_q(r#"{app="x"} | json first="arr[0]", inner="a.b", whole="a""#, r#"{"a":{"b":2},"arr":[7,8]}"#)
                .unwrap();
        assert_eq!(labels, r#"{app="x", detected_level="info", first="7", inner="2", whole="{\"b\":2}"}"#);
    }

    #[test]
    fn logfmt_and_errors() {
        let (_, labels) =
            run_q(r#"{app="x"} | logfmt"#, r#"level=error msg="a \"quoted\" msg" dur=1.5s bare"#).unwrap();
        assert_eq!(labels, r#"{app="x", detected_level="info", dur="1.5s", level="error", msg="a \"quoted\" msg"}"#);
        let (_, labels) = run_q(r#"{app="x"} | logfmt --keep-empty"#, "a=1 bare").unwrap();
        assert!(labels.contains("bare=\"\""));
        let (_, labels) = run_q(r#"{app="x"} | logfmt"#, r#"a=1 b="unterminated"#).unwrap();
        assert!(labels.contains("__error__=\"LogfmtParserErr\"") && labels.contains("a=\"1\""), "{labels}");
        let (_, labels) = run_q(r#"{app="x"} | logfmt"#, "=oops a=1").unwrap();
        assert!(labels.contains("LogfmtParserErr") && labels.contains("a=\"1\""), "{labels}");
    }

    #[test]
    fn filters_and_formats() {
        let q = r#"{app="x"} |= "GET" | logfmt | status >= 400 and dur > 1s | line_format "{{.status}} {{ .path | ToUpper }}""#;
        assert_eq!(run_q(q, "GET path=/a status=500 dur=2s").unwrap().0, "500 /A");
        assert!(run_q(q, "GET path=/a status=200 dur=2s").is_none());
        assert!(run_q(q, "GET path=/a status=500 dur=10ms").is_none());
        assert!(run_q(q, "POST path=/a status=500 dur=2s").is_none());
        // Conversion failure keeps the line with LabelFilterErr; an absent label drops it.
        let (_, labels) = run_q(r#"{app="x"} | logfmt | status > 1"#, "status=abc").unwrap();
        assert!(labels.contains("LabelFilterErr"));
        assert!(run_q(r#"{app="x"} | logfmt | status > 1"#, "other=1").is_none());
        assert!(run_q(r#"{app="x"} | size > 1KB"#, "x").is_none());
        let (_, l) = run_q(r#"{app="x"} | logfmt | size > 1KB"#, "size=2KiB").unwrap();
        assert!(l.contains("size=\"2KiB\""));
        // String filters: absent = "".
        assert!(run_q(r#"{app="x"} | level="""#, "x").is_some());
        assert!(run_q(r#"{app="x"} | detected_level=~"inf.*" or app="z""#, "x").is_some());
        assert!(run_q(r#"{app="x"} | detected_level="error" or app="z""#, "x").is_none());
    }

    #[test]
    fn line_filters() {
        let q = |f: &str, line: &str| run_q(&format!("{{app=\"x\"}} {f}"), line).is_some();
        assert!(q(r#"|= "err""#, "an error"));
        assert!(!q(r#"!= "err""#, "an error"));
        assert!(q(r#"|~ "(?i)ERR""#, "an error"));
        assert!(q(r#"!~ "^x""#, "an error"));
        assert!(q(r#"|= "foo" or "err""#, "an error"));
        assert!(!q(r#"!= "foo" or "err""#, "an error"));
        assert!(q(r#"|> "<_> error""#, "an error"));
        assert!(!q(r#"|> "error <_>""#, "an error"));
    }

    #[test]
    fn label_format_drop_keep() {
        let (_, l) =
            run_q(r#"{app="x"} | logfmt | label_format svc=app, msg2="{{.a}}-{{.b}}" | drop a, b="2""#, "a=1 b=2")
                .unwrap();
        assert_eq!(l, r#"{detected_level="info", msg2="1-2", svc="x"}"#);
        let (_, l) = run_q(r#"{app="x"} | logfmt | keep app, a"#, "a=1 b=2").unwrap();
        assert_eq!(l, r#"{a="1", app="x"}"#);
        let (_, l) = run_q(r#"{app="x"} | json | drop __error__"#, "nope").unwrap();
        assert_eq!(l, r#"{app="x", detected_level="info"}"#);
    }

    #[test]
    fn regexp_pattern_unpack_decolorize() {
        let (_, l) = run_q(r#"{app="x"} | regexp "(?P<method>\\w+) (?P<path>\\S+)""#, "GET /x 200").unwrap();
        assert!(l.contains("method=\"GET\"") && l.contains("path=\"/x\""));
        let (_, l) = run_q(
            r#"{app="x"} | pattern "<ip> - - [<_>] \"<method> <path> <_>\"""#,
            r#"1.2.3.4 - - [date] "GET /p HTTP/1.1" 200"#,
        )
        .unwrap();
        assert!(l.contains("ip=\"1.2.3.4\"") && l.contains("method=\"GET\"") && l.contains("path=\"/p\""), "{l}");
        let (line, l) = run_q(r#"{app="x"} | unpack"#, r#"{"_entry":"orig","pod":"p1"}"#).unwrap();
        assert_eq!(line, "orig");
        assert!(l.contains("pod=\"p1\""));
        assert_eq!(run_q(r#"{app="x"} | decolorize"#, "\u{1b}[31mred\u{1b}[0m").unwrap().0, "red");
    }

    #[test]
    fn unwrap_values() {
        let (s, u) = stages(r#"sum_over_time({app="x"} | logfmt | unwrap duration(d) [1m])"#);
        let p = run(&s, u.as_ref(), &base(), "d=250ms k=v", 0).unwrap();
        assert_eq!(p.value, Some(0.25));
        assert!(!p.labels.iter().any(|(n, _)| n == "d"));
        let p = run(&s, u.as_ref(), &base(), "d=zzz", 0).unwrap();
        assert!(p.labels.iter().any(|(n, v)| n == ERROR_LABEL && v == "SampleExtractionErr"));
        let (s, u) = stages(r#"sum_over_time({app="x"} | logfmt | unwrap n | __error__="" [1m])"#);
        assert!(run(&s, u.as_ref(), &base(), "n=abc", 0).is_none());
        assert_eq!(run(&s, u.as_ref(), &base(), "n=4.5", 0).unwrap().value, Some(4.5));
    }

    #[test]
    fn detected_levels() {
        assert_eq!(detected_level(Some("ERROR")), "error");
        assert_eq!(detected_level(Some("Warning")), "warn");
        assert_eq!(detected_level(Some("Notice")), "info");
        assert_eq!(detected_level(Some("CUSTOM")), "custom");
        assert_eq!(detected_level(None), "unknown");
    }
}

// Pharos — query/src/loki/pipeline.rs
