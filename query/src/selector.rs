//! Series selectors as `match[]` parameters carry them: `metric{label="value", other=~"re"}`,
//! with quoted UTF-8 names (`{"my.metric", "a.b"="c"}`), and the three PromQL string quotes.
//! (The PromQL parser parses the same syntax inside expressions.)

use pharos_storage::tsdb::{METRIC_NAME, MatchOp, Matcher};

/// Parse a selector into matchers. Errors read like Prometheus' parse errors.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, String> {
    let mut p = Cursor { s: input, pos: 0 };
    let mut matchers = Vec::new();
    p.skip_ws();
    if let Some(name) = p.identifier(true) {
        matchers.push(Matcher::equal(METRIC_NAME, name));
    }
    p.skip_ws();
    if p.eat('{') {
        loop {
            p.skip_ws();
            if p.eat('}') {
                break;
            }
            let at = p.pos;
            let name = match p.peek() {
                Some('"' | '\'' | '`') => p.string()?,
                _ => p.identifier(false).ok_or_else(|| p.error("unexpected character inside braces"))?.to_string(),
            };
            p.skip_ws();
            let op = if p.eat_str("!=") {
                MatchOp::NotEqual
            } else if p.eat_str("=~") {
                MatchOp::Regex
            } else if p.eat_str("!~") {
                MatchOp::NotRegex
            } else if p.eat('=') {
                MatchOp::Equal
            } else if matches!(input[at..].chars().next(), Some('"' | '\'' | '`')) {
                // A bare quoted string is the metric name (Prometheus 3).
                if matchers.iter().any(|m: &Matcher| m.name == METRIC_NAME) {
                    return Err(p.error("metric name must not be set twice"));
                }
                matchers.push(Matcher::equal(METRIC_NAME, name));
                if p.end_of_item()? {
                    break;
                }
                continue;
            } else {
                return Err(p.error("expected a label matching operator"));
            };
            p.skip_ws();
            let value = p.string()?;
            if name == METRIC_NAME && matchers.iter().any(|m| m.name == METRIC_NAME) && op == MatchOp::Equal {
                return Err(p.error("metric name must not be set twice"));
            }
            matchers.push(Matcher::new(op, name, value).map_err(|e| e.to_string())?);
            if p.end_of_item()? {
                break;
            }
        }
    }
    p.skip_ws();
    if p.pos != input.len() {
        return Err(p.error("unexpected characters after the selector"));
    }
    if matchers.is_empty() || matchers.iter().all(|m| m.matches("")) {
        return Err("vector selector must contain at least one non-empty matcher".into());
    }
    Ok(matchers)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        if self.s[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += self.peek().map_or(1, char::len_utf8);
        }
    }

    /// After a matcher: a comma (more may follow) or the closing brace (true).
    fn end_of_item(&mut self) -> Result<bool, String> {
        self.skip_ws();
        if self.eat(',') {
            return Ok(false);
        }
        if self.eat('}') {
            return Ok(true);
        }
        Err(self.error("expected comma or closing brace"))
    }

    fn error(&self, what: &str) -> String {
        format!("1:{}: parse error: {what}", self.pos + 1)
    }

    /// A metric name (colons allowed) or label name.
    fn identifier(&mut self, metric: bool) -> Option<&'a str> {
        let start = self.pos;
        for (i, c) in self.s[start..].char_indices() {
            let ok = c.is_ascii_alphabetic() || c == '_' || (metric && c == ':') || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos = start + i + c.len_utf8();
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// A string literal in double quotes, single quotes (both with Go escapes) or backticks (raw),
    /// unquoted as PromQL unquotes it.
    fn string(&mut self) -> Result<String, String> {
        let quote = self.peek().filter(|c| matches!(c, '"' | '\'' | '`')).ok_or_else(|| self.error("expected a string"))?;
        let start = self.pos;
        let end = literal_end(self.s, start, quote).ok_or_else(|| self.error("unterminated quoted string"))?;
        let literal = &self.s[start..end];
        self.pos = end;
        crate::promql::unquote(literal).map_err(|e| self.error(&format!("invalid string {literal}: {e}")))
    }
}

/// The end (exclusive) of the quoted literal starting at `start` with `quote`: after the first
/// unescaped closing quote. `None` when the text ends first, or a line ends inside a `"` or `'`
/// literal.
pub(crate) fn literal_end(text: &str, start: usize, quote: char) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    loop {
        match *bytes.get(i)? {
            b'\\' if quote != '`' => i += 2,
            b'\n' if quote != '`' => return None,
            b if b == quote as u8 => return Some(i + 1),
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(input: &str) -> Result<Vec<String>, String> {
        parse_selector(input).map(|ms| ms.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn parses_names_and_matchers() {
        assert_eq!(show("up").unwrap(), vec!["__name__=\"up\""]);
        assert_eq!(
            show(r#"node_cpu_seconds_total{mode!="idle", cpu=~"0|1",}"#).unwrap(),
            vec!["__name__=\"node_cpu_seconds_total\"", "mode!=\"idle\"", "cpu=~\"0|1\""]
        );
        assert_eq!(show(r#"{__name__=~".+"}"#).unwrap(), vec!["__name__=~\".+\""]);
        assert_eq!(show(r#"{"my.metric", "a.b"='c\n'}"#).unwrap(), vec!["__name__=\"my.metric\"", "a.b=\"c\\n\""]);
        assert_eq!(show("job:rate5m{a=`x\\y`}").unwrap(), vec!["__name__=\"job:rate5m\"", "a=\"x\\\\y\""]);
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        assert!(show(r#"{job=""}"#).unwrap_err().contains("at least one non-empty matcher"));
        assert!(show(r#"{__name__!=""}"#).is_ok());
        assert!(show("{}").is_err());
        assert!(show("up{job=}").is_err());
        assert!(show(r#"up{job="x""#).is_err());
        assert!(show(r#"up{job~"x"}"#).is_err());
        assert!(show(r#"up{job=~"("}"#).unwrap_err().contains("invalid regular expression"));
        assert!(show(r#"up extra"#).is_err());
        assert!(show(r#"up{__name__="x"}"#).unwrap_err().contains("set twice"));
    }
}

// Pharos — query/src/selector.rs
