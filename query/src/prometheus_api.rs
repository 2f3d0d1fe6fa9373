//! The Prometheus HTTP API under `/api/v1` (docs/querying/api.md of Prometheus).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::QueryState;

/// The success envelope: `{"status":"success","data":…}`.
#[derive(Serialize)]
pub(crate) struct Success<T> {
    status: &'static str,
    data: T,
}

pub(crate) fn success<T: Serialize>(data: T) -> Json<Success<T>> {
    Json(Success { status: "success", data })
}

pub(crate) fn router() -> Router<QueryState> {
    Router::new().route("/api/v1/status/buildinfo", get(build_info))
}

/// `GET /api/v1/status/buildinfo`. No `features` map: a non-empty one would make Grafana treat the
/// server as Mimir.
async fn build_info(State(state): State<QueryState>) -> impl axum::response::IntoResponse {
    success(state.build_info.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use pharos_proto::BuildInfo;
    use pharos_storage::{Storage, StorageConfig};
    use tower::ServiceExt;

    use crate::{QueryState, router};

    #[tokio::test]
    async fn buildinfo_has_prometheus_shape() {
        let tmp = tempfile::tempdir().unwrap();
        let storage = Storage::open(&StorageConfig { data_dir: tmp.path().to_path_buf() }).unwrap();
        let state = QueryState { build_info: Arc::new(BuildInfo::for_tests()), storage: Arc::new(storage) };
        let response = router(state)
            .oneshot(Request::get("/api/v1/status/buildinfo").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], "success");
        for key in ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"] {
            assert!(v["data"][key].is_string(), "{key} missing in {v}");
        }
        assert!(v["data"].get("features").is_none());
    }
}

// Pharos — query/src/prometheus_api.rs
