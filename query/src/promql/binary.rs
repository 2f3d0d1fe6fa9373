//! Binary operators: scalar/scalar, vector/scalar and vector/vector with label matching.

use rustc_hash::{FxHashMap, FxHashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use pharos_storage::tsdb::{Label, Labels, METRIC_NAME};

use super::ast::{Binary, BinaryOp, Cardinality, ValueType, VectorMatching};
use super::engine::{
    EvalError, Evaluator, Series, SeriesCollector, Val, braced_labels, by_step, exec_err, labels_from_sorted,
};

/// `lhs op rhs` on two floats: the value, and whether a comparison holds (always true for
/// arithmetic).
pub(crate) fn apply(op: BinaryOp, lhs: f64, rhs: f64) -> (f64, bool) {
    match op {
        BinaryOp::Add => (lhs + rhs, true),
        BinaryOp::Sub => (lhs - rhs, true),
        BinaryOp::Mul => (lhs * rhs, true),
        BinaryOp::Div => (lhs / rhs, true),
        BinaryOp::Mod => (lhs % rhs, true),
        BinaryOp::Pow => (go_pow(lhs, rhs), true),
        BinaryOp::Atan2 => (lhs.atan2(rhs), true),
        BinaryOp::Eql => (lhs, lhs == rhs),
        BinaryOp::Neq => (lhs, lhs != rhs),
        BinaryOp::Gtr => (lhs, lhs > rhs),
        BinaryOp::Lss => (lhs, lhs < rhs),
        BinaryOp::Gte => (lhs, lhs >= rhs),
        BinaryOp::Lte => (lhs, lhs <= rhs),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => (f64::NAN, false),
    }
}

/// Go's `math.Pow`, whose special cases differ from C's `pow` in a few places.
fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 1.0;
    }
    if x == -1.0 && y.is_infinite() {
        return 1.0;
    }
    x.powf(y)
}

fn drops_name(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Pow | BinaryOp::Atan2
    )
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&self, b: &Binary) -> Result<Val, EvalError> {
        let lt = b.lhs.value_type();
        let rt = b.rhs.value_type();
        // Both sides are evaluated (Prometheus evaluates both even for `and` with an empty side).
        let lhs = self.eval_matrix(&b.lhs)?;
        let rhs = self.eval_matrix(&b.rhs)?;
        let out = match (lt, rt) {
            (ValueType::Scalar, ValueType::Scalar) => {
                let l = self.scalar_values(&lhs);
                let r = self.scalar_values(&rhs);
                self.scalar_series(|t| {
                    let i = self.step_index(t);
                    let (v, keep) = apply(b.op, l[i], r[i]);
                    if b.op.is_comparison() { if keep { 1.0 } else { 0.0 } } else { v }
                })
            }
            (ValueType::Vector, ValueType::Scalar) => self.vector_scalar(b, lhs, &self.scalar_values(&rhs), false),
            (ValueType::Scalar, ValueType::Vector) => self.vector_scalar(b, rhs, &self.scalar_values(&lhs), true),
            _ => {
                let default = VectorMatching {
                    card: if b.op.is_set() { Cardinality::ManyToMany } else { Cardinality::OneToOne },
                    on: false,
                    labels: Vec::new(),
                    include: Vec::new(),
                };
                let matching = b.matching.as_ref().unwrap_or(&default);
                match b.op {
                    BinaryOp::And => self.set_op(lhs, rhs, matching, SetOp::And),
                    BinaryOp::Or => self.set_op(lhs, rhs, matching, SetOp::Or),
                    BinaryOp::Unless => self.set_op(lhs, rhs, matching, SetOp::Unless),
                    _ => self.vector_vector(b, lhs, rhs, matching)?,
                }
            }
        };
        Ok(Val::Matrix(out))
    }

    fn scalar_values(&self, m: &[Series]) -> Vec<f64> {
        let mut values = vec![f64::NAN; self.steps()];
        if let Some(s) = m.first() {
            for p in &s.points {
                values[self.step_index(p.t)] = p.v;
            }
        }
        values
    }

    fn vector_scalar(&self, b: &Binary, mut vector: Vec<Series>, scalar: &[f64], scalar_left: bool) -> Vec<Series> {
        let drop = drops_name(b.op) || b.return_bool;
        for s in &mut vector {
            s.points.retain_mut(|p| {
                let sv = scalar[self.step_index(p.t)];
                let (l, r) = if scalar_left { (sv, p.v) } else { (p.v, sv) };
                let (mut v, keep) = apply(b.op, l, r);
                if b.op.is_comparison() {
                    if b.return_bool {
                        v = if keep { 1.0 } else { 0.0 };
                    } else if !keep {
                        return false;
                    } else {
                        v = p.v;
                    }
                }
                p.v = v;
                true
            });
            if drop {
                s.drop_name = true;
            }
        }
        vector.retain(|s| !s.points.is_empty());
        vector
    }

    fn vector_vector(
        &self,
        b: &Binary,
        lhs: Vec<Series>,
        rhs: Vec<Series>,
        matching: &VectorMatching,
    ) -> Result<Vec<Series>, EvalError> {
        if matching.card == Cardinality::ManyToMany {
            return exec_err("many-to-many only allowed for set operators");
        }
        // The "many" side is iterated; the "one" side is looked up by signature.
        let (many, one, swapped) = match matching.card {
            Cardinality::OneToMany => (&rhs, &lhs, true),
            _ => (&lhs, &rhs, false),
        };
        let many_sigs: Vec<u64> = many.iter().map(|s| signature(&s.labels, matching)).collect();
        let one_sigs: Vec<u64> = one.iter().map(|s| signature(&s.labels, matching)).collect();
        let many_steps = by_step(self, many);
        let one_steps = by_step(self, one);
        let mut out = SeriesCollector::new();
        let mut pair_cache: FxHashMap<(usize, usize), usize> = FxHashMap::default();
        let mut one_by_sig: FxHashMap<u64, (usize, f64)> = FxHashMap::default();
        // One-to-one: the signatures matched at this step; many-to-one: the (signature, output
        // series) pairs produced at this step.
        let mut matched: FxHashSet<u64> = FxHashSet::default();
        let mut produced: FxHashSet<(u64, usize)> = FxHashSet::default();
        // Prometheus' VectorBinop: arithmetic removes the name at once (resultMetric), a `bool`
        // comparison flags it for removal, a filtering comparison keeps the left side's name.
        let drop = b.return_bool;
        for step in 0..self.steps() {
            self.ctx.check("binary operation")?;
            let t = self.step_time(step);
            one_by_sig.clear();
            matched.clear();
            produced.clear();
            for &(j, v) in &one_steps[step] {
                if let Some(&(prev, _)) = one_by_sig.get(&one_sigs[j]) {
                    let side = if swapped { "left" } else { "right" };
                    let group = match_group_labels(&one[j].labels, matching);
                    return exec_err(format!(
                        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        braced_labels(&group),
                        braced_labels(&one[prev].labels),
                        braced_labels(&one[j].labels),
                    ));
                }
                one_by_sig.insert(one_sigs[j], (j, v));
            }
            for &(i, mv) in &many_steps[step] {
                let sig = many_sigs[i];
                let Some(&(j, ov)) = one_by_sig.get(&sig) else {
                    continue;
                };
                let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
                let (mut v, keep) = apply(b.op, l, r);
                if b.return_bool {
                    v = if keep { 1.0 } else { 0.0 };
                }
                let idx = match pair_cache.get(&(i, j)) {
                    Some(&idx) => idx,
                    None => {
                        let labels = result_labels(&many[i].labels, &one[j].labels, b.op, matching);
                        let idx = out.series_for(labels, drop);
                        pair_cache.insert((i, j), idx);
                        idx
                    }
                };
                if matching.card == Cardinality::OneToOne {
                    if !matched.insert(sig) {
                        return exec_err(
                            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                        );
                    }
                } else if !produced.insert((sig, idx)) {
                    return exec_err("multiple matches for labels: grouping labels must ensure unique matches");
                }
                // Matches are checked before a comparison filters, as Prometheus does.
                if !keep && !b.return_bool {
                    continue;
                }
                out.push(idx, t, v)?;
            }
        }
        Ok(out.finish())
    }

    fn set_op(&self, lhs: Vec<Series>, rhs: Vec<Series>, matching: &VectorMatching, op: SetOp) -> Vec<Series> {
        let lsigs: Vec<u64> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
        let rsigs: Vec<u64> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
        let steps = self.steps();
        // Per step, which signatures each side has.
        let mut rhs_at: Vec<FxHashSet<u64>> = vec![Default::default(); steps];
        for (j, s) in rhs.iter().enumerate() {
            for p in &s.points {
                rhs_at[self.step_index(p.t)].insert(rsigs[j]);
            }
        }
        match op {
            SetOp::And | SetOp::Unless => {
                let want = op == SetOp::And;
                let mut out = lhs;
                for (i, s) in out.iter_mut().enumerate() {
                    s.points.retain(|p| rhs_at[self.step_index(p.t)].contains(&lsigs[i]) == want);
                }
                out.retain(|s| !s.points.is_empty());
                out
            }
            SetOp::Or => {
                let mut lhs_at: Vec<FxHashSet<u64>> = vec![Default::default(); steps];
                for (i, s) in lhs.iter().enumerate() {
                    for p in &s.points {
                        lhs_at[self.step_index(p.t)].insert(lsigs[i]);
                    }
                }
                let mut out = lhs;
                let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
                for (i, s) in out.iter().enumerate() {
                    index.insert(s.labels.clone(), i);
                }
                for (j, mut s) in rhs.into_iter().enumerate() {
                    s.points.retain(|p| !lhs_at[self.step_index(p.t)].contains(&rsigs[j]));
                    if s.points.is_empty() {
                        continue;
                    }
                    match index.get(&s.labels) {
                        Some(&i) => {
                            // The same series on both sides: fill the steps the left one lacks.
                            let target = &mut out[i];
                            target.points.extend(s.points);
                            target.points.sort_by_key(|p| p.t);
                            target.points.dedup_by_key(|p| p.t);
                        }
                        None => {
                            index.insert(s.labels.clone(), out.len());
                            out.push(s);
                        }
                    }
                }
                out
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    And,
    Or,
    Unless,
}

/// The hash of the labels a vector matching compares: the `on` labels, or all but the
/// `ignoring` labels and the metric name.
fn signature(labels: &Labels, matching: &VectorMatching) -> u64 {
    let mut h = DefaultHasher::new();
    for l in labels.iter() {
        let included = if matching.on {
            matching.labels.iter().any(|n| *n == l.name)
        } else {
            l.name != METRIC_NAME && !matching.labels.iter().any(|n| *n == l.name)
        };
        if included {
            l.name.hash(&mut h);
            l.value.hash(&mut h);
        }
    }
    h.finish()
}

fn match_group_labels(labels: &Labels, matching: &VectorMatching) -> Labels {
    let pairs: Vec<Label> = labels
        .iter()
        .filter(|l| {
            if matching.on {
                matching.labels.iter().any(|n| *n == l.name)
            } else {
                l.name != METRIC_NAME && !matching.labels.iter().any(|n| *n == l.name)
            }
        })
        .cloned()
        .collect();
    labels_from_sorted(pairs)
}

/// The labels of a vector/vector result sample (Prometheus' `resultMetric`): the "many" side's
/// labels, without the metric name for arithmetic, reduced by `on`/`ignoring` for one-to-one
/// matching, plus the `group_x(...)` labels of the "one" side.
fn result_labels(many: &Labels, one: &Labels, op: BinaryOp, matching: &VectorMatching) -> Labels {
    let mut pairs: Vec<Label> = many.iter().cloned().collect();
    if drops_name(op) {
        pairs.retain(|l| l.name != METRIC_NAME);
    }
    if matching.card == Cardinality::OneToOne {
        if matching.on {
            pairs.retain(|l| matching.labels.iter().any(|n| *n == l.name));
        } else {
            pairs.retain(|l| !matching.labels.iter().any(|n| *n == l.name));
        }
    }
    for name in &matching.include {
        pairs.retain(|l| l.name != *name);
        if let Some(v) = one.get(name) {
            pairs.push(Label::new(name.clone(), v));
        }
    }
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    labels_from_sorted(pairs)
}

// Pharos — query/src/promql/binary.rs
