//! Writes a large synthetic capture for benchmarking `wsprobe dissect` (used by
//! `scripts/bench-dissect.sh`):
//!
//! ```text
//! cargo run --release -p wsprobe-dissect --example bench_capture -- \
//!     OUT.pcap SIZE_MB [SEED] [--kind mixed|small|plain]
//! ```
//!
//! Every capture is classic pcap, Ethernet, nanosecond timestamps, of about
//! SIZE_MB megabytes; the kind (default `mixed`) chooses the traffic:
//!
//! - `mixed`: many WebSocket sessions, 48 of them open at any time with their
//!   packets interleaved. Each session has a TCP handshake, an HTTP upgrade
//!   (half of the sessions negotiate permessage-deflate), then turns of
//!   messages: small and medium text, binary up to 256 KiB (16- and 64-bit
//!   lengths, many TCP segments), fragmented messages, compressed messages
//!   (some of them fragmented), ping/pong; client frames are masked. Sessions
//!   end with a closing handshake and FINs.
//! - `small`: a small-frame workload: 200 WebSocket sessions open at any time
//!   (about 12 sessions and 7,000 messages per MB), no compression. Each
//!   session makes 200 to 380 round trips: the client sends one masked text or
//!   binary message of 2 to 120 bytes, the server echoes it, one frame per TCP
//!   segment (a quarter of the echoes get a pure ACK from the client).
//! - `plain`: TCP connections that are neither WebSocket nor HTTP (ports
//!   47000-47007), 8 open at any time, each carrying 800 KB of random bytes in
//!   100-byte segments, bursts of 1 to 8 segments either way, each burst acked
//!   by the peer: what traffic without WebSocket costs the dissector.
//!
//! Payload bytes are pseudo-random text or binary from a fixed seed, so the
//! file is the same for the same arguments.
//!
//! The last stdout line is machine-readable (`sessions` counts TCP
//! connections for `plain`; `frames` and `messages` are WebSocket ones):
//! `bench_capture: bytes=N packets=N sessions=N frames=N messages=N`.

use std::fs::File;
use std::io::BufWriter;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use wsprobe_flow::{PcapOptions, PcapWriter, Side, TcpConversation};
use wsprobe_wire::OpCode;
use wsprobe_wire::deflate::Deflater;
use wsprobe_wire::encode::{FrameSpec, close_payload};
use wsprobe_wire::handshake::accept_key;

/// TCP payload bytes per segment (Ethernet MSS with timestamps).
const MSS: usize = 1448;
/// Sessions open at once (`mixed`).
const CONCURRENT: usize = 48;
/// Turns (one to four messages each way) per session (`mixed`).
const TURNS: u32 = 30;
/// Sessions open at once (`small`).
const SMALL_CONCURRENT: usize = 200;
/// Round trips per session (`small`), inclusive range.
const SMALL_ROUNDS: (usize, usize) = (200, 380);
/// Connections open at once (`plain`).
const PLAIN_CONCURRENT: usize = 8;
/// Payload bytes per connection, both directions together (`plain`).
const PLAIN_BYTES: u32 = 800_000;
/// TCP payload bytes per segment (`plain`).
const PLAIN_SEGMENT: usize = 100;

/// The kind of capture written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mixed,
    Small,
    Plain,
}

/// xorshift64*: a small deterministic generator, good enough for payloads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let v = self.next().to_le_bytes();
        rest.copy_from_slice(&v[..rest.len()]);
    }
}

const WORDS: &[&str] = &[
    "order",
    "price",
    "quote",
    "symbol",
    "volume",
    "status",
    "update",
    "ticker",
    "bid",
    "ask",
    "session",
    "channel",
    "subscribe",
    "event",
    "payload",
    "sequence",
    "timestamp",
    "market",
    "{\"id\":",
    "\"ok\":true,",
    "\"data\":[",
    "],",
    "}",
    "null",
    "42",
    "1.25",
    "EURUSD",
];

/// Text of exactly `len` bytes made of words (compressible, like JSON feeds).
fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        v.extend_from_slice(w.as_bytes());
        v.push(b' ');
    }
    v.truncate(len);
    v
}

fn binary(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Counters printed at the end.
#[derive(Default)]
struct Stats {
    packets: u64,
    sessions: u64,
    frames: u64,
    messages: u64,
}

/// One session being written.
struct Sess {
    conv: TcpConversation,
    /// Per direction (client, server): compressors when deflate was negotiated.
    deflate: Option<[Deflater; 2]>,
    /// What is left to send: turns (`mixed`), round trips (`small`), payload
    /// bytes (`plain`).
    left: u32,
    /// Encoded frames not yet cut into segments, per direction.
    pending: [Vec<u8>; 2],
}

struct Gen<W: std::io::Write> {
    w: PcapWriter<W>,
    rng: Rng,
    ts: i64,
    frame: Vec<u8>,
    stats: Stats,
    bytes: u64,
}

fn dir_ix(side: Side) -> usize {
    match side {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

impl<W: std::io::Write> Gen<W> {
    fn packet(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.ts += 1_000 + self.rng.below(20_000) as i64;
        self.w.write_packet(self.ts, data, data.len() as u32)?;
        self.stats.packets += 1;
        self.bytes += 16 + data.len() as u64;
        Ok(())
    }

    /// Sends `side`'s pending bytes as MSS-sized segments; the peer acks the
    /// last one.
    fn flush(&mut self, s: &mut Sess, side: Side) -> std::io::Result<()> {
        let buf = std::mem::take(&mut s.pending[dir_ix(side)]);
        for chunk in buf.chunks(MSS) {
            let mut frame = std::mem::take(&mut self.frame);
            s.conv.send_into(side, chunk, &mut frame);
            self.packet(&frame)?;
            self.frame = frame;
        }
        if !buf.is_empty() {
            let ack = s.conv.ack(side.other());
            self.packet(&ack)?;
        }
        let mut buf = buf;
        buf.clear();
        s.pending[dir_ix(side)] = buf;
        Ok(())
    }

    /// Appends one message from `side` as `nfrag` frames (compressed when the
    /// session negotiated deflate and `compress`).
    fn message(
        &mut self,
        s: &mut Sess,
        side: Side,
        op: OpCode,
        payload: Vec<u8>,
        nfrag: usize,
        compress: bool,
    ) {
        let (body, rsv1) = match (&mut s.deflate, compress) {
            (Some(d), true) => (d[dir_ix(side)].compress_message(&payload), true),
            _ => (payload, false),
        };
        let nfrag = nfrag.clamp(1, body.len().max(1));
        let step = body.len().div_ceil(nfrag).max(1);
        let mut parts: Vec<&[u8]> = body.chunks(step).collect();
        if parts.is_empty() {
            parts.push(&[]);
        }
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let opcode = if i == 0 { op } else { OpCode::CONTINUATION };
            let rsv = if i == 0 && rsv1 { 4 } else { 0 };
            let mut spec = FrameSpec::new(opcode, part.to_vec()).fin(i + 1 == n).rsv(rsv);
            if side == Side::Initiator {
                spec = spec.masked((self.rng.next() as u32).to_be_bytes());
            }
            // Lengths always fit the chosen form: encoding cannot fail.
            let _ = spec.encode_into(&mut s.pending[dir_ix(side)]);
            self.stats.frames += 1;
        }
        self.stats.messages += 1;
    }

    fn control(&mut self, s: &mut Sess, side: Side, op: OpCode, payload: Vec<u8>) {
        let mut spec = FrameSpec::new(op, payload);
        if side == Side::Initiator {
            spec = spec.masked((self.rng.next() as u32).to_be_bytes());
        }
        let _ = spec.encode_into(&mut s.pending[dir_ix(side)]);
        self.stats.frames += 1;
        self.stats.messages += 1;
    }

    /// Opens session `n`: TCP handshake and HTTP upgrade, negotiating
    /// permessage-deflate when `deflate`.
    fn upgrade(&mut self, n: u64, deflate: bool, left: u32) -> std::io::Result<Sess> {
        let client = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8),
            (20_000 + n % 40_000) as u16,
        ));
        let server = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(192, 0, 2, 1 + (n % 8) as u8),
            if n.is_multiple_of(3) { 8080 } else { 80 },
        ));
        let mut conv =
            TcpConversation::new(client, server).with_isns(self.rng.next() as u32, self.rng.next() as u32);
        for p in conv.handshake() {
            self.packet(&p)?;
        }
        let mut keyb = [0u8; 16];
        self.rng.fill(&mut keyb);
        let key = b64(&keyb);
        let mut req = format!(
            "GET /feed/{n} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if deflate {
            req.push_str("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        }
        req.push_str("\r\n");
        let mut resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n",
            accept_key(&key)
        );
        if deflate {
            resp.push_str("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        }
        resp.push_str("\r\n");
        let p = conv.send(Side::Initiator, req.as_bytes());
        self.packet(&p)?;
        let p = conv.send(Side::Responder, resp.as_bytes());
        self.packet(&p)?;
        self.stats.sessions += 1;
        Ok(Sess {
            conv,
            deflate: deflate.then(|| [Deflater::new(15, false), Deflater::new(15, false)]),
            left,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// A `mixed` session: half of them negotiate permessage-deflate.
    fn open_mixed(&mut self, n: u64) -> std::io::Result<Sess> {
        self.upgrade(n, n.is_multiple_of(2), TURNS)
    }

    /// A `mixed` step: one turn.
    fn step_mixed(&mut self, s: &mut Sess) -> std::io::Result<()> {
        s.left -= 1;
        self.turn(s)
    }

    /// A `small` session: no compression.
    fn open_small(&mut self, n: u64) -> std::io::Result<Sess> {
        let rounds = self.rng.range(SMALL_ROUNDS.0, SMALL_ROUNDS.1) as u32;
        self.upgrade(n, false, rounds)
    }

    /// Sends `side`'s pending bytes (one small frame) as one segment, not acked:
    /// the peer's next segment acknowledges it.
    fn push(&mut self, s: &mut Sess, side: Side) -> std::io::Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        s.conv.send_into(side, &s.pending[dir_ix(side)], &mut frame);
        s.pending[dir_ix(side)].clear();
        self.packet(&frame)?;
        self.frame = frame;
        Ok(())
    }

    /// A `small` step: one round trip, a small message and its echo.
    fn step_small(&mut self, s: &mut Sess) -> std::io::Result<()> {
        s.left -= 1;
        let len = self.rng.range(2, 120);
        let (op, payload) = if self.rng.below(2) == 0 {
            (OpCode::TEXT, text(&mut self.rng, len))
        } else {
            (OpCode::BINARY, binary(&mut self.rng, len))
        };
        self.message(s, Side::Initiator, op, payload.clone(), 1, false);
        self.push(s, Side::Initiator)?;
        self.message(s, Side::Responder, op, payload, 1, false);
        self.push(s, Side::Responder)?;
        if self.rng.below(4) == 0 {
            let ack = s.conv.ack(Side::Initiator);
            self.packet(&ack)?;
        }
        Ok(())
    }

    /// A `plain` connection: TCP handshake only, ports that are neither HTTP nor
    /// WebSocket.
    fn open_plain(&mut self, n: u64) -> std::io::Result<Sess> {
        let client = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, 128 | (n >> 16) as u8, (n >> 8) as u8, n as u8),
            (30_000 + n % 10_000) as u16,
        ));
        let server = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(198, 51, 100, 1 + (n % 8) as u8),
            47_000 + (n % 8) as u16,
        ));
        let mut conv =
            TcpConversation::new(client, server).with_isns(self.rng.next() as u32, self.rng.next() as u32);
        for p in conv.handshake() {
            self.packet(&p)?;
        }
        self.stats.sessions += 1;
        Ok(Sess { conv, deflate: None, left: PLAIN_BYTES, pending: [Vec::new(), Vec::new()] })
    }

    /// A `plain` step: one side sends a burst of 1 to 8 segments of random
    /// bytes, the peer acks it.
    fn step_plain(&mut self, s: &mut Sess) -> std::io::Result<()> {
        let side = if self.rng.below(2) == 0 { Side::Initiator } else { Side::Responder };
        let mut seg = [0u8; PLAIN_SEGMENT];
        for _ in 0..self.rng.range(1, 8) {
            if s.left == 0 {
                break;
            }
            let n = PLAIN_SEGMENT.min(s.left as usize);
            self.rng.fill(&mut seg[..n]);
            s.left -= n as u32;
            let mut frame = std::mem::take(&mut self.frame);
            s.conv.send_into(side, &seg[..n], &mut frame);
            self.packet(&frame)?;
            self.frame = frame;
        }
        let ack = s.conv.ack(side.other());
        self.packet(&ack)
    }

    /// Ends a `plain` connection: FINs both ways and the last ACK.
    fn close_plain(&mut self, s: &mut Sess) -> std::io::Result<()> {
        let p = s.conv.fin(Side::Initiator);
        self.packet(&p)?;
        let p = s.conv.fin(Side::Responder);
        self.packet(&p)?;
        let p = s.conv.ack(Side::Initiator);
        self.packet(&p)
    }

    /// Opens connections (`open`), runs `step` on a random open one, closes
    /// (`close`) those with nothing left, and stops opening new ones once the
    /// capture reaches `target` bytes (then closes every open one).
    fn run(
        &mut self,
        target: u64,
        concurrent: usize,
        open: fn(&mut Self, u64) -> std::io::Result<Sess>,
        step: fn(&mut Self, &mut Sess) -> std::io::Result<()>,
        close: fn(&mut Self, &mut Sess) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut live: Vec<Sess> = Vec::with_capacity(concurrent);
        let mut next_id = 0u64;
        loop {
            while live.len() < concurrent && self.bytes < target {
                next_id += 1;
                let s = open(self, next_id)?;
                live.push(s);
            }
            if live.is_empty() {
                return Ok(());
            }
            let i = self.rng.below(live.len() as u64) as usize;
            let mut s = live.swap_remove(i);
            if s.left == 0 || self.bytes >= target {
                close(self, &mut s)?;
            } else {
                step(self, &mut s)?;
                live.push(s);
            }
        }
    }

    /// One turn: the client sends one to four messages, then the server
    /// one to four.
    fn turn(&mut self, s: &mut Sess) -> std::io::Result<()> {
        let pmd = s.deflate.is_some();
        for side in [Side::Initiator, Side::Responder] {
            let count = self.rng.range(1, 4);
            for _ in 0..count {
                let roll = self.rng.below(100);
                match roll {
                    // Small text (7-bit length), compressed when negotiated.
                    0..=43 => {
                        let len = self.rng.range(8, 125);
                        let t = text(&mut self.rng, len);
                        self.message(s, side, OpCode::TEXT, t, 1, pmd);
                    }
                    // Medium text, 16-bit length, sometimes fragmented.
                    44..=63 => {
                        let len = self.rng.range(200, 12_000);
                        let t = text(&mut self.rng, len);
                        let frags = if roll < 52 { self.rng.range(2, 6) } else { 1 };
                        self.message(s, side, OpCode::TEXT, t, frags, pmd);
                    }
                    // Medium binary, never compressed.
                    64..=83 => {
                        let len = self.rng.range(126, 16_000);
                        let b = binary(&mut self.rng, len);
                        self.message(s, side, OpCode::BINARY, b, 1, false);
                    }
                    // Large binary (64-bit length), mostly from the server.
                    84..=87 => {
                        let len = self.rng.range(65_536, 262_144);
                        let b = binary(&mut self.rng, len);
                        let frags = if roll == 84 { 4 } else { 1 };
                        self.message(s, side, OpCode::BINARY, b, frags, false);
                    }
                    // Large compressed text, fragmented (compressed then cut).
                    88..=91 => {
                        let len = self.rng.range(20_000, 80_000);
                        let t = text(&mut self.rng, len);
                        self.message(s, side, OpCode::TEXT, t, 3, pmd);
                    }
                    // Ping (answered by the peer with a pong).
                    _ => {
                        let len = self.rng.range(0, 16);
                        let p = binary(&mut self.rng, len);
                        self.control(s, side, OpCode::PING, p.clone());
                        self.flush(s, side)?;
                        self.control(s, side.other(), OpCode::PONG, p);
                        self.flush(s, side.other())?;
                    }
                }
            }
            self.flush(s, side)?;
        }
        Ok(())
    }

    fn close(&mut self, s: &mut Sess) -> std::io::Result<()> {
        self.control(s, Side::Initiator, OpCode::CLOSE, close_payload(1000, b"bye"));
        self.flush(s, Side::Initiator)?;
        self.control(s, Side::Responder, OpCode::CLOSE, close_payload(1000, b""));
        self.flush(s, Side::Responder)?;
        let p = s.conv.fin(Side::Responder);
        self.packet(&p)?;
        let p = s.conv.fin(Side::Initiator);
        self.packet(&p)
    }
}

/// Standard base64 with padding (for the handshake key).
fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                s.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: bench_capture OUT.pcap SIZE_MB [SEED] [--kind mixed|small|plain]";
    let mut kind = Kind::Mixed;
    let mut pos = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let k = if a == "--kind" {
            args.next().ok_or(usage)?
        } else if let Some(v) = a.strip_prefix("--kind=") {
            v.to_string()
        } else {
            pos.push(a);
            continue;
        };
        kind = match k.as_str() {
            "mixed" => Kind::Mixed,
            "small" => Kind::Small,
            "plain" => Kind::Plain,
            _ => return Err(usage.into()),
        };
    }
    if !(2..=3).contains(&pos.len()) {
        return Err(usage.into());
    }
    let out = &pos[0];
    let size_mb: u64 = pos[1].parse().map_err(|_| usage)?;
    let seed: u64 = pos.get(2).map_or(Ok(0x5eed), |s| s.parse()).map_err(|_| usage)?;
    let target = size_mb * 1_000_000;

    let file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let mut g = Gen {
        w: PcapWriter::new(file, PcapOptions::default())?,
        rng: Rng(seed | 1),
        ts: 1_700_000_000_000_000_000,
        frame: Vec::with_capacity(MSS + 128),
        stats: Stats::default(),
        bytes: 24,
    };
    match kind {
        Kind::Mixed => g.run(target, CONCURRENT, Gen::open_mixed, Gen::step_mixed, Gen::close)?,
        Kind::Small => g.run(target, SMALL_CONCURRENT, Gen::open_small, Gen::step_small, Gen::close)?,
        Kind::Plain => g.run(target, PLAIN_CONCURRENT, Gen::open_plain, Gen::step_plain, Gen::close_plain)?,
    }
    g.w.flush()?;
    let st = &g.stats;
    println!(
        "bench_capture: bytes={} packets={} sessions={} frames={} messages={}",
        g.bytes, st.packets, st.sessions, st.frames, st.messages
    );
    Ok(())
}
