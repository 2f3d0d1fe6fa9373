//! Time buckets: one UTC day of span start time, held in two column families
//! (`spans.YYYY-MM-DD`, `index.YYYY-MM-DD`), with the bucket's in-memory catalogue and its cache
//! of resources and scopes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use super::catalogue::Catalogue;
use super::codec::resource_tag;
use super::keys::value_crc;
use super::model::{Resource, Scope};
use super::search::TimeRange;

/// Nanoseconds in a day.
pub const DAY_NANOS: u64 = 86_400_000_000_000;
/// The last day whose start fits an `i64` of nanoseconds (2262-04-11). Spans starting later are
/// kept in this bucket.
pub const MAX_DAY: u32 = (i64::MAX as u64 / DAY_NANOS) as u32;

pub const SPANS_CF_PREFIX: &str = "spans.";
pub const INDEX_CF_PREFIX: &str = "index.";

/// The bucket (days since 1970-01-01) of a span start time.
pub fn day_of(start_nanos: u64) -> u32 {
    ((start_nanos / DAY_NANOS) as u32).min(MAX_DAY)
}

/// First nanosecond of a day.
pub fn day_start(day: u32) -> i64 {
    (u64::from(day) * DAY_NANOS) as i64
}

/// Last nanosecond of a day (the last bucket ends at `i64::MAX`).
pub fn day_end(day: u32) -> i64 {
    if day >= MAX_DAY { i64::MAX } else { day_start(day) + DAY_NANOS as i64 - 1 }
}

/// Whether the day's bucket overlaps the (inclusive) range.
pub fn day_overlaps(day: u32, range: &TimeRange) -> bool {
    day_start(day) <= range.end_nanos && day_end(day) >= range.start_nanos
}

/// `YYYY-MM-DD` of a day number (proleptic Gregorian, Howard Hinnant's `civil_from_days`).
pub fn date_text(day: u32) -> String {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The inverse of [`date_text`]; `None` for anything else (including dates it would not write).
pub fn parse_date_text(text: &str) -> Option<u32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| -> Option<i64> { if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None } };
    let (y, m, d) = (num(&text[..4])?, num(&text[5..7])?, num(&text[8..])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = era * 146_097 + doe - 719_468;
    let day = u32::try_from(day).ok().filter(|d| *d <= MAX_DAY)?;
    (date_text(day) == text).then_some(day)
}

/// Cap on the decoded resources and scopes cached per bucket; the cache is emptied when it is
/// reached (resources are few per service; the cap bounds memory against per-process resources).
const MAX_CACHED_REFERENCES: usize = 4096;
/// Cap on the scope hashes remembered as already written per bucket (8 bytes each); past it the
/// set is emptied and scopes are written again (idempotent puts).
const MAX_WRITTEN_SCOPES: usize = 1 << 16;

/// The attribute keys a bucket indexes, sorted; looked up for every attribute of every span, so
/// a bit per key length rules most keys out before any string comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexedKeys {
    keys: Vec<String>,
    lengths: u128,
}

impl IndexedKeys {
    pub fn new(keys: impl IntoIterator<Item = String>) -> IndexedKeys {
        let mut keys: Vec<String> = keys.into_iter().collect();
        keys.sort();
        keys.dedup();
        let lengths = keys.iter().fold(0u128, |bits, k| bits | 1 << k.len().min(127));
        IndexedKeys { keys, lengths }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lengths & (1 << key.len().min(127)) != 0 && self.keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok()
    }
}

/// What a search needs of a resource without decoding it: its service and, per attribute key the
/// bucket indexes, the CRC-32C of the value's display string (first occurrence of each key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceSummary {
    pub service: String,
    pub indexed: Vec<(String, u32)>,
}

impl ResourceSummary {
    pub fn of(resource: &Resource, indexed_keys: &IndexedKeys) -> ResourceSummary {
        let mut indexed: Vec<(String, u32)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for kv in &resource.attributes {
            if !indexed_keys.contains(&kv.key) || seen.contains(&kv.key.as_str()) {
                continue;
            }
            seen.push(&kv.key);
            if let Some(display) = kv.value.to_display_string() {
                indexed.push((kv.key.clone(), value_crc(&display)));
            }
        }
        ResourceSummary { service: resource.service_name().to_owned(), indexed }
    }
}

/// Resources and scopes of one bucket: every resource on disk (summarised: the table is complete,
/// loaded on open, so resource-attribute searches can rely on it; about 100 bytes per distinct
/// resource), which scopes are on disk, and decoded ones.
#[derive(Default)]
pub struct References {
    resources: HashMap<u64, ResourceSummary>,
    written_scopes: HashSet<u64>,
    decoded_resources: HashMap<u64, Arc<Resource>>,
    decoded_scopes: HashMap<u64, Arc<Scope>>,
}

impl References {
    pub fn resource_written(&self, hash: u64) -> bool {
        self.resources.contains_key(&hash)
    }

    pub fn scope_written(&self, hash: u64) -> bool {
        self.written_scopes.contains(&hash)
    }

    /// Records resources and scopes whose values an acknowledged write (or the store's open) put
    /// on disk.
    pub fn mark_written(&mut self, resources: Vec<(u64, ResourceSummary)>, scopes: &[u64]) {
        if self.written_scopes.len() + scopes.len() > MAX_WRITTEN_SCOPES {
            self.written_scopes.clear();
        }
        self.resources.extend(resources);
        self.written_scopes.extend(scopes);
    }

    /// The resources whose indexed attribute `key` may display as `value` (its CRC matches), as
    /// `(service, resource tags)` where a tag is the low 32 bits of the reference (what index
    /// entries carry).
    pub fn matching_resources(&self, key: &str, value: &str) -> BTreeMap<String, HashSet<u32>> {
        let crc = value_crc(value);
        let mut out: BTreeMap<String, HashSet<u32>> = BTreeMap::new();
        for (hash, summary) in &self.resources {
            if summary.indexed.iter().any(|(k, v)| k == key && *v == crc) {
                out.entry(summary.service.clone()).or_default().insert(resource_tag(*hash));
            }
        }
        out
    }

    pub fn cached_resource(&self, hash: u64) -> Option<Arc<Resource>> {
        self.decoded_resources.get(&hash).cloned()
    }

    pub fn cached_scope(&self, hash: u64) -> Option<Arc<Scope>> {
        self.decoded_scopes.get(&hash).cloned()
    }

    pub fn cache_resource(&mut self, hash: u64, resource: Arc<Resource>) {
        if self.decoded_resources.len() >= MAX_CACHED_REFERENCES {
            self.decoded_resources.clear();
        }
        self.decoded_resources.insert(hash, resource);
    }

    pub fn cache_scope(&mut self, hash: u64, scope: Arc<Scope>) {
        if self.decoded_scopes.len() >= MAX_CACHED_REFERENCES {
            self.decoded_scopes.clear();
        }
        self.decoded_scopes.insert(hash, scope);
    }
}

/// One day of spans.
pub struct Bucket {
    /// Days since 1970-01-01 (UTC) of the spans' start times.
    pub day: u32,
    pub spans_cf: String,
    pub index_cf: String,
    /// What the bucket holds, counted; rebuilt from the index column family on open.
    pub catalogue: RwLock<Catalogue>,
    pub references: Mutex<References>,
    /// The attribute keys this bucket indexes: the store's set when the bucket was created, kept
    /// in the bucket (key `I`) so that every span of a bucket is indexed alike.
    pub indexed: IndexedKeys,
}

impl Bucket {
    pub fn new(day: u32, catalogue: Catalogue, indexed: IndexedKeys, references: References) -> Bucket {
        let date = date_text(day);
        Bucket {
            day,
            spans_cf: format!("{SPANS_CF_PREFIX}{date}"),
            index_cf: format!("{INDEX_CF_PREFIX}{date}"),
            catalogue: RwLock::new(catalogue),
            references: Mutex::new(references),
            indexed,
        }
    }

    pub fn date(&self) -> String {
        date_text(self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_over_the_whole_range() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(19_723), "2024-01-01");
        assert_eq!(date_text(MAX_DAY), "2262-04-11");
        for day in (0..=MAX_DAY).step_by(37).chain([59, 60, 11_016, MAX_DAY]) {
            assert_eq!(parse_date_text(&date_text(day)), Some(day), "day {day}");
        }
        for bad in ["2024-02-30", "2024-13-01", "2024-1-01", "abcd-ef-gh", "1969-12-31", "2262-04-12", "+024-01-01"] {
            assert_eq!(parse_date_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_bound_start_times() {
        let day = day_of(1_704_067_200_000_000_000 + 5);
        assert_eq!(date_text(day), "2024-01-01");
        assert_eq!(day_start(day), 1_704_067_200_000_000_000);
        assert_eq!(day_end(day) + 1, day_start(day + 1));
        assert_eq!(day_of(u64::MAX), MAX_DAY);
        assert_eq!(day_end(MAX_DAY), i64::MAX);
        assert!(day_overlaps(day, &TimeRange::new(day_end(day), i64::MAX)));
        assert!(!day_overlaps(day, &TimeRange::new(day_end(day) + 1, i64::MAX)));
    }
}

// Pharos — storage/src/traces/bucket.rs
