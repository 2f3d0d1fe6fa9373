//! Starting the real `pharos` binary for end-to-end tests: free ports, a temporary data directory,
//! its log captured to a file, and a kill on drop.

#![allow(dead_code)] // Each test file uses a different part of the harness.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn pharos_bin() -> &'static str {
    env!("CARGO_BIN_EXE_pharos")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One running `pharos serve`.
pub struct Pharos {
    pub child: Child,
    pub http: SocketAddr,
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    _tmp: tempfile::TempDir,
}

/// How to start one.
#[derive(Clone, Default)]
pub struct Options {
    /// A configuration file's contents, written to a temp file and passed with `--config`.
    pub config: Option<String>,
    /// Use this data directory instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// Use this OTLP gRPC address instead of a free port.
    pub otlp_grpc: Option<SocketAddr>,
    pub extra_args: Vec<String>,
}

impl Pharos {
    /// Start with fresh ports and data dir; wait until `/-/ready` answers 200.
    pub fn start() -> Pharos {
        Pharos::start_with(Options::default())
    }

    /// Ports are picked free and then released, so a test running in parallel can take one
    /// before Pharos binds it: when Pharos exits on a busy port, start again on new ones.
    pub fn start_with(options: Options) -> Pharos {
        for _ in 0..3 {
            let mut pharos = Pharos::spawn(options.clone());
            if pharos.wait_ready_or_exit() {
                return pharos;
            }
            let log = pharos.log_text();
            // A port picked twice (free_port releases it) shows as a clash of two listeners.
            let port_taken = log.contains("cannot listen on") || log.contains("is already used by");
            assert!(port_taken, "pharos exited before it was ready; log:\n{log}");
        }
        panic!("pharos found no free ports in three attempts");
    }

    /// Start without waiting for readiness.
    pub fn spawn(options: Options) -> Pharos {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = options.data_dir.unwrap_or_else(|| tmp.path().join("data"));
        let log = tmp.path().join("pharos.log");
        let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let (http, otlp_http) = (addr(free_port()), addr(free_port()));
        let otlp_grpc = options.otlp_grpc.unwrap_or_else(|| addr(free_port()));
        let mut cmd = Command::new(pharos_bin());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--http-listen")
            .arg(http.to_string())
            .arg("--otlp-grpc-listen")
            .arg(otlp_grpc.to_string())
            .arg("--otlp-http-listen")
            .arg(otlp_http.to_string())
            .args(&options.extra_args);
        if let Some(config) = options.config {
            let file = tmp.path().join("pharos.yml");
            std::fs::write(&file, config).unwrap();
            cmd.arg("--config").arg(file);
        }
        let log_file = std::fs::File::create(&log).unwrap();
        let child = cmd.stdout(Stdio::null()).stderr(log_file).spawn().expect("start pharos");
        Pharos { child, http, otlp_grpc, otlp_http, data_dir, log, _tmp: tmp }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn otlp_http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.otlp_http, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// True once `/-/ready` answers 200, false if the process exits first.
    pub fn wait_ready_or_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if http_status(self.http, "/-/ready") == Some(200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("pharos did not become ready; log:\n{}", self.log_text());
    }

    /// Send a signal to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Wait for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, limit)
    }
}

impl Drop for Pharos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait for a child to exit, at most `limit`.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The status of a GET over a plain socket, or None if nothing answers (used before a client exists).
pub fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Run `pharos` with arguments to completion.
pub fn run_pharos(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(pharos_bin()).args(args).current_dir(cwd).output().expect("run pharos")
}

/// The path of a file in the repository.
pub fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A required external program from the set-up script, or a panic that says how to get it.
/// Percent-encode a query parameter value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn require_program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed; run scripts/setup (it installs what the tests need)"))
}

/// Remote-write requests as Prometheus sends them: protobuf, snappy block format, its headers.
pub mod remote_write {
    use pharos_proto::remote_write::v1::{Label, Sample, TimeSeries, WriteRequest};
    use prost::Message;

    /// A series from `name` and label pairs (sorted here) with samples `(t, v)`.
    pub fn series(name: &str, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        let mut pairs: Vec<Label> =
            labels.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }).collect();
        pairs.push(Label { name: "__name__".into(), value: name.into() });
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        TimeSeries {
            labels: pairs,
            samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
            ..Default::default()
        }
    }

    pub fn encode(request: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).expect("snappy")
    }

    /// POST a body with Prometheus' remote-write headers; returns status and body text.
    pub async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
        let response = client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .expect("send remote write");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn send(client: &reqwest::Client, url: &str, request: &WriteRequest) -> (u16, String) {
        post(client, url, encode(request)).await
    }
}
