//! The LogQL lexer and recursive-descent parser.
//!
//! Grammar (informal):
//! ```text
//! query      := log_expr | metric
//! log_expr   := selector stage*
//! selector   := '{' matcher (',' matcher)* ','? '}'          matcher := name ('='|'!='|'=~'|'!~') string
//! stage      := ('|='|'!='|'|~'|'!~'|'|>'|'!>') string ('or' string)*
//!             | '|' ('json' params? | 'logfmt' flags params? | 'regexp' string | 'pattern' string | 'unpack'
//!                    | 'decolorize' | 'line_format' string | 'label_format' fmt (',' fmt)*
//!                    | 'drop' names | 'keep' names | label_filter)
//! label_filter := and_filter ('or' and_filter)*;  and_filter := atom (('and'|','|) atom)*
//! atom       := '(' label_filter ')' | name ('='|'!='|'=~'|'!~') string | name cmp (number|duration|bytes)
//! metric     := metric binop [bool] [on|ignoring (..)] [group_left|group_right (..)] metric | unary
//! unary      := ('-'|'+') unary | number | 'vector' '(' number ')' | '(' metric ')'
//!             | range_fn '(' [number ','] log_range ')' [grouping] | agg [grouping] '(' [number ','] metric ')' [grouping]
//! log_range  := selector ['[' dur ']' [offset]] stage* [unwrap] ['[' dur ']' [offset]] | '(' log_expr ')' '[' dur ']'
//! ```
//! Errors carry the line and column of the offending token.

use regex::Regex;

use super::ast::*;
use super::error::LokiError;
use super::labels::{MatchOp, Matcher, is_label_name};
use super::params::{parse_bytes, parse_duration};
use super::template::Template;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    /// A numeric literal: number, duration or byte size; the text as written.
    Num(String),
    Flag(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Eq,
    EqEq,
    Neq,
    Re,
    Nre,
    PipeEq,
    PipeRe,
    PipePattern,
    NotPattern,
    Pipe,
    Gt,
    Ge,
    Lt,
    Le,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Flag(s) => format!("flag --{s}"),
            Tok::Eof => "end of input".into(),
            other => format!("{:?}", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrack => "[",
            Tok::RBrack => "]",
            Tok::Comma => ",",
            Tok::Eq => "=",
            Tok::EqEq => "==",
            Tok::Neq => "!=",
            Tok::Re => "=~",
            Tok::Nre => "!~",
            Tok::PipeEq => "|=",
            Tok::PipeRe => "|~",
            Tok::PipePattern => "|>",
            Tok::NotPattern => "!>",
            Tok::Pipe => "|",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Add => "+",
            Tok::Sub => "-",
            Tok::Mul => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::Pow => "^",
            _ => "",
        }
    }
}

fn lex(input: &str) -> Result<Vec<(Tok, usize)>, LokiError> {
    let err = |pos: usize, msg: String| LokiError::parse_at(input, pos, format!("syntax error: {msg}"));
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let two = input.get(i..i + 2).unwrap_or("");
        let tok = match two {
            "!=" => Some(Tok::Neq),
            "!~" => Some(Tok::Nre),
            "!>" => Some(Tok::NotPattern),
            "=~" => Some(Tok::Re),
            "==" => Some(Tok::EqEq),
            "|=" => Some(Tok::PipeEq),
            "|~" => Some(Tok::PipeRe),
            "|>" => Some(Tok::PipePattern),
            ">=" => Some(Tok::Ge),
            "<=" => Some(Tok::Le),
            _ => None,
        };
        if let Some(t) = tok {
            out.push((t, start));
            i += 2;
            continue;
        }
        if two == "--" && b.get(i + 2).is_some_and(|c| c.is_ascii_alphabetic()) {
            i += 2;
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Flag(input[s..i].to_string()), start));
            continue;
        }
        let single = match c {
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            b',' => Some(Tok::Comma),
            b'=' => Some(Tok::Eq),
            b'|' => Some(Tok::Pipe),
            b'>' => Some(Tok::Gt),
            b'<' => Some(Tok::Lt),
            b'+' => Some(Tok::Add),
            b'-' => Some(Tok::Sub),
            b'*' => Some(Tok::Mul),
            b'/' => Some(Tok::Div),
            b'%' => Some(Tok::Mod),
            b'^' => Some(Tok::Pow),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, start));
            i += 1;
            continue;
        }
        if c == b'"' {
            // Go string syntax, unquoted as PromQL unquotes it.
            let Some(end) = crate::selector::literal_end(input, i, '"') else {
                return Err(err(start, "unterminated string".into()));
            };
            let s = crate::promql::unquote(&input[i..end]).map_err(|e| err(start, format!("invalid string: {e}")))?;
            i = end;
            out.push((Tok::Str(s), start));
            continue;
        }
        if c == b'`' {
            let Some(end) = input[i + 1..].find('`') else {
                return Err(err(start, "unterminated raw string".into()));
            };
            out.push((Tok::Str(input[i + 1..i + 1 + end].to_string()), start));
            i += end + 2;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                // An exponent sign belongs to the number: 1e-3.
                i += 1;
                if i < b.len()
                    && matches!(b[i], b'+' | b'-')
                    && matches!(b[i - 1], b'e' | b'E')
                    && !input[start..i].contains(['x', 'X'])
                {
                    i += 1;
                }
            }
            // µs is the one non-ASCII unit.
            if input[i..].starts_with('µ') || input[i..].starts_with('μ') {
                i += input[i..].chars().next().map_or(0, char::len_utf8);
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
            }
            let text = &input[start..i];
            if number_value(text).is_none() && parse_duration(text).is_none() && parse_bytes(text).is_none() {
                return Err(err(start, format!("invalid number or duration {text:?}")));
            }
            out.push((Tok::Num(text.to_string()), start));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(input[start..i].to_string()), start));
            continue;
        }
        let ch = input[i..].chars().next().unwrap_or('?');
        return Err(err(start, format!("unexpected character {ch:?}")));
    }
    out.push((Tok::Eof, input.len()));
    Ok(out)
}

/// A plain number literal (decimal, exponent, hex, `Inf`/`NaN` are identifiers and not handled here).
fn number_value(text: &str) -> Option<f64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    if text.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return text.parse().ok();
    }
    None
}

/// Parses a LogQL query (syntax only; see [`validate`]).
pub fn parse(input: &str) -> Result<Expr, LokiError> {
    let toks = lex(input)?;
    let mut p = Parser { input, toks, pos: 0 };
    let expr = p.parse_top()?;
    p.expect(&Tok::Eof, "end of query")?;
    Ok(expr)
}

/// Parses a query and checks Loki's rules on it (every selector needs a matcher that does not
/// match the empty string).
pub fn parse_query(input: &str) -> Result<Expr, LokiError> {
    let expr = parse(input)?;
    validate(input, &expr)?;
    Ok(expr)
}

/// Checks that every selector has at least one matcher that does not match "".
pub fn validate(input: &str, expr: &Expr) -> Result<(), LokiError> {
    match expr {
        Expr::Log(l) => validate_selector(input, l),
        Expr::Metric(m) => validate_metric(input, m),
    }
}

fn validate_metric(input: &str, m: &MetricExpr) -> Result<(), LokiError> {
    match m {
        MetricExpr::Range(r) => validate_selector(input, &r.log),
        MetricExpr::Aggregate { expr, .. } => validate_metric(input, expr),
        MetricExpr::Binary { lhs, rhs, .. } => {
            validate_metric(input, lhs)?;
            validate_metric(input, rhs)
        }
        MetricExpr::Number(_) | MetricExpr::Vector(_) => Ok(()),
    }
}

fn validate_selector(input: &str, l: &LogExpr) -> Result<(), LokiError> {
    if l.matchers.iter().any(|m| !m.matches("")) {
        return Ok(());
    }
    Err(LokiError::parse_at(
        input,
        l.pos,
        "queries require at least one regexp or equality matcher that does not have an empty-compatible value; \
         app=~\".*\" matches the empty value and does not qualify, app=~\".+\" does",
    ))
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

type PResult<T> = Result<T, LokiError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }

    fn here(&self) -> usize {
        self.toks[self.pos].1
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err_at(&self, pos: usize, msg: impl Into<String>) -> LokiError {
        LokiError::parse_at(self.input, pos, msg)
    }

    fn unexpected(&self, expecting: &str) -> LokiError {
        self.err_at(self.here(), format!("syntax error: unexpected {}, expecting {expecting}", self.peek().describe()))
    }

    fn expect(&mut self, tok: &Tok, expecting: &str) -> PResult<()> {
        if self.peek() == tok {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == name)
    }

    fn ident(&mut self, expecting: &str) -> PResult<String> {
        match self.peek() {
            Tok::Ident(s) => {
                let s = s.clone();
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn string(&mut self, expecting: &str) -> PResult<String> {
        match self.peek() {
            Tok::Str(s) => {
                let s = s.clone();
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn parse_top(&mut self) -> PResult<Expr> {
        if *self.peek() == Tok::LBrace {
            return Ok(Expr::Log(self.parse_log_expr(false)?.0));
        }
        // `( {…} | … )` at top level is a log query in parentheses.
        if *self.peek() == Tok::LParen && self.paren_holds_log() {
            self.next();
            let e = self.parse_top()?;
            self.expect(&Tok::RParen, "\")\"")?;
            return Ok(e);
        }
        Ok(Expr::Metric(self.parse_binary(0)?))
    }

    /// Whether the `(` at the cursor opens a log expression.
    fn paren_holds_log(&self) -> bool {
        let mut n = 0;
        while *self.peek_at(n) == Tok::LParen {
            n += 1;
        }
        *self.peek_at(n) == Tok::LBrace
    }

    // ---- log expressions ----

    fn parse_selector(&mut self) -> PResult<(Vec<Matcher>, usize)> {
        let pos = self.here();
        self.expect(&Tok::LBrace, "\"{\"")?;
        let mut matchers = Vec::new();
        loop {
            if *self.peek() == Tok::RBrace {
                self.next();
                break;
            }
            let name_pos = self.here();
            let name = self.ident("a label name")?;
            let op = match self.next() {
                Tok::Eq => MatchOp::Eq,
                Tok::Neq => MatchOp::Neq,
                Tok::Re => MatchOp::Re,
                Tok::Nre => MatchOp::Nre,
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("=, !=, =~ or !~"));
                }
            };
            let value = self.string("a quoted label value")?;
            matchers.push(Matcher::new(&name, op, &value).map_err(|e| self.err_at(name_pos, e))?);
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RBrace => {}
                _ => return Err(self.unexpected("\",\" or \"}\"")),
            }
        }
        if matchers.is_empty() {
            return Err(self.err_at(pos, "syntax error: unexpected \"}\", expecting a label matcher"));
        }
        Ok((matchers, pos))
    }

    /// A selector and its stages. With `allow_unwrap`, a trailing `| unwrap …` (and label filters
    /// after it) is returned too.
    fn parse_log_expr(&mut self, allow_unwrap: bool) -> PResult<(LogExpr, Option<Unwrap>)> {
        let (matchers, pos) = self.parse_selector()?;
        let mut log = LogExpr { matchers, stages: Vec::new(), pos };
        let unwrap = self.parse_stages(&mut log.stages, allow_unwrap)?;
        Ok((log, unwrap))
    }

    fn parse_stages(&mut self, stages: &mut Vec<Stage>, allow_unwrap: bool) -> PResult<Option<Unwrap>> {
        loop {
            let op = match self.peek() {
                Tok::PipeEq => Some(LineFilterOp::Contains),
                Tok::Neq => Some(LineFilterOp::NotContains),
                Tok::PipeRe => Some(LineFilterOp::Match),
                Tok::Nre => Some(LineFilterOp::NotMatch),
                Tok::PipePattern => Some(LineFilterOp::Pattern),
                Tok::NotPattern => Some(LineFilterOp::NotPattern),
                _ => None,
            };
            if let Some(op) = op {
                self.next();
                stages.push(Stage::LineFilter(self.parse_line_filter(op)?));
                continue;
            }
            if *self.peek() != Tok::Pipe {
                return Ok(None);
            }
            self.next();
            let stage_pos = self.here();
            let word = match self.peek() {
                Tok::Ident(w) => w.clone(),
                Tok::LParen => String::new(),
                _ => return Err(self.unexpected("a parser, a formatter or a label filter")),
            };
            // A label named like a keyword is still a label filter: `| json="x"`.
            let is_filter = matches!(
                self.peek_at(1),
                Tok::Eq | Tok::EqEq | Tok::Neq | Tok::Re | Tok::Nre | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le
            );
            if is_filter || word.is_empty() {
                stages.push(Stage::LabelFilter(self.parse_label_filter()?));
                continue;
            }
            match word.as_str() {
                "json" => {
                    self.next();
                    let params = self.parse_extract_params()?;
                    let mut out = Vec::new();
                    for (name, path, pos) in params {
                        let path = parse_json_path(&path).map_err(|e| self.err_at(pos, e))?;
                        out.push((name, path));
                    }
                    stages.push(Stage::Json(out));
                }
                "logfmt" => {
                    self.next();
                    let (mut strict, mut keep_empty) = (false, false);
                    while let Tok::Flag(f) = self.peek() {
                        match f.as_str() {
                            "strict" => strict = true,
                            "keep-empty" => keep_empty = true,
                            _ => {
                                return Err(
                                    self.err_at(self.here(), format!("syntax error: unknown logfmt flag --{f}"))
                                );
                            }
                        }
                        self.next();
                    }
                    let params = self.parse_extract_params()?.into_iter().map(|(n, k, _)| (n, k)).collect();
                    stages.push(Stage::Logfmt { strict, keep_empty, params });
                }
                "regexp" => {
                    self.next();
                    let pos = self.here();
                    let re = self.string("a regular expression")?;
                    let re = Regex::new(&re).map_err(|e| self.err_at(pos, format!("invalid regexp: {e}")))?;
                    if re.capture_names().flatten().next().is_none() {
                        return Err(self.err_at(pos, "regexp needs at least one named capture group"));
                    }
                    for name in re.capture_names().flatten() {
                        if !is_label_name(name) {
                            return Err(self.err_at(pos, format!("invalid extracted label name {name:?}")));
                        }
                    }
                    stages.push(Stage::Regexp(re));
                }
                "pattern" => {
                    self.next();
                    let pos = self.here();
                    let text = self.string("a pattern")?;
                    let pattern = parse_pattern(&text, true).map_err(|e| self.err_at(pos, e))?;
                    stages.push(Stage::Pattern(pattern));
                }
                "unpack" => {
                    self.next();
                    stages.push(Stage::Unpack);
                }
                "decolorize" => {
                    self.next();
                    stages.push(Stage::Decolorize);
                }
                "line_format" => {
                    self.next();
                    let pos = self.here();
                    let text = self.string("a template string")?;
                    let t =
                        Template::parse(&text).map_err(|e| self.err_at(pos, format!("invalid line template: {e}")))?;
                    stages.push(Stage::LineFormat(t));
                }
                "label_format" => {
                    self.next();
                    let mut fmts = Vec::new();
                    loop {
                        let dst = self.ident("a label name")?;
                        self.expect(&Tok::Eq, "\"=\"")?;
                        let pos = self.here();
                        match self.next() {
                            Tok::Ident(src) => fmts.push(LabelFormat::Rename { dst, src }),
                            Tok::Str(t) => {
                                let template = Template::parse(&t)
                                    .map_err(|e| self.err_at(pos, format!("invalid label template: {e}")))?;
                                fmts.push(LabelFormat::Template { dst, template });
                            }
                            _ => {
                                self.pos -= 1;
                                return Err(self.unexpected("a label name or a template string"));
                            }
                        }
                        if *self.peek() != Tok::Comma {
                            break;
                        }
                        self.next();
                    }
                    stages.push(Stage::LabelFormat(fmts));
                }
                "drop" | "keep" => {
                    self.next();
                    let mut names = Vec::new();
                    loop {
                        let name_pos = self.here();
                        let name = self.ident("a label name")?;
                        let op = match self.peek() {
                            Tok::Eq => Some(MatchOp::Eq),
                            Tok::Neq => Some(MatchOp::Neq),
                            Tok::Re => Some(MatchOp::Re),
                            Tok::Nre => Some(MatchOp::Nre),
                            _ => None,
                        };
                        let matcher = match op {
                            Some(op) => {
                                self.next();
                                let v = self.string("a quoted label value")?;
                                Some(Matcher::new(&name, op, &v).map_err(|e| self.err_at(name_pos, e))?)
                            }
                            None => None,
                        };
                        names.push(NamedMatcher { name, matcher });
                        if *self.peek() != Tok::Comma {
                            break;
                        }
                        self.next();
                    }
                    stages.push(if word == "drop" { Stage::Drop(names) } else { Stage::Keep(names) });
                }
                "unwrap" => {
                    if !allow_unwrap {
                        return Err(
                            self.err_at(stage_pos, "syntax error: unwrap is only allowed in a range aggregation")
                        );
                    }
                    self.next();
                    let unwrap = self.parse_unwrap()?;
                    return Ok(Some(unwrap));
                }
                "ip" => return Err(self.err_at(stage_pos, "ip() filters are not supported")),
                _ => return Err(self.unexpected("a parser, a formatter or a label filter")),
            }
        }
    }

    fn parse_unwrap(&mut self) -> PResult<Unwrap> {
        let name = self.ident("a label name")?;
        let (label, conv) = if *self.peek() == Tok::LParen {
            let conv = match name.as_str() {
                "duration" | "duration_seconds" => UnwrapConv::Duration,
                "bytes" => UnwrapConv::Bytes,
                _ => return Err(self.err_at(self.here(), format!("syntax error: unknown unwrap conversion {name:?}"))),
            };
            self.next();
            let label = self.ident("a label name")?;
            self.expect(&Tok::RParen, "\")\"")?;
            (label, conv)
        } else {
            (name, UnwrapConv::Number)
        };
        let mut post_filters = Vec::new();
        while *self.peek() == Tok::Pipe {
            self.next();
            post_filters.push(self.parse_label_filter()?);
        }
        Ok(Unwrap { label, conv, post_filters })
    }

    /// `a, b="path", "c"` after `json`/`logfmt`: (label, key/path, position).
    fn parse_extract_params(&mut self) -> PResult<Vec<(String, String, usize)>> {
        let mut out = Vec::new();
        if !matches!(self.peek(), Tok::Ident(_)) || matches!(self.peek(), Tok::Ident(w) if w == "or" || w == "and") {
            return Ok(out);
        }
        loop {
            let pos = self.here();
            let name = self.ident("a label name")?;
            if *self.peek() == Tok::Eq {
                self.next();
                let pos = self.here();
                let path = self.string("a quoted expression")?;
                out.push((name, path, pos));
            } else {
                out.push((name.clone(), name, pos));
            }
            if *self.peek() != Tok::Comma {
                break;
            }
            self.next();
        }
        Ok(out)
    }

    fn parse_line_filter(&mut self, op: LineFilterOp) -> PResult<LineFilter> {
        let mut needles = Vec::new();
        loop {
            let pos = self.here();
            if self.is_ident("ip") {
                return Err(self.err_at(pos, "ip() filters are not supported"));
            }
            let text = self.string("a quoted string")?;
            let needle = match op {
                LineFilterOp::Contains | LineFilterOp::NotContains => LineNeedle::Text(text),
                LineFilterOp::Match | LineFilterOp::NotMatch => {
                    LineNeedle::Regex(Regex::new(&text).map_err(|e| self.err_at(pos, format!("invalid regex: {e}")))?)
                }
                LineFilterOp::Pattern | LineFilterOp::NotPattern => {
                    LineNeedle::Pattern(parse_pattern(&text, false).map_err(|e| self.err_at(pos, e))?)
                }
            };
            needles.push(needle);
            if self.is_ident("or") && matches!(self.peek_at(1), Tok::Str(_)) {
                self.next();
                continue;
            }
            break;
        }
        Ok(LineFilter { op, needles })
    }

    fn parse_label_filter(&mut self) -> PResult<LabelFilter> {
        let mut lhs = self.parse_label_filter_and()?;
        while self.is_ident("or") {
            self.next();
            let rhs = self.parse_label_filter_and()?;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_label_filter_and(&mut self) -> PResult<LabelFilter> {
        let mut lhs = self.parse_label_filter_atom()?;
        loop {
            if self.is_ident("and") || *self.peek() == Tok::Comma {
                self.next();
            } else if !(*self.peek() == Tok::LParen
                || (matches!(self.peek(), Tok::Ident(w) if w != "or" && w != "and")
                    && matches!(
                        self.peek_at(1),
                        Tok::Eq | Tok::EqEq | Tok::Neq | Tok::Re | Tok::Nre | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le
                    )))
            {
                break;
            }
            let rhs = self.parse_label_filter_atom()?;
            lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_label_filter_atom(&mut self) -> PResult<LabelFilter> {
        if *self.peek() == Tok::LParen {
            self.next();
            let inner = self.parse_label_filter()?;
            self.expect(&Tok::RParen, "\")\"")?;
            return Ok(inner);
        }
        let name_pos = self.here();
        let name = self.ident("a label name")?;
        let op_tok = self.next();
        let op_pos = self.toks[self.pos - 1].1;
        let negative = *self.peek() == Tok::Sub;
        if negative {
            self.next();
        }
        let value_tok = self.peek().clone();
        match (&op_tok, &value_tok) {
            (Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre | Tok::EqEq, Tok::Str(v)) if !negative => {
                self.next();
                let op = match op_tok {
                    Tok::Eq | Tok::EqEq => MatchOp::Eq,
                    Tok::Neq => MatchOp::Neq,
                    Tok::Re => MatchOp::Re,
                    _ => MatchOp::Nre,
                };
                Ok(LabelFilter::Matcher(Matcher::new(&name, op, v).map_err(|e| self.err_at(name_pos, e))?))
            }
            (Tok::Eq | Tok::EqEq | Tok::Neq | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le, Tok::Num(text)) => {
                self.next();
                let op = match op_tok {
                    Tok::Eq | Tok::EqEq => CmpOp::Eq,
                    Tok::Neq => CmpOp::Neq,
                    Tok::Gt => CmpOp::Gt,
                    Tok::Ge => CmpOp::Ge,
                    Tok::Lt => CmpOp::Lt,
                    _ => CmpOp::Le,
                };
                let (mut value, kind) = if let Some(v) = number_value(text) {
                    (v, NumKind::Number)
                } else if let Some(d) = parse_duration(text) {
                    (d as f64 / 1e9, NumKind::Duration)
                } else if let Some(b) = parse_bytes(text) {
                    (b, NumKind::Bytes)
                } else {
                    return Err(self.err_at(op_pos, format!("syntax error: invalid value {text:?}")));
                };
                if negative {
                    value = -value;
                }
                Ok(LabelFilter::Compare { name, op, value, kind })
            }
            (Tok::Eq | Tok::EqEq | Tok::Neq | Tok::Re | Tok::Nre | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le, _) => {
                Err(self.unexpected("a quoted string, a number, a duration or a byte size"))
            }
            _ => {
                self.pos -= 1 + usize::from(negative);
                Err(self.unexpected("a label filter operator"))
            }
        }
    }

    // ---- metric expressions ----

    fn parse_binary(&mut self, min_prec: u8) -> PResult<MetricExpr> {
        let mut lhs = self.parse_unary()?;
        loop {
            let op = match self.peek() {
                Tok::Add => BinOp::Add,
                Tok::Sub => BinOp::Sub,
                Tok::Mul => BinOp::Mul,
                Tok::Div => BinOp::Div,
                Tok::Mod => BinOp::Mod,
                Tok::Pow => BinOp::Pow,
                Tok::EqEq => BinOp::Cmp(CmpOp::Eq),
                Tok::Neq => BinOp::Cmp(CmpOp::Neq),
                Tok::Gt => BinOp::Cmp(CmpOp::Gt),
                Tok::Ge => BinOp::Cmp(CmpOp::Ge),
                Tok::Lt => BinOp::Cmp(CmpOp::Lt),
                Tok::Le => BinOp::Cmp(CmpOp::Le),
                Tok::Ident(w) if w == "and" => BinOp::And,
                Tok::Ident(w) if w == "or" => BinOp::Or,
                Tok::Ident(w) if w == "unless" => BinOp::Unless,
                _ => break,
            };
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_pos = self.here();
            self.next();
            let modifiers = self.parse_bin_modifiers(op)?;
            let next_min = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.parse_binary(next_min)?;
            if op.is_set() && (is_scalar(&lhs) || is_scalar(&rhs)) {
                return Err(self.err_at(op_pos, "set operations are only allowed between vectors"));
            }
            if matches!(op, BinOp::Cmp(_)) && !modifiers.return_bool && is_scalar(&lhs) && is_scalar(&rhs) {
                return Err(self.err_at(op_pos, "comparisons between scalars must use the bool modifier"));
            }
            lhs = MetricExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), modifiers };
        }
        Ok(lhs)
    }

    fn parse_bin_modifiers(&mut self, op: BinOp) -> PResult<BinModifiers> {
        let mut m = BinModifiers::default();
        if self.is_ident("bool") {
            if !matches!(op, BinOp::Cmp(_)) {
                return Err(self.err_at(self.here(), "bool modifier can only be used on comparison operators"));
            }
            self.next();
            m.return_bool = true;
        }
        if self.is_ident("on") || self.is_ident("ignoring") {
            let on = self.is_ident("on");
            self.next();
            m.matching = Some((on, self.parse_label_list()?));
            if self.is_ident("group_left") || self.is_ident("group_right") {
                if op.is_set() {
                    return Err(self.err_at(self.here(), "no grouping allowed for set operations"));
                }
                let left = self.is_ident("group_left");
                self.next();
                let include = if *self.peek() == Tok::LParen { self.parse_label_list()? } else { Vec::new() };
                m.group = Some((left, include));
            }
        }
        Ok(m)
    }

    fn parse_label_list(&mut self) -> PResult<Vec<String>> {
        self.expect(&Tok::LParen, "\"(\"")?;
        let mut out = Vec::new();
        loop {
            if *self.peek() == Tok::RParen {
                self.next();
                return Ok(out);
            }
            out.push(self.ident("a label name")?);
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RParen => {}
                _ => return Err(self.unexpected("\",\" or \")\"")),
            }
        }
    }

    fn parse_grouping(&mut self) -> PResult<Option<Grouping>> {
        if self.is_ident("by") || self.is_ident("without") {
            let without = self.is_ident("without");
            self.next();
            return Ok(Some(Grouping { without, labels: self.parse_label_list()? }));
        }
        Ok(None)
    }

    fn parse_unary(&mut self) -> PResult<MetricExpr> {
        match self.peek() {
            Tok::Sub | Tok::Add => {
                let neg = *self.peek() == Tok::Sub;
                self.next();
                // Unary minus binds looser than ^ (as in Prometheus): -2^2 = -4.
                let inner = self.parse_binary(BinOp::Pow.precedence())?;
                Ok(match (neg, inner) {
                    (false, e) => e,
                    (true, MetricExpr::Number(v)) => MetricExpr::Number(-v),
                    (true, e) => MetricExpr::Binary {
                        op: BinOp::Mul,
                        lhs: Box::new(MetricExpr::Number(-1.0)),
                        rhs: Box::new(e),
                        modifiers: BinModifiers::default(),
                    },
                })
            }
            _ => self.parse_primary(),
        }
    }

    fn parse_number(&mut self) -> PResult<f64> {
        let neg = *self.peek() == Tok::Sub;
        if neg {
            self.next();
        }
        let v = match self.peek() {
            Tok::Num(text) => number_value(text).ok_or_else(|| self.unexpected("a number"))?,
            Tok::Ident(w) if w.eq_ignore_ascii_case("inf") => f64::INFINITY,
            Tok::Ident(w) if w.eq_ignore_ascii_case("nan") => f64::NAN,
            _ => return Err(self.unexpected("a number")),
        };
        self.next();
        Ok(if neg { -v } else { v })
    }

    fn parse_primary(&mut self) -> PResult<MetricExpr> {
        let pos = self.here();
        match self.peek().clone() {
            Tok::Num(_) => Ok(MetricExpr::Number(self.parse_number()?)),
            Tok::LParen => {
                if self.paren_holds_log() {
                    return Err(self.err_at(pos, "syntax error: a log query cannot be used in a metric expression"));
                }
                self.next();
                let e = self.parse_binary(0)?;
                self.expect(&Tok::RParen, "\")\"")?;
                Ok(e)
            }
            Tok::LBrace => Err(self.err_at(pos, "syntax error: a log query cannot be used in a metric expression")),
            Tok::Ident(name) => {
                if name.eq_ignore_ascii_case("inf") || name.eq_ignore_ascii_case("nan") {
                    return Ok(MetricExpr::Number(self.parse_number()?));
                }
                if name == "vector" {
                    self.next();
                    self.expect(&Tok::LParen, "\"(\"")?;
                    let v = self.parse_number()?;
                    self.expect(&Tok::RParen, "\")\"")?;
                    return Ok(MetricExpr::Vector(v));
                }
                if let Some(op) = RangeOp::from_name(&name) {
                    self.next();
                    return self.parse_range_agg(op, pos);
                }
                if let Some(op) = AggOp::from_name(&name) {
                    self.next();
                    return self.parse_vector_agg(op, pos);
                }
                match name.as_str() {
                    "label_replace" | "rate_counter" | "count_values" | "approx_topk" => {
                        Err(self.err_at(pos, format!("{name} is not supported")))
                    }
                    _ => Err(self.unexpected("a metric expression")),
                }
            }
            _ => Err(self.unexpected("a metric expression")),
        }
    }

    fn parse_range(&mut self) -> PResult<i64> {
        self.expect(&Tok::LBrack, "\"[\"")?;
        let pos = self.here();
        let d = match self.next() {
            Tok::Num(text) => parse_duration(&text),
            _ => None,
        };
        let Some(d) = d.filter(|d| *d > 0) else {
            return Err(self.err_at(pos, "syntax error: expecting a positive duration such as 5m"));
        };
        self.expect(&Tok::RBrack, "\"]\"")?;
        Ok(d)
    }

    fn parse_offset(&mut self) -> PResult<i64> {
        if !self.is_ident("offset") {
            return Ok(0);
        }
        self.next();
        let pos = self.here();
        let neg = *self.peek() == Tok::Sub;
        if neg {
            self.next();
        }
        match self.next() {
            Tok::Num(text) => match parse_duration(&text) {
                Some(d) => Ok(if neg { -d } else { d }),
                None => Err(self.err_at(pos, "syntax error: expecting a duration after offset")),
            },
            _ => Err(self.err_at(pos, "syntax error: expecting a duration after offset")),
        }
    }

    fn parse_range_agg(&mut self, op: RangeOp, fn_pos: usize) -> PResult<MetricExpr> {
        self.expect(&Tok::LParen, "\"(\"")?;
        let param = if op == RangeOp::QuantileOverTime {
            let v = self.parse_number()?;
            self.expect(&Tok::Comma, "\",\"")?;
            Some(v)
        } else {
            None
        };
        let mut range = None;
        let mut offset = 0;
        let (log, unwrap) = if *self.peek() == Tok::LParen {
            self.next();
            let inner = self.parse_log_expr(true)?;
            self.expect(&Tok::RParen, "\")\"")?;
            inner
        } else {
            let (matchers, pos) = self.parse_selector()?;
            if *self.peek() == Tok::LBrack {
                range = Some(self.parse_range()?);
                offset = self.parse_offset()?;
            }
            let mut log = LogExpr { matchers, stages: Vec::new(), pos };
            let unwrap = self.parse_stages(&mut log.stages, true)?;
            (log, unwrap)
        };
        if range.is_none() {
            range = Some(self.parse_range()?);
            offset = self.parse_offset()?;
        } else if *self.peek() == Tok::LBrack {
            return Err(self.unexpected("\")\""));
        }
        self.expect(&Tok::RParen, "\")\"")?;
        let grouping = self.parse_grouping()?;
        if op.is_log_range() && unwrap.is_some() {
            return Err(self.err_at(fn_pos, "syntax error: this range aggregation does not take an unwrap expression"));
        }
        if op.needs_unwrap() && unwrap.is_none() {
            return Err(self.err_at(fn_pos, "syntax error: this range aggregation needs an unwrap expression"));
        }
        if grouping.is_some() && unwrap.is_none() {
            return Err(self.err_at(fn_pos, "syntax error: grouping is only allowed on unwrapped range aggregations"));
        }
        Ok(MetricExpr::Range(Box::new(RangeAgg {
            op,
            log,
            range_nanos: range.unwrap_or_default(),
            offset_nanos: offset,
            unwrap,
            param,
            grouping,
        })))
    }

    fn parse_vector_agg(&mut self, op: AggOp, fn_pos: usize) -> PResult<MetricExpr> {
        let mut grouping = self.parse_grouping()?;
        self.expect(&Tok::LParen, "\"(\"")?;
        let param = if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            let pos = self.here();
            let v = self.parse_number()?;
            if v.fract() != 0.0 || v < 1.0 {
                return Err(self.err_at(pos, "syntax error: the parameter of topk/bottomk must be a positive integer"));
            }
            self.expect(&Tok::Comma, "\",\"")?;
            Some(v)
        } else {
            None
        };
        let expr = self.parse_binary(0)?;
        self.expect(&Tok::RParen, "\")\"")?;
        if grouping.is_none() {
            grouping = self.parse_grouping()?;
        }
        if grouping.is_some() && matches!(op, AggOp::Sort | AggOp::SortDesc) {
            return Err(self.err_at(fn_pos, "syntax error: sort does not take a grouping"));
        }
        if is_scalar(&expr) {
            return Err(self.err_at(fn_pos, "syntax error: aggregations need a vector argument"));
        }
        Ok(MetricExpr::Aggregate { op, grouping, param, expr: Box::new(expr) })
    }
}

fn is_scalar(e: &MetricExpr) -> bool {
    match e {
        MetricExpr::Number(_) => true,
        MetricExpr::Binary { lhs, rhs, .. } => is_scalar(lhs) && is_scalar(rhs),
        _ => false,
    }
}

/// Parses a json parameter path: `a.b[0]["c d"]` (a leading `.` or `$.` is allowed).
pub fn parse_json_path(path: &str) -> Result<JsonPath, String> {
    let bad = || format!("invalid json path {path:?}");
    let mut parts = Vec::new();
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    let mut first = true;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or_else(bad)?;
            let inner = r[..close].trim();
            if let Some(q) = inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                parts.push(JsonPathPart::Key(q.to_string()));
            } else {
                parts.push(JsonPathPart::Index(inner.parse().map_err(|_| bad())?));
            }
            rest = &r[close + 1..];
        } else {
            let r =
                if first { rest.strip_prefix('.').unwrap_or(rest) } else { rest.strip_prefix('.').ok_or_else(bad)? };
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            parts.push(JsonPathPart::Key(r[..end].to_string()));
            rest = &r[end..];
        }
        first = false;
    }
    if parts.is_empty() {
        return Err(bad());
    }
    Ok(parts)
}

/// Parses a `pattern` expression. With `need_capture`, at least one named capture is required
/// (the `pattern` parser); line filters (`|>`) take `<_>` only as well.
pub fn parse_pattern(text: &str, need_capture: bool) -> Result<Pattern, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut literal = String::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<')
            && let Some(close) = r.find('>')
            && (&r[..close] == "_" || is_label_name(&r[..close]))
        {
            let name = &r[..close];
            if !literal.is_empty() {
                parts.push(PatternPart::Literal(std::mem::take(&mut literal)));
            }
            if matches!(parts.last(), Some(PatternPart::Capture(_))) {
                return Err("consecutive captures are not allowed in a pattern".into());
            }
            parts.push(PatternPart::Capture(if name == "_" { None } else { Some(name.to_string()) }));
            rest = &r[close + 1..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() {
        parts.push(PatternPart::Literal(literal));
    }
    let captures = parts.iter().filter(|p| matches!(p, PatternPart::Capture(_))).count();
    if need_capture && !parts.iter().any(|p| matches!(p, PatternPart::Capture(Some(_)))) {
        return Err("pattern needs at least one named capture such as <name>".into());
    }
    if captures == 0 && parts.is_empty() {
        return Err("empty pattern".into());
    }
    Ok(Pattern { parts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: &str) -> Expr {
        match parse_query(q) {
            Ok(e) => e,
            Err(e) => panic!("{q}: {e}"),
        }
    }

    fn err(q: &str) -> String {
        match parse_query(q) {
            Ok(e) => panic!("{q} parsed: {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn log(q: &str) -> LogExpr {
        match ok(q) {
            Expr::Log(l) => l,
            other => panic!("not a log query: {other:?}"),
        }
    }

    fn metric(q: &str) -> MetricExpr {
        match ok(q) {
            Expr::Metric(m) => m,
            other => panic!("not a metric query: {other:?}"),
        }
    }

    #[test]
    fn selectors() {
        let l = log(r#"{app="x", env!="dev",  region=~"eu-.*", host!~`a|b`,}"#);
        assert_eq!(l.matchers.len(), 4);
        assert_eq!(l.matchers[2].to_string(), "region=~\"eu-.*\"");
        assert!(l.stages.is_empty());
        let l = log("{a=\"q\\\"uote\\\\\"}");
        assert_eq!(l.matchers[0].value, "q\"uote\\");
    }

    #[test]
    fn line_filters() {
        let l = log(r#"{a="b"} |= "err" != "timeout" |~ "(?i)fail" !~ `\d+` |= "x" or "y" |> "<_> GET <_>" !> "<_>z""#);
        let ops: Vec<_> = l
            .stages
            .iter()
            .map(|s| match s {
                Stage::LineFilter(f) => (f.op, f.needles.len()),
                _ => panic!(),
            })
            .collect();
        use LineFilterOp::*;
        assert_eq!(
            ops,
            vec![
                (Contains, 1),
                (NotContains, 1),
                (Match, 1),
                (NotMatch, 1),
                (Contains, 2),
                (Pattern, 1),
                (NotPattern, 1)
            ]
        );
    }

    #[test]
    fn parsers_and_formatters() {
        let l = log(
            r#"{a="b"} | json | json x="a.b[0]", y | logfmt --strict --keep-empty | logfmt k="key" | regexp "(?P<m>\\w+)" | pattern "<ip> - <_>" | unpack | decolorize | line_format "{{.level}} {{.msg}}" | label_format x=y, z="{{.x}}-1" | drop __error__, a="1" | keep a, b"#,
        );
        assert_eq!(l.stages.len(), 12);
        match &l.stages[1] {
            Stage::Json(p) => {
                assert_eq!(
                    p[0],
                    (
                        "x".to_string(),
                        vec![JsonPathPart::Key("a".into()), JsonPathPart::Key("b".into()), JsonPathPart::Index(0)]
                    )
                );
                assert_eq!(p[1], ("y".to_string(), vec![JsonPathPart::Key("y".into())]));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&l.stages[2], Stage::Logfmt { strict: true, keep_empty: true, params } if params.is_empty()));
        assert!(
            matches!(&l.stages[3], Stage::Logfmt { params, .. } if params == &vec![("k".to_string(), "key".to_string())])
        );
        assert!(matches!(&l.stages[10], Stage::Drop(n) if n.len() == 2 && n[1].matcher.is_some()));
    }

    #[test]
    fn label_filters() {
        let l = log(
            r#"{a="b"} | json | level="error" | status >= 400 and status < 500, d > 10s or size <= 5MB | x=~"a.*" y!="z" | (a="1" or b="2") and c!~"3" | n == -1.5 | s = 200"#,
        );
        assert_eq!(l.stages.len(), 7);
        match &l.stages[2] {
            Stage::LabelFilter(LabelFilter::Or(a, b)) => {
                assert!(matches!(**a, LabelFilter::And(..)));
                assert!(
                    matches!(**b, LabelFilter::Compare { kind: NumKind::Bytes, op: CmpOp::Le, value, .. } if value == 5e6)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&l.stages[3], Stage::LabelFilter(LabelFilter::And(..))));
        assert!(matches!(&l.stages[5], Stage::LabelFilter(LabelFilter::Compare { value, .. }) if *value == -1.5));
        assert!(
            matches!(&l.stages[6], Stage::LabelFilter(LabelFilter::Compare { op: CmpOp::Eq, value, .. }) if *value == 200.0)
        );
    }

    #[test]
    fn metric_queries() {
        match metric(r#"count_over_time({a="b"}[5m])"#) {
            MetricExpr::Range(r) => {
                assert_eq!(r.op, RangeOp::CountOverTime);
                assert_eq!(r.range_nanos, 300_000_000_000);
            }
            other => panic!("{other:?}"),
        }
        match metric(r#"rate({a="b"} |= "x" [1m] offset 1h)"#) {
            MetricExpr::Range(r) => {
                assert_eq!(r.offset_nanos, 3_600_000_000_000);
                assert_eq!(r.log.stages.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        match metric(r#"sum_over_time({a="b"} | logfmt | unwrap duration(latency) | __error__="" [5m]) by (path)"#) {
            MetricExpr::Range(r) => {
                let u = r.unwrap.as_ref().unwrap();
                assert_eq!((u.label.as_str(), u.conv, u.post_filters.len()), ("latency", UnwrapConv::Duration, 1));
                assert_eq!(r.grouping, Some(Grouping { without: false, labels: vec!["path".into()] }));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(metric(r#"quantile_over_time(0.99, {a="b"} | unwrap x [1m])"#), MetricExpr::Range(r) if r.param == Some(0.99))
        );
        assert!(
            matches!(metric(r#"bytes_over_time({a="b"}[1m] |= "x")"#), MetricExpr::Range(r) if r.log.stages.len() == 1)
        );
        match metric(r#"sum by (level, detected_level) (count_over_time({app="x"}[1m]))"#) {
            MetricExpr::Aggregate { op: AggOp::Sum, grouping: Some(g), .. } => {
                assert_eq!(g.labels, vec!["level", "detected_level"])
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            metric(r#"sum(rate({a="b"}[1m])) without (x)"#),
            MetricExpr::Aggregate { grouping: Some(Grouping { without: true, .. }), .. }
        ));
        assert!(matches!(
            metric(r#"topk(3, sum by (a) (rate({a="b"}[1m])))"#),
            MetricExpr::Aggregate { op: AggOp::Topk, param: Some(3.0), .. }
        ));
        assert!(matches!(metric("vector(1)+vector(1)"), MetricExpr::Binary { op: BinOp::Add, .. }));
        assert!(matches!(metric("1 + 2 * 3"), MetricExpr::Binary { op: BinOp::Add, .. }));
        assert!(matches!(metric("-2 ^ 2"), MetricExpr::Binary { op: BinOp::Mul, .. }));
        assert!(matches!(
            metric(r#"sum(rate({a="b"}[1m])) / on(x) group_left(y) sum by (x, y) (rate({a="c"}[1m])) > bool 0.5"#),
            MetricExpr::Binary { op: BinOp::Cmp(CmpOp::Gt), modifiers: BinModifiers { return_bool: true, .. }, .. }
        ));
        assert!(matches!(
            metric(r#"rate({a="b"}[1m]) and rate({a="c"}[1m]) or vector(0)"#),
            MetricExpr::Binary { op: BinOp::Or, .. }
        ));
        assert!(matches!(metric(r#"(rate({a="b"}[1m]))"#), MetricExpr::Range(_)));
        assert!(matches!(metric(r#"count_over_time(({a="b"} |= "x")[1m])"#), MetricExpr::Range(_)));
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(
            err("{a=\"b\"} |= "),
            "parse error at line 1, col 12: syntax error: unexpected end of input, expecting a quoted string"
        );
        assert!(err("{}").starts_with("parse error at line 1, col 1: syntax error"));
        assert!(err("{a=\"\"}").contains(
            "queries require at least one regexp or equality matcher that does not have an empty-compatible value"
        ));
        assert!(err("{a=~\".*\", b!=\"x\"}").contains("empty-compatible"));
        assert!(err("{a=\"b\",\n c=\"d\"} | json |").starts_with("parse error at line 2, col 17:"));
        assert!(err("rate({a=\"b\"})").contains("col 13"));
        assert!(err("count_over_time({a=\"b\"} | unwrap x [1m])").contains("does not take an unwrap"));
        assert!(err("sum_over_time({a=\"b\"}[1m])").contains("needs an unwrap"));
        assert!(err("{a=\"b\"} | unwrap x").contains("only allowed in a range aggregation"));
        assert!(err("{a=~\"(\"}").contains("invalid regex"));
        assert!(err("{a=\"b\"} | line_format \"{{ if .x }}\"").contains("line template"));
        assert!(err("{a=\"b\"} | line_format \"{{ nope .x }}\"").contains("unknown function"));
        assert!(err("{a=\"b\"} | regexp \"(\\\\w+)\"").contains("named capture"));
        assert!(err("sum(1)").contains("vector argument"));
        assert!(err("1 > 2").contains("bool"));
        assert!(err("rate({a=\"b\"}[1m]) + {a=\"b\"}").contains("log query"));
        assert!(err("label_replace(vector(1), \"a\", \"b\", \"c\", \"d\")").contains("not supported"));
        assert!(err("{a=\"b\"} |= \"x\" extra").contains("syntax error"));
        assert!(err("topk(1.5, rate({a=\"b\"}[1m]))").contains("positive integer"));
        assert!(err("{a=\"b\"} | x > 5zz").contains("invalid number"));
        assert!(err("{a=\"b\" c=\"d\"}").contains("col 8"));
    }

    #[test]
    fn truncations_never_panic() {
        let queries = [
            r#"sum by (level, detected_level) (count_over_time({app="x", env=~"p.*"} |= "err" | json | level="error" [1m] offset 5m))"#,
            r#"{a="b\"c"} |~ `x|y` | logfmt --strict a, b="c" | line_format "{{ .a | ToUpper }}" | label_format n=a | drop __error__ | status >= 2xx"#,
            r#"topk(3, sum without (a) (rate({a="b"} | pattern "<ip> <_>" | unwrap bytes(size) | __error__="" [5m]))) / on(x) group_left(y) vector(2) > bool 1"#,
            r#"quantile_over_time(0.5, ({a="b"} | regexp "(?P<x>\\d+)" | unwrap x)[1m]) by (x) - -1 ^ 2 % 3 unless vector(1)"#,
            "vector(1)+vector(1)",
            "{a=\"ü\u{1F600}\"} |= \"\\u00e9\\x41\\101\" # comment",
        ];
        for q in queries {
            for end in 0..=q.len() {
                if let Some(prefix) = q.get(..end) {
                    let _ = parse_query(prefix);
                }
                if let Some(suffix) = q.get(end..) {
                    let _ = parse_query(suffix);
                }
            }
        }
    }
}

// Pharos — query/src/loki/parser.rs
