//! The metrics data model as storage sees it: labels, samples, series writes, metadata.
//! Receivers translate their wire formats (remote-write, OTLP) into these types.

use std::fmt;

/// The label holding a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// Prometheus' staleness marker: a NaN with this exact bit pattern means "the series ended".
/// Stored and returned bit-exact, never confused with an ordinary NaN.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True when `v` is the staleness marker (bit-exact).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One label pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label { name: name.into(), value: value.into() }
    }
}

/// A series' identity: label pairs sorted by name, names unique and non-empty, values non-empty
/// (an empty value means "label absent", as in Prometheus).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

/// Why a label set is not a valid series identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    #[error("label set is empty")]
    Empty,
    #[error("empty label name")]
    EmptyName,
    #[error("duplicate label name {0:?}")]
    Duplicate(String),
    #[error("labels are not sorted by name: {0:?} comes after {1:?}")]
    Unsorted(String, String),
    #[error("label name {0:?} is longer than {1} bytes")]
    NameTooLong(String, usize),
    #[error("value of label {0:?} is longer than {1} bytes")]
    ValueTooLong(String, usize),
    #[error("series has no metric name (label __name__)")]
    NoMetricName,
}

/// Limits applied to label sets on ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelLimits {
    /// Longest label name in bytes. Default 1024.
    pub max_name_bytes: usize,
    /// Longest label value in bytes. Default 4096.
    pub max_value_bytes: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits { max_name_bytes: 1024, max_value_bytes: 4096 }
    }
}

impl Labels {
    /// Validate pairs that must already be sorted by name (as remote-write requires): empty
    /// values are dropped (absent), names must be unique and non-empty, `__name__` present.
    pub fn from_sorted(pairs: Vec<Label>, limits: &LabelLimits) -> Result<Labels, LabelsError> {
        let mut kept: Vec<Label> = Vec::with_capacity(pairs.len());
        for label in pairs {
            if label.name.is_empty() {
                return Err(LabelsError::EmptyName);
            }
            if label.name.len() > limits.max_name_bytes {
                return Err(LabelsError::NameTooLong(label.name, limits.max_name_bytes));
            }
            if label.value.len() > limits.max_value_bytes {
                return Err(LabelsError::ValueTooLong(label.name, limits.max_value_bytes));
            }
            if let Some(last) = kept.last() {
                match last.name.cmp(&label.name) {
                    std::cmp::Ordering::Equal => return Err(LabelsError::Duplicate(label.name)),
                    std::cmp::Ordering::Greater => return Err(LabelsError::Unsorted(label.name, last.name.clone())),
                    std::cmp::Ordering::Less => {}
                }
            }
            if !label.value.is_empty() {
                kept.push(label);
            }
        }
        let labels = Labels(kept);
        if labels.0.is_empty() {
            return Err(LabelsError::Empty);
        }
        if labels.get(METRIC_NAME).is_none() {
            return Err(LabelsError::NoMetricName);
        }
        Ok(labels)
    }

    /// Sort, then validate as [`Labels::from_sorted`] (for producers whose order is not
    /// guaranteed, such as OTLP translation).
    pub fn from_unsorted(mut pairs: Vec<Label>, limits: &LabelLimits) -> Result<Labels, LabelsError> {
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        Labels::from_sorted(pairs, limits)
    }

    /// Build from pairs already known to be valid (read back from storage, tests).
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels {
        let mut labels: Vec<Label> = pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect();
        labels.sort();
        labels.dedup_by(|a, b| a.name == b.name);
        Labels(labels)
    }

    /// Build from pairs already sorted by name with unique names and non-empty values (label
    /// sets read back from an index): no sorting, no checks beyond a debug assertion.
    pub fn from_sorted_unchecked(pairs: Vec<Label>) -> Labels {
        debug_assert!(pairs.windows(2).all(|w| w[0].name < w[1].name), "labels not sorted: {pairs:?}");
        Labels(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).ok().map(|i| self.0[i].value.as_str())
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }
}

impl fmt::Display for Labels {
    /// `name{a="b", c="d"}` as Prometheus prints series.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name().unwrap_or("");
        write!(f, "{name}{{")?;
        let mut first = true;
        for label in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

/// One sample: a millisecond timestamp and a float value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

/// Samples of one series in one write, in timestamp order as senders send them.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesWrite {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Prometheus metric types (remote-write `MetricMetadata.MetricType` numbering).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricType {
    #[default]
    Unknown,
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
}

impl MetricType {
    /// The lowercase name the metadata API reports (`counter`, `gauge`, ..., `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }

    pub fn from_remote_write(code: i32) -> MetricType {
        match code {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unknown,
        }
    }
}

/// Type, help and unit of a metric family.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MetricMetadata {
    pub metric_family_name: String,
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
}

/// What a receiver hands to the tsdb in one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteBatch {
    pub series: Vec<SeriesWrite>,
    pub metadata: Vec<MetricMetadata>,
}

impl WriteBatch {
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<Label> {
        p.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    #[test]
    fn sorted_labels_validate() {
        let limits = LabelLimits::default();
        let l = Labels::from_sorted(pairs(&[("__name__", "up"), ("job", "x"), ("zone", "")]), &limits).unwrap();
        assert_eq!(l.len(), 2, "empty values mean absent");
        assert_eq!(l.metric_name(), Some("up"));
        assert_eq!(l.to_string(), "up{job=\"x\"}");
        assert_eq!(
            Labels::from_sorted(pairs(&[("__name__", "up"), ("b", "1"), ("a", "2")]), &limits),
            Err(LabelsError::Unsorted("a".into(), "b".into()))
        );
        assert_eq!(
            Labels::from_sorted(pairs(&[("__name__", "up"), ("a", "1"), ("a", "2")]), &limits),
            Err(LabelsError::Duplicate("a".into()))
        );
        assert_eq!(Labels::from_sorted(pairs(&[("job", "x")]), &limits), Err(LabelsError::NoMetricName));
        assert_eq!(Labels::from_sorted(pairs(&[("__name__", "")]), &limits), Err(LabelsError::Empty));
        assert_eq!(Labels::from_sorted(pairs(&[("", "x")]), &limits), Err(LabelsError::EmptyName));
        let small = LabelLimits { max_name_bytes: 4, max_value_bytes: 3 };
        assert!(matches!(
            Labels::from_sorted(pairs(&[("__name__", "upup")]), &small),
            Err(LabelsError::NameTooLong(..) | LabelsError::ValueTooLong(..))
        ));
    }

    #[test]
    fn unsorted_input_is_sorted_first() {
        let l = Labels::from_unsorted(pairs(&[("job", "x"), ("__name__", "up")]), &LabelLimits::default()).unwrap();
        assert_eq!(l.as_slice()[0].name, "__name__");
    }

    #[test]
    fn stale_nan_is_bit_exact() {
        assert!(is_stale_nan(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale_nan(f64::NAN));
    }
}

// Pharos — storage/src/tsdb/model.rs
