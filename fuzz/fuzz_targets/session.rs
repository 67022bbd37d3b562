//! Fuzz target: see `wsprobe_wire::fuzz::session`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_wire::fuzz::session(data));
