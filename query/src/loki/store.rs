//! Reading log partitions: which streams exist, which entries fall in a time range, and the line
//! of an entry.
//!
//! - Streams come from the term dictionary of the `_stream` field of every segment, parsed once
//!   per distinct key and matched against the selector.
//! - Entries are found with `TermSetQuery(_stream ∈ selected) ∧ RangeQuery(@timestamp)`; for each
//!   hit only fast fields are read: `@timestamp`, the `_stream` ordinal (mapped to a stream id) and
//!   the `severity` ordinal (mapped to a `detected_level` id). The doc store is read only by
//!   [`fetch_line`].
//! - The line of an entry is `_source.message` when that is a JSON string, else `_source` as is.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Bound;

use serde::Deserialize;
use tantivy::query::{BooleanQuery, EnableScoring, Query, RangeQuery, TermSetQuery};
use tantivy::schema::{Field, Value};
use tantivy::{DateTime, DocAddress, Searcher, TantivyDocument, Term};

use super::error::LokiError;
use super::labels::{Labels, Matcher, parse_stream_key};
use super::pipeline::detected_level;
use super::schema::PartitionSnapshot;

const TIMESTAMP: &str = "@timestamp";
const STREAM: &str = "_stream";
const SEVERITY: &str = "severity";
const SOURCE: &str = "_source";

/// The streams a selector picked, each with an id (its index).
#[derive(Default)]
pub struct StreamSet {
    pub keys: Vec<String>,
    pub labels: Vec<Labels>,
    index: HashMap<String, u32>,
}

impl StreamSet {
    pub fn id(&self, key: &str) -> Option<u32> {
        self.index.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn insert(&mut self, key: String, labels: Labels) -> u32 {
        let id = self.keys.len() as u32;
        self.index.insert(key.clone(), id);
        self.keys.push(key);
        self.labels.push(labels);
        id
    }
}

/// Interned `detected_level` values; id 0 is `unknown`.
pub struct Levels {
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Default for Levels {
    fn default() -> Self {
        let mut l = Levels { names: Vec::new(), index: HashMap::new() };
        l.intern("unknown".into());
        l
    }
}

impl Levels {
    fn intern(&mut self, name: String) -> u32 {
        if let Some(&id) = self.index.get(&name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.index.insert(name.clone(), id);
        self.names.push(name);
        id
    }
}

/// One matching entry, before its line is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub ts: i64,
    pub stream: u32,
    pub level: u32,
    pub seg: u32,
    pub doc: u32,
}

fn field(searcher: &Searcher, name: &str) -> Result<Field, LokiError> {
    searcher.schema().get_field(name).map_err(|_| {
        LokiError::Storage(tantivy::TantivyError::SchemaError(format!("log partition lacks field {name}")))
    })
}

/// Calls `f` with every distinct stream key of a partition.
fn for_each_stream_key(snap: &PartitionSnapshot, mut f: impl FnMut(&str)) -> Result<(), LokiError> {
    let stream = field(&snap.searcher, STREAM)?;
    for reader in snap.searcher.segment_readers() {
        let inverted = reader.inverted_index(stream)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            if let Ok(key) = std::str::from_utf8(terms.key()) {
                f(key);
            }
        }
    }
    Ok(())
}

/// The streams of the partitions whose labels match every matcher (all streams for none).
pub fn matching_streams(snaps: &[PartitionSnapshot], matchers: &[Matcher]) -> Result<StreamSet, LokiError> {
    let mut set = StreamSet::default();
    let mut rejected: std::collections::HashSet<String> = Default::default();
    for snap in snaps {
        for_each_stream_key(snap, |key| {
            if set.index.contains_key(key) || rejected.contains(key) {
                return;
            }
            let Ok(pairs) = parse_stream_key(key) else {
                rejected.insert(key.to_string());
                return;
            };
            if matchers.iter().all(|m| m.matches_labels(&pairs)) {
                set.insert(key.to_string(), Labels::from_pairs(pairs));
            } else {
                rejected.insert(key.to_string());
            }
        })?;
    }
    Ok(set)
}

/// Finds the entries of `streams` with `min_ts <= ts <= max_ts` in one partition and calls `f` for
/// each (segment order, doc order). Reads fast fields only.
pub fn collect(
    snap: &PartitionSnapshot,
    streams: &StreamSet,
    min_ts: i64,
    max_ts: i64,
    levels: &mut Levels,
    mut f: impl FnMut(Candidate),
) -> Result<(), LokiError> {
    if streams.is_empty() || min_ts > max_ts || snap.max_nanos < min_ts || snap.min_nanos > max_ts {
        return Ok(());
    }
    let searcher = &snap.searcher;
    let stream_field = field(searcher, STREAM)?;
    let ts_field = field(searcher, TIMESTAMP)?;
    let terms = TermSetQuery::new(streams.keys.iter().map(|k| Term::from_field_text(stream_field, k)));
    let range = RangeQuery::new(
        Bound::Included(Term::from_field_date(ts_field, DateTime::from_timestamp_nanos(min_ts))),
        Bound::Included(Term::from_field_date(ts_field, DateTime::from_timestamp_nanos(max_ts))),
    );
    let query = BooleanQuery::intersection(vec![Box::new(terms) as Box<dyn Query>, Box::new(range)]);
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    for (seg_ord, reader) in searcher.segment_readers().iter().enumerate() {
        let fast = reader.fast_fields();
        let Some(stream_col) = fast.str(STREAM)? else { continue };
        let ts_col = fast.date(TIMESTAMP)?;
        let mut stream_of_ord = vec![u32::MAX; stream_col.num_terms()];
        let mut st = stream_col.dictionary().stream()?;
        while st.advance() {
            if let Some(id) = std::str::from_utf8(st.key()).ok().and_then(|k| streams.id(k))
                && let Some(slot) = stream_of_ord.get_mut(st.term_ord() as usize)
            {
                *slot = id;
            }
        }
        let sev_col = fast.str(SEVERITY)?;
        let level_of_ord: Vec<u32> = match &sev_col {
            Some(col) => {
                let mut out = vec![0; col.num_terms()];
                let mut st = col.dictionary().stream()?;
                while st.advance() {
                    let name = detected_level(std::str::from_utf8(st.key()).ok());
                    if let Some(slot) = out.get_mut(st.term_ord() as usize) {
                        *slot = levels.intern(name);
                    }
                }
                out
            }
            None => Vec::new(),
        };
        let alive = reader.alive_bitset();
        weight.for_each_no_score(reader, &mut |docs| {
            for &doc in docs {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let Some(ts) = ts_col.first(doc).map(DateTime::into_timestamp_nanos) else { continue };
                if ts < min_ts || ts > max_ts {
                    continue;
                }
                let Some(stream) =
                    stream_col.term_ords(doc).next().and_then(|o| stream_of_ord.get(o as usize).copied())
                else {
                    continue;
                };
                if stream == u32::MAX {
                    continue;
                }
                let level = sev_col
                    .as_ref()
                    .and_then(|c| c.term_ords(doc).next())
                    .and_then(|o| level_of_ord.get(o as usize).copied())
                    .unwrap_or(0);
                f(Candidate { ts, stream, level, seg: seg_ord as u32, doc });
            }
        })?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct MessageOnly<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

/// The line of a stored `_source`: its `message` when that is a string, else the whole text.
pub fn line_of_source(source: &[u8]) -> String {
    if let Ok(MessageOnly { message: Some(m) }) = serde_json::from_slice::<MessageOnly>(source) {
        return m.into_owned();
    }
    String::from_utf8_lossy(source).into_owned()
}

/// Reads the line of one entry from the doc store.
pub fn fetch_line(searcher: &Searcher, source: Field, seg: u32, doc: u32) -> Result<String, LokiError> {
    let d: TantivyDocument = searcher.doc(DocAddress::new(seg, doc))?;
    let bytes = d.get_first(source).and_then(|v| v.as_bytes()).unwrap_or_default();
    Ok(line_of_source(bytes))
}

/// The `_source` field of a partition.
pub fn source_field(snap: &PartitionSnapshot) -> Result<Field, LokiError> {
    field(&snap.searcher, SOURCE)
}

/// Byte size of one entry's stored `_source` (for index stats).
pub fn source_len(searcher: &Searcher, source: Field, seg: u32, doc: u32) -> Result<usize, LokiError> {
    let d: TantivyDocument = searcher.doc(DocAddress::new(seg, doc))?;
    Ok(d.get_first(source).and_then(|v| v.as_bytes()).map_or(0, <[u8]>::len))
}

/// The streams with at least one entry in `[start, end]` among those matching `matchers`.
/// Partitions wholly inside the range count every stream of their term dictionaries; others are
/// checked entry by entry (fast fields only), skipping streams already known to be present.
pub fn streams_in_range(
    snaps: &[PartitionSnapshot],
    matchers: &[Matcher],
    start: i64,
    end: i64,
) -> Result<Vec<Labels>, LokiError> {
    let candidates = matching_streams(snaps, matchers)?;
    let mut present = vec![false; candidates.len()];
    let mut levels = Levels::default();
    for snap in snaps {
        if snap.max_nanos < start || snap.min_nanos > end {
            continue;
        }
        if snap.min_nanos >= start && snap.max_nanos <= end {
            for_each_stream_key(snap, |key| {
                if let Some(id) = candidates.id(key) {
                    present[id as usize] = true;
                }
            })?;
            continue;
        }
        let mut missing = StreamSet::default();
        for (i, key) in candidates.keys.iter().enumerate() {
            if !present[i] {
                missing.insert(key.clone(), Labels::default());
            }
        }
        collect(snap, &missing, start, end, &mut levels, |c| {
            if let Some(id) = candidates.id(&missing.keys[c.stream as usize]) {
                present[id as usize] = true;
            }
        })?;
    }
    Ok(candidates.labels.into_iter().zip(present).filter_map(|(l, p)| p.then_some(l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_extraction() {
        assert_eq!(line_of_source(br#"{"@timestamp":"x","message":"hello \"w\""}"#), "hello \"w\"");
        assert_eq!(line_of_source(br#"{"msg":"x","n":1}"#), r#"{"msg":"x","n":1}"#);
        assert_eq!(line_of_source(br#"{"message":{"a":1}}"#), r#"{"message":{"a":1}}"#);
        assert_eq!(line_of_source(b"not json"), "not json");
    }
}

// Pharos — query/src/loki/store.rs
