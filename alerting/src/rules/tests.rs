//! Rule file loading and validation, checked inline, against fixtures, and against promtool.

use std::path::Path;
use std::time::Duration;

use super::validate::{check_template, is_valid_label_name, is_valid_metric_name};
use super::*;

fn parse(text: &str) -> Result<RuleFile, RuleFileError> {
    parse_rule_file(Path::new("rules.yml"), text)
}

/// The problems of an invalid file, each rendered as a line of the error.
fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Err(err @ RuleFileError::Invalid { .. }) => err.to_string().lines().map(str::to_string).collect(),
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn one_rule(rule: &str) -> String {
    format!("groups:\n- name: g\n  rules:\n  - {}\n", rule.replace('\n', "\n    "))
}

#[test]
fn a_valid_file_becomes_the_model() {
    let file = parse(
        "groups:\n- name: api\n  interval: 30s\n  limit: 5\n  query_offset: 1m\n  labels: {team: web}\n  rules:\n  \
         - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    \
         keep_firing_for: 1m\n    labels: {severity: page}\n    annotations: {summary: '{{ $labels.job }}'}\n",
    )
    .unwrap();
    assert_eq!(file.path, Path::new("rules.yml"));
    let group = &file.groups[0];
    assert_eq!((group.name.as_str(), group.interval, group.limit), ("api", Some(Duration::from_secs(30)), 5));
    assert_eq!(group.query_offset, Some(Duration::from_secs(60)));
    assert_eq!(group.labels.get("team").map(String::as_str), Some("web"));
    assert_eq!(group.rules[0].kind, RuleKind::Recording { record: "job:up:sum".into() });
    assert_eq!(group.rules[0].expr, "sum by (job) (up)");
    let RuleKind::Alerting { alert, for_duration, keep_firing_for, annotations } = &group.rules[1].kind else {
        panic!("{:?}", group.rules[1])
    };
    assert_eq!(
        (alert.as_str(), *for_duration, *keep_firing_for),
        ("Down", Duration::from_secs(300), Duration::from_secs(60))
    );
    assert_eq!(annotations["summary"], "{{ $labels.job }}");
    assert_eq!(group.rules[1].labels["severity"], "page");
    assert_eq!(group.rules[1].name(), "Down");
}

#[test]
fn defaults_and_empty_files() {
    assert!(parse("").unwrap().groups.is_empty());
    assert!(parse("# only a comment\n").unwrap().groups.is_empty());
    let file = parse(&one_rule("alert: A\nexpr: up")).unwrap();
    let group = &file.groups[0];
    assert_eq!((group.interval, group.limit, group.query_offset), (None, 0, None));
    let RuleKind::Alerting { for_duration, keep_firing_for, .. } = &group.rules[0].kind else { panic!() };
    assert_eq!((*for_duration, *keep_firing_for), (Duration::ZERO, Duration::ZERO));
}

#[test]
fn scalars_are_read_as_text_like_go_yaml() {
    let file = parse(&one_rule("record: one\nexpr: 1\nlabels: {priority: 2, paging: true}")).unwrap();
    let rule = &file.groups[0].rules[0];
    assert_eq!(
        (rule.expr.as_str(), rule.labels["priority"].as_str(), rule.labels["paging"].as_str()),
        ("1", "2", "true")
    );
}

#[test]
fn yaml_problems_are_located_with_the_key_path() {
    let err = parse("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    fo: 5m\n").unwrap_err();
    let RuleFileError::Parse { line, column, message, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*line, *column), (6, 5));
    assert!(message.contains("groups[0].rules[0].fo: unknown field `fo`"), "{message}");
    assert!(err.to_string().starts_with("rules.yml:6:5: "), "{err}");
    let err = parse("groups:\n- name: g\n  unknown: 1\n").unwrap_err();
    assert!(err.to_string().contains("groups[0].unknown: unknown field `unknown`"), "{err}");
    assert!(matches!(parse("groups: [\n"), Err(RuleFileError::Parse { .. })));
    assert!(matches!(parse("groups:\n- name: g\n  rules: 5\n"), Err(RuleFileError::Parse { line: 3, .. })));
}

#[test]
fn group_names_must_be_present_and_unique() {
    assert_eq!(problems("groups:\n- rules: []\n"), ["rules.yml: group name must not be empty"]);
    assert_eq!(
        problems("groups:\n- name: a\n- name: b\n- name: a\n"),
        ["rules.yml: group name \"a\" is repeated in the same file"]
    );
}

#[test]
fn exactly_one_of_record_and_alert() {
    assert_eq!(
        problems(&one_rule("expr: up")),
        ["rules.yml: group \"g\", rule 1 (\"\"): one of 'record' or 'alert' must be set"]
    );
    assert_eq!(
        problems(&one_rule("alert: A\nrecord: a\nexpr: up")),
        ["rules.yml: group \"g\", rule 1 (\"A\"): only one of 'record' and 'alert' must be set"]
    );
    assert!(problems(&one_rule("alert: ''\nexpr: up"))[0].contains("one of 'record' or 'alert' must be set"));
}

#[test]
fn expressions_are_required_and_must_parse() {
    assert!(problems(&one_rule("alert: A"))[0].ends_with("field 'expr' must be set in rule"));
    let found = problems(&one_rule("alert: A\nexpr: sum(up"));
    assert_eq!(found.len(), 1);
    let expected = format!("could not parse expression: {}", pharos_query::promql::parse("sum(up").unwrap_err());
    assert!(found[0].ends_with(&expected), "{found:?}");
    assert!(found[0].contains("1:"), "PromQL errors carry line:col: {found:?}");
}

#[test]
fn recording_rules_reject_alerting_fields_and_bad_names() {
    let found = problems(&one_rule("record: 'a b'\nexpr: up\nfor: 1m\nkeep_firing_for: 1m\nannotations: {x: y}"));
    let expected = [
        "invalid field 'annotations' in recording rule",
        "invalid field 'for' in recording rule",
        "invalid field 'keep_firing_for' in recording rule",
        "invalid recording rule name: a b",
    ];
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for (line, wanted) in found.iter().zip(expected) {
        assert!(line.ends_with(wanted), "{line} should end with {wanted}");
    }
    // Zero durations are what Prometheus means by "not set".
    assert!(parse(&one_rule("record: a\nexpr: up\nfor: 0s\nkeep_firing_for: 0")).is_ok());
}

#[test]
fn label_and_annotation_names() {
    assert!(problems(&one_rule("alert: A\nexpr: up\nlabels: {1x: y}"))[0].ends_with("invalid label name: 1x"));
    assert!(
        problems(&one_rule("alert: A\nexpr: up\nlabels: {__name__: y}"))[0].ends_with("invalid label name: __name__")
    );
    assert!(
        problems(&one_rule("alert: A\nexpr: up\nannotations: {a-b: y}"))[0].ends_with("invalid annotation name: a-b")
    );
    assert!(problems("groups:\n- name: g\n  labels: {x.y: z}\n")[0].ends_with("group \"g\": invalid label name: x.y"));
    assert!(is_valid_label_name("_a1") && !is_valid_label_name("") && !is_valid_label_name("a:b"));
    assert!(is_valid_metric_name("job:up:sum") && is_valid_metric_name(":a") && !is_valid_metric_name("1a"));
    assert!(!is_valid_metric_name("") && !is_valid_metric_name("a-b") && !is_valid_metric_name("é"));
}

#[test]
fn templates_are_checked_for_closed_actions_and_known_variables() {
    assert_eq!(check_template("plain {text}"), Ok(()));
    assert_eq!(check_template("{{ $labels.instance }} is {{ humanize $value }}"), Ok(()));
    assert_eq!(check_template("{{ $ }}{{ $externalLabels.x }}{{ $externalURL }}"), Ok(()));
    assert_eq!(check_template(r#"{{ $x := "}}$y" }}{{ $x }}"#), Ok(()));
    assert_eq!(check_template("{{ range $i, $e := .Labels }}{{ $i }}{{ $e }}{{ end }}"), Ok(()));
    let error = |text| check_template(text).unwrap_err();
    assert!(error("{{ humanize $value }").starts_with("template: __rule:1:"), "{}", error("{{ humanize $value }"));
    assert_eq!(error("{{ $foo }}"), "template: __rule:1:4: undefined variable \"$foo\"");
    assert_eq!(error("{{ $y }}{{ $y := 1 }}"), "template: __rule:1:4: undefined variable \"$y\"");
    assert!(
        error("{{ nosuchfunc 1 }}").contains("function \"nosuchfunc\" not defined"),
        "{}",
        error("{{ nosuchfunc 1 }}")
    );
    let found = problems(&one_rule("alert: A\nexpr: up\nannotations: {s: '{{ $bad }}'}\nlabels: {l: '{{'}"));
    assert!(
        found.iter().any(|p| p.ends_with("annotation \"s\": template: __rule:1:4: undefined variable \"$bad\"")),
        "{found:?}"
    );
    assert!(found.iter().any(|p| p.contains("label \"l\": template: __rule:1:")), "{found:?}");
}

#[test]
fn durations_use_prometheus_syntax() {
    assert!(
        problems(&one_rule("alert: A\nexpr: up\nfor: 1.5m"))[0].ends_with("for: not a valid duration string: \"1.5m\"")
    );
    assert!(problems(&one_rule("alert: A\nexpr: up\nkeep_firing_for: 1x"))[0].contains("keep_firing_for: not a valid"));
    assert!(
        problems("groups:\n- name: g\n  interval: 10\n")[0]
            .ends_with("group \"g\": interval: not a valid duration string: \"10\"")
    );
    assert!(problems("groups:\n- name: g\n  query_offset: -1m\n")[0].contains("query_offset: not a valid"));
    assert!(matches!(parse("groups:\n- name: g\n  limit: -1\n"), Err(RuleFileError::Parse { line: 3, .. })));
}

#[test]
fn every_problem_in_a_file_is_reported() {
    let found = problems(
        "groups:\n- name: api\n  rules:\n  - alert: A\n    expr: sum(\n  - record: b c\n    expr: up\n    for: 1m\n\
         - name: ''\n- name: api\n",
    );
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found[0].starts_with("rules.yml: group \"api\", rule 1 (\"A\"): could not parse expression"), "{found:?}");
    assert!(found[1].starts_with("rules.yml: group \"api\", rule 2 (\"b c\"): invalid field 'for'"), "{found:?}");
    let rendered = parse("groups:\n- name: ''\n- name: ''\n").unwrap_err().to_string();
    assert_eq!(rendered.lines().count(), 2, "{rendered}");
}

#[test]
fn unreadable_files_name_the_path() {
    let err = load_rule_file(Path::new("/nonexistent/rules.yml")).unwrap_err();
    assert!(matches!(err, RuleFileError::Read { .. }));
    assert!(err.to_string().starts_with("/nonexistent/rules.yml: "), "{err}");
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().to_string()
}

#[test]
fn fixtures_good_pass_and_bad_fail() {
    let mut seen = (0, 0);
    for path in fixtures() {
        let name = file_name(&path);
        let result = load_rule_file(&path);
        if name.starts_with("good-") {
            seen.0 += 1;
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("bad-") {
            seen.1 += 1;
            let err = result.expect_err(&name).to_string();
            let expected = std::fs::read_to_string(path.with_extension("error")).unwrap();
            assert!(err.contains(expected.trim()), "{name}: {err:?} lacks {expected:?}");
        }
    }
    assert!(seen.0 >= 3 && seen.1 >= 15, "fixtures missing: {seen:?}");
}

/// Good fixtures using fields that older promtools (Debian 12 ships 2.42) do not know, with the
/// message such a promtool gives; a newer promtool accepts them.
const NEWER_THAN_OLD_PROMTOOL: [(&str, &str); 1] =
    [("good-newer-group-fields.yml", "not found in type rulefmt.RuleGroup")];

#[test]
fn promtool_accepts_exactly_the_good_fixtures() {
    let probe = std::process::Command::new("promtool").arg("--version").output();
    if probe.is_err() {
        eprintln!("note: promtool is not on PATH; skipping the comparison with `promtool check rules`");
        return;
    }
    let mut disagreements = Vec::new();
    for path in fixtures() {
        let name = file_name(&path);
        let output = std::process::Command::new("promtool").args(["check", "rules"]).arg(&path).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let accepted = output.status.success();
        let newer = NEWER_THAN_OLD_PROMTOOL.iter().find(|(fixture, _)| *fixture == name);
        match (name.starts_with("good-"), accepted, newer) {
            (true, false, Some((_, why))) if text.contains(why) => {}
            (good, accepted, _) if good == accepted => {}
            _ => disagreements.push(format!("{name}: promtool accepted={accepted}\n{text}")),
        }
    }
    assert!(disagreements.is_empty(), "promtool disagrees:\n{}", disagreements.join("\n"));
}

// Pharos — alerting/src/rules/tests.rs
