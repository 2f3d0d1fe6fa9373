//! Evaluating LogQL over partition snapshots.
//!
//! Log queries: candidates (timestamp, stream, doc address) come from fast fields, are sorted in
//! the query's direction, and lines are fetched lazily in that order until `limit` entries passed
//! the pipeline. Partitions are visited best-first and skipped once they cannot hold an entry
//! better than the worst one kept.
//!
//! Metric queries: a range aggregation at step `t` covers the samples in `(t − offset − range,
//! t − offset]`. When the pipeline needs no line (no filters, parsers or formatting; no unwrap, no
//! byte counting), samples come from fast fields alone and the doc store is not touched. Series
//! whose final labels still carry `__error__` make the query fail (aggregating the label away,
//! e.g. `sum by (level)`, or filtering it, avoids that).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::ast::*;
use super::error::LokiError;
use super::labels::Labels;
use super::pipeline::{self, ERROR_LABEL};
use super::schema::PartitionSnapshot;
use super::store::{self, Candidate, Levels, StreamSet};

/// Query direction of log queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// Work counters, reported in the response's `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries whose line was read (or, on the fast path, whose fast fields were).
    pub lines_processed: u64,
    /// Bytes of the lines read.
    pub bytes_processed: u64,
    /// Lines that passed the pipeline.
    pub post_filter_lines: u64,
    /// Entries or samples returned.
    pub entries_returned: u64,
}

/// One result stream of a log query.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    pub labels: Labels,
    /// (timestamp ns, line), in the query's direction.
    pub entries: Vec<(i64, String)>,
}

/// Limits applied to metric queries.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most points per series of a range query (Loki and Prometheus: 11,000).
    pub max_points: usize,
    /// Most series in a metric result.
    pub max_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_points: 11_000, max_series: 500 }
    }
}

/// Base labels of an entry: its stream's labels, plus `detected_level` unless the stream has a
/// `level` label.
struct BaseLabels<'a> {
    streams: &'a StreamSet,
    levels: &'a Levels,
    cache: HashMap<(u32, u32), Labels>,
}

impl BaseLabels<'_> {
    fn get(&mut self, stream: u32, level: u32) -> &Labels {
        let key = if self.streams.labels[stream as usize].get("level").is_some() {
            (stream, u32::MAX)
        } else {
            (stream, level)
        };
        self.cache.entry(key).or_insert_with(|| {
            let mut l = self.streams.labels[stream as usize].clone();
            if key.1 != u32::MAX {
                l.set("detected_level", &self.levels.names[level as usize]);
            }
            l
        })
    }
}

/// Sort key of a log entry, smaller = better: `(ts or !ts for backward, partition rank, segment, doc)`.
type Key = (i64, u32, u32, u32);

struct Kept {
    key: Key,
    labels: Labels,
    ts: i64,
    line: String,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Runs a log query over `[start, end)`: at most `limit` entries in `direction` order, grouped
/// into streams by their final labels (streams sorted by labels).
pub fn eval_log(
    snaps: &[PartitionSnapshot],
    expr: &LogExpr,
    start: i64,
    end: i64,
    limit: usize,
    direction: Direction,
) -> Result<(Vec<StreamResult>, Stats), LokiError> {
    let mut stats = Stats::default();
    if limit == 0 || start >= end {
        return Ok((Vec::new(), stats));
    }
    let streams = store::matching_streams(snaps, &expr.matchers)?;
    let mut levels = Levels::default();
    let backward = direction == Direction::Backward;
    // Partitions best-first, with the best key any of their entries could have.
    let mut order: Vec<(usize, i64)> = snaps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.max_nanos >= start && s.min_nanos < end)
        .map(|(i, s)| (i, if backward { !s.max_nanos.min(end - 1) } else { s.min_nanos.max(start) }))
        .collect();
    order.sort_by_key(|&(i, best)| (best, i));
    let mut heap: BinaryHeap<Kept> = BinaryHeap::new();
    for (rank, &(pi, best)) in order.iter().enumerate() {
        if heap.len() >= limit && heap.peek().is_some_and(|w| best > w.key.0) {
            break;
        }
        let snap = &snaps[pi];
        let mut cands: Vec<Candidate> = Vec::new();
        store::collect(snap, &streams, start, end - 1, &mut levels, |c| cands.push(c))?;
        let key_of = |c: &Candidate| -> Key {
            if backward {
                (!c.ts, rank as u32, u32::MAX - c.seg, u32::MAX - c.doc)
            } else {
                (c.ts, rank as u32, c.seg, c.doc)
            }
        };
        cands.sort_unstable_by_key(key_of);
        let source = store::source_field(snap)?;
        let mut base = BaseLabels { streams: &streams, levels: &levels, cache: HashMap::new() };
        for c in &cands {
            let key = key_of(c);
            if heap.len() >= limit && heap.peek().is_some_and(|w| key >= w.key) {
                break;
            }
            let line = store::fetch_line(&snap.searcher, source, c.seg, c.doc)?;
            stats.lines_processed += 1;
            stats.bytes_processed += line.len() as u64;
            let Some(p) = pipeline::run(&expr.stages, None, base.get(c.stream, c.level), &line, c.ts) else { continue };
            stats.post_filter_lines += 1;
            let line = p.line.into_owned();
            heap.push(Kept { key, labels: Labels::from_pairs(p.labels), ts: c.ts, line });
            if heap.len() > limit {
                heap.pop();
            }
        }
    }
    let kept = heap.into_sorted_vec();
    stats.entries_returned = kept.len() as u64;
    let mut by_labels: HashMap<Labels, Vec<(i64, String)>> = HashMap::new();
    for k in kept {
        by_labels.entry(k.labels).or_default().push((k.ts, k.line));
    }
    let mut out: Vec<StreamResult> =
        by_labels.into_iter().map(|(labels, entries)| StreamResult { labels, entries }).collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok((out, stats))
}

/// One series: labels and (step index, value) points in step order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(u32, f64)>,
}

/// The value of a metric expression.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Scalar(f64),
    Vector(Vec<Series>),
}

/// Evaluates a metric query at `steps` (ascending, nanoseconds). The result's series are sorted by
/// labels, except for an instant query (one step) whose top level is `sort`, `sort_desc`, `topk` or
/// `bottomk`: then by value, as those order it (ties by labels).
pub fn eval_metric(
    snaps: &[PartitionSnapshot],
    expr: &MetricExpr,
    steps: &[i64],
    limits: Limits,
) -> Result<(MetricValue, Stats), LokiError> {
    if steps.len() > limits.max_points {
        return Err(LokiError::Query(format!(
            "the query asks for {} points per series, more than the limit of {}; use a larger step",
            steps.len(),
            limits.max_points
        )));
    }
    let mut ev = Evaluator { snaps, steps, stats: Stats::default() };
    let value = ev.eval(expr)?;
    let value = match value {
        MetricValue::Vector(mut series) => {
            series.retain(|s| !s.points.is_empty());
            if let Some(s) = series.iter().find(|s| s.labels.get(ERROR_LABEL).is_some()) {
                return Err(LokiError::Query(format!(
                    "pipeline error: series {} carries {ERROR_LABEL}={:?}; filter the failing lines out with | {ERROR_LABEL}=\"\" or drop the label with | drop {ERROR_LABEL}",
                    s.labels,
                    s.labels.get(ERROR_LABEL).unwrap_or_default()
                )));
            }
            if series.len() > limits.max_series {
                return Err(LokiError::Query(format!(
                    "the query returns {} series, more than the limit of {}; aggregate with sum by (…) or topk",
                    series.len(),
                    limits.max_series
                )));
            }
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            if steps.len() == 1 {
                match expr {
                    MetricExpr::Aggregate { op: AggOp::Sort | AggOp::Bottomk, .. } => {
                        sort_by_first_value(&mut series, true)
                    }
                    MetricExpr::Aggregate { op: AggOp::SortDesc | AggOp::Topk, .. } => {
                        sort_by_first_value(&mut series, false)
                    }
                    _ => {}
                }
            }
            ev.stats.entries_returned = series.iter().map(|s| s.points.len() as u64).sum();
            MetricValue::Vector(series)
        }
        scalar => scalar,
    };
    Ok((value, ev.stats))
}

fn sort_by_first_value(series: &mut [Series], ascending: bool) {
    let first = |s: &Series| s.points.first().map_or(f64::NAN, |p| p.1);
    series.sort_by(|a, b| {
        let o = first(a).partial_cmp(&first(b)).unwrap_or(Ordering::Equal);
        if ascending { o } else { o.reverse() }
    });
}

struct Evaluator<'a> {
    snaps: &'a [PartitionSnapshot],
    steps: &'a [i64],
    stats: Stats,
}

impl Evaluator<'_> {
    fn eval(&mut self, e: &MetricExpr) -> Result<MetricValue, LokiError> {
        Ok(match e {
            MetricExpr::Number(v) => MetricValue::Scalar(*v),
            MetricExpr::Vector(v) => MetricValue::Vector(vec![Series {
                labels: Labels::default(),
                points: (0..self.steps.len() as u32).map(|i| (i, *v)).collect(),
            }]),
            MetricExpr::Range(r) => MetricValue::Vector(self.eval_range(r)?),
            MetricExpr::Aggregate { op, grouping, param, expr } => {
                let MetricValue::Vector(input) = self.eval(expr)? else {
                    return Err(LokiError::Query("aggregations need a vector argument".into()));
                };
                MetricValue::Vector(aggregate(*op, grouping.as_ref(), *param, input, self.steps.len()))
            }
            MetricExpr::Binary { op, lhs, rhs, modifiers } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                binary(*op, l, r, modifiers, self.steps.len())?
            }
        })
    }

    /// Samples of a range aggregation: final labels → (ts, value), unsorted.
    fn samples(
        &mut self,
        r: &RangeAgg,
        min_ts: i64,
        max_ts: i64,
    ) -> Result<HashMap<Labels, Vec<(i64, f64)>>, LokiError> {
        let streams = store::matching_streams(self.snaps, &r.log.matchers)?;
        let mut levels = Levels::default();
        let mut out: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
        let fast = !r.log.needs_line()
            && r.unwrap.is_none()
            && matches!(r.op, RangeOp::CountOverTime | RangeOp::Rate | RangeOp::AbsentOverTime);
        if fast {
            let mut by_key: HashMap<(u32, u32), Vec<i64>> = HashMap::new();
            for snap in self.snaps {
                store::collect(snap, &streams, min_ts, max_ts, &mut levels, |c| {
                    by_key.entry((c.stream, c.level)).or_default().push(c.ts);
                })?;
            }
            let mut base = BaseLabels { streams: &streams, levels: &levels, cache: HashMap::new() };
            for ((stream, level), ts) in by_key {
                self.stats.lines_processed += ts.len() as u64;
                let Some(p) = pipeline::run(&r.log.stages, None, base.get(stream, level), "", 0) else { continue };
                self.stats.post_filter_lines += ts.len() as u64;
                out.entry(p.into_labels()).or_default().extend(ts.into_iter().map(|t| (t, 1.0)));
            }
            return Ok(out);
        }
        for snap in self.snaps {
            let mut cands = Vec::new();
            store::collect(snap, &streams, min_ts, max_ts, &mut levels, |c| cands.push(c))?;
            cands.sort_unstable_by_key(|c| (c.seg, c.doc));
            let source = store::source_field(snap)?;
            let mut base = BaseLabels { streams: &streams, levels: &levels, cache: HashMap::new() };
            for c in cands {
                let line = store::fetch_line(&snap.searcher, source, c.seg, c.doc)?;
                self.stats.lines_processed += 1;
                self.stats.bytes_processed += line.len() as u64;
                let Some(p) = pipeline::run(&r.log.stages, r.unwrap.as_ref(), base.get(c.stream, c.level), &line, c.ts)
                else {
                    continue;
                };
                self.stats.post_filter_lines += 1;
                let value = match r.op {
                    RangeOp::BytesOverTime | RangeOp::BytesRate => p.line.len() as f64,
                    _ => p.value.unwrap_or(1.0),
                };
                let mut labels = p.into_labels();
                if let Some(g) = &r.grouping {
                    labels = group_labels(&labels, Some(g));
                }
                out.entry(labels).or_default().push((c.ts, value));
            }
        }
        Ok(out)
    }

    /// Count/rate straight from fast fields into per-step buckets: each entry is added to the (at
    /// most a few) steps whose window holds it, so memory is per (series, step), not per entry.
    fn bucketed_counts(
        &mut self,
        r: &RangeAgg,
        min_ts: i64,
        max_ts: i64,
        step: i64,
        divisor: f64,
    ) -> Result<Vec<Series>, LokiError> {
        let streams = store::matching_streams(self.snaps, &r.log.matchers)?;
        let mut levels = Levels::default();
        let nsteps = self.steps.len();
        let first = self.steps[0];
        let (off, range) = (r.offset_nanos, r.range_nanos);
        let mut counts: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        let mut processed = 0u64;
        for snap in self.snaps {
            store::collect(snap, &streams, min_ts, max_ts, &mut levels, |c| {
                processed += 1;
                // Steps t with t - off - range < ts <= t - off, i.e. t in [ts + off, ts + off + range).
                let lo = c.ts as i128 + off as i128 - first as i128;
                let hi = lo + range as i128;
                let step = step as i128;
                let first_i = if lo <= 0 { 0 } else { (lo + step - 1) / step };
                let slot = counts.entry((c.stream, c.level)).or_insert_with(|| vec![0; nsteps]);
                let mut i = first_i;
                while i < nsteps as i128 && i * step < hi {
                    slot[i as usize] += 1;
                    i += 1;
                }
            })?;
        }
        self.stats.lines_processed += processed;
        let mut base = BaseLabels { streams: &streams, levels: &levels, cache: HashMap::new() };
        let mut merged: HashMap<Labels, Vec<u32>> = HashMap::new();
        for ((stream, level), c) in counts {
            let Some(p) = pipeline::run(&r.log.stages, None, base.get(stream, level), "", 0) else { continue };
            self.stats.post_filter_lines += c.iter().map(|&n| n as u64).sum::<u64>();
            let slot = merged.entry(p.into_labels()).or_insert_with(|| vec![0; nsteps]);
            for (a, b) in slot.iter_mut().zip(c) {
                *a += b;
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, c)| Series {
                labels,
                points: c
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, &n)| (i as u32, n as f64 / divisor))
                    .collect(),
            })
            .collect())
    }

    fn eval_range(&mut self, r: &RangeAgg) -> Result<Vec<Series>, LokiError> {
        let (Some(&first), Some(&last)) = (self.steps.first(), self.steps.last()) else { return Ok(Vec::new()) };
        let min_ts = first.saturating_sub(r.offset_nanos).saturating_sub(r.range_nanos).saturating_add(1);
        let max_ts = last.saturating_sub(r.offset_nanos);
        let range_secs = r.range_nanos as f64 / 1e9;
        let step = if self.steps.len() > 1 { self.steps[1] - self.steps[0] } else { i64::MAX };
        if !r.log.needs_line()
            && r.unwrap.is_none()
            && matches!(r.op, RangeOp::CountOverTime | RangeOp::Rate)
            && r.range_nanos / step.max(1) <= 4
        {
            let divisor = if r.op == RangeOp::Rate { range_secs } else { 1.0 };
            return self.bucketed_counts(r, min_ts, max_ts, step, divisor);
        }
        let samples = self.samples(r, min_ts, max_ts)?;
        if r.op == RangeOp::AbsentOverTime {
            let mut all: Vec<i64> = samples.into_values().flat_map(|v| v.into_iter().map(|(t, _)| t)).collect();
            all.sort_unstable();
            let mut points = Vec::new();
            let (mut lo, mut hi) = (0, 0);
            for (i, &step) in self.steps.iter().enumerate() {
                let t = step.saturating_sub(r.offset_nanos);
                while hi < all.len() && all[hi] <= t {
                    hi += 1;
                }
                while lo < hi && all[lo] <= t.saturating_sub(r.range_nanos) {
                    lo += 1;
                }
                if lo == hi {
                    points.push((i as u32, 1.0));
                }
            }
            let labels = Labels::from_pairs(
                r.log
                    .matchers
                    .iter()
                    .filter(|m| m.op == super::labels::MatchOp::Eq)
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect(),
            );
            return Ok(vec![Series { labels, points }]);
        }
        let mut out = Vec::with_capacity(samples.len());
        for (labels, mut s) in samples {
            s.sort_by_key(|p| p.0);
            let mut prefix = Vec::with_capacity(s.len() + 1);
            prefix.push(0.0);
            let mut acc = 0.0;
            for p in &s {
                acc += p.1;
                prefix.push(acc);
            }
            let mut points = Vec::new();
            let (mut lo, mut hi) = (0, 0);
            for (i, &step) in self.steps.iter().enumerate() {
                let t = step.saturating_sub(r.offset_nanos);
                while hi < s.len() && s[hi].0 <= t {
                    hi += 1;
                }
                while lo < hi && s[lo].0 <= t.saturating_sub(r.range_nanos) {
                    lo += 1;
                }
                if lo == hi {
                    continue;
                }
                let n = (hi - lo) as f64;
                let sum = prefix[hi] - prefix[lo];
                let window = &s[lo..hi];
                let v = match r.op {
                    RangeOp::CountOverTime => n,
                    RangeOp::Rate if r.unwrap.is_none() => n / range_secs,
                    RangeOp::Rate | RangeOp::BytesRate => sum / range_secs,
                    RangeOp::BytesOverTime | RangeOp::SumOverTime => sum,
                    RangeOp::AvgOverTime => window.iter().map(|p| p.1).sum::<f64>() / n,
                    RangeOp::MaxOverTime => window.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
                    RangeOp::MinOverTime => window.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
                    RangeOp::FirstOverTime => window[0].1,
                    RangeOp::LastOverTime => window[window.len() - 1].1,
                    RangeOp::StdvarOverTime | RangeOp::StddevOverTime => {
                        let var = variance(window.iter().map(|p| p.1));
                        if r.op == RangeOp::StddevOverTime { var.sqrt() } else { var }
                    }
                    RangeOp::QuantileOverTime => {
                        let mut vals: Vec<f64> = window.iter().map(|p| p.1).collect();
                        quantile(r.param.unwrap_or(0.5), &mut vals)
                    }
                    RangeOp::AbsentOverTime => 1.0,
                };
                points.push((i as u32, v));
            }
            out.push(Series { labels, points });
        }
        Ok(out)
    }
}

fn variance(values: impl Iterator<Item = f64>) -> f64 {
    // Welford, as numerically stable as Prometheus'.
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in values {
        n += 1.0;
        let d = v - mean;
        mean += d / n;
        m2 += d * (v - mean);
    }
    if n == 0.0 { f64::NAN } else { m2 / n }
}

// `quantile_over_time` computes as Prometheus' `quantile` (linear interpolation between the closest
// ranks; φ < 0 → −Inf, φ > 1 → +Inf), so it is the PromQL engine's.
use crate::promql::math::aggregate::quantile;

fn group_labels(labels: &Labels, g: Option<&Grouping>) -> Labels {
    match g {
        None => Labels::default(),
        Some(g) if g.without => labels.without(&g.labels),
        Some(g) => labels.keep_only(&g.labels),
    }
}

/// Points by step: for each step, (series index, value).
fn step_major(series: &[Series], nsteps: usize) -> Vec<Vec<(usize, f64)>> {
    let mut out = vec![Vec::new(); nsteps];
    for (i, s) in series.iter().enumerate() {
        for &(step, v) in &s.points {
            if let Some(slot) = out.get_mut(step as usize) {
                slot.push((i, v));
            }
        }
    }
    out
}

/// Collects output points by labels, keeping first-seen order.
#[derive(Default)]
struct SeriesBuilder {
    series: Vec<Series>,
    index: HashMap<Labels, usize>,
}

impl SeriesBuilder {
    fn push(&mut self, labels: &Labels, step: usize, v: f64) -> bool {
        let i = match self.index.get(labels) {
            Some(&i) => i,
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(Series { labels: labels.clone(), points: Vec::new() });
                self.series.len() - 1
            }
        };
        let points = &mut self.series[i].points;
        if points.last().is_some_and(|p| p.0 == step as u32) {
            return false;
        }
        points.push((step as u32, v));
        true
    }
}

fn aggregate(
    op: AggOp,
    grouping: Option<&Grouping>,
    param: Option<f64>,
    input: Vec<Series>,
    nsteps: usize,
) -> Vec<Series> {
    if matches!(op, AggOp::Sort | AggOp::SortDesc) {
        return input;
    }
    let group_of: Vec<Labels> = input.iter().map(|s| group_labels(&s.labels, grouping)).collect();
    let by_step = step_major(&input, nsteps);
    let mut b = SeriesBuilder::default();
    for (step, points) in by_step.iter().enumerate() {
        let mut groups: Vec<(&Labels, Vec<(usize, f64)>)> = Vec::new();
        let mut gindex: HashMap<&Labels, usize> = HashMap::new();
        for &(si, v) in points {
            let g = &group_of[si];
            let gi = *gindex.entry(g).or_insert_with(|| {
                groups.push((g, Vec::new()));
                groups.len() - 1
            });
            groups[gi].1.push((si, v));
        }
        for (g, members) in groups {
            let vals = members.iter().map(|m| m.1);
            let n = members.len() as f64;
            let v = match op {
                AggOp::Sum => vals.sum(),
                AggOp::Avg => vals.sum::<f64>() / n,
                AggOp::Min => vals.fold(f64::INFINITY, |a, b| if b < a || a.is_nan() { b } else { a }),
                AggOp::Max => vals.fold(f64::NEG_INFINITY, |a, b| if b > a || a.is_nan() { b } else { a }),
                AggOp::Count => n,
                AggOp::Stdvar => variance(vals),
                AggOp::Stddev => variance(vals).sqrt(),
                AggOp::Topk | AggOp::Bottomk => {
                    let k = param.unwrap_or(1.0) as usize;
                    let mut m = members.clone();
                    let top = op == AggOp::Topk;
                    m.sort_by(|a, b| {
                        // NaN always sorts last.
                        match (a.1.is_nan(), b.1.is_nan()) {
                            (true, false) => Ordering::Greater,
                            (false, true) => Ordering::Less,
                            _ => {
                                let o = a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal);
                                if top { o.reverse() } else { o }
                            }
                        }
                    });
                    for (si, v) in m.into_iter().take(k) {
                        b.push(&input[si].labels, step, v);
                    }
                    continue;
                }
                AggOp::Sort | AggOp::SortDesc => unreachable!("handled above"),
            };
            b.push(g, step, v);
        }
    }
    b.series
}

fn arith(op: BinOp, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        _ => return None,
    })
}

/// The value of `a op b` for a vector element, or `None` when a comparison drops it.
fn elem(op: BinOp, a: f64, b: f64, return_bool: bool, keep: f64) -> Option<f64> {
    match op {
        BinOp::Cmp(c) => {
            let t = c.apply(a, b);
            if return_bool {
                Some(if t { 1.0 } else { 0.0 })
            } else if t {
                Some(keep)
            } else {
                None
            }
        }
        _ => arith(op, a, b),
    }
}

fn signature(labels: &Labels, m: &BinModifiers) -> Labels {
    match &m.matching {
        Some((true, on)) => labels.keep_only(on),
        Some((false, ignoring)) => labels.without(ignoring),
        None => labels.clone(),
    }
}

fn binary(
    op: BinOp,
    l: MetricValue,
    r: MetricValue,
    m: &BinModifiers,
    nsteps: usize,
) -> Result<MetricValue, LokiError> {
    Ok(match (l, r) {
        (MetricValue::Scalar(a), MetricValue::Scalar(b)) => {
            let v = match op {
                BinOp::Cmp(c) => {
                    if c.apply(a, b) {
                        1.0
                    } else {
                        0.0
                    }
                }
                _ => arith(op, a, b).ok_or_else(|| LokiError::Query("set operations need vectors".into()))?,
            };
            MetricValue::Scalar(v)
        }
        (MetricValue::Vector(v), MetricValue::Scalar(s)) => MetricValue::Vector(
            v.into_iter()
                .map(|ser| Series {
                    points: ser
                        .points
                        .iter()
                        .filter_map(|&(i, x)| elem(op, x, s, m.return_bool, x).map(|y| (i, y)))
                        .collect(),
                    labels: ser.labels,
                })
                .collect(),
        ),
        (MetricValue::Scalar(s), MetricValue::Vector(v)) => MetricValue::Vector(
            v.into_iter()
                .map(|ser| Series {
                    points: ser
                        .points
                        .iter()
                        .filter_map(|&(i, x)| elem(op, s, x, m.return_bool, x).map(|y| (i, y)))
                        .collect(),
                    labels: ser.labels,
                })
                .collect(),
        ),
        (MetricValue::Vector(lv), MetricValue::Vector(rv)) => {
            MetricValue::Vector(vector_binary(op, &lv, &rv, m, nsteps)?)
        }
    })
}

fn vector_binary(
    op: BinOp,
    lv: &[Series],
    rv: &[Series],
    m: &BinModifiers,
    nsteps: usize,
) -> Result<Vec<Series>, LokiError> {
    let lsig: Vec<Labels> = lv.iter().map(|s| signature(&s.labels, m)).collect();
    let rsig: Vec<Labels> = rv.iter().map(|s| signature(&s.labels, m)).collect();
    let lsteps = step_major(lv, nsteps);
    let rsteps = step_major(rv, nsteps);
    let mut b = SeriesBuilder::default();
    for step in 0..nsteps {
        let (lp, rp) = (&lsteps[step], &rsteps[step]);
        if op.is_set() {
            let rset: std::collections::HashSet<&Labels> = rp.iter().map(|&(i, _)| &rsig[i]).collect();
            match op {
                BinOp::And | BinOp::Unless => {
                    for &(i, v) in lp {
                        if rset.contains(&lsig[i]) == (op == BinOp::And) {
                            b.push(&lv[i].labels, step, v);
                        }
                    }
                }
                _ => {
                    let lset: std::collections::HashSet<&Labels> = lp.iter().map(|&(i, _)| &lsig[i]).collect();
                    for &(i, v) in lp {
                        b.push(&lv[i].labels, step, v);
                    }
                    for &(i, v) in rp {
                        if !lset.contains(&rsig[i]) {
                            b.push(&rv[i].labels, step, v);
                        }
                    }
                }
            }
            continue;
        }
        // `group_right` swaps sides: the right is the "many" side.
        let swap = matches!(m.group, Some((false, _)));
        let (many, one, many_sig, one_sig, many_ser, one_ser) =
            if swap { (rp, lp, &rsig, &lsig, rv, lv) } else { (lp, rp, &lsig, &rsig, lv, rv) };
        let mut one_map: HashMap<&Labels, (usize, f64)> = HashMap::new();
        for &(i, v) in one {
            if one_map.insert(&one_sig[i], (i, v)).is_some() {
                return Err(LokiError::Query(format!(
                    "several series on the {} side share the matching labels {}; the \"one\" side must be unique",
                    if swap { "left" } else { "right" },
                    one_sig[i]
                )));
            }
        }
        let mut seen_many: std::collections::HashSet<&Labels> = Default::default();
        for &(i, v) in many {
            let Some(&(oi, ov)) = one_map.get(&many_sig[i]) else { continue };
            if m.group.is_none() && !seen_many.insert(&many_sig[i]) {
                return Err(LokiError::Query(format!(
                    "several series on the left side share the matching labels {}; use group_left or group_right for many-to-one matching",
                    many_sig[i]
                )));
            }
            let (a, bb) = if swap { (ov, v) } else { (v, ov) };
            let Some(value) = elem(op, a, bb, m.return_bool, a) else { continue };
            let labels = match &m.group {
                None => signature(&many_ser[i].labels, m),
                Some((_, include)) => {
                    let mut l = many_ser[i].labels.clone();
                    for name in include {
                        match one_ser[oi].labels.get(name) {
                            Some(v) if !v.is_empty() => l.set(name, v),
                            _ => {
                                l.remove(name);
                            }
                        }
                    }
                    l
                }
            };
            if !b.push(&labels, step, value) {
                return Err(LokiError::Query(format!(
                    "the binary operation yields the series {labels} twice at one step"
                )));
            }
        }
    }
    Ok(b.series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(labels: &[(&str, &str)], points: &[(u32, f64)]) -> Series {
        Series {
            labels: Labels::from_pairs(labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()),
            points: points.to_vec(),
        }
    }

    #[test]
    fn quantiles_and_variance() {
        assert_eq!(quantile(0.5, &mut [1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(1.0, &mut [3.0, 1.0]), 3.0);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        assert_eq!(variance([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_iter()), 4.0);
    }

    #[test]
    fn binary_matching() {
        let l = vec![series(&[("a", "1"), ("b", "x")], &[(0, 10.0)]), series(&[("a", "2"), ("b", "y")], &[(0, 20.0)])];
        let r = vec![series(&[("a", "1")], &[(0, 2.0)]), series(&[("a", "2")], &[(0, 4.0)])];
        let on = BinModifiers { matching: Some((true, vec!["a".into()])), ..Default::default() };
        let out = vector_binary(BinOp::Div, &l, &r, &on, 1).unwrap();
        assert_eq!(out, vec![series(&[("a", "1")], &[(0, 5.0)]), series(&[("a", "2")], &[(0, 5.0)])]);
        let gl = BinModifiers {
            matching: Some((true, vec!["a".into()])),
            group: Some((true, vec![])),
            ..Default::default()
        };
        let out = vector_binary(BinOp::Div, &l, &r, &gl, 1).unwrap();
        assert_eq!(out[0].labels.to_string(), "{a=\"1\", b=\"x\"}");
        // No match without on(): label sets differ.
        assert!(vector_binary(BinOp::Add, &l, &r, &BinModifiers::default(), 1).unwrap().is_empty());
        let out = vector_binary(BinOp::Unless, &l, &r, &on, 1).unwrap();
        assert!(out.is_empty());
        let out = vector_binary(BinOp::Or, &l, &[series(&[("a", "3")], &[(0, 1.0)])], &on, 1).unwrap();
        assert_eq!(out.len(), 3);
        let cmp = BinModifiers::default();
        let out =
            binary(BinOp::Cmp(CmpOp::Gt), MetricValue::Vector(l.clone()), MetricValue::Scalar(15.0), &cmp, 1).unwrap();
        let MetricValue::Vector(v) = out else { panic!() };
        assert_eq!(v.iter().map(|s| s.points.len()).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn aggregations() {
        let input = vec![
            series(&[("a", "1"), ("b", "x")], &[(0, 1.0), (1, 5.0)]),
            series(&[("a", "1"), ("b", "y")], &[(0, 3.0)]),
            series(&[("a", "2"), ("b", "y")], &[(0, 2.0), (1, 1.0)]),
        ];
        let by_a = Grouping { without: false, labels: vec!["a".into()] };
        let out = aggregate(AggOp::Sum, Some(&by_a), None, input.clone(), 2);
        assert_eq!(
            out,
            vec![series(&[("a", "1")], &[(0, 4.0), (1, 5.0)]), series(&[("a", "2")], &[(0, 2.0), (1, 1.0)])]
        );
        let out = aggregate(AggOp::Topk, None, Some(1.0), input.clone(), 2);
        assert_eq!(
            out,
            vec![series(&[("a", "1"), ("b", "y")], &[(0, 3.0)]), series(&[("a", "1"), ("b", "x")], &[(1, 5.0)])]
        );
        let out = aggregate(AggOp::Count, Some(&Grouping { without: true, labels: vec!["a".into()] }), None, input, 2);
        assert_eq!(
            out,
            vec![series(&[("b", "x")], &[(0, 1.0), (1, 1.0)]), series(&[("b", "y")], &[(0, 2.0), (1, 1.0)])]
        );
    }
}

// Pharos — query/src/loki/eval.rs
