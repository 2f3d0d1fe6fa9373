//! Receivers and their integrations (email, Slack, webhook) with Alertmanager's defaults and
//! the `global` settings applied, plus the HTTP client and TLS settings they carry.
//!
//! Secrets given as files (`auth_password_file`, `api_url_file`, `url_file`) are read at load time
//! (surrounding whitespace trimmed), relative to the configuration file's directory, so a missing
//! file is a configuration error instead of a failed notification later.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::GlobalConfig;
use super::file::{
    RawEmail, RawHttpConfig, RawReceiver, RawSlack, RawSlackAction, RawSlackField, RawTlsConfig, RawWebhook, Scalar,
};

/// A named set of notification integrations.
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub email_configs: Vec<EmailConfig>,
    pub slack_configs: Vec<SlackConfig>,
    pub webhook_configs: Vec<WebhookConfig>,
    /// Integrations Pharos does not implement, by config key (`pagerduty_configs`, …): accepted
    /// so real files load, listed so Pharos can warn that they will not be notified.
    pub unsupported: Vec<String>,
}

/// An SMTP host and port (`smarthost`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: String,
}

impl HostPort {
    /// Parse `host:port` (`[v6]:port` for IPv6), as Go's `net.SplitHostPort`; "" is unset.
    pub fn parse(text: &str) -> Result<HostPort, String> {
        if text.is_empty() {
            return Ok(HostPort::default());
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) =
                rest.split_once(']').ok_or_else(|| format!("address {text}: missing ']' in address"))?;
            let port = after.strip_prefix(':').ok_or_else(|| format!("address {text}: missing port in address"))?;
            (host, port)
        } else {
            let (host, port) =
                text.rsplit_once(':').ok_or_else(|| format!("address {text}: missing port in address"))?;
            if host.contains(':') {
                return Err(format!("address {text}: too many colons in address"));
            }
            (host, port)
        };
        if port.is_empty() {
            return Err(format!("address {text:?}: port cannot be empty"));
        }
        Ok(HostPort { host: host.to_string(), port: port.to_string() })
    }

    pub fn is_empty(&self) -> bool {
        self.host.is_empty() && self.port.is_empty()
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_empty(), self.host.contains(':')) {
            (true, _) => Ok(()),
            (false, true) => write!(f, "[{}]:{}", self.host, self.port),
            (false, false) => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// TLS settings of a client (prometheus/common `TLSConfig`); files are kept as paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    /// Inline PEM alternatives to the files (newer prometheus/common).
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub server_name: String,
    pub insecure_skip_verify: bool,
    /// `TLS10` … `TLS13`, or "" for the library default.
    pub min_version: String,
    pub max_version: String,
}

/// HTTP basic authentication; `password_file` is kept as a path (read when sending).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub username_file: String,
    pub password: String,
    pub password_file: String,
}

/// The `Authorization` header: `<type> <credentials>`. `bearer_token(_file)` is converted to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authorization {
    /// "Bearer" unless set.
    pub kind: String,
    pub credentials: String,
    pub credentials_file: String,
}

/// An HTTP client's settings (prometheus/common `HTTPClientConfig`), kept as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    /// `oauth2` was configured (Pharos does not implement OAuth 2.0 client credentials).
    pub oauth2: bool,
    pub tls_config: TlsConfig,
    pub proxy_url: String,
    pub no_proxy: String,
    pub proxy_from_environment: bool,
    pub proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// Default true.
    pub follow_redirects: bool,
    /// Default true.
    pub enable_http2: bool,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: false,
            tls_config: TlsConfig::default(),
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// One email integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailConfig {
    /// Default false.
    pub send_resolved: bool,
    pub to: String,
    pub from: String,
    pub hello: String,
    pub smarthost: HostPort,
    pub auth_username: String,
    /// From `auth_password`, the file named by `auth_password_file`, or the global settings.
    pub auth_password: String,
    pub auth_secret: String,
    pub auth_identity: String,
    /// Header names title-cased as Alertmanager does; `Subject`, `To` and `From` always present
    /// (defaults: the `email.default.subject` template, `to`, `from`).
    pub headers: BTreeMap<String, String>,
    pub html: String,
    pub text: String,
    pub require_tls: bool,
    pub tls_config: TlsConfig,
}

/// One Slack field of an attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    /// `None` = the config's `short_fields`.
    pub short: Option<bool>,
}

/// One Slack action (button).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackAction {
    pub kind: String,
    pub text: String,
    pub url: String,
    pub style: String,
    pub name: String,
    pub value: String,
    pub confirm: Option<SlackConfirm>,
}

/// A confirmation dialog of a Slack action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackConfirm {
    pub text: String,
    pub title: String,
    pub ok_text: String,
    pub dismiss_text: String,
}

/// One Slack integration (an incoming webhook).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackConfig {
    /// Default false.
    pub send_resolved: bool,
    /// From `api_url`, `api_url_file` or the global settings.
    pub api_url: String,
    pub channel: String,
    pub username: String,
    pub color: String,
    pub title: String,
    pub title_link: String,
    pub pretext: String,
    pub text: String,
    pub footer: String,
    pub fallback: String,
    pub callback_id: String,
    pub icon_emoji: String,
    pub icon_url: String,
    pub image_url: String,
    pub thumb_url: String,
    pub short_fields: bool,
    pub link_names: bool,
    /// Default `["fallback", "pretext", "text"]`.
    pub mrkdwn_in: Vec<String>,
    pub fields: Vec<SlackField>,
    pub actions: Vec<SlackAction>,
    pub http_config: HttpClientConfig,
}

/// One webhook integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Default true.
    pub send_resolved: bool,
    /// From `url` or `url_file`.
    pub url: String,
    /// At most this many alerts per message; 0 = all.
    pub max_alerts: u64,
    /// `None` = no timeout beyond the notification's own deadline.
    pub timeout: Option<Duration>,
    pub http_config: HttpClientConfig,
}

/// The default email subject.
pub const DEFAULT_EMAIL_SUBJECT: &str = r#"{{ template "email.default.subject" . }}"#;

fn text(value: &Option<Scalar>) -> String {
    value.as_ref().map_or_else(String::new, |s| s.0.clone())
}

fn text_or(value: &Option<Scalar>, default: &str) -> String {
    value.as_ref().map_or_else(|| default.to_string(), |s| s.0.clone())
}

fn template(name: &str) -> String {
    format!("{{{{ template \"{name}\" . }}}}")
}

/// Read a secret file (relative to `base`), trimmed.
pub(super) fn read_secret(base: &Path, key: &str, path: &str) -> Result<String, String> {
    std::fs::read_to_string(base.join(path))
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("unable to read {key} {path:?}: {e}"))
}

/// Check an `http(s)` URL with a host, as Alertmanager's URL fields do.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?} for URL"));
    }
    let authority = rest.strip_prefix("//").map_or("", |r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // Go's check is on `Host`, which includes the port.
    if host_port.is_empty() {
        return Err("missing host for URL".into());
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("parse {url:?}: invalid character in URL"));
    }
    Ok(())
}

/// Go's `strings.Title`: upper-case every letter that starts a word.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut at_word_start = true;
    for c in name.chars() {
        out.extend(if at_word_start { c.to_uppercase().collect::<Vec<_>>() } else { vec![c] });
        at_word_start = !(c.is_alphanumeric() || c == '_');
    }
    out
}

pub(super) fn tls_config(raw: Option<&RawTlsConfig>) -> Result<TlsConfig, String> {
    let Some(raw) = raw else { return Ok(TlsConfig::default()) };
    for version in [&raw.min_version, &raw.max_version].into_iter().flatten() {
        if !["TLS10", "TLS11", "TLS12", "TLS13", ""].contains(&version.0.as_str()) {
            return Err(format!("unknown TLS version: {}", version.0));
        }
    }
    let pair = |inline: &Option<Scalar>, file: &Option<Scalar>, what: &str| {
        if !text(inline).is_empty() && !text(file).is_empty() {
            return Err(format!("at most one of {what} and {what}_file must be configured"));
        }
        Ok(())
    };
    pair(&raw.ca, &raw.ca_file, "ca")?;
    pair(&raw.cert, &raw.cert_file, "cert")?;
    pair(&raw.key, &raw.key_file, "key")?;
    Ok(TlsConfig {
        ca_file: text(&raw.ca_file),
        cert_file: text(&raw.cert_file),
        key_file: text(&raw.key_file),
        ca: text(&raw.ca),
        cert: text(&raw.cert),
        key: text(&raw.key),
        server_name: text(&raw.server_name),
        insecure_skip_verify: raw.insecure_skip_verify.is_some_and(|b| b.0),
        min_version: text(&raw.min_version),
        max_version: text(&raw.max_version),
    })
}

/// Validate and convert an `http_config`, as prometheus/common's `HTTPClientConfig.Validate`.
pub(super) fn http_config(raw: &RawHttpConfig) -> Result<HttpClientConfig, String> {
    let bearer_token = text(&raw.bearer_token);
    let bearer_token_file = text(&raw.bearer_token_file);
    let has_bearer = !bearer_token.is_empty() || !bearer_token_file.is_empty();
    if !bearer_token.is_empty() && !bearer_token_file.is_empty() {
        return Err("at most one of bearer_token & bearer_token_file must be configured".into());
    }
    if (raw.basic_auth.is_some() || raw.oauth2.is_some()) && has_bearer {
        return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into());
    }
    let basic_auth = match &raw.basic_auth {
        None => None,
        Some(b) => {
            if !text(&b.username).is_empty() && !text(&b.username_file).is_empty() {
                return Err("at most one of basic_auth username & username_file must be configured".into());
            }
            if !text(&b.password).is_empty() && !text(&b.password_file).is_empty() {
                return Err("at most one of basic_auth password & password_file must be configured".into());
            }
            Some(BasicAuth {
                username: text(&b.username),
                username_file: text(&b.username_file),
                password: text(&b.password),
                password_file: text(&b.password_file),
            })
        }
    };
    let authorization = match &raw.authorization {
        Some(a) => {
            if has_bearer {
                return Err("authorization is not compatible with bearer_token & bearer_token_file".into());
            }
            if !text(&a.credentials).is_empty() && !text(&a.credentials_file).is_empty() {
                return Err("at most one of authorization credentials & credentials_file must be configured".into());
            }
            let kind = text(&a.kind).trim().to_string();
            let kind = if kind.is_empty() { "Bearer".to_string() } else { kind };
            if kind.eq_ignore_ascii_case("basic") {
                return Err(r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.into());
            }
            if raw.basic_auth.is_some() || raw.oauth2.is_some() {
                return Err("at most one of basic_auth, oauth2 & authorization must be configured".into());
            }
            Some(Authorization { kind, credentials: text(&a.credentials), credentials_file: text(&a.credentials_file) })
        }
        None if has_bearer => Some(Authorization {
            kind: "Bearer".into(),
            credentials: bearer_token,
            credentials_file: bearer_token_file,
        }),
        None => None,
    };
    let proxy_url = text(&raw.proxy_url);
    if !proxy_url.is_empty() {
        check_url(&proxy_url).map_err(|e| format!("proxy_url: {e}"))?;
    }
    Ok(HttpClientConfig {
        basic_auth,
        authorization,
        oauth2: raw.oauth2.is_some(),
        tls_config: tls_config(raw.tls_config.as_ref())?,
        proxy_url,
        no_proxy: text(&raw.no_proxy),
        proxy_from_environment: raw.proxy_from_environment.is_some_and(|b| b.0),
        proxy_connect_header: raw
            .proxy_connect_header
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.iter().map(|s| s.0.clone()).collect()))
            .collect(),
        follow_redirects: raw.follow_redirects.is_none_or(|b| b.0),
        enable_http2: raw.enable_http2.is_none_or(|b| b.0),
    })
}

/// Build a receiver from its raw form, applying `global`; the first problem is returned.
pub(super) fn receiver(raw: &RawReceiver, global: &GlobalConfig, base: &Path) -> Result<Receiver, String> {
    if raw.name.0.is_empty() {
        return Err("missing name in receiver".into());
    }
    let email_configs = raw.email_configs.iter().map(|e| email(e, global, base)).collect::<Result<_, _>>()?;
    let slack_configs = raw.slack_configs.iter().map(|s| slack(s, global, base)).collect::<Result<_, _>>()?;
    let webhook_configs = raw.webhook_configs.iter().map(|w| webhook(w, global, base)).collect::<Result<_, _>>()?;
    for config in &raw.pagerduty_configs {
        let has = |key: &str| config.get(key).is_some_and(|v| !matches!(v, serde_yaml_ng::Value::Null));
        if !["routing_key", "routing_key_file", "service_key", "service_key_file"].iter().any(|k| has(k)) {
            return Err("missing service or routing key in PagerDuty config".into());
        }
    }
    Ok(Receiver {
        name: raw.name.0.clone(),
        email_configs,
        slack_configs,
        webhook_configs,
        unsupported: raw.unsupported().into_iter().map(|(key, _)| key.to_string()).collect(),
    })
}

fn email(raw: &RawEmail, global: &GlobalConfig, base: &Path) -> Result<EmailConfig, String> {
    let to = text(&raw.to);
    if to.is_empty() {
        return Err("missing to address in email config".into());
    }
    let mut headers = BTreeMap::new();
    for (name, value) in &raw.headers {
        let normal = title_case(name);
        if headers.insert(normal.clone(), value.0.clone()).is_some() {
            return Err(format!("duplicate header {normal:?} in email config"));
        }
    }
    let mut smarthost = HostPort::parse(&text(&raw.smarthost))?;
    if smarthost.is_empty() {
        if global.smtp_smarthost.is_empty() {
            return Err("no global SMTP smarthost set".into());
        }
        smarthost = global.smtp_smarthost.clone();
    }
    let mut from = text(&raw.from);
    if from.is_empty() {
        if global.smtp_from.is_empty() {
            return Err("no global SMTP from set".into());
        }
        from = global.smtp_from.clone();
    }
    let or_global = |value: String, global: &str| if value.is_empty() { global.to_string() } else { value };
    let (password, password_file) = (text(&raw.auth_password), text(&raw.auth_password_file));
    if !password.is_empty() && !password_file.is_empty() {
        return Err("at most one of auth_password & auth_password_file must be configured".into());
    }
    let auth_password = match (password.is_empty(), password_file.is_empty()) {
        (false, _) => password,
        (true, false) => read_secret(base, "auth_password_file", &password_file)?,
        (true, true) => global.smtp_auth_password.clone(),
    };
    headers.entry("Subject".into()).or_insert_with(|| DEFAULT_EMAIL_SUBJECT.to_string());
    headers.entry("To".into()).or_insert_with(|| to.clone());
    headers.entry("From".into()).or_insert_with(|| from.clone());
    Ok(EmailConfig {
        send_resolved: raw.send_resolved.is_some_and(|b| b.0),
        to,
        from,
        hello: or_global(text(&raw.hello), &global.smtp_hello),
        smarthost,
        auth_username: or_global(text(&raw.auth_username), &global.smtp_auth_username),
        auth_password,
        auth_secret: or_global(text(&raw.auth_secret), &global.smtp_auth_secret),
        auth_identity: or_global(text(&raw.auth_identity), &global.smtp_auth_identity),
        headers,
        html: text_or(&raw.html, &template("email.default.html")),
        text: text(&raw.text),
        require_tls: raw.require_tls.map_or(global.smtp_require_tls, |b| b.0),
        tls_config: tls_config(raw.tls_config.as_ref())?,
    })
}

fn slack_field(raw: &RawSlackField) -> Result<SlackField, String> {
    let (title, value) = (text(&raw.title), text(&raw.value));
    if title.is_empty() {
        return Err("missing title in Slack field configuration".into());
    }
    if value.is_empty() {
        return Err("missing value in Slack field configuration".into());
    }
    Ok(SlackField { title, value, short: raw.short.map(|b| b.0) })
}

fn slack_action(raw: &RawSlackAction) -> Result<SlackAction, String> {
    let mut action = SlackAction {
        kind: text(&raw.kind),
        text: text(&raw.text),
        url: text(&raw.url),
        style: text(&raw.style),
        name: text(&raw.name),
        value: text(&raw.value),
        confirm: None,
    };
    if action.kind.is_empty() {
        return Err("missing type in Slack action configuration".into());
    }
    if action.text.is_empty() {
        return Err("missing text in Slack action configuration".into());
    }
    if !action.url.is_empty() {
        // A link button: message-action fields are dropped, as Alertmanager does.
        action.name.clear();
        action.value.clear();
    } else if !action.name.is_empty() {
        action.confirm = match &raw.confirm {
            None => None,
            Some(c) if text(&c.text).is_empty() => {
                return Err("missing text in Slack confirmation configuration".into());
            }
            Some(c) => Some(SlackConfirm {
                text: text(&c.text),
                title: text(&c.title),
                ok_text: text(&c.ok_text),
                dismiss_text: text(&c.dismiss_text),
            }),
        };
    } else {
        return Err("missing name or url in Slack action configuration".into());
    }
    Ok(action)
}

fn slack(raw: &RawSlack, global: &GlobalConfig, base: &Path) -> Result<SlackConfig, String> {
    let (url, url_file) = (text(&raw.api_url), text(&raw.api_url_file));
    if !url.is_empty() && !url_file.is_empty() {
        return Err("at most one of api_url & api_url_file must be configured".into());
    }
    let api_url = match (url.is_empty(), url_file.is_empty()) {
        (false, _) => {
            check_url(&url)?;
            url
        }
        (true, false) => read_secret(base, "api_url_file", &url_file)?,
        (true, true) if global.slack_api_url.is_empty() => {
            return Err("no global Slack API URL set either inline or in a file".into());
        }
        (true, true) => global.slack_api_url.clone(),
    };
    let http_config = match &raw.http_config {
        Some(raw) => http_config(raw)?,
        None => global.http_config.clone(),
    };
    let mrkdwn_in: Vec<String> = raw.mrkdwn_in.iter().flatten().map(|s| s.0.clone()).collect();
    let mrkdwn_in =
        if mrkdwn_in.is_empty() { ["fallback", "pretext", "text"].map(String::from).to_vec() } else { mrkdwn_in };
    Ok(SlackConfig {
        send_resolved: raw.send_resolved.is_some_and(|b| b.0),
        api_url,
        channel: text(&raw.channel),
        username: text_or(&raw.username, &template("slack.default.username")),
        color: text_or(&raw.color, r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#),
        title: text_or(&raw.title, &template("slack.default.title")),
        title_link: text_or(&raw.title_link, &template("slack.default.titlelink")),
        pretext: text_or(&raw.pretext, &template("slack.default.pretext")),
        text: text_or(&raw.text, &template("slack.default.text")),
        footer: text_or(&raw.footer, &template("slack.default.footer")),
        fallback: text_or(&raw.fallback, &template("slack.default.fallback")),
        callback_id: text_or(&raw.callback_id, &template("slack.default.callbackid")),
        icon_emoji: text_or(&raw.icon_emoji, &template("slack.default.iconemoji")),
        icon_url: text_or(&raw.icon_url, &template("slack.default.iconurl")),
        image_url: text(&raw.image_url),
        thumb_url: text(&raw.thumb_url),
        short_fields: raw.short_fields.is_some_and(|b| b.0),
        link_names: raw.link_names.is_some_and(|b| b.0),
        mrkdwn_in,
        fields: raw.fields.iter().map(slack_field).collect::<Result<_, _>>()?,
        actions: raw.actions.iter().map(slack_action).collect::<Result<_, _>>()?,
        http_config,
    })
}

fn webhook(raw: &RawWebhook, global: &GlobalConfig, base: &Path) -> Result<WebhookConfig, String> {
    let (url, url_file) = (text(&raw.url), text(&raw.url_file));
    let url = match (url.is_empty(), url_file.is_empty()) {
        (true, true) => return Err("missing URL in webhook config: one of url or url_file must be configured".into()),
        (false, false) => return Err("at most one of url & url_file must be configured".into()),
        (false, true) => url,
        (true, false) => read_secret(base, "url_file", &url_file)?,
    };
    check_url(&url)?;
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => Some(pharos_proto::duration::parse(&t.0).map_err(|e| e.to_string())?),
    };
    Ok(WebhookConfig {
        send_resolved: raw.send_resolved.is_none_or(|b| b.0),
        url,
        max_alerts: raw.max_alerts.unwrap_or(0),
        timeout: timeout.filter(|t| !t.is_zero()),
        http_config: match &raw.http_config {
            Some(raw) => http_config(raw)?,
            None => global.http_config.clone(),
        },
    })
}

// Pharos — alerting/src/notifier/config/receiver.rs
