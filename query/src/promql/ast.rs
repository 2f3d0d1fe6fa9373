//! The PromQL syntax tree: what the parser produces and the engine evaluates.
//!
//! Positions are byte offsets into the query text (`Span`), so errors and annotations can name
//! `line:column`. Times and durations are milliseconds.

use std::fmt;

/// Byte range `[start, end)` of a node in the query text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }
}

/// The four PromQL value types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Scalar,
    String,
    Vector,
    Matrix,
}

impl ValueType {
    /// The name Prometheus uses in messages: "scalar", "string", "instant vector", "range vector".
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }

    /// The name the HTTP API uses in `resultType`: "scalar", "string", "vector", "matrix".
    pub fn result_type(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }
}

/// A label matching operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One label matcher as written; regexes are validated by the parser (RE2 syntax, fully
/// anchored when evaluated) but compiled by the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

/// `@` modifier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// `@ <unix seconds>`, converted to milliseconds (rounded as Prometheus does).
    Timestamp(i64),
    /// `@ start()`
    Start,
    /// `@ end()`
    End,
}

/// `name{matchers} offset d @ t`.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name if written outside braces (`foo{...}`) or as a bare quoted string inside
    /// them (`{"foo"}`); it is also present in `matchers` as `__name__="foo"`.
    pub name: Option<String>,
    /// All matchers, including the one for the metric name, in source order (name first).
    pub matchers: Vec<LabelMatcher>,
    /// `offset` in milliseconds; negative offsets look forward. 0 when absent.
    pub offset: i64,
    pub at: Option<At>,
    pub span: Span,
}

/// `selector[range]` (offset and `@` live on the inner selector, as in Prometheus).
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    pub selector: VectorSelector,
    /// Range in milliseconds (> 0).
    pub range: i64,
    pub span: Span,
}

/// `expr[range:step] offset d @ t`.
#[derive(Clone, Debug, PartialEq)]
pub struct Subquery {
    pub expr: Expr,
    pub range: i64,
    /// `None` when the step was left out (`[5m:]`): the engine's default step applies.
    pub step: Option<i64>,
    pub offset: i64,
    pub at: Option<At>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    // Arithmetic
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    // Comparison
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    // Set
    And,
    Or,
    Unless,
}

impl BinaryOp {
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eql | BinaryOp::Neq | BinaryOp::Gtr | BinaryOp::Lss | BinaryOp::Gte | BinaryOp::Lte)
    }
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }
}

/// Matching cardinality of a vector/vector binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cardinality {
    OneToOne,
    /// `group_left`
    ManyToOne,
    /// `group_right`
    OneToMany,
    /// `and`, `or`, `unless`
    ManyToMany,
}

/// `on(...)`/`ignoring(...)` and `group_left(...)`/`group_right(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// true for `on(labels)`, false for `ignoring(labels)` (and when neither was written).
    pub on: bool,
    pub labels: Vec<String>,
    /// The extra labels of `group_left(...)`/`group_right(...)`.
    pub include: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Binary {
    pub op: BinaryOp,
    pub lhs: Expr,
    pub rhs: Expr,
    /// The `bool` modifier of comparisons.
    pub return_bool: bool,
    /// Present exactly when both sides are instant vectors (a default `ignoring()` one-to-one
    /// matching, or many-to-many for set operators, when nothing was written).
    pub matching: Option<VectorMatching>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateOp {
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
    /// Experimental.
    Limitk,
    /// Experimental.
    LimitRatio,
}

impl AggregateOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }
    /// Whether the operator takes a parameter before the vector (topk(k, v), quantile(q, v),
    /// count_values("label", v), limitk, limit_ratio).
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub op: AggregateOp,
    pub expr: Expr,
    pub param: Option<Expr>,
    /// The labels of `by (...)` or `without (...)`, as written.
    pub grouping: Vec<String>,
    pub without: bool,
    pub span: Span,
}

/// A function's signature.
#[derive(Debug, PartialEq)]
pub struct Function {
    pub name: &'static str,
    pub arg_types: &'static [ValueType],
    /// 0: exactly `arg_types.len()` args; n > 0: the last n of `arg_types` are optional;
    /// -1: the last type repeats any number of times (label_join, sort_by_label).
    pub variadic: i32,
    pub return_type: ValueType,
    /// Behind Prometheus' `--enable-feature=promql-experimental-functions`.
    pub experimental: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub func: &'static Function,
    pub args: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number { value: f64, span: Span },
    String { value: String, span: Span },
    Paren { expr: Box<Expr>, span: Span },
    Unary { op: UnaryOp, expr: Box<Expr>, span: Span },
    Binary(Box<Binary>),
    Aggregate(Box<Aggregate>),
    Call(Box<Call>),
    VectorSelector(Box<VectorSelector>),
    MatrixSelector(Box<MatrixSelector>),
    Subquery(Box<Subquery>),
}

impl Expr {
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number { .. } => ValueType::Scalar,
            Expr::String { .. } => ValueType::String,
            Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar && b.rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Call(c) => c.func.return_type,
            Expr::VectorSelector(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Expr::Number { span, .. }
            | Expr::String { span, .. }
            | Expr::Paren { span, .. }
            | Expr::Unary { span, .. } => *span,
            Expr::Binary(b) => b.span,
            Expr::Aggregate(a) => a.span,
            Expr::Call(c) => c.span,
            Expr::VectorSelector(v) => v.span,
            Expr::MatrixSelector(m) => m.span,
            Expr::Subquery(s) => s.span,
        }
    }
}

/// A parse error: what went wrong and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte range in the query the error points at.
    pub span: Span,
    /// Prometheus' wording, without position (e.g. `unexpected end of input`).
    pub message: String,
    /// `line:col` (1-based, col in characters) of `span.start`, as Prometheus reports it.
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for ParseError {
    /// `1:14: parse error: unexpected <op:+>` — Prometheus' format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: parse error: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for ParseError {}
// Pharos — query/src/promql/ast.rs
