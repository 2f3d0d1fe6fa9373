//! Tests over real tantivy indexes in RAM: three one-hour partitions of ten documents each (two
//! segments per partition), three indices.

#![allow(clippy::manual_is_multiple_of)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tantivy::{Index, IndexWriter};

use super::error::EsError;
use super::{ElasticState, LogSchema, LogSnapshots, Params, PartitionSnapshot};
use pharos_storage::logs::{LogDocument, LogRecord};

/// 2024-01-01T00:00:00Z in nanoseconds.
pub const T0: i64 = 1_704_067_200_000_000_000;
pub const MINUTE: i64 = 60_000_000_000;
pub const HOUR: i64 = 60 * MINUTE;

pub struct Doc {
    pub i: usize,
    pub index: &'static str,
    pub ts: i64,
    pub source: Value,
}

/// Document `i`: index, time and fields all derived from `i`.
pub fn doc(i: usize) -> Doc {
    let index = if i % 5 == 4 {
        "logs-debug"
    } else if i % 7 == 3 {
        "other"
    } else {
        "logs-app"
    };
    let ts = T0 + i as i64 * 6 * MINUTE + i as i64 * 1_234_567;
    let message = match i % 4 {
        0 => format!("GET /api/items/{i} completed"),
        1 => "connection refused by upstream host".to_string(),
        2 => "user login failed for admin".to_string(),
        _ => format!("cache miss for key k{i}"),
    };
    let level = ["info", "warn", "ERROR"][i % 3];
    let status = [200, 404, 500][i % 3];
    let mut source = json!({
        "@timestamp": super::time::format_iso_nanos(ts),
        "message": message,
        "level": level,
        "http": {"status": status, "method": "GET"},
        "duration_ms": i as f64 * 1.5 + 0.25,
        "host.name": format!("web-{}", i % 3),
        "service": if i % 2 == 0 { "api" } else { "worker" },
        "trace_id": format!("ABCDEF{i:02}"),
    });
    if i % 5 == 0 {
        source["user"] = json!("alice");
    }
    Doc { i, index, ts, source }
}

pub fn docs() -> Vec<Doc> {
    (0..30).map(doc).collect()
}

/// Partitions in memory; records the time ranges asked for.
pub struct MemSnapshots {
    pub partitions: Vec<PartitionSnapshot>,
    pub asked: Mutex<Vec<(i64, i64)>>,
}

impl LogSnapshots for MemSnapshots {
    fn snapshot(&self, min_nanos: i64, max_nanos: i64) -> Vec<PartitionSnapshot> {
        self.asked.lock().unwrap().push((min_nanos, max_nanos));
        self.partitions.iter().filter(|p| p.max_nanos >= min_nanos && p.min_nanos <= max_nanos).cloned().collect()
    }
}

fn record(d: &Doc) -> LogRecord {
    let source = d.source.to_string();
    LogRecord {
        index: d.index.to_string(),
        timestamp_nanos: d.ts,
        labels: vec![("index".into(), d.index.to_string())],
        doc: serde_json::from_str(&source).unwrap(),
        source,
    }
}

pub fn build(schema: &LogSchema, docs: &[Doc], partition_span: i64) -> Vec<PartitionSnapshot> {
    let mut partitions = Vec::new();
    let last = docs.iter().map(|d| d.ts).max().unwrap_or(T0);
    let mut start = T0;
    while start <= last {
        let end = start + partition_span - 1;
        let members: Vec<&Doc> = docs.iter().filter(|d| d.ts >= start && d.ts <= end).collect();
        let index = Index::create_in_ram(schema.schema.clone());
        let mut writer: IndexWriter<LogDocument> = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for (n, d) in members.iter().enumerate() {
            writer.add_document(schema.document(&record(d))).unwrap();
            if n + 1 == members.len() / 2 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        partitions.push(PartitionSnapshot { min_nanos: start, max_nanos: end, searcher });
        start += partition_span;
    }
    partitions.reverse();
    partitions
}

pub fn fixture() -> (ElasticState, Arc<MemSnapshots>) {
    let schema = LogSchema::new();
    let partitions = build(&schema, &docs(), HOUR);
    let snaps = Arc::new(MemSnapshots { partitions, asked: Mutex::new(Vec::new()) });
    (ElasticState::new(snaps.clone(), schema), snaps)
}

pub fn state() -> ElasticState {
    fixture().0
}

pub fn try_search(state: &ElasticState, index: &str, body: Value) -> Result<Value, EsError> {
    let text = state.search(index, &Params::default(), body.to_string().as_bytes())?;
    Ok(serde_json::from_str(&text).expect("response is JSON"))
}

pub fn search(state: &ElasticState, index: &str, body: Value) -> Value {
    try_search(state, index, body).unwrap_or_else(|e| panic!("search failed: {e:?}"))
}

fn total(resp: &Value) -> u64 {
    resp["hits"]["total"]["value"].as_u64().expect("hits.total.value")
}

/// Number of documents matching `query` (size 0).
fn count_of(state: &ElasticState, query: Value) -> u64 {
    total(&search(state, "_all", json!({"query": query, "size": 0, "track_total_hits": true})))
}

fn expected(pred: impl Fn(&Doc) -> bool) -> u64 {
    docs().iter().filter(|d| pred(d)).count() as u64
}

/// `i` of each hit, read back from its message-independent `trace_id`.
fn hit_ids(resp: &Value) -> Vec<usize> {
    resp["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["trace_id"].as_str().unwrap()[6..].parse().unwrap())
        .collect()
}

fn qs(q: &str) -> Value {
    json!({"query_string": {"query": q, "analyze_wildcard": true}})
}

// --- queries ---------------------------------------------------------------------------------

#[test]
fn match_all_and_none() {
    let s = state();
    assert_eq!(count_of(&s, json!({"match_all": {}})), 30);
    assert_eq!(count_of(&s, json!({"match_none": {}})), 0);
    assert_eq!(count_of(&s, json!({})), 30);
}

#[test]
fn query_string_forms() {
    let s = state();
    assert_eq!(count_of(&s, qs("*")), 30);
    // Attribute strings are keywords: exact and case-sensitive.
    assert_eq!(count_of(&s, qs("level:ERROR")), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, qs("level:error")), 0);
    assert_eq!(count_of(&s, qs("level.keyword:ERROR")), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, qs("\"connection refused\"")), expected(|d| d.i % 4 == 1));
    assert_eq!(count_of(&s, qs("refused")), expected(|d| d.i % 4 == 1));
    assert_eq!(count_of(&s, qs("host.name:web-1")), expected(|d| d.i % 3 == 1));
    assert_eq!(count_of(&s, qs("http.status:500")), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, qs("http.status:[400 TO 499]")), expected(|d| d.i % 3 == 1));
    assert_eq!(count_of(&s, qs("http.status:>=404")), expected(|d| d.i % 3 != 0));
    assert_eq!(count_of(&s, qs("NOT level:info")), expected(|d| d.i % 3 != 0));
    assert_eq!(count_of(&s, qs("level:ERROR && service:api")), expected(|d| d.i % 3 == 2 && d.i % 2 == 0));
    assert_eq!(count_of(&s, qs("level:info OR level:warn")), expected(|d| d.i % 3 != 2));
    assert_eq!(count_of(&s, qs("conn*")), expected(|d| d.i % 4 == 1));
    assert_eq!(count_of(&s, qs("*efuse*")), expected(|d| d.i % 4 == 1));
    assert_eq!(count_of(&s, qs("_exists_:user")), expected(|d| d.i % 5 == 0));
    assert_eq!(count_of(&s, qs("user:*")), expected(|d| d.i % 5 == 0));
    assert_eq!(count_of(&s, qs("message:login AND NOT http.status:200")), expected(|d| d.i % 4 == 2 && d.i % 3 != 0));
    assert_eq!(count_of(&s, qs("@timestamp:[2024-01-01T01:00:00Z TO 2024-01-01T01:59:59Z]")), 10);
    // Severity is a default field, matched case-insensitively.
    assert_eq!(count_of(&s, qs("error")), expected(|d| d.i % 3 == 2));
    let with_and = json!({"query_string": {"query": "connection login", "default_operator": "AND"}});
    assert_eq!(count_of(&s, with_and), 0);
    let with_or = json!({"query_string": {"query": "connection login"}});
    assert_eq!(count_of(&s, with_or), expected(|d| d.i % 4 == 1 || d.i % 4 == 2));
    let err = try_search(&s, "_all", json!({"query": qs("level:(error")})).unwrap_err();
    assert_eq!(err.kind(), "query_shard_exception");
}

#[test]
fn simple_query_string_like_query_string() {
    let s = state();
    let q = json!({"simple_query_string": {"query": "refused", "fields": ["message"]}});
    assert_eq!(count_of(&s, q), expected(|d| d.i % 4 == 1));
}

#[test]
fn match_and_phrase() {
    let s = state();
    assert_eq!(
        count_of(&s, json!({"match": {"message": "refused login"}})),
        expected(|d| d.i % 4 == 1 || d.i % 4 == 2)
    );
    let and = json!({"match": {"message": {"query": "refused login", "operator": "and"}}});
    assert_eq!(count_of(&s, and), 0);
    assert_eq!(count_of(&s, json!({"match_phrase": {"message": "login failed"}})), expected(|d| d.i % 4 == 2));
    assert_eq!(count_of(&s, json!({"match_phrase": {"message": "failed login"}})), 0);
    assert_eq!(count_of(&s, json!({"match": {"http.status": 404}})), expected(|d| d.i % 3 == 1));
    assert_eq!(count_of(&s, json!({"match_phrase_prefix": {"message": "connection ref"}})), expected(|d| d.i % 4 == 1));
}

#[test]
fn term_and_terms() {
    let s = state();
    assert_eq!(count_of(&s, json!({"term": {"level.keyword": "ERROR"}})), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, json!({"term": {"http.status": 500}})), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, json!({"term": {"http.status": "500"}})), expected(|d| d.i % 3 == 2));
    // Attribute strings are keywords: the whole value, exactly.
    assert_eq!(count_of(&s, json!({"term": {"host.name": "web-1"}})), expected(|d| d.i % 3 == 1));
    assert_eq!(count_of(&s, json!({"term": {"host.name": "web"}})), 0);
    assert_eq!(count_of(&s, json!({"term": {"host.name": {"value": "web-3"}}})), 0);
    // Keyword fields of the schema are exact.
    assert_eq!(count_of(&s, json!({"term": {"service": "api"}})), expected(|d| d.i % 2 == 0));
    assert_eq!(count_of(&s, json!({"term": {"severity": "ERROR"}})), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, json!({"term": {"severity": "error"}})), 0);
    assert_eq!(count_of(&s, json!({"term": {"trace_id": "ABCDEF07"}})), 1);
    assert_eq!(count_of(&s, json!({"term": {"_index": "other"}})), expected(|d| d.index == "other"));
    assert_eq!(count_of(&s, json!({"terms": {"http.status": [200, 500]}})), expected(|d| d.i % 3 != 1));
    assert_eq!(
        count_of(&s, json!({"terms": {"severity": ["info", "warn"], "boost": 1.0}})),
        expected(|d| d.i % 3 != 2)
    );
    let float = json!({"term": {"duration_ms": 3.25}});
    assert_eq!(count_of(&s, float), 1);
}

#[test]
fn prefix_wildcard_regexp() {
    let s = state();
    assert_eq!(count_of(&s, json!({"prefix": {"message": "conn"}})), expected(|d| d.i % 4 == 1));
    assert_eq!(count_of(&s, json!({"prefix": {"service": {"value": "wor"}}})), expected(|d| d.i % 2 == 1));
    assert_eq!(count_of(&s, json!({"prefix": {"host.name": "web"}})), 30);
    assert_eq!(count_of(&s, json!({"wildcard": {"level": {"value": "ER*"}}})), expected(|d| d.i % 3 == 2));
    assert_eq!(count_of(&s, json!({"wildcard": {"severity": {"value": "w?rn"}}})), expected(|d| d.i % 3 == 1));
    assert_eq!(
        count_of(&s, json!({"wildcard": {"severity": {"value": "WARN", "case_insensitive": true}}})),
        expected(|d| d.i % 3 == 1)
    );
    assert_eq!(count_of(&s, json!({"regexp": {"user": "al.*e"}})), expected(|d| d.i % 5 == 0));
    assert_eq!(count_of(&s, json!({"regexp": {"trace_id": "abcdef0[0-4]"}})), 5);
    let err = try_search(&s, "_all", json!({"query": {"regexp": {"user": "(unclosed"}}})).unwrap_err();
    assert_eq!(err.status(), 400);
}

#[test]
fn ranges() {
    let s = state();
    let ms = T0 / 1_000_000;
    let r = json!({"range": {"@timestamp": {"gte": ms + 3_600_000, "lte": ms + 2 * 3_600_000 - 1, "format": "epoch_millis"}}});
    assert_eq!(count_of(&s, r), 10);
    let r = json!({"range": {"@timestamp": {"gte": (ms + 3_600_000).to_string(), "lt": "2024-01-01T02:00:00Z"}}});
    assert_eq!(count_of(&s, r), 10);
    let r = json!({"range": {"@timestamp": {"gt": "2024-01-01T00:54:00.011111103Z"}}});
    assert_eq!(count_of(&s, r), 20);
    assert_eq!(count_of(&s, json!({"range": {"http.status": {"gte": 400}}})), expected(|d| d.i % 3 != 0));
    assert_eq!(count_of(&s, json!({"range": {"http.status": {"gt": 404, "lte": "500"}}})), expected(|d| d.i % 3 == 2));
    let f = json!({"range": {"duration_ms": {"gte": 10.0, "lt": 20.0}}});
    assert_eq!(count_of(&s, f), expected(|d| (10.0..20.0).contains(&(d.i as f64 * 1.5 + 0.25))));
    let words = json!({"range": {"service": {"gte": "b"}}});
    assert_eq!(count_of(&s, words), expected(|d| d.i % 2 == 1));
}

#[test]
fn exists() {
    let s = state();
    assert_eq!(count_of(&s, json!({"exists": {"field": "user"}})), expected(|d| d.i % 5 == 0));
    assert_eq!(count_of(&s, json!({"exists": {"field": "http"}})), 30);
    assert_eq!(count_of(&s, json!({"exists": {"field": "nope"}})), 0);
    assert_eq!(count_of(&s, json!({"exists": {"field": "@timestamp"}})), 30);
    assert_eq!(count_of(&s, json!({"exists": {"field": "service"}})), 30);
    assert_eq!(count_of(&s, json!({"exists": {"field": "message"}})), 30);
}

#[test]
fn bool_combinations() {
    let s = state();
    let q = json!({"bool": {
        "must": {"match": {"message": "refused"}},
        "filter": [{"term": {"service": "worker"}}],
        "must_not": [{"term": {"http.status": 200}}]
    }});
    assert_eq!(count_of(&s, q), expected(|d| d.i % 4 == 1 && d.i % 2 == 1 && d.i % 3 != 0));
    let q = json!({"bool": {"should": [{"term": {"level": "info"}}, {"term": {"level": "warn"}}]}});
    assert_eq!(count_of(&s, q), expected(|d| d.i % 3 != 2));
    let q = json!({"bool": {
        "should": [{"term": {"level": "info"}}, {"term": {"service": "api"}}, {"exists": {"field": "user"}}],
        "minimum_should_match": 2
    }});
    let hits = |d: &Doc| [d.i % 3 == 0, d.i % 2 == 0, d.i % 5 == 0].iter().filter(|b| **b).count() >= 2;
    assert_eq!(count_of(&s, q), expected(hits));
    let q = json!({"bool": {"filter": {"term": {"service": "api"}}, "should": [{"term": {"level": "warn"}}]}});
    assert_eq!(count_of(&s, q), expected(|d| d.i % 2 == 0), "should is optional next to a filter");
    let q = json!({"bool": {"must_not": {"term": {"service": "api"}}}});
    assert_eq!(count_of(&s, q), expected(|d| d.i % 2 == 1));
    let q = json!({"bool": {"filter": [{"bool": {"should": [{"term": {"level": "info"}}], "minimum_should_match": 1}}, {"match_all": {}}]}});
    assert_eq!(count_of(&s, q), expected(|d| d.i % 3 == 0));
}

#[test]
fn unknown_and_malformed() {
    let s = state();
    let err = try_search(&s, "_all", json!({"query": {"foo": {}}})).unwrap_err();
    assert_eq!((err.kind(), err.to_string().as_str(), err.status()), ("parsing_exception", "unknown query [foo]", 400));
    let err = s.search("_all", &Params::default(), b"{\"query\": ").unwrap_err();
    assert_eq!((err.kind(), err.status()), ("x_content_parse_exception", 400));
    let err = try_search(&s, "_all", json!({"query": {"match_all": {}, "term": {}}})).unwrap_err();
    assert_eq!(err.kind(), "parsing_exception");
    let err = try_search(&s, "_all", json!({"nonsense": 1})).unwrap_err();
    assert_eq!(err.to_string(), "Unknown key for a VALUE_NUMBER in [nonsense].");
    let err = try_search(&s, "_all", json!({"query": {"ids": {"values": ["a"]}}})).unwrap_err();
    assert_eq!(err.kind(), "parsing_exception");
    let body = err.body();
    assert_eq!(body["error"]["root_cause"][0]["type"], "parsing_exception");
    assert_eq!(body["status"], 400);
}

// --- search options --------------------------------------------------------------------------

#[test]
fn sort_and_search_after() {
    let s = state();
    let desc = search(
        &s,
        "_all",
        json!({"size": 5, "sort": {"@timestamp": {"order": "desc", "unmapped_type": "boolean"}, "_doc": {"order": "desc"}}}),
    );
    assert_eq!(hit_ids(&desc), vec![29, 28, 27, 26, 25]);
    let first = &desc["hits"]["hits"][0];
    assert_eq!(first["sort"][0], json!(doc(29).ts / 1_000_000));
    assert!(first["_score"].is_null());
    let asc = search(&s, "_all", json!({"size": 3, "sort": [{"@timestamp": "asc"}]}));
    assert_eq!(hit_ids(&asc), vec![0, 1, 2]);
    let by_str = search(&s, "_all", json!({"size": 3, "sort": ["@timestamp:asc"]}));
    assert_eq!(hit_ids(&by_str), vec![0, 1, 2]);
    // Page through everything newest first with search_after.
    let mut seen = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"size": 7, "sort": [{"@timestamp": {"order": "desc"}}, {"_doc": {"order": "desc"}}]});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let page = search(&s, "_all", body);
        let ids = hit_ids(&page);
        if ids.is_empty() {
            break;
        }
        after = Some(page["hits"]["hits"].as_array().unwrap().last().unwrap()["sort"].clone());
        seen.extend(ids);
    }
    assert_eq!(seen, (0..30).rev().collect::<Vec<_>>());
    // Sort by an attribute, then time.
    let by_dur = search(&s, "_all", json!({"size": 3, "sort": [{"duration_ms": "desc"}]}));
    assert_eq!(hit_ids(&by_dur), vec![29, 28, 27]);
    assert_eq!(by_dur["hits"]["hits"][0]["sort"][0], json!(29.0 * 1.5 + 0.25));
    let by_level = search(&s, "_all", json!({"size": 4, "sort": [{"level.keyword": "asc"}, {"@timestamp": "asc"}]}));
    assert_eq!(hit_ids(&by_level), vec![2, 5, 8, 11], "ERROR sorts before info and warn");
    assert_eq!(by_level["hits"]["hits"][0]["sort"][0], json!("ERROR"));
    let err = try_search(&s, "_all", json!({"sort": [{"message": "asc"}]})).unwrap_err();
    assert_eq!(err.kind(), "illegal_argument_exception");
}

#[test]
fn from_size_and_total() {
    let s = state();
    let page = search(&s, "_all", json!({"from": 10, "size": 5, "sort": [{"@timestamp": "asc"}]}));
    assert_eq!(hit_ids(&page), vec![10, 11, 12, 13, 14]);
    assert_eq!(page["hits"]["total"], json!({"value": 30, "relation": "eq"}));
    let default = search(&s, "_all", json!({}));
    assert_eq!(default["hits"]["hits"].as_array().unwrap().len(), 10);
    let capped = search(&s, "_all", json!({"size": 0, "track_total_hits": 7}));
    assert_eq!(capped["hits"]["total"], json!({"value": 7, "relation": "gte"}));
    let exact = search(&s, "_all", json!({"size": 0, "track_total_hits": true}));
    assert_eq!(exact["hits"]["total"], json!({"value": 30, "relation": "eq"}));
    let off = search(&s, "_all", json!({"size": 1, "track_total_hits": false}));
    assert!(off["hits"]["total"]["value"].is_u64());
    assert_eq!(off["hits"]["hits"].as_array().unwrap().len(), 1);
    let err = try_search(&s, "_all", json!({"from": 9_999, "size": 2})).unwrap_err();
    assert_eq!(err.kind(), "illegal_argument_exception");
    let as_int = s.search("_all", &Params::parse(Some("rest_total_hits_as_int=true&size=0")), b"{}").unwrap();
    assert_eq!(serde_json::from_str::<Value>(&as_int).unwrap()["hits"]["total"], json!(30));
}

#[test]
fn source_filtering() {
    let s = state();
    let base = json!({"size": 1, "sort": [{"@timestamp": "asc"}]});
    let hit = |body: Value| search(&s, "_all", body)["hits"]["hits"][0].clone();
    let mut b = base.clone();
    b["_source"] = json!(false);
    assert!(hit(b).get("_source").is_none());
    let mut b = base.clone();
    b["_source"] = json!(["http.*", "level"]);
    assert_eq!(hit(b)["_source"], json!({"http": {"status": 200, "method": "GET"}, "level": "info"}));
    let mut b = base.clone();
    b["_source"] = json!({"includes": ["http"], "excludes": ["http.method"]});
    assert_eq!(hit(b)["_source"], json!({"http": {"status": 200}}));
    let mut b = base.clone();
    b["_source"] = json!("level");
    assert_eq!(hit(b)["_source"], json!({"level": "info"}));
    // Unfiltered: the stored text verbatim.
    let raw = s.search("_all", &Params::default(), base.to_string().as_bytes()).unwrap();
    assert!(raw.contains(&doc(0).source.to_string()), "source spliced verbatim");
}

#[test]
fn fields_and_ids() {
    let s = state();
    let body = json!({"size": 1, "sort": [{"@timestamp": "asc"}], "fields": [{"field": "@timestamp", "format": "strict_date_optional_time_nanos"}, "http.status", "level.keyword"]});
    let h = search(&s, "_all", body)["hits"]["hits"][0].clone();
    assert_eq!(h["fields"]["@timestamp"], json!(["2024-01-01T00:00:00.000Z"]));
    assert_eq!(h["fields"]["http.status"], json!([200]));
    assert_eq!(h["fields"]["level.keyword"], json!(["info"]));
    let body = json!({"size": 1, "sort": [{"@timestamp": "desc"}], "docvalue_fields": [{"field": "@timestamp", "format": "strict_date_optional_time_nanos"}]});
    let h = search(&s, "_all", body)["hits"]["hits"][0].clone();
    assert_eq!(h["fields"]["@timestamp"], json!(["2024-01-01T02:54:00.035802443Z"]));
    assert_eq!(h["_index"], "logs-debug");
    let id = h["_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16);
    let again = search(&s, "_all", json!({"size": 1, "sort": [{"@timestamp": "desc"}]}));
    assert_eq!(again["hits"]["hits"][0]["_id"], json!(id), "ids are stable");
}

#[test]
fn highlight_marks_query_words() {
    let s = state();
    let body = json!({
        "size": 1, "sort": [{"@timestamp": "asc"}],
        "query": {"bool": {"filter": [qs("refused AND level:warn")]}},
        "highlight": {"pre_tags": ["@HIGHLIGHT@"], "post_tags": ["@/HIGHLIGHT@"], "fields": {"*": {}}, "fragment_size": 2147483647}
    });
    let h = search(&s, "_all", body)["hits"]["hits"][0].clone();
    assert_eq!(h["highlight"]["message"], json!(["connection @HIGHLIGHT@refused@/HIGHLIGHT@ by upstream host"]));
    assert_eq!(h["highlight"]["level"], json!(["@HIGHLIGHT@warn@/HIGHLIGHT@"]));
}

// --- aggregations ----------------------------------------------------------------------------

#[test]
fn date_histogram_with_bounds() {
    let s = state();
    let ms = T0 / 1_000_000;
    let body = json!({
        "size": 0,
        "aggs": {"2": {"date_histogram": {
            "field": "@timestamp", "fixed_interval": "1h", "min_doc_count": 0,
            "extended_bounds": {"min": ms - 3_600_000, "max": ms + 4 * 3_600_000}, "format": "epoch_millis"
        }}}
    });
    let r = search(&s, "_all", body);
    let buckets = r["aggregations"]["2"]["buckets"].as_array().unwrap();
    let keys: Vec<i64> = buckets.iter().map(|b| b["key"].as_i64().unwrap()).collect();
    assert_eq!(keys, (-1..=4).map(|h| ms + h * 3_600_000).collect::<Vec<_>>());
    let counts: Vec<u64> = buckets.iter().map(|b| b["doc_count"].as_u64().unwrap()).collect();
    assert_eq!(counts, vec![0, 10, 10, 10, 0, 0]);
    assert_eq!(buckets[1]["key_as_string"], json!(ms.to_string()));
    // Legacy `interval`, ISO key_as_string without format.
    let body = json!({"size": 0, "aggs": {"h": {"date_histogram": {"field": "@timestamp", "interval": "30m", "min_doc_count": 1}}}});
    let r = search(&s, "_all", body);
    let buckets = r["aggregations"]["h"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 6);
    assert_eq!(buckets[0]["key_as_string"], json!("2024-01-01T00:00:00.000Z"));
    assert_eq!(buckets[0]["doc_count"], json!(5));
    let bad = json!({"size": 0, "aggs": {"h": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1M"}}}});
    assert_eq!(try_search(&s, "_all", bad).unwrap_err().status(), 400);
}

#[test]
fn terms_with_nested_metrics() {
    let s = state();
    let body = json!({"size": 0, "aggs": {"3": {
        "terms": {"field": "level.keyword", "size": 2, "order": {"_count": "desc"}, "min_doc_count": 1},
        "aggs": {"1": {"avg": {"field": "http.status"}}, "m": {"max": {"field": "duration_ms"}}}
    }}});
    let r = search(&s, "_all", body);
    let agg = &r["aggregations"]["3"];
    let buckets = agg["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(agg["sum_other_doc_count"], json!(10));
    assert_eq!(agg["doc_count_error_upper_bound"], json!(0));
    for b in buckets {
        assert_eq!(b["doc_count"], json!(10));
        let expected_avg = match b["key"].as_str().unwrap() {
            "info" => 200.0,
            "warn" => 404.0,
            "ERROR" => 500.0,
            other => panic!("unexpected key {other}"),
        };
        assert_eq!(b["1"]["value"], json!(expected_avg));
    }
    let numeric = json!({"size": 0, "aggs": {"s": {"terms": {"field": "http.status", "order": {"_key": "asc"}}}}});
    let r = search(&s, "_all", numeric);
    let keys: Vec<Value> =
        r["aggregations"]["s"]["buckets"].as_array().unwrap().iter().map(|b| b["key"].clone()).collect();
    assert_eq!(keys, vec![json!(200), json!(404), json!(500)]);
}

#[test]
fn metrics() {
    let s = state();
    let body = json!({"size": 0, "query": qs("service:api"), "aggs": {
        "c": {"cardinality": {"field": "host.name"}},
        "s": {"sum": {"field": "http.status"}},
        "n": {"value_count": {"field": "user"}},
        "st": {"stats": {"field": "duration_ms"}},
        "p": {"percentiles": {"field": "http.status", "percents": [50]}},
        "none": {"sum": {"field": "absent"}},
        "first": {"min": {"field": "@timestamp"}}
    }});
    let r = search(&s, "_all", body);
    let a = &r["aggregations"];
    assert_eq!(a["c"]["value"], json!(3));
    let api: Vec<Doc> = docs().into_iter().filter(|d| d.i % 2 == 0).collect();
    let sum: i64 = api.iter().map(|d| [200, 404, 500][d.i % 3]).sum();
    assert_eq!(a["s"]["value"], json!(sum as f64));
    assert_eq!(a["n"]["value"], json!(api.iter().filter(|d| d.i % 5 == 0).count()));
    assert_eq!(a["st"]["count"], json!(15));
    assert!(a["p"]["values"]["50.0"].is_number());
    assert_eq!(a["none"]["value"], json!(0.0));
    assert_eq!(a["first"]["value"], json!((T0 / 1_000_000) as f64));
    assert_eq!(a["first"]["value_as_string"], json!("2024-01-01T00:00:00.000Z"));
    let bad = json!({"size": 0, "aggs": {"x": {"moving_avg": {"buckets_path": "1"}}}});
    let err = try_search(&s, "_all", bad).unwrap_err();
    assert_eq!((err.status(), err.kind()), (400, "illegal_argument_exception"));
    let text = json!({"size": 0, "aggs": {"x": {"terms": {"field": "message"}}}});
    assert_eq!(try_search(&s, "_all", text).unwrap_err().status(), 400);
}

#[test]
fn histogram_and_range() {
    let s = state();
    let body = json!({"size": 0, "aggs": {
        "h": {"histogram": {"field": "http.status", "interval": 100, "min_doc_count": 1}},
        "r": {"range": {"field": "duration_ms", "ranges": [{"to": 10}, {"from": 10, "to": 20}, {"from": 20}]}}
    }});
    let r = search(&s, "_all", body);
    let h: Vec<(f64, u64)> = r["aggregations"]["h"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["key"].as_f64().unwrap(), b["doc_count"].as_u64().unwrap()))
        .collect();
    assert_eq!(h, vec![(200.0, 10), (400.0, 10), (500.0, 10)]);
    let r: Vec<u64> = r["aggregations"]["r"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .collect();
    let dur = |d: &Doc| d.i as f64 * 1.5 + 0.25;
    assert_eq!(
        r,
        vec![expected(|d| dur(d) < 10.0), expected(|d| (10.0..20.0).contains(&dur(d))), expected(|d| dur(d) >= 20.0)]
    );
}

#[test]
fn time_windows_match_single_pass() {
    let s = state();
    let ms = T0 / 1_000_000;
    let sort_desc = json!([{"@timestamp": {"order": "desc"}}, {"_doc": {"order": "desc"}}]);
    let sort_asc = json!([{"@timestamp": "asc"}]);
    let mut bodies = Vec::new();
    for size in [1, 3, 7, 30] {
        for sort in [&sort_desc, &sort_asc] {
            bodies.push(json!({"size": size, "sort": sort}));
            bodies.push(json!({"size": size, "sort": sort, "query": qs("level:ERROR OR refused")}));
            bodies.push(json!({"size": size, "sort": sort, "from": 2, "query": {"bool": {"filter": [
                {"range": {"@timestamp": {"gte": ms + 1_000_000, "lte": ms + 9_000_000, "format": "epoch_millis"}}}
            ]}}}));
            bodies.push(json!({"size": size, "sort": sort, "track_total_hits": 5, "query": qs("service:api")}));
            bodies.push(json!({"size": size, "sort": sort, "search_after": [ms + 5_400_000, 0]}));
        }
    }
    let run = |force: bool, index: &str, body: &Value| {
        super::search::FORCE_WINDOWS.with(|f| f.set(force));
        let r = try_search(&s, index, body.clone());
        super::search::FORCE_WINDOWS.with(|f| f.set(false));
        r
    };
    for body in &bodies {
        for index in ["_all", "logs-*,-logs-debug"] {
            let Ok(single) = run(false, index, body) else { continue };
            let windowed = run(true, index, body).unwrap();
            let ids =
                |r: &Value| r["hits"]["hits"].as_array().unwrap().iter().map(|h| h["_id"].clone()).collect::<Vec<_>>();
            assert_eq!(ids(&windowed), ids(&single), "{index} {body}");
            assert_eq!(windowed["hits"]["total"], single["hits"]["total"], "{index} {body}");
        }
    }
    // Paging with search_after through windows yields every document once, in order.
    let mut seen = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"size": 4, "sort": sort_desc});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let page = run(true, "_all", &body).unwrap();
        let ids = hit_ids(&page);
        if ids.is_empty() {
            break;
        }
        after = Some(page["hits"]["hits"].as_array().unwrap().last().unwrap()["sort"].clone());
        seen.extend(ids);
    }
    assert_eq!(seen, (0..30).rev().collect::<Vec<_>>());
}

#[test]
fn fast_aggregations_match_tantivy() {
    let s = state();
    let ms = T0 / 1_000_000;
    let aggs = [
        json!({"date_histogram": {"field": "@timestamp", "fixed_interval": "20m", "min_doc_count": 0, "extended_bounds": {"min": ms - 7_200_000, "max": ms + 14_400_000}}}),
        json!({"date_histogram": {"field": "@timestamp", "fixed_interval": "7m", "min_doc_count": 1, "format": "epoch_millis"}}),
        json!({"date_histogram": {"field": "@timestamp", "fixed_interval": "1h", "offset": "+15m"}}),
        json!({"terms": {"field": "level.keyword", "size": 3}}),
        json!({"terms": {"field": "http.status", "size": 5, "order": {"_key": "desc"}}}),
        json!({"terms": {"field": "service", "order": {"_count": "asc"}}}),
        json!({"terms": {"field": "_index", "size": 1}}),
    ];
    for agg in aggs {
        let fast = search(&s, "_all", json!({"size": 0, "query": qs("NOT user:alice"), "aggs": {"a": agg.clone()}}));
        let mut slow_agg = agg.clone();
        // A sub-aggregation sends it down tantivy's path.
        slow_agg["aggs"] = json!({"n": {"value_count": {"field": "http.status"}}});
        let slow = search(&s, "_all", json!({"size": 0, "query": qs("NOT user:alice"), "aggs": {"a": slow_agg}}));
        let strip = |v: &Value| {
            let mut v = v["aggregations"]["a"].clone();
            if let Some(buckets) = v["buckets"].as_array_mut() {
                for b in buckets {
                    b.as_object_mut().unwrap().remove("n");
                }
            }
            v
        };
        assert_eq!(strip(&fast), strip(&slow), "{agg}");
        assert!(fast["aggregations"]["a"]["buckets"].as_array().is_some_and(|b| !b.is_empty()), "{agg}");
    }
    // Buckets below min_doc_count count as "other", as in Elasticsearch.
    let r = search(&s, "_all", json!({"size": 0, "aggs": {"a": {"terms": {"field": "_index", "min_doc_count": 7}}}}));
    let others = expected(|d| d.index != "logs-app");
    assert_eq!(r["aggregations"]["a"]["sum_other_doc_count"], json!(others));
    assert_eq!(r["aggregations"]["a"]["buckets"].as_array().unwrap().len(), 1);
}

// --- indices, msearch, count, mappings ------------------------------------------------------

#[test]
fn index_patterns() {
    let s = state();
    let all = |index: &str| total(&search(&s, index, json!({"size": 0, "track_total_hits": true})));
    assert_eq!(all("logs-*"), expected(|d| d.index.starts_with("logs-")));
    assert_eq!(all("logs-*,-logs-debug"), expected(|d| d.index == "logs-app"));
    assert_eq!(all("*,-logs-*"), expected(|d| d.index == "other"));
    assert_eq!(all("_all"), 30);
    assert_eq!(all("other,logs-debug"), expected(|d| d.index != "logs-app"));
    assert_eq!(all("nomatch-*"), 0);
    let err = try_search(&s, "missing", json!({})).unwrap_err();
    assert_eq!((err.status(), err.to_string().as_str()), (404, "no such index [missing]"));
    assert_eq!(err.body()["error"]["index"], "missing");
    let ignored = s.search("missing,other", &Params::parse(Some("ignore_unavailable=true")), b"{\"size\":0}").unwrap();
    let ignored: Value = serde_json::from_str(&ignored).unwrap();
    assert_eq!(total(&ignored), expected(|d| d.index == "other"));
    // An index outside the query's time range still exists.
    let ms = T0 / 1_000_000;
    let late =
        json!({"query": {"range": {"@timestamp": {"gte": ms + 7_200_000, "format": "epoch_millis"}}}, "size": 0});
    let found_nothing = search(&s, "other", late);
    let expected_other_late = expected(|d| d.index == "other" && d.ts >= T0 + 2 * HOUR);
    assert_eq!(total(&found_nothing), expected_other_late);
}

#[test]
fn time_range_limits_partitions() {
    let (s, snaps) = fixture();
    let ms = T0 / 1_000_000;
    snaps.asked.lock().unwrap().clear();
    let body = json!({"size": 0, "query": {"bool": {"filter": [
        {"range": {"@timestamp": {"gte": ms + 3_600_000, "lte": ms + 5_400_000, "format": "epoch_millis"}}},
        qs("*")
    ]}}});
    let r = search(&s, "logs-app", body);
    let asked = snaps.asked.lock().unwrap().clone();
    assert_eq!(asked[0], (T0 + HOUR, T0 + HOUR + 30 * MINUTE + 999_999));
    assert_eq!(r["_shards"]["total"], json!(1));
    assert_eq!(
        total(&r),
        expected(|d| d.index == "logs-app" && d.ts >= T0 + HOUR && d.ts <= T0 + 90 * MINUTE + 999_999)
    );
}

#[test]
fn msearch_with_a_bad_query() {
    let s = state();
    let body = [
        json!({"search_type": "query_then_fetch", "ignore_unavailable": true, "index": "logs-*"}).to_string(),
        json!({"size": 0, "query": {"match_all": {}}, "track_total_hits": true}).to_string(),
        json!({"index": ["other"]}).to_string(),
        json!({"query": {"bogus": {}}}).to_string(),
        "{}".to_string(),
        json!({"size": 1}).to_string(),
        json!({"index": "nope", "ignore_unavailable": false}).to_string(),
        "{}".to_string(),
    ]
    .join("\n")
        + "\n";
    let params = Params::parse(Some("max_concurrent_shard_requests=5&ignore_throttled=false"));
    let out: Value = serde_json::from_str(&s.msearch(None, &params, body.as_bytes()).unwrap()).unwrap();
    let r = out["responses"].as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert!(out["took"].is_u64());
    assert_eq!((r[0]["status"].clone(), total(&r[0])), (json!(200), expected(|d| d.index.starts_with("logs-"))));
    assert_eq!(r[1]["status"], json!(400));
    assert_eq!(r[1]["error"]["type"], json!("parsing_exception"));
    assert_eq!(r[1]["error"]["root_cause"][0]["reason"], json!("unknown query [bogus]"));
    assert_eq!((r[2]["status"].clone(), total(&r[2])), (json!(200), 30));
    assert_eq!(r[3]["status"], json!(404));
    let err = s.msearch(None, &Params::default(), b"{}\n").unwrap_err();
    assert_eq!(err.status(), 400);
}

#[test]
fn count_api() {
    let s = state();
    let c = s.count("logs-*", &Params::default(), json!({"query": qs("level:ERROR")}).to_string().as_bytes()).unwrap();
    assert_eq!(c["count"], json!(expected(|d| d.index.starts_with("logs-") && d.i % 3 == 2)));
    assert_eq!(c["_shards"]["failed"], json!(0));
    let c = s.count("_all", &Params::parse(Some("q=service:api")), b"").unwrap();
    assert_eq!(c["count"], json!(15));
}

#[test]
fn mapping_and_field_caps() {
    let s = state();
    let m = s.mapping("logs-*", &Params::default()).unwrap();
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["logs-app", "logs-debug"]);
    let props = &m["logs-app"]["mappings"]["properties"];
    assert_eq!(props["@timestamp"], json!({"type": "date"}));
    assert_eq!(props["message"], json!({"type": "text"}));
    assert_eq!(
        props["level"],
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
    );
    assert_eq!(props["http"]["properties"]["status"], json!({"type": "long"}));
    assert_eq!(props["host"]["properties"]["name"]["type"], json!("text"));
    assert_eq!(props["duration_ms"], json!({"type": "float"}));
    let err = s.mapping("missing", &Params::default()).unwrap_err();
    assert_eq!(err.status(), 404);

    let fc = s.field_caps("logs-app", &Params::parse(Some("fields=*"))).unwrap();
    assert_eq!(fc["indices"], json!(["logs-app"]));
    assert_eq!(fc["fields"]["@timestamp"]["date"]["aggregatable"], json!(true));
    assert_eq!(
        fc["fields"]["level"]["text"],
        json!({"type": "text", "metadata_field": false, "searchable": true, "aggregatable": false})
    );
    assert_eq!(fc["fields"]["level.keyword"]["keyword"]["aggregatable"], json!(true));
    assert_eq!(fc["fields"]["http.status"]["long"]["type"], json!("long"));
    assert_eq!(fc["fields"]["http"]["object"]["type"], json!("object"));
    let only = s.field_caps("_all", &Params::parse(Some("fields=http.*"))).unwrap();
    let names: Vec<&String> = only["fields"].as_object().unwrap().keys().collect();
    assert_eq!(names, vec!["http.method", "http.method.keyword", "http.status"]);
}

// --- golden files ----------------------------------------------------------------------------

/// Sets every `took` to 0 and clears the segment bits of `_doc` sort values (segment ids are
/// random per index build).
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), x) {
                    ("took", x) => *x = json!(0),
                    ("sort", Value::Array(values)) => {
                        for value in values.iter_mut().skip(1) {
                            if let Some(n) = value.as_u64() {
                                *value = json!(n & !(0x3ff << 31));
                            }
                        }
                    }
                    (_, x) => normalise(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// Each `tests/golden/<name>.request.ndjson` is sent to `_msearch` (as Grafana does, with
/// `max_concurrent_shard_requests=5`) and compared with `<name>.response.json` (both normalised, see
/// [`normalise`]). `UPDATE_GOLDEN=1` rewrites the expected files.
#[test]
fn golden_grafana_requests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/elastic");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let s = state();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".request.ndjson").map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "golden requests present");
    for name in names {
        let request = std::fs::read(dir.join(format!("{name}.request.ndjson"))).unwrap();
        let params = Params::parse(Some("max_concurrent_shard_requests=5&ignore_throttled=false"));
        let mut actual: Value = serde_json::from_str(&s.msearch(None, &params, &request).unwrap()).unwrap();
        normalise(&mut actual);
        let path = dir.join(format!("{name}.response.json"));
        if update {
            std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("golden response")).unwrap();
        assert_eq!(actual, expected, "golden {name}");
    }
}

// --- HTTP ------------------------------------------------------------------------------------

mod http {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    async fn call(method: &str, uri: &str, body: &str) -> (StatusCode, Option<String>, Value) {
        let app = super::super::router_for(super::state());
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let product = resp.headers().get("x-elastic-product").map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, product, value)
    }

    #[tokio::test]
    async fn routes_and_headers() {
        let (status, product, body) = call("POST", "/logs-*/_search?size=1", "{}").await;
        assert_eq!((status, product.as_deref()), (StatusCode::OK, Some("Elasticsearch")));
        assert_eq!(body["hits"]["hits"].as_array().unwrap().len(), 1);
        let (status, _, body) = call("GET", "/_search", "").await;
        assert_eq!((status, body["hits"]["total"]["value"].clone()), (StatusCode::OK, json!(30)));
        let (status, product, body) = call("GET", "/missing/_search", "").await;
        assert_eq!((status, product.as_deref()), (StatusCode::NOT_FOUND, Some("Elasticsearch")));
        assert_eq!(body["error"]["type"], json!("index_not_found_exception"));
        let (status, _, body) = call("POST", "/_search", "{nope").await;
        assert_eq!(
            (status, body["error"]["type"].clone()),
            (StatusCode::BAD_REQUEST, json!("x_content_parse_exception"))
        );
        let ndjson = "{\"index\":\"logs-app\"}\n{\"size\":0}\n";
        let (status, _, body) = call("POST", "/_msearch?max_concurrent_shard_requests=5", ndjson).await;
        assert_eq!((status, body["responses"][0]["status"].clone()), (StatusCode::OK, json!(200)));
        let (status, _, body) = call("GET", "/logs-app/_count?q=level:ERROR", "").await;
        assert_eq!((status, body["count"].is_u64()), (StatusCode::OK, true));
        let (status, _, body) = call("GET", "/_mapping", "").await;
        assert_eq!((status, body.as_object().unwrap().len()), (StatusCode::OK, 3));
        let (status, _, body) = call("GET", "/logs-*/_field_caps?fields=*", "").await;
        assert_eq!((status, body["indices"].clone()), (StatusCode::OK, json!(["logs-app", "logs-debug"])));
        let (status, product, _) = call("DELETE", "/_search", "").await;
        assert_eq!((status, product.as_deref()), (StatusCode::METHOD_NOT_ALLOWED, Some("Elasticsearch")));
    }
}

// Pharos — query/src/elastic/tests.rs
