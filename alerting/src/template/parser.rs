//! Parses a template text into trees, as Go's `text/template/parse`: the main tree plus one tree
//! per `{{define}}` / `{{block}}`. Like Go, the parser refuses undefined variables, unknown
//! functions and control-structure mistakes, so `check_*` catches them before any execution.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::functions::Dialect;
use super::lexer::{Pos, Tok, Token, lex};

/// A parsed template: its name (for error messages) and body.
#[derive(Debug)]
pub struct Tree {
    pub name: String,
    pub body: Vec<Node>,
}

#[derive(Debug)]
pub enum Node {
    Text(String),
    /// `{{ pipeline }}`: printed unless it declares or assigns a variable.
    Action(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Template {
        pos: Pos,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub struct Pipe {
    pub pos: Pos,
    /// Declared (`:=`) or assigned (`=`) variables, with the `$`.
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub struct Cmd {
    pub pos: Pos,
    pub args: Vec<Term>,
}

/// One operand of a command.
#[derive(Debug)]
pub enum Term {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Func(String),
    /// `.A.B`
    Field(Vec<String>),
    /// `$x.A.B` (no fields for a bare `$x`).
    Var(String, Vec<String>),
    /// `(pipeline).A.B`
    Chain(Box<Term>, Vec<String>),
    Pipe(Box<Pipe>),
}

/// What a parse produced: the top-level body and the defined templates.
pub struct Parsed {
    pub main: Tree,
    pub defined: BTreeMap<String, Arc<Tree>>,
}

/// A parse error: message and position.
#[derive(Debug)]
pub struct ParseError {
    pub message: String,
    pub pos: Pos,
}

/// How a nested list ended.
enum ListEnd {
    End,
    Else(Pos),
    Eof,
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    dialect: Dialect,
    vars: Vec<String>,
    range_depth: usize,
    defined: BTreeMap<String, Arc<Tree>>,
}

/// Parse `text` as the template `name`.
pub fn parse(name: &str, text: &str, dialect: Dialect) -> Result<Parsed, ParseError> {
    let toks = lex(text).map_err(|e| ParseError { message: e.message, pos: e.pos })?;
    let mut p = Parser { toks, i: 0, dialect, vars: vec!["$".into()], range_depth: 0, defined: BTreeMap::new() };
    let (body, end) = p.list()?;
    match end {
        ListEnd::Eof => {}
        ListEnd::End => return p.err_at(p.prev_pos(), "unexpected {{end}}"),
        ListEnd::Else(pos) => return p.err_at(pos, "unexpected {{else}}"),
    }
    Ok(Parsed { main: Tree { name: name.to_string(), body }, defined: p.defined })
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }

    fn peek_token(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn prev_pos(&self) -> Pos {
        self.toks[self.i.saturating_sub(1).min(self.toks.len() - 1)].pos
    }

    fn err_at<T>(&self, pos: Pos, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { message: message.into(), pos })
    }

    fn expect_right_delim(&mut self, context: &str) -> Result<(), ParseError> {
        let t = self.next();
        match t.tok {
            Tok::RightDelim => Ok(()),
            other => self.err_at(t.pos, format!("unexpected {} in {context}", describe(&other))),
        }
    }

    /// Parse nodes until `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, ListEnd), ParseError> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return Ok((nodes, ListEnd::Eof)),
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::LeftDelim => {
                    let kw = match self.peek() {
                        Tok::Ident(s) => s.clone(),
                        _ => String::new(),
                    };
                    let kw_pos = self.peek_token().pos;
                    match kw.as_str() {
                        "end" => {
                            self.next();
                            self.expect_right_delim("end")?;
                            return Ok((nodes, ListEnd::End));
                        }
                        "else" => {
                            // `{{else}}`, `{{else if …}}`, `{{else with …}}`: the caller decides.
                            self.next();
                            return Ok((nodes, ListEnd::Else(kw_pos)));
                        }
                        "if" | "range" | "with" => {
                            self.next();
                            nodes.push(self.control(&kw, kw_pos)?);
                        }
                        "define" | "block" => {
                            self.next();
                            if let Some(node) = self.define(&kw, kw_pos)? {
                                nodes.push(node);
                            }
                        }
                        "template" => {
                            self.next();
                            nodes.push(self.template_call(kw_pos)?);
                        }
                        "break" | "continue" => {
                            self.next();
                            if self.range_depth == 0 {
                                return self.err_at(kw_pos, format!("{{{{{kw}}}}} outside {{{{range}}}}"));
                            }
                            self.expect_right_delim(&kw)?;
                            nodes.push(if kw == "break" { Node::Break } else { Node::Continue });
                        }
                        _ => {
                            let pipe = self.pipeline("command", true)?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                other => return self.err_at(t.pos, format!("unexpected {}", describe(&other))),
            }
        }
    }

    /// `if`, `range`, `with` after the keyword.
    fn control(&mut self, kw: &str, pos: Pos) -> Result<Node, ParseError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(kw, true)?;
        let _ = pos;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (body, end) = self.list()?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let otherwise = match end {
            ListEnd::End => Vec::new(),
            ListEnd::Eof => return self.err_at(pipe.pos, format!("unexpected EOF: {{{{{kw}}}}} without {{{{end}}}}")),
            ListEnd::Else(else_pos) => {
                // `{{else if …}}` / `{{else with …}}` chain into a nested control sharing this `{{end}}`.
                if (kw == "if" || kw == "with") && matches!(self.peek(), Tok::Ident(s) if s == kw) {
                    let inner_pos = self.next().pos;
                    vec![self.control(kw, inner_pos)?]
                } else {
                    self.expect_right_delim("else")?;
                    let (otherwise, end) = self.list()?;
                    match end {
                        ListEnd::End => otherwise,
                        ListEnd::Else(p) => return self.err_at(p, format!("expected end; found {{{{else}}}} in {kw}")),
                        ListEnd::Eof => {
                            return self.err_at(else_pos, format!("unexpected EOF: {{{{{kw}}}}} without {{{{end}}}}"));
                        }
                    }
                }
            }
        };
        self.vars.truncate(mark);
        Ok(match kw {
            "if" => Node::If { pipe, then: body, otherwise },
            "range" => Node::Range { pipe, body, otherwise },
            _ => Node::With { pipe, body, otherwise },
        })
    }

    fn template_name(&mut self, context: &str) -> Result<String, ParseError> {
        let t = self.next();
        match t.tok {
            Tok::Str(s) => Ok(s),
            other => self.err_at(t.pos, format!("unexpected {} in {context}", describe(&other))),
        }
    }

    /// `{{template "name" [pipeline]}}` after the keyword.
    fn template_call(&mut self, pos: Pos) -> Result<Node, ParseError> {
        let name = self.template_name("template clause")?;
        let pipe = if matches!(self.peek(), Tok::RightDelim) {
            self.next();
            None
        } else {
            Some(self.pipeline("template clause", false)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    /// `{{define "name"}}…{{end}}` or `{{block "name" pipeline}}…{{end}}` after the keyword.
    fn define(&mut self, kw: &str, pos: Pos) -> Result<Option<Node>, ParseError> {
        let name = self.template_name(&format!("{kw} clause"))?;
        let pipe = if kw == "block" {
            Some(self.pipeline("block clause", false)?)
        } else {
            self.expect_right_delim("define clause")?;
            None
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (body, end) = self.list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        match end {
            ListEnd::End => {}
            ListEnd::Else(p) => return self.err_at(p, format!("unexpected {{{{else}}}} in {kw}")),
            ListEnd::Eof => return self.err_at(pos, format!("unexpected EOF: {{{{{kw}}}}} without {{{{end}}}}")),
        }
        // Go keeps the first non-empty definition within one parse when a later one is empty.
        let empty = body.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()));
        if !(empty && self.defined.contains_key(&name)) {
            self.defined.insert(name.clone(), Arc::new(Tree { name: name.clone(), body }));
        }
        Ok(if kw == "block" { Some(Node::Template { pos, name, pipe }) } else { None })
    }

    /// A pipeline up to the closing delimiter (or `)` when `in_parens`): optional declarations,
    /// then commands separated by `|`.
    fn pipeline(&mut self, context: &str, allow_decl: bool) -> Result<Pipe, ParseError> {
        self.pipeline_until(context, allow_decl, false)
    }

    fn pipeline_until(&mut self, context: &str, allow_decl: bool, in_parens: bool) -> Result<Pipe, ParseError> {
        let pos = self.peek_token().pos;
        let mut vars = Vec::new();
        let mut assign = false;
        if allow_decl && let Some(decl) = self.declaration(context)? {
            (vars, assign) = decl;
        }
        let mut cmds = Vec::new();
        loop {
            let t = self.peek_token().clone();
            match t.tok {
                Tok::RightDelim if !in_parens => {
                    self.next();
                    break;
                }
                Tok::RightParen if in_parens => {
                    self.next();
                    break;
                }
                Tok::Eof => return self.err_at(t.pos, format!("unclosed action in {context}")),
                _ => {
                    cmds.push(self.command()?);
                    match self.peek() {
                        Tok::Pipe => {
                            let p = self.next().pos;
                            if matches!(self.peek(), Tok::RightDelim | Tok::RightParen | Tok::Pipe) {
                                return self.err_at(p, "missing command after |".to_string());
                            }
                        }
                        Tok::RightDelim | Tok::RightParen => {}
                        other => {
                            let other = describe(other);
                            return self.err_at(self.peek_token().pos, format!("unexpected {other} in operand"));
                        }
                    }
                }
            }
        }
        if cmds.is_empty() {
            return self.err_at(pos, format!("missing value for {context}"));
        }
        // Declared names come into scope after the pipeline that computes them.
        if !assign {
            self.vars.extend(vars.iter().cloned());
        }
        Ok(Pipe { pos, vars, assign, cmds })
    }

    /// `$x :=`, `$x =`, or (for range) `$i, $e :=` at the start of a pipeline.
    fn declaration(&mut self, context: &str) -> Result<Option<(Vec<String>, bool)>, ParseError> {
        let start = self.i;
        let Tok::Variable(first) = self.peek().clone() else { return Ok(None) };
        self.next();
        match self.peek().clone() {
            Tok::Declare | Tok::Assign => {
                let assign = matches!(self.next().tok, Tok::Assign);
                if assign && !self.vars.contains(&first) {
                    return self.err_at(self.toks[start].pos, format!("undefined variable {first:?}"));
                }
                Ok(Some((vec![first], assign)))
            }
            Tok::Comma if context == "range" => {
                self.next();
                let t = self.next();
                let Tok::Variable(second) = t.tok else {
                    return self.err_at(t.pos, "range can only initialize variables");
                };
                let t = self.next();
                match t.tok {
                    Tok::Declare => Ok(Some((vec![first, second], false))),
                    Tok::Assign => {
                        for v in [&first, &second] {
                            if !self.vars.contains(v) {
                                return self.err_at(t.pos, format!("undefined variable {v:?}"));
                            }
                        }
                        Ok(Some((vec![first, second], true)))
                    }
                    _ => self.err_at(t.pos, "expected := or = in range declaration"),
                }
            }
            _ => {
                self.i = start;
                Ok(None)
            }
        }
    }

    /// One command: operands up to `|`, `)` or the closing delimiter.
    fn command(&mut self) -> Result<Cmd, ParseError> {
        let pos = self.peek_token().pos;
        let mut args = Vec::new();
        loop {
            match self.peek() {
                Tok::RightDelim | Tok::RightParen | Tok::Pipe | Tok::Eof => break,
                _ => {
                    if !args.is_empty() && !self.peek_token().spaced {
                        return self.err_at(self.peek_token().pos, "missing space between operands");
                    }
                    args.push(self.operand()?);
                }
            }
        }
        if args.is_empty() {
            return self.err_at(pos, "empty command");
        }
        if matches!(args[0], Term::Nil) {
            return self.err_at(pos, "nil is not a command");
        }
        Ok(Cmd { pos, args })
    }

    /// A term and any field chain glued to it.
    fn operand(&mut self) -> Result<Term, ParseError> {
        let term = self.term()?;
        let mut fields = Vec::new();
        while let Tok::Field(_) = self.peek() {
            if self.peek_token().spaced {
                break;
            }
            if let Tok::Field(f) = self.next().tok {
                fields.push(f);
            }
        }
        if fields.is_empty() {
            return Ok(term);
        }
        Ok(match term {
            Term::Field(mut base) => {
                base.extend(fields);
                Term::Field(base)
            }
            Term::Var(name, mut base) => {
                base.extend(fields);
                Term::Var(name, base)
            }
            Term::Dot => return self.err_at(self.prev_pos(), "unexpected . after term \".\""),
            Term::Pipe(_) | Term::Chain(..) => Term::Chain(Box::new(term), fields),
            other => return self.err_at(self.prev_pos(), format!("unexpected . after term {other:?}")),
        })
    }

    fn term(&mut self) -> Result<Term, ParseError> {
        let t = self.next();
        Ok(match t.tok {
            Tok::Dot => Term::Dot,
            Tok::Field(f) => Term::Field(vec![f]),
            Tok::Variable(v) => {
                if !self.vars.contains(&v) {
                    return self.err_at(t.pos, format!("undefined variable {v:?}"));
                }
                Term::Var(v, Vec::new())
            }
            Tok::Str(s) => Term::Str(s),
            Tok::Char(c) => Term::Int(c),
            Tok::Number(n) => {
                number(&n).ok_or(ParseError { message: format!("bad number syntax: {n:?}"), pos: t.pos })?
            }
            Tok::LeftParen => {
                let pipe = self.pipeline_until("parenthesized pipeline", true, true)?;
                Term::Pipe(Box::new(pipe))
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Term::Bool(true),
                "false" => Term::Bool(false),
                "nil" => Term::Nil,
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" | "break" | "continue" => {
                    return self.err_at(t.pos, format!("unexpected <{name}> in command"));
                }
                _ => {
                    if self.dialect.lookup(&name).is_none() {
                        return self.err_at(t.pos, format!("function {name:?} not defined"));
                    }
                    Term::Func(name)
                }
            },
            other => return self.err_at(t.pos, format!("unexpected {} in operand", describe(&other))),
        })
    }
}

/// Go's number constant: an `int` unless it is written as a float (has `.`/exponent, not hex).
fn number(text: &str) -> Option<Term> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let radix_int = |digits: &str, radix: u32| i64::from_str_radix(digits, radix).ok();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        radix_int(h, 16)
    } else if let Some(b) = lower.strip_prefix("0b") {
        radix_int(b, 2)
    } else if let Some(o) = lower.strip_prefix("0o") {
        radix_int(o, 8)
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit()) {
        radix_int(&lower[1..], 8)
    } else if lower.bytes().all(|b| b.is_ascii_digit()) {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Term::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    lower.parse::<f64>().ok().map(|f| Term::Float(if neg { -f } else { f }))
}

/// How an unexpected token is named in an error.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::LeftDelim => "\"{{\"".into(),
        Tok::RightDelim => "\"}}\"".into(),
        Tok::Ident(s) => format!("<{s}>"),
        Tok::Field(s) => format!("<.{s}>"),
        Tok::Dot => "<.>".into(),
        Tok::Variable(s) => format!("<{s}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Char(c) => format!("character {c}"),
        Tok::Number(n) => n.clone(),
        Tok::Pipe => "\"|\"".into(),
        Tok::LeftParen => "\"(\"".into(),
        Tok::RightParen => "\")\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Eof => "EOF".into(),
    }
}

// Pharos — alerting/src/template/parser.rs
