//! Build provenance, captured by `../build.rs` at compile time.

use pharos_proto::BuildInfo;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn info() -> BuildInfo {
    BuildInfo {
        version: VERSION.to_string(),
        revision: env!("PHAROS_REVISION").to_string(),
        branch: env!("PHAROS_BRANCH").to_string(),
        build_user: env!("PHAROS_BUILD_USER").to_string(),
        build_date: env!("PHAROS_BUILD_DATE").to_string(),
        go_version: env!("PHAROS_RUSTC_VERSION").to_string(),
    }
}

// Pharos — src/build.rs
