//! Range-vector functions over a window of float samples (Prometheus
//! `promql/functions.go`).
//!
//! Conventions shared by every function here:
//! * `ts` (milliseconds) and `vs` are the float samples of ONE series inside
//!   the left-open window `(range_start, range_end]` (Prometheus 3), in time
//!   order, with stale markers already removed. If the slices differ in
//!   length the shorter length is used (never a panic).
//! * Native-histogram samples must be removed by the caller. Where
//!   Prometheus then adds an annotation (mixed floats/histograms) that is the
//!   evaluator's business: e.g. `*_over_time` functions other than
//!   sum/avg/count/last/first/present emit the info "ignored histograms in a
//!   range containing both floats and histograms", sum/avg_over_time return
//!   nothing with the warning "encountered a mix of histograms and floats",
//!   rate/increase/delta/irate/idelta likewise return nothing with a warning.
//! * `None` means "no output sample for this series at this step".
//! * Extended selectors (`anchored`/`smoothed`) and start-timestamp-aware
//!   counter resets (experimental features) are not implemented here.

use crate::promql::math::aggregate::{AvgAcc, quantile};
use crate::promql::math::kahan::kahan_inc;

#[inline]
fn len2(ts: &[i64], vs: &[f64]) -> usize {
    ts.len().min(vs.len())
}

/// Go's `time.Duration.Seconds()` for a duration given in milliseconds
/// (`float64(sec) + float64(nsec)/1e9`), which is what Prometheus divides a
/// `rate` by (`ms.Range.Seconds()`).
pub fn duration_seconds(ms: i64) -> f64 {
    let secs = ms / 1000;
    let nanos = (ms % 1000).wrapping_mul(1_000_000);
    secs as f64 + nanos as f64 / 1e9
}

/// Prometheus' `extrapolatedRate` (float path), the core of `rate`,
/// `increase` and `delta`.
///
/// * Fewer than 2 samples → `None`.
/// * `result = last − first`; if `is_counter`, every decrease between
///   consecutive samples is treated as a counter reset and the value before
///   the reset is added back.
/// * Extrapolation: the gap between the window start and the first sample
///   (and between the last sample and the window end) is extrapolated over
///   if it is below 1.1× the average sample interval, otherwise only half an
///   average interval is assumed. For counters the start-side extrapolation
///   is additionally limited to the point where the counter would reach
///   zero (`sampled_interval · first / result`, when `result > 0` and
///   `first ≥ 0`).
/// * `result · (sampled + to_start + to_end) / sampled`, divided by the range
///   in seconds (`range_end − range_start`) if `is_rate`.
/// * NaN samples propagate NaN; two samples with equal timestamps give
///   NaN/±Inf (division by a zero interval), as in Prometheus.
pub fn extrapolated_rate(
    ts: &[i64],
    vs: &[f64],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    extrapolated_rate_with(ts, vs, range_start, range_end, is_counter, is_rate, is_counter)
}

/// [`extrapolated_rate`] for a caller that knows whether the window holds a counter reset
/// (`may_reset == false` skips the scan for them; the result is the same).
pub fn extrapolated_rate_with(
    ts: &[i64],
    vs: &[f64],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
    may_reset: bool,
) -> Option<f64> {
    let n = len2(ts, vs);
    if n < 2 {
        return None;
    }
    let (first_t, last_t) = (ts[0], ts[n - 1]);
    let mut result = vs[n - 1] - vs[0];
    if is_counter && may_reset {
        for i in 1..n {
            if vs[i] < vs[i - 1] {
                result += vs[i - 1];
            }
        }
    }
    let mut to_start = first_t.wrapping_sub(range_start) as f64 / 1000.0;
    let mut to_end = range_end.wrapping_sub(last_t) as f64 / 1000.0;
    let sampled = last_t.wrapping_sub(first_t) as f64 / 1000.0;
    let avg_interval = sampled / (n - 1) as f64;
    let threshold = avg_interval * 1.1;
    if to_start >= threshold {
        to_start = avg_interval / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if result > 0.0 && vs[0] >= 0.0 {
            to_zero = sampled * (vs[0] / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_interval / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= duration_seconds(range_end.wrapping_sub(range_start));
    }
    Some(result * factor)
}

/// `delta(v[range])`: gauge difference over the window (no counter-reset
/// handling, no zero clamp), see [`extrapolated_rate`].
pub fn delta(ts: &[i64], vs: &[f64], range_start: i64, range_end: i64) -> Option<f64> {
    extrapolated_rate(ts, vs, range_start, range_end, false, false)
}

fn instant_value(ts: &[i64], vs: &[f64], is_rate: bool) -> Option<f64> {
    let n = len2(ts, vs);
    if n < 2 {
        return None;
    }
    let (t0, v0, t1, v1) = (ts[n - 2], vs[n - 2], ts[n - 1], vs[n - 1]);
    let interval = t1.wrapping_sub(t0);
    if interval == 0 {
        return None;
    }
    let mut r = v1;
    // `!(v1 < v0)` is true for NaNs, so NaN propagates as v1 - v0.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let no_reset = !(v1 < v0);
    if !is_rate || no_reset {
        r = v1 - v0;
    }
    if is_rate {
        r /= interval as f64 / 1000.0;
    }
    Some(r)
}

/// `irate(v[range])` (Prometheus `instantValue` with `isRate`): per-second
/// rate between the last two samples. A decrease is a counter reset and the
/// last value itself is used as the increase. Fewer than 2 samples or equal
/// timestamps → `None`; NaN propagates.
pub fn irate(ts: &[i64], vs: &[f64]) -> Option<f64> {
    instant_value(ts, vs, true)
}

/// `idelta(v[range])`: difference of the last two samples (no reset
/// handling). Fewer than 2 samples or equal timestamps → `None`.
pub fn idelta(ts: &[i64], vs: &[f64]) -> Option<f64> {
    instant_value(ts, vs, false)
}

/// Prometheus' `linearRegression`: least-squares fit of `vs` over
/// `x = (t − intercept_time)/1000` seconds using Kahan-compensated sums.
/// Returns `(slope, intercept)` where the intercept is the fitted value at
/// `intercept_time`.
///
/// If all values are equal the result is `(0, value)`, or `(NaN, NaN)` when
/// that constant value is ±Inf. Otherwise ±Inf/NaN values propagate through
/// the arithmetic (e.g. `-Inf … +Inf` → NaN). Empty input → `(NaN, NaN)`.
pub fn linear_regression(ts: &[i64], vs: &[f64], intercept_time: i64) -> (f64, f64) {
    let len = len2(ts, vs);
    if len == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = vs[0];
    let mut const_y = true;
    for i in 0..len {
        let y = vs[i];
        if const_y && i > 0 && y != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = ts[i].wrapping_sub(intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(y, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * y, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `deriv(v[range])`: slope (per second) of the linear regression, with the
/// intercept anchored at the first sample's time (for float accuracy, like
/// Prometheus). Fewer than 2 samples → `None`; any ±Inf → NaN (see
/// [`linear_regression`]).
pub fn deriv(ts: &[i64], vs: &[f64]) -> Option<f64> {
    if len2(ts, vs) < 2 {
        return None;
    }
    Some(linear_regression(ts, vs, ts[0]).0)
}

/// `predict_linear(v[range], t)`: value of the linear regression `seconds`
/// seconds after the evaluation timestamp `eval_ts` (ms; the step time, not
/// the `@`/offset-shifted range end). Fewer than 2 samples → `None`.
pub fn predict_linear(ts: &[i64], vs: &[f64], eval_ts: i64, seconds: f64) -> Option<f64> {
    if len2(ts, vs) < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(ts, vs, eval_ts);
    Some(slope * seconds + intercept)
}

/// `changes(v[range])`: number of times the value changed between
/// consecutive samples (NaN→NaN is not a change, NaN↔number is). Empty →
/// `None`; one sample → 0.
pub fn changes(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    let n = vs.windows(2).filter(|w| w[1] != w[0] && !(w[0].is_nan() && w[1].is_nan())).count();
    Some(n as f64)
}

/// `resets(v[range])`: number of decreases between consecutive samples
/// (comparisons with NaN are never a decrease). Empty → `None`.
pub fn resets(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    Some(vs.windows(2).filter(|w| w[1] < w[0]).count() as f64)
}

/// `avg_over_time`: same direct-Kahan-mean-with-incremental-fallback as the
/// `avg` aggregation ([`AvgAcc`]). Empty → `None`. `+Inf` and `-Inf` → NaN;
/// NaN → NaN; huge values do not overflow.
pub fn avg_over_time(vs: &[f64]) -> Option<f64> {
    let (&first, rest) = vs.split_first()?;
    let mut acc = AvgAcc::new(first);
    for &v in rest {
        acc.add(v);
    }
    Some(acc.value())
}

/// `sum_over_time`: Kahan/Neumaier sum from 0; returns the plain sum if it is
/// ±Inf, else `sum + c`. Empty → `None`.
pub fn sum_over_time(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    let (mut sum, mut c) = (0.0, 0.0);
    for &v in vs {
        (sum, c) = kahan_inc(v, sum, c);
    }
    Some(if sum.is_infinite() { sum } else { sum + c })
}

/// `count_over_time`: number of float samples. Empty → `None`.
pub fn count_over_time(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() { None } else { Some(vs.len() as f64) }
}

/// Prometheus' `compareOverTime`: returns the selected value and its
/// timestamp. `pick(cur, best)` says whether `cur` replaces `best`; a NaN
/// `best` is always replaced.
fn compare_over_time(ts: &[i64], vs: &[f64], pick: impl Fn(f64, f64) -> bool) -> Option<(f64, i64)> {
    let n = len2(ts, vs);
    if n == 0 {
        return None;
    }
    let (mut best, mut best_t) = (vs[0], ts[0]);
    for i in 0..n {
        if pick(vs[i], best) || best.is_nan() {
            best = vs[i];
            best_t = ts[i];
        }
    }
    Some((best, best_t))
}

/// `min_over_time`: minimum; NaN values are ignored unless all are NaN
/// (a NaN current minimum is replaced by the next value). Empty → `None`.
#[cfg(test)]
pub fn min_over_time(vs: &[f64]) -> Option<f64> {
    let (&first, _) = vs.split_first()?;
    let mut m = first;
    for &v in vs {
        if v < m || m.is_nan() {
            m = v;
        }
    }
    Some(m)
}

/// `max_over_time` / `min_over_time` over successive windows of one series whose bounds
/// only move forward, as a range query's steps do: a monotonic queue makes each window O(1)
/// amortised instead of O(window). Each answer equals the plain function's on that window (the
/// first extremal value; NaN only when every value is NaN).
#[derive(Debug, Default)]
pub struct SlidingExtremum {
    max: bool,
    queue: std::collections::VecDeque<usize>,
    end: usize,
}

impl SlidingExtremum {
    pub fn new(max: bool) -> Self {
        SlidingExtremum { max, queue: Default::default(), end: 0 }
    }

    /// Start over for another series.
    pub fn reset(&mut self) {
        self.queue.clear();
        self.end = 0;
    }

    /// The extremum of `vs[lo..hi]`; `lo` and `hi` must not decrease between calls until
    /// [`SlidingExtremum::reset`].
    pub fn window(&mut self, vs: &[f64], lo: usize, hi: usize) -> Option<f64> {
        while self.end < hi.min(vs.len()) {
            let v = vs[self.end];
            while let Some(&back) = self.queue.back() {
                if self.evicts(v, vs[back]) {
                    self.queue.pop_back();
                } else {
                    break;
                }
            }
            self.queue.push_back(self.end);
            self.end += 1;
        }
        while self.queue.front().is_some_and(|&i| i < lo) {
            self.queue.pop_front();
        }
        if lo >= hi {
            return None;
        }
        self.queue.front().map(|&i| vs[i])
    }

    /// Whether a later `new` makes an earlier `old` never the answer again.
    fn evicts(&self, new: f64, old: f64) -> bool {
        match (new.is_nan(), old.is_nan()) {
            (_, true) => !new.is_nan(),
            (true, false) => false,
            _ if self.max => new > old,
            _ => new < old,
        }
    }
}

/// `max_over_time`: maximum, NaN handling as [`min_over_time`].
#[cfg(test)]
pub fn max_over_time(vs: &[f64]) -> Option<f64> {
    let (&first, _) = vs.split_first()?;
    let mut m = first;
    for &v in vs {
        if v > m || m.is_nan() {
            m = v;
        }
    }
    Some(m)
}

/// `ts_of_min_over_time` (experimental): timestamp in seconds of the
/// minimum; on ties the LAST occurrence wins (`cur <= min`). NaN handling as
/// [`min_over_time`]. Empty → `None`.
pub fn ts_of_min_over_time(ts: &[i64], vs: &[f64]) -> Option<f64> {
    compare_over_time(ts, vs, |cur, best| cur <= best).map(|(_, t)| t as f64 / 1000.0)
}

/// `ts_of_max_over_time` (experimental): timestamp in seconds of the
/// maximum; on ties the LAST occurrence wins (`cur >= max`).
pub fn ts_of_max_over_time(ts: &[i64], vs: &[f64]) -> Option<f64> {
    compare_over_time(ts, vs, |cur, best| cur >= best).map(|(_, t)| t as f64 / 1000.0)
}

/// `last_over_time`: the most recent value. Empty → `None`.
pub fn last_over_time(vs: &[f64]) -> Option<f64> {
    vs.last().copied()
}

/// `first_over_time` (experimental): the oldest value in the window.
pub fn first_over_time(vs: &[f64]) -> Option<f64> {
    vs.first().copied()
}

/// `ts_of_last_over_time` (experimental): timestamp (seconds) of the last
/// sample.
pub fn ts_of_last_over_time(ts: &[i64]) -> Option<f64> {
    ts.last().map(|&t| t as f64 / 1000.0)
}

/// `ts_of_first_over_time` (experimental): timestamp (seconds) of the first
/// sample.
pub fn ts_of_first_over_time(ts: &[i64]) -> Option<f64> {
    ts.first().map(|&t| t as f64 / 1000.0)
}

/// `present_over_time`: 1 if there is any sample. Empty → `None`.
pub fn present_over_time(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() { None } else { Some(1.0) }
}

/// Prometheus' `varianceOverTime`: Welford's algorithm with both the mean
/// and the squared-deviation sum Kahan-compensated; population variance.
fn variance_over_time(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    Some((aux + c_aux) / count)
}

/// `stdvar_over_time`: population variance (Kahan-compensated Welford).
/// Any NaN/±Inf → NaN. Empty → `None`.
pub fn stdvar_over_time(vs: &[f64]) -> Option<f64> {
    variance_over_time(vs)
}

/// `stddev_over_time`: `sqrt(stdvar_over_time)`.
pub fn stddev_over_time(vs: &[f64]) -> Option<f64> {
    variance_over_time(vs).map(f64::sqrt)
}

/// `quantile_over_time(q, v[range])`: [`quantile`] of the window's values
/// (NaN sorts first; q NaN → NaN, q < 0 → -Inf, q > 1 → +Inf). Empty →
/// `None`. When the result is `Some` and
/// [`crate::promql::math::aggregate::quantile_is_invalid`]`(q)`, Prometheus adds the
/// warning "quantile value should be between 0 and 1, got …".
pub fn quantile_over_time(q: f64, vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    let mut buf = vs.to_vec();
    Some(quantile(q, &mut buf))
}

/// `mad_over_time` (experimental): median absolute deviation,
/// `median(|v − median(v)|)` with Prometheus' [`quantile`]. Any NaN sample
/// makes the result NaN (Prometheus 3.14 test "A NaN sample makes the result
/// NaN rather than being silently dropped"). Empty → `None`.
pub fn mad_over_time(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    if vs.iter().any(|v| v.is_nan()) {
        return Some(f64::NAN);
    }
    let mut buf = vs.to_vec();
    let median = quantile(0.5, &mut buf);
    for (b, &v) in buf.iter_mut().zip(vs) {
        *b = (v - median).abs();
    }
    Some(quantile(0.5, &mut buf))
}

/// Error of [`double_exponential_smoothing`]: Prometheus aborts the query
/// (panics into a query error) with
/// `invalid smoothing factor. Expected: 0 < sf < 1, got: %f` /
/// `invalid trend factor. Expected: 0 < tf < 1, got: %f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SmoothingError {
    /// `sf <= 0 || sf >= 1` (a NaN factor is NOT rejected, as in Prometheus).
    InvalidSmoothingFactor(f64),
    /// `tf <= 0 || tf >= 1`.
    InvalidTrendFactor(f64),
}

impl std::fmt::Display for SmoothingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmoothingError::InvalidSmoothingFactor(v) => {
                write!(f, "invalid smoothing factor. Expected: 0 < sf < 1, got: {v:.6}")
            }
            SmoothingError::InvalidTrendFactor(v) => {
                write!(f, "invalid trend factor. Expected: 0 < tf < 1, got: {v:.6}")
            }
        }
    }
}

/// `double_exponential_smoothing(v[range], sf, tf)` (experimental, formerly
/// `holt_winters`). Factors are validated first (even for short series);
/// fewer than 2 samples → `Ok(None)`.
pub fn double_exponential_smoothing(vs: &[f64], sf: f64, tf: f64) -> Result<Option<f64>, SmoothingError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(SmoothingError::InvalidSmoothingFactor(sf));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(SmoothingError::InvalidTrendFactor(tf));
    }
    if vs.len() < 2 {
        return Ok(None);
    }
    let mut s0 = 0.0;
    let mut s1 = vs[0];
    let mut b = vs[1] - vs[0];
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        // Trend value at index i-1 (the initial trend is used as-is at 0).
        if i - 1 != 0 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::math::testutil::{M, S, assert_close, assert_some_close, window};

    fn rate(ts: &[i64], vs: &[f64], range_start: i64, range_end: i64) -> Option<f64> {
        extrapolated_rate(ts, vs, range_start, range_end, true, true)
    }

    fn increase(ts: &[i64], vs: &[f64], range_start: i64, range_end: i64) -> Option<f64> {
        extrapolated_rate(ts, vs, range_start, range_end, true, false)
    }

    // Runs an extrapolated-rate style function at `at` over `[range]`.
    fn xr(f: fn(&[i64], &[f64], i64, i64) -> Option<f64>, desc: &str, step: i64, at: i64, range: i64) -> Option<f64> {
        let (ts, vs) = window(desc, step, at, range);
        f(&ts, &vs, at - range, at)
    }

    #[test]
    fn increase_cases() {
        // functions.test "Tests for increase()".
        for (desc, want) in [("0+10x10", 100.0), ("0+18x5 0+18x5", 160.0), ("10+10x10", 100.0), ("1+10x10", 100.0)] {
            assert_some_close(xr(increase, desc, 5 * M, 50 * M, 50 * M), want);
        }
        for (desc, want) in [("0+10x10", 100.0), ("0+18x5 0+18x5", 162.0), ("10+10x10", 105.0), ("1+10x10", 101.0)] {
            assert_some_close(xr(increase, desc, 5 * M, 50 * M, 100 * M), want);
        }
        // Counter reset: 0 1 2 3 2 3 4 at 30m over 30m -> 7.
        assert_some_close(xr(increase, "0 1 2 3 2 3 4", 5 * M, 30 * M, 30 * M), 7.0);
    }

    #[test]
    fn rate_cases() {
        assert_some_close(xr(rate, "0+27x4 0+27x5", 5 * M, 50 * M, 50 * M), 0.08);
        // Reset at the end: only one sample in [5m] -> nothing; [6m] -> 0.
        assert_eq!(xr(rate, "0+10x9 0 10", 5 * M, 50 * M, 5 * M), None);
        assert_some_close(xr(rate, "0+10x9 0 10", 5 * M, 50 * M, 6 * M), 0.0);
        assert_some_close(xr(rate, "0+80x10", 5 * M, 50 * M, 50 * M), 0.26666666666666666);
        // offset 5m: window (35m, 45m].
        let (ts, vs) = window("0+10x10", 5 * M, 45 * M, 10 * M);
        assert_some_close(rate(&ts, &vs, 35 * M, 45 * M), 0.03333333333333333);
        let (ts, vs) = window("0+20x10", 5 * M, 45 * M, 10 * M);
        assert_some_close(rate(&ts, &vs, 35 * M, 45 * M), 0.06666666666666667);
    }

    #[test]
    fn rate_zero_cutoff() {
        // load 4m testcounter_zero_cutoff_total{start=...}
        let descs = ["0+240x10", "60+240x10", "120+240x10", "180+240x10", "240+240x10", "300+240x10"];
        let at10 = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
        for (d, w) in descs.iter().zip(at10) {
            assert_some_close(xr(rate, d, 4 * M, 10 * M, 20 * M), w);
            assert_some_close(xr(rate, d, 4 * M, 50 * M, 20 * M), 0.6);
        }
    }

    #[test]
    fn delta_cases() {
        assert_some_close(xr(delta, "0 50 100 150 200", 5 * M, 20 * M, 20 * M), 200.0);
        assert_some_close(xr(delta, "200 150 100 50 0", 5 * M, 20 * M, 20 * M), -200.0);
        assert_eq!(delta(&[1], &[1.0], 0, 10), None);
        assert_eq!(delta(&[], &[], 0, 10), None);
    }

    #[test]
    fn irate_idelta_cases() {
        let w = |d: &str, at: i64, r: i64| window(d, 5 * M, at, r);
        let (ts, vs) = w("0+10x10", 50 * M, 50 * M);
        assert_some_close(irate(&ts, &vs), 0.03333333333333333333);
        let (ts, vs) = w("0+10x5 0+10x5", 50 * M, 50 * M);
        assert_some_close(irate(&ts, &vs), 0.03333333333333333333);
        let (ts, vs) = w("0+10x5 0+10x5", 30 * M, 50 * M);
        assert_some_close(irate(&ts, &vs), 0.0);
        // range from 0 to 20m step 5m irate(http_requests_nan[15m1s]) -> _ NaN NaN NaN 0.02
        let want = [None, Some(f64::NAN), Some(f64::NAN), Some(f64::NAN), Some(0.02)];
        for (k, wv) in want.iter().enumerate() {
            let at = k as i64 * 5 * M;
            let (ts, vs) = w("1 NaN NaN 5 11", at, 15 * M + S);
            match (irate(&ts, &vs), wv) {
                (None, None) => {}
                (Some(g), Some(e)) => assert_close(g, *e),
                other => panic!("step {k}: {other:?}"),
            }
        }
        let want_d = [None, Some(f64::NAN), Some(f64::NAN), Some(f64::NAN), Some(6.0)];
        for (k, wv) in want_d.iter().enumerate() {
            let at = k as i64 * 5 * M;
            let (ts, vs) = w("1 NaN NaN 5 11", at, 15 * M + S);
            match (idelta(&ts, &vs), wv) {
                (None, None) => {}
                (Some(g), Some(e)) => assert_close(g, *e),
                other => panic!("step {k}: {other:?}"),
            }
        }
        let (ts, vs) = w("0 50 100 150", 20 * M, 20 * M);
        assert_some_close(idelta(&ts, &vs), 50.0);
        let (ts, vs) = w("0 50 100 50", 20 * M, 20 * M);
        assert_some_close(idelta(&ts, &vs), -50.0);
        assert_eq!(irate(&[5, 5], &[1.0, 2.0]), None);
    }

    #[test]
    fn deriv_predict_linear_cases() {
        let (ts, vs) = window("0+80x10", 5 * M, 50 * M, 50 * M);
        assert_some_close(deriv(&ts, &vs), 0.26666666666666666);
        let (ts, vs) = window("0+10x4 0+10x5", 5 * M, 50 * M, 100 * M);
        assert_some_close(deriv(&ts, &vs), 0.010606060606060607);
        let (ts, vs) = window("-Inf 0+80x10 Inf", 5 * M, 100 * M, 100 * M);
        assert!(deriv(&ts, &vs).unwrap().is_nan());
        assert!(predict_linear(&ts, &vs, 100 * M, 6000.0).unwrap().is_nan());

        let (ts, vs) = window("0+10x4 0+10x5", 5 * M, 50 * M, 50 * M);
        assert_some_close(predict_linear(&ts, &vs, 50 * M, 3600.0), 70.0);
        // [55m] @ 3000 evaluated at 50m, 10m and 70m.
        let (ts, vs) = window("0+10x4 0+10x5", 5 * M, 3000 * S, 55 * M);
        assert_some_close(predict_linear(&ts, &vs, 50 * M, 3600.0), 76.81818181818181);
        assert_some_close(predict_linear(&ts, &vs, 10 * M, 3600.0), 51.36363636363637);
        assert_some_close(predict_linear(&ts, &vs, 70 * M, 3600.0), 89.54545454545455);
        // predict_linear(x[50m], 3600) == x + deriv(x[50m]) * 3600 for 0+80x10.
        let (ts, vs) = window("0+80x10", 5 * M, 50 * M, 50 * M);
        let p = predict_linear(&ts, &vs, 50 * M, 3600.0).unwrap();
        assert_close(p - (800.0 + deriv(&ts, &vs).unwrap() * 3600.0), 0.0);
        // Constant series: slope 0, +Inf constant -> NaN.
        assert_eq!(deriv(&[0, 1000], &[3.0, 3.0]), Some(0.0));
        assert!(deriv(&[0, 1000], &[f64::INFINITY; 2]).unwrap().is_nan());
        assert_eq!(deriv(&[0], &[1.0]), None);
    }

    #[test]
    fn resets_changes_cases() {
        let foo = "1 2 3 0 1 0 0 1 2 0";
        let bar = "1 2 3 4 5 1 2 3 4 5";
        let biz = "0 0 0 0 0 1 1 1 1 1";
        let r = |d: &str, range: i64| {
            let (_, vs) = window(d, 5 * M, 50 * M, range);
            resets(&vs)
        };
        let c = |d: &str, range: i64| {
            let (_, vs) = window(d, 5 * M, 50 * M, range);
            changes(&vs)
        };
        // [5m] at 50m: no samples (series ends at 45m) -> empty.
        assert_eq!(r(foo, 5 * M), None);
        for (range, want) in [
            (10 * M, [0.0, 0.0, 0.0]),
            (20 * M, [1.0, 0.0, 0.0]),
            (30 * M, [1.0, 0.0, 0.0]),
            (32 * M, [2.0, 1.0, 0.0]),
            (50 * M, [3.0, 1.0, 0.0]),
        ] {
            assert_eq!([r(foo, range), r(bar, range), r(biz, range)], want.map(Some), "resets [{range}]");
        }
        assert_eq!(c(foo, 5 * M), None);
        for (range, want) in
            [(6 * M, [0.0, 0.0, 0.0]), (20 * M, [2.0, 2.0, 0.0]), (30 * M, [3.0, 4.0, 0.0]), (50 * M, [7.0, 8.0, 1.0])]
        {
            assert_eq!([c(foo, range), c(bar, range), c(biz, range)], want.map(Some), "changes [{range}]");
        }
        // NaN handling: x{a="b"} NaN NaN NaN -> 0; x{a="c"} 0 NaN 0 -> 2.
        assert_eq!(changes(&[f64::NAN; 3]), Some(0.0));
        assert_eq!(changes(&[0.0, f64::NAN, 0.0]), Some(2.0));
    }

    #[test]
    fn avg_sum_over_time_cases() {
        let at = |d: &str, range: i64| window(d, 10 * S, 55 * S, range).1;
        assert_eq!(avg_over_time(&at("1 2 3 4 5", 10 * S)), None);
        assert_some_close(avg_over_time(&at("1 2 3 4 5", 20 * S)), 5.0);
        assert_some_close(avg_over_time(&at("1 2 3 4 5", M)), 3.0);
        let cases: [(&str, f64); 14] = [
            ("1 2 3 4 Inf", f64::INFINITY),
            ("1 2 3 4 -Inf", f64::NEG_INFINITY),
            ("1 2 3 Inf -Inf", f64::NAN),
            ("Inf 0 Inf", f64::INFINITY),
            ("Inf Inf Inf -Inf", f64::NAN),
            ("1 2 3 -Inf -Inf", f64::NEG_INFINITY),
            ("-Inf 0 -Inf", f64::NEG_INFINITY),
            ("-Inf -Inf -Inf Inf", f64::NAN),
            ("1 2 -Inf -Inf Inf", f64::NAN),
            ("9.988465674311579e+307 9.988465674311579e+307", 9.988465674311579e+307),
            ("-9.988465674311579e+307 -9.988465674311579e+307 -9.988465674311579e+307", -9.988465674311579e+307),
            ("-9.988465674311579e+307 9.988465674311579e+307", 0.0),
            ("1 2 3 NaN NaN", f64::NAN),
            ("1 1e100 1 -1e100", 0.5),
        ];
        for (d, want) in cases {
            assert_some_close(avg_over_time(&at(d, M)), want);
        }
        // sum/count for the overflowing cases.
        let v = at("9.988465674311579e+307 9.988465674311579e+307", M);
        assert_eq!(sum_over_time(&v).unwrap() / count_over_time(&v).unwrap(), f64::INFINITY);
        let v = at("1 2 3 Inf -Inf", M);
        assert!(sum_over_time(&v).unwrap().is_nan());
        let v = at("1 1e100 1 -1e100", 2 * M);
        assert_eq!(sum_over_time(&v), Some(2.0));
        // NaN behaviour: at 20s over 1m -> 2.
        assert_some_close(avg_over_time(&window("1 2 3 NaN NaN", 10 * S, 20 * S, M).1), 2.0);
        assert!(avg_over_time(&window("1 2 3 NaN NaN", 10 * S, 30 * S, M).1).unwrap().is_nan());
    }

    #[test]
    fn avg_over_time_extreme_magnitudes() {
        let at = |d: &str| window(d, 5 * S, 55 * S, M).1;
        let cases: [(&str, f64); 11] = [
            ("1e10 1e-6 1e-6 1e-6 1e-6 1e-6", 1.6666666666666675e+09),
            (
                "5.30921651659898 0.961118537914768 1.62091361305318 0.865089463758091 0.323055185914577 0.951811357687154",
                1.67186744582113,
            ),
            ("1.78264e50 0.76342771 1.9592258 7.69805412 458.90154", 3.56528E+49),
            ("0.76342771 1.9592258 7.69805412 1.78264e50 458.90154", 3.56528E+49),
            ("1.78264E+50 0.76342771 1.9592258 2.258E+220 7.69805412 458.90154", 3.76333333333333E+219),
            ("-1.78264E+50 0.76342771 1.9592258 2.258E+220 7.69805412 -458.90154", 3.76333333333333E+219),
            ("-1.78264E+50 0.76342771 1.9592258 -2.258E+220 7.69805412 -458.90154", -3.76333333333333E+219),
            ("-1.78264E+215 0.76342771 1.9592258 2.258E+220 7.69805412 -458.90154", 3.76330362266667E+219),
            (
                "-1.78264E+215 0.76342771 1.9592258 2.258E+220 7.69805412 1.78264E+215 -458.90154",
                3.225714285714286e+219,
            ),
            (
                "-1.78264E+219 0.76342771 1.9592258 2.3757689E+217 -2.3757689E+217 2.258E+220 7.69805412 1.78264E+219 -458.90154",
                2.5088888888888888e+219,
            ),
            (
                "-2.258E+220 -1.78264E+219 0.76342771 1.9592258 2.3757689E+217 -2.3757689E+217 2.258E+220 7.69805412 1.78264E+219 -458.90154",
                0.0,
            ),
        ];
        for (d, want) in cases {
            assert_some_close(avg_over_time(&at(d)), want);
        }
        // 52+0x100: exact equality for 10..13 samples.
        for r in [100, 110, 120, 130] {
            let v = window("52+0x100", 10 * S, 10 * M, r * S).1;
            assert_eq!(avg_over_time(&v), Some(52.0));
        }
        // Dense samples: load 1ms metric 1+0x4000, sum_over_time at 4s.
        let (_, v) = window("1+0x4000", 1, 4 * S, 1000);
        assert_eq!(sum_over_time(&v), Some(1000.0));
    }

    #[test]
    fn min_max_last_count_over_time() {
        let nan = f64::NAN;
        assert_eq!(min_over_time(&[nan, 3.0, 1.0]), Some(1.0));
        assert_eq!(max_over_time(&[3.0, nan, 1.0]), Some(3.0));
        assert!(max_over_time(&[nan, nan]).unwrap().is_nan());
        assert_eq!(max_over_time(&[1.0, nan]), Some(1.0));
        assert_eq!(min_over_time(&[]), None);
        assert_eq!(last_over_time(&[1.0, 2.0]), Some(2.0));
        assert_eq!(first_over_time(&[1.0, 2.0]), Some(1.0));
        assert_eq!(count_over_time(&[1.0, nan]), Some(2.0));
        assert_eq!(present_over_time(&[nan]), Some(1.0));
        assert_eq!(present_over_time(&[]), None);
        let ts = [1000, 2000, 3000, 4000];
        assert_eq!(ts_of_max_over_time(&ts, &[1.0, 5.0, 5.0, 2.0]), Some(3.0));
        assert_eq!(ts_of_min_over_time(&ts, &[1.0, 5.0, 1.0, 2.0]), Some(3.0));
        assert_eq!(ts_of_max_over_time(&ts, &[nan, 5.0, nan, 2.0]), Some(2.0));
        assert_eq!(ts_of_last_over_time(&ts), Some(4.0));
        assert_eq!(ts_of_first_over_time(&ts), Some(1.0));
        assert_eq!(ts_of_first_over_time(&[]), None);
        // functions.test, load 10s53ms (odd interval for rounding bugs).
        let step = 10 * S + 53;
        let (ts, vs) = window("1 2 3 0 5 6 2 1 4", step, 90 * S, 90 * S);
        assert_some_close(ts_of_min_over_time(&ts, &vs), 30.159);
        assert_some_close(ts_of_max_over_time(&ts, &vs), 50.265);
        let (ts, _) = window("1 2 3 _ _", step, 90 * S, 90 * S);
        assert_some_close(ts_of_last_over_time(&ts), 20.106);
        let (ts, _) = window("1 2 3 _ _", step, 95 * S, 90 * S);
        assert_some_close(ts_of_last_over_time(&ts), 20.106);
        let (ts, _) = window("_ _ 1 2 3 _ _", step, 90 * S, 90 * S);
        assert_some_close(ts_of_first_over_time(&ts), 20.106);
        let (ts, _) = window("_ _ 1 2 3 _ _", step, 15 * S, 90 * S);
        assert_eq!(ts_of_first_over_time(&ts), None);
    }

    #[test]
    fn stddev_stdvar_over_time() {
        // functions.test: load 10s metric 0 8 8 2 3; at 1m over [2m].
        assert_some_close(stdvar_over_time(&[0.0, 8.0, 8.0, 2.0, 3.0]), 10.56);
        assert_some_close(stddev_over_time(&[0.0, 8.0, 8.0, 2.0, 3.0]), 3.249615361854384);
        assert_eq!(stddev_over_time(&[5.0]), Some(0.0));
        assert!(stddev_over_time(&[1.0, f64::INFINITY]).unwrap().is_nan());
        assert!(stdvar_over_time(&[1.0, f64::NAN]).unwrap().is_nan());
        // Float precision: 1.5990505637277868 x3 -> 0.
        assert_eq!(stddev_over_time(&[1.5990505637277868; 3]), Some(0.0));
    }

    #[test]
    fn quantile_mad_over_time() {
        let nan = f64::NAN;
        assert_eq!(quantile_over_time(0.5, &[]), None);
        assert_some_close(quantile_over_time(0.5, &[0.0, 1.0, 2.0]), 1.0);
        assert_some_close(quantile_over_time(0.75, &[0.0, 1.0, 2.0, 3.0]), 2.25);
        assert_eq!(quantile_over_time(-1.0, &[1.0]), Some(f64::NEG_INFINITY));
        assert_eq!(quantile_over_time(2.0, &[1.0]), Some(f64::INFINITY));
        assert!(quantile_over_time(nan, &[1.0]).unwrap().is_nan());
        // functions.test "Tests for mad_over_time" (load 10s).
        let w = |d: &str, at: i64, r: i64| window(d, 10 * S, at, r).1;
        assert_some_close(mad_over_time(&w("4 6 2 1 999 1 2", 70 * S, 70 * S)), 1.0);
        assert_some_close(mad_over_time(&w("1 2 3 4 5", 40 * S, 50 * S)), 1.0);
        assert_some_close(mad_over_time(&w("7 7 7 7 7", 40 * S, 50 * S)), 0.0);
        assert_some_close(mad_over_time(&w("5", 0, 10 * S)), 0.0);
        assert!(mad_over_time(&w("1 2 NaN 4", 30 * S, 40 * S)).unwrap().is_nan());
        assert_eq!(mad_over_time(&[]), None);
        // quantile_over_time tests (load 10s, at 1m over [2m]).
        for (d, res) in [
            ("0 1", [0.0, 0.5, 0.75, 0.8, 1.0]),
            ("0 1 2", [0.0, 1.0, 1.5, 1.6, 2.0]),
            ("0 1 4", [0.0, 1.0, 2.5, 2.8, 4.0]),
        ] {
            let v = w(d, M, 2 * M);
            for (q, want) in [0.0, 0.5, 0.75, 0.8, 1.0].into_iter().zip(res) {
                assert_some_close(quantile_over_time(q, &v), want);
            }
            assert_eq!(quantile_over_time(-1.0, &v), Some(f64::NEG_INFINITY));
            assert_eq!(quantile_over_time(2.0, &v), Some(f64::INFINITY));
        }
    }

    #[test]
    fn double_exponential_smoothing_cases() {
        // load 10s: 0+10x1000 100+30x1000 ... at 8000s over [1m].
        let cases = [
            ("0+10x1000 100+30x1000", 8000.0),
            ("0+20x1000 200+30x1000", 16000.0),
            ("0+30x1000 300+80x1000", 24000.0),
            ("0+40x2000", 32000.0),
            ("8000-10x1000", 0.0),
            ("0-20x1000", -16000.0),
            ("0-40x1000 0+40x1000", -32000.0),
        ];
        for (d, want) in cases {
            let (_, vs) = window(d, 10 * S, 8000 * S, M);
            assert_eq!(
                double_exponential_smoothing(&vs, 0.01, 0.1)
                    .map(|o| o.map(|v| crate::promql::math::testutil::almost_equal(v, want))),
                Ok(Some(true)),
                "{d}"
            );
        }
        // At 20010s over the histogram-free float part (mixed range test).
        let (_, vs) = window("0+10x1000 100+30x1000", 10 * S, 20010 * S, M);
        assert_some_close(double_exponential_smoothing(&vs, 0.01, 0.1).unwrap(), 30100.0);
        assert_eq!(double_exponential_smoothing(&[1.0], 0.5, 0.5), Ok(None));
        assert_eq!(
            double_exponential_smoothing(&[1.0, 2.0], 1.0, 0.5),
            Err(SmoothingError::InvalidSmoothingFactor(1.0))
        );
        assert_eq!(double_exponential_smoothing(&[], 0.5, 0.0), Err(SmoothingError::InvalidTrendFactor(0.0)));
    }

    #[test]
    fn duration_seconds_go() {
        assert_eq!(duration_seconds(901_000), 901.0);
        assert_eq!(duration_seconds(1001), 1.001);
        assert_eq!(duration_seconds(-1500), -1.5);
    }

    #[test]
    fn no_panic_on_garbage() {
        let ts = [i64::MIN, i64::MAX];
        let vs = [f64::NAN, f64::INFINITY];
        let _ = rate(&ts, &vs, i64::MAX, i64::MIN);
        let _ = irate(&ts, &vs);
        let _ = deriv(&ts, &vs);
        let _ = predict_linear(&ts, &vs, i64::MIN, f64::MAX);
        let _ = rate(&ts[..1], &vs, 0, 0);
        let _ = linear_regression(&[], &[], 0);
    }

    #[test]
    fn sliding_extremum_equals_the_plain_functions() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut vs = Vec::new();
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            vs.push(match state % 11 {
                0 => f64::NAN,
                1 => -0.0,
                2 => 0.0,
                _ => (state % 7) as f64 - 3.0,
            });
        }
        for max in [true, false] {
            let plain = if max { max_over_time } else { min_over_time };
            let mut sliding = SlidingExtremum::new(max);
            let (mut lo, mut hi) = (0usize, 0usize);
            for step in 0..3000u64 {
                hi = (hi + (step * 7 % 5) as usize).min(vs.len());
                lo = (lo + (step * 3 % 4) as usize).min(hi);
                let got = sliding.window(&vs, lo, hi);
                let want = plain(&vs[lo..hi]);
                assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "window {lo}..{hi}");
            }
        }
    }
}
