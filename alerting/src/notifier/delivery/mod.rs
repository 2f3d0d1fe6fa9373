//! Delivery of rendered notifications: email over SMTP, Slack incoming webhooks and Alertmanager's
//! webhook (payload version 4), each attempt classified as Alertmanager does (connection errors,
//! 429 and 5xx are retried; other 4xx and refusals are not) and retried with exponential backoff
//! until the flush's deadline.
//!
//! This layer knows nothing of templates or configuration files: it receives content already
//! rendered ([`EmailMessage`], [`SlackMessage`], [`WebhookMessage`]) and the resolved target
//! settings ([`SmtpTarget`], [`HttpTarget`]).

mod email;
mod http_post;
mod retry;
mod slack;
mod webhook;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use email::{EmailMessage, SmtpTarget, send_email};
pub use http_post::HttpTarget;
pub use retry::{Backoff, deliver_with_backoff, deliver_with_retries};
pub use slack::{
    SLACK_MAX_TITLE_RUNES, SlackAction, SlackAttachment, SlackConfirmationField, SlackField, SlackMessage, post_slack,
};
pub use webhook::{WebhookAlert, WebhookMessage, post_webhook};

/// TLS settings of one target, as Prometheus' `tls_config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Accept any server certificate (and any name). For tests and broken setups only.
    pub insecure_skip_verify: bool,
    /// PEM file of the CA certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Name the server certificate must carry, instead of the host of the URL or smarthost.
    pub server_name: Option<String>,
    /// PEM client certificate (chain) presented to the server, with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// Why one delivery (or a series of attempts) failed. [`DeliveryError::retryable`] says whether a
/// later attempt may succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The target or the message cannot be used as given (bad URL, address, header, TLS file).
    /// Never retried: the same input fails again.
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    /// No answer: the connection was refused, broke, or timed out. Retried.
    #[error("{target}: {detail}")]
    Connection { target: String, detail: String },
    /// The server answered with a status other than 2xx. Retried for 5xx and 429.
    #[error("{target}: unexpected status code {status}{}", body_suffix(body))]
    Status { target: String, status: u16, body: String },
    /// The server answered 2xx but said it did not accept the message (Slack's `ok: false` or a
    /// body other than `ok`). Not retried.
    #[error("{target}: {detail}")]
    Rejected { target: String, detail: String },
    /// The server answered 2xx with a body that should be JSON and is not. Retried, as
    /// Alertmanager does.
    #[error("{target}: unreadable response: {detail}")]
    UnreadableResponse { target: String, detail: String },
    /// The SMTP conversation failed. `permanent` = the server answered with a 5xx reply (bad
    /// credentials, unknown recipient…), which is not retried; everything else is.
    #[error("SMTP {target}: {detail}")]
    Smtp { target: String, detail: String, permanent: bool },
    /// Retryable failures went on until the deadline passed.
    #[error("{what}: gave up at the deadline after {attempts} attempt(s): {last}")]
    DeadlineExceeded { what: String, attempts: u32, last: Box<DeliveryError> },
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() { String::new() } else { format!(": {body}") }
}

impl DeliveryError {
    /// Whether a later attempt of the same delivery may succeed: connection errors, 5xx, 429,
    /// unreadable success bodies and transient SMTP errors.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::Invalid { .. } | DeliveryError::Rejected { .. } => false,
            DeliveryError::Connection { .. } | DeliveryError::UnreadableResponse { .. } => true,
            DeliveryError::Status { status, .. } => *status >= 500 || *status == 429,
            DeliveryError::Smtp { permanent, .. } => !permanent,
            DeliveryError::DeadlineExceeded { .. } => false,
        }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl std::fmt::Display) -> DeliveryError {
        DeliveryError::Invalid { what, detail: detail.to_string() }
    }
}

/// An error and its chain of causes on one line, `a: b: c` (library errors often say little at
/// the top level, e.g. reqwest's "error sending request").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

// Pharos — alerting/src/notifier/delivery/mod.rs
