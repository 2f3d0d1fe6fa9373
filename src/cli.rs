//! The command line: `pharos serve`, `pharos check-config FILE`, `pharos version`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ListenAddr, LogLevel, Overrides};

#[derive(Parser)]
#[command(name = "pharos", version = crate::build::VERSION, about = "One binary that is a whole observability backend.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every server. With no arguments: loopback listeners and ./data, all defaults.
    Serve(ServeArgs),
    /// Validate a configuration file; exits non-zero and names the key and line of the first error.
    CheckConfig {
        /// The YAML file to check.
        file: PathBuf,
    },
    /// Print version and build information.
    Version,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Configuration file (YAML). Without one, every default applies.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./data]; overrides storage.data_dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Main HTTP listener [default: 127.0.0.1:9090]; overrides server.http_listen.
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<ListenAddr>,
    /// OTLP gRPC listener [default: 127.0.0.1:4317]; overrides server.otlp_grpc_listen.
    #[arg(long, value_name = "ADDR")]
    pub otlp_grpc_listen: Option<ListenAddr>,
    /// OTLP/HTTP listener [default: 127.0.0.1:4318]; overrides server.otlp_http_listen.
    #[arg(long, value_name = "ADDR")]
    pub otlp_http_listen: Option<ListenAddr>,
    /// Log level [default: info]; overrides log.level.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            http_listen: self.http_listen,
            otlp_grpc_listen: self.otlp_grpc_listen,
            otlp_http_listen: self.otlp_http_listen,
            log_level: self.log_level,
        }
    }
}

pub fn check_config(file: &Path) -> ExitCode {
    let config = match Config::load(file) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = config.alerting_options(Some(file.parent().unwrap_or(Path::new(""))));
    match pharos_alerting::Alerting::check(&options) {
        Ok(summary) => {
            println!("SUCCESS: {} is valid Pharos configuration ({summary})", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn version() -> ExitCode {
    let info = crate::build::info();
    println!("pharos, version {} (branch: {}, revision: {})", info.version, info.branch, info.revision);
    println!("  build user:       {}", info.build_user);
    println!("  build date:       {}", info.build_date);
    println!("  compiler:         {}", info.go_version);
    ExitCode::SUCCESS
}

// Pharos — src/cli.rs
