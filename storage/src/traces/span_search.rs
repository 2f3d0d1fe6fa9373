//! How [`TraceStore::search`](super::TraceStore::search) runs: per bucket, newest first, pick
//! the index the catalogue says yields the fewest candidates, walk its entries newest first
//! (merging several prefixes when the index is split, as the duration index is by class), reject
//! candidates on what the index entry carries (duration, error flag, kind, service and name
//! CRCs), then read and decode the rest and check every condition exactly.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::ops::{ControlFlow, RangeInclusive};
use std::sync::{Arc, MutexGuard};

use rocksdb::{BoundColumnFamily, DBRawIteratorWithThreadMode, ReadOptions};

use super::bucket::Bucket;
use super::catalogue::{MAX_OPERATIONS_PER_SERVICE, ServiceStats, scope_index};
use super::codec::{self, IndexEntry, Posting};
use super::error::TraceError;
use super::keys::{
    ATTRIBUTE_PARTITIONS, DURATION_CLASSES, GROUP_WINDOW_NANOS, IndexPrefix, attribute_partition, duration_class,
    group_newest_start, prefix_successor, value_crc,
};
use super::model::{Span, SpanId, TraceId};
use super::search::{SearchStats, SpanQuery, TagScope};
use super::store::{Db, Inner};

/// Inclusive bounds on span start time as stored (`u64` ns). A range ending at `i64::MAX` also
/// takes spans starting after it (2262 onwards), which no `i64` can name.
#[derive(Clone, Copy, Debug)]
struct StartBounds {
    lo: u64,
    hi: u64,
}

impl StartBounds {
    fn of(query: &SpanQuery) -> Option<StartBounds> {
        let r = query.range;
        if r.end_nanos < 0 || r.start_nanos > r.end_nanos {
            return None;
        }
        let hi = if r.end_nanos == i64::MAX { u64::MAX } else { r.end_nanos as u64 };
        Some(StartBounds { lo: r.start_nanos.max(0) as u64, hi })
    }

    fn contains(&self, start: u64) -> bool {
        self.lo <= start && start <= self.hi
    }
}

/// The conditions an index entry can decide.
struct Prefilter {
    service_crc: Option<u32>,
    name_crc: Option<u32>,
    query_kind: Option<super::model::SpanKind>,
    min_duration: u64,
    max_duration: u64,
    error_only: bool,
}

impl Prefilter {
    fn of(query: &SpanQuery) -> Prefilter {
        Prefilter {
            service_crc: query.service.as_deref().map(|s| crc32c::crc32c(s.as_bytes())),
            name_crc: query.span_name.as_deref().map(|s| crc32c::crc32c(s.as_bytes())),
            query_kind: query.kind,
            min_duration: query.min_duration_nanos.unwrap_or(0),
            max_duration: query.max_duration_nanos.unwrap_or(u64::MAX),
            error_only: query.error_only,
        }
    }

    fn admits(&self, e: &IndexEntry) -> bool {
        (!self.error_only || e.error)
            && self.query_kind.is_none_or(|k| k == e.kind)
            && (self.min_duration..=self.max_duration).contains(&e.duration_nanos)
            && self.service_crc.is_none_or(|c| e.service_crc.is_none_or(|stored| stored == c))
            && self.name_crc.is_none_or(|c| e.name_crc.is_none_or(|stored| stored == c))
    }
}

/// Whether a decoded span meets every condition of the query.
fn matches(query: &SpanQuery, bounds: &StartBounds, span: &Span) -> bool {
    bounds.contains(span.start_time_unix_nano)
        && query.service.as_deref().is_none_or(|s| s == span.service_name())
        && query.span_name.as_deref().is_none_or(|n| n == span.name)
        && query.kind.is_none_or(|k| k == span.kind)
        && query.min_duration_nanos.is_none_or(|d| span.duration_nanos() >= d)
        && query.max_duration_nanos.is_none_or(|d| span.duration_nanos() <= d)
        && (!query.error_only || span.is_error())
        && query.attributes.iter().all(|(k, v)| {
            span.attribute(k).and_then(|value| value.to_display_string()).is_some_and(|shown| shown == *v)
        })
}

/// One prefix of an index to walk, with what its postings must carry: a value CRC (attribute
/// partitions hold other values too) or one of some resources (resource attribute conditions
/// walked through a service's `d` entries).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Cursor {
    pub prefix: Vec<u8>,
    pub value_crc: Option<u32>,
    pub resources: Option<HashSet<u32>>,
}

impl Cursor {
    fn all(prefix: Vec<u8>) -> Cursor {
        Cursor { prefix, value_crc: None, resources: None }
    }

    /// Whether a posting read through this cursor can be a match (fields a group does not store
    /// are not checked).
    fn admits(&self, entry: &IndexEntry) -> bool {
        self.value_crc.is_none_or(|crc| entry.value_crc.is_none_or(|stored| stored == crc))
            && self.resources.as_ref().is_none_or(|r| entry.resource_tag.is_none_or(|tag| r.contains(&tag)))
    }
}

/// Which index a bucket is read through, with the prefixes to merge.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// No span of the bucket can match (the catalogue is complete and says so).
    Skip,
    Read {
        index: &'static str,
        cursors: Vec<Cursor>,
    },
}

/// The `d` prefixes of a service for the duration classes in `classes` that hold spans (all of
/// them when the catalogue does not list the service).
fn service_prefixes(service: &str, stats: Option<&ServiceStats>, classes: RangeInclusive<u8>) -> Vec<Vec<u8>> {
    classes
        .filter(|c| stats.is_none_or(|s| s.durations[usize::from(*c)] > 0))
        .map(|c| IndexPrefix::Duration(service, c).to_vec())
        .collect()
}

/// Picks the index with the smallest estimated candidate count; on a tie the more specific one
/// (attribute, service + name, errors, duration, service, time).
pub(super) fn plan(bucket: &Bucket, query: &SpanQuery) -> Plan {
    let catalogue = bucket.catalogue.read().unwrap_or_else(|p| p.into_inner());
    let classes = duration_class(query.min_duration_nanos.unwrap_or(0))
        ..=duration_class(query.max_duration_nanos.unwrap_or(u64::MAX));
    let class_count = |s: &ServiceStats| classes.clone().map(|c| s.durations[usize::from(c)]).sum::<u64>();
    // (estimate, rank, name, cursors)
    let mut options: Vec<(u64, u8, &'static str, Vec<Cursor>)> =
        vec![(catalogue.spans, 5, "time", vec![Cursor::all(IndexPrefix::Time.to_vec())])];
    if let Some(service) = query.service.as_deref() {
        let stats = catalogue.services.get(service);
        if stats.is_none() && !catalogue.services_full() {
            return Plan::Skip;
        }
        let service_spans = stats.map_or(catalogue.spans, |s| s.spans);
        let all_classes = service_prefixes(service, stats, 0..=(DURATION_CLASSES - 1) as u8);
        options.push((service_spans, 4, "service", all_classes.into_iter().map(Cursor::all).collect()));
        if let Some(name) = query.span_name.as_deref() {
            let estimate = match stats {
                Some(s) => {
                    let mut found = false;
                    let mut count = 0;
                    for ((op, kind), n) in &s.operations {
                        if op == name && query.kind.is_none_or(|k| k == *kind) {
                            found = true;
                            count += n;
                        }
                    }
                    if !found && s.operations.len() < MAX_OPERATIONS_PER_SERVICE {
                        return Plan::Skip;
                    }
                    if found { count } else { service_spans }
                }
                None => service_spans,
            };
            options.push((estimate, 1, "service+name", vec![Cursor::all(IndexPrefix::Name(service, name).to_vec())]));
        }
        if query.error_only {
            let estimate = stats.map_or(service_spans, |s| s.errors);
            if stats.is_some() && estimate == 0 {
                return Plan::Skip;
            }
            options.push((estimate, 2, "errors", vec![Cursor::all(IndexPrefix::Error(service).to_vec())]));
        }
        if query.min_duration_nanos.is_some() || query.max_duration_nanos.is_some() {
            let estimate = stats.map_or(service_spans, class_count);
            if stats.is_some() && estimate == 0 {
                return Plan::Skip;
            }
            let prefixes = service_prefixes(service, stats, classes.clone());
            options.push((estimate, 3, "duration", prefixes.into_iter().map(Cursor::all).collect()));
        }
    }
    let complete_tags = !catalogue.tag_names_full(TagScope::Resource) && !catalogue.tag_names_full(TagScope::Span);
    for (key, value) in &query.attributes {
        if !bucket.indexed.contains(key) {
            continue;
        }
        let mut cursors = Vec::new();
        let mut estimate = 0;
        // Spans carrying the attribute themselves: the `a` index, the value's partition, whose
        // other values are read and rejected by their CRC.
        let crc = value_crc(value);
        let partition = || Cursor {
            prefix: IndexPrefix::Attribute(key, attribute_partition(crc)).to_vec(),
            value_crc: Some(crc),
            resources: None,
        };
        if let Some(stats) = catalogue.tags[scope_index(TagScope::Span)].get(key.as_str()) {
            // Values not listed (past a cap, or of a type the catalogue does not keep) count as rare.
            let listed: u64 = stats.values.iter().filter(|(v, _)| v.display() == *value).map(|(_, n)| n).sum();
            estimate += listed.max(1) + stats.occurrences / u64::from(ATTRIBUTE_PARTITIONS);
            cursors.push(partition());
        } else if !complete_tags {
            estimate += 1;
            cursors.push(partition());
        }
        // Spans of resources carrying it: their services' `d` entries, filtered by resource.
        let matching = lock(&bucket.references).matching_resources(key, value);
        for (service, tags) in matching {
            if query.service.as_deref().is_some_and(|s| s != service) {
                continue;
            }
            let stats = catalogue.services.get(&service);
            estimate += stats.map_or(catalogue.spans, class_count);
            for prefix in service_prefixes(&service, stats, classes.clone()) {
                cursors.push(Cursor { prefix, value_crc: None, resources: Some(tags.clone()) });
            }
        }
        if cursors.is_empty() {
            return Plan::Skip; // no span and no resource of the bucket has the value
        }
        options.push((estimate, 0, "attribute", cursors));
    }
    let (_, _, index, cursors) =
        options.into_iter().min_by_key(|(estimate, rank, _, _)| (*estimate, *rank)).expect("time");
    Plan::Read { index, cursors }
}

/// The postings of several index prefixes, merged newest first.
///
/// Groups come out of each cursor in order of their newest start; a group's postings lie within
/// one [`GROUP_WINDOW_NANOS`] window below it. Postings wait in a heap until no unread group can
/// hold a newer one: the newest posting is final once it is strictly newer than the newest start
/// of every cursor's next group.
struct Postings<'a> {
    cursors: Vec<(DBRawIteratorWithThreadMode<'a, Db>, usize)>,
    /// Admitted postings not yet final, by [`Posting::order`].
    pending: BinaryHeap<Reverse<(u64, TraceId, SpanId)>>,
    bounds: StartBounds,
}

impl<'a> Postings<'a> {
    fn new(db: &'a Db, cf: &Arc<BoundColumnFamily<'a>>, cursors: &[Cursor], bounds: StartBounds) -> Self {
        let cursors = cursors
            .iter()
            .map(|Cursor { prefix, .. }| {
                let mut read = ReadOptions::default();
                // Groups sort by inverted newest start. Groups whose newest start is below `lo` hold
                // nothing in range; groups newer than `hi + window − 1` hold nothing either.
                let upper = match (u64::MAX - bounds.lo).checked_add(1) {
                    Some(end) => Some([prefix.as_slice(), &end.to_be_bytes()].concat()),
                    None => prefix_successor(prefix),
                };
                if let Some(upper) = upper {
                    read.set_iterate_upper_bound(upper);
                }
                let mut it = db.raw_iterator_cf_opt(cf, read);
                let newest = bounds.hi.saturating_add(GROUP_WINDOW_NANOS - 1);
                it.seek([prefix.as_slice(), &(u64::MAX - newest).to_be_bytes()].concat());
                (it, prefix.len())
            })
            .collect();
        Postings { cursors, pending: BinaryHeap::new(), bounds }
    }

    /// The next posting in order (as [`Posting::order`]) among those `admit` accepts — called
    /// with the posting and the index of its cursor as groups are read, so rejected postings never
    /// wait in memory.
    fn next(
        &mut self,
        admit: &mut dyn FnMut(usize, &Posting) -> bool,
    ) -> Result<Option<(u64, TraceId, SpanId)>, PostingError> {
        loop {
            // The cursor whose next group is the newest, and that group's newest start.
            let mut next_group: Option<(usize, u64)> = None;
            for (i, (it, prefix_len)) in self.cursors.iter().enumerate() {
                let Some(key) = it.key() else { continue };
                let newest = key.get(*prefix_len..).and_then(group_newest_start).ok_or_else(|| {
                    PostingError::Corrupt(key.to_vec(), "posting group key of the wrong length".into())
                })?;
                if next_group.is_none_or(|(_, n)| newest > n) {
                    next_group = Some((i, newest));
                }
            }
            if let Some(Reverse((inverted, _, _))) = self.pending.peek() {
                let start = u64::MAX - inverted;
                if next_group.is_none_or(|(_, newest)| start > newest) {
                    return Ok(self.pending.pop().map(|Reverse(order)| order));
                }
            }
            let Some((i, newest)) = next_group else {
                for (it, _) in &self.cursors {
                    it.status().map_err(PostingError::RocksDb)?;
                }
                return Ok(None);
            };
            let (it, _) = &mut self.cursors[i];
            let (key, value) = it.item().expect("cursor with a key");
            let bounds = self.bounds;
            let pending = &mut self.pending;
            codec::decode_postings(value, newest, |p| {
                if bounds.contains(p.start) && admit(i, &p) {
                    pending.push(Reverse(p.order()));
                }
            })
            .map_err(|e| PostingError::Corrupt(key.to_vec(), e.0))?;
            it.next();
        }
    }
}

enum PostingError {
    RocksDb(rocksdb::Error),
    Corrupt(Vec<u8>, String),
}

pub(super) fn search(
    inner: &Inner,
    query: &SpanQuery,
    visit: &mut dyn FnMut(Span) -> ControlFlow<()>,
) -> Result<SearchStats, TraceError> {
    let mut stats = SearchStats::default();
    let Some(bounds) = StartBounds::of(query) else { return Ok(stats) };
    if query.min_duration_nanos.unwrap_or(0) > query.max_duration_nanos.unwrap_or(u64::MAX) {
        return Ok(stats);
    }
    let prefilter = Prefilter::of(query);
    for bucket in inner.buckets_overlapping(&query.range).into_iter().rev() {
        let Plan::Read { index, cursors } = plan(&bucket, query) else { continue };
        let Some(index_cf) = inner.db.cf_handle(&bucket.index_cf) else {
            continue; // dropped by retention meanwhile
        };
        tracing::trace!(bucket = %bucket.date(), index, cursors = cursors.len(), "trace search");
        let rocks = |source| TraceError::RocksDb {
            path: inner.dir.clone(),
            operation: format!("searching {}", bucket.index_cf),
            source,
        };
        let mut admit = |cursor: usize, p: &Posting| prefilter.admits(&p.entry) && cursors[cursor].admits(&p.entry);
        let Some(mut spans) = inner.span_reader(&bucket) else { continue };
        let mut postings = Postings::new(&inner.db, &index_cf, &cursors, bounds);
        // One span can be named by several postings (its attribute and its resource's both
        // matching, or appended twice); they come out consecutively and only the first is read.
        let mut last: Option<(u64, TraceId, SpanId)> = None;
        loop {
            let order = match postings.next(&mut admit) {
                Ok(Some(order)) => order,
                Ok(None) => break,
                Err(PostingError::RocksDb(e)) => return Err(rocks(e)),
                Err(PostingError::Corrupt(key, detail)) => {
                    return Err(TraceError::corrupt(bucket.date(), &key, detail));
                }
            };
            if last == Some(order) {
                continue;
            }
            last = Some(order);
            let (inverted, trace_id, span_id) = order;
            let start = u64::MAX - inverted;
            let Some((span, bytes)) = spans.find(&trace_id, start, &span_id)? else {
                let key = [trace_id.as_slice(), &start.to_be_bytes(), &span_id].concat();
                return Err(TraceError::corrupt(
                    bucket.date(),
                    &key,
                    "a posting names a span that no trace chunk holds",
                ));
            };
            stats.inspected_spans += 1;
            stats.inspected_bytes += bytes as u64;
            if matches(query, &bounds, &span) && visit(span).is_break() {
                return Ok(stats);
            }
        }
    }
    Ok(stats)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// Pharos — storage/src/traces/span_search.rs
