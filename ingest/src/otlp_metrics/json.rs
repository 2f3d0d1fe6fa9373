//! OTLP/JSON metrics requests (the proto3 JSON mapping with OTLP's deviations), decoded into the
//! same prost messages as the binary encoding.
//!
//! - Keys are lowerCamelCase; unknown keys (including snake_case spellings) are ignored.
//! - 64-bit integers may be decimal strings or numbers; every integer field takes both.
//! - Doubles may be numbers or the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (or a number in a
//!   string).
//! - Enums (`aggregationTemporality`) are integers only, as OTLP requires.
//! - `traceId`/`spanId` are hex strings (either case, `""` for none); `bytesValue` is base64.
//! - `null` means "not set", everywhere.
//! - A message setting two members of a oneof (`gauge` and `sum`, `asInt` and `asDouble`, …) is
//!   refused.
//!
//! Why not `opentelemetry-proto`'s `with-serde` feature (0.33.1): its plain `f64` fields (`sum`,
//! `min`, `max`, `explicitBounds`, `zeroThreshold`, summary `sum`, `doubleValue`) refuse `"NaN"`
//! and `"Infinity"`; its oneofs are `#[serde(flatten)] Option<…>`, which turns a malformed value
//! into "absent" without an error (`{"asDouble": "NaN"}` decodes to a point with no value, and a
//! malformed `gauge` to a metric with no data); `key`, `values` of arrays and kvlists are required
//! (`{"arrayValue": {}}` fails) and `null` is refused for repeated fields.

use std::fmt;

use pharos_proto::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pharos_proto::otlp::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value};
use pharos_proto::otlp::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, exemplar,
    exponential_histogram_data_point, metric, number_data_point, summary_data_point,
};
use pharos_proto::otlp::resource::v1::Resource;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Decode an OTLP/JSON `ExportMetricsServiceRequest`. An empty body is an empty request.
pub fn decode_json(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ExportMetricsServiceRequest::default());
    }
    let request: JsonExportRequest =
        serde_json::from_slice(bytes).map_err(|error| format!("invalid OTLP/JSON metrics request: {error}"))?;
    request.into_proto().map_err(|error| format!("invalid OTLP/JSON metrics request: {error}"))
}

// ---- scalars -------------------------------------------------------------------------------------

/// Any JSON integer form: a number (integral, possibly written `1e3`) or a decimal string.
struct IntegerVisitor;

impl Visitor<'_> for IntegerVisitor {
    type Value = i128;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an integer (a number or a decimal string)")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i128, E> {
        Ok(i128::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i128, E> {
        Ok(i128::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i128, E> {
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 2f64.powi(64) {
            Ok(value as i128)
        } else {
            Err(E::custom(format!("expected an integer, got {value}")))
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<i128, E> {
        if let Ok(integer) = value.parse::<i128>() {
            return Ok(integer);
        }
        match value.parse::<f64>() {
            Ok(number) if value.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => self.visit_f64(number),
            _ => Err(E::custom(format!("expected an integer, got {value:?}"))),
        }
    }
}

macro_rules! json_integer {
    ($name:ident, $int:ty) => {
        #[doc = concat!("A JSON `", stringify!($int), "` in any accepted form.")]
        struct $name($int);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let wide = deserializer.deserialize_any(IntegerVisitor)?;
                <$int>::try_from(wide)
                    .map($name)
                    .map_err(|_| de::Error::custom(format!("{wide} is out of range for {}", stringify!($int))))
            }
        }
    };
}

json_integer!(JsonU64, u64);
json_integer!(JsonI64, i64);
json_integer!(JsonU32, u32);
json_integer!(JsonI32, i32);

/// A JSON double: a number, `"NaN"`, `"Infinity"`, `"-Infinity"`, or a number in a string.
struct JsonF64(f64);

impl<'de> Deserialize<'de> for JsonF64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DoubleVisitor;

        impl Visitor<'_> for DoubleVisitor {
            type Value = f64;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
                Ok(value)
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
                Ok(value as f64)
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
                Ok(value as f64)
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<f64, E> {
                match value {
                    "NaN" => Ok(f64::NAN),
                    "Infinity" => Ok(f64::INFINITY),
                    "-Infinity" => Ok(f64::NEG_INFINITY),
                    _ => value.parse::<f64>().map_err(|_| E::custom(format!("expected a double, got {value:?}"))),
                }
            }
        }

        deserializer.deserialize_any(DoubleVisitor).map(JsonF64)
    }
}

/// An OTLP enum: an integer only (names are not allowed in OTLP/JSON).
struct JsonEnum(i32);

impl<'de> Deserialize<'de> for JsonEnum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnumVisitor;

        impl Visitor<'_> for EnumVisitor {
            type Value = i32;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an integer enum value")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<i32, E> {
                i32::try_from(value).map_err(|_| E::custom(format!("enum value {value} is out of range")))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<i32, E> {
                i32::try_from(value).map_err(|_| E::custom(format!("enum value {value} is out of range")))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<i32, E> {
                Err(E::custom(format!("enum values are integers in OTLP/JSON, got {value:?}")))
            }
        }

        deserializer.deserialize_any(EnumVisitor).map(JsonEnum)
    }
}

/// Bytes written as a hex string (trace and span ids), either case.
struct JsonHexBytes(Vec<u8>);

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits.chunks(2).map(|pair| Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?)).collect()
}

impl<'de> Deserialize<'de> for JsonHexBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode_hex(&text).map(JsonHexBytes).ok_or_else(|| de::Error::custom(format!("invalid hex id {text:?}")))
    }
}

/// Bytes written as base64 (standard or URL-safe alphabet, padding optional).
struct JsonBase64Bytes(Vec<u8>);

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let symbols = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(symbols.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for &symbol in symbols {
        let value = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'a'..=b'z' => symbol - b'a' + 26,
            b'0'..=b'9' => symbol - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A single leftover symbol (6 bits) cannot encode a byte.
    if symbols.len() % 4 == 1 { None } else { Some(out) }
}

impl<'de> Deserialize<'de> for JsonBase64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode_base64(&text).map(JsonBase64Bytes).ok_or_else(|| de::Error::custom("invalid base64 in bytesValue"))
    }
}

// ---- messages ------------------------------------------------------------------------------------
// Every field is optional (`null` and absent mean "not set"); conversion fills proto defaults.

fn list<J, P>(items: Option<Vec<J>>, convert: impl Fn(J) -> Result<P, String>) -> Result<Vec<P>, String> {
    items.unwrap_or_default().into_iter().map(convert).collect()
}

fn u64_or_zero(value: Option<JsonU64>) -> u64 {
    value.map(|v| v.0).unwrap_or(0)
}

fn f64_or_zero(value: Option<JsonF64>) -> f64 {
    value.map(|v| v.0).unwrap_or(0.0)
}

fn attributes(values: Option<Vec<JsonKeyValue>>) -> Result<Vec<KeyValue>, String> {
    list(values, JsonKeyValue::into_proto)
}

/// At most one member of a oneof may be set.
fn check_oneof(message: &str, set: &[bool]) -> Result<(), String> {
    if set.iter().filter(|is_set| **is_set).count() > 1 {
        return Err(format!("{message} sets more than one member of a oneof"));
    }
    Ok(())
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
struct JsonResource {
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
}

impl JsonResource {
    fn into_proto(self) -> Result<Resource, String> {
        Ok(Resource {
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: self.dropped_attributes_count.map(|v| v.0).unwrap_or(0),
            ..Default::default()
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
struct JsonScope {
    name: Option<String>,
    version: Option<String>,
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
}

impl JsonScope {
    fn into_proto(self) -> Result<InstrumentationScope, String> {
        Ok(InstrumentationScope {
            name: self.name.unwrap_or_default(),
            version: self.version.unwrap_or_default(),
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: self.dropped_attributes_count.map(|v| v.0).unwrap_or(0),
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

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonKeyValue {
    key: Option<String>,
    value: Option<JsonAnyValue>,
}

impl JsonKeyValue {
    fn into_proto(self) -> Result<KeyValue, String> {
        Ok(KeyValue {
            key: self.key.unwrap_or_default(),
            value: self.value.map(JsonAnyValue::into_proto).transpose()?,
            ..Default::default()
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonAnyValue {
    string_value: Option<String>,
    bool_value: Option<bool>,
    int_value: Option<JsonI64>,
    double_value: Option<JsonF64>,
    array_value: Option<JsonArrayValue>,
    kvlist_value: Option<JsonKeyValueList>,
    bytes_value: Option<JsonBase64Bytes>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonArrayValue {
    values: Option<Vec<JsonAnyValue>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonKeyValueList {
    values: Option<Vec<JsonKeyValue>>,
}

impl JsonAnyValue {
    fn into_proto(self) -> Result<AnyValue, String> {
        check_oneof(
            "attribute value",
            &[
                self.string_value.is_some(),
                self.bool_value.is_some(),
                self.int_value.is_some(),
                self.double_value.is_some(),
                self.array_value.is_some(),
                self.kvlist_value.is_some(),
                self.bytes_value.is_some(),
            ],
        )?;
        use any_value::Value;
        let value = if let Some(s) = self.string_value {
            Some(Value::StringValue(s))
        } else if let Some(b) = self.bool_value {
            Some(Value::BoolValue(b))
        } else if let Some(i) = self.int_value {
            Some(Value::IntValue(i.0))
        } else if let Some(d) = self.double_value {
            Some(Value::DoubleValue(d.0))
        } else if let Some(array) = self.array_value {
            Some(Value::ArrayValue(ArrayValue { values: list(array.values, JsonAnyValue::into_proto)? }))
        } else if let Some(kvlist) = self.kvlist_value {
            Some(Value::KvlistValue(KeyValueList { values: list(kvlist.values, JsonKeyValue::into_proto)? }))
        } else {
            self.bytes_value.map(|bytes| Value::BytesValue(bytes.0))
        };
        Ok(AnyValue { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64() {
        assert_eq!(decode_hex("5B8EFFF798038103d269b633813fc60c").map(|v| v.len()), Some(16));
        assert_eq!(decode_hex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_hex(""), Some(vec![]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_base64("aGkhPw=="), Some(b"hi!?".to_vec()));
        assert_eq!(decode_base64("aGkhPw"), Some(b"hi!?".to_vec()));
        assert_eq!(decode_base64("-_8="), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_base64("+/8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_base64("a"), None);
        assert_eq!(decode_base64("a*"), None);
    }

    #[test]
    fn integers_take_numbers_and_strings() {
        let parse = |json: &str| serde_json::from_str::<JsonU64>(json).map(|v| v.0).map_err(|e| e.to_string());
        assert_eq!(parse("\"18446744073709551615\""), Ok(u64::MAX));
        assert_eq!(parse("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse("1e3"), Ok(1000));
        assert_eq!(parse("\"1e3\""), Ok(1000));
        assert!(parse("-1").is_err());
        assert!(parse("1.5").is_err());
        assert!(parse("\"twelve\"").is_err());
        assert!(parse("\"inf\"").is_err());
        let parse_i64 = |json: &str| serde_json::from_str::<JsonI64>(json).map(|v| v.0).map_err(|e| e.to_string());
        assert_eq!(parse_i64("\"-9223372036854775808\""), Ok(i64::MIN));
        assert!(parse_i64("\"9223372036854775808\"").is_err());
    }

    #[test]
    fn doubles_take_special_strings() {
        let parse = |json: &str| serde_json::from_str::<JsonF64>(json).map(|v| v.0).map_err(|e| e.to_string());
        assert_eq!(parse("1.5"), Ok(1.5));
        assert_eq!(parse("3"), Ok(3.0));
        assert_eq!(parse("\"Infinity\""), Ok(f64::INFINITY));
        assert_eq!(parse("\"-Infinity\""), Ok(f64::NEG_INFINITY));
        assert!(parse("\"NaN\"").is_ok_and(f64::is_nan));
        assert_eq!(parse("\"0.25\""), Ok(0.25));
        assert!(parse("\"fast\"").is_err());
        assert!(parse("true").is_err());
    }

    #[test]
    fn enums_are_integers_only() {
        let parse = |json: &str| serde_json::from_str::<JsonEnum>(json).map(|v| v.0).map_err(|e| e.to_string());
        assert_eq!(parse("2"), Ok(2));
        assert!(parse("\"AGGREGATION_TEMPORALITY_CUMULATIVE\"").is_err());
    }
}

// Pharos — ingest/src/otlp_metrics/json.rs
