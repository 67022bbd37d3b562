//! The session state machine end to end: handshake, negotiation, fragmentation,
//! permessage-deflate, close, violations — and the same events however the bytes are
//! split.

use proptest::prelude::*;
use wsprobe_wire::deflate::Deflater;
use wsprobe_wire::encode::{FrameSpec, close_payload};
use wsprobe_wire::handshake::{RequestBuilder, accept_key};
use wsprobe_wire::{Dir, Event, Limits, OpCode, Session};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A whole conversation: (client bytes, server bytes).
fn transcript() -> (Vec<u8>, Vec<u8>) {
    let mut c2s = RequestBuilder::new("example.com", KEY)
        .path("/chat")
        .extensions("permessage-deflate; client_max_window_bits")
        .build();
    let mut s2c = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
        accept_key(KEY)
    )
    .into_bytes();
    let key = [1, 2, 3, 4];
    let frames_c = [
        FrameSpec::new(OpCode::TEXT, *b"frag-one ").fin(false).masked(key),
        FrameSpec::new(OpCode::PING, *b"mid").masked(key),
        FrameSpec::new(OpCode::CONTINUATION, *b"frag-two").masked(key),
        FrameSpec::new(OpCode::BINARY, vec![0u8; 300]).masked(key),
        // Invalid UTF-8 (a surrogate) in a text frame.
        FrameSpec::new(OpCode::TEXT, vec![b'a', 0xED, 0xA0, 0x80]).masked(key),
        FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"bye")).masked(key),
    ];
    for f in frames_c {
        f.encode_into(&mut c2s).unwrap();
    }
    let mut d = Deflater::new(15, true);
    let compressed = d.compress_message("κόσμε κόσμε κόσμε".as_bytes());
    let (a, b) = compressed.split_at(compressed.len() / 2);
    let frames_s = [
        FrameSpec::new(OpCode::TEXT, a.to_vec()).fin(false).rsv(4),
        FrameSpec::new(OpCode::CONTINUATION, b.to_vec()),
        FrameSpec::new(OpCode::PONG, *b"mid"),
        FrameSpec::new(OpCode::BINARY, d.compress_message(&[7u8; 5000])).rsv(4),
        // RSV1 on a control frame.
        FrameSpec::new(OpCode::PING, Vec::new()).rsv(4),
        FrameSpec::new(OpCode::CLOSE, close_payload(1005, b"")),
    ];
    for f in frames_s {
        f.encode_into(&mut s2c).unwrap();
    }
    (c2s, s2c)
}

fn run(c2s: &[u8], s2c: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut s = Session::new(Limits::default());
    let mut out = Vec::new();
    for (dir, bytes) in [(Dir::C2S, c2s), (Dir::S2C, s2c)] {
        let mut start = 0;
        for &c in cuts.iter().filter(|&&c| c < bytes.len()) {
            if c > start {
                s.feed(dir, &bytes[start..c], &mut out);
                start = c;
            }
        }
        s.feed(dir, &bytes[start..], &mut out);
    }
    s.finish(&mut out);
    out
}

fn violations(ev: &[Event]) -> Vec<(&'static str, Dir)> {
    ev.iter()
        .filter_map(|e| if let Event::Violation(v) = e { Some((v.rule.id(), v.by.sends())) } else { None })
        .collect()
}

#[test]
fn whole_conversation() {
    let (c2s, s2c) = transcript();
    let ev = run(&c2s, &s2c, &[]);
    assert!(ev.iter().any(|e| matches!(e, Event::Established)));
    let msgs: Vec<_> = ev.iter().filter_map(Event::as_message).collect();
    let c: Vec<_> = msgs.iter().filter(|m| m.dir == Dir::C2S).map(|m| (m.opcode, m.len, m.frames)).collect();
    assert_eq!(
        c,
        vec![
            (OpCode::PING, 3, 1),
            (OpCode::TEXT, 17, 2),
            (OpCode::BINARY, 300, 1),
            (OpCode::TEXT, 4, 1),
            (OpCode::CLOSE, 5, 1)
        ]
    );
    let s: Vec<_> = msgs.iter().filter(|m| m.dir == Dir::S2C).collect();
    assert_eq!(s[0].payload, "κόσμε κόσμε κόσμε".as_bytes());
    assert!(s[0].compressed && s[0].frames == 2);
    assert_eq!(
        (s[1].opcode, s[2].opcode, s[2].len, s[2].compressed),
        (OpCode::PONG, OpCode::BINARY, 5000, true)
    );
    assert_eq!(s.last().unwrap().close.as_ref().unwrap().code, Some(1005));
    assert_eq!(
        violations(&ev),
        vec![
            ("utf8.text-invalid", Dir::C2S),
            ("pmd.rsv1-control", Dir::S2C),
            ("close.code-invalid", Dir::S2C)
        ]
    );
}

#[test]
fn utf8_violation_points_at_the_failing_byte() {
    let (c2s, s2c) = transcript();
    let ev = run(&c2s, &s2c, &[]);
    let v = ev.iter().find_map(Event::as_violation).unwrap();
    // The bad text frame: header (6 bytes incl. key) + 'a' + ED, then A0 fails.
    let frame_start = ev
        .iter()
        .filter_map(Event::as_frame)
        .filter(|f| {
            f.dir == Dir::C2S && f.header.opcode == OpCode::TEXT && f.header.fin && f.header.payload_len == 4
        })
        .map(|f| f.offset)
        .next()
        .unwrap();
    assert_eq!(v.offset, frame_start + 6 + 2);
}

#[test]
fn fed_one_byte_at_a_time_gives_the_same_events() {
    let (c2s, s2c) = transcript();
    let whole = run(&c2s, &s2c, &[]);
    let all: Vec<usize> = (1..c2s.len().max(s2c.len())).collect();
    assert_eq!(run(&c2s, &s2c, &all), whole);
}

#[test]
fn split_at_every_position_gives_the_same_events() {
    let (c2s, s2c) = transcript();
    let whole = run(&c2s, &s2c, &[]);
    for cut in 1..c2s.len().max(s2c.len()) {
        assert_eq!(run(&c2s, &s2c, &[cut]), whole, "cut at {cut}");
    }
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(mut cuts in proptest::collection::vec(0usize..1200, 0..20)) {
        cuts.sort_unstable();
        let (c2s, s2c) = transcript();
        prop_assert_eq!(run(&c2s, &s2c, &cuts), run(&c2s, &s2c, &[]));
    }
}

/// A frame declaring 2^64-1 payload bytes, in an established session and in one that
/// must find frame boundaries first: no arithmetic overflow (tests run with overflow
/// checks), the frame is decoded with its declared length.
#[test]
fn maximal_64_bit_length_does_not_overflow() {
    let frame = hex::decode("82ffffffffffffffffff01020304aabbccdd").unwrap();
    let hello = hex::decode("818537fa213d7f9f4d5158").unwrap();
    let mut sessions =
        [Session::established(Limits::default(), Default::default()), Session::mid_stream(Limits::default())];
    for s in &mut sessions {
        let mut out = Vec::new();
        for _ in 0..3 {
            s.feed(Dir::C2S, &hello, &mut out);
        }
        s.feed(Dir::C2S, &frame, &mut out);
        s.feed(Dir::C2S, &[0u8; 4096], &mut out);
        s.finish(&mut out);
        assert!(
            out.iter().any(|e| e.as_frame().is_some_and(|f| f.header.payload_len == u64::MAX)),
            "{out:?}"
        );
    }
}

/// With small keeps, masked payload bytes past what is kept are only counted, not
/// unmasked: whatever the split, a binary message keeps exactly its first bytes, each
/// frame its first bytes, and lengths count everything; text past an invalid byte too.
#[test]
fn past_the_keeps_masked_bytes_are_counted_whatever_the_split() {
    let limits = Limits { message_keep: 10, frame_keep: 3, ..Limits::default() };
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let body: Vec<u8> = (0..300u32).map(|i| (i * 7 + 1) as u8).collect();
    let mut text = b"ab\xffcd".to_vec();
    text.extend(std::iter::repeat_n(b'x', 40));
    let mut wire = Vec::new();
    for f in [
        FrameSpec::new(OpCode::BINARY, body[..5].to_vec()).fin(false).masked(key),
        FrameSpec::new(OpCode::CONTINUATION, body[5..].to_vec()).masked(key),
        FrameSpec::new(OpCode::TEXT, text.clone()).masked(key),
    ] {
        f.encode_into(&mut wire).unwrap();
    }
    for cut in 0..=wire.len() {
        let mut s = Session::established(limits, Default::default());
        let mut out = Vec::new();
        s.feed(Dir::C2S, &wire[..cut], &mut out);
        s.feed(Dir::C2S, &wire[cut..], &mut out);
        let frames: Vec<_> = out.iter().filter_map(Event::as_frame).map(|f| f.payload.clone()).collect();
        assert_eq!(frames, [body[..3].to_vec(), body[5..8].to_vec(), text[..3].to_vec()], "cut at {cut}");
        let msgs: Vec<_> = out
            .iter()
            .filter_map(|e| {
                if let Event::Message(m) = e { Some((m.len, m.payload.clone(), m.truncated)) } else { None }
            })
            .collect();
        assert_eq!(msgs, [(300, body[..10].to_vec(), true), (45, text[..10].to_vec(), true)], "cut at {cut}");
        assert!(violations(&out).contains(&("utf8.text-invalid", Dir::C2S)), "cut at {cut}");
    }
}
