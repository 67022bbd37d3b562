//! WebSocket inside HTTP CONNECT tunnels and TLS, on synthetic captures: the same
//! messages as in clear whatever the record and segment sizes, the proxy hop and the TLS
//! session named, and without keys (or with wrong ones) a warning and no message.

use std::sync::Arc;
use wsprobe_dissect::fuzz::wrapped_capture;
use wsprobe_dissect::{Dissection, KeyLog, Options, Record, dissect_bytes};

/// A masked "Hello" from the client, a 300-byte binary, a close; "Hello" and a close
/// from the server.
fn stream() -> (Vec<u8>, Vec<u8>) {
    let mut client = hex("818537fa213d7f9f4d5158");
    client.extend([0x82, 0xfe, 0x01, 0x2c, 0, 0, 0, 0]);
    client.extend((0..300u32).map(|i| i as u8));
    client.extend(hex("88829a9b9c9d9973"));
    let server = hex("810548656c6c6f880203e8");
    (client, server)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn dissect(capture: &[u8], keylog: Option<&str>) -> Dissection {
    let opts = Options {
        keylog: keylog.map(|k| Arc::new(KeyLog::parse(k.as_bytes()))),
        payload: wsprobe_dissect::PayloadMode::Full,
        ..Options::default()
    };
    let d = dissect_bytes(capture, &opts);
    assert!(d.error.is_none(), "{:?}", d.error);
    d
}

fn messages(d: &Dissection) -> Vec<(String, String, u64, Option<String>)> {
    d.messages()
        .map(|m| (format!("{:?}", m.dir), m.opcode.to_string(), m.len, m.payload_b64.clone()))
        .collect()
}

fn warnings(d: &Dissection) -> Vec<String> {
    d.records
        .iter()
        .filter_map(|r| match r {
            Record::Warning(w) => Some(w.message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn tls_and_tunnels_give_the_messages_of_the_clear_stream() {
    let (client, server) = stream();
    let (plain, _) = wrapped_capture(None, false, &client, &server, 100, 1400);
    let clear = messages(&dissect(&plain, None));
    assert_eq!(clear.len(), 5, "{clear:?}");
    for (record, segment) in [(1, 1400), (7, 5), (100, 33), (16384, 1400), (500, 1)] {
        for connect in [None, Some("HTTP/1.1 200 Connection established")] {
            let (cap, keylog) = wrapped_capture(connect, true, &client, &server, record, segment);
            let d = dissect(&cap, keylog.as_deref());
            let at = format!("records of {record}, segments of {segment}, tunnel {}", connect.is_some());
            assert_eq!(messages(&d), clear, "{at}: {:?}", warnings(&d));
            let s = d.sessions().next().expect("a session");
            assert_eq!(s.tls_version.as_deref(), Some("TLS 1.3"), "{at}");
            assert_eq!(s.tls_suite.as_deref(), Some("TLS_AES_128_GCM_SHA256"), "{at}");
            assert_eq!(s.sni.as_deref(), Some("ws.example"), "{at}");
            assert_eq!(s.proxy.is_some(), connect.is_some(), "{at}");
            assert!(warnings(&d).is_empty(), "{at}: {:?}", warnings(&d));
        }
    }
}

#[test]
fn a_plain_session_through_a_tunnel_names_the_proxy() {
    let (client, server) = stream();
    let (cap, _) = wrapped_capture(Some("HTTP/1.1 200 OK"), false, &client, &server, 0, 50);
    let d = dissect(&cap, None);
    assert_eq!(messages(&d).len(), 5);
    let s = d.sessions().next().expect("a session");
    assert_eq!(s.proxy.as_deref(), Some("via proxy 10.2.0.2:3128 (CONNECT ws.example:443)"));
    assert_eq!((s.tls_version.as_deref(), s.path.as_deref()), (None, Some("/w")));
    assert!(d.transcript().contains("via proxy 10.2.0.2:3128"), "{}", d.transcript());
}

#[test]
fn a_refused_tunnel_is_said_and_not_decoded() {
    let (client, server) = stream();
    let (cap, _) =
        wrapped_capture(Some("HTTP/1.1 407 Proxy Authentication Required"), false, &client, &server, 0, 50);
    let d = dissect(&cap, None);
    assert_eq!(d.sessions().count(), 0);
    let w = warnings(&d);
    assert!(w.iter().any(|w| w.contains("answered CONNECT ws.example:443 with 407")), "{w:?}");
}

#[test]
fn without_keys_or_with_wrong_ones_a_warning_and_no_message() {
    let (client, server) = stream();
    let (cap, keylog) = wrapped_capture(None, true, &client, &server, 100, 700);
    let keylog = keylog.expect("key log");
    let d = dissect(&cap, None);
    assert_eq!((d.sessions().count(), d.messages().count()), (0, 0));
    let w = warnings(&d);
    assert!(w.iter().any(|w| w.contains("TLS 1.3 TLS_AES_128_GCM_SHA256, SNI ws.example: no keys")), "{w:?}");
    // Wrong application secrets: the handshake epoch opens, the data does not.
    let wrong = keylog.replace("0303030303", "0909090909").replace("0404040404", "0a0a0a0a0a");
    let d = dissect(&cap, Some(&wrong));
    assert_eq!(d.messages().count(), 0);
    let w = warnings(&d);
    assert_eq!(w.iter().filter(|w| w.contains("does not authenticate")).count(), 2, "{w:?}");
    // Junk lines around the right ones change nothing.
    let junk = format!("garbage\nCLIENT_RANDOM zz 00\n{keylog}\n# end\n\u{1}\u{2}");
    assert_eq!(messages(&dissect(&cap, Some(&junk))).len(), 5);
}

#[test]
fn a_lost_segment_stops_decryption_with_a_warning() {
    let (client, server) = stream();
    let (cap, keylog) = wrapped_capture(None, true, &client, &server, 50, 40);
    // Drop the 12th packet (inside the client's protected records).
    let packets = wsprobe_flow::CaptureReader::new(&cap[..]).expect("pcap");
    drop(packets);
    let mut reader = wsprobe_flow::CaptureReader::new(&cap[..]).expect("pcap");
    let mut w =
        wsprobe_flow::PcapWriter::new(Vec::new(), wsprobe_flow::PcapOptions::default()).expect("writer");
    let mut n = 0;
    while let Some(p) = reader.next_packet().expect("packet") {
        n += 1;
        if n != 12 {
            w.write_packet(p.ts_nanos, p.data, p.orig_len).expect("write");
        }
    }
    let d = dissect(&w.into_inner(), keylog.as_deref());
    let w = warnings(&d);
    assert!(w.iter().any(|w| w.contains("not captured")), "{w:?}");
    assert!(messages(&d).len() < 5);
}
