//! What a query returns: the four PromQL value types, annotations and statistics.

use pharos_storage::tsdb::{Labels, Sample};

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector or of a range query's result.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSeries {
    pub labels: Labels,
    pub points: Vec<Sample>,
}

/// A query's result value.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    Scalar {
        t: i64,
        v: f64,
    },
    String {
        t: i64,
        s: String,
    },
    Vector(Vec<VectorSample>),
    /// A range vector (instant query of `x[5m]`) or every range query's result, sorted by labels.
    Matrix(Vec<MatrixSeries>),
}

impl QueryValue {
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}

/// Counters of one query's work (`stats=all` in the HTTP API, benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples read from storage.
    pub samples_loaded: u64,
    /// Samples looked at by selectors, counted once per step they take part in (Prometheus'
    /// `totalQueryableSamples`).
    pub samples_scanned: u64,
    /// Largest number of samples held at once.
    pub peak_samples: u64,
}

/// A finished query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: QueryValue,
    /// `PromQL warning: … (line:col)`
    pub warnings: Vec<String>,
    /// `PromQL info: … (line:col)`
    pub infos: Vec<String>,
    pub stats: QueryStats,
}

// Pharos — query/src/promql/value.rs
