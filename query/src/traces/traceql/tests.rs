//! Parser, evaluator, store hints and `tags=` tests over a hand-built trace.

use std::sync::Arc;

use pharos_storage::traces::{
    AttributeValue, Event, KeyValue, Resource, Scope, Span, SpanKind, SpanQuery, Status, StatusCode, TimeRange,
};

use super::{ParseError, SpanSetMatch, TraceQuery, parse, parse_tags_logfmt};

const MS: u64 = 1_000_000;

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        attributes: vec![
            KeyValue::string("service.name", service),
            KeyValue::string("deployment.environment", "production"),
        ],
        ..Resource::default()
    })
}

struct SpanSpec {
    id: u8,
    parent: Option<u8>,
    name: &'static str,
    kind: SpanKind,
    start_ms: u64,
    end_ms: u64,
    error: Option<&'static str>,
    attributes: Vec<KeyValue>,
}

fn span(spec: SpanSpec, resource: &Arc<Resource>) -> Span {
    Span {
        resource: resource.clone(),
        scope: Arc::new(Scope { name: "manual".into(), version: "1.0".into(), ..Scope::default() }),
        trace_id: [7; 16],
        span_id: [0, 0, 0, 0, 0, 0, 0, spec.id],
        parent_span_id: spec.parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
        name: spec.name.to_string(),
        kind: spec.kind,
        start_time_unix_nano: 1_700_000_000_000 * MS + spec.start_ms * MS,
        end_time_unix_nano: 1_700_000_000_000 * MS + spec.end_ms * MS,
        attributes: spec.attributes,
        status: match spec.error {
            Some(message) => Status { code: StatusCode::Error, message: message.to_string() },
            None => Status::default(),
        },
        ..Span::default()
    }
}

/// A checkout trace, deliberately not in tree order:
///
/// ```text
/// 1 GET /cart            frontend server 0–500ms   http.method=GET http.status_code=200 http.url=/cart
/// ├─ 2 HTTP GET checkout  frontend client 10–210ms  http.method=GET http.status_code=200
/// │  └─ 4 GET /checkout   checkout server 20–200ms  http.status_code=200
/// │     └─ 5 SELECT items checkout client 30–80ms   db.system=postgresql, event exception (timeout)
/// └─ 3 HTTP POST payment  frontend client 220–470ms ERROR http.method=POST http.status_code=503
///    └─ 6 POST /pay       payment  server 230–460ms ERROR http.status_code=503 "retry count"=2 cache.hit=true
///       └─ 7 cache lookup payment  internal 240–241ms ratio=0.5 cache.hit=false
/// ```
fn checkout_trace() -> Vec<Span> {
    let (frontend, checkout, payment) = (resource("frontend"), resource("checkout"), resource("payment"));
    let s = |key: &str, value: &str| KeyValue::string(key, value);
    let int = |key: &str, value: i64| KeyValue::new(key, AttributeValue::Int(value));
    let root = SpanSpec {
        id: 1,
        parent: None,
        name: "GET /cart",
        kind: SpanKind::Server,
        start_ms: 0,
        end_ms: 500,
        error: None,
        attributes: vec![s("http.method", "GET"), int("http.status_code", 200), s("http.url", "/cart")],
    };
    let get_checkout = SpanSpec {
        id: 2,
        parent: Some(1),
        name: "HTTP GET checkout",
        kind: SpanKind::Client,
        start_ms: 10,
        end_ms: 210,
        error: None,
        attributes: vec![s("http.method", "GET"), int("http.status_code", 200)],
    };
    let post_payment = SpanSpec {
        id: 3,
        parent: Some(1),
        name: "HTTP POST payment",
        kind: SpanKind::Client,
        start_ms: 220,
        end_ms: 470,
        error: Some("payment failed"),
        attributes: vec![s("http.method", "POST"), int("http.status_code", 503)],
    };
    let checkout_server = SpanSpec {
        id: 4,
        parent: Some(2),
        name: "GET /checkout",
        kind: SpanKind::Server,
        start_ms: 20,
        end_ms: 200,
        error: None,
        attributes: vec![int("http.status_code", 200)],
    };
    let mut select_items = span(
        SpanSpec {
            id: 5,
            parent: Some(4),
            name: "SELECT items",
            kind: SpanKind::Client,
            start_ms: 30,
            end_ms: 80,
            error: None,
            attributes: vec![s("db.system", "postgresql")],
        },
        &checkout,
    );
    select_items.events.push(Event {
        time_unix_nano: select_items.start_time_unix_nano + 20 * MS,
        name: "exception".into(),
        attributes: vec![s("exception.message", "timeout")],
        dropped_attributes_count: 0,
    });
    let pay = SpanSpec {
        id: 6,
        parent: Some(3),
        name: "POST /pay",
        kind: SpanKind::Server,
        start_ms: 230,
        end_ms: 460,
        error: Some("card declined"),
        attributes: vec![
            int("http.status_code", 503),
            int("retry count", 2),
            KeyValue::new("cache.hit", AttributeValue::Bool(true)),
        ],
    };
    let cache = SpanSpec {
        id: 7,
        parent: Some(6),
        name: "cache lookup",
        kind: SpanKind::Internal,
        start_ms: 240,
        end_ms: 241,
        error: None,
        attributes: vec![
            KeyValue::new("ratio", AttributeValue::Double(0.5)),
            KeyValue::new("cache.hit", AttributeValue::Bool(false)),
            KeyValue::new("tags", AttributeValue::Array(vec![AttributeValue::String("a".into())])),
        ],
    };
    vec![
        select_items,
        span(pay, &payment),
        span(root, &frontend),
        span(cache, &payment),
        span(checkout_server, &checkout),
        span(post_payment, &frontend),
        span(get_checkout, &frontend),
    ]
}

fn query(text: &str) -> TraceQuery {
    parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The names of each resulting spanset's spans, sorted; `None` when the trace does not match.
fn run(text: &str) -> Option<Vec<Vec<String>>> {
    let trace = checkout_trace();
    let result = query(text).evaluate(&trace)?;
    Some(
        result
            .iter()
            .map(|set| {
                let mut names: Vec<String> = set.spans.iter().map(|&i| trace[i].name.clone()).collect();
                names.sort();
                names
            })
            .collect(),
    )
}

/// The span names of a query expected to give exactly one spanset.
fn names(text: &str) -> Vec<String> {
    let sets = run(text).unwrap_or_else(|| panic!("{text}: no match"));
    assert_eq!(sets.len(), 1, "{text}: {sets:?}");
    sets.into_iter().next().unwrap_or_default()
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

fn parse_error(text: &str) -> ParseError {
    match parse(text) {
        Ok(q) => panic!("{text}: parsed as {q}"),
        Err(e) => e,
    }
}

const VALID_QUERIES: &[&str] = &[
    "{}",
    "{ }",
    r#"{resource.service.name="checkout" && name="GET /cart" && duration>100ms && status=error}"#,
    "{ .http.status_code >= 500 }",
    r#"{span.http.method = "GET"} && {resource.service.name = "db"}"#,
    "{ kind = server } > { kind = client }",
    "{ status = error } | count() > 2",
    "{} | select(span.http.url)",
    r#"{ resource.service.name = "frontend" } >> { status = error }"#,
    r#"{ } !< { resource.service.name = "productcatalogservice" }"#,
    r#"{ resource.service.name = "a" } ~ { resource.service.name="b" }"#,
    r#"{ span.http.url = "/path" && status = error } &>> { status = error }"#,
    "{ status = error } !~ { status = error }",
    "{ span:duration > 100ms && span:name = \"x\" && span:status = ok && span:kind = producer }",
    "{ trace:rootName = \"x\" && trace:rootService = \"y\" && trace:duration > 2s }",
    "{ rootName = \"x\" && rootServiceName = \"y\" && traceDuration > 2s }",
    "{ statusMessage = \"Forbidden\" || span:statusMessage =~ \"For.*\" }",
    "{ span.\"attribute name with space\" = \"value\" }",
    "{ span.attribute.\"name with space\" = \"value\" }",
    "{ span.http.status_code >= 200 && span.http.status_code < 300 } | count() > 2",
    "{ span.any_attribute != nil }",
    "{ span.optional = nil }",
    "{ span.cache.hit || span.http.status_code = 500 }",
    "{ !(span.http.method = \"GET\") }",
    "{ span.retry_count > -1 && span.value != minInt && span.value != maxInt }",
    "{ span.value > 1.5 && span.ratio <= 2.5e3 }",
    "{ duration > 1.5s && duration < 2m && duration != 1h && duration >= 500us && duration <= 10ns }",
    "{ span.http.request_content_length > 10 * 1024 * 1024 }",
    "{ status = error } | by(resource.service.name) | count() > 1",
    "{ status = error } | select(span.http.status_code, span.http.url)",
    "{ } | sum(span.bytesProcessed) > 1000000000",
    "avg(duration) > 20ms",
    "count() > 10",
    "{ } | avg(duration) > 1s | min(duration) >= 1ms | max(span.size) < 3.5 | sum(duration) != 0s",
    "({ status = error } | count() > 1) && ({ kind = server })",
    "({ status = error } | count() > 1) && { kind = server }",
    "{ kind = server } | coalesce()",
    "{ event.exception.message =~ \".*something went wrong.*\" }",
    "{ event:name = \"exception\" && event:timeSinceStart > 2ms }",
    "{ link.opentracing.ref_type = \"child_of\" && link:traceID = \"abc\" && link:spanID != \"x\" }",
    "{ instrumentation.language = \"java\" && instrumentation:name = \"grpc\" }",
    "{ span:id = \"0000000000000001\" || span:parentID = \"1\" || trace:id = \"ab\" }",
    "{ span:childCount = 0 }",
    "{ childCount > 10 }",
    "{ name = \"x\" } with (most_recent=true)",
    "{ kind = unspecified || kind = internal || kind = consumer } && { status = unset }",
    "{ name = `raw \\ string` && name != \"esc\\\"aped\\n\\u00e9\" }",
    "{\n  resource.service.namespace = \"ecommerce\" &&\n  name = \"POST /api/orders\"\n}",
    "{ span.http.status_code = 200 } | select(resource.service.name)",
    "2 < count()",
    "{ true } && { false }",
    "{ .a } | { .b = 2 } | by(span.c)",
    "{ -duration < -1s }",
];

#[test]
fn valid_queries_parse_and_print_back_to_the_same_query() {
    for text in VALID_QUERIES {
        let parsed = query(text);
        let printed = parsed.to_string();
        let reparsed = parse(&printed).unwrap_or_else(|e| panic!("{text} printed as {printed}: {e}"));
        assert_eq!(reparsed.to_string(), printed, "{text}");
    }
}

#[test]
fn canonical_text_shows_grouping_and_normalised_literals() {
    let cases = [
        (
            r#"{resource.service.name="checkout"&&duration>100ms}"#,
            r#"{ (resource.service.name = "checkout") && (duration > 100ms) }"#,
        ),
        // `&&` and `||` share one precedence level, left-associative, as in Tempo's grammar.
        ("{ .a = 1 || .b = 2 && .c = 3 }", "{ ((.a = 1) || (.b = 2)) && (.c = 3) }"),
        ("{ .a = 1 || (.b = 2 && .c = 3) }", "{ (.a = 1) || ((.b = 2) && (.c = 3)) }"),
        // Structural operators bind tighter than spanset `&&`.
        ("{ .a = 1 } && { .b = 1 } > { .c = 1 }", "{ .a = 1 } && ({ .b = 1 } > { .c = 1 })"),
        ("{ .a = 1 } > { .b = 1 } > { .c = 1 }", "({ .a = 1 } > { .b = 1 }) > { .c = 1 }"),
        ("{ duration > 1500ms }", "{ duration > 1.5s }"),
        ("{ duration > 90s }", "{ duration > 1m30s }"),
        ("{ duration > 1h }", "{ duration > 1h0m0s }"),
        ("{ span:duration > 500us }", "{ duration > 500µs }"),
        ("{ trace:rootService = \"x\" }", "{ rootServiceName = \"x\" }"),
        ("{ .x = 2.0 }", "{ .x = 2.0 }"),
        ("{ span.x = -3 }", "{ span.x = -3 }"),
        ("{ .x != nil }", "{ .x != nil }"),
        ("{ nil = .x }", "{ .x = nil }"),
        ("{ .cache.hit }", "{ .cache.hit = true }"),
        ("{ .a + 2 * 3 > 7 }", "{ (.a + (2 * 3)) > 7 }"),
        ("{ 2 ^ 3 ^ 2 = .a }", "{ (2 ^ (3 ^ 2)) = .a }"),
        ("{ span.\"a b\" = 1 }", "{ span.\"a b\" = 1 }"),
        ("{ name =~ \"GET.*\" }", "{ name =~ \"GET.*\" }"),
        ("2 < count()", "count() > 2"),
        ("{} | by(resource.service.name)", "{ } | by(resource.service.name)"),
        ("{ .x = \"a\\\"b\" }", "{ .x = \"a\\\"b\" }"),
    ];
    for (text, expected) in cases {
        assert_eq!(query(text).to_string(), expected, "{text}");
    }
}

#[test]
fn errors_carry_tempo_style_positions() {
    let e = parse_error("{ .a = }");
    assert_eq!((e.line, e.col), (1, 8));
    assert_eq!(
        e.to_string(),
        "parse error at line 1, col 8: syntax error: unexpected \"}\", expecting a field expression"
    );
    let e = parse_error("{\n  name = \"x\" &&\n  }");
    assert_eq!((e.line, e.col), (3, 3));
    let e = parse_error("{ name = \"x\"");
    assert!(e.to_string().contains("unexpected end of query"), "{e}");
    assert_eq!(e.col, 13);
    let e = parse_error(r#"{resource.service.name="checkout" &&}"#);
    assert_eq!(e.col, 37);
}

#[test]
fn queries_outside_the_subset_are_refused_with_a_reason() {
    let cases: &[(&str, usize, &str)] = &[
        ("{ name > 3 }", 8, "cannot compare string with int"),
        ("{ status = \"error\" }", 10, "cannot compare status with string"),
        ("{ duration > \"1s\" }", 12, "cannot compare duration with string"),
        ("{ kind > server }", 8, "cannot order values of type kind"),
        ("{ .a = \"x }", 8, "literal not terminated"),
        ("{ .a =~ \"(\" }", 9, "invalid regular expression"),
        ("{ .a =~ .b }", 9, "must be a string literal"),
        ("{ status =~ \"err.*\" }", 3, "regular expressions match strings"),
        ("{ } | rate()", 7, "metrics queries are not supported"),
        ("{ } | count_over_time() by (resource.service.name)", 7, "metrics queries are not supported"),
        ("{ parent.foo = 1 }", 3, "parent scope is not supported"),
        ("{ span:foo = 1 }", 3, "unknown or unsupported intrinsic span:foo"),
        ("{ parent = 1 }", 3, "parent is not supported"),
        ("{ 1 }", 3, "must be a boolean expression, found int"),
        ("{ name }", 3, "must be a boolean expression, found string"),
        ("{ 1 && .a }", 3, "takes booleans, found int"),
        ("{ !name }", 4, "takes a boolean"),
        ("{ -name = 1 }", 4, "takes a number"),
        ("{ .a = 99999999999999999999 }", 8, "out of range"),
        ("{ } | count() > \"x\"", 17, "expecting a number or a duration"),
        ("{ } | avg(name) > 1", 11, "aggregates take a numeric field"),
        ("{ } | select(1)", 14, "select() takes attributes"),
        ("{ } >= { }", 5, "unexpected \">=\""),
        ("{ .a = 1 } { .b = 1 }", 12, "unexpected \"{\""),
        ("{ . = 1 }", 3, "attribute name expected"),
        ("{ span.\"unterminated = 1 }", 8, "quoted attribute name"),
        ("{ .a = 1 } # comment", 12, "unexpected character"),
        ("{ .a & .b }", 6, "unexpected character"),
        ("", 1, "unexpected end of query"),
        ("foo", 1, "unexpected identifier \"foo\""),
        ("{ .a = \"\\q\" }", 9, "invalid escape sequence"),
        ("{ } with (most_recent=)", 23, "a hint value"),
    ];
    for (text, col, needle) in cases {
        let e = parse_error(text);
        assert!(e.message.contains(needle), "{text}: {e}");
        assert_eq!(e.col, *col, "{text}: {e}");
    }
}

#[test]
fn every_prefix_of_every_query_parses_or_errors_without_panicking() {
    let trace = checkout_trace();
    let mut parsed_prefixes = 0;
    for text in VALID_QUERIES {
        for (end, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let prefix = &text[..end];
            match parse(prefix) {
                Ok(q) => {
                    parsed_prefixes += 1;
                    let _ = q.evaluate(&trace);
                    let _ = q.span_hints(TimeRange::ALL);
                }
                Err(e) => {
                    assert!(e.line >= 1 && e.col >= 1, "{prefix:?}: {e}");
                    assert!(e.to_string().starts_with("parse error at line "), "{prefix:?}: {e}");
                }
            }
        }
    }
    // Whole queries are prefixes too, and several strict prefixes are queries (`{}` of `{} | …`).
    assert!(parsed_prefixes > VALID_QUERIES.len(), "{parsed_prefixes}");
}

#[test]
fn long_chains_stay_flat_and_deep_nesting_is_refused_not_overflowed() {
    // Grafana-style long `||` lists are one flat node: parsed, evaluated, printed.
    let names: Vec<String> = (0..5000).map(|i| format!("name = \"op{i}\"")).collect();
    let long_or = format!("{{ {} || name = \"POST /pay\" }}", names.join(" || "));
    assert_eq!(run(&long_or), Some(vec![sorted(&["POST /pay"])]));
    let long_and = format!("{{ {} }}", vec!["duration > 1ms"; 5000].join(" && "));
    assert_eq!(run(&long_and).map(|sets| sets[0].len()), Some(6));

    for deep in [
        format!("{{ {}.a = 1{} }}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{{ {}.a }}", "!".repeat(10_000)),
        format!("{{ {}.a = 1 }}", "-".repeat(10_000)),
        format!("{{ .a = {}1 }}", "2 ^ ".repeat(10_000)),
        format!("{{ .a = {}1 }}", "1 + ".repeat(10_000)),
        format!("{{ .a = 1 {} }}", "&& .b = 1 || .c = 1 ".repeat(5_000)),
        format!("{}{{ }}{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{{ }}{}", " && { }".repeat(10_000)),
        format!("{{ }}{}", " | ({ }".repeat(10_000)),
    ] {
        let error = parse(&deep).expect_err("too deep");
        assert!(error.message.contains("nested too deeply"), "{error}");
    }
}

#[test]
fn filters_select_matching_spans_in_any_order_of_the_trace() {
    assert_eq!(
        names(r#"{ resource.service.name = "frontend" }"#),
        sorted(&["GET /cart", "HTTP GET checkout", "HTTP POST payment"])
    );
    assert_eq!(names("{ status = error }"), sorted(&["HTTP POST payment", "POST /pay"]));
    assert_eq!(names("{}").len(), 7);
    assert_eq!(
        names(r#"{resource.service.name="frontend" && name="GET /cart" && duration>100ms && status!=error}"#),
        sorted(&["GET /cart"])
    );
    assert_eq!(run(r#"{ resource.service.name = "nope" }"#), None);
    assert_eq!(query("{}").evaluate(&[]), None);
}

#[test]
fn comparisons_follow_tempo_type_rules() {
    // Ints compare numerically with ints and floats; a string literal never equals an int attribute.
    assert_eq!(names("{ .http.status_code >= 500 }"), sorted(&["HTTP POST payment", "POST /pay"]));
    assert_eq!(names("{ span.http.status_code = 503.0 }"), sorted(&["HTTP POST payment", "POST /pay"]));
    assert_eq!(run(r#"{ span.http.status_code = "503" }"#), None);
    assert_eq!(names("{ span.ratio = 0.5 && span.ratio < 1 }"), sorted(&["cache lookup"]));
    // A missing attribute compares false, even with `!=`; `!= nil` tests existence.
    assert_eq!(names(r#"{ span.db.system != "mysql" }"#), sorted(&["SELECT items"]));
    assert_eq!(names("{ span.db.system != nil }"), sorted(&["SELECT items"]));
    assert_eq!(names("{ span.db.system = nil }").len(), 6);
    // Unscoped attributes look at the span, then the resource; scoped ones only where they say.
    assert_eq!(names(r#"{ .deployment.environment = "production" }"#).len(), 7);
    assert_eq!(run(r#"{ span.deployment.environment = "production" }"#), None);
    assert_eq!(names(r#"{ resource.deployment.environment = "production" }"#).len(), 7);
    // Booleans, bare boolean attributes, negation.
    assert_eq!(names("{ span.cache.hit = true }"), sorted(&["POST /pay"]));
    assert_eq!(names("{ .cache.hit }"), sorted(&["POST /pay"]));
    assert_eq!(names("{ !span.cache.hit }"), sorted(&["cache lookup"]));
    assert_eq!(names(r#"{ !(span.http.method = "GET") }"#).len(), 5);
    // Quoted attribute names; arrays exist but equal nothing.
    assert_eq!(names(r#"{ span."retry count" = 2 }"#), sorted(&["POST /pay"]));
    assert_eq!(names("{ span.tags != nil }"), sorted(&["cache lookup"]));
    assert_eq!(run(r#"{ span.tags = "a" }"#), None);
    // Strings order lexicographically.
    assert_eq!(names(r#"{ name >= "cache" }"#), sorted(&["cache lookup"]));
    // Kinds and statuses.
    assert_eq!(names("{ kind = internal }"), sorted(&["cache lookup"]));
    assert_eq!(names("{ status = unset && kind = server }"), sorted(&["GET /cart", "GET /checkout"]));
    assert_eq!(names(r#"{ statusMessage = "card declined" }"#), sorted(&["POST /pay"]));
}

#[test]
fn regexes_are_fully_anchored() {
    assert_eq!(names(r#"{ name =~ "GET.*" }"#), sorted(&["GET /cart", "GET /checkout"]));
    assert_eq!(run(r#"{ name =~ "GET" }"#), None);
    assert_eq!(names(r#"{ name =~ ".*GET.*" }"#).len(), 3);
    assert_eq!(names(r#"{ span.http.method !~ "G.*" }"#), sorted(&["HTTP POST payment"]));
    assert_eq!(names(r#"{ resource.service.name =~ "pay.*|check.*" }"#).len(), 4);
}

#[test]
fn durations_and_arithmetic() {
    assert_eq!(names("{ duration > 200ms }"), sorted(&["GET /cart", "HTTP POST payment", "POST /pay"]));
    assert_eq!(names("{ duration >= 200ms }").len(), 4);
    assert_eq!(names("{ span:duration <= 1ms }"), sorted(&["cache lookup"]));
    assert_eq!(names("{ duration = 50ms }"), sorted(&["SELECT items"]));
    assert_eq!(names("{ duration > 100ms + 100ms }").len(), 3);
    assert_eq!(names("{ duration > 2 * 100ms }").len(), 3);
    assert_eq!(names("{ span.http.status_code > 250 * 2 }").len(), 2);
    assert_eq!(names("{ span.http.status_code % 100 = 3 }").len(), 2);
    assert_eq!(run("{ span:duration > 1s }"), None);
}

#[test]
fn trace_level_intrinsics_describe_the_whole_trace() {
    let all = r#"{ rootName = "GET /cart" && rootServiceName = "frontend" && traceDuration >= 500ms }"#;
    assert_eq!(names(all).len(), 7);
    assert_eq!(names(r#"{ trace:rootService = "frontend" && trace:duration = 500ms }"#).len(), 7);
    assert_eq!(run("{ trace:duration > 500ms }"), None);
    assert_eq!(names("{ childCount = 2 }"), sorted(&["GET /cart"]));
    assert_eq!(names("{ span:childCount = 0 }"), sorted(&["SELECT items", "cache lookup"]));
    assert_eq!(names(r#"{ span:parentID = nil }"#), sorted(&["GET /cart"]));
    // Nested set numbers: root 1–14; GET checkout 2–7 ⊃ GET /checkout 3–6 ⊃ SELECT 4–5; POST 8–13 …
    assert_eq!(names("{ nestedSetParent < 0 }"), sorted(&["GET /cart"]));
    assert_eq!(names("{ nestedSetLeft = 1 && nestedSetRight = 14 }"), sorted(&["GET /cart"]));
    assert_eq!(names("{ nestedSetParent = 3 }"), sorted(&["SELECT items"]));
    assert_eq!(
        names("{ nestedSetLeft > 7 && nestedSetRight < 14 }"),
        sorted(&["HTTP POST payment", "POST /pay", "cache lookup"])
    );
    assert_eq!(names(r#"{ span:id = "0000000000000006" }"#), sorted(&["POST /pay"]));
    assert_eq!(names(r#"{ trace:id = "07070707070707070707070707070707" }"#).len(), 7);
    assert_eq!(names(r#"{ instrumentation:name = "manual" && span:kind = internal }"#), sorted(&["cache lookup"]));
}

#[test]
fn event_fields_match_when_one_event_matches() {
    assert_eq!(names(r#"{ event.exception.message = "timeout" }"#), sorted(&["SELECT items"]));
    assert_eq!(names(r#"{ event:name = "exception" && event:timeSinceStart = 20ms }"#), sorted(&["SELECT items"]));
    assert_eq!(names("{ event.exception.message = nil }").len(), 6);
    assert_eq!(run(r#"{ event:name = "retry" }"#), None);
}

#[test]
fn spanset_and_or_combine_whole_spansets() {
    assert_eq!(
        names(r#"{ span.http.method = "GET" } && { resource.service.name = "payment" }"#),
        sorted(&["GET /cart", "HTTP GET checkout", "POST /pay", "cache lookup"])
    );
    assert_eq!(run(r#"{ span.http.method = "DELETE" } && { resource.service.name = "payment" }"#), None);
    assert_eq!(
        names(r#"{ span.http.method = "DELETE" } || { resource.service.name = "payment" }"#),
        sorted(&["POST /pay", "cache lookup"])
    );
}

#[test]
fn structural_operators_return_right_hand_spans() {
    assert_eq!(names(r#"{ resource.service.name = "checkout" } > { kind = client }"#), sorted(&["SELECT items"]));
    assert_eq!(
        names("{ kind = server } > { kind = client }"),
        sorted(&["HTTP GET checkout", "HTTP POST payment", "SELECT items"])
    );
    assert_eq!(names(r#"{ name = "GET /cart" } >> { status = error }"#), sorted(&["HTTP POST payment", "POST /pay"]));
    assert_eq!(names(r#"{ name = "HTTP POST payment" } >> { }"#), sorted(&["POST /pay", "cache lookup"]));
    assert_eq!(names(r#"{ name = "SELECT items" } < { }"#), sorted(&["GET /checkout"]));
    assert_eq!(names(r#"{ name = "SELECT items" } << { kind = server }"#), sorted(&["GET /cart", "GET /checkout"]));
    assert_eq!(names(r#"{ name = "HTTP GET checkout" } ~ { kind = client }"#), sorted(&["HTTP POST payment"]));
    // A span is not its own sibling.
    assert_eq!(run(r#"{ name = "GET /checkout" } ~ { }"#), None);
    // Leaves: spans that are nobody's parent.
    assert_eq!(names("{ } !< { }"), sorted(&["SELECT items", "cache lookup"]));
    assert_eq!(names("{ status = error } !< { status = error }"), sorted(&["POST /pay"]));
    assert_eq!(names("{ kind = server } !> { }"), sorted(&["GET /cart", "GET /checkout", "POST /pay"]));
    assert_eq!(
        names(r#"{ name = "HTTP GET checkout" } !~ { kind = client }"#),
        sorted(&["HTTP GET checkout", "SELECT items"])
    );
    // Union forms return both sides of each related pair.
    assert_eq!(names(r#"{ name = "POST /pay" } &> { kind = internal }"#), sorted(&["POST /pay", "cache lookup"]));
    assert_eq!(
        names("{ status = error } &>> { kind = internal }"),
        sorted(&["HTTP POST payment", "POST /pay", "cache lookup"])
    );
    assert_eq!(run(r#"{ name = "nope" } >> { }"#), None);
}

#[test]
fn pipelines_aggregate_group_and_select() {
    assert_eq!(run("{ status = error } | count() > 2"), None);
    assert_eq!(names("{ status = error } | count() > 1").len(), 2);
    assert_eq!(names("{ status = error } | count() = 2").len(), 2);
    assert_eq!(names("count() > 6").len(), 7);
    assert_eq!(run("count() > 7"), None);
    assert_eq!(names("{ status = error } | avg(duration) > 200ms").len(), 2);
    assert_eq!(run("{ status = error } | avg(duration) > 240ms"), None);
    assert_eq!(names("{ status = error } | avg(duration) = 240ms").len(), 2);
    assert_eq!(names("{ status = error } | min(duration) = 230ms | max(duration) = 250ms").len(), 2);
    assert_eq!(names("{ } | sum(span.http.status_code) = 1606").len(), 7);
    assert_eq!(names("{ } | avg(span.http.status_code) > 321 | avg(span.http.status_code) < 322").len(), 7);
    // No span has the field: no value to compare, the spanset is dropped.
    assert_eq!(run("{ } | max(span.nope) > 0"), None);

    let trace = checkout_trace();
    let grouped = query("{ } | by(resource.service.name)").evaluate(&trace).expect("groups");
    let mut groups: Vec<(AttributeValue, usize)> = grouped
        .iter()
        .map(|set| {
            assert_eq!(set.attributes.len(), 1);
            assert_eq!(set.attributes[0].0, "by(resource.service.name)");
            (set.attributes[0].1.clone(), set.spans.len())
        })
        .collect();
    groups.sort_by_key(|(v, _)| v.to_string());
    let s = |v: &str| AttributeValue::String(v.into());
    assert_eq!(groups, vec![(s("checkout"), 2), (s("frontend"), 3), (s("payment"), 2)]);

    let clients = query("{ kind = client } | by(resource.service.name) | count() > 1").evaluate(&trace).expect("match");
    assert_eq!(clients.len(), 1);
    assert_eq!(
        clients[0].attributes,
        vec![("by(resource.service.name)".to_string(), s("frontend")), ("count()".to_string(), AttributeValue::Int(2))]
    );

    let selected = query("{ status = error } | select(span.http.status_code, status, duration)").evaluate(&trace);
    let selected: Vec<SpanSetMatch> = selected.expect("match");
    assert_eq!(selected.len(), 1);
    assert_eq!(
        selected[0].attributes,
        vec![
            ("http.status_code".to_string(), AttributeValue::Int(503)),
            ("status".to_string(), s("error")),
            ("duration".to_string(), s("230ms")),
            ("duration".to_string(), s("250ms")),
        ]
    );
    let q = query("{ status = error } | select(span.http.method, resource.service.name)");
    let pay = trace.iter().position(|s| s.name == "POST /pay").expect("span");
    assert_eq!(q.selected_attributes(&trace, pay), vec![("service.name".to_string(), s("payment"))]);
    assert_eq!(q.selected_attributes(&trace, 99), Vec::new());
    assert_eq!(query("{ }").selected_attributes(&trace, pay), Vec::new());

    let merged = query("{ } | by(resource.service.name) | coalesce()").evaluate(&trace).expect("match");
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].spans, (0..7).collect::<Vec<_>>());
    assert_eq!(
        names(r#"({ status = error } | count() > 1) && { resource.service.name = "checkout" }"#),
        sorted(&["GET /checkout", "HTTP POST payment", "POST /pay", "SELECT items"])
    );
    assert_eq!(run(r#"({ status = error } | count() > 2) && { resource.service.name = "checkout" }"#), None);
    assert_eq!(names("{ kind = client } | { duration > 100ms }"), sorted(&["HTTP GET checkout", "HTTP POST payment"]));
}

#[test]
fn span_hints_take_the_conjunctive_conditions() {
    let range = TimeRange::new(10, 20);
    let hints = query(
        r#"{resource.service.name="checkout" && name="GET /cart" && duration>100ms && status=error && kind=server && span.http.method="GET" && .http.route="/cart" && duration <= 2s}"#,
    )
    .span_hints(range);
    let expected = SpanQuery {
        range,
        service: Some("checkout".into()),
        span_name: Some("GET /cart".into()),
        kind: Some(SpanKind::Server),
        attributes: vec![("http.method".into(), "GET".into()), ("http.route".into(), "/cart".into())],
        min_duration_nanos: Some(100 * MS + 1),
        max_duration_nanos: Some(2_000 * MS),
        error_only: true,
    };
    assert_eq!(hints, expected);

    // Literals first, intersecting bounds, and the conditions of later filter stages.
    let hints = query(r#"{ "x" = name && 1s < duration && duration >= 2s } | { duration < 3s }"#).span_hints(range);
    assert_eq!(hints.span_name.as_deref(), Some("x"));
    assert_eq!((hints.min_duration_nanos, hints.max_duration_nanos), (Some(2_000 * MS), Some(3_000 * MS - 1)));

    // Only-range cases: `||` at the top, spanset operators, structural operators.
    let only_range = SpanQuery::in_range(range);
    for text in [
        r#"{ resource.service.name = "a" || name = "b" }"#,
        r#"{ resource.service.name = "a" } && { name = "b" }"#,
        r#"{ resource.service.name = "a" } || { name = "b" }"#,
        "{ kind = server } > { kind = client }",
        "{ kind = server } >> { kind = client }",
        "{ kind = server } ~ { kind = client }",
        r#"({ name = "a" } | count() > 1) && { }"#,
        r#"{ name = "a" } | ({ kind = server } > { })"#,
        r#"{ !(name = "a") }"#,
        "{}",
        "count() > 2",
    ] {
        assert_eq!(query(text).span_hints(range), only_range, "{text}");
    }

    // Conditions a store lookup would get wrong are left out.
    for text in [
        r#"{ resource.deployment.environment = "production" }"#,
        r#"{ resource.service.name = "" }"#,
        r#"{ span.http.status_code = 200 }"#,
        r#"{ name =~ "GET.*" }"#,
        r#"{ status = ok }"#,
        r#"{ name != "a" }"#,
        r#"{ event.exception.message = "x" }"#,
        r#"{ duration > 1.5 }"#,
        r#"{ trace:rootName = "a" }"#,
    ] {
        assert_eq!(query(text).span_hints(range), only_range, "{text}");
    }

    // `a || b && c` is `(a || b) && c`: only c is certain.
    let hints = query(r#"{ name = "a" || name = "b" && kind = client }"#).span_hints(range);
    assert_eq!((hints.span_name, hints.kind), (None, Some(SpanKind::Client)));
    // Conditions before a scalar filter still hold for every result span.
    let hints = query("{ status = error } | count() > 2").span_hints(range);
    assert!(hints.error_only);
}

#[test]
fn span_hints_never_exclude_a_matching_span() {
    // For each query, every span of every result must meet the hint the way the store checks it.
    let trace = checkout_trace();
    let queries = [
        r#"{ resource.service.name = "frontend" && span.http.method = "GET" && duration >= 10ms }"#,
        r#"{ .http.method = "POST" && status = error && kind = client }"#,
        r#"{ name = "POST /pay" && duration > 200ms && duration < 300ms }"#,
        r#"{ .deployment.environment = "production" && duration = 50ms }"#,
    ];
    for text in queries {
        let q = query(text);
        let hint = q.span_hints(TimeRange::ALL);
        let result = q.evaluate(&trace).unwrap_or_else(|| panic!("{text}: no match"));
        for index in result.iter().flat_map(|set| set.spans.iter()) {
            let span = &trace[*index];
            assert!(hint.service.as_deref().is_none_or(|s| s == span.service_name()), "{text}");
            assert!(hint.span_name.as_deref().is_none_or(|n| n == span.name), "{text}");
            assert!(hint.kind.is_none_or(|k| k == span.kind), "{text}");
            assert!(!hint.error_only || span.is_error(), "{text}");
            assert!(hint.min_duration_nanos.is_none_or(|m| span.duration_nanos() >= m), "{text}");
            assert!(hint.max_duration_nanos.is_none_or(|m| span.duration_nanos() <= m), "{text}");
            for (key, value) in &hint.attributes {
                let shown = span.attribute(key).and_then(|v| v.to_display_string());
                assert_eq!(shown.as_deref(), Some(value.as_str()), "{text}");
            }
        }
    }
}

#[test]
fn tags_logfmt_parses_pairs_and_refuses_broken_input() {
    let pairs = |text: &str| parse_tags_logfmt(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let owned = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(pairs(""), Vec::new());
    assert_eq!(pairs("   "), Vec::new());
    assert_eq!(
        pairs(r#"service.name=cart http.status_code=500 k2="v 2""#),
        owned(&[("service.name", "cart"), ("http.status_code", "500"), ("k2", "v 2")])
    );
    assert_eq!(pairs(r#" a="x\"y\\z\n" b= c "#), owned(&[("a", "x\"y\\z\n"), ("b", ""), ("c", "")]));
    assert_eq!(pairs(r#"a="é\u00e9" a=1"#), owned(&[("a", "éé"), ("a", "1")]));
    for (text, needle) in [
        (r#"k="unterminated"#, "unterminated quoted value"),
        (r#"k="bad\q""#, "invalid escape"),
        (r#"k="v"x"#, "after quoted value"),
        ("=v", "a key must come first"),
        (r#"k=a"b"#, "in value"),
        ("k=a=b", "in value"),
        (r#""k"=v"#, "in key"),
        (r#"k="\u12""#, "invalid \\u escape"),
    ] {
        let error = parse_tags_logfmt(text).expect_err(text);
        assert!(error.contains(needle), "{text}: {error}");
    }
}

// Pharos — query/src/traces/traceql/tests.rs
