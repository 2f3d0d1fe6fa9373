//! One time partition: a tantivy index in `partitions/<start seconds>/` holding the records whose
//! event time falls in `[start, start + span)`, with its reader, its (optional) writer and the queue
//! of documents appended but not yet handed to the writer.
//!
//! The queue exists so that appenders never wait for a commit: they push under the ingest lock and
//! return; whoever holds the writer lock (an appender, or the committer) moves queued documents into
//! the tantivy writer in queue order, which is WAL order.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use tantivy::indexer::{IndexWriterOptions, LogMergePolicy, UserOperation};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy};

use crate::logs::document::LogDocument;
use crate::logs::error::LogError;
use crate::logs::schema::LogSchema;

/// The partition format version, written in every commit payload (`{"v":2,"wal_lsn":N}`).
/// 2: tantivy built with SSTable term dictionaries (its `quickwit` feature), `@timestamp` a fast
/// column only. 1 (FST term dictionaries, `@timestamp` also indexed) cannot be read by this build.
const PAYLOAD_VERSION: u64 = 2;
/// Documents handed to tantivy per `IndexWriter::run` call (one channel message each).
const WRITER_CHUNK_DOCS: usize = 512;

/// Start (seconds since the epoch) of the partition holding `timestamp_nanos`.
pub(crate) fn partition_start(timestamp_nanos: i64, span_secs: i64) -> i64 {
    timestamp_nanos.div_euclid(1_000_000_000).div_euclid(span_secs) * span_secs
}

fn clamp_nanos(nanos: i128) -> i64 {
    nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

pub(crate) fn commit_payload(lsn: u64) -> String {
    format!("{{\"v\":{PAYLOAD_VERSION},\"wal_lsn\":{lsn}}}")
}

/// The WAL position of a commit payload; `Err` says why the payload is not one this build reads.
fn parse_payload(payload: &str) -> Result<u64, String> {
    let unrecognised = || format!("unrecognised commit payload {payload:?}");
    let value: serde_json::Value = serde_json::from_str(payload).map_err(|_| unrecognised())?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(PAYLOAD_VERSION) => value.get("wal_lsn").and_then(serde_json::Value::as_u64).ok_or_else(unrecognised),
        Some(v @ 1..PAYLOAD_VERSION) => Err(format!(
            "partition format {v} was written by an earlier Pharos (FST term dictionaries); this build reads format {PAYLOAD_VERSION} only: move the directory away to start without it"
        )),
        _ => Err(unrecognised()),
    }
}

/// The tantivy merge policy of every partition writer: tantivy's `LogMergePolicy` with
/// - `min_num_segments` 16: a level is merged once it has 16 segments of similar size, so a partition
///   fed by 1 s commits holds O(16 · log(n)) segments and each document is rewritten ~log16(n)
///   times: once for a day of 10 M documents at 25 MB/s (8 at a time rewrote it twice, for 20 %
///   more ingest CPU and no smaller index);
/// - `min_layer_size` 10 000 docs: the small segments of a trickle of logs all count as one level;
/// - `level_log_size` 0.75 (tantivy's default): segments within a factor 2^0.75 are one level;
/// - `max_docs_before_merge` 5 M docs (~2 GB of JSON lines, ~400 MB on disk): larger segments are
///   left alone, so merges stay minutes long at most and a day partition ends with a few segments.
pub(crate) fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(16);
    policy.set_min_layer_size(10_000);
    policy.set_level_log_size(0.75);
    policy.set_max_docs_before_merge(5_000_000);
    policy
}

/// Documents appended to a partition and not yet committed.
#[derive(Default)]
pub(crate) struct Pending {
    /// Appended, not yet handed to the writer: (frame LSN, document), in LSN order.
    pub docs: VecDeque<(u64, LogDocument)>,
    /// Source bytes of `docs` (drives backpressure).
    pub bytes: usize,
    /// LSN of the oldest record appended to this partition and not committed: the WAL must be
    /// kept from here. `None` when everything is committed.
    pub uncommitted_since: Option<u64>,
    /// Documents appended since the last commit (queued or in the writer).
    pub uncommitted_docs: u64,
}

/// The writer of a partition, when open.
#[derive(Default)]
pub(crate) struct WriterSlot {
    pub writer: Option<IndexWriter<LogDocument>>,
    /// Set when indexing or committing failed: documents may be missing from the writer, so the
    /// partition must not commit a WAL position past them again. Reopening the store replays them.
    pub broken: Option<String>,
}

pub(crate) struct Partition {
    pub start: i64,
    pub min_nanos: i64,
    pub max_nanos: i64,
    pub dir: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    pub pending: Mutex<Pending>,
    pub writer: Mutex<WriterSlot>,
    /// WAL position of the last commit: every record of this partition below it is in the index.
    pub committed_lsn: AtomicU64,
    /// Removed from the store; queued documents are discarded.
    pub dropped: AtomicBool,
    pub writer_open: AtomicBool,
    /// Milliseconds since the store opened, of the last append to this partition.
    pub last_write_ms: AtomicU64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Partition {
    fn bounds(start: i64, span_secs: i64) -> (i64, i64) {
        let min = clamp_nanos(start as i128 * 1_000_000_000);
        let max = clamp_nanos((start as i128 + span_secs as i128) * 1_000_000_000 - 1);
        (min, max)
    }

    /// Creates the partition's directory and an empty tantivy index in it.
    pub fn create(
        dir: &Path,
        start: i64,
        span_secs: i64,
        schema: &LogSchema,
        settings: &IndexSettings,
    ) -> Result<Partition, LogError> {
        std::fs::create_dir_all(dir).map_err(|e| LogError::io(format!("creating {}", dir.display()), e))?;
        let index = Index::builder()
            .schema(schema.schema.clone())
            .settings(settings.clone())
            .create_in_dir(dir)
            .map_err(|e| LogError::tantivy(format!("creating partition index {}", dir.display()), e))?;
        if let Some(parent) = dir.parent() {
            crate::logs::wal::sync_dir(parent)?;
        }
        tracing::info!(partition = start, dir = %dir.display(), "created log partition");
        Self::with_index(dir, start, span_secs, index, 0)
    }

    /// Opens an existing partition and reads the WAL position of its last commit.
    pub fn open(dir: &Path, start: i64, span_secs: i64) -> Result<Partition, LogError> {
        let index = Index::open_in_dir(dir)
            .map_err(|e| LogError::tantivy(format!("opening partition index {}", dir.display()), e))?;
        let metas =
            index.load_metas().map_err(|e| LogError::tantivy(format!("reading {}/meta.json", dir.display()), e))?;
        let committed = match metas.payload.as_deref() {
            None => 0,
            Some(payload) => {
                parse_payload(payload).map_err(|reason| LogError::Partition { path: dir.to_path_buf(), reason })?
            }
        };
        Self::with_index(dir, start, span_secs, index, committed)
    }

    fn with_index(dir: &Path, start: i64, span_secs: i64, index: Index, committed: u64) -> Result<Partition, LogError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| LogError::tantivy(format!("opening a reader on {}", dir.display()), e))?;
        let (min_nanos, max_nanos) = Self::bounds(start, span_secs);
        Ok(Partition {
            start,
            min_nanos,
            max_nanos,
            dir: dir.to_path_buf(),
            index,
            reader,
            pending: Mutex::default(),
            writer: Mutex::default(),
            committed_lsn: AtomicU64::new(committed),
            dropped: AtomicBool::new(false),
            writer_open: AtomicBool::new(false),
            last_write_ms: AtomicU64::new(0),
        })
    }

    /// Queues a document appended at `lsn`. Called under the ingest lock, so queue order is WAL order.
    pub fn push(&self, lsn: u64, doc: LogDocument, bytes: usize) {
        let mut pending = lock(&self.pending);
        pending.docs.push_back((lsn, doc));
        pending.bytes += bytes;
        pending.uncommitted_docs += 1;
        pending.uncommitted_since.get_or_insert(lsn);
    }

    pub fn queued_bytes(&self) -> usize {
        lock(&self.pending).bytes
    }

    pub fn is_dirty(&self) -> bool {
        lock(&self.pending).uncommitted_since.is_some()
    }

    /// Takes the queued documents (the caller holds the writer lock and hands them to the writer).
    pub fn take_queued(&self) -> Vec<LogDocument> {
        let mut pending = lock(&self.pending);
        pending.bytes = 0;
        pending.docs.drain(..).map(|(_, doc)| doc).collect()
    }

    /// Opens the writer: `memory` bytes split over `threads` indexing threads, one merge thread.
    pub fn open_writer(&self, slot: &mut WriterSlot, memory: usize, threads: usize) -> Result<(), LogError> {
        if slot.writer.is_some() {
            return Ok(());
        }
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(memory / threads)
            .num_worker_threads(threads)
            .num_merge_threads(1)
            .build();
        let writer = self
            .index
            .writer_with_options(options)
            .map_err(|e| LogError::tantivy(format!("opening a writer on {}", self.dir.display()), e))?;
        writer.set_merge_policy(Box::new(merge_policy()));
        slot.writer = Some(writer);
        self.writer_open.store(true, Ordering::Release);
        Ok(())
    }

    /// Hands documents to the open writer.
    pub fn index_docs(&self, slot: &mut WriterSlot, docs: Vec<LogDocument>) -> Result<(), LogError> {
        let writer = slot.writer.as_ref().expect("writer is open");
        let mut docs = docs.into_iter();
        loop {
            let chunk: Vec<UserOperation<LogDocument>> =
                docs.by_ref().take(WRITER_CHUNK_DOCS).map(UserOperation::Add).collect();
            if chunk.is_empty() {
                return Ok(());
            }
            writer.run(chunk).map_err(|e| LogError::tantivy(format!("indexing into {}", self.dir.display()), e))?;
        }
    }

    /// Bytes of the partition's files.
    pub fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}

pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_bounds_cover_extreme_timestamps() {
        assert_eq!(partition_start(0, 86_400), 0);
        assert_eq!(partition_start(-1, 86_400), -86_400);
        assert_eq!(partition_start(86_400_000_000_000 - 1, 86_400), 0);
        let start = partition_start(i64::MIN, 86_400);
        let (min, max) = Partition::bounds(start, 86_400);
        assert_eq!(min, i64::MIN);
        assert!(max > i64::MIN && max < 0);
        let start = partition_start(i64::MAX, 86_400);
        let (min, max) = Partition::bounds(start, 86_400);
        assert!(min > 0 && min % 1_000_000_000 == 0);
        assert_eq!(max, i64::MAX);
        assert_eq!(parse_payload(&commit_payload(12345)), Ok(12345));
        assert!(parse_payload("{\"v\":3,\"wal_lsn\":1}").unwrap_err().starts_with("unrecognised commit payload"));
        assert!(parse_payload("not json").unwrap_err().starts_with("unrecognised commit payload"));
    }

    /// Partitions written before the SSTable term dictionaries (format 1) are refused with a reason
    /// naming the format, not read as if they were current.
    #[test]
    fn a_format_1_partition_is_refused_naming_its_format() {
        let reason = parse_payload("{\"v\":1,\"wal_lsn\":7}").unwrap_err();
        assert!(reason.contains("partition format 1 was written by an earlier Pharos"), "{reason}");
    }
}

// Pharos — storage/src/logs/partition.rs
