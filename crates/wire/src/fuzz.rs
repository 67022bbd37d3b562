//! Entry points for the fuzz targets under `fuzz/` (one per parser). They live here,
//! not in the targets, so that `tests/fuzz_corpus.rs` replays the committed seed
//! corpus through exactly the same code on stable Rust in every test run.

use crate::deflate::Inflater;
use crate::{Dir, Limits, Session, extensions, handshake};

/// Frame header grammar: any bytes parse or ask for more, and a parsed header never
/// claims more header bytes than were given.
pub fn frame_header(data: &[u8]) {
    if let crate::Parsed::Header(h) = crate::parse_header(data) {
        assert!(usize::from(h.header_len) <= data.len());
    }
}

/// The whole session: the first byte splits the input into a client and a server
/// stream, both fed in chunks, with a lost segment thrown in when it asks for one.
pub fn session(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(ctl).min(rest.len());
    let (c2s, s2c) = rest.split_at(cut);
    let limits =
        Limits { message_keep: 4096, inflate_max: 1 << 16, resync_buffer: 4096, ..Limits::default() };
    let mut s = if ctl & 1 == 0 { Session::new(limits) } else { Session::mid_stream(limits) };
    let mut out = Vec::new();
    for (dir, bytes) in [(Dir::C2S, c2s), (Dir::S2C, s2c)] {
        for chunk in bytes.chunks(usize::from(ctl % 7) + 1) {
            s.feed(dir, chunk, &mut out);
        }
        if ctl & 2 != 0 {
            s.gap(dir, u64::from(ctl), &mut out);
        }
    }
    s.finish(&mut out);
}

/// Opening-handshake parsers and checks, and the §9.1 extension grammar.
pub fn handshake(data: &[u8]) {
    if let Ok(handshake::Progress::Complete { value: req, .. }) = handshake::parse_request(data) {
        let _ = handshake::check_request(&req);
        if let Ok(handshake::Progress::Complete { value: resp, .. }) = handshake::parse_response(data) {
            let _ = handshake::check_response(&req, &resp);
        }
    }
    let _ = handshake::parse_response(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = extensions::parse_extensions(s);
    }
}

/// The inflater: arbitrary bytes as a compressed message, fed in two pieces, give
/// output or an error, never a panic and never more output than the limit.
pub fn inflate(data: &[u8]) {
    const LIMIT: usize = 1 << 20;
    let mut inf = Inflater::new(15, false, LIMIT);
    let (cut, payload) = match data.split_first() {
        Some((&c, rest)) => (usize::from(c).min(rest.len()), rest),
        None => (0, data),
    };
    let mut out = Vec::new();
    let _ = inf.push(&payload[..cut], &mut out);
    let _ = inf.push(&payload[cut..], &mut out);
    let _ = inf.finish_message(&mut out);
    assert!(out.len() <= LIMIT);
    // The same bytes again as a second message, with the first one's window.
    let mut total = 0usize;
    let _ = inf.push_with(payload, &mut |b| total += b.len());
    let _ = inf.finish_message_with(&mut |b| total += b.len());
    assert!(total <= LIMIT);
}

/// Close payloads and incremental UTF-8.
pub fn close_and_utf8(data: &[u8]) {
    let _ = crate::close::parse_close(data);
    let whole = crate::utf8::validate(data);
    let mut v = crate::utf8::Utf8Validator::new();
    let mut r = Ok(());
    for chunk in data.chunks(3) {
        r = v.feed(chunk);
        if r.is_err() {
            break;
        }
    }
    assert_eq!(r.and_then(|_| v.finish()), whole);
}
