//! The store as the log receivers see it: [`LogSink`], a blocking, durable-on-return append of
//! [`LogRecord`]s, and [`MemorySink`], an in-memory implementation for tests.
//!
//! Receivers never call the sink on an async worker thread: they parse the request and append the
//! records inside one `tokio::task::spawn_blocking` closure (see [`run_blocking`]), so a large
//! request neither stalls the runtime while it is parsed nor while the store writes its WAL.

use std::sync::Arc;
#[cfg(test)]
use std::sync::Mutex;

use pharos_proto::exposition::CounterValue;
use pharos_storage::logs::{LogRecord, LogStore};

/// Where receivers hand their records. `append` blocks until the records are durable (or fails
/// without having stored any of them: receivers answer a failed append with a retryable error for
/// the whole request, so a partial append would be stored twice on retry).
pub trait LogSink: Send + Sync {
    /// Stores `records` (never empty when called by the receivers). Returns a human-readable reason
    /// on failure.
    fn append(&self, records: Vec<LogRecord>) -> Result<(), String>;

    /// Makes everything appended so far visible to searches (Elasticsearch `refresh=true` /
    /// `refresh=wait_for`). Default: nothing to do.
    fn refresh(&self) {}
}

/// The log store as the receivers' sink, counting the records it takes
/// (`pharos_ingested_items_total{signal="logs"}`).
pub(crate) struct CountingSink {
    pub store: Arc<LogStore>,
    pub records: Arc<CounterValue>,
}

impl LogSink for CountingSink {
    fn append(&self, records: Vec<LogRecord>) -> Result<(), String> {
        let n = records.len();
        self.store.append(records).map_err(|e| e.to_string())?;
        self.records.add(n as f64);
        Ok(())
    }

    fn refresh(&self) {
        if let Err(e) = self.store.refresh() {
            tracing::warn!(error = %e, "log store refresh failed");
        }
    }
}

#[cfg(test)]
/// A [`LogSink`] that keeps records in memory; `fail_with` makes every append fail (tests of the
/// storage-error paths).
#[derive(Default)]
pub struct MemorySink {
    records: Mutex<Vec<LogRecord>>,
    refreshes: Mutex<usize>,
    failure: Mutex<Option<String>>,
}

#[cfg(test)]
impl MemorySink {
    /// An empty sink.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Every record appended so far, in order.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records.lock().unwrap().clone()
    }

    /// How many times [`LogSink::refresh`] was called.
    pub fn refresh_count(&self) -> usize {
        *self.refreshes.lock().unwrap()
    }

    /// From now on, appends fail with `reason` (`None` restores normal operation).
    pub fn fail_with(&self, reason: Option<&str>) {
        *self.failure.lock().unwrap() = reason.map(str::to_owned);
    }
}

#[cfg(test)]
impl LogSink for MemorySink {
    fn append(&self, records: Vec<LogRecord>) -> Result<(), String> {
        if let Some(reason) = self.failure.lock().unwrap().clone() {
            return Err(reason);
        }
        self.records.lock().unwrap().extend(records);
        Ok(())
    }

    fn refresh(&self) {
        *self.refreshes.lock().unwrap() += 1;
    }
}

/// Appends `records` (skipped when empty) and then refreshes when asked. Blocking: call it from the
/// receivers' `spawn_blocking` closure.
pub fn store(sink: &dyn LogSink, records: Vec<LogRecord>, refresh: bool) -> Result<(), String> {
    if !records.is_empty() {
        sink.append(records)?;
    }
    if refresh {
        sink.refresh();
    }
    Ok(())
}

/// Runs `work` (request parsing plus the blocking append) on tokio's blocking pool. A panic in
/// `work` becomes an `Err` with the panic text, which handlers answer as a storage failure.
pub async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(work).await.map_err(|e| format!("ingest task failed: {e}"))
}

// Pharos — ingest/src/log_sink.rs
