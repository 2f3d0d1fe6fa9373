//! The write-ahead log: the durable copy of every appended record until the partitions it went to
//! have committed it.
//!
//! The WAL is a sequence of segment files `wal/<base LSN, 20 digits>`. A position in the WAL, the
//! LSN, is a byte address in the concatenation of all segments ever written: a byte at offset `o` of
//! the segment whose base is `b` has LSN `b + o`, and the next segment's base is the previous end.
//! LSNs therefore only grow, survive segment deletion, and order frames the way they were written.
//!
//! ```text
//! segment := header frame*
//! header  := "PHLW" version:u8(=1) reserved:[u8;3](=0) base_lsn:u64le crc:u32le   (20 bytes;
//!            crc = crc32c of the 16 bytes before it)
//! frame   := len:u32le crc:u32le payload[len]      (crc = crc32c(len as 4 LE bytes ‖ payload))
//! payload := kind:u8(=1, records) count:u32le record*count
//! record  := timestamp_nanos:i64le index:str labels_count:u32le (name:str value:str)* source:str
//! str     := len:u32le utf8[len]
//! ```
//!
//! One append batch becomes one or more frames (a frame is closed once its payload passes
//! [`FRAME_TARGET_BYTES`]); every record of a frame has the frame's LSN. The parsed document is not
//! stored: replay parses `source` again.
//!
//! Reading tells a torn tail (a crash during a write that nobody was told had succeeded) from
//! corruption: in the last segment, a damaged or incomplete frame that is not followed by a valid
//! frame is a torn tail and is cut off; any other damage is a [`LogError::WalCorrupt`] naming the
//! file and offset.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::logs::error::LogError;
use crate::logs::record::LogRecord;

pub(crate) const SEGMENT_MAGIC: &[u8; 4] = b"PHLW";
pub(crate) const SEGMENT_VERSION: u8 = 1;
pub(crate) const HEADER_LEN: u64 = 20;
const FRAME_HEADER_LEN: usize = 8;
/// A frame is closed once its payload passes this size (1 MiB: a batch of 1000 access-log lines of
/// ~400 bytes is one frame); a single record may still make a frame larger.
pub(crate) const FRAME_TARGET_BYTES: usize = 1 << 20;
/// The largest frame payload accepted (writing and reading): larger lengths are corruption.
pub(crate) const MAX_FRAME_BYTES: usize = 256 << 20;
const KIND_RECORDS: u8 = 1;

/// A record as the WAL holds it: a [`LogRecord`] without its parsed `doc`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WalRecord {
    pub index: String,
    pub timestamp_nanos: i64,
    pub labels: Vec<(String, String)>,
    pub source: String,
}

impl WalRecord {
    /// The [`LogRecord`] again, `doc` parsed from `source` (an unparsable or non-object source gives
    /// an empty `doc`, so the record stays searchable by its other fields).
    pub fn into_log_record(self) -> LogRecord {
        let doc = match serde_json::from_str::<serde_json::Value>(&self.source) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                tracing::warn!(index = %self.index, "WAL record source is not a JSON object; indexing it without fields");
                serde_json::Map::new()
            }
        };
        LogRecord {
            index: self.index,
            timestamp_nanos: self.timestamp_nanos,
            labels: self.labels,
            source: self.source,
            doc,
        }
    }
}

/// A complete frame (length, checksum, payload) and the records (as a range of the batch) it holds.
pub(crate) struct EncodedFrame {
    pub bytes: Vec<u8>,
    pub records: std::ops::Range<usize>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn record_size(record: &LogRecord) -> usize {
    8 + 4
        + record.index.len()
        + 4
        + record.labels.iter().map(|(n, v)| 8 + n.len() + v.len()).sum::<usize>()
        + 4
        + record.source.len()
}

/// Encodes a batch into frames. Runs outside any lock: only the LSNs depend on the WAL's state.
pub(crate) fn encode_frames(records: &[LogRecord]) -> Result<Vec<EncodedFrame>, LogError> {
    let mut frames = Vec::new();
    let mut start = 0;
    while start < records.len() {
        let mut end = start;
        let mut size = 1 + 4;
        while end < records.len() && (end == start || size < FRAME_TARGET_BYTES) {
            let rs = record_size(&records[end]);
            if rs + 5 > MAX_FRAME_BYTES {
                return Err(LogError::RecordTooLarge { size: rs, limit: MAX_FRAME_BYTES - 5 });
            }
            if end > start && size + rs > MAX_FRAME_BYTES {
                break;
            }
            size += rs;
            end += 1;
        }
        let mut bytes = Vec::with_capacity(FRAME_HEADER_LEN + size);
        bytes.extend_from_slice(&(size as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.push(KIND_RECORDS);
        bytes.extend_from_slice(&((end - start) as u32).to_le_bytes());
        for record in &records[start..end] {
            bytes.extend_from_slice(&record.timestamp_nanos.to_le_bytes());
            put_str(&mut bytes, &record.index);
            bytes.extend_from_slice(&(record.labels.len() as u32).to_le_bytes());
            for (name, value) in &record.labels {
                put_str(&mut bytes, name);
                put_str(&mut bytes, value);
            }
            put_str(&mut bytes, &record.source);
        }
        debug_assert_eq!(bytes.len(), FRAME_HEADER_LEN + size);
        let crc = frame_crc(&bytes[0..4], &bytes[FRAME_HEADER_LEN..]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        frames.push(EncodedFrame { bytes, records: start..end });
        start = end;
    }
    Ok(frames)
}

fn frame_crc(len: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(len), payload)
}

/// Decodes a frame payload (already checksummed) into its records.
pub(crate) fn decode_payload(payload: &[u8]) -> Result<Vec<WalRecord>, String> {
    struct Cursor<'a>(&'a [u8]);
    impl Cursor<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            if self.0.len() < n {
                return Err("record runs past the end of its frame".into());
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
        }
        fn str(&mut self) -> Result<String, String> {
            let len = self.u32()? as usize;
            String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "string is not UTF-8".to_string())
        }
    }
    let mut cur = Cursor(payload);
    let kind = cur.take(1)?[0];
    if kind != KIND_RECORDS {
        return Err(format!("unknown frame kind {kind}"));
    }
    let count = cur.u32()? as usize;
    let mut records = Vec::with_capacity(count.min(payload.len() / 24));
    for _ in 0..count {
        let timestamp_nanos = i64::from_le_bytes(cur.take(8)?.try_into().unwrap());
        let index = cur.str()?;
        let nlabels = cur.u32()? as usize;
        let mut labels = Vec::with_capacity(nlabels.min(64));
        for _ in 0..nlabels {
            labels.push((cur.str()?, cur.str()?));
        }
        let source = cur.str()?;
        records.push(WalRecord { index, timestamp_nanos, labels, source });
    }
    if !cur.0.is_empty() {
        return Err(format!("{} trailing bytes after the last record", cur.0.len()));
    }
    Ok(records)
}

pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}"))
}

/// The WAL segments in `dir`, sorted by base LSN. Files that are not named like segments are
/// ignored with a warning.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut segments = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| LogError::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        match name.parse::<u64>() {
            Ok(base) if name.len() == 20 => segments.push((base, entry.path())),
            _ => tracing::warn!(file = %entry.path().display(), "ignoring a file that is not a WAL segment"),
        }
    }
    segments.sort();
    Ok(segments)
}

/// What reading one segment found.
#[derive(Debug)]
pub(crate) struct SegmentScan {
    /// Bytes of the segment that are header and valid frames.
    pub valid_len: u64,
    /// The segment's length on disk (more than `valid_len` when it has a torn tail).
    pub file_len: u64,
}

fn header_bytes(base: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..4].copy_from_slice(SEGMENT_MAGIC);
    h[4] = SEGMENT_VERSION;
    h[8..16].copy_from_slice(&base.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..16]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Where a frame starting at `offset` of `data` ends, if it is a whole valid frame.
fn valid_frame_end(data: &[u8], offset: usize) -> Result<usize, &'static str> {
    let Some(head) = data.get(offset..offset + FRAME_HEADER_LEN) else {
        return Err("incomplete frame header");
    };
    let len = u32::from_le_bytes(head[0..4].try_into().unwrap()) as usize;
    if len > MAX_FRAME_BYTES {
        return Err("frame length over the limit");
    }
    let crc = u32::from_le_bytes(head[4..8].try_into().unwrap());
    let Some(payload) = data.get(offset + FRAME_HEADER_LEN..offset + FRAME_HEADER_LEN + len) else {
        return Err("frame runs past the end of the segment");
    };
    if frame_crc(&head[0..4], payload) != crc {
        return Err("frame checksum mismatch");
    }
    Ok(offset + FRAME_HEADER_LEN + len)
}

/// Reads a segment, calling `on_frame(lsn, payload)` for every valid frame in order. In the last
/// segment a damaged tail (see the module doc) ends the scan with a warning; the caller truncates
/// the file to `valid_len`. A segment whose header is incomplete is only acceptable as the last one
/// (a crash while creating it) and scans as empty with `valid_len` 0.
pub(crate) fn scan_segment(
    path: &Path,
    base: u64,
    is_last: bool,
    mut on_frame: impl FnMut(u64, &[u8]) -> Result<(), LogError>,
) -> Result<SegmentScan, LogError> {
    let data = std::fs::read(path).map_err(|e| LogError::io(format!("reading WAL segment {}", path.display()), e))?;
    let corrupt = |offset: usize, reason: &str| LogError::WalCorrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason: reason.to_string(),
    };
    let file_len = data.len() as u64;
    if data.len() < HEADER_LEN as usize {
        if is_last {
            tracing::warn!(file = %path.display(), len = file_len, "WAL segment header is incomplete (crash while creating it); discarding it");
            return Ok(SegmentScan { valid_len: 0, file_len });
        }
        return Err(corrupt(0, "incomplete segment header"));
    }
    if &data[0..4] != SEGMENT_MAGIC {
        return Err(corrupt(0, "not a WAL segment (bad magic)"));
    }
    if data[4] != SEGMENT_VERSION {
        return Err(corrupt(4, &format!("unsupported WAL version {}", data[4])));
    }
    let crc = u32::from_le_bytes(data[16..20].try_into().unwrap());
    if crc32c::crc32c(&data[0..16]) != crc {
        return Err(corrupt(16, "segment header checksum mismatch"));
    }
    let header_base = u64::from_le_bytes(data[8..16].try_into().unwrap());
    if header_base != base {
        return Err(corrupt(8, &format!("segment header says base LSN {header_base}, file name says {base}")));
    }
    let mut offset = HEADER_LEN as usize;
    while offset < data.len() {
        match valid_frame_end(&data, offset) {
            Ok(end) => {
                on_frame(base + offset as u64, &data[offset + FRAME_HEADER_LEN..end])?;
                offset = end;
            }
            Err(reason) => {
                // A torn tail: the damaged frame is in the last segment and nothing valid follows
                // the place where it says it ends.
                let declared_next = data
                    .get(offset..offset + 4)
                    .map(|l| offset + FRAME_HEADER_LEN + u32::from_le_bytes(l.try_into().unwrap()) as usize);
                let followed_by_valid =
                    declared_next.is_some_and(|next| next < data.len() && valid_frame_end(&data, next).is_ok());
                if is_last && !followed_by_valid {
                    tracing::warn!(
                        file = %path.display(),
                        offset,
                        discarded_bytes = data.len() - offset,
                        reason,
                        "truncating torn WAL tail"
                    );
                    return Ok(SegmentScan { valid_len: offset as u64, file_len });
                }
                return Err(corrupt(offset, reason));
            }
        }
    }
    Ok(SegmentScan { valid_len: offset as u64, file_len })
}

/// Checks a segment's frames and returns its records, for tests and tools.
#[cfg(test)]
pub(crate) fn read_all(path: &Path, base: u64, is_last: bool) -> Result<Vec<(u64, WalRecord)>, LogError> {
    let mut out = Vec::new();
    scan_segment(path, base, is_last, |lsn, payload| {
        for r in decode_payload(payload).map_err(|reason| LogError::WalCorrupt {
            path: path.to_path_buf(),
            offset: lsn - base,
            reason,
        })? {
            out.push((lsn, r));
        }
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io(format!("syncing directory {}", dir.display()), e))
}

/// Creates a segment with its header, durably (file and directory entry synced).
fn create_segment(dir: &Path, base: u64) -> Result<File, LogError> {
    let path = segment_path(dir, base);
    let ctx = |what: &str| format!("{what} WAL segment {}", path.display());
    let mut file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(|e| LogError::io(ctx("creating"), e))?;
    file.write_all(&header_bytes(base)).map_err(|e| LogError::io(ctx("writing the header of"), e))?;
    file.sync_all().map_err(|e| LogError::io(ctx("syncing"), e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// The file being appended to and its end LSN, as the fsync side sees them.
struct SyncTarget {
    file: Arc<File>,
    end: u64,
}

/// Group commit: whoever takes `synced` fsyncs everything written so far, so concurrent appenders
/// waiting behind it usually find their frames already synced.
pub(crate) struct WalSync {
    synced: Mutex<u64>,
    target: Mutex<SyncTarget>,
}

impl WalSync {
    /// Makes everything below `lsn` durable.
    pub fn sync_to(&self, lsn: u64) -> Result<(), LogError> {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= lsn {
            return Ok(());
        }
        let (file, end) = {
            let t = self.target.lock().unwrap_or_else(|p| p.into_inner());
            (t.file.clone(), t.end)
        };
        file.sync_data().map_err(|e| LogError::io("syncing the WAL", e))?;
        *synced = (*synced).max(end);
        Ok(())
    }

    fn set_target(&self, file: Arc<File>, end: u64) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = SyncTarget { file, end };
    }

    fn set_end(&self, end: u64) {
        self.target.lock().unwrap_or_else(|p| p.into_inner()).end = end;
    }

    fn mark_synced(&self, lsn: u64) {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        *synced = (*synced).max(lsn);
    }
}

/// The appending side of the WAL. Lives inside the store's ingest lock: frame LSNs follow the
/// order of `append` calls.
pub(crate) struct WalWriter {
    dir: PathBuf,
    /// Base LSNs of all segments on disk, ascending; the last is the active one.
    segments: Vec<u64>,
    active: Arc<File>,
    active_base: u64,
    active_len: u64,
    segment_bytes: u64,
    sync: Arc<WalSync>,
    poisoned: Option<String>,
}

impl WalWriter {
    /// Starts a new active segment at `base` after the existing `segments` (bases, ascending, all
    /// below `base`).
    pub fn create(dir: &Path, mut segments: Vec<u64>, base: u64, segment_bytes: u64) -> Result<WalWriter, LogError> {
        let file = Arc::new(create_segment(dir, base)?);
        segments.push(base);
        let sync = Arc::new(WalSync {
            synced: Mutex::new(base + HEADER_LEN),
            target: Mutex::new(SyncTarget { file: file.clone(), end: base + HEADER_LEN }),
        });
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            segments,
            active: file,
            active_base: base,
            active_len: HEADER_LEN,
            segment_bytes,
            sync,
            poisoned: None,
        })
    }

    pub fn sync_handle(&self) -> Arc<WalSync> {
        self.sync.clone()
    }

    /// The LSN the next frame will get.
    pub fn end(&self) -> u64 {
        self.active_base + self.active_len
    }

    /// Total bytes of all segments.
    pub fn disk_bytes(&self) -> u64 {
        // Closed segments end where the next one starts.
        let closed: u64 = self.segments.windows(2).map(|w| w[1] - w[0]).sum();
        closed + self.active_len
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Writes frames (not synced) and returns the LSN of each. Rotates first if the batch would
    /// take the active segment past its size. On a failed write the segment is cut back to where
    /// the batch began, so no partial frame stays in the middle of the log.
    pub fn append(&mut self, frames: &[EncodedFrame]) -> Result<Vec<u64>, LogError> {
        if let Some(why) = &self.poisoned {
            return Err(LogError::Poisoned(why.clone()));
        }
        let total: u64 = frames.iter().map(|f| f.bytes.len() as u64).sum();
        if self.active_len > HEADER_LEN && self.active_len + total > self.segment_bytes {
            self.rotate()?;
        }
        let start_len = self.active_len;
        let mut lsns = Vec::with_capacity(frames.len());
        for frame in frames {
            if let Err(e) = (&*self.active).write_all(&frame.bytes) {
                let path = segment_path(&self.dir, self.active_base);
                self.active_len = start_len;
                if let Err(e2) = self.active.set_len(start_len) {
                    self.poisoned = Some(format!(
                        "WAL segment {} could not be cut back after a failed write ({e}): {e2}",
                        path.display()
                    ));
                }
                return Err(LogError::io(format!("writing WAL segment {}", path.display()), e));
            }
            lsns.push(self.end());
            self.active_len += frame.bytes.len() as u64;
        }
        self.sync.set_end(self.end());
        Ok(lsns)
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        let end = self.end();
        let old = segment_path(&self.dir, self.active_base);
        self.active.sync_data().map_err(|e| LogError::io(format!("syncing WAL segment {}", old.display()), e))?;
        self.sync.mark_synced(end);
        let file = Arc::new(create_segment(&self.dir, end)?);
        self.active = file.clone();
        self.active_base = end;
        self.active_len = HEADER_LEN;
        self.segments.push(end);
        self.sync.set_target(file, self.end());
        self.sync.mark_synced(self.end());
        Ok(())
    }

    /// Removes from the segment list every closed segment whose records all lie below `lsn`, and
    /// returns their paths for the caller to delete outside the ingest lock. When everything is
    /// below `lsn` and the active segment holds more than `rotate_over` bytes, a new segment is
    /// started first, so an idle store does not keep up to a segment of committed records.
    pub fn take_segments_below(&mut self, lsn: u64, rotate_over: u64) -> Vec<PathBuf> {
        if lsn >= self.end()
            && self.active_len > rotate_over
            && let Err(e) = self.rotate()
        {
            tracing::warn!(error = %e, "starting a new WAL segment failed");
        }
        let mut gone = Vec::new();
        while self.segments.len() > 1 && self.segments[1] <= lsn {
            gone.push(segment_path(&self.dir, self.segments.remove(0)));
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize, source_len: usize) -> LogRecord {
        let source = format!("{{\"message\":\"{}\"}}", "x".repeat(source_len));
        LogRecord {
            index: format!("idx-{i}"),
            timestamp_nanos: -(i as i64) * 1_000_000_007,
            labels: vec![("a".into(), format!("v{i}")), ("é".into(), "\"q\"".into())],
            doc: serde_json::from_str(&source).unwrap(),
            source,
        }
    }

    fn write_segment(dir: &Path, base: u64, batches: &[Vec<LogRecord>]) -> (PathBuf, Vec<u64>) {
        let mut w = WalWriter::create(dir, Vec::new(), base, 1 << 30).unwrap();
        let mut lsns = Vec::new();
        for b in batches {
            lsns.extend(w.append(&encode_frames(b).unwrap()).unwrap());
        }
        (segment_path(dir, base), lsns)
    }

    #[test]
    fn frames_round_trip_with_lsns() {
        let dir = tempfile::tempdir().unwrap();
        let batches = vec![vec![rec(1, 10), rec(2, 0)], vec![rec(3, 100)]];
        let (path, lsns) = write_segment(dir.path(), 1000, &batches);
        assert_eq!(lsns[0], 1000 + HEADER_LEN);
        let read = read_all(&path, 1000, false).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!((read[0].0, read[1].0, read[2].0), (lsns[0], lsns[0], lsns[1]));
        for ((_, r), orig) in read.into_iter().zip(batches.concat()) {
            assert_eq!(r.clone().into_log_record(), orig);
        }
    }

    #[test]
    fn big_batches_split_into_frames() {
        let batch: Vec<LogRecord> = (0..40).map(|i| rec(i, 100_000)).collect();
        let frames = encode_frames(&batch).unwrap();
        assert!(frames.len() >= 4, "{}", frames.len());
        assert_eq!(frames.iter().map(|f| f.records.len()).sum::<usize>(), 40);
        assert!(frames.iter().all(|f| f.bytes.len() < FRAME_TARGET_BYTES + 200_000));
    }

    #[test]
    fn torn_tail_versus_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let batches: Vec<Vec<LogRecord>> = (0..3).map(|i| vec![rec(i, 50)]).collect();
        let (path, lsns) = write_segment(dir.path(), 0, &batches);
        let full = std::fs::read(&path).unwrap();
        let third = (lsns[2]) as usize;

        // Cut inside the last frame: torn in the last segment, corruption otherwise.
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        let scan = scan_segment(&path, 0, true, |_, _| Ok(())).unwrap();
        assert_eq!(scan.valid_len, third as u64);
        assert!(
            matches!(scan_segment(&path, 0, false, |_, _| Ok(())), Err(LogError::WalCorrupt { offset, .. }) if offset == third as u64)
        );

        // Garbage (zeros) after the last frame: torn.
        let mut zeros = full.clone();
        zeros.extend_from_slice(&[0; 100]);
        std::fs::write(&path, &zeros).unwrap();
        assert_eq!(scan_segment(&path, 0, true, |_, _| Ok(())).unwrap().valid_len, full.len() as u64);

        // A bad checksum in the last frame: torn.
        let mut bad_last = full.clone();
        bad_last[third + 10] ^= 1;
        std::fs::write(&path, &bad_last).unwrap();
        assert_eq!(scan_segment(&path, 0, true, |_, _| Ok(())).unwrap().valid_len, third as u64);

        // A bad checksum followed by a valid frame: corruption, even in the last segment.
        let mut bad_middle = full.clone();
        bad_middle[lsns[1] as usize + 12] ^= 1;
        std::fs::write(&path, &bad_middle).unwrap();
        let err = scan_segment(&path, 0, true, |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains(&format!("offset {}", lsns[1])), "{err}");
        assert!(err.to_string().contains(path.file_name().unwrap().to_str().unwrap()), "{err}");

        // Header damage is never a torn tail; an incomplete header of the last segment is.
        let mut bad_header = full.clone();
        bad_header[9] ^= 1;
        std::fs::write(&path, &bad_header).unwrap();
        assert!(scan_segment(&path, 0, true, |_, _| Ok(())).is_err());
        std::fs::write(&path, &full[..7]).unwrap();
        assert_eq!(scan_segment(&path, 0, true, |_, _| Ok(())).unwrap().valid_len, 0);
        assert!(scan_segment(&path, 0, false, |_, _| Ok(())).is_err());
    }

    #[test]
    fn rotation_and_collection() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(dir.path(), Vec::new(), 0, 4096).unwrap();
        let mut last = 0;
        for i in 0..40 {
            let lsn = w.append(&encode_frames(&[rec(i, 500)]).unwrap()).unwrap()[0];
            assert!(lsn > last);
            last = lsn;
        }
        let segments = list_segments(dir.path()).unwrap();
        assert!(segments.len() >= 4);
        assert_eq!(w.segment_count(), segments.len());
        let total: u64 = segments.iter().map(|(_, p)| std::fs::metadata(p).unwrap().len()).sum();
        assert_eq!(w.disk_bytes(), total);
        // Every segment starts where the previous ended.
        for pair in segments.windows(2) {
            assert_eq!(pair[0].0 + std::fs::metadata(&pair[0].1).unwrap().len(), pair[1].0);
        }
        let gone = w.take_segments_below(segments[2].0, u64::MAX);
        assert_eq!(gone, vec![segments[0].1.clone(), segments[1].1.clone()]);
        assert!(w.take_segments_below(u64::MAX, u64::MAX).len() == segments.len() - 3, "the active segment stays");
        assert_eq!(w.segment_count(), 1);
        // Everything committed and the active segment over the threshold: it is closed and goes too.
        let active = segment_path(dir.path(), segments.last().unwrap().0);
        assert_eq!(w.take_segments_below(w.end(), 100), vec![active]);
        assert_eq!(w.disk_bytes(), HEADER_LEN);
    }
}

// Pharos — storage/src/logs/wal.rs
