//! The LogQL syntax tree the parser builds and the evaluator walks.
//!
//! Regexes, templates and patterns are compiled at parse time, so a query that parses cannot fail
//! later for a syntax reason.

use regex::Regex;

use super::labels::Matcher;
use super::template::Template;

/// A whole query: a log query (lines) or a metric query (samples).
#[derive(Debug, Clone)]
pub enum Expr {
    Log(LogExpr),
    Metric(MetricExpr),
}

/// A stream selector and its pipeline.
#[derive(Debug, Clone)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub stages: Vec<Stage>,
    /// Byte offset of the selector's `{` in the query text (for error positions).
    pub pos: usize,
}

/// One pipeline stage, applied in the order written.
#[derive(Debug, Clone)]
pub enum Stage {
    LineFilter(LineFilter),
    /// `| json` (no params: every key, nested keys joined with `_`) or `| json a="path", b`.
    Json(Vec<(String, JsonPath)>),
    /// `| logfmt [--strict] [--keep-empty] [a, b="key"]`.
    Logfmt {
        strict: bool,
        keep_empty: bool,
        params: Vec<(String, String)>,
    },
    /// `| regexp "(?P<name>…)"`: named groups become labels.
    Regexp(Regex),
    /// `| pattern "<ip> - <_>"`.
    Pattern(Pattern),
    /// `| unpack`: JSON keys become labels, `_entry` becomes the line.
    Unpack,
    /// `| decolorize`: strips ANSI colour sequences from the line.
    Decolorize,
    LabelFilter(LabelFilter),
    LineFormat(Template),
    LabelFormat(Vec<LabelFormat>),
    /// `| drop a, b="v"`: removes labels (only when the value matches, if a matcher is given).
    Drop(Vec<NamedMatcher>),
    /// `| keep a, b="v"`: keeps only these labels.
    Keep(Vec<NamedMatcher>),
}

/// A label named in `drop`/`keep`, optionally with a value matcher.
#[derive(Debug, Clone)]
pub struct NamedMatcher {
    pub name: String,
    pub matcher: Option<Matcher>,
}

/// `|=`, `!=`, `|~`, `!~`, `|>`, `!>` with one or more `or`-ed operands.
#[derive(Debug, Clone)]
pub struct LineFilter {
    pub op: LineFilterOp,
    pub needles: Vec<LineNeedle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFilterOp {
    Contains,
    NotContains,
    Match,
    NotMatch,
    Pattern,
    NotPattern,
}

#[derive(Debug, Clone)]
pub enum LineNeedle {
    Text(String),
    Regex(Regex),
    Pattern(Pattern),
}

/// A label filter expression: `a="b"`, `status >= 400`, `d > 10s`, combined with `and`/`or`.
#[derive(Debug, Clone)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    Matcher(Matcher),
    Compare { name: String, op: CmpOp, value: f64, kind: NumKind },
}

/// Comparison operators of numeric label filters and binary expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Neq => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// How a label value is read for a numeric comparison: a number, a duration (compared in
/// seconds) or a byte size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumKind {
    Number,
    Duration,
    Bytes,
}

/// `label_format dst=src` (rename) or `dst="{{template}}"`.
#[derive(Debug, Clone)]
pub enum LabelFormat {
    Rename { dst: String, src: String },
    Template { dst: String, template: Template },
}

/// One step of a JSON path (`a.b[0]["c d"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPathPart {
    Key(String),
    Index(usize),
}

pub type JsonPath = Vec<JsonPathPart>;

/// A compiled `pattern` expression: literals and captures (`None` = `<_>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub parts: Vec<PatternPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternPart {
    Literal(String),
    Capture(Option<String>),
}

/// A metric expression.
#[derive(Debug, Clone)]
pub enum MetricExpr {
    Range(Box<RangeAgg>),
    Aggregate {
        op: AggOp,
        grouping: Option<Grouping>,
        param: Option<f64>,
        expr: Box<MetricExpr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<MetricExpr>,
        rhs: Box<MetricExpr>,
        modifiers: BinModifiers,
    },
    /// A number literal (a scalar).
    Number(f64),
    /// `vector(n)`: one sample without labels at every step.
    Vector(f64),
}

/// A range aggregation: `count_over_time({…} | … [5m] offset 1h)`.
#[derive(Debug, Clone)]
pub struct RangeAgg {
    pub op: RangeOp,
    pub log: LogExpr,
    pub range_nanos: i64,
    pub offset_nanos: i64,
    pub unwrap: Option<Unwrap>,
    /// The φ of `quantile_over_time`.
    pub param: Option<f64>,
    /// `by`/`without` after an unwrapped range aggregation: samples are grouped before the
    /// function is applied.
    pub grouping: Option<Grouping>,
}

/// `| unwrap [duration|duration_seconds|bytes](label)` and the label filters after it.
#[derive(Debug, Clone)]
pub struct Unwrap {
    pub label: String,
    pub conv: UnwrapConv,
    pub post_filters: Vec<LabelFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnwrapConv {
    Number,
    Duration,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    CountOverTime,
    Rate,
    BytesOverTime,
    BytesRate,
    AbsentOverTime,
    SumOverTime,
    AvgOverTime,
    MaxOverTime,
    MinOverTime,
    FirstOverTime,
    LastOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
}

impl RangeOp {
    pub fn from_name(name: &str) -> Option<RangeOp> {
        Some(match name {
            "count_over_time" => RangeOp::CountOverTime,
            "rate" => RangeOp::Rate,
            "bytes_over_time" => RangeOp::BytesOverTime,
            "bytes_rate" => RangeOp::BytesRate,
            "absent_over_time" => RangeOp::AbsentOverTime,
            "sum_over_time" => RangeOp::SumOverTime,
            "avg_over_time" => RangeOp::AvgOverTime,
            "max_over_time" => RangeOp::MaxOverTime,
            "min_over_time" => RangeOp::MinOverTime,
            "first_over_time" => RangeOp::FirstOverTime,
            "last_over_time" => RangeOp::LastOverTime,
            "stddev_over_time" => RangeOp::StddevOverTime,
            "stdvar_over_time" => RangeOp::StdvarOverTime,
            "quantile_over_time" => RangeOp::QuantileOverTime,
            _ => return None,
        })
    }

    /// Functions over log lines (no unwrap allowed).
    pub fn is_log_range(self) -> bool {
        matches!(self, RangeOp::CountOverTime | RangeOp::BytesOverTime | RangeOp::BytesRate)
    }

    /// Functions that need an unwrap.
    pub fn needs_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
}

impl AggOp {
    pub fn from_name(name: &str) -> Option<AggOp> {
        Some(match name {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "count" => AggOp::Count,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "sort" => AggOp::Sort,
            "sort_desc" => AggOp::SortDesc,
            _ => return None,
        })
    }
}

/// `by (…)` or `without (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Cmp(CmpOp),
    And,
    Or,
    Unless,
}

impl BinOp {
    /// Precedence, higher binds tighter (Prometheus' order).
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Cmp(_) => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Pow => 6,
        }
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// `bool`, `on(…)`/`ignoring(…)`, `group_left(…)`/`group_right(…)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinModifiers {
    pub return_bool: bool,
    /// `Some((true, labels))` for `on(labels)`, `Some((false, labels))` for `ignoring(labels)`.
    pub matching: Option<(bool, Vec<String>)>,
    /// `Some((true, include))` for `group_left(include)`, `Some((false, …))` for `group_right`.
    pub group: Option<(bool, Vec<String>)>,
}

impl LogExpr {
    /// Whether evaluating the pipeline needs the log line (filters, parsers, formatting).
    /// Without it, samples come from fast fields alone.
    pub fn needs_line(&self) -> bool {
        self.stages.iter().any(|s| {
            !matches!(s, Stage::LabelFilter(_) | Stage::Drop(_) | Stage::Keep(_) | Stage::LabelFormat(_))
                || matches!(s, Stage::LabelFormat(f) if f.iter().any(|f| matches!(f, LabelFormat::Template { .. })))
        })
    }
}

// Pharos — query/src/loki/ast.rs
