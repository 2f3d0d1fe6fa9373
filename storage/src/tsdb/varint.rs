//! Byte-aligned integer codings shared by the WAL, the chunk codecs and the block format:
//! unsigned LEB128 varints, zigzag for signed values, length-prefixed strings.
//!
//! - `uvarint`: 7 bits per byte, least significant group first, high bit set on every byte but the
//!   last; at most 10 bytes for a `u64`.
//! - `zigzag`: maps signed to unsigned so small magnitudes stay small: 0→0, −1→1, 1→2, −2→3, …
//!   (`(n << 1) ^ (n >> 63)`).

/// Zigzag-map a signed value.
#[inline]
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Undo [`zigzag`].
#[inline]
pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Append an unsigned varint.
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Append a zigzag varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, value: i64) {
    put_uvarint(out, zigzag(value));
}

/// Bytes [`put_uvarint`] would write.
#[inline]
pub(crate) fn uvarint_len(value: u64) -> usize {
    // 1 byte per started group of 7 significant bits, at least 1.
    let significant_bits = 64 - (value | 1).leading_zeros() as usize;
    significant_bits.div_ceil(7)
}

/// A cursor over bytes that reads varints and fixed fields without panicking.
#[derive(Clone, Debug)]
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, position: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.position)
    }

    /// The unread rest of the input.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or(&[])
    }

    /// `None` when truncated or when the varint is over-long (more than 10 bytes or bits beyond 64).
    #[inline]
    pub(crate) fn uvarint(&mut self) -> Option<u64> {
        // Fast path: one-byte values are by far the most common.
        let &first = self.bytes.get(self.position)?;
        if first < 0x80 {
            self.position += 1;
            return Some(u64::from(first));
        }
        let mut value = 0u64;
        for index in 0..10u32 {
            let &byte = self.bytes.get(self.position)?;
            self.position += 1;
            if index == 9 && byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Option<i64> {
        self.uvarint().map(unzigzag)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let &byte = self.bytes.get(self.position)?;
        self.position += 1;
        Some(byte)
    }

    pub(crate) fn u64_le(&mut self) -> Option<u64> {
        let field = self.bytes.get(self.position..self.position.checked_add(8)?)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(field);
        self.position += 8;
        Some(u64::from_le_bytes(raw))
    }

    /// Take the next `len` bytes as a slice.
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(len)?;
        let slice = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(slice)
    }

    /// A length-prefixed UTF-8 string (see [`put_str`]).
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.uvarint()?).ok()?;
        std::str::from_utf8(self.take(len)?).ok()
    }

    /// True once every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
}

/// Append a length-prefixed string: uvarint byte length, then the UTF-8 bytes.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_codes() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(-2), 3);
        for value in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
    }

    #[test]
    fn varints_round_trip_and_report_their_length() {
        let values = [0u64, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX - 1, u64::MAX];
        let mut out = Vec::new();
        for &value in &values {
            let before = out.len();
            put_uvarint(&mut out, value);
            assert_eq!(out.len() - before, uvarint_len(value), "{value}");
        }
        let mut reader = ByteReader::new(&out);
        for &value in &values {
            assert_eq!(reader.uvarint(), Some(value));
        }
        assert_eq!(reader.uvarint(), None);
    }

    #[test]
    fn over_long_varints_are_rejected() {
        let eleven = [0x80u8; 10];
        assert_eq!(ByteReader::new(&eleven).uvarint(), None);
        let mut too_big = [0xffu8; 10];
        too_big[9] = 0x02;
        assert_eq!(ByteReader::new(&too_big).uvarint(), None);
    }

    #[test]
    fn round_trips_and_rejects_truncation() {
        let mut out = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_uvarint(&mut out, v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_varint(&mut out, v);
        }
        put_str(&mut out, "héllo");
        let mut r = ByteReader::new(&out);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.uvarint(), Some(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.varint(), Some(v));
        }
        assert_eq!(r.str(), Some("héllo"));
        assert!(r.is_empty());
        assert_eq!(r.uvarint(), None);
        assert_eq!(ByteReader::new(&[0x80, 0x80]).uvarint(), None);
        assert_eq!(ByteReader::new(&[0xff; 11]).uvarint(), None);
        assert_eq!(ByteReader::new(&[5, b'a']).str(), None);
    }
}

// Pharos — storage/src/tsdb/varint.rs
