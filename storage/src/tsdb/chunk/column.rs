//! The block column encoding: one self-delimiting record per series, designed to be concatenated
//! into pages and compressed with zstd (see [`super::page`]).
//!
//! Values are turned into decimals where that is exact — one exponent `e` per record and an `i64`
//! mantissa per value, `v == m·10^e` bit for bit — and the mantissas are stored as residuals
//! against the cheapest of a few predictors (previous value plus a fixed bias, for gauges and
//! counters; linear extrapolation, for steady counters; a fixed level, for noise), divided by their
//! common factor (sizes in KiB or pages) and zigzag-varint coded. Timestamps are residuals against
//! a scrape grid or a delta-of-delta predictor. Regular scrapes make most residuals zero, which
//! zstd then all but erases. Values that cannot be decimals (NaN, ±Inf, the stale marker, −0.0)
//! are stored raw as exceptions when they are few; a record whose finite values share no exact
//! decimal exponent falls back to XOR codes.
//!
//! ```text
//! record     := uvarint sample_count [ uvarint body_len body ]     (body only when count > 0)
//! body       := u8 kinds  timestamps  values                        (kinds: value<<4 | timestamp)
//! timestamps := kind 0 "delta-of-delta": count × zigzag residual
//!             | kind 1 "grid": zigzag t₀, zigzag interval, (count−1) × zigzag residual
//!             | kind 2 "shared": uvarint reference to a timestamp column stored elsewhere
//! values     := kind 0 "constant": u64 LE bits
//!             | kind 1/2/4 "decimal" (linear / extrapolate / level predictor):
//!                 zigzag exponent, uvarint exception_count,
//!                 exception_count × (uvarint index_gap, u64 LE bits),
//!                 zigzag bias, uvarint scale, one zigzag residual per non-exception sample
//!             | kind 3 "xor": bit stream (first value raw, then XOR codes) to the end of the body
//!             | kind 15 "none": a timestamp column (`encode_timestamps`)
//! ```
//!
//! A record with its own timestamps spends at least one body byte per sample, so a decoder never
//! allocates more than a small multiple of its input; a record with shared timestamps must match
//! the length of the column the reader supplies. `docs/format/chunks.md` spells out every field
//! and predictor.

use super::ChunkError;
use super::bits::{BitReader, BitWriter};
use crate::tsdb::varint::{ByteReader, put_uvarint, put_varint, uvarint_len, zigzag};
use super::xor::{XorValueReader, XorValueWriter};
use crate::tsdb::Sample;

const TIMESTAMPS_DELTA_OF_DELTA: u8 = 0;
const TIMESTAMPS_GRID: u8 = 1;
const TIMESTAMPS_SHARED: u8 = 2;

const VALUES_CONSTANT: u8 = 0;
const VALUES_DECIMAL_LINEAR: u8 = 1;
const VALUES_DECIMAL_EXTRAPOLATE: u8 = 2;
const VALUES_XOR: u8 = 3;
const VALUES_DECIMAL_LEVEL: u8 = 4;
/// A timestamp column: the record has no values.
const VALUES_NONE: u8 = 15;

/// Largest |exponent| of the decimal encoding: every power of ten up to 10²² is exact in an f64.
const MAX_DECIMAL_EXPONENT: i32 = 22;

/// Mantissas are kept within ±2⁵³ so they convert to f64 exactly.
const MAX_EXACT_MANTISSA: f64 = 9_007_199_254_740_992.0;

/// Decimal residuals stored as they are before the scale applies: the first value, and the first
/// delta (which delta-of-delta predictors leave whole).
const UNSCALED_RESIDUALS: usize = 2;

/// At most one value in this many may be an exception before the record falls back to XOR.
const MAX_EXCEPTION_RATIO: usize = 8;

/// 10⁰ ..= 10²², each exact.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `m·10^e` the way the decoder computes it: one correctly rounded multiplication or division of
/// two exact operands. The encoder only keeps a decimal when this gives back the original bits.
#[inline]
fn decimal_to_f64(mantissa: i64, exponent: i32) -> f64 {
    let m = mantissa as f64;
    let power = POWERS_OF_TEN.get(exponent.unsigned_abs() as usize).copied().unwrap_or(1.0);
    if exponent < 0 { m / power } else { m * power }
}

/// The mantissa `m` with `decimal_to_f64(m, exponent)` bit-identical to `value`, if there is one.
#[inline]
fn mantissa_at(value: f64, exponent: i32) -> Option<i64> {
    let power = *POWERS_OF_TEN.get(exponent.unsigned_abs() as usize)?;
    let scaled = if exponent < 0 { value * power } else { value / power };
    if scaled.is_nan() || scaled.abs() > MAX_EXACT_MANTISSA + 1.0 {
        return None;
    }
    // Truncation lands within one of the mantissa (the scaling may itself round); the neighbours
    // cover that, and the bit-exact check below decides.
    let guess = scaled as i64;
    let bits = value.to_bits();
    [guess, guess + 1, guess - 1]
        .into_iter()
        .find(|&m| m.unsigned_abs() <= 1 << 53 && decimal_to_f64(m, exponent).to_bits() == bits)
}

/// Values the decimal encoding cannot hold at all; stored raw as exceptions.
#[inline]
fn is_exception(value: f64) -> bool {
    !value.is_finite() || value.to_bits() == (-0.0f64).to_bits()
}

/// Estimated cost in bits of one residual once zstd has seen it: a zero in a run of zeros is
/// nearly free, anything else about its significant bits plus a little (zstd's entropy stage
/// takes back most of the varint padding, so counting bytes would blur close candidates).
#[inline]
fn residual_cost(residual: i64) -> u64 {
    if residual == 0 { 1 } else { u64::from(66 - zigzag(residual).leading_zeros()) }
}

/// How a [`Predictor`] guesses the next integer of a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trend {
    /// Previous value + a fixed bias (bias 0: plain deltas, for gauges; the mean increment for
    /// counters growing by varying amounts).
    Linear,
    /// Previous value + previous delta (delta-of-delta, for counters growing at a steady rate).
    Extrapolate,
    /// A fixed level, the bias (for values that jump around one level, such as durations).
    Level,
}

/// Predicts the next integer of a sequence; residual = actual − prediction. The state starts at
/// previous = 0, delta = 0. Arithmetic wraps, so any input round-trips.
#[derive(Clone, Copy, Debug)]
struct Predictor {
    trend: Trend,
    bias: i64,
    previous: i64,
    delta: i64,
    seen: bool,
}

impl Predictor {
    fn new(trend: Trend, bias: i64) -> Self {
        Predictor { trend, bias, previous: 0, delta: 0, seen: false }
    }

    #[inline]
    fn predict(&self) -> i64 {
        match self.trend {
            Trend::Linear => self.previous.wrapping_add(self.bias),
            Trend::Extrapolate => self.previous.wrapping_add(self.delta),
            Trend::Level => self.bias,
        }
    }

    #[inline]
    fn observe(&mut self, actual: i64) {
        self.delta = if self.seen { actual.wrapping_sub(self.previous) } else { 0 };
        self.previous = actual;
        self.seen = true;
    }
}

/// Greatest common divisor (binary algorithm); gcd(0, x) = x.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    if a == 0 {
        return b;
    }
    if b == 0 {
        return a;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

/// Predicts timestamps on a fixed grid that follows small jitter but re-anchors on gaps: residual
/// r = t − (anchor + interval); the anchor then moves to the prediction when |r| ≤ interval/16
/// (jitter: stay on the grid) or to `t` itself (a gap or a phase change).
#[derive(Clone, Copy, Debug)]
struct GridPredictor {
    anchor: i64,
    interval: i64,
    tolerance: u64,
}

impl GridPredictor {
    fn new(first: i64, interval: i64) -> Self {
        GridPredictor { anchor: first, interval, tolerance: interval.unsigned_abs() / 16 }
    }

    #[inline]
    fn predict(&self) -> i64 {
        self.anchor.wrapping_add(self.interval)
    }

    #[inline]
    fn observe(&mut self, actual: i64) {
        let predicted = self.predict();
        self.anchor = if actual.wrapping_sub(predicted).unsigned_abs() <= self.tolerance { predicted } else { actual };
    }
}

/// Append one series' samples as a self-delimiting record. Samples are expected in timestamp
/// order (any `i64` sequence round-trips, but only ordered ones compress well).
pub fn encode_series(samples: &[Sample], out: &mut Vec<u8>) {
    encode_record(samples.len(), out, |out| {
        let timestamp_kind = write_timestamps(samples, |s| s.t, out);
        (write_values(samples, out) << 4) | timestamp_kind
    });
}

/// Append one series' record without its timestamps: they are the shared timestamp column
/// `timestamps_ref` (a number the caller assigns, e.g. an index into a block's table of columns
/// written with [`encode_timestamps`]). Series scraped together share their timestamps exactly,
/// so a block can store each distinct column once. Decode with
/// [`decode_series_with_timestamps_into`].
pub fn encode_series_shared_timestamps(samples: &[Sample], timestamps_ref: u64, out: &mut Vec<u8>) {
    encode_record(samples.len(), out, |out| {
        put_uvarint(out, timestamps_ref);
        (write_values(samples, out) << 4) | TIMESTAMPS_SHARED
    });
}

/// Append a timestamp column: a record with timestamps and no values, for
/// [`encode_series_shared_timestamps`] to refer to. Decode with [`decode_timestamps_into`].
pub fn encode_timestamps(timestamps: &[i64], out: &mut Vec<u8>) {
    encode_record(timestamps.len(), out, |out| {
        let timestamp_kind = write_timestamps(timestamps, |&t| t, out);
        (VALUES_NONE << 4) | timestamp_kind
    });
}

/// Frame a record: `uvarint count`, then (when count > 0) `uvarint body_len` and the body that
/// `write_body` appends after the kinds byte it returns.
fn encode_record(count: usize, out: &mut Vec<u8>, write_body: impl FnOnce(&mut Vec<u8>) -> u8) {
    put_uvarint(out, count as u64);
    if count == 0 {
        return;
    }
    let body_start = out.len();
    out.push(0);
    let kinds = write_body(out);
    out[body_start] = kinds;
    let body_len = out.len() - body_start;
    let mut prefix = Vec::with_capacity(3);
    put_uvarint(&mut prefix, body_len as u64);
    out.splice(body_start..body_start, prefix);
}

fn write_timestamps<T>(items: &[T], time: impl Fn(&T) -> i64 + Copy, out: &mut Vec<u8>) -> u8 {
    let Some(grid_interval) = cheaper_grid_interval(items, time) else {
        let mut predictor = Predictor::new(Trend::Extrapolate, 0);
        for item in items {
            put_varint(out, time(item).wrapping_sub(predictor.predict()));
            predictor.observe(time(item));
        }
        return TIMESTAMPS_DELTA_OF_DELTA;
    };
    let Some(first) = items.first().map(time) else { return TIMESTAMPS_DELTA_OF_DELTA };
    put_varint(out, first);
    put_varint(out, grid_interval);
    let mut grid = GridPredictor::new(first, grid_interval);
    for item in &items[1..] {
        put_varint(out, time(item).wrapping_sub(grid.predict()));
        grid.observe(time(item));
    }
    TIMESTAMPS_GRID
}

/// The grid interval to use when a grid beats delta-of-delta for these timestamps.
fn cheaper_grid_interval<T>(samples: &[T], time: impl Fn(&T) -> i64) -> Option<i64> {
    let (first, last) = (time(samples.first()?), time(samples.last()?));
    if samples.len() < 3 {
        return None;
    }
    // Delta-of-delta cost, and the majority delta (Boyer–Moore vote) on the same pass.
    let mut predictor = Predictor::new(Trend::Extrapolate, 0);
    let mut dod_cost = 0u64;
    let (mut candidate, mut votes) = (0i64, 0u64);
    let mut previous = first;
    for (index, sample) in samples.iter().enumerate() {
        dod_cost += residual_cost(time(sample).wrapping_sub(predictor.predict()));
        predictor.observe(time(sample));
        if index > 0 {
            let delta = time(sample).wrapping_sub(previous);
            if votes == 0 {
                candidate = delta;
                votes = 1;
            } else if delta == candidate {
                votes += 1;
            } else {
                votes -= 1;
            }
        }
        previous = time(sample);
    }
    let span = i128::from(last) - i128::from(first);
    let mean = i64::try_from((span + (samples.len() as i128 - 1) / 2) / (samples.len() as i128 - 1)).ok();
    let mut best: Option<(u64, i64)> = None;
    for interval in [Some(candidate), mean].into_iter().flatten() {
        if interval <= 0 || best.is_some_and(|(_, chosen)| chosen == interval) {
            continue;
        }
        // Header: the interval varint (t₀ is paid by both kinds).
        let mut cost = 8 * uvarint_len(zigzag(interval)) as u64;
        let mut grid = GridPredictor::new(first, interval);
        for sample in &samples[1..] {
            cost += residual_cost(time(sample).wrapping_sub(grid.predict()));
            grid.observe(time(sample));
            if cost >= dod_cost {
                break;
            }
        }
        if cost < dod_cost && best.is_none_or(|(best_cost, _)| cost < best_cost) {
            best = Some((cost, interval));
        }
    }
    best.map(|(_, interval)| interval)
}

/// What a scan of the values found out.
struct DecimalPlan {
    exponent: i32,
    exceptions: usize,
}

fn write_values(samples: &[Sample], out: &mut Vec<u8>) -> u8 {
    let first_bits = samples[0].v.to_bits();
    if samples.iter().all(|s| s.v.to_bits() == first_bits) {
        out.extend_from_slice(&first_bits.to_le_bytes());
        return VALUES_CONSTANT;
    }
    let written = MANTISSA_SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut mantissas) => write_decimal(samples, &mut mantissas, out),
        Err(_) => write_decimal(samples, &mut Vec::new(), out),
    });
    if let Some(kind) = written {
        return kind;
    }
    write_xor_values(samples, out);
    VALUES_XOR
}

thread_local! {
    /// Mantissas of the record being encoded, reused across records.
    static MANTISSA_SCRATCH: std::cell::RefCell<Vec<i64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Find one exponent that makes every non-exception value an exact decimal and fill `mantissas`
/// (exceptions get a 0 placeholder), or `None`.
fn plan_decimal(samples: &[Sample], mantissas: &mut Vec<i64>) -> Option<DecimalPlan> {
    mantissas.clear();
    let mut decimal_places = 0i32;
    let mut exceptions = 0usize;
    for (index, sample) in samples.iter().enumerate() {
        if is_exception(sample.v) {
            exceptions += 1;
            mantissas.push(0);
            continue;
        }
        if let Some(mantissa) = mantissa_at(sample.v, -decimal_places) {
            mantissas.push(mantissa);
            continue;
        }
        // More decimal places needed. They only ever grow, and coarser values stay exact at finer
        // exponents as long as their mantissas stay within 2⁵³: recompute the earlier ones.
        let (places, mantissa) = (decimal_places + 1..=MAX_DECIMAL_EXPONENT)
            .find_map(|places| mantissa_at(sample.v, -places).map(|mantissa| (places, mantissa)))?;
        decimal_places = places;
        for (earlier, slot) in samples[..index].iter().zip(mantissas.iter_mut()) {
            if !is_exception(earlier.v) {
                *slot = mantissa_at(earlier.v, -decimal_places)?;
            }
        }
        mantissas.push(mantissa);
    }
    if exceptions * MAX_EXCEPTION_RATIO > samples.len() || exceptions == samples.len() {
        return None;
    }
    if decimal_places > 0 {
        return Some(DecimalPlan { exponent: -decimal_places, exceptions });
    }
    // All integers: take out the decimal zeros they all end with (sizes in round units). The
    // quotients times the power of ten are exact, so no check is needed.
    let mut shared_zeros = MAX_DECIMAL_EXPONENT;
    for &mantissa in mantissas.iter() {
        if mantissa == 0 {
            continue;
        }
        let (mut rest, mut zeros) = (mantissa, 0);
        while zeros < shared_zeros && rest % 10 == 0 {
            rest /= 10;
            zeros += 1;
        }
        shared_zeros = zeros;
        if shared_zeros == 0 {
            break;
        }
    }
    if shared_zeros == MAX_DECIMAL_EXPONENT || shared_zeros == 0 {
        return Some(DecimalPlan { exponent: 0, exceptions }); // every value zero, or nothing shared
    }
    let divisor = 10i64.pow(shared_zeros as u32);
    mantissas.iter_mut().for_each(|m| *m /= divisor);
    Some(DecimalPlan { exponent: shared_zeros, exceptions })
}

/// A predictor and the scale its residuals share, with the estimated cost of the residuals.
#[derive(Clone, Copy, Debug)]
struct ResidualPlan {
    trend: Trend,
    bias: i64,
    /// Every residual after the first [`UNSCALED_RESIDUALS`] is a multiple of this (≥ 1) and is
    /// stored divided by it.
    scale: u64,
    cost: u64,
}

/// Write the decimal value section with the cheapest predictor; `None` (with `out` unchanged)
/// when the values are not decimals.
fn write_decimal(samples: &[Sample], mantissas: &mut Vec<i64>, out: &mut Vec<u8>) -> Option<u8> {
    let plan = plan_decimal(samples, mantissas)?;
    let best = candidate_predictors(samples, mantissas)
        .into_iter()
        .flatten()
        .map(|(trend, bias)| plan_residuals(samples, mantissas, trend, bias))
        .min_by_key(|plan| plan.cost)?;
    put_varint(out, i64::from(plan.exponent));
    put_uvarint(out, plan.exceptions as u64);
    let mut previous_index = None;
    for (index, sample) in samples.iter().enumerate().filter(|(_, s)| is_exception(s.v)) {
        let gap = match previous_index {
            None => index,
            Some(previous) => index - previous - 1,
        };
        put_uvarint(out, gap as u64);
        out.extend_from_slice(&sample.v.to_bits().to_le_bytes());
        previous_index = Some(index);
    }
    put_varint(out, best.bias);
    put_uvarint(out, best.scale);
    let scale = best.scale as i64;
    let mut predictor = Predictor::new(best.trend, best.bias);
    let mut written = 0usize;
    for (sample, &mantissa) in samples.iter().zip(mantissas.iter()) {
        if is_exception(sample.v) {
            predictor.observe(predictor.predict());
            continue;
        }
        let residual = mantissa.wrapping_sub(predictor.predict());
        put_varint(out, if written < UNSCALED_RESIDUALS { residual } else { residual / scale });
        written += 1;
        predictor.observe(mantissa);
    }
    Some(match best.trend {
        Trend::Linear => VALUES_DECIMAL_LINEAR,
        Trend::Extrapolate => VALUES_DECIMAL_EXTRAPOLATE,
        Trend::Level => VALUES_DECIMAL_LEVEL,
    })
}

/// The predictors worth costing for these mantissas: plain deltas, deltas minus the mean
/// increment, delta-of-deltas, and a fixed level at the mean. Biases are rounded to the common
/// divisor of the deltas so a scale still applies.
fn candidate_predictors(samples: &[Sample], mantissas: &[i64]) -> [Option<(Trend, i64)>; 4] {
    let mut delta_divisor = 0u64;
    let (mut first, mut last, mut count, mut sum) = (None::<i64>, 0i64, 0i64, 0i128);
    for (sample, &mantissa) in samples.iter().zip(mantissas) {
        if is_exception(sample.v) {
            continue;
        }
        if first.is_some() && delta_divisor != 1 {
            delta_divisor = gcd(delta_divisor, mantissa.wrapping_sub(last).unsigned_abs());
        }
        first.get_or_insert(mantissa);
        last = mantissa;
        count += 1;
        sum += i128::from(mantissa);
    }
    let Some(first) = first else { return [Some((Trend::Linear, 0)), None, None, None] };
    let divisor = i128::from(delta_divisor.clamp(1, i64::MAX as u64));
    let round_to_divisor = |value: i128| -> i128 { (value + divisor / 2).div_euclid(divisor) * divisor };
    let mut mean_increment = None;
    let mut level = None;
    if count >= 2 {
        let increment = (i128::from(last) - i128::from(first)) / i128::from(count - 1);
        mean_increment = i64::try_from(round_to_divisor(increment)).ok().filter(|&bias| bias != 0);
        let mean = sum / i128::from(count);
        level = i64::try_from(i128::from(first) + round_to_divisor(mean - i128::from(first))).ok();
    }
    [
        Some((Trend::Linear, 0)),
        mean_increment.map(|bias| (Trend::Linear, bias)),
        Some((Trend::Extrapolate, 0)),
        level.map(|bias| (Trend::Level, bias)),
    ]
}

/// Walk the residuals of one predictor once, for their common divisor and their estimated cost
/// (dividing by the scale takes about log₂(scale) bits off every scaled residual).
fn plan_residuals(samples: &[Sample], mantissas: &[i64], trend: Trend, bias: i64) -> ResidualPlan {
    let mut predictor = Predictor::new(trend, bias);
    let (mut scale, mut cost, mut scaled_nonzero) = (0u64, 0u64, 0u64);
    let mut written = 0usize;
    for (sample, &mantissa) in samples.iter().zip(mantissas) {
        if is_exception(sample.v) {
            predictor.observe(predictor.predict());
            continue;
        }
        let residual = mantissa.wrapping_sub(predictor.predict());
        predictor.observe(mantissa);
        cost += residual_cost(residual);
        if written >= UNSCALED_RESIDUALS && residual != 0 {
            scaled_nonzero += 1;
            if scale != 1 {
                scale = gcd(scale, residual.unsigned_abs());
            }
        }
        written += 1;
    }
    if scale == 0 || scale > i64::MAX as u64 {
        scale = 1;
    }
    let saved = scaled_nonzero * u64::from(scale.ilog2());
    let header = uvarint_len(zigzag(bias)) + uvarint_len(scale);
    ResidualPlan { trend, bias, scale, cost: (cost + 8 * header as u64).saturating_sub(saved) }
}

fn write_xor_values(samples: &[Sample], out: &mut Vec<u8>) {
    let mut writer = BitWriter::resume(out, 0);
    let mut values = XorValueWriter::new();
    values.write_first(&mut writer, samples[0].v.to_bits());
    for sample in &samples[1..] {
        values.write_next(&mut writer, sample.v.to_bits());
    }
}

/// Decode one record from the start of `bytes`: its samples and the bytes it took.
pub fn decode_series(bytes: &[u8]) -> Result<(Vec<Sample>, usize), ChunkError> {
    let mut samples = Vec::new();
    let consumed = decode_series_into(bytes, &mut samples)?;
    Ok((samples, consumed))
}

/// Decode one record from the start of `bytes`, appending its samples to `out`; returns the bytes
/// the record took. On error `out` is left as it was. A record written with
/// [`encode_series_shared_timestamps`] needs [`decode_series_with_timestamps_into`] instead.
pub fn decode_series_into(bytes: &[u8], out: &mut Vec<Sample>) -> Result<usize, ChunkError> {
    decode_series_with_timestamps_into(bytes, |_| None, out)
}

/// [`decode_series_into`] for records that may use a shared timestamp column: `shared_column` is
/// asked for the column a record refers to (it is not called for records with their own
/// timestamps); `None` fails with [`ChunkError::SharedTimestampsMissing`].
pub fn decode_series_with_timestamps_into<'t>(
    bytes: &[u8],
    shared_column: impl FnOnce(u64) -> Option<&'t [i64]>,
    out: &mut Vec<Sample>,
) -> Result<usize, ChunkError> {
    let original_len = out.len();
    let result = decode_record(bytes, shared_column, out);
    if result.is_err() {
        out.truncate(original_len);
    }
    result
}

/// The shared timestamp column a record refers to, if it uses one.
pub fn shared_timestamps_ref(bytes: &[u8]) -> Result<Option<u64>, ChunkError> {
    let mut reader = ByteReader::new(bytes);
    match read_record(&mut reader)? {
        Some(mut record) if record.timestamp_kind() == TIMESTAMPS_SHARED => {
            Ok(Some(record.body.uvarint().ok_or(ChunkError::Truncated("shared timestamps reference"))?))
        }
        _ => Ok(None),
    }
}

/// Decode the timestamps of a record that carries its own — a timestamp column written by
/// [`encode_timestamps`], or any series record — appending them to `out`; returns the bytes the
/// record took. On error `out` is left as it was.
pub fn decode_timestamps_into(bytes: &[u8], out: &mut Vec<i64>) -> Result<usize, ChunkError> {
    let original_len = out.len();
    let result = decode_timestamp_record(bytes, out);
    if result.is_err() {
        out.truncate(original_len);
    }
    result
}

/// Step over one record without decoding it: its sample count and the bytes it takes.
pub fn skip_series(bytes: &[u8]) -> Result<(usize, usize), ChunkError> {
    let mut reader = ByteReader::new(bytes);
    let count = read_record(&mut reader)?.map_or(0, |record| record.count);
    Ok((count, reader.position()))
}

/// A record's frame: its sample count, kinds and the body after the kinds byte.
struct Record<'a> {
    count: usize,
    kinds: u8,
    body: ByteReader<'a>,
}

impl Record<'_> {
    fn timestamp_kind(&self) -> u8 {
        self.kinds & 0x0f
    }

    fn value_kind(&self) -> u8 {
        self.kinds >> 4
    }
}

/// Read a record's frame (`None` for an empty record). Records with their own timestamps must
/// hold at least one body byte per sample, which bounds what a decoder allocates; records with
/// shared timestamps are bounded by the column the reader supplies.
fn read_record<'a>(reader: &mut ByteReader<'a>) -> Result<Option<Record<'a>>, ChunkError> {
    let count = reader.uvarint().ok_or(ChunkError::Truncated("record sample count"))?;
    if count == 0 {
        return Ok(None);
    }
    let body_len = reader.uvarint().ok_or(ChunkError::Truncated("record length"))?;
    let body_len = usize::try_from(body_len).map_err(|_| ChunkError::Corrupt("record length"))?;
    let body = reader.take(body_len).ok_or(ChunkError::Truncated("record body"))?;
    let mut body = ByteReader::new(body);
    let kinds = body.u8().ok_or(ChunkError::Truncated("record kinds"))?;
    if kinds & 0x0f != TIMESTAMPS_SHARED && count >= body_len as u64 {
        return Err(ChunkError::Corrupt("record announces more samples than its body can hold"));
    }
    let count = usize::try_from(count).map_err(|_| ChunkError::Corrupt("record sample count"))?;
    Ok(Some(Record { count, kinds, body }))
}

fn decode_record<'t>(
    bytes: &[u8],
    shared_column: impl FnOnce(u64) -> Option<&'t [i64]>,
    out: &mut Vec<Sample>,
) -> Result<usize, ChunkError> {
    let mut reader = ByteReader::new(bytes);
    let Some(mut record) = read_record(&mut reader)? else { return Ok(reader.position()) };
    if record.value_kind() == VALUES_NONE {
        return Err(ChunkError::Corrupt("record is a timestamp column, not a series"));
    }
    let start = out.len();
    if record.timestamp_kind() == TIMESTAMPS_SHARED {
        let reference = record.body.uvarint().ok_or(ChunkError::Truncated("shared timestamps reference"))?;
        let column = shared_column(reference).ok_or(ChunkError::SharedTimestampsMissing { reference })?;
        if column.len() != record.count {
            return Err(ChunkError::Corrupt("shared timestamp column length differs from the record's"));
        }
        out.extend(column.iter().map(|&t| Sample { t, v: 0.0 }));
    } else {
        out.reserve(record.count);
        read_timestamps(record.timestamp_kind(), record.count, &mut record.body, |t| out.push(Sample { t, v: 0.0 }))?;
    }
    let decoded = out.get_mut(start..).ok_or(ChunkError::Corrupt("record"))?;
    read_values(record.value_kind(), &mut record.body, decoded)?;
    Ok(reader.position())
}

fn decode_timestamp_record(bytes: &[u8], out: &mut Vec<i64>) -> Result<usize, ChunkError> {
    let mut reader = ByteReader::new(bytes);
    let Some(mut record) = read_record(&mut reader)? else { return Ok(reader.position()) };
    if record.timestamp_kind() == TIMESTAMPS_SHARED {
        let reference = record.body.uvarint().ok_or(ChunkError::Truncated("shared timestamps reference"))?;
        return Err(ChunkError::SharedTimestampsMissing { reference });
    }
    out.reserve(record.count);
    read_timestamps(record.timestamp_kind(), record.count, &mut record.body, |t| out.push(t))?;
    if record.value_kind() == VALUES_NONE && record.body.remaining() != 0 {
        return Err(ChunkError::Corrupt("bytes left after the timestamp column"));
    }
    Ok(reader.position())
}

fn read_timestamps(
    kind: u8,
    count: usize,
    reader: &mut ByteReader<'_>,
    mut push: impl FnMut(i64),
) -> Result<(), ChunkError> {
    const TRUNCATED: ChunkError = ChunkError::Truncated("timestamps");
    match kind {
        TIMESTAMPS_DELTA_OF_DELTA => {
            let mut predictor = Predictor::new(Trend::Extrapolate, 0);
            for _ in 0..count {
                let t = predictor.predict().wrapping_add(reader.varint().ok_or(TRUNCATED)?);
                predictor.observe(t);
                push(t);
            }
        }
        TIMESTAMPS_GRID => {
            let first = reader.varint().ok_or(TRUNCATED)?;
            let interval = reader.varint().ok_or(TRUNCATED)?;
            push(first);
            let mut grid = GridPredictor::new(first, interval);
            for _ in 1..count {
                let t = grid.predict().wrapping_add(reader.varint().ok_or(TRUNCATED)?);
                grid.observe(t);
                push(t);
            }
        }
        other => return Err(ChunkError::UnknownEncoding { what: "timestamp", kind: other }),
    }
    Ok(())
}

/// Fill in the values of `samples` (whose timestamps are decoded); the body must end with them.
fn read_values(kind: u8, reader: &mut ByteReader<'_>, samples: &mut [Sample]) -> Result<(), ChunkError> {
    match kind {
        VALUES_CONSTANT => {
            let v = f64::from_bits(reader.u64_le().ok_or(ChunkError::Truncated("constant value"))?);
            samples.iter_mut().for_each(|s| s.v = v);
        }
        VALUES_DECIMAL_LINEAR => read_decimal_values(Trend::Linear, reader, samples)?,
        VALUES_DECIMAL_EXTRAPOLATE => read_decimal_values(Trend::Extrapolate, reader, samples)?,
        VALUES_DECIMAL_LEVEL => read_decimal_values(Trend::Level, reader, samples)?,
        VALUES_XOR => {
            let mut bits = BitReader::new(reader.rest());
            let mut values = XorValueReader::new();
            for (index, sample) in samples.iter_mut().enumerate() {
                let value = if index == 0 { values.read_first(&mut bits)? } else { values.read_next(&mut bits)? };
                sample.v = f64::from_bits(value);
            }
            if bits.remaining_whole_bytes() != 0 {
                return Err(ChunkError::Corrupt("bytes left after the XOR values"));
            }
            return Ok(());
        }
        other => return Err(ChunkError::UnknownEncoding { what: "value", kind: other }),
    }
    if reader.remaining() != 0 {
        return Err(ChunkError::Corrupt("bytes left after the values"));
    }
    Ok(())
}

fn read_decimal_values(trend: Trend, reader: &mut ByteReader<'_>, samples: &mut [Sample]) -> Result<(), ChunkError> {
    const TRUNCATED: ChunkError = ChunkError::Truncated("decimal values");
    let exponent = reader.varint().ok_or(TRUNCATED)?;
    if exponent.unsigned_abs() > MAX_DECIMAL_EXPONENT as u64 {
        return Err(ChunkError::Corrupt("decimal exponent out of range"));
    }
    let exponent = exponent as i32;
    let exception_count = reader.uvarint().ok_or(TRUNCATED)?;
    if exception_count > samples.len() as u64 {
        return Err(ChunkError::Corrupt("more exceptions than samples"));
    }
    // Validate the exception list once and find where the residuals start; a second cursor then
    // walks it alongside the residuals.
    let mut exceptions = reader.clone();
    let mut next_index = 0u64;
    for _ in 0..exception_count {
        let gap = reader.uvarint().ok_or(TRUNCATED)?;
        next_index = next_index.checked_add(gap).ok_or(ChunkError::Corrupt("exception index"))?;
        if next_index >= samples.len() as u64 {
            return Err(ChunkError::Corrupt("exception index beyond the samples"));
        }
        reader.u64_le().ok_or(TRUNCATED)?;
        next_index += 1;
    }
    let bias = reader.varint().ok_or(TRUNCATED)?;
    let scale = reader.uvarint().ok_or(TRUNCATED)?;
    if scale == 0 || scale > i64::MAX as u64 {
        return Err(ChunkError::Corrupt("decimal residual scale out of range"));
    }
    let scale = scale as i64;
    let mut remaining_exceptions = exception_count;
    let mut next_exception = if remaining_exceptions > 0 { exceptions.uvarint().ok_or(TRUNCATED)? } else { u64::MAX };
    let mut predictor = Predictor::new(trend, bias);
    let mut read = 0usize;
    for (index, sample) in samples.iter_mut().enumerate() {
        if index as u64 == next_exception {
            sample.v = f64::from_bits(exceptions.u64_le().ok_or(TRUNCATED)?);
            predictor.observe(predictor.predict());
            remaining_exceptions -= 1;
            next_exception = if remaining_exceptions > 0 {
                next_exception + 1 + exceptions.uvarint().ok_or(TRUNCATED)?
            } else {
                u64::MAX
            };
            continue;
        }
        let stored = reader.varint().ok_or(TRUNCATED)?;
        let residual = if read < UNSCALED_RESIDUALS { stored } else { stored.wrapping_mul(scale) };
        read += 1;
        let mantissa = predictor.predict().wrapping_add(residual);
        predictor.observe(mantissa);
        sample.v = decimal_to_f64(mantissa, exponent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::synthetic::XorShift64;
    use super::*;
    use crate::tsdb::STALE_NAN_BITS;

    fn at(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    fn record_of(samples: &[Sample]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_series(samples, &mut out);
        out
    }

    fn value_kind(record: &[u8]) -> u8 {
        let mut reader = ByteReader::new(record);
        let _count = reader.uvarint();
        let _len = reader.uvarint();
        reader.u8().map(|k| k >> 4).unwrap_or(u8::MAX)
    }

    fn assert_round_trip(samples: &[Sample]) -> Vec<u8> {
        let record = record_of(samples);
        let (decoded, consumed) = decode_series(&record).expect("own encoding decodes");
        assert_eq!(consumed, record.len());
        assert_eq!(decoded.len(), samples.len());
        for (want, got) in samples.iter().zip(&decoded) {
            assert_eq!(want.t, got.t);
            assert_eq!(want.v.to_bits(), got.v.to_bits(), "value {} at t={}", want.v, want.t);
        }
        assert_eq!(skip_series(&record).expect("skips"), (samples.len(), record.len()));
        record
    }

    fn scrape(values: &[f64]) -> Vec<Sample> {
        values.iter().enumerate().map(|(i, &v)| at(1_700_000_000_000 + i as i64 * 15_000, v)).collect()
    }

    #[test]
    fn empty_and_single_sample_records() {
        assert_eq!(assert_round_trip(&[]), vec![0]);
        assert_round_trip(&[at(0, 0.0)]);
        assert_round_trip(&[at(i64::MIN, f64::from_bits(STALE_NAN_BITS))]);
        assert_round_trip(&[at(i64::MAX, -0.0)]);
    }

    #[test]
    fn constant_series_costs_a_byte_per_sample_before_zstd() {
        let samples = scrape(&[1.0; 480]);
        let record = assert_round_trip(&samples);
        assert_eq!(value_kind(&record), VALUES_CONSTANT);
        assert!(record.len() < 480 + 32, "{}", record.len());
    }

    #[test]
    fn decimals_pick_a_predictor_that_fits_the_series() {
        let gauge: Vec<f64> = (0..200).map(|i| if i % 50 < 25 { 1.25 } else { 0.5 }).collect();
        assert_eq!(value_kind(&assert_round_trip(&scrape(&gauge))), VALUES_DECIMAL_LINEAR);
        // Steady counters: every residual but the first is zero, whichever predictor says so.
        for counter in [
            (0..200).map(|i| 1000.0 + f64::from(i) * 15.0).collect::<Vec<f64>>(),
            (0..200).map(|i| (123_456 + i * 1487) as f64 / 100.0).collect(),
        ] {
            let record = assert_round_trip(&scrape(&counter));
            assert_ne!(value_kind(&record), VALUES_XOR);
            assert!(record.len() < 2 * 200 + 40, "{} bytes", record.len());
        }
        // A counter whose rate drifts: delta-of-delta.
        let mut total = 0i64;
        let drifting: Vec<f64> = (0..200i64)
            .map(|i| {
                total += 1000 + i * 37;
                total as f64
            })
            .collect();
        assert_eq!(value_kind(&assert_round_trip(&scrape(&drifting))), VALUES_DECIMAL_EXTRAPOLATE);
        // Noise around a level: the level predictor.
        let mut rng = XorShift64::new(21);
        let noise: Vec<f64> = (0..200).map(|_| (5_000_000 + rng.below(100_000)) as f64 / 1e9).collect();
        assert_eq!(value_kind(&assert_round_trip(&scrape(&noise))), VALUES_DECIMAL_LEVEL);
        // Gauges in KiB steps: the residuals are stored divided by 1024.
        let memory: Vec<f64> = (0..200).map(|i| ((1 << 30) + (i % 7) * 3 * 1024) as f64).collect();
        let record = assert_round_trip(&scrape(&memory));
        assert!(record.len() < 2 * 200 + 40, "{} bytes", record.len());
    }

    #[test]
    fn gcd_is_binary_and_total() {
        assert_eq!(gcd(0, 0), 0);
        assert_eq!(gcd(0, 12), 12);
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(1 << 63, 1 << 10), 1 << 10);
        assert_eq!(gcd(u64::MAX, 3), 3);
    }

    #[test]
    fn integer_values_share_trailing_zeros() {
        let sizes: Vec<f64> = (0..100).map(|i| 5_000_000_000.0 + f64::from(i % 3) * 1_000_000.0).collect();
        assert_round_trip(&scrape(&sizes));
        assert_eq!(plan_decimal(&scrape(&sizes), &mut Vec::new()).map(|p| p.exponent), Some(6));
        assert_eq!(plan_decimal(&scrape(&[0.0, 0.0, 3.0]), &mut Vec::new()).map(|p| p.exponent), Some(0));
        assert_eq!(plan_decimal(&scrape(&[0.0, 0.0]), &mut Vec::new()).map(|p| p.exponent), Some(0));
        assert_eq!(plan_decimal(&scrape(&[0.001, 12.5]), &mut Vec::new()).map(|p| p.exponent), Some(-3));
    }

    #[test]
    fn special_values_are_exceptions_or_xor_and_stay_bit_exact() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut values: Vec<f64> = (0..64).map(|i| f64::from(i) * 0.5).collect();
        values[10] = stale;
        values[63] = stale;
        values[20] = -0.0;
        values[0] = f64::INFINITY;
        let record = assert_round_trip(&scrape(&values));
        assert_ne!(value_kind(&record), VALUES_XOR, "few specials stay decimal");
        let mixed = [stale, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, 1.5, stale];
        assert_eq!(value_kind(&assert_round_trip(&scrape(&mixed))), VALUES_XOR);
        assert_round_trip(&scrape(&[stale, stale, stale]));
        assert_round_trip(&scrape(&[f64::NAN, f64::from_bits(0x7ff8_0000_0000_0001)]));
    }

    #[test]
    fn values_without_a_shared_exponent_fall_back_to_xor() {
        let values = [0.1 + 0.2, 1e300, 1e-300, f64::MAX, f64::MIN_POSITIVE, f64::from_bits(1), 3.0];
        assert_eq!(value_kind(&assert_round_trip(&scrape(&values))), VALUES_XOR);
        // 2⁵³ + 2 is an integer but not within the exact mantissa range.
        assert_eq!(value_kind(&assert_round_trip(&scrape(&[9_007_199_254_740_994.0, 1.0]))), VALUES_XOR);
        assert_round_trip(&scrape(&[-9_007_199_254_740_992.0, 9_007_199_254_740_992.0, 0.5]));
        assert_round_trip(&scrape(&[1e22, 1e21, 2e22]));
        assert_round_trip(&scrape(&[1e-22, 5e-22, 0.0]));
    }

    #[test]
    fn timestamp_extremes_irregular_intervals_and_large_deltas() {
        assert_round_trip(&[
            at(i64::MIN, 1.0),
            at(i64::MIN + 1, 2.0),
            at(0, 3.0),
            at(i64::MAX - 1, 4.0),
            at(i64::MAX, 5.0),
        ]);
        assert_round_trip(&[
            at(-90_000, 1.0),
            at(-75_000, 1.0),
            at(-60_003, 1.0),
            at(-1, 1.0),
            at(0, 1.0),
            at(15_000, 1.0),
        ]);
        let mut rng = XorShift64::new(5);
        let mut t = 0i64;
        let irregular: Vec<Sample> = (0..1000)
            .map(|i| {
                t += match i % 97 {
                    0 => 86_400_000 * 365,
                    1 => 1,
                    _ => 1 + rng.below(60_000) as i64,
                };
                at(t, rng.below(1_000_000) as f64 / 1000.0)
            })
            .collect();
        assert_round_trip(&irregular);
        // Out of order: outside the contract, still exact.
        assert_round_trip(&[at(100, 1.0), at(50, 2.0), at(i64::MAX, 3.0), at(i64::MIN, 4.0)]);
    }

    #[test]
    fn jittered_scrapes_use_the_grid_and_survive_gaps() {
        let mut rng = XorShift64::new(9);
        let mut samples = Vec::new();
        for i in 0..480i64 {
            if (200..210).contains(&i) {
                continue; // missed scrapes
            }
            let phase = if i > 300 { 4_321 } else { 0 };
            let jitter = if rng.below(4) == 0 { 3 + rng.below(8) as i64 } else { 0 };
            samples.push(at(1_700_000_000_000 + i * 15_000 + phase + jitter, 1.0));
        }
        let record = assert_round_trip(&samples);
        let mut reader = ByteReader::new(&record);
        let _ = (reader.uvarint(), reader.uvarint());
        assert_eq!(reader.u8().map(|k| k & 0x0f), Some(TIMESTAMPS_GRID));
    }

    #[test]
    fn random_bits_round_trip() {
        let mut rng = XorShift64::new(1);
        for len in [2usize, 3, 7, 100, 1000] {
            let samples: Vec<Sample> =
                (0..len).map(|_| at(rng.next_u64() as i64, f64::from_bits(rng.next_u64()))).collect();
            assert_round_trip(&samples);
        }
    }

    #[test]
    fn concatenated_records_decode_one_after_another() {
        let series: Vec<Vec<Sample>> =
            vec![scrape(&[1.0, 2.0, 3.0]), vec![], scrape(&[f64::from_bits(STALE_NAN_BITS)]), scrape(&[0.25; 10])];
        let mut page = Vec::new();
        for samples in &series {
            encode_series(samples, &mut page);
        }
        let mut offset = 0;
        let mut decoded = Vec::new();
        for samples in &series {
            decoded.clear();
            offset += decode_series_into(&page[offset..], &mut decoded).expect("decodes");
            assert_eq!(decoded.len(), samples.len());
        }
        assert_eq!(offset, page.len());
    }

    #[test]
    fn shared_timestamp_columns_round_trip() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let timestamps: Vec<i64> = (0..200).map(|i| 1_700_000_000_000 + i * 15_000 + (i % 7 == 3) as i64 * 4).collect();
        let mut page = Vec::new();
        encode_timestamps(&timestamps, &mut page);
        let column_len = page.len();
        let series: Vec<Vec<Sample>> = [1.5, 2.0, stale]
            .iter()
            .enumerate()
            .map(|(n, &v)| {
                timestamps.iter().enumerate().map(|(i, &t)| at(t, if i % 50 == n { v } else { i as f64 })).collect()
            })
            .collect();
        for samples in &series {
            encode_series_shared_timestamps(samples, 7, &mut page);
        }
        encode_series_shared_timestamps(&[], 7, &mut page);
        let mut column = Vec::new();
        let mut offset = decode_timestamps_into(&page, &mut column).expect("column decodes");
        assert_eq!(offset, column_len);
        assert_eq!(column, timestamps);
        let mut decoded = Vec::new();
        for samples in &series {
            let record = &page[offset..];
            assert_eq!(shared_timestamps_ref(record).expect("reads"), Some(7));
            assert!(matches!(
                decode_series_into(record, &mut decoded),
                Err(ChunkError::SharedTimestampsMissing { reference: 7 })
            ));
            assert!(decoded.is_empty());
            let mut asked = None;
            offset += decode_series_with_timestamps_into(
                record,
                |reference| {
                    asked = Some(reference);
                    Some(&column)
                },
                &mut decoded,
            )
            .expect("decodes");
            assert_eq!(asked, Some(7));
            assert!(decoded.iter().zip(samples).all(|(a, b)| a.t == b.t && a.v.to_bits() == b.v.to_bits()));
            assert_eq!(decoded.len(), samples.len());
            decoded.clear();
        }
        assert_eq!(skip_series(&page[offset..]).expect("skips"), (0, 1));
        // A column of the wrong length is refused; a timestamp column is not a series.
        let record = &page[column_len..];
        assert!(decode_series_with_timestamps_into(record, |_| Some(&column[1..]), &mut decoded).is_err());
        assert!(decode_series_into(&page, &mut decoded).is_err());
        // Any record with its own timestamps gives them up.
        let mut inline = Vec::new();
        encode_series(&series[0], &mut inline);
        column.clear();
        assert_eq!(decode_timestamps_into(&inline, &mut column).expect("decodes"), inline.len());
        assert_eq!(column, timestamps);
        assert_eq!(shared_timestamps_ref(&inline).expect("reads"), None);
    }

    /// The worked examples of `docs/format/chunks.md`, byte for byte.
    #[test]
    fn golden_bytes_match_the_format_doc() {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        let counter = [
            at(1_700_000_000_000, 1.5),
            at(1_700_000_015_000, 2.25),
            at(1_700_000_030_004, 3.0),
            at(1_700_000_045_000, 3.75),
        ];
        assert_eq!(
            hex(&record_of(&counter)),
            "04 17 11 80 a0 ab fe f9 62 b0 ea 01 00 08 00 03 00 96 01 01 96 01 00 00 00"
        );
        let constant = [at(1_700_000_000_000, 7.0), at(1_700_000_015_000, 7.0), at(1_700_000_030_000, 7.0)];
        assert_eq!(hex(&record_of(&constant)), "03 14 01 80 a0 ab fe f9 62 b0 ea 01 00 00 00 00 00 00 00 00 1c 40");
        let mut pages: Vec<Sample> =
            (0..8).map(|i| at(i * 1000, [4096.0, 8192.0, 4096.0, 12288.0][i as usize % 4])).collect();
        pages[5].v = f64::from_bits(STALE_NAN_BITS);
        assert_eq!(
            hex(&record_of(&pages)),
            "08 22 40 00 d0 0f 00 00 00 00 00 00 00 01 05 02 00 00 00 00 00 f0 7f 80 80 01 80 20 ff 3f 00 01 02 01 01 02"
        );
        let mut chunk = super::super::XorChunk::new();
        for sample in &counter[..3] {
            chunk.append(sample.t, sample.v);
        }
        assert_eq!(hex(chunk.bytes()), "00 03 80 a0 ab fe f9 62 3f f8 00 00 00 00 00 00 98 75 c2 77 ff b0 00 90 00 a0");
    }

    #[test]
    fn corrupt_counts_are_refused_before_allocating() {
        // Claims u64::MAX samples in a 3-byte body.
        let mut record = Vec::new();
        put_uvarint(&mut record, u64::MAX);
        put_uvarint(&mut record, 3);
        record.extend_from_slice(&[0, 0, 0]);
        assert!(matches!(decode_series(&record), Err(ChunkError::Corrupt(_))));
        assert!(matches!(decode_series(&[0x80]), Err(ChunkError::Truncated(_))));
        assert!(matches!(decode_series(&[1, 2, 0xee, 0]), Err(ChunkError::UnknownEncoding { .. })));
        assert!(matches!(decode_series(&[1, 2, 0xf0, 0]), Err(ChunkError::Corrupt(_))), "a timestamp column");
    }

    #[test]
    fn every_truncation_and_many_bit_flips_never_panic() {
        let mut rng = XorShift64::new(13);
        let stale = f64::from_bits(STALE_NAN_BITS);
        let inputs: Vec<Vec<Sample>> = vec![
            (0..120).map(|i| at(i * 15_000 + rng.below(5) as i64, (i * 7) as f64 / 100.0)).collect(),
            (0..120).map(|i| at(i * 15_000, if i == 60 { stale } else { (i / 10) as f64 })).collect(),
            (0..60).map(|i| at(i * 1000, f64::from_bits(rng.next_u64()))).collect(),
            (0..60).map(|i| at(i * 1000, 3.0 + (i % 2) as f64 * f64::EPSILON)).collect(),
            (0..60).map(|i| at(i * 1000, 7.0)).collect(),
        ];
        let mut out = Vec::new();
        let column: Vec<i64> = inputs[0].iter().map(|s| s.t).collect();
        let mut encoded: Vec<Vec<u8>> = inputs.iter().map(|samples| record_of(samples)).collect();
        let mut shared = Vec::new();
        encode_series_shared_timestamps(&inputs[1][..column.len().min(inputs[1].len())], 3, &mut shared);
        encoded.push(shared);
        let mut timestamps_only = Vec::new();
        encode_timestamps(&column, &mut timestamps_only);
        encoded.push(timestamps_only);
        let mut times = Vec::new();
        for record in &encoded {
            for len in 0..record.len() {
                out.clear();
                let lookup = |_| Some(column.as_slice());
                assert!(
                    decode_series_with_timestamps_into(&record[..len], lookup, &mut out).is_err(),
                    "truncated to {len} decodes"
                );
                assert!(out.is_empty());
                times.clear();
                assert!(decode_timestamps_into(&record[..len], &mut times).is_err());
                assert!(times.is_empty());
            }
            let mut corrupted = record.clone();
            for _ in 0..10_000 {
                corrupted.copy_from_slice(record);
                for _ in 0..1 + rng.below(3) {
                    let bit = rng.below(record.len() as u64 * 8) as usize;
                    corrupted[bit / 8] ^= 1 << (bit % 8);
                }
                out.clear();
                if decode_series_into(&corrupted, &mut out).is_ok() {
                    assert!(out.len() < corrupted.len());
                }
                out.clear();
                if decode_series_with_timestamps_into(&corrupted, |_| Some(column.as_slice()), &mut out).is_ok() {
                    assert!(out.len() <= column.len().max(corrupted.len()));
                }
                times.clear();
                if decode_timestamps_into(&corrupted, &mut times).is_ok() {
                    assert!(times.len() < corrupted.len());
                }
                let _ = (skip_series(&corrupted), shared_timestamps_ref(&corrupted));
            }
        }
    }
}

// Pharos — storage/src/tsdb/chunk/column.rs
