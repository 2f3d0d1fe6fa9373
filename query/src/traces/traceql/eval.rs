//! Runs a parsed query over the spans of one trace.
//!
//! A spanset is a set of span indices (ascending, unique) with the attributes stages attached to it
//! (`by()` values, aggregate results). The pipeline starts from one spanset holding every span and
//! applies its elements in order; a trace matches when spansets remain at the end.
//!
//! Value semantics follow Tempo: comparing a missing attribute is false for every operator (`= nil`
//! and `!= nil` test existence); ints, floats and durations compare numerically (durations as
//! nanoseconds); strings compare with strings, booleans/statuses/kinds only with `=` and `!=`; a
//! type mismatch is false. Event and link fields hold one value per event or link, and a
//! comparison holds when it holds for one of them. Attributes of other types (arrays, bytes, maps)
//! exist but equal nothing, so the store hints of [`super::hints`] never drop a span that matches.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use pharos_storage::traces::{
    AttributeValue, Span, SpanId, SpanKind, StatusCode, find_attribute, span_id_hex, trace_id_hex,
};

use super::SpanSetMatch;
use super::ast::{
    Aggregate, AggregateKind, AttributeScope, BinaryOp, FieldExpr, Intrinsic, Pipeline, PipelineElement, Relation,
    SpansetExpr, SpansetOp, Static, StructuralMode, format_go_duration,
};

/// The whole query over one trace: `None` when no spanset remains.
pub fn evaluate_pipeline(pipeline: &Pipeline, selects: &[FieldExpr], trace: &[Span]) -> Option<Vec<SpanSetMatch>> {
    if trace.is_empty() {
        return None;
    }
    let ctx = TraceContext::new(trace);
    let input = vec![SpanSet { spans: (0..trace.len()).collect(), attributes: Vec::new() }];
    let output = run_pipeline(pipeline, &ctx, input);
    if output.is_empty() {
        return None;
    }
    Some(
        output
            .into_iter()
            .map(|set| {
                let mut attributes = set.attributes;
                for field in selects {
                    for &span in &set.spans {
                        let pair = (output_key(field), to_attribute_value(&eval_field(field, &ctx, span)));
                        if pair.1 != AttributeValue::Empty && !attributes.contains(&pair) {
                            attributes.push(pair);
                        }
                    }
                }
                SpanSetMatch { spans: set.spans, attributes }
            })
            .collect(),
    )
}

/// The values `fields` (select() arguments) take on span `span` of `trace`, named as Tempo names
/// span attributes in search results (the attribute key without scope, or the intrinsic).
pub fn selected_values(fields: &[FieldExpr], trace: &[Span], span: usize) -> Vec<(String, AttributeValue)> {
    if span >= trace.len() {
        return Vec::new();
    }
    let ctx = TraceContext::new(trace);
    fields
        .iter()
        .map(|field| (output_key(field), to_attribute_value(&eval_field(field, &ctx, span))))
        .filter(|(_, value)| *value != AttributeValue::Empty)
        .collect()
}

fn output_key(field: &FieldExpr) -> String {
    match field {
        FieldExpr::Attribute(attribute) => attribute.name.clone(),
        other => other.to_string(),
    }
}

/// Facts about one trace that span fields and structural operators need.
struct TraceContext<'a> {
    spans: &'a [Span],
    /// Index of each span's parent, when the parent is in the trace.
    parent: Vec<Option<usize>>,
    child_count: Vec<i64>,
    /// `(nestedSetLeft, nestedSetRight)` of each span; `(0, 0)` for spans on a parent cycle.
    nested_set: Vec<(i64, i64)>,
    /// The span without a parent (the earliest when there are several).
    root: Option<usize>,
    /// Latest end − earliest start, in nanoseconds.
    duration_nanos: i64,
}

impl<'a> TraceContext<'a> {
    fn new(spans: &'a [Span]) -> Self {
        let mut by_id: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
        for (i, span) in spans.iter().enumerate() {
            by_id.entry(span.span_id).or_insert(i);
        }
        let parent: Vec<Option<usize>> = spans
            .iter()
            .enumerate()
            .map(|(i, span)| span.parent_span_id.and_then(|p| by_id.get(&p).copied()).filter(|&p| p != i))
            .collect();
        let mut child_count = vec![0i64; spans.len()];
        for &p in parent.iter().flatten() {
            child_count[p] += 1;
        }
        let root = spans
            .iter()
            .enumerate()
            .filter(|(_, span)| span.parent_span_id.is_none_or(|p| p == [0; 8]))
            .min_by_key(|(i, span)| (span.start_time_unix_nano, *i))
            .map(|(i, _)| i);
        let start = spans.iter().map(|s| s.start_time_unix_nano).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_time_unix_nano).max().unwrap_or(0);
        let duration_nanos = i64::try_from(end.saturating_sub(start)).unwrap_or(i64::MAX);
        let nested_set = nested_set_numbers(spans, &parent);
        TraceContext { spans, parent, child_count, root, duration_nanos, nested_set }
    }
}

/// Numbers each span on entering and leaving it in a depth-first walk from the spans without a
/// parent in the trace, visiting siblings by start time. Iterative: deep traces must not overflow
/// the stack.
fn nested_set_numbers(spans: &[Span], parent: &[Option<usize>]) -> Vec<(i64, i64)> {
    let by_start = |list: &mut Vec<usize>| list.sort_by_key(|&i| (spans[i].start_time_unix_nano, i));
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    by_start(&mut roots);
    children.iter_mut().for_each(by_start);
    let mut numbers = vec![(0, 0); spans.len()];
    let mut counter = 1;
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in roots {
        numbers[root].0 = counter;
        counter += 1;
        stack.push((root, 0));
        while let Some((node, next_child)) = stack.last_mut() {
            let node = *node;
            if let Some(&child) = children[node].get(*next_child) {
                *next_child += 1;
                numbers[child].0 = counter;
                counter += 1;
                stack.push((child, 0));
            } else {
                numbers[node].1 = counter;
                counter += 1;
                stack.pop();
            }
        }
    }
    numbers
}

/// A value during evaluation; borrows from the query and the trace.
#[derive(Clone, Debug)]
enum Value<'a> {
    Nil,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
    /// An attribute of a type TraceQL does not compare (array, bytes, map): present, equal to nothing.
    Other(&'a AttributeValue),
    /// One value per event or link that has the field; never empty.
    Many(Vec<Value<'a>>),
}

impl Value<'_> {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Duration(d) => Some(*d as f64),
            _ => None,
        }
    }

    fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}

fn static_value(value: &Static) -> Value<'_> {
    match value {
        Static::Nil => Value::Nil,
        Static::String(s) => Value::Str(Cow::Borrowed(s)),
        Static::Int(i) => Value::Int(*i),
        Static::Float(x) => Value::Float(*x),
        Static::Bool(b) => Value::Bool(*b),
        Static::Duration(d) => Value::Duration(*d),
        Static::Status(s) => Value::Status(*s),
        Static::Kind(k) => Value::Kind(*k),
    }
}

fn attribute_value(value: &AttributeValue) -> Value<'_> {
    match value {
        AttributeValue::Empty => Value::Nil,
        AttributeValue::String(s) => Value::Str(Cow::Borrowed(s)),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Int(i) => Value::Int(*i),
        AttributeValue::Double(x) => Value::Float(*x),
        other => Value::Other(other),
    }
}

/// Values of one field across events or links: `Nil` when none has it.
fn many<'a>(values: impl Iterator<Item = Value<'a>>) -> Value<'a> {
    let values: Vec<Value<'a>> = values.filter(|v| !matches!(v, Value::Nil)).collect();
    if values.is_empty() { Value::Nil } else { Value::Many(values) }
}

fn to_attribute_value(value: &Value<'_>) -> AttributeValue {
    match value {
        Value::Nil => AttributeValue::Empty,
        Value::Str(s) => AttributeValue::String(s.to_string()),
        Value::Int(i) => AttributeValue::Int(*i),
        Value::Float(x) => AttributeValue::Double(*x),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Duration(d) => AttributeValue::String(format_go_duration(*d)),
        Value::Status(s) => AttributeValue::String(s.as_str().to_string()),
        Value::Kind(k) => AttributeValue::String(k.as_str().to_string()),
        Value::Other(v) => (*v).clone(),
        Value::Many(values) => AttributeValue::Array(values.iter().map(to_attribute_value).collect()),
    }
}

fn eval_field<'a>(expr: &'a FieldExpr, ctx: &TraceContext<'a>, index: usize) -> Value<'a> {
    let span = &ctx.spans[index];
    match expr {
        FieldExpr::Static(value) => static_value(value),
        FieldExpr::Attribute(attribute) => {
            let name = attribute.name.as_str();
            let found = match attribute.scope {
                AttributeScope::Unscoped => span.attribute(name),
                AttributeScope::Span => find_attribute(&span.attributes, name),
                AttributeScope::Resource => find_attribute(&span.resource.attributes, name),
                AttributeScope::Instrumentation => find_attribute(&span.scope.attributes, name),
                AttributeScope::Event => {
                    return many(
                        span.events.iter().filter_map(|e| find_attribute(&e.attributes, name)).map(attribute_value),
                    );
                }
                AttributeScope::Link => {
                    return many(
                        span.links.iter().filter_map(|l| find_attribute(&l.attributes, name)).map(attribute_value),
                    );
                }
            };
            found.map_or(Value::Nil, attribute_value)
        }
        FieldExpr::Intrinsic(intrinsic) => eval_intrinsic(*intrinsic, ctx, index),
        FieldExpr::Logical { op: BinaryOp::And, operands } => {
            Value::Bool(operands.iter().all(|operand| eval_field(operand, ctx, index).is_true()))
        }
        FieldExpr::Logical { operands, .. } => {
            Value::Bool(operands.iter().any(|operand| eval_field(operand, ctx, index).is_true()))
        }
        FieldExpr::Binary { op, lhs, rhs } => {
            let (l, r) = (eval_field(lhs, ctx, index), eval_field(rhs, ctx, index));
            if op.is_comparison() { Value::Bool(compare(*op, &l, &r)) } else { arithmetic(*op, &l, &r) }
        }
        FieldExpr::Not(operand) => match eval_field(operand, ctx, index) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Nil,
        },
        FieldExpr::Negate(operand) => match eval_field(operand, ctx, index) {
            Value::Int(i) => i.checked_neg().map_or(Value::Nil, Value::Int),
            Value::Float(x) => Value::Float(-x),
            Value::Duration(d) => d.checked_neg().map_or(Value::Nil, Value::Duration),
            _ => Value::Nil,
        },
        FieldExpr::Exists { operand, negated } => {
            let present = !matches!(eval_field(operand, ctx, index), Value::Nil);
            Value::Bool(present != *negated)
        }
        FieldExpr::Regex { operand, regex, negated, .. } => {
            let value = eval_field(operand, ctx, index);
            Value::Bool(regex_matches(&value, regex, *negated))
        }
    }
}

fn eval_intrinsic<'a>(intrinsic: Intrinsic, ctx: &TraceContext<'a>, index: usize) -> Value<'a> {
    let span: &'a Span = &ctx.spans[index];
    match intrinsic {
        Intrinsic::Name => Value::Str(Cow::Borrowed(&span.name)),
        Intrinsic::Status => Value::Status(span.status.code),
        Intrinsic::StatusMessage => Value::Str(Cow::Borrowed(&span.status.message)),
        Intrinsic::Kind => Value::Kind(span.kind),
        Intrinsic::Duration => Value::Duration(i64::try_from(span.duration_nanos()).unwrap_or(i64::MAX)),
        Intrinsic::ChildCount => Value::Int(ctx.child_count[index]),
        Intrinsic::NestedSetLeft => Value::Int(ctx.nested_set[index].0),
        Intrinsic::NestedSetRight => Value::Int(ctx.nested_set[index].1),
        Intrinsic::NestedSetParent => Value::Int(match (span.parent_span_id, ctx.parent[index]) {
            (None, _) => -1,
            (Some(_), Some(parent)) => ctx.nested_set[parent].0,
            (Some(_), None) => 0,
        }),
        Intrinsic::SpanId => Value::Str(Cow::Owned(span_id_hex(&span.span_id))),
        Intrinsic::ParentId => match span.parent_span_id {
            Some(parent) => Value::Str(Cow::Owned(span_id_hex(&parent))),
            None => Value::Nil,
        },
        Intrinsic::RootName => ctx.root.map_or(Value::Nil, |r| Value::Str(Cow::Borrowed(&ctx.spans[r].name))),
        Intrinsic::RootService => {
            ctx.root.map_or(Value::Nil, |r| Value::Str(Cow::Borrowed(ctx.spans[r].service_name())))
        }
        Intrinsic::TraceDuration => Value::Duration(ctx.duration_nanos),
        Intrinsic::TraceId => Value::Str(Cow::Owned(trace_id_hex(&span.trace_id))),
        Intrinsic::EventName => many(span.events.iter().map(|e| Value::Str(Cow::Borrowed(e.name.as_str())))),
        Intrinsic::EventTimeSinceStart => many(span.events.iter().map(|e| {
            let since = i128::from(e.time_unix_nano) - i128::from(span.start_time_unix_nano);
            Value::Duration(i64::try_from(since).unwrap_or(if since < 0 { i64::MIN } else { i64::MAX }))
        })),
        Intrinsic::LinkSpanId => many(span.links.iter().map(|l| Value::Str(Cow::Owned(span_id_hex(&l.span_id))))),
        Intrinsic::LinkTraceId => many(span.links.iter().map(|l| Value::Str(Cow::Owned(trace_id_hex(&l.trace_id))))),
        Intrinsic::InstrumentationName => Value::Str(Cow::Borrowed(&span.scope.name)),
        Intrinsic::InstrumentationVersion => Value::Str(Cow::Borrowed(&span.scope.version)),
    }
}

fn ordering_holds(op: BinaryOp, ordering: Ordering) -> bool {
    match op {
        BinaryOp::Eq => ordering == Ordering::Equal,
        BinaryOp::Ne => ordering != Ordering::Equal,
        BinaryOp::Lt => ordering == Ordering::Less,
        BinaryOp::Le => ordering != Ordering::Greater,
        BinaryOp::Gt => ordering == Ordering::Greater,
        BinaryOp::Ge => ordering != Ordering::Less,
        _ => false,
    }
}

/// A comparison under TraceQL's type rules (see the module documentation).
fn compare(op: BinaryOp, lhs: &Value<'_>, rhs: &Value<'_>) -> bool {
    match (lhs, rhs) {
        (Value::Many(values), _) => values.iter().any(|v| compare(op, v, rhs)),
        (_, Value::Many(values)) => values.iter().any(|v| compare(op, lhs, v)),
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::Str(a), Value::Str(b)) => ordering_holds(op, a.as_ref().cmp(b.as_ref())),
        (Value::Int(a), Value::Int(b)) | (Value::Duration(a), Value::Duration(b)) => ordering_holds(op, a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => equality_holds(op, a == b),
        (Value::Status(a), Value::Status(b)) => equality_holds(op, a == b),
        (Value::Kind(a), Value::Kind(b)) => equality_holds(op, a == b),
        _ => match (lhs.as_f64(), rhs.as_f64()) {
            (Some(a), Some(b)) => match op {
                BinaryOp::Ne => a != b,
                _ => a.partial_cmp(&b).is_some_and(|ordering| ordering_holds(op, ordering)),
            },
            _ => false,
        },
    }
}

fn equality_holds(op: BinaryOp, equal: bool) -> bool {
    match op {
        BinaryOp::Eq => equal,
        BinaryOp::Ne => !equal,
        _ => false,
    }
}

fn regex_matches(value: &Value<'_>, regex: &regex::Regex, negated: bool) -> bool {
    match value {
        Value::Str(s) => regex.is_match(s) != negated,
        Value::Many(values) => values.iter().any(|v| regex_matches(v, regex, negated)),
        _ => false,
    }
}

/// `+ - * / % ^`: ints stay ints (nil on overflow or division by zero), durations added to or
/// subtracted from durations stay durations, everything else numeric is computed in floats.
fn arithmetic<'a>(op: BinaryOp, lhs: &Value<'a>, rhs: &Value<'a>) -> Value<'a> {
    match (lhs, rhs) {
        (Value::Int(a), Value::Int(b)) => {
            let result = match op {
                BinaryOp::Add => a.checked_add(*b),
                BinaryOp::Sub => a.checked_sub(*b),
                BinaryOp::Mul => a.checked_mul(*b),
                BinaryOp::Div => a.checked_div(*b),
                BinaryOp::Mod => a.checked_rem(*b),
                BinaryOp::Pow => match u32::try_from(*b) {
                    Ok(exponent) => a.checked_pow(exponent),
                    Err(_) => return Value::Float((*a as f64).powf(*b as f64)),
                },
                _ => None,
            };
            result.map_or(Value::Nil, Value::Int)
        }
        (Value::Duration(a), Value::Duration(b)) if matches!(op, BinaryOp::Add | BinaryOp::Sub) => {
            let result = if op == BinaryOp::Add { a.checked_add(*b) } else { a.checked_sub(*b) };
            result.map_or(Value::Nil, Value::Duration)
        }
        _ => match (lhs.as_f64(), rhs.as_f64()) {
            (Some(a), Some(b)) => Value::Float(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Mod => a % b,
                BinaryOp::Pow => a.powf(b),
                _ => return Value::Nil,
            }),
            _ => Value::Nil,
        },
    }
}

/// Spans (ascending indices, unique) and the attributes stages attached to them.
#[derive(Clone, Debug)]
struct SpanSet {
    spans: Vec<usize>,
    attributes: Vec<(String, AttributeValue)>,
}

fn run_pipeline(pipeline: &Pipeline, ctx: &TraceContext<'_>, input: Vec<SpanSet>) -> Vec<SpanSet> {
    let mut sets = input;
    for element in &pipeline.elements {
        if sets.is_empty() {
            break;
        }
        sets = match element {
            PipelineElement::Spanset(expr) => sets.iter().flat_map(|set| run_spanset(expr, ctx, set)).collect(),
            PipelineElement::ScalarFilter { aggregate, op, value } => sets
                .into_iter()
                .filter_map(|mut set| {
                    let result = run_aggregate(aggregate, ctx, &set.spans)?;
                    if !compare(op.as_binary(), &result, &static_value(value)) {
                        return None;
                    }
                    set.attributes.push((aggregate.to_string(), to_attribute_value(&result)));
                    Some(set)
                })
                .collect(),
            PipelineElement::GroupBy(field) => {
                let key = format!("by({field})");
                let mut output = Vec::new();
                for set in &sets {
                    let mut groups: Vec<(AttributeValue, Vec<usize>)> = Vec::new();
                    for &span in &set.spans {
                        let value = to_attribute_value(&eval_field(field, ctx, span));
                        match groups.iter_mut().find(|(v, _)| *v == value) {
                            Some((_, spans)) => spans.push(span),
                            None => groups.push((value, vec![span])),
                        }
                    }
                    for (value, spans) in groups {
                        let mut attributes = set.attributes.clone();
                        attributes.push((key.clone(), value));
                        output.push(SpanSet { spans, attributes });
                    }
                }
                output
            }
            PipelineElement::Select(_) => sets,
            PipelineElement::Coalesce => {
                let mut merged = SpanSet { spans: Vec::new(), attributes: Vec::new() };
                for set in sets {
                    merged.spans.extend(set.spans);
                    for pair in set.attributes {
                        if !merged.attributes.contains(&pair) {
                            merged.attributes.push(pair);
                        }
                    }
                }
                merged.spans.sort_unstable();
                merged.spans.dedup();
                vec![merged]
            }
        };
    }
    sets
}

/// One spanset expression over one input spanset: zero or more output spansets.
fn run_spanset(expr: &SpansetExpr, ctx: &TraceContext<'_>, input: &SpanSet) -> Vec<SpanSet> {
    let with_spans = |spans: Vec<usize>| {
        if spans.is_empty() { Vec::new() } else { vec![SpanSet { spans, attributes: input.attributes.clone() }] }
    };
    match expr {
        SpansetExpr::Filter(None) => vec![input.clone()],
        SpansetExpr::Filter(Some(condition)) => {
            with_spans(input.spans.iter().copied().filter(|&i| eval_field(condition, ctx, i).is_true()).collect())
        }
        SpansetExpr::Pipeline(pipeline) => run_pipeline(pipeline, ctx, vec![input.clone()]),
        SpansetExpr::Operation { op, lhs, rhs } => {
            let lhs = union(run_spanset(lhs, ctx, input));
            let rhs = union(run_spanset(rhs, ctx, input));
            let spans = match op {
                SpansetOp::And if lhs.is_empty() || rhs.is_empty() => Vec::new(),
                SpansetOp::And | SpansetOp::Or => merge(&lhs, &rhs),
                SpansetOp::Structural(relation, mode) => {
                    let matched = related(*relation, &lhs, &rhs, ctx);
                    match mode {
                        StructuralMode::Related => matched,
                        StructuralMode::NotRelated => {
                            rhs.iter().copied().filter(|i| matched.binary_search(i).is_err()).collect()
                        }
                        StructuralMode::Union => {
                            let partners = related(relation.inverse(), &matched, &lhs, ctx);
                            merge(&matched, &partners)
                        }
                    }
                }
            };
            with_spans(spans)
        }
    }
}

/// Every span of `sets`, ascending and unique.
fn union(sets: Vec<SpanSet>) -> Vec<usize> {
    let mut spans: Vec<usize> = sets.into_iter().flat_map(|s| s.spans).collect();
    spans.sort_unstable();
    spans.dedup();
    spans
}

fn merge(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut spans: Vec<usize> = a.iter().chain(b).copied().collect();
    spans.sort_unstable();
    spans.dedup();
    spans
}

/// The `candidates` that stand in `relation` to at least one span of `from` (a candidate is the
/// child / parent / descendant / ancestor / sibling of it). Result ascending.
fn related(relation: Relation, from: &[usize], candidates: &[usize], ctx: &TraceContext<'_>) -> Vec<usize> {
    let n = ctx.spans.len();
    let mut in_from = vec![false; n];
    for &i in from {
        in_from[i] = true;
    }
    match relation {
        Relation::Child => candidates.iter().copied().filter(|&c| ctx.parent[c].is_some_and(|p| in_from[p])).collect(),
        Relation::Parent => {
            let mut is_parent = vec![false; n];
            for &f in from {
                if let Some(p) = ctx.parent[f] {
                    is_parent[p] = true;
                }
            }
            candidates.iter().copied().filter(|&c| is_parent[c]).collect()
        }
        Relation::Descendant => candidates
            .iter()
            .copied()
            .filter(|&c| {
                // At most n steps: a corrupt trace with a parent cycle must not loop forever.
                let mut current = ctx.parent[c];
                for _ in 0..n {
                    match current {
                        Some(p) if in_from[p] => return true,
                        Some(p) => current = ctx.parent[p],
                        None => return false,
                    }
                }
                false
            })
            .collect(),
        Relation::Ancestor => {
            let mut is_ancestor = vec![false; n];
            for &f in from {
                let mut current = ctx.parent[f];
                let mut steps = 0;
                while let Some(p) = current {
                    if is_ancestor[p] || steps >= n {
                        break;
                    }
                    is_ancestor[p] = true;
                    current = ctx.parent[p];
                    steps += 1;
                }
            }
            candidates.iter().copied().filter(|&c| is_ancestor[c]).collect()
        }
        Relation::Sibling => {
            let mut per_parent: HashMap<SpanId, usize> = HashMap::new();
            for &f in from {
                if let Some(p) = ctx.spans[f].parent_span_id {
                    *per_parent.entry(p).or_default() += 1;
                }
            }
            candidates
                .iter()
                .copied()
                .filter(|&c| {
                    ctx.spans[c].parent_span_id.is_some_and(|p| {
                        let count = per_parent.get(&p).copied().unwrap_or(0);
                        count > usize::from(in_from[c])
                    })
                })
                .collect()
        }
    }
}

/// `count()`, or avg/min/max/sum of the numeric values `aggregate.field` takes on `spans` (spans
/// without one are skipped). `None` when no span has a numeric value: the spanset is dropped.
fn run_aggregate<'a>(aggregate: &'a Aggregate, ctx: &TraceContext<'a>, spans: &[usize]) -> Option<Value<'a>> {
    let Some(field) = &aggregate.field else {
        return Some(Value::Int(i64::try_from(spans.len()).unwrap_or(i64::MAX)));
    };
    let values: Vec<Value<'a>> = spans
        .iter()
        .map(|&i| eval_field(field, ctx, i))
        .filter(|v| matches!(v, Value::Int(_) | Value::Float(_) | Value::Duration(_)))
        .collect();
    if values.is_empty() {
        return None;
    }
    let all_int = values.iter().all(|v| matches!(v, Value::Int(_)));
    let all_duration = values.iter().all(|v| matches!(v, Value::Duration(_)));
    let float_sum: f64 = values.iter().filter_map(Value::as_f64).sum();
    let exact_sum = || -> Option<i64> {
        values.iter().try_fold(0i64, |acc, v| match v {
            Value::Int(x) | Value::Duration(x) => acc.checked_add(*x),
            _ => None,
        })
    };
    let pick = |want: Ordering| {
        values.iter().cloned().reduce(|best, v| {
            let better = v.as_f64().partial_cmp(&best.as_f64()) == Some(want);
            if better { v } else { best }
        })
    };
    match aggregate.kind {
        AggregateKind::Count => Some(Value::Int(i64::try_from(spans.len()).unwrap_or(i64::MAX))),
        AggregateKind::Sum => Some(match exact_sum() {
            Some(sum) if all_int => Value::Int(sum),
            Some(sum) if all_duration => Value::Duration(sum),
            _ => Value::Float(float_sum),
        }),
        AggregateKind::Avg => {
            let avg = float_sum / values.len() as f64;
            Some(if all_duration { Value::Duration(avg as i64) } else { Value::Float(avg) })
        }
        AggregateKind::Min => pick(Ordering::Less),
        AggregateKind::Max => pick(Ordering::Greater),
    }
}

// Pharos — query/src/traces/traceql/eval.rs
