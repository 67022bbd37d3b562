//! Fuzz target: see `wsprobe_dissect::fuzz::dissect`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_dissect::fuzz::dissect(data));
