//! Replays the committed fuzz seed corpus (`fuzz/corpus/<target>/`) through the fuzz
//! entry points on stable Rust, each seed whole and cut at every length.

use std::path::Path;
use wsprobe_wire::fuzz;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for cut in 0..=data.len().min(600) {
            f(&data[..cut]);
        }
        f(&data);
        seeds += 1;
    }
    assert!(seeds > 0, "no seeds in {}", dir.display());
}

#[test]
fn frame_header() {
    replay("frame_header", fuzz::frame_header);
}

#[test]
fn session() {
    replay("session", fuzz::session);
}

#[test]
fn handshake() {
    replay("handshake", fuzz::handshake);
}

#[test]
fn inflate() {
    replay("inflate", fuzz::inflate);
}

#[test]
fn close_utf8() {
    replay("close_utf8", fuzz::close_and_utf8);
}
