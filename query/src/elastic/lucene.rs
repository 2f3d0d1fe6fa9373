//! `query_string` (Lucene syntax) → [`QueryNode`], using tantivy's query grammar for the syntax
//! and this module's own field resolution (so `@timestamp`, `.keyword` and attribute paths resolve
//! as everywhere else).
//!
//! Beyond tantivy's grammar: `&&`, `||` and `!` are read as `AND`, `OR`, `NOT`; leading wildcards
//! (`*error*`) are allowed; `*:*` matches everything; `_exists_:field`; `/regex/`; unquoted words
//! containing `*` or `?` are wildcards; an unquoted value of several tokens (`host:web-1`) is a phrase.

use std::ops::Bound;

use serde_json::Value;
use tantivy::query::Occur;
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputBound, UserInputLeaf, UserInputLiteral};

use super::dsl::{self, BoolNode, FieldRef, QueryNode};
use super::error::EsError;
use super::{LogSchema, time};

/// Placeholders for wildcards starting a word, which the grammar would otherwise refuse.
const STAR: char = '\u{E000}';
const QMARK: char = '\u{E001}';

/// Parses a query string. `default_and` is `default_operator: AND`; `fields` are searched by words
/// without a field.
pub fn parse(schema: &LogSchema, query: &str, default_and: bool, fields: Vec<FieldRef>) -> Result<QueryNode, EsError> {
    let trimmed = query.trim();
    if trimmed.is_empty() || trimmed == "*" || trimmed == "*:*" {
        return Ok(QueryNode::All);
    }
    let prepared = prepare(trimmed);
    let ast = tantivy::query_grammar::parse_query(&prepared)
        .map_err(|_| EsError::QueryShard(format!("Failed to parse query [{query}]")))?;
    let cx = Cx { schema, default_and, fields, now: time::now_nanos() };
    cx.convert(ast)
}

/// Rewrites the operator spellings and leading wildcards the grammar does not know.
fn prepare(q: &str) -> String {
    let q = q.replace("*:*", "*");
    let chars: Vec<char> = q.chars().collect();
    let mut out = String::with_capacity(q.len() + 8);
    let mut in_quotes = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = if i == 0 { ' ' } else { chars[i - 1] };
        let next = chars.get(i + 1).copied();
        let at_word_start = prev.is_whitespace() || matches!(prev, '(' | ':' | '+' | '-') || i == 0;
        if c == '\\' {
            out.push(c);
            if let Some(n) = next {
                out.push(n);
            }
            i += 2;
            continue;
        }
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if !in_quotes {
            if (c == '&' && next == Some('&')) || (c == '|' && next == Some('|')) {
                out.push_str(if c == '&' { " AND " } else { " OR " });
                i += 2;
                continue;
            }
            if c == '!' && at_word_start && next.is_some_and(|n| !n.is_whitespace() && n != '=') {
                out.push_str("NOT ");
                i += 1;
                continue;
            }
            let word_follows = next.is_some_and(|n| !n.is_whitespace() && !matches!(n, ')' | ':'));
            if (c == '*' || c == '?') && at_word_start && word_follows {
                out.push(if c == '*' { STAR } else { QMARK });
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn restore(s: &str) -> String {
    s.replace(STAR, "*").replace(QMARK, "?")
}

/// Unescapes `\"` and `\\` inside a quoted phrase.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct Cx<'a> {
    schema: &'a LogSchema,
    default_and: bool,
    fields: Vec<FieldRef>,
    now: i64,
}

impl Cx<'_> {
    fn convert(&self, ast: UserInputAst) -> Result<QueryNode, EsError> {
        match ast {
            UserInputAst::Clause(clauses) => {
                if clauses.is_empty() {
                    return Ok(QueryNode::All);
                }
                let mut node = BoolNode::default();
                for (occur, sub) in clauses {
                    let sub = self.convert(sub)?;
                    match occur {
                        Some(Occur::Must) => node.must.push(sub),
                        Some(Occur::Should) => node.should.push(sub),
                        Some(Occur::MustNot) => node.must_not.push(sub),
                        None if self.default_and => node.must.push(sub),
                        None => node.should.push(sub),
                    }
                }
                Ok(QueryNode::Bool(node))
            }
            UserInputAst::Boost(inner, boost) => Ok(QueryNode::Boost(Box::new(self.convert(*inner)?), boost as f32)),
            UserInputAst::Leaf(leaf) => self.leaf(*leaf),
        }
    }

    fn leaf(&self, leaf: UserInputLeaf) -> Result<QueryNode, EsError> {
        match leaf {
            UserInputLeaf::All => Ok(QueryNode::All),
            UserInputLeaf::Exists { field } => {
                Ok(QueryNode::Exists { field: FieldRef::resolve(self.schema, &restore(&field)) })
            }
            UserInputLeaf::Literal(lit) => self.literal(lit),
            UserInputLeaf::Set { field, elements } => {
                let values: Vec<Value> = elements.into_iter().map(|e| Value::String(restore(&e))).collect();
                match field {
                    Some(f) => Ok(QueryNode::Terms { field: FieldRef::resolve(self.schema, &f), values }),
                    None => Ok(QueryNode::Bool(BoolNode {
                        should: self
                            .fields
                            .iter()
                            .map(|f| QueryNode::Terms { field: f.clone(), values: values.clone() })
                            .collect(),
                        ..Default::default()
                    })),
                }
            }
            UserInputLeaf::Range { field, lower, upper } => {
                let field = match field {
                    Some(f) => FieldRef::resolve(self.schema, &f),
                    None => self.fields.first().cloned().unwrap_or_else(|| FieldRef::resolve(self.schema, "message")),
                };
                let typed =
                    |b: UserInputBound, round_up_if_included: bool| -> Result<Bound<dsl::RangeValue>, EsError> {
                        let conv = |s: &str, round_up: bool| {
                            dsl::range_value(&field, &Value::String(s.to_string()), None, self.now, round_up)
                                .map_err(EsError::QueryShard)
                        };
                        Ok(match b {
                            UserInputBound::Unbounded => Bound::Unbounded,
                            UserInputBound::Inclusive(s) if s == "*" => Bound::Unbounded,
                            UserInputBound::Exclusive(s) if s == "*" => Bound::Unbounded,
                            UserInputBound::Inclusive(s) => Bound::Included(conv(&s, round_up_if_included)?),
                            UserInputBound::Exclusive(s) => Bound::Excluded(conv(&s, !round_up_if_included)?),
                        })
                    };
                let (lower, upper) = dsl::unify_range_types(typed(lower, false)?, typed(upper, true)?);
                Ok(QueryNode::Range { field, lower, upper })
            }
        }
    }

    fn literal(&self, lit: UserInputLiteral) -> Result<QueryNode, EsError> {
        if lit.field_name.as_deref() == Some("_exists_") {
            return Ok(QueryNode::Exists { field: FieldRef::resolve(self.schema, &restore(&lit.phrase)) });
        }
        let quoted = lit.delimiter != Delimiter::None;
        let text = if quoted { unescape(&lit.phrase) } else { restore(&lit.phrase) };
        let make = |field: FieldRef| -> QueryNode {
            if quoted {
                return QueryNode::Phrase { field, text: text.clone(), slop: lit.slop, prefix: lit.prefix };
            }
            if text.len() > 2 && text.starts_with('/') && text.ends_with('/') {
                return QueryNode::Regex { field, regex: text[1..text.len() - 1].to_string() };
            }
            if has_wildcard(&text) {
                return QueryNode::Regex { field, regex: dsl::wildcard_to_regex(&text) };
            }
            if dsl::analyze(&text).len() > 1 {
                return QueryNode::Phrase { field, text: text.clone(), slop: 0, prefix: false };
            }
            QueryNode::Match { field, text: text.clone(), and: true }
        };
        match &lit.field_name {
            Some(name) => Ok(make(FieldRef::resolve(self.schema, name))),
            None => {
                let plain = !quoted && !has_wildcard(&text) && !text.starts_with('/') && dsl::analyze(&text).len() <= 1;
                if plain && self.fields.len() > 1 {
                    return Ok(QueryNode::Text { text, and: self.default_and, fields: self.fields.clone() });
                }
                let mut nodes: Vec<QueryNode> = self.fields.iter().cloned().map(make).collect();
                if nodes.len() == 1 {
                    return Ok(nodes.pop().expect("one"));
                }
                Ok(QueryNode::Bool(BoolNode { should: nodes, ..Default::default() }))
            }
        }
    }
}

fn has_wildcard(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '*' || c == '?' {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_rewrites_operators_and_leading_wildcards() {
        assert_eq!(prepare("a && b || !c"), "a  AND  b  OR  NOT c");
        assert_eq!(prepare("*err*"), format!("{STAR}err*"));
        assert_eq!(prepare("level:*"), "level:*");
        assert_eq!(prepare("\"a && b\""), "\"a && b\"");
    }

    #[test]
    fn structure() {
        let schema = LogSchema::new();
        let q = parse(&schema, "level:error AND NOT debug", false, dsl::default_fields(&schema)).unwrap();
        let QueryNode::Bool(b) = q else { panic!("bool expected") };
        assert_eq!(b.must.len(), 2);
        assert!(matches!(&b.must[0], QueryNode::Match { field, .. } if field.name == "level"));
        assert!(parse(&schema, "a AND (", false, vec![]).is_err());
        assert_eq!(parse(&schema, "*", false, vec![]).unwrap(), QueryNode::All);
        let q = parse(&schema, "_exists_:http.status", false, vec![]).unwrap();
        assert!(matches!(q, QueryNode::Exists { field } if field.name == "http.status"));
    }
}

// Pharos — query/src/elastic/lucene.rs
