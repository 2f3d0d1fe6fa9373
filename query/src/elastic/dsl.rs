//! Elasticsearch query DSL → tantivy queries.
//!
//! A request's `query` is parsed once into [`QueryNode`] (validation errors surface here, as
//! Elasticsearch's `parsing_exception`) and compiled per partition with [`Compiler`], which knows the
//! partition's time bounds: a `@timestamp` range covering the whole partition disappears, one
//! missing it entirely makes the partition match nothing.
//!
//! Field names resolve with [`LogSchema::resolve`]. Approximations, dictated by how the schema
//! indexes documents:
//! - `attributes` string values are keywords, as Elasticsearch's `keyword` type: `term`, `match`
//!   and `match_phrase` on an attribute match the whole value exactly, case-sensitively. Full text
//!   is `message`'s: there, `term` becomes a phrase of the value's tokens (case-insensitive).
//! - Numbers in attributes are indexed as i64, u64 or f64 depending on the JSON value; a numeric
//!   `term` looks for every representation, a numeric `range` goes through the fast field, which
//!   covers all of them.
//! - `severity`, `service`, `_index`, `_stream`, `trace_id`, `span_id` are exact keyword fields.
//! - Unqualified words of a `query_string` search `message` (analyzed) and `severity`
//!   (exact, in the case written, lowercase and uppercase) rather than every field.
//! - `exists` on `message`, `trace_id` or `span_id` walks their term dictionary (these fields have
//!   no fast column): correct but slow on large partitions.
//! - `ids` is refused: documents have no stored `_id` (see `search`).

use std::ops::Bound;

use serde_json::{Map, Value};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, ExistsQuery, Occur, PhrasePrefixQuery,
    PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{DateTimePrecision, Field, IndexRecordOption};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{DateTime, Term};

use super::error::EsError;
use super::time;
use super::{LogSchema, ResolvedField};

/// Where a field named in a query lives, and how it is indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The name as the user wrote it, without `.keyword`.
    pub name: String,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// `@timestamp`: date, nanoseconds, indexed and fast.
    Timestamp,
    /// `message`: analyzed text with positions.
    Text(Field),
    /// An untokenized string field; `lowercase` for the id fields stored lowercased.
    Keyword { field: Field, lowercase: bool, fast: bool },
    /// A path inside `attributes`.
    Json { path: String },
}

impl FieldRef {
    pub fn resolve(schema: &LogSchema, name: &str) -> FieldRef {
        let clean = name.strip_suffix(".keyword").unwrap_or(name).to_string();
        let kind = match schema.resolve(name) {
            ResolvedField::Json { path, .. } => FieldKind::Json { path },
            ResolvedField::Field(f) if f == schema.timestamp => FieldKind::Timestamp,
            ResolvedField::Field(f) if f == schema.message => FieldKind::Text(f),
            ResolvedField::Field(f) if f == schema.trace_id || f == schema.span_id => {
                FieldKind::Keyword { field: f, lowercase: true, fast: false }
            }
            ResolvedField::Field(f) => FieldKind::Keyword { field: f, lowercase: false, fast: true },
        };
        FieldRef { name: clean, kind }
    }
}

/// A bound of a `range`, already typed for its field.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeValue {
    Nanos(i64),
    Num(f64),
    Str(String),
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryNode {
    All,
    None,
    Bool(BoolNode),
    /// Analyzed match: any (`and == false`) or all of the text's tokens.
    Match {
        field: FieldRef,
        text: String,
        and: bool,
    },
    /// Unqualified words of a query string (default fields).
    Text {
        text: String,
        and: bool,
        fields: Vec<FieldRef>,
    },
    Phrase {
        field: FieldRef,
        text: String,
        slop: u32,
        prefix: bool,
    },
    Term {
        field: FieldRef,
        value: Value,
    },
    Terms {
        field: FieldRef,
        values: Vec<Value>,
    },
    Range {
        field: FieldRef,
        lower: Bound<RangeValue>,
        upper: Bound<RangeValue>,
    },
    Exists {
        field: FieldRef,
    },
    /// A regular expression over whole terms (wildcards and prefixes are translated to one).
    Regex {
        field: FieldRef,
        regex: String,
    },
    Boost(Box<QueryNode>, f32),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoolNode {
    pub must: Vec<QueryNode>,
    pub filter: Vec<QueryNode>,
    pub should: Vec<QueryNode>,
    pub must_not: Vec<QueryNode>,
    pub minimum_should_match: Option<Value>,
}

fn parsing(msg: impl Into<String>) -> EsError {
    EsError::Parsing(msg.into())
}

/// Parses a `query` object of the DSL.
pub fn parse_query(schema: &LogSchema, value: &Value) -> Result<QueryNode, EsError> {
    let Value::Object(obj) = value else {
        return Err(parsing("query malformed, must start with start_object"));
    };
    if obj.is_empty() {
        return Ok(QueryNode::All);
    }
    let mut it = obj.iter();
    let (kind, body) = it.next().expect("non-empty");
    if let Some((second, _)) = it.next() {
        return Err(parsing(format!(
            "[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ({second})"
        )));
    }
    let node = match kind.as_str() {
        "match_all" => boosted(QueryNode::All, body),
        "match_none" => QueryNode::None,
        "bool" => parse_bool(schema, body)?,
        "constant_score" => {
            let filter = body.get("filter").ok_or_else(|| parsing("[constant_score] requires a 'filter' element"))?;
            parse_query(schema, filter)?
        }
        "query_string" | "simple_query_string" => parse_query_string(schema, kind, body)?,
        "match" | "match_phrase" | "match_phrase_prefix" | "match_bool_prefix" => {
            let (field, params) = field_params(kind, body, &["query"])?;
            let text = scalar_text(params.get("query").unwrap_or(&Value::Null), kind)?;
            let field = FieldRef::resolve(schema, field);
            let node = match kind.as_str() {
                "match" => {
                    let and =
                        params.get("operator").and_then(Value::as_str).is_some_and(|o| o.eq_ignore_ascii_case("and"));
                    QueryNode::Match { field, text, and }
                }
                "match_bool_prefix" => QueryNode::Match { field, text, and: false },
                _ => {
                    let slop = params.get("slop").and_then(as_u64).unwrap_or(0) as u32;
                    QueryNode::Phrase { field, text, slop, prefix: kind == "match_phrase_prefix" }
                }
            };
            boosted(node, &Value::Object(params))
        }
        "multi_match" => {
            let text = scalar_text(body.get("query").unwrap_or(&Value::Null), kind)?;
            let and = body.get("operator").and_then(Value::as_str).is_some_and(|o| o.eq_ignore_ascii_case("and"));
            let phrase = body.get("type").and_then(Value::as_str).is_some_and(|t| t.starts_with("phrase"));
            let fields = string_list(body.get("fields")).unwrap_or_else(|| vec!["*".into()]);
            let should = expand_fields(schema, &fields)
                .into_iter()
                .map(|field| {
                    if phrase {
                        QueryNode::Phrase { field, text: text.clone(), slop: 0, prefix: false }
                    } else {
                        QueryNode::Match { field, text: text.clone(), and }
                    }
                })
                .collect();
            QueryNode::Bool(BoolNode { should, ..Default::default() })
        }
        "term" => {
            let (field, params) = field_params(kind, body, &["value"])?;
            let value = params.get("value").cloned().unwrap_or(Value::Null);
            if value.is_null() || value.is_object() || value.is_array() {
                return Err(parsing("[term] query does not support array or object values"));
            }
            boosted(QueryNode::Term { field: FieldRef::resolve(schema, field), value }, &Value::Object(params))
        }
        "terms" => {
            let obj =
                body.as_object().ok_or_else(|| parsing("[terms] query malformed, no start_object after query name"))?;
            let mut fields = obj.iter().filter(|(k, _)| !matches!(k.as_str(), "boost" | "_name"));
            let (field, values) = fields.next().ok_or_else(|| parsing("[terms] query requires a field"))?;
            if fields.next().is_some() {
                return Err(parsing("[terms] query does not support multiple fields"));
            }
            let Value::Array(values) = values else {
                return Err(parsing(format!(
                    "[terms] query does not support [{field}] (terms lookup is not supported)"
                )));
            };
            QueryNode::Terms { field: FieldRef::resolve(schema, field), values: values.clone() }
        }
        "range" => parse_range(schema, body)?,
        "exists" => {
            let field = body
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| parsing("[exists] must be provided with a [field]"))?;
            QueryNode::Exists { field: FieldRef::resolve(schema, field) }
        }
        "prefix" | "wildcard" | "regexp" => {
            let (field, params) = field_params(kind, body, &["value"])?;
            let raw = params.get("value").or_else(|| params.get("wildcard")).and_then(Value::as_str);
            let raw = raw.ok_or_else(|| parsing(format!("[{kind}] query requires a string value")))?;
            let ci = params.get("case_insensitive").and_then(Value::as_bool).unwrap_or(false);
            let field = FieldRef::resolve(schema, field);
            let regex = match kind.as_str() {
                "prefix" => format!("{}.*", regex_escape(raw)),
                "wildcard" => wildcard_to_regex(raw),
                _ => raw.to_string(),
            };
            let regex = if ci { format!("(?i){regex}") } else { regex };
            QueryNode::Regex { field, regex }
        }
        "ids" | "nested" | "has_child" | "has_parent" | "geo_distance" | "geo_bounding_box" | "geo_shape"
        | "script" | "script_score" | "function_score" | "more_like_this" | "fuzzy" | "percolate" | "knn"
        | "span_term" | "dis_max" | "boosting" | "pinned" | "distance_feature" | "rank_feature" | "intervals"
        | "combined_fields" | "terms_set" => {
            return Err(parsing(format!("query [{kind}] is not supported")));
        }
        other => return Err(parsing(format!("unknown query [{other}]"))),
    };
    Ok(node)
}

fn boosted(node: QueryNode, params: &Value) -> QueryNode {
    match params.get("boost").and_then(Value::as_f64) {
        Some(b) if (b - 1.0).abs() > f64::EPSILON => QueryNode::Boost(Box::new(node), b as f32),
        _ => node,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => {
            Some(a.iter().filter_map(|v| v.as_str().map(|s| s.split('^').next().unwrap_or(s).to_string())).collect())
        }
        _ => None,
    }
}

/// `fields` of a query_string / multi_match: `*` (or empty) means the default fields.
fn expand_fields(schema: &LogSchema, fields: &[String]) -> Vec<FieldRef> {
    let named: Vec<&String> = fields.iter().filter(|f| f.as_str() != "*" && !f.is_empty()).collect();
    if named.is_empty() {
        default_fields(schema)
    } else {
        named.into_iter().map(|f| FieldRef::resolve(schema, f)).collect()
    }
}

/// Fields searched by words without a field: `message` and `severity`.
pub fn default_fields(schema: &LogSchema) -> Vec<FieldRef> {
    vec![FieldRef::resolve(schema, "message"), FieldRef::resolve(schema, "severity")]
}

/// The text of a scalar (`"abc"`, `42`, `true`).
fn scalar_text(v: &Value, kind: &str) -> Result<String, EsError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(parsing(format!("[{kind}] requires query value"))),
    }
}

/// `{"<field>": <short value> | {<params>}}` → (field, params) with the short form stored under
/// `short_key`.
fn field_params<'a>(kind: &str, body: &'a Value, short_key: &[&str]) -> Result<(&'a str, Map<String, Value>), EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| parsing(format!("[{kind}] query malformed, no start_object after query name")))?;
    let mut fields = obj.iter().filter(|(k, _)| !matches!(k.as_str(), "boost" | "_name"));
    let (field, value) = fields.next().ok_or_else(|| parsing(format!("[{kind}] query requires a field")))?;
    if let Some((other, _)) = fields.next() {
        return Err(parsing(format!("[{kind}] query doesn't support multiple fields, found [{field}] and [{other}]")));
    }
    let params = match value {
        Value::Object(p) => p.clone(),
        scalar => {
            let mut p = Map::new();
            p.insert(short_key[0].to_string(), scalar.clone());
            p
        }
    };
    Ok((field.as_str(), params))
}

fn parse_bool(schema: &LogSchema, body: &Value) -> Result<QueryNode, EsError> {
    let obj = body.as_object().ok_or_else(|| parsing("[bool] query malformed, no start_object after query name"))?;
    let mut node = BoolNode::default();
    for (key, value) in obj {
        let target = match key.as_str() {
            "must" => &mut node.must,
            "filter" => &mut node.filter,
            "should" => &mut node.should,
            "must_not" | "mustNot" => &mut node.must_not,
            "minimum_should_match" => {
                node.minimum_should_match = Some(value.clone());
                continue;
            }
            "boost" | "_name" | "adjust_pure_negative" => continue,
            other => return Err(parsing(format!("[bool] query does not support [{other}]"))),
        };
        match value {
            Value::Array(items) => {
                for item in items {
                    target.push(parse_query(schema, item)?);
                }
            }
            Value::Object(_) => target.push(parse_query(schema, value)?),
            _ => return Err(parsing(format!("[bool] query does not support [{key}] with a non-object value"))),
        }
    }
    Ok(QueryNode::Bool(node))
}

fn parse_query_string(schema: &LogSchema, kind: &str, body: &Value) -> Result<QueryNode, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| parsing(format!("[{kind}] query malformed, no start_object after query name")))?;
    let query = obj.get("query").ok_or_else(|| parsing(format!("[{kind}] must be provided with a [query]")))?;
    let query = scalar_text(query, kind)?;
    let and = obj.get("default_operator").and_then(Value::as_str).is_some_and(|o| o.eq_ignore_ascii_case("and"));
    let fields = string_list(obj.get("fields")).or_else(|| string_list(obj.get("default_field"))).unwrap_or_default();
    let fields = expand_fields(schema, &fields);
    super::lucene::parse(schema, &query, and, fields)
}

fn parse_range(schema: &LogSchema, body: &Value) -> Result<QueryNode, EsError> {
    let (field_name, params) = field_params("range", body, &["gte"])?;
    let field = FieldRef::resolve(schema, field_name);
    let format = params.get("format").and_then(Value::as_str);
    let now = time::now_nanos();
    let include_lower = params.get("include_lower").and_then(Value::as_bool).unwrap_or(true);
    let include_upper = params.get("include_upper").and_then(Value::as_bool).unwrap_or(true);
    let mut lower: Bound<&Value> = Bound::Unbounded;
    let mut upper: Bound<&Value> = Bound::Unbounded;
    for (key, value) in &params {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "gte" => lower = Bound::Included(value),
            "gt" => lower = Bound::Excluded(value),
            "lte" => upper = Bound::Included(value),
            "lt" => upper = Bound::Excluded(value),
            "from" => lower = if include_lower { Bound::Included(value) } else { Bound::Excluded(value) },
            "to" => upper = if include_upper { Bound::Included(value) } else { Bound::Excluded(value) },
            "format" | "time_zone" | "boost" | "relation" | "include_lower" | "include_upper" | "_name" => {}
            other => return Err(parsing(format!("[range] query does not support [{other}]"))),
        }
    }
    let typed = |bound: Bound<&Value>, is_upper: bool| -> Result<Bound<RangeValue>, EsError> {
        let convert = |v: &Value, round_up: bool| -> Result<RangeValue, EsError> {
            range_value(&field, v, format, now, round_up).map_err(parsing)
        };
        Ok(match bound {
            Bound::Unbounded => Bound::Unbounded,
            // Date math rounding: `gt` and `lte` round up, `gte` and `lt` round down.
            Bound::Included(v) => Bound::Included(convert(v, is_upper)?),
            Bound::Excluded(v) => Bound::Excluded(convert(v, !is_upper)?),
        })
    };
    let (lower, upper) = (typed(lower, false)?, typed(upper, true)?);
    // Both bounds of a range on an attribute must have the same type.
    let (lower, upper) = unify_range_types(lower, upper);
    Ok(QueryNode::Range { field, lower, upper })
}

/// Types a range bound for its field: dates for `@timestamp`, numbers when the value is one,
/// dates for ISO strings on attributes, else strings.
pub fn range_value(
    field: &FieldRef,
    v: &Value,
    format: Option<&str>,
    now: i64,
    round_up: bool,
) -> Result<RangeValue, String> {
    match &field.kind {
        FieldKind::Timestamp => time::parse_date_value(v, format, now, round_up).map(RangeValue::Nanos),
        FieldKind::Json { .. } => match v {
            Value::Number(n) => Ok(RangeValue::Num(n.as_f64().unwrap_or(0.0))),
            Value::String(s) => {
                if let Ok(n) = s.trim().parse::<f64>() {
                    Ok(RangeValue::Num(n))
                } else if format.is_some() || s.starts_with("now") || (s.len() >= 10 && time::parse_iso(s).is_some()) {
                    time::parse_date_value(v, format, now, round_up).map(RangeValue::Nanos)
                } else {
                    Ok(RangeValue::Str(s.clone()))
                }
            }
            other => Err(format!("[range] query does not support value [{other}]")),
        },
        _ => match v {
            Value::String(s) => Ok(RangeValue::Str(s.clone())),
            Value::Number(n) => Ok(RangeValue::Str(n.to_string())),
            other => Err(format!("[range] query does not support value [{other}]")),
        },
    }
}

/// Mixed bounds (a number and a word) on an attribute compare as strings.
pub fn unify_range_types(lower: Bound<RangeValue>, upper: Bound<RangeValue>) -> (Bound<RangeValue>, Bound<RangeValue>) {
    let kind = |b: &Bound<RangeValue>| match b {
        Bound::Included(v) | Bound::Excluded(v) => Some(std::mem::discriminant(v)),
        Bound::Unbounded => None,
    };
    match (kind(&lower), kind(&upper)) {
        (Some(a), Some(b)) if a != b => {
            let to_str = |b: Bound<RangeValue>| {
                let s = |v: RangeValue| match v {
                    RangeValue::Str(s) => RangeValue::Str(s),
                    RangeValue::Num(n) => RangeValue::Str(n.to_string()),
                    RangeValue::Nanos(n) => RangeValue::Str(time::format_iso_millis(n)),
                };
                match b {
                    Bound::Included(v) => Bound::Included(s(v)),
                    Bound::Excluded(v) => Bound::Excluded(s(v)),
                    Bound::Unbounded => Bound::Unbounded,
                }
            };
            (to_str(lower), to_str(upper))
        }
        _ => (lower, upper),
    }
}

/// Escapes regex meta characters.
pub fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Lucene wildcards (`*`, `?`, `\` escapes) as a regex over a whole term.
pub fn wildcard_to_regex(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push_str(&regex_escape(&next.to_string()));
                }
            }
            c => out.push_str(&regex_escape(&c.to_string())),
        }
    }
    out
}

impl QueryNode {
    /// The `@timestamp` interval (inclusive nanoseconds) every match must fall in, read from ranges
    /// that are required (the query itself, `must`/`filter` of bools, recursively).
    pub fn time_bounds(&self) -> (i64, i64) {
        match self {
            QueryNode::Range { field: FieldRef { kind: FieldKind::Timestamp, .. }, lower, upper } => {
                nanos_bounds(lower, upper)
            }
            QueryNode::Bool(b) => b.must.iter().chain(&b.filter).fold((i64::MIN, i64::MAX), |(lo, hi), q| {
                let (l, h) = q.time_bounds();
                (lo.max(l), hi.min(h))
            }),
            QueryNode::Boost(q, _) => q.time_bounds(),
            QueryNode::None => (i64::MAX, i64::MIN),
            _ => (i64::MIN, i64::MAX),
        }
    }

    /// Words the query looks for, per field name (for highlighting): `(field, token)`.
    pub fn highlight_terms(&self, out: &mut Vec<(String, String)>) {
        match self {
            QueryNode::Match { field, text, .. } | QueryNode::Phrase { field, text, .. } => {
                out.extend(analyze(text).into_iter().map(|(_, t)| (field.name.clone(), t)));
            }
            QueryNode::Text { text, fields, .. } => {
                for f in fields {
                    out.extend(analyze(text).into_iter().map(|(_, t)| (f.name.clone(), t)));
                }
            }
            QueryNode::Term { field, value } => {
                if let Ok(text) = scalar_text(value, "term") {
                    out.extend(analyze(&text).into_iter().map(|(_, t)| (field.name.clone(), t)));
                }
            }
            QueryNode::Terms { field, values } => {
                for value in values {
                    QueryNode::Term { field: field.clone(), value: value.clone() }.highlight_terms(out);
                }
            }
            QueryNode::Bool(b) => {
                for q in b.must.iter().chain(&b.filter).chain(&b.should) {
                    q.highlight_terms(out);
                }
            }
            QueryNode::Boost(q, _) => q.highlight_terms(out),
            _ => {}
        }
    }
}

fn nanos_bounds(lower: &Bound<RangeValue>, upper: &Bound<RangeValue>) -> (i64, i64) {
    let lo = match lower {
        Bound::Included(RangeValue::Nanos(n)) => *n,
        Bound::Excluded(RangeValue::Nanos(n)) => n.saturating_add(1),
        _ => i64::MIN,
    };
    let hi = match upper {
        Bound::Included(RangeValue::Nanos(n)) => *n,
        Bound::Excluded(RangeValue::Nanos(n)) => n.saturating_sub(1),
        _ => i64::MAX,
    };
    (lo, hi)
}

/// Tokens of `text` as the `default` tokenizer produces them: (position, token).
pub fn analyze(text: &str) -> Vec<(usize, String)> {
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build();
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    stream.process(&mut |token| out.push((token.position, token.text.clone())));
    out
}

/// A query compiled for one partition.
pub enum Compiled {
    All,
    None,
    Query(Box<dyn Query>),
}

impl Compiled {
    /// The tantivy query (`AllQuery` / `EmptyQuery` for the trivial cases).
    pub fn into_query(self) -> Box<dyn Query> {
        match self {
            Compiled::All => Box::new(AllQuery),
            Compiled::None => Box::new(EmptyQuery),
            Compiled::Query(q) => q,
        }
    }
}

/// Compiles [`QueryNode`]s for one partition.
pub struct Compiler<'a> {
    pub schema: &'a LogSchema,
    /// The partition's time bounds (inclusive nanoseconds).
    pub partition: (i64, i64),
}

impl Compiler<'_> {
    pub fn compile(&self, node: &QueryNode) -> Result<Compiled, EsError> {
        Ok(match node {
            QueryNode::All => Compiled::All,
            QueryNode::None => Compiled::None,
            QueryNode::Boost(inner, boost) => match self.compile(inner)? {
                Compiled::Query(q) => Compiled::Query(Box::new(BoostQuery::new(q, *boost))),
                other => other,
            },
            QueryNode::Bool(b) => self.compile_bool(b)?,
            QueryNode::Match { field, text, and } => self.match_text(field, text, *and)?,
            QueryNode::Text { text, and, fields } => {
                let mut parts = Vec::new();
                for field in fields {
                    match &field.kind {
                        // Keyword default fields: the word as written, lowercase and uppercase.
                        FieldKind::Keyword { field: f, .. } => {
                            let variants = [text.clone(), text.to_lowercase(), text.to_uppercase()];
                            let terms: Vec<Term> = variants.iter().map(|v| Term::from_field_text(*f, v)).collect();
                            parts.push(Compiled::Query(Box::new(TermSetQuery::new(terms))));
                        }
                        _ => parts.push(self.match_text(field, text, *and)?),
                    }
                }
                union(parts)
            }
            QueryNode::Phrase { field, text, slop, prefix } => self.phrase(field, text, *slop, *prefix)?,
            QueryNode::Term { field, value } => self.term(field, value)?,
            QueryNode::Terms { field, values } => {
                if let FieldKind::Keyword { field: f, lowercase, .. } = &field.kind {
                    let terms: Vec<Term> = values
                        .iter()
                        .filter_map(|v| scalar_text(v, "terms").ok())
                        .map(|s| Term::from_field_text(*f, &if *lowercase { s.to_lowercase() } else { s }))
                        .collect();
                    if terms.is_empty() { Compiled::None } else { Compiled::Query(Box::new(TermSetQuery::new(terms))) }
                } else {
                    let mut parts = Vec::new();
                    for v in values {
                        parts.push(self.term(field, v)?);
                    }
                    union(parts)
                }
            }
            QueryNode::Range { field, lower, upper } => self.range(field, lower, upper)?,
            QueryNode::Exists { field } => self.exists(field),
            QueryNode::Regex { field, regex } => self.regex(field, regex)?,
        })
    }

    fn compile_bool(&self, b: &BoolNode) -> Result<Compiled, EsError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut required = 0usize;
        for q in &b.must {
            match self.compile(q)? {
                Compiled::None => return Ok(Compiled::None),
                Compiled::All => {}
                Compiled::Query(q) => {
                    clauses.push((Occur::Must, q));
                    required += 1;
                }
            }
        }
        for q in &b.filter {
            match self.compile(q)? {
                Compiled::None => return Ok(Compiled::None),
                Compiled::All => {}
                Compiled::Query(q) => {
                    clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))));
                    required += 1;
                }
            }
        }
        let scoring_clauses = b.must.len() + b.filter.len();
        let mut min_should = match &b.minimum_should_match {
            Some(v) => minimum_should_match(v, b.should.len())?,
            None if scoring_clauses == 0 && !b.should.is_empty() => 1,
            None => 0,
        };
        let mut shoulds = Vec::new();
        for q in &b.should {
            match self.compile(q)? {
                Compiled::None => {}
                Compiled::All => min_should = min_should.saturating_sub(1),
                Compiled::Query(q) => shoulds.push(q),
            }
        }
        if min_should > shoulds.len() {
            return Ok(Compiled::None);
        }
        let has_shoulds = !shoulds.is_empty();
        clauses.extend(shoulds.into_iter().map(|q| (Occur::Should, q)));
        let mut negatives = 0;
        for q in &b.must_not {
            match self.compile(q)? {
                Compiled::All => return Ok(Compiled::None),
                Compiled::None => {}
                Compiled::Query(q) => {
                    clauses.push((Occur::MustNot, q));
                    negatives += 1;
                }
            }
        }
        if required == 0 && min_should == 0 {
            // Nothing positive is required: optional shoulds only score, so everything matches.
            clauses.retain(|(occur, _)| *occur != Occur::Should);
            if negatives == 0 {
                return Ok(Compiled::All);
            }
            clauses.push((Occur::Must, Box::new(AllQuery)));
        } else if clauses.len() == 1 && (required == 1 || (min_should == 1 && has_shoulds)) {
            return Ok(Compiled::Query(clauses.pop().expect("one clause").1));
        }
        let query = if min_should > 1 {
            BooleanQuery::with_minimum_required_clauses(clauses, min_should)
        } else if min_should == 1 && required > 0 {
            // A required should next to must clauses: nest the shoulds.
            let (should, rest): (Vec<_>, Vec<_>) = clauses.into_iter().partition(|(o, _)| *o == Occur::Should);
            let mut rest = rest;
            rest.push((Occur::Must, Box::new(BooleanQuery::new(should))));
            BooleanQuery::new(rest)
        } else {
            BooleanQuery::new(clauses)
        };
        Ok(Compiled::Query(Box::new(query)))
    }

    fn keyword_value(lowercase: bool, s: String) -> String {
        if lowercase { s.to_lowercase() } else { s }
    }

    /// Analyzed match on any field.
    fn match_text(&self, field: &FieldRef, text: &str, and: bool) -> Result<Compiled, EsError> {
        Ok(match &field.kind {
            FieldKind::Timestamp => self.timestamp_equals(&Value::String(text.to_string()))?,
            FieldKind::Keyword { field: f, lowercase, .. } => {
                term_query(Term::from_field_text(*f, &Self::keyword_value(*lowercase, text.to_string())))
            }
            FieldKind::Text(f) => {
                let terms: Vec<Term> = analyze(text).into_iter().map(|(_, t)| Term::from_field_text(*f, &t)).collect();
                combine_terms(terms, and)
            }
            FieldKind::Json { path } => {
                // Attribute strings are keywords: the whole value is the one term.
                let mut parts = self.json_scalar_variants(path, text);
                parts.push(term_query(self.json_str_term(path, text)));
                union(parts)
            }
        })
    }

    fn phrase(&self, field: &FieldRef, text: &str, slop: u32, prefix: bool) -> Result<Compiled, EsError> {
        let tokens = analyze(text);
        let make = |terms: Vec<(usize, Term)>| -> Compiled {
            match terms.len() {
                0 => Compiled::None,
                1 if !prefix => term_query(terms.into_iter().next().expect("one").1),
                _ if prefix => Compiled::Query(Box::new(PhrasePrefixQuery::new_with_offset(terms))),
                _ => Compiled::Query(Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop))),
            }
        };
        Ok(match &field.kind {
            FieldKind::Text(f) => make(tokens.into_iter().map(|(p, t)| (p, Term::from_field_text(*f, &t))).collect()),
            FieldKind::Json { .. } if !prefix => self.match_text(field, text, true)?,
            _ if prefix => self.regex(field, &format!("{}.*", regex_escape(text)))?,
            _ => self.match_text(field, text, true)?,
        })
    }

    /// Exact term (see the module notes for analyzed fields).
    fn term(&self, field: &FieldRef, value: &Value) -> Result<Compiled, EsError> {
        let text = scalar_text(value, "term")?;
        Ok(match &field.kind {
            FieldKind::Timestamp => self.timestamp_equals(value)?,
            FieldKind::Keyword { field: f, lowercase, .. } => {
                term_query(Term::from_field_text(*f, &Self::keyword_value(*lowercase, text)))
            }
            FieldKind::Text(_) => self.phrase(field, &text, 0, false)?,
            FieldKind::Json { path } => match value {
                Value::Number(_) | Value::Bool(_) => union(self.json_scalar_variants(path, &text)),
                _ => self.match_text(field, &text, true)?,
            },
        })
    }

    /// Terms for a scalar written as text on an attribute path: its numeric representations, a
    /// boolean, an RFC 3339 date.
    fn json_scalar_variants(&self, path: &str, text: &str) -> Vec<Compiled> {
        let mut terms = Vec::new();
        let t = text.trim();
        let base = || Term::from_field_json_path(self.schema.attributes, path, true);
        if let Ok(i) = t.parse::<i64>() {
            let mut term = base();
            term.append_type_and_fast_value(i);
            terms.push(term);
            let mut term = base();
            term.append_type_and_fast_value(i as f64);
            terms.push(term);
        } else if let Ok(u) = t.parse::<u64>() {
            let mut term = base();
            term.append_type_and_fast_value(u);
            terms.push(term);
        } else if let Ok(f) = t.parse::<f64>()
            && f.is_finite()
        {
            let mut term = base();
            term.append_type_and_fast_value(f);
            terms.push(term);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                let mut term = base();
                term.append_type_and_fast_value(f as i64);
                terms.push(term);
            }
        }
        if let Ok(b) = t.parse::<bool>() {
            let mut term = base();
            term.append_type_and_fast_value(b);
            terms.push(term);
        }
        if t.len() >= 20
            && t.contains('T')
            && let Some(n) = time::parse_iso(t)
        {
            let mut term = base();
            term.append_type_and_fast_value(DateTime::from_timestamp_nanos(n).truncate(DateTimePrecision::Seconds));
            terms.push(term);
        }
        terms.into_iter().map(term_query).collect()
    }

    fn json_str_term(&self, path: &str, token: &str) -> Term {
        let mut term = Term::from_field_json_path(self.schema.attributes, path, true);
        term.append_type_and_str(token);
        term
    }

    /// `@timestamp` equal to a date; a value of millisecond precision matches its whole millisecond.
    fn timestamp_equals(&self, value: &Value) -> Result<Compiled, EsError> {
        let t = time::parse_date_value(value, None, time::now_nanos(), false).map_err(parsing)?;
        let hi = if t.rem_euclid(time::NANOS_PER_MILLI) == 0 { t + time::NANOS_PER_MILLI - 1 } else { t };
        self.timestamp_range(t, hi)
    }

    fn timestamp_range(&self, lo: i64, hi: i64) -> Result<Compiled, EsError> {
        let (pmin, pmax) = self.partition;
        if lo > hi || hi < pmin || lo > pmax {
            return Ok(Compiled::None);
        }
        if lo <= pmin && hi >= pmax {
            return Ok(Compiled::All);
        }
        let f = self.schema.timestamp;
        let bound = |n: i64| Term::from_field_date(f, DateTime::from_timestamp_nanos(n));
        let lower = if lo <= pmin { Bound::Unbounded } else { Bound::Included(bound(lo)) };
        let upper = if hi >= pmax { Bound::Unbounded } else { Bound::Included(bound(hi)) };
        Ok(Compiled::Query(Box::new(RangeQuery::new(lower, upper))))
    }

    fn range(
        &self,
        field: &FieldRef,
        lower: &Bound<RangeValue>,
        upper: &Bound<RangeValue>,
    ) -> Result<Compiled, EsError> {
        if matches!(field.kind, FieldKind::Timestamp) {
            let (lo, hi) = nanos_bounds(lower, upper);
            return self.timestamp_range(lo, hi);
        }
        if matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded)) {
            return Ok(self.exists(field));
        }
        let make = |v: &RangeValue| -> Term {
            match (&field.kind, v) {
                (FieldKind::Json { path }, value) => {
                    let mut term = Term::from_field_json_path(self.schema.attributes, path, true);
                    match value {
                        RangeValue::Num(n) => term.append_type_and_fast_value(*n),
                        RangeValue::Nanos(n) => term.append_type_and_fast_value(DateTime::from_timestamp_nanos(*n)),
                        RangeValue::Str(s) => term.append_type_and_str(s),
                    }
                    term
                }
                (FieldKind::Keyword { field, .. } | FieldKind::Text(field), value) => {
                    let s = match value {
                        RangeValue::Str(s) => s.clone(),
                        RangeValue::Num(n) => n.to_string(),
                        RangeValue::Nanos(n) => time::format_iso_millis(*n),
                    };
                    Term::from_field_text(*field, &s)
                }
                (FieldKind::Timestamp, _) => unreachable!("handled above"),
            }
        };
        let map = |b: &Bound<RangeValue>| match b {
            Bound::Included(v) => Bound::Included(make(v)),
            Bound::Excluded(v) => Bound::Excluded(make(v)),
            Bound::Unbounded => Bound::Unbounded,
        };
        Ok(Compiled::Query(Box::new(RangeQuery::new(map(lower), map(upper)))))
    }

    fn exists(&self, field: &FieldRef) -> Compiled {
        match &field.kind {
            FieldKind::Timestamp => Compiled::All,
            FieldKind::Keyword { field: f, fast: true, .. } => {
                Compiled::Query(Box::new(ExistsQuery::new(self.schema.schema.get_field_name(*f).to_string(), false)))
            }
            FieldKind::Keyword { field: f, .. } | FieldKind::Text(f) => match RegexQuery::from_pattern(".*", *f) {
                Ok(q) => Compiled::Query(Box::new(q)),
                Err(_) => Compiled::None,
            },
            FieldKind::Json { path } => Compiled::Query(Box::new(ExistsQuery::new(format!("attributes.{path}"), true))),
        }
    }

    /// A regex over whole terms. On analyzed fields terms are lowercase tokens, so the pattern is
    /// lowercased (unless it carries its own flags).
    fn regex(&self, field: &FieldRef, regex: &str) -> Result<Compiled, EsError> {
        let bad = |e: tantivy::TantivyError| parsing(format!("failed to parse regular expression [{regex}]: {e}"));
        let analyzed = |r: &str| if r.starts_with("(?") { r.to_string() } else { r.to_lowercase() };
        Ok(match &field.kind {
            FieldKind::Timestamp => return Err(parsing("regular expressions are not supported on [@timestamp]")),
            FieldKind::Keyword { field: f, .. } => {
                Compiled::Query(Box::new(RegexQuery::from_pattern(regex, *f).map_err(bad)?))
            }
            FieldKind::Text(f) => {
                Compiled::Query(Box::new(RegexQuery::from_pattern(&analyzed(regex), *f).map_err(bad)?))
            }
            FieldKind::Json { path } => {
                // Term bytes of a JSON string: path segments joined by \x01, \x00, type 's', text.
                let prefix: String = path.split('.').map(regex_escape).collect::<Vec<_>>().join("\u{1}");
                let pattern = format!("{prefix}\u{0}s(?:{regex})");
                Compiled::Query(Box::new(RegexQuery::from_pattern(&pattern, self.schema.attributes).map_err(bad)?))
            }
        })
    }
}

fn term_query(term: Term) -> Compiled {
    Compiled::Query(Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)))
}

fn combine_terms(terms: Vec<Term>, and: bool) -> Compiled {
    match terms.len() {
        0 => Compiled::None,
        1 => term_query(terms.into_iter().next().expect("one")),
        _ => {
            let occur = if and { Occur::Must } else { Occur::Should };
            let clauses = terms
                .into_iter()
                .map(|t| (occur, Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)) as Box<dyn Query>))
                .collect();
            Compiled::Query(Box::new(BooleanQuery::new(clauses)))
        }
    }
}

/// A disjunction, simplified.
fn union(parts: Vec<Compiled>) -> Compiled {
    let mut queries = Vec::new();
    for part in parts {
        match part {
            Compiled::All => return Compiled::All,
            Compiled::None => {}
            Compiled::Query(q) => queries.push(q),
        }
    }
    match queries.len() {
        0 => Compiled::None,
        1 => Compiled::Query(queries.pop().expect("one")),
        _ => Compiled::Query(Box::new(BooleanQuery::union(queries))),
    }
}

/// `minimum_should_match`: `2`, `"2"`, `"-1"`, `"75%"`, `"-25%"` → number of should clauses.
fn minimum_should_match(v: &Value, n: usize) -> Result<usize, EsError> {
    let s = match v {
        Value::Number(num) => num.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => return Err(parsing(format!("[bool] failed to parse minimum_should_match [{other}]"))),
    };
    let bad = || parsing(format!("[bool] failed to parse minimum_should_match [{s}]"));
    let n = n as i64;
    let count = if let Some(pct) = s.strip_suffix('%') {
        let p: i64 = pct.parse().map_err(|_| bad())?;
        if p < 0 { n - (n * -p / 100) } else { n * p / 100 }
    } else {
        let k: i64 = s.parse().map_err(|_| bad())?;
        if k < 0 { n + k } else { k }
    };
    Ok(count.clamp(0, n) as usize)
}

// Pharos — query/src/elastic/dsl.rs
