//! Flow table behaviour on synthesized conversations.

mod common;

use common::{Ev, run_frames};
use wsprobe_flow::{
    CloseReason, FlowConfig, FlowEvent, FlowTable, GapReason, LinkType, Packet, Side, SynthLink,
    TcpConversation,
};

const C: Side = Side::Initiator;
const S: Side = Side::Responder;

fn conv() -> TcpConversation {
    TcpConversation::new("192.168.1.10:50000".parse().unwrap(), "10.0.0.1:80".parse().unwrap())
}

fn conv6() -> TcpConversation {
    TcpConversation::new("[2001:db8::1]:40000".parse().unwrap(), "[2001:db8::2]:443".parse().unwrap())
}

/// A complete exchange: handshake, request, two-segment response, FIN/FIN.
fn exchange(mut c: TcpConversation) -> (LinkType, Vec<Vec<u8>>) {
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    f.push(c.send(C, b"GET /chat HTTP/1.1\r\n\r\n"));
    f.push(c.send(S, b"HTTP/1.1 101 Switching"));
    f.push(c.send(S, b" Protocols\r\n\r\n"));
    f.push(c.ack(C));
    f.push(c.fin(C));
    f.push(c.fin(S));
    f.push(c.ack(C));
    (c.link_type(), f)
}

/// Ethernet packet number `n` (its time `n` ns) holding `data` of a frame of `orig_len` bytes.
fn ethernet(n: u64, data: &[u8], orig_len: usize) -> Packet<'_> {
    Packet {
        number: n,
        ts_nanos: n as i64,
        interface: 0,
        link_type: LinkType::ETHERNET,
        data,
        orig_len: orig_len as u32,
    }
}

fn check_exchange(link: LinkType, frames: &[Vec<u8>]) {
    let (s, _) = run_frames(link, frames, FlowConfig::default());
    assert_eq!(s.opened.len(), 1, "{link}");
    assert!(s.opened[0].3, "syn_seen");
    assert_eq!(s.get(1, C), b"GET /chat HTTP/1.1\r\n\r\n");
    assert_eq!(s.get(1, S), b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    assert_eq!(s.closed, vec![(1, CloseReason::Fin)]);
}

#[test]
fn every_link_type_ipv4_and_ipv6() {
    let links = [
        SynthLink::Ethernet,
        SynthLink::EthernetVlan(42),
        SynthLink::EthernetQinQ { outer: 100, inner: 200 },
        SynthLink::RawIp,
        SynthLink::Sll,
        SynthLink::Sll2,
        SynthLink::Null,
        SynthLink::Loop,
    ];
    for link in links {
        let (lt, f) = exchange(conv().with_link(link));
        check_exchange(lt, &f);
        let (lt, f) = exchange(conv6().with_link(link));
        check_exchange(lt, &f);
        let (lt, f) = exchange(conv6().with_link(link).with_ipv6_extension_headers(true));
        check_exchange(lt, &f);
    }
    // Raw IP under the other raw link types.
    let (_, f) = exchange(conv().with_link(SynthLink::RawIp));
    check_exchange(LinkType::RAW_12, &f);
    check_exchange(LinkType::RAW_14, &f);
    check_exchange(LinkType::IPV4, &f);
}

#[test]
fn synth_frames_are_valid_per_etherparse() {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    for c in [conv(), conv6(), conv6().with_ipv6_extension_headers(true)] {
        let mut c = c.with_link(SynthLink::EthernetVlan(7));
        let payload = b"odd-length payload!";
        let f = c.send(S, payload);
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else { panic!("no TCP") };
        assert_eq!(tcp.payload(), payload);
        assert_eq!(tcp.source_port(), c.addr(S).port());
        let ok = match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header().to_header();
                assert_eq!(h.header_checksum, h.calc_header_checksum());
                tcp.to_header().calc_checksum_ipv4(&h, tcp.payload()).unwrap() == tcp.checksum()
            }
            Some(NetSlice::Ipv6(ip)) => {
                let h = ip.header().to_header();
                tcp.to_header().calc_checksum_ipv6(&h, tcp.payload()).unwrap() == tcp.checksum()
            }
            _ => false,
        };
        assert!(ok, "bad TCP checksum");
    }
}

#[test]
fn reordered_retransmitted_overlapping_segments() {
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    let a = c.segment(C, 0, b"0123456789");
    let b = c.segment(C, 10, b"abcdefghij");
    let d = c.segment(C, 20, b"KLMNOPQRST");
    let overlap_same = c.segment(C, 5, b"56789abcde");
    let overlap_conflict = c.segment(C, 15, b"fghiXXXXXX");
    c.advance(C, 30);
    f.extend([d, b.clone(), overlap_conflict, a.clone(), a, overlap_same, b]);
    f.push(c.fin(C));
    f.push(c.fin(S));
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    // First bytes received win: "fghij" and "KLMNO" had arrived before the conflicting copy.
    assert_eq!(s.get(1, C), b"0123456789abcdefghijKLMNOPQRST");
    assert!(s.gaps.is_empty());
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("different content"));
}

#[test]
fn conflicting_retransmission_of_delivered_bytes() {
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    f.push(c.send(C, b"hello world"));
    f.push(c.segment(C, 6, b"WORLD"));
    f.push(c.segment(C, 0, b"hello"));
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.get(1, C), b"hello world");
    assert_eq!(s.warnings.len(), 1);
}

#[test]
fn lost_segment_declared_when_peer_acks_past_it_long_enough() {
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    f.push(c.send(C, b"aaaa"));
    c.advance(C, 4); // "bbbb" lost before the capture point
    f.push(c.send(C, b"cccc"));
    f.push(c.ack(S)); // server got everything
    // The ACK proves "bbbb" was sent; it is given up 64 packets later.
    for _ in 0..64 {
        f.push(c.ack(S));
    }
    let (s, evs) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.get(1, C), b"aaaa????cccc");
    assert_eq!(s.gaps, vec![(1, C, 4, 4, GapReason::Lost)]);
    // The gap is declared before the end of capture.
    let gap_pos = evs.iter().position(|e| matches!(e, Ev::Gap { .. })).unwrap();
    let close_pos = evs.iter().position(|e| matches!(e, Ev::Closed { .. })).unwrap();
    assert!(gap_pos < close_pos);
    assert_eq!(s.closed, vec![(1, CloseReason::EndOfCapture)]);
}

#[test]
fn lost_segment_declared_at_fin_and_rst() {
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    f.push(c.send(C, b"aa"));
    c.advance(C, 3);
    f.push(c.send(C, b"bb"));
    f.push(c.fin(C));
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.get(1, C), b"aa???bb");

    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    f.push(c.send(S, b"aa"));
    c.advance(S, 3);
    f.push(c.send(S, b"bb"));
    f.push(c.rst(C));
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.get(1, S), b"aa???bb");
    assert_eq!(s.gaps, vec![(1, S, 2, 3, GapReason::Lost)]);
    assert_eq!(s.closed, vec![(1, CloseReason::Rst)]);
}

#[test]
fn buffer_cap_gives_up_the_hole() {
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    c.advance(C, 100); // lost
    for _ in 0..10 {
        f.push(c.send(C, &[b'x'; 1000]));
    }
    let cfg = FlowConfig { max_buffered_per_dir: 4000, ..FlowConfig::default() };
    let (s, _) = run_frames(c.link_type(), &f, cfg);
    assert_eq!(s.gaps[0], (1, C, 0, 100, GapReason::BufferCap));
    assert_eq!(s.get(1, C).len(), 10_100);
}

#[test]
fn sequence_wraparound() {
    let mut c = conv().with_isns(u32::MAX - 5, u32::MAX);
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    let mut want = Vec::new();
    for i in 0..6u8 {
        let chunk = [b'a' + i; 3];
        want.extend_from_slice(&chunk);
        f.push(c.send(C, &chunk));
    }
    for i in 0..6u8 {
        f.push(c.send(S, &[b'a' + i; 3]));
    }
    // Swap two client segments that straddle the wrap (ISN + 1 + 3 = 2^32 - 2)
    // and two server ones (the server's first byte is at sequence 0).
    f.swap(4, 5);
    f.swap(9, 10);
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.get(1, C), want);
    assert_eq!(s.get(1, S), want);
    assert!(s.gaps.is_empty());
}

#[test]
fn four_tuple_reuse_makes_new_connections() {
    let mut f = Vec::new();
    // Closed by FIN, then reused.
    let (_, a) = exchange(conv());
    f.extend(a);
    let mut c2 = conv().with_isns(7_000_000, 8_000_000);
    f.extend(c2.handshake());
    f.push(c2.send(C, b"second"));
    // Still open, new SYN with another ISN: the old one is superseded.
    let mut c3 = conv().with_isns(9_000_000, 1);
    f.extend(c3.handshake());
    f.push(c3.send(S, b"third"));
    // A retransmitted SYN (same ISN) does not.
    f.push(c3.handshake()[0].clone());
    let (s, _) = run_frames(LinkType::ETHERNET, &f, FlowConfig::default());
    assert_eq!(s.opened.len(), 3);
    assert_eq!(s.get(2, C), b"second");
    assert_eq!(s.get(3, S), b"third");
    assert_eq!(
        s.closed,
        vec![(1, CloseReason::Fin), (2, CloseReason::Superseded), (3, CloseReason::EndOfCapture)]
    );
}

#[test]
fn idle_eviction_uses_packet_timestamps() {
    let mut a = conv();
    let mut b = TcpConversation::new("10.9.9.9:1234".parse().unwrap(), "10.0.0.1:80".parse().unwrap());
    let cfg = FlowConfig { idle_timeout_ns: 10_000_000_000, ..FlowConfig::default() };
    let mut table = FlowTable::new(cfg);
    let mut evs = Vec::new();
    let mut n = 0;
    let mut push = |t: &mut FlowTable, ts_s: i64, frame: Vec<u8>, evs: &mut Vec<Ev>| {
        n += 1;
        let p = Packet {
            number: n,
            ts_nanos: ts_s * 1_000_000_000,
            interface: 0,
            link_type: LinkType::ETHERNET,
            data: &frame,
            orig_len: frame.len() as u32,
        };
        t.push(&p, &mut |e| evs.push(common::own(e)));
    };
    for p in a.handshake() {
        push(&mut table, 100, p, &mut evs);
    }
    let lost_then = {
        a.advance(C, 2);
        a.send(C, b"zz")
    };
    push(&mut table, 101, lost_then, &mut evs);
    for p in b.handshake() {
        push(&mut table, 105, p, &mut evs);
    }
    // 12 s later: `a` idle for 11 s > 10 s, `b` for 7 s.
    push(&mut table, 112, b.send(C, b"hi"), &mut evs);
    assert!(evs.contains(&Ev::Closed { conn: 1, reason: CloseReason::Idle }));
    assert!(evs.contains(&Ev::Gap { conn: 1, side: C, offset: 0, len: 2, reason: GapReason::Lost }));
    assert!(!evs.iter().any(|e| matches!(e, Ev::Closed { conn: 2, .. })));
    // The same 4-tuple after idle eviction is a new connection.
    push(&mut table, 200, a.send(C, b"late"), &mut evs);
    assert!(evs.iter().any(|e| matches!(e, Ev::Opened { conn: 3, syn_seen: false, .. })));
    assert_eq!(table.stats().flows_idle, 2);
}

#[test]
fn snaplen_cut_becomes_gap_and_stream_continues() {
    let mut c = conv();
    let mut table = FlowTable::new(FlowConfig::default());
    let mut s = common::Streams::default();
    let mut frames: Vec<(Vec<u8>, u32)> = c.handshake().into_iter().map(|f| (f, 0)).collect();
    frames.push((c.send(C, b"first"), 0));
    let big = c.send(C, &[b'B'; 1000]);
    frames.push((big, 900)); // keep only the first bytes, cut 900
    frames.push((c.send(C, b"after"), 0));
    for (i, (f, cut)) in frames.iter().enumerate() {
        let keep = f.len() - *cut as usize;
        let p = Packet {
            number: i as u64 + 1,
            ts_nanos: 0,
            interface: 0,
            link_type: LinkType::ETHERNET,
            data: &f[..keep],
            orig_len: f.len() as u32,
        };
        table.push(&p, &mut |e| s.add(common::own(e)));
    }
    table.finish(&mut |e| s.add(common::own(e)));
    let got = s.get(1, C);
    assert_eq!(&got[..105], [&b"first"[..], &[b'B'; 100]].concat());
    assert_eq!(s.gaps, vec![(1, C, 105, 900, GapReason::Snaplen)]);
    assert_eq!(&got[1005..], b"after");
}

#[test]
fn midstream_connection_without_syn() {
    let mut c = conv();
    c.advance(C, 1000);
    c.advance(S, 5000);
    let first = c.segment(C, 1010, b"world");
    let second = c.segment(C, 1000, b"hello, the");
    c.advance(C, 15);
    let f = vec![first, second, c.send(S, b"reply"), c.ack(C)];
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.opened, vec![(1, "192.168.1.10:50000".into(), "10.0.0.1:80".into(), false)]);
    assert_eq!(s.get(1, C), b"hello, theworld");
    assert_eq!(s.get(1, S), b"reply");
    assert!(s.gaps.is_empty());
}

#[test]
fn syn_ack_first_sets_roles() {
    let mut c = conv();
    let hs = c.handshake();
    let f = vec![hs[1].clone(), hs[2].clone(), c.send(S, b"banner")];
    let (s, _) = run_frames(c.link_type(), &f, FlowConfig::default());
    assert_eq!(s.opened, vec![(1, "192.168.1.10:50000".into(), "10.0.0.1:80".into(), true)]);
    assert_eq!(s.get(1, S), b"banner");
}

#[test]
fn table_full_evicts_idlest_and_counts_non_tcp() {
    let cfg = FlowConfig { max_flows: 4, ..FlowConfig::default() };
    let mut frames = Vec::new();
    for i in 0..6u16 {
        let mut c = TcpConversation::new(
            format!("10.0.0.{}:{}", i + 1, 1000 + i).parse().unwrap(),
            "10.1.1.1:80".parse().unwrap(),
        );
        frames.extend(c.handshake());
        frames.push(c.send(C, format!("conn{i}").as_bytes()));
    }
    // A UDP/other frame: ARP.
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    frames.push(arp);
    let mut table = FlowTable::new(cfg);
    let mut s = common::Streams::default();
    for (i, f) in frames.iter().enumerate() {
        let p = Packet {
            number: i as u64 + 1,
            ts_nanos: i as i64,
            interface: 0,
            link_type: LinkType::ETHERNET,
            data: f,
            orig_len: f.len() as u32,
        };
        table.push(&p, &mut |e| s.add(common::own(e)));
        assert!(table.tracked() <= 4);
    }
    table.finish(&mut |e| s.add(common::own(e)));
    assert_eq!(s.closed[..2], [(1, CloseReason::Evicted), (2, CloseReason::Evicted)]);
    for i in 0..6u64 {
        assert_eq!(s.get(i + 1, C), format!("conn{i}").as_bytes());
    }
    let st = table.stats();
    assert_eq!(st.flows_evicted, 2);
    assert_eq!(st.flows_opened, 6);
    assert_eq!(st.non_tcp_packets, 1);
    assert_eq!(st.tcp_packets, 24);
}

#[test]
fn unsupported_link_warns_once_per_interface() {
    let mut table = FlowTable::new(FlowConfig::default());
    let mut warnings = Vec::new();
    for (n, iface) in [(1u64, 0u32), (2, 0), (3, 1)] {
        let p = Packet {
            number: n,
            ts_nanos: 0,
            interface: iface,
            link_type: LinkType(147),
            data: &[0; 40],
            orig_len: 40,
        };
        table.push(&p, &mut |e| {
            if let FlowEvent::Warning { message, .. } = e {
                warnings.push(message);
            }
        });
    }
    assert_eq!(warnings.len(), 2);
    assert!(warnings[0].contains("link type 147"), "{}", warnings[0]);
    assert_eq!(table.stats().unsupported_link_packets, 3);
}

#[test]
fn ip_fragments_are_skipped_and_counted() {
    let mut c = conv().with_link(SynthLink::RawIp);
    let mut first = c.send(C, b"fragment me");
    first[6] = 0x20; // more fragments
    let mut later = c.send(C, b"tail");
    later[6] = 0x00;
    later[7] = 0x10; // offset 128
    // IPv6 fragment header with a non-zero offset.
    let mut c6 = conv6().with_link(SynthLink::RawIp).with_ipv6_extension_headers(true);
    let mut v6 = c6.send(C, b"six");
    v6[40 + 24 + 3] = 0x08;
    let mut t = FlowTable::new(FlowConfig::default());
    let mut opened = 0;
    for (n, d) in [first, later, v6].iter().enumerate() {
        let p = Packet {
            number: n as u64 + 1,
            ts_nanos: 0,
            interface: 0,
            link_type: LinkType::RAW,
            data: d,
            orig_len: d.len() as u32,
        };
        t.push(&p, &mut |e| opened += usize::from(matches!(e, FlowEvent::Opened { .. })));
    }
    assert_eq!(opened, 0);
    assert_eq!(t.stats().ip_fragments, 3);
    assert_eq!(t.stats().tcp_packets, 0);
}

#[test]
fn malformed_frames_are_counted_not_fatal() {
    let mut t = FlowTable::new(FlowConfig::default());
    let (_, frames) = exchange(conv());
    let mut n = 0;
    for f in &frames {
        for cut in 0..f.len() {
            n += 1;
            t.push(&ethernet(n, &f[..cut], f.len()), &mut |_| {});
        }
    }
    t.finish(&mut |_| {});
    assert!(t.stats().malformed_packets > 0);
}

/// Pushes frames one by one through a table, returning the largest
/// `buffered_bytes` seen and the gaps declared.
fn max_buffered(frames: &[Vec<u8>], cfg: FlowConfig) -> (usize, Vec<(Side, u64, GapReason)>) {
    let mut t = FlowTable::new(cfg);
    let mut max = 0;
    let mut gaps = Vec::new();
    for (n, d) in frames.iter().enumerate() {
        let p = Packet {
            number: n as u64 + 1,
            ts_nanos: n as i64 * 1000,
            interface: 0,
            link_type: LinkType::ETHERNET,
            data: d,
            orig_len: d.len() as u32,
        };
        t.push(&p, &mut |e| {
            if let FlowEvent::Gap { side, offset, reason, .. } = e {
                gaps.push((side, offset, reason));
            }
        });
        max = max.max(t.buffered_bytes());
    }
    (max, gaps)
}

#[test]
fn endless_reordering_stays_bounded() {
    // A hole the capture never fills, then 20 MB behind it, the server ACKing all of
    // it: the hole is given up after the reorder bound, memory stays small.
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    c.advance(C, 1000);
    for _ in 0..20_000 {
        f.push(c.send(C, &[b'x'; 1000]));
        f.push(c.ack(S));
    }
    let (max, gaps) = max_buffered(&f, FlowConfig::default());
    assert_eq!(gaps, vec![(C, 0, GapReason::Lost)]);
    assert!(max < 200_000, "{max}");

    // No ACK ever proves the hole: the 1 MiB buffer cap gives it up.
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    c.advance(C, 1000);
    for _ in 0..20_000 {
        f.push(c.send(C, &[b'x'; 1000]));
    }
    let cfg = FlowConfig { max_buffered_per_dir: 1 << 20, ..FlowConfig::default() };
    let (max, gaps) = max_buffered(&f, cfg);
    assert_eq!(gaps, vec![(C, 0, GapReason::BufferCap)]);
    assert!(max <= (1 << 20) + 2000, "{max}");

    // The server's data acknowledges client bytes that never come: the server's
    // segments wait, within the cap and the reorder bound, then go through.
    let mut c = conv();
    let mut f: Vec<Vec<u8>> = c.handshake().into();
    c.advance(C, 500);
    for _ in 0..5_000 {
        f.push(c.send(S, &[b'y'; 1000]));
    }
    let (max, gaps) = max_buffered(&f, FlowConfig::default());
    assert_eq!(gaps, vec![(C, 0, GapReason::Lost)]);
    assert!(max < 200_000, "{max}");
}

/// A connection that ended (FIN) keeps absorbing its late segments (no new
/// connection opens for them), and ended connections stay bounded by `max_flows`
/// like open ones.
#[test]
fn ended_connections_absorb_late_segments_and_stay_bounded() {
    let cfg = FlowConfig { max_flows: 4, ..FlowConfig::default() };
    let mut table = FlowTable::new(cfg);
    let mut opened = 0;
    let mut n = 0;
    for i in 0..10u16 {
        let c = TcpConversation::new(
            format!("10.0.0.{}:{}", i + 1, 2000 + i).parse().unwrap(),
            "10.1.1.1:80".parse().unwrap(),
        );
        let (_, mut frames) = exchange(c.clone());
        // A late retransmission of the request, after both FINs.
        let mut again = c;
        again.handshake();
        frames.push(again.send(C, b"GET /chat HTTP/1.1\r\n\r\n"));
        for f in &frames {
            n += 1;
            table.push(&ethernet(n, f, f.len()), &mut |e| {
                opened += usize::from(matches!(e, FlowEvent::Opened { .. }))
            });
            assert!(table.tracked() <= 8, "tracked {}", table.tracked());
        }
    }
    assert_eq!(opened, 10);
    // Per connection: the last ACK after both FINs, and the late retransmission.
    assert_eq!(table.stats().ignored_tcp_packets, 20);
}
