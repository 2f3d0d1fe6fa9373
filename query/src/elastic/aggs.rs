//! Elasticsearch aggregations → tantivy aggregations, and tantivy's results → Elasticsearch 8's
//! response shape.
//!
//! The request is rewritten key by key: field names go through [`LogSchema::resolve`] and
//! [`LogSchema::fast_field_name`]; `date_histogram` intervals (`fixed_interval`, legacy `interval`,
//! `calendar_interval` up to weeks) become tantivy's `fixed_interval` in milliseconds; fixed-offset
//! `time_zone`s become an `offset` (named zones are read as UTC); `format` is kept for rendering
//! `key_as_string` (`epoch_millis` → the millisecond number as a string, otherwise ISO 8601 with
//! milliseconds); options tantivy does not know and that do not change the result are dropped.
//! Each partition is collected with a `DistributedAggregationCollector`, the intermediate results
//! are merged and finalised once.
//!
//! Supported: `date_histogram`, `histogram`, `terms`, `range`, `avg`, `sum`, `min`, `max`,
//! `value_count`, `stats`, `extended_stats`, `percentiles`, `cardinality`. Anything else (pipeline
//! aggregations, `filters`, `top_hits`, `date_range`, `geohash_grid`…) is refused with 400.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::agg_result::AggregationResults;
use tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults;
use tantivy::aggregation::{AggregationLimitsGuard, DistributedAggregationCollector};
use tantivy::columnar::{Column, DynamicColumn};
use tantivy::{DateTime, DocId, SegmentReader};

use super::dsl::{FieldKind, FieldRef};
use super::error::EsError;
use super::{LogSchema, time};

const MAX_BUCKETS: u32 = 65_535;
const MEMORY_LIMIT: u64 = 500_000_000;

/// How to render one aggregation's result.
#[derive(Debug, Clone, PartialEq)]
enum Render {
    DateHistogram {
        format: Option<String>,
    },
    Histogram,
    /// `by_count`: ordered by `_count` (ties are put in key order).
    Terms {
        by_count: bool,
    },
    Range,
    /// Single-value metrics. `zero`: no value renders as 0 (sum, value_count, cardinality);
    /// `integer`: the value is a count; `date`: the field is a date in nanoseconds.
    Value {
        zero: bool,
        integer: bool,
        date: bool,
    },
    Stats,
    Percentiles,
}

#[derive(Debug, Clone, PartialEq)]
struct RenderNode {
    render: Render,
    subs: BTreeMap<String, RenderNode>,
}

/// A translated `aggs` object.
#[derive(Debug, Clone)]
pub struct AggPlan {
    /// The aggregations tantivy runs.
    request: Aggregations,
    render: BTreeMap<String, RenderNode>,
    /// Top-level aggregations without sub-aggregations that run on this module's collectors.
    fast: Vec<FastAgg>,
}

fn illegal(msg: impl Into<String>) -> EsError {
    EsError::IllegalArgument(msg.into())
}

fn parsing(msg: impl Into<String>) -> EsError {
    EsError::Parsing(msg.into())
}

/// Translates an `aggs` / `aggregations` object.
pub fn translate(schema: &LogSchema, aggs: &Value) -> Result<AggPlan, EsError> {
    let (mut json, mut render) = translate_level(schema, aggs)?;
    let fast = match &mut json {
        Value::Object(top) => extract_fast(top, &mut render),
        _ => Vec::new(),
    };
    let request: Aggregations =
        serde_json::from_value(json).map_err(|e| parsing(format!("failed to parse aggregations: {e}")))?;
    Ok(AggPlan { request, render, fast })
}

/// Moves the top-level aggregations the fast collectors handle out of the tantivy request:
/// `date_histogram` on `@timestamp` and `terms` ordered by count or key, without sub-aggregations.
fn extract_fast(top: &mut Map<String, Value>, render: &mut BTreeMap<String, RenderNode>) -> Vec<FastAgg> {
    let mut fast = Vec::new();
    let names: Vec<String> = top.keys().cloned().collect();
    for name in names {
        let Some(entry) = top.get(&name).and_then(Value::as_object) else { continue };
        if entry.contains_key("aggs") {
            continue;
        }
        let ms = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|s| s.trim_start_matches('+').strip_suffix("ms"))
                .and_then(|s| s.parse::<i64>().ok())
        };
        let bounds = |v: Option<&Value>| {
            let ns = |x: f64| (x as i64).saturating_mul(time::NANOS_PER_MILLI);
            v.and_then(|b| Some((ns(b.get("min")?.as_f64()?), ns(b.get("max")?.as_f64()?))))
        };
        let agg = if let Some(h) = entry.get("date_histogram") {
            let format = match render.get(&name).map(|r| &r.render) {
                Some(Render::DateHistogram { format }) => format.clone(),
                _ => continue,
            };
            if h.get("field").and_then(Value::as_str) != Some("@timestamp") {
                continue;
            }
            let Some(interval) = ms(h.get("fixed_interval")) else { continue };
            let (Some(interval_ns), Some(offset_ns)) = (
                interval.checked_mul(time::NANOS_PER_MILLI),
                ms(h.get("offset")).unwrap_or(0).checked_mul(time::NANOS_PER_MILLI),
            ) else {
                continue;
            };
            FastAgg::DateHistogram {
                name: name.clone(),
                interval_ns,
                offset_ns,
                min_doc_count: h.get("min_doc_count").and_then(Value::as_u64).unwrap_or(0),
                extended: bounds(h.get("extended_bounds")),
                hard: bounds(h.get("hard_bounds")),
                format,
                keyed: h.get("keyed").and_then(Value::as_bool).unwrap_or(false),
            }
        } else if let Some(t) = entry.get("terms") {
            if t.get("missing").is_some() {
                continue;
            }
            let order = match t.get("order").and_then(Value::as_object).and_then(|o| o.iter().next()) {
                None => TermsOrder { by_key: false, desc: true },
                Some((target, dir)) => {
                    let desc = dir.as_str().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
                    match target.as_str() {
                        "_count" => TermsOrder { by_key: false, desc },
                        "_key" => TermsOrder { by_key: true, desc },
                        _ => continue,
                    }
                }
            };
            let Some(column) = t.get("field").and_then(Value::as_str) else { continue };
            FastAgg::Terms {
                name: name.clone(),
                column: column.to_string(),
                size: t.get("size").and_then(Value::as_u64).unwrap_or(10) as usize,
                min_doc_count: t.get("min_doc_count").and_then(Value::as_u64).unwrap_or(1).max(1),
                order,
            }
        } else {
            continue;
        };
        top.remove(&name);
        render.remove(&name);
        fast.push(agg);
    }
    fast
}

fn translate_level(schema: &LogSchema, aggs: &Value) -> Result<(Value, BTreeMap<String, RenderNode>), EsError> {
    let obj = aggs.as_object().ok_or_else(|| parsing("Expected [START_OBJECT] under [aggs]"))?;
    let mut out = Map::new();
    let mut render = BTreeMap::new();
    for (name, def) in obj {
        let def = def.as_object().ok_or_else(|| parsing(format!("Expected [START_OBJECT] under [{name}]")))?;
        let mut kind: Option<(&String, &Value)> = None;
        let mut subs: Option<&Value> = None;
        for (key, value) in def {
            match key.as_str() {
                "aggs" | "aggregations" => subs = Some(value),
                "meta" => {}
                _ => {
                    if let Some((first, _)) = kind {
                        return Err(parsing(format!(
                            "Found two aggregation type definitions in [{name}]: [{first}] and [{key}]"
                        )));
                    }
                    kind = Some((key, value));
                }
            }
        }
        let (kind, params) = kind.ok_or_else(|| parsing(format!("Missing definition for aggregation [{name}]")))?;
        let params = params.as_object().ok_or_else(|| parsing(format!("Expected [START_OBJECT] under [{kind}]")))?;
        let (body, node_render) = translate_one(schema, name, kind, params)?;
        let mut entry = Map::new();
        entry.insert(kind.to_string(), Value::Object(body));
        let mut sub_render = BTreeMap::new();
        if let Some(subs) = subs {
            if !matches!(
                node_render,
                Render::DateHistogram { .. } | Render::Histogram | Render::Terms { .. } | Render::Range
            ) {
                return Err(illegal(format!("Aggregator [{name}] of type [{kind}] cannot accept sub-aggregations")));
            }
            let (sub_json, sub_r) = translate_level(schema, subs)?;
            if sub_json.as_object().is_some_and(|m| !m.is_empty()) {
                entry.insert("aggs".into(), sub_json);
            }
            sub_render = sub_r;
        }
        out.insert(name.clone(), Value::Object(entry));
        render.insert(name.clone(), RenderNode { render: node_render, subs: sub_render });
    }
    Ok((Value::Object(out), render))
}

/// The fast field an aggregation reads, refusing fields without one.
fn agg_field(schema: &LogSchema, params: &Map<String, Value>, kind: &str) -> Result<(String, FieldRef), EsError> {
    let Some(name) = params.get("field").and_then(Value::as_str) else {
        if params.contains_key("script") {
            return Err(illegal(format!("scripts are not supported in [{kind}] aggregations")));
        }
        return Err(illegal(format!("Required [field] in [{kind}] aggregation")));
    };
    let field = FieldRef::resolve(schema, name);
    match &field.kind {
        FieldKind::Text(_) | FieldKind::Keyword { fast: false, .. } => Err(illegal(format!(
            "Field [{name}] is a text field without doc values and cannot be used in aggregations; use a keyword field"
        ))),
        _ => Ok((schema.fast_field_name(&schema.resolve(name)), field)),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn uint(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
}

/// A date bound (`extended_bounds`, `hard_bounds`) as epoch milliseconds.
fn date_bound_ms(v: &Value, format: Option<&str>) -> Result<f64, EsError> {
    let nanos = time::parse_date_value(v, format, time::now_nanos(), false).map_err(parsing)?;
    Ok((nanos / time::NANOS_PER_MILLI) as f64)
}

/// Interval names accepted by `calendar_interval` / legacy `interval` that are fixed in UTC.
fn calendar_to_fixed(s: &str) -> Result<String, EsError> {
    let fixed = match s {
        "second" | "1s" => "1s",
        "minute" | "1m" => "1m",
        "hour" | "1h" => "1h",
        "day" | "1d" => "1d",
        "week" | "1w" => "1w",
        "month" | "1M" | "quarter" | "1q" | "year" | "1y" => {
            return Err(illegal(format!("calendar interval [{s}] is not supported; use a fixed interval")));
        }
        other => other,
    };
    Ok(fixed.to_string())
}

/// A `time_zone` as an offset from UTC in milliseconds (`+02:00`, `-0530`, `UTC`); named zones
/// other than UTC aliases are read as UTC.
fn zone_offset_ms(tz: &str) -> i64 {
    let tz = tz.trim();
    let Some(sign) = tz.chars().next().filter(|c| *c == '+' || *c == '-') else {
        return 0;
    };
    let digits: String = tz[1..].chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().unwrap_or(0), 0),
        4 => (digits[..2].parse::<i64>().unwrap_or(0), digits[2..].parse::<i64>().unwrap_or(0)),
        _ => return 0,
    };
    let ms = (h * 60 + m) * 60_000;
    if sign == '-' { -ms } else { ms }
}

fn translate_one(
    schema: &LogSchema,
    name: &str,
    kind: &str,
    params: &Map<String, Value>,
) -> Result<(Map<String, Value>, Render), EsError> {
    let mut body = Map::new();
    let copy_missing = |body: &mut Map<String, Value>| {
        if let Some(m) = params.get("missing") {
            body.insert("missing".into(), m.clone());
        }
    };
    let render = match kind {
        "date_histogram" => {
            let (field, _) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            let format = params.get("format").and_then(Value::as_str).map(str::to_string);
            let interval = if let Some(v) = params.get("fixed_interval").and_then(Value::as_str) {
                v.to_string()
            } else if let Some(v) = params.get("calendar_interval").and_then(Value::as_str) {
                calendar_to_fixed(v)?
            } else if let Some(v) = params.get("interval") {
                match v {
                    Value::Number(n) => format!("{}ms", n.as_u64().unwrap_or(0)),
                    Value::String(s) => calendar_to_fixed(s)?,
                    _ => return Err(illegal(format!("[{name}] invalid interval"))),
                }
            } else {
                return Err(illegal(format!("Invalid interval specified, must be non-null and non-empty [{name}]")));
            };
            let interval_ms = time::parse_fixed_interval_ms(&interval).map_err(illegal)?;
            body.insert("fixed_interval".into(), format!("{interval_ms}ms").into());
            let mut offset_ms = 0i64;
            if let Some(off) = params.get("offset").and_then(Value::as_str) {
                let (sign, rest) = match off.strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, off.strip_prefix('+').unwrap_or(off)),
                };
                offset_ms += sign * time::parse_fixed_interval_ms(rest).map_err(illegal)?;
            }
            if let Some(tz) = params.get("time_zone").and_then(Value::as_str) {
                offset_ms -= zone_offset_ms(tz);
            }
            let offset_ms = offset_ms.rem_euclid(interval_ms);
            if offset_ms != 0 {
                body.insert("offset".into(), format!("+{offset_ms}ms").into());
            }
            let min_doc_count = params.get("min_doc_count").and_then(uint).unwrap_or(0);
            body.insert("min_doc_count".into(), min_doc_count.into());
            for key in ["extended_bounds", "hard_bounds"] {
                // Extended bounds only add empty buckets, which min_doc_count > 0 removes again.
                if key == "extended_bounds" && min_doc_count > 0 {
                    continue;
                }
                if let Some(bounds) = params.get(key).and_then(Value::as_object) {
                    let (Some(min), Some(max)) = (bounds.get("min"), bounds.get("max")) else { continue };
                    let bound_format = format.as_deref();
                    let min = date_bound_ms(min, bound_format)?;
                    let max = date_bound_ms(max, bound_format)?;
                    body.insert(key.into(), json!({"min": min, "max": max}));
                }
            }
            if params.get("keyed").and_then(Value::as_bool) == Some(true) {
                body.insert("keyed".into(), true.into());
            }
            Render::DateHistogram { format }
        }
        "histogram" => {
            let (field, field_ref) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            let interval = params.get("interval").and_then(number).filter(|i| *i > 0.0);
            let interval =
                interval.ok_or_else(|| illegal(format!("[interval] must be >0 for histogram aggregation [{name}]")))?;
            if matches!(field_ref.kind, FieldKind::Timestamp) {
                return Err(illegal(format!("use a date_histogram on [{}] instead of a histogram", field_ref.name)));
            }
            body.insert("interval".into(), interval.into());
            if let Some(v) = params.get("offset").and_then(number) {
                body.insert("offset".into(), v.into());
            }
            let min_doc_count = params.get("min_doc_count").and_then(uint).unwrap_or(0);
            body.insert("min_doc_count".into(), min_doc_count.into());
            for key in ["extended_bounds", "hard_bounds"] {
                if key == "extended_bounds" && min_doc_count > 0 {
                    continue;
                }
                if let Some(b) = params.get(key).and_then(Value::as_object)
                    && let (Some(min), Some(max)) = (b.get("min").and_then(number), b.get("max").and_then(number))
                {
                    body.insert(key.into(), json!({"min": min, "max": max}));
                }
            }
            if params.get("keyed").and_then(Value::as_bool) == Some(true) {
                body.insert("keyed".into(), true.into());
            }
            Render::Histogram
        }
        "terms" => {
            let (field, _) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            if let Some(refused) = ["include", "exclude", "script"].into_iter().find(|k| params.contains_key(*k)) {
                return Err(illegal(format!("[{refused}] is not supported in terms aggregation [{name}]")));
            }
            let size = params.get("size").and_then(uint).map(|s| if s == 0 { 500 } else { s }).unwrap_or(10);
            body.insert("size".into(), size.into());
            if let Some(s) = params.get("shard_size").and_then(uint) {
                body.insert("segment_size".into(), s.max(size).into());
            }
            if let Some(m) = params.get("min_doc_count").and_then(uint) {
                body.insert("min_doc_count".into(), m.into());
            }
            if let Some(order) = params.get("order") {
                let order = match order {
                    Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
                    other => other.clone(),
                };
                if let Value::Object(o) = order
                    && let Some((target, dir)) = o.into_iter().next()
                {
                    let target = if target == "_term" { "_key".to_string() } else { target };
                    body.insert("order".into(), json!({ target: dir }));
                }
            }
            copy_missing(&mut body);
            let by_count = body.get("order").and_then(Value::as_object).is_none_or(|o| o.contains_key("_count"));
            Render::Terms { by_count }
        }
        "range" => {
            let (field, _) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            let ranges = params
                .get("ranges")
                .and_then(Value::as_array)
                .ok_or_else(|| illegal(format!("No [ranges] specified for the [{name}] aggregation")))?;
            let mut out = Vec::new();
            for r in ranges {
                let mut entry = Map::new();
                for key in ["from", "to"] {
                    if let Some(v) = r.get(key).and_then(number) {
                        entry.insert(key.into(), v.into());
                    }
                }
                if let Some(k) = r.get("key").and_then(Value::as_str) {
                    entry.insert("key".into(), k.into());
                }
                out.push(Value::Object(entry));
            }
            body.insert("ranges".into(), Value::Array(out));
            if params.get("keyed").and_then(Value::as_bool) == Some(true) {
                body.insert("keyed".into(), true.into());
            }
            Render::Range
        }
        "avg" | "sum" | "min" | "max" | "value_count" | "cardinality" => {
            let (field, field_ref) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            copy_missing(&mut body);
            let date = matches!(field_ref.kind, FieldKind::Timestamp) && matches!(kind, "min" | "max" | "avg");
            Render::Value {
                zero: matches!(kind, "sum" | "value_count" | "cardinality"),
                integer: matches!(kind, "value_count" | "cardinality"),
                date,
            }
        }
        "stats" | "extended_stats" => {
            let (field, _) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            copy_missing(&mut body);
            if kind == "extended_stats"
                && let Some(s) = params.get("sigma").and_then(number)
            {
                body.insert("sigma".into(), s.into());
            }
            Render::Stats
        }
        "percentiles" => {
            let (field, _) = agg_field(schema, params, kind)?;
            body.insert("field".into(), field.into());
            if let Some(p) = params.get("percents").and_then(Value::as_array) {
                let percents: Vec<f64> = p.iter().filter_map(number).collect();
                body.insert("percents".into(), percents.into());
            }
            body.insert("keyed".into(), params.get("keyed").and_then(Value::as_bool).unwrap_or(true).into());
            copy_missing(&mut body);
            Render::Percentiles
        }
        other => return Err(illegal(format!("aggregation type [{other}] of [{name}] is not supported"))),
    };
    Ok((body, render))
}

/// Runs an [`AggPlan`] over partitions.
pub struct AggRun {
    plan: AggPlan,
    limits: AggregationLimitsGuard,
    merged: Option<IntermediateAggregationResults>,
    fast: Vec<Option<FastFruit>>,
}

impl AggRun {
    pub fn new(plan: AggPlan) -> AggRun {
        let fast = plan.fast.iter().map(|_| None).collect();
        AggRun { plan, limits: AggregationLimitsGuard::new(Some(MEMORY_LIMIT), Some(MAX_BUCKETS)), merged: None, fast }
    }

    /// The tantivy collector for one partition (`None` when every aggregation runs on the fast
    /// collectors).
    pub fn collector(&self) -> Option<DistributedAggregationCollector> {
        (!self.plan.request.is_empty())
            .then(|| DistributedAggregationCollector::from_aggs(self.plan.request.clone(), self.limits.clone()))
    }

    /// The fast aggregations, to collect alongside.
    pub fn fast_aggs(&self) -> &[FastAgg] {
        &self.plan.fast
    }

    /// Adds one partition's results. Call only for partitions with at least one segment (an empty
    /// searcher's tantivy result has no entries and would empty the merge).
    pub fn merge(
        &mut self,
        tantivy: Option<IntermediateAggregationResults>,
        fast: Vec<FastFruit>,
    ) -> Result<(), EsError> {
        if let Some(fruit) = tantivy {
            match &mut self.merged {
                Some(acc) => acc.merge_fruits(fruit)?,
                None => self.merged = Some(fruit),
            }
        }
        for (slot, fruit) in self.fast.iter_mut().zip(fast) {
            match slot {
                Some(acc) => acc.merge_from(fruit),
                None => *slot = Some(fruit),
            }
        }
        Ok(())
    }

    /// The rendered `aggregations` object.
    pub fn finish(self) -> Result<Value, EsError> {
        let mut out = Map::new();
        if !self.plan.request.is_empty() {
            let merged = self.merged.unwrap_or_default();
            let results: AggregationResults =
                merged.into_final_result(self.plan.request.clone(), self.limits.clone())?;
            for (name, node) in &self.plan.render {
                let value = match results.0.get(name) {
                    Some(r) => serde_json::to_value(r).map_err(|e| EsError::Internal(e.to_string()))?,
                    None => Value::Null,
                };
                out.insert(name.clone(), render(node, value));
            }
        }
        for (agg, fruit) in self.plan.fast.iter().zip(self.fast) {
            out.insert(agg.name().to_string(), agg.render(fruit)?);
        }
        Ok(Value::Object(out))
    }
}

fn render(node: &RenderNode, mut v: Value) -> Value {
    match &node.render {
        Render::DateHistogram { format } => {
            let fix = |b: &mut Value| {
                if let Some(key) = b.get("key").and_then(Value::as_f64) {
                    let ms = key.round() as i64;
                    b["key"] = ms.into();
                    b["key_as_string"] = time::format_date(ms.saturating_mul(time::NANOS_PER_MILLI), format.as_deref());
                }
            };
            render_buckets(node, &mut v, fix, true);
            v
        }
        Render::Histogram | Render::Range => {
            render_buckets(node, &mut v, |_| {}, false);
            v
        }
        Render::Terms { by_count } => {
            render_buckets(node, &mut v, |_| {}, false);
            // Equal counts in key order, as Elasticsearch (tantivy leaves ties unordered).
            if *by_count && let Some(Value::Array(buckets)) = v.get_mut("buckets") {
                let key_order = |a: &Value, b: &Value| match (&a["key"], &b["key"]) {
                    (Value::String(x), Value::String(y)) => x.cmp(y),
                    (x, y) => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
                };
                let count = |b: &Value| b["doc_count"].as_u64().unwrap_or(0);
                let mut i = 0;
                while i < buckets.len() {
                    let mut j = i + 1;
                    while j < buckets.len() && count(&buckets[j]) == count(&buckets[i]) {
                        j += 1;
                    }
                    buckets[i..j].sort_by(key_order);
                    i = j;
                }
            }
            if let Value::Object(m) = &mut v {
                m.entry("doc_count_error_upper_bound").or_insert(0.into());
                m.entry("sum_other_doc_count").or_insert(0.into());
            }
            v
        }
        Render::Value { zero, integer, date } => {
            let value = v.get("value").and_then(Value::as_f64);
            match value {
                None if *zero => json!({"value": 0}),
                None => json!({"value": null}),
                Some(x) if *integer => json!({"value": x.round() as i64}),
                Some(x) if *date => {
                    let ms = (x / time::NANOS_PER_MILLI as f64).round() as i64;
                    json!({"value": ms as f64, "value_as_string": time::format_iso_millis(ms.saturating_mul(time::NANOS_PER_MILLI))})
                }
                Some(x) => json!({"value": x}),
            }
        }
        Render::Stats => {
            if let Value::Object(m) = &mut v
                && m.get("sum").is_some_and(Value::is_null)
            {
                m.insert("sum".into(), 0.0.into());
            }
            v
        }
        Render::Percentiles => v,
    }
}

/// Applies `fix` to every bucket (array or keyed map) and renders its sub-aggregations.
fn render_buckets(node: &RenderNode, v: &mut Value, fix: impl Fn(&mut Value), rekey: bool) {
    let fix_one = |b: &mut Value| {
        fix(b);
        for (name, sub) in &node.subs {
            if let Some(slot) = b.get_mut(name) {
                let taken = slot.take();
                *slot = render(sub, taken);
            }
        }
    };
    match v.get_mut("buckets") {
        Some(Value::Array(buckets)) => buckets.iter_mut().for_each(fix_one),
        Some(Value::Object(map)) => {
            let mut rebuilt = Map::new();
            for (key, mut b) in std::mem::take(map) {
                fix_one(&mut b);
                let key = if rekey {
                    b.get("key_as_string").and_then(Value::as_str).map(str::to_string).unwrap_or(key)
                } else {
                    key
                };
                rebuilt.insert(key, b);
            }
            *map = rebuilt;
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Fast paths: Grafana's most frequent aggregations (volume / count-over-time histograms, top-N
// values) counted directly from the fast-field columns in blocks, without tantivy's generic
// bucket machinery. Results are exact (`doc_count_error_upper_bound` is 0).

/// `terms` ordering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermsOrder {
    pub by_key: bool,
    pub desc: bool,
}

/// An aggregation run by the fast collectors.
#[derive(Debug, Clone, PartialEq)]
pub enum FastAgg {
    DateHistogram {
        name: String,
        interval_ns: i64,
        offset_ns: i64,
        min_doc_count: u64,
        extended: Option<(i64, i64)>,
        hard: Option<(i64, i64)>,
        format: Option<String>,
        keyed: bool,
    },
    Terms {
        name: String,
        /// Fast-field name.
        column: String,
        size: usize,
        min_doc_count: u64,
        order: TermsOrder,
    },
}

/// A term of a fast `terms` aggregation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TermKey {
    I64(i64),
    U64(u64),
    /// f64 bits, ordered through [`TermKey::sort_value`].
    F64(u64),
    Bool(bool),
    Date(i64),
    Str(String),
}

impl TermKey {
    fn sort_value(&self) -> (u8, f64, &str) {
        match self {
            TermKey::I64(v) | TermKey::Date(v) => (0, *v as f64, ""),
            TermKey::U64(v) => (0, *v as f64, ""),
            TermKey::F64(bits) => (0, f64::from_bits(*bits), ""),
            TermKey::Bool(b) => (0, f64::from(u8::from(*b)), ""),
            TermKey::Str(s) => (1, 0.0, s),
        }
    }

    fn cmp_key(&self, other: &TermKey) -> std::cmp::Ordering {
        let (a, b) = (self.sort_value(), other.sort_value());
        a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(b.2))
    }

    fn render(&self, bucket: &mut Map<String, Value>) {
        let (key, as_string) = match self {
            TermKey::I64(v) => (json!(v), None),
            TermKey::U64(v) => (json!(v), None),
            TermKey::F64(bits) => (json!(f64::from_bits(*bits)), None),
            TermKey::Bool(b) => (json!(u8::from(*b)), Some(b.to_string())),
            TermKey::Date(ns) => (json!(ns.div_euclid(time::NANOS_PER_MILLI)), Some(time::format_iso_millis(*ns))),
            TermKey::Str(s) => (json!(s), None),
        };
        bucket.insert("key".into(), key);
        if let Some(s) = as_string {
            bucket.insert("key_as_string".into(), s.into());
        }
    }
}

/// What a fast aggregation collected.
#[derive(Debug, Clone, PartialEq)]
pub enum FastFruit {
    /// Bucket index → count.
    Histogram(BTreeMap<i64, u64>),
    Terms(HashMap<TermKey, u64>),
}

impl FastFruit {
    pub fn merge_from(&mut self, other: FastFruit) {
        match (self, other) {
            (FastFruit::Histogram(a), FastFruit::Histogram(b)) => {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
            }
            (FastFruit::Terms(a), FastFruit::Terms(b)) => {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
            }
            _ => {}
        }
    }
}

/// Dense bucket counters cover at most this many buckets per segment; beyond, a map.
const DENSE_BUCKETS: i64 = 1 << 20;

/// A fast aggregation collecting one segment.
pub enum FastSegment {
    Histogram {
        ts: Column<DateTime>,
        interval: i64,
        offset: i64,
        base: i64,
        dense: Vec<u64>,
        sparse: HashMap<i64, u64>,
        buf: Vec<Option<DateTime>>,
    },
    Terms {
        columns: Vec<DynamicColumn>,
        ord_counts: Vec<Vec<u64>>,
        other: HashMap<TermKey, u64>,
    },
}

impl FastAgg {
    pub fn name(&self) -> &str {
        match self {
            FastAgg::DateHistogram { name, .. } | FastAgg::Terms { name, .. } => name,
        }
    }

    pub fn for_segment(&self, reader: &SegmentReader) -> tantivy::Result<FastSegment> {
        Ok(match self {
            FastAgg::DateHistogram { interval_ns, offset_ns, .. } => {
                let ts = reader.fast_fields().date("@timestamp")?;
                let bucket = |t: DateTime| (t.into_timestamp_nanos() - offset_ns).div_euclid(*interval_ns);
                let (lo, hi) = (bucket(ts.min_value()), bucket(ts.max_value()));
                let dense_len = if hi >= lo && hi - lo < DENSE_BUCKETS { (hi - lo + 1) as usize } else { 0 };
                FastSegment::Histogram {
                    ts,
                    interval: *interval_ns,
                    offset: *offset_ns,
                    base: lo,
                    dense: vec![0; dense_len],
                    sparse: HashMap::new(),
                    buf: Vec::new(),
                }
            }
            FastAgg::Terms { column, .. } => {
                let mut columns = Vec::new();
                for handle in reader.fast_fields().dynamic_column_handles(column)? {
                    if let c @ (DynamicColumn::Str(_)
                    | DynamicColumn::I64(_)
                    | DynamicColumn::U64(_)
                    | DynamicColumn::F64(_)
                    | DynamicColumn::Bool(_)
                    | DynamicColumn::DateTime(_)) = handle.open()?
                    {
                        columns.push(c);
                    }
                }
                let ord_counts = columns
                    .iter()
                    .map(|c| match c {
                        DynamicColumn::Str(s) => vec![0; s.num_terms()],
                        _ => Vec::new(),
                    })
                    .collect();
                FastSegment::Terms { columns, ord_counts, other: HashMap::new() }
            }
        })
    }

    fn render(&self, fruit: Option<FastFruit>) -> Result<Value, EsError> {
        match self {
            FastAgg::DateHistogram { interval_ns, offset_ns, min_doc_count, extended, hard, format, keyed, .. } => {
                let data = match fruit {
                    Some(FastFruit::Histogram(d)) => d,
                    _ => BTreeMap::new(),
                };
                let bucket = |t: i64| (t - offset_ns).div_euclid(*interval_ns);
                let first = data.keys().next().copied();
                let last = data.keys().next_back().copied();
                let (mut lo, mut hi) = (first.unwrap_or(i64::MAX), last.unwrap_or(i64::MIN));
                if *min_doc_count == 0
                    && let Some((min, max)) = extended
                {
                    lo = lo.min(bucket(*min));
                    hi = hi.max(bucket(*max));
                }
                if let Some((min, max)) = hard {
                    lo = lo.max(bucket(*min) + i64::from((*min - offset_ns).rem_euclid(*interval_ns) != 0));
                    hi = hi.min(bucket(*max));
                }
                let make = |idx: i64, count: u64| {
                    let key_ns = idx * interval_ns + offset_ns;
                    let key_ms = key_ns.div_euclid(time::NANOS_PER_MILLI);
                    json!({"key_as_string": time::format_date(key_ns, format.as_deref()), "key": key_ms, "doc_count": count})
                };
                let mut buckets = Vec::new();
                if lo <= hi {
                    if *min_doc_count == 0 {
                        if hi - lo >= i64::from(MAX_BUCKETS) {
                            return Err(EsError::TooManyBuckets(format!(
                                "Trying to create too many buckets. Must be less than or equal to: [{MAX_BUCKETS}] but was [{}].",
                                hi - lo + 1
                            )));
                        }
                        buckets = (lo..=hi).map(|i| make(i, data.get(&i).copied().unwrap_or(0))).collect();
                    } else {
                        buckets = data
                            .range(lo..=hi)
                            .filter(|(_, c)| **c >= *min_doc_count)
                            .map(|(i, c)| make(*i, *c))
                            .collect();
                    }
                }
                if *keyed {
                    let map: Map<String, Value> = buckets
                        .into_iter()
                        .map(|b| (b["key_as_string"].as_str().unwrap_or_default().to_string(), b))
                        .collect();
                    return Ok(json!({"buckets": map}));
                }
                Ok(json!({"buckets": buckets}))
            }
            FastAgg::Terms { size, min_doc_count, order, .. } => {
                let data = match fruit {
                    Some(FastFruit::Terms(d)) => d,
                    _ => HashMap::new(),
                };
                let total: u64 = data.values().sum();
                let mut entries: Vec<(TermKey, u64)> = data.into_iter().filter(|(_, c)| *c >= *min_doc_count).collect();
                entries.sort_by(|(ka, ca), (kb, cb)| {
                    let primary = if order.by_key { ka.cmp_key(kb) } else { ca.cmp(cb) };
                    let primary = if order.desc { primary.reverse() } else { primary };
                    primary.then_with(|| ka.cmp_key(kb))
                });
                entries.truncate(*size);
                let shown: u64 = entries.iter().map(|(_, c)| c).sum();
                let buckets: Vec<Value> = entries
                    .into_iter()
                    .map(|(k, c)| {
                        let mut b = Map::new();
                        k.render(&mut b);
                        b.insert("doc_count".into(), c.into());
                        Value::Object(b)
                    })
                    .collect();
                Ok(json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": total - shown, "buckets": buckets}))
            }
        }
    }
}

fn count_values<T: PartialOrd + Copy + Send + Sync + std::fmt::Debug + 'static>(
    column: &Column<T>,
    docs: &[DocId],
    mut add: impl FnMut(T),
) {
    // A run of consecutive documents (what a match-all or a whole-partition time range hands over)
    // maps to a run of rows: read the values directly, without a per-document index lookup.
    if let (Some(&first), Some(&last)) = (docs.first(), docs.last())
        && (last - first) as usize + 1 == docs.len()
    {
        for row in column.index.docid_range_to_rowids(first..last + 1) {
            add(column.values.get_val(row));
        }
        return;
    }
    match column.get_cardinality() {
        tantivy::columnar::Cardinality::Multivalued => {
            for doc in docs {
                for v in column.values_for_doc(*doc) {
                    add(v);
                }
            }
        }
        _ => {
            let mut buf = vec![None; docs.len()];
            column.first_vals(docs, &mut buf);
            for v in buf.into_iter().flatten() {
                add(v);
            }
        }
    }
}

impl FastSegment {
    pub fn collect_block(&mut self, docs: &[DocId]) {
        match self {
            FastSegment::Histogram { ts, interval, offset, base, dense, sparse, buf } => {
                buf.clear();
                buf.resize(docs.len(), None);
                ts.first_vals(docs, buf);
                // Bucket of t relative to the segment's first bucket: a float reciprocal instead of
                // a division per document, corrected to the exact integer result.
                let start = *base * *interval + *offset;
                let inverse = 1.0 / *interval as f64;
                for t in buf.iter().flatten() {
                    let rel = t.into_timestamp_nanos() - start;
                    let mut slot = (rel as f64 * inverse) as i64;
                    if slot * *interval > rel {
                        slot -= 1;
                    } else if (slot + 1) * *interval <= rel {
                        slot += 1;
                    }
                    if rel >= 0 && (slot as usize) < dense.len() {
                        dense[slot as usize] += 1;
                    } else {
                        *sparse.entry((t.into_timestamp_nanos() - *offset).div_euclid(*interval)).or_default() += 1;
                    }
                }
            }
            FastSegment::Terms { columns, ord_counts, other } => {
                for (column, counts) in columns.iter().zip(ord_counts.iter_mut()) {
                    match column {
                        DynamicColumn::Str(s) => count_values(s.ords(), docs, |ord| {
                            if let Some(c) = counts.get_mut(ord as usize) {
                                *c += 1;
                            }
                        }),
                        DynamicColumn::I64(c) => {
                            count_values(c, docs, |v| *other.entry(TermKey::I64(v)).or_default() += 1)
                        }
                        DynamicColumn::U64(c) => count_values(c, docs, |v| {
                            let key = i64::try_from(v).map(TermKey::I64).unwrap_or(TermKey::U64(v));
                            *other.entry(key).or_default() += 1
                        }),
                        DynamicColumn::F64(c) => {
                            count_values(c, docs, |v| *other.entry(TermKey::F64(v.to_bits())).or_default() += 1)
                        }
                        DynamicColumn::Bool(c) => {
                            count_values(c, docs, |v| *other.entry(TermKey::Bool(v)).or_default() += 1)
                        }
                        DynamicColumn::DateTime(c) => count_values(c, docs, |v| {
                            *other.entry(TermKey::Date(v.into_timestamp_nanos())).or_default() += 1
                        }),
                        _ => {}
                    }
                }
            }
        }
    }

    pub fn harvest(self) -> FastFruit {
        match self {
            FastSegment::Histogram { base, dense, sparse, .. } => {
                let mut out: BTreeMap<i64, u64> = sparse.into_iter().collect();
                for (i, c) in dense.into_iter().enumerate() {
                    if c > 0 {
                        *out.entry(base + i as i64).or_default() += c;
                    }
                }
                FastFruit::Histogram(out)
            }
            FastSegment::Terms { columns, ord_counts, mut other } => {
                for (column, counts) in columns.iter().zip(ord_counts) {
                    if let DynamicColumn::Str(s) = column {
                        // One sorted walk of the dictionary: looking ordinals up one by one
                        // decompresses a dictionary block for each.
                        let (ords, ord_counts): (Vec<u64>, Vec<u64>) =
                            counts.into_iter().enumerate().filter(|(_, c)| *c > 0).map(|(o, c)| (o as u64, c)).unzip();
                        let mut next = ord_counts.into_iter();
                        let _ = s.dictionary().sorted_ords_to_term_cb(ords.into_iter(), |bytes| {
                            let text = String::from_utf8_lossy(bytes).into_owned();
                            *other.entry(TermKey::Str(text)).or_default() += next.next().unwrap_or(0);
                            Ok(())
                        });
                    }
                }
                FastFruit::Terms(other)
            }
        }
    }
}

// Pharos — query/src/elastic/aggs.rs
