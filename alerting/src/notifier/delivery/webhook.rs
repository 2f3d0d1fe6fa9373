//! Alertmanager's webhook payload, version 4 (`notify/webhook/webhook.go` + `template.Data`), and
//! its POST: any 2xx is success, 5xx and 429 are retried, other statuses are not.

use pharos_proto::civil_time::format_go_time;
use serde::{Deserialize, Serialize};

use super::DeliveryError;
use super::http_post::HttpTarget;
use crate::notifier::model::{Alert, LabelSet};
use crate::notifier::notification::notification_data;

/// The JSON body Alertmanager posts to a `webhook_config`. Field order and names are
/// Alertmanager's (`template.Data` first, then `version`, `groupKey`, `truncatedAlerts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    pub receiver: String,
    /// `firing` when any (kept) alert fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<WebhookAlert>,
    pub group_labels: LabelSet,
    /// Label pairs shared by every kept alert.
    pub common_labels: LabelSet,
    /// Annotation pairs shared by every kept alert.
    pub common_annotations: LabelSet,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// Always `"4"`.
    pub version: String,
    pub group_key: String,
    /// How many alerts `max_alerts` left out.
    pub truncated_alerts: u64,
}

/// One alert of a [`WebhookMessage`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// RFC 3339 with as many fraction digits as needed (Go's `time.Time` JSON).
    pub starts_at: String,
    /// `0001-01-01T00:00:00Z` while the alert fires (Alertmanager hides a future end).
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Sixteen hex digits.
    pub fingerprint: String,
}

impl WebhookMessage {
    /// The payload for `alerts` of one group at `now` (ns): the first `max_alerts` alerts kept
    /// (0 = all) and the rest counted in `truncated_alerts`; status and common labels and
    /// annotations computed over the kept alerts, as Alertmanager does. The receiver name loses
    /// any `{…}` part, as in `template.Data`.
    pub fn build(
        receiver: &str,
        group_key: &str,
        group_labels: &LabelSet,
        alerts: &[Alert],
        external_url: &str,
        max_alerts: u64,
        now: i64,
    ) -> WebhookMessage {
        let keep =
            if max_alerts != 0 && (alerts.len() as u64) > max_alerts { max_alerts as usize } else { alerts.len() };
        let data = notification_data(receiver, group_labels, &alerts[..keep], external_url, now);
        WebhookMessage {
            receiver: strip_braced(&data.receiver),
            status: data.status,
            alerts: data
                .alerts
                .into_iter()
                .map(|alert| WebhookAlert {
                    status: alert.status,
                    labels: alert.labels,
                    annotations: alert.annotations,
                    starts_at: format_go_time(alert.starts_at),
                    ends_at: format_go_time(alert.ends_at),
                    generator_url: alert.generator_url,
                    fingerprint: alert.fingerprint,
                })
                .collect(),
            group_labels: data.group_labels,
            common_labels: data.common_labels,
            common_annotations: data.common_annotations,
            external_url: data.external_url,
            version: "4".to_string(),
            group_key: group_key.to_string(),
            truncated_alerts: (alerts.len() - keep) as u64,
        }
    }
}

/// `regexp.MustCompile("{.*}").ReplaceAllString(s, "")`: drops from the first `{` to the last `}`.
fn strip_braced(name: &str) -> String {
    match (name.find('{'), name.rfind('}')) {
        (Some(open), Some(close)) if open < close => format!("{}{}", &name[..open], &name[close + 1..]),
        _ => name.to_string(),
    }
}

/// POSTs `body` to a webhook receiver. Success = any 2xx status.
pub async fn post_webhook(target: &HttpTarget, body: &WebhookMessage) -> Result<(), DeliveryError> {
    let reply = target.post_json(body).await?;
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    Err(DeliveryError::Status {
        target: target.display_name(),
        status: reply.status,
        body: String::from_utf8_lossy(&reply.body[..reply.body.len().min(512)]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    fn alert(name: &str, instance: &str, starts_at: i64, ends_at: i64) -> Alert {
        Alert {
            labels: [("alertname", name), ("instance", instance), ("job", "node")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: [("summary".to_string(), format!("{instance} down")), ("runbook".into(), "r".into())].into(),
            starts_at,
            ends_at,
            updated_at: starts_at,
            generator_url: "http://prom/graph".into(),
            timeout: false,
        }
    }

    #[test]
    fn payload_has_alertmanagers_field_names_and_order() {
        let now = 1_704_067_500 * SECOND; // 2024-01-01T00:05:00Z
        let alerts = vec![
            alert("Down", "a:9100", 1_704_067_200 * SECOND + 120_000_000, 0),
            alert("Down", "b:9100", 1_704_067_200 * SECOND, 1_704_067_440 * SECOND),
            // Ends in the future: still firing, end hidden.
            alert("Down", "c:9100", 1_704_067_200 * SECOND, now + 60 * SECOND),
        ];
        let group_labels: LabelSet = [("alertname".to_string(), "Down".to_string())].into();
        let message = WebhookMessage::build(
            "team{x}",
            "{}:{alertname=\"Down\"}",
            &group_labels,
            &alerts,
            "http://am:9093",
            0,
            now,
        );
        let json = serde_json::to_string(&message).unwrap();
        let keys: Vec<&str> = [
            "receiver",
            "status",
            "alerts",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "version",
            "groupKey",
            "truncatedAlerts",
        ]
        .to_vec();
        let positions: Vec<usize> = keys.iter().map(|k| json.find(&format!("\"{k}\":")).expect(k)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["receiver"], "team");
        assert_eq!(value["status"], "firing");
        assert_eq!(value["version"], "4");
        assert_eq!(value["truncatedAlerts"], 0);
        assert_eq!(value["commonLabels"], serde_json::json!({"alertname": "Down", "job": "node"}));
        assert_eq!(value["commonAnnotations"], serde_json::json!({"runbook": "r"}));
        let first = &value["alerts"][0];
        let mut first_keys: Vec<&String> = first.as_object().unwrap().keys().collect();
        first_keys.sort();
        assert_eq!(
            first_keys,
            ["annotations", "endsAt", "fingerprint", "generatorURL", "labels", "startsAt", "status"].to_vec()
        );
        assert_eq!(first["startsAt"], "2024-01-01T00:00:00.12Z");
        assert_eq!(first["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(first["fingerprint"], alerts[0].fingerprint().to_string());
        assert_eq!(value["alerts"][1]["status"], "resolved");
        assert_eq!(value["alerts"][1]["endsAt"], "2024-01-01T00:04:00Z");
        assert_eq!(value["alerts"][2]["status"], "firing");
        assert_eq!(value["alerts"][2]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(serde_json::from_str::<WebhookMessage>(&json).unwrap(), message);
    }

    #[test]
    fn max_alerts_truncates_and_recomputes_over_the_kept_alerts() {
        let now = 1_000 * SECOND;
        let alerts = vec![alert("A", "x", SECOND, 2 * SECOND), alert("A", "y", SECOND, 0), alert("A", "z", SECOND, 0)];
        let message = WebhookMessage::build("r", "k", &LabelSet::new(), &alerts, "", 1, now);
        assert_eq!(message.alerts.len(), 1);
        assert_eq!(message.truncated_alerts, 2);
        assert_eq!(message.status, "resolved", "only the kept, resolved alert counts");
        assert_eq!(message.common_labels.get("instance").map(String::as_str), Some("x"));
        let all = WebhookMessage::build("r", "k", &LabelSet::new(), &alerts, "", 5, now);
        assert_eq!((all.alerts.len(), all.truncated_alerts, all.status.as_str()), (3, 0, "firing"));
        assert!(!all.common_labels.contains_key("instance"));
    }

    #[test]
    fn empty_group_and_go_zero_time() {
        let message = WebhookMessage::build("r", "k", &LabelSet::new(), &[], "", 0, 0);
        assert_eq!(message.status, "resolved");
        assert!(message.common_labels.is_empty());
        assert_eq!(format_go_time(0), "0001-01-01T00:00:00Z");
        assert_eq!(format_go_time(SECOND), "1970-01-01T00:00:01Z");
        assert_eq!(strip_braced("a{b}c{d}e"), "ae");
        assert_eq!(strip_braced("}x{"), "}x{");
    }
}

// Pharos — alerting/src/notifier/delivery/webhook.rs
