//! The trace search both APIs share: find spans through the store's indexes, collect the distinct
//! trace ids newest first, fetch each whole trace and let the caller judge it, until enough traces
//! are found or the candidate cap is reached. Also the service dependency graph Jaeger draws.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use pharos_storage::traces::{SearchStats, Span, SpanId, SpanQuery, TimeRange, TraceId};

use super::error::TraceApiError;
use super::reader::TraceReader;

/// Most distinct traces one search fetches and judges. A search whose conditions the store cannot
/// check (TraceQL beyond its hints, Tempo's trace duration) stops here even if fewer than `limit`
/// traces matched; the Tempo answer says so in its `metrics` block.
pub const MAX_CANDIDATE_TRACES: usize = 5_000;

/// Most candidate ids gathered in one pass of the store before their traces are fetched.
const MAX_BATCH: usize = 500;

/// What [`find_traces`] found and read.
#[derive(Debug)]
pub struct FoundTraces<T> {
    /// What the judge returned for accepted traces, newest first.
    pub traces: Vec<T>,
    /// What the store read for the span search (summed over passes).
    pub stats: SearchStats,
    /// Traces fetched and judged.
    pub inspected_traces: usize,
    /// Whether the search stopped at the candidate cap rather than at `limit` or the end of data.
    pub candidate_limit_reached: bool,
}

/// Finds up to `limit` traces holding a span that meets `query` and `span_filter` (checked on the
/// same span, for conditions the store cannot express), newest span first. Each candidate trace is
/// fetched whole (every time range) and handed to `judge`, which returns `Some` to keep it. At most
/// `max_candidates` traces are judged.
///
/// The store is read in passes: each gathers a batch of new trace ids (growing from `limit`, so a
/// search whose every candidate matches reads just what it returns), then the next resumes at the
/// start time of the oldest span visited (spans at that instant are visited again; their traces are
/// known and skipped).
pub fn find_traces<T>(
    reader: &dyn TraceReader,
    query: &SpanQuery,
    span_filter: &dyn Fn(&Span) -> bool,
    limit: usize,
    max_candidates: usize,
    judge: &mut dyn FnMut(Vec<Span>) -> Option<T>,
) -> Result<FoundTraces<T>, TraceApiError> {
    let mut found = FoundTraces {
        traces: Vec::new(),
        stats: SearchStats::default(),
        inspected_traces: 0,
        candidate_limit_reached: false,
    };
    let mut seen: HashSet<TraceId> = HashSet::new();
    let mut pass_query = query.clone();
    let mut batch_size = limit.clamp(1, MAX_BATCH);
    while found.traces.len() < limit {
        let want = batch_size.min(max_candidates - seen.len());
        if want == 0 {
            found.candidate_limit_reached = true;
            break;
        }
        let mut batch: Vec<TraceId> = Vec::new();
        let mut oldest_start: Option<i64> = None;
        let mut stopped_early = false;
        let stats = reader
            .search(&pass_query, &mut |span: Span| {
                oldest_start = Some(i64::try_from(span.start_time_unix_nano).unwrap_or(i64::MAX));
                if span_filter(&span) && seen.insert(span.trace_id) {
                    batch.push(span.trace_id);
                    if batch.len() >= want {
                        stopped_early = true;
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            })
            .map_err(TraceApiError::Storage)?;
        found.stats.inspected_spans += stats.inspected_spans;
        found.stats.inspected_bytes += stats.inspected_bytes;
        for id in batch {
            let spans = reader.trace(&id, TimeRange::ALL).map_err(TraceApiError::Storage)?;
            found.inspected_traces += 1;
            if spans.is_empty() {
                continue;
            }
            if let Some(judged) = judge(spans) {
                found.traces.push(judged);
                if found.traces.len() >= limit {
                    return Ok(found);
                }
            }
        }
        match (stopped_early, oldest_start) {
            (true, Some(oldest)) => pass_query.range.end_nanos = oldest,
            _ => break,
        }
        batch_size = (batch_size * 2).min(MAX_BATCH);
    }
    Ok(found)
}

/// Most spans the dependency graph reads. Jaeger computes dependencies in a batch job; Pharos
/// derives them at request time from the spans of the window, newest first, and stops here.
pub const MAX_DEPENDENCY_SPANS: u64 = 1_000_000;

/// One edge of the service graph: `parent` called `child` `call_count` times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DependencyLink {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
}

/// The service dependencies within `range`: for every span whose parent span is in the same
/// window and belongs to another service, one call from the parent's service to the span's (as
/// Jaeger's in-memory store counts them). At most `max_spans` spans are read; parents outside what
/// was read are not seen. Sorted by parent, then child.
pub fn dependencies(
    reader: &dyn TraceReader,
    range: TimeRange,
    max_spans: u64,
) -> Result<Vec<DependencyLink>, TraceApiError> {
    struct SpanEdge {
        span_id: SpanId,
        parent: Option<SpanId>,
        service: u32,
    }
    let mut services: Vec<String> = Vec::new();
    let mut service_ids: HashMap<String, u32> = HashMap::new();
    let mut traces: HashMap<TraceId, Vec<SpanEdge>> = HashMap::new();
    let mut read: u64 = 0;
    reader
        .search(&SpanQuery::in_range(range), &mut |span: Span| {
            let service = match service_ids.get(span.service_name()) {
                Some(id) => *id,
                None => {
                    let id = services.len() as u32;
                    services.push(span.service_name().to_string());
                    service_ids.insert(span.service_name().to_string(), id);
                    id
                }
            };
            traces.entry(span.trace_id).or_default().push(SpanEdge {
                span_id: span.span_id,
                parent: span.parent_span_id,
                service,
            });
            read += 1;
            if read >= max_spans { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .map_err(TraceApiError::Storage)?;
    let mut calls: HashMap<(u32, u32), u64> = HashMap::new();
    for spans in traces.values() {
        let service_of: HashMap<SpanId, u32> = spans.iter().map(|s| (s.span_id, s.service)).collect();
        for span in spans {
            let Some(parent_service) = span.parent.and_then(|p| service_of.get(&p)) else { continue };
            if *parent_service != span.service {
                *calls.entry((*parent_service, span.service)).or_default() += 1;
            }
        }
    }
    let mut links: Vec<DependencyLink> = calls
        .into_iter()
        .map(|((parent, child), call_count)| DependencyLink {
            parent: services[parent as usize].clone(),
            child: services[child as usize].clone(),
            call_count,
        })
        .collect();
    links.sort();
    Ok(links)
}

// Pharos — query/src/traces/search.rs
