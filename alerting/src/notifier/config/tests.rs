//! `alertmanager.yml` loading: defaults, inheritance, routing, matchers, time intervals, errors,
//! the fixtures, and agreement with `amtool check-config`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pharos_storage::tsdb::MatchOp;

use super::*;
use crate::notifier::model::LabelSet;

fn parse(text: &str) -> AlertmanagerConfig {
    parse_config(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn invalid(text: &str) -> String {
    match parse_config(text) {
        Err(ConfigError::Invalid(message)) => message,
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn nanos(rfc3339: &str) -> i64 {
    i64::try_from(rfc3339.parse::<jiff::Timestamp>().unwrap().as_nanosecond()).unwrap()
}

const RECEIVERS: &str = "receivers:\n- name: r\n- name: a\n- name: b\n- name: c\n- name: d\n";

fn tree(routes: &str) -> Route {
    parse(&format!("route:\n  receiver: r\n  routes:\n{routes}{RECEIVERS}")).route
}

fn receivers_of<'a>(route: &'a Route, set: &LabelSet) -> Vec<&'a str> {
    route.match_alert(set).iter().map(|r| r.receiver.as_str()).collect()
}

#[test]
fn defaults_apply_without_settings() {
    let config = parse("route:\n  receiver: r\nreceivers:\n- name: r\n");
    assert_eq!(config.global.resolve_timeout, Duration::from_secs(300));
    assert_eq!((config.global.smtp_hello.as_str(), config.global.smtp_require_tls), ("localhost", true));
    assert!(config.global.http_config.follow_redirects && config.global.http_config.enable_http2);
    let route = &config.route;
    assert_eq!(
        (route.group_wait, route.group_interval, route.repeat_interval),
        (Duration::from_secs(30), Duration::from_secs(300), Duration::from_secs(4 * 3600))
    );
    assert_eq!(route.group_by, GroupBy::Labels(vec![]));
    assert_eq!(route.key(), "{}");
    assert!(config.original.starts_with("route:"));
}

#[test]
fn the_default_config_routes_everything_to_a_silent_receiver() {
    let config = default_config();
    let set = labels(&[("alertname", "X")]);
    let routes = config.route.match_alert(&set);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].receiver, "default");
    let receiver = config.receiver("default").unwrap();
    assert!(receiver.email_configs.is_empty() && receiver.slack_configs.is_empty());
    assert!(receiver.webhook_configs.is_empty());
    // Its text is itself a valid configuration that means the same.
    let reparsed = parse(&config.original);
    assert_eq!(reparsed.route, config.route);
    assert_eq!(reparsed.receivers, config.receivers);
}

#[test]
fn children_inherit_receiver_grouping_and_timers_but_not_time_intervals() {
    let config = parse(
        "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 10s\n  repeat_interval: 1h\n  routes:\n  \
         - matchers: [team=a]\n    group_interval: 2m\n    mute_time_intervals: [night]\n    routes:\n    \
         - matchers: [severity=page]\n      receiver: a\n      group_by: ['...']\n      routes:\n      \
         - matchers: [x=y]\n        group_by: [cluster]\n\
         time_intervals:\n- name: night\n  time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]\n\
         receivers:\n- name: r\n- name: a\n",
    );
    let team = &config.route.routes[0];
    assert_eq!(team.receiver, "r");
    assert_eq!(team.group_by, GroupBy::Labels(vec!["alertname".into()]));
    assert_eq!((team.group_wait, team.group_interval), (Duration::from_secs(10), Duration::from_secs(120)));
    assert_eq!(team.repeat_interval, Duration::from_secs(3600));
    assert_eq!(team.mute_time_intervals, vec!["night".to_string()]);
    let page = &team.routes[0];
    assert_eq!((page.receiver.as_str(), &page.group_by), ("a", &GroupBy::All));
    assert_eq!(page.group_interval, Duration::from_secs(120));
    assert!(page.mute_time_intervals.is_empty(), "time intervals are not inherited");
    let leaf = &page.routes[0];
    assert_eq!((leaf.receiver.as_str(), &leaf.group_by), ("a", &GroupBy::Labels(vec!["cluster".into()])));
    assert_eq!(leaf.key(), r#"{}/{team="a"}/{severity="page"}/{x="y"}"#);
}

#[test]
fn the_first_matching_child_wins() {
    let route = tree("  - matchers: [team=a]\n    receiver: a\n  - matchers: [team=~\"a|b\"]\n    receiver: b\n");
    assert_eq!(receivers_of(&route, &labels(&[("team", "a")])), ["a"]);
    assert_eq!(receivers_of(&route, &labels(&[("team", "b")])), ["b"]);
}

#[test]
fn continue_lets_later_siblings_match() {
    let route = tree(
        "  - matchers: [team=a]\n    receiver: a\n    continue: true\n  - matchers: [severity=page]\n    receiver: b\n  \
         - matchers: [team=a]\n    receiver: c\n",
    );
    assert_eq!(receivers_of(&route, &labels(&[("team", "a"), ("severity", "page")])), ["a", "b"]);
    assert_eq!(receivers_of(&route, &labels(&[("team", "a")])), ["a", "c"]);
}

#[test]
fn a_node_without_matching_children_handles_the_alert() {
    let route = tree(
        "  - matchers: [team=a]\n    receiver: a\n    routes:\n    - matchers: [severity=page]\n      receiver: b\n",
    );
    assert_eq!(receivers_of(&route, &labels(&[("team", "x")])), ["r"], "root handles unmatched alerts");
    assert_eq!(receivers_of(&route, &labels(&[("team", "a")])), ["a"], "the child handles what no grandchild does");
    assert_eq!(receivers_of(&route, &labels(&[("team", "a"), ("severity", "page")])), ["b"]);
    // A subtree that does not match returns nothing on its own.
    assert!(route.routes[0].match_alert(&labels(&[("team", "x")])).is_empty());
}

#[test]
fn route_keys_use_sorted_matchers_and_anchored_match_re() {
    let route = tree(
        "  - match: {alertname: X}\n    receiver: a\n    routes:\n    - match_re: {severity: page}\n      receiver: b\n  \
         - matchers: ['z=\"1\"', 'a!~\"x\\\"y\"', 'a=\"x\\\"y\"']\n    receiver: c\n",
    );
    assert_eq!(route.routes[0].key(), r#"{}/{alertname="X"}"#);
    assert_eq!(route.routes[0].routes[0].key(), r#"{}/{alertname="X"}/{severity=~"^(?:page)$"}"#);
    // Sorted by name, then value, then operator (= before !~); `"` escaped as Alertmanager prints.
    assert_eq!(route.routes[1].key(), r#"{}/{a="x\"y",a!~"x\"y",z="1"}"#);
    assert!(route.routes[0].routes[0].matchers[0].matches("page"));
    assert!(!route.routes[0].routes[0].matchers[0].matches("pager"));
}

#[test]
fn group_labels_follow_group_by() {
    let set = labels(&[("alertname", "X"), ("job", "node"), ("instance", "h:9100")]);
    let route = tree("  - matchers: [job=node]\n    receiver: a\n    group_by: [alertname, cluster]\n");
    assert_eq!(route.routes[0].group_labels(&set), labels(&[("alertname", "X")]), "absent labels are left out");
    assert!(route.group_labels(&set).is_empty(), "no group_by: one group");
    let all = tree("  - matchers: [job=node]\n    receiver: a\n    group_by: ['...']\n");
    assert_eq!(all.routes[0].group_labels(&set), set);
}

#[test]
fn matcher_strings_parse_like_alertmanager() {
    let ms = parse_matchers(r#"{alertname="Quoted, with comma", severity!=info,job=~"a|b" , x!~y}"#).unwrap();
    let shown: Vec<String> = ms.iter().map(matcher_text).collect();
    assert_eq!(shown, [r#"alertname="Quoted, with comma""#, r#"severity!="info""#, r#"job=~"a|b""#, r#"x!~"y""#]);
    assert_eq!(ms[2].op, MatchOp::Regex);
    assert!(ms[2].matches("b") && !ms[2].matches("ab"));

    let m = parse_matcher(r#"path="C:\\temp\"x\"\n""#).unwrap();
    assert_eq!(m.value, "C:\\temp\"x\"\n");
    assert_eq!(matcher_text(&m), r#"path="C:\\temp\"x\"\n""#);
    assert_eq!(parse_matcher(r"a=b\c").unwrap().value, r"b\c", "a spurious escape keeps its backslash");
    assert_eq!(parse_matcher("owner = Ünïcødé ").unwrap().value, "Ünïcødé");
    assert_eq!(parse_matcher(r#"empty="""#).unwrap().value, "");
    assert_eq!(parse_matcher("ns:name=v").unwrap().name, "ns:name");
    assert!(parse_matchers("").unwrap().is_empty());
    assert_eq!(parse_matchers("a=b,").unwrap().len(), 1);

    assert_eq!(parse_matcher("alertname").unwrap_err(), "bad matcher format: alertname");
    assert!(parse_matcher("1abc=x").unwrap_err().starts_with("bad matcher format"));
    assert!(parse_matcher(r#"a="b"c""#).unwrap_err().contains("unescaped double quote"));
    assert!(parse_matcher(r#"a="unterminated"#).unwrap_err().contains("unescaped double quote"));
    assert!(parse_matcher(r#"a=x"y"#).unwrap_err().contains("unescaped double quote"));
    assert!(parse_matcher("a=~(").unwrap_err().contains("invalid regular expression"));
}

fn interval(body: &str) -> TimeInterval {
    let config = parse(&format!(
        "route:\n  receiver: r\nreceivers:\n- name: r\ntime_intervals:\n- name: t\n  time_intervals:\n  - {body}\n"
    ));
    config.time_intervals["t"][0].clone()
}

#[test]
fn weekday_ranges_are_inclusive_and_case_insensitive() {
    let weekdays = interval("weekdays: ['Monday:wednesday', 'SATURDAY']");
    // 2024-03-04 is a Monday.
    let day = |d: u32| nanos(&format!("2024-03-{d:02}T12:00:00Z"));
    let hits: Vec<bool> = (3..=9).map(|d| weekdays.contains(day(d))).collect();
    assert_eq!(hits, [false, true, true, true, false, false, true], "Sun..Sat");
}

#[test]
fn negative_days_of_month_count_from_the_end() {
    let last_two = interval("days_of_month: ['-2:-1']");
    assert!(last_two.contains(nanos("2024-02-28T00:00:00Z")) && last_two.contains(nanos("2024-02-29T23:59:59Z")));
    assert!(!last_two.contains(nanos("2024-02-27T12:00:00Z")));
    assert!(last_two.contains(nanos("2023-02-27T12:00:00Z")), "February 2023 has 28 days");
    assert!(last_two.contains(nanos("2024-01-30T12:00:00Z")) && !last_two.contains(nanos("2024-01-29T12:00:00Z")));
    let first_to_last = interval("days_of_month: ['1:-1']");
    assert!(first_to_last.contains(nanos("2024-04-30T12:00:00Z")));
    let thirty_first = interval("days_of_month: ['31']");
    assert!(
        !thirty_first.contains(nanos("2024-04-30T12:00:00Z")) && thirty_first.contains(nanos("2024-05-31T01:00:00Z"))
    );
}

#[test]
fn times_are_evaluated_in_the_interval_location() {
    let office = interval("times: [{start_time: '09:00', end_time: '17:00'}]\n    location: America/New_York");
    // 13:59 UTC is 08:59 in New York in winter (UTC-5), 09:59 in summer (UTC-4).
    assert!(!office.contains(nanos("2024-01-15T13:59:00Z")));
    assert!(office.contains(nanos("2024-01-15T14:00:00Z")));
    assert!(office.contains(nanos("2024-07-15T13:59:00Z")));
    assert!(!office.contains(nanos("2024-07-15T21:00:00Z")), "the end minute is exclusive");
    let utc = interval("times: [{start_time: '09:00', end_time: '17:00'}]");
    assert!(utc.contains(nanos("2024-01-15T09:00:00Z")) && !utc.contains(nanos("2024-01-15T08:59:00Z")));
    // A weekday in one zone can be another weekday in UTC: Monday 01:00 in Tokyo is Sunday in UTC.
    let monday_tokyo = interval("weekdays: [monday]\n    location: Asia/Tokyo");
    assert!(monday_tokyo.contains(nanos("2024-03-03T16:00:00Z")));
    assert!(!monday_tokyo.contains(nanos("2024-03-04T16:00:00Z")));
    let late = interval("times: [{start_time: '22:00', end_time: '24:00'}]");
    assert!(late.contains(nanos("2024-03-03T23:59:59Z")) && !late.contains(nanos("2024-03-04T00:00:00Z")));
}

#[test]
fn months_and_years_combine_with_other_parts() {
    let christmas = interval("months: [december]\n    days_of_month: ['24:26']\n    years: ['2024:2025']");
    assert!(christmas.contains(nanos("2024-12-25T10:00:00Z")));
    assert!(!christmas.contains(nanos("2026-12-25T10:00:00Z")));
    assert!(!christmas.contains(nanos("2024-11-25T10:00:00Z")));
    let config = parse(
        "route:\n  receiver: r\nreceivers:\n- name: r\ntime_intervals:\n- name: t\n  time_intervals:\n  \
         - months: ['1']\n  - months: ['july:august']\n",
    );
    assert!(config.in_time_intervals(&["t".into()], nanos("2024-08-31T00:00:00Z")));
    assert!(!config.in_time_intervals(&["t".into()], nanos("2024-09-01T00:00:00Z")));
    assert!(!config.in_time_intervals(&["nope".into()], nanos("2024-01-01T00:00:00Z")));
}

#[test]
fn integrations_get_alertmanager_defaults_and_global_settings() {
    let config = parse(
        "global:\n  smtp_smarthost: mail:25\n  smtp_from: am@x\n  smtp_auth_username: u\n  smtp_require_tls: no\n  \
         slack_api_url: https://hooks.slack.com/g\nroute:\n  receiver: r\nreceivers:\n- name: r\n  email_configs:\n  \
         - to: ops@x\n    headers: {x-priority: 1}\n  slack_configs:\n  - channel: '#a'\n  webhook_configs:\n  \
         - url: http://h/\n  pagerduty_configs:\n  - routing_key: k\n",
    );
    let r = &config.receivers[0];
    let email = &r.email_configs[0];
    assert_eq!((email.from.as_str(), email.smarthost.to_string().as_str()), ("am@x", "mail:25"));
    assert_eq!((email.hello.as_str(), email.auth_username.as_str()), ("localhost", "u"));
    assert!(!email.require_tls && !email.send_resolved);
    assert_eq!(email.headers["Subject"], DEFAULT_EMAIL_SUBJECT);
    assert_eq!((email.headers["To"].as_str(), email.headers["From"].as_str()), ("ops@x", "am@x"));
    assert_eq!(email.headers["X-Priority"], "1", "header names title-cased, numbers read as text");
    assert_eq!(email.html, r#"{{ template "email.default.html" . }}"#);
    let slack = &r.slack_configs[0];
    assert_eq!(slack.api_url, "https://hooks.slack.com/g");
    assert_eq!(slack.title, r#"{{ template "slack.default.title" . }}"#);
    assert_eq!(slack.mrkdwn_in, ["fallback", "pretext", "text"]);
    assert!(!slack.send_resolved);
    let hook = &r.webhook_configs[0];
    assert!(hook.send_resolved && hook.max_alerts == 0 && hook.timeout.is_none());
    assert_eq!(r.unsupported, ["pagerduty_configs"]);
}

#[test]
fn bearer_tokens_become_authorization_and_local_http_config_replaces_global() {
    let config = parse(
        "global:\n  http_config: {bearer_token: g}\nroute:\n  receiver: r\nreceivers:\n- name: r\n  webhook_configs:\n  \
         - url: http://h/\n  - url: http://h/2\n    http_config: {authorization: {credentials: c}, follow_redirects: false}\n",
    );
    let hooks = &config.receivers[0].webhook_configs;
    let global_auth = hooks[0].http_config.authorization.as_ref().unwrap();
    assert_eq!((global_auth.kind.as_str(), global_auth.credentials.as_str()), ("Bearer", "g"));
    let own = &hooks[1].http_config;
    assert_eq!(own.authorization.as_ref().unwrap().credentials, "c");
    assert!(!own.follow_redirects && own.enable_http2);
}

#[test]
fn secret_files_are_read_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    std::fs::write(dir.path().join("hook"), " https://example.org/hook \n").unwrap();
    std::fs::write(dir.path().join("slack"), "https://hooks.slack.com/file").unwrap();
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(
        &path,
        "route:\n  receiver: r\nreceivers:\n- name: r\n  email_configs:\n  - {to: a@x, from: b@x, smarthost: 'h:25', \
         auth_password_file: pw}\n  webhook_configs:\n  - {url_file: hook, timeout: 15s}\n  slack_configs:\n  \
         - api_url_file: slack\n",
    )
    .unwrap();
    let config = load_config(&path).unwrap();
    let r = &config.receivers[0];
    assert_eq!(r.email_configs[0].auth_password, "s3cret");
    assert_eq!(r.webhook_configs[0].url, "https://example.org/hook");
    assert_eq!(r.webhook_configs[0].timeout, Some(Duration::from_secs(15)));
    assert_eq!(r.slack_configs[0].api_url, "https://hooks.slack.com/file");
    std::fs::remove_file(dir.path().join("pw")).unwrap();
    let err = load_config(&path).unwrap_err();
    assert!(matches!(&err, ConfigError::Invalid(m) if m.contains("auth_password_file")), "{err}");
    let err = load_config(&dir.path().join("missing.yml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
}

#[test]
fn yaml_problems_are_located_with_the_key_path() {
    let err = parse_config("route:\n  receiver: r\n  group_wiat: 1m\nreceivers:\n- name: r\n").unwrap_err();
    let ConfigError::Parse { line, column, message } = &err else { panic!("{err:?}") };
    assert_eq!((*line, *column), (3, 3));
    assert!(message.starts_with("route.group_wiat: unknown field `group_wiat`"), "{message}");
    assert!(err.to_string().starts_with("3:3: route.group_wiat: "), "{err}");
    let err = parse_config(
        "route:\n  receiver: r\nreceivers:\n- name: r\n  webhook_configs:\n  - url: http://h/\n    \
         max_alerts: -1\n",
    )
    .unwrap_err();
    let ConfigError::Parse { line, message, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*line, 7);
    assert!(message.starts_with("receivers[0].webhook_configs[0].max_alerts: "), "{message}");
    assert!(matches!(parse_config("route: [\n"), Err(ConfigError::Parse { .. })));
}

#[test]
fn yaml_1_1_booleans_and_scalars_are_read_like_go() {
    let config = parse(
        "route:\n  receiver: r\n  routes:\n  - {receiver: r, continue: yes, matchers: [a=b]}\nreceivers:\n- name: r\n  \
         webhook_configs:\n  - {url: 'http://h/', send_resolved: off}\n",
    );
    assert!(config.route.routes[0].continue_matching);
    assert!(!config.receivers[0].webhook_configs[0].send_resolved);
    assert!(matches!(
        parse_config("route:\n  receiver: r\n  routes:\n  - {receiver: r, continue: maybe}\nreceivers:\n- name: r\n"),
        Err(ConfigError::Parse { .. })
    ));
}

#[test]
fn semantic_problems_use_alertmanager_wording() {
    assert_eq!(invalid(""), "no route provided in config");
    assert_eq!(invalid("receivers:\n- name: r\n"), "no routes provided");
    assert_eq!(
        invalid("route:\n  receiver: r\n  active_time_intervals: [t]\nreceivers:\n- name: r\n"),
        "root route must not have any active time intervals"
    );
    assert_eq!(
        invalid(
            "route:\n  receiver: r\nreceivers:\n- name: r\ntime_intervals:\n- name: t\nmute_time_intervals:\n- name: t\n"
        ),
        "time interval \"t\" is not unique"
    );
    assert_eq!(
        invalid(
            "route:\n  receiver: r\nreceivers:\n- name: r\n  webhook_configs:\n  - {url: 'http://h/', url_file: f}\n"
        ),
        "at most one of url & url_file must be configured"
    );
    assert_eq!(
        invalid("route:\n  receiver: r\nreceivers:\n- name: r\n  webhook_configs:\n  - url: 'http:///x'\n"),
        "missing host for URL"
    );
    assert_eq!(
        invalid(
            "route:\n  receiver: r\nreceivers:\n- name: r\n  slack_configs:\n  - api_url: http://h/\n    \
                 actions: [{type: button, text: t}]\n"
        ),
        "missing name or url in Slack action configuration"
    );
    assert_eq!(
        invalid(
            "route:\n  receiver: r\nreceivers:\n- name: r\n  webhook_configs:\n  - url: http://h/\n    \
                 http_config: {authorization: {type: basic}}\n"
        ),
        r#"authorization type cannot be set to "basic", use "basic_auth" instead"#
    );
    assert!(invalid("route:\n  receiver: r\nreceivers:\n- {}\n").contains("missing name in receiver"));
    assert!(
        invalid("route:\n  receiver: r\n  repeat_interval: 0\nreceivers:\n- name: r\n").contains("repeat_interval")
    );
}

#[test]
fn inhibit_rules_convert_legacy_maps_to_matchers() {
    let config = parse(
        "route:\n  receiver: r\nreceivers:\n- name: r\ninhibit_rules:\n- source_match: {severity: critical}\n  \
         source_matchers: ['team!=\"x\"']\n  target_match_re: {severity: 'warn.*'}\n  equal: [cluster]\n",
    );
    let rule = &config.inhibit_rules[0];
    let shown: Vec<String> = rule.source_matchers.iter().map(matcher_text).collect();
    assert_eq!(shown, [r#"severity="critical""#, r#"team!="x""#]);
    assert_eq!(matcher_text(&rule.target_matchers[0]), r#"severity=~"^(?:warn.*)$""#);
    assert!(rule.target_matchers[0].matches("warning") && !rule.target_matchers[0].matches("critical"));
    assert_eq!(rule.equal, ["cluster"]);
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alertmanager");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

#[test]
fn fixtures_good_load_and_bad_fail_with_their_error() {
    let mut seen = (0, 0);
    for path in fixtures() {
        let name = file_name(&path);
        let result = load_config(&path);
        if name.starts_with("good-") {
            let config = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!config.receivers.is_empty(), "{name}");
            seen.0 += 1;
        } else {
            let expected = std::fs::read_to_string(path.with_extension("error")).unwrap();
            let err = result.err().unwrap_or_else(|| panic!("{name}: accepted")).to_string();
            assert!(err.contains(expected.trim()), "{name}: {err:?} lacks {:?}", expected.trim());
            seen.1 += 1;
        }
    }
    assert!(seen.0 >= 6 && seen.1 >= 12, "fixtures missing: {seen:?}");
}

#[test]
fn the_real_world_fixture_routes_as_alertmanager_would() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alertmanager");
    let config = load_config(&dir.join("good-real-world.yml")).unwrap();
    let route = &config.route;
    let to = |pairs: &[(&str, &str)]| -> Vec<String> {
        route.match_alert(&labels(pairs)).iter().map(|r| r.receiver.clone()).collect()
    };
    assert_eq!(to(&[("service", "foo1"), ("severity", "critical")]), ["pagerduty-critical", "team-x-pager"]);
    assert_eq!(to(&[("service", "foo2"), ("severity", "warning"), ("env", "prod")]), ["team-x-slack"]);
    assert_eq!(to(&[("service", "foo2"), ("severity", "warning"), ("env", "staging")]), ["team-x-mails"]);
    // A matching child with `continue` still counts as a match: its parent does not handle the alert.
    assert_eq!(to(&[("service", "database"), ("owner", "team-dba"), ("instance", "db1:9187")]), ["team-db-pager"]);
    assert_eq!(to(&[("service", "database"), ("owner", "team-db"), ("instance", "db1:9100")]), ["team-db-webhook"]);
    assert_eq!(to(&[("alertname", "Watchdog")]), ["null"]);
    assert_eq!(to(&[("alertname", "Other")]), ["ops-email"]);
    let x_slack = &route.routes[1].routes[1];
    assert_eq!(x_slack.key(), r#"{}/{service=~"^(?:^(foo1|foo2|baz)$)$"}/{env!="staging",severity=~"warning|info"}"#);
    assert_eq!(x_slack.repeat_interval, Duration::from_secs(3 * 3600));
    assert_eq!(config.templates.len(), 2);
    assert_eq!(config.inhibit_rules.len(), 2);
    let pager = config.receiver("team-x-pager").unwrap();
    assert_eq!(pager.email_configs[0].smarthost.to_string(), "mail.example.org:25");
    assert_eq!(pager.unsupported, ["pagerduty_configs"]);
    assert_eq!(config.receiver("team-x-mails").unwrap().email_configs[0].auth_password, "secret");
}

/// Good fixtures with fields newer than Debian's amtool 0.25, and the message it gives for them.
const NEWER_THAN_AMTOOL_0_25: [(&str, &str); 1] = [("good-newer-webhook-fields.yml", "field url_file not found")];

#[test]
fn amtool_accepts_exactly_the_good_fixtures() {
    if std::process::Command::new("amtool").arg("--version").output().is_err() {
        eprintln!("note: amtool is not on PATH; skipping the comparison with `amtool check-config`");
        return;
    }
    let mut disagreements = Vec::new();
    for path in fixtures() {
        let name = file_name(&path);
        let output = std::process::Command::new("amtool").args(["check-config"]).arg(&path).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let accepted = output.status.success();
        let newer = NEWER_THAN_AMTOOL_0_25.iter().find(|(fixture, _)| *fixture == name);
        match (name.starts_with("good-"), accepted, newer) {
            (true, false, Some((_, why))) if text.contains(why) => {}
            (good, accepted, _) if good == accepted => {}
            _ => disagreements.push(format!("{name}: amtool accepted={accepted}\n{text}")),
        }
    }
    assert!(disagreements.is_empty(), "amtool disagrees:\n{}", disagreements.join("\n"));
}

// Pharos — alerting/src/notifier/config/tests.rs
