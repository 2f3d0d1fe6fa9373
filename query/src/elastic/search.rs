//! `_search` and `_count`: request parsing, execution over partitions, hits rendering.
//!
//! Execution, per request:
//! - Partitions come from [`LogSnapshots::snapshot`](super::LogSnapshots) restricted to the
//!   `@timestamp` range required by the query; indices are resolved per partition and the query
//!   is compiled per partition (ranges covering it vanish).
//! - Hits sorted by `@timestamp` (Grafana's case) are collected partition by partition in sort
//!   order: selective queries in one pass, others in time windows growing from the sort's start,
//!   each window's documents taken from the timestamp column and checked against the query. The
//!   search stops once nothing unsearched can sort before the kept hits.
//! - Other sorts, and aggregations, take one pass per partition (partitions in parallel) that
//!   collects hits, count and aggregations together.
//! - The count stops at `track_total_hits` (default 10 000, then `relation: gte`).
//! - Stored documents are read only for the hits returned.
//!
//! Hits:
//! - `_source` is the stored `LogRecord::source` verbatim (re-serialized only when filtered).
//! - `_id` is derived, as documents carry no id (an `_id` given at ingest is not stored): 16 hex
//!   digits of a 64-bit FNV-1a hash of index, timestamp (ns) and source. Stable across merges and
//!   restarts; identical documents share it.
//! - `sort` values: `@timestamp` in epoch milliseconds (nanoseconds with `numeric_type:
//!   date_nanos`), `_score`, field values, and `_doc`: a number below 2^51 identifying the document
//!   within its millisecond — (microseconds within the millisecond << 41) | (10 bits of the segment
//!   id << 31) | doc id — so ties on the millisecond order by time and `search_after` pages without
//!   gaps while the partition's segments stay unchanged (a merge renumbers documents).
//! - Sorting by a multi-valued field uses the first value; `search_after` is refused with string
//!   sort keys.
//! - `highlight` returns each matching field's whole value with the query's words wrapped in the
//!   tags (`number_of_fragments: 0` behaviour).

use std::collections::HashMap;
use std::ops::Bound;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tantivy::collector::Count;
use tantivy::columnar::StrColumn;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermSetQuery};
use tantivy::schema::Value as _;
use tantivy::tokenizer::{SimpleTokenizer, TokenStream, Tokenizer};
use tantivy::{DateTime, DocAddress, SegmentOrdinal, TantivyDocument, Term};

use super::aggs::{self, AggRun};
use super::collect::{self, Candidate, MAX_SORT_KEYS, PassCollector, SortVal, TopCollector};
use super::dsl::{self, Compiled, Compiler, FieldKind, FieldRef, QueryNode};
use super::error::EsError;
use super::indices::{self, IndexExpr, IndexOptions, Target};
use super::{ElasticState, LogSchema, Params, time};

/// Matches per partition below which a time-sorted search collects the partition in one pass
/// rather than in time windows.
const SELECTIVE: u64 = 50_000;

#[cfg(test)]
thread_local! {
    /// Tests force time windows on their small partitions.
    pub static FORCE_WINDOWS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn selective_threshold(limit: usize) -> u64 {
    #[cfg(test)]
    if FORCE_WINDOWS.with(|f| f.get()) {
        return 0;
    }
    SELECTIVE.max(limit as u64 * 64)
}

/// At most this many hits can be paged through (`index.max_result_window`).
pub const MAX_RESULT_WINDOW: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Request

/// What a sort key orders by.
#[derive(Debug, Clone, PartialEq)]
pub enum SortTarget {
    Timestamp,
    Score,
    Doc,
    /// A fast field (`severity`, `attributes.http.status`…), by its fast-field name.
    Field {
        name: String,
        column: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub target: SortTarget,
    pub desc: bool,
    pub missing_first: bool,
    /// `@timestamp` compared and returned in nanoseconds (`numeric_type: date_nanos`).
    pub nanos: bool,
}

/// `track_total_hits`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrackTotal {
    Exact,
    UpTo(u64),
    Off,
}

/// `_source` filtering.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFilter {
    pub enabled: bool,
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
}

/// One entry of `fields` / `docvalue_fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub pattern: String,
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HighlightSpec {
    pub pre: String,
    pub post: String,
    pub fields: Vec<String>,
}

/// A parsed search body.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: QueryNode,
    pub size: usize,
    pub from: usize,
    pub sort: Vec<SortKey>,
    pub search_after: Option<Vec<Value>>,
    pub track_total_hits: TrackTotal,
    pub source: SourceFilter,
    pub fields: Vec<FieldSpec>,
    pub docvalue_fields: Vec<FieldSpec>,
    pub highlight: Option<HighlightSpec>,
    pub aggs: Option<aggs::AggPlan>,
    pub rest_total_hits_as_int: bool,
}

/// A JSON value keeping the order of object keys (for `sort` objects, whose key order matters).
#[derive(Debug, Clone)]
enum Ordered {
    Scalar(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::Null))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Ordered, D::Error> {
                Ordered::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Ordered {
    fn into_value(self) -> Value {
        match self {
            Ordered::Scalar(v) => v,
            Ordered::Array(a) => Value::Array(a.into_iter().map(Ordered::into_value).collect()),
            Ordered::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, v.into_value())).collect()),
        }
    }
}

/// Parses a JSON body, keeping the order of top-level keys and of `sort`. An empty body is `{}`.
fn parse_body(body: &[u8]) -> Result<Vec<(String, Ordered)>, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    match serde_json::from_slice::<Ordered>(body) {
        Ok(Ordered::Object(o)) => Ok(o),
        Ok(_) => Err(EsError::Parsing("request body must be a JSON object".into())),
        Err(e) => Err(EsError::XContent(format!("[1:{}] failed to parse request body: {e}", e.column()))),
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
    }
}

fn usize_param(v: &Value, name: &str) -> Result<usize, EsError> {
    let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    match n {
        Some(n) if n >= 0 => Ok(n as usize),
        Some(n) => Err(EsError::IllegalArgument(format!("[{name}] parameter cannot be negative, found [{n}]"))),
        None => Err(EsError::Parsing(format!("[{name}] must be a number, found [{v}]"))),
    }
}

impl SearchRequest {
    /// Parses a search body plus URL parameters (`q`, `size`, `from`, `sort`, `track_total_hits`,
    /// `_source*`, `rest_total_hits_as_int`; URL values win, as in Elasticsearch).
    pub fn parse(schema: &LogSchema, body: &[u8], params: &Params) -> Result<SearchRequest, EsError> {
        let entries = parse_body(body)?;
        let mut req = SearchRequest {
            query: QueryNode::All,
            size: 10,
            from: 0,
            sort: Vec::new(),
            search_after: None,
            track_total_hits: TrackTotal::UpTo(10_000),
            source: SourceFilter { enabled: true, includes: Vec::new(), excludes: Vec::new() },
            fields: Vec::new(),
            docvalue_fields: Vec::new(),
            highlight: None,
            aggs: None,
            rest_total_hits_as_int: params.flag("rest_total_hits_as_int").unwrap_or(false),
        };
        for (key, value) in entries {
            if key == "sort" {
                req.sort = parse_sort(schema, value)?;
                continue;
            }
            let value = value.into_value();
            match key.as_str() {
                "query" => req.query = dsl::parse_query(schema, &value)?,
                "size" => req.size = usize_param(&value, "size")?,
                "from" => req.from = usize_param(&value, "from")?,
                "search_after" => match value {
                    Value::Array(a) => req.search_after = Some(a),
                    other => return Err(EsError::Parsing(format!("[search_after] must be an array, found [{other}]"))),
                },
                "track_total_hits" => req.track_total_hits = parse_track_total(&value)?,
                "_source" => req.source = parse_source(&value)?,
                "fields" => req.fields = parse_field_specs(&value, "fields")?,
                "docvalue_fields" => req.docvalue_fields = parse_field_specs(&value, "docvalue_fields")?,
                "highlight" => req.highlight = Some(parse_highlight(&value)),
                "aggs" | "aggregations" => req.aggs = Some(aggs::translate(schema, &value)?),
                "post_filter" | "collapse" | "pit" | "rescore" | "knn" | "retriever" => {
                    return Err(EsError::IllegalArgument(format!("[{key}] is not supported")));
                }
                "timeout"
                | "terminate_after"
                | "version"
                | "seq_no_primary_term"
                | "explain"
                | "stored_fields"
                | "script_fields"
                | "runtime_mappings"
                | "min_score"
                | "track_scores"
                | "profile"
                | "indices_boost"
                | "stats"
                | "suggest"
                | "ext"
                | "_name" => {}
                other => {
                    return Err(EsError::Parsing(format!(
                        "Unknown key for a {} in [{other}].",
                        json_type_name(&value)
                    )));
                }
            }
        }
        if let Some(q) = params.get("q") {
            let and = params.get("default_operator").is_some_and(|o| o.eq_ignore_ascii_case("and"));
            let fields = match params.get("df") {
                Some(df) => vec![FieldRef::resolve(schema, df)],
                None => dsl::default_fields(schema),
            };
            req.query = super::lucene::parse(schema, q, and, fields)?;
        }
        if let Some(v) = params.get("size") {
            req.size = usize_param(&Value::String(v.into()), "size")?;
        }
        if let Some(v) = params.get("from") {
            req.from = usize_param(&Value::String(v.into()), "from")?;
        }
        if let Some(v) = params.get("sort") {
            let items =
                v.split(',').filter(|s| !s.is_empty()).map(|s| Ordered::Scalar(Value::String(s.into()))).collect();
            req.sort = parse_sort(schema, Ordered::Array(items))?;
        }
        if let Some(v) = params.get("track_total_hits") {
            let value = match v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                n => Value::String(n.to_string()),
            };
            req.track_total_hits = parse_track_total(&value)?;
        }
        if let Some(v) = params.get("_source") {
            req.source = match v {
                "true" => SourceFilter { enabled: true, includes: vec![], excludes: vec![] },
                "false" => SourceFilter { enabled: false, includes: vec![], excludes: vec![] },
                list => SourceFilter { enabled: true, includes: split_list(list), excludes: vec![] },
            };
        }
        if let Some(v) = params.get("_source_includes").or_else(|| params.get("_source_include")) {
            req.source.includes = split_list(v);
        }
        if let Some(v) = params.get("_source_excludes").or_else(|| params.get("_source_exclude")) {
            req.source.excludes = split_list(v);
        }
        if req.from.saturating_add(req.size) > MAX_RESULT_WINDOW {
            return Err(EsError::IllegalArgument(format!(
                "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}].",
                req.from.saturating_add(req.size)
            )));
        }
        if req.sort.is_empty() {
            req.sort.push(SortKey { target: SortTarget::Score, desc: true, missing_first: false, nanos: false });
        }
        if let Some(after) = &req.search_after {
            if after.len() != req.sort.len() {
                return Err(EsError::IllegalArgument(format!(
                    "search_after has {} value(s) but sort has {}.",
                    after.len(),
                    req.sort.len()
                )));
            }
            if req.from > 0 {
                return Err(EsError::IllegalArgument(
                    "[from] parameter must be set to 0 when [search_after] is used".into(),
                ));
            }
        }
        Ok(req)
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn parse_track_total(v: &Value) -> Result<TrackTotal, EsError> {
    match v {
        Value::Bool(true) => Ok(TrackTotal::Exact),
        Value::Bool(false) => Ok(TrackTotal::Off),
        other => match usize_param(other, "track_total_hits") {
            Ok(n) if n as u64 >= i32::MAX as u64 => Ok(TrackTotal::Exact),
            Ok(n) => Ok(TrackTotal::UpTo(n as u64)),
            Err(_) => {
                Err(EsError::Parsing(format!("[track_total_hits] must be a boolean or a number, found [{other}]")))
            }
        },
    }
}

fn string_items(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn parse_source(v: &Value) -> Result<SourceFilter, EsError> {
    Ok(match v {
        Value::Bool(enabled) => SourceFilter { enabled: *enabled, includes: vec![], excludes: vec![] },
        Value::String(_) | Value::Array(_) => {
            SourceFilter { enabled: true, includes: string_items(v), excludes: vec![] }
        }
        Value::Object(o) => SourceFilter {
            enabled: true,
            includes: o.get("includes").or_else(|| o.get("include")).map(string_items).unwrap_or_default(),
            excludes: o.get("excludes").or_else(|| o.get("exclude")).map(string_items).unwrap_or_default(),
        },
        other => {
            return Err(EsError::Parsing(format!(
                "[_source] must be a boolean, string, array or object, found [{other}]"
            )));
        }
    })
}

fn parse_field_specs(v: &Value, name: &str) -> Result<Vec<FieldSpec>, EsError> {
    let items = match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(FieldSpec { pattern: s, format: None }),
            Value::Object(o) => {
                let pattern = o
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| EsError::Parsing(format!("[{name}] entry requires [field]")))?;
                Ok(FieldSpec {
                    pattern: pattern.to_string(),
                    format: o.get("format").and_then(Value::as_str).map(str::to_string),
                })
            }
            other => Err(EsError::Parsing(format!("[{name}] entries must be strings or objects, found [{other}]"))),
        })
        .collect()
}

fn parse_highlight(v: &Value) -> HighlightSpec {
    let tag = |key: &str, default: &str| {
        v.get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let fields = match v.get("fields") {
        Some(Value::Object(o)) => o.keys().cloned().collect(),
        Some(Value::Array(a)) => {
            a.iter().filter_map(|f| f.as_object().and_then(|o| o.keys().next().cloned())).collect()
        }
        _ => vec!["*".to_string()],
    };
    HighlightSpec { pre: tag("pre_tags", "<em>"), post: tag("post_tags", "</em>"), fields }
}

fn parse_sort(schema: &LogSchema, value: Ordered) -> Result<Vec<SortKey>, EsError> {
    let items = match value {
        Ordered::Array(items) => items,
        other => vec![other],
    };
    let mut keys = Vec::new();
    for item in items {
        match item {
            Ordered::Scalar(Value::String(s)) => {
                let (name, order) = match s.rsplit_once(':') {
                    Some((n, o)) if o == "asc" || o == "desc" => (n.to_string(), Some(o.to_string())),
                    _ => (s.clone(), None),
                };
                keys.push(sort_key(schema, &name, order.as_deref(), &Map::new())?);
            }
            Ordered::Object(fields) => {
                for (name, spec) in fields {
                    match spec.into_value() {
                        Value::String(order) => keys.push(sort_key(schema, &name, Some(&order), &Map::new())?),
                        Value::Object(o) => {
                            let order = o.get("order").and_then(Value::as_str).map(str::to_string);
                            keys.push(sort_key(schema, &name, order.as_deref(), &o)?);
                        }
                        other => {
                            return Err(EsError::Parsing(format!("[sort] unexpected value for [{name}]: [{other}]")));
                        }
                    }
                }
            }
            other => return Err(EsError::Parsing(format!("[sort] malformed entry [{}]", other.into_value()))),
        }
    }
    if keys.len() > MAX_SORT_KEYS {
        return Err(EsError::IllegalArgument(format!("at most {MAX_SORT_KEYS} sort keys are supported")));
    }
    Ok(keys)
}

fn sort_key(
    schema: &LogSchema,
    name: &str,
    order: Option<&str>,
    opts: &Map<String, Value>,
) -> Result<SortKey, EsError> {
    let desc = match order {
        Some(o) if o.eq_ignore_ascii_case("desc") => true,
        Some(o) if o.eq_ignore_ascii_case("asc") => false,
        Some(o) => return Err(EsError::IllegalArgument(format!("Unknown SortOrder [{o}]"))),
        None => name == "_score",
    };
    let missing_first = opts.get("missing").and_then(Value::as_str) == Some("_first");
    let nanos = opts.get("numeric_type").and_then(Value::as_str) == Some("date_nanos");
    let target = match name {
        "_score" => SortTarget::Score,
        "_doc" => SortTarget::Doc,
        _ => {
            let field = FieldRef::resolve(schema, name);
            match &field.kind {
                FieldKind::Timestamp => SortTarget::Timestamp,
                FieldKind::Text(_) | FieldKind::Keyword { fast: false, .. } => {
                    return Err(EsError::IllegalArgument(format!(
                        "Field [{name}] is a text field without doc values and cannot be used for sorting; use a keyword field"
                    )));
                }
                _ => SortTarget::Field {
                    name: field.name.clone(),
                    column: schema.fast_field_name(&schema.resolve(name)),
                },
            }
        }
    };
    Ok(SortKey { target, desc, missing_first, nanos })
}

// ---------------------------------------------------------------------------------------------
// Execution

/// The result of a search, rendered by [`SearchResponse::to_json`].
pub struct SearchResponse {
    pub took_ms: u64,
    pub shards: usize,
    pub total: u64,
    pub total_exact: bool,
    pub max_score: Option<f32>,
    /// Each hit as JSON object text.
    pub hits: Vec<String>,
    pub aggregations: Option<Value>,
    pub rest_total_hits_as_int: bool,
}

impl SearchResponse {
    /// The response body. `_source` texts are spliced in verbatim.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256 + self.hits.iter().map(String::len).sum::<usize>());
        out.push_str(&format!(
            "{{\"took\":{},\"timed_out\":false,\"_shards\":{},\"hits\":{{\"total\":",
            self.took_ms,
            shards_json(self.shards)
        ));
        if self.rest_total_hits_as_int {
            out.push_str(&self.total.to_string());
        } else {
            out.push_str(
                &json!({"value": self.total, "relation": if self.total_exact { "eq" } else { "gte" }}).to_string(),
            );
        }
        out.push_str(",\"max_score\":");
        out.push_str(&self.max_score.map(|s| json!(s)).unwrap_or(Value::Null).to_string());
        out.push_str(",\"hits\":[");
        out.push_str(&self.hits.join(","));
        out.push_str("]}");
        if let Some(aggs) = &self.aggregations {
            out.push_str(",\"aggregations\":");
            out.push_str(&aggs.to_string());
        }
        out.push('}');
        out
    }
}

pub fn shards_json(n: usize) -> Value {
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

/// Restricts a compiled query to some `_index` values.
fn with_index_filter(schema: &LogSchema, compiled: Compiled, keep: &Option<Vec<String>>) -> Compiled {
    let Some(keep) = keep else { return compiled };
    let filter: Box<dyn Query> =
        Box::new(TermSetQuery::new(keep.iter().map(|n| Term::from_field_text(schema.index, n))));
    and(compiled, filter)
}

fn and(compiled: Compiled, extra: Box<dyn Query>) -> Compiled {
    match compiled {
        Compiled::None => Compiled::None,
        Compiled::All => Compiled::Query(extra),
        Compiled::Query(q) => {
            Compiled::Query(Box::new(BooleanQuery::new(vec![(Occur::Must, q), (Occur::Must, extra)])))
        }
    }
}

/// The query for a target restricted to `[lo, hi]` (nanoseconds): compiled with those bounds, so
/// time ranges covering the window disappear, and intersected with the window unless it spans
/// the whole partition.
fn window_query(schema: &LogSchema, target: &Target, query: &QueryNode, lo: i64, hi: i64) -> Result<Compiled, EsError> {
    let p = &target.partition;
    let compiled = with_index_filter(schema, Compiler { schema, partition: (lo, hi) }.compile(query)?, &target.keep);
    if lo <= p.min_nanos && hi >= p.max_nanos {
        return Ok(compiled);
    }
    let bound = |n: i64| Term::from_field_date(schema.timestamp, DateTime::from_timestamp_nanos(n));
    let range = RangeQuery::new(Bound::Included(bound(lo)), Bound::Included(bound(hi)));
    Ok(and(compiled, Box::new(range)))
}

/// Runs `f` over `items` on up to `available_parallelism` threads, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len());
    if workers <= 1 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(i, item)));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Hits sorted by `@timestamp`, partitions visited in sort order. A selective query (at most
/// [`SELECTIVE`] matches by the scorers' estimate) is collected in one pass per partition; others
/// are searched in time windows from the sort's start (newest first for `desc`), the first 1/64 of
/// the partition's range and four times wider each time. The search stops once the kept hits all
/// sort before anything unsearched can. Returns the hits, the matches counted, and whether that
/// count covers every match.
fn time_sliced_top(
    schema: &LogSchema,
    targets: &[Target],
    req: &SearchRequest,
    key: &SortKey,
    limit: usize,
    after: &Option<Vec<u128>>,
) -> Result<(Vec<Candidate>, u64, bool), EsError> {
    let (qlo, qhi) = req.query.time_bounds();
    // A cursor on the time key bounds where hits can be.
    let cursor = req.search_after.as_deref().and_then(|a| collect::after_time_bound(&req.sort, a));
    let (hlo, hhi) = match (cursor, key.desc) {
        (Some(c), true) => (qlo, qhi.min(c)),
        (Some(c), false) => (qlo.max(c), qhi),
        _ => (qlo, qhi),
    };
    let ranges: Vec<(i64, i64)> =
        targets.iter().map(|t| (t.partition.min_nanos.max(hlo), t.partition.max_nanos.min(hhi))).collect();
    let scoring = req.sort.iter().any(|k| k.target == SortTarget::Score);
    let mut kept: Vec<Candidate> = Vec::new();
    let mut count = 0u64;
    // Partitions past the cursor are not searched, so their matches are not counted.
    let mut count_exact = cursor.is_none();
    let merge = |kept: &mut Vec<Candidate>, fruit: collect::PassFruit, index: usize| {
        kept.extend(fruit.top.into_iter().map(|mut c| {
            c.partition = index;
            c
        }));
        kept.sort_by(|x, y| collect::global_cmp(&req.sort, x, y));
        kept.truncate(limit);
    };
    let collector = || PassCollector {
        top: Some(TopCollector { keys: req.sort.clone(), limit, after: after.clone() }),
        fast: Vec::new(),
        agg: None,
    };
    for (index, target) in targets.iter().enumerate() {
        let (a, b) = ranges[index];
        let p = &target.partition;
        // The most favourable time any later partition can hold.
        let later =
            ranges[index + 1..].iter().filter(|(na, nb)| na <= nb).map(|&(na, nb)| if key.desc { nb } else { na });
        let later = if key.desc { later.max() } else { later.min() };
        let beyond = |kept: &Vec<Candidate>, frontier: Option<i64>| -> bool {
            match (frontier, kept.last()) {
                (None, _) => true,
                (Some(f), Some(worst)) if kept.len() >= limit => {
                    let (w, f) = (collect::time_unit(key, worst.ts), collect::time_unit(key, f));
                    (key.desc && w > f) || (!key.desc && w < f)
                }
                _ => false,
            }
        };
        if a > b {
            continue;
        }
        let compiled = window_query(schema, target, &req.query, p.min_nanos, p.max_nanos)?;
        if matches!(compiled, Compiled::None) {
            continue;
        }
        let query = compiled.into_query();
        let weight = collect::weight_for(&p.searcher, &*query, scoring)?;
        if collect::estimate(&p.searcher, &*weight)? <= selective_threshold(limit) {
            let fruit = collect::run(&p.searcher, &*weight, &collector(), None)?;
            count += fruit.count;
            merge(&mut kept, fruit, index);
            if beyond(&kept, later) {
                return Ok((kept, count, count_exact && later.is_none()));
            }
            continue;
        }
        if (a, b) != (p.min_nanos.max(qlo), p.max_nanos.min(qhi)) {
            count_exact = false;
        }
        let span = (i128::from(b) - i128::from(a) + 1) as u128;
        let mut width = (span / 64).max(1);
        let mut edge = if key.desc { b } else { a };
        loop {
            let (lo, hi) = if key.desc {
                ((i128::from(edge) - width as i128 + 1).max(i128::from(a)) as i64, edge)
            } else {
                (edge, (i128::from(edge) + width as i128 - 1).min(i128::from(b)) as i64)
            };
            let fruit = collect::run(&p.searcher, &*weight, &collector(), Some((lo, hi)))?;
            count += fruit.count;
            merge(&mut kept, fruit, index);
            let partition_done = if key.desc { lo <= a } else { hi >= b };
            let here = (!partition_done).then_some(if key.desc { lo - 1 } else { hi + 1 });
            let frontier = match (here, later) {
                (Some(h), Some(l)) => Some(if key.desc { h.max(l) } else { h.min(l) }),
                (h, l) => h.or(l),
            };
            if beyond(&kept, frontier) {
                return Ok((kept, count, count_exact && frontier.is_none()));
            }
            if partition_done {
                break;
            }
            edge = if key.desc { lo - 1 } else { hi + 1 };
            width = width.saturating_mul(4);
        }
    }
    Ok((kept, count, count_exact))
}

/// Counts matches over the targets, stopping at `cap` (`u64::MAX`: exact).
fn count_targets(schema: &LogSchema, targets: &[Target], query: &QueryNode, cap: u64) -> Result<u64, EsError> {
    let mut total = 0u64;
    for target in targets {
        if total >= cap {
            break;
        }
        let p = &target.partition;
        let compiled = window_query(schema, target, query, p.min_nanos, p.max_nanos)?;
        if matches!(compiled, Compiled::None) {
            continue;
        }
        let query = compiled.into_query();
        let weight = collect::weight_for(&p.searcher, &*query, false)?;
        total += collect::count_upto(&p.searcher, &*weight, cap.saturating_sub(total))?;
    }
    Ok(total)
}

/// Runs a parsed search over `index_expr`.
pub fn execute(
    state: &ElasticState,
    index_expr: &str,
    options: IndexOptions,
    req: &SearchRequest,
) -> Result<SearchResponse, EsError> {
    let started = Instant::now();
    let schema = &*state.schema;
    let (lo, hi) = req.query.time_bounds();
    let partitions = if lo > hi { Vec::new() } else { state.snapshots.snapshot(lo, hi) };
    let expr = IndexExpr::parse(index_expr);
    let mut targets = indices::resolve_targets(schema, &*state.snapshots, partitions, &expr, options)?;
    targets.retain(|t| !t.partition.searcher.segment_readers().is_empty());
    let time_key = req.sort.first().filter(|k| k.target == SortTarget::Timestamp).cloned();
    if let Some(key) = &time_key {
        if key.desc {
            targets.sort_by_key(|t| std::cmp::Reverse(t.partition.max_nanos));
        } else {
            targets.sort_by_key(|t| t.partition.min_nanos);
        }
    }
    let limit = req.from + req.size;
    let after = req.search_after.as_ref().map(|a| collect::encode_after(&req.sort, a)).transpose()?;
    let mut agg_run = req.aggs.clone().map(AggRun::new);
    let count_cap = match req.track_total_hits {
        TrackTotal::Exact => u64::MAX,
        TrackTotal::UpTo(n) => n,
        TrackTotal::Off => 0,
    };

    let mut kept: Vec<Candidate> = Vec::new();
    let mut total: Option<u64> = None;
    let mut counted_all = true;
    if let Some(key) = time_key.as_ref().filter(|_| limit > 0) {
        let (hits, count, complete) = time_sliced_top(schema, &targets, req, key, limit, &after)?;
        kept = hits;
        if complete {
            total = Some(count);
        }
    }
    let full_pass = agg_run.is_some() || (limit > 0 && time_key.is_none());
    if full_pass {
        let top_in_pass = limit > 0 && time_key.is_none();
        let fast = agg_run.as_ref().map(|r| r.fast_aggs().to_vec()).unwrap_or_default();
        let fruits = par_map(&targets, |_, target| -> Result<Option<collect::PassFruit>, EsError> {
            let p = &target.partition;
            let compiled = window_query(schema, target, &req.query, p.min_nanos, p.max_nanos)?;
            // An empty match still yields the aggregations' (empty) shape.
            if matches!(compiled, Compiled::None) && agg_run.is_none() {
                return Ok(None);
            }
            let collector = PassCollector {
                top: top_in_pass.then(|| TopCollector { keys: req.sort.clone(), limit, after: after.clone() }),
                fast: fast.clone(),
                agg: agg_run.as_ref().and_then(AggRun::collector),
            };
            Ok(Some(p.searcher.search(&*compiled.into_query(), &collector)?))
        });
        let mut count = 0;
        for (index, fruit) in fruits.into_iter().enumerate() {
            let Some(fruit) = fruit? else { continue };
            count += fruit.count;
            if let Some(run) = agg_run.as_mut() {
                run.merge(fruit.agg, fruit.fast)?;
            }
            if top_in_pass {
                kept.extend(fruit.top.into_iter().map(|mut c| {
                    c.partition = index;
                    c
                }));
            }
        }
        if top_in_pass {
            kept.sort_by(|x, y| collect::global_cmp(&req.sort, x, y));
            kept.truncate(limit);
        }
        total = Some(count);
        counted_all = true;
    }
    let total = match total {
        Some(t) => t,
        None if count_cap == 0 => {
            counted_all = false;
            0
        }
        None => {
            let counted = count_targets(schema, &targets, &req.query, count_cap.saturating_add(1))?;
            counted_all = counted <= count_cap;
            counted
        }
    };
    let (total, total_exact) = match req.track_total_hits {
        TrackTotal::UpTo(n) if total > n => (n, false),
        _ => (total, counted_all),
    };
    let scoring = req.sort.iter().any(|k| k.target == SortTarget::Score);
    let page: Vec<&Candidate> = kept.iter().skip(req.from).take(req.size).collect();
    let highlight_terms = req.highlight.as_ref().map(|_| {
        let mut terms = Vec::new();
        req.query.highlight_terms(&mut terms);
        terms
    });
    let mut hits = Vec::with_capacity(page.len());
    let mut max_score: Option<f32> = None;
    let mut index_columns: HashMap<(usize, SegmentOrdinal), Option<StrColumn>> = HashMap::new();
    for cand in page {
        let target = &targets[cand.partition];
        if scoring {
            max_score = Some(max_score.map_or(cand.score, |m| m.max(cand.score)));
        }
        let column = match index_columns.entry((cand.partition, cand.segment)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(target.partition.searcher.segment_reader(cand.segment).fast_fields().str("_index")?)
            }
        };
        hits.push(render_hit(
            schema,
            &target.partition.searcher,
            column.as_ref(),
            cand,
            req,
            scoring,
            highlight_terms.as_deref(),
        )?);
    }
    let aggregations = agg_run.map(AggRun::finish).transpose()?;
    Ok(SearchResponse {
        took_ms: started.elapsed().as_millis() as u64,
        shards: targets.len(),
        total,
        total_exact,
        max_score,
        hits,
        aggregations,
        rest_total_hits_as_int: req.rest_total_hits_as_int,
    })
}

/// `_count`: the number of documents matching `query`.
pub fn count(
    state: &ElasticState,
    index_expr: &str,
    options: IndexOptions,
    query: &QueryNode,
) -> Result<Value, EsError> {
    let schema = &*state.schema;
    let (lo, hi) = query.time_bounds();
    let partitions = if lo > hi { Vec::new() } else { state.snapshots.snapshot(lo, hi) };
    let targets =
        indices::resolve_targets(schema, &*state.snapshots, partitions, &IndexExpr::parse(index_expr), options)?;
    let counts = par_map(&targets, |_, target| -> Result<u64, EsError> {
        let p = &target.partition;
        match window_query(schema, target, query, p.min_nanos, p.max_nanos)? {
            Compiled::None => Ok(0),
            compiled => Ok(p.searcher.search(&*compiled.into_query(), &Count)? as u64),
        }
    });
    let total = counts.into_iter().sum::<Result<u64, EsError>>()?;
    Ok(json!({"count": total, "_shards": shards_json(targets.len())}))
}

// ---------------------------------------------------------------------------------------------
// Hits

fn render_hit(
    schema: &LogSchema,
    searcher: &tantivy::Searcher,
    index_column: Option<&StrColumn>,
    cand: &Candidate,
    req: &SearchRequest,
    scoring: bool,
    highlight_terms: Option<&[(String, String)]>,
) -> Result<String, EsError> {
    let address = DocAddress::new(cand.segment, cand.doc);
    let mut index_name = String::new();
    if let Some(col) = index_column
        && let Some(ord) = col.ords().first(cand.doc)
    {
        col.ord_to_str(ord, &mut index_name)?;
    }
    let doc: TantivyDocument = searcher.doc(address)?;
    let source_bytes: &[u8] = doc.get_first(schema.source).and_then(|v| v.as_bytes()).unwrap_or(b"{}");
    let source_text = std::str::from_utf8(source_bytes).unwrap_or("{}");
    let id = format!("{:016x}", collect::fnv1a(&[index_name.as_bytes(), &cand.ts.to_le_bytes(), source_bytes]));

    let needs_parsed = !req.source.includes.is_empty()
        || !req.source.excludes.is_empty()
        || highlight_terms.is_some()
        || req.fields.iter().chain(&req.docvalue_fields).any(|f| f.pattern != "@timestamp");
    let parsed: Option<Map<String, Value>> = if needs_parsed { serde_json::from_str(source_text).ok() } else { None };

    let mut meta = Map::new();
    meta.insert("_index".into(), index_name.into());
    meta.insert("_id".into(), id.into());
    meta.insert("_score".into(), if scoring { json!(cand.score) } else { Value::Null });
    let specs: Vec<&FieldSpec> = req.fields.iter().chain(&req.docvalue_fields).collect();
    if !specs.is_empty() {
        meta.insert("fields".into(), Value::Object(render_fields(&specs, cand.ts, parsed.as_ref())));
    }
    if let (Some(spec), Some(terms)) = (&req.highlight, highlight_terms)
        && let Some(doc) = &parsed
    {
        let h = render_highlight(spec, terms, doc);
        if !h.is_empty() {
            meta.insert("highlight".into(), Value::Object(h));
        }
    }
    if !req.sort.iter().all(|k| k.target == SortTarget::Score) || req.search_after.is_some() {
        meta.insert("sort".into(), Value::Array(cand.vals.iter().map(SortVal::to_json).collect()));
    }
    let mut text = Value::Object(meta).to_string();
    if req.source.enabled {
        text.pop();
        text.push_str(",\"_source\":");
        let filtered = !req.source.includes.is_empty() || !req.source.excludes.is_empty();
        match (&parsed, filtered) {
            (Some(doc), true) => text.push_str(&Value::Object(filter_source(doc, "", &req.source, false)).to_string()),
            _ if serde_json::from_str::<serde::de::IgnoredAny>(source_text).is_ok() => text.push_str(source_text),
            _ => text.push_str("{}"),
        }
        text.push('}');
    }
    Ok(text)
}

/// Keeps the parts of `doc` that `_source` includes/excludes select (dotted paths, `*` globs;
/// including an object includes all below it).
fn filter_source(doc: &Map<String, Value>, prefix: &str, filter: &SourceFilter, included: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in doc {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if filter.excludes.iter().any(|p| indices::glob(p, &path)) {
            continue;
        }
        let inc = included || filter.includes.is_empty() || filter.includes.iter().any(|p| indices::glob(p, &path));
        match value {
            Value::Object(inner) => {
                let sub = filter_source(inner, &path, filter, inc);
                if !sub.is_empty() || (inc && inner.is_empty()) {
                    out.insert(key.clone(), Value::Object(sub));
                }
            }
            Value::Array(items) if items.iter().any(Value::is_object) => {
                let kept: Vec<Value> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Object(o) => {
                            let sub = filter_source(o, &path, filter, inc);
                            (!sub.is_empty()).then_some(Value::Object(sub))
                        }
                        other => inc.then(|| other.clone()),
                    })
                    .collect();
                if !kept.is_empty() {
                    out.insert(key.clone(), Value::Array(kept));
                }
            }
            other if inc => {
                out.insert(key.clone(), other.clone());
            }
            _ => {}
        }
    }
    out
}

/// Leaf values of a document by dotted path (arrays flattened).
fn flatten(doc: &Map<String, Value>, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (key, value) in doc {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(inner) => flatten(inner, &path, out),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(inner) => flatten(inner, &path, out),
                        other => out.push((path.clone(), other.clone())),
                    }
                }
            }
            Value::Null => {}
            other => out.push((path, other.clone())),
        }
    }
}

fn render_fields(specs: &[&FieldSpec], ts: i64, doc: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut leaves = Vec::new();
    if let Some(doc) = doc {
        flatten(doc, "", &mut leaves);
    }
    for spec in specs {
        if indices::glob(&spec.pattern, "@timestamp") || spec.pattern == "timestamp" {
            out.insert("@timestamp".into(), json!([time::format_date(ts, spec.format.as_deref())]));
        }
        let (pattern, keyword) = match spec.pattern.strip_suffix(".keyword") {
            Some(base) => (base, true),
            None => (spec.pattern.as_str(), false),
        };
        for (path, value) in &leaves {
            if path == "@timestamp" || !indices::glob(pattern, path) {
                continue;
            }
            let name = if keyword { format!("{path}.keyword") } else { path.clone() };
            if let Value::Array(values) = out.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                values.push(value.clone());
            }
        }
    }
    out
}

/// Wraps the query's words found in `text` in the tags; `None` when none is found.
fn highlight_text(text: &str, words: &[&str], spec: &HighlightSpec) -> Option<String> {
    let mut tokenizer = SimpleTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    let mut found = false;
    while stream.advance() {
        let token = stream.token();
        if words.iter().any(|w| w.eq_ignore_ascii_case(&token.text)) {
            out.push_str(&text[last..token.offset_from]);
            out.push_str(&spec.pre);
            out.push_str(&text[token.offset_from..token.offset_to]);
            out.push_str(&spec.post);
            last = token.offset_to;
            found = true;
        }
    }
    out.push_str(&text[last..]);
    found.then_some(out)
}

fn render_highlight(spec: &HighlightSpec, terms: &[(String, String)], doc: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut fields: Vec<&str> = terms.iter().map(|(f, _)| f.as_str()).collect();
    fields.sort_unstable();
    fields.dedup();
    for field in fields {
        if !spec.fields.iter().any(|p| indices::glob(p.strip_suffix(".keyword").unwrap_or(p), field)) {
            continue;
        }
        let words: Vec<&str> = terms.iter().filter(|(f, _)| f == field).map(|(_, w)| w.as_str()).collect();
        // `message` may come from another key of the document (see the schema).
        let candidates: Vec<&str> =
            if field == "message" { vec!["message", "msg", "log", "body"] } else { vec![field] };
        for key in candidates {
            if let Some(Value::String(text)) = pharos_storage::logs::lookup(doc, key) {
                if let Some(marked) = highlight_text(text, &words, spec) {
                    out.insert(key.to_string(), json!([marked]));
                }
                break;
            }
        }
    }
    out
}

// Pharos — query/src/elastic/search.rs
