//! The rule manager: the loaded rule groups, each evaluated on its own schedule (Prometheus'
//! `rules/manager.go`).
//!
//! Each group runs as a task: it evaluates every `interval` at timestamps aligned to the interval
//! with a per-group offset from a hash of its file and name (so a restart keeps the phase), on a
//! blocking thread; missed slots are skipped and counted. [`RuleManager::update`] loads every file
//! first and changes nothing if one is invalid; an unchanged group keeps running, a changed one
//! takes over the alert state of rules with the same name and query, a removed one stops and
//! stale-marks its series.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pharos_proto::civil_time::now_nanos;
use pharos_query::promql::EngineOptions;
use pharos_storage::tsdb::{Tsdb, WriteBatch};
use tokio::sync::{Notify, watch};

use super::evaluation::{AlertSink, EvalContext, RuleManagerOptions, RuleState, append, evaluate_group};
use super::file::{RuleFileError, RuleGroup, load_rule_files};

/// One group with its rules' state.
pub struct GroupRunner {
    pub file: PathBuf,
    pub group: RuleGroup,
    pub interval: Duration,
    pub query_offset: Duration,
    state: Mutex<GroupState>,
    stopped: AtomicBool,
    wake: Notify,
    pub missed_iterations: AtomicU64,
}

/// What the API shows of a group's last evaluation.
#[derive(Clone, Debug)]
pub struct GroupState {
    pub rules: Vec<RuleState>,
    pub last_evaluation: i64,
    pub evaluation_seconds: f64,
    /// The first evaluation after start restores `for` state.
    restored: bool,
}

impl GroupRunner {
    /// Stop evaluating (the group's task ends at its next wake-up).
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn snapshot(&self) -> GroupState {
        self.state.lock().expect("group lock").clone()
    }

    /// The offset of this group's slots within its interval (ns), from a hash of file and name.
    fn offset_ns(&self) -> i64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.file.to_string_lossy().bytes().chain([0xff]).chain(self.group.name.bytes()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let interval = self.interval.as_nanos().max(1) as u64;
        (hash % interval) as i64
    }

    /// The first slot at or after `now` (ns).
    fn next_slot(&self, now: i64) -> i64 {
        let interval = self.interval.as_nanos().max(1) as i64;
        let offset = self.offset_ns();
        let base = now - (now - offset).rem_euclid(interval);
        if base < now { base + interval } else { base }
    }
}

/// Every loaded group, and how to evaluate them.
pub struct RuleManager {
    tsdb: Arc<Tsdb>,
    engine: Arc<EngineOptions>,
    options: RuleManagerOptions,
    sink: Arc<dyn AlertSink>,
    groups: Mutex<Vec<Arc<GroupRunner>>>,
    changed: Notify,
}

impl RuleManager {
    pub fn new(
        tsdb: Arc<Tsdb>,
        engine: Arc<EngineOptions>,
        options: RuleManagerOptions,
        sink: Arc<dyn AlertSink>,
    ) -> Arc<RuleManager> {
        Arc::new(RuleManager { tsdb, engine, options, sink, groups: Mutex::new(Vec::new()), changed: Notify::new() })
    }

    /// Load `files` (already glob-expanded) and run their groups. If any file is invalid, every
    /// error is returned and the running groups are left as they are.
    pub fn update(&self, files: &[PathBuf]) -> Result<(), Vec<RuleFileError>> {
        let loaded = load_rule_files(files)?;
        let mut groups = self.groups.lock().expect("rule groups lock");
        let old: HashMap<(PathBuf, String), Arc<GroupRunner>> =
            groups.iter().map(|g| ((g.file.clone(), g.group.name.clone()), g.clone())).collect();
        let mut next = Vec::new();
        for file in loaded {
            for group in file.groups {
                let interval = group.interval.unwrap_or(self.options.evaluation_interval);
                let query_offset = group.query_offset.unwrap_or_default();
                let previous = old.get(&(file.path.clone(), group.name.clone()));
                if let Some(previous) = previous
                    && previous.group == group
                    && previous.interval == interval
                {
                    next.push(previous.clone());
                    continue;
                }
                let mut rules: Vec<RuleState> = group.rules.iter().cloned().map(RuleState::new).collect();
                let mut restored = false;
                if let Some(previous) = previous {
                    // Stop the old group first; its state lock waits out an evaluation in flight.
                    previous.stop();
                    let old_state = previous.snapshot();
                    restored = old_state.restored;
                    let mut orphans = Vec::new();
                    for old_rule in &old_state.rules {
                        let heir = rules
                            .iter_mut()
                            .find(|r| r.rule.name() == old_rule.rule.name() && r.rule.expr == old_rule.rule.expr);
                        match heir {
                            Some(rule) => rule.inherit(old_rule),
                            None => orphans.push(old_rule),
                        }
                    }
                    // Rules that are gone: their series end now.
                    self.end_series(&group.name, orphans.into_iter());
                }
                next.push(Arc::new(GroupRunner {
                    file: file.path.clone(),
                    group,
                    interval,
                    query_offset,
                    state: Mutex::new(GroupState { rules, last_evaluation: 0, evaluation_seconds: 0.0, restored }),
                    stopped: AtomicBool::new(false),
                    wake: Notify::new(),
                    missed_iterations: AtomicU64::new(0),
                }));
            }
        }
        // Groups that are gone (or replaced) stop; those removed for good stale-mark their series.
        let kept: Vec<*const GroupRunner> = next.iter().map(Arc::as_ptr).collect();
        let replaced: Vec<(PathBuf, String)> = next.iter().map(|g| (g.file.clone(), g.group.name.clone())).collect();
        for group in groups.iter().filter(|g| !kept.contains(&Arc::as_ptr(g))) {
            group.stop();
            if !replaced.contains(&(group.file.clone(), group.group.name.clone())) {
                self.end_series(&group.group.name, group.snapshot().rules.iter());
            }
        }
        *groups = next;
        drop(groups);
        self.changed.notify_one();
        Ok(())
    }

    /// The groups now, in file order.
    pub fn groups(&self) -> Vec<Arc<GroupRunner>> {
        self.groups.lock().expect("rule groups lock").clone()
    }

    /// Start a task per group, and new tasks as [`RuleManager::update`] brings new groups, until
    /// `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut running: Vec<Arc<GroupRunner>> = Vec::new();
        loop {
            let groups = self.groups();
            for group in &groups {
                if !running.iter().any(|r| Arc::ptr_eq(r, group)) {
                    tokio::spawn(self.clone().run_group(group.clone(), stop.clone()));
                }
            }
            running = groups;
            tokio::select! {
                _ = self.changed.notified() => {}
                _ = stop.wait_for(|s| *s) => {
                    for group in &running {
                        group.stop();
                    }
                    return;
                }
            }
        }
    }

    async fn run_group(self: Arc<Self>, group: Arc<GroupRunner>, mut stop: watch::Receiver<bool>) {
        let interval_ns = group.interval.as_nanos().max(1) as i64;
        let mut slot = group.next_slot(now_nanos());
        loop {
            let wait = Duration::from_nanos((slot - now_nanos()).max(0) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = group.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if group.stopped.load(Ordering::Acquire) {
                return;
            }
            let now = now_nanos();
            if now < slot {
                continue;
            }
            let manager = self.clone();
            let runner = group.clone();
            let at = slot;
            let _ = tokio::task::spawn_blocking(move || manager.evaluate(&runner, at)).await;
            // Skip the slots that passed during a slow evaluation.
            let next = slot + interval_ns;
            let now = now_nanos();
            if next <= now {
                let missed = (now - next) / interval_ns + 1;
                group.missed_iterations.fetch_add(missed as u64, Ordering::Relaxed);
                slot = next + missed * interval_ns;
            } else {
                slot = next;
            }
        }
    }

    /// Evaluate one group at slot time `slot_ns` (the query offset is applied here).
    pub fn evaluate(&self, group: &GroupRunner, slot_ns: i64) {
        let started = std::time::Instant::now();
        let ctx = EvalContext { tsdb: &self.tsdb, engine: &self.engine, options: &self.options, sink: &*self.sink };
        let t_ns = slot_ns - i64::try_from(group.query_offset.as_nanos()).unwrap_or(0);
        let mut state = group.state.lock().expect("group lock");
        let restore = !state.restored;
        evaluate_group(&ctx, &group.group, group.interval, &mut state.rules, t_ns, restore);
        state.restored = true;
        state.last_evaluation = t_ns;
        state.evaluation_seconds = started.elapsed().as_secs_f64();
    }

    /// Stale-mark every series the rules wrote last (the rules are gone).
    fn end_series<'a>(&self, group: &str, rules: impl Iterator<Item = &'a RuleState>) {
        let t_ms = now_nanos().div_euclid(1_000_000);
        let series = rules.flat_map(|r| r.stale_series(t_ms)).collect();
        append(&self.tsdb, group, &WriteBatch { series, metadata: Vec::new() });
    }
}

// Pharos — alerting/src/rules/scheduler.rs
