//! Writers → reader round-trips and reader error handling.

use std::io::Read;

use wsprobe_flow::{
    CaptureErrorKind, CaptureFormat, CaptureReader, LinkType, PcapOptions, PcapWriter, PcapngWriter,
};

#[derive(Debug, PartialEq, Eq)]
struct Owned {
    number: u64,
    ts: i64,
    iface: u32,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

fn read_all<R: Read>(r: R) -> (Vec<Owned>, Option<wsprobe_flow::CaptureError>) {
    let mut reader = CaptureReader::new(r).expect("header");
    let mut out = Vec::new();
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => out.push(Owned {
                number: p.number,
                ts: p.ts_nanos,
                iface: p.interface,
                link: p.link_type,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            Ok(None) => return (out, None),
            Err(e) => {
                // After an error the reader stays finished.
                assert!(matches!(reader.next_packet(), Ok(None)));
                return (out, Some(e));
            }
        }
    }
}

/// A reader that hands out one byte per call, like a slow pipe.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(dst)) => {
                *dst = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

const TS: i64 = 1_700_000_000_123_456_789;

fn pcap_file(opts: PcapOptions, packets: &[(i64, Vec<u8>, u32)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), opts).unwrap();
    for (ts, d, o) in packets {
        w.write_packet(*ts, d, *o).unwrap();
    }
    w.into_inner()
}

fn sample_packets() -> Vec<(i64, Vec<u8>, u32)> {
    vec![
        (TS, vec![1, 2, 3], 3),
        (TS + 1_500, (0..=255).collect(), 1000),
        (TS + 2_000_000_000, Vec::new(), 60),
        // Bigger than the reader's initial 64 KiB buffer.
        (TS + 3_000_000_000, vec![0xab; 200_000], 200_000),
    ]
}

#[test]
fn pcap_all_variants_roundtrip() {
    for nanos in [false, true] {
        for big_endian in [false, true] {
            let opts = PcapOptions { nanos, big_endian, snaplen: 65535, link_type: LinkType::LINUX_SLL };
            let file = pcap_file(opts, &sample_packets());
            let reader = CaptureReader::new(&file[..]).unwrap();
            assert_eq!(reader.format(), CaptureFormat::Pcap { nanos, big_endian });
            for (got, err) in [read_all(&file[..]), read_all(Trickle(&file))] {
                assert!(err.is_none(), "{err:?}");
                assert_eq!(got.len(), 4);
                for (i, (p, (ts, d, o))) in got.iter().zip(sample_packets()).enumerate() {
                    assert_eq!(p.number, i as u64 + 1);
                    let want_ts = if nanos { ts } else { ts - ts % 1000 };
                    assert_eq!(p.ts, want_ts, "nanos={nanos} big={big_endian}");
                    assert_eq!(p.data, d);
                    assert_eq!(p.orig_len, o);
                    assert_eq!(p.iface, 0);
                    assert_eq!(p.link, LinkType::LINUX_SLL);
                }
            }
        }
    }
}

#[test]
fn pcapng_sections_interfaces_tsresol() {
    for big in [false, true] {
        let mut w = PcapngWriter::with_byte_order(Vec::new(), big).unwrap();
        let eth = w.add_interface(LinkType::ETHERNET, 0).unwrap();
        let raw_us = w.add_interface_with_tsresol(LinkType::RAW, 96, 6).unwrap();
        // 2^-20 s units.
        let sll_p2 = w.add_interface_with_tsresol(LinkType::LINUX_SLL2, 0, 0x80 | 20).unwrap();
        w.write_block(0x0BAD_F00D, b"unknown block, skipped").unwrap();
        w.write_packet(eth, TS, b"eth", 3).unwrap();
        w.write_packet(raw_us, TS, b"raw!!", 1500).unwrap();
        w.write_packet(sll_p2, 1_500_000_000_001, b"sll2", 4).unwrap();
        w.write_simple_packet(b"simple", 6).unwrap();
        // Second section: interface ids restart.
        w.new_section().unwrap();
        let lo = w.add_interface(LinkType::NULL, 0).unwrap();
        assert_eq!(lo, 0);
        w.write_packet(lo, TS + 7, b"null", 4).unwrap();
        let file = w.into_inner();

        let reader = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(reader.format(), CaptureFormat::PcapNg);
        for (got, err) in [read_all(&file[..]), read_all(Trickle(&file))] {
            assert!(err.is_none(), "{err:?}");
            let summary: Vec<(u64, u32, LinkType, &[u8], u32)> =
                got.iter().map(|p| (p.number, p.iface, p.link, p.data.as_slice(), p.orig_len)).collect();
            assert_eq!(
                summary,
                vec![
                    (1, 0, LinkType::ETHERNET, &b"eth"[..], 3),
                    (2, 1, LinkType::RAW, &b"raw!!"[..], 1500),
                    (3, 2, LinkType::LINUX_SLL2, &b"sll2"[..], 4),
                    (4, 0, LinkType::ETHERNET, &b"simple"[..], 6),
                    (5, 3, LinkType::NULL, &b"null"[..], 4),
                ]
            );
            assert_eq!(got[0].ts, TS);
            assert_eq!(got[1].ts, TS - TS % 1000);
            // 1500 s is exact in 2^-20 s units; the extra nanosecond is not.
            assert_eq!(got[2].ts, 1_500_000_000_000);
            // Simple packets have no timestamp: they keep the previous one.
            assert_eq!(got[3].ts, got[2].ts);
            assert_eq!(got[4].ts, TS + 7);
        }
    }
}

#[test]
fn pcapng_simple_packet_respects_snaplen() {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.add_interface(LinkType::RAW, 4).unwrap();
    w.write_simple_packet(b"abcdefgh", 100).unwrap();
    let (got, err) = read_all(&w.into_inner()[..]);
    assert!(err.is_none());
    assert_eq!(got[0].data, b"abcd");
    assert_eq!(got[0].orig_len, 100);
}

#[test]
fn truncated_pcap_returns_previous_packets_then_error() {
    let file = pcap_file(
        PcapOptions { nanos: false, big_endian: false, snaplen: 65535, link_type: LinkType::ETHERNET },
        &[(TS, vec![7; 10], 10), (TS, vec![8; 60], 60)],
    );
    // Second record starts at 24 + 16 + 10 = 50; keep its header and 20 bytes.
    let cut = &file[..50 + 16 + 20];
    for (got, err) in [read_all(cut), read_all(Trickle(cut))] {
        assert_eq!(got.len(), 1);
        let err = err.expect("error");
        assert_eq!(err.offset, 50);
        assert!(matches!(err.kind, CaptureErrorKind::Truncated { declared: 60, available: 20, .. }));
        assert_eq!(
            err.to_string(),
            "truncated packet record at byte 50: header says 60 bytes, file ends after 20"
        );
    }
    // Cut inside the record header.
    let (got, err) = read_all(&file[..50 + 5]);
    assert_eq!(got.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.offset, 50);
    assert!(err.to_string().contains("needs 16 bytes, file ends after 5"), "{err}");
    // Cut inside the file header.
    let err = CaptureReader::new(&file[..10]).unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(matches!(err.kind, CaptureErrorKind::TruncatedHeader { .. }));
}

#[test]
fn truncated_and_corrupt_pcapng() {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.add_interface(LinkType::ETHERNET, 0).unwrap();
    w.write_packet(0, TS, b"first", 5).unwrap();
    let before = w.into_inner().len();
    let mut w2 = PcapngWriter::new(Vec::new()).unwrap();
    w2.add_interface(LinkType::ETHERNET, 0).unwrap();
    w2.write_packet(0, TS, b"first", 5).unwrap();
    w2.write_packet(0, TS, &[1; 100], 100).unwrap();
    let file = w2.into_inner();

    let (got, err) = read_all(&file[..file.len() - 8]);
    assert_eq!(got.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.offset, before as u64);
    assert!(
        err.to_string()
            .starts_with(&format!("truncated pcapng block at byte {before}: header says 132 bytes")),
        "{err}"
    );

    // Corrupt trailing length of the second packet block.
    let mut bad = file.clone();
    let n = bad.len();
    bad[n - 4] ^= 0x40;
    let (got, err) = read_all(&bad[..]);
    assert_eq!(got.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.offset, before as u64);
    assert!(matches!(err.kind, CaptureErrorKind::Corrupt { .. }));

    // Packet for an interface that was never described.
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.add_interface(LinkType::ETHERNET, 0).unwrap();
    w.add_interface(LinkType::ETHERNET, 0).unwrap();
    w.write_packet(1, TS, b"x", 1).unwrap();
    let mut f = w.into_inner();
    let n = f.len();
    // if_id field of the EPB is 8 bytes after the block start (block is 36 bytes).
    f[n - 36 + 8] = 9;
    let (got, err) = read_all(&f[..]);
    assert!(got.is_empty());
    assert!(err.unwrap().to_string().contains("interface 9"));

    // Absurd block length.
    let mut f = file.clone();
    let at = before + 4;
    f[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let (got, err) = read_all(&f[..]);
    assert_eq!(got.len(), 1);
    assert!(matches!(err.unwrap().kind, CaptureErrorKind::TooLarge { .. }));
}

#[test]
fn garbage_and_empty_inputs() {
    let err = CaptureReader::new(&b"GET / HTTP/1.1\r\n"[..]).unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(matches!(err.kind, CaptureErrorKind::NotACapture { .. }));
    assert_eq!(err.to_string(), "not a pcap or pcapng capture: unknown magic number 0x47455420 at byte 0");
    let err = CaptureReader::new(&b""[..]).unwrap_err();
    assert!(matches!(err.kind, CaptureErrorKind::Empty));
    let err = CaptureReader::new(&b"\xd4\xc3"[..]).unwrap_err();
    assert!(matches!(err.kind, CaptureErrorKind::NotACapture { .. }));
    // pcapng magic with a bad byte-order magic.
    let err = CaptureReader::new(&b"\x0a\x0d\x0d\x0a\x1c\0\0\0XXXXXXXXXXXXXXXXXXXX"[..])
        .map(|mut r| r.next_packet().map(|p| p.is_some()))
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("byte-order magic"), "{err}");
}

#[test]
fn hostile_bytes_never_panic() {
    // Flip bytes all over valid files: every outcome must be Ok or Err.
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.add_interface(LinkType::ETHERNET, 0).unwrap();
    for i in 0..4u8 {
        w.write_packet(0, TS, &[i; 30], 30).unwrap();
    }
    let ng = w.into_inner();
    let pcap = pcap_file(PcapOptions::default(), &sample_packets()[..3]);
    for file in [ng, pcap] {
        for i in 0..file.len() {
            for v in [0x00u8, 0xff, 0x80] {
                let mut f = file.clone();
                f[i] = v;
                if let Ok(mut r) = CaptureReader::new(&f[..]) {
                    for _ in 0..20 {
                        match r.next_packet() {
                            Ok(Some(_)) => {}
                            _ => break,
                        }
                    }
                }
            }
        }
    }
}
