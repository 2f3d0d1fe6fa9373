//! The snapshot file the notifier keeps its small persistent states in (silences, the
//! notification log): the whole state rewritten on every change, atomically, so a file is always
//! either the previous or the next state and never a torn mix (layout in
//! `docs/format/alerting.md`).
//!
//! A file is a 16-byte header (magic, format version, reserved, payload length), the payload, and
//! a CRC32C (Castagnoli) of header and payload. The magic names the kind of state, so a silences
//! file handed to the notification log is refused instead of misread. The payload is built with
//! [`PayloadWriter`] and read back with [`PayloadReader`]: little-endian fixed-width integers,
//! LEB128 varints and length-prefixed UTF-8 strings, as the WAL uses them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The snapshot layout version this Pharos writes and the only one it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Magic, version, reserved and payload length.
pub const HEADER_LEN: usize = 16;
/// The CRC32C after the payload.
pub const TRAILER_LEN: usize = 4;

/// Why a snapshot file could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {action}: {source}", path.display())]
    Io { path: PathBuf, action: &'static str, source: io::Error },
    #[error("{}: not a {} snapshot: magic {found:02x?}", path.display(), String::from_utf8_lossy(expected))]
    BadMagic { path: PathBuf, expected: [u8; 4], found: Vec<u8> },
    #[error("{}: unsupported snapshot format version {version} (this Pharos reads version {FORMAT_VERSION})", path.display())]
    UnsupportedVersion { path: PathBuf, version: u16 },
    #[error("{}: truncated snapshot: {len} bytes, the header announces {expected}", path.display())]
    Truncated { path: PathBuf, len: u64, expected: u64 },
    #[error("{}: {extra} unexpected bytes after the snapshot's checksum", path.display())]
    TrailingBytes { path: PathBuf, extra: u64 },
    #[error("{}: snapshot checksum mismatch: stored {stored:08x}, computed {computed:08x}", path.display())]
    ChecksumMismatch { path: PathBuf, stored: u32, computed: u32 },
    /// The checksum holds but the content does not decode (a reserved field set, a bad payload).
    #[error("{}: corrupt snapshot: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

impl SnapshotError {
    /// A payload that passed the checksum but does not decode.
    pub fn corrupt(path: &Path, err: PayloadError) -> SnapshotError {
        SnapshotError::Corrupt { path: path.to_path_buf(), reason: err.to_string() }
    }
}

/// Writes `payload` as the snapshot at `path`: into `<path>.tmp`, fsync, rename over `path`,
/// fsync of the directory. A crash at any point leaves either the old or the new file at
/// `path` (and possibly a stale `.tmp`, which the next write replaces). The parent directory is
/// created if missing.
pub fn write_snapshot(path: &Path, magic: [u8; 4], payload: &[u8]) -> Result<(), SnapshotError> {
    let io_err = |action: &'static str| move |source| SnapshotError::Io { path: path.to_path_buf(), action, source };
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(io_err("creating the directory"))?;

    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    bytes.extend_from_slice(&magic);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());

    let tmp = tmp_path(path);
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(SnapshotError::Io { path: tmp, action: "writing the snapshot", source });
    }
    if let Err(source) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(SnapshotError::Io {
            path: path.to_path_buf(),
            action: "renaming the new snapshot into place",
            source,
        });
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| SnapshotError::Io {
        path: dir.to_path_buf(),
        action: "syncing the directory",
        source,
    })
}

/// Reads the snapshot at `path` and returns its payload, or `None` when there is no file.
/// The magic, the format version, the length and the checksum are all verified; any mismatch
/// is an error (a snapshot is never silently treated as empty).
pub fn read_snapshot(path: &Path, magic: [u8; 4]) -> Result<Option<Vec<u8>>, SnapshotError> {
    let mut bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Io { path: path.to_path_buf(), action: "reading the snapshot", source });
        }
    };
    let path_buf = || path.to_path_buf();
    let len = bytes.len() as u64;
    let min = (HEADER_LEN + TRAILER_LEN) as u64;
    if bytes.len() < 4 || bytes[..4] != magic {
        if bytes.len() < 4 && magic.starts_with(&bytes) {
            return Err(SnapshotError::Truncated { path: path_buf(), len, expected: min });
        }
        return Err(SnapshotError::BadMagic {
            path: path_buf(),
            expected: magic,
            found: bytes[..bytes.len().min(4)].to_vec(),
        });
    }
    if bytes.len() < 6 {
        return Err(SnapshotError::Truncated { path: path_buf(), len, expected: min });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { path: path_buf(), version });
    }
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::Truncated { path: path_buf(), len, expected: min });
    }
    let payload_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let expected = payload_len.saturating_add(min);
    if len < expected {
        return Err(SnapshotError::Truncated { path: path_buf(), len, expected });
    }
    if len > expected {
        return Err(SnapshotError::TrailingBytes { path: path_buf(), extra: len - expected });
    }
    let body_end = HEADER_LEN + payload_len as usize;
    let stored = u32::from_le_bytes(bytes[body_end..].try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(&bytes[..body_end]);
    if stored != computed {
        return Err(SnapshotError::ChecksumMismatch { path: path_buf(), stored, computed });
    }
    let reserved = u16::from_le_bytes([bytes[6], bytes[7]]);
    if reserved != 0 {
        return Err(SnapshotError::Corrupt {
            path: path_buf(),
            reason: format!("reserved header field is {reserved}"),
        });
    }
    bytes.truncate(body_end);
    bytes.drain(..HEADER_LEN);
    Ok(Some(bytes))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Builds a snapshot payload.
#[derive(Debug, Default)]
pub struct PayloadWriter {
    bytes: Vec<u8>,
}

impl PayloadWriter {
    pub fn new() -> PayloadWriter {
        PayloadWriter::default()
    }

    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Unsigned LEB128: 7 bits a byte, low groups first, high bit = more follows.
    pub fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bytes.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
    }

    /// Zigzag (`(n << 1) ^ (n >> 63)`), then as a uvarint.
    pub fn varint(&mut self, v: i64) {
        self.uvarint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A uvarint byte length, then the UTF-8 bytes.
    pub fn string(&mut self, s: &str) {
        self.uvarint(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why a payload does not decode, with the byte offset inside the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payload offset {offset}: {reason}")]
pub struct PayloadError {
    pub offset: usize,
    pub reason: String,
}

/// Reads a payload written by [`PayloadWriter`]; every read checks the bytes are there.
#[derive(Debug)]
pub struct PayloadReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> PayloadReader<'a> {
    pub fn new(bytes: &'a [u8]) -> PayloadReader<'a> {
        PayloadReader { bytes, at: 0 }
    }

    /// An error at the current offset.
    pub fn error(&self, reason: impl Into<String>) -> PayloadError {
        PayloadError { offset: self.at, reason: reason.into() }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PayloadError> {
        if self.remaining() < n {
            return Err(self.error(format!("{what}: needs {n} bytes, {} left", self.remaining())));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    pub fn u8(&mut self) -> Result<u8, PayloadError> {
        Ok(self.take(1, "byte")?[0])
    }

    pub fn u64(&mut self) -> Result<u64, PayloadError> {
        Ok(u64::from_le_bytes(self.take(8, "u64")?.try_into().expect("8 bytes")))
    }

    pub fn uvarint(&mut self) -> Result<u64, PayloadError> {
        let start = self.at;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.u8().map_err(|_| PayloadError { offset: start, reason: "truncated varint".into() })?;
            if shift == 63 && byte > 1 {
                return Err(PayloadError { offset: start, reason: "varint overflows 64 bits".into() });
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(PayloadError { offset: start, reason: "varint longer than 10 bytes".into() })
    }

    pub fn varint(&mut self) -> Result<i64, PayloadError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub fn string(&mut self) -> Result<String, PayloadError> {
        let start = self.at;
        let len = self.uvarint()?;
        let len = usize::try_from(len).map_err(|_| self.error("string length overflows"))?;
        let bytes = self.take(len, "string")?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| PayloadError { offset: start, reason: "string is not valid UTF-8".into() })
    }

    /// A count of items that each take at least `min_item_len` bytes, checked against the bytes
    /// left so that a corrupt count cannot ask for a huge allocation.
    pub fn count(&mut self, min_item_len: usize) -> Result<usize, PayloadError> {
        let start = self.at;
        let n = self.uvarint()?;
        let fits = usize::try_from(n).ok().filter(|n| n.saturating_mul(min_item_len.max(1)) <= self.remaining());
        fits.ok_or(PayloadError { offset: start, reason: format!("count {n} exceeds the bytes left") })
    }

    /// Succeeds only when every byte was consumed.
    pub fn finish(self) -> Result<(), PayloadError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format!("{n} bytes left over"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 4] = *b"PHTS";

    fn file_bytes(payload: &[u8]) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        write_snapshot(&path, MAGIC, payload).unwrap();
        let bytes = fs::read(&path).unwrap();
        (dir, path, bytes)
    }

    #[test]
    fn round_trips_and_lays_out_the_header() {
        let (_dir, path, bytes) = file_bytes(b"hello");
        assert_eq!(&bytes[..4], b"PHTS");
        assert_eq!(&bytes[4..8], &[1, 0, 0, 0]);
        assert_eq!(u64::from_le_bytes(bytes[8..16].try_into().unwrap()), 5);
        assert_eq!(&bytes[16..21], b"hello");
        // CRC32C check value of the standard test vector, to pin the polynomial.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(u32::from_le_bytes(bytes[21..].try_into().unwrap()), crc32c::crc32c(&bytes[..21]));
        assert_eq!(read_snapshot(&path, MAGIC).unwrap().unwrap(), b"hello");
        assert!(!tmp_path(&path).exists(), "the temporary file is renamed away");
        assert_eq!(read_snapshot(&path.with_file_name("absent"), MAGIC).unwrap(), None);
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error_naming_the_file() {
        let (_dir, path, good) = file_bytes(b"some payload");
        let check = |bytes: &[u8]| {
            fs::write(&path, bytes).unwrap();
            let err = read_snapshot(&path, MAGIC).unwrap_err();
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
            err
        };
        assert!(matches!(read_snapshot(&path, *b"PHXX"), Err(SnapshotError::BadMagic { .. })));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert!(matches!(check(&v2), SnapshotError::UnsupportedVersion { version: 2, .. }));
        assert!(matches!(check(&good[..good.len() - 1]), SnapshotError::Truncated { .. }));
        assert!(matches!(check(&good[..10]), SnapshotError::Truncated { .. }));
        assert!(matches!(check(&good[..2]), SnapshotError::Truncated { .. }));
        assert!(matches!(check(b""), SnapshotError::Truncated { .. }));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(check(&longer), SnapshotError::TrailingBytes { extra: 1, .. }));
        for at in [16, 20, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 0x01;
            assert!(matches!(check(&flipped), SnapshotError::ChecksumMismatch { .. }), "byte {at}");
        }
        let mut reserved = good.clone();
        reserved[6] = 1;
        let body_end = reserved.len() - 4;
        let crc = crc32c::crc32c(&reserved[..body_end]);
        reserved[body_end..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(check(&reserved), SnapshotError::Corrupt { .. }));
    }

    #[test]
    fn payload_values_round_trip() {
        let mut w = PayloadWriter::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            w.uvarint(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            w.varint(v);
        }
        w.string("héllo");
        w.u64(0xdead_beef_0000_0001);
        w.u8(7);
        let bytes = w.into_bytes();
        let mut r = PayloadReader::new(&bytes);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.uvarint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        assert_eq!(r.string().unwrap(), "héllo");
        assert_eq!(r.u64().unwrap(), 0xdead_beef_0000_0001);
        assert_eq!(r.u8().unwrap(), 7);
        r.finish().unwrap();
    }

    #[test]
    fn bad_payloads_are_errors_not_panics() {
        assert!(PayloadReader::new(&[0x80]).uvarint().is_err());
        assert!(PayloadReader::new(&[0xff; 11]).uvarint().is_err());
        assert!(PayloadReader::new(&[5, b'a']).string().is_err());
        assert!(PayloadReader::new(&[2, 0xff, 0xfe]).string().is_err());
        assert!(PayloadReader::new(&[200, 1, 0]).count(1).is_err());
        assert!(PayloadReader::new(&[1, 0]).finish().is_err());
    }
}

// Pharos — alerting/src/notifier/snapshot.rs
