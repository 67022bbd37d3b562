//! Core benchmarks (not tests): `cargo bench -p wsprobe-wire`.
//!
//! - small-frame header parsing, in headers per second (goal: 50 million per core);
//! - unmask + UTF-8 validation of 1 MiB text frames, in GB/s (goal: 10 GB/s);
//! - the whole session path (decode, unmask, assemble, validate) on both workloads;
//! - the DEFLATE back-reference walker (`deflate::distance::walk`) on 128 KiB of
//!   JSON-like, HTML-like and random base64 text (raw, level 6, sync flush, windows 12
//!   and 15), as one message and as 1 KiB messages compressed alone, in MB/s of
//!   compressed input and of output positions, next to zlib(-rs) inflating the same
//!   data; `cargo bench -p wsprobe-wire --bench core -- deflate` runs it alone.
//!
//! Under `cargo test --all-targets` (no `--bench` argument) every workload runs once
//! with a tiny size, as a smoke test.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use std::hint::black_box;
use std::time::{Duration, Instant};
use wsprobe_wire::deflate::distance::walk;
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

/// xorshift64: deterministic pseudo-random choices without a `rand` dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

/// The words of the generated text.
#[rustfmt::skip]
const WORDS: [&str; 24] = [
    "status", "message", "payload", "frame", "opcode", "window", "context", "deflate", "server", "client",
    "close", "reason", "timestamp", "identifier", "session", "compression", "extension", "handshake",
    "value", "result", "error", "items", "count", "name",
];

/// JSON-like text: an array of records with repeated keys and varied values, `len` bytes.
fn json_like(len: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = String::from("[");
    let mut id = 1000u32;
    while s.len() < len {
        id += 1 + rng.below(7) as u32;
        s.push_str(&format!(
            "{{\"id\":{id},\"{}\":\"{} {} {}\",\"{}\":{},\"{}\":{},\"tags\":[\"{}\",\"{}\"]}},\n",
            WORDS[rng.below(4)],
            WORDS[rng.below(24)],
            WORDS[rng.below(24)],
            WORDS[rng.below(24)],
            WORDS[4 + rng.below(8)],
            rng.below(100_000),
            WORDS[12 + rng.below(4)],
            rng.below(2) == 1,
            WORDS[rng.below(24)],
            WORDS[rng.below(24)],
        ));
    }
    let mut v = s.into_bytes();
    v.truncate(len);
    v
}

/// HTML-like text: nested elements with attributes and word-salad content, `len` bytes.
fn html_like(len: usize) -> Vec<u8> {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let tags = ["div", "p", "span", "a", "li", "td"];
    let mut s = String::from("<!DOCTYPE html><html><head><title>bench</title></head><body>\n");
    while s.len() < len {
        let tag = tags[rng.below(tags.len())];
        s.push_str(&format!(
            "<{tag} class=\"{}-{}\" id=\"n{}\">",
            WORDS[rng.below(24)],
            rng.below(50),
            rng.below(10_000)
        ));
        for _ in 0..3 + rng.below(12) {
            s.push_str(WORDS[rng.below(24)]);
            s.push(' ');
        }
        if rng.below(3) == 0 {
            s.push_str(&format!(
                "<a href=\"/{}/{}\">{}</a>",
                WORDS[rng.below(24)],
                rng.below(1000),
                WORDS[rng.below(24)]
            ));
        }
        s.push_str(&format!("</{tag}>\n"));
    }
    let mut v = s.into_bytes();
    v.truncate(len);
    v
}

/// Raw DEFLATE of `input` at level 6 with `window_bits`, ended by a sync flush (so
/// with the `00 00 ff ff` tail a permessage-deflate receiver appends back).
fn sync_compress(input: &[u8], window_bits: u8) -> Vec<u8> {
    let mut z = Compress::new_with_window_bits(Compression::new(6), false, window_bits);
    let mut out = Vec::with_capacity(input.len() + 1024);
    let mut rest = input;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity());
        }
        let (in0, out0) = (z.total_in(), out.len());
        z.compress_vec(rest, &mut out, FlushCompress::Sync).unwrap();
        rest = &rest[(z.total_in() - in0) as usize..];
        if rest.is_empty() && (out.len() < out.capacity() || out.len() == out0) {
            return out;
        }
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
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
    if filter.as_deref() == Some("deflate") {
        // `cargo bench -p wsprobe-wire --bench core -- deflate`: the walker alone.
        deflate_walk(bench, min);
        return;
    }

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

    deflate_walk(bench, min);
}

/// Walks `messages` (raw DEFLATE, each with the `00 00 ff ff` tail, and its inflated
/// length) with the crate's walker, then inflates them with zlib(-rs), and reports
/// both in MB/s of compressed input and of output.
fn compare(bench: bool, min: Duration, what: &str, messages: &[(Vec<u8>, usize)]) {
    let inn = messages.iter().map(|(d, _)| d.len()).sum::<usize>() as f64;
    let out = messages.iter().map(|(_, n)| n).sum::<usize>() as f64;
    let walked = measure(min, 1.0, || {
        for (data, len) in messages {
            let r = walk(black_box(data), 0, u64::MAX).unwrap();
            assert_eq!(r.output_len, *len as u64);
        }
    });
    let mut buf = Vec::with_capacity(messages.iter().map(|(_, n)| n + 1).max().unwrap_or(1));
    let mut z = Decompress::new_with_window_bits(false, 15);
    let inflated = measure(min, 1.0, || {
        for (data, len) in messages {
            buf.clear();
            z.reset(false);
            z.decompress_vec(black_box(data), &mut buf, FlushDecompress::Sync).unwrap();
            assert_eq!(buf.len(), *len);
        }
    });
    if bench {
        println!(
            "{what:<44} in {:>6.1} MB/s, out {:>7.1} MB/s | zlib inflate: in {:>6.1}, out {:>7.1} MB/s",
            inn * walked / 1e6,
            out * walked / 1e6,
            inn * inflated / 1e6,
            out * inflated / 1e6,
        );
    }
}

/// The DEFLATE walker against zlib(-rs) inflating the same data: 128 KiB of
/// JSON-like, HTML-like and random base64 text (all literals) as one message (windows
/// 12 and 15), and cut into 1 KiB messages each compressed alone (window 15).
fn deflate_walk(bench: bool, min: Duration) {
    let len = if bench { 128 * 1024 } else { 4096 };
    let b64: Vec<u8> = {
        let mut r = Rng(5);
        (0..len)
            .map(|_| b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[r.below(64)])
            .collect()
    };
    for (kind, input) in [("json", json_like(len)), ("html", html_like(len)), ("b64", b64)] {
        for window_bits in [12u8, 15] {
            let data = sync_compress(&input, window_bits);
            let what = format!("deflate walk {kind} w{window_bits} ({} -> {} B):", data.len(), input.len());
            compare(bench, min, &what, &[(data, input.len())]);
        }
        let small: Vec<(Vec<u8>, usize)> =
            input.chunks(1024).map(|m| (sync_compress(m, 15), m.len())).collect();
        let what = format!("deflate walk {kind} w15, {} x 1 KiB:", small.len());
        compare(bench, min, &what, &small);
    }
}
