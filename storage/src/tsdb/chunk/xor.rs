//! The head chunk: Gorilla-style XOR encoding, laid out as Prometheus lays out its XOR chunks.
//!
//! ```text
//! u16 big-endian  sample count
//! sample 0        timestamp: zigzag varint; value: 64 raw bits
//! sample 1        timestamp delta: unsigned varint (two's complement of the wrapped difference);
//!                 value: XOR code
//! sample n ≥ 2    timestamp delta-of-delta: bucket code; value: XOR code
//! ```
//!
//! Delta-of-delta buckets: `0` → 0; `10` + 14 bits; `110` + 17 bits; `1110` + 20 bits;
//! `1111` + 64 bits. An `n`-bit bucket holds −(2ⁿ⁻¹−1) ..= 2ⁿ⁻¹ in two's complement.
//!
//! XOR code of a value against the previous one: `0` when equal; otherwise `1`, then either `0` and
//! the meaningful bits inside the previous leading/trailing-zero window (when the new XOR fits in
//! it), or `1`, 5 bits of leading zeros (capped at 31), 6 bits of meaningful-bit count (64 written
//! as 0) and the meaningful bits. The full byte layout is in `docs/format/chunks.md`.
//!
//! Timestamp arithmetic wraps, so every `i64` sequence round-trips, even one that breaks the
//! "strictly increasing" promise. Values round-trip bit for bit (stale markers included).

use super::ChunkError;
use super::bits::{BitReader, BitWriter};
use crate::tsdb::varint::{unzigzag, zigzag};
use crate::tsdb::Sample;

/// Most samples one XOR chunk can hold (its count header is 16 bits). Heads cut chunks far earlier
/// (Prometheus: 120 samples).
pub const XOR_CHUNK_MAX_SAMPLES: usize = u16::MAX as usize;

/// Bytes of the sample-count header.
const HEADER_BYTES: usize = 2;

/// Marks "no leading/trailing window yet" in the XOR value coders.
const NO_WINDOW: u32 = u32::MAX;

/// An append-only XOR chunk whose bytes are a complete, decodable chunk after every append.
#[derive(Clone, Debug)]
pub struct XorChunk {
    bytes: Vec<u8>,
    /// Unused low bits of the last byte of `bytes`.
    free_bits: u32,
    count: u16,
    first_t: i64,
    last_t: i64,
    last_delta: i64,
    values: XorValueWriter,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk (just the zero sample-count header).
    pub fn new() -> Self {
        // A 120-sample chunk of typical scrape data takes ~100–200 bytes.
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&[0, 0]);
        XorChunk { bytes, free_bits: 0, count: 0, first_t: 0, last_t: 0, last_delta: 0, values: XorValueWriter::new() }
    }

    /// Append a sample. The caller guarantees `t` is greater than the last appended timestamp and
    /// cuts a new chunk long before [`XOR_CHUNK_MAX_SAMPLES`]; appending to a full chunk drops the
    /// sample (and fails a debug assertion) — use [`XorChunk::try_append`] to be told instead.
    pub fn append(&mut self, t: i64, v: f64) {
        let appended = self.try_append(t, v);
        debug_assert!(appended.is_ok(), "append to a full XOR chunk");
    }

    /// Append a sample, or refuse with [`ChunkError::Full`] when the chunk holds
    /// [`XOR_CHUNK_MAX_SAMPLES`].
    pub fn try_append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        if self.count == u16::MAX {
            return Err(ChunkError::Full { max: XOR_CHUNK_MAX_SAMPLES });
        }
        let bits = v.to_bits();
        let mut writer = BitWriter::resume(&mut self.bytes, self.free_bits);
        match self.count {
            0 => {
                writer.write_uvarint(zigzag(t));
                self.values.write_first(&mut writer, bits);
                self.first_t = t;
            }
            1 => {
                let delta = t.wrapping_sub(self.last_t);
                writer.write_uvarint(delta as u64);
                self.values.write_next(&mut writer, bits);
                self.last_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.last_t);
                write_delta_of_delta(&mut writer, delta.wrapping_sub(self.last_delta));
                self.values.write_next(&mut writer, bits);
                self.last_delta = delta;
            }
        }
        self.free_bits = writer.free_bits();
        self.last_t = t;
        self.count += 1;
        self.bytes[..HEADER_BYTES].copy_from_slice(&self.count.to_be_bytes());
        Ok(())
    }

    /// Samples appended so far.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when no further sample fits.
    pub fn is_full(&self) -> bool {
        self.count == u16::MAX
    }

    /// The encoded chunk, header included; decodable at any moment.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Timestamp of the first sample, if any.
    pub fn first_t(&self) -> Option<i64> {
        (self.count > 0).then_some(self.first_t)
    }

    /// Timestamp of the last sample, if any.
    pub fn last_t(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_t)
    }

    /// Iterate the samples appended so far.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter::new(&self.bytes)
    }
}

/// Write a timestamp delta-of-delta in Prometheus' bucket scheme.
#[inline]
fn write_delta_of_delta(writer: &mut BitWriter<'_>, dod: i64) {
    if dod == 0 {
        writer.write_bit(false);
    } else if fits_signed_bucket(dod, 14) {
        writer.write_bits(0b10, 2);
        writer.write_bits(dod as u64, 14);
    } else if fits_signed_bucket(dod, 17) {
        writer.write_bits(0b110, 3);
        writer.write_bits(dod as u64, 17);
    } else if fits_signed_bucket(dod, 20) {
        writer.write_bits(0b1110, 4);
        writer.write_bits(dod as u64, 20);
    } else {
        writer.write_bits(0b1111, 4);
        writer.write_bits(dod as u64, 64);
    }
}

/// Whether `value` is in −(2ⁿ⁻¹−1) ..= 2ⁿ⁻¹, the range an `n`-bit bucket holds.
#[inline]
fn fits_signed_bucket(value: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    -(half - 1) <= value && value <= half
}

/// Read an `n`-bit bucket payload back to a signed value (see [`fits_signed_bucket`]).
#[inline]
fn bucket_to_signed(raw: u64, bits: u32) -> i64 {
    if raw > 1u64 << (bits - 1) { raw as i64 - (1i64 << bits) } else { raw as i64 }
}

/// Encodes a sequence of float bit patterns as XOR codes (shared with the block-column fallback).
#[derive(Clone, Copy, Debug)]
pub(crate) struct XorValueWriter {
    previous: u64,
    leading: u32,
    trailing: u32,
}

impl XorValueWriter {
    pub(crate) fn new() -> Self {
        XorValueWriter { previous: 0, leading: NO_WINDOW, trailing: 0 }
    }

    /// The first value: 64 raw bits.
    pub(crate) fn write_first(&mut self, writer: &mut BitWriter<'_>, bits: u64) {
        writer.write_bits(bits, 64);
        self.previous = bits;
    }

    #[inline]
    pub(crate) fn write_next(&mut self, writer: &mut BitWriter<'_>, bits: u64) {
        let xor = bits ^ self.previous;
        self.previous = bits;
        if xor == 0 {
            writer.write_bit(false);
            return;
        }
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            // Fits the previous window: control `10`, then the window's bits.
            writer.write_bits(0b10, 2);
            writer.write_bits(xor >> self.trailing, 64 - self.leading - self.trailing);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let meaningful = 64 - leading - trailing;
        // Control `11`, 5 bits leading, 6 bits meaningful count (64 wraps to 0), the bits.
        writer.write_bits(0b11, 2);
        writer.write_bits(u64::from(leading), 5);
        writer.write_bits(u64::from(meaningful & 0x3f), 6);
        writer.write_bits(xor >> trailing, meaningful);
    }
}

/// Decodes what [`XorValueWriter`] wrote; corrupt input is an error, never a panic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct XorValueReader {
    previous: u64,
    leading: u32,
    trailing: u32,
}

impl XorValueReader {
    pub(crate) fn new() -> Self {
        XorValueReader { previous: 0, leading: NO_WINDOW, trailing: 0 }
    }

    pub(crate) fn read_first(&mut self, reader: &mut BitReader<'_>) -> Result<u64, ChunkError> {
        let bits = reader.read_bits(64).ok_or(ChunkError::Truncated("first value"))?;
        self.previous = bits;
        Ok(bits)
    }

    #[inline(always)]
    pub(crate) fn read_next(&mut self, reader: &mut BitReader<'_>) -> Result<u64, ChunkError> {
        const TRUNCATED: ChunkError = ChunkError::Truncated("XOR value");
        let (control, available) = reader.peek(2);
        if available == 0 {
            return Err(TRUNCATED);
        }
        if control >> 63 == 0 {
            reader.consume(1);
            return Ok(self.previous);
        }
        if available < 2 {
            return Err(TRUNCATED);
        }
        reader.consume(2);
        if control >> 62 == 0b11 {
            let header = reader.read_bits(11).ok_or(TRUNCATED)?;
            let leading = (header >> 6) as u32;
            let meaningful = match (header & 0x3f) as u32 {
                0 => 64,
                bits => bits,
            };
            if leading + meaningful > 64 {
                return Err(ChunkError::Corrupt("XOR window wider than 64 bits"));
            }
            self.leading = leading;
            self.trailing = 64 - leading - meaningful;
        } else if self.leading == NO_WINDOW {
            return Err(ChunkError::Corrupt("XOR value reuses a window that was never set"));
        }
        let meaningful = 64 - self.leading - self.trailing;
        let xor = reader.read_bits(meaningful).ok_or(TRUNCATED)? << self.trailing;
        self.previous ^= xor;
        Ok(self.previous)
    }
}

/// Iterates the samples of an encoded XOR chunk (`XorChunk::bytes`, or the same bytes read back
/// from disk). Yields `Err` once and then stops when the input is truncated or corrupt; never
/// panics, never allocates.
#[derive(Clone, Debug)]
pub struct XorIter<'a> {
    reader: BitReader<'a>,
    /// Samples the header announces (0 when the header itself is missing).
    total: u16,
    produced: u16,
    t: i64,
    delta: i64,
    values: XorValueReader,
    /// Set once an error has been yielded (or the header was missing): nothing more follows.
    failed: bool,
    header_missing: bool,
}

impl<'a> XorIter<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        let (total, header_missing) = match bytes.get(..HEADER_BYTES) {
            Some(header) => (u16::from_be_bytes([header[0], header[1]]), false),
            None => (0, true),
        };
        XorIter {
            reader: BitReader::new(bytes.get(HEADER_BYTES..).unwrap_or(&[])),
            total,
            produced: 0,
            t: 0,
            delta: 0,
            values: XorValueReader::new(),
            failed: false,
            header_missing,
        }
    }

    /// The sample count the chunk header announces (0 when the header is missing).
    pub fn announced_len(&self) -> usize {
        usize::from(self.total)
    }

    /// Decode the next sample, whichever it is.
    #[inline]
    fn decode_next(&mut self) -> Result<Sample, ChunkError> {
        match self.produced {
            0 => self.decode_first(),
            1 => self.decode_second(),
            _ => self.decode_following(),
        }
    }

    fn decode_first(&mut self) -> Result<Sample, ChunkError> {
        let encoded = self.reader.read_uvarint().ok_or(ChunkError::Truncated("first timestamp"))?;
        self.t = unzigzag(encoded);
        let bits = self.values.read_first(&mut self.reader)?;
        Ok(Sample { t: self.t, v: f64::from_bits(bits) })
    }

    fn decode_second(&mut self) -> Result<Sample, ChunkError> {
        let delta = self.reader.read_uvarint().ok_or(ChunkError::Truncated("timestamp delta"))?;
        self.delta = delta as i64;
        self.t = self.t.wrapping_add(self.delta);
        let bits = self.values.read_next(&mut self.reader)?;
        Ok(Sample { t: self.t, v: f64::from_bits(bits) })
    }

    /// A sample after the second: delta-of-delta timestamp, XOR value.
    #[inline(always)]
    fn decode_following(&mut self) -> Result<Sample, ChunkError> {
        let dod = read_delta_of_delta(&mut self.reader)?;
        self.delta = self.delta.wrapping_add(dod);
        self.t = self.t.wrapping_add(self.delta);
        let bits = self.values.read_next(&mut self.reader)?;
        Ok(Sample { t: self.t, v: f64::from_bits(bits) })
    }
}

#[inline(always)]
fn read_delta_of_delta(reader: &mut BitReader<'_>) -> Result<i64, ChunkError> {
    const TRUNCATED: ChunkError = ChunkError::Truncated("timestamp delta-of-delta");
    // The prefix is up to four bits: count its leading ones (bits past the end read as zero).
    let (prefix, available) = reader.peek(4);
    let ones = (!prefix).leading_zeros().min(4);
    let prefix_len = if ones < 4 { ones + 1 } else { 4 };
    if prefix_len > available {
        return Err(TRUNCATED);
    }
    reader.consume(prefix_len);
    let width = match ones {
        0 => return Ok(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return Ok(reader.read_bits(64).ok_or(TRUNCATED)? as i64),
    };
    let raw = reader.read_bits(width).ok_or(TRUNCATED)?;
    Ok(bucket_to_signed(raw, width))
}

impl Iterator for XorIter<'_> {
    type Item = Result<Sample, ChunkError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.header_missing {
            self.failed = true;
            return Some(Err(ChunkError::Truncated("chunk header")));
        }
        if self.produced == self.total {
            return None;
        }
        match self.decode_next() {
            Ok(sample) => {
                self.produced += 1;
                Some(Ok(sample))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            return (0, Some(0));
        }
        let left = usize::from(self.total - self.produced);
        (0, Some(left + usize::from(self.header_missing)))
    }
}

/// Decode a whole XOR chunk, appending its samples to `out`. On error `out` is left as it was.
pub fn decode_into(bytes: &[u8], out: &mut Vec<Sample>) -> Result<(), ChunkError> {
    let mut iter = XorIter::new(bytes);
    if iter.header_missing {
        return Err(ChunkError::Truncated("chunk header"));
    }
    let total = iter.announced_len();
    let original_len = out.len();
    out.reserve(total);
    let result = (|| {
        if total >= 1 {
            out.push(iter.decode_first()?);
        }
        if total >= 2 {
            out.push(iter.decode_second()?);
        }
        for _ in 2..total {
            out.push(iter.decode_following()?);
        }
        Ok(())
    })();
    if result.is_err() {
        out.truncate(original_len);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::synthetic::XorShift64;
    use super::*;
    use crate::tsdb::STALE_NAN_BITS;

    fn encode(samples: &[Sample]) -> XorChunk {
        let mut chunk = XorChunk::new();
        for sample in samples {
            chunk.append(sample.t, sample.v);
        }
        chunk
    }

    fn assert_round_trip(samples: &[Sample]) {
        let chunk = encode(samples);
        assert_eq!(chunk.len(), samples.len());
        let mut decoded = Vec::new();
        decode_into(chunk.bytes(), &mut decoded).expect("own encoding decodes");
        assert_eq!(decoded.len(), samples.len());
        for (want, got) in samples.iter().zip(&decoded) {
            assert_eq!(want.t, got.t);
            assert_eq!(want.v.to_bits(), got.v.to_bits(), "value at t={}", want.t);
        }
        let iterated: Vec<Sample> = chunk.iter().map(|s| s.expect("decodes")).collect();
        assert_eq!(iterated.len(), samples.len());
    }

    fn at(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    #[test]
    fn empty_chunk_is_just_a_header() {
        let chunk = XorChunk::new();
        assert_eq!(chunk.bytes(), &[0, 0]);
        assert!(chunk.is_empty());
        assert_eq!(chunk.first_t(), None);
        assert_eq!(chunk.iter().count(), 0);
    }

    #[test]
    fn single_sample() {
        assert_round_trip(&[at(1_700_000_000_000, 42.5)]);
        let chunk = encode(&[at(-5, 1.0)]);
        assert_eq!(chunk.first_t(), Some(-5));
        assert_eq!(chunk.last_t(), Some(-5));
    }

    #[test]
    fn special_values_round_trip_bit_exact() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let values = [
            1.0,
            stale,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            stale,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::from_bits(1),
            f64::from_bits(0xfff8_0000_0000_0001),
            stale,
        ];
        let samples: Vec<Sample> = values.iter().enumerate().map(|(i, &v)| at(i as i64 * 15_000, v)).collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn timestamp_extremes_and_irregular_intervals() {
        assert_round_trip(&[
            at(i64::MIN, 1.0),
            at(i64::MIN + 1, 2.0),
            at(0, 3.0),
            at(i64::MAX - 1, 4.0),
            at(i64::MAX, 5.0),
        ]);
        assert_round_trip(&[at(-1_000_000, 1.0), at(-999_985, 1.0), at(-10, 1.0), at(-9, 1.0), at(0, 1.0)]);
        // One delta-of-delta per bucket edge.
        let mut t = 0i64;
        let mut delta = 15_000i64;
        let mut samples = vec![at(t, 0.0)];
        for dod in [0, 1, -1, 8191, 8192, -8191, -8192, 65_536, -65_535, 65_537, 524_288, -524_287, 524_289, -524_288] {
            delta += dod;
            t += delta;
            samples.push(at(t, dod as f64));
        }
        samples.push(at(t + 86_400_000_000, 1.0));
        assert_round_trip(&samples);
    }

    #[test]
    fn decreasing_timestamps_still_round_trip() {
        // Outside the contract, but the wrapping arithmetic keeps them exact.
        assert_round_trip(&[at(100, 1.0), at(50, 2.0), at(i64::MAX, 3.0), at(i64::MIN, 4.0)]);
    }

    #[test]
    fn random_data_round_trips() {
        let mut rng = XorShift64::new(7);
        let mut t = 1_600_000_000_000i64;
        let samples: Vec<Sample> = (0..5000)
            .map(|_| {
                t += 1 + rng.below(100_000) as i64;
                at(t, f64::from_bits(rng.next_u64()))
            })
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn bytes_decode_after_every_append() {
        let mut chunk = XorChunk::new();
        let mut rng = XorShift64::new(3);
        for i in 0..300i64 {
            chunk.append(i * 15_000 + rng.below(5) as i64, (i / 7) as f64 * 0.25);
            let decoded: Result<Vec<Sample>, _> = chunk.iter().collect();
            assert_eq!(decoded.expect("decodes").len(), (i + 1) as usize);
        }
    }

    #[test]
    fn full_chunk_refuses_more() {
        let mut chunk = XorChunk::new();
        for i in 0..XOR_CHUNK_MAX_SAMPLES as i64 {
            chunk.try_append(i, 1.0).expect("room left");
        }
        assert!(chunk.is_full());
        assert!(matches!(chunk.try_append(1 << 40, 1.0), Err(ChunkError::Full { .. })));
        assert_eq!(chunk.iter().count(), XOR_CHUNK_MAX_SAMPLES);
    }

    #[test]
    fn missing_header_is_an_error_not_a_panic() {
        let mut iter = XorIter::new(&[7]);
        assert!(matches!(iter.next(), Some(Err(ChunkError::Truncated(_)))));
        assert!(iter.next().is_none());
        let mut out = vec![at(1, 1.0)];
        assert!(decode_into(&[], &mut out).is_err());
        assert_eq!(out.len(), 1, "left as it was");
    }

    #[test]
    fn every_truncation_and_many_bit_flips_never_panic() {
        let mut rng = XorShift64::new(11);
        let mut chunk = XorChunk::new();
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut t = -30_000i64;
        for i in 0..150 {
            t += 15_000 + rng.below(20) as i64 - 10;
            let v = match i % 37 {
                5 => stale,
                6 => f64::NAN,
                7 => f64::NEG_INFINITY,
                _ => (rng.below(1000) as f64) / 100.0,
            };
            chunk.append(t, v);
        }
        let bytes = chunk.bytes().to_vec();
        let mut out = Vec::new();
        for len in 0..bytes.len() {
            out.clear();
            // The header still announces every sample and the last byte holds bits of the last
            // one, so every truncation fails (leaving `out` untouched).
            assert!(decode_into(&bytes[..len], &mut out).is_err(), "truncated to {len} decodes");
            assert!(out.is_empty());
            for _ in XorIter::new(&bytes[..len]) {}
        }
        let mut corrupted = bytes.clone();
        for _ in 0..20_000 {
            corrupted.copy_from_slice(&bytes);
            for _ in 0..1 + rng.below(3) {
                let bit = rng.below(bytes.len() as u64 * 8) as usize;
                corrupted[bit / 8] ^= 1 << (bit % 8);
            }
            out.clear();
            let _ = decode_into(&corrupted, &mut out);
            assert!(out.len() <= usize::from(u16::MAX));
        }
    }
}

// Pharos — storage/src/tsdb/chunk/xor.rs
