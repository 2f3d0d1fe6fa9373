//! Classic (bucket-series) histogram math: `histogram_quantile` /
//! `histogram_quantiles` (Prometheus `BucketQuantile`) and
//! `histogram_fraction` (Prometheus `BucketFraction`) over `le` buckets.
//!
//! The evaluator groups the `*_bucket` series by their labels minus `le`,
//! parses `le` into [`Bucket::upper_bound`] (series with a missing or
//! unparsable `le` are dropped with Prometheus' "bucket label le is missing
//! or has a malformed value" warning), and passes each group's buckets here.
//! `histogram_count`/`histogram_sum`/`histogram_avg`/`histogram_stddev`/
//! `histogram_stdvar` only apply to native histograms in Prometheus 3 (the
//! classic equivalents are plain `_count`/`_sum` series), so nothing is
//! needed for them here.

/// Prometheus' `smallDeltaTolerance`: relative differences between
/// consecutive cumulative bucket counts up to this are treated as
/// floating-point noise and flattened.
pub const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// One classic-histogram bucket: cumulative `count` of observations
/// `<= upper_bound` (the `le` label).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The `le` value (may be `+Inf`).
    pub upper_bound: f64,
    /// The cumulative count (sample value of the bucket series).
    pub count: f64,
}

/// Result of [`bucket_quantile`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketQuantile {
    /// The quantile value (possibly NaN/±Inf, see [`bucket_quantile`]).
    pub value: f64,
    /// Monotonicity had to be forced: Prometheus then emits the info
    /// annotation `input to histogram_quantile needed to be fixed for
    /// monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)
    /// for metric name "<name>" ...` built from the fields below.
    pub forced_monotonicity: bool,
    /// Numerically insignificant differences (<= 1e-12 relative) were
    /// flattened (no annotation in Prometheus).
    pub fixed_precision: bool,
    /// Lowest `le` whose count had to be raised (`+Inf` if none; 0 on the
    /// early exits for invalid `q` / missing `+Inf` bucket).
    pub min_bucket: f64,
    /// Highest `le` whose count had to be raised (`-Inf` if none; 0 on the
    /// early exits).
    pub max_bucket: f64,
    /// Largest count decrease that was removed.
    pub max_diff: f64,
}

impl BucketQuantile {
    fn plain(value: f64) -> Self {
        BucketQuantile {
            value,
            forced_monotonicity: false,
            fixed_precision: false,
            min_bucket: 0.0,
            max_bucket: 0.0,
            max_diff: 0.0,
        }
    }
}

/// Prometheus' `almost.Equal(a, b, epsilon)` (without the StaleNaN case,
/// which cannot occur in bucket counts): both NaN → equal; otherwise relative
/// difference below `epsilon` (absolute `epsilon·MinNormal` near zero).
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < epsilon * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Sorts by upper bound. Go uses an (unstable) sort that treats NaN bounds
/// as equal to everything; here `total_cmp` is used so it never panics
/// (positive NaN bounds end up after `+Inf`, making the result NaN).
fn sort_buckets(buckets: &mut [Bucket]) {
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
}

/// Prometheus' `coalesceBuckets`: merges buckets with the same upper bound
/// (e.g. `le="0.2"` and `le="2e-1"`) by adding their counts. Input sorted.
fn coalesce(buckets: &mut Vec<Bucket>) {
    if buckets.is_empty() {
        return;
    }
    let mut last = buckets[0];
    let mut i = 0;
    for k in 1..buckets.len() {
        let b = buckets[k];
        if b.upper_bound == last.upper_bound {
            last.count += b.count;
        } else {
            buckets[i] = last;
            last = b;
            i += 1;
        }
    }
    buckets[i] = last;
    buckets.truncate(i + 1);
}

/// Go's `sort.Search(n, f)`: smallest index in `[0, n)` where `f` is true
/// (assuming monotonic `f`), or `n`. Same bisection as Go, so non-monotonic
/// inputs (NaN counts) land where Go's would.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0usize, n);
    while i < j {
        let h = i + (j - i) / 2;
        if !f(h) {
            i = h + 1;
        } else {
            j = h;
        }
    }
    i
}

/// Prometheus' `BucketQuantile` (classic `histogram_quantile(q, ...)`).
/// Sorts, coalesces and repairs `buckets` in place.
///
/// Order of checks (as Prometheus): `q` NaN → NaN; `q < 0` → -Inf;
/// `q > 1` → +Inf (the caller warns, see
/// [`crate::promql::math::aggregate::quantile_is_invalid`]); empty input → NaN (Go would
/// panic, but never calls it empty); highest bucket not `+Inf` → NaN;
/// coalesce equal bounds; flatten tiny deltas and force monotonicity
/// (reported in the result); fewer than 2 buckets → NaN; zero observations
/// (count of `+Inf` bucket) → NaN.
///
/// Then `rank = q·total`, the first bucket whose count `>= rank` is found:
/// in the `+Inf` bucket the upper bound of the second-highest bucket is
/// returned; in the first bucket with `le <= 0` its `le` is returned;
/// otherwise linear interpolation inside the bucket, whose lower bound is the
/// previous `le` (or 0 for the first bucket).
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> BucketQuantile {
    if q.is_nan() {
        return BucketQuantile::plain(f64::NAN);
    }
    if q < 0.0 {
        return BucketQuantile::plain(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return BucketQuantile::plain(f64::INFINITY);
    }
    if buckets.is_empty() {
        return BucketQuantile::plain(f64::NAN);
    }
    sort_buckets(buckets);
    if buckets[buckets.len() - 1].upper_bound != f64::INFINITY {
        return BucketQuantile::plain(f64::NAN);
    }
    coalesce(buckets);
    let mut res = BucketQuantile {
        value: f64::NAN,
        forced_monotonicity: false,
        fixed_precision: false,
        min_bucket: f64::INFINITY,
        max_bucket: f64::NEG_INFINITY,
        max_diff: 0.0,
    };
    ensure_monotonic(buckets, SMALL_DELTA_TOLERANCE, &mut res);
    let n = buckets.len();
    if n < 2 {
        return res;
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return res;
    }
    let mut rank = q * observations;
    let b = go_search(n - 1, |i| buckets[i].count >= rank);
    if b == n - 1 {
        res.value = buckets[n - 2].upper_bound;
        return res;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        res.value = buckets[0].upper_bound;
        return res;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    res.value = bucket_start + (bucket_end - bucket_start) * (rank / count);
    res
}

/// Prometheus' `ensureMonotonicAndIgnoreSmallDeltas`: a count that is
/// almost equal (relative `tolerance`) to the last accepted one is set to
/// it (fixed precision); a smaller count is raised to it (forced
/// monotonicity, tracking min/max `le` and the largest decrease). The
/// "last accepted" count only advances on genuine increases.
fn ensure_monotonic(buckets: &mut [Bucket], tolerance: f64, res: &mut BucketQuantile) {
    let Some(first) = buckets.first() else { return };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, tolerance) {
            b.count = prev;
            res.fixed_precision = true;
            continue;
        }
        if curr < prev {
            b.count = prev;
            res.forced_monotonicity = true;
            if b.upper_bound < res.min_bucket {
                res.min_bucket = b.upper_bound;
            }
            if b.upper_bound > res.max_bucket {
                res.max_bucket = b.upper_bound;
            }
            let diff = prev - curr;
            if diff > res.max_diff {
                res.max_diff = diff;
            }
            continue;
        }
        prev = curr;
    }
}

/// Prometheus' `BucketFraction` (classic `histogram_fraction(lower, upper,
/// ...)`): estimated fraction of observations in `(lower, upper]`, with
/// linear interpolation inside buckets. Sorts and coalesces `buckets` in
/// place (no monotonicity repair, as in Prometheus).
///
/// * empty input, or highest bucket not `+Inf` → NaN;
/// * total count 0, or `lower`/`upper` NaN → NaN;
/// * `lower >= upper` → 0;
/// * the first bucket's lower bound is 0 if its `le > 0`, else `-Inf`; a
///   bound inside a bucket with `-Inf` lower bound counts the whole bucket
///   (no interpolation over an infinite width); a bound inside the `+Inf`
///   bucket contributes nothing from that bucket.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if buckets.is_empty() {
        return f64::NAN;
    }
    sort_buckets(buckets);
    if buckets[buckets.len() - 1].upper_bound != f64::INFINITY {
        return f64::NAN;
    }
    coalesce(buckets);
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper_bound <= 0.0 { f64::NEG_INFINITY } else { 0.0 };
    for i in 0..buckets.len() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper_bound;
        }
        let b = buckets[i];
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64, rank: f64| -> f64 {
            if lower_bound == f64::NEG_INFINITY {
                return b.count;
            }
            rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower, rank);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper, rank);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::math::testutil::assert_close;

    fn bk(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs.iter().map(|&(upper_bound, count)| Bucket { upper_bound, count }).collect()
    }
    const INF: f64 = f64::INFINITY;

    // Bucket values at 50m (index 10) of `0+Nx10` = 10·N.
    fn testhistogram_pos() -> Vec<Bucket> {
        bk(&[(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)])
    }
    fn testhistogram_neg() -> Vec<Bucket> {
        bk(&[(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)])
    }
    fn testhistogram3_pos() -> Vec<Bucket> {
        bk(&[(0.0, 0.0), (0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 110.0)])
    }
    fn testhistogram3_neg() -> Vec<Bucket> {
        bk(&[(-0.25, 0.0), (-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 20.0)])
    }

    #[test]
    fn quantile_testhistogram3() {
        for (q, p, n) in
            [(0.0, 0.0, -0.25), (0.25, 0.055, -0.225), (0.5, 0.125, -0.2), (0.75, 0.45, -0.15), (1.0, 1.0, -0.1)]
        {
            let r = bucket_quantile(q, &mut testhistogram3_pos());
            assert_close(r.value, p);
            assert!(!r.forced_monotonicity);
            assert_close(bucket_quantile(q, &mut testhistogram3_neg()).value, n);
        }
    }

    #[test]
    fn quantile_testhistogram() {
        for (q, p, n) in [(0.0, 0.0, -0.2), (1.0, 1.0, 0.3), (0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3)] {
            assert_close(bucket_quantile(q, &mut testhistogram_pos()).value, p);
            assert_close(bucket_quantile(q, &mut testhistogram_neg()).value, n);
        }
        // rate(...[10m]) scales all buckets equally -> same quantiles.
        let mut scaled: Vec<Bucket> =
            testhistogram_pos().iter().map(|b| Bucket { count: b.count / 600.0, ..*b }).collect();
        assert_close(bucket_quantile(0.8, &mut scaled).value, 0.72);
        // Invalid q.
        assert_eq!(bucket_quantile(-0.1, &mut testhistogram_pos()).value, f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(1.01, &mut testhistogram_pos()).value, INF);
        assert!(bucket_quantile(f64::NAN, &mut testhistogram_pos()).value.is_nan());
    }

    #[test]
    fn quantile_middle_of_bucket_and_unsorted() {
        // testhistogram2 at 7m (index 1): le 0:0, 2:1, 4:2, 6:3, +Inf:3.
        let mut b = bk(&[(INF, 3.0), (4.0, 2.0), (0.0, 0.0), (6.0, 3.0), (2.0, 1.0)]);
        assert_close(bucket_quantile(1.0 / 6.0, &mut b).value, 1.0);
        assert_close(bucket_quantile(0.5, &mut b).value, 3.0);
        assert_close(bucket_quantile(5.0 / 6.0, &mut b).value, 5.0);
    }

    #[test]
    fn quantile_request_duration_aggregations() {
        // histograms.test: sum by (le) of request_duration_seconds_bucket at 50m.
        // job1 ins1: 10/30/40, ins2: 20/50/60, job2 ins1: 30/40/60, ins2: 40/70/90.
        let mut all = bk(&[(0.1, 100.0), (0.2, 190.0), (INF, 250.0)]);
        // q=0.3: rank 75 -> 0.075.
        assert_close(bucket_quantile(0.3, &mut all).value, 0.075);
        let mut j1i1 = bk(&[(0.1, 10.0), (0.2, 30.0), (INF, 40.0)]);
        assert_close(bucket_quantile(0.5, &mut j1i1).value, 0.15);
        let mut j1i1 = bk(&[(0.1, 10.0), (0.2, 30.0), (INF, 40.0)]);
        assert_close(bucket_quantile(0.25, &mut j1i1).value, 0.1);
    }

    #[test]
    fn quantile_coalesces_equal_bounds() {
        // mixed_bucket ins1: le 0.1:1, 0.2:1, 2e-1:1, 2.0e-1:1, +Inf:4 (rates).
        let mut b = bk(&[(0.1, 1.0), (0.2, 1.0), (0.2, 1.0), (0.2, 1.0), (INF, 4.0)]);
        assert_close(bucket_quantile(0.5, &mut b).value, 0.15);
        assert_eq!(b.len(), 3);
        // ins2: le +inf:0 and +Inf:0 -> single bucket -> NaN.
        let mut b = bk(&[(INF, 0.0), (INF, 0.0)]);
        assert!(bucket_quantile(0.5, &mut b).value.is_nan());
    }

    #[test]
    fn quantile_nonmonotonic() {
        // le 0.1:20 1:10 10:50 100:40 1000:90 +Inf:80 (0+Nx10 at 50m).
        let mk = || bk(&[(0.1, 20.0), (1.0, 10.0), (10.0, 50.0), (100.0, 40.0), (1000.0, 90.0), (INF, 80.0)]);
        for (q, want) in [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)] {
            let r = bucket_quantile(q, &mut mk());
            assert_close(r.value, want);
            assert!(r.forced_monotonicity);
            assert_eq!(r.min_bucket, 1.0);
            assert_eq!(r.max_bucket, INF);
            assert_eq!(r.max_diff, 10.0);
        }
    }

    #[test]
    fn quantile_degenerate_inputs() {
        assert!(bucket_quantile(0.5, &mut vec![]).value.is_nan());
        assert!(bucket_quantile(0.5, &mut bk(&[(1.0, 1.0), (2.0, 2.0)])).value.is_nan()); // no +Inf
        assert!(bucket_quantile(0.5, &mut bk(&[(INF, 5.0)])).value.is_nan()); // < 2 buckets
        assert!(bucket_quantile(0.5, &mut bk(&[(1.0, 0.0), (INF, 0.0)])).value.is_nan()); // no obs
        // In the +Inf bucket -> second highest le.
        assert_eq!(bucket_quantile(0.99, &mut bk(&[(1.0, 1.0), (INF, 100.0)])).value, 1.0);
        // NaN counts / NaN bounds must not panic.
        let _ = bucket_quantile(0.5, &mut bk(&[(f64::NAN, 1.0), (1.0, f64::NAN), (INF, 3.0), (f64::NAN, f64::NAN)]));
        // Tiny precision differences are flattened, not "forced".
        let r = bucket_quantile(0.5, &mut bk(&[(1.0, 1e13), (2.0, 1e13 - 1e-3), (INF, 2e13)]));
        assert!(r.fixed_precision && !r.forced_monotonicity);
    }

    #[test]
    fn fraction_cases() {
        // testhistogram2 at 50m: le 0:0, 2:10, 4:20, 6:30, +Inf:30.
        let th2 = || bk(&[(0.0, 0.0), (2.0, 10.0), (4.0, 20.0), (6.0, 30.0), (INF, 30.0)]);
        assert_close(bucket_fraction(0.0, 4.0, &mut th2()), 0.6666666666666666);
        assert_close(bucket_fraction(0.0, 6.0, &mut th2()), 1.0);
        assert_close(bucket_fraction(0.0, 3.5, &mut th2()), 0.5833333333333334);
        assert_close(bucket_fraction(0.0, 0.2, &mut testhistogram3_pos()), 0.6363636363636364);
        assert_close(bucket_fraction(0.0, 0.2, &mut testhistogram3_neg()), 0.0);

        let pos = || bk(&[(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (INF, 100.0)]);
        let neg = || bk(&[(-3.0, 10.0), (-2.0, 12.0), (-1.0, 15.0), (INF, 100.0)]);
        assert_close(bucket_fraction(0.0, 1.5, &mut pos()), 0.02);
        assert_close(bucket_fraction(-4.0, -2.0, &mut neg()), 0.02);
        assert_close(bucket_fraction(f64::NEG_INFINITY, -1.5, &mut neg()), 0.135);
        assert_close(bucket_fraction(f64::NEG_INFINITY, INF, &mut pos()), 1.0);
        assert_close(bucket_fraction(f64::NEG_INFINITY, INF, &mut neg()), 1.0);
        assert_close(bucket_fraction(4.0, 5.0, &mut pos()), 0.0);
        assert_close(bucket_fraction(0.0, 1.0, &mut neg()), 0.0);
        assert_close(bucket_fraction(2.0, 5.0, &mut pos()), 0.03);
        assert_close(bucket_fraction(400.0, INF, &mut pos()), 0.94);
        assert_close(bucket_fraction(2.0, 2.0, &mut pos()), 0.0);
        assert_close(bucket_fraction(3.0, 2.0, &mut pos()), 0.0);
        assert_close(bucket_fraction(0.0, 1.0, &mut bk(&[(INF, 100.0)])), 0.0);
        assert!(bucket_fraction(0.0, 5.0, &mut bk(&[(1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (INF, 0.0)])).is_nan());
        assert_close(bucket_fraction(2.0, 3.5, &mut pos()), 0.03);
        assert_close(bucket_fraction(0.5, 2.0, &mut pos()), 0.025);
        assert_close(bucket_fraction(1.0, 3.0, &mut pos()), 0.05);
        assert_close(bucket_fraction(0.1, 0.75, &mut bk(&[(0.5, 2.5), (1.0, 7.5), (INF, 100.0)])), 0.045);
        let crosses = || bk(&[(-2.0, 5.0), (-1.0, 10.0), (0.0, 15.0), (1.0, 20.0), (INF, 100.0)]);
        assert_close(bucket_fraction(-1.0, 1.0, &mut crosses()), 0.1);
        let one = || bk(&[(1.0, 1.0), (INF, 100.0)]);
        assert!(bucket_fraction(f64::NAN, 1.0, &mut one()).is_nan());
        assert!(bucket_fraction(0.0, f64::NAN, &mut one()).is_nan());
        let small = || bk(&[(1.0, 1.0), (2.0, 3.0), (INF, 10.0)]);
        assert_close(bucket_fraction(-10.0, -5.0, &mut small()), 0.0);
        assert_close(bucket_fraction(5.0, 10.0, &mut small()), 0.0);
        assert!(bucket_fraction(0.0, 1.0, &mut vec![]).is_nan());
        assert!(bucket_fraction(0.0, 1.0, &mut bk(&[(1.0, 1.0)])).is_nan());
    }
}

// Pharos — query/src/promql/math/histogram.rs
