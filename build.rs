//! Captures build provenance for `pharos version` and the buildinfo APIs. Re-runs only when the
//! checked-out commit changes, so ordinary edits do not rebuild for a new timestamp.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let revision = output("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let branch = output("git", &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let host = output("hostname", &[]).unwrap_or_else(|| "localhost".into());
    let date = output("date", &["-u", "+%Y%m%d-%H:%M:%S"]).unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc".into());
    println!("cargo:rustc-env=PHAROS_REVISION={revision}");
    println!("cargo:rustc-env=PHAROS_BRANCH={branch}");
    println!("cargo:rustc-env=PHAROS_BUILD_USER={user}@{host}");
    println!("cargo:rustc-env=PHAROS_BUILD_DATE={date}");
    println!("cargo:rustc-env=PHAROS_RUSTC_VERSION={rustc_version}");
    // Only paths that exist: a missing one would make cargo re-run this script on every build.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
