//! Reading request bodies: one size limit, one place that undoes `Content-Encoding`.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};

use crate::api_error::{ApiError, ApiFamily, ErrorCode};

/// Size limits for request bodies, put into request extensions by the server (see the binary's
/// `http` module) and read by [`DecodedBody`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimit {
    /// Largest body accepted as sent on the wire, in bytes.
    pub max_wire_bytes: usize,
    /// Largest body accepted after undoing its content encoding, in bytes.
    pub max_decoded_bytes: usize,
}

impl Default for BodyLimit {
    /// 32 MiB on the wire, 128 MiB decoded.
    fn default() -> Self {
        BodyLimit { max_wire_bytes: 32 << 20, max_decoded_bytes: 128 << 20 }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported content encoding {0:?} (supported: gzip, deflate, zstd, snappy, identity)")]
    UnsupportedEncoding(String),
    #[error("request body is larger than the limit of {limit} bytes{}", if *.decoded { " once decoded" } else { "" })]
    TooLarge { limit: usize, decoded: bool },
    #[error("cannot decode {encoding} body: {reason}")]
    Corrupt { encoding: &'static str, reason: String },
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::UnsupportedEncoding(_) => ErrorCode::UnsupportedMediaType,
            DecodeError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            DecodeError::Corrupt { .. } => ErrorCode::BadData,
        }
    }

    pub fn into_api_error(self, family: ApiFamily) -> ApiError {
        ApiError::new(family, self.code(), self.to_string())
    }
}

/// Undo a `Content-Encoding` (`gzip`, `x-gzip`, `deflate`, `zstd`, `snappy` block format, `identity`),
/// refusing output larger than `max_decoded` bytes. Several encodings may be listed, comma-separated,
/// in the order they were applied.
pub fn decode_content(encoding: &str, body: Bytes, max_decoded: usize) -> Result<Bytes, DecodeError> {
    let mut body = body;
    for step in encoding.split(',').rev() {
        body = decode_one(step.trim(), body, max_decoded)?;
    }
    Ok(body)
}

fn decode_one(encoding: &str, body: Bytes, max_decoded: usize) -> Result<Bytes, DecodeError> {
    let too_large = DecodeError::TooLarge { limit: max_decoded, decoded: true };
    match encoding.to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(body),
        "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(&body[..]), max_decoded, "gzip"),
        "deflate" => read_capped(flate2::read::ZlibDecoder::new(&body[..]), max_decoded, "deflate"),
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(&body[..])
                .map_err(|e| DecodeError::Corrupt { encoding: "zstd", reason: e.to_string() })?;
            read_capped(decoder, max_decoded, "zstd")
        }
        "snappy" => {
            let corrupt = |e: snap::Error| DecodeError::Corrupt { encoding: "snappy", reason: e.to_string() };
            let len = snap::raw::decompress_len(&body).map_err(corrupt)?;
            if len > max_decoded {
                return Err(too_large);
            }
            snap::raw::Decoder::new().decompress_vec(&body).map(Bytes::from).map_err(corrupt)
        }
        other => Err(DecodeError::UnsupportedEncoding(other.to_string())),
    }
}

fn read_capped(reader: impl Read, max: usize, encoding: &'static str) -> Result<Bytes, DecodeError> {
    let mut out = Vec::new();
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt { encoding, reason: e.to_string() })?;
    if out.len() > max {
        return Err(DecodeError::TooLarge { limit: max, decoded: true });
    }
    Ok(Bytes::from(out))
}

/// A request body read under [`BodyLimit`] with its `Content-Encoding` undone. Rejections are
/// [`ApiError`]s in the family of the route (or an [`ApiFamily`] put into the request's extensions).
#[derive(Debug)]
pub struct DecodedBody {
    pub bytes: Bytes,
    /// The request's `Content-Type`, if any, for handlers that dispatch on it.
    pub content_type: Option<String>,
    /// The limits it was read under (for handlers that decode further).
    pub limit: BodyLimit,
}

impl<S: Send + Sync> FromRequest<S> for DecodedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let family = ApiFamily::for_request(&req);
        let limit = req.extensions().get::<BodyLimit>().copied().unwrap_or_default();
        let headers = req.headers().clone();
        let too_large = || {
            DecodeError::TooLarge { limit: limit.max_wire_bytes, decoded: false }.into_api_error(family)
        };
        if declared_length(&headers).is_some_and(|len| len > limit.max_wire_bytes) {
            return Err(too_large());
        }
        let collected = Limited::new(req.into_body(), limit.max_wire_bytes).collect().await;
        let bytes = match collected {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::new(family, ErrorCode::BadData, format!("cannot read request body: {e}")));
            }
        };
        let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
        let bytes = decode_content(encoding, bytes, limit.max_decoded_bytes).map_err(|e| e.into_api_error(family))?;
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(DecodedBody { bytes, content_type, limit })
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    #[test]
    fn every_supported_encoding_round_trips() {
        let data = b"hello hello hello hello".repeat(100);
        let snappy = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let zstd = zstd::encode_all(&data[..], 1).unwrap();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&data).unwrap();
        for (enc, body) in [
            ("gzip", gzip(&data)),
            ("x-gzip", gzip(&data)),
            ("snappy", Bytes::from(snappy)),
            ("zstd", Bytes::from(zstd)),
            ("deflate", Bytes::from(zlib.finish().unwrap())),
            ("identity", Bytes::from(data.clone())),
            ("", Bytes::from(data.clone())),
        ] {
            assert_eq!(decode_content(enc, body, 1 << 20).unwrap(), &data[..], "{enc}");
        }
    }

    #[test]
    fn stacked_encodings_are_undone_last_first() {
        let data = b"stacked".to_vec();
        let body = gzip(&snap::raw::Encoder::new().compress_vec(&data).unwrap());
        assert_eq!(decode_content("snappy, gzip", body, 1024).unwrap(), &data[..]);
    }

    #[test]
    fn decompression_bombs_are_refused() {
        let data = vec![0u8; 1 << 20];
        for (enc, body) in [
            ("gzip", gzip(&data)),
            ("snappy", Bytes::from(snap::raw::Encoder::new().compress_vec(&data).unwrap())),
            ("zstd", Bytes::from(zstd::encode_all(&data[..], 1).unwrap())),
        ] {
            assert_eq!(
                decode_content(enc, body, 1000),
                Err(DecodeError::TooLarge { limit: 1000, decoded: true }),
                "{enc}"
            );
        }
    }

    #[test]
    fn corrupt_and_unknown_encodings_are_reported() {
        let err = decode_content("snappy", Bytes::from_static(b"\xff\xff\xff\xff\xff"), 1024).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadData);
        let err = decode_content("gzip", Bytes::from_static(b"not gzip"), 1024).unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt { encoding: "gzip", .. }), "{err:?}");
        let err = decode_content("br", Bytes::from_static(b"x"), 1024).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnsupportedMediaType);
    }

    #[tokio::test]
    async fn extractor_enforces_the_wire_limit_in_the_route_family() {
        let limit = BodyLimit { max_wire_bytes: 10, max_decoded_bytes: 100 };
        let mut req = Request::builder()
            .uri("/loki/api/v1/push")
            .body(axum::body::Body::from(vec![b'x'; 11]))
            .unwrap();
        req.extensions_mut().insert(limit);
        let err = DecodedBody::from_request(req, &()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::PayloadTooLarge);
        assert_eq!(err.family, ApiFamily::Loki);
        assert!(err.message.contains("limit of 10 bytes"), "{}", err.message);
    }

    #[tokio::test]
    async fn extractor_decodes_and_keeps_content_type() {
        let req = Request::builder()
            .uri("/api/v1/write")
            .header(header::CONTENT_ENCODING, "gzip")
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(axum::body::Body::from(gzip(b"payload")))
            .unwrap();
        let body = DecodedBody::from_request(req, &()).await.unwrap();
        assert_eq!(body.bytes, &b"payload"[..]);
        assert_eq!(body.content_type.as_deref(), Some("application/x-protobuf"));
    }
}

// Pharos — proto/src/body.rs
