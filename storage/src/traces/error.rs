//! The trace store's error type: one enum for every failure of the module, each naming what
//! failed (directory, bucket, key) so that an operator can act on the message alone.

use std::path::PathBuf;

/// Everything that can go wrong in the trace store.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// RocksDB failed (opening, writing, reading, creating or dropping a bucket).
    #[error("trace store {path}: {operation}: {source}")]
    RocksDb {
        path: PathBuf,
        operation: String,
        #[source]
        source: rocksdb::Error,
    },
    /// A stored value or key is not what the store writes: it is reported, never served.
    #[error("corrupted trace store data in bucket {bucket}, key {key}: {detail}")]
    Corrupt {
        /// The bucket's date (`YYYY-MM-DD`), or `-` outside buckets.
        bucket: String,
        /// The key, in lowercase hex.
        key: String,
        detail: String,
    },
    /// The directory holds a trace store of another format version, or something else.
    #[error("trace store {path} has an unsupported format: {detail}")]
    UnsupportedFormat { path: PathBuf, detail: String },
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl TraceError {
    pub(crate) fn corrupt(bucket: impl Into<String>, key: &[u8], detail: impl Into<String>) -> TraceError {
        TraceError::Corrupt { bucket: bucket.into(), key: super::keys::key_hex(key), detail: detail.into() }
    }
}

// Pharos — storage/src/traces/error.rs
