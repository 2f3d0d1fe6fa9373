//! The head: every series written since the last block, in memory.
//!
//! Labels are interned: a series holds `(name id, value id)` pairs into one symbol table, so a
//! series costs a few dozen bytes plus its chunks. Samples are kept in XOR chunks of
//! [`SAMPLES_PER_CHUNK`]; samples older than the newest one but within the out-of-order window go to
//! a small sorted side buffer that reads merge back in. An inverted index maps each label pair to
//! the sorted references of the series carrying it.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::chunk::{XorChunk, decode_into};
use super::head_chunks::{ChunkRef, HeadChunks};
use super::matcher::Matcher;
use super::postings::{self, LabelIndex};
use super::model::{Label, Labels, Sample};

/// The one timestamp no sample may have: it marks "no sample yet" in a series.
const NO_SAMPLE: i64 = i64::MIN;

/// Samples per head chunk before it is closed and a new one begun (as Prometheus).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Why one sample was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    #[error("out of order sample: timestamp {t} is older than the newest sample {newest} minus the out-of-order window")]
    OutOfOrder { t: i64, newest: i64 },
    #[error("duplicate sample for timestamp {t} with a different value")]
    DuplicateTimestamp { t: i64 },
    #[error("out of bounds: timestamp {t} is older than {min_valid}, the start of the in-memory head (older data is in immutable blocks)")]
    OutOfBounds { t: i64, min_valid: i64 },
    #[error("sample at {t} refused: the series' open head chunk is full and cannot be written to disk")]
    HeadChunkFull { t: i64 },
}

/// The outcome of appending one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    Stored,
    /// The same timestamp and value (bit for bit) is already stored: dropped silently.
    Duplicate,
}

/// A full chunk in a head chunk file: 24 bytes in memory.
struct ClosedChunk {
    min_t: i64,
    at: ChunkRef,
    /// `max_t - min_t`, rounded up to whole seconds (so [`ClosedChunk::max_t`] never undershoots).
    span_s: u32,
}

impl ClosedChunk {
    fn new(min_t: i64, max_t: i64, at: ChunkRef) -> Self {
        let span_ms = max_t.saturating_sub(min_t).clamp(0, i64::MAX - 999);
        ClosedChunk { min_t, at, span_s: u32::try_from((span_ms + 999) / 1000).unwrap_or(u32::MAX) }
    }

    /// An upper bound of the newest timestamp in the chunk (exact to the second).
    fn max_t(&self) -> i64 {
        self.min_t.saturating_add(i64::from(self.span_s) * 1000)
    }
}

/// Where full chunks go; with `None` (unit tests) or when a write fails, the open chunk simply
/// keeps growing in memory up to the XOR format's limit.
pub(crate) type Spill<'a> = Option<&'a HeadChunks>;

struct SeriesData {
    chunks: Vec<ClosedChunk>,
    open: XorChunk,
    /// Newest in-order sample's timestamp ([`NO_SAMPLE`] before the first) and value bits. Kept
    /// as two plain fields rather than an `Option`: it keeps a series within a smaller allocation.
    last_t: i64,
    last_bits: u64,
    /// Out-of-order samples, sorted by timestamp, unique; boxed because almost always absent.
    ooo: Option<Box<Vec<Sample>>>,
}

impl SeriesData {
    fn new() -> Self {
        SeriesData { chunks: Vec::new(), open: XorChunk::new(), last_t: NO_SAMPLE, last_bits: 0, ooo: None }
    }

    /// The newest in-order sample, if any.
    fn last(&self) -> Option<(i64, u64)> {
        (self.last_t != NO_SAMPLE).then_some((self.last_t, self.last_bits))
    }

    fn ooo(&self) -> &[Sample] {
        self.ooo.as_deref().map_or(&[], Vec::as_slice)
    }

    fn append(&mut self, t: i64, v: f64, ooo_window: i64, spill: Spill) -> Result<Appended, SampleError> {
        let bits = v.to_bits();
        match self.last() {
            None => {
                self.push_in_order(t, v, spill)?;
                Ok(Appended::Stored)
            }
            Some((last_t, _)) if t > last_t => {
                self.push_in_order(t, v, spill)?;
                Ok(Appended::Stored)
            }
            Some((last_t, last_bits)) if t == last_t => {
                if bits == last_bits { Ok(Appended::Duplicate) } else { Err(SampleError::DuplicateTimestamp { t }) }
            }
            Some((last_t, _)) => {
                if t < last_t.saturating_sub(ooo_window) || ooo_window <= 0 {
                    return Err(SampleError::OutOfOrder { t, newest: last_t });
                }
                if let Some(existing) = self.stored_at(t, spill) {
                    return if existing == bits { Ok(Appended::Duplicate) } else { Err(SampleError::DuplicateTimestamp { t }) };
                }
                let late = self.ooo.get_or_insert_with(Box::default);
                let at = late.partition_point(|s| s.t < t);
                late.insert(at, Sample { t, v });
                Ok(Appended::Stored)
            }
        }
    }

    fn push_in_order(&mut self, t: i64, v: f64, spill: Spill) -> Result<(), SampleError> {
        if self.open.len() >= SAMPLES_PER_CHUNK {
            let (min_t, max_t) = (self.open.first_t().unwrap_or(t), self.open.last_t().unwrap_or(t));
            match spill.map(|chunks| chunks.write(self.open.bytes(), max_t)) {
                Some(Ok(at)) => {
                    // Exact growth: a series holds a handful of chunk references, and doubling
                    // would leave as many slots unused.
                    self.chunks.reserve_exact(1);
                    self.chunks.push(ClosedChunk::new(min_t, max_t, at));
                    self.open = XorChunk::new();
                }
                Some(Err(e)) => tracing::warn!(error = %e, "cannot write a head chunk file; the open chunk keeps growing in memory"),
                None => {}
            }
        }
        self.open.try_append(t, v).map_err(|_| SampleError::HeadChunkFull { t })?;
        self.last_t = t;
        self.last_bits = v.to_bits();
        Ok(())
    }

    /// The value bits stored at exactly `t`, if any (searches chunks and the out-of-order buffer).
    fn stored_at(&self, t: i64, spill: Spill) -> Option<u64> {
        if let Ok(i) = self.ooo().binary_search_by(|s| s.t.cmp(&t)) {
            return Some(self.ooo()[i].v.to_bits());
        }
        let mut decoded = Vec::new();
        self.decode_chunks(spill, t, t, &mut decoded);
        decoded.binary_search_by(|s| s.t.cmp(&t)).ok().map(|i| decoded[i].v.to_bits())
    }

    /// Decode every chunk (closed and open) overlapping `[mint, maxt]` into `out`, in time order.
    fn decode_chunks(&self, spill: Spill, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        for chunk in self.chunks.iter().filter(|c| c.max_t() >= mint && c.min_t <= maxt) {
            let decoded = match spill.map(|chunks| chunks.read(chunk.at)) {
                Some(Ok(bytes)) => decode_into(&bytes, out).map_err(|e| e.to_string()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("no head chunk directory".to_string()),
            };
            if let Err(e) = decoded {
                // The WAL still has these samples; a restart rebuilds the chunk.
                tracing::error!(error = %e, "head chunk unreadable; its samples are left out of this read");
            }
        }
        if let (Some(first), Some(last)) = (self.open.first_t(), self.open.last_t()) {
            if last >= mint && first <= maxt {
                if let Err(e) = decode_into(self.open.bytes(), out) {
                    tracing::error!(error = %e, "open head chunk failed to decode");
                }
            }
        }
    }

    fn min_max(&self) -> Option<(i64, i64)> {
        let (in_min, in_max) = match (self.chunks.first(), self.last()) {
            (Some(first), Some((last_t, _))) => (first.min_t, last_t),
            (None, Some((last_t, _))) => (self.open.first_t().unwrap_or(last_t), last_t),
            _ => return None,
        };
        let min = self.ooo().first().map_or(in_min, |s| s.t.min(in_min));
        Some((min, in_max))
    }

    /// Samples with `mint <= t <= maxt`, sorted, appended to `out`.
    fn samples(&self, spill: Spill, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let start = out.len();
        self.decode_chunks(spill, mint, maxt, out);
        let mut keep = start;
        for j in start..out.len() {
            if out[j].t >= mint && out[j].t <= maxt {
                out[keep] = out[j];
                keep += 1;
            }
        }
        out.truncate(keep);
        let late: Vec<Sample> = self.ooo().iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
        if !late.is_empty() {
            let in_order = out.split_off(start);
            let (mut i, mut j) = (0, 0);
            while i < in_order.len() || j < late.len() {
                if j >= late.len() || (i < in_order.len() && in_order[i].t <= late[j].t) {
                    out.push(in_order[i]);
                    i += 1;
                } else {
                    out.push(late[j]);
                    j += 1;
                }
            }
        }
    }

    /// Forget samples older than `cut` at chunk granularity (a chunk straddling `cut` stays and
    /// reads filter it); true while anything newer remains.
    fn truncate(&mut self, cut: i64) -> bool {
        self.chunks.retain(|c| c.max_t() >= cut);
        self.chunks.shrink_to_fit();
        if let Some(late) = &mut self.ooo {
            late.retain(|s| s.t >= cut);
            if late.is_empty() {
                self.ooo = None;
            }
        }
        let open_alive = self.open.len() > 0 && self.last().is_some_and(|(t, _)| t >= cut);
        !self.chunks.is_empty() || self.ooo.is_some() || open_alive
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.chunks.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.open.bytes().len()
            + self.ooo.as_ref().map_or(0, |late| 24 + late.capacity() * std::mem::size_of::<Sample>())
    }
}

/// One series in the head.
pub(crate) struct MemSeries {
    pairs: Box<[(u32, u32)]>,
    data: Mutex<SeriesData>,
}

impl MemSeries {
    pub(crate) fn append(&self, t: i64, v: f64, ooo_window: i64, spill: Spill) -> Result<Appended, SampleError> {
        self.data.lock().expect("series lock").append(t, v, ooo_window, spill)
    }

    pub(crate) fn samples(&self, spill: Spill, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        self.data.lock().expect("series lock").samples(spill, mint, maxt, out);
    }

    pub(crate) fn min_max(&self) -> Option<(i64, i64)> {
        self.data.lock().expect("series lock").min_max()
    }

    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.data.lock().expect("series lock").min_max().is_some_and(|(lo, hi)| lo <= maxt && hi >= mint)
    }
}

#[derive(Default)]
struct Symbols {
    ids: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Symbols {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        let s: Arc<str> = Arc::from(s);
        self.strings.push(s.clone());
        self.ids.insert(s, id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
}

#[derive(Default)]
struct HeadIndex {
    symbols: Symbols,
    /// Label-set hash → the series with it; the rare second series of a hash goes to `collisions`.
    by_hash: HashMap<u64, u32>,
    collisions: HashMap<u64, Vec<u32>>,
    series: Vec<Option<Arc<MemSeries>>>,
    /// (name id, value id) → series refs, ascending.
    postings: HashMap<(u32, u32), Vec<u32>>,
    /// name id → value ids seen with it.
    values: HashMap<u32, Vec<u32>>,
}

impl HeadIndex {
    fn find(&self, hash: u64, labels: &Labels) -> Option<u32> {
        let first = self.by_hash.get(&hash)?;
        let others = self.collisions.get(&hash).map(Vec::as_slice).unwrap_or(&[]);
        std::iter::once(first).chain(others).copied().find(|r| {
            self.series[*r as usize].as_ref().is_some_and(|s| {
                s.pairs.len() == labels.len()
                    && s.pairs.iter().zip(labels.iter()).all(|(&(n, v), l)| {
                        self.symbols.get(n) == l.name && self.symbols.get(v) == l.value
                    })
            })
        })
    }

    fn insert(&mut self, series_ref: u32, hash: u64, labels: &Labels) -> Arc<MemSeries> {
        let pairs: Box<[(u32, u32)]> =
            labels.iter().map(|l| (self.symbols.intern(&l.name), self.symbols.intern(&l.value))).collect();
        for &(n, v) in pairs.iter() {
            let list = self.postings.entry((n, v)).or_default();
            if list.is_empty() {
                self.values.entry(n).or_default().push(v);
            }
            // Refs are allocated ascending, so pushing keeps the list sorted (replay may revisit).
            match list.last() {
                Some(&last) if last >= series_ref => {
                    if let Err(at) = list.binary_search(&series_ref) {
                        list.insert(at, series_ref);
                    }
                }
                _ => list.push(series_ref),
            }
        }
        let series = Arc::new(MemSeries { pairs, data: Mutex::new(SeriesData::new()) });
        let slot = series_ref as usize;
        if self.series.len() <= slot {
            self.series.resize(slot + 1, None);
        }
        self.series[slot] = Some(series.clone());
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(series_ref);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collisions.entry(hash).or_default().push(series_ref),
        }
        series
    }

    fn remove(&mut self, series_ref: u32) {
        let Some(Some(series)) = self.series.get(series_ref as usize) else { return };
        let hash = hash_labels(&self.labels_of(series));
        self.remove_hashed(series_ref, hash);
    }

    fn remove_hashed(&mut self, series_ref: u32, hash: u64) {
        let Some(series) = self.series.get_mut(series_ref as usize).and_then(Option::take) else { return };
        if let Some(others) = self.collisions.get_mut(&hash) {
            others.retain(|r| *r != series_ref);
            if self.by_hash.get(&hash) == Some(&series_ref) {
                // Promote a colliding series to the main table.
                match others.pop() {
                    Some(next) => {
                        self.by_hash.insert(hash, next);
                    }
                    None => {
                        self.by_hash.remove(&hash);
                    }
                }
            }
            if others.is_empty() {
                self.collisions.remove(&hash);
            }
        } else if self.by_hash.get(&hash) == Some(&series_ref) {
            self.by_hash.remove(&hash);
        }
        for &(n, v) in series.pairs.iter() {
            if let Some(list) = self.postings.get_mut(&(n, v)) {
                if let Ok(at) = list.binary_search(&series_ref) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.postings.remove(&(n, v));
                    if let Some(values) = self.values.get_mut(&n) {
                        values.retain(|x| *x != v);
                    }
                }
            }
        }
    }

    fn labels_of(&self, series: &MemSeries) -> Labels {
        Labels::from_sorted_unchecked(
            series.pairs.iter().map(|&(n, v)| Label::new(self.symbols.get(n), self.symbols.get(v))).collect(),
        )
    }

}

impl LabelIndex for HeadIndex {
    fn symbol_id(&self, s: &str) -> Option<u32> {
        self.symbols.lookup(s)
    }

    fn symbol(&self, id: u32) -> &str {
        self.symbols.get(id)
    }

    fn values_of(&self, name: u32) -> &[u32] {
        self.values.get(&name).map_or(&[], Vec::as_slice)
    }

    fn postings(&self, name: u32, value: u32) -> &[u32] {
        self.postings.get(&(name, value)).map_or(&[], Vec::as_slice)
    }

    fn all_series(&self) -> Vec<u32> {
        self.series.iter().enumerate().filter(|(_, s)| s.is_some()).map(|(i, _)| i as u32).collect()
    }
}

fn hash_labels(labels: &Labels) -> u64 {
    let mut h = DefaultHasher::new();
    for Label { name, value } in labels.iter() {
        name.hash(&mut h);
        value.hash(&mut h);
    }
    h.finish()
}

/// All series in memory.
pub(crate) struct Head {
    index: RwLock<HeadIndex>,
    /// Samples older than this belong to blocks: appends below it are refused, reads filter it.
    min_valid_t: AtomicI64,
    /// Appends below this are refused; raised before a cut collects the head, so nothing lands
    /// below the cut while the block is written.
    append_floor: AtomicI64,
    /// Closed chunks on disk; `None` keeps them in memory.
    chunks: Option<HeadChunks>,
}

impl Default for Head {
    fn default() -> Self {
        Head::new(None)
    }
}

impl Head {
    pub(crate) fn new(chunks: Option<HeadChunks>) -> Self {
        Head {
            index: RwLock::default(),
            min_valid_t: AtomicI64::new(i64::MIN),
            append_floor: AtomicI64::new(i64::MIN),
            chunks,
        }
    }

    /// Samples of one series in `[mint, maxt]` (and not before the head start), appended to `out`.
    pub(crate) fn samples(&self, series: &MemSeries, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        series.samples(self.chunks.as_ref(), mint.max(self.min_valid_t()), maxt, out);
    }

    pub(crate) fn min_valid_t(&self) -> i64 {
        self.min_valid_t.load(Ordering::Acquire)
    }

    /// Append one sample to a series, refusing what is older than the head.
    pub(crate) fn append(&self, series: &MemSeries, t: i64, v: f64, ooo_window: i64) -> Result<Appended, SampleError> {
        let min_valid = self.min_valid_t().max(self.append_floor.load(Ordering::Acquire)).max(NO_SAMPLE + 1);
        if t < min_valid {
            return Err(SampleError::OutOfBounds { t, min_valid });
        }
        series.append(t, v, ooo_window, self.chunks.as_ref())
    }

    /// Oldest and newest sample over every series.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let index = self.index.read().expect("head index lock");
        let floor = self.min_valid_t();
        index.series.iter().flatten().filter_map(|s| s.min_max()).fold(None, |acc, (lo, hi)| {
            let lo = lo.max(floor);
            Some(acc.map_or((lo, hi), |(a, b): (i64, i64)| (a.min(lo), b.max(hi))))
        })
    }

    /// Refuse appends older than `t` from now on (reads are unchanged until [`Head::truncate`]).
    pub(crate) fn raise_append_floor(&self, t: i64) {
        self.append_floor.fetch_max(t, Ordering::AcqRel);
    }

    /// References of every series in the head, ascending.
    pub(crate) fn series_refs(&self) -> Vec<u32> {
        self.index.read().expect("head index lock").all_series()
    }

    /// These series (those still present) with their labels and every sample of the head.
    pub(crate) fn collect_refs(&self, refs: &[u32]) -> Vec<(u32, Labels, Vec<Sample>)> {
        let picked: Vec<(u32, Labels, Arc<MemSeries>)> = {
            let index = self.index.read().expect("head index lock");
            refs.iter()
                .filter_map(|&r| index.series.get(r as usize)?.as_ref().map(|s| (r, index.labels_of(s), s.clone())))
                .collect()
        };
        picked
            .into_iter()
            .map(|(r, labels, series)| {
                let mut samples = Vec::new();
                self.samples(&series, i64::MIN, i64::MAX, &mut samples);
                (r, labels, samples)
            })
            .collect()
    }

    /// Every series with its samples in `[mint, maxt]`, sorted by labels (for blocks and
    /// checkpoints), with its reference.
    pub(crate) fn collect(&self, mint: i64, maxt: i64) -> Vec<(u32, Labels, Vec<Sample>)> {
        let mint = mint.max(self.min_valid_t());
        let index = self.index.read().expect("head index lock");
        let mut all: Vec<(u32, Labels, Arc<MemSeries>)> = index
            .series
            .iter()
            .enumerate()
            .filter_map(|(r, s)| s.as_ref().map(|s| (r as u32, index.labels_of(s), s.clone())))
            .collect();
        drop(index);
        all.sort_by(|a, b| a.1.cmp(&b.1));
        all.into_iter()
            .filter_map(|(r, labels, series)| {
                let mut samples = Vec::new();
                series.samples(self.chunks.as_ref(), mint, maxt, &mut samples);
                (!samples.is_empty()).then_some((r, labels, samples))
            })
            .collect()
    }

    /// Move the head's start to `cut`: drop what is older and the series left without samples.
    /// Returns how many series were removed.
    pub(crate) fn truncate(&self, cut: i64) -> usize {
        self.min_valid_t.fetch_max(cut, Ordering::AcqRel);
        let mut index = self.index.write().expect("head index lock");
        let dead: Vec<u32> = index
            .series
            .iter()
            .enumerate()
            .filter_map(|(r, s)| s.as_ref().filter(|s| !s.data.lock().expect("series lock").truncate(cut)).map(|_| r as u32))
            .collect();
        for &r in &dead {
            index.remove(r);
        }
        drop(index);
        if let Some(chunks) = &self.chunks {
            chunks.truncate_before(cut);
        }
        dead.len()
    }

    /// The series with these labels, created if new; `true` when created.
    pub(crate) fn get_or_create(&self, labels: &Labels) -> (u32, Arc<MemSeries>, bool) {
        let hash = hash_labels(labels);
        {
            let index = self.index.read().expect("head index lock");
            if let Some(r) = index.find(hash, labels) {
                return (r, index.series[r as usize].clone().expect("indexed series exists"), false);
            }
        }
        let mut index = self.index.write().expect("head index lock");
        if let Some(r) = index.find(hash, labels) {
            return (r, index.series[r as usize].clone().expect("indexed series exists"), false);
        }
        let r = index.series.len() as u32;
        let series = index.insert(r, hash, labels);
        (r, series, true)
    }

    /// Recreate a series under the reference the WAL gave it.
    pub(crate) fn restore(&self, series_ref: u32, labels: &Labels) {
        let hash = hash_labels(labels);
        let mut index = self.index.write().expect("head index lock");
        if index.series.get(series_ref as usize).is_some_and(Option::is_some) {
            return;
        }
        index.insert(series_ref, hash, labels);
    }

    pub(crate) fn series(&self, series_ref: u32) -> Option<Arc<MemSeries>> {
        self.index.read().expect("head index lock").series.get(series_ref as usize).cloned().flatten()
    }

    /// Matching series with their labels, in label order.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Vec<(Labels, Arc<MemSeries>)> {
        let index = self.index.read().expect("head index lock");
        let mut found: Vec<(Labels, Arc<MemSeries>)> = postings::select(&*index, matchers)
            .into_iter()
            .filter_map(|r| index.series[r as usize].as_ref().map(|s| (index.labels_of(s), s.clone())))
            .collect();
        drop(index);
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    pub(crate) fn series_count(&self) -> usize {
        self.index.read().expect("head index lock").series.iter().filter(|s| s.is_some()).count()
    }

    /// Bytes held by series data, symbols and index (an estimate for the RSS-per-series figure).
    pub(crate) fn memory_bytes(&self) -> usize {
        let index = self.index.read().expect("head index lock");
        let series: usize = index
            .series
            .iter()
            .flatten()
            .map(|s| std::mem::size_of::<MemSeries>() + s.pairs.len() * 8 + s.data.lock().expect("series lock").memory_bytes())
            .sum();
        let symbols: usize = index.symbols.strings.iter().map(|s| s.len() + 48).sum();
        let postings: usize = index.postings.values().map(|l| l.capacity() * 4 + 48).sum();
        let lookup = index.by_hash.capacity() * 16 + index.series.capacity() * 8;
        series + symbols + postings + lookup
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::matcher::MatchOp;
    use crate::tsdb::model::STALE_NAN_BITS;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn all(series: &MemSeries) -> Vec<Sample> {
        let mut out = Vec::new();
        series.samples(None, i64::MIN, i64::MAX, &mut out);
        out
    }

    #[test]
    fn in_order_samples_span_chunks_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let head = Head::new(Some(HeadChunks::open(tmp.path()).unwrap()));
        let (_, s, created) = head.get_or_create(&l(&[("__name__", "up")]));
        assert!(created);
        for i in 0..1000 {
            assert_eq!(head.append(&s, i * 15_000, i as f64, 0), Ok(Appended::Stored));
        }
        assert_eq!(s.data.lock().unwrap().chunks.len(), 8, "full chunks went to the chunk file");
        let mut samples = Vec::new();
        head.samples(&s, i64::MIN, i64::MAX, &mut samples);
        assert_eq!(samples.len(), 1000);
        assert!(samples.iter().enumerate().all(|(i, x)| x.t == i as i64 * 15_000 && x.v == i as f64));
        let mut window = Vec::new();
        head.samples(&s, 15_000 * 100, 15_000 * 130, &mut window);
        assert_eq!(window.len(), 31);
        assert!(!head.get_or_create(&l(&[("__name__", "up")])).2);
        // Without a chunk directory the open chunk keeps growing in memory.
        let (_, m, _) = head.get_or_create(&l(&[("__name__", "in_memory")]));
        for i in 0..300 {
            m.append(i, 1.0, 0, None).unwrap();
        }
        assert_eq!(all(&m).len(), 300);
        assert!(m.data.lock().unwrap().chunks.is_empty());
    }

    #[test]
    fn duplicates_out_of_order_and_stale_markers() {
        let head = Head::default();
        let (_, s, _) = head.get_or_create(&l(&[("__name__", "x")]));
        s.append(1000, 1.0, 60_000, None).unwrap();
        s.append(2000, f64::from_bits(STALE_NAN_BITS), 60_000, None).unwrap();
        assert_eq!(s.append(2000, f64::from_bits(STALE_NAN_BITS), 60_000, None), Ok(Appended::Duplicate));
        assert_eq!(s.append(2000, 5.0, 60_000, None), Err(SampleError::DuplicateTimestamp { t: 2000 }));
        assert_eq!(s.append(1500, 1.5, 60_000, None), Ok(Appended::Stored), "within the window");
        assert_eq!(s.append(1000, 1.0, 60_000, None), Ok(Appended::Duplicate));
        assert_eq!(s.append(1000, 9.0, 60_000, None), Err(SampleError::DuplicateTimestamp { t: 1000 }));
        assert!(matches!(s.append(500, 1.0, 0, None), Err(SampleError::OutOfOrder { .. })), "window 0 refuses");
        let got = all(&s);
        assert_eq!(got.iter().map(|x| x.t).collect::<Vec<_>>(), vec![1000, 1500, 2000]);
        assert_eq!(got[2].v.to_bits(), STALE_NAN_BITS);
        let (_, late, _) = head.get_or_create(&l(&[("__name__", "y")]));
        late.append(10 * 60_000, 1.0, 60_000, None).unwrap();
        assert!(matches!(late.append(0, 1.0, 60_000, None), Err(SampleError::OutOfOrder { .. })));
    }

    #[test]
    fn matchers_select_like_prometheus() {
        let head = Head::default();
        let mk = |p: &[(&str, &str)]| head.get_or_create(&l(p)).0;
        let a = mk(&[("__name__", "up"), ("job", "node"), ("instance", "a")]);
        let b = mk(&[("__name__", "up"), ("job", "prom"), ("instance", "b")]);
        let c = mk(&[("__name__", "up"), ("instance", "c")]);
        let d = mk(&[("__name__", "other"), ("job", "node")]);
        let refs = |ms: Vec<Matcher>| -> Vec<u32> {
            let index = head.index.read().unwrap();
            postings::select(&*index, &ms)
        };
        let re = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        assert_eq!(refs(vec![Matcher::equal("__name__", "up")]), vec![a, b, c]);
        assert_eq!(refs(vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "node")]), vec![a]);
        assert_eq!(refs(vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "")]), vec![c]);
        assert_eq!(refs(vec![Matcher::equal("__name__", "up"), re(MatchOp::NotEqual, "job", "node")]), vec![b, c]);
        assert_eq!(refs(vec![re(MatchOp::Regex, "job", "node|prom")]), vec![a, b, d]);
        assert_eq!(refs(vec![Matcher::equal("__name__", "up"), re(MatchOp::Regex, "job", ".*")]), vec![a, b, c]);
        assert_eq!(refs(vec![Matcher::equal("__name__", "up"), re(MatchOp::Regex, "job", ".+")]), vec![a, b]);
        assert_eq!(refs(vec![re(MatchOp::NotRegex, "job", "n.*"), Matcher::equal("__name__", "up")]), vec![b, c]);
        assert_eq!(refs(vec![Matcher::equal("nosuch", "x")]), Vec::<u32>::new());
        assert_eq!(refs(vec![re(MatchOp::NotEqual, "nosuch", "x")]), vec![a, b, c, d]);
        let selected = head.select(&[Matcher::equal("job", "node")]);
        assert_eq!(selected.len(), 2);
        assert!(selected[0].0 < selected[1].0, "sorted by labels");
    }

    #[test]
    fn truncate_drops_old_data_and_empty_series() {
        let head = Head::default();
        let (_, old, _) = head.get_or_create(&l(&[("__name__", "old")]));
        let (_, live, _) = head.get_or_create(&l(&[("__name__", "live")]));
        for i in 0..300 {
            head.append(&old, i * 1000, 1.0, 0).unwrap();
            head.append(&live, i * 1000, 2.0, 0).unwrap();
        }
        head.append(&live, 400_000, 3.0, 0).unwrap();
        assert_eq!(head.truncate(350_000), 1);
        assert!(head.select(&[Matcher::equal("__name__", "old")]).is_empty());
        assert_eq!(head.series_count(), 1);
        assert!(matches!(head.append(&live, 349_999, 1.0, i64::MAX), Err(SampleError::OutOfBounds { .. })));
        let kept = head.collect(i64::MIN, i64::MAX);
        assert_eq!(kept.len(), 1);
        assert!(kept[0].2.iter().all(|s| s.t >= 350_000), "reads start at the cut");
        assert_eq!(head.time_range(), Some((350_000, 400_000)));
        // The removed series can come back as a new one.
        assert!(head.get_or_create(&l(&[("__name__", "old")])).2);
    }

    /// Regression guard for the memory per series: a series (with its `Arc` counts) fits the
    /// allocator's 160-byte size class, a closed chunk reference is 24 bytes.
    #[test]
    fn series_structures_stay_small() {
        assert!(std::mem::size_of::<MemSeries>() + 16 <= 160, "MemSeries is {} bytes", std::mem::size_of::<MemSeries>());
        assert_eq!(std::mem::size_of::<ClosedChunk>(), 24);
    }

    #[test]
    fn colliding_label_hashes_find_the_right_series() {
        let mut index = HeadIndex::default();
        let (a, b, c) = (l(&[("__name__", "a")]), l(&[("__name__", "b")]), l(&[("__name__", "c")]));
        index.insert(0, 42, &a);
        index.insert(1, 42, &b);
        index.insert(2, 42, &c);
        assert_eq!((index.find(42, &a), index.find(42, &b), index.find(42, &c)), (Some(0), Some(1), Some(2)));
        index.remove_hashed(0, 42);
        assert_eq!((index.find(42, &a), index.find(42, &b), index.find(42, &c)), (None, Some(1), Some(2)));
        index.remove_hashed(2, 42);
        index.remove_hashed(1, 42);
        assert!(index.by_hash.is_empty() && index.collisions.is_empty());
    }

    #[test]
    fn restore_keeps_wal_references() {
        let head = Head::default();
        head.restore(5, &l(&[("__name__", "a")]));
        head.restore(2, &l(&[("__name__", "b")]));
        assert!(head.series(5).is_some() && head.series(2).is_some() && head.series(3).is_none());
        let (r, _, created) = head.get_or_create(&l(&[("__name__", "a")]));
        assert_eq!((r, created), (5, false));
        let (r, _, created) = head.get_or_create(&l(&[("__name__", "c")]));
        assert_eq!((r, created), (6, true));
    }
}

// Pharos — storage/src/tsdb/head.rs
