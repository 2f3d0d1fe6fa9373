//! The tantivy schema of log partitions and the rules that map a record's document onto it.
//!
//! Keyword fields (`raw` below) index one term per value without positions or field norms.
//!
//! | field | tantivy type | options | holds |
//! |---|---|---|---|
//! | `_index` | str | raw, indexed, fast | the named index |
//! | `@timestamp` | date (ns precision) | fast (range queries read the column; no terms) | event time |
//! | `_stream` | str | raw, indexed, fast | canonical stream labels `{a="b",c="d"}` (Loki stream) |
//! | `message` | text | default tokenizer with positions | the log line (see below) |
//! | `severity` | str | raw, indexed, fast | level as written (`ERROR`, `info`, `Warning`…) |
//! | `service` | str | raw, indexed, fast | service name |
//! | `trace_id`, `span_id` | str | raw, indexed | lowercase hex |
//! | `attributes` | json | raw (keywords: exact, case-sensitive, like Elasticsearch `keyword`), expand dots, fast | every other document field (not the message's key, `@timestamp`, nor top-level trace/span id keys) |
//! | `_source` | bytes | stored (zstd doc store) | `LogRecord::source` verbatim |
//!
//! Derivation from the document (first key present wins; dotted names also match nested objects):
//! - message: `message`, `msg`, `log`, `body`; if none, the message field is left empty and a Loki
//!   read shows the whole `_source` as the line.
//! - severity: `level`, `severity`, `severity_text`, `log.level`, `loglevel`, `levelname`.
//! - service: `service.name`, `service_name`, `service`, `resource.service.name`, `app`.
//! - trace_id: `trace_id`, `traceId`, `trace.id`; span_id: `span_id`, `spanId`, `span.id` (strings only,
//!   lowercased).
//!
//! User field names resolve with [`LogSchema::resolve`]: `@timestamp`, `message`, `_index` map to
//! their own fields; `severity`, `service`, `trace_id`, `span_id` too; everything else (`level`,
//! `http.status`, `host.name`) is a path in `attributes`. A `.keyword` suffix is dropped (Grafana and
//! Kibana add it for exact matches and aggregations).

use serde_json::{Map, Value};
use tantivy::DateTime;
use tantivy::schema::{
    BytesOptions, DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, Schema,
    TextFieldIndexing, TextOptions,
};

use super::document::LogDocument;
use super::record::LogRecord;

/// Keys the derived fields are read from, first present wins.
const MESSAGE_KEYS: &[&str] = &["message", "msg", "log", "body"];
const SEVERITY_KEYS: &[&str] = &["level", "severity", "severity_text", "log.level", "loglevel", "levelname"];
const SERVICE_KEYS: &[&str] = &["service.name", "service_name", "service", "resource.service.name", "app"];
const TRACE_ID_KEYS: &[&str] = &["trace_id", "traceId", "trace.id"];
const SPAN_ID_KEYS: &[&str] = &["span_id", "spanId", "span.id"];

/// The log partitions' schema and its fields.
#[derive(Debug, Clone)]
pub struct LogSchema {
    pub schema: Schema,
    pub index: Field,
    pub timestamp: Field,
    pub stream: Field,
    pub message: Field,
    pub severity: Field,
    pub service: Field,
    pub trace_id: Field,
    pub span_id: Field,
    pub attributes: Field,
    pub source: Field,
}

/// Where a user's field name lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedField {
    /// One of the schema's own fields.
    Field(Field),
    /// A path inside the `attributes` JSON field (dots separate levels, as written by the user).
    Json { field: Field, path: String },
}

impl LogSchema {
    pub fn new() -> LogSchema {
        let mut builder = Schema::builder();
        // Keywords: one term per value, no field norms (nothing scores on them), fast for sorting
        // and aggregations.
        let keyword = TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false);
        let raw_fast = TextOptions::default().set_indexing_options(keyword.clone()).set_fast(Some("raw"));
        let raw = TextOptions::default().set_indexing_options(keyword.clone());
        let index = builder.add_text_field("_index", raw_fast.clone());
        let timestamp = builder.add_date_field(
            "@timestamp",
            DateOptions::default().set_fast().set_precision(DateTimePrecision::Nanoseconds),
        );
        let stream = builder.add_text_field("_stream", raw_fast.clone());
        let text = TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let message = builder.add_text_field("message", TextOptions::default().set_indexing_options(text.clone()));
        let severity = builder.add_text_field("severity", raw_fast.clone());
        let service = builder.add_text_field("service", raw_fast);
        let trace_id = builder.add_text_field("trace_id", raw.clone());
        let span_id = builder.add_text_field("span_id", raw);
        let attributes = builder.add_json_field(
            "attributes",
            JsonObjectOptions::default().set_indexing_options(keyword).set_expand_dots_enabled().set_fast(Some("raw")),
        );
        let source = builder.add_bytes_field("_source", BytesOptions::default().set_stored());
        LogSchema {
            schema: builder.build(),
            index,
            timestamp,
            stream,
            message,
            severity,
            service,
            trace_id,
            span_id,
            attributes,
            source,
        }
    }

    /// Where a field name a user wrote (query_string, term, aggregation, sort) lives.
    pub fn resolve(&self, name: &str) -> ResolvedField {
        let name = name.strip_suffix(".keyword").unwrap_or(name);
        let own = match name {
            "_index" => Some(self.index),
            "@timestamp" | "timestamp" => Some(self.timestamp),
            "_stream" => Some(self.stream),
            "message" => Some(self.message),
            "severity" => Some(self.severity),
            "service" => Some(self.service),
            "trace_id" => Some(self.trace_id),
            "span_id" => Some(self.span_id),
            _ => None,
        };
        match own {
            Some(field) => ResolvedField::Field(field),
            None => ResolvedField::Json { field: self.attributes, path: name.to_string() },
        }
    }

    /// The name tantivy's fast-field readers and aggregations take for a resolved field:
    /// `severity`, or `attributes.http.status`.
    pub fn fast_field_name(&self, resolved: &ResolvedField) -> String {
        match resolved {
            ResolvedField::Field(field) => self.schema.get_field_name(*field).to_string(),
            ResolvedField::Json { field, path } => format!("{}.{}", self.schema.get_field_name(*field), path),
        }
    }

    /// The tantivy document for a record.
    pub fn document(&self, record: &LogRecord) -> LogDocument {
        self.document_owned(record.clone())
    }

    /// The tantivy document for a record, consuming it (the store's write path: the parsed
    /// document is kept as it is and read in place, see [`LogDocument`]).
    pub fn document_owned(&self, record: LogRecord) -> LogDocument {
        let LogRecord { index, timestamp_nanos, labels, source, doc } = record;
        // Keys whose values live in fields of their own are not repeated in `attributes`: the
        // message's key, `@timestamp`, and the trace context (unique per document, so a second copy
        // would double the largest term dictionaries).
        let mut own_keys: [&'static str; 4] = ["@timestamp", "", "", ""];
        let message_key = first_string_key(&doc, MESSAGE_KEYS).map(|(top, key, _)| {
            own_keys[1] = top;
            key
        });
        let trace_id = first_string_key(&doc, TRACE_ID_KEYS).map(|(top, _, id)| {
            own_keys[2] = top;
            id.to_ascii_lowercase()
        });
        let span_id = first_string_key(&doc, SPAN_ID_KEYS).map(|(top, _, id)| {
            own_keys[3] = top;
            id.to_ascii_lowercase()
        });
        LogDocument {
            schema: self.clone(),
            index,
            timestamp: DateTime::from_timestamp_nanos(timestamp_nanos),
            stream: stream_key(&labels),
            message_key,
            severity_key: first_string_key(&doc, SEVERITY_KEYS).map(|(_, key, _)| key),
            service_key: first_string_key(&doc, SERVICE_KEYS).map(|(_, key, _)| key),
            trace_id,
            span_id,
            own_keys,
            doc,
            source,
        }
    }
}

impl Default for LogSchema {
    fn default() -> Self {
        LogSchema::new()
    }
}

/// The canonical text of a label set: `{a="b", c="d"}` as Loki prints it (names sorted, values with
/// `"` and `\` escaped). `{}` for no labels.
pub fn stream_key(labels: &[(String, String)]) -> String {
    let mut out = String::with_capacity(2 + labels.len() * 16);
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// The first key of `keys` present in `doc` as a string (dotted keys are looked up both as a flat
/// key and as a path through nested objects).
pub fn first_string<'a>(doc: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|key| lookup(doc, key).and_then(Value::as_str))
}

/// Like [`first_string`], returning where it was found: the top-level key (`""` when it came from a
/// nested object, which stays in `attributes`), the key of `keys` that matched, and the string.
fn first_string_key<'a>(
    doc: &'a Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, &'static str, &'a str)> {
    keys.iter().find_map(|key| {
        let value = lookup(doc, key)?.as_str()?;
        Some((if doc.contains_key(*key) { *key } else { "" }, *key, value))
    })
}

/// `doc[key]`, or for a dotted key the value at that path through nested objects.
pub fn lookup<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = doc.get(key) {
        return Some(v);
    }
    let (head, rest) = key.split_once('.')?;
    match doc.get(head)? {
        Value::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

/// One time partition as a query sees it: the tantivy searcher of the partition's last commit and
/// the partition's time bounds (nanoseconds, inclusive).
#[derive(Clone)]
pub struct PartitionSnapshot {
    pub min_nanos: i64,
    pub max_nanos: i64,
    pub searcher: tantivy::Searcher,
}

#[cfg(test)]
mod tests {
    use tantivy::collector::Count;
    use tantivy::query::TermQuery;
    use tantivy::schema::IndexRecordOption;
    use tantivy::{Index, Term};

    use super::*;

    fn index_of(docs: &[&str]) -> (LogSchema, tantivy::Searcher) {
        let schema = LogSchema::new();
        let index = Index::create_in_ram(schema.schema.clone());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for source in docs {
            let doc: Map<String, Value> = serde_json::from_str(source).unwrap();
            let record =
                LogRecord { index: "i".into(), timestamp_nanos: 1, labels: vec![], source: source.to_string(), doc };
            writer.add_document(schema.document_owned(record)).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        (schema, searcher)
    }

    fn attribute_count(schema: &LogSchema, searcher: &tantivy::Searcher, path: &str, value: &str) -> usize {
        let mut term = Term::from_field_json_path(schema.attributes, path, true);
        term.append_type_and_str(value);
        let basic = searcher.search(&TermQuery::new(term.clone(), IndexRecordOption::Basic), &Count).unwrap();
        let scored = searcher
            .search(&TermQuery::new(term, IndexRecordOption::WithFreqs), &tantivy::collector::TopDocs::with_limit(10))
            .unwrap();
        assert_eq!(basic, scored.len(), "a scoring term query finds what a counting one finds");
        basic
    }

    #[test]
    fn attribute_strings_are_exact_keywords_and_own_fields_are_not_repeated() {
        let (schema, searcher) = index_of(&[
            r#"{"level":"ERROR","host":{"name":"web-1"},"msg":"disk full","trace_id":"ABC"}"#,
            r#"{"level":"error","http.method":"GET /x"}"#,
        ]);
        assert_eq!(attribute_count(&schema, &searcher, "level", "ERROR"), 1);
        assert_eq!(attribute_count(&schema, &searcher, "level", "error"), 1);
        assert_eq!(attribute_count(&schema, &searcher, "host.name", "web-1"), 1);
        assert_eq!(attribute_count(&schema, &searcher, "http.method", "GET /x"), 1);
        // The message's key and the trace id live in their own fields only.
        assert_eq!(attribute_count(&schema, &searcher, "msg", "disk full"), 0);
        assert_eq!(attribute_count(&schema, &searcher, "trace_id", "ABC"), 0);
        let trace = Term::from_field_text(schema.trace_id, "abc");
        assert_eq!(searcher.search(&TermQuery::new(trace, IndexRecordOption::Basic), &Count).unwrap(), 1);
    }
}
