//! Pages: the unit a block writer compresses. Column records of many series are concatenated until
//! the raw page reaches about [`PAGE_TARGET_RAW_BYTES`], then the page is compressed as one zstd
//! frame that records its decompressed size and carries zstd's content checksum.
//!
//! Reading a page is guarded against decompression bombs: the frame must announce its size, the
//! size must be within the caller's limit, and exactly one frame must fill the input.

use super::ChunkError;

/// Raw bytes a block writer gathers before compressing a page. A series record is never split, so
/// a page may exceed this by up to one record.
pub const PAGE_TARGET_RAW_BYTES: usize = 64 * 1024;

/// zstd level used for block pages unless configured otherwise.
pub const DEFAULT_PAGE_ZSTD_LEVEL: i32 = 3;

/// Compress one raw page into a single zstd frame (content size and checksum included).
pub fn compress_page(raw: &[u8], level: i32) -> Result<Vec<u8>, ChunkError> {
    use zstd::zstd_safe::CParameter;
    let mut compressor = zstd::bulk::Compressor::new(level).map_err(ChunkError::Zstd)?;
    compressor.set_parameter(CParameter::ChecksumFlag(true)).map_err(ChunkError::Zstd)?;
    compressor.set_parameter(CParameter::ContentSizeFlag(true)).map_err(ChunkError::Zstd)?;
    let mut compressed = compressor.compress(raw).map_err(ChunkError::Zstd)?;
    compressed.shrink_to_fit();
    Ok(compressed)
}

/// Decompress a page written by [`compress_page`], refusing anything that would decompress to
/// more than `max_raw_len` bytes before allocating for it.
pub fn decompress_page(compressed: &[u8], max_raw_len: usize) -> Result<Vec<u8>, ChunkError> {
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(compressed)
        .map_err(|_| ChunkError::Corrupt("page is not a zstd frame"))?;
    if frame_len != compressed.len() {
        return Err(ChunkError::Corrupt("page holds bytes beyond its zstd frame"));
    }
    let raw_len = match zstd::zstd_safe::get_frame_content_size(compressed) {
        Ok(Some(len)) => len,
        Ok(None) => return Err(ChunkError::Corrupt("page frame does not record its size")),
        Err(_) => return Err(ChunkError::Corrupt("page frame header")),
    };
    if raw_len > max_raw_len as u64 {
        return Err(ChunkError::PageTooLarge { announced: raw_len, max: max_raw_len });
    }
    let raw = zstd::bulk::decompress(compressed, raw_len as usize).map_err(ChunkError::Zstd)?;
    if raw.len() as u64 != raw_len {
        return Err(ChunkError::Corrupt("page decompressed to a size other than announced"));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::super::column::{decode_series_into, encode_series};
    use super::super::synthetic::XorShift64;
    use super::*;
    use crate::tsdb::Sample;

    #[test]
    fn pages_round_trip_and_refuse_bombs() {
        let series: Vec<Vec<Sample>> = (0..50)
            .map(|s| (0..480).map(|i| Sample { t: i * 15_000, v: f64::from((s * i) as i32 % 17) }).collect())
            .collect();
        let mut raw = Vec::new();
        for samples in &series {
            encode_series(samples, &mut raw);
        }
        let compressed = compress_page(&raw, DEFAULT_PAGE_ZSTD_LEVEL).expect("compresses");
        assert!(compressed.len() < raw.len() / 4, "{} of {}", compressed.len(), raw.len());
        assert_eq!(decompress_page(&compressed, raw.len()).expect("decompresses"), raw);
        assert!(matches!(decompress_page(&compressed, raw.len() - 1), Err(ChunkError::PageTooLarge { .. })));
        let mut offset = 0;
        let mut decoded = Vec::new();
        for samples in &series {
            decoded.clear();
            offset += decode_series_into(&raw[offset..], &mut decoded).expect("decodes");
            assert_eq!(&decoded, samples);
        }
        // A real bomb: 64 MiB of zeros compresses to a few KiB.
        let zeros = vec![0u8; 64 << 20];
        let bomb = compress_page(&zeros, 1).expect("compresses");
        assert!(matches!(decompress_page(&bomb, 1 << 20), Err(ChunkError::PageTooLarge { .. })));
    }

    #[test]
    fn corrupt_pages_are_errors_not_panics() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let compressed = compress_page(&raw, DEFAULT_PAGE_ZSTD_LEVEL).expect("compresses");
        for len in 0..compressed.len() {
            assert!(decompress_page(&compressed[..len], raw.len()).is_err(), "truncated to {len}");
        }
        let mut trailing = compressed.clone();
        trailing.push(0);
        assert!(decompress_page(&trailing, raw.len()).is_err());
        let mut rng = XorShift64::new(17);
        let mut corrupted = compressed.clone();
        let mut detected = 0;
        for _ in 0..2000 {
            corrupted.copy_from_slice(&compressed);
            let bit = rng.below(compressed.len() as u64 * 8) as usize;
            corrupted[bit / 8] ^= 1 << (bit % 8);
            match decompress_page(&corrupted, raw.len()) {
                Err(_) => detected += 1,
                Ok(page) => assert!(page.len() <= raw.len()),
            }
        }
        // The frame checksum catches what the structure does not.
        assert!(detected > 1990, "{detected} of 2000 flips detected");
    }
}

// Pharos — storage/src/tsdb/chunk/page.rs
