//! The dispatcher: every alert goes to the routes it matches and, within each route, to the
//! aggregation group of its `group_by` label values (Alertmanager's `dispatch/dispatch.go`).
//!
//! Each group is a task. Its first flush comes `group_wait` after the group appeared — at once if
//! an alert that started more than `group_wait` ago arrives before it — and later flushes every
//! `group_interval`. A flush hands the group's alerts to the [`Flush`] (the notification
//! pipeline); after a successful one, resolved alerts that did not change meanwhile leave the
//! group, and an empty group ends. A new configuration gets a new dispatcher, fed every stored
//! alert again, as Alertmanager does on reload.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pharos_proto::civil_time::now_nanos;
use tokio::sync::{Notify, watch};

use super::config::Route;
use super::model::{Alert, Fingerprint, LabelSet};
use pharos_query::promql::go_quote;

/// What a flush is about: one aggregation group of one route.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    /// `<route key>:<group labels>`, Alertmanager's group key (webhook `groupKey`, nflog key).
    pub key: String,
    /// The group's `group_by` label values.
    pub labels: LabelSet,
    pub receiver: String,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
}

/// Where flushes go: returns whether every receiver integration was notified (or had nothing
/// to send); a failed flush keeps resolved alerts for the next one.
pub trait Flush: Send + Sync + 'static {
    fn flush(self: Arc<Self>, group: Arc<GroupInfo>, alerts: Vec<Alert>) -> Pin<Box<dyn Future<Output = bool> + Send>>;
}

/// `{a="b", c="d"}` as Alertmanager prints a label set (Go's `%q` quoting of values).
pub fn label_set_string(labels: &LabelSet) -> String {
    let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={}", go_quote(v))).collect();
    format!("{{{}}}", pairs.join(", "))
}

struct Group {
    info: Arc<GroupInfo>,
    alerts: Mutex<HashMap<Fingerprint, Alert>>,
    flushed: std::sync::atomic::AtomicBool,
    flush_now: Notify,
}

type GroupId = (usize, Fingerprint);

/// Routes alerts into aggregation groups and runs their flush timers.
pub struct Dispatcher {
    route: Arc<Route>,
    flush: Arc<dyn Flush>,
    groups: Mutex<HashMap<GroupId, Arc<Group>>>,
    stop: watch::Sender<bool>,
}

impl Dispatcher {
    pub fn new(route: Arc<Route>, flush: Arc<dyn Flush>) -> Arc<Dispatcher> {
        Arc::new(Dispatcher { route, flush, groups: Mutex::new(HashMap::new()), stop: watch::channel(false).0 })
    }

    /// Put an alert into the group of every route it matches. Must run inside a tokio runtime.
    pub fn insert(self: &Arc<Self>, alert: &Alert) {
        let now = now_nanos();
        for route in self.route.match_alert(&alert.labels) {
            let labels = route.group_labels(&alert.labels);
            let id = (route as *const Route as usize, Fingerprint::of(&labels));
            let mut groups = self.groups.lock().expect("dispatcher lock");
            let group = groups.entry(id).or_insert_with(|| {
                let info = GroupInfo {
                    key: format!("{}:{}", route.key(), label_set_string(&labels)),
                    labels,
                    receiver: route.receiver.clone(),
                    group_wait: route.group_wait,
                    group_interval: route.group_interval,
                    repeat_interval: route.repeat_interval,
                    mute_time_intervals: route.mute_time_intervals.clone(),
                    active_time_intervals: route.active_time_intervals.clone(),
                };
                let group = Arc::new(Group {
                    info: Arc::new(info),
                    alerts: Mutex::new(HashMap::new()),
                    flushed: Default::default(),
                    flush_now: Notify::new(),
                });
                tokio::spawn(self.clone().run_group(id, group.clone()));
                group
            });
            group.alerts.lock().expect("group lock").insert(alert.fingerprint(), alert.clone());
            let wait_ns = i64::try_from(group.info.group_wait.as_nanos()).unwrap_or(i64::MAX);
            if !group.flushed.load(std::sync::atomic::Ordering::Relaxed)
                && alert.starts_at.saturating_add(wait_ns) < now
            {
                group.flush_now.notify_one();
            }
        }
    }

    /// The aggregation groups now: their info and alerts (for `/api/v2/alerts/groups`).
    pub fn groups(&self) -> Vec<(Arc<GroupInfo>, Vec<Alert>)> {
        let groups = self.groups.lock().expect("dispatcher lock");
        let mut list: Vec<(Arc<GroupInfo>, Vec<Alert>)> = groups
            .values()
            .map(|g| {
                let mut alerts: Vec<Alert> = g.alerts.lock().expect("group lock").values().cloned().collect();
                alerts.sort_by_key(Alert::fingerprint);
                (g.info.clone(), alerts)
            })
            .collect();
        list.sort_by(|a, b| a.0.key.cmp(&b.0.key).then_with(|| a.0.receiver.cmp(&b.0.receiver)));
        list
    }

    /// Stop every group task (a new configuration replaces this dispatcher).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    async fn run_group(self: Arc<Self>, id: GroupId, group: Arc<Group>) {
        let mut stop = self.stop.subscribe();
        let mut next = tokio::time::Instant::now() + group.info.group_wait;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = group.flush_now.notified(), if !group.flushed.load(std::sync::atomic::Ordering::Relaxed) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            group.flushed.store(true, std::sync::atomic::Ordering::Relaxed);
            next = tokio::time::Instant::now() + group.info.group_interval;
            let mut alerts: Vec<Alert> = group.alerts.lock().expect("group lock").values().cloned().collect();
            alerts.sort_by_key(Alert::fingerprint);
            // Resolved as the flush sees them: one that resolves while the flush retries was sent
            // as firing and must stay for its resolution to be notified.
            let now = now_nanos();
            let resolved: Vec<Alert> = alerts.iter().filter(|a| a.resolved_at(now)).cloned().collect();
            let ok = !alerts.is_empty() && self.flush.clone().flush(group.info.clone(), alerts).await;
            // Under the dispatcher lock, so an insert never lands in a group that is ending.
            let mut groups = self.groups.lock().expect("dispatcher lock");
            let mut held = group.alerts.lock().expect("group lock");
            if ok {
                for sent in &resolved {
                    let fp = sent.fingerprint();
                    if held.get(&fp).is_some_and(|current| current == sent) {
                        held.remove(&fp);
                    }
                }
            }
            if held.is_empty() {
                groups.remove(&id);
                return;
            }
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::config::parse_config;

    const MS: Duration = Duration::from_millis(1);

    #[derive(Default)]
    struct Recorder {
        flushes: Mutex<Vec<(String, String, Vec<String>)>>,
    }

    impl Flush for Recorder {
        fn flush(
            self: Arc<Self>,
            group: Arc<GroupInfo>,
            alerts: Vec<Alert>,
        ) -> Pin<Box<dyn Future<Output = bool> + Send>> {
            let names = alerts.iter().map(|a| a.labels.get("instance").cloned().unwrap_or_default()).collect();
            self.flushes.lock().unwrap().push((group.key.clone(), group.receiver.clone(), names));
            Box::pin(async { true })
        }
    }

    fn alert(name: &str, instance: &str, starts_at: i64, ends_at: i64) -> Alert {
        Alert {
            labels: [("alertname", name), ("instance", instance)]
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            annotations: LabelSet::new(),
            starts_at,
            ends_at,
            updated_at: starts_at,
            generator_url: String::new(),
            timeout: false,
        }
    }

    fn route(yaml: &str) -> Arc<Route> {
        Arc::new(parse_config(yaml).expect("config").route)
    }

    const CONFIG: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 300ms
  group_interval: 400ms
  routes:
    - receiver: db
      matchers: ['alertname="DbDown"']
      continue: true
    - receiver: db-copy
      matchers: ['alertname=~"Db.*"']
receivers: [{name: team}, {name: db}, {name: db-copy}]
"#;

    #[tokio::test]
    async fn alerts_of_a_group_are_flushed_together_after_group_wait() {
        let recorder = Arc::new(Recorder::default());
        let dispatcher = Dispatcher::new(route(CONFIG), recorder.clone());
        let now = now_nanos();
        let far = now + 3_600_000_000_000;
        dispatcher.insert(&alert("HighLoad", "a", now, far));
        tokio::time::sleep(100 * MS).await;
        dispatcher.insert(&alert("HighLoad", "b", now, far));
        dispatcher.insert(&alert("HighLoad", "c", now, far));
        assert!(recorder.flushes.lock().unwrap().is_empty(), "nothing before group_wait");
        tokio::time::sleep(350 * MS).await;
        let flushes = recorder.flushes.lock().unwrap().clone();
        assert_eq!(
            flushes,
            vec![(
                "{}:{alertname=\"HighLoad\"}".to_string(),
                "team".to_string(),
                vec!["a".into(), "b".into(), "c".into()]
            )]
        );
        assert_eq!(dispatcher.groups().len(), 1);
    }

    #[tokio::test]
    async fn continue_sends_to_the_next_matching_route_too() {
        let recorder = Arc::new(Recorder::default());
        let dispatcher = Dispatcher::new(route(CONFIG), recorder.clone());
        let now = now_nanos();
        // Started long ago: flushed at once instead of after group_wait.
        dispatcher.insert(&alert("DbDown", "x", now - 3_600_000_000_000, now + 3_600_000_000_000));
        tokio::time::sleep(100 * MS).await;
        let mut receivers: Vec<String> = recorder.flushes.lock().unwrap().iter().map(|f| f.1.clone()).collect();
        receivers.sort();
        assert_eq!(receivers, ["db", "db-copy"]);
    }

    #[tokio::test]
    async fn resolved_alerts_leave_after_a_successful_flush_and_empty_groups_end() {
        let recorder = Arc::new(Recorder::default());
        let dispatcher = Dispatcher::new(route(CONFIG), recorder.clone());
        let now = now_nanos();
        dispatcher.insert(&alert("Gone", "a", now - 3_600_000_000_000, now - 1));
        tokio::time::sleep(100 * MS).await;
        assert_eq!(recorder.flushes.lock().unwrap().len(), 1);
        assert!(dispatcher.groups().is_empty(), "the group ended once its resolved alert was notified");
    }
    /// Flushes that take a while, recording whether each alert was resolved when flushed.
    struct SlowRecorder {
        flushes: Mutex<Vec<Vec<bool>>>,
    }

    impl Flush for SlowRecorder {
        fn flush(
            self: Arc<Self>,
            _group: Arc<GroupInfo>,
            alerts: Vec<Alert>,
        ) -> Pin<Box<dyn Future<Output = bool> + Send>> {
            let now = now_nanos();
            self.flushes.lock().unwrap().push(alerts.iter().map(|a| a.resolved_at(now)).collect());
            Box::pin(async {
                tokio::time::sleep(300 * MS).await;
                true
            })
        }
    }

    #[tokio::test]
    async fn regression_an_alert_resolving_during_a_flush_stays_for_its_resolution() {
        let recorder = Arc::new(SlowRecorder { flushes: Mutex::new(Vec::new()) });
        let dispatcher = Dispatcher::new(route(CONFIG), recorder.clone());
        let now = now_nanos();
        // Started long ago (flushed at once), ends 100 ms into that 300 ms flush.
        dispatcher.insert(&alert("Brief", "a", now - 3_600_000_000_000, now + 100_000_000));
        tokio::time::sleep(900 * MS).await;
        let flushes = recorder.flushes.lock().unwrap().clone();
        assert_eq!(flushes.first(), Some(&vec![false]), "first flushed as firing");
        assert_eq!(flushes.get(1), Some(&vec![true]), "kept, then flushed as resolved: {flushes:?}");
        assert!(dispatcher.groups().is_empty(), "then the group ends");
    }
}

// Pharos — alerting/src/notifier/dispatch.rs
