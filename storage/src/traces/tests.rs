//! Trace store tests: the span codec through the store, corruption, trace-by-id across buckets,
//! search through every index against a brute-force answer, the catalogue and its caps, retention,
//! reopen, concurrent appends, and a real process killed with SIGKILL.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bucket::{DAY_NANOS, day_of, day_start};
use super::catalogue::{MAX_TAG_NAMES_PER_SCOPE, MAX_TAG_VALUES_PER_KEY};
use super::codec;
use super::keys::{RESOURCE, SCOPE, key_hex};
use super::span_search::{Plan, plan};
use super::store::now_nanos;
use super::*;

/// 2024-01-01T00:00:00Z.
const BASE: u64 = 1_704_067_200_000_000_000;

/// No retention, no maintenance thread, no fsync: tests control everything.
fn options() -> TraceStoreOptions {
    TraceStoreOptions {
        retention: Duration::ZERO,
        fsync: false,
        maintenance_interval: Duration::ZERO,
        block_cache_bytes: 8 << 20,
        ..TraceStoreOptions::default()
    }
}

/// SplitMix64: deterministic test data.
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

fn trace_id(n: u64) -> TraceId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1).to_be_bytes());
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

fn resource(service: &str, host: &str) -> Arc<Resource> {
    Arc::new(Resource {
        attributes: vec![
            KeyValue::string("service.name", service),
            KeyValue::string("host.name", host),
            KeyValue::string("deployment.environment", "prod"),
        ],
        dropped_attributes_count: 0,
        schema_url: String::new(),
    })
}

fn scope() -> Arc<Scope> {
    Arc::new(Scope { name: "io.opentelemetry.test".into(), version: "1.0".into(), ..Scope::default() })
}

fn span(resource: &Arc<Resource>, trace: TraceId, span_no: u64, start: u64, name: &str) -> Span {
    Span {
        resource: resource.clone(),
        scope: scope(),
        trace_id: trace,
        span_id: (span_no + 1).to_be_bytes(),
        name: name.into(),
        kind: SpanKind::Server,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1000,
        ..Span::default()
    }
}

const SERVICES: [&str; 4] = ["auth", "cart", "checkout", "payment"];
const NAMES: [&str; 5] = ["GET /a", "GET /b", "POST /pay", "SELECT", "auth.check"];
const KINDS: [SpanKind; 5] =
    [SpanKind::Server, SpanKind::Client, SpanKind::Internal, SpanKind::Producer, SpanKind::Consumer];

/// 120 traces of 6 spans over two days (2024-01-01 and -02), four services on three hosts;
/// the last two spans of a trace share a start time (ties).
fn corpus() -> Vec<Span> {
    let mut rng = Rng(42);
    let resources: Vec<Arc<Resource>> =
        SERVICES.iter().enumerate().map(|(i, s)| resource(s, &format!("host-{}", i % 3))).collect();
    let mut spans = Vec::new();
    for t in 0..120u64 {
        let id = trace_id(t);
        let base = BASE + t * (2 * DAY_NANOS / 120) + rng.below(1_000_000);
        for j in 0..6u64 {
            let r = &resources[((t + j) % 4) as usize];
            let start = base + j.min(4) * 1000;
            let mut s = span(r, id, j, start, NAMES[((t * 7 + j) % 5) as usize]);
            s.kind = KINDS[(j % 5) as usize];
            s.parent_span_id = (j > 0).then(|| 1u64.to_be_bytes());
            let duration = match rng.below(10) {
                0 => 0,
                1 => rng.below(2000),
                _ => rng.below(5_000_000_000),
            };
            s.end_time_unix_nano = start + duration;
            if rng.below(7) == 0 {
                s.status = Status { code: StatusCode::Error, message: "boom".into() };
            }
            s.attributes = vec![
                KeyValue::string("http.method", if rng.below(3) == 0 { "POST" } else { "GET" }),
                KeyValue::new("http.status_code", AttributeValue::Int([200, 404, 500][rng.below(3) as usize])),
                KeyValue::string("user.id", format!("u{}", rng.below(20))),
                KeyValue::new("cached", AttributeValue::Bool(rng.below(2) == 0)),
            ];
            match rng.below(10) {
                // Shadows the resource's host.name for this span.
                0 => s.attributes.push(KeyValue::string("host.name", "host-override")),
                // Repeats it: the span is found through both its attribute and its resource.
                1 => s.attributes.push(KeyValue::string("host.name", format!("host-{}", ((t + j) % 4) % 3))),
                _ => {}
            }
            spans.push(s);
        }
    }
    spans
}

/// What a search must return: the spans meeting every condition, newest first, ties by trace id
/// then span id — computed by brute force.
fn expected(spans: &[Span], q: &SpanQuery) -> Vec<(u64, TraceId, SpanId)> {
    let mut out: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            let start = s.start_time_unix_nano as i128;
            (q.range.start_nanos as i128) <= start
                && start <= q.range.end_nanos as i128
                && q.service.as_ref().is_none_or(|v| v == s.service_name())
                && q.span_name.as_ref().is_none_or(|v| *v == s.name)
                && q.kind.is_none_or(|k| k == s.kind)
                && q.min_duration_nanos.is_none_or(|d| s.duration_nanos() >= d)
                && q.max_duration_nanos.is_none_or(|d| s.duration_nanos() <= d)
                && (!q.error_only || s.status.code == StatusCode::Error)
                && q.attributes.iter().all(|(k, v)| {
                    let value = s
                        .attributes
                        .iter()
                        .find(|kv| kv.key == *k)
                        .or_else(|| s.resource.attributes.iter().find(|kv| kv.key == *k))
                        .map(|kv| kv.value.to_string());
                    value.as_deref() == Some(v.as_str())
                })
        })
        .collect();
    out.sort_by(|a, b| {
        b.start_time_unix_nano
            .cmp(&a.start_time_unix_nano)
            .then(a.trace_id.cmp(&b.trace_id))
            .then(a.span_id.cmp(&b.span_id))
    });
    out.iter().map(|s| (s.start_time_unix_nano, s.trace_id, s.span_id)).collect()
}

fn search_all(store: &TraceStore, q: &SpanQuery) -> (Vec<(u64, TraceId, SpanId)>, SearchStats) {
    let mut out = Vec::new();
    let stats = store
        .search(q, &mut |s| {
            out.push((s.start_time_unix_nano, s.trace_id, s.span_id));
            ControlFlow::Continue(())
        })
        .unwrap();
    (out, stats)
}

fn loaded(dir: &Path) -> (TraceStore, Vec<Span>) {
    let store = TraceStore::open(dir, options()).unwrap();
    let spans = corpus();
    // Interleaved batches: posting groups of different batches overlap in time.
    for k in 0..7 {
        let batch: Vec<Span> = spans.iter().skip(k).step_by(7).cloned().collect();
        for chunk in batch.chunks(40) {
            store.append(chunk).unwrap();
        }
    }
    (store, spans)
}

/// A span with every field set, every attribute value type, events, links, status, flags.
fn full_span() -> Span {
    let all_values = vec![
        KeyValue::new("empty", AttributeValue::Empty),
        KeyValue::string("string", "ünïcødé"),
        KeyValue::new("true", AttributeValue::Bool(true)),
        KeyValue::new("false", AttributeValue::Bool(false)),
        KeyValue::new("int", AttributeValue::Int(i64::MIN)),
        KeyValue::new("double", AttributeValue::Double(-1.5e300)),
        KeyValue::new("bytes", AttributeValue::Bytes(vec![0, 1, 255])),
        KeyValue::new(
            "array",
            AttributeValue::Array(vec![
                AttributeValue::Int(1),
                AttributeValue::String("x".into()),
                AttributeValue::Empty,
            ]),
        ),
        KeyValue::new(
            "kvlist",
            AttributeValue::KeyValueList(vec![
                KeyValue::new("nested", AttributeValue::Array(vec![AttributeValue::Double(0.25)])),
                KeyValue::string("s", ""),
            ]),
        ),
    ];
    Span {
        resource: Arc::new(Resource {
            attributes: {
                let mut a = vec![KeyValue::string("service.name", "full")];
                a.extend(all_values.clone());
                a
            },
            dropped_attributes_count: 3,
            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
        }),
        scope: Arc::new(Scope {
            name: "lib".into(),
            version: "2.0".into(),
            attributes: vec![KeyValue::new("scope.attr", AttributeValue::Int(7))],
            dropped_attributes_count: 1,
            schema_url: "https://example/scope".into(),
        }),
        trace_id: [0xab; 16],
        span_id: [0xcd; 8],
        parent_span_id: Some([0xef; 8]),
        trace_state: "vendor=1,other=2".into(),
        flags: 0x301,
        name: "the span".into(),
        kind: SpanKind::Consumer,
        start_time_unix_nano: BASE + 123,
        // Ends before it starts: stored as is.
        end_time_unix_nano: BASE + 100,
        attributes: all_values.clone(),
        dropped_attributes_count: 4,
        events: vec![
            Event {
                time_unix_nano: BASE + 200,
                name: "exception".into(),
                attributes: all_values.clone(),
                dropped_attributes_count: 5,
            },
            Event { time_unix_nano: 0, name: String::new(), attributes: vec![], dropped_attributes_count: 0 },
        ],
        dropped_events_count: 6,
        links: vec![Link {
            trace_id: [1; 16],
            span_id: [2; 8],
            trace_state: "a=b".into(),
            attributes: all_values,
            dropped_attributes_count: 7,
            flags: 0x100,
        }],
        dropped_links_count: 8,
        status: Status { code: StatusCode::Error, message: "failed: ✗".into() },
    }
}

#[test]
fn the_store_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<TraceStore>();
    shared::<TraceError>();
}

#[test]
fn the_span_codec_round_trips_every_field() {
    let span = full_span();
    let mut value = Vec::new();
    codec::encode_span(&span, 11, 22, &mut value);
    assert_eq!(value[0], codec::FORMAT_VERSION);
    assert_eq!(codec::span_references(&value), Ok((11, 22)));
    let back = codec::decode_span(
        &value,
        span.trace_id,
        span.start_time_unix_nano,
        span.span_id,
        span.resource.clone(),
        span.scope.clone(),
    )
    .unwrap();
    assert_eq!(back, span);
    let mut bytes = Vec::new();
    codec::encode_resource(&span.resource, &mut bytes);
    assert_eq!(codec::decode_resource(&bytes).as_ref(), Ok(span.resource.as_ref()));
    bytes.clear();
    codec::encode_scope(&span.scope, &mut bytes);
    assert_eq!(codec::decode_scope(&bytes).as_ref(), Ok(span.scope.as_ref()));
    // Every strict prefix of a value fails to decode instead of panicking.
    for len in 0..value.len() {
        assert!(
            codec::decode_span(
                &value[..len],
                span.trace_id,
                0,
                span.span_id,
                span.resource.clone(),
                span.scope.clone()
            )
            .is_err(),
            "prefix of {len} bytes decoded"
        );
    }
}

fn count_keys(store: &TraceStore, day: u32, first: u8) -> usize {
    let inner = store.inner();
    let bucket = inner.buckets_overlapping(&TimeRange::ALL).into_iter().find(|b| b.day == day).unwrap();
    let cf = inner.db.cf_handle(&bucket.index_cf).unwrap();
    let mut it = inner.db.raw_iterator_cf(&cf);
    it.seek([first]);
    let mut n = 0;
    while let Some(key) = it.key() {
        if key[0] != first {
            break;
        }
        n += 1;
        it.next();
    }
    n
}

#[test]
fn spans_round_trip_through_the_store_with_resources_and_scopes_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = TraceStore::open(dir.path(), options()).unwrap();
    let full = full_span();
    // Equal resources and scopes behind different Arcs, and one different resource.
    let mut twin = full_span();
    twin.span_id = [0xce; 8];
    twin.start_time_unix_nano += 1;
    let mut other = full_span();
    other.span_id = [0xcf; 8];
    other.start_time_unix_nano += 2;
    other.resource = resource("other", "h");
    store.append(&[full.clone(), twin.clone()]).unwrap();
    store.append(std::slice::from_ref(&other)).unwrap();

    let got = store.trace(&full.trace_id, TimeRange::ALL).unwrap();
    assert_eq!(got, vec![full.clone(), twin.clone(), other.clone()]);
    let day = day_of(full.start_time_unix_nano);
    assert_eq!(count_keys(&store, day, RESOURCE), 2, "one resource value per distinct resource");
    assert_eq!(count_keys(&store, day, SCOPE), 1, "one scope value per distinct scope");
    assert!(Arc::ptr_eq(&got[0].resource, &got[1].resource), "decoded resources are cached and shared");

    drop(store);
    let store = TraceStore::open(dir.path(), options()).unwrap();
    assert_eq!(store.trace(&full.trace_id, TimeRange::ALL).unwrap(), vec![full, twin, other]);
}

#[test]
fn a_span_appended_twice_is_stored_and_found_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = TraceStore::open(dir.path(), options()).unwrap();
    let r = resource("svc", "h");
    let mut s = span(&r, trace_id(1), 0, BASE + 10, "op");
    s.attributes = vec![KeyValue::string("http.method", "GET")];
    let other = span(&r, trace_id(2), 0, BASE + 5, "op");
    store.append(&[s.clone(), other.clone()]).unwrap();
    store.append(std::slice::from_ref(&s)).unwrap(); // an exporter's retry
    assert_eq!(store.trace(&s.trace_id, TimeRange::ALL).unwrap(), vec![s.clone()]);
    for q in [
        query(TimeRange::ALL),
        SpanQuery { service: Some("svc".into()), ..query(TimeRange::ALL) },
        SpanQuery { attributes: vec![("http.method".into(), "GET".into())], ..query(TimeRange::ALL) },
    ] {
        let (got, _) = search_all(&store, &q);
        let want: Vec<_> = [&s, &other]
            .iter()
            .filter(|x| q.attributes.is_empty() || !x.attributes.is_empty())
            .map(|x| (x.start_time_unix_nano, x.trace_id, x.span_id))
            .collect();
        assert_eq!(got, want, "{q:?}");
    }
    // The catalogue counts appends, not distinct spans.
    assert_eq!(store.stats().spans, 3);
}

/// The first key (and its value) of a column family of the only bucket that starts with `first`.
fn first_key(store: &TraceStore, spans: bool, first: u8) -> (Vec<u8>, Vec<u8>) {
    let inner = store.inner();
    let bucket = inner.buckets_overlapping(&TimeRange::ALL).pop().unwrap();
    let cf = inner.db.cf_handle(if spans { &bucket.spans_cf } else { &bucket.index_cf }).unwrap();
    // A whole-order walk: the spans families hash their memtable on the 16-byte trace-id prefix,
    // which a shorter seek key does not have.
    let mut read = rocksdb::ReadOptions::default();
    read.set_total_order_seek(true);
    let mut it = inner.db.raw_iterator_cf_opt(&cf, read);
    let mut seek = [0u8; 16];
    seek[0] = first;
    it.seek(seek);
    let (k, v) = it.item().unwrap();
    assert_eq!(k[0], first);
    (k.to_vec(), v.to_vec())
}

fn put(store: &TraceStore, spans: bool, key: &[u8], value: &[u8]) {
    let inner = store.inner();
    let bucket = inner.buckets_overlapping(&TimeRange::ALL).pop().unwrap();
    let cf = inner.db.cf_handle(if spans { &bucket.spans_cf } else { &bucket.index_cf }).unwrap();
    inner.db.put_cf(&cf, key, value).unwrap();
}

#[test]
fn corrupt_values_are_reported_naming_the_key_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = TraceStore::open(dir.path(), options()).unwrap();
    let r = resource("svc", "h");
    let good = span(&r, trace_id(1), 0, BASE + 10, "op");
    store.append(std::slice::from_ref(&good)).unwrap();
    let (key, valid) = first_key(&store, true, good.trace_id[0]);

    // A chunk whose span refers to a resource that is not there.
    let first_start = good.start_time_unix_nano;
    let mut entries = codec::decode_chunk(&valid, first_start).unwrap();
    let mut body = entries[0].body.to_vec();
    body[1..9].copy_from_slice(&42u64.to_le_bytes());
    entries[0].body = &body;
    let mut missing_resource = Vec::new();
    codec::encode_chunk(&entries, &mut missing_resource);
    let mut bad_span = valid.clone();
    let last = bad_span.len() - 1;
    bad_span[last] = 0xff; // the status message's length
    for (what, bad) in [
        ("unknown version", vec![9u8, 1, 2]),
        ("truncated", valid[..valid.len() - 2].to_vec()),
        ("trailing bytes", [valid.as_slice(), &[0]].concat()),
        ("bad span", bad_span),
        ("missing resource", missing_resource),
    ] {
        put(&store, true, &key, &bad);
        match store.trace(&good.trace_id, TimeRange::ALL) {
            Err(TraceError::Corrupt { key: k, bucket: b, .. }) => {
                assert_eq!(b, "2024-01-01", "{what}");
                if what != "missing resource" {
                    assert_eq!(k, key_hex(&key), "{what}");
                }
            }
            other => panic!("{what}: expected Corrupt, got {other:?}"),
        }
        let result = store.search(&SpanQuery::in_range(TimeRange::ALL), &mut |_| ControlFlow::Continue(()));
        assert!(matches!(result, Err(TraceError::Corrupt { .. })), "{what}: search gave {result:?}");
    }
    put(&store, true, &key, &valid);
    assert_eq!(store.trace(&good.trace_id, TimeRange::ALL).unwrap(), vec![good.clone()]);

    // A damaged posting group.
    let (group_key, group) = first_key(&store, false, b't');
    put(&store, false, &group_key, &group[..group.len() - 1]);
    match store.search(&SpanQuery::in_range(TimeRange::ALL), &mut |_| ControlFlow::Continue(())) {
        Err(TraceError::Corrupt { key, .. }) => assert_eq!(key, key_hex(&group_key)),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    put(&store, false, &group_key, &group);
    let (found, _) = search_all(&store, &SpanQuery::in_range(TimeRange::ALL));
    assert_eq!(found.len(), 1);
}

#[test]
fn trace_by_id_spans_two_buckets_and_respects_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = TraceStore::open(dir.path(), options()).unwrap();
    let r = resource("svc", "h");
    let id = trace_id(7);
    let late = span(&r, id, 0, BASE + DAY_NANOS - 5, "late"); // 2024-01-01 23:59:59.999999995
    let early = span(&r, id, 1, BASE + DAY_NANOS + 5, "early"); // 2024-01-02 00:00:00.000000005
    let unrelated = span(&r, trace_id(8), 0, BASE + 1, "other");
    store.append(&[early.clone(), unrelated, late.clone()]).unwrap();
    assert_eq!(store.stats().buckets, 2);

    assert_eq!(store.trace(&id, TimeRange::ALL).unwrap(), vec![late.clone(), early.clone()]);
    // Whole buckets overlapping the range: a range within the first day returns its span only.
    let first_day = TimeRange::new(BASE as i64, BASE as i64 + 10);
    assert_eq!(store.trace(&id, first_day).unwrap(), vec![late]);
    let second_day = TimeRange::new((BASE + DAY_NANOS) as i64, i64::MAX);
    assert_eq!(store.trace(&id, second_day).unwrap(), vec![early]);
    assert!(store.trace(&trace_id(9), TimeRange::ALL).unwrap().is_empty());
    assert!(store.trace(&id, TimeRange::new(0, 1)).unwrap().is_empty());
}

fn query(range: TimeRange) -> SpanQuery {
    SpanQuery::in_range(range)
}

fn plan_name(store: &TraceStore, day: u32, q: &SpanQuery) -> &'static str {
    let bucket = store.inner().buckets_overlapping(&TimeRange::ALL).into_iter().find(|b| b.day == day).unwrap();
    match plan(&bucket, q) {
        Plan::Skip => "skip",
        Plan::Read { index, .. } => index,
    }
}

#[test]
fn search_uses_every_index_and_matches_brute_force_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (store, spans) = loaded(dir.path());
    let day0 = day_of(BASE);
    let all = TimeRange::ALL;
    let with = |f: &dyn Fn(&mut SpanQuery)| {
        let mut q = query(all);
        f(&mut q);
        q
    };
    let cases: Vec<(&str, SpanQuery)> = vec![
        ("time", query(all)),
        ("time", query(TimeRange::new((BASE + DAY_NANOS / 3) as i64, (BASE + DAY_NANOS + DAY_NANOS / 5) as i64))),
        ("service", with(&|q| q.service = Some("checkout".into()))),
        (
            "service+name",
            with(&|q| {
                q.service = Some("checkout".into());
                q.span_name = Some("GET /a".into());
            }),
        ),
        (
            "service+name",
            with(&|q| {
                q.service = Some("cart".into());
                q.span_name = Some("SELECT".into());
                q.kind = Some(SpanKind::Client);
            }),
        ),
        (
            "errors",
            with(&|q| {
                q.service = Some("payment".into());
                q.error_only = true;
            }),
        ),
        (
            "duration",
            with(&|q| {
                q.service = Some("cart".into());
                q.max_duration_nanos = Some(1500);
            }),
        ),
        (
            "duration",
            with(&|q| {
                q.service = Some("auth".into());
                q.min_duration_nanos = Some(200);
                q.max_duration_nanos = Some(900);
            }),
        ),
        ("attribute", with(&|q| q.attributes = vec![("http.status_code".into(), "500".into())])),
        ("attribute", with(&|q| q.attributes = vec![("host.name".into(), "host-2".into())])),
        ("attribute", with(&|q| q.attributes = vec![("host.name".into(), "host-override".into())])),
        (
            "attribute",
            with(&|q| {
                q.service = Some("auth".into());
                q.attributes = vec![("host.name".into(), "host-override".into())];
            }),
        ),
        (
            "service",
            with(&|q| {
                q.service = Some("checkout".into());
                q.attributes = vec![("user.id".into(), "u5".into()), ("cached".into(), "true".into())];
            }),
        ),
        (
            "service+name",
            with(&|q| {
                q.range = TimeRange::new(BASE as i64, (BASE + DAY_NANOS + DAY_NANOS / 2) as i64);
                q.service = Some("payment".into());
                q.span_name = Some("POST /pay".into());
                q.kind = Some(SpanKind::Server);
                q.attributes =
                    vec![("http.method".into(), "GET".into()), ("deployment.environment".into(), "prod".into())];
                q.min_duration_nanos = Some(1);
                q.max_duration_nanos = Some(4_000_000_000);
                q.error_only = false;
            }),
        ),
        ("attribute", with(&|q| q.attributes = vec![("http.method".into(), "DELETE".into())])),
        ("skip", with(&|q| q.service = Some("nobody".into()))),
        ("skip", with(&|q| q.attributes = vec![("rpc.method".into(), "x".into())])),
        (
            "skip",
            with(&|q| {
                q.service = Some("cart".into());
                q.span_name = Some("no such operation".into());
            }),
        ),
    ];
    let mut nonempty = 0;
    for (index, q) in &cases {
        assert_eq!(plan_name(&store, day0, q), *index, "index chosen for {q:?}");
        let want = expected(&spans, q);
        let (got, stats) = search_all(&store, q);
        assert_eq!(got, want, "results of {q:?}");
        assert!(stats.inspected_spans >= got.len() as u64);
        if !want.is_empty() {
            nonempty += 1;
            assert!(stats.inspected_bytes > 0);
        }
    }
    assert!(nonempty >= 12, "the cases must mostly find something ({nonempty})");
    // Selective indexes read few spans: the error index reads only error spans of the service.
    let errors = cases.iter().find(|(i, _)| *i == "errors").unwrap();
    let (got, stats) = search_all(&store, &errors.1);
    assert_eq!(stats.inspected_spans, got.len() as u64);
    // Impossible duration bounds and empty ranges find nothing.
    let q = with(&|q| {
        q.min_duration_nanos = Some(10);
        q.max_duration_nanos = Some(5);
    });
    assert!(search_all(&store, &q).0.is_empty());
    assert!(search_all(&store, &query(TimeRange::new(10, 5))).0.is_empty());
    assert!(search_all(&store, &query(TimeRange::new(i64::MIN, -1))).0.is_empty());
}

#[test]
fn attribute_values_sharing_a_partition_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = TraceStore::open(dir.path(), options()).unwrap();
    let r = resource("svc", "h");
    // 64 values in 16 partitions: some share one. Span attributes and resource attributes both.
    let spans: Vec<Span> = (0..192u64)
        .map(|i| {
            let resource = resource("svc", &format!("host-{}", i % 64));
            let mut s = span(if i % 2 == 0 { &r } else { &resource }, trace_id(i), 0, BASE + i, "op");
            s.attributes = vec![KeyValue::string("http.route", format!("/r/{}", i % 64))];
            s
        })
        .collect();
    store.append(&spans).unwrap();
    let partitions: BTreeSet<u8> =
        (0..64).map(|v| super::keys::attribute_partition(super::keys::value_crc(&format!("/r/{v}")))).collect();
    assert!(partitions.len() < 64, "some values share a partition");
    for v in [0, 1, 17, 63] {
        for (key, value) in [("http.route", format!("/r/{v}")), ("host.name", format!("host-{v}"))] {
            let q = SpanQuery { attributes: vec![(key.into(), value.clone())], ..query(TimeRange::ALL) };
            let want = expected(&spans, &q);
            // Only odd values name resources' hosts: host-0 is on no resource and no span.
            let plan = if want.is_empty() { "skip" } else { "attribute" };
            assert_eq!(plan_name(&store, day_of(BASE), &q), plan, "{key}={value}");
            assert_eq!(search_all(&store, &q).0, want, "{key}={value}");
            assert_eq!(want.is_empty(), key == "host.name" && v % 2 == 0);
        }
    }
}

#[test]
fn break_stops_the_search_after_the_newest_spans() {
    let dir = tempfile::tempdir().unwrap();
    let (store, spans) = loaded(dir.path());
    for q in [query(TimeRange::ALL), {
        let mut q = query(TimeRange::ALL);
        q.service = Some("cart".into());
        q.max_duration_nanos = Some(3_000_000_000);
        q
    }] {
        let want = expected(&spans, &q);
        let mut got = Vec::new();
        let stats = store
            .search(&q, &mut |s| {
                got.push((s.start_time_unix_nano, s.trace_id, s.span_id));
                if got.len() == 7 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .unwrap();
        assert_eq!(got, want[..7].to_vec());
        assert!(stats.inspected_spans < want.len() as u64, "the search stopped early");
    }
}

fn catalogue_snapshot(store: &TraceStore) -> Vec<String> {
    let all = TimeRange::ALL;
    let mut out = vec![format!("services {:?}", store.services(all))];
    for s in store.services(all) {
        out.push(format!("operations {s} {:?}", store.operations(&s, all)));
    }
    for scope in [TagScope::Resource, TagScope::Span] {
        let names = store.tag_names(scope, all);
        out.push(format!("names {scope:?} {names:?}"));
        for n in names {
            out.push(format!("values {scope:?} {n} {:?}", store.tag_values(scope, &n, all, 1000)));
        }
    }
    out
}

#[test]
fn the_catalogue_lists_what_was_stored_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (store, spans) = loaded(dir.path());
    let all = TimeRange::ALL;
    assert_eq!(store.services(all), SERVICES.to_vec());
    let ops: BTreeSet<Operation> = spans
        .iter()
        .filter(|s| s.service_name() == "checkout")
        .map(|s| Operation { name: s.name.clone(), kind: s.kind })
        .collect();
    assert_eq!(store.operations("checkout", all), ops.into_iter().collect::<Vec<_>>());
    assert!(store.operations("nobody", all).is_empty());
    assert_eq!(store.tag_names(TagScope::Resource, all), ["deployment.environment", "host.name", "service.name"]);
    assert_eq!(
        store.tag_names(TagScope::Span, all),
        ["cached", "host.name", "http.method", "http.status_code", "user.id"]
    );
    assert_eq!(
        store.tag_values(TagScope::Span, "http.status_code", all, 10),
        [AttributeValue::Int(200), AttributeValue::Int(404), AttributeValue::Int(500)]
    );
    assert_eq!(
        store.tag_values(TagScope::Resource, "host.name", all, 2),
        [AttributeValue::String("host-0".into()), AttributeValue::String("host-1".into())]
    );
    // Per bucket: a range within the first day only sees its spans.
    let first_day = TimeRange::new(BASE as i64, BASE as i64 + 1);
    let day0_services: BTreeSet<&str> =
        spans.iter().filter(|s| s.start_time_unix_nano < BASE + DAY_NANOS).map(|s| s.service_name()).collect();
    assert_eq!(store.services(first_day), day0_services.into_iter().collect::<Vec<_>>());
    assert!(store.services(TimeRange::new(0, 1)).is_empty());
    assert_eq!(store.stats().spans, spans.len() as u64);

    let before = catalogue_snapshot(&store);
    drop(store);
    let store = TraceStore::open(dir.path(), options()).unwrap();
    assert_eq!(catalogue_snapshot(&store), before);
    assert_eq!(store.stats().spans, spans.len() as u64);
}

#[test]
fn tag_names_and_values_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = TraceStore::open(dir.path(), options()).unwrap();
    let r = resource("svc", "h");
    let spans: Vec<Span> = (0..1100u64)
        .map(|i| {
            let mut s = span(&r, trace_id(i), 0, BASE + i, "op");
            s.attributes = vec![
                KeyValue::string("k", format!("v{:04}", i % 300)),
                KeyValue::string("long", "x".repeat(257)),
                KeyValue::new("bin", AttributeValue::Bytes(vec![1])),
                KeyValue::new(format!("key{i:04}"), AttributeValue::Int(1)),
            ];
            s
        })
        .collect();
    for chunk in spans.chunks(32) {
        store.append(chunk).unwrap();
    }
    let all = TimeRange::ALL;
    let check = |store: &TraceStore| {
        let names = store.tag_names(TagScope::Span, all);
        assert_eq!(names.len(), MAX_TAG_NAMES_PER_SCOPE);
        assert!(names.contains(&"k".to_string()) && names.contains(&"long".to_string()));
        let values = store.tag_values(TagScope::Span, "k", all, 10_000);
        assert_eq!(values.len(), MAX_TAG_VALUES_PER_KEY);
        // The first values seen are the ones kept (batches of 32 arrive in order).
        let want: Vec<AttributeValue> =
            (0..MAX_TAG_VALUES_PER_KEY).map(|i| AttributeValue::String(format!("v{i:04}"))).collect();
        assert_eq!(values, want);
        assert_eq!(store.tag_values(TagScope::Span, "k", all, 3), want[..3].to_vec());
        assert!(store.tag_values(TagScope::Span, "long", all, 10).is_empty(), "strings over 256 bytes are not kept");
        assert!(store.tag_values(TagScope::Span, "bin", all, 10).is_empty(), "bytes are not kept");
        names
    };
    let names = check(&store);
    // Values past the cap are stored and searchable all the same.
    let mut q = query(all);
    q.attributes = vec![("k".into(), "v0299".into())];
    assert_eq!(search_all(&store, &q).0.len(), 3);
    drop(store);
    let store = TraceStore::open(dir.path(), options()).unwrap();
    assert_eq!(check(&store), names);
}

#[test]
fn retention_drops_old_buckets_and_keeps_new_ones_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_nanos();
    let day_ns = DAY_NANOS as i64;
    let r = resource("svc", "h");
    let at = |n: u64, ago: i64| span(&r, trace_id(n), 0, (now - ago) as u64, "op");
    let old = at(1, 20 * day_ns);
    let recent = at(2, 10 * day_ns);
    let fresh = at(3, day_ns / 24);
    {
        let store = TraceStore::open(dir.path(), options()).unwrap();
        store.append(&[old.clone(), recent.clone(), fresh.clone()]).unwrap();
        assert_eq!(store.stats().buckets, 3);
        assert!(store.enforce_retention(now).unwrap().is_empty(), "retention zero keeps everything");
    }
    let retained = TraceStoreOptions { retention: Duration::from_secs(14 * 86_400), ..options() };
    // Opening with a retention enforces it before serving anything.
    let store = TraceStore::open(dir.path(), retained.clone()).unwrap();
    assert!(store.enforce_retention(now).unwrap().is_empty(), "open already dropped the old day");
    assert!(store.trace(&old.trace_id, TimeRange::ALL).unwrap().is_empty());
    assert_eq!(store.stats().buckets, 2);
    // Spans already past retention are not stored.
    store.append(&[at(4, 30 * day_ns), at(5, 0)]).unwrap();
    assert_eq!(store.stats().spans_dropped_past_retention, 1);
    assert!(store.trace(&trace_id(4), TimeRange::ALL).unwrap().is_empty());
    drop(store);

    let store = TraceStore::open(dir.path(), retained).unwrap();
    let kept: BTreeSet<u32> = [recent.start_time_unix_nano, fresh.start_time_unix_nano, now as u64].map(day_of).into();
    assert_eq!(store.stats().buckets, kept.len(), "a dropped bucket stays dropped");
    assert!(store.trace(&old.trace_id, TimeRange::ALL).unwrap().is_empty());
    assert_eq!(store.trace(&recent.trace_id, TimeRange::ALL).unwrap(), vec![recent.clone()]);
    assert_eq!(store.trace(&fresh.trace_id, TimeRange::ALL).unwrap(), vec![fresh]);
    assert_eq!(store.stats().spans, 3);
    // A later horizon drops the next bucket.
    let dropped = store.enforce_retention(now + 5 * day_ns).unwrap();
    assert_eq!(dropped, vec![day_start(day_of(recent.start_time_unix_nano))]);
}

#[test]
fn the_maintenance_thread_applies_retention() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_nanos();
    let r = resource("svc", "h");
    {
        let store = TraceStore::open(dir.path(), options()).unwrap();
        store.append(&[span(&r, trace_id(1), 0, (now - 3 * DAY_NANOS as i64) as u64, "op")]).unwrap();
    }
    let store = TraceStore::open(
        dir.path(),
        TraceStoreOptions {
            retention: Duration::from_secs(86_400),
            maintenance_interval: Duration::from_millis(20),
            ..options()
        },
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.stats().buckets > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(store.stats().buckets, 0);
}

#[test]
fn an_interrupted_bucket_drop_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let r = resource("svc", "h");
    {
        let store = TraceStore::open(dir.path(), options()).unwrap();
        store.append(&[span(&r, trace_id(1), 0, BASE, "a"), span(&r, trace_id(2), 0, BASE + DAY_NANOS, "b")]).unwrap();
        let inner = store.inner();
        let first = inner.buckets_overlapping(&TimeRange::ALL).remove(0);
        // A crash after the first of the two drops.
        inner.db.drop_cf(&first.spans_cf).unwrap();
    }
    let store = TraceStore::open(dir.path(), options()).unwrap();
    assert_eq!(store.stats().buckets, 1);
    assert_eq!(store.services(TimeRange::ALL), ["svc"]);
    assert_eq!(store.operations("svc", TimeRange::ALL), [Operation { name: "b".into(), kind: SpanKind::Server }]);
    drop(store);
    let mut names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    names.sort();
    assert_eq!(names, ["default", "index.2024-01-02", "spans.2024-01-02"]);
}

#[test]
fn a_bucket_keeps_the_indexed_keys_it_was_created_with() {
    let dir = tempfile::tempdir().unwrap();
    let r = resource("svc", "h");
    let mut s = span(&r, trace_id(1), 0, BASE, "a");
    s.attributes = vec![KeyValue::string("team", "blue")];
    let first = TraceStoreOptions { indexed_attributes: vec!["color".into()], ..options() };
    TraceStore::open(dir.path(), first).unwrap().append(std::slice::from_ref(&s)).unwrap();
    let second = TraceStoreOptions { indexed_attributes: vec!["team".into()], ..options() };
    let store = TraceStore::open(dir.path(), second).unwrap();
    let mut also = s.clone();
    also.span_id = [9; 8];
    store.append(std::slice::from_ref(&also)).unwrap();
    let mut q = query(TimeRange::ALL);
    q.attributes = vec![("team".into(), "blue".into())];
    assert_eq!(plan_name(&store, day_of(BASE), &q), "time", "the old bucket has no team index");
    assert_eq!(search_all(&store, &q).0.len(), 2);
    // A new bucket uses the new set.
    let mut later = s.clone();
    later.start_time_unix_nano += DAY_NANOS;
    store.append(std::slice::from_ref(&later)).unwrap();
    assert_eq!(plan_name(&store, day_of(BASE) + 1, &q), "attribute");
    assert_eq!(search_all(&store, &q).0.len(), 3);
}

#[test]
fn concurrent_appends_are_all_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(TraceStore::open(dir.path(), TraceStoreOptions { fsync: true, ..options() }).unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let r = resource(&format!("svc{t}"), "h");
                for b in 0..10u64 {
                    let spans: Vec<Span> = (0..40u64)
                        .map(|i| span(&r, trace_id(t * 1000 + b * 10 + i / 4), i, BASE + b * 100 + i, "op"))
                        .collect();
                    store.append(&spans).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.stats().spans, 1600);
    assert_eq!(store.services(TimeRange::ALL), ["svc0", "svc1", "svc2", "svc3"]);
    for t in 0..4u64 {
        for n in 0..100u64 {
            assert_eq!(store.trace(&trace_id(t * 1000 + n), TimeRange::ALL).unwrap().len(), 4);
        }
    }
    store.flush().unwrap();
    let stats = store.stats();
    assert!(stats.sst_bytes > 0, "flushed to SST files: {stats:?}");
}

// ---------------------------------------------------------------------------------------------
// A real process crash.

const CHILD_ENV: &str = "PHAROS_TRACESTORE_CRASH_CHILD_DIR";
const CHILD_FSYNC_ENV: &str = "PHAROS_TRACESTORE_CRASH_CHILD_FSYNC";

/// Batch `n` of the crash test: 5 traces of 8 spans, all fields of the span derived from `n`.
fn crash_batch(n: u64) -> Vec<Span> {
    let r = resource(&format!("svc{}", n % 3), "h");
    (0..40u64)
        .map(|i| {
            let mut s = span(&r, trace_id(n * 100 + i / 8), i, BASE + n * 1_000_000 + i, &format!("op{}", i % 5));
            s.attributes = vec![KeyValue::new("batch", AttributeValue::Int(n as i64))];
            s
        })
        .collect()
}

/// The child half of [`a_killed_process_loses_no_acknowledged_span`]: appends batches forever,
/// printing `ACK <n> <trace id hex>…` once batch `n`'s append returned, until the parent kills it.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let fsync = std::env::var(CHILD_FSYNC_ENV).as_deref() == Ok("1");
    let store = TraceStore::open(Path::new(&dir), TraceStoreOptions { fsync, ..options() }).unwrap();
    let mut out = std::io::stdout().lock();
    for n in 0.. {
        let batch = crash_batch(n);
        store.append(&batch).unwrap();
        let ids: BTreeSet<String> = batch.iter().map(|s| trace_id_hex(&s.trace_id)).collect();
        writeln!(out, "ACK {n} {}", ids.into_iter().collect::<Vec<_>>().join(" ")).unwrap();
        out.flush().unwrap();
    }
}

fn crash_and_check(fsync: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "traces::tests::crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .env(CHILD_FSYNC_ENV, if fsync { "1" } else { "0" })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness prints `test traces::tests::crash_child ... ` without a newline before the first ACK.
    let ack = |line: &str| {
        line.find("ACK ").map(|at| {
            let mut fields = line[at + 4..].split_whitespace();
            let n = fields.next().unwrap().parse::<u64>().unwrap();
            (n, fields.map(|id| parse_trace_id(id).unwrap()).collect::<BTreeSet<TraceId>>())
        })
    };
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < 40 && Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        acked.extend(ack(&line));
    }
    child.kill().unwrap(); // SIGKILL, mid-append most likely
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must die by the signal");
    for line in lines.map_while(Result::ok) {
        acked.extend(ack(&line));
    }
    assert!(acked.len() >= 40, "the child acknowledged {} batches", acked.len());

    let store = TraceStore::open(dir.path(), options()).unwrap();
    let last = acked.last().unwrap().0;
    assert_eq!(acked.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (0..=last).collect::<Vec<_>>());
    for (n, ids) in &acked {
        let batch = crash_batch(*n);
        assert_eq!(ids.len(), 5, "batch {n} printed its five trace ids");
        for id in ids {
            let want: Vec<Span> = batch.iter().filter(|s| s.trace_id == *id).cloned().collect();
            assert_eq!(want.len(), 8, "the printed id {} belongs to batch {n}", trace_id_hex(id));
            assert_eq!(store.trace(id, TimeRange::ALL).unwrap(), want, "batch {n}");
        }
    }
    // The batch in flight at the kill is there entirely or not at all.
    let next = crash_batch(last + 1);
    let present = next.chunks(8).filter(|c| !store.trace(&c[0].trace_id, TimeRange::ALL).unwrap().is_empty()).count();
    assert!(present == 0 || present == 5, "a batch was half stored: {present} of 5 traces");
    let stored = store.stats().spans;
    assert!(stored == (last + 1) * 40 || stored == (last + 2) * 40, "catalogue counts {stored} spans");
}

#[test]
fn a_killed_process_loses_no_acknowledged_span() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    crash_and_check(false);
    crash_and_check(true);
}

// Pharos — storage/src/traces/tests.rs
