//! The translation of one `ExportMetricsServiceRequest` into a [`WriteBatch`].

use std::collections::{HashMap, HashSet};

use pharos_proto::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pharos_proto::otlp::common::v1::KeyValue;
use pharos_proto::otlp::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint, metric::Data, number_data_point,
};
use pharos_storage::tsdb::{
    LabelLimits, Labels, METRIC_NAME, MetricMetadata, MetricType, STALE_NAN_BITS, Sample, SeriesWrite, WriteBatch,
};

use super::attributes::{IDENTIFYING_RESOURCE_KEYS, LabelSet, TargetIdentity, find_attribute};
use super::exponential::cumulative_buckets;
use super::naming::{NamedKind, label_name, metric_family_name, prometheus_unit};

/// What a request became: the series to write, and what was refused (for OTLP `partial_success`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    pub batch: WriteBatch,
    /// OTLP data points refused (a histogram point counts once, however many series it makes).
    pub rejected_points: i64,
    /// Why points were refused or metrics dropped; `None` when nothing was.
    pub error_message: Option<String>,
}

/// Bit 0 of a data point's flags: the point carries no value, and the series ended.
const FLAG_NO_RECORDED_VALUE: u32 = 1;
/// `target_info` gets a sample every half lookback delta (Prometheus' default 5 m) between the
/// earliest and latest point of its resource…
const TARGET_INFO_INTERVAL_NS: u64 = 150_000_000_000;
/// …but at most this many samples before the latest one (24 h), so one old timestamp in a request
/// cannot make millions of samples.
const MAX_TARGET_INFO_STEPS: u64 = 576;
/// Distinct error messages kept in `error_message`; the rest are counted.
const MAX_ERROR_MESSAGES: usize = 8;

/// Translate an OTLP metrics request into Prometheus series, as Prometheus' OTLP receiver does
/// (see the module documentation for the rules and where Pharos differs). Never fails: what cannot
/// be translated is counted in `rejected_points` and explained in `error_message`, and the rest is
/// kept.
pub fn translate(request: &ExportMetricsServiceRequest, limits: &LabelLimits) -> Translation {
    let mut translator = Translator::new(limits);
    for resource_metrics in &request.resource_metrics {
        translator.resource(resource_metrics);
    }
    translator.finish()
}

/// Error messages for `partial_success`: distinct, the first few kept.
#[derive(Default)]
struct ErrorLog {
    kept: Vec<String>,
    more: usize,
}

impl ErrorLog {
    fn push(&mut self, message: String) {
        if self.kept.contains(&message) {
            return;
        }
        if self.kept.len() < MAX_ERROR_MESSAGES {
            self.kept.push(message);
        } else {
            self.more += 1;
        }
    }

    fn into_message(self) -> Option<String> {
        if self.kept.is_empty() {
            return None;
        }
        let mut message = self.kept.join("; ");
        if self.more > 0 {
            message.push_str(&format!("; and {} more", self.more));
        }
        Some(message)
    }
}

/// The samples one data point makes, validated together: a point is written whole or not at all.
type StagedSamples = Vec<(Labels, Sample)>;

/// What every series of one metric shares.
struct MetricContext<'a> {
    /// The OTLP name, for messages.
    otlp_name: &'a str,
    family: String,
    identity: &'a TargetIdentity,
    /// Scope labels, or why they cannot be made.
    scope_labels: &'a Result<Vec<(String, String)>, String>,
}

struct Translator<'l> {
    limits: &'l LabelLimits,
    series: Vec<SeriesWrite>,
    series_index: HashMap<Labels, usize>,
    metadata: Vec<MetricMetadata>,
    metadata_families: HashSet<String>,
    rejected_points: i64,
    errors: ErrorLog,
}

fn nanos_to_millis(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// An `le` or `quantile` value as Prometheus writes it: shortest round-trip digits in plain
/// notation (`0.005`, `1`, `1000000`), `+Inf`/`-Inf`, `NaN`.
pub(super) fn format_label_float(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value}")
    }
}

/// The points of a metric, whatever its type.
fn point_count(data: &Data) -> usize {
    match data {
        Data::Gauge(gauge) => gauge.data_points.len(),
        Data::Sum(sum) => sum.data_points.len(),
        Data::Histogram(histogram) => histogram.data_points.len(),
        Data::ExponentialHistogram(histogram) => histogram.data_points.len(),
        Data::Summary(summary) => summary.data_points.len(),
    }
}

/// The `time_unix_nano` of every point of a metric.
fn point_times(data: &Data) -> Box<dyn Iterator<Item = u64> + '_> {
    match data {
        Data::Gauge(gauge) => Box::new(gauge.data_points.iter().map(|p| p.time_unix_nano)),
        Data::Sum(sum) => Box::new(sum.data_points.iter().map(|p| p.time_unix_nano)),
        Data::Histogram(histogram) => Box::new(histogram.data_points.iter().map(|p| p.time_unix_nano)),
        Data::ExponentialHistogram(histogram) => Box::new(histogram.data_points.iter().map(|p| p.time_unix_nano)),
        Data::Summary(summary) => Box::new(summary.data_points.iter().map(|p| p.time_unix_nano)),
    }
}

/// `otel_scope_*` labels of a scope: its attributes (as `otel_scope_<key>`), then name, version and
/// schema URL. None for a scope without a name.
fn scope_labels(scope_metrics: &ScopeMetrics) -> Result<Vec<(String, String)>, String> {
    let Some(scope) = scope_metrics.scope.as_ref().filter(|scope| !scope.name.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut labels = Vec::with_capacity(scope.attributes.len() + 3);
    for attribute in &scope.attributes {
        let name = label_name(&format!("otel_scope_{}", attribute.key))?;
        labels.push((name, super::attributes::label_value(attribute.value.as_ref())));
    }
    labels.push(("otel_scope_name".to_owned(), scope.name.clone()));
    labels.push(("otel_scope_version".to_owned(), scope.version.clone()));
    labels.push(("otel_scope_schema_url".to_owned(), scope_metrics.schema_url.clone()));
    Ok(labels)
}

impl<'l> Translator<'l> {
    fn new(limits: &'l LabelLimits) -> Self {
        Translator {
            limits,
            series: Vec::new(),
            series_index: HashMap::new(),
            metadata: Vec::new(),
            metadata_families: HashSet::new(),
            rejected_points: 0,
            errors: ErrorLog::default(),
        }
    }

    fn finish(self) -> Translation {
        Translation {
            batch: WriteBatch { series: self.series, metadata: self.metadata },
            rejected_points: self.rejected_points,
            error_message: self.errors.into_message(),
        }
    }

    fn reject(&mut self, points: usize, message: String) {
        self.rejected_points = self.rejected_points.saturating_add(i64::try_from(points).unwrap_or(i64::MAX));
        self.errors.push(message);
    }

    fn record_metadata(&mut self, family: &str, kind: MetricType, help: &str, unit: String) {
        if self.metadata_families.insert(family.to_owned()) {
            self.metadata.push(MetricMetadata {
                metric_family_name: family.to_owned(),
                kind,
                help: help.to_owned(),
                unit,
            });
        }
    }

    /// Append samples to their series, creating series on first sight.
    fn commit(&mut self, staged: StagedSamples) {
        for (labels, sample) in staged {
            match self.series_index.get(&labels) {
                Some(&index) => self.series[index].samples.push(sample),
                None => {
                    self.series_index.insert(labels.clone(), self.series.len());
                    self.series.push(SeriesWrite { labels, samples: vec![sample] });
                }
            }
        }
    }

    fn resource(&mut self, resource_metrics: &ResourceMetrics) {
        let attributes: &[KeyValue] =
            resource_metrics.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let identity = TargetIdentity::of_resource(attributes);
        let mut time_range: Option<(u64, u64)> = None;
        for scope_metrics in &resource_metrics.scope_metrics {
            let scope_labels = scope_labels(scope_metrics);
            for metric in &scope_metrics.metrics {
                if let Some(data) = &metric.data {
                    for time in point_times(data) {
                        time_range = Some(match time_range {
                            Some((earliest, latest)) => (earliest.min(time), latest.max(time)),
                            None => (time, time),
                        });
                    }
                }
                self.metric(metric, &identity, &scope_labels);
            }
        }
        if let Some((earliest, latest)) = time_range {
            self.target_info(attributes, &identity, earliest, latest);
        }
    }

    fn metric(
        &mut self,
        metric: &Metric,
        identity: &TargetIdentity,
        scope_labels: &Result<Vec<(String, String)>, String>,
    ) {
        let Some(data) = &metric.data else {
            self.errors.push(format!("metric {:?} has no data (unsupported metric type Empty)", metric.name));
            return;
        };
        let points = point_count(data);
        let cumulative = AggregationTemporality::Cumulative as i32;
        let (named_kind, metric_type) = match data {
            Data::Gauge(_) => (NamedKind::Gauge, MetricType::Gauge),
            Data::Sum(sum) => {
                if sum.aggregation_temporality != cumulative {
                    return self.reject_temporality(metric, points);
                }
                if sum.is_monotonic {
                    (NamedKind::MonotonicCounter, MetricType::Counter)
                } else {
                    (NamedKind::NonMonotonicCounter, MetricType::Gauge)
                }
            }
            Data::Histogram(histogram) => {
                if histogram.aggregation_temporality != cumulative {
                    return self.reject_temporality(metric, points);
                }
                (NamedKind::Histogram, MetricType::Histogram)
            }
            Data::ExponentialHistogram(histogram) => {
                if histogram.aggregation_temporality != cumulative {
                    return self.reject_temporality(metric, points);
                }
                (NamedKind::ExponentialHistogram, MetricType::Histogram)
            }
            Data::Summary(_) => (NamedKind::Summary, MetricType::Summary),
        };
        let family = match metric_family_name(&metric.name, &metric.unit, named_kind) {
            Ok(family) => family,
            Err(message) => return self.reject(points, message),
        };
        self.record_metadata(&family, metric_type, &metric.description, prometheus_unit(&metric.unit));
        if points == 0 {
            self.errors.push(format!("empty data points. {} is dropped", metric.name));
            return;
        }
        let context = MetricContext { otlp_name: &metric.name, family, identity, scope_labels };
        match data {
            Data::Gauge(gauge) => gauge.data_points.iter().for_each(|point| self.number_point(&context, point)),
            Data::Sum(sum) => sum.data_points.iter().for_each(|point| self.number_point(&context, point)),
            Data::Histogram(histogram) => {
                histogram.data_points.iter().for_each(|point| self.histogram_point(&context, point))
            }
            Data::ExponentialHistogram(histogram) => {
                histogram.data_points.iter().for_each(|point| self.exponential_histogram_point(&context, point))
            }
            Data::Summary(summary) => summary.data_points.iter().for_each(|point| self.summary_point(&context, point)),
        }
    }

    fn reject_temporality(&mut self, metric: &Metric, points: usize) {
        self.reject(points, format!("invalid temporality and type combination for metric {:?}", metric.name));
    }

    /// Point attributes, scope labels, `job`/`instance`.
    fn base_labels(&self, context: &MetricContext<'_>, attributes: &[KeyValue]) -> Result<LabelSet, String> {
        let scope_labels = context.scope_labels.as_ref().map_err(Clone::clone)?;
        let mut labels = LabelSet::default();
        labels.add_attributes(attributes, &[])?;
        for (name, value) in scope_labels {
            labels.set(name.as_str(), value.as_str());
        }
        context.identity.apply(&mut labels);
        Ok(labels)
    }

    /// Stage one sample of series `name{base, extra}`.
    fn stage(
        &self,
        staged: &mut StagedSamples,
        base: &LabelSet,
        name: &str,
        extra: Option<(&str, &str)>,
        sample: Sample,
    ) -> Result<(), String> {
        let labels = match extra {
            Some(pair) => base.with(&[(METRIC_NAME, name), pair]),
            None => base.with(&[(METRIC_NAME, name)]),
        };
        let labels = labels.into_labels(self.limits).map_err(|error| error.to_string())?;
        staged.push((labels, sample));
        Ok(())
    }

    /// Commit a point's samples, or count it as rejected.
    fn finish_point(&mut self, context: &MetricContext<'_>, result: Result<StagedSamples, String>) {
        match result {
            Ok(staged) => self.commit(staged),
            Err(reason) => self.reject(1, format!("data point of metric {:?} dropped: {reason}", context.otlp_name)),
        }
    }

    fn number_point(&mut self, context: &MetricContext<'_>, point: &NumberDataPoint) {
        let result = (|| {
            let no_recorded_value = point.flags & FLAG_NO_RECORDED_VALUE != 0;
            let value = match point.value {
                _ if no_recorded_value => stale_nan(),
                Some(number_data_point::Value::AsDouble(value)) => value,
                Some(number_data_point::Value::AsInt(value)) => value as f64,
                None => return Err("it has no value".to_owned()),
            };
            let base = self.base_labels(context, &point.attributes)?;
            let mut staged = StagedSamples::with_capacity(1);
            let sample = Sample { t: nanos_to_millis(point.time_unix_nano), v: value };
            self.stage(&mut staged, &base, &context.family, None, sample)?;
            Ok(staged)
        })();
        self.finish_point(context, result);
    }

    fn histogram_point(&mut self, context: &MetricContext<'_>, point: &HistogramDataPoint) {
        let result = (|| {
            let base = self.base_labels(context, &point.attributes)?;
            let t = nanos_to_millis(point.time_unix_nano);
            let stale = point.flags & FLAG_NO_RECORDED_VALUE != 0;
            let value = |v: f64| Sample { t, v: if stale { stale_nan() } else { v } };
            let bucket_name = format!("{}_bucket", context.family);
            let mut staged = StagedSamples::with_capacity(point.explicit_bounds.len() + 3);
            if let Some(sum) = point.sum {
                self.stage(&mut staged, &base, &format!("{}_sum", context.family), None, value(sum))?;
            }
            self.stage(&mut staged, &base, &format!("{}_count", context.family), None, value(point.count as f64))?;
            let mut cumulative = 0u64;
            for (bound, count) in point.explicit_bounds.iter().zip(&point.bucket_counts) {
                cumulative = cumulative.saturating_add(*count);
                if *bound == f64::INFINITY {
                    continue; // the `+Inf` bucket below is the point's count
                }
                let le = format_label_float(*bound);
                self.stage(&mut staged, &base, &bucket_name, Some(("le", &le)), value(cumulative as f64))?;
            }
            self.stage(&mut staged, &base, &bucket_name, Some(("le", "+Inf")), value(point.count as f64))?;
            Ok(staged)
        })();
        self.finish_point(context, result);
    }

    fn exponential_histogram_point(&mut self, context: &MetricContext<'_>, point: &ExponentialHistogramDataPoint) {
        let result = (|| {
            let buckets = cumulative_buckets(point)?;
            let base = self.base_labels(context, &point.attributes)?;
            let t = nanos_to_millis(point.time_unix_nano);
            let stale = point.flags & FLAG_NO_RECORDED_VALUE != 0;
            let value = |v: f64| Sample { t, v: if stale { stale_nan() } else { v } };
            let bucket_name = format!("{}_bucket", context.family);
            let mut staged = StagedSamples::with_capacity(buckets.len() + 3);
            if let Some(sum) = point.sum {
                self.stage(&mut staged, &base, &format!("{}_sum", context.family), None, value(sum))?;
            }
            self.stage(&mut staged, &base, &format!("{}_count", context.family), None, value(point.count as f64))?;
            for (le, cumulative) in buckets {
                let le = format_label_float(le);
                self.stage(&mut staged, &base, &bucket_name, Some(("le", &le)), value(cumulative as f64))?;
            }
            self.stage(&mut staged, &base, &bucket_name, Some(("le", "+Inf")), value(point.count as f64))?;
            Ok(staged)
        })();
        self.finish_point(context, result);
    }

    fn summary_point(&mut self, context: &MetricContext<'_>, point: &SummaryDataPoint) {
        let result = (|| {
            let base = self.base_labels(context, &point.attributes)?;
            let t = nanos_to_millis(point.time_unix_nano);
            let stale = point.flags & FLAG_NO_RECORDED_VALUE != 0;
            let value = |v: f64| Sample { t, v: if stale { stale_nan() } else { v } };
            let mut staged = StagedSamples::with_capacity(point.quantile_values.len() + 2);
            self.stage(&mut staged, &base, &format!("{}_sum", context.family), None, value(point.sum))?;
            self.stage(&mut staged, &base, &format!("{}_count", context.family), None, value(point.count as f64))?;
            for quantile in &point.quantile_values {
                let q = format_label_float(quantile.quantile);
                self.stage(&mut staged, &base, &context.family, Some(("quantile", &q)), value(quantile.value))?;
            }
            Ok(staged)
        })();
        self.finish_point(context, result);
    }

    /// One `target_info` series per resource with non-identifying attributes: value 1 from the
    /// earliest to the latest point of the resource, every half lookback delta.
    fn target_info(&mut self, attributes: &[KeyValue], identity: &TargetIdentity, earliest: u64, latest: u64) {
        let identifying =
            IDENTIFYING_RESOURCE_KEYS.iter().filter(|key| find_attribute(attributes, key).is_some()).count();
        if attributes.len().saturating_sub(identifying) == 0 {
            return;
        }
        let mut labels = LabelSet::default();
        if let Err(reason) = labels.add_attributes(attributes, &IDENTIFYING_RESOURCE_KEYS) {
            self.errors.push(format!("target_info dropped: {reason}"));
            return;
        }
        identity.apply(&mut labels);
        if !labels.has("job") && !labels.has("instance") {
            return;
        }
        labels.set(METRIC_NAME, "target_info");
        let labels = match labels.into_labels(self.limits) {
            Ok(labels) => labels,
            Err(error) => {
                self.errors.push(format!("target_info dropped: {error}"));
                return;
            }
        };
        self.record_metadata("target_info", MetricType::Gauge, "Target metadata", String::new());

        let steps = if latest > earliest { (latest - earliest - 1) / TARGET_INFO_INTERVAL_NS + 1 } else { 0 };
        let mut timestamps: Vec<i64> = (steps.saturating_sub(MAX_TARGET_INFO_STEPS)..steps)
            .map(|step| nanos_to_millis(earliest + step * TARGET_INFO_INTERVAL_NS))
            .collect();
        let latest_ms = nanos_to_millis(latest);
        if timestamps.last() != Some(&latest_ms) {
            timestamps.push(latest_ms);
        }
        // Resources with the same attributes share the series; keep one sample per timestamp.
        let existing: HashSet<i64> = self
            .series_index
            .get(&labels)
            .map(|&index| self.series[index].samples.iter().map(|sample| sample.t).collect())
            .unwrap_or_default();
        let staged = timestamps
            .into_iter()
            .filter(|t| !existing.contains(t))
            .map(|t| (labels.clone(), Sample { t, v: 1.0 }))
            .collect();
        self.commit(staged);
    }
}

// Pharos — ingest/src/otlp_metrics/translate.rs
