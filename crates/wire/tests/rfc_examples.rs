//! RFC 6455 §5.7 examples, byte-exact in both directions (encode and decode), and the
//! §1.3 handshake example.

use wsprobe_wire::encode::FrameSpec;
use wsprobe_wire::{Dir, Established, Event, Limits, OpCode, Parsed, Session, parse_header};

struct Example {
    name: &'static str,
    bytes: Vec<u8>,
    spec: FrameSpec,
}

fn examples() -> Vec<Example> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut v = vec![
        Example {
            name: "single-frame unmasked text",
            bytes: vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            spec: FrameSpec::new(OpCode::TEXT, *b"Hello"),
        },
        Example {
            name: "single-frame masked text",
            bytes: vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
            spec: FrameSpec::new(OpCode::TEXT, *b"Hello").masked(key),
        },
        Example {
            name: "fragmented text, first fragment",
            bytes: vec![0x01, 0x03, 0x48, 0x65, 0x6c],
            spec: FrameSpec::new(OpCode::TEXT, *b"Hel").fin(false),
        },
        Example {
            name: "fragmented text, last fragment",
            bytes: vec![0x80, 0x02, 0x6c, 0x6f],
            spec: FrameSpec::new(OpCode::CONTINUATION, *b"lo"),
        },
        Example {
            name: "unmasked ping",
            bytes: vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            spec: FrameSpec::new(OpCode::PING, *b"Hello"),
        },
        Example {
            name: "masked pong",
            bytes: vec![0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
            spec: FrameSpec::new(OpCode::PONG, *b"Hello").masked(key),
        },
    ];
    let mut b256 = vec![0x82, 0x7E, 0x01, 0x00];
    b256.extend(vec![0xAB; 256]);
    v.push(Example {
        name: "256-byte binary",
        bytes: b256,
        spec: FrameSpec::new(OpCode::BINARY, vec![0xAB; 256]),
    });
    let mut b64k = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
    b64k.extend(vec![0xCD; 65536]);
    v.push(Example {
        name: "64KiB binary",
        bytes: b64k,
        spec: FrameSpec::new(OpCode::BINARY, vec![0xCD; 65536]),
    });
    v
}

#[test]
fn section_5_7_encode_byte_exact() {
    for ex in examples() {
        assert_eq!(ex.spec.encode().unwrap(), ex.bytes, "{}", ex.name);
    }
}

#[test]
fn section_5_7_decode_fields() {
    for ex in examples() {
        let Parsed::Header(h) = parse_header(&ex.bytes) else { panic!("{}: incomplete", ex.name) };
        assert_eq!(h.fin, ex.spec.fin, "{}", ex.name);
        assert_eq!(h.opcode, ex.spec.opcode, "{}", ex.name);
        assert_eq!(h.payload_len, ex.spec.payload.len() as u64, "{}", ex.name);
        assert_eq!(usize::from(h.header_len) + ex.spec.payload.len(), ex.bytes.len(), "{}", ex.name);
        assert_eq!(h.masked, h.mask_key.is_some(), "{}", ex.name);
    }
}

fn run(dir: Dir, bytes: &[u8]) -> Vec<Event> {
    let mut s = Session::established(Limits::default(), Established::default());
    let mut out = Vec::new();
    s.feed(dir, bytes, &mut out);
    s.finish(&mut out);
    out
}

#[test]
fn masked_hello_from_client_is_a_clean_text_message() {
    let ev = run(Dir::C2S, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let msgs: Vec<_> = ev.iter().filter_map(Event::as_message).collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].payload, b"Hello");
    assert!(!ev.iter().any(|e| matches!(e, Event::Violation(_))), "{ev:?}");
}

#[test]
fn fragmented_hello_from_server_reassembles() {
    let ev = run(Dir::S2C, &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    let msgs: Vec<_> = ev.iter().filter_map(Event::as_message).collect();
    assert_eq!((msgs.len(), msgs[0].payload.as_slice(), msgs[0].frames), (1, &b"Hello"[..], 2));
    assert!(!ev.iter().any(|e| matches!(e, Event::Violation(_))), "{ev:?}");
}

#[test]
fn same_frames_from_the_wrong_side_break_the_masking_rule() {
    let ev = run(Dir::S2C, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let rules: Vec<_> = ev.iter().filter_map(Event::as_violation).map(|v| v.rule.id()).collect();
    assert_eq!(rules, vec!["mask.server-masked"]);
    let ev = run(Dir::C2S, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    let rules: Vec<_> = ev.iter().filter_map(Event::as_violation).map(|v| v.rule.id()).collect();
    assert_eq!(rules, vec!["mask.client-unmasked"]);
}

#[test]
fn section_1_3_accept_key() {
    assert_eq!(
        wsprobe_wire::handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}
