//! Aggregation operators: grouping with `by`/`without` and the per-group arithmetic.

use std::cmp::Ordering;
use rustc_hash::FxHashMap;

use pharos_storage::tsdb::{Label, Labels, METRIC_NAME};

use super::ast::{Aggregate, AggregateOp};
use super::engine::{EvalError, Evaluator, Series, SeriesCollector, Val, by_step, exec_err, labels_from_sorted};
use super::math::aggregate::{AvgAcc, MinMaxAcc, SumAcc, VarAcc, quantile};
use super::number::format_go_float;

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&self, a: &Aggregate) -> Result<Val, EvalError> {
        // The parameter is evaluated first, like Prometheus.
        enum Param {
            None,
            Numbers(Vec<f64>),
            Label(String),
        }
        let param = match (&a.param, a.op) {
            (Some(p), AggregateOp::CountValues) => Param::Label(self.eval_string(p)?),
            (Some(p), _) => Param::Numbers(self.eval_scalar_steps(p)?),
            (None, _) => Param::None,
        };
        let input = self.eval_matrix(&a.expr)?;
        // Group of each input series, computed once.
        let mut groups: Vec<(Labels, bool)> = Vec::new();
        let mut group_index: FxHashMap<Labels, usize> = FxHashMap::default();
        let mut group_of = Vec::with_capacity(input.len());
        for s in &input {
            let key = self.group_labels(&s.labels, a);
            let g = match group_index.get(&key) {
                Some(&g) => g,
                None => {
                    group_index.insert(key.clone(), groups.len());
                    groups.push((key, false));
                    groups.len() - 1
                }
            };
            if s.drop_name {
                groups[g].1 = true;
            }
            group_of.push(g);
        }
        let out = match a.op {
            AggregateOp::Sum
            | AggregateOp::Avg
            | AggregateOp::Count
            | AggregateOp::Min
            | AggregateOp::Max
            | AggregateOp::Group
            | AggregateOp::Stddev
            | AggregateOp::Stdvar => self.simple_aggregation(a.op, &input, &group_of, &groups)?,
            AggregateOp::Quantile => {
                let Param::Numbers(q) = &param else {
                    return exec_err("quantile needs a parameter");
                };
                self.quantile_aggregation(a, q, &input, &group_of, &groups)?
            }
            AggregateOp::CountValues => {
                let Param::Label(label) = &param else {
                    return exec_err("count_values needs a parameter");
                };
                self.count_values(label, &input, &group_of, &groups)?
            }
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk | AggregateOp::LimitRatio => {
                let Param::Numbers(k) = &param else {
                    return exec_err("topk needs a parameter");
                };
                self.select_k(a.op, k, input, &group_of, groups.len())?
            }
        };
        Ok(Val::Matrix(out))
    }

    fn group_labels(&self, labels: &Labels, a: &Aggregate) -> Labels {
        let pairs: Vec<Label> = labels
            .iter()
            .filter(|l| {
                if a.without {
                    l.name != METRIC_NAME && !a.grouping.iter().any(|n| *n == l.name)
                } else {
                    a.grouping.iter().any(|n| *n == l.name)
                }
            })
            .cloned()
            .collect();
        labels_from_sorted(pairs)
    }

    fn simple_aggregation(
        &self,
        op: AggregateOp,
        input: &[Series],
        group_of: &[usize],
        groups: &[(Labels, bool)],
    ) -> Result<Vec<Series>, EvalError> {
        let steps = self.steps();
        let cells = groups.len() * steps;
        let mut count = vec![0u32; cells];
        let out_values: Vec<f64> = match op {
            AggregateOp::Sum => {
                let mut acc: Vec<Option<SumAcc>> = vec![None; cells];
                self.feed(input, group_of, |cell, v| {
                    match &mut acc[cell] {
                        Some(a) => a.add(v),
                        slot => *slot = Some(SumAcc::new(v)),
                    }
                    count[cell] += 1;
                })?;
                acc.iter().map(|a| a.map_or(f64::NAN, |a| a.value())).collect()
            }
            AggregateOp::Avg => {
                let mut acc: Vec<Option<AvgAcc>> = vec![None; cells];
                self.feed(input, group_of, |cell, v| {
                    match &mut acc[cell] {
                        Some(a) => a.add(v),
                        slot => *slot = Some(AvgAcc::new(v)),
                    }
                    count[cell] += 1;
                })?;
                acc.iter().map(|a| a.map_or(f64::NAN, |a| a.value())).collect()
            }
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                let mut acc: Vec<Option<VarAcc>> = vec![None; cells];
                self.feed(input, group_of, |cell, v| {
                    match &mut acc[cell] {
                        Some(a) => a.add(v),
                        slot => *slot = Some(VarAcc::new(v)),
                    }
                    count[cell] += 1;
                })?;
                acc.iter()
                    .map(|a| a.map_or(f64::NAN, |a| if op == AggregateOp::Stddev { a.stddev() } else { a.stdvar() }))
                    .collect()
            }
            AggregateOp::Count | AggregateOp::Group => {
                self.feed(input, group_of, |cell, _| count[cell] += 1)?;
                count.iter().map(|&c| if op == AggregateOp::Count { c as f64 } else { 1.0 }).collect()
            }
            AggregateOp::Min | AggregateOp::Max => {
                let mut acc: Vec<Option<MinMaxAcc>> = vec![None; cells];
                let max = op == AggregateOp::Max;
                self.feed(input, group_of, |cell, v| {
                    match &mut acc[cell] {
                        Some(a) => a.add(v),
                        slot => *slot = Some(if max { MinMaxAcc::max(v) } else { MinMaxAcc::min(v) }),
                    }
                    count[cell] += 1;
                })?;
                acc.iter().map(|a| a.map_or(f64::NAN, |a| a.value())).collect()
            }
            _ => unreachable!("not a simple aggregation"),
        };
        let mut out = Vec::with_capacity(groups.len());
        for (g, (labels, drop)) in groups.iter().enumerate() {
            let mut points = Vec::new();
            for step in 0..steps {
                let cell = g * steps + step;
                if count[cell] > 0 {
                    points.push(pharos_storage::tsdb::Sample { t: self.step_time(step), v: out_values[cell] });
                }
            }
            if !points.is_empty() {
                out.push(Series { labels: labels.clone(), drop_name: *drop, points });
            }
        }
        Ok(out)
    }

    /// Call `f(cell, value)` for every input point, cell = group × steps + step.
    fn feed(&self, input: &[Series], group_of: &[usize], mut f: impl FnMut(usize, f64)) -> Result<(), EvalError> {
        let steps = self.steps();
        for (s, series) in input.iter().enumerate() {
            self.ctx.check("aggregation")?;
            let base = group_of[s] * steps;
            for p in &series.points {
                f(base + self.step_index(p.t), p.v);
            }
        }
        Ok(())
    }

    fn quantile_aggregation(
        &self,
        a: &Aggregate,
        q: &[f64],
        input: &[Series],
        group_of: &[usize],
        groups: &[(Labels, bool)],
    ) -> Result<Vec<Series>, EvalError> {
        let per_step = by_step(self, input);
        let mut out = SeriesCollector::new();
        let ids: Vec<usize> = groups.iter().map(|(l, d)| out.series_for(l.clone(), *d)).collect();
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); groups.len()];
        let span = a.param.as_ref().map(|p| p.span()).unwrap_or(a.span);
        self.warn_invalid_quantiles(q, span);
        for (step, samples) in per_step.iter().enumerate() {
            if samples.is_empty() {
                continue;
            }
            let qv = q[step];
            for v in values.iter_mut() {
                v.clear();
            }
            for &(i, v) in samples {
                values[group_of[i]].push(v);
            }
            let t = self.step_time(step);
            for (g, vals) in values.iter_mut().enumerate() {
                if !vals.is_empty() {
                    out.push(ids[g], t, quantile(qv, vals))?;
                }
            }
        }
        Ok(out.finish())
    }

    fn count_values(
        &self,
        label: &str,
        input: &[Series],
        group_of: &[usize],
        groups: &[(Labels, bool)],
    ) -> Result<Vec<Series>, EvalError> {
        if !valid_label_name(label) {
            return exec_err(format!("invalid label name {label:?}"));
        }
        let per_step = by_step(self, input);
        let mut out = SeriesCollector::new();
        let mut cache: FxHashMap<(usize, u64), usize> = FxHashMap::default();
        for (step, samples) in per_step.iter().enumerate() {
            let mut counts: Vec<((usize, u64), f64)> = Vec::new();
            let mut slot: FxHashMap<(usize, u64), usize> = FxHashMap::default();
            for &(i, v) in samples {
                let key = (group_of[i], v.to_bits());
                match slot.get(&key) {
                    Some(&k) => counts[k].1 += 1.0,
                    None => {
                        slot.insert(key, counts.len());
                        counts.push((key, 1.0));
                    }
                }
            }
            let t = self.step_time(step);
            for ((g, bits), n) in counts {
                let idx = match cache.get(&(g, bits)) {
                    Some(&idx) => idx,
                    None => {
                        let mut pairs: Vec<Label> = groups[g].0.iter().filter(|l| l.name != label).cloned().collect();
                        pairs.push(Label::new(label, format_go_float(f64::from_bits(bits))));
                        pairs.sort_by(|a, b| a.name.cmp(&b.name));
                        let idx = out.series_for(labels_from_sorted(pairs), false);
                        cache.insert((g, bits), idx);
                        idx
                    }
                };
                out.push(idx, t, n)?;
            }
        }
        Ok(out.finish())
    }

    /// topk, bottomk, limitk, limit_ratio: the chosen input series keep their labels.
    fn select_k(
        &self,
        op: AggregateOp,
        k: &[f64],
        input: Vec<Series>,
        group_of: &[usize],
        n_groups: usize,
    ) -> Result<Vec<Series>, EvalError> {
        // Checked once for the whole range, as Prometheus does.
        let max = k.iter().copied().filter(|v| !v.is_nan()).fold(f64::NEG_INFINITY, f64::max);
        let min = k.iter().copied().filter(|v| !v.is_nan()).fold(f64::INFINITY, f64::min);
        if op == AggregateOp::LimitRatio {
            return exec_err("limit_ratio is an experimental function that is not supported");
        }
        if max < 1.0 && !k.iter().all(|v| v.is_nan()) {
            return Ok(Vec::new());
        }
        if k.iter().any(|v| v.is_nan()) {
            return exec_err("Parameter value is NaN");
        }
        if min <= -9.223372036854776e18 {
            return exec_err(format!("Scalar value {} underflows int64", format_go_float(min)));
        }
        if max >= 9.223372036854775e18 {
            return exec_err(format!("Scalar value {} overflows int64", format_go_float(max)));
        }
        let per_step = by_step(self, &input);
        let mut chosen: Vec<Vec<pharos_storage::tsdb::Sample>> = vec![Vec::new(); input.len()];
        let mut members: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_groups];
        // Output order for instant queries: groups in order of appearance, best first.
        let mut order: Vec<usize> = Vec::new();
        for (step, samples) in per_step.iter().enumerate() {
            if samples.is_empty() {
                continue;
            }
            let kv = k[step];
            for m in members.iter_mut() {
                m.clear();
            }
            let mut group_seen: Vec<usize> = Vec::new();
            for &(i, v) in samples {
                if members[group_of[i]].is_empty() {
                    group_seen.push(group_of[i]);
                }
                members[group_of[i]].push((i, v));
            }
            let t = self.step_time(step);
            let take = if kv < 1.0 { 0 } else { (kv as i64).min(input.len() as i64) as usize };
            for g in group_seen {
                let m = &mut members[g];
                match op {
                    AggregateOp::Topk => m.sort_by(|a, b| cmp_desc_nan_last(a.1, b.1)),
                    AggregateOp::Bottomk => m.sort_by(|a, b| cmp_asc_nan_last(a.1, b.1)),
                    _ => {}
                }
                for &(i, v) in m.iter().take(take) {
                    if step == 0 || per_step.len() == 1 {
                        order.push(i);
                    }
                    chosen[i].push(pharos_storage::tsdb::Sample { t, v });
                }
            }
        }
        let mut out: Vec<Series> = Vec::new();
        let mut input: Vec<Option<Series>> = input.into_iter().map(Some).collect();
        let mut emitted = vec![false; input.len()];
        let order_all = order.into_iter().chain(0..chosen.len());
        for i in order_all {
            if emitted[i] || chosen[i].is_empty() {
                continue;
            }
            emitted[i] = true;
            let mut s = input[i].take().expect("each series once");
            s.points = std::mem::take(&mut chosen[i]);
            out.push(s);
        }
        Ok(out)
    }
}

fn cmp_desc_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

fn cmp_asc_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Prometheus 3 accepts any non-empty valid UTF-8 label name. The parser turns invalid UTF-8
/// escapes (`"\xff"`) into U+FFFD, so a replacement character marks a name Prometheus refuses.
pub(crate) fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('\u{FFFD}')
}

// Pharos — query/src/promql/aggregate.rs
