//! Pharos storage: everything that lives in the data directory.
//!
//! - [`DataDir`]: the directory itself, held under an exclusive lock so two Pharos processes never
//!   write one data set.
//! - [`Storage`]: the handle the servers share; it opens the stores (metrics tsdb, logs, traces as
//!   they are built) and flushes them on shutdown.
//!
//! Invariants: storage never sees HTTP or protobuf — receivers translate wire formats into the types
//! here and query code reads through the interfaces here. Every file format of Pharos' own carries a
//! magic number, a version and a checksum (see `docs/format/`).

mod config;
mod data_dir;
mod error;

pub use config::StorageConfig;
pub use data_dir::DataDir;
pub use error::StorageError;

/// The stores of one data directory.
#[derive(Debug)]
pub struct Storage {
    data_dir: DataDir,
}

impl Storage {
    /// Lock the data directory and open every store in it.
    pub fn open(config: &StorageConfig) -> Result<Storage, StorageError> {
        let data_dir = DataDir::open(&config.data_dir)?;
        tracing::info!(path = %data_dir.path().display(), "data directory opened");
        Ok(Storage { data_dir })
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// Make everything acknowledged so far durable. Called on shutdown and by the fsync policy.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.data_dir.sync()
    }
}

// Pharos — storage/src/lib.rs
