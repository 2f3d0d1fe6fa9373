//! TraceQL — the subset Grafana's Tempo datasource sends — over Pharos' span model.
//!
//! - [`parse`] turns query text into a [`TraceQuery`] ([`lexer`] → [`parser`] → [`ast`]); anything
//!   outside the subset is a [`ParseError`] with a position, in Tempo's wording.
//! - [`TraceQuery::span_hints`] gives the trace store conditions every span of a result meets
//!   ([`hints`]), to narrow the search for candidate traces.
//! - [`TraceQuery::evaluate`] runs the query over one whole trace ([`eval`]).
//!
//! Supported: spanset filters `{ cond }` (`{}` = every span) with `&&`, `||`, `!`, parentheses,
//! comparisons `= != > >= < <= =~ !~` (regexes fully anchored) and arithmetic `+ - * / % ^`;
//! attributes `span.x`, `resource.x`, `.x`, `event.x`, `link.x`, `instrumentation.x` (dotted and
//! `"quoted"` names); intrinsics `name status statusMessage kind duration childCount rootName
//! rootServiceName traceDuration nestedSetLeft nestedSetRight nestedSetParent` and the `span:`, `trace:`, `event:`, `link:`,
//! `instrumentation:` forms; literals (strings, ints, floats, durations, `true`/`false`, `nil`,
//! statuses, kinds, `minInt`/`maxInt`); spanset operators `&&`, `||`, `>`, `>>`, `<`, `<<`, `~`
//! and their `!`/`&` forms; pipelines with `count()`, `avg/min/max/sum(field)` compared to a
//! number or duration, `by(field)`, `select(fields…)`, `coalesce()`; a trailing `with(…)` hint is
//! ignored. Refused: metrics functions (`rate()`…), the `parent.` scope and intrinsic.
//! Array attributes are not matched element by element (they equal nothing; see [`eval`]).

pub mod ast;
pub mod eval;
pub mod hints;
pub mod lexer;
pub mod logfmt;
pub mod parser;

#[cfg(test)]
mod tests;

use std::fmt;

use pharos_storage::traces::{AttributeValue, Span, SpanQuery, TimeRange};

pub use logfmt::parse_tags_logfmt;

/// A query that is not TraceQL, or not the supported subset. Displays as Tempo's parser does:
/// `parse error at line 1, col 18: syntax error: unexpected "}", expecting …`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, col {col}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    /// The problem, without position.
    pub message: String,
}

impl ParseError {
    /// An error at byte offset `pos` of `input`.
    fn at(input: &str, pos: usize, message: impl Into<String>) -> ParseError {
        let mut pos = pos.min(input.len());
        while !input.is_char_boundary(pos) {
            pos -= 1;
        }
        let before = &input[..pos];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
        ParseError { line, col, message: message.into() }
    }
}

/// A parsed TraceQL query. `Display` prints it canonically, with nested operations parenthesised.
#[derive(Clone, Debug)]
pub struct TraceQuery {
    pipeline: ast::Pipeline,
    /// Every `select()` argument of the query, in order.
    selects: Vec<ast::FieldExpr>,
}

/// One resulting spanset of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanSetMatch {
    /// Indices into the evaluated trace, ascending.
    pub spans: Vec<usize>,
    /// Values the pipeline attached: `("by(resource.service.name)", value)` per `by()`,
    /// `("count()", n)`/`("avg(duration)", d)` per scalar filter, then the distinct values the
    /// `select()`ed fields take on the spans (`("http.url", value)`). Durations are Go-style
    /// strings (`1.5s`), statuses and kinds their names. May be empty.
    pub attributes: Vec<(String, AttributeValue)>,
}

/// Parses `query`.
pub fn parse(query: &str) -> Result<TraceQuery, ParseError> {
    let pipeline = parser::parse_pipeline(query)?;
    let mut selects = Vec::new();
    collect_selects(&pipeline, &mut selects);
    Ok(TraceQuery { pipeline, selects })
}

fn collect_selects(pipeline: &ast::Pipeline, out: &mut Vec<ast::FieldExpr>) {
    fn in_spanset(expr: &ast::SpansetExpr, out: &mut Vec<ast::FieldExpr>) {
        match expr {
            ast::SpansetExpr::Filter(_) => {}
            ast::SpansetExpr::Operation { lhs, rhs, .. } => {
                in_spanset(lhs, out);
                in_spanset(rhs, out);
            }
            ast::SpansetExpr::Pipeline(inner) => collect_selects(inner, out),
        }
    }
    for element in &pipeline.elements {
        match element {
            ast::PipelineElement::Select(fields) => out.extend(fields.iter().cloned()),
            ast::PipelineElement::Spanset(expr) => in_spanset(expr, out),
            _ => {}
        }
    }
}

impl TraceQuery {
    /// Conditions every span that can be part of a result meets, to narrow the store's search;
    /// never excludes such a span. With spanset operators the range alone (see [`hints`]).
    pub fn span_hints(&self, range: TimeRange) -> SpanQuery {
        hints::span_hints(&self.pipeline, range)
    }

    /// Evaluates the query over one trace: all of its spans, in any order (trace-level intrinsics
    /// and structural operators look at the whole trace). `None` when the trace does not match;
    /// otherwise the resulting spansets, each non-empty (a plain `{…}` query gives one spanset of
    /// every matching span).
    pub fn evaluate(&self, trace: &[Span]) -> Option<Vec<SpanSetMatch>> {
        eval::evaluate_pipeline(&self.pipeline, &self.selects, trace)
    }

    /// The values the query's `select()`ed fields take on `trace[span]`, keyed as Tempo keys span
    /// attributes in search results (attribute key without scope, or the intrinsic's name); fields
    /// without a value are left out. Empty without `select()` or when `span` is out of range.
    pub fn selected_attributes(&self, trace: &[Span], span: usize) -> Vec<(String, AttributeValue)> {
        if self.selects.is_empty() {
            return Vec::new();
        }
        eval::selected_values(&self.selects, trace, span)
    }
}

impl fmt::Display for TraceQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pipeline)
    }
}

// Pharos — query/src/traces/traceql/mod.rs
