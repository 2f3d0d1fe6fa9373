//! The trace store as the trace receivers see it: [`SpanSink`], a blocking, durable-on-return,
//! all-or-nothing append of [`Span`]s, implemented by the RocksDB [`TraceStore`] and (in tests)
//! [`MemorySpanSink`].
//!
//! Receivers call the sink from the same `spawn_blocking` closure that decodes and translates the
//! request (see [`crate::log_sink::run_blocking`]), never on an async worker thread.

#[cfg(test)]
use std::sync::{Arc, Mutex};

use pharos_storage::traces::{Span, TraceStore};

/// Where the trace receivers hand their spans.
pub trait SpanSink: Send + Sync {
    /// Stores `spans` (never empty when called by the receivers) and returns once they are durable
    /// (in the store's WAL). On failure nothing of `spans` is stored — the receivers answer a
    /// failure with a retryable error for the whole export, so a partial append would be stored
    /// twice on retry. The error is a human-readable reason.
    fn append(&self, spans: Vec<Span>) -> Result<(), String>;

    /// Spans starting before this time (ns since the epoch) would not be kept (they are past the
    /// store's retention); receivers reject them in `partial_success` instead of appending them.
    /// `None`: every time is kept.
    fn oldest_storable_nanos(&self) -> Option<i64> {
        None
    }
}

/// The trace store: one atomic RocksDB write batch per export, durable when it returns.
impl SpanSink for TraceStore {
    fn append(&self, spans: Vec<Span>) -> Result<(), String> {
        TraceStore::append(self, &spans).map_err(|e| e.to_string())
    }

    fn oldest_storable_nanos(&self) -> Option<i64> {
        TraceStore::oldest_storable_nanos(self)
    }
}

#[cfg(test)]
/// A [`SpanSink`] that keeps spans in memory; `fail_with` makes every append fail (tests of the
/// storage-error paths).
#[derive(Default)]
pub struct MemorySpanSink {
    spans: Mutex<Vec<Span>>,
    appends: Mutex<usize>,
    failure: Mutex<Option<String>>,
    oldest_storable: Mutex<Option<i64>>,
}

#[cfg(test)]
impl MemorySpanSink {
    /// An empty sink.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Every span appended so far, in order.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// How many appends succeeded.
    pub fn append_count(&self) -> usize {
        *self.appends.lock().unwrap()
    }

    /// From now on, appends fail with `reason` (`None` restores normal operation).
    pub fn fail_with(&self, reason: Option<&str>) {
        *self.failure.lock().unwrap() = reason.map(str::to_owned);
    }

    /// From now on, [`SpanSink::oldest_storable_nanos`] answers `oldest` (a retention horizon).
    pub fn keep_from(&self, oldest: Option<i64>) {
        *self.oldest_storable.lock().unwrap() = oldest;
    }
}

#[cfg(test)]
impl SpanSink for MemorySpanSink {
    fn append(&self, spans: Vec<Span>) -> Result<(), String> {
        if let Some(reason) = self.failure.lock().unwrap().clone() {
            return Err(reason);
        }
        self.spans.lock().unwrap().extend(spans);
        *self.appends.lock().unwrap() += 1;
        Ok(())
    }

    fn oldest_storable_nanos(&self) -> Option<i64> {
        *self.oldest_storable.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sink_keeps_spans_and_fails_on_request() {
        let sink = MemorySpanSink::new();
        let span = Span { name: "GET /".into(), ..Default::default() };
        sink.append(vec![span.clone()]).unwrap();
        sink.fail_with(Some("disk full"));
        assert_eq!(sink.append(vec![span.clone()]), Err("disk full".to_owned()));
        assert_eq!(sink.spans(), vec![span.clone()], "a failed append stores nothing");
        sink.fail_with(None);
        sink.append(vec![span]).unwrap();
        assert_eq!((sink.spans().len(), sink.append_count()), (2, 2));
    }
}

// Pharos — ingest/src/span_sink.rs
