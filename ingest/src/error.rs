//! The ingest layer's error type, mapped once to HTTP (per API family) and gRPC status.

use pharos_proto::{ApiError, ApiFamily, DecodeError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body could not be decoded (encoding, size).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The payload is not valid for its protocol.
    #[error("{0}")]
    Invalid(String),
    /// Storage cannot take more right now; the client should retry.
    #[error("overloaded: {0}")]
    Overloaded(String),
    #[error(transparent)]
    Storage(#[from] pharos_storage::StorageError),
}

impl IngestError {
    pub fn code(&self) -> ErrorCode {
        match self {
            IngestError::Decode(e) => e.code(),
            IngestError::Invalid(_) => ErrorCode::BadData,
            IngestError::Overloaded(_) => ErrorCode::Unavailable,
            IngestError::Storage(_) => ErrorCode::Internal,
        }
    }

    pub fn into_api_error(self, family: ApiFamily) -> ApiError {
        ApiError::new(family, self.code(), self.to_string())
    }

    pub fn into_grpc_status(self) -> tonic::Status {
        tonic::Status::new(self.code().grpc_code(), self.to_string())
    }
}

// Pharos — ingest/src/error.rs
