//! `pharos`: parse the command line and dispatch. Everything else lives in the modules.

mod allocator;
mod build;
mod cli;
mod config;
mod http;
mod lifecycle;
mod process_metrics;
mod reload;
mod serve;
mod storage_metrics;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match cli::Cli::parse().command {
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::CheckConfig { file } => cli::check_config(&file),
        cli::Command::Version => cli::version(),
    }
}

// Pharos — src/main.rs
