//! Pharos storage: everything that lives in the data directory.
//!
//! - [`DataDir`]: the directory itself, held under an exclusive lock so two Pharos processes never
//!   write one data set.
//! - [`Storage`]: the handle the servers share; it opens the stores (the metrics [`tsdb`], the
//!   [`logs`] store, the [`traces`] store) and flushes them on shutdown.
//!
//! Invariants: storage never sees HTTP or protobuf — receivers translate wire formats into the types
//! here and query code reads through the interfaces here. Every file format of Pharos' own carries a
//! magic number, a version and a checksum (see `docs/format/`).

mod config;
mod data_dir;
mod error;
pub mod logs;
pub mod traces;
pub mod tsdb;

use std::sync::Arc;

use logs::LogStore;
use traces::TraceStore;
use tsdb::Tsdb;

pub use config::StorageOptions;
pub use data_dir::DataDir;
pub use error::StorageError;

/// The stores of one data directory.
pub struct Storage {
    data_dir: DataDir,
    tsdb: Arc<Tsdb>,
    logs: Arc<LogStore>,
    traces: Arc<TraceStore>,
}

impl Storage {
    /// Lock the data directory and open every store in it.
    pub fn open(options: &StorageOptions) -> Result<Storage, StorageError> {
        let data_dir = DataDir::open(&options.data_dir)?;
        tracing::info!(path = %data_dir.path().display(), "data directory opened");
        let tsdb = Tsdb::open(&data_dir.store_dir("metrics")?, options.tsdb.clone())?;
        let logs = Arc::new(LogStore::open(&data_dir.store_dir("logs")?, options.logs.clone())?);
        let traces = Arc::new(TraceStore::open(&data_dir.store_dir("traces")?, options.traces.clone())?);
        Ok(Storage { data_dir, tsdb, logs, traces })
    }

    /// The metrics store.
    pub fn tsdb(&self) -> &Arc<Tsdb> {
        &self.tsdb
    }

    /// The log store.
    pub fn logs(&self) -> &Arc<LogStore> {
        &self.logs
    }

    /// The trace store.
    pub fn traces(&self) -> &Arc<TraceStore> {
        &self.traces
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// Make everything acknowledged so far durable. Called on shutdown and by the fsync policy.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.tsdb.flush()?;
        self.logs.flush()?;
        self.traces.flush()?;
        self.data_dir.sync()
    }
}

// Pharos — storage/src/lib.rs
