//! Email over SMTP with lettre, as Alertmanager's `notify/email/email.go`: implicit TLS on port
//! 465, otherwise STARTTLS (required when `require_tls`, used when offered otherwise); AUTH PLAIN
//! or LOGIN with the configured user; EHLO with `hello`; the rendered headers as given; a
//! `multipart/alternative` body of text and HTML when both exist.

use std::collections::BTreeMap;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailboxes, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Identity, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, TlsOptions, error_chain};

/// The SMTP server and how to talk to it (`smarthost` split into host and port).
#[derive(Clone, Debug, PartialEq)]
pub struct SmtpTarget {
    pub smarthost_host: String,
    pub smarthost_port: u16,
    /// EHLO/HELO name (Alertmanager's default `localhost`).
    pub hello: String,
    /// Refuse to send unless the server offers STARTTLS (ignored on port 465, which is always
    /// implicit TLS).
    pub require_tls: bool,
    /// Empty = no authentication.
    pub auth_username: String,
    pub auth_password: String,
    /// Authorization identity of AUTH PLAIN. lettre always sends an empty one, so a non-empty
    /// identity different from the username is logged and not sent.
    pub auth_identity: String,
    /// CRAM-MD5 secret: lettre has no CRAM-MD5, so a target with only a secret is refused.
    pub auth_secret: String,
    pub tls: TlsOptions,
    /// Timeout of each SMTP command (connect, each reply); zero = lettre's default (60 s).
    pub timeout: Duration,
}

/// One rendered email.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmailMessage {
    /// Envelope sender (`MAIL FROM`); may be `Name <addr>`.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), one address each; see [`EmailMessage::split_recipients`].
    pub to: Vec<String>,
    /// Message headers as rendered (`Subject`, `To`, `From`, extra ones), written as given
    /// (non-ASCII text RFC 2047-encoded). `From`/`To` default to `from`/`to` when absent;
    /// `Content-Type`, `Content-Transfer-Encoding` and `MIME-Version` are the body's and are
    /// ignored here. `Date` and `Message-Id` are added unless given.
    pub headers: BTreeMap<String, String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

impl EmailMessage {
    /// The addresses of a comma-separated `to` (`a@x, Name <b@y>`), as Go's
    /// `mail.ParseAddressList`.
    pub fn split_recipients(to: &str) -> Result<Vec<String>, DeliveryError> {
        let mailboxes: Mailboxes =
            to.parse().map_err(|e| DeliveryError::invalid("'to' addresses", format!("{to:?}: {e}")))?;
        let addresses: Vec<String> = mailboxes.into_iter().map(|m| m.email.to_string()).collect();
        if addresses.is_empty() {
            return Err(DeliveryError::invalid("'to' addresses", "no recipient"));
        }
        Ok(addresses)
    }

    /// The lettre message: headers from the map, envelope from `from`/`to`, the MIME body.
    fn to_lettre(&self) -> Result<Message, DeliveryError> {
        let from = parse_address("from", &self.from)?;
        if self.to.is_empty() {
            return Err(DeliveryError::invalid("'to' addresses", "no recipient"));
        }
        let to = self.to.iter().map(|t| parse_address("to", t)).collect::<Result<Vec<_>, _>>()?;
        let envelope =
            lettre::address::Envelope::new(Some(from), to).map_err(|e| DeliveryError::invalid("envelope", e))?;

        let has = |name: &str| self.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
        let mut builder = Message::builder().envelope(envelope);
        if !has("From") {
            builder = builder.raw_header(raw_header("From", self.from.clone())?);
        }
        if !has("To") {
            builder = builder.raw_header(raw_header("To", self.to.join(", "))?);
        }
        if !has("Date") {
            builder = builder.date_now();
        }
        if !has("Message-Id") {
            builder = builder.message_id(None);
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(lower.as_str(), "content-type" | "content-transfer-encoding" | "mime-version") {
                continue;
            }
            builder = builder.raw_header(raw_header(name, value.clone())?);
        }
        let built = match (&self.text, &self.html) {
            (Some(text), Some(html)) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(text.clone()))
                    .singlepart(SinglePart::html(html.clone())),
            ),
            (Some(text), None) => builder.singlepart(SinglePart::plain(text.clone())),
            (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
            (None, None) => return Err(DeliveryError::invalid("email", "neither a text nor an HTML body")),
        };
        built.map_err(|e| DeliveryError::invalid("email headers", e))
    }
}

fn parse_address(what: &'static str, text: &str) -> Result<Address, DeliveryError> {
    let what_addresses = if what == "from" { "'from' address" } else { "'to' addresses" };
    let mailbox: lettre::message::Mailbox =
        text.parse().map_err(|e| DeliveryError::invalid(what_addresses, format!("{text:?}: {e}")))?;
    Ok(mailbox.email)
}

fn raw_header(name: &str, value: String) -> Result<HeaderValue, DeliveryError> {
    let name = HeaderName::new_from_ascii(name.to_string())
        .map_err(|e| DeliveryError::invalid("email header name", format!("{name:?}: {e}")))?;
    if value.contains(['\r', '\n']) {
        return Err(DeliveryError::invalid("email header value", format!("{name}: contains a line break")));
    }
    Ok(HeaderValue::new(name, value))
}

impl SmtpTarget {
    fn display_name(&self) -> String {
        format!("{}:{}", self.smarthost_host, self.smarthost_port)
    }

    fn tls_parameters(&self) -> Result<TlsParameters, DeliveryError> {
        let domain = self.tls.server_name.clone().unwrap_or_else(|| self.smarthost_host.clone());
        let mut builder = TlsParameters::builder(domain).dangerous_accept_invalid_certs(self.tls.insecure_skip_verify);
        if self.tls.insecure_skip_verify {
            builder = builder.dangerous_accept_invalid_hostnames(true);
        }
        if let Some(ca_file) = &self.tls.ca_file {
            // Go's RootCAs: the file's CAs replace the system's.
            let pem = read_file("tls ca_file", ca_file)?;
            let certificate =
                Certificate::from_pem(&pem).map_err(|e| DeliveryError::invalid("tls ca_file", error_chain(&e)))?;
            builder = builder.certificate_store(CertificateStore::None).add_root_certificate(certificate);
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(cert_file), Some(key_file)) => {
                let cert = read_file("tls cert_file", cert_file)?;
                let key = read_file("tls key_file", key_file)?;
                let identity = Identity::from_pem(&cert, &key)
                    .map_err(|e| DeliveryError::invalid("tls cert_file", error_chain(&e)))?;
                builder = builder.identify_with(identity);
            }
            (None, None) => {}
            _ => return Err(DeliveryError::invalid("TLS settings", "cert_file and key_file must be given together")),
        }
        builder.build().map_err(|e| DeliveryError::invalid("TLS settings", error_chain(&e)))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
        if self.smarthost_host.is_empty() || self.smarthost_port == 0 {
            return Err(DeliveryError::invalid("smarthost", format!("{:?} has no host or port", self.display_name())));
        }
        let parameters = self.tls_parameters()?;
        let tls = if self.smarthost_port == 465 {
            Tls::Wrapper(parameters)
        } else if self.require_tls {
            Tls::Required(parameters)
        } else {
            Tls::Opportunistic(parameters)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.smarthost_host)
            .port(self.smarthost_port)
            .tls(tls)
            .hello_name(ClientId::Domain(self.hello.clone()));
        if !self.timeout.is_zero() {
            builder = builder.timeout(Some(self.timeout));
        }
        if !self.auth_username.is_empty() {
            if self.auth_password.is_empty() {
                let detail = if self.auth_secret.is_empty() {
                    "auth_username is set but auth_password is empty"
                } else {
                    "CRAM-MD5 (auth_secret) is not supported; set auth_password for PLAIN or LOGIN"
                };
                return Err(DeliveryError::invalid("SMTP authentication", detail));
            }
            if !self.auth_identity.is_empty() && self.auth_identity != self.auth_username {
                tracing::warn!(smarthost = %self.display_name(), "auth_identity is not sent: AUTH PLAIN goes with an empty authorization identity");
            }
            builder = builder
                .credentials(Credentials::new(self.auth_username.clone(), self.auth_password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(builder.build())
    }
}

fn read_file(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, DeliveryError> {
    std::fs::read(path).map_err(|e| DeliveryError::invalid(what, format!("{}: {e}", path.display())))
}

/// Sends `message` through `target` over one new connection. SMTP 5xx replies are permanent
/// ([`DeliveryError::Smtp`] with `permanent`); connection, TLS, timeout and 4xx failures are
/// retryable; unusable input is [`DeliveryError::Invalid`].
pub async fn send_email(target: &SmtpTarget, message: &EmailMessage) -> Result<(), DeliveryError> {
    let email = message.to_lettre()?;
    let transport = target.transport()?;
    transport.send(email).await.map(|_| ()).map_err(|e| DeliveryError::Smtp {
        target: target.display_name(),
        detail: error_chain(&e),
        permanent: e.is_permanent(),
    })
}

// Pharos — alerting/src/notifier/delivery/email.rs
