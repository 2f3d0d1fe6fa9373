//! `alertmanager.yml`: an unchanged Alertmanager configuration file, loaded and validated as
//! strictly as `amtool check-config` (Alertmanager 0.25), into the model the notifier runs on.
//!
//! Loading fails on the first problem: YAML and schema errors (unknown or misspelt fields, wrong
//! types, duplicate keys) are [`ConfigError::Parse`] with line, column and key path; semantic
//! problems (undefined receivers, missing SMTP settings, bad matchers, …) are
//! [`ConfigError::Invalid`] with Alertmanager's wording. Defaults and `global` settings are applied
//! here, so the notifier never looks at `global` again except for `resolve_timeout`.
//!
//! Fields newer than 0.25 that Pharos accepts: webhook `url_file` and `timeout`, TLS `ca`/`cert`/
//! `key`, HTTP `no_proxy`/`proxy_from_environment`. Integrations Pharos does not implement are
//! accepted and listed in [`Receiver::unsupported`].

mod file;
mod matchers;
mod receiver;
mod route;
mod time_interval;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pharos_storage::tsdb::Matcher;

pub use matchers::{matcher_text, matchers_text, parse_matcher, parse_matchers};
pub use receiver::{
    Authorization, BasicAuth, DEFAULT_EMAIL_SUBJECT, EmailConfig, HostPort, HttpClientConfig, Receiver, SlackAction,
    SlackConfig, SlackConfirm, SlackField, TlsConfig, WebhookConfig,
};
pub use route::{GroupBy, Route};
pub use time_interval::TimeInterval;

/// A validated Alertmanager configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertmanagerConfig {
    pub global: GlobalConfig,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    /// Names unique; every receiver a route names is here.
    pub receivers: Vec<Receiver>,
    /// Template file globs, as written (relative ones are relative to the configuration file).
    pub templates: Vec<String>,
    /// Named time intervals (`time_intervals` and `mute_time_intervals` together).
    pub time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    /// The file text, as `/api/v2/status` shows it.
    pub original: String,
}

impl AlertmanagerConfig {
    /// The receiver named `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// Whether the named time intervals contain `t_nanos` (any interval of any name);
    /// unknown names contain nothing.
    pub fn in_time_intervals(&self, names: &[String], t_nanos: i64) -> bool {
        names.iter().filter_map(|n| self.time_intervals.get(n)).flatten().any(|i| i.contains(t_nanos))
    }
}

/// The `global` section with its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalConfig {
    /// `endsAt` of alerts posted without one is `updatedAt + resolve_timeout`. Default 5m.
    pub resolve_timeout: Duration,
    /// Default HTTP client settings of integrations that set none.
    pub http_config: HttpClientConfig,
    pub smtp_from: String,
    /// Default "localhost".
    pub smtp_hello: String,
    pub smtp_smarthost: HostPort,
    pub smtp_auth_username: String,
    /// From `smtp_auth_password` or the file named by `smtp_auth_password_file`.
    pub smtp_auth_password: String,
    pub smtp_auth_secret: String,
    pub smtp_auth_identity: String,
    /// Default true.
    pub smtp_require_tls: bool,
    /// From `slack_api_url` or `slack_api_url_file`.
    pub slack_api_url: String,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: Duration::from_secs(5 * 60),
            http_config: HttpClientConfig::default(),
            smtp_from: String::new(),
            smtp_hello: "localhost".to_string(),
            smtp_smarthost: HostPort::default(),
            smtp_auth_username: String::new(),
            smtp_auth_password: String::new(),
            smtp_auth_secret: String::new(),
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            slack_api_url: String::new(),
        }
    }
}

/// An inhibition rule: while an alert matching `source_matchers` fires, alerts matching
/// `target_matchers` with equal values of the `equal` labels are muted.
#[derive(Clone, Debug, PartialEq)]
pub struct InhibitRule {
    /// `source_match`, `source_match_re` (anchored `^(?:…)$`) and `source_matchers`, in that order.
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Malformed YAML, or YAML that does not fit the schema; `message` starts with the key path.
    #[error("{line}:{column}: {message}")]
    Parse { line: usize, column: usize, message: String },
    /// The file fits the schema but Alertmanager would reject it.
    #[error("{0}")]
    Invalid(String),
}

/// Read and validate a configuration file; relative secret file paths are resolved against the
/// file's directory.
pub fn load_config(path: &Path) -> Result<AlertmanagerConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parse_config_in(&text, base)
}

/// Validate configuration text; relative secret file paths are resolved against the current
/// directory. An empty file is invalid ("no route provided in config"), as in Alertmanager.
pub fn parse_config(text: &str) -> Result<AlertmanagerConfig, ConfigError> {
    parse_config_in(text, Path::new("."))
}

fn parse_config_in(text: &str, base: &Path) -> Result<AlertmanagerConfig, ConfigError> {
    let Some(raw) = file::parse_raw(text)? else {
        return Err(ConfigError::Invalid("no route provided in config".into()));
    };
    validate::validate(raw, base, text.to_string()).map_err(ConfigError::Invalid)
}

/// The name of the receiver of [`default_config`].
pub const DEFAULT_RECEIVER: &str = "default";

/// What Pharos runs with when there is no `alertmanager.yml`: every alert routed to the
/// receiver "default", which has no integrations (alerts are visible in the API, nobody is
/// notified), with Alertmanager's default timers and global settings.
pub fn default_config() -> AlertmanagerConfig {
    let original = format!("route:\n  receiver: {DEFAULT_RECEIVER}\nreceivers:\n- name: {DEFAULT_RECEIVER}\n");
    AlertmanagerConfig {
        global: GlobalConfig::default(),
        route: Route::single(DEFAULT_RECEIVER),
        inhibit_rules: Vec::new(),
        receivers: vec![Receiver {
            name: DEFAULT_RECEIVER.to_string(),
            email_configs: Vec::new(),
            slack_configs: Vec::new(),
            webhook_configs: Vec::new(),
            unsupported: Vec::new(),
        }],
        templates: Vec::new(),
        time_intervals: BTreeMap::new(),
        original,
    }
}

// Pharos — alerting/src/notifier/config/mod.rs
