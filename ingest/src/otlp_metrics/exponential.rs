//! Exponential histogram points as cumulative classic buckets.
//!
//! Prometheus stores an OTLP exponential histogram as a native histogram. Pharos' store holds
//! floats only, so each point becomes `_bucket{le}` series with cumulative counts instead:
//!
//! - Bucket `i` of scale `s` holds values in `(base^i, base^(i+1)]`, `base = 2^(2^-s)`, so its
//!   upper bound `base^(i+1)` is its `le`.
//! - The zero bucket (`|v| <= zero_threshold`) is the lowest bucket, `le = zero_threshold`.
//! - Negative buckets are folded into that lowest bucket: every negative observation is below
//!   `zero_threshold`, so all cumulative counts stay exact; only the spread of the negative
//!   observations among themselves is lost (quantiles below zero read as falling in the zero
//!   bucket).
//! - Scales above 8 are first reduced to 8 (Prometheus' finest native schema) by merging buckets,
//!   and further while more than [`MAX_POSITIVE_BUCKETS`] buckets would remain; a coarser scale's
//!   bounds are a subset of a finer one's, so `le` series stay consistent across points. Scales
//!   below -4 are refused, as Prometheus refuses them.
//! - Bounds that overflow to infinity are skipped: `le="+Inf"` (the point's count) covers them.

use pharos_proto::otlp::metrics::v1::ExponentialHistogramDataPoint;

/// Finest scale kept (Prometheus' largest native-histogram schema).
pub(super) const MAX_SCALE: i32 = 8;
/// Coarsest scale accepted (Prometheus refuses coarser ones).
pub(super) const MIN_SCALE: i32 = -4;
/// Most positive buckets turned into series per point (the OpenTelemetry SDKs' default maximum
/// size is 160, so real data is not reduced).
pub(super) const MAX_POSITIVE_BUCKETS: i64 = 160;

/// `2^exponent`, exact, saturating to infinity and zero.
fn power_of_two(exponent: i64) -> f64 {
    if exponent > 1023 {
        f64::INFINITY
    } else if exponent >= -1022 {
        f64::from_bits(((exponent + 1023) as u64) << 52)
    } else if exponent >= -1074 {
        f64::from_bits(1u64 << (exponent + 1074))
    } else {
        0.0
    }
}

/// The upper bound of bucket `index` at `scale`: `2^((index + 1) * 2^-scale)`.
pub(super) fn upper_bound(scale: i32, index: i64) -> f64 {
    let k = index.saturating_add(1);
    if scale <= 0 {
        let shift = (-i64::from(scale)).min(62) as u32;
        return match k.checked_mul(1i64 << shift) {
            Some(exponent) => power_of_two(exponent),
            None if k > 0 => f64::INFINITY,
            None => 0.0,
        };
    }
    let buckets_per_octave = 1i64 << scale.min(62);
    let octave = k.div_euclid(buckets_per_octave);
    let within = k.rem_euclid(buckets_per_octave);
    // Dividing by a power of two is exact, so a bound is computed identically at every scale
    // where it exists.
    power_of_two(octave) * (within as f64 / buckets_per_octave as f64).exp2()
}

/// The index at a scale `shift` steps coarser: each step halves the buckets (floor division, so
/// negative indexes round down too).
fn coarser_index(index: i64, shift: i64) -> i64 {
    if shift >= 63 { if index < 0 { -1 } else { 0 } } else { index >> shift }
}

/// Cumulative `(le, count)` pairs of a point in ascending `le` order, without `+Inf`.
pub(super) fn cumulative_buckets(point: &ExponentialHistogramDataPoint) -> Result<Vec<(f64, u64)>, String> {
    if point.scale < MIN_SCALE {
        return Err(format!("scale {} is below the supported minimum {MIN_SCALE}", point.scale));
    }
    let negative_total = point
        .negative
        .as_ref()
        .map(|negative| negative.bucket_counts.iter().fold(0u64, |sum, count| sum.saturating_add(*count)))
        .unwrap_or(0);
    let zero_le =
        if point.zero_threshold.is_finite() && point.zero_threshold > 0.0 { point.zero_threshold } else { 0.0 };
    let mut pairs: Vec<(f64, u64)> = vec![(zero_le, point.zero_count.saturating_add(negative_total))];

    if let Some(positive) = point.positive.as_ref().filter(|positive| !positive.bucket_counts.is_empty()) {
        let first = i64::from(positive.offset);
        let last = first + positive.bucket_counts.len() as i64 - 1;
        let original_scale = i64::from(point.scale);
        let span_at = |scale: i32| {
            let shift = original_scale - i64::from(scale);
            coarser_index(last, shift) - coarser_index(first, shift) + 1
        };
        let mut scale = point.scale.min(MAX_SCALE);
        while scale > MIN_SCALE && span_at(scale) > MAX_POSITIVE_BUCKETS {
            scale -= 1;
        }
        let shift = original_scale - i64::from(scale);
        let mut merged: Vec<(i64, u64)> = Vec::new();
        for (position, count) in positive.bucket_counts.iter().enumerate() {
            let index = coarser_index(first + position as i64, shift);
            match merged.last_mut() {
                Some((last_index, total)) if *last_index == index => *total = total.saturating_add(*count),
                _ => merged.push((index, *count)),
            }
        }
        pairs.extend(
            merged
                .into_iter()
                .map(|(index, count)| (upper_bound(scale, index), count))
                .filter(|(le, _)| le.is_finite()),
        );
    }

    // Valid points are already in order; sorting keeps invalid ones (a positive bucket below the
    // zero threshold) from producing a decreasing cumulative series.
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cumulative: Vec<(f64, u64)> = Vec::with_capacity(pairs.len());
    let mut running = 0u64;
    for (le, count) in pairs {
        running = running.saturating_add(count);
        match cumulative.last_mut() {
            Some((last_le, total)) if *last_le == le => *total = running,
            _ => cumulative.push((le, running)),
        }
    }
    Ok(cumulative)
}

#[cfg(test)]
mod tests {
    use pharos_proto::otlp::metrics::v1::exponential_histogram_data_point::Buckets;

    use super::*;

    fn point(
        scale: i32,
        zero_count: u64,
        offset: i32,
        counts: &[u64],
        negative: &[u64],
    ) -> ExponentialHistogramDataPoint {
        ExponentialHistogramDataPoint {
            scale,
            zero_count,
            positive: Some(Buckets { offset, bucket_counts: counts.to_vec() }),
            negative: Some(Buckets { offset: 0, bucket_counts: negative.to_vec() }),
            ..Default::default()
        }
    }

    #[test]
    fn bounds_are_exact_powers() {
        assert_eq!(upper_bound(0, 0), 2.0);
        assert_eq!(upper_bound(0, -1), 1.0);
        assert_eq!(upper_bound(0, 1), 4.0);
        assert_eq!(upper_bound(-2, 0), 16.0);
        assert_eq!(upper_bound(1, 1), 2.0);
        assert_eq!(upper_bound(1, 0), std::f64::consts::SQRT_2);
        assert_eq!(upper_bound(3, -9), 0.5);
        assert_eq!(upper_bound(0, 5000), f64::INFINITY);
        assert_eq!(upper_bound(0, -5000), 0.0);
        assert_eq!(upper_bound(2, 5), upper_bound(3, 11), "a bound is the same at every scale");
    }

    #[test]
    fn buckets_accumulate_from_the_zero_bucket() {
        // scale 0: bucket 1 is (2, 4], bucket 2 is (4, 8].
        let buckets = cumulative_buckets(&point(0, 1, 1, &[0, 2], &[])).unwrap();
        assert_eq!(buckets, vec![(0.0, 1), (4.0, 1), (8.0, 3)]);
    }

    #[test]
    fn negative_buckets_fold_into_the_lowest_bound() {
        let mut p = point(0, 1, 0, &[2], &[3, 4]);
        p.zero_threshold = 0.001;
        let buckets = cumulative_buckets(&p).unwrap();
        assert_eq!(buckets, vec![(0.001, 8), (2.0, 10)]);
    }

    #[test]
    fn fine_scales_are_reduced() {
        // Scale 10 → 8 merges groups of four buckets; indexes 0..8 become 0, 0, 0, 0, 1, 1, 1, 1.
        let buckets = cumulative_buckets(&point(10, 0, 0, &[1; 8], &[])).unwrap();
        assert_eq!(buckets, vec![(0.0, 0), (upper_bound(8, 0), 4), (upper_bound(8, 1), 8)]);
        // 400 buckets at scale 3 need two halvings to fit in 160.
        let wide = cumulative_buckets(&point(3, 0, 0, &[1; 400], &[])).unwrap();
        assert_eq!(wide.len(), 1 + 100);
        assert_eq!(wide.last().map(|(_, count)| *count), Some(400));
        assert!(cumulative_buckets(&point(-5, 0, 0, &[1], &[])).is_err());
    }

    #[test]
    fn extreme_scales_and_offsets_stay_bounded() {
        let huge = cumulative_buckets(&point(i32::MAX, 1, i32::MAX - 2, &[1, 1, 1], &[])).unwrap();
        assert_eq!(huge.last().map(|(_, count)| *count), Some(4));
        assert!(huge.len() <= 2);
        let low = cumulative_buckets(&point(8, 0, i32::MIN, &[1; 500], &[])).unwrap();
        assert_eq!(low, vec![(0.0, 500)], "bounds that underflow to 0 merge into the zero bucket");
        let high = cumulative_buckets(&point(-4, 0, i32::MAX - 500, &[1; 500], &[])).unwrap();
        assert_eq!(high, vec![(0.0, 0)], "bounds that overflow are left to +Inf");
    }

    #[test]
    fn infinite_bounds_are_left_to_plus_inf() {
        let buckets = cumulative_buckets(&point(0, 0, 1022, &[1, 1, 1], &[])).unwrap();
        assert_eq!(buckets, vec![(0.0, 0), (power_of_two(1023), 1)]);
    }
}

// Pharos — ingest/src/otlp_metrics/exponential.rs
