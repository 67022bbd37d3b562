//! Fuzz target: see `wsprobe_tls::testing::fuzz_records` (the TLS record layer).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsprobe_tls::testing::fuzz_records(data));
