//! Slack incoming-webhook messages (`notify/slack/slack.go`'s `request` and `attachment`, with
//! the same `omitempty` choices) and their POST with Slack's success rules.

use serde::{Deserialize, Serialize};

use super::DeliveryError;
use super::http_post::HttpTarget;

/// Slack's limit on an attachment title, in characters; longer titles are cut (ending in `…`).
pub const SLACK_MAX_TITLE_RUNES: usize = 1024;

/// The body of a Slack incoming-webhook POST.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlackMessage {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub link_names: bool,
    /// Always present, even empty.
    #[serde(default)]
    pub attachments: Vec<SlackAttachment>,
}

/// One legacy attachment. `text`, `fallback`, `callback_id` and `footer` are always written, as
/// Alertmanager does; the others only when not empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlackAttachment {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub fallback: String,
    #[serde(default)]
    pub callback_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackField>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<SlackAction>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    #[serde(default)]
    pub footer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub color: String,
    /// Fields Slack renders as markdown; Alertmanager's default is `fallback, pretext, text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mrkdwn_in: Vec<String>,
}

/// One attachment field; `short` is always written (Alertmanager resolves it from the field or
/// `short_fields`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    #[serde(default)]
    pub short: bool,
}

/// One attachment button (`config.SlackAction`), every field omitted when empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlackAction {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub style: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<SlackConfirmationField>,
}

/// The confirmation dialog of an action.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlackConfirmationField {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ok_text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dismiss_text: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// `text` cut to `max` characters, the last one replaced by `…` when cut (Alertmanager's
/// `TruncateInRunes`); whether it was cut.
fn truncate_runes(text: &str, max: usize) -> (String, bool) {
    if text.chars().count() <= max {
        return (text.to_string(), false);
    }
    if max <= 3 {
        return (text.chars().take(max).collect(), true);
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    (cut, true)
}

/// What Slack's answer means: 2xx with a plain `ok`, or with a JSON `{"ok": true}` when the
/// content type is JSON. A JSON `ok: false` or another plain body is a refusal (not retried); a
/// JSON content type with an unparsable body is retried, as Alertmanager does.
fn check_slack_reply(target: &str, channel: &str, content_type: &str, body: &[u8]) -> Result<(), DeliveryError> {
    if content_type.starts_with("application/json") {
        #[derive(Deserialize)]
        struct Reply {
            #[serde(default)]
            ok: bool,
            #[serde(default)]
            error: String,
        }
        return match serde_json::from_slice::<Reply>(body) {
            Ok(reply) if reply.ok => Ok(()),
            Ok(reply) => Err(DeliveryError::Rejected {
                target: target.to_string(),
                detail: format!("channel {channel:?}: error response from Slack: {}", reply.error),
            }),
            Err(e) => Err(DeliveryError::UnreadableResponse {
                target: target.to_string(),
                detail: format!(
                    "channel {channel:?}: {:?} is not Slack's JSON answer: {e}",
                    String::from_utf8_lossy(body)
                ),
            }),
        };
    }
    if body == b"ok" {
        return Ok(());
    }
    Err(DeliveryError::Rejected {
        target: target.to_string(),
        detail: format!("channel {channel:?}: error response from Slack: {}", String::from_utf8_lossy(body)),
    })
}

/// POSTs `body` to a Slack incoming webhook (or `chat.postMessage`). Titles longer than
/// [`SLACK_MAX_TITLE_RUNES`] are cut first, with a warning. Non-2xx statuses are
/// [`DeliveryError::Status`] (5xx and 429 retried), then Slack's own answer is checked.
pub async fn post_slack(target: &HttpTarget, body: &SlackMessage) -> Result<(), DeliveryError> {
    let too_long = body.attachments.iter().any(|a| a.title.chars().count() > SLACK_MAX_TITLE_RUNES);
    let cut;
    let body = if too_long {
        let mut copy = body.clone();
        for attachment in &mut copy.attachments {
            let (title, truncated) = truncate_runes(&attachment.title, SLACK_MAX_TITLE_RUNES);
            if truncated {
                tracing::warn!(channel = %copy.channel, max_runes = SLACK_MAX_TITLE_RUNES, "truncated Slack title");
            }
            attachment.title = title;
        }
        cut = copy;
        &cut
    } else {
        body
    };
    let reply = target.post_json(body).await?;
    if !(200..300).contains(&reply.status) {
        return Err(DeliveryError::Status {
            target: target.display_name(),
            status: reply.status,
            body: format!(
                "channel {:?}: {}",
                body.channel,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(512)])
            ),
        });
    }
    check_slack_reply(&target.display_name(), &body.channel, &reply.content_type, &reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_omitted_as_alertmanager_does() {
        let message = SlackMessage { attachments: vec![SlackAttachment::default()], ..Default::default() };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            serde_json::json!({"attachments": [{"text": "", "fallback": "", "callback_id": "", "footer": ""}]})
        );
        let empty = SlackMessage::default();
        assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"attachments":[]}"#);
    }

    #[test]
    fn full_message_uses_slacks_names() {
        let message = SlackMessage {
            channel: "#alerts".into(),
            username: "am".into(),
            icon_emoji: ":fire:".into(),
            icon_url: String::new(),
            link_names: true,
            attachments: vec![SlackAttachment {
                title: "[FIRING:1] Down".into(),
                title_link: "http://am/#/alerts?receiver=r".into(),
                pretext: "p".into(),
                text: "t".into(),
                fallback: "f".into(),
                callback_id: "c".into(),
                fields: vec![SlackField { title: "a".into(), value: "b".into(), short: false }],
                actions: vec![SlackAction {
                    kind: "button".into(),
                    text: "Runbook".into(),
                    url: "http://rb".into(),
                    confirm: Some(SlackConfirmationField { ok_text: "yes".into(), ..Default::default() }),
                    ..Default::default()
                }],
                image_url: String::new(),
                thumb_url: "http://thumb".into(),
                footer: "foot".into(),
                color: "danger".into(),
                mrkdwn_in: vec!["fallback".into(), "pretext".into(), "text".into()],
            }],
        };
        let value = serde_json::to_value(&message).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "channel": "#alerts", "username": "am", "icon_emoji": ":fire:", "link_names": true,
                "attachments": [{
                    "title": "[FIRING:1] Down", "title_link": "http://am/#/alerts?receiver=r", "pretext": "p",
                    "text": "t", "fallback": "f", "callback_id": "c",
                    "fields": [{"title": "a", "value": "b", "short": false}],
                    "actions": [{"type": "button", "text": "Runbook", "url": "http://rb", "confirm": {"ok_text": "yes"}}],
                    "thumb_url": "http://thumb", "footer": "foot", "color": "danger",
                    "mrkdwn_in": ["fallback", "pretext", "text"]
                }]
            })
        );
        assert_eq!(serde_json::from_value::<SlackMessage>(value).unwrap(), message);
    }

    #[test]
    fn titles_are_cut_in_characters() {
        let (short, cut) = truncate_runes("héllo", 5);
        assert_eq!((short.as_str(), cut), ("héllo", false));
        let (long, cut) = truncate_runes("ééééééé", 4);
        assert_eq!((long.as_str(), cut), ("ééé…", true));
        assert_eq!(truncate_runes("abcdef", 2), ("ab".to_string(), true));
    }

    #[test]
    fn slack_replies_are_classified() {
        assert!(check_slack_reply("s", "#c", "text/plain", b"ok").is_ok());
        assert!(check_slack_reply("s", "#c", "application/json; charset=utf-8", br#"{"ok":true}"#).is_ok());
        let refused =
            check_slack_reply("s", "#c", "application/json", br#"{"ok":false,"error":"invalid_blocks"}"#).unwrap_err();
        assert!(!refused.retryable());
        assert!(refused.to_string().contains("invalid_blocks"), "{refused}");
        let plain = check_slack_reply("s", "#c", "text/html", b"no_service").unwrap_err();
        assert!(!plain.retryable() && plain.to_string().contains("no_service"), "{plain}");
        let garbled = check_slack_reply("s", "#c", "application/json", b"<html>").unwrap_err();
        assert!(garbled.retryable(), "{garbled}");
    }
}

// Pharos — alerting/src/notifier/delivery/slack.rs
