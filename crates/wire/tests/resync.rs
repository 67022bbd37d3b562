//! Bytes lost in capture, and captures that start mid-stream: decoding resumes at a
//! proved frame boundary and nothing after it is lost.

use wsprobe_wire::deflate::Deflater;
use wsprobe_wire::encode::FrameSpec;
use wsprobe_wire::{Dir, Established, Event, Limits, OpCode, Rule, Session, sync};

fn server_frames(texts: &[&str]) -> Vec<Vec<u8>> {
    texts.iter().map(|t| FrameSpec::new(OpCode::TEXT, t.as_bytes().to_vec()).encode().unwrap()).collect()
}

fn texts(ev: &[Event]) -> Vec<(String, bool)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((String::from_utf8_lossy(&m.payload).into_owned(), m.incomplete)),
            _ => None,
        })
        .collect()
}

#[test]
fn gap_inside_a_payload_keeps_the_frame_boundary() {
    let f = server_frames(&["first message", "second", "third"]);
    let mut s = Session::established(Limits::default(), Established::default());
    let mut out = Vec::new();
    s.feed(Dir::S2C, &f[0][..5], &mut out);
    s.gap(Dir::S2C, 4, &mut out); // lost inside the payload of frame 1
    s.feed(Dir::S2C, &f[0][9..], &mut out);
    s.feed(Dir::S2C, &f[1], &mut out);
    s.feed(Dir::S2C, &f[2], &mut out);
    s.finish(&mut out);
    let t = texts(&out);
    assert_eq!(t.len(), 3);
    assert!(t[0].1, "first message is marked incomplete");
    assert_eq!(t[1], ("second".into(), false));
    assert_eq!(t[2], ("third".into(), false));
    assert!(!out.iter().any(|e| matches!(e, Event::Violation(_))), "{out:?}");
}

#[test]
fn gap_over_a_header_resynchronises_at_the_next_segment() {
    let f = server_frames(&["aaaa", "bbbbbbbb", "cccc", "dd"]);
    let mut s = Session::established(Limits::default(), Established::default());
    let mut out = Vec::new();
    s.feed(Dir::S2C, &f[0], &mut out);
    // Frame 2 lost entirely, plus the first byte of frame 3's header.
    s.gap(Dir::S2C, f[1].len() as u64 + 1, &mut out);
    s.feed(Dir::S2C, &f[2][1..], &mut out); // the rest of frame 3: cannot be proved
    s.feed(Dir::S2C, &f[3], &mut out); // frame 4, a whole segment
    s.finish(&mut out);
    let t: Vec<String> = texts(&out).into_iter().map(|t| t.0).collect();
    assert_eq!(t, vec!["aaaa", "dd"]);
    let resynced: Vec<u64> = out
        .iter()
        .filter_map(|e| if let Event::Resynced { offset, .. } = e { Some(*offset) } else { None })
        .collect();
    let frame4 = (f[0].len() + f[1].len() + f[2].len()) as u64;
    assert_eq!(resynced, vec![frame4]);
}

#[test]
fn mid_stream_capture_starts_at_the_first_proved_frame() {
    let f = server_frames(&["a long message whose start was not captured", "x", "yz"]);
    let mut bytes = f[0][20..].to_vec();
    bytes.extend_from_slice(&f[1]);
    bytes.extend_from_slice(&f[2]);
    let mut s = Session::mid_stream(Limits::default());
    let mut out = Vec::new();
    s.feed(Dir::S2C, &bytes, &mut out);
    s.finish(&mut out);
    let t: Vec<String> = texts(&out).into_iter().map(|t| t.0).collect();
    assert_eq!(t, vec!["x", "yz"]);
}

#[test]
fn roles_are_inferred_from_masking() {
    let client = FrameSpec::new(OpCode::TEXT, *b"hi").masked([9, 8, 7, 6]).encode().unwrap();
    let server = FrameSpec::new(OpCode::TEXT, *b"hi").encode().unwrap();
    assert_eq!(sync::infer_sender(&client), Some(wsprobe_wire::Role::Client));
    assert_eq!(sync::infer_sender(&server), Some(wsprobe_wire::Role::Server));
    assert_eq!(sync::infer_sender(b"SSH-2.0-OpenSSH_9.6\r\n"), None);
}

#[test]
fn decompression_bomb_is_reported_not_obeyed() {
    let bomb = Deflater::new(15, true).compress_message(&vec![0u8; 8 << 20]);
    let frame = FrameSpec::new(OpCode::BINARY, bomb).rsv(4).encode().unwrap();
    let limits = Limits { inflate_max: 1 << 20, ..Limits::default() };
    let pmd = Some(wsprobe_wire::deflate::PmdConfig::default());
    let mut s = Session::established(limits, Established { pmd });
    let mut out = Vec::new();
    s.feed(Dir::S2C, &frame, &mut out);
    let rules: Vec<Rule> = out.iter().filter_map(Event::as_violation).map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::LimitInflatedSize]);
    let m = out.iter().find_map(Event::as_message).unwrap();
    assert!(m.len <= 1 << 20 && m.truncated, "len {}", m.len);
}

/// With context takeover, bytes lost in capture take the compression history with
/// them: later messages that fail to inflate are marked incomplete, not blamed on the
/// sender.
#[test]
fn lost_compression_history_is_not_the_senders_fault() {
    let mut d = Deflater::new(15, false);
    let text = "the same words again and again, the same words again and again";
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|_| FrameSpec::new(OpCode::TEXT, d.compress_message(text.as_bytes())).rsv(4).encode().unwrap())
        .collect();
    let pmd = Some(wsprobe_wire::deflate::PmdConfig::default());
    let mut s = Session::established(Limits::default(), Established { pmd });
    let mut out = Vec::new();
    s.feed(Dir::S2C, &frames[0], &mut out);
    s.feed(Dir::S2C, &frames[1][..3], &mut out);
    s.gap(Dir::S2C, (frames[1].len() - 3) as u64, &mut out); // message 2 lost in capture
    s.feed(Dir::S2C, &frames[2], &mut out); // refers back to message 2's text
    s.finish(&mut out);
    let rules: Vec<Rule> = out.iter().filter_map(Event::as_violation).map(|v| v.rule).collect();
    assert_eq!(rules, vec![], "{out:?}");
    let msgs: Vec<_> = out.iter().filter_map(Event::as_message).collect();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].payload, text.as_bytes());
    assert!(msgs[1].incomplete && msgs[2].incomplete);
}

/// Zero bytes parse as empty non-final continuation frames; they must not prove a
/// boundary (found by review: a gap into a zero-filled payload resynchronised inside it).
#[test]
fn zero_filled_payload_does_not_fake_a_boundary() {
    let first = FrameSpec::new(OpCode::TEXT, *b"first").encode().unwrap();
    let zeros = FrameSpec::new(OpCode::BINARY, vec![0u8; 3000]).encode().unwrap();
    let hello = FrameSpec::new(OpCode::TEXT, *b"hello").encode().unwrap();
    let mut s = Session::established(Limits::default(), Established::default());
    let mut out = Vec::new();
    s.feed(Dir::S2C, &first[..3], &mut out);
    let lost = (first.len() - 3 + 4 + 101) as u64; // rest of "first", the header, 101 payload bytes
    s.gap(Dir::S2C, lost, &mut out);
    for chunk in zeros[4 + 101..].chunks(1448) {
        s.feed(Dir::S2C, chunk, &mut out);
    }
    s.feed(Dir::S2C, &hello, &mut out);
    s.finish(&mut out);
    assert_eq!(out.iter().filter_map(Event::as_violation).count(), 0, "{out:?}");
    let texts: Vec<&[u8]> =
        out.iter().filter_map(Event::as_message).filter(|m| !m.incomplete).map(|m| &m.payload[..]).collect();
    assert_eq!(texts, vec![&b"hello"[..]]);
}

/// Bytes of the client lost after its upgrade request do not hide the server's 101
/// (found by review: the whole session fell back to mid-stream decoding).
#[test]
fn client_gap_after_the_request_keeps_the_handshake() {
    use wsprobe_wire::handshake::{RequestBuilder, accept_key};
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let req = RequestBuilder::new("example.com", key).build();
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    let c1 = FrameSpec::new(OpCode::TEXT, *b"lost").masked([1, 2, 3, 4]).encode().unwrap();
    let c2 = FrameSpec::new(OpCode::TEXT, *b"kept").masked([1, 2, 3, 4]).encode().unwrap();
    let s1 = FrameSpec::new(OpCode::TEXT, *b"server says hi").encode().unwrap();
    let mut s = Session::new(Limits::default());
    let mut out = Vec::new();
    s.feed(Dir::C2S, &req, &mut out);
    s.gap(Dir::C2S, c1.len() as u64, &mut out);
    s.feed(Dir::C2S, &c2, &mut out);
    s.feed(Dir::S2C, resp.as_bytes(), &mut out);
    s.feed(Dir::S2C, &s1, &mut out);
    s.finish(&mut out);
    assert!(out.iter().any(|e| matches!(e, Event::Established)), "{out:?}");
    assert_eq!(out.iter().filter_map(Event::as_violation).count(), 0, "{out:?}");
    let msgs: Vec<(Dir, &[u8])> =
        out.iter().filter_map(Event::as_message).map(|m| (m.dir, &m.payload[..])).collect();
    assert!(msgs.contains(&(Dir::C2S, &b"kept"[..])), "{msgs:?}");
    assert!(msgs.contains(&(Dir::S2C, &b"server says hi"[..])), "{msgs:?}");
}
