//! The log store's error type: one enum for every failure of the module, each naming what failed
//! (file, offset, partition) so that an operator can act on the message alone.

use std::path::PathBuf;

/// Everything that can go wrong in the log store.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// tantivy failed (opening, indexing, committing, reloading a partition).
    #[error("{context}: {source}")]
    Tantivy {
        context: String,
        #[source]
        source: tantivy::TantivyError,
    },
    /// A WAL segment holds bytes that are not a valid frame where one is expected, and it is not a
    /// torn tail (the damage is followed by valid data, or the segment is not the last one).
    #[error("corrupted WAL segment {path}: {reason} at offset {offset}")]
    WalCorrupt { path: PathBuf, offset: u64, reason: String },
    /// `logs.meta` is unreadable (bad magic, version, length or checksum).
    #[error("corrupted log store metadata {path}: {reason}")]
    MetaCorrupt { path: PathBuf, reason: String },
    /// A partition directory or its commit payload is not what the store writes.
    #[error("invalid log partition {path}: {reason}")]
    Partition { path: PathBuf, reason: String },
    /// A record is too large for one WAL frame.
    #[error("log record of {size} bytes exceeds the limit of {limit} bytes")]
    RecordTooLarge { size: usize, limit: usize },
    /// `LogStoreOptions` that cannot work.
    #[error("invalid log store options: {0}")]
    InvalidOptions(String),
    /// An earlier failure left the WAL or a partition in a state where accepting more data would
    /// break the durability guarantee; reopening the store recovers from the WAL.
    #[error("log store unusable until reopened: {0}")]
    Poisoned(String),
}

impl LogError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> LogError {
        LogError::Io { context: context.into(), source }
    }

    pub(crate) fn tantivy(context: impl Into<String>, source: tantivy::TantivyError) -> LogError {
        LogError::Tantivy { context: context.into(), source }
    }
}

// Pharos — storage/src/logs/error.rs
