//! What the log store takes in: one record per log line/document, as the receivers hand it over.

/// One log record. Receivers (Elasticsearch `_bulk`, JSON lines, OTLP logs, Loki push) build it; the
/// store writes it to its WAL, indexes it and keeps `source` as the document returned by searches.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The named index (Elasticsearch index or data stream name, `loki` for Loki push, `otel-logs`
    /// for OTLP unless configured). Already validated by [`validate_index_name`].
    pub index: String,
    /// Event time in nanoseconds since the Unix epoch.
    pub timestamp_nanos: i64,
    /// Stream labels, sorted by name, names unique. Loki push: the stream's labels. Other receivers:
    /// `index` = the named index, plus `service_name` when the record names a service.
    pub labels: Vec<(String, String)>,
    /// The document as JSON object text: for `_bulk` the line exactly as received; for Loki and OTLP a
    /// document the receiver builds (`{"@timestamp":…,"message":…,…}`). Returned as `_source`.
    pub source: String,
    /// `source` parsed. Must be a JSON object. The store derives the indexed fields from it (see
    /// `schema::LogSchema::document`); it is not written to the WAL (re-parsed from `source` on replay).
    pub doc: serde_json::Map<String, serde_json::Value>,
}

/// Elasticsearch's index naming rules (and no path traversal): lowercase; not empty; at most 255
/// bytes; must not start with `-`, `_` or `+`; not `.` or `..`; none of `\ / * ? " < > | space , #
/// :`. Returns the reason for the first rule broken, worded as Elasticsearch words it
/// (`invalid_index_name_exception`: "Invalid index name [X], must be lowercase").
pub fn validate_index_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("Invalid index name [{name}], {why}"));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name == "." || name == ".." {
        return bad("must not be '.' or '..'");
    }
    if name.starts_with(['-', '_', '+']) {
        return bad("must not start with '_', '-', or '+'");
    }
    if name.len() > 255 {
        return Err(format!("Invalid index name [{name}], index name is too long, ({} > 255)", name.len()));
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return bad("must be lowercase");
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':') || c.is_control()) {
        return bad(&format!("must not contain the following characters [{c:?}]"));
    }
    Ok(())
}
