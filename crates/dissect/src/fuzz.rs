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
