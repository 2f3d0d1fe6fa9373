//! Conformance harness for Prometheus' PromQL test scripts (`.test` files,
//! promqltest format): parse scripts, run them against an engine through the
//! [`runner::Backend`] trait, and compare results the way upstream does.
//!
//! Module layout (kept product-independent so it can become
//! `tests/promql_conformance/` in Pharos):
//! * [`series`] — series descriptions (label sets, value sequences), Go
//!   quoting and number rules;
//! * [`script`] — the script language: `load`, `clear`, `eval` and
//!   `expect` lines;
//! * [`compare`] — neutral result types and the comparison rules;
//! * [`runner`] — the backend trait, the core-eval set and file runs.

pub mod compare;
pub mod runner;
pub mod script;
pub mod series;

/// Where the conformance suite lives: `PROMQL_CONFORMANCE_DIR`, else `../shared/conformance/promql`
/// beside the repository (where the project's machines keep it).
pub fn conformance_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("PROMQL_CONFORMANCE_DIR") {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/promql")
}

#[allow(unused_imports)]
pub use compare::{MatrixSeries, QueryOutput, QueryValue, VectorSample, almost_equal};
#[allow(unused_imports)]
pub use runner::{Backend, CoreSet, FileReport, run_file, verify_core_evals};
#[allow(unused_imports)]
pub use script::{
    Command, Eval, EvalKind, Expectations, Load, LoadSeries, Script, parse_file, parse_script,
};

// Pharos — tests/promql_conformance/conformance/mod.rs
