//! The notifier's alert model: what Prometheus servers (and Pharos' own rules) post to
//! `/api/v2/alerts`, as Alertmanager keeps it.
//!
//! Times are nanoseconds since the Unix epoch, UTC (`0` = unset, Go's zero time on the wire:
//! `0001-01-01T00:00:00Z`).

use std::collections::BTreeMap;

use pharos_storage::tsdb::Matcher;

/// An alert's labels or annotations, sorted by name. Alertmanager's `model.LabelSet`.
pub type LabelSet = BTreeMap<String, String>;

/// An alert's identity: FNV-1a 64 over its sorted labels, as Alertmanager's
/// `model.LabelSet.Fingerprint` (each name and value followed by the byte `0xff`), so
/// fingerprints and group keys shown by Pharos equal Alertmanager's for the same labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    pub fn of(labels: &LabelSet) -> Fingerprint {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        if labels.is_empty() {
            return Fingerprint(OFFSET);
        }
        let mut hash = OFFSET;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(PRIME);
            }
        };
        for (name, value) in labels {
            feed(name.as_bytes());
            feed(&[0xff]);
            feed(value.as_bytes());
            feed(&[0xff]);
        }
        Fingerprint(hash)
    }
}

impl std::fmt::Display for Fingerprint {
    /// Sixteen lower-case hex digits, as the API and webhook payloads show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// One alert as the notifier holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// When the alert started firing (ns). Set to the receive time when the sender omitted it.
    pub starts_at: i64,
    /// When the alert resolves (ns). A sender that omits it gets `resolve_timeout` from the
    /// last update, and `timeout` is set.
    pub ends_at: i64,
    /// When the notifier last received it (ns).
    pub updated_at: i64,
    pub generator_url: String,
    /// `ends_at` was set by the notifier (`resolve_timeout`), not by the sender.
    pub timeout: bool,
}

impl Alert {
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// `alertname`, or "" without one.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Resolved at `now` (ns): `ends_at` is set and not after `now`.
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at != 0 && self.ends_at <= now
    }
}

/// Whether every matcher holds for a label set (an absent label has the value "").
pub fn matches_all(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fingerprints_are_fnv1a_over_sorted_pairs() {
        // FNV-1a 64 of the bytes "a\xffb\xff", computed independently of `Fingerprint::of`.
        let mut expected: u64 = 0xcbf2_9ce4_8422_2325;
        for b in [b'a', 0xff, b'b', 0xff] {
            expected = (expected ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        assert_eq!(Fingerprint::of(&labels(&[("a", "b")])).0, expected);
        assert_eq!(Fingerprint::of(&LabelSet::new()).0, 0xcbf2_9ce4_8422_2325);
        assert_ne!(Fingerprint::of(&labels(&[("a", "bc")])), Fingerprint::of(&labels(&[("ab", "c")])));
        assert_eq!(Fingerprint(0xab).to_string(), "00000000000000ab");
    }

    #[test]
    fn matchers_see_absent_labels_as_empty() {
        use pharos_storage::tsdb::MatchOp;
        let set = labels(&[("alertname", "Down"), ("severity", "page")]);
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        assert!(matches_all(
            &[m(MatchOp::Equal, "alertname", "Down"), m(MatchOp::Regex, "severity", "page|crit")],
            &set
        ));
        assert!(matches_all(&[m(MatchOp::Equal, "team", "")], &set));
        assert!(!matches_all(&[m(MatchOp::NotEqual, "severity", "page")], &set));
    }
}

// Pharos — alerting/src/notifier/model.rs
