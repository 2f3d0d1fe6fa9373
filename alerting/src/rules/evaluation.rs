//! Evaluating one rule group at one timestamp, as Prometheus' `rules/group.go`,
//! `rules/alerting.go` and `rules/recording.go` do.
//!
//! Rules of a group run in order at the same timestamp. A recording rule writes its result under
//! its record name; an alerting rule turns each result series into an alert (inactive → pending
//! → firing → resolved), writes `ALERTS` and `ALERTS_FOR_STATE`, and hands the alerts due for
//! (re)sending to the [`AlertSink`]. Series written by the previous evaluation and missing from
//! this one get Prometheus' stale marker.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use pharos_query::promql::{self, CancelToken, EngineOptions, QuerySpec, QueryValue};
use pharos_storage::tsdb::{Label, Labels, Matcher, STALE_NAN_BITS, Sample, SeriesWrite, Tsdb, WriteBatch};

use super::file::{Rule, RuleGroup, RuleKind};
use crate::notifier::model::{Alert, Fingerprint, LabelSet};
use crate::template::{QuerySample, RuleTemplateData, expand_rule_template, go_query_escape};

/// How long a resolved alert is kept, and re-sent, after it resolved (Prometheus: 15m).
const RESOLVED_RETENTION_NS: i64 = 15 * 60 * 1_000_000_000;

/// Where alerts go: Pharos' own notifier, in the binary.
pub trait AlertSink: Send + Sync {
    fn send(&self, alerts: Vec<Alert>);
}

/// Settings of rule evaluation (Prometheus' flags and `global` settings).
#[derive(Clone, Debug)]
pub struct RuleManagerOptions {
    /// Interval of groups without their own. Default 1m.
    pub evaluation_interval: Duration,
    /// Added to every alert sent (not to `ALERTS`), where the alert lacks the label.
    pub external_labels: BTreeMap<String, String>,
    /// Base of generator URLs and `$externalURL`, without a trailing slash.
    pub external_url: String,
    /// Least time between two sends of an unchanged active alert. Default 1m.
    pub resend_delay: Duration,
    /// Longest outage after which `for` state is still restored. Default 1h.
    pub for_outage_tolerance: Duration,
    /// Least pending time left after a restore; rules with a shorter `for` are not restored.
    /// Default 10m.
    pub for_grace_period: Duration,
}

impl Default for RuleManagerOptions {
    fn default() -> Self {
        RuleManagerOptions {
            evaluation_interval: Duration::from_secs(60),
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            for_outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
        }
    }
}

/// An alert's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule (times in ns, 0 = unset).
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveAlert {
    pub state: AlertState,
    /// Labels of the alert: series labels, group labels, rule labels, `alertname`.
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub value: f64,
    pub active_at: i64,
    pub fired_at: i64,
    pub resolved_at: i64,
    pub last_sent_at: i64,
    pub valid_until: i64,
    pub keep_firing_since: i64,
}

/// How a rule's last evaluation went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleHealth {
    /// `None` before the first evaluation; then whether it succeeded.
    pub ok: Option<bool>,
    pub last_error: String,
    pub last_evaluation: i64,
    pub evaluation_seconds: f64,
}

/// A rule with what its evaluations keep.
#[derive(Clone, Debug)]
pub struct RuleState {
    pub rule: Rule,
    pub health: RuleHealth,
    /// Alerting rules: alerts by the fingerprint of their labels.
    pub alerts: BTreeMap<Fingerprint, ActiveAlert>,
    /// Series written by the last evaluation (for stale markers).
    written: HashSet<Labels>,
}

impl RuleState {
    pub fn new(rule: Rule) -> RuleState {
        RuleState { rule, health: RuleHealth::default(), alerts: BTreeMap::new(), written: HashSet::new() }
    }

    /// The rule's overall state: firing if an alert fires, else pending if one is pending.
    pub fn state(&self) -> AlertState {
        let states = self.alerts.values().map(|a| a.state);
        if states.clone().any(|s| s == AlertState::Firing) {
            AlertState::Firing
        } else if states.clone().any(|s| s == AlertState::Pending) {
            AlertState::Pending
        } else {
            AlertState::Inactive
        }
    }

    /// Take over the alerts and written series of the same rule in a previous configuration.
    pub fn inherit(&mut self, old: &RuleState) {
        self.alerts = old.alerts.clone();
        self.written = old.written.clone();
        self.health = old.health.clone();
    }

    /// Stale markers for every series this rule wrote last (the rule or its group was removed).
    pub fn stale_series(&self, t_ms: i64) -> Vec<SeriesWrite> {
        stale_markers(self.written.iter(), t_ms)
    }
}

/// Prometheus' stale marker at `t_ms` for each series.
fn stale_markers<'a>(series: impl Iterator<Item = &'a Labels>, t_ms: i64) -> Vec<SeriesWrite> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    series.map(|l| SeriesWrite { labels: l.clone(), samples: vec![Sample { t: t_ms, v: stale }] }).collect()
}

/// What evaluation reads and writes.
pub struct EvalContext<'a> {
    pub tsdb: &'a Arc<Tsdb>,
    pub engine: &'a EngineOptions,
    pub options: &'a RuleManagerOptions,
    pub sink: &'a dyn AlertSink,
}

/// One instant query at `t_ms` (the rule's `expr` or a template's `query`).
fn instant_query(ctx: &EvalContext<'_>, text: &str, t_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
    let expr = promql::parse(text).map_err(|e| e.to_string())?;
    let spec = QuerySpec { expr: &expr, text, start: t_ms, end: t_ms, step: 0, lookback_delta: None };
    let result = promql::execute(&**ctx.tsdb, ctx.engine, &spec, &CancelToken::default()).map_err(|e| e.to_string())?;
    match result.value {
        QueryValue::Vector(samples) => Ok(samples.into_iter().map(|s| (s.labels, s.v)).collect()),
        QueryValue::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
        other => Err(format!("rule result is not a vector or scalar: {}", other.result_type())),
    }
}

fn label_set(labels: &Labels) -> LabelSet {
    labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
}

fn to_labels(set: &LabelSet) -> Labels {
    Labels::from_sorted_unchecked(set.iter().map(|(n, v)| Label::new(n.clone(), v.clone())).collect())
}

/// Evaluate every rule of `group` at `t_ns` (already shifted by the query offset). Each rule's
/// samples are appended before the next rule runs, so a rule can read what an earlier rule of the
/// group recorded at this timestamp, as in Prometheus.
pub fn evaluate_group(
    ctx: &EvalContext<'_>,
    group: &RuleGroup,
    interval: Duration,
    rules: &mut [RuleState],
    t_ns: i64,
    restore: bool,
) {
    let t_ms = t_ns.div_euclid(1_000_000);
    for state in rules.iter_mut() {
        let started = std::time::Instant::now();
        let outcome = match state.rule.kind.clone() {
            RuleKind::Recording { record } => evaluate_recording(ctx, group, state, &record, t_ms),
            RuleKind::Alerting { alert, for_duration, keep_firing_for, annotations } => {
                evaluate_alerting(ctx, group, state, &alert, for_duration, keep_firing_for, &annotations, t_ns, restore)
            }
        };
        state.health.last_evaluation = t_ns;
        state.health.evaluation_seconds = started.elapsed().as_secs_f64();
        let series = match outcome {
            Ok(series) => {
                state.health.ok = Some(true);
                state.health.last_error.clear();
                series
            }
            Err(e) => {
                // As Prometheus: a failed evaluation writes nothing, marks nothing stale and
                // sends nothing; the series of the last good one are remembered.
                tracing::warn!(group = %group.name, rule = %state.rule.name(), error = %e, "rule evaluation failed");
                state.health.ok = Some(false);
                state.health.last_error = e;
                continue;
            }
        };
        // Stale markers for what the previous evaluation wrote and this one did not.
        let now_written: HashSet<Labels> = series.iter().map(|s: &SeriesWrite| s.labels.clone()).collect();
        let mut batch =
            WriteBatch { series: stale_markers(state.written.difference(&now_written), t_ms), metadata: Vec::new() };
        state.written = now_written;
        batch.series.extend(series);
        append(ctx.tsdb, &group.name, &batch);
        if matches!(state.rule.kind, RuleKind::Alerting { .. }) {
            send_alerts(ctx, state, interval, t_ns);
        }
    }
}

/// Append rule results; a refused sample is logged, never fatal to the evaluation.
pub fn append(tsdb: &Tsdb, group: &str, batch: &WriteBatch) {
    if batch.series.is_empty() {
        return;
    }
    match tsdb.append(batch) {
        Ok(report) if !report.errors.is_empty() => {
            tracing::warn!(group, errors = ?report.errors, "some rule results were not stored")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(group, error = %e, "cannot store rule results"),
    }
}

fn evaluate_recording(
    ctx: &EvalContext<'_>,
    group: &RuleGroup,
    state: &RuleState,
    record: &str,
    t_ms: i64,
) -> Result<Vec<SeriesWrite>, String> {
    let result = instant_query(ctx, &state.rule.expr, t_ms)?;
    if group.limit > 0 && result.len() as u64 > group.limit {
        return Err(format!("exceeded limit of {} with {} series", group.limit, result.len()));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(result.len());
    for (labels, v) in result {
        let mut set = label_set(&labels);
        for (name, value) in group.labels.iter().chain(&state.rule.labels) {
            set.insert(name.clone(), value.clone());
        }
        set.insert("__name__".to_string(), record.to_string());
        set.retain(|_, v| !v.is_empty());
        let labels = to_labels(&set);
        if !seen.insert(labels.clone()) {
            return Err("vector contains metrics with the same labelset after applying rule labels".to_string());
        }
        out.push(SeriesWrite { labels, samples: vec![Sample { t: t_ms, v }] });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn evaluate_alerting(
    ctx: &EvalContext<'_>,
    group: &RuleGroup,
    state: &mut RuleState,
    name: &str,
    for_duration: Duration,
    keep_firing_for: Duration,
    annotation_templates: &BTreeMap<String, String>,
    t_ns: i64,
    restore: bool,
) -> Result<Vec<SeriesWrite>, String> {
    let t_ms = t_ns.div_euclid(1_000_000);
    let result = instant_query(ctx, &state.rule.expr, t_ms)?;
    let template_name = format!("__alert_{name}");
    let query = |text: &str| -> Result<Vec<QuerySample>, String> {
        instant_query(ctx, text, t_ms)
            .map(|rows| rows.into_iter().map(|(l, value)| QuerySample { labels: label_set(&l), value }).collect())
    };
    let mut current: HashMap<Fingerprint, (LabelSet, LabelSet, f64)> = HashMap::new();
    for (labels, value) in result {
        let series = label_set(&labels);
        let data = RuleTemplateData {
            labels: &series,
            value,
            external_labels: &ctx.options.external_labels,
            external_url: &ctx.options.external_url,
        };
        let expand = |text: &str| match expand_rule_template(&template_name, text, &data, &query) {
            Ok(out) => out,
            // Prometheus sends the error text in place of the value.
            Err(e) => format!("<error expanding template: {e}>"),
        };
        let mut alert_labels = series.clone();
        alert_labels.remove("__name__");
        for (n, v) in &group.labels {
            alert_labels.insert(n.clone(), v.clone());
        }
        for (n, v) in &state.rule.labels {
            alert_labels.insert(n.clone(), expand(v));
        }
        alert_labels.insert("alertname".to_string(), name.to_string());
        alert_labels.retain(|_, v| !v.is_empty());
        let annotations: LabelSet = annotation_templates.iter().map(|(n, v)| (n.clone(), expand(v))).collect();
        let fp = Fingerprint::of(&alert_labels);
        if current.insert(fp, (alert_labels, annotations, value)).is_some() {
            return Err("vector contains metrics with the same labelset after applying alert labels".to_string());
        }
    }

    for (fp, (labels, annotations, value)) in &current {
        match state.alerts.get_mut(fp) {
            Some(alert) if alert.state != AlertState::Inactive => {
                alert.value = *value;
                alert.annotations = annotations.clone();
            }
            _ => {
                state.alerts.insert(
                    *fp,
                    ActiveAlert {
                        state: AlertState::Pending,
                        labels: labels.clone(),
                        annotations: annotations.clone(),
                        value: *value,
                        active_at: t_ns,
                        fired_at: 0,
                        resolved_at: 0,
                        last_sent_at: 0,
                        valid_until: 0,
                        keep_firing_since: 0,
                    },
                );
            }
        }
    }

    let hold = i64::try_from(for_duration.as_nanos()).unwrap_or(i64::MAX);
    let keep = i64::try_from(keep_firing_for.as_nanos()).unwrap_or(i64::MAX);
    let mut active_or_pending = 0u64;
    let mut remove = Vec::new();
    for (fp, alert) in state.alerts.iter_mut() {
        if !current.contains_key(fp) {
            let mut keep_firing = false;
            if alert.state == AlertState::Firing && keep > 0 {
                if alert.keep_firing_since == 0 {
                    alert.keep_firing_since = t_ns;
                }
                keep_firing = t_ns - alert.keep_firing_since < keep;
            }
            if alert.state == AlertState::Pending
                || (alert.resolved_at != 0 && t_ns - alert.resolved_at > RESOLVED_RETENTION_NS)
            {
                remove.push(*fp);
            }
            if alert.state != AlertState::Inactive && !keep_firing {
                alert.state = AlertState::Inactive;
                alert.resolved_at = t_ns;
            }
            if !keep_firing {
                continue;
            }
        } else {
            alert.keep_firing_since = 0;
        }
        active_or_pending += 1;
        if alert.state == AlertState::Pending && t_ns - alert.active_at >= hold {
            alert.state = AlertState::Firing;
            alert.fired_at = t_ns;
        }
    }
    for fp in remove {
        state.alerts.remove(&fp);
    }
    if group.limit > 0 && active_or_pending > group.limit {
        state.alerts.clear();
        return Err(format!("exceeded limit of {} with {} alerts", group.limit, active_or_pending));
    }

    if restore {
        restore_for_state(ctx, state, t_ns);
    }
    let mut series = Vec::new();
    for alert in state.alerts.values().filter(|a| a.state != AlertState::Inactive) {
        let mut alerts = alert.labels.clone();
        alerts.insert("__name__".to_string(), "ALERTS".to_string());
        alerts.insert("alertstate".to_string(), alert.state.as_str().to_string());
        series.push(SeriesWrite { labels: to_labels(&alerts), samples: vec![Sample { t: t_ms, v: 1.0 }] });
        let mut for_state = alert.labels.clone();
        for_state.insert("__name__".to_string(), "ALERTS_FOR_STATE".to_string());
        let active_seconds = alert.active_at.div_euclid(1_000_000_000) as f64;
        series
            .push(SeriesWrite { labels: to_labels(&for_state), samples: vec![Sample { t: t_ms, v: active_seconds }] });
    }
    Ok(series)
}

/// A rule's expression as Prometheus prints it back (the loader checked that it parses).
pub fn canonical(expr: &str) -> String {
    promql::parse(expr).map_or_else(|_| expr.to_string(), |e| e.to_string())
}

/// Send the alerts due: firing ones every `resend_delay`, resolved ones once at once.
fn send_alerts(ctx: &EvalContext<'_>, state: &mut RuleState, interval: Duration, t_ns: i64) {
    let resend = i64::try_from(ctx.options.resend_delay.as_nanos()).unwrap_or(i64::MAX);
    let delta = i64::try_from(interval.max(ctx.options.resend_delay).as_nanos()).unwrap_or(i64::MAX);
    let generator_url = format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        ctx.options.external_url,
        go_query_escape(&canonical(&state.rule.expr))
    );
    let mut out = Vec::new();
    for alert in state.alerts.values_mut() {
        let due = alert.state != AlertState::Pending
            && (alert.resolved_at > alert.last_sent_at || alert.last_sent_at.saturating_add(resend) < t_ns);
        if !due {
            continue;
        }
        if alert.resolved_at == 0 || alert.state != AlertState::Inactive {
            alert.valid_until = t_ns.saturating_add(delta.saturating_mul(4));
        }
        alert.last_sent_at = t_ns;
        let mut labels = alert.labels.clone();
        for (n, v) in &ctx.options.external_labels {
            labels.entry(n.clone()).or_insert_with(|| v.clone());
        }
        let resolved = alert.state == AlertState::Inactive;
        out.push(Alert {
            labels,
            annotations: alert.annotations.clone(),
            starts_at: alert.fired_at,
            ends_at: if resolved { alert.resolved_at } else { alert.valid_until },
            updated_at: t_ns,
            generator_url: generator_url.clone(),
            timeout: false,
        });
    }
    if !out.is_empty() {
        ctx.sink.send(out);
    }
}

/// Restore `for` timers after a restart (Prometheus' `RestoreForState`), on the first evaluation
/// after start: for each pending alert of a rule whose `for` is at least the grace period, the last `ALERTS_FOR_STATE` sample within
/// the outage tolerance gives the original ActiveAt, shifted by the time Pharos was down.
fn restore_for_state(ctx: &EvalContext<'_>, state: &mut RuleState, t_ns: i64) {
    let grace = i64::try_from(ctx.options.for_grace_period.as_nanos()).unwrap_or(i64::MAX);
    let tolerance = i64::try_from(ctx.options.for_outage_tolerance.as_nanos()).unwrap_or(i64::MAX);
    let (mint, maxt) = ((t_ns - tolerance).div_euclid(1_000_000), t_ns.div_euclid(1_000_000));
    {
        let RuleKind::Alerting { for_duration, .. } = &state.rule.kind else { return };
        let hold = i64::try_from(for_duration.as_nanos()).unwrap_or(i64::MAX);
        if hold < grace {
            return;
        }
        for alert in state.alerts.values_mut().filter(|a| a.state == AlertState::Pending) {
            let mut matchers = vec![Matcher::equal("__name__", "ALERTS_FOR_STATE")];
            matchers.extend(alert.labels.iter().map(|(n, v)| Matcher::equal(n.clone(), v.clone())));
            let expected_len = alert.labels.len() + 1;
            let series = match ctx.tsdb.select(&matchers, mint, maxt) {
                Ok(series) => series,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read ALERTS_FOR_STATE to restore alert state");
                    return;
                }
            };
            // Exact label sets only (equality matchers also select series with more labels).
            let Some(last) = series
                .iter()
                .filter(|s| s.labels.len() == expected_len)
                .flat_map(|s| s.samples.iter())
                .filter(|s| s.t < maxt)
                .max_by_key(|s| s.t)
            else {
                continue;
            };
            if pharos_storage::tsdb::is_stale_nan(last.v) {
                // The alert had ended before Pharos stopped: its timer starts afresh.
                continue;
            }
            let down_at = last.t * 1_000_000;
            let mut restored = (last.v as i64).saturating_mul(1_000_000_000);
            let remaining = hold - (down_at - restored);
            if remaining <= 0 {
                // It was firing when Pharos stopped; this evaluation's result decides.
            } else if remaining < grace {
                restored = t_ns + grace - hold;
            } else {
                restored += t_ns - down_at;
            }
            alert.active_at = restored;
        }
    }
}

// Pharos — alerting/src/rules/evaluation.rs
