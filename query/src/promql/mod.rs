//! PromQL: the parser, the evaluator and the values it returns.
//!
//! `parse` turns text into an [`ast::Expr`]; [`execute`] evaluates it over a [`Queryable`]
//! (the tsdb) for an instant or a range query. See `engine.rs` for how evaluation is organised.

mod aggregate;
pub mod ast;
mod binary;
mod call;
mod engine;
mod functions;
mod lexer;
pub(crate) mod math;
mod number;
mod parser;
mod printer;
mod value;

pub use engine::{CancelToken, EngineOptions, EvalError, QuerySpec, Queryable, execute};
pub use lexer::go_quote;
pub use number::{format_api_float, format_go_float, push_u64, write_api_float};
pub use parser::{parse, unquote};
pub use printer::pretty;
pub use value::{MatrixSeries, QueryResult, QueryStats, QueryValue, VectorSample};

// Pharos — query/src/promql/mod.rs
