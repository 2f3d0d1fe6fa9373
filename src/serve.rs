//! `pharos serve`: open storage, bind the listeners, run until SIGTERM/SIGINT, then shut down
//! gracefully (stop accepting, finish in-flight requests within the grace period, flush storage).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pharos_proto::exposition::Registry;
use pharos_storage::{Storage, StorageError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cli::ServeArgs;
use crate::config::ConfigError;
use crate::http::{self, CrateRouters, HttpMetrics, HttpShared};
use crate::lifecycle::{self, SignalRequest, Signals};
use crate::process_metrics::ProcessCollector;
use crate::reload::Reloader;
use crate::storage_metrics::StorageCollector;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("cannot start: {0}")]
    Startup(std::io::Error),
    #[error("cannot start alerting: {0}")]
    Alerting(pharos_alerting::AlertingError),
}

pub fn run(args: ServeArgs) -> ExitCode {
    crate::allocator::configure();
    let overrides = args.overrides();
    let config = match Reloader::load(args.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pharos: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_level = lifecycle::init_logging(&config.log);
    let reloader = Arc::new(Reloader::new(args.config.clone(), overrides, config, Some(log_level)));
    // Storage work runs on blocking threads; a bounded pool bounds the memory bursts can take.
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(8).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pharos: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(reloader, args.config));
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("pharos: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(reloader: Arc<Reloader>, config_file: Option<PathBuf>) -> Result<(), ServeError> {
    let started = Instant::now();
    let config = reloader.current();
    let info = crate::build::info();
    tracing::info!(version = %info.version, revision = %info.revision, config = ?config_file, "starting Pharos");

    // The lock first: a second instance on the same data dir must fail on the lock, not on a port.
    let storage = Arc::new(Storage::open(&config.storage_options())?);
    let mut signals = Signals::install().map_err(ServeError::Startup)?;

    let server = &config.server;
    let http_listener = bind("HTTP (server.http_listen)", server.http_listen.0).await?;
    let grpc_listener = bind("OTLP gRPC (server.otlp_grpc_listen)", server.otlp_grpc_listen.0).await?;
    let otlp_http_listener = bind("OTLP/HTTP (server.otlp_http_listen)", server.otlp_http_listen.0).await?;
    let elasticsearch_listener = match server.elasticsearch_listen {
        Some(addr) => Some(bind("Elasticsearch (server.elasticsearch_listen)", addr.0).await?),
        None => None,
    };

    let registry = Registry::default();
    registry.collector(Arc::new(ProcessCollector::new()));
    registry.collector(Arc::new(StorageCollector(storage.clone())));
    let build_info = Arc::new(info);
    let shared = HttpShared {
        reloader: reloader.clone(),
        metrics: HttpMetrics::new(&registry),
        registry: registry.clone(),
        ready: Arc::new(AtomicBool::new(false)),
    };
    let ingest = pharos_ingest::IngestState::new(
        storage.clone(),
        &registry,
        config.log_ingest_options(),
        config.trace_ingest_options(),
        storage.traces().clone(),
    );
    let query = pharos_query::QueryState::new(build_info.clone(), storage.clone(), config.query.engine_options());
    let (stop_tx, stop_rx) = watch::channel(false);
    let config_dir = reloader.config_dir();
    let alerting = pharos_alerting::Alerting::start(
        &config.alerting_options(config_dir.as_deref()),
        &storage,
        query.engine.clone(),
        &registry,
        build_info.clone(),
        stop_rx.clone(),
    )
    .map_err(ServeError::Alerting)?;
    {
        // The configuration file's path, hence its directory, is fixed for the process's life.
        let (alerting, dir) = (alerting.clone(), config_dir.clone());
        reloader.on_reload(Box::new(move |new| {
            alerting.apply(&new.alerting_options(dir.as_deref())).map_err(|e| e.to_string())
        }));
    }
    let elasticsearch = http::elasticsearch_api(&ingest, &query);
    let main_router = http::main_router(
        shared.clone(),
        CrateRouters {
            ingest: pharos_ingest::router(ingest.clone()),
            query: pharos_query::router(query),
            alerting: alerting.router(),
            elasticsearch: elasticsearch.clone(),
        },
    );
    let otlp_http_router = http::otlp_http_router(shared.clone(), pharos_ingest::otlp_http_router(ingest.clone()));
    let grpc_routes = pharos_ingest::grpc_routes(ingest);

    let mut servers = JoinSet::new();
    servers.spawn(async move {
        axum::serve(http_listener, main_router)
            .with_graceful_shutdown(stopped(stop_rx.clone()))
            .await
            .map_err(|e| ("HTTP", e.to_string()))
    });
    let rx = stop_tx.subscribe();
    servers.spawn(async move {
        axum::serve(otlp_http_listener, otlp_http_router)
            .with_graceful_shutdown(stopped(rx))
            .await
            .map_err(|e| ("OTLP/HTTP", e.to_string()))
    });
    if let Some(listener) = elasticsearch_listener {
        let router = http::elasticsearch_router(shared.clone(), elasticsearch);
        let rx = stop_tx.subscribe();
        servers.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped(rx))
                .await
                .map_err(|e| ("Elasticsearch", e.to_string()))
        });
    }
    let rx = stop_tx.subscribe();
    servers.spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(grpc_routes)
            .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(grpc_listener), stopped(rx))
            .await
            .map_err(|e| ("OTLP gRPC", e.to_string()))
    });

    shared.ready.store(true, Ordering::Release);
    tracing::info!(
        http = %server.http_listen, otlp_grpc = %server.otlp_grpc_listen, otlp_http = %server.otlp_http_listen,
        data_dir = %storage.data_dir().path().display(), startup_ms = started.elapsed().as_millis() as u64,
        "Pharos is ready to receive requests"
    );

    let reason = loop {
        tokio::select! {
            request = signals.next() => match request {
                SignalRequest::Shutdown(name) => break name,
                SignalRequest::Reload => {
                    let reloader = reloader.clone();
                    let _ = tokio::task::spawn_blocking(move || reloader.reload()).await;
                }
            },
            Some(result) = servers.join_next() => {
                // A server ended on its own: that is a failure; stop the others.
                let detail = match result {
                    Ok(Ok(())) => "a server stopped unexpectedly".to_string(),
                    Ok(Err((what, e))) => format!("{what} server failed: {e}"),
                    Err(e) => format!("a server task failed: {e}"),
                };
                tracing::error!(%detail, "stopping");
                break "server failure";
            }
        }
    };

    let grace = reloader.current().server.shutdown_grace.0;
    tracing::info!(
        signal = reason,
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new connections, finishing in-flight requests"
    );
    shared.ready.store(false, Ordering::Release);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async { while servers.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("in-flight requests still running after the grace period; dropping them");
        servers.abort_all();
    }
    let storage_for_flush = storage.clone();
    match tokio::task::spawn_blocking(move || storage_for_flush.flush()).await {
        Ok(Ok(())) => tracing::info!("storage flushed"),
        Ok(Err(e)) => tracing::error!(error = %e, "storage flush failed"),
        Err(e) => tracing::error!(error = %e, "storage flush task failed"),
    }
    tracing::info!("Pharos stopped");
    Ok(())
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { what, addr, source })
}

/// Resolves once shutdown has been requested.
fn stopped(mut rx: watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

// Pharos — src/serve.rs
