//! OTLP attributes as Prometheus labels.
//!
//! Values are stringified the way the OpenTelemetry Collector's `pcommon.Value.AsString` does it,
//! which is what Prometheus' receiver stores: booleans `true`/`false`, integers in decimal, doubles
//! in ECMAScript number form (`1`, `0.5`, `1e+21`, `1e-7`), bytes in standard base64, arrays and
//! maps as compact JSON (map keys sorted, no HTML escaping; a non-finite double anywhere inside
//! makes the whole value empty, as Go's encoder fails on it).
//!
//! [`LabelSet`] assembles one series' labels: point attributes (sanitised names, values of colliding
//! names joined with `;` in key order), then scope labels, then `job`/`instance`, then the names the
//! translator adds (`__name__`, `le`, `quantile`); later ones win. An empty value means "absent".

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pharos_proto::otlp::common::v1::any_value::Value;
use pharos_proto::otlp::common::v1::{AnyValue, KeyValue};
use pharos_storage::tsdb::{Label, LabelLimits, Labels, LabelsError};

use super::naming::label_name;

/// Resource attribute keys that identify the target and become `job` and `instance`.
pub(super) const SERVICE_NAMESPACE: &str = "service.namespace";
pub(super) const SERVICE_NAME: &str = "service.name";
pub(super) const SERVICE_INSTANCE_ID: &str = "service.instance.id";
pub(super) const IDENTIFYING_RESOURCE_KEYS: [&str; 3] = [SERVICE_NAMESPACE, SERVICE_NAME, SERVICE_INSTANCE_ID];

/// The first attribute with `key`, if any (the value may itself be empty).
pub(super) fn find_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attributes.iter().find(|attribute| attribute.key == key)
}

/// The label value of an attribute value.
pub(super) fn label_value(value: Option<&AnyValue>) -> String {
    match value.and_then(|any| any.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => go_float_string(*d),
        Some(Value::BytesValue(bytes)) => base64_standard(bytes),
        Some(composite @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
            let mut json = String::new();
            match write_json_value(Some(composite), &mut json) {
                Ok(()) => json,
                Err(NonFiniteNumber) => String::new(),
            }
        }
    }
}

/// A double as Go's JSON encoder (and so `AsString`) prints it: shortest round-trip digits, plain
/// notation for 1e-6 <= |v| < 1e21, exponent notation (`1e+21`, `1.5e-7`) outside.
fn go_float_string(value: f64) -> String {
    if !value.is_finite() {
        let go_spelling = if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return format!("json: unsupported value: {go_spelling}");
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        return format!("{value}");
    }
    // Rust writes `1e21` / `1.5e-7`; Go writes `1e+21` / `1.5e-07`, trimmed to `1.5e-7`.
    let rust = format!("{value:e}");
    match rust.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => format!("{mantissa}e+{exponent}"),
        _ => rust,
    }
}

/// A double inside an array or map has no JSON form when it is NaN or infinite.
struct NonFiniteNumber;

fn write_json_value(value: Option<&Value>, out: &mut String) -> Result<(), NonFiniteNumber> {
    match value {
        None | Some(Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(Value::StringValue(s)) => write_json_string(s, out),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => {
            if !d.is_finite() {
                return Err(NonFiniteNumber);
            }
            out.push_str(&go_float_string(*d));
        }
        Some(Value::BytesValue(bytes)) => write_json_string(&base64_standard(bytes), out),
        Some(Value::ArrayValue(array)) => {
            out.push('[');
            for (i, element) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(element.value.as_ref(), out)?;
            }
            out.push(']');
        }
        Some(Value::KvlistValue(list)) => {
            // A Go map: one entry per key (the last wins), keys in byte order.
            let entries: BTreeMap<&str, Option<&Value>> = list
                .values
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_ref().and_then(|v| v.value.as_ref())))
                .collect();
            out.push('{');
            for (i, (key, entry)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json_value(entry, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string as Go's encoder writes it without HTML escaping.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Standard base64 with padding.
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for (position, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if position <= chunk.len() {
                out.push(char::from(ALPHABET[((triple >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The labels of one series being assembled, sorted by name. Setting an empty value removes the
/// label, as Prometheus' label builder does.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct LabelSet(BTreeMap<String, String>);

impl LabelSet {
    pub(super) fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    pub(super) fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        if value.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, value);
        }
    }

    /// Attributes as labels: sorted by key (stably), names sanitised, values of keys that sanitise
    /// to the same name joined with `;` in key order. `skip` lists keys left out.
    pub(super) fn add_attributes(&mut self, attributes: &[KeyValue], skip: &[&str]) -> Result<(), String> {
        let mut pairs: Vec<(&str, String)> = attributes
            .iter()
            .filter(|attribute| !skip.contains(&attribute.key.as_str()))
            .map(|attribute| (attribute.key.as_str(), label_value(attribute.value.as_ref())))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        for (key, value) in pairs {
            let name = label_name(key)?;
            let existing = self.get(&name);
            if existing.is_empty() {
                self.set(name, value);
            } else {
                let joined = format!("{existing};{value}");
                self.set(name, joined);
            }
        }
        Ok(())
    }

    /// A copy with `extra` labels set on top (metric name, `le`, `quantile`).
    pub(super) fn with(&self, extra: &[(&str, &str)]) -> LabelSet {
        let mut labels = self.clone();
        for (name, value) in extra {
            labels.set(*name, *value);
        }
        labels
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub(super) fn into_labels(self, limits: &LabelLimits) -> Result<Labels, LabelsError> {
        Labels::from_unsorted(self.0.into_iter().map(|(name, value)| Label::new(name, value)).collect(), limits)
    }
}

/// `job` and `instance` of a resource, from `service.namespace`/`service.name` and
/// `service.instance.id`. `None` when the resource lacks the attribute.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct TargetIdentity {
    pub(super) job: Option<String>,
    pub(super) instance: Option<String>,
}

impl TargetIdentity {
    pub(super) fn of_resource(attributes: &[KeyValue]) -> TargetIdentity {
        let job = find_attribute(attributes, SERVICE_NAME).map(|name| {
            let name = label_value(name.value.as_ref());
            match find_attribute(attributes, SERVICE_NAMESPACE) {
                Some(namespace) => format!("{}/{name}", label_value(namespace.value.as_ref())),
                None => name,
            }
        });
        let instance = find_attribute(attributes, SERVICE_INSTANCE_ID).map(|id| label_value(id.value.as_ref()));
        TargetIdentity { job, instance }
    }

    pub(super) fn apply(&self, labels: &mut LabelSet) {
        if let Some(job) = &self.job {
            labels.set("job", job.as_str());
        }
        if let Some(instance) = &self.instance {
            labels.set("instance", instance.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use pharos_proto::otlp::common::v1::{ArrayValue, KeyValueList};

    use super::*;

    fn any(value: Value) -> Option<AnyValue> {
        Some(AnyValue { value: Some(value) })
    }

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue { key: key.to_owned(), value: any(value), ..Default::default() }
    }

    #[test]
    fn scalar_values_stringify_like_go() {
        assert_eq!(label_value(any(Value::BoolValue(true)).as_ref()), "true");
        assert_eq!(label_value(any(Value::IntValue(-42)).as_ref()), "-42");
        assert_eq!(label_value(any(Value::DoubleValue(1.0)).as_ref()), "1");
        assert_eq!(label_value(any(Value::DoubleValue(0.1)).as_ref()), "0.1");
        assert_eq!(label_value(any(Value::DoubleValue(1e21)).as_ref()), "1e+21");
        assert_eq!(label_value(any(Value::DoubleValue(1.5e-7)).as_ref()), "1.5e-7");
        assert_eq!(label_value(any(Value::DoubleValue(1e20)).as_ref()), "100000000000000000000");
        assert_eq!(label_value(any(Value::DoubleValue(-0.000001)).as_ref()), "-0.000001");
        assert_eq!(label_value(any(Value::DoubleValue(f64::NAN)).as_ref()), "json: unsupported value: NaN");
        assert_eq!(label_value(any(Value::BytesValue(b"hi!?".to_vec())).as_ref()), "aGkhPw==");
        assert_eq!(label_value(None), "");
        assert_eq!(label_value(Some(&AnyValue { value: None })), "");
    }

    #[test]
    fn arrays_and_maps_are_json() {
        let array = Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue { value: Some(Value::StringValue("a\"<b>\n".into())) },
                AnyValue { value: Some(Value::IntValue(7)) },
                AnyValue { value: Some(Value::DoubleValue(2.5)) },
                AnyValue { value: Some(Value::BoolValue(false)) },
                AnyValue { value: None },
            ],
        });
        assert_eq!(label_value(any(array).as_ref()), r#"["a\"<b>\n",7,2.5,false,null]"#);
        let map = Value::KvlistValue(KeyValueList {
            values: vec![
                kv("z", Value::IntValue(1)),
                kv("a", Value::StringValue("x".into())),
                kv("m", Value::ArrayValue(ArrayValue { values: vec![] })),
                kv("a", Value::StringValue("last wins".into())),
            ],
        });
        assert_eq!(label_value(any(map).as_ref()), r#"{"a":"last wins","m":[],"z":1}"#);
        let with_nan =
            Value::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(Value::DoubleValue(f64::INFINITY)) }] });
        assert_eq!(label_value(any(with_nan).as_ref()), "");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64_standard(b""), "");
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foo"), "Zm9v");
        assert_eq!(base64_standard(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn colliding_names_join_in_key_order() {
        let mut labels = LabelSet::default();
        let attributes = vec![
            kv("foo.bar", Value::StringValue("dot".into())),
            kv("foo_bar", Value::StringValue("underscore".into())),
            kv("foo-bar", Value::StringValue("dash".into())),
            kv("skip.me", Value::StringValue("x".into())),
        ];
        labels.add_attributes(&attributes, &["skip.me"]).unwrap();
        assert_eq!(labels.get("foo_bar"), "dash;dot;underscore", "`-` < `.` < `_` in byte order");
        assert!(!labels.has("skip_me"));
    }

    #[test]
    fn identity_from_service_attributes() {
        let full = vec![
            kv("service.name", Value::StringValue("api".into())),
            kv("service.namespace", Value::StringValue("shop".into())),
            kv("service.instance.id", Value::StringValue("pod-1".into())),
        ];
        let identity = TargetIdentity::of_resource(&full);
        assert_eq!(identity.job.as_deref(), Some("shop/api"));
        assert_eq!(identity.instance.as_deref(), Some("pod-1"));
        let bare = TargetIdentity::of_resource(&[kv("service.namespace", Value::StringValue("shop".into()))]);
        assert_eq!(bare, TargetIdentity::default(), "a namespace without a name makes no job");
    }
}

// Pharos — ingest/src/otlp_metrics/attributes.rs
