//! What this binary is: version and build provenance, reported by several APIs.

use serde::Serialize;

/// Build provenance, filled in by the binary at compile time and handed to every API that reports it
/// (Prometheus and Tempo `buildinfo`, Alertmanager `status.versionInfo`, Elasticsearch `GET /`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// Semantic version of Pharos, e.g. `0.1.0`.
    pub version: String,
    /// Git commit the binary was built from, or `unknown`.
    pub revision: String,
    /// Git branch the binary was built from, or `unknown`.
    pub branch: String,
    /// `user@host` that built the binary.
    pub build_user: String,
    /// Build time, `YYYYMMDD-HH:MM:SS` as Prometheus reports it.
    pub build_date: String,
    /// The compiler, in the field Prometheus calls `goVersion` (e.g. `rustc 1.95.0`).
    pub go_version: String,
}

impl BuildInfo {
    /// Build info for tests and tools that are not the binary.
    pub fn for_tests() -> Self {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: "unknown".into(),
            branch: "unknown".into(),
            build_user: "test@localhost".into(),
            build_date: "19700101-00:00:00".into(),
            go_version: "rustc".into(),
        }
    }
}

// Pharos — proto/src/build_info.rs
