//! TCP segment parsing and whole-packet decoding (link → IP → TCP).

use std::net::SocketAddr;

use crate::capture::LinkType;
use crate::ip::{IpError, decode_ipv4, decode_ipv6};
use crate::link::{LinkError, Network, decode_link};

/// TCP header flags (the low 8 bits of the flags field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: sender has finished sending.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN: synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST: reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// PSH: push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// ACK: the acknowledgment number is valid.
    pub const ACK: TcpFlags = TcpFlags(0x10);

    /// True if every flag of `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// SYN set.
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    /// FIN set.
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// A parsed TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful only with ACK).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled).
    pub window: u16,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes announced by the IP length but cut by the snapshot length.
    pub missing: u32,
}

impl TcpSegment<'_> {
    /// Sequence space the segment occupies: payload (present and missing) plus
    /// one for SYN and one for FIN.
    pub fn seq_len(&self) -> u64 {
        self.payload.len() as u64
            + u64::from(self.missing)
            + u64::from(self.flags.syn())
            + u64::from(self.flags.fin())
    }
}

/// Why a TCP header could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// Header shorter than 20 bytes or than its data offset.
    Truncated,
    /// Data offset below 5 words.
    BadDataOffset,
}

/// Parses a TCP header; `missing` is the count of transport bytes the IP layer
/// announced but the capture lacks (they all belong to the payload).
pub fn parse_tcp(data: &[u8], missing: u32) -> Result<TcpSegment<'_>, TcpError> {
    let h = data.get(..20).ok_or(TcpError::Truncated)?;
    let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let off = usize::from(h[12] >> 4) * 4;
    if off < 20 {
        return Err(TcpError::BadDataOffset);
    }
    let payload = data.get(off..).ok_or(TcpError::Truncated)?;
    Ok(TcpSegment {
        src_port: be16(0),
        dst_port: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: TcpFlags(h[13]),
        window: be16(14),
        payload,
        missing,
    })
}

/// Result of decoding a captured frame down to TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp {
        /// Sender address and port.
        src: SocketAddr,
        /// Receiver address and port.
        dst: SocketAddr,
        /// The segment.
        segment: TcpSegment<'a>,
    },
    /// An IP packet of another protocol, or a non-IP frame.
    NotTcp,
    /// An IP fragment: the IP packet (from its IP header), for
    /// [`Defragmenter`](crate::defrag::Defragmenter).
    Fragment(&'a [u8]),
    /// The link type is not supported.
    UnsupportedLink(LinkType),
    /// Malformed or truncated headers.
    Malformed(&'static str),
}

/// Decodes a frame of link type `link` down to a TCP segment. GTP-U tunnels
/// (UDP port 2152) are decapsulated: the addresses are the inner ones.
pub fn decode_packet(link: LinkType, data: &[u8]) -> Decoded<'_> {
    match decode_link(link, data) {
        Ok(n) => decode_network(n),
        Err(LinkError::Unsupported(l)) => Decoded::UnsupportedLink(l),
        Err(LinkError::Truncated) => Decoded::Malformed("link-layer header truncated"),
    }
}

/// Decodes an IP packet (IPv4 or IPv6, by its version field) down to a TCP segment:
/// what a reassembled datagram goes through.
pub fn decode_ip(ip: &[u8]) -> Decoded<'_> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => decode_network(Network::Ipv4(ip)),
        Some(6) => decode_network(Network::Ipv6(ip)),
        _ => Decoded::Malformed("not an IPv4 or IPv6 packet"),
    }
}

fn decode_network(net: Network<'_>) -> Decoded<'_> {
    let mut net = net;
    let mut depth = 0;
    let ip = loop {
        let (ip, raw) = match net {
            Network::Ipv4(b) => (decode_ipv4(b), b),
            Network::Ipv6(b) => (decode_ipv6(b), b),
            Network::Other => return Decoded::NotTcp,
        };
        let ip = match ip {
            Ok(ip) => ip,
            Err(IpError::Fragment) => return Decoded::Fragment(raw),
            Err(IpError::Malformed(m)) => return Decoded::Malformed(m),
        };
        depth += 1;
        match (ip.protocol, gtp_u_inner(&ip)) {
            (17, Some(inner)) if depth < 3 => net = inner,
            (6, _) => break ip,
            _ => return Decoded::NotTcp,
        }
    };
    match parse_tcp(ip.payload, ip.missing) {
        Ok(segment) => Decoded::Tcp {
            src: SocketAddr::new(ip.src, segment.src_port),
            dst: SocketAddr::new(ip.dst, segment.dst_port),
            segment,
        },
        Err(TcpError::Truncated) => Decoded::Malformed("TCP header truncated"),
        Err(TcpError::BadDataOffset) => Decoded::Malformed("TCP data offset below 5"),
    }
}

/// GTP-U (UDP port 2152) G-PDU carrying an IP packet: returns the inner packet.
fn gtp_u_inner<'a>(ip: &crate::ip::IpPacket<'a>) -> Option<Network<'a>> {
    if ip.protocol != 17 {
        return None;
    }
    let udp = ip.payload;
    let sport = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    if sport != 2152 && dport != 2152 {
        return None;
    }
    let g = udp.get(8..)?;
    let flags = *g.first()?;
    // Version 1, protocol type GTP, message type G-PDU.
    if flags >> 5 != 1 || flags & 0x10 == 0 || *g.get(1)? != 0xff {
        return None;
    }
    let mut pos = 8;
    if flags & 0x07 != 0 {
        pos = 12;
        let mut next = *g.get(11)?;
        if flags & 0x04 != 0 {
            // Extension headers: length in 4-byte units, next type in the last byte.
            for _ in 0..16 {
                if next == 0 {
                    break;
                }
                let len = usize::from(*g.get(pos)?) * 4;
                if len == 0 {
                    return None;
                }
                next = *g.get(pos + len - 1)?;
                pos += len;
            }
        }
    }
    let inner = g.get(pos..)?;
    match inner.first()? >> 4 {
        4 => Some(Network::Ipv4(inner)),
        6 => Some(Network::Ipv6(inner)),
        _ => None,
    }
}
