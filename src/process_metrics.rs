//! The standard `process_*` metrics (as every Prometheus client library exports them), read from
//! `/proc/self` at scrape time.

use std::fs;

use pharos_proto::exposition::{Collector, TextEncoder};

/// Collects RSS, virtual memory, CPU time, start time and file descriptors of this process.
pub struct ProcessCollector {
    ticks_per_second: f64,
    page_size: f64,
    boot_time: f64,
}

impl ProcessCollector {
    pub fn new() -> Self {
        // SAFETY: sysconf only reads static system configuration.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        let boot_time = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| stat.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok()))
            .unwrap_or(0.0);
        ProcessCollector {
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_size: if page > 0 { page as f64 } else { 4096.0 },
            boot_time,
        }
    }
}

/// The fields of `/proc/self/stat` we use (proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24).
struct Stat {
    utime: f64,
    stime: f64,
    start_ticks: f64,
    vsize: f64,
    rss_pages: f64,
}

fn read_stat() -> Option<Stat> {
    let text = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    Some(Stat { utime: field(14)?, stime: field(15)?, start_ticks: field(22)?, vsize: field(23)?, rss_pages: field(24)? })
}

fn max_open_files() -> Option<f64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

impl Collector for ProcessCollector {
    fn collect(&self, out: &mut TextEncoder) {
        if let Some(stat) = read_stat() {
            out.family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
            out.sample("process_cpu_seconds_total", &[], (stat.utime + stat.stime) / self.ticks_per_second);
            out.family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
            out.sample("process_resident_memory_bytes", &[], stat.rss_pages * self.page_size);
            out.family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
            out.sample("process_virtual_memory_bytes", &[], stat.vsize);
            out.family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
            out.sample("process_start_time_seconds", &[], self.boot_time + stat.start_ticks / self.ticks_per_second);
        }
        if let Ok(fds) = fs::read_dir("/proc/self/fd") {
            out.family("process_open_fds", "Number of open file descriptors.", "gauge");
            out.sample("process_open_fds", &[], fds.count() as f64);
        }
        if let Some(max) = max_open_files() {
            out.family("process_max_fds", "Maximum number of open file descriptors.", "gauge");
            out.sample("process_max_fds", &[], max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_plausible_values_for_this_process() {
        let mut out = TextEncoder::default();
        ProcessCollector::new().collect(&mut out);
        let text = out.finish();
        let value = |name: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
            line.split(' ').nth(1).unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e5);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_open_fds") >= 3.0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(start <= now + 1.0 && start > now - 3600.0, "start {start} now {now}");
        assert!(value("process_cpu_seconds_total") >= 0.0);
    }
}

// Pharos — src/process_metrics.rs
