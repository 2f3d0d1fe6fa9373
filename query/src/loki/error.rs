//! The one error type of the Loki query module.
//!
//! Every variant maps onto an HTTP status in `http.rs`: query and parameter problems are the
//! client's (400, plain-text body as Loki answers), storage failures are ours (500).

/// What can go wrong while parsing or evaluating a LogQL query or serving the Loki API.
#[derive(Debug, thiserror::Error)]
pub enum LokiError {
    /// The query text is not valid LogQL. `line` and `col` are 1-based (col counts characters).
    #[error("parse error at line {line}, col {col}: {msg}")]
    Parse { line: usize, col: usize, msg: String },
    /// A request parameter is missing or malformed (`start`, `step`, `limit`, `direction`…).
    #[error("{0}")]
    BadRequest(String),
    /// The query parsed but cannot be evaluated as asked (limits, pipeline errors, unsupported use).
    #[error("{0}")]
    Query(String),
    /// The index failed underneath.
    #[error("storage error: {0}")]
    Storage(#[from] tantivy::TantivyError),
}

impl LokiError {
    /// A parse error at byte offset `pos` of `input`.
    pub fn parse_at(input: &str, pos: usize, msg: impl Into<String>) -> LokiError {
        let pos = pos.min(input.len());
        let before = input.get(..pos).unwrap_or(input);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
        LokiError::Parse { line, col, msg: msg.into() }
    }

    /// Whether the client caused this error (HTTP 400) rather than the server (HTTP 500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, LokiError::Storage(_))
    }
}

impl From<std::io::Error> for LokiError {
    fn from(e: std::io::Error) -> Self {
        LokiError::Storage(tantivy::TantivyError::from(e))
    }
}

// Pharos — query/src/loki/error.rs
