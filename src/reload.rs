//! The running configuration and its reload (`POST /-/reload`, SIGHUP).
//!
//! A reload re-reads the file given with `--config`, applies the command-line overrides again and
//! swaps the configuration in only if it is valid; an invalid file keeps the running one. Request
//! limits, the request timeout and the log level take effect at once; listener addresses and the
//! data directory need a restart, which is logged.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::config::{Config, ConfigError, Overrides};
use crate::lifecycle::LogLevelHandle;

/// Run on every reload with the new configuration before it is swapped in; an error keeps the
/// running configuration (for parts that read files of their own, such as rule files).
pub type ReloadHook = Box<dyn Fn(&Config) -> Result<(), String> + Send + Sync>;

pub struct Reloader {
    path: Option<PathBuf>,
    overrides: Overrides,
    current: RwLock<Arc<Config>>,
    log_level: Option<LogLevelHandle>,
    hooks: RwLock<Vec<ReloadHook>>,
}

impl Reloader {
    pub fn new(path: Option<PathBuf>, overrides: Overrides, config: Config, log_level: Option<LogLevelHandle>) -> Self {
        Reloader { path, overrides, current: RwLock::new(Arc::new(config)), log_level, hooks: RwLock::new(Vec::new()) }
    }

    /// Read the configuration file (if any) and apply the overrides.
    pub fn load(path: Option<&std::path::Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.apply(overrides);
        config.validate(path.unwrap_or(std::path::Path::new("<command line>")))?;
        Ok(config)
    }

    /// Add a hook run on every reload (see [`ReloadHook`]).
    pub fn on_reload(&self, hook: ReloadHook) {
        self.hooks.write().expect("hooks lock").push(hook);
    }

    /// The directory of the configuration file, against which relative paths in it resolve.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.path.as_ref().map(|p| p.parent().map(PathBuf::from).unwrap_or_default())
    }

    pub fn current(&self) -> Arc<Config> {
        self.current.read().expect("config lock").clone()
    }

    pub fn reload(&self) -> Result<(), ConfigError> {
        let Some(path) = &self.path else {
            tracing::info!("reload requested; no configuration file was given, nothing to reload");
            return Ok(());
        };
        let new = match Reloader::load(Some(path), &self.overrides) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(error = %e, "reload failed; keeping the running configuration");
                return Err(e);
            }
        };
        for hook in self.hooks.read().expect("hooks lock").iter() {
            if let Err(message) = hook(&new) {
                tracing::error!(error = %message, "reload failed; keeping the running configuration");
                return Err(ConfigError::Invalid { path: path.clone(), key: "alerting", message });
            }
        }
        let old = self.current();
        let restart_needed = [
            ("server.http_listen", old.server.http_listen != new.server.http_listen),
            ("server.otlp_grpc_listen", old.server.otlp_grpc_listen != new.server.otlp_grpc_listen),
            ("server.otlp_http_listen", old.server.otlp_http_listen != new.server.otlp_http_listen),
            ("storage.data_dir", old.storage.data_dir != new.storage.data_dir),
            ("log.format", old.log.format != new.log.format),
        ];
        for (key, changed) in restart_needed {
            if changed {
                tracing::warn!(key, "changed in the configuration file; takes effect after a restart");
            }
        }
        if let Some(handle) = &self.log_level {
            if old.log.level != new.log.level {
                handle.set(new.log.level);
            }
        }
        *self.current.write().expect("config lock") = Arc::new(new);
        tracing::info!(file = %path.display(), "completed loading of configuration file");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_file_keeps_the_running_config() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pharos.yml");
        std::fs::write(&file, "server:\n  request_timeout: 10s\n").unwrap();
        let overrides = Overrides { data_dir: Some("/flag".into()), ..Overrides::default() };
        let config = Reloader::load(Some(&file), &overrides).unwrap();
        let reloader = Reloader::new(Some(file.clone()), overrides, config, None);

        std::fs::write(&file, "server:\n  request_timeout: 20s\n").unwrap();
        reloader.reload().unwrap();
        assert_eq!(reloader.current().server.request_timeout.to_string(), "20s");
        assert_eq!(reloader.current().storage.data_dir, PathBuf::from("/flag"), "overrides survive reloads");

        std::fs::write(&file, "server:\n  request_timeout: soon\n").unwrap();
        assert!(reloader.reload().is_err());
        assert_eq!(reloader.current().server.request_timeout.to_string(), "20s");
    }
}

// Pharos — src/reload.rs
