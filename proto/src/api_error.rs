//! One error type for every HTTP API, rendered in the convention of the API family that answers.
//!
//! Handlers and shared plumbing say *what* went wrong with an [`ErrorCode`]; the [`ApiFamily`] decides
//! *how it looks* on the wire: Prometheus' JSON envelope, Elasticsearch's error object, Jaeger's
//! envelope, Alertmanager's swagger error, OTLP's `google.rpc.Status`, or plain text (Loki, Tempo and
//! the operational endpoints, as those servers do).

use axum::extract::{FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prost::Message;
use serde_json::json;

use crate::otlp::RpcStatus;

/// Which API's conventions an error response follows. Chosen by route prefix (see [`ApiFamily::for_path`])
/// or, on the OTLP/HTTP listener, by the request's content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiFamily {
    /// `/api/v1/...`: `{"status":"error","errorType":…,"error":…}`.
    Prometheus,
    /// `/elastic/...`: `{"error":{"root_cause":[…],"type":…,"reason":…},"status":N}`.
    Elasticsearch,
    /// `/loki/...`: plain text, as Loki answers.
    Loki,
    /// `/jaeger/...`: `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":N,"msg":…}]}`.
    Jaeger,
    /// `/tempo/...`: plain text, as Tempo answers.
    Tempo,
    /// `/alertmanager/...`: `{"code":N,"message":…}`, as Alertmanager's go-swagger server answers.
    Alertmanager,
    /// The OTLP/HTTP listener: a `google.rpc.Status`, protobuf or JSON like the request.
    Otlp { json: bool },
    /// `/-/...`, `/metrics` and anything unrouted: plain text.
    Operations,
}

/// The route prefix of each API family on the main HTTP listener.
pub mod prefix {
    pub const PROMETHEUS: &str = "/api/v1";
    pub const ELASTICSEARCH: &str = "/elastic";
    pub const LOKI: &str = "/loki";
    pub const JAEGER: &str = "/jaeger";
    pub const TEMPO: &str = "/tempo";
    pub const ALERTMANAGER: &str = "/alertmanager";
}

impl ApiFamily {
    /// The family that owns `path` on the main HTTP listener.
    pub fn for_path(path: &str) -> ApiFamily {
        let under = |p: &str| path == p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'));
        if under(prefix::PROMETHEUS) {
            ApiFamily::Prometheus
        } else if under(prefix::ELASTICSEARCH) {
            ApiFamily::Elasticsearch
        } else if under(prefix::LOKI) {
            ApiFamily::Loki
        } else if under(prefix::JAEGER) {
            ApiFamily::Jaeger
        } else if under(prefix::TEMPO) {
            ApiFamily::Tempo
        } else if under(prefix::ALERTMANAGER) {
            ApiFamily::Alertmanager
        } else {
            ApiFamily::Operations
        }
    }

    /// The OTLP family for a request with these headers: a JSON `Content-Type` answers JSON,
    /// anything else protobuf.
    pub fn otlp_for_headers(headers: &HeaderMap) -> ApiFamily {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        ApiFamily::Otlp { json: content_type.trim_start().starts_with("application/json") }
    }

    /// The family a request's errors follow: an [`ApiFamily`] in its extensions (put there by
    /// [`mark_otlp`] on the OTLP listener), else the route prefix of its original URI.
    pub fn for_request<B>(req: &axum::http::Request<B>) -> ApiFamily {
        if let Some(family) = req.extensions().get::<ApiFamily>() {
            return *family;
        }
        match req.extensions().get::<OriginalUri>() {
            Some(OriginalUri(uri)) => ApiFamily::for_path(uri.path()),
            None => ApiFamily::for_path(req.uri().path()),
        }
    }
}

/// Middleware for the OTLP/HTTP listener: every answer on it, errors included, follows OTLP in the
/// request's encoding.
pub async fn mark_otlp(mut req: Request, next: Next) -> Response {
    let family = ApiFamily::otlp_for_headers(req.headers());
    req.extensions_mut().insert(family);
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for ApiFamily {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(family) = parts.extensions.get::<ApiFamily>() {
            return Ok(*family);
        }
        let path = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri.path(),
            None => parts.uri.path(),
        };
        Ok(ApiFamily::for_path(path))
    }
}

/// What went wrong, independent of how a family spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed (400).
    BadData,
    /// No such route or object (404).
    NotFound,
    /// The route exists but not for this method (405).
    MethodNotAllowed,
    /// The client cannot accept any representation we have (406).
    NotAcceptable,
    /// The body is larger than the configured limit (413).
    PayloadTooLarge,
    /// The body's content type or encoding is not understood (415).
    UnsupportedMediaType,
    /// The request is well-formed but cannot be executed, e.g. too many samples (422).
    Execution,
    /// Overloaded; the client should retry later (429).
    TooManyRequests,
    /// The client went away (499).
    Canceled,
    /// A bug or an unexpected state on our side (500).
    Internal,
    /// Temporarily unable to serve; retryable (503).
    Unavailable,
    /// The request ran out of time (503, as Prometheus answers timeouts).
    Timeout,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadData => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Canceled => StatusCode::from_u16(499).expect("499 is a valid status code"),
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable | ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Prometheus' `errorType` (web/api/v1/api.go).
    fn prometheus_type(self) -> &'static str {
        match self {
            ErrorCode::BadData | ErrorCode::PayloadTooLarge | ErrorCode::UnsupportedMediaType => "bad_data",
            ErrorCode::MethodNotAllowed => "bad_data",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotAcceptable => "not_acceptable",
            ErrorCode::Execution => "execution",
            ErrorCode::Canceled => "canceled",
            ErrorCode::Internal => "internal",
            ErrorCode::TooManyRequests | ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
        }
    }

    /// Elasticsearch's exception `type` for this kind of failure.
    fn elasticsearch_type(self) -> &'static str {
        match self {
            ErrorCode::BadData | ErrorCode::UnsupportedMediaType => "illegal_argument_exception",
            ErrorCode::NotFound => "resource_not_found_exception",
            ErrorCode::MethodNotAllowed => "method_not_allowed_exception",
            ErrorCode::NotAcceptable => "not_acceptable_exception",
            ErrorCode::PayloadTooLarge => "content_too_long_exception",
            ErrorCode::Execution => "search_phase_execution_exception",
            ErrorCode::TooManyRequests => "es_rejected_execution_exception",
            ErrorCode::Canceled => "task_cancelled_exception",
            ErrorCode::Internal => "exception",
            ErrorCode::Unavailable => "unavailable_exception",
            ErrorCode::Timeout => "timeout_exception",
        }
    }

    /// The gRPC status code OTLP puts in `google.rpc.Status.code`.
    pub fn grpc_code(self) -> tonic::Code {
        match self {
            ErrorCode::BadData | ErrorCode::UnsupportedMediaType | ErrorCode::Execution => {
                tonic::Code::InvalidArgument
            }
            ErrorCode::NotFound | ErrorCode::MethodNotAllowed => tonic::Code::Unimplemented,
            ErrorCode::NotAcceptable => tonic::Code::InvalidArgument,
            ErrorCode::PayloadTooLarge => tonic::Code::ResourceExhausted,
            ErrorCode::TooManyRequests | ErrorCode::Unavailable => tonic::Code::Unavailable,
            ErrorCode::Canceled => tonic::Code::Cancelled,
            ErrorCode::Internal => tonic::Code::Internal,
            ErrorCode::Timeout => tonic::Code::DeadlineExceeded,
        }
    }
}

/// An error answered by an HTTP API: a code, a human-readable message, and the family whose
/// conventions render it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub family: ApiFamily,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(family: ApiFamily, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { family, code, message: message.into() }
    }

    /// The answer to a route that does not exist, in the family's words.
    pub fn no_route(family: ApiFamily, method: &str, path: &str) -> Self {
        let message = match family {
            ApiFamily::Elasticsearch => format!("no handler found for uri [{path}] and method [{method}]"),
            ApiFamily::Alertmanager => format!("path {path} was not found"),
            _ => format!("404 page not found: no route for {method} {path}"),
        };
        ApiError::new(family, ErrorCode::NotFound, message)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code;
        let mut response = match self.family {
            ApiFamily::Prometheus => (
                status,
                axum::Json(json!({
                    "status": "error",
                    "errorType": code.prometheus_type(),
                    "error": self.message,
                })),
            )
                .into_response(),
            ApiFamily::Elasticsearch => {
                let cause = json!({"type": code.elasticsearch_type(), "reason": self.message});
                let body = json!({
                    "error": {
                        "root_cause": [cause.clone()],
                        "type": cause["type"],
                        "reason": cause["reason"],
                    },
                    "status": status.as_u16(),
                });
                let mut response = (status, axum::Json(body)).into_response();
                response
                    .headers_mut()
                    .insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
                response
            }
            ApiFamily::Jaeger => (
                status,
                axum::Json(json!({
                    "data": null, "total": 0, "limit": 0, "offset": 0,
                    "errors": [{"code": status.as_u16(), "msg": self.message}],
                })),
            )
                .into_response(),
            ApiFamily::Alertmanager => {
                (status, axum::Json(json!({"code": status.as_u16(), "message": self.message}))).into_response()
            }
            ApiFamily::Otlp { json } => {
                let rpc = RpcStatus { code: code.grpc_code() as i32, message: self.message };
                if json {
                    (status, axum::Json(json!({"code": rpc.code, "message": rpc.message}))).into_response()
                } else {
                    let mut response = (status, rpc.encode_to_vec()).into_response();
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
                    response
                }
            }
            ApiFamily::Loki | ApiFamily::Tempo | ApiFamily::Operations => {
                let mut response = (status, format!("{}\n", self.message)).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
                response
            }
        };
        if matches!(code, ErrorCode::TooManyRequests | ErrorCode::Unavailable) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(err: ApiError) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = err.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, headers, body)
    }

    #[test]
    fn families_follow_route_prefixes() {
        assert_eq!(ApiFamily::for_path("/api/v1/query"), ApiFamily::Prometheus);
        assert_eq!(ApiFamily::for_path("/api/v1"), ApiFamily::Prometheus);
        assert_eq!(ApiFamily::for_path("/api/v10/query"), ApiFamily::Operations);
        assert_eq!(ApiFamily::for_path("/elastic/_bulk"), ApiFamily::Elasticsearch);
        assert_eq!(ApiFamily::for_path("/elasticsearch"), ApiFamily::Operations);
        assert_eq!(ApiFamily::for_path("/loki/api/v1/push"), ApiFamily::Loki);
        assert_eq!(ApiFamily::for_path("/jaeger/api/traces"), ApiFamily::Jaeger);
        assert_eq!(ApiFamily::for_path("/tempo/api/echo"), ApiFamily::Tempo);
        assert_eq!(ApiFamily::for_path("/alertmanager/api/v2/status"), ApiFamily::Alertmanager);
        assert_eq!(ApiFamily::for_path("/-/ready"), ApiFamily::Operations);
    }

    #[tokio::test]
    async fn prometheus_errors_use_the_json_envelope() {
        let (status, _, body) =
            render(ApiError::new(ApiFamily::Prometheus, ErrorCode::Execution, "too many samples")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({"status":"error","errorType":"execution","error":"too many samples"}));
    }

    #[tokio::test]
    async fn elasticsearch_errors_carry_the_product_header() {
        let (status, headers, body) =
            render(ApiError::no_route(ApiFamily::Elasticsearch, "GET", "/elastic/_nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["x-elastic-product"], "Elasticsearch");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 404);
        assert_eq!(v["error"]["type"], "resource_not_found_exception");
        assert_eq!(v["error"]["root_cause"][0]["reason"], v["error"]["reason"]);
    }

    #[tokio::test]
    async fn otlp_errors_are_rpc_status_in_the_request_encoding() {
        let err = ApiError::new(ApiFamily::Otlp { json: false }, ErrorCode::PayloadTooLarge, "too big");
        let (status, headers, body) = render(err).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
        let decoded = RpcStatus::decode(body.as_slice()).unwrap();
        assert_eq!(decoded.code, tonic::Code::ResourceExhausted as i32);
        assert_eq!(decoded.message, "too big");

        let err = ApiError::new(ApiFamily::Otlp { json: true }, ErrorCode::BadData, "bad");
        let (_, _, body) = render(err).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({"code": 3, "message": "bad"}));
    }

    #[tokio::test]
    async fn jaeger_and_alertmanager_envelopes() {
        let (_, _, body) = render(ApiError::new(ApiFamily::Jaeger, ErrorCode::NotFound, "trace not found")).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"], json!([{"code":404,"msg":"trace not found"}]));
        assert_eq!(v["data"], serde_json::Value::Null);

        let (_, _, body) = render(ApiError::no_route(ApiFamily::Alertmanager, "GET", "/api/v2/x")).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({"code":404,"message":"path /api/v2/x was not found"}));
    }

    #[tokio::test]
    async fn overload_answers_carry_retry_after() {
        let (status, headers, body) =
            render(ApiError::new(ApiFamily::Loki, ErrorCode::TooManyRequests, "slow down")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(body, b"slow down\n");
    }
}

// Pharos — proto/src/api_error.rs
