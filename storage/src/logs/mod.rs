//! The log store: durable ingestion of log records, time-partitioned tantivy indexes for search,
//! retention by age and size.
//!
//! # Layout
//! ```text
//! <dir>/logs.meta                 dropped partitions (see `meta`)
//! <dir>/wal/<base LSN, 20 digits> WAL segments (see `wal`)
//! <dir>/partitions/<start secs>/  one tantivy index per time partition (see `partition`)
//! ```
//! `FORMAT-logs.md` describes every byte of our own files.
//!
//! # Write path and durability
//! [`LogStore::append`] encodes the batch into WAL frames and builds the tantivy documents outside
//! any lock, then, under the *ingest lock*, writes the frames to the WAL (each frame gets its LSN,
//! its byte position in the log) and pushes every document with its frame's LSN onto the queue of
//! its partition (partitions are UTC days of event time by default). After the lock the appender
//! hands queued documents to the partition's tantivy writer if that writer is free, and fsyncs the
//! WAL (group commit: one fsync covers every frame written before it). When it returns, the batch
//! is durable; it becomes searchable at the next commit.
//!
//! Because LSNs are assigned and documents queued in the same critical section, each partition's
//! queue is in LSN order, and reading the WAL end under the ingest lock gives a *cut*: every record
//! of that partition below the cut is queued or in the writer, none above it is in the writer. A
//! commit (background thread every `refresh_interval`, or [`LogStore::refresh`]) holds the
//! partition's writer lock, takes the cut, moves the queue into the writer, fsyncs the WAL up to the
//! cut, and commits with the payload `{"v":2,"wal_lsn":<cut>}`. Appenders are never blocked by a
//! commit: they keep queueing (up to a byte limit, then they wait for the writer, which is the
//! backpressure).
//!
//! # Recovery
//! On open every partition's last commit payload is read. The WAL is scanned (torn tail cut); each
//! record is re-indexed into its partition only if its LSN is at or above that partition's commit
//! LSN, and skipped if `logs.meta` says the partition was dropped after it. So every acknowledged
//! record is indexed exactly once. Replayed documents are committed before `open` returns. New WAL
//! segments start at `max(WAL end, highest commit LSN)`, so LSNs never repeat.
//!
//! A WAL segment is deleted once every record in it is committed: the store keeps the WAL from the
//! oldest record any partition has not committed.
//!
//! # Writers, merges, searches
//! Writers are opened on demand, at most `max_open_writers` (least recently written closed first,
//! committing), closed after `writer_idle_timeout`, each with `writer_memory_bytes`, one indexing
//! thread and one merge thread; merging follows `partition::merge_policy` in tantivy's merge
//! threads and never holds a store lock. Readers use `ReloadPolicy::Manual` and are reloaded after
//! each commit; [`LogStore::snapshot`] clones searchers, so searches hold no lock.
//!
//! # Retention
//! By age (partitions entirely older than now − retention) and by size (oldest first while the
//! store is over `max_bytes`, never the newest partition), checked every `maintenance_interval`.

mod document;
mod error;
mod meta;
mod partition;
mod record;
mod schema;
mod store;
mod wal;

pub use document::{LogDocument, LogValue};
pub use error::LogError;
pub use record::{LogRecord, validate_index_name};
pub use schema::{LogSchema, PartitionSnapshot, ResolvedField, first_string, lookup, stream_key};
pub use store::{LogStore, LogStoreOptions, LogStoreStats, RetentionReport};

#[cfg(test)]
mod tests;

// Pharos — storage/src/logs/mod.rs
