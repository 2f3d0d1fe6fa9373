//! Label sets, label matchers and the stream-key text format.
//!
//! A stream is stored as its canonical label text (`schema::stream_key`, `{a="b", c="d"}`);
//! [`parse_stream_key`] reads it back. [`Labels`] is a label set kept sorted by name, the key of
//! result streams and series. [`Matcher`] is a Prometheus-style matcher (`=`, `!=`, `=~`, `!~`,
//! regexes fully anchored, an absent label reads as "").

use std::fmt;

use regex::Regex;

use super::error::LokiError;

/// A label set, sorted by name, names unique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(pub Vec<(String, String)>);

impl Labels {
    /// Builds a set from pairs in any order (later duplicates win).
    pub fn from_pairs(mut pairs: Vec<(String, String)>) -> Labels {
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        Labels(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.0[i].1.as_str())
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => value.clone_into(&mut self.0[i].1),
            Err(i) => self.0.insert(i, (name.to_string(), value.to_string())),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => Some(self.0.remove(i).1),
            Err(_) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Only the named labels (`by (…)`).
    pub fn keep_only(&self, names: &[String]) -> Labels {
        Labels(self.0.iter().filter(|(n, _)| names.iter().any(|k| k == n)).cloned().collect())
    }

    /// All but the named labels (`without (…)`).
    pub fn without(&self, names: &[String]) -> Labels {
        Labels(self.0.iter().filter(|(n, _)| !names.iter().any(|k| k == n)).cloned().collect())
    }
}

impl fmt::Display for Labels {
    /// The canonical text, identical to `schema::stream_key`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::schema::stream_key(&self.0))
    }
}

/// Reads the canonical stream text `{a="b", c="d"}` back into pairs. Accepts the escapes
/// `stream_key` writes (`\"`, `\\`, `\n`) plus `\t` and `\r`, optional spaces around names and
/// commas. Pairs come back in text order (sorted for text `stream_key` wrote).
pub fn parse_stream_key(text: &str) -> Result<Vec<(String, String)>, LokiError> {
    let bad = |why: &str| LokiError::Query(format!("invalid stream key {text:?}: {why}"));
    let body = text.trim();
    let body = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or_else(|| bad("not in braces"))?;
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return Err(bad("expected name="));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('"') {
            return Err(bad("expected a quoted value"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(bad("unterminated value")),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some(c) => value.push(c),
                    None => return Err(bad("unterminated escape")),
                },
                Some(c) => value.push(c),
            }
        }
        out.push((name, value));
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return Err(bad("expected ',' between labels")),
        }
    }
    Ok(out)
}

pub use pharos_proto::names::is_label_name;

/// A label name made valid: characters outside `[a-zA-Z0-9_]` become `_`, a leading digit gets a
/// `_` prefix. Empty stays empty (callers skip it).
pub fn sanitize_label_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Neq,
    Re,
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

/// A label matcher. Regexes are anchored at both ends.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; fails (with the regex compiler's message) on an invalid regex.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        let re = match op {
            MatchOp::Re | MatchOp::Nre => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("invalid regex {value:?}: {e}"))?)
            }
            _ => None,
        };
        Ok(Matcher { name: name.to_string(), op, value: value.to_string(), re })
    }

    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Eq => value == self.value,
            MatchOp::Neq => value != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::Nre => !self.re.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Matches a label set (absent label = "").
    pub fn matches_labels(&self, labels: &[(String, String)]) -> bool {
        let v = labels.iter().find(|(n, _)| *n == self.name).map_or("", |(_, v)| v.as_str());
        self.matches(v)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::stream_key;
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn stream_key_round_trips() {
        for labels in [
            pairs(&[]),
            pairs(&[("a", "b")]),
            pairs(&[("app", "x"), ("env", "prod")]),
            pairs(&[("a", "quote \" here"), ("b", "back\\slash"), ("c", "new\nline"), ("d", "")]),
            pairs(&[("a", "}{,= \"\\"), ("z", "ünïcödé")]),
        ] {
            let key = stream_key(&labels);
            assert_eq!(parse_stream_key(&key).unwrap(), labels, "{key}");
        }
    }

    #[test]
    fn stream_key_rejects_garbage() {
        for bad in ["", "a=\"b\"", "{a}", "{a=b}", "{a=\"b}", "{a=\"b\" c=\"d\"}", "{=\"x\"}", "{a=\"b\\"] {
            assert!(parse_stream_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matchers_are_anchored_and_absent_is_empty() {
        let m = Matcher::new("app", MatchOp::Re, "fo+").unwrap();
        assert!(m.matches("foo"));
        assert!(!m.matches("xfoo"));
        let m = Matcher::new("app", MatchOp::Eq, "").unwrap();
        assert!(m.matches_labels(&pairs(&[("b", "c")])));
        let m = Matcher::new("app", MatchOp::Nre, "a|b").unwrap();
        assert!(m.matches("ab") && !m.matches("a"));
        assert!(Matcher::new("app", MatchOp::Re, "(").is_err());
    }

    #[test]
    fn labels_sorted_ops() {
        let mut l = Labels::from_pairs(pairs(&[("b", "1"), ("a", "2"), ("b", "3")]));
        assert_eq!(l.0, pairs(&[("a", "2"), ("b", "3")]));
        l.set("c", "4");
        l.set("a", "5");
        assert_eq!(l.get("a"), Some("5"));
        assert_eq!(l.remove("b").as_deref(), Some("3"));
        assert_eq!(l.to_string(), "{a=\"5\", c=\"4\"}");
        assert_eq!(sanitize_label_name("http.status-code"), "http_status_code");
        assert_eq!(sanitize_label_name("1abc"), "_1abc");
    }
}

// Pharos — query/src/loki/labels.rs
