//! Compensated (Kahan–Babuška–Neumaier) summation, as in Prometheus'
//! `util/kahansum` (`kahansum.Inc`, formerly `kahanSumInc` in
//! `promql/functions.go`).

/// One step of Prometheus' `kahansum.Inc(inc, sum, c)`: adds `inc` to the
/// running `sum` with compensation term `c` and returns `(new_sum, new_c)`.
///
/// Edge cases (exactly as Prometheus):
/// * if the new sum is ±Inf, the compensation is reset to 0 (so a later
///   `sum + c` stays ±Inf instead of becoming NaN);
/// * Neumaier's variant: when `|inc| > |sum|` the roles are swapped;
/// * NaN propagates into both the sum and the compensation.
#[inline(never)] // keep the exact IEEE operation order; never fused/reassociated
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let new_c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, new_c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kahan_sum(values: &[f64]) -> (f64, f64) {
        values.iter().fold((0.0, 0.0), |(sum, c), &v| kahan_inc(v, sum, c))
    }

    #[test]
    fn kahan_recovers_small_terms() {
        // functions.test: `metric 1 1e100 1 -1e100`, sum_over_time = 2.
        let (sum, c) = kahan_sum(&[1.0, 1e100, 1.0, -1e100]);
        assert_eq!(sum + c, 2.0);
        // Naive summation would give 0.
        assert_eq!(1.0 + 1e100 + 1.0 - 1e100, 0.0);
    }

    #[test]
    fn kahan_inf_handling() {
        let (sum, c) = kahan_sum(&[1.5, f64::INFINITY]);
        assert_eq!((sum, c), (f64::INFINITY, 0.0));
        let (sum, c) = kahan_sum(&[1.5, f64::INFINITY, 3.0, f64::NEG_INFINITY]);
        assert!((sum + c).is_nan());
        let (sum, c) = kahan_sum(&[f64::MAX, f64::MAX]);
        assert_eq!((sum, c), (f64::INFINITY, 0.0), "overflow resets the compensation");
        let (sum, c) = kahan_sum(&[1.0, f64::NAN, 2.0]);
        assert!((sum + c).is_nan());
    }
}

// Pharos — query/src/promql/math/kahan.rs
