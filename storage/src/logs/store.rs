//! [`LogStore`]: appends (WAL then partitions), the background committer, recovery, snapshots for
//! queries, retention.
//!
//! Locks, always taken in this order (a thread may skip any):
//! 1. `maintenance` — one commit round / retention pass at a time;
//! 2. a partition's `writer` — the tantivy writer and everything handed to it; appenders only
//!    `try_lock` it (or block on it for backpressure while holding no other lock), a second
//!    partition's writer is only ever `try_lock`ed;
//! 3. `ingest` — the WAL writer and `logs.meta`: LSN order = queue order;
//! 4. `partitions` (RwLock of the map);
//! 5. a partition's `pending` queue; the WAL's fsync state.
//!
//! Searches never take any of them: [`LogStore::snapshot`] clones searchers under a brief read lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tantivy::IndexSettings;
use tantivy::store::{Compressor, ZstdCompressor};

use crate::logs::document::LogDocument;
use crate::logs::error::LogError;
use crate::logs::meta::StoreMeta;
use crate::logs::partition::{Partition, WriterSlot, commit_payload, lock, partition_start};
use crate::logs::record::LogRecord;
use crate::logs::schema::{LogSchema, PartitionSnapshot};
use crate::logs::wal::{self, WalSync, WalWriter};

const WAL_DIR: &str = "wal";
const PARTITIONS_DIR: &str = "partitions";
const DROPPED_SUFFIX: &str = ".dropped";

/// How the store behaves. `LogStoreOptions::default()` is the production setting.
#[derive(Debug, Clone, PartialEq)]
pub struct LogStoreOptions {
    /// How often pending documents are committed to tantivy and become searchable. Default 1 s.
    /// Zero disables periodic commits (only `refresh`, `flush` and writer eviction commit).
    pub refresh_interval: Duration,
    /// Partition span: documents are partitioned by event time into UTC days. Default 1 day
    /// (86_400 s); keep it configurable for tests. Whole seconds, at least 1 s.
    pub partition_span: Duration,
    /// Drop partitions whose newest possible time is older than now − retention. Default 7 days
    /// (0 = keep forever).
    pub retention: Duration,
    /// Drop oldest partitions while the store's disk size exceeds this. 0 = unlimited (default).
    pub max_bytes: u64,
    /// tantivy IndexWriter memory budget per open writer, default 64 MiB.
    pub writer_memory_bytes: usize,
    /// WAL fsync on every append (default true).
    pub fsync: bool,
    /// WAL segment size at which a new segment is started. Default 64 MiB.
    pub wal_segment_bytes: u64,
    /// At most this many partition writers are open; opening one more commits and closes the least
    /// recently written. Default 4.
    pub max_open_writers: usize,
    /// A writer not written to for this long is committed and closed. Default 5 minutes.
    pub writer_idle_timeout: Duration,
    /// Indexing threads per writer. Default 1 (see FORMAT-logs.md for the measurement).
    pub indexing_threads: usize,
    /// How often the background thread applies retention and closes idle writers. Default 60 s.
    pub maintenance_interval: Duration,
    /// zstd level of the doc store (`_source`). Default 3.
    pub docstore_zstd_level: i32,
    /// Uncompressed size of a doc store block. Default 64 KiB.
    pub docstore_blocksize: usize,
}

impl Default for LogStoreOptions {
    fn default() -> Self {
        LogStoreOptions {
            refresh_interval: Duration::from_secs(1),
            partition_span: Duration::from_secs(86_400),
            retention: Duration::from_secs(7 * 86_400),
            max_bytes: 0,
            writer_memory_bytes: 64 << 20,
            fsync: true,
            wal_segment_bytes: 64 << 20,
            max_open_writers: 4,
            writer_idle_timeout: Duration::from_secs(300),
            indexing_threads: 1,
            maintenance_interval: Duration::from_secs(60),
            docstore_zstd_level: 3,
            docstore_blocksize: 64 << 10,
        }
    }
}

/// What [`LogStore::enforce_retention`] removed: partitions by their start (seconds since epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub dropped_by_age: Vec<i64>,
    pub dropped_by_size: Vec<i64>,
    pub freed_bytes: u64,
}

/// A point-in-time view of the store's size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStoreStats {
    pub partitions: usize,
    /// Documents in the partitions' last commits.
    pub documents: u64,
    /// Partition directories plus WAL.
    pub disk_bytes: u64,
    pub wal_bytes: u64,
    pub wal_segments: usize,
    /// Documents appended and not yet committed.
    pub pending_documents: u64,
    pub open_writers: usize,
}

struct Ingest {
    wal: WalWriter,
    meta: StoreMeta,
}

struct Inner {
    dir: PathBuf,
    partitions_dir: PathBuf,
    options: LogStoreOptions,
    span_secs: i64,
    schema: LogSchema,
    settings: IndexSettings,
    maintenance: Mutex<()>,
    ingest: Mutex<Ingest>,
    wal_sync: Arc<WalSync>,
    partitions: RwLock<BTreeMap<i64, Arc<Partition>>>,
    open_writers: AtomicUsize,
    /// Queued source bytes per partition above which an appender waits for the writer.
    queue_limit: usize,
    clock: Instant,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The log store. `Send + Sync`; share it as `Arc<LogStore>`.
pub struct LogStore {
    inner: Arc<Inner>,
    background: Option<JoinHandle<()>>,
    /// Index names appended since the store was opened, searchable or not yet: an index exists
    /// for the Elasticsearch API from its first acknowledged write, as in Elasticsearch.
    written_indexes: RwLock<std::collections::BTreeSet<String>>,
}

fn now_nanos() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos().min(i64::MAX as u128) as i64,
        Err(e) => -(e.duration().as_nanos().min(i64::MAX as u128) as i64),
    }
}

fn validate(options: &LogStoreOptions) -> Result<i64, LogError> {
    let bad = |why: String| Err(LogError::InvalidOptions(why));
    let span = options.partition_span;
    if span.as_secs() == 0 || span.subsec_nanos() != 0 {
        return bad(format!("partition_span must be a whole number of seconds, at least 1 (got {span:?})"));
    }
    if options.indexing_threads == 0 {
        return bad("indexing_threads must be at least 1".into());
    }
    let per_thread = options.writer_memory_bytes / options.indexing_threads;
    // tantivy's bounds for one indexing thread's arena.
    let min = 15_000_000;
    if per_thread < min || per_thread >= u32::MAX as usize - 1_000_000 {
        return bad(format!(
            "writer_memory_bytes / indexing_threads must be between {min} and 4 GB (got {per_thread})"
        ));
    }
    if options.max_open_writers == 0 {
        return bad("max_open_writers must be at least 1".into());
    }
    if options.wal_segment_bytes < 4096 {
        return bad("wal_segment_bytes must be at least 4096".into());
    }
    if !(1..=22).contains(&options.docstore_zstd_level) {
        return bad("docstore_zstd_level must be within 1..=22".into());
    }
    if options.docstore_blocksize < 4096 {
        return bad("docstore_blocksize must be at least 4096".into());
    }
    Ok(span.as_secs().min(i64::MAX as u64) as i64)
}

fn io<T>(r: std::io::Result<T>, context: impl FnOnce() -> String) -> Result<T, LogError> {
    r.map_err(|e| LogError::io(context(), e))
}

impl LogStore {
    /// Opens (or creates) the store in `dir` and recovers it: partitions are opened, interrupted
    /// drops finished, the WAL's torn tail cut off, and every WAL record not yet committed in its
    /// partition indexed again and committed before this returns.
    pub fn open(dir: &Path, options: LogStoreOptions) -> Result<LogStore, LogError> {
        let span_secs = validate(&options)?;
        let wal_dir = dir.join(WAL_DIR);
        let partitions_dir = dir.join(PARTITIONS_DIR);
        for d in [dir, &wal_dir, &partitions_dir] {
            io(std::fs::create_dir_all(d), || format!("creating {}", d.display()))?;
        }
        let mut meta = StoreMeta::load(dir)?;

        // Partitions.
        let mut partitions = BTreeMap::new();
        let entries = io(std::fs::read_dir(&partitions_dir), || format!("listing {}", partitions_dir.display()))?;
        for entry in entries {
            let entry = io(entry, || format!("listing {}", partitions_dir.display()))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(DROPPED_SUFFIX) {
                tracing::info!(dir = %path.display(), "removing a dropped partition");
                io(std::fs::remove_dir_all(&path), || format!("removing {}", path.display()))?;
                continue;
            }
            let Ok(start) = name.parse::<i64>() else {
                tracing::warn!(dir = %path.display(), "ignoring an entry that is not a partition");
                continue;
            };
            if start.rem_euclid(span_secs) != 0 {
                return Err(LogError::Partition {
                    path,
                    reason: format!(
                        "does not start on a partition boundary of {span_secs} s (was partition_span changed?)"
                    ),
                });
            }
            if !path.join("meta.json").exists() {
                // Crashed while creating it: nothing was committed, its records are in the WAL.
                tracing::warn!(dir = %path.display(), "removing a partition that was never committed");
                io(std::fs::remove_dir_all(&path), || format!("removing {}", path.display()))?;
                continue;
            }
            let partition = Partition::open(&path, start, span_secs)?;
            let committed = partition.committed_lsn.load(Ordering::Acquire);
            if meta.dropped.get(&start).is_some_and(|&drop_lsn| committed <= drop_lsn) {
                tracing::info!(dir = %path.display(), "finishing an interrupted partition drop");
                drop(partition);
                io(std::fs::remove_dir_all(&path), || format!("removing {}", path.display()))?;
                continue;
            }
            partitions.insert(start, Arc::new(partition));
        }

        // WAL, first pass: validate, cut the torn tail, find the end.
        let mut segments = wal::list_segments(&wal_dir)?;
        let mut end = 0u64;
        let mut kept = Vec::new();
        let last = segments.len().saturating_sub(1);
        for (i, (base, path)) in segments.iter().enumerate() {
            if *base < end {
                return Err(LogError::WalCorrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: format!("segment starts at LSN {base}, before the end of the previous one ({end})"),
                });
            }
            let scan = wal::scan_segment(path, *base, i == last, |_, _| Ok(()))?;
            if scan.valid_len == 0 {
                io(std::fs::remove_file(path), || format!("removing {}", path.display()))?;
                continue;
            }
            if scan.valid_len < scan.file_len {
                let file =
                    io(std::fs::OpenOptions::new().write(true).open(path), || format!("opening {}", path.display()))?;
                io(file.set_len(scan.valid_len), || format!("truncating {}", path.display()))?;
                io(file.sync_all(), || format!("syncing {}", path.display()))?;
            }
            end = base + scan.valid_len;
            kept.push(*base);
        }
        segments.retain(|(base, _)| kept.contains(base));
        if meta.prune(kept.first().copied().unwrap_or(u64::MAX)) {
            meta.store(dir)?;
        }
        let max_committed = partitions.values().map(|p| p.committed_lsn.load(Ordering::Acquire)).max().unwrap_or(0);
        let writer = WalWriter::create(&wal_dir, kept, end.max(max_committed), options.wal_segment_bytes)?;

        let settings = IndexSettings {
            docstore_compression: Compressor::Zstd(ZstdCompressor {
                compression_level: Some(options.docstore_zstd_level),
            }),
            docstore_blocksize: options.docstore_blocksize,
            ..IndexSettings::default()
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            partitions_dir,
            span_secs,
            schema: LogSchema::new(),
            settings,
            maintenance: Mutex::new(()),
            wal_sync: writer.sync_handle(),
            ingest: Mutex::new(Ingest { wal: writer, meta }),
            partitions: RwLock::new(partitions),
            open_writers: AtomicUsize::new(0),
            queue_limit: (options.writer_memory_bytes / 2).max(8 << 20),
            clock: Instant::now(),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            options,
        });

        // WAL, second pass: replay what is not committed.
        let replayed = inner.replay(&segments)?;
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed WAL records");
        }
        inner.commit_all()?;

        let background = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("logstore-bg".into())
                .spawn(move || inner.background())
                .map_err(|e| LogError::io("starting the log store background thread", e))?
        };
        Ok(LogStore { inner, background: Some(background), written_indexes: RwLock::default() })
    }

    /// Durable on return: the records are in the WAL (fsynced when `options.fsync`) and queued for
    /// indexing. Blocking; concurrent callers share fsyncs (group commit).
    pub fn append(&self, records: Vec<LogRecord>) -> Result<(), LogError> {
        let mut new_names: Vec<String> = Vec::new();
        {
            let known = self.written_indexes.read().unwrap_or_else(|p| p.into_inner());
            for record in &records {
                if !known.contains(&record.index) && !new_names.contains(&record.index) {
                    new_names.push(record.index.clone());
                }
            }
        }
        self.inner.append(records)?;
        if !new_names.is_empty() {
            self.written_indexes.write().unwrap_or_else(|p| p.into_inner()).extend(new_names);
        }
        Ok(())
    }

    /// Index names written since the store was opened (committed ones are also found in the
    /// partitions' `_index` terms).
    pub fn written_indexes(&self) -> std::collections::BTreeSet<String> {
        self.written_indexes.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn schema(&self) -> &LogSchema {
        &self.inner.schema
    }

    /// The partitions overlapping [min_nanos, max_nanos] (inclusive), newest first, each with the
    /// searcher of its last commit. Partitions with no committed document are left out.
    pub fn snapshot(&self, min_nanos: i64, max_nanos: i64) -> Vec<PartitionSnapshot> {
        let partitions = self.inner.partitions.read().unwrap_or_else(|p| p.into_inner());
        partitions
            .values()
            .rev()
            .filter(|p| p.min_nanos <= max_nanos && p.max_nanos >= min_nanos)
            .map(|p| PartitionSnapshot {
                min_nanos: p.min_nanos,
                max_nanos: p.max_nanos,
                searcher: p.reader.searcher(),
            })
            .filter(|s| s.searcher.num_docs() > 0)
            .collect()
    }

    /// Commits everything pending now and reloads readers: searchable when this returns.
    pub fn refresh(&self) -> Result<(), LogError> {
        self.inner.commit_all()
    }

    /// Commits and syncs everything (shutdown).
    pub fn flush(&self) -> Result<(), LogError> {
        self.inner.commit_all()?;
        let end = lock(&self.inner.ingest).wal.end();
        self.inner.wal_sync.sync_to(end)
    }

    /// Applies retention now (the background thread also does every `maintenance_interval`).
    pub fn enforce_retention(&self) -> Result<RetentionReport, LogError> {
        self.inner.enforce_retention()
    }

    /// Merges every partition down to one segment and waits for it (for old partitions, or before
    /// measuring size). Commits first.
    pub fn force_merge(&self) -> Result<(), LogError> {
        self.inner.force_merge()
    }

    pub fn stats(&self) -> LogStoreStats {
        let (wal_bytes, wal_segments) = {
            let ingest = lock(&self.inner.ingest);
            (ingest.wal.disk_bytes(), ingest.wal.segment_count())
        };
        let partitions: Vec<Arc<Partition>> = self.inner.partition_list();
        let mut stats = LogStoreStats {
            partitions: partitions.len(),
            wal_bytes,
            wal_segments,
            open_writers: self.inner.open_writers.load(Ordering::Relaxed),
            ..LogStoreStats::default()
        };
        for p in &partitions {
            stats.documents += p.reader.searcher().num_docs();
            stats.pending_documents += lock(&p.pending).uncommitted_docs;
            stats.disk_bytes += p.disk_bytes();
        }
        stats.disk_bytes += wal_bytes;
        stats
    }

    /// Stops the background thread, commits, and closes every writer after its merges finish.
    pub fn close(mut self) -> Result<(), LogError> {
        self.stop_background();
        let result = self.inner.commit_all();
        self.inner.close_writers(true);
        result
    }

    fn stop_background(&mut self) {
        *lock(&self.inner.stop) = true;
        self.inner.wake.notify_all();
        if let Some(handle) = self.background.take() {
            let _ = handle.join();
        }
    }

    /// Test support: commit one partition only (to build recovery cases).
    #[cfg(test)]
    pub(crate) fn commit_partition(&self, start: i64) -> Result<bool, LogError> {
        let p = self.inner.partitions.read().unwrap().get(&start).cloned().expect("partition exists");
        let mut slot = lock(&p.writer);
        self.inner.commit_locked(&p, &mut slot)
    }

    /// Test support: delete the WAL segments no partition needs, without committing.
    #[cfg(test)]
    pub(crate) fn collect_wal(&self) {
        self.inner.collect_wal();
    }

    /// Test support: stop as a crash would, with nothing committed (writers dropped uncommitted).
    #[cfg(test)]
    pub(crate) fn crash(mut self) {
        *lock(&self.inner.stop) = true;
        self.inner.wake.notify_all();
        if let Some(handle) = self.background.take() {
            let _ = handle.join();
        }
        for p in self.inner.partition_list() {
            lock(&p.writer).writer = None;
        }
        self.inner.open_writers.store(0, Ordering::Relaxed);
        std::mem::drop(self);
    }
}

impl Drop for LogStore {
    fn drop(&mut self) {
        if self.background.is_none() {
            return; // closed (or crashed, in tests)
        }
        self.stop_background();
        if let Err(e) = self.inner.commit_all() {
            tracing::error!(error = %e, "committing the log store on drop failed");
        }
        self.inner.close_writers(false);
    }
}

impl Inner {
    fn partition_list(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    fn now_ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// The partition starting at `start`, created if missing. Called under the ingest lock.
    fn partition_for_write(&self, start: i64) -> Result<Arc<Partition>, LogError> {
        if let Some(p) = self.partitions.read().unwrap_or_else(|p| p.into_inner()).get(&start) {
            return Ok(p.clone());
        }
        let dir = self.partitions_dir.join(start.to_string());
        let partition = if dir.join("meta.json").exists() {
            Partition::open(&dir, start, self.span_secs)?
        } else {
            if dir.exists() {
                io(std::fs::remove_dir_all(&dir), || format!("removing {}", dir.display()))?;
            }
            Partition::create(&dir, start, self.span_secs, &self.schema, &self.settings)?
        };
        let partition = Arc::new(partition);
        self.partitions.write().unwrap_or_else(|p| p.into_inner()).insert(start, partition.clone());
        Ok(partition)
    }

    fn append(&self, records: Vec<LogRecord>) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        // Everything that does not depend on the WAL position happens outside the lock.
        let frames = wal::encode_frames(&records)?;
        // Per partition start: (frame number, document, source bytes).
        type Group = (i64, Vec<(usize, LogDocument, usize)>);
        let mut groups: Vec<Group> = Vec::new();
        // Frames cover the records in order, in contiguous ranges.
        let frame_of =
            frames.iter().enumerate().flat_map(|(frame_no, frame)| frame.records.clone().map(move |_| frame_no));
        for (record, frame_no) in records.into_iter().zip(frame_of) {
            let start = partition_start(record.timestamp_nanos, self.span_secs);
            let source_len = record.source.len();
            let doc = self.schema.document_owned(record);
            let entry = match groups.iter_mut().position(|(s, _)| *s == start) {
                Some(i) => &mut groups[i].1,
                None => {
                    groups.push((start, Vec::new()));
                    &mut groups.last_mut().unwrap().1
                }
            };
            entry.push((frame_no, doc, source_len));
        }

        let (end, touched) = {
            let mut ingest = lock(&self.ingest);
            // Partitions first, so that a failure to create one leaves nothing in the WAL.
            let touched =
                groups.iter().map(|(start, _)| self.partition_for_write(*start)).collect::<Result<Vec<_>, _>>()?;
            let lsns = ingest.wal.append(&frames)?;
            let now = self.now_ms();
            for (partition, (_, docs)) in touched.iter().zip(groups) {
                partition.last_write_ms.store(now, Ordering::Relaxed);
                for (frame_no, doc, bytes) in docs {
                    partition.push(lsns[frame_no], doc, bytes);
                }
            }
            (ingest.wal.end(), touched)
        };
        drop(frames);

        for partition in &touched {
            let block = partition.queued_bytes() > self.queue_limit;
            self.drain(partition, block);
        }
        if self.options.fsync {
            self.wal_sync.sync_to(end)?;
        }
        Ok(())
    }

    /// Moves a partition's queued documents into its writer, if the writer is free (or `block`).
    /// Failures mark the partition broken; the documents stay in the WAL.
    fn drain(&self, p: &Partition, block: bool) {
        let mut slot = if block {
            lock(&p.writer)
        } else {
            match p.writer.try_lock() {
                Ok(slot) => slot,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            }
        };
        loop {
            let docs = p.take_queued();
            if docs.is_empty() || p.dropped.load(Ordering::Acquire) || slot.broken.is_some() {
                return;
            }
            if let Err(e) = self.index_into(p, &mut slot, docs) {
                tracing::error!(partition = p.start, error = %e, "indexing failed; partition stops committing until reopened");
                slot.broken = Some(e.to_string());
                return;
            }
        }
    }

    /// Hands documents to the partition's writer, opening it (and closing the least recently used
    /// other writer when too many are open).
    fn index_into(&self, p: &Partition, slot: &mut WriterSlot, docs: Vec<LogDocument>) -> Result<(), LogError> {
        if slot.writer.is_none() {
            self.make_room_for_writer(p.start);
            p.open_writer(slot, self.options.writer_memory_bytes, self.options.indexing_threads)?;
            self.open_writers.fetch_add(1, Ordering::Relaxed);
        }
        p.index_docs(slot, docs)
    }

    fn make_room_for_writer(&self, except: i64) {
        while self.open_writers.load(Ordering::Relaxed) >= self.options.max_open_writers {
            let mut candidates: Vec<Arc<Partition>> = self
                .partition_list()
                .into_iter()
                .filter(|q| q.start != except && q.writer_open.load(Ordering::Acquire))
                .collect();
            candidates.sort_by_key(|q| q.last_write_ms.load(Ordering::Relaxed));
            let evicted = candidates.iter().any(|q| {
                let Ok(mut slot) = q.writer.try_lock() else { return false };
                if slot.writer.is_none() {
                    return false;
                }
                tracing::debug!(partition = q.start, "closing the least recently used writer");
                if let Err(e) = self.commit_locked(q, &mut slot) {
                    tracing::error!(partition = q.start, error = %e, "commit before closing a writer failed");
                }
                self.close_writer(q, &mut slot, false);
                true
            });
            if !evicted {
                return; // all busy: go over the limit for now
            }
        }
    }

    fn close_writer(&self, p: &Partition, slot: &mut WriterSlot, wait_merges: bool) {
        if let Some(writer) = slot.writer.take() {
            p.writer_open.store(false, Ordering::Release);
            self.open_writers.fetch_sub(1, Ordering::Relaxed);
            if wait_merges && let Err(e) = writer.wait_merging_threads() {
                tracing::warn!(partition = p.start, error = %e, "waiting for merges failed");
            }
        }
    }

    /// Commits one partition (the caller holds its writer lock). The commit covers every record of
    /// this partition below the WAL end read under the ingest lock, and records that position as
    /// the commit payload. Returns whether there was anything to commit.
    fn commit_locked(&self, p: &Partition, slot: &mut WriterSlot) -> Result<bool, LogError> {
        if let Some(why) = &slot.broken {
            return Err(LogError::Poisoned(format!("partition {}: {why}", p.dir.display())));
        }
        if p.dropped.load(Ordering::Acquire) {
            return Ok(false);
        }
        let (cut, docs) = {
            let ingest = lock(&self.ingest);
            if !p.is_dirty() {
                return Ok(false);
            }
            (ingest.wal.end(), p.take_queued())
        };
        let result = (|| -> Result<(), LogError> {
            if !docs.is_empty() || slot.writer.is_none() {
                self.index_into(p, slot, docs)?;
            }
            // The payload must never be ahead of the durable WAL: a crash would otherwise let new
            // records reuse LSNs that this partition claims to have committed.
            self.wal_sync.sync_to(cut)?;
            let writer = slot.writer.as_mut().expect("writer is open");
            let context = || format!("committing {}", p.dir.display());
            let mut prepared = writer.prepare_commit().map_err(|e| LogError::tantivy(context(), e))?;
            prepared.set_payload(&commit_payload(cut));
            prepared.commit().map_err(|e| LogError::tantivy(context(), e))?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(partition = p.start, error = %e, "commit failed; partition stops committing until reopened");
            slot.broken = Some(e.to_string());
            self.close_writer(p, slot, false);
            return Err(e);
        }
        p.committed_lsn.store(cut, Ordering::Release);
        {
            let mut pending = lock(&p.pending);
            pending.uncommitted_since = pending.docs.front().map(|(lsn, _)| *lsn);
            pending.uncommitted_docs = pending.docs.len() as u64;
        }
        p.reader.reload().map_err(|e| LogError::tantivy(format!("reloading the reader of {}", p.dir.display()), e))?;
        Ok(true)
    }

    /// Commits every partition with uncommitted documents, then deletes WAL segments no partition
    /// needs. Returns the first error (after trying every partition).
    fn commit_all(&self) -> Result<(), LogError> {
        let _round = lock(&self.maintenance);
        let mut first_error = None;
        for p in self.partition_list() {
            if !p.is_dirty() {
                continue;
            }
            let mut slot = lock(&p.writer);
            if let Err(e) = self.commit_locked(&p, &mut slot) {
                first_error.get_or_insert(e);
            }
        }
        self.collect_wal();
        first_error.map_or(Ok(()), Err)
    }

    /// Deletes closed WAL segments below the oldest uncommitted record of every partition.
    fn collect_wal(&self) {
        let gone = {
            let mut ingest = lock(&self.ingest);
            let mut keep_from = ingest.wal.end();
            for p in self.partitions.read().unwrap_or_else(|p| p.into_inner()).values() {
                if let Some(lsn) = lock(&p.pending).uncommitted_since {
                    keep_from = keep_from.min(lsn);
                }
            }
            ingest.wal.take_segments_below(keep_from, (self.options.wal_segment_bytes / 16).max(1 << 20))
        };
        for path in gone {
            tracing::debug!(segment = %path.display(), "deleting committed WAL segment");
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(segment = %path.display(), error = %e, "deleting a WAL segment failed");
            }
        }
    }

    /// Re-indexes the WAL records not committed in their partition. Segments were validated (and
    /// torn tails cut) by the first pass.
    fn replay(&self, segments: &[(u64, PathBuf)]) -> Result<u64, LogError> {
        let mut replayed = 0u64;
        for (base, path) in segments {
            wal::scan_segment(path, *base, false, |lsn, payload| {
                let records = wal::decode_payload(payload).map_err(|reason| LogError::WalCorrupt {
                    path: path.clone(),
                    offset: lsn - base,
                    reason,
                })?;
                let mut touched: Vec<Arc<Partition>> = Vec::new();
                {
                    let ingest = lock(&self.ingest);
                    for record in records {
                        let start = partition_start(record.timestamp_nanos, self.span_secs);
                        if ingest.meta.is_dropped(start, lsn) {
                            continue;
                        }
                        let existing = self.partitions.read().unwrap_or_else(|p| p.into_inner()).get(&start).cloned();
                        if existing.is_some_and(|p| p.committed_lsn.load(Ordering::Acquire) > lsn) {
                            continue;
                        }
                        let p = self.partition_for_write(start)?;
                        let record = record.into_log_record();
                        let source_len = record.source.len();
                        p.push(lsn, self.schema.document_owned(record), source_len);
                        replayed += 1;
                        if !touched.iter().any(|t| t.start == start) {
                            touched.push(p);
                        }
                    }
                }
                for p in touched {
                    if p.queued_bytes() > self.queue_limit / 4 {
                        self.drain(&p, true);
                    }
                }
                Ok(())
            })?;
        }
        Ok(replayed)
    }

    fn background(&self) {
        let refresh = self.options.refresh_interval;
        let maintenance = self.options.maintenance_interval;
        let mut next_refresh = Instant::now() + refresh;
        let mut next_maintenance = Instant::now() + maintenance;
        loop {
            let next = if refresh.is_zero() { next_maintenance } else { next_refresh.min(next_maintenance) };
            {
                let mut stop = lock(&self.stop);
                while !*stop && Instant::now() < next {
                    let wait = next.saturating_duration_since(Instant::now());
                    stop = self.wake.wait_timeout(stop, wait).unwrap_or_else(|p| p.into_inner()).0;
                }
                if *stop {
                    return;
                }
            }
            let now = Instant::now();
            if !refresh.is_zero() && now >= next_refresh {
                if let Err(e) = self.commit_all() {
                    tracing::error!(error = %e, "periodic commit failed");
                }
                next_refresh = Instant::now() + refresh;
            }
            if now >= next_maintenance {
                if let Err(e) = self.enforce_retention() {
                    tracing::error!(error = %e, "retention failed");
                }
                self.close_idle_writers();
                next_maintenance = Instant::now() + maintenance;
            }
        }
    }

    fn close_idle_writers(&self) {
        let now = self.now_ms();
        let idle = self.options.writer_idle_timeout.as_millis() as u64;
        for p in self.partition_list() {
            if !p.writer_open.load(Ordering::Acquire)
                || now.saturating_sub(p.last_write_ms.load(Ordering::Relaxed)) < idle
            {
                continue;
            }
            let Ok(mut slot) = p.writer.try_lock() else { continue };
            tracing::debug!(partition = p.start, "closing an idle writer");
            if let Err(e) = self.commit_locked(&p, &mut slot) {
                tracing::error!(partition = p.start, error = %e, "commit before closing an idle writer failed");
                continue;
            }
            self.close_writer(&p, &mut slot, true);
        }
    }

    fn close_writers(&self, wait_merges: bool) {
        for p in self.partition_list() {
            let mut slot = lock(&p.writer);
            self.close_writer(&p, &mut slot, wait_merges);
        }
    }

    fn force_merge(&self) -> Result<(), LogError> {
        self.commit_all()?;
        let _round = lock(&self.maintenance);
        for p in self.partition_list() {
            let mut slot = lock(&p.writer);
            let ids = p
                .index
                .searchable_segment_ids()
                .map_err(|e| LogError::tantivy(format!("listing segments of {}", p.dir.display()), e))?;
            if ids.len() < 2 {
                continue;
            }
            // Segments already being merged cannot be merged again: let running merges finish
            // and start from a writer that has none.
            self.close_writer(&p, &mut slot, true);
            let ids = p
                .index
                .searchable_segment_ids()
                .map_err(|e| LogError::tantivy(format!("listing segments of {}", p.dir.display()), e))?;
            if ids.len() < 2 {
                p.reader.reload().map_err(|e| LogError::tantivy(format!("reloading {}", p.dir.display()), e))?;
                continue;
            }
            if slot.writer.is_none() {
                self.make_room_for_writer(p.start);
                p.open_writer(&mut slot, self.options.writer_memory_bytes, self.options.indexing_threads)?;
                self.open_writers.fetch_add(1, Ordering::Relaxed);
            }
            let writer = slot.writer.as_mut().expect("writer is open");
            writer
                .merge(&ids)
                .wait()
                .map_err(|e| LogError::tantivy(format!("merging segments of {}", p.dir.display()), e))?;
            p.reader.reload().map_err(|e| LogError::tantivy(format!("reloading {}", p.dir.display()), e))?;
        }
        Ok(())
    }

    fn enforce_retention(&self) -> Result<RetentionReport, LogError> {
        let _round = lock(&self.maintenance);
        let mut report = RetentionReport::default();
        let mut partitions = self.partition_list(); // ascending by start
        if !self.options.retention.is_zero() {
            let horizon = now_nanos().saturating_sub(self.options.retention.as_nanos().min(i64::MAX as u128) as i64);
            let (old, keep): (Vec<_>, Vec<_>) = partitions.into_iter().partition(|p| p.max_nanos < horizon);
            for p in old {
                report.freed_bytes += self.drop_partition(&p)?;
                report.dropped_by_age.push(p.start);
            }
            partitions = keep;
        }
        if self.options.max_bytes > 0 {
            let sizes: Vec<u64> = partitions.iter().map(|p| p.disk_bytes()).collect();
            let mut total: u64 = sizes.iter().sum::<u64>() + lock(&self.ingest).wal.disk_bytes();
            // Never the newest partition: it is the one being written.
            for (p, size) in partitions.iter().zip(sizes).take(partitions.len().saturating_sub(1)) {
                if total <= self.options.max_bytes {
                    break;
                }
                let freed = self.drop_partition(p)?;
                total = total.saturating_sub(size.max(freed));
                report.freed_bytes += freed;
                report.dropped_by_size.push(p.start);
            }
        }
        if !report.dropped_by_age.is_empty() || !report.dropped_by_size.is_empty() {
            tracing::info!(?report, "retention dropped partitions");
        }
        Ok(report)
    }

    /// Drops a partition: its writer is rolled back, the drop is recorded in `logs.meta` (so the
    /// WAL cannot bring it back), it leaves the map and its directory is removed. Returns the bytes
    /// freed.
    fn drop_partition(&self, p: &Arc<Partition>) -> Result<u64, LogError> {
        let mut slot = lock(&p.writer);
        // Nothing may write into the directory once it is renamed: stop the writer first.
        if let Some(mut writer) = slot.writer.take() {
            p.writer_open.store(false, Ordering::Release);
            self.open_writers.fetch_sub(1, Ordering::Relaxed);
            let _ = writer.rollback();
            if let Err(e) = writer.wait_merging_threads() {
                tracing::warn!(partition = p.start, error = %e, "stopping the writer of a dropped partition");
            }
        }
        let bytes = p.disk_bytes();
        let doomed = self.partitions_dir.join(format!("{}{DROPPED_SUFFIX}", p.start));
        {
            let mut ingest = lock(&self.ingest);
            let drop_lsn = ingest.wal.end();
            let mut meta = ingest.meta.clone();
            let entry = meta.dropped.entry(p.start).or_insert(0);
            *entry = (*entry).max(drop_lsn);
            meta.store(&self.dir)?;
            ingest.meta = meta;
            self.partitions.write().unwrap_or_else(|p| p.into_inner()).remove(&p.start);
            p.dropped.store(true, Ordering::Release);
            {
                let mut pending = lock(&p.pending);
                *pending = Default::default();
            }
            if doomed.exists() {
                io(std::fs::remove_dir_all(&doomed), || format!("removing {}", doomed.display()))?;
            }
            // Renamed under the ingest lock, so that an append recreating the partition finds the
            // path free.
            io(std::fs::rename(&p.dir, &doomed), || format!("renaming {} to {}", p.dir.display(), doomed.display()))?;
        }
        if let Err(e) = std::fs::remove_dir_all(&doomed) {
            tracing::warn!(dir = %doomed.display(), error = %e, "removing a dropped partition failed; retried on next open");
        }
        tracing::info!(partition = p.start, bytes, "dropped log partition");
        Ok(bytes)
    }
}

// Pharos — storage/src/logs/store.rs
