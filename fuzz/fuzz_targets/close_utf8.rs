//! Fuzz target: see `wsprobe_wire::fuzz::close_and_utf8`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_wire::fuzz::close_and_utf8(data));
