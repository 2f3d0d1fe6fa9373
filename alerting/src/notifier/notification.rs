//! The data one notification is made of (Alertmanager's `template.Data`), built from a group's
//! alerts at one instant: what templates render and what the webhook payload carries.

use super::model::{Alert, LabelSet};
use crate::template::{AlertData, NotificationData};

/// `alerts` of a group as notification data at `now` (ns): each alert firing or resolved, the
/// group firing if any alert fires, and the label and annotation pairs every alert shares.
pub fn notification_data(
    receiver: &str,
    group_labels: &LabelSet,
    alerts: &[Alert],
    external_url: &str,
    now: i64,
) -> NotificationData {
    let any_firing = alerts.iter().any(|a| !a.resolved_at(now));
    NotificationData {
        receiver: receiver.to_string(),
        status: if any_firing { "firing" } else { "resolved" }.to_string(),
        alerts: alerts
            .iter()
            .map(|a| {
                let resolved = a.resolved_at(now);
                AlertData {
                    status: if resolved { "resolved" } else { "firing" }.to_string(),
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: a.starts_at,
                    // A future end is not shown (Go's zero time), as Alertmanager hides it.
                    ends_at: if resolved { a.ends_at } else { 0 },
                    generator_url: a.generator_url.clone(),
                    fingerprint: a.fingerprint().to_string(),
                }
            })
            .collect(),
        group_labels: group_labels.clone(),
        common_labels: common_pairs(alerts.iter().map(|a| &a.labels)),
        common_annotations: common_pairs(alerts.iter().map(|a| &a.annotations)),
        external_url: external_url.to_string(),
    }
}

/// Pairs present with the same value in every set (empty for no sets).
fn common_pairs<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else { return LabelSet::new() };
    let mut common = first.clone();
    for set in sets {
        common.retain(|name, value| set.get(name) == Some(value));
    }
    common
}

// Pharos — alerting/src/notifier/notification.rs
