//! Alertmanager's matcher strings (`alertname="X"`, `{a=~"b|c", d!=e}`), as its classic parser in
//! `pkg/labels/parse.go` reads them in `matchers:` lists, `source_matchers`/`target_matchers`,
//! and as `amtool` and the API's `filter` parameter pass them.
//!
//! Grammar: optional braces around comma-separated matchers (commas inside double quotes do not
//! separate); each matcher is `name op value` with `name` = `[a-zA-Z_:][a-zA-Z0-9_:]*`, `op` one of
//! `=`, `!=`, `=~`, `!~`, spaces allowed around each part. The value may be double-quoted; inside
//! it `\n`, `\"` and `\\` are escapes, any other backslash is literal, and an unescaped `"` other
//! than the closing one is an error. Values must be valid UTF-8 (Rust strings always are).

use std::sync::OnceLock;

use pharos_storage::tsdb::{MatchOp, Matcher};
use regex::Regex;

/// Parse one line of matchers (`a="b", c=~"d"` or `{a="b"}`), in the order written.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let inner = text.strip_prefix('{').unwrap_or(text);
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in inner.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' if escaped => escaped = false,
            '"' => inside_quotes = !inside_quotes,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    // A trailing empty token (after a final comma, or an empty line) is dropped, as in Alertmanager.
    if !token.trim().is_empty() {
        tokens.push(token.trim().to_string());
    }
    tokens.iter().map(|token| parse_matcher(token)).collect()
}

/// Parse one matcher (`name op value`).
pub fn parse_matcher(text: &str) -> Result<Matcher, String> {
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    let shape = SHAPE.get_or_init(|| {
        Regex::new(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$").expect("valid pattern")
    });
    let caps = shape.captures(text).ok_or_else(|| format!("bad matcher format: {text}"))?;
    let (name, op, raw) = (&caps[1], &caps[2], &caps[3]);
    let op = match op {
        "=" => MatchOp::Equal,
        "!=" => MatchOp::NotEqual,
        "=~" => MatchOp::Regex,
        _ => MatchOp::NotRegex,
    };
    let unquoted_quote = || format!("matcher value contains unescaped double quote: {raw}");
    let (body, mut expect_closing_quote) = match raw.strip_prefix('"') {
        Some(body) => (body, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                None => value.push('\\'),
                Some(&(_, next)) => {
                    chars.next();
                    match next {
                        'n' => value.push('\n'),
                        '"' | '\\' => value.push(next),
                        other => {
                            value.push('\\');
                            value.push(other);
                        }
                    }
                }
            },
            '"' => {
                if !expect_closing_quote || i + 1 < body.len() {
                    return Err(unquoted_quote());
                }
                expect_closing_quote = false;
            }
            other => value.push(other),
        }
    }
    if expect_closing_quote {
        return Err(unquoted_quote());
    }
    new_matcher(op, name, &value)
}

/// A matcher with Alertmanager's regex anchoring (`^(?:value)$`) checked: the value must
/// compile as a regex. The storage matcher anchors it the same way.
pub fn new_matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, String> {
    Matcher::new(op, name, value).map_err(|e| e.to_string())
}

/// A matcher as Alertmanager prints it: `name="value"` with `\`, newline and `"` escaped
/// (OpenMetrics escaping; Go's `%q` is not used).
pub fn matcher_text(m: &Matcher) -> String {
    let mut out = String::with_capacity(m.name.len() + m.value.len() + 4);
    out.push_str(&m.name);
    out.push_str(m.op.as_str());
    out.push('"');
    for c in m.value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A matcher list as Alertmanager prints it: `{a="b",c=~"d"}`.
pub fn matchers_text(matchers: &[Matcher]) -> String {
    let inner: Vec<String> = matchers.iter().map(matcher_text).collect();
    format!("{{{}}}", inner.join(","))
}

/// Alertmanager's matcher order (name, then value, then operator `=` `!=` `=~` `!~`), which
/// route keys depend on.
pub fn sort_matchers(matchers: &mut [Matcher]) {
    fn rank(op: MatchOp) -> u8 {
        match op {
            MatchOp::Equal => 0,
            MatchOp::NotEqual => 1,
            MatchOp::Regex => 2,
            MatchOp::NotRegex => 3,
        }
    }
    matchers.sort_by(|a, b| {
        a.name.cmp(&b.name).then_with(|| a.value.cmp(&b.value)).then_with(|| rank(a.op).cmp(&rank(b.op)))
    });
}

// Pharos — alerting/src/notifier/config/matchers.rs
