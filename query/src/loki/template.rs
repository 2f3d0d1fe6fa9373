//! The Go-template subset of `line_format` and `label_format`.
//!
//! Supported: plain text; actions `{{.label}}`, `{{ .label }}`, `{{__line__}}`, `{{__timestamp__}}`,
//! string literals; trim markers `{{-` / `-}}`; function calls and pipes with the functions
//! `ToUpper`/`upper`, `ToLower`/`lower`, `TrimSpace`/`trim`, `trimPrefix`, `trimSuffix`, `replace`,
//! `default` (`{{ .a | default "x" }}`, `{{ ToUpper .a }}`; a piped value is the last argument, as
//! in Go). A missing label renders as "". Anything else (`if`, `range`, unknown functions…) is a
//! parse error.

use std::fmt;

/// A parsed template.
#[derive(Clone)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

#[derive(Clone, Debug)]
enum Node {
    Text(String),
    Action(Vec<Command>),
}

#[derive(Clone, Debug)]
struct Command {
    func: Option<Func>,
    args: Vec<Arg>,
}

#[derive(Clone, Debug)]
enum Arg {
    Field(String),
    Literal(String),
    Line,
    Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Upper,
    Lower,
    TrimSpace,
    TrimPrefix,
    TrimSuffix,
    Replace,
    Default,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "ToUpper" | "upper" => Func::Upper,
            "ToLower" | "lower" => Func::Lower,
            "TrimSpace" | "trim" => Func::TrimSpace,
            "trimPrefix" => Func::TrimPrefix,
            "trimSuffix" => Func::TrimSuffix,
            "replace" => Func::Replace,
            "default" => Func::Default,
            _ => return None,
        })
    }

    fn arity(self) -> usize {
        match self {
            Func::Upper | Func::Lower | Func::TrimSpace => 1,
            Func::TrimPrefix | Func::TrimSuffix | Func::Default => 2,
            Func::Replace => 3,
        }
    }
}

/// What a template reads while rendering.
pub struct TemplateInput<'a> {
    pub labels: &'a [(String, String)],
    pub line: &'a str,
    pub timestamp_nanos: i64,
}

impl Template {
    /// Parses `source`. Errors name the problem (the caller adds the position in the query).
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut nodes = Vec::new();
        let mut rest = source;
        let mut trim_next_text = false;
        while !rest.is_empty() {
            let Some(open) = rest.find("{{") else {
                push_text(&mut nodes, rest, trim_next_text, false);
                break;
            };
            let after_open = &rest[open + 2..];
            let trim_left =
                after_open.starts_with("- ") || after_open.starts_with("-\t") || after_open.starts_with("-\n");
            push_text(&mut nodes, &rest[..open], trim_next_text, trim_left);
            let inner_start = if trim_left { 1 } else { 0 };
            let Some(close) = after_open.find("}}") else {
                return Err("unclosed action".into());
            };
            let mut inner = &after_open[inner_start..close];
            trim_next_text = false;
            if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
                inner = &inner[..inner.len() - 1];
                trim_next_text = true;
            }
            nodes.push(Node::Action(parse_action(inner)?));
            rest = &after_open[close + 2..];
        }
        Ok(Template { source: source.to_string(), nodes })
    }

    /// Whether the template reads the log line.
    pub fn uses_line(&self) -> bool {
        self.nodes.iter().any(
            |n| matches!(n, Node::Action(cmds) if cmds.iter().any(|c| c.args.iter().any(|a| matches!(a, Arg::Line)))),
        )
    }

    pub fn render(&self, input: &TemplateInput<'_>) -> Result<String, String> {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(cmds) => {
                    let mut piped: Option<String> = None;
                    for cmd in cmds {
                        let mut args: Vec<String> = cmd.args.iter().map(|a| eval_arg(a, input)).collect();
                        if let Some(p) = piped.take() {
                            args.push(p);
                        }
                        piped = Some(match cmd.func {
                            None => args.pop().unwrap_or_default(),
                            Some(f) => {
                                if args.len() != f.arity() {
                                    return Err(format!("{f:?} takes {} arguments", f.arity()));
                                }
                                apply(f, &args)
                            }
                        });
                    }
                    out.push_str(&piped.unwrap_or_default());
                }
            }
        }
        Ok(out)
    }
}

fn push_text(nodes: &mut Vec<Node>, text: &str, trim_start: bool, trim_end: bool) {
    let mut t = text;
    if trim_start {
        t = t.trim_start();
    }
    if trim_end {
        t = t.trim_end();
    }
    if !t.is_empty() {
        nodes.push(Node::Text(t.to_string()));
    }
}

fn eval_arg(arg: &Arg, input: &TemplateInput<'_>) -> String {
    match arg {
        Arg::Field(name) => input.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default(),
        Arg::Literal(s) => s.clone(),
        Arg::Line => input.line.to_string(),
        Arg::Timestamp => super::params::format_rfc3339_nanos(input.timestamp_nanos),
    }
}

fn apply(f: Func, args: &[String]) -> String {
    match f {
        Func::Upper => args[0].to_uppercase(),
        Func::Lower => args[0].to_lowercase(),
        Func::TrimSpace => args[0].trim().to_string(),
        Func::TrimPrefix => args[1].strip_prefix(args[0].as_str()).unwrap_or(&args[1]).to_string(),
        Func::TrimSuffix => args[1].strip_suffix(args[0].as_str()).unwrap_or(&args[1]).to_string(),
        Func::Replace => args[2].replace(args[0].as_str(), &args[1]),
        Func::Default => {
            if args[1].is_empty() {
                args[0].clone()
            } else {
                args[1].clone()
            }
        }
    }
}

/// Splits an action into words, keeping quoted strings whole.
fn tokenize(action: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = action.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            out.push("|".to_string());
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut end = None;
            let mut escaped = false;
            for (j, d) in chars.by_ref() {
                if c == '"' && d == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if d == c && !escaped {
                    end = Some(j);
                    break;
                }
                escaped = false;
            }
            let end = end.ok_or("unterminated quoted string")?;
            out.push(action[i..=end].to_string());
        } else if c == '(' || c == ')' {
            return Err("parenthesised pipelines are not supported".into());
        } else {
            let start = i;
            let mut end = action.len();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_whitespace() || d == '|' || d == '(' || d == ')' {
                    end = j;
                    break;
                }
                chars.next();
            }
            out.push(action[start..end].to_string());
        }
    }
    Ok(out)
}

fn parse_action(action: &str) -> Result<Vec<Command>, String> {
    let words = tokenize(action)?;
    if words.is_empty() {
        return Err("missing value for command".into());
    }
    let mut cmds = Vec::new();
    for part in words.split(|w| w == "|") {
        let Some((head, rest)) = part.split_first() else {
            return Err("missing command in pipeline".into());
        };
        let first = parse_operand(head)?;
        let cmd = match first {
            Operand::Func(f) => {
                Command { func: Some(f), args: rest.iter().map(|w| parse_arg(w)).collect::<Result<_, _>>()? }
            }
            Operand::Arg(a) => {
                if !rest.is_empty() {
                    return Err(format!("{head} is not a function and takes no arguments"));
                }
                Command { func: None, args: vec![a] }
            }
        };
        if let Some(f) = cmd.func {
            let piped = usize::from(!cmds.is_empty());
            if cmd.args.len() + piped != f.arity() {
                return Err(format!("{head} takes {} arguments, {} given", f.arity(), cmd.args.len() + piped));
            }
        } else if !cmds.is_empty() {
            return Err(format!("{head} is not a function and cannot follow |"));
        }
        cmds.push(cmd);
    }
    Ok(cmds)
}

enum Operand {
    Func(Func),
    Arg(Arg),
}

fn parse_arg(word: &str) -> Result<Arg, String> {
    match parse_operand(word)? {
        Operand::Arg(a) => Ok(a),
        Operand::Func(_) => Err(format!("function {word} used as an argument")),
    }
}

fn parse_operand(word: &str) -> Result<Operand, String> {
    if let Some(name) = word.strip_prefix('.') {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("unsupported field reference {word}"));
        }
        return Ok(Operand::Arg(Arg::Field(name.to_string())));
    }
    if let Some(raw) = word.strip_prefix('`') {
        return Ok(Operand::Arg(Arg::Literal(raw.trim_end_matches('`').to_string())));
    }
    if word.starts_with('"') {
        let s: String = serde_json::from_str(word).map_err(|_| format!("invalid string literal {word}"))?;
        return Ok(Operand::Arg(Arg::Literal(s)));
    }
    if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') && word.parse::<f64>().is_ok() {
        return Ok(Operand::Arg(Arg::Literal(word.to_string())));
    }
    match word {
        "__line__" => return Ok(Operand::Arg(Arg::Line)),
        "__timestamp__" => return Ok(Operand::Arg(Arg::Timestamp)),
        "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" => {
            return Err(format!("{word} actions are not supported"));
        }
        _ => {}
    }
    Func::from_name(word).map(Operand::Func).ok_or_else(|| format!("unknown function {word:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, labels: &[(&str, &str)], line: &str) -> Result<String, String> {
        let labels: Vec<(String, String)> = labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Template::parse(t)?.render(&TemplateInput { labels: &labels, line, timestamp_nanos: 0 })
    }

    #[test]
    fn renders_fields_and_functions() {
        let l = [("level", "info"), ("msg", "hello")];
        assert_eq!(render("{{.level}} {{.msg}}", &l, "").unwrap(), "info hello");
        assert_eq!(render("{{ .level }}: {{ .missing }}!", &l, "").unwrap(), "info: !");
        assert_eq!(render("{{ .level | ToUpper }} {{ ToLower \"AbC\" }}", &l, "").unwrap(), "INFO abc");
        assert_eq!(render("[{{ __line__ }}]", &l, "raw line").unwrap(), "[raw line]");
        assert_eq!(render("a  {{- .level -}}  b", &l, "").unwrap(), "ainfob");
        assert_eq!(render("{{ .nope | default \"-\" }}", &l, "").unwrap(), "-");
        assert_eq!(render("{{ replace \"l\" \"L\" .msg }}", &l, "").unwrap(), "heLLo");
        assert_eq!(render("{{ __timestamp__ }}", &l, "").unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(render("plain", &l, "").unwrap(), "plain");
    }

    #[test]
    fn rejects_unsupported() {
        for bad in
            ["{{ if .a }}x{{ end }}", "{{ foo .a }}", "{{ .a", "{{ }}", "{{ .a .b }}", "{{ ToUpper }}", "{{ (.a) }}"]
        {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}

// Pharos — query/src/loki/template.rs
