//! `logs.meta`: the small durable state of the store that lives outside tantivy and the WAL, today
//! the list of dropped partitions.
//!
//! When retention drops a partition, its records may still be in the WAL (other partitions may not
//! have committed past them yet). Replaying them after a restart would bring the partition back.
//! So before the directory is removed, the drop is recorded here with the WAL end at that moment
//! (`drop_lsn`): on replay a record for that partition is skipped if its LSN is below `drop_lsn`
//! (it belonged to the dropped data); records after it belong to a partition created anew.
//! An entry is forgotten once the oldest WAL segment starts at or after its `drop_lsn`.
//!
//! ```text
//! file  := "PHLM" version:u8(=1) reserved:[u8;3](=0) count:u32le entry*count crc:u32le
//! entry := partition_start_secs:i64le drop_lsn:u64le
//! crc   =  crc32c of every byte before it
//! ```
//!
//! The file is replaced atomically: written to `logs.meta.tmp`, fsynced, renamed, directory fsynced.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::logs::error::LogError;

const MAGIC: &[u8; 4] = b"PHLM";
const VERSION: u8 = 1;
pub(crate) const META_FILE: &str = "logs.meta";

/// Dropped partitions: partition start (seconds) → WAL end when it was dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct StoreMeta {
    pub dropped: BTreeMap<i64, u64>,
}

impl StoreMeta {
    /// Reads `dir/logs.meta`; a missing file is an empty meta (a new store).
    pub fn load(dir: &Path) -> Result<StoreMeta, LogError> {
        let path = dir.join(META_FILE);
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreMeta::default()),
            Err(e) => return Err(LogError::io(format!("reading {}", path.display()), e)),
        };
        Self::decode(&data).map_err(|reason| LogError::MetaCorrupt { path, reason })
    }

    fn decode(data: &[u8]) -> Result<StoreMeta, String> {
        if data.len() < 16 {
            return Err(format!("{} bytes is too short", data.len()));
        }
        if &data[0..4] != MAGIC {
            return Err("bad magic".into());
        }
        if data[4] != VERSION {
            return Err(format!("unsupported version {}", data[4]));
        }
        let count = u32::from_le_bytes(data[8..12].try_into().unwrap()) as usize;
        if data.len() != 12 + count * 16 + 4 {
            return Err(format!("{} bytes do not hold {count} entries", data.len()));
        }
        let body = &data[..data.len() - 4];
        let crc = u32::from_le_bytes(data[data.len() - 4..].try_into().unwrap());
        if crc32c::crc32c(body) != crc {
            return Err("checksum mismatch".into());
        }
        let dropped = body[12..]
            .chunks_exact(16)
            .map(|e| {
                (i64::from_le_bytes(e[0..8].try_into().unwrap()), u64::from_le_bytes(e[8..16].try_into().unwrap()))
            })
            .collect();
        Ok(StoreMeta { dropped })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.dropped.len() * 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        out.extend_from_slice(&(self.dropped.len() as u32).to_le_bytes());
        for (start, lsn) in &self.dropped {
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&lsn.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Writes the file atomically and durably.
    pub fn store(&self, dir: &Path) -> Result<(), LogError> {
        let path = dir.join(META_FILE);
        let tmp: PathBuf = dir.join(format!("{META_FILE}.tmp"));
        let ctx = |what: &str| format!("{what} {}", tmp.display());
        let mut file = std::fs::File::create(&tmp).map_err(|e| LogError::io(ctx("creating"), e))?;
        file.write_all(&self.encode()).map_err(|e| LogError::io(ctx("writing"), e))?;
        file.sync_all().map_err(|e| LogError::io(ctx("syncing"), e))?;
        drop(file);
        std::fs::rename(&tmp, &path)
            .map_err(|e| LogError::io(format!("renaming {} to {}", tmp.display(), path.display()), e))?;
        crate::logs::wal::sync_dir(dir)
    }

    /// Whether a WAL record at `lsn` for the partition starting at `start` belongs to dropped data.
    pub fn is_dropped(&self, start: i64, lsn: u64) -> bool {
        self.dropped.get(&start).is_some_and(|&drop_lsn| lsn < drop_lsn)
    }

    /// Forgets drops that no WAL record can refer to any more.
    pub fn prune(&mut self, oldest_wal_lsn: u64) -> bool {
        let before = self.dropped.len();
        self.dropped.retain(|_, drop_lsn| *drop_lsn > oldest_wal_lsn);
        self.dropped.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(StoreMeta::load(dir.path()).unwrap(), StoreMeta::default());
        let mut meta = StoreMeta::default();
        meta.dropped.insert(-86_400, 42);
        meta.dropped.insert(1_700_000_000, 7);
        meta.store(dir.path()).unwrap();
        assert_eq!(StoreMeta::load(dir.path()).unwrap(), meta);
        assert!(meta.is_dropped(-86_400, 41));
        assert!(!meta.is_dropped(-86_400, 42));
        let path = dir.path().join(META_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[14] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = StoreMeta::load(dir.path()).unwrap_err();
        assert!(matches!(err, LogError::MetaCorrupt { .. }), "{err}");
        assert!(meta.prune(10));
        assert_eq!(meta.dropped.len(), 1);
    }
}

// Pharos — storage/src/logs/meta.rs
