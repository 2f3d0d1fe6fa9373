//! The YAML schema of `alertmanager.yml` as written, before defaults and validation.
//!
//! Every struct denies unknown fields (Alertmanager loads with Go's strict YAML decoding), so a
//! misspelt key is a parse error located by line:column and key path. String fields take any
//! scalar as text and booleans take YAML 1.1's `yes`/`no`/`on`/`off`, as Go's YAML decoder does.
//! Receiver integrations Pharos does not implement (PagerDuty, Opsgenie, …) are accepted as
//! free-form values so real files load; Pharos lists them as unsupported.

use std::collections::BTreeMap;

use pharos_proto::yaml_file::from_yaml;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::ConfigError;

/// Parse the file text into the schema; YAML and schema errors carry line, column and key path.
/// `None` for an empty document (nothing but comments).
pub(super) fn parse_raw(text: &str) -> Result<Option<RawConfig>, ConfigError> {
    from_yaml(text).map_err(|e| ConfigError::Parse { line: e.line, column: e.column, message: e.message })
}

/// A YAML scalar read as text, as Go's YAML decoder does for string fields (`to: 5` is "5").
pub(super) use pharos_proto::yaml_file::YamlText as Scalar;

/// A boolean as YAML 1.1 (Go's decoder) spells it: true/false, yes/no, on/off, y/n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct YamlBool(pub bool);

impl<'de> Deserialize<'de> for YamlBool {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let invalid = |what: &str| serde::de::Error::custom(format!("cannot unmarshal {what} into bool"));
        match Value::deserialize(deserializer)? {
            Value::Bool(b) => Ok(YamlBool(b)),
            Value::String(s) => match s.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => Ok(YamlBool(true)),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
                    Ok(YamlBool(false))
                }
                _ => Err(invalid(&format!("{s:?}"))),
            },
            Value::Null => Ok(YamlBool(false)),
            other => Err(invalid(&format!("{other:?}"))),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub global: Option<RawGlobal>,
    pub route: Option<RawRoute>,
    #[serde(default)]
    pub inhibit_rules: Vec<RawInhibitRule>,
    #[serde(default)]
    pub receivers: Vec<RawReceiver>,
    #[serde(default)]
    pub templates: Vec<Scalar>,
    #[serde(default)]
    pub time_intervals: Vec<RawNamedInterval>,
    /// The older name of `time_intervals`; both share one namespace.
    #[serde(default)]
    pub mute_time_intervals: Vec<RawNamedInterval>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub resolve_timeout: Option<Scalar>,
    pub http_config: Option<RawHttpConfig>,
    pub smtp_from: Option<Scalar>,
    pub smtp_hello: Option<Scalar>,
    pub smtp_smarthost: Option<Scalar>,
    pub smtp_auth_username: Option<Scalar>,
    pub smtp_auth_password: Option<Scalar>,
    pub smtp_auth_password_file: Option<Scalar>,
    pub smtp_auth_secret: Option<Scalar>,
    pub smtp_auth_identity: Option<Scalar>,
    pub smtp_require_tls: Option<YamlBool>,
    pub slack_api_url: Option<Scalar>,
    pub slack_api_url_file: Option<Scalar>,
    // Settings of integrations Pharos does not implement: accepted, URLs checked, otherwise unused.
    pub pagerduty_url: Option<Scalar>,
    pub opsgenie_api_url: Option<Scalar>,
    pub opsgenie_api_key: Option<Scalar>,
    pub opsgenie_api_key_file: Option<Scalar>,
    pub wechat_api_url: Option<Scalar>,
    #[allow(dead_code)] // Accepted so WeChat configurations load; WeChat is not implemented.
    pub wechat_api_secret: Option<Scalar>,
    #[allow(dead_code)]
    pub wechat_api_corp_id: Option<Scalar>,
    pub victorops_api_url: Option<Scalar>,
    pub victorops_api_key: Option<Scalar>,
    pub victorops_api_key_file: Option<Scalar>,
    pub telegram_api_url: Option<Scalar>,
    pub webex_api_url: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub receiver: Option<Scalar>,
    pub group_by: Option<Vec<Scalar>>,
    #[serde(default, rename = "match")]
    pub match_equal: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub match_re: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub matchers: Vec<Scalar>,
    #[serde(rename = "continue")]
    pub continue_matching: Option<YamlBool>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    pub group_wait: Option<Scalar>,
    pub group_interval: Option<Scalar>,
    pub repeat_interval: Option<Scalar>,
    #[serde(default)]
    pub mute_time_intervals: Vec<Scalar>,
    #[serde(default)]
    pub active_time_intervals: Vec<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInhibitRule {
    #[serde(default)]
    pub source_match: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub source_match_re: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub source_matchers: Vec<Scalar>,
    #[serde(default)]
    pub target_match: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub target_match_re: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub target_matchers: Vec<Scalar>,
    #[serde(default)]
    pub equal: Vec<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNamedInterval {
    #[serde(default)]
    pub name: Scalar,
    #[serde(default)]
    pub time_intervals: Vec<RawTimeInterval>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimeInterval {
    pub times: Option<Vec<RawTimeRange>>,
    pub weekdays: Option<Vec<Scalar>>,
    pub days_of_month: Option<Vec<Scalar>>,
    pub months: Option<Vec<Scalar>>,
    pub years: Option<Vec<Scalar>>,
    pub location: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimeRange {
    pub start_time: Option<Scalar>,
    pub end_time: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReceiver {
    #[serde(default)]
    pub name: Scalar,
    #[serde(default)]
    pub email_configs: Vec<RawEmail>,
    #[serde(default)]
    pub slack_configs: Vec<RawSlack>,
    #[serde(default)]
    pub webhook_configs: Vec<RawWebhook>,
    #[serde(default)]
    pub pagerduty_configs: Vec<Value>,
    #[serde(default)]
    pub opsgenie_configs: Vec<Value>,
    #[serde(default)]
    pub wechat_configs: Vec<Value>,
    #[serde(default)]
    pub pushover_configs: Vec<Value>,
    #[serde(default)]
    pub victorops_configs: Vec<Value>,
    #[serde(default)]
    pub sns_configs: Vec<Value>,
    #[serde(default)]
    pub telegram_configs: Vec<Value>,
    #[serde(default)]
    pub discord_configs: Vec<Value>,
    #[serde(default)]
    pub webex_configs: Vec<Value>,
    #[serde(default)]
    pub msteams_configs: Vec<Value>,
}

impl RawReceiver {
    /// The integrations of this receiver that Pharos does not implement, by config key.
    pub fn unsupported(&self) -> Vec<(&'static str, &[Value])> {
        [
            ("pagerduty_configs", &self.pagerduty_configs),
            ("opsgenie_configs", &self.opsgenie_configs),
            ("wechat_configs", &self.wechat_configs),
            ("pushover_configs", &self.pushover_configs),
            ("victorops_configs", &self.victorops_configs),
            ("sns_configs", &self.sns_configs),
            ("telegram_configs", &self.telegram_configs),
            ("discord_configs", &self.discord_configs),
            ("webex_configs", &self.webex_configs),
            ("msteams_configs", &self.msteams_configs),
        ]
        .into_iter()
        .filter(|(_, configs)| !configs.is_empty())
        .map(|(key, configs)| (key, configs.as_slice()))
        .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub send_resolved: Option<YamlBool>,
    pub to: Option<Scalar>,
    pub from: Option<Scalar>,
    pub hello: Option<Scalar>,
    pub smarthost: Option<Scalar>,
    pub auth_username: Option<Scalar>,
    pub auth_password: Option<Scalar>,
    pub auth_password_file: Option<Scalar>,
    pub auth_secret: Option<Scalar>,
    pub auth_identity: Option<Scalar>,
    #[serde(default)]
    pub headers: BTreeMap<String, Scalar>,
    pub html: Option<Scalar>,
    pub text: Option<Scalar>,
    pub require_tls: Option<YamlBool>,
    pub tls_config: Option<RawTlsConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlack {
    pub send_resolved: Option<YamlBool>,
    pub http_config: Option<RawHttpConfig>,
    pub api_url: Option<Scalar>,
    pub api_url_file: Option<Scalar>,
    pub channel: Option<Scalar>,
    pub username: Option<Scalar>,
    pub color: Option<Scalar>,
    pub title: Option<Scalar>,
    pub title_link: Option<Scalar>,
    pub pretext: Option<Scalar>,
    pub text: Option<Scalar>,
    #[serde(default)]
    pub fields: Vec<RawSlackField>,
    pub short_fields: Option<YamlBool>,
    pub footer: Option<Scalar>,
    pub fallback: Option<Scalar>,
    pub callback_id: Option<Scalar>,
    pub icon_emoji: Option<Scalar>,
    pub icon_url: Option<Scalar>,
    pub image_url: Option<Scalar>,
    pub thumb_url: Option<Scalar>,
    pub link_names: Option<YamlBool>,
    pub mrkdwn_in: Option<Vec<Scalar>>,
    #[serde(default)]
    pub actions: Vec<RawSlackAction>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlackField {
    pub title: Option<Scalar>,
    pub value: Option<Scalar>,
    pub short: Option<YamlBool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlackAction {
    #[serde(rename = "type")]
    pub kind: Option<Scalar>,
    pub text: Option<Scalar>,
    pub url: Option<Scalar>,
    pub style: Option<Scalar>,
    pub name: Option<Scalar>,
    pub value: Option<Scalar>,
    pub confirm: Option<RawSlackConfirm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlackConfirm {
    pub text: Option<Scalar>,
    pub title: Option<Scalar>,
    pub ok_text: Option<Scalar>,
    pub dismiss_text: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub send_resolved: Option<YamlBool>,
    pub http_config: Option<RawHttpConfig>,
    pub url: Option<Scalar>,
    /// Newer than Alertmanager 0.25.
    pub url_file: Option<Scalar>,
    pub max_alerts: Option<u64>,
    /// Newer than Alertmanager 0.25.
    pub timeout: Option<Scalar>,
}

/// prometheus/common's `HTTPClientConfig`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttpConfig {
    pub basic_auth: Option<RawBasicAuth>,
    pub authorization: Option<RawAuthorization>,
    /// OAuth 2.0 client credentials; kept as data, not implemented.
    pub oauth2: Option<Value>,
    pub bearer_token: Option<Scalar>,
    pub bearer_token_file: Option<Scalar>,
    pub tls_config: Option<RawTlsConfig>,
    pub proxy_url: Option<Scalar>,
    pub no_proxy: Option<Scalar>,
    pub proxy_from_environment: Option<YamlBool>,
    pub proxy_connect_header: Option<BTreeMap<String, Vec<Scalar>>>,
    pub follow_redirects: Option<YamlBool>,
    pub enable_http2: Option<YamlBool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBasicAuth {
    pub username: Option<Scalar>,
    pub username_file: Option<Scalar>,
    pub password: Option<Scalar>,
    pub password_file: Option<Scalar>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthorization {
    #[serde(rename = "type")]
    pub kind: Option<Scalar>,
    pub credentials: Option<Scalar>,
    pub credentials_file: Option<Scalar>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTlsConfig {
    pub ca: Option<Scalar>,
    pub ca_file: Option<Scalar>,
    pub cert: Option<Scalar>,
    pub cert_file: Option<Scalar>,
    pub key: Option<Scalar>,
    pub key_file: Option<Scalar>,
    pub server_name: Option<Scalar>,
    pub insecure_skip_verify: Option<YamlBool>,
    pub min_version: Option<Scalar>,
    pub max_version: Option<Scalar>,
}

// Pharos — alerting/src/notifier/config/file.rs
