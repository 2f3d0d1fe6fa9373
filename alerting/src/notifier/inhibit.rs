//! Inhibition: a firing alert matching a rule's source matchers mutes the alerts matching its
//! target matchers that carry the same values of the rule's `equal` labels (Alertmanager's
//! `inhibit/inhibit.go`).
//!
//! An alert never inhibits itself: when the muted candidate matches the source matchers too,
//! sources that also match the target matchers are passed over.

use super::alerts::AlertStore;
use super::config::InhibitRule;
use super::model::{Fingerprint, LabelSet, matches_all};

/// The fingerprints of the firing alerts that inhibit `labels` at `now`, sorted; empty if none.
pub fn inhibited_by(rules: &[InhibitRule], alerts: &AlertStore, labels: &LabelSet, now: i64) -> Vec<Fingerprint> {
    let mut by = Vec::new();
    for rule in rules {
        if !matches_all(&rule.target_matchers, labels) {
            continue;
        }
        let two_sided = matches_all(&rule.source_matchers, labels);
        let own = Fingerprint::of(labels);
        let sources = alerts.firing_where(now, |source| {
            matches_all(&rule.source_matchers, source)
                && rule.equal.iter().all(|name| source.get(name) == labels.get(name))
                && !(two_sided && matches_all(&rule.target_matchers, source))
        });
        by.extend(sources.into_iter().filter(|fp| *fp != own));
    }
    by.sort();
    by.dedup();
    by
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::model::Alert;
    use pharos_storage::tsdb::{MatchOp, Matcher};

    const S: i64 = 1_000_000_000;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn firing(store: &AlertStore, pairs: &[(&str, &str)], ends_at: i64) {
        let alert = Alert {
            labels: labels(pairs),
            annotations: LabelSet::new(),
            starts_at: S,
            ends_at,
            updated_at: S,
            generator_url: String::new(),
            timeout: false,
        };
        store.put(alert, S);
    }

    fn rule(source: (&str, &str), target: (&str, &str), equal: &[&str]) -> InhibitRule {
        InhibitRule {
            source_matchers: vec![Matcher::equal(source.0, source.1)],
            target_matchers: vec![Matcher::equal(target.0, target.1)],
            equal: equal.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_critical_alert_mutes_warnings_of_the_same_cluster_only() {
        let store = AlertStore::default();
        firing(&store, &[("alertname", "NodeDown"), ("severity", "critical"), ("cluster", "a")], 1000 * S);
        let rules = [rule(("severity", "critical"), ("severity", "warning"), &["cluster"])];
        let warning_a = labels(&[("alertname", "HighLoad"), ("severity", "warning"), ("cluster", "a")]);
        let warning_b = labels(&[("alertname", "HighLoad"), ("severity", "warning"), ("cluster", "b")]);
        let by = inhibited_by(&rules, &store, &warning_a, 10 * S);
        assert_eq!(
            by,
            vec![Fingerprint::of(&labels(&[("alertname", "NodeDown"), ("severity", "critical"), ("cluster", "a")]))]
        );
        assert!(inhibited_by(&rules, &store, &warning_b, 10 * S).is_empty(), "other cluster");
        assert!(inhibited_by(&rules, &store, &warning_a, 2000 * S).is_empty(), "the source resolved");
    }

    #[test]
    fn an_equal_label_missing_on_both_sides_counts_as_equal() {
        let store = AlertStore::default();
        firing(&store, &[("alertname", "Src"), ("severity", "critical")], 1000 * S);
        let rules = [rule(("severity", "critical"), ("severity", "warning"), &["cluster"])];
        assert_eq!(inhibited_by(&rules, &store, &labels(&[("alertname", "T"), ("severity", "warning")]), S).len(), 1);
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_inhibit_itself() {
        let store = AlertStore::default();
        let both = [("alertname", "X"), ("team", "db")];
        firing(&store, &both, 1000 * S);
        let rules = [InhibitRule {
            source_matchers: vec![Matcher::equal("team", "db")],
            target_matchers: vec![Matcher::new(MatchOp::Regex, "alertname", "X|Y").unwrap()],
            equal: vec![],
        }];
        assert!(inhibited_by(&rules, &store, &labels(&both), S).is_empty());
        // A target that only matches the target side is muted by it.
        assert_eq!(inhibited_by(&rules, &store, &labels(&[("alertname", "Y")]), S).len(), 1);
    }
}

// Pharos — alerting/src/notifier/inhibit.rs
