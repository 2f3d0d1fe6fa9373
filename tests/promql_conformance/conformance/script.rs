//! Parser for Prometheus `.test` scripts (promqltest), following FORMAT.md
//! and the behaviour of upstream `promql/promqltest/test.go`: lines are
//! trimmed, `#` lines become blank lines, blocks end at a blank line, a
//! scalar line or a legacy `expected_fail_*` line ends an eval block.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::series::{self, Labels, SeqValue};

/// A parsed script: its commands in file order.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub commands: Vec<Command>,
}

impl Script {
    /// All eval commands, in order.
    pub fn evals(&self) -> impl Iterator<Item = &Eval> {
        self.commands.iter().filter_map(|c| match c {
            Command::Eval(e) => Some(e),
            _ => None,
        })
    }
}

/// One script command.
#[derive(Debug, Clone)]
pub enum Command {
    /// `load <step>` / `load_with_nhcb <step>`.
    Load(Load),
    /// `clear`: discard all data. `line` is the 1-based line of the command.
    Clear { line: usize },
    /// `eval …`.
    Eval(Eval),
}

/// A `load` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// 1-based line of the `load` header.
    pub line: usize,
    /// Step between consecutive values, in milliseconds.
    pub step_ms: i64,
    /// Float series, in order of first appearance (a repeated label set keeps
    /// only the values of its last line). Histogram samples are dropped.
    pub series: Vec<LoadSeries>,
    /// The block was `load_with_nhcb` (NHCB series derived from classic
    /// histograms are not materialised by this harness).
    pub with_nhcb: bool,
    /// At least one native-histogram sample (`{{…}}`) was dropped.
    pub has_histograms: bool,
    /// The block has start-timestamp (`…@st`) lines (parsed, then ignored).
    pub has_start_timestamps: bool,
}

/// One series of a `load` block.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSeries {
    /// Sorted labels, `__name__` included when given.
    pub labels: Labels,
    /// `(timestamp ms, value)` in increasing time order; StaleNaN markers
    /// carry the bits [`series::STALE_NAN_BITS`].
    pub samples: Vec<(i64, f64)>,
}

/// An `eval` command.
#[derive(Debug, Clone)]
pub struct Eval {
    /// 1-based line of the `eval` header (the number used in core-evals.tsv).
    pub line: usize,
    pub kind: EvalKind,
    /// The PromQL query text (rest of the header line).
    pub query: String,
    pub expectations: Expectations,
}

/// Instant or range evaluation, times in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// `expect range vector from <s> to <e> step <st>` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeSpec {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// Matches an error or annotation text.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// No `msg:`/`regex:` given: anything matches.
    Any,
    /// `msg: <text>`: exact match.
    Message(String),
    /// `regex: <re>`: unanchored search.
    Regex(Regex),
}

impl Matcher {
    /// Whether `text` satisfies this matcher.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Message(m) => m == text,
            Matcher::Regex(r) => r.is_match(text),
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Matcher::Any, Matcher::Any) => true,
            (Matcher::Message(a), Matcher::Message(b)) => a == b,
            (Matcher::Regex(a), Matcher::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Any => write!(f, "<any>"),
            Matcher::Message(m) => write!(f, "message {m:?}"),
            Matcher::Regex(r) => write!(f, "pattern {:?}", r.as_str()),
        }
    }
}

/// One expected result series line.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    /// 1-based line in the file.
    pub line: usize,
    pub labels: Labels,
    pub values: Vec<SeqValue>,
}

/// Everything an eval body (and its header modifier) expects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expectations {
    /// The query must fail (`eval_fail` or `expect fail`).
    pub fail: bool,
    /// All of these must match the error text (`expect fail msg:/regex:`,
    /// legacy `expected_fail_message`/`expected_fail_regexp`).
    pub fail_matchers: Vec<Matcher>,
    /// Instant-vector result order matters (`expect ordered`/`eval_ordered`).
    pub ordered: bool,
    /// `expect warn [msg:|regex:]` lines.
    pub warn: Vec<Matcher>,
    /// `expect info [msg:|regex:]` lines.
    pub info: Vec<Matcher>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// Legacy `eval_warn`: at least one warning.
    pub require_warn: bool,
    /// Legacy `eval_info`: at least one info annotation.
    pub require_info: bool,
    /// `expect range vector …`.
    pub range_vector: Option<RangeSpec>,
    /// `expect string "…"`.
    pub string: Option<String>,
    /// A bare number line: expected scalar.
    pub scalar: Option<f64>,
    /// Expected series lines, in file order.
    pub series: Vec<ExpectedSeries>,
}

impl Eval {
    /// Whether this is a range eval.
    pub fn is_range(&self) -> bool {
        matches!(self.kind, EvalKind::Range { .. })
    }

    /// Evaluation time of an instant eval. With `expect range vector` the
    /// upstream harness evaluates at the range's end, not at the `at` time.
    pub fn instant_time_ms(&self) -> Option<i64> {
        match self.kind {
            EvalKind::Instant { at_ms } => {
                Some(self.expectations.range_vector.map_or(at_ms, |r| r.end_ms))
            }
            EvalKind::Range { .. } => None,
        }
    }

    /// Parameters of the range query of a range eval. As upstream, an
    /// `expect range vector` line overrides them.
    pub fn range_params(&self) -> Option<RangeSpec> {
        match self.kind {
            EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => Some(self.expectations.range_vector.unwrap_or(RangeSpec {
                start_ms,
                end_ms,
                step_ms,
            })),
            EvalKind::Instant { .. } => None,
        }
    }

    /// The grid on which matrix expectations are laid out, if the eval expects
    /// a matrix (range eval, or instant eval with `expect range vector`).
    pub fn matrix_grid(&self) -> Option<RangeSpec> {
        self.range_params().or(self.expectations.range_vector)
    }

    /// Whether any expected value is a native histogram literal.
    pub fn expects_histograms(&self) -> bool {
        self.expectations
            .series
            .iter()
            .any(|s| s.values.iter().any(SeqValue::is_histogram))
    }
}

/// A script parse error, with the 1-based line it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// File name, when known.
    pub file: Option<String>,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}:{}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for ParseError {}

fn perr(idx: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        file: None,
        line: idx + 1,
        message: message.into(),
    }
}

/// Reads and parses a `.test` file; errors carry `file:line`.
pub fn parse_file(path: &Path) -> Result<Script, ParseError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let text = std::fs::read(path).map_err(|e| ParseError {
        file: Some(file.clone()),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8(text).map_err(|_| ParseError {
        file: Some(file.clone()),
        line: 0,
        message: "file is not valid UTF-8".into(),
    })?;
    parse_script(&text).map_err(|mut e| {
        e.file = Some(file);
        e
    })
}

/// Go's `\s` (RE2): `[\t\n\f\r ]`.
const S: &str = r"[\t\n\f\r ]";

struct Patterns {
    load: Regex,
    eval_instant: Regex,
    eval_range: Regex,
    expect: Regex,
    expect_range: Regex,
    space: Regex,
    context_funcs: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |p: String| Regex::new(&p).expect("static regex");
        Patterns {
            load: re(format!(r"^load(?:_(with_nhcb))?{S}+(.+?)$")),
            eval_instant: re(format!(r"^eval(?:_(fail|warn|ordered|info))?{S}+instant{S}+(?:at{S}+(.+?))?{S}+(.+)$")),
            eval_range: re(format!(
                r"^eval(?:_(fail|warn|info))?{S}+range{S}+from{S}+(.+){S}+to{S}+(.+){S}+step{S}+(.+?){S}+(.+)$"
            )),
            expect: re(format!(r"^expect{S}+(ordered|fail|warn|no_warn|info|no_info)(?:{S}+(regex|msg):(.+))?$")),
            expect_range: re(format!(r"^expect range vector{S}+from{S}+(.+){S}+to{S}+(.+){S}+step{S}+(.+)$")),
            space: re(format!("{S}+")),
            context_funcs: re(r"(start|end|range|step)\(\)".to_string()),
        }
    })
}

/// Whether a query calls `start()`, `end()`, `range()` or `step()` (the same
/// unanchored regexp upstream uses to skip the range-mode re-run).
pub fn uses_query_context_functions(query: &str) -> bool {
    patterns().context_funcs.is_match(query)
}

/// Parses a Prometheus duration (`model.ParseDuration`): integer+unit groups
/// from `y w d h m s ms` in strictly descending order, or a bare `0`. No sign,
/// no fractions. Returns milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 24 * 3_600_000_000_000),
        ("w", 7 * 24 * 3_600_000_000_000),
        ("d", 24 * 3_600_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    let invalid = || format!("not a valid duration string: {s:?}");
    let b = s.as_bytes();
    let mut i = 0;
    let mut last_unit: Option<usize> = None;
    let mut total_ns: u128 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        let v: u128 = s[start..i]
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        let ustart = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let pos = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(|| {
            if unit.is_empty() {
                invalid()
            } else {
                format!("unknown unit {unit:?} in duration {s:?}")
            }
        })?;
        if last_unit.is_some_and(|l| pos <= l) {
            return Err(invalid());
        }
        last_unit = Some(pos);
        total_ns = v
            .checked_mul(UNITS[pos].1)
            .and_then(|x| x.checked_add(total_ns))
            .filter(|&x| x <= i64::MAX as u128)
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok((total_ns / 1_000_000) as i64)
}

/// Parses a whole script.
pub fn parse_script(input: &str) -> Result<Script, ParseError> {
    let lines: Vec<&str> = input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let p = patterns();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let first = p.space.split(l).next().unwrap_or("").to_lowercase();
        let cmd;
        if first == "clear" {
            cmd = Command::Clear { line: i + 1 };
        } else if first.starts_with("load") {
            let (ni, load) = parse_load(&lines, i)?;
            i = ni;
            cmd = Command::Load(load);
        } else if first.starts_with("eval") {
            let (ni, eval) = parse_eval(&lines, i)?;
            i = ni;
            cmd = Command::Eval(eval);
        } else {
            return Err(perr(i, format!("invalid command {l:?}")));
        }
        commands.push(cmd);
        i += 1;
    }
    Ok(Script { commands })
}

/// Parses a load block starting at `lines[i]`; returns the index of its last line.
fn parse_load(lines: &[&str], mut i: usize) -> Result<(usize, Load), ParseError> {
    let caps = patterns().load.captures(lines[i]).ok_or_else(|| {
        perr(
            i,
            "invalid load command. (load[_with_nhcb] <step:duration>)",
        )
    })?;
    let header = i;
    let with_nhcb = caps.get(1).is_some();
    let step = caps.get(2).map_or("", |m| m.as_str());
    let step_ms = parse_duration_ms(step)
        .map_err(|e| perr(i, format!("invalid step definition {step:?}: {e}")))?;
    let mut load = Load {
        line: header + 1,
        step_ms,
        series: Vec::new(),
        with_nhcb,
        has_histograms: false,
        has_start_timestamps: false,
    };
    // Pending `metric@st` line: (labels, number of values, line index).
    let mut pending_st: Option<(Labels, usize, usize)> = None;
    while i + 1 < lines.len() {
        i += 1;
        let def = lines[i];
        if def.is_empty() {
            i -= 1;
            break;
        }
        if is_st_line(def) {
            load.has_start_timestamps = true;
            if let Some((_, _, l)) = pending_st {
                return Err(perr(l, "@st line has no following sample line"));
            }
            let (labels, n) = parse_st_line(def).map_err(|e| perr(i, e))?;
            if let Some(labels) = labels {
                pending_st = Some((labels, n, i));
            }
            continue;
        }
        let (labels, values) = series::parse_series_desc(def).map_err(|e| perr(i, e))?;
        if let Some((st_labels, n, l)) = pending_st.take() {
            if st_labels != labels {
                return Err(perr(
                    l,
                    "@st metric does not match the following sample line metric",
                ));
            }
            if n != values.len() {
                return Err(perr(
                    l,
                    format!(
                        "@st line has {n} values but sample line has {}",
                        values.len()
                    ),
                ));
            }
        }
        let mut samples = Vec::with_capacity(values.len());
        for (idx, v) in values.iter().enumerate() {
            let t = (idx as i64)
                .checked_mul(step_ms)
                .ok_or_else(|| perr(i, "sample timestamp out of range"))?;
            match v {
                SeqValue::Float(f) => samples.push((t, *f)),
                SeqValue::Omitted => {}
                SeqValue::Histogram(_) => load.has_histograms = true,
            }
        }
        match load.series.iter_mut().find(|s| s.labels == labels) {
            Some(existing) => existing.samples = samples,
            None => load.series.push(LoadSeries { labels, samples }),
        }
    }
    if let Some((_, _, l)) = pending_st {
        return Err(perr(l, "@st line has no following sample line"));
    }
    Ok((i, load))
}

/// A start-timestamp line: the first whitespace-separated word ends in `@st`.
fn is_st_line(def: &str) -> bool {
    def.find([' ', '\t'])
        .is_some_and(|sp| def[..sp].ends_with("@st"))
}

/// Parses `metric{…}@st <offsets>` or a standalone `@st <offsets>` (which
/// returns `None` labels). Returns the labels and the number of positions.
fn parse_st_line(def: &str) -> Result<(Option<Labels>, usize), String> {
    let sp = def
        .find([' ', '\t'])
        .ok_or("invalid @st line: missing value sequence")?;
    let metric = def[..sp].strip_suffix("@st").unwrap_or(&def[..sp]);
    let mut n = 0usize;
    let mut prev_ms = 0i64;
    for item in def[sp + 1..].split_whitespace() {
        let (count, last) =
            parse_st_item(item, prev_ms).map_err(|e| format!("invalid ST item {item:?}: {e}"))?;
        n = n.saturating_add(count);
        if let Some(last) = last {
            prev_ms = last;
        }
        if n as u64 > series::MAX_REPEAT {
            return Err("@st sequence too long".into());
        }
    }
    if metric.is_empty() {
        return Ok((None, n));
    }
    let (labels, _) = series::parse_series_desc(&format!("{metric} _"))
        .map_err(|e| format!("invalid @st line metric {metric:?}: {e}"))?;
    Ok((Some(labels), n))
}

/// One ST offset item; returns (positions, last non-omitted offset).
fn parse_st_item(item: &str, prev_ms: i64) -> Result<(usize, Option<i64>), String> {
    let count = |s: &str| -> Result<u64, String> {
        let n: u64 = s.parse().map_err(|_| "invalid repeat count".to_string())?;
        if n > series::MAX_REPEAT {
            return Err("repeat count too large".into());
        }
        Ok(n)
    };
    if item == "_" {
        return Ok((1, None));
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n = count(n)?;
        if n == 0 {
            return Err("invalid repeat count".into());
        }
        return Ok((n as usize, None));
    }
    if item == "*" {
        return Ok((1, Some(prev_ms)));
    }
    if let Some(n) = item.strip_prefix("*x") {
        return Ok((count(n)? as usize + 1, Some(prev_ms)));
    }
    let (base, rest) = parse_duration_prefix(item)?;
    if rest.is_empty() {
        return Ok((1, Some(base)));
    }
    if let Some(n) = rest.strip_prefix('x') {
        return Ok((count(n)? as usize + 1, Some(base)));
    }
    let negative = match rest.as_bytes()[0] {
        b'+' => false,
        b'-' => true,
        c => {
            return Err(format!(
                "unexpected character {:?} after duration",
                c as char
            ));
        }
    };
    let (delta, rest2) = parse_duration_prefix(&rest[1..])?;
    let delta = if negative { -delta } else { delta };
    let n = rest2
        .strip_prefix('x')
        .ok_or("expected 'x<count>' after step duration")?;
    let n = count(n)?;
    let last = (n as i64)
        .checked_mul(delta)
        .and_then(|d| d.checked_add(base))
        .ok_or("offset out of range")?;
    Ok((n as usize + 1, Some(last)))
}

/// A duration with optional sign at the start of `s` (units stop at `x`).
fn parse_duration_prefix(s: &str) -> Result<(i64, &str), String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    match b.first() {
        None => return Err("empty duration".into()),
        Some(b'-') => {
            negative = true;
            i = 1;
        }
        Some(b'+') => i = 1,
        _ => {}
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return Err(format!("expected digits in duration {s:?}"));
    }
    while i < b.len() && b[i].is_ascii_alphabetic() && b[i] != b'x' {
        i += 1;
    }
    let ms = parse_duration_ms(&s[start..i])?;
    Ok((if negative { -ms } else { ms }, &s[i..]))
}

/// Parses an eval block starting at `lines[i]`; returns the index of its last line.
fn parse_eval(lines: &[&str], mut i: usize) -> Result<(usize, Eval), ParseError> {
    let p = patterns();
    let header = lines[i];
    let instant = p.eval_instant.captures(header);
    let range = p.eval_range.captures(header);
    let (modifier, query, kind);
    let fmt_err = |idx: usize, query: &str, msg: String| {
        perr(
            idx,
            format!("error in eval {query} (line {}): {msg}", idx + 1),
        )
    };
    if let Some(c) = &instant {
        modifier = c.get(1).map(|m| m.as_str());
        query = c.get(3).map_or("", |m| m.as_str()).to_string();
        let at = c.get(2).map_or("", |m| m.as_str());
        let at_ms = parse_duration_ms(at).map_err(|e| {
            fmt_err(
                i,
                &query,
                format!("invalid timestamp definition {at:?}: {e}"),
            )
        })?;
        kind = EvalKind::Instant { at_ms };
    } else if let Some(c) = &range {
        modifier = c.get(1).map(|m| m.as_str());
        query = c.get(5).map_or("", |m| m.as_str()).to_string();
        let (s, e, st) = (c.get(2), c.get(3), c.get(4));
        let (start_ms, end_ms, step_ms) = parse_range(
            s.map_or("", |m| m.as_str()),
            e.map_or("", |m| m.as_str()),
            st.map_or("", |m| m.as_str()),
        )
        .map_err(|e| fmt_err(i, &query, e))?;
        kind = EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        };
    } else {
        return Err(perr(
            i,
            "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered|_info] instant at <offset:duration> <query>' \
             or 'eval[_fail|_warn|_info] range from <from> to <to> step <step> <query>'",
        ));
    }
    let mut x = Expectations::default();
    let legacy_fail = modifier == Some("fail");
    match modifier {
        Some("ordered") => x.ordered = true,
        Some("fail") => x.fail = true,
        Some("warn") => x.require_warn = true,
        Some("info") => x.require_info = true,
        _ => {}
    }
    let header_idx = i;
    let is_instant = matches!(kind, EvalKind::Instant { .. });
    let mut expect_fail_lines = 0;
    while i + 1 < lines.len() {
        i += 1;
        let def = lines[i];
        let err = |msg: String| fmt_err(i, &query, msg);
        if def.is_empty() {
            i -= 1;
            break;
        }
        if legacy_fail && let Some(rest) = def.strip_prefix("expected_fail_message") {
            x.fail_matchers
                .push(Matcher::Message(rest.trim().to_string()));
            break;
        }
        if legacy_fail && let Some(rest) = def.strip_prefix("expected_fail_regexp") {
            let pat = rest.trim();
            let re = Regex::new(pat).map_err(|e| {
                err(format!(
                    "invalid regexp '{pat}' for expected_fail_regexp: {e}"
                ))
            })?;
            x.fail_matchers.push(Matcher::Regex(re));
            break;
        }
        if def.starts_with("expect range vector") {
            let c = p
                .expect_range
                .captures(def)
                .ok_or_else(|| err(format!("invalid range vector definition {def:?}")))?;
            let (start_ms, end_ms, step_ms) = parse_range(&c[1], &c[2], &c[3]).map_err(err)?;
            x.range_vector = Some(RangeSpec {
                start_ms,
                end_ms,
                step_ms,
            });
            continue;
        }
        if def.starts_with("expect string") {
            x.string = Some(parse_string_literal(def).map_err(err)?);
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            let c = p.expect.captures(def).ok_or_else(|| {
                err("invalid expect statement, must match `expect <type> <match_type>: <string>` format".into())
            })?;
            let matcher = match c.get(2).map(|m| m.as_str()) {
                None => Matcher::Any,
                Some("msg") => Matcher::Message(c[3].trim().to_string()),
                Some(_) => {
                    let pat = c[3].trim();
                    Matcher::Regex(
                        Regex::new(pat)
                            .map_err(|_| err(format!("invalid regex {pat} for {}", &c[1])))?,
                    )
                }
            };
            match &c[1] {
                "ordered" => x.ordered = true,
                "fail" => {
                    x.fail = true;
                    expect_fail_lines += 1;
                    if !matches!(matcher, Matcher::Any) {
                        x.fail_matchers.push(matcher);
                    }
                }
                "warn" => x.warn.push(matcher),
                "info" => x.info.push(matcher),
                "no_warn" => x.no_warn = true,
                _ => x.no_info = true,
            }
            if !x.info.is_empty() && x.no_info {
                return Err(err(
                    "invalid expect lines, info and no_info cannot be used together".into(),
                ));
            }
            if !x.warn.is_empty() && x.no_warn {
                return Err(err(
                    "invalid expect lines, warn and no_warn cannot be used together".into(),
                ));
            }
            if expect_fail_lines > 1 {
                return Err(err(
                    "invalid expect lines, multiple expect fail lines are not allowed".into(),
                ));
            }
            continue;
        }
        if let Ok(v) = series::parse_go_number(def) {
            x.scalar = Some(v);
            break;
        }
        let (labels, values) = series::parse_series_desc(def).map_err(|e| perr(i, e))?;
        if values.len() > 1 && is_instant && x.range_vector.is_none() {
            return Err(err(
                "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' \
                 directive to enable a range vector result for an instant query"
                    .into(),
            ));
        }
        x.series.push(ExpectedSeries {
            line: i + 1,
            labels,
            values,
        });
    }
    Ok((
        i,
        Eval {
            line: header_idx + 1,
            kind,
            query,
            expectations: x,
        },
    ))
}

/// Parses `from`, `to`, `step` durations; `to` must not precede `from`.
fn parse_range(from: &str, to: &str, step: &str) -> Result<(i64, i64, i64), String> {
    let f = parse_duration_ms(from)
        .map_err(|e| format!("invalid start timestamp definition {from:?}: {e}"))?;
    let t = parse_duration_ms(to)
        .map_err(|e| format!("invalid end timestamp definition {to:?}: {e}"))?;
    if t < f {
        return Err(format!(
            "invalid test definition, end timestamp ({to}) is before start timestamp ({from})"
        ));
    }
    let s =
        parse_duration_ms(step).map_err(|e| format!("invalid step definition {step:?}: {e}"))?;
    Ok((f, t, s))
}

/// `expect string <Go quoted literal>` (Go `strconv.Unquote` rules).
fn parse_string_literal(line: &str) -> Result<String, String> {
    const MSG: &str = "expected string literal not valid - a quoted string literal is required";
    if line == "expect string" {
        return Err(MSG.into());
    }
    let s = line.strip_prefix("expect string ").unwrap_or(line);
    if s.is_empty() {
        return Err(MSG.into());
    }
    series::go_unquote(s, false).map_err(|_| {
        "expected string literal not valid - check that the string is correctly quoted".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::series::{is_stale_nan, stale_nan};
    use super::*;

    fn one_eval(src: &str) -> Eval {
        let s = parse_script(src).unwrap();
        s.evals().next().cloned().expect("an eval")
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_duration_ms("0s"), Ok(0));
        assert_eq!(parse_duration_ms("50m"), Ok(3_000_000));
        assert_eq!(parse_duration_ms("1000s"), Ok(1_000_000));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration_ms("20s500ms"), Ok(20_500));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("0h"), Ok(0));
        assert!(parse_duration_ms("1d1w").is_err());
        assert_eq!(parse_duration_ms("2w1d"), Ok(15 * 86_400_000));
        assert_eq!(parse_duration_ms("1y"), Ok(365 * 86_400_000));
        for bad in [
            "", "-10s", "1.5m", "5", "m", "1m1m", "1s1m", "5 m", "1x", "300y",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn load_block() {
        let s = parse_script(
            "# comment\nload 5m\n  a{x=\"1\"} 0+10x2 _ stale\n  b 1 2\n  a{x=\"1\"} 7 _ 9\n  h {{count:1}} 3\n\nload_with_nhcb 1m\n  c_bucket{le=\"1\"} 1\n",
        )
        .unwrap();
        assert_eq!(s.commands.len(), 2);
        let Command::Load(l) = &s.commands[0] else {
            panic!()
        };
        assert_eq!(l.line, 2);
        assert_eq!(l.step_ms, 300_000);
        assert!(l.has_histograms && !l.with_nhcb);
        assert_eq!(l.series.len(), 3);
        assert_eq!(
            l.series[0].labels,
            vec![("__name__".into(), "a".into()), ("x".into(), "1".into())]
        );
        // Repeated label set: only the last line counts.
        assert_eq!(l.series[0].samples, vec![(0, 7.0), (600_000, 9.0)]);
        assert_eq!(l.series[1].samples, vec![(0, 1.0), (300_000, 2.0)]);
        assert_eq!(l.series[2].samples, vec![(300_000, 3.0)]);
        let Command::Load(l2) = &s.commands[1] else {
            panic!()
        };
        assert!(l2.with_nhcb);

        let s = parse_script("load 1m\n  a 0+10x2 _ stale\n").unwrap();
        let Command::Load(l) = &s.commands[0] else {
            panic!()
        };
        let smp = &l.series[0].samples;
        assert_eq!(smp.len(), 4);
        assert_eq!(smp[3].0, 240_000);
        assert!(is_stale_nan(smp[3].1));
        assert_eq!(smp[3].1.to_bits(), stale_nan().to_bits());
    }

    #[test]
    fn st_lines() {
        let s = parse_script(
            "load 1m\n  m{a=\"b\"}@st _ -30s-1mx2 0\n  m{a=\"b\"} _ 0+60x2 5\n  @st -1m\n  n 1\n",
        )
        .unwrap();
        let Command::Load(l) = &s.commands[0] else {
            panic!()
        };
        assert!(l.has_start_timestamps);
        assert_eq!(l.series.len(), 2);
        assert!(parse_script("load 1m\n  m@st _ 0\n  m 1\n").is_err());
        assert!(parse_script("load 1m\n  m@st 0\n  n 1\n").is_err());
        assert!(parse_script("load 1m\n  m@st 0\n").is_err());
    }

    #[test]
    fn headers() {
        let e = one_eval("eval instant at 50m sum(x)\n");
        assert_eq!(e.kind, EvalKind::Instant { at_ms: 3_000_000 });
        assert_eq!(e.query, "sum(x)");
        assert_eq!(e.line, 1);
        let e = one_eval("\n\neval range from 0 to 10m step 5m rate(x[5m])  +  1\n");
        assert_eq!(
            e.kind,
            EvalKind::Range {
                start_ms: 0,
                end_ms: 600_000,
                step_ms: 300_000
            }
        );
        assert_eq!(e.query, "rate(x[5m])  +  1");
        assert_eq!(e.line, 3);
        let e = one_eval("eval_ordered instant at 0 sort(x)\n");
        assert!(e.expectations.ordered);
        let e = one_eval("eval_fail instant at 0 x\n");
        assert!(e.expectations.fail);
        let e = one_eval("eval_warn range from 0 to 1m step 1m x\n");
        assert!(e.expectations.require_warn);
        let e = one_eval("eval_info instant at 1m x\n");
        assert!(e.expectations.require_info);
        for bad in [
            "eval instant 50m x",
            "eval instant at -10s x",
            "eval range from 10m to 0 step 1m x",
            "eval_ordered range from 0 to 1m step 1m x",
            "evaluate instant at 0 x",
            "EVAL instant at 0 x",
            "loader 5m",
            "load 5m 1m",
            "bogus",
            "ignore",
        ] {
            let err = parse_script(&format!("\n{bad}\n")).unwrap_err();
            assert_eq!(err.line, 2, "{bad}");
        }
        // Command words are case-insensitive; `clear` ignores the rest.
        assert!(matches!(
            parse_script("CLEAR\n").unwrap().commands[0],
            Command::Clear { line: 1 }
        ));
    }

    #[test]
    fn expect_lines() {
        let e = one_eval(
            "eval instant at 1m x\n expect warn\n expect warn msg:  PromQL warning: a (1:1) \n expect info regex: b+\n expect ordered\n  x{a=\"1\"} 1\n  x{a=\"2\"} NaN\n",
        );
        let x = &e.expectations;
        assert_eq!(
            x.warn,
            vec![
                Matcher::Any,
                Matcher::Message("PromQL warning: a (1:1)".into())
            ]
        );
        assert_eq!(x.info.len(), 1);
        assert!(x.info[0].matches("xxbbyy") && !x.info[0].matches("c"));
        assert!(x.ordered && !x.no_info && !x.no_warn);
        assert_eq!(x.series.len(), 2);
        assert_eq!(x.series[1].line, 7);

        let e = one_eval("eval instant at 1m x\n expect fail msg:invalid label name \"a\\xc5z\"\n");
        assert!(e.expectations.fail);
        assert_eq!(
            e.expectations.fail_matchers,
            vec![Matcher::Message("invalid label name \"a\\xc5z\"".into())]
        );
        let e = one_eval("eval instant at 1m x\n expect fail regex: conflicting label\n");
        assert!(e.expectations.fail_matchers[0].matches("found conflicting labels"));
        let e = one_eval("eval instant at 1m x\n expect fail\n");
        assert!(e.expectations.fail && e.expectations.fail_matchers.is_empty());

        let e = one_eval("eval_fail instant at 1m x\n expected_fail_message  some error \n");
        assert_eq!(
            e.expectations.fail_matchers,
            vec![Matcher::Message("some error".into())]
        );
        let e = one_eval("eval_fail instant at 1m x\n expected_fail_regexp (a|b)rror\n");
        assert!(e.expectations.fail_matchers[0].matches("x brror y"));
        // expected_fail_* ends the block, so a following line is a new command.
        assert!(
            parse_script("eval_fail instant at 1m x\n expected_fail_message e\n x 1\n").is_err()
        );
        // Without eval_fail the legacy line is just an (invalid) series line.
        assert!(parse_script("eval instant at 1m x\n expected_fail_message e\n").is_err());

        let e = one_eval("eval instant at 1m \"a\"\n expect string \" Foo \"\n");
        assert_eq!(e.expectations.string.as_deref(), Some(" Foo "));
        let e = one_eval("eval instant at 1m \"a\"\n expect string `F\\oo`\n");
        assert_eq!(e.expectations.string.as_deref(), Some("F\\oo"));
        let e = one_eval("eval instant at 1m \"a\"\n expect string \"\"\n");
        assert_eq!(e.expectations.string.as_deref(), Some(""));
        assert!(parse_script("eval instant at 1m x\n expect string\n").is_err());
        assert!(parse_script("eval instant at 1m x\n expect string Foo\n").is_err());

        let e = one_eval(
            "eval instant at 1m x[1m]\n expect range vector from 10s to 1m step 10s\n x 1 2 _ 4\n",
        );
        assert_eq!(
            e.expectations.range_vector,
            Some(RangeSpec {
                start_ms: 10_000,
                end_ms: 60_000,
                step_ms: 10_000
            })
        );
        assert_eq!(e.instant_time_ms(), Some(60_000));
        assert_eq!(e.matrix_grid(), e.expectations.range_vector);

        for bad in [
            " expect warn\n expect no_warn",
            " expect info\n expect no_info",
            " expect fail\n expect fail",
            " expect fail msg:",
            " expect bogus",
            " expect warn regex: (",
            " x 1 2",
            " expect range vector from 1m to 0 step 1s",
        ] {
            assert!(
                parse_script(&format!("eval instant at 1m x\n{bad}\n")).is_err(),
                "{bad}"
            );
        }
        // Comment lines end the block (here: an empty result is expected).
        let s = parse_script("eval instant at 1m x\n# empty\n").unwrap();
        assert!(s.evals().next().unwrap().expectations.series.is_empty());
        // A series literally named `expect` must be written `expect{}`.
        let e = one_eval("eval instant at 1m expect\n expect{} 1\n");
        assert_eq!(
            e.expectations.series[0].labels,
            vec![("__name__".into(), "expect".into())]
        );
    }

    #[test]
    fn scalar_lines() {
        for (txt, want) in [
            ("2", 2.0),
            ("-0.2e-6", -0.2e-6),
            ("+Inf", f64::INFINITY),
            ("0x3d", 61.0),
            ("-Inf", f64::NEG_INFINITY),
        ] {
            let e = one_eval(&format!("eval instant at 1m x\n  {txt}\n"));
            assert_eq!(e.expectations.scalar, Some(want), "{txt}");
        }
        let e = one_eval("eval instant at 1m x\n  NaN\n");
        assert!(e.expectations.scalar.unwrap().is_nan());
        // A scalar line ends the block: anything after it must be a command.
        assert!(parse_script("eval instant at 1m x\n 1\n x 2\n").is_err());
        let s = parse_script("eval instant at 1m x\n 1\nclear\n").unwrap();
        assert_eq!(s.commands.len(), 2);
    }

    #[test]
    fn parse_error_has_line() {
        let err = parse_script("load 5m\n  a 1\n  b{ 2\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().starts_with("line 3: "));
    }

    #[test]
    fn context_functions() {
        assert!(uses_query_context_functions("x @ start()"));
        assert!(uses_query_context_functions("step() * 2"));
        assert!(!uses_query_context_functions("rate(x[5m])"));
        assert!(!uses_query_context_functions("timestamp(x)"));
    }
}

// Pharos — tests/promql_conformance/conformance/script.rs
