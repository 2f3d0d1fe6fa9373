//! The query layer's error type, mapped once to each API family's error answer.

use pharos_proto::{ApiError, ApiFamily, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A parameter or expression the client sent is not valid.
    #[error("{0}")]
    BadRequest(String),
    /// The query ran but cannot finish, e.g. it would touch too many samples.
    #[error("{0}")]
    Execution(String),
    #[error(transparent)]
    Storage(#[from] pharos_storage::StorageError),
}

impl QueryError {
    pub fn into_api_error(self, family: ApiFamily) -> ApiError {
        let code = match &self {
            QueryError::BadRequest(_) => ErrorCode::BadData,
            QueryError::Execution(_) => ErrorCode::Execution,
            QueryError::Storage(_) => ErrorCode::Internal,
        };
        ApiError::new(family, code, self.to_string())
    }
}

// Pharos — query/src/error.rs
