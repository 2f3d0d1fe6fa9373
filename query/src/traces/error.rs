//! The one error type of the trace APIs, rendered by each API in its own convention (Jaeger's
//! envelope, Jaeger api_v3's gateway error, Tempo's plain text).

use pharos_proto::{ApiError, ApiFamily, ErrorCode};

/// What can go wrong while serving a Jaeger or Tempo request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceApiError {
    /// A parameter is missing or malformed, or the query does not parse (400).
    #[error("{0}")]
    BadRequest(String),
    /// The trace asked for by id has no spans (in the time range given) (404).
    #[error("{0}")]
    NotFound(String),
    /// The store failed underneath (500).
    #[error("storage error: {0}")]
    Storage(String),
}

impl TraceApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            TraceApiError::BadRequest(_) => ErrorCode::BadData,
            TraceApiError::NotFound(_) => ErrorCode::NotFound,
            TraceApiError::Storage(_) => ErrorCode::Internal,
        }
    }

    /// The error in `family`'s wire convention.
    pub fn into_api_error(self, family: ApiFamily) -> ApiError {
        ApiError::new(family, self.code(), self.to_string())
    }
}

// Pharos — query/src/traces/error.rs
