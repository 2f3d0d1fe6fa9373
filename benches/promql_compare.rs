//! PromQL query benchmark: the same node_exporter-like data set remote-written into a release
//! build of Pharos and into Debian's Prometheus 2.42, then the queries of a node_exporter dashboard
//! and its alert rules timed on both side by side in one run.
//!
//! ```text
//! CARGO_TARGET_DIR=$HOME/.cache/pharos/target cargo build --release --locked --bin pharos
//! CARGO_TARGET_DIR=$HOME/.cache/pharos/target cargo bench --locked --bench promql_compare -- --instances 50 --hours 24
//! ```
//!
//! Data (fixed seed, generated per request, so memory stays at one request per sender): each
//! instance is one host with 8 CPUs — `node_cpu_seconds_total{cpu,mode}`, network, disk and
//! interrupt counters, memory and filesystem gauges, load averages, `node_uname_info{nodename,…} 1`
//! for `group_left` joins — plus an API server on the same host exposing the classic histogram
//! `http_request_duration_seconds{handler}` (11 buckets + `+Inf`, `_sum`, `_count`). Counters
//! grow with a daily cycle; one instance in 17 reboots two thirds of the way through (counter
//! resets); some filesystems fill up (alerts fire), some CPUs spend the last 2 h in iowait.
//! Samples every 15 s, each instance with its own phase, ending at the current time rounded down
//! to 15 s. 50 instances × 200 series × 24 h = 10,000 series, 57.6M samples.
//!
//! Loading: every request holds all series of one instance for `--scrapes-per-request` scrapes
//! (default 8: 1600 samples), posted to both servers at once; senders each own whole instances
//! (so every series arrives in time order) and meet at a barrier every 10 minutes of data.
//! Then both are asked `count({__name__=~".+"})` until they answer, and the run waits until
//! both have settled their blocks (Pharos cuts and compacts every 30 s, Prometheus every minute).
//!
//! Queries: dashboard queries as range queries over the whole span with a 60 s step (what Grafana
//! sends), alert rules and a few dashboard panels as instant queries at the end time. Each query is
//! run once on each server as a warm-up with `stats=all` (whose answers are compared: number of
//! series, labels, timestamps, values within 1e-6 relative; and whose
//! `data.stats.samples.totalQueryableSamples` gives the samples scanned), then `--runs` times on
//! each server alternately; the median wall time (request sent → whole body received) is reported.
//! Pharos evaluates a query on one thread, so samples scanned per second of wall time is per core.
//! Targets (issue 4): Pharos / Prometheus ≤ 0.5 per query, ≥ 30M samples/s per core.
//!
//! Options: `--instances N` (default 50), `--series-per-instance N` (default 200; at least the
//! 182 fixed series, the rest are interrupt counters), `--hours H` (default 24), `--runs N`
//! (default 5), `--senders N` (default 4), `--scrapes-per-request N` (default 8), `--step S`
//! seconds of range queries (default 60), `--only TEXT` (queries containing TEXT), `--show` (print
//! a few series of each answer), `--hold S` (keep both servers running S seconds at the end, to
//! investigate a difference by hand), `--no-prometheus` (Pharos only), `--no-pharos` (Prometheus only,
//! to check the data and the queries themselves), `--pharos PATH` (default
//! `$CARGO_TARGET_DIR/release/pharos`).

mod servers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pharos_proto::remote_write::v1::{Label, Sample as WireSample, TimeSeries, WriteRequest};
use prost::Message;
use servers::{Server, prometheus_blocks, scrape_value, start_pharos, start_prometheus};

const SCRAPE_MS: i64 = 15_000;
/// Senders meet at a barrier every this many scrapes (10 minutes of data): both servers refuse
/// samples far older than their newest.
const SCRAPES_PER_BARRIER: usize = 40;
const CPUS: usize = 8;
const CPU_MODES: [&str; 8] = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
const NET_DEVICES: [&str; 6] = ["docker0", "eth0", "eth1", "lo", "veth0", "veth1"];
const DISKS: [&str; 3] = ["nvme0n1", "sda", "sdb"];
/// (mountpoint, device, fstype, size in 4 KiB blocks)
const FILESYSTEMS: [(&str, &str, &str, u64); 4] = [
    ("/", "/dev/sda1", "ext4", 50 << 18),
    ("/boot", "/dev/sda2", "vfat", 1 << 18),
    ("/data", "/dev/nvme0n1p1", "xfs", 1024 << 18),
    ("/var", "/dev/sdb1", "ext4", 100 << 18),
];
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const BUCKET_LABELS: [&str; 12] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
/// (handler, requests per second, median latency in seconds)
const HANDLERS: [(&str, f64, f64); 5] =
    [("/", 10.0, 0.02), ("/api/v1/query", 20.0, 0.05), ("/api/v1/write", 100.0, 0.01), ("/login", 2.0, 0.2), ("/metrics", 1.0 / 15.0, 0.003)];

struct Args {
    instances: usize,
    series_per_instance: usize,
    hours: f64,
    runs: usize,
    senders: usize,
    scrapes_per_request: usize,
    step_s: u64,
    only: Option<String>,
    show: bool,
    hold: u64,
    pharos_enabled: bool,
    prometheus_enabled: bool,
    pharos: PathBuf,
}

fn parse_args() -> Args {
    let target_dir = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
    let mut args = Args {
        instances: 50,
        series_per_instance: 200,
        hours: 24.0,
        runs: 5,
        senders: 4,
        scrapes_per_request: 8,
        step_s: 60,
        only: None,
        show: false,
        hold: 0,
        pharos_enabled: true,
        prometheus_enabled: true,
        pharos: target_dir.join("release/pharos"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--instances" => args.instances = value().parse().expect("--instances N"),
            "--series-per-instance" => args.series_per_instance = value().parse().expect("--series-per-instance N"),
            "--hours" => args.hours = value().parse().expect("--hours H"),
            "--runs" => args.runs = value().parse().expect("--runs N"),
            "--senders" => args.senders = value().parse().expect("--senders N"),
            "--scrapes-per-request" => args.scrapes_per_request = value().parse().expect("--scrapes-per-request N"),
            "--step" => args.step_s = value().parse().expect("--step SECONDS"),
            "--only" => args.only = Some(value()),
            "--show" => args.show = true,
            "--hold" => args.hold = value().parse().expect("--hold SECONDS"),
            "--pharos" => args.pharos = PathBuf::from(value()),
            "--no-prometheus" => args.prometheus_enabled = false,
            "--no-pharos" => args.pharos_enabled = false,
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(args.pharos_enabled || args.prometheus_enabled, "nothing to run with both --no-pharos and --no-prometheus");
    args.senders = args.senders.clamp(1, args.instances.max(1));
    args.scrapes_per_request = args.scrapes_per_request.clamp(1, SCRAPES_PER_BARRIER);
    args.runs = args.runs.max(1);
    args
}

// ---------------------------------------------------------------------------------------------
// Data set
// ---------------------------------------------------------------------------------------------

/// xorshift64* seeded through splitmix64: deterministic, no dependency.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(z.max(1))
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Log-uniform in [low, high).
    fn log_range(&mut self, low: f64, high: f64) -> f64 {
        (low.ln() + (high.ln() - low.ln()) * self.unit()).exp()
    }

    /// Uniform integer in `low..=high`.
    fn int(&mut self, low: i64, high: i64) -> i64 {
        low + ((u128::from(self.next_u64()) * (high - low + 1) as u128) >> 64) as i64
    }
}

/// How one series evolves from scrape to scrape.
enum Shape {
    Constant(f64),
    /// A counter of integer `units` (value = units / div) growing by `rate` units per second on
    /// average, with a daily cycle of relative amplitude `diurnal`, and from scrape `burst.0` on
    /// at `burst.1` units per second.
    Counter { units: u64, div: f64, rate: f64, diurnal: f64, phase: f64, burst: Option<(usize, f64)> },
    /// A gauge of integer units (value = units / div) walking by up to ±`step` within `low..=high`.
    Walk { units: i64, low: i64, high: i64, step: i64, div: f64 },
    /// A gauge of 4 KiB blocks falling by `per_scrape` (a filesystem filling up), never below 0.
    Drain { blocks: f64, per_scrape: f64 },
    /// Written by the histogram of the instance that owns it.
    Histogram,
}

/// One handler's classic histogram: series `first..first + 12` are the buckets, then `_sum`, `_count`.
struct Histogram {
    first: usize,
    rate: f64,
    median: f64,
    buckets: [u64; 12],
    sum: f64,
}

impl Histogram {
    /// Add `requests` requests with log-normal latencies around `median` to the buckets and sum.
    fn observe(&mut self, requests: f64, median: f64, rng: &mut Rng) {
        let mut below = 0.0;
        let mut cumulative = 0u64;
        for (i, bucket) in self.buckets.iter_mut().enumerate() {
            let (lower, upper, p) = match BUCKETS.get(i) {
                Some(&le) => (if i == 0 { 0.0 } else { BUCKETS[i - 1] }, le, log_normal_cdf(le, median, 0.9)),
                None => (BUCKETS[i - 1], BUCKETS[i - 1] * 2.0, 1.0),
            };
            let n = (requests * (p - below) + rng.unit()).floor().max(0.0);
            below = p;
            cumulative += n as u64;
            *bucket += cumulative;
            self.sum += n * (lower + upper) / 2.0;
        }
    }
}

/// One host: its series, their current values and the random stream that moves them.
struct Instance {
    labels: Vec<Vec<Label>>,
    shapes: Vec<Shape>,
    histograms: Vec<Histogram>,
    values: Vec<f64>,
    rng: Rng,
    /// Timestamp of scrape 0.
    first_t: i64,
    scrapes: usize,
    next_scrape: usize,
    reboot_at: Option<usize>,
    incident: Option<(usize, usize)>,
}

fn label_set(name: &str, pairs: &[(&str, String)]) -> Vec<Label> {
    let mut labels = vec![Label { name: "__name__".into(), value: name.into() }];
    labels.extend(pairs.iter().map(|(k, v)| Label { name: (*k).into(), value: v.clone() }));
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// Series of one instance before the interrupt counters that fill up to `--series-per-instance`.
const FIXED_SERIES: usize =
    CPUS * CPU_MODES.len() + NET_DEVICES.len() * 3 + 5 + FILESYSTEMS.len() * 3 + 1 + 3 + DISKS.len() * 3 + HANDLERS.len() * 14;

impl Instance {
    /// Instance `index` of a data set whose last scrape is at `end_ms` (minus the instance's phase).
    fn new(index: usize, series_per_instance: usize, scrapes: usize, end_ms: i64) -> Self {
        let mut rng = Rng::new(0x9e05_0000 + index as u64);
        let phase_ms = rng.int(0, SCRAPE_MS - 1);
        let host = format!("10.0.{}.{}", index / 250, index % 250 + 1);
        let node = || vec![("instance", format!("{host}:9100")), ("job", "node".to_string())];
        let mut labels = Vec::new();
        let mut shapes = Vec::new();
        let mut histograms = Vec::new();
        let day_phase = rng.range(0.0, 0.5);
        macro_rules! push {
            ($labels:expr, $shape:expr $(,)?) => {{
                labels.push($labels);
                shapes.push($shape);
            }};
        }

        // CPU: cpu-seconds per second per mode, 2 decimals (units of 10 ms).
        let util = rng.range(0.05, 0.6);
        let iowait_host = index % 25 == 7;
        let burst_from = scrapes.saturating_sub(2 * 3600 * 1000 / SCRAPE_MS as usize);
        for cpu in 0..CPUS {
            for mode in CPU_MODES {
                let cpu_util = util * rng.range(0.7, 1.3);
                let (rate, diurnal) = match mode {
                    "idle" => (1.0 - cpu_util - 0.035, 0.1),
                    "user" => (cpu_util * 0.65, 0.4),
                    "system" => (cpu_util * 0.3, 0.4),
                    "iowait" => (0.02, 0.2),
                    "irq" => (0.002, 0.1),
                    "softirq" => (0.01, 0.3),
                    "nice" => (0.001, 0.0),
                    _ => (0.0, 0.0),
                };
                let burst = (iowait_host && mode == "iowait" && cpu < 2).then_some((burst_from, 70.0));
                let mut pairs = node();
                pairs.extend([("cpu", cpu.to_string()), ("mode", mode.to_string())]);
                let units = (rng.range(1e5, 1e6) * rate.max(0.001) * 100.0) as u64;
                push!(
                    label_set("node_cpu_seconds_total", &pairs),
                    Shape::Counter { units, div: 100.0, rate: rate * 100.0, diurnal, phase: day_phase, burst },
                );
            }
        }
        // Network: bytes and packets; eth1 idle on one host in five.
        for device in NET_DEVICES {
            let receive = match device {
                "eth0" => rng.log_range(2e5, 5e7),
                "eth1" if index % 5 == 0 => 0.0,
                "eth1" => rng.log_range(1e4, 1e6),
                "lo" => rng.log_range(1e4, 1e5),
                "docker0" => rng.log_range(1e4, 1e6),
                _ => rng.log_range(1e3, 1e5),
            };
            let transmit = receive * rng.range(0.3, 1.5);
            for (name, rate) in [
                ("node_network_receive_bytes_total", receive),
                ("node_network_transmit_bytes_total", transmit),
                ("node_network_receive_packets_total", receive / 800.0),
            ] {
                let mut pairs = node();
                pairs.push(("device", device.to_string()));
                let units = (rate * rng.range(1e4, 1e6)) as u64;
                push!(label_set(name, &pairs), Shape::Counter { units, div: 1.0, rate, diurnal: 0.5, phase: day_phase, burst: None });
            }
        }
        // Memory, in KiB units (div = 1/1024 gives bytes exactly).
        let total_kib: i64 = [8i64, 16, 32, 64][index % 4] << 20;
        let pct = |p: f64| (total_kib as f64 * p / 100.0) as i64;
        let memory = [
            ("node_memory_MemAvailable_bytes", 5.0, 90.0, rng.range(30.0, 70.0), 0.5),
            ("node_memory_MemFree_bytes", 2.0, 30.0, rng.range(5.0, 20.0), 0.3),
            ("node_memory_Cached_bytes", 10.0, 50.0, rng.range(15.0, 40.0), 0.3),
            ("node_memory_Buffers_bytes", 0.5, 3.0, rng.range(0.8, 2.0), 0.05),
        ];
        for (name, low, high, start, step) in memory {
            let shape = Shape::Walk { units: pct(start), low: pct(low), high: pct(high), step: pct(step).max(1), div: 1.0 / 1024.0 };
            push!(label_set(name, &node()), shape);
        }
        push!(label_set("node_memory_MemTotal_bytes", &node()), Shape::Constant(total_kib as f64 * 1024.0));
        // Filesystems, in 4 KiB blocks: /data fills up on one host in ten (alerts fire near the
        // end), /var sits at 6–8 % free on another one in ten.
        for (mountpoint, device, fstype, size) in FILESYSTEMS {
            let mut pairs = node();
            pairs.extend([("device", device.to_string()), ("fstype", fstype.to_string()), ("mountpoint", mountpoint.to_string())]);
            let blocks = |p: f64| (size as f64 * p) as i64;
            let avail = if mountpoint == "/data" && index % 10 == 0 {
                let (from, to) = (size as f64 * 0.6, size as f64 * 0.03);
                Shape::Drain { blocks: from, per_scrape: (from - to) / scrapes.max(1) as f64 }
            } else if mountpoint == "/var" && index % 10 == 5 {
                Shape::Walk { units: blocks(0.07), low: blocks(0.06), high: blocks(0.08), step: blocks(0.0005), div: 1.0 / 4096.0 }
            } else {
                let start = rng.range(0.3, 0.8);
                Shape::Walk { units: blocks(start), low: blocks(0.2), high: blocks(0.9), step: blocks(0.0002).max(1), div: 1.0 / 4096.0 }
            };
            push!(label_set("node_filesystem_avail_bytes", &pairs), avail);
            let free = Shape::Walk { units: blocks(0.5), low: blocks(0.3), high: blocks(0.95), step: blocks(0.0002).max(1), div: 1.0 / 4096.0 };
            push!(label_set("node_filesystem_free_bytes", &pairs), free);
            push!(label_set("node_filesystem_size_bytes", &pairs), Shape::Constant(size as f64 * 4096.0));
        }
        // node_uname_info: the join target of dashboards.
        let mut pairs = node();
        pairs.extend([
            ("domainname", "(none)".to_string()),
            ("machine", "x86_64".to_string()),
            ("nodename", format!("node-{index:03}")),
            ("release", format!("6.1.0-{}-amd64", 10 + index % 8)),
            ("sysname", "Linux".to_string()),
            ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0".to_string()),
        ]);
        push!(label_set("node_uname_info", &pairs), Shape::Constant(1.0));
        // Load averages, 2 decimals.
        let load_high = (CPUS * 150) as i64;
        for name in ["node_load1", "node_load15", "node_load5"] {
            let start = (util * CPUS as f64 * 100.0) as i64;
            push!(label_set(name, &node()), Shape::Walk { units: start, low: 0, high: load_high, step: 20, div: 100.0 });
        }
        // Disks: bytes and busy seconds (milliseconds resolution).
        for device in DISKS {
            let mut pairs = node();
            pairs.push(("device", device.to_string()));
            for (name, rate, div) in [
                ("node_disk_io_time_seconds_total", rng.range(10.0, 300.0), 1000.0),
                ("node_disk_read_bytes_total", rng.log_range(1e5, 1e7), 1.0),
                ("node_disk_written_bytes_total", rng.log_range(1e5, 5e6), 1.0),
            ] {
                let units = (rate * rng.range(1e4, 1e6)) as u64;
                push!(label_set(name, &pairs), Shape::Counter { units, div, rate, diurnal: 0.3, phase: day_phase, burst: None });
            }
        }
        // The API server on the same host: a classic histogram per handler.
        for (handler, rate, median) in HANDLERS {
            let api = || vec![("handler", handler.to_string()), ("instance", format!("{host}:8080")), ("job", "api".to_string())];
            let mut histogram =
                Histogram { first: shapes.len(), rate: rate * rng.range(0.5, 2.0), median: median * rng.range(0.8, 1.5), buckets: [0; 12], sum: 0.0 };
            // The server has been up for hours to days before the window: counters far from zero.
            // (Starting at zero would only measure rate()'s extrapolation at a counter's start,
            // which changed in Prometheus 2.51, prometheus/prometheus#13725.)
            histogram.observe(histogram.rate * rng.range(1e4, 1e6), histogram.median, &mut rng);
            histograms.push(histogram);
            for le in BUCKET_LABELS {
                let mut pairs = api();
                pairs.push(("le", le.to_string()));
                push!(label_set("http_request_duration_seconds_bucket", &pairs), Shape::Histogram);
            }
            push!(label_set("http_request_duration_seconds_sum", &api()), Shape::Histogram);
            push!(label_set("http_request_duration_seconds_count", &api()), Shape::Histogram);
        }
        debug_assert_eq!(shapes.len(), FIXED_SERIES);
        // Interrupt counters up to the requested number of series.
        for n in 0..series_per_instance.saturating_sub(FIXED_SERIES) {
            let mut pairs = node();
            pairs.extend([("cpu", (n % CPUS).to_string()), ("devices", format!("irq-{}", n / CPUS)), ("type", format!("{}", 24 + n / CPUS))]);
            let rate = if n % 3 == 0 { 0.0 } else { rng.log_range(0.1, 1000.0) };
            let units = (rate * rng.range(1e4, 1e6)) as u64;
            push!(label_set("node_interrupts_total", &pairs), Shape::Counter { units, div: 1.0, rate, diurnal: 0.2, phase: day_phase, burst: None });
        }

        let values = vec![0.0; shapes.len()];
        let first_t = end_ms - phase_ms - (scrapes as i64 - 1) * SCRAPE_MS;
        let reboot_at = (index % 17 == 3).then_some(scrapes * 2 / 3);
        let incident = (index % 7 == 0).then_some((scrapes * 6 / 10, scrapes * 13 / 20));
        Instance { labels, shapes, histograms, values, rng, first_t, scrapes, next_scrape: 0, reboot_at, incident }
    }

    /// Move every series to scrape `self.next_scrape`; returns its timestamp.
    fn advance(&mut self) -> i64 {
        let scrape = self.next_scrape;
        self.next_scrape += 1;
        let t = self.first_t + scrape as i64 * SCRAPE_MS;
        let day = (t as f64 / 86_400_000.0) * std::f64::consts::TAU;
        let reboot = self.reboot_at == Some(scrape);
        let rng = &mut self.rng;
        for (shape, value) in self.shapes.iter_mut().zip(self.values.iter_mut()) {
            *value = match shape {
                Shape::Constant(v) => *v,
                Shape::Counter { units, div, rate, diurnal, phase, burst } => {
                    if reboot {
                        *units = 0;
                    }
                    let rate = match burst {
                        Some((from, r)) if scrape >= *from => *r,
                        _ => *rate * (1.0 + *diurnal * (day + *phase * std::f64::consts::TAU).sin()),
                    };
                    if rate > 0.0 {
                        let inc = rate * (SCRAPE_MS / 1000) as f64 * rng.range(0.75, 1.25);
                        *units += (inc + rng.unit()).floor() as u64;
                    }
                    *units as f64 / *div
                }
                Shape::Walk { units, low, high, step, div } => {
                    *units = (*units + rng.int(-*step, *step)).clamp(*low, *high);
                    *units as f64 / *div
                }
                Shape::Drain { blocks, per_scrape } => {
                    *blocks = (*blocks - *per_scrape * rng.range(0.5, 1.5)).max(0.0);
                    blocks.round() * 4096.0
                }
                Shape::Histogram => *value,
            };
        }
        let incident = self.incident.is_some_and(|(from, to)| (from..to).contains(&scrape));
        for h in &mut self.histograms {
            if reboot {
                h.buckets = [0; 12];
                h.sum = 0.0;
            }
            let median = if incident { h.median * 8.0 } else { h.median };
            let requests = (h.rate * 15.0 * (1.0 + 0.5 * day.sin()) * rng.range(0.8, 1.2)).round();
            h.observe(requests, median, rng);
            for (i, bucket) in h.buckets.iter().enumerate() {
                self.values[h.first + i] = *bucket as f64;
            }
            self.values[h.first + 12] = h.sum;
            self.values[h.first + 13] = h.buckets[11] as f64;
        }
        t
    }

    /// The next `scrapes` scrapes of every series as one snappy-compressed remote-write request.
    fn request(&mut self, scrapes: usize) -> (Vec<u8>, u64) {
        let scrapes = scrapes.min(self.scrapes - self.next_scrape);
        let mut samples: Vec<Vec<WireSample>> = (0..self.labels.len()).map(|_| Vec::with_capacity(scrapes)).collect();
        for _ in 0..scrapes {
            let t = self.advance();
            for (series, value) in samples.iter_mut().zip(&self.values) {
                series.push(WireSample { value: *value, timestamp: t });
            }
        }
        let count = (scrapes * self.labels.len()) as u64;
        let timeseries = self
            .labels
            .iter()
            .zip(samples)
            .map(|(labels, samples)| TimeSeries { labels: labels.clone(), samples, ..Default::default() })
            .collect();
        let body = WriteRequest { timeseries, metadata: vec![] }.encode_to_vec();
        (snap::raw::Encoder::new().compress_vec(&body).expect("snappy"), count)
    }
}

/// P(X ≤ x) for a log-normal latency with the given median and σ of its logarithm.
fn log_normal_cdf(x: f64, median: f64, sigma: f64) -> f64 {
    let z = (x.ln() - median.ln()) / sigma;
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// Abramowitz–Stegun 7.1.26 (error below 1.5e-7), enough for synthetic latencies.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// Remote-write the whole data set to every server; returns samples acknowledged per server.
fn load(servers: &[&Server], args: &Args, scrapes: usize, end_ms: i64) -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let acked: Arc<Vec<AtomicU64>> = Arc::new(servers.iter().map(|_| AtomicU64::new(0)).collect());
    let failed = Arc::new(AtomicU64::new(0));
    let urls: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| format!("{}/api/v1/write", s.base)).collect());
    let names: Vec<&'static str> = servers.iter().map(|s| s.name).collect();
    let names = Arc::new(names);
    let started = Instant::now();
    let (senders, per_request, instances, series) = (args.senders, args.scrapes_per_request, args.instances, args.series_per_instance);
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let barrier = Arc::new(tokio::sync::Barrier::new(senders));
        let mut tasks = Vec::new();
        for sender in 0..senders {
            let (client, urls, names, acked, failed, barrier) =
                (client.clone(), urls.clone(), names.clone(), acked.clone(), failed.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let mut mine: Vec<Instance> =
                    (0..instances).filter(|i| i % senders == sender).map(|i| Instance::new(i, series, scrapes, end_ms)).collect();
                let rounds_per_barrier = (SCRAPES_PER_BARRIER / per_request).max(1);
                let rounds = scrapes.div_ceil(per_request);
                for round in 0..rounds {
                    if round % rounds_per_barrier == 0 {
                        barrier.wait().await;
                        if sender == 0 && round % (rounds_per_barrier * 36) == 0 {
                            eprintln!(
                                "  … {:.1} of {:.1} h sent after {:.0} s",
                                (round * per_request) as f64 * SCRAPE_MS as f64 / 3.6e6,
                                scrapes as f64 * SCRAPE_MS as f64 / 3.6e6,
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    for instance in &mut mine {
                        let (body, count) = instance.request(per_request);
                        let sends = urls.iter().enumerate().map(|(s, url)| {
                            let (client, body, acked, failed, name) = (&client, body.clone(), &acked, &failed, names[s]);
                            async move {
                                if servers::remote_write(client, url, body, name, failed).await {
                                    acked[s].fetch_add(count, Ordering::Relaxed);
                                }
                            }
                        });
                        futures_join_all(sends).await;
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("{failed} requests were refused");
    }
    eprintln!("  loaded in {:.0} s", started.elapsed().as_secs_f64());
    acked.iter().map(|a| a.load(Ordering::Relaxed)).collect()
}

/// Await every future (at most two here) concurrently, without the futures crate.
async fn futures_join_all<F: std::future::Future<Output = ()> + Send>(futures: impl Iterator<Item = F>) {
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    match futures.len() {
        0 => {}
        1 => futures.pop().unwrap().await,
        _ => {
            let second = futures.pop().unwrap();
            let first = futures.pop().unwrap();
            tokio::join!(first, second);
            for rest in futures {
                rest.await;
            }
        }
    }
}

fn settle_signature(servers: &[&Server]) -> String {
    let mut text = String::new();
    for server in servers {
        if server.name == "pharos" {
            let _ = write!(
                text,
                "pharos: {} blocks, {} block samples, {} head series; ",
                scrape_value(&server.base, "pharos_tsdb_blocks"),
                scrape_value(&server.base, "pharos_tsdb_block_samples"),
                scrape_value(&server.base, "pharos_tsdb_head_series"),
            );
        } else {
            let blocks = prometheus_blocks(&server.data_dir());
            let _ = write!(text, "prometheus: {} blocks, {} block samples; ", blocks.names.len(), blocks.samples);
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Range,
    Instant,
}

const QUERIES: &[(Kind, &str)] = &[
    // Node Exporter Full and friends, over the whole span.
    (Kind::Range, r#"rate(node_network_receive_bytes_total[5m])"#),
    (Kind::Range, r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#),
    (Kind::Range, r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))"#),
    (Kind::Range, r#"sum(rate(node_cpu_seconds_total[5m]))"#),
    (Kind::Range, r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"#),
    (Kind::Range, r#"histogram_quantile(0.9, sum by (instance, le) (rate(http_request_duration_seconds_bucket{handler="/api/v1/query"}[5m])))"#),
    (Kind::Range, r#"rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])"#),
    (Kind::Range, r#"topk(5, sum by (instance) (rate(node_network_receive_bytes_total[5m])))"#),
    (Kind::Range, r#"node_memory_MemAvailable_bytes / on(instance) group_left(nodename) node_uname_info"#),
    (Kind::Range, r#"(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * on(instance) group_left(nodename) node_uname_info"#),
    (Kind::Range, r#"node_load1 / on(instance) group_left count by (instance) (node_cpu_seconds_total{mode="idle"})"#),
    (Kind::Range, r#"max_over_time(rate(node_cpu_seconds_total{mode="user"}[5m])[1h:1m])"#),
    // Alert rules and single-stat panels, at the end time.
    (Kind::Instant, r#"(node_filesystem_avail_bytes / node_filesystem_size_bytes) < 0.1"#),
    (Kind::Instant, r#"rate(node_cpu_seconds_total{mode="iowait"}[5m]) > 0.5"#),
    (Kind::Instant, r#"predict_linear(node_filesystem_avail_bytes[6h], 4*3600) < 0"#),
    (Kind::Instant, r#"(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * on(instance) group_left(nodename) node_uname_info > 0.5"#),
    (Kind::Instant, r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"#),
    (Kind::Instant, r#"topk(5, sum by (instance) (rate(node_network_receive_bytes_total[5m])))"#),
    (Kind::Instant, r#"max_over_time(rate(node_cpu_seconds_total{mode="user"}[5m])[1h:1m])"#),
    (Kind::Instant, r#"sum by (instance) (increase(node_cpu_seconds_total[24h]))"#),
];

/// One answer: series (labels as JSON text) → (timestamp ms, value).
type Answer = BTreeMap<String, Vec<(i64, f64)>>;

struct Reply {
    millis: f64,
    answer: Result<Answer, String>,
    samples: Option<u64>,
}

struct Querier {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Querier {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
        Querier { runtime, client }
    }

    /// Run one query; with `parse`, decode the answer (and the stats, requested then).
    fn run(&self, base: &str, kind: Kind, query: &str, start_ms: i64, end_ms: i64, step_s: u64, parse: bool) -> Reply {
        let seconds = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
        let mut params = vec![("query", query.to_string())];
        let url = match kind {
            Kind::Range => {
                params.extend([("start", seconds(start_ms)), ("end", seconds(end_ms)), ("step", step_s.to_string())]);
                format!("{base}/api/v1/query_range")
            }
            Kind::Instant => {
                params.push(("time", seconds(end_ms)));
                format!("{base}/api/v1/query")
            }
        };
        if parse {
            params.push(("stats", "all".to_string()));
        }
        let started = Instant::now();
        let result = self.runtime.block_on(async {
            let response = self.client.get(&url).query(&params).send().await.map_err(|e| format!("request failed: {e}"))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| format!("body failed: {e}"))?;
            Ok::<_, String>((status, body))
        });
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let (status, body) = match result {
            Ok(ok) => ok,
            Err(e) => return Reply { millis, answer: Err(e), samples: None },
        };
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Reply { millis, answer: Err(format!("HTTP {status}: {}", text.chars().take(200).collect::<String>())), samples: None };
        }
        if !parse {
            return Reply { millis, answer: Ok(Answer::new()), samples: None };
        }
        let json: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(e) => return Reply { millis, answer: Err(format!("bad JSON: {e}")), samples: None },
        };
        let samples = json["data"]["stats"]["samples"]["totalQueryableSamples"].as_u64();
        Reply { millis, answer: decode_answer(&json), samples }
    }
}

fn parse_value(v: &serde_json::Value) -> f64 {
    let text = v.as_str().unwrap_or("NaN");
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse().unwrap_or(f64::NAN),
    }
}

fn parse_point(point: &serde_json::Value) -> (i64, f64) {
    let t = point[0].as_f64().unwrap_or(f64::NAN);
    ((t * 1000.0).round() as i64, parse_value(&point[1]))
}

fn decode_answer(json: &serde_json::Value) -> Result<Answer, String> {
    if json["status"] != "success" {
        return Err(format!("status {}: {}", json["status"], json["error"]));
    }
    let data = &json["data"];
    let mut answer = Answer::new();
    match data["resultType"].as_str() {
        Some("matrix") | Some("vector") => {
            for series in data["result"].as_array().into_iter().flatten() {
                let key = serde_json::to_string(&series["metric"]).unwrap_or_default();
                let points = match series["values"].as_array() {
                    Some(values) => values.iter().map(parse_point).collect(),
                    None => vec![parse_point(&series["value"])],
                };
                if answer.insert(key.clone(), points).is_some() {
                    return Err(format!("duplicate series {key}"));
                }
            }
        }
        Some("scalar") | Some("string") => {
            answer.insert(String::new(), vec![parse_point(&data["result"])]);
        }
        other => return Err(format!("unknown resultType {other:?}")),
    }
    Ok(answer)
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    diff <= 1e-6 * a.abs().max(b.abs()) || diff <= 1e-12
}

/// Differences of Pharos' answer from Prometheus' (None when they agree).
fn compare(expected: &Answer, got: &Answer) -> Option<String> {
    let mut problems = Vec::new();
    if expected.len() != got.len() {
        problems.push(format!("{} series from Prometheus, {} from Pharos", expected.len(), got.len()));
    }
    if let Some(key) = expected.keys().find(|k| !got.contains_key(*k)) {
        problems.push(format!("missing in Pharos: {key}"));
    }
    if let Some(key) = got.keys().find(|k| !expected.contains_key(*k)) {
        problems.push(format!("only in Pharos: {key}"));
    }
    let mut differing = 0;
    let mut first = None;
    for (key, want) in expected {
        let Some(have) = got.get(key) else { continue };
        let want_map: BTreeMap<i64, f64> = want.iter().copied().collect();
        let have_map: BTreeMap<i64, f64> = have.iter().copied().collect();
        let mismatch = want_map.keys().chain(have_map.keys()).find(|t| match (want_map.get(t), have_map.get(t)) {
            (Some(a), Some(b)) => !close(*a, *b),
            _ => true,
        });
        if let Some(&t) = mismatch {
            differing += 1;
            if first.is_none() {
                let show = |v: Option<&f64>| v.map_or("absent".to_string(), |v| format!("{v:?}"));
                first = Some(format!(
                    "{key} at t={:.3}: Prometheus {} ({} points), Pharos {} ({} points)",
                    t as f64 / 1000.0,
                    show(want_map.get(&t)),
                    want.len(),
                    show(have_map.get(&t)),
                    have.len()
                ));
            }
        }
    }
    if differing > 0 {
        problems.push(format!("{differing} series differ; first: {}", first.unwrap_or_default()));
    }
    (!problems.is_empty()).then(|| problems.join("\n      "))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

struct Row {
    kind: Kind,
    query: &'static str,
    pharos_ms: Option<f64>,
    prometheus_ms: Option<f64>,
    pharos_samples: Option<u64>,
    prometheus_samples: Option<u64>,
    series: (Option<usize>, Option<usize>),
    check: &'static str,
}

/// Wait until every server answers `count({__name__=~".+"})` with `expected` (or give up).
fn wait_answering(querier: &Querier, servers: &mut [&mut Server], end_ms: i64, expected: usize) {
    let query = r#"count({__name__=~".+"})"#;
    for server in servers.iter_mut() {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let reply = querier.run(&server.base, Kind::Instant, query, end_ms, end_ms, 60, true);
            let count = reply.answer.as_ref().ok().and_then(|a| a.values().next()).map(|p| p[0].1);
            if count == Some(expected as f64) {
                eprintln!("  {}: count({{__name__=~\".+\"}}) = {expected}", server.name);
                break;
            }
            if Instant::now() > deadline || !server.alive() {
                eprintln!(
                    "WARNING: {} does not answer {query} with {expected}: {}",
                    server.name,
                    match (&reply.answer, count) {
                        (Err(e), _) => e.clone(),
                        (_, c) => format!("{c:?}"),
                    }
                );
                break;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

fn main() {
    let args = parse_args();
    let series_per_instance = args.series_per_instance.max(FIXED_SERIES);
    if series_per_instance != args.series_per_instance {
        eprintln!("note: --series-per-instance raised to {FIXED_SERIES}, the fixed series of an instance");
    }
    let args = Args { series_per_instance, ..args };
    let scrapes = ((args.hours * 3.6e6) / SCRAPE_MS as f64).round().max(1.0) as usize;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let end_ms = now_ms - now_ms % SCRAPE_MS;
    let start_ms = end_ms - (scrapes as i64 - 1) * SCRAPE_MS;
    let series = args.instances * args.series_per_instance;
    println!(
        "data: {} instances × {} series = {series} series × {scrapes} scrapes ({} h at 15 s) = {} samples, grid {start_ms}..={end_ms} ms",
        args.instances,
        args.series_per_instance,
        args.hours,
        series * scrapes
    );

    let mut pharos = args.pharos_enabled.then(|| start_pharos(&args.pharos));
    let mut prometheus = args.prometheus_enabled.then(|| start_prometheus("30d"));
    {
        let servers: Vec<&Server> = pharos.iter().chain(prometheus.iter()).collect();
        eprintln!("loading into {} …", servers.iter().map(|s| s.name).collect::<Vec<_>>().join(" and "));
        let acked = load(&servers, &args, scrapes, end_ms);
        for (server, acked) in servers.iter().zip(acked) {
            println!("{}: {acked} samples acknowledged", server.name);
        }
    }

    let querier = Querier::new();
    {
        let mut servers: Vec<&mut Server> = pharos.iter_mut().chain(prometheus.iter_mut()).collect();
        wait_answering(&querier, &mut servers, end_ms, series);
    }
    // Let both cut and compact what they will, so the timings see the steady state.
    {
        let servers: Vec<&Server> = pharos.iter().chain(prometheus.iter()).collect();
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut last = settle_signature(&servers);
        let mut stable = 0;
        while Instant::now() < deadline && stable < 4 {
            std::thread::sleep(Duration::from_secs(20));
            let now = settle_signature(&servers);
            stable = if now == last { stable + 1 } else { 0 };
            last = now;
        }
        println!("storage: {last}");
    }

    let queries: Vec<(Kind, &'static str)> =
        QUERIES.iter().copied().filter(|(_, q)| args.only.as_ref().is_none_or(|only| q.contains(only.as_str()))).collect();
    let mut rows = Vec::new();
    let mut mismatches = Vec::new();
    for (i, &(kind, query)) in queries.iter().enumerate() {
        eprintln!("[{}/{}] {query}", i + 1, queries.len());
        let range_start = end_ms - (args.hours * 3.6e6) as i64;
        let mut pharos_ok = pharos.as_mut().is_some_and(|p| p.alive());
        let prometheus_ok = prometheus.is_some();
        let warm = |server: &Option<Server>, ok: bool| {
            server.as_ref().filter(|_| ok).map(|s| querier.run(&s.base, kind, query, range_start, end_ms, args.step_s, true))
        };
        let pharos_warm = warm(&pharos, pharos_ok);
        let prometheus_warm = warm(&prometheus, prometheus_ok);
        if args.show {
            let shown = prometheus_warm.as_ref().or(pharos_warm.as_ref()).and_then(|r| r.answer.as_ref().ok());
            for (key, points) in shown.into_iter().flatten().take(3) {
                let (first, last) = (points.first().copied().unwrap_or_default(), points.last().copied().unwrap_or_default());
                println!("  {key}: {} points, first {first:?}, last {last:?}", points.len());
            }
        }
        let mut check = "-";
        if let Some(Err(e)) = pharos_warm.as_ref().map(|r| &r.answer) {
            println!("  Q{}: Pharos failed: {e}", i + 1);
            pharos_ok = false;
            check = "ERROR";
        }
        if let Some(Err(e)) = prometheus_warm.as_ref().map(|r| &r.answer) {
            println!("  Q{}: Prometheus failed: {e}", i + 1);
        }
        if let (Some(Ok(p)), Some(Ok(q))) =
            (pharos_warm.as_ref().map(|r| &r.answer), prometheus_warm.as_ref().map(|r| &r.answer))
        {
            match compare(q, p) {
                None => check = "ok",
                Some(problem) => {
                    check = "DIFF";
                    println!("  WARNING Q{} ({}) {query}:\n      {problem}", i + 1, if kind == Kind::Range { "range" } else { "instant" });
                    mismatches.push((i + 1, query, problem));
                }
            }
        }
        let (mut pharos_times, mut prometheus_times) = (Vec::new(), Vec::new());
        let prometheus_ok = prometheus_ok && prometheus_warm.as_ref().is_some_and(|r| r.answer.is_ok());
        for _ in 0..args.runs {
            if pharos_ok && let Some(p) = pharos.as_ref() {
                let reply = querier.run(&p.base, kind, query, range_start, end_ms, args.step_s, false);
                match reply.answer {
                    Ok(_) => pharos_times.push(reply.millis),
                    Err(e) => {
                        println!("  Q{}: Pharos failed on a timed run: {e}", i + 1);
                        pharos_ok = false;
                    }
                }
            }
            if prometheus_ok && let Some(q) = prometheus.as_ref() {
                let reply = querier.run(&q.base, kind, query, range_start, end_ms, args.step_s, false);
                if reply.answer.is_ok() {
                    prometheus_times.push(reply.millis);
                }
            }
        }
        let count = |r: &Option<Reply>| r.as_ref().and_then(|r| r.answer.as_ref().ok().map(|a| a.len()));
        rows.push(Row {
            kind,
            query,
            pharos_ms: (!pharos_times.is_empty()).then(|| median(pharos_times)),
            prometheus_ms: (!prometheus_times.is_empty()).then(|| median(prometheus_times)),
            pharos_samples: pharos_warm.as_ref().and_then(|r| r.samples),
            prometheus_samples: prometheus_warm.as_ref().and_then(|r| r.samples),
            series: (count(&pharos_warm), count(&prometheus_warm)),
            check,
        });
    }

    println!();
    println!(
        "PromQL: {} series, {} h at 15 s, range queries over the whole span with step {} s, instant queries at the end; median of {} runs (wall, request → whole body)",
        series, args.hours, args.step_s, args.runs
    );
    println!(
        "{:>3} {:<7} {:>10} {:>10} {:>6} {:>13} {:>13} {:>9} {:>6} {:<5} query",
        "#", "kind", "pharos ms", "prom ms", "ratio", "pharos smpl", "prom smpl", "M smpl/s", "series", "check"
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let (mut ratios, mut fast, mut throughput_ok, mut measured) = (Vec::new(), 0, 0, 0);
    for (i, row) in rows.iter().enumerate() {
        let ratio = row.pharos_ms.zip(row.prometheus_ms).map(|(p, q)| p / q);
        let rate = row.pharos_samples.zip(row.pharos_ms).map(|(s, ms)| s as f64 / (ms / 1000.0) / 1e6);
        if let Some(r) = ratio {
            ratios.push(r);
            fast += usize::from(r <= 0.5);
        }
        if let Some(r) = rate {
            measured += 1;
            throughput_ok += usize::from(r >= 30.0);
        }
        let series = match row.series {
            (Some(p), Some(q)) if p == q => p.to_string(),
            (Some(p), Some(q)) => format!("{p}/{q}"),
            (Some(p), None) => p.to_string(),
            (None, Some(q)) => q.to_string(),
            (None, None) => "-".to_string(),
        };
        println!(
            "{:>3} {:<7} {:>10} {:>10} {:>6} {:>13} {:>13} {:>9} {:>6} {:<5} {}",
            i + 1,
            if row.kind == Kind::Range { "range" } else { "instant" },
            opt(row.pharos_ms, 1),
            opt(row.prometheus_ms, 1),
            opt(ratio, 2),
            row.pharos_samples.map_or("-".to_string(), |s| s.to_string()),
            row.prometheus_samples.map_or("-".to_string(), |s| s.to_string()),
            opt(rate, 1),
            series,
            row.check,
            row.query
        );
    }
    if !ratios.is_empty() {
        let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        println!("ratio ≤ 0.5 on {fast} of {} queries; geometric mean ratio {geomean:.2}", ratios.len());
    }
    if measured > 0 {
        println!("≥ 30M samples/s per core on {throughput_ok} of {measured} queries (Pharos samples scanned / median wall time)");
    }
    if !mismatches.is_empty() {
        println!("{} queries answered differently (Pharos vs Prometheus), details above", mismatches.len());
    }
    println!();
    println!("commands:");
    println!("  bench: {}", std::env::args().collect::<Vec<_>>().join(" "));
    for server in pharos.iter().chain(prometheus.iter()) {
        println!("  {}: {}", server.name, server.command);
    }
    if args.hold > 0 {
        eprintln!("holding both servers for {} s (time {:.3}) …", args.hold, end_ms as f64 / 1000.0);
        std::thread::sleep(Duration::from_secs(args.hold));
    }
}
