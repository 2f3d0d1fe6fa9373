//! HTTP assembly: the crates' routers merged into the main listener, the operational routes, the
//! OTLP/HTTP listener, and the plumbing every request goes through once (body limits, request
//! timeout, Pharos' own request metrics, 404/405 in the family's format).
//!
//! The route table is in ARCHITECTURE.md; keep it in step with this file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use pharos_proto::exposition::{self, Counter, CounterValue, Histogram, Registry};
use pharos_proto::{ApiError, ApiFamily, BodyLimit, DecodeError, ErrorCode};

use crate::reload::Reloader;

/// Pharos' own HTTP metrics, per endpoint (the matched route, or `unmatched`).
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Counter,
    errors: Counter,
    duration: Histogram,
    request_bytes: Counter,
    response_bytes: Counter,
}

impl HttpMetrics {
    pub fn new(registry: &Registry) -> Self {
        HttpMetrics {
            requests: registry.counter(
                "pharos_http_requests_total",
                "HTTP requests answered, by listener, handler, method and status code.",
                &["listener", "handler", "method", "code"],
            ),
            errors: registry.counter(
                "pharos_http_request_errors_total",
                "HTTP requests answered with a 4xx or 5xx status, by listener and handler.",
                &["listener", "handler"],
            ),
            duration: registry.histogram(
                "pharos_http_request_duration_seconds",
                "Time from receiving a request to sending its response head, by listener and handler.",
                &["listener", "handler"],
                exposition::LATENCY_BUCKETS,
            ),
            request_bytes: registry.counter(
                "pharos_http_request_bytes_total",
                "Request body bytes received (as sent, before decompression), by listener and handler.",
                &["listener", "handler"],
            ),
            response_bytes: registry.counter(
                "pharos_http_response_bytes_total",
                "Response body bytes sent, by listener and handler.",
                &["listener", "handler"],
            ),
        }
    }
}

/// What the HTTP plumbing and the operational routes share.
#[derive(Clone)]
pub struct HttpShared {
    pub reloader: Arc<Reloader>,
    pub registry: Registry,
    pub metrics: HttpMetrics,
    /// True from the moment every listener runs until shutdown begins.
    pub ready: Arc<AtomicBool>,
}

/// The routers of the crates, as the binary wires them.
pub struct CrateRouters {
    pub ingest: Router,
    pub query: Router,
    pub alerting: Router,
    /// The Elasticsearch API, unprefixed ([`elasticsearch_api`]); nested under `/elastic`.
    pub elasticsearch: Router,
}

/// The Elasticsearch API as one router, unprefixed: the ingest crate's `_bulk` and probes with the
/// query crate's searches, under one response layer (`X-Elastic-Product`, `filter_path`, the
/// clients' compatible-with media type).
pub fn elasticsearch_api(ingest: &pharos_ingest::IngestState, query: &pharos_query::QueryState) -> Router {
    pharos_ingest::elastic_routes(ingest)
        .merge(pharos_query::elastic_routes(query))
        .layer(middleware::from_fn(pharos_ingest::elastic::es_response_headers))
}

/// The main HTTP listener.
pub fn main_router(shared: HttpShared, crates: CrateRouters) -> Router {
    let elastic_prefix = pharos_proto::prefix::ELASTICSEARCH;
    // Clients given a base URL with a path ask `GET {prefix}/`, which `nest` does not route.
    let root = tower::ServiceExt::map_request(crates.elasticsearch.clone(), |mut req: Request| {
        *req.uri_mut() = Uri::from_static("/");
        req
    });
    let slash_root = Router::new().route_service(&format!("{elastic_prefix}/"), root);
    Router::new()
        .merge(operations_router(shared.clone()))
        .merge(crates.ingest)
        .merge(crates.query)
        .merge(crates.alerting)
        .nest(elastic_prefix, crates.elasticsearch)
        .merge(slash_root)
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(Plumbing { shared, listener: "http" }, plumbing))
}

/// The optional Elasticsearch listener: the Elasticsearch API at its root, for shippers that
/// cannot add a path prefix. Every answer on it, errors included, follows Elasticsearch.
pub fn elasticsearch_router(shared: HttpShared, elasticsearch: Router) -> Router {
    elasticsearch
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(Plumbing { shared, listener: "elasticsearch" }, plumbing))
        .layer(middleware::from_fn(mark_elasticsearch))
}

async fn mark_elasticsearch(mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(ApiFamily::Elasticsearch);
    next.run(req).await
}

/// The OTLP/HTTP listener: errors follow OTLP (a `google.rpc.Status` in the request's encoding).
pub fn otlp_http_router(shared: HttpShared, otlp: Router) -> Router {
    otlp.layer(middleware::from_fn_with_state(Plumbing { shared, listener: "otlp_http" }, plumbing))
        .layer(middleware::from_fn(pharos_proto::mark_otlp))
}

fn operations_router(shared: HttpShared) -> Router {
    Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

async fn healthy() -> &'static str {
    "Pharos is Healthy.\n"
}

async fn ready(State(shared): State<HttpShared>) -> Response {
    if shared.ready.load(Ordering::Acquire) {
        "Pharos is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

async fn reload(State(shared): State<HttpShared>) -> Response {
    let reloader = shared.reloader.clone();
    match tokio::task::spawn_blocking(move || reloader.reload()).await {
        Ok(Ok(())) => (StatusCode::OK, "").into_response(),
        Ok(Err(e)) => ApiError::new(ApiFamily::Operations, ErrorCode::Internal, format!("failed to reload config: {e}"))
            .into_response(),
        Err(e) => ApiError::new(ApiFamily::Operations, ErrorCode::Internal, format!("reload task failed: {e}"))
            .into_response(),
    }
}

async fn metrics(State(shared): State<HttpShared>) -> Response {
    let mut response = shared.registry.render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(exposition::CONTENT_TYPE));
    response
}

async fn no_route(family: ApiFamily, method: Method, uri: Uri) -> ApiError {
    ApiError::no_route(family, method.as_str(), uri.path())
}

async fn wrong_method(family: ApiFamily, method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        family,
        ErrorCode::MethodNotAllowed,
        format!("method {method} is not allowed for {}", uri.path()),
    )
}

#[derive(Clone)]
struct Plumbing {
    shared: HttpShared,
    listener: &'static str,
}

/// Once per request: body limits into extensions, the request timeout, and the request metrics.
async fn plumbing(State(p): State<Plumbing>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let config = p.shared.reloader.current();
    let handler = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let family = ApiFamily::for_request(&req);
    let method = req.method().clone();
    let metrics = &p.shared.metrics;
    let labels = [p.listener, handler.as_str()];

    let limit = BodyLimit {
        max_wire_bytes: config.server.max_request_body.as_usize(),
        max_decoded_bytes: config.server.max_decoded_body.as_usize(),
    };
    // A declared length over the limit is refused here, whatever the route (even none); bodies
    // without a length are held to the limit by `DecodedBody` as they are read.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit.max_wire_bytes) {
        let error = DecodeError::TooLarge { limit: limit.max_wire_bytes, decoded: false }.into_api_error(family);
        return finish(&p, &handler, &method, start, error.into_response());
    }
    req.extensions_mut().insert(limit);
    let received = metrics.request_bytes.with(&labels);
    let req = req.map(|body| counted(body, received));

    let timeout = config.server.request_timeout;
    let response = match tokio::time::timeout(timeout.0, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(family, ErrorCode::Timeout, format!("request timed out after {timeout}")).into_response(),
    };

    finish(&p, &handler, &method, start, response)
}

/// Record the request's metrics and count the response body as it is sent.
fn finish(p: &Plumbing, handler: &str, method: &Method, start: Instant, response: Response) -> Response {
    let metrics = &p.shared.metrics;
    let labels = [p.listener, handler];
    let status = response.status();
    metrics.requests.with(&[p.listener, handler, method.as_str(), status.as_str()]).inc();
    if status.is_client_error() || status.is_server_error() {
        metrics.errors.with(&labels).inc();
    }
    metrics.duration.with(&labels).observe(start.elapsed().as_secs_f64());
    let sent = metrics.response_bytes.with(&labels);
    response.map(|body| counted(body, sent))
}

/// The body, adding the length of each data frame to `counter` as it passes.
fn counted(body: Body, counter: Arc<CounterValue>) -> Body {
    Body::new(body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            counter.add(data.len() as f64);
        }
        frame
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};
    use tower::ServiceExt;

    fn shared_with(config: Config) -> HttpShared {
        let registry = Registry::default();
        HttpShared {
            reloader: Arc::new(Reloader::new(None, Overrides::default(), config, None)),
            metrics: HttpMetrics::new(&registry),
            registry,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    fn app(shared: HttpShared) -> Router {
        let crates = CrateRouters {
            ingest: Router::new().route("/api/v1/write", post(echo_len)),
            query: Router::new().route("/api/v1/slow", get(slow)),
            alerting: Router::new(),
            elasticsearch: Router::new(),
        };
        main_router(shared, crates)
    }

    async fn echo_len(body: pharos_proto::DecodedBody) -> String {
        body.bytes.len().to_string()
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        "late"
    }

    async fn send(router: Router, req: Request) -> (StatusCode, String) {
        let response = router.oneshot(req).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).to_string())
    }

    #[tokio::test]
    async fn unknown_routes_answer_in_each_family() {
        let router = app(shared_with(Config::default()));
        for (path, needle) in [
            ("/api/v1/nope", "\"errorType\":\"not_found\""),
            ("/elastic/_nope", "resource_not_found_exception"),
            ("/loki/api/v1/nope", "404 page not found"),
            ("/jaeger/api/nope", "\"errors\":[{\"code\":404"),
            ("/tempo/api/nope", "404 page not found"),
            ("/alertmanager/api/v2/nope", "\"code\":404"),
            ("/nope", "404 page not found"),
        ] {
            let (status, body) = send(router.clone(), Request::get(path).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(body.contains(needle), "{path}: {body}");
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_get_413_with_a_message() {
        let mut config = Config::default();
        config.server.max_request_body = pharos_proto::byte_size::ByteSize(100);
        let router = app(shared_with(config));
        let req = Request::post("/api/v1/write").body(Body::from(vec![0u8; 101])).unwrap();
        let (status, body) = send(router.clone(), req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body.contains("larger than the limit of 100 bytes"), "{body}");
        let req = Request::post("/api/v1/write").body(Body::from(vec![0u8; 100])).unwrap();
        assert_eq!(send(router.clone(), req).await, (StatusCode::OK, "100".into()));
        // A declared length over the limit is refused even where no route reads the body.
        let req = Request::post("/elastic/_bulk").header(header::CONTENT_LENGTH, "101").body(Body::from(vec![0u8; 101])).unwrap();
        let (status, body) = send(router, req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body.contains("content_too_long_exception"), "{body}");
    }

    #[tokio::test]
    async fn slow_requests_time_out_in_the_family_format() {
        let mut config = Config::default();
        config.server.request_timeout = pharos_proto::duration::PromDuration(std::time::Duration::from_millis(50));
        let (status, body) =
            send(app(shared_with(config)), Request::get("/api/v1/slow").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("\"errorType\":\"timeout\""), "{body}");
    }

    #[tokio::test]
    async fn wrong_method_is_405_in_the_family_format() {
        let (status, body) =
            send(app(shared_with(Config::default())), Request::get("/api/v1/write").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body.contains("\"status\":\"error\""), "{body}");
    }

    #[tokio::test]
    async fn requests_are_counted_per_handler() {
        let shared = shared_with(Config::default());
        let router = app(shared.clone());
        let req = Request::post("/api/v1/write").body(Body::from(vec![0u8; 10])).unwrap();
        send(router.clone(), req).await;
        send(router.clone(), Request::get("/nope").body(Body::empty()).unwrap()).await;
        let (_, text) = send(router, Request::get("/metrics").body(Body::empty()).unwrap()).await;
        assert!(
            text.contains(r#"pharos_http_requests_total{listener="http",handler="/api/v1/write",method="POST",code="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"pharos_http_request_bytes_total{listener="http",handler="/api/v1/write"} 10"#), "{text}");
        assert!(text.contains(r#"pharos_http_response_bytes_total{listener="http",handler="/api/v1/write"} 2"#), "{text}");
        assert!(text.contains(r#"pharos_http_request_errors_total{listener="http",handler="unmatched"} 1"#), "{text}");
        assert!(text.contains(r#"pharos_http_request_duration_seconds_count{listener="http",handler="/api/v1/write"} 1"#));
    }

    #[tokio::test]
    async fn ready_follows_the_flag() {
        let shared = shared_with(Config::default());
        let router = app(shared.clone());
        let (status, _) = send(router.clone(), Request::get("/-/ready").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        shared.ready.store(false, Ordering::Release);
        let (status, _) = send(router, Request::get("/-/ready").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn otlp_listener_errors_are_rpc_status() {
        let router = otlp_http_router(shared_with(Config::default()), Router::new().fallback(no_route_otlp));
        let req = Request::post("/v1/nope").header(header::CONTENT_TYPE, "application/json").body(Body::empty()).unwrap();
        let (status, body) = send(router, req).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], 12, "UNIMPLEMENTED: {body}");
    }

    async fn no_route_otlp(family: ApiFamily, req: Request) -> ApiError {
        ApiError::no_route(family, req.method().as_str(), req.uri().path())
    }
}

// Pharos — src/http.rs
