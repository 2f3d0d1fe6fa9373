//! The notification log, as Alertmanager keeps it (`nflog/nflog.go`): per alert group and
//! receiver integration, which alerts were firing and resolved at the last successful
//! notification, and when. The dedup decision ([`needs_update`], Alertmanager's `DedupStage`)
//! compares a group's current alerts with that entry.
//!
//! Times are nanoseconds since the Unix epoch, UTC. Every [`Nflog::log`] is in the snapshot file
//! before it returns, so a restart (even after `kill -9`) does not repeat a notification; a log
//! whose snapshot write fails is undone and reported.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::notifier::snapshot::{self, PayloadError, PayloadReader, PayloadWriter, SnapshotError};

/// Magic of the notification log snapshot file.
pub const NFLOG_MAGIC: [u8; 4] = *b"PHNL";

/// The last notification of one group to one receiver integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NflogEntry {
    /// The alert group's key (route path and group labels).
    pub group_key: String,
    /// `<receiver name>/<integration type>/<index>`, as Alertmanager's `Receiver` key
    /// (e.g. `team-a/webhook/0`).
    pub receiver: String,
    /// Fingerprints of the alerts that were firing, sorted, without duplicates.
    pub firing: Vec<u64>,
    /// Fingerprints of the alerts that were resolved, sorted, without duplicates.
    pub resolved: Vec<u64>,
    /// When the notification was sent (ns).
    pub timestamp: i64,
    /// When the entry may be collected (ns): `timestamp` + the log's retention.
    pub expires_at: i64,
}

/// Why the notification log failed (always about its snapshot file).
#[derive(Debug, thiserror::Error)]
pub enum NflogError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// The notification log, behind a mutex; share it as `Arc<Nflog>`.
pub struct Nflog {
    path: PathBuf,
    /// How long an entry is kept after its notification (ns), `--data.retention`.
    retention: i64,
    state: Mutex<State>,
}

struct State {
    /// Keyed by (group key, receiver).
    entries: HashMap<(String, String), NflogEntry>,
    /// Changed since the last successful snapshot write.
    dirty: bool,
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Nflog {
    /// Opens the log kept in the snapshot at `path` (empty when the file does not exist). A
    /// damaged file is an error naming it, never an empty log.
    pub fn open(path: &Path, retention: Duration) -> Result<Nflog, NflogError> {
        let mut entries = HashMap::new();
        if let Some(payload) = snapshot::read_snapshot(path, NFLOG_MAGIC)? {
            for entry in decode(&payload).map_err(|e| SnapshotError::corrupt(path, e))? {
                let key = (entry.group_key.clone(), entry.receiver.clone());
                if entries.insert(key, entry).is_some() {
                    return Err(SnapshotError::Corrupt {
                        path: path.to_path_buf(),
                        reason: "an entry for the same group and receiver appears twice".into(),
                    }
                    .into());
                }
            }
        }
        Ok(Nflog {
            path: path.to_path_buf(),
            retention: nanos(retention),
            state: Mutex::new(State { entries, dirty: false }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entry of the last notification of `group_key` to `receiver`, until collected.
    pub fn query(&self, group_key: &str, receiver: &str) -> Option<NflogEntry> {
        self.lock().entries.get(&(group_key.to_string(), receiver.to_string())).cloned()
    }

    /// Records a successful notification at `now` (expiring at `now` + retention) and writes the
    /// snapshot before returning. As in Alertmanager, an existing entry with a later timestamp
    /// is kept (clock skew), and the call succeeds without change.
    pub fn log(
        &self,
        group_key: &str,
        receiver: &str,
        mut firing: Vec<u64>,
        mut resolved: Vec<u64>,
        now: i64,
    ) -> Result<(), NflogError> {
        firing.sort_unstable();
        firing.dedup();
        resolved.sort_unstable();
        resolved.dedup();
        let key = (group_key.to_string(), receiver.to_string());
        let mut state = self.lock();
        if state.entries.get(&key).is_some_and(|prev| prev.timestamp > now) {
            return Ok(());
        }
        let entry = NflogEntry {
            group_key: key.0.clone(),
            receiver: key.1.clone(),
            firing,
            resolved,
            timestamp: now,
            expires_at: now.saturating_add(self.retention),
        };
        let previous = state.entries.insert(key.clone(), entry);
        state.dirty = true;
        if let Err(e) = self.write(&mut state) {
            match previous {
                Some(previous) => state.entries.insert(key, previous),
                None => state.entries.remove(&key),
            };
            return Err(e.into());
        }
        Ok(())
    }

    /// Drops the entries whose `expires_at` is not after `now` and returns how many. The
    /// snapshot is rewritten; if that fails the error is logged and the next change or
    /// [`Nflog::persist`] writes it.
    pub fn gc(&self, now: i64) -> usize {
        let mut state = self.lock();
        let before = state.entries.len();
        state.entries.retain(|_, e| e.expires_at > now);
        let removed = before - state.entries.len();
        if removed > 0 {
            state.dirty = true;
            if let Err(e) = self.write(&mut state) {
                tracing::error!(error = %e, "writing the notification log snapshot after garbage collection failed");
            }
        }
        removed
    }

    /// Writes the snapshot if anything changed since the last successful write.
    pub fn persist(&self) -> Result<(), NflogError> {
        let mut state = self.lock();
        if state.dirty {
            self.write(&mut state)?;
        }
        Ok(())
    }

    fn write(&self, state: &mut State) -> Result<(), SnapshotError> {
        let mut all: Vec<&NflogEntry> = state.entries.values().collect();
        all.sort_by(|a, b| (&a.group_key, &a.receiver).cmp(&(&b.group_key, &b.receiver)));
        snapshot::write_snapshot(&self.path, NFLOG_MAGIC, &encode(&all))?;
        state.dirty = false;
        Ok(())
    }
}

/// Alertmanager's dedup decision (`DedupStage.needsUpdate`): whether to notify the receiver of
/// a group now, given its last entry and the fingerprints firing and resolved at this flush.
///
/// - No entry: notify iff something is firing.
/// - Something firing that was not firing at the last notification: notify.
/// - Nothing firing: notify iff the last notification had firing alerts (all resolved now),
///   whatever `send_resolved` says, so the log forgets them.
/// - `send_resolved` and something resolved that was not resolved last time: notify.
/// - Otherwise notify iff the repeat interval has passed: `timestamp < now - repeat_interval`
///   (strictly, as Alertmanager's `Before`).
pub fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &[u64],
    resolved: &[u64],
    repeat_interval: Duration,
    send_resolved: bool,
    now: i64,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    if !is_subset(firing, &entry.firing) {
        return true;
    }
    if firing.is_empty() {
        return !entry.firing.is_empty();
    }
    if send_resolved && !is_subset(resolved, &entry.resolved) {
        return true;
    }
    entry.timestamp < now.saturating_sub(nanos(repeat_interval))
}

/// Every member of `subset` is in `set`.
fn is_subset(subset: &[u64], set: &[u64]) -> bool {
    let set: HashSet<u64> = set.iter().copied().collect();
    subset.iter().all(|v| set.contains(v))
}

/// Payload layout: `docs/format/alerting.md`.
fn encode(entries: &[&NflogEntry]) -> Vec<u8> {
    let mut w = PayloadWriter::new();
    w.uvarint(entries.len() as u64);
    for e in entries {
        w.string(&e.group_key);
        w.string(&e.receiver);
        w.varint(e.timestamp);
        w.varint(e.expires_at);
        for list in [&e.firing, &e.resolved] {
            w.uvarint(list.len() as u64);
            for &fp in list {
                w.u64(fp);
            }
        }
    }
    w.into_bytes()
}

fn decode(payload: &[u8]) -> Result<Vec<NflogEntry>, PayloadError> {
    let mut r = PayloadReader::new(payload);
    let count = r.count(6)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let (group_key, receiver) = (r.string()?, r.string()?);
        let (timestamp, expires_at) = (r.varint()?, r.varint()?);
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let n = r.count(8)?;
            list.reserve(n);
            for _ in 0..n {
                list.push(r.u64()?);
            }
            if !list.windows(2).all(|w| w[0] < w[1]) {
                return Err(r.error("fingerprints are not sorted and unique"));
            }
        }
        let [firing, resolved] = lists;
        entries.push(NflogEntry { group_key, receiver, firing, resolved, timestamp, expires_at });
    }
    r.finish()?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;
    const MIN: i64 = 60 * SEC;
    /// 2025-01-01T00:00:00Z.
    const NOW: i64 = 1_735_689_600 * SEC;
    const RETENTION: Duration = Duration::from_secs(5 * 24 * 3600);

    fn entry(firing: &[u64], resolved: &[u64], timestamp: i64) -> NflogEntry {
        NflogEntry {
            group_key: "{}:{alertname=\"Down\"}".into(),
            receiver: "team/webhook/0".into(),
            firing: firing.to_vec(),
            resolved: resolved.to_vec(),
            timestamp,
            expires_at: timestamp + nanos(RETENTION),
        }
    }

    /// The cases of Alertmanager's `TestDedupStageNeedsUpdate`, plus the boundaries.
    #[test]
    fn needs_update_follows_alertmanagers_dedup_stage() {
        let ten_min = Duration::from_secs(600);
        struct Case {
            what: &'static str,
            entry: Option<NflogEntry>,
            firing: &'static [u64],
            resolved: &'static [u64],
            repeat: Duration,
            send_resolved: bool,
            want: bool,
        }
        let case = |what, entry, firing, resolved, repeat, send_resolved, want| Case {
            what,
            entry,
            firing,
            resolved,
            repeat,
            send_resolved,
            want,
        };
        let cases = [
            case("no entry, firing", None, &[2, 3, 4], &[], Duration::ZERO, false, true),
            case("no entry, only resolved", None, &[], &[2, 3, 4], Duration::ZERO, true, false),
            case("different firing set", Some(entry(&[1, 2, 3], &[], NOW)), &[2, 3, 4], &[], ten_min, false, true),
            case(
                "zero timestamp always repeats",
                Some(entry(&[1, 2, 3], &[], 0)),
                &[1, 2, 3],
                &[],
                Duration::ZERO,
                false,
                true,
            ),
            case(
                "same set before repeat",
                Some(entry(&[1, 2, 3], &[], NOW - 9 * MIN)),
                &[1, 2, 3],
                &[],
                ten_min,
                false,
                false,
            ),
            case(
                "same set after repeat",
                Some(entry(&[1, 2, 3], &[], NOW - 11 * MIN)),
                &[1, 2, 3],
                &[],
                ten_min,
                false,
                true,
            ),
            case(
                "new resolved without firing, after repeat",
                Some(entry(&[], &[1, 2, 3], NOW - 11 * MIN)),
                &[],
                &[3, 4, 5],
                ten_min,
                true,
                false,
            ),
            case(
                "new resolved, send_resolved off",
                Some(entry(&[1, 2], &[3], NOW - 9 * MIN)),
                &[1],
                &[2, 3],
                ten_min,
                false,
                false,
            ),
            case(
                "new resolved, send_resolved on",
                Some(entry(&[1, 2], &[3], NOW - 9 * MIN)),
                &[1],
                &[2, 3],
                ten_min,
                true,
                true,
            ),
            case(
                "all resolved, send_resolved off",
                Some(entry(&[1, 2], &[3], NOW - 9 * MIN)),
                &[],
                &[1, 2, 3],
                ten_min,
                false,
                true,
            ),
            case(
                "all resolved, send_resolved on",
                Some(entry(&[1, 2], &[3], NOW - 9 * MIN)),
                &[],
                &[1, 2, 3],
                ten_min,
                true,
                true,
            ),
            case(
                "fewer firing, nothing new",
                Some(entry(&[1, 2, 3], &[], NOW - MIN)),
                &[2],
                &[1, 3],
                ten_min,
                false,
                false,
            ),
            case("a new alert after a resolution", Some(entry(&[], &[1], NOW - MIN)), &[7], &[1], ten_min, false, true),
            case(
                "exactly the repeat interval is not yet past",
                Some(entry(&[1], &[], NOW - 10 * MIN)),
                &[1],
                &[],
                ten_min,
                false,
                false,
            ),
            case(
                "one ns past the repeat interval",
                Some(entry(&[1], &[], NOW - 10 * MIN - 1)),
                &[1],
                &[],
                ten_min,
                false,
                true,
            ),
            case(
                "unsorted input is a set",
                Some(entry(&[1, 5, 9], &[], NOW)),
                &[9, 1, 5, 5],
                &[],
                ten_min,
                false,
                false,
            ),
        ];
        for c in &cases {
            let got = needs_update(c.entry.as_ref(), c.firing, c.resolved, c.repeat, c.send_resolved, NOW);
            assert_eq!(got, c.want, "{}", c.what);
        }
    }

    #[test]
    fn log_and_query_per_group_and_receiver() {
        let dir = tempfile::tempdir().unwrap();
        let log = Nflog::open(&dir.path().join("nflog"), RETENTION).unwrap();
        assert_eq!(log.query("g", "r/webhook/0"), None);
        log.log("g", "r/webhook/0", vec![3, 1, 3], vec![9, 2], NOW).unwrap();
        log.log("g", "r/email/1", vec![5], vec![], NOW).unwrap();
        let got = log.query("g", "r/webhook/0").unwrap();
        assert_eq!(
            got,
            NflogEntry {
                group_key: "g".into(),
                receiver: "r/webhook/0".into(),
                firing: vec![1, 3],
                resolved: vec![2, 9],
                timestamp: NOW,
                expires_at: NOW + nanos(RETENTION),
            }
        );
        assert_eq!(log.query("g", "r/email/1").unwrap().firing, vec![5]);
        assert_eq!(log.query("other", "r/email/1"), None);
        // A later notification replaces the entry; an older one (clock skew) does not.
        log.log("g", "r/webhook/0", vec![], vec![1, 3], NOW + MIN).unwrap();
        log.log("g", "r/webhook/0", vec![4], vec![], NOW + SEC).unwrap();
        let got = log.query("g", "r/webhook/0").unwrap();
        assert_eq!((got.firing, got.resolved, got.timestamp), (vec![], vec![1, 3], NOW + MIN));
    }

    #[test]
    fn gc_drops_entries_past_the_retention_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog");
        let log = Nflog::open(&path, RETENTION).unwrap();
        log.log("old", "r/webhook/0", vec![1], vec![], NOW).unwrap();
        log.log("new", "r/webhook/0", vec![1], vec![], NOW + MIN).unwrap();
        let expiry = NOW + nanos(RETENTION);
        assert_eq!(log.gc(expiry - 1), 0);
        assert_eq!(log.gc(expiry), 1);
        assert!(log.query("old", "r/webhook/0").is_none());
        drop(log);
        let reopened = Nflog::open(&path, RETENTION).unwrap();
        assert!(reopened.query("old", "r/webhook/0").is_none());
        assert_eq!(reopened.query("new", "r/webhook/0").unwrap().timestamp, NOW + MIN);
        reopened.persist().unwrap();
    }

    #[test]
    fn entries_survive_reopening_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog");
        let log = Nflog::open(&path, RETENTION).unwrap();
        log.log("{}/{}:{alertname=\"Down\"}", "team/slack/0", vec![u64::MAX, 0, 42], vec![7], NOW).unwrap();
        log.log("g2", "team/email/0", vec![], vec![], NOW).unwrap();
        let before = (log.query("{}/{}:{alertname=\"Down\"}", "team/slack/0"), log.query("g2", "team/email/0"));
        drop(log);
        let reopened = Nflog::open(&path, RETENTION).unwrap();
        assert_eq!(
            (reopened.query("{}/{}:{alertname=\"Down\"}", "team/slack/0"), reopened.query("g2", "team/email/0")),
            before
        );
        assert_eq!(before.0.unwrap().firing, vec![0, 42, u64::MAX]);
        drop(reopened);

        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        flipped[good.len() - 6] ^= 0x10;
        std::fs::write(&path, &flipped).unwrap();
        let err = Nflog::open(&path, RETENTION).err().unwrap();
        assert!(matches!(err, NflogError::Snapshot(SnapshotError::ChecksumMismatch { .. })), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
        std::fs::write(&path, &good[..snapshot::HEADER_LEN + 2]).unwrap();
        let err = Nflog::open(&path, RETENTION).err().unwrap();
        assert!(matches!(err, NflogError::Snapshot(SnapshotError::Truncated { .. })), "{err:?}");
        snapshot::write_snapshot(&path, *b"PHSI", &[0]).unwrap();
        assert!(matches!(Nflog::open(&path, RETENTION), Err(NflogError::Snapshot(SnapshotError::BadMagic { .. }))));
        // Unsorted fingerprints behind a valid checksum are corruption too.
        let mut w = PayloadWriter::new();
        w.uvarint(1);
        w.string("g");
        w.string("r/webhook/0");
        w.varint(NOW);
        w.varint(NOW);
        w.uvarint(2);
        w.u64(5);
        w.u64(4);
        w.uvarint(0);
        snapshot::write_snapshot(&path, NFLOG_MAGIC, &w.into_bytes()).unwrap();
        assert!(matches!(Nflog::open(&path, RETENTION), Err(NflogError::Snapshot(SnapshotError::Corrupt { .. }))));
    }

    #[test]
    fn a_failed_snapshot_write_undoes_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let log = Nflog {
            path,
            retention: nanos(RETENTION),
            state: Mutex::new(State { entries: HashMap::new(), dirty: false }),
        };
        assert!(log.log("g", "r/webhook/0", vec![1], vec![], NOW).is_err());
        assert_eq!(log.query("g", "r/webhook/0"), None, "an unrecorded notification is not in the log");
    }
}

// Pharos — alerting/src/notifier/nflog.rs
