//! The immutable on-disk block: every series' samples for one time range, in one file. Byte layout:
//! `docs/format/block.md`.
//!
//! A block file is a header, seven sections back to back — data pages, page index, timestamp
//! columns, symbols, series, postings, metadata — and a fixed-size footer that gives each section's
//! offset, length and CRC32C plus the block's time range and counts. Data pages hold column records
//! (see [`super::chunk`]) of many series concatenated and zstd-compressed; each page has its own
//! CRC32C in the page index and is verified when it is read.
//!
//! Series scraped together have identical timestamps. The writer stores each timestamp sequence
//! that two or more series share once, as a timestamp column on the first pages, and those
//! series' records refer to it by number instead of repeating it; a series whose sequence is its
//! own keeps it in its record. Series stay in label order, so neighbouring records are the same
//! metric of different targets, whose values compress well together.
//!
//! [`write_block`] writes `<name>.tmp`, fsyncs it, renames it to `<name>` and fsyncs the
//! directory, so a block is either absent or complete. [`Block::open`] maps the file, verifies the
//! footer and every section but the pages, and decodes the index (timestamp columns, symbols,
//! series, postings, metadata) into memory; pages stay in the mapping until a query needs them. A
//! query decompresses each page it needs once, timestamp-column pages included. Every structural
//! promise the reader relies on is checked at open, so a damaged file is reported as
//! [`StorageError::Corrupt`] naming the file and the section — never a panic, never wrong data.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::hash::{DefaultHasher, Hasher};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::SeriesSamples;
use super::chunk::{
    DEFAULT_PAGE_ZSTD_LEVEL, PAGE_TARGET_RAW_BYTES, compress_page, decode_series_with_timestamps_into,
    decode_timestamps_into, decompress_page, encode_series, encode_series_shared_timestamps, encode_timestamps,
    shared_timestamps_ref,
};
use super::matcher::Matcher;
use super::model::{Labels, MetricMetadata, MetricType, Sample};
use super::postings::{self, LabelIndex};
use super::varint::{ByteReader, put_str, put_uvarint};
use crate::StorageError;

/// First and last bytes of every block file.
pub const BLOCK_MAGIC: [u8; 4] = *b"PHBK";
/// Block format version (2: shared timestamp columns).
pub const BLOCK_VERSION: u8 = 2;

const HEADER_LEN: usize = 8;
/// Per section in the footer: u64 offset, u64 length, u32 CRC32C.
const SECTION_ENTRY_LEN: usize = 20;
/// Footer: the section table, i64 mint, i64 maxt, u64 series, u64 samples, u32 CRC32C, magic.
const FOOTER_LEN: usize = SECTIONS.len() * SECTION_ENTRY_LEN + 32 + 4 + 4;
/// Bytes of the footer its CRC covers.
const FOOTER_CHECKED_LEN: usize = FOOTER_LEN - 8;

/// The sections of a block, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Pages,
    PageIndex,
    TimestampColumns,
    Symbols,
    Series,
    Postings,
    Metadata,
}

const SECTIONS: [Section; 7] = [
    Section::Pages,
    Section::PageIndex,
    Section::TimestampColumns,
    Section::Symbols,
    Section::Series,
    Section::Postings,
    Section::Metadata,
];

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Pages => "pages",
            Section::PageIndex => "page index",
            Section::TimestampColumns => "timestamp columns",
            Section::Symbols => "symbols",
            Section::Series => "series",
            Section::Postings => "postings",
            Section::Metadata => "metadata",
        }
    }
}

/// Metric types by their code in the metadata section (the remote-write numbering, as the WAL).
const METRIC_TYPES_BY_CODE: [MetricType; 8] = [
    MetricType::Unknown,
    MetricType::Counter,
    MetricType::Gauge,
    MetricType::Histogram,
    MetricType::GaugeHistogram,
    MetricType::Summary,
    MetricType::Info,
    MetricType::StateSet,
];

fn metric_type_code(kind: MetricType) -> u8 {
    METRIC_TYPES_BY_CODE.iter().position(|k| *k == kind).map_or(0, |code| code as u8)
}

/// What a block holds. An empty block has `mint = i64::MAX` and `maxt = i64::MIN`, a range that
/// overlaps no query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    /// Oldest sample timestamp (milliseconds).
    pub mint: i64,
    /// Newest sample timestamp (milliseconds), inclusive.
    pub maxt: i64,
    pub series: u64,
    pub samples: u64,
    /// Size of the block file.
    pub bytes: u64,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

fn corrupt(path: &Path, detail: impl Into<String>) -> StorageError {
    StorageError::Corrupt { path: path.to_path_buf(), detail: detail.into() }
}

/// The caller handed in data a block cannot hold (unsorted series or samples).
fn invalid_input(path: &Path, detail: String) -> StorageError {
    StorageError::Io { path: path.to_path_buf(), source: io::Error::new(io::ErrorKind::InvalidInput, detail) }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Where a section ended up in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SectionEntry {
    offset: u64,
    length: u64,
    crc: u32,
}

/// One compressed page as the page index describes it.
#[derive(Clone, Copy, Debug)]
struct PageEntry {
    /// Absolute file offset of the compressed bytes.
    offset: usize,
    compressed_len: usize,
    raw_len: usize,
    crc: u32,
}

/// A series accepted by the writer, before its labels become symbol ids.
struct WrittenSeries {
    labels: Labels,
    /// `None` when the record holds the series' own timestamps.
    timestamp_column: Option<u32>,
    times: RecordTimes,
    page: u32,
    offset_in_page: u32,
}

/// A timestamp column as the writer placed it.
struct WrittenColumn {
    times: RecordTimes,
    page: u32,
    offset_in_page: u32,
}

/// The first and last timestamp and the sample count of a record, as the index stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RecordTimes {
    min_t: i64,
    max_t: i64,
    samples: u64,
}

impl RecordTimes {
    /// The times of `samples`, which are sorted and not empty.
    fn of(samples: &[Sample]) -> RecordTimes {
        let (min_t, max_t) = (samples.first().map_or(0, |s| s.t), samples.last().map_or(0, |s| s.t));
        RecordTimes { min_t, max_t, samples: samples.len() as u64 }
    }

    /// Append as the index stores them: the first timestamp relative to the block's mint (a few
    /// bytes), the span as unsigned (max_t ≥ min_t), the count.
    fn put(&self, block_mint: i64, out: &mut Vec<u8>) {
        put_uvarint(out, (self.min_t as u64).wrapping_sub(block_mint as u64));
        put_uvarint(out, (self.max_t as u64).wrapping_sub(self.min_t as u64));
        put_uvarint(out, self.samples);
    }
}

/// Appends to the temporary file, keeping its position.
struct FileSink<'a> {
    out: BufWriter<File>,
    path: &'a Path,
    position: u64,
}

impl FileSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.out.write_all(bytes).map_err(io_error(self.path))?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Write a whole section and describe it.
    fn section(&mut self, bytes: &[u8]) -> Result<SectionEntry, StorageError> {
        let entry = SectionEntry { offset: self.position, length: bytes.len() as u64, crc: crc32c::crc32c(bytes) };
        self.write(bytes)?;
        Ok(entry)
    }
}

/// Write a block of `series` (sorted by labels, each with samples sorted by time) and the
/// metadata of their families as `<dir>/<name>`, atomically: the data goes to `<name>.tmp`, which
/// is fsynced and renamed over `<name>`, then the directory is fsynced. Series without samples are
/// left out. Unsorted input is refused (an `InvalidInput` I/O error) and nothing is left behind.
pub fn write_block(
    dir: &Path,
    name: &str,
    series: impl Iterator<Item = (Labels, Vec<Sample>)>,
    metadata: &[MetricMetadata],
) -> Result<BlockMeta, StorageError> {
    let path = dir.join(name);
    let tmp_path = dir.join(format!("{name}.tmp"));
    let written = write_block_file(&tmp_path, series, metadata)
        .and_then(|meta| fs::rename(&tmp_path, &path).map(|()| meta).map_err(io_error(&path)));
    let meta = match written {
        Ok(meta) => meta,
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
    Ok(meta)
}

fn write_block_file(
    path: &Path,
    series: impl Iterator<Item = (Labels, Vec<Sample>)>,
    metadata: &[MetricMetadata],
) -> Result<BlockMeta, StorageError> {
    // Every series is needed before the first record: the timestamp columns come first.
    let mut input: Vec<(Labels, Vec<Sample>)> = Vec::new();
    let mut skipped_last: Option<Labels> = None;
    for (labels, samples) in series {
        check_series_input(path, &labels, &samples, skipped_last.as_ref().or(input.last().map(|(l, _)| l)))?;
        if samples.is_empty() {
            skipped_last = Some(labels);
            continue;
        }
        skipped_last = None;
        if input.len() >= u32::MAX as usize {
            return Err(invalid_input(path, "more series than a block can number".into()));
        }
        input.push((labels, samples));
    }
    let sharing = SharedTimestamps::find(&input);

    let file = OpenOptions::new().write(true).create(true).truncate(true).open(path).map_err(io_error(path))?;
    let mut sink = FileSink { out: BufWriter::with_capacity(1 << 20, file), path, position: 0 };
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&BLOCK_MAGIC);
    header[4] = BLOCK_VERSION;
    sink.write(&header)?;

    // Data pages, streamed as they fill; the index is built in memory. The timestamp columns
    // first, on pages of their own, then every series' record in series order.
    let pages_offset = sink.position;
    let mut pages = PageWriter::default();
    let mut columns: Vec<WrittenColumn> = Vec::with_capacity(sharing.first_series.len());
    let mut timestamps: Vec<i64> = Vec::new();
    for &first in &sharing.first_series {
        let (page, offset_in_page) = pages.next_place(path)?;
        let samples = &input[first].1;
        columns.push(WrittenColumn { times: RecordTimes::of(samples), page, offset_in_page });
        timestamps.clear();
        timestamps.extend(samples.iter().map(|s| s.t));
        encode_timestamps(&timestamps, &mut pages.raw);
        pages.record_added(&mut sink)?;
    }
    pages.finish_page(&mut sink)?;
    let mut accepted: Vec<WrittenSeries> = Vec::with_capacity(input.len());
    let (mut mint, mut maxt, mut total_samples) = (i64::MAX, i64::MIN, 0u64);
    for ((labels, samples), timestamp_column) in input.into_iter().zip(sharing.column_of) {
        let (page, offset_in_page) = pages.next_place(path)?;
        match timestamp_column {
            Some(column) => encode_series_shared_timestamps(&samples, u64::from(column), &mut pages.raw),
            None => encode_series(&samples, &mut pages.raw),
        }
        let times = RecordTimes::of(&samples);
        mint = mint.min(times.min_t);
        maxt = maxt.max(times.max_t);
        total_samples += times.samples;
        accepted.push(WrittenSeries { labels, timestamp_column, times, page, offset_in_page });
        pages.record_added(&mut sink)?;
    }
    pages.finish_page(&mut sink)?;
    let pages_entry = SectionEntry { offset: pages_offset, length: sink.position - pages_offset, crc: 0 };

    let mut section = Vec::new();
    put_uvarint(&mut section, pages.written.len() as u64);
    for &(compressed_len, raw_len, crc) in &pages.written {
        put_uvarint(&mut section, compressed_len);
        put_uvarint(&mut section, raw_len);
        section.extend_from_slice(&crc.to_le_bytes());
    }
    let page_index_entry = sink.section(&section)?;

    section.clear();
    put_uvarint(&mut section, columns.len() as u64);
    for column in &columns {
        column.times.put(mint, &mut section);
        put_uvarint(&mut section, u64::from(column.page));
        put_uvarint(&mut section, u64::from(column.offset_in_page));
    }
    let timestamp_columns_entry = sink.section(&section)?;

    let symbols: Vec<&str> = accepted
        .iter()
        .flat_map(|s| s.labels.iter().flat_map(|l| [l.name.as_str(), l.value.as_str()]))
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    section.clear();
    put_uvarint(&mut section, symbols.len() as u64);
    for symbol in &symbols {
        put_str(&mut section, symbol);
    }
    let symbols_entry = sink.section(&section)?;
    // Every label string is in `symbols`, so the search always succeeds.
    let symbol_id = |s: &str| symbols.binary_search(&s).unwrap_or_default() as u32;

    section.clear();
    let mut pair_series: Vec<(u32, u32, u32)> = Vec::new();
    put_uvarint(&mut section, accepted.len() as u64);
    for (index, series) in accepted.iter().enumerate() {
        put_uvarint(&mut section, series.labels.len() as u64);
        for label in series.labels.iter() {
            let (name, value) = (symbol_id(&label.name), symbol_id(&label.value));
            put_uvarint(&mut section, u64::from(name));
            put_uvarint(&mut section, u64::from(value));
            pair_series.push((name, value, index as u32));
        }
        // A series with a timestamp column has the column's times, stored with the column.
        match series.timestamp_column {
            Some(column) => put_uvarint(&mut section, u64::from(column) + 1),
            None => {
                put_uvarint(&mut section, 0);
                series.times.put(mint, &mut section);
            }
        }
        put_uvarint(&mut section, u64::from(series.page));
        put_uvarint(&mut section, u64::from(series.offset_in_page));
    }
    let series_entry = sink.section(&section)?;

    pair_series.sort_unstable();
    section.clear();
    let pair_lists: Vec<&[(u32, u32, u32)]> = pair_series.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).collect();
    put_uvarint(&mut section, pair_lists.len() as u64);
    for list in pair_lists {
        put_uvarint(&mut section, u64::from(list[0].0));
        put_uvarint(&mut section, u64::from(list[0].1));
        put_uvarint(&mut section, list.len() as u64);
        let mut previous = 0u32;
        for (position, &(_, _, series)) in list.iter().enumerate() {
            put_uvarint(&mut section, u64::from(if position == 0 { series } else { series - previous }));
            previous = series;
        }
    }
    let postings_entry = sink.section(&section)?;

    // One entry per family name, the last given winning (as in the WAL).
    let families: BTreeMap<&str, &MetricMetadata> =
        metadata.iter().map(|m| (m.metric_family_name.as_str(), m)).collect();
    section.clear();
    put_uvarint(&mut section, families.len() as u64);
    for m in families.values() {
        section.push(metric_type_code(m.kind));
        put_str(&mut section, &m.metric_family_name);
        put_str(&mut section, &m.help);
        put_str(&mut section, &m.unit);
    }
    let metadata_entry = sink.section(&section)?;

    let mut footer = Vec::with_capacity(FOOTER_LEN);
    let entries = [
        pages_entry,
        page_index_entry,
        timestamp_columns_entry,
        symbols_entry,
        series_entry,
        postings_entry,
        metadata_entry,
    ];
    for entry in entries {
        footer.extend_from_slice(&entry.offset.to_le_bytes());
        footer.extend_from_slice(&entry.length.to_le_bytes());
        footer.extend_from_slice(&entry.crc.to_le_bytes());
    }
    footer.extend_from_slice(&mint.to_le_bytes());
    footer.extend_from_slice(&maxt.to_le_bytes());
    footer.extend_from_slice(&(accepted.len() as u64).to_le_bytes());
    footer.extend_from_slice(&total_samples.to_le_bytes());
    let footer_crc = crc32c::crc32c(&footer);
    footer.extend_from_slice(&footer_crc.to_le_bytes());
    footer.extend_from_slice(&BLOCK_MAGIC);
    sink.write(&footer)?;

    let bytes = sink.position;
    let file = sink.out.into_inner().map_err(|e| e.into_error()).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))?;
    Ok(BlockMeta { mint, maxt, series: accepted.len() as u64, samples: total_samples, bytes })
}

/// Refuse input a block cannot hold: series not strictly after the previous one, label names out
/// of order, samples not strictly ascending in time.
fn check_series_input(
    path: &Path,
    labels: &Labels,
    samples: &[Sample],
    previous: Option<&Labels>,
) -> Result<(), StorageError> {
    if let Some(previous) = previous
        && labels <= previous
    {
        return Err(invalid_input(path, format!("series are not sorted by labels: {labels} comes after {previous}")));
    }
    if labels.as_slice().windows(2).any(|pair| pair[0].name >= pair[1].name) {
        return Err(invalid_input(path, format!("labels of series {labels} are not sorted and unique by name")));
    }
    if let Some(at) = samples.windows(2).position(|pair| pair[0].t >= pair[1].t) {
        return Err(invalid_input(
            path,
            format!("samples of series {labels} are not strictly ascending in time at index {}", at + 1),
        ));
    }
    Ok(())
}

/// Which series share their timestamp sequence (series scraped together have identical ones):
/// every sequence that two or more series have becomes one timestamp column, numbered in the
/// order of the first series that has it.
struct SharedTimestamps {
    /// Per series, the column its record refers to; `None` for a sequence no other series has.
    column_of: Vec<Option<u32>>,
    /// Per column, the first series that has it (whose timestamps the column stores).
    first_series: Vec<usize>,
}

impl SharedTimestamps {
    fn find(series: &[(Labels, Vec<Sample>)]) -> SharedTimestamps {
        // Distinct sequences by the hash of their timestamps; equal hashes are confirmed by
        // comparing the sequences themselves.
        let mut sequences_by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut sequence_first_series: Vec<usize> = Vec::new();
        let mut sequence_users: Vec<usize> = Vec::new();
        let mut sequence_of: Vec<usize> = Vec::with_capacity(series.len());
        for (index, (_, samples)) in series.iter().enumerate() {
            let candidates = sequences_by_hash.entry(timestamps_hash(samples)).or_default();
            let same_timestamps = |&sequence: &usize| {
                let first = &series[sequence_first_series[sequence]].1;
                first.len() == samples.len() && first.iter().zip(samples).all(|(a, b)| a.t == b.t)
            };
            let sequence = match candidates.iter().copied().find(same_timestamps) {
                Some(sequence) => sequence,
                None => {
                    candidates.push(sequence_first_series.len());
                    sequence_first_series.push(index);
                    sequence_users.push(0);
                    sequence_first_series.len() - 1
                }
            };
            sequence_users[sequence] += 1;
            sequence_of.push(sequence);
        }
        let mut column_of_sequence: Vec<Option<u32>> = vec![None; sequence_first_series.len()];
        let mut first_series = Vec::new();
        for (sequence, &users) in sequence_users.iter().enumerate() {
            if users >= 2 {
                // At most one column per two series, and series are numbered by u32.
                column_of_sequence[sequence] = Some(first_series.len() as u32);
                first_series.push(sequence_first_series[sequence]);
            }
        }
        let column_of = sequence_of.into_iter().map(|sequence| column_of_sequence[sequence]).collect();
        SharedTimestamps { column_of, first_series }
    }
}

fn timestamps_hash(samples: &[Sample]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write_usize(samples.len());
    for sample in samples {
        hasher.write_i64(sample.t);
    }
    hasher.finish()
}

/// Gathers records into a raw page and writes each page, compressed, once it is full.
#[derive(Default)]
struct PageWriter {
    /// The page being filled.
    raw: Vec<u8>,
    /// Page-index entries of the pages written: (compressed length, raw length, CRC32C).
    written: Vec<(u64, u64, u32)>,
}

impl PageWriter {
    /// Where a record appended now lands: (page, byte offset in the raw page).
    fn next_place(&self, path: &Path) -> Result<(u32, u32), StorageError> {
        let page = u32::try_from(self.written.len()).map_err(|_| invalid_input(path, "too many pages".into()))?;
        let offset =
            u32::try_from(self.raw.len()).map_err(|_| invalid_input(path, "a record does not fit in a page".into()))?;
        Ok((page, offset))
    }

    /// Call after appending a record to `raw`: writes the page once it reaches its target size.
    fn record_added(&mut self, sink: &mut FileSink<'_>) -> Result<(), StorageError> {
        if self.raw.len() >= PAGE_TARGET_RAW_BYTES {
            self.finish_page(sink)?;
        }
        Ok(())
    }

    /// Compress the page being filled, if it holds anything, append it to the file and start the
    /// next one.
    fn finish_page(&mut self, sink: &mut FileSink<'_>) -> Result<(), StorageError> {
        if self.raw.is_empty() {
            return Ok(());
        }
        let compressed = compress_page(&self.raw, DEFAULT_PAGE_ZSTD_LEVEL)
            .map_err(|e| StorageError::Io { path: sink.path.to_path_buf(), source: io::Error::other(e.to_string()) })?;
        let crc = crc32c::crc32c(&compressed);
        sink.write(&compressed)?;
        self.written.push((compressed.len() as u64, self.raw.len() as u64, crc));
        self.raw.clear();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The bytes of an open block.
enum BlockBytes {
    Mapped(Mmap),
    #[cfg(test)]
    InMemory(Vec<u8>),
}

impl BlockBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            BlockBytes::Mapped(map) => map,
            #[cfg(test)]
            BlockBytes::InMemory(bytes) => bytes,
        }
    }
}

/// One series of the series table.
#[derive(Clone, Copy, Debug)]
struct SeriesEntry {
    /// Its label pairs are `series_pairs[pairs_start..pairs_end]`.
    pairs_start: usize,
    pairs_end: usize,
    min_t: i64,
    max_t: i64,
    samples: u64,
    /// The timestamp column its record refers to (whose times are the series'), if any.
    timestamp_column: Option<usize>,
    page: usize,
    offset_in_page: usize,
}

/// One entry of the timestamp columns section.
#[derive(Clone, Copy, Debug)]
struct TimestampColumnEntry {
    min_t: i64,
    max_t: i64,
    samples: u64,
    page: usize,
    offset_in_page: usize,
}

/// Timestamp columns decoded during one query, by column number.
type DecodedColumns = HashMap<usize, Vec<i64>>;

/// Reads series of one block in ascending order, keeping the current decompressed page and the
/// timestamp columns decoded so far (a streaming select reads series one at a time).
pub(crate) struct BlockReader<'b> {
    block: &'b Block,
    page_cache: Option<(usize, Vec<u8>)>,
    columns: DecodedColumns,
}

impl BlockReader<'_> {
    /// Append the samples of series `index` within `[mint, maxt]` to `out`.
    pub(crate) fn read(&mut self, index: u32, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<(), StorageError> {
        let block = self.block;
        let index = index as usize;
        let Some(entry) = block.series.get(index) else { return Ok(()) };
        if self.page_cache.as_ref().is_none_or(|(page, _)| *page != entry.page) {
            self.page_cache = Some((entry.page, block.read_page(entry.page)?));
        }
        let raw_page = self.page_cache.as_ref().map_or(&[][..], |(_, raw)| raw.as_slice());
        let samples = block.decode_series(index, entry, raw_page, &mut self.columns)?;
        let start = samples.partition_point(|s| s.t < mint);
        let end = samples.partition_point(|s| s.t <= maxt);
        if start < end {
            out.extend_from_slice(&samples[start..end]);
        }
        Ok(())
    }
}

/// Every distinct label string, sorted, so an id is a rank and lookups are binary searches.
#[derive(Debug, Default)]
struct SymbolTable {
    text: String,
    /// Symbol `i` is `text[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
}

impl SymbolTable {
    fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn get(&self, id: u32) -> &str {
        let id = id as usize;
        match (self.starts.get(id), self.starts.get(id + 1)) {
            (Some(&start), Some(&end)) => self.text.get(start..end).unwrap_or(""),
            _ => "",
        }
    }

    fn find(&self, s: &str) -> Option<u32> {
        let (mut low, mut high) = (0usize, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.get(middle as u32).cmp(s) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some(middle as u32),
            }
        }
        None
    }
}

/// The postings of a block, as [`postings::select`] reads them.
#[derive(Debug, Default)]
struct BlockIndex {
    symbols: SymbolTable,
    series_count: u32,
    /// (name id, first pair, end pair), ascending by name id.
    names: Vec<(u32, usize, usize)>,
    /// The value id of each label pair, ascending within a name.
    pair_values: Vec<u32>,
    /// The range of each label pair's list in `postings`.
    pair_lists: Vec<(usize, usize)>,
    postings: Vec<u32>,
}

impl BlockIndex {
    fn pairs_of(&self, name: u32) -> (usize, usize) {
        match self.names.binary_search_by_key(&name, |&(n, _, _)| n) {
            Ok(at) => (self.names[at].1, self.names[at].2),
            Err(_) => (0, 0),
        }
    }
}

impl LabelIndex for BlockIndex {
    fn symbol_id(&self, s: &str) -> Option<u32> {
        self.symbols.find(s)
    }

    fn symbol(&self, id: u32) -> &str {
        self.symbols.get(id)
    }

    fn values_of(&self, name: u32) -> &[u32] {
        let (start, end) = self.pairs_of(name);
        self.pair_values.get(start..end).unwrap_or(&[])
    }

    fn postings(&self, name: u32, value: u32) -> &[u32] {
        let (start, end) = self.pairs_of(name);
        let values = self.pair_values.get(start..end).unwrap_or(&[]);
        match values.binary_search(&value) {
            Ok(at) => {
                let (list_start, list_end) = self.pair_lists.get(start + at).copied().unwrap_or((0, 0));
                self.postings.get(list_start..list_end).unwrap_or(&[])
            }
            Err(_) => &[],
        }
    }

    fn all_series(&self) -> Vec<u32> {
        (0..self.series_count).collect()
    }
}

/// An open, immutable block.
pub struct Block {
    path: PathBuf,
    bytes: BlockBytes,
    meta: BlockMeta,
    pages: Vec<PageEntry>,
    /// In column order, which is page order: the columns fill the first pages.
    timestamp_columns: Vec<TimestampColumnEntry>,
    series: Vec<SeriesEntry>,
    /// Label pairs (name id, value id) of every series, concatenated.
    series_pairs: Vec<(u32, u32)>,
    index: BlockIndex,
    metadata: Vec<MetricMetadata>,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("path", &self.path)
            .field("meta", &self.meta)
            .field("pages", &self.pages.len())
            .field("timestamp_columns", &self.timestamp_columns.len())
            .finish()
    }
}

impl Block {
    /// Map and verify the block file at `path` (see the module doc for what is checked).
    pub fn open(path: &Path) -> Result<Block, StorageError> {
        let file = File::open(path).map_err(io_error(path))?;
        let len = file.metadata().map_err(io_error(path))?.len();
        if len < (HEADER_LEN + FOOTER_LEN) as u64 {
            return Err(corrupt(path, format!("file is {len} bytes, shorter than a header and footer")));
        }
        // SAFETY: a block file is never modified after it is renamed into place (blocks are
        // immutable; they are only ever deleted whole), so the mapped bytes do not change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(io_error(path))?;
        Block::from_bytes(path.to_path_buf(), BlockBytes::Mapped(map))
    }

    fn from_bytes(path: PathBuf, bytes: BlockBytes) -> Result<Block, StorageError> {
        let parsed = parse_block(&path, bytes.as_slice())?;
        Ok(Block {
            path,
            bytes,
            meta: parsed.meta,
            pages: parsed.pages,
            timestamp_columns: parsed.timestamp_columns,
            series: parsed.series,
            series_pairs: parsed.series_pairs,
            index: parsed.index,
            metadata: parsed.metadata,
        })
    }

    pub fn meta(&self) -> BlockMeta {
        self.meta
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Metadata of the metric families in the block, sorted by family name.
    pub fn metadata(&self) -> &[MetricMetadata] {
        &self.metadata
    }

    /// Series matching all `matchers` with their samples in `[mint, maxt]` (inclusive), sorted by
    /// labels; series without samples in the range are left out. Each needed page (timestamp
    /// columns included) is read, verified and decompressed once per call.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesSamples>, StorageError> {
        if mint > maxt || self.meta.maxt < mint || self.meta.mint > maxt {
            return Ok(Vec::new());
        }
        self.read_series(postings::select(&self.index, matchers), mint, maxt)
    }

    /// Label sets of the series matching all `matchers` whose time span overlaps `[mint, maxt]`,
    /// sorted. Reads only the index.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        postings::select(&self.index, matchers)
            .into_iter()
            .filter_map(|index| {
                let entry = self.series.get(index as usize)?;
                (entry.min_t <= maxt && entry.max_t >= mint).then(|| self.labels_of(entry))
            })
            .collect()
    }

    /// Every series with all its samples, in label order (for compaction).
    pub fn all_series(&self) -> Result<Vec<SeriesSamples>, StorageError> {
        self.read_series(self.index.all_series(), i64::MIN, i64::MAX)
    }

    /// Series matching all `matchers` whose time span overlaps `[mint, maxt]`, with their labels,
    /// in label order; their samples are read with a [`BlockReader`].
    pub(crate) fn select_entries(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, u32)> {
        if mint > maxt || self.meta.maxt < mint || self.meta.mint > maxt {
            return Vec::new();
        }
        postings::select(&self.index, matchers)
            .into_iter()
            .filter_map(|index| {
                let entry = self.series.get(index as usize)?;
                (entry.min_t <= maxt && entry.max_t >= mint).then(|| (self.labels_of(entry), index))
            })
            .collect()
    }

    /// A reader for series of this block taken in ascending order.
    pub(crate) fn reader(&self) -> BlockReader<'_> {
        BlockReader { block: self, page_cache: None, columns: DecodedColumns::new() }
    }

    /// Decode the series `indexes` (ascending) restricted to `[mint, maxt]`. Records are laid out
    /// in series order, so one decompressed series page is kept at a time; the timestamp columns
    /// the records refer to are kept for the whole call.
    fn read_series(&self, indexes: Vec<u32>, mint: i64, maxt: i64) -> Result<Vec<SeriesSamples>, StorageError> {
        let mut selected = Vec::new();
        let mut page_cache: Option<(usize, Vec<u8>)> = None;
        let mut columns = DecodedColumns::new();
        for index in indexes {
            let index = index as usize;
            let Some(entry) = self.series.get(index) else { continue };
            if entry.max_t < mint || entry.min_t > maxt {
                continue;
            }
            if page_cache.as_ref().is_none_or(|(page, _)| *page != entry.page) {
                page_cache = Some((entry.page, self.read_page(entry.page)?));
            }
            let raw_page = page_cache.as_ref().map_or(&[][..], |(_, raw)| raw.as_slice());
            let mut samples = self.decode_series(index, entry, raw_page, &mut columns)?;
            let start = samples.partition_point(|s| s.t < mint);
            let end = samples.partition_point(|s| s.t <= maxt);
            if start >= end {
                continue;
            }
            samples.truncate(end);
            samples.drain(..start);
            selected.push(SeriesSamples { labels: self.labels_of(entry), samples });
        }
        Ok(selected)
    }

    /// Read, verify and decompress page `page`.
    fn read_page(&self, page: usize) -> Result<Vec<u8>, StorageError> {
        let entry = self.pages.get(page).ok_or_else(|| self.corrupt(format!("pages section: no page {page}")))?;
        let end = entry.offset.saturating_add(entry.compressed_len);
        let compressed = self
            .bytes
            .as_slice()
            .get(entry.offset..end)
            .ok_or_else(|| self.corrupt(format!("pages section: page {page} lies outside the file")))?;
        if crc32c::crc32c(compressed) != entry.crc {
            let start = entry.offset;
            let detail = format!("pages section: page {page}: checksum mismatch (file bytes {start}..{end})");
            return Err(self.corrupt(detail));
        }
        let raw = decompress_page(compressed, entry.raw_len)
            .map_err(|e| self.corrupt(format!("pages section: page {page}: {e}")))?;
        if raw.len() != entry.raw_len {
            return Err(self.corrupt(format!(
                "pages section: page {page} decompressed to {} bytes, the page index says {}",
                raw.len(),
                entry.raw_len
            )));
        }
        Ok(raw)
    }

    /// Decode series `index` from its decompressed page and check it against the series table.
    /// A record that refers to a timestamp column gets it from `columns`, which first decodes it
    /// (and the other columns of its page) if this call has not yet.
    fn decode_series(
        &self,
        index: usize,
        entry: &SeriesEntry,
        raw_page: &[u8],
        columns: &mut DecodedColumns,
    ) -> Result<Vec<Sample>, StorageError> {
        let page = entry.page;
        let record_end = match self.series.get(index + 1) {
            Some(next) if next.page == page => next.offset_in_page,
            _ => self.pages.get(page).map_or(0, |p| p.raw_len),
        };
        let record = raw_page.get(entry.offset_in_page..record_end).ok_or_else(|| {
            self.corrupt(format!("pages section: page {page}: series {index} record lies outside the page"))
        })?;
        let record_error = |e| self.corrupt(format!("pages section: page {page}: series {index}: {e}"));
        let reference = shared_timestamps_ref(record).map_err(record_error)?;
        if reference != entry.timestamp_column.map(|column| column as u64) {
            let detail = match reference {
                Some(reference) => format!("record refers to timestamp column {reference}"),
                None => "record holds its own timestamps".to_string(),
            };
            return Err(
                self.corrupt(format!("pages section: page {page}: series {index}: {detail}, unlike the series table"))
            );
        }
        if let Some(column) = entry.timestamp_column
            && !columns.contains_key(&column)
        {
            let column_page = self.timestamp_columns.get(column).map_or(usize::MAX, |c| c.page);
            self.decode_timestamp_columns(column_page, columns)?;
        }
        let mut samples = Vec::new();
        let shared_column = |_| entry.timestamp_column.and_then(|column| columns.get(&column)).map(Vec::as_slice);
        let consumed = decode_series_with_timestamps_into(record, shared_column, &mut samples).map_err(record_error)?;
        let consistent = consumed == record.len()
            && samples.len() as u64 == entry.samples
            && samples.first().is_some_and(|s| s.t == entry.min_t)
            && samples.last().is_some_and(|s| s.t == entry.max_t)
            && samples.windows(2).all(|pair| pair[0].t < pair[1].t);
        if !consistent {
            return Err(self.corrupt(format!(
                "pages section: page {page}: series {index} record does not match the series table"
            )));
        }
        Ok(samples)
    }

    /// Read page `page` and decode every timestamp column on it into `columns`. Each column must
    /// fill its place in the page exactly and match its entry: sample count, first and last
    /// timestamp, strictly ascending in between.
    fn decode_timestamp_columns(&self, page: usize, columns: &mut DecodedColumns) -> Result<(), StorageError> {
        let raw_page = self.read_page(page)?;
        // Columns are in page order (checked at open), so those of one page are a run.
        let first = self.timestamp_columns.partition_point(|c| c.page < page);
        let end = self.timestamp_columns.partition_point(|c| c.page <= page);
        for (column, entry) in self.timestamp_columns.iter().enumerate().take(end).skip(first) {
            let record_end = match self.timestamp_columns.get(column + 1) {
                Some(next) if next.page == page => next.offset_in_page,
                _ => raw_page.len(),
            };
            let column_error = |detail: String| {
                self.corrupt(format!("pages section: page {page}: timestamp column {column}: {detail}"))
            };
            let record = raw_page
                .get(entry.offset_in_page..record_end)
                .ok_or_else(|| column_error("record lies outside the page".to_string()))?;
            let mut timestamps = Vec::new();
            let consumed = decode_timestamps_into(record, &mut timestamps).map_err(|e| column_error(e.to_string()))?;
            let consistent = consumed == record.len()
                && timestamps.len() as u64 == entry.samples
                && timestamps.first() == Some(&entry.min_t)
                && timestamps.last() == Some(&entry.max_t)
                && timestamps.windows(2).all(|pair| pair[0] < pair[1]);
            if !consistent {
                return Err(column_error("record does not match the timestamp columns section".to_string()));
            }
            columns.insert(column, timestamps);
        }
        Ok(())
    }

    fn labels_of(&self, entry: &SeriesEntry) -> Labels {
        let pairs = self.series_pairs.get(entry.pairs_start..entry.pairs_end).unwrap_or(&[]);
        let symbols = &self.index.symbols;
        Labels::from_pairs(pairs.iter().map(|&(name, value)| (symbols.get(name), symbols.get(value))))
    }

    fn corrupt(&self, detail: String) -> StorageError {
        corrupt(&self.path, detail)
    }
}

/// Everything decoded from a block file at open.
struct ParsedBlock {
    meta: BlockMeta,
    pages: Vec<PageEntry>,
    timestamp_columns: Vec<TimestampColumnEntry>,
    series: Vec<SeriesEntry>,
    series_pairs: Vec<(u32, u32)>,
    index: BlockIndex,
    metadata: Vec<MetricMetadata>,
}

/// A never-panicking cursor over one section that reports problems as [`StorageError::Corrupt`]
/// naming the file, the section and the offset within it.
struct SectionReader<'a> {
    reader: ByteReader<'a>,
    len: usize,
    path: &'a Path,
    section: Section,
}

impl<'a> SectionReader<'a> {
    fn new(path: &'a Path, section: Section, bytes: &'a [u8]) -> Self {
        SectionReader { reader: ByteReader::new(bytes), len: bytes.len(), path, section }
    }

    fn corrupt(&self, detail: impl fmt::Display) -> StorageError {
        corrupt(self.path, format!("{} section at byte {}: {detail}", self.section.name(), self.reader.position()))
    }

    fn remaining(&self) -> usize {
        self.len.saturating_sub(self.reader.position())
    }

    fn uvarint(&mut self, what: &str) -> Result<u64, StorageError> {
        self.reader.uvarint().ok_or_else(|| self.corrupt(format_args!("truncated or malformed {what}")))
    }

    fn usize(&mut self, what: &str) -> Result<usize, StorageError> {
        let value = self.uvarint(what)?;
        usize::try_from(value).map_err(|_| self.corrupt(format_args!("{what} {value} is out of range")))
    }

    /// A count of entries that take at least one byte each: it cannot exceed the bytes left.
    fn count(&mut self, what: &str) -> Result<usize, StorageError> {
        let count = self.usize(what)?;
        if count > self.remaining() {
            return Err(self.corrupt(format_args!("{what} {count} exceeds the {} bytes left", self.remaining())));
        }
        Ok(count)
    }

    /// A symbol id, which must be below `symbol_count`.
    fn symbol(&mut self, what: &str, symbol_count: usize) -> Result<u32, StorageError> {
        let id = self.uvarint(what)?;
        if id >= symbol_count as u64 {
            return Err(self.corrupt(format_args!("{what} {id} is not a symbol (there are {symbol_count})")));
        }
        Ok(id as u32)
    }

    fn u8(&mut self, what: &str) -> Result<u8, StorageError> {
        self.reader.u8().ok_or_else(|| self.corrupt(format_args!("truncated {what}")))
    }

    fn u32_le(&mut self, what: &str) -> Result<u32, StorageError> {
        let bytes = self.reader.take(4).ok_or_else(|| self.corrupt(format_args!("truncated {what}")))?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A record's times as [`RecordTimes::put`] stores them: the first timestamp relative to
    /// `block_mint`, the span, the sample count (at least 1, at most span + 1).
    fn record_times(&mut self, block_mint: i64, owner: fmt::Arguments<'_>) -> Result<RecordTimes, StorageError> {
        let from_block_mint = self.uvarint("min time")?;
        let span = self.uvarint("time span")?;
        let min_t = i64::try_from(i128::from(block_mint) + i128::from(from_block_mint));
        let max_t = min_t.and_then(|min_t| i64::try_from(i128::from(min_t) + i128::from(span)));
        let (Ok(min_t), Ok(max_t)) = (min_t, max_t) else {
            return Err(self.corrupt(format_args!("{owner}: time range overflows")));
        };
        let samples = self.uvarint("sample count")?;
        if samples == 0 || samples - 1 > span {
            return Err(self.corrupt(format_args!("{owner}: {samples} samples cannot span {span} ms")));
        }
        Ok(RecordTimes { min_t, max_t, samples })
    }

    fn str(&mut self, what: &str) -> Result<&'a str, StorageError> {
        self.reader.str().ok_or_else(|| self.corrupt(format_args!("truncated or invalid UTF-8 {what}")))
    }

    fn finish(self) -> Result<(), StorageError> {
        if self.remaining() > 0 {
            return Err(self.corrupt(format_args!("{} bytes left over", self.remaining())));
        }
        Ok(())
    }
}

/// Fixed-width little-endian fields of the footer; the footer's length is checked before use.
fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(field) = bytes.get(at..at + 8) {
        word.copy_from_slice(field);
    }
    u64::from_le_bytes(word)
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(field) = bytes.get(at..at + 4) {
        word.copy_from_slice(field);
    }
    u32::from_le_bytes(word)
}

fn parse_block(path: &Path, bytes: &[u8]) -> Result<ParsedBlock, StorageError> {
    let file_len = bytes.len();
    if file_len < HEADER_LEN + FOOTER_LEN {
        return Err(corrupt(path, format!("file is {file_len} bytes, shorter than a header and footer")));
    }
    let (header, rest) = bytes.split_at(HEADER_LEN);
    if header[..4] != BLOCK_MAGIC {
        return Err(corrupt(path, "header: bad magic number"));
    }
    if header[4] != BLOCK_VERSION {
        return Err(corrupt(path, format!("header: unsupported format version {}", header[4])));
    }
    if header[5..] != [0, 0, 0] {
        return Err(corrupt(path, "header: reserved bytes are not zero"));
    }
    let footer = &rest[rest.len() - FOOTER_LEN..];
    if footer[FOOTER_LEN - 4..] != BLOCK_MAGIC {
        return Err(corrupt(path, "footer: bad trailing magic number (truncated file?)"));
    }
    if crc32c::crc32c(&footer[..FOOTER_CHECKED_LEN]) != le_u32(footer, FOOTER_CHECKED_LEN) {
        return Err(corrupt(path, "footer: checksum mismatch"));
    }

    // Sections must tile the file between header and footer, in order.
    let mut sections: Vec<&[u8]> = Vec::with_capacity(SECTIONS.len());
    let mut expected_offset = HEADER_LEN as u64;
    let footer_offset = (file_len - FOOTER_LEN) as u64;
    for (position, section) in SECTIONS.iter().enumerate() {
        let at = position * SECTION_ENTRY_LEN;
        let (offset, length, crc) = (le_u64(footer, at), le_u64(footer, at + 8), le_u32(footer, at + 16));
        let end = offset.checked_add(length).filter(|&end| offset == expected_offset && end <= footer_offset);
        let Some(end) = end else {
            let name = section.name();
            return Err(corrupt(
                path,
                format!("footer: {name} section at {offset}+{length} does not follow at {expected_offset} in the file"),
            ));
        };
        // Both within the file length, which is a usize.
        let slice = bytes.get(offset as usize..end as usize).unwrap_or(&[]);
        if *section == Section::Pages {
            if crc != 0 {
                return Err(corrupt(path, "footer: pages section has a checksum (pages carry their own)"));
            }
        } else if crc32c::crc32c(slice) != crc {
            return Err(corrupt(path, format!("{} section: checksum mismatch", section.name())));
        }
        sections.push(slice);
        expected_offset = end;
    }
    if expected_offset != footer_offset {
        let detail = format!("footer: sections end at {expected_offset}, the footer starts at {footer_offset}");
        return Err(corrupt(path, detail));
    }
    let table_len = SECTIONS.len() * SECTION_ENTRY_LEN;
    let footer_mint = le_u64(footer, table_len) as i64;
    let footer_maxt = le_u64(footer, table_len + 8) as i64;
    let footer_series = le_u64(footer, table_len + 16);
    let footer_samples = le_u64(footer, table_len + 24);

    let pages = parse_page_index(path, sections[1], HEADER_LEN, sections[0].len())?;
    let timestamp_columns = parse_timestamp_columns(path, sections[2], footer_mint, &pages)?;
    let symbols = parse_symbols(path, sections[3])?;
    let table = parse_series(path, sections[4], footer_mint, symbols.len(), &pages, &timestamp_columns)?;
    let from_table = (table.mint, table.maxt, table.entries.len() as u64, table.samples);
    if from_table != (footer_mint, footer_maxt, footer_series, footer_samples) {
        return Err(corrupt(path, "footer: time range or counts differ from the series table"));
    }
    let index = parse_postings(path, sections[5], symbols, &table.entries, &table.pairs)?;
    let metadata = parse_metadata(path, sections[6])?;
    Ok(ParsedBlock {
        meta: BlockMeta {
            mint: footer_mint,
            maxt: footer_maxt,
            series: footer_series,
            samples: footer_samples,
            bytes: file_len as u64,
        },
        pages,
        timestamp_columns,
        series: table.entries,
        series_pairs: table.pairs,
        index,
        metadata,
    })
}

/// Page `i` starts where page `i − 1` ends; together the pages fill the pages section exactly.
fn parse_page_index(
    path: &Path,
    bytes: &[u8],
    pages_offset: usize,
    pages_len: usize,
) -> Result<Vec<PageEntry>, StorageError> {
    let mut r = SectionReader::new(path, Section::PageIndex, bytes);
    let count = r.count("page count")?;
    let mut pages = Vec::with_capacity(count);
    let mut offset = pages_offset;
    let pages_end = pages_offset + pages_len;
    for page in 0..count {
        let compressed_len = r.usize("compressed page length")?;
        let raw_len = r.usize("raw page length")?;
        let crc = r.u32_le("page checksum")?;
        let end = offset.checked_add(compressed_len).filter(|&end| end <= pages_end);
        let Some(end) = end else {
            return Err(r.corrupt(format_args!("page {page} runs past the pages section")));
        };
        if compressed_len == 0 || raw_len == 0 {
            return Err(r.corrupt(format_args!("page {page} is empty")));
        }
        pages.push(PageEntry { offset, compressed_len, raw_len, crc });
        offset = end;
    }
    if offset != pages_end {
        let covered = offset - pages_offset;
        return Err(r.corrupt(format_args!("pages cover {covered} of the {pages_len} bytes of the pages section")));
    }
    r.finish()?;
    Ok(pages)
}

/// Whether a record at `page`/`offset` leaves no gap after `previous`, the record before it in
/// the same run of records: later in the same page, or at the start of the next page. The first
/// record of the run (`previous` is `None`) must start page `first_page`.
fn follows_without_gap(previous: Option<(usize, usize)>, first_page: usize, page: usize, offset: usize) -> bool {
    match previous {
        None => page == first_page && offset == 0,
        Some((previous_page, previous_offset)) if previous_page == page => offset > previous_offset,
        Some((previous_page, _)) => previous_page.checked_add(1) == Some(page) && offset == 0,
    }
}

/// Decode the timestamp columns section: the columns' records fill the first pages in column
/// order, the first at page 0 offset 0, with no gaps — so a column ends where the next begins or
/// at the end of its page, and the series records start on the page after the last column's.
fn parse_timestamp_columns(
    path: &Path,
    bytes: &[u8],
    block_mint: i64,
    pages: &[PageEntry],
) -> Result<Vec<TimestampColumnEntry>, StorageError> {
    let mut r = SectionReader::new(path, Section::TimestampColumns, bytes);
    let count = r.count("timestamp column count")?;
    let mut columns: Vec<TimestampColumnEntry> = Vec::with_capacity(count);
    for column in 0..count {
        let times = r.record_times(block_mint, format_args!("timestamp column {column}"))?;
        let page = r.usize("page number")?;
        let offset_in_page = r.usize("offset in page")?;
        let previous = columns.last().map(|c| (c.page, c.offset_in_page));
        if !follows_without_gap(previous, 0, page, offset_in_page)
            || pages.get(page).is_none_or(|p| offset_in_page >= p.raw_len)
        {
            let place = format!("page {page} offset {offset_in_page}");
            return Err(r.corrupt(format_args!("timestamp column {column}: record at {place} is out of place")));
        }
        let RecordTimes { min_t, max_t, samples } = times;
        columns.push(TimestampColumnEntry { min_t, max_t, samples, page, offset_in_page });
    }
    r.finish()?;
    Ok(columns)
}

fn parse_symbols(path: &Path, bytes: &[u8]) -> Result<SymbolTable, StorageError> {
    let mut r = SectionReader::new(path, Section::Symbols, bytes);
    let count = r.count("symbol count")?;
    if count > u32::MAX as usize {
        return Err(r.corrupt("more symbols than ids"));
    }
    let mut table = SymbolTable { text: String::with_capacity(bytes.len()), starts: Vec::with_capacity(count + 1) };
    table.starts.push(0);
    let mut previous: Option<&str> = None;
    for _ in 0..count {
        let symbol = r.str("symbol")?;
        if previous.is_some_and(|p| p >= symbol) {
            return Err(r.corrupt(format_args!("symbol {symbol:?} is not after {:?}", previous.unwrap_or(""))));
        }
        table.text.push_str(symbol);
        table.starts.push(table.text.len());
        previous = Some(symbol);
    }
    r.finish()?;
    Ok(table)
}

/// The decoded series table, with its time range and sample total (checked against the footer).
struct SeriesTable {
    entries: Vec<SeriesEntry>,
    pairs: Vec<(u32, u32)>,
    mint: i64,
    maxt: i64,
    samples: u64,
}

/// Decode the series table. Besides ids and counts in range, this checks that series are strictly
/// ascending by labels, that timestamp columns exist, and that the records are laid out in order
/// from the start of the page after the timestamp columns: the first series of each page at
/// offset 0, later ones at increasing offsets, every page used — which lets a reader delimit each
/// record by the next one and keep just one decompressed series page at a time.
fn parse_series(
    path: &Path,
    bytes: &[u8],
    block_mint: i64,
    symbol_count: usize,
    pages: &[PageEntry],
    timestamp_columns: &[TimestampColumnEntry],
) -> Result<SeriesTable, StorageError> {
    let first_series_page = timestamp_columns.last().map_or(0, |column| column.page + 1);
    let mut r = SectionReader::new(path, Section::Series, bytes);
    let count = r.count("series count")?;
    if count > u32::MAX as usize {
        return Err(r.corrupt("more series than references"));
    }
    let mut series: Vec<SeriesEntry> = Vec::with_capacity(count);
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let (mut mint, mut maxt, mut total_samples) = (i64::MAX, i64::MIN, 0u64);
    for index in 0..count {
        let label_count = r.count("label count")?;
        let pairs_start = pairs.len();
        for _ in 0..label_count {
            let name = r.symbol("label name id", symbol_count)?;
            let value = r.symbol("label value id", symbol_count)?;
            if pairs.len() > pairs_start && pairs.last().is_some_and(|&(previous, _)| previous >= name) {
                return Err(r.corrupt(format_args!("series {index}: label names are not ascending")));
            }
            pairs.push((name, value));
        }
        let pairs_end = pairs.len();
        if let Some(previous) = series.last()
            && pairs[previous.pairs_start..previous.pairs_end] >= pairs[pairs_start..pairs_end]
        {
            return Err(r.corrupt(format_args!("series {index} is not after series {} in label order", index - 1)));
        }
        let (timestamp_column, times) = match r.uvarint("timestamp column")? {
            0 => (None, r.record_times(block_mint, format_args!("series {index}"))?),
            plus_one => {
                let column = usize::try_from(plus_one - 1).ok();
                let Some((column, entry)) = column.and_then(|c| Some((c, timestamp_columns.get(c)?))) else {
                    let detail = format!("series {index}: no timestamp column {}", plus_one - 1);
                    return Err(r.corrupt(detail));
                };
                (Some(column), RecordTimes { min_t: entry.min_t, max_t: entry.max_t, samples: entry.samples })
            }
        };
        let RecordTimes { min_t, max_t, samples } = times;
        let page = r.usize("page number")?;
        let offset_in_page = r.usize("offset in page")?;
        let previous = series.last().map(|s| (s.page, s.offset_in_page));
        if !follows_without_gap(previous, first_series_page, page, offset_in_page)
            || pages.get(page).is_none_or(|p| offset_in_page >= p.raw_len)
        {
            let place = format!("page {page} offset {offset_in_page}");
            return Err(r.corrupt(format_args!("series {index}: record at {place} is out of place")));
        }
        mint = mint.min(min_t);
        maxt = maxt.max(max_t);
        total_samples = total_samples.checked_add(samples).ok_or_else(|| r.corrupt("sample total overflows"))?;
        series.push(SeriesEntry {
            pairs_start,
            pairs_end,
            min_t,
            max_t,
            samples,
            timestamp_column,
            page,
            offset_in_page,
        });
    }
    let used = series.last().map_or(first_series_page, |s| s.page + 1);
    if used != pages.len() {
        let detail = format!("timestamp columns and series use {used} of {} pages", pages.len());
        return Err(r.corrupt(detail));
    }
    r.finish()?;
    Ok(SeriesTable { entries: series, pairs, mint, maxt, samples: total_samples })
}

/// Decode the postings and check them against the series table: every list entry must be a
/// series carrying that pair, and there must be exactly as many entries as series label pairs —
/// so the postings are precisely the series table inverted.
fn parse_postings(
    path: &Path,
    bytes: &[u8],
    symbols: SymbolTable,
    series: &[SeriesEntry],
    series_pairs: &[(u32, u32)],
) -> Result<BlockIndex, StorageError> {
    let mut r = SectionReader::new(path, Section::Postings, bytes);
    let pair_count = r.count("label pair count")?;
    let mut index = BlockIndex { series_count: series.len() as u32, ..BlockIndex::default() };
    index.pair_values.reserve(pair_count);
    index.pair_lists.reserve(pair_count);
    index.postings.reserve(series_pairs.len());
    let mut previous_pair: Option<(u32, u32)> = None;
    for _ in 0..pair_count {
        let name = r.symbol("label name id", symbols.len())?;
        let value = r.symbol("label value id", symbols.len())?;
        if previous_pair.is_some_and(|p| p >= (name, value)) {
            return Err(r.corrupt("label pairs are not ascending"));
        }
        previous_pair = Some((name, value));
        let list_len = r.count("postings length")?;
        if list_len == 0 {
            return Err(r.corrupt("empty postings list"));
        }
        let list_start = index.postings.len();
        let mut previous_series: Option<u64> = None;
        for _ in 0..list_len {
            let step = r.uvarint("series reference")?;
            let reference = match previous_series {
                None => Some(step),
                Some(previous) => previous.checked_add(step).filter(|_| step > 0),
            };
            let Some(reference) = reference.filter(|&s| s < series.len() as u64) else {
                return Err(r.corrupt("series references are not ascending series numbers"));
            };
            let entry = &series[reference as usize];
            let carried = series_pairs.get(entry.pairs_start..entry.pairs_end).unwrap_or(&[]);
            if carried.binary_search_by_key(&name, |&(n, _)| n).ok().map(|at| carried[at].1) != Some(value) {
                let detail = format!("series {reference} is listed under a label pair it does not carry");
                return Err(r.corrupt(detail));
            }
            index.postings.push(reference as u32);
            previous_series = Some(reference);
        }
        match index.names.last_mut() {
            Some(last) if last.0 == name => last.2 += 1,
            _ => index.names.push((name, index.pair_values.len(), index.pair_values.len() + 1)),
        }
        index.pair_values.push(value);
        index.pair_lists.push((list_start, index.postings.len()));
    }
    if index.postings.len() != series_pairs.len() {
        return Err(r.corrupt(format_args!(
            "postings hold {} entries for {} series label pairs",
            index.postings.len(),
            series_pairs.len()
        )));
    }
    r.finish()?;
    index.symbols = symbols;
    Ok(index)
}

fn parse_metadata(path: &Path, bytes: &[u8]) -> Result<Vec<MetricMetadata>, StorageError> {
    let mut r = SectionReader::new(path, Section::Metadata, bytes);
    let count = r.count("metadata count")?;
    let mut metadata: Vec<MetricMetadata> = Vec::with_capacity(count);
    for _ in 0..count {
        let code = r.u8("metric type")?;
        let Some(&kind) = METRIC_TYPES_BY_CODE.get(usize::from(code)) else {
            return Err(r.corrupt(format_args!("unknown metric type {code}")));
        };
        let metric_family_name = r.str("family name")?.to_string();
        if metadata.last().is_some_and(|m| m.metric_family_name >= metric_family_name) {
            return Err(r.corrupt(format_args!("family {metric_family_name:?} is out of order")));
        }
        let help = r.str("help")?.to_string();
        let unit = r.str("unit")?.to_string();
        metadata.push(MetricMetadata { metric_family_name, kind, help, unit });
    }
    r.finish()?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::chunk::synthetic::{Fleet, Jitter, measure_fleet};
    use crate::tsdb::matcher::MatchOp;
    use crate::tsdb::model::{STALE_NAN_BITS, SeriesWrite, WriteBatch};
    use crate::tsdb::{FsyncPolicy, Tsdb, TsdbOptions};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points.iter().map(|&(t, v)| Sample { t, v }).collect()
    }

    fn same_bits(a: &[Sample], b: &[Sample]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    fn assert_same_series(got: &[SeriesSamples], want: &[SeriesSamples], context: &str) {
        assert_eq!(got.len(), want.len(), "{context}: series count");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.labels, w.labels, "{context}");
            assert!(same_bits(&g.samples, &w.samples), "{context}: samples of {}", g.labels);
        }
    }

    fn metadata_fixture() -> Vec<MetricMetadata> {
        vec![
            MetricMetadata { metric_family_name: "up".into(), kind: MetricType::Gauge, help: "old".into(), unit: String::new() },
            MetricMetadata {
                metric_family_name: "http_requests_total".into(),
                kind: MetricType::Counter,
                help: "Requests.".into(),
                unit: "requests".into(),
            },
            MetricMetadata { metric_family_name: "up".into(), kind: MetricType::StateSet, help: "Up?".into(), unit: String::new() },
        ]
    }

    /// A few series with every kind of special value.
    fn special_series() -> Vec<(Labels, Vec<Sample>)> {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut series = vec![
            (
                labels(&[("__name__", "http_requests_total"), ("code", "200"), ("job", "api")]),
                samples(&[(1000, 1.0), (16_000, 5.5), (31_000, stale), (46_000, 7.0)]),
            ),
            // Scraped with the one above: the two share a timestamp column.
            (
                labels(&[("__name__", "http_requests_total"), ("code", "500"), ("job", "api")]),
                samples(&[(1000, 0.0), (16_000, 0.0), (31_000, stale), (46_000, 2.0)]),
            ),
            (
                labels(&[("__name__", "odd"), ("job", "weird \"quoted\" ✓")]),
                samples(&[
                    (-5000, f64::NAN),
                    (0, f64::INFINITY),
                    (1, f64::NEG_INFINITY),
                    (2, -0.0),
                    (3, f64::from_bits(0x7ff8_0000_0000_0001)),
                    (4, f64::MIN_POSITIVE),
                    (5, stale),
                ]),
            ),
            (labels(&[("__name__", "up"), ("job", "api")]), samples(&[(i64::MIN, 1.0), (i64::MAX, 0.0)])),
            (labels(&[("__name__", "up"), ("job", "db")]), samples(&[(7, stale)])),
        ];
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    }

    fn write_special(dir: &Path) -> (PathBuf, BlockMeta) {
        let meta = write_block(dir, "special", special_series().into_iter(), &metadata_fixture()).unwrap();
        (dir.join("special"), meta)
    }

    #[test]
    fn write_and_read_back_bit_exact() {
        fn shared_across_threads<T: Send + Sync>() {}
        shared_across_threads::<Block>();
        let tmp = tempfile::tempdir().unwrap();
        let (path, meta) = write_special(tmp.path());
        assert!(!tmp.path().join("special.tmp").exists(), "temporary file renamed away");
        let want = special_series();
        assert_eq!(meta.series, want.len() as u64);
        assert_eq!(meta.samples, want.iter().map(|s| s.1.len() as u64).sum::<u64>());
        assert_eq!((meta.mint, meta.maxt), (i64::MIN, i64::MAX));
        assert_eq!(meta.bytes, fs::metadata(&path).unwrap().len());
        let block = Block::open(&path).unwrap();
        assert_eq!(block.meta(), meta);
        assert_eq!(block.path(), path);
        let got = block.all_series().unwrap();
        let want: Vec<SeriesSamples> = want.into_iter().map(|(labels, samples)| SeriesSamples { labels, samples }).collect();
        assert_same_series(&got, &want, "all_series");
        assert_same_series(&block.select(&[], i64::MIN, i64::MAX).unwrap(), &want, "select everything");
        let names: Vec<&str> = block.metadata().iter().map(|m| m.metric_family_name.as_str()).collect();
        assert_eq!(names, ["http_requests_total", "up"], "sorted, one per family");
        assert_eq!(block.metadata()[1].kind, MetricType::StateSet, "the last entry for a family wins");
        assert_eq!(block.metadata()[0], metadata_fixture()[1]);
    }

    #[test]
    fn series_without_samples_are_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        let input = vec![
            (labels(&[("__name__", "a")]), samples(&[(1, 1.0)])),
            (labels(&[("__name__", "b")]), Vec::new()),
            (labels(&[("__name__", "c")]), samples(&[(2, 2.0)])),
        ];
        let meta = write_block(tmp.path(), "b", input.into_iter(), &[]).unwrap();
        assert_eq!((meta.series, meta.samples, meta.mint, meta.maxt), (2, 2, 1, 2));
        let block = Block::open(&tmp.path().join("b")).unwrap();
        assert_eq!(block.series(&[], i64::MIN, i64::MAX), vec![labels(&[("__name__", "a")]), labels(&[("__name__", "c")])]);
    }

    #[test]
    fn empty_block() {
        let tmp = tempfile::tempdir().unwrap();
        let meta = write_block(tmp.path(), "empty", std::iter::empty(), &[]).unwrap();
        assert_eq!((meta.series, meta.samples, meta.mint, meta.maxt), (0, 0, i64::MAX, i64::MIN));
        assert_eq!(meta.bytes, (HEADER_LEN + FOOTER_LEN + 6) as u64, "six one-byte zero counts");
        let block = Block::open(&tmp.path().join("empty")).unwrap();
        assert_eq!(block.meta(), meta);
        assert!(block.all_series().unwrap().is_empty());
        assert!(block.select(&[], i64::MIN, i64::MAX).unwrap().is_empty());
        assert!(block.series(&[Matcher::equal("__name__", "up")], i64::MIN, i64::MAX).is_empty());
        assert!(block.metadata().is_empty());
        // Metadata alone is kept.
        write_block(tmp.path(), "meta-only", std::iter::empty(), &metadata_fixture()).unwrap();
        assert_eq!(Block::open(&tmp.path().join("meta-only")).unwrap().metadata().len(), 2);
    }

    #[test]
    fn unsorted_input_is_refused_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let a = labels(&[("__name__", "a")]);
        let b = labels(&[("__name__", "b")]);
        let one = samples(&[(1, 1.0)]);
        type Input = Vec<(Labels, Vec<Sample>)>;
        let cases: Vec<(&str, Input)> = vec![
            ("series out of order", vec![(b.clone(), one.clone()), (a.clone(), one.clone())]),
            ("duplicate series", vec![(a.clone(), one.clone()), (a.clone(), one.clone())]),
            ("out of order after an empty series", vec![(b.clone(), Vec::new()), (a.clone(), one.clone())]),
            ("samples out of order", vec![(a.clone(), samples(&[(2, 1.0), (1, 1.0)]))]),
            ("duplicate timestamps", vec![(a.clone(), samples(&[(1, 1.0), (1, 1.0)]))]),
        ];
        for (what, input) in cases {
            let err = write_block(tmp.path(), "bad", input.into_iter(), &[]).unwrap_err();
            match &err {
                StorageError::Io { source, .. } => assert_eq!(source.kind(), io::ErrorKind::InvalidInput, "{what}: {err}"),
                other => panic!("{what}: {other}"),
            }
            assert!(!tmp.path().join("bad").exists() && !tmp.path().join("bad.tmp").exists(), "{what}");
        }
    }

    /// Series shaped like a small fleet, with gaps, late starts and early ends. The series of one
    /// target (job and instance) are scraped together, so they share their timestamps — except,
    /// in three targets of four, the one series that misses some scrapes.
    fn fleet_series() -> Vec<(Labels, Vec<Sample>)> {
        let mut series = Vec::new();
        for (n, name) in ["up", "node_load1", "http_requests_total"].iter().enumerate() {
            for (j, job) in ["api", "db", "node"].iter().enumerate() {
                for instance in 0..12i64 {
                    let instance_name = format!("host-{instance}");
                    let mut pairs = vec![("__name__", *name), ("job", *job), ("instance", instance_name.as_str())];
                    if instance % 3 == 0 {
                        pairs.push(("env", "prod"));
                    } else if instance % 3 == 1 {
                        pairs.push(("env", "dev"));
                    }
                    let target = (j * 20) as i64 + instance;
                    let seed = n as i64 * 100 + target;
                    let first = (target % 7) * 60_000;
                    let last = 3_600_000 - (target % 5) * 120_000;
                    let gap = (target + n as i64) % 4 == 0;
                    let points: Vec<Sample> = (0..)
                        .map(|k| first + k * 15_000 + (k * target) % 3)
                        .take_while(|&t| t <= last)
                        .filter(|t| !(gap && (1_200_000..1_500_000).contains(t)))
                        .enumerate()
                        .map(|(k, t)| Sample { t, v: (seed * 1000 + k as i64) as f64 / 8.0 })
                        .collect();
                    series.push((labels(&pairs), points));
                }
            }
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    }

    #[test]
    fn selection_is_identical_to_the_head() {
        let tmp = tempfile::tempdir().unwrap();
        let input = fleet_series();
        let tsdb = Tsdb::open(&tmp.path().join("head"), TsdbOptions { fsync: FsyncPolicy::Never, ..TsdbOptions::default() }).unwrap();
        let batch = WriteBatch {
            series: input.iter().map(|(labels, samples)| SeriesWrite { labels: labels.clone(), samples: samples.clone() }).collect(),
            metadata: Vec::new(),
        };
        assert_eq!(tsdb.append(&batch).unwrap().samples_rejected, 0);
        write_block(tmp.path(), "fleet", input.into_iter(), &[]).unwrap();
        let block = Block::open(&tmp.path().join("fleet")).unwrap();
        assert_eq!(block.timestamp_columns.len(), 36, "one per target");
        assert_eq!(block.series.iter().filter(|s| s.timestamp_column.is_none()).count(), 27, "the gappy series");
        let m = |op, name: &str, value: &str| Matcher::new(op, name, value).unwrap();
        let selectors: Vec<Vec<Matcher>> = vec![
            vec![],
            vec![Matcher::equal("__name__", "up")],
            vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "db")],
            vec![m(MatchOp::NotEqual, "job", "db")],
            vec![m(MatchOp::Regex, "job", "api|node"), m(MatchOp::Regex, "instance", "host-1.*")],
            vec![m(MatchOp::NotRegex, "__name__", "up|node_.*")],
            vec![Matcher::equal("env", "")],
            vec![m(MatchOp::NotEqual, "env", "")],
            vec![m(MatchOp::Regex, "env", ".*"), Matcher::equal("job", "api")],
            vec![m(MatchOp::Regex, "env", ".+")],
            vec![m(MatchOp::NotRegex, "env", "prod")],
            vec![Matcher::equal("nosuch", "x")],
            vec![m(MatchOp::NotEqual, "nosuch", "x")],
            vec![Matcher::equal("__name__", "up"), Matcher::equal("__name__", "node_load1")],
            vec![Matcher::equal("job", "nosuch")],
        ];
        let ranges = [
            (i64::MIN, i64::MAX),
            (0, 3_600_000),
            (-1000, -1),
            (3_600_001, i64::MAX),
            (60_000, 60_000),
            (1_250_000, 1_450_000),
            (900_000, 1_800_000),
            (2_000_000, 1_000_000),
        ];
        for matchers in &selectors {
            for &(mint, maxt) in &ranges {
                let context = format!("{matchers:?} [{mint}, {maxt}]");
                let want = tsdb.select(matchers, mint, maxt).unwrap();
                assert_same_series(&block.select(matchers, mint, maxt).unwrap(), &want, &context);
                assert_eq!(block.series(matchers, mint, maxt), tsdb.series(matchers, mint, maxt), "{context}");
            }
        }
        assert!(!tsdb.select(&[m(MatchOp::Regex, "job", "api|node")], 900_000, 1_800_000).unwrap().is_empty());
    }

    #[test]
    fn time_ranges_are_inclusive_and_filter_samples() {
        let tmp = tempfile::tempdir().unwrap();
        let gappy = labels(&[("__name__", "gappy")]);
        let steady = labels(&[("__name__", "steady")]);
        let input = vec![
            (gappy.clone(), samples(&[(1000, 1.0), (2000, 2.0), (9000, 9.0)])),
            (steady.clone(), samples(&[(1000, 1.0), (3000, 3.0), (5000, 5.0), (7000, 7.0)])),
        ];
        write_block(tmp.path(), "t", input.into_iter(), &[]).unwrap();
        let block = Block::open(&tmp.path().join("t")).unwrap();
        let times = |mint, maxt| -> Vec<(String, Vec<i64>)> {
            block
                .select(&[], mint, maxt)
                .unwrap()
                .into_iter()
                .map(|s| (s.labels.metric_name().unwrap_or("").to_string(), s.samples.iter().map(|x| x.t).collect()))
                .collect()
        };
        assert_eq!(times(2000, 5000), vec![("gappy".into(), vec![2000]), ("steady".into(), vec![3000, 5000])]);
        assert_eq!(times(3000, 8000), vec![("steady".into(), vec![3000, 5000, 7000])], "a gap leaves gappy out");
        assert_eq!(times(9000, 9000), vec![("gappy".into(), vec![9000])]);
        assert_eq!(times(7001, 8999), vec![]);
        assert_eq!(times(0, 999), vec![]);
        assert_eq!(times(5000, 4000), vec![], "an inverted range selects nothing");
        // `series` goes by each series' time span and reads no pages.
        assert_eq!(block.series(&[], 3000, 8000), vec![gappy.clone(), steady.clone()]);
        assert_eq!(block.series(&[], 8000, 8500), vec![gappy]);
        assert_eq!(block.series(&[], 9001, i64::MAX), Vec::<Labels>::new());
    }

    /// Open `bytes` as a block and read every page; `true` when that reports corruption.
    fn corruption_detected(bytes: Vec<u8>) -> bool {
        let path = PathBuf::from("/test/block");
        let result = Block::from_bytes(path.clone(), BlockBytes::InMemory(bytes)).and_then(|b| b.all_series());
        match result {
            Err(StorageError::Corrupt { path: reported, detail }) => {
                assert_eq!(reported, path);
                assert!(!detail.is_empty());
                true
            }
            Err(other) => panic!("corruption reported as {other}"),
            Ok(_) => false,
        }
    }

    fn section_spans(bytes: &[u8]) -> Vec<(Section, usize, usize)> {
        let footer = &bytes[bytes.len() - FOOTER_LEN..];
        SECTIONS
            .iter()
            .enumerate()
            .map(|(i, &section)| {
                let offset = le_u64(footer, i * SECTION_ENTRY_LEN) as usize;
                (section, offset, offset + le_u64(footer, i * SECTION_ENTRY_LEN + 8) as usize)
            })
            .collect()
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = write_special(tmp.path());
        let original = fs::read(&path).unwrap();
        assert!(!corruption_detected(original.clone()));
        for offset in 0..original.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bytes = original.clone();
                bytes[offset] ^= mask;
                assert!(corruption_detected(bytes), "flip {mask:#x} at byte {offset} of {}", original.len());
            }
        }
        for len in 0..original.len() {
            assert!(corruption_detected(original[..len].to_vec()), "truncated to {len}");
        }
        let mut extended = original.clone();
        extended.push(0);
        assert!(corruption_detected(extended), "a trailing byte");
        // Through the file system: a truncated file and a flipped page byte, named in the error.
        fs::write(&path, &original[..original.len() - 1]).unwrap();
        let err = Block::open(&path).unwrap_err();
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        assert!(err.to_string().starts_with(&format!("corrupt block {}: ", path.display())), "{err}");
        fs::write(&path, &original[..10]).unwrap();
        assert!(matches!(Block::open(&path), Err(StorageError::Corrupt { .. })));
        // Page 0 holds the timestamp column of the two http_requests_total series: they fail,
        // series with their own timestamps (on page 1) do not.
        let mut flipped = original.clone();
        flipped[HEADER_LEN + 3] ^= 0x10;
        fs::write(&path, &flipped).unwrap();
        let block = Block::open(&path).unwrap();
        assert_eq!((block.timestamp_columns.len(), block.pages.len()), (1, 2));
        let err = block.select(&[Matcher::equal("__name__", "http_requests_total")], i64::MIN, i64::MAX).unwrap_err();
        assert!(err.to_string().contains("pages section: page 0"), "{err}");
        assert_eq!(block.select(&[Matcher::equal("__name__", "up")], i64::MIN, i64::MAX).unwrap().len(), 2);
    }

    #[test]
    fn corruption_in_each_section_of_a_multi_page_block_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        // Two targets (a timestamp column each) and a few series with timestamps of their own.
        let fleet = Fleet::new(2, 480, Jitter::Raw);
        let mut input = parsed_fleet(&fleet);
        input.extend(special_series());
        input.sort_by(|a, b| a.0.cmp(&b.0));
        write_block(tmp.path(), "big", input.into_iter(), &metadata_fixture()).unwrap();
        let original = fs::read(tmp.path().join("big")).unwrap();
        let block = Block::from_bytes(PathBuf::from("/test/block"), BlockBytes::InMemory(original.clone())).unwrap();
        assert!(block.pages.len() >= 3, "{} pages", block.pages.len());
        assert_eq!(block.timestamp_columns.len(), 3);
        assert!(block.series.iter().any(|s| s.timestamp_column.is_none()));
        // The pages a query for series `s` reads: its record's and its timestamp column's.
        let needs_page = |s: &SeriesEntry, page: usize| {
            s.page == page || s.timestamp_column.is_some_and(|c| block.timestamp_columns[c].page == page)
        };
        let spans = section_spans(&original);
        for &(section, start, end) in &spans {
            assert!(end > start, "{} section is empty", section.name());
            // Every byte of the small sections, a spread of the large ones (pages cost a
            // decompression each, so fewer of them).
            let flips = if section == Section::Pages { 150 } else { 1500 };
            let stride = ((end - start) / flips).max(1);
            for offset in (start..end).step_by(stride).chain([end - 1]) {
                let mut bytes = original.clone();
                bytes[offset] ^= 0x04;
                let result = Block::from_bytes(PathBuf::from("/test/block"), BlockBytes::InMemory(bytes));
                let err = match (section, result) {
                    (Section::Pages, Ok(block)) => {
                        let err = block.all_series().unwrap_err();
                        let page = block.pages.iter().position(|p| p.offset <= offset && offset < p.offset + p.compressed_len);
                        let page = page.unwrap_or(usize::MAX);
                        assert!(err.to_string().contains(&format!("page {page}:")), "{err}");
                        // Only the damaged page fails: a query for a series elsewhere still works.
                        let elsewhere =
                            block.series.iter().find(|s| !needs_page(s, page)).map(|s| block.labels_of(s)).unwrap();
                        let matchers: Vec<Matcher> = elsewhere.iter().map(|l| Matcher::equal(&l.name, &l.value)).collect();
                        assert_eq!(block.select(&matchers, i64::MIN, i64::MAX).unwrap().len(), 1);
                        err
                    }
                    (_, Ok(_)) => panic!("flip at {offset} in the {} section went unnoticed", section.name()),
                    (_, Err(err)) => err,
                };
                assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
                assert!(err.to_string().contains(section.name()), "flip at {offset}: {err}");
            }
        }
        for offset in original.len() - FOOTER_LEN..original.len() {
            let mut bytes = original.clone();
            bytes[offset] ^= 0x20;
            let err = Block::from_bytes(PathBuf::from("/test/block"), BlockBytes::InMemory(bytes)).unwrap_err();
            assert!(err.to_string().contains("footer"), "{err}");
        }
        for len in (0..original.len()).step_by(97) {
            assert!(corruption_detected(original[..len].to_vec()), "truncated to {len}");
        }
    }

    #[test]
    fn timestamps_shared_by_two_or_more_series_are_stored_once() {
        let tmp = tempfile::tempdir().unwrap();
        let scraped = |times: &[i64], v: f64| -> Vec<Sample> { times.iter().map(|&t| Sample { t, v }).collect() };
        let target_1 = [1000, 16_000, 31_000, 46_000];
        let target_2 = [1000, 16_000, 31_001, 46_000];
        let input = vec![
            (labels(&[("__name__", "a"), ("i", "1")]), scraped(&target_1, 1.0)),
            (labels(&[("__name__", "a"), ("i", "2")]), scraped(&target_2, 2.0)),
            (labels(&[("__name__", "b"), ("i", "1")]), scraped(&target_1, 3.0)),
            (labels(&[("__name__", "b"), ("i", "2")]), scraped(&target_2, f64::from_bits(STALE_NAN_BITS))),
            (labels(&[("__name__", "c"), ("i", "1")]), scraped(&target_1[..3], 5.0)),
            (labels(&[("__name__", "c"), ("i", "3")]), scraped(&[7], 6.0)),
            (labels(&[("__name__", "d"), ("i", "1")]), scraped(&target_1, 7.0)),
        ];
        let sharing = SharedTimestamps::find(&input);
        // A sequence differing in one timestamp is another column; a prefix of a shared sequence
        // and a sequence of one series are a series' own.
        assert_eq!(sharing.column_of, [Some(0), Some(1), Some(0), Some(1), None, None, Some(0)]);
        assert_eq!(sharing.first_series, [0, 1]);
        write_block(tmp.path(), "shared", input.clone().into_iter(), &[]).unwrap();
        let block = Block::open(&tmp.path().join("shared")).unwrap();
        let columns: Vec<Option<usize>> = block.series.iter().map(|s| s.timestamp_column).collect();
        assert_eq!(columns, [Some(0), Some(1), Some(0), Some(1), None, None, Some(0)]);
        assert_eq!(block.pages.len(), 2, "a page of timestamp columns, a page of records");
        assert!(block.timestamp_columns.iter().all(|c| c.page == 0));
        assert_eq!(block.series[0].page, 1);
        for (series, &column) in block.series.iter().zip(&columns) {
            let raw_page = block.read_page(series.page).unwrap();
            let reference = shared_timestamps_ref(&raw_page[series.offset_in_page..]).unwrap();
            assert_eq!(reference, column.map(|c| c as u64));
        }
        let want: Vec<SeriesSamples> = input
            .iter()
            .map(|(labels, samples)| SeriesSamples { labels: labels.clone(), samples: samples.clone() })
            .collect();
        assert_same_series(&block.all_series().unwrap(), &want, "all_series");
        let b = block.select(&[Matcher::equal("__name__", "b")], 16_000, 31_000).unwrap();
        assert_same_series(
            &b,
            &[
                SeriesSamples { labels: want[2].labels.clone(), samples: want[2].samples[1..3].to_vec() },
                SeriesSamples { labels: want[3].labels.clone(), samples: want[3].samples[1..2].to_vec() },
            ],
            "b in a range",
        );
    }

    /// The bytes of each section of a block file, in file order.
    fn section_bytes(bytes: &[u8]) -> Vec<Vec<u8>> {
        section_spans(bytes).iter().map(|&(_, start, end)| bytes[start..end].to_vec()).collect()
    }

    /// A block file with the given raw pages (from which the pages and page index sections are
    /// made) and the other sections of `sections`, the footer's range and counts copied from
    /// `original`, and every checksum computed afresh — so only the reader's structural checks
    /// stand between the contents and a query.
    fn reseal(original: &[u8], raw_pages: &[Vec<u8>], mut sections: Vec<Vec<u8>>) -> Vec<u8> {
        let (mut pages, mut page_index) = (Vec::new(), Vec::new());
        put_uvarint(&mut page_index, raw_pages.len() as u64);
        for raw in raw_pages {
            let compressed = compress_page(raw, DEFAULT_PAGE_ZSTD_LEVEL).unwrap();
            put_uvarint(&mut page_index, compressed.len() as u64);
            put_uvarint(&mut page_index, raw.len() as u64);
            page_index.extend_from_slice(&crc32c::crc32c(&compressed).to_le_bytes());
            pages.extend_from_slice(&compressed);
        }
        sections[0] = pages;
        sections[1] = page_index;
        let mut file = original[..HEADER_LEN].to_vec();
        let mut footer = Vec::new();
        for (section, bytes) in SECTIONS.iter().zip(&sections) {
            footer.extend_from_slice(&(file.len() as u64).to_le_bytes());
            footer.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            let crc = if *section == Section::Pages { 0 } else { crc32c::crc32c(bytes) };
            footer.extend_from_slice(&crc.to_le_bytes());
            file.extend_from_slice(bytes);
        }
        let table_len = SECTIONS.len() * SECTION_ENTRY_LEN;
        footer.extend_from_slice(&original[original.len() - FOOTER_LEN + table_len..][..32]);
        let footer_crc = crc32c::crc32c(&footer);
        footer.extend_from_slice(&footer_crc.to_le_bytes());
        footer.extend_from_slice(&BLOCK_MAGIC);
        file.extend_from_slice(&footer);
        file
    }

    /// A timestamp columns section holding `columns`.
    fn timestamp_columns_section(columns: &[TimestampColumnEntry], block_mint: i64) -> Vec<u8> {
        let mut section = Vec::new();
        put_uvarint(&mut section, columns.len() as u64);
        for column in columns {
            RecordTimes { min_t: column.min_t, max_t: column.max_t, samples: column.samples }
                .put(block_mint, &mut section);
            put_uvarint(&mut section, column.page as u64);
            put_uvarint(&mut section, column.offset_in_page as u64);
        }
        section
    }

    #[test]
    fn inconsistent_timestamp_columns_behind_valid_checksums_are_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let scraped = |times: &[i64], v: f64| -> Vec<Sample> { times.iter().map(|&t| Sample { t, v }).collect() };
        let (target_1, target_2) = ([1000, 2000, 3000, 4000], [1500, 2500, 3500, 4500]);
        let input = vec![
            (labels(&[("__name__", "a"), ("i", "1")]), scraped(&target_1, 1.0)),
            (labels(&[("__name__", "a"), ("i", "2")]), scraped(&target_2, 2.0)),
            (labels(&[("__name__", "b"), ("i", "1")]), scraped(&target_1, 3.0)),
            (labels(&[("__name__", "b"), ("i", "2")]), scraped(&target_2, 4.0)),
            (labels(&[("__name__", "c")]), scraped(&[10, 20], 5.0)),
        ];
        write_block(tmp.path(), "b", input.into_iter(), &[]).unwrap();
        let original = fs::read(tmp.path().join("b")).unwrap();
        let open = |bytes: Vec<u8>| Block::from_bytes(PathBuf::from("/test/block"), BlockBytes::InMemory(bytes));
        let block = open(original.clone()).unwrap();
        let raw_pages: Vec<Vec<u8>> = (0..block.pages.len()).map(|page| block.read_page(page).unwrap()).collect();
        let sections = section_bytes(&original);
        let mint = block.meta().mint;
        let assert_corrupt = |result: Result<Vec<SeriesSamples>, StorageError>, want: &str| match result {
            Err(StorageError::Corrupt { detail, .. }) => assert!(detail.contains(want), "{detail}"),
            other => panic!("{want}: {other:?}"),
        };
        // Resealed as it is, the block reads back whole: what fails below fails on structure.
        let resealed = open(reseal(&original, &raw_pages, sections.clone())).unwrap();
        assert_same_series(&resealed.all_series().unwrap(), &block.all_series().unwrap(), "resealed");

        // The section lists the columns in another order than the page holds them.
        let mut columns = block.timestamp_columns.clone();
        columns.swap(0, 1);
        let mut damaged = sections.clone();
        damaged[2] = timestamp_columns_section(&columns, mint);
        assert_corrupt(open(reseal(&original, &raw_pages, damaged)).map(|_| Vec::new()), "timestamp columns section");

        // The columns' times swapped, their places kept: the records do not match.
        let mut columns = block.timestamp_columns.clone();
        let (first, second) = (columns[0], columns[1]);
        (columns[0].min_t, columns[0].max_t) = (second.min_t, second.max_t);
        (columns[1].min_t, columns[1].max_t) = (first.min_t, first.max_t);
        let mut damaged = sections.clone();
        damaged[2] = timestamp_columns_section(&columns, mint);
        let damaged = open(reseal(&original, &raw_pages, damaged)).unwrap();
        assert_corrupt(damaged.all_series(), "pages section: page 0: timestamp column 0: record does not match");
        assert_eq!(damaged.select(&[Matcher::equal("__name__", "c")], i64::MIN, i64::MAX).unwrap().len(), 1);

        // A series table entry refers to a column the section does not list.
        let mut damaged = sections.clone();
        damaged[2] = timestamp_columns_section(&block.timestamp_columns[..1], mint);
        assert_corrupt(open(reseal(&original, &raw_pages, damaged)).map(|_| Vec::new()), "no timestamp column 1");

        // A record refers to another column than its series table entry.
        let mut pages = raw_pages.clone();
        let record_start = block.series[0].offset_in_page;
        let record = &mut pages[1][record_start..];
        assert_eq!(shared_timestamps_ref(record).unwrap(), Some(0));
        record[3] = 1; // after the sample count, the body length and the kinds byte
        assert_eq!(shared_timestamps_ref(record).unwrap(), Some(1));
        let damaged = open(reseal(&original, &pages, sections.clone())).unwrap();
        assert_corrupt(damaged.all_series(), "series 0: record refers to timestamp column 1, unlike the series table");

        // The record of a series with a column holds timestamps of its own (that series'
        // record swapped for series c's, whose times the series table then claims).
        let mut pages = raw_pages.clone();
        let c = &block.series[4];
        let c_record = pages[1][c.offset_in_page..].to_vec();
        let (a_start, a_end) = (block.series[0].offset_in_page, block.series[1].offset_in_page);
        pages[1].splice(a_start..a_end, c_record.iter().copied());
        let shift = c_record.len() as isize - (a_end - a_start) as isize;
        let mut series_section = Vec::new();
        // Series 1.. move by the length difference; rebuild the table with the new offsets.
        put_uvarint(&mut series_section, block.series.len() as u64);
        for (index, entry) in block.series.iter().enumerate() {
            let pairs = &block.series_pairs[entry.pairs_start..entry.pairs_end];
            put_uvarint(&mut series_section, pairs.len() as u64);
            for &(name, value) in pairs {
                put_uvarint(&mut series_section, u64::from(name));
                put_uvarint(&mut series_section, u64::from(value));
            }
            match entry.timestamp_column {
                Some(column) => put_uvarint(&mut series_section, column as u64 + 1),
                None => {
                    put_uvarint(&mut series_section, 0);
                    RecordTimes { min_t: entry.min_t, max_t: entry.max_t, samples: entry.samples }
                        .put(mint, &mut series_section);
                }
            }
            put_uvarint(&mut series_section, entry.page as u64);
            let offset = if index == 0 { entry.offset_in_page as isize } else { entry.offset_in_page as isize + shift };
            put_uvarint(&mut series_section, offset as u64);
        }
        let mut damaged = sections.clone();
        damaged[4] = series_section;
        let damaged = open(reseal(&original, &pages, damaged)).unwrap();
        assert_corrupt(damaged.all_series(), "series 0: record holds its own timestamps, unlike the series table");
    }

    /// Parse the generator's `name{a="b",…}` text (its values hold no quotes or commas).
    fn parse_series_text(text: &str) -> Labels {
        let (name, rest) = text.split_once('{').unwrap_or((text, "}"));
        let mut pairs = vec![("__name__".to_string(), name.to_string())];
        for pair in rest.trim_end_matches('}').split(',').filter(|p| !p.is_empty()) {
            let (label, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((label.to_string(), value.trim_matches('"').to_string()));
        }
        Labels::from_pairs(pairs)
    }

    fn parsed_fleet(fleet: &Fleet) -> Vec<(Labels, Vec<Sample>)> {
        let mut series: Vec<(Labels, Vec<Sample>)> = fleet
            .order
            .iter()
            .map(|&(target, index)| {
                let mut samples = Vec::new();
                fleet.targets[target].samples_into(index, &mut samples);
                (parse_series_text(fleet.targets[target].labels(index)), samples)
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series
    }

    /// Whole block files (index included) of synthetic node_exporter targets, series in label
    /// order as a block stores them: printed per section with `--nocapture`. Blocks of 2 h with
    /// ten targets or more and blocks of 24 h must take at most half a byte per sample.
    #[test]
    fn bytes_per_sample_on_synthetic_node_exporter_data() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            (4u32, 480usize, Jitter::Aligned),
            (4, 480, Jitter::Raw),
            (12, 480, Jitter::Aligned),
            (12, 480, Jitter::Raw),
            (1, 5760, Jitter::Aligned),
            (4, 5760, Jitter::Aligned),
            (4, 5760, Jitter::Raw),
        ];
        for (targets, scrapes, jitter) in cases {
            let fleet = Fleet::new(targets, scrapes, jitter);
            let input = parsed_fleet(&fleet);
            let name = format!("synthetic-{targets}-{scrapes}-{jitter:?}");
            let started = std::time::Instant::now();
            let meta = write_block(tmp.path(), &name, input.clone().into_iter(), &[]).unwrap();
            let write_time = started.elapsed();
            let started = std::time::Instant::now();
            let block = Block::open(&tmp.path().join(&name)).unwrap();
            let open_time = started.elapsed();
            let started = std::time::Instant::now();
            let read = block.all_series().unwrap();
            let read_time = started.elapsed();
            assert_eq!(read.len(), input.len());
            assert!(read.iter().zip(&input).all(|(got, (labels, samples))| got.labels == *labels && same_bits(&got.samples, samples)));
            assert_eq!(block.timestamp_columns.len(), targets as usize, "one timestamp column per target");
            let bytes = fs::read(tmp.path().join(&name)).unwrap();
            let spans = section_spans(&bytes);
            let pages_bytes = (spans[0].2 - spans[0].1) as f64;
            let index_bytes = meta.bytes as f64 - pages_bytes;
            let samples = meta.samples as f64;
            let bytes_per_sample = meta.bytes as f64 / samples;
            let reference = measure_fleet(&fleet, 120, DEFAULT_PAGE_ZSTD_LEVEL, false).unwrap();
            println!(
                "block of {targets} targets, {} series × {scrapes} scrapes ({jitter:?} jitter, label order): {} bytes, \
                 {bytes_per_sample:.3} bytes/sample (pages {:.3}, index {:.3}; XOR chunks alone {:.3}); \
                 write {write_time:?}, open {open_time:?}, read all {read_time:?}",
                meta.series,
                meta.bytes,
                pages_bytes / samples,
                index_bytes / samples,
                reference.xor_bytes_per_sample(),
            );
            for &(section, start, end) in &spans {
                let size = end - start;
                println!("  {:<17} {size:>10} bytes  {:.4} bytes/sample", section.name(), size as f64 / samples);
            }
            if targets >= 10 || scrapes >= 5760 {
                assert!(bytes_per_sample <= 0.5, "{name}: {bytes_per_sample:.3} bytes/sample");
            }
        }
    }
}

// Pharos — storage/src/tsdb/block.rs
