//! Builders of TLS sessions for tests and fuzz targets (not for decryption): hellos in
//! clear, and a whole TLS 1.3 session sealed with known secrets, with its key log.

use crate::hello::{EXT_ALPN, EXT_SERVER_NAME};
use crate::keys::RecordKey;
use crate::suite;

/// A ClientHello body with `random`, SNI `sni` and ALPN http/1.1.
pub fn client_hello_body(random: [u8; 32], sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    let name = sni.as_bytes();
    let mut list = vec![0u8];
    list.extend_from_slice(&(name.len() as u16).to_be_bytes());
    list.extend_from_slice(name);
    ext.extend_from_slice(&EXT_SERVER_NAME.to_be_bytes());
    ext.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    ext.extend_from_slice(&EXT_ALPN.to_be_bytes());
    ext.extend_from_slice(&11u16.to_be_bytes());
    ext.extend_from_slice(&9u16.to_be_bytes());
    ext.push(8);
    ext.extend_from_slice(b"http/1.1");
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend_from_slice(&ext);
    b
}

/// A ServerHello body; `tls13` adds supported_versions 0x0304.
pub fn server_hello_body(random: [u8; 32], suite: u16, tls13: bool) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    if tls13 {
        b.extend_from_slice(&[0, 6, 0, 43, 0, 2, 3, 4]);
    }
    b
}

/// A handshake record (content type 22) holding one message.
pub fn handshake_record(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![msg_type, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(body);
    let mut r = vec![22, 3, 1, 0, 0];
    r[3..5].copy_from_slice(&(hs.len() as u16).to_be_bytes());
    r.extend_from_slice(&hs);
    r
}

/// A TLS 1.3 session (TLS_AES_128_GCM_SHA256, SNI `ws.example`) sealed with fixed
/// secrets: each side's bytes, and the key log that decrypts them.
pub struct Session {
    /// The client's ClientHello record.
    pub client_hello: Vec<u8>,
    /// The server's ServerHello, ChangeCipherSpec and protected handshake record.
    pub server_hello: Vec<u8>,
    /// The client's protected Finished, then `client`'s bytes in records.
    pub client: Vec<u8>,
    /// `server`'s bytes in records.
    pub server: Vec<u8>,
    /// The NSS key log of the session.
    pub keylog: String,
}

/// Seals `client` and `server` (application data) in records of at most `record`
/// bytes. `random` is the client random (the key log's index).
pub fn tls13_session(random: [u8; 32], client: &[u8], server: &[u8], record: usize) -> Session {
    let Some(&s) = suite::suite(0x1301) else { unreachable!("TLS_AES_128_GCM_SHA256 is in the table") };
    let secret = |b: u8| vec![b; 32];
    let key = |b| RecordKey::tls13(s, &secret(b)).unwrap_or_else(|| unreachable!("32-byte secret"));
    let mut server_hello = handshake_record(2, &server_hello_body([8; 32], 0x1301, true));
    server_hello.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
    server_hello.extend(key(2).seal(22, b"encrypted extensions, certificate, finished"));
    let mut c = key(1).seal(22, b"client finished");
    let mut ck = key(3);
    for piece in client.chunks(record.max(1)) {
        c.extend(ck.seal(23, piece));
    }
    let mut sv = Vec::new();
    let mut sk = key(4);
    for piece in server.chunks(record.max(1)) {
        sv.extend(sk.seal(23, piece));
    }
    let r = hex::encode(random);
    let line = |label: &str, b: u8| format!("{label} {r} {}\n", hex::encode(secret(b)));
    let keylog = [
        line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1),
        line("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
        line("CLIENT_TRAFFIC_SECRET_0", 3),
        line("SERVER_TRAFFIC_SECRET_0", 4),
    ]
    .concat();
    Session {
        client_hello: handshake_record(1, &client_hello_body(random, "ws.example")),
        server_hello,
        client: c,
        server: sv,
        keylog,
    }
}

/// The fuzz target of the record layer: a TLS 1.3 session's hellos, then `data` as
/// both sides' records (`data[0]` picks the piece size, then the pieces alternate
/// between the sides), decrypted with the session's key log. Never a panic, and the
/// output is bounded by the input.
pub fn fuzz_records(data: &[u8]) {
    let Some((&size, rest)) = data.split_first() else { return };
    let s = tls13_session([7; 32], b"", b"", 100);
    let keys = crate::KeyLog::parse(s.keylog.as_bytes());
    let lookup = |r: &[u8; 32]| keys.get(r).cloned();
    let mut conn = crate::TlsConn::new();
    let mut out = Vec::new();
    conn.feed(true, &s.client_hello, &lookup, &mut out);
    conn.feed(false, &s.server_hello, &lookup, &mut out);
    for (i, piece) in rest.chunks(1 + usize::from(size)).enumerate() {
        conn.feed(i % 2 == 0, piece, &lookup, &mut out);
    }
    let plain: usize = out
        .iter()
        .map(|o| match o {
            crate::Output::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert!(plain <= rest.len(), "more plaintext than input");
}
