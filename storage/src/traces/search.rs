//! What a trace search asks the store for, and what the store's catalogue answers: the types the
//! query APIs (Jaeger, Tempo) share with [`TraceStore`](super::TraceStore).

use super::model::{AttributeValue, SpanKind};

/// Inclusive bounds on span start time, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start_nanos: i64,
    pub end_nanos: i64,
}

impl TimeRange {
    /// Every time.
    pub const ALL: TimeRange = TimeRange { start_nanos: i64::MIN, end_nanos: i64::MAX };

    pub fn new(start_nanos: i64, end_nanos: i64) -> Self {
        TimeRange { start_nanos, end_nanos }
    }

    /// Whether `nanos` lies within the range.
    pub fn contains(&self, nanos: i64) -> bool {
        self.start_nanos <= nanos && nanos <= self.end_nanos
    }
}

/// Conditions one span must meet, all of them. Every field is optional but `range`.
///
/// The store answers from its indexes where it can (service, service + name, indexed attribute
/// pairs, error status, duration, time) and checks the rest on the decoded spans, so what it visits
/// meets every condition exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanQuery {
    /// Span start time.
    pub range: TimeRange,
    /// The resource's service name ([`Span::service_name`](super::Span::service_name)).
    pub service: Option<String>,
    /// The span name (Jaeger's operation).
    pub span_name: Option<String>,
    pub kind: Option<SpanKind>,
    /// `key = value` pairs; a pair holds when the span attribute `key` — or, absent that, the
    /// resource attribute `key` — displays as `value` (see
    /// [`AttributeValue::to_display_string`]).
    pub attributes: Vec<(String, String)>,
    /// Inclusive bounds on the duration in nanoseconds.
    pub min_duration_nanos: Option<u64>,
    pub max_duration_nanos: Option<u64>,
    /// Only spans whose status is `ERROR`.
    pub error_only: bool,
}

impl SpanQuery {
    /// Every span starting within `range`.
    pub fn in_range(range: TimeRange) -> Self {
        SpanQuery {
            range,
            service: None,
            span_name: None,
            kind: None,
            attributes: Vec::new(),
            min_duration_nanos: None,
            max_duration_nanos: None,
            error_only: false,
        }
    }
}

/// What a search read, for Tempo's `metrics` block and Pharos' own logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Spans decoded and checked.
    pub inspected_spans: u64,
    /// Encoded bytes read for them.
    pub inspected_bytes: u64,
}

/// One operation of a service, as the catalogue keeps it: a span name with a kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Operation {
    pub name: String,
    pub kind: SpanKind,
}

/// Where a tag lives, as Tempo's tag APIs scope them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagScope {
    /// A resource attribute (`resource.x`).
    Resource,
    /// A span attribute (`span.x`).
    Span,
}

impl TagScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TagScope::Resource => "resource",
            TagScope::Span => "span",
        }
    }
}

/// A tag value the catalogue knows, with its type.
pub type TagValue = AttributeValue;

// Pharos — storage/src/traces/search.rs
