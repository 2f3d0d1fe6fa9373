//! End-to-end tests of the foundation: the real binary, real sockets, real signals.

mod harness;

use std::time::{Duration, Instant};

use harness::{Options, Pharos, repo_file, require_program, run_pharos, wait_child};
use serde_json::Value;

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn ready_and_buildinfo_have_prometheus_shape() {
    let pharos = Pharos::start();
    let (status, _, body) = get(&pharos.url("/-/ready")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = get(&pharos.url("/-/healthy")).await;
    assert_eq!(status, 200, "{body}");

    let (status, _, body) = get(&pharos.url("/api/v1/status/buildinfo")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success");
    for key in ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"] {
        let field = v["data"][key].as_str().unwrap_or_else(|| panic!("{key} missing: {body}"));
        assert!(!field.is_empty(), "{key} empty");
    }
    assert_eq!(v["data"]["version"], env!("CARGO_PKG_VERSION"));
}

/// `pharos serve` with no arguments: loopback listeners on the documented ports and ./data.
#[tokio::test]
async fn serve_without_arguments_uses_the_documented_defaults() {
    for port in [9090, 4317, 4318] {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            panic!("port {port} is taken on this machine; this test needs the default ports free");
        }
    }
    let cwd = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(harness::pharos_bin())
        .arg("serve")
        .current_dir(cwd.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = (0..400).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        harness::http_status("127.0.0.1:9090".parse().unwrap(), "/-/ready") == Some(200)
    });
    let grpc_open = std::net::TcpStream::connect("127.0.0.1:4317").is_ok();
    let otlp_http = harness::http_status("127.0.0.1:4318".parse().unwrap(), "/v1/nothing");
    let lock_exists = cwd.path().join("data/LOCK").is_file();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = wait_child(&mut child, Duration::from_secs(10));
    let _ = child.kill();
    assert!(ready, "no /-/ready on 127.0.0.1:9090");
    assert!(grpc_open, "nothing on 127.0.0.1:4317");
    assert_eq!(otlp_http, Some(404), "OTLP/HTTP on 127.0.0.1:4318");
    assert!(lock_exists, "./data/LOCK was not created in the working directory");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn check_config_accepts_the_example_and_names_unknown_keys() {
    let repo = repo_file("");
    let ok = run_pharos(&["check-config", "pharos.example.yml"], &repo);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bad.yml"), "log:\n  level: info\n  colour: red\n").unwrap();
    let bad = run_pharos(&["check-config", "bad.yml"], tmp.path());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(stderr.contains("bad.yml:3:3: log.colour: unknown field `colour`"), "{stderr}");
}

#[test]
fn version_prints_the_crate_version() {
    let out = run_pharos(&["version"], &repo_file(""));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn sigterm_and_sigint_exit_zero_within_ten_seconds() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut pharos = Pharos::start();
        let sent = Instant::now();
        pharos.signal(signal);
        let status = pharos.wait_exit(Duration::from_secs(10));
        assert!(status.is_some_and(|s| s.success()), "signal {signal}: {status:?}\n{}", pharos.log_text());
        assert!(sent.elapsed() < Duration::from_secs(10));
        let log = pharos.log_text();
        assert!(log.contains("storage flushed") && log.contains("Pharos stopped"), "{log}");
    }
}

#[test]
fn a_second_instance_on_the_same_data_dir_fails_naming_the_lock() {
    let first = Pharos::start();
    let mut second = Pharos::spawn(Options { data_dir: Some(first.data_dir.clone()), ..Options::default() });
    let status = second.wait_exit(Duration::from_secs(10)).expect("the second instance must exit at once");
    assert!(!status.success());
    let log = second.log_text();
    assert!(log.contains("is in use by another Pharos process") && log.contains("LOCK"), "{log}");
    assert_eq!(harness::http_status(first.http, "/-/ready"), Some(200), "the first keeps running");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut pharos = Pharos::spawn(Options {
        otlp_grpc: Some(([127, 0, 0, 1], port).into()),
        ..Options::default()
    });
    let status = pharos.wait_exit(Duration::from_secs(10)).expect("must exit");
    assert!(!status.success());
    let log = pharos.log_text();
    assert!(
        log.contains(&format!("cannot listen on 127.0.0.1:{port} for OTLP gRPC (server.otlp_grpc_listen)")),
        "{log}"
    );
}

#[test]
fn an_unusable_data_dir_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let mut pharos = Pharos::spawn(Options { data_dir: Some(file.join("data")), ..Options::default() });
    let status = pharos.wait_exit(Duration::from_secs(10)).expect("must exit");
    assert!(!status.success());
    let log = pharos.log_text();
    assert!(log.contains("a-file/data is not usable"), "{log}");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_a_message() {
    let pharos = Pharos::start_with(Options {
        config: Some("server:\n  max_request_body: 1KiB\n  max_decoded_body: 1KiB\n".into()),
        ..Options::default()
    });
    let client = reqwest::Client::new();
    for (path, needle) in [
        ("/api/v1/write", "\"errorType\":\"bad_data\""),
        ("/elastic/_bulk", "content_too_long_exception"),
        ("/loki/api/v1/push", "larger than the limit of 1024 bytes"),
    ] {
        let response = client.post(pharos.url(path)).body(vec![b'x'; 2048]).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 413, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains(needle) && body.contains("1024 bytes"), "{path}: {body}");
    }
    let response = client.post(pharos.otlp_http_url("/v1/traces")).body(vec![0u8; 2048]).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
}

#[tokio::test]
async fn unknown_routes_answer_404_in_each_api_format() {
    let pharos = Pharos::start();
    let json = |body: &str| serde_json::from_str::<Value>(body).unwrap_or_else(|e| panic!("{e}: {body}"));

    let (status, _, body) = get(&pharos.url("/api/v1/no_such_endpoint")).await;
    assert_eq!(status, 404);
    let v = json(&body);
    assert_eq!((v["status"].as_str(), v["errorType"].as_str()), (Some("error"), Some("not_found")));

    let (status, headers, body) = get(&pharos.url("/elastic/logs/_no_such_api")).await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-elastic-product"], "Elasticsearch");
    let v = json(&body);
    assert_eq!(v["status"], 404);
    assert!(v["error"]["reason"].as_str().unwrap().contains("no handler found for uri"), "{body}");

    let (status, _, body) = get(&pharos.url("/loki/api/v1/no_such_endpoint")).await;
    assert_eq!(status, 404);
    assert!(body.starts_with("404 page not found"), "{body}");

    let (status, _, body) = get(&pharos.url("/jaeger/api/no_such_endpoint")).await;
    assert_eq!(status, 404);
    let v = json(&body);
    assert_eq!(v["errors"][0]["code"], 404);
    assert!(v["data"].is_null());

    let (status, _, body) = get(&pharos.url("/tempo/api/no_such_endpoint")).await;
    assert_eq!(status, 404);
    assert!(body.starts_with("404 page not found"), "{body}");

    let (status, _, body) = get(&pharos.url("/alertmanager/api/v2/no_such_endpoint")).await;
    assert_eq!(status, 404);
    let v = json(&body);
    assert_eq!(v["code"], 404);
    assert!(v["message"].as_str().unwrap().contains("was not found"));

    let client = reqwest::Client::new();
    let response = client
        .post(pharos.otlp_http_url("/v1/no_such_signal"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(json(&response.text().await.unwrap())["code"], 12);
}

#[tokio::test]
async fn the_otlp_grpc_port_speaks_grpc() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let pharos = Pharos::start();
    let mut client = TraceServiceClient::connect(format!("http://{}", pharos.otlp_grpc)).await.unwrap();
    // An empty export is a success with no partial-success report (the OTLP spec's rule).
    let response = client.export(ExportTraceServiceRequest::default()).await.unwrap().into_inner();
    assert_eq!(response.partial_success, None, "{response:?}");
}

#[tokio::test]
async fn metrics_endpoint_passes_promtool() {
    let promtool = require_program("promtool");
    let pharos = Pharos::start();
    get(&pharos.url("/api/v1/status/buildinfo")).await;
    get(&pharos.url("/api/v1/nope")).await;
    let (status, headers, body) = get(&pharos.url("/metrics")).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    for family in [
        "pharos_http_requests_total",
        "pharos_http_request_errors_total",
        "pharos_http_request_duration_seconds_bucket",
        "pharos_http_request_bytes_total",
        "pharos_http_response_bytes_total",
        "pharos_ingested_items_total{signal=\"traces\"}",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(body.contains(family), "{family} missing:\n{body}");
    }
    assert!(body.contains("handler=\"/api/v1/status/buildinfo\""), "{body}");

    let mut check = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn reload_applies_a_valid_file_and_keeps_the_running_one_otherwise() {
    let pharos = Pharos::start_with(Options { config: Some("log:\n  level: info\n".into()), ..Options::default() });
    let config_file = pharos.log.with_file_name("pharos.yml");
    let client = reqwest::Client::new();

    std::fs::write(&config_file, "server:\n  max_request_body: 100B\n  max_decoded_body: 1KiB\n").unwrap();
    let response = client.post(pharos.url("/-/reload")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = client.post(pharos.url("/api/v1/write")).body(vec![0u8; 200]).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413, "the new limit applies at once");

    std::fs::write(&config_file, "server:\n  max_request_bodyy: 1MiB\n").unwrap();
    let response = client.post(pharos.url("/-/reload")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let body = response.text().await.unwrap();
    assert!(body.contains("failed to reload config") && body.contains("max_request_bodyy"), "{body}");
    let response = client.post(pharos.url("/api/v1/write")).body(vec![0u8; 200]).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413, "the running config stays");

    // SIGHUP reloads the same way.
    std::fs::write(&config_file, "server:\n  max_request_body: 1MiB\n").unwrap();
    pharos.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = client.post(pharos.url("/api/v1/write")).body(vec![0u8; 200]).send().await.unwrap();
        if response.status().as_u16() != 413 {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload:\n{}", pharos.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
