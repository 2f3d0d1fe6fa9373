//! The storage layer's error type.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Another process holds the data directory's lock.
    #[error(
        "data directory {} is in use by another Pharos process{}: cannot lock {}",
        path.display(),
        holder.as_ref().map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        lock.display()
    )]
    Locked { path: PathBuf, lock: PathBuf, holder: Option<String> },

    /// The data directory cannot be created or written.
    #[error("data directory {} is not usable: {source}", path.display())]
    DataDir { path: PathBuf, source: io::Error },

    /// Any other I/O failure, with the file it concerned.
    #[error("I/O error on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    /// A file of Pharos' own format failed verification (checksum, structure, truncation).
    #[error("corrupt block {}: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    /// The log store failed to open, write or flush.
    #[error("log store: {0}")]
    Logs(#[from] crate::logs::LogError),

    /// The trace store failed to open, write or flush.
    #[error("trace store: {0}")]
    Traces(#[from] crate::traces::TraceError),
}

// Pharos — storage/src/error.rs
