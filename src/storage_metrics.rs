//! Gauges of the stores' sizes on `/metrics`, read from storage at scrape time.

use std::sync::Arc;

use pharos_proto::exposition::{Collector, TextEncoder};
use pharos_storage::Storage;

pub struct StorageCollector(pub Arc<Storage>);

impl Collector for StorageCollector {
    fn collect(&self, out: &mut TextEncoder) {
        let stats = self.0.tsdb().stats();
        let gauges = [
            ("pharos_tsdb_head_series", "Series in the in-memory head.", stats.head_series as f64),
            ("pharos_tsdb_head_memory_bytes", "Bytes held by the head's series, chunks, symbols and postings (estimate).", stats.head_memory_bytes as f64),
            ("pharos_tsdb_blocks", "Immutable blocks on disk.", stats.blocks as f64),
            ("pharos_tsdb_block_bytes", "Bytes of the immutable blocks on disk.", stats.block_bytes as f64),
            ("pharos_tsdb_block_samples", "Samples in the immutable blocks on disk.", stats.block_samples as f64),
        ];
        for (name, help, value) in gauges {
            out.family(name, help, "gauge");
            out.sample(name, &[], value);
        }
    }
}

// Pharos — src/storage_metrics.rs
