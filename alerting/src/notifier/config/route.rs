//! The routing tree: which receivers an alert goes to and how its notifications are grouped and
//! timed, as Alertmanager's `dispatch/route.go` builds and walks it.
//!
//! Children inherit `receiver`, `group_by` and the three timers from their parent (already
//! applied here); matchers, `continue` and the time interval lists are the node's own.

use std::collections::BTreeSet;
use std::time::Duration;

use pharos_storage::tsdb::{MatchOp, Matcher};

use super::file::RawRoute;
use super::matchers::{matchers_text, new_matcher, parse_matchers, sort_matchers};
use super::validate::{is_valid_label_name, parse_duration};
use crate::notifier::model::{LabelSet, matches_all};

/// Which labels group alerts into one notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// `group_by: ['...']`: every label (each distinct label set is its own group).
    All,
    /// These labels (none = one group for the route).
    Labels(Vec<String>),
}

/// One node of the routing tree, with inherited settings resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub receiver: String,
    pub group_by: GroupBy,
    /// Sorted as Alertmanager sorts them (name, value, operator); `match`/`match_re` included.
    pub matchers: Vec<Matcher>,
    /// Keep matching further siblings after this route matched.
    pub continue_matching: bool,
    /// Default 30s.
    pub group_wait: Duration,
    /// Default 5m.
    pub group_interval: Duration,
    /// Default 4h.
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
    key: String,
}

/// The settings a node passes to its children.
#[derive(Clone)]
pub(super) struct Inherited {
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    /// The parent's key ("" for the root).
    pub key: Option<String>,
}

impl Default for Inherited {
    fn default() -> Self {
        Inherited {
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            key: None,
        }
    }
}

impl Route {
    /// The routes an alert goes to, depth-first as Alertmanager's `Route.Match`: a matching
    /// child wins and stops the search among its siblings unless it has `continue: true`; a node
    /// none of whose children match handles the alert itself. Empty if this node does not match.
    pub fn match_alert(&self, labels: &LabelSet) -> Vec<&Route> {
        if !matches_all(&self.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let matched = child.match_alert(labels);
            let stop = !matched.is_empty() && !child.continue_matching;
            all.extend(matched);
            if stop {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// Alertmanager's route key: the matchers of every node from the root, each as `{…}`, joined
    /// by `/` (e.g. `{}/{severity="page"}`). Not unique among siblings with equal matchers.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The labels of an alert that name its group under this route (only labels the alert has).
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => {
                labels.iter().filter(|(name, _)| names.contains(name)).map(|(n, v)| (n.clone(), v.clone())).collect()
            }
        }
    }

    /// This route and every route below it, depth-first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }

    /// A route with no children and `receiver`, with every default: what Pharos runs with when
    /// there is no configuration file.
    pub fn single(receiver: &str) -> Route {
        let defaults = Inherited::default();
        Route {
            receiver: receiver.to_string(),
            group_by: defaults.group_by,
            matchers: Vec::new(),
            continue_matching: false,
            group_wait: defaults.group_wait,
            group_interval: defaults.group_interval,
            repeat_interval: defaults.repeat_interval,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            routes: Vec::new(),
            key: "{}".to_string(),
        }
    }

    /// Validate and build a node and its children from their raw form.
    pub(super) fn from_raw(raw: &RawRoute, parent: &Inherited) -> Result<Route, String> {
        let mut inherited = parent.clone();
        if let Some(receiver) = raw.receiver.as_ref().filter(|r| !r.0.is_empty()) {
            inherited.receiver = receiver.0.clone();
        }
        if let Some(group_by) = group_by(raw)? {
            inherited.group_by = group_by;
        }
        for (field, value, slot) in [
            ("group_wait", &raw.group_wait, &mut inherited.group_wait),
            ("group_interval", &raw.group_interval, &mut inherited.group_interval),
            ("repeat_interval", &raw.repeat_interval, &mut inherited.repeat_interval),
        ] {
            if let Some(text) = value {
                let duration = parse_duration(&text.0)?;
                if duration.is_zero() && field != "group_wait" {
                    return Err(format!("{field} cannot be zero"));
                }
                *slot = duration;
            }
        }
        let mut matchers = Vec::new();
        for (name, value) in &raw.match_equal {
            if !is_valid_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
            matchers.push(Matcher::equal(name.as_str(), value.0.as_str()));
        }
        for (name, value) in &raw.match_re {
            if !is_valid_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
            // Alertmanager stores `match_re` values anchored (`^(?:v)$`), and the route key shows them so.
            new_matcher(MatchOp::Regex, name, &value.0)?;
            matchers.push(new_matcher(MatchOp::Regex, name, &format!("^(?:{})$", value.0))?);
        }
        for line in &raw.matchers {
            matchers.extend(parse_matchers(&line.0)?);
        }
        sort_matchers(&mut matchers);
        let key = match &parent.key {
            None => matchers_text(&matchers),
            Some(parent_key) => format!("{parent_key}/{}", matchers_text(&matchers)),
        };
        inherited.key = Some(key.clone());
        let routes = raw.routes.iter().map(|child| Route::from_raw(child, &inherited)).collect::<Result<_, _>>()?;
        Ok(Route {
            receiver: inherited.receiver,
            group_by: inherited.group_by,
            matchers,
            continue_matching: raw.continue_matching.is_some_and(|b| b.0),
            group_wait: inherited.group_wait,
            group_interval: inherited.group_interval,
            repeat_interval: inherited.repeat_interval,
            mute_time_intervals: raw.mute_time_intervals.iter().map(|s| s.0.clone()).collect(),
            active_time_intervals: raw.active_time_intervals.iter().map(|s| s.0.clone()).collect(),
            routes,
            key,
        })
    }
}

/// The node's own `group_by`, `None` when it inherits (absent or empty list).
fn group_by(raw: &RawRoute) -> Result<Option<GroupBy>, String> {
    let Some(list) = &raw.group_by else { return Ok(None) };
    let mut seen = BTreeSet::new();
    let mut names = Vec::new();
    let mut all = false;
    for item in list {
        let name = item.0.as_str();
        if name == "..." {
            all = true;
        } else {
            if !is_valid_label_name(name) {
                return Err(format!("invalid label name {name:?} in group_by list"));
            }
            names.push(name.to_string());
        }
    }
    if all && list.len() > 1 {
        return Err("cannot have wildcard group_by (`...`) and other other labels at the same time".into());
    }
    for name in &names {
        if !seen.insert(name.as_str()) {
            return Err(format!("duplicated label {name:?} in group_by"));
        }
    }
    Ok(match (all, names.is_empty()) {
        (true, _) => Some(GroupBy::All),
        (false, true) => None,
        (false, false) => Some(GroupBy::Labels(names)),
    })
}

// Pharos — alerting/src/notifier/config/route.rs
