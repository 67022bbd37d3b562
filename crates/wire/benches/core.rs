//! Core benchmarks (not tests): `cargo bench -p wsprobe-wire`.
//!
//! - small-frame header parsing, in headers per second (goal: 50 million per core);
//! - unmask + UTF-8 validation of 1 MiB text frames, in GB/s (goal: 10 GB/s);
//! - the whole session path (decode, unmask, assemble, validate) on both workloads.
//!
//! Under `cargo test --all-targets` (no `--bench` argument) every workload runs once
//! with a tiny size, as a smoke test.

use std::hint::black_box;
use std::time::{Duration, Instant};
use wsprobe_wire::encode::FrameSpec;
use wsprobe_wire::mask::apply_mask;
use wsprobe_wire::utf8::validate;
use wsprobe_wire::{Dir, Established, Limits, OpCode, Parsed, Session, parse_header};

/// Runs `f` (which processes `units` units) repeatedly for at least `min`, returns
/// the best units/second over the rounds.
fn measure(min: Duration, units: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::MAX;
    while start.elapsed() < min || best == f64::MAX {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    units / best
}

/// A stream of small frames: masked client frames with 0-16 byte payloads.
fn small_frames(n: usize) -> (Vec<u8>, usize) {
    let mut buf = Vec::new();
    for i in 0..n {
        let op = if i % 7 == 0 { OpCode::PING } else { OpCode::TEXT };
        FrameSpec::new(op, vec![b'a'; i % 17]).masked([i as u8, 1, 2, 3]).encode_into(&mut buf).unwrap();
    }
    (buf, n)
}

/// Mostly-ASCII text with some 2- and 3-byte sequences, `len` bytes, valid UTF-8.
fn text(len: usize) -> Vec<u8> {
    let unit = "The quick brown fox jumps over the lazy dog; κόσμε — ";
    let mut s = unit.repeat(len / unit.len() + 1).into_bytes();
    s.truncate(len);
    while std::str::from_utf8(&s).is_err() {
        s.pop();
        s.push(b'.');
    }
    s
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        // Under `cargo test`: make sure every workload runs, print no figures.
        println!("core bench: smoke run (figures only with `cargo bench`)");
    }
    let report = |what: &str, value: f64, unit: &str| {
        if bench {
            println!("{what:<36} {value:>8.1} {unit}");
        }
    };
    let (min, n_small, big) =
        if bench { (Duration::from_secs(2), 1_000_000, 1 << 20) } else { (Duration::ZERO, 1_000, 4096) };

    let (stream, frames) = small_frames(n_small);
    let headers = measure(min, frames as f64, || {
        let mut pos = 0;
        let mut count = 0;
        while pos < stream.len() {
            let Parsed::Header(h) = parse_header(&stream[pos..]) else {
                break;
            };
            pos += usize::from(h.header_len) + h.payload_len as usize;
            count += 1;
        }
        black_box(count);
    });
    report("small-frame headers parsed:", headers / 1e6, "M headers/s");

    let session_small = measure(min, frames as f64, || {
        let mut s = Session::established(Limits::default(), Established::default());
        let mut out = Vec::with_capacity(4096);
        for chunk in stream.chunks(16 * 1024) {
            s.feed(Dir::C2S, chunk, &mut out);
            out.clear();
        }
        black_box(&out);
    });
    report("small frames through a session:", session_small / 1e6, "M frames/s");

    let payload = text(big);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut masked = payload.clone();
    apply_mask(&mut masked, key, 0);
    let mut work = masked.clone();
    let unmask_only = measure(min, big as f64, || {
        apply_mask(black_box(&mut work), key, 0);
    });
    report("unmask 1 MiB:", unmask_only / 1e9, "GB/s");
    let validate_only = measure(min, big as f64, || {
        assert!(validate(black_box(&payload)).is_ok());
    });
    report("UTF-8 validate 1 MiB:", validate_only / 1e9, "GB/s");
    // Fused per 64 KiB chunk, as the session does it: unmask into a buffer, validate.
    let mut buf = vec![0u8; 64 * 1024];
    let fused = measure(min, big as f64, || {
        let mut v = wsprobe_wire::utf8::Utf8Validator::new();
        for (i, chunk) in masked.chunks(buf.len()).enumerate() {
            let b = &mut buf[..chunk.len()];
            b.copy_from_slice(chunk);
            apply_mask(b, key, i * 64 * 1024);
            v.feed(b).unwrap();
        }
        v.finish().unwrap();
    });
    report("unmask + validate 1 MiB:", fused / 1e9, "GB/s");

    let frame = FrameSpec::new(OpCode::TEXT, payload.clone()).masked(key).encode().unwrap();
    let limits = Limits { message_keep: 0, ..Limits::default() };
    let session_big = measure(min, big as f64, || {
        let mut s = Session::established(limits, Established::default());
        let mut out = Vec::new();
        for chunk in frame.chunks(64 * 1024) {
            s.feed(Dir::C2S, chunk, &mut out);
        }
        assert!(out.iter().any(|e| matches!(e, wsprobe_wire::Event::Message(_))));
    });
    report("1 MiB masked text through a session:", session_big / 1e9, "GB/s");
}
