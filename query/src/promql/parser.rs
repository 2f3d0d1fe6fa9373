//! The PromQL parser: query text to [`Expr`], with Prometheus' syntax and type checks.
//!
//! A hand-written precedence-climbing parser over the tokens of [`super::lexer`] that accepts
//! the language of Prometheus 3's `generated_parser.y` and reports errors with Prometheus'
//! wording (`parse.go`, `generated_parser.y`, `lex.go`). As upstream, errors found while building
//! nodes (unknown function, offset set twice, ...) do not stop the parse, a syntax error does, the
//! type check runs only on a syntactically valid tree, and the first error found is reported.
//!
//! Beyond classic PromQL it accepts experimental syntax that folds to the fixed syntax tree:
//! constant duration arithmetic in ranges, subquery steps and `offset (...)` (`[5m+1m]`,
//! `offset (2*3)`, `min_of`/`max_of`), and the experimental functions and aggregations.
//! `step()`/`range()` inside durations, `anchored`/`smoothed`, `fill(...)` modifiers and `::`
//! aligned subqueries cannot be represented and are rejected.

use super::ast::*;
use super::functions;
use super::lexer::{self, Keyword, Token, TokenKind};

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p =
        Parser { input, tokens: lexer::lex(input), pos: 0, errors: Vec::new(), last_closing: 0, agg_depth: 0, nesting: 0 };
    let result = p.parse_top();
    if let Some(first) = p.errors.into_iter().next() {
        return Err(first);
    }
    let mut expr = result.map_err(|_| make_error(input, Span::new(0, 0), "unexpected error".into()))?;
    let mut checker = Checker { input, errors: Vec::new() };
    checker.check(&mut expr, false);
    match checker.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(expr),
    }
}

/// 1-based line and column of byte `offset` in `input`, as Prometheus computes them (the column
/// counts bytes from the last line break).
pub fn line_col(input: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(input.len());
    let before = &input.as_bytes()[..offset];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => offset - nl,
        None => offset + 1,
    };
    (line, col)
}

/// Builds a [`ParseError`] with its line and column.
fn make_error(input: &str, span: Span, message: String) -> ParseError {
    let (line, col) = line_col(input, span.start as usize);
    ParseError { span, message, line, col }
}

/// Marker for "a syntax error was recorded; stop parsing".
struct Abort;

type PResult<T> = Result<T, Abort>;

/// Binding power of binary operators, lowest first (Prometheus' `%left`/`%right` lines).
const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_CMP: u8 = 3;
const PREC_ADD: u8 = 4;
const PREC_MUL: u8 = 5;
const PREC_POW: u8 = 6;

/// Largest magnitude in seconds that still fits a Go `time.Duration`.
/// Deepest expression accepted (Prometheus has no limit, but recursive walks here need one).
const MAX_NESTING: usize = 128;

const MAX_DURATION_SECONDS: f64 = 9_223_372_036.854_775;

/// The parser state.
struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Errors in the order found; the first is reported.
    errors: Vec<ParseError>,
    /// End of the last `)`, `}`, `]`, number or duration consumed (upstream `lastClosing`).
    last_closing: usize,
    /// How many aggregation bodies we are inside (their error messages say "in aggregation").
    agg_depth: usize,
    /// Depth of the expression being built: sub-expressions entered plus binary operations
    /// chained on the way. Bounded by [`MAX_NESTING`], so neither parsing nor the recursive
    /// walks of the tree (checks, evaluation, drop) can exhaust a thread's stack.
    nesting: usize,
}

/// A duration expression's value, and whether it was a single (signed) literal.
struct DurationValue {
    seconds: f64,
    literal: bool,
    span: Span,
}

impl<'a> Parser<'a> {
    // ----- token helpers -------------------------------------------------------------------

    fn peek(&self) -> &Token {
        let i = self.pos.min(self.tokens.len().saturating_sub(1));
        &self.tokens[i]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn peek_nth_kind(&self, n: usize) -> &TokenKind {
        let i = (self.pos + n).min(self.tokens.len().saturating_sub(1));
        &self.tokens[i].kind
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if !matches!(t.kind, TokenKind::Eof | TokenKind::Error(_)) {
            self.pos += 1;
        }
        if matches!(
            t.kind,
            TokenKind::RightBrace
                | TokenKind::RightParen
                | TokenKind::RightBracket
                | TokenKind::Duration
                | TokenKind::Number
        ) {
            self.last_closing = t.end;
        }
        t
    }

    fn text(&self, t: &Token) -> &'a str {
        t.text(self.input)
    }

    /// Records an error that does not stop the parse.
    fn soft_error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(make_error(self.input, span, message.into()));
    }

    /// Records a syntax error for the next token and aborts.
    fn unexpected<T>(&mut self, context: &str, expected: &str) -> PResult<T> {
        let t = self.peek().clone();
        if let TokenKind::Error(msg) = &t.kind {
            self.soft_error(Span::new(t.start, self.input.len()), msg.clone());
            return Err(Abort);
        }
        let mut msg = format!("unexpected {}", t.describe(self.input));
        let context = if context.is_empty() && self.agg_depth > 0 { "aggregation" } else { context };
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.soft_error(Span::new(t.start, t.end), msg);
        Err(Abort)
    }

    fn expect(&mut self, kind: TokenKind, context: &str, expected: &str) -> PResult<Token> {
        if *self.peek_kind() == kind { Ok(self.next()) } else { self.unexpected(context, expected) }
    }

    // ----- expressions ---------------------------------------------------------------------

    fn parse_top(&mut self) -> PResult<Expr> {
        if *self.peek_kind() == TokenKind::Eof {
            self.soft_error(Span::new(0, 0), "no expression found in input");
            return Err(Abort);
        }
        let e = self.parse_expr(0)?;
        if *self.peek_kind() != TokenKind::Eof {
            return self.unexpected("", "");
        }
        Ok(e)
    }

    /// The binary operator at the current token: (op, precedence, right-associative).
    fn peek_binop(&self) -> Option<(BinaryOp, u8, bool)> {
        Some(match self.peek_kind() {
            TokenKind::Keyword(Keyword::Or) => (BinaryOp::Or, PREC_OR, false),
            TokenKind::Keyword(Keyword::And) => (BinaryOp::And, PREC_AND, false),
            TokenKind::Keyword(Keyword::Unless) => (BinaryOp::Unless, PREC_AND, false),
            TokenKind::Eqlc => (BinaryOp::Eql, PREC_CMP, false),
            TokenKind::Neq => (BinaryOp::Neq, PREC_CMP, false),
            TokenKind::Lte => (BinaryOp::Lte, PREC_CMP, false),
            TokenKind::Lss => (BinaryOp::Lss, PREC_CMP, false),
            TokenKind::Gte => (BinaryOp::Gte, PREC_CMP, false),
            TokenKind::Gtr => (BinaryOp::Gtr, PREC_CMP, false),
            TokenKind::Add => (BinaryOp::Add, PREC_ADD, false),
            TokenKind::Sub => (BinaryOp::Sub, PREC_ADD, false),
            TokenKind::Mul => (BinaryOp::Mul, PREC_MUL, false),
            TokenKind::Div => (BinaryOp::Div, PREC_MUL, false),
            TokenKind::Mod => (BinaryOp::Mod, PREC_MUL, false),
            TokenKind::Keyword(Keyword::Atan2) => (BinaryOp::Atan2, PREC_MUL, false),
            TokenKind::Pow => (BinaryOp::Pow, PREC_POW, true),
            _ => return None,
        })
    }

    /// Precedence climbing over binary operators binding at least `min_prec`.
    fn parse_expr(&mut self, min_prec: u8) -> PResult<Expr> {
        self.nesting += 1;
        let mut chained = 0;
        let result = self.parse_expr_chain(min_prec, &mut chained);
        self.nesting -= 1 + chained;
        result
    }

    /// Refuse to go deeper than [`MAX_NESTING`].
    fn check_nesting(&mut self) -> PResult<()> {
        if self.nesting > MAX_NESTING {
            let t = self.peek().clone();
            self.soft_error(
                Span::new(t.start, t.end),
                format!("expression nests more than {MAX_NESTING} levels deep"),
            );
            return Err(Abort);
        }
        Ok(())
    }

    fn parse_expr_chain(&mut self, min_prec: u8, chained: &mut usize) -> PResult<Expr> {
        self.check_nesting()?;
        let mut lhs = self.parse_unary()?;
        loop {
            if let TokenKind::TrimUpper | TokenKind::TrimLower = self.peek_kind() {
                let t = self.peek().clone();
                self.soft_error(
                    Span::new(t.start, t.end),
                    format!("histogram trim operator {} is not supported", lexer::go_quote(self.text(&t))),
                );
                return Err(Abort);
            }
            let Some((op, prec, right)) = self.peek_binop() else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.next();
            let (return_bool, matching) = self.parse_bin_modifiers()?;
            let rhs = self.parse_expr(if right { prec } else { prec + 1 })?;
            let span = Span { start: lhs.span().start, end: rhs.span().end };
            lhs = Expr::Binary(Box::new(Binary { op, lhs, rhs, return_bool, matching: Some(matching), span }));
            // The left side just got one level deeper.
            *chained += 1;
            self.nesting += 1;
            self.check_nesting()?;
        }
        Ok(lhs)
    }

    /// `bool`, `on(...)`/`ignoring(...)`, `group_left(...)`/`group_right(...)`.
    fn parse_bin_modifiers(&mut self) -> PResult<(bool, VectorMatching)> {
        let mut vm = VectorMatching { card: Cardinality::OneToOne, on: false, labels: Vec::new(), include: Vec::new() };
        let mut return_bool = false;
        if *self.peek_kind() == TokenKind::Keyword(Keyword::Bool) {
            self.next();
            return_bool = true;
        }
        let on = match self.peek_kind() {
            TokenKind::Keyword(Keyword::On) => true,
            TokenKind::Keyword(Keyword::Ignoring) => false,
            _ => return Ok((return_bool, vm)),
        };
        self.next();
        vm.on = on;
        vm.labels = self.parse_grouping_labels()?;
        let card = match self.peek_kind() {
            TokenKind::Keyword(Keyword::GroupLeft) => Cardinality::ManyToOne,
            TokenKind::Keyword(Keyword::GroupRight) => Cardinality::OneToMany,
            _ => return Ok((return_bool, vm)),
        };
        self.next();
        vm.card = card;
        if *self.peek_kind() == TokenKind::LeftParen {
            vm.include = self.parse_grouping_labels()?;
        }
        Ok((return_bool, vm))
    }

    /// `( label, "label", ... )` with an optional trailing comma.
    fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        self.expect(TokenKind::LeftParen, "grouping opts", "\"(\"")?;
        let mut labels = Vec::new();
        if *self.peek_kind() == TokenKind::RightParen {
            self.next();
            return Ok(labels);
        }
        loop {
            let t = self.peek().clone();
            match &t.kind {
                TokenKind::Identifier | TokenKind::MetricIdentifier | TokenKind::Keyword(_) => {
                    self.next();
                    labels.push(self.text(&t).to_string());
                }
                TokenKind::String => {
                    self.next();
                    let name = self.unquote(&t);
                    if name.is_empty() {
                        self.soft_error(
                            Span::new(t.start, t.end),
                            format!("invalid label name for grouping: {}", lexer::go_quote(&name)),
                        );
                    }
                    labels.push(name);
                }
                _ => return self.unexpected("grouping opts", "label"),
            }
            match self.peek_kind() {
                TokenKind::Comma => {
                    self.next();
                    if *self.peek_kind() == TokenKind::RightParen {
                        self.next();
                        return Ok(labels);
                    }
                }
                TokenKind::RightParen => {
                    self.next();
                    return Ok(labels);
                }
                _ => return self.unexpected("grouping opts", "\",\" or \")\""),
            }
        }
    }

    /// Unary `+`/`-` (binding like `*`, looser than `^`); literals fold into the number.
    fn parse_unary(&mut self) -> PResult<Expr> {
        let op = match self.peek_kind() {
            TokenKind::Add => UnaryOp::Pos,
            TokenKind::Sub => UnaryOp::Neg,
            _ => return self.parse_postfix(),
        };
        let t = self.next();
        let operand = self.parse_expr(PREC_POW)?;
        let end = operand.span().end;
        Ok(match operand {
            Expr::Number { value, .. } => {
                let value = if op == UnaryOp::Neg { -value } else { value };
                Expr::Number { value, span: Span { start: t.start as u32, end } }
            }
            other => Expr::Unary { op, expr: Box::new(other), span: Span { start: t.start as u32, end } },
        })
    }

    /// A primary expression followed by any `[range]`, `[range:step]`, `offset` and `@`.
    fn parse_postfix(&mut self) -> PResult<Expr> {
        let mut e = self.parse_primary()?;
        loop {
            match self.peek_kind() {
                TokenKind::LeftBracket => e = self.parse_range_or_subquery(e)?,
                TokenKind::Keyword(Keyword::Offset) => e = self.parse_offset(e)?,
                TokenKind::At => e = self.parse_at(e)?,
                TokenKind::Keyword(k @ (Keyword::Anchored | Keyword::Smoothed)) => {
                    let name = if *k == Keyword::Anchored { "anchored" } else { "smoothed" };
                    self.soft_error(e.span(), format!("{name} modifier is experimental and not enabled"));
                    return Err(Abort);
                }
                _ => return Ok(e),
            }
        }
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        let span = Span::new(t.start, t.end);
        match &t.kind {
            TokenKind::Number => {
                self.next();
                let value = match parse_number(self.text(&t)) {
                    Ok(v) => v,
                    Err(e) => {
                        self.soft_error(span, format!("error parsing number: {e}"));
                        0.0
                    }
                };
                Ok(Expr::Number { value, span })
            }
            TokenKind::Duration => {
                self.next();
                let value = self.duration_token_seconds(&t);
                if value.abs() > MAX_DURATION_SECONDS {
                    self.soft_error(span, "duration out of range");
                }
                Ok(Expr::Number { value, span })
            }
            TokenKind::String => {
                self.next();
                Ok(Expr::String { value: self.unquote(&t), span })
            }
            TokenKind::LeftParen => {
                self.next();
                let inner = self.parse_expr(0)?;
                let close = self.expect(TokenKind::RightParen, "", "")?;
                Ok(Expr::Paren { expr: Box::new(inner), span: Span::new(t.start, close.end) })
            }
            TokenKind::LeftBrace => self.parse_vector_selector(None),
            TokenKind::Add | TokenKind::Sub => self.parse_unary(),
            TokenKind::Identifier => {
                if *self.peek_nth_kind(1) == TokenKind::LeftParen {
                    self.parse_call()
                } else {
                    self.next();
                    self.parse_vector_selector(Some(t))
                }
            }
            TokenKind::MetricIdentifier => {
                self.next();
                self.parse_vector_selector(Some(t))
            }
            TokenKind::Keyword(k) => {
                let k = *k;
                let following = self.peek_nth_kind(1).clone();
                if k.is_aggregator()
                    && matches!(
                        following,
                        TokenKind::LeftParen | TokenKind::Keyword(Keyword::By) | TokenKind::Keyword(Keyword::Without)
                    )
                {
                    return self.parse_aggregate(k);
                }
                if matches!(k, Keyword::Start | Keyword::End | Keyword::Step | Keyword::Range)
                    && following == TokenKind::LeftParen
                {
                    return self.parse_call();
                }
                if k.is_metric_identifier() {
                    self.next();
                    return self.parse_vector_selector(Some(t));
                }
                self.unexpected("", "")
            }
            _ => self.unexpected("", ""),
        }
    }

    /// `name(args...)`.
    fn parse_call(&mut self) -> PResult<Expr> {
        let name_tok = self.next();
        let name = self.text(&name_tok).to_string();
        let func = functions::function(&name);
        if func.is_none() {
            self.soft_error(
                Span::new(name_tok.start, name_tok.end),
                format!("unknown function with name {}", lexer::go_quote(&name)),
            );
        }
        let args = self.parse_call_body()?;
        let span = Span::new(name_tok.start, self.last_closing);
        Ok(match func {
            Some(func) => Expr::Call(Box::new(Call { func, args, span })),
            None => Expr::Number { value: 0.0, span },
        })
    }

    /// `( expr, expr, ... )`.
    fn parse_call_body(&mut self) -> PResult<Vec<Expr>> {
        self.expect(TokenKind::LeftParen, "", "")?;
        let mut args = Vec::new();
        if *self.peek_kind() == TokenKind::RightParen {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr(0)?);
            match self.peek_kind() {
                TokenKind::Comma => {
                    let comma = self.next();
                    if *self.peek_kind() == TokenKind::RightParen {
                        self.soft_error(
                            Span::new(comma.start, comma.end),
                            "trailing commas not allowed in function call args",
                        );
                        self.next();
                        return Ok(args);
                    }
                }
                TokenKind::RightParen => {
                    self.next();
                    return Ok(args);
                }
                _ => return self.unexpected("", ""),
            }
        }
    }

    /// `op [by|without (...)] (args) [by|without (...)]`.
    fn parse_aggregate(&mut self, k: Keyword) -> PResult<Expr> {
        let op_tok = self.next();
        let op = aggregate_op(k);
        let mut grouping = Vec::new();
        let mut without = false;
        let mut have_modifier = false;
        if let TokenKind::Keyword(m @ (Keyword::By | Keyword::Without)) = self.peek_kind() {
            without = *m == Keyword::Without;
            self.next();
            grouping = self.parse_grouping_labels()?;
            have_modifier = true;
        }
        self.agg_depth += 1;
        let body = self.parse_call_body();
        self.agg_depth -= 1;
        let mut args = body?;
        let mut end = self.last_closing;
        if !have_modifier && let TokenKind::Keyword(m @ (Keyword::By | Keyword::Without)) = self.peek_kind() {
            without = *m == Keyword::Without;
            self.next();
            grouping = self.parse_grouping_labels()?;
            end = self.last_closing;
        }
        let span = Span::new(op_tok.start, end);
        let dummy = Expr::Number { value: 0.0, span };
        if args.is_empty() {
            self.soft_error(span, "no arguments for aggregate expression provided");
            return Ok(dummy);
        }
        let desired = if op.has_param() { 2 } else { 1 };
        if args.len() != desired {
            self.soft_error(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {}",
                    args.len()
                ),
            );
            return Ok(dummy);
        }
        let expr = args.pop().unwrap_or(dummy);
        let param = args.pop();
        Ok(Expr::Aggregate(Box::new(Aggregate { op, expr, param, grouping, without, span })))
    }

    /// `name`, `name{...}` or `{...}`; `name_tok` is the already consumed metric name.
    fn parse_vector_selector(&mut self, name_tok: Option<Token>) -> PResult<Expr> {
        let mut name = name_tok.as_ref().map(|t| self.text(t).to_string());
        let mut matchers = Vec::new();
        let start = name_tok.as_ref().map_or(self.peek().start, |t| t.start);
        let mut end = name_tok.as_ref().map_or(0, |t| t.end);
        if let Some(n) = &name {
            matchers.push(LabelMatcher { name: "__name__".into(), op: MatchOp::Equal, value: n.clone() });
        }
        let name_outside = name.is_some();
        if *self.peek_kind() == TokenKind::LeftBrace {
            self.next();
            loop {
                let t = self.peek().clone();
                match &t.kind {
                    TokenKind::RightBrace => {
                        self.next();
                        end = t.end;
                        break;
                    }
                    TokenKind::Identifier | TokenKind::String => {
                        self.next();
                        let label =
                            if t.kind == TokenKind::String { self.unquote(&t) } else { self.text(&t).to_string() };
                        let op = match self.peek_kind() {
                            TokenKind::Eql => Some(MatchOp::Equal),
                            TokenKind::Neq => Some(MatchOp::NotEqual),
                            TokenKind::EqlRegex => Some(MatchOp::Regex),
                            TokenKind::NeqRegex => Some(MatchOp::NotRegex),
                            _ => None,
                        };
                        match op {
                            Some(op) => {
                                self.next();
                                let v = self.peek().clone();
                                if v.kind != TokenKind::String {
                                    return self.unexpected("label matching", "string");
                                }
                                self.next();
                                let value = self.unquote(&v);
                                if matches!(op, MatchOp::Regex | MatchOp::NotRegex)
                                    && let Err(e) = compile_anchored(&value)
                                {
                                    self.soft_error(Span::new(t.start, v.end), e);
                                }
                                matchers.push(LabelMatcher { name: label, op, value });
                            }
                            None if t.kind == TokenKind::String => {
                                if name.is_none() {
                                    name = Some(label.clone());
                                }
                                matchers.push(LabelMatcher {
                                    name: "__name__".into(),
                                    op: MatchOp::Equal,
                                    value: label,
                                });
                            }
                            None => {
                                return self.unexpected("label matching", "label matching operator");
                            }
                        }
                        match self.peek_kind() {
                            TokenKind::Comma => {
                                self.next();
                            }
                            TokenKind::RightBrace => {}
                            _ => return self.unexpected("label matching", "\",\" or \"}\""),
                        }
                    }
                    _ => return self.unexpected("label matching", "identifier or \"}\""),
                }
            }
        }
        let span = Span::new(start, end);
        if name_outside && let Some(m) = matchers.iter().skip(1).find(|m| m.name == "__name__") {
            let msg = format!(
                "metric name must not be set twice: {} or {}",
                lexer::go_quote(name.as_deref().unwrap_or("")),
                lexer::go_quote(&m.value)
            );
            self.soft_error(span, msg);
        }
        Ok(Expr::VectorSelector(Box::new(VectorSelector { name, matchers, offset: 0, at: None, span })))
    }

    /// `[range]` or `[range:step]` / `[range:]` after `e`.
    fn parse_range_or_subquery(&mut self, e: Expr) -> PResult<Expr> {
        let lbrack = self.next();
        if !self.at_duration_start() {
            return self.unexpected("subquery or range selector", "number, duration, step(), or range()");
        }
        let range = self.parse_duration_expr(0)?;
        let range_ms = self.positive_duration_ms(&range);
        match self.peek_kind() {
            TokenKind::RightBracket => {
                let rbrack = self.next();
                let bracket_span = Span::new(lbrack.start, rbrack.end);
                let Expr::VectorSelector(vs) = e else {
                    self.soft_error(bracket_span, "ranges only allowed for vector selectors");
                    return Ok(e);
                };
                if vs.offset != 0 {
                    self.soft_error(bracket_span, "no offset modifiers allowed before range");
                } else if vs.at.is_some() {
                    self.soft_error(bracket_span, "no @ modifiers allowed before range");
                }
                let span = Span { start: vs.span.start, end: self.last_closing as u32 };
                Ok(Expr::MatrixSelector(Box::new(MatrixSelector { selector: *vs, range: range_ms, span })))
            }
            TokenKind::Colon => {
                self.next();
                let step = if *self.peek_kind() == TokenKind::RightBracket {
                    None
                } else if self.at_duration_start() {
                    let step = self.parse_duration_expr(0)?;
                    Some(self.positive_duration_ms(&step))
                } else {
                    return self.unexpected("subquery selector", "number, duration, step(), range(), or \"]\"");
                };
                if *self.peek_kind() != TokenKind::RightBracket {
                    return self.unexpected("subquery selector", "\"]\"");
                }
                let rbrack = self.next();
                let span = Span { start: e.span().start, end: rbrack.end as u32 };
                Ok(Expr::Subquery(Box::new(Subquery { expr: e, range: range_ms, step, offset: 0, at: None, span })))
            }
            _ => self.unexpected("subquery or range", "\":\" or \"]\""),
        }
    }

    /// Whether the current token can start a duration expression.
    fn at_duration_start(&self) -> bool {
        match self.peek_kind() {
            TokenKind::Number | TokenKind::Duration | TokenKind::LeftParen | TokenKind::Add | TokenKind::Sub => true,
            TokenKind::Keyword(Keyword::Step | Keyword::Range | Keyword::MinOf | Keyword::MaxOf) => true,
            TokenKind::Identifier => self.is_min_max_of(),
            _ => false,
        }
    }

    fn is_min_max_of(&self) -> bool {
        let t = self.peek();
        let w = self.text(t);
        w.eq_ignore_ascii_case("min_of") || w.eq_ignore_ascii_case("max_of")
    }

    /// Seconds of a DURATION token (recording an error for an invalid one).
    fn duration_token_seconds(&mut self, t: &Token) -> f64 {
        match parse_duration(self.text(t)) {
            Ok(ms) => ms as f64 / 1000.0,
            Err(e) => {
                self.soft_error(Span::new(t.start, t.end), e);
                0.0
            }
        }
    }

    /// A constant duration expression in seconds (numbers are seconds): literals, `+ - * / % ^`,
    /// unary signs, parentheses, `min_of(a, b)`, `max_of(a, b)`.
    fn parse_duration_expr(&mut self, min_prec: u8) -> PResult<DurationValue> {
        self.nesting += 1;
        let result = self.check_nesting().and_then(|()| self.parse_duration_chain(min_prec));
        self.nesting -= 1;
        result
    }

    fn parse_duration_chain(&mut self, min_prec: u8) -> PResult<DurationValue> {
        let mut lhs = self.parse_duration_unary()?;
        loop {
            let (prec, right) = match self.peek_kind() {
                TokenKind::Add | TokenKind::Sub => (PREC_ADD, false),
                TokenKind::Mul | TokenKind::Div | TokenKind::Mod => (PREC_MUL, false),
                TokenKind::Pow => (PREC_POW, true),
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            let op = self.next();
            let rhs = self.parse_duration_expr(if right { prec } else { prec + 1 })?;
            let seconds = match op.kind {
                TokenKind::Add => lhs.seconds + rhs.seconds,
                TokenKind::Sub => lhs.seconds - rhs.seconds,
                TokenKind::Mul => lhs.seconds * rhs.seconds,
                TokenKind::Div | TokenKind::Mod if rhs.literal && rhs.seconds == 0.0 => {
                    let msg = if op.kind == TokenKind::Div { "division by zero" } else { "modulo by zero" };
                    self.soft_error(Span::new(op.start, op.end), msg);
                    0.0
                }
                TokenKind::Div => lhs.seconds / rhs.seconds,
                TokenKind::Mod => lhs.seconds % rhs.seconds,
                _ => lhs.seconds.powf(rhs.seconds),
            };
            lhs = DurationValue { seconds, literal: false, span: Span { start: lhs.span.start, end: rhs.span.end } };
        }
        Ok(lhs)
    }

    fn parse_duration_unary(&mut self) -> PResult<DurationValue> {
        match self.peek_kind() {
            TokenKind::Add | TokenKind::Sub => {
                let op = self.next();
                let mut v = self.parse_duration_expr(PREC_POW)?;
                if op.kind == TokenKind::Sub {
                    v.seconds = -v.seconds;
                }
                if v.literal && v.seconds.abs() > MAX_DURATION_SECONDS {
                    self.soft_error(Span::new(op.start, op.end), "duration out of range");
                }
                v.span.start = op.start as u32;
                Ok(v)
            }
            _ => self.parse_duration_primary(),
        }
    }

    fn parse_duration_primary(&mut self) -> PResult<DurationValue> {
        let t = self.peek().clone();
        let span = Span::new(t.start, t.end);
        match &t.kind {
            TokenKind::Number => {
                self.next();
                let seconds = match parse_number(self.text(&t)) {
                    Ok(v) => v,
                    Err(e) => {
                        self.soft_error(span, format!("error parsing number: {e}"));
                        0.0
                    }
                };
                if seconds.abs() > MAX_DURATION_SECONDS {
                    self.soft_error(span, "duration out of range");
                }
                Ok(DurationValue { seconds, literal: true, span })
            }
            TokenKind::Duration => {
                self.next();
                let seconds = self.duration_token_seconds(&t);
                Ok(DurationValue { seconds, literal: true, span })
            }
            TokenKind::LeftParen => {
                self.next();
                let mut v = self.parse_duration_expr(0)?;
                let close = self.expect(TokenKind::RightParen, "", "")?;
                v.literal = false;
                v.span = Span::new(t.start, close.end);
                Ok(v)
            }
            TokenKind::Keyword(Keyword::Step | Keyword::Range) => {
                let name = self.text(&t).to_ascii_lowercase();
                self.soft_error(span, format!("{name}() in duration expressions is not supported"));
                Err(Abort)
            }
            TokenKind::Keyword(Keyword::MinOf | Keyword::MaxOf) | TokenKind::Identifier
                if t.kind != TokenKind::Identifier || self.is_min_max_of() =>
            {
                let is_min = self.text(&t).eq_ignore_ascii_case("min_of");
                self.next();
                self.expect(TokenKind::LeftParen, "", "")?;
                let a = self.parse_duration_expr(0)?;
                self.expect(TokenKind::Comma, "", "")?;
                let b = self.parse_duration_expr(0)?;
                let close = self.expect(TokenKind::RightParen, "", "")?;
                let seconds = if is_min { a.seconds.min(b.seconds) } else { a.seconds.max(b.seconds) };
                Ok(DurationValue { seconds, literal: false, span: Span::new(t.start, close.end) })
            }
            _ => self.unexpected("", "number or duration"),
        }
    }

    /// Milliseconds of a range or step, which must be positive.
    fn positive_duration_ms(&mut self, d: &DurationValue) -> i64 {
        if !self.duration_in_range(d) {
            return 1;
        }
        let ms = duration_ms(d);
        if d.seconds <= 0.0 || ms <= 0 {
            self.soft_error(d.span, "duration must be greater than 0");
            return 1;
        }
        ms
    }

    /// Records "duration out of range" for a value that does not fit a Go `time.Duration`.
    fn duration_in_range(&mut self, d: &DurationValue) -> bool {
        if d.seconds.is_nan() || d.seconds.abs() > MAX_DURATION_SECONDS {
            self.soft_error(d.span, "duration out of range");
            return false;
        }
        true
    }

    /// `offset [-]duration` after `e`.
    fn parse_offset(&mut self, e: Expr) -> PResult<Expr> {
        self.next();
        let d = match self.peek_kind() {
            TokenKind::Add | TokenKind::Sub => {
                let sign = self.next();
                let t = self.peek().clone();
                let mut v = match t.kind {
                    TokenKind::Number | TokenKind::Duration => self.parse_duration_primary()?,
                    TokenKind::LeftParen => self.parse_duration_primary()?,
                    TokenKind::Keyword(Keyword::Step | Keyword::Range) => self.parse_duration_primary()?,
                    TokenKind::Identifier if self.is_min_max_of() => self.parse_duration_primary()?,
                    _ => return self.unexpected("offset", "number, duration, step(), or range()"),
                };
                if sign.kind == TokenKind::Sub {
                    v.seconds = -v.seconds;
                }
                v.span.start = sign.start as u32;
                v
            }
            TokenKind::Number
            | TokenKind::Duration
            | TokenKind::LeftParen
            | TokenKind::Keyword(Keyword::Step | Keyword::Range) => self.parse_duration_primary()?,
            TokenKind::Identifier if self.is_min_max_of() => self.parse_duration_primary()?,
            _ => return self.unexpected("offset", "number, duration, step(), or range()"),
        };
        let ms = if self.duration_in_range(&d) { duration_ms(&d) } else { 0 };
        let end = self.last_closing as u32;
        match e {
            Expr::VectorSelector(mut vs) => {
                if vs.offset != 0 {
                    self.soft_error(vs.span, "offset may not be set multiple times");
                } else {
                    vs.offset = ms;
                }
                vs.span.end = end;
                Ok(Expr::VectorSelector(vs))
            }
            Expr::MatrixSelector(mut ms_) => {
                if ms_.selector.offset != 0 {
                    self.soft_error(ms_.span, "offset may not be set multiple times");
                } else {
                    ms_.selector.offset = ms;
                }
                ms_.span.end = end;
                Ok(Expr::MatrixSelector(ms_))
            }
            Expr::Subquery(mut sq) => {
                if sq.offset != 0 {
                    self.soft_error(sq.span, "offset may not be set multiple times");
                } else {
                    sq.offset = ms;
                }
                sq.span.end = end;
                Ok(Expr::Subquery(sq))
            }
            other => {
                self.soft_error(
                    other.span(),
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                );
                Ok(other)
            }
        }
    }

    /// `@ <number>`, `@ start()`, `@ end()` after `e`.
    fn parse_at(&mut self, e: Expr) -> PResult<Expr> {
        self.next();
        let at = match self.peek_kind().clone() {
            TokenKind::Keyword(k @ (Keyword::Start | Keyword::End)) => {
                self.next();
                self.expect(TokenKind::LeftParen, "@", "timestamp")?;
                self.expect(TokenKind::RightParen, "@", "timestamp")?;
                if k == Keyword::Start { At::Start } else { At::End }
            }
            kind @ (TokenKind::Add | TokenKind::Sub | TokenKind::Number | TokenKind::Duration) => {
                let negative = kind == TokenKind::Sub;
                if matches!(kind, TokenKind::Add | TokenKind::Sub) {
                    self.next();
                }
                let t = self.peek().clone();
                let mut ts = match t.kind {
                    TokenKind::Number => {
                        self.next();
                        match parse_number(self.text(&t)) {
                            Ok(v) => v,
                            Err(err) => {
                                self.soft_error(Span::new(t.start, t.end), format!("error parsing number: {err}"));
                                0.0
                            }
                        }
                    }
                    TokenKind::Duration => {
                        self.next();
                        self.duration_token_seconds(&t)
                    }
                    _ => return self.unexpected("@", "timestamp"),
                };
                if negative {
                    ts = -ts;
                }
                if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                    self.soft_error(e.span(), format!("timestamp out of bounds for @ modifier: {}", go_format_f(ts)));
                }
                At::Timestamp(seconds_to_ms_rounded(ts))
            }
            _ => return self.unexpected("@", "timestamp"),
        };
        let end = self.last_closing as u32;
        const TWICE: &str = "@ <timestamp> may not be set multiple times";
        match e {
            Expr::VectorSelector(mut vs) => {
                if vs.at.is_some() {
                    self.soft_error(vs.span, TWICE);
                } else {
                    vs.at = Some(at);
                    vs.span.end = end;
                }
                Ok(Expr::VectorSelector(vs))
            }
            Expr::MatrixSelector(mut m) => {
                if m.selector.at.is_some() {
                    self.soft_error(m.span, TWICE);
                } else {
                    m.selector.at = Some(at);
                    m.span.end = end;
                }
                Ok(Expr::MatrixSelector(m))
            }
            Expr::Subquery(mut sq) => {
                if sq.at.is_some() {
                    self.soft_error(sq.span, TWICE);
                } else {
                    sq.at = Some(at);
                    sq.span.end = end;
                }
                Ok(Expr::Subquery(sq))
            }
            other => {
                self.soft_error(
                    other.span(),
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                );
                Ok(other)
            }
        }
    }

    /// Unquotes a STRING token, recording an error if it is malformed.
    fn unquote(&mut self, t: &Token) -> String {
        let text = self.text(t);
        match unquote(text) {
            Ok(s) => s,
            Err(e) => {
                self.soft_error(
                    Span::new(t.start, t.end),
                    format!("error unquoting string {}: {e}", lexer::go_quote(text)),
                );
                String::new()
            }
        }
    }
}

fn aggregate_op(k: Keyword) -> AggregateOp {
    match k {
        Keyword::Avg => AggregateOp::Avg,
        Keyword::Count => AggregateOp::Count,
        Keyword::Min => AggregateOp::Min,
        Keyword::Max => AggregateOp::Max,
        Keyword::Group => AggregateOp::Group,
        Keyword::Stddev => AggregateOp::Stddev,
        Keyword::Stdvar => AggregateOp::Stdvar,
        Keyword::Topk => AggregateOp::Topk,
        Keyword::Bottomk => AggregateOp::Bottomk,
        Keyword::CountValues => AggregateOp::CountValues,
        Keyword::Quantile => AggregateOp::Quantile,
        Keyword::Limitk => AggregateOp::Limitk,
        Keyword::LimitRatio => AggregateOp::LimitRatio,
        _ => AggregateOp::Sum,
    }
}

/// Milliseconds of a duration value: a literal rounds to the nanosecond as Prometheus' parser
/// does, a computed expression truncates as its duration evaluation does; then whole ms.
fn duration_ms(d: &DurationValue) -> i64 {
    let ns = d.seconds * 1e9;
    let ns = if d.literal { ns.round() } else { ns.trunc() };
    // `as` saturates (NaN becomes 0), so no overflow is possible here.
    (ns as i64) / 1_000_000
}

/// `timestamp.FromFloatSeconds`: seconds to milliseconds, rounded.
fn seconds_to_ms_rounded(ts: f64) -> i64 {
    (ts * 1000.0).round() as i64
}

/// Go's `%f` formatting of a float (six decimals; `NaN`, `+Inf`, `-Inf`).
fn go_format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.6}")
    }
}

/// Compiles a label-matcher regex the way Prometheus anchors it.
pub fn compile_anchored(re: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| {
        let text = e.to_string();
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid regex").trim();
        let last = last.strip_prefix("error: ").unwrap_or(last);
        format!("error parsing regexp: {last}: `{re}`")
    })
}

/// Parses a Prometheus duration (`model.ParseDuration`) into milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let invalid = || format!("not a valid duration string: {}", lexer::go_quote(s));
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    let mut overflow = false;
    while i < bytes.len() {
        let digits_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            return Err(invalid());
        }
        let digits = &s[digits_start..i];
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let Some(idx) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(invalid());
        };
        if idx < next_unit {
            return Err(invalid());
        }
        next_unit = idx + 1;
        let mult = UNITS[idx].1;
        match digits.parse::<i64>() {
            Ok(n) if n <= i64::MAX / 1_000_000 / mult => match total.checked_add(n * mult) {
                Some(t) if t <= i64::MAX / 1_000_000 => total = t,
                _ => overflow = true,
            },
            _ => overflow = true,
        }
    }
    if overflow {
        return Err("duration out of range".into());
    }
    Ok(total)
}

/// Whether underscores in a Go number literal only separate digits (Go's `underscoreOK`).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    // 'saw': '^' start, '0' digit or base prefix, '_' underscore, '!' other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'x' | b'o' | b'b') {
        hex = b[1].eq_ignore_ascii_case(&b'x');
        i = 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Parses a number literal like Prometheus: `strconv.ParseInt(s, 0, 64)`, then
/// `strconv.ParseFloat(s, 64)`. The error text is Go's.
pub fn parse_number(s: &str) -> Result<f64, String> {
    if s.eq_ignore_ascii_case("inf") || s.eq_ignore_ascii_case("+inf") {
        return Ok(f64::INFINITY);
    }
    if s.eq_ignore_ascii_case("-inf") {
        return Ok(f64::NEG_INFINITY);
    }
    if s.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    let syntax = || format!("strconv.ParseFloat: parsing {}: invalid syntax", lexer::go_quote(s));
    if s.contains('_') && !underscores_ok(s) {
        return Err(syntax());
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if !digits.is_empty()
        && digits.chars().all(|c| c.is_digit(radix))
        && let Ok(n) = i64::from_str_radix(digits, radix)
    {
        return Ok(n as f64);
    }
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        return Err(syntax());
    }
    let valid_chars = lower.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'));
    match lower.parse::<f64>() {
        Ok(v) if valid_chars => {
            if v.is_infinite() {
                Err(format!("strconv.ParseFloat: parsing {}: value out of range", lexer::go_quote(s)))
            } else {
                Ok(v)
            }
        }
        _ => Err(syntax()),
    }
}

/// Unquotes a PromQL string literal (`"..."`, `'...'` with Go escapes, or raw `` `...` ``).
/// Byte escapes that do not form valid UTF-8 become U+FFFD.
pub fn unquote(s: &str) -> Result<String, String> {
    let syntax = || "invalid syntax".to_string();
    let mut chars = s.chars();
    let quote = chars.next().ok_or_else(syntax)?;
    if s.len() < 2 || !s.ends_with(quote) || !matches!(quote, '"' | '\'' | '`') {
        return Err(syntax());
    }
    let body = &s[1..s.len() - 1];
    if quote == '`' {
        if body.contains('`') {
            return Err(syntax());
        }
        return Ok(body.replace('\r', ""));
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut it = body.chars().peekable();
    let mut buf = [0u8; 4];
    while let Some(c) = it.next() {
        if c == quote || c == '\n' {
            return Err(syntax());
        }
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = it.next().ok_or_else(syntax)?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            c if c == quote => Some(c as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, radix) = match e {
            '0'..='7' => (2, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => return Err(syntax()),
        };
        let mut v: u32 = if radix == 8 { e.to_digit(8).unwrap_or(0) } else { 0 };
        for _ in 0..n {
            let d = it.next().and_then(|c| c.to_digit(radix)).ok_or_else(syntax)?;
            v = v * radix + d;
        }
        match e {
            '0'..='7' | 'x' => {
                let b = u8::try_from(v).map_err(|_| syntax())?;
                out.push(b);
            }
            _ => {
                let c = char::from_u32(v).ok_or_else(syntax)?;
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The type checker (`parse.go` `checkAST`), run on a syntactically valid tree. It also drops
/// the vector matching of binary operations that are not between two instant vectors.
struct Checker<'a> {
    input: &'a str,
    errors: Vec<ParseError>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, message: String) {
        self.errors.push(make_error(self.input, span, message));
    }

    /// The operator's position between the operands of a binary expression.
    fn op_range(&self, b: &Binary) -> Span {
        let bytes = self.input.as_bytes();
        let mut start = b.lhs.span().end as usize;
        while start < bytes.len() && lexer::is_space(bytes[start] as char) {
            start += 1;
        }
        let mut end = (b.rhs.span().start as usize).saturating_sub(1).min(bytes.len().saturating_sub(1));
        while end > start && lexer::is_space(bytes[end] as char) {
            end -= 1;
        }
        Span::new(start, end.max(start))
    }

    fn expect_type(&mut self, e: &mut Expr, want: ValueType, context: &str) {
        let t = self.check(e, false);
        if t != want {
            self.error(e.span(), format!("expected type {} in {context}, got {}", want.describe(), t.describe()));
        }
    }

    /// Checks `e` and returns its type. `bypass_empty` skips the non-empty matcher rule (the
    /// second argument of `info`).
    fn check(&mut self, e: &mut Expr, bypass_empty: bool) -> ValueType {
        let typ = e.value_type();
        match e {
            Expr::Number { .. } | Expr::String { .. } => {}
            Expr::Paren { expr, .. } => {
                self.check(expr, false);
            }
            Expr::Unary { expr, span, .. } => {
                let t = self.check(expr, false);
                if t != ValueType::Scalar && t != ValueType::Vector {
                    self.error(
                        *span,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            lexer::go_quote(t.describe())
                        ),
                    );
                }
            }
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression");
                let want = match a.op {
                    AggregateOp::Topk
                    | AggregateOp::Bottomk
                    | AggregateOp::Quantile
                    | AggregateOp::Limitk
                    | AggregateOp::LimitRatio => Some(ValueType::Scalar),
                    AggregateOp::CountValues => Some(ValueType::String),
                    _ => None,
                };
                if let (Some(want), Some(param)) = (want, a.param.as_mut()) {
                    self.expect_type(param, want, "aggregation parameter");
                }
            }
            Expr::Binary(b) => self.check_binary(b),
            Expr::Call(c) => self.check_call(c),
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr, false);
                if t != ValueType::Vector {
                    self.error(
                        s.span,
                        format!("subquery is only allowed on instant vector, got {} instead", t.result_type()),
                    );
                }
            }
            Expr::MatrixSelector(m) => self.check_selector(&m.selector, false),
            Expr::VectorSelector(v) => self.check_selector(v, bypass_empty),
        }
        typ
    }

    fn check_selector(&mut self, v: &VectorSelector, bypass_empty: bool) {
        if bypass_empty {
            return;
        }
        let non_empty = v.matchers.iter().any(|m| !matcher_matches_empty(m));
        if !non_empty {
            self.error(v.span, "vector selector must contain at least one non-empty matcher".into());
        }
    }

    fn check_binary(&mut self, b: &mut Binary) {
        let lt = self.check(&mut b.lhs, false);
        let rt = self.check(&mut b.rhs, false);
        let op_str = lexer::go_quote(b.op.as_str());
        if b.return_bool && !b.op.is_comparison() {
            let r = self.op_range(b);
            self.error(r, "bool modifier can only be used on comparison operators".into());
        }
        if b.op.is_comparison() && !b.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
            let r = self.op_range(b);
            self.error(r, "comparisons between scalars must use BOOL modifier".into());
        }
        if let Some(vm) = b.matching.as_mut()
            && b.op.is_set()
            && vm.card == Cardinality::OneToOne
        {
            vm.card = Cardinality::ManyToMany;
        }
        if let Some(vm) = b.matching.clone()
            && vm.on
        {
            for l1 in &vm.labels {
                if vm.include.contains(l1) {
                    let r = self.op_range(b);
                    self.error(
                        r,
                        format!("label {} must not occur in ON and GROUP clause at once", lexer::go_quote(l1)),
                    );
                }
            }
        }
        if lt != ValueType::Scalar && lt != ValueType::Vector {
            self.error(b.lhs.span(), "binary expression must contain only scalar and instant vector types".into());
        }
        if rt != ValueType::Scalar && rt != ValueType::Vector {
            self.error(b.rhs.span(), "binary expression must contain only scalar and instant vector types".into());
        }
        if lt != ValueType::Vector || rt != ValueType::Vector {
            if let Some(vm) = b.matching.take()
                && !vm.labels.is_empty()
            {
                self.error(b.span, "vector matching only allowed between instant vectors".into());
            }
        } else if b.op.is_set()
            && let Some(vm) = &b.matching
        {
            if matches!(vm.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                self.error(b.span, format!("no grouping allowed for {op_str} operation"));
            }
            if vm.card != Cardinality::ManyToMany {
                self.error(b.span, "set operations must always be many-to-many".into());
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set() {
            self.error(b.span, format!("set operator {op_str} not allowed in binary scalar expression"));
        }
    }

    fn check_call(&mut self, c: &mut Call) {
        let f = c.func;
        let nargs = f.arg_types.len();
        let name = lexer::go_quote(f.name);
        if f.variadic == 0 {
            if nargs != c.args.len() {
                self.error(c.span, format!("expected {nargs} argument(s) in call to {name}, got {}", c.args.len()));
            }
        } else {
            let na = nargs.saturating_sub(1);
            if na > c.args.len() {
                self.error(
                    c.span,
                    format!("expected at least {na} argument(s) in call to {name}, got {}", c.args.len()),
                );
            } else if f.variadic > 0 && na + (f.variadic as usize) < c.args.len() {
                let max = na + f.variadic as usize;
                self.error(
                    c.span,
                    format!("expected at most {max} argument(s) in call to {name}, got {}", c.args.len()),
                );
            }
        }
        let is_info = f.name == "info";
        if is_info && c.args.len() > 1 {
            let t = c.args[1].value_type();
            if t != ValueType::Vector {
                self.error(
                    c.span,
                    format!("expected type instant vector in call to function {name}, got {}", t.describe()),
                );
            }
            match &c.args[1] {
                Expr::VectorSelector(vs)
                    if vs.name.is_some() && vs.matchers.first().is_some_and(|m| m.name == "__name__") =>
                {
                    let span = vs.span;
                    self.error(span, "expected label selectors only, got vector selector instead".into());
                }
                Expr::VectorSelector(_) => {}
                other => {
                    let span = other.span();
                    self.error(span, "expected label selectors only".into());
                }
            }
        }
        for (i, arg) in c.args.iter_mut().enumerate() {
            let idx = if i >= nargs {
                if f.variadic == 0 || nargs == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            let t = self.check(arg, is_info && i == 1);
            let want = f.arg_types[idx];
            if t != want {
                self.error(
                    arg.span(),
                    format!("expected type {} in call to function {name}, got {}", want.describe(), t.describe()),
                );
            }
        }
    }
}

/// Whether a matcher matches the empty label value (such a matcher alone would select everything).
fn matcher_matches_empty(m: &LabelMatcher) -> bool {
    match m.op {
        MatchOp::Equal => m.value.is_empty(),
        MatchOp::NotEqual => !m.value.is_empty(),
        MatchOp::Regex => compile_anchored(&m.value).map(|r| r.is_match("")).unwrap_or(false),
        MatchOp::NotRegex => compile_anchored(&m.value).map(|r| !r.is_match("")).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Parses or panics with the error.
    fn p(q: &str) -> Expr {
        parse(q).unwrap_or_else(|e| panic!("{q:?}: {e}"))
    }

    /// The error of a query that must fail, as `line:col: parse error: msg`.
    fn err(q: &str) -> String {
        match parse(q) {
            Ok(e) => panic!("{q:?} parsed as {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Sets every span to zero so trees can be compared structurally.
    fn strip_spans(e: &mut Expr) {
        let z = Span::default();
        match e {
            Expr::Number { span, .. } | Expr::String { span, .. } => *span = z,
            Expr::Paren { expr, span } | Expr::Unary { expr, span, .. } => {
                *span = z;
                strip_spans(expr);
            }
            Expr::Binary(b) => {
                b.span = z;
                strip_spans(&mut b.lhs);
                strip_spans(&mut b.rhs);
            }
            Expr::Aggregate(a) => {
                a.span = z;
                strip_spans(&mut a.expr);
                if let Some(p) = a.param.as_mut() {
                    strip_spans(p);
                }
            }
            Expr::Call(c) => {
                c.span = z;
                c.args.iter_mut().for_each(strip_spans);
            }
            Expr::VectorSelector(v) => v.span = z,
            Expr::MatrixSelector(m) => {
                m.span = z;
                m.selector.span = z;
            }
            Expr::Subquery(s) => {
                s.span = z;
                strip_spans(&mut s.expr);
            }
        }
    }

    /// A span-free, NaN-tolerant rendering of a tree for equality checks.
    fn shape(e: &Expr) -> String {
        let mut e = e.clone();
        strip_spans(&mut e);
        format!("{e:?}")
    }

    /// The printed form of a parsed query, checking that it parses back to the same tree.
    fn check_roundtrip(q: &str, e: &Expr) -> Result<(), String> {
        let printed = e.to_string();
        let again = parse(&printed).map_err(|err| format!("{q:?} printed as {printed:?} does not parse: {err}"))?;
        if shape(&again) != shape(e) {
            return Err(format!("{q:?} printed as {printed:?} parses differently:\n{}\n{}", shape(e), shape(&again)));
        }
        let pretty = super::super::printer::pretty(e);
        let again = parse(&pretty).map_err(|err| format!("{q:?} pretty {pretty:?} does not parse: {err}"))?;
        if super::super::printer::prometheus_string(&again) != super::super::printer::prometheus_string(e) {
            return Err(format!("{q:?} pretty {pretty:?} parses differently"));
        }
        Ok(())
    }

    // ----- the conformance suite --------------------------------------------------------

    /// One row of `evals.tsv`.
    struct Eval {
        file: String,
        line: u32,
        experimental: bool,
        query: String,
    }

    /// Finds `shared/conformance/promql` above this crate (or `$PROMQL_CONFORMANCE_DIR`).
    fn conformance_dir() -> Option<PathBuf> {
        if let Ok(d) = std::env::var("PROMQL_CONFORMANCE_DIR") {
            return Some(PathBuf::from(d));
        }
        let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        loop {
            let candidate = dir.join("shared/conformance/promql");
            if candidate.join("evals.tsv").is_file() {
                return Some(candidate);
            }
            if !dir.pop() {
                return None;
            }
        }
    }

    fn evals() -> Vec<Eval> {
        let dir = conformance_dir().expect("shared/conformance/promql not found; set PROMQL_CONFORMANCE_DIR");
        let text = std::fs::read_to_string(dir.join("evals.tsv")).expect("read evals.tsv");
        text.lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let cols: Vec<&str> = l.splitn(7, '\t').collect();
                assert_eq!(cols.len(), 7, "bad row {l:?}");
                Eval {
                    file: cols[0].to_string(),
                    line: cols[1].parse().expect("line"),
                    experimental: cols[5] == "1",
                    query: cols[6].to_string(),
                }
            })
            .collect()
    }

    /// Non-experimental evals that are expected to fail at parse time here, with the reason.
    /// (None of the suite's `expect fail` evals is a parse error in Prometheus: they all fail at
    /// evaluation; see `EXPECTED_RUNTIME_FAILURES`.) These three use `step()` inside a duration
    /// expression, an experimental feature the classifier missed because of the upper-case
    /// spelling; a `step()` duration cannot be represented in the syntax tree.
    const EXPECTED_PARSE_FAILURES: &[(&str, u32, &str)] = &[
        ("duration_expression.test", 164, "1:34: parse error: step() in duration expressions is not supported"),
        ("duration_expression.test", 179, "1:22: parse error: step() in duration expressions is not supported"),
        ("duration_expression.test", 197, "1:23: parse error: step() in duration expressions is not supported"),
    ];

    /// Non-experimental `expect fail` evals: all fail at evaluation, so they must parse.
    const EXPECTED_RUNTIME_FAILURES: &[(&str, u32)] = &[
        ("aggregators.test", 422), // topk(NaN, ...): "Parameter value is NaN"
        ("aggregators.test", 481), // count_values("a\xc5z", ...): invalid label name
        ("collision.test", 20),    // duplicate series after dropping __name__
        ("functions.test", 519),   // label_replace with invalid regex "(.*"
        ("functions.test", 523),   // label_replace with invalid label name "\xff"
        ("functions.test", 527),   // label_replace with empty source label
        ("functions.test", 591),   // label_join producing duplicate label sets
        ("functions.test", 1558),  // duplicate series
        ("functions.test", 2072),  // eval_fail label_replace overlap
        ("functions.test", 2075),  // eval_fail label_join overlap
        ("histograms.test", 1075), // histogram_quantile over mixed series
        ("histograms.test", 1081),
        ("name_label_dropping.test", 84),
        ("operators.test", 329), // many-to-many matching
        ("operators.test", 333),
        ("operators.test", 337),
        ("operators.test", 502),
        ("operators.test", 1006),
        ("operators.test", 1027),
    ];

    #[test]
    fn suite_non_experimental_queries_parse() {
        let evals = evals();
        let mut failures = Vec::new();
        let mut parsed = 0;
        let mut trims = 0;
        for ev in evals.iter().filter(|e| !e.experimental) {
            if ev.query.contains("</") || ev.query.contains(">/") {
                // Native-histogram trim operators: not representable, rejected with a clear error.
                let e = parse(&ev.query).expect_err(&ev.query);
                assert!(e.message.starts_with("histogram trim operator"), "{}: {e}", ev.query);
                trims += 1;
                continue;
            }
            let expected = EXPECTED_PARSE_FAILURES.iter().find(|(f, l, _)| *f == ev.file && *l == ev.line);
            match (parse(&ev.query), expected) {
                (Ok(_), None) => parsed += 1,
                (Err(e), Some((_, _, msg))) => {
                    assert_eq!(e.to_string(), *msg, "{}:{} {}", ev.file, ev.line, ev.query)
                }
                (Ok(_), Some(_)) => failures.push(format!("{}:{} unexpectedly parsed: {}", ev.file, ev.line, ev.query)),
                (Err(e), None) => failures.push(format!("{}:{} {}\n    {e}", ev.file, ev.line, ev.query)),
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
        assert!(parsed > 1690, "only {parsed} parsed");
        assert_eq!(trims, 110, "native-histogram trim operator queries");
        for (file, line) in EXPECTED_RUNTIME_FAILURES {
            let ev = evals
                .iter()
                .find(|e| e.file == *file && e.line == *line)
                .unwrap_or_else(|| panic!("{file}:{line} not in suite"));
            assert!(!ev.experimental);
            assert!(parse(&ev.query).is_ok(), "{file}:{line}");
        }
    }

    #[test]
    fn suite_round_trips() {
        let mut failures = Vec::new();
        let mut checked = 0;
        for ev in evals() {
            // Experimental queries take part when this parser accepts them.
            let Ok(e) = parse(&ev.query) else { continue };
            checked += 1;
            if let Err(msg) = check_roundtrip(&ev.query, &e) {
                failures.push(format!("{}:{} {msg}", ev.file, ev.line));
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
        assert!(checked > 1700, "only {checked} checked");
    }

    #[test]
    fn no_panics_on_truncations_and_mutations() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const NOISE: &[&str] = &[
            "(", ")", "[", "]", "{", "}", "\"", "'", "`", "\\", ",", ":", "@", "-", "offset", " by ", "1e", "0x", "#",
            "\n", "é", "=~", "!",
        ];
        for ev in evals() {
            let q = &ev.query;
            for (i, _) in q.char_indices() {
                let _ = parse(&q[..i]);
                let _ = parse(&q[i..]);
            }
            for _ in 0..4 {
                let cut = q.char_indices().map(|(i, _)| i).nth(rand() as usize % q.chars().count().max(1)).unwrap_or(0);
                let noise = NOISE[rand() as usize % NOISE.len()];
                let _ = parse(&format!("{}{}{}", &q[..cut], noise, &q[cut..]));
            }
        }
    }

    // ----- focused tests ----------------------------------------------------------------

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            ("1 + 2 * 3", "Add(1, Mul(2, 3))"),
            ("1 * 2 + 3", "Add(Mul(1, 2), 3)"),
            ("1 - 2 - 3", "Sub(Sub(1, 2), 3)"),
            ("2 ^ 3 ^ 2", "Pow(2, Pow(3, 2))"),
            ("-2 ^ 2", "Neg(Pow(2, 2))"),
            ("-2 * 3", "Mul(-2, 3)"),
            ("2 ^ -1", "Pow(2, -1)"),
            ("a or b and c", "Or(a, And(b, c))"),
            ("a and b or c", "Or(And(a, b), c)"),
            ("a unless b and c", "And(Unless(a, b), c)"),
            ("a == b + c", "Eql(a, Add(b, c))"),
            ("a > b or c < d", "Or(Gtr(a, b), Lss(c, d))"),
            ("a atan2 b * c", "Mul(Atan2(a, b), c)"),
            ("a + b atan2 c", "Add(a, Atan2(b, c))"),
            ("a % b / c", "Div(Mod(a, b), c)"),
            ("-a * b", "Mul(Neg(a), b)"),
            ("- a ^ b * c", "Mul(Neg(Pow(a, b)), c)"),
            ("a ^ -b * c", "Mul(Pow(a, Neg(b)), c)"),
            ("a offset 1m + b", "Add(a, b)"),
            ("1 + 2 == bool 3", "Eql(Add(1, 2), 3)"),
        ];
        fn show(e: &Expr) -> String {
            match e {
                Expr::Number { value, .. } => format!("{value}"),
                Expr::VectorSelector(v) => v.name.clone().unwrap_or_default(),
                Expr::Unary { op, expr, .. } => format!("{op:?}({})", show(expr)),
                Expr::Binary(b) => format!("{:?}({}, {})", b.op, show(&b.lhs), show(&b.rhs)),
                Expr::Paren { expr, .. } => format!("({})", show(expr)),
                other => format!("{other:?}"),
            }
        }
        for (q, want) in cases {
            assert_eq!(show(&p(q)), want, "{q}");
        }
        // `offset` binds to the selector only: `(foo offset -2) ^ 2`.
        match p("foo offset -2 ^ 2") {
            Expr::Binary(b) => match &b.lhs {
                Expr::VectorSelector(v) => assert_eq!(v.offset, -2000),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn number_formats() {
        let num = |q: &str| match p(q) {
            Expr::Number { value, .. } => value,
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(num("1"), 1.0);
        assert_eq!(num(".5"), 0.5);
        assert_eq!(num("5."), 5.0);
        assert_eq!(num("0x1f"), 31.0);
        assert_eq!(num("0X1F"), 31.0);
        assert_eq!(num("1e3"), 1000.0);
        assert_eq!(num("2.5E-3"), 0.0025);
        assert_eq!(num("-1e-2"), -0.01);
        assert_eq!(num("1_000"), 1000.0);
        assert_eq!(num("010"), 8.0, "Go base-0 parsing: leading zero is octal");
        assert_eq!(num("09"), 9.0);
        assert_eq!(num("Inf"), f64::INFINITY);
        assert_eq!(num("-inf"), f64::NEG_INFINITY);
        assert!(num("NaN").is_nan() && num("nAn").is_nan());
        assert_eq!(num("5m"), 300.0);
        assert_eq!(num("1h30m"), 5400.0);
        assert_eq!(num("100ms"), 0.1);
        assert_eq!(num("9223372036854775807"), 9223372036854775807.0);
        assert_eq!(num("99999999999999999999"), 1e20);
        assert_eq!(
            err("1e400"),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range"
        );
        assert_eq!(err("1.5m"), "1:1: parse error: not a valid duration string: \"1.5m\"");
        assert_eq!(err("1m5h"), "1:1: parse error: not a valid duration string: \"1m5h\"");
        assert_eq!(err("1x"), "1:1: parse error: bad number or duration syntax: \"1\"");
        assert_eq!(err("5mx"), "1:1: parse error: bad number or duration syntax: \"5mx\"");
        assert_eq!(
            err("0x"),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax"
        );
    }

    #[test]
    fn strings_and_escapes() {
        let s = |q: &str| match p(q) {
            Expr::String { value, .. } => value,
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(s(r#""a\nb\t\\\"""#), "a\nb\t\\\"");
        assert_eq!(s(r#"'it\'s'"#), "it's");
        assert_eq!(s(r#""\x41\101\u00e9\U0001F600""#), "AAé😀");
        assert_eq!(s(r#""\xc3\xa9""#), "é");
        assert_eq!(s(r#""\a\b\f\r\v""#), "\u{7}\u{8}\u{c}\r\u{b}");
        assert_eq!(s("`a\\n\"'b`"), "a\\n\"'b");
        assert_eq!(s("`multi\nline`"), "multi\nline");
        assert_eq!(s(r#""a\xc5z""#), "a\u{fffd}z", "invalid UTF-8 becomes U+FFFD");
        assert_eq!(s("\"ünïcödé\""), "ünïcödé");
        assert_eq!(err(r#""\q""#), "1:1: parse error: unknown escape sequence U+0071 'q'");
        assert_eq!(err(r#""\'""#), "1:1: parse error: unknown escape sequence U+0027 '''");
        assert_eq!(err(r#""\400""#), "1:1: parse error: escape sequence is an invalid Unicode code point");
        assert_eq!(err(r#""\ud800""#), "1:1: parse error: escape sequence is an invalid Unicode code point");
        assert_eq!(err(r#""\x4""#), "1:1: parse error: illegal character U+0022 '\"' in escape sequence");
        assert_eq!(err("foo + \"abc"), "1:7: parse error: unterminated quoted string");
        assert_eq!(err("\"a\nb\""), "1:1: parse error: unterminated quoted string");
        assert_eq!(err("`abc"), "1:1: parse error: unterminated raw string");
    }

    fn vs(e: &Expr) -> &VectorSelector {
        match e {
            Expr::VectorSelector(v) => v,
            Expr::MatrixSelector(m) => &m.selector,
            other => panic!("{other:?}"),
        }
    }

    fn m(name: &str, op: MatchOp, value: &str) -> LabelMatcher {
        LabelMatcher { name: name.into(), op, value: value.into() }
    }

    #[test]
    fn selectors_and_utf8_names() {
        let e = p(r#"foo{a="1", b!="2", c=~"x.*", d!~'y',}"#);
        let v = vs(&e);
        assert_eq!(v.name.as_deref(), Some("foo"));
        assert_eq!(
            v.matchers,
            vec![
                m("__name__", MatchOp::Equal, "foo"),
                m("a", MatchOp::Equal, "1"),
                m("b", MatchOp::NotEqual, "2"),
                m("c", MatchOp::Regex, "x.*"),
                m("d", MatchOp::NotRegex, "y")
            ]
        );
        let e = p(r#"{"my.metric", "a.b"="c", __name__!="x"}"#);
        let v = vs(&e);
        assert_eq!(v.name.as_deref(), Some("my.metric"));
        assert_eq!(v.matchers[0], m("__name__", MatchOp::Equal, "my.metric"));
        assert_eq!(v.matchers[1], m("a.b", MatchOp::Equal, "c"));
        let e = p(r#"{__name__="foo"}"#);
        assert_eq!(vs(&e).name, None);
        // Keywords are label names inside braces and in grouping lists, and metric names.
        let e = p(r#"sum by (on, by, offset, bool, group_left, "ünï") (foo{on="1", offset="2", by="3"})"#);
        match &e {
            Expr::Aggregate(a) => assert_eq!(a.grouping, vec!["on", "by", "offset", "bool", "group_left", "ünï"]),
            other => panic!("{other:?}"),
        }
        for q in [
            "by",
            "offset",
            "sum",
            "avg{a=\"b\"}",
            "and",
            "start",
            "end",
            "min + max",
            "offset offset 5m",
            "rate",
            "a:b:c",
        ] {
            p(q);
        }
        let e = p("sum + min");
        assert!(matches!(&e, Expr::Binary(b) if matches!(&b.lhs, Expr::VectorSelector(_))));
        assert_eq!(err("bool"), "1:1: parse error: unexpected <bool>");
        assert_eq!(err("{}"), "1:1: parse error: vector selector must contain at least one non-empty matcher");
        assert_eq!(
            err(r#"{a="", b=~".*", c!~".+"}"#),
            "1:1: parse error: vector selector must contain at least one non-empty matcher"
        );
        p(r#"{a=~".+"}"#);
        p(r#"{a!=""}"#);
        assert_eq!(
            err(r#"foo{__name__="bar"}"#),
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""
        );
        assert_eq!(err(r#"foo{a=~"(.*"}"#), "1:5: parse error: error parsing regexp: unclosed group: `(.*`");
        assert_eq!(
            err(r#"foo{a="b" c="d"}"#),
            "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""
        );
        assert_eq!(
            err(r#"foo{a}"#),
            "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator"
        );
        assert_eq!(
            err(r#"foo{a=b}"#),
            "1:7: parse error: unexpected identifier \"b\" in label matching, expected string"
        );
        assert_eq!(
            err(r#"foo{a="b"=}"#),
            "1:10: parse error: unexpected \"=\" in label matching, expected \",\" or \"}\""
        );
        assert_eq!(err(r#"foo{a:b="c"}"#), "1:6: parse error: unexpected character inside braces: ':'");
        assert_eq!(err("foo{"), "1:5: parse error: unexpected end of input inside braces");
    }

    #[test]
    fn offsets_and_at() {
        let v = |q: &str| {
            let e = p(q);
            let v = vs(&e).clone();
            (v.offset, v.at)
        };
        assert_eq!(v("foo offset 5m"), (300_000, None));
        assert_eq!(v("foo offset -5m"), (-300_000, None));
        assert_eq!(v("foo offset 50"), (50_000, None));
        assert_eq!(v("foo offset 1.5"), (1_500, None));
        assert_eq!(v("foo OFFSET 1h30m"), (5_400_000, None));
        assert_eq!(v("foo offset (100 + 2)"), (102_000, None));
        assert_eq!(v("foo @ 100"), (0, Some(At::Timestamp(100_000))));
        assert_eq!(v("foo @ 1.2345"), (0, Some(At::Timestamp(1_235))));
        assert_eq!(v("foo @ -1"), (0, Some(At::Timestamp(-1_000))));
        assert_eq!(v("foo @ 100s"), (0, Some(At::Timestamp(100_000))));
        assert_eq!(v("foo @ 1m40s"), (0, Some(At::Timestamp(100_000))));
        assert_eq!(v("foo @ start()"), (0, Some(At::Start)));
        assert_eq!(v("foo @ END()"), (0, Some(At::End)));
        assert_eq!(v("foo offset 5m @ 100"), (300_000, Some(At::Timestamp(100_000))));
        assert_eq!(v("foo @ 100 offset 5m"), (300_000, Some(At::Timestamp(100_000))));
        assert_eq!(v("foo[5m] offset 1m @ 10"), (60_000, Some(At::Timestamp(10_000))));
        assert_eq!(err("foo offset 5m offset 1m"), "1:1: parse error: offset may not be set multiple times");
        assert_eq!(err("foo @ 1 @ 2"), "1:1: parse error: @ <timestamp> may not be set multiple times");
        assert_eq!(err("foo @ NaN"), "1:1: parse error: timestamp out of bounds for @ modifier: NaN");
        assert_eq!(err("foo @ Inf"), "1:1: parse error: timestamp out of bounds for @ modifier: +Inf");
        assert_eq!(
            err("foo @ 1e20"),
            "1:1: parse error: timestamp out of bounds for @ modifier: 100000000000000000000.000000"
        );
        assert_eq!(err("foo offset 5m [5m]"), "1:15: parse error: no offset modifiers allowed before range");
        assert_eq!(err("foo @ 1 [5m]"), "1:9: parse error: no @ modifiers allowed before range");
        assert_eq!(
            err("sum(foo) offset 5m"),
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"
        );
        assert_eq!(
            err("1 @ 5"),
            "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery"
        );
        assert_eq!(
            err("foo offset"),
            "1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()"
        );
        assert_eq!(err("foo @ bar"), "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp");
        assert_eq!(err("foo offset 1.5m"), "1:12: parse error: not a valid duration string: \"1.5m\"");
    }

    #[test]
    fn ranges_and_subqueries() {
        match p("foo[5m]") {
            Expr::MatrixSelector(m) => assert_eq!(m.range, 300_000),
            other => panic!("{other:?}"),
        }
        match p("foo[100]") {
            Expr::MatrixSelector(m) => assert_eq!(m.range, 100_000),
            other => panic!("{other:?}"),
        }
        match p("foo[1.5]") {
            Expr::MatrixSelector(m) => assert_eq!(m.range, 1_500),
            other => panic!("{other:?}"),
        }
        match p("foo[26m+4m]") {
            Expr::MatrixSelector(m) => assert_eq!(m.range, 1_800_000),
            other => panic!("{other:?}"),
        }
        let sq = |q: &str| match p(q) {
            Expr::Subquery(s) => (s.range, s.step, s.offset, s.at),
            Expr::Call(c) => match &c.args[0] {
                Expr::Subquery(s) => (s.range, s.step, s.offset, s.at),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(sq("foo[5m:1m]"), (300_000, Some(60_000), 0, None));
        assert_eq!(sq("foo[5m:]"), (300_000, None, 0, None));
        assert_eq!(sq("rate(foo[5m])[1h:] offset 1m @ 100"), (3_600_000, None, 60_000, Some(At::Timestamp(100_000))));
        assert_eq!(sq("sum_over_time(metric1_total[30:10] offset 3)"), (30_000, Some(10_000), 3_000, None));
        assert_eq!(sq("(foo + bar)[ 5m : 30s ]"), (300_000, Some(30_000), 0, None));
        assert_eq!(sq("min_over_time(rate(foo[5m])[30m:1m])"), (1_800_000, Some(60_000), 0, None));
        assert_eq!(err("(foo)[5m]"), "1:6: parse error: ranges only allowed for vector selectors");
        assert_eq!(err("foo[5m][5m]"), "1:8: parse error: ranges only allowed for vector selectors");
        assert_eq!(
            err("foo[5m][5m:]"),
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"
        );
        assert_eq!(err("foo[0]"), "1:5: parse error: duration must be greater than 0");
        assert_eq!(err("foo[5m:0s]"), "1:8: parse error: duration must be greater than 0");
        assert_eq!(err("foo["), "1:5: parse error: unexpected end of input in duration expression");
        assert_eq!(err("foo[5m"), "1:7: parse error: unclosed left bracket");
        assert_eq!(
            err("foo[]"),
            "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"
        );
        assert_eq!(
            err("foo[5m 1m]"),
            "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\""
        );
        assert_eq!(err("foo[5x]"), "1:5: parse error: bad number or duration syntax: \"5\"");
        assert_eq!(err("foo[step()]"), "1:5: parse error: step() in duration expressions is not supported");
        assert_eq!(err("foo[5m:1m:1m]"), "1:10: parse error: unexpected repeated colon in duration expression");
        assert_eq!(err("foo[1m/0]"), "1:7: parse error: division by zero");
        assert_eq!(err("foo[1m/(0)]"), "1:5: parse error: duration out of range");
        assert_eq!(err("foo[300y]"), "1:5: parse error: duration out of range");
        assert_eq!(err("foo offset 1e10"), "1:12: parse error: duration out of range");
    }

    #[test]
    fn aggregations_and_calls() {
        let agg = |q: &str| match p(q) {
            Expr::Aggregate(a) => *a,
            other => panic!("{other:?}"),
        };
        let a = agg("sum by (job) (foo)");
        assert_eq!((a.op, a.grouping.clone(), a.without), (AggregateOp::Sum, vec!["job".to_string()], false));
        let a = agg("sum(foo) without (job, instance,)");
        assert_eq!((a.grouping.len(), a.without), (2, true));
        let a = agg("SUM BY (group) (foo)");
        assert_eq!(a.grouping, vec!["group"]);
        let a = agg("topk(3, foo)");
        assert!(matches!(a.param, Some(Expr::Number { value, .. }) if value == 3.0));
        let a = agg("count_values(\"l\", foo)");
        assert!(matches!(a.param, Some(Expr::String { .. })));
        let a = agg("quantile without(point)(0.8, foo)");
        assert_eq!(a.op, AggregateOp::Quantile);
        let a = agg("limitk(2, foo)");
        assert_eq!(a.op, AggregateOp::Limitk);
        match p("label_join(foo, \"d\", \",\", \"a\", \"b\", \"c\")") {
            Expr::Call(c) => assert_eq!((c.func.name, c.args.len()), ("label_join", 6)),
            other => panic!("{other:?}"),
        }
        for q in [
            "time()",
            "pi()",
            "hour()",
            "hour(foo)",
            "round(foo)",
            "round(foo, 5)",
            "vector(1)",
            "scalar(foo)",
            "absent(nonexistent)",
            "histogram_quantile(0.9, rate(foo[5m]))",
            "clamp(foo, 0, 1)",
        ] {
            p(q);
        }
        assert_eq!(
            err("sum(foo, bar)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"
        );
        assert_eq!(
            err("topk(foo)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"
        );
        assert_eq!(err("sum()"), "1:1: parse error: no arguments for aggregate expression provided");
        assert_eq!(
            err("topk(\"a\", foo)"),
            "1:6: parse error: expected type scalar in aggregation parameter, got string"
        );
        assert_eq!(
            err("count_values(1, foo)"),
            "1:14: parse error: expected type string in aggregation parameter, got scalar"
        );
        assert_eq!(
            err("sum(foo[5m])"),
            "1:5: parse error: expected type instant vector in aggregation expression, got range vector"
        );
        assert_eq!(err("sum by (a) (foo) by (b)"), "1:18: parse error: unexpected <by>");
        assert_eq!(
            err("sum by foo"),
            "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\""
        );
        assert_eq!(
            err("sum by (a b) (foo)"),
            "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""
        );
        assert_eq!(
            err("sum by (1) (foo)"),
            "1:9: parse error: unexpected number \"1\" in grouping opts, expected label"
        );
        assert_eq!(err("sum(foo bar)"), "1:9: parse error: unexpected identifier \"bar\" in aggregation");
        assert_eq!(err("foo(bar)"), "1:1: parse error: unknown function with name \"foo\"");
        assert_eq!(
            err("holt_winters(foo[5m], 0.1, 0.1)"),
            "1:1: parse error: unknown function with name \"holt_winters\""
        );
        assert_eq!(
            err("rate(foo)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
        assert_eq!(err("rate(foo[5m], 1)"), "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2");
        assert_eq!(
            err("round(foo, 1, 2)"),
            "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"
        );
        assert_eq!(
            err("label_join(foo, \"a\")"),
            "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2"
        );
        assert_eq!(
            err("label_join(foo, \"a\", \",\", 1)"),
            "1:27: parse error: expected type string in call to function \"label_join\", got scalar"
        );
        assert_eq!(err("rate(foo[5m],)"), "1:13: parse error: trailing commas not allowed in function call args");
        assert_eq!(err("rate(foo[5m]"), "1:13: parse error: unclosed left parenthesis");
        assert_eq!(err("rate(foo[5m] foo)"), "1:14: parse error: unexpected identifier \"foo\"");
    }

    #[test]
    fn binary_operations_and_matching() {
        let bin = |q: &str| match p(q) {
            Expr::Binary(b) => *b,
            other => panic!("{other:?}"),
        };
        let b = bin("a + b");
        assert_eq!(
            b.matching,
            Some(VectorMatching { card: Cardinality::OneToOne, on: false, labels: vec![], include: vec![] })
        );
        let b = bin("a and b");
        assert_eq!(b.matching.map(|m| m.card), Some(Cardinality::ManyToMany));
        let b = bin("a * on(x, y) group_left(z) b");
        assert_eq!(
            b.matching,
            Some(VectorMatching {
                card: Cardinality::ManyToOne,
                on: true,
                labels: vec!["x".into(), "y".into()],
                include: vec!["z".into()]
            })
        );
        let b = bin("a / ignoring(x) group_right b");
        assert_eq!(b.matching.map(|m| (m.card, m.on, m.include.len())), Some((Cardinality::OneToMany, false, 0)));
        assert_eq!(bin("a + 1").matching, None);
        assert_eq!(bin("1 + 1").matching, None);
        assert_eq!(bin("sum(a) - scalar(b)").matching, None);
        let b = bin("1 == bool 2");
        assert!(b.return_bool);
        assert_eq!(p("1 == bool 2").value_type(), ValueType::Scalar);
        let b = bin("a > BOOL on(x) b");
        assert!(b.return_bool && b.matching.is_some_and(|m| m.on));
        assert_eq!(err("1 == 1"), "1:3: parse error: comparisons between scalars must use BOOL modifier");
        assert_eq!(err("a + bool b"), "1:3: parse error: bool modifier can only be used on comparison operators");
        assert_eq!(err("1 and 1"), "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
        assert_eq!(err("a and 1"), "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
        assert_eq!(err("a and on(x) group_left b"), "1:1: parse error: no grouping allowed for \"and\" operation");
        assert_eq!(err("a + on(x) 1"), "1:1: parse error: vector matching only allowed between instant vectors");
        assert_eq!(
            err("a + on(x) group_left(x) b"),
            "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once"
        );
        assert_eq!(
            err("\"a\" + 1"),
            "1:1: parse error: binary expression must contain only scalar and instant vector types"
        );
        assert_eq!(
            err("1 + foo[5m]"),
            "1:5: parse error: binary expression must contain only scalar and instant vector types"
        );
        assert_eq!(
            err("-foo[5m]"),
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""
        );
        assert_eq!(err("a + group_left b"), "1:5: parse error: unexpected <group_left>");
        assert_eq!(err("1 +"), "1:4: parse error: unexpected end of input");
        assert_eq!(err("foo bar"), "1:5: parse error: unexpected identifier \"bar\"");
        assert_eq!(err("a + on b"), "1:8: parse error: unexpected identifier \"b\" in grouping opts, expected \"(\"");
    }

    #[test]
    fn comments_whitespace_and_positions() {
        p("# leading comment\nsum(\n  foo # trailing\n) # end");
        assert_eq!(err(""), "1:1: parse error: no expression found in input");
        assert_eq!(err("  # only a comment"), "1:1: parse error: no expression found in input");
        let e = parse("sum(foo)\n  +\n rate(foo)").unwrap_err();
        assert_eq!((e.line, e.col, e.span.start), (3, 7, 19));
        assert_eq!(e.message, "expected type range vector in call to function \"rate\", got instant vector");
        assert_eq!(err("foo ~ bar"), "1:5: parse error: unexpected character: '~'");
        assert_eq!(err("foo)"), "1:4: parse error: unexpected right parenthesis ')'");
        assert_eq!(err("foo]"), "1:4: parse error: unexpected right bracket ']'");
        assert_eq!(err("(foo"), "1:5: parse error: unclosed left parenthesis");
        assert_eq!(err("foo =~ bar"), "1:5: parse error: unexpected character after '=': '~'");
        assert_eq!(err("foo ! bar"), "1:5: parse error: unexpected character after '!': ' '");
        assert_eq!(err("foo{a=\"b\"} # c\n +"), "2:3: parse error: unexpected end of input");
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        // Spans of nodes.
        match p("sum(rate(foo[5m] offset 1m))") {
            Expr::Aggregate(a) => {
                assert_eq!((a.span.start, a.span.end), (0, 28));
                match &a.expr {
                    Expr::Call(c) => {
                        assert_eq!((c.span.start, c.span.end), (4, 27));
                        assert_eq!((c.args[0].span().start, c.args[0].span().end), (9, 26));
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p("-1").span(), Span::new(0, 2));
    }

    #[test]
    fn experimental_syntax_that_folds_or_fails() {
        for q in [
            "foo[5m+1m]",
            "foo[1h/2]",
            "foo[2m*(10+5)]",
            "foo[min_of(5m, 1h)]",
            "foo offset -(1m + 1s)",
            "foo[5m:1m*2]",
            "mad_over_time(foo[5m])",
            "sort_by_label(foo, \"a\", \"b\")",
            "limit_ratio(0.5, foo)",
            "histogram_quantiles(foo, \"q\", 0.1, 0.9)",
            "start_timestamp(foo)",
            "step()",
        ] {
            p(q);
        }
        assert_eq!(
            err("rate(foo[5m] anchored)"),
            "1:6: parse error: anchored modifier is experimental and not enabled"
        );
        assert_eq!(err("foo[5m::1m]"), "1:8: parse error: unexpected repeated colon in duration expression");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for query in [
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("1{}", "+1".repeat(100_000)),
            format!("{}1", "-".repeat(100_000)),
            format!("2{}", "^2".repeat(100_000)),
            format!("{}x{}", "abs(".repeat(50_000), ")".repeat(50_000)),
            format!("x[{}1s{}]", "(".repeat(100_000), ")".repeat(100_000)),
            format!("x{}", " or x".repeat(100_000)),
        ] {
            let err = parse(&query).unwrap_err();
            assert!(err.message.contains("levels deep"), "{}: {err}", &query[..20]);
        }
        // Real queries stay far below the limit.
        assert!(parse(&format!("x{}", " or x".repeat(100))).is_ok());
        assert!(parse(&format!("{}1{}", "(".repeat(100), ")".repeat(100))).is_ok());
    }
}

// Pharos — query/src/promql/parser.rs
