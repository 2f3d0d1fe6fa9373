//! Label matchers: `=`, `!=`, `=~`, `!~` with fully anchored regular expressions, as PromQL
//! selectors and the `match[]` parameters use them.

use std::fmt;

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

/// A regex matcher whose pattern does not compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct MatcherError {
    pub pattern: String,
    pub reason: String,
}

impl Matcher {
    /// A matcher; regexes are anchored at both ends and `.` matches newlines, as in Prometheus.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, MatcherError> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| MatcherError { pattern: value.clone(), reason: e.to_string() })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher { name: name.into(), op, value, regex })
    }

    /// Shorthand for an equality matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher { name: name.into(), op: MatchOp::Equal, value: value.into(), regex: None }
    }

    /// Whether a label value matches; an absent label has the value "".
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_fully_anchored() {
        let m = Matcher::new(MatchOp::Regex, "job", "node|prom").unwrap();
        assert!(m.matches("node") && m.matches("prom"));
        assert!(!m.matches("node_exporter") && !m.matches("xprom"));
        let m = Matcher::new(MatchOp::Regex, "a", "x.*").unwrap();
        assert!(m.matches("x\ny"), "dot matches newline");
        let m = Matcher::new(MatchOp::NotRegex, "a", "").unwrap();
        assert!(!m.matches("") && m.matches("v"));
        assert!(Matcher::new(MatchOp::Regex, "a", "(").is_err());
    }

    #[test]
    fn equality_and_absent_labels() {
        assert!(Matcher::equal("a", "").matches(""));
        assert!(Matcher::new(MatchOp::NotEqual, "a", "x").unwrap().matches(""));
        assert_eq!(Matcher::equal("job", "x\"y").to_string(), "job=\"x\\\"y\"");
    }
}

// Pharos — storage/src/tsdb/matcher.rs
