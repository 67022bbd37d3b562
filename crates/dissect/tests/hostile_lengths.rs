//! A frame whose 64-bit length is 2^64-1 after a valid handshake: no arithmetic
//! overflow anywhere (this test runs with overflow checks on), the frame is reported
//! with its declared length, and everything decoded before it is kept.

use wsprobe_dissect::{Options, dissect_bytes};
use wsprobe_flow::{PcapOptions, PcapWriter, Side, TcpConversation};

fn capture() -> Vec<u8> {
    let mut c = TcpConversation::new("10.9.0.1:50000".parse().unwrap(), "10.9.0.2:80".parse().unwrap());
    let mut packets: Vec<Vec<u8>> = c.handshake().into_iter().collect();
    let request = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    packets.push(c.send(Side::Initiator, request.as_bytes()));
    let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    packets.push(c.send(Side::Responder, response.as_bytes()));
    // A masked "Hello", then a binary frame declaring 2^64-1 bytes.
    packets.push(c.send(Side::Initiator, &hex("818537fa213d7f9f4d5158")));
    packets.push(c.send(Side::Initiator, &hex("82ffffffffffffffffff01020304aabbccdd")));
    packets.push(c.fin(Side::Initiator));
    let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(i as i64 * 1_000_000, p, p.len() as u32).unwrap();
    }
    w.into_inner()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn a_maximal_64_bit_length_does_not_overflow() {
    let opts = Options { frames: true, ..Default::default() };
    let d = dissect_bytes(&capture(), &opts);
    assert!(d.error.is_none(), "{:?}", d.error);
    let texts: Vec<_> = d.messages().filter(|m| m.opcode == "text").collect();
    assert_eq!(texts.len(), 1, "the message before the hostile frame is kept");
    let t = d.transcript();
    assert!(t.contains("len=18446744073709551615"), "{t}");
}
