//! Closed head chunks on disk: once a head chunk is full it is appended to a chunk file and read
//! back through `mmap`, so the head's resident memory holds only each series' open chunk and a
//! 12-byte reference per closed one. Format: docs/format/head-chunks.md.
//!
//! These files are a cache of what the WAL already holds: on start-up they are deleted and the WAL
//! replay rebuilds them. Files whose chunks all precede the head start are deleted after a cut.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use memmap2::Mmap;

use crate::StorageError;

/// First bytes of every chunk file.
pub const HEAD_CHUNKS_MAGIC: [u8; 4] = *b"PHHC";
/// Chunk file format version.
pub const HEAD_CHUNKS_VERSION: u8 = 1;
const HEADER_LEN: u64 = 8;
/// Per chunk: u32 length, u32 CRC32C, then the chunk bytes.
const RECORD_HEADER_LEN: u64 = 8;
/// Each file is created sparse at this size and mapped whole.
const FILE_BYTES: u64 = 64 << 20;

/// Where a closed chunk lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkRef {
    file: u32,
    offset: u32,
    len: u32,
}

struct ChunkFile {
    index: u32,
    path: PathBuf,
    file: File,
    map: Mmap,
    /// Newest sample in any chunk of the file.
    max_t: AtomicI64,
}

struct Writer {
    current: Option<Arc<ChunkFile>>,
    written: u64,
    next_index: u32,
}

/// The chunk files of the head.
pub(crate) struct HeadChunks {
    dir: PathBuf,
    files: RwLock<Vec<Arc<ChunkFile>>>,
    writer: Mutex<Writer>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

impl HeadChunks {
    /// Use `dir` for chunk files, deleting what a previous run left (the WAL rebuilds it).
    pub(crate) fn open(dir: &Path) -> Result<HeadChunks, StorageError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(HeadChunks {
            dir: dir.to_path_buf(),
            files: RwLock::new(Vec::new()),
            writer: Mutex::new(Writer { current: None, written: 0, next_index: 0 }),
        })
    }

    /// Append a closed chunk whose newest sample is `max_t`.
    pub(crate) fn write(&self, bytes: &[u8], max_t: i64) -> Result<ChunkRef, StorageError> {
        let mut writer = self.writer.lock().expect("head chunks writer lock");
        let needed = RECORD_HEADER_LEN + bytes.len() as u64;
        if writer.current.is_none() || writer.written + needed > FILE_BYTES {
            let file = self.create_file(writer.next_index)?;
            writer.next_index += 1;
            writer.written = HEADER_LEN;
            self.files.write().expect("head chunks lock").push(file.clone());
            writer.current = Some(file);
        }
        let file = writer.current.clone().expect("a current file exists");
        let offset = writer.written;
        let mut record = Vec::with_capacity(needed as usize);
        record.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32c::crc32c(bytes).to_le_bytes());
        record.extend_from_slice(bytes);
        file.file.write_all_at(&record, offset).map_err(io(&file.path))?;
        writer.written += needed;
        file.max_t.fetch_max(max_t, Ordering::AcqRel);
        Ok(ChunkRef { file: file.index, offset: offset as u32, len: bytes.len() as u32 })
    }

    fn create_file(&self, index: u32) -> Result<Arc<ChunkFile>, StorageError> {
        let path = self.dir.join(format!("{index:08}"));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(io(&path))?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[..4].copy_from_slice(&HEAD_CHUNKS_MAGIC);
        header[4] = HEAD_CHUNKS_VERSION;
        file.write_all_at(&header, 0).map_err(io(&path))?;
        file.set_len(FILE_BYTES).map_err(io(&path))?;
        // SAFETY: the file is ours alone (the data directory is locked) and only ever appended to
        // at offsets no reader has been given yet; readers stay within written records.
        let map = unsafe { Mmap::map(&file) }.map_err(io(&path))?;
        Ok(Arc::new(ChunkFile { index, path, file, map, max_t: AtomicI64::new(i64::MIN) }))
    }

    /// The bytes of a chunk, checksum verified.
    pub(crate) fn read(&self, at: ChunkRef) -> Result<Vec<u8>, StorageError> {
        let files = self.files.read().expect("head chunks lock");
        let Some(file) = files.iter().find(|f| f.index == at.file) else {
            return Err(StorageError::Corrupt { path: self.dir.clone(), detail: format!("head chunk file {} is gone", at.file) });
        };
        let corrupt = |detail: &str| StorageError::Corrupt { path: file.path.clone(), detail: format!("head chunk at {}: {detail}", at.offset) };
        let start = at.offset as usize;
        let header = file.map.get(start..start + RECORD_HEADER_LEN as usize).ok_or_else(|| corrupt("out of range"))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len != at.len {
            return Err(corrupt("length mismatch"));
        }
        let body_start = start + RECORD_HEADER_LEN as usize;
        let body = file.map.get(body_start..body_start + len as usize).ok_or_else(|| corrupt("out of range"))?;
        if crc32c::crc32c(body) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        Ok(body.to_vec())
    }

    /// Delete the files whose chunks all end before `t` (never the one being written).
    pub(crate) fn truncate_before(&self, t: i64) {
        let current = self.writer.lock().expect("head chunks writer lock").current.as_ref().map(|f| f.index);
        let mut files = self.files.write().expect("head chunks lock");
        files.retain(|f| {
            let keep = f.max_t.load(Ordering::Acquire) >= t || Some(f.index) == current;
            if !keep {
                if let Err(e) = fs::remove_file(&f.path) {
                    tracing::warn!(path = %f.path.display(), error = %e, "cannot delete a head chunk file");
                }
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_old_files_go() {
        let tmp = tempfile::tempdir().unwrap();
        let chunks = HeadChunks::open(tmp.path()).unwrap();
        let a = chunks.write(b"first chunk", 100).unwrap();
        let b = chunks.write(&vec![7u8; 1000], 200).unwrap();
        assert_eq!(chunks.read(a).unwrap(), b"first chunk");
        assert_eq!(chunks.read(b).unwrap(), vec![7u8; 1000]);
        // Fill past one file: the first file's chunks all end by t=170.
        let big = vec![1u8; 1 << 20];
        for i in 0..70 {
            chunks.write(&big, 100 + i).unwrap();
        }
        let last = chunks.write(b"newest", 1000).unwrap();
        assert!(chunks.files.read().unwrap().len() >= 2);
        chunks.truncate_before(500);
        assert!(chunks.read(a).is_err(), "the first file is gone");
        assert_eq!(chunks.files.read().unwrap().len(), 1, "the file being written stays");
        assert_eq!(chunks.read(last).unwrap(), b"newest");
    }

    #[test]
    fn a_flipped_byte_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let chunks = HeadChunks::open(tmp.path()).unwrap();
        let at = chunks.write(b"payload", 1).unwrap();
        let path = tmp.path().join("00000000");
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"X", HEADER_LEN + RECORD_HEADER_LEN + 2).unwrap();
        assert!(matches!(chunks.read(at), Err(StorageError::Corrupt { .. })));
    }

    #[test]
    fn leftovers_are_removed_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("00000003"), b"old").unwrap();
        HeadChunks::open(tmp.path()).unwrap();
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}

// Pharos — storage/src/tsdb/head_chunks.rs
