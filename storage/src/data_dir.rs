//! The data directory and its lock.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::StorageError;

/// Name of the lock file at the top of the data directory. It holds the pid of the owner.
pub const LOCK_FILE: &str = "LOCK";

/// An open data directory. While this value lives, the process holds an exclusive advisory lock
/// (`flock`) on `<dir>/LOCK`; the lock dies with the process, so a `kill -9` never leaves a stale lock.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Create `path` if needed, check that it is writable and take its lock.
    pub fn open(path: &Path) -> Result<DataDir, StorageError> {
        let unusable = |source| StorageError::DataDir { path: path.to_path_buf(), source };
        fs::create_dir_all(path).map_err(unusable)?;
        let path = fs::canonicalize(path).map_err(unusable)?;
        let lock_path = path.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(unusable)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = Some(holder.trim().to_string()).filter(|h| !h.is_empty());
                return Err(StorageError::Locked { path, lock: lock_path, holder });
            }
            Err(TryLockError::Error(source)) => return Err(StorageError::DataDir { path, source }),
        }
        let io = |source| StorageError::Io { path: lock_path.clone(), source };
        lock.set_len(0).map_err(io)?;
        lock.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(DataDir { path, _lock: lock })
    }

    /// The absolute path of the directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-directory for one store, created if needed.
    pub fn store_dir(&self, name: &str) -> Result<PathBuf, StorageError> {
        let dir = self.path.join(name);
        fs::create_dir_all(&dir).map_err(|source| StorageError::Io { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// fsync the directory itself, so entries created in it survive power loss.
    pub fn sync(&self) -> Result<(), StorageError> {
        File::open(&self.path)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| StorageError::Io { path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_of_a_locked_dir_names_the_lock_and_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let first = DataDir::open(tmp.path()).unwrap();
        let err = DataDir::open(tmp.path()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
        assert!(message.contains("LOCK"), "{message}");
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        drop(first);
        DataDir::open(tmp.path()).expect("the lock is released on drop");
    }

    #[test]
    fn a_data_dir_under_a_file_is_reported_not_panicked() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        let err = DataDir::open(&file.join("data")).unwrap_err();
        assert!(matches!(err, StorageError::DataDir { .. }), "{err:?}");
        assert!(err.to_string().contains("plain-file/data"), "{err}");
    }

    #[test]
    fn store_dirs_are_created_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(&tmp.path().join("nested/data")).unwrap();
        let wal = dir.store_dir("wal").unwrap();
        assert!(wal.is_dir());
        assert!(wal.starts_with(dir.path()));
        dir.sync().unwrap();
    }
}

// Pharos — storage/src/data_dir.rs
