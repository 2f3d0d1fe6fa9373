//! `POST /api/v1/write`: Prometheus remote-write 1.0 and 2.0 (docs: prometheus/docs remote write
//! specs). The version is negotiated by `Content-Type`; the body is snappy-compressed protobuf.
//!
//! Answers: 204 when everything was stored; 400 with a message naming the first problems when
//! some series or samples were invalid — after storing the valid ones; 415 for an unknown
//! protobuf message; 503 (retried by Prometheus) when storage cannot take the write.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pharos_proto::remote_write::{self, v1, v2};
use pharos_proto::{ApiError, ApiFamily, DecodedBody, ErrorCode, decode_content};
use pharos_storage::tsdb::{
    Label, LabelLimits, Labels, MetricMetadata, MetricType, Sample, SeriesWrite, WriteBatch,
};
use prost::Message;

use crate::IngestState;

/// Which remote-write message a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// From `Content-Type`: `application/x-protobuf` (1.0), `…;proto=prometheus.WriteRequest` (1.0),
/// `…;proto=io.prometheus.write.v2.Request` (2.0). A missing type is taken as 1.0, as Prometheus'
/// own receiver did before 2.0 existed.
fn negotiate(headers: &HeaderMap) -> Result<Version, String> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return Ok(Version::V1);
    };
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or("").to_ascii_lowercase();
    if media != "application/x-protobuf" {
        return Err(format!("unsupported Content-Type {content_type:?}: expected application/x-protobuf"));
    }
    for part in parts {
        if let Some(proto) = part.strip_prefix("proto=") {
            return match proto.trim_matches('"') {
                remote_write::PROTO_V1 => Ok(Version::V1),
                remote_write::PROTO_V2 => Ok(Version::V2),
                other => Err(format!("unsupported remote-write message {other:?}")),
            };
        }
    }
    Ok(Version::V1)
}

/// What conversion found wrong, beside the batch it could build.
#[derive(Default)]
struct Problems {
    count: usize,
    first: Vec<String>,
    histograms: usize,
}

impl Problems {
    fn add(&mut self, message: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < 8 {
            self.first.push(message());
        }
    }
}

pub(crate) async fn write(State(state): State<IngestState>, headers: HeaderMap, body: DecodedBody) -> Response {
    let error = |code, message: String| ApiError::new(ApiFamily::Prometheus, code, message).into_response();
    let version = match negotiate(&headers) {
        Ok(version) => version,
        Err(message) => return error(ErrorCode::UnsupportedMediaType, message),
    };
    let Ok(_slot) = state.remote_write_slots.clone().try_acquire_owned() else {
        return error(ErrorCode::Unavailable, "too many remote-write requests in flight; retry later".into());
    };
    // The body is always snappy, whether or not the sender said so in Content-Encoding.
    let bytes = if headers.contains_key(header::CONTENT_ENCODING) {
        body.bytes
    } else {
        match decode_content("snappy", body.bytes, body.limit.max_decoded_bytes) {
            Ok(bytes) => bytes,
            Err(e) => return e.into_api_error(ApiFamily::Prometheus).into_response(),
        }
    };
    let limits = state.storage.tsdb().label_limits();
    let converted = match version {
        Version::V1 => v1::WriteRequest::decode(bytes.as_ref()).map(|req| from_v1(req, &limits)),
        Version::V2 => v2::Request::decode(bytes.as_ref()).map(|req| from_v2(req, &limits)),
    };
    let (batch, mut problems) = match converted {
        Ok(converted) => converted,
        Err(e) => return error(ErrorCode::BadData, format!("malformed remote-write protobuf: {e}")),
    };
    let samples_in = batch.sample_count();
    let tsdb = state.storage.tsdb().clone();
    let report = match tokio::task::spawn_blocking(move || tsdb.append(&batch)).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return error(ErrorCode::Unavailable, format!("cannot store samples: {e}")),
        Err(e) => return error(ErrorCode::Unavailable, format!("write task failed: {e}")),
    };
    state.ingested_items.with(&["metrics"]).add(report.samples_appended as f64);
    for message in &report.errors {
        problems.add(|| message.clone());
    }
    problems.count += (report.samples_rejected as usize).saturating_sub(report.errors.len());
    let written = report.samples_appended + report.duplicates_dropped;
    tracing::debug!(samples = samples_in, written, rejected = problems.count, "remote write");

    let mut response = if problems.count == 0 {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut message = format!("{} invalid series or samples (valid ones were stored): {}", problems.count, problems.first.join("; "));
        if problems.histograms > 0 {
            message.push_str(&format!("; {} native histogram samples are not supported and were dropped", problems.histograms));
        }
        error(ErrorCode::BadData, message)
    };
    if version == Version::V2 {
        let h = response.headers_mut();
        h.insert("X-Prometheus-Remote-Write-Samples-Written", HeaderValue::from(written));
        h.insert("X-Prometheus-Remote-Write-Histograms-Written", HeaderValue::from(0));
        h.insert("X-Prometheus-Remote-Write-Exemplars-Written", HeaderValue::from(0));
    }
    response
}

fn samples_of(samples: impl Iterator<Item = (i64, f64)>) -> Vec<Sample> {
    samples.map(|(t, v)| Sample { t, v }).collect()
}

fn from_v1(req: v1::WriteRequest, limits: &LabelLimits) -> (WriteBatch, Problems) {
    let mut problems = Problems::default();
    let mut batch = WriteBatch { series: Vec::with_capacity(req.timeseries.len()), metadata: Vec::new() };
    for ts in req.timeseries {
        if !ts.histograms.is_empty() {
            problems.histograms += ts.histograms.len();
            problems.add(|| "native histograms are not supported".to_string());
        }
        if ts.samples.is_empty() {
            continue;
        }
        let pairs: Vec<Label> = ts.labels.into_iter().map(|l| Label { name: l.name, value: l.value }).collect();
        match Labels::from_sorted(pairs, limits) {
            Ok(labels) => batch.series.push(SeriesWrite {
                labels,
                samples: samples_of(ts.samples.iter().map(|s| (s.timestamp, s.value))),
            }),
            Err(e) => problems.add(|| format!("invalid labels: {e}")),
        }
    }
    batch.metadata = req
        .metadata
        .into_iter()
        .map(|m| MetricMetadata {
            metric_family_name: m.metric_family_name,
            kind: MetricType::from_remote_write(m.r#type),
            help: m.help,
            unit: m.unit,
        })
        .collect();
    (batch, problems)
}

fn from_v2(req: v2::Request, limits: &LabelLimits) -> (WriteBatch, Problems) {
    let mut problems = Problems::default();
    let symbols = &req.symbols;
    let symbol = |i: u32| symbols.get(i as usize).map(String::as_str);
    let mut batch = WriteBatch { series: Vec::with_capacity(req.timeseries.len()), metadata: Vec::new() };
    for ts in &req.timeseries {
        if !ts.histograms.is_empty() {
            problems.histograms += ts.histograms.len();
            problems.add(|| "native histograms are not supported".to_string());
        }
        if ts.labels_refs.len() % 2 != 0 {
            problems.add(|| "labels_refs has an odd length".to_string());
            continue;
        }
        let mut pairs = Vec::with_capacity(ts.labels_refs.len() / 2);
        let mut bad_ref = None;
        for pair in ts.labels_refs.chunks_exact(2) {
            match (symbol(pair[0]), symbol(pair[1])) {
                (Some(name), Some(value)) => pairs.push(Label::new(name, value)),
                _ => bad_ref = Some(pair[0].max(pair[1])),
            }
        }
        if let Some(r) = bad_ref {
            problems.add(|| format!("symbol reference {r} is out of range ({} symbols)", symbols.len()));
            continue;
        }
        let labels = match Labels::from_sorted(pairs, limits) {
            Ok(labels) => labels,
            Err(e) => {
                problems.add(|| format!("invalid labels: {e}"));
                continue;
            }
        };
        if let Some(m) = ts.metadata.filter(|m| m.r#type != 0 || m.help_ref != 0 || m.unit_ref != 0) {
            if let Some(name) = labels.metric_name() {
                batch.metadata.push(MetricMetadata {
                    metric_family_name: name.to_string(),
                    kind: MetricType::from_remote_write(m.r#type),
                    help: symbol(m.help_ref).unwrap_or("").to_string(),
                    unit: symbol(m.unit_ref).unwrap_or("").to_string(),
                });
            }
        }
        if !ts.samples.is_empty() {
            batch.series.push(SeriesWrite { labels, samples: samples_of(ts.samples.iter().map(|s| (s.timestamp, s.value))) });
        }
    }
    batch.metadata.sort_by(|a, b| a.metric_family_name.cmp(&b.metric_family_name));
    batch.metadata.dedup_by(|a, b| a.metric_family_name == b.metric_family_name);
    (batch, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        h
    }

    #[test]
    fn content_type_negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()), Ok(Version::V1));
        assert_eq!(negotiate(&headers("application/x-protobuf")), Ok(Version::V1));
        assert_eq!(negotiate(&headers("application/x-protobuf;proto=prometheus.WriteRequest")), Ok(Version::V1));
        assert_eq!(negotiate(&headers("application/x-protobuf; proto=io.prometheus.write.v2.Request")), Ok(Version::V2));
        assert!(negotiate(&headers("application/x-protobuf;proto=io.prometheus.write.v3.Request")).is_err());
        assert!(negotiate(&headers("application/json")).is_err());
    }

    fn label(name: &str, value: &str) -> v1::Label {
        v1::Label { name: name.into(), value: value.into() }
    }

    #[test]
    fn v1_keeps_good_series_and_reports_bad_ones() {
        let req = v1::WriteRequest {
            timeseries: vec![
                v1::TimeSeries {
                    labels: vec![label("__name__", "up"), label("job", "a")],
                    samples: vec![v1::Sample { value: f64::NAN, timestamp: 5 }],
                    ..Default::default()
                },
                v1::TimeSeries {
                    labels: vec![label("job", "a"), label("__name__", "up")],
                    samples: vec![v1::Sample { value: 1.0, timestamp: 5 }],
                    ..Default::default()
                },
                v1::TimeSeries {
                    labels: vec![label("__name__", ""), label("job", "a")],
                    samples: vec![v1::Sample { value: 1.0, timestamp: 5 }],
                    ..Default::default()
                },
            ],
            metadata: vec![v1::MetricMetadata { r#type: 1, metric_family_name: "c".into(), help: "h".into(), unit: "".into() }],
        };
        let (batch, problems) = from_v1(req, &LabelLimits::default());
        assert_eq!(batch.series.len(), 1);
        assert!(batch.series[0].samples[0].v.is_nan());
        assert_eq!(problems.count, 2);
        assert!(problems.first[0].contains("not sorted"), "{:?}", problems.first);
        assert!(problems.first[1].contains("no metric name"), "{:?}", problems.first);
        assert_eq!(batch.metadata[0].kind, MetricType::Counter);
    }

    #[test]
    fn v2_resolves_symbols() {
        let req = v2::Request {
            symbols: vec!["".into(), "__name__".into(), "up".into(), "job".into(), "a".into(), "Help text".into()],
            timeseries: vec![
                v2::TimeSeries {
                    labels_refs: vec![1, 2, 3, 4],
                    samples: vec![v2::Sample { value: 1.0, timestamp: 7 }],
                    metadata: Some(v2::Metadata { r#type: 2, help_ref: 5, unit_ref: 0 }),
                    ..Default::default()
                },
                v2::TimeSeries { labels_refs: vec![1, 99], samples: vec![v2::Sample { value: 1.0, timestamp: 7 }], ..Default::default() },
                v2::TimeSeries { labels_refs: vec![1], ..Default::default() },
            ],
        };
        let (batch, problems) = from_v2(req, &LabelLimits::default());
        assert_eq!(batch.series.len(), 1);
        assert_eq!(batch.series[0].labels.get("job"), Some("a"));
        assert_eq!(batch.metadata[0].help, "Help text");
        assert_eq!(batch.metadata[0].kind, MetricType::Gauge);
        assert_eq!(problems.count, 2);
    }
}

// Pharos — ingest/src/remote_write.rs
