//! Remote-write load generator: node_exporter-like traffic (synthetic targets of ~1000 series
//! each, 15 s scrapes, fixed seed) sent to a release build of Pharos — and, with `--prometheus`,
//! the same bytes to Debian's Prometheus 2.42 in the same run — reporting samples/s per core of
//! server CPU, disk bytes per sample in compacted blocks, and RSS per active series.
//!
//! ```text
//! cargo build --release && cargo bench --bench remote_write_load -- --targets 20 --hours 24 --prometheus
//! ```
//!
//! Options: `--targets N` (default 10), `--hours H` of data per target (default 4),
//! `--senders N` concurrent senders (default 4; each owns whole targets, so every series arrives
//! in time order), `--pharos PATH` (default `$CARGO_TARGET_DIR/release/pharos`), `--prometheus`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pharos_proto::remote_write::v1::{Label, Sample as WireSample, TimeSeries, WriteRequest};
use pharos_storage::tsdb::Sample;
use pharos_storage::tsdb::chunk::synthetic::{Jitter, SCRAPE_INTERVAL_MS, Target};
use prost::Message;

/// Scrapes per request: two scrapes of one target, about 2000 samples (Prometheus sends ≤ 2000).
const SCRAPES_PER_REQUEST: usize = 2;

/// Senders meet at a barrier every this many rounds (10 minutes of data), so no target falls more
/// than that behind the others — live remote-write traffic is never hours apart, and both servers
/// refuse samples far older than their newest as out of bounds.
const ROUNDS_PER_BARRIER: usize = 20;

struct Args {
    targets: u32,
    hours: usize,
    senders: usize,
    pharos: PathBuf,
    prometheus: bool,
}

fn parse_args() -> Args {
    let target_dir = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
    let mut args = Args { targets: 10, hours: 4, senders: 4, pharos: target_dir.join("release/pharos"), prometheus: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--targets" => args.targets = value().parse().expect("--targets N"),
            "--hours" => args.hours = value().parse().expect("--hours H"),
            "--senders" => args.senders = value().parse().expect("--senders N"),
            "--pharos" => args.pharos = PathBuf::from(value()),
            "--prometheus" => args.prometheus = true,
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// One target's data: labels per series and every sample, generated once.
struct TargetData {
    labels: Vec<Vec<Label>>,
    samples: Vec<Vec<Sample>>,
    scrapes: usize,
}

fn parse_labels(text: &str) -> Vec<Label> {
    let (name, rest) = text.split_once('{').unwrap_or((text, "}"));
    let mut labels = vec![Label { name: "__name__".into(), value: name.into() }];
    for pair in rest.trim_end_matches('}').split("\",").filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once("=\"").expect("synthetic labels are name=\"value\"");
        labels.push(Label { name: k.into(), value: v.trim_end_matches('"').into() });
    }
    if !labels.iter().any(|l| l.name == "job") {
        labels.push(Label { name: "job".into(), value: "node".into() });
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

fn generate(index: u32, scrapes: usize) -> TargetData {
    let target = Target::new(index, scrapes, Jitter::Aligned);
    let mut data = TargetData { labels: Vec::new(), samples: Vec::new(), scrapes };
    for series in 0..target.series_count() {
        let mut samples = Vec::new();
        target.samples_into(series, &mut samples);
        data.labels.push(parse_labels(target.labels(series)));
        data.samples.push(samples);
    }
    data
}

/// Request number `r` of a target: scrapes `r*2 .. r*2+2` of every series, snappy-compressed.
fn request(data: &TargetData, r: usize) -> (Vec<u8>, u64) {
    let scrapes = r * SCRAPES_PER_REQUEST..((r + 1) * SCRAPES_PER_REQUEST).min(data.scrapes);
    let mut count = 0;
    let timeseries = data
        .labels
        .iter()
        .zip(&data.samples)
        .map(|(labels, samples)| {
            let wire: Vec<WireSample> =
                samples[scrapes.clone()].iter().map(|s| WireSample { value: s.v, timestamp: s.t }).collect();
            count += wire.len() as u64;
            TimeSeries { labels: labels.clone(), samples: wire, ..Default::default() }
        })
        .collect();
    let body = WriteRequest { timeseries, metadata: vec![] }.encode_to_vec();
    (snap::raw::Encoder::new().compress_vec(&body).expect("snappy"), count)
}

/// CPU seconds (user + system) of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf reads static configuration.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

fn rss_bytes(pid: u32) -> f64 {
    status_bytes(pid, "VmRSS:")
}

/// A `kB` field of /proc/PID/status in bytes (`VmRSS:`, `RssAnon:`, `RssFile:`).
fn status_bytes(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_ready(url: &str) {
    for _ in 0..600 {
        if plain_http::get_status(url) == Some(200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} never became ready");
}

mod plain_http {
    //! Tiny blocking helpers over plain sockets (the async client is used for the load).
    use std::io::{Read, Write};

    pub fn get_status(url: &str) -> Option<u16> {
        Some(get(url)?.0)
    }

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

/// A metric's value from a `/metrics` page.
fn scrape_value(base: &str, name: &str) -> f64 {
    let (_, body) = plain_http::get(&format!("{base}/metrics")).unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Server {
    child: Child,
    base: String,
    write_url: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_pharos(bin: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--http-listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--otlp-grpc-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--otlp-http-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--log-level")
        .arg("warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (build it with cargo build --release)", bin.display()));
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/-/ready"));
    Server { child, write_url: format!("{base}/api/v1/write"), base, dir }
}

fn start_prometheus() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--storage.tsdb.retention.time=3650d")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus (apt-get install prometheus)");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/-/ready"));
    Server { child, write_url: format!("{base}/api/v1/write"), base, dir }
}

/// Send every request of every target; returns (samples acknowledged, wall seconds, server CPU s).
fn load(server: &Server, data: &Arc<Vec<TargetData>>, senders: usize) -> (u64, f64, f64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_seconds(server.child.id());
    let started = Instant::now();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        let barrier = Arc::new(tokio::sync::Barrier::new(senders));
        for sender in 0..senders {
            let (client, data, url, acked, failed) = (client.clone(), data.clone(), server.write_url.clone(), acked.clone(), failed.clone());
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let mine: Vec<usize> = (0..data.len()).filter(|t| t % senders == sender).collect();
                let rounds = data.first().map_or(0, |d| d.scrapes.div_ceil(SCRAPES_PER_REQUEST));
                for r in 0..rounds {
                    if r % ROUNDS_PER_BARRIER == 0 {
                        barrier.wait().await;
                    }
                    for &t in &mine {
                        let (body, count) = request(&data[t], r);
                        let mut attempt = 0;
                        loop {
                            let sent = client
                                .post(&url)
                                .header("Content-Encoding", "snappy")
                                .header("Content-Type", "application/x-protobuf")
                                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                                .body(body.clone())
                                .send()
                                .await;
                            match sent {
                                Ok(response) if response.status().is_success() => {
                                    acked.fetch_add(count, Ordering::Relaxed);
                                    break;
                                }
                                Ok(response) if response.status().is_server_error() && attempt < 20 => {
                                    attempt += 1;
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                                Ok(response) => {
                                    let status = response.status();
                                    let text = response.text().await.unwrap_or_default();
                                    if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                                        eprintln!("request refused: {status} {}", &text[..text.len().min(300)]);
                                    }
                                    break;
                                }
                                Err(e) => panic!("send failed: {e}"),
                            }
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.child.id()) - cpu_before;
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("{failed} requests were refused");
    }
    (acked.load(Ordering::Relaxed), wall, cpu)
}

/// Bytes and samples of Prometheus' persisted blocks (directories with a meta.json).
fn prometheus_blocks(data_dir: &Path) -> (u64, u64) {
    let (mut bytes, mut samples) = (0, 0);
    for entry in std::fs::read_dir(data_dir).into_iter().flatten().flatten() {
        let meta = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta) else { continue };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        samples += v["stats"]["numSamples"].as_u64().unwrap_or(0);
        bytes += dir_size(&entry.path());
    }
    (bytes, samples)
}

fn dir_size(path: &Path) -> u64 {
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

fn main() {
    let args = parse_args();
    let scrapes = args.hours * 3600 * 1000 / SCRAPE_INTERVAL_MS as usize;
    eprintln!("generating {} targets × {} scrapes …", args.targets, scrapes);
    let data: Arc<Vec<TargetData>> = Arc::new((0..args.targets).map(|t| generate(t, scrapes)).collect());
    let series: usize = data.iter().map(|d| d.labels.len()).sum();
    let samples: usize = data.iter().map(|d| d.samples.iter().map(Vec::len).sum::<usize>()).sum();
    println!("data: {} targets, {series} series, {samples} samples ({} h at 15 s)", args.targets, args.hours);

    let pharos = start_pharos(&args.pharos);
    let rss_idle = rss_bytes(pharos.child.id());
    let (acked, wall, cpu) = load(&pharos, &data, args.senders);
    println!(
        "pharos: {acked} samples acknowledged in {wall:.1} s wall = {:.0} samples/s; server CPU {cpu:.1} s = {:.0} samples/s per core",
        acked as f64 / wall,
        acked as f64 / cpu
    );
    let rss_after_load = rss_bytes(pharos.child.id());
    // Let maintenance cut and compact what it will (it runs every 30 s), then measure the steady
    // state: the head holds the newest hours, as it does under live traffic.
    std::thread::sleep(Duration::from_secs(35));
    let rss = rss_bytes(pharos.child.id());
    let head_series = scrape_value(&pharos.base, "pharos_tsdb_head_series");
    println!(
        "pharos: RSS {:.1} MiB ({:.1} MiB idle, {:.1} MiB right after the load) for {head_series} head series = {:.0} bytes per active series ({:.0} above idle)",
        rss / 1048576.0,
        rss_idle / 1048576.0,
        rss_after_load / 1048576.0,
        rss / head_series,
        (rss - rss_idle) / head_series
    );
    let (anon, file) = (status_bytes(pharos.child.id(), "RssAnon:"), status_bytes(pharos.child.id(), "RssFile:"));
    let head_estimate = scrape_value(&pharos.base, "pharos_tsdb_head_memory_bytes");
    println!("pharos: the head's own estimate of its memory: {:.1} MiB = {:.0} bytes per series", head_estimate / 1048576.0, head_estimate / head_series);
    println!(
        "pharos: of which anonymous {:.1} MiB = {:.0} bytes per series, file-backed (mapped blocks and chunks, page cache) {:.1} MiB",
        anon / 1048576.0,
        anon / head_series,
        file / 1048576.0
    );
    let block_bytes = scrape_value(&pharos.base, "pharos_tsdb_block_bytes");
    let block_samples = scrape_value(&pharos.base, "pharos_tsdb_block_samples");
    let data_dir_bytes = dir_size(&pharos.dir.path().join("data"));
    println!(
        "pharos: blocks {:.1} MiB for {block_samples} samples = {:.3} bytes/sample; whole data dir incl. WAL and head {:.1} MiB",
        block_bytes / 1048576.0,
        block_bytes / block_samples,
        data_dir_bytes as f64 / 1048576.0
    );
    drop(pharos);

    if args.prometheus {
        let prom = start_prometheus();
        let (acked, wall, cpu) = load(&prom, &data, args.senders);
        println!(
            "prometheus: {acked} samples acknowledged in {wall:.1} s wall = {:.0} samples/s; server CPU {cpu:.1} s = {:.0} samples/s per core",
            acked as f64 / wall,
            acked as f64 / cpu
        );
        let rss = rss_bytes(prom.child.id());
        let head_series = scrape_value(&prom.base, "prometheus_tsdb_head_series");
        println!("prometheus: RSS {:.1} MiB for {head_series} head series = {:.0} bytes per active series", rss / 1048576.0, rss / head_series);
        // Prometheus checks for head compaction every minute.
        let data_dir = prom.dir.path().join("data");
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut last = prometheus_blocks(&data_dir);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(20));
            let now = prometheus_blocks(&data_dir);
            if now == last && now.1 > 0 {
                break;
            }
            last = now;
        }
        let (bytes, samples) = prometheus_blocks(&data_dir);
        println!(
            "prometheus: blocks {:.1} MiB for {samples} samples = {:.3} bytes/sample",
            bytes as f64 / 1048576.0,
            bytes as f64 / samples as f64
        );
    }
}
