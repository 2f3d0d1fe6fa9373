//! Where the log APIs (Loki, Elasticsearch search) read from: the partitions of the log store that
//! overlap a time range, each with the searcher of its last commit.

use std::collections::BTreeSet;

use pharos_storage::logs::{LogStore, PartitionSnapshot};

/// The log partitions a query may read.
pub trait LogSnapshots: Send + Sync {
    /// The partitions whose time bounds overlap `[min_nanos, max_nanos]`, newest first.
    fn snapshot(&self, min_nanos: i64, max_nanos: i64) -> Vec<PartitionSnapshot>;

    /// Index names written but perhaps not yet searchable (an index exists from its first write).
    fn written_indexes(&self) -> BTreeSet<String> {
        BTreeSet::new()
    }
}

impl LogSnapshots for LogStore {
    fn snapshot(&self, min_nanos: i64, max_nanos: i64) -> Vec<PartitionSnapshot> {
        LogStore::snapshot(self, min_nanos, max_nanos)
    }

    fn written_indexes(&self) -> BTreeSet<String> {
        LogStore::written_indexes(self)
    }
}

/// A fixed list of partitions (tests, tools): the overlapping ones in list order.
impl LogSnapshots for Vec<PartitionSnapshot> {
    fn snapshot(&self, min_nanos: i64, max_nanos: i64) -> Vec<PartitionSnapshot> {
        self.iter().filter(|p| p.max_nanos >= min_nanos && p.min_nanos <= max_nanos).cloned().collect()
    }
}

// Pharos — query/src/log_source.rs
