//! The Alertmanager-compatible notifier: `alertmanager.yml`, alerts from Pharos' rules and from
//! other Prometheus servers, routing, grouping, inhibition, silences, the notification log and the
//! receivers (email, Slack, webhook).

pub mod model;

// Pharos — alerting/src/notifier/mod.rs
