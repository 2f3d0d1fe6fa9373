//! The evaluator: instant and range queries over the tsdb, step-vector style.
//!
//! Every expression is evaluated once for all steps of the query: a node's value is a matrix whose
//! series carry at most one point per step (`Series`), so each stored series is read once however
//! many steps a range query has. Range-vector arguments (`x[5m]`, subqueries) are kept as raw
//! sample arrays and slid over with two cursors.
//!
//! Metric names are removed late, as Prometheus 3 does with delayed name removal: operations that
//! drop `__name__` only flag the series (`drop_name`), label functions can still read or keep the
//! name, and the flag is applied when the query finishes.

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pharos_storage::StorageError;
use pharos_storage::tsdb::{Label, Labels, METRIC_NAME, Matcher, Sample, Tsdb, is_stale_nan};

use super::ast::{self, At, Expr, Span, UnaryOp, ValueType};
use super::parser::line_col;
use super::value::{MatrixSeries, QueryResult, QueryStats, QueryValue, VectorSample};

/// Where the evaluator reads series from.
pub trait Queryable: Send + Sync {
    /// Every series matching all matchers, in label order, with its samples in `[mint, maxt]`;
    /// `visit` returns `false` to stop.
    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(Labels, &[Sample]) -> bool,
    ) -> Result<(), StorageError>;
}

impl Queryable for Tsdb {
    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        visit: &mut dyn FnMut(Labels, &[Sample]) -> bool,
    ) -> Result<(), StorageError> {
        Tsdb::select_each(self, matchers, mint, maxt, visit)
    }
}

/// Engine settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample. Default 5m.
    pub lookback_delta: i64,
    /// Most samples a query may hold at once. Default 50,000,000 (Prometheus' default).
    pub max_samples: u64,
    /// Longest a query may run. Default 2m.
    pub timeout: Duration,
    /// Step of subqueries written without one (`[5m:]`). Default 1m.
    pub default_subquery_step: i64,
    /// Queries evaluated at once; more wait for a slot (within their timeout). Default 4.
    pub max_concurrency: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: 5 * 60_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: 60_000,
            max_concurrency: 4,
        }
    }
}

/// Why a query failed while running.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    #[error("{0}")]
    Execution(String),
    #[error("{0}")]
    Storage(String),
}

pub(crate) fn exec_err<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError::Execution(message.into()))
}

/// A request to cancel a running query (the HTTP client went away).
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One query to run: an instant query has `start == end` and `step == 0`.
pub struct QuerySpec<'q> {
    pub expr: &'q Expr,
    /// The query text, for annotation positions.
    pub text: &'q str,
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// Per-query lookback override.
    pub lookback_delta: Option<i64>,
}

/// Run a query.
pub fn execute(
    storage: &dyn Queryable,
    options: &EngineOptions,
    spec: &QuerySpec<'_>,
    cancel: &CancelToken,
) -> Result<QueryResult, EvalError> {
    let instant = spec.step == 0;
    let interval = if instant { 1 } else { spec.step };
    if spec.end < spec.start || interval <= 0 {
        return exec_err("the query range must not end before it starts, and its step must be positive");
    }
    if (spec.end as i128 - spec.start as i128) / interval as i128 + 1 > i128::from(options.max_samples) {
        return Err(EvalError::TooManySamples("query preparation"));
    }
    let ctx = Ctx {
        storage,
        options,
        lookback: spec.lookback_delta.unwrap_or(options.lookback_delta),
        query_start: spec.start,
        query_end: spec.end,
        deadline: Instant::now() + options.timeout,
        cancel,
        stats: std::cell::Cell::new(QueryStats::default()),
        current_samples: std::cell::Cell::new(0),
        annotations: std::cell::RefCell::new(Vec::new()),
        check_counter: std::cell::Cell::new(0),
    };
    let ev = Evaluator { ctx: &ctx, start: spec.start, end: spec.end, interval };
    let value = ev.eval(spec.expr)?;
    let result_type = spec.expr.value_type();
    let value = match value {
        Val::String(s) => QueryValue::String { t: spec.start, s },
        Val::Range(range) => {
            // Only an instant query can return a range vector.
            let windows = ev.raw_windows(&range)?;
            ctx.hold(windows.iter().map(|s| s.points.len()).sum(), "matrix selector")?;
            let mut series: Vec<MatrixSeries> = windows
                .into_iter()
                .filter(|s| !s.points.is_empty())
                .map(|s| MatrixSeries {
                    labels: if s.drop_name { drop_metric_name(&s.labels) } else { s.labels },
                    points: s.points,
                })
                .collect();
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            QueryValue::Matrix(series)
        }
        Val::Matrix(matrix) => {
            if result_type == ValueType::Scalar {
                let v = matrix.first().and_then(|s| s.points.first()).map(|p| p.v).unwrap_or(f64::NAN);
                if instant {
                    QueryValue::Scalar { t: spec.start, v }
                } else {
                    let points = matrix.into_iter().next().map(|s| s.points).unwrap_or_default();
                    QueryValue::Matrix(vec![MatrixSeries { labels: Labels::default(), points }])
                }
            } else {
                let matrix = finish_names(matrix)?;
                if instant {
                    QueryValue::Vector(
                        matrix
                            .into_iter()
                            .filter_map(|s| {
                                s.points.first().map(|p| VectorSample { labels: s.labels.clone(), t: p.t, v: p.v })
                            })
                            .collect(),
                    )
                } else {
                    let mut series: Vec<MatrixSeries> = matrix
                        .into_iter()
                        .filter(|s| !s.points.is_empty())
                        .map(|s| MatrixSeries { labels: s.labels, points: s.points })
                        .collect();
                    series.sort_by(|a, b| a.labels.cmp(&b.labels));
                    QueryValue::Matrix(series)
                }
            }
        }
    };
    let (warnings, infos) = ctx.render_annotations(spec.text);
    Ok(QueryResult { value, warnings, infos, stats: ctx.stats.get() })
}

/// Apply delayed name removal to a finished result; series that end up with the same labels are
/// merged when their points do not collide.
fn finish_names(mut matrix: Vec<Series>) -> Result<Vec<Series>, EvalError> {
    if !matrix.iter().any(|s| s.drop_name) {
        return Ok(matrix);
    }
    for s in &mut matrix {
        if s.drop_name {
            s.labels = drop_metric_name(&s.labels);
            s.drop_name = false;
        }
    }
    merge_same_labels(matrix)
}

/// Merge series with identical labels (Prometheus' `mergeSeriesWithSameLabelset`): their points
/// interleave; two points at one step are the "same labelset" error.
pub(crate) fn merge_same_labels(matrix: Vec<Series>) -> Result<Vec<Series>, EvalError> {
    let mut out: Vec<Series> = Vec::with_capacity(matrix.len());
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    for s in matrix {
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                target.drop_name |= s.drop_name;
                target.points.extend(s.points);
                target.points.sort_by_key(|p| p.t);
                if target.points.windows(2).any(|w| w[0].t == w[1].t) {
                    return exec_err("vector cannot contain metrics with the same labelset");
                }
            }
        }
    }
    Ok(out)
}

/// State shared by the evaluators of one query (the top one and those of its subqueries).
pub(crate) struct Ctx<'a> {
    storage: &'a dyn Queryable,
    options: &'a EngineOptions,
    pub(crate) lookback: i64,
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    deadline: Instant,
    cancel: &'a CancelToken,
    stats: std::cell::Cell<QueryStats>,
    current_samples: std::cell::Cell<u64>,
    annotations: std::cell::RefCell<Vec<(AnnotationKind, String, Span)>>,
    check_counter: std::cell::Cell<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnnotationKind {
    Warning,
    Info,
}

impl Ctx<'_> {
    pub(crate) fn annotate(&self, kind: AnnotationKind, message: String, span: Span) {
        let mut list = self.annotations.borrow_mut();
        if !list.iter().any(|(k, m, s)| *k == kind && *m == message && *s == span) {
            list.push((kind, message, span));
        }
    }

    fn render_annotations(&self, text: &str) -> (Vec<String>, Vec<String>) {
        let mut warnings = Vec::new();
        let mut infos = Vec::new();
        for (kind, message, span) in self.annotations.borrow().iter() {
            let (line, col) = line_col(text, span.start as usize);
            match kind {
                AnnotationKind::Warning => warnings.push(format!("PromQL warning: {message} ({line}:{col})")),
                AnnotationKind::Info => infos.push(format!("PromQL info: {message} ({line}:{col})")),
            }
        }
        (warnings, infos)
    }

    /// Check the deadline and cancellation (cheaply: the clock is read every 64 calls).
    pub(crate) fn check(&self, place: &'static str) -> Result<(), EvalError> {
        let n = self.check_counter.get().wrapping_add(1);
        self.check_counter.set(n);
        if self.cancel.is_canceled() {
            return Err(EvalError::Canceled(place));
        }
        if n % 64 == 1 && Instant::now() >= self.deadline {
            return Err(EvalError::Timeout(place));
        }
        Ok(())
    }

    /// Account for `n` more samples held; fails past the limit.
    pub(crate) fn hold(&self, n: usize, place: &'static str) -> Result<(), EvalError> {
        let current = self.current_samples.get() + n as u64;
        if current > self.options.max_samples {
            return Err(EvalError::TooManySamples(place));
        }
        self.current_samples.set(current);
        let mut stats = self.stats.get();
        stats.peak_samples = stats.peak_samples.max(current);
        self.stats.set(stats);
        Ok(())
    }

    pub(crate) fn scanned(&self, n: usize) {
        let mut stats = self.stats.get();
        stats.samples_scanned += n as u64;
        self.stats.set(stats);
    }

    fn loaded(&self, n: usize) {
        let mut stats = self.stats.get();
        stats.samples_loaded += n as u64;
        self.stats.set(stats);
    }
}

/// A series of an instant-vector (or scalar) valued node: at most one point per step.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub(crate) labels: Labels,
    /// `__name__` is to be removed when the query finishes.
    pub(crate) drop_name: bool,
    pub(crate) points: Vec<Sample>,
}

/// A range-vector valued node: where its raw samples come from and how steps map to windows.
pub(crate) struct RangeVal {
    pub(crate) source: RangeSource,
    /// Window length in ms; a step at `t` covers `(r - range, r]` with `r = (at or t) - offset`.
    pub(crate) range: i64,
    pub(crate) offset: i64,
    pub(crate) at: Option<i64>,
    pub(crate) span: Span,
    /// The selector's metric name, for annotations.
    pub(crate) metric_name: Option<String>,
}

/// The series of a range vector: read from storage one at a time (a matrix selector), or
/// computed (a subquery).
pub(crate) enum RangeSource {
    Selector { matchers: Vec<Matcher>, mint: i64, maxt: i64 },
    Series(Vec<RawSeries>),
}

pub(crate) struct RawSeries {
    pub(crate) labels: Labels,
    pub(crate) drop_name: bool,
    pub(crate) ts: Vec<i64>,
    pub(crate) vs: Vec<f64>,
}

pub(crate) enum Val {
    /// Instant vector or scalar (one unlabelled series) per step.
    Matrix(Vec<Series>),
    String(String),
    Range(RangeVal),
}

/// Evaluates expressions over the steps `start, start+interval, …, end`.
pub(crate) struct Evaluator<'a> {
    pub(crate) ctx: &'a Ctx<'a>,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn steps(&self) -> usize {
        ((self.end - self.start) / self.interval) as usize + 1
    }

    pub(crate) fn step_time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval
    }

    pub(crate) fn step_index(&self, t: i64) -> usize {
        ((t - self.start) / self.interval) as usize
    }

    pub(crate) fn resolve_at(&self, at: Option<At>) -> Option<i64> {
        at.map(|a| match a {
            At::Timestamp(t) => t,
            At::Start => self.ctx.query_start,
            At::End => self.ctx.query_end,
        })
    }

    /// A scalar node's value at every step.
    pub(crate) fn scalar_series(&self, f: impl Fn(i64) -> f64) -> Vec<Series> {
        let points = (0..self.steps()).map(|i| {
            let t = self.step_time(i);
            Sample { t, v: f(t) }
        });
        vec![Series { labels: Labels::default(), drop_name: false, points: points.collect() }]
    }

    /// Evaluate a node. Sample accounting: while the node runs, its children's results count
    /// against the limit; once it has its value, only that value does.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<Val, EvalError> {
        let before = self.ctx.current_samples.get();
        let val = self.eval_node(expr)?;
        let size = match &val {
            Val::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
            Val::String(_) | Val::Range(_) => 0,
        };
        self.ctx.current_samples.set(before);
        self.ctx.hold(size, "expression evaluation")?;
        Ok(val)
    }

    fn eval_node(&self, expr: &Expr) -> Result<Val, EvalError> {
        self.ctx.check("expression evaluation")?;
        match expr {
            Expr::Number { value, .. } => {
                let v = *value;
                Ok(Val::Matrix(self.scalar_series(|_| v)))
            }
            Expr::String { value, .. } => Ok(Val::String(value.clone())),
            Expr::Paren { expr, .. } => self.eval(expr),
            Expr::Unary { op, expr, .. } => {
                let val = self.eval(expr)?;
                match (op, val) {
                    (UnaryOp::Pos, val) => Ok(val),
                    (UnaryOp::Neg, Val::Matrix(mut m)) => {
                        let is_vector = expr.value_type() == ValueType::Vector;
                        for s in &mut m {
                            for p in &mut s.points {
                                p.v = -p.v;
                            }
                            if is_vector {
                                s.drop_name = true;
                            }
                        }
                        Ok(Val::Matrix(m))
                    }
                    (UnaryOp::Neg, _) => exec_err("unary minus is only defined for scalars and instant vectors"),
                }
            }
            Expr::VectorSelector(vs) => Ok(Val::Matrix(self.eval_vector_selector(vs)?)),
            Expr::MatrixSelector(ms) => Ok(Val::Range(self.eval_matrix_selector(ms)?)),
            Expr::Subquery(sq) => Ok(Val::Range(self.eval_subquery(sq)?)),
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Call(c) => self.eval_call(c),
        }
    }

    /// Evaluate a node that must be an instant vector or scalar.
    pub(crate) fn eval_matrix(&self, expr: &Expr) -> Result<Vec<Series>, EvalError> {
        match self.eval(expr)? {
            Val::Matrix(m) => Ok(m),
            Val::String(_) => exec_err("expected an instant vector or scalar, got a string"),
            Val::Range(_) => exec_err("expected an instant vector or scalar, got a range vector"),
        }
    }

    /// A scalar argument's value at each step (NaN where it has none).
    pub(crate) fn eval_scalar_steps(&self, expr: &Expr) -> Result<Vec<f64>, EvalError> {
        let m = self.eval_matrix(expr)?;
        let mut values = vec![f64::NAN; self.steps()];
        if let Some(s) = m.first() {
            for p in &s.points {
                values[self.step_index(p.t)] = p.v;
            }
        }
        Ok(values)
    }

    pub(crate) fn eval_string(&self, expr: &Expr) -> Result<String, EvalError> {
        match self.eval(expr)? {
            Val::String(s) => Ok(s),
            _ => exec_err("expected a string"),
        }
    }

    pub(crate) fn eval_range(&self, expr: &Expr) -> Result<RangeVal, EvalError> {
        match self.eval(expr)? {
            Val::Range(r) => Ok(r),
            _ => exec_err("expected a range vector"),
        }
    }

    /// The reference times of every step for a selector with `offset` and `@`.
    fn ref_times(&self, offset: i64, at: Option<i64>) -> (i64, i64) {
        match at {
            Some(t) => (t.saturating_sub(offset), t.saturating_sub(offset)),
            None => (self.start.saturating_sub(offset), self.end.saturating_sub(offset)),
        }
    }

    /// Stream the series matching `matchers` through `f`, one at a time; the first error stops
    /// the walk and is returned.
    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(Labels, &[Sample]) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let mut failed = None;
        let mut loaded = 0usize;
        self.ctx
            .storage
            .select_each(matchers, mint, maxt, &mut |labels, samples| {
                loaded += samples.len();
                match self.ctx.check("series selection").and_then(|()| f(labels, samples)) {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            })
            .map_err(|e| EvalError::Storage(e.to_string()))?;
        self.ctx.loaded(loaded);
        failed.map_or(Ok(()), Err)
    }

    /// Call `f(labels, drop_name, ts, vs)` for every series of a range vector (staleness markers
    /// left out), reading a selector's series from storage one at a time.
    pub(crate) fn for_each_range_series(
        &self,
        range: &RangeVal,
        mut f: impl FnMut(Labels, bool, &[i64], &[f64]) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        match &range.source {
            RangeSource::Series(list) => {
                for s in list {
                    self.ctx.check("range vector")?;
                    f(s.labels.clone(), s.drop_name, &s.ts, &s.vs)?;
                }
                Ok(())
            }
            RangeSource::Selector { matchers, mint, maxt } => {
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                self.select_each(matchers, *mint, *maxt, |labels, samples| {
                    ts.clear();
                    vs.clear();
                    for p in samples.iter().filter(|p| !is_stale_nan(p.v)) {
                        ts.push(p.t);
                        vs.push(p.v);
                    }
                    f(labels, false, &ts, &vs)
                })
            }
        }
    }

    fn eval_vector_selector(&self, vs: &ast::VectorSelector) -> Result<Vec<Series>, EvalError> {
        self.select_at_steps(vs, false)
    }

    /// For `timestamp(selector)`: the selected samples' own timestamps (seconds) per step.
    pub(crate) fn eval_selector_timestamps(&self, vs: &ast::VectorSelector) -> Result<Vec<Series>, EvalError> {
        self.select_at_steps(vs, true)
    }

    /// An instant selector at every step: the newest sample in the left-open lookback window
    /// `(r - lookback, r]`, `r` = (`@` time or the step) − offset; a staleness marker there means
    /// no sample. The point carries the sample's value, or its timestamp in seconds.
    fn select_at_steps(&self, vs: &ast::VectorSelector, timestamps: bool) -> Result<Vec<Series>, EvalError> {
        let at = self.resolve_at(vs.at);
        let (first_ref, last_ref) = self.ref_times(vs.offset, at);
        let lookback = self.ctx.lookback;
        let matchers = to_storage_matchers(&vs.matchers)?;
        let mut out = Vec::new();
        self.select_each(&matchers, first_ref.saturating_sub(lookback).saturating_add(1), last_ref, |labels, samples| {
            let mut points = Vec::new();
            let mut cursor = 0usize;
            for i in 0..self.steps() {
                let t = self.step_time(i);
                let r = at.unwrap_or(t).saturating_sub(vs.offset);
                // Newest sample at or before r.
                while cursor < samples.len() && samples[cursor].t <= r {
                    cursor += 1;
                }
                let Some(sample) = cursor.checked_sub(1).map(|c| samples[c]) else { continue };
                if sample.t <= r.saturating_sub(lookback) || is_stale_nan(sample.v) {
                    continue;
                }
                points.push(Sample { t, v: if timestamps { sample.t as f64 / 1000.0 } else { sample.v } });
            }
            self.ctx.scanned(points.len());
            if !points.is_empty() {
                self.ctx.hold(points.len(), "vector selector")?;
                out.push(Series { labels, drop_name: timestamps, points });
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn eval_matrix_selector(&self, ms: &ast::MatrixSelector) -> Result<RangeVal, EvalError> {
        let vs = &ms.selector;
        let at = self.resolve_at(vs.at);
        let (first_ref, last_ref) = self.ref_times(vs.offset, at);
        let source =
            RangeSource::Selector { matchers: to_storage_matchers(&vs.matchers)?, mint: first_ref.saturating_sub(ms.range).saturating_add(1), maxt: last_ref };
        Ok(RangeVal { source, range: ms.range, offset: vs.offset, at, span: ms.span, metric_name: vs.name.clone() })
    }

    fn eval_subquery(&self, sq: &ast::Subquery) -> Result<RangeVal, EvalError> {
        let at = self.resolve_at(sq.at);
        let interval = sq.step.unwrap_or(self.ctx.options.default_subquery_step).max(1);
        let (first_ref, last_ref) = self.ref_times(sq.offset, at);
        let lower = first_ref.saturating_sub(sq.range);
        // The first step-aligned time after the start of the first window.
        let mut start = interval.saturating_mul(lower / interval);
        if start <= lower {
            start = start.saturating_add(interval);
        }
        let end = last_ref;
        let mut series = Vec::new();
        if start <= end {
            // Every step of the inner evaluation is a potential sample: refuse before allocating
            // per-step buffers for a grid larger than the sample limit.
            let steps = ((end as i128 - start as i128) / interval as i128 + 1) as u128;
            if steps > u128::from(self.ctx.options.max_samples) {
                return Err(EvalError::TooManySamples("subquery evaluation"));
            }
            let inner = Evaluator { ctx: self.ctx, start, end, interval };
            let m = inner.eval_matrix(&sq.expr)?;
            for s in m {
                let ts = s.points.iter().map(|p| p.t).collect();
                let vs = s.points.iter().map(|p| p.v).collect();
                series.push(RawSeries { labels: s.labels, drop_name: s.drop_name, ts, vs });
            }
        }
        Ok(RangeVal {
            source: RangeSource::Series(series),
            range: sq.range,
            offset: sq.offset,
            at,
            span: sq.span,
            metric_name: None,
        })
    }

    /// The window of every step for one series: `(lo, hi)` index ranges into `ts`.
    pub(crate) fn windows(&self, range: &RangeVal, ts: &[i64]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        self.windows_into(range, ts, &mut out);
        out
    }

    /// [`Evaluator::windows`] into a reused buffer.
    pub(crate) fn windows_into(&self, range: &RangeVal, ts: &[i64], out: &mut Vec<(usize, usize)>) {
        let steps = self.steps();
        out.clear();
        out.reserve(steps);
        let (mut lo, mut hi) = (0usize, 0usize);
        for i in 0..steps {
            let t = self.step_time(i);
            let r = range.at.unwrap_or(t).saturating_sub(range.offset);
            let mint = r.saturating_sub(range.range);
            if range.at.is_some() {
                lo = ts.partition_point(|&x| x <= mint);
                hi = ts.partition_point(|&x| x <= r);
            } else {
                while lo < ts.len() && ts[lo] <= mint {
                    lo += 1;
                }
                if hi < lo {
                    hi = lo;
                }
                while hi < ts.len() && ts[hi] <= r {
                    hi += 1;
                }
            }
            out.push((lo, hi));
        }
    }

    /// A range vector as the result of an instant query: each series' samples in its window.
    fn raw_windows(&self, range: &RangeVal) -> Result<Vec<Series>, EvalError> {
        let mut out = Vec::new();
        self.for_each_range_series(range, |labels, drop_name, ts, vs| {
            let (lo, hi) = self.windows(range, ts).first().copied().unwrap_or((0, 0));
            let points = (lo..hi).map(|i| Sample { t: ts[i], v: vs[i] }).collect();
            out.push(Series { labels, drop_name, points });
            Ok(())
        })?;
        Ok(out)
    }
}

/// Compile parser matchers into storage matchers.
pub(crate) fn to_storage_matchers(matchers: &[ast::LabelMatcher]) -> Result<Vec<Matcher>, EvalError> {
    matchers
        .iter()
        .map(|m| {
            let op = match m.op {
                ast::MatchOp::Equal => pharos_storage::tsdb::MatchOp::Equal,
                ast::MatchOp::NotEqual => pharos_storage::tsdb::MatchOp::NotEqual,
                ast::MatchOp::Regex => pharos_storage::tsdb::MatchOp::Regex,
                ast::MatchOp::NotRegex => pharos_storage::tsdb::MatchOp::NotRegex,
            };
            Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| EvalError::Execution(e.to_string()))
        })
        .collect()
}

pub(crate) fn drop_metric_name(labels: &Labels) -> Labels {
    if labels.get(METRIC_NAME).is_none() {
        return labels.clone();
    }
    labels_from_sorted(labels.iter().filter(|l| l.name != METRIC_NAME).cloned().collect())
}

/// Labels from pairs already sorted by name with unique names (empty values are dropped).
pub(crate) fn labels_from_sorted(pairs: Vec<Label>) -> Labels {
    Labels::from_pairs(pairs.into_iter().filter(|l| !l.value.is_empty()).map(|l| (l.name, l.value)))
}

/// `{a="b", c="d"}` — Prometheus' `labels.String()`, used in error messages.
pub(crate) fn braced_labels(labels: &Labels) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&l.name);
        s.push('=');
        s.push_str(&format!("{:?}", l.value));
    }
    s.push('}');
    s
}

/// Collects per-step output samples into series keyed by labels; a second sample for the same
/// labels at the same step is Prometheus' "same labelset" error.
pub(crate) struct SeriesCollector {
    pub(crate) series: Vec<Series>,
    index: FxHashMap<Labels, usize>,
}

impl SeriesCollector {
    pub(crate) fn new() -> Self {
        SeriesCollector { series: Vec::new(), index: FxHashMap::default() }
    }

    /// The output series for these labels, created on first use.
    pub(crate) fn series_for(&mut self, labels: Labels, drop_name: bool) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            if drop_name {
                self.series[i].drop_name = true;
            }
            return i;
        }
        let i = self.series.len();
        self.index.insert(labels.clone(), i);
        self.series.push(Series { labels, drop_name, points: Vec::new() });
        i
    }

    pub(crate) fn push(&mut self, i: usize, t: i64, v: f64) -> Result<(), EvalError> {
        let points = &mut self.series[i].points;
        if points.last().is_some_and(|p| p.t == t) {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
        points.push(Sample { t, v });
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<Series> {
        self.series.into_iter().filter(|s| !s.points.is_empty()).collect()
    }
}

/// The samples of a matrix regrouped by step: `(series index, value)` per step.
pub(crate) fn by_step(ev: &Evaluator<'_>, m: &[Series]) -> Vec<Vec<(usize, f64)>> {
    let mut steps: Vec<Vec<(usize, f64)>> = vec![Vec::new(); ev.steps()];
    for (i, s) in m.iter().enumerate() {
        for p in &s.points {
            steps[ev.step_index(p.t)].push((i, p.v));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::parse;
    use pharos_storage::tsdb::SeriesSamples;

    /// A fixed set of series, for evaluating without a tsdb.
    struct Fixed(Vec<SeriesSamples>);

    impl Queryable for Fixed {
        fn select_each(
            &self,
            matchers: &[Matcher],
            mint: i64,
            maxt: i64,
            visit: &mut dyn FnMut(Labels, &[Sample]) -> bool,
        ) -> Result<(), StorageError> {
            for s in &self.0 {
                if matchers.iter().all(|m| m.matches(s.labels.get(&m.name).unwrap_or(""))) {
                    let samples: Vec<Sample> = s.samples.iter().copied().filter(|p| p.t >= mint && p.t <= maxt).collect();
                    if !samples.is_empty() && !visit(s.labels.clone(), &samples) {
                        break;
                    }
                }
            }
            Ok(())
        }
    }

    fn counter(name: &str, job: &str, step: i64, n: i64) -> SeriesSamples {
        SeriesSamples {
            labels: Labels::from_pairs([("__name__", name), ("job", job)]),
            samples: (0..n).map(|i| Sample { t: i * step, v: i as f64 }).collect(),
        }
    }

    fn run(
        storage: &Fixed,
        options: &EngineOptions,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        cancel: &CancelToken,
    ) -> Result<QueryResult, EvalError> {
        let expr = parse(query).unwrap();
        execute(
            storage,
            options,
            &QuerySpec { expr: &expr, text: query, start, end, step, lookback_delta: None },
            cancel,
        )
    }

    #[test]
    fn series_that_become_identical_merge_unless_their_points_collide() {
        let s = |name: &str, t: i64| Series {
            labels: Labels::from_pairs([("__name__", name), ("a", "b")]),
            drop_name: true,
            points: vec![Sample { t, v: 1.0 }],
        };
        let merged = finish_names(vec![s("x", 0), s("y", 10)]).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].labels, Labels::from_pairs([("a", "b")]));
        assert_eq!(merged[0].points.len(), 2);
        let err = finish_names(vec![s("x", 0), s("y", 0)]).unwrap_err();
        assert_eq!(err.to_string(), "vector cannot contain metrics with the same labelset");
    }

    #[test]
    fn a_canceled_query_stops_with_canceled() {
        let storage = Fixed(vec![counter("x_total", "a", 15_000, 100)]);
        let cancel = CancelToken::default();
        cancel.cancel();
        let err =
            run(&storage, &EngineOptions::default(), "rate(x_total[5m])", 0, 1_000_000, 15_000, &cancel).unwrap_err();
        assert!(matches!(err, EvalError::Canceled(_)), "{err}");
    }

    #[test]
    fn too_many_samples_is_an_execution_limit() {
        let storage = Fixed(vec![counter("x_total", "a", 15_000, 100), counter("x_total", "b", 15_000, 100)]);
        let options = EngineOptions { max_samples: 100, ..EngineOptions::default() };
        let ok = run(&storage, &options, "sum(x_total)", 0, 600_000, 15_000, &CancelToken::default()).unwrap();
        assert!(ok.stats.peak_samples <= 100, "{:?}", ok.stats);
        let err = run(&storage, &options, "x_total", 0, 1_485_000, 15_000, &CancelToken::default()).unwrap_err();
        assert!(matches!(err, EvalError::TooManySamples(_)), "{err}");
    }

    #[test]
    fn range_queries_read_each_series_once_and_count_scanned_samples() {
        let storage = Fixed(vec![counter("x_total", "a", 15_000, 241)]);
        let r = run(
            &storage,
            &EngineOptions::default(),
            "rate(x_total[1m])",
            60_000,
            3_600_000,
            60_000,
            &CancelToken::default(),
        )
        .unwrap();
        let QueryValue::Matrix(m) = &r.value else { panic!("{:?}", r.value) };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].points.len(), 60);
        assert!(m[0].points.iter().all(|p| (p.v - 1.0 / 15.0).abs() < 1e-12), "{:?}", m[0].points);
        // Each 1m window (left-open) holds 4 samples of a 15 s series.
        assert_eq!(r.stats.samples_scanned, 60 * 4);
        assert_eq!(r.stats.samples_loaded, 240, "samples in (0, 3600s] read once");
    }

    #[test]
    fn hostile_queries_get_errors_or_answers_never_a_panic() {
        let storage = Fixed(vec![counter("x_total", "a", 15_000, 100)]);
        let options = EngineOptions::default();
        for query in [
            "sum_over_time(vector(1)[200y:1ms])",
            "x_total @ 9223372036854775",
            "x_total @ -9223372036854775",
            "x_total offset 200y",
            "x_total offset -200y",
            "rate(x_total[200y])",
            "rate(x_total[1ms] offset 200y @ 9223372036854775)",
            "max_over_time(x_total[200y:1y] @ -9223372036854775)",
            "topk(1e300, x_total)",
            "topk(-1e300, x_total)",
            "quantile(NaN, x_total)",
            "histogram_quantile(0.5, x_total)",
            "label_replace(x_total, \"a\", \"$99999999999\", \"job\", \"(.*)\")",
            "count_values(\"job\", x_total)",
            "x_total / on(job) group_left x_total",
            "absent(nonexistent{a=\"b\", a=~\"c\"})",
            // As deep as the parser allows.
            &format!("x_total{}", " or x_total".repeat(120)),
            &format!("{}x_total{}", "abs(".repeat(120), ")".repeat(120)),
            &format!("{}x_total{}", "sum(".repeat(60), ")".repeat(60)),
        ] {
            let expr = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            for (start, end, step) in [(0, 0, 0), (0, 3_600_000, 60_000), (i64::MIN / 4, i64::MIN / 4, 0)] {
                let spec = QuerySpec { expr: &expr, text: query, start, end, step, lookback_delta: None };
                let _ = execute(&storage, &options, &spec, &CancelToken::default());
            }
        }
    }
}

// Pharos — query/src/promql/engine.rs
