//! `_mapping` and `_field_caps`, derived from the data.
//!
//! Attribute paths and their value types are read from the term dictionary of `attributes` in
//! each segment, seeking from one `(path, type)` to the next (a few dictionary lookups per path,
//! independent of the number of terms). A path's types are attributed to every index present in
//! that segment, so an index's mapping is the union over the segments holding it — an
//! approximation where indices share segments. Types: strings → `text` with a `keyword`
//! sub-field, integers → `long`, floats → `float`, booleans → `boolean`, RFC 3339 strings → `date`;
//! a path holding several types is mapped to the first of text, float, long, date, boolean. Every
//! index also has `@timestamp` (`date`) and `message` (`text`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use tantivy::SegmentReader;
use tantivy::schema::Type;

use super::error::EsError;
use super::indices::{self, IndexExpr, IndexOptions};
use super::{ElasticState, LogSchema};

/// Elasticsearch field types, in order of precedence when a path holds several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EsType {
    Text,
    Float,
    Long,
    Date,
    Boolean,
}

impl EsType {
    fn name(self) -> &'static str {
        match self {
            EsType::Text => "text",
            EsType::Float => "float",
            EsType::Long => "long",
            EsType::Date => "date",
            EsType::Boolean => "boolean",
        }
    }

    fn from_tantivy(t: Type) -> Option<EsType> {
        Some(match t {
            Type::Str => EsType::Text,
            Type::F64 => EsType::Float,
            Type::I64 | Type::U64 => EsType::Long,
            Type::Date => EsType::Date,
            Type::Bool => EsType::Boolean,
            _ => return None,
        })
    }
}

/// `(path, type)` pairs of `attributes` in one segment.
pub fn segment_paths(schema: &LogSchema, segment: &SegmentReader) -> Result<Vec<(String, Type)>, EsError> {
    let inverted = segment.inverted_index(schema.attributes)?;
    let dict = inverted.terms();
    let mut out = Vec::new();
    let mut lower: Vec<u8> = Vec::new();
    loop {
        let mut stream = dict.range().ge(&lower).into_stream()?;
        if !stream.advance() {
            break;
        }
        let key = stream.key();
        let Some(end) = key.iter().position(|b| *b == 0) else { break };
        let Some(&code) = key.get(end + 1) else { break };
        if let Some(typ) = Type::from_code(code) {
            let path = String::from_utf8_lossy(&key[..end]).replace('\u{1}', ".");
            out.push((path, typ));
        }
        // The smallest key after every term of this (path, type).
        if code == u8::MAX {
            break;
        }
        let mut next = key[..=end].to_vec();
        next.push(code + 1);
        if next <= lower {
            break;
        }
        lower = next;
    }
    Ok(out)
}

/// Field types per index: `index → path → type`, for the indices `expr` selects over all time.
pub fn discover(
    state: &ElasticState,
    expr: &IndexExpr,
    options: IndexOptions,
) -> Result<BTreeMap<String, BTreeMap<String, EsType>>, EsError> {
    let schema = &*state.schema;
    let mut types: BTreeMap<String, BTreeMap<String, BTreeSet<EsType>>> = BTreeMap::new();
    let mut present = BTreeSet::new();
    for partition in state.snapshots.snapshot(i64::MIN, i64::MAX) {
        for segment in partition.searcher.segment_readers() {
            let names = indices::segment_indices(schema, segment)?;
            present.extend(names.iter().cloned());
            let selected: Vec<String> = names.into_iter().filter(|n| expr.matches(n)).collect();
            if selected.is_empty() {
                continue;
            }
            let paths = segment_paths(schema, segment)?;
            for index in selected {
                let entry = types.entry(index).or_default();
                for (path, typ) in &paths {
                    if let Some(t) = EsType::from_tantivy(*typ) {
                        entry.entry(path.clone()).or_default().insert(t);
                    }
                }
            }
        }
    }
    indices::check_concrete(schema, &*state.snapshots, &present, expr, options)?;
    Ok(types
        .into_iter()
        .map(|(index, paths)| {
            let mut fields: BTreeMap<String, EsType> =
                paths.into_iter().filter_map(|(p, ts)| ts.into_iter().next().map(|t| (p, t))).collect();
            fields.remove("@timestamp");
            fields.remove("message");
            (index, fields)
        })
        .collect())
}

fn leaf_mapping(t: EsType) -> Value {
    match t {
        EsType::Text => json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}),
        other => json!({"type": other.name()}),
    }
}

/// `properties` for one index: nested objects for dotted paths.
fn properties(fields: &BTreeMap<String, EsType>) -> Map<String, Value> {
    let mut root = Map::new();
    root.insert("@timestamp".into(), json!({"type": "date"}));
    root.insert("message".into(), json!({"type": "text"}));
    for (path, t) in fields {
        let parts: Vec<&str> = path.split('.').collect();
        let mut node = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                // An object at this name (from a longer path) wins over a leaf.
                if node.get(*part).is_none_or(|v| v.get("properties").is_none()) {
                    node.insert(part.to_string(), leaf_mapping(*t));
                }
                break;
            }
            let entry = node.entry(part.to_string()).or_insert_with(|| json!({"properties": {}}));
            if entry.get("properties").is_none() {
                *entry = json!({"properties": {}});
            }
            node = entry.get_mut("properties").and_then(Value::as_object_mut).expect("properties object");
        }
    }
    root
}

/// `GET [/{index}]/_mapping`.
pub fn mapping(state: &ElasticState, index_expr: &str, options: IndexOptions) -> Result<Value, EsError> {
    let found = discover(state, &IndexExpr::parse(index_expr), options)?;
    let mut out = Map::new();
    for (index, fields) in &found {
        out.insert(index.clone(), json!({"mappings": {"properties": properties(fields)}}));
    }
    Ok(Value::Object(out))
}

/// Per field and type: the indices having it, searchable, aggregatable, metadata field.
type Caps = (BTreeSet<String>, bool, bool, bool);

/// `[/{index}]/_field_caps?fields=…`.
pub fn field_caps(
    state: &ElasticState,
    index_expr: &str,
    options: IndexOptions,
    fields: &str,
) -> Result<Value, EsError> {
    let found = discover(state, &IndexExpr::parse(index_expr), options)?;
    let patterns: Vec<&str> = fields.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let wanted = |name: &str| patterns.is_empty() || patterns.iter().any(|p| indices::glob(p, name));
    // field → type → (indices, searchable, aggregatable, metadata)
    let mut caps: BTreeMap<String, BTreeMap<&'static str, Caps>> = BTreeMap::new();
    let mut add =
        |field: String, typ: &'static str, index: &str, searchable: bool, aggregatable: bool, metadata: bool| {
            let entry = caps
                .entry(field)
                .or_default()
                .entry(typ)
                .or_insert_with(|| (BTreeSet::new(), searchable, aggregatable, metadata));
            entry.0.insert(index.to_string());
        };
    for (index, fields) in &found {
        add("_index".into(), "_index", index, true, true, true);
        add("_id".into(), "_id", index, true, false, true);
        add("_source".into(), "_source", index, false, false, true);
        add("@timestamp".into(), "date", index, true, true, false);
        add("message".into(), "text", index, true, false, false);
        for (path, t) in fields {
            let parts: Vec<&str> = path.split('.').collect();
            for i in 1..parts.len() {
                add(parts[..i].join("."), "object", index, false, false, false);
            }
            match t {
                EsType::Text => {
                    add(path.clone(), "text", index, true, false, false);
                    add(format!("{path}.keyword"), "keyword", index, true, true, false);
                }
                other => add(path.clone(), other.name(), index, true, true, false),
            }
        }
    }
    let all_indices: Vec<String> = found.keys().cloned().collect();
    let mut out_fields = Map::new();
    for (field, types) in caps {
        if !wanted(&field) {
            continue;
        }
        let several = types.len() > 1;
        let mut per_type = Map::new();
        for (typ, (idx, searchable, aggregatable, metadata)) in types {
            let mut entry = json!({
                "type": typ, "metadata_field": metadata, "searchable": searchable, "aggregatable": aggregatable
            });
            if several {
                entry["indices"] = json!(idx.into_iter().collect::<Vec<_>>());
            }
            per_type.insert(typ.to_string(), entry);
        }
        out_fields.insert(field, Value::Object(per_type));
    }
    Ok(json!({"indices": all_indices, "fields": out_fields}))
}

// Pharos — query/src/elastic/mapping.rs
