//! Load test of the trace store: generates spans (fixed seed: ~10 services, ~50 operations, ~12
//! span attributes plus 6 resource attributes, 8 spans per trace, ~3 % errors, events on 10 % of
//! spans), appends them in batches of 512 from 2 threads, and reports
//!
//! - spans per CPU-second: user + system time of the whole process (RocksDB's flushes and
//!   compactions included: the clock stops once they have settled after a flush);
//! - bytes per span on disk: live SST bytes after the flush and compactions settle;
//! - trace-by-id latency p50/p99 over 1000 random trace ids, and a few searches.
//!
//! `cargo bench -p pharos-storage --bench trace_store` (`TRACE_LOAD_SPANS=n` to change the 1M spans,
//! `TRACE_LOAD_DIR=path` to keep the store somewhere instead of a temporary directory).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_storage::traces::{
    AttributeValue, Event, KeyValue, Resource, Scope, Span, SpanKind, SpanQuery, Status, StatusCode, TimeRange,
    TraceId, TraceStore, TraceStoreOptions,
};

const BATCH: usize = 512;
const THREADS: usize = 2;
const SPANS_PER_TRACE: usize = 8;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SERVICES: [&str; 10] =
    ["frontend", "checkout", "cart", "payment", "shipping", "email", "currency", "catalog", "ads", "recommend"];
const ROUTES: [&str; 5] = ["/api/items/{id}", "/api/cart", "/api/checkout", "/api/users/{id}", "/healthz"];
const VERBS: [&str; 5] = ["GET", "GET", "GET", "POST", "PUT"];

fn cpu_seconds() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// CPU seconds of the RocksDB background threads (flushes and compactions), from /proc.
fn background_cpu_seconds() -> f64 {
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !stat[open + 1..close].starts_with("rocksdb:") {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the state field here.
        let cpu: f64 = fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        total += cpu / ticks;
    }
    total
}

/// Generates every span up front so that generating is not measured.
fn generate(total: usize, start_nanos: u64) -> (Vec<Vec<Span>>, Vec<TraceId>) {
    let mut rng = Rng(0x5eed);
    // Three replicas (hosts, pods) per service: 30 resources.
    let resources: Vec<Vec<Arc<Resource>>> = SERVICES
        .iter()
        .map(|service| {
            (0..3)
                .map(|replica| {
                    Arc::new(Resource {
                        attributes: vec![
                            KeyValue::string("service.name", *service),
                            KeyValue::string("service.version", "1.4.2"),
                            KeyValue::string("host.name", format!("{service}-{replica}.prod.internal")),
                            KeyValue::string("k8s.namespace.name", "shop"),
                            KeyValue::string("deployment.environment", "production"),
                            KeyValue::new("process.pid", AttributeValue::Int(1000 + replica)),
                        ],
                        dropped_attributes_count: 0,
                        schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
                    })
                })
                .collect()
        })
        .collect();
    let scope =
        Arc::new(Scope { name: "io.opentelemetry.contrib.http".into(), version: "1.33.0".into(), ..Scope::default() });
    // Start times over two hours per million spans (the density stays that of the 1M run).
    let spread_nanos = total as u64 * 7_200_000;
    let traces = total.div_ceil(SPANS_PER_TRACE);
    let mut spans = Vec::with_capacity(total);
    let mut ids = Vec::with_capacity(traces);
    for t in 0..traces {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&rng.next().to_be_bytes());
        trace_id[8..].copy_from_slice(&rng.next().to_be_bytes());
        ids.push(trace_id);
        let trace_start = start_nanos + (t as u64 * spread_nanos / traces as u64);
        let mut parent = None;
        for j in 0..SPANS_PER_TRACE.min(total - spans.len()) {
            let s = (t + j * 3) % SERVICES.len();
            let service = SERVICES[s];
            let op = rng.below(5);
            let route = ROUTES[op as usize];
            let verb = VERBS[op as usize];
            let span_id = rng.next().to_be_bytes();
            let start = trace_start + j as u64 * 150_000 + rng.below(50_000);
            let duration = 20_000 + rng.below(20_000_000) * (1 + u64::from(rng.below(50) == 0) * 100);
            let error = rng.below(33) == 0;
            let status_code = if error {
                500
            } else if rng.below(20) == 0 {
                404
            } else {
                200
            };
            let kind = if j == 0 {
                SpanKind::Server
            } else if j % 2 == 1 {
                SpanKind::Client
            } else {
                SpanKind::Server
            };
            let id = rng.below(100_000);
            let mut attributes = vec![
                KeyValue::string("http.request.method", verb),
                KeyValue::string("http.route", route),
                KeyValue::new("http.response.status_code", AttributeValue::Int(status_code)),
                KeyValue::string("url.path", route.replace("{id}", &id.to_string())),
                KeyValue::string("url.scheme", "https"),
                KeyValue::string("server.address", format!("{service}.shop.svc")),
                KeyValue::new("server.port", AttributeValue::Int(8080)),
                KeyValue::string("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) shop-client/2.1"),
                KeyValue::string("app.user.id", format!("user-{}", rng.below(5000))),
                KeyValue::string("app.request.id", format!("{:016x}", rng.next())),
                KeyValue::new("thread.id", AttributeValue::Int(rng.below(64) as i64)),
                KeyValue::new("app.cache.hit", AttributeValue::Bool(rng.below(2) == 0)),
            ];
            if j % 4 == 3 {
                attributes.push(KeyValue::string("db.system", "postgresql"));
            }
            let events = if rng.below(10) == 0 {
                vec![Event {
                    time_unix_nano: start + duration / 2,
                    name: if error { "exception".into() } else { "cache.miss".into() },
                    attributes: vec![
                        KeyValue::string("exception.type", "java.io.IOException"),
                        KeyValue::string("exception.message", format!("connection reset by peer {}", rng.below(1000))),
                    ],
                    dropped_attributes_count: 0,
                }]
            } else {
                Vec::new()
            };
            spans.push(Span {
                resource: resources[s][rng.below(3) as usize].clone(),
                scope: scope.clone(),
                trace_id,
                span_id,
                parent_span_id: parent,
                trace_state: String::new(),
                flags: 1,
                name: format!("{verb} {route}"),
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: start + duration,
                attributes,
                dropped_attributes_count: 0,
                events,
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                status: if error {
                    Status { code: StatusCode::Error, message: "upstream failed".into() }
                } else {
                    Status::default()
                },
            });
            parent = Some(span_id);
        }
    }
    let batches = spans.chunks(BATCH).map(<[Span]>::to_vec).collect();
    (batches, ids)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let total: usize = std::env::var("TRACE_LOAD_SPANS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let temp = tempfile::tempdir_in(std::env::var("TRACE_LOAD_DIR").unwrap_or_else(|_| "/tmp".into())).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let started = Instant::now();
    let (batches, ids) = generate(total, now - 3 * 3_600_000_000_000);
    println!("generated {total} spans in {} batches in {:.1?}", batches.len(), started.elapsed());

    let store = Arc::new(
        TraceStore::open(temp.path(), TraceStoreOptions { maintenance_interval: Duration::ZERO, ..Default::default() })
            .unwrap(),
    );
    let cpu_before = cpu_seconds();
    let wall = Instant::now();
    let batches = Arc::new(batches);
    let workers: Vec<_> = (0..THREADS)
        .map(|w| {
            let store = store.clone();
            let batches = batches.clone();
            std::thread::spawn(move || {
                for batch in batches.iter().skip(w).step_by(THREADS) {
                    store.append(batch).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let append_wall = wall.elapsed();
    let cpu_appended = cpu_seconds();
    store.flush().unwrap();
    let settled = store.wait_for_compactions(Duration::from_secs(600));
    let cpu = cpu_seconds() - cpu_before;
    let stats = store.stats();
    println!(
        "appended {total} spans: wall {append_wall:.1?} ({:.0} spans/s), CPU {:.1} s appending + {:.1} s flush/compaction",
        total as f64 / append_wall.as_secs_f64(),
        cpu_appended - cpu_before,
        cpu - (cpu_appended - cpu_before),
    );
    println!(
        "spans per CPU-second: {:.0} (compactions settled: {settled}; RocksDB background threads {:.1} s of the CPU)",
        total as f64 / cpu,
        background_cpu_seconds()
    );
    println!(
        "on disk: {} SST bytes = {:.1} bytes/span (index CFs {:.1} bytes/span), WAL {} bytes; {} buckets, {} spans",
        stats.sst_bytes,
        stats.sst_bytes as f64 / total as f64,
        stats.index_sst_bytes as f64 / total as f64,
        stats.wal_bytes,
        stats.buckets,
        stats.spans
    );

    let mut rng = Rng(7);
    let mut latencies = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let id = ids[rng.below(ids.len() as u64) as usize];
        let t = Instant::now();
        let trace = store.trace(&id, TimeRange::ALL).unwrap();
        latencies.push(t.elapsed());
        assert!(!trace.is_empty());
    }
    latencies.sort();
    println!(
        "trace by id (1000 random ids): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );

    let all = TimeRange::ALL;
    let searches: Vec<(&str, SpanQuery)> = vec![
        ("20 newest spans", SpanQuery::in_range(all)),
        ("20 newest of a service", SpanQuery { service: Some("payment".into()), ..SpanQuery::in_range(all) }),
        (
            "20 newest errors of a service",
            SpanQuery { service: Some("cart".into()), error_only: true, ..SpanQuery::in_range(all) },
        ),
        (
            "20 newest of an operation > 100 ms",
            SpanQuery {
                service: Some("checkout".into()),
                span_name: Some("GET /api/checkout".into()),
                min_duration_nanos: Some(100_000_000),
                ..SpanQuery::in_range(all)
            },
        ),
        (
            "20 newest with http.response.status_code=404",
            SpanQuery {
                attributes: vec![("http.response.status_code".into(), "404".into())],
                ..SpanQuery::in_range(all)
            },
        ),
        (
            "20 newest of a service with app.user.id (not indexed)",
            SpanQuery {
                service: Some("email".into()),
                attributes: vec![("app.user.id".into(), "user-42".into())],
                ..SpanQuery::in_range(all)
            },
        ),
    ];
    for (what, query) in searches {
        let t = Instant::now();
        let mut found = 0;
        let stats = store
            .search(&query, &mut |_| {
                found += 1;
                if found == 20 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .unwrap();
        println!("search {what}: {found} spans in {:.2?} ({} spans read)", t.elapsed(), stats.inspected_spans);
    }
}

// Pharos — storage/benches/trace_store.rs
