//! Synthesis of TCP conversations as captured frames, for tests, fixtures and
//! benchmark captures.
//!
//! [`TcpConversation`] tracks both sides' sequence numbers and builds complete
//! frames (link header, IPv4 or IPv6 header with correct lengths and header
//! checksum, TCP header with a correct checksum). The high-level calls
//! ([`handshake`](TcpConversation::handshake), [`send`](TcpConversation::send),
//! [`fin`](TcpConversation::fin)) advance the state; the low-level ones
//! ([`segment`](TcpConversation::segment), [`segment_with`](TcpConversation::segment_with))
//! do not, so reordered, retransmitted, overlapping or lost segments can be
//! crafted, with [`advance`](TcpConversation::advance) to move a side on.
//! [`send_into`](TcpConversation::send_into) reuses the caller's buffer.

use std::net::{IpAddr, SocketAddr};

use crate::capture::LinkType;
use crate::events::Side;
use crate::tcp::TcpFlags;

/// Link layer of the synthesized frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthLink {
    /// Ethernet II.
    Ethernet,
    /// Ethernet with one 802.1Q tag (the VLAN id).
    EthernetVlan(u16),
    /// Ethernet with an 802.1ad outer tag and an 802.1Q inner tag.
    EthernetQinQ {
        /// Outer (service) VLAN id.
        outer: u16,
        /// Inner (customer) VLAN id.
        inner: u16,
    },
    /// Raw IP (link type 101).
    RawIp,
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// BSD loopback, little-endian family.
    Null,
    /// OpenBSD loopback, big-endian family.
    Loop,
}

impl SynthLink {
    /// The capture link type for frames of this kind.
    pub fn link_type(self) -> LinkType {
        match self {
            SynthLink::Ethernet | SynthLink::EthernetVlan(_) | SynthLink::EthernetQinQ { .. } => {
                LinkType::ETHERNET
            }
            SynthLink::RawIp => LinkType::RAW,
            SynthLink::Sll => LinkType::LINUX_SLL,
            SynthLink::Sll2 => LinkType::LINUX_SLL2,
            SynthLink::Null => LinkType::NULL,
            SynthLink::Loop => LinkType::LOOP,
        }
    }
}

/// A client/server TCP conversation generator. The client is
/// [`Side::Initiator`], the server [`Side::Responder`].
#[derive(Clone, Debug)]
pub struct TcpConversation {
    client: SocketAddr,
    server: SocketAddr,
    link: SynthLink,
    isn: [u32; 2],
    /// Stream bytes sent so far by each side (next stream offset).
    sent: [u64; 2],
    /// FIN sent by each side (occupies one sequence number).
    fin: [bool; 2],
    ip_id: u16,
    v6_ext: bool,
}

fn ix(side: Side) -> usize {
    match side {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

fn to_v6(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    }
}

impl TcpConversation {
    /// A conversation over Ethernet with ISNs 1 000 000 (client) and
    /// 2 000 000 (server). If one address is IPv4 and the other IPv6, the IPv4
    /// one is used in its IPv4-mapped IPv6 form.
    pub fn new(client: SocketAddr, server: SocketAddr) -> Self {
        let (client, server) = if client.is_ipv4() == server.is_ipv4() {
            (client, server)
        } else {
            (to_v6(client), to_v6(server))
        };
        TcpConversation {
            client,
            server,
            link: SynthLink::Ethernet,
            isn: [1_000_000, 2_000_000],
            sent: [0, 0],
            fin: [false, false],
            ip_id: 1,
            v6_ext: false,
        }
    }

    /// Chooses the link layer.
    pub fn with_link(mut self, link: SynthLink) -> Self {
        self.link = link;
        self
    }

    /// Chooses the initial sequence numbers.
    pub fn with_isns(mut self, client: u32, server: u32) -> Self {
        self.isn = [client, server];
        self
    }

    /// For IPv6, inserts hop-by-hop, routing, destination-options and an atomic
    /// fragment header before TCP.
    pub fn with_ipv6_extension_headers(mut self, on: bool) -> Self {
        self.v6_ext = on;
        self
    }

    /// The capture link type of the frames.
    pub fn link_type(&self) -> LinkType {
        self.link.link_type()
    }

    /// The address of `side`.
    pub fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::Initiator => self.client,
            Side::Responder => self.server,
        }
    }

    /// The next stream offset `side` will send.
    pub fn next_offset(&self, side: Side) -> u64 {
        self.sent[ix(side)]
    }

    /// The sequence number of stream offset `offset` of `side`.
    pub fn seq_at(&self, side: Side, offset: u64) -> u32 {
        self.isn[ix(side)].wrapping_add(1).wrapping_add(offset as u32)
    }

    /// The acknowledgment number `side` currently sends (everything the peer sent).
    pub fn ack_of(&self, side: Side) -> u32 {
        let peer = side.other();
        let i = ix(peer);
        self.seq_at(peer, self.sent[i]).wrapping_add(u32::from(self.fin[i]))
    }

    /// Moves `side`'s next offset on by `n` without building a packet (to
    /// simulate a segment lost before the capture point).
    pub fn advance(&mut self, side: Side, n: u64) {
        self.sent[ix(side)] += n;
    }

    /// SYN, SYN-ACK and ACK.
    pub fn handshake(&mut self) -> [Vec<u8>; 3] {
        let c = Side::Initiator;
        let s = Side::Responder;
        let syn = self.segment_with(c, self.isn[0], 0, TcpFlags::SYN, &[]);
        let syn_ack = self.segment_with(
            s,
            self.isn[1],
            self.isn[0].wrapping_add(1),
            TcpFlags::SYN | TcpFlags::ACK,
            &[],
        );
        let ack = self.segment_with(c, self.seq_at(c, 0), self.seq_at(s, 0), TcpFlags::ACK, &[]);
        [syn, syn_ack, ack]
    }

    /// A data segment from `side` (PSH|ACK) at its next offset; advances it.
    pub fn send(&mut self, side: Side, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.send_into(side, payload, &mut out);
        out
    }

    /// Like [`send`](Self::send) but builds the frame into `out` (cleared first),
    /// reusing its allocation.
    pub fn send_into(&mut self, side: Side, payload: &[u8], out: &mut Vec<u8>) {
        let seq = self.seq_at(side, self.sent[ix(side)]);
        let ack = self.ack_of(side);
        out.clear();
        self.build(out, side, seq, ack, TcpFlags::PSH | TcpFlags::ACK, payload);
        self.sent[ix(side)] += payload.len() as u64;
        self.ip_id = self.ip_id.wrapping_add(1);
    }

    /// A pure ACK from `side` acknowledging everything the peer sent.
    pub fn ack(&self, side: Side) -> Vec<u8> {
        let seq = self.seq_at(side, self.sent[ix(side)]);
        self.segment_with(side, seq, self.ack_of(side), TcpFlags::ACK, &[])
    }

    /// FIN|ACK from `side`; the FIN takes one sequence number.
    pub fn fin(&mut self, side: Side) -> Vec<u8> {
        let seq = self.seq_at(side, self.sent[ix(side)]);
        let p = self.segment_with(side, seq, self.ack_of(side), TcpFlags::FIN | TcpFlags::ACK, &[]);
        self.fin[ix(side)] = true;
        p
    }

    /// RST|ACK from `side`.
    pub fn rst(&self, side: Side) -> Vec<u8> {
        let seq = self.seq_at(side, self.sent[ix(side)]);
        self.segment_with(side, seq, self.ack_of(side), TcpFlags::RST | TcpFlags::ACK, &[])
    }

    /// A PSH|ACK data segment from `side` at stream offset `offset`, without
    /// changing any state (for retransmissions, reordering, overlaps).
    pub fn segment(&self, side: Side, offset: u64, payload: &[u8]) -> Vec<u8> {
        let seq = self.seq_at(side, offset);
        self.segment_with(side, seq, self.ack_of(side), TcpFlags::PSH | TcpFlags::ACK, payload)
    }

    /// A segment with explicit sequence and acknowledgment numbers and flags.
    pub fn segment_with(&self, side: Side, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 120);
        self.build(&mut out, side, seq, ack, flags, payload);
        out
    }

    fn build(&self, out: &mut Vec<u8>, side: Side, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) {
        let (src, dst) = match side {
            Side::Initiator => (self.client, self.server),
            Side::Responder => (self.server, self.client),
        };
        let v6 = src.is_ipv6();
        let mac_src = mac(side);
        let mac_dst = mac(side.other());
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        out.reserve(payload.len() + 120);
        match self.link {
            SynthLink::Ethernet | SynthLink::EthernetVlan(_) | SynthLink::EthernetQinQ { .. } => {
                out.extend_from_slice(&mac_dst);
                out.extend_from_slice(&mac_src);
                match self.link {
                    SynthLink::EthernetVlan(id) => {
                        out.extend_from_slice(&[0x81, 0x00]);
                        out.extend_from_slice(&(id & 0x0fff).to_be_bytes());
                    }
                    SynthLink::EthernetQinQ { outer, inner } => {
                        out.extend_from_slice(&[0x88, 0xa8]);
                        out.extend_from_slice(&(outer & 0x0fff).to_be_bytes());
                        out.extend_from_slice(&[0x81, 0x00]);
                        out.extend_from_slice(&(inner & 0x0fff).to_be_bytes());
                    }
                    _ => {}
                }
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            SynthLink::RawIp => {}
            SynthLink::Sll => {
                let pkttype: u16 = if side == Side::Initiator { 4 } else { 0 };
                out.extend_from_slice(&pkttype.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&6u16.to_be_bytes());
                out.extend_from_slice(&mac_src);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            SynthLink::Sll2 => {
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&2u32.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.push(if side == Side::Initiator { 4 } else { 0 });
                out.push(6);
                out.extend_from_slice(&mac_src);
                out.extend_from_slice(&[0, 0]);
            }
            SynthLink::Null => {
                let fam: u32 = if v6 { 24 } else { 2 };
                out.extend_from_slice(&fam.to_le_bytes());
            }
            SynthLink::Loop => {
                let fam: u32 = if v6 { 24 } else { 2 };
                out.extend_from_slice(&fam.to_be_bytes());
            }
        }
        let tcp_len = 20 + payload.len();
        let mut pseudo: u32 = 0;
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let ip_start = out.len();
                let total = (20 + tcp_len).min(0xffff) as u16;
                out.extend_from_slice(&[0x45, 0]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&self.ip_id.to_be_bytes());
                out.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                let c = !fold(u64::from(sum(out.get(ip_start..).unwrap_or_default())));
                if let Some(slot) = out.get_mut(ip_start + 10..ip_start + 12) {
                    slot.copy_from_slice(&c.to_be_bytes());
                }
                pseudo += sum(&s.octets()) + sum(&d.octets()) + 6 + tcp_len as u32;
            }
            (s, d) => {
                let s = match s {
                    IpAddr::V6(v) => v,
                    IpAddr::V4(v) => v.to_ipv6_mapped(),
                };
                let d = match d {
                    IpAddr::V6(v) => v,
                    IpAddr::V4(v) => v.to_ipv6_mapped(),
                };
                let ext_len = if self.v6_ext { 32 } else { 0 };
                let plen = (ext_len + tcp_len).min(0xffff) as u16;
                out.extend_from_slice(&[0x60, 0, 0, 0]);
                out.extend_from_slice(&plen.to_be_bytes());
                out.push(if self.v6_ext { 0 } else { 6 });
                out.push(64);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                if self.v6_ext {
                    // Hop-by-hop (PadN), routing (type 253, no segments left),
                    // destination options (PadN), atomic fragment.
                    out.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
                    out.extend_from_slice(&[60, 0, 253, 0, 0, 0, 0, 0]);
                    out.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
                    out.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 7]);
                }
                pseudo += sum(&s.octets()) + sum(&d.octets()) + 6 + tcp_len as u32;
            }
        }
        let tcp_start = out.len();
        out.extend_from_slice(&src.port().to_be_bytes());
        out.extend_from_slice(&dst.port().to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&ack.to_be_bytes());
        out.push(5 << 4);
        out.push(flags.0);
        out.extend_from_slice(&0xffffu16.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(payload);
        let c = !fold(u64::from(pseudo) + u64::from(sum(out.get(tcp_start..).unwrap_or_default())));
        if let Some(slot) = out.get_mut(tcp_start + 16..tcp_start + 18) {
            slot.copy_from_slice(&c.to_be_bytes());
        }
    }
}

fn mac(side: Side) -> [u8; 6] {
    match side {
        Side::Initiator => [0x02, 0, 0, 0, 0, 0x01],
        Side::Responder => [0x02, 0, 0, 0, 0, 0x02],
    }
}

/// Sum of big-endian 16-bit words (odd trailing byte padded with zero), not folded.
fn sum(b: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc).into()
}

/// Folds a one's complement sum to 16 bits.
fn fold(mut v: u64) -> u16 {
    while v > 0xffff {
        v = (v & 0xffff) + (v >> 16);
    }
    v as u16
}
