//! Function calls: range-vector functions slid over windows, element-wise math, label
//! functions, classic-bucket `histogram_quantile` and the rest of Prometheus' function list.

use rustc_hash::FxHashMap;

use pharos_storage::tsdb::{Label, Labels, METRIC_NAME, Sample};

use super::aggregate::valid_label_name;
use super::ast::{self, Call, Expr, MatchOp};
use super::engine::{
    AnnotationKind, EvalError, Evaluator, RangeVal, Series, Val, by_step, exec_err, labels_from_sorted,
    merge_same_labels,
};
use super::math::aggregate::quantile_is_invalid;
use super::math::{date, histogram, instant, range};
use super::number::format_go_float;

/// Range functions whose result keeps the metric name.
fn range_keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}

impl Evaluator<'_> {
    pub(crate) fn eval_call(&self, c: &Call) -> Result<Val, EvalError> {
        let name = c.func.name;
        if c.func.experimental && !EXPERIMENTAL_ENABLED.contains(&name) {
            return exec_err(format!("function {name:?} is experimental and not enabled"));
        }
        if let Some(idx) = c.args.iter().position(|a| a.value_type() == ast::ValueType::Matrix) {
            return self.eval_range_call(c, idx);
        }
        let out = match name {
            "time" => self.scalar_series(|t| t as f64 / 1000.0),
            "pi" => self.scalar_series(|_| std::f64::consts::PI),
            "vector" => {
                let values = self.eval_scalar_steps(&c.args[0])?;
                let points = (0..self.steps()).map(|i| Sample { t: self.step_time(i), v: values[i] }).collect();
                vec![Series { labels: Labels::default(), drop_name: false, points }]
            }
            "scalar" => {
                let m = self.eval_matrix(&c.args[0])?;
                let steps = by_step(self, &m);
                let points = steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Sample { t: self.step_time(i), v: if s.len() == 1 { s[0].1 } else { f64::NAN } });
                vec![Series { labels: Labels::default(), drop_name: false, points: points.collect() }]
            }
            "timestamp" => match unwrap_parens(&c.args[0]) {
                Expr::VectorSelector(vs) => self.eval_selector_timestamps(vs)?,
                _ => {
                    let mut m = self.eval_matrix(&c.args[0])?;
                    for s in &mut m {
                        for p in &mut s.points {
                            p.v = p.t as f64 / 1000.0;
                        }
                        s.drop_name = true;
                    }
                    m
                }
            },
            "absent" => {
                let m = self.eval_matrix(&c.args[0])?;
                let present: Vec<bool> = by_step(self, &m).iter().map(|s| !s.is_empty()).collect();
                let labels = absent_labels(&c.args[0]);
                let points = (0..self.steps())
                    .filter(|&i| !present[i])
                    .map(|i| Sample { t: self.step_time(i), v: 1.0 })
                    .collect::<Vec<_>>();
                if points.is_empty() { Vec::new() } else { vec![Series { labels, drop_name: false, points }] }
            }
            "sort" | "sort_desc" => {
                if self.steps() > 1 {
                    self.ctx.annotate(
                        AnnotationKind::Warning,
                        format!("sort is ineffective for range queries since results are always ordered by labels"),
                        c.span,
                    );
                }
                let mut m = self.eval_matrix(&c.args[0])?;
                if self.steps() == 1 {
                    let desc = name == "sort_desc";
                    m.sort_by(|a, b| {
                        let (x, y) = (a.points[0].v, b.points[0].v);
                        // NaN sorts last in both directions.
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => y.partial_cmp(&x).unwrap(),
                            _ => x.partial_cmp(&y).unwrap(),
                        }
                    });
                }
                m
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let mut m = self.eval_matrix(&c.args[0])?;
                let mut names = Vec::new();
                for a in &c.args[1..] {
                    names.push(self.eval_string(a)?);
                }
                let desc = name == "sort_by_label_desc";
                m.sort_by(|a, b| {
                    for n in &names {
                        let o = natural_cmp(a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                        if o != std::cmp::Ordering::Equal {
                            return if desc { o.reverse() } else { o };
                        }
                    }
                    if desc { b.labels.cmp(&a.labels) } else { a.labels.cmp(&b.labels) }
                });
                m
            }
            "label_replace" => self.label_replace(c)?,
            "label_join" => self.label_join(c)?,
            "histogram_quantile" => self.histogram_quantile(c)?,
            "histogram_fraction" => self.histogram_fraction(c)?,
            // Native-histogram functions: float samples carry no histogram, so no output.
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
                self.eval_matrix(&c.args[0])?;
                Vec::new()
            }
            "round" => {
                let mut m = self.eval_matrix(&c.args[0])?;
                let to = match c.args.get(1) {
                    Some(a) => self.eval_scalar_steps(a)?,
                    None => vec![1.0; self.steps()],
                };
                for s in &mut m {
                    for p in &mut s.points {
                        p.v = instant::round(p.v, to[self.step_index(p.t)]);
                    }
                    s.drop_name = true;
                }
                m
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let mut m = self.eval_matrix(&c.args[0])?;
                let a1 = self.eval_scalar_steps(&c.args[1])?;
                let a2 = if name == "clamp" { Some(self.eval_scalar_steps(&c.args[2])?) } else { None };
                for s in &mut m {
                    s.points.retain_mut(|p| {
                        let i = self.step_index(p.t);
                        let v = match name {
                            "clamp" => instant::clamp(p.v, a1[i], a2.as_ref().map(|a| a[i]).unwrap_or(f64::NAN)),
                            "clamp_min" => Some(instant::clamp_min(p.v, a1[i])),
                            _ => Some(instant::clamp_max(p.v, a1[i])),
                        };
                        match v {
                            Some(v) => {
                                p.v = v;
                                true
                            }
                            None => false,
                        }
                    });
                    s.drop_name = true;
                }
                m.retain(|s| !s.points.is_empty());
                m
            }
            "minute" | "hour" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "month" | "year" => {
                let f = date::date_function(name).expect("date function");
                if c.args.is_empty() {
                    self.scalar_series(|t| f(date::eval_time_seconds(t)))
                        .into_iter()
                        .map(|mut s| {
                            s.drop_name = true;
                            s
                        })
                        .collect()
                } else {
                    let mut m = self.eval_matrix(&c.args[0])?;
                    for s in &mut m {
                        for p in &mut s.points {
                            p.v = f(p.v);
                        }
                        s.drop_name = true;
                    }
                    m
                }
            }
            _ => {
                if let Some(f) = instant::math_function(name) {
                    let mut m = self.eval_matrix(&c.args[0])?;
                    for s in &mut m {
                        for p in &mut s.points {
                            p.v = f(p.v);
                        }
                        s.drop_name = true;
                    }
                    m
                } else {
                    return exec_err(format!("function {name:?} is not supported"));
                }
            }
        };
        Ok(Val::Matrix(out))
    }

    /// A function with a range-vector argument, slid over each series' windows.
    fn eval_range_call(&self, c: &Call, idx: usize) -> Result<Val, EvalError> {
        let name = c.func.name;
        // Scalar parameters are evaluated before the range argument.
        let mut params: Vec<Vec<f64>> = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if i != idx {
                params.push(self.eval_scalar_steps(a)?);
            }
        }
        let range = self.eval_range(&c.args[idx])?;
        if matches!(name, "rate" | "increase") {
            if let Some(metric) = &range.metric_name {
                if !is_counter_name(metric) {
                    self.ctx.annotate(
                        AnnotationKind::Info,
                        format!(
                            "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                        ),
                        range.span,
                    );
                }
            }
        }
        if name == "quantile_over_time" {
            self.warn_invalid_quantiles(&params[0], c.args[0].span());
        }
        if name == "absent_over_time" {
            return Ok(Val::Matrix(self.absent_over_time(c, &range)?));
        }
        let keep_name = range_keeps_name(name);
        let func = RangeFn::resolve(name)?;
        let counter = matches!(func, RangeFn::Rate | RangeFn::Increase);
        let mut out = Vec::new();
        let mut scanned = 0usize;
        let mut resets: Vec<u32> = Vec::new();
        let mut windows: Vec<(usize, usize)> = Vec::new();
        let mut extremum = range::SlidingExtremum::new(matches!(func, RangeFn::Extremum(true)));
        self.for_each_range_series(&range, |labels, drop_name, all_ts, all_vs| {
            extremum.reset();
            if counter {
                // resets[i]: counter resets among the first i + 1 samples, so a window without
                // any skips the scan for them.
                resets.clear();
                let mut n = 0u32;
                resets.push(0);
                for w in all_vs.windows(2) {
                    n += u32::from(w[1] < w[0]);
                    resets.push(n);
                }
            }
            self.windows_into(&range, all_ts, &mut windows);
            let mut points = Vec::new();
            for (i, &(lo, hi)) in windows.iter().enumerate() {
                if lo >= hi {
                    continue;
                }
                scanned += hi - lo;
                let t = self.step_time(i);
                let r = range.at.unwrap_or(t).saturating_sub(range.offset);
                let (ts, vs) = (&all_ts[lo..hi], &all_vs[lo..hi]);
                let v = match func {
                    RangeFn::Rate | RangeFn::Increase => {
                        let may_reset = resets[hi - 1] != resets[lo];
                        let is_rate = matches!(func, RangeFn::Rate);
                        range::extrapolated_rate_with(ts, vs, r.saturating_sub(range.range), r, true, is_rate, may_reset)
                    }
                    RangeFn::Delta => range::delta(ts, vs, r.saturating_sub(range.range), r),
                    RangeFn::Irate => range::irate(ts, vs),
                    RangeFn::Idelta => range::idelta(ts, vs),
                    RangeFn::Deriv => range::deriv(ts, vs),
                    RangeFn::PredictLinear => range::predict_linear(ts, vs, t, params[0][i]),
                    RangeFn::Extremum(_) => extremum.window(all_vs, lo, hi),
                    RangeFn::Values(f) => f(vs),
                    RangeFn::Times(f) => f(ts, vs),
                    RangeFn::Quantile => range::quantile_over_time(params[0][i], vs),
                    RangeFn::Smoothing => range::double_exponential_smoothing(vs, params[0][i], params[1][i])
                        .map_err(|e| EvalError::Execution(e.to_string()))?,
                };
                if let Some(v) = v {
                    points.push(Sample { t, v });
                }
            }
            if !points.is_empty() {
                self.ctx.hold(points.len(), "range function")?;
                out.push(Series { labels, drop_name: drop_name || !keep_name, points });
            }
            Ok(())
        })?;
        self.ctx.scanned(scanned);
        Ok(Val::Matrix(out))
    }

    fn absent_over_time(&self, c: &Call, range: &RangeVal) -> Result<Vec<Series>, EvalError> {
        let mut present = vec![false; self.steps()];
        self.for_each_range_series(range, |_, _, ts, _| {
            for (i, &(lo, hi)) in self.windows(range, ts).iter().enumerate() {
                if lo < hi {
                    present[i] = true;
                }
            }
            Ok(())
        })?;
        let points: Vec<Sample> =
            (0..self.steps()).filter(|&i| !present[i]).map(|i| Sample { t: self.step_time(i), v: 1.0 }).collect();
        if points.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Series { labels: absent_labels(&c.args[0]), drop_name: false, points }])
    }

    fn label_replace(&self, c: &Call) -> Result<Vec<Series>, EvalError> {
        let m = self.eval_matrix(&c.args[0])?;
        let dst = self.eval_string(&c.args[1])?;
        let replacement = self.eval_string(&c.args[2])?;
        let src = self.eval_string(&c.args[3])?;
        let pattern = self.eval_string(&c.args[4])?;
        let re = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
            EvalError::Execution(format!("invalid regular expression in label_replace(): {pattern}: {e}"))
        })?;
        if !valid_label_name(&dst) {
            return exec_err(format!("invalid destination label name in label_replace(): {dst}"));
        }
        let mut out = Vec::with_capacity(m.len());
        for mut s in m {
            let value = s.labels.get(&src).unwrap_or("");
            if let Some(caps) = re.captures(value) {
                let mut res = String::new();
                // Go's template syntax ($1, ${1}, $name; `$1x` names group "1x") is the regex
                // crate's.
                caps.expand(&replacement, &mut res);
                s.labels = set_label(&s.labels, &dst, &res);
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
            }
            out.push(s);
        }
        merge_same_labels(out)
    }

    fn label_join(&self, c: &Call) -> Result<Vec<Series>, EvalError> {
        let m = self.eval_matrix(&c.args[0])?;
        let dst = self.eval_string(&c.args[1])?;
        let sep = self.eval_string(&c.args[2])?;
        let mut srcs = Vec::new();
        for a in &c.args[3..] {
            let s = self.eval_string(a)?;
            if !valid_label_name(&s) {
                return exec_err(format!("invalid source label name in label_join(): {s}"));
            }
            srcs.push(s);
        }
        if !valid_label_name(&dst) {
            return exec_err(format!("invalid destination label name in label_join(): {dst}"));
        }
        let mut out = Vec::with_capacity(m.len());
        for mut s in m {
            let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
            let joined = joined.join(&sep);
            s.labels = set_label(&s.labels, &dst, &joined);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
            out.push(s);
        }
        merge_same_labels(out)
    }

    fn histogram_quantile(&self, c: &Call) -> Result<Vec<Series>, EvalError> {
        let q = self.eval_scalar_steps(&c.args[0])?;
        let m = self.eval_matrix(&c.args[1])?;
        // Prometheus warns at every step, whether or not there are buckets.
        self.warn_invalid_quantiles(&q, c.args[0].span());
        self.classic_buckets(&m, &c.args[1], |step, labels, buckets| {
            let result = histogram::bucket_quantile(q[step], buckets);
            if result.forced_monotonicity {
                self.ctx.annotate(
                    AnnotationKind::Info,
                    format!(
                        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                        labels.metric_name().unwrap_or("")
                    ),
                    c.args[1].span(),
                );
            }
            result.value
        })
    }

    /// Prometheus' warning for a quantile parameter outside [0, 1] (or NaN), once per value.
    pub(crate) fn warn_invalid_quantiles(&self, q: &[f64], span: ast::Span) {
        for &v in q {
            if quantile_is_invalid(v) {
                self.ctx.annotate(
                    AnnotationKind::Warning,
                    format!("quantile value should be between 0 and 1, got {}", format_go_float(v)),
                    span,
                );
            }
        }
    }

    fn histogram_fraction(&self, c: &Call) -> Result<Vec<Series>, EvalError> {
        let lower = self.eval_scalar_steps(&c.args[0])?;
        let upper = self.eval_scalar_steps(&c.args[1])?;
        let m = self.eval_matrix(&c.args[2])?;
        self.classic_buckets(&m, &c.args[2], |step, _, buckets| {
            histogram::bucket_fraction(lower[step], upper[step], buckets)
        })
    }

    /// Classic histograms: bucket series grouped by their labels without `le`; `f` turns one
    /// group's buckets at one step into the output value.
    fn classic_buckets(
        &self,
        m: &[Series],
        arg: &Expr,
        mut f: impl FnMut(usize, &Labels, &mut Vec<histogram::Bucket>) -> f64,
    ) -> Result<Vec<Series>, EvalError> {
        let mut groups: Vec<Labels> = Vec::new();
        let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
        let mut bucket_of: Vec<Option<(usize, f64)>> = Vec::with_capacity(m.len());
        for s in m {
            let le = s.labels.get("le");
            match le.and_then(parse_le) {
                None => {
                    self.ctx.annotate(
                        AnnotationKind::Warning,
                        format!(
                            "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                            le.unwrap_or(""),
                            s.labels.metric_name().unwrap_or("")
                        ),
                        arg.span(),
                    );
                    bucket_of.push(None);
                }
                Some(bound) => {
                    let key = labels_from_sorted(s.labels.iter().filter(|l| l.name != "le").cloned().collect());
                    let g = *index.entry(key.clone()).or_insert_with(|| {
                        groups.push(key);
                        groups.len() - 1
                    });
                    bucket_of.push(Some((g, bound)));
                }
            }
        }
        let mut out: Vec<Series> = groups
            .iter()
            .map(|labels| Series { labels: labels.clone(), drop_name: true, points: Vec::new() })
            .collect();
        let mut buckets: Vec<Vec<histogram::Bucket>> = vec![Vec::new(); groups.len()];
        for (step, samples) in by_step(self, m).iter().enumerate() {
            if samples.is_empty() {
                continue;
            }
            for b in buckets.iter_mut() {
                b.clear();
            }
            for &(i, v) in samples {
                if let Some((g, bound)) = bucket_of[i] {
                    buckets[g].push(histogram::Bucket { upper_bound: bound, count: v });
                }
            }
            let t = self.step_time(step);
            for (g, b) in buckets.iter_mut().enumerate() {
                if !b.is_empty() {
                    let v = f(step, &groups[g], b);
                    out[g].points.push(Sample { t, v });
                }
            }
        }
        out.retain(|s| !s.points.is_empty());
        Ok(out)
    }
}

/// A range-vector function, resolved once per call rather than per window.
#[derive(Clone, Copy)]
enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Deriv,
    PredictLinear,
    Quantile,
    Smoothing,
    /// `max_over_time` (true) or `min_over_time` (false), slid over the windows.
    Extremum(bool),
    /// A function of the window's values.
    Values(fn(&[f64]) -> Option<f64>),
    /// A function of the window's timestamps and values.
    Times(fn(&[i64], &[f64]) -> Option<f64>),
}

impl RangeFn {
    fn resolve(name: &str) -> Result<RangeFn, EvalError> {
        Ok(match name {
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "deriv" => RangeFn::Deriv,
            "predict_linear" => RangeFn::PredictLinear,
            "quantile_over_time" => RangeFn::Quantile,
            "double_exponential_smoothing" => RangeFn::Smoothing,
            "changes" => RangeFn::Values(range::changes),
            "resets" => RangeFn::Values(range::resets),
            "avg_over_time" => RangeFn::Values(range::avg_over_time),
            "sum_over_time" => RangeFn::Values(range::sum_over_time),
            "min_over_time" => RangeFn::Extremum(false),
            "max_over_time" => RangeFn::Extremum(true),
            "count_over_time" => RangeFn::Values(range::count_over_time),
            "stddev_over_time" => RangeFn::Values(range::stddev_over_time),
            "stdvar_over_time" => RangeFn::Values(range::stdvar_over_time),
            "last_over_time" => RangeFn::Values(range::last_over_time),
            "first_over_time" => RangeFn::Values(range::first_over_time),
            "present_over_time" => RangeFn::Values(range::present_over_time),
            "mad_over_time" => RangeFn::Values(range::mad_over_time),
            "ts_of_min_over_time" => RangeFn::Times(range::ts_of_min_over_time),
            "ts_of_max_over_time" => RangeFn::Times(range::ts_of_max_over_time),
            "ts_of_last_over_time" => RangeFn::Times(|ts, _| range::ts_of_last_over_time(ts)),
            "ts_of_first_over_time" => RangeFn::Times(|ts, _| range::ts_of_first_over_time(ts)),
            _ => return exec_err(format!("function {name:?} is not supported")),
        })
    }
}

/// Experimental functions this engine evaluates (Prometheus' test suite enables them all).
const EXPERIMENTAL_ENABLED: &[&str] = &[
    "sort_by_label",
    "sort_by_label_desc",
    "mad_over_time",
    "ts_of_min_over_time",
    "ts_of_max_over_time",
    "ts_of_last_over_time",
    "ts_of_first_over_time",
    "first_over_time",
    "double_exponential_smoothing",
];

fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren { expr, .. } => unwrap_parens(expr),
        other => other,
    }
}

fn is_counter_name(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"].iter().any(|s| name.ends_with(s))
}

fn parse_le(text: &str) -> Option<f64> {
    let t = text.trim();
    let v = match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" => f64::NAN,
        _ => t.parse::<f64>().ok()?,
    };
    if v.is_nan() { None } else { Some(v) }
}

/// The labels `absent()` gives its result: the equality matchers of a plain selector.
fn absent_labels(arg: &Expr) -> Labels {
    let selector = match unwrap_parens(arg) {
        Expr::VectorSelector(vs) => Some(vs.as_ref()),
        Expr::MatrixSelector(ms) => Some(&ms.selector),
        _ => None,
    };
    let Some(vs) = selector else {
        return Labels::default();
    };
    // Prometheus' createLabelsForAbsentFunction: an equality matcher sets its label unless the
    // name was seen before; any other matcher, or a repeated name, removes it.
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in &vs.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let present = seen.contains(&m.name.as_str());
        seen.push(&m.name);
        if m.op == MatchOp::Equal && !present {
            pairs.push((m.name.clone(), m.value.clone()));
        } else {
            pairs.retain(|(n, _)| *n != m.name);
        }
    }
    Labels::from_pairs(pairs.into_iter().filter(|(_, v)| !v.is_empty()))
}

fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut pairs: Vec<Label> = labels.iter().filter(|l| l.name != name).cloned().collect();
    if !value.is_empty() {
        pairs.push(Label::new(name, value));
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    labels_from_sorted(pairs)
}

/// Natural order of label values for `sort_by_label`: runs of digits compare by their number
/// (`a2` before `a10`), everything else byte-wise.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (na, nb) = (trim_zeros(&a[si..i]), trim_zeros(&b[sj..j]));
            let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if order != Ordering::Equal {
                return order;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn natural_order_compares_numbers_by_value() {
        assert_eq!(natural_cmp("a2", "a10"), Less);
        assert_eq!(natural_cmp("a10", "a2"), Greater);
        assert_eq!(natural_cmp("node-9", "node-09"), Equal);
        assert_eq!(natural_cmp("b", "a100"), Greater);
        assert_eq!(natural_cmp("x", "x1"), Less);
        assert_eq!(natural_cmp("", ""), Equal);
    }
}

// Pharos — query/src/promql/call.rs
