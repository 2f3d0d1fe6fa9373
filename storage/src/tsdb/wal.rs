//! The write-ahead log: segmented files of checksummed records. Format: docs/format/wal.md.
//!
//! A write is acknowledged only after its records are written to the current segment (so they
//! survive `kill -9`); the fsync policy decides when they also survive power loss. On start-up the
//! segments are replayed in order. A torn or corrupt record ends the log: the segment is cut there,
//! later segments are removed, and the repair is reported.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::model::{Labels, MetricMetadata, MetricType};
use super::varint::{ByteReader, put_str, put_uvarint, put_varint};
use crate::StorageError;

/// First bytes of every segment.
pub const SEGMENT_MAGIC: [u8; 4] = *b"PHWL";
/// Segment format version.
pub const SEGMENT_VERSION: u8 = 1;
const SEGMENT_HEADER_LEN: usize = 8;
const RECORD_HEADER_LEN: usize = 9;
/// Largest record accepted on replay (a larger length field means corruption).
const MAX_RECORD_LEN: usize = 256 << 20;

/// Record types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    Series = 1,
    Samples = 2,
    Metadata = 3,
}

/// A sample addressed by series reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    pub series: u32,
    pub t: i64,
    pub v: f64,
}

/// A decoded record.
#[derive(Debug, PartialEq)]
pub enum WalRecord {
    Series(Vec<(u32, Labels)>),
    Samples(Vec<RefSample>),
    Metadata(Vec<MetricMetadata>),
}

/// Append a Series record's payload: count, then per series its ref and labels.
pub fn encode_series<'a>(out: &mut Vec<u8>, series: impl ExactSizeIterator<Item = (u32, &'a Labels)>) {
    put_uvarint(out, series.len() as u64);
    for (series_ref, labels) in series {
        put_uvarint(out, u64::from(series_ref));
        put_uvarint(out, labels.len() as u64);
        for label in labels.iter() {
            put_str(out, &label.name);
            put_str(out, &label.value);
        }
    }
}

/// Append a Samples record's payload: count, the first sample in full, then refs and timestamps as
/// deltas from the first; values as raw IEEE-754 bits (stale markers stay bit-exact).
pub fn encode_samples(out: &mut Vec<u8>, samples: &[RefSample]) {
    put_uvarint(out, samples.len() as u64);
    let Some(first) = samples.first() else { return };
    put_uvarint(out, u64::from(first.series));
    put_varint(out, first.t);
    for s in samples {
        put_varint(out, i64::from(s.series) - i64::from(first.series));
        put_varint(out, s.t.wrapping_sub(first.t));
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
    }
}

/// Append a Metadata record's payload.
pub fn encode_metadata(out: &mut Vec<u8>, metadata: &[MetricMetadata]) {
    put_uvarint(out, metadata.len() as u64);
    for m in metadata {
        out.push(metric_type_code(m.kind));
        put_str(out, &m.metric_family_name);
        put_str(out, &m.help);
        put_str(out, &m.unit);
    }
}

fn metric_type_code(kind: MetricType) -> u8 {
    match kind {
        MetricType::Unknown => 0,
        MetricType::Counter => 1,
        MetricType::Gauge => 2,
        MetricType::Histogram => 3,
        MetricType::GaugeHistogram => 4,
        MetricType::Summary => 5,
        MetricType::Info => 6,
        MetricType::StateSet => 7,
    }
}

fn decode_record(kind: u8, payload: &[u8]) -> Option<WalRecord> {
    let mut r = ByteReader::new(payload);
    let count = usize::try_from(r.uvarint()?).ok()?;
    // Every entry takes at least one byte: a count beyond the payload is corruption.
    if count > payload.len() {
        return None;
    }
    let record = match kind {
        k if k == RecordType::Series as u8 => {
            let mut series = Vec::with_capacity(count);
            for _ in 0..count {
                let series_ref = u32::try_from(r.uvarint()?).ok()?;
                let n = usize::try_from(r.uvarint()?).ok()?;
                let mut pairs = Vec::with_capacity(n.min(payload.len()));
                for _ in 0..n {
                    pairs.push((r.str()?.to_string(), r.str()?.to_string()));
                }
                series.push((series_ref, Labels::from_pairs(pairs)));
            }
            WalRecord::Series(series)
        }
        k if k == RecordType::Samples as u8 => {
            let mut samples = Vec::with_capacity(count);
            if count > 0 {
                let base_ref = i64::try_from(r.uvarint()?).ok()?;
                let base_t = r.varint()?;
                for _ in 0..count {
                    let series = u32::try_from(base_ref.checked_add(r.varint()?)?).ok()?;
                    let t = base_t.wrapping_add(r.varint()?);
                    samples.push(RefSample { series, t, v: f64::from_bits(r.u64_le()?) });
                }
            }
            WalRecord::Samples(samples)
        }
        k if k == RecordType::Metadata as u8 => {
            let mut metadata = Vec::with_capacity(count);
            for _ in 0..count {
                let kind = MetricType::from_remote_write(i32::from(r.u8()?));
                metadata.push(MetricMetadata {
                    kind,
                    metric_family_name: r.str()?.to_string(),
                    help: r.str()?.to_string(),
                    unit: r.str()?.to_string(),
                });
            }
            WalRecord::Metadata(metadata)
        }
        _ => return None,
    };
    r.is_empty().then_some(record)
}

/// What replay found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub segments: usize,
    pub records: usize,
    /// Where the log was cut because of a torn or corrupt record, if anywhere.
    pub repaired: Option<String>,
}

/// The open write-ahead log.
pub struct Wal {
    dir: PathBuf,
    file: File,
    segment: u32,
    written: u64,
    max_segment_bytes: u64,
    dirty: bool,
    frame: Vec<u8>,
}

fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:08}"))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

/// Segment indexes present in `dir`, ascending.
pub fn segments(dir: &Path) -> Result<Vec<u32>, StorageError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        if let Some(index) = name.to_str().filter(|n| n.len() == 8).and_then(|n| n.parse::<u32>().ok()) {
            found.push(index);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// The newest checkpoint in `dir`: its index and path.
fn latest_checkpoint(dir: &Path) -> Result<Option<(u32, PathBuf)>, StorageError> {
    let mut newest = None;
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(index) = name.to_str().and_then(|n| n.strip_prefix("checkpoint.")).and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if newest.as_ref().is_none_or(|(i, _)| index > *i) {
            newest = Some((index, entry.path()));
        }
    }
    Ok(newest)
}

/// Replay the newest checkpoint, then every segment from its index on, in order, handing each
/// record to `visit`. Segments older than the checkpoint are deleted (a crash can leave them).
/// Torn or corrupt data ends the log (see the module doc); a corrupt checkpoint is an error.
pub fn replay(dir: &Path, mut visit: impl FnMut(WalRecord)) -> Result<ReplayReport, StorageError> {
    let mut report = ReplayReport::default();
    let mut first_segment = 0;
    if let Some((index, path)) = latest_checkpoint(dir)? {
        let data = fs::read(&path).map_err(io_error(&path))?;
        let (good_len, problem) = scan_segment(&data, |record| {
            report.records += 1;
            visit(record);
        });
        if let Some(problem) = problem {
            return Err(StorageError::Corrupt { path, detail: format!("WAL checkpoint at offset {good_len}: {problem}") });
        }
        first_segment = index;
    }
    let indexes = segments(dir)?;
    for &stale in indexes.iter().filter(|i| **i < first_segment) {
        let path = segment_path(dir, stale);
        fs::remove_file(&path).map_err(io_error(&path))?;
    }
    let indexes: Vec<u32> = indexes.into_iter().filter(|i| *i >= first_segment).collect();
    for (position, &index) in indexes.iter().enumerate() {
        let path = segment_path(dir, index);
        let data = fs::read(&path).map_err(io_error(&path))?;
        report.segments += 1;
        let (good_len, problem) = scan_segment(&data, |record| {
            report.records += 1;
            visit(record);
        });
        if let Some(problem) = problem {
            let message = format!("segment {} at offset {good_len}: {problem}", path.display());
            tracing::error!(%message, "WAL corruption; cutting the log there");
            let file = OpenOptions::new().write(true).open(&path).map_err(io_error(&path))?;
            file.set_len(good_len as u64).map_err(io_error(&path))?;
            file.sync_all().map_err(io_error(&path))?;
            for &later in &indexes[position + 1..] {
                let later_path = segment_path(dir, later);
                fs::remove_file(&later_path).map_err(io_error(&later_path))?;
            }
            report.repaired = Some(message);
            break;
        }
    }
    Ok(report)
}

/// A checkpoint being written: `checkpoint.<index>` — records in segment format standing for
/// everything logged before segment `index` — streamed to a temp file; [`CheckpointWriter::finish`]
/// makes it durable and visible atomically (fsync, rename, directory fsync), then deletes the
/// segments before `index` and older checkpoints.
pub struct CheckpointWriter {
    dir: PathBuf,
    index: u32,
    tmp: PathBuf,
    file: File,
    frame: Vec<u8>,
}

impl CheckpointWriter {
    pub fn begin(dir: &Path, index: u32) -> Result<CheckpointWriter, StorageError> {
        let tmp = dir.join(format!("checkpoint.{index:08}.tmp"));
        let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        header[..4].copy_from_slice(&SEGMENT_MAGIC);
        header[4] = SEGMENT_VERSION;
        file.write_all(&header).map_err(io_error(&tmp))?;
        Ok(CheckpointWriter { dir: dir.to_path_buf(), index, tmp, file, frame: Vec::new() })
    }

    pub fn record(&mut self, kind: RecordType, payload: &[u8]) -> Result<(), StorageError> {
        self.frame.clear();
        frame_record(&mut self.frame, kind, payload);
        self.file.write_all(&self.frame).map_err(io_error(&self.tmp))
    }

    pub fn finish(self) -> Result<(), StorageError> {
        let dir = &self.dir;
        let path = dir.join(format!("checkpoint.{:08}", self.index));
        self.file.sync_all().map_err(io_error(&self.tmp))?;
        fs::rename(&self.tmp, &path).map_err(io_error(&path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
        for old in segments(dir)?.into_iter().filter(|i| *i < self.index) {
            let old_path = segment_path(dir, old);
            fs::remove_file(&old_path).map_err(io_error(&old_path))?;
        }
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("checkpoint.") && entry.path() != path {
                fs::remove_file(entry.path()).map_err(io_error(&entry.path()))?;
            }
        }
        Ok(())
    }
}

fn frame_record(out: &mut Vec<u8>, kind: RecordType, payload: &[u8]) {
    let kind = kind as u8;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload);
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Scan one segment; returns the length of its valid prefix and the problem that ended it, if any.
fn scan_segment(data: &[u8], mut visit: impl FnMut(WalRecord)) -> (usize, Option<String>) {
    if data.len() < SEGMENT_HEADER_LEN {
        return (0, Some("segment header is truncated".into()));
    }
    if data[..4] != SEGMENT_MAGIC {
        return (0, Some("bad magic number".into()));
    }
    if data[4] != SEGMENT_VERSION {
        return (0, Some(format!("unsupported segment version {}", data[4])));
    }
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < data.len() {
        let Some(header) = data.get(pos..pos + RECORD_HEADER_LEN) else {
            return (pos, Some("torn record header".into()));
        };
        let kind = header[0];
        let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let crc = u32::from_le_bytes([header[5], header[6], header[7], header[8]]);
        if len > MAX_RECORD_LEN {
            return (pos, Some(format!("record length {len} is implausible")));
        }
        let start = pos + RECORD_HEADER_LEN;
        let Some(payload) = data.get(start..start + len) else {
            return (pos, Some("torn record".into()));
        };
        if crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload) != crc {
            return (pos, Some("checksum mismatch".into()));
        }
        let Some(record) = decode_record(kind, payload) else {
            return (pos, Some(format!("undecodable record of type {kind}")));
        };
        visit(record);
        pos = start + len;
    }
    (pos, None)
}

impl Wal {
    /// Open `dir` for appending: a new segment after the existing ones (replay them first).
    pub fn open(dir: &Path, max_segment_bytes: u64) -> Result<Wal, StorageError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let next = segments(dir)?.last().map_or(0, |last| last + 1);
        let (file, written) = create_segment(dir, next)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            file,
            segment: next,
            written,
            max_segment_bytes: max_segment_bytes.max(1 << 16),
            dirty: false,
            frame: Vec::new(),
        })
    }

    /// Write records (type, payload) with one `write` call, so the batch is in the page cache —
    /// and survives the process dying — when this returns.
    pub fn log(&mut self, records: &[(RecordType, &[u8])]) -> Result<(), StorageError> {
        self.frame.clear();
        for (kind, payload) in records {
            frame_record(&mut self.frame, *kind, payload);
        }
        if self.written + self.frame.len() as u64 > self.max_segment_bytes && self.written > SEGMENT_HEADER_LEN as u64 {
            self.cut()?;
        }
        let path = segment_path(&self.dir, self.segment);
        self.file.write_all(&self.frame).map_err(io_error(&path))?;
        self.written += self.frame.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// fsync the current segment if anything was written since the last sync.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        if self.dirty {
            let path = segment_path(&self.dir, self.segment);
            self.file.sync_data().map_err(io_error(&path))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Close the current segment (synced) and start the next; returns the new segment's index.
    pub fn cut(&mut self) -> Result<u32, StorageError> {
        self.sync()?;
        let next = self.segment + 1;
        let (file, written) = create_segment(&self.dir, next)?;
        self.file = file;
        self.segment = next;
        self.written = written;
        Ok(next)
    }

}

fn create_segment(dir: &Path, index: u32) -> Result<(File, u64), StorageError> {
    let path = segment_path(dir, index);
    let mut file = OpenOptions::new().create_new(true).append(true).open(&path).map_err(io_error(&path))?;
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4] = SEGMENT_VERSION;
    file.write_all(&header).map_err(io_error(&path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
    Ok((file, SEGMENT_HEADER_LEN as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::model::STALE_NAN_BITS;

    fn labels(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name), ("job", "j")])
    }

    fn write_sample_log(dir: &Path) -> Vec<RefSample> {
        let mut wal = Wal::open(dir, 1 << 20).unwrap();
        let mut buf = Vec::new();
        let l0 = labels("a");
        encode_series(&mut buf, [(0u32, &l0)].into_iter());
        let samples = vec![
            RefSample { series: 0, t: 1000, v: 1.5 },
            RefSample { series: 0, t: 2000, v: f64::from_bits(STALE_NAN_BITS) },
            RefSample { series: 7, t: -5, v: f64::NEG_INFINITY },
        ];
        let mut sbuf = Vec::new();
        encode_samples(&mut sbuf, &samples);
        let mut mbuf = Vec::new();
        let meta = MetricMetadata { metric_family_name: "a".into(), kind: MetricType::Counter, help: "h".into(), unit: "".into() };
        encode_metadata(&mut mbuf, std::slice::from_ref(&meta));
        wal.log(&[(RecordType::Series, &buf), (RecordType::Samples, &sbuf), (RecordType::Metadata, &mbuf)]).unwrap();
        wal.sync().unwrap();
        samples
    }

    fn replay_all(dir: &Path) -> (Vec<WalRecord>, ReplayReport) {
        let mut records = Vec::new();
        let report = replay(dir, |r| records.push(r)).unwrap();
        (records, report)
    }

    #[test]
    fn records_round_trip_bit_exact() {
        let tmp = tempfile::tempdir().unwrap();
        let samples = write_sample_log(tmp.path());
        let (records, report) = replay_all(tmp.path());
        assert_eq!(report.records, 3);
        assert_eq!(report.repaired, None);
        assert_eq!(records[0], WalRecord::Series(vec![(0, labels("a"))]));
        let WalRecord::Samples(got) = &records[1] else { panic!() };
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].v.to_bits(), STALE_NAN_BITS);
        assert_eq!((got[2].series, got[2].t), (samples[2].series, samples[2].t));
        assert!(matches!(&records[2], WalRecord::Metadata(m) if m[0].kind == MetricType::Counter));
    }

    #[test]
    fn a_torn_tail_is_cut_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        write_sample_log(tmp.path());
        let seg = segment_path(tmp.path(), 0);
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
        let (records, report) = replay_all(tmp.path());
        assert_eq!(records.len(), 2, "the torn metadata record is dropped, the rest kept");
        assert!(report.repaired.unwrap().contains("torn record"));
        // The repair is durable: a second replay is clean.
        assert_eq!(replay_all(tmp.path()).1.repaired, None);
    }

    #[test]
    fn a_flipped_bit_is_detected_and_later_segments_removed() {
        let tmp = tempfile::tempdir().unwrap();
        write_sample_log(tmp.path());
        write_sample_log(tmp.path()); // a second segment
        assert_eq!(segments(tmp.path()).unwrap(), vec![0, 1]);
        let seg = segment_path(tmp.path(), 0);
        let mut data = fs::read(&seg).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0x40;
        fs::write(&seg, data).unwrap();
        let (records, report) = replay_all(tmp.path());
        assert_eq!(records.len(), 2);
        assert!(report.repaired.unwrap().contains("checksum mismatch"));
        assert_eq!(segments(tmp.path()).unwrap(), vec![0]);
    }

    #[test]
    fn a_bad_magic_is_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(segment_path(tmp.path(), 0), b"NOTAWAL!garbage").unwrap();
        let (records, report) = replay_all(tmp.path());
        assert!(records.is_empty());
        assert!(report.repaired.unwrap().contains("bad magic"));
    }

    #[test]
    fn segments_roll_over_and_a_checkpoint_replaces_older_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(tmp.path(), 1 << 16).unwrap();
        let meta = |name: &str| {
            let mut buf = Vec::new();
            let m = MetricMetadata { metric_family_name: name.into(), ..MetricMetadata::default() };
            encode_metadata(&mut buf, &[m]);
            buf
        };
        let big = meta(&"x".repeat(40_000));
        for _ in 0..4 {
            wal.log(&[(RecordType::Metadata, &big)]).unwrap();
        }
        let segs = segments(tmp.path()).unwrap();
        assert!(segs.len() >= 3, "{segs:?}");
        let next = wal.cut().unwrap();
        wal.log(&[(RecordType::Metadata, &meta("after"))]).unwrap();
        let mut checkpoint = CheckpointWriter::begin(tmp.path(), next).unwrap();
        checkpoint.record(RecordType::Metadata, &meta("checkpointed")).unwrap();
        checkpoint.finish().unwrap();
        assert_eq!(segments(tmp.path()).unwrap(), vec![next]);
        let (records, report) = replay_all(tmp.path());
        let names: Vec<String> = records
            .into_iter()
            .map(|r| match r {
                WalRecord::Metadata(m) => m[0].metric_family_name.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, vec!["checkpointed", "after"], "checkpoint first, then newer segments");
        assert_eq!(report.segments, 1);
    }

    #[test]
    fn decoding_garbage_never_panics() {
        let mut state = 0x1234_5678_u64;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            for kind in 1..=3 {
                let _ = decode_record(kind, &bytes);
            }
        }
    }
}

// Pharos — storage/src/tsdb/wal.rs
