//! Test helpers: expand Prometheus `.test` series notation and cut windows.

/// Parses one number as the `.test` format does (Inf/NaN, optional sign).
fn num(s: &str) -> f64 {
    let l = s.to_ascii_lowercase();
    match l.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "-nan" => f64::NAN,
        _ => l.parse::<f64>().unwrap_or_else(|_| panic!("bad number {s}")),
    }
}

/// Expands a `load` value list (`0+10x4 _ 1 stale NaN -2-1x5 _x3 5x2`).
/// `None` = no sample (also used for `stale`, which the evaluator removes).
pub fn series(desc: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for tok in desc.split_whitespace() {
        if tok == "_" || tok == "stale" {
            out.push(None);
            continue;
        }
        if let Some(rest) = tok.strip_prefix("_x") {
            let n: usize = rest.parse().unwrap();
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if let Some(xpos) = tok.rfind('x') {
            let n: usize = tok[xpos + 1..].parse().unwrap();
            let left = &tok[..xpos];
            // find the operator: a '+'/'-' not at position 0 and not after 'e'.
            let b = left.as_bytes();
            let mut op = None;
            for i in 1..b.len() {
                if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
                    op = Some(i);
                }
            }
            match op {
                None => {
                    let a = num(left);
                    out.extend(std::iter::repeat_n(Some(a), n + 1));
                }
                Some(i) => {
                    let mut a = num(&left[..i]);
                    let mut d = num(&left[i + 1..]);
                    if b[i] == b'-' {
                        d = -d;
                    }
                    for _ in 0..=n {
                        out.push(Some(a));
                        a += d;
                    }
                }
            }
            continue;
        }
        out.push(Some(num(tok)));
    }
    out
}

/// Samples of `series(desc)` loaded every `step_ms` that fall into the
/// left-open window `(end - range, end]`.
pub fn window(desc: &str, step_ms: i64, end_ms: i64, range_ms: i64) -> (Vec<i64>, Vec<f64>) {
    let mut ts = Vec::new();
    let mut vs = Vec::new();
    for (i, v) in series(desc).into_iter().enumerate() {
        let t = i as i64 * step_ms;
        if let Some(v) = v.filter(|_| t > end_ms - range_ms && t <= end_ms) {
            ts.push(t);
            vs.push(v);
        }
    }
    (ts, vs)
}

pub const M: i64 = 60_000;
pub const S: i64 = 1_000;

/// Prometheus test equality (`util/almost.Equal` with epsilon 1e-6).
pub fn almost_equal(a: f64, b: f64) -> bool {
    crate::promql::math::histogram::almost_equal(a, b, 1e-6)
}

#[track_caller]
pub fn assert_close(got: f64, want: f64) {
    assert!(almost_equal(got, want), "got {got:?}, want {want:?}");
}

#[track_caller]
pub fn assert_some_close(got: Option<f64>, want: f64) {
    match got {
        Some(g) => assert_close(g, want),
        None => panic!("got no sample, want {want:?}"),
    }
}

#[test]
fn series_notation() {
    let s = series("0+10x2 _ 1 -2-1x2 _x2 5x1 1e+3 Inf");
    let want = [
        Some(0.0),
        Some(10.0),
        Some(20.0),
        None,
        Some(1.0),
        Some(-2.0),
        Some(-3.0),
        Some(-4.0),
        None,
        None,
        Some(5.0),
        Some(5.0),
        Some(1000.0),
        Some(f64::INFINITY),
    ];
    assert_eq!(s, want);
}

// Pharos — query/src/promql/math/testutil.rs (test-only helper)
