//! The reference server: a conformant echo server built on the core [`Session`] (server
//! side). It answers the opening handshake with 101/400/426 as
//! [`handshake::response_for`] says, echoes text and binary messages, answers pings,
//! completes closing handshakes and closes TCP after them, and fails the connection
//! (1002, 1007 for invalid UTF-8, 1009 for a message over its size limit) on any rule
//! the client breaks.
//!
//! [`Faults`] switches single behaviours off or bends them, so that tests can check
//! that the tester notices exactly that fault.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsprobe_wire::deflate::{self, Deflater};
use wsprobe_wire::encode::FrameSpec;
use wsprobe_wire::handshake::{self, Progress};
use wsprobe_wire::{Dir, Established, Event, LengthForm, Level, Limits, OpCode, Role, Rule, Session};

/// Deliberate deviations from the RFC, for testing the tester. All off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Accept unmasked client frames.
    pub accept_unmasked: bool,
    /// Do not validate UTF-8 in text messages (echo them as they are).
    pub skip_utf8: bool,
    /// Answer pings with a different payload.
    pub wrong_pong: bool,
    /// Echo any close code, including ones not allowed on the wire.
    pub echo_bad_close_codes: bool,
    /// Send a wrong Sec-WebSocket-Accept.
    pub wrong_accept: bool,
    /// Mask the frames it sends.
    pub mask_frames: bool,
    /// Keep TCP open after the closing handshake.
    pub keep_tcp_open: bool,
    /// Encode every payload length in the 64-bit form.
    pub non_minimal_length: bool,
    /// Set RSV2 on the frames it sends.
    pub rsv_bits: bool,
    /// Send a text frame after its own Close frame.
    pub data_after_close: bool,
    /// Answer 101 to invalid handshake requests.
    pub accept_bad_requests: bool,
    /// Echo text messages as binary ones (breaks no rule: only the behaviour differs).
    pub text_as_binary: bool,
    /// Complete the handshake, then never send anything (nor close).
    pub silent: bool,
    /// Accept TCP, read the request and never answer it.
    pub no_handshake_answer: bool,
    /// After the handshake, stream endless 1 MiB binary messages.
    pub flood: bool,
    /// After the handshake, answer every read with bytes that are not frames.
    pub garbage: bool,
    /// After the handshake, send endless 125-byte Pings.
    pub ping_flood: bool,
    /// permessage-deflate: accept the first offer as written, valid or not.
    pub pmd_accept_invalid: bool,
    /// permessage-deflate: answer with two permessage-deflate elements.
    pub pmd_two_answers: bool,
    /// permessage-deflate: compress with a 32 KiB window whatever was agreed.
    pub pmd_ignore_window: bool,
    /// permessage-deflate: keep the compression context whatever was agreed.
    pub pmd_ignore_no_context: bool,
    /// permessage-deflate: send echoes as two frames, both with RSV1.
    pub pmd_rsv1_continuation: bool,
    /// permessage-deflate: set RSV1 on Pong frames.
    pub pmd_rsv1_control: bool,
    /// permessage-deflate: do not fail the connection on data that does not inflate.
    pub pmd_ignore_inflate_errors: bool,
    /// permessage-deflate: after the handshake, send a message that inflates to 80 MiB
    /// (80 KiB on the wire).
    pub pmd_bomb: bool,
    /// permessage-deflate: after the handshake, send one compressed message whose
    /// fragments never end.
    pub pmd_endless: bool,
    /// Planted bug (for `wsprobe fuzz`'s tests): a Ping after three or more data frames
    /// of an unfinished message resets the connection (no Close).
    pub planted_crash: bool,
    /// Planted bug: a valid Close with a reason of 20 bytes or more, after a Ping on the
    /// same connection, is never answered; the connection hangs in silence.
    pub planted_hang: bool,
    /// Planted bug: a binary message of three or more frames with an unsolicited Pong
    /// among them is echoed with its last byte changed.
    pub planted_wrong_echo: bool,
    /// Planted bug: a Ping of 100 bytes or more inside a fragmented message is answered
    /// with RSV2 set on the Pong.
    pub planted_violation: bool,
    /// Planted bug: invalid UTF-8 found after three or more frames of a text message
    /// with a Ping among them is not failed: the message is echoed as it is.
    pub planted_contradiction: bool,
}

impl Faults {
    /// The names [`Faults::from_names`] takes, one per deviation (`text-as-binary`, ...).
    pub const NAMES: &'static [&'static str] = &[
        "accept-unmasked",
        "skip-utf8",
        "wrong-pong",
        "echo-bad-close-codes",
        "wrong-accept",
        "mask-frames",
        "keep-tcp-open",
        "non-minimal-length",
        "rsv-bits",
        "data-after-close",
        "accept-bad-requests",
        "text-as-binary",
        "silent",
        "no-handshake-answer",
        "flood",
        "garbage",
        "ping-flood",
        "pmd-accept-invalid",
        "pmd-two-answers",
        "pmd-ignore-window",
        "pmd-ignore-no-context",
        "pmd-rsv1-continuation",
        "pmd-rsv1-control",
        "pmd-ignore-inflate-errors",
        "pmd-bomb",
        "pmd-endless",
        "planted-crash",
        "planted-hang",
        "planted-wrong-echo",
        "planted-violation",
        "planted-contradiction",
    ];

    /// The deviations named (kebab-case field names, see [`Faults::NAMES`]).
    pub fn from_names(names: &[String]) -> Result<Faults, String> {
        let mut f = Faults::default();
        for n in names {
            match n.as_str() {
                "accept-unmasked" => f.accept_unmasked = true,
                "skip-utf8" => f.skip_utf8 = true,
                "wrong-pong" => f.wrong_pong = true,
                "planted-crash" => f.planted_crash = true,
                "planted-hang" => f.planted_hang = true,
                "planted-wrong-echo" => f.planted_wrong_echo = true,
                "planted-violation" => f.planted_violation = true,
                "planted-contradiction" => f.planted_contradiction = true,
                "echo-bad-close-codes" => f.echo_bad_close_codes = true,
                "wrong-accept" => f.wrong_accept = true,
                "mask-frames" => f.mask_frames = true,
                "keep-tcp-open" => f.keep_tcp_open = true,
                "non-minimal-length" => f.non_minimal_length = true,
                "rsv-bits" => f.rsv_bits = true,
                "data-after-close" => f.data_after_close = true,
                "accept-bad-requests" => f.accept_bad_requests = true,
                "text-as-binary" => f.text_as_binary = true,
                "silent" => f.silent = true,
                "no-handshake-answer" => f.no_handshake_answer = true,
                "flood" => f.flood = true,
                "garbage" => f.garbage = true,
                "ping-flood" => f.ping_flood = true,
                "pmd-accept-invalid" => f.pmd_accept_invalid = true,
                "pmd-two-answers" => f.pmd_two_answers = true,
                "pmd-ignore-window" => f.pmd_ignore_window = true,
                "pmd-ignore-no-context" => f.pmd_ignore_no_context = true,
                "pmd-rsv1-continuation" => f.pmd_rsv1_continuation = true,
                "pmd-rsv1-control" => f.pmd_rsv1_control = true,
                "pmd-ignore-inflate-errors" => f.pmd_ignore_inflate_errors = true,
                "pmd-bomb" => f.pmd_bomb = true,
                "pmd-endless" => f.pmd_endless = true,
                other => return Err(format!("unknown fault {other:?}; known: {}", Faults::NAMES.join(", "))),
            }
        }
        Ok(f)
    }
}

/// Configuration of the reference server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest message echoed; a larger one fails the connection with 1009.
    pub max_message: usize,
    /// Deviations (tests only).
    pub faults: Faults,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { max_message: 64 << 20, faults: Faults::default() }
    }
}

/// Binds `addr` and serves in a background task; returns the bound address.
pub async fn spawn(
    addr: &str,
    cfg: ServerConfig,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let h = tokio::spawn(serve(listener, Arc::new(cfg)));
    Ok((local, h))
}

/// Accepts and serves connections until the task is dropped.
pub async fn serve(listener: TcpListener, cfg: Arc<ServerConfig>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    let _ = connection(stream, &cfg).await;
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// The close code for failing a connection because of `rule`.
fn fail_code(rule: Rule) -> u16 {
    match rule {
        Rule::Utf8TextInvalid | Rule::CloseReasonInvalidUtf8 | Rule::PmdInflateError => 1007,
        r if r.info().level == Level::Limit => 1009,
        _ => 1002,
    }
}

struct Conn<'a> {
    cfg: &'a ServerConfig,
    out: Vec<u8>,
    close_sent: bool,
    done: bool,
    /// What the planted bugs look at.
    planted: Planted,
    /// Compresses echoes when permessage-deflate was agreed.
    deflater: Option<Deflater>,
}

impl Conn<'_> {
    fn frame(&mut self, opcode: OpCode, payload: Vec<u8>) {
        self.frame_with(opcode, payload, true, 0);
    }

    /// Echoes a data message, compressed when permessage-deflate was agreed.
    fn echo(&mut self, opcode: OpCode, payload: Vec<u8>) {
        let f = &self.cfg.faults;
        let opcode = if f.text_as_binary && opcode == OpCode::TEXT { OpCode::BINARY } else { opcode };
        let Some(d) = &mut self.deflater else {
            self.frame(opcode, payload);
            return;
        };
        let data = d.compress_message(&payload);
        if f.pmd_rsv1_continuation && data.len() > 1 {
            let (a, b) = data.split_at(data.len() / 2);
            self.frame_with(opcode, a.to_vec(), false, 4);
            self.frame_with(OpCode::CONTINUATION, b.to_vec(), true, 4);
        } else {
            self.frame_with(opcode, data, true, 4);
        }
    }

    fn frame_with(&mut self, opcode: OpCode, payload: Vec<u8>, fin: bool, rsv: u8) {
        let f = &self.cfg.faults;
        let mut spec = FrameSpec::new(opcode, payload).fin(fin).rsv(rsv);
        if f.mask_frames {
            spec = spec.masked([0x37, 0xfa, 0x21, 0x3d]);
        }
        if f.non_minimal_length {
            spec = spec.length_form(LengthForm::Ext64);
        }
        if f.rsv_bits {
            spec = spec.rsv(rsv | 2);
        }
        if f.pmd_rsv1_control && self.deflater.is_some() && opcode == OpCode::PONG {
            spec = spec.rsv(4);
        }
        let _ = spec.encode_into(&mut self.out);
    }

    fn close(&mut self, body: Vec<u8>) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        self.frame(OpCode::CLOSE, body);
        if self.cfg.faults.data_after_close {
            self.frame(OpCode::TEXT, b"after close".to_vec());
        }
    }

    fn fail(&mut self, code: u16) {
        self.close(code.to_be_bytes().to_vec());
    }

    fn on_event(&mut self, ev: Event) {
        let f = &self.cfg.faults;
        match ev {
            Event::Frame(fr) => self.planted.frame(&fr.header),
            Event::Violation(v) if v.by == Role::Client => {
                let planted = f.planted_contradiction
                    && v.rule == Rule::Utf8TextInvalid
                    && self.planted.frames >= 3
                    && self.planted.ping_inside;
                let ignored = planted
                    || (f.accept_unmasked && v.rule == Rule::MaskClientUnmasked)
                    || (f.pmd_ignore_inflate_errors && v.rule == Rule::PmdInflateError)
                    || (f.skip_utf8 && v.rule == Rule::Utf8TextInvalid)
                    || (f.echo_bad_close_codes && v.rule == Rule::CloseCodeInvalid);
                if !ignored {
                    self.fail(fail_code(v.rule));
                }
            }
            Event::Message(m) => match m.opcode {
                OpCode::CLOSE
                    if f.planted_hang
                        && !self.close_sent
                        && self.planted.pings > 0
                        && m.close.as_ref().is_some_and(|c| {
                            c.reason.len() >= 20 && std::str::from_utf8(&c.reason).is_ok()
                        }) =>
                {
                    self.planted.hang = true;
                }
                OpCode::CLOSE => {
                    if self.close_sent {
                        // Our Close was answered: the closing handshake is over.
                        self.done = true;
                    } else {
                        let body = match m.close.and_then(|c| c.code) {
                            Some(code) => code.to_be_bytes().to_vec(),
                            None => Vec::new(),
                        };
                        self.close(body);
                        self.done = true;
                    }
                }
                _ if self.close_sent => {}
                OpCode::TEXT | OpCode::BINARY => {
                    let mut payload = m.payload;
                    if f.planted_wrong_echo
                        && m.opcode == OpCode::BINARY
                        && self.planted.message_frames >= 3
                        && self.planted.pong_inside
                        && let Some(b) = payload.last_mut()
                    {
                        *b ^= 0x01;
                    }
                    if m.truncated {
                        self.fail(1009);
                    } else {
                        self.echo(m.opcode, payload);
                    }
                }
                OpCode::PING if f.planted_crash && self.planted.frames >= 3 => self.planted.crash = true,
                OpCode::PING if f.planted_violation && self.planted.frames > 0 && m.payload.len() >= 100 => {
                    self.frame_with(OpCode::PONG, m.payload, true, 2);
                }
                OpCode::PING => {
                    let mut p = m.payload;
                    if f.wrong_pong {
                        match p.first_mut() {
                            Some(b) => *b ^= 0x20,
                            None => p.push(b'!'),
                        }
                    }
                    self.frame(OpCode::PONG, p);
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// What the planted bugs track of the client's frames.
#[derive(Default)]
struct Planted {
    /// Data frames of the unfinished message so far (0 outside a message).
    frames: u32,
    /// Data frames of the last message, at its end.
    message_frames: u32,
    /// A Ping came inside the unfinished message.
    ping_inside: bool,
    /// A Pong came inside the unfinished (or just finished) message.
    pong_inside: bool,
    /// Pings received on the connection.
    pings: u32,
    /// Reset the connection now.
    crash: bool,
    /// Go silent now.
    hang: bool,
}

impl Planted {
    fn frame(&mut self, h: &wsprobe_wire::FrameHeader) {
        match h.opcode {
            OpCode::PING => {
                self.pings += 1;
                self.ping_inside |= self.frames > 0;
            }
            OpCode::PONG => self.pong_inside |= self.frames > 0,
            OpCode::TEXT | OpCode::BINARY | OpCode::CONTINUATION => {
                if h.opcode != OpCode::CONTINUATION {
                    self.frames = 0;
                    self.ping_inside = false;
                    self.pong_inside = false;
                }
                self.frames += 1;
                if h.fin {
                    self.message_frames = self.frames;
                    self.frames = 0;
                }
            }
            _ => {}
        }
    }
}

/// The Sec-WebSocket-Extensions answer to `offers` and the configuration it agrees to.
fn pmd_answer(
    f: &Faults,
    offers: &[wsprobe_wire::extensions::Extension],
) -> (Option<String>, Option<deflate::PmdConfig>) {
    use wsprobe_wire::extensions::format_extensions;
    if f.pmd_accept_invalid
        && let Some(first) = offers.iter().find(|o| o.name == deflate::NAME)
    {
        let cfg =
            deflate::parse_params(first).map(|p| deflate::PmdConfig::from_params(&p)).unwrap_or_default();
        return (Some(format_extensions(std::slice::from_ref(first))), Some(cfg));
    }
    match deflate::answer_offers(offers) {
        Some((ext, cfg)) if f.pmd_two_answers => (Some(format_extensions(&[ext.clone(), ext])), Some(cfg)),
        Some((ext, cfg)) => (Some(format_extensions(&[ext])), Some(cfg)),
        None => (None, None),
    }
}

/// The misbehaviours after the handshake that are not about frames: silence, a flood
/// of 1 MiB messages, garbage bytes. Each ends when the client goes away.
async fn misbehave(mut stream: TcpStream, f: &Faults) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    if f.flood || f.ping_flood {
        let mut frame = Vec::new();
        let (opcode, len, count) =
            if f.flood { (OpCode::BINARY, 1 << 20, 4096) } else { (OpCode::PING, 125, 1 << 25) };
        let _ = FrameSpec::new(opcode, vec![0x5a; len]).encode_into(&mut frame);
        // Stops when the client closes TCP (the write fails) or after 4 GiB.
        for _ in 0..count {
            stream.write_all(&frame).await?;
        }
        return Ok(());
    }
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        if f.garbage {
            stream.write_all(b"\xff\xfe this is not a WebSocket frame \x00\x01").await?;
        }
    }
}

/// Hostile compressed output: one message that inflates to 80 MiB, or one compressed
/// message whose fragments (1 MiB of zeros each, inflated) never end.
async fn compressed_flood(mut stream: TcpStream, f: &Faults) -> std::io::Result<()> {
    let mut z = Deflater::with_level(15, false, 1);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    if f.pmd_bomb {
        let mut payload = Vec::new();
        for _ in 0..80 {
            payload.extend(z.compress_message(&zeros));
            payload.extend_from_slice(&deflate::TAIL);
        }
        payload.truncate(payload.len() - deflate::TAIL.len());
        let _ = FrameSpec::new(OpCode::BINARY, payload).rsv(4).encode_into(&mut out);
        stream.write_all(&out).await?;
        // Then nothing more: the client judges, closes or times out.
        let mut chunk = [0u8; 4096];
        while stream.read(&mut chunk).await? > 0 {}
        return Ok(());
    }
    let mut piece = z.compress_message(&zeros);
    piece.extend_from_slice(&deflate::TAIL);
    let _ = FrameSpec::new(OpCode::BINARY, piece.clone()).rsv(4).fin(false).encode_into(&mut out);
    stream.write_all(&out).await?;
    out.clear();
    let _ = FrameSpec::new(OpCode::CONTINUATION, piece).fin(false).encode_into(&mut out);
    // Stops when the client closes TCP (the write fails) or after 16 GiB inflated.
    for _ in 0..(16 << 10) {
        stream.write_all(&out).await?;
    }
    Ok(())
}

fn bad_request() -> Vec<u8> {
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
}

async fn connection(mut stream: TcpStream, cfg: &ServerConfig) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let (req, consumed) = loop {
        match handshake::parse_request(&buf) {
            Ok(Progress::Complete { value, consumed }) => break (value, consumed),
            Ok(Progress::Partial) => {}
            Err(_) => {
                stream.write_all(&bad_request()).await?;
                return stream.shutdown().await;
            }
        }
        let n = match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let f = &cfg.faults;
    if f.no_handshake_answer {
        // Hold the connection open in silence, for as long as the client stays.
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
        return Ok(());
    }
    let offers = req.offered_extensions().unwrap_or_default();
    let (ext_answer, pmd) = pmd_answer(f, &offers);
    let mut response = if f.accept_bad_requests {
        let key = String::from_utf8_lossy(req.header("Sec-WebSocket-Key").unwrap_or_default()).into_owned();
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            handshake::accept_key(&key)
        )
        .into_bytes()
    } else {
        handshake::response_for(&req, |_| None, ext_answer.as_deref())
    };
    let accepted = response.starts_with(b"HTTP/1.1 101");
    if accepted && f.wrong_accept {
        let text = String::from_utf8_lossy(&response).into_owned();
        let key = String::from_utf8_lossy(req.header("Sec-WebSocket-Key").unwrap_or_default()).into_owned();
        response =
            text.replace(&handshake::accept_key(&key), &handshake::accept_key("not the key")).into_bytes();
    }
    stream.write_all(&response).await?;
    if !accepted {
        return stream.shutdown().await;
    }
    if f.silent || f.flood || f.garbage || f.ping_flood {
        return misbehave(stream, f).await;
    }
    if (f.pmd_bomb || f.pmd_endless) && pmd.is_some() {
        return compressed_flood(stream, f).await;
    }
    let limits = Limits { message_keep: cfg.max_message, frame_keep: 0, ..Limits::default() };
    let mut session = Session::established(limits, Established { pmd });
    let deflater = pmd.map(|p| {
        let (bits, nct) = p.for_sender(Role::Server);
        let bits = if f.pmd_ignore_window { 15 } else { bits };
        Deflater::with_level(bits, nct && !f.pmd_ignore_no_context, 1)
    });
    let mut conn =
        Conn { cfg, out: Vec::new(), close_sent: false, done: false, planted: Planted::default(), deflater };
    let mut events = Vec::new();
    let mut pending = buf.split_off(consumed);
    loop {
        if !pending.is_empty() {
            session.feed(Dir::C2S, &pending, &mut events);
            pending.clear();
            for ev in events.drain(..) {
                if conn.done || conn.planted.crash || conn.planted.hang {
                    break;
                }
                conn.on_event(ev);
            }
            if !conn.out.is_empty() {
                stream.write_all(&conn.out).await?;
                conn.out.clear();
            }
            if conn.planted.crash {
                // As a process that dies would: a reset, no Close.
                let _ = stream.set_zero_linger();
                return Ok(());
            }
            if conn.planted.hang {
                // Silence: read and drop until the client goes away.
                while let Ok(n) = stream.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                }
                return Ok(());
            }
        }
        if conn.close_sent && !f.keep_tcp_open {
            // Closing handshake over, or the connection failed: close TCP first (§7.1.1),
            // then read whatever the client still sends until it closes too.
            stream.shutdown().await?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                if n == 0 {
                    break;
                }
            }
            return Ok(());
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(n) if !conn.close_sent => pending.extend_from_slice(&chunk[..n]),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_a_name() {
        for n in Faults::NAMES {
            let f = Faults::from_names(&[n.to_string()]).unwrap();
            assert_ne!(f, Faults::default(), "{n}");
        }
        assert!(Faults::from_names(&["nope".into()]).unwrap_err().contains("text-as-binary"));
        // One name per field: the Debug form lists every field once.
        assert_eq!(format!("{:?}", Faults::default()).matches(": false").count(), Faults::NAMES.len());
    }
}
