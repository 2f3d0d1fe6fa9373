//! Printing PromQL syntax trees back to text, in Prometheus' canonical form.
//!
//! * `Display for Expr` is Prometheus' `String()` (`promql/parser/printer.go`) with one
//!   deliberate difference: label matchers keep their source order (Prometheus sorts them), so
//!   that `parse(&e.to_string())` gives back `e` exactly (ignoring spans).
//! * [`prometheus_string`] is Prometheus' `String()` exactly (matchers sorted).
//! * [`pretty`] is Prometheus' `Pretty(0)` (`prettier.go`, used by `/api/v1/format_query`):
//!   expressions longer than 100 characters are split over lines, indented by two spaces.
//!
//! Numbers print like Go's `strconv.FormatFloat(v, 'f', -1, 64)`, durations like
//! `model.Duration.String()`, strings like `strconv.Quote`, `@` timestamps with three decimals.

use pharos_proto::names::{is_label_name, is_metric_name};
use std::fmt::{self, Write as _};

use super::ast::*;
use super::lexer::go_quote;
use super::number::format_go_float;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_expr(&mut s, self, false);
        f.write_str(&s)
    }
}

/// Prometheus' exact `String()` form (label matchers sorted).
pub fn prometheus_string(expr: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, expr, true);
    s
}

/// Prometheus' `Pretty(0)`: the `String()` form, split over indented lines where longer than
/// 100 characters.
pub fn pretty(expr: &Expr) -> String {
    pretty_at(expr, 0)
}

/// Prometheus' `model.Duration.String()` of a non-negative number of milliseconds
/// (`1h30m`, `5m`, `1w`, `90d`, `0s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut ms = ms;
    let mut out = String::new();
    let units: [(&str, i64, bool); 7] = [
        ("y", 365 * 24 * 3_600_000, true),
        ("w", 7 * 24 * 3_600_000, true),
        ("d", 24 * 3_600_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            ms -= v * mult;
        }
    }
    out
}

/// Whether a metric name can be written bare (outside braces) and parse back as a selector.
fn is_bare_metric_name(s: &str) -> bool {
    if !is_metric_name(s) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(lower.as_str(), "bool" | "on" | "ignoring" | "group_left" | "group_right" | "atan2" | "inf" | "nan")
}

/// A grouping label as Prometheus writes it (quoted unless a legacy label name).
fn write_label(out: &mut String, l: &str) {
    if is_label_name(l) && !l.eq_ignore_ascii_case("inf") && !l.eq_ignore_ascii_case("nan") {
        out.push_str(l);
    } else {
        out.push_str(&go_quote(l));
    }
}

fn write_labels(out: &mut String, labels: &[String]) {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_label(out, l);
    }
}

fn match_op_str(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Regex => "=~",
        MatchOp::NotRegex => "!~",
    }
}

/// `name="value"` with the name quoted when it is not a plain identifier.
fn matcher_string(m: &LabelMatcher) -> String {
    let mut s = String::new();
    if is_label_name(&m.name) {
        s.push_str(&m.name);
    } else {
        s.push_str(&go_quote(&m.name));
    }
    s.push_str(match_op_str(m.op));
    s.push_str(&go_quote(&m.value));
    s
}

fn is_name_matcher(m: &LabelMatcher, name: &str) -> bool {
    m.name == "__name__" && m.op == MatchOp::Equal && m.value == name && !name.is_empty()
}

fn write_at(out: &mut String, at: Option<At>) {
    match at {
        Some(At::Timestamp(ms)) => {
            let _ = write!(out, " @ {:.3}", ms as f64 / 1000.0);
        }
        Some(At::Start) => out.push_str(" @ start()"),
        Some(At::End) => out.push_str(" @ end()"),
        None => {}
    }
}

fn write_offset(out: &mut String, offset: i64) {
    if offset > 0 {
        out.push_str(" offset ");
        out.push_str(&format_duration(offset));
    } else if offset < 0 {
        out.push_str(" offset -");
        out.push_str(&format_duration(offset.saturating_neg()));
    }
}

/// The selector without `@`/`offset`.
fn write_selector_base(out: &mut String, vs: &VectorSelector, sorted: bool) {
    let name = vs.name.as_deref().filter(|n| !n.is_empty());
    // Index of the matcher that carries the metric name, if any.
    let name_idx = name.and_then(|n| vs.matchers.iter().position(|m| is_name_matcher(m, n)));
    let bare = match (name, name_idx) {
        (Some(n), Some(i)) => is_bare_metric_name(n) && (sorted || i == 0),
        _ => false,
    };
    let mut parts: Vec<String> = Vec::with_capacity(vs.matchers.len());
    for (i, m) in vs.matchers.iter().enumerate() {
        if Some(i) == name_idx {
            if bare {
                continue;
            }
            if !sorted {
                parts.push(go_quote(&m.value));
                continue;
            }
        }
        parts.push(matcher_string(m));
    }
    if bare {
        out.push_str(name.unwrap_or_default());
    }
    if sorted {
        parts.sort();
    }
    if !parts.is_empty() || !bare {
        out.push('{');
        out.push_str(&parts.join(","));
        out.push('}');
    }
}

fn write_matching(out: &mut String, vm: &VectorMatching) {
    let grouped = matches!(vm.card, Cardinality::ManyToOne | Cardinality::OneToMany);
    if !vm.labels.is_empty() || vm.on || grouped {
        out.push_str(if vm.on { " on (" } else { " ignoring (" });
        write_labels(out, &vm.labels);
        out.push(')');
    }
    if grouped {
        out.push_str(if vm.card == Cardinality::ManyToOne { " group_left (" } else { " group_right (" });
        write_labels(out, &vm.include);
        out.push(')');
    }
}

/// `op`, ` bool` and the matching clause of a binary expression.
fn write_binary_op(out: &mut String, b: &Binary) {
    out.push_str(b.op.as_str());
    if b.return_bool {
        out.push_str(" bool");
    }
    if let Some(vm) = &b.matching {
        write_matching(out, vm);
    }
}

/// `sum by (a) ` / `sum without (a) ` / `sum`.
fn write_agg_op(out: &mut String, a: &Aggregate) {
    out.push_str(a.op.as_str());
    if a.without {
        out.push_str(" without (");
        write_labels(out, &a.grouping);
        out.push_str(") ");
    } else if !a.grouping.is_empty() {
        out.push_str(" by (");
        write_labels(out, &a.grouping);
        out.push_str(") ");
    }
}

fn subquery_suffix(out: &mut String, s: &Subquery) {
    out.push('[');
    out.push_str(&format_duration(s.range));
    out.push(':');
    if let Some(step) = s.step {
        out.push_str(&format_duration(step));
    }
    out.push(']');
    write_at(out, s.at);
    write_offset(out, s.offset);
}

fn write_expr(out: &mut String, e: &Expr, sorted: bool) {
    match e {
        Expr::Number { value, .. } => out.push_str(&format_go_float(*value)),
        Expr::String { value, .. } => out.push_str(&go_quote(value)),
        Expr::Paren { expr, .. } => {
            out.push('(');
            write_expr(out, expr, sorted);
            out.push(')');
        }
        Expr::Unary { op, expr, .. } => {
            out.push(if *op == UnaryOp::Neg { '-' } else { '+' });
            write_expr(out, expr, sorted);
        }
        Expr::Binary(b) => {
            write_expr(out, &b.lhs, sorted);
            out.push(' ');
            write_binary_op(out, b);
            out.push(' ');
            write_expr(out, &b.rhs, sorted);
        }
        Expr::Aggregate(a) => {
            write_agg_op(out, a);
            out.push('(');
            if let Some(p) = &a.param {
                write_expr(out, p, sorted);
                out.push_str(", ");
            }
            write_expr(out, &a.expr, sorted);
            out.push(')');
        }
        Expr::Call(c) => {
            out.push_str(c.func.name);
            out.push('(');
            for (i, a) in c.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a, sorted);
            }
            out.push(')');
        }
        Expr::VectorSelector(vs) => {
            write_selector_base(out, vs, sorted);
            write_at(out, vs.at);
            write_offset(out, vs.offset);
        }
        Expr::MatrixSelector(m) => {
            write_selector_base(out, &m.selector, sorted);
            out.push('[');
            out.push_str(&format_duration(m.range));
            out.push(']');
            write_at(out, m.selector.at);
            write_offset(out, m.selector.offset);
        }
        Expr::Subquery(s) => {
            write_expr(out, &s.expr, sorted);
            subquery_suffix(out, s);
        }
    }
}

/// Prometheus' line-length limit for [`pretty`].
const MAX_CHARACTERS_PER_LINE: usize = 100;

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn pretty_at(e: &Expr, level: usize) -> String {
    let flat = prometheus_string(e);
    let split = flat.len() > MAX_CHARACTERS_PER_LINE;
    match e {
        Expr::Aggregate(a) if split => {
            let mut s = indent(level);
            write_agg_op(&mut s, a);
            s.push_str("(\n");
            if let Some(p) = &a.param {
                s.push_str(&pretty_at(p, level + 1));
                s.push_str(",\n");
            }
            s.push_str(&pretty_at(&a.expr, level + 1));
            s.push('\n');
            s.push_str(&indent(level));
            s.push(')');
            s
        }
        Expr::Binary(b) if split => {
            let mut op = String::new();
            write_binary_op(&mut op, b);
            format!("{}\n{}{}\n{}", pretty_at(&b.lhs, level + 1), indent(level), op, pretty_at(&b.rhs, level + 1))
        }
        Expr::Call(c) if split => {
            let args: Vec<String> = c.args.iter().map(|a| pretty_at(a, level + 1)).collect();
            format!("{}{}(\n{}\n{})", indent(level), c.func.name, args.join(",\n"), indent(level))
        }
        Expr::Paren { expr, .. } if split => {
            format!("{}(\n{}\n{})", indent(level), pretty_at(expr, level + 1), indent(level))
        }
        Expr::Subquery(s) => {
            if !split {
                return flat;
            }
            let mut out = pretty_at(&s.expr, level);
            subquery_suffix(&mut out, s);
            out
        }
        Expr::Unary { op, expr, .. } => {
            let child = pretty_at(expr, level);
            let sign = if *op == UnaryOp::Neg { "-" } else { "+" };
            format!("{}{}{}", indent(level), sign, child.trim())
        }
        _ => format!("{}{}", indent(level), flat),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn roundtrip(q: &str) -> String {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).to_string()
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            (
                "sum(rate(http_requests_total{job=\"api\"}[5m] offset 1m)) by (job)",
                "sum by (job) (rate(http_requests_total{job=\"api\"}[5m] offset 1m))",
            ),
            ("foo[90m]", "foo[1h30m]"),
            ("foo[100]", "foo[1m40s]"),
            ("foo offset -50", "foo offset -50s"),
            ("foo @ 100 offset 5m", "foo @ 100.000 offset 5m"),
            ("foo offset 5m @ 1.2345", "foo @ 1.235 offset 5m"),
            ("foo[5m] @ end()", "foo[5m] @ end()"),
            ("rate(foo[5m:])", "rate(foo[5m:])"),
            ("foo[1h:1m] offset 3d @ start()", "foo[1h:1m] @ start() offset 3d"),
            ("a + on(b) group_left c", "a + on (b) group_left () c"),
            ("a > bool ignoring(x, y) b", "a > bool ignoring (x, y) b"),
            ("a and b", "a and b"),
            ("1e3 + 0x10 - .5", "1000 + 16 - 0.5"),
            ("-Inf", "-Inf"),
            ("nan", "NaN"),
            ("'a\\'b'", "\"a'b\""),
            ("`raw\\n`", "\"raw\\\\n\""),
            ("{__name__=\"foo\"}", "{__name__=\"foo\"}"),
            ("{\"foo\"}", "foo"),
            ("{\"my.metric\", \"a.b\"=\"c\"}", "{\"my.metric\",\"a.b\"=\"c\"}"),
            ("count_values(\"v\", foo)", "count_values(\"v\", foo)"),
            ("sum without () (foo)", "sum without () (foo)"),
            ("sum by () (foo)", "sum(foo)"),
            ("topk by (a, \"b.c\") (3, foo)", "topk by (a, \"b.c\") (3, foo)"),
            ("-(1)", "-(1)"),
            ("- - 1", "1"),
            ("-foo ^ 2", "-foo ^ 2"),
            ("foo[1w]", "foo[1w]"),
            ("foo[8d]", "foo[8d]"),
            ("foo[365d]", "foo[1y]"),
            ("foo[10s53ms]", "foo[10s53ms]"),
            ("1y", "31536000"),
        ];
        for (q, want) in cases {
            assert_eq!(roundtrip(q), want, "{q}");
        }
    }

    #[test]
    fn sorted_and_source_order() {
        let e = parse("foo{b=\"1\", a=\"2\"}").unwrap();
        assert_eq!(e.to_string(), "foo{b=\"1\",a=\"2\"}");
        assert_eq!(prometheus_string(&e), "foo{a=\"2\",b=\"1\"}");
    }

    #[test]
    fn durations_and_numbers() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(1), "1ms");
        assert_eq!(format_go_float(1e21), "1000000000000000000000");
        assert_eq!(format_go_float(1e-7), "0.0000001");
        assert_eq!(format_go_float(-0.5), "-0.5");
        assert_eq!(format_go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn pretty_short_and_long() {
        assert_eq!(pretty(&parse("sum(foo)").unwrap()), "sum(foo)");
        let q = "sum by (job) (rate(http_requests_total{job=\"api-server\",instance=\"localhost:9090\",handler=\"/api/v1/query\"}[5m]))";
        let want = "sum by (job) (\n  rate(http_requests_total{handler=\"/api/v1/query\",instance=\"localhost:9090\",job=\"api-server\"}[5m])\n)";
        assert_eq!(pretty(&parse(q).unwrap()), want);
        let q =
            "metric_one_with_a_long_name_to_exceed_the_limit + metric_two_with_a_long_name_to_exceed_the_limit_too_yes";
        let want = "  metric_one_with_a_long_name_to_exceed_the_limit\n+\n  metric_two_with_a_long_name_to_exceed_the_limit_too_yes";
        assert_eq!(pretty(&parse(q).unwrap()), want);
        let q = "-(metric_one_with_a_long_name_to_exceed_the_limit + metric_two_with_a_long_name_to_exceed_the_limit_too_yes)";
        let want = "-(\n    metric_one_with_a_long_name_to_exceed_the_limit\n  +\n    metric_two_with_a_long_name_to_exceed_the_limit_too_yes\n)";
        assert_eq!(pretty(&parse(q).unwrap()), want);
        let q = "label_replace(up{job=\"api-server\",service=\"a:c\"}, \"foo\", \"$1\", \"service\", \"(.*):.*\") + on (job) group_left foo";
        let p = pretty(&parse(q).unwrap());
        assert!(p.contains("\n+ on (job) group_left ()\n"), "{p}");
        assert_eq!(parse(&p).unwrap().to_string(), parse(q).unwrap().to_string());
    }
}

// Pharos — query/src/promql/printer.rs
