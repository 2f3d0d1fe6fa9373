//! Neutral query-result types produced by an engine adapter, and the
//! comparison of such results with an eval's expectations (FORMAT.md §5.2,
//! §5.3; upstream `compareResult`, `checkAnnotations`, `checkExpectedFailure`).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::script::{Eval, ExpectedSeries, Matcher, RangeSpec};
use super::series::{Labels, SeqValue, format_float, format_labels, is_stale_nan};

/// Relative tolerance used for all float comparisons.
pub const DEFAULT_EPSILON: f64 = 1e-6;

/// The smallest positive normal `f64` (Go's `minNormal`).
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// Labels sorted by name.
    pub labels: Labels,
    pub t_ms: i64,
    pub v: f64,
}

/// One series of a matrix (range vector).
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    /// Labels sorted by name.
    pub labels: Labels,
    /// `(timestamp ms, value)`, increasing time.
    pub points: Vec<(i64, f64)>,
}

/// A query result value.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar { t_ms: i64, v: f64 },
    String(String),
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
}

/// A successful query's value plus its annotations.
///
/// Annotations are the full rendered texts, as Prometheus' `err.Error()`
/// produces them: `PromQL warning: <text> (<line>:<col>)` and
/// `PromQL info: <text> (<line>:<col>)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub value: QueryValue,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl QueryOutput {
    /// An output without annotations.
    pub fn new(value: QueryValue) -> Self {
        QueryOutput {
            value,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }
}

/// Prometheus' `almost.Equal`: StaleNaN only equals StaleNaN; two NaNs are
/// equal; exact equality (incl. same-sign infinities); near zero or
/// subnormal an absolute bound of `epsilon * MinNormal`; otherwise relative
/// difference `|a-b| / min(|a|+|b|, MaxFloat64) < epsilon`.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Prometheus' `labels.Compare` on sorted label sets (name, then value,
/// pair by pair; a prefix sorts first).
pub fn compare_labels(a: &[(String, String)], b: &[(String, String)]) -> Ordering {
    a.cmp(b)
}

/// Checks that a matrix is sorted by label set (as every range-query result
/// must be).
pub fn check_matrix_sorted(m: &[MatrixSeries]) -> Result<(), String> {
    for (i, w) in m.windows(2).enumerate() {
        if compare_labels(&sorted(&w[0].labels), &sorted(&w[1].labels)) == Ordering::Greater {
            return Err(format!(
                "matrix results should always be sorted by labels, but matrix is not sorted: series at index {} with labels {} sorts before series at index {i} with labels {}",
                i + 1,
                format_labels(&w[1].labels),
                format_labels(&w[0].labels)
            ));
        }
    }
    Ok(())
}

/// Checks an error against a failing eval's expectations (`expect fail`
/// matchers, `expected_fail_message`/`expected_fail_regexp`). Like upstream,
/// the whole error text is compared (no prefix is stripped).
pub fn check_failure(eval: &Eval, error: &str) -> Result<(), String> {
    for m in &eval.expectations.fail_matchers {
        if !m.matches(error) {
            return Err(format!("expected error matching {m} but got: {error}"));
        }
    }
    Ok(())
}

/// Checks annotations (FORMAT.md §5.3).
pub fn check_annotations(eval: &Eval, out: &QueryOutput) -> Result<(), String> {
    let x = &eval.expectations;
    if x.require_warn && out.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if x.require_info && out.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    check_annotations_of_kind(&x.warn, &out.warnings, "warn")?;
    check_annotations_of_kind(&x.info, &out.infos, "info")?;
    if x.no_warn && !out.warnings.is_empty() {
        return Err(format!(
            "unexpected warning annotations: {:?}",
            out.warnings
        ));
    }
    if x.no_info && !out.infos.is_empty() {
        return Err(format!("unexpected info annotations: {:?}", out.infos));
    }
    Ok(())
}

fn check_annotations_of_kind(
    expected: &[Matcher],
    actual: &[String],
    kind: &str,
) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    for e in expected {
        if !actual.iter().any(|a| e.matches(a)) {
            return Err(format!(
                "expected {kind} annotation matching {e} but no matching annotation was found, found: {actual:?}"
            ));
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.matches(a)) {
            return Err(format!("unexpected {kind} annotation {a:?} found"));
        }
    }
    Ok(())
}

/// Compares a result value with the eval's expected result.
///
/// Result kinds must match the expectation: `expect string` ⇒ string; a
/// scalar line ⇒ scalar; range eval or `expect range vector` ⇒ matrix
/// (label-sorted); otherwise an instant vector. Duplicate label sets in a
/// result are reported as an error.
pub fn compare_result(eval: &Eval, value: &QueryValue) -> Result<(), String> {
    let x = &eval.expectations;
    if let Some(want) = &x.string {
        return match value {
            QueryValue::String(got) if got == want => Ok(()),
            QueryValue::String(got) => Err(format!("expected string {want:?} but got {got:?}")),
            other => Err(format!(
                "expected string {want:?} but got {}",
                describe(other)
            )),
        };
    }
    if let Some(want) = x.scalar {
        return match value {
            QueryValue::Scalar { v, .. } if almost_equal(want, *v, DEFAULT_EPSILON) => Ok(()),
            QueryValue::Scalar { v, .. } => Err(format!(
                "expected scalar {} but got {}",
                format_float(want),
                format_float(*v)
            )),
            other => Err(format!(
                "expected scalar {} but got {}",
                format_float(want),
                describe(other)
            )),
        };
    }
    match value {
        QueryValue::String(s) => Err(format!(
            "expected {} but got string {s:?}",
            expected_kind(eval)
        )),
        QueryValue::Scalar { v, .. } => Err(format!(
            "expected {} but got scalar {}",
            expected_kind(eval),
            format_float(*v)
        )),
        QueryValue::Matrix(m) => {
            if x.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            match eval.matrix_grid() {
                Some(grid) => compare_matrix(&x.series, grid, m),
                None => Err(format!(
                    "expected instant vector but got {}",
                    describe(value)
                )),
            }
        }
        QueryValue::Vector(v) => {
            if eval.matrix_grid().is_some() {
                return Err(format!(
                    "expected range vector (matrix) but got {}",
                    describe(value)
                ));
            }
            compare_vector(&x.series, x.ordered, v)
        }
    }
}

fn expected_kind(eval: &Eval) -> &'static str {
    if eval.matrix_grid().is_some() {
        "range vector (matrix)"
    } else {
        "instant vector"
    }
}

fn describe(v: &QueryValue) -> String {
    match v {
        QueryValue::Scalar { v, .. } => format!("scalar {}", format_float(*v)),
        QueryValue::String(s) => format!("string {s:?}"),
        QueryValue::Vector(v) => format!("instant vector with {} samples", v.len()),
        QueryValue::Matrix(m) => format!("matrix with {} series", m.len()),
    }
}

fn sorted(labels: &Labels) -> Labels {
    let mut l = labels.clone();
    l.sort();
    l
}

/// Maps each expected label set to (1-based position among series lines,
/// expectation); a repeated label set keeps its last line, as upstream.
fn expected_map(series: &[ExpectedSeries]) -> HashMap<Labels, (usize, &ExpectedSeries)> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| (sorted(&s.labels), (i + 1, s)))
        .collect()
}

fn compare_vector(
    expected: &[ExpectedSeries],
    ordered: bool,
    got: &[VectorSample],
) -> Result<(), String> {
    let exp = expected_map(expected);
    let mut problems = Vec::new();
    let mut seen: HashSet<Labels> = HashSet::new();
    for (pos, s) in got.iter().enumerate() {
        let labels = sorted(&s.labels);
        if !seen.insert(labels.clone()) {
            problems.push(format!(
                "duplicate series {} in result",
                format_labels(&labels)
            ));
            continue;
        }
        let Some((epos, es)) = exp.get(&labels) else {
            problems.push(format!(
                "unexpected metric {} in result, has value {}",
                format_labels(&labels),
                format_float(s.v)
            ));
            continue;
        };
        if ordered && *epos != pos + 1 {
            problems.push(format!(
                "expected metric {} at position {epos} but was at {}",
                format_labels(&labels),
                pos + 1
            ));
        }
        match es.values.first() {
            None => problems.push(format!(
                "expectation for {} has no value",
                format_labels(&labels)
            )),
            Some(SeqValue::Omitted) => problems.push(format!(
                "expectation for {} is `_` (no value) but the result has {}",
                format_labels(&labels),
                format_float(s.v)
            )),
            Some(SeqValue::Histogram(h)) => problems.push(format!(
                "expected histogram {h} for {} but got float value {}",
                format_labels(&labels),
                format_float(s.v)
            )),
            Some(SeqValue::Float(f)) => {
                if !almost_equal(*f, s.v, DEFAULT_EPSILON) {
                    problems.push(format!(
                        "expected {} for {} but got {}",
                        format_float(*f),
                        format_labels(&labels),
                        format_float(s.v)
                    ));
                }
            }
        }
    }
    let mut missing: Vec<&ExpectedSeries> = exp
        .iter()
        .filter(|(l, _)| !seen.contains(*l))
        .map(|(_, (_, s))| *s)
        .collect();
    missing.sort_by_key(|s| s.line);
    for s in missing {
        problems.push(format!(
            "expected metric {} with {} not found",
            format_labels(&s.labels),
            format_values(&s.values)
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut msg = problems.join("\n");
    msg.push_str(&format!(
        "\n  expected ({}):\n",
        if ordered { "ordered" } else { "any order" }
    ));
    push_expected(&mut msg, expected);
    msg.push_str("  got:\n");
    if got.is_empty() {
        msg.push_str("    (empty vector)\n");
    }
    for s in got {
        let _ = writeln!(
            msg,
            "    {} {}",
            format_labels(&s.labels),
            format_float(s.v)
        );
    }
    Err(msg.trim_end().to_string())
}

fn compare_matrix(
    expected: &[ExpectedSeries],
    grid: RangeSpec,
    got: &[MatrixSeries],
) -> Result<(), String> {
    check_matrix_sorted(got)?;
    let exp = expected_map(expected);
    let mut problems = Vec::new();
    let mut seen: HashSet<Labels> = HashSet::new();
    for s in got {
        let labels = sorted(&s.labels);
        if !seen.insert(labels.clone()) {
            problems.push(format!(
                "duplicate series {} in result",
                format_labels(&labels)
            ));
            continue;
        }
        let Some((_, es)) = exp.get(&labels) else {
            problems.push(format!(
                "unexpected metric {} in result, has {}",
                format_labels(&labels),
                format_points(&s.points)
            ));
            continue;
        };
        let mut want: Vec<(i64, f64)> = Vec::new();
        let mut want_hist = 0usize;
        let mut too_many = false;
        for (i, v) in es.values.iter().enumerate() {
            let t = (i as i64)
                .checked_mul(grid.step_ms)
                .and_then(|d| d.checked_add(grid.start_ms));
            let Some(t) = t.filter(|&t| t <= grid.end_ms) else {
                too_many = true;
                break;
            };
            match v {
                SeqValue::Float(f) => want.push((t, *f)),
                SeqValue::Omitted => {}
                SeqValue::Histogram(_) => want_hist += 1,
            }
        }
        if too_many {
            problems.push(format!(
                "expected {} points for {}, but query time range cannot return this many points",
                es.values.len(),
                format_labels(&labels)
            ));
            continue;
        }
        if want.len() != s.points.len() || want_hist != 0 {
            problems.push(format!(
                "expected {} float points and {want_hist} histogram points for {}, but got {}",
                want.len(),
                format_labels(&labels),
                format_points(&s.points)
            ));
            continue;
        }
        for (i, (w, g)) in want.iter().zip(&s.points).enumerate() {
            if w.0 != g.0 {
                problems.push(format!(
                    "expected float value at index {i} for {} to have timestamp {}, but it had timestamp {} (result has {})",
                    format_labels(&labels),
                    w.0,
                    g.0,
                    format_points(&s.points)
                ));
                break;
            }
            if !almost_equal(g.1, w.1, DEFAULT_EPSILON) {
                problems.push(format!(
                    "expected float value at index {i} (t={}) for {} to be {}, but got {} (result has {})",
                    g.0,
                    format_labels(&labels),
                    format_float(w.1),
                    format_float(g.1),
                    format_points(&s.points)
                ));
                break;
            }
        }
    }
    let mut missing: Vec<&ExpectedSeries> = exp
        .iter()
        .filter(|(l, _)| !seen.contains(*l))
        .map(|(_, (_, s))| *s)
        .collect();
    missing.sort_by_key(|s| s.line);
    for s in missing {
        problems.push(format!(
            "expected metric {} not found",
            format_labels(&s.labels)
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut msg = problems.join("\n");
    let _ = writeln!(
        msg,
        "\n  expected (from {} to {} step {} ms):",
        grid.start_ms, grid.end_ms, grid.step_ms
    );
    push_expected(&mut msg, expected);
    msg.push_str("  got:\n");
    if got.is_empty() {
        msg.push_str("    (empty matrix)\n");
    }
    for s in got {
        let _ = writeln!(
            msg,
            "    {} {}",
            format_labels(&s.labels),
            format_points(&s.points)
        );
    }
    Err(msg.trim_end().to_string())
}

fn push_expected(msg: &mut String, expected: &[ExpectedSeries]) {
    if expected.is_empty() {
        msg.push_str("    (nothing)\n");
    }
    for s in expected {
        let _ = writeln!(
            msg,
            "    {} {}",
            format_labels(&s.labels),
            format_values(&s.values)
        );
    }
}

fn format_values(values: &[SeqValue]) -> String {
    values
        .iter()
        .map(|v| match v {
            SeqValue::Float(f) => format_float(*f),
            SeqValue::Omitted => "_".into(),
            SeqValue::Histogram(h) => h.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn format_points(points: &[(i64, f64)]) -> String {
    let body = points
        .iter()
        .map(|(t, v)| format!("{} @{t}", format_float(*v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} float point{} [{body}]",
        points.len(),
        if points.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::super::script::parse_script;
    use super::super::series::stale_nan;
    use super::*;

    fn eval(src: &str) -> Eval {
        parse_script(src).unwrap().evals().next().unwrap().clone()
    }
    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
    fn vs(pairs: &[(&str, &str)], v: f64) -> VectorSample {
        VectorSample {
            labels: l(pairs),
            t_ms: 0,
            v,
        }
    }
    fn ms(pairs: &[(&str, &str)], points: &[(i64, f64)]) -> MatrixSeries {
        MatrixSeries {
            labels: l(pairs),
            points: points.to_vec(),
        }
    }

    #[test]
    fn tolerance() {
        let e = DEFAULT_EPSILON;
        assert!(almost_equal(f64::NAN, f64::NAN, e));
        assert!(almost_equal(f64::NAN, -f64::NAN, e));
        assert!(!almost_equal(f64::NAN, 1.0, e));
        assert!(almost_equal(stale_nan(), stale_nan(), e));
        assert!(!almost_equal(stale_nan(), f64::NAN, e));
        assert!(!almost_equal(f64::NAN, stale_nan(), e));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, e));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, e));
        assert!(!almost_equal(f64::INFINITY, f64::MAX, e));
        assert!(almost_equal(1.0, 1.0 + 1e-7, e));
        assert!(!almost_equal(1.0, 1.0 + 3e-6, e));
        assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-7), e));
        assert!(almost_equal(f64::MAX, f64::MAX * (1.0 - 1e-9), e));
        // Zero is effectively exact.
        assert!(!almost_equal(0.0, 1e-300, e));
        assert!(almost_equal(0.0, -0.0, e));
        // Subnormals: absolute bound epsilon * MinNormal.
        assert!(almost_equal(5e-324, 1e-320, e));
        assert!(!almost_equal(1e-310, 2e-310, e));
    }

    #[test]
    fn vector_unordered() {
        let ev = eval("eval instant at 1m x\n  {a=\"1\"} 1\n  {a=\"2\"} 2\n");
        let ok = QueryValue::Vector(vec![vs(&[("a", "2")], 2.0 + 1e-9), vs(&[("a", "1")], 1.0)]);
        assert_eq!(compare_result(&ev, &ok), Ok(()));
        let wrong = QueryValue::Vector(vec![vs(&[("a", "2")], 2.5), vs(&[("a", "1")], 1.0)]);
        let err = compare_result(&ev, &wrong).unwrap_err();
        assert!(
            err.contains("expected 2 for {a=\"2\"} but got 2.5"),
            "{err}"
        );
        assert!(
            err.contains("expected (any order)") && err.contains("got:"),
            "{err}"
        );
        let missing = QueryValue::Vector(vec![vs(&[("a", "1")], 1.0)]);
        assert!(
            compare_result(&ev, &missing)
                .unwrap_err()
                .contains("expected metric {a=\"2\"} with 2 not found")
        );
        let extra = QueryValue::Vector(vec![
            vs(&[("a", "1")], 1.0),
            vs(&[("a", "2")], 2.0),
            vs(&[("a", "3")], 3.0),
        ]);
        assert!(
            compare_result(&ev, &extra)
                .unwrap_err()
                .contains("unexpected metric {a=\"3\"}")
        );
        let dup = QueryValue::Vector(vec![
            vs(&[("a", "1")], 1.0),
            vs(&[("a", "2")], 2.0),
            vs(&[("a", "1")], 1.0),
        ]);
        assert!(
            compare_result(&ev, &dup)
                .unwrap_err()
                .contains("duplicate series")
        );
        // __name__ is part of the label set.
        let named = QueryValue::Vector(vec![
            vs(&[("__name__", "x"), ("a", "1")], 1.0),
            vs(&[("a", "2")], 2.0),
        ]);
        assert!(compare_result(&ev, &named).is_err());
    }

    #[test]
    fn vector_empty_and_kinds() {
        let ev = eval("eval instant at 1m x\n");
        assert_eq!(compare_result(&ev, &QueryValue::Vector(vec![])), Ok(()));
        assert!(compare_result(&ev, &QueryValue::Vector(vec![vs(&[], 1.0)])).is_err());
        assert!(compare_result(&ev, &QueryValue::Scalar { t_ms: 0, v: 1.0 }).is_err());
        assert!(compare_result(&ev, &QueryValue::Matrix(vec![])).is_err());
        assert!(compare_result(&ev, &QueryValue::String(String::new())).is_err());
        let hist = eval("eval instant at 1m x\n  x {{count:1}}\n");
        assert!(
            compare_result(
                &hist,
                &QueryValue::Vector(vec![vs(&[("__name__", "x")], 1.0)])
            )
            .unwrap_err()
            .contains("histogram")
        );
    }

    #[test]
    fn vector_special_values() {
        let ev =
            eval("eval instant at 1m x\n  {a=\"n\"} NaN\n  {a=\"i\"} -Inf\n  {a=\"s\"} stale\n");
        let ok = QueryValue::Vector(vec![
            vs(&[("a", "n")], f64::NAN),
            vs(&[("a", "i")], f64::NEG_INFINITY),
            vs(&[("a", "s")], stale_nan()),
        ]);
        assert_eq!(compare_result(&ev, &ok), Ok(()));
        let bad = QueryValue::Vector(vec![
            vs(&[("a", "n")], stale_nan()),
            vs(&[("a", "i")], f64::INFINITY),
            vs(&[("a", "s")], f64::NAN),
        ]);
        let err = compare_result(&ev, &bad).unwrap_err();
        assert_eq!(
            err.lines()
                .take_while(|l| l.starts_with("expected ") && !l.starts_with("  "))
                .count(),
            3,
            "{err}"
        );
    }

    #[test]
    fn vector_ordered() {
        let ev = eval(
            "eval instant at 1m sort(x)\n  expect ordered\n  {a=\"1\"} 1\n  expect no_warn\n  {a=\"2\"} 2\n",
        );
        let ok = QueryValue::Vector(vec![vs(&[("a", "1")], 1.0), vs(&[("a", "2")], 2.0)]);
        assert_eq!(compare_result(&ev, &ok), Ok(()));
        let swapped = QueryValue::Vector(vec![vs(&[("a", "2")], 2.0), vs(&[("a", "1")], 1.0)]);
        assert!(
            compare_result(&ev, &swapped)
                .unwrap_err()
                .contains("at position 2 but was at 1")
        );
        let legacy = eval("eval_ordered instant at 1m sort(x)\n  {a=\"1\"} 1\n  {a=\"2\"} 2\n");
        assert!(compare_result(&legacy, &swapped).is_err());
        // Ordered evals cannot take a matrix.
        assert!(compare_result(&ev, &QueryValue::Matrix(vec![])).is_err());
    }

    #[test]
    fn scalar_and_string() {
        let ev = eval("eval instant at 1m 1\n  1.0000001\n");
        assert_eq!(
            compare_result(
                &ev,
                &QueryValue::Scalar {
                    t_ms: 60_000,
                    v: 1.0
                }
            ),
            Ok(())
        );
        assert!(
            compare_result(
                &ev,
                &QueryValue::Scalar {
                    t_ms: 60_000,
                    v: 1.1
                }
            )
            .unwrap_err()
            .contains("expected scalar 1.0000001 but got 1.1")
        );
        assert!(compare_result(&ev, &QueryValue::Vector(vec![vs(&[], 1.0)])).is_err());
        let nan = eval("eval instant at 1m 0/0\n  NaN\n");
        assert_eq!(
            compare_result(
                &nan,
                &QueryValue::Scalar {
                    t_ms: 0,
                    v: f64::NAN
                }
            ),
            Ok(())
        );
        let s = eval("eval instant at 1m \"Foo\"\n  expect string \"Foo\"\n");
        assert_eq!(
            compare_result(&s, &QueryValue::String("Foo".into())),
            Ok(())
        );
        assert!(compare_result(&s, &QueryValue::String("foo".into())).is_err());
        assert!(compare_result(&s, &QueryValue::Vector(vec![])).is_err());
    }

    #[test]
    fn matrix() {
        let ev = eval("eval range from 0 to 2m step 1m x\n  x{a=\"1\"} 1 _ 3\n  x{a=\"2\"} 0x2\n");
        let good = vec![
            ms(
                &[("__name__", "x"), ("a", "1")],
                &[(0, 1.0), (120_000, 3.0)],
            ),
            ms(
                &[("__name__", "x"), ("a", "2")],
                &[(0, 0.0), (60_000, 0.0), (120_000, 0.0)],
            ),
        ];
        assert_eq!(
            compare_result(&ev, &QueryValue::Matrix(good.clone())),
            Ok(())
        );
        // Unsorted matrix.
        let mut unsorted = good.clone();
        unsorted.reverse();
        assert!(
            compare_result(&ev, &QueryValue::Matrix(unsorted))
                .unwrap_err()
                .contains("not sorted")
        );
        // Point present where `_` expects none.
        let mut extra = good.clone();
        extra[0].points.insert(1, (60_000, 2.0));
        assert!(
            compare_result(&ev, &QueryValue::Matrix(extra))
                .unwrap_err()
                .contains("expected 2 float points")
        );
        // Wrong timestamp.
        let mut wrong_t = good.clone();
        wrong_t[0].points[1].0 = 90_000;
        assert!(
            compare_result(&ev, &QueryValue::Matrix(wrong_t))
                .unwrap_err()
                .contains("timestamp")
        );
        // Wrong value.
        let mut wrong_v = good.clone();
        wrong_v[1].points[2].1 = 1.0;
        let err = compare_result(&ev, &QueryValue::Matrix(wrong_v)).unwrap_err();
        assert!(err.contains("to be 0, but got 1"), "{err}");
        // Missing series.
        assert!(
            compare_result(&ev, &QueryValue::Matrix(good[..1].to_vec()))
                .unwrap_err()
                .contains("not found")
        );
        // A vector is not a matrix.
        assert!(compare_result(&ev, &QueryValue::Vector(vec![])).is_err());
        // More expected values than fit in [start, end].
        let too_many = eval("eval range from 0 to 1m step 1m x\n  x 1 2 3\n");
        let got = QueryValue::Matrix(vec![ms(&[("__name__", "x")], &[(0, 1.0), (60_000, 2.0)])]);
        assert!(
            compare_result(&too_many, &got)
                .unwrap_err()
                .contains("cannot return this many points")
        );
        // Empty expectation, empty matrix.
        let empty = eval("eval range from 0 to 1m step 1m x\n");
        assert_eq!(compare_result(&empty, &QueryValue::Matrix(vec![])), Ok(()));
    }

    #[test]
    fn expect_range_vector() {
        let ev = eval(
            "eval instant at 1m x[1m]\n  expect range vector from 10s to 1m step 10s\n  x 2 3 _ 5 6\n",
        );
        let got = QueryValue::Matrix(vec![ms(
            &[("__name__", "x")],
            &[(10_000, 2.0), (20_000, 3.0), (40_000, 5.0), (50_000, 6.0)],
        )]);
        assert_eq!(compare_result(&ev, &got), Ok(()));
        assert!(compare_result(&ev, &QueryValue::Vector(vec![])).is_err());
    }

    #[test]
    fn annotations() {
        let out = |w: &[&str], i: &[&str]| QueryOutput {
            value: QueryValue::Vector(vec![]),
            warnings: w.iter().map(|s| s.to_string()).collect(),
            infos: i.iter().map(|s| s.to_string()).collect(),
        };
        let w1 = "PromQL warning: bad thing (1:5)";
        let i1 = "PromQL info: note (1:1)";
        // No annotation expectations: anything goes.
        let plain = eval("eval instant at 1m x\n");
        assert_eq!(check_annotations(&plain, &out(&[w1], &[i1])), Ok(()));
        // expect warn (any): at least one, all must match.
        let any = eval("eval instant at 1m x\n  expect warn\n");
        assert!(check_annotations(&any, &out(&[], &[])).is_err());
        assert_eq!(
            check_annotations(&any, &out(&[w1, "PromQL warning: other (1:1)"], &[i1])),
            Ok(())
        );
        // msg: exact; every warning must be covered.
        let msg = eval(&format!("eval instant at 1m x\n  expect warn msg: {w1}\n"));
        assert_eq!(check_annotations(&msg, &out(&[w1], &[])), Ok(()));
        assert!(check_annotations(&msg, &out(&["PromQL warning: bad thing (1:6)"], &[])).is_err());
        assert!(
            check_annotations(&msg, &out(&[w1, "PromQL warning: other (1:1)"], &[]))
                .unwrap_err()
                .contains("unexpected warn annotation")
        );
        // regex: unanchored.
        let re = eval("eval instant at 1m x\n  expect info regex: no.e \\(1:\n");
        assert_eq!(check_annotations(&re, &out(&[], &[i1])), Ok(()));
        assert!(check_annotations(&re, &out(&[], &["PromQL info: nothing (2:1)"])).is_err());
        // no_warn / no_info.
        let none = eval("eval instant at 1m x\n  expect no_warn\n  expect no_info\n");
        assert_eq!(check_annotations(&none, &out(&[], &[])), Ok(()));
        assert!(check_annotations(&none, &out(&[w1], &[])).is_err());
        assert!(check_annotations(&none, &out(&[], &[i1])).is_err());
        // no_warn alone does not restrict infos.
        let nw = eval("eval instant at 1m x\n  expect no_warn\n");
        assert_eq!(check_annotations(&nw, &out(&[], &[i1])), Ok(()));
        // Legacy eval_warn / eval_info: just "at least one".
        let lw = eval("eval_warn instant at 1m x\n");
        assert!(check_annotations(&lw, &out(&[], &[i1])).is_err());
        assert_eq!(check_annotations(&lw, &out(&[w1], &[])), Ok(()));
        let li = eval("eval_info instant at 1m x\n");
        assert!(check_annotations(&li, &out(&[w1], &[])).is_err());
        assert_eq!(check_annotations(&li, &out(&[], &[i1])), Ok(()));
    }

    #[test]
    fn failures() {
        let msg = eval(
            "eval instant at 1m x\n  expect fail msg: vector cannot contain metrics with the same labelset\n",
        );
        assert_eq!(
            check_failure(&msg, "vector cannot contain metrics with the same labelset"),
            Ok(())
        );
        assert!(
            check_failure(
                &msg,
                "1:1: vector cannot contain metrics with the same labelset"
            )
            .is_err()
        );
        let re = eval("eval instant at 1m x\n  expect fail regex: conflicting label\n");
        assert_eq!(check_failure(&re, "found conflicting label sets"), Ok(()));
        assert!(check_failure(&re, "other").is_err());
        let any = eval("eval instant at 1m x\n  expect fail\n");
        assert_eq!(check_failure(&any, "whatever"), Ok(()));
        let legacy = eval("eval_fail instant at 1m x\n  expected_fail_message boom\n");
        assert_eq!(check_failure(&legacy, "boom"), Ok(()));
        assert!(check_failure(&legacy, "boom!").is_err());
    }
}

// Pharos — tests/promql_conformance/conformance/compare.rs
