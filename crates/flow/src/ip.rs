//! IPv4 and IPv6 decoding down to the transport payload.
//!
//! Checksums are not verified (capture hosts with checksum offload record
//! wrong ones). Ethernet padding after the IP packet is cut off using the IP
//! length fields; a packet shorter than its IP length (cut by the snapshot
//! length) reports how many transport bytes are missing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A decoded IP packet: addresses and transport-layer bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol number (6 = TCP).
    pub protocol: u8,
    /// Transport bytes present in the capture.
    pub payload: &'a [u8],
    /// Transport bytes the IP header announces but the capture lacks (snaplen).
    pub missing: u32,
}

/// Why an IP packet yields no transport payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpError {
    /// A fragment of a larger datagram (reassembly is not done): skipped.
    Fragment,
    /// Header malformed or cut before the transport header.
    Malformed(&'static str),
}

/// IPv6 extension header chains longer than this are refused.
const MAX_EXT_HEADERS: usize = 16;

/// Decodes an IPv4 packet (header at the start of `data`).
pub fn decode_ipv4(data: &[u8]) -> Result<IpPacket<'_>, IpError> {
    let h = data.get(..20).ok_or(IpError::Malformed("IPv4 header truncated"))?;
    if h[0] >> 4 != 4 {
        return Err(IpError::Malformed("IPv4 version field is not 4"));
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(IpError::Malformed("IPv4 header length below 20"));
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < ihl {
        return Err(IpError::Malformed("IPv4 total length below header length"));
    }
    let frag = u16::from_be_bytes([h[6], h[7]]);
    if frag & 0x3fff != 0 {
        // More-fragments set or a non-zero offset.
        return Err(IpError::Fragment);
    }
    let protocol = h[9];
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    if data.len() < ihl {
        return Err(IpError::Malformed("IPv4 options truncated"));
    }
    let end = total.min(data.len());
    let payload = data.get(ihl..end).unwrap_or_default();
    let missing = (total - end) as u32;
    Ok(IpPacket { src, dst, protocol, payload, missing })
}

/// Decodes an IPv6 packet, walking hop-by-hop, routing, fragment, destination
/// options and AH extension headers.
pub fn decode_ipv6(data: &[u8]) -> Result<IpPacket<'_>, IpError> {
    let h = data.get(..40).ok_or(IpError::Malformed("IPv6 header truncated"))?;
    if h[0] >> 4 != 6 {
        return Err(IpError::Malformed("IPv6 version field is not 6"));
    }
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let mut next = h[6];
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let body = data.get(40..).unwrap_or_default();
    // Jumbograms (payload length 0 with a hop-by-hop jumbo option) take what is there.
    let (mut body, missing) = if plen == 0 {
        (body, 0usize)
    } else {
        let end = plen.min(body.len());
        (body.get(..end).unwrap_or_default(), plen - end)
    };
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            0 | 43 | 60 => {
                let l = body.get(1).ok_or(IpError::Malformed("IPv6 extension header truncated"))?;
                (usize::from(*l) + 1) * 8
            }
            44 => {
                let fo = body.get(2..4).ok_or(IpError::Malformed("IPv6 fragment header truncated"))?;
                let v = u16::from_be_bytes([fo[0], fo[1]]);
                // Offset non-zero or more-fragments set: a real fragment.
                // (An "atomic fragment" with both zero carries the whole datagram.)
                if v & 0xfff9 != 0 {
                    return Err(IpError::Fragment);
                }
                8
            }
            51 => {
                let l = body.get(1).ok_or(IpError::Malformed("IPv6 AH header truncated"))?;
                (usize::from(*l) + 2) * 4
            }
            _ => break,
        };
        let nh = *body.first().ok_or(IpError::Malformed("IPv6 extension header truncated"))?;
        body = body.get(len..).ok_or(IpError::Malformed("IPv6 extension header truncated"))?;
        next = nh;
    }
    Ok(IpPacket {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: next,
        payload: body,
        missing: missing as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(total: u16, frag: u16) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p
    }

    #[test]
    fn ipv4_padding_snaplen_fragments() {
        let mut p = v4(24, 0);
        p.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0]); // 3 bytes Ethernet padding
        let ip = decode_ipv4(&p).unwrap();
        assert_eq!(ip.payload, &[1, 2, 3, 4]);
        assert_eq!(ip.missing, 0);
        let mut p = v4(100, 0);
        p.extend_from_slice(&[9; 30]);
        assert_eq!(decode_ipv4(&p).unwrap().missing, 50);
        assert_eq!(decode_ipv4(&v4(20, 0x2000)), Err(IpError::Fragment)); // MF
        assert_eq!(decode_ipv4(&v4(20, 0x0010)), Err(IpError::Fragment)); // offset
        assert!(decode_ipv4(&v4(20, 0x4000)).is_ok()); // DF only
        assert!(decode_ipv4(&v4(10, 0)).is_err());
        assert!(decode_ipv4(&[0x45; 19]).is_err());
        let mut opts = v4(24, 0);
        opts[0] = 0x46; // 4 bytes of options, total 24: no payload
        opts.extend_from_slice(&[1, 1, 1, 0]);
        assert_eq!(decode_ipv4(&opts).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn ipv6_fragment_header() {
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 44, 64];
        p.extend_from_slice(&[0; 32]);
        // Fragment header: next=6, offset 8 (non-first).
        p.extend_from_slice(&[6, 0, 0, 0x40, 0, 0, 0, 1]);
        p.extend_from_slice(&[0; 8]);
        assert_eq!(decode_ipv6(&p), Err(IpError::Fragment));
        p[40 + 3] = 0; // atomic fragment
        let ip = decode_ipv6(&p).unwrap();
        assert_eq!(ip.protocol, 6);
        assert_eq!(ip.payload.len(), 8);
    }
}
