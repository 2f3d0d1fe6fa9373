//! OTLP/JSON metrics requests, decoded into the same prost messages as the binary encoding. The
//! JSON mapping's rules and the shared messages (resource, scope, attributes) are in
//! [`crate::otlp_json`]; this file has the metrics messages.

use pharos_proto::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pharos_proto::otlp::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, exemplar,
    exponential_histogram_data_point, metric, number_data_point, summary_data_point,
};
use serde::Deserialize;

use crate::otlp_json::{
    JsonEnum, JsonF64, JsonHexBytes, JsonI32, JsonI64, JsonKeyValue, JsonResource, JsonScope, JsonU32, JsonU64,
    attributes, check_oneof, f64_or_zero, list, u64_or_zero,
};

/// Decode an OTLP/JSON `ExportMetricsServiceRequest`. An empty body is an empty request.
pub fn decode_json(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ExportMetricsServiceRequest::default());
    }
    let request: JsonExportRequest =
        serde_json::from_slice(bytes).map_err(|error| format!("invalid OTLP/JSON metrics request: {error}"))?;
    request.into_proto().map_err(|error| format!("invalid OTLP/JSON metrics request: {error}"))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonExportRequest {
    resource_metrics: Option<Vec<JsonResourceMetrics>>,
}

impl JsonExportRequest {
    fn into_proto(self) -> Result<ExportMetricsServiceRequest, String> {
        Ok(ExportMetricsServiceRequest {
            resource_metrics: list(self.resource_metrics, JsonResourceMetrics::into_proto)?,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonResourceMetrics {
    resource: Option<JsonResource>,
    scope_metrics: Option<Vec<JsonScopeMetrics>>,
    schema_url: Option<String>,
}

impl JsonResourceMetrics {
    fn into_proto(self) -> Result<ResourceMetrics, String> {
        Ok(ResourceMetrics {
            resource: self.resource.map(JsonResource::into_proto).transpose()?,
            scope_metrics: list(self.scope_metrics, JsonScopeMetrics::into_proto)?,
            schema_url: self.schema_url.unwrap_or_default(),
        })
    }
}


#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonScopeMetrics {
    scope: Option<JsonScope>,
    metrics: Option<Vec<JsonMetric>>,
    schema_url: Option<String>,
}

impl JsonScopeMetrics {
    fn into_proto(self) -> Result<ScopeMetrics, String> {
        Ok(ScopeMetrics {
            scope: self.scope.map(JsonScope::into_proto).transpose()?,
            metrics: list(self.metrics, JsonMetric::into_proto)?,
            schema_url: self.schema_url.unwrap_or_default(),
        })
    }
}


#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonMetric {
    name: Option<String>,
    description: Option<String>,
    unit: Option<String>,
    metadata: Option<Vec<JsonKeyValue>>,
    gauge: Option<JsonGauge>,
    sum: Option<JsonSum>,
    histogram: Option<JsonHistogram>,
    exponential_histogram: Option<JsonExponentialHistogram>,
    summary: Option<JsonSummary>,
}

impl JsonMetric {
    fn into_proto(self) -> Result<Metric, String> {
        let name = self.name.unwrap_or_default();
        check_oneof(
            &format!("metric {name:?}"),
            &[
                self.gauge.is_some(),
                self.sum.is_some(),
                self.histogram.is_some(),
                self.exponential_histogram.is_some(),
                self.summary.is_some(),
            ],
        )?;
        let data = if let Some(gauge) = self.gauge {
            Some(metric::Data::Gauge(Gauge { data_points: list(gauge.data_points, JsonNumberDataPoint::into_proto)? }))
        } else if let Some(sum) = self.sum {
            Some(metric::Data::Sum(Sum {
                data_points: list(sum.data_points, JsonNumberDataPoint::into_proto)?,
                aggregation_temporality: sum.aggregation_temporality.map(|v| v.0).unwrap_or(0),
                is_monotonic: sum.is_monotonic.unwrap_or(false),
            }))
        } else if let Some(histogram) = self.histogram {
            Some(metric::Data::Histogram(Histogram {
                data_points: list(histogram.data_points, JsonHistogramDataPoint::into_proto)?,
                aggregation_temporality: histogram.aggregation_temporality.map(|v| v.0).unwrap_or(0),
            }))
        } else if let Some(histogram) = self.exponential_histogram {
            Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: list(histogram.data_points, JsonExponentialHistogramDataPoint::into_proto)?,
                aggregation_temporality: histogram.aggregation_temporality.map(|v| v.0).unwrap_or(0),
            }))
        } else if let Some(summary) = self.summary {
            Some(metric::Data::Summary(Summary {
                data_points: list(summary.data_points, JsonSummaryDataPoint::into_proto)?,
            }))
        } else {
            None
        };
        Ok(Metric {
            name,
            description: self.description.unwrap_or_default(),
            unit: self.unit.unwrap_or_default(),
            metadata: attributes(self.metadata)?,
            data,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonGauge {
    data_points: Option<Vec<JsonNumberDataPoint>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonSum {
    data_points: Option<Vec<JsonNumberDataPoint>>,
    aggregation_temporality: Option<JsonEnum>,
    is_monotonic: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonHistogram {
    data_points: Option<Vec<JsonHistogramDataPoint>>,
    aggregation_temporality: Option<JsonEnum>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonExponentialHistogram {
    data_points: Option<Vec<JsonExponentialHistogramDataPoint>>,
    aggregation_temporality: Option<JsonEnum>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonSummary {
    data_points: Option<Vec<JsonSummaryDataPoint>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonNumberDataPoint {
    attributes: Option<Vec<JsonKeyValue>>,
    start_time_unix_nano: Option<JsonU64>,
    time_unix_nano: Option<JsonU64>,
    as_double: Option<JsonF64>,
    as_int: Option<JsonI64>,
    exemplars: Option<Vec<JsonExemplar>>,
    flags: Option<JsonU32>,
}

impl JsonNumberDataPoint {
    fn into_proto(self) -> Result<NumberDataPoint, String> {
        check_oneof("number data point", &[self.as_double.is_some(), self.as_int.is_some()])?;
        let value = match (self.as_double, self.as_int) {
            (Some(double), _) => Some(number_data_point::Value::AsDouble(double.0)),
            (None, Some(int)) => Some(number_data_point::Value::AsInt(int.0)),
            (None, None) => None,
        };
        Ok(NumberDataPoint {
            attributes: attributes(self.attributes)?,
            start_time_unix_nano: u64_or_zero(self.start_time_unix_nano),
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            exemplars: list(self.exemplars, JsonExemplar::into_proto)?,
            flags: self.flags.map(|v| v.0).unwrap_or(0),
            value,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonHistogramDataPoint {
    attributes: Option<Vec<JsonKeyValue>>,
    start_time_unix_nano: Option<JsonU64>,
    time_unix_nano: Option<JsonU64>,
    count: Option<JsonU64>,
    sum: Option<JsonF64>,
    bucket_counts: Option<Vec<JsonU64>>,
    explicit_bounds: Option<Vec<JsonF64>>,
    exemplars: Option<Vec<JsonExemplar>>,
    flags: Option<JsonU32>,
    min: Option<JsonF64>,
    max: Option<JsonF64>,
}

impl JsonHistogramDataPoint {
    fn into_proto(self) -> Result<HistogramDataPoint, String> {
        Ok(HistogramDataPoint {
            attributes: attributes(self.attributes)?,
            start_time_unix_nano: u64_or_zero(self.start_time_unix_nano),
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            count: u64_or_zero(self.count),
            sum: self.sum.map(|v| v.0),
            bucket_counts: self.bucket_counts.unwrap_or_default().into_iter().map(|v| v.0).collect(),
            explicit_bounds: self.explicit_bounds.unwrap_or_default().into_iter().map(|v| v.0).collect(),
            exemplars: list(self.exemplars, JsonExemplar::into_proto)?,
            flags: self.flags.map(|v| v.0).unwrap_or(0),
            min: self.min.map(|v| v.0),
            max: self.max.map(|v| v.0),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonBuckets {
    offset: Option<JsonI32>,
    bucket_counts: Option<Vec<JsonU64>>,
}

impl JsonBuckets {
    fn into_proto(self) -> exponential_histogram_data_point::Buckets {
        exponential_histogram_data_point::Buckets {
            offset: self.offset.map(|v| v.0).unwrap_or(0),
            bucket_counts: self.bucket_counts.unwrap_or_default().into_iter().map(|v| v.0).collect(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonExponentialHistogramDataPoint {
    attributes: Option<Vec<JsonKeyValue>>,
    start_time_unix_nano: Option<JsonU64>,
    time_unix_nano: Option<JsonU64>,
    count: Option<JsonU64>,
    sum: Option<JsonF64>,
    scale: Option<JsonI32>,
    zero_count: Option<JsonU64>,
    positive: Option<JsonBuckets>,
    negative: Option<JsonBuckets>,
    flags: Option<JsonU32>,
    exemplars: Option<Vec<JsonExemplar>>,
    min: Option<JsonF64>,
    max: Option<JsonF64>,
    zero_threshold: Option<JsonF64>,
}

impl JsonExponentialHistogramDataPoint {
    fn into_proto(self) -> Result<ExponentialHistogramDataPoint, String> {
        Ok(ExponentialHistogramDataPoint {
            attributes: attributes(self.attributes)?,
            start_time_unix_nano: u64_or_zero(self.start_time_unix_nano),
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            count: u64_or_zero(self.count),
            sum: self.sum.map(|v| v.0),
            scale: self.scale.map(|v| v.0).unwrap_or(0),
            zero_count: u64_or_zero(self.zero_count),
            positive: self.positive.map(JsonBuckets::into_proto),
            negative: self.negative.map(JsonBuckets::into_proto),
            flags: self.flags.map(|v| v.0).unwrap_or(0),
            exemplars: list(self.exemplars, JsonExemplar::into_proto)?,
            min: self.min.map(|v| v.0),
            max: self.max.map(|v| v.0),
            zero_threshold: f64_or_zero(self.zero_threshold),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonSummaryDataPoint {
    attributes: Option<Vec<JsonKeyValue>>,
    start_time_unix_nano: Option<JsonU64>,
    time_unix_nano: Option<JsonU64>,
    count: Option<JsonU64>,
    sum: Option<JsonF64>,
    quantile_values: Option<Vec<JsonValueAtQuantile>>,
    flags: Option<JsonU32>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonValueAtQuantile {
    quantile: Option<JsonF64>,
    value: Option<JsonF64>,
}

impl JsonSummaryDataPoint {
    fn into_proto(self) -> Result<SummaryDataPoint, String> {
        Ok(SummaryDataPoint {
            attributes: attributes(self.attributes)?,
            start_time_unix_nano: u64_or_zero(self.start_time_unix_nano),
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            count: u64_or_zero(self.count),
            sum: f64_or_zero(self.sum),
            quantile_values: self
                .quantile_values
                .unwrap_or_default()
                .into_iter()
                .map(|q| summary_data_point::ValueAtQuantile {
                    quantile: f64_or_zero(q.quantile),
                    value: f64_or_zero(q.value),
                })
                .collect(),
            flags: self.flags.map(|v| v.0).unwrap_or(0),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonExemplar {
    filtered_attributes: Option<Vec<JsonKeyValue>>,
    time_unix_nano: Option<JsonU64>,
    as_double: Option<JsonF64>,
    as_int: Option<JsonI64>,
    span_id: Option<JsonHexBytes>,
    trace_id: Option<JsonHexBytes>,
}

impl JsonExemplar {
    fn into_proto(self) -> Result<Exemplar, String> {
        check_oneof("exemplar", &[self.as_double.is_some(), self.as_int.is_some()])?;
        let value = match (self.as_double, self.as_int) {
            (Some(double), _) => Some(exemplar::Value::AsDouble(double.0)),
            (None, Some(int)) => Some(exemplar::Value::AsInt(int.0)),
            (None, None) => None,
        };
        Ok(Exemplar {
            filtered_attributes: attributes(self.filtered_attributes)?,
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            span_id: self.span_id.map(|v| v.0).unwrap_or_default(),
            trace_id: self.trace_id.map(|v| v.0).unwrap_or_default(),
            value,
        })
    }
}



// Pharos — ingest/src/otlp_metrics/json.rs
