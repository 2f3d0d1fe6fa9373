//! [`TraceStore`]: RocksDB opened with one pair of column families per bucket (UTC day of span
//! start time), appends as one atomic `WriteBatch`, trace-by-id, the catalogue calls, retention
//! by dropping whole buckets, and the maintenance thread that applies it.
//!
//! Locks: `buckets` (the map of open buckets) is read-locked by every append for the whole write,
//! so a bucket's column families are never dropped under a write in flight; it is write-locked to
//! create a bucket and, by retention (one pass at a time under `retention`), to drop one. A
//! bucket's `catalogue` and `references` are taken briefly, never while waiting for RocksDB.
//! Reads (trace, search, catalogue calls) only clone the bucket list under the read lock.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocksdb::{
    BlockBasedOptions, BoundColumnFamily, Cache, ColumnFamilyDescriptor, DBCompactionStyle, DBCompressionType,
    DBRawIteratorWithThreadMode, DBRecoveryMode, DBWithThreadMode, MergeOperands, MultiThreaded, Options, ReadOptions,
    SliceTransform, UniversalCompactOptions, WriteBatch, WriteOptions,
};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::bucket::{
    Bucket, INDEX_CF_PREFIX, IndexedKeys, References, ResourceSummary, SPANS_CF_PREFIX, day_of, day_overlaps,
    day_start, parse_date_text,
};
use super::catalogue::{Catalogue, CatalogueDelta, ValueKey};
use super::codec::{
    self, ChunkEntry, FORMAT_VERSION, IndexEntry, Posting, Reader, content_hash, encode_chunk, encode_postings,
    encode_resource, encode_scope, encode_span, put_bytes, put_varint,
};
use super::error::TraceError;
use super::keys::{
    CATALOGUE_KEY, CHUNK_KEY_LEN, CatalogueKey, GROUP_WINDOW_NANOS, IndexPrefix, RESOURCE, SCOPE, TRACE_PREFIX_LEN,
    attribute_partition, chunk_key, duration_class, key_hex, parse_chunk_key, prefix_successor, put_group_suffix,
    reference_key, value_crc,
};
use super::model::{AttributeValue, Resource, Scope, Span, SpanId, TraceId};
use super::search::{Operation, SearchStats, SpanQuery, TagScope, TagValue, TimeRange};
use super::span_search;

pub(super) type Db = DBWithThreadMode<MultiThreaded>;

/// Attribute keys indexed by default: OpenTelemetry semantic-convention keys people search traces
/// by (HTTP method, status and route, RPC service and method, database and messaging systems, peer
/// service, error type) and resource keys that split a service's spans (environment, Kubernetes
/// namespace, host). Old and new HTTP convention names are both listed.
pub const DEFAULT_INDEXED_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.method",
    "http.response.status_code",
    "http.status_code",
    "http.route",
    "rpc.service",
    "rpc.method",
    "db.system",
    "messaging.system",
    "peer.service",
    "error.type",
    "deployment.environment",
    "deployment.environment.name",
    "k8s.namespace.name",
    "host.name",
];

/// How the store behaves. `TraceStoreOptions::default()` is the production setting.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceStoreOptions {
    /// Spans are dropped a whole bucket (one UTC day of span start time) at a time once the
    /// bucket's end is older than now − retention. Zero keeps everything. Default 14 days (Tempo's
    /// default block retention, 336 h). Appended spans whose bucket is already past retention are
    /// not stored (counted in [`TraceStoreStats::spans_dropped_past_retention`]).
    pub retention: Duration,
    /// fsync RocksDB's WAL before `append` returns (`WriteOptions::set_sync`). Default true. Even
    /// when false an acknowledged append survives kill -9 of the process (the WAL write is in the
    /// OS page cache); only a machine crash can lose it.
    pub fsync: bool,
    /// Attribute keys (span or resource attributes) whose `key=value` pairs get a secondary index.
    /// Default [`DEFAULT_INDEXED_ATTRIBUTES`]. A bucket keeps the set it was created with (stored in
    /// the bucket), so a changed set applies from the next new bucket on and never leaves a
    /// bucket half-indexed.
    pub indexed_attributes: Vec<String>,
    /// RocksDB block cache shared by every column family. Default 64 MiB.
    pub block_cache_bytes: usize,
    /// How often a background thread enforces retention. Default 60 s. Zero runs no thread.
    pub maintenance_interval: Duration,
}

impl Default for TraceStoreOptions {
    fn default() -> Self {
        TraceStoreOptions {
            retention: Duration::from_secs(14 * 86_400),
            fsync: true,
            indexed_attributes: DEFAULT_INDEXED_ATTRIBUTES.iter().map(|s| (*s).to_owned()).collect(),
            block_cache_bytes: 64 << 20,
            maintenance_interval: Duration::from_secs(60),
        }
    }
}

/// A point-in-time view of the store's size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceStoreStats {
    pub buckets: usize,
    /// Spans appended and kept (the catalogues' counts: a span appended twice counts twice).
    pub spans: u64,
    /// Live SST files of every bucket (both column families).
    pub sst_bytes: u64,
    /// The part of `sst_bytes` in the buckets' index column families (indexes, resources,
    /// scopes, catalogue).
    pub index_sst_bytes: u64,
    /// RocksDB WAL files.
    pub wal_bytes: u64,
    /// Spans appended since open that were not stored because their bucket was past retention.
    pub spans_dropped_past_retention: u64,
}

/// Key of the store's format version in the `default` column family.
const FORMAT_KEY: &[u8] = b"pharos.traces.format";
/// Key of a bucket's indexed attribute keys in its index column family.
const INDEXED_KEYS_KEY: &[u8] = b"I";
/// Name of the merge operator summing catalogue counts (fixed: RocksDB checks it on open).
const SUM_COUNTS: &str = "pharos.sum_counts";

/// RocksDB tuning, in one place (see `docs/format/traces.md` for the measurements behind it).
const WRITE_BUFFER_BYTES: usize = 64 << 20;
const TOTAL_WRITE_BUFFER_BYTES: usize = 256 << 20;
const MAX_TOTAL_WAL_BYTES: u64 = 512 << 20;
const BLOCK_BYTES: usize = 16 << 10;

pub(super) fn now_nanos() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos().min(i64::MAX as u128) as i64,
        Err(e) => -(e.duration().as_nanos().min(i64::MAX as u128) as i64),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sum_counts(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    codec::sum_counts(existing.into_iter().chain(operands))
}

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_max_background_jobs(4);
    // The spans families' hash memtables do not take concurrent inserts.
    o.set_allow_concurrent_memtable_write(false);
    o.set_bytes_per_sync(1 << 20);
    o.set_db_write_buffer_size(TOTAL_WRITE_BUFFER_BYTES);
    o.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
    o.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    o.set_keep_log_file_num(2);
    o.set_max_log_file_size(8 << 20);
    o
}

fn table_options(cache: &Cache, whole_key_filtering: bool) -> BlockBasedOptions {
    let mut t = BlockBasedOptions::default();
    t.set_block_cache(cache);
    t.set_block_size(BLOCK_BYTES);
    t.set_format_version(5);
    t.set_bloom_filter(10.0, false);
    t.set_whole_key_filtering(whole_key_filtering);
    t.set_cache_index_and_filter_blocks(true);
    t.set_pin_l0_filter_and_index_blocks_in_cache(true);
    t
}

/// Universal compaction (a day only grows and leaves whole, so compaction only has to bound the
/// sorted runs; it rewrites each byte fewer times than leveled compaction) and LZ4 everywhere:
/// ZSTD for the bottommost cost 18 % (level 3) and then 7.5 % (level 1) of the CPU of a sustained
/// ingest, a trained dictionary another 6 %, for a few percent fewer bytes (see
/// `docs/format/traces.md` for the measurements).
fn bucket_cf_options(cache: &Cache, whole_key_filtering: bool) -> Options {
    let mut o = Options::default();
    o.set_write_buffer_size(WRITE_BUFFER_BYTES);
    o.set_max_write_buffer_number(4);
    o.set_target_file_size_base(64 << 20);
    o.set_compaction_style(DBCompactionStyle::Universal);
    let mut universal = UniversalCompactOptions::default();
    universal.set_size_ratio(10);
    universal.set_min_merge_width(4);
    o.set_universal_compaction_options(&universal);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_bottommost_compression_type(DBCompressionType::Lz4);
    o.set_block_based_table_factory(&table_options(cache, whole_key_filtering));
    o
}

/// `spans.<date>`: 16-byte prefix extractor (the trace id) with prefix bloom filters in the
/// memtable and the SST files; no whole-key filter (chunks are only ever read by trace prefix).
fn spans_cf_options(cache: &Cache) -> Options {
    let mut o = bucket_cf_options(cache, false);
    o.set_prefix_extractor(SliceTransform::create_fixed_prefix(TRACE_PREFIX_LEN));
    o.set_memtable_prefix_bloom_ratio(0.05);
    // Every read of this family is by trace-id prefix, so the memtable can hash on it: an insert
    // searches one short per-trace list instead of the whole memtable's skiplist.
    o.set_memtable_factory(rocksdb::MemtableFactory::HashSkipList {
        bucket_count: 1 << 20,
        height: 4,
        branching_factor: 4,
    });
    o
}

/// `index.<date>`: whole-key bloom filters (point reads of resources, scopes and the catalogue),
/// total-order iteration, and the catalogue's merge operator.
fn index_cf_options(cache: &Cache) -> Options {
    let mut o = bucket_cf_options(cache, true);
    o.set_merge_operator_associative(SUM_COUNTS, sum_counts);
    o
}

/// What a store directory holds, per column family name.
enum CfRole {
    Default,
    Spans(u32),
    Index(u32),
    Unknown,
}

fn cf_role(name: &str) -> CfRole {
    if name == "default" {
        CfRole::Default
    } else if let Some(day) = name.strip_prefix(SPANS_CF_PREFIX).and_then(parse_date_text) {
        CfRole::Spans(day)
    } else if let Some(day) = name.strip_prefix(INDEX_CF_PREFIX).and_then(parse_date_text) {
        CfRole::Index(day)
    } else {
        CfRole::Unknown
    }
}

pub(super) struct Inner {
    pub db: Db,
    pub dir: PathBuf,
    options: TraceStoreOptions,
    cache: Cache,
    write_options: WriteOptions,
    buckets: RwLock<BTreeMap<u32, Arc<Bucket>>>,
    retention: Mutex<()>,
    /// Ids of posting groups: a per-open random high half and a counter, so that two groups of one
    /// index value with the same newest start never share a key.
    group_ids: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
    dropped_past_retention: AtomicU64,
}

/// The trace store. `Send + Sync`; share it as `Arc<TraceStore>`.
pub struct TraceStore {
    inner: Arc<Inner>,
    maintenance: Option<JoinHandle<()>>,
}

impl TraceStore {
    /// Opens (or creates) the store in `dir`: RocksDB recovers its WAL, every bucket's column
    /// families are opened, a drop interrupted by a crash is finished, and every bucket's
    /// catalogue is loaded. Retention is enforced before it returns, so a store reopened with a
    /// shorter retention never serves what it has to drop.
    pub fn open(dir: &Path, options: TraceStoreOptions) -> Result<TraceStore, TraceError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| TraceError::Io { context: format!("creating {}", dir.display()), source })?;
        let inner = Arc::new(Inner::open(dir, options)?);
        inner.enforce_retention(now_nanos())?;
        let maintenance = if inner.options.maintenance_interval.is_zero() {
            None
        } else {
            let inner = inner.clone();
            Some(
                std::thread::Builder::new()
                    .name("tracestore-maint".into())
                    .spawn(move || inner.maintenance())
                    .map_err(|source| TraceError::Io {
                        context: "starting the trace store maintenance thread".into(),
                        source,
                    })?,
            )
        };
        Ok(TraceStore { inner, maintenance })
    }

    /// The earliest span start time an append stores now: a span starting earlier falls in a day
    /// already past retention and is left out (counted in
    /// [`TraceStoreStats::spans_dropped_past_retention`]). `None` when retention is off. Receivers
    /// use it to report such spans as rejected rather than stored.
    pub fn oldest_storable_nanos(&self) -> Option<i64> {
        self.inner.first_kept_day(now_nanos()).map(|day| day.saturating_mul(super::bucket::DAY_NANOS as i64))
    }

    /// One atomic RocksDB `WriteBatch`: spans, index entries, resources and scopes not yet in their
    /// bucket, catalogue counts. Durable when it returns `Ok` (WAL fsynced per `options.fsync`;
    /// concurrent appenders are group-committed by RocksDB). All or nothing. A span appended again
    /// with the same trace id, start time and span id replaces the stored one.
    pub fn append(&self, spans: &[Span]) -> Result<(), TraceError> {
        self.inner.append(spans)
    }

    /// Every span of the trace whose start time falls in a bucket overlapping `range`, sorted by
    /// start time, then span id. Empty when unknown.
    pub fn trace(&self, trace_id: &TraceId, range: TimeRange) -> Result<Vec<Span>, TraceError> {
        self.inner.trace(trace_id, range)
    }

    /// Service names with spans in buckets overlapping `range`, sorted, distinct.
    pub fn services(&self, range: TimeRange) -> Vec<String> {
        let mut out = BTreeSet::new();
        for b in self.inner.buckets_overlapping(&range) {
            let catalogue = b.catalogue.read().unwrap_or_else(|p| p.into_inner());
            out.extend(catalogue.service_names().map(str::to_owned));
        }
        out.into_iter().collect()
    }

    /// The (span name, kind) pairs of `service` in buckets overlapping `range`, sorted, distinct.
    pub fn operations(&self, service: &str, range: TimeRange) -> Vec<Operation> {
        let mut out = BTreeSet::new();
        for b in self.inner.buckets_overlapping(&range) {
            let catalogue = b.catalogue.read().unwrap_or_else(|p| p.into_inner());
            out.extend(catalogue.operations(service));
        }
        out.into_iter().collect()
    }

    /// Visits every span meeting every condition of `query` exactly, newest start time first
    /// (ties by trace id, then span id), until `visit` returns `ControlFlow::Break`. Per bucket it
    /// reads the index the catalogue says is most selective; `SearchStats` counts the spans it had
    /// to read.
    pub fn search(
        &self,
        query: &SpanQuery,
        visit: &mut dyn FnMut(Span) -> ControlFlow<()>,
    ) -> Result<SearchStats, TraceError> {
        span_search::search(&self.inner, query, visit)
    }

    /// Attribute keys seen in `scope`, sorted (at most 1000 per scope and bucket are kept, see
    /// the catalogue's caps).
    pub fn tag_names(&self, scope: TagScope, range: TimeRange) -> Vec<String> {
        let mut out = BTreeSet::new();
        for b in self.inner.buckets_overlapping(&range) {
            let catalogue = b.catalogue.read().unwrap_or_else(|p| p.into_inner());
            out.extend(catalogue.tag_names(scope).map(str::to_owned));
        }
        out.into_iter().collect()
    }

    /// Distinct values seen for `key` in `scope`, sorted (strings, then integers, doubles,
    /// booleans), at most `limit`. Only string, int, bool and double values are kept, at most 256
    /// per key, scope and bucket (the first seen), strings up to 256 bytes.
    pub fn tag_values(&self, scope: TagScope, key: &str, range: TimeRange, limit: usize) -> Vec<TagValue> {
        let mut out: BTreeSet<ValueKey> = BTreeSet::new();
        for b in self.inner.buckets_overlapping(&range) {
            let catalogue = b.catalogue.read().unwrap_or_else(|p| p.into_inner());
            out.extend(catalogue.tag_values(scope, key).cloned());
        }
        out.iter().take(limit).map(ValueKey::to_value).collect()
    }

    /// Drops every bucket whose end is older than `now_nanos − retention` (no-op when retention is
    /// zero): its two column families are dropped, which RocksDB records in its MANIFEST, so they
    /// stay dropped after a restart. Returns the dropped buckets' start times (ns), oldest first.
    pub fn enforce_retention(&self, now_nanos: i64) -> Result<Vec<i64>, TraceError> {
        self.inner.enforce_retention(now_nanos)
    }

    /// Flushes every memtable to SST files and syncs the WAL (shutdown).
    pub fn flush(&self) -> Result<(), TraceError> {
        self.inner.flush()
    }

    pub fn stats(&self) -> TraceStoreStats {
        self.inner.stats()
    }

    /// Test support: the store's internals (RocksDB handle, buckets).
    #[cfg(test)]
    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Test and benchmark support: waits until RocksDB runs no flush or compaction and has none
    /// pending, or `timeout` passes. Returns whether it settled.
    #[doc(hidden)]
    pub fn wait_for_compactions(&self, timeout: Duration) -> bool {
        self.inner.wait_for_compactions(timeout)
    }
}

impl Drop for TraceStore {
    fn drop(&mut self) {
        *lock(&self.inner.stop) = true;
        self.inner.wake.notify_all();
        if let Some(handle) = self.maintenance.take() {
            let _ = handle.join();
        }
    }
}

/// What [`Inner::each_chunk`] calls per chunk: its key and spans; `Break` stops.
type ChunkVisitor<'v> = dyn FnMut(&[u8], Vec<ChunkEntry<'_>>) -> Result<ControlFlow<()>, TraceError> + 'v;

/// What an append needs per resource (by `Arc` address, within one batch).
struct ResourceInfo {
    hash: u64,
    encoded: Vec<u8>,
}

/// What an append builds per bucket.
struct BucketWrite<'a> {
    bucket: Arc<Bucket>,
    spans_cf: Arc<BoundColumnFamily<'a>>,
    index_cf: Arc<BoundColumnFamily<'a>>,
    delta: CatalogueDelta<'a>,
    /// Spans per resource, for the resource tag counts.
    resource_spans: HashMap<*const Resource, (&'a Resource, u64)>,
    scopes_seen: HashSet<*const Scope>,
    new_resources: Vec<(u64, ResourceSummary)>,
    new_scopes: Vec<u64>,
    /// Postings per index value: one posting group key per window of start times.
    groups: HashMap<IndexPrefix<'a>, Vec<Posting>>,
    /// Encoded spans per trace: one trace chunk key each.
    chunks: HashMap<TraceId, Vec<(u64, SpanId, Vec<u8>)>>,
    /// What goes into each column family, sorted before it is added to the batch.
    spans_puts: Vec<([u8; CHUNK_KEY_LEN], Vec<u8>)>,
    index_puts: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Inner {
    fn open(dir: &Path, options: TraceStoreOptions) -> Result<Inner, TraceError> {
        let rocks = |operation: &str| {
            let path = dir.to_path_buf();
            let operation = operation.to_owned();
            move |source| TraceError::RocksDb { path, operation, source }
        };
        let cache =
            Cache::new_lru_cache(options.block_cache_bytes.max(1 << 20)).map_err(rocks("creating the block cache"))?;
        let db_opts = db_options();
        let existed = dir.join("CURRENT").exists();
        let names =
            if existed { Db::list_cf(&db_opts, dir).map_err(rocks("listing column families"))? } else { vec![] };
        let mut spans_days = BTreeSet::new();
        let mut index_days = BTreeSet::new();
        let mut descriptors = vec![ColumnFamilyDescriptor::new("default", Options::default())];
        for name in &names {
            let cf_options = match cf_role(name) {
                CfRole::Default => continue,
                CfRole::Spans(day) => {
                    spans_days.insert(day);
                    spans_cf_options(&cache)
                }
                CfRole::Index(day) => {
                    index_days.insert(day);
                    index_cf_options(&cache)
                }
                CfRole::Unknown => {
                    tracing::warn!(dir = %dir.display(), column_family = %name, "unknown column family in the trace store, ignored");
                    Options::default()
                }
            };
            descriptors.push(ColumnFamilyDescriptor::new(name, cf_options));
        }
        let db = Db::open_cf_descriptors(&db_opts, dir, descriptors).map_err(rocks("opening"))?;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(options.fsync);
        write_options.set_memtable_insert_hint_per_batch(true);

        match db.get(FORMAT_KEY).map_err(rocks("reading the format version"))? {
            Some(v) if v.as_slice() == [FORMAT_VERSION] => {}
            Some(v) => {
                return Err(TraceError::UnsupportedFormat {
                    path: dir.to_path_buf(),
                    detail: format!("format version {v:?}, this build reads [{FORMAT_VERSION}]"),
                });
            }
            None if spans_days.is_empty() && index_days.is_empty() => {
                let mut sync = WriteOptions::default();
                sync.set_sync(true);
                db.put_opt(FORMAT_KEY, [FORMAT_VERSION], &sync).map_err(rocks("writing the format version"))?;
            }
            None => {
                return Err(TraceError::UnsupportedFormat {
                    path: dir.to_path_buf(),
                    detail: "column families of buckets but no format version".into(),
                });
            }
        }

        let inner = Inner {
            db,
            dir: dir.to_path_buf(),
            options,
            cache,
            write_options,
            buckets: RwLock::new(BTreeMap::new()),
            retention: Mutex::new(()),
            group_ids: AtomicU64::new(group_id_base()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            dropped_past_retention: AtomicU64::new(0),
        };
        // A crash between dropping a bucket's two column families leaves one: finish the drop.
        for day in spans_days.symmetric_difference(&index_days) {
            let bucket = Bucket::new(*day, Catalogue::default(), IndexedKeys::default(), References::default());
            for name in [&bucket.spans_cf, &bucket.index_cf] {
                if inner.db.cf_handle(name).is_some() {
                    tracing::info!(column_family = %name, "finishing an interrupted bucket drop");
                    inner.db.drop_cf(name).map_err(rocks(&format!("dropping {name}")))?;
                }
            }
        }
        let mut buckets = BTreeMap::new();
        for day in spans_days.intersection(&index_days) {
            buckets.insert(*day, Arc::new(inner.load_bucket(*day)?));
        }
        *inner.buckets.write().unwrap_or_else(|p| p.into_inner()) = buckets;
        Ok(inner)
    }

    fn rocks_error(&self, operation: impl Into<String>) -> impl FnOnce(rocksdb::Error) -> TraceError {
        let path = self.dir.clone();
        let operation = operation.into();
        move |source| TraceError::RocksDb { path, operation, source }
    }

    /// Loads a bucket: its indexed attribute keys, its resources (summarised) and its catalogue.
    fn load_bucket(&self, day: u32) -> Result<Bucket, TraceError> {
        let shell = Bucket::new(day, Catalogue::default(), IndexedKeys::default(), References::default());
        let date = shell.date();
        let cf = self
            .db
            .cf_handle(&shell.index_cf)
            .ok_or_else(|| TraceError::corrupt(&date, b"", "index column family missing after open"))?;
        let indexed =
            match self.db.get_cf(&cf, INDEXED_KEYS_KEY).map_err(self.rocks_error(format!("reading {date}")))? {
                Some(bytes) => decode_indexed_keys(&bytes).map_err(|e| {
                    TraceError::corrupt(&date, INDEXED_KEYS_KEY, format!("indexed attribute keys: {}", e.0))
                })?,
                // Created but never written (crash right after creation): adopt the current set.
                None => self.write_indexed_keys(&cf, &date)?,
            };
        let mut catalogue = Catalogue::default();
        let counts =
            self.db.get_cf(&cf, CATALOGUE_KEY).map_err(self.rocks_error(format!("reading the catalogue of {date}")))?;
        let mut entries = Vec::new();
        codec::decode_counts(counts.as_deref().unwrap_or(&[FORMAT_VERSION, 0]), |key, n| entries.push((key, n)))
            .map_err(|e| TraceError::corrupt(&date, CATALOGUE_KEY, e.0))?;
        for (key, count) in entries {
            let corrupt =
                |detail: String| TraceError::corrupt(&date, CATALOGUE_KEY, format!("entry {}: {detail}", key_hex(key)));
            let parsed = CatalogueKey::decode(key).map_err(|e| corrupt(e.0))?;
            if let CatalogueKey::TagValue(_, _, value) = &parsed {
                ValueKey::decode(value).map_err(|e| corrupt(e.0))?;
            }
            catalogue.apply(&parsed, count);
        }

        let mut resources = Vec::new();
        let mut read = ReadOptions::default();
        read.set_iterate_upper_bound(vec![RESOURCE + 1]);
        let mut it = self.db.raw_iterator_cf_opt(&cf, read);
        it.seek([RESOURCE]);
        while let Some((key, value)) = it.item() {
            let hash = <[u8; 8]>::try_from(&key[1..])
                .map(u64::from_be_bytes)
                .map_err(|_| TraceError::corrupt(&date, key, "resource key is not 9 bytes"))?;
            let resource = codec::decode_resource(value).map_err(|e| TraceError::corrupt(&date, key, e.0))?;
            resources.push((hash, ResourceSummary::of(&resource, &indexed)));
            it.next();
        }
        it.status().map_err(self.rocks_error(format!("reading the resources of {date}")))?;
        let mut references = References::default();
        references.mark_written(resources, &[]);
        Ok(Bucket::new(day, catalogue, indexed, references))
    }

    fn write_indexed_keys(&self, cf: &Arc<BoundColumnFamily<'_>>, date: &str) -> Result<IndexedKeys, TraceError> {
        let keys: BTreeSet<&str> = self.options.indexed_attributes.iter().map(String::as_str).collect();
        let mut value = vec![FORMAT_VERSION];
        put_varint(&mut value, keys.len() as u64);
        for key in &keys {
            put_bytes(&mut value, key.as_bytes());
        }
        let mut sync = WriteOptions::default();
        sync.set_sync(self.options.fsync);
        self.db
            .put_cf_opt(cf, INDEXED_KEYS_KEY, value, &sync)
            .map_err(self.rocks_error(format!("writing the indexed keys of {date}")))?;
        Ok(IndexedKeys::new(keys.into_iter().map(str::to_owned)))
    }

    /// Creates the buckets of `days` that do not exist (under the write lock).
    fn create_buckets(&self, days: &[u32]) -> Result<(), TraceError> {
        let mut buckets = self.buckets.write().unwrap_or_else(|p| p.into_inner());
        for &day in days {
            if buckets.contains_key(&day) {
                continue;
            }
            let shell = Bucket::new(day, Catalogue::default(), IndexedKeys::default(), References::default());
            let date = shell.date();
            // Index first: a crash in between leaves an orphan that open drops. A family left by
            // an earlier failed attempt is reused (the `I` write is idempotent).
            if self.db.cf_handle(&shell.index_cf).is_none() {
                self.db
                    .create_cf(&shell.index_cf, &index_cf_options(&self.cache))
                    .map_err(self.rocks_error(format!("creating {}", shell.index_cf)))?;
            }
            let cf = self.db.cf_handle(&shell.index_cf).expect("column family just created");
            let indexed = self.write_indexed_keys(&cf, &date)?;
            if self.db.cf_handle(&shell.spans_cf).is_none() {
                self.db
                    .create_cf(&shell.spans_cf, &spans_cf_options(&self.cache))
                    .map_err(self.rocks_error(format!("creating {}", shell.spans_cf)))?;
            }
            tracing::debug!(bucket = %date, "created trace bucket");
            buckets.insert(day, Arc::new(Bucket::new(day, Catalogue::default(), indexed, References::default())));
        }
        Ok(())
    }

    /// The first day retention keeps at `now`, if retention is on.
    fn first_kept_day(&self, now: i64) -> Option<i64> {
        if self.options.retention.is_zero() {
            return None;
        }
        let horizon = now.saturating_sub(self.options.retention.as_nanos().min(i64::MAX as u128) as i64);
        // A bucket is dropped once its end is older than the horizon: day_end(d) < horizon, that is
        // (d + 1)·DAY ≤ horizon.
        Some(horizon.div_euclid(super::bucket::DAY_NANOS as i64))
    }

    fn append(&self, spans: &[Span]) -> Result<(), TraceError> {
        if spans.is_empty() {
            return Ok(());
        }
        let first_kept = self.first_kept_day(now_nanos());
        let kept = |span: &Span| first_kept.is_none_or(|d| i64::from(day_of(span.start_time_unix_nano)) >= d);
        let mut days: Vec<u32> = spans.iter().filter(|s| kept(s)).map(|s| day_of(s.start_time_unix_nano)).collect();
        days.sort_unstable();
        days.dedup();
        let dropped = spans.len() - spans.iter().filter(|s| kept(s)).count();
        if dropped > 0 {
            self.dropped_past_retention.fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::debug!(spans = dropped, "spans older than retention were not stored");
        }
        if days.is_empty() {
            return Ok(());
        }
        loop {
            let buckets = self.buckets.read().unwrap_or_else(|p| p.into_inner());
            let missing: Vec<u32> = days.iter().copied().filter(|d| !buckets.contains_key(d)).collect();
            if missing.is_empty() {
                let selected: Vec<Arc<Bucket>> = days.iter().map(|d| buckets[d].clone()).collect();
                return self.write(spans, &selected, &kept);
            }
            drop(buckets);
            self.create_buckets(&missing)?;
        }
    }

    /// Builds and writes the batch; the caller holds the bucket map's read lock.
    fn write<'a>(
        &'a self,
        spans: &'a [Span],
        selected: &[Arc<Bucket>],
        kept: &dyn Fn(&Span) -> bool,
    ) -> Result<(), TraceError> {
        let mut writes: BTreeMap<u32, BucketWrite<'a>> = BTreeMap::new();
        for bucket in selected {
            let handle = |name: &str| {
                self.db
                    .cf_handle(name)
                    .ok_or_else(|| TraceError::corrupt(bucket.date(), b"", format!("{name} is not open")))
            };
            writes.insert(
                bucket.day,
                BucketWrite {
                    bucket: bucket.clone(),
                    spans_cf: handle(&bucket.spans_cf)?,
                    index_cf: handle(&bucket.index_cf)?,
                    delta: CatalogueDelta::default(),
                    resource_spans: HashMap::default(),
                    scopes_seen: HashSet::default(),
                    new_resources: Vec::new(),
                    new_scopes: Vec::new(),
                    groups: HashMap::default(),
                    chunks: HashMap::default(),
                    spans_puts: Vec::new(),
                    index_puts: Vec::new(),
                },
            );
        }
        let mut resources: HashMap<*const Resource, ResourceInfo> = HashMap::default();
        let mut scopes: HashMap<*const Scope, (u64, Vec<u8>)> = HashMap::default();
        let mut batch = WriteBatch::default();
        let mut span_indexed: Vec<&str> = Vec::new();
        for span in spans.iter().filter(|s| kept(s)) {
            let start = span.start_time_unix_nano;
            let w = writes.get_mut(&day_of(start)).expect("bucket selected for every kept span");
            let resource_ptr = Arc::as_ptr(&span.resource);
            let info = resources.entry(resource_ptr).or_insert_with(|| {
                let mut encoded = Vec::new();
                encode_resource(&span.resource, &mut encoded);
                ResourceInfo { hash: content_hash(&encoded), encoded }
            });
            match w.resource_spans.get_mut(&resource_ptr) {
                Some((_, n)) => *n += 1,
                None => {
                    w.resource_spans.insert(resource_ptr, (&span.resource, 1));
                    if !lock(&w.bucket.references).resource_written(info.hash) {
                        w.index_puts.push((reference_key(RESOURCE, info.hash).to_vec(), info.encoded.clone()));
                        w.new_resources.push((info.hash, ResourceSummary::of(&span.resource, &w.bucket.indexed)));
                    }
                }
            }
            let scope_ptr = Arc::as_ptr(&span.scope);
            let (scope_hash, scope_encoded) = scopes.entry(scope_ptr).or_insert_with(|| {
                let mut encoded = Vec::new();
                encode_scope(&span.scope, &mut encoded);
                (content_hash(&encoded), encoded)
            });
            if w.scopes_seen.insert(scope_ptr) && !lock(&w.bucket.references).scope_written(*scope_hash) {
                w.index_puts.push((reference_key(SCOPE, *scope_hash).to_vec(), scope_encoded.clone()));
                w.new_scopes.push(*scope_hash);
            }

            let mut body = Vec::with_capacity(512);
            encode_span(span, info.hash, *scope_hash, &mut body);
            w.chunks.entry(span.trace_id).or_default().push((start, span.span_id, body));

            let service = span.resource.service_name();
            let posting = Posting {
                start,
                trace_id: span.trace_id,
                span_id: span.span_id,
                entry: IndexEntry::of(span, service, info.hash),
            };
            let groups = &mut w.groups;
            let mut put_index = |prefix: IndexPrefix<'a>| groups.entry(prefix).or_default().push(posting);
            put_index(IndexPrefix::Time);
            put_index(IndexPrefix::Name(service, &span.name));
            put_index(IndexPrefix::Duration(service, duration_class(span.duration_nanos())));
            if span.is_error() {
                put_index(IndexPrefix::Error(service));
            }
            // Span attributes only: resource attributes are found through the bucket's resources.
            let indexed = &w.bucket.indexed;
            span_indexed.clear();
            for kv in &span.attributes {
                if !indexed.contains(&kv.key) || span_indexed.contains(&kv.key.as_str()) {
                    continue;
                }
                span_indexed.push(kv.key.as_str());
                let crc = match &kv.value {
                    AttributeValue::String(s) => Some(value_crc(s)),
                    other => other.to_display_string().map(|shown| value_crc(&shown)),
                };
                if let Some(crc) = crc {
                    let posting = Posting { entry: IndexEntry { value_crc: Some(crc), ..posting.entry }, ..posting };
                    w.groups
                        .entry(IndexPrefix::Attribute(&kv.key, attribute_partition(crc)))
                        .or_default()
                        .push(posting);
                }
            }
            w.delta.add_span(span, service);
        }

        let mut admitted = Vec::with_capacity(writes.len());
        for w in writes.values_mut() {
            for (trace_id, mut spans) in w.chunks.drain() {
                spans.sort_unstable_by_key(|s| (s.0, s.1));
                spans.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
                let entries: Vec<ChunkEntry<'_>> = spans
                    .iter()
                    .map(|(start, span_id, body)| ChunkEntry { start: *start, span_id: *span_id, body })
                    .collect();
                let mut value = Vec::with_capacity(spans.iter().map(|s| s.2.len() + 16).sum::<usize>() + 8);
                encode_chunk(&entries, &mut value);
                let id = self.group_ids.fetch_add(1, Ordering::Relaxed);
                w.spans_puts.push((chunk_key(&trace_id, spans[0].0, id), value));
            }
            for (prefix, mut postings) in w.groups.drain() {
                postings.sort_unstable_by_key(Posting::order);
                // Cut where a posting starts a window or more before the group's newest.
                let mut rest = postings.as_slice();
                while let Some(newest) = rest.first().map(|p| p.start) {
                    let n = rest.iter().position(|p| newest - p.start >= GROUP_WINDOW_NANOS).unwrap_or(rest.len());
                    let mut key = Vec::with_capacity(64);
                    prefix.write(&mut key);
                    put_group_suffix(&mut key, newest, self.group_ids.fetch_add(1, Ordering::Relaxed));
                    let mut value = Vec::with_capacity(n * 48 + 8);
                    encode_postings(&rest[..n], prefix.stored_fields(), &mut value);
                    w.index_puts.push((key, value));
                    rest = &rest[n..];
                }
            }
            for (resource, n) in w.resource_spans.values() {
                w.delta.add_resource(resource, *n);
            }
            let delta = std::mem::take(&mut w.delta);
            let counts = w.bucket.catalogue.write().unwrap_or_else(|p| p.into_inner()).admit(delta);
            let mut entries: Vec<(Vec<u8>, u64)> = counts.iter().map(|(key, n)| (key.encode(), *n)).collect();
            entries.sort_unstable();
            let mut value = Vec::new();
            codec::encode_counts(entries.iter().map(|(k, n)| (k.as_slice(), *n)), &mut value);
            // In key order, so that RocksDB inserts each into its memtable starting from where the
            // previous one went (`memtable_insert_hint_per_batch`).
            w.spans_puts.sort_unstable_by_key(|p| p.0);
            for (key, value) in &w.spans_puts {
                batch.put_cf(&w.spans_cf, key, value);
            }
            w.index_puts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut catalogue_put = false;
            for (key, v) in &w.index_puts {
                if !catalogue_put && key.as_slice() > CATALOGUE_KEY {
                    batch.merge_cf(&w.index_cf, CATALOGUE_KEY, &value);
                    catalogue_put = true;
                }
                batch.put_cf(&w.index_cf, key, v);
            }
            if !catalogue_put {
                batch.merge_cf(&w.index_cf, CATALOGUE_KEY, &value);
            }
            admitted.push(counts);
        }
        self.db.write_opt(batch, &self.write_options).map_err(self.rocks_error("writing spans"))?;
        for (w, counts) in writes.values_mut().zip(admitted) {
            {
                let mut catalogue = w.bucket.catalogue.write().unwrap_or_else(|p| p.into_inner());
                for (key, n) in &counts {
                    catalogue.apply(key, *n);
                }
            }
            lock(&w.bucket.references).mark_written(std::mem::take(&mut w.new_resources), &w.new_scopes);
        }
        Ok(())
    }

    /// The buckets overlapping `range`, oldest first.
    pub fn buckets_overlapping(&self, range: &TimeRange) -> Vec<Arc<Bucket>> {
        if range.start_nanos > range.end_nanos {
            return Vec::new();
        }
        let buckets = self.buckets.read().unwrap_or_else(|p| p.into_inner());
        buckets.values().filter(|b| day_overlaps(b.day, range)).cloned().collect()
    }

    fn trace(&self, trace_id: &TraceId, range: TimeRange) -> Result<Vec<Span>, TraceError> {
        let mut out = Vec::new();
        for bucket in self.buckets_overlapping(&range) {
            self.each_chunk(&bucket, trace_id, &mut |key, entries| {
                for entry in entries {
                    out.push(self.decode_span(&bucket, key, trace_id, entry)?);
                }
                Ok(ControlFlow::Continue(()))
            })?;
        }
        out.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
        // A span appended twice (an exporter's retry) is in two chunks.
        out.dedup_by(|a, b| (a.start_time_unix_nano, a.span_id) == (b.start_time_unix_nano, b.span_id));
        Ok(out)
    }

    /// Calls `each` with the key and spans of every chunk of the trace in the bucket, in key order,
    /// until it breaks.
    fn each_chunk(&self, bucket: &Bucket, trace_id: &TraceId, each: &mut ChunkVisitor<'_>) -> Result<(), TraceError> {
        let Some(cf) = self.db.cf_handle(&bucket.spans_cf) else { return Ok(()) }; // dropped meanwhile
        let mut read = ReadOptions::default();
        read.set_prefix_same_as_start(true);
        if let Some(bound) = prefix_successor(trace_id) {
            read.set_iterate_upper_bound(bound);
        }
        let mut it = self.db.raw_iterator_cf_opt(&cf, read);
        it.seek(trace_id);
        while let Some((key, value)) = it.item() {
            if !key.starts_with(trace_id) {
                break;
            }
            let corrupt = |detail: String| TraceError::corrupt(bucket.date(), key, detail);
            let (_, first_start) = parse_chunk_key(key).ok_or_else(|| corrupt("chunk key is not 32 bytes".into()))?;
            let entries = codec::decode_chunk(value, first_start).map_err(|e| corrupt(e.0))?;
            if each(key, entries)?.is_break() {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(self.rocks_error(format!("reading a trace in {}", bucket.spans_cf)))
    }

    /// A reader of single spans of the bucket (`None` when the bucket was dropped meanwhile).
    pub fn span_reader<'a>(&'a self, bucket: &'a Bucket) -> Option<SpanReader<'a>> {
        let cf = self.db.cf_handle(&bucket.spans_cf)?;
        let mut read = ReadOptions::default();
        read.set_prefix_same_as_start(true);
        let it = self.db.raw_iterator_cf_opt(&cf, read);
        Some(SpanReader { inner: self, bucket, _cf: cf, it })
    }

    /// Decodes one span of a chunk, resolving its resource and scope.
    fn decode_span(
        &self,
        bucket: &Bucket,
        key: &[u8],
        trace_id: &TraceId,
        entry: ChunkEntry<'_>,
    ) -> Result<Span, TraceError> {
        let corrupt = |detail: String| TraceError::corrupt(bucket.date(), key, detail);
        let (resource_ref, scope_ref) = codec::span_references(entry.body).map_err(|e| corrupt(e.0))?;
        let resource = self.resource(bucket, resource_ref)?;
        let scope = self.scope(bucket, scope_ref)?;
        codec::decode_span(entry.body, *trace_id, entry.start, entry.span_id, resource, scope).map_err(|e| corrupt(e.0))
    }

    fn resource(&self, bucket: &Bucket, hash: u64) -> Result<Arc<Resource>, TraceError> {
        if let Some(r) = lock(&bucket.references).cached_resource(hash) {
            return Ok(r);
        }
        let key = reference_key(RESOURCE, hash);
        let bytes = self.reference(bucket, &key)?;
        let resource =
            Arc::new(codec::decode_resource(&bytes).map_err(|e| TraceError::corrupt(bucket.date(), &key, e.0))?);
        lock(&bucket.references).cache_resource(hash, resource.clone());
        Ok(resource)
    }

    fn scope(&self, bucket: &Bucket, hash: u64) -> Result<Arc<Scope>, TraceError> {
        if let Some(s) = lock(&bucket.references).cached_scope(hash) {
            return Ok(s);
        }
        let key = reference_key(SCOPE, hash);
        let bytes = self.reference(bucket, &key)?;
        let scope = Arc::new(codec::decode_scope(&bytes).map_err(|e| TraceError::corrupt(bucket.date(), &key, e.0))?);
        lock(&bucket.references).cache_scope(hash, scope.clone());
        Ok(scope)
    }

    fn reference(&self, bucket: &Bucket, key: &[u8]) -> Result<Vec<u8>, TraceError> {
        let cf = self
            .db
            .cf_handle(&bucket.index_cf)
            .ok_or_else(|| TraceError::corrupt(bucket.date(), key, "bucket dropped while reading"))?;
        self.db.get_cf(&cf, key).map_err(self.rocks_error(format!("reading {}", bucket.index_cf)))?.ok_or_else(|| {
            TraceError::corrupt(bucket.date(), key, "a span refers to a resource or scope that is missing")
        })
    }

    fn enforce_retention(&self, now: i64) -> Result<Vec<i64>, TraceError> {
        let Some(first_kept) = self.first_kept_day(now) else { return Ok(Vec::new()) };
        let _pass = lock(&self.retention);
        let mut dropped = Vec::new();
        let doomed: Vec<u32> = {
            let buckets = self.buckets.read().unwrap_or_else(|p| p.into_inner());
            buckets.keys().copied().filter(|d| i64::from(*d) < first_kept).collect()
        };
        for day in doomed {
            let mut buckets = self.buckets.write().unwrap_or_else(|p| p.into_inner());
            let Some(bucket) = buckets.remove(&day) else { continue };
            // Spans first: a crash in between leaves an index family without spans, which open drops.
            for name in [&bucket.spans_cf, &bucket.index_cf] {
                self.db.drop_cf(name).map_err(self.rocks_error(format!("dropping {name}")))?;
            }
            tracing::info!(bucket = %bucket.date(), spans = bucket.catalogue.read().map(|c| c.spans).unwrap_or(0), "dropped trace bucket past retention");
            dropped.push(day_start(day));
        }
        Ok(dropped)
    }

    fn flush(&self) -> Result<(), TraceError> {
        let buckets: Vec<Arc<Bucket>> = self.buckets_overlapping(&TimeRange::ALL);
        for bucket in &buckets {
            for name in [&bucket.spans_cf, &bucket.index_cf] {
                if let Some(cf) = self.db.cf_handle(name) {
                    self.db.flush_cf(&cf).map_err(self.rocks_error(format!("flushing {name}")))?;
                }
            }
        }
        self.db.flush_wal(true).map_err(self.rocks_error("syncing the WAL"))
    }

    fn column_families(&self) -> Vec<String> {
        let mut names = vec!["default".to_owned()];
        for bucket in self.buckets_overlapping(&TimeRange::ALL) {
            names.push(bucket.spans_cf.clone());
            names.push(bucket.index_cf.clone());
        }
        names
    }

    fn stats(&self) -> TraceStoreStats {
        let buckets = self.buckets_overlapping(&TimeRange::ALL);
        let mut stats = TraceStoreStats {
            buckets: buckets.len(),
            spans: buckets.iter().map(|b| b.catalogue.read().map(|c| c.spans).unwrap_or(0)).sum(),
            spans_dropped_past_retention: self.dropped_past_retention.load(Ordering::Relaxed),
            ..TraceStoreStats::default()
        };
        for name in self.column_families() {
            if let Some(cf) = self.db.cf_handle(&name) {
                let bytes =
                    self.db.property_int_value_cf(&cf, "rocksdb.live-sst-files-size").ok().flatten().unwrap_or(0);
                stats.sst_bytes += bytes;
                if name.starts_with(INDEX_CF_PREFIX) {
                    stats.index_sst_bytes += bytes;
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().ends_with(".log") {
                    stats.wal_bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
        }
        stats
    }

    fn wait_for_compactions(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let busy = self.column_families().iter().any(|name| {
                let Some(cf) = self.db.cf_handle(name) else { return false };
                let prop = |p: &str| self.db.property_int_value_cf(&cf, p).ok().flatten().unwrap_or(0);
                prop("rocksdb.compaction-pending") > 0
                    || prop("rocksdb.mem-table-flush-pending") > 0
                    || prop("rocksdb.num-running-compactions") > 0
                    || prop("rocksdb.num-running-flushes") > 0
            });
            if !busy {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn maintenance(&self) {
        let interval = self.options.maintenance_interval;
        loop {
            {
                let deadline = Instant::now() + interval;
                let mut stop = lock(&self.stop);
                while !*stop && Instant::now() < deadline {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    stop = self.wake.wait_timeout(stop, wait).unwrap_or_else(|p| p.into_inner()).0;
                }
                if *stop {
                    return;
                }
            }
            if let Err(e) = self.enforce_retention(now_nanos()) {
                tracing::error!(error = %e, "trace retention failed");
            }
        }
    }
}

/// The first posting group id of this open: 32 bits that differ between opens (the time and
/// process id, hashed) above a zero counter.
fn group_id_base() -> u64 {
    content_hash(format!("{}/{}", now_nanos(), std::process::id()).as_bytes()) << 32
}

/// Finds spans of one bucket by trace id, start and span id, as a search does for every
/// candidate, re-seeking one RocksDB iterator (creating one per span costs more than the seek).
pub(super) struct SpanReader<'a> {
    inner: &'a Inner,
    bucket: &'a Bucket,
    _cf: Arc<BoundColumnFamily<'a>>,
    it: DBRawIteratorWithThreadMode<'a, Db>,
}

impl SpanReader<'_> {
    /// The span and the size of its encoding; `None` when no chunk holds it.
    pub fn find(
        &mut self,
        trace_id: &TraceId,
        start: u64,
        span_id: &SpanId,
    ) -> Result<Option<(Span, usize)>, TraceError> {
        let bucket = self.bucket;
        self.it.seek(trace_id);
        while let Some((key, value)) = self.it.item() {
            if !key.starts_with(trace_id) {
                break;
            }
            let corrupt = |detail: String| TraceError::corrupt(bucket.date(), key, detail);
            let (_, first_start) = parse_chunk_key(key).ok_or_else(|| corrupt("chunk key is not 32 bytes".into()))?;
            if first_start > start {
                break; // chunks are in order of first start
            }
            let entries = codec::decode_chunk(value, first_start).map_err(|e| corrupt(e.0))?;
            if let Some(entry) = entries.into_iter().find(|e| e.start == start && e.span_id == *span_id) {
                let span = self.inner.decode_span(bucket, key, trace_id, entry)?;
                return Ok(Some((span, entry.body.len())));
            }
            self.it.next();
        }
        self.it.status().map_err(self.inner.rocks_error(format!("reading {}", bucket.spans_cf)))?;
        Ok(None)
    }
}

fn decode_indexed_keys(bytes: &[u8]) -> Result<IndexedKeys, codec::DecodeError> {
    let mut r = Reader::new(bytes);
    if r.u8()? != FORMAT_VERSION {
        return Err(codec::DecodeError("unknown format version".into()));
    }
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.string()?);
    }
    if !r.is_empty() {
        return Err(codec::DecodeError("trailing bytes".into()));
    }
    Ok(IndexedKeys::new(out))
}

// Pharos — storage/src/traces/store.rs
