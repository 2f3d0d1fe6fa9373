//! Process lifecycle: structured logging and Unix signals.

use std::io::IsTerminal;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::{LogConfig, LogFormat, LogLevel};

/// Changes the log level of the running process (on config reload).
pub struct LogLevelHandle(reload::Handle<EnvFilter, Registry>);

impl LogLevelHandle {
    pub fn set(&self, level: LogLevel) {
        if let Err(e) = self.0.reload(filter_for(level)) {
            tracing::warn!(error = %e, "cannot change the log level");
        }
    }
}

/// `RUST_LOG`, when set, wins over the configured level (for debugging one module).
fn filter_for(level: LogLevel) -> EnvFilter {
    match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::new(directives),
        // Dependencies' debug output (hyper, h2, tower) is noise at debug level.
        _ => EnvFilter::new(format!("{0},hyper=info,h2=info,tower=info,tonic=info", level.as_str())),
    }
}

/// Install the global subscriber: logs go to stderr as text or JSON lines.
pub fn init_logging(config: &LogConfig) -> LogLevelHandle {
    let (filter, handle) = reload::Layer::new(filter_for(config.level));
    let output = match config.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let _ = tracing_subscriber::registry().with(filter).with(output).try_init();
    LogLevelHandle(handle)
}

/// What a signal asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalRequest {
    /// SIGTERM or SIGINT: stop gracefully.
    Shutdown(&'static str),
    /// SIGHUP: reload the configuration.
    Reload,
}

/// The signals Pharos acts on.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    pub async fn next(&mut self) -> SignalRequest {
        tokio::select! {
            _ = self.term.recv() => SignalRequest::Shutdown("SIGTERM"),
            _ = self.int.recv() => SignalRequest::Shutdown("SIGINT"),
            _ = self.hup.recv() => SignalRequest::Reload,
        }
    }
}

// Pharos — src/lifecycle.rs
