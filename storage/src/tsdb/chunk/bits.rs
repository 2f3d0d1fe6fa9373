//! Bit-level writer and reader shared by the XOR encodings (head chunks and the XOR fallback of
//! block columns). Bits are packed most significant bit first, as Prometheus packs its chunks.
//!
//! The writer appends to a caller-owned `Vec<u8>` and can be resumed, so a head chunk keeps only
//! the number of free bits of its last byte between appends. The reader never panics: reading past
//! the end answers `None`.

/// Appends bits to a byte vector, most significant bit first. Unused low bits of the last byte are
/// zero, so the vector is a valid prefix-padded bit stream after every call.
pub(crate) struct BitWriter<'a> {
    bytes: &'a mut Vec<u8>,
    /// Unused low bits of the last byte of `bytes` (0 when the next bit starts a new byte).
    free_bits: u32,
}

impl<'a> BitWriter<'a> {
    /// Continue writing a stream whose last byte has `free_bits` unused low bits (0..=7; 0 when the
    /// stream ends on a byte boundary or is empty).
    pub(crate) fn resume(bytes: &'a mut Vec<u8>, free_bits: u32) -> Self {
        BitWriter { bytes, free_bits: free_bits.min(7) }
    }

    /// Unused low bits of the last byte, to hand back to [`BitWriter::resume`] later.
    pub(crate) fn free_bits(&self) -> u32 {
        self.free_bits
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Append a byte, growing the buffer by 16 bytes at a time rather than doubling: a head keeps
    /// one open chunk per series, and doubling would leave up to half of each unused.
    fn push(&mut self, byte: u8) {
        if self.bytes.len() == self.bytes.capacity() {
            self.bytes.reserve_exact(16);
        }
        self.bytes.push(byte);
    }

    /// Write the low `count` bits of `value` (count 0..=64), most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, count: u32) {
        let mut remaining = count.min(64);
        while remaining > 0 {
            if self.free_bits == 0 {
                self.push(0);
                self.free_bits = 8;
            }
            let take = remaining.min(self.free_bits);
            let part = (value >> (remaining - take)) & ((1u64 << take) - 1);
            if let Some(last) = self.bytes.last_mut() {
                *last |= (part as u8) << (self.free_bits - take);
            }
            self.free_bits -= take;
            remaining -= take;
        }
    }

    /// Write whole bytes (used for varints inside a bit stream).
    pub(crate) fn write_byte(&mut self, byte: u8) {
        if self.free_bits == 0 {
            self.push(byte);
        } else {
            self.write_bits(u64::from(byte), 8);
        }
    }

    /// Unsigned LEB128 varint, byte by byte through the bit stream.
    pub(crate) fn write_uvarint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.write_byte((value as u8) | 0x80);
            value >>= 7;
        }
        self.write_byte(value as u8);
    }
}

/// Reads bits most significant first from a byte slice. Answers `None` once the input is
/// exhausted; never panics.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Index of the next byte of `bytes` not yet loaded into `buffer`.
    next_byte: usize,
    /// Loaded bits, left-aligned: the top `buffered` bits are valid, the rest are zero.
    buffer: u64,
    buffered: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, next_byte: 0, buffer: 0, buffered: 0 }
    }

    /// Load as many whole bytes as fit; afterwards at least 57 bits are buffered unless the input
    /// is exhausted.
    #[inline]
    fn refill(&mut self) {
        if let Some(word_bytes) = self.bytes.get(self.next_byte..self.next_byte + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(word_bytes);
            let word = u64::from_be_bytes(word);
            let whole_bytes = (64 - self.buffered) / 8;
            if whole_bytes == 0 {
                return;
            }
            self.buffer |= word >> self.buffered;
            self.buffered += whole_bytes * 8;
            self.next_byte += whole_bytes as usize;
            if self.buffered < 64 {
                self.buffer &= !(u64::MAX >> self.buffered);
            }
        } else {
            while self.buffered <= 56 {
                let Some(&byte) = self.bytes.get(self.next_byte) else { break };
                self.buffer |= u64::from(byte) << (56 - self.buffered);
                self.buffered += 8;
                self.next_byte += 1;
            }
        }
    }

    /// The next up-to-`count` bits (count 1..=56) left-aligned in a `u64` without consuming them,
    /// and how many of them exist; bits past the end of the input read as zero.
    #[inline(always)]
    pub(crate) fn peek(&mut self, count: u32) -> (u64, u32) {
        if self.buffered < count {
            self.refill();
        }
        (self.buffer, self.buffered.min(count))
    }

    /// Drop `count` bits that [`BitReader::peek`] showed to exist.
    #[inline(always)]
    pub(crate) fn consume(&mut self, count: u32) {
        let count = count.min(self.buffered);
        self.buffer = if count >= 64 { 0 } else { self.buffer << count };
        self.buffered -= count;
    }

    /// Read `count` bits (0..=64) as the low bits of the result.
    #[inline(always)]
    pub(crate) fn read_bits(&mut self, count: u32) -> Option<u64> {
        if count > 56 {
            let high = self.read_short(count - 32)?;
            let low = self.read_short(32)?;
            return Some((high << 32) | low);
        }
        self.read_short(count)
    }

    /// Read up to 56 bits.
    #[inline(always)]
    fn read_short(&mut self, count: u32) -> Option<u64> {
        if count == 0 {
            return Some(0);
        }
        if self.buffered < count {
            self.refill();
            if self.buffered < count {
                return None;
            }
        }
        let value = self.buffer >> (64 - count);
        self.buffer <<= count;
        self.buffered -= count;
        Some(value)
    }

    /// Unsigned LEB128 varint read byte by byte through the bit stream; `None` when truncated or
    /// longer than 10 bytes.
    pub(crate) fn read_uvarint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for index in 0..10u32 {
            let byte = self.read_short(8)?;
            if index == 9 && byte > 1 {
                return None;
            }
            value |= (byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    /// Whole bytes of input not yet consumed (bits of a partly consumed byte do not count).
    pub(crate) fn remaining_whole_bytes(&self) -> usize {
        (self.bytes.len() - self.next_byte.min(self.bytes.len())) + (self.buffered / 8) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_across_byte_boundaries() {
        let mut bytes = Vec::new();
        let mut writer = BitWriter::resume(&mut bytes, 0);
        let fields: Vec<(u64, u32)> =
            (0..200u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15), (i % 65) as u32)).collect();
        for &(value, count) in &fields {
            writer.write_bits(value, count);
            writer.write_bit(count % 2 == 0);
        }
        writer.write_uvarint(u64::MAX);
        writer.write_uvarint(300);
        let mut reader = BitReader::new(&bytes);
        for &(value, count) in &fields {
            let mask = if count == 64 { u64::MAX } else { (1u64 << count) - 1 };
            assert_eq!(reader.read_bits(count), Some(value & mask), "count {count}");
            assert_eq!(reader.read_bits(1), Some(u64::from(count % 2 == 0)));
        }
        assert_eq!(reader.read_uvarint(), Some(u64::MAX));
        assert_eq!(reader.read_uvarint(), Some(300));
        assert_eq!(reader.remaining_whole_bytes(), 0);
        assert!(reader.read_bits(8).is_none());
    }

    #[test]
    fn writer_resumes_mid_byte() {
        let mut bytes = Vec::new();
        let mut writer = BitWriter::resume(&mut bytes, 0);
        writer.write_bits(0b101, 3);
        let free = writer.free_bits();
        assert_eq!(free, 5);
        let mut writer = BitWriter::resume(&mut bytes, free);
        writer.write_bits(0b11, 2);
        assert_eq!(bytes, vec![0b1011_1000]);
    }
}

// Pharos — storage/src/tsdb/chunk/bits.rs
