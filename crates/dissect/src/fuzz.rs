//! Entry points of the `dissect` and `snaplen` fuzz targets under `fuzz/`, kept here
//! so that `tests/fuzz_pipeline.rs` runs them on stable (with overflow checks on).

use crate::{Options, Record, dissect_bytes};
use wsprobe_flow::{PcapOptions, PcapWriter, Side, TcpConversation};

/// Small limits, so that a fuzz run also exercises every cap.
fn opts() -> Options {
    let mut o = Options { frames: true, ..Options::default() };
    o.flow.max_buffered_per_dir = 1 << 16;
    o.flow.max_flows = 64;
    o.flow.defrag.max_bytes = 1 << 18;
    o.flow.defrag.max_datagrams = 64;
    o.limits.message_keep = 1 << 12;
    o.limits.inflate_max = 1 << 16;
    o
}

/// Any bytes as a capture, through the whole pipeline: records or an error, never a
/// panic; every message's kept payload within the limit.
pub fn dissect(data: &[u8]) {
    check(&dissect_bytes(data, &opts()).records);
}

fn check(records: &[Record]) {
    for r in records {
        if let Record::Message(m) = r
            && let Some(p) = &m.payload_b64
        {
            assert!(p.len() <= (1 << 12) * 4 / 3 + 4, "kept payload past the limit");
        }
    }
}

/// A WebSocket conversation made of the fuzz bytes, captured with a short snapshot
/// length: `data[0]` picks the snapshot length (54 to 309 bytes), `data[1]` the
/// segment size, the rest is the stream (the client's and the server's bytes
/// alternating per segment) after a valid handshake. A message with bytes cut off
/// never shows a payload.
pub fn snaplen(data: &[u8]) {
    let (Some(&snap), Some(&seg)) = (data.first(), data.get(1)) else {
        return;
    };
    let snap = 54 + usize::from(snap);
    let seg = 1 + usize::from(seg) * 8;
    let mut c = TcpConversation::new(
        std::net::SocketAddr::from(([10, 1, 0, 1], 40000)),
        std::net::SocketAddr::from(([10, 1, 0, 2], 80)),
    );
    let mut packets: Vec<Vec<u8>> = c.handshake().into_iter().collect();
    let request = "GET /f HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    packets.push(c.send(Side::Initiator, request.as_bytes()));
    let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    packets.push(c.send(Side::Responder, response.as_bytes()));
    for (i, chunk) in data.get(2..).unwrap_or_default().chunks(seg).enumerate() {
        let side = if i % 2 == 0 { Side::Initiator } else { Side::Responder };
        packets.push(c.send(side, chunk));
    }
    packets.push(c.fin(Side::Initiator));
    packets.push(c.fin(Side::Responder));
    let Ok(mut w) =
        PcapWriter::new(Vec::new(), PcapOptions { snaplen: snap as u32, ..PcapOptions::default() })
    else {
        return;
    };
    for (i, p) in packets.iter().enumerate() {
        let cut = &p[..p.len().min(snap)];
        if w.write_packet(i as i64 * 1_000_000, cut, p.len() as u32).is_err() {
            return;
        }
    }
    let d = dissect_bytes(&w.into_inner(), &opts());
    check(&d.records);
    for m in d.messages() {
        assert!(!m.incomplete || m.payload_b64.is_none(), "a payload shown for a message with bytes missing");
    }
}

/// The upgrade both wrapped conversations start with.
const UPGRADE: (&str, &str) = (
    "GET /w HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);

/// A capture of one WebSocket conversation (the upgrade, then `client` and `server`
/// bytes) wrapped as asked: `connect` is the status line a proxy answers a CONNECT
/// with (no tunnel if `None`), `tls` seals everything in TLS 1.3 records of at most
/// `record` bytes. Segments of at most `segment` bytes. Returns the capture and, with
/// TLS, its key log.
pub fn wrapped_capture(
    connect: Option<&str>,
    tls: bool,
    client: &[u8],
    server: &[u8],
    record: usize,
    segment: usize,
) -> (Vec<u8>, Option<String>) {
    let mut c = TcpConversation::new(
        std::net::SocketAddr::from(([10, 2, 0, 1], 40000)),
        std::net::SocketAddr::from(([10, 2, 0, 2], 3128)),
    );
    let mut packets: Vec<Vec<u8>> = c.handshake().into_iter().collect();
    let mut send = |c: &mut TcpConversation, side, bytes: &[u8]| {
        for piece in bytes.chunks(segment.max(1)) {
            packets.push(c.send(side, piece));
        }
    };
    if let Some(status) = connect {
        send(&mut c, Side::Initiator, b"CONNECT ws.example:443 HTTP/1.1\r\nHost: ws.example:443\r\n\r\n");
        send(&mut c, Side::Responder, format!("{status}\r\nVia: fuzz\r\n\r\n").as_bytes());
    }
    let client = [UPGRADE.0.as_bytes(), client].concat();
    let server = [UPGRADE.1.as_bytes(), server].concat();
    let keylog = if tls {
        let s = wsprobe_tls::testing::tls13_session([7; 32], &client, &server, record);
        send(&mut c, Side::Initiator, &s.client_hello);
        send(&mut c, Side::Responder, &s.server_hello);
        send(&mut c, Side::Initiator, &s.client);
        send(&mut c, Side::Responder, &s.server);
        Some(s.keylog)
    } else {
        send(&mut c, Side::Initiator, &client);
        send(&mut c, Side::Responder, &server);
        None
    };
    packets.push(c.fin(Side::Initiator));
    packets.push(c.fin(Side::Responder));
    let Ok(mut w) = PcapWriter::new(Vec::new(), PcapOptions::default()) else { return (Vec::new(), keylog) };
    for (i, p) in packets.iter().enumerate() {
        if w.write_packet(i as i64 * 1_000_000, p, p.len() as u32).is_err() {
            break;
        }
    }
    (w.into_inner(), keylog)
}

/// A wrapped conversation made of the fuzz bytes: `data[0]` picks the wrapping (bit 0
/// a CONNECT tunnel, bit 1 TLS, bit 2 the proxy refuses, bit 3 a wrong key log), `data[1]`
/// the record and segment sizes, `data[2]` a byte of the capture's TCP payload to flip;
/// the rest is the WebSocket stream (the client's half, then the server's). Never a
/// panic; with a wrong key log, never a message.
pub fn wrapped(data: &[u8]) {
    let (Some(&how), Some(&sizes), Some(&flip)) = (data.first(), data.get(1), data.get(2)) else {
        return;
    };
    let rest = data.get(3..).unwrap_or_default();
    let (client, server) = rest.split_at(rest.len() / 2);
    let status = if how & 4 == 0 { "HTTP/1.1 200 Connection established" } else { "HTTP/1.1 407 Proxy Auth" };
    let connect = (how & 1 == 1).then_some(status);
    let (record, segment) = (1 + usize::from(sizes & 0x0f) * 97, 1 + usize::from(sizes >> 4) * 61);
    let (mut capture, keylog) = wrapped_capture(connect, how & 2 == 2, client, server, record, segment);
    // Flip one byte past the pcap headers (payloads, or TCP/IP headers: either way junk).
    if flip != 0 {
        let at = 24 + usize::from(flip) * 7;
        if let Some(b) = capture.get_mut(at) {
            *b ^= 0x5a;
        }
    }
    let mut o = opts();
    let wrong = how & 8 == 8;
    if let Some(k) = keylog {
        // Wrong application secrets (the handshake ones stay right).
        let k =
            if wrong { k.replace("0303030303", "0909090909").replace("0404040404", "0a0a0a0a0a") } else { k };
        o.keylog = Some(std::sync::Arc::new(wsprobe_tls::KeyLog::parse(k.as_bytes())));
    }
    let d = dissect_bytes(&capture, &o);
    check(&d.records);
    if wrong && how & 2 == 2 {
        assert_eq!(d.messages().count(), 0, "messages decoded with the wrong keys");
    }
}
