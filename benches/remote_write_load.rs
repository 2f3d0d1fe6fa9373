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

mod servers;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pharos_proto::remote_write::v1::{Label, Sample as WireSample, TimeSeries, WriteRequest};
use pharos_storage::tsdb::Sample;
use pharos_storage::tsdb::chunk::synthetic::{Jitter, SCRAPE_INTERVAL_MS, Target};
use prost::Message;
use servers::{PrometheusBlocks, Server, dir_size, prometheus_blocks, scrape_value, start_pharos, start_prometheus};

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
            let (client, data, url, acked, failed) = (client.clone(), data.clone(), server.write_url(), acked.clone(), failed.clone());
            let name = server.name;
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
                        if servers::remote_write(&client, &url, body, name, &failed).await {
                            acked.fetch_add(count, Ordering::Relaxed);
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
    let data_dir_bytes = dir_size(&pharos.data_dir());
    println!(
        "pharos: blocks {:.1} MiB for {block_samples} samples = {:.3} bytes/sample; whole data dir incl. WAL and head {:.1} MiB",
        block_bytes / 1048576.0,
        block_bytes / block_samples,
        data_dir_bytes as f64 / 1048576.0
    );
    drop(pharos);

    if args.prometheus {
        let prom = start_prometheus("3650d");
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
        let data_dir = prom.data_dir();
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut last = prometheus_blocks(&data_dir);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(20));
            let now = prometheus_blocks(&data_dir);
            if now == last && now.samples > 0 {
                break;
            }
            last = now;
        }
        let PrometheusBlocks { bytes, samples, .. } = prometheus_blocks(&data_dir);
        println!(
            "prometheus: blocks {:.1} MiB for {samples} samples = {:.3} bytes/sample",
            bytes as f64 / 1048576.0,
            bytes as f64 / samples as f64
        );
    }
}
