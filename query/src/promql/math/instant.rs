//! Per-element instant-vector math (Prometheus `promql/functions.go`:
//! `simpleFloatFunc` users, `round`, `clamp*`). Histogram samples are
//! skipped by Prometheus for all of these (they produce no output); the
//! evaluator must do the same. All functions are total: NaN in → NaN out
//! unless stated otherwise.

use crate::promql::math::aggregate::{go_max, go_min};

const TWO_POW_28: f64 = 268_435_456.0; // 1 << 28
const LN2: f64 = core::f64::consts::LN_2;

/// `asinh` with Go `math.Asinh`'s case split (accurate for huge and tiny
/// arguments): ±Inf/NaN returned as-is.
pub fn go_asinh(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return x;
    }
    let neg = x < 0.0;
    let a = x.abs();
    let t = if a > TWO_POW_28 {
        a.ln() + LN2
    } else if a > 2.0 {
        (2.0 * a + 1.0 / ((a * a + 1.0).sqrt() + a)).ln()
    } else if a < 1.0 / TWO_POW_28 {
        a
    } else {
        (a + a * a / (1.0 + (1.0 + a * a).sqrt())).ln_1p()
    };
    if neg { -t } else { t }
}

/// `acosh` with Go `math.Acosh`'s case split: `x < 1` or NaN → NaN,
/// `acosh(1) = 0`, `acosh(+Inf) = +Inf`.
pub fn go_acosh(x: f64) -> f64 {
    if x < 1.0 || x.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return 0.0;
    }
    if x >= TWO_POW_28 {
        return x.ln() + LN2;
    }
    if x > 2.0 {
        return (2.0 * x - 1.0 / (x + (x * x - 1.0).sqrt())).ln();
    }
    let t = x - 1.0;
    (t + (2.0 * t + t * t).sqrt()).ln_1p()
}

/// `atanh` with Go `math.Atanh`'s case split: `|x| > 1` or NaN → NaN,
/// `atanh(±1) = ±Inf`.
pub fn go_atanh(x: f64) -> f64 {
    if !(-1.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    let neg = x < 0.0;
    let a = x.abs();
    let t = if a < 1.0 / TWO_POW_28 {
        a
    } else if a < 0.5 {
        let t = a + a;
        0.5 * (t + t * a / (1.0 - a)).ln_1p()
    } else {
        0.5 * ((a + a) / (1.0 - a)).ln_1p()
    };
    if neg { -t } else { t }
}

/// `sgn(v)`: -1 for negative, 1 for positive, otherwise `v` itself (so
/// `sgn(±0) = ±0` and `sgn(NaN) = NaN`).
pub fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// `rad(v)`: `v·π/180`, evaluated left to right like Prometheus.
pub fn rad(v: f64) -> f64 {
    v * core::f64::consts::PI / 180.0
}

/// `deg(v)`: `v·180/π`, evaluated left to right like Prometheus.
pub fn deg(v: f64) -> f64 {
    v * 180.0 / core::f64::consts::PI
}

/// The one-argument math functions of PromQL by name: `abs ceil floor exp
/// sqrt ln log2 log10 sin cos tan asin acos atan sinh cosh tanh asinh acosh
/// atanh deg rad sgn` (Prometheus uses Go's `math` package; Rust's libm
/// agrees to within an ulp or two, far below the 1e-6 test tolerance, and
/// on all special values: e.g. `ln(0) = -Inf`, `ln(-1) = NaN`,
/// `sqrt(-1) = NaN`, `sin(±Inf) = NaN`, `exp(710) = +Inf`). Returns `None`
/// for any other name.
pub fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => go_asinh,
        "acosh" => go_acosh,
        "atanh" => go_atanh,
        "deg" => deg,
        "rad" => rad,
        "sgn" => sgn,
        _ => return None,
    };
    Some(f)
}

/// `round(v, to_nearest)` exactly as Prometheus:
/// `floor(v·(1/to_nearest) + 0.5) / (1/to_nearest)` — ties round up
/// (towards +Inf), e.g. `round(-2.5) = -2`. `to_nearest` defaults to 1 in
/// PromQL. `to_nearest = 0` gives `floor(v·Inf + 0.5)/Inf` (NaN for v = 0,
/// otherwise NaN as well since ±Inf/Inf = NaN); NaN propagates.
pub fn round(v: f64, to_nearest: f64) -> f64 {
    let inv = 1.0 / to_nearest;
    (v * inv + 0.5).floor() / inv
}

/// `clamp(v, min, max)`: `go_max(min, go_min(max, v))` with Go's
/// `math.Max/Min` semantics. Returns `None` when `max < min` — in that case
/// Prometheus returns an EMPTY vector for the whole call, not just this
/// element. A NaN `min` or `max` yields NaN for every element (the test
/// suite's `clamp(x, 0, NaN)` / `clamp(x, NaN, 0)`), except where Go's
/// `Max/Min` let ±Inf win over NaN.
pub fn clamp(v: f64, min: f64, max: f64) -> Option<f64> {
    if max < min {
        return None;
    }
    Some(go_max(min, go_min(max, v)))
}

/// `clamp_min(v, min)` = `clamp(v, min, +Inf)` (never empty).
pub fn clamp_min(v: f64, min: f64) -> f64 {
    go_max(min, go_min(f64::INFINITY, v))
}

/// `clamp_max(v, max)` = `clamp(v, -Inf, max)` (never empty).
pub fn clamp_max(v: f64, max: f64) -> f64 {
    go_max(f64::NEG_INFINITY, go_min(max, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::math::testutil::assert_close;

    fn f(name: &str) -> fn(f64) -> f64 {
        math_function(name).unwrap()
    }

    #[test]
    fn trig_functions_test() {
        // trig_functions.test: trig{l="x"} 10, {l="y"} 20, {l="NaN"} NaN.
        let cases: [(&str, f64, f64, f64); 16] = [
            ("sin", 0.0, -0.5440211108893699, 0.9129452507276277),
            ("cos", 0.0, -0.8390715290764524, 0.40808206181339196),
            ("tan", 0.0, 0.6483608274590867, 2.2371609442247427),
            ("asin", -10.1, -0.10016742116155944, f64::NAN),
            ("acos", -10.1, 1.670963747956456, f64::NAN),
            ("atan", 0.0, 1.4711276743037345, 1.5208379310729538),
            ("sinh", 0.0, 11013.232920103324, 2.4258259770489514e+08),
            ("cosh", 0.0, 11013.232920103324, 2.4258259770489514e+08),
            ("tanh", 0.0, 0.9999999958776927, 1.0),
            ("asinh", 0.0, 2.99822295029797, 3.6895038689889055),
            ("acosh", 0.0, 2.993222846126381, 3.6882538673612966),
            ("atanh", -10.1, -0.10033534773107522, f64::NAN),
            ("rad", 0.0, 0.17453292519943295, 0.3490658503988659),
            ("rad", -20.0, -0.17453292519943295, 0.0),
            ("deg", 0.0, 572.9577951308232, 1145.9155902616465),
            ("deg", -10.0, 0.0, 572.9577951308232),
        ];
        for (name, shift, x, y) in cases {
            assert_close(f(name)(10.0 + shift), x);
            assert_close(f(name)(20.0 + shift), y);
            assert!(f(name)(f64::NAN).is_nan(), "{name}(NaN)");
        }
    }

    #[test]
    fn misc_math() {
        assert_eq!(f("abs")(-3.0), 3.0);
        assert_eq!(f("ceil")(1.2), 2.0);
        assert_eq!(f("floor")(-1.2), -2.0);
        assert_eq!(f("ln")(0.0), f64::NEG_INFINITY);
        assert!(f("ln")(-1.0).is_nan());
        assert!(f("sqrt")(-1.0).is_nan());
        assert_eq!(f("log2")(8.0), 3.0);
        assert_close(f("log10")(1000.0), 3.0);
        assert_eq!(f("exp")(710.0), f64::INFINITY);
        assert!(f("sin")(f64::INFINITY).is_nan());
        assert_eq!(go_asinh(1e300), 1e300f64.ln() + LN2);
        assert_close(go_acosh(1e300), 691.4686750787736);
        assert_eq!(go_atanh(1.0), f64::INFINITY);
        assert_eq!(go_atanh(-1.0), f64::NEG_INFINITY);
        assert!(go_acosh(0.5).is_nan());
        assert_eq!(go_asinh(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(math_function("nope").is_none());
        assert!(math_function("round").is_none());
    }

    #[test]
    fn sgn_test() {
        // functions.test sgn: -Inf Inf NaN -50 0 100 -> -1 1 NaN -1 0 1.
        assert_eq!(sgn(f64::NEG_INFINITY), -1.0);
        assert_eq!(sgn(f64::INFINITY), 1.0);
        assert!(sgn(f64::NAN).is_nan());
        assert_eq!(sgn(-50.0), -1.0);
        assert_eq!(sgn(0.0), 0.0);
        assert!(sgn(-0.0).is_sign_negative());
        assert_eq!(sgn(100.0), 1.0);
    }

    #[test]
    fn round_test() {
        // aggregators.test round cases with http_requests{prod} = 100 / 200 at 50m.
        for (x, y, to, wx, wy) in [
            (0.005 * 100.0, 0.005 * 200.0, 1.0, 1.0, 1.0),
            (-0.5, -1.0, 1.0, 0.0, -1.0),
            (1.0 + 0.5, 1.0 + 1.0, 1.0, 2.0, 2.0),
            (-1.5, -2.0, 1.0, -1.0, -2.0),
            (0.0005 * 100.0, 0.0005 * 200.0, 0.1, 0.1, 0.1),
            (2.1 + 0.05, 2.1 + 0.1, 0.1, 2.2, 2.2),
            (5.2 + 0.05, 5.2 + 0.1, 0.1, 5.3, 5.3),
            (-(5.2 + 0.05), -(5.2 + 0.1), 0.1, -5.2, -5.3),
            (0.025 * 100.0, 0.025 * 200.0, 5.0, 5.0, 5.0),
            (0.045 * 100.0, 0.045 * 200.0, 5.0, 5.0, 10.0),
        ] {
            assert_close(round(x, to), wx);
            assert_close(round(y, to), wy);
        }
        assert!(round(f64::NAN, 1.0).is_nan());
        assert_eq!(round(f64::INFINITY, 1.0), f64::INFINITY);
        assert!(round(1.0, 0.0).is_nan());
    }

    #[test]
    fn clamp_test() {
        // functions.test clamp cases with -50, 0, 100.
        let v = [-50.0, 0.0, 100.0];
        assert_eq!(v.map(|x| clamp_max(x, 75.0)), [-50.0, 0.0, 75.0]);
        assert_eq!(v.map(|x| clamp_min(x, -25.0)), [-25.0, 0.0, 100.0]);
        assert_eq!(v.map(|x| clamp(x, -25.0, 75.0)), [Some(-25.0), Some(0.0), Some(75.0)]);
        assert_eq!(v.map(|x| clamp_max(clamp_min(x, -20.0), 70.0)), [-20.0, 0.0, 70.0]);
        for x in v {
            assert!(clamp(x, 0.0, f64::NAN).unwrap().is_nan());
            assert!(clamp(x, f64::NAN, 0.0).unwrap().is_nan());
            assert_eq!(clamp(x, 5.0, -5.0), None);
        }
        assert!(clamp_min(f64::NAN, 1.0).is_nan());
        assert_eq!(clamp_min(f64::INFINITY, f64::NAN), f64::INFINITY);
    }
}

// Pharos — query/src/promql/math/instant.rs
