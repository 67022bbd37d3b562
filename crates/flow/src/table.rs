//! The connection table: packets in, connection and stream events out.

use std::collections::{HashMap, HashSet, VecDeque};

/// The connection map's hasher: foldhash with a fixed seed. Every packet does a
/// lookup, and SipHash (std's default) cost 5-7% of a dissect run; a fixed seed keeps
/// runs identical.
type Hasher = foldhash::fast::FixedState;
use std::net::{IpAddr, SocketAddr};

use crate::capture::{LinkType, Packet};
use crate::defrag::{DefragConfig, DefragWarning, Defragmenter};
use crate::events::{CloseReason, ConnId, FlowEvent, Side};
use crate::reassembly::{OwnedSeg, Reorder, SegIn, Stream, StreamEvent};
use crate::tcp::{Decoded, TcpSegment, decode_ip, decode_packet};

/// Flow table settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// A connection without packets for longer than this (in capture time) is
    /// flushed and closed with [`CloseReason::Idle`]. Default 300 s.
    pub idle_timeout_ns: i64,
    /// Cap on the out-of-order bytes buffered per direction; passing it gives up
    /// the first hole ([`GapReason::BufferCap`](crate::GapReason::BufferCap)). Default 4 MiB.
    pub max_buffered_per_dir: usize,
    /// Most connections tracked at once; when full, the idlest ~1.5% (at least
    /// one) are evicted, closed ones first. Default 100 000.
    pub max_flows: usize,
    /// Delivered bytes remembered per direction to detect retransmissions whose
    /// content differs from what was delivered. Default 2048; 0 disables.
    pub conflict_window: usize,
    /// How long a hole that the peer acknowledged may wait for its bytes (captures
    /// reorder): after this many packets of the connection or this much capture
    /// time it is declared lost. Default 64 packets, 1 s.
    pub reorder: Reorder,
    /// IP fragment reassembly limits (timeout, datagrams and bytes in progress).
    pub defrag: DefragConfig,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout_ns: 300_000_000_000,
            max_buffered_per_dir: 4 << 20,
            max_flows: 100_000,
            conflict_window: 2048,
            reorder: Reorder::default(),
            defrag: DefragConfig::default(),
        }
    }
}

/// Counters kept by the [`FlowTable`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets pushed.
    pub packets: u64,
    /// TCP segments decoded.
    pub tcp_packets: u64,
    /// IP packets of other protocols and non-IP frames.
    pub non_tcp_packets: u64,
    /// IP fragments seen (reassembled into datagrams, see [`Defragmenter`]).
    pub ip_fragments: u64,
    /// Datagrams reassembled from fragments.
    pub ip_datagrams_reassembled: u64,
    /// Packets on a link type that is not supported.
    pub unsupported_link_packets: u64,
    /// Packets with malformed or truncated link/IP/TCP headers.
    pub malformed_packets: u64,
    /// TCP segments that belong to no connection: a RST for an unknown 4-tuple,
    /// or late segments of a closed connection.
    pub ignored_tcp_packets: u64,
    /// Connections opened.
    pub flows_opened: u64,
    /// Connections closed by idle timeout.
    pub flows_idle: u64,
    /// Connections evicted because the table was full.
    pub flows_evicted: u64,
    /// Stream bytes delivered in `Data` events.
    pub bytes: u64,
    /// `Gap` events.
    pub gaps: u64,
    /// Bytes covered by `Gap` events.
    pub gap_bytes: u64,
    /// Overlaps whose bytes conflicted with the ones kept.
    pub conflicts: u64,
    /// TCP segments whose payload the snapshot length cut.
    pub cut_segments: u64,
}

struct Conn {
    id: ConnId,
    initiator: SocketAddr,
    /// ISN of the initiator's SYN, if seen.
    isn: Option<u32>,
    streams: [Stream; 2],
    /// Segments held back because they acknowledge bytes of the other direction
    /// that were not delivered yet (index: sender).
    deferred: [VecDeque<Deferred>; 2],
    deferred_bytes: usize,
    /// Packets of this connection so far.
    count: u64,
    closed: bool,
    last_ts: i64,
}

/// A segment waiting for the other direction to catch up with its ACK.
struct Deferred {
    /// Connection packet count when it arrived.
    count: u64,
    /// Its acknowledgment number.
    ack: u32,
    seg: OwnedSeg,
}

/// Segments deferred per direction before the oldest is forced through.
const DEFERRED_MAX: usize = 4096;
/// Bookkeeping cost of a deferred segment, charged against the buffer cap.
const DEFERRED_OVERHEAD: usize = 64;

/// A connection's key: its two endpoints, the lower first, as one flat value (IPv4
/// addresses as IPv6-mapped ones, told apart by `v6`). Hashing and comparing it is a
/// few words; as a pair of `SocketAddr` enums it was a tenth of the flow table's time
/// on small packets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    lo: u128,
    hi: u128,
    ports: u32,
    v6: bool,
}

impl Key {
    fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        let flat = |a: SocketAddr| match a.ip() {
            IpAddr::V4(ip) => (u128::from(ip.to_ipv6_mapped()), a.port()),
            IpAddr::V6(ip) => (u128::from(ip), a.port()),
        };
        let (s, d) = (flat(src), flat(dst));
        let (lo, hi) = if s <= d { (s, d) } else { (d, s) };
        Key { lo: lo.0, hi: hi.0, ports: (u32::from(lo.1) << 16) | u32::from(hi.1), v6: src.is_ipv6() }
    }
}

/// Tracks TCP connections and reassembles both directions of each.
///
/// The table works on packet timestamps only (never the clock), so results are
/// the same on every run. Events of several connections that end at once (idle
/// sweep, eviction, [`finish`](FlowTable::finish)) come in [`ConnId`] order.
pub struct FlowTable {
    cfg: FlowConfig,
    /// Open connections.
    conns: HashMap<Key, Conn, Hasher>,
    /// Connections that ended (FIN, RST), kept for the idle timeout to absorb late
    /// segments: only the time of their last packet, so that a capture's many short
    /// connections cost a few words each, not a whole [`Conn`] (memory stays flat).
    ended: HashMap<Key, i64, Hasher>,
    next_id: u64,
    stats: FlowStats,
    warned_links: HashSet<(u32, LinkType)>,
    warned_snaplen: bool,
    defrag: Defragmenter,
    last_sweep: Option<i64>,
    last_packet: u64,
    last_ts: i64,
}

impl std::fmt::Debug for FlowTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("cfg", &self.cfg)
            .field("active", &self.conns.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

type Sink<'s> = &'s mut dyn FnMut(FlowEvent<'_>);

/// Reports a fragment reassembly problem as a capture-level warning.
fn defrag_warning(packet: u64, w: DefragWarning, sink: Sink<'_>) {
    sink(FlowEvent::Warning { conn: None, packet, message: w.message });
}

/// Forwards a stream's events as flow events and counts them.
fn forward<'s>(
    conn: ConnId,
    side: Side,
    stats: &'s mut FlowStats,
    sink: &'s mut dyn FnMut(FlowEvent<'_>),
) -> impl FnMut(StreamEvent<'_>) + 's {
    move |e| match e {
        StreamEvent::Data { offset, data, packet, ts } => {
            stats.bytes += data.len() as u64;
            sink(FlowEvent::Data { conn, side, offset, data, packet, ts_nanos: ts });
        }
        StreamEvent::Gap { offset, len, reason, packet, ts } => {
            stats.gaps += 1;
            stats.gap_bytes += len;
            sink(FlowEvent::Gap { conn, side, offset, len, reason, packet, ts_nanos: ts });
        }
        StreamEvent::Conflict { offset, len, packet } => {
            stats.conflicts += 1;
            let who = match side {
                Side::Initiator => "initiator",
                Side::Responder => "responder",
            };
            sink(FlowEvent::Warning {
                conn: Some(conn),
                packet,
                message: format!(
                    "{who} bytes at stream offset {offset} ({len} bytes) arrived again with different content; kept the bytes received first"
                ),
            });
        }
    }
}

const SIDES: [Side; 2] = [Side::Initiator, Side::Responder];

fn idx(side: Side) -> usize {
    match side {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

impl Conn {
    fn anchor_pending(&mut self, side: Side, stats: &mut FlowStats, sink: Sink<'_>) {
        let mut f = forward(self.id, side, stats, sink);
        if let Some(s) = self.streams.get_mut(idx(side)) {
            s.anchor_pending(&mut f);
        }
    }

    /// Feeds one segment of `side` to its stream.
    fn feed(&mut self, side: Side, input: SegIn<'_>, stats: &mut FlowStats, sink: Sink<'_>) {
        let mut f = forward(self.id, side, stats, sink);
        if let Some(s) = self.streams.get_mut(idx(side)) {
            s.segment(input, &mut f);
        }
    }

    /// Whether a segment of `side` acknowledging `ack` must wait: the other
    /// direction has not delivered what it acknowledges.
    fn must_defer(&self, side: Side, ack: Option<u32>) -> bool {
        let i = idx(side);
        ack.is_some_and(|a| self.streams[1 - i].lags(a))
    }

    /// Feeds the deferred segments whose ACK the other direction has caught up with
    /// (each direction's stream orders its own segments by sequence number). A
    /// segment also goes through when it has waited twice the reorder bound (by then
    /// the other direction's hole it waits for was declared lost, unless the two
    /// wait for each other, as a retransmission with a newer ACK can), when the
    /// deferred bytes pass `cap`, and with `force`.
    fn release(&mut self, force: bool, cap: usize, reorder: Reorder, stats: &mut FlowStats, sink: Sink<'_>) {
        let (count, now) = (self.count, self.last_ts);
        loop {
            let mut progressed = false;
            for side in SIDES {
                let i = idx(side);
                let mut k = 0;
                while let Some(d) = self.deferred[i].get(k) {
                    let over = self.deferred_bytes > cap || self.deferred[i].len() > DEFERRED_MAX;
                    let stale = count.saturating_sub(d.count) >= 2 * reorder.packets
                        || now.saturating_sub(d.seg.ts()) >= reorder.nanos.saturating_mul(2);
                    if !(force || over || stale) && self.streams[1 - i].lags(d.ack) {
                        k += 1;
                        continue;
                    }
                    let Some(d) = self.deferred[i].remove(k) else {
                        break;
                    };
                    self.deferred_bytes = self.deferred_bytes.saturating_sub(d.seg.len() + DEFERRED_OVERHEAD);
                    self.feed(side, d.seg.as_in(), stats, sink);
                    progressed = true;
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Flushes both directions and reports `Closed` (once).
    fn close(&mut self, reason: CloseReason, packet: u64, ts: i64, stats: &mut FlowStats, sink: Sink<'_>) {
        if self.closed {
            return;
        }
        self.release(true, usize::MAX, Reorder::default(), stats, sink);
        for side in SIDES {
            let mut f = forward(self.id, side, stats, sink);
            if let Some(s) = self.streams.get_mut(idx(side)) {
                s.flush(packet, ts, &mut f);
            }
        }
        self.closed = true;
        self.streams = [Stream::new(0, 0, Reorder::default()), Stream::new(0, 0, Reorder::default())];
        self.deferred = Default::default();
        self.deferred_bytes = 0;
        sink(FlowEvent::Closed { conn: self.id, reason, packet, ts_nanos: ts });
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            conns: HashMap::with_hasher(Hasher::default()),
            ended: HashMap::with_hasher(Hasher::default()),
            next_id: 0,
            stats: FlowStats::default(),
            warned_links: HashSet::new(),
            warned_snaplen: false,
            defrag: Defragmenter::new(cfg.defrag),
            last_sweep: None,
            last_packet: 0,
            last_ts: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Bytes held for reassembly over all connections: out-of-order and deferred
    /// segments, and IP fragments (bookkeeping included). Bounded by the caps of
    /// [`FlowConfig`] times the connections tracked.
    pub fn buffered_bytes(&self) -> usize {
        let conns: usize = self
            .conns
            .values()
            .map(|c| c.streams.iter().map(Stream::buffered).sum::<usize>() + c.deferred_bytes)
            .sum();
        conns + self.defrag.buffered_bytes()
    }

    /// Connections in the table (open ones and recently closed ones kept to
    /// absorb late segments).
    pub fn tracked(&self) -> usize {
        self.conns.len() + self.ended.len()
    }

    /// Decodes one captured packet and feeds it to its connection. Non-TCP
    /// packets, fragments and unsupported link types are counted and skipped
    /// (an unsupported link type gives one warning per interface).
    pub fn push(&mut self, pkt: &Packet<'_>, sink: &mut dyn FnMut(FlowEvent<'_>)) {
        self.stats.packets += 1;
        self.last_packet = pkt.number;
        self.last_ts = pkt.ts_nanos;
        self.sweep(pkt.number, pkt.ts_nanos, sink);
        match decode_packet(pkt.link_type, pkt.data) {
            Decoded::Fragment(ip) => {
                self.stats.ip_fragments += 1;
                let number = pkt.number;
                let datagram = self.defrag.push(ip, pkt.ts_nanos, &mut |w| defrag_warning(number, w, sink));
                if let Some(d) = datagram {
                    self.stats.ip_datagrams_reassembled += 1;
                    self.decoded(decode_ip(&d), pkt, sink);
                }
            }
            other => self.decoded(other, pkt, sink),
        }
    }

    /// Handles a packet decoded down to its transport layer.
    fn decoded(&mut self, d: Decoded<'_>, pkt: &Packet<'_>, sink: Sink<'_>) {
        match d {
            Decoded::Tcp { src, dst, segment } => {
                self.stats.tcp_packets += 1;
                if segment.missing > 0 {
                    self.stats.cut_segments += 1;
                    if !std::mem::replace(&mut self.warned_snaplen, true) {
                        sink(FlowEvent::Warning {
                            conn: None,
                            packet: pkt.number,
                            message: format!(
                                "the capture's snapshot length cuts TCP payloads (packet {} keeps {} of its {} bytes): the missing bytes are gaps of known size, and a message with missing bytes shows no payload",
                                pkt.number,
                                pkt.data.len(),
                                pkt.orig_len
                            ),
                        });
                    }
                }
                self.on_tcp(src, dst, &segment, pkt, sink);
            }
            Decoded::NotTcp => self.stats.non_tcp_packets += 1,
            // A fragment inside a reassembled datagram (a tunnel): not followed.
            Decoded::Fragment(_) => self.stats.ip_fragments += 1,
            Decoded::Malformed(_) => self.stats.malformed_packets += 1,
            Decoded::UnsupportedLink(l) => {
                self.stats.unsupported_link_packets += 1;
                if self.warned_links.insert((pkt.interface, l)) {
                    sink(FlowEvent::Warning {
                        conn: None,
                        packet: pkt.number,
                        message: format!(
                            "interface {}: link type {l} is not supported; its packets are skipped",
                            pkt.interface
                        ),
                    });
                }
            }
        }
    }

    /// Flushes and closes every open connection ([`CloseReason::EndOfCapture`]),
    /// in [`ConnId`] order, and empties the table.
    pub fn finish(&mut self, sink: &mut dyn FnMut(FlowEvent<'_>)) {
        let last = self.last_packet;
        self.defrag.finish(&mut |w| defrag_warning(last, w, sink));
        self.ended.clear();
        let mut all: Vec<Conn> = self.conns.drain().map(|(_, c)| c).collect();
        all.sort_by_key(|c| c.id);
        for mut c in all {
            c.close(CloseReason::EndOfCapture, self.last_packet, self.last_ts, &mut self.stats, sink);
        }
    }

    fn sweep(&mut self, packet: u64, ts: i64, sink: Sink<'_>) {
        let timeout = self.cfg.idle_timeout_ns.max(1);
        let last = *self.last_sweep.get_or_insert(ts);
        if ts.saturating_sub(last) < (timeout / 4).max(1) {
            return;
        }
        self.last_sweep = Some(ts);
        self.ended.retain(|_, last| ts.saturating_sub(*last) <= timeout);
        let mut idle: Vec<(ConnId, Key)> = self
            .conns
            .iter()
            .filter(|(_, c)| ts.saturating_sub(c.last_ts) > timeout)
            .map(|(k, c)| (c.id, *k))
            .collect();
        idle.sort_unstable();
        for (_, key) in idle {
            if let Some(mut c) = self.conns.remove(&key)
                && !c.closed
            {
                self.stats.flows_idle += 1;
                c.close(CloseReason::Idle, packet, ts, &mut self.stats, sink);
            }
        }
    }

    fn evict_for_room(&mut self, packet: u64, ts: i64, sink: Sink<'_>) {
        let max = self.cfg.max_flows.max(1);
        if self.ended.len() >= max {
            // The oldest sixty-fourth of the ended connections goes: a late segment of
            // one of them would open a connection of its own.
            let mut times: Vec<i64> = self.ended.values().copied().collect();
            let batch = (max / 64).max(1).min(times.len());
            let (_, cut, _) = times.select_nth_unstable(batch - 1);
            let cut = *cut;
            self.ended.retain(|_, last| *last > cut);
        }
        if self.conns.len() < max {
            return;
        }
        let batch = (max / 64).max(1).min(self.conns.len());
        let mut all: Vec<(bool, i64, ConnId, Key)> =
            self.conns.iter().map(|(k, c)| (!c.closed, c.last_ts, c.id, *k)).collect();
        if batch < all.len() {
            all.select_nth_unstable(batch - 1);
            all.truncate(batch);
        }
        all.sort_unstable_by_key(|v| v.2);
        for (_, _, _, key) in all {
            if let Some(mut c) = self.conns.remove(&key)
                && !c.closed
            {
                self.stats.flows_evicted += 1;
                c.close(CloseReason::Evicted, packet, ts, &mut self.stats, sink);
            }
        }
    }

    /// Moves a connection that ended to [`ended`](Self::ended).
    fn end(&mut self, key: Key, ts: i64) {
        self.conns.remove(&key);
        self.ended.insert(key, ts);
    }

    fn on_tcp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        pkt: &Packet<'_>,
        sink: Sink<'_>,
    ) {
        let key = Key::new(src, dst);
        let ts = pkt.ts_nanos;
        let flags = seg.flags;
        let fresh_syn = flags.syn() && !flags.ack();
        let timeout = self.cfg.idle_timeout_ns.max(1);
        let mut known = false;
        if let Some(c) = self.conns.get_mut(&key) {
            let idle = ts.saturating_sub(c.last_ts) > timeout;
            // A new SYN (not a retransmitted one) while open: the 4-tuple is reused.
            let reused = fresh_syn && (c.initiator != src || c.isn != Some(seg.seq));
            if idle || reused {
                if idle {
                    self.stats.flows_idle += 1;
                }
                let reason = if idle { CloseReason::Idle } else { CloseReason::Superseded };
                c.close(reason, pkt.number, ts, &mut self.stats, sink);
                self.conns.remove(&key);
            } else {
                known = true;
            }
        } else if let Some(last) = self.ended.get_mut(&key) {
            // A late segment of an ended connection is ignored; a new SYN, or any
            // packet after the idle timeout, starts a new connection.
            if fresh_syn || ts.saturating_sub(*last) > timeout {
                self.ended.remove(&key);
            } else {
                self.stats.ignored_tcp_packets += 1;
                *last = ts;
                return;
            }
        }
        if !known {
            if flags.rst() {
                self.stats.ignored_tcp_packets += 1;
                return;
            }
            self.evict_for_room(pkt.number, ts, sink);
            let (initiator, responder, syn_seen) =
                if flags.syn() && flags.ack() { (dst, src, true) } else { (src, dst, flags.syn()) };
            self.next_id += 1;
            let id = ConnId(self.next_id);
            self.stats.flows_opened += 1;
            let (cap, win, reorder) =
                (self.cfg.max_buffered_per_dir, self.cfg.conflict_window, self.cfg.reorder);
            self.conns.insert(
                key,
                Conn {
                    id,
                    initiator,
                    isn: None,
                    streams: [Stream::new(cap, win, reorder), Stream::new(cap, win, reorder)],
                    deferred: Default::default(),
                    deferred_bytes: 0,
                    count: 0,
                    closed: false,
                    last_ts: ts,
                },
            );
            sink(FlowEvent::Opened {
                conn: id,
                initiator,
                responder,
                syn_seen,
                packet: pkt.number,
                ts_nanos: ts,
            });
        }
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        let side = if src == c.initiator { Side::Initiator } else { Side::Responder };
        c.last_ts = ts;
        if fresh_syn && side == Side::Initiator && c.isn.is_none() {
            c.isn = Some(seg.seq);
        }
        // A packet from this side ends the other side's first window.
        c.anchor_pending(side.other(), &mut self.stats, sink);
        if flags.rst() {
            c.close(CloseReason::Rst, pkt.number, ts, &mut self.stats, sink);
            self.end(key, ts);
            return;
        }
        c.count += 1;
        let count = c.count;
        let ack = flags.ack().then_some(seg.ack);
        if let Some(a) = ack
            && let Some(s) = c.streams.get_mut(idx(side.other()))
        {
            s.note_ack(a, count, ts);
        }
        let carries = !seg.payload.is_empty() || seg.missing > 0 || flags.syn() || flags.fin();
        let input = SegIn {
            seq: seg.seq,
            syn: flags.syn(),
            fin: flags.fin(),
            payload: seg.payload,
            missing: seg.missing,
            packet: pkt.number,
            ts,
        };
        if carries && c.must_defer(side, ack) {
            c.deferred_bytes += seg.payload.len() + DEFERRED_OVERHEAD;
            c.deferred[idx(side)].push_back(Deferred { count, ack: seg.ack, seg: OwnedSeg::new(&input) });
        } else if carries {
            c.feed(side, input, &mut self.stats, sink);
        }
        for s in SIDES {
            let mut f = forward(c.id, s, &mut self.stats, sink);
            if let Some(st) = c.streams.get_mut(idx(s)) {
                st.tick(count, pkt.number, ts, &mut f);
            }
        }
        c.release(false, self.cfg.max_buffered_per_dir, self.cfg.reorder, &mut self.stats, sink);
        if c.streams.iter().all(Stream::fin_seen) {
            c.close(CloseReason::Fin, pkt.number, ts, &mut self.stats, sink);
            self.end(key, ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both directions give one key; an IPv4 endpoint and its IPv6-mapped twin, or
    /// swapped ports, give different ones.
    #[test]
    fn connection_keys() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:80".parse().unwrap();
        assert!(Key::new(a, b) == Key::new(b, a));
        let a6: SocketAddr = "[::ffff:10.0.0.1]:40000".parse().unwrap();
        let b6: SocketAddr = "[::ffff:192.0.2.2]:80".parse().unwrap();
        assert!(Key::new(a6, b6) == Key::new(b6, a6));
        assert!(Key::new(a, b) != Key::new(a6, b6));
        let a2: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let b2: SocketAddr = "192.0.2.2:40000".parse().unwrap();
        assert!(Key::new(a, b) != Key::new(a2, b2));
    }
}
