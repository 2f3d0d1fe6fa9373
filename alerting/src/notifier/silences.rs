//! Silences, as Alertmanager keeps them (`silence/silence.go` and the checks of its API v2
//! `POST /silences`): creation and in-place update, expiry, which alerts they mute, garbage
//! collection after the retention, and a snapshot file rewritten on every change.
//!
//! Times are nanoseconds since the Unix epoch, UTC. A silence is *pending* before `starts_at`,
//! *active* from `starts_at` through `ends_at` (inclusive, as Alertmanager), *expired* after.
//! Every change is in the snapshot file before the call returns, so an acknowledged silence
//! survives `kill -9`; a change whose snapshot write fails is undone and reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pharos_storage::tsdb::{MatchOp, Matcher};

use crate::notifier::model::{LabelSet, matches_all};
use crate::notifier::snapshot::{self, PayloadError, PayloadReader, PayloadWriter, SnapshotError};

/// Magic of the silences snapshot file.
pub const SILENCES_MAGIC: [u8; 4] = *b"PHSI";

/// One label matcher of a silence, as the API v2 shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceMatcher {
    pub name: String,
    /// The value, or the regular expression (fully anchored) when `is_regex`.
    pub value: String,
    pub is_regex: bool,
    /// `false` negates the matcher (`!=`, `!~`). The API's default is `true`.
    pub is_equal: bool,
}

impl SilenceMatcher {
    pub fn op(&self) -> MatchOp {
        match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        }
    }
}

/// A silence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    /// A UUID (v4), assigned by [`Silences::upsert`]; empty when creating.
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    /// Nanoseconds; `0` on upsert means "now".
    pub starts_at: i64,
    pub ends_at: i64,
    /// When the silence was last changed (ns), set by the store.
    pub updated_at: i64,
    pub created_by: String,
    pub comment: String,
}

/// A silence's state at a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    /// As the API v2 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

/// Pending before `starts_at`, expired after `ends_at`, active in between (both ends included).
pub fn silence_state(s: &Silence, now: i64) -> SilenceState {
    if now < s.starts_at {
        SilenceState::Pending
    } else if now > s.ends_at {
        SilenceState::Expired
    } else {
        SilenceState::Active
    }
}

/// Why a silence operation failed. `Invalid` is the API's 400, `NotFound` its 404, `Snapshot`
/// a 500 (the change was not applied).
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// The message is Alertmanager's, e.g. `invalid silence: at least one matcher required`.
    #[error("{0}")]
    Invalid(String),
    #[error("silence not found")]
    NotFound,
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// The silences of one notifier, behind a mutex; share it as `Arc<Silences>`.
pub struct Silences {
    path: PathBuf,
    /// How long an ended silence is kept (ns), Alertmanager's `--data.retention`.
    retention: i64,
    state: Mutex<State>,
}

struct State {
    silences: HashMap<String, Stored>,
    /// Bumped on every change; callers cache mute results per version.
    version: u64,
    /// Changed since the last successful snapshot write.
    dirty: bool,
}

#[derive(Clone)]
struct Stored {
    silence: Silence,
    matchers: Vec<Matcher>,
}

impl Stored {
    fn new(silence: Silence) -> Result<Stored, String> {
        let matchers = compile(&silence.matchers)?;
        Ok(Stored { silence, matchers })
    }
}

fn compile(matchers: &[SilenceMatcher]) -> Result<Vec<Matcher>, String> {
    matchers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Matcher::new(m.op(), m.name.clone(), m.value.clone()).map_err(|e| format!("invalid label matcher {i}: {e}"))
        })
        .collect()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Alertmanager's `validateSilence` on matchers: at least one, names non-empty (label names are
/// UTF-8, as Alertmanager's default mode), regexes compile, and not all of them match the empty
/// string (only `=""` and regexes matching "" count as matching it, as Alertmanager reckons).
fn validate_matchers(matchers: &[SilenceMatcher]) -> Result<Vec<Matcher>, SilenceError> {
    let invalid = |msg: String| SilenceError::Invalid(format!("invalid silence: {msg}"));
    if matchers.is_empty() {
        return Err(invalid("at least one matcher required".into()));
    }
    for (i, m) in matchers.iter().enumerate() {
        if m.name.is_empty() {
            return Err(invalid(format!("invalid label matcher {i}: invalid label name {:?}", m.name)));
        }
    }
    let compiled = compile(matchers).map_err(invalid)?;
    let all_match_empty = compiled.iter().all(|m| match m.op {
        MatchOp::Equal => m.value.is_empty(),
        MatchOp::Regex => m.matches(""),
        MatchOp::NotEqual | MatchOp::NotRegex => false,
    });
    if all_match_empty {
        return Err(invalid("at least one matcher must not match the empty string".into()));
    }
    Ok(compiled)
}

/// Alertmanager's `canUpdate`: whether `old` can become `new` in place without rewriting history.
fn can_update(old: &Silence, new: &Silence, now: i64) -> bool {
    if old.matchers != new.matchers {
        return false;
    }
    match silence_state(old, now) {
        // The start may not move (compared at whole seconds) and the end may not go into the past.
        SilenceState::Active => {
            old.starts_at.div_euclid(1_000_000_000) == new.starts_at.div_euclid(1_000_000_000) && new.ends_at >= now
        }
        SilenceState::Pending => new.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// `silence` ended now: an active one at `now`, a pending one starts and ends at `now`.
fn expired_copy(silence: &Silence, now: i64) -> Silence {
    let mut s = silence.clone();
    if silence_state(&s, now) == SilenceState::Pending {
        s.starts_at = now;
    }
    s.ends_at = now;
    s.updated_at = now;
    s
}

impl Silences {
    /// Opens the silences kept in the snapshot at `path` (none when the file does not exist).
    /// A damaged file is an error naming it, never an empty state.
    pub fn open(path: &Path, retention: Duration) -> Result<Silences, SilenceError> {
        let mut silences = HashMap::new();
        if let Some(payload) = snapshot::read_snapshot(path, SILENCES_MAGIC)? {
            for silence in decode(&payload).map_err(|e| SnapshotError::corrupt(path, e))? {
                let id = silence.id.clone();
                let stored = Stored::new(silence).map_err(|reason| SnapshotError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("silence {id}: {reason}"),
                })?;
                if silences.insert(id.clone(), stored).is_some() {
                    let reason = format!("silence {id} appears twice");
                    return Err(SnapshotError::Corrupt { path: path.to_path_buf(), reason }.into());
                }
            }
        }
        Ok(Silences {
            path: path.to_path_buf(),
            retention: nanos(retention),
            state: Mutex::new(State { silences, version: 0, dirty: false }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Alertmanager's `POST /silences`: creates a silence (empty `id`) or updates one, and returns
    /// its id. `starts_at == 0` means `now`. The start must be before the end and the end not in
    /// the past; the matchers are validated as Alertmanager does. An update keeps the id when
    /// the matchers are unchanged and only allowed times move (an active silence keeps its start
    /// and may not end in the past; a pending one may not start in the past); otherwise the old
    /// silence is expired (unless already expired) and a new one with a new id is created,
    /// starting no earlier than `now`. An unknown `id` is [`SilenceError::NotFound`].
    pub fn upsert(&self, mut silence: Silence, now: i64) -> Result<String, SilenceError> {
        if silence.starts_at == 0 {
            silence.starts_at = now;
        }
        if silence.starts_at >= silence.ends_at {
            return Err(SilenceError::Invalid("Failed to create silence: start time must be before end time".into()));
        }
        if silence.ends_at < now {
            return Err(SilenceError::Invalid("Failed to create silence: end time can't be in the past".into()));
        }
        let matchers = validate_matchers(&silence.matchers)?;

        let mut state = self.lock();
        let previous = match silence.id.as_str() {
            "" => None,
            id => Some(state.silences.get(id).ok_or(SilenceError::NotFound)?.silence.clone()),
        };
        let mut changes = Vec::with_capacity(2);
        match &previous {
            Some(old) if can_update(old, &silence, now) => {
                silence.updated_at = now;
                changes.push(Stored { silence, matchers });
            }
            _ => {
                if let Some(old) = &previous
                    && silence_state(old, now) != SilenceState::Expired
                {
                    let expired = expired_copy(old, now);
                    let matchers = state.silences[&old.id].matchers.clone();
                    changes.push(Stored { silence: expired, matchers });
                }
                silence.id = new_id(&state.silences);
                silence.starts_at = silence.starts_at.max(now);
                silence.updated_at = now;
                changes.push(Stored { silence, matchers });
            }
        }
        let id = changes.last().expect("one change at least").silence.id.clone();
        self.apply(&mut state, changes)?;
        Ok(id)
    }

    /// Ends a silence now (Alertmanager's `DELETE /silence/{id}`): an active one ends at `now`,
    /// a pending one starts and ends at `now`. Expiring an already expired silence succeeds and
    /// changes nothing, as in Alertmanager since 0.28; an unknown id is `NotFound`.
    pub fn expire(&self, id: &str, now: i64) -> Result<(), SilenceError> {
        let mut state = self.lock();
        let stored = state.silences.get(id).ok_or(SilenceError::NotFound)?;
        if silence_state(&stored.silence, now) == SilenceState::Expired {
            return Ok(());
        }
        let change = Stored { silence: expired_copy(&stored.silence, now), matchers: stored.matchers.clone() };
        self.apply(&mut state, vec![change])
    }

    /// Puts `changes` in the state and writes the snapshot; undoes them if the write fails.
    fn apply(&self, state: &mut State, changes: Vec<Stored>) -> Result<(), SilenceError> {
        let mut undo = Vec::with_capacity(changes.len());
        for change in changes {
            let id = change.silence.id.clone();
            undo.push((id.clone(), state.silences.insert(id, change)));
        }
        let version = state.version;
        state.version += 1;
        state.dirty = true;
        if let Err(e) = self.write(state) {
            for (id, old) in undo.into_iter().rev() {
                match old {
                    Some(old) => state.silences.insert(id, old),
                    None => state.silences.remove(&id),
                };
            }
            state.version = version;
            return Err(e.into());
        }
        Ok(())
    }

    fn write(&self, state: &mut State) -> Result<(), SnapshotError> {
        let mut all: Vec<&Silence> = state.silences.values().map(|s| &s.silence).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        snapshot::write_snapshot(&self.path, SILENCES_MAGIC, &encode(&all))?;
        state.dirty = false;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Silence> {
        self.lock().silences.get(id).map(|s| s.silence.clone())
    }

    /// Every silence held (expired ones until collected), sorted by id; the API sorts by state.
    pub fn list(&self) -> Vec<Silence> {
        let mut all: Vec<Silence> = self.lock().silences.values().map(|s| s.silence.clone()).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Ids (sorted) of the silences active at `now` whose matchers all match `labels`.
    pub fn mutes(&self, labels: &LabelSet, now: i64) -> Vec<String> {
        let state = self.lock();
        let mut ids: Vec<String> = state
            .silences
            .values()
            .filter(|s| silence_state(&s.silence, now) == SilenceState::Active && matches_all(&s.matchers, labels))
            .map(|s| s.silence.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Drops the silences that ended at least the retention ago (`ends_at + retention <= now`)
    /// and returns how many. The snapshot is rewritten; if that fails the error is logged and the
    /// next [`Silences::persist`] or change writes it.
    pub fn gc(&self, now: i64) -> usize {
        let mut state = self.lock();
        let before = state.silences.len();
        let retention = self.retention;
        state.silences.retain(|_, s| s.silence.ends_at.saturating_add(retention) > now);
        let removed = before - state.silences.len();
        if removed > 0 {
            state.version += 1;
            state.dirty = true;
            if let Err(e) = self.write(&mut state) {
                tracing::error!(error = %e, "writing the silences snapshot after garbage collection failed");
            }
        }
        removed
    }

    /// Writes the snapshot if anything changed since the last successful write.
    pub fn persist(&self) -> Result<(), SilenceError> {
        let mut state = self.lock();
        if state.dirty {
            self.write(&mut state)?;
        }
        Ok(())
    }

    /// Bumped by every change (upsert, expire, collection); equal versions mean equal silences.
    pub fn version(&self) -> u64 {
        self.lock().version
    }
}

/// A fresh UUID v4 not already in use.
fn new_id(existing: &HashMap<String, Stored>) -> String {
    loop {
        let id = uuid::Uuid::new_v4().to_string();
        if !existing.contains_key(&id) {
            return id;
        }
    }
}

const FLAG_REGEX: u8 = 0x01;
const FLAG_EQUAL: u8 = 0x02;

/// Payload layout: `docs/format/alerting.md`.
fn encode(silences: &[&Silence]) -> Vec<u8> {
    let mut w = PayloadWriter::new();
    w.uvarint(silences.len() as u64);
    for s in silences {
        w.string(&s.id);
        w.varint(s.starts_at);
        w.varint(s.ends_at);
        w.varint(s.updated_at);
        w.string(&s.created_by);
        w.string(&s.comment);
        w.uvarint(s.matchers.len() as u64);
        for m in &s.matchers {
            w.string(&m.name);
            w.string(&m.value);
            w.u8(if m.is_regex { FLAG_REGEX } else { 0 } | if m.is_equal { FLAG_EQUAL } else { 0 });
        }
    }
    w.into_bytes()
}

fn decode(payload: &[u8]) -> Result<Vec<Silence>, PayloadError> {
    let mut r = PayloadReader::new(payload);
    let count = r.count(7)?;
    let mut silences = Vec::with_capacity(count);
    for _ in 0..count {
        let id = r.string()?;
        let (starts_at, ends_at, updated_at) = (r.varint()?, r.varint()?, r.varint()?);
        let (created_by, comment) = (r.string()?, r.string()?);
        let n = r.count(3)?;
        let mut matchers = Vec::with_capacity(n);
        for _ in 0..n {
            let (name, value) = (r.string()?, r.string()?);
            let flags = r.u8()?;
            if flags & !(FLAG_REGEX | FLAG_EQUAL) != 0 {
                return Err(r.error(format!("unknown matcher flags {flags:#04x}")));
            }
            matchers.push(SilenceMatcher {
                name,
                value,
                is_regex: flags & FLAG_REGEX != 0,
                is_equal: flags & FLAG_EQUAL != 0,
            });
        }
        silences.push(Silence { id, matchers, starts_at, ends_at, updated_at, created_by, comment });
    }
    r.finish()?;
    Ok(silences)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::time::Instant;

    const SEC: i64 = 1_000_000_000;
    const MIN: i64 = 60 * SEC;
    /// 2025-01-01T00:00:00Z.
    const T0: i64 = 1_735_689_600 * SEC;
    const RETENTION: Duration = Duration::from_secs(3600);

    fn matcher(name: &str, value: &str, is_regex: bool, is_equal: bool) -> SilenceMatcher {
        SilenceMatcher { name: name.into(), value: value.into(), is_regex, is_equal }
    }

    fn eq(name: &str, value: &str) -> SilenceMatcher {
        matcher(name, value, false, true)
    }

    fn silence(matchers: Vec<SilenceMatcher>, starts_at: i64, ends_at: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers,
            starts_at,
            ends_at,
            updated_at: 0,
            created_by: "alice".into(),
            comment: "maintenance".into(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn open(dir: &tempfile::TempDir) -> Silences {
        Silences::open(&dir.path().join("silences"), RETENTION).unwrap()
    }

    fn invalid(err: SilenceError) -> String {
        match err {
            SilenceError::Invalid(msg) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn states_follow_the_clock_with_both_ends_active() {
        let s = silence(vec![eq("a", "b")], T0, T0 + MIN);
        assert_eq!(silence_state(&s, T0 - 1), SilenceState::Pending);
        assert_eq!(silence_state(&s, T0), SilenceState::Active);
        assert_eq!(silence_state(&s, T0 + MIN), SilenceState::Active);
        assert_eq!(silence_state(&s, T0 + MIN + 1), SilenceState::Expired);
        assert_eq!(
            [SilenceState::Pending, SilenceState::Active, SilenceState::Expired].map(SilenceState::as_str),
            ["pending", "active", "expired"]
        );
    }

    #[test]
    fn creation_assigns_a_uuid_and_clamps_the_start_to_now() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let v0 = store.version();
        let id = store.upsert(silence(vec![eq("job", "api")], T0 - MIN, T0 + MIN), T0).unwrap();
        assert_eq!(id.len(), 36);
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        let got = store.get(&id).unwrap();
        assert_eq!((got.starts_at, got.ends_at, got.updated_at), (T0, T0 + MIN, T0));
        assert_eq!((got.created_by.as_str(), got.comment.as_str()), ("alice", "maintenance"));
        assert!(store.version() > v0);
        // starts_at 0 means now.
        let id2 = store.upsert(silence(vec![eq("job", "db")], 0, T0 + MIN), T0 + SEC).unwrap();
        assert_eq!(store.get(&id2).unwrap().starts_at, T0 + SEC);
        assert_ne!(id, id2);
        assert_eq!(store.list().len(), 2);
    }

    #[test]
    fn validation_errors_use_alertmanager_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let try_upsert = |s: Silence| invalid(store.upsert(s, T0).unwrap_err());
        assert_eq!(try_upsert(silence(vec![], T0, T0 + MIN)), "invalid silence: at least one matcher required");
        assert_eq!(
            try_upsert(silence(vec![eq("", "x")], T0, T0 + MIN)),
            "invalid silence: invalid label matcher 0: invalid label name \"\""
        );
        let bad_regex = try_upsert(silence(vec![eq("a", "b"), matcher("job", "(", true, true)], T0, T0 + MIN));
        assert!(
            bad_regex.starts_with("invalid silence: invalid label matcher 1: invalid regular expression"),
            "{bad_regex}"
        );
        for all_empty in [vec![eq("a", "")], vec![matcher("a", ".*", true, true), eq("b", "")]] {
            assert_eq!(
                try_upsert(silence(all_empty, T0, T0 + MIN)),
                "invalid silence: at least one matcher must not match the empty string"
            );
        }
        assert_eq!(
            try_upsert(silence(vec![eq("a", "b")], T0 + MIN, T0 + MIN)),
            "Failed to create silence: start time must be before end time"
        );
        assert_eq!(
            try_upsert(silence(vec![eq("a", "b")], T0 - 2 * MIN, T0 - MIN)),
            "Failed to create silence: end time can't be in the past"
        );
        // Negative matchers never count as matching the empty string (Alertmanager's reckoning).
        store.upsert(silence(vec![matcher("a", "x", false, false)], T0, T0 + MIN), T0).unwrap();
        store.upsert(silence(vec![matcher("a", ".+", true, true), eq("b", "")], T0, T0 + MIN), T0).unwrap();
        let mut unknown = silence(vec![eq("a", "b")], T0, T0 + MIN);
        unknown.id = "00000000-0000-4000-8000-000000000000".into();
        let err = store.upsert(unknown, T0).unwrap_err();
        assert!(matches!(err, SilenceError::NotFound));
        assert_eq!(err.to_string(), "silence not found");
        assert!(matches!(store.upsert(silence(vec![], T0, T0 + MIN), T0).unwrap_err(), SilenceError::Invalid(_)));
        assert_eq!(store.list().len(), 2, "failed upserts change nothing");
    }

    #[test]
    fn updates_keep_the_id_only_when_history_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let id = store.upsert(silence(vec![eq("job", "api")], T0, T0 + 10 * MIN), T0).unwrap();
        let now = T0 + MIN;

        // Active: a new end and comment, same start (same second) → in place.
        let mut update = store.get(&id).unwrap();
        update.ends_at = T0 + 20 * MIN;
        update.comment = "longer".into();
        update.starts_at = T0 + 500_000_000;
        assert_eq!(store.upsert(update, now).unwrap(), id);
        let got = store.get(&id).unwrap();
        assert_eq!((got.ends_at, got.updated_at, got.comment.as_str()), (T0 + 20 * MIN, now, "longer"));

        // Active: moving the start → the old one is expired now, a new one starts now.
        let mut moved = store.get(&id).unwrap();
        moved.starts_at = T0 + 5 * SEC;
        let new_id = store.upsert(moved, now).unwrap();
        assert_ne!(new_id, id);
        let old = store.get(&id).unwrap();
        assert_eq!((old.ends_at, old.updated_at), (now, now));
        assert_eq!(silence_state(&old, now + 1), SilenceState::Expired);
        assert_eq!(store.get(&new_id).unwrap().starts_at, now);

        // Changed matchers → new id too.
        let mut rematched = store.get(&new_id).unwrap();
        rematched.matchers = vec![eq("job", "web")];
        let third = store.upsert(rematched, now + SEC).unwrap();
        assert!(third != new_id && third != id);
        assert_eq!(silence_state(&store.get(&new_id).unwrap(), now + 2 * SEC), SilenceState::Expired);

        // Pending: may move its start as long as it is not in the past.
        let pending = store.upsert(silence(vec![eq("a", "b")], T0 + 30 * MIN, T0 + 40 * MIN), now).unwrap();
        let mut later = store.get(&pending).unwrap();
        later.starts_at = T0 + 35 * MIN;
        assert_eq!(store.upsert(later, now).unwrap(), pending);
        let mut earlier = store.get(&pending).unwrap();
        earlier.starts_at = now - SEC;
        let replaced = store.upsert(earlier, now).unwrap();
        assert_ne!(replaced, pending);
        let old_pending = store.get(&pending).unwrap();
        assert_eq!((old_pending.starts_at, old_pending.ends_at), (now, now), "a pending one is expired at once");

        // Expired: never updated in place, and not expired again.
        let mut revived = store.get(&id).unwrap();
        revived.ends_at = T0 + 50 * MIN;
        let before = store.get(&id).unwrap();
        let revived_id = store.upsert(revived, now + MIN).unwrap();
        assert_ne!(revived_id, id);
        assert_eq!(store.get(&id).unwrap(), before, "the expired original is left as it was");
        assert_eq!(store.list().len(), 6);
    }

    #[test]
    fn mutes_lists_active_matching_silences_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let regex = store.upsert(silence(vec![matcher("job", "api|web", true, true)], T0, T0 + MIN), T0).unwrap();
        let negative = store
            .upsert(silence(vec![eq("alertname", "Down"), matcher("env", "prod", false, false)], T0, T0 + MIN), T0)
            .unwrap();
        let not_regex = store
            .upsert(silence(vec![eq("alertname", "Down"), matcher("job", "a.*", true, false)], T0, T0 + MIN), T0)
            .unwrap();
        let pending = store.upsert(silence(vec![eq("alertname", "Down")], T0 + MIN, T0 + 2 * MIN), T0).unwrap();

        let mut three = vec![regex.clone(), negative.clone(), not_regex.clone()];
        three.sort();
        assert_eq!(store.mutes(&labels(&[("alertname", "Down"), ("job", "web"), ("env", "dev")]), T0), three);
        assert_eq!(
            store.mutes(&labels(&[("alertname", "Down"), ("job", "api"), ("env", "prod")]), T0),
            vec![regex.clone()]
        );
        assert!(store.mutes(&labels(&[("job", "webserver")]), T0).is_empty(), "regexes are anchored");
        // A missing label is the empty value: `env!="prod"` holds, `job!~"a.*"` holds.
        let mut absent = vec![negative.clone(), not_regex.clone()];
        absent.sort();
        assert_eq!(store.mutes(&labels(&[("alertname", "Down")]), T0), absent);
        // The pending one mutes from its start; the others stop after their end (inclusive).
        assert!(!store.mutes(&labels(&[("alertname", "Down")]), T0 + MIN - 1).contains(&pending));
        assert_eq!(store.mutes(&labels(&[("alertname", "Down"), ("job", "web")]), T0 + MIN).len(), 4);
        assert_eq!(store.mutes(&labels(&[("alertname", "Down"), ("job", "web")]), T0 + MIN + 1), vec![pending.clone()]);
        assert!(store.mutes(&labels(&[("alertname", "Down")]), T0 + 2 * MIN + 1).is_empty());
    }

    #[test]
    fn expire_ends_active_and_pending_silences() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let active = store.upsert(silence(vec![eq("a", "b")], T0, T0 + 10 * MIN), T0).unwrap();
        let pending = store.upsert(silence(vec![eq("a", "c")], T0 + 5 * MIN, T0 + 10 * MIN), T0).unwrap();
        let now = T0 + MIN;
        let v = store.version();
        store.expire(&active, now).unwrap();
        store.expire(&pending, now).unwrap();
        assert!(store.version() > v);
        let a = store.get(&active).unwrap();
        assert_eq!((a.starts_at, a.ends_at, a.updated_at), (T0, now, now));
        let p = store.get(&pending).unwrap();
        assert_eq!((p.starts_at, p.ends_at, p.updated_at), (now, now, now));
        assert!(store.mutes(&labels(&[("a", "b")]), now + 1).is_empty());
        // Already expired: nothing changes (Alertmanager's expire is idempotent).
        let v = store.version();
        store.expire(&active, now + MIN).unwrap();
        assert_eq!(store.get(&active).unwrap(), a);
        assert_eq!(store.version(), v);
        assert!(matches!(store.expire("no-such-id", now), Err(SilenceError::NotFound)));
    }

    #[test]
    fn gc_drops_silences_ended_longer_than_the_retention_ago() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let short = store.upsert(silence(vec![eq("a", "1")], T0, T0 + MIN), T0).unwrap();
        let long = store.upsert(silence(vec![eq("a", "2")], T0, T0 + 10 * MIN), T0).unwrap();
        let retention = nanos(RETENTION);
        assert_eq!(store.gc(T0 + MIN + retention - 1), 0);
        assert_eq!(store.gc(T0 + MIN + retention), 1);
        assert!(store.get(&short).is_none() && store.get(&long).is_some());
        drop(store);
        let reopened = open(&dir);
        assert!(reopened.get(&short).is_none(), "collection is persisted");
        assert!(reopened.get(&long).is_some());
    }

    #[test]
    fn silences_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let mut s =
            silence(vec![matcher("job", "api|web", true, true), matcher("env", "dev", false, false)], T0, T0 + MIN);
        s.comment = "ünïcode\ncomment".into();
        let id = store.upsert(s, T0).unwrap();
        let other = store.upsert(silence(vec![eq("a", "b")], T0, T0 + MIN), T0).unwrap();
        store.expire(&other, T0 + SEC).unwrap();
        let before = store.list();
        drop(store);
        let reopened = open(&dir);
        assert_eq!(reopened.list(), before);
        assert_eq!(reopened.mutes(&labels(&[("job", "web")]), T0 + 2 * SEC), vec![id]);
        reopened.persist().unwrap();
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences");
        let store = Silences::open(&path, RETENTION).unwrap();
        store.upsert(silence(vec![eq("a", "b")], T0, T0 + MIN), T0).unwrap();
        drop(store);
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        flipped[snapshot::HEADER_LEN + 3] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        let err = Silences::open(&path, RETENTION).err().unwrap();
        assert!(matches!(err, SilenceError::Snapshot(SnapshotError::ChecksumMismatch { .. })), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));

        std::fs::write(&path, &good[..good.len() - 7]).unwrap();
        let err = Silences::open(&path, RETENTION).err().unwrap();
        assert!(matches!(err, SilenceError::Snapshot(SnapshotError::Truncated { .. })), "{err:?}");

        // An nflog file is not a silences file.
        snapshot::write_snapshot(&path, *b"PHNL", &[0]).unwrap();
        let err = Silences::open(&path, RETENTION).err().unwrap();
        assert!(matches!(err, SilenceError::Snapshot(SnapshotError::BadMagic { .. })), "{err:?}");

        // Checksum fine, payload not decodable.
        snapshot::write_snapshot(&path, SILENCES_MAGIC, &[1, 0]).unwrap();
        let err = Silences::open(&path, RETENTION).err().unwrap();
        assert!(matches!(err, SilenceError::Snapshot(SnapshotError::Corrupt { .. })), "{err:?}");
    }

    #[test]
    fn a_failed_snapshot_write_undoes_the_change() {
        let dir = tempfile::tempdir().unwrap();
        // The snapshot's path is a directory, so the rename over it fails.
        let path = dir.path().join("silences");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let store = Silences::open(&dir.path().join("other"), RETENTION).unwrap();
        let id = store.upsert(silence(vec![eq("a", "b")], T0, T0 + MIN), T0).unwrap();
        let broken = Silences {
            path: path.clone(),
            retention: store.retention,
            state: Mutex::new(State { silences: store.lock().silences.clone(), version: 7, dirty: false }),
        };
        let err = broken.upsert(silence(vec![eq("a", "c")], T0, T0 + MIN), T0).unwrap_err();
        assert!(matches!(err, SilenceError::Snapshot(SnapshotError::Io { .. })), "{err:?}");
        assert_eq!(broken.list().len(), 1);
        assert_eq!(broken.version(), 7);
        assert!(broken.expire(&id, T0 + SEC).is_err());
        assert_eq!(broken.get(&id).unwrap().ends_at, T0 + MIN, "the failed expiry was undone");
    }

    // -----------------------------------------------------------------------------------------
    // A real process crash.

    const CHILD_ENV: &str = "PHAROS_SILENCES_CRASH_CHILD_DIR";

    fn crash_silence(n: i64) -> Silence {
        let mut s = silence(vec![eq("instance", &format!("host-{n}"))], T0, T0 + 1000 * MIN);
        s.comment = format!("silence {n}");
        s
    }

    /// The child half of [`a_killed_process_loses_no_acknowledged_silence`]: creates silences
    /// forever, printing `ACK <n> <id>` once silence `n`'s upsert returned.
    #[test]
    fn crash_child() {
        let Ok(dir) = std::env::var(CHILD_ENV) else { return };
        let store = Silences::open(&Path::new(&dir).join("silences"), RETENTION).unwrap();
        let mut out = std::io::stdout().lock();
        for n in 0.. {
            let id = store.upsert(crash_silence(n), T0).unwrap();
            writeln!(out, "ACK {n} {id}").unwrap();
            out.flush().unwrap();
        }
    }

    #[test]
    fn a_killed_process_loses_no_acknowledged_silence() {
        if std::env::var(CHILD_ENV).is_ok() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "notifier::silences::tests::crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // The harness prints `test … ... ` without a newline before the first ACK.
        let ack = |line: &str| {
            line.find("ACK ").map(|at| {
                let mut fields = line[at + 4..].split_whitespace();
                (fields.next().unwrap().parse::<i64>().unwrap(), fields.next().unwrap().to_string())
            })
        };
        let mut acked = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.len() < 50 && Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            acked.extend(ack(&line));
        }
        child.kill().unwrap(); // SIGKILL, most likely in the middle of a snapshot write
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child must die by the signal");
        for line in lines.map_while(Result::ok) {
            acked.extend(ack(&line));
        }
        assert!(acked.len() >= 50, "the child acknowledged {} silences", acked.len());

        let store = Silences::open(&dir.path().join("silences"), RETENTION).unwrap();
        let last = acked.last().unwrap().0;
        assert_eq!(acked.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (0..=last).collect::<Vec<_>>());
        for (n, id) in &acked {
            let got = store.get(id).unwrap_or_else(|| panic!("acknowledged silence {n} ({id}) is lost"));
            let want = crash_silence(*n);
            assert_eq!((got.matchers, got.comment), (want.matchers, want.comment), "silence {n}");
        }
        let held = store.list().len() as i64;
        assert!(held == last + 1 || held == last + 2, "{held} silences after {} acknowledged", last + 1);
    }
}

// Pharos — alerting/src/notifier/silences.rs
