//! Postings benchmarks: sorted-list intersection and a selector over a head of 100 000 series.
//!
//! ```text
//! cargo bench -p pharos-storage --bench postings
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pharos_storage::tsdb::{
    FsyncPolicy, Labels, MatchOp, Matcher, Sample, SeriesWrite, Tsdb, TsdbOptions, WriteBatch, intersect, subtract,
};

/// Every `step`-th number below `n`, offset by `offset`: sorted, like a postings list.
fn list(n: u32, step: u32, offset: u32) -> Vec<u32> {
    (offset..n).step_by(step as usize).collect()
}

fn set_operations(c: &mut Criterion) {
    let a = list(1_000_000, 2, 0);
    let b = list(1_000_000, 3, 0);
    let mut group = c.benchmark_group("postings");
    group.throughput(Throughput::Elements((a.len() + b.len()) as u64));
    group.bench_function("intersect 500k x 333k", |bench| bench.iter(|| black_box(intersect(&a, &b))));
    group.bench_function("subtract 500k - 333k", |bench| bench.iter(|| black_box(subtract(&a, &b))));
    let small = list(1_000_000, 997, 5);
    group.throughput(Throughput::Elements((a.len() + small.len()) as u64));
    group.bench_function("intersect 500k x 1k", |bench| bench.iter(|| black_box(intersect(&a, &small))));
    group.finish();
}

fn head_selection(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let options = TsdbOptions { fsync: FsyncPolicy::Never, maintenance_interval: Duration::from_secs(3600), ..TsdbOptions::default() };
    let tsdb = Tsdb::open(dir.path(), options).unwrap();
    // 100 targets × 1000 series: 20 metric names × 50 label combinations.
    let mut series = Vec::new();
    for target in 0..100 {
        for metric in 0..20 {
            for cpu in 0..50 {
                let labels = Labels::from_pairs([
                    ("__name__", format!("node_metric_{metric}")),
                    ("instance", format!("10.0.0.{target}:9100")),
                    ("job", "node".to_string()),
                    ("cpu", cpu.to_string()),
                ]);
                series.push(SeriesWrite { labels, samples: vec![Sample { t: 1000, v: 1.0 }] });
            }
        }
    }
    for chunk in series.chunks(10_000) {
        tsdb.append(&WriteBatch { series: chunk.to_vec(), metadata: vec![] }).unwrap();
    }
    let selectors = [
        ("metric and instance", vec![Matcher::equal("__name__", "node_metric_3"), Matcher::equal("instance", "10.0.0.42:9100")]),
        (
            "metric and cpu regex",
            vec![Matcher::equal("__name__", "node_metric_3"), Matcher::new(MatchOp::Regex, "cpu", "1.|2.").unwrap()],
        ),
        ("metric, cpu != 0", vec![Matcher::equal("__name__", "node_metric_7"), Matcher::new(MatchOp::NotEqual, "cpu", "0").unwrap()]),
    ];
    let mut group = c.benchmark_group("select over 100k series");
    for (name, matchers) in &selectors {
        group.bench_function(*name, |bench| bench.iter(|| black_box(tsdb.series(matchers, 0, 2000))));
    }
    group.finish();
}

criterion_group!(benches, set_operations, head_selection);
criterion_main!(benches);
