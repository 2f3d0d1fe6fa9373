//! Sample compression for the metrics store: two encodings of `(timestamp, value)` sequences.
//!
//! - [`XorChunk`] / [`XorIter`]: the head's in-memory chunks, Gorilla XOR coding in Prometheus'
//!   layout. Appends are cheap and the bytes decode at any moment (the head serves queries from
//!   them while they grow).
//! - [`encode_series`] / [`decode_series`]: the column records of immutable blocks. Values become
//!   exact decimals stored as residuals against a predictor, timestamps residuals against a grid or
//!   a delta-of-delta predictor; records are concatenated into ~64 KiB pages compressed with zstd
//!   ([`compress_page`], [`decompress_page`]).
//! - [`encode_timestamps`] / [`encode_series_shared_timestamps`]: the same records with the
//!   timestamps stored once per distinct sequence (series scraped together share them exactly) —
//!   what keeps blocks of many targets in label order small; read back with
//!   [`decode_timestamps_into`] and [`decode_series_with_timestamps_into`].
//!
//! Both decoders treat their input as untrusted: truncated or corrupt bytes give a [`ChunkError`],
//! never a panic, and never an allocation out of proportion to the input. Values round-trip bit for
//! bit — the stale marker ([`crate::tsdb::STALE_NAN_BITS`]), other NaN payloads and −0.0 included.
//! Byte layouts: `docs/format/chunks.md`.

mod bits;
mod column;
mod page;
mod xor;

#[doc(hidden)]
pub mod synthetic;

pub use column::{
    decode_series, decode_series_into, decode_series_with_timestamps_into, decode_timestamps_into, encode_series,
    encode_series_shared_timestamps, encode_timestamps, shared_timestamps_ref, skip_series,
};
pub use page::{DEFAULT_PAGE_ZSTD_LEVEL, PAGE_TARGET_RAW_BYTES, compress_page, decompress_page};
pub use xor::{XOR_CHUNK_MAX_SAMPLES, XorChunk, XorIter, decode_into};

/// Why encoded samples could not be decoded (or a chunk could not take another sample).
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The input ends in the middle of the named part.
    #[error("encoded samples end early, in the {0}")]
    Truncated(&'static str),
    /// The input is structurally impossible; the text names what is wrong.
    #[error("encoded samples are corrupt: {0}")]
    Corrupt(&'static str),
    /// An encoding kind this version does not know (written by a newer Pharos, or corrupt).
    #[error("unknown {what} encoding {kind}")]
    UnknownEncoding { what: &'static str, kind: u8 },
    /// A page announces more decompressed bytes than the reader allows.
    #[error("page would decompress to {announced} bytes, more than the {max} allowed")]
    PageTooLarge { announced: u64, max: usize },
    /// An XOR chunk already holds the most samples its header can count.
    #[error("chunk is full ({max} samples)")]
    Full { max: usize },
    /// A record uses a shared timestamp column the reader did not supply.
    #[error("record uses shared timestamp column {reference}, which was not supplied")]
    SharedTimestampsMissing { reference: u64 },
    /// zstd refused to compress or decompress a page.
    #[error("zstd: {0}")]
    Zstd(#[source] std::io::Error),
}

// Pharos — storage/src/tsdb/chunk/mod.rs
