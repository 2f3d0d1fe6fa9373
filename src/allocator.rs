//! The global allocator: mimalloc, told to hand freed pages back to the system after 2 s.
//!
//! By default mimalloc keeps freed pages for a second before returning them; under remote-write
//! load that kept about 10 % more resident memory than the live heap (measured with
//! benches/remote_write_load.rs: 1,062 against 956 bytes per active series, with purging at once).
//! Purging at once, though, made every request's buffers fault fresh zeroed pages in again and
//! every purge a TLB shootdown: 10 % of the CPU of a sustained OTLP trace ingest
//! (benches/traces_load.rs: 34,700 → 38,700 spans per CPU-second with 100 ms).
//!
//! 2 s, twice the log store's 1 s refresh: each refresh ends a tantivy segment and frees its
//! indexing arena and hash tables (tens of MB), and the next segment allocates as much again. With
//! 100 ms those pages were purged between segments and faulted in zeroed again: log ingest
//! (benches/logs_load.rs, 3M documents) ran at 14.0–14.1 MB per CPU-second with 100 ms, 15.9 with
//! 500 ms or 1 s, 16.6–16.7 with 2 s. Remote write in the same session (benches/remote_write_load.rs,
//! 216 targets × 1 h): 1,090 / 1,058 / 1,083 bytes RSS per active series and 0.996M / 1.19M / 1.02M
//! samples per CPU-second with 100 ms / 1 s / 2 s, differences within run-to-run noise.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: its position in mimalloc's `mi_option_e` (mimalloc.h, v2 and v3),
/// which libmimalloc-sys does not name. Milliseconds (v3's default is 1000); 0 purges at once.
const PURGE_DELAY_MS: std::ffi::c_long = 2000;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Call once at start-up, before the server's threads exist.
pub fn configure() {
    // SAFETY: sets a process-wide allocator option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the hard-coded option number: option 15 must hold mimalloc v3's purge-delay default
    /// (1000 ms; no other option defaults to it), or ours once configured.
    #[test]
    fn the_option_number_is_the_purge_delay() {
        // SAFETY: reads and sets allocator options.
        unsafe {
            let default = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
            assert!(default == 1000 || default == PURGE_DELAY_MS, "option 15 is not purge_delay (value {default})");
            configure();
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), PURGE_DELAY_MS);
        }
    }
}

// Pharos — src/allocator.rs
