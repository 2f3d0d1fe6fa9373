//! The parsed form of a TraceQL query, and its canonical text (`Display`).
//!
//! A query is a [`Pipeline`] of elements joined by `|`: spanset expressions (`{…}` filters combined
//! with spanset operators), scalar filters (`count() > 2`), `by(…)`, `select(…)` and `coalesce()`.
//! Field expressions inside `{…}` are typed when parsed ([`super::parser`]), so evaluation
//! ([`super::eval`]) never meets an operator applied to operands of the wrong static type.

use std::fmt;

use pharos_storage::traces::{SpanKind, StatusCode};
use regex::Regex;

/// Elements joined by `|`, applied left to right to the spansets of one trace.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Never empty.
    pub elements: Vec<PipelineElement>,
}

/// One stage of a pipeline.
#[derive(Clone, Debug)]
pub enum PipelineElement {
    /// Selects spans from each input spanset (the first stage's input is every span of the trace).
    Spanset(SpansetExpr),
    /// Keeps a spanset when `aggregate op value` holds (`count() > 2`, `avg(duration) >= 1s`).
    ScalarFilter { aggregate: Aggregate, op: ComparisonOp, value: Static },
    /// `by(field)`: splits each spanset into one spanset per distinct value of `field`.
    GroupBy(FieldExpr),
    /// `select(a, b)`: attributes to report with the resulting spans; changes no spanset.
    Select(Vec<FieldExpr>),
    /// `coalesce()`: merges all spansets of the trace into one.
    Coalesce,
}

/// Spanset filters combined by spanset operators.
#[derive(Clone, Debug)]
pub enum SpansetExpr {
    /// `{ cond }`; `None` for `{}` (every span).
    Filter(Option<FieldExpr>),
    /// `lhs op rhs`, both evaluated over the same input spanset.
    Operation { op: SpansetOp, lhs: Box<SpansetExpr>, rhs: Box<SpansetExpr> },
    /// A parenthesised pipeline used as an operand: `({…} | count() > 1) && {…}`.
    Pipeline(Box<Pipeline>),
}

/// Operators between spansets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpansetOp {
    /// `&&`: both sides matched; the result is the union of their spans.
    And,
    /// `||`: either side matched; the result is the union of their spans.
    Or,
    /// A structural operator (`>`, `>>`, `<`, `<<`, `~` and their `!`/`&` forms).
    Structural(Relation, StructuralMode),
}

/// How a right-hand span relates to a left-hand span in a structural operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `>`: the right span is a direct child of a left span.
    Child,
    /// `<`: the right span is the direct parent of a left span.
    Parent,
    /// `>>`: the right span is a descendant of a left span.
    Descendant,
    /// `<<`: the right span is an ancestor of a left span.
    Ancestor,
    /// `~`: the right span shares its parent with a different left span.
    Sibling,
}

impl Relation {
    /// The relation seen from the other side (`a > b` ⇔ `b < a`).
    pub fn inverse(self) -> Relation {
        match self {
            Relation::Child => Relation::Parent,
            Relation::Parent => Relation::Child,
            Relation::Descendant => Relation::Ancestor,
            Relation::Ancestor => Relation::Descendant,
            Relation::Sibling => Relation::Sibling,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Relation::Child => ">",
            Relation::Parent => "<",
            Relation::Descendant => ">>",
            Relation::Ancestor => "<<",
            Relation::Sibling => "~",
        }
    }
}

/// Which spans a structural operator returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructuralMode {
    /// Right-hand spans in the relation (`>`).
    Related,
    /// Right-hand spans in the relation with no left-hand span (`!>`, Tempo's experimental form).
    NotRelated,
    /// Right-hand spans in the relation and the left-hand spans they relate to (`&>`).
    Union,
}

/// `count()`, `avg(f)`, `min(f)`, `max(f)`, `sum(f)` over the spans of a spanset.
#[derive(Clone, Debug)]
pub struct Aggregate {
    pub kind: AggregateKind,
    /// `None` only for `count()`.
    pub field: Option<FieldExpr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateKind {
    Count,
    Avg,
    Min,
    Max,
    Sum,
}

/// A comparison in a scalar filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComparisonOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl ComparisonOp {
    /// The comparison with its operands swapped (`2 < count()` ⇔ `count() > 2`).
    pub fn flipped(self) -> ComparisonOp {
        match self {
            ComparisonOp::Lt => ComparisonOp::Gt,
            ComparisonOp::Le => ComparisonOp::Ge,
            ComparisonOp::Gt => ComparisonOp::Lt,
            ComparisonOp::Ge => ComparisonOp::Le,
            other => other,
        }
    }

    pub fn as_binary(self) -> BinaryOp {
        match self {
            ComparisonOp::Eq => BinaryOp::Eq,
            ComparisonOp::Ne => BinaryOp::Ne,
            ComparisonOp::Lt => BinaryOp::Lt,
            ComparisonOp::Le => BinaryOp::Le,
            ComparisonOp::Gt => BinaryOp::Gt,
            ComparisonOp::Ge => BinaryOp::Ge,
        }
    }
}

/// An expression evaluated on one span.
#[derive(Clone, Debug)]
pub enum FieldExpr {
    Static(Static),
    Attribute(Attribute),
    Intrinsic(Intrinsic),
    /// A comparison or arithmetic (never `&&`/`||`: those are [`FieldExpr::Logical`]).
    Binary {
        op: BinaryOp,
        lhs: Box<FieldExpr>,
        rhs: Box<FieldExpr>,
    },
    /// `a && b && …` (`op` is [`BinaryOp::And`]) or `a || b || …` ([`BinaryOp::Or`]), at least two
    /// operands. Chains of one operator are flat, so a long `||` list does not nest.
    Logical {
        op: BinaryOp,
        operands: Vec<FieldExpr>,
    },
    /// `!x`: true when `x` is `false` (anything but a boolean gives false).
    Not(Box<FieldExpr>),
    /// `-x` of a numeric expression that is not a literal (literals are folded when parsed).
    Negate(Box<FieldExpr>),
    /// `x != nil` (`negated: false`) and `x = nil` (`negated: true`): whether `x` has a value.
    Exists {
        operand: Box<FieldExpr>,
        negated: bool,
    },
    /// `x =~ "re"` / `x !~ "re"`: `regex` is `pattern` anchored at both ends, compiled once.
    Regex {
        operand: Box<FieldExpr>,
        pattern: String,
        regex: Regex,
        negated: bool,
    },
}

/// Binary operators of field expressions (`=~`/`!~` are [`FieldExpr::Regex`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
        }
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge)
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(self, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Pow)
    }
}

/// A literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Static {
    Nil,
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nanoseconds (may be negative: `-5s`).
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
}

/// Where an attribute is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeScope {
    /// `.x`: the span attribute, else the resource attribute.
    Unscoped,
    Span,
    Resource,
    /// `event.x`: any event of the span.
    Event,
    /// `link.x`: any link of the span.
    Link,
    /// `instrumentation.x`: the instrumentation scope's attributes.
    Instrumentation,
}

impl AttributeScope {
    fn prefix(self) -> &'static str {
        match self {
            AttributeScope::Unscoped => ".",
            AttributeScope::Span => "span.",
            AttributeScope::Resource => "resource.",
            AttributeScope::Event => "event.",
            AttributeScope::Link => "link.",
            AttributeScope::Instrumentation => "instrumentation.",
        }
    }
}

/// A custom attribute reference such as `resource.service.name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub scope: AttributeScope,
    /// The key as stored (quoted parts already unquoted).
    pub name: String,
}

/// Fields every span (or its trace) has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intrinsic {
    /// `name`, `span:name`.
    Name,
    /// `status`, `span:status`.
    Status,
    /// `statusMessage`, `span:statusMessage`.
    StatusMessage,
    /// `kind`, `span:kind`.
    Kind,
    /// `duration`, `span:duration`: end − start of the span.
    Duration,
    /// `childCount`, `span:childCount`: direct children present in the trace.
    ChildCount,
    /// `nestedSetLeft`: the span's number on entering it in a depth-first walk of the trace tree
    /// (roots and children by start time, numbering from 1).
    NestedSetLeft,
    /// `nestedSetRight`: the number on leaving it; descendants lie strictly between left and right.
    NestedSetRight,
    /// `nestedSetParent`: the parent's `nestedSetLeft`; -1 for a root span (Grafana asks
    /// `nestedSetParent < 0` for root spans), 0 when the parent is not in the trace.
    NestedSetParent,
    /// `span:id` (16 hex digits).
    SpanId,
    /// `span:parentID` (16 hex digits; nil for a root span).
    ParentId,
    /// `rootName`, `trace:rootName`.
    RootName,
    /// `rootServiceName`, `trace:rootService`.
    RootService,
    /// `traceDuration`, `trace:duration`: latest end − earliest start over the trace.
    TraceDuration,
    /// `trace:id` (32 hex digits).
    TraceId,
    /// `event:name`.
    EventName,
    /// `event:timeSinceStart`: event time − span start.
    EventTimeSinceStart,
    /// `link:spanID`.
    LinkSpanId,
    /// `link:traceID`.
    LinkTraceId,
    /// `instrumentation:name`.
    InstrumentationName,
    /// `instrumentation:version`.
    InstrumentationVersion,
}

impl Intrinsic {
    /// The unscoped keyword (`name`, `duration`…), when the intrinsic has one.
    pub fn from_keyword(word: &str) -> Option<Intrinsic> {
        Some(match word {
            "name" => Intrinsic::Name,
            "status" => Intrinsic::Status,
            "statusMessage" => Intrinsic::StatusMessage,
            "kind" => Intrinsic::Kind,
            "duration" => Intrinsic::Duration,
            "childCount" => Intrinsic::ChildCount,
            "nestedSetLeft" => Intrinsic::NestedSetLeft,
            "nestedSetRight" => Intrinsic::NestedSetRight,
            "nestedSetParent" => Intrinsic::NestedSetParent,
            "rootName" => Intrinsic::RootName,
            "rootServiceName" => Intrinsic::RootService,
            "traceDuration" => Intrinsic::TraceDuration,
            _ => return None,
        })
    }

    /// The `scope:name` form (`span:duration`, `trace:rootService`…).
    pub fn from_scoped(scope: &str, name: &str) -> Option<Intrinsic> {
        Some(match (scope, name) {
            ("span", "name") => Intrinsic::Name,
            ("span", "status") => Intrinsic::Status,
            ("span", "statusMessage") => Intrinsic::StatusMessage,
            ("span", "kind") => Intrinsic::Kind,
            ("span", "duration") => Intrinsic::Duration,
            ("span", "childCount") => Intrinsic::ChildCount,
            ("span", "id") => Intrinsic::SpanId,
            ("span", "parentID") => Intrinsic::ParentId,
            ("trace", "rootName") => Intrinsic::RootName,
            ("trace", "rootService") => Intrinsic::RootService,
            ("trace", "duration") => Intrinsic::TraceDuration,
            ("trace", "id") => Intrinsic::TraceId,
            ("event", "name") => Intrinsic::EventName,
            ("event", "timeSinceStart") => Intrinsic::EventTimeSinceStart,
            ("link", "spanID") => Intrinsic::LinkSpanId,
            ("link", "traceID") => Intrinsic::LinkTraceId,
            ("instrumentation", "name") => Intrinsic::InstrumentationName,
            ("instrumentation", "version") => Intrinsic::InstrumentationVersion,
            _ => return None,
        })
    }

    /// The canonical spelling: the unscoped keyword where there is one.
    pub fn as_str(self) -> &'static str {
        match self {
            Intrinsic::Name => "name",
            Intrinsic::Status => "status",
            Intrinsic::StatusMessage => "statusMessage",
            Intrinsic::Kind => "kind",
            Intrinsic::Duration => "duration",
            Intrinsic::ChildCount => "childCount",
            Intrinsic::NestedSetLeft => "nestedSetLeft",
            Intrinsic::NestedSetRight => "nestedSetRight",
            Intrinsic::NestedSetParent => "nestedSetParent",
            Intrinsic::SpanId => "span:id",
            Intrinsic::ParentId => "span:parentID",
            Intrinsic::RootName => "rootName",
            Intrinsic::RootService => "rootServiceName",
            Intrinsic::TraceDuration => "traceDuration",
            Intrinsic::TraceId => "trace:id",
            Intrinsic::EventName => "event:name",
            Intrinsic::EventTimeSinceStart => "event:timeSinceStart",
            Intrinsic::LinkSpanId => "link:spanID",
            Intrinsic::LinkTraceId => "link:traceID",
            Intrinsic::InstrumentationName => "instrumentation:name",
            Intrinsic::InstrumentationVersion => "instrumentation:version",
        }
    }
}

/// Whether `c` may appear unquoted in an attribute name (Tempo's rule: anything but whitespace and
/// `{}()=~!<>&|^,`).
pub fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(c, '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ',' | '"')
}

/// `d` as Go prints a `time.Duration` (`1.5s`, `100ms`, `1h2m0s`, `0s`) — how Tempo renders
/// durations in text.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let negative = nanos < 0;
    let abs = nanos.unsigned_abs();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if abs < 1_000_000_000 {
        let (unit, scale) = if abs < 1_000 {
            ("ns", 1)
        } else if abs < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&format_fraction(abs, scale));
        out.push_str(unit);
        return out;
    }
    let hours = abs / 3_600_000_000_000;
    let minutes = abs / 60_000_000_000 % 60;
    let rest = abs % 60_000_000_000;
    if hours > 0 {
        out.push_str(&format!("{hours}h{minutes}m"));
    } else if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format_fraction(rest, 1_000_000_000));
    out.push('s');
    out
}

/// `value / scale` in decimal without trailing zeros (`1500, 1000` → `1.5`).
fn format_fraction(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Static {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Static::Nil => f.write_str("nil"),
            Static::String(s) => write_quoted(f, s),
            // `-9223372036854775808` would not lex back (the literal is negated after lexing).
            Static::Int(i64::MIN) => f.write_str("minInt"),
            Static::Int(i) => write!(f, "{i}"),
            Static::Float(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 => write!(f, "{x:.1}"),
            Static::Float(x) => write!(f, "{x}"),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Duration(d) => f.write_str(&format_go_duration(*d)),
            Static::Status(s) => f.write_str(s.as_str()),
            Static::Kind(k) => f.write_str(k.as_str()),
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scope.prefix())?;
        if !self.name.is_empty() && self.name.chars().all(is_attribute_char) {
            f.write_str(&self.name)
        } else {
            write_quoted(f, &self.name)
        }
    }
}

impl fmt::Display for FieldExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldExpr::Static(s) => write!(f, "{s}"),
            FieldExpr::Attribute(a) => write!(f, "{a}"),
            FieldExpr::Intrinsic(i) => f.write_str(i.as_str()),
            FieldExpr::Binary { op, lhs, rhs } => {
                write_operand(f, lhs)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, rhs)
            }
            FieldExpr::Logical { op, operands } => {
                for (i, operand) in operands.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {} ", op.symbol())?;
                    }
                    write_operand(f, operand)?;
                }
                Ok(())
            }
            FieldExpr::Not(x) => {
                f.write_str("!")?;
                write_operand(f, x)
            }
            FieldExpr::Negate(x) => {
                f.write_str("-")?;
                write_operand(f, x)
            }
            FieldExpr::Exists { operand, negated } => {
                write_operand(f, operand)?;
                f.write_str(if *negated { " = nil" } else { " != nil" })
            }
            FieldExpr::Regex { operand, pattern, negated, .. } => {
                write_operand(f, operand)?;
                f.write_str(if *negated { " !~ " } else { " =~ " })?;
                write_quoted(f, pattern)
            }
        }
    }
}

/// Nested operations print in parentheses, so the text shows how the query was grouped.
fn write_operand(f: &mut fmt::Formatter<'_>, expr: &FieldExpr) -> fmt::Result {
    match expr {
        FieldExpr::Binary { .. } | FieldExpr::Logical { .. } | FieldExpr::Exists { .. } | FieldExpr::Regex { .. } => {
            write!(f, "({expr})")
        }
        _ => write!(f, "{expr}"),
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            AggregateKind::Count => "count",
            AggregateKind::Avg => "avg",
            AggregateKind::Min => "min",
            AggregateKind::Max => "max",
            AggregateKind::Sum => "sum",
        };
        match &self.field {
            Some(field) => write!(f, "{name}({field})"),
            None => write!(f, "{name}()"),
        }
    }
}

impl fmt::Display for SpansetExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(None) => f.write_str("{ }"),
            SpansetExpr::Filter(Some(cond)) => write!(f, "{{ {cond} }}"),
            SpansetExpr::Operation { op, lhs, rhs } => {
                let symbol = match op {
                    SpansetOp::And => "&&".to_string(),
                    SpansetOp::Or => "||".to_string(),
                    SpansetOp::Structural(relation, StructuralMode::Related) => relation.symbol().to_string(),
                    SpansetOp::Structural(relation, StructuralMode::NotRelated) => format!("!{}", relation.symbol()),
                    SpansetOp::Structural(relation, StructuralMode::Union) => format!("&{}", relation.symbol()),
                };
                write_spanset_operand(f, lhs)?;
                write!(f, " {symbol} ")?;
                write_spanset_operand(f, rhs)
            }
            SpansetExpr::Pipeline(p) => write!(f, "({p})"),
        }
    }
}

fn write_spanset_operand(f: &mut fmt::Formatter<'_>, expr: &SpansetExpr) -> fmt::Result {
    match expr {
        SpansetExpr::Operation { .. } => write!(f, "({expr})"),
        _ => write!(f, "{expr}"),
    }
}

impl fmt::Display for PipelineElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineElement::Spanset(e) => write!(f, "{e}"),
            PipelineElement::ScalarFilter { aggregate, op, value } => {
                write!(f, "{aggregate} {} {value}", op.as_binary().symbol())
            }
            PipelineElement::GroupBy(field) => write!(f, "by({field})"),
            PipelineElement::Select(fields) => {
                f.write_str("select(")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{field}")?;
                }
                f.write_str(")")
            }
            PipelineElement::Coalesce => f.write_str("coalesce()"),
        }
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, element) in self.elements.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

// Pharos — query/src/traces/traceql/ast.rs
