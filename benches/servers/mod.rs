//! The servers a benchmark runs side by side: a release build of Pharos and Debian's Prometheus,
//! each on free loopback ports with a temporary data directory, and the small blocking HTTP
//! helpers to wait for them and read their `/metrics`.

#![allow(dead_code)] // Each benchmark uses a different part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server; killed when dropped.
pub struct Server {
    pub name: &'static str,
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Pharos' OTLP/HTTP listener, `http://127.0.0.1:PORT` (empty for other servers).
    pub otlp_http: String,
    pub dir: tempfile::TempDir,
    /// The command line it was started with, for reports.
    pub command: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.base)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_ready(url: &str) {
    for _ in 0..600 {
        if plain_http::get(url).is_some_and(|(status, _)| status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} never became ready");
}

pub mod plain_http {
    //! A tiny blocking GET over a plain socket, for readiness and `/metrics`.
    use std::io::{Read, Write};

    pub fn get(url: &str) -> Option<(u16, String)> {
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}")))?;
        let mut stream = std::net::TcpStream::connect(host).ok()?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let status = text.get(9..12)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Some((status, body))
    }
}

/// A metric's value from a `/metrics` page (summed over its label sets).
pub fn scrape_value(base: &str, name: &str) -> f64 {
    let (_, body) = plain_http::get(&format!("{base}/metrics")).unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn command_line(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Start `bin serve` with its data in a temporary directory; returns once `/-/ready` answers.
pub fn start_pharos(bin: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let otlp_http_port = free_port();
    let mut command = Command::new(bin);
    command
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--http-listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--otlp-grpc-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--otlp-http-listen")
        .arg(format!("127.0.0.1:{otlp_http_port}"))
        .arg("--log-level")
        .arg("warn");
    let text = command_line(&command);
    let child = command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap_or_else(|e| {
        panic!("cannot start {}: {e} (build it with cargo build --release --bin pharos)", bin.display())
    });
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/-/ready"));
    Server { name: "pharos", child, base, otlp_http: format!("http://127.0.0.1:{otlp_http_port}"), dir, command: text }
}

/// Start Debian's Prometheus as a remote-write receiver with no scrape targets, keeping data for
/// `retention` (a Prometheus duration).
pub fn start_prometheus(retention: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let mut command = Command::new("prometheus");
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg(format!("--storage.tsdb.retention.time={retention}"))
        .arg("--log.level=warn");
    let text = command_line(&command);
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus (apt-get install prometheus)");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/-/ready"));
    Server { name: "prometheus", child, base, otlp_http: String::new(), dir, command: text }
}

/// Prometheus' persisted blocks (directories with a `meta.json`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusBlocks {
    pub names: Vec<String>,
    pub samples: u64,
    pub bytes: u64,
}

pub fn prometheus_blocks(data_dir: &Path) -> PrometheusBlocks {
    let mut blocks = PrometheusBlocks { names: Vec::new(), samples: 0, bytes: 0 };
    for entry in std::fs::read_dir(data_dir).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("meta.json")) else { continue };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        blocks.samples += v["stats"]["numSamples"].as_u64().unwrap_or(0);
        blocks.bytes += dir_size(&entry.path());
        blocks.names.push(entry.file_name().to_string_lossy().into_owned());
    }
    blocks.names.sort();
    blocks
}

/// utime + stime of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// The `p` quantile (0–1) of ascending `sorted`, by rank (the smallest value with at least p of the
/// values at or below it).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let meta = e.metadata().unwrap();
            if meta.is_dir() { dir_size(&e.path()) } else { meta.len() }
        })
        .sum()
}

/// POST one remote-write body (snappy protobuf, Prometheus' headers), retrying server errors
/// every 50 ms up to 20 times as Prometheus would; true when acknowledged. The first few refusals
/// are printed, counted in `refused`.
pub async fn remote_write(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    name: &str,
    refused: &std::sync::atomic::AtomicU64,
) -> bool {
    for attempt in 0.. {
        let sent = client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) if response.status().is_server_error() && attempt < 20 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                if refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
                    eprintln!("{name}: request refused: {status} {}", &text[..text.len().min(300)]);
                }
                return false;
            }
            Err(e) => panic!("{name}: send failed: {e}"),
        }
    }
    false
}

// Pharos — benches/servers/mod.rs
