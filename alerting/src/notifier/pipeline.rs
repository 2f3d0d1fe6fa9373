//! The notification pipeline: what happens to an aggregation group's alerts on each flush
//! (Alertmanager's `notify/notify.go` stages).
//!
//! 1. Time intervals: inside one of the route's `mute_time_intervals`, or outside all of its
//!    `active_time_intervals`, nothing is sent.
//! 2. Inhibition and silences remove the alerts they mute.
//! 3. Each integration of the receiver (every email, Slack and webhook config, in parallel):
//!    the notification log decides whether anything changed since the last notification or
//!    `repeat_interval` has passed; `send_resolved: false` drops resolved alerts; the templates
//!    render the message; delivery retries with backoff until `group_interval` has passed; a
//!    delivered notification is logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_proto::civil_time::now_nanos;
use pharos_proto::exposition::{Counter, Histogram, Registry};

use super::alerts::AlertStore;
use super::config::{AlertmanagerConfig, EmailConfig, HttpClientConfig, SlackConfig, TlsConfig, WebhookConfig};
use super::delivery::{
    self, DeliveryError, EmailMessage, HttpTarget, SlackAttachment, SlackField, SlackMessage, SmtpTarget, TlsOptions,
    WebhookMessage,
};
use super::dispatch::{Flush, GroupInfo};
use super::inhibit::inhibited_by;
use super::model::Alert;
use super::nflog::{Nflog, needs_update};
use super::notification::notification_data;
use super::silences::Silences;
use crate::template::{NotificationData, Templates};

/// The notifier's metrics, named as Alertmanager's so its dashboards work.
pub struct NotifierMetrics {
    notifications: Counter,
    notifications_failed: Counter,
    requests: Counter,
    requests_failed: Counter,
    latency: Histogram,
}

impl NotifierMetrics {
    pub fn new(registry: &Registry) -> NotifierMetrics {
        NotifierMetrics {
            notifications: registry.counter(
                "alertmanager_notifications_total",
                "The total number of attempted notifications.",
                &["integration"],
            ),
            notifications_failed: registry.counter(
                "alertmanager_notifications_failed_total",
                "The total number of failed notifications.",
                &["integration", "reason"],
            ),
            requests: registry.counter(
                "alertmanager_notification_requests_total",
                "The total number of attempted notification requests.",
                &["integration"],
            ),
            requests_failed: registry.counter(
                "alertmanager_notification_requests_failed_total",
                "The total number of failed notification requests.",
                &["integration"],
            ),
            latency: registry.histogram(
                "alertmanager_notification_latency_seconds",
                "The latency of notifications in seconds.",
                &["integration"],
                &[1.0, 5.0, 10.0, 15.0, 20.0],
            ),
        }
    }
}

/// One integration of a receiver: its kind, its index among the receiver's configs of that kind.
enum Integration {
    Email(usize, Box<EmailConfig>),
    Slack(usize, Box<SlackConfig>),
    Webhook(usize, Box<WebhookConfig>),
}

impl Integration {
    fn kind(&self) -> &'static str {
        match self {
            Integration::Email(..) => "email",
            Integration::Slack(..) => "slack",
            Integration::Webhook(..) => "webhook",
        }
    }
    fn index(&self) -> usize {
        match self {
            Integration::Email(i, _) | Integration::Slack(i, _) | Integration::Webhook(i, _) => *i,
        }
    }
    fn send_resolved(&self) -> bool {
        match self {
            Integration::Email(_, c) => c.send_resolved,
            Integration::Slack(_, c) => c.send_resolved,
            Integration::Webhook(_, c) => c.send_resolved,
        }
    }
}

/// What a flush needs; one per configuration (a reload builds a new one).
#[derive(Clone)]
pub struct Pipeline {
    pub config: Arc<AlertmanagerConfig>,
    pub templates: Arc<Templates>,
    pub alerts: Arc<AlertStore>,
    pub silences: Arc<Silences>,
    pub nflog: Arc<Nflog>,
    pub metrics: Arc<NotifierMetrics>,
    pub external_url: String,
}

impl Flush for Pipeline {
    fn flush(self: Arc<Self>, group: Arc<GroupInfo>, alerts: Vec<Alert>) -> Pin<Box<dyn Future<Output = bool> + Send>> {
        Box::pin(self.run(group, alerts))
    }
}

impl Pipeline {
    /// Whether the route's time intervals mute notifications at `now`.
    fn time_muted(&self, group: &GroupInfo, now: i64) -> bool {
        let inside = |names: &[String]| {
            names.iter().any(|name| {
                self.config.time_intervals.get(name).is_some_and(|intervals| intervals.iter().any(|i| i.contains(now)))
            })
        };
        inside(&group.mute_time_intervals)
            || (!group.active_time_intervals.is_empty() && !inside(&group.active_time_intervals))
    }

    async fn run(self: Arc<Self>, group: Arc<GroupInfo>, alerts: Vec<Alert>) -> bool {
        let now = now_nanos();
        if self.time_muted(&group, now) {
            tracing::debug!(group = %group.key, "notifications muted by a time interval");
            return true;
        }
        let rules = &self.config.inhibit_rules;
        let alerts: Vec<Alert> = alerts
            .into_iter()
            .filter(|a| {
                inhibited_by(rules, &self.alerts, &a.labels, now).is_empty()
                    && self.silences.mutes(&a.labels, now).is_empty()
            })
            .collect();
        if alerts.is_empty() {
            return true;
        }
        let Some(receiver) = self.config.receivers.iter().find(|r| r.name == group.receiver) else {
            tracing::error!(receiver = %group.receiver, "no such receiver; the configuration was checked, so this is a bug");
            return false;
        };
        let integrations = receiver
            .email_configs
            .iter()
            .enumerate()
            .map(|(i, c)| Integration::Email(i, Box::new(c.clone())))
            .chain(receiver.slack_configs.iter().enumerate().map(|(i, c)| Integration::Slack(i, Box::new(c.clone()))))
            .chain(
                receiver.webhook_configs.iter().enumerate().map(|(i, c)| Integration::Webhook(i, Box::new(c.clone()))),
            );
        let mut tasks = tokio::task::JoinSet::new();
        for integration in integrations {
            let (pipeline, group, alerts, receiver) =
                (self.clone(), group.clone(), alerts.clone(), receiver.name.clone());
            tasks.spawn(async move { pipeline.notify_integration(&group, &receiver, integration, alerts, now).await });
        }
        let mut all_ok = true;
        while let Some(result) = tasks.join_next().await {
            all_ok &= result.unwrap_or(false);
        }
        all_ok
    }

    /// Dedup, render, deliver with retries and log one integration's notification.
    async fn notify_integration(
        &self,
        group: &GroupInfo,
        receiver: &str,
        integration: Integration,
        alerts: Vec<Alert>,
        now: i64,
    ) -> bool {
        let kind = integration.kind();
        let log_key = format!("{receiver}/{kind}/{}", integration.index());
        let send_resolved = integration.send_resolved();
        let mut firing: Vec<u64> = Vec::new();
        let mut resolved: Vec<u64> = Vec::new();
        for alert in &alerts {
            let fp = alert.fingerprint().0;
            if alert.resolved_at(now) { resolved.push(fp) } else { firing.push(fp) }
        }
        firing.sort_unstable();
        resolved.sort_unstable();
        let entry = self.nflog.query(&group.key, &log_key);
        if !needs_update(entry.as_ref(), &firing, &resolved, group.repeat_interval, send_resolved, now) {
            return true;
        }
        let to_send: Vec<Alert> = alerts.into_iter().filter(|a| send_resolved || !a.resolved_at(now)).collect();
        if !to_send.is_empty() {
            let deadline = tokio::time::Instant::now() + group.group_interval.max(Duration::from_secs(10));
            let started = Instant::now();
            self.metrics.notifications.with(&[kind]).inc();
            let result = self.deliver(&integration, group, receiver, &to_send, now, deadline).await;
            self.metrics.latency.with(&[kind]).observe(started.elapsed().as_secs_f64());
            if let Err(e) = result {
                let reason = failure_reason(&e);
                self.metrics.notifications_failed.with(&[kind, reason]).inc();
                tracing::error!(receiver, integration = %log_key, group = %group.key, error = %e, "notify failed");
                return false;
            }
            tracing::info!(receiver, integration = %log_key, group = %group.key, alerts = to_send.len(), "notified");
        }
        let resolved_logged = if send_resolved { resolved } else { Vec::new() };
        if let Err(e) = self.nflog.log(&group.key, &log_key, firing, resolved_logged, now) {
            tracing::error!(error = %e, "cannot write the notification log");
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        integration: &Integration,
        group: &GroupInfo,
        receiver: &str,
        alerts: &[Alert],
        now: i64,
        deadline: tokio::time::Instant,
    ) -> Result<(), DeliveryError> {
        let kind = integration.kind();
        // What email and Slack templates render; the webhook payload builds its own (after
        // `max_alerts`).
        let data = || notification_data(receiver, &group.labels, alerts, &self.external_url, now);
        // One attempt: a future per call, built from owned copies of the rendered message.
        type Attempt = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send>> + Send + Sync>;
        let attempt: Attempt = match integration {
            Integration::Email(_, config) => {
                let message = Arc::new(self.email_message(config, &data())?);
                let target = Arc::new(smtp_target(config));
                Box::new(move || {
                    let (target, message) = (target.clone(), message.clone());
                    Box::pin(async move { delivery::send_email(&target, &message).await })
                })
            }
            Integration::Slack(_, config) => {
                let data = data();
                let message = Arc::new(slack_message(config, &|text| self.render(text, &data))?);
                let target = Arc::new(http_target(&config.api_url, &config.http_config, None));
                Box::new(move || {
                    let (target, message) = (target.clone(), message.clone());
                    Box::pin(async move { delivery::post_slack(&target, &message).await })
                })
            }
            Integration::Webhook(_, config) => {
                let message = Arc::new(WebhookMessage::build(
                    receiver,
                    &group.key,
                    &group.labels,
                    alerts,
                    &self.external_url,
                    config.max_alerts,
                    now,
                ));
                let target = Arc::new(http_target(&config.url, &config.http_config, config.timeout));
                Box::new(move || {
                    let (target, message) = (target.clone(), message.clone());
                    Box::pin(async move { delivery::post_webhook(&target, &message).await })
                })
            }
        };
        let (requests, failed) = (self.metrics.requests.with(&[kind]), self.metrics.requests_failed.with(&[kind]));
        delivery::deliver_with_retries(kind, deadline, || {
            requests.inc();
            let (once, failed) = (attempt(), failed.clone());
            async move {
                let result = once.await;
                if result.is_err() {
                    failed.inc();
                }
                result
            }
        })
        .await
        .map(|_| ())
    }

    /// A config field's text rendered as text/template; a template failure is not retried.
    fn render(&self, text: &str, data: &NotificationData) -> Result<String, DeliveryError> {
        self.templates.render(text, data).map_err(template_error)
    }

    fn email_message(&self, config: &EmailConfig, data: &NotificationData) -> Result<EmailMessage, DeliveryError> {
        let render = |text: &str| self.render(text, data);
        let mut headers = std::collections::BTreeMap::new();
        for (name, value) in &config.headers {
            headers.insert(name.clone(), render(value)?);
        }
        let to = render(&config.to)?;
        let html = if config.html.is_empty() {
            None
        } else {
            Some(self.templates.render_html(&config.html, data).map_err(template_error)?)
        };
        let text = if config.text.is_empty() { None } else { Some(render(&config.text)?) };
        Ok(EmailMessage { from: render(&config.from)?, to: EmailMessage::split_recipients(&to)?, headers, html, text })
    }
}

fn template_error(e: crate::template::TemplateError) -> DeliveryError {
    DeliveryError::Invalid { what: "template", detail: e.to_string() }
}

/// The `reason` label of `alertmanager_notifications_failed_total`, as Alertmanager sorts failures.
fn failure_reason(e: &DeliveryError) -> &'static str {
    let e = match e {
        DeliveryError::DeadlineExceeded { last, .. } => last.as_ref(),
        other => other,
    };
    match e {
        DeliveryError::Status { status, .. } if (400..500).contains(status) => "clientError",
        DeliveryError::Status { .. } => "serverError",
        DeliveryError::Smtp { permanent: true, .. } | DeliveryError::Rejected { .. } => "clientError",
        _ => "other",
    }
}

fn tls_options(tls: &TlsConfig) -> TlsOptions {
    let path = |s: &str| (!s.is_empty()).then(|| std::path::PathBuf::from(s));
    TlsOptions {
        insecure_skip_verify: tls.insecure_skip_verify,
        ca_file: path(&tls.ca_file),
        server_name: (!tls.server_name.is_empty()).then(|| tls.server_name.clone()),
        cert_file: path(&tls.cert_file),
        key_file: path(&tls.key_file),
    }
}

fn smtp_target(config: &EmailConfig) -> SmtpTarget {
    SmtpTarget {
        smarthost_host: config.smarthost.host.clone(),
        smarthost_port: config.smarthost.port.parse().unwrap_or(25),
        hello: config.hello.clone(),
        require_tls: config.require_tls,
        auth_username: config.auth_username.clone(),
        auth_password: config.auth_password.clone(),
        auth_identity: config.auth_identity.clone(),
        auth_secret: config.auth_secret.clone(),
        tls: tls_options(&config.tls_config),
        timeout: Duration::from_secs(30),
    }
}

fn http_target(url: &str, http: &HttpClientConfig, timeout: Option<Duration>) -> HttpTarget {
    let basic_auth = http.basic_auth.as_ref().map(|b| (b.username.clone(), b.password.clone()));
    let bearer_token = http.authorization.as_ref().map(|a| a.credentials.clone());
    HttpTarget {
        url: url.to_string(),
        timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30)),
        basic_auth,
        bearer_token,
        tls: tls_options(&http.tls_config),
        proxy_url: (!http.proxy_url.is_empty()).then(|| http.proxy_url.clone()),
        extra_headers: Vec::new(),
    }
}

fn slack_message(
    config: &SlackConfig,
    render: &dyn Fn(&str) -> Result<String, DeliveryError>,
) -> Result<SlackMessage, DeliveryError> {
    let fields = config
        .fields
        .iter()
        .map(|f| {
            Ok(SlackField {
                title: render(&f.title)?,
                value: render(&f.value)?,
                short: f.short.unwrap_or(config.short_fields),
            })
        })
        .collect::<Result<Vec<_>, DeliveryError>>()?;
    let mrkdwn_in = if config.mrkdwn_in.is_empty() {
        vec!["fallback".to_string(), "pretext".to_string(), "text".to_string()]
    } else {
        config.mrkdwn_in.clone()
    };
    let attachment = SlackAttachment {
        title: render(&config.title)?,
        title_link: render(&config.title_link)?,
        pretext: render(&config.pretext)?,
        text: render(&config.text)?,
        fallback: render(&config.fallback)?,
        callback_id: render(&config.callback_id)?,
        fields,
        actions: Vec::new(),
        image_url: render(&config.image_url)?,
        thumb_url: render(&config.thumb_url)?,
        footer: render(&config.footer)?,
        color: render(&config.color)?,
        mrkdwn_in,
    };
    Ok(SlackMessage {
        channel: render(&config.channel)?,
        username: render(&config.username)?,
        icon_emoji: render(&config.icon_emoji)?,
        icon_url: render(&config.icon_url)?,
        link_names: config.link_names,
        attachments: vec![attachment],
    })
}

// Pharos — alerting/src/notifier/pipeline.rs
