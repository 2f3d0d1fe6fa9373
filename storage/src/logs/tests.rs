//! Tests of the log store on real files: search after refresh and by time, background refresh,
//! crash recovery (in-process and with a real aborted process), WAL damage, retention, WAL
//! cleanup, writer limits, concurrency.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tantivy::Term;
use tantivy::collector::Count;
use tantivy::query::{AllQuery, TermQuery};
use tantivy::schema::IndexRecordOption;

use crate::logs::{LogError, LogRecord, LogStore, LogStoreOptions};

const DAY: i64 = 86_400_000_000_000;
/// 2024-01-01T00:00:00Z.
const BASE: i64 = 1_704_067_200_000_000_000;

fn record(index: &str, timestamp_nanos: i64, i: usize) -> LogRecord {
    let source = format!(
        r#"{{"@timestamp":{timestamp_nanos},"message":"request {i} done","level":"info","service":{{"name":"api"}},"http":{{"status":200,"path":"/x/{i}"}}}}"#
    );
    let doc = serde_json::from_str(&source).unwrap();
    LogRecord {
        index: index.to_string(),
        timestamp_nanos,
        labels: vec![("index".into(), index.into()), ("service_name".into(), "api".into())],
        source,
        doc,
    }
}

fn batch(index: &str, timestamp_nanos: i64, n: usize) -> Vec<LogRecord> {
    (0..n).map(|i| record(index, timestamp_nanos + i as i64, i)).collect()
}

/// Manual commits only, no background maintenance during the test.
fn manual() -> LogStoreOptions {
    LogStoreOptions {
        refresh_interval: Duration::ZERO,
        maintenance_interval: Duration::from_secs(3600),
        retention: Duration::ZERO,
        writer_memory_bytes: 16 << 20,
        fsync: false,
        ..LogStoreOptions::default()
    }
}

fn count(store: &LogStore, min: i64, max: i64) -> usize {
    store.snapshot(min, max).iter().map(|s| s.searcher.search(&AllQuery, &Count).unwrap()).sum()
}

fn count_all(store: &LogStore) -> usize {
    count(store, i64::MIN, i64::MAX)
}

fn count_index(store: &LogStore, index: &str) -> usize {
    let query = TermQuery::new(Term::from_field_text(store.schema().index, index), IndexRecordOption::Basic);
    store.snapshot(i64::MIN, i64::MAX).iter().map(|s| s.searcher.search(&query, &Count).unwrap()).sum()
}

/// Documents per partition start (seconds), newest first.
fn per_partition(store: &LogStore) -> Vec<(i64, usize)> {
    store
        .snapshot(i64::MIN, i64::MAX)
        .iter()
        .map(|s| (s.min_nanos / 1_000_000_000, s.searcher.search(&AllQuery, &Count).unwrap()))
        .collect()
}

fn wal_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

#[test]
fn append_refresh_search_and_time_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    store.append(batch("app-a", BASE + 1000, 10)).unwrap();
    store.append(batch("app-b", BASE + DAY + 5, 20)).unwrap();
    let mut mixed = batch("app-a", BASE + 2 * DAY, 15);
    mixed.extend(batch("app-b", BASE + 2 * DAY + 3_600_000_000_000, 15));
    store.append(mixed).unwrap();
    assert_eq!(count_all(&store), 0, "nothing is searchable before a commit");
    assert_eq!(store.stats().pending_documents, 60);

    store.refresh().unwrap();
    assert_eq!(count_all(&store), 60);
    let day = 86_400;
    let base_s = BASE / 1_000_000_000;
    assert_eq!(per_partition(&store), vec![(base_s + 2 * day, 30), (base_s + day, 20), (base_s, 10)]);
    // Time filtering: only partitions overlapping the range, inclusive bounds.
    assert_eq!(count(&store, BASE + DAY, BASE + 2 * DAY - 1), 20);
    assert_eq!(count(&store, BASE + DAY - 1, BASE + DAY), 30);
    assert_eq!(count(&store, BASE + 3 * DAY, i64::MAX), 0);
    assert_eq!(count(&store, i64::MIN, BASE - 1), 0);
    let snap = store.snapshot(BASE + DAY + 1, BASE + DAY + 2);
    assert_eq!(snap.len(), 1);
    assert_eq!((snap[0].min_nanos, snap[0].max_nanos), (BASE + DAY, BASE + 2 * DAY - 1));
    assert_eq!(count_index(&store, "app-a"), 25);
    assert_eq!(count_index(&store, "app-b"), 35);
    assert_eq!(count_index(&store, "app-c"), 0);

    let stats = store.stats();
    assert_eq!((stats.partitions, stats.documents, stats.pending_documents), (3, 60, 0));
    assert!(stats.disk_bytes > stats.wal_bytes && stats.wal_bytes > 0);

    // The stored `_source` is the record's source verbatim.
    let snap = store.snapshot(BASE, BASE);
    let searcher = &snap[0].searcher;
    let top = searcher.search(&AllQuery, &tantivy::collector::TopDocs::with_limit(1)).unwrap();
    let doc: tantivy::TantivyDocument = searcher.doc(top[0].1).unwrap();
    use tantivy::schema::Value;
    let source = doc.get_first(store.schema().source).unwrap().as_bytes().unwrap().to_vec();
    assert!(String::from_utf8(source).unwrap().starts_with(&format!("{{\"@timestamp\":{}", BASE + 1000)));
}

#[test]
fn extreme_timestamps_get_their_own_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    store.append(vec![record("x", i64::MIN, 0), record("x", -1, 1), record("x", i64::MAX, 2)]).unwrap();
    store.refresh().unwrap();
    assert_eq!(store.stats().partitions, 3);
    assert_eq!(count(&store, i64::MAX, i64::MAX), 1);
    assert_eq!(count(&store, i64::MIN, i64::MIN), 1);
    drop(store);
    let store = LogStore::open(dir.path(), manual()).unwrap();
    assert_eq!(count_all(&store), 3);
}

#[test]
fn searchable_within_refresh_interval_without_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogStoreOptions { refresh_interval: Duration::from_millis(200), ..manual() };
    let store = LogStore::open(dir.path(), options).unwrap();
    let started = Instant::now();
    store.append(batch("app", BASE, 25)).unwrap();
    while count_all(&store) < 25 {
        assert!(started.elapsed() < Duration::from_secs(5), "not searchable after 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(count_all(&store), 25);
    assert_eq!(store.stats().pending_documents, 0);
}

#[test]
fn crash_without_commit_replays_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let day_s = |d: i64| (BASE + d * DAY) / 1_000_000_000;
    let store = LogStore::open(dir.path(), manual()).unwrap();
    store.append(batch("a", BASE, 5)).unwrap();
    store.append(batch("a", BASE + DAY, 5)).unwrap();
    store.refresh().unwrap();
    store.append(batch("a", BASE, 7)).unwrap();
    store.append(batch("a", BASE + DAY, 7)).unwrap();
    assert!(store.commit_partition(day_s(0)).unwrap());
    store.append(batch("a", BASE + DAY, 3)).unwrap();
    store.append(batch("a", BASE + 2 * DAY, 4)).unwrap();
    store.crash();

    let store = LogStore::open(dir.path(), manual()).unwrap();
    assert_eq!(per_partition(&store), vec![(day_s(2), 4), (day_s(1), 15), (day_s(0), 12)]);
    drop(store);
    // Reopening again replays nothing twice.
    let store = LogStore::open(dir.path(), manual()).unwrap();
    assert_eq!(count_all(&store), 31);
    assert_eq!(wal_files(dir.path()).len(), 1, "everything committed: only the active segment is left");
}

const CHILD_ENV: &str = "PHAROS_LOGSTORE_CRASH_CHILD_DIR";

/// The child half of [`crash_of_a_real_process_loses_nothing_acknowledged`]: run by that test in a
/// re-executed test binary, it appends, commits some partitions and aborts.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let dir = Path::new(&dir);
    let options = LogStoreOptions { fsync: true, ..manual() };
    let store = LogStore::open(dir, options).unwrap();
    store.append(batch("a", BASE, 5)).unwrap();
    store.append(batch("b", BASE + DAY, 5)).unwrap();
    store.refresh().unwrap();
    let mut both = batch("a", BASE + 10, 7);
    both.extend(batch("b", BASE + DAY + 10, 7));
    store.append(both).unwrap();
    store.commit_partition(BASE / 1_000_000_000).unwrap();
    store.append(batch("b", BASE + DAY + 20, 3)).unwrap();
    store.append(batch("c", BASE + 2 * DAY, 4)).unwrap();
    std::fs::write(dir.join("child-acknowledged"), b"ok").unwrap();
    std::process::abort();
}

#[test]
fn crash_of_a_real_process_loses_nothing_acknowledged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "logs::tests::crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die by abort");
    assert!(dir.path().join("child-acknowledged").exists(), "the child did not get to its crash point");

    let store = LogStore::open(dir.path(), manual()).unwrap();
    let day_s = |d: i64| (BASE + d * DAY) / 1_000_000_000;
    assert_eq!(per_partition(&store), vec![(day_s(2), 4), (day_s(1), 15), (day_s(0), 12)]);
    assert_eq!((count_index(&store, "a"), count_index(&store, "b"), count_index(&store, "c")), (12, 15, 4));
}

#[test]
fn torn_wal_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    for i in 0..3 {
        store.append(batch("a", BASE + i, 10)).unwrap();
    }
    store.crash();
    let segment = wal_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    // Tear the last frame: a crash in the middle of its write.
    std::fs::OpenOptions::new().write(true).open(&segment).unwrap().set_len(len - 7).unwrap();

    let store = LogStore::open(dir.path(), manual()).unwrap();
    assert_eq!(count_all(&store), 20, "the two whole batches are back, the torn one is gone");
    assert!(std::fs::metadata(&segment).map(|m| m.len() < len - 7).unwrap_or(true), "the torn tail was cut off");
    // Later appends go after the cut and survive another crash.
    store.append(batch("a", BASE, 1)).unwrap();
    store.crash();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    assert_eq!(count_all(&store), 21);
}

#[test]
fn corrupted_wal_record_in_the_middle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    for i in 0..3 {
        store.append(batch("a", BASE + i, 10)).unwrap();
    }
    store.crash();
    let segment = wal_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    // Inside the first frame's payload (header 20 bytes, frame header 8).
    bytes[20 + 8 + 40] ^= 0x55;
    std::fs::write(&segment, &bytes).unwrap();

    let err = LogStore::open(dir.path(), manual()).err().expect("corruption must not be skipped");
    match &err {
        LogError::WalCorrupt { path, offset, .. } => {
            assert_eq!(path, &segment);
            assert_eq!(*offset, 20);
        }
        other => panic!("expected WalCorrupt, got {other}"),
    }
    let message = err.to_string();
    assert!(message.contains(segment.file_name().unwrap().to_str().unwrap()), "{message}");
    assert!(message.contains("offset 20"), "{message}");
}

#[test]
fn retention_by_age_drops_whole_partitions_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogStoreOptions { retention: Duration::from_secs(2 * 86_400), ..manual() };
    let now = now_nanos();
    let store = LogStore::open(dir.path(), options.clone()).unwrap();
    store.append(batch("a", now - 5 * DAY, 3)).unwrap();
    store.append(batch("a", now - 4 * DAY, 3)).unwrap();
    store.refresh().unwrap();
    // Uncommitted, so still in the WAL when the partition is dropped.
    store.append(batch("a", now - 4 * DAY, 2)).unwrap();
    store.append(batch("a", now - 1, 4)).unwrap();
    store.append(batch("a", now - DAY, 5)).unwrap();
    let report = store.enforce_retention().unwrap();
    assert_eq!(report.dropped_by_age.len(), 2, "{report:?}");
    assert!(report.freed_bytes > 0);
    assert_eq!(store.stats().partitions, 2);
    store.refresh().unwrap();
    assert_eq!(count_all(&store), 9);
    // A late record for a dropped day recreates that partition (after the drop: it must survive).
    store.append(batch("late", now - 5 * DAY, 1)).unwrap();
    store.crash();

    let store = LogStore::open(dir.path(), LogStoreOptions { retention: Duration::ZERO, ..options.clone() }).unwrap();
    assert_eq!(count_all(&store), 10, "the WAL did not resurrect dropped records");
    assert_eq!(count_index(&store, "late"), 1);
    assert_eq!(store.stats().partitions, 3);
    drop(store);
    let store = LogStore::open(dir.path(), options).unwrap();
    assert_eq!(store.enforce_retention().unwrap().dropped_by_age.len(), 1);
    assert_eq!(count_all(&store), 9);
}

#[test]
fn retention_by_size_drops_oldest_but_never_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    for d in 0..4 {
        store.append(batch("a", BASE + d * DAY, 50)).unwrap();
    }
    drop(store);
    // Reopened, the WAL is down to an empty segment: the size is the partitions'.
    let store = LogStore::open(dir.path(), manual()).unwrap();
    let stats = store.stats();
    assert!(stats.wal_bytes < 100, "{stats:?}");
    let per = stats.disk_bytes / 4;
    drop(store);

    // Room for about two partitions.
    let options = LogStoreOptions { max_bytes: per * 2 + per / 2, ..manual() };
    let store = LogStore::open(dir.path(), options.clone()).unwrap();
    let report = store.enforce_retention().unwrap();
    let base_s = BASE / 1_000_000_000;
    assert_eq!(report.dropped_by_size, vec![base_s, base_s + 86_400], "{report:?}");
    assert!(store.stats().disk_bytes <= options.max_bytes);
    drop(store);

    let tiny = LogStoreOptions { max_bytes: 1, ..manual() };
    let store = LogStore::open(dir.path(), tiny).unwrap();
    assert_eq!(store.stats().partitions, 2, "dropped partitions stay dropped");
    let report = store.enforce_retention().unwrap();
    assert_eq!(report.dropped_by_size, vec![base_s + 2 * 86_400]);
    assert_eq!(per_partition(&store), vec![(base_s + 3 * 86_400, 50)], "the newest partition is kept");
}

#[test]
fn wal_segments_are_deleted_once_committed() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogStoreOptions { wal_segment_bytes: 8192, ..manual() };
    let store = LogStore::open(dir.path(), options).unwrap();
    for i in 0..40 {
        store.append(batch("a", BASE + i * DAY / 20, 10)).unwrap();
    }
    let before = store.stats();
    assert!(before.wal_segments > 5, "{before:?}");
    assert_eq!(wal_files(dir.path()).len(), before.wal_segments);
    store.refresh().unwrap();
    let after = store.stats();
    assert_eq!(after.wal_segments, 1, "{after:?}");
    assert_eq!(wal_files(dir.path()).len(), 1);
    assert!(after.wal_bytes < 8192 + 4096);
    assert_eq!(count_all(&store), 400);

    // A partition with uncommitted records keeps its segments.
    store.append(batch("a", BASE, 10)).unwrap();
    for _ in 0..10 {
        store.append(batch("a", BASE + DAY, 10)).unwrap();
    }
    store.commit_partition((BASE + DAY) / 1_000_000_000).unwrap();
    store.collect_wal();
    let kept = wal_files(dir.path()).len();
    assert!(kept > 1, "day 0 has an uncommitted record: its segment and those after it stay");
    assert_eq!(store.stats().wal_segments, kept);
    store.refresh().unwrap();
    assert_eq!(wal_files(dir.path()).len(), 1);
}

#[test]
fn writer_limit_and_idle_close() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogStoreOptions {
        max_open_writers: 2,
        writer_idle_timeout: Duration::from_millis(200),
        maintenance_interval: Duration::from_millis(100),
        ..manual()
    };
    let store = LogStore::open(dir.path(), options).unwrap();
    for d in 0..5 {
        store.append(batch("a", BASE + d * DAY, 10)).unwrap();
        assert!(store.stats().open_writers <= 2);
    }
    // Evicted writers committed their documents.
    assert!(count_all(&store) >= 30);
    store.refresh().unwrap();
    assert_eq!(count_all(&store), 50);
    let started = Instant::now();
    while store.stats().open_writers > 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "idle writers were not closed");
        std::thread::sleep(Duration::from_millis(20));
    }
    store.append(batch("a", BASE, 10)).unwrap();
    store.refresh().unwrap();
    assert_eq!(count_all(&store), 60);
}

#[test]
fn concurrent_appends_and_searches() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogStoreOptions { refresh_interval: Duration::from_millis(50), fsync: true, ..manual() };
    let store = Arc::new(LogStore::open(dir.path(), options).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let searcher = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = 0;
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) {
                let seen = count_all(&store);
                assert!(seen >= last, "document count went back from {last} to {seen}");
                last = seen;
                rounds += 1;
                std::thread::yield_now();
            }
            rounds
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for b in 0..50 {
                    let ts = BASE + (t * 50 + b) as i64 * (DAY / 100);
                    store.append(batch(&format!("t{t}"), ts, 20)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    store.refresh().unwrap();
    done.store(true, Ordering::Release);
    assert!(searcher.join().unwrap() > 0);
    assert_eq!(count_all(&store), 4000);
    for t in 0..4 {
        assert_eq!(count_index(&store, &format!("t{t}")), 1000);
    }
}

#[test]
fn force_merge_leaves_one_segment_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), manual()).unwrap();
    for i in 0..12 {
        store.append(batch("a", BASE + i, 10)).unwrap();
        store.append(batch("a", BASE + DAY + i, 5)).unwrap();
        store.refresh().unwrap();
    }
    let segments = |store: &LogStore| -> Vec<usize> {
        store.snapshot(i64::MIN, i64::MAX).iter().map(|s| s.searcher.segment_readers().len()).collect()
    };
    assert!(segments(&store).iter().all(|&n| n > 1), "{:?}", segments(&store));
    store.force_merge().unwrap();
    assert_eq!(segments(&store), vec![1, 1]);
    assert_eq!(per_partition(&store).iter().map(|p| p.1).collect::<Vec<_>>(), vec![60, 120]);
    store.append(batch("a", BASE, 1)).unwrap();
    drop(store);
    let store = LogStore::open(dir.path(), manual()).unwrap();
    assert_eq!(count_all(&store), 181);
}

#[test]
fn store_is_send_and_sync() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<LogStore>();
}

#[test]
fn invalid_options_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bad = LogStoreOptions { partition_span: Duration::from_millis(1500), ..manual() };
    assert!(matches!(LogStore::open(dir.path(), bad), Err(LogError::InvalidOptions(_))));
    let bad = LogStoreOptions { writer_memory_bytes: 1 << 20, ..manual() };
    assert!(matches!(LogStore::open(dir.path(), bad), Err(LogError::InvalidOptions(_))));
}

// Pharos — storage/src/logs/tests.rs
