//! Fuzz target: see `wsprobe_dissect::fuzz::wrapped` (CONNECT tunnels and TLS records).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_dissect::fuzz::wrapped(data));
