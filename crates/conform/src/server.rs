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
}

impl Conn<'_> {
    fn frame(&mut self, opcode: OpCode, payload: Vec<u8>) {
        let f = &self.cfg.faults;
        let mut spec = FrameSpec::new(opcode, payload);
        if f.mask_frames {
            spec = spec.masked([0x37, 0xfa, 0x21, 0x3d]);
        }
        if f.non_minimal_length {
            spec = spec.length_form(LengthForm::Ext64);
        }
        if f.rsv_bits {
            spec = spec.rsv(2);
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
            Event::Violation(v) if v.by == Role::Client => {
                let ignored = (f.accept_unmasked && v.rule == Rule::MaskClientUnmasked)
                    || (f.skip_utf8 && v.rule == Rule::Utf8TextInvalid)
                    || (f.echo_bad_close_codes && v.rule == Rule::CloseCodeInvalid);
                if !ignored {
                    self.fail(fail_code(v.rule));
                }
            }
            Event::Message(m) => match m.opcode {
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
                    if m.truncated {
                        self.fail(1009);
                    } else {
                        self.frame(m.opcode, m.payload);
                    }
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
    let mut response = if f.accept_bad_requests {
        let key = String::from_utf8_lossy(req.header("Sec-WebSocket-Key").unwrap_or_default()).into_owned();
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            handshake::accept_key(&key)
        )
        .into_bytes()
    } else {
        handshake::response_for(&req, |_| None, None)
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
    let limits = Limits { message_keep: cfg.max_message, frame_keep: 0, ..Limits::default() };
    let mut session = Session::established(limits, Established::default());
    let mut conn = Conn { cfg, out: Vec::new(), close_sent: false, done: false };
    let mut events = Vec::new();
    let mut pending = buf.split_off(consumed);
    loop {
        if !pending.is_empty() {
            session.feed(Dir::C2S, &pending, &mut events);
            pending.clear();
            for ev in events.drain(..) {
                if conn.done {
                    break;
                }
                conn.on_event(ev);
            }
            if !conn.out.is_empty() {
                stream.write_all(&conn.out).await?;
                conn.out.clear();
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
