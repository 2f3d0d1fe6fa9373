//! TraceQL text → tokens, with Tempo's lexical rules.
//!
//! - Attribute names follow `.`, `span.`, `resource.`, `event.`, `link.`, `instrumentation.` with no
//!   space and run to the first whitespace or one of `{}()=~!<>&|^,`; `"…"` parts (escapes `\"` and
//!   `\\`) may hold those characters. So `span.http.status_code>=500` is the attribute
//!   `http.status_code`, then `>=`.
//! - `scope:name` (no spaces) is a scoped intrinsic (`span:duration`, `trace:rootService`).
//! - A number directly followed by duration units is a duration: `100ms`, `1.5s`, `1h30m`, `2d`
//!   (units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`, `y`).
//! - Strings are `"…"` with Go escapes or `` `raw` ``.

use super::ParseError;
use super::ast::{AttributeScope, is_attribute_char};

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Pipe,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~` (also "not sibling" between spansets)
    Nre,
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
    And,
    Or,
    Not,
    /// `>>`
    Desc,
    /// `<<`
    Ance,
    /// `~`
    Tilde,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDesc,
    /// `!<<`
    NotAnce,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDesc,
    /// `&<<`
    UnionAnce,
    /// `&~`
    UnionSibling,
    Str(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    /// A bare word: keyword or not, the parser decides.
    Ident(String),
    /// `scope:name`.
    ScopedIntrinsic {
        scope: String,
        name: String,
    },
    Attribute {
        scope: AttributeScope,
        name: String,
    },
    /// `parent.x` — lexed so the parser can refuse it with a position.
    ParentAttribute,
    Eof,
}

impl Tok {
    /// How an error message names the token.
    pub fn describe(&self) -> String {
        let text = match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Pipe => "|",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Re => "=~",
            Tok::Nre => "!~",
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
            Tok::And => "&&",
            Tok::Or => "||",
            Tok::Not => "!",
            Tok::Desc => ">>",
            Tok::Ance => "<<",
            Tok::Tilde => "~",
            Tok::NotChild => "!>",
            Tok::NotParent => "!<",
            Tok::NotDesc => "!>>",
            Tok::NotAnce => "!<<",
            Tok::UnionChild => "&>",
            Tok::UnionParent => "&<",
            Tok::UnionDesc => "&>>",
            Tok::UnionAnce => "&<<",
            Tok::UnionSibling => "&~",
            Tok::Str(s) => return format!("string {s:?}"),
            Tok::Int(i) => return format!("integer {i}"),
            Tok::Float(x) => return format!("float {x}"),
            Tok::Duration(d) => return format!("duration {}", super::ast::format_go_duration(*d)),
            Tok::Ident(word) => return format!("identifier {word:?}"),
            Tok::ScopedIntrinsic { scope, name } => return format!("intrinsic {scope}:{name}"),
            Tok::Attribute { .. } => return "attribute".to_string(),
            Tok::ParentAttribute => return "parent attribute".to_string(),
            Tok::Eof => return "end of query".to_string(),
        };
        format!("\"{text}\"")
    }
}

/// A token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Scopes that take `.name` attributes.
fn attribute_scope(word: &str) -> Option<AttributeScope> {
    Some(match word {
        "span" => AttributeScope::Span,
        "resource" => AttributeScope::Resource,
        "event" => AttributeScope::Event,
        "link" => AttributeScope::Link,
        "instrumentation" => AttributeScope::Instrumentation,
        _ => return None,
    })
}

/// Splits `input` into tokens; the last one is [`Tok::Eof`].
pub fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    Lexer { input, pos: 0 }.run()
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.input[self.pos..].chars().nth(offset)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.input, pos, message)
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let mut tokens = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            }
            let start = self.pos;
            let Some(c) = self.peek() else {
                tokens.push(Token { tok: Tok::Eof, pos: start });
                return Ok(tokens);
            };
            let tok = match c {
                '"' | '`' => Tok::Str(self.string()?),
                '0'..='9' => self.number()?,
                c if c.is_alphabetic() || c == '_' => self.word()?,
                '.' => {
                    self.bump();
                    let name = self.attribute_name(start)?;
                    Tok::Attribute { scope: AttributeScope::Unscoped, name }
                }
                _ => self.operator(start)?,
            };
            tokens.push(Token { tok, pos: start });
        }
    }

    /// Operators and punctuation, longest match first.
    fn operator(&mut self, start: usize) -> Result<Tok, ParseError> {
        let rest = &self.input[self.pos..];
        const OPERATORS: &[(&str, Tok)] = &[
            ("!>>", Tok::NotDesc),
            ("!<<", Tok::NotAnce),
            ("&>>", Tok::UnionDesc),
            ("&<<", Tok::UnionAnce),
            ("!=", Tok::Ne),
            ("!~", Tok::Nre),
            ("!>", Tok::NotChild),
            ("!<", Tok::NotParent),
            ("=~", Tok::Re),
            (">=", Tok::Ge),
            ("<=", Tok::Le),
            (">>", Tok::Desc),
            ("<<", Tok::Ance),
            ("&&", Tok::And),
            ("||", Tok::Or),
            ("&>", Tok::UnionChild),
            ("&<", Tok::UnionParent),
            ("&~", Tok::UnionSibling),
            ("{", Tok::LBrace),
            ("}", Tok::RBrace),
            ("(", Tok::LParen),
            (")", Tok::RParen),
            (",", Tok::Comma),
            ("|", Tok::Pipe),
            ("=", Tok::Eq),
            ("!", Tok::Not),
            (">", Tok::Gt),
            ("<", Tok::Lt),
            ("~", Tok::Tilde),
            ("+", Tok::Add),
            ("-", Tok::Sub),
            ("*", Tok::Mul),
            ("/", Tok::Div),
            ("%", Tok::Mod),
            ("^", Tok::Pow),
        ];
        for (text, tok) in OPERATORS {
            if rest.starts_with(text) {
                self.pos += text.len();
                return Ok(tok.clone());
            }
        }
        let c = self.peek().unwrap_or(' ');
        Err(self.error(start, format!("syntax error: unexpected character {c:?}")))
    }

    /// Keywords, identifiers, `scope.attribute` and `scope:intrinsic`.
    fn word(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        let word = &self.input[start..self.pos];
        match self.peek() {
            Some('.') if word == "parent" => {
                self.bump();
                self.attribute_name(start)?;
                Ok(Tok::ParentAttribute)
            }
            Some('.') => match attribute_scope(word) {
                Some(scope) => {
                    self.bump();
                    let name = self.attribute_name(start)?;
                    Ok(Tok::Attribute { scope, name })
                }
                None => Ok(Tok::Ident(word.to_string())),
            },
            Some(':') if self.peek_at(1).is_some_and(|c| c.is_alphabetic() || c == '_') => {
                let scope = word.to_string();
                self.bump();
                let name_start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.bump();
                }
                Ok(Tok::ScopedIntrinsic { scope, name: self.input[name_start..self.pos].to_string() })
            }
            _ => Ok(Tok::Ident(word.to_string())),
        }
    }

    /// The name after a scope's dot: plain attribute characters and `"quoted"` parts.
    fn attribute_name(&mut self, start: usize) -> Result<String, ParseError> {
        let mut name = String::new();
        loop {
            match self.peek() {
                Some('"') => {
                    let quote = self.pos;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.error(quote, "unexpected end of query in quoted attribute name")),
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                Some(c @ ('"' | '\\')) => name.push(c),
                                _ => return Err(self.error(quote, "invalid escape sequence in attribute name")),
                            },
                            Some(c) => name.push(c),
                        }
                    }
                }
                Some(c) if is_attribute_char(c) => {
                    name.push(c);
                    self.bump();
                }
                _ => break,
            }
        }
        if name.is_empty() {
            return Err(self.error(start, "syntax error: attribute name expected"));
        }
        Ok(name)
    }

    /// An integer, a float, or a duration when units follow the digits directly.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let mut is_float = false;
        self.digits();
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            self.bump();
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = matches!(self.peek_at(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if self.peek_at(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                for _ in 0..digit_at {
                    self.bump();
                }
                self.digits();
            }
        }
        let number_end = self.pos;
        // A duration: the number and what follows up to whitespace or another character.
        let mut end = self.pos;
        for c in self.input[self.pos..].chars() {
            if c.is_ascii_digit() || c == '.' || is_duration_unit_char(c) {
                end += c.len_utf8();
            } else {
                break;
            }
        }
        if end > number_end
            && let Some(nanos) = parse_duration(&self.input[start..end])
        {
            self.pos = end;
            return Ok(Tok::Duration(nanos));
        }
        let text = &self.input[start..number_end];
        if is_float {
            text.parse::<f64>().map(Tok::Float).map_err(|_| self.error(start, format!("invalid number {text:?}")))
        } else {
            text.parse::<i64>().map(Tok::Int).map_err(|_| self.error(start, format!("integer {text} is out of range")))
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    /// A `"…"` string with Go escapes, or a `` `raw` `` string.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let quote = self.bump().unwrap_or('"');
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(start, "literal not terminated"));
            };
            match c {
                c if c == quote => return Ok(out),
                '\n' if quote == '"' => return Err(self.error(start, "literal not terminated")),
                '\\' if quote == '"' => {
                    let escape = self.pos - 1;
                    let c = self.bump().ok_or_else(|| self.error(start, "literal not terminated"))?;
                    match c {
                        'a' => out.push('\x07'),
                        'b' => out.push('\x08'),
                        'f' => out.push('\x0c'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'v' => out.push('\x0b'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        'x' => out.push(self.hex_escape(2, escape)?),
                        'u' => out.push(self.hex_escape(4, escape)?),
                        'U' => out.push(self.hex_escape(8, escape)?),
                        '0'..='7' => {
                            let mut value = c.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                let digit = self.bump().and_then(|d| d.to_digit(8));
                                let digit = digit.ok_or_else(|| self.error(escape, "invalid escape sequence"))?;
                                value = value * 8 + digit;
                            }
                            let c = char::from_u32(value).filter(|_| value <= 255);
                            out.push(c.ok_or_else(|| self.error(escape, "invalid escape sequence"))?);
                        }
                        _ => return Err(self.error(escape, "invalid escape sequence")),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex_escape(&mut self, count: usize, escape: usize) -> Result<char, ParseError> {
        let mut value = 0u32;
        for _ in 0..count {
            let digit = self.bump().and_then(|d| d.to_digit(16));
            value = value * 16 + digit.ok_or_else(|| self.error(escape, "invalid escape sequence"))?;
        }
        char::from_u32(value).ok_or_else(|| self.error(escape, "invalid escape sequence"))
    }
}

fn is_duration_unit_char(c: char) -> bool {
    matches!(c, 'n' | 's' | 'u' | 'µ' | 'μ' | 'm' | 'h' | 'd' | 'w' | 'y')
}

/// Nanoseconds of a duration such as `1h30m`, `1.5s`, `500us`: one or more `<number><unit>`
/// parts. `None` when the text is not one, or overflows.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut total: i128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return None;
        }
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit_nanos: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "w" => 604_800_000_000_000,
            "y" => 31_536_000_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: i128 = whole.parse().ok()?;
        total = total.checked_add(whole.checked_mul(unit_nanos)?)?;
        if !frac.is_empty() {
            // Scale the fraction digit by digit so `1.5s` is exact.
            let mut scale = unit_nanos;
            for digit in frac.chars() {
                scale /= 10;
                total += i128::from(digit.to_digit(10)?) * scale;
            }
        }
        if total > i128::from(i64::MAX) {
            return None;
        }
    }
    i64::try_from(total).ok()
}

// Pharos — query/src/traces/traceql/lexer.rs
