//! What wraps a connection's WebSocket bytes: nothing (most connections), an HTTP
//! CONNECT tunnel (RFC 9110 §9.3.6; RFC 6455 §4.1 sends wss:// through proxies this
//! way), TLS, or TLS inside a tunnel. A connection's first bytes decide; the inner
//! bytes then reach the WebSocket engine as a stream of their own (its offsets count
//! inner bytes), each piece in the packet that completed it.

use std::sync::{Arc, Mutex};
use wsprobe_flow::Side;
use wsprobe_tls::{KeyLog, Secrets, TlsConn};

/// The heads of a CONNECT exchange are read up to this size.
const HEAD_MAX: usize = 16 << 10;

/// The secrets a dissection can use: the key log files given, and those embedded in the
/// capture (pcapng Decryption Secrets Blocks), added as they are read.
#[derive(Debug, Default)]
pub struct Keys {
    /// From `--keylog`.
    pub given: Option<Arc<KeyLog>>,
    /// From the capture itself.
    pub embedded: Arc<Mutex<KeyLog>>,
}

impl Keys {
    /// The secrets of the connection whose ClientHello had `random`.
    pub fn lookup(&self, random: &[u8; 32]) -> Option<Secrets> {
        if let Some(s) = self.given.as_ref().and_then(|g| g.get(random)) {
            return Some(s.clone());
        }
        self.embedded.lock().ok()?.get(random).cloned()
    }
}

/// A piece of the inner stream, or something to report.
pub(crate) enum Piece {
    /// Inner bytes of one side at an inner offset.
    Data(Side, u64, Vec<u8>),
    /// Inner bytes lost (for TLS: the ciphertext's length).
    Gap(Side, u64, u64),
    /// A warning about the connection.
    Warning(String),
}

/// The wrapping of one connection.
pub(crate) enum Layer {
    /// Not decided yet: the first bytes of one side, too few to tell.
    Undecided(Option<Held>),
    /// Plain TCP: the bytes go to the engine unchanged.
    Plain,
    /// A tunnel, TLS, or both.
    Wrapped(Box<Wrapped>),
}

/// The first bytes of a connection while they are too few to decide on.
pub(crate) struct Held {
    /// The side that sent them.
    pub side: Side,
    /// Their flow offset.
    pub offset: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

enum Tunnel {
    /// Reading the CONNECT request and its answer; bytes held per side.
    Opening { held: [Vec<u8>; 2], request_end: Option<usize> },
    /// Open: what follows the heads is the inner stream.
    Open,
    /// Refused or not understood: nothing inside to decode.
    Closed,
}

/// State of a wrapped connection.
pub(crate) struct Wrapped {
    tunnel: Option<Tunnel>,
    /// The inner stream: `None` until its first bytes decide, then TLS or not.
    tls: Option<Option<Box<TlsConn>>>,
    /// Inner offsets per side (what the engine sees).
    offsets: [u64; 2],
    /// "via proxy ADDR (CONNECT target)", once the tunnel is open.
    pub proxy: Option<String>,
    /// The inner stream's first bytes while too few to decide on.
    held: Option<Held>,
}

fn ix(side: Side) -> usize {
    match side {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

fn head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Whether `b` (the first bytes of one side) shows a TLS record: a handshake from the
/// initiator, or any record from either side of a session the capture began inside.
fn looks_tls(side: Side, b: &[u8]) -> bool {
    match side {
        Side::Initiator => wsprobe_tls::looks_like_client_hello(b) == Some(true),
        Side::Responder => matches!(b, [20..=23, 3, 0..=4, ..]),
    }
}

impl Layer {
    /// Decides the layer from the first bytes of one side; `None` while they are a
    /// prefix of both something wrapped and something plain (unless `last`: then what
    /// they show decides, plain if nothing).
    pub(crate) fn decide(side: Side, first: &[u8], last: bool) -> Option<Layer> {
        let wrapped = |tunnel: bool| {
            Layer::Wrapped(Box::new(Wrapped {
                tunnel: tunnel.then_some(Tunnel::Opening { held: Default::default(), request_end: None }),
                tls: (!tunnel).then(|| Some(Box::new(TlsConn::new()))),
                offsets: [0; 2],
                proxy: None,
                held: None,
            }))
        };
        if side == Side::Initiator && first.starts_with(b"CONNECT ") {
            return Some(wrapped(true));
        }
        if looks_tls(side, first) {
            return Some(wrapped(false));
        }
        let undecided = match side {
            Side::Initiator => {
                b"CONNECT ".starts_with(first) || wsprobe_tls::looks_like_client_hello(first).is_none()
            }
            Side::Responder => first.len() < 3 && matches!(first, [] | [20..=23] | [20..=23, 3]),
        };
        if undecided && !last { None } else { Some(Layer::Plain) }
    }
}

impl Wrapped {
    /// The TLS session, if the inner stream is TLS.
    pub(crate) fn tls(&self) -> Option<&TlsConn> {
        self.tls.as_ref()?.as_deref()
    }

    /// Bytes of `side` (in order); `proxy_addr` names the proxy for the report.
    pub(crate) fn data(
        &mut self,
        side: Side,
        data: &[u8],
        proxy_addr: std::net::SocketAddr,
        keys: &Keys,
        out: &mut Vec<Piece>,
    ) {
        match &mut self.tunnel {
            Some(Tunnel::Closed) => {}
            Some(Tunnel::Open) | None => self.inner(side, data, keys, out),
            Some(Tunnel::Opening { held, request_end }) => {
                let i = ix(side);
                held[i].extend_from_slice(data);
                if request_end.is_none() {
                    *request_end = head_end(&held[0]);
                }
                let (Some(req_end), Some(resp_end)) = (*request_end, head_end(&held[1])) else {
                    if held[0].len() > HEAD_MAX || held[1].len() > HEAD_MAX {
                        out.push(Piece::Warning(format!(
                            "a CONNECT exchange with heads over {HEAD_MAX} bytes: not decoded"
                        )));
                        self.tunnel = Some(Tunnel::Closed);
                    }
                    return;
                };
                let held = std::mem::take(held);
                let target = String::from_utf8_lossy(&held[0][..req_end])
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("?")
                    .to_string();
                let status = String::from_utf8_lossy(&held[1][..resp_end])
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse::<u16>().ok());
                if !status.is_some_and(|s| (200..300).contains(&s)) {
                    let st = status.map_or_else(|| "no valid status".into(), |s| s.to_string());
                    out.push(Piece::Warning(format!(
                        "the proxy {proxy_addr} answered CONNECT {target} with {st}"
                    )));
                    self.tunnel = Some(Tunnel::Closed);
                    return;
                }
                self.proxy = Some(format!("via proxy {proxy_addr} (CONNECT {target})"));
                self.tunnel = Some(Tunnel::Open);
                for (side, rest) in
                    [(Side::Initiator, &held[0][req_end..]), (Side::Responder, &held[1][resp_end..])]
                {
                    if !rest.is_empty() {
                        self.inner(side, rest, keys, out);
                    }
                }
            }
        }
    }

    /// `len` bytes of `side` lost.
    pub(crate) fn gap(&mut self, side: Side, len: u64, out: &mut Vec<Piece>) {
        match (&mut self.tunnel, &mut self.tls) {
            (Some(Tunnel::Opening { .. }), _) => {
                out.push(Piece::Warning("bytes of a CONNECT exchange were not captured: not decoded".into()));
                self.tunnel = Some(Tunnel::Closed);
            }
            (Some(Tunnel::Closed), _) => {}
            (_, Some(Some(tls))) => {
                let mut o = Vec::new();
                tls.gap(side == Side::Initiator, len, &mut o);
                self.tls_outputs(o, out);
                self.lost(side, len, out);
            }
            _ => self.lost(side, len, out),
        }
    }

    fn lost(&mut self, side: Side, len: u64, out: &mut Vec<Piece>) {
        let i = ix(side);
        out.push(Piece::Gap(side, self.offsets[i], len));
        self.offsets[i] += len;
    }

    fn pass(&mut self, side: Side, data: Vec<u8>, out: &mut Vec<Piece>) {
        let i = ix(side);
        let at = self.offsets[i];
        self.offsets[i] += data.len() as u64;
        out.push(Piece::Data(side, at, data));
    }

    /// Decides whether the inner stream is TLS; false while undecided.
    fn decide_inner(&mut self, side: Side, first: &[u8], last: bool) -> bool {
        self.tls = match Layer::decide(side, first, last) {
            None => return false,
            Some(Layer::Wrapped(w)) if w.tunnel.is_none() => Some(Some(Box::new(TlsConn::new()))),
            Some(_) => Some(None),
        };
        true
    }

    fn inner(&mut self, side: Side, data: &[u8], keys: &Keys, out: &mut Vec<Piece>) {
        if self.tls.is_none() {
            // The inner stream's first bytes decide as a connection's do (no tunnel in
            // a tunnel); what is too short to tell is held, until the other side speaks.
            if let Some(h) = self.held.take_if(|h| h.side != side) {
                self.decide_inner(h.side, &h.bytes, true);
                self.inner(h.side, &h.bytes, keys, out);
                return self.inner(side, data, keys, out);
            }
            let mut held = self.held.take().map(|h| h.bytes).unwrap_or_default();
            held.extend_from_slice(data);
            if !self.decide_inner(side, &held, false) {
                self.held = Some(Held { side, offset: 0, bytes: held });
                return;
            }
            return self.inner(side, &held, keys, out);
        }
        let Some(Some(tls)) = &mut self.tls else {
            self.pass(side, data.to_vec(), out);
            return;
        };
        let mut o = Vec::new();
        tls.feed(side == Side::Initiator, data, &|r| keys.lookup(r), &mut o);
        self.tls_outputs(o, out);
    }

    fn tls_outputs(&mut self, outputs: Vec<wsprobe_tls::Output>, out: &mut Vec<Piece>) {
        for o in outputs {
            match o {
                wsprobe_tls::Output::Data { from_client, data } => {
                    let side = if from_client { Side::Initiator } else { Side::Responder };
                    self.pass(side, data, out);
                }
                wsprobe_tls::Output::Warning(w) => out.push(Piece::Warning(w)),
                wsprobe_tls::Output::Alert { level: 2, description, from_client } => {
                    out.push(Piece::Warning(format!(
                        "fatal TLS alert {description} from the {}",
                        if from_client { "client" } else { "server" }
                    )))
                }
                wsprobe_tls::Output::Alert { .. } => {}
            }
        }
    }
}
