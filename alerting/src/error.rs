//! The alerting layer's error type.

use pharos_proto::{ApiError, ApiFamily, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// A rule file or notifier configuration is invalid.
    #[error("{0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Query(#[from] pharos_query::QueryError),
    #[error(transparent)]
    Storage(#[from] pharos_storage::StorageError),
}

impl AlertingError {
    pub fn into_api_error(self) -> ApiError {
        let code = match &self {
            AlertingError::InvalidConfig(_) => ErrorCode::BadData,
            AlertingError::Query(_) | AlertingError::Storage(_) => ErrorCode::Internal,
        };
        ApiError::new(ApiFamily::Alertmanager, code, self.to_string())
    }
}

// Pharos — alerting/src/error.rs
