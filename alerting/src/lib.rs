//! Pharos alerting: Prometheus rule files evaluated in-process ([`rules`]) and an
//! Alertmanager-compatible notifier ([`notifier`]: routing, grouping, inhibition, silences, the
//! notification log, email, Slack and webhooks), with the Go-template language both use
//! ([`template`]).
//!
//! The face of the crate is [`Alerting`]: started once with [`AlertingOptions`], re-configured
//! on reload with [`Alerting::apply`] (all files are checked first; an invalid one changes
//! nothing), and served by [`Alerting::router`]: `/api/v1/rules`, `/api/v1/alerts` and the
//! Alertmanager API v2 under `/alertmanager/api/v2`.

mod error;
mod file_glob;
pub mod notifier;
pub mod rules;
pub mod template;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use pharos_proto::BuildInfo;
use pharos_proto::exposition::Registry;
use pharos_storage::Storage;

pub use error::AlertingError;

use notifier::config::{AlertmanagerConfig, default_config, load_config};
use notifier::{Notifier, NotifierOptions};
use rules::{RuleManager, RuleManagerOptions};

/// Everything alerting needs from the configuration, paths already resolved.
#[derive(Clone, Debug)]
pub struct AlertingOptions {
    /// Rule file globs (absolute, or relative to the working directory).
    pub rule_files: Vec<String>,
    pub rules: RuleManagerOptions,
    /// `alertmanager.yml`; `None` runs the notifier with a single receiver that sends nothing.
    pub alertmanager_config: Option<PathBuf>,
    pub notifier: NotifierOptions,
}

/// Rules and notifier, running.
pub struct Alerting {
    rules: Arc<RuleManager>,
    notifier: Arc<Notifier>,
}

impl Alerting {
    /// Load every file, open the notifier's state and start evaluating. Must run inside a tokio
    /// runtime; an invalid file is an error (as Prometheus refuses to start with one).
    pub fn start(
        options: &AlertingOptions,
        storage: &Storage,
        engine: Arc<pharos_query::promql::EngineOptions>,
        registry: &Registry,
        build_info: Arc<BuildInfo>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Arc<Alerting>, AlertingError> {
        let config = alertmanager_config(options)?;
        let notifier = Notifier::open(options.notifier.clone(), config, registry, build_info)
            .map_err(|e| AlertingError::InvalidConfig(e.to_string()))?;
        let sink: Arc<dyn rules::AlertSink> = notifier.clone();
        let rules = RuleManager::new(storage.tsdb().clone(), engine, options.rules.clone(), sink);
        rules.update(&rule_files(&options.rule_files)?).map_err(rule_errors)?;
        tokio::spawn(rules.clone().run(stop));
        Ok(Arc::new(Alerting { rules, notifier }))
    }

    /// Take a new configuration: the alertmanager.yml, its templates and every rule file are
    /// checked before anything changes.
    pub fn apply(&self, options: &AlertingOptions) -> Result<(), AlertingError> {
        let config = alertmanager_config(options)?;
        Notifier::check_config(&config).map_err(|e| AlertingError::InvalidConfig(e.to_string()))?;
        self.rules.update(&rule_files(&options.rule_files)?).map_err(rule_errors)?;
        self.notifier.apply_config(config).map_err(|e| AlertingError::InvalidConfig(e.to_string()))
    }

    /// Check every file the options name without starting anything (`pharos check-config`):
    /// the rule files and the alertmanager.yml with its templates. Returns a summary line.
    pub fn check(options: &AlertingOptions) -> Result<String, AlertingError> {
        let config = alertmanager_config(options)?;
        Notifier::check_config(&config).map_err(|e| AlertingError::InvalidConfig(e.to_string()))?;
        let files = rules::load_rule_files(&rule_files(&options.rule_files)?).map_err(rule_errors)?;
        let rules: usize = files.iter().flat_map(|f| &f.groups).map(|g| g.rules.len()).sum();
        let receivers = config.receivers.len();
        Ok(format!("{} rule files with {rules} rules, {receivers} receivers", files.len()))
    }

    /// `/api/v1/rules`, `/api/v1/alerts` and `/alertmanager/…`.
    pub fn router(&self) -> Router {
        rules::router(self.rules.clone())
            .nest(pharos_proto::prefix::ALERTMANAGER, notifier::api_v2::router(self.notifier.clone()))
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }
}

fn alertmanager_config(options: &AlertingOptions) -> Result<AlertmanagerConfig, AlertingError> {
    match &options.alertmanager_config {
        Some(path) => load_config(path).map_err(|e| AlertingError::InvalidConfig(e.to_string())),
        None => Ok(default_config()),
    }
}

fn rule_files(patterns: &[String]) -> Result<Vec<PathBuf>, AlertingError> {
    let mut files = Vec::new();
    for pattern in patterns {
        let matched = file_glob::expand_glob(pattern)
            .map_err(|e| AlertingError::InvalidConfig(format!("rule_files {pattern:?}: {e}")))?;
        files.extend(matched);
    }
    Ok(files)
}

fn rule_errors(errors: Vec<rules::RuleFileError>) -> AlertingError {
    AlertingError::InvalidConfig(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
}

// Pharos — alerting/src/lib.rs
