//! The PromQL lexer: turns query text into tokens the way Prometheus' `lex.go` does.
//!
//! The lexer is a small state machine with three modes, as upstream: ordinary expression text,
//! the inside of a selector's braces (`{...}`, where keywords are plain label names), and the
//! inside of a range/subquery bracket (`[...]`, where only durations, numbers, `:` and duration
//! arithmetic may appear). Comments (`# ...` to the end of the line) are dropped. Lexing stops at
//! the first error, which becomes the last token ([`TokenKind::Error`]); the parser reports it
//! only when it gets that far, so an earlier syntax error wins, as in Prometheus.

use std::fmt::Write as _;

/// A keyword (or word operator) recognised case-insensitively outside braces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    // Word operators.
    And,
    Or,
    Unless,
    Atan2,
    // Aggregators.
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
    // Keywords.
    Offset,
    Smoothed,
    Anchored,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Bool,
    // Preprocessors (`@ start()`, `step()`, ...).
    Start,
    End,
    Step,
    Range,
    // Duration-expression functions (only recognised inside brackets).
    MinOf,
    MaxOf,
}

impl Keyword {
    /// Looks a word up (case-insensitively) in Prometheus' keyword table.
    pub fn from_word(word: &str) -> Option<Keyword> {
        let lower = word.to_ascii_lowercase();
        Some(match lower.as_str() {
            "and" => Keyword::And,
            "or" => Keyword::Or,
            "unless" => Keyword::Unless,
            "atan2" => Keyword::Atan2,
            "sum" => Keyword::Sum,
            "avg" => Keyword::Avg,
            "count" => Keyword::Count,
            "min" => Keyword::Min,
            "max" => Keyword::Max,
            "group" => Keyword::Group,
            "stddev" => Keyword::Stddev,
            "stdvar" => Keyword::Stdvar,
            "topk" => Keyword::Topk,
            "bottomk" => Keyword::Bottomk,
            "count_values" => Keyword::CountValues,
            "quantile" => Keyword::Quantile,
            "limitk" => Keyword::Limitk,
            "limit_ratio" => Keyword::LimitRatio,
            "offset" => Keyword::Offset,
            "smoothed" => Keyword::Smoothed,
            "anchored" => Keyword::Anchored,
            "by" => Keyword::By,
            "without" => Keyword::Without,
            "on" => Keyword::On,
            "ignoring" => Keyword::Ignoring,
            "group_left" => Keyword::GroupLeft,
            "group_right" => Keyword::GroupRight,
            "bool" => Keyword::Bool,
            "start" => Keyword::Start,
            "end" => Keyword::End,
            "step" => Keyword::Step,
            "range" => Keyword::Range,
            _ => return None,
        })
    }

    /// Whether the keyword is an aggregation operator.
    pub fn is_aggregator(self) -> bool {
        use Keyword::*;
        matches!(
            self,
            Sum | Avg
                | Count
                | Min
                | Max
                | Group
                | Stddev
                | Stdvar
                | Topk
                | Bottomk
                | CountValues
                | Quantile
                | Limitk
                | LimitRatio
        )
    }

    /// Whether the keyword is a word operator (`and`, `or`, `unless`, `atan2`).
    pub fn is_operator(self) -> bool {
        matches!(self, Keyword::And | Keyword::Or | Keyword::Unless | Keyword::Atan2)
    }

    /// Whether Prometheus classes the word as a keyword proper (printed `<by>` in messages).
    pub fn is_keyword(self) -> bool {
        use Keyword::*;
        matches!(self, Offset | Smoothed | Anchored | By | Without | On | Ignoring | GroupLeft | GroupRight | Bool)
    }

    /// Whether the word may be used as a metric name (`metric_identifier` in the grammar).
    pub fn is_metric_identifier(self) -> bool {
        use Keyword::*;
        !matches!(self, Atan2 | On | Ignoring | GroupLeft | GroupRight | Bool | MinOf | MaxOf)
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// End of input.
    Eof,
    /// A lexing error; always the last token. The text is Prometheus' message.
    Error(String),
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (no colon).
    Identifier,
    /// An identifier containing a colon (`a:b`), only valid as a metric name.
    MetricIdentifier,
    Keyword(Keyword),
    /// A number literal, including `Inf`/`NaN`.
    Number,
    /// A duration literal such as `1h30m`.
    Duration,
    /// A quoted string (the token text keeps its quotes).
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    /// `=` (label matching).
    Eql,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    /// `==`
    Eqlc,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    EqlRegex,
    NeqRegex,
    At,
    /// `</`, the native-histogram trim operator (not representable in the syntax tree).
    TrimUpper,
    /// `>/`, the native-histogram trim operator (not representable in the syntax tree).
    TrimLower,
}

/// One token: kind and byte range in the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's source text.
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.start..self.end).unwrap_or("")
    }

    /// How Prometheus names the token in "unexpected ..." messages (`Item.desc()`).
    pub fn describe(&self, input: &str) -> String {
        let text = self.text(input);
        let quoted_short = || {
            if text.chars().count() > 10 {
                let short: String = text.chars().take(10).collect();
                format!("{}...", go_quote(&short))
            } else {
                go_quote(text)
            }
        };
        match &self.kind {
            TokenKind::Eof => "end of input".to_string(),
            TokenKind::Error(msg) => msg.clone(),
            TokenKind::Identifier => format!("identifier {}", go_quote(text)),
            TokenKind::MetricIdentifier => format!("metric identifier {}", go_quote(text)),
            TokenKind::Number => format!("number {}", quoted_short()),
            TokenKind::Duration => format!("duration {}", quoted_short()),
            TokenKind::String => format!("string {}", quoted_short()),
            TokenKind::Keyword(k) if k.is_aggregator() => format!("<aggr:{text}>"),
            TokenKind::Keyword(k) if k.is_operator() => format!("<op:{text}>"),
            TokenKind::Keyword(k) if k.is_keyword() => format!("<{text}>"),
            TokenKind::Keyword(_) => go_quote(text),
            TokenKind::Add
            | TokenKind::Sub
            | TokenKind::Mul
            | TokenKind::Div
            | TokenKind::Mod
            | TokenKind::Pow
            | TokenKind::Eqlc
            | TokenKind::Neq
            | TokenKind::Lte
            | TokenKind::Lss
            | TokenKind::Gte
            | TokenKind::Gtr
            | TokenKind::EqlRegex
            | TokenKind::NeqRegex
            | TokenKind::At
            | TokenKind::TrimUpper
            | TokenKind::TrimLower => format!("<op:{text}>"),
            _ => go_quote(text),
        }
    }
}

/// Lexing mode, mirroring the upstream lexer's `braceOpen`/`bracketOpen` states.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Statements,
    Braces,
    Brackets,
}

/// The lexer state.
struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    mode: Mode,
    paren_depth: i64,
    /// Inside `[...]`: whether a `:` was seen.
    got_colon: bool,
    /// Inside `[...]`: whether a number or duration was seen.
    got_duration: bool,
    tokens: Vec<Token>,
}

/// Whether `c` is PromQL whitespace.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Splits `input` into tokens. The last token is always `Eof` or `Error`.
pub fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        pos: 0,
        mode: Mode::Statements,
        paren_depth: 0,
        got_colon: false,
        got_duration: false,
        tokens: Vec::new(),
    };
    l.run();
    l.tokens
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.input.get(self.pos + off..).and_then(|s| s.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn emit(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token { kind, start, end: self.pos });
    }

    /// Records an error token at `start` and stops lexing.
    /// `(` or `)` in any state: tracks the nesting and refuses an unmatched `)`.
    fn lex_paren(&mut self, start: usize, c: char) -> bool {
        if c == '(' {
            self.emit(TokenKind::LeftParen, start);
            self.paren_depth += 1;
            return true;
        }
        self.paren_depth -= 1;
        if self.paren_depth < 0 {
            return self.error(start, "unexpected right parenthesis ')'".into());
        }
        self.emit(TokenKind::RightParen, start);
        true
    }

    fn error(&mut self, start: usize, msg: String) -> bool {
        self.tokens.push(Token { kind: TokenKind::Error(msg), start, end: self.input.len() });
        false
    }

    fn run(&mut self) {
        loop {
            let ok = match self.mode {
                Mode::Statements => self.lex_statements(),
                Mode::Braces => self.lex_inside_braces(),
                Mode::Brackets => self.lex_brackets(),
            };
            if !ok {
                return;
            }
            if matches!(self.tokens.last(), Some(Token { kind: TokenKind::Eof, .. })) {
                return;
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.bump();
        }
    }

    /// One step in ordinary expression text. Returns false after an error.
    fn lex_statements(&mut self) -> bool {
        let start = self.pos;
        let Some(c) = self.bump() else {
            if self.paren_depth != 0 {
                return self.error(start, "unclosed left parenthesis".into());
            }
            self.emit(TokenKind::Eof, start);
            return true;
        };
        match c {
            '#' => self.skip_comment(),
            c if is_space(c) => {}
            ',' => self.emit(TokenKind::Comma, start),
            '*' => self.emit(TokenKind::Mul, start),
            '/' => self.emit(TokenKind::Div, start),
            '%' => self.emit(TokenKind::Mod, start),
            '+' => self.emit(TokenKind::Add, start),
            '-' => self.emit(TokenKind::Sub, start),
            '^' => self.emit(TokenKind::Pow, start),
            '@' => self.emit(TokenKind::At, start),
            '=' => match self.peek() {
                Some('=') => {
                    self.bump();
                    self.emit(TokenKind::Eqlc, start);
                }
                Some('~') => {
                    return self.error(start, "unexpected character after '=': '~'".into());
                }
                _ => self.emit(TokenKind::Eql, start),
            },
            '!' => {
                let n = self.bump();
                if n != Some('=') {
                    return self.error(start, format!("unexpected character after '!': {}", quote_rune_opt(n)));
                }
                self.emit(TokenKind::Neq, start);
            }
            '<' => {
                if self.accept("/") {
                    self.emit(TokenKind::TrimUpper, start)
                } else if self.accept("=") {
                    self.emit(TokenKind::Lte, start)
                } else {
                    self.emit(TokenKind::Lss, start)
                }
            }
            '>' => {
                if self.accept("/") {
                    self.emit(TokenKind::TrimLower, start)
                } else if self.accept("=") {
                    self.emit(TokenKind::Gte, start)
                } else {
                    self.emit(TokenKind::Gtr, start)
                }
            }
            c if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) => {
                self.pos = start;
                return self.lex_number_or_duration(start);
            }
            '"' | '\'' => return self.lex_string(start, c),
            '`' => return self.lex_raw_string(start),
            c if is_alpha(c) || c == ':' => {
                while let Some(c) = self.peek() {
                    if is_alnum(c) || c == ':' {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let word = &self.input[start..self.pos];
                let kind = match Keyword::from_word(word) {
                    Some(k) => TokenKind::Keyword(k),
                    None if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan") => TokenKind::Number,
                    None if word.contains(':') => TokenKind::MetricIdentifier,
                    None => TokenKind::Identifier,
                };
                self.emit(kind, start);
            }
            '(' | ')' => return self.lex_paren(start, c),
            '{' => {
                self.emit(TokenKind::LeftBrace, start);
                self.mode = Mode::Braces;
            }
            '[' => {
                self.emit(TokenKind::LeftBracket, start);
                self.got_colon = false;
                self.got_duration = false;
                self.mode = Mode::Brackets;
            }
            ']' => return self.error(start, "unexpected right bracket ']'".into()),
            '}' => return self.error(start, "unexpected character: '}'".into()),
            c => return self.error(start, format!("unexpected character: {}", quote_rune(c))),
        }
        true
    }

    /// One step inside `{...}`.
    fn lex_inside_braces(&mut self) -> bool {
        let start = self.pos;
        let Some(c) = self.bump() else {
            return self.error(start, "unexpected end of input inside braces".into());
        };
        match c {
            '#' => self.skip_comment(),
            c if is_space(c) => {}
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.bump();
                }
                self.emit(TokenKind::Identifier, start);
            }
            ',' => self.emit(TokenKind::Comma, start),
            '"' | '\'' => return self.lex_string(start, c),
            '`' => return self.lex_raw_string(start),
            '=' => {
                if self.accept("~") {
                    self.emit(TokenKind::EqlRegex, start)
                } else {
                    self.emit(TokenKind::Eql, start)
                }
            }
            '!' => match self.bump() {
                Some('~') => self.emit(TokenKind::NeqRegex, start),
                Some('=') => self.emit(TokenKind::Neq, start),
                n => {
                    return self
                        .error(start, format!("unexpected character after '!' inside braces: {}", quote_rune_opt(n)));
                }
            },
            '{' => return self.error(start, "unexpected left brace '{'".into()),
            '}' => {
                self.emit(TokenKind::RightBrace, start);
                self.mode = Mode::Statements;
            }
            c => {
                return self.error(start, format!("unexpected character inside braces: {}", quote_rune(c)));
            }
        }
        true
    }

    /// One step inside `[...]` (range, subquery and duration arithmetic).
    fn lex_brackets(&mut self) -> bool {
        let start = self.pos;
        let Some(c) = self.bump() else {
            if self.got_duration {
                return self.error(start, "unclosed left bracket".into());
            }
            return self.error(start, "unexpected end of input in duration expression".into());
        };
        match c {
            ']' => {
                self.emit(TokenKind::RightBracket, start);
                self.mode = Mode::Statements;
            }
            ':' => {
                if !self.got_duration {
                    return self.error(start, "unexpected colon before duration in duration expression".into());
                }
                if self.got_colon {
                    return self.error(start, "unexpected repeated colon in duration expression".into());
                }
                self.got_colon = true;
                self.emit(TokenKind::Colon, start);
            }
            '(' | ')' => return self.lex_paren(start, c),
            c if is_space(c) => {}
            '+' => self.emit(TokenKind::Add, start),
            '-' => self.emit(TokenKind::Sub, start),
            '*' => self.emit(TokenKind::Mul, start),
            '/' => self.emit(TokenKind::Div, start),
            '%' => self.emit(TokenKind::Mod, start),
            '^' => self.emit(TokenKind::Pow, start),
            ',' => self.emit(TokenKind::Comma, start),
            '[' => return self.error(start, "unexpected left bracket '['".into()),
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.bump();
                }
                let word = self.input[start..self.pos].to_ascii_lowercase();
                let kw = match word.as_str() {
                    "step" => Keyword::Step,
                    "range" => Keyword::Range,
                    "min_of" => Keyword::MinOf,
                    "max_of" => Keyword::MaxOf,
                    _ => {
                        return self
                            .error(start, format!("unexpected character in duration expression: {}", quote_rune(c)));
                    }
                };
                self.emit(TokenKind::Keyword(kw), start);
            }
            c if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) => {
                self.pos = start;
                self.got_duration = true;
                return self.lex_number_or_duration(start);
            }
            c => {
                return self.error(start, format!("unexpected character in duration expression: {}", quote_rune(c)));
            }
        }
        true
    }

    /// Scans a number (`lex.go` `scanNumber`); false when the text is not a complete number.
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut hex = false;
        if self.peek() == Some('0') && matches!(self.peek_at(1), Some('x' | 'X')) {
            self.pos += 2;
            self.accept("_");
            hex = true;
        }
        let digits = if hex { "0123456789abcdefABCDEF" } else { "0123456789" };
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exp = false;
        while let Some(c) = self.peek() {
            if !(digits.contains(c) || "._eE".contains(c)) {
                break;
            }
            if c == '.' && dot {
                self.bump();
                return false;
            }
            if (c == 'e' || c == 'E') && exp {
                self.bump();
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") || hex {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    /// Scans a number or a duration starting at `start`.
    fn lex_number_or_duration(&mut self, start: usize) -> bool {
        if self.scan_number() {
            self.emit(TokenKind::Number, start);
            return true;
        }
        if self.accept_remaining_duration() {
            self.emit(TokenKind::Duration, start);
            return true;
        }
        let text = self.input[start..self.pos].to_string();
        self.error(start, format!("bad number or duration syntax: {}", go_quote(&text)))
    }

    /// After the leading digits, accepts the rest of a duration (`lex.go` `acceptRemainingDuration`).
    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        if self.peek().is_some_and(is_alnum) {
            self.bump();
            return false;
        }
        true
    }

    /// Scans a `"` or `'` quoted string, validating escapes (`lex.go` `lexString`/`lexEscape`).
    fn lex_string(&mut self, start: usize, quote: char) -> bool {
        loop {
            let Some(c) = self.bump() else {
                return self.error(start, "unterminated quoted string".into());
            };
            match c {
                '\\' => {
                    if let Err(msg) = self.lex_escape(quote) {
                        return self.error(start, msg);
                    }
                }
                '\n' => return self.error(start, "unterminated quoted string".into()),
                c if c == quote => break,
                _ => {}
            }
        }
        self.emit(TokenKind::String, start);
        true
    }

    /// Validates one escape sequence; the backslash has been consumed.
    fn lex_escape(&mut self, quote: char) -> Result<(), String> {
        let Some(ch) = self.bump() else {
            return Err("escape sequence not terminated".into());
        };
        let (mut n, base, max): (u32, u32, u32) = match ch {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
            c if c == quote => return Ok(()),
            '0'..='7' => {
                self.pos -= 1;
                (3, 8, 255)
            }
            'x' => (2, 16, 255),
            'u' => (4, 16, 0x10FFFF),
            'U' => (8, 16, 0x10FFFF),
            c => return Err(format!("unknown escape sequence {}", go_sharp_u(c))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let Some(c) = self.bump() else {
                return Err("escape sequence not terminated".into());
            };
            let d = c.to_digit(16).unwrap_or(16);
            if d >= base {
                return Err(format!("illegal character {} in escape sequence", go_sharp_u(c)));
            }
            x = x.saturating_mul(base).saturating_add(d);
            n -= 1;
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    /// Scans a backquoted raw string.
    fn lex_raw_string(&mut self, start: usize) -> bool {
        loop {
            match self.bump() {
                None => return self.error(start, "unterminated raw string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(TokenKind::String, start);
        true
    }
}

/// Go's `strconv.Quote`: a double-quoted string with Go escapes for non-printable characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(u, 0xAD | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..)
}

/// Go's `%q` of a rune: `'x'`.
pub fn quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn quote_rune_opt(c: Option<char>) -> String {
    match c {
        Some(c) => quote_rune(c),
        None => "'\u{fffd}'".to_string(),
    }
}

/// Go's `%#U` of a rune: `U+0071 'q'`.
fn go_sharp_u(c: char) -> String {
    if is_go_printable(c) { format!("U+{:04X} '{}'", c as u32, c) } else { format!("U+{:04X}", c as u32) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        lex(s).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn basic_tokens() {
        use TokenKind::*;
        assert_eq!(
            kinds("sum by (job) (rate(foo{a=\"b\"}[5m])) # c"),
            vec![
                Keyword(super::Keyword::Sum),
                Keyword(super::Keyword::By),
                LeftParen,
                Identifier,
                RightParen,
                LeftParen,
                Identifier,
                LeftParen,
                Identifier,
                LeftBrace,
                Identifier,
                Eql,
                String,
                RightBrace,
                LeftBracket,
                Duration,
                RightBracket,
                RightParen,
                RightParen,
                Eof
            ]
        );
        assert_eq!(kinds("a:b == bool 1"), vec![MetricIdentifier, Eqlc, Keyword(super::Keyword::Bool), Number, Eof]);
        assert_eq!(
            kinds("{on=~'x', by!~\"y\"}"),
            vec![LeftBrace, Identifier, EqlRegex, String, Comma, Identifier, NeqRegex, String, RightBrace, Eof]
        );
    }

    #[test]
    fn numbers_and_durations() {
        use TokenKind::*;
        for n in ["1", "1.5", ".5", "5.", "0x1f", "1e3", "1E-3", "Inf", "nAn", "1_000", "0755"] {
            assert_eq!(kinds(n), vec![Number, Eof], "{n}");
        }
        for d in ["5m", "1h30m", "10s53ms", "1y", "2w", "1d", "100ms"] {
            assert_eq!(kinds(d), vec![Duration, Eof], "{d}");
        }
        assert!(matches!(&kinds("5mx")[0], Error(m) if m == "bad number or duration syntax: \"5mx\""));
        assert!(matches!(&kinds("1e")[0], Error(_)));
    }

    #[test]
    fn errors() {
        let toks = lex("foo{a=\"b\\q\"}");
        assert_eq!(toks.last().unwrap().kind, TokenKind::Error("unknown escape sequence U+0071 'q'".into()));
        assert_eq!(toks.last().unwrap().start, 6);
        assert_eq!(lex("foo ~").last().unwrap().kind, TokenKind::Error("unexpected character: '~'".into()));
        assert_eq!(lex("(foo").last().unwrap().kind, TokenKind::Error("unclosed left parenthesis".into()));
        assert_eq!(lex("foo[5m").last().unwrap().kind, TokenKind::Error("unclosed left bracket".into()));
        assert_eq!(lex("foo{").last().unwrap().kind, TokenKind::Error("unexpected end of input inside braces".into()));
        assert_eq!(lex("\"abc").last().unwrap().kind, TokenKind::Error("unterminated quoted string".into()));
        assert_eq!(
            lex("\"\\u00\"").last().unwrap().kind,
            TokenKind::Error("illegal character U+0022 '\"' in escape sequence".into())
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(quote_rune('x'), "'x'");
        assert_eq!(quote_rune('\''), "'\\''");
    }
}

// Pharos — query/src/promql/lexer.rs
