//! The metrics time-series database.
//!
//! - [`model`]: labels, samples, series writes, metadata — what receivers hand in.
//! - [`chunk`]: sample compression (head chunks and block columns).
//! - `wal`: the write-ahead log; `head`: series in memory with the inverted index;
//!   [`Matcher`]: label matchers.
//! - [`Tsdb`]: the face — `append` for receivers, `select`/`series`/`label_*`/`metadata` for queries.
//!
//! Invariant: `append` returns only after the accepted samples are written to the WAL, so an
//! acknowledged write survives `kill -9`; [`FsyncPolicy`] decides when it survives power loss.

mod block;
pub mod chunk;
mod head;
mod head_chunks;
mod matcher;
mod model;
mod postings;
mod varint;
mod wal;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::Duration;

pub use block::BlockMeta;
pub use head::SampleError;
pub use postings::{intersect, subtract};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use model::{
    Label, LabelLimits, Labels, LabelsError, METRIC_NAME, MetricMetadata, MetricType, STALE_NAN_BITS, Sample,
    SeriesWrite, WriteBatch, is_stale_nan,
};

use crate::StorageError;
use block::Block;
use head::{Appended, Head};
use head_chunks::HeadChunks;
use wal::{RecordType, RefSample, Wal, WalRecord};

/// When the WAL is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Never explicitly; the kernel writes back when it likes. Survives `kill -9`, not power loss.
    Never,
    /// Every interval, in the background. Power loss can lose up to one interval.
    Interval(Duration),
    /// Before every acknowledgement.
    Always,
}

/// How the tsdb behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct TsdbOptions {
    pub fsync: FsyncPolicy,
    /// WAL segments are cut at this size.
    pub wal_segment_bytes: u64,
    /// Samples up to this much older than a series' newest sample are still accepted.
    pub out_of_order_window: Duration,
    pub label_limits: LabelLimits,
    /// Time span of the blocks cut from the head (compaction merges them into 3× and 12× spans).
    pub block_range: Duration,
    /// Blocks whose newest sample is older than this, counted back from the newest sample
    /// stored, are deleted. `None` keeps everything.
    pub retention_time: Option<Duration>,
    /// When blocks take more bytes than this, the oldest are deleted. `None`: no size limit.
    pub retention_size: Option<u64>,
    /// How often the head is cut into blocks, blocks compacted and retention applied.
    pub maintenance_interval: Duration,
}

impl Default for TsdbOptions {
    fn default() -> Self {
        TsdbOptions {
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_bytes: 128 << 20,
            out_of_order_window: Duration::from_secs(600),
            label_limits: LabelLimits::default(),
            block_range: Duration::from_secs(2 * 3600),
            retention_time: Some(Duration::from_secs(15 * 24 * 3600)),
            retention_size: None,
            maintenance_interval: Duration::from_secs(30),
        }
    }
}

/// What one `append` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    pub samples_appended: u64,
    /// Same timestamp and value as a stored sample: dropped without error, as Prometheus does.
    pub duplicates_dropped: u64,
    pub samples_rejected: u64,
    pub series_created: u64,
    /// The first few rejections, for the client's error message.
    pub errors: Vec<String>,
}

const MAX_REPORTED_ERRORS: usize = 8;

impl AppendReport {
    fn reject(&mut self, message: impl FnOnce() -> String) {
        self.samples_rejected += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(message());
        }
    }
}

/// One selected series with its samples in the requested range.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Gauges of the tsdb's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TsdbStats {
    pub head_series: usize,
    pub head_memory_bytes: usize,
    pub blocks: usize,
    pub block_bytes: u64,
    pub block_samples: u64,
}

struct WalWriter {
    wal: Wal,
    series_buf: Vec<u8>,
    samples_buf: Vec<u8>,
    metadata_buf: Vec<u8>,
    accepted: Vec<RefSample>,
}

/// The metrics store of one data directory.
pub struct Tsdb {
    head: Head,
    /// Immutable blocks, ordered by `mint`.
    blocks: RwLock<Vec<Arc<Block>>>,
    blocks_dir: PathBuf,
    next_block: AtomicU64,
    writer: Mutex<WalWriter>,
    /// Serialises maintenance (cut, compaction, retention).
    maintenance: Mutex<()>,
    /// Wakes the maintenance thread early when the head has grown past a cut (fast backfill).
    maintenance_due: Arc<(Mutex<bool>, Condvar)>,
    /// Oldest and newest timestamps appended since the last maintenance (estimates of the head's
    /// span, kept without walking the series).
    head_min_t: AtomicI64,
    head_max_t: AtomicI64,
    metadata: RwLock<BTreeMap<String, MetricMetadata>>,
    options: TsdbOptions,
}

impl Tsdb {
    /// Open (creating) the tsdb in `dir`: its blocks, then the WAL replayed into the head.
    pub fn open(dir: &Path, options: TsdbOptions) -> Result<Arc<Tsdb>, StorageError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StorageError::Io { path, source }
        };
        let wal_dir = dir.join("wal");
        let blocks_dir = dir.join("blocks");
        std::fs::create_dir_all(&wal_dir).map_err(io(&wal_dir))?;
        std::fs::create_dir_all(&blocks_dir).map_err(io(&blocks_dir))?;
        let (blocks, next_block) = open_blocks(&blocks_dir)?;
        let head = Head::new(Some(HeadChunks::open(&dir.join("chunks_head"))?));
        if let Some(newest) = blocks.iter().map(|b| b.meta().maxt).max() {
            head.truncate(newest.saturating_add(1));
        }
        let mut metadata = BTreeMap::new();
        let mut orphans = 0u64;
        let started = std::time::Instant::now();
        let report = wal::replay(&wal_dir, |record| match record {
            WalRecord::Series(series) => {
                for (series_ref, labels) in series {
                    head.restore(series_ref, &labels);
                }
            }
            WalRecord::Samples(samples) => {
                for s in samples {
                    match head.series(s.series) {
                        // Every logged sample was accepted when it was logged: replay without a
                        // window. Samples already in blocks are refused as out of bounds.
                        Some(series) => {
                            let _ = head.append(&series, s.t, s.v, i64::MAX);
                        }
                        None => orphans += 1,
                    }
                }
            }
            WalRecord::Metadata(entries) => {
                for m in entries {
                    metadata.insert(m.metric_family_name.clone(), m);
                }
            }
        })?;
        if orphans > 0 {
            tracing::warn!(samples = orphans, "WAL samples for unknown series were skipped");
        }
        // Families whose metadata only the blocks still know (the WAL keeps the newest).
        for block in &blocks {
            for m in block.metadata() {
                metadata.entry(m.metric_family_name.clone()).or_insert_with(|| m.clone());
            }
        }
        tracing::info!(
            blocks = blocks.len(), segments = report.segments, records = report.records, series = head.series_count(),
            duration_ms = started.elapsed().as_millis() as u64, "metrics store opened"
        );
        let wal = Wal::open(&wal_dir, options.wal_segment_bytes)?;
        let tsdb = Arc::new(Tsdb {
            head,
            blocks: RwLock::new(blocks),
            blocks_dir,
            next_block: AtomicU64::new(next_block),
            writer: Mutex::new(WalWriter {
                wal,
                series_buf: Vec::new(),
                samples_buf: Vec::new(),
                metadata_buf: Vec::new(),
                accepted: Vec::new(),
            }),
            maintenance: Mutex::new(()),
            maintenance_due: Arc::new((Mutex::new(false), Condvar::new())),
            head_min_t: AtomicI64::new(i64::MAX),
            head_max_t: AtomicI64::new(i64::MIN),
            metadata: RwLock::new(metadata),
            options,
        });
        if let Some((lo, hi)) = tsdb.head.time_range() {
            tsdb.head_min_t.store(lo, Ordering::Release);
            tsdb.head_max_t.store(hi, Ordering::Release);
        }
        if let FsyncPolicy::Interval(every) = tsdb.options.fsync {
            spawn_periodic("pharos-wal-fsync", Arc::downgrade(&tsdb), every, |tsdb| tsdb.flush());
        }
        spawn_maintenance(Arc::downgrade(&tsdb), tsdb.maintenance_due.clone(), tsdb.options.maintenance_interval);
        Ok(tsdb)
    }

    /// Store a batch: invalid samples are rejected one by one (reported), the rest are written to
    /// the WAL before this returns.
    pub fn append(&self, batch: &WriteBatch) -> Result<AppendReport, StorageError> {
        let mut report = AppendReport::default();
        let window = i64::try_from(self.options.out_of_order_window.as_millis()).unwrap_or(i64::MAX);
        let mut guard = self.writer.lock().expect("tsdb writer lock");
        let writer = &mut *guard;
        writer.series_buf.clear();
        writer.samples_buf.clear();
        writer.metadata_buf.clear();
        writer.accepted.clear();
        let mut created: Vec<(u32, &Labels)> = Vec::new();
        for write in &batch.series {
            if write.samples.is_empty() {
                continue;
            }
            let (series_ref, series, is_new) = self.head.get_or_create(&write.labels);
            if is_new {
                created.push((series_ref, &write.labels));
            }
            for sample in &write.samples {
                match self.head.append(&series, sample.t, sample.v, window) {
                    Ok(Appended::Stored) => {
                        report.samples_appended += 1;
                        writer.accepted.push(RefSample { series: series_ref, t: sample.t, v: sample.v });
                    }
                    Ok(Appended::Duplicate) => report.duplicates_dropped += 1,
                    Err(e) => report.reject(|| format!("{e} for series {}", write.labels)),
                }
            }
        }
        report.series_created = created.len() as u64;
        let mut records: Vec<(RecordType, &[u8])> = Vec::with_capacity(3);
        if !created.is_empty() {
            wal::encode_series(&mut writer.series_buf, created.iter().map(|(r, l)| (*r, *l)));
            records.push((RecordType::Series, &writer.series_buf));
        }
        if !writer.accepted.is_empty() {
            wal::encode_samples(&mut writer.samples_buf, &writer.accepted);
            records.push((RecordType::Samples, &writer.samples_buf));
        }
        let changed_metadata = self.changed_metadata(&batch.metadata);
        if !changed_metadata.is_empty() {
            wal::encode_metadata(&mut writer.metadata_buf, &changed_metadata);
            records.push((RecordType::Metadata, &writer.metadata_buf));
        }
        if records.is_empty() {
            return Ok(report);
        }
        writer.wal.log(&records)?;
        if self.options.fsync == FsyncPolicy::Always {
            writer.wal.sync()?;
        }
        let span = writer.accepted.iter().fold(None, |acc: Option<(i64, i64)>, s| {
            Some(acc.map_or((s.t, s.t), |(lo, hi)| (lo.min(s.t), hi.max(s.t))))
        });
        drop(guard);
        if let Some((lo, hi)) = span {
            self.note_head_span(lo, hi);
        }
        if !changed_metadata.is_empty() {
            let mut metadata = self.metadata.write().expect("metadata lock");
            for m in changed_metadata {
                metadata.insert(m.metric_family_name.clone(), m);
            }
        }
        Ok(report)
    }

    /// Track the head's span; wake maintenance once it holds more than 1.5 block ranges plus a
    /// margin, so a fast backfill never piles hours of data into memory.
    fn note_head_span(&self, lo: i64, hi: i64) {
        let min = self.head_min_t.fetch_min(lo, Ordering::AcqRel).min(lo);
        let max = self.head_max_t.fetch_max(hi, Ordering::AcqRel).max(hi);
        let range = i64::try_from(self.options.block_range.as_millis()).unwrap_or(i64::MAX);
        if max.saturating_sub(min) > range.saturating_add(range / 2).saturating_add(range / 4) {
            let (due, wake) = &*self.maintenance_due;
            let mut due = due.lock().expect("maintenance signal lock");
            if !*due {
                *due = true;
                wake.notify_one();
            }
        }
    }

    /// Metadata entries that differ from what is stored (only those are logged).
    fn changed_metadata(&self, incoming: &[MetricMetadata]) -> Vec<MetricMetadata> {
        if incoming.is_empty() {
            return Vec::new();
        }
        let stored = self.metadata.read().expect("metadata lock");
        incoming
            .iter()
            .filter(|m| !m.metric_family_name.is_empty() && stored.get(&m.metric_family_name) != Some(*m))
            .cloned()
            .collect()
    }

    /// Series matching all `matchers` with their samples in `[mint, maxt]` (milliseconds,
    /// inclusive) from blocks and head, sorted by labels; series without samples in the range are
    /// left out. A corrupt block is an error, never wrong data.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesSamples>, StorageError> {
        let mut parts: Vec<SeriesSamples> = Vec::new();
        for block in self.blocks_overlapping(mint, maxt) {
            parts.extend(block.select(matchers, mint, maxt)?);
        }
        let head_mint = mint.max(self.head.min_valid_t());
        for (labels, series) in self.head.select(matchers) {
            let mut samples = Vec::new();
            self.head.samples(&series, head_mint, maxt, &mut samples);
            if !samples.is_empty() {
                parts.push(SeriesSamples { labels, samples });
            }
        }
        Ok(merge_series(parts))
    }

    /// Like [`Tsdb::select`], one series at a time: `visit` gets each matching series (blocks and
    /// head merged; its labels by value) with its samples in `[mint, maxt]`, in label order, from
    /// one reused buffer; it returns `false` to stop early. Nothing larger than one series is
    /// held.
    pub fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut visit: impl FnMut(Labels, &[Sample]) -> bool,
    ) -> Result<(), StorageError> {
        enum Source {
            Block(usize, u32),
            Head(Arc<head::MemSeries>),
        }
        let blocks = self.blocks_overlapping(mint, maxt);
        let mut sources: Vec<(Labels, Source)> = Vec::new();
        for (b, block) in blocks.iter().enumerate() {
            sources.extend(block.select_entries(matchers, mint, maxt).into_iter().map(|(l, i)| (l, Source::Block(b, i))));
        }
        sources.extend(self.head.select(matchers).into_iter().map(|(l, s)| (l, Source::Head(s))));
        // Stable: the parts of one series stay in block order, the head last. (Each source
        // alone is already in label order.)
        if !blocks.is_empty() {
            sources.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut readers: Vec<block::BlockReader<'_>> = blocks.iter().map(|b| b.reader()).collect();
        let head_mint = mint.max(self.head.min_valid_t());
        let mut buf: Vec<Sample> = Vec::new();
        let mut i = 0;
        while i < sources.len() {
            // The labels move to `visit`; later parts of the series compare against them.
            let labels = std::mem::take(&mut sources[i].0);
            let mut j = i;
            buf.clear();
            let mut in_order = true;
            while j < sources.len() && (j == i || sources[j].0 == labels) {
                let last = buf.last().map(|s| s.t);
                let start = buf.len();
                match &sources[j].1 {
                    Source::Block(b, index) => readers[*b].read(*index, mint, maxt, &mut buf)?,
                    Source::Head(series) => self.head.samples(series, head_mint, maxt, &mut buf),
                }
                if let (Some(last), Some(first)) = (last, buf.get(start)) {
                    in_order &= first.t > last;
                }
                j += 1;
            }
            if !in_order {
                // Overlapping parts: by time, a timestamp seen twice kept once (the later wins).
                let mut parts = std::mem::take(&mut buf);
                parts.sort_by_key(|s| s.t);
                for s in parts {
                    match buf.last_mut() {
                        Some(prev) if prev.t == s.t => *prev = s,
                        _ => buf.push(s),
                    }
                }
            }
            if !buf.is_empty() && !visit(labels, &buf) {
                break;
            }
            i = j;
        }
        Ok(())
    }

    /// Label sets of the series matching all `matchers` that have data in `[mint, maxt]`, sorted.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let head_mint = mint.max(self.head.min_valid_t());
        let mut all: Vec<Labels> = self
            .head
            .select(matchers)
            .into_iter()
            .filter(|(_, series)| series.overlaps(head_mint, maxt))
            .map(|(labels, _)| labels)
            .collect();
        for block in self.blocks_overlapping(mint, maxt) {
            all.extend(block.series(matchers, mint, maxt));
        }
        all.sort();
        all.dedup();
        all
    }

    fn blocks_overlapping(&self, mint: i64, maxt: i64) -> Vec<Arc<Block>> {
        self.blocks
            .read()
            .expect("blocks lock")
            .iter()
            .filter(|b| b.meta().mint <= maxt && b.meta().maxt >= mint)
            .cloned()
            .collect()
    }

    /// Label names of the series matching any of the selectors (all series if none), sorted.
    pub fn label_names(&self, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        let mut names = BTreeSet::new();
        for labels in self.series_of_any(selectors, mint, maxt) {
            names.extend(labels.iter().map(|l| l.name.clone()));
        }
        names.into_iter().collect()
    }

    /// Values of label `name` among the series matching any of the selectors, sorted.
    pub fn label_values(&self, name: &str, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        let mut values = BTreeSet::new();
        for labels in self.series_of_any(selectors, mint, maxt) {
            if let Some(v) = labels.get(name) {
                values.insert(v.to_string());
            }
        }
        values.into_iter().collect()
    }

    /// The union of the series of several selectors (all series for none), sorted and unique.
    pub fn series_of_any(&self, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<Labels> {
        if selectors.is_empty() {
            return self.series(&[], mint, maxt);
        }
        let mut all: Vec<Labels> = selectors.iter().flat_map(|m| self.series(m, mint, maxt)).collect();
        all.sort();
        all.dedup();
        all
    }

    /// Metadata per metric family name.
    pub fn metadata(&self) -> BTreeMap<String, MetricMetadata> {
        self.metadata.read().expect("metadata lock").clone()
    }

    /// fsync the WAL.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.writer.lock().expect("tsdb writer lock").wal.sync()
    }

    /// The label limits receivers validate against.
    pub fn label_limits(&self) -> LabelLimits {
        self.options.label_limits
    }

    pub fn stats(&self) -> TsdbStats {
        let blocks = self.blocks.read().expect("blocks lock");
        TsdbStats {
            head_series: self.head.series_count(),
            head_memory_bytes: self.head.memory_bytes(),
            blocks: blocks.len(),
            block_bytes: blocks.iter().map(|b| b.meta().bytes).sum(),
            block_samples: blocks.iter().map(|b| b.meta().samples).sum(),
        }
    }

    /// One round of upkeep: cut the head into blocks while it spans more than 1.5 block ranges
    /// (checkpointing the WAL after each cut), compact blocks, apply retention.
    pub fn maintain(&self) -> Result<MaintenanceReport, StorageError> {
        let _running = self.maintenance.lock().expect("maintenance lock");
        let mut report = MaintenanceReport::default();
        let range = i64::try_from(self.options.block_range.as_millis()).unwrap_or(i64::MAX).max(1);
        let window = i64::try_from(self.options.out_of_order_window.as_millis()).unwrap_or(i64::MAX);
        while let Some((lo, hi)) = self.head.time_range() {
            let cut = (lo.div_euclid(range) + 1).saturating_mul(range);
            // Cut only what is older than the out-of-order window, so accepted late samples never
            // fall below the head.
            if hi - lo < range + range / 2 || cut > hi.saturating_sub(window) {
                break;
            }
            self.cut_head(cut)?;
            report.blocks_cut += 1;
        }
        let (lo, hi) = self.head.time_range().unwrap_or((i64::MAX, i64::MIN));
        self.head_min_t.store(lo, Ordering::Release);
        self.head_max_t.fetch_max(hi, Ordering::AcqRel);
        report.blocks_compacted += self.compact(range)?;
        report.blocks_deleted += self.apply_retention()?;
        Ok(report)
    }

    /// Persist every head sample older than `cut` as a block, drop it from the head, checkpoint.
    fn cut_head(&self, cut: i64) -> Result<(), StorageError> {
        // From here on nothing can land below the cut, so the block is complete when written.
        self.head.raise_append_floor(cut);
        let series = self.head.collect(i64::MIN, cut - 1);
        let metadata: Vec<MetricMetadata> = self.metadata().into_values().collect();
        if !series.is_empty() {
            let block = self.write_block(series.into_iter().map(|(_, labels, samples)| (labels, samples)), &metadata)?;
            tracing::info!(mint = block.meta().mint, maxt = block.meta().maxt, series = block.meta().series, bytes = block.meta().bytes, "head cut into a block");
            self.add_blocks(vec![block], &[]);
        }
        self.head.truncate(cut);
        self.checkpoint()
    }

    fn write_block(&self, series: impl Iterator<Item = (Labels, Vec<Sample>)>, metadata: &[MetricMetadata]) -> Result<Arc<Block>, StorageError> {
        let name = format!("{:012}.block", self.next_block.fetch_add(1, Ordering::AcqRel));
        block::write_block(&self.blocks_dir, &name, series, metadata)?;
        Ok(Arc::new(Block::open(&self.blocks_dir.join(&name))?))
    }

    /// Swap blocks in and out of the read set; removed blocks' files are deleted.
    fn add_blocks(&self, added: Vec<Arc<Block>>, removed: &[Arc<Block>]) {
        let mut blocks = self.blocks.write().expect("blocks lock");
        blocks.retain(|b| !removed.iter().any(|r| Arc::ptr_eq(r, b)));
        blocks.extend(added);
        blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
        drop(blocks);
        for block in removed {
            if let Err(e) = std::fs::remove_file(block.path()) {
                tracing::error!(path = %block.path().display(), error = %e, "cannot delete a replaced block");
            }
        }
    }

    /// Write the head's state as a WAL checkpoint and drop the segments it replaces.
    fn checkpoint(&self) -> Result<(), StorageError> {
        // Everything logged before segment `index` is in the head now; samples appended after
        // the cut may also land in the checkpoint, and replay drops such exact duplicates.
        let index = self.writer.lock().expect("tsdb writer lock").wal.cut()?;
        let wal_dir = self.blocks_dir.with_file_name("wal");
        let mut checkpoint = wal::CheckpointWriter::begin(&wal_dir, index)?;
        let mut buf = Vec::new();
        // A few thousand series at a time, so the checkpoint never holds the head twice in memory.
        for refs in self.head.series_refs().chunks(2048) {
            let part = self.head.collect_refs(refs);
            buf.clear();
            wal::encode_series(&mut buf, part.iter().map(|(r, labels, _)| (*r, labels)));
            checkpoint.record(RecordType::Series, &buf)?;
            let samples: Vec<RefSample> =
                part.iter().flat_map(|(r, _, samples)| samples.iter().map(|s| RefSample { series: *r, t: s.t, v: s.v })).collect();
            buf.clear();
            wal::encode_samples(&mut buf, &samples);
            checkpoint.record(RecordType::Samples, &buf)?;
        }
        let metadata: Vec<MetricMetadata> = self.metadata().into_values().collect();
        buf.clear();
        wal::encode_metadata(&mut buf, &metadata);
        checkpoint.record(RecordType::Metadata, &buf)?;
        checkpoint.finish()
    }

    /// Merge blocks: any that overlap in time, and complete groups within windows of 3 and 12
    /// block ranges. Returns how many blocks were merged away.
    fn compact(&self, range: i64) -> Result<usize, StorageError> {
        let mut merged = 0;
        let head_start = self.head.min_valid_t();
        for window in [range.saturating_mul(3), range.saturating_mul(12)] {
            loop {
                let blocks = self.blocks.read().expect("blocks lock").clone();
                let group = compaction_group(&blocks, window, head_start);
                if group.len() < 2 {
                    break;
                }
                let mut parts = Vec::new();
                for block in &group {
                    parts.extend(block.all_series()?);
                }
                let metadata: Vec<MetricMetadata> = self.metadata().into_values().collect();
                let block = self.write_block(merge_series(parts).into_iter().map(|s| (s.labels, s.samples)), &metadata)?;
                tracing::info!(inputs = group.len(), mint = block.meta().mint, maxt = block.meta().maxt, bytes = block.meta().bytes, "blocks compacted");
                merged += group.len() - 1;
                self.add_blocks(vec![block], &group);
            }
        }
        Ok(merged)
    }

    /// Delete blocks past the retention time or beyond the retention size, oldest first.
    fn apply_retention(&self) -> Result<usize, StorageError> {
        let blocks = self.blocks.read().expect("blocks lock").clone();
        let newest = self.head.time_range().map(|(_, hi)| hi).into_iter().chain(blocks.iter().map(|b| b.meta().maxt)).max();
        let mut doomed: Vec<Arc<Block>> = Vec::new();
        if let (Some(retention), Some(newest)) = (self.options.retention_time, newest) {
            let horizon = newest.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
            doomed.extend(blocks.iter().filter(|b| b.meta().maxt < horizon).cloned());
        }
        if let Some(limit) = self.options.retention_size {
            let mut total: u64 = blocks.iter().map(|b| b.meta().bytes).sum();
            for block in &blocks {
                if total <= limit {
                    break;
                }
                total -= block.meta().bytes;
                if !doomed.iter().any(|d| Arc::ptr_eq(d, block)) {
                    doomed.push(block.clone());
                }
            }
        }
        for block in &doomed {
            tracing::info!(path = %block.path().display(), mint = block.meta().mint, maxt = block.meta().maxt, "block deleted by retention");
        }
        let count = doomed.len();
        if count > 0 {
            self.add_blocks(Vec::new(), &doomed);
        }
        Ok(count)
    }
}

/// What one maintenance round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub blocks_cut: usize,
    pub blocks_compacted: usize,
    pub blocks_deleted: usize,
}

/// Blocks to merge next: two that overlap in time, else the first window (of `window`
/// milliseconds, aligned) that lies wholly before the head and holds several smaller blocks.
fn compaction_group(blocks: &[Arc<Block>], window: i64, head_start: i64) -> Vec<Arc<Block>> {
    for pair in blocks.windows(2) {
        if pair[1].meta().mint <= pair[0].meta().maxt {
            return pair.to_vec();
        }
    }
    let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
    for block in blocks {
        let meta = block.meta();
        let start = meta.mint.div_euclid(window);
        let fits = meta.maxt.div_euclid(window) == start && meta.maxt - meta.mint < window - 1;
        let complete = (start + 1).saturating_mul(window) <= head_start;
        if fits && complete {
            groups.entry(start).or_default().push(block.clone());
        }
    }
    groups.into_values().find(|g| g.len() >= 2).unwrap_or_default()
}

/// Series from several sources (blocks, head), merged by labels; samples of one series from
/// several sources are merged by time, a timestamp seen twice kept once (the later source wins).
fn merge_series(mut parts: Vec<SeriesSamples>) -> Vec<SeriesSamples> {
    parts.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<SeriesSamples> = Vec::with_capacity(parts.len());
    for part in parts {
        match out.last_mut() {
            Some(last) if last.labels == part.labels => {
                // Parts come in block order (the sort is stable): usually they just follow on.
                if last.samples.last().is_none_or(|l| part.samples.first().is_none_or(|f| l.t < f.t)) {
                    last.samples.extend(part.samples);
                    continue;
                }
                last.samples.extend(part.samples);
                last.samples.sort_by_key(|s| s.t);
                let mut deduped: Vec<Sample> = Vec::with_capacity(last.samples.len());
                for s in last.samples.drain(..) {
                    match deduped.last_mut() {
                        Some(prev) if prev.t == s.t => *prev = s,
                        _ => deduped.push(s),
                    }
                }
                last.samples = deduped;
            }
            _ => out.push(part),
        }
    }
    out
}

/// Open every block in `dir`; leftovers of interrupted writes are removed and corrupt blocks set
/// aside (renamed `*.corrupt`) with an error in the log, never served. Returns the blocks ordered
/// by time and the next free block number.
fn open_blocks(dir: &Path) -> Result<(Vec<Arc<Block>>, u64), StorageError> {
    let mut blocks = Vec::new();
    let mut next = 0u64;
    let entries = std::fs::read_dir(dir).map_err(|source| StorageError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| StorageError::Io { path: dir.to_path_buf(), source })?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if let Some(number) = name.split('.').next().and_then(|n| n.parse::<u64>().ok()) {
            next = next.max(number + 1);
        }
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".block") {
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(e) => {
                tracing::error!(error = %e, "corrupt block set aside; its data is not served");
                let _ = std::fs::rename(&path, path.with_extension("block.corrupt"));
            }
        }
    }
    blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
    Ok((blocks, next))
}

/// Run maintenance every `every`, or sooner when appends signal that the head is due for a cut,
/// until the tsdb is dropped.
fn spawn_maintenance(tsdb: Weak<Tsdb>, signal: Arc<(Mutex<bool>, Condvar)>, every: Duration) {
    let spawned = std::thread::Builder::new().name("pharos-tsdb-maintenance".into()).spawn(move || {
        loop {
            {
                // Only the signal is held while waiting, so the tsdb can be dropped meanwhile.
                let (due, wake) = &*signal;
                let guard = due.lock().expect("maintenance signal lock");
                let (mut guard, _) = wake.wait_timeout_while(guard, every, |due| !*due).expect("maintenance signal lock");
                *guard = false;
            }
            let Some(tsdb) = tsdb.upgrade() else { return };
            if let Err(e) = tsdb.maintain() {
                tracing::error!(error = %e, "tsdb maintenance failed");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start tsdb maintenance; blocks will not be cut");
    }
}

/// Run `job` every `every` on a thread of its own until the tsdb is dropped.
fn spawn_periodic(name: &str, tsdb: Weak<Tsdb>, every: Duration, job: fn(&Tsdb) -> Result<(), StorageError>) {
    let thread_name = name.to_string();
    let spawned = std::thread::Builder::new().name(thread_name.clone()).spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(tsdb) = tsdb.upgrade() else { return };
            if let Err(e) = job(&tsdb) {
                tracing::error!(task = %thread_name, error = %e, "periodic tsdb task failed");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(task = name, error = %e, "cannot start a periodic tsdb task");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, job: &str, samples: &[(i64, f64)]) -> SeriesWrite {
        SeriesWrite {
            labels: Labels::from_pairs([("__name__", name), ("job", job)]),
            samples: samples.iter().map(|&(t, v)| Sample { t, v }).collect(),
        }
    }

    #[test]
    fn appended_samples_survive_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let options = TsdbOptions { fsync: FsyncPolicy::Never, ..TsdbOptions::default() };
        {
            let tsdb = Tsdb::open(tmp.path(), options.clone()).unwrap();
            let batch = WriteBatch {
                series: vec![
                    write("up", "a", &[(1000, 1.0), (2000, 1.0)]),
                    write("up", "b", &[(1000, 0.0)]),
                    write("up", "a", &[(3000, f64::from_bits(STALE_NAN_BITS))]),
                ],
                metadata: vec![MetricMetadata {
                    metric_family_name: "up".into(),
                    kind: MetricType::Gauge,
                    help: "Up.".into(),
                    unit: String::new(),
                }],
            };
            let report = tsdb.append(&batch).unwrap();
            assert_eq!((report.samples_appended, report.series_created), (4, 2));
            let again = tsdb.append(&WriteBatch { series: vec![write("up", "a", &[(2000, 1.0), (2000, 7.0)])], metadata: vec![] }).unwrap();
            assert_eq!((again.duplicates_dropped, again.samples_rejected), (1, 1));
            assert!(again.errors[0].contains("duplicate sample for timestamp 2000"), "{:?}", again.errors);
        }
        let tsdb = Tsdb::open(tmp.path(), options).unwrap();
        let got = tsdb.select(&[Matcher::equal("__name__", "up")], 0, 10_000).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].labels.get("job"), Some("a"));
        assert_eq!(got[0].samples.len(), 3);
        assert_eq!(got[0].samples[2].v.to_bits(), STALE_NAN_BITS);
        assert_eq!(tsdb.metadata()["up"].kind, MetricType::Gauge);
        // New series after replay get fresh references.
        tsdb.append(&WriteBatch { series: vec![write("down", "c", &[(1, 1.0)])], metadata: vec![] }).unwrap();
        assert_eq!(tsdb.stats().head_series, 3);
    }

    fn hours(h: i64) -> i64 {
        h * 3_600_000
    }

    /// 12 hours of 4 series at 60 s through the head, cut into blocks, compacted, reopened.
    #[test]
    fn head_cuts_compacts_and_reopens_without_losing_samples() {
        let tmp = tempfile::tempdir().unwrap();
        let options = TsdbOptions {
            fsync: FsyncPolicy::Never,
            maintenance_interval: Duration::from_secs(3600),
            retention_time: None,
            ..TsdbOptions::default()
        };
        let step = 60_000;
        let expected: Vec<(i64, f64)> = (0..hours(12) / step).map(|i| (i * step, (i % 97) as f64 * 0.5)).collect();
        {
            let tsdb = Tsdb::open(tmp.path(), options.clone()).unwrap();
            for chunk in expected.chunks(30) {
                let series = (0..4).map(|s| write("m", &format!("j{s}"), chunk)).collect();
                tsdb.append(&WriteBatch { series, metadata: vec![] }).unwrap();
                tsdb.maintain().unwrap();
            }
            let stats = tsdb.stats();
            assert!(stats.blocks >= 1 && stats.blocks <= 3, "{stats:?}");
            assert!(tsdb.head.min_valid_t() >= hours(8), "the head keeps about the last block range");
            let got = tsdb.select(&[Matcher::equal("job", "j2")], i64::MIN, i64::MAX).unwrap();
            assert_eq!(got[0].samples.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(), expected);
            // Samples older than the head are refused as out of bounds.
            let late = tsdb.append(&WriteBatch { series: vec![write("m", "j0", &[(hours(1), 1.0)])], metadata: vec![] }).unwrap();
            assert!(late.errors[0].contains("out of bounds"), "{late:?}");
        }
        let tsdb = Tsdb::open(tmp.path(), options).unwrap();
        let got = tsdb.select(&[Matcher::equal("__name__", "m")], i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), 4);
        for series in &got {
            assert_eq!(series.samples.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(), expected, "{}", series.labels);
        }
        // The streaming select sees the same series and samples, across blocks and head.
        for (mint, maxt) in [(i64::MIN, i64::MAX), (hours(3) + 1, hours(9) - 1)] {
            let mut streamed = Vec::new();
            tsdb.select_each(&[Matcher::equal("__name__", "m")], mint, maxt, |labels, samples| {
                streamed.push(SeriesSamples { labels, samples: samples.to_vec() });
                true
            })
            .unwrap();
            assert_eq!(streamed, tsdb.select(&[Matcher::equal("__name__", "m")], mint, maxt).unwrap());
        }
        let mut visited = 0;
        tsdb.select_each(&[Matcher::equal("__name__", "m")], 0, hours(12), |_, _| {
            visited += 1;
            false
        })
        .unwrap();
        assert_eq!(visited, 1, "returning false stops the walk");
        let wal_files = std::fs::read_dir(tmp.path().join("wal")).unwrap().count();
        assert!(wal_files <= 3, "old segments were replaced by a checkpoint ({wal_files} files)");
    }

    #[test]
    fn retention_deletes_whole_old_blocks() {
        let tmp = tempfile::tempdir().unwrap();
        let options = TsdbOptions {
            fsync: FsyncPolicy::Never,
            maintenance_interval: Duration::from_secs(3600),
            retention_time: Some(Duration::from_secs(6 * 3600)),
            ..TsdbOptions::default()
        };
        let tsdb = Tsdb::open(tmp.path(), options).unwrap();
        let step = 300_000;
        for i in 0..hours(24) / step {
            tsdb.append(&WriteBatch { series: vec![write("r", "a", &[(i * step, 1.0)])], metadata: vec![] }).unwrap();
            if i % 12 == 0 {
                tsdb.maintain().unwrap();
            }
        }
        tsdb.maintain().unwrap();
        let got = tsdb.select(&[Matcher::equal("__name__", "r")], i64::MIN, i64::MAX).unwrap();
        let oldest = got[0].samples[0].t;
        assert!(oldest >= hours(24) - hours(6) - hours(6), "old blocks are gone (oldest {oldest})");
        assert!(oldest <= hours(24) - hours(6), "newer data is intact (oldest {oldest})");
        let newest = got[0].samples.last().unwrap().t;
        assert_eq!(newest, hours(24) - step);
    }

    #[test]
    fn label_apis_filter_by_matchers_and_time() {
        let tmp = tempfile::tempdir().unwrap();
        let tsdb = Tsdb::open(tmp.path(), TsdbOptions { fsync: FsyncPolicy::Never, ..TsdbOptions::default() }).unwrap();
        let batch = WriteBatch {
            series: vec![write("up", "a", &[(1000, 1.0)]), write("up", "b", &[(5000, 1.0)]), write("load", "a", &[(1000, 0.5)])],
            metadata: vec![],
        };
        tsdb.append(&batch).unwrap();
        assert_eq!(tsdb.label_names(&[], 0, 10_000), vec!["__name__", "job"]);
        assert_eq!(tsdb.label_values("job", &[], 0, 2000), vec!["a"]);
        assert_eq!(tsdb.label_values("__name__", &[vec![Matcher::equal("job", "a")]], 0, 10_000), vec!["load", "up"]);
        let sel = vec![vec![Matcher::equal("__name__", "up")], vec![Matcher::equal("job", "a")]];
        assert_eq!(tsdb.series_of_any(&sel, 0, 10_000).len(), 3);
        assert_eq!(tsdb.series(&[Matcher::equal("__name__", "up")], 4000, 6000).len(), 1);
    }
}

// Pharos — storage/src/tsdb/mod.rs
