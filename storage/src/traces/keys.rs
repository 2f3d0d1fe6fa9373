//! Key layouts of the two column families of a bucket (`docs/format/traces.md`).
//!
//! `spans.<date>`: *trace chunks*, the spans of one trace in one append, under
//! `trace id (16) | first start time (u64 BE) | chunk id (u64 BE)`, 32 bytes: the chunks of one
//! trace are contiguous, and the 16-byte prefix extractor plus prefix bloom filters let a
//! trace-by-id seek skip files that lack the trace. One key per trace and batch rather than per
//! span keeps RocksDB's memtable inserts (its costliest step here) few.
//!
//! `index.<date>`: one byte says what a key is, then its fields; strings are a varint length and
//! the bytes, so no separator byte can be confused with content. Secondary indexes are stored as
//! *posting groups*: one key per index value and append (more when the append's start times spread
//! over more than [`GROUP_WINDOW_NANOS`]), ending with the 16-byte suffix
//! `inverted newest start (u64 BE, u64::MAX − start) | group id (u64 BE)`, so within one index
//! prefix groups sort newest first; the value lists the group's spans (see
//! `codec::encode_postings`). A span does not need a RocksDB key per index entry.

use super::codec::{StoredFields, put_bytes};
use super::model::{SpanKind, TraceId};
use super::search::TagScope;

/// Length of a trace chunk key.
pub const CHUNK_KEY_LEN: usize = 32;
/// Length of a posting group key's suffix (inverted newest start, group id).
pub const GROUP_SUFFIX_LEN: usize = 16;
/// The start times of one posting group lie less than this many nanoseconds (10 s) below its newest:
/// a search whose range ends at `hi` starts reading at groups whose newest start is below
/// `hi + window`, and keeps at most about a window's postings of one index value in memory while
/// merging groups newest first. Exporters batch a few seconds of spans, so most appends make one
/// group per index value.
pub const GROUP_WINDOW_NANOS: u64 = 10_000_000_000;
/// The prefix extractor's length in the spans column family: the trace id.
pub const TRACE_PREFIX_LEN: usize = 16;

/// `R | hash (u64 BE)`: an encoded resource.
pub const RESOURCE: u8 = b'R';
/// `S | hash (u64 BE)`: an encoded scope.
pub const SCOPE: u8 = b'S';
/// `C`: the bucket's catalogue, counts per [`CatalogueKey`] (see `codec::encode_counts`).
pub const CATALOGUE_KEY: &[u8] = b"C";

/// Secondary indexes: the first byte of their keys.
pub const INDEX_TIME: u8 = b't';
pub const INDEX_NAME: u8 = b'n';
pub const INDEX_ERROR: u8 = b'e';
pub const INDEX_DURATION: u8 = b'd';
pub const INDEX_ATTRIBUTE: u8 = b'a';

/// The attribute index splits each attribute key's postings into this many partitions by the
/// CRC-32C of the value's display string (postings carry that CRC): one posting group per key,
/// partition and append even for values that are new in every span (`url.path` with ids), at the
/// cost of reading the other values of the partition, which the CRC rejects.
pub const ATTRIBUTE_PARTITIONS: u32 = 16;

/// The CRC-32C of an attribute value's display string, as postings of the attribute index and
/// resource summaries carry it.
pub fn value_crc(display: &str) -> u32 {
    crc32c::crc32c(display.as_bytes())
}

/// The attribute index partition of a value, by its [`value_crc`].
pub fn attribute_partition(value_crc: u32) -> u8 {
    (value_crc % ATTRIBUTE_PARTITIONS) as u8
}

pub fn chunk_key(trace_id: &TraceId, first_start: u64, chunk_id: u64) -> [u8; CHUNK_KEY_LEN] {
    let mut key = [0u8; CHUNK_KEY_LEN];
    key[..16].copy_from_slice(trace_id);
    key[16..24].copy_from_slice(&first_start.to_be_bytes());
    key[24..].copy_from_slice(&chunk_id.to_be_bytes());
    key
}

/// `(trace id, first start)` of a chunk key; `None` when it is not 32 bytes.
pub fn parse_chunk_key(key: &[u8]) -> Option<(TraceId, u64)> {
    if key.len() != CHUNK_KEY_LEN {
        return None;
    }
    Some((key[..16].try_into().ok()?, u64::from_be_bytes(key[16..24].try_into().ok()?)))
}

/// Appends the suffix of a posting group key.
pub fn put_group_suffix(out: &mut Vec<u8>, newest_start: u64, group_id: u64) {
    out.extend_from_slice(&(u64::MAX - newest_start).to_be_bytes());
    out.extend_from_slice(&group_id.to_be_bytes());
}

/// The newest start time a posting group key's suffix names; `None` when it is not 16 bytes.
pub fn group_newest_start(suffix: &[u8]) -> Option<u64> {
    if suffix.len() != GROUP_SUFFIX_LEN {
        return None;
    }
    Some(u64::MAX - u64::from_be_bytes(suffix[..8].try_into().ok()?))
}

pub fn reference_key(kind: u8, hash: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = kind;
    key[1..].copy_from_slice(&hash.to_be_bytes());
    key
}

/// Duration classes of the duration index: class 0 holds 0 ns, class `c ≥ 1` the durations of
/// bit length `2c − 1` or `2c`, i.e. `[4^(c−1), 4^c − 1]` ns. 33 classes cover `u64`.
pub fn duration_class(nanos: u64) -> u8 {
    ((64 - nanos.leading_zeros()) as u8).div_ceil(2)
}

pub const DURATION_CLASSES: usize = 33;

/// The prefix of one secondary index's entries for one value (everything before the suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexPrefix<'a> {
    /// `t`: every span.
    Time,
    /// `n | service | span name`.
    Name(&'a str, &'a str),
    /// `e | service`: spans with status `ERROR`.
    Error(&'a str),
    /// `d | service | duration class (u8)`: also the service index (a service's spans are the
    /// union of its classes).
    Duration(&'a str, u8),
    /// `a | attribute key | partition (u8)`: span attributes only (resource attributes are
    /// matched through the bucket's resources and the service's `d` entries).
    Attribute(&'a str, u8),
}

impl IndexPrefix<'_> {
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            IndexPrefix::Time => out.push(INDEX_TIME),
            IndexPrefix::Name(service, name) => {
                out.push(INDEX_NAME);
                put_bytes(out, service.as_bytes());
                put_bytes(out, name.as_bytes());
            }
            IndexPrefix::Error(service) => {
                out.push(INDEX_ERROR);
                put_bytes(out, service.as_bytes());
            }
            IndexPrefix::Duration(service, class) => {
                out.push(INDEX_DURATION);
                put_bytes(out, service.as_bytes());
                out.push(*class);
            }
            IndexPrefix::Attribute(key, partition) => {
                out.push(INDEX_ATTRIBUTE);
                put_bytes(out, key.as_bytes());
                out.push(*partition);
            }
        }
    }

    /// The index entry fields this index's posting groups store: what the index value does not
    /// imply, the resource tag only where searches filter by resource (the `d` entries) and the
    /// value CRC only in the attribute index.
    pub fn stored_fields(&self) -> StoredFields {
        let (service_crc, name_crc, resource_tag, value_crc) = match self {
            IndexPrefix::Time => (true, true, false, false),
            IndexPrefix::Attribute(..) => (true, true, false, true),
            IndexPrefix::Name(..) => (false, false, false, false),
            IndexPrefix::Error(_) => (false, true, false, false),
            IndexPrefix::Duration(..) => (false, true, true, false),
        };
        StoredFields { service_crc, name_crc, resource_tag, value_crc }
    }

    pub fn to_vec(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.write(&mut out);
        out
    }
}

/// The smallest key greater than every key starting with `prefix`; `None` when there is none
/// (the prefix is all `0xff`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// What a catalogue entry counts. Entry keys are a kind byte and fields, listed below.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CatalogueKey {
    /// `0`: every span of the bucket.
    Spans,
    /// `1 | service`: spans of the service.
    Service(String),
    /// `2 | service | span name | kind (u8)`: spans of the operation.
    Operation(String, String, SpanKind),
    /// `3 | service`: spans of the service with status `ERROR`.
    Errors(String),
    /// `4 | service | duration class (u8)`: spans of the service in the class.
    Duration(String, u8),
    /// `5 | scope (u8: 0 resource, 1 span) | attribute key`: occurrences of the key.
    TagName(TagScope, String),
    /// `6 | scope | attribute key | value`: occurrences of the key with this value; the value is
    /// a type byte (1 string, 2 false, 3 true, 4 int, 5 double, as attribute values are encoded)
    /// and the value's encoding.
    TagValue(TagScope, String, Vec<u8>),
}

const CAT_SPANS: u8 = 0;
const CAT_SERVICE: u8 = 1;
const CAT_OPERATION: u8 = 2;
const CAT_ERRORS: u8 = 3;
const CAT_DURATION: u8 = 4;
const CAT_TAG_NAME: u8 = 5;
const CAT_TAG_VALUE: u8 = 6;

fn scope_byte(scope: TagScope) -> u8 {
    match scope {
        TagScope::Resource => 0,
        TagScope::Span => 1,
    }
}

impl CatalogueKey {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        match self {
            CatalogueKey::Spans => out.push(CAT_SPANS),
            CatalogueKey::Service(service) => {
                out.push(CAT_SERVICE);
                put_bytes(&mut out, service.as_bytes());
            }
            CatalogueKey::Operation(service, name, kind) => {
                out.push(CAT_OPERATION);
                put_bytes(&mut out, service.as_bytes());
                put_bytes(&mut out, name.as_bytes());
                out.push(*kind as u8);
            }
            CatalogueKey::Errors(service) => {
                out.push(CAT_ERRORS);
                put_bytes(&mut out, service.as_bytes());
            }
            CatalogueKey::Duration(service, class) => {
                out.push(CAT_DURATION);
                put_bytes(&mut out, service.as_bytes());
                out.push(*class);
            }
            CatalogueKey::TagName(scope, key) => {
                out.push(CAT_TAG_NAME);
                out.push(scope_byte(*scope));
                put_bytes(&mut out, key.as_bytes());
            }
            CatalogueKey::TagValue(scope, key, value) => {
                out.push(CAT_TAG_VALUE);
                out.push(scope_byte(*scope));
                put_bytes(&mut out, key.as_bytes());
                out.extend_from_slice(value);
            }
        }
        out
    }

    pub fn decode(key: &[u8]) -> Result<CatalogueKey, super::codec::DecodeError> {
        use super::codec::{DecodeError, Reader};
        let mut r = Reader::new(key);
        let scope = |b: u8| match b {
            0 => Ok(TagScope::Resource),
            1 => Ok(TagScope::Span),
            b => Err(DecodeError(format!("bad tag scope {b}"))),
        };
        let parsed = match r.u8()? {
            CAT_SPANS => CatalogueKey::Spans,
            CAT_SERVICE => CatalogueKey::Service(r.string()?),
            CAT_OPERATION => {
                let service = r.string()?;
                let name = r.string()?;
                let kind = match r.u8()? {
                    k @ 0..=5 => SpanKind::from_i32(i32::from(k)),
                    k => return Err(DecodeError(format!("bad span kind {k}"))),
                };
                CatalogueKey::Operation(service, name, kind)
            }
            CAT_ERRORS => CatalogueKey::Errors(r.string()?),
            CAT_DURATION => {
                let service = r.string()?;
                let class = r.u8()?;
                if usize::from(class) >= DURATION_CLASSES {
                    return Err(DecodeError(format!("bad duration class {class}")));
                }
                CatalogueKey::Duration(service, class)
            }
            CAT_TAG_NAME => {
                let s = scope(r.u8()?)?;
                CatalogueKey::TagName(s, r.string()?)
            }
            CAT_TAG_VALUE => {
                let s = scope(r.u8()?)?;
                let k = r.string()?;
                let rest = r.take(r.remaining())?.to_vec();
                CatalogueKey::TagValue(s, k, rest)
            }
            what => return Err(DecodeError(format!("unknown catalogue entry kind {what}"))),
        };
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes in a catalogue key".into()));
        }
        Ok(parsed)
    }
}

/// Lowercase hex of a key, for error messages.
pub fn key_hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_sort_by_trace_then_first_start() {
        let t = [1u8; 16];
        let a = chunk_key(&t, 5, u64::MAX);
        let b = chunk_key(&t, 6, 0);
        let c = chunk_key(&[2u8; 16], 0, 0);
        assert!(a < b && b < c);
        assert_eq!(parse_chunk_key(&a), Some((t, 5)));
        assert_eq!(parse_chunk_key(&a[..31]), None);
    }

    #[test]
    fn group_suffixes_sort_newest_first() {
        let mut newer = Vec::new();
        put_group_suffix(&mut newer, 200, u64::MAX);
        let mut older = Vec::new();
        put_group_suffix(&mut older, 100, 0);
        assert!(newer < older);
        assert_eq!(group_newest_start(&newer), Some(200));
        assert_eq!(group_newest_start(&newer[1..]), None);
    }

    #[test]
    fn duration_classes_are_powers_of_four() {
        assert_eq!(duration_class(0), 0);
        assert_eq!(duration_class(1), 1);
        assert_eq!(duration_class(3), 1);
        assert_eq!(duration_class(4), 2);
        assert_eq!(duration_class(15), 2);
        assert_eq!(duration_class(16), 3);
        assert_eq!(duration_class(u64::MAX) as usize, DURATION_CLASSES - 1);
    }

    #[test]
    fn catalogue_keys_round_trip() {
        for key in [
            CatalogueKey::Spans,
            CatalogueKey::Service("a\0b".into()),
            CatalogueKey::Operation("svc".into(), "GET /".into(), SpanKind::Server),
            CatalogueKey::Errors("svc".into()),
            CatalogueKey::Duration("svc".into(), 12),
            CatalogueKey::TagName(TagScope::Resource, "host.name".into()),
            CatalogueKey::TagValue(TagScope::Span, "http.status_code".into(), vec![4, 0x90, 0x03]),
        ] {
            assert_eq!(CatalogueKey::decode(&key.encode()), Ok(key));
        }
        assert!(CatalogueKey::decode(b"\x09").is_err());
        assert!(CatalogueKey::decode(b"\x04\x01a\x40").is_err());
    }

    #[test]
    fn prefix_successor_carries() {
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }
}

// Pharos — storage/src/traces/keys.rs
