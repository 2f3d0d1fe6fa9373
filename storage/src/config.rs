//! What the storage layer is told at start-up. The YAML schema lives in the binary
//! (`src/config.rs`), which converts its `storage:` section into these plain options.

use std::path::PathBuf;

use crate::logs::LogStoreOptions;
use crate::traces::TraceStoreOptions;
use crate::tsdb::TsdbOptions;

#[derive(Clone, Debug, PartialEq)]
pub struct StorageOptions {
    /// Directory holding every store; created if missing.
    pub data_dir: PathBuf,
    /// The metrics store.
    pub tsdb: TsdbOptions,
    /// The log store.
    pub logs: LogStoreOptions,
    /// The trace store.
    pub traces: TraceStoreOptions,
}

impl StorageOptions {
    /// Defaults for a data directory (tests and tools).
    pub fn in_dir(data_dir: impl Into<PathBuf>) -> Self {
        StorageOptions {
            data_dir: data_dir.into(),
            tsdb: TsdbOptions::default(),
            logs: LogStoreOptions::default(),
            traces: TraceStoreOptions::default(),
        }
    }
}

// Pharos — storage/src/config.rs
