//! Alertmanager notification templates: the data a notification renders (`.Receiver`,
//! `.Status`, `.Alerts`, `.GroupLabels`, …), Alertmanager's template functions, and [`Templates`],
//! the set of named templates (Pharos' defaults plus the files of `templates:`) that receiver
//! fields are rendered against. Missing map keys read as "" (Alertmanager's `missingkey=zero`).

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use super::TemplateError;
use super::exec::{Env, Library, Options, execute};
use super::functions::{Arity, Dialect, FuncDef, arg_str, arg_strings, arg_time};
use super::gotime::{self, GO_ZERO_TIME};
use super::parser::{self, Tree};
use super::rule::{compile, humanize_duration, replace_all, title, to_float};
use super::value::{ListKind, MapKind, Value};

/// Pharos' default notification templates: the names Alertmanager's `default.tmpl` defines.
const DEFAULT_TEMPLATES: &str = include_str!("../../templates/default.tmpl");

/// What a notification template sees (Alertmanager's `template.Data`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NotificationData {
    /// The receiver's name; shown regexp-quoted as Alertmanager does (`.` → `\.`).
    pub receiver: String,
    /// "firing" when any alert fires, else "resolved".
    pub status: String,
    pub alerts: Vec<AlertData>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
}

/// One alert of a notification (Alertmanager's `template.Alert`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertData {
    /// "firing" or "resolved".
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Nanoseconds since the epoch.
    pub starts_at: i64,
    /// Nanoseconds since the epoch; 0 = unset (Go's zero time `0001-01-01 00:00:00 +0000 UTC`).
    pub ends_at: i64,
    pub generator_url: String,
    pub fingerprint: String,
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn time_value(nanos: i64) -> Value {
    Value::Time(if nanos == 0 { GO_ZERO_TIME } else { nanos })
}

impl AlertData {
    fn to_value(&self) -> Value {
        Value::structure(
            "template.Alert",
            vec![
                ("Status", Value::str(&self.status)),
                ("Labels", Value::string_map(&self.labels, MapKind::Kv)),
                ("Annotations", Value::string_map(&self.annotations, MapKind::Kv)),
                ("StartsAt", time_value(self.starts_at)),
                ("EndsAt", time_value(self.ends_at)),
                ("GeneratorURL", Value::str(&self.generator_url)),
                ("Fingerprint", Value::str(&self.fingerprint)),
            ],
        )
    }
}

impl NotificationData {
    fn to_value(&self) -> Value {
        let alerts = self.alerts.iter().map(AlertData::to_value).collect();
        Value::structure(
            "template.Data",
            vec![
                ("Receiver", Value::Str(quote_meta(&self.receiver))),
                ("Status", Value::str(&self.status)),
                ("Alerts", Value::List(Rc::new(alerts), ListKind::Alerts)),
                ("GroupLabels", Value::string_map(&self.group_labels, MapKind::Kv)),
                ("CommonLabels", Value::string_map(&self.common_labels, MapKind::Kv)),
                ("CommonAnnotations", Value::string_map(&self.common_annotations, MapKind::Kv)),
                ("ExternalURL", Value::str(&self.external_url)),
            ],
        )
    }
}

/// `KV.SortedPairs`: pairs sorted by name, except that `alertname` comes first.
pub fn sorted_pairs(map: &BTreeMap<String, Value>) -> Value {
    let pair =
        |k: &String, v: &Value| Value::structure("template.Pair", vec![("Name", Value::str(k)), ("Value", v.clone())]);
    let first = map.get_key_value("alertname").map(|(k, v)| pair(k, v));
    let rest = map.iter().filter(|(k, _)| k.as_str() != "alertname").map(|(k, v)| pair(k, v));
    Value::List(Rc::new(first.into_iter().chain(rest).collect()), ListKind::Pairs)
}

/// `Pairs.Names` / `Pairs.Values`: one field of every pair, as a string list.
pub fn pair_column(pairs: &Value, field: &str) -> Value {
    let Value::List(items, _) = pairs else { return Value::list(Vec::new()) };
    let column = items
        .iter()
        .filter_map(|p| match p {
            Value::Struct(s) => s.fields.iter().find(|(f, _)| *f == field).map(|(_, v)| v.clone()),
            _ => None,
        })
        .collect();
    Value::list(column)
}

/// `Alerts.Firing` / `Alerts.Resolved`.
pub fn alerts_with_status(alerts: &[Value], status: &str) -> Value {
    let matching = alerts
        .iter()
        .filter(|a| match a {
            Value::Struct(s) => s.fields.iter().any(|(f, v)| *f == "Status" && v.as_str() == Some(status)),
            _ => false,
        })
        .cloned()
        .collect();
    Value::List(Rc::new(matching), ListKind::Alerts)
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Alertmanager's template functions.
pub static FUNCTIONS: &[FuncDef] = &[
    FuncDef { name: "toUpper", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Str(arg_str(&a[0])?.to_uppercase())) },
    FuncDef { name: "toLower", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Str(arg_str(&a[0])?.to_lowercase())) },
    FuncDef { name: "title", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Str(title(&arg_str(&a[0])?))) },
    FuncDef { name: "trimSpace", arity: Arity::Exact(1), imp: |_, a| Ok(Value::str(arg_str(&a[0])?.trim())) },
    FuncDef {
        name: "join",
        arity: Arity::Exact(2),
        imp: |_, a| Ok(Value::Str(arg_strings(&a[1])?.join(&arg_str(&a[0])?))),
    },
    FuncDef {
        name: "match",
        arity: Arity::Exact(2),
        imp: |_, a| Ok(Value::Bool(compile(&arg_str(&a[0])?)?.is_match(&arg_str(&a[1])?))),
    },
    FuncDef { name: "safeHtml", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Html(arg_str(&a[0])?)) },
    FuncDef { name: "safeUrl", arity: Arity::Exact(1), imp: |_, a| Ok(Value::Str(arg_str(&a[0])?)) },
    FuncDef {
        name: "urlUnescape",
        arity: Arity::Exact(1),
        imp: |_, a| Ok(Value::Str(query_unescape(&arg_str(&a[0])?)?)),
    },
    FuncDef {
        name: "reReplaceAll",
        arity: Arity::Exact(3),
        imp: |_, a| Ok(Value::Str(replace_all(&arg_str(&a[0])?, &arg_str(&a[1])?, &arg_str(&a[2])?)?)),
    },
    FuncDef {
        name: "stringSlice",
        arity: Arity::AtLeast(0),
        imp: |_, a| Ok(Value::list(a.iter().map(|v| arg_str(v).map(Value::Str)).collect::<Result<_, _>>()?)),
    },
    FuncDef {
        name: "date",
        arity: Arity::Exact(2),
        imp: |_, a| Ok(Value::Str(gotime::format_layout(arg_time(&a[1])?, &arg_str(&a[0])?))),
    },
    FuncDef {
        name: "tz",
        arity: Arity::Exact(2),
        imp: |_, a| {
            let name = arg_str(&a[0])?;
            let t = arg_time(&a[1])?;
            match name.as_str() {
                "" | "UTC" | "Etc/UTC" | "Local" => Ok(Value::Time(t)),
                other => Err(format!("unknown time zone {other}")),
            }
        },
    },
    FuncDef {
        name: "since",
        arity: Arity::Exact(1),
        imp: |env, a| {
            let t = arg_time(&a[0])?;
            let start = if t == GO_ZERO_TIME { i64::MIN } else { t };
            Ok(Value::Duration(env.now.saturating_sub(start)))
        },
    },
    FuncDef {
        name: "humanizeDuration",
        arity: Arity::Exact(1),
        imp: |_, a| Ok(Value::Str(humanize_duration(to_float(&a[0])?))),
    },
];

/// A set of named notification templates. Cheap to clone; shareable across threads.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    defined: BTreeMap<String, Arc<Tree>>,
}

impl Templates {
    /// The templates of Pharos' `default.tmpl` (Alertmanager's default names).
    pub fn with_defaults() -> Templates {
        let mut templates = Templates::default();
        templates.add_text("default.tmpl", DEFAULT_TEMPLATES).expect("the built-in default.tmpl parses");
        templates
    }

    /// Add the `{{define}}` blocks of a template text; later definitions replace earlier ones.
    pub fn add_text(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let parsed = parser::parse(name, text, Dialect::Notification).map_err(|e| TemplateError::parse(name, e))?;
        self.defined.extend(parsed.defined);
        Ok(())
    }

    /// Add a user's template file (`{{define}}` blocks), replacing same-named templates.
    pub fn add_file(&mut self, path: &Path) -> Result<(), TemplateError> {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let text = std::fs::read_to_string(path)
            .map_err(|e| TemplateError::other(&name, format!("reading {}: {e}", path.display())))?;
        self.add_text(&name, &text)
    }

    /// Add every file matching an alertmanager.yml `templates:` pattern (`*`, `?` and `[…]` in any
    /// path component, as Go's `filepath.Glob`), in sorted order. Returns how many files were added;
    /// a pattern matching nothing adds none and is not an error.
    pub fn add_glob(&mut self, pattern: &str) -> Result<usize, TemplateError> {
        let files = crate::file_glob::expand_glob(pattern).map_err(|e| TemplateError::other(pattern, e))?;
        for file in &files {
            self.add_file(file)?;
        }
        Ok(files.len())
    }

    /// Whether a template is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.defined.contains_key(name)
    }

    /// Parse a configuration field's template text.
    pub fn check_text(&self, text: &str) -> Result<(), TemplateError> {
        parser::parse("", text, Dialect::Notification).map(|_| ()).map_err(|e| TemplateError::parse("", e))
    }

    /// Render a field with `text/template` semantics.
    pub fn render(&self, text: &str, data: &NotificationData) -> Result<String, TemplateError> {
        self.render_with(text, data, false, pharos_proto::civil_time::now_nanos())
    }

    /// Render a field as `html/template` would: printed values are HTML-escaped unless they come
    /// from `safeHtml`; the templates' own text is copied as written.
    pub fn render_html(&self, text: &str, data: &NotificationData) -> Result<String, TemplateError> {
        self.render_with(text, data, true, pharos_proto::civil_time::now_nanos())
    }

    /// Render with an explicit "now" (ns) for `since`.
    pub fn render_with(
        &self,
        text: &str,
        data: &NotificationData,
        html: bool,
        now: i64,
    ) -> Result<String, TemplateError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        let parsed = parser::parse("", text, Dialect::Notification).map_err(|e| TemplateError::parse("", e))?;
        let library = Library { local: &parsed.defined, shared: &self.defined };
        let env = Env { query: None, external_url: &data.external_url, now };
        let options = Options { dialect: Dialect::Notification, html, missing_key_zero: true };
        execute(&parsed.main, data.to_value(), &library, &env, options).map_err(TemplateError::exec)
    }
}

// Pharos — alerting/src/template/notification.rs
