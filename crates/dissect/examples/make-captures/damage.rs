//! Captures of one clean 50-message echo session (MTU 1500, segments of at most 1448
//! payload bytes, ACKs every other segment as a real stack sends them) and the same
//! session after the kinds of damage real captures show: segments reordered and
//! duplicated, a response captured before its request, IP fragments in any order, a
//! short snapshot length. Deterministic: the "random" choices come from a fixed
//! xorshift sequence, so the `damage` test regenerates these captures in memory and the
//! `captures` test checks the committed bytes.

use super::{C, Packets, S, Ws, request, switching};
use wsprobe_flow::{LinkType, PcapOptions};
use wsprobe_wire::OpCode;
use wsprobe_wire::encode::{FrameSpec, close_payload};
use wsprobe_wire::xorshift::Xorshift;

/// Payload bytes per TCP segment (MTU 1500 less IPv4 and TCP headers with timestamps).
pub const MSS: usize = 1448;
/// Client messages; each is echoed, so the session holds twice as many.
pub const ROUNDS: usize = 25;

/// The message sizes of the session, cycled (round 12 sends 70 000 bytes: a 64-bit length).
const SIZES: [usize; 10] = [5, 120, 600, 1500, 3000, 20, 250, 4000, 64, 2000];

fn payload(round: usize, len: usize) -> (OpCode, Vec<u8>) {
    if round % 3 == 1 {
        let bytes = (0..len).map(|i| (i * 7 + round) as u8).collect();
        (OpCode::BINARY, bytes)
    } else {
        let text: String = (0..len).map(|i| char::from(b'a' + ((i + round) % 26) as u8)).collect();
        (OpCode::TEXT, text.into_bytes())
    }
}

impl Ws {
    /// Sends `bytes` from `side` in segments of at most [`MSS`] bytes, the peer
    /// acknowledging every second segment and the last one.
    fn stream(&mut self, side: wsprobe_flow::Side, bytes: &[u8]) {
        let n = bytes.chunks(MSS).count();
        for (i, chunk) in bytes.chunks(MSS).enumerate() {
            let p = self.conv.send(side, chunk);
            self.pk.push(p);
            if i % 2 == 1 || i + 1 == n {
                let a = self.conv.ack(side.other());
                self.pk.push(a);
            }
        }
    }
}

/// The clean session over IPv4 (`v6` false) or IPv6.
pub fn echo_session(v6: bool) -> Packets {
    let (client, server) = if v6 {
        ("[2001:db8::1]:52000", "[2001:db8::2]:8765")
    } else {
        ("192.0.2.1:52000", "192.0.2.2:8765")
    };
    let mut ws = Ws::new(client, server);
    ws.open();
    ws.stream(C, request("/echo", "User-Agent: damage-generator\r\n").as_bytes());
    ws.stream(S, switching("").as_bytes());
    for round in 0..ROUNDS {
        let size = if round == 12 { 70_000 } else { SIZES[round % SIZES.len()] };
        let (op, data) = payload(round, size);
        let key = [0x37, 0xfa, round as u8, 0x21];
        let c = FrameSpec::new(op, data.clone()).masked(key).encode().expect("frame");
        ws.stream(C, &c);
        let s = FrameSpec::new(op, data).encode().expect("frame");
        ws.stream(S, &s);
    }
    let close = FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"bye")).masked([1, 2, 3, 4]);
    ws.stream(C, &close.encode().expect("frame"));
    ws.stream(S, &FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"bye")).encode().expect("frame"));
    ws.fins();
    ws.done()
}

/// Offset of the IP header in a packet of these captures (Ethernet II).
const ETH: usize = 14;

/// The TCP payload length of a captured packet (0 for anything else).
fn tcp_payload_len(frame: &[u8]) -> usize {
    match wsprobe_flow::decode_packet(LinkType::ETHERNET, frame) {
        wsprobe_flow::Decoded::Tcp { segment, .. } => segment.payload.len() + segment.missing as usize,
        _ => 0,
    }
}

/// Moves each data segment later by up to `window` packets (so segments of one
/// direction overtake each other and the peer's ACKs) and duplicates about
/// `dup_percent` percent of them, near the original. With `everything`, pure ACKs and
/// FINs after the TCP handshake move too.
pub fn reorder(pk: &Packets, window: u64, dup_percent: u64, seed: u64, everything: bool) -> Packets {
    let mut rng = Xorshift::new(seed);
    let mut keyed: Vec<(u64, usize, usize)> = Vec::new();
    for (i, p) in pk.0.iter().enumerate() {
        let base = i as u64 * 16;
        if tcp_payload_len(&p.data) == 0 && !(everything && i >= 3) {
            keyed.push((base, keyed.len(), i));
            continue;
        }
        keyed.push((base + rng.below(window * 16 + 1), keyed.len(), i));
        if rng.below(100) < dup_percent {
            keyed.push((base + rng.below(window * 16 + 1), keyed.len(), i));
        }
    }
    keyed.sort_unstable();
    let mut out = Packets::default();
    for (_, _, i) in keyed {
        out.0.push(pk.0[i].clone());
    }
    out
}

/// Swaps the first data segment of each direction: the 101 captured before its request.
pub fn response_first(pk: &Packets) -> Packets {
    let mut out = Packets(pk.0.clone());
    let data: Vec<usize> = (0..out.0.len()).filter(|&i| tcp_payload_len(&out.0[i].data) > 0).collect();
    if let [req, resp_ack @ ..] = data.as_slice()
        && let Some(&resp) = resp_ack.first()
    {
        let r = out.0.remove(resp);
        out.0.insert(*req, r);
    }
    out
}

/// Splits every IP packet longer than `frag` payload bytes into fragments (IPv4 or
/// IPv6 as the packet is); every `reverse_every`-th fragmented packet's fragments are
/// captured last first.
pub fn fragment(pk: &Packets, frag: usize, reverse_every: usize) -> Packets {
    let mut out = Packets::default();
    let mut trains = 0usize;
    for (n, p) in pk.0.iter().enumerate() {
        let (eth, ip) = p.data.split_at(ETH);
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let hdr = if v6 { 40 } else { 20 };
        if ip.len() <= hdr + frag {
            out.0.push(p.clone());
            continue;
        }
        let mut parts = if v6 {
            wsprobe_flow::defrag::fragment_ipv6(ip, frag, 0x1000 + n as u32)
        } else {
            wsprobe_flow::defrag::fragment_ipv4(ip, frag)
        };
        trains += 1;
        if trains.is_multiple_of(reverse_every.max(1)) {
            parts.reverse();
        }
        for part in parts {
            let mut data = eth.to_vec();
            data.extend_from_slice(&part);
            out.push(data);
        }
    }
    out
}

/// Cuts every packet to `snap` bytes, as `tcpdump -s SNAP` does.
pub fn snaplen(pk: &Packets, snap: usize) -> Vec<u8> {
    let mut out = Packets(pk.0.clone());
    for p in &mut out.0 {
        p.orig = p.data.len() as u32;
        p.data.truncate(snap);
    }
    out.pcap_with(PcapOptions { snaplen: snap as u32, ..PcapOptions::default() })
}

/// The damage captures, as (file name, what it shows, bytes).
pub fn all() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let eth = LinkType::ETHERNET;
    let clean = echo_session(false);
    let clean6 = echo_session(true);
    vec![
        (
            "damage-clean.pcap",
            "The reference for the damage captures: a clean 50-message echo session (25 client messages of 5 B to 70 kB, text and binary, each echoed; then a closing handshake), MTU 1500, ACKs every other segment.",
            clean.pcap(eth),
        ),
        (
            "damage-reordered.pcap",
            "damage-clean.pcap with data segments moved up to 6 packets later (past the peer's ACKs of them) and 5% of them duplicated: every message is still there, no gap, no violation.",
            reorder(&clean, 6, 5, 6455, false).pcap(eth),
        ),
        (
            "damage-response-first.pcap",
            "damage-clean.pcap with the server's 101 captured before the client's request (two capture points): ordered by ACKs, the session and its handshake are found.",
            response_first(&clean).pcap(eth),
        ),
        (
            "damage-ipv4-fragments.pcap",
            "damage-clean.pcap with every IPv4 packet split into 512-byte fragments, every fifth train captured last fragment first: reassembled, every message found.",
            fragment(&clean, 512, 5).pcap(eth),
        ),
        (
            "damage-ipv6-fragments.pcap",
            "The same session over IPv6 with fragment headers (512-byte fragments, every fifth train last first).",
            fragment(&clean6, 512, 5).pcap(eth),
        ),
        (
            "damage-snaplen-128.pcap",
            "damage-clean.pcap cut to 128 bytes per packet (tcpdump -s 128): every message found with its direction, opcode and length, its payload marked missing.",
            snaplen(&clean, 128),
        ),
    ]
}
