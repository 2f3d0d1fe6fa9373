//! Delivery against real servers on the loopback: an aiosmtpd SMTP server (`alerting/tests/
//! smtp_sink.py`, with a self-signed certificate made by the `openssl` command) and an axum HTTP
//! server standing in for webhook receivers and Slack.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::time::Instant;

use super::*;
use crate::notifier::model::{Alert, LabelSet};

// ---------------------------------------------------------------------------------------------
// SMTP

/// The sink script: beside the crate's manifest, or found from this file's path when the module
/// is compiled from elsewhere.
fn smtp_sink_script() -> PathBuf {
    let from_manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
    if from_manifest.exists() {
        return from_manifest;
    }
    // alerting/src/notifier/delivery/tests.rs → alerting/
    let from_source = Path::new(file!()).ancestors().nth(4).unwrap().join("tests/smtp_sink.py");
    assert!(
        from_source.exists(),
        "smtp_sink.py not found beside {} or {}",
        from_manifest.display(),
        from_source.display()
    );
    from_source
}

/// A self-signed certificate for `localhost`, 127.0.0.1 and 127.0.0.2 (a leaf, CA:FALSE, so
/// webpki accepts it as the trust anchor and the end entity at once).
fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let config = dir.join("leaf.cnf");
    std::fs::write(
        &config,
        "[req]\ndistinguished_name = dn\nx509_extensions = leaf\nprompt = no\n[dn]\nCN = localhost\n\
         [leaf]\nbasicConstraints = critical,CA:FALSE\nsubjectAltName = DNS:localhost,IP:127.0.0.1,IP:127.0.0.2\n\
         keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .arg("-config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command");
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// One running sink; killed on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    fn start(dir: &Path, host: &str, port: u16, args: &[&str]) -> SmtpSink {
        let out = dir.join(format!("mail-{host}-{port}-{}", args.join("").len()));
        std::fs::create_dir_all(&out).unwrap();
        let mut child = Command::new("python3")
            .arg(smtp_sink_script())
            .arg("--dir")
            .arg(&out)
            .args(["--host", host, "--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("smtp_sink.py did not start (aiosmtpd installed?): {line:?}"));
        SmtpSink { child, port, out }
    }

    /// The `n`th received message: its metadata and its text.
    fn message(&self, n: usize) -> (serde_json::Value, String) {
        let meta = self.out.join(format!("{n}.json"));
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).expect("message received")).unwrap();
        let eml = String::from_utf8(std::fs::read(self.out.join(format!("{n}.eml"))).unwrap()).unwrap();
        (meta, eml)
    }

    fn received(&self) -> usize {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("json".as_ref()))
            .count()
    }
}

fn smtp_target(port: u16) -> SmtpTarget {
    SmtpTarget {
        smarthost_host: "127.0.0.1".into(),
        smarthost_port: port,
        hello: "pharos.test".into(),
        require_tls: false,
        auth_username: String::new(),
        auth_password: String::new(),
        auth_identity: String::new(),
        auth_secret: String::new(),
        tls: TlsOptions::default(),
        timeout: Duration::from_secs(10),
    }
}

fn email(subject: &str, text: Option<&str>, html: Option<&str>) -> EmailMessage {
    let headers: BTreeMap<String, String> = [
        ("Subject", subject),
        ("To", "ops@example.org, Oncall <oncall@example.org>"),
        ("From", "Alertmanager <am@example.org>"),
        ("X-Pharos-Receiver", "team-a"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    EmailMessage {
        from: "am@example.org".into(),
        to: EmailMessage::split_recipients("ops@example.org, Oncall <oncall@example.org>").unwrap(),
        headers,
        html: html.map(str::to_string),
        text: text.map(str::to_string),
    }
}

/// The header `name` of a raw message (first occurrence, unfolded).
fn header<'a>(eml: &'a str, name: &str) -> Option<&'a str> {
    let head = eml.split("\r\n\r\n").next().unwrap();
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn recipients_are_split_like_go_parse_address_list() {
    assert_eq!(
        EmailMessage::split_recipients("a@x.org, B <b@y.org>,c@z.org").unwrap(),
        vec!["a@x.org", "b@y.org", "c@z.org"]
    );
    assert!(matches!(EmailMessage::split_recipients("not an address"), Err(DeliveryError::Invalid { .. })));
    assert!(matches!(EmailMessage::split_recipients(""), Err(DeliveryError::Invalid { .. })));
}

#[tokio::test]
async fn plain_smtp_with_auth_plain_delivers_both_mime_parts() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(dir.path(), "127.0.0.1", 0, &["--user", "alerts", "--password", "s3cret"]);
    let mut target = smtp_target(sink.port);
    target.auth_username = "alerts".into();
    target.auth_password = "s3cret".into();
    let message = email("[FIRING:1] Down — ünïcode", Some("plain text body\nline 2"), Some("<p>html <b>body</b></p>"));
    send_email(&target, &message).await.unwrap();

    let (meta, eml) = sink.message(1);
    assert_eq!(meta["mail_from"], "am@example.org");
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["ops@example.org", "oncall@example.org"]));
    assert_eq!(meta["helo"], "pharos.test");
    assert_eq!(meta["auth_user"], "alerts");
    assert_eq!(meta["auth_mechanism"], "PLAIN");
    assert_eq!(meta["tls"], false);

    let parsed = lettre_free_parse(&eml);
    assert_eq!(parsed.subject, "[FIRING:1] Down — ünïcode");
    assert_eq!(header(&eml, "To"), Some("ops@example.org, Oncall <oncall@example.org>"));
    assert_eq!(header(&eml, "From"), Some("Alertmanager <am@example.org>"));
    assert_eq!(header(&eml, "X-Pharos-Receiver"), Some("team-a"));
    assert!(header(&eml, "Date").is_some_and(|d| d.contains(" +0000") || d.contains("GMT")), "{eml}");
    assert!(header(&eml, "Message-ID").is_some_and(|id| id.starts_with('<') && id.ends_with('>')), "{eml}");
    assert!(header(&eml, "Content-Type").unwrap().starts_with("multipart/alternative"), "{eml}");
    assert_eq!(parsed.parts.len(), 2, "{eml}");
    assert!(parsed.parts[0].0.starts_with("text/plain"), "text first: {:?}", parsed.parts);
    assert_eq!(parsed.parts[0].1.trim_end(), "plain text body\nline 2");
    assert!(parsed.parts[1].0.starts_with("text/html"));
    assert_eq!(parsed.parts[1].1.trim_end(), "<p>html <b>body</b></p>");
}

#[tokio::test]
async fn starttls_required_with_ca_file_and_auth_login() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    let (cert_arg, key_arg) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let sink = SmtpSink::start(
        dir.path(),
        "127.0.0.1",
        0,
        &[
            "--starttls",
            "--cert",
            cert_arg,
            "--key",
            key_arg,
            "--user",
            "u",
            "--password",
            "p",
            "--mechanisms",
            "LOGIN",
        ],
    );
    let mut target = smtp_target(sink.port);
    target.require_tls = true;
    target.auth_username = "u".into();
    target.auth_password = "p".into();
    target.tls.ca_file = Some(cert.clone());
    target.tls.server_name = Some("localhost".into());
    send_email(&target, &email("over tls", None, Some("<i>only html</i>"))).await.unwrap();
    let (meta, eml) = sink.message(1);
    assert_eq!((meta["tls"].as_bool(), meta["auth_user"].as_str()), (Some(true), Some("u")));
    assert_eq!(meta["auth_mechanism"], "LOGIN");
    assert!(header(&eml, "Content-Type").unwrap().starts_with("text/html"), "{eml}");
    let parts = lettre_free_parse(&eml).parts;
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].1.trim_end(), "<i>only html</i>");

    // Not trusted without the CA file: a TLS failure, retryable (Alertmanager retries it too).
    target.tls.ca_file = None;
    let error = send_email(&target, &email("untrusted", Some("t"), None)).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Smtp { permanent: false, .. }) && error.retryable(), "{error}");
    // insecure_skip_verify accepts it.
    target.tls.insecure_skip_verify = true;
    send_email(&target, &email("insecure", Some("t"), None)).await.unwrap();
    assert_eq!(sink.received(), 2);
}

#[tokio::test]
async fn opportunistic_starttls_when_not_required_and_plain_when_not_offered() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    let tls_sink = SmtpSink::start(
        dir.path(),
        "127.0.0.1",
        0,
        &["--starttls", "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()],
    );
    let mut target = smtp_target(tls_sink.port);
    target.tls.ca_file = Some(cert.clone());
    send_email(&target, &email("opportunistic", Some("only text"), None)).await.unwrap();
    let (meta, eml) = tls_sink.message(1);
    assert_eq!(meta["tls"], true, "STARTTLS used when offered");
    assert_eq!(meta["auth_user"], serde_json::Value::Null);
    assert!(header(&eml, "Content-Type").unwrap().starts_with("text/plain"), "{eml}");

    let plain_sink = SmtpSink::start(dir.path(), "127.0.0.1", 0, &[]);
    send_email(&smtp_target(plain_sink.port), &email("plain", Some("t"), None)).await.unwrap();
    assert_eq!(plain_sink.message(1).0["tls"], false);

    // require_tls against a server without STARTTLS: refused before sending, retryable.
    let mut strict = smtp_target(plain_sink.port);
    strict.require_tls = true;
    let error = send_email(&strict, &email("strict", Some("t"), None)).await.unwrap_err();
    assert!(error.retryable(), "{error}");
    assert_eq!(plain_sink.received(), 1);
}

#[tokio::test]
async fn port_465_is_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    // 127.0.0.2: port 465 of another loopback address than the usual one, to avoid clashes.
    let sink = SmtpSink::start(
        dir.path(),
        "127.0.0.2",
        465,
        &[
            "--implicit-tls",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--user",
            "u",
            "--password",
            "p",
        ],
    );
    assert_eq!(sink.port, 465);
    let mut target = smtp_target(465);
    target.smarthost_host = "127.0.0.2".into();
    target.auth_username = "u".into();
    target.auth_password = "p".into();
    target.tls.ca_file = Some(cert);
    send_email(&target, &email("implicit", Some("t"), Some("<b>h</b>"))).await.unwrap();
    let (meta, _) = sink.message(1);
    assert_eq!((meta["tls"].as_bool(), meta["auth_user"].as_str()), (Some(true), Some("u")));
}

#[tokio::test]
async fn smtp_refusals_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(dir.path(), "127.0.0.1", 0, &["--user", "u", "--password", "p"]);
    let mut target = smtp_target(sink.port);
    target.auth_username = "u".into();
    target.auth_password = "wrong".into();
    let error = send_email(&target, &email("x", Some("t"), None)).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Smtp { permanent: true, .. }) && !error.retryable(), "{error}");

    target.auth_password = String::new();
    target.auth_secret = "cram".into();
    let error = send_email(&target, &email("x", Some("t"), None)).await.unwrap_err();
    assert!(error.to_string().contains("CRAM-MD5"), "{error}");

    let mut bad = email("x", None, None);
    let error = send_email(&smtp_target(sink.port), &bad).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Invalid { .. }), "{error}");
    bad.text = Some("t".into());
    bad.from = "not an address".into();
    assert!(matches!(send_email(&smtp_target(sink.port), &bad).await, Err(DeliveryError::Invalid { .. })));
    let mut injected = email("x", Some("t"), None);
    injected.headers.insert("Subject".into(), "a\r\nBcc: evil@example.org".into());
    assert!(matches!(send_email(&smtp_target(sink.port), &injected).await, Err(DeliveryError::Invalid { .. })));
    assert_eq!(sink.received(), 0);

    // Nothing listening: a connection error, retryable.
    let closed = free_port().await;
    let error = send_email(&smtp_target(closed), &email("x", Some("t"), None)).await.unwrap_err();
    assert!(error.retryable(), "{error}");
}

/// Subject (RFC 2047 decoded) and the (content type, decoded body) of each part.
struct ParsedMail {
    subject: String,
    parts: Vec<(String, String)>,
}

/// A small MIME reader for the test's own assertions (quoted-printable, base64 and 7bit bodies,
/// RFC 2047 `=?utf-8?b?…?=` / `=?utf-8?q?…?=` words), so what is checked is what a mail client sees.
fn lettre_free_parse(eml: &str) -> ParsedMail {
    fn unfold(head: &str) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                headers.last_mut().unwrap().1.push_str(line);
            } else if let Some((n, v)) = line.split_once(':') {
                headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        headers
    }
    fn get<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }
    fn decode_qp(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && bytes.get(i + 1) == Some(&b'\r') {
                i += 3;
            } else if bytes[i] == b'=' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }
    fn decode_b64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let values: Vec<u32> =
            text.bytes().filter_map(|b| ALPHABET.iter().position(|&a| a == b).map(|p| p as u32)).collect();
        let mut out = Vec::new();
        for chunk in values.chunks(4) {
            let mut n = 0u32;
            for (i, v) in chunk.iter().enumerate() {
                n |= v << (18 - 6 * i);
            }
            out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
        }
        out
    }
    fn decode_words(value: &str) -> String {
        // RFC 2047: white space between two encoded words is dropped, kept elsewhere.
        let mut out = String::new();
        let mut previous_encoded = false;
        for word in value.split_whitespace() {
            let encoded = word.starts_with("=?") && word.ends_with("?=");
            let joined = encoded && previous_encoded;
            if !out.is_empty() && !joined {
                out.push(' ');
            }
            previous_encoded = encoded;
            let decoded = match word.strip_prefix("=?").and_then(|w| w.strip_suffix("?=")) {
                Some(inner) => {
                    let mut fields = inner.splitn(3, '?');
                    let (_charset, encoding, text) =
                        (fields.next().unwrap(), fields.next().unwrap(), fields.next().unwrap());
                    let bytes = if encoding.eq_ignore_ascii_case("b") {
                        decode_b64(text)
                    } else {
                        decode_qp(&text.replace('_', " "))
                    };
                    String::from_utf8(bytes).unwrap()
                }
                None => word.to_string(),
            };
            out.push_str(&decoded);
        }
        out
    }
    fn body(headers: &[(String, String)], raw: &str) -> String {
        let bytes = match get(headers, "content-transfer-encoding").to_ascii_lowercase().as_str() {
            "quoted-printable" => decode_qp(raw),
            "base64" => decode_b64(raw),
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).unwrap().replace("\r\n", "\n")
    }
    let (head, rest) = eml.split_once("\r\n\r\n").unwrap();
    let headers = unfold(head);
    let content_type = get(&headers, "content-type").to_string();
    let parts = if content_type.starts_with("multipart/") {
        let boundary = content_type.split("boundary=").nth(1).unwrap().trim_matches('"').split(';').next().unwrap();
        rest.split(&format!("--{boundary}"))
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|part| {
                let (part_head, part_body) = part.trim_start_matches("\r\n").split_once("\r\n\r\n").unwrap();
                let part_headers = unfold(part_head);
                (get(&part_headers, "content-type").to_string(), body(&part_headers, part_body))
            })
            .collect()
    } else {
        vec![(content_type, body(&headers, rest))]
    };
    ParsedMail { subject: decode_words(get(&headers, "subject")), parts }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// What the test receiver saw and how it answers.
#[derive(Default)]
struct Receiver {
    requests: Mutex<Vec<(String, HeaderMap, serde_json::Value)>>,
    flaky_failures_left: Mutex<u32>,
}

async fn record(state: &Receiver, path: &str, headers: HeaderMap, body: &[u8]) {
    let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    state.requests.lock().unwrap().push((path.to_string(), headers, json));
}

async fn start_receiver(flaky_failures: u32) -> (SocketAddr, Arc<Receiver>) {
    let state = Arc::new(Receiver { flaky_failures_left: Mutex::new(flaky_failures), ..Default::default() });
    let app = Router::new()
        .route(
            "/webhook",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/webhook", h, &b).await;
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/slack/ok",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/slack/ok", h, &b).await;
                "ok"
            }),
        )
        .route(
            "/slack/json-ok",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/slack/json-ok", h, &b).await;
                axum::Json(serde_json::json!({"ok": true, "ts": "1.2"}))
            }),
        )
        .route(
            "/slack/refused",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/slack/refused", h, &b).await;
                axum::Json(serde_json::json!({"ok": false, "error": "invalid_blocks"}))
            }),
        )
        .route(
            "/flaky",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/flaky", h, &b).await;
                let mut left = s.flaky_failures_left.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response()
                } else {
                    "ok".into_response()
                }
            }),
        )
        .route(
            "/bad",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/bad", h, &b).await;
                (StatusCode::BAD_REQUEST, "bad payload").into_response()
            }),
        )
        .route(
            "/limited",
            post(|State(s): State<Arc<Receiver>>, h: HeaderMap, b: axum::body::Bytes| async move {
                record(&s, "/limited", h, &b).await;
                Response::builder().status(429).body(axum::body::Body::from("slow down")).unwrap()
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

fn http_target(addr: SocketAddr, path: &str) -> HttpTarget {
    HttpTarget { url: format!("http://{addr}{path}"), timeout: Duration::from_secs(5), ..Default::default() }
}

/// A port nothing listens on (bound, then released).
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn sample_webhook() -> WebhookMessage {
    let labels: LabelSet =
        [("alertname", "Down"), ("job", "node")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let alert = Alert {
        labels: labels.clone(),
        annotations: [("summary".to_string(), "node down".to_string())].into(),
        starts_at: 1_704_067_200_000_000_000,
        ends_at: 0,
        updated_at: 1_704_067_200_000_000_000,
        generator_url: "http://prom:9090/graph?g0.expr=up".into(),
        timeout: false,
    };
    let group_labels: LabelSet = [("alertname".to_string(), "Down".to_string())].into();
    WebhookMessage::build(
        "web",
        "{}:{alertname=\"Down\"}",
        &group_labels,
        &[alert],
        "http://pharos:9090",
        0,
        1_704_067_300_000_000_000,
    )
}

#[tokio::test]
async fn webhook_post_sends_alertmanagers_json_with_auth_and_headers() {
    let (addr, receiver) = start_receiver(0).await;
    let mut target = http_target(addr, "/webhook");
    target.basic_auth = Some(("user".into(), "pw".into()));
    target.extra_headers = vec![("X-Scope-OrgID".into(), "tenant-1".into())];
    let message = sample_webhook();
    post_webhook(&target, &message).await.unwrap();

    let requests = receiver.requests.lock().unwrap();
    let (path, headers, json) = &requests[0];
    assert_eq!(path, "/webhook");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["authorization"], "Basic dXNlcjpwdw==");
    assert_eq!(headers["x-scope-orgid"], "tenant-1");
    assert!(headers["user-agent"].to_str().unwrap().starts_with("Pharos/"));
    let fingerprint = message.alerts[0].fingerprint.clone();
    assert_eq!(
        json,
        &serde_json::json!({
            "receiver": "web", "status": "firing",
            "alerts": [{
                "status": "firing", "labels": {"alertname": "Down", "job": "node"},
                "annotations": {"summary": "node down"}, "startsAt": "2024-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom:9090/graph?g0.expr=up",
                "fingerprint": fingerprint
            }],
            "groupLabels": {"alertname": "Down"}, "commonLabels": {"alertname": "Down", "job": "node"},
            "commonAnnotations": {"summary": "node down"}, "externalURL": "http://pharos:9090",
            "version": "4", "groupKey": "{}:{alertname=\"Down\"}", "truncatedAlerts": 0
        })
    );
    assert_eq!(fingerprint.len(), 16);
}

#[tokio::test]
async fn bearer_token_is_sent() {
    let (addr, receiver) = start_receiver(0).await;
    let mut target = http_target(addr, "/webhook");
    target.bearer_token = Some("tok".into());
    post_webhook(&target, &sample_webhook()).await.unwrap();
    assert_eq!(receiver.requests.lock().unwrap()[0].1["authorization"], "Bearer tok");
}

fn slack_message() -> SlackMessage {
    SlackMessage {
        channel: "#alerts".into(),
        username: "Pharos".into(),
        attachments: vec![SlackAttachment {
            title: "[FIRING:1] Down".into(),
            text: "node down".into(),
            color: "danger".into(),
            fields: vec![SlackField { title: "job".into(), value: "node".into(), short: true }],
            mrkdwn_in: vec!["fallback".into(), "pretext".into(), "text".into()],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn slack_ok_answers_and_message_json() {
    let (addr, receiver) = start_receiver(0).await;
    post_slack(&http_target(addr, "/slack/ok"), &slack_message()).await.unwrap();
    post_slack(&http_target(addr, "/slack/json-ok"), &slack_message()).await.unwrap();
    let requests = receiver.requests.lock().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].2,
        serde_json::json!({
            "channel": "#alerts", "username": "Pharos",
            "attachments": [{
                "title": "[FIRING:1] Down", "text": "node down", "fallback": "", "callback_id": "",
                "fields": [{"title": "job", "value": "node", "short": true}], "footer": "", "color": "danger",
                "mrkdwn_in": ["fallback", "pretext", "text"]
            }]
        })
    );
}

#[tokio::test]
async fn slack_ok_false_is_not_retried() {
    let (addr, receiver) = start_receiver(0).await;
    let target = http_target(addr, "/slack/refused");
    let message = slack_message();
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = deliver_with_retries("slack/refused", deadline, || post_slack(&target, &message)).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Rejected { .. }), "{error}");
    assert!(error.to_string().contains("invalid_blocks"), "{error}");
    assert!(!error.to_string().contains("/slack/refused"), "URL path kept out of errors: {error}");
    assert_eq!(receiver.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn server_error_then_success_is_retried_and_counted() {
    let (addr, receiver) = start_receiver(2).await;
    let target = http_target(addr, "/flaky");
    let message = sample_webhook();
    let deadline = Instant::now() + Duration::from_secs(20);
    let attempts = deliver_with_retries("flaky", deadline, || post_webhook(&target, &message)).await.unwrap();
    assert_eq!(attempts, 3);
    assert_eq!(receiver.requests.lock().unwrap().len(), 3);

    // Slack treats 5xx the same way.
    *receiver.flaky_failures_left.lock().unwrap() = 1;
    let slack = slack_message();
    let attempts = deliver_with_retries("flaky slack", deadline, || post_slack(&target, &slack)).await.unwrap();
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn client_errors_are_not_retried_but_429_is() {
    let (addr, receiver) = start_receiver(0).await;
    let target = http_target(addr, "/bad");
    let message = sample_webhook();
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = deliver_with_retries("bad", deadline, || post_webhook(&target, &message)).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Status { status: 400, .. }), "{error}");
    assert!(error.to_string().contains("bad payload"), "{error}");
    assert_eq!(receiver.requests.lock().unwrap().len(), 1);

    let limited = http_target(addr, "/limited");
    let error = post_webhook(&limited, &message).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Status { status: 429, .. }) && error.retryable(), "{error}");
}

#[tokio::test]
async fn connection_refused_is_retried_until_the_deadline() {
    let port = free_port().await;
    let target = HttpTarget { url: format!("http://127.0.0.1:{port}/hook?token=secret"), ..Default::default() };
    let message = sample_webhook();
    let start = Instant::now();
    let deadline = start + Duration::from_millis(2500);
    let mut calls = 0u32;
    let error = deliver_with_retries("refused", deadline, || {
        calls += 1;
        post_webhook(&target, &message)
    })
    .await
    .unwrap_err();
    let elapsed = start.elapsed();
    match &error {
        DeliveryError::DeadlineExceeded { attempts, last, .. } => {
            assert_eq!(*attempts, calls);
            assert!(*attempts >= 3, "backoff from 0.5 s within 2.5 s gives several attempts: {attempts}");
            assert!(matches!(**last, DeliveryError::Connection { .. }), "{last}");
        }
        other => panic!("{other}"),
    }
    assert!(!error.to_string().contains("secret"), "{error}");
    assert!(elapsed >= Duration::from_millis(2400) && elapsed < Duration::from_secs(4), "{elapsed:?}");
}

/// An HTTPS server (Python's `http.server` wrapped in TLS) answering every POST with `ok`.
struct HttpsServer {
    child: Child,
    port: u16,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_https_server(cert: &Path, key: &Path) -> HttpsServer {
    const SCRIPT: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
c = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(cert)
        .arg(key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    HttpsServer { port: line.trim().parse().expect("HTTPS server port"), child }
}

#[tokio::test]
async fn https_with_ca_file_server_name_and_insecure_skip_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    let server = start_https_server(&cert, &key);
    let url = format!("https://127.0.0.1:{}/services/T0/B0/secret", server.port);
    let message = slack_message();

    let trusted = HttpTarget {
        url: url.clone(),
        timeout: Duration::from_secs(5),
        tls: TlsOptions { ca_file: Some(cert.clone()), ..Default::default() },
        ..Default::default()
    };
    post_slack(&trusted, &message).await.unwrap();

    // The certificate names localhost too: checked against server_name instead of the URL's IP.
    let mut named = trusted.clone();
    named.url = format!("https://127.0.0.2:{}/x", server.port);
    named.tls.server_name = Some("localhost".into());
    let error = post_slack(&named, &message).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Connection { .. }), "127.0.0.2 is not listening: {error}");
    named.url = url.clone();
    post_slack(&named, &message).await.unwrap();
    named.tls.server_name = Some("other.example".into());
    let error = post_slack(&named, &message).await.unwrap_err();
    assert!(error.retryable() && !error.to_string().contains("secret"), "{error}");

    // Not trusted by the system's roots.
    let untrusted = HttpTarget { url: url.clone(), ..Default::default() };
    let error = post_slack(&untrusted, &message).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Connection { .. }), "{error}");
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");

    let insecure =
        HttpTarget { url, tls: TlsOptions { insecure_skip_verify: true, ..Default::default() }, ..Default::default() };
    post_slack(&insecure, &message).await.unwrap();
}

#[tokio::test]
async fn bad_http_targets_are_invalid_not_retried() {
    let message = sample_webhook();
    for target in [
        HttpTarget { url: "not a url".into(), ..Default::default() },
        HttpTarget { url: "ftp://example.org/x".into(), ..Default::default() },
        HttpTarget {
            url: "http://127.0.0.1:1/".into(),
            extra_headers: vec![("bad header".into(), "v".into())],
            ..Default::default()
        },
        HttpTarget {
            url: "https://127.0.0.1:1/".into(),
            tls: TlsOptions { ca_file: Some("/nonexistent/ca.pem".into()), ..Default::default() },
            ..Default::default()
        },
    ] {
        let error = post_webhook(&target, &message).await.unwrap_err();
        assert!(matches!(error, DeliveryError::Invalid { .. }) && !error.retryable(), "{}: {error}", target.url);
    }
}

// Pharos — alerting/src/notifier/delivery/tests.rs
