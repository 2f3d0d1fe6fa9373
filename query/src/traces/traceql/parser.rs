//! Tokens → [`Pipeline`], with Tempo's grammar and static type rules.
//!
//! Precedence, lowest first (as Tempo's yacc grammar): `|`; spanset `&&`/`||` (one level,
//! left-associative); structural operators; inside `{…}`: `&&`/`||` (one level, so
//! `a || b && c` is `(a || b) && c`), comparisons, `+ -`, prefix `!`, `* / %`, `^` (right).
//!
//! Type rules checked here, so evaluation never sees them broken: operands of a comparison are of
//! one type, or both numeric (int, float, duration), or one is an attribute (typed per span) or
//! `nil`; `&&`/`||`/`!` take booleans, and a bare attribute there means `attr = true`; ordering
//! takes numbers or strings, regex matching strings with a literal pattern; a filter is boolean.
//! `x = nil` / `x != nil` become existence tests.

use pharos_storage::traces::{SpanKind, StatusCode};
use regex::Regex;

use super::ParseError;
use super::ast::{
    Aggregate, AggregateKind, Attribute, BinaryOp, ComparisonOp, FieldExpr, Intrinsic, Pipeline, PipelineElement,
    Relation, SpansetExpr, SpansetOp, Static, StructuralMode,
};
use super::lexer::{Tok, Token, tokenize};

/// Parses a whole query.
pub fn parse_pipeline(input: &str) -> Result<Pipeline, ParseError> {
    let tokens = tokenize(input)?;
    let mut parser = Parser { input, tokens, index: 0, nesting: 0 };
    let pipeline = parser.pipeline()?;
    parser.query_hints()?;
    if parser.peek() != &Tok::Eof {
        return Err(parser.unexpected("\"|\", a spanset operator or the end of the query"));
    }
    Ok(pipeline)
}

/// The static type of a field expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    /// An attribute: its type is known only per span.
    Attribute,
    Nil,
    String,
    Int,
    Float,
    Bool,
    Duration,
    Status,
    Kind,
}

impl Type {
    fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Duration)
    }

    fn name(self) -> &'static str {
        match self {
            Type::Attribute => "attribute",
            Type::Nil => "nil",
            Type::String => "string",
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "boolean",
            Type::Duration => "duration",
            Type::Status => "status",
            Type::Kind => "kind",
        }
    }

    fn of_static(value: &Static) -> Type {
        match value {
            Static::Nil => Type::Nil,
            Static::String(_) => Type::String,
            Static::Int(_) => Type::Int,
            Static::Float(_) => Type::Float,
            Static::Bool(_) => Type::Bool,
            Static::Duration(_) => Type::Duration,
            Static::Status(_) => Type::Status,
            Static::Kind(_) => Type::Kind,
        }
    }

    fn of_intrinsic(intrinsic: Intrinsic) -> Type {
        match intrinsic {
            Intrinsic::Status => Type::Status,
            Intrinsic::Kind => Type::Kind,
            Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => Type::Duration,
            Intrinsic::ChildCount
            | Intrinsic::NestedSetLeft
            | Intrinsic::NestedSetRight
            | Intrinsic::NestedSetParent => Type::Int,
            Intrinsic::Name
            | Intrinsic::StatusMessage
            | Intrinsic::SpanId
            | Intrinsic::ParentId
            | Intrinsic::RootName
            | Intrinsic::RootService
            | Intrinsic::TraceId
            | Intrinsic::EventName
            | Intrinsic::LinkSpanId
            | Intrinsic::LinkTraceId
            | Intrinsic::InstrumentationName
            | Intrinsic::InstrumentationVersion => Type::String,
        }
    }
}

/// A field expression with its static type and where it starts.
struct Typed {
    expr: FieldExpr,
    ty: Type,
    pos: usize,
    /// Height of the expression tree (1 for a leaf): evaluation recurses this deep.
    depth: usize,
}

impl Typed {
    /// In a boolean position a bare attribute means `attr = true` (Tempo's rule; intrinsics are not
    /// treated so).
    fn into_condition(self) -> Typed {
        match self.expr {
            FieldExpr::Attribute(_) => Typed {
                expr: FieldExpr::Binary {
                    op: BinaryOp::Eq,
                    lhs: Box::new(self.expr),
                    rhs: Box::new(FieldExpr::Static(Static::Bool(true))),
                },
                ty: Type::Bool,
                pos: self.pos,
                depth: self.depth + 1,
            },
            _ => self,
        }
    }
}

const METRICS_FUNCTIONS: &[&str] = &[
    "rate",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "avg_over_time",
    "sum_over_time",
    "quantile_over_time",
    "histogram_over_time",
    "compare",
    "topk",
    "bottomk",
];

/// How deep parsing may recurse (parentheses, `!`, right-associative chains) and how tall an
/// expression tree may grow: evaluation recurses as deep, and a query must not overflow the stack.
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    index: usize,
    /// Current recursion depth of the parsing functions.
    nesting: usize,
}

impl<'a> Parser<'a> {
    fn token(&self) -> &Token {
        // The lexer always ends the list with Eof, and `advance` never moves past it.
        &self.tokens[self.index.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.token().tok
    }

    fn pos(&self) -> usize {
        self.token().pos
    }

    fn advance(&mut self) -> Token {
        let token = self.token().clone();
        if token.tok != Tok::Eof {
            self.index += 1;
        }
        token
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, expecting: &str) -> Result<(), ParseError> {
        if self.eat(tok) { Ok(()) } else { Err(self.unexpected(expecting)) }
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.input, pos, message)
    }

    fn unexpected(&self, expecting: &str) -> ParseError {
        let message = format!("syntax error: unexpected {}, expecting {expecting}", self.peek().describe());
        self.error(self.pos(), message)
    }

    /// Runs `parse` one recursion level deeper, refusing queries nested beyond [`MAX_DEPTH`].
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.nesting >= MAX_DEPTH {
            return Err(self.error(self.pos(), "the query is nested too deeply"));
        }
        self.nesting += 1;
        let result = parse(self);
        self.nesting -= 1;
        result
    }

    /// Refuses expression trees taller than [`MAX_DEPTH`].
    fn within_depth(&self, typed: Typed) -> Result<Typed, ParseError> {
        if typed.depth > MAX_DEPTH {
            return Err(self.error(typed.pos, "the expression is nested too deeply"));
        }
        Ok(typed)
    }

    fn ident_is(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    // ---- pipelines and spansets ----

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        self.nested(|p| {
            let mut elements = vec![p.element()?];
            while p.eat(&Tok::Pipe) {
                elements.push(p.element()?);
            }
            Ok(Pipeline { elements })
        })
    }

    fn element(&mut self) -> Result<PipelineElement, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::LBrace | Tok::LParen => Ok(PipelineElement::Spanset(self.spanset_expr(0)?)),
            Tok::Int(_) | Tok::Float(_) | Tok::Duration(_) | Tok::Sub => {
                // `2 < count()`: the literal first.
                let value = self.number_literal()?;
                let op = self.comparison_op()?;
                let aggregate = self.aggregate()?;
                Ok(PipelineElement::ScalarFilter { aggregate, op: op.flipped(), value })
            }
            Tok::Ident(word) => match word.as_str() {
                "count" | "avg" | "min" | "max" | "sum" => {
                    let aggregate = self.aggregate()?;
                    let op = self.comparison_op()?;
                    let value = self.number_literal()?;
                    Ok(PipelineElement::ScalarFilter { aggregate, op, value })
                }
                "by" => {
                    self.advance();
                    self.expect(&Tok::LParen, "\"(\"")?;
                    let field = self.field_expr(0)?;
                    self.expect(&Tok::RParen, "\")\"")?;
                    Ok(PipelineElement::GroupBy(field.expr))
                }
                "select" => {
                    self.advance();
                    self.expect(&Tok::LParen, "\"(\"")?;
                    let mut fields = Vec::new();
                    loop {
                        let field = self.field_expr(0)?;
                        if !matches!(field.expr, FieldExpr::Attribute(_) | FieldExpr::Intrinsic(_)) {
                            return Err(self.error(field.pos, "select() takes attributes and intrinsics"));
                        }
                        fields.push(field.expr);
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                    self.expect(&Tok::RParen, "\",\" or \")\"")?;
                    Ok(PipelineElement::Select(fields))
                }
                "coalesce" => {
                    self.advance();
                    self.expect(&Tok::LParen, "\"(\"")?;
                    self.expect(&Tok::RParen, "\")\"")?;
                    Ok(PipelineElement::Coalesce)
                }
                word if METRICS_FUNCTIONS.contains(&word) => {
                    Err(self.error(pos, format!("TraceQL metrics queries are not supported ({word})")))
                }
                _ => Err(self.unexpected("a spanset filter \"{\", an aggregate, by(), select() or coalesce()")),
            },
            _ => Err(self.unexpected("a spanset filter \"{\", an aggregate, by(), select() or coalesce()")),
        }
    }

    /// Spanset operators by precedence climbing: `&&`/`||` bind looser than structural ones.
    fn spanset_expr(&mut self, min_precedence: u8) -> Result<SpansetExpr, ParseError> {
        self.spanset_chain(min_precedence).map(|(expr, _)| expr)
    }

    /// A spanset expression and the height of its operator tree.
    fn spanset_chain(&mut self, min_precedence: u8) -> Result<(SpansetExpr, usize), ParseError> {
        self.nested(|p| {
            let start = p.pos();
            let (mut lhs, mut depth) = (p.spanset_primary()?, 1);
            while let Some((op, precedence)) = spanset_operator(p.peek()) {
                if precedence < min_precedence {
                    break;
                }
                p.advance();
                let (rhs, rhs_depth) = p.spanset_chain(precedence + 1)?;
                lhs = SpansetExpr::Operation { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
                depth = depth.max(rhs_depth) + 1;
                if depth > MAX_DEPTH {
                    return Err(p.error(start, "the spanset expression is nested too deeply"));
                }
            }
            Ok((lhs, depth))
        })
    }

    fn spanset_primary(&mut self) -> Result<SpansetExpr, ParseError> {
        match self.peek() {
            Tok::LBrace => {
                self.advance();
                if self.eat(&Tok::RBrace) {
                    return Ok(SpansetExpr::Filter(None));
                }
                let condition = self.field_expr(0)?.into_condition();
                if condition.ty != Type::Bool {
                    let message =
                        format!("a spanset filter must be a boolean expression, found {}", condition.ty.name());
                    return Err(self.error(condition.pos, message));
                }
                self.expect(&Tok::RBrace, "\"}\" or an operator")?;
                Ok(SpansetExpr::Filter(Some(condition.expr)))
            }
            Tok::LParen => {
                self.advance();
                let mut pipeline = self.pipeline()?;
                self.expect(&Tok::RParen, "\")\", \"|\" or a spanset operator")?;
                if pipeline.elements.len() == 1
                    && matches!(pipeline.elements[0], PipelineElement::Spanset(_))
                    && let Some(PipelineElement::Spanset(inner)) = pipeline.elements.pop()
                {
                    return Ok(inner);
                }
                Ok(SpansetExpr::Pipeline(Box::new(pipeline)))
            }
            _ => Err(self.unexpected("a spanset filter \"{\" or \"(\"")),
        }
    }

    /// Tempo's `with (key = value, …)` query hints: accepted and ignored.
    fn query_hints(&mut self) -> Result<(), ParseError> {
        if !self.ident_is("with") {
            return Ok(());
        }
        self.advance();
        self.expect(&Tok::LParen, "\"(\"")?;
        loop {
            if !matches!(self.peek(), Tok::Ident(_)) {
                return Err(self.unexpected("a hint name"));
            }
            self.advance();
            self.expect(&Tok::Eq, "\"=\"")?;
            match self.peek() {
                Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::Duration(_) => {
                    self.advance();
                }
                Tok::Ident(w) if w == "true" || w == "false" => {
                    self.advance();
                }
                _ => return Err(self.unexpected("a hint value")),
            }
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen, "\",\" or \")\"")
    }

    // ---- scalar filters ----

    fn aggregate(&mut self) -> Result<Aggregate, ParseError> {
        let kind = match self.peek() {
            Tok::Ident(w) if w == "count" => AggregateKind::Count,
            Tok::Ident(w) if w == "avg" => AggregateKind::Avg,
            Tok::Ident(w) if w == "min" => AggregateKind::Min,
            Tok::Ident(w) if w == "max" => AggregateKind::Max,
            Tok::Ident(w) if w == "sum" => AggregateKind::Sum,
            _ => return Err(self.unexpected("an aggregate (count, avg, min, max, sum)")),
        };
        self.advance();
        self.expect(&Tok::LParen, "\"(\"")?;
        if kind == AggregateKind::Count {
            self.expect(&Tok::RParen, "\")\"")?;
            return Ok(Aggregate { kind, field: None });
        }
        let field = self.field_expr(0)?;
        if !(field.ty.is_numeric() || field.ty == Type::Attribute) {
            let message = format!("aggregates take a numeric field, found {}", field.ty.name());
            return Err(self.error(field.pos, message));
        }
        self.expect(&Tok::RParen, "\")\"")?;
        Ok(Aggregate { kind, field: Some(field.expr) })
    }

    fn comparison_op(&mut self) -> Result<ComparisonOp, ParseError> {
        let op = match self.peek() {
            Tok::Eq => ComparisonOp::Eq,
            Tok::Ne => ComparisonOp::Ne,
            Tok::Lt => ComparisonOp::Lt,
            Tok::Le => ComparisonOp::Le,
            Tok::Gt => ComparisonOp::Gt,
            Tok::Ge => ComparisonOp::Ge,
            _ => return Err(self.unexpected("a comparison (=, !=, <, <=, >, >=)")),
        };
        self.advance();
        Ok(op)
    }

    /// An int, float or duration literal, optionally negative.
    fn number_literal(&mut self) -> Result<Static, ParseError> {
        let negative = self.eat(&Tok::Sub);
        let value = match self.peek() {
            Tok::Int(i) => Static::Int(*i),
            Tok::Float(x) => Static::Float(*x),
            Tok::Duration(d) => Static::Duration(*d),
            _ => return Err(self.unexpected("a number or a duration")),
        };
        self.advance();
        Ok(if negative { negate_static(&value).unwrap_or(value) } else { value })
    }

    // ---- field expressions ----

    fn field_expr(&mut self, min_precedence: u8) -> Result<Typed, ParseError> {
        self.nested(|p| {
            let mut lhs = p.field_unary()?;
            while let Some((precedence, right_assoc)) = field_operator_precedence(p.peek()) {
                if precedence < min_precedence {
                    break;
                }
                let operator = p.advance();
                let rhs = p.field_expr(if right_assoc { precedence } else { precedence + 1 })?;
                let combined = match operator.tok {
                    Tok::Re | Tok::Nre => p.regex(lhs, rhs, operator.tok == Tok::Nre)?,
                    tok => {
                        let op = binary_op(&tok).ok_or_else(|| p.error(operator.pos, "unknown operator"))?;
                        p.binary(op, lhs, rhs, operator.pos)?
                    }
                };
                lhs = p.within_depth(combined)?;
            }
            Ok(lhs)
        })
    }

    fn field_unary(&mut self) -> Result<Typed, ParseError> {
        let token = self.token().clone();
        let pos = token.pos;
        let typed = |expr: FieldExpr, ty: Type| Ok(Typed { expr, ty, pos, depth: 1 });
        match token.tok {
            Tok::Not => {
                self.advance();
                let operand = self.field_expr(NOT_OPERAND_PRECEDENCE)?;
                if !matches!(operand.ty, Type::Bool | Type::Attribute) {
                    let message = format!("\"!\" takes a boolean, found {}", operand.ty.name());
                    return Err(self.error(operand.pos, message));
                }
                let depth = operand.depth + 1;
                self.within_depth(Typed { expr: FieldExpr::Not(Box::new(operand.expr)), ty: Type::Bool, pos, depth })
            }
            Tok::Sub => {
                self.advance();
                let operand = self.field_expr(NEGATE_OPERAND_PRECEDENCE)?;
                if !(operand.ty.is_numeric() || operand.ty == Type::Attribute) {
                    let message = format!("\"-\" takes a number, found {}", operand.ty.name());
                    return Err(self.error(operand.pos, message));
                }
                if let FieldExpr::Static(value) = &operand.expr {
                    if let Some(negated) = negate_static(value) {
                        return typed(FieldExpr::Static(negated), operand.ty);
                    }
                    return Err(self.error(operand.pos, "integer is out of range"));
                }
                let (ty, depth) = (operand.ty, operand.depth + 1);
                self.within_depth(Typed { expr: FieldExpr::Negate(Box::new(operand.expr)), ty, pos, depth })
            }
            Tok::LParen => {
                self.advance();
                let inner = self.field_expr(0)?;
                self.expect(&Tok::RParen, "\")\" or an operator")?;
                Ok(Typed { pos, ..inner })
            }
            Tok::Str(s) => {
                self.advance();
                typed(FieldExpr::Static(Static::String(s)), Type::String)
            }
            Tok::Int(i) => {
                self.advance();
                typed(FieldExpr::Static(Static::Int(i)), Type::Int)
            }
            Tok::Float(x) => {
                self.advance();
                typed(FieldExpr::Static(Static::Float(x)), Type::Float)
            }
            Tok::Duration(d) => {
                self.advance();
                typed(FieldExpr::Static(Static::Duration(d)), Type::Duration)
            }
            Tok::Attribute { scope, name } => {
                self.advance();
                typed(FieldExpr::Attribute(Attribute { scope, name }), Type::Attribute)
            }
            Tok::ParentAttribute => Err(self.error(pos, "the parent scope is not supported")),
            Tok::ScopedIntrinsic { scope, name } => match Intrinsic::from_scoped(&scope, &name) {
                Some(intrinsic) => {
                    self.advance();
                    typed(FieldExpr::Intrinsic(intrinsic), Type::of_intrinsic(intrinsic))
                }
                None => Err(self.error(pos, format!("unknown or unsupported intrinsic {scope}:{name}"))),
            },
            Tok::Ident(word) => {
                if let Some(value) = keyword_static(&word) {
                    self.advance();
                    let ty = Type::of_static(&value);
                    return typed(FieldExpr::Static(value), ty);
                }
                if let Some(intrinsic) = Intrinsic::from_keyword(&word) {
                    self.advance();
                    return typed(FieldExpr::Intrinsic(intrinsic), Type::of_intrinsic(intrinsic));
                }
                if word == "parent" {
                    return Err(self.error(pos, format!("the intrinsic {word} is not supported")));
                }
                Err(self.unexpected("a field expression"))
            }
            _ => Err(self.unexpected("a field expression")),
        }
    }

    /// Type-checks and builds `lhs op rhs`.
    fn binary(&self, op: BinaryOp, lhs: Typed, rhs: Typed, op_pos: usize) -> Result<Typed, ParseError> {
        let start = lhs.pos;
        if op.is_logical() {
            let (lhs, rhs) = (lhs.into_condition(), rhs.into_condition());
            for operand in [&lhs, &rhs] {
                if operand.ty != Type::Bool {
                    let message = format!("\"{}\" takes booleans, found {}", op.symbol(), operand.ty.name());
                    return Err(self.error(operand.pos, message));
                }
            }
            // Flatten chains of one operator: `a || b || c` is one node with three operands.
            let mut depth = 0;
            let mut operands = Vec::new();
            for operand in [lhs, rhs] {
                match operand.expr {
                    FieldExpr::Logical { op: inner, operands: inner_operands } if inner == op => {
                        depth = depth.max(operand.depth);
                        operands.extend(inner_operands);
                    }
                    expr => {
                        depth = depth.max(operand.depth + 1);
                        operands.push(expr);
                    }
                }
            }
            let expr = FieldExpr::Logical { op, operands };
            return Ok(Typed { expr, ty: Type::Bool, pos: start, depth });
        }
        let (lt, rt) = (lhs.ty, rhs.ty);
        let depth = lhs.depth.max(rhs.depth) + 1;
        let matching = lt == rt
            || lt == Type::Attribute
            || rt == Type::Attribute
            || (lt.is_numeric() && rt.is_numeric())
            || lt == Type::Nil
            || rt == Type::Nil;
        if !matching {
            let message = format!(
                "invalid binary operation: {} {} {} (cannot compare {} with {})",
                lhs.expr,
                op.symbol(),
                rhs.expr,
                lt.name(),
                rt.name()
            );
            return Err(self.error(op_pos, message));
        }
        if op.is_comparison() {
            if matches!(op, BinaryOp::Eq | BinaryOp::Ne) && (lt == Type::Nil || rt == Type::Nil) {
                let negated = op == BinaryOp::Eq;
                let expr = match (lhs.expr, rhs.expr) {
                    (FieldExpr::Static(Static::Nil), FieldExpr::Static(Static::Nil)) => {
                        FieldExpr::Static(Static::Bool(negated))
                    }
                    (FieldExpr::Static(Static::Nil), operand) | (operand, FieldExpr::Static(Static::Nil)) => {
                        FieldExpr::Exists { operand: Box::new(operand), negated }
                    }
                    // A nil-typed operand is always the literal; both arms above cover it.
                    (lhs, rhs) => FieldExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) },
                };
                return Ok(Typed { expr, ty: Type::Bool, pos: start, depth });
            }
            let orderable = |t: Type| matches!(t, Type::Attribute | Type::Nil | Type::String) || t.is_numeric();
            let is_ordering = !matches!(op, BinaryOp::Eq | BinaryOp::Ne);
            if is_ordering && !(orderable(lt) && orderable(rt)) {
                let found = if orderable(lt) { rt } else { lt };
                let message = format!("\"{}\" cannot order values of type {}", op.symbol(), found.name());
                return Err(self.error(op_pos, message));
            }
            let expr = FieldExpr::Binary { op, lhs: Box::new(lhs.expr), rhs: Box::new(rhs.expr) };
            return Ok(Typed { expr, ty: Type::Bool, pos: start, depth });
        }
        // Arithmetic.
        for operand in [&lhs, &rhs] {
            if !(operand.ty.is_numeric() || operand.ty == Type::Attribute) {
                let message = format!("\"{}\" takes numbers, found {}", op.symbol(), operand.ty.name());
                return Err(self.error(operand.pos, message));
            }
        }
        let ty = match (lt, rt) {
            (Type::Attribute, _) | (_, Type::Attribute) => Type::Attribute,
            (Type::Int, Type::Int) => Type::Int,
            (Type::Duration, Type::Duration) if matches!(op, BinaryOp::Add | BinaryOp::Sub) => Type::Duration,
            _ => Type::Float,
        };
        let expr = FieldExpr::Binary { op, lhs: Box::new(lhs.expr), rhs: Box::new(rhs.expr) };
        Ok(Typed { expr, ty, pos: start, depth })
    }

    /// `lhs =~ "pattern"`: the pattern must be a string literal; it is anchored at both ends.
    fn regex(&self, lhs: Typed, rhs: Typed, negated: bool) -> Result<Typed, ParseError> {
        if !matches!(lhs.ty, Type::String | Type::Attribute | Type::Nil) {
            let message = format!("regular expressions match strings, found {}", lhs.ty.name());
            return Err(self.error(lhs.pos, message));
        }
        let lhs_depth = lhs.depth;
        let FieldExpr::Static(Static::String(pattern)) = rhs.expr else {
            return Err(self.error(rhs.pos, "the right side of =~ and !~ must be a string literal"));
        };
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| self.error(rhs.pos, format!("invalid regular expression: {e}")))?;
        let expr = FieldExpr::Regex { operand: Box::new(lhs.expr), pattern, regex, negated };
        Ok(Typed { expr, ty: Type::Bool, pos: lhs.pos, depth: lhs_depth + 1 })
    }
}

/// `!x` binds tighter than `+`/`-` but looser than `*`, `/`, `%` and `^` (Tempo's table).
const NOT_OPERAND_PRECEDENCE: u8 = 5;
/// `-x` has the precedence of binary `-`: its operand takes `*`, `/`, `%` and `^`.
const NEGATE_OPERAND_PRECEDENCE: u8 = 4;

/// Precedence (higher binds tighter) and right-associativity of field operators.
fn field_operator_precedence(tok: &Tok) -> Option<(u8, bool)> {
    Some(match tok {
        Tok::And | Tok::Or => (1, false),
        Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::Re | Tok::Nre => (2, false),
        Tok::Add | Tok::Sub => (3, false),
        Tok::Mul | Tok::Div | Tok::Mod => (5, false),
        Tok::Pow => (6, true),
        _ => return None,
    })
}

fn binary_op(tok: &Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::And => BinaryOp::And,
        Tok::Or => BinaryOp::Or,
        Tok::Eq => BinaryOp::Eq,
        Tok::Ne => BinaryOp::Ne,
        Tok::Lt => BinaryOp::Lt,
        Tok::Le => BinaryOp::Le,
        Tok::Gt => BinaryOp::Gt,
        Tok::Ge => BinaryOp::Ge,
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::Pow => BinaryOp::Pow,
        _ => return None,
    })
}

/// Spanset operators and their precedence: `&&`/`||` 1, structural 2.
fn spanset_operator(tok: &Tok) -> Option<(SpansetOp, u8)> {
    use Relation::*;
    use StructuralMode::*;
    let structural = |relation, mode| Some((SpansetOp::Structural(relation, mode), 2));
    match tok {
        Tok::And => Some((SpansetOp::And, 1)),
        Tok::Or => Some((SpansetOp::Or, 1)),
        Tok::Gt => structural(Child, Related),
        Tok::Lt => structural(Parent, Related),
        Tok::Desc => structural(Descendant, Related),
        Tok::Ance => structural(Ancestor, Related),
        Tok::Tilde => structural(Sibling, Related),
        Tok::NotChild => structural(Child, NotRelated),
        Tok::NotParent => structural(Parent, NotRelated),
        Tok::NotDesc => structural(Descendant, NotRelated),
        Tok::NotAnce => structural(Ancestor, NotRelated),
        Tok::Nre => structural(Sibling, NotRelated),
        Tok::UnionChild => structural(Child, Union),
        Tok::UnionParent => structural(Parent, Union),
        Tok::UnionDesc => structural(Descendant, Union),
        Tok::UnionAnce => structural(Ancestor, Union),
        Tok::UnionSibling => structural(Sibling, Union),
        _ => None,
    }
}

/// Literal keywords: booleans, nil, statuses, kinds, `minInt`/`maxInt`.
fn keyword_static(word: &str) -> Option<Static> {
    Some(match word {
        "true" => Static::Bool(true),
        "false" => Static::Bool(false),
        "nil" => Static::Nil,
        "ok" => Static::Status(StatusCode::Ok),
        "error" => Static::Status(StatusCode::Error),
        "unset" => Static::Status(StatusCode::Unset),
        "minInt" => Static::Int(i64::MIN),
        "maxInt" => Static::Int(i64::MAX),
        _ => Static::Kind(SpanKind::parse(word)?),
    })
}

/// `-value` for numeric literals; `None` when it overflows or is not numeric.
fn negate_static(value: &Static) -> Option<Static> {
    match value {
        Static::Int(i) => i.checked_neg().map(Static::Int),
        Static::Float(x) => Some(Static::Float(-x)),
        Static::Duration(d) => d.checked_neg().map(Static::Duration),
        _ => None,
    }
}

// Pharos — query/src/traces/traceql/parser.rs
