//! One captured TLS connection, sans-IO: the bytes of each direction go in as the capture
//! has them, the application data comes out decrypted, with what the handshake said.
//!
//! Records (RFC 8446 §5.1, RFC 5246 §6.2) are cut from each direction's stream (split
//! across segments or several per segment alike). ClientHello and ServerHello are read in
//! clear. Then, with the key log's secrets for the ClientHello's random:
//! - TLS 1.3: every record of outer type 23 is protected; each direction goes through its
//!   epochs in order (early data if logged, handshake, application, and each KeyUpdate's
//!   next keys), and a record that does not open with the current keys is tried with the
//!   next ones, so the move to the next epoch needs no parsing of encrypted handshake
//!   messages;
//! - TLS 1.2: a direction's records are protected from its ChangeCipherSpec on.
//!
//! A record that opens with no key (wrong or missing keys, a lost segment) stops that
//! direction with one warning: never garbage as plaintext.

use crate::hello::{self, ClientHello, ServerHello};
use crate::keylog::Secrets;
use crate::keys::RecordKey;
use crate::suite::{self, Suite};

/// Largest record payload (RFC 5246 §6.2.3: 2^14 + 2048).
const RECORD_MAX: usize = (1 << 14) + 2048;
/// Handshake bytes buffered in clear per direction (a ClientHello with big key shares
/// is a few KiB; the limit of a handshake message is 2^24, far too much to hold).
const HANDSHAKE_MAX: usize = 1 << 16;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// Whether `b` starts like a TLS handshake record carrying a ClientHello: content type
/// 22, version 3.x, then the handshake type 1 (a connection's first bytes decide it).
/// `None`: too short to tell.
pub fn looks_like_client_hello(b: &[u8]) -> Option<bool> {
    let want: [fn(u8) -> bool; 6] =
        [|x| x == HANDSHAKE, |x| x == 3, |x| x <= 4, |_| true, |_| true, |x| x == 1];
    for (i, ok) in want.iter().enumerate() {
        match b.get(i) {
            None => return None,
            Some(&x) if !ok(x) => return Some(false),
            _ => {}
        }
    }
    Some(true)
}

/// What feeding bytes produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Decrypted application data from one side.
    Data {
        /// From the client (the side that sent the ClientHello).
        from_client: bool,
        /// The plaintext.
        data: Vec<u8>,
    },
    /// An alert (decrypted or in clear).
    Alert {
        /// From the client.
        from_client: bool,
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert (RFC 8446 §6): 0 close_notify, 20 bad_record_mac, ...
        description: u8,
    },
    /// Something about the session that stops (part of) its decryption.
    Warning(String),
}

/// Whether the key log had this connection's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Not looked up yet (no ServerHello, or no protected record yet).
    NotNeeded,
    /// Found and used.
    Found,
    /// Not in the key log.
    Missing,
    /// The suite is not one that can be decrypted.
    Unsupported,
}

/// What is known of the session, for its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The version in force (0x0304 for TLS 1.3), once the ServerHello was seen.
    pub version: Option<u16>,
    /// The cipher suite chosen.
    pub suite: Option<u16>,
    /// The server name the client asked for.
    pub sni: Option<String>,
    /// The ALPN protocols the client offered.
    pub alpn: Vec<String>,
    /// Whether keys were found.
    pub keys: Keys,
}

impl Summary {
    /// `TLS 1.3 TLS_AES_128_GCM_SHA256, SNI example.com` (what is known).
    pub fn describe(&self) -> String {
        let mut s = self.version.map_or_else(|| "TLS ClientHello".to_string(), hello::version_name);
        if let Some(id) = self.suite {
            s.push(' ');
            s.push_str(&suite::suite_name(id));
        }
        if let Some(n) = &self.sni {
            s.push_str(&format!(", SNI {n}"));
        }
        s
    }
}

#[derive(Default)]
struct Direction {
    /// Bytes of an incomplete record.
    buf: Vec<u8>,
    /// Handshake bytes in clear not yet parsed.
    handshake: Vec<u8>,
    /// TLS 1.2: ChangeCipherSpec seen, records of every type are protected.
    ccs: bool,
    /// The epochs' keys in order (TLS 1.3: early, handshake, application, ...).
    epochs: Vec<RecordKey>,
    /// The epoch in use.
    epoch: usize,
    /// Stopped: what follows can no longer be decrypted.
    stopped: bool,
    /// Records seen.
    records: u64,
}

/// One TLS connection.
#[derive(Default)]
pub struct TlsConn {
    dirs: [Direction; 2],
    client: Option<ClientHello>,
    server: Option<ServerHello>,
    keys: Option<Keys>,
    /// The secrets were looked for (and the epochs set up, when found).
    keyed: bool,
    warned_early: bool,
}

fn ix(from_client: bool) -> usize {
    usize::from(!from_client)
}

fn who(from_client: bool) -> &'static str {
    if from_client { "client" } else { "server" }
}

impl TlsConn {
    /// A connection whose ClientHello has not been read yet.
    pub fn new() -> TlsConn {
        TlsConn::default()
    }

    /// What is known of the session.
    pub fn summary(&self) -> Summary {
        Summary {
            version: self.server.as_ref().map(|s| s.version),
            suite: self.server.as_ref().map(|s| s.suite),
            sni: self.client.as_ref().and_then(|c| c.sni.clone()),
            alpn: self.client.as_ref().map(|c| c.alpn.clone()).unwrap_or_default(),
            keys: self.keys.unwrap_or(Keys::NotNeeded),
        }
    }

    /// Bytes of one direction, in stream order. `lookup` finds the secrets of a client
    /// random (asked once the ServerHello is known and a protected record comes).
    pub fn feed(
        &mut self,
        from_client: bool,
        data: &[u8],
        lookup: &dyn Fn(&[u8; 32]) -> Option<Secrets>,
        out: &mut Vec<Output>,
    ) {
        let d = ix(from_client);
        if self.dirs[d].stopped {
            return;
        }
        let mut buf = std::mem::take(&mut self.dirs[d].buf);
        buf.extend_from_slice(data);
        let mut at = 0;
        while let Some(header) = buf.get(at..at + 5) {
            let header: [u8; 5] = [header[0], header[1], header[2], header[3], header[4]];
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            if !(CHANGE_CIPHER_SPEC..=24).contains(&header[0]) || header[1] != 3 || len > RECORD_MAX {
                self.stop(
                    d,
                    format!(
                        "the {}'s stream is not TLS records any more after record {} (header {}): not decrypted further",
                        who(from_client),
                        self.dirs[d].records,
                        hex::encode(header)
                    ),
                    out,
                );
                return;
            }
            let Some(payload) = buf.get(at + 5..at + 5 + len) else { break };
            self.dirs[d].records += 1;
            self.record(from_client, header, payload, lookup, out);
            at += 5 + len;
            if self.dirs[d].stopped {
                return;
            }
        }
        buf.drain(..at);
        self.dirs[d].buf = buf;
    }

    /// `len` bytes of one direction were not captured: its records cannot be cut and
    /// opened after them.
    pub fn gap(&mut self, from_client: bool, len: u64, out: &mut Vec<Output>) {
        let d = ix(from_client);
        if !self.dirs[d].stopped {
            let why = format!(
                "{len} bytes of the {}'s TLS stream were not captured: not decrypted further",
                who(from_client)
            );
            self.stop(d, why, out);
        }
    }

    fn stop(&mut self, d: usize, why: String, out: &mut Vec<Output>) {
        self.dirs[d].stopped = true;
        self.dirs[d].buf = Vec::new();
        out.push(Output::Warning(why));
    }

    fn record(
        &mut self,
        from_client: bool,
        header: [u8; 5],
        payload: &[u8],
        lookup: &dyn Fn(&[u8; 32]) -> Option<Secrets>,
        out: &mut Vec<Output>,
    ) {
        let d = ix(from_client);
        let tls12 = self.server.as_ref().is_some_and(|s| s.version < 0x0304);
        match header[0] {
            // TLS 1.3 sends one only for middlebox compatibility (RFC 8446 §D.4).
            CHANGE_CIPHER_SPEC if tls12 => self.dirs[d].ccs = true,
            CHANGE_CIPHER_SPEC => {}
            APPLICATION_DATA => self.protected(from_client, header, payload, lookup, out),
            _ if self.dirs[d].ccs => self.protected(from_client, header, payload, lookup, out),
            HANDSHAKE => self.handshake(from_client, payload, out),
            ALERT => {
                if let [level, description, ..] = *payload {
                    out.push(Output::Alert { from_client, level, description });
                }
            }
            _ => {}
        }
    }

    /// Handshake bytes in clear: the hellos.
    fn handshake(&mut self, from_client: bool, payload: &[u8], out: &mut Vec<Output>) {
        let d = ix(from_client);
        let hs = &mut self.dirs[d].handshake;
        hs.extend_from_slice(payload);
        let mut at = 0;
        while let Some(h) = hs.get(at..at + 4) {
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            let Some(body) = hs.get(at + 4..at + 4 + len) else { break };
            match (h[0], from_client) {
                (1, true) => self.client = hello::client_hello(body).or(self.client.take()),
                (2, false) => {
                    if let Some(sh) = hello::server_hello(body).filter(|s| !s.retry) {
                        self.server = Some(sh);
                    }
                }
                _ => {}
            }
            at += 4 + len;
        }
        let hs = &mut self.dirs[d].handshake;
        hs.drain(..at);
        if hs.len() > HANDSHAKE_MAX {
            hs.clear();
            let why = format!(
                "a handshake message of the {} over {HANDSHAKE_MAX} bytes: not read",
                who(from_client)
            );
            out.push(Output::Warning(why));
        }
    }

    /// Sets up the epochs from the key log, once.
    fn key(&mut self, lookup: &dyn Fn(&[u8; 32]) -> Option<Secrets>) {
        let (Some(client), Some(server)) = (&self.client, &self.server) else { return };
        let Some(suite) = suite::suite(server.suite).copied() else {
            self.keys = Some(Keys::Unsupported);
            self.keyed = true;
            return;
        };
        let Some(secrets) = lookup(&client.random) else {
            self.keys = Some(Keys::Missing);
            return;
        };
        self.keyed = true;
        let epochs = if suite.tls13 {
            tls13_epochs(suite, &secrets)
        } else {
            tls12_epochs(suite, &secrets, client, server)
        };
        match epochs {
            Some([c, s]) => {
                self.dirs[0].epochs = c;
                self.dirs[1].epochs = s;
                self.keys = Some(Keys::Found);
            }
            None => self.keys = Some(Keys::Missing),
        }
    }

    fn protected(
        &mut self,
        from_client: bool,
        header: [u8; 5],
        payload: &[u8],
        lookup: &dyn Fn(&[u8; 32]) -> Option<Secrets>,
        out: &mut Vec<Output>,
    ) {
        let d = ix(from_client);
        if self.server.is_none() {
            if !self.warned_early {
                self.warned_early = true;
                out.push(Output::Warning(format!(
                    "protected records from the {} before any ServerHello (0-RTT data, or the capture \
                     began inside the session): not decrypted",
                    who(from_client)
                )));
            }
            return;
        }
        if !self.keyed {
            let before = self.keys;
            self.key(lookup);
            if self.keys != before && self.keys != Some(Keys::Found) {
                let why = match self.keys {
                    Some(Keys::Unsupported) => "its cipher suite cannot be decrypted (only AEAD suites can)",
                    _ => "no keys for it in the key log",
                };
                out.push(Output::Warning(format!("{}: {why}; not decrypted", self.summary().describe())));
            }
        }
        if self.keys != Some(Keys::Found) {
            return;
        }
        let dir = &mut self.dirs[d];
        let mut opened = None;
        for e in dir.epoch..dir.epochs.len() {
            if e > dir.epoch {
                // A later epoch starts its sequence numbers again.
                dir.epochs[e].seq = 0;
            }
            if let Some(o) = dir.epochs[e].open(header, payload) {
                dir.epoch = e;
                opened = Some(o);
                break;
            }
        }
        if opened.is_none()
            && let Some(mut next) = dir.epochs.last().and_then(RecordKey::updated)
            && let Some(o) = next.open(header, payload)
        {
            // A KeyUpdate (RFC 8446 §4.6.3) came before this record.
            dir.epochs.push(next);
            dir.epoch = dir.epochs.len() - 1;
            opened = Some(o);
        }
        let Some(o) = opened else {
            let why = format!(
                "record {} from the {} does not authenticate with the logged keys (wrong keys, or a \
                 damaged record): not decrypted further",
                dir.records,
                who(from_client)
            );
            self.stop(d, why, out);
            return;
        };
        match o.content_type {
            APPLICATION_DATA if !o.data.is_empty() => out.push(Output::Data { from_client, data: o.data }),
            ALERT => {
                if let [level, description, ..] = *o.data {
                    out.push(Output::Alert { from_client, level, description });
                }
            }
            _ => {}
        }
    }
}

fn tls13_epochs(suite: Suite, s: &Secrets) -> Option<[Vec<RecordKey>; 2]> {
    let keys = |list: [&Option<Vec<u8>>; 3]| -> Vec<RecordKey> {
        list.iter()
            .filter_map(|x| x.as_deref())
            .filter_map(|secret| RecordKey::tls13(suite, secret))
            .collect()
    };
    let client = keys([&s.client_early, &s.client_handshake, &s.client_traffic]);
    let server = keys([&None, &s.server_handshake, &s.server_traffic]);
    (!client.is_empty() || !server.is_empty()).then_some([client, server])
}

fn tls12_epochs(suite: Suite, s: &Secrets, c: &ClientHello, sh: &ServerHello) -> Option<[Vec<RecordKey>; 2]> {
    let (client, server) = RecordKey::tls12(suite, s.master.as_deref()?, &c.random, &sh.random)?;
    Some([vec![client], vec![server]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{client_hello_body, handshake_record, server_hello_body};

    struct Session {
        client: Vec<u8>,
        server: Vec<u8>,
        secrets: Secrets,
    }

    /// A TLS 1.3 session: hellos, protected handshake records, application data both
    /// ways, a KeyUpdate on the server side.
    fn tls13_session(suite_id: u16) -> Session {
        let s = *suite::suite(suite_id).unwrap();
        let secret = |b: u8| vec![b; s.hash.output_len()];
        let secrets = Secrets {
            client_handshake: Some(secret(1)),
            server_handshake: Some(secret(2)),
            client_traffic: Some(secret(3)),
            server_traffic: Some(secret(4)),
            ..Secrets::default()
        };
        let mut client = handshake_record(1, &client_hello_body([7; 32], "ws.example"));
        let mut server = handshake_record(2, &server_hello_body([8; 32], suite_id, true));
        server.extend_from_slice(&[CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]);
        let mut sh = RecordKey::tls13(s, &secret(2)).unwrap();
        server.extend(sh.seal(HANDSHAKE, b"encrypted extensions, certificate, finished"));
        let mut ch = RecordKey::tls13(s, &secret(1)).unwrap();
        client.extend(ch.seal(HANDSHAKE, b"client finished"));
        let mut ca = RecordKey::tls13(s, &secret(3)).unwrap();
        client.extend(ca.seal(APPLICATION_DATA, b"GET / HTTP/1.1\r\n"));
        let mut sa = RecordKey::tls13(s, &secret(4)).unwrap();
        server.extend(sa.seal(HANDSHAKE, b"new session ticket"));
        server.extend(sa.seal(APPLICATION_DATA, b"HTTP/1.1 101"));
        server.extend(sa.seal(HANDSHAKE, b"key update"));
        let mut next = sa.updated().unwrap();
        server.extend(next.seal(APPLICATION_DATA, b" Switching"));
        server.extend(next.seal(ALERT, &[1, 0]));
        Session { client, server, secrets }
    }

    fn run(
        sess: &Session,
        chunk: usize,
        secrets: Option<Secrets>,
    ) -> (Vec<u8>, Vec<u8>, Vec<Output>, TlsConn) {
        let mut conn = TlsConn::new();
        let lookup = move |r: &[u8; 32]| (r == &[7; 32]).then(|| secrets.clone()).flatten();
        let mut out = Vec::new();
        // The client's hello first, then the server's flight, then the rest of the client's.
        let first = 5 + usize::from(u16::from_be_bytes([sess.client[3], sess.client[4]]));
        for piece in sess.client[..first].chunks(chunk) {
            conn.feed(true, piece, &lookup, &mut out);
        }
        for piece in sess.server.chunks(chunk) {
            conn.feed(false, piece, &lookup, &mut out);
        }
        for piece in sess.client[first..].chunks(chunk) {
            conn.feed(true, piece, &lookup, &mut out);
        }
        let mut plain = [Vec::new(), Vec::new()];
        for o in &out {
            if let Output::Data { from_client, data } = o {
                plain[ix(*from_client)].extend_from_slice(data);
            }
        }
        let [c, s] = plain;
        (c, s, out, conn)
    }

    #[test]
    fn tls13_decrypts_across_epochs_and_key_updates_in_any_segmentation() {
        for id in [0x1301, 0x1302, 0x1303] {
            let sess = tls13_session(id);
            for chunk in [1, 3, 7, 100, 100_000] {
                let (c, s, out, conn) = run(&sess, chunk, Some(sess.secrets.clone()));
                assert_eq!(c, b"GET / HTTP/1.1\r\n", "{id:x} chunk {chunk}");
                assert_eq!(s, b"HTTP/1.1 101 Switching", "{id:x} chunk {chunk}");
                assert!(out.contains(&Output::Alert { from_client: false, level: 1, description: 0 }));
                assert!(!out.iter().any(|o| matches!(o, Output::Warning(_))), "{out:?}");
                let sum = conn.summary();
                assert_eq!((sum.version, sum.suite, sum.keys), (Some(0x0304), Some(id), Keys::Found));
                assert_eq!(sum.sni.as_deref(), Some("ws.example"));
            }
        }
    }

    #[test]
    fn without_keys_or_with_wrong_ones_nothing_is_decoded_and_it_is_said_once() {
        let sess = tls13_session(0x1301);
        let (c, s, out, conn) = run(&sess, 50, None);
        assert!(c.is_empty() && s.is_empty());
        let warnings: Vec<&Output> = out.iter().filter(|o| matches!(o, Output::Warning(_))).collect();
        assert_eq!(warnings.len(), 1, "{out:?}");
        assert!(
            format!("{warnings:?}").contains("no keys") && format!("{warnings:?}").contains("SNI ws.example")
        );
        assert_eq!(conn.summary().keys, Keys::Missing);
        let mut wrong = sess.secrets.clone();
        wrong.server_traffic = Some(vec![9; 32]);
        let (c, s, out, _) = run(&sess, 50, Some(wrong));
        assert_eq!(c, b"GET / HTTP/1.1\r\n");
        assert!(s.is_empty(), "nothing from wrong keys");
        assert!(format!("{out:?}").contains("does not authenticate"), "{out:?}");
    }

    #[test]
    fn tls12_gcm_and_chacha_from_the_change_cipher_spec_on() {
        for id in [0xc02f, 0xc030, 0xcca8] {
            let s = *suite::suite(id).unwrap();
            let master = vec![5u8; 48];
            let mut client = handshake_record(1, &client_hello_body([7; 32], "h"));
            let mut server = handshake_record(2, &server_hello_body([8; 32], id, false));
            let (mut ck, mut sk) = RecordKey::tls12(s, &master, &[7; 32], &[8; 32]).unwrap();
            client.extend_from_slice(&[CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]);
            client.extend(ck.seal(HANDSHAKE, b"finished"));
            client.extend(ck.seal(APPLICATION_DATA, b"hello"));
            server.extend_from_slice(&[CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]);
            server.extend(sk.seal(HANDSHAKE, b"finished"));
            server.extend(sk.seal(APPLICATION_DATA, b"world"));
            let sess =
                Session { client, server, secrets: Secrets { master: Some(master), ..Default::default() } };
            let (c, s, out, conn) = run(&sess, 9, Some(sess.secrets.clone()));
            assert_eq!((c.as_slice(), s.as_slice()), (&b"hello"[..], &b"world"[..]), "{id:x}: {out:?}");
            assert_eq!(conn.summary().version, Some(0x0303));
        }
    }

    #[test]
    fn tls12_resumption_server_changes_cipher_spec_first() {
        // An abbreviated handshake (RFC 5246 §7.3): ServerHello, then the server's CCS
        // and Finished before the client's; the key log has the resumed session's master
        // secret under this connection's client random.
        let s = *suite::suite(0xc02b).unwrap();
        let master = vec![6u8; 48];
        let (mut ck, mut sk) = RecordKey::tls12(s, &master, &[7; 32], &[8; 32]).unwrap();
        let client_hello = handshake_record(1, &client_hello_body([7; 32], "h"));
        let mut server = handshake_record(2, &server_hello_body([8; 32], 0xc02b, false));
        server.extend_from_slice(&[CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]);
        server.extend(sk.seal(HANDSHAKE, b"server finished"));
        let mut client = vec![CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1];
        client.extend(ck.seal(HANDSHAKE, b"client finished"));
        client.extend(ck.seal(APPLICATION_DATA, b"resumed"));
        server.extend(sk.seal(APPLICATION_DATA, b"welcome back"));
        let secrets = Secrets { master: Some(master), ..Default::default() };
        let mut conn = TlsConn::new();
        let lookup = |_: &[u8; 32]| Some(secrets.clone());
        let mut out = Vec::new();
        conn.feed(true, &client_hello, &lookup, &mut out);
        conn.feed(false, &server, &lookup, &mut out);
        conn.feed(true, &client, &lookup, &mut out);
        let data: Vec<&[u8]> = out
            .iter()
            .filter_map(|o| match o {
                Output::Data { data, .. } => Some(&data[..]),
                _ => None,
            })
            .collect();
        assert_eq!(data, [&b"welcome back"[..], b"resumed"], "{out:?}");
    }

    #[test]
    fn junk_and_gaps_stop_a_direction_with_a_warning() {
        let sess = tls13_session(0x1301);
        let mut conn = TlsConn::new();
        let lookup = |_: &[u8; 32]| Some(sess.secrets.clone());
        let mut out = Vec::new();
        conn.feed(true, b"GET / HTTP/1.1\r\n\r\n", &lookup, &mut out);
        assert!(format!("{out:?}").contains("not TLS records"), "{out:?}");
        conn.feed(true, &sess.client, &lookup, &mut out);
        conn.gap(false, 100, &mut out);
        conn.feed(false, &sess.server, &lookup, &mut out);
        assert!(!out.iter().any(|o| matches!(o, Output::Data { .. })));
        assert_eq!(looks_like_client_hello(&sess.client), Some(true));
        assert_eq!(looks_like_client_hello(&[22, 3]), None);
        assert_eq!(looks_like_client_hello(b"GET /"), Some(false));
    }
}
