//! The PromQL function table: every function of Prometheus 3.x with its signature.
//!
//! Argument and return types follow Prometheus' `promql/parser/functions.go`. The table is sorted
//! by name so [`function`] can binary-search it. Experimental functions (behind Prometheus'
//! `--enable-feature=promql-experimental-functions`) are marked `experimental: true`; the parser
//! accepts them regardless, the engine decides whether to run them.
//!
//! `variadic` uses Prometheus' encoding (see [`Function::min_args`]/[`Function::max_args`]):
//! with `variadic != 0` the last entry of `arg_types` is optional; `variadic = n > 0` allows up to
//! `n` arguments after the mandatory ones (all typed like the last entry beyond `arg_types`), and
//! `-1` allows any number. For every function except `histogram_quantiles` (`n = 9`) that is the
//! same as "the last `n` types are optional".

use super::ast::{Function, ValueType};

/// All PromQL functions, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "abs",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "absent",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "absent_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "acos",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "acosh",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "asin",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "asinh",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "atan",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "atanh",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "avg_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "ceil",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "changes",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "clamp",
        arg_types: &[ValueType::Vector, ValueType::Scalar, ValueType::Scalar],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "clamp_max",
        arg_types: &[ValueType::Vector, ValueType::Scalar],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "clamp_min",
        arg_types: &[ValueType::Vector, ValueType::Scalar],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "cos",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "cosh",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "count_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "day_of_month",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "day_of_week",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "day_of_year",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "days_in_month",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "deg",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "delta",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "deriv",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "double_exponential_smoothing",
        arg_types: &[ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function { name: "end", arg_types: &[], variadic: 0, return_type: ValueType::Scalar, experimental: true },
    Function {
        name: "exp",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "first_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "floor",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_avg",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_count",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_fraction",
        arg_types: &[ValueType::Scalar, ValueType::Scalar, ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_quantile",
        arg_types: &[ValueType::Scalar, ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_quantiles",
        arg_types: &[ValueType::Vector, ValueType::String, ValueType::Scalar, ValueType::Scalar],
        variadic: 9,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "histogram_stddev",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_stdvar",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "histogram_sum",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "hour",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "idelta",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "increase",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "info",
        arg_types: &[ValueType::Vector, ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "integral",
        arg_types: &[ValueType::Matrix, ValueType::Scalar],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "irate",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "label_join",
        arg_types: &[ValueType::Vector, ValueType::String, ValueType::String, ValueType::String],
        variadic: -1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "label_replace",
        arg_types: &[ValueType::Vector, ValueType::String, ValueType::String, ValueType::String, ValueType::String],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "last_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "ln",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "log10",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "log2",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "mad_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "max_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "min_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "minute",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "month",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function { name: "pi", arg_types: &[], variadic: 0, return_type: ValueType::Scalar, experimental: false },
    Function {
        name: "predict_linear",
        arg_types: &[ValueType::Matrix, ValueType::Scalar],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "present_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "quantile_over_time",
        arg_types: &[ValueType::Scalar, ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "rad",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function { name: "range", arg_types: &[], variadic: 0, return_type: ValueType::Scalar, experimental: true },
    Function {
        name: "rate",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "resets",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "round",
        arg_types: &[ValueType::Vector, ValueType::Scalar],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "scalar",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Scalar,
        experimental: false,
    },
    Function {
        name: "sgn",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "sin",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "sinh",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "sort",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "sort_by_label",
        arg_types: &[ValueType::Vector, ValueType::String],
        variadic: -1,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "sort_by_label_desc",
        arg_types: &[ValueType::Vector, ValueType::String],
        variadic: -1,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "sort_desc",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "sqrt",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function { name: "start", arg_types: &[], variadic: 0, return_type: ValueType::Scalar, experimental: true },
    Function {
        name: "start_timestamp",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "stddev_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "stdvar_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function { name: "step", arg_types: &[], variadic: 0, return_type: ValueType::Scalar, experimental: true },
    Function {
        name: "sum_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "tan",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "tanh",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function { name: "time", arg_types: &[], variadic: 0, return_type: ValueType::Scalar, experimental: false },
    Function {
        name: "timestamp",
        arg_types: &[ValueType::Vector],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "ts_of_first_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "ts_of_last_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "ts_of_max_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "ts_of_min_over_time",
        arg_types: &[ValueType::Matrix],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: true,
    },
    Function {
        name: "vector",
        arg_types: &[ValueType::Scalar],
        variadic: 0,
        return_type: ValueType::Vector,
        experimental: false,
    },
    Function {
        name: "year",
        arg_types: &[ValueType::Vector],
        variadic: 1,
        return_type: ValueType::Vector,
        experimental: false,
    },
];

/// Looks up a function by its (case-sensitive) name.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.binary_search_by(|f| f.name.cmp(name)).ok().map(|i| &FUNCTIONS[i])
}

impl Function {
    /// The least number of arguments a call must have.
    pub fn min_args(&self) -> usize {
        if self.variadic == 0 { self.arg_types.len() } else { self.arg_types.len().saturating_sub(1) }
    }

    /// The most arguments a call may have; `None` when unbounded (`variadic == -1`).
    pub fn max_args(&self) -> Option<usize> {
        match self.variadic {
            0 => Some(self.arg_types.len()),
            n if n > 0 => Some(self.min_args() + n as usize),
            _ => None,
        }
    }

    /// The expected type of argument `i` (the last type repeats for variadic functions).
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        match self.arg_types.get(i) {
            Some(t) => Some(*t),
            None if self.variadic != 0 => self.arg_types.last().copied(),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn lookups() {
        let rate = function("rate").unwrap();
        assert_eq!(rate.arg_types, &[ValueType::Matrix]);
        assert_eq!(rate.return_type, ValueType::Vector);
        assert!(function("holt_winters").is_none());
        assert!(function("Rate").is_none());
        assert!(function("mad_over_time").unwrap().experimental);
        assert!(!function("histogram_quantile").unwrap().experimental);
        let hour = function("hour").unwrap();
        assert_eq!((hour.min_args(), hour.max_args()), (0, Some(1)));
        let lj = function("label_join").unwrap();
        assert_eq!((lj.min_args(), lj.max_args()), (3, None));
        assert_eq!(lj.arg_type(7), Some(ValueType::String));
        let hq = function("histogram_quantiles").unwrap();
        assert_eq!((hq.min_args(), hq.max_args()), (3, Some(12)));
        let round = function("round").unwrap();
        assert_eq!((round.min_args(), round.max_args()), (1, Some(2)));
        assert_eq!(function("vector").unwrap().arg_type(1), None);
    }
}

// Pharos — query/src/promql/functions.rs
