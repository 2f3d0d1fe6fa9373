//! The notifier's alert store: the latest version of every alert by fingerprint, merged as
//! Alertmanager's in-memory provider merges repeated posts of one alert.
//!
//! Senders (Prometheus servers, Pharos' own rules) re-send each active alert every `resend_delay`;
//! a resend that overlaps the stored alert in time is merged into it (earliest start, the latest
//! explicit end), one that does not overlap replaces it (the alert fired again). Resolved alerts
//! stay until [`AlertStore::gc`] drops them, so resolution can still be notified.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use pharos_proto::names::is_label_name;

use super::model::{Alert, Fingerprint, LabelSet};
use super::snapshot::{self, PayloadError, PayloadReader, PayloadWriter, SnapshotError};

/// Magic of the alerts snapshot (`docs/format/alerting.md`).
pub const ALERTS_MAGIC: [u8; 4] = *b"PHAL";

/// Why a posted alert was refused (Alertmanager's `types.Alert.Validate` wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("start time missing")]
    StartMissing,
    #[error("start time must be before end time")]
    EndBeforeStart,
    #[error("at least one label pair required")]
    NoLabels,
    #[error("invalid label set: invalid name {0:?}")]
    LabelName(String),
    #[error("invalid annotations: invalid name {0:?}")]
    AnnotationName(String),
}

/// Complete a posted alert as Alertmanager's API does (`now` and `resolve_timeout` in ns), then
/// validate it: a missing start is the end (or now), a missing end is `now + resolve_timeout`
/// and marks the alert as timing out.
pub fn complete_posted(mut alert: Alert, now: i64, resolve_timeout: i64) -> Result<Alert, AlertError> {
    if alert.starts_at == 0 {
        alert.starts_at = if alert.ends_at == 0 { now } else { alert.ends_at };
    }
    if alert.ends_at == 0 {
        alert.timeout = true;
        alert.ends_at = now.saturating_add(resolve_timeout);
    }
    alert.updated_at = now;
    validate(&alert)?;
    Ok(alert)
}

/// Alertmanager's `types.Alert.Validate`.
pub fn validate(alert: &Alert) -> Result<(), AlertError> {
    if alert.starts_at == 0 {
        return Err(AlertError::StartMissing);
    }
    if alert.ends_at != 0 && alert.ends_at < alert.starts_at {
        return Err(AlertError::EndBeforeStart);
    }
    if alert.labels.is_empty() {
        return Err(AlertError::NoLabels);
    }
    if let Some(name) = alert.labels.keys().find(|n| !is_label_name(n)) {
        return Err(AlertError::LabelName(name.clone()));
    }
    if let Some(name) = alert.annotations.keys().find(|n| !is_label_name(n)) {
        return Err(AlertError::AnnotationName(name.clone()));
    }
    Ok(())
}

/// Merge two versions of one alert (`types.Alert.Merge`): the younger update's fields, the
/// earliest start, and the latest end where that end is explicit.
pub fn merge(a: &Alert, b: &Alert, now: i64) -> Alert {
    let (older, younger) = if b.updated_at < a.updated_at { (b, a) } else { (a, b) };
    let mut merged = younger.clone();
    if older.starts_at < younger.starts_at {
        merged.starts_at = older.starts_at;
    }
    if younger.resolved_at(now) {
        if older.resolved_at(now) && older.ends_at > younger.ends_at {
            merged.ends_at = older.ends_at;
        }
    } else if older.ends_at > younger.ends_at && !older.timeout {
        merged.ends_at = older.ends_at;
    }
    merged
}

/// Every alert the notifier knows, by fingerprint.
#[derive(Default)]
pub struct AlertStore {
    alerts: Mutex<HashMap<Fingerprint, Alert>>,
    /// Changed since the last [`AlertStore::persist`].
    dirty: AtomicBool,
}

impl AlertStore {
    /// The alerts of a snapshot written by [`AlertStore::persist`] (none if the file is absent).
    /// A damaged file is an error naming it.
    pub fn open(path: &Path) -> Result<AlertStore, SnapshotError> {
        let store = AlertStore::default();
        if let Some(payload) = snapshot::read_snapshot(path, ALERTS_MAGIC)? {
            let alerts = decode(&payload).map_err(|e| SnapshotError::corrupt(path, e))?;
            let mut map = store.alerts.lock().expect("alert store lock");
            for alert in alerts {
                map.insert(alert.fingerprint(), alert);
            }
        }
        Ok(store)
    }

    /// Write every alert to `path` if anything changed since the last call. The notifier calls
    /// it every few seconds: alerts are re-sent by their senders, so a crash loses at most what
    /// the next re-send brings back, while a restart keeps its firing groups (and can notify
    /// their resolution).
    pub fn persist(&self, path: &Path) -> Result<(), SnapshotError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let payload = encode(&self.list());
        snapshot::write_snapshot(path, ALERTS_MAGIC, &payload)
            .inspect_err(|_| self.dirty.store(true, Ordering::Release))
    }

    /// Store an alert (already completed and validated), merging it with the stored version when
    /// the two overlap in time, as Alertmanager's provider does. Returns what is stored now.
    pub fn put(&self, alert: Alert, now: i64) -> Alert {
        let fingerprint = alert.fingerprint();
        let mut alerts = self.alerts.lock().expect("alert store lock");
        let stored = match alerts.get(&fingerprint) {
            Some(old)
                if (alert.ends_at > old.starts_at && alert.ends_at < old.ends_at)
                    || (alert.starts_at > old.starts_at && alert.starts_at < old.ends_at) =>
            {
                merge(old, &alert, now)
            }
            _ => alert,
        };
        alerts.insert(fingerprint, stored.clone());
        self.dirty.store(true, Ordering::Release);
        stored
    }

    pub fn get(&self, fingerprint: Fingerprint) -> Option<Alert> {
        self.alerts.lock().expect("alert store lock").get(&fingerprint).cloned()
    }

    /// Every alert, sorted by fingerprint.
    pub fn list(&self) -> Vec<Alert> {
        let alerts = self.alerts.lock().expect("alert store lock");
        let mut list: Vec<Alert> = alerts.values().cloned().collect();
        list.sort_by_key(Alert::fingerprint);
        list
    }

    /// The fingerprints of the alerts still firing at `now` whose labels satisfy `keep`.
    pub fn firing_where(&self, now: i64, mut keep: impl FnMut(&LabelSet) -> bool) -> Vec<Fingerprint> {
        let alerts = self.alerts.lock().expect("alert store lock");
        alerts.iter().filter(|(_, a)| !a.resolved_at(now) && keep(&a.labels)).map(|(fp, _)| *fp).collect()
    }

    /// Drop alerts resolved before `now`; Alertmanager does this every 30 minutes, after the
    /// aggregation groups have notified their resolution. Returns how many were dropped.
    pub fn gc(&self, now: i64) -> usize {
        let mut alerts = self.alerts.lock().expect("alert store lock");
        let before = alerts.len();
        alerts.retain(|_, a| !a.resolved_at(now));
        if alerts.len() != before {
            self.dirty.store(true, Ordering::Release);
        }
        before - alerts.len()
    }

    /// Firing and resolved counts at `now`.
    pub fn counts(&self, now: i64) -> (usize, usize) {
        let alerts = self.alerts.lock().expect("alert store lock");
        let resolved = alerts.values().filter(|a| a.resolved_at(now)).count();
        (alerts.len() - resolved, resolved)
    }
}

/// Payload layout: `docs/format/alerting.md`.
fn encode(alerts: &[Alert]) -> Vec<u8> {
    let mut w = PayloadWriter::new();
    w.uvarint(alerts.len() as u64);
    for a in alerts {
        for set in [&a.labels, &a.annotations] {
            w.uvarint(set.len() as u64);
            for (name, value) in set {
                w.string(name);
                w.string(value);
            }
        }
        w.varint(a.starts_at);
        w.varint(a.ends_at);
        w.varint(a.updated_at);
        w.string(&a.generator_url);
        w.u8(u8::from(a.timeout));
    }
    w.into_bytes()
}

fn decode(payload: &[u8]) -> Result<Vec<Alert>, PayloadError> {
    let mut r = PayloadReader::new(payload);
    let count = r.count(8)?;
    let mut alerts = Vec::with_capacity(count);
    for _ in 0..count {
        let mut sets = [LabelSet::new(), LabelSet::new()];
        for set in &mut sets {
            for _ in 0..r.count(2)? {
                let name = r.string()?;
                set.insert(name, r.string()?);
            }
        }
        let [labels, annotations] = sets;
        let (starts_at, ends_at, updated_at) = (r.varint()?, r.varint()?, r.varint()?);
        let generator_url = r.string()?;
        let timeout = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(r.error("timeout flag is neither 0 nor 1")),
        };
        alerts.push(Alert { labels, annotations, starts_at, ends_at, updated_at, generator_url, timeout });
    }
    r.finish()?;
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn alert(name: &str, starts_at: i64, ends_at: i64, updated_at: i64) -> Alert {
        Alert {
            labels: [("alertname".to_string(), name.to_string())].into(),
            annotations: LabelSet::new(),
            starts_at,
            ends_at,
            updated_at,
            generator_url: String::new(),
            timeout: false,
        }
    }

    #[test]
    fn posted_alerts_are_completed_and_validated() {
        let now = 1_000 * S;
        let a = complete_posted(alert("A", 0, 0, 0), now, 300 * S).unwrap();
        assert_eq!((a.starts_at, a.ends_at, a.timeout, a.updated_at), (now, now + 300 * S, true, now));
        let b = complete_posted(alert("B", 0, 900 * S, 0), now, 300 * S).unwrap();
        assert_eq!((b.starts_at, b.ends_at, b.timeout), (900 * S, 900 * S, false));
        assert_eq!(complete_posted(alert("C", 500 * S, 400 * S, 0), now, S), Err(AlertError::EndBeforeStart));
        let mut no_labels = alert("D", 1, 0, 0);
        no_labels.labels.clear();
        assert_eq!(complete_posted(no_labels, now, S), Err(AlertError::NoLabels));
        let mut bad = alert("E", 1, 0, 0);
        bad.labels.insert("1bad".into(), "x".into());
        assert_eq!(complete_posted(bad, now, S), Err(AlertError::LabelName("1bad".into())));
    }

    #[test]
    fn overlapping_resends_merge_and_later_firings_replace() {
        let store = AlertStore::default();
        let now = 100 * S;
        store.put(alert("A", 10 * S, 200 * S, 10 * S), now);
        // A resend with a later start inside the stored window keeps the earliest start.
        let merged = store.put(alert("A", 20 * S, 260 * S, 20 * S), now);
        assert_eq!((merged.starts_at, merged.ends_at), (10 * S, 260 * S));
        // An explicit resolution from the sender wins over the extrapolated end.
        let resolved = store.put(alert("A", 20 * S, 90 * S, 30 * S), now);
        assert_eq!((resolved.starts_at, resolved.ends_at), (10 * S, 90 * S));
        assert!(resolved.resolved_at(now));
        // Firing again after the resolution does not overlap: it replaces.
        let again = store.put(alert("A", 300 * S, 600 * S, 300 * S), 300 * S);
        assert_eq!(again.starts_at, 300 * S);
        assert_eq!(store.list().len(), 1);
    }

    #[test]
    fn a_timeout_end_never_outlives_an_explicit_one() {
        let now = 100 * S;
        let mut older = alert("A", 10 * S, 500 * S, 10 * S);
        older.timeout = true;
        let younger = alert("A", 10 * S, 200 * S, 20 * S);
        assert_eq!(merge(&older, &younger, now).ends_at, 200 * S);
        older.timeout = false;
        assert_eq!(merge(&older, &younger, now).ends_at, 500 * S);
    }

    #[test]
    fn alerts_survive_a_persist_and_reopen_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts");
        let store = AlertStore::open(&path).unwrap();
        let mut a = alert("A", 10 * S, 200 * S, 10 * S);
        a.annotations.insert("summary".into(), "disk full".into());
        a.generator_url = "http://prom/graph".into();
        a.timeout = true;
        store.put(a.clone(), 100 * S);
        store.put(alert("B", 20 * S, 90 * S, 20 * S), 100 * S);
        store.persist(&path).unwrap();
        let reopened = AlertStore::open(&path).unwrap();
        assert_eq!(reopened.list(), store.list());
        assert_eq!(reopened.get(a.fingerprint()), Some(a));
        // Nothing changed: no rewrite (the file stays byte-identical even if removed meanwhile).
        std::fs::remove_file(&path).unwrap();
        store.persist(&path).unwrap();
        assert!(!path.exists(), "an unchanged store is not written again");
        store.put(alert("C", 30 * S, 300 * S, 30 * S), 100 * S);
        store.persist(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        let err = AlertStore::open(&path).err().expect("a damaged snapshot is refused");
        assert!(err.to_string().contains("alerts"), "{err}");
    }

    #[test]
    fn gc_drops_only_resolved_alerts() {
        let store = AlertStore::default();
        store.put(alert("Old", S, 50 * S, S), 60 * S);
        store.put(alert("Live", S, 500 * S, S), 60 * S);
        assert_eq!(store.counts(60 * S), (1, 1));
        assert_eq!(store.gc(60 * S), 1);
        assert_eq!(store.list().iter().map(|a| a.name().to_string()).collect::<Vec<_>>(), ["Live"]);
        assert_eq!(store.firing_where(60 * S, |l| l.get("alertname").is_some_and(|v| v == "Live")).len(), 1);
    }
}

// Pharos — alerting/src/notifier/alerts.rs
