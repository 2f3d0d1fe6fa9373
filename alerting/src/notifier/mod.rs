//! The Alertmanager-compatible notifier: `alertmanager.yml`, alerts from Pharos' rules and from
//! other Prometheus servers, routing, grouping, inhibition, silences, the notification log and the
//! receivers (email, Slack, webhook).
//!
//! Flow: an alert (from [`crate::rules`] through [`AlertSink`], or `POST /api/v2/alerts`) is
//! stored in the [`alerts::AlertStore`] and handed to the [`dispatch::Dispatcher`], which puts it
//! into the aggregation groups of the routes it matches; each group's flush runs the
//! [`pipeline::Pipeline`] (time intervals, inhibition, silences, the notification log, templates,
//! delivery with retries). Silences and the notification log are files in
//! `<data_dir>/alertmanager/` (`docs/format/alerting.md`).

pub mod alerts;
pub mod api_v2;
pub mod config;
pub mod delivery;
pub mod dispatch;
pub mod inhibit;
pub mod model;
pub mod nflog;
pub mod notification;
pub mod pipeline;
pub mod silences;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pharos_proto::BuildInfo;
use pharos_proto::civil_time::now_nanos;
use pharos_proto::exposition::{Gauge, Registry};

use self::alerts::{AlertError, AlertStore, complete_posted};
use self::config::AlertmanagerConfig;
use self::dispatch::Dispatcher;
use self::model::Alert;
use self::nflog::Nflog;
use self::pipeline::{NotifierMetrics, Pipeline};
use self::silences::Silences;
use crate::template::Templates;

/// Why the notifier could not start or take a configuration.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("templates: {0}")]
    Template(String),
    #[error(transparent)]
    Silences(#[from] silences::SilenceError),
    #[error(transparent)]
    Nflog(#[from] nflog::NflogError),
    #[error(transparent)]
    Alerts(#[from] snapshot::SnapshotError),
    #[error("cannot create {}: {source}", path.display())]
    DataDir { path: PathBuf, source: std::io::Error },
}

/// Settings of the notifier that are not in `alertmanager.yml`.
#[derive(Clone, Debug)]
pub struct NotifierOptions {
    /// Where silences and the notification log live (`<data_dir>/alertmanager`).
    pub data_dir: PathBuf,
    /// How long expired silences and notification log entries are kept (Alertmanager's
    /// `--data.retention`, default 120h).
    pub retention: Duration,
    /// The URL notifications link back to (Alertmanager's `--web.external-url`).
    pub external_url: String,
}

/// What one configuration runs with; replaced whole on reload.
struct Running {
    pipeline: Arc<Pipeline>,
    dispatcher: Arc<Dispatcher>,
}

impl Running {
    /// A dispatcher for the pipeline's configuration, fed every stored alert: at start the
    /// alerts from before a restart go back into their groups (firing groups go on, those that
    /// resolved meanwhile are notified as resolved: the notification log knows them); on reload
    /// the new routes take over every alert, as Alertmanager re-subscribes to its alert store.
    fn start(pipeline: Pipeline) -> Running {
        warn_unsupported(&pipeline.config);
        let pipeline = Arc::new(pipeline);
        let dispatcher = Dispatcher::new(Arc::new(pipeline.config.route.clone()), pipeline.clone());
        for alert in pipeline.alerts.list() {
            dispatcher.insert(&alert);
        }
        Running { pipeline, dispatcher }
    }
}

/// The notifier. Shared as `Arc`; [`Notifier::open`] must run inside a tokio runtime.
pub struct Notifier {
    alerts: Arc<AlertStore>,
    silences: Arc<Silences>,
    nflog: Arc<Nflog>,
    options: NotifierOptions,
    running: RwLock<Running>,
    build_info: Arc<BuildInfo>,
    started: Instant,
    alert_gauge: Gauge,
    silence_gauge: Gauge,
}

impl Notifier {
    /// Open the silences and the notification log and start with `config`.
    pub fn open(
        options: NotifierOptions,
        config: AlertmanagerConfig,
        registry: &Registry,
        build_info: Arc<BuildInfo>,
    ) -> Result<Arc<Notifier>, NotifierError> {
        std::fs::create_dir_all(&options.data_dir)
            .map_err(|source| NotifierError::DataDir { path: options.data_dir.clone(), source })?;
        let silences = Arc::new(Silences::open(&options.data_dir.join("silences"), options.retention)?);
        let nflog = Arc::new(Nflog::open(&options.data_dir.join("nflog"), options.retention)?);
        let alerts = Arc::new(AlertStore::open(&options.data_dir.join("alerts"))?);
        let metrics = Arc::new(NotifierMetrics::new(registry));
        let running = Running::start(Pipeline {
            templates: Arc::new(load_templates(&config)?),
            config: Arc::new(config),
            alerts: alerts.clone(),
            silences: silences.clone(),
            nflog: nflog.clone(),
            metrics,
            external_url: options.external_url.clone(),
        });
        let notifier = Arc::new(Notifier {
            alerts,
            silences,
            nflog,
            options,
            running: RwLock::new(running),
            build_info,
            started: Instant::now(),
            alert_gauge: registry.gauge("alertmanager_alerts", "How many alerts by state.", &["state"]),
            silence_gauge: registry.gauge("alertmanager_silences", "How many silences by state.", &["state"]),
        });
        tokio::spawn(maintenance(Arc::downgrade(&notifier)));
        tokio::spawn(persist_alerts(Arc::downgrade(&notifier)));
        Ok(notifier)
    }

    /// Check what `apply_config` would check (the templates it names load), changing nothing.
    pub fn check_config(config: &AlertmanagerConfig) -> Result<(), NotifierError> {
        load_templates(config).map(|_| ())
    }

    /// Check a new configuration and, if it is valid (templates included), run with it: a new
    /// dispatcher is fed every stored alert. An invalid one changes nothing.
    pub fn apply_config(&self, config: AlertmanagerConfig) -> Result<(), NotifierError> {
        let current = self.running.read().expect("notifier lock").pipeline.clone();
        // Same stores, metrics and URL; new routes, receivers and templates.
        let pipeline = Pipeline {
            templates: Arc::new(load_templates(&config)?),
            config: Arc::new(config),
            ..Pipeline::clone(&current)
        };
        let old = std::mem::replace(&mut *self.running.write().expect("notifier lock"), Running::start(pipeline));
        old.dispatcher.stop();
        Ok(())
    }

    /// Take alerts as `POST /api/v2/alerts` does: each is completed (`resolve_timeout` for a
    /// missing end), validated, stored and dispatched; invalid ones are reported and skipped.
    pub fn receive(&self, alerts: Vec<Alert>) -> Vec<(usize, AlertError)> {
        let now = now_nanos();
        let running = self.running.read().expect("notifier lock");
        let resolve_timeout =
            i64::try_from(running.pipeline.config.global.resolve_timeout.as_nanos()).unwrap_or(i64::MAX);
        let mut errors = Vec::new();
        for (i, alert) in alerts.into_iter().enumerate() {
            match complete_posted(alert, now, resolve_timeout) {
                Ok(alert) => {
                    let stored = self.alerts.put(alert, now);
                    running.dispatcher.insert(&stored);
                }
                Err(e) => errors.push((i, e)),
            }
        }
        errors
    }

    pub fn config(&self) -> Arc<AlertmanagerConfig> {
        self.running.read().expect("notifier lock").pipeline.config.clone()
    }

    pub fn dispatcher(&self) -> Arc<Dispatcher> {
        self.running.read().expect("notifier lock").dispatcher.clone()
    }

    pub fn alerts(&self) -> &Arc<AlertStore> {
        &self.alerts
    }

    pub fn silences(&self) -> &Arc<Silences> {
        &self.silences
    }

    pub fn build_info(&self) -> &BuildInfo {
        &self.build_info
    }

    pub fn uptime_started(&self) -> Instant {
        self.started
    }

    pub fn external_url(&self) -> &str {
        &self.options.external_url
    }
}

impl crate::rules::AlertSink for Notifier {
    fn send(&self, alerts: Vec<Alert>) {
        for (i, e) in self.receive(alerts) {
            tracing::warn!(alert = i, error = %e, "an alert from the rules was refused");
        }
    }
}

fn load_templates(config: &AlertmanagerConfig) -> Result<Templates, NotifierError> {
    let mut templates = Templates::with_defaults();
    for pattern in &config.templates {
        templates.add_glob(pattern).map_err(|e| NotifierError::Template(e.to_string()))?;
    }
    Ok(templates)
}

fn warn_unsupported(config: &AlertmanagerConfig) {
    for receiver in &config.receivers {
        for kind in &receiver.unsupported {
            tracing::warn!(receiver = %receiver.name, kind = %kind, "receiver integration not supported by Pharos; it is ignored");
        }
    }
}

/// Every 2 seconds, the alert store's snapshot if it changed.
async fn persist_alerts(notifier: std::sync::Weak<Notifier>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let Some(notifier) = notifier.upgrade() else { return };
        let path = notifier.options.data_dir.join("alerts");
        let alerts = notifier.alerts.clone();
        let result = tokio::task::spawn_blocking(move || alerts.persist(&path)).await;
        if let Ok(Err(e)) = result {
            tracing::error!(error = %e, "cannot write the notifier's alerts");
        }
    }
}

/// Every 15 minutes (Alertmanager: 30 for alerts, 15 for silences and the log): drop resolved
/// alerts, expired silences and log entries past retention; refresh the gauges each minute.
async fn maintenance(notifier: std::sync::Weak<Notifier>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut minutes = 0u64;
    loop {
        tick.tick().await;
        let Some(notifier) = notifier.upgrade() else { return };
        let now = now_nanos();
        minutes += 1;
        if minutes.is_multiple_of(15) {
            notifier.alerts.gc(now);
            notifier.silences.gc(now);
            notifier.nflog.gc(now);
        }
        let (firing, _) = notifier.alerts.counts(now);
        let suppressed = notifier
            .alerts
            .list()
            .iter()
            .filter(|a| !a.resolved_at(now) && !notifier.silences.mutes(&a.labels, now).is_empty())
            .count();
        notifier.alert_gauge.with(&["active"]).set((firing - suppressed) as f64);
        notifier.alert_gauge.with(&["suppressed"]).set(suppressed as f64);
        let silences = notifier.silences.list();
        for state in ["pending", "active", "expired"] {
            let count = silences.iter().filter(|s| silences::silence_state(s, now).as_str() == state).count();
            notifier.silence_gauge.with(&[state]).set(count as f64);
        }
    }
}

// Pharos — alerting/src/notifier/mod.rs
