//! Log ingest and search benchmark: a generated JSON log corpus bulk-loaded into a release build of
//! Pharos through the Elasticsearch `_bulk` API, then the searches a log dashboard makes, timed.
//!
//! ```text
//! CARGO_TARGET_DIR=$HOME/.cache/pharos/target cargo build --release --locked --bin pharos --bench logs_load
//! CARGO_TARGET_DIR=$HOME/.cache/pharos/target cargo bench --locked --bench logs_load -- --docs 10000000
//! ```
//!
//! Corpus (fixed seed, generated while sending, so it never sits in memory or on disk): 24 h of
//! logs of one UTC day (yesterday), evenly spread. 70 % are access logs of an HTTP front end
//! (`service`, `host`, `client_ip`, `method`, `path` with ids in it, `status`, `bytes`,
//! `duration_ms`, `user_agent`, and a combined-log-like `message`); 30 % are application logs of
//! five services (`level`, `logger`, `trace_id`, `span_id`, and messages drawn from templates with
//! numbers, ids and the occasional `connection reset by peer`). About 250 bytes a document.
//!
//! Ingest: `--senders` connections each post `create` actions for their own slice of the corpus in
//! `_bulk` requests of `--batch-mib`. Reported: raw bytes (the document lines, not the action
//! lines) per second of wall time and per second of Pharos' CPU time (utime + stime from
//! `/proc/PID/stat`, so the figure is per core whatever the concurrency), then the size of
//! `data/logs` over the raw bytes, once all documents are searchable and again after `--settle`
//! seconds of merging.
//!
//! Queries (each run once to warm up, then `--runs` times; p50 and p99 of the wall time from
//! request sent to body received):
//! 1. term: `host` = one host, newest 100 hits;
//! 2. phrase: `message` "connection reset by peer", newest 100 hits;
//! 3. field filter + time range: service, level and the last hour of the corpus, newest 100 hits;
//! 4. 24 h `date_histogram` of everything (5 m buckets, `min_doc_count` 0, extended bounds), as
//!    Grafana's log volume panel asks;
//! 5. top-10 `terms` of `path` over the 24 h.
//!
//! Targets (issue 5): ≥ 25 MB/s per core, disk / raw ≤ 1/4, p99 < 100 ms per query over ≥ 10M docs.
//!
//! Options: `--docs N` (default 10,000,000), `--senders N` (default 2), `--batch-mib N` (default
//! 4), `--runs N` (default 50), `--settle S` (default 60), `--hold S` (keep Pharos running S
//! seconds at the end), `--pharos PATH` (default `$CARGO_TARGET_DIR/release/pharos`), `--dump FILE`
//! (write the first `--docs` documents of the corpus as JSON lines to FILE and exit: for measuring
//! compressors and schemas offline).

mod servers;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use servers::{Server, cpu_seconds, dir_size, percentile, start_pharos};

const INDEX: &str = "bench-logs";
const DAY_MS: i64 = 86_400_000;

struct Options {
    docs: u64,
    senders: u64,
    batch_bytes: usize,
    runs: usize,
    settle: u64,
    hold: u64,
    pharos: PathBuf,
    dump: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        docs: 10_000_000,
        senders: 2,
        batch_bytes: 4 << 20,
        runs: 50,
        settle: 60,
        hold: 0,
        pharos: PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("release/pharos"),
        dump: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--docs" => o.docs = value().parse().unwrap(),
            "--senders" => o.senders = value().parse().unwrap(),
            "--batch-mib" => o.batch_bytes = value().parse::<usize>().unwrap() << 20,
            "--runs" => o.runs = value().parse().unwrap(),
            "--settle" => o.settle = value().parse().unwrap(),
            "--hold" => o.hold = value().parse().unwrap(),
            "--pharos" => o.pharos = PathBuf::from(value()),
            "--dump" => o.dump = Some(PathBuf::from(value())),
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// xorshift64*: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed towards small values: the popular paths, hosts and users of real traffic.
    fn zipf_like(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b).min(self.below(n))
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"];
const RESOURCES: &[&str] =
    &["users", "orders", "products", "carts", "payments", "sessions", "search", "images", "reviews", "inventory"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Go-http-client/2.0",
    "kube-probe/1.30",
];
const SERVICES: &[&str] = &["checkout", "payments", "catalog", "accounts", "shipping"];
const LEVELS: &[&str] = &["info", "info", "info", "info", "info", "info", "debug", "debug", "warn", "error"];

/// Document `i` of the corpus (its time is `start_ms + i * span / docs`), appended to `out`.
fn document(i: u64, docs: u64, start_ms: i64, out: &mut String) {
    let mut rng = Rng::new(i ^ 0x5EED_0F_1065);
    let ms = start_ms + (i as i128 * DAY_MS as i128 / docs as i128) as i64;
    let ts = rfc3339_ms(ms);
    if rng.below(10) < 7 {
        let method = rng.pick(METHODS);
        let resource = rng.pick(RESOURCES);
        let id = rng.zipf_like(200);
        let path = if rng.below(4) == 0 { format!("/api/v1/{resource}") } else { format!("/api/v1/{resource}/{id}") };
        let roll = rng.below(1000);
        let status = match roll {
            0..=899 => 200,
            900..=939 => 304,
            940..=969 => 404,
            970..=989 => 500,
            _ => 503,
        };
        let bytes = if status == 304 { 0 } else { 200 + rng.below(40_000) };
        let host = rng.zipf_like(40);
        let duration = (1 + rng.below(2_000)) as f64 / 10.0;
        let _ = write!(
            out,
            r#"{{"@timestamp":"{ts}","service":"frontend","host":"web-{host:02}","client_ip":"10.{}.{}.{}","method":"{method}","path":"{path}","status":{status},"bytes":{bytes},"duration_ms":{duration},"user_agent":"{}","message":"{method} {path} HTTP/1.1 {status} {bytes}"}}"#,
            rng.below(4),
            rng.below(256),
            rng.zipf_like(256),
            rng.pick(AGENTS),
        );
    } else {
        let service = rng.pick(SERVICES);
        let level = rng.pick(LEVELS);
        let order = rng.below(10_000_000);
        let customer = rng.zipf_like(100_000);
        let message = match (level, rng.below(6)) {
            ("error", 0 | 1) => format!(
                "call to {} failed: connection reset by peer after {} ms",
                rng.pick(SERVICES),
                rng.below(30_000)
            ),
            ("error", _) => format!("order {order} rejected: payment declined for customer {customer}"),
            ("warn", _) => format!("retrying request to {} (attempt {})", rng.pick(SERVICES), 1 + rng.below(5)),
            ("debug", _) => format!("cache lookup for customer {customer} took {} us", rng.below(5_000)),
            (_, 0) => format!(
                "order {order} placed for customer {customer} total {}.{:02} EUR",
                rng.below(900),
                rng.below(100)
            ),
            (_, 1) => {
                format!("user {customer} logged in from 10.{}.{}.{}", rng.below(4), rng.below(256), rng.below(256))
            }
            (_, 2) => format!("shipment {order} handed to carrier {}", rng.pick(&["dhl", "ups", "fedex", "postnl"])),
            _ => format!("request completed in {} ms", rng.below(2_000)),
        };
        let _ = write!(
            out,
            r#"{{"@timestamp":"{ts}","service":"{service}","level":"{level}","logger":"com.shop.{service}.Handler","trace_id":"{:016x}{:016x}","span_id":"{:016x}","message":"{message}"}}"#,
            rng.next(),
            rng.next(),
            rng.next(),
        );
    }
}

fn rfc3339_ms(ms: i64) -> String {
    let (y, m, d) = pharos_proto::civil_time::civil_from_days(ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    let (h, mi, sec, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{milli:03}Z")
}

async fn post_json(client: &reqwest::Client, url: &str, body: String, content_type: &str) -> (u16, String) {
    let response = client
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn ingest(server: &Server, o: &Options, start_ms: i64) -> u64 {
    let client = reqwest::Client::new();
    let url = format!("{}/elastic/_bulk", server.base);
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for sender in 0..o.senders {
        let (client, url, raw_bytes) = (client.clone(), url.clone(), raw_bytes.clone());
        let (docs, batch_bytes) = (o.docs, o.batch_bytes);
        let (first, last) = (docs * sender / o.senders, docs * (sender + 1) / o.senders);
        tasks.push(tokio::spawn(async move {
            let mut i = first;
            let mut line = String::with_capacity(1024);
            while i < last {
                let mut body = String::with_capacity(batch_bytes + 4096);
                let mut raw = 0u64;
                let mut count = 0usize;
                while i < last && body.len() < batch_bytes {
                    body.push_str(r#"{"create":{"_index":""#);
                    body.push_str(INDEX);
                    body.push_str("\"}}\n");
                    line.clear();
                    document(i, docs, start_ms, &mut line);
                    raw += line.len() as u64;
                    body.push_str(&line);
                    body.push('\n');
                    i += 1;
                    count += 1;
                }
                let (status, text) = post_json(&client, &url, body, "application/x-ndjson").await;
                assert_eq!(status, 200, "bulk answered {status}: {}", &text[..text.len().min(500)]);
                assert!(text.contains(r#""errors":false"#), "bulk had item errors: {}", &text[..text.len().min(500)]);
                assert!(count > 0);
                raw_bytes.fetch_add(raw, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    raw_bytes.load(Ordering::Relaxed)
}

async fn count(client: &reqwest::Client, base: &str) -> u64 {
    let (status, text) =
        post_json(client, &format!("{base}/elastic/{INDEX}/_count"), "{}".into(), "application/json").await;
    if status != 200 {
        return 0;
    }
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    value["count"].as_u64().unwrap_or(0)
}

struct Query {
    name: &'static str,
    body: String,
    /// What a correct answer must show, checked on the warm-up run.
    check: fn(&serde_json::Value) -> Result<(), String>,
}

fn queries(start_ms: i64) -> Vec<Query> {
    let end_ms = start_ms + DAY_MS - 1;
    let newest =
        r#""size":100,"sort":{"@timestamp":{"order":"desc","unmapped_type":"boolean"},"_doc":{"order":"desc"}}"#;
    let has_hits = |v: &serde_json::Value| -> Result<(), String> {
        let hits = v["hits"]["hits"].as_array().map(Vec::len).unwrap_or(0) as u64;
        let total = v["hits"]["total"]["value"].as_u64().unwrap_or(0);
        if total > 0 && hits == total.min(100) { Ok(()) } else { Err(format!("{hits} hits of {total}")) }
    };
    vec![
        Query {
            name: "term",
            body: format!(r#"{{{newest},"query":{{"term":{{"host":"web-07"}}}}}}"#),
            check: has_hits,
        },
        Query {
            name: "phrase",
            body: format!(r#"{{{newest},"query":{{"match_phrase":{{"message":"connection reset by peer"}}}}}}"#),
            check: has_hits,
        },
        Query {
            name: "field filter + 1 h",
            body: format!(
                r#"{{{newest},"query":{{"bool":{{"filter":[{{"range":{{"@timestamp":{{"gte":{},"lte":{end_ms},"format":"epoch_millis"}}}}}},{{"query_string":{{"analyze_wildcard":true,"query":"service:checkout AND level:error"}}}}]}}}}}}"#,
                end_ms - 3_600_000
            ),
            check: has_hits,
        },
        Query {
            name: "24 h date_histogram",
            body: format!(
                r#"{{"size":0,"query":{{"bool":{{"filter":[{{"range":{{"@timestamp":{{"gte":{start_ms},"lte":{end_ms},"format":"epoch_millis"}}}}}}]}}}},"aggs":{{"2":{{"date_histogram":{{"field":"@timestamp","fixed_interval":"5m","min_doc_count":0,"extended_bounds":{{"min":{start_ms},"max":{end_ms}}},"format":"epoch_millis"}}}}}}}}"#
            ),
            check: |v| {
                let buckets = v["aggregations"]["2"]["buckets"].as_array().map(Vec::len).unwrap_or(0);
                if buckets == 288 { Ok(()) } else { Err(format!("{buckets} buckets, expected 288")) }
            },
        },
        Query {
            name: "top-10 terms",
            body: format!(
                r#"{{"size":0,"query":{{"bool":{{"filter":[{{"range":{{"@timestamp":{{"gte":{start_ms},"lte":{end_ms},"format":"epoch_millis"}}}}}}]}}}},"aggs":{{"2":{{"terms":{{"field":"path","size":10,"order":{{"_count":"desc"}},"min_doc_count":1}}}}}}}}"#
            ),
            check: |v| {
                let buckets = v["aggregations"]["2"]["buckets"].as_array().map(Vec::len).unwrap_or(0);
                if buckets == 10 { Ok(()) } else { Err(format!("{buckets} buckets, expected 10")) }
            },
        },
    ]
}

#[tokio::main]
async fn main() {
    let o = options();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let start_ms = (now_ms.div_euclid(DAY_MS) - 1) * DAY_MS;
    if let Some(path) = &o.dump {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let mut line = String::with_capacity(1024);
        for i in 0..o.docs {
            line.clear();
            document(i, o.docs, start_ms, &mut line);
            line.push('\n');
            std::io::Write::write_all(&mut out, line.as_bytes()).unwrap();
        }
        std::io::Write::flush(&mut out).unwrap();
        return;
    }
    let mut server = start_pharos(&o.pharos);
    let pid = server.child.id();
    println!(
        "# logs_load: {} docs over {} .. +24h, {} senders, {} MiB bulks",
        o.docs,
        rfc3339_ms(start_ms),
        o.senders,
        o.batch_bytes >> 20
    );
    println!("# pharos: {}", server.command);

    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let raw = ingest(&server, &o, start_ms).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    let mb = raw as f64 / 1e6;
    println!(
        "ingest: {:.1} MB raw in {wall:.1} s wall, {cpu:.1} s Pharos CPU → {:.1} MB/s wall, {:.1} MB/s per core, {:.0} docs/s wall",
        mb,
        mb / wall,
        mb / cpu,
        o.docs as f64 / wall
    );

    let client = reqwest::Client::new();
    let waited = Instant::now();
    loop {
        let n = count(&client, &server.base).await;
        if n >= o.docs {
            assert_eq!(n, o.docs, "more documents searchable than sent");
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(120), "only {n} of {} documents searchable after 120 s", o.docs);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("searchable: all {} after {:.1} s", o.docs, waited.elapsed().as_secs_f64());
    let logs_dir = server.data_dir().join("logs");
    let size = dir_size(&logs_dir);
    println!("disk: {:.1} MB = {:.3} of raw (at searchable)", size as f64 / 1e6, size as f64 / raw as f64);
    if o.settle > 0 {
        tokio::time::sleep(Duration::from_secs(o.settle)).await;
        let size = dir_size(&logs_dir);
        println!(
            "disk: {:.1} MB = {:.3} of raw (after {} s of merging)",
            size as f64 / 1e6,
            size as f64 / raw as f64,
            o.settle
        );
    }

    println!();
    println!("| query | p50 ms | p99 ms | hits.total |");
    println!("|---|---|---|---|");
    for query in queries(start_ms) {
        let url = format!("{}/elastic/{INDEX}/_search", server.base);
        let (status, text) = post_json(&client, &url, query.body.clone(), "application/json").await;
        assert_eq!(status, 200, "{}: {text}", query.name);
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Err(e) = (query.check)(&answer) {
            panic!("{}: wrong answer: {e}\n{}", query.name, &text[..text.len().min(2000)]);
        }
        let mut times = Vec::with_capacity(o.runs);
        for _ in 0..o.runs {
            let t = Instant::now();
            let (status, _) = post_json(&client, &url, query.body.clone(), "application/json").await;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(status, 200);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {} | {:.1} | {:.1} | {} |",
            query.name,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            answer["hits"]["total"]["value"]
        );
    }
    assert!(server.alive(), "Pharos exited during the benchmark");
    if o.hold > 0 {
        println!("holding {} s: {}", o.hold, server.base);
        tokio::time::sleep(Duration::from_secs(o.hold)).await;
    }
}
