//! The checks `amtool check-config` makes, in Alertmanager's order, turning the raw schema into
//! the model. The first problem ends the check, as in Alertmanager; its message follows
//! Alertmanager's wording so users can search for it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use pharos_storage::tsdb::{MatchOp, Matcher};

use super::file::{RawConfig, RawGlobal, RawInhibitRule, Scalar};
use super::matchers::{new_matcher, parse_matchers};
use super::receiver::{HostPort, check_url, http_config, read_secret, receiver};
use super::route::{Inherited, Route};
use super::time_interval::TimeInterval;
use super::{AlertmanagerConfig, GlobalConfig, InhibitRule};

/// A label name as Alertmanager's `model.LabelName` validates it: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(super) use pharos_proto::names::is_label_name as is_valid_label_name;

/// A Prometheus duration, with Alertmanager's message on failure.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    pharos_proto::duration::parse(text).map_err(|e| e.to_string())
}

fn text(value: &Option<Scalar>) -> String {
    value.as_ref().map_or_else(String::new, |s| s.0.clone())
}

/// Build the whole configuration; `base` resolves relative secret file paths.
pub(super) fn validate(raw: RawConfig, base: &Path, original: String) -> Result<AlertmanagerConfig, String> {
    let global = global(raw.global.as_ref(), base)?;

    let mut time_intervals = BTreeMap::new();
    for (named, what) in raw
        .mute_time_intervals
        .iter()
        .map(|n| (n, "mute time interval"))
        .chain(raw.time_intervals.iter().map(|n| (n, "time interval")))
    {
        let intervals = named.time_intervals.iter().map(TimeInterval::from_raw).collect::<Result<Vec<_>, _>>()?;
        if time_intervals.insert(named.name.0.clone(), intervals).is_some() {
            return Err(format!("{what} {:?} is not unique", named.name.0));
        }
    }

    let mut receivers = Vec::new();
    let mut names = BTreeSet::new();
    for raw_receiver in &raw.receivers {
        let built = receiver(raw_receiver, &global, base)?;
        if !names.insert(built.name.clone()) {
            return Err(format!("notification config name {:?} is not unique", built.name));
        }
        receivers.push(built);
    }

    let inhibit_rules = raw.inhibit_rules.iter().map(inhibit_rule).collect::<Result<Vec<_>, _>>()?;

    let Some(raw_route) = &raw.route else { return Err("no routes provided".into()) };
    if text(&raw_route.receiver).is_empty() {
        return Err("root route must specify a default receiver".into());
    }
    if !raw_route.match_equal.is_empty() || !raw_route.match_re.is_empty() || !raw_route.matchers.is_empty() {
        return Err("root route must not have any matchers".into());
    }
    if !raw_route.mute_time_intervals.is_empty() {
        return Err("root route must not have any mute time intervals".into());
    }
    if !raw_route.active_time_intervals.is_empty() {
        return Err("root route must not have any active time intervals".into());
    }
    if raw_route.continue_matching.is_some_and(|b| b.0) {
        return Err("cannot have continue in root route".into());
    }
    let route = Route::from_raw(raw_route, &Inherited::default())?;
    for node in route.walk() {
        if !names.contains(&node.receiver) {
            return Err(format!("undefined receiver {:?} used in route", node.receiver));
        }
        for interval in node.mute_time_intervals.iter().chain(&node.active_time_intervals) {
            if !time_intervals.contains_key(interval) {
                return Err(format!("undefined time interval {interval:?} used in route"));
            }
        }
    }

    Ok(AlertmanagerConfig {
        global,
        route,
        inhibit_rules,
        receivers,
        templates: raw.templates.into_iter().map(|s| s.0).collect(),
        time_intervals,
        original,
    })
}

fn global(raw: Option<&RawGlobal>, base: &Path) -> Result<GlobalConfig, String> {
    let mut global = GlobalConfig::default();
    let Some(raw) = raw else { return Ok(global) };
    if let Some(timeout) = &raw.resolve_timeout {
        global.resolve_timeout = parse_duration(&timeout.0)?;
    }
    if let Some(http) = &raw.http_config {
        global.http_config = http_config(http)?;
    }
    global.smtp_from = text(&raw.smtp_from);
    if let Some(hello) = &raw.smtp_hello {
        global.smtp_hello = hello.0.clone();
    }
    global.smtp_smarthost = HostPort::parse(&text(&raw.smtp_smarthost))?;
    global.smtp_auth_username = text(&raw.smtp_auth_username);
    let (password, password_file) = (text(&raw.smtp_auth_password), text(&raw.smtp_auth_password_file));
    global.smtp_auth_password = match (password.is_empty(), password_file.is_empty()) {
        (false, false) => {
            return Err("at most one of smtp_auth_password & smtp_auth_password_file must be configured".into());
        }
        (true, false) => read_secret(base, "smtp_auth_password_file", &password_file)?,
        _ => password,
    };
    global.smtp_auth_secret = text(&raw.smtp_auth_secret);
    global.smtp_auth_identity = text(&raw.smtp_auth_identity);
    if let Some(tls) = raw.smtp_require_tls {
        global.smtp_require_tls = tls.0;
    }
    let (slack_url, slack_url_file) = (text(&raw.slack_api_url), text(&raw.slack_api_url_file));
    global.slack_api_url = match (slack_url.is_empty(), slack_url_file.is_empty()) {
        (false, false) => return Err("at most one of slack_api_url & slack_api_url_file must be configured".into()),
        (true, false) => read_secret(base, "slack_api_url_file", &slack_url_file)?,
        _ => slack_url,
    };
    for (key, inline, file) in [
        ("opsgenie_api_key", &raw.opsgenie_api_key, &raw.opsgenie_api_key_file),
        ("victorops_api_key", &raw.victorops_api_key, &raw.victorops_api_key_file),
    ] {
        if !text(inline).is_empty() && !text(file).is_empty() {
            return Err(format!("at most one of {key} & {key}_file must be configured"));
        }
    }
    for url in [
        &global.slack_api_url,
        &text(&raw.pagerduty_url),
        &text(&raw.opsgenie_api_url),
        &text(&raw.wechat_api_url),
        &text(&raw.victorops_api_url),
        &text(&raw.telegram_api_url),
        &text(&raw.webex_api_url),
    ] {
        if !url.is_empty() {
            check_url(url)?;
        }
    }
    Ok(global)
}

fn inhibit_rule(raw: &RawInhibitRule) -> Result<InhibitRule, String> {
    let side = |equal: &BTreeMap<String, Scalar>, regex: &BTreeMap<String, Scalar>, lines: &[Scalar]| {
        let mut matchers: Vec<Matcher> = Vec::new();
        for (name, value) in equal {
            if !is_valid_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
            matchers.push(Matcher::equal(name.as_str(), value.0.as_str()));
        }
        for (name, value) in regex {
            if !is_valid_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
            new_matcher(MatchOp::Regex, name, &value.0)?;
            matchers.push(new_matcher(MatchOp::Regex, name, &format!("^(?:{})$", value.0))?);
        }
        for line in lines {
            matchers.extend(parse_matchers(&line.0)?);
        }
        Ok::<_, String>(matchers)
    };
    let mut equal = Vec::new();
    for name in &raw.equal {
        if !is_valid_label_name(&name.0) {
            return Err(format!("{:?} is not a valid label name", name.0));
        }
        equal.push(name.0.clone());
    }
    Ok(InhibitRule {
        source_matchers: side(&raw.source_match, &raw.source_match_re, &raw.source_matchers)?,
        target_matchers: side(&raw.target_match, &raw.target_match_re, &raw.target_matchers)?,
        equal,
    })
}

// Pharos — alerting/src/notifier/config/validate.rs
