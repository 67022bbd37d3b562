//! The malformed-frame corpus: small hex fixtures under `fixtures/frames/`, each named
//! by its defect, decoded and snapshot-tested (every field, message and violation).
//!
//! A fixture starts with `#` lines: a description, `# role: client|server`, and
//! optionally `# deflate: PARAMS` (permessage-deflate as negotiated).

use wsprobe_wire::deflate::{PmdConfig, parse_params};
use wsprobe_wire::extensions::parse_extensions;
use wsprobe_wire::transcript::event_line;
use wsprobe_wire::{Established, Limits, Role, Session};

fn decode_fixture(text: &str) -> String {
    let mut role = None;
    let mut pmd = None;
    let mut hex = String::new();
    let mut out = String::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if let Some(r) = c.strip_prefix("role:") {
                role = Some(if r.trim() == "server" { Role::Server } else { Role::Client });
            } else if let Some(d) = c.strip_prefix("deflate:") {
                let ext = parse_extensions(d.trim()).unwrap().remove(0);
                pmd = Some(PmdConfig::from_params(&parse_params(&ext).unwrap()));
            }
            out.push_str(line);
            out.push('\n');
        } else {
            hex.push_str(line.trim());
        }
    }
    let role = role.expect("fixture names its role");
    let bytes = hex::decode(hex).expect("fixture is hex");
    let mut s = Session::established(Limits::default(), Established { pmd });
    let mut events = Vec::new();
    s.feed(role.sends(), &bytes, &mut events);
    if let Some((have, needed)) = s.pending_header(role.sends()) {
        out.push_str(&format!("pending header: {have} bytes, {needed} more needed\n"));
    }
    s.finish(&mut events);
    for e in &events {
        out.push_str(&event_line(e));
        out.push('\n');
    }
    out
}

#[test]
fn malformed_frames() {
    insta::glob!("fixtures/frames/*.hex", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(decode_fixture(&text));
    });
}
