//! Tempo's legacy search parameter `tags=`: logfmt pairs such as `service.name=cart k2="v 2"`.
//!
//! Pairs are separated by whitespace. A key runs to `=` or whitespace and may not hold `"`; a key
//! with no `=` has the empty value. A value is either unquoted (up to whitespace; no `"` or `=`) or
//! a `"…"` string with the escapes `\" \\ \/ \b \f \n \r \t \uXXXX`, which must be followed by
//! whitespace or the end.

/// The pairs of `tags`, in order (duplicates kept). An error names the problem and its column.
pub fn parse_tags_logfmt(tags: &str) -> Result<Vec<(String, String)>, String> {
    let chars: Vec<char> = tags.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    let column = |i: usize| i + 1;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(pairs);
        }
        let key_start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            if chars[i] == '"' {
                return Err(format!("unexpected '\"' in key at column {}", column(i)));
            }
            i += 1;
        }
        if i == key_start {
            return Err(format!("unexpected '=' at column {}: a key must come first", column(i)));
        }
        let key: String = chars[key_start..i].iter().collect();
        if i >= chars.len() || chars[i] != '=' {
            pairs.push((key, String::new()));
            continue;
        }
        i += 1;
        let mut value = String::new();
        if i < chars.len() && chars[i] == '"' {
            let quote = i;
            i += 1;
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err(format!(
                        "unterminated quoted value for key {key:?} (quote at column {})",
                        column(quote)
                    ));
                };
                i += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        let Some(&escaped) = chars.get(i) else {
                            return Err(format!("unterminated quoted value for key {key:?}"));
                        };
                        i += 1;
                        match escaped {
                            '"' | '\\' | '/' => value.push(escaped),
                            'b' => value.push('\x08'),
                            'f' => value.push('\x0c'),
                            'n' => value.push('\n'),
                            'r' => value.push('\r'),
                            't' => value.push('\t'),
                            'u' => {
                                let hex: String = chars.get(i..i + 4).map(|h| h.iter().collect()).unwrap_or_default();
                                let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                                let c = c.ok_or_else(|| format!("invalid \\u escape at column {}", column(i - 2)))?;
                                value.push(c);
                                i += 4;
                            }
                            other => return Err(format!("invalid escape \\{other} at column {}", column(i - 2))),
                        }
                    }
                    c => value.push(c),
                }
            }
            if i < chars.len() && !chars[i].is_whitespace() {
                return Err(format!("unexpected {:?} after quoted value at column {}", chars[i], column(i)));
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '"' || chars[i] == '=' {
                    return Err(format!("unexpected {:?} in value at column {}", chars[i], column(i)));
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        pairs.push((key, value));
    }
}

// Pharos — query/src/traces/traceql/logfmt.rs
