use std::collections::BTreeMap;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn no_query(_: &str) -> Result<Vec<QuerySample>, String> {
    Err("no queries in this test".into())
}

/// Expand a rule template with the given labels and value.
fn rule_with(text: &str, pairs: &[(&str, &str)], value: f64) -> Result<String, TemplateError> {
    let l = labels(pairs);
    let ext = labels(&[("cluster", "eu1")]);
    let data =
        RuleTemplateData { labels: &l, value, external_labels: &ext, external_url: "https://prom.example.com/prefix" };
    expand_rule_template("__alert_Test", text, &data, &no_query)
}

fn rule(text: &str) -> String {
    rule_with(text, &[("instance", "host1:9100"), ("job", "node")], 0.5).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn rule_err(text: &str) -> String {
    match rule_with(text, &[("instance", "host1:9100")], 0.5) {
        Ok(out) => panic!("{text} expanded to {out:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

const T0: i64 = 1_700_000_000_000_000_000; // 2023-11-14 22:13:20 UTC

fn alert(status: &str, pairs: &[(&str, &str)], annotations: &[(&str, &str)]) -> AlertData {
    AlertData {
        status: status.into(),
        labels: labels(pairs),
        annotations: labels(annotations),
        starts_at: T0,
        ends_at: if status == "resolved" { T0 + 60_000_000_000 } else { 0 },
        generator_url: "http://prom:9090/graph?g0.expr=up+%3D%3D+0".into(),
        fingerprint: "0123456789abcdef".into(),
    }
}

fn notification() -> NotificationData {
    NotificationData {
        receiver: "team-x".into(),
        status: "firing".into(),
        alerts: vec![
            alert(
                "firing",
                &[("alertname", "InstanceDown"), ("instance", "a:1"), ("job", "node")],
                &[("summary", "a <down>")],
            ),
            alert("firing", &[("alertname", "InstanceDown"), ("instance", "b:1"), ("job", "node")], &[]),
            alert("resolved", &[("alertname", "InstanceDown"), ("instance", "c:1"), ("job", "node")], &[]),
        ],
        group_labels: labels(&[("alertname", "InstanceDown")]),
        common_labels: labels(&[("alertname", "InstanceDown"), ("job", "node")]),
        common_annotations: BTreeMap::new(),
        external_url: "http://am.example.com".into(),
    }
}

fn render(text: &str) -> String {
    Templates::with_defaults()
        .render_with(text, &notification(), false, T0 + 3_600_000_000_000)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(rule("a  {{- 1 -}}  \n b"), "a1b");
    assert_eq!(rule("a {{1}} b"), "a 1 b");
    assert_eq!(rule("x {{- /* note */ -}} y{{/* c */}}z"), "xyz");
    // A dash glued to a number is a negative number, not a trim marker.
    assert_eq!(rule("a {{-3}} b"), "a -3 b");
}

#[test]
fn range_over_maps_is_sorted_with_index_and_else() {
    assert_eq!(
        rule_with(
            "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }};{{ end }}",
            &[("b", "2"), ("a", "1"), ("c", "3")],
            0.0
        )
        .unwrap(),
        "a=1;b=2;c=3;"
    );
    assert_eq!(rule("{{ range $i, $e := args 10 20 }}{{ end }}{{ range .ExternalLabels }}[{{ . }}]{{ end }}"), "[eu1]");
}

#[test]
fn range_else_break_continue() {
    let t = "{{ range $i, $s := sortByLabel \"x\" (args) }}{{ else }}empty{{ end }}";
    // `args` is a map, not a query result: sortByLabel refuses it.
    assert!(rule_err(t).contains("expected template.queryResult"));
    assert_eq!(
        rule("{{ range 5 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}"),
        "02"
    );
    assert_eq!(rule("{{ range $labels.nothing }}x{{ else }}none{{ end }}"), "none");
    let out = Templates::with_defaults()
        .render("{{ range .Alerts.Resolved }}{{ .Labels.instance }}{{ else }}-{{ end }}", &notification())
        .unwrap();
    assert_eq!(out, "c:1");
}

#[test]
fn variables_scope_and_assignment() {
    assert_eq!(rule("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}"), "2");
    assert!(rule_err("{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}").contains("undefined variable \"$y\""));
    assert_eq!(rule("{{ with $v := .Value }}{{ $v }}{{ end }}|{{ $.Value }}"), "0.5|0.5");
    assert_eq!(rule("{{ range $i, $e := .Labels }}{{ $i }}{{ end }}"), "instancejob");
}

#[test]
fn if_else_chains_and_with_else() {
    let t = "{{ if eq $labels.job \"api\" }}api{{ else if eq $labels.job \"node\" }}node{{ else }}other{{ end }}";
    assert_eq!(rule(t), "node");
    assert_eq!(rule("{{ with $labels.missing }}x{{ else }}absent{{ end }}"), "absent");
    assert_eq!(rule("{{ with .Labels.job }}{{ . }}{{ end }}"), "node");
}

#[test]
fn eq_and_comparisons_follow_go_kinds() {
    assert_eq!(rule("{{ eq $labels.job \"a\" \"b\" \"node\" }} {{ eq 1 2 3 }}"), "true false");
    assert_eq!(
        rule("{{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt 2.5 1.5 }} {{ ge \"b\" \"a\" }}"),
        "true true true true true"
    );
    // `$value` is a float64 and `1` an int: Go refuses to compare them.
    assert!(rule_err("{{ if gt $value 1 }}x{{ end }}").contains("incompatible types for comparison"));
    assert_eq!(rule("{{ if gt $value 0.1 }}high{{ end }}"), "high");
    assert!(rule_err("{{ lt true false }}").contains("invalid type for comparison"));
}

#[test]
fn logic_and_builtins() {
    assert_eq!(rule("{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }} {{ not 0 }} {{ and 1 2 }}"), "0 x true 2");
    assert_eq!(
        rule("{{ len $labels }} {{ len \"abc\" }} {{ index $labels \"job\" }} {{ index $labels \"nope\" }}|"),
        "2 3 node |"
    );
    assert_eq!(
        rule("{{ slice \"abcdef\" 1 3 }} {{ print 1 2 \"a\" \"b\" 3 }} {{ println 1 \"x\" }}"),
        "bc 1 2ab3 1 x\n"
    );
    assert_eq!(
        rule("{{ html \"<a href='x'>\" }} {{ urlquery \"a b&c\" }} {{ js \"it's\" }}"),
        "&lt;a href=&#39;x&#39;&gt; a+b%26c it\\'s"
    );
    assert_eq!(rule("{{ \"a\\tb\" }}{{ `raw\\n` }}{{ 'A' }}{{ 0x10 }}{{ true }}"), "a\tbraw\\n6516true");
    assert!(rule_err("{{ nil }}").contains("nil is not a command"));
    assert_eq!(
        rule("{{ (print \"x\" \"y\") | printf \"%s!\" }} {{ .Labels.job | toUpper | printf \"%q\" }}"),
        "xy! \"NODE\""
    );
}

#[test]
fn printf_forms() {
    assert_eq!(
        rule("{{ printf \"%.2f|%d|%s|%v|%q|%x|%5.1f|%-4d|%04d|%%\" 3.14159 42 \"s\" 0.5 \"q\" 255 2.25 7 7 }}"),
        "3.14|42|s|0.5|\"q\"|ff|  2.2|7   |0007|%"
    );
    assert_eq!(rule("{{ printf \"%d %s\" \"x\" 5 }}"), "%!d(string=x) %!s(int=5)");
    assert_eq!(rule("{{ printf \"%d %d\" 1 }} {{ printf \"%d\" 1 2 }}"), "1 %!d(MISSING) 1%!(EXTRA int=2)");
    assert_eq!(
        rule("{{ printf \"%e %g %.3g %v\" 1234.5 0.000012 1234.5678 1e21 }}"),
        "1.234500e+03 1.2e-05 1.23e+03 1e+21"
    );
}

#[test]
fn value_prints_like_go_float64() {
    assert_eq!(rule_with("{{ $value }}", &[], 1e6).unwrap(), "1e+06");
    assert_eq!(rule_with("{{ $value }}", &[], 3.0).unwrap(), "3");
    assert_eq!(rule_with("{{ $value }}", &[], 123456.0).unwrap(), "123456");
    assert_eq!(rule_with("{{ $value }}", &[], 1234567.0).unwrap(), "1.234567e+06");
    assert_eq!(rule_with("{{ $value }}", &[], 0.0001).unwrap(), "0.0001");
    assert_eq!(rule_with("{{ $value }}", &[], 0.00001).unwrap(), "1e-05");
    assert_eq!(rule_with("{{ $value }}", &[], f64::NAN).unwrap(), "NaN");
    assert_eq!(rule_with("{{ $value }}", &[], f64::NEG_INFINITY).unwrap(), "-Inf");
}

#[test]
fn prometheus_annotation() {
    let t =
        "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes. VALUE = {{ $value }}";
    assert_eq!(
        rule_with(t, &[("instance", "10.0.0.1:9100"), ("job", "node")], 1.0).unwrap(),
        "10.0.0.1:9100 of job node has been down for more than 5 minutes. VALUE = 1"
    );
    // Prometheus runs without missingkey=zero: an absent label prints Go's "<no value>".
    assert_eq!(rule("{{ $labels.absent }}"), "<no value>");
    assert_eq!(rule("{{ $externalLabels.cluster }} {{ $externalURL }}"), "eu1 https://prom.example.com/prefix");
}

#[test]
fn humanize_functions_match_prometheus_docs() {
    assert_eq!(
        rule(
            "{{ humanize 1234 }} {{ humanize 0.012 }} {{ humanize 0 }} {{ humanize 1234567.0 }} {{ humanize \"2048\" }}"
        ),
        "1.234k 12m 0 1.235M 2.048k"
    );
    assert_eq!(rule("{{ humanize1024 1048576 }} {{ humanize1024 1 }} {{ humanize1024 1536 }}"), "1Mi 1 1.5ki");
    assert_eq!(
        rule(
            "{{ humanizeDuration 3661 }} {{ humanizeDuration 90061 }} {{ humanizeDuration 1.5 }} {{ humanizeDuration 0.012 }} {{ humanizeDuration 0 }} {{ humanizeDuration -61 }}"
        ),
        "1h 1m 1s 1d 1h 1m 1s 1.5s 12ms 0s -1m 1s"
    );
    assert_eq!(rule("{{ humanizePercentage 0.1234 }} {{ humanizePercentage 0.5 }}"), "12.34% 50%");
    assert_eq!(rule("{{ humanizeTimestamp 1435065584.128 }}"), "2015-06-23 13:19:44.128 +0000 UTC");
    assert_eq!(
        rule("{{ (toTime 1435065584).Format \"2006-01-02T15:04:05Z07:00 Mon Jan _2 3PM\" }}"),
        "2015-06-23T13:19:44Z Tue Jun 23 1PM"
    );
    assert_eq!(rule("{{ toTime 0 }}"), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(rule("{{ parseDuration \"1h30m\" }} {{ toDuration 90.5 }}"), "5400 1m30.5s");
    assert!(rule_err("{{ humanize \"abc\" }}").contains("error calling humanize"));
}

#[test]
fn string_functions() {
    assert_eq!(
        rule("{{ title \"hello wORLD foo_bar a-b\" }}|{{ toUpper \"ab\" }}|{{ toLower \"AB\" }}"),
        "Hello WORLD Foo_bar A-B|AB|ab"
    );
    assert_eq!(
        rule("{{ stripPort \"host:9100\" }} {{ stripPort \"[::1]:80\" }} {{ stripPort \"host\" }}"),
        "host ::1 host"
    );
    assert_eq!(
        rule(
            "{{ stripDomain \"db1.example.com:5432\" }} {{ stripDomain \"db1.example.com\" }} {{ stripDomain \"10.0.0.1:80\" }}"
        ),
        "db1:5432 db1 10.0.0.1:80"
    );
    assert_eq!(
        rule("{{ match \"^host[0-9]\" $labels.instance }} {{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}"),
        "true host1"
    );
    assert_eq!(
        rule("{{ graphLink \"up == 0\" }} {{ tableLink \"up\" }}"),
        "/graph?g0.expr=up+%3D%3D+0&g0.tab=0 /graph?g0.expr=up&g0.tab=1"
    );
    assert_eq!(
        rule("{{ externalURL }} {{ pathPrefix }} {{ safeHtml \"<b>\" }}"),
        "https://prom.example.com/prefix /prefix <b>"
    );
    assert_eq!(rule("{{ $a := args 1 \"x\" }}{{ $a.arg0 }} {{ $a.arg1 }} {{ $a.arg2 }}"), "1 x <no value>");
}

#[test]
fn query_functions() {
    let samples = |expr: &str| -> Result<Vec<QuerySample>, String> {
        if expr == "nothing" {
            return Ok(Vec::new());
        }
        if expr == "broken(" {
            return Err("parse error: unclosed paren".into());
        }
        Ok(vec![
            QuerySample { labels: labels(&[("instance", "b"), ("__value__", "7")]), value: 2048.0 },
            QuerySample { labels: labels(&[("instance", "a")]), value: 0.25 },
        ])
    };
    let l = labels(&[("instance", "x")]);
    let data = RuleTemplateData { labels: &l, value: 1.0, external_labels: &l, external_url: "" };
    let run = |text: &str| expand_rule_template("__alert_Q", text, &data, &samples);
    assert_eq!(run("{{ query \"up\" | first | value | humanize }}").unwrap(), "2.048k");
    assert_eq!(
        run("{{ with query \"up\" }}{{ . | first | label \"instance\" }} {{ . | first | strvalue }}{{ end }}").unwrap(),
        "b 7"
    );
    assert_eq!(
        run("{{ range sortByLabel \"instance\" (query \"up\") }}{{ .Labels.instance }}={{ .Value }} {{ end }}")
            .unwrap(),
        "a=0.25 b=2048 "
    );
    assert_eq!(run("{{ with query \"nothing\" }}x{{ else }}none{{ end }}").unwrap(), "none");
    let err = run("{{ query \"nothing\" | first }}").unwrap_err().to_string();
    assert!(err.contains("first() called on vector with no elements"), "{err}");
    let err = run("{{ query \"broken(\" }}").unwrap_err().to_string();
    assert!(err.contains("unclosed paren") && err.contains("__alert_Q:1:"), "{err}");
}

#[test]
fn parse_errors_name_template_and_position() {
    let e = check_rule_template("__alert_X", "ok\n{{ $labels.job").unwrap_err();
    assert_eq!((e.template.as_str(), e.line), ("__alert_X", 2));
    assert!(e.to_string().starts_with("template: __alert_X:2:") && e.message.contains("unclosed action"), "{e}");
    let e = check_rule_template("__alert_X", "a\nb {{ nosuchfunc 1 }}").unwrap_err();
    assert_eq!(e.to_string(), "template: __alert_X:2:6: function \"nosuchfunc\" not defined");
    let e = check_rule_template("__alert_X", "{{ $nope }}").unwrap_err();
    assert!(e.to_string().contains("undefined variable \"$nope\""), "{e}");
    assert!(check_rule_template("a", "{{ if 1 }}x").unwrap_err().message.contains("without {{end}}"));
    assert!(check_rule_template("a", "{{ end }}").unwrap_err().message.contains("unexpected {{end}}"));
    assert!(check_rule_template("a", "{{ break }}").unwrap_err().message.contains("outside {{range}}"));
    assert!(check_rule_template("a", "{{ \"abc }}").unwrap_err().message.contains("unterminated quoted string"));
    assert!(check_rule_template("a", "{{ /* x }}").is_err());
    assert!(check_rule_template("a", "{{ 1 | }}").is_err());
    assert!(check_rule_template("a", "{{ humanize $value }} {{ range $i, $e := $labels }}{{ $i }}{{ end }}").is_ok());
}

#[test]
fn execution_errors_name_template_and_position() {
    let e = rule_err("line1\n  {{ humanize 1 2 }}");
    assert!(
        e.starts_with("template: __alert_Test:2:6:") && e.contains("wrong number of args for humanize: want 1 got 2"),
        "{e}"
    );
    let e = rule_err("{{ index (args 1) \"arg0\" 3 }}");
    assert!(e.contains("can't index item of type int"), "{e}");
    assert!(rule_err("{{ $v := query_list }}").contains("not defined"));
    assert!(rule_err("{{ .Nope }}").contains("can't evaluate field Nope in type template.tmplData"));
    assert!(rule_err("{{ $value.Foo }}").contains("can't evaluate field Foo in type float64"));
    assert!(rule_err("{{ 1 2 }}").contains("can't give argument to non-function 1"));
    assert!(rule_err("{{ toUpper 5 }}").contains("expected string; got int"));
    assert!(rule_err("{{ template \"missing\" }}").contains("no such template \"missing\""));
    assert!(rule_err("{{ range \"abc\" }}{{ end }}").contains("range can't iterate over abc"));
    assert!(rule_err("{{ reReplaceAll \"(\" \"\" \"x\" }}").contains("error parsing regexp"));
    assert!(
        rule_err("{{ define \"loop\" }}{{ template \"loop\" }}{{ end }}{{ template \"loop\" }}")
            .contains("maximum template depth")
    );
}

#[test]
fn define_template_and_block() {
    assert_eq!(
        rule(
            "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" $labels.job }}{{ block \"y\" 5 }}<{{ . }}>{{ end }}"
        ),
        "[node]<5>"
    );
    let mut t = Templates::with_defaults();
    t.add_text(
        "user.tmpl",
        "{{ define \"__alertmanager\" }}Custom{{ end }}{{ define \"mine\" }}{{ len .Alerts }}{{ end }}",
    )
    .unwrap();
    assert_eq!(
        t.render("{{ template \"slack.default.username\" . }} {{ template \"mine\" . }}", &notification()).unwrap(),
        "Custom 3"
    );
}

#[test]
fn default_subject_counts_firing_alerts() {
    assert_eq!(render("{{ template \"__subject\" . }}"), "[FIRING:2] InstanceDown (node)");
    assert_eq!(render("{{ template \"email.default.subject\" . }}"), "[FIRING:2] InstanceDown (node)");
    let mut data = notification();
    data.common_labels = data.group_labels.clone();
    data.status = "resolved".into();
    let out = Templates::with_defaults().render("{{ template \"slack.default.title\" . }}", &data).unwrap();
    assert_eq!(out, "[RESOLVED] InstanceDown ");
    assert_eq!(render("{{ template \"__alertmanagerURL\" . }}"), "http://am.example.com/#/alerts?receiver=team-x");
}

#[test]
fn default_template_names_exist() {
    let t = Templates::with_defaults();
    for name in [
        "__alertmanager",
        "__alertmanagerURL",
        "__subject",
        "__description",
        "__text_alert_list",
        "__text_alert_list_markdown",
        "slack.default.title",
        "slack.default.username",
        "slack.default.fallback",
        "slack.default.callbackid",
        "slack.default.pretext",
        "slack.default.titlelink",
        "slack.default.iconemoji",
        "slack.default.iconurl",
        "slack.default.text",
        "slack.default.footer",
        "pagerduty.default.description",
        "pagerduty.default.client",
        "pagerduty.default.clientURL",
        "pagerduty.default.instances",
        "opsgenie.default.message",
        "opsgenie.default.description",
        "opsgenie.default.source",
        "wechat.default.message",
        "victorops.default.state_message",
        "pushover.default.title",
        "pushover.default.message",
        "sns.default.subject",
        "telegram.default.message",
        "discord.default.title",
        "webex.default.message",
        "msteams.default.title",
        "msteams.default.text",
        "email.default.subject",
        "email.default.html",
    ] {
        assert!(t.contains(name), "{name} missing");
        // Every default renders without error on a typical notification.
        let arg = if name.starts_with("__text") { ".Alerts" } else { "." };
        t.render(&format!("{{{{ template {name:?} {arg} }}}}"), &notification())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let text = render("{{ template \"__text_alert_list\" .Alerts.Firing }}");
    assert!(text.starts_with("Labels:\n - alertname = InstanceDown\n - instance = a:1\n - job = node\nAnnotations:\n - summary = a <down>\nSource: http://prom"), "{text}");
}

#[test]
fn default_html_email_escapes_values() {
    let mut data = notification();
    data.alerts[0].labels.insert("path".into(), "/a?x=<b>&y=\"1\"".into());
    let html = Templates::with_defaults().render_html("{{ template \"email.default.html\" . }}", &data).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<th>path</th><td>/a?x=&lt;b&gt;&amp;y=&#34;1&#34;</td>"), "{html}");
    assert!(html.contains("<th>instance</th><td>a:1</td>") && html.contains("<th>instance</th><td>c:1</td>"));
    assert!(html.contains("<td>a &lt;down&gt;</td>"));
    assert!(html.contains("Firing (2)") && html.contains("Resolved (1)"));
    assert!(html.contains("href=\"http://prom:9090/graph?g0.expr=up+%3D%3D+0\""));
    // safeHtml bypasses escaping; plain rendering never escapes.
    let t = Templates::with_defaults();
    assert_eq!(t.render_html("{{ safeHtml \"<b>x</b>\" }}{{ \"<i>\" }}", &data).unwrap(), "<b>x</b>&lt;i&gt;");
    assert_eq!(t.render("{{ \"<i>\" }}", &data).unwrap(), "<i>");
}

#[test]
fn notification_data_methods_and_functions() {
    assert_eq!(
        render("{{ .Receiver }} {{ .Status }} {{ len .Alerts }} {{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}"),
        "team-x firing 3 2 1"
    );
    assert_eq!(
        render(
            "{{ .CommonLabels.Names | join \",\" }} {{ .CommonLabels.Values }} {{ (.CommonLabels.Remove (stringSlice \"job\")).Names }}"
        ),
        "alertname,job [InstanceDown node] [alertname]"
    );
    assert_eq!(
        render("{{ range (index .Alerts 0).Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"),
        "alertname=InstanceDown instance=a:1 job=node "
    );
    // Alertmanager runs with missingkey=zero: absent keys are empty.
    assert_eq!(render("[{{ .CommonAnnotations.summary }}]"), "[]");
    let a = "{{ with index .Alerts 2 }}{{ .StartsAt }}|{{ .EndsAt.Format \"15:04:05\" }}|{{ .Fingerprint }}|{{ .Status }}{{ end }}";
    assert_eq!(render(a), "2023-11-14 22:13:20 +0000 UTC|22:14:20|0123456789abcdef|resolved");
    assert_eq!(render("{{ (index .Alerts 0).EndsAt }}"), "0001-01-01 00:00:00 +0000 UTC");
    assert_eq!(
        render("{{ (index .Alerts 0).StartsAt | since }} {{ (index .Alerts 0).StartsAt | since | humanizeDuration }}"),
        "1h0m0s 1h 0m 0s"
    );
    assert_eq!(
        render(
            "{{ date \"2006-01-02\" (index .Alerts 0).StartsAt }} {{ (tz \"UTC\" (index .Alerts 0).StartsAt).Unix }}"
        ),
        "2023-11-14 1700000000"
    );
    assert_eq!(
        render(
            "{{ trimSpace \"  x \" }}{{ title \"ab cd\" }}{{ urlUnescape \"a%20b+c\" }}{{ toLower \"Q\" }}{{ match \"^Inst\" .CommonLabels.alertname }}"
        ),
        "xAb Cda b cqtrue"
    );
    assert_eq!(render("{{ reReplaceAll \"[aeiou]\" \"_\" \"alert\" }} {{ safeUrl \"http://x\" }}"), "_l_rt http://x");
    let t = Templates::with_defaults();
    assert!(
        t.render("{{ tz \"Mars/Base\" (index .Alerts 0).StartsAt }}", &notification())
            .unwrap_err()
            .to_string()
            .contains("unknown time zone")
    );
    assert!(t.check_text("{{ .Foo ").is_err());
    assert!(t.check_text("{{ query \"up\" }}").unwrap_err().to_string().contains("function \"query\" not defined"));
    assert_eq!(t.render("", &notification()).unwrap(), "");
}

#[test]
fn files_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.tmpl"), "{{ define \"a\" }}A{{ end }}").unwrap();
    std::fs::write(dir.path().join("b.tmpl"), "{{ define \"b\" }}B{{ template \"a\" }}{{ end }}").unwrap();
    std::fs::write(dir.path().join("c.txt"), "{{ define \"c\" }}C{{ end }}").unwrap();
    std::fs::write(dir.path().join("bad.tmpl.off"), "{{ define \"x\" }}").unwrap();
    let mut t = Templates::with_defaults();
    let n = t.add_glob(&format!("{}/*.tmpl", dir.path().display())).unwrap();
    assert_eq!(n, 2);
    assert!(t.contains("a") && t.contains("b") && !t.contains("c"));
    assert_eq!(t.render("{{ template \"b\" . }}", &notification()).unwrap(), "BA");
    assert_eq!(t.add_glob(&format!("{}/none-*.tmpl", dir.path().display())).unwrap(), 0);
    let e = t.add_file(&dir.path().join("bad.tmpl.off")).unwrap_err();
    assert!(e.to_string().starts_with("template: bad.tmpl.off:1:"), "{e}");
    assert!(t.add_file(&dir.path().join("absent.tmpl")).is_err());
}

#[test]
fn templates_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Templates>();
}

/// A tiny deterministic generator for the fuzz test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn random_templates_never_panic() {
    let pieces = [
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "$labels",
        "$value",
        ".",
        ".Labels",
        ".Alerts",
        ".Alerts.Firing",
        "|",
        "(",
        ")",
        "index",
        "len",
        "slice",
        "eq",
        "lt",
        "printf",
        "\"%d %s %.2f\"",
        "1",
        "-1",
        "2.5",
        "\"s\"",
        "nil",
        "true",
        "if",
        "else",
        "end",
        "range",
        "with",
        "$x :=",
        "$x",
        "define",
        "template",
        "\"x\"",
        "humanize",
        "first",
        "query",
        "\"up\"",
        "break",
        "continue",
        "/*",
        "*/",
        "SortedPairs",
        ".Values",
        "join",
        "since",
        "toUpper",
        "\n",
        "'a'",
        "0x",
        "`r`",
        ":=",
        "=",
        ",",
        "$i, $e :=",
        "block",
        "and",
        "or",
        "not",
        "args",
        "title",
        "value",
        "label",
    ];
    let query = |_: &str| Ok(vec![QuerySample { labels: BTreeMap::new(), value: 1.0 }]);
    let l = labels(&[("job", "x")]);
    let data = RuleTemplateData { labels: &l, value: 0.5, external_labels: &l, external_url: "" };
    let templates = Templates::with_defaults();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut executed = 0;
    for _ in 0..600 {
        let n = 1 + rng.next() % 14;
        let text: String = (0..n).map(|_| rng.pick(&pieces)).collect::<Vec<_>>().join(" ");
        if expand_rule_template("fuzz", &text, &data, &query).is_ok() {
            executed += 1;
        }
        let _ = templates.render(&text, &notification());
        let _ = templates.render_html(&text, &notification());
    }
    // Structured inputs that parse and then fail at run time.
    for text in [
        "{{ index .Alerts 99 }}",
        "{{ slice \"ab\" 2 1 }}",
        "{{ nil.Foo }}",
        "{{ len 3 }}",
        "{{ .Alerts.Firing.Nope }}",
        "{{ printf }}",
    ] {
        assert!(templates.render(text, &notification()).is_err(), "{text}");
    }
    assert!(executed > 0, "some random templates should expand");
}

// Pharos — alerting/src/template/tests.rs
