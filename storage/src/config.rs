//! The `storage:` section of the configuration file.

use std::path::PathBuf;

use serde::Deserialize;

/// Where and how Pharos keeps its data.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Directory holding every store; created if missing. Default: `./data`.
    pub data_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { data_dir: PathBuf::from("./data") }
    }
}

// Pharos — storage/src/config.rs
