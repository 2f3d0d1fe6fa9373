//! Deterministic synthetic scrape data shaped like node_exporter, for the chunk tests and the
//! `chunk` benchmark; plus the measurement both report. Not a stable API.
//!
//! One [`Target`] is one node_exporter scraped every 15 s: ~1000 series on a 4-CPU host with a
//! dozen container interfaces. Series shapes follow what node_exporter exposes: CPU seconds
//! (2 decimals, idle growing ~14 s per scrape), byte and packet counters (integers growing by
//! varying amounts, some interfaces idle), memory and filesystem gauges (multiples of 1 KiB / 4 KiB
//! changing every scrape or occasionally), load averages (2 decimals), per-collector scrape
//! durations and scheduler counters (nanosecond precision — the high-entropy part), `node_time_seconds`
//! (no exact decimal), Go runtime metrics, and many series that never change.
//!
//! Timestamps: every series of a target shares the scrape timestamps. Each scrape fires at its
//! grid point plus a Go-timer delay (70 % 0–2 ms, 25 % 3–6 ms, 5 % 7–20 ms); with
//! [`Jitter::Aligned`] (Prometheus ≥ 2.30 default) delays within the 2 ms tolerance are snapped to
//! the grid, with [`Jitter::Raw`] none are.
//!
//! The random source is a xorshift64* generator with fixed seeds, so every run sees the same data.

use super::page::{PAGE_TARGET_RAW_BYTES, compress_page, decompress_page};
use super::{ChunkError, XorChunk, column};
use crate::tsdb::Sample;

/// xorshift64* — tiny, fast, deterministic; not for anything but synthetic data.
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds give unrelated streams (and the state is never 0).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        XorShift64 { state: if z == 0 { 1 } else { z } }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }
}

/// How scrape timestamps deviate from their grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// Prometheus ≥ 2.30: delays ≤ 2 ms are snapped to the grid (`--scrape.timestamp-tolerance`).
    Aligned,
    /// Every delay is kept (older Prometheus, or other agents).
    Raw,
}

/// How one synthetic series evolves from scrape to scrape. Values are `units · unit / 10^decimals`,
/// computed the way a parser of the text format would produce them.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Never changes.
    Constant(f64),
    /// A counter: with probability `chance` per scrape it grows by `min..=max` units.
    Counter { decimals: u32, unit: u64, start: u64, min: u64, max: u64, chance: f64 },
    /// An integer gauge: with probability `chance` it moves by up to ±`max` units (never below 0).
    Stepped { unit: u64, start: u64, max: u64, chance: f64 },
    /// A float gauge walking by up to ±`max` units each scrape within `low..=high`.
    Walk { decimals: u32, start: u64, max: u64, low: u64, high: u64 },
    /// A fresh log-uniform value in `low..high` units with probability `chance` (durations).
    Noisy { decimals: u32, low: u64, high: u64, chance: f64 },
    /// The scrape's wall-clock time in seconds with nanoseconds; with probability `chance` per
    /// scrape (1.0: every scrape), like `node_time_seconds` or a last-GC timestamp.
    WallClock { chance: f64 },
}

#[derive(Clone, Debug)]
struct SeriesSpec {
    /// `name{label="value",…}` with labels in name order, as Prometheus sorts series.
    labels: String,
    family: &'static str,
    shape: Shape,
}

/// One synthetic node_exporter target: its scrape timestamps and the specification of its series.
/// Series are generated on demand, so large spans need no memory beyond one series.
#[derive(Clone, Debug)]
pub struct Target {
    seed: u64,
    timestamps: Vec<i64>,
    series: Vec<SeriesSpec>,
}

/// Scrape interval of the synthetic targets.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;

/// 2023-11-14T22:13:20Z, the synthetic data's first grid point.
pub const START_MS: i64 = 1_700_000_000_000;

impl Target {
    /// Target number `index`, scraped `scrapes` times.
    pub fn new(index: u32, scrapes: usize, jitter: Jitter) -> Self {
        let seed = 0x5eed_0000 + u64::from(index);
        let mut rng = XorShift64::new(seed);
        let phase = rng.below(SCRAPE_INTERVAL_MS as u64) as i64;
        let timestamps = (0..scrapes as i64)
            .map(|scrape| {
                let grid = START_MS + phase + scrape * SCRAPE_INTERVAL_MS;
                let roll = rng.below(100);
                let delay = match roll {
                    0..70 => rng.between(0, 2),
                    70..95 => rng.between(3, 6),
                    _ => rng.between(7, 20),
                } as i64;
                if jitter == Jitter::Aligned && delay <= 2 { grid } else { grid + delay }
            })
            .collect();
        Target { seed, timestamps, series: node_exporter_series(&format!("10.0.{}.{}:9100", index / 250, index % 250)) }
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    pub fn scrape_count(&self) -> usize {
        self.timestamps.len()
    }

    pub fn labels(&self, series: usize) -> &str {
        self.series.get(series).map_or("", |s| s.labels.as_str())
    }

    /// The kind of series (`cpu_seconds`, `scrape_duration`, …) for per-family reports.
    pub fn family(&self, series: usize) -> &'static str {
        self.series.get(series).map_or("", |s| s.family)
    }

    /// Generate series number `series` into `out` (cleared first).
    pub fn samples_into(&self, series: usize, out: &mut Vec<Sample>) {
        out.clear();
        let Some(spec) = self.series.get(series) else { return };
        let mut rng = XorShift64::new(self.seed.wrapping_mul(1_000_003).wrapping_add(series as u64));
        let mut units: u64 = match spec.shape {
            Shape::Counter { start, .. } | Shape::Stepped { start, .. } | Shape::Walk { start, .. } => start,
            Shape::Noisy { low, high, .. } => log_uniform(&mut rng, low, high),
            Shape::Constant(_) | Shape::WallClock { .. } => 0,
        };
        let mut wall_clock = f64::NAN;
        for (scrape, &t) in self.timestamps.iter().enumerate() {
            let v = match spec.shape {
                Shape::Constant(v) => v,
                Shape::Counter { decimals, unit, min, max, chance, .. } => {
                    if scrape > 0 && rng.chance(chance) {
                        units += rng.between(min, max);
                    }
                    decimal(units * unit, decimals)
                }
                Shape::Stepped { unit, max, chance, .. } => {
                    if scrape > 0 && rng.chance(chance) {
                        let step = rng.between(1, max);
                        units = if rng.chance(0.5) { units + step } else { units.saturating_sub(step) };
                    }
                    (units * unit) as f64
                }
                Shape::Walk { decimals, max, low, high, .. } => {
                    if scrape > 0 {
                        let step = rng.between(0, max);
                        units = if rng.chance(0.5) { units + step } else { units.saturating_sub(step) };
                        units = units.clamp(low, high);
                    }
                    decimal(units, decimals)
                }
                Shape::Noisy { decimals, low, high, chance } => {
                    if scrape > 0 && rng.chance(chance) {
                        units = log_uniform(&mut rng, low, high);
                    }
                    decimal(units, decimals)
                }
                Shape::WallClock { chance } => {
                    if wall_clock.is_nan() || rng.chance(chance) {
                        let nanos = rng.below(1_000_000) as f64;
                        wall_clock = (t as f64 * 1e6 + nanos) / 1e9;
                    }
                    wall_clock
                }
            };
            out.push(Sample { t, v });
        }
    }
}

/// `units / 10^decimals`, as parsing the decimal text would give it.
fn decimal(units: u64, decimals: u32) -> f64 {
    if decimals == 0 { units as f64 } else { units as f64 / 10f64.powi(decimals as i32) }
}

fn log_uniform(rng: &mut XorShift64, low: u64, high: u64) -> u64 {
    let (low, high) = (low.max(1) as f64, high.max(2) as f64);
    (low * (high / low).powf(rng.unit())) as u64
}

/// The series of one node_exporter (plus the series Prometheus adds per target).
fn node_exporter_series(instance: &str) -> Vec<SeriesSpec> {
    let mut series = Vec::with_capacity(1024);
    let mut add = |name: &str, labels: &[(&str, &str)], family: &'static str, shape: Shape| {
        let mut pairs: Vec<(&str, &str)> = labels.to_vec();
        pairs.push(("instance", instance));
        pairs.push(("job", "node"));
        pairs.sort();
        let rendered: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
        series.push(SeriesSpec { labels: format!("{name}{{{}}}", rendered.join(",")), family, shape });
    };
    let counter = |decimals, unit, start, min, max, chance| Shape::Counter { decimals, unit, start, min, max, chance };
    let stepped = |unit, start, max, chance| Shape::Stepped { unit, start, max, chance };
    let rare = |start| Shape::Counter { decimals: 0, unit: 1, start, min: 1, max: 3, chance: 0.002 };

    // CPU: 4 CPUs × 8 modes, hundredths of a second.
    let cpu_modes: [(&str, u64, u64, f64); 8] = [
        ("idle", 1350, 1500, 1.0),
        ("user", 0, 150, 1.0),
        ("system", 0, 80, 1.0),
        ("iowait", 0, 10, 0.9),
        ("softirq", 0, 5, 0.8),
        ("irq", 0, 2, 0.5),
        ("nice", 1, 3, 0.02),
        ("steal", 0, 0, 0.0),
    ];
    for cpu in ["0", "1", "2", "3"] {
        for (index, &(mode, min, max, chance)) in cpu_modes.iter().enumerate() {
            let start = 86_400 * 100 * 40 / (index as u64 + 1);
            add(
                "node_cpu_seconds_total",
                &[("cpu", cpu), ("mode", mode)],
                "cpu_seconds",
                counter(2, 1, start, min, max, chance),
            );
        }
        for mode in ["user", "nice"] {
            add("node_cpu_guest_seconds_total", &[("cpu", cpu), ("mode", mode)], "constant", Shape::Constant(0.0));
        }
        add(
            "node_schedstat_running_seconds_total",
            &[("cpu", cpu)],
            "nanosecond_counter",
            counter(9, 1, 3_456_000_000_000_000, 100_000_000, 2_000_000_000, 1.0),
        );
        add(
            "node_schedstat_waiting_seconds_total",
            &[("cpu", cpu)],
            "nanosecond_counter",
            counter(9, 1, 456_000_000_000_000, 1_000_000, 300_000_000, 1.0),
        );
        add(
            "node_schedstat_timeslices_total",
            &[("cpu", cpu)],
            "packet_counter",
            counter(0, 1, 9_876_543_210, 2_000, 40_000, 1.0),
        );
        add(
            "node_softnet_processed_total",
            &[("cpu", cpu)],
            "packet_counter",
            counter(0, 1, 123_456_789, 100, 5_000, 1.0),
        );
        for name in [
            "node_softnet_dropped_total",
            "node_softnet_times_squeezed_total",
            "node_softnet_received_rps_total",
            "node_softnet_flow_limit_count_total",
        ] {
            add(name, &[("cpu", cpu)], "rare_counter", rare(12));
        }
        add("node_softnet_backlog_len", &[("cpu", cpu)], "constant", Shape::Constant(0.0));
    }

    // Network: a busy uplink, loopback, a bridge, a dozen container interfaces, an idle NIC.
    let mut interfaces: Vec<(String, f64)> =
        vec![("eth0".into(), 1.0), ("lo".into(), 0.9), ("cni0".into(), 0.8), ("eth1".into(), 0.01)];
    for index in 0..12 {
        interfaces.push((format!("veth{:08x}", 0x1a2b_3c00 + index * 17), [0.9, 0.5, 0.2, 0.05][index % 4]));
    }
    for (device, activity) in &interfaces {
        let d = [("device", device.as_str())];
        for direction in ["receive", "transmit"] {
            add(
                &format!("node_network_{direction}_bytes_total"),
                &d,
                "byte_counter",
                counter(0, 1, 987_654_321_012, 2_000, 2_000_000, *activity),
            );
            add(
                &format!("node_network_{direction}_packets_total"),
                &d,
                "packet_counter",
                counter(0, 1, 1_234_567_890, 10, 3_000, *activity),
            );
            add(
                &format!("node_network_{direction}_drop_total"),
                &d,
                "rare_counter",
                counter(0, 1, 42, 1, 2, 0.01 * activity),
            );
            for stat in ["errs", "fifo", "compressed"] {
                add(&format!("node_network_{direction}_{stat}_total"), &d, "rare_counter", rare(0));
            }
        }
        add("node_network_receive_multicast_total", &d, "packet_counter", counter(0, 1, 54_321, 1, 5, 0.3 * activity));
        add("node_network_receive_frame_total", &d, "rare_counter", rare(0));
        add("node_network_transmit_colls_total", &d, "rare_counter", rare(0));
        add("node_network_transmit_carrier_total", &d, "rare_counter", rare(0));
        for (name, value) in [
            ("up", 1.0),
            ("mtu_bytes", 1500.0),
            ("speed_bytes", 1.25e9),
            ("flags", 4099.0),
            ("carrier", 1.0),
            ("iface_id", 7.0),
            ("iface_link", 7.0),
            ("address_assign_type", 0.0),
            ("dormant", 0.0),
            ("protocol_type", 1.0),
            ("transmit_queue_length", 1000.0),
            ("info", 1.0),
            ("carrier_changes_total", 2.0),
            ("carrier_up_changes_total", 1.0),
            ("carrier_down_changes_total", 1.0),
            ("device_id", 0.0),
            ("name_assign_type", 4.0),
            ("net_dev_group", 0.0),
        ] {
            add(&format!("node_network_{name}"), &d, "constant", Shape::Constant(value));
        }
    }

    // Disks: a busy one, a quiet one, an idle optical drive.
    for (device, activity) in [("nvme0n1", 1.0), ("sdb", 0.1), ("sr0", 0.0)] {
        let d = [("device", device)];
        add("node_disk_reads_completed_total", &d, "packet_counter", counter(0, 1, 3_456_789, 1, 50, 0.3 * activity));
        add("node_disk_reads_merged_total", &d, "packet_counter", counter(0, 1, 12_345, 1, 20, 0.1 * activity));
        add("node_disk_read_bytes_total", &d, "byte_counter", counter(0, 4096, 12_345_678, 1, 500, 0.3 * activity));
        add("node_disk_read_time_seconds_total", &d, "cpu_seconds", counter(3, 1, 1_234_567, 0, 300, 0.3 * activity));
        add(
            "node_disk_writes_completed_total",
            &d,
            "packet_counter",
            counter(0, 1, 9_876_543, 5, 300, 0.95 * activity),
        );
        add("node_disk_writes_merged_total", &d, "packet_counter", counter(0, 1, 4_567_890, 0, 200, 0.9 * activity));
        add(
            "node_disk_written_bytes_total",
            &d,
            "byte_counter",
            counter(0, 4096, 98_765_432, 10, 3000, 0.95 * activity),
        );
        add("node_disk_write_time_seconds_total", &d, "cpu_seconds", counter(3, 1, 7_654_321, 0, 900, 0.95 * activity));
        add("node_disk_io_time_seconds_total", &d, "cpu_seconds", counter(3, 1, 5_432_100, 0, 1200, 0.95 * activity));
        add(
            "node_disk_io_time_weighted_seconds_total",
            &d,
            "cpu_seconds",
            counter(3, 1, 9_999_999, 0, 3000, 0.95 * activity),
        );
        add("node_disk_io_now", &d, "small_gauge", stepped(1, 0, 2, 0.1 * activity));
        add("node_disk_flush_requests_total", &d, "packet_counter", counter(0, 1, 55_555, 1, 10, 0.5 * activity));
        add(
            "node_disk_flush_requests_time_seconds_total",
            &d,
            "cpu_seconds",
            counter(3, 1, 66_666, 0, 20, 0.5 * activity),
        );
        for name in ["discards_completed", "discards_merged", "discarded_sectors", "discard_time_seconds"] {
            add(&format!("node_disk_{name}_total"), &d, "rare_counter", rare(0));
        }
        add("node_disk_info", &d, "constant", Shape::Constant(1.0));
    }

    // Filesystems: root and data change; container overlays and tmpfs rarely do.
    let mounts: [(&str, f64); 14] = [
        ("/", 0.6),
        ("/var/lib/data", 0.3),
        ("/boot", 0.0),
        ("/boot/efi", 0.0),
        ("/run", 0.05),
        ("/run/lock", 0.0),
        ("/run/user/1000", 0.0),
        ("/dev/shm", 0.02),
        ("/var/lib/kubelet/pods/a", 0.02),
        ("/var/lib/kubelet/pods/b", 0.02),
        ("/var/lib/kubelet/pods/c", 0.02),
        ("/var/lib/containers/overlay/1", 0.1),
        ("/var/lib/containers/overlay/2", 0.1),
        ("/var/lib/containers/overlay/3", 0.1),
    ];
    for (index, (mount, activity)) in mounts.iter().enumerate() {
        let m = [("mountpoint", *mount)];
        let size_blocks = 2_621_440 * (index as u64 + 1);
        add("node_filesystem_size_bytes", &m, "constant", Shape::Constant((size_blocks * 4096) as f64));
        add("node_filesystem_free_bytes", &m, "memory_gauge", stepped(4096, size_blocks / 2, 5000, *activity));
        add("node_filesystem_avail_bytes", &m, "memory_gauge", stepped(4096, size_blocks / 3, 5000, *activity));
        add("node_filesystem_files", &m, "constant", Shape::Constant((size_blocks / 4) as f64));
        add("node_filesystem_files_free", &m, "small_gauge", stepped(1, size_blocks / 5, 40, activity * 0.5));
        add("node_filesystem_readonly", &m, "constant", Shape::Constant(0.0));
        add("node_filesystem_device_error", &m, "constant", Shape::Constant(0.0));
    }

    // Memory (/proc/meminfo, kB × 1024): busy gauges every scrape, others now and then, the rest fixed.
    let memory_gib = 16u64 << 20; // in KiB
    for name in [
        "MemFree",
        "MemAvailable",
        "Cached",
        "Active",
        "Inactive",
        "Active_anon",
        "Inactive_anon",
        "Active_file",
        "Inactive_file",
        "AnonPages",
        "Mapped",
        "Buffers",
    ] {
        add(&format!("node_memory_{name}_bytes"), &[], "memory_gauge", stepped(1024, memory_gib / 5, 8000, 0.95));
    }
    for name in [
        "Dirty",
        "Writeback",
        "Slab",
        "SReclaimable",
        "SUnreclaim",
        "KernelStack",
        "PageTables",
        "Shmem",
        "Committed_AS",
        "VmallocUsed",
        "AnonHugePages",
        "Percpu",
    ] {
        add(&format!("node_memory_{name}_bytes"), &[], "memory_gauge", stepped(1024, memory_gib / 50, 200, 0.4));
    }
    for name in [
        "MemTotal",
        "SwapTotal",
        "SwapFree",
        "SwapCached",
        "HugePages_Total",
        "HugePages_Free",
        "HugePages_Rsvd",
        "HugePages_Surp",
        "Hugepagesize",
        "Hugetlb",
        "DirectMap4k",
        "DirectMap2M",
        "DirectMap1G",
        "VmallocTotal",
        "VmallocChunk",
        "CmaTotal",
        "CmaFree",
        "Mlocked",
        "Unevictable",
        "Bounce",
        "NFS_Unstable",
        "WritebackTmp",
        "CommitLimit",
        "HardwareCorrupted",
        "ShmemHugePages",
        "ShmemPmdMapped",
        "FileHugePages",
        "FilePmdMapped",
        "KReclaimable",
        "Zswap",
        "Zswapped",
    ] {
        add(&format!("node_memory_{name}_bytes"), &[], "constant", Shape::Constant((memory_gib / 7 * 1024) as f64));
    }

    // vmstat, netstat, sockstat.
    add("node_vmstat_pgfault", &[], "packet_counter", counter(0, 1, 9_876_543_210, 1_000, 50_000, 1.0));
    add("node_vmstat_pgmajfault", &[], "packet_counter", counter(0, 1, 123_456, 1, 10, 0.1));
    add("node_vmstat_pgpgin", &[], "packet_counter", counter(0, 1, 45_678_901, 4, 4_000, 0.3));
    add("node_vmstat_pgpgout", &[], "packet_counter", counter(0, 1, 98_765_432, 40, 8_000, 0.9));
    for name in ["pswpin", "pswpout", "oom_kill"] {
        add(&format!("node_vmstat_{name}"), &[], "constant", Shape::Constant(0.0));
    }
    for name in [
        "Tcp_InSegs",
        "Tcp_OutSegs",
        "Udp_InDatagrams",
        "Udp_OutDatagrams",
        "IpExt_InOctets",
        "IpExt_OutOctets",
        "Ip6_InOctets",
        "Ip6_OutOctets",
        "Icmp_InMsgs",
        "Icmp_OutMsgs",
    ] {
        let (min, max) = if name.contains("Octets") { (10_000, 2_000_000) } else { (10, 2_000) };
        add(&format!("node_netstat_{name}"), &[], "byte_counter", counter(0, 1, 5_555_555_555, min, max, 0.95));
    }
    for name in [
        "Tcp_ActiveOpens",
        "Tcp_PassiveOpens",
        "Tcp_RetransSegs",
        "Tcp_OutRsts",
        "TcpExt_TCPSynRetrans",
        "TcpExt_TCPTimeouts",
        "TcpExt_TCPOFOQueue",
        "Udp_NoPorts",
        "Udp6_InDatagrams",
        "Udp6_OutDatagrams",
    ] {
        add(&format!("node_netstat_{name}"), &[], "packet_counter", counter(0, 1, 77_777, 1, 20, 0.3));
    }
    for name in [
        "Tcp_InErrs",
        "Udp_InErrors",
        "Udp_RcvbufErrors",
        "Udp_SndbufErrors",
        "Udp6_InErrors",
        "Udp6_NoPorts",
        "Udp6_RcvbufErrors",
        "Udp6_SndbufErrors",
        "UdpLite_InErrors",
        "UdpLite6_InErrors",
        "TcpExt_ListenDrops",
        "TcpExt_ListenOverflows",
        "TcpExt_SyncookiesFailed",
        "TcpExt_SyncookiesRecv",
        "TcpExt_SyncookiesSent",
        "Icmp_InErrors",
        "Icmp6_InErrors",
        "Icmp6_InMsgs",
        "Icmp6_OutMsgs",
        "Ip_Forwarding",
    ] {
        add(&format!("node_netstat_{name}"), &[], "rare_counter", rare(3));
    }
    add("node_netstat_Tcp_CurrEstab", &[], "small_gauge", stepped(1, 120, 5, 0.6));
    for name in [
        "sockets_used",
        "TCP_alloc",
        "TCP_inuse",
        "TCP_orphan",
        "TCP_tw",
        "TCP_mem",
        "UDP_inuse",
        "UDP_mem",
        "FRAG_inuse",
        "RAW_inuse",
        "TCP6_inuse",
        "UDP6_inuse",
        "UDPLITE_inuse",
        "FRAG6_inuse",
        "RAW6_inuse",
    ] {
        add(&format!("node_sockstat_{name}"), &[], "small_gauge", stepped(1, 150, 5, 0.4));
    }
    add("node_sockstat_TCP_mem_bytes", &[], "memory_gauge", stepped(4096, 300, 20, 0.4));
    add("node_sockstat_UDP_mem_bytes", &[], "memory_gauge", stepped(4096, 20, 3, 0.2));

    // Load, processes, kernel counters, pressure.
    for (name, max) in [("node_load1", 30), ("node_load5", 10), ("node_load15", 4)] {
        add(name, &[], "load_average", Shape::Walk { decimals: 2, start: 85, max, low: 0, high: 800 });
    }
    add("node_context_switches_total", &[], "packet_counter", counter(0, 1, 98_765_432_100, 10_000, 100_000, 1.0));
    add("node_intr_total", &[], "packet_counter", counter(0, 1, 45_678_901_234, 5_000, 50_000, 1.0));
    add("node_forks_total", &[], "packet_counter", counter(0, 1, 12_345_678, 10, 300, 1.0));
    add("node_procs_running", &[], "small_gauge", stepped(1, 3, 3, 0.7));
    add("node_procs_blocked", &[], "small_gauge", stepped(1, 0, 1, 0.05));
    add("node_filefd_allocated", &[], "small_gauge", stepped(1, 9_000, 20, 0.3));
    add("node_filefd_maximum", &[], "constant", Shape::Constant(9_223_372_036_854_775_807.0));
    add("node_entropy_available_bits", &[], "constant", Shape::Constant(256.0));
    add("node_entropy_pool_size_bits", &[], "constant", Shape::Constant(256.0));
    add("node_boot_time_seconds", &[], "constant", Shape::Constant(1_699_000_000.0));
    add("node_time_seconds", &[], "wall_clock", Shape::WallClock { chance: 1.0 });
    add("node_nf_conntrack_entries", &[], "small_gauge", stepped(1, 2_000, 30, 0.9));
    add("node_nf_conntrack_entries_limit", &[], "constant", Shape::Constant(262_144.0));
    for resource in ["cpu", "io", "memory"] {
        add(
            &format!("node_pressure_{resource}_waiting_seconds_total"),
            &[],
            "microsecond_counter",
            counter(6, 1, 123_456_789_012, 0, 200_000, 0.8),
        );
    }
    add(
        "node_pressure_io_stalled_seconds_total",
        &[],
        "microsecond_counter",
        counter(6, 1, 23_456_789_012, 0, 100_000, 0.6),
    );
    add(
        "node_pressure_memory_stalled_seconds_total",
        &[],
        "microsecond_counter",
        counter(6, 1, 3_456_789, 0, 1_000, 0.05),
    );
    // timex: a few drift every scrape, the rest are fixed.
    add(
        "node_timex_offset_seconds",
        &[],
        "nanosecond_gauge",
        Shape::Noisy { decimals: 9, low: 1_000, high: 2_000_000, chance: 1.0 },
    );
    add(
        "node_timex_frequency_adjustment_ratio",
        &[],
        "nanosecond_gauge",
        Shape::Noisy { decimals: 9, low: 999_990_000, high: 1_000_010_000, chance: 0.5 },
    );
    add("node_timex_estimated_error_seconds", &[], "small_gauge", stepped(1, 50, 5, 0.3));
    add("node_timex_maxerror_seconds", &[], "small_gauge", stepped(1, 400, 50, 0.8));
    for name in [
        "loop_time_constant",
        "pps_calibration_total",
        "pps_error_total",
        "pps_frequency_hertz",
        "pps_jitter_seconds",
        "pps_jitter_total",
        "pps_shift_seconds",
        "pps_stability_exceeded_total",
        "pps_stability_hertz",
        "status",
        "sync_status",
        "tai_offset_seconds",
        "tick_seconds",
    ] {
        add(&format!("node_timex_{name}"), &[], "constant", Shape::Constant(0.0));
    }
    // Build and host information.
    for name in [
        "node_uname_info",
        "node_os_info",
        "node_os_version",
        "node_dmi_info",
        "node_exporter_build_info",
        "node_selinux_enabled",
        "node_textfile_scrape_error",
    ] {
        add(name, &[], "constant", Shape::Constant(1.0));
    }

    // Per-collector scrape meta: durations in nanoseconds (the noisiest series node_exporter has).
    for collector in [
        "arp",
        "bcache",
        "bonding",
        "btrfs",
        "conntrack",
        "cpu",
        "cpufreq",
        "diskstats",
        "dmi",
        "edac",
        "entropy",
        "fibrechannel",
        "filefd",
        "filesystem",
        "hwmon",
        "infiniband",
        "ipvs",
        "loadavg",
        "mdadm",
        "meminfo",
        "netclass",
        "netdev",
        "netstat",
        "nfs",
        "nfsd",
        "nvme",
        "os",
        "powersupplyclass",
        "pressure",
        "rapl",
        "schedstat",
        "selinux",
        "sockstat",
        "softnet",
        "stat",
        "tapestats",
        "textfile",
        "thermal_zone",
        "time",
        "timex",
        "udp_queues",
        "uname",
        "vmstat",
        "xfs",
        "zfs",
    ] {
        let c = [("collector", collector)];
        add(
            "node_scrape_collector_duration_seconds",
            &c,
            "scrape_duration",
            Shape::Noisy { decimals: 9, low: 8_000, high: 8_000_000, chance: 1.0 },
        );
        add("node_scrape_collector_success", &c, "constant", Shape::Constant(1.0));
    }

    // The exporter's own Go runtime and process metrics.
    for quantile in ["0", "0.25", "0.5", "0.75", "1"] {
        add(
            "go_gc_duration_seconds",
            &[("quantile", quantile)],
            "scrape_duration",
            Shape::Noisy { decimals: 9, low: 20_000, high: 900_000, chance: 0.3 },
        );
    }
    add("go_gc_duration_seconds_sum", &[], "nanosecond_counter", counter(9, 1, 12_345_678_901, 20_000, 200_000, 0.3));
    add("go_gc_duration_seconds_count", &[], "packet_counter", counter(0, 1, 54_321, 1, 2, 0.3));
    add("go_goroutines", &[], "small_gauge", stepped(1, 9, 2, 0.3));
    add("go_threads", &[], "constant", Shape::Constant(12.0));
    add("go_info", &[("version", "go1.23.4")], "constant", Shape::Constant(1.0));
    add("go_memstats_alloc_bytes", &[], "runtime_gauge", stepped(1, 3_000_000, 2_000_000, 1.0));
    add("go_memstats_heap_alloc_bytes", &[], "runtime_gauge", stepped(1, 3_000_000, 2_000_000, 1.0));
    add("go_memstats_heap_objects", &[], "runtime_gauge", stepped(1, 30_000, 5_000, 1.0));
    add("go_memstats_alloc_bytes_total", &[], "byte_counter", counter(0, 1, 98_765_432_100, 100_000, 3_000_000, 1.0));
    add("go_memstats_mallocs_total", &[], "packet_counter", counter(0, 1, 987_654_321, 1_000, 30_000, 1.0));
    add("go_memstats_frees_total", &[], "packet_counter", counter(0, 1, 987_600_000, 1_000, 30_000, 1.0));
    add("go_memstats_heap_inuse_bytes", &[], "memory_gauge", stepped(8192, 700, 200, 0.9));
    add("go_memstats_heap_idle_bytes", &[], "memory_gauge", stepped(8192, 500, 200, 0.3));
    add("go_memstats_heap_released_bytes", &[], "memory_gauge", stepped(8192, 300, 100, 0.2));
    add("go_memstats_heap_sys_bytes", &[], "memory_gauge", stepped(8192, 1_500, 50, 0.05));
    add("go_memstats_next_gc_bytes", &[], "runtime_gauge", stepped(1, 4_194_304, 500_000, 0.3));
    add("go_memstats_last_gc_time_seconds", &[], "wall_clock", Shape::WallClock { chance: 0.3 });
    for (name, unit) in [
        ("mcache_inuse_bytes", 1200),
        ("mspan_inuse_bytes", 160),
        ("stack_inuse_bytes", 32_768),
        ("other_sys_bytes", 1),
        ("gc_sys_bytes", 1),
        ("buck_hash_sys_bytes", 1),
        ("sys_bytes", 8192),
    ] {
        add(&format!("go_memstats_{name}"), &[], "memory_gauge", stepped(unit, 900, 3, 0.05));
    }
    for name in ["mcache_sys_bytes", "mspan_sys_bytes", "stack_sys_bytes", "lookups_total", "gc_cpu_fraction"] {
        add(&format!("go_memstats_{name}"), &[], "constant", Shape::Constant(15_600.0));
    }
    add("process_cpu_seconds_total", &[], "cpu_seconds", counter(2, 1, 1_234_567, 0, 6, 1.0));
    add("process_resident_memory_bytes", &[], "memory_gauge", stepped(4096, 6_000, 300, 0.8));
    add("process_virtual_memory_bytes", &[], "memory_gauge", stepped(4096, 300_000, 50, 0.1));
    add("process_open_fds", &[], "small_gauge", stepped(1, 10, 2, 0.2));
    add("process_max_fds", &[], "constant", Shape::Constant(1_048_576.0));
    add("process_start_time_seconds", &[], "constant", Shape::Constant(1_699_000_123.45));
    add("process_virtual_memory_max_bytes", &[], "constant", Shape::Constant(1.8446744073709552e19));
    // Each scrape request and response are about the same size.
    add("process_network_receive_bytes_total", &[], "packet_counter", counter(0, 1, 1_234_567, 180, 190, 1.0));
    add("process_network_transmit_bytes_total", &[], "byte_counter", counter(0, 1, 98_765_432, 14_000, 15_000, 1.0));
    add(
        "promhttp_metric_handler_requests_total",
        &[("code", "200")],
        "packet_counter",
        counter(0, 1, 576_000, 1, 1, 1.0),
    );
    for code in ["500", "503"] {
        add("promhttp_metric_handler_requests_total", &[("code", code)], "constant", Shape::Constant(0.0));
    }
    add("promhttp_metric_handler_requests_in_flight", &[], "constant", Shape::Constant(1.0));
    for cause in ["encoding", "gathering"] {
        add("promhttp_metric_handler_errors_total", &[("cause", cause)], "constant", Shape::Constant(0.0));
    }

    // What Prometheus adds to every target.
    add("up", &[], "constant", Shape::Constant(1.0));
    add(
        "scrape_duration_seconds",
        &[],
        "scrape_duration",
        Shape::Noisy { decimals: 9, low: 20_000_000, high: 90_000_000, chance: 1.0 },
    );
    add("scrape_samples_scraped", &[], "constant", Shape::Constant(1012.0));
    add("scrape_samples_post_metric_relabeling", &[], "constant", Shape::Constant(1012.0));
    add("scrape_series_added", &[], "constant", Shape::Constant(0.0));
    series
}

/// The order a block writer puts series in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesOrder {
    /// Sorted by label set, metric name first (Prometheus' order): neighbours in a page mostly
    /// come from different targets.
    Labels,
    /// Grouped by target, then by labels: neighbours share their scrape timestamps.
    Target,
}

/// A set of targets, with their series in the order a block stores them.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub targets: Vec<Target>,
    /// (target, series) pairs in block order.
    pub order: Vec<(usize, usize)>,
}

impl Fleet {
    pub fn new(targets: u32, scrapes: usize, jitter: Jitter) -> Self {
        Fleet::ordered(targets, scrapes, jitter, SeriesOrder::Labels)
    }

    pub fn ordered(targets: u32, scrapes: usize, jitter: Jitter, series_order: SeriesOrder) -> Self {
        let targets: Vec<Target> = (0..targets).map(|index| Target::new(index, scrapes, jitter)).collect();
        let mut order: Vec<(usize, usize)> = targets
            .iter()
            .enumerate()
            .flat_map(|(target, spec)| (0..spec.series_count()).map(move |series| (target, series)))
            .collect();
        match series_order {
            SeriesOrder::Labels => order.sort_by(|a, b| targets[a.0].labels(a.1).cmp(targets[b.0].labels(b.1))),
            SeriesOrder::Target => {
                order.sort_by(|a, b| (a.0, targets[a.0].labels(a.1)).cmp(&(b.0, targets[b.0].labels(b.1))))
            }
        }
        Fleet { targets, order }
    }

    /// Every series' samples, in block order (for benchmarks; large spans take memory).
    pub fn materialize(&self) -> Vec<Vec<Sample>> {
        let mut all = Vec::with_capacity(self.order.len());
        for &(target, series) in &self.order {
            let mut samples = Vec::new();
            self.targets[target].samples_into(series, &mut samples);
            all.push(samples);
        }
        all
    }
}

/// Encoded sizes of a data set under both encodings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompressionFigures {
    pub series: usize,
    pub samples: u64,
    /// Head chunks of at most `chunk_samples` samples, bytes as `XorChunk::bytes` (header included).
    pub xor_chunk_bytes: u64,
    /// Column records (and timestamp columns, when shared), concatenated, before zstd.
    pub column_raw_bytes: u64,
    /// The same in ~64 KiB pages after zstd (timestamp-column pages included).
    pub column_page_bytes: u64,
    pub pages: usize,
    /// Distinct timestamp columns stored, with shared timestamps (0 otherwise).
    pub timestamp_columns: usize,
    /// Their compressed bytes (part of `column_page_bytes`).
    pub timestamp_column_bytes: u64,
}

impl CompressionFigures {
    pub fn xor_bytes_per_sample(&self) -> f64 {
        self.xor_chunk_bytes as f64 / self.samples.max(1) as f64
    }

    pub fn column_raw_bytes_per_sample(&self) -> f64 {
        self.column_raw_bytes as f64 / self.samples.max(1) as f64
    }

    pub fn column_page_bytes_per_sample(&self) -> f64 {
        self.column_page_bytes as f64 / self.samples.max(1) as f64
    }
}

/// How [`measure_with`] encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureOptions {
    /// Samples per XOR head chunk (Prometheus: 120).
    pub chunk_samples: usize,
    pub zstd_level: i32,
    /// Decode everything again and compare bit for bit.
    pub verify: bool,
    /// Store each distinct timestamp sequence once (`encode_timestamps`) and have series records
    /// refer to it (`encode_series_shared_timestamps`), as a block writer can.
    pub shared_timestamps: bool,
}

/// Encode every series of `series` (in the given order) both ways and add up the sizes. With
/// `verify`, every page is decompressed and every record and chunk decoded and compared bit for bit.
pub fn measure<S: AsRef<[Sample]>>(
    series: impl IntoIterator<Item = S>,
    chunk_samples: usize,
    zstd_level: i32,
    verify: bool,
) -> Result<CompressionFigures, ChunkError> {
    measure_with(series, &MeasureOptions { chunk_samples, zstd_level, verify, shared_timestamps: false })
}

/// [`measure`] with every option.
pub fn measure_with<S: AsRef<[Sample]>>(
    series: impl IntoIterator<Item = S>,
    options: &MeasureOptions,
) -> Result<CompressionFigures, ChunkError> {
    let mut figures = CompressionFigures::default();
    let mut pages = PageSet::default();
    let mut decoded = Vec::new();
    let mut timestamps: Vec<i64> = Vec::new();
    for owned in series {
        let samples = owned.as_ref();
        figures.series += 1;
        figures.samples += samples.len() as u64;
        for chunk_samples in samples.chunks(options.chunk_samples.max(1)) {
            let mut chunk = XorChunk::new();
            for sample in chunk_samples {
                chunk.append(sample.t, sample.v);
            }
            figures.xor_chunk_bytes += chunk.bytes().len() as u64;
            if options.verify {
                decoded.clear();
                super::xor::decode_into(chunk.bytes(), &mut decoded)?;
                if !same_samples(chunk_samples, &decoded) {
                    return Err(ChunkError::Corrupt("XOR round trip differs"));
                }
            }
        }
        let before = pages.series_page.len();
        if options.shared_timestamps {
            timestamps.clear();
            timestamps.extend(samples.iter().map(|s| s.t));
            let reference = pages.timestamp_column(&timestamps, options, &mut figures)?;
            column::encode_series_shared_timestamps(samples, reference, &mut pages.series_page);
        } else {
            column::encode_series(samples, &mut pages.series_page);
        }
        figures.column_raw_bytes += (pages.series_page.len() - before) as u64;
        if options.verify {
            pages.page_series.push(owned);
        }
        if pages.series_page.len() >= PAGE_TARGET_RAW_BYTES {
            pages.flush_series(options, &mut figures)?;
        }
    }
    pages.flush_series(options, &mut figures)?;
    pages.flush_timestamps(options, &mut figures)?;
    Ok(figures)
}

/// The pages being filled by [`measure_with`].
struct PageSet<S> {
    series_page: Vec<u8>,
    page_series: Vec<S>,
    timestamp_page: Vec<u8>,
    /// Raw pages of timestamp columns, kept for verification.
    columns_by_reference: Vec<Vec<i64>>,
    references: std::collections::HashMap<Vec<i64>, u64>,
}

impl<S> Default for PageSet<S> {
    fn default() -> Self {
        PageSet {
            series_page: Vec::with_capacity(PAGE_TARGET_RAW_BYTES * 2),
            page_series: Vec::new(),
            timestamp_page: Vec::new(),
            columns_by_reference: Vec::new(),
            references: std::collections::HashMap::new(),
        }
    }
}

impl<S: AsRef<[Sample]>> PageSet<S> {
    /// The reference of this timestamp sequence, storing it on first sight.
    fn timestamp_column(
        &mut self,
        timestamps: &[i64],
        options: &MeasureOptions,
        figures: &mut CompressionFigures,
    ) -> Result<u64, ChunkError> {
        if let Some(&reference) = self.references.get(timestamps) {
            return Ok(reference);
        }
        let reference = self.references.len() as u64;
        self.references.insert(timestamps.to_vec(), reference);
        if options.verify {
            self.columns_by_reference.push(timestamps.to_vec());
        }
        let before = self.timestamp_page.len();
        column::encode_timestamps(timestamps, &mut self.timestamp_page);
        figures.column_raw_bytes += (self.timestamp_page.len() - before) as u64;
        figures.timestamp_columns += 1;
        if self.timestamp_page.len() >= PAGE_TARGET_RAW_BYTES {
            self.flush_timestamps(options, figures)?;
        }
        Ok(reference)
    }

    fn flush_timestamps(
        &mut self,
        options: &MeasureOptions,
        figures: &mut CompressionFigures,
    ) -> Result<(), ChunkError> {
        if self.timestamp_page.is_empty() {
            return Ok(());
        }
        let compressed = compress_page(&self.timestamp_page, options.zstd_level)?;
        figures.column_page_bytes += compressed.len() as u64;
        figures.timestamp_column_bytes += compressed.len() as u64;
        figures.pages += 1;
        if options.verify {
            let raw = decompress_page(&compressed, self.timestamp_page.len())?;
            let mut offset = 0;
            let mut column = Vec::new();
            while offset < raw.len() {
                column.clear();
                offset += column::decode_timestamps_into(raw.get(offset..).unwrap_or(&[]), &mut column)?;
                if !self.columns_by_reference.contains(&column) {
                    return Err(ChunkError::Corrupt("timestamp column round trip differs"));
                }
            }
        }
        self.timestamp_page.clear();
        Ok(())
    }

    fn flush_series(&mut self, options: &MeasureOptions, figures: &mut CompressionFigures) -> Result<(), ChunkError> {
        if self.series_page.is_empty() {
            return Ok(());
        }
        let compressed = compress_page(&self.series_page, options.zstd_level)?;
        figures.column_page_bytes += compressed.len() as u64;
        figures.pages += 1;
        if options.verify {
            let raw = decompress_page(&compressed, self.series_page.len())?;
            let mut offset = 0;
            let mut decoded = Vec::new();
            let columns = &self.columns_by_reference;
            for original in self.page_series.iter() {
                decoded.clear();
                let lookup = |reference: u64| columns.get(reference as usize).map(Vec::as_slice);
                offset +=
                    column::decode_series_with_timestamps_into(raw.get(offset..).unwrap_or(&[]), lookup, &mut decoded)?;
                if !same_samples(original.as_ref(), &decoded) {
                    return Err(ChunkError::Corrupt("column round trip differs"));
                }
            }
            if offset != raw.len() {
                return Err(ChunkError::Corrupt("page has bytes after its last record"));
            }
        }
        self.series_page.clear();
        self.page_series.clear();
        Ok(())
    }
}

/// Bit-exact comparison (NaN payloads included).
pub fn same_samples(a: &[Sample], b: &[Sample]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
}

/// Measure a fleet without holding all of it in memory: series are generated one at a time.
pub fn measure_fleet(
    fleet: &Fleet,
    chunk_samples: usize,
    zstd_level: i32,
    verify: bool,
) -> Result<CompressionFigures, ChunkError> {
    let options = MeasureOptions { chunk_samples, zstd_level, verify, shared_timestamps: false };
    measure_fleet_with(fleet, &options, |_| true)
}

/// [`measure_fleet`] with every option, restricted to the series whose family passes `keep`
/// (for per-family reports).
pub fn measure_fleet_with(
    fleet: &Fleet,
    options: &MeasureOptions,
    keep: impl Fn(&str) -> bool,
) -> Result<CompressionFigures, ChunkError> {
    let generated = fleet.order.iter().filter(|&&(target, series)| keep(fleet.targets[target].family(series))).map(
        |&(target, series)| {
            let mut samples = Vec::new();
            fleet.targets[target].samples_into(series, &mut samples);
            samples
        },
    );
    measure_with(generated, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_node_exporter_sized() {
        let a = Target::new(0, 40, Jitter::Aligned);
        let b = Target::new(0, 40, Jitter::Aligned);
        assert!((900..=1100).contains(&a.series_count()), "{} series", a.series_count());
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for series in 0..a.series_count() {
            a.samples_into(series, &mut x);
            b.samples_into(series, &mut y);
            assert!(same_samples(&x, &y));
            assert!(x.windows(2).all(|w| w[0].t < w[1].t));
        }
        assert_ne!(Target::new(1, 40, Jitter::Aligned).timestamps, a.timestamps);
    }

    #[test]
    fn column_pages_beat_half_a_byte_per_sample_and_round_trip() {
        let fleet = Fleet::new(2, 480, Jitter::Aligned);
        for shared_timestamps in [false, true] {
            let options = MeasureOptions { chunk_samples: 120, zstd_level: 3, verify: true, shared_timestamps };
            let figures = measure_fleet_with(&fleet, &options, |_| true).expect("measures and verifies");
            assert_eq!(figures.samples, 2 * 480 * fleet.targets[0].series_count() as u64);
            let paged = figures.column_page_bytes_per_sample();
            assert!(paged < 0.5, "{paged:.3} bytes/sample (shared timestamps: {shared_timestamps})");
            assert!(figures.xor_bytes_per_sample() > 4.0 * paged);
            assert_eq!(figures.timestamp_columns, if shared_timestamps { 2 } else { 0 });
        }
    }

    /// Levels and spans, for tuning: `cargo test -p pharos-storage chunk_report -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn chunk_report_levels_and_spans() {
        for (label, targets, scrapes) in [("2h", 4, 480), ("24h", 1, 5760)] {
            let fleet = Fleet::new(targets, scrapes, Jitter::Aligned);
            for level in [1, 3, 9, 19] {
                let started = std::time::Instant::now();
                let f = measure_fleet(&fleet, 120, level, false).expect("measures");
                println!(
                    "{label} zstd {level:>2}: xor {:.3}  raw {:.3}  paged {:.3} B/sample  ({} pages, {:?})",
                    f.xor_bytes_per_sample(),
                    f.column_raw_bytes_per_sample(),
                    f.column_page_bytes_per_sample(),
                    f.pages,
                    started.elapsed()
                );
            }
        }
    }

    /// Per-family breakdown, for tuning: `cargo test -p pharos-storage chunk_report -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn chunk_report_per_family() {
        for (jitter, targets, scrapes) in [(Jitter::Aligned, 4, 480), (Jitter::Raw, 4, 480), (Jitter::Aligned, 1, 5760)]
        {
            let fleet = Fleet::new(targets, scrapes, jitter);
            let mut families: Vec<&'static str> = fleet.targets[0].series.iter().map(|s| s.family).collect();
            families.sort();
            families.dedup();
            let all = measure_fleet(&fleet, 120, 3, true).expect("measures");
            println!(
                "{jitter:?} {scrapes} scrapes: {} series, {} samples: xor {:.3} B/sample, column raw {:.3}, paged {:.3} ({} pages)",
                all.series,
                all.samples,
                all.xor_bytes_per_sample(),
                all.column_raw_bytes_per_sample(),
                all.column_page_bytes_per_sample(),
                all.pages
            );
            for family in families {
                let options =
                    MeasureOptions { chunk_samples: 120, zstd_level: 3, verify: false, shared_timestamps: false };
                let f = measure_fleet_with(&fleet, &options, |name| name == family).expect("measures");
                println!(
                    "  {family:<20} {:>4} series  xor {:>6.3}  raw {:>6.3}  paged {:>6.3} B/sample  share of paged total {:>5.1} %",
                    f.series / targets as usize,
                    f.xor_bytes_per_sample(),
                    f.column_raw_bytes_per_sample(),
                    f.column_page_bytes_per_sample(),
                    100.0 * f.column_page_bytes as f64 / all.column_page_bytes as f64
                );
            }
        }
    }
}

// Pharos — storage/src/tsdb/chunk/synthetic.rs
