//! Aggregation math of PromQL's `sum`, `avg`, `min`, `max`, `count`,
//! `group`, `stddev`, `stdvar` and `quantile` (Prometheus `promql/engine.go`
//! `(*evaluator).aggregation`, and `quantile` in `promql/quantile.go`).
//!
//! The accumulators are fed one float at a time, per group and per step, and
//! never allocate (except [`QuantileAcc`], which needs all values). Each is
//! created from the group's *first* value, exactly like Prometheus
//! initialises a `groupedAggregation`, because several of them treat the
//! first value specially. Native histograms are out of scope here: the
//! evaluator must skip them (and emit Prometheus' "ignored histogram" info
//! for min/max/stddev/stdvar/quantile, or the mixed float/histogram warning
//! for sum/avg).

use crate::promql::math::kahan::kahan_inc;

/// Returns true if `q` is an invalid quantile for Prometheus (`NaN`, `< 0`
/// or `> 1`), i.e. when Prometheus adds the warning
/// `quantile value should be between 0 and 1, got <q>` for `quantile`,
/// `quantile_over_time`, `histogram_quantile(s)`. The computation still runs
/// (yielding NaN, -Inf or +Inf respectively).
pub fn quantile_is_invalid(q: f64) -> bool {
    q.is_nan() || !(0.0..=1.0).contains(&q)
}

/// Sorts like Prometheus' `vectorByValueHeap`: NaN first (it compares as the
/// smallest value), then ascending; -0 and +0 compare equal. Total and
/// panic-free.
pub fn sort_nan_first(values: &mut [f64]) {
    values.sort_unstable_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => core::cmp::Ordering::Equal,
        (true, false) => core::cmp::Ordering::Less,
        (false, true) => core::cmp::Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(core::cmp::Ordering::Equal),
    });
}

/// Prometheus' `quantile(q, values)` (used by the `quantile` aggregation,
/// `quantile_over_time` and `mad_over_time`). Sorts `values` in place
/// (NaN first).
///
/// * empty input or `q` NaN → NaN; `q < 0` → -Inf; `q > 1` → +Inf;
/// * otherwise `rank = q·(n−1)` and linear interpolation between the two
///   neighbouring sorted values:
///   `v[lo]·(1−w) + v[hi]·w`, `lo = floor(rank)`, `hi = min(n−1, lo+1)`,
///   `w = rank − floor(rank)`. A NaN neighbour makes the result NaN (the
///   test suite's "quantile between NaN and 0 is NaN"); note that with
///   `w == 0` an infinite upper neighbour still yields `Inf·0 = NaN`, as in
///   Prometheus.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    sort_nan_first(values);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = go_max(0.0, rank.floor());
    let upper = go_min(n - 1.0, lower + 1.0);
    let weight = rank - rank.floor();
    let lo = (lower as usize).min(values.len() - 1);
    let hi = (upper as usize).min(values.len() - 1);
    values[lo] * (1.0 - weight) + values[hi] * weight
}

/// Go's `math.Max`: +Inf wins over anything (even NaN), then NaN wins,
/// then `+0 > -0`.
pub fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`: -Inf wins over anything (even NaN), then NaN wins,
/// then `-0 < +0`.
pub fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Accumulator for the `sum` aggregation: Kahan/Neumaier compensated sum,
/// started from the first value (compensation 0), result `sum + c`.
/// `+Inf` and `-Inf` in one group give NaN; any NaN gives NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SumAcc {
    sum: f64,
    c: f64,
}

impl SumAcc {
    /// Starts a group with its first value.
    pub fn new(first: f64) -> Self {
        SumAcc { sum: first, c: 0.0 }
    }
    /// Adds the next value of the group.
    #[inline]
    pub fn add(&mut self, v: f64) {
        let (s, c) = kahan_inc(v, self.sum, self.c);
        self.sum = s;
        self.c = c;
    }
    /// The aggregated value (`sum + c`, as Prometheus).
    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// Accumulator for the `avg` aggregation and `avg_over_time` (identical
/// math in Prometheus 3): a direct Kahan-summed mean (`sum/n + c/n`) as long
/// as the running sum stays finite; once the next addition would overflow to
/// ±Inf it switches, for the rest of the group, to an incremental mean
/// `mean = q·mean + v/n` (`q = (n−1)/n`) that is also Kahan-compensated.
///
/// Behaviour examples (from Prometheus' tests): `avg(+Inf, -Inf) = NaN`,
/// `avg(1, Inf) = Inf`, `avg(Inf, 0, Inf) = Inf`, any NaN → NaN,
/// `avg(9.99e307, 9.99e307) = 9.99e307` (no overflow), `avg(52 × k) == 52`
/// exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvgAcc {
    sum: f64,
    mean: f64,
    c: f64,
    count: f64,
    incremental: bool,
}

impl AvgAcc {
    /// Starts a group with its first value.
    pub fn new(first: f64) -> Self {
        AvgAcc { sum: first, mean: first, c: 0.0, count: 1.0, incremental: false }
    }
    /// Adds the next value of the group.
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (s, c) = kahan_inc(v, self.sum, self.c);
            if !s.is_infinite() {
                self.sum = s;
                self.c = c;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        let (m, c) = kahan_inc(v / self.count, q * self.mean, q * self.c);
        self.mean = m;
        self.c = c;
    }
    /// The mean.
    pub fn value(&self) -> f64 {
        if self.incremental { self.mean + self.c } else { self.sum / self.count + self.c / self.count }
    }
}

/// Accumulator for the `stddev`/`stdvar` aggregations: Welford's online
/// algorithm exactly as `promql/engine.go` (no Kahan compensation there,
/// unlike `stddev_over_time`). A first value that is NaN or ±Inf makes the
/// result NaN; later NaN/Inf values make it NaN through the arithmetic.
/// A single finite value gives 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarAcc {
    m2: f64,
    mean: f64,
    count: f64,
}

impl VarAcc {
    /// Starts a group with its first value.
    pub fn new(first: f64) -> Self {
        let m2 = if first.is_nan() || first.is_infinite() { f64::NAN } else { 0.0 };
        VarAcc { m2, mean: first, count: 1.0 }
    }
    /// Adds the next value of the group.
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (v - self.mean);
    }
    /// Population variance (`stdvar`).
    pub fn stdvar(&self) -> f64 {
        self.m2 / self.count
    }
    /// Population standard deviation (`stddev`).
    pub fn stddev(&self) -> f64 {
        (self.m2 / self.count).sqrt()
    }
}

/// Accumulator for `min` (`is_max == false`) and `max` (`is_max == true`).
/// A NaN current value is replaced by whatever comes next, so NaN is only
/// returned when every value of the group is NaN (or the last one is, after
/// only NaNs). ±Inf compare normally.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinMaxAcc {
    value: f64,
    is_max: bool,
}

impl MinMaxAcc {
    /// Starts a `min` group.
    pub fn min(first: f64) -> Self {
        MinMaxAcc { value: first, is_max: false }
    }
    /// Starts a `max` group.
    pub fn max(first: f64) -> Self {
        MinMaxAcc { value: first, is_max: true }
    }
    /// Adds the next value of the group.
    #[inline]
    pub fn add(&mut self, v: f64) {
        let replace = if self.is_max { self.value < v } else { self.value > v };
        if replace || self.value.is_nan() {
            self.value = v;
        }
    }
    /// The minimum/maximum.
    pub fn value(&self) -> f64 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::math::testutil::{assert_close, series};

    fn avg(vs: &[f64]) -> f64 {
        let mut a = AvgAcc::new(vs[0]);
        for &v in &vs[1..] {
            a.add(v);
        }
        a.value()
    }
    fn sum(vs: &[f64]) -> f64 {
        let mut a = SumAcc::new(vs[0]);
        for &v in &vs[1..] {
            a.add(v);
        }
        a.value()
    }
    fn var(vs: &[f64]) -> VarAcc {
        let mut a = VarAcc::new(vs[0]);
        for &v in &vs[1..] {
            a.add(v);
        }
        a
    }
    fn min(vs: &[f64]) -> f64 {
        let mut a = MinMaxAcc::min(vs[0]);
        for &v in &vs[1..] {
            a.add(v);
        }
        a.value()
    }
    fn max(vs: &[f64]) -> f64 {
        let mut a = MinMaxAcc::max(vs[0]);
        for &v in &vs[1..] {
            a.add(v);
        }
        a.value()
    }
    // aggregators.test `load 5m http_requests{...} 0+10x10 / 0+20x10 / ...`
    // at 50m: the eight series values are 100,200,...,800.
    fn http_requests_50m() -> Vec<f64> {
        // (job,instance,group): api 0 prod 0+10x10, api 1 prod 0+20x10,
        // api 0 canary 0+30x10, api 1 canary 0+40x10, app 0 prod 0+50x10,
        // app 1 prod 0+60x10, app 0 canary 0+70x10, app 1 canary 0+80x10.
        (1..=8).map(|k| series(&format!("0+{}x10", k * 10))[10].unwrap()).collect()
    }

    #[test]
    fn aggregators_sum_avg_count_minmax() {
        let v = http_requests_50m();
        assert_close(sum(&v), 3600.0);
        assert_close(avg(&v), 450.0);
        assert_close(min(&v), 100.0);
        assert_close(max(&v), 800.0);
    }

    #[test]
    fn aggregators_stddev_stdvar() {
        // stddev(http_requests) = 229.12878474779, stdvar = 52500.
        let v = http_requests_50m();
        assert_close(var(&v).stddev(), 229.12878474779);
        assert_close(var(&v).stdvar(), 52500.0);
        // by (instance): instance 0 = 100,300,500,700 -> stdvar 50000.
        let i0 = [v[0], v[2], v[4], v[6]];
        assert_close(var(&i0).stdvar(), 50000.0);
        assert_close(var(&i0).stddev(), 223.60679774998);
        // Float precision test: three identical 0+1.33x10 at 50m -> exactly 0.
        let x = series("0+1.33x10")[10].unwrap();
        assert_eq!(var(&[x, x, x]).stddev(), 0.0);
        assert_eq!(var(&[x, x, x]).stdvar(), 0.0);
    }

    #[test]
    fn aggregators_stddev_nan_inf() {
        assert_close(var(&[1.0, 2.0]).stddev(), 0.5);
        assert_close(var(&[1.0, 2.0]).stdvar(), 0.25);
        assert!(var(&[1.0, 2.0, f64::NAN]).stddev().is_nan());
        assert!(var(&[f64::NAN, 1.0, 2.0]).stdvar().is_nan());
        assert!(var(&[f64::NAN]).stddev().is_nan());
        assert!(var(&[1.0, 2.0, f64::INFINITY]).stddev().is_nan());
        assert!(var(&[f64::INFINITY, 1.0, 2.0]).stdvar().is_nan());
        assert!(var(&[f64::INFINITY]).stdvar().is_nan());
        assert_eq!(var(&[1.0]).stddev(), 0.0);
    }

    #[test]
    fn aggregators_quantile() {
        // aggregators.test "Tests for quantile".
        let cases: [(&[f64], f64, f64); 8] = [
            (&[0.0, 1.0], 0.8, 0.8),
            (&[0.0, 1.0, 2.0], 0.8, 1.6),
            (&[0.0, 1.0, 4.0], 0.8, 2.8),
            (&[0.0, 1.0, f64::NAN], 0.8, 0.6),
            (&[0.0, 1.0], 0.2, 0.2),
            (&[0.0, 1.0, 2.0], 0.2, 0.4),
            (&[0.0, 1.0, 4.0], 0.2, 0.4),
            (&[1.0, 0.0, 4.0], 0.2, 0.4),
        ];
        for (vals, q, want) in cases {
            assert_close(quantile(q, &mut vals.to_vec()), want);
        }
        // Between NaN and 0 -> NaN.
        assert!(quantile(0.2, &mut [0.0, 1.0, f64::NAN]).is_nan());
        // NaN quantile -> NaN; out of range -> ±Inf.
        assert!(quantile(f64::NAN, &mut [0.0, 1.0]).is_nan());
        assert_eq!(quantile(-1.0, &mut [0.0, 1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(2.0, &mut [0.0, 1.0]), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
        assert!(quantile_is_invalid(f64::NAN));
        assert!(quantile_is_invalid(-0.1));
        assert!(quantile_is_invalid(1.1));
        assert!(!quantile_is_invalid(0.0) && !quantile_is_invalid(1.0));
        // Bug #15971 range: q = scalar(foo) = 0 / 1 alternating.
        assert_eq!(quantile(0.0, &mut [0.0, 1.0, 4.0]), 0.0);
        assert_eq!(quantile(1.0, &mut [0.0, 1.0, 4.0]), 4.0);
        assert!(quantile(0.0, &mut [0.0, 1.0, f64::NAN]).is_nan());
        assert_eq!(quantile(1.0, &mut [0.0, 1.0, f64::NAN]), 1.0);
        // Single value.
        assert_eq!(quantile(0.3, &mut [7.0]), 7.0);
    }

    #[test]
    fn avg_edge_cases() {
        // Mirrors functions.test avg_over_time extreme value cases (same math).
        let inf = f64::INFINITY;
        assert_eq!(avg(&[1.0, 2.0, 3.0, 4.0, inf]), inf);
        assert_eq!(avg(&[1.0, 2.0, 3.0, 4.0, -inf]), -inf);
        assert!(avg(&[1.0, 2.0, 3.0, inf, -inf]).is_nan());
        assert_eq!(avg(&[inf, 0.0, inf]), inf);
        assert!(avg(&[inf, inf, inf, -inf]).is_nan());
        assert_eq!(avg(&[-inf, 0.0, -inf]), -inf);
        assert!(avg(&[1.0, 2.0, -inf, -inf, inf]).is_nan());
        assert_close(avg(&[9.988465674311579e307, 9.988465674311579e307]), 9.988465674311579e307);
        assert_close(avg(&[-9.988465674311579e307; 3]), -9.988465674311579e307);
        assert_eq!(avg(&[-9.988465674311579e307, 9.988465674311579e307]), 0.0);
        assert!(avg(&[1.0, 2.0, 3.0, f64::NAN]).is_nan());
        assert_eq!(avg(&[52.0; 13]), 52.0);
        assert!(avg(&[inf, -inf]).is_nan());
    }

    #[test]
    fn sum_edge_cases() {
        assert_eq!(sum(&[1.0, 1e100, 1.0, -1e100]), 2.0);
        assert!(sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(sum(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert!(sum(&[1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn min_max_nan() {
        let nan = f64::NAN;
        assert_eq!(min(&[nan, 3.0, 1.0]), 1.0);
        assert_eq!(max(&[nan, 3.0, 1.0]), 3.0);
        assert_eq!(max(&[3.0, nan, 1.0]), 3.0);
        assert!(max(&[nan, nan]).is_nan());
        assert_eq!(max(&[f64::NEG_INFINITY, 2.0]), 2.0);
        assert_eq!(min(&[f64::INFINITY, 2.0, f64::NEG_INFINITY]), f64::NEG_INFINITY);
    }

    #[test]
    fn go_min_max_semantics() {
        assert_eq!(go_max(f64::INFINITY, f64::NAN), f64::INFINITY);
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_min(f64::NEG_INFINITY, f64::NAN), f64::NEG_INFINITY);
        assert!(go_min(f64::NAN, 1.0).is_nan());
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_max(1.0, 2.0), 2.0);
        assert_eq!(go_min(1.0, 2.0), 1.0);
    }
}

// Pharos — query/src/promql/math/aggregate.rs
