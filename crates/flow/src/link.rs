//! Link-layer decoding: from captured bytes to the network-layer packet.
//!
//! Supported link types: Ethernet (with any stack of 802.1Q `0x8100`, 802.1ad
//! `0x88a8` and legacy QinQ `0x9100` tags), Linux cooked capture v1 (113) and
//! v2 (276), raw IP (12, 14, 101, 228, 229), BSD loopback/null (0, host byte
//! order guessed) and OpenBSD loop (108, big-endian).

use crate::capture::LinkType;

/// The network-layer content of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network<'a> {
    /// An IPv4 packet (starting at the IPv4 header).
    Ipv4(&'a [u8]),
    /// An IPv6 packet (starting at the IPv6 header).
    Ipv6(&'a [u8]),
    /// Another protocol (ARP, LLDP, ...): ignored by the flow layer.
    Other,
}

/// Why a frame could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The link type is not one this module reads.
    Unsupported(LinkType),
    /// The frame is shorter than its link-layer header.
    Truncated,
}

/// Most VLAN tags accepted in one Ethernet frame.
const MAX_VLAN_TAGS: usize = 8;

/// Returns true if [`decode_link`] understands `link`.
pub fn is_supported(link: LinkType) -> bool {
    matches!(
        link,
        LinkType::NULL
            | LinkType::ETHERNET
            | LinkType::RAW_12
            | LinkType::RAW_14
            | LinkType::RAW
            | LinkType::LOOP
            | LinkType::LINUX_SLL
            | LinkType::IPV4
            | LinkType::IPV6
            | LinkType::LINUX_SLL2
    )
}

/// Strips the link-layer header of `data` captured on a `link` interface.
pub fn decode_link(link: LinkType, data: &[u8]) -> Result<Network<'_>, LinkError> {
    match link {
        LinkType::ETHERNET => ethernet(data),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => Ok(raw_ip(data)),
        LinkType::IPV4 => Ok(Network::Ipv4(data)),
        LinkType::IPV6 => Ok(Network::Ipv6(data)),
        LinkType::LINUX_SLL => {
            let (et, rest) = split_be16(data, 14, 16)?;
            Ok(by_ethertype(et, rest))
        }
        LinkType::LINUX_SLL2 => {
            let (et, rest) = split_be16(data, 0, 20)?;
            Ok(by_ethertype(et, rest))
        }
        LinkType::NULL | LinkType::LOOP => {
            let head: [u8; 4] = data.get(..4).and_then(|h| h.try_into().ok()).ok_or(LinkError::Truncated)?;
            let rest = data.get(4..).unwrap_or_default();
            let family = if link == LinkType::LOOP {
                u32::from_be_bytes(head)
            } else {
                // Host byte order of the capturing machine: families are small numbers,
                // so the order that gives a value below 256 is the right one.
                let le = u32::from_le_bytes(head);
                if le < 256 { le } else { u32::from_be_bytes(head) }
            };
            Ok(match family {
                2 => Network::Ipv4(rest),
                // AF_INET6 on the BSDs (24), FreeBSD (28), macOS (30), Linux (10).
                10 | 24 | 28 | 30 => Network::Ipv6(rest),
                _ => Network::Other,
            })
        }
        other => Err(LinkError::Unsupported(other)),
    }
}

fn split_be16(data: &[u8], at: usize, header: usize) -> Result<(u16, &[u8]), LinkError> {
    let v = data.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or(LinkError::Truncated)?;
    let rest = data.get(header..).ok_or(LinkError::Truncated)?;
    Ok((v, rest))
}

fn raw_ip(data: &[u8]) -> Network<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Network::Ipv4(data),
        Some(6) => Network::Ipv6(data),
        _ => Network::Other,
    }
}

fn by_ethertype(et: u16, rest: &[u8]) -> Network<'_> {
    match et {
        0x0800 => Network::Ipv4(rest),
        0x86dd => Network::Ipv6(rest),
        _ => Network::Other,
    }
}

fn ethernet(data: &[u8]) -> Result<Network<'_>, LinkError> {
    let (mut et, mut rest) = split_be16(data, 12, 14)?;
    for _ in 0..MAX_VLAN_TAGS {
        if !matches!(et, 0x8100 | 0x88a8 | 0x9100) {
            break;
        }
        // Tag: 2 bytes TCI, then the next EtherType.
        (et, rest) = split_be16(rest, 2, 4)?;
    }
    Ok(by_ethertype(et, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_both_orders() {
        let mut le = vec![2, 0, 0, 0];
        le.push(0x45);
        assert!(matches!(decode_link(LinkType::NULL, &le), Ok(Network::Ipv4(_))));
        let be = [0, 0, 0, 30, 0x60];
        assert!(matches!(decode_link(LinkType::NULL, &be), Ok(Network::Ipv6(_))));
        assert!(matches!(decode_link(LinkType::LOOP, &be), Ok(Network::Ipv6(_))));
        assert_eq!(decode_link(LinkType::NULL, &[2, 0]), Err(LinkError::Truncated));
    }

    #[test]
    fn unsupported_and_short() {
        assert_eq!(decode_link(LinkType(147), &[0; 40]), Err(LinkError::Unsupported(LinkType(147))));
        assert_eq!(decode_link(LinkType::ETHERNET, &[0; 13]), Err(LinkError::Truncated));
        // VLAN tag cut in the middle.
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00]);
        assert_eq!(decode_link(LinkType::ETHERNET, &f), Err(LinkError::Truncated));
        // Non-IP EtherType (ARP).
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert_eq!(decode_link(LinkType::ETHERNET, &f), Ok(Network::Other));
    }
}
