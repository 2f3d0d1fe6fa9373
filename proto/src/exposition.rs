//! Pharos' own metrics and their Prometheus text exposition (format 0.0.4).
//!
//! A [`Registry`] holds metric families; each family is a [`Counter`], [`Gauge`] or [`Histogram`]
//! keyed by label values. Families are registered once at start-up; updating a child is lock-free
//! after its first use (an `Arc` to atomics). Values computed at scrape time (process RSS, CPU) come
//! from [`Collector`]s.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A value computed when `/metrics` is scraped. It writes whole families with the [`TextEncoder`].
pub trait Collector: Send + Sync {
    fn collect(&self, out: &mut TextEncoder);
}

/// Writes families in the text exposition format.
#[derive(Default)]
pub struct TextEncoder {
    out: String,
}

impl TextEncoder {
    /// Start a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                for c in value.chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&format_value(value));
        self.out.push('\n');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A float as the exposition format spells it (`+Inf`, `-Inf`, `NaN`, shortest round-trip decimal).
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

type LabelValues = Vec<String>;

struct Family<T> {
    name: String,
    help: String,
    label_names: Vec<&'static str>,
    children: RwLock<BTreeMap<LabelValues, Arc<T>>>,
}

impl<T: Default> Family<T> {
    fn new(name: &str, help: &str, label_names: &[&'static str]) -> Self {
        Family {
            name: name.to_string(),
            help: help.to_string(),
            label_names: label_names.to_vec(),
            children: RwLock::new(BTreeMap::new()),
        }
    }

    fn child(&self, values: &[&str], make: impl FnOnce() -> T) -> Arc<T> {
        assert_eq!(values.len(), self.label_names.len(), "label values for {}", self.name);
        let key: LabelValues = values.iter().map(|v| v.to_string()).collect();
        if let Some(child) = self.children.read().expect("metric family lock").get(&key) {
            return child.clone();
        }
        self.children.write().expect("metric family lock").entry(key).or_insert_with(|| Arc::new(make())).clone()
    }

    fn each(&self, mut f: impl FnMut(Vec<(&str, &str)>, &T)) {
        for (values, child) in self.children.read().expect("metric family lock").iter() {
            let labels = self.label_names.iter().copied().zip(values.iter().map(String::as_str)).collect();
            f(labels, child);
        }
    }
}

/// An `f64` in an atomic, updated by compare-and-swap.
#[derive(Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn add(&self, delta: f64) {
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + delta).to_bits())
        });
    }
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// One counter child: only goes up.
#[derive(Default)]
pub struct CounterValue(AtomicF64);

impl CounterValue {
    pub fn inc(&self) {
        self.0.add(1.0);
    }
    /// Add a non-negative amount; negative amounts are ignored (counters never go down).
    pub fn add(&self, amount: f64) {
        if amount > 0.0 {
            self.0.add(amount);
        }
    }
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// One gauge child: set to any value.
#[derive(Default)]
pub struct GaugeValue(AtomicF64);

impl GaugeValue {
    pub fn set(&self, value: f64) {
        self.0.set(value);
    }
    pub fn add(&self, delta: f64) {
        self.0.add(delta);
    }
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// One histogram child: cumulative bucket counts, a count and a sum.
pub struct HistogramValue {
    bounds: Arc<[f64]>,
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum: AtomicF64,
}

impl Default for HistogramValue {
    fn default() -> Self {
        HistogramValue::new(Arc::from(Vec::new()))
    }
}

impl HistogramValue {
    fn new(bounds: Arc<[f64]>) -> Self {
        let buckets = bounds.iter().map(|_| AtomicU64::new(0)).collect();
        HistogramValue { bounds, buckets, count: AtomicU64::new(0), sum: AtomicF64::default() }
    }

    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.add(value);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// A counter family.
#[derive(Clone)]
pub struct Counter(Arc<Family<CounterValue>>);

impl Counter {
    /// The child for these label values (in the order of the family's label names).
    pub fn with(&self, values: &[&str]) -> Arc<CounterValue> {
        self.0.child(values, CounterValue::default)
    }
}

/// A gauge family.
#[derive(Clone)]
pub struct Gauge(Arc<Family<GaugeValue>>);

impl Gauge {
    pub fn with(&self, values: &[&str]) -> Arc<GaugeValue> {
        self.0.child(values, GaugeValue::default)
    }
}

/// A histogram family with fixed bucket upper bounds.
#[derive(Clone)]
pub struct Histogram {
    family: Arc<Family<HistogramValue>>,
    bounds: Arc<[f64]>,
}

impl Histogram {
    pub fn with(&self, values: &[&str]) -> Arc<HistogramValue> {
        self.family.child(values, || HistogramValue::new(self.bounds.clone()))
    }
}

/// Bucket bounds for request latencies in seconds, 1 ms to 60 s.
pub const LATENCY_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

enum Registered {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
    Collector(Arc<dyn Collector>),
}

/// All of Pharos' own metrics; cheap to clone and share.
#[derive(Clone, Default)]
pub struct Registry {
    entries: Arc<Mutex<Vec<Registered>>>,
}

impl Registry {
    pub fn counter(&self, name: &str, help: &str, label_names: &[&'static str]) -> Counter {
        let counter = Counter(Arc::new(Family::new(name, help, label_names)));
        self.push(Registered::Counter(counter.clone()));
        counter
    }

    pub fn gauge(&self, name: &str, help: &str, label_names: &[&'static str]) -> Gauge {
        let gauge = Gauge(Arc::new(Family::new(name, help, label_names)));
        self.push(Registered::Gauge(gauge.clone()));
        gauge
    }

    pub fn histogram(&self, name: &str, help: &str, label_names: &[&'static str], bounds: &[f64]) -> Histogram {
        let histogram = Histogram { family: Arc::new(Family::new(name, help, label_names)), bounds: Arc::from(bounds) };
        self.push(Registered::Histogram(histogram.clone()));
        histogram
    }

    pub fn collector(&self, collector: Arc<dyn Collector>) {
        self.push(Registered::Collector(collector));
    }

    fn push(&self, entry: Registered) {
        self.entries.lock().expect("registry lock").push(entry);
    }

    /// Every family in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = TextEncoder::default();
        for entry in self.entries.lock().expect("registry lock").iter() {
            match entry {
                Registered::Counter(Counter(family)) => {
                    out.family(&family.name, &family.help, "counter");
                    family.each(|labels, value| out.sample(&family.name, &labels, value.get()));
                }
                Registered::Gauge(Gauge(family)) => {
                    out.family(&family.name, &family.help, "gauge");
                    family.each(|labels, value| out.sample(&family.name, &labels, value.get()));
                }
                Registered::Histogram(Histogram { family, .. }) => {
                    out.family(&family.name, &family.help, "histogram");
                    let bucket = format!("{}_bucket", family.name);
                    family.each(|labels, h| {
                        let mut cumulative = 0;
                        let count = h.count();
                        let les = h.bounds.iter().map(|b| format_value(*b)).chain(["+Inf".to_string()]);
                        let counts = h.buckets.iter().map(|c| c.load(Ordering::Relaxed)).chain([0]);
                        for (i, (le, n)) in les.zip(counts).enumerate() {
                            cumulative += n;
                            let value = if i == h.bounds.len() { count } else { cumulative };
                            let mut with_le = labels.clone();
                            with_le.push(("le", &le));
                            out.sample(&bucket, &with_le, value as f64);
                        }
                        out.sample(&format!("{}_sum", family.name), &labels, h.sum.get());
                        out.sample(&format!("{}_count", family.name), &labels, count as f64);
                    });
                }
                Registered::Collector(collector) => collector.collect(&mut out),
            }
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let registry = Registry::default();
        let requests = registry.counter("reqs_total", "Requests.", &["handler", "code"]);
        requests.with(&["/a", "200"]).inc();
        requests.with(&["/a", "200"]).add(2.0);
        requests.with(&["/b\"\n", "500"]).inc();
        let temp = registry.gauge("temp", "Temperature\nin C.", &[]);
        temp.with(&[]).set(-1.5);
        let latency = registry.histogram("lat_seconds", "Latency.", &["h"], &[0.1, 1.0]);
        latency.with(&["x"]).observe(0.05);
        latency.with(&["x"]).observe(0.5);
        latency.with(&["x"]).observe(5.0);

        let text = registry.render();
        let expected = "\
# HELP reqs_total Requests.
# TYPE reqs_total counter
reqs_total{handler=\"/a\",code=\"200\"} 3
reqs_total{handler=\"/b\\\"\\n\",code=\"500\"} 1
# HELP temp Temperature\\nin C.
# TYPE temp gauge
temp -1.5
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{h=\"x\",le=\"0.1\"} 1
lat_seconds_bucket{h=\"x\",le=\"1\"} 2
lat_seconds_bucket{h=\"x\",le=\"+Inf\"} 3
lat_seconds_sum{h=\"x\"} 5.55
lat_seconds_count{h=\"x\"} 3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn counters_ignore_negative_amounts() {
        let c = Registry::default().counter("c_total", "c", &[]);
        c.with(&[]).add(-5.0);
        c.with(&[]).add(1.5);
        assert_eq!(c.with(&[]).get(), 1.5);
    }

    #[test]
    fn special_values() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(3.0), "3");
    }
}

// Pharos — proto/src/exposition.rs
