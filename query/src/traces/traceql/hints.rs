//! What the trace store can be asked for before a query is evaluated: conditions every span of a
//! result meets, taken from the conjunctive part of the query's filters.
//!
//! Only conditions whose store semantics equal TraceQL's are taken, so the store never drops a
//! span that could match:
//! - `resource.service.name = "x"` (x non-empty) → `service` (the store's service name is that
//!   resource attribute when it is a non-empty string);
//! - `name = "x"` → `span_name`; `kind = k` → `kind`; `status = error` → `error_only`;
//! - `duration` compared with a duration or int literal → duration bounds;
//! - `span.k = "v"` and `.k = "v"` → the pair `(k, v)` (TraceQL's string equality holds only for
//!   string attributes, whose display form is the string itself; the store looks at the span
//!   attribute first, then the resource one, exactly as unscoped `.k` does).
//!
//! Other resource attributes are left out: the store would look at a span attribute of the same
//! name first. Conditions under `||` or `!` are left out. Queries with spanset operations (`&&`,
//! `||`, structural operators between spansets, or parenthesised pipelines) give the range alone:
//! their spans need not share one condition. Conditions come from the leading run of `{…}`
//! filters only, since later stages may count spans a later filter would drop.

use pharos_storage::traces::{SpanQuery, StatusCode, TimeRange};

use super::ast::{AttributeScope, BinaryOp, FieldExpr, Intrinsic, Pipeline, PipelineElement, SpansetExpr, Static};

/// The store query for `pipeline` over `range`.
pub fn span_hints(pipeline: &Pipeline, range: TimeRange) -> SpanQuery {
    let mut query = SpanQuery::in_range(range);
    let has_spanset_operation = pipeline.elements.iter().any(|element| {
        matches!(element, PipelineElement::Spanset(SpansetExpr::Operation { .. } | SpansetExpr::Pipeline(_)))
    });
    if has_spanset_operation {
        return query;
    }
    for element in &pipeline.elements {
        match element {
            PipelineElement::Spanset(SpansetExpr::Filter(Some(condition))) => collect(condition, &mut query),
            PipelineElement::Spanset(_) => {}
            _ => break,
        }
    }
    query
}

/// Adds the conditions `expr` implies when it holds.
fn collect(expr: &FieldExpr, query: &mut SpanQuery) {
    if let FieldExpr::Logical { op: BinaryOp::And, operands } = expr {
        operands.iter().for_each(|operand| collect(operand, query));
        return;
    }
    let FieldExpr::Binary { op, lhs, rhs } = expr else { return };
    // Put the literal on the right: `"x" = name` is `name = "x"`, `1s < duration` is `duration > 1s`.
    let (field, op, literal) = match (lhs.as_ref(), rhs.as_ref()) {
        (field, FieldExpr::Static(literal)) => (field, *op, literal),
        (FieldExpr::Static(literal), field) => (field, flip(*op), literal),
        _ => return,
    };
    match (field, op, literal) {
        (FieldExpr::Attribute(attribute), BinaryOp::Eq, Static::String(value)) => match attribute.scope {
            AttributeScope::Resource if attribute.name == "service.name" && !value.is_empty() => {
                query.service.get_or_insert_with(|| value.clone());
            }
            AttributeScope::Span | AttributeScope::Unscoped => {
                let pair = (attribute.name.clone(), value.clone());
                if !query.attributes.contains(&pair) {
                    query.attributes.push(pair);
                }
            }
            _ => {}
        },
        (FieldExpr::Intrinsic(Intrinsic::Name), BinaryOp::Eq, Static::String(value)) => {
            query.span_name.get_or_insert_with(|| value.clone());
        }
        (FieldExpr::Intrinsic(Intrinsic::Kind), BinaryOp::Eq, Static::Kind(kind)) => {
            query.kind.get_or_insert(*kind);
        }
        (FieldExpr::Intrinsic(Intrinsic::Status), BinaryOp::Eq, Static::Status(StatusCode::Error)) => {
            query.error_only = true;
        }
        (FieldExpr::Intrinsic(Intrinsic::Duration), op, Static::Duration(nanos)) => duration_bound(op, *nanos, query),
        // Durations compare with ints as floats: only take ints a float holds exactly.
        (FieldExpr::Intrinsic(Intrinsic::Duration), op, Static::Int(nanos)) if nanos.unsigned_abs() < 1 << 53 => {
            duration_bound(op, *nanos, query);
        }
        _ => {}
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

/// Narrows the inclusive duration bounds by `duration op nanos`.
fn duration_bound(op: BinaryOp, nanos: i64, query: &mut SpanQuery) {
    // A bound that no duration can meet (`< 0`) is relaxed to the nearest one that some can: the
    // hint may be wider than the query, never narrower.
    let (min, max) = match op {
        BinaryOp::Eq => (Some(nanos), Some(nanos)),
        BinaryOp::Gt => (Some(nanos.saturating_add(1)), None),
        BinaryOp::Ge => (Some(nanos), None),
        BinaryOp::Lt => (None, Some(nanos.saturating_sub(1))),
        BinaryOp::Le => (None, Some(nanos)),
        _ => return,
    };
    if let Some(min) = min.and_then(|m| u64::try_from(m).ok()) {
        query.min_duration_nanos = Some(query.min_duration_nanos.map_or(min, |old| old.max(min)));
    }
    if let Some(max) = max {
        let max = u64::try_from(max).unwrap_or(0);
        query.max_duration_nanos = Some(query.max_duration_nanos.map_or(max, |old| old.min(max)));
    }
}

// Pharos — query/src/traces/traceql/hints.rs
