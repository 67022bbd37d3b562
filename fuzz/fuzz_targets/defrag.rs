//! Fuzz target: see `wsprobe_flow::defrag::fuzz_defrag`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_flow::defrag::fuzz_defrag(data));
