//! The one error type of the Elasticsearch API and its rendering as Elasticsearch's error body:
//! `{"error":{"root_cause":[{"type","reason"}],"type","reason"},"status":N}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Everything a request of the Elasticsearch API can fail with. Each variant is one Elasticsearch
/// exception type; the message is the `reason`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EsError {
    /// A query or request body that is not what the API expects (`parsing_exception`).
    #[error("{0}")]
    Parsing(String),
    /// A body that is not JSON at all (`x_content_parse_exception`).
    #[error("{0}")]
    XContent(String),
    /// A Lucene query string that does not parse (`query_shard_exception`).
    #[error("{0}")]
    QueryShard(String),
    /// A value that is well formed but not acceptable (`illegal_argument_exception`).
    #[error("{0}")]
    IllegalArgument(String),
    /// A request missing a required part (`action_request_validation_exception`).
    #[error("{0}")]
    Validation(String),
    /// A concrete index name that matches no data (`index_not_found_exception`, 404).
    #[error("no such index [{0}]")]
    IndexNotFound(String),
    /// An aggregation producing more buckets than allowed (`too_many_buckets_exception`).
    #[error("{0}")]
    TooManyBuckets(String),
    /// Anything else (`exception`, 500).
    #[error("{0}")]
    Internal(String),
}

impl EsError {
    /// The HTTP status Elasticsearch answers with.
    pub fn status(&self) -> u16 {
        match self {
            EsError::IndexNotFound(_) => 404,
            EsError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// Elasticsearch's exception type name.
    pub fn kind(&self) -> &'static str {
        match self {
            EsError::Parsing(_) => "parsing_exception",
            EsError::XContent(_) => "x_content_parse_exception",
            EsError::QueryShard(_) => "query_shard_exception",
            EsError::IllegalArgument(_) => "illegal_argument_exception",
            EsError::Validation(_) => "action_request_validation_exception",
            EsError::IndexNotFound(_) => "index_not_found_exception",
            EsError::TooManyBuckets(_) => "too_many_buckets_exception",
            EsError::Internal(_) => "exception",
        }
    }

    /// The `error` object (without `status`).
    pub fn error_object(&self) -> Value {
        let mut cause = Map::new();
        cause.insert("type".into(), self.kind().into());
        cause.insert("reason".into(), self.to_string().into());
        if let EsError::IndexNotFound(index) = self {
            cause.insert("resource.type".into(), "index_or_alias".into());
            cause.insert("resource.id".into(), index.clone().into());
            cause.insert("index_uuid".into(), "_na_".into());
            cause.insert("index".into(), index.clone().into());
        }
        let mut error = cause.clone();
        error.insert("root_cause".into(), Value::Array(vec![Value::Object(cause)]));
        Value::Object(error)
    }

    /// The whole body: `{"error":{…},"status":N}`.
    pub fn body(&self) -> Value {
        json!({"error": self.error_object(), "status": self.status()})
    }
}

impl From<tantivy::TantivyError> for EsError {
    fn from(err: tantivy::TantivyError) -> Self {
        use tantivy::TantivyError as T;
        match err {
            T::AggregationError(tantivy::aggregation::AggregationError::BucketLimitExceeded { limit, current }) => {
                EsError::TooManyBuckets(format!(
                    "Trying to create too many buckets. Must be less than or equal to: [{limit}] but was [{current}]."
                ))
            }
            T::AggregationError(e) => EsError::IllegalArgument(e.to_string()),
            T::InvalidArgument(e) => EsError::IllegalArgument(e),
            T::FieldNotFound(f) => EsError::IllegalArgument(format!("no such field [{f}]")),
            T::SchemaError(e) => EsError::IllegalArgument(e),
            other => EsError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for EsError {
    fn from(err: std::io::Error) -> Self {
        EsError::Internal(err.to_string())
    }
}

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        super::json_response(status, self.body().to_string())
    }
}

// Pharos — query/src/elastic/error.rs
