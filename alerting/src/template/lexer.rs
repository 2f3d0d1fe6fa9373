//! Splits template text into text runs and the tokens of `{{ … }}` actions, as Go's
//! `text/template/parse` lexer does: `{{-` / `-}}` trim adjacent white space (the dash must be
//! separated from the action by white space), `{{/* … */}}` comments vanish, and actions may span lines.

/// Where a token starts: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    /// A function name or keyword (`if`, `range`, `true`, `nil`, …).
    Ident(String),
    /// `.Name` (without the dot).
    Field(String),
    /// A lone `.`.
    Dot,
    /// `$` or `$name` (with the `$`).
    Variable(String),
    Str(String),
    /// A character constant (`'a'`): Go's rune, an integer.
    Char(i64),
    /// Number text as written (`1`, `-2.5e3`, `0x1F`).
    Number(String),
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// White space separates this token from the previous one (distinguishes `$x.F` from `$x .F`).
    pub spaced: bool,
}

/// A lexing error: message and position.
#[derive(Debug)]
pub struct LexError {
    pub message: String,
    pub pos: Pos,
}

struct Lexer<'a> {
    src: &'a str,
    i: usize,
    line_starts: Vec<usize>,
    out: Vec<Token>,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Tokenise a whole template text.
pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut line_starts = vec![0];
    line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
    let mut lexer = Lexer { src, i: 0, line_starts, out: Vec::new() };
    lexer.run()?;
    let pos = lexer.pos(src.len());
    lexer.out.push(Token { tok: Tok::Eof, pos, spaced: true });
    Ok(lexer.out)
}

impl Lexer<'_> {
    fn pos(&self, offset: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let col = self.src[start..offset.min(self.src.len())].chars().count() + 1;
        Pos { line: line as u32, col: col as u32 }
    }

    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError { message: message.into(), pos: self.pos(offset) })
    }

    fn push(&mut self, tok: Tok, offset: usize, spaced: bool) {
        let pos = self.pos(offset);
        self.out.push(Token { tok, pos, spaced });
    }

    fn run(&mut self) -> Result<(), LexError> {
        let bytes = self.src.as_bytes();
        let mut trim_next_text = false;
        loop {
            let start = self.i;
            let Some(found) = self.src[start..].find("{{") else {
                let mut text = &self.src[start..];
                if trim_next_text {
                    text = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
                }
                if !text.is_empty() {
                    let text = text.to_string();
                    self.push(Tok::Text(text), start, false);
                }
                return Ok(());
            };
            let delim = start + found;
            let mut text = &self.src[start..delim];
            if trim_next_text {
                text = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
            }
            let mut after = delim + 2;
            if bytes.get(after) == Some(&b'-') && bytes.get(after + 1).is_some_and(|&c| is_space(c)) {
                text = text.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
                after += 2;
            }
            if !text.is_empty() {
                let text = text.to_string();
                self.push(Tok::Text(text), start, false);
            }
            // A comment must follow the delimiter (and its trim marker) directly.
            let mut comment_at = after;
            while comment_at < bytes.len() && is_space(bytes[comment_at]) && after > delim + 2 {
                comment_at += 1;
            }
            if self.src[comment_at..].starts_with("/*") {
                let Some(end) = self.src[comment_at + 2..].find("*/") else {
                    return self.err(delim, "unclosed comment");
                };
                let mut j = comment_at + 2 + end + 2;
                if self.src[j..].starts_with("}}") {
                    trim_next_text = false;
                    self.i = j + 2;
                    continue;
                }
                while j < bytes.len() && is_space(bytes[j]) {
                    j += 1;
                }
                if j > comment_at + 2 + end + 2 && self.src[j..].starts_with("-}}") {
                    trim_next_text = true;
                    self.i = j + 3;
                    continue;
                }
                return self.err(delim, "comment ends before closing delimiter");
            }
            self.push(Tok::LeftDelim, delim, false);
            self.i = after;
            trim_next_text = self.lex_action(delim)?;
        }
    }

    /// Lex inside an action up to and including its closing delimiter; true when it was `-}}`.
    fn lex_action(&mut self, open: usize) -> Result<bool, LexError> {
        let bytes = self.src.as_bytes();
        let mut spaced = true;
        let mut paren_depth = 0i32;
        loop {
            let i = self.i;
            if i >= bytes.len() {
                return self.err(open, "unclosed action");
            }
            let c = bytes[i];
            if is_space(c) {
                let mut j = i;
                while j < bytes.len() && is_space(bytes[j]) {
                    j += 1;
                }
                if self.src[j..].starts_with("-}}") {
                    self.push(Tok::RightDelim, j, true);
                    self.i = j + 3;
                    return Ok(true);
                }
                self.i = j;
                spaced = true;
                continue;
            }
            if self.src[i..].starts_with("}}") {
                if paren_depth > 0 {
                    return self.err(i, "unclosed left paren");
                }
                self.push(Tok::RightDelim, i, spaced);
                self.i = i + 2;
                return Ok(false);
            }
            let (tok, len) = match c {
                b'|' => (Tok::Pipe, 1),
                b'(' => {
                    paren_depth += 1;
                    (Tok::LeftParen, 1)
                }
                b')' => {
                    paren_depth -= 1;
                    if paren_depth < 0 {
                        return self.err(i, "unexpected right paren");
                    }
                    (Tok::RightParen, 1)
                }
                b',' => (Tok::Comma, 1),
                b':' => {
                    if bytes.get(i + 1) != Some(&b'=') {
                        return self.err(i, "expected :=");
                    }
                    (Tok::Declare, 2)
                }
                b'=' => (Tok::Assign, 1),
                b'"' => self.quoted(i)?,
                b'`' => match self.src[i + 1..].find('`') {
                    Some(end) => (Tok::Str(self.src[i + 1..i + 1 + end].to_string()), end + 2),
                    None => return self.err(i, "unterminated raw quoted string"),
                },
                b'\'' => self.char_constant(i)?,
                b'$' => {
                    let len = 1 + self.word_len(i + 1);
                    (Tok::Variable(self.src[i..i + len].to_string()), len)
                }
                b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => self.number(i)?,
                b'.' => {
                    let len = self.word_len(i + 1);
                    if len == 0 {
                        (Tok::Dot, 1)
                    } else {
                        (Tok::Field(self.src[i + 1..i + 1 + len].to_string()), len + 1)
                    }
                }
                b'0'..=b'9' => self.number(i)?,
                b'+' | b'-' if bytes.get(i + 1).is_some_and(|&d| d.is_ascii_digit() || d == b'.') => self.number(i)?,
                _ => {
                    let len = self.word_len(i);
                    if len == 0 {
                        let ch = self.src[i..].chars().next().unwrap_or('?');
                        return self.err(i, format!("unrecognized character in action: {ch:?}"));
                    }
                    (Tok::Ident(self.src[i..i + len].to_string()), len)
                }
            };
            self.push(tok, i, spaced);
            self.i = i + len;
            spaced = false;
        }
    }

    /// Length in bytes of the identifier (letters, digits, `_`) starting at `i`.
    fn word_len(&self, i: usize) -> usize {
        self.src[i..]
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(self.src.len() - i, |(n, _)| n)
    }

    fn number(&self, i: usize) -> Result<(Tok, usize), LexError> {
        let bytes = self.src.as_bytes();
        let mut j = i;
        if matches!(bytes[j], b'+' | b'-') {
            j += 1;
        }
        while j < bytes.len() {
            let c = bytes[j];
            let exp_sign = matches!(c, b'+' | b'-') && matches!(bytes[j - 1], b'e' | b'E' | b'p' | b'P');
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
                j += 1;
            } else {
                break;
            }
        }
        Ok((Tok::Number(self.src[i..j].to_string()), j - i))
    }

    fn quoted(&self, i: usize) -> Result<(Tok, usize), LexError> {
        let mut out = String::new();
        let mut chars = self.src[i + 1..].char_indices();
        while let Some((n, c)) = chars.next() {
            match c {
                '"' => return Ok((Tok::Str(out), n + 2)),
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match escape(e, &mut chars) {
                        Some(decoded) => out.push(decoded),
                        None => return self.err(i, format!("invalid syntax in quoted string: \\{e}")),
                    }
                }
                c => out.push(c),
            }
        }
        self.err(i, "unterminated quoted string")
    }

    fn char_constant(&self, i: usize) -> Result<(Tok, usize), LexError> {
        let mut chars = self.src[i + 1..].char_indices();
        let value = match chars.next() {
            Some((_, '\\')) => chars.next().and_then(|(_, e)| escape(e, &mut chars)),
            Some((_, '\'')) | Some((_, '\n')) | None => None,
            Some((_, c)) => Some(c),
        };
        match (value, chars.next()) {
            (Some(v), Some((n, '\''))) => Ok((Tok::Char(v as i64), n + 2)),
            _ => self.err(i, "malformed character constant"),
        }
    }
}

/// Decode a Go escape sequence after its backslash.
fn escape(e: char, chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    let mut hex = |n: usize, radix: u32| -> Option<char> {
        let digits: String = (0..n).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
        if digits.len() != n {
            return None;
        }
        u32::from_str_radix(&digits, radix).ok().and_then(char::from_u32)
    };
    Some(match e {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'v' => '\x0b',
        '\\' => '\\',
        '"' => '"',
        '\'' => '\'',
        'x' => return hex(2, 16),
        'u' => return hex(4, 16),
        'U' => return hex(8, 16),
        '0'..='7' => {
            let rest: String = (0..2).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
            return u32::from_str_radix(&format!("{e}{rest}"), 8).ok().and_then(char::from_u32);
        }
        _ => return None,
    })
}

// Pharos — alerting/src/template/lexer.rs
