//! What the trace store keeps: spans in OpenTelemetry's data model, as plain Rust values.
//!
//! Receivers translate OTLP (protobuf or JSON) into these types; the query APIs translate them into
//! Jaeger's and Tempo's shapes. Storage never sees protobuf: the store encodes these values in its
//! own format (`docs/format/traces.md`).
//!
//! Spans of one export share their [`Resource`] and [`Scope`] through `Arc`s, as OTLP groups them.

use std::fmt;
use std::sync::Arc;

/// A 128-bit trace id (OTLP `bytes trace_id`, 16 bytes). All zeros is invalid.
pub type TraceId = [u8; 16];
/// A 64-bit span id (OTLP `bytes span_id`, 8 bytes). All zeros is invalid.
pub type SpanId = [u8; 8];

/// An attribute value: OTLP's `AnyValue`.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum AttributeValue {
    /// `AnyValue` with no member set.
    #[default]
    Empty,
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AttributeValue>),
    KeyValueList(Vec<KeyValue>),
}

impl AttributeValue {
    /// The value as a string, the way Jaeger and Tempo compare tag values: strings as they are,
    /// booleans `true`/`false`, integers in decimal, doubles in Rust's shortest form, bytes in
    /// lowercase hex, arrays and lists as JSON-like text. `None` for [`AttributeValue::Empty`].
    pub fn to_display_string(&self) -> Option<String> {
        match self {
            AttributeValue::Empty => None,
            AttributeValue::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Empty => Ok(()),
            AttributeValue::String(s) => f.write_str(s),
            AttributeValue::Bool(b) => write!(f, "{b}"),
            AttributeValue::Int(i) => write!(f, "{i}"),
            AttributeValue::Double(d) => write!(f, "{d}"),
            AttributeValue::Bytes(bytes) => bytes.iter().try_for_each(|b| write!(f, "{b:02x}")),
            AttributeValue::Array(values) => {
                f.write_str("[")?;
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str("]")
            }
            AttributeValue::KeyValueList(pairs) => {
                f.write_str("{")?;
                for (i, pair) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{}", pair.key, pair.value)?;
                }
                f.write_str("}")
            }
        }
    }
}

/// One attribute (OTLP `KeyValue`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct KeyValue {
    pub key: String,
    pub value: AttributeValue,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: AttributeValue) -> Self {
        KeyValue { key: key.into(), value }
    }

    pub fn string(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue { key: key.into(), value: AttributeValue::String(value.into()) }
    }
}

/// The first attribute named `key` (OTLP leaves duplicates to the producer; the first wins).
pub fn find_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AttributeValue> {
    attributes.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

/// The entity that produced the spans (OTLP `Resource` plus its `ResourceSpans.schema_url`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// The service name spans without a `service.name` resource attribute get, as the OpenTelemetry
/// SDKs name them.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

impl Resource {
    /// `service.name` when it is a non-empty string, else [`UNKNOWN_SERVICE`].
    pub fn service_name(&self) -> &str {
        match find_attribute(&self.attributes, "service.name") {
            Some(AttributeValue::String(name)) if !name.is_empty() => name,
            _ => UNKNOWN_SERVICE,
        }
    }
}

/// The instrumentation scope (OTLP `InstrumentationScope` plus its `ScopeSpans.schema_url`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// OTLP `Span.SpanKind`, with its wire numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum SpanKind {
    #[default]
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl SpanKind {
    /// From the OTLP enum number; unknown numbers are `Unspecified`.
    pub fn from_i32(value: i32) -> SpanKind {
        match value {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// The lowercase name Jaeger (`span.kind` tag, `spanKind`) and TraceQL (`kind = server`) use;
    /// `unspecified` for `Unspecified`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// The inverse of [`SpanKind::as_str`].
    pub fn parse(name: &str) -> Option<SpanKind> {
        Some(match name {
            "unspecified" => SpanKind::Unspecified,
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => return None,
        })
    }
}

/// OTLP `Status.StatusCode`, with its wire numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum StatusCode {
    #[default]
    Unset = 0,
    Ok = 1,
    Error = 2,
}

impl StatusCode {
    /// From the OTLP enum number; unknown numbers are `Unset`.
    pub fn from_i32(value: i32) -> StatusCode {
        match value {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    /// TraceQL's names: `unset`, `ok`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

/// OTLP `Status`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    pub code: StatusCode,
    pub message: String,
}

/// OTLP `Span.Event`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Event {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
}

/// OTLP `Span.Link`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// One span with the resource and scope it was exported under.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Span {
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` for a root span (OTLP's empty `parent_span_id`).
    pub parent_span_id: Option<SpanId>,
    pub trace_state: String,
    /// OTLP `Span.flags` (W3C trace flags in the low 8 bits, OTLP's remote-parent bits above).
    pub flags: u32,
    pub name: String,
    pub kind: SpanKind,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: Status,
}

impl Span {
    /// The resource's service name (see [`Resource::service_name`]).
    pub fn service_name(&self) -> &str {
        self.resource.service_name()
    }

    /// `end − start` in nanoseconds; 0 when the end is before the start.
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano.saturating_sub(self.start_time_unix_nano)
    }

    /// Whether the status is `ERROR`.
    pub fn is_error(&self) -> bool {
        self.status.code == StatusCode::Error
    }

    /// The span attribute `key`, else the resource attribute `key` (Jaeger's tag search and
    /// TraceQL's unscoped `.key` look in both, span first).
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        find_attribute(&self.attributes, key).or_else(|| find_attribute(&self.resource.attributes, key))
    }
}

/// A trace id in lowercase hex, 32 digits.
pub fn trace_id_hex(id: &TraceId) -> String {
    hex(id)
}

/// A span id in lowercase hex, 16 digits.
pub fn span_id_hex(id: &SpanId) -> String {
    hex(id)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// A trace id from 1–32 hex digits (either case), left-padded with zeros as Jaeger and Tempo
/// accept them. `None` for anything else, and for all zeros.
pub fn parse_trace_id(text: &str) -> Option<TraceId> {
    parse_padded_hex::<16>(text)
}

/// A span id from 1–16 hex digits (either case), left-padded with zeros. `None` for anything
/// else, and for all zeros.
pub fn parse_span_id(text: &str) -> Option<SpanId> {
    parse_padded_hex::<8>(text)
}

fn parse_padded_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.is_empty() || text.len() > N * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{text:0>width$}", width = N * 2);
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&padded[i * 2..i * 2 + 2], 16).ok()?;
    }
    if out.iter().all(|b| *b == 0) { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_hex_and_short_ids_are_left_padded() {
        let id: TraceId = [0xab; 16];
        assert_eq!(parse_trace_id(&trace_id_hex(&id)), Some(id));
        let short = parse_trace_id("1F").unwrap();
        assert_eq!(trace_id_hex(&short), "0000000000000000000000000000001f");
        assert_eq!(parse_span_id("00000000000000ff").map(|s| span_id_hex(&s)).as_deref(), Some("00000000000000ff"));
        assert_eq!(parse_trace_id(""), None);
        assert_eq!(parse_trace_id("0"), None);
        assert_eq!(parse_trace_id(&"a".repeat(33)), None);
        assert_eq!(parse_trace_id("xyz"), None);
        assert_eq!(parse_span_id(&"a".repeat(17)), None);
    }

    #[test]
    fn service_name_falls_back_to_unknown_service() {
        let mut resource = Resource::default();
        assert_eq!(resource.service_name(), UNKNOWN_SERVICE);
        resource.attributes.push(KeyValue::string("service.name", "checkout"));
        assert_eq!(resource.service_name(), "checkout");
    }

    #[test]
    fn attribute_values_display_as_jaeger_compares_them() {
        assert_eq!(AttributeValue::Int(500).to_display_string().as_deref(), Some("500"));
        assert_eq!(AttributeValue::Bool(true).to_display_string().as_deref(), Some("true"));
        assert_eq!(AttributeValue::Bytes(vec![1, 255]).to_string(), "01ff");
        assert_eq!(AttributeValue::Empty.to_display_string(), None);
        let list = AttributeValue::Array(vec![AttributeValue::Int(1), AttributeValue::String("a".into())]);
        assert_eq!(list.to_string(), "[1,a]");
    }
}

// Pharos — storage/src/traces/model.rs
