//! [`LogDocument`]: a log record as tantivy indexes it, read in place.
//!
//! tantivy's own `TantivyDocument` would need every attribute converted into its value type and
//! copied into its compact buffer; with its JSON object of attributes that conversion cost as much
//! as a quarter of the indexing itself. A `LogDocument` keeps the record's parsed JSON object and
//! hands tantivy references into it through [`LogValue`], so nothing is converted or copied. The
//! values tantivy sees, and so the index and the doc store, are the same as `TantivyDocument`'s:
//! serde_json numbers are i64, else u64, else f64; strings starting with a digit that parse as
//! RFC 3339 are dates; the rest are strings.

use serde_json::{Map, Value as Json};
use tantivy::DateTime;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{Document, Field, Value};

use super::schema::LogSchema;

/// One log record ready for tantivy: built by `LogSchema::document`.
#[derive(Debug, Clone)]
pub struct LogDocument {
    /// Where each value goes (a clone shares the schema).
    pub(crate) schema: LogSchema,
    pub(crate) index: String,
    pub(crate) timestamp: DateTime,
    pub(crate) stream: String,
    /// The record's parsed document; the derived fields below point into it by key.
    pub(crate) doc: Map<String, Json>,
    /// Keys of `doc` (`first_string` rules, dotted paths allowed) holding the message, severity and
    /// service, when present.
    pub(crate) message_key: Option<&'static str>,
    pub(crate) severity_key: Option<&'static str>,
    pub(crate) service_key: Option<&'static str>,
    /// Lowercased trace context.
    pub(crate) trace_id: Option<String>,
    pub(crate) span_id: Option<String>,
    /// Top-level keys of `doc` not repeated in `attributes` (`""` = none).
    pub(crate) own_keys: [&'static str; 4],
    pub(crate) source: String,
}

/// A value of a [`LogDocument`] as tantivy reads it.
#[derive(Debug, Clone)]
pub enum LogValue<'a> {
    Str(&'a str),
    Date(DateTime),
    Bytes(&'a [u8]),
    /// A value inside the attributes.
    Json(&'a Json),
    /// The attributes object: the document's top-level entries but the own keys.
    Attributes(&'a Map<String, Json>, &'a [&'static str; 4]),
}

/// The entries of an object value.
pub enum LogObjectIter<'a> {
    Json(serde_json::map::Iter<'a>),
    Attributes(serde_json::map::Iter<'a>, &'a [&'static str; 4]),
}

impl<'a> Iterator for LogObjectIter<'a> {
    type Item = (&'a str, LogValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            LogObjectIter::Json(entries) => entries.next().map(|(k, v)| (k.as_str(), LogValue::Json(v))),
            LogObjectIter::Attributes(entries, own) => {
                entries.find(|entry| !own.contains(&entry.0.as_str())).map(|(k, v)| (k.as_str(), LogValue::Json(v)))
            }
        }
    }
}

type ArrayIter<'a> = std::iter::Map<std::slice::Iter<'a, Json>, fn(&'a Json) -> LogValue<'a>>;

impl<'a> Value<'a> for LogValue<'a> {
    type ArrayIter = ArrayIter<'a>;
    type ObjectIter = LogObjectIter<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            LogValue::Str(s) => ReferenceValue::Leaf(ReferenceValueLeaf::Str(s)),
            LogValue::Date(d) => ReferenceValue::Leaf(ReferenceValueLeaf::Date(d)),
            LogValue::Bytes(b) => ReferenceValue::Leaf(ReferenceValueLeaf::Bytes(b)),
            LogValue::Attributes(map, own) => ReferenceValue::Object(LogObjectIter::Attributes(map.iter(), own)),
            LogValue::Json(Json::Array(items)) => ReferenceValue::Array(items.iter().map(LogValue::Json as fn(_) -> _)),
            LogValue::Json(Json::Object(map)) => ReferenceValue::Object(LogObjectIter::Json(map.iter())),
            // Leaves as tantivy reads serde_json values (numbers, RFC 3339 dates, strings).
            LogValue::Json(json) => match json.as_value() {
                ReferenceValue::Leaf(leaf) => ReferenceValue::Leaf(leaf),
                ReferenceValue::Array(_) | ReferenceValue::Object(_) => unreachable!("handled above"),
            },
        }
    }
}

/// The fields of a document, in schema order.
pub type LogFieldValues<'a> = std::iter::Flatten<std::array::IntoIter<Option<(Field, LogValue<'a>)>, 10>>;

impl Document for LogDocument {
    type Value<'a> = LogValue<'a>;
    type FieldsValuesIter<'a> = LogFieldValues<'a>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        let f = &self.schema;
        let string = |key: Option<&'static str>| key.and_then(|k| super::schema::lookup(&self.doc, k)?.as_str());
        let has_attributes = self.doc.keys().any(|k| !self.own_keys.contains(&k.as_str()));
        [
            Some((f.index, LogValue::Str(&self.index))),
            Some((f.timestamp, LogValue::Date(self.timestamp))),
            Some((f.stream, LogValue::Str(&self.stream))),
            string(self.message_key).map(|s| (f.message, LogValue::Str(s))),
            string(self.severity_key).map(|s| (f.severity, LogValue::Str(s))),
            string(self.service_key).map(|s| (f.service, LogValue::Str(s))),
            self.trace_id.as_deref().map(|s| (f.trace_id, LogValue::Str(s))),
            self.span_id.as_deref().map(|s| (f.span_id, LogValue::Str(s))),
            has_attributes.then(|| (f.attributes, LogValue::Attributes(&self.doc, &self.own_keys))),
            Some((f.source, LogValue::Bytes(self.source.as_bytes()))),
        ]
        .into_iter()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tantivy::schema::OwnedValue;
    use tantivy::{Index, IndexWriter, TantivyDocument};

    use crate::logs::record::LogRecord;
    use crate::logs::schema::LogSchema;

    /// Every term of every field, and every fast column with its type, of a one-segment index.
    fn terms_and_columns(index: &Index, schema: &LogSchema) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
        let searcher = index.reader().unwrap().searcher();
        let segment = &searcher.segment_readers()[0];
        let mut terms = Vec::new();
        for (field, entry) in schema.schema.fields() {
            let Ok(inverted) = segment.inverted_index(field) else { continue };
            let mut stream = inverted.terms().stream().unwrap();
            while stream.advance() {
                terms.push((entry.name().to_string(), stream.key().to_vec()));
            }
        }
        let mut columns = Vec::new();
        for name in ["_index", "@timestamp", "_stream", "severity", "service", "attributes"] {
            for handle in segment.fast_fields().dynamic_column_handles(name).unwrap() {
                columns.push(format!("{name} {:?}", handle.column_type()));
            }
        }
        for handle in segment.fast_fields().dynamic_subpath_column_handles("attributes").unwrap() {
            columns.push(format!("attributes.* {:?} {}", handle.column_type(), handle.num_bytes().get_bytes()));
        }
        (terms, columns)
    }

    /// A `LogDocument` indexes exactly what tantivy's own document built from the same record
    /// (values converted with `OwnedValue::from`, as before `LogDocument`) indexes.
    #[test]
    fn a_log_document_indexes_what_a_tantivy_document_does() {
        let schema = LogSchema::new();
        let source = r#"{"@timestamp":"2026-11-26T10:00:00Z","msg":"GET /a 200","level":"warn","service":{"name":"api"},"trace_id":"ABCDEF0123456789abcdef0123456789","spanId":"00f067aa0ba902b7","http":{"status":200,"ms":1.5,"big":18446744073709551615,"tags":["a","b",3],"ok":true,"none":null},"when":"2026-11-26T09:59:59.5Z","ip":"10.0.0.1","x.y":"dotted"}"#;
        let record = LogRecord {
            index: "app".into(),
            timestamp_nanos: 1_795_687_200_000_000_000,
            labels: vec![("index".into(), "app".into())],
            source: source.into(),
            doc: serde_json::from_str(source).unwrap(),
        };
        let log_document = schema.document(&record);

        let mut tantivy_document = TantivyDocument::default();
        tantivy_document.add_text(schema.index, "app");
        tantivy_document.add_date(schema.timestamp, tantivy::DateTime::from_timestamp_nanos(record.timestamp_nanos));
        tantivy_document.add_text(schema.stream, crate::logs::schema::stream_key(&record.labels));
        tantivy_document.add_text(schema.message, "GET /a 200");
        tantivy_document.add_text(schema.severity, "warn");
        tantivy_document.add_text(schema.service, "api");
        tantivy_document.add_text(schema.trace_id, "abcdef0123456789abcdef0123456789");
        tantivy_document.add_text(schema.span_id, "00f067aa0ba902b7");
        let own = ["@timestamp", "msg", "trace_id", "spanId"];
        let attributes: BTreeMap<String, OwnedValue> = record
            .doc
            .clone()
            .into_iter()
            .filter(|(k, _)| !own.contains(&k.as_str()))
            .map(|(k, v)| (k, OwnedValue::from(v)))
            .collect();
        tantivy_document.add_object(schema.attributes, attributes);
        tantivy_document.add_bytes(schema.source, source.as_bytes());

        let ours = Index::create_in_ram(schema.schema.clone());
        let mut writer: IndexWriter<super::LogDocument> = ours.writer(15_000_000).unwrap();
        writer.add_document(log_document).unwrap();
        writer.commit().unwrap();
        let theirs = Index::create_in_ram(schema.schema.clone());
        let mut writer: IndexWriter = theirs.writer(15_000_000).unwrap();
        writer.add_document(tantivy_document).unwrap();
        writer.commit().unwrap();

        let (ours_terms, ours_columns) = terms_and_columns(&ours, &schema);
        let (theirs_terms, theirs_columns) = terms_and_columns(&theirs, &schema);
        assert_eq!(ours_terms, theirs_terms);
        assert_eq!(ours_columns, theirs_columns);
        assert!(ours_terms.len() > 20, "{ours_terms:?}");
        let stored: TantivyDocument = ours.reader().unwrap().searcher().doc(tantivy::DocAddress::new(0, 0)).unwrap();
        assert_eq!(
            stored.get_first(schema.source).and_then(|v| tantivy::schema::Value::as_bytes(&v)),
            Some(source.as_bytes())
        );
    }
}

// Pharos — storage/src/logs/document.rs
