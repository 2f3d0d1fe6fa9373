//! The byte encodings of the values the trace store keeps: spans, resources, scopes, index entries
//! (`docs/format/traces.md` describes them byte by byte).
//!
//! Integers are LEB128 varints (signed ones zigzag-encoded) unless the format says otherwise;
//! strings and byte strings are a varint length followed by the bytes. Span, resource and scope
//! values start with [`FORMAT_VERSION`]. Decoding never panics and never allocates more than the
//! input can hold: every count is checked against the bytes left, nesting is bounded by
//! [`MAX_NESTING`], and any inconsistency is a [`DecodeError`], which the store reports as
//! `TraceError::Corrupt` naming the key.

use std::sync::Arc;

use super::model::{
    AttributeValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
};

/// The leading byte of every span, resource and scope value. A value with another first byte is
/// refused as corrupt; a later format would bump it and keep decoding version 1.
pub const FORMAT_VERSION: u8 = 1;

/// How deep attribute values (`Array`, `KeyValueList`) may nest. OTLP decoders bound nesting
/// already (prost's recursion limit is 100); anything deeper is stored as `Empty` so that every
/// value the encoder writes decodes again.
pub const MAX_NESTING: usize = 64;

/// Why a value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl DecodeError {
    fn new(detail: impl Into<String>) -> Self {
        DecodeError(detail.into())
    }
}

// Attribute value tags.
const TAG_EMPTY: u8 = 0;
const TAG_STRING: u8 = 1;
const TAG_FALSE: u8 = 2;
const TAG_TRUE: u8 = 3;
const TAG_INT: u8 = 4;
const TAG_DOUBLE: u8 = 5;
const TAG_BYTES: u8 = 6;
const TAG_ARRAY: u8 = 7;
const TAG_KEY_VALUE_LIST: u8 = 8;

/// Appends a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a zigzag-encoded signed varint.
pub fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Appends a varint length and the bytes.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads the encodings above from a byte slice, front to back.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| DecodeError::new("value ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::new(format!("{n} bytes announced, {} left", self.remaining())));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(DecodeError::new("varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::new("varint longer than 10 bytes"))
    }

    pub fn u32_varint(&mut self) -> Result<u32, DecodeError> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| DecodeError::new(format!("{v} does not fit 32 bits")))
    }

    pub fn signed(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A count of items that each take at least one byte: bounded by the bytes left, so a corrupt
    /// count never makes the decoder reserve memory the value cannot fill.
    pub fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        if n > self.remaining() as u64 {
            return Err(DecodeError::new(format!("count {n} exceeds the {} bytes left", self.remaining())));
        }
        Ok(n as usize)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| DecodeError::new("length overflows"))?;
        self.take(n)
    }

    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|e| DecodeError::new(format!("string is not UTF-8: {e}")))
    }

    pub fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(str::to_owned)
    }

    fn end(&self, what: &str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(format!("{} trailing bytes after the {what}", self.remaining())))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Attributes

pub fn put_attributes(out: &mut Vec<u8>, attributes: &[KeyValue], depth: usize) {
    put_varint(out, attributes.len() as u64);
    for kv in attributes {
        put_bytes(out, kv.key.as_bytes());
        put_value(out, &kv.value, depth);
    }
}

pub fn put_value(out: &mut Vec<u8>, value: &AttributeValue, depth: usize) {
    match value {
        AttributeValue::Empty => out.push(TAG_EMPTY),
        AttributeValue::String(s) => {
            out.push(TAG_STRING);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::Bool(b) => out.push(if *b { TAG_TRUE } else { TAG_FALSE }),
        AttributeValue::Int(i) => {
            out.push(TAG_INT);
            put_signed(out, *i);
        }
        AttributeValue::Double(d) => {
            out.push(TAG_DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        AttributeValue::Bytes(b) => {
            out.push(TAG_BYTES);
            put_bytes(out, b);
        }
        AttributeValue::Array(_) | AttributeValue::KeyValueList(_) if depth >= MAX_NESTING => out.push(TAG_EMPTY),
        AttributeValue::Array(values) => {
            out.push(TAG_ARRAY);
            put_varint(out, values.len() as u64);
            for v in values {
                put_value(out, v, depth + 1);
            }
        }
        AttributeValue::KeyValueList(pairs) => {
            out.push(TAG_KEY_VALUE_LIST);
            put_attributes(out, pairs, depth + 1);
        }
    }
}

pub fn read_attributes(r: &mut Reader<'_>, depth: usize) -> Result<Vec<KeyValue>, DecodeError> {
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.string()?;
        let value = read_value(r, depth)?;
        out.push(KeyValue { key, value });
    }
    Ok(out)
}

pub fn read_value(r: &mut Reader<'_>, depth: usize) -> Result<AttributeValue, DecodeError> {
    Ok(match r.u8()? {
        TAG_EMPTY => AttributeValue::Empty,
        TAG_STRING => AttributeValue::String(r.string()?),
        TAG_FALSE => AttributeValue::Bool(false),
        TAG_TRUE => AttributeValue::Bool(true),
        TAG_INT => AttributeValue::Int(r.signed()?),
        TAG_DOUBLE => AttributeValue::Double(f64::from_bits(u64::from_le_bytes(r.fixed()?))),
        TAG_BYTES => AttributeValue::Bytes(r.bytes()?.to_vec()),
        TAG_ARRAY | TAG_KEY_VALUE_LIST if depth >= MAX_NESTING => {
            return Err(DecodeError::new(format!("attribute values nest deeper than {MAX_NESTING}")));
        }
        TAG_ARRAY => {
            let n = r.count()?;
            let mut values = Vec::with_capacity(n);
            for _ in 0..n {
                values.push(read_value(r, depth + 1)?);
            }
            AttributeValue::Array(values)
        }
        TAG_KEY_VALUE_LIST => AttributeValue::KeyValueList(read_attributes(r, depth + 1)?),
        tag => return Err(DecodeError::new(format!("unknown attribute value tag {tag}"))),
    })
}

// ---------------------------------------------------------------------------------------------
// Resources and scopes

/// `version, attributes, dropped_attributes_count, schema_url`.
pub fn encode_resource(resource: &Resource, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    put_attributes(out, &resource.attributes, 0);
    put_varint(out, u64::from(resource.dropped_attributes_count));
    put_bytes(out, resource.schema_url.as_bytes());
}

pub fn decode_resource(bytes: &[u8]) -> Result<Resource, DecodeError> {
    let mut r = Reader::new(bytes);
    check_version(&mut r)?;
    let resource = Resource {
        attributes: read_attributes(&mut r, 0)?,
        dropped_attributes_count: r.u32_varint()?,
        schema_url: r.string()?,
    };
    r.end("resource")?;
    Ok(resource)
}

/// `version, name, version, attributes, dropped_attributes_count, schema_url`.
pub fn encode_scope(scope: &Scope, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    put_bytes(out, scope.name.as_bytes());
    put_bytes(out, scope.version.as_bytes());
    put_attributes(out, &scope.attributes, 0);
    put_varint(out, u64::from(scope.dropped_attributes_count));
    put_bytes(out, scope.schema_url.as_bytes());
}

pub fn decode_scope(bytes: &[u8]) -> Result<Scope, DecodeError> {
    let mut r = Reader::new(bytes);
    check_version(&mut r)?;
    let scope = Scope {
        name: r.string()?,
        version: r.string()?,
        attributes: read_attributes(&mut r, 0)?,
        dropped_attributes_count: r.u32_varint()?,
        schema_url: r.string()?,
    };
    r.end("scope")?;
    Ok(scope)
}

fn check_version(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.u8()? {
        FORMAT_VERSION => Ok(()),
        v => Err(DecodeError::new(format!("unknown format version {v}"))),
    }
}

/// A 64-bit content hash of an encoded resource or scope: the reference a span holds. Fixed
/// forever (it names keys on disk). Two different resources of one bucket colliding would make
/// spans show the wrong one; at 64 bits that takes around 4·10⁹ distinct resources in a day.
pub fn content_hash(bytes: &[u8]) -> u64 {
    const K1: u64 = 0x87c3_7b91_1142_53d5;
    const K2: u64 = 0x4cf5_ad43_2745_937f;
    let mut h = 0x9e37_79b9_7f4a_7c15 ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut k = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        k = k.wrapping_mul(K1).rotate_left(31).wrapping_mul(K2);
        h = (h ^ k).rotate_left(27).wrapping_mul(5).wrapping_add(0x52dc_e729);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut buf = [0u8; 8];
        buf[..tail.len()].copy_from_slice(tail);
        let k = u64::from_le_bytes(buf).wrapping_mul(K2).rotate_left(33).wrapping_mul(K1);
        h ^= k;
    }
    // MurmurHash3's finaliser.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

// ---------------------------------------------------------------------------------------------
// Spans

/// Encodes everything of a span that its key (trace id, start time, span id) does not hold, with
/// the resource and scope as references (`content_hash` of their encodings).
///
/// Times of the end and of events are stored as zigzag differences from the start (wrapping, so
/// any `u64` round-trips).
pub fn encode_span(span: &Span, resource_ref: u64, scope_ref: u64, out: &mut Vec<u8>) {
    let start = span.start_time_unix_nano;
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&resource_ref.to_le_bytes());
    out.extend_from_slice(&scope_ref.to_le_bytes());
    match &span.parent_span_id {
        Some(parent) => {
            out.push(1);
            out.extend_from_slice(parent);
        }
        None => out.push(0),
    }
    out.push(span.kind as u8);
    out.push(span.status.code as u8);
    put_signed(out, span.end_time_unix_nano.wrapping_sub(start) as i64);
    put_varint(out, u64::from(span.flags));
    put_bytes(out, span.name.as_bytes());
    put_bytes(out, span.trace_state.as_bytes());
    put_attributes(out, &span.attributes, 0);
    put_varint(out, u64::from(span.dropped_attributes_count));
    put_varint(out, span.events.len() as u64);
    for event in &span.events {
        put_signed(out, event.time_unix_nano.wrapping_sub(start) as i64);
        put_bytes(out, event.name.as_bytes());
        put_attributes(out, &event.attributes, 0);
        put_varint(out, u64::from(event.dropped_attributes_count));
    }
    put_varint(out, u64::from(span.dropped_events_count));
    put_varint(out, span.links.len() as u64);
    for link in &span.links {
        out.extend_from_slice(&link.trace_id);
        out.extend_from_slice(&link.span_id);
        put_bytes(out, link.trace_state.as_bytes());
        put_attributes(out, &link.attributes, 0);
        put_varint(out, u64::from(link.dropped_attributes_count));
        put_varint(out, u64::from(link.flags));
    }
    put_varint(out, u64::from(span.dropped_links_count));
    put_bytes(out, span.status.message.as_bytes());
}

/// One span of a trace chunk, not yet decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkEntry<'a> {
    pub start: u64,
    pub span_id: SpanId,
    /// The span's encoding ([`encode_span`]).
    pub body: &'a [u8],
}

/// A trace chunk's value: `version, count (varint)`, then per span, in order of start time and
/// span id: `start − first start (varint), span id (8), body length (varint), body`. The first
/// start is in the key; `entries` must be sorted.
pub fn encode_chunk(entries: &[ChunkEntry<'_>], out: &mut Vec<u8>) {
    let first = entries.first().map_or(0, |e| e.start);
    out.push(FORMAT_VERSION);
    put_varint(out, entries.len() as u64);
    for e in entries {
        put_varint(out, e.start - first);
        out.extend_from_slice(&e.span_id);
        put_bytes(out, e.body);
    }
}

/// The spans of a chunk whose key names `first_start`. Refuses chunks whose spans are out of
/// order or whose first span does not start at `first_start`.
pub fn decode_chunk(value: &[u8], first_start: u64) -> Result<Vec<ChunkEntry<'_>>, DecodeError> {
    let mut r = Reader::new(value);
    check_version(&mut r)?;
    let n = r.count()?;
    let mut out: Vec<ChunkEntry<'_>> = Vec::with_capacity(n);
    for i in 0..n {
        let delta = r.varint()?;
        if i == 0 && delta != 0 {
            return Err(DecodeError::new("the first span does not start at the chunk's first start"));
        }
        let start = first_start
            .checked_add(delta)
            .ok_or_else(|| DecodeError::new(format!("span starts {delta} ns after the end of time")))?;
        let entry = ChunkEntry { start, span_id: r.fixed()?, body: r.bytes()? };
        if out.last().is_some_and(|p| (p.start, p.span_id) > (entry.start, entry.span_id)) {
            return Err(DecodeError::new("spans out of order"));
        }
        out.push(entry);
    }
    r.end("trace chunk")?;
    Ok(out)
}

/// The resource and scope references of an encoded span, read without decoding the rest.
pub fn span_references(value: &[u8]) -> Result<(u64, u64), DecodeError> {
    let mut r = Reader::new(value);
    check_version(&mut r)?;
    Ok((u64::from_le_bytes(r.fixed()?), u64::from_le_bytes(r.fixed()?)))
}

/// Decodes a span value; the key's fields and the resolved resource and scope complete it.
pub fn decode_span(
    value: &[u8],
    trace_id: TraceId,
    start: u64,
    span_id: SpanId,
    resource: Arc<Resource>,
    scope: Arc<Scope>,
) -> Result<Span, DecodeError> {
    let mut r = Reader::new(value);
    check_version(&mut r)?;
    r.take(16)?; // references, resolved by the caller
    let parent_span_id = match r.u8()? {
        0 => None,
        1 => Some(r.fixed::<8>()?),
        b => return Err(DecodeError::new(format!("bad parent marker {b}"))),
    };
    let kind = match r.u8()? {
        k @ 0..=5 => SpanKind::from_i32(i32::from(k)),
        k => return Err(DecodeError::new(format!("bad span kind {k}"))),
    };
    let code = match r.u8()? {
        c @ 0..=2 => StatusCode::from_i32(i32::from(c)),
        c => return Err(DecodeError::new(format!("bad status code {c}"))),
    };
    let end = start.wrapping_add(r.signed()? as u64);
    let flags = r.u32_varint()?;
    let name = r.string()?;
    let trace_state = r.string()?;
    let attributes = read_attributes(&mut r, 0)?;
    let dropped_attributes_count = r.u32_varint()?;
    let n = r.count()?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(Event {
            time_unix_nano: start.wrapping_add(r.signed()? as u64),
            name: r.string()?,
            attributes: read_attributes(&mut r, 0)?,
            dropped_attributes_count: r.u32_varint()?,
        });
    }
    let dropped_events_count = r.u32_varint()?;
    let n = r.count()?;
    let mut links = Vec::with_capacity(n);
    for _ in 0..n {
        links.push(Link {
            trace_id: r.fixed()?,
            span_id: r.fixed()?,
            trace_state: r.string()?,
            attributes: read_attributes(&mut r, 0)?,
            dropped_attributes_count: r.u32_varint()?,
            flags: r.u32_varint()?,
        });
    }
    let dropped_links_count = r.u32_varint()?;
    let message = r.string()?;
    r.end("span")?;
    Ok(Span {
        resource,
        scope,
        trace_id,
        span_id,
        parent_span_id,
        trace_state,
        flags,
        name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        dropped_attributes_count,
        events,
        dropped_events_count,
        links,
        dropped_links_count,
        status: Status { code, message },
    })
}

// ---------------------------------------------------------------------------------------------
// Index entries

/// What every secondary-index entry carries besides its key, so that a search rejects most
/// candidates without reading the span: `flags` (bit 0 error status, bits 1–3 the kind, bits 4–7
/// say which of the next four fields follow), then the CRC-32C of the service name, the CRC-32C of
/// the span name, the low 32 bits of the resource reference, the CRC-32C of the indexed attribute
/// value (u32 LE each, when present), the duration (varint ns). A posting group leaves out what
/// its index value implies or its searches do not need ([`StoredFields`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub error: bool,
    pub kind: SpanKind,
    pub service_crc: Option<u32>,
    pub name_crc: Option<u32>,
    pub resource_tag: Option<u32>,
    pub value_crc: Option<u32>,
    pub duration_nanos: u64,
}

/// Which optional fields of [`IndexEntry`] a posting group stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredFields {
    pub service_crc: bool,
    pub name_crc: bool,
    pub resource_tag: bool,
    pub value_crc: bool,
}

impl StoredFields {
    #[cfg(test)]
    pub const ALL: StoredFields =
        StoredFields { service_crc: true, name_crc: true, resource_tag: true, value_crc: true };
}

const HAS_SERVICE_CRC: u8 = 1 << 4;
const HAS_NAME_CRC: u8 = 1 << 5;
const HAS_RESOURCE_TAG: u8 = 1 << 6;
const HAS_VALUE_CRC: u8 = 1 << 7;

/// The low 32 bits of a resource reference, as index entries carry it.
pub fn resource_tag(resource_ref: u64) -> u32 {
    resource_ref as u32
}

impl IndexEntry {
    pub fn of(span: &Span, service: &str, resource_ref: u64) -> IndexEntry {
        IndexEntry {
            error: span.is_error(),
            kind: span.kind,
            service_crc: Some(crc32c::crc32c(service.as_bytes())),
            name_crc: Some(crc32c::crc32c(span.name.as_bytes())),
            resource_tag: Some(resource_tag(resource_ref)),
            value_crc: None,
            duration_nanos: span.duration_nanos(),
        }
    }

    pub fn encode(&self, stored: StoredFields, out: &mut Vec<u8>) {
        let service = self.service_crc.filter(|_| stored.service_crc);
        let name = self.name_crc.filter(|_| stored.name_crc);
        let resource = self.resource_tag.filter(|_| stored.resource_tag);
        let value = self.value_crc.filter(|_| stored.value_crc);
        let mut flags = u8::from(self.error) | (self.kind as u8) << 1;
        for (field, bit) in
            [(service, HAS_SERVICE_CRC), (name, HAS_NAME_CRC), (resource, HAS_RESOURCE_TAG), (value, HAS_VALUE_CRC)]
        {
            if field.is_some() {
                flags |= bit;
            }
        }
        out.push(flags);
        for v in [service, name, resource, value].into_iter().flatten() {
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_varint(out, self.duration_nanos);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<IndexEntry, DecodeError> {
        let flags = r.u8()?;
        if (flags >> 1) & 7 > 5 {
            return Err(DecodeError::new(format!("bad index entry flags {flags:#x}")));
        }
        let mut field = |bit: u8| -> Result<Option<u32>, DecodeError> {
            Ok(if flags & bit != 0 { Some(u32::from_le_bytes(r.fixed()?)) } else { None })
        };
        let service_crc = field(HAS_SERVICE_CRC)?;
        let name_crc = field(HAS_NAME_CRC)?;
        let resource_tag = field(HAS_RESOURCE_TAG)?;
        let value_crc = field(HAS_VALUE_CRC)?;
        Ok(IndexEntry {
            error: flags & 1 == 1,
            kind: SpanKind::from_i32(i32::from((flags >> 1) & 7)),
            service_crc,
            name_crc,
            resource_tag,
            value_crc,
            duration_nanos: r.varint()?,
        })
    }
}

/// One span of a posting group: which span (trace id, start time, span id) and its index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posting {
    pub start: u64,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub entry: IndexEntry,
}

impl Posting {
    /// The order of a group and of search results: newest start first, then trace id, then span
    /// id.
    pub fn order(&self) -> (u64, TraceId, SpanId) {
        (u64::MAX - self.start, self.trace_id, self.span_id)
    }
}

/// A posting group's value: `version, count (varint)`, then per posting, in [`Posting::order`]:
/// `newest start − start (varint), trace id (16), span id (8), index entry`. The newest start is
/// in the key.
pub fn encode_postings(postings: &[Posting], stored: StoredFields, out: &mut Vec<u8>) {
    let newest = postings.first().map_or(0, |p| p.start);
    out.push(FORMAT_VERSION);
    put_varint(out, postings.len() as u64);
    for p in postings {
        put_varint(out, newest - p.start);
        out.extend_from_slice(&p.trace_id);
        out.extend_from_slice(&p.span_id);
        p.entry.encode(stored, out);
    }
}

/// Decodes a posting group whose key names `newest_start`, calling `each` per posting. Refuses
/// groups whose postings are out of order or start after `newest_start`.
pub fn decode_postings(value: &[u8], newest_start: u64, mut each: impl FnMut(Posting)) -> Result<(), DecodeError> {
    let mut r = Reader::new(value);
    check_version(&mut r)?;
    let n = r.count()?;
    let mut previous: Option<(u64, TraceId, SpanId)> = None;
    for i in 0..n {
        let delta = r.varint()?;
        if i == 0 && delta != 0 {
            return Err(DecodeError::new("the first posting is not the newest"));
        }
        let start = newest_start
            .checked_sub(delta)
            .ok_or_else(|| DecodeError::new(format!("posting starts {delta} ns before time zero")))?;
        let posting = Posting { start, trace_id: r.fixed()?, span_id: r.fixed()?, entry: IndexEntry::read(&mut r)? };
        let order = posting.order();
        if previous.is_some_and(|p| p > order) {
            return Err(DecodeError::new("postings out of order"));
        }
        previous = Some(order);
        each(posting);
    }
    r.end("posting group")
}

/// The catalogue's value: `version, count (varint)`, then per entry, in key order:
/// `entry key (varint length + bytes), count (varint)`. Appends merge a value holding their
/// counts into the bucket's catalogue; RocksDB's merge operator sums them ([`sum_counts`]).
pub fn encode_counts<'a>(entries: impl ExactSizeIterator<Item = (&'a [u8], u64)>, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    put_varint(out, entries.len() as u64);
    for (key, count) in entries {
        put_bytes(out, key);
        put_varint(out, count);
    }
}

/// Calls `each` per entry of a catalogue value.
pub fn decode_counts<'a>(bytes: &'a [u8], mut each: impl FnMut(&'a [u8], u64)) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes);
    check_version(&mut r)?;
    for _ in 0..r.count()? {
        let key = r.bytes()?;
        each(key, r.varint()?);
    }
    r.end("catalogue")
}

/// Sums catalogue values entry by entry (the merge operator's work); `None` when one does not
/// decode, which RocksDB then reports as corruption when the catalogue is read.
pub fn sum_counts<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut sums: std::collections::BTreeMap<&[u8], u64> = std::collections::BTreeMap::new();
    for value in values {
        decode_counts(value, |key, n| {
            let sum = sums.entry(key).or_default();
            *sum = sum.saturating_add(n);
        })
        .ok()?;
    }
    let mut out = Vec::new();
    encode_counts(sums.into_iter(), &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader::new(&out).varint(), Ok(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut out = Vec::new();
            put_signed(&mut out, v);
            assert_eq!(Reader::new(&out).signed(), Ok(v));
        }
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).varint().is_err());
    }

    #[test]
    fn a_corrupt_count_is_refused_before_allocating() {
        let mut out = Vec::new();
        put_varint(&mut out, u64::MAX / 2);
        assert!(read_attributes(&mut Reader::new(&out), 0).is_err());
    }

    #[test]
    fn nesting_beyond_the_limit_is_stored_as_empty_and_decodes() {
        let mut value = AttributeValue::Int(1);
        for _ in 0..MAX_NESTING + 5 {
            value = AttributeValue::Array(vec![value]);
        }
        let mut out = Vec::new();
        put_value(&mut out, &value, 0);
        let back = read_value(&mut Reader::new(&out), 0).unwrap();
        let mut depth = 0;
        let mut cursor = &back;
        while let AttributeValue::Array(inner) = cursor {
            depth += 1;
            cursor = &inner[0];
        }
        assert_eq!(depth, MAX_NESTING);
        assert_eq!(cursor, &AttributeValue::Empty);
    }

    #[test]
    fn index_entries_round_trip_and_bad_flags_are_refused() {
        let entry = IndexEntry {
            error: true,
            kind: SpanKind::Consumer,
            service_crc: Some(7),
            name_crc: Some(u32::MAX),
            resource_tag: Some(9),
            value_crc: Some(11),
            duration_nanos: 1 << 40,
        };
        let mut out = Vec::new();
        entry.encode(StoredFields::ALL, &mut out);
        assert_eq!(IndexEntry::read(&mut Reader::new(&out)), Ok(entry));
        let mut short = Vec::new();
        entry.encode(
            StoredFields { service_crc: false, name_crc: true, resource_tag: false, value_crc: true },
            &mut short,
        );
        assert_eq!(short.len(), out.len() - 8);
        let back = IndexEntry::read(&mut Reader::new(&short)).unwrap();
        assert_eq!(back, IndexEntry { service_crc: None, resource_tag: None, ..entry });
        out[0] = 0xfe;
        assert!(IndexEntry::read(&mut Reader::new(&out)).is_err());
    }

    #[test]
    fn trace_chunks_round_trip_and_refuse_disorder() {
        let entries = vec![
            ChunkEntry { start: 10, span_id: [2; 8], body: b"a" },
            ChunkEntry { start: 10, span_id: [3; 8], body: b"" },
            ChunkEntry { start: 99, span_id: [1; 8], body: b"ccc" },
        ];
        let mut out = Vec::new();
        encode_chunk(&entries, &mut out);
        assert_eq!(decode_chunk(&out, 10), Ok(entries.clone()));
        assert!(decode_chunk(&out, u64::MAX - 5).is_err(), "past the end of time");
        let mut swapped = entries.clone();
        swapped.swap(0, 1);
        out.clear();
        encode_chunk(&swapped, &mut out);
        assert!(decode_chunk(&out, 10).is_err());
        assert!(decode_chunk(&out[..out.len() - 1], 10).is_err());
    }

    #[test]
    fn posting_groups_round_trip_and_refuse_disorder() {
        let entry = IndexEntry {
            error: false,
            kind: SpanKind::Server,
            service_crc: Some(1),
            name_crc: Some(2),
            resource_tag: Some(3),
            value_crc: None,
            duration_nanos: 4,
        };
        let postings = vec![
            Posting { start: 500, trace_id: [1; 16], span_id: [1; 8], entry },
            Posting { start: 500, trace_id: [1; 16], span_id: [2; 8], entry },
            Posting { start: 100, trace_id: [0; 16], span_id: [9; 8], entry },
        ];
        let mut out = Vec::new();
        encode_postings(&postings, StoredFields::ALL, &mut out);
        let mut back = Vec::new();
        decode_postings(&out, 500, |p| back.push(p)).unwrap();
        assert_eq!(back, postings);
        // Named with the wrong newest start, the group is out of order or before time zero.
        assert!(decode_postings(&out, 50, |_| ()).is_err());
        let mut swapped = postings.clone();
        swapped.swap(0, 1);
        out.clear();
        encode_postings(&swapped, StoredFields::ALL, &mut out);
        assert!(decode_postings(&out, 500, |_| ()).is_err());
    }

    #[test]
    fn catalogue_values_sum_entry_by_entry() {
        let mut a = Vec::new();
        encode_counts([(&b"x"[..], 2), (&b"y"[..], 1)].into_iter(), &mut a);
        let mut b = Vec::new();
        encode_counts([(&b"y"[..], 5), (&b"z"[..], 7)].into_iter(), &mut b);
        let sum = sum_counts([a.as_slice(), b.as_slice()].into_iter()).unwrap();
        let mut entries = Vec::new();
        decode_counts(&sum, |k, n| entries.push((k.to_vec(), n))).unwrap();
        assert_eq!(entries, [(b"x".to_vec(), 2), (b"y".to_vec(), 6), (b"z".to_vec(), 7)]);
        assert_eq!(sum_counts([a.as_slice(), &b[..b.len() - 1]].into_iter()), None);
    }

    #[test]
    fn content_hash_depends_on_every_byte_and_the_length() {
        let a = content_hash(b"service.name=checkout");
        assert_ne!(a, content_hash(b"service.name=checkouT"));
        assert_ne!(content_hash(b""), content_hash(b"\0"));
        assert_ne!(content_hash(b"\0"), content_hash(b"\0\0"));
        assert_eq!(a, content_hash(b"service.name=checkout"));
    }
}

// Pharos — storage/src/traces/codec.rs
