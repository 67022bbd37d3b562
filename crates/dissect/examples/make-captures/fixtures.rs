//! The fixture captures: each one small, made here from scripted conversations with
//! `wsprobe_flow::synth` and `wsprobe_wire::encode`, and named by what it shows.
//! Shared by the `make-captures` example (which writes them) and the `captures` test
//! (which checks the committed bytes and snapshots their transcripts).

use wsprobe_flow::{LinkType, PcapOptions, PcapWriter, PcapngWriter, Side, SynthLink, TcpConversation};
use wsprobe_wire::OpCode;
use wsprobe_wire::deflate::Deflater;
use wsprobe_wire::encode::{FrameSpec, Masking, close_payload};
use wsprobe_wire::frame::LengthForm;
use wsprobe_wire::handshake::accept_key;

/// One fixture capture.
pub struct Fixture {
    /// File name under `captures/`.
    pub name: &'static str,
    /// What it shows (one sentence, for captures/README.md).
    pub shows: &'static str,
    /// The capture file's bytes.
    pub bytes: Vec<u8>,
}

/// Time of the first packet: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000_000_000;
/// Time between two packets of a capture.
const STEP: i64 = 1_000_000;
/// The Sec-WebSocket-Key of every handshake (RFC 6455's example nonce).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const C: Side = Side::Initiator;
const S: Side = Side::Responder;

#[path = "damage.rs"]
pub mod damage;

/// A captured packet.
#[derive(Clone)]
struct Pkt {
    data: Vec<u8>,
    orig: u32,
}

/// The packets of one capture, in capture order; packet `i` is stamped `T0 + i * STEP`.
#[derive(Default)]
pub struct Packets(Vec<Pkt>);

impl Packets {
    fn push(&mut self, data: Vec<u8>) {
        let orig = data.len() as u32;
        self.0.push(Pkt { data, orig });
    }

    fn append(&mut self, other: Packets) {
        self.0.extend(other.0);
    }

    pub fn pcap(&self, link: LinkType) -> Vec<u8> {
        self.pcap_with(PcapOptions { link_type: link, ..PcapOptions::default() })
    }

    pub fn pcap_with(&self, opts: PcapOptions) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), opts).expect("in memory");
        for (i, p) in self.0.iter().enumerate() {
            w.write_packet(T0 + i as i64 * STEP, &p.data, p.orig).expect("in memory");
        }
        w.into_inner()
    }
}

/// A scripted client/server conversation.
struct Ws {
    conv: TcpConversation,
    pk: Packets,
    keys: u8,
}

impl Ws {
    fn new(client: &str, server: &str) -> Self {
        Ws {
            conv: TcpConversation::new(client.parse().expect("addr"), server.parse().expect("addr")),
            pk: Packets::default(),
            keys: 0,
        }
    }

    fn link(mut self, link: SynthLink) -> Self {
        self.conv = self.conv.with_link(link);
        self
    }

    fn open(&mut self) -> &mut Self {
        for p in self.conv.handshake() {
            self.pk.push(p);
        }
        self
    }

    fn c(&mut self, bytes: &[u8]) -> &mut Self {
        let p = self.conv.send(C, bytes);
        self.pk.push(p);
        self
    }

    fn s(&mut self, bytes: &[u8]) -> &mut Self {
        let p = self.conv.send(S, bytes);
        self.pk.push(p);
        self
    }

    /// Client frames (masked with a fresh key unless the spec says otherwise), one segment.
    fn cf(&mut self, specs: Vec<FrameSpec>) -> &mut Self {
        let mut out = Vec::new();
        for mut f in specs {
            if f.masking == Masking::None {
                self.keys = self.keys.wrapping_add(1);
                f = f.masked([0x5a, 0x3c, self.keys, 0xa7]);
            }
            f.encode_into(&mut out).expect("encodable");
        }
        self.c(&out)
    }

    /// Server frames as specified, one segment.
    fn sf(&mut self, specs: Vec<FrameSpec>) -> &mut Self {
        let out = encode(specs);
        self.s(&out)
    }

    /// The upgrade request (with `extra` header lines) and a 101 answer (with `resp_extra`).
    fn upgrade(&mut self, path: &str, extra: &str, resp_extra: &str) -> &mut Self {
        let req = request(path, extra);
        self.c(req.as_bytes());
        let resp = switching(resp_extra);
        self.s(resp.as_bytes())
    }

    /// Closing handshake (1000) and FINs.
    fn goodbye(&mut self) -> &mut Self {
        self.cf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"done"))]);
        self.sf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"done"))]);
        self.fins()
    }

    fn fins(&mut self) -> &mut Self {
        let p = self.conv.fin(S);
        self.pk.push(p);
        let p = self.conv.fin(C);
        self.pk.push(p);
        let p = self.conv.ack(S);
        self.pk.push(p);
        self
    }

    fn done(&mut self) -> Packets {
        std::mem::take(&mut self.pk)
    }
}

fn encode(specs: Vec<FrameSpec>) -> Vec<u8> {
    let mut out = Vec::new();
    for f in specs {
        f.encode_into(&mut out).expect("encodable");
    }
    out
}

fn request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: ws.example.test\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn switching(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(KEY)
    )
}

fn text(s: &str) -> FrameSpec {
    FrameSpec::new(OpCode::TEXT, s.as_bytes().to_vec())
}

/// A short session used by the link-layer and addressing captures.
fn small_session(client: &str, server: &str, link: SynthLink) -> Packets {
    let mut ws = Ws::new(client, server).link(link);
    ws.open().upgrade("/echo", "", "");
    ws.cf(vec![text("hello over the wire")]);
    ws.sf(vec![text("hello over the wire")]);
    ws.goodbye();
    ws.done()
}

/// Every fixture, in a fixed order.
pub fn all() -> Vec<Fixture> {
    let eth = LinkType::ETHERNET;
    let mut v = Vec::new();
    let mut add = |name, shows, bytes| v.push(Fixture { name, shows, bytes });

    add(
        "basic-echo.pcap",
        "A clean session: handshake with a subprotocol, text and binary (16-bit length) echoes, pings answered both ways (round-trip times), closing handshake with 1000 and a reason, TCP FINs.",
        basic_echo().pcap(eth),
    );
    add(
        "tcp-reordered.pcap",
        "Segments of both directions captured out of order (the 101 before its request's last segment, a frame's tail before its head); reassembly puts them back.",
        tcp_reordered().pcap(eth),
    );
    add(
        "tcp-retransmitted.pcap",
        "Identical retransmissions (ignored) and one retransmission whose content differs (a warning; the first copy is kept).",
        tcp_retransmitted().pcap(eth),
    );
    add(
        "tcp-overlapping.pcap",
        "Overlapping segments carrying one frame; the bytes are delivered once.",
        tcp_overlapping().pcap(eth),
    );
    add(
        "tcp-lost-segment.pcap",
        "Lost segments: one inside a frame's payload (the frame and its message are reported with the bytes missing), one across a frame boundary (decoding resynchronises at the next provable frame).",
        tcp_lost().pcap(eth),
    );
    add(
        "mid-stream.pcap",
        "Capture started mid-connection: no SYN, no handshake, the first segment starts inside a frame; found by frame synchronisation, roles from masking, marked no handshake seen.",
        mid_stream().pcap(eth),
    );
    add(
        "snaplen-cut.pcap",
        "Captured with a 320-byte snapshot length: the payload of large frames is missing (reported as missing, never invented); small frames after them decode.",
        snaplen(),
    );
    add(
        "truncated-file.pcap",
        "A capture file cut in the middle of its last packet record: an error with the byte offset, everything before it decoded.",
        truncated(),
    );
    add("ipv6.pcap", "A session over IPv6 (with extension headers before TCP).", {
        let mut ws = Ws::new("[2001:db8::1]:50000", "[2001:db8::2]:8080");
        ws.conv = ws.conv.clone().with_ipv6_extension_headers(true);
        ws.open().upgrade("/v6", "", "");
        ws.cf(vec![text("over IPv6")]);
        ws.sf(vec![text("over IPv6")]);
        ws.goodbye();
        ws.done().pcap(eth)
    });
    add(
        "vlan.pcap",
        "A session on Ethernet with an 802.1Q VLAN tag (VLAN 42).",
        small_session("192.0.2.10:40001", "192.0.2.20:80", SynthLink::EthernetVlan(42)).pcap(eth),
    );
    add(
        "sll.pcap",
        "A session in a Linux cooked capture (SLL, link type 113).",
        small_session("127.0.0.1:40002", "127.0.0.1:9001", SynthLink::Sll).pcap(SynthLink::Sll.link_type()),
    );
    add(
        "sll2.pcap",
        "A session in a Linux cooked capture v2 (SLL2, link type 276).",
        small_session("127.0.0.1:40003", "127.0.0.1:9002", SynthLink::Sll2).pcap(SynthLink::Sll2.link_type()),
    );
    add(
        "pcapng-multi-interface.pcapng",
        "pcapng with two sections: interfaces of different link types and timestamp resolutions (Ethernet µs, SLL2 ns), an interface with an unsupported link type (a warning), Enhanced and Simple Packet Blocks.",
        pcapng_multi(),
    );
    add(
        "deflate-context-takeover.pcap",
        "permessage-deflate with context takeover both ways: later messages compress against earlier ones.",
        deflate_takeover().pcap(eth),
    );
    add(
        "deflate-no-context-takeover.pcap",
        "permessage-deflate with server_no_context_takeover, client_no_context_takeover and reduced windows (client 10 bits, server 12 bits).",
        deflate_no_takeover().pcap(eth),
    );
    add(
        "deflate-fragmented.pcap",
        "A compressed message in three frames (RSV1 on the first only) with a Ping between the fragments, in each direction.",
        deflate_fragmented().pcap(eth),
    );
    add(
        "upgrade-rejected.pcap",
        "Failed upgrades: a 403 with a body on one connection; on another a 401 and then, on the same connection, a retried upgrade that succeeds (two sessions).",
        upgrade_rejected().pcap(eth),
    );
    add(
        "http-before-upgrade.pcap",
        "Plain HTTP requests and responses (with bodies) on the connection before the upgrade, on a non-standard port.",
        http_before().pcap(eth),
    );
    add(
        "upgrade-with-first-frame.pcap",
        "The 101 response and the server's first two frames in one TCP segment.",
        first_frame_in_101().pcap(eth),
    );
    add(
        "not-websocket.pcap",
        "Connections that are neither HTTP nor WebSocket (an SSH-like banner exchange with binary packets, a length-prefixed binary protocol, plain HTTP without upgrade): no sessions, no noise.",
        not_websocket().pcap(eth),
    );
    add(
        "violations-framing.pcap",
        "frame.opcode-reserved, frame.rsv-unnegotiated, frame.length-non-minimal, mask.client-unmasked, mask.server-masked and frame.length-msb-set.",
        violations_framing().pcap(eth),
    );
    add(
        "violations-control.pcap",
        "control.payload-too-long, control.fragmented, fragment.orphan-continuation and fragment.interleaved-data.",
        violations_control().pcap(eth),
    );
    add(
        "violations-close.pcap",
        "close.payload-one-byte, close.code-invalid, close.reason-invalid-utf8 and close.data-after-close.",
        violations_close().pcap(eth),
    );
    add(
        "violations-utf8.pcap",
        "utf8.text-invalid: in a single frame, across fragments, and a text ending inside a sequence.",
        violations_utf8().pcap(eth),
    );
    add(
        "violations-request.pcap",
        "Upgrade requests breaking hs.request-method, hs.request-http-version, hs.request-host, hs.request-connection, hs.request-key, hs.request-version, hs.request-protocol, hs.header-repeated, hs.extensions-syntax and hs.request-malformed, each refused with 400.",
        violations_request().pcap(eth),
    );
    add(
        "violations-response.pcap",
        "Answers breaking hs.response-status, hs.response-upgrade, hs.response-connection, hs.response-accept, hs.response-extension-not-offered, hs.response-protocol-not-offered, hs.version-unsupported-reply, hs.bad-request-accepted and hs.response-malformed.",
        violations_response().pcap(eth),
    );
    add(
        "violations-deflate.pcap",
        "pmd.param-invalid, pmd.response-mismatch, pmd.rsv1-control, pmd.rsv1-continuation, pmd.inflate-error, pmd.window-exceeded (a 2000-byte back-reference in a 512-byte window) and pmd.context-takeover (a reference into the previous message under server_no_context_takeover).",
        violations_deflate().pcap(eth),
    );
    add(
        "limit-inflated-size.pcap",
        "A compressed message of 2 MiB of zeros (2 KiB on the wire): limit.inflated-size when the inflate limit is below 2 MiB (the snapshot uses 1 MiB; the CLI's --inflate-max).",
        limit_inflate().pcap(eth),
    );
    for (name, shows, bytes) in damage::all() {
        add(name, shows, bytes);
    }
    v
}

fn basic_echo() -> Packets {
    let mut ws = Ws::new("10.0.0.1:51000", "10.0.0.2:80");
    ws.open().upgrade(
        "/chat?room=1",
        "Origin: http://ws.example.test\r\nSec-WebSocket-Protocol: chat, superchat\r\n",
        "Sec-WebSocket-Protocol: chat\r\n",
    );
    ws.cf(vec![text("Hello, server")]);
    ws.sf(vec![text("Hello, server")]);
    let blob: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
    ws.cf(vec![FrameSpec::new(OpCode::BINARY, blob.clone())]);
    ws.sf(vec![FrameSpec::new(OpCode::BINARY, blob)]);
    ws.cf(vec![FrameSpec::new(OpCode::PING, b"ping-1".to_vec())]);
    ws.sf(vec![FrameSpec::new(OpCode::PONG, b"ping-1".to_vec())]);
    ws.sf(vec![FrameSpec::new(OpCode::PING, Vec::new())]);
    let p = ws.conv.ack(C);
    ws.pk.push(p);
    ws.cf(vec![FrameSpec::new(OpCode::PONG, Vec::new())]);
    ws.cf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"bye for now"))]);
    ws.sf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"bye for now"))]);
    ws.fins();
    ws.done()
}

fn tcp_reordered() -> Packets {
    let mut ws = Ws::new("10.0.1.1:51001", "10.0.1.2:80");
    ws.open();
    let req = request("/reorder", "");
    let (r1, r2) = req.as_bytes().split_at(40);
    // Request in two segments, the second captured first.
    let o = ws.conv.next_offset(C);
    let seg1 = ws.conv.segment(C, o, r1);
    let seg2 = ws.conv.segment(C, o + r1.len() as u64, r2);
    ws.conv.advance(C, req.len() as u64);
    ws.pk.push(seg2);
    ws.pk.push(seg1);
    ws.s(switching("").as_bytes());
    // Three client frames in three segments, captured 2, 3, 1.
    let frames: Vec<Vec<u8>> = ["first", "second", "third"]
        .iter()
        .enumerate()
        .map(|(i, t)| text(t).masked([1, 2, 3, i as u8]).encode().expect("frame"))
        .collect();
    let o = ws.conv.next_offset(C);
    let mut segs = Vec::new();
    let mut off = o;
    for f in &frames {
        segs.push(ws.conv.segment(C, off, f));
        off += f.len() as u64;
    }
    ws.conv.advance(C, off - o);
    ws.pk.push(segs[1].clone());
    ws.pk.push(segs[2].clone());
    ws.pk.push(segs[0].clone());
    // A server frame whose tail segment arrives before its head.
    let f = encode(vec![text("a reply split in two, tail first")]);
    let o = ws.conv.next_offset(S);
    let head = ws.conv.segment(S, o, &f[..10]);
    let tail = ws.conv.segment(S, o + 10, &f[10..]);
    ws.conv.advance(S, f.len() as u64);
    ws.pk.push(tail);
    ws.pk.push(head);
    ws.goodbye();
    ws.done()
}

fn tcp_retransmitted() -> Packets {
    let mut ws = Ws::new("10.0.2.1:51002", "10.0.2.2:80");
    ws.open().upgrade("/retransmit", "", "");
    let f = text("sent twice").masked([9, 9, 9, 9]).encode().expect("frame");
    let o = ws.conv.next_offset(C);
    let seg = ws.conv.segment(C, o, &f);
    ws.conv.advance(C, f.len() as u64);
    ws.pk.push(seg.clone());
    ws.pk.push(seg);
    let f = encode(vec![text("original content")]);
    let o = ws.conv.next_offset(S);
    let seg = ws.conv.segment(S, o, &f);
    let mut other = f.clone();
    other[2..10].copy_from_slice(b"CHANGED!");
    let conflicting = ws.conv.segment(S, o, &other);
    ws.conv.advance(S, f.len() as u64);
    ws.pk.push(seg);
    ws.pk.push(conflicting);
    ws.cf(vec![text("after the retransmissions")]);
    ws.goodbye();
    ws.done()
}

fn tcp_overlapping() -> Packets {
    let mut ws = Ws::new("10.0.3.1:51003", "10.0.3.2:80");
    ws.open().upgrade("/overlap", "", "");
    let f =
        text("one frame carried by three overlapping segments").masked([4, 3, 2, 1]).encode().expect("frame");
    let o = ws.conv.next_offset(C);
    let a = ws.conv.segment(C, o, &f[..30]);
    let b = ws.conv.segment(C, o + 20, &f[20..45]);
    let c = ws.conv.segment(C, o + 40, &f[40..]);
    ws.conv.advance(C, f.len() as u64);
    ws.pk.push(a);
    ws.pk.push(c);
    ws.pk.push(b);
    ws.sf(vec![text("got it")]);
    ws.goodbye();
    ws.done()
}

fn tcp_lost() -> Packets {
    let mut ws = Ws::new("10.0.4.1:51004", "10.0.4.2:80");
    ws.open().upgrade("/lossy", "", "");
    // A 3000-byte binary frame in three segments; the middle one is lost.
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let f = encode(vec![FrameSpec::new(OpCode::BINARY, payload)]);
    let o = ws.conv.next_offset(S);
    let parts = [&f[..1000], &f[1000..2000], &f[2000..]];
    let mut off = o;
    let mut segs = Vec::new();
    for p in parts {
        segs.push(ws.conv.segment(S, off, p));
        off += p.len() as u64;
    }
    ws.conv.advance(S, f.len() as u64);
    ws.pk.push(segs[0].clone());
    ws.pk.push(segs[2].clone());
    let p = ws.conv.ack(C);
    ws.pk.push(p);
    ws.sf(vec![text("after the first hole")]);
    // A lost segment holding the end of one frame and the start of the next.
    let frames = encode(vec![text("this frame loses its tail"), text("this one loses its head")]);
    let o = ws.conv.next_offset(S);
    let cut1 = 12;
    let cut2 = frames.len() - 8;
    let first = ws.conv.segment(S, o, &frames[..cut1]);
    let last = ws.conv.segment(S, o + cut2 as u64, &frames[cut2..]);
    ws.conv.advance(S, frames.len() as u64);
    ws.pk.push(first);
    ws.pk.push(last);
    ws.sf(vec![text("resync one"), text("resync two"), text("resync three")]);
    let p = ws.conv.ack(C);
    ws.pk.push(p);
    ws.cf(vec![text("client still here")]);
    ws.goodbye();
    ws.done()
}

fn mid_stream() -> Packets {
    let mut ws = Ws::new("10.0.5.1:51005", "10.0.5.2:9000");
    ws.open().upgrade("/hidden", "", "");
    // The tail of a frame the capture missed.
    let long = encode(vec![text(&"x".repeat(100))]);
    ws.s(&long);
    let mut pk = Packets::default();
    let tail = ws.conv.segment(S, ws.conv.next_offset(S) - 40, &long[long.len() - 40..]);
    pk.push(tail);
    ws.pk = Packets::default();
    ws.sf(vec![text("tick 1")]);
    ws.cf(vec![text("subscribe")]);
    ws.sf(vec![text("tick 2"), text("tick 3")]);
    ws.cf(vec![FrameSpec::new(OpCode::PING, b"hb".to_vec())]);
    ws.sf(vec![FrameSpec::new(OpCode::PONG, b"hb".to_vec())]);
    ws.cf(vec![text("unsubscribe")]);
    ws.sf(vec![text("tick 4")]);
    ws.goodbye();
    pk.append(ws.done());
    pk
}

fn snaplen() -> Vec<u8> {
    let mut ws = Ws::new("10.0.6.1:51006", "10.0.6.2:80");
    ws.open().upgrade("/cut", "", "");
    ws.cf(vec![text("small before")]);
    ws.sf(vec![FrameSpec::new(OpCode::BINARY, vec![0xab; 1200])]);
    ws.cf(vec![FrameSpec::new(OpCode::TEXT, "y".repeat(500).into_bytes())]);
    ws.sf(vec![text("small after")]);
    ws.goodbye();
    let snap = 320usize;
    let mut pk = ws.done();
    for p in &mut pk.0 {
        p.orig = p.data.len() as u32;
        p.data.truncate(snap);
    }
    pk.pcap_with(PcapOptions { snaplen: snap as u32, ..PcapOptions::default() })
}

fn truncated() -> Vec<u8> {
    let mut ws = Ws::new("10.0.7.1:51007", "10.0.7.2:80");
    ws.open().upgrade("/truncated", "", "");
    ws.cf(vec![text("decoded before the cut")]);
    ws.sf(vec![text("also decoded")]);
    ws.cf(vec![text("this packet's record is cut in the middle")]);
    let mut bytes = ws.done().pcap(LinkType::ETHERNET);
    bytes.truncate(bytes.len() - 30);
    bytes
}

fn pcapng_multi() -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new()).expect("in memory");
    let eth = w.add_interface(LinkType::ETHERNET, 65535).expect("iface");
    let sll2 = w.add_interface_with_tsresol(LinkType::LINUX_SLL2, 65535, 9).expect("iface");
    let odd = w.add_interface(LinkType(147), 65535).expect("iface");
    let a = small_session("10.1.0.1:52000", "10.1.0.2:80", SynthLink::Ethernet);
    let b = small_session("10.2.0.1:52001", "10.2.0.2:8080", SynthLink::Sll2);
    let mut t = T0;
    let (mut ia, mut ib) = (a.0.iter(), b.0.iter());
    loop {
        let (pa, pb) = (ia.next(), ib.next());
        if pa.is_none() && pb.is_none() {
            break;
        }
        if let Some(p) = pa {
            w.write_packet(eth, t, &p.data, p.orig).expect("packet");
            t += STEP;
        }
        if let Some(p) = pb {
            w.write_packet(sll2, t + 123, &p.data, p.orig).expect("packet");
            t += STEP;
        }
    }
    w.write_packet(odd, t, b"\x01\x02\x03\x04 user link type", 20).expect("packet");
    w.new_section().expect("section");
    w.add_interface(LinkType::RAW, 65535).expect("iface");
    let c = small_session("10.3.0.1:52002", "10.3.0.2:80", SynthLink::RawIp);
    for p in &c.0 {
        w.write_simple_packet(&p.data, p.orig).expect("packet");
    }
    w.into_inner()
}

fn deflate_session(port: u16, offer: &str, answer: &str, client: (u8, bool), server: (u8, bool)) -> Packets {
    let mut ws = Ws::new(&format!("10.0.8.1:{port}"), "10.0.8.2:80");
    ws.open().upgrade(
        "/deflate",
        &format!("Sec-WebSocket-Extensions: {offer}\r\n"),
        &format!("Sec-WebSocket-Extensions: {answer}\r\n"),
    );
    let mut dc = Deflater::new(client.0, client.1);
    let mut ds = Deflater::new(server.0, server.1);
    for i in 1..=3 {
        let msg =
            format!("{{\"seq\":{i},\"topic\":\"prices\",\"symbol\":\"WSP\",\"bid\":101.25,\"ask\":101.5}}");
        let z = dc.compress_message(msg.as_bytes());
        ws.cf(vec![FrameSpec::new(OpCode::TEXT, z).rsv(4)]);
        let z = ds.compress_message(msg.as_bytes());
        ws.sf(vec![FrameSpec::new(OpCode::TEXT, z).rsv(4)]);
    }
    // Control frames are never compressed.
    ws.cf(vec![FrameSpec::new(OpCode::PING, b"still there?".to_vec())]);
    ws.sf(vec![FrameSpec::new(OpCode::PONG, b"still there?".to_vec())]);
    ws.goodbye();
    ws.done()
}

fn deflate_takeover() -> Packets {
    deflate_session(
        51008,
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate",
        (15, false),
        (15, false),
    )
}

fn deflate_no_takeover() -> Packets {
    deflate_session(
        51009,
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits",
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=10; server_max_window_bits=12",
        (10, true),
        (12, true),
    )
}

fn deflate_fragmented() -> Packets {
    let mut ws = Ws::new("10.0.9.1:51010", "10.0.9.2:80");
    ws.open().upgrade(
        "/deflate-frag",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    );
    let msg = "A compressed message that travels in three fragments, with a ping in between. ".repeat(3);
    for side in [C, S] {
        let z = Deflater::new(15, false).compress_message(msg.as_bytes());
        let n = z.len() / 3;
        let specs = vec![
            FrameSpec::new(OpCode::TEXT, z[..n].to_vec()).rsv(4).fin(false),
            FrameSpec::new(OpCode::CONTINUATION, z[n..2 * n].to_vec()).fin(false),
            FrameSpec::new(OpCode::PING, b"between".to_vec()),
            FrameSpec::new(OpCode::CONTINUATION, z[2 * n..].to_vec()),
        ];
        if side == C {
            ws.cf(specs);
            ws.sf(vec![FrameSpec::new(OpCode::PONG, b"between".to_vec())]);
        } else {
            ws.sf(specs);
            ws.cf(vec![FrameSpec::new(OpCode::PONG, b"between".to_vec())]);
        }
    }
    ws.goodbye();
    ws.done()
}

fn upgrade_rejected() -> Packets {
    let mut ws = Ws::new("10.0.10.1:51011", "10.0.10.2:80");
    ws.open();
    ws.c(request("/private", "").as_bytes());
    ws.s(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nforbidden\n");
    ws.fins();
    let mut pk = ws.done();
    let mut ws = Ws::new("10.0.10.1:51012", "10.0.10.2:80");
    ws.open();
    ws.c(request("/login-first", "").as_bytes());
    ws.s(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\nContent-Length: 0\r\n\r\n");
    ws.upgrade("/login-first", "Authorization: Basic dXNlcjpwYXNz\r\n", "");
    ws.cf(vec![text("authorised at last")]);
    ws.goodbye();
    pk.append(ws.done());
    pk
}

fn http_before() -> Packets {
    let mut ws = Ws::new("10.0.11.1:51013", "10.0.11.2:8443");
    ws.open();
    ws.c(b"GET /index.html HTTP/1.1\r\nHost: ws.example.test\r\n\r\n");
    ws.s(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 26\r\n\r\n<html>chat page</html>\r\n\r\n");
    ws.c(b"POST /api/login HTTP/1.1\r\nHost: ws.example.test\r\nContent-Length: 13\r\n\r\nuser=somebody");
    ws.s(b"HTTP/1.1 204 No Content\r\n\r\n");
    ws.upgrade("/live", "", "");
    ws.sf(vec![text("welcome")]);
    ws.cf(vec![text("thanks")]);
    ws.goodbye();
    ws.done()
}

fn first_frame_in_101() -> Packets {
    let mut ws = Ws::new("10.0.12.1:51014", "10.0.12.2:80");
    ws.open();
    ws.c(request("/eager", "").as_bytes());
    let mut seg = switching("").into_bytes();
    seg.extend(encode(vec![
        text("first frame, same segment as the 101"),
        FrameSpec::new(OpCode::PING, b"hi".to_vec()),
    ]));
    ws.s(&seg);
    ws.cf(vec![FrameSpec::new(OpCode::PONG, b"hi".to_vec())]);
    ws.goodbye();
    ws.done()
}

fn not_websocket() -> Packets {
    let mut pk = Packets::default();
    let mut ssh = Ws::new("10.0.13.1:51015", "10.0.13.2:22");
    ssh.open();
    ssh.s(b"SSH-2.0-Example_1.0\r\n");
    ssh.c(b"SSH-2.0-Client_2.0\r\n");
    let mut kex = vec![0, 0, 1, 4, 6, 20];
    kex.extend((0..16).map(|i| i * 17));
    for name in ["curve25519-sha256", "ssh-ed25519", "aes128-ctr", "hmac-sha2-256", "none"] {
        kex.extend((name.len() as u32).to_be_bytes());
        kex.extend(name.as_bytes());
    }
    kex.extend([0u8; 40]);
    ssh.s(&kex);
    ssh.c(&kex);
    ssh.fins();
    pk.append(ssh.done());
    let mut bin = Ws::new("10.0.13.1:51016", "10.0.13.2:5555");
    bin.open();
    for i in 0..20u8 {
        let rec: Vec<u8> = [2u8, 4 + i % 3].iter().copied().chain((0..4 + i % 3).map(|j| j ^ i)).collect();
        if i % 2 == 0 {
            bin.c(&rec);
        } else {
            bin.s(&rec);
        }
    }
    bin.fins();
    pk.append(bin.done());
    let mut http = Ws::new("10.0.13.1:51017", "10.0.13.2:80");
    http.open();
    http.c(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n");
    http.s(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    http.fins();
    pk.append(http.done());
    pk
}

fn violations_framing() -> Packets {
    let mut ws = Ws::new("10.0.14.1:51018", "10.0.14.2:80");
    ws.open().upgrade("/framing", "", "");
    ws.cf(vec![FrameSpec::new(OpCode(0x3), b"reserved".to_vec())]);
    ws.cf(vec![text("rsv2 set").rsv(2)]);
    ws.cf(vec![text("short").length_form(LengthForm::Ext16)]);
    ws.c(&encode(vec![text("not masked")]));
    ws.sf(vec![text("masked by the server").masked([1, 1, 1, 1])]);
    ws.sf(vec![FrameSpec::new(OpCode(0xB), Vec::new())]);
    ws.sf(vec![text("fine")]);
    // A 64-bit length with its most significant bit set (the frame never ends).
    ws.s(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
    ws.fins();
    ws.done()
}

fn violations_control() -> Packets {
    let mut ws = Ws::new("10.0.15.1:51019", "10.0.15.2:80");
    ws.open().upgrade("/control", "", "");
    ws.cf(vec![FrameSpec::new(OpCode::PING, vec![b'p'; 126])]);
    ws.sf(vec![FrameSpec::new(OpCode::PONG, vec![b'p'; 126])]);
    ws.cf(vec![FrameSpec::new(OpCode::PING, b"fragmented".to_vec()).fin(false)]);
    ws.cf(vec![FrameSpec::new(OpCode::CONTINUATION, b"orphan".to_vec())]);
    ws.cf(vec![text("first half ").fin(false), text("a new message")]);
    ws.goodbye();
    ws.done()
}

fn violations_close() -> Packets {
    let mut ws = Ws::new("10.0.16.1:51020", "10.0.16.2:80");
    ws.open().upgrade("/close", "", "");
    ws.cf(vec![FrameSpec::new(OpCode::CLOSE, vec![0x03])]);
    ws.cf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(1005, b""))]);
    ws.cf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"bad \xff reason"))]);
    ws.cf(vec![text("data after close")]);
    ws.sf(vec![FrameSpec::new(OpCode::CLOSE, close_payload(999, b""))]);
    ws.fins();
    ws.done()
}

fn violations_utf8() -> Packets {
    let mut ws = Ws::new("10.0.17.1:51021", "10.0.17.2:80");
    ws.open().upgrade("/utf8", "", "");
    ws.cf(vec![FrameSpec::new(OpCode::TEXT, b"caf\xc3\x28".to_vec())]);
    ws.sf(vec![
        FrameSpec::new(OpCode::TEXT, b"split \xe2\x82".to_vec()).fin(false),
        FrameSpec::new(OpCode::CONTINUATION, b"\x41 broken".to_vec()),
    ]);
    ws.sf(vec![FrameSpec::new(OpCode::TEXT, b"ends inside \xf0\x9f\x98".to_vec())]);
    ws.sf(vec![text("valid: κόσμε")]);
    ws.goodbye();
    ws.done()
}

/// One connection per broken request rule, each refused with 400.
fn violations_request() -> Packets {
    let good = "Host: ws.example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let cases: Vec<String> = vec![
        format!("POST /m HTTP/1.1\r\n{good}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        format!("GET /v HTTP/1.0\r\n{good}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        format!(
            "GET /h HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
        format!(
            "GET /c HTTP/1.1\r\nHost: ws.example.test\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
        format!("GET /k HTTP/1.1\r\n{good}Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        format!("GET /n HTTP/1.1\r\n{good}Sec-WebSocket-Key: {KEY}\r\n\r\n"),
        format!(
            "GET /p HTTP/1.1\r\n{good}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, chat\r\n\r\n"
        ),
        format!(
            "GET /r HTTP/1.1\r\n{good}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
        format!(
            "GET /e HTTP/1.1\r\n{good}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate;;\r\n\r\n"
        ),
        format!(
            "GET /t#fragment HTTP/1.1\r\n{good}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
    ];
    let mut pk = Packets::default();
    for (i, req) in cases.iter().enumerate() {
        let mut ws = Ws::new(&format!("10.0.18.1:{}", 52100 + i), "10.0.18.2:80");
        ws.open();
        ws.c(req.as_bytes());
        ws.s(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        ws.fins();
        pk.append(ws.done());
    }
    pk
}

/// One connection per broken response rule.
fn violations_response() -> Packets {
    let accept = accept_key(KEY);
    let plain = request("/ok", "");
    let cases: Vec<(String, String)> = vec![
        (plain.clone(), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into()),
        (plain.clone(), format!("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")),
        (plain.clone(), format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")),
        (plain.clone(), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n".into()),
        (plain.clone(), switching("Sec-WebSocket-Extensions: x-custom-extension\r\n")),
        (request("/proto", "Sec-WebSocket-Protocol: chat\r\n"), switching("Sec-WebSocket-Protocol: superchat\r\n")),
        (request("/old", "").replace("Version: 13", "Version: 8"), "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".into()),
        (request("/bad", "").replace("Host: ws.example.test\r\n", ""), switching("")),
        (plain, "HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n".into()),
    ];
    let mut pk = Packets::default();
    for (i, (req, resp)) in cases.iter().enumerate() {
        let mut ws = Ws::new(&format!("10.0.19.1:{}", 52200 + i), "10.0.19.2:80");
        ws.open();
        ws.c(req.as_bytes());
        ws.s(resp.as_bytes());
        ws.fins();
        pk.append(ws.done());
    }
    pk
}

fn violations_deflate() -> Packets {
    let mut pk = Packets::default();
    // The server answers with an invalid parameter value.
    let mut ws = Ws::new("10.0.20.1:52300", "10.0.20.2:80");
    ws.open().upgrade(
        "/pmd-param",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n",
    );
    ws.fins();
    pk.append(ws.done());
    // The server sets client_max_window_bits the client did not offer.
    let mut ws = Ws::new("10.0.20.1:52301", "10.0.20.2:80");
    ws.open().upgrade(
        "/pmd-mismatch",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n",
    );
    ws.fins();
    pk.append(ws.done());
    // Negotiated correctly, then misused.
    let mut ws = Ws::new("10.0.20.1:52302", "10.0.20.2:80");
    ws.open().upgrade(
        "/pmd-frames",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    );
    ws.cf(vec![FrameSpec::new(OpCode::PING, b"compressed?".to_vec()).rsv(4)]);
    let z = Deflater::new(15, false).compress_message(b"two fragments, both flagged");
    let n = z.len() / 2;
    ws.cf(vec![
        FrameSpec::new(OpCode::TEXT, z[..n].to_vec()).rsv(4).fin(false),
        FrameSpec::new(OpCode::CONTINUATION, z[n..].to_vec()).rsv(4),
    ]);
    ws.sf(vec![FrameSpec::new(OpCode::BINARY, vec![0xff; 16]).rsv(4)]);
    ws.goodbye();
    pk.append(ws.done());
    // A 512-byte server window agreed, a 32 KiB window used: a back-reference of 2000 bytes.
    let mut ws = Ws::new("10.0.20.1:52303", "10.0.20.2:80");
    ws.open().upgrade(
        "/pmd-window",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n",
    );
    let block: Vec<u8> = (0..2000u32).map(|i| b'a' + (i.wrapping_mul(2_654_435_761) >> 28) as u8).collect();
    let twice = [block.as_slice(), block.as_slice()].concat();
    let z = Deflater::new(15, false).compress_message(&twice);
    ws.sf(vec![FrameSpec::new(OpCode::TEXT, z).rsv(4)]);
    ws.goodbye();
    pk.append(ws.done());
    // server_no_context_takeover agreed, context kept: the second message refers to the first.
    let mut ws = Ws::new("10.0.20.1:52304", "10.0.20.2:80");
    ws.open().upgrade(
        "/pmd-context",
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
    );
    let mut z = Deflater::new(15, false);
    let first = z.compress_message(&block);
    let second = z.compress_message(&block);
    ws.sf(vec![FrameSpec::new(OpCode::TEXT, first).rsv(4)]);
    ws.sf(vec![FrameSpec::new(OpCode::TEXT, second).rsv(4)]);
    ws.goodbye();
    pk.append(ws.done());
    pk
}

fn limit_inflate() -> Packets {
    let mut ws = Ws::new("10.0.21.1:52400", "10.0.21.2:80");
    ws.open().upgrade(
        "/bomb",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    );
    let z = Deflater::new(15, false).compress_message(&vec![0u8; 2 << 20]);
    ws.sf(vec![FrameSpec::new(OpCode::BINARY, z).rsv(4)]);
    ws.sf(vec![text("after the bomb")]);
    ws.goodbye();
    ws.done()
}

/// captures/README.md: every file and what it shows.
pub fn readme(all: &[Fixture]) -> String {
    let mut s = String::from(
        "# Fixture captures\n\n\
         Made by `cargo run -p wsprobe-dissect --example make-captures` (source:\n\
         `crates/dissect/examples/make-captures/fixtures.rs`); deterministic, so the\n\
         `captures` test of wsprobe-dissect regenerates them in memory and checks these\n\
         bytes. Their transcripts are snapshot-tested in\n\
         `crates/dissect/tests/snapshots/`. Do not edit them by hand: change the\n\
         generator and run it again.\n\n\
         Every packet is stamped 1 ms after the previous one, from 2023-11-14T22:13:20Z;\n\
         all handshakes use the key `dGhlIHNhbXBsZSBub25jZQ==`.\n\n\
         | file | bytes | what it shows |\n|---|---|---|\n",
    );
    for f in all {
        s.push_str(&format!("| `{}` | {} | {} |\n", f.name, f.bytes.len(), f.shows));
    }
    s.push_str(
        "\nRules of `wsprobe_wire::Rule::ALL` that no capture here shows, and why:\n\n\
         - `hs.request-upgrade`: a request whose Upgrade field does not name websocket is\n  \
           not an upgrade request at all, so a capture shows it as plain HTTP.\n\
         - `pong.payload-mismatch`, `ping.unanswered`, `close.not-answered`,\n  \
           `close.server-tcp-not-closed`: judged by the conformance tester, which knows what\n  \
           it sent and waits for the answer; in a capture an unsolicited Pong, a Pong still in\n  \
           flight or a capture that ends early look the same, so the dissector does not judge them.\n\
         - `mask.key-predictable`, `hs.request-key-reused`: judged by `wsprobe serve` over all\n  \
           of a client's frames and connections (repeated keys, reused nonces).\n",
    );
    s
}
