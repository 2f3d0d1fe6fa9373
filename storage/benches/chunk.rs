//! Chunk encode/decode benchmarks on synthetic node_exporter data.
//!
//! `cargo bench -p pharos-storage --bench chunk` first prints bytes/sample for XOR head chunks
//! (120 samples) and for column records in 64 KiB zstd pages — 2 h and 24 h of data, both jitter
//! models, both series orders, with and without shared timestamp columns; every figure is verified
//! by decoding — then measures encode and decode throughput in samples/s:
//!
//! - `xor/encode`: appending every sample to 120-sample `XorChunk`s;
//! - `xor/decode`: `decode_into` of those chunks into a reused vector;
//! - `column/encode`: `encode_series` of every series (2 h records);
//! - `column/decode`: `decode_series_into` of those records;
//! - `page/compress`, `page/decompress+decode`: the zstd page layer around the column records.
//!
//! Pass `-- --figures-only` to print the size figures and skip the timing; set
//! `PHAROS_BENCH_SKIP_FIGURES=1` to skip the figures (when profiling one benchmark).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use pharos_storage::tsdb::Sample;
use pharos_storage::tsdb::chunk::synthetic::{Fleet, Jitter, MeasureOptions, SeriesOrder, measure_fleet_with};
use pharos_storage::tsdb::chunk::{
    DEFAULT_PAGE_ZSTD_LEVEL, PAGE_TARGET_RAW_BYTES, XorChunk, compress_page, decode_into, decode_series_into,
    decompress_page, encode_series,
};

/// Samples per head chunk, as Prometheus cuts them.
const CHUNK_SAMPLES: usize = 120;

fn print_figures() {
    println!(
        "bytes/sample — XOR: {CHUNK_SAMPLES}-sample chunks incl. 2-byte header; column: records in 64 KiB zstd pages \
         (level {DEFAULT_PAGE_ZSTD_LEVEL}); \"shared\": one timestamp column per distinct sequence, records refer to it"
    );
    let cases: [(&str, u32, usize, Jitter, SeriesOrder); 8] = [
        ("2 h, 4 targets", 4, 480, Jitter::Aligned, SeriesOrder::Labels),
        ("2 h, 4 targets", 4, 480, Jitter::Raw, SeriesOrder::Labels),
        ("24 h, 1 target", 1, 5760, Jitter::Aligned, SeriesOrder::Labels),
        ("24 h, 1 target", 1, 5760, Jitter::Raw, SeriesOrder::Labels),
        ("2 h, 40 targets", 40, 480, Jitter::Aligned, SeriesOrder::Labels),
        ("2 h, 40 targets", 40, 480, Jitter::Aligned, SeriesOrder::Target),
        ("24 h, 8 targets", 8, 5760, Jitter::Aligned, SeriesOrder::Labels),
        ("24 h, 8 targets", 8, 5760, Jitter::Aligned, SeriesOrder::Target),
    ];
    for (label, targets, scrapes, jitter, order) in cases {
        let fleet = Fleet::ordered(targets, scrapes, jitter, order);
        let mut line = format!("  {label:<16} {:<7} jitter, {:<6} order:", format!("{jitter:?}"), format!("{order:?}"));
        for shared_timestamps in [false, true] {
            let options = MeasureOptions {
                chunk_samples: CHUNK_SAMPLES,
                zstd_level: DEFAULT_PAGE_ZSTD_LEVEL,
                verify: true,
                shared_timestamps,
            };
            match measure_fleet_with(&fleet, &options, |_| true) {
                Ok(f) if !shared_timestamps => line.push_str(&format!(
                    " {} series, {} samples; XOR {:.3}; column raw {:.3}, paged {:.3}",
                    f.series,
                    f.samples,
                    f.xor_bytes_per_sample(),
                    f.column_raw_bytes_per_sample(),
                    f.column_page_bytes_per_sample(),
                )),
                Ok(f) => line.push_str(&format!(
                    "; shared timestamps: paged {:.3} ({} columns, {:.4} of it)",
                    f.column_page_bytes_per_sample(),
                    f.timestamp_columns,
                    f.timestamp_column_bytes as f64 / f.samples.max(1) as f64
                )),
                Err(error) => line.push_str(&format!(" measurement failed: {error}")),
            }
        }
        println!("{line}");
    }
}

fn benches(c: &mut Criterion) {
    let series: Vec<Vec<Sample>> = Fleet::new(1, 480, Jitter::Aligned).materialize();
    let total: u64 = series.iter().map(|s| s.len() as u64).sum();

    let chunks: Vec<Vec<u8>> = series
        .iter()
        .flat_map(|samples| samples.chunks(CHUNK_SAMPLES))
        .map(|part| {
            let mut chunk = XorChunk::new();
            for sample in part {
                chunk.append(sample.t, sample.v);
            }
            chunk.bytes().to_vec()
        })
        .collect();
    let records: Vec<Vec<u8>> = series
        .iter()
        .map(|samples| {
            let mut record = Vec::new();
            encode_series(samples, &mut record);
            record
        })
        .collect();
    let mut raw_pages: Vec<Vec<u8>> = vec![Vec::new()];
    for record in &records {
        if raw_pages.last().is_some_and(|page| page.len() >= PAGE_TARGET_RAW_BYTES) {
            raw_pages.push(Vec::new());
        }
        if let Some(page) = raw_pages.last_mut() {
            page.extend_from_slice(record);
        }
    }
    let compressed_pages: Vec<(Vec<u8>, usize)> = raw_pages
        .iter()
        .filter_map(|raw| compress_page(raw, DEFAULT_PAGE_ZSTD_LEVEL).ok().map(|page| (page, raw.len())))
        .collect();

    let mut group = c.benchmark_group("xor");
    group.throughput(Throughput::Elements(total));
    group.bench_function("encode", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for samples in &series {
                for part in samples.chunks(CHUNK_SAMPLES) {
                    let mut chunk = XorChunk::new();
                    for sample in part {
                        chunk.append(sample.t, sample.v);
                    }
                    bytes += chunk.bytes().len();
                }
            }
            black_box(bytes)
        })
    });
    group.bench_function("decode", |b| {
        let mut out = Vec::with_capacity(CHUNK_SAMPLES);
        b.iter(|| {
            let mut sum = 0.0;
            for chunk in &chunks {
                out.clear();
                if decode_into(chunk, &mut out).is_ok() {
                    sum += out.last().map_or(0.0, |s| s.v);
                }
            }
            black_box(sum)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("column");
    group.throughput(Throughput::Elements(total));
    group.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(PAGE_TARGET_RAW_BYTES * 16);
        b.iter(|| {
            out.clear();
            for samples in &series {
                encode_series(samples, &mut out);
            }
            black_box(out.len())
        })
    });
    group.bench_function("decode", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            let mut sum = 0.0;
            for record in &records {
                out.clear();
                if decode_series_into(record, &mut out).is_ok() {
                    sum += out.last().map_or(0.0, |s| s.v);
                }
            }
            black_box(sum)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("page");
    group.throughput(Throughput::Elements(total));
    group.bench_function("compress", |b| {
        b.iter(|| {
            let bytes: usize = raw_pages
                .iter()
                .filter_map(|raw| compress_page(raw, DEFAULT_PAGE_ZSTD_LEVEL).ok())
                .map(|page| page.len())
                .sum();
            black_box(bytes)
        })
    });
    group.bench_function("decompress+decode", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            let mut sum = 0.0;
            for (compressed, raw_len) in &compressed_pages {
                let Ok(raw) = decompress_page(compressed, *raw_len) else { continue };
                let mut offset = 0;
                while offset < raw.len() {
                    out.clear();
                    match decode_series_into(&raw[offset..], &mut out) {
                        Ok(consumed) => offset += consumed,
                        Err(_) => break,
                    }
                    sum += out.last().map_or(0.0, |s| s.v);
                }
            }
            black_box(sum)
        })
    });
    group.finish();
}

fn main() {
    if std::env::var_os("PHAROS_BENCH_SKIP_FIGURES").is_none() {
        print_figures();
    }
    if std::env::args().any(|arg| arg == "--figures-only") {
        return;
    }
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}

// Pharos — storage/benches/chunk.rs
