//! The fixture captures under `captures/`: the committed bytes are what the generator
//! writes, and every capture's transcript is snapshot-tested; so are the transcripts
//! of the public captures in `../shared/captures/public` where that directory exists.

#[path = "../examples/make-captures/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use wsprobe_dissect::{HandshakeState, Options, Record, dissect_bytes, dissect_path, dissect_reader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Frames on, and an inflate limit below the 2 MiB of `limit-inflated-size.pcap`.
fn opts() -> Options {
    Options {
        frames: true,
        limits: wsprobe_wire::Limits { inflate_max: 1 << 20, ..Default::default() },
        ..Options::default()
    }
}

#[test]
fn committed_captures_are_what_the_generator_writes() {
    let dir = root().join("captures");
    let all = fixtures::all();
    for f in &all {
        let committed =
            std::fs::read(dir.join(f.name)).unwrap_or_else(|e| panic!("captures/{}: {e}", f.name));
        assert!(
            committed == f.bytes,
            "captures/{} differs from the generator's output; run \
             `cargo run -p wsprobe-dissect --example make-captures`",
            f.name
        );
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("captures/README.md");
    assert_eq!(readme, fixtures::readme(&all), "captures/README.md is stale");
    // Nothing else with a capture extension lies there unexplained.
    for entry in std::fs::read_dir(&dir).expect("captures/") {
        let name = entry.expect("entry").file_name().into_string().expect("utf-8");
        if name.ends_with(".pcap") || name.ends_with(".pcapng") {
            assert!(all.iter().any(|f| f.name == name), "captures/{name} is not generated");
        }
    }
}

#[test]
fn capture_transcripts() {
    insta::glob!("../../../captures", "*.pcap*", |path| {
        let d = dissect_path(path, &opts());
        insta::assert_snapshot!(d.transcript());
    });
}

#[test]
fn every_wire_rule_but_the_listed_ones_appears_in_a_capture() {
    let not_on_the_wire = [
        "hs.request-upgrade",
        "pong.payload-mismatch",
        "ping.unanswered",
        "close.not-answered",
        "close.server-tcp-not-closed",
        "mask.key-predictable",
        "hs.request-key-reused",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for f in fixtures::all() {
        for v in dissect_bytes(&f.bytes, &opts()).violations() {
            seen.insert(v.rule.clone());
        }
    }
    for r in wsprobe_wire::Rule::ALL {
        let id = r.id();
        assert_eq!(
            seen.contains(id),
            !not_on_the_wire.contains(&id),
            "rule {id}: in a capture = {}",
            seen.contains(id)
        );
    }
}

fn fixture(name: &str) -> Vec<u8> {
    fixtures::all().into_iter().find(|f| f.name == name).expect("fixture").bytes
}

#[test]
fn truncated_capture_keeps_what_came_before_the_error() {
    let d = dissect_bytes(&fixture("truncated-file.pcap"), &opts());
    let e = d.error.as_ref().expect("an error");
    assert!(e.offset > 0 && e.message.contains(&format!("byte {}", e.offset)));
    let texts: Vec<_> = d.messages().map(|m| m.len).collect();
    assert_eq!(texts, vec![22, 12]);
}

#[test]
fn streaming_gives_the_collected_records() {
    for f in fixtures::all() {
        let mut streamed = Vec::new();
        let r = dissect_reader(&f.bytes[..], "<memory>", &opts(), &mut |r| streamed.push(r));
        let d = dissect_bytes(&f.bytes, &opts());
        assert_eq!(streamed, d.records, "{}", f.name);
        assert_eq!(r.is_err(), d.error.is_some(), "{}", f.name);
        if let Ok(s) = r {
            assert_eq!(s, d.summary, "{}", f.name);
        }
    }
}

#[test]
fn sync_can_be_switched_off() {
    let bytes = fixture("mid-stream.pcap");
    let d = dissect_bytes(&bytes, &opts());
    let s: Vec<_> = d.sessions().map(|s| s.handshake).collect();
    assert_eq!(s, vec![HandshakeState::NotSeen]);
    let d = dissect_bytes(&bytes, &Options { sync: false, ..opts() });
    assert!(d.records.is_empty(), "{:?}", d.records);
}

#[test]
fn not_websocket_is_silent() {
    let d = dissect_bytes(&fixture("not-websocket.pcap"), &opts());
    assert!(d.records.is_empty(), "{:?}", d.records);
    assert!(d.summary.connections >= 3);
}

#[test]
fn jsonl_records_carry_the_schema_fields() {
    let d = dissect_bytes(
        &fixture("deflate-fragmented.pcap"),
        &Options { payload: wsprobe_dissect::PayloadMode::Full, ..opts() },
    );
    for r in &d.records {
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
        let t = v["type"].as_str().expect("type");
        let keys: &[&str] = match r {
            Record::Session(_) => &["session", "client", "server", "handshake", "extensions", "deflate"],
            Record::Message(_) => &["session", "dir", "opcode", "len", "frames", "compressed", "payload_b64"],
            Record::Frame(_) => &["session", "dir", "fin", "opcode", "masked", "payload_len"],
            Record::Violation(_) => &["session", "rule", "rfc", "section", "by"],
            Record::Warning(_) => &["packet", "message"],
            Record::Event(_) => &["session", "kind", "text"],
        };
        for k in keys {
            assert!(v.get(*k).is_some(), "{t} lacks {k}: {v}");
        }
    }
    let m = d.messages().find(|m| m.opcode == "text" && m.dir == wsprobe_dissect::Dir::C2S).expect("text");
    assert!(m.compressed && m.frames == 3);
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(m.payload_b64.as_ref().expect("b64"))
        .expect("base64");
    assert_eq!(payload.len() as u64, m.len);
}

fn public_dir() -> Option<PathBuf> {
    let dir = root().join("../shared/captures/public");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} does not exist", dir.display());
        None
    }
}

fn public_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn public_capture_transcripts() {
    let Some(dir) = public_dir() else { return };
    for p in public_files(&dir) {
        let rel = p.strip_prefix(&dir).expect("under dir").to_string_lossy().replace(['/', '\\'], "__");
        let d = dissect_path(&p, &opts());
        assert!(d.error.is_none(), "{}: {:?}", p.display(), d.error);
        insta::with_settings!({ snapshot_suffix => rel }, {
            insta::assert_snapshot!("public", d.transcript());
        });
    }
}

#[test]
fn public_captures_show_what_sources_md_says() {
    let Some(dir) = public_dir() else { return };
    let d = |rel: &str| dissect_path(&dir.join(rel), &opts());

    let ping = d("suricata-verify/websocket_ping.pcap");
    assert!(
        ping.violations().any(|v| v.rule == "mask.client-unmasked" && v.by == wsprobe_dissect::Role::Client)
    );

    let frag = d("suricata-verify/websocket_control_frag.pcap");
    let texts: Vec<_> =
        frag.messages().map(|m| (m.opcode.as_ref(), m.payload_preview.clone().unwrap_or_default())).collect();
    assert!(
        texts.contains(&("text", "\"MALWARE_DOWNLOAD cmd.exe /c powershell -enc AAAA\"".to_string())),
        "{texts:?}"
    );
    let ping_at = frag.messages().position(|m| m.opcode == "ping").expect("ping");
    let text_at = frag.messages().position(|m| m.opcode == "text").expect("text");
    assert!(ping_at < text_at, "the ping comes out before the message it interrupted");
    assert!(frag.messages().any(|m| m.opcode == "pong" && m.rtt_nanos.is_some()));

    let z = d("suricata-verify/websocket_compressed.pcap");
    let previews: Vec<String> = z.messages().filter_map(|m| m.payload_preview.clone()).collect();
    assert!(previews.iter().any(|p| p.starts_with("\"KEY=")), "{previews:?}");
    assert_eq!(previews.iter().filter(|p| p.starts_with("\"TOGGLE=")).count(), 9);
    assert!(z.messages().all(|m| m.compressed));

    let mid = d("ndpi/websocket.pcap");
    let s: Vec<_> = mid.sessions().collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].handshake, HandshakeState::NotSeen);
    assert_eq!(mid.messages().count(), 5);

    let ocpp = d("evsetool/ocpp_deflate.pcapng");
    assert_eq!(ocpp.sessions().filter(|s| s.deflate.is_some()).count(), 2);
    assert_eq!(ocpp.messages().filter(|m| m.compressed).count(), 16);
    assert_eq!(ocpp.messages().filter(|m| m.close_code == Some(1000)).count(), 4);

    let mixed = d("arkime/arkime_synthetic.pcap");
    assert_eq!(mixed.sessions().count(), 1, "only the one WebSocket session among the other protocols");
}

/// jsonl output (no transcript lines, only a preview's worth of payload kept) carries
/// the same records as the transcript mode, `truncated` aside.
#[test]
fn lean_jsonl_mode_gives_the_same_records() {
    let lean = Options { text: false, ..opts() };
    for f in fixtures::all() {
        let strip = |d: wsprobe_dissect::Dissection| -> Vec<serde_json::Value> {
            d.records
                .iter()
                .map(|r| {
                    let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("truncated");
                    }
                    v
                })
                .collect()
        };
        let full = strip(dissect_bytes(&f.bytes, &opts()));
        let lean_records = dissect_bytes(&f.bytes, &lean);
        assert!(
            lean_records.records.iter().all(|r| !matches!(r, Record::Event(e) if e.text.is_empty())),
            "{}: event records keep their text",
            f.name
        );
        assert_eq!(strip(lean_records), full, "{}", f.name);
    }
}

/// The jsonl writer's hand-written records are serde_json's, byte for byte.
#[test]
fn jsonl_writer_matches_serde() {
    let mut n = 0;
    for e in std::fs::read_dir(root().join("captures")).expect("captures/") {
        let p = e.expect("entry").path();
        if !p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            continue;
        }
        for payload in [wsprobe_dissect::PayloadMode::Full, wsprobe_dissect::PayloadMode::None] {
            let d = dissect_path(&p, &Options { frames: true, payload, ..opts() });
            for r in &d.records {
                let mut out = Vec::new();
                wsprobe_dissect::write_record(r, &mut out);
                assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(r).unwrap());
                n += 1;
            }
        }
    }
    assert!(n > 1000, "{n}");
}
