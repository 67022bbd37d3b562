//! Fuzz target: see `wsprobe_flow::fuzz::capture`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_flow::fuzz::capture(data));
