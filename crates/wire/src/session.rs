//! The session state machine: bytes of either direction in, [`Event`]s out. It parses
//! the opening handshake, applies what it negotiated, decodes frames, assembles
//! messages and judges everything against the rules table, role-aware. It survives
//! bytes lost in capture by resynchronising at a proved frame boundary.

use crate::assembler::Assembler;
use crate::deflate::{self, PmdConfig};
use crate::event::Event;
use crate::extensions::Extension;
use crate::handshake::{self, Progress, Request};
use crate::{Dir, Role, Rule, Violation};
use std::collections::VecDeque;

/// Memory limits. Every buffer a session keeps is bounded by one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Payload bytes kept per message (the length is still counted in full).
    pub message_keep: usize,
    /// Payload bytes kept per frame event.
    pub frame_keep: usize,
    /// Largest decompressed message; beyond it the message is reported, not inflated.
    pub inflate_max: usize,
    /// Bytes buffered while looking for a frame boundary.
    pub resync_buffer: usize,
    /// Largest HTTP head.
    pub http_head_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_keep: 1 << 20,
            frame_keep: 125,
            inflate_max: 64 << 20,
            resync_buffer: 256 << 10,
            http_head_max: 16 << 10,
        }
    }
}

/// What is known about a connection whose handshake the session does not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Established {
    /// permessage-deflate as negotiated, if it was.
    pub pmd: Option<PmdConfig>,
}

enum Stage {
    /// Parsing HTTP heads until a 101.
    Http,
    /// Decoding frames.
    WebSocket,
}

/// One HTTP direction while the handshake is parsed.
#[derive(Default)]
struct HttpDir {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Body bytes still to skip (Content-Length).
    skip: u64,
    /// A head failed to parse or an upgrade request waits for its answer: hold bytes.
    hold: bool,
    /// Bytes missing among those held (lost in capture, or past the hold limit):
    /// `(position in buf, length)`, replayed as gaps once frames are decoded.
    gaps: Vec<(usize, u64)>,
}

/// Most separate holes kept among the bytes held behind an unanswered upgrade.
const HELD_GAPS_MAX: usize = 16;

impl HttpDir {
    /// Drops a parsed head of `consumed` bytes; returns the offset where it began.
    fn take_head(&mut self, consumed: usize) -> u64 {
        let offset = self.base;
        self.buf.drain(..consumed);
        self.base += consumed as u64;
        offset
    }

    /// A head that is not HTTP: reports it and stops decoding this direction.
    fn fail(&mut self, dir: Dir, e: handshake::HttpError, out: &mut Vec<Event>) {
        out.push(Event::HttpError { dir, offset: self.base + e.offset as u64, message: e.message });
        self.hold = true;
        self.buf = Vec::new();
    }

    /// Records `len` missing bytes at the current end of the held bytes.
    fn hole(&mut self, len: u64) {
        match self.gaps.last_mut() {
            Some((at, n)) if *at == self.buf.len() => *n += len,
            _ => self.gaps.push((self.buf.len(), len)),
        }
    }
}

/// The state machine for one connection.
pub struct Session {
    limits: Limits,
    stage: Stage,
    http: [HttpDir; 2],
    requests: VecDeque<Request>,
    /// Whether the HTTP head of each direction was cut by the capture's snapshot length.
    heads_cut: [bool; 2],
    dirs: [Assembler; 2],
    /// permessage-deflate as applied to frames (negotiated, or given to `established`).
    pmd: Option<PmdConfig>,
}

impl Session {
    /// A session that expects the opening handshake first.
    pub fn new(limits: Limits) -> Self {
        Session {
            limits,
            stage: Stage::Http,
            http: Default::default(),
            requests: VecDeque::new(),
            heads_cut: [false; 2],
            dirs: [Assembler::new(Role::Client, limits), Assembler::new(Role::Server, limits)],
            pmd: None,
        }
    }

    /// A session already past its handshake (what a tester or server knows).
    pub fn established(limits: Limits, est: Established) -> Self {
        let mut s = Session::new(limits);
        s.stage = Stage::WebSocket;
        s.pmd = est.pmd;
        for a in &mut s.dirs {
            a.set_negotiated(est.pmd.as_ref());
        }
        s
    }

    /// A session whose start was not captured: frames are found by synchronisation,
    /// extensions are unknown (RSV1 is taken as compression, inflated on a best-effort
    /// basis) and masking is not judged. The caller orients the directions (see
    /// [`sync::infer_sender`](crate::sync::infer_sender)).
    pub fn mid_stream(limits: Limits) -> Self {
        let mut s = Session::new(limits);
        s.stage = Stage::WebSocket;
        for a in &mut s.dirs {
            a.set_unknown_start();
        }
        s
    }

    /// Whether frames are being decoded (the handshake completed with 101, or was never expected).
    pub fn is_established(&self) -> bool {
        matches!(self.stage, Stage::WebSocket)
    }

    /// The permessage-deflate configuration frames are decoded with: what the handshake
    /// negotiated (once established) or what [`Session::established`] was given. `None`
    /// for no compression, and for a mid-stream session (whose extensions are unknown).
    pub fn pmd(&self) -> Option<PmdConfig> {
        self.pmd
    }

    /// Feeds the next bytes of one direction.
    pub fn feed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Event>) {
        match self.stage {
            Stage::WebSocket => self.dirs[dir.index()].feed(data, out),
            Stage::Http => {
                let h = &mut self.http[dir.index()];
                if h.buf.len() + data.len() > self.limits.http_head_max.max(1 << 16) && h.hold {
                    // Bytes pipelined behind an unanswered upgrade: keep a bounded amount,
                    // and remember the rest as missing.
                    let room = (self.limits.http_head_max.max(1 << 16)).saturating_sub(h.buf.len());
                    let kept = room.min(data.len());
                    h.buf.extend_from_slice(&data[..kept]);
                    h.hole((data.len() - kept) as u64);
                } else {
                    h.buf.extend_from_slice(data);
                }
                self.drive_http(out);
            }
        }
    }

    /// Reports `len` bytes of one direction lost in capture.
    pub fn gap(&mut self, dir: Dir, len: u64, out: &mut Vec<Event>) {
        if let Stage::Http = self.stage {
            let h = &mut self.http[dir.index()];
            if dir == Dir::C2S && h.hold && h.gaps.len() < HELD_GAPS_MAX && !self.requests.is_empty() {
                // Lost after a complete upgrade request: the answer can still be followed;
                // the hole is replayed among the client's frames once they are decoded.
                h.hole(len);
                return;
            }
            // The handshake cannot be followed any more: decode what follows as frames
            // of unknown negotiation.
            let offsets = [
                self.http[0].base + self.http[0].buf.len() as u64,
                self.http[1].base + self.http[1].buf.len() as u64,
            ];
            self.stage = Stage::WebSocket;
            for (a, pos) in self.dirs.iter_mut().zip(offsets) {
                a.set_unknown_start();
                a.set_position(pos);
            }
        }
        self.dirs[dir.index()].gap(len, out);
    }

    /// `len` bytes of `dir` were sent but cut from the capture by its snapshot length,
    /// while the handshake is parsed. If the bytes of `dir` held so far start an HTTP
    /// head (a request or status line, at least) the cut is taken as the rest of that
    /// head (a head is written in one segment, and a snapshot length cuts segments),
    /// the visible part is reported as the head, and true is returned. A cut head is
    /// not judged (its missing fields are not the sender's fault); an answer of 101 to
    /// a GET switches to frames with the extensions unknown (RSV1 read as compression,
    /// inflated on a best-effort basis). False when this does not apply: then call
    /// [`gap`](Self::gap).
    pub fn cut_head(&mut self, dir: Dir, len: u64, out: &mut Vec<Event>) -> bool {
        if !matches!(self.stage, Stage::Http) {
            return false;
        }
        let h = &mut self.http[dir.index()];
        if h.hold || h.skip > 0 || !h.gaps.is_empty() {
            return false;
        }
        // Whole lines only; a head needs its first line.
        let Some(end) = h.buf.windows(2).rposition(|w| w == b"\r\n") else {
            return false;
        };
        let mut head = h.buf[..end + 2].to_vec();
        head.extend_from_slice(b"\r\n");
        let consumed = h.buf.len() as u64 + len;
        match dir {
            Dir::C2S => {
                let Ok(Progress::Complete { value: req, .. }) = handshake::parse_request(&head) else {
                    return false;
                };
                let offset = h.base;
                h.buf.clear();
                h.base += consumed;
                let upgrade = req.method == "GET" && (req.header("upgrade").is_none() || req.is_upgrade());
                h.hold = upgrade;
                self.heads_cut[0] = true;
                out.push(Event::Request { offset, request: req.clone() });
                if self.requests.len() < 32 {
                    self.requests.push_back(req);
                }
            }
            Dir::S2C => {
                let Ok(Progress::Complete { value: resp, .. }) = handshake::parse_response(&head) else {
                    return false;
                };
                let offset = h.base;
                h.buf.clear();
                h.base += consumed;
                self.heads_cut[1] = true;
                let req = self.requests.pop_front();
                let switching = resp.status == 101 && req.as_ref().is_some_and(|r| r.method == "GET");
                out.push(Event::Response { offset, response: resp, negotiated: None });
                if switching {
                    self.establish(None, out);
                } else {
                    self.http[0].hold = false;
                }
            }
        }
        self.drive_http(out);
        true
    }

    /// Whether an HTTP head of the handshake was cut by the capture's snapshot
    /// length (see [`cut_head`](Self::cut_head)).
    pub fn handshake_cut(&self) -> bool {
        self.heads_cut.iter().any(|c| *c)
    }

    /// For a direction whose bytes end inside a frame header: the header bytes held
    /// and how many more are needed at least.
    pub fn pending_header(&self, dir: Dir) -> Option<(usize, usize)> {
        self.dirs[dir.index()].pending_header()
    }

    /// Ends both directions: whatever is unfinished is reported as incomplete.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        for a in &mut self.dirs {
            a.finish(out);
        }
    }

    fn drive_http(&mut self, out: &mut Vec<Event>) {
        loop {
            let progressed = self.http_request(out) | self.http_response(out);
            if !progressed || self.is_established() {
                return;
            }
        }
    }

    /// Skips body bytes; true when the direction is at a head.
    fn skip_body(h: &mut HttpDir) -> bool {
        let n = (h.skip.min(h.buf.len() as u64)) as usize;
        h.buf.drain(..n);
        h.base += n as u64;
        h.skip -= n as u64;
        h.skip == 0
    }

    fn http_request(&mut self, out: &mut Vec<Event>) -> bool {
        let h = &mut self.http[0];
        if h.hold || !Self::skip_body(h) || h.buf.is_empty() {
            return false;
        }
        match handshake::parse_request(&h.buf) {
            Ok(Progress::Partial) => false,
            Ok(Progress::Complete { value: req, consumed }) => {
                let offset = h.take_head(consumed);
                if req.is_upgrade() {
                    for (rule, detail) in handshake::check_request(&req) {
                        out.push(Event::Violation(Violation::new(rule, Role::Client, offset, detail)));
                    }
                    h.hold = true;
                } else {
                    h.skip = content_length(req.header("content-length"));
                }
                out.push(Event::Request { offset, request: req.clone() });
                if self.requests.len() < 32 {
                    self.requests.push_back(req);
                }
                true
            }
            Err(e) => {
                h.fail(Dir::C2S, e, out);
                false
            }
        }
    }

    fn http_response(&mut self, out: &mut Vec<Event>) -> bool {
        let h = &mut self.http[1];
        if h.hold || !Self::skip_body(h) || h.buf.is_empty() {
            return false;
        }
        match handshake::parse_response(&h.buf) {
            Ok(Progress::Partial) => false,
            Ok(Progress::Complete { value: resp, consumed }) => {
                let offset = h.take_head(consumed);
                let req = self.requests.pop_front();
                let upgrade = req.as_ref().filter(|r| r.is_upgrade());
                let negotiated = upgrade.map(|req| {
                    let (neg, problems) = handshake::check_response(req, &resp);
                    for (rule, detail) in problems {
                        out.push(Event::Violation(Violation::new(rule, Role::Server, offset, detail)));
                    }
                    neg
                });
                let switching = resp.status == 101 && upgrade.is_some();
                let pmd = match (switching, upgrade, &negotiated) {
                    (true, Some(req), Some(neg)) => negotiate_pmd(req, &neg.extensions, offset, out),
                    _ => None,
                };
                if !switching {
                    h.skip = content_length(resp.header("content-length"));
                    // The client may try again (or go on with plain HTTP). What it sent
                    // across a hole meanwhile cannot be parsed as HTTP: drop it.
                    let c = &mut self.http[0];
                    c.hold = false;
                    if !c.gaps.is_empty() {
                        let dropped = c.buf.len() as u64 + c.gaps.iter().map(|g| g.1).sum::<u64>();
                        c.base += dropped;
                        c.buf.clear();
                        c.gaps.clear();
                    }
                }
                out.push(Event::Response { offset, response: resp, negotiated });
                if switching {
                    self.establish(pmd, out);
                }
                true
            }
            Err(e) => {
                if self.requests.front().is_some_and(Request::is_upgrade) {
                    // The answer to an upgrade request is not HTTP.
                    out.push(Event::Violation(Violation::new(
                        Rule::HsResponseMalformed,
                        Role::Server,
                        h.base + e.offset as u64,
                        e.message.clone(),
                    )));
                }
                h.fail(Dir::S2C, e, out);
                false
            }
        }
    }

    fn establish(&mut self, pmd: Option<PmdConfig>, out: &mut Vec<Event>) {
        self.stage = Stage::WebSocket;
        self.pmd = pmd;
        out.push(Event::Established);
        let cut = self.handshake_cut();
        for (i, a) in self.dirs.iter_mut().enumerate() {
            a.set_negotiated(pmd.as_ref());
            if cut {
                a.set_unknown_extensions();
            }
            let h = std::mem::take(&mut self.http[i]);
            a.set_position(h.base);
            let mut from = 0;
            for (at, len) in h.gaps {
                a.feed(&h.buf[from..at], out);
                a.gap(len, out);
                from = at;
            }
            if from < h.buf.len() {
                a.feed(&h.buf[from..], out);
            }
        }
    }
}

/// Applies the server's permessage-deflate answer, reporting what is wrong with it.
fn negotiate_pmd(
    req: &Request,
    selected: &[Extension],
    offset: u64,
    out: &mut Vec<Event>,
) -> Option<PmdConfig> {
    let offers = req.offered_extensions().unwrap_or_default();
    let (cfg, problems) = deflate::negotiate(&offers, selected);
    for (rule, detail) in problems {
        out.push(Event::Violation(Violation::new(rule, Role::Server, offset, detail)));
    }
    cfg
}

fn content_length(v: Option<&[u8]>) -> u64 {
    v.and_then(|v| std::str::from_utf8(v).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}
