//! Prometheus' own PromQL test suite (`../shared/conformance/promql/testdata/*.test`) run against
//! Pharos' engine over the real tsdb (a temporary directory per `clear`).
//!
//! Every eval listed in `core-evals.tsv` (the classic-float evals of the core files) must pass,
//! both as written and re-run as a range query around its time; every other eval counts as
//! skipped. The test prints `N passed, N failed, N skipped` per file and in total, and fails on
//! any core failure.

mod conformance;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use conformance::{Backend, CoreSet, LoadSeries, MatrixSeries, QueryOutput, VectorSample};
use pharos_query::promql::{self, CancelToken, EngineOptions, QuerySpec, QueryValue};
use pharos_storage::tsdb::{
    FsyncPolicy, Labels, Sample, SeriesWrite, Tsdb, TsdbOptions, WriteBatch,
};

/// The engine and a tsdb in a temporary directory.
struct PharosBackend {
    dir: Option<tempfile::TempDir>,
    tsdb: Option<Arc<Tsdb>>,
    options: EngineOptions,
}

impl PharosBackend {
    fn new() -> Self {
        let mut backend = PharosBackend {
            dir: None,
            tsdb: None,
            options: EngineOptions {
                max_samples: 10_000,
                timeout: Duration::from_secs(100),
                ..EngineOptions::default()
            },
        };
        backend.clear();
        backend
    }

    fn tsdb(&self) -> &Tsdb {
        self.tsdb.as_ref().expect("tsdb open")
    }

    fn run(&self, query: &str, start: i64, end: i64, step: i64) -> Result<QueryOutput, String> {
        let expr = promql::parse(query).map_err(|e| e.to_string())?;
        let spec = QuerySpec {
            expr: &expr,
            text: query,
            start,
            end,
            step,
            lookback_delta: None,
        };
        let result = promql::execute(self.tsdb(), &self.options, &spec, &CancelToken::default())
            .map_err(|e| e.to_string())?;
        let pairs = |labels: &Labels| {
            labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect::<Vec<_>>()
        };
        let value = match result.value {
            QueryValue::Scalar { t, v } => conformance::QueryValue::Scalar { t_ms: t, v },
            QueryValue::String { s, .. } => conformance::QueryValue::String(s),
            QueryValue::Vector(samples) => conformance::QueryValue::Vector(
                samples
                    .iter()
                    .map(|s| VectorSample {
                        labels: pairs(&s.labels),
                        t_ms: s.t,
                        v: s.v,
                    })
                    .collect(),
            ),
            QueryValue::Matrix(series) => conformance::QueryValue::Matrix(
                series
                    .iter()
                    .map(|s| MatrixSeries {
                        labels: pairs(&s.labels),
                        points: s.points.iter().map(|p| (p.t, p.v)).collect(),
                    })
                    .collect(),
            ),
        };
        Ok(QueryOutput {
            value,
            warnings: result.warnings,
            infos: result.infos,
        })
    }
}

impl Backend for PharosBackend {
    fn clear(&mut self) {
        self.tsdb = None;
        let dir = tempfile::tempdir().expect("temp dir");
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        let options = TsdbOptions {
            fsync: FsyncPolicy::Never,
            // One head for the whole script: no cuts, no retention.
            block_range: century,
            out_of_order_window: century,
            retention_time: None,
            maintenance_interval: Duration::from_secs(24 * 3600),
            ..TsdbOptions::default()
        };
        self.tsdb = Some(Tsdb::open(dir.path(), options).expect("open tsdb"));
        self.dir = Some(dir);
    }

    fn load(&mut self, series: &[LoadSeries]) -> Result<(), String> {
        let batch = WriteBatch {
            series: series
                .iter()
                .map(|s| SeriesWrite {
                    labels: Labels::from_pairs(s.labels.iter().cloned()),
                    samples: s.samples.iter().map(|&(t, v)| Sample { t, v }).collect(),
                })
                .collect(),
            metadata: Vec::new(),
        };
        let report = self.tsdb().append(&batch).map_err(|e| e.to_string())?;
        if report.samples_rejected > 0 {
            return Err(format!(
                "tsdb rejected {} samples: {:?}",
                report.samples_rejected, report.errors
            ));
        }
        Ok(())
    }

    fn instant(&mut self, query: &str, t_ms: i64) -> Result<QueryOutput, String> {
        self.run(query, t_ms, t_ms, 0)
    }

    fn range(
        &mut self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryOutput, String> {
        self.run(query, start_ms, end_ms, step_ms)
    }
}

#[test]
fn prometheus_promql_test_suite() {
    let dir = conformance::conformance_dir();
    assert!(
        dir.join("testdata").is_dir(),
        "PromQL conformance suite not found at {} (set PROMQL_CONFORMANCE_DIR)",
        dir.display()
    );
    let core = CoreSet::load(&dir.join("core-evals.tsv")).expect("core-evals.tsv");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("testdata"))
        .expect("testdata")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let mut backend = PharosBackend::new();
        let report = conformance::run_file(file, &core, &mut backend);
        println!(
            "{:<28} {} passed, {} failed, {} skipped",
            report.file, report.passed, report.failed, report.skipped
        );
        passed += report.passed;
        failed += report.failed;
        skipped += report.skipped;
        failures.extend(report.failures);
    }
    println!(
        "{:<28} {passed} passed, {failed} failed, {skipped} skipped",
        "TOTAL"
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert_eq!(
        failed,
        0,
        "{failed} core evals failed:\n{}",
        failures.join("\n")
    );
    assert_eq!(passed, core.len(), "every core eval must run and pass");
}

// Pharos — tests/promql_conformance/main.rs
