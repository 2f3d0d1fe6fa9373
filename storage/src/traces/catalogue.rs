//! The catalogue of a bucket: services, operations (span name + kind), attribute keys and values,
//! error and duration counts — what the Jaeger and Tempo discovery APIs list and what a search uses
//! to pick its index, answered from memory without reading spans.
//!
//! Persisted as counts under the key `C` of the bucket's index column family (entries named by
//! [`CatalogueKey`]): every append merges one value holding its counts, in the same `WriteBatch`
//! as the spans they count, and RocksDB's `pharos.sum_counts` merge operator adds them up, so after
//! a crash the counts match the stored appends exactly. Loaded back when the store opens.
//!
//! # Caps
//! Per bucket, at most [`MAX_SERVICES`] services, [`MAX_OPERATIONS_PER_SERVICE`] operations per
//! service, [`MAX_TAG_NAMES_PER_SCOPE`] attribute keys per scope and [`MAX_TAG_VALUES_PER_KEY`]
//! values per key and scope are kept; only string, int, bool and double values are kept, strings
//! only up to [`MAX_TAG_VALUE_BYTES`] bytes. The first ones seen win; later ones are still stored
//! and searchable, only not listed. Entries are admitted under the catalogue's lock before the
//! write (as zero-count reservations), so concurrent appenders never overshoot a cap; entries with
//! a zero count (in flight, or of a failed write) are never listed.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use super::codec::{DecodeError, Reader, put_value, read_value};
use super::keys::{CatalogueKey, DURATION_CLASSES, duration_class};
use super::model::{AttributeValue, Resource, Span, SpanKind};
use super::search::{Operation, TagScope, TagValue};

/// Services listed per bucket.
pub const MAX_SERVICES: usize = 10_000;
/// Operations (name + kind) listed per service and bucket.
pub const MAX_OPERATIONS_PER_SERVICE: usize = 10_000;
/// Attribute keys listed per scope and bucket.
pub const MAX_TAG_NAMES_PER_SCOPE: usize = 1_000;
/// Values listed per attribute key, scope and bucket.
pub const MAX_TAG_VALUES_PER_KEY: usize = 256;
/// Longest string value listed, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 256;

/// A listed attribute value: a string, bool, int or double, ordered by type (strings, then
/// integers, doubles, booleans) and then by value (doubles by IEEE total order).
#[derive(Clone, Debug)]
pub enum ValueKey {
    String(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl ValueKey {
    fn rank(&self) -> u8 {
        match self {
            ValueKey::String(_) => 0,
            ValueKey::Int(_) => 1,
            ValueKey::Double(_) => 2,
            ValueKey::Bool(_) => 3,
        }
    }

    pub fn to_value(&self) -> TagValue {
        match self {
            ValueKey::String(s) => AttributeValue::String(s.clone()),
            ValueKey::Int(i) => AttributeValue::Int(*i),
            ValueKey::Double(d) => AttributeValue::Double(*d),
            ValueKey::Bool(b) => AttributeValue::Bool(*b),
        }
    }

    /// How the value displays ([`AttributeValue::to_display_string`]'s rules).
    pub fn display(&self) -> String {
        match self {
            ValueKey::String(s) => s.clone(),
            ValueKey::Int(i) => i.to_string(),
            ValueKey::Double(d) => d.to_string(),
            ValueKey::Bool(b) => b.to_string(),
        }
    }

    /// The catalogue key's encoding: the attribute value encoding of the codec.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_value(&mut out, &self.to_value(), 0);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<ValueKey, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = match read_value(&mut r, 0)? {
            AttributeValue::String(s) => ValueKey::String(s),
            AttributeValue::Int(i) => ValueKey::Int(i),
            AttributeValue::Double(d) => ValueKey::Double(d),
            AttributeValue::Bool(b) => ValueKey::Bool(b),
            other => return Err(DecodeError(format!("catalogue value of unlisted type: {other:?}"))),
        };
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes after a catalogue value".into()));
        }
        Ok(value)
    }
}

impl Ord for ValueKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (ValueKey::String(a), ValueKey::String(b)) => a.cmp(b),
            (ValueKey::Int(a), ValueKey::Int(b)) => a.cmp(b),
            (ValueKey::Double(a), ValueKey::Double(b)) => a.total_cmp(b),
            (ValueKey::Bool(a), ValueKey::Bool(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for ValueKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ValueKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ValueKey {}

/// A value as a batch sees it, borrowed from the spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ValueRef<'a> {
    String(&'a str),
    Int(i64),
    Double(u64),
    Bool(bool),
}

impl ValueRef<'_> {
    fn of(value: &AttributeValue) -> Option<ValueRef<'_>> {
        Some(match value {
            AttributeValue::String(s) if s.len() <= MAX_TAG_VALUE_BYTES => ValueRef::String(s),
            AttributeValue::Int(i) => ValueRef::Int(*i),
            AttributeValue::Double(d) => ValueRef::Double(d.to_bits()),
            AttributeValue::Bool(b) => ValueRef::Bool(*b),
            _ => return None,
        })
    }

    fn to_key(self) -> ValueKey {
        match self {
            ValueRef::String(s) => ValueKey::String(s.to_owned()),
            ValueRef::Int(i) => ValueKey::Int(i),
            ValueRef::Double(bits) => ValueKey::Double(f64::from_bits(bits)),
            ValueRef::Bool(b) => ValueKey::Bool(b),
        }
    }
}

/// Counts of one service in a bucket.
#[derive(Clone, Debug)]
pub struct ServiceStats {
    pub spans: u64,
    pub errors: u64,
    /// Spans per duration class (see [`duration_class`]).
    pub durations: [u64; DURATION_CLASSES],
    pub operations: BTreeMap<(String, SpanKind), u64>,
}

impl Default for ServiceStats {
    fn default() -> Self {
        ServiceStats { spans: 0, errors: 0, durations: [0; DURATION_CLASSES], operations: BTreeMap::new() }
    }
}

/// Counts of one attribute key (in one scope) in a bucket.
#[derive(Clone, Debug, Default)]
pub struct TagStats {
    /// Occurrences of the key.
    pub occurrences: u64,
    pub values: BTreeMap<ValueKey, u64>,
}

/// What one bucket holds, counted.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    pub spans: u64,
    pub services: BTreeMap<String, ServiceStats>,
    /// Indexed by [`scope_index`].
    pub tags: [BTreeMap<String, TagStats>; 2],
}

pub fn scope_index(scope: TagScope) -> usize {
    match scope {
        TagScope::Resource => 0,
        TagScope::Span => 1,
    }
}

const SCOPES: [TagScope; 2] = [TagScope::Resource, TagScope::Span];

impl Catalogue {
    /// Adds a persisted (or just written) count.
    pub fn apply(&mut self, key: &CatalogueKey, count: u64) {
        match key {
            CatalogueKey::Spans => self.spans += count,
            CatalogueKey::Service(s) => self.service_mut(s).spans += count,
            CatalogueKey::Operation(s, name, kind) => {
                let operations = &mut self.service_mut(s).operations;
                match operations.get_mut(&(name.clone(), *kind)) {
                    Some(n) => *n += count,
                    None => {
                        operations.insert((name.clone(), *kind), count);
                    }
                }
            }
            CatalogueKey::Errors(s) => self.service_mut(s).errors += count,
            CatalogueKey::Duration(s, class) => self.service_mut(s).durations[usize::from(*class)] += count,
            CatalogueKey::TagName(scope, key) => self.tag_mut(*scope, key).occurrences += count,
            CatalogueKey::TagValue(scope, key, value) => {
                // Encoded values are validated when loaded; a value written by this process is valid.
                if let Ok(value) = ValueKey::decode(value) {
                    *self.tag_mut(*scope, key).values.entry(value).or_default() += count;
                }
            }
        }
    }

    fn service_mut(&mut self, service: &str) -> &mut ServiceStats {
        if !self.services.contains_key(service) {
            self.services.insert(service.to_owned(), ServiceStats::default());
        }
        self.services.get_mut(service).expect("just inserted")
    }

    fn tag_mut(&mut self, scope: TagScope, key: &str) -> &mut TagStats {
        let tags = &mut self.tags[scope_index(scope)];
        if !tags.contains_key(key) {
            tags.insert(key.to_owned(), TagStats::default());
        }
        tags.get_mut(key).expect("just inserted")
    }

    pub fn services_full(&self) -> bool {
        self.services.len() >= MAX_SERVICES
    }

    pub fn tag_names_full(&self, scope: TagScope) -> bool {
        self.tags[scope_index(scope)].len() >= MAX_TAG_NAMES_PER_SCOPE
    }

    /// Services with at least one span.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().filter(|(_, s)| s.spans > 0).map(|(name, _)| name.as_str())
    }

    pub fn operations(&self, service: &str) -> impl Iterator<Item = Operation> + '_ {
        self.services.get(service).into_iter().flat_map(|s| {
            s.operations
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|((name, kind), _)| Operation { name: name.clone(), kind: *kind })
        })
    }

    pub fn tag_names(&self, scope: TagScope) -> impl Iterator<Item = &str> {
        self.tags[scope_index(scope)].iter().filter(|(_, t)| t.occurrences > 0).map(|(k, _)| k.as_str())
    }

    pub fn tag_values(&self, scope: TagScope, key: &str) -> impl Iterator<Item = &ValueKey> {
        self.tags[scope_index(scope)]
            .get(key)
            .into_iter()
            .flat_map(|t| t.values.iter().filter(|(_, n)| **n > 0).map(|(v, _)| v))
    }

    /// Admits a batch's counts under the caps, reserving new entries (zero counts) so that
    /// concurrent batches see them. Returns the counts to persist and apply after the write.
    pub fn admit(&mut self, delta: CatalogueDelta<'_>) -> Vec<(CatalogueKey, u64)> {
        let mut out = Vec::new();
        if delta.spans > 0 {
            out.push((CatalogueKey::Spans, delta.spans));
        }
        for (service, d) in delta.services {
            if !self.services.contains_key(service) {
                if self.services_full() {
                    continue;
                }
                self.services.insert(service.to_owned(), ServiceStats::default());
            }
            let stats = self.services.get_mut(service).expect("service present");
            out.push((CatalogueKey::Service(service.to_owned()), d.spans));
            if d.errors > 0 {
                out.push((CatalogueKey::Errors(service.to_owned()), d.errors));
            }
            for (class, n) in d.durations.iter().enumerate() {
                if *n > 0 {
                    out.push((CatalogueKey::Duration(service.to_owned(), class as u8), *n));
                }
            }
            for ((name, kind), n) in d.operations {
                let key = (name.to_owned(), kind);
                if !stats.operations.contains_key(&key) {
                    if stats.operations.len() >= MAX_OPERATIONS_PER_SERVICE {
                        continue;
                    }
                    stats.operations.insert(key.clone(), 0);
                }
                out.push((CatalogueKey::Operation(service.to_owned(), key.0, kind), n));
            }
        }
        for scope in SCOPES {
            let tags = &mut self.tags[scope_index(scope)];
            for (key, d) in &delta.tags[scope_index(scope)] {
                if !tags.contains_key(*key) {
                    if tags.len() >= MAX_TAG_NAMES_PER_SCOPE {
                        continue;
                    }
                    tags.insert((*key).to_owned(), TagStats::default());
                }
                out.push((CatalogueKey::TagName(scope, (*key).to_owned()), d.occurrences));
                let stats = tags.get_mut(*key).expect("admitted key present");
                for (value, n) in &d.values {
                    let value = value.to_key();
                    if !stats.values.contains_key(&value) {
                        if stats.values.len() >= MAX_TAG_VALUES_PER_KEY {
                            continue;
                        }
                        stats.values.insert(value.clone(), 0);
                    }
                    out.push((CatalogueKey::TagValue(scope, (*key).to_owned(), value.encode()), *n));
                }
            }
        }
        out
    }
}

struct ServiceDelta<'a> {
    spans: u64,
    errors: u64,
    durations: [u64; DURATION_CLASSES],
    operations: HashMap<(&'a str, SpanKind), u64>,
}

impl Default for ServiceDelta<'_> {
    fn default() -> Self {
        ServiceDelta { spans: 0, errors: 0, durations: [0; DURATION_CLASSES], operations: HashMap::default() }
    }
}

/// The counts of one attribute key in one batch.
#[derive(Default)]
struct TagDelta<'a> {
    occurrences: u64,
    values: HashMap<ValueRef<'a>, u64>,
}

impl<'a> TagDelta<'a> {
    fn add(&mut self, value: &'a AttributeValue, n: u64) {
        self.occurrences += n;
        if let Some(v) = ValueRef::of(value) {
            *self.values.entry(v).or_default() += n;
        }
    }
}

/// The catalogue counts of one batch in one bucket, borrowed from its spans.
#[derive(Default)]
pub struct CatalogueDelta<'a> {
    spans: u64,
    services: HashMap<&'a str, ServiceDelta<'a>>,
    /// Indexed by [`scope_index`].
    tags: [HashMap<&'a str, TagDelta<'a>>; 2],
}

impl<'a> CatalogueDelta<'a> {
    /// Counts a span and its span attributes (its resource's are counted by `add_resource`, once
    /// per resource and batch).
    pub fn add_span(&mut self, span: &'a Span, service: &'a str) {
        self.spans += 1;
        let s = self.services.entry(service).or_default();
        s.spans += 1;
        s.errors += u64::from(span.is_error());
        s.durations[usize::from(duration_class(span.duration_nanos()))] += 1;
        *s.operations.entry((span.name.as_str(), span.kind)).or_default() += 1;
        let tags = &mut self.tags[scope_index(TagScope::Span)];
        for kv in &span.attributes {
            tags.entry(kv.key.as_str()).or_default().add(&kv.value, 1);
        }
    }

    /// Counts the resource attributes of `spans` spans sharing `resource`.
    pub fn add_resource(&mut self, resource: &'a Resource, spans: u64) {
        let tags = &mut self.tags[scope_index(TagScope::Resource)];
        for kv in &resource.attributes {
            tags.entry(kv.key.as_str()).or_default().add(&kv.value, spans);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_keys_order_by_type_then_value() {
        let mut values = vec![
            ValueKey::Bool(true),
            ValueKey::Double(-1.5),
            ValueKey::Int(10),
            ValueKey::String("b".into()),
            ValueKey::Int(-3),
            ValueKey::String("a".into()),
            ValueKey::Double(2.0),
            ValueKey::Bool(false),
        ];
        values.sort();
        let shown: Vec<String> = values.iter().map(ValueKey::display).collect();
        assert_eq!(shown, ["a", "b", "-3", "10", "-1.5", "2", "false", "true"]);
        for v in &values {
            assert_eq!(&ValueKey::decode(&v.encode()).unwrap(), v);
        }
        let mut bytes = Vec::new();
        put_value(&mut bytes, &AttributeValue::Bytes(vec![1]), 0);
        assert!(ValueKey::decode(&bytes).is_err());
    }
}

// Pharos — storage/src/traces/catalogue.rs
