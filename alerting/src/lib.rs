//! Pharos alerting: Prometheus rule files evaluated in-process and an Alertmanager-compatible
//! notifier (routing, grouping, inhibition, silences, email, Slack, webhooks), as they are built.
//!
//! The face of the crate is [`router`]: the Alertmanager API v2 under `/alertmanager/api/v2`.

mod error;
pub mod notifier;
pub mod rules;

use std::sync::Arc;

use axum::Router;
use pharos_proto::BuildInfo;

pub use error::AlertingError;

/// What the alerting routes share.
#[derive(Clone)]
pub struct AlertingState {
    pub build_info: Arc<BuildInfo>,
}

/// The Alertmanager API v2 routes.
pub fn router(state: AlertingState) -> Router {
    Router::new().with_state(state)
}

// Pharos — alerting/src/lib.rs
