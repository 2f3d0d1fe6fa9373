//! JSON POSTs to webhook-style receivers: one reqwest client per target settings (timeout, basic
//! auth or bearer token, TLS, proxy, extra headers), rustls with the `ring` provider.
//!
//! Error texts never contain the URL's path or query (webhook URLs often carry a secret, as
//! Slack's do): a target is named by scheme, host and port only.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Serialize;

use super::{DeliveryError, TlsOptions, error_chain};

/// Where and how to POST.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpTarget {
    pub url: String,
    /// Whole-request timeout; zero = none (the retry deadline still bounds each attempt).
    pub timeout: Duration,
    /// `(username, password)` for `Authorization: Basic`.
    pub basic_auth: Option<(String, String)>,
    /// Token for `Authorization: Bearer` (ignored when `basic_auth` is set).
    pub bearer_token: Option<String>,
    pub tls: TlsOptions,
    /// HTTP(S) proxy for every request; `None` = direct (proxy environment variables are
    /// ignored, as Alertmanager's `http_config` does unless told otherwise).
    pub proxy_url: Option<String>,
    /// Headers added to every request (`http_config.http_headers`).
    pub extra_headers: Vec<(String, String)>,
}

/// At most this much of a reply body is read (for error messages and Slack's answer).
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// What the server answered.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl HttpTarget {
    /// `scheme://host[:port]` of the URL, for logs and errors.
    pub fn display_name(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
                (Some(host), None) => format!("{}://{host}", url.scheme()),
                _ => url.scheme().to_string(),
            },
            Err(_) => "<invalid URL>".to_string(),
        }
    }

    fn client(&self) -> Result<reqwest::Client, DeliveryError> {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("Pharos/", env!("CARGO_PKG_VERSION"))));
        for (name, value) in &self.extra_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| DeliveryError::invalid("HTTP header name", format!("{name:?}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| DeliveryError::invalid("HTTP header value", format!("{name}: {e}")))?;
            headers.insert(name, value);
        }
        let mut builder =
            reqwest::Client::builder().default_headers(headers).use_preconfigured_tls(rustls_client_config(&self.tls)?);
        if !self.timeout.is_zero() {
            builder = builder.timeout(self.timeout);
        }
        builder = match &self.proxy_url {
            Some(proxy) => {
                builder.proxy(reqwest::Proxy::all(proxy).map_err(|e| DeliveryError::invalid("proxy_url", e))?)
            }
            None => builder.no_proxy(),
        };
        builder.build().map_err(|e| DeliveryError::invalid("HTTP client", error_chain(&e)))
    }

    /// POSTs `body` as JSON and reads the reply (any status).
    pub(crate) async fn post_json(&self, body: &impl Serialize) -> Result<HttpReply, DeliveryError> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| DeliveryError::invalid("URL", e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryError::invalid("URL", format!("scheme {:?} is not http or https", url.scheme())));
        }
        let json = serde_json::to_vec(body).map_err(|e| DeliveryError::invalid("payload", e))?;
        let mut request = self.client()?.post(url).header(CONTENT_TYPE, "application/json").body(json);
        if let Some((user, password)) = &self.basic_auth {
            request = request.basic_auth(user, Some(password));
        } else if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let connection_error = |e: reqwest::Error| DeliveryError::Connection {
            target: self.display_name(),
            detail: error_chain(&e.without_url()),
        };
        let mut response = request.send().await.map_err(connection_error)?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut body = Vec::new();
        while body.len() < MAX_REPLY_BYTES {
            match response.chunk().await.map_err(connection_error)? {
                Some(chunk) => body.extend_from_slice(&chunk[..chunk.len().min(MAX_REPLY_BYTES - body.len())]),
                None => break,
            }
        }
        Ok(HttpReply { status, content_type, body })
    }
}

/// The rustls configuration of a target: `ring`, TLS 1.2 and 1.3; the system's roots (through
/// rustls-platform-verifier) unless `ca_file` names the only CAs to trust, as Go's `tls.Config`.
fn rustls_client_config(options: &TlsOptions) -> Result<rustls::ClientConfig, DeliveryError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DeliveryError::invalid("TLS settings", e))?;
    let verifier: Arc<dyn ServerCertVerifier> = if options.insecure_skip_verify {
        Arc::new(AcceptAnyCertificate(provider.signature_verification_algorithms))
    } else if let Some(ca_file) = &options.ca_file {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certificates(ca_file)? {
            roots
                .add(cert)
                .map_err(|e| DeliveryError::invalid("tls ca_file", format!("{}: {e}", ca_file.display())))?;
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| DeliveryError::invalid("tls ca_file", format!("{}: {e}", ca_file.display())))?
    } else {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| DeliveryError::invalid("system TLS roots", e))?,
        )
    };
    let verifier: Arc<dyn ServerCertVerifier> = match &options.server_name {
        Some(name) if !options.insecure_skip_verify => {
            let name = ServerName::try_from(name.clone())
                .map_err(|e| DeliveryError::invalid("tls server_name", format!("{name:?}: {e}")))?;
            Arc::new(FixedServerName { inner: verifier, name })
        }
        _ => verifier,
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let mut config = match (&options.cert_file, &options.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let certs = read_certificates(cert_file)?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| DeliveryError::invalid("tls key_file", format!("{}: {e}", key_file.display())))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| DeliveryError::invalid("tls cert_file", e))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(DeliveryError::invalid("TLS settings", "cert_file and key_file must be given together")),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificates of a PEM file; a file without any is an error.
pub(crate) fn read_certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, DeliveryError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| DeliveryError::invalid("TLS certificate file", format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(DeliveryError::invalid("TLS certificate file", format!("{}: no certificate", path.display())));
    }
    Ok(certs)
}

/// `insecure_skip_verify`: any certificate and name, but handshake signatures are still checked
/// (the connection is still to whoever holds the presented key).
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `tls.server_name`: the certificate is checked against this name instead of the URL's host
/// (SNI still carries the URL's host).
#[derive(Debug)]
struct FixedServerName {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedServerName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

// Pharos — alerting/src/notifier/delivery/http_post.rs
