//! The configuration file: one YAML document, every key optional.
//!
//! Each section is a struct with `deny_unknown_fields`, so a misspelt key is an error that names the
//! key, the line and the column. Every default is stated in the doc comment of its field and in
//! `pharos.example.yml`. Command-line flags override the file ([`Overrides`]).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use pharos_proto::byte_size::ByteSize;
use pharos_proto::duration::PromDuration;
use pharos_storage::StorageOptions;
use pharos_storage::logs::LogStoreOptions;
use pharos_storage::traces::TraceStoreOptions;
use pharos_storage::tsdb::{FsyncPolicy, LabelLimits, TsdbOptions};
use serde::Deserialize;

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listeners and HTTP limits.
    pub server: ServerConfig,
    /// The data directory and its stores.
    pub storage: StorageConfig,
    /// What the receivers accept.
    pub ingest: IngestConfig,
    /// The PromQL engine.
    pub query: QueryConfig,
    /// Pharos' own logs.
    pub log: LogConfig,
    /// Rule evaluation and the Alertmanager-compatible notifier.
    pub alerting: AlertingConfig,
}

/// The `alerting:` section: Prometheus rule files evaluated by Pharos, and the notifier that
/// Pharos' alerts (and other Prometheus servers' alerts, posted to `/alertmanager/api/v2/alerts`)
/// go to. Relative paths are relative to the directory of the configuration file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Prometheus rule files, as globs (`rules/*.yml`), loaded unchanged. Default: none.
    pub rule_files: Vec<String>,
    /// How often a rule group without its own `interval` is evaluated (Prometheus'
    /// `global.evaluation_interval`). Default: `1m`.
    pub evaluation_interval: PromDuration,
    /// Labels added to every alert (Prometheus' `global.external_labels`). Default: none.
    pub external_labels: std::collections::BTreeMap<String, String>,
    /// The URL users reach Pharos at, for the links in alerts and notifications (Prometheus' and
    /// Alertmanager's `--web.external-url`). Default: `http://<server.http_listen>`.
    pub external_url: Option<String>,
    /// Least time between two sends of a still-active alert to the notifier (Prometheus'
    /// `--rules.alert.resend-delay`). Default: `1m`.
    pub resend_delay: PromDuration,
    /// How long Pharos may have been down for the `for` state of alerts to be restored
    /// (`--rules.alert.for-outage-tolerance`). Default: `1h`.
    pub for_outage_tolerance: PromDuration,
    /// Least time an alert waits after a restart before it fires when its restored `for` would
    /// fire it sooner (`--rules.alert.for-grace-period`). Default: `10m`.
    pub for_grace_period: PromDuration,
    /// An `alertmanager.yml`, used unchanged. Default: none: alerts are kept and shown by the
    /// API, and nothing is sent.
    pub alertmanager_config: Option<PathBuf>,
    /// How long expired silences and notification-log entries are kept (Alertmanager's
    /// `--data.retention`). Default: `120h`.
    pub data_retention: PromDuration,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            rule_files: Vec::new(),
            evaluation_interval: PromDuration::from_secs(60),
            external_labels: Default::default(),
            external_url: None,
            resend_delay: PromDuration::from_secs(60),
            for_outage_tolerance: PromDuration::from_secs(3600),
            for_grace_period: PromDuration::from_secs(600),
            alertmanager_config: None,
            data_retention: PromDuration::from_secs(120 * 3600),
        }
    }
}

/// The `server:` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Main HTTP listener: Prometheus, Elasticsearch, Loki, Jaeger, Tempo and Alertmanager APIs.
    /// Default: `127.0.0.1:9090`, the URL Grafana's Prometheus datasource suggests.
    pub http_listen: ListenAddr,
    /// OTLP gRPC listener. Default: `127.0.0.1:4317`.
    pub otlp_grpc_listen: ListenAddr,
    /// OTLP/HTTP listener. Default: `127.0.0.1:4318`.
    pub otlp_http_listen: ListenAddr,
    /// An optional listener that answers the Elasticsearch API at its root (`/_bulk`, `/`, …), for
    /// shippers that cannot add the `/elastic` path prefix. Default: none.
    pub elasticsearch_listen: Option<ListenAddr>,
    /// Largest request body accepted as sent (compressed). Default: `32MiB`.
    pub max_request_body: ByteSize,
    /// Largest request body accepted once decompressed. Default: `128MiB`.
    pub max_decoded_body: ByteSize,
    /// Longest time one HTTP request may take before it is answered with a timeout. Default: `2m`.
    pub request_timeout: PromDuration,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish before they are dropped
    /// and storage is flushed. At most `9s`, so Pharos always exits within 10 s. Default: `5s`.
    pub shutdown_grace: PromDuration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen: ListenAddr::loopback(9090),
            otlp_grpc_listen: ListenAddr::loopback(4317),
            otlp_http_listen: ListenAddr::loopback(4318),
            elasticsearch_listen: None,
            max_request_body: ByteSize::mib(32),
            max_decoded_body: ByteSize::mib(128),
            request_timeout: PromDuration::from_secs(120),
            shutdown_grace: PromDuration::from_secs(5),
        }
    }
}

/// The `storage:` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Directory holding every store; created if missing, locked while Pharos runs. Default: `./data`.
    pub data_dir: PathBuf,
    /// The metrics store.
    pub metrics: MetricsStorageConfig,
    /// The log store.
    pub logs: LogsStorageConfig,
    /// The trace store.
    pub traces: TracesStorageConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
            metrics: MetricsStorageConfig::default(),
            logs: LogsStorageConfig::default(),
            traces: TracesStorageConfig::default(),
        }
    }
}

/// The `storage.traces:` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracesStorageConfig {
    /// Spans are deleted a whole UTC day (of span start time) at a time, once the day ended more
    /// than this long ago; `0s` keeps everything. Default: `14d`, Tempo's default block retention.
    pub retention_time: PromDuration,
    /// Whether RocksDB's WAL is fsynced before an export is acknowledged. Acknowledged spans
    /// survive a crash of Pharos either way; this decides whether they survive a power loss.
    /// Default: `true`.
    pub wal_fsync: bool,
    /// Span or resource attributes whose `key=value` pairs are indexed, so Jaeger tag searches and
    /// TraceQL equality on them read only matching spans (other attributes are still searchable,
    /// by reading the spans a service, name or time index yields). Default: the list in
    /// `pharos.example.yml` (HTTP method, route and status, RPC and database system, peer service,
    /// environment, namespace, host…).
    pub indexed_attributes: Vec<String>,
    /// RocksDB's block cache. Default: `64MiB`.
    pub block_cache: ByteSize,
}

impl Default for TracesStorageConfig {
    fn default() -> Self {
        TracesStorageConfig {
            retention_time: PromDuration::from_secs(14 * 86_400),
            wal_fsync: true,
            indexed_attributes: pharos_storage::traces::DEFAULT_INDEXED_ATTRIBUTES
                .iter()
                .map(|k| k.to_string())
                .collect(),
            block_cache: ByteSize::mib(64),
        }
    }
}

/// The `storage.logs:` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsStorageConfig {
    /// How often newly written documents are committed and become searchable (Elasticsearch's
    /// `refresh_interval`). Default: `1s`.
    pub refresh_interval: PromDuration,
    /// Whether the log WAL is fsynced before a write is acknowledged. Acknowledged writes survive a
    /// crash of Pharos either way; this decides whether they survive a power loss. Default: `true`.
    pub wal_fsync: bool,
    /// Partitions (one UTC day of event time each) whose newest possible time is older than this
    /// are deleted; `0s` keeps everything, as Elasticsearch and Loki do by default. Default: `0s`.
    pub retention_time: PromDuration,
    /// When the log store takes more than this on disk, its oldest partitions are deleted; `0B`
    /// means no limit. Default: `0B`.
    pub retention_size: ByteSize,
    /// Indexing memory of each open partition writer. Default: `64MiB`.
    pub writer_memory: ByteSize,
    /// zstd level of the documents kept for `_source` (1–22), for partitions created from now on.
    /// Higher is smaller and slower to write: on the benchmark corpus, 256 KiB blocks at level 5
    /// are ~15 % smaller than the default and compress at a third of its speed. Default: `3`.
    pub docstore_compression_level: i32,
    /// Uncompressed size of a doc-store block (4KiB–16MiB), for partitions created from now on.
    /// Larger blocks compress better; every search hit decompresses its whole block. Default:
    /// `64KiB`.
    pub docstore_block_size: ByteSize,
}

impl Default for LogsStorageConfig {
    fn default() -> Self {
        LogsStorageConfig {
            refresh_interval: PromDuration::from_secs(1),
            wal_fsync: true,
            retention_time: PromDuration::from_secs(0),
            retention_size: ByteSize(0),
            writer_memory: ByteSize::mib(64),
            docstore_compression_level: 3,
            docstore_block_size: ByteSize(64 << 10),
        }
    }
}

/// The `ingest:` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Log receivers (Elasticsearch `_bulk`, JSON lines, Loki push, OTLP logs).
    pub logs: LogsIngestConfig,
    /// The OTLP trace receivers (gRPC `TraceService/Export`, HTTP `/v1/traces`).
    pub traces: TracesIngestConfig,
}

/// The `ingest.traces:` section. Limits beyond which a span's items are dropped (and counted in its
/// `dropped_*_count` fields, as the OpenTelemetry SDKs do) or its strings cut.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracesIngestConfig {
    /// Attributes kept per span, per event and per link (the first ones). Default: `128`.
    pub max_attributes_per_span: usize,
    /// Events kept per span. Default: `128`.
    pub max_events_per_span: usize,
    /// Links kept per span. Default: `128`.
    pub max_links_per_span: usize,
    /// Longest string or bytes value kept (attribute keys and values, names, messages); longer
    /// ones are cut at a character boundary. Default: `64KiB`.
    pub max_attribute_value_length: ByteSize,
    /// Exports stored at once; more are answered HTTP 503 with `Retry-After` / gRPC `UNAVAILABLE`,
    /// which exporters retry. Default: `64`.
    pub max_concurrent_exports: usize,
}

impl Default for TracesIngestConfig {
    fn default() -> Self {
        TracesIngestConfig {
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attribute_value_length: ByteSize(64 << 10),
            max_concurrent_exports: 64,
        }
    }
}

/// The `ingest.logs:` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsIngestConfig {
    /// Largest single log document accepted; a larger one fails its bulk item (the others are
    /// indexed). Default: `1MiB`.
    pub max_document_size: ByteSize,
    /// The index OTLP log records are written to. Default: `otel-logs`.
    pub otlp_index: String,
}

impl Default for LogsIngestConfig {
    fn default() -> Self {
        LogsIngestConfig { max_document_size: ByteSize::mib(1), otlp_index: "otel-logs".into() }
    }
}

/// The `storage.metrics:` section.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsStorageConfig {
    /// When the WAL is fsynced: `always` (before every acknowledgement), `interval` or `never`.
    /// Acknowledged writes survive `kill -9` under every policy; this decides power loss. Default: `interval`.
    pub wal_fsync: WalFsync,
    /// The period of `wal_fsync: interval`. Default: `1s`.
    pub wal_fsync_interval: PromDuration,
    /// WAL segment size. Default: `128MiB`.
    pub wal_segment_size: ByteSize,
    /// Samples up to this much older than their series' newest sample are accepted; `0s` refuses
    /// every out-of-order sample, as Prometheus does by default. Default: `10m`.
    pub out_of_order_window: PromDuration,
    /// Longest label name accepted, in bytes. Default: `1024`.
    pub max_label_name_length: usize,
    /// Longest label value accepted, in bytes. Default: `4096`.
    pub max_label_value_length: usize,
    /// Blocks older than this (counted back from the newest sample) are deleted; `0s` keeps
    /// everything. Default: `15d`, as Prometheus.
    pub retention_time: PromDuration,
    /// When blocks take more than this, the oldest are deleted; `0B` means no limit. Default: `0B`.
    pub retention_size: ByteSize,
}

impl Default for MetricsStorageConfig {
    fn default() -> Self {
        let tsdb = TsdbOptions::default();
        MetricsStorageConfig {
            wal_fsync: WalFsync::Interval,
            wal_fsync_interval: PromDuration::from_secs(1),
            wal_segment_size: ByteSize(tsdb.wal_segment_bytes),
            out_of_order_window: PromDuration(tsdb.out_of_order_window),
            max_label_name_length: tsdb.label_limits.max_name_bytes,
            max_label_value_length: tsdb.label_limits.max_value_bytes,
            retention_time: PromDuration(tsdb.retention_time.unwrap_or_default()),
            retention_size: ByteSize(tsdb.retention_size.unwrap_or(0)),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WalFsync {
    Always,
    #[default]
    Interval,
    Never,
}

/// The `query:` section: PromQL engine limits, as Prometheus' `--query.*` flags.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back an instant selector looks for a sample. Default: `5m`.
    pub lookback_delta: PromDuration,
    /// Most samples one query may hold in memory; beyond it the query fails (422). Default:
    /// 50000000.
    pub max_samples: u64,
    /// Longest a query may run, waiting for a slot included; beyond it the query fails (503
    /// `timeout`). Default: `2m`.
    pub timeout: PromDuration,
    /// Queries evaluated at once (the rest wait). 1 to 6: the server's blocking pool has 8
    /// threads and ingestion needs some. Default: 4.
    pub max_concurrency: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_delta: PromDuration::from_secs(300),
            max_samples: 50_000_000,
            timeout: PromDuration::from_secs(120),
            max_concurrency: 4,
        }
    }
}

impl QueryConfig {
    /// The engine settings this section describes.
    pub fn engine_options(&self) -> pharos_query::promql::EngineOptions {
        pharos_query::promql::EngineOptions {
            lookback_delta: self.lookback_delta.0.as_millis() as i64,
            max_samples: self.max_samples,
            timeout: self.timeout.0,
            max_concurrency: self.max_concurrency,
            ..pharos_query::promql::EngineOptions::default()
        }
    }
}

/// The `log:` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`. Default: `info`.
    pub level: LogLevel,
    /// `text` (human-readable) or `json` (one object per line). Default: `text`.
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A listen address: `host:port` with an IP literal, `localhost:port`, or `:port` for all
/// interfaces (as Prometheus' `--web.listen-address=:9090`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl ListenAddr {
    pub fn loopback(port: u16) -> Self {
        ListenAddr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
    }
}

impl std::str::FromStr for ListenAddr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("invalid port in listen address {text:?}"));
        if let Some(p) = text.strip_prefix(':') {
            return Ok(ListenAddr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port(p)?))));
        }
        if let Some(p) = text.strip_prefix("localhost:") {
            return Ok(ListenAddr::loopback(port(p)?));
        }
        text.parse().map(ListenAddr).map_err(|_| {
            format!("invalid listen address {text:?}: expected IP:PORT, [IPv6]:PORT, localhost:PORT or :PORT")
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The YAML does not fit the schema; `message` names the key.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    /// The values fit the schema but not each other.
    #[error("{}: {key}: {message}", path.display())]
    Invalid { path: PathBuf, key: &'static str, message: String },
}

/// Command-line flags that override the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub http_listen: Option<ListenAddr>,
    pub otlp_grpc_listen: Option<ListenAddr>,
    pub otlp_http_listen: Option<ListenAddr>,
    pub log_level: Option<LogLevel>,
}

impl Config {
    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(path, &text)
    }

    /// Parse and validate configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        // An empty file (or one with only comments) is the all-defaults configuration.
        let config = pharos_proto::yaml_file::from_yaml::<Config>(text)
            .map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                line: e.line,
                column: e.column,
                message: e.message,
            })?
            .unwrap_or_default();
        config.validate(path)?;
        Ok(config)
    }

    /// The storage layer's options.
    pub fn storage_options(&self) -> StorageOptions {
        let metrics = &self.storage.metrics;
        StorageOptions {
            data_dir: self.storage.data_dir.clone(),
            tsdb: TsdbOptions {
                fsync: match metrics.wal_fsync {
                    WalFsync::Always => FsyncPolicy::Always,
                    WalFsync::Interval => FsyncPolicy::Interval(metrics.wal_fsync_interval.0),
                    WalFsync::Never => FsyncPolicy::Never,
                },
                wal_segment_bytes: metrics.wal_segment_size.0,
                out_of_order_window: metrics.out_of_order_window.0,
                label_limits: LabelLimits {
                    max_name_bytes: metrics.max_label_name_length,
                    max_value_bytes: metrics.max_label_value_length,
                },
                retention_time: Some(metrics.retention_time.0).filter(|d| !d.is_zero()),
                retention_size: Some(metrics.retention_size.0).filter(|s| *s > 0),
                ..TsdbOptions::default()
            },
            logs: LogStoreOptions {
                refresh_interval: self.storage.logs.refresh_interval.0,
                fsync: self.storage.logs.wal_fsync,
                retention: self.storage.logs.retention_time.0,
                max_bytes: self.storage.logs.retention_size.0,
                writer_memory_bytes: self.storage.logs.writer_memory.as_usize(),
                docstore_zstd_level: self.storage.logs.docstore_compression_level,
                docstore_blocksize: self.storage.logs.docstore_block_size.as_usize(),
                ..LogStoreOptions::default()
            },
            traces: TraceStoreOptions {
                retention: self.storage.traces.retention_time.0,
                fsync: self.storage.traces.wal_fsync,
                indexed_attributes: self.storage.traces.indexed_attributes.clone(),
                block_cache_bytes: self.storage.traces.block_cache.as_usize(),
                ..TraceStoreOptions::default()
            },
        }
    }

    /// The log receivers' options.
    pub fn log_ingest_options(&self) -> pharos_ingest::LogIngestOptions {
        pharos_ingest::LogIngestOptions {
            max_document_bytes: self.ingest.logs.max_document_size.as_usize(),
            otlp_index: self.ingest.logs.otlp_index.clone(),
        }
    }

    /// The trace receivers' options.
    pub fn trace_ingest_options(&self) -> pharos_ingest::TraceIngestOptions {
        let traces = &self.ingest.traces;
        pharos_ingest::TraceIngestOptions {
            max_attributes_per_span: traces.max_attributes_per_span,
            max_events_per_span: traces.max_events_per_span,
            max_links_per_span: traces.max_links_per_span,
            max_attribute_value_bytes: traces.max_attribute_value_length.as_usize(),
            max_concurrent_exports: traces.max_concurrent_exports,
        }
    }

    /// The alerting crate's options; relative paths are resolved against `config_dir` (the
    /// configuration file's directory).
    pub fn alerting_options(&self, config_dir: Option<&Path>) -> pharos_alerting::AlertingOptions {
        let resolve = |path: &Path| match config_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        };
        let alerting = &self.alerting;
        let external_url = alerting
            .external_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.server.http_listen))
            .trim_end_matches('/')
            .to_string();
        pharos_alerting::AlertingOptions {
            rule_files: alerting
                .rule_files
                .iter()
                .map(|p| resolve(Path::new(p)).to_string_lossy().into_owned())
                .collect(),
            rules: pharos_alerting::rules::RuleManagerOptions {
                evaluation_interval: alerting.evaluation_interval.0,
                external_labels: alerting.external_labels.clone(),
                external_url: external_url.clone(),
                resend_delay: alerting.resend_delay.0,
                for_outage_tolerance: alerting.for_outage_tolerance.0,
                for_grace_period: alerting.for_grace_period.0,
            },
            alertmanager_config: alerting.alertmanager_config.as_deref().map(resolve),
            notifier: pharos_alerting::notifier::NotifierOptions {
                data_dir: self.storage.data_dir.join("alertmanager"),
                retention: alerting.data_retention.0,
                external_url: format!("{external_url}{}", pharos_proto::prefix::ALERTMANAGER),
            },
        }
    }

    /// Apply command-line overrides.
    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(dir) = &overrides.data_dir {
            self.storage.data_dir = dir.clone();
        }
        if let Some(addr) = overrides.http_listen {
            self.server.http_listen = addr;
        }
        if let Some(addr) = overrides.otlp_grpc_listen {
            self.server.otlp_grpc_listen = addr;
        }
        if let Some(addr) = overrides.otlp_http_listen {
            self.server.otlp_http_listen = addr;
        }
        if let Some(level) = overrides.log_level {
            self.log.level = level;
        }
    }

    /// Checks across fields that the schema cannot express.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { path: path.to_path_buf(), key, message });
        let server = &self.server;
        if server.max_request_body.0 == 0 {
            return invalid("server.max_request_body", "must be greater than 0".into());
        }
        if server.max_decoded_body < server.max_request_body {
            return invalid(
                "server.max_decoded_body",
                format!(
                    "{} is smaller than server.max_request_body ({})",
                    server.max_decoded_body, server.max_request_body
                ),
            );
        }
        if server.request_timeout.0.is_zero() {
            return invalid("server.request_timeout", "must be greater than 0s".into());
        }
        if self.query.lookback_delta.0.is_zero() || self.query.timeout.0.is_zero() {
            return invalid("query", "lookback_delta and timeout must be greater than 0s".into());
        }
        if self.query.max_samples == 0 {
            return invalid("query.max_samples", "must be greater than 0".into());
        }
        if !(1..=6).contains(&self.query.max_concurrency) {
            return invalid("query.max_concurrency", format!("{} is not between 1 and 6", self.query.max_concurrency));
        }
        if self.storage.logs.refresh_interval.0.is_zero() {
            return invalid("storage.logs.refresh_interval", "must be greater than 0s".into());
        }
        if self.storage.logs.writer_memory.0 < 15 << 20 {
            return invalid("storage.logs.writer_memory", "must be at least 15MiB (tantivy's minimum)".into());
        }
        if !(1..=22).contains(&self.storage.logs.docstore_compression_level) {
            let level = self.storage.logs.docstore_compression_level;
            return invalid("storage.logs.docstore_compression_level", format!("{level} is not between 1 and 22"));
        }
        if !(4 << 10..=16 << 20).contains(&self.storage.logs.docstore_block_size.0) {
            return invalid("storage.logs.docstore_block_size", "must be between 4KiB and 16MiB".into());
        }
        if self.ingest.traces.max_concurrent_exports == 0 {
            return invalid("ingest.traces.max_concurrent_exports", "must be greater than 0".into());
        }
        if self.storage.traces.indexed_attributes.iter().any(|key| key.is_empty()) {
            return invalid("storage.traces.indexed_attributes", "an attribute key is empty".into());
        }
        if pharos_storage::logs::validate_index_name(&self.ingest.logs.otlp_index).is_err() {
            return invalid(
                "ingest.logs.otlp_index",
                format!("{:?} is not a valid index name", self.ingest.logs.otlp_index),
            );
        }
        let metrics = &self.storage.metrics;
        if metrics.wal_fsync == WalFsync::Interval && metrics.wal_fsync_interval.0.is_zero() {
            return invalid("storage.metrics.wal_fsync_interval", "must be greater than 0s".into());
        }
        if metrics.max_label_name_length == 0 || metrics.max_label_value_length == 0 {
            return invalid("storage.metrics", "label length limits must be greater than 0".into());
        }
        if self.alerting.evaluation_interval.0.is_zero() {
            return invalid("alerting.evaluation_interval", "must be greater than 0s".into());
        }
        if let Some(name) = self.alerting.external_labels.keys().find(|n| !pharos_proto::names::is_label_name(n)) {
            return invalid("alerting.external_labels", format!("{name:?} is not a valid label name"));
        }
        if server.shutdown_grace.0.as_secs() > 9 {
            return invalid(
                "server.shutdown_grace",
                format!("{} is over 9s; Pharos must exit within 10 s", server.shutdown_grace),
            );
        }
        let listeners = [
            ("server.http_listen", server.http_listen),
            ("server.otlp_grpc_listen", server.otlp_grpc_listen),
            ("server.otlp_http_listen", server.otlp_http_listen),
            ("server.elasticsearch_listen", server.elasticsearch_listen.unwrap_or(ListenAddr::loopback(0))),
        ];
        for (i, (key, addr)) in listeners.iter().enumerate() {
            for (other, other_addr) in &listeners[..i] {
                if addr.0.port() != 0 && addr == other_addr {
                    return invalid(key, format!("{addr} is already used by {other}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("test.yml"), text)
    }

    #[test]
    fn empty_and_comment_only_files_are_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(parse("# nothing\n").unwrap(), Config::default());
    }

    #[test]
    fn defaults_are_as_documented() {
        let c = Config::default();
        assert_eq!(c.server.http_listen.to_string(), "127.0.0.1:9090");
        assert_eq!(c.server.otlp_grpc_listen.to_string(), "127.0.0.1:4317");
        assert_eq!(c.server.otlp_http_listen.to_string(), "127.0.0.1:4318");
        assert_eq!(c.storage.data_dir, PathBuf::from("./data"));
        assert_eq!(c.server.max_request_body.to_string(), "32MiB");
        assert_eq!(c.server.request_timeout.to_string(), "2m");
        assert_eq!(c.log.level, LogLevel::Info);
        assert_eq!(c.query.lookback_delta.to_string(), "5m");
        assert_eq!(c.query.timeout.to_string(), "2m");
        assert_eq!(c.query.engine_options(), pharos_query::promql::EngineOptions::default());
    }

    #[test]
    fn the_logs_section_maps_onto_the_store_options() {
        let defaults = Config::default();
        let example = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pharos.example.yml")).unwrap();
        assert_eq!(example.storage.logs, defaults.storage.logs, "pharos.example.yml states the defaults");
        let (store, store_defaults) = (defaults.storage_options().logs, LogStoreOptions::default());
        assert_eq!(
            (store.docstore_zstd_level, store.docstore_blocksize),
            (store_defaults.docstore_zstd_level, store_defaults.docstore_blocksize)
        );
        let tuned = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/good-logs.yml"));
        let store = tuned.unwrap().storage_options().logs;
        assert_eq!(
            (store.refresh_interval, store.docstore_zstd_level, store.docstore_blocksize),
            (std::time::Duration::from_secs(5), 5, 256 << 10)
        );
    }

    #[test]
    fn trace_sections_map_onto_the_store_and_receiver_options() {
        let defaults = Config::default();
        assert_eq!(defaults.storage_options().traces, TraceStoreOptions::default());
        assert_eq!(defaults.trace_ingest_options(), pharos_ingest::TraceIngestOptions::default());
        let example = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pharos.example.yml")).unwrap();
        assert_eq!(example.storage.traces, defaults.storage.traces, "pharos.example.yml states the defaults");
        assert_eq!(example.ingest.traces, defaults.ingest.traces, "pharos.example.yml states the defaults");
        assert_eq!(example.alerting, defaults.alerting, "pharos.example.yml states the defaults");
        let tuned = parse(
            "storage:\n  traces:\n    retention_time: 0s\n    wal_fsync: false\n    indexed_attributes: [tenant]\n    block_cache: 1GiB\n\
             ingest:\n  traces:\n    max_links_per_span: 7\n    max_attribute_value_length: 1KiB\n",
        )
        .unwrap();
        let store = tuned.storage_options().traces;
        assert_eq!(
            (store.retention, store.fsync, store.indexed_attributes, store.block_cache_bytes),
            (std::time::Duration::ZERO, false, vec!["tenant".to_string()], 1 << 30)
        );
        let receivers = tuned.trace_ingest_options();
        assert_eq!((receivers.max_links_per_span, receivers.max_attribute_value_bytes), (7, 1024));
    }

    #[test]
    fn unknown_keys_name_the_key_line_and_column() {
        let err = parse("server:\n  http_listen: 127.0.0.1:1\n  htp_listen: x\n").unwrap_err();
        let ConfigError::Parse { line, column, message, .. } = &err else { panic!("{err:?}") };
        assert_eq!((*line, *column), (3, 3));
        assert!(message.contains("server.htp_listen: unknown field `htp_listen`"), "{message}");
        assert!(err.to_string().starts_with("test.yml:3:3: "), "{err}");
    }

    #[test]
    fn bad_values_are_located() {
        let err = parse("log:\n  level: loud\n").unwrap_err();
        assert!(matches!(err, ConfigError::Parse { line: 2, .. }), "{err:?}");
        assert!(err.to_string().contains("loud"), "{err}");
        let err = parse("server:\n  request_timeout: 5 minutes\n").unwrap_err();
        assert!(err.to_string().contains("not a valid duration"), "{err}");
        let err = parse("server:\n  http_listen: nowhere\n").unwrap_err();
        assert!(err.to_string().contains("invalid listen address"), "{err}");
    }

    #[test]
    fn cross_field_checks() {
        let err = parse("server:\n  max_request_body: 64MiB\n  max_decoded_body: 1MiB\n").unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { key: "server.max_decoded_body", .. }), "{err:?}");
        let err = parse("server:\n  otlp_http_listen: 127.0.0.1:9090\n").unwrap_err();
        assert!(err.to_string().contains("already used by server.http_listen"), "{err}");
        let err = parse("server:\n  shutdown_grace: 30s\n").unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { key: "server.shutdown_grace", .. }), "{err:?}");
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(":9090".parse::<ListenAddr>().unwrap().to_string(), "0.0.0.0:9090");
        assert_eq!("localhost:1".parse::<ListenAddr>().unwrap().to_string(), "127.0.0.1:1");
        assert_eq!("[::1]:4317".parse::<ListenAddr>().unwrap().to_string(), "[::1]:4317");
        assert!(":http".parse::<ListenAddr>().is_err());
    }

    #[test]
    fn overrides_win() {
        let mut c = parse("storage:\n  data_dir: /from/file\nlog:\n  level: debug\n").unwrap();
        c.apply(&Overrides {
            data_dir: Some("/from/flag".into()),
            log_level: Some(LogLevel::Warn),
            ..Overrides::default()
        });
        assert_eq!(c.storage.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.log.level, LogLevel::Warn);
    }

    #[test]
    fn fixtures_good_pass_and_bad_fail() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
        let mut seen = (0, 0);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yml") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let result = Config::load(&path);
            if name.starts_with("good-") {
                seen.0 += 1;
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
            } else if name.starts_with("bad-") {
                seen.1 += 1;
                let err = result.expect_err(&name).to_string();
                let expected = std::fs::read_to_string(path.with_extension("error")).unwrap();
                assert!(err.contains(expected.trim()), "{name}: {err:?} lacks {expected:?}");
            }
        }
        assert!(seen.0 >= 2 && seen.1 >= 3, "fixtures missing: {seen:?}");
    }
}

// Pharos — src/config.rs
