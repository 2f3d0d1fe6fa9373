//! Runs parsed scripts against an engine [`Backend`]: loads and clears are
//! always executed in order; evals listed in the core set (core-evals.tsv)
//! are run and scored, all others are counted as skipped without running.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use super::compare::{
    QueryOutput, QueryValue, VectorSample, check_annotations, check_failure, check_matrix_sorted,
    compare_result,
};
use super::script::{self, Command, Eval, EvalKind, LoadSeries, Script};

/// The engine under test, as seen by the harness.
///
/// Error strings should be the engine's error text as Prometheus'
/// `err.Error()` would render it: `expect fail msg:` compares it exactly.
/// Annotations go into [`QueryOutput::warnings`]/[`QueryOutput::infos`] as
/// full texts (`PromQL warning: … (1:5)`).
pub trait Backend {
    /// Discards all data.
    fn clear(&mut self);
    /// Appends the series of one `load` block (additive).
    fn load(&mut self, series: &[LoadSeries]) -> Result<(), String>;
    /// Instant query at `t_ms`.
    fn instant(&mut self, query: &str, t_ms: i64) -> Result<QueryOutput, String>;
    /// Range query over `[start_ms, end_ms]` with `step_ms`.
    fn range(
        &mut self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryOutput, String>;
}

/// One row of core-evals.tsv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreEval {
    pub file: String,
    /// 1-based line of the `eval` header.
    pub line: usize,
    /// `instant` or `range`.
    pub kind: String,
    pub query: String,
}

/// The set of evals that must pass, keyed by (file name, eval line).
#[derive(Debug, Clone, Default)]
pub struct CoreSet {
    entries: BTreeMap<(String, usize), CoreEval>,
}

impl CoreSet {
    /// Parses core-evals.tsv text: header `file line kind query`, tab-separated.
    pub fn from_tsv(text: &str) -> Result<Self, String> {
        let mut entries = BTreeMap::new();
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, h)) if h.split('\t').take(2).eq(["file", "line"]) => {}
            _ => return Err("core-evals.tsv: missing `file\\tline\\t…` header".into()),
        }
        for (idx, row) in lines {
            if row.trim().is_empty() {
                continue;
            }
            let mut cols = row.splitn(4, '\t');
            let (Some(file), Some(line), Some(kind), Some(query)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                return Err(format!(
                    "core-evals.tsv:{}: expected 4 tab-separated columns",
                    idx + 1
                ));
            };
            let line: usize = line
                .parse()
                .map_err(|_| format!("core-evals.tsv:{}: invalid line number {line:?}", idx + 1))?;
            let e = CoreEval {
                file: file.to_string(),
                line,
                kind: kind.to_string(),
                query: query.to_string(),
            };
            if entries.insert((e.file.clone(), line), e).is_some() {
                return Err(format!(
                    "core-evals.tsv:{}: duplicate entry {file}:{line}",
                    idx + 1
                ));
            }
        }
        Ok(CoreSet { entries })
    }

    /// Reads and parses a core-evals.tsv file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_tsv(&text)
    }

    /// The entry for `file` (base name) and eval line, if core.
    pub fn get(&self, file: &str, line: usize) -> Option<&CoreEval> {
        self.entries.get(&(file.to_string(), line))
    }

    /// Whether `file:line` is a core eval.
    pub fn contains(&self, file: &str, line: usize) -> bool {
        self.get(file, line).is_some()
    }

    /// Number of core evals.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// All entries, ordered by file then line.
    pub fn iter(&self) -> impl Iterator<Item = &CoreEval> {
        self.entries.values()
    }

    /// Number of core evals in `file`.
    pub fn count_in(&self, file: &str) -> usize {
        self.iter().filter(|e| e.file == file).count()
    }
}

/// Outcome of running one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// File base name.
    pub file: String,
    /// Core evals that passed.
    pub passed: usize,
    /// Core evals that failed (including those that could not run because
    /// the file failed to parse).
    pub failed: usize,
    /// Non-core evals (not run).
    pub skipped: usize,
    /// `file:line: query: diff` for each failed core eval, plus
    /// `file:line: …` entries for failed loads/clears and parse errors.
    pub failures: Vec<String>,
    /// Observations that are not failures, e.g. a core eval whose expected
    /// result contains native histograms.
    pub notes: Vec<String>,
}

/// Parses and runs one `.test` file. The core set is looked up by the file's
/// base name.
pub fn run_file(path: &Path, core: &CoreSet, backend: &mut dyn Backend) -> FileReport {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    match script::parse_file(path) {
        Ok(s) => run_script(&file, &s, core, backend),
        Err(e) => {
            let failed = core.count_in(&file);
            FileReport {
                file,
                failed,
                failures: vec![format!("{e} (parse error; no eval run)")],
                ..Default::default()
            }
        }
    }
}

/// Runs an already parsed script (see [`run_file`]).
pub fn run_script(
    file: &str,
    script: &Script,
    core: &CoreSet,
    backend: &mut dyn Backend,
) -> FileReport {
    let mut r = FileReport {
        file: file.to_string(),
        ..Default::default()
    };
    for cmd in &script.commands {
        match cmd {
            Command::Clear { line } => {
                if let Err(p) = guarded(|| backend.clear()) {
                    r.failures
                        .push(format!("{file}:{line}: clear panicked: {p}"));
                }
            }
            Command::Load(load) => {
                let res = guarded(|| backend.load(&load.series)).and_then(|x| x);
                if let Err(e) = res {
                    r.failures
                        .push(format!("{file}:{}: load failed: {e}", load.line));
                }
            }
            Command::Eval(eval) => {
                let Some(entry) = core.get(file, eval.line) else {
                    r.skipped += 1;
                    continue;
                };
                if eval.expects_histograms() {
                    r.notes.push(format!(
                        "{file}:{}: core eval expects native histogram values: {}",
                        eval.line, eval.query
                    ));
                }
                let res = if entry.query != eval.query {
                    Err(format!(
                        "core-evals.tsv lists query {:?} for this line (data changed?)",
                        entry.query
                    ))
                } else {
                    guarded(|| run_eval(eval, backend)).and_then(|x| x)
                };
                match res {
                    Ok(()) => r.passed += 1,
                    Err(diff) => {
                        r.failed += 1;
                        r.failures
                            .push(format!("{file}:{}: {}: {diff}", eval.line, eval.query));
                    }
                }
            }
        }
    }
    r
}

/// Runs one eval against the backend and checks every expectation.
///
/// Instant evals are additionally re-run in range mode (FORMAT.md §5.4.2)
/// unless they expect a range vector or a string, or call `start()`,
/// `end()`, `range()` or `step()`. Ordered evals run the range query (it must
/// not fail) but skip its comparison, as upstream does. The `@` re-runs of
/// §5.4.1 are not performed.
pub fn run_eval(eval: &Eval, backend: &mut dyn Backend) -> Result<(), String> {
    match eval.kind {
        EvalKind::Range { .. } => {
            let r = eval
                .range_params()
                .ok_or("range eval without range parameters")?;
            let res = backend.range(&eval.query, r.start_ms, r.end_ms, r.step_ms);
            check_outcome(eval, res).map(|_| ())
        }
        EvalKind::Instant { .. } => {
            let t = eval
                .instant_time_ms()
                .ok_or("instant eval without evaluation time")?;
            let res = backend.instant(&eval.query, t);
            let Some(out) = check_outcome(eval, res)? else {
                return Ok(());
            };
            let x = &eval.expectations;
            if x.range_vector.is_some()
                || x.string.is_some()
                || script::uses_query_context_functions(&eval.query)
            {
                return Ok(());
            }
            range_mode_check(eval, t, &out.value, backend)
        }
    }
}

/// Checks a query outcome: failure expectations, annotations, result.
/// Returns the output when the query succeeded (and was expected to).
fn check_outcome(
    eval: &Eval,
    res: Result<QueryOutput, String>,
) -> Result<Option<QueryOutput>, String> {
    let fail = eval.expectations.fail;
    match res {
        Err(e) if fail => check_failure(eval, &e).map(|_| None),
        Err(e) => Err(format!("error evaluating query: {e}")),
        Ok(out) if fail => Err(format!(
            "expected error evaluating query but got none (result: {:?})",
            out.value
        )),
        Ok(out) => {
            check_annotations(eval, &out)?;
            compare_result(eval, &out.value)?;
            Ok(Some(out))
        }
    }
}

/// Range query from T−1m to T+1m step 1m; the point at T of every series
/// must satisfy the same expectation (a scalar result uses the first series).
fn range_mode_check(
    eval: &Eval,
    t: i64,
    instant: &QueryValue,
    backend: &mut dyn Backend,
) -> Result<(), String> {
    const MINUTE: i64 = 60_000;
    let out = backend
        .range(
            &eval.query,
            t.saturating_sub(MINUTE),
            t.saturating_add(MINUTE),
            MINUTE,
        )
        .map_err(|e| format!("error evaluating query in range mode: {e}"))?;
    if eval.expectations.ordered {
        return Ok(());
    }
    let QueryValue::Matrix(m) = &out.value else {
        return Err(format!(
            "range mode: range query did not return a matrix: {:?}",
            out.value
        ));
    };
    check_matrix_sorted(m).map_err(|e| format!("range mode: {e}"))?;
    let vec: Vec<VectorSample> = m
        .iter()
        .filter_map(|s| {
            s.points
                .iter()
                .find(|(pt, _)| *pt == t)
                .map(|&(t_ms, v)| VectorSample {
                    labels: s.labels.clone(),
                    t_ms,
                    v,
                })
        })
        .collect();
    let value = if matches!(instant, QueryValue::Scalar { .. }) {
        let first = vec
            .first()
            .ok_or("range mode: no point at the evaluation time for a scalar query")?;
        QueryValue::Scalar {
            t_ms: t,
            v: first.v,
        }
    } else {
        QueryValue::Vector(vec)
    };
    compare_result(eval, &value).map_err(|e| format!("range mode: {e}"))
}

/// Runs `f`, turning a panic into `Err(panic message)`.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        format!("panic: {msg}")
    })
}

/// Guards against the conformance data changing under the harness. `dir` is
/// the conformance directory (holding `core-evals.tsv` and `testdata/`).
///
/// Checksums are not verified (no SHA-256 implementation is available);
/// instead: every file named in `testdata/SHA256SUMS` exists, every file in
/// core-evals.tsv exists and parses, and each listed line is an `eval` whose
/// query equals the tsv's query column and whose kind matches.
pub fn verify_core_evals(dir: &Path) -> Result<(), String> {
    let core = CoreSet::load(&dir.join("core-evals.tsv"))?;
    let testdata = dir.join("testdata");
    let mut problems = Vec::new();
    if let Ok(sums) = std::fs::read_to_string(testdata.join("SHA256SUMS")) {
        for name in sums.lines().filter_map(|l| l.split_whitespace().nth(1)) {
            if !testdata.join(name.trim_start_matches('*')).is_file() {
                problems.push(format!("{name}: listed in SHA256SUMS but missing"));
            }
        }
    }
    let mut by_file: HashMap<&str, Vec<&CoreEval>> = HashMap::new();
    for e in core.iter() {
        by_file.entry(e.file.as_str()).or_default().push(e);
    }
    let mut files: Vec<_> = by_file.into_iter().collect();
    files.sort_by_key(|(f, _)| *f);
    for (file, entries) in files {
        let path = testdata.join(file);
        if !path.is_file() {
            problems.push(format!("{file}: listed in core-evals.tsv but missing"));
            continue;
        }
        let parsed = match script::parse_file(&path) {
            Ok(s) => s,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let evals: HashMap<usize, &Eval> = parsed.evals().map(|e| (e.line, e)).collect();
        for ce in entries {
            match evals.get(&ce.line) {
                None => problems.push(format!(
                    "{file}:{}: core-evals.tsv lists an eval here but there is none",
                    ce.line
                )),
                Some(e) if e.query != ce.query => problems.push(format!(
                    "{file}:{}: query {:?} differs from core-evals.tsv {:?}",
                    ce.line, e.query, ce.query
                )),
                Some(e) if (if e.is_range() { "range" } else { "instant" }) != ce.kind => problems
                    .push(format!(
                        "{file}:{}: kind differs from core-evals.tsv ({})",
                        ce.line, ce.kind
                    )),
                Some(_) => {}
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::compare::MatrixSeries;
    use super::super::script::{Matcher, parse_script};
    use super::super::series::{Labels, SeqValue};
    use super::*;
    use std::path::PathBuf;

    fn conformance_dir() -> PathBuf {
        super::super::conformance_dir()
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
    fn vector(items: &[(&[(&str, &str)], f64)]) -> QueryOutput {
        QueryOutput::new(QueryValue::Vector(
            items
                .iter()
                .map(|(lb, v)| VectorSample {
                    labels: l(lb),
                    t_ms: 0,
                    v: *v,
                })
                .collect(),
        ))
    }
    type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);
    fn matrix(items: &[SeriesSpec<'_>]) -> QueryOutput {
        QueryOutput::new(QueryValue::Matrix(
            items
                .iter()
                .map(|(lb, p)| MatrixSeries {
                    labels: l(lb),
                    points: p.to_vec(),
                })
                .collect(),
        ))
    }

    /// Returns canned outputs for specific (query, time) calls; records calls.
    #[derive(Default)]
    struct Fake {
        instant: HashMap<(String, i64), Result<QueryOutput, String>>,
        range: HashMap<(String, i64, i64, i64), Result<QueryOutput, String>>,
        calls: Vec<String>,
        panic_on: Option<String>,
    }

    impl Fake {
        fn on_instant(&mut self, q: &str, t: i64, r: Result<QueryOutput, String>) {
            self.instant.insert((q.into(), t), r);
        }
        fn on_range(&mut self, q: &str, s: i64, e: i64, st: i64, r: Result<QueryOutput, String>) {
            self.range.insert((q.into(), s, e, st), r);
        }
    }

    impl Backend for Fake {
        fn clear(&mut self) {
            self.calls.push("clear".into());
        }
        fn load(&mut self, series: &[LoadSeries]) -> Result<(), String> {
            self.calls.push(format!("load {}", series.len()));
            Ok(())
        }
        fn instant(&mut self, query: &str, t_ms: i64) -> Result<QueryOutput, String> {
            self.calls.push(format!("instant {query} @{t_ms}"));
            if self.panic_on.as_deref() == Some(query) {
                panic!("engine exploded on {query}");
            }
            self.instant
                .get(&(query.to_string(), t_ms))
                .cloned()
                .unwrap_or_else(|| Err("no canned output".into()))
        }
        fn range(&mut self, query: &str, s: i64, e: i64, st: i64) -> Result<QueryOutput, String> {
            self.calls.push(format!("range {query} {s}..{e}/{st}"));
            self.range
                .get(&(query.to_string(), s, e, st))
                .cloned()
                .unwrap_or_else(|| Err("no canned output".into()))
        }
    }

    /// Core set containing every eval of `script` in file `t.test`.
    fn all_core(script: &Script) -> CoreSet {
        let mut tsv = String::from("file\tline\tkind\tquery\n");
        for e in script.evals() {
            tsv += &format!(
                "t.test\t{}\t{}\t{}\n",
                e.line,
                if e.is_range() { "range" } else { "instant" },
                e.query
            );
        }
        CoreSet::from_tsv(&tsv).unwrap()
    }

    fn run(src: &str, fake: &mut Fake) -> FileReport {
        let s = parse_script(src).unwrap();
        run_script("t.test", &s, &all_core(&s), fake)
    }

    const T: i64 = 300_000;

    #[test]
    fn instant_with_range_rerun_passes() {
        let mut f = Fake::default();
        f.on_instant("x", T, Ok(vector(&[(&[("__name__", "x")], 1.0)])));
        f.on_range(
            "x",
            T - 60_000,
            T + 60_000,
            60_000,
            Ok(matrix(&[(
                &[("__name__", "x")],
                &[(240_000, 0.0), (T, 1.0)],
            )])),
        );
        let r = run("load 1m\n  x 1\n\neval instant at 5m x\n  x 1\n", &mut f);
        assert_eq!(
            (r.passed, r.failed, r.skipped),
            (1, 0, 0),
            "{:?}",
            r.failures
        );
        assert_eq!(
            f.calls,
            vec![
                "load 1",
                "instant x @300000",
                "range x 240000..360000/60000"
            ]
        );
    }

    #[test]
    fn range_rerun_mismatch_fails() {
        let mut f = Fake::default();
        f.on_instant("x", T, Ok(vector(&[(&[("__name__", "x")], 1.0)])));
        f.on_range(
            "x",
            T - 60_000,
            T + 60_000,
            60_000,
            Ok(matrix(&[(&[("__name__", "x")], &[(T, 2.0)])])),
        );
        let r = run("eval instant at 5m x\n  x 1\n", &mut f);
        assert_eq!((r.passed, r.failed), (0, 1));
        assert!(
            r.failures[0].starts_with("t.test:1: x: range mode: expected 1 for x but got 2"),
            "{}",
            r.failures[0]
        );

        // A series without a point at T disappears from the range-mode vector.
        f.on_range(
            "x",
            T - 60_000,
            T + 60_000,
            60_000,
            Ok(matrix(&[(&[("__name__", "x")], &[(T - 60_000, 1.0)])])),
        );
        let r = run("eval instant at 5m x\n  x 1\n", &mut f);
        assert!(
            r.failures[0].contains("range mode: expected metric x with 1 not found"),
            "{}",
            r.failures[0]
        );

        // Range-mode error.
        f.range.clear();
        let r = run("eval instant at 5m x\n  x 1\n", &mut f);
        assert!(r.failures[0].contains("in range mode: no canned output"));
    }

    #[test]
    fn range_rerun_requires_sorted_matrix() {
        let mut f = Fake::default();
        f.on_instant(
            "x",
            T,
            Ok(vector(&[(&[("a", "1")], 1.0), (&[("a", "2")], 2.0)])),
        );
        f.on_range(
            "x",
            T - 60_000,
            T + 60_000,
            60_000,
            Ok(matrix(&[
                (&[("a", "2")], &[(T, 2.0)]),
                (&[("a", "1")], &[(T, 1.0)]),
            ])),
        );
        let r = run(
            "eval instant at 5m x\n  {a=\"1\"} 1\n  {a=\"2\"} 2\n",
            &mut f,
        );
        assert!(
            r.failures[0].contains("range mode: matrix results should always be sorted"),
            "{:?}",
            r.failures
        );
    }

    #[test]
    fn range_rerun_scalar_uses_first_series() {
        let mut f = Fake::default();
        f.on_instant(
            "1+1",
            T,
            Ok(QueryOutput::new(QueryValue::Scalar { t_ms: T, v: 2.0 })),
        );
        f.on_range(
            "1+1",
            T - 60_000,
            T + 60_000,
            60_000,
            Ok(matrix(&[(
                &[],
                &[(T - 60_000, 2.0), (T, 2.0), (T + 60_000, 2.0)],
            )])),
        );
        let r = run("eval instant at 5m 1+1\n  2\n", &mut f);
        assert_eq!((r.passed, r.failed), (1, 0), "{:?}", r.failures);
        f.on_range("1+1", T - 60_000, T + 60_000, 60_000, Ok(matrix(&[])));
        let r = run("eval instant at 5m 1+1\n  2\n", &mut f);
        assert!(r.failures[0].contains("no point at the evaluation time"));
    }

    #[test]
    fn range_rerun_skipped_cases() {
        // step()/start()/end()/range(): no range query.
        let mut f = Fake::default();
        f.on_instant("x @ start()", T, Ok(vector(&[])));
        let r = run("eval instant at 5m x @ start()\n", &mut f);
        assert_eq!(r.passed, 1, "{:?}", r.failures);
        assert_eq!(f.calls, vec!["instant x @ start() @300000"]);

        // expect string: no range query.
        let mut f = Fake::default();
        f.on_instant(
            "\"a\"",
            T,
            Ok(QueryOutput::new(QueryValue::String("a".into()))),
        );
        let r = run("eval instant at 5m \"a\"\n  expect string \"a\"\n", &mut f);
        assert_eq!(r.passed, 1, "{:?}", r.failures);
        assert_eq!(f.calls.len(), 1);

        // expect range vector: evaluated at the range end, no range query.
        let mut f = Fake::default();
        f.on_instant(
            "x[1m]",
            60_000,
            Ok(matrix(&[(
                &[("__name__", "x")],
                &[(10_000, 1.0), (60_000, 2.0)],
            )])),
        );
        let r = run(
            "eval instant at 2m x[1m]\n  expect range vector from 10s to 1m step 10s\n  x 1 _x4 2\n",
            &mut f,
        );
        assert_eq!(r.passed, 1, "{:?}", r.failures);
        assert_eq!(f.calls, vec!["instant x[1m] @60000"]);

        // Ordered: the range query runs (must not fail) but is not compared.
        let mut f = Fake::default();
        f.on_instant(
            "sort(x)",
            T,
            Ok(vector(&[(&[("a", "2")], 1.0), (&[("a", "1")], 2.0)])),
        );
        f.on_range("sort(x)", T - 60_000, T + 60_000, 60_000, Ok(matrix(&[])));
        let r = run(
            "eval instant at 5m sort(x)\n  expect ordered\n  {a=\"2\"} 1\n  {a=\"1\"} 2\n",
            &mut f,
        );
        assert_eq!(r.passed, 1, "{:?}", r.failures);
        assert_eq!(f.calls.len(), 2);
    }

    #[test]
    fn range_eval() {
        let mut f = Fake::default();
        f.on_range(
            "x",
            0,
            120_000,
            60_000,
            Ok(matrix(&[(
                &[("__name__", "x")],
                &[(0, 1.0), (120_000, 3.0)],
            )])),
        );
        let r = run("eval range from 0 to 2m step 1m x\n  x 1 _ 3\n", &mut f);
        assert_eq!((r.passed, r.failed), (1, 0), "{:?}", r.failures);
        assert_eq!(f.calls.len(), 1);
    }

    #[test]
    fn fail_expectations() {
        let mut f = Fake::default();
        f.on_instant(
            "bad",
            T,
            Err("vector cannot contain metrics with the same labelset".into()),
        );
        f.on_instant("good", T, Ok(vector(&[])));
        let src = "eval instant at 5m bad\n  expect fail msg: vector cannot contain metrics with the same labelset\n\n\
                   eval instant at 5m bad\n  expect fail regex: same label\n\n\
                   eval instant at 5m bad\n  expect fail msg: other\n\n\
                   eval instant at 5m good\n  expect fail\n\n\
                   eval_fail instant at 5m bad\n\n\
                   eval instant at 5m bad\n";
        let r = run(src, &mut f);
        assert_eq!((r.passed, r.failed), (3, 3), "{:?}", r.failures);
        assert!(
            r.failures[0].starts_with("t.test:7: bad: expected error matching message \"other\""),
            "{}",
            r.failures[0]
        );
        assert!(r.failures[1].contains("expected error evaluating query but got none"));
        assert!(r.failures[2].contains("error evaluating query: vector cannot"));
        // Failing evals do not trigger the range re-run.
        assert!(!f.calls.iter().any(|c| c.starts_with("range bad")));
    }

    #[test]
    fn annotations_checked_on_instant_only_once() {
        let mut f = Fake::default();
        let mut out = vector(&[]);
        out.warnings.push("PromQL warning: w (1:1)".into());
        f.on_instant("x", T, Ok(out));
        f.on_range("x", T - 60_000, T + 60_000, 60_000, Ok(matrix(&[])));
        let r = run(
            "eval instant at 5m x\n  expect warn msg: PromQL warning: w (1:1)\n\neval instant at 5m x\n  expect no_warn\n",
            &mut f,
        );
        assert_eq!((r.passed, r.failed), (1, 1), "{:?}", r.failures);
        assert!(r.failures[0].contains("unexpected warning annotations"));
    }

    #[test]
    fn panics_are_contained_and_non_core_skipped() {
        let mut f = Fake {
            panic_on: Some("boom".into()),
            ..Default::default()
        };
        f.on_instant("ok", T, Ok(vector(&[])));
        f.on_range("ok", T - 60_000, T + 60_000, 60_000, Ok(matrix(&[])));
        let src = "load 1m\n  a 1\n\neval instant at 5m boom\n\nclear\n\neval instant at 5m ok\n\neval instant at 5m skipped\n";
        let s = parse_script(src).unwrap();
        let core = CoreSet::from_tsv(
            "file\tline\tkind\tquery\nt.test\t4\tinstant\tboom\nt.test\t8\tinstant\tok\n",
        )
        .unwrap();
        let r = run_script("t.test", &s, &core, &mut f);
        assert_eq!(
            (r.passed, r.failed, r.skipped),
            (1, 1, 1),
            "{:?}",
            r.failures
        );
        assert!(
            r.failures[0].contains("panic: engine exploded on boom"),
            "{}",
            r.failures[0]
        );
        // Loads and clears always run, in order; skipped evals are not run.
        assert_eq!(f.calls[0], "load 1");
        assert!(f.calls.contains(&"clear".to_string()));
        assert!(!f.calls.iter().any(|c| c.contains("skipped")));
    }

    #[test]
    fn core_query_mismatch_is_a_failure() {
        let mut f = Fake::default();
        let s = parse_script("eval instant at 5m x\n").unwrap();
        let core = CoreSet::from_tsv("file\tline\tkind\tquery\nt.test\t1\tinstant\ty\n").unwrap();
        let r = run_script("t.test", &s, &core, &mut f);
        assert_eq!(r.failed, 1);
        assert!(r.failures[0].contains("data changed"));
        assert!(f.calls.is_empty());
    }

    #[test]
    fn parse_error_reported_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("promql-testscript-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.test");
        std::fs::write(&path, "load 5m\n  a 1\n\neval instant at 5m a\n  a{ 1\n").unwrap();
        let core =
            CoreSet::from_tsv("file\tline\tkind\tquery\nbroken.test\t4\tinstant\ta\n").unwrap();
        let r = run_file(&path, &core, &mut Fake::default());
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!((r.passed, r.failed), (0, 1));
        assert!(
            r.failures[0].starts_with("broken.test:5: "),
            "{}",
            r.failures[0]
        );
    }

    #[test]
    fn core_set_parsing() {
        let c = CoreSet::from_tsv("file\tline\tkind\tquery\na.test\t3\tinstant\tsum(x)\n\nb.test\t10\trange\tlabel_replace(x, \"a\", \"b\", \"c\", \"d\")\n").unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.contains("a.test", 3) && !c.contains("a.test", 4));
        assert_eq!(
            c.get("b.test", 10).unwrap().query,
            "label_replace(x, \"a\", \"b\", \"c\", \"d\")"
        );
        assert!(CoreSet::from_tsv("nope\n").is_err());
        assert!(CoreSet::from_tsv("file\tline\tkind\tquery\na\tx\ty\tz\n").is_err());
        assert!(CoreSet::from_tsv("file\tline\tkind\tquery\na\t1\ty\n").is_err());
        assert!(CoreSet::from_tsv("file\tline\tkind\tquery\na\t1\ty\tq\na\t1\ty\tq\n").is_err());
    }

    /// Parses the `evals` column of EVAL_COUNTS.md.
    fn eval_counts(dir: &Path) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(dir.join("EVAL_COUNTS.md")).unwrap();
        text.lines()
            .filter_map(|line| {
                let cols: Vec<&str> = line.split('|').map(str::trim).collect();
                (cols.len() > 3 && cols[1].ends_with(".test"))
                    .then(|| (cols[1].to_string(), cols[2].parse().unwrap()))
            })
            .collect()
    }

    #[test]
    fn whole_suite_parses_and_counts_match() {
        let dir = conformance_dir();
        let testdata = dir.join("testdata");
        let core = CoreSet::load(&dir.join("core-evals.tsv")).unwrap();
        assert_eq!(core.len(), 813);
        let counts = eval_counts(&dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&testdata)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect();
        files.sort();
        assert_eq!(
            files.len(),
            counts.len(),
            "every file in EVAL_COUNTS.md and no other"
        );
        let (mut total, mut total_core) = (0, 0);
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let script = script::parse_file(path).unwrap_or_else(|e| panic!("{e}"));
            let n = script.evals().count();
            assert_eq!(Some(&n), counts.get(&name), "{name}: eval count");
            let core_here: Vec<&Eval> = script
                .evals()
                .filter(|e| core.contains(&name, e.line))
                .collect();
            assert_eq!(
                core_here.len(),
                core.count_in(&name),
                "{name}: core evals found"
            );
            for e in &core_here {
                assert_eq!(
                    e.query,
                    core.get(&name, e.line).unwrap().query,
                    "{name}:{}",
                    e.line
                );
            }
            total += n;
            total_core += core_here.len();

            // Running against a backend that fails every query scores exactly
            // the core evals and skips the rest, without panicking.
            let r = run_script(&name, &script, &core, &mut Fake::default());
            for note in &r.notes {
                eprintln!("note: {note}");
            }
            assert_eq!(r.passed + r.failed, core.count_in(&name), "{name}");
            assert_eq!(r.skipped, n - core.count_in(&name), "{name}");
        }
        assert_eq!(total, counts.values().sum::<usize>());
        assert_eq!(total, 2214);
        assert_eq!(total_core, 813);
        verify_core_evals(&dir).unwrap();
    }

    /// A backend that answers from the eval's own expectations.
    struct Oracle<'a> {
        eval: &'a Eval,
    }

    impl Oracle<'_> {
        fn annotations(&self) -> Option<(Vec<String>, Vec<String>)> {
            let x = &self.eval.expectations;
            let render = |ms: &[Matcher], any: &str, legacy: bool| -> Option<Vec<String>> {
                let mut out: Vec<String> = Vec::new();
                for m in ms {
                    match m {
                        Matcher::Any => out.push(any.to_string()),
                        Matcher::Message(t) => out.push(t.clone()),
                        Matcher::Regex(_) => return None,
                    }
                }
                if legacy && out.is_empty() {
                    out.push(any.to_string());
                }
                Some(out)
            };
            Some((
                render(&x.warn, "PromQL warning: w (1:1)", x.require_warn)?,
                render(&x.info, "PromQL info: i (1:1)", x.require_info)?,
            ))
        }

        fn series_on_grid(&self, start: i64, step: i64) -> Vec<MatrixSeries> {
            let mut m: Vec<MatrixSeries> = self
                .eval
                .expectations
                .series
                .iter()
                .map(|s| MatrixSeries {
                    labels: s.labels.clone(),
                    points: s
                        .values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| match v {
                            SeqValue::Float(f) => Some((start + i as i64 * step, *f)),
                            _ => None,
                        })
                        .collect(),
                })
                .collect();
            m.sort_by(|a, b| a.labels.cmp(&b.labels));
            m
        }

        fn answer(&self, value: QueryValue) -> Result<QueryOutput, String> {
            let x = &self.eval.expectations;
            if x.fail {
                return match x.fail_matchers.first() {
                    Some(Matcher::Message(m)) => Err(m.clone()),
                    _ => Err("some error".into()),
                };
            }
            let (warnings, infos) = self.annotations().ok_or("regex annotation")?;
            Ok(QueryOutput {
                value,
                warnings,
                infos,
            })
        }
    }

    impl Backend for Oracle<'_> {
        fn clear(&mut self) {}
        fn load(&mut self, _: &[LoadSeries]) -> Result<(), String> {
            Ok(())
        }
        fn instant(&mut self, _: &str, t_ms: i64) -> Result<QueryOutput, String> {
            let x = &self.eval.expectations;
            let value = if let Some(s) = &x.string {
                QueryValue::String(s.clone())
            } else if let Some(v) = x.scalar {
                QueryValue::Scalar { t_ms, v }
            } else if let Some(r) = x.range_vector {
                QueryValue::Matrix(self.series_on_grid(r.start_ms, r.step_ms))
            } else {
                let samples = x.series.iter().map(|s| {
                    let v = match s.values.first() {
                        Some(SeqValue::Float(f)) => *f,
                        _ => f64::NAN,
                    };
                    VectorSample {
                        labels: s.labels.clone(),
                        t_ms,
                        v,
                    }
                });
                QueryValue::Vector(samples.collect())
            };
            self.answer(value)
        }
        fn range(
            &mut self,
            _: &str,
            start_ms: i64,
            _: i64,
            step_ms: i64,
        ) -> Result<QueryOutput, String> {
            let x = &self.eval.expectations;
            let value = if self.eval.is_range() {
                QueryValue::Matrix(self.series_on_grid(start_ms, step_ms))
            } else if let Some(v) = x.scalar {
                QueryValue::Matrix(vec![MatrixSeries {
                    labels: vec![],
                    points: vec![(start_ms + step_ms, v)],
                }])
            } else {
                // Range mode of an instant eval: every series has its point at T.
                QueryValue::Matrix(self.series_on_grid(start_ms + step_ms, step_ms))
            };
            self.answer(value)
        }
    }

    #[test]
    fn oracle_backend_passes_every_core_eval() {
        let dir = conformance_dir();
        let core = CoreSet::load(&dir.join("core-evals.tsv")).unwrap();
        let (mut checked, mut regex_skipped) = (0, 0);
        let mut scripts: HashMap<String, Script> = HashMap::new();
        for ce in core.iter() {
            let script = scripts.entry(ce.file.clone()).or_insert_with(|| {
                script::parse_file(&dir.join("testdata").join(&ce.file)).unwrap()
            });
            let eval = script.evals().find(|e| e.line == ce.line).unwrap();
            let oracle = Oracle { eval };
            if oracle.annotations().is_none()
                || eval
                    .expectations
                    .fail_matchers
                    .iter()
                    .any(|m| matches!(m, Matcher::Regex(_)))
            {
                regex_skipped += 1;
                continue;
            }
            let res = run_eval(eval, &mut Oracle { eval });
            assert_eq!(res, Ok(()), "{}:{} {}", ce.file, ce.line, ce.query);
            checked += 1;
        }
        assert_eq!(checked + regex_skipped, 813);
        assert!(checked > 800, "{checked}");
    }

    #[test]
    fn verify_detects_changed_data() {
        let dir =
            std::env::temp_dir().join(format!("promql-testscript-verify-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("testdata")).unwrap();
        std::fs::write(
            dir.join("testdata/a.test"),
            "eval instant at 5m x\n\neval instant at 5m y\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("core-evals.tsv"),
            "file\tline\tkind\tquery\na.test\t1\tinstant\tx\na.test\t3\tinstant\tz\na.test\t2\tinstant\tx\nb.test\t1\tinstant\tx\n",
        )
        .unwrap();
        let err = verify_core_evals(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).ok();
        assert!(err.contains("a.test:3: query \"y\" differs"), "{err}");
        assert!(
            err.contains("a.test:2: core-evals.tsv lists an eval here but there is none"),
            "{err}"
        );
        assert!(
            err.contains("b.test: listed in core-evals.tsv but missing"),
            "{err}"
        );
        assert!(!err.contains("a.test:1"), "{err}");
    }
}

// Pharos — tests/promql_conformance/conformance/runner.rs
