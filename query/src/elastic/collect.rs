//! Collection over one partition: the top hits in sort order, the hit count and the
//! aggregations, in one pass ([`PassCollector`]), reading fast fields in blocks.
//!
//! Sort values are encoded into order-preserving integers per key ([`enc_key`]), so candidates
//! compare as arrays; string keys compare by term ordinal inside a segment and by text across
//! segments ([`global_cmp`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::aggregation::DistributedAggregationCollector;
use tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, DynamicColumn, StrColumn};
use tantivy::query::{EnableScoring, Query, Weight};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocSet, Searcher, TERMINATED};
use tantivy::{DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

use super::aggs::{FastAgg, FastFruit, FastSegment};
use super::error::EsError;
use super::search::{SortKey, SortTarget};
use super::time;

pub const MAX_SORT_KEYS: usize = 4;

/// A sort value as returned in `sort`.
#[derive(Debug, Clone, PartialEq)]
pub enum SortVal {
    Missing,
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
}

impl SortVal {
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            SortVal::Missing => Value::Null,
            SortVal::I64(v) => (*v).into(),
            SortVal::U64(v) => (*v).into(),
            SortVal::F64(v) => serde_json::Number::from_f64(*v).map(Value::Number).unwrap_or(Value::Null),
            SortVal::Str(s) => s.clone().into(),
        }
    }
}

/// Order-preserving encodings: ascending u64 for each value kind.
fn enc_i64(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

fn enc_f64(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// A key's encoded position: missing values sort last (or first with `missing: _first`)
/// whatever the direction.
pub fn enc_key(key: &SortKey, value: Option<u64>) -> u128 {
    match value {
        Some(v) => {
            let v = if key.desc { !v } else { v };
            (1u128 << 64) | u128::from(v)
        }
        None if key.missing_first => 0,
        None => 2u128 << 64,
    }
}

/// 64-bit FNV-1a over parts (each part followed by a separator).
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The `_doc` value of a document: below 2^51, so JavaScript clients read it exactly. `tag`
/// identifies the segment (see [`segment_tag`]).
pub fn doc_key(ts_nanos: i64, tag: u64, doc: DocId) -> u64 {
    let sub_ms_micros = (ts_nanos.rem_euclid(time::NANOS_PER_MILLI) / 1000) as u64;
    (sub_ms_micros << 41) | ((tag & 0x3ff) << 31) | u64::from(doc & 0x7fff_ffff)
}

/// Ten bits derived from the segment's id: stable while the segment lives, unlike its ordinal in
/// a searcher.
fn segment_tag(reader: &SegmentReader) -> u64 {
    fnv1a(&[reader.segment_id().uuid_string().as_bytes()]) % 1021
}

/// The tie-break applied after the user's keys: `_doc`, in the direction of a leading
/// `@timestamp` key (newest first within a millisecond when sorting newest first).
fn tiebreak(keys: &[SortKey]) -> SortKey {
    let desc = keys.first().is_some_and(|k| k.target == SortTarget::Timestamp && k.desc);
    SortKey { target: SortTarget::Doc, desc, missing_first: false, nanos: false }
}

/// The millisecond (or nanosecond) a time-sorted key compares at.
pub fn time_unit(key: &SortKey, nanos: i64) -> i64 {
    if key.nanos { nanos } else { nanos.div_euclid(time::NANOS_PER_MILLI) }
}

type Enc = [u128; MAX_SORT_KEYS + 1];

/// A candidate hit.
#[derive(Debug, Clone)]
pub struct Candidate {
    enc: Enc,
    pub vals: Vec<SortVal>,
    pub segment: SegmentOrdinal,
    pub doc: DocId,
    pub score: Score,
    pub ts: i64,
    /// Index of the partition (target) it comes from.
    pub partition: usize,
}

/// Global order: encoded keys, except string keys which compare by text; then `_doc`, then
/// partition.
pub fn global_cmp(keys: &[SortKey], a: &Candidate, b: &Candidate) -> Ordering {
    for (i, key) in keys.iter().enumerate() {
        let ord = if matches!((&a.vals[i], &b.vals[i]), (SortVal::Str(_), _) | (_, SortVal::Str(_))) {
            let rank = |v: &SortVal| match v {
                SortVal::Missing if key.missing_first => 0,
                SortVal::Missing => 3,
                SortVal::Str(_) => 2,
                _ => 1,
            };
            match (&a.vals[i], &b.vals[i]) {
                (SortVal::Str(x), SortVal::Str(y)) => {
                    if key.desc {
                        y.cmp(x)
                    } else {
                        x.cmp(y)
                    }
                }
                (x, y) => rank(x).cmp(&rank(y)),
            }
        } else {
            a.enc[i].cmp(&b.enc[i])
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let n = keys.len();
    a.enc[n].cmp(&b.enc[n]).then(a.partition.cmp(&b.partition))
}

/// A heap entry (segment-local order).
#[derive(Debug, Clone, Copy)]
struct Entry {
    enc: Enc,
    doc: DocId,
    score: Score,
    ts: i64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.enc == other.enc
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.enc.cmp(&other.enc)
    }
}

/// A fast-field column read for sorting.
enum SortColumn {
    Timestamp,
    Score,
    Doc,
    Num(NumColumn),
    Str(StrColumn),
    Absent,
}

enum NumColumn {
    I64(Column<i64>),
    U64(Column<u64>),
    F64(Column<f64>),
    Bool(Column<bool>),
    Date(Column<DateTime>),
}

impl NumColumn {
    fn get(&self, doc: DocId) -> Option<SortVal> {
        match self {
            NumColumn::I64(c) => c.first(doc).map(SortVal::I64),
            NumColumn::U64(c) => {
                c.first(doc).map(|v| if v <= i64::MAX as u64 { SortVal::I64(v as i64) } else { SortVal::U64(v) })
            }
            NumColumn::F64(c) => c.first(doc).map(SortVal::F64),
            NumColumn::Bool(c) => c.first(doc).map(|b| SortVal::I64(i64::from(b))),
            NumColumn::Date(c) => {
                c.first(doc).map(|d| SortVal::I64(d.into_timestamp_nanos().div_euclid(time::NANOS_PER_MILLI)))
            }
        }
    }
}

fn numeric_enc(v: &SortVal) -> Option<u64> {
    match v {
        SortVal::I64(x) => Some(enc_f64(*x as f64)),
        SortVal::U64(x) => Some(enc_f64(*x as f64)),
        SortVal::F64(x) => Some(enc_f64(*x)),
        _ => None,
    }
}

fn open_sort_column(reader: &SegmentReader, column: &str) -> tantivy::Result<SortColumn> {
    let mut string = None;
    for handle in reader.fast_fields().dynamic_column_handles(column)? {
        match handle.open()? {
            DynamicColumn::I64(c) => return Ok(SortColumn::Num(NumColumn::I64(c))),
            DynamicColumn::U64(c) => return Ok(SortColumn::Num(NumColumn::U64(c))),
            DynamicColumn::F64(c) => return Ok(SortColumn::Num(NumColumn::F64(c))),
            DynamicColumn::Bool(c) => return Ok(SortColumn::Num(NumColumn::Bool(c))),
            DynamicColumn::DateTime(c) => return Ok(SortColumn::Num(NumColumn::Date(c))),
            DynamicColumn::Str(c) => string = Some(c),
            _ => {}
        }
    }
    Ok(string.map(SortColumn::Str).unwrap_or(SortColumn::Absent))
}

/// Encodes `search_after` values for the sort keys.
pub fn encode_after(keys: &[SortKey], after: &[serde_json::Value]) -> Result<Vec<u128>, EsError> {
    use serde_json::Value;
    keys.iter()
        .zip(after)
        .map(|(key, v)| {
            let bad = || {
                EsError::IllegalArgument(format!(
                    "Failed to parse search_after value [{v}] for sort key {:?}",
                    key.target
                ))
            };
            let raw = match (&key.target, v) {
                (_, Value::Null) => None,
                (SortTarget::Timestamp, v) => {
                    let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).ok_or_else(bad)?;
                    Some(enc_i64(n))
                }
                (SortTarget::Doc, v) => {
                    Some(v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).ok_or_else(bad)?)
                }
                (SortTarget::Score | SortTarget::Field { .. }, Value::Number(n)) => {
                    Some(enc_f64(n.as_f64().ok_or_else(bad)?))
                }
                (SortTarget::Score | SortTarget::Field { .. }, Value::String(s)) => match s.parse::<f64>() {
                    Ok(f) => Some(enc_f64(f)),
                    Err(_) => {
                        return Err(EsError::IllegalArgument(
                            "search_after is not supported when sorting on a string field".into(),
                        ));
                    }
                },
                _ => return Err(bad()),
            };
            Ok(enc_key(key, raw))
        })
        .collect()
}

/// The newest (desc) or oldest (asc) `@timestamp` a `search_after` cursor still admits, in
/// nanoseconds: `Some(bound)` when the primary key is `@timestamp` and the cursor gives it.
pub fn after_time_bound(keys: &[SortKey], after: &[serde_json::Value]) -> Option<i64> {
    let key = keys.first().filter(|k| k.target == SortTarget::Timestamp)?;
    let v = after.first()?.as_i64()?;
    Some(match (key.nanos, key.desc) {
        (true, _) => v,
        (false, true) => v.saturating_mul(time::NANOS_PER_MILLI).saturating_add(time::NANOS_PER_MILLI - 1),
        (false, false) => v.saturating_mul(time::NANOS_PER_MILLI),
    })
}

/// Collects the top `limit` documents of a partition in sort order, after an optional cursor.
pub struct TopCollector {
    pub keys: Vec<SortKey>,
    pub limit: usize,
    /// Encoded `search_after` (user keys only).
    pub after: Option<Vec<u128>>,
}

pub struct TopSegment {
    keys: Vec<SortKey>,
    tiebreak: SortKey,
    limit: usize,
    after: Option<Vec<u128>>,
    segment: SegmentOrdinal,
    tag: u64,
    ts: Column<DateTime>,
    columns: Vec<SortColumn>,
    heap: BinaryHeap<Entry>,
    buf: Vec<Option<DateTime>>,
}

impl TopCollector {
    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<TopSegment> {
        let ts = reader.fast_fields().date("@timestamp")?;
        let mut columns = Vec::new();
        for key in &self.keys {
            columns.push(match &key.target {
                SortTarget::Timestamp => SortColumn::Timestamp,
                SortTarget::Score => SortColumn::Score,
                SortTarget::Doc => SortColumn::Doc,
                SortTarget::Field { column, .. } => open_sort_column(reader, column)?,
            });
        }
        Ok(TopSegment {
            keys: self.keys.clone(),
            tiebreak: tiebreak(&self.keys),
            limit: self.limit,
            after: self.after.clone(),
            segment,
            tag: segment_tag(reader),
            ts,
            columns,
            heap: BinaryHeap::with_capacity(self.limit.min(4096) + 1),
            buf: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.keys.iter().any(|k| k.target == SortTarget::Score)
    }

    fn merge(&self, fruits: Vec<Vec<Candidate>>) -> Vec<Candidate> {
        let mut all: Vec<Candidate> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| global_cmp(&self.keys, a, b));
        all.truncate(self.limit);
        all
    }
}

impl TopSegment {
    /// Encoded value of key `i` (None: missing).
    fn enc_raw(&self, i: usize, doc: DocId, score: Score, ts: i64) -> Option<u64> {
        match &self.columns[i] {
            SortColumn::Timestamp => Some(enc_i64(time_unit(&self.keys[i], ts))),
            SortColumn::Score => Some(enc_f64(f64::from(score))),
            SortColumn::Doc => Some(doc_key(ts, self.tag, doc)),
            SortColumn::Num(c) => c.get(doc).as_ref().and_then(numeric_enc),
            SortColumn::Str(c) => c.ords().first(doc),
            SortColumn::Absent => None,
        }
    }

    /// The returned sort value of key `i` (string keys: text looked up at harvest).
    fn value(&self, i: usize, doc: DocId, score: Score, ts: i64) -> SortVal {
        match &self.columns[i] {
            SortColumn::Timestamp => SortVal::I64(time_unit(&self.keys[i], ts)),
            SortColumn::Score => SortVal::F64(f64::from(score)),
            SortColumn::Doc => SortVal::U64(doc_key(ts, self.tag, doc)),
            SortColumn::Num(c) => c.get(doc).unwrap_or(SortVal::Missing),
            SortColumn::Str(c) => match c.ords().first(doc) {
                Some(ord) => {
                    let mut text = String::new();
                    match c.ord_to_str(ord, &mut text) {
                        Ok(true) => SortVal::Str(text),
                        _ => SortVal::Missing,
                    }
                }
                None => SortVal::Missing,
            },
            SortColumn::Absent => SortVal::Missing,
        }
    }

    #[inline]
    fn offer(&mut self, doc: DocId, score: Score, ts: i64) {
        let n = self.keys.len();
        let mut enc: Enc = [0; MAX_SORT_KEYS + 1];
        let full = self.heap.len() >= self.limit;
        let worst = if full { self.heap.peek().map(|e| e.enc) } else { None };
        // Keys one at a time, leaving as soon as the document sorts after the worst kept one.
        let mut decided = worst.is_none();
        for i in 0..=n {
            let key = if i < n { &self.keys[i] } else { &self.tiebreak };
            enc[i] = if i < n {
                enc_key(key, self.enc_raw(i, doc, score, ts))
            } else {
                enc_key(key, Some(doc_key(ts, self.tag, doc)))
            };
            if !decided && let Some(w) = &worst {
                match enc[i].cmp(&w[i]) {
                    Ordering::Greater => return,
                    Ordering::Less => decided = true,
                    Ordering::Equal if i == n => return,
                    Ordering::Equal => {}
                }
            }
        }
        if let Some(after) = &self.after
            && enc[..n] <= after[..]
        {
            return;
        }
        self.heap.push(Entry { enc, doc, score, ts });
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.limit == 0 {
            return;
        }
        let ts = self.ts.first(doc).map(DateTime::into_timestamp_nanos).unwrap_or(0);
        self.offer(doc, score, ts);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        if self.limit == 0 {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(docs.len(), None);
        self.ts.first_vals(docs, &mut buf);
        for (doc, ts) in docs.iter().zip(&buf) {
            self.offer(*doc, 0.0, ts.map(DateTime::into_timestamp_nanos).unwrap_or(0));
        }
        self.buf = buf;
    }

    fn harvest(mut self) -> Vec<Candidate> {
        let n = self.keys.len();
        std::mem::take(&mut self.heap)
            .into_sorted_vec()
            .into_iter()
            .map(|e| Candidate {
                enc: e.enc,
                vals: (0..n).map(|i| self.value(i, e.doc, e.score, e.ts)).collect(),
                segment: self.segment,
                doc: e.doc,
                score: e.score,
                ts: e.ts,
                partition: 0,
            })
            .collect()
    }
}

/// One pass over a partition: top hits, count, fast aggregations, tantivy aggregations.
pub struct PassCollector {
    pub top: Option<TopCollector>,
    pub fast: Vec<FastAgg>,
    pub agg: Option<DistributedAggregationCollector>,
}

/// What a pass yields.
pub struct PassFruit {
    pub top: Vec<Candidate>,
    pub count: u64,
    pub fast: Vec<FastFruit>,
    pub agg: Option<IntermediateAggregationResults>,
}

type AggChild = <DistributedAggregationCollector as Collector>::Child;

pub struct PassSegment {
    top: Option<TopSegment>,
    count: u64,
    fast: Vec<FastSegment>,
    agg: Option<AggChild>,
}

pub struct SegmentFruit {
    top: Vec<Candidate>,
    count: u64,
    fast: Vec<FastFruit>,
    agg: Option<tantivy::Result<IntermediateAggregationResults>>,
}

impl Collector for PassCollector {
    type Fruit = PassFruit;
    type Child = PassSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<PassSegment> {
        Ok(PassSegment {
            top: self.top.as_ref().map(|t| t.for_segment(segment, reader)).transpose()?,
            count: 0,
            fast: self.fast.iter().map(|f| f.for_segment(reader)).collect::<tantivy::Result<_>>()?,
            agg: self.agg.as_ref().map(|a| a.for_segment(segment, reader)).transpose()?,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.top.as_ref().is_some_and(TopCollector::requires_scoring)
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<PassFruit> {
        let mut tops = Vec::new();
        let mut count = 0;
        let mut fast: Vec<Option<FastFruit>> = self.fast.iter().map(|_| None).collect();
        let mut aggs = Vec::new();
        for fruit in fruits {
            tops.push(fruit.top);
            count += fruit.count;
            for (slot, f) in fast.iter_mut().zip(fruit.fast) {
                match slot {
                    Some(acc) => acc.merge_from(f),
                    None => *slot = Some(f),
                }
            }
            if let Some(a) = fruit.agg {
                aggs.push(a);
            }
        }
        let agg = match &self.agg {
            Some(collector) => Some(collector.merge_fruits(aggs)?),
            None => None,
        };
        Ok(PassFruit {
            top: self.top.as_ref().map(|t| t.merge(tops)).unwrap_or_default(),
            count,
            fast: fast.into_iter().flatten().collect(),
            agg,
        })
    }
}

impl SegmentCollector for PassSegment {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.count += 1;
        if let Some(top) = &mut self.top {
            top.collect(doc, score);
        }
        for f in &mut self.fast {
            f.collect_block(&[doc]);
        }
        if let Some(agg) = &mut self.agg {
            agg.collect(doc, score);
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.count += docs.len() as u64;
        if let Some(top) = &mut self.top {
            top.collect_block(docs);
        }
        for f in &mut self.fast {
            f.collect_block(docs);
        }
        if let Some(agg) = &mut self.agg {
            agg.collect_block(docs);
        }
    }

    fn harvest(self) -> SegmentFruit {
        SegmentFruit {
            top: self.top.map(TopSegment::harvest).unwrap_or_default(),
            count: self.count,
            fast: self.fast.into_iter().map(FastSegment::harvest).collect(),
            agg: self.agg.map(AggChild::harvest),
        }
    }
}

/// A weight for `query` on `searcher`, scoring only when asked.
pub fn weight_for(searcher: &Searcher, query: &dyn Query, scoring: bool) -> tantivy::Result<Box<dyn Weight>> {
    let enable = if scoring {
        EnableScoring::enabled_from_searcher(searcher)
    } else {
        EnableScoring::disabled_from_searcher(searcher)
    };
    query.weight(enable)
}

/// An upper bound of the matches of `weight` (sum of the scorers' size hints).
pub fn estimate(searcher: &Searcher, weight: &dyn Weight) -> tantivy::Result<u64> {
    let mut total = 0u64;
    for reader in searcher.segment_readers() {
        total += u64::from(weight.scorer(reader, 1.0)?.size_hint());
    }
    Ok(total)
}

/// Counts the matches of `weight`, stopping once `cap` is reached (`u64::MAX`: exact, using
/// tantivy's shortcuts for simple queries).
pub fn count_upto(searcher: &Searcher, weight: &dyn Weight, cap: u64) -> tantivy::Result<u64> {
    let mut total = 0u64;
    for reader in searcher.segment_readers() {
        if total >= cap {
            break;
        }
        if cap == u64::MAX {
            total += u64::from(weight.count(reader)?);
            continue;
        }
        let mut scorer = weight.scorer(reader, 1.0)?;
        let alive = reader.alive_bitset();
        let mut doc = scorer.doc();
        while doc != TERMINATED && total < cap {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                total += 1;
            }
            doc = scorer.advance();
        }
    }
    Ok(total)
}

/// Runs `collector` over the matches of `weight` in one partition; with a `window`, only over
/// documents whose `@timestamp` lies in it (inclusive nanoseconds), found from the timestamp
/// column and checked against the query by seeking its scorer, so a narrow window costs little
/// whatever the query.
pub fn run(
    searcher: &Searcher,
    weight: &dyn Weight,
    collector: &PassCollector,
    window: Option<(i64, i64)>,
) -> tantivy::Result<PassFruit> {
    let scoring = collector.requires_scoring();
    let mut fruits = Vec::with_capacity(searcher.segment_readers().len());
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let ord = ord as SegmentOrdinal;
        let Some((lo, hi)) = window else {
            fruits.push(collector.collect_segment(weight, ord, reader)?);
            continue;
        };
        let mut segment = collector.for_segment(ord, reader)?;
        let ts = reader.fast_fields().date("@timestamp")?;
        let mut candidates = Vec::new();
        let range = DateTime::from_timestamp_nanos(lo)..=DateTime::from_timestamp_nanos(hi);
        ts.get_docids_for_value_range(range, 0..reader.max_doc(), &mut candidates);
        if !candidates.is_empty() {
            let mut scorer = weight.scorer(reader, 1.0)?;
            let alive = reader.alive_bitset();
            let mut block: Vec<DocId> = Vec::with_capacity(COLLECT_BLOCK_BUFFER_LEN);
            for doc in candidates {
                let mut current = scorer.doc();
                if current < doc {
                    current = scorer.seek(doc);
                }
                if current == TERMINATED {
                    break;
                }
                if current != doc || !alive.is_none_or(|a| a.is_alive(doc)) {
                    continue;
                }
                if scoring {
                    segment.collect(doc, scorer.score());
                } else {
                    block.push(doc);
                    if block.len() == COLLECT_BLOCK_BUFFER_LEN {
                        segment.collect_block(&block);
                        block.clear();
                    }
                }
            }
            if !block.is_empty() {
                segment.collect_block(&block);
            }
        }
        fruits.push(segment.harvest());
    }
    collector.merge_fruits(fruits)
}

// Pharos — query/src/elastic/collect.rs
