//! What the trace APIs read through: [`TraceReader`], implemented by the RocksDB [`TraceStore`],
//! and [`MemoryTraces`], a brute-force reader over a vector of spans for tests.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use pharos_storage::traces::{
    AttributeValue, Operation, SearchStats, Span, SpanQuery, TagScope, TagValue, TimeRange, TraceId, TraceStore,
};

/// Read access to stored spans, as the Jaeger and Tempo APIs need it. Every method is blocking
/// (the APIs call it from a blocking thread).
pub trait TraceReader: Send + Sync {
    /// The spans of trace `id` that start within `range`, sorted by start time. Empty when the
    /// trace is unknown.
    fn trace(&self, id: &TraceId, range: TimeRange) -> Result<Vec<Span>, String>;
    /// The service names of spans starting within `range`, sorted and unique.
    fn services(&self, range: TimeRange) -> Vec<String>;
    /// The operations (span name, kind) of `service` with spans starting within `range`, sorted and
    /// unique.
    fn operations(&self, service: &str, range: TimeRange) -> Vec<Operation>;
    /// Visits spans meeting every condition exactly, newest start first, until Break.
    fn search(&self, query: &SpanQuery, visit: &mut dyn FnMut(Span) -> ControlFlow<()>) -> Result<SearchStats, String>;
    /// The attribute keys seen in `scope` on spans starting within `range`, sorted and unique.
    fn tag_names(&self, scope: TagScope, range: TimeRange) -> Vec<String>;
    /// At most `limit` distinct values of attribute `key` in `scope` on spans starting within
    /// `range`.
    fn tag_values(&self, scope: TagScope, key: &str, range: TimeRange, limit: usize) -> Vec<TagValue>;
}

/// The store answers from its day buckets: `trace` returns the trace's spans in every bucket
/// overlapping the range (whole days), the catalogue calls are answered per bucket too.
impl TraceReader for TraceStore {
    fn trace(&self, id: &TraceId, range: TimeRange) -> Result<Vec<Span>, String> {
        TraceStore::trace(self, id, range).map_err(|e| e.to_string())
    }

    fn services(&self, range: TimeRange) -> Vec<String> {
        TraceStore::services(self, range)
    }

    fn operations(&self, service: &str, range: TimeRange) -> Vec<Operation> {
        TraceStore::operations(self, service, range)
    }

    fn search(&self, query: &SpanQuery, visit: &mut dyn FnMut(Span) -> ControlFlow<()>) -> Result<SearchStats, String> {
        TraceStore::search(self, query, visit).map_err(|e| e.to_string())
    }

    fn tag_names(&self, scope: TagScope, range: TimeRange) -> Vec<String> {
        TraceStore::tag_names(self, scope, range)
    }

    fn tag_values(&self, scope: TagScope, key: &str, range: TimeRange, limit: usize) -> Vec<TagValue> {
        TraceStore::tag_values(self, scope, key, range, limit)
    }
}

/// Whether `span` meets every condition of `query` (the contract of [`TraceReader::search`]).
pub fn span_matches(query: &SpanQuery, span: &Span) -> bool {
    let start = i64::try_from(span.start_time_unix_nano).unwrap_or(i64::MAX);
    let duration = span.duration_nanos();
    query.range.contains(start)
        && query.service.as_deref().is_none_or(|service| span.service_name() == service)
        && query.span_name.as_deref().is_none_or(|name| span.name == name)
        && query.kind.is_none_or(|kind| span.kind == kind)
        && query.min_duration_nanos.is_none_or(|min| duration >= min)
        && query.max_duration_nanos.is_none_or(|max| duration <= max)
        && (!query.error_only || span.is_error())
        && query.attributes.iter().all(|(key, value)| {
            span.attribute(key).and_then(AttributeValue::to_display_string).is_some_and(|shown| shown == *value)
        })
}

/// Spans in memory, every question answered by a full scan. For tests (here and in the binary):
/// it honours [`SpanQuery`] exactly, so it is the reference the real store is compared with.
#[derive(Clone, Debug, Default)]
pub struct MemoryTraces {
    spans: Vec<Span>,
}

impl MemoryTraces {
    pub fn new(spans: Vec<Span>) -> Self {
        MemoryTraces { spans }
    }

    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    fn in_range(&self, range: TimeRange) -> impl Iterator<Item = &Span> {
        self.spans.iter().filter(move |s| range.contains(i64::try_from(s.start_time_unix_nano).unwrap_or(i64::MAX)))
    }
}

impl TraceReader for MemoryTraces {
    fn trace(&self, id: &TraceId, range: TimeRange) -> Result<Vec<Span>, String> {
        let mut spans: Vec<Span> = self.in_range(range).filter(|s| s.trace_id == *id).cloned().collect();
        spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
        Ok(spans)
    }

    fn services(&self, range: TimeRange) -> Vec<String> {
        let names: BTreeSet<&str> = self.in_range(range).map(Span::service_name).collect();
        names.into_iter().map(str::to_string).collect()
    }

    fn operations(&self, service: &str, range: TimeRange) -> Vec<Operation> {
        let ops: BTreeSet<Operation> = self
            .in_range(range)
            .filter(|s| s.service_name() == service)
            .map(|s| Operation { name: s.name.clone(), kind: s.kind })
            .collect();
        ops.into_iter().collect()
    }

    fn search(&self, query: &SpanQuery, visit: &mut dyn FnMut(Span) -> ControlFlow<()>) -> Result<SearchStats, String> {
        let mut candidates: Vec<&Span> = self.in_range(query.range).collect();
        candidates.sort_by(|a, b| {
            b.start_time_unix_nano
                .cmp(&a.start_time_unix_nano)
                .then(a.trace_id.cmp(&b.trace_id))
                .then(a.span_id.cmp(&b.span_id))
        });
        let mut stats = SearchStats::default();
        for span in candidates {
            stats.inspected_spans += 1;
            if span_matches(query, span) && visit(span.clone()).is_break() {
                break;
            }
        }
        Ok(stats)
    }

    fn tag_names(&self, scope: TagScope, range: TimeRange) -> Vec<String> {
        let mut names = BTreeSet::new();
        for span in self.in_range(range) {
            let attributes = match scope {
                TagScope::Resource => &span.resource.attributes,
                TagScope::Span => &span.attributes,
            };
            names.extend(attributes.iter().map(|kv| kv.key.clone()));
        }
        names.into_iter().collect()
    }

    fn tag_values(&self, scope: TagScope, key: &str, range: TimeRange, limit: usize) -> Vec<TagValue> {
        let mut values: Vec<TagValue> = Vec::new();
        for span in self.in_range(range) {
            let attributes = match scope {
                TagScope::Resource => &span.resource.attributes,
                TagScope::Span => &span.attributes,
            };
            for kv in attributes.iter().filter(|kv| kv.key == key) {
                if !values.contains(&kv.value) {
                    values.push(kv.value.clone());
                }
            }
        }
        values.sort_by_key(|v| v.to_string());
        values.truncate(limit);
        values
    }
}

// Pharos — query/src/traces/reader.rs
