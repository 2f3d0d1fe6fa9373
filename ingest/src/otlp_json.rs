//! OTLP/JSON building blocks shared by the signals' decoders (metrics, logs, traces): the proto3
//! JSON mapping with OTLP's deviations.
//!
//! - Keys are lowerCamelCase; unknown keys (including snake_case spellings) are ignored.
//! - 64-bit integers may be decimal strings or numbers; every integer field takes both.
//! - Doubles may be numbers or the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (or a number in a
//!   string).
//! - Enums are integers only, as OTLP requires.
//! - `traceId`/`spanId` are hex strings (either case, `""` for none); `bytesValue` is base64.
//! - `null` means "not set", everywhere.
//! - A message setting two members of a oneof is refused.
//!
//! Why not `opentelemetry-proto`'s `with-serde` feature (0.33.1): its plain `f64` fields refuse
//! `"NaN"` and `"Infinity"`; its oneofs are `#[serde(flatten)] Option<…>`, which turns a malformed
//! value into "absent" without an error; `key`, `values` of arrays and kvlists are required
//! (`{"arrayValue": {}}` fails) and `null` is refused for repeated fields.

use std::fmt;

use pharos_proto::otlp::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value};
use pharos_proto::otlp::resource::v1::Resource;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

// ---- scalars -------------------------------------------------------------------------------------

/// Any JSON integer form: a number (integral, possibly written `1e3`) or a decimal string.
pub(crate) struct IntegerVisitor;

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
        pub(crate) struct $name(pub(crate) $int);

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
pub(crate) struct JsonF64(pub(crate) f64);

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
pub(crate) struct JsonEnum(pub(crate) i32);

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
pub(crate) struct JsonHexBytes(pub(crate) Vec<u8>);

pub(crate) fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
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
pub(crate) struct JsonBase64Bytes(pub(crate) Vec<u8>);

pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
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

pub(crate) fn list<J, P>(items: Option<Vec<J>>, convert: impl Fn(J) -> Result<P, String>) -> Result<Vec<P>, String> {
    items.unwrap_or_default().into_iter().map(convert).collect()
}

pub(crate) fn u64_or_zero(value: Option<JsonU64>) -> u64 {
    value.map(|v| v.0).unwrap_or(0)
}

pub(crate) fn f64_or_zero(value: Option<JsonF64>) -> f64 {
    value.map(|v| v.0).unwrap_or(0.0)
}

pub(crate) fn attributes(values: Option<Vec<JsonKeyValue>>) -> Result<Vec<KeyValue>, String> {
    list(values, JsonKeyValue::into_proto)
}

/// At most one member of a oneof may be set.
pub(crate) fn check_oneof(message: &str, set: &[bool]) -> Result<(), String> {
    if set.iter().filter(|is_set| **is_set).count() > 1 {
        return Err(format!("{message} sets more than one member of a oneof"));
    }
    Ok(())
}


#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JsonResource {
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
}

impl JsonResource {
    pub(crate) fn into_proto(self) -> Result<Resource, String> {
        Ok(Resource {
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: self.dropped_attributes_count.map(|v| v.0).unwrap_or(0),
            ..Default::default()
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JsonScope {
    name: Option<String>,
    version: Option<String>,
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
}

impl JsonScope {
    pub(crate) fn into_proto(self) -> Result<InstrumentationScope, String> {
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
pub(crate) struct JsonKeyValue {
    key: Option<String>,
    value: Option<JsonAnyValue>,
}

impl JsonKeyValue {
    pub(crate) fn into_proto(self) -> Result<KeyValue, String> {
        Ok(KeyValue {
            key: self.key.unwrap_or_default(),
            value: self.value.map(JsonAnyValue::into_proto).transpose()?,
            ..Default::default()
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JsonAnyValue {
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
pub(crate) struct JsonArrayValue {
    values: Option<Vec<JsonAnyValue>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JsonKeyValueList {
    values: Option<Vec<JsonKeyValue>>,
}

impl JsonAnyValue {
    pub(crate) fn into_proto(self) -> Result<AnyValue, String> {
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

// Pharos — ingest/src/otlp_json.rs
