//! From flow events to records: one state per TCP connection (still deciding, HTTP,
//! WebSocket, or ignored), packet bookkeeping so that every event gets the packet in
//! which its last byte arrived, and the mapping of core events to records.

use crate::layers::{Held, Keys, Layer, Piece};
use crate::records::*;
use crate::{Options, PayloadMode};
use base64::Engine as _;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use wsprobe_flow::{CloseReason, FlowEvent, GapReason, Side};
use wsprobe_wire::event::{Event, FrameEvent, Message};
use wsprobe_wire::handshake::Request;
use wsprobe_wire::sync::{Evidence, evidence};
use wsprobe_wire::transcript::event_line;

/// Payload bytes a preview needs (the core's transcript preview shows 48).
const PREVIEW_KEEP: usize = 64;
use wsprobe_wire::{OpCode, Session, Violation};

/// Bytes of each direction kept while a connection is not yet classified (up to twice
/// this between trims).
const PENDING_WINDOW: usize = 32 << 10;
/// Bytes of one direction looked at before frame synchronisation gives up.
const PENDING_GIVE_UP: u64 = 512 << 10;
/// Bytes held by all unclassified connections of one engine together (two engines,
/// one per decoding thread, share the connections: 64 MiB in all).
const PENDING_BUDGET: usize = 32 << 20;
/// Events held for a connection before its session is numbered.
const HELD_MAX: usize = 64;
/// Pings remembered per direction for round-trip times.
const PINGS_MAX: usize = 32;
/// Packet spans remembered per direction (besides the byte window).
const SPANS_MAX: usize = 1 << 16;

/// Frame-sync acceptance: frames needed when both directions show opposite masking.
const BOTH_DIRS_TOTAL: usize = 5;
/// ... and in each of them.
const BOTH_DIRS_EACH: usize = 2;
/// Frames needed when only one direction shows frames.
const ONE_DIR: usize = 8;

/// Context of the flow event being handled.
#[derive(Clone, Copy)]
struct Ctx {
    packet: u64,
    ts: i64,
}

/// Which stream bytes one packet carried, in session offsets.
#[derive(Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    packet: u64,
    ts: i64,
}

/// One pending data chunk, in arrival order.
struct Chunk {
    side: Side,
    offset: u64,
    len: usize,
    packet: u64,
    ts: i64,
}

/// A connection not yet classified: its first bytes are buffered.
#[derive(Default)]
struct Pending {
    buf: [Vec<u8>; 2],
    /// Flow offset of `buf[i][0]`.
    base: [u64; 2],
    started: [bool; 2],
    /// Bytes seen per side since buffering started.
    seen: [u64; 2],
    chunks: VecDeque<Chunk>,
    /// Bytes seen (`seen`) at which frame synchronisation looks again.
    next_check: [u64; 2],
    checks: [u32; 2],
    ev: [Option<Evidence>; 2],
    /// Decided not HTTP (so frame synchronisation is the only way).
    not_http: bool,
}

/// A connection fed to a core session.
struct Live {
    session: Session,
    number: Option<u64>,
    /// The side that is the WebSocket client.
    client: Side,
    /// Flow offset of each direction's session offset 0 (index: Dir).
    base: [Option<u64>; 2],
    spans: [VecDeque<Span>; 2],
    /// Events waiting for the session number (index-free, in order).
    held: VecDeque<(Event, Ctx)>,
    upgrade: Option<Request>,
    mid_stream: bool,
    pings: [VecDeque<(Vec<u8>, i64)>; 2],
    last: Ctx,
    /// Found not to be HTTP nor WebSocket: to be ignored.
    dead: bool,
}

enum State {
    Pending(Box<Pending>),
    Live(Box<Live>),
    Ignored,
}

#[derive(Clone, Copy)]
struct ConnInfo {
    id: u64,
    initiator: SocketAddr,
    responder: SocketAddr,
    first_packet: u64,
    first_ts: i64,
}

struct Conn {
    info: ConnInfo,
    state: State,
    /// What wraps the WebSocket bytes (a CONNECT tunnel, TLS), if anything.
    layer: Layer,
}

/// Turns flow events into records.
pub(crate) struct Engine<'o> {
    opts: &'o Options,
    keys: &'o Keys,
    file: String,
    next_session: u64,
    conns: HashMap<u64, Conn, foldhash::fast::FixedState>,
    pending_bytes: usize,
    out: Vec<Event>,
    last: Ctx,
}

fn side_ix(s: Side) -> usize {
    match s {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

fn addr(a: SocketAddr) -> String {
    a.to_string()
}

const METHODS: &[&[u8]] =
    &[b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"DELETE ", b"PATCH ", b"CONNECT ", b"TRACE "];

/// Whether `buf` starts an HTTP request: `Some(true)` yes, `Some(false)` no, `None`
/// too short to say.
fn looks_http(buf: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for m in METHODS {
        let n = m.len().min(buf.len());
        if buf[..n] == m[..n] {
            if n == m.len() {
                return Some(true);
            }
            undecided = true;
        }
    }
    if undecided { None } else { Some(false) }
}

impl<'o> Engine<'o> {
    pub(crate) fn new(opts: &'o Options, keys: &'o Keys, file: &str) -> Self {
        Engine {
            opts,
            keys,
            file: file.to_string(),
            next_session: opts.first_session.max(1),
            conns: HashMap::with_hasher(foldhash::fast::FixedState::default()),
            pending_bytes: 0,
            out: Vec::new(),
            last: Ctx { packet: 0, ts: 0 },
        }
    }

    pub(crate) fn flow_event(&mut self, e: FlowEvent<'_>, sink: &mut dyn FnMut(Record)) {
        match e {
            FlowEvent::Opened { conn, initiator, responder, packet, ts_nanos, .. } => {
                self.conns.insert(
                    conn.0,
                    Conn {
                        info: ConnInfo {
                            id: conn.0,
                            initiator,
                            responder,
                            first_packet: packet,
                            first_ts: ts_nanos,
                        },
                        state: State::Pending(Box::default()),
                        layer: Layer::Undecided(None),
                    },
                );
            }
            FlowEvent::Data { conn, side, offset, data, packet, ts_nanos } => {
                let ctx = Ctx { packet, ts: ts_nanos };
                self.data(conn.0, side, offset, data, ctx, sink);
            }
            FlowEvent::Gap { conn, side, offset, len, reason, packet, ts_nanos } => {
                let ctx = Ctx { packet, ts: ts_nanos };
                self.gap(conn.0, side, offset, len, reason, ctx, sink);
            }
            FlowEvent::Closed { conn, reason, packet, ts_nanos } => {
                let ctx = Ctx { packet, ts: ts_nanos };
                self.closed(conn.0, reason, ctx, sink);
            }
            FlowEvent::Warning { conn, packet, message } => {
                let session = match conn {
                    None => None,
                    Some(c) => match self.conns.get(&c.0).map(|c| &c.state) {
                        Some(State::Live(l)) if l.number.is_some() => l.number,
                        // Not (yet) a WebSocket session: not our business.
                        _ => return,
                    },
                };
                sink(Record::Warning(WarningRecord { session, file: self.file.clone(), packet, message }));
            }
        }
    }

    /// Ends every connection still open (the flow table reports them closed first;
    /// this only catches what it did not), giving each record with the connection it
    /// belongs to (in connection order).
    pub(crate) fn finish_by_conn(&mut self, sink: &mut dyn FnMut(u64, Record)) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let ctx = self.last;
            self.closed(id, CloseReason::EndOfCapture, ctx, &mut |r| sink(id, r));
        }
    }

    /// Sets the latest position seen (what [`finish_by_conn`](Self::finish_by_conn)
    /// stamps on what it ends), for an engine that saw only some of the connections.
    pub(crate) fn set_last(&mut self, packet: u64, ts: i64) {
        self.last = Ctx { packet, ts };
    }

    /// Runs `f` on connection `id` (with the map set aside meanwhile, so that `f` can
    /// use the rest of the engine), after noting `ctx` as the latest position.
    fn with_conn(&mut self, id: u64, ctx: Ctx, f: impl FnOnce(&mut Self, &mut Conn)) {
        self.last = ctx;
        // The map is set aside while `f` runs (nothing `f` calls looks connections up):
        // cheaper than taking the connection out and putting it back on every event.
        let mut conns = std::mem::take(&mut self.conns);
        if let Some(conn) = conns.get_mut(&id) {
            f(self, conn);
        }
        self.conns = conns;
    }

    fn data(
        &mut self,
        id: u64,
        side: Side,
        offset: u64,
        data: &[u8],
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) {
        self.with_conn(id, ctx, |this, conn| {
            if let Layer::Undecided(held) = &mut conn.layer {
                match held.take() {
                    None => match Layer::decide(side, data, false) {
                        Some(l) => conn.layer = l,
                        None => {
                            let h = Held { side, offset, bytes: data.to_vec() };
                            conn.layer = Layer::Undecided(Some(h));
                            return;
                        }
                    },
                    Some(mut h) if h.side == side => {
                        h.bytes.extend_from_slice(data);
                        match Layer::decide(side, &h.bytes, false) {
                            Some(l) => {
                                conn.layer = l;
                                this.layered(conn, side, h.offset, &h.bytes, ctx, sink);
                            }
                            None => conn.layer = Layer::Undecided(Some(h)),
                        }
                        return;
                    }
                    // The other side spoke: what is held decides.
                    Some(h) => this.undecided_no_more(conn, h, ctx, sink),
                }
            }
            this.layered(conn, side, offset, data, ctx, sink);
        });
    }

    /// A warning about a connection (not a session), naming its endpoints.
    fn conn_warning(&self, info: &ConnInfo, ctx: Ctx, why: &str) -> Record {
        let message = format!("{} -> {}: {why}", info.initiator, info.responder);
        Record::Warning(WarningRecord { session: None, file: self.file.clone(), packet: ctx.packet, message })
    }

    /// Decides a connection on the bytes it held (something else came), and passes them.
    fn undecided_no_more(&mut self, conn: &mut Conn, h: Held, ctx: Ctx, sink: &mut dyn FnMut(Record)) {
        conn.layer = Layer::decide(h.side, &h.bytes, true).unwrap_or(Layer::Plain);
        self.layered(conn, h.side, h.offset, &h.bytes, ctx, sink);
    }

    /// Bytes of a connection whose layer is decided.
    #[allow(clippy::too_many_arguments)]
    fn layered(
        &mut self,
        conn: &mut Conn,
        side: Side,
        offset: u64,
        data: &[u8],
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) {
        let Layer::Wrapped(w) = &mut conn.layer else {
            self.data_in(conn, side, offset, data, ctx, sink);
            return;
        };
        let mut pieces = Vec::new();
        w.data(side, data, conn.info.responder, self.keys, &mut pieces);
        self.pieces(conn, pieces, ctx, sink);
    }

    /// The inner pieces of a wrapped connection, to the WebSocket engine; its session
    /// record gets what the wrapping said (TLS, proxy).
    fn pieces(&mut self, conn: &mut Conn, pieces: Vec<Piece>, ctx: Ctx, sink: &mut dyn FnMut(Record)) {
        let stamp = Stamp::of(&conn.layer);
        let mut stamped = |r: Record| sink(stamp.on(r));
        for p in pieces {
            match p {
                Piece::Data(side, offset, bytes) => {
                    self.data_in(conn, side, offset, &bytes, ctx, &mut stamped)
                }
                Piece::Gap(side, offset, len) => {
                    self.gap_in(conn, side, offset, len, GapReason::Lost, ctx, &mut stamped);
                }
                Piece::Warning(w) => stamped(self.conn_warning(&conn.info, ctx, &w)),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data_in(
        &mut self,
        conn: &mut Conn,
        side: Side,
        offset: u64,
        data: &[u8],
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) {
        let info = conn.info;
        match &mut conn.state {
            State::Ignored => {}
            State::Live(live) => {
                self.feed_live(&info, live, side, offset, data, ctx, sink);
                live.last = ctx;
                if live.dead {
                    conn.state = State::Ignored;
                }
            }
            State::Pending(p) => {
                self.pend(p, side, offset, data, ctx);
                if let Some(next) = self.decide(&info, p, false) {
                    self.pending_bytes = self.pending_bytes.saturating_sub(p.buf[0].len() + p.buf[1].len());
                    let p = std::mem::take(p);
                    conn.state = next;
                    if let State::Live(live) = &mut conn.state {
                        self.replay(&info, live, &p, sink);
                        if live.dead {
                            conn.state = State::Ignored;
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn gap(
        &mut self,
        id: u64,
        side: Side,
        offset: u64,
        len: u64,
        reason: GapReason,
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) {
        self.with_conn(id, ctx, |this, conn| {
            if let Layer::Undecided(held) = &mut conn.layer
                && let Some(h) = held.take()
            {
                this.undecided_no_more(conn, h, ctx, sink);
            }
            let Layer::Wrapped(w) = &mut conn.layer else {
                this.gap_in(conn, side, offset, len, reason, ctx, sink);
                return;
            };
            let mut pieces = Vec::new();
            w.gap(side, len, &mut pieces);
            this.pieces(conn, pieces, ctx, sink);
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn gap_in(
        &mut self,
        conn: &mut Conn,
        side: Side,
        offset: u64,
        len: u64,
        reason: GapReason,
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) {
        let info = conn.info;
        match &mut conn.state {
            State::Ignored => {}
            State::Pending(p) => {
                // Bytes before a hole cannot be chained with bytes after it: start over
                // on this side.
                let i = side_ix(side);
                self.pending_bytes = self.pending_bytes.saturating_sub(p.buf[i].len());
                p.buf[i].clear();
                p.started[i] = false;
                p.ev[i] = None;
                p.next_check[i] = 0;
                p.chunks.retain(|c| c.side != side);
            }
            State::Live(live) => {
                if reason == GapReason::Snaplen && self.cut_head(&info, live, side, len, ctx, sink) {
                    return;
                }
                if live.upgrade.is_none() && !live.session.is_established() {
                    // Plain HTTP so far: what follows the hole can only be judged by
                    // frame synchronisation.
                    conn.state = if self.opts.sync {
                        State::Pending(Box::new(Pending { not_http: true, ..Default::default() }))
                    } else {
                        State::Ignored
                    };
                } else {
                    let dir = live.dir(side);
                    live.base[dir.index()].get_or_insert(offset);
                    if live.number.is_none() {
                        // The answer to the upgrade is lost: decoding goes on as frames.
                        self.number(&info, live, HandshakeState::Unanswered, None, sink);
                    }
                    let mut out = std::mem::take(&mut self.out);
                    live.session.gap(dir, len, &mut out);
                    self.emit(&info, live, &mut out, ctx, Some(reason), sink);
                    self.out = out;
                    live.last = ctx;
                }
            }
        }
    }

    /// A snapshot-length cut while the handshake is parsed: the end of a head (see
    /// [`Session::cut_head`]). False if the cut is not that.
    fn cut_head(
        &mut self,
        info: &ConnInfo,
        live: &mut Live,
        side: Side,
        len: u64,
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) -> bool {
        let dir = live.dir(side);
        let mut out = std::mem::take(&mut self.out);
        let cut = live.session.cut_head(dir, len, &mut out);
        if cut {
            self.emit(info, live, &mut out, ctx, Some(GapReason::Snaplen), sink);
            live.last = ctx;
        }
        out.clear();
        self.out = out;
        cut
    }

    fn closed(&mut self, id: u64, reason: CloseReason, ctx: Ctx, sink: &mut dyn FnMut(Record)) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        if let Layer::Undecided(held) = &mut conn.layer
            && let Some(h) = held.take()
        {
            self.undecided_no_more(&mut conn, h, ctx, sink);
        }
        let stamp = Stamp::of(&conn.layer);
        if let Layer::Wrapped(w) = &conn.layer
            && let Some(tls) = w.tls()
            && tls.summary().version.is_none()
        {
            let why = format!(
                "{}: the connection ended before a ServerHello: nothing to decrypt",
                tls.summary().describe()
            );
            sink(self.conn_warning(&conn.info, ctx, &why));
        }
        let sink = &mut |r: Record| sink(stamp.on(r));
        let info = conn.info;
        if let State::Pending(p) = &mut conn.state {
            self.pending_bytes = self.pending_bytes.saturating_sub(p.buf[0].len() + p.buf[1].len());
            if let Some(next) = self.decide(&info, p, true) {
                let p = std::mem::take(p);
                conn.state = next;
                if let State::Live(live) = &mut conn.state {
                    self.replay(&info, live, &p, sink);
                }
            }
        }
        if let State::Live(live) = &mut conn.state {
            if live.number.is_none() && live.upgrade.is_some() {
                self.number(&info, live, HandshakeState::Unanswered, None, sink);
            }
            let mut out = std::mem::take(&mut self.out);
            live.session.finish(&mut out);
            self.emit(&info, live, &mut out, ctx, None, sink);
            self.out = out;
            if let Some(n) = live.number {
                let reason = match reason {
                    CloseReason::Fin => "fin",
                    CloseReason::Rst => "rst",
                    CloseReason::Idle => "idle",
                    CloseReason::EndOfCapture => "end_of_capture",
                    CloseReason::Evicted => "evicted",
                    CloseReason::Superseded => "superseded",
                };
                sink(Record::Event(EventRecord {
                    session: n,
                    kind: "closed".into(),
                    dir: None,
                    packet: ctx.packet,
                    ts_nanos: ctx.ts,
                    offset: None,
                    len: None,
                    reason: Some(reason.into()),
                    text: format!("tcp closed ({reason})"),
                }));
            }
        }
    }

    /// Buffers a chunk of an unclassified connection.
    fn pend(&mut self, p: &mut Pending, side: Side, offset: u64, data: &[u8], ctx: Ctx) {
        let i = side_ix(side);
        if !p.started[i] {
            p.started[i] = true;
            p.base[i] = offset;
        }
        let expected = p.base[i] + p.buf[i].len() as u64;
        if offset != expected {
            // Flow events tile the stream, so this only happens after a hole this side
            // was restarted for; start over from here.
            self.pending_bytes = self.pending_bytes.saturating_sub(p.buf[i].len());
            p.buf[i].clear();
            p.base[i] = offset;
            p.chunks.retain(|c| c.side != side);
        }
        p.seen[i] += data.len() as u64;
        p.buf[i].extend_from_slice(data);
        self.pending_bytes += data.len();
        p.chunks.push_back(Chunk { side, offset, len: data.len(), packet: ctx.packet, ts: ctx.ts });
        if p.buf[i].len() > 2 * PENDING_WINDOW {
            // Keep the newest bytes only. (Trimmed when twice the window is held, not on
            // every chunk past it: moving the window for each 100-byte segment of a
            // long non-WebSocket connection cost more than everything else.)
            let drop = p.buf[i].len() - PENDING_WINDOW;
            p.buf[i].drain(..drop);
            p.base[i] += drop as u64;
            self.pending_bytes = self.pending_bytes.saturating_sub(drop);
            let base = p.base[i];
            p.chunks.retain_mut(|c| {
                if c.side != side || c.offset >= base {
                    return true;
                }
                let end = c.offset + c.len as u64;
                if end <= base {
                    return false;
                }
                c.len = (end - base) as usize;
                c.offset = base;
                true
            });
        }
    }

    /// Decides what an unclassified connection is, if its bytes allow it yet.
    fn decide(&mut self, conn: &ConnInfo, p: &mut Pending, at_end: bool) -> Option<State> {
        if !p.not_http {
            let mut all_no = true;
            for (i, side) in [Side::Initiator, Side::Responder].into_iter().enumerate() {
                if !p.started[i] {
                    continue;
                }
                match looks_http(&p.buf[i]) {
                    Some(true) => return Some(self.http_state(side)),
                    None if !at_end => all_no = false,
                    _ => {}
                }
            }
            if all_no && (p.started[0] || p.started[1]) {
                p.not_http = true;
            } else if !at_end {
                return None;
            }
        }
        if !self.opts.sync {
            return Some(State::Ignored);
        }
        for i in 0..2 {
            let len = p.buf[i].len();
            if len == 0 {
                continue;
            }
            // Back off by bytes seen, not bytes held: once the window is full and
            // slides, its length stays the same while the search must not repeat.
            let seen = p.seen[i];
            let due = p.checks[i] < 32 || seen >= p.next_check[i] || at_end;
            if due {
                p.checks[i] += 1;
                p.next_check[i] = seen.saturating_mul(2);
                p.ev[i] = evidence(&p.buf[i], None);
            }
        }
        let [a, b] = p.ev;
        let client = match (a, b) {
            (Some(a), Some(b))
                if a.masked != b.masked
                    && a.frames >= BOTH_DIRS_EACH
                    && b.frames >= BOTH_DIRS_EACH
                    && a.frames + b.frames >= BOTH_DIRS_TOTAL =>
            {
                Some(if a.masked { Side::Initiator } else { Side::Responder })
            }
            (Some(a), _) if a.frames >= ONE_DIR && b.is_none_or(|b| b.masked != a.masked) => {
                Some(if a.masked { Side::Initiator } else { Side::Responder })
            }
            (_, Some(b)) if b.frames >= ONE_DIR && a.is_none_or(|a| a.masked != b.masked) => {
                Some(if b.masked { Side::Responder } else { Side::Initiator })
            }
            _ => None,
        };
        if let Some(client) = client {
            let _ = conn;
            return Some(State::Live(Box::new(Live::new(
                Session::mid_stream(self.session_limits()),
                client,
                true,
            ))));
        }
        let over = p.seen[0] >= PENDING_GIVE_UP && p.seen[1] >= PENDING_GIVE_UP
            || p.seen[0] + p.seen[1] >= 2 * PENDING_GIVE_UP
            || self.pending_bytes > PENDING_BUDGET;
        (at_end || over).then_some(State::Ignored)
    }

    fn http_state(&self, client: Side) -> State {
        State::Live(Box::new(Live::new(Session::new(self.session_limits()), client, false)))
    }

    /// Feeds what an unclassified connection buffered, in arrival order.
    fn replay(&mut self, conn: &ConnInfo, live: &mut Live, p: &Pending, sink: &mut dyn FnMut(Record)) {
        if live.mid_stream {
            self.number(conn, live, HandshakeState::NotSeen, None, sink);
        }
        for c in &p.chunks {
            let i = side_ix(c.side);
            let from = (c.offset - p.base[i]) as usize;
            let data = &p.buf[i][from..from + c.len];
            let ctx = Ctx { packet: c.packet, ts: c.ts };
            self.feed_live(conn, live, c.side, c.offset, data, ctx, sink);
            live.last = ctx;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn feed_live(
        &mut self,
        conn: &ConnInfo,
        live: &mut Live,
        side: Side,
        offset: u64,
        data: &[u8],
        ctx: Ctx,
        sink: &mut dyn FnMut(Record),
    ) {
        let dir = live.dir(side);
        let base = *live.base[dir.index()].get_or_insert(offset);
        let start = offset.saturating_sub(base);
        let spans = &mut live.spans[dir.index()];
        spans.push_back(Span { start, end: start + data.len() as u64, packet: ctx.packet, ts: ctx.ts });
        let window =
            (self.opts.limits.resync_buffer.max(self.opts.limits.http_head_max) as u64).max(1 << 16) * 2;
        let newest = start + data.len() as u64;
        while spans.len() > 1 && (spans.len() > SPANS_MAX || spans[0].end + window < newest) {
            spans.pop_front();
        }
        let mut out = std::mem::take(&mut self.out);
        live.session.feed(dir, data, &mut out);
        self.emit(conn, live, &mut out, ctx, None, sink);
        self.out = out;
    }

    /// Gives the session its number and reports it.
    fn number(
        &mut self,
        conn: &ConnInfo,
        live: &mut Live,
        handshake: HandshakeState,
        negotiated: Option<(&wsprobe_wire::handshake::Negotiated, u16)>,
        sink: &mut dyn FnMut(Record),
    ) {
        let n = self.next_session;
        self.next_session += 1;
        live.number = Some(n);
        let (client, server) = match live.client {
            Side::Initiator => (conn.initiator, conn.responder),
            Side::Responder => (conn.responder, conn.initiator),
        };
        let req = live.upgrade.as_ref();
        let header =
            |name: &str| req.and_then(|r| r.header(name)).map(|v| String::from_utf8_lossy(v).into_owned());
        let extensions = negotiated.and_then(|(neg, _)| {
            (!neg.extensions.is_empty()).then(|| wsprobe_wire::extensions::format_extensions(&neg.extensions))
        });
        sink(Record::Session(Box::new(SessionRecord {
            session: n,
            file: self.file.clone(),
            conn: conn.id,
            client: addr(client),
            server: addr(server),
            handshake,
            status: negotiated.map(|(_, s)| s),
            path: req.map(|r| r.target.clone()),
            host: header("host"),
            origin: header("origin"),
            offered_protocols: header("sec-websocket-protocol"),
            offered_extensions: header("sec-websocket-extensions"),
            protocol: negotiated.and_then(|(neg, _)| neg.protocol.clone()),
            extensions,
            deflate: live.session.pmd(),
            tls_version: None,
            tls_suite: None,
            sni: None,
            proxy: None,
            first_packet: conn.first_packet,
            ts_nanos: conn.first_ts,
        })));
        for (e, ctx) in std::mem::take(&mut live.held) {
            self.record(live, e, ctx, None, sink);
        }
    }

    /// Turns the core's events into records (or holds them until the session has a number).
    fn emit(
        &mut self,
        conn: &ConnInfo,
        live: &mut Live,
        out: &mut Vec<Event>,
        ctx: Ctx,
        gap_reason: Option<GapReason>,
        sink: &mut dyn FnMut(Record),
    ) {
        for e in out.drain(..) {
            let at = live.when(&e, ctx);
            if live.number.is_none() {
                match &e {
                    Event::Request { request, .. }
                        if request.is_upgrade()
                            || (live.session.handshake_cut() && request.method == "GET") =>
                    {
                        live.upgrade = Some(request.clone());
                    }
                    Event::Response { response, negotiated, .. } if live.upgrade.is_some() => {
                        let status = response.status;
                        let state = if status == 101 && live.session.handshake_cut() {
                            HandshakeState::Cut
                        } else if status == 101 {
                            HandshakeState::Seen
                        } else {
                            HandshakeState::Rejected { status }
                        };
                        let neg = negotiated.clone().unwrap_or_default();
                        live.held.push_back((e, at));
                        self.number(conn, live, state, Some((&neg, status)), sink);
                        continue;
                    }
                    Event::HttpError { .. } if live.upgrade.is_none() => {
                        // Not HTTP after all (or nothing we can follow).
                        live.held.clear();
                        live.dead = true;
                        return;
                    }
                    _ => {}
                }
                if live.held.len() >= HELD_MAX {
                    live.held.pop_front();
                }
                live.held.push_back((e, at));
                continue;
            }
            if let Event::Request { request, .. } = &e
                && request.is_upgrade()
                && live.number.is_some()
                && !live.session.is_established()
            {
                // A new upgrade attempt after a refusal: a new session.
                live.upgrade = Some(request.clone());
                live.number = None;
                live.held.push_back((e, at));
                continue;
            }
            self.record(live, e, at, gap_reason, sink);
        }
    }
}

impl Live {
    fn new(session: Session, client: Side, mid_stream: bool) -> Self {
        Live {
            session,
            number: None,
            client,
            base: [None, None],
            spans: Default::default(),
            held: VecDeque::new(),
            upgrade: None,
            mid_stream,
            pings: Default::default(),
            last: Ctx { packet: 0, ts: 0 },
            dead: false,
        }
    }

    fn dir(&self, side: Side) -> Dir {
        if side == self.client { Dir::C2S } else { Dir::S2C }
    }

    /// The packet that carried byte `off` of direction `dir` (or, for a byte in a
    /// hole, the first packet after it; for a byte not seen yet, `ctx`).
    fn lookup(&self, dir: Dir, off: u64, ctx: Ctx) -> Ctx {
        let spans = &self.spans[dir.index()];
        let Some(idx) = spans.iter().rposition(|s| s.start <= off) else {
            return spans.front().map_or(ctx, |s| Ctx { packet: s.packet, ts: s.ts });
        };
        let s = if off < spans[idx].end {
            spans[idx]
        } else if let Some(next) = spans.get(idx + 1) {
            *next
        } else {
            return ctx;
        };
        Ctx { packet: s.packet, ts: s.ts }
    }

    /// The packet an event is tied to: the one that carried its last byte.
    fn when(&self, e: &Event, ctx: Ctx) -> Ctx {
        match e {
            Event::Frame(f) => {
                let end = f
                    .offset
                    .saturating_add(u64::from(f.header.header_len))
                    .saturating_add(f.header.payload_len);
                self.lookup(f.dir, end.saturating_sub(1), ctx)
            }
            Event::Message(m) => self.lookup(m.dir, m.end.saturating_sub(1), ctx),
            Event::Violation(v) => self.lookup(v.by.sends(), v.offset, ctx),
            Event::Request { offset, .. } => self.lookup(Dir::C2S, *offset, ctx),
            Event::Response { offset, .. } => self.lookup(Dir::S2C, *offset, ctx),
            Event::HttpError { dir, offset, .. } => self.lookup(*dir, *offset, ctx),
            Event::Resynced { dir, offset, .. } => self.lookup(*dir, *offset, ctx),
            Event::Established | Event::Gap { .. } => ctx,
        }
    }
}

impl Engine<'_> {
    /// The core's limits for a new session: without a transcript and without full
    /// payloads nothing needs more of a message than its preview, so only that much
    /// is kept (the length, UTF-8 and inflate verdicts still cover all of it); without
    /// frame records no frame payload is kept.
    fn session_limits(&self) -> wsprobe_wire::Limits {
        let mut limits = self.opts.limits;
        if !self.opts.text && self.opts.payload != PayloadMode::Full {
            limits.message_keep = limits.message_keep.min(PREVIEW_KEEP);
        }
        if !self.opts.frames {
            // Frame payloads only feed frame records.
            limits.frame_keep = 0;
        }
        limits
    }

    /// Maps one core event of a numbered session to its record.
    fn record(
        &mut self,
        live: &mut Live,
        e: Event,
        at: Ctx,
        gap_reason: Option<GapReason>,
        sink: &mut dyn FnMut(Record),
    ) {
        let Some(session) = live.number else { return };
        // Event records carry their line in JSON too (they are few); frames, messages
        // and violations only for the transcript and tables.
        let needs_text =
            self.opts.text || !matches!(e, Event::Frame(_) | Event::Message(_) | Event::Violation(_));
        let text = if needs_text { event_line(&e) } else { String::new() };
        let event = |kind: &str, dir: Option<Dir>, offset: Option<u64>, len: Option<u64>| EventRecord {
            session,
            kind: kind.to_string(),
            dir,
            packet: at.packet,
            ts_nanos: at.ts,
            offset,
            len,
            reason: None,
            text: text.clone(),
        };
        let rec = match &e {
            Event::Frame(f) => {
                if !self.opts.frames {
                    return;
                }
                Record::Frame(frame_record(session, f, at, text))
            }
            Event::Message(m) => {
                let rtt = live.rtt(m, at.ts);
                Record::Message(self.message_record(session, m, at, rtt, text))
            }
            Event::Violation(v) => Record::Violation(violation_record(session, v, at, text)),
            Event::Request { offset, .. } => {
                Record::Event(event("request", Some(Dir::C2S), Some(*offset), None))
            }
            Event::Response { offset, .. } => {
                Record::Event(event("response", Some(Dir::S2C), Some(*offset), None))
            }
            Event::Established => Record::Event(event("established", None, None, None)),
            Event::HttpError { dir, offset, .. } => {
                Record::Event(event("http_error", Some(*dir), Some(*offset), None))
            }
            Event::Gap { dir, offset, len } => {
                let mut r = event("gap", Some(*dir), Some(*offset), Some(*len));
                let reason = match gap_reason {
                    Some(GapReason::Snaplen) => "snaplen",
                    Some(GapReason::BufferCap) => "buffer_cap",
                    _ => "lost",
                };
                r.text = format!("{} ({reason})", r.text);
                r.reason = Some(reason.to_string());
                Record::Event(r)
            }
            Event::Resynced { dir, offset, skipped } => {
                Record::Event(event("resynced", Some(*dir), Some(*offset), Some(*skipped)))
            }
        };
        sink(rec);
    }

    fn message_record(
        &self,
        session: u64,
        m: &Message,
        at: Ctx,
        rtt: Option<i64>,
        mut text: String,
    ) -> MessageRecord {
        if let Some(r) = rtt.filter(|_| self.opts.text) {
            text.push_str(&format!(" rtt={}", fmt_duration(r)));
        }
        let (close_code, close_reason) = match &m.close {
            Some(c) if m.opcode == OpCode::CLOSE => (c.code, Some(c.reason_lossy())),
            _ => (None, None),
        };
        let (payload_preview, payload_b64) = match self.opts.payload {
            // Bytes are missing (lost, or cut by the snapshot length): what was seen is
            // not the payload, so none is shown.
            _ if m.incomplete => (None, None),
            PayloadMode::None => (None, None),
            PayloadMode::Preview => (Some(wsprobe_wire::transcript::preview(&m.payload, m.len)), None),
            PayloadMode::Full => (
                Some(wsprobe_wire::transcript::preview(&m.payload, m.len)),
                Some(base64::engine::general_purpose::STANDARD.encode(&m.payload)),
            ),
        };
        MessageRecord {
            session,
            dir: m.dir,
            packet: at.packet,
            ts_nanos: at.ts,
            opcode: m.opcode.name(),
            offset: m.offset,
            len: m.len,
            wire_len: m.wire_len,
            frames: m.frames,
            compressed: m.compressed,
            close_code,
            close_reason,
            payload_preview,
            payload_b64,
            truncated: m.truncated,
            incomplete: m.incomplete,
            rtt_nanos: rtt,
            text,
        }
    }
}

impl Live {
    /// Remembers a Ping; for a Pong, finds the Ping of the other endpoint it answers.
    fn rtt(&mut self, m: &Message, ts: i64) -> Option<i64> {
        match m.opcode {
            OpCode::PING => {
                let q = &mut self.pings[m.dir.index()];
                if q.len() >= PINGS_MAX {
                    q.pop_front();
                }
                q.push_back((m.payload.clone(), ts));
                None
            }
            OpCode::PONG => {
                let other = 1 - m.dir.index();
                let q = &mut self.pings[other];
                let i = q.iter().position(|(p, _)| *p == m.payload)?;
                let sent = q[i].1;
                // A Pong may answer only the latest of several Pings: older ones are settled.
                q.drain(..=i);
                Some(ts - sent)
            }
            _ => None,
        }
    }
}

fn frame_record(session: u64, f: &FrameEvent, at: Ctx, text: String) -> FrameRecord {
    let h = &f.header;
    let close_code = (h.opcode == OpCode::CLOSE && f.payload.len() >= 2)
        .then(|| u16::from_be_bytes([f.payload[0], f.payload[1]]));
    FrameRecord {
        session,
        dir: f.dir,
        packet: at.packet,
        ts_nanos: at.ts,
        offset: f.offset,
        fin: h.fin,
        rsv1: h.rsv1,
        rsv2: h.rsv2,
        rsv3: h.rsv3,
        opcode: h.opcode.0,
        opcode_name: h.opcode.name(),
        masked: h.masked,
        mask_key: h.mask_key.map(|k| format!("{:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3])),
        payload_len: h.payload_len,
        close_code,
        missing: f.missing,
        text,
    }
}

fn violation_record(session: u64, v: &Violation, at: Ctx, text: String) -> ViolationRecord {
    let info = v.rule.info();
    ViolationRecord {
        session,
        rule: info.id.to_string(),
        rfc: info.rfc,
        section: info.section.to_string(),
        level: info.level,
        by: v.by,
        dir: v.by.sends(),
        packet: at.packet,
        ts_nanos: at.ts,
        offset: v.offset,
        detail: v.detail.clone(),
        text,
    }
}

/// `1.234ms`-style rendering of a duration in nanoseconds.
pub(crate) fn fmt_duration(ns: i64) -> String {
    let abs = ns.unsigned_abs();
    let sign = if ns < 0 { "-" } else { "" };
    if abs >= 1_000_000_000 {
        format!("{sign}{:.3}s", abs as f64 / 1e9)
    } else if abs >= 1_000_000 {
        format!("{sign}{:.3}ms", abs as f64 / 1e6)
    } else {
        format!("{sign}{:.3}µs", abs as f64 / 1e3)
    }
}

/// What a wrapped connection's session record says of its wrapping.
#[derive(Default)]
struct Stamp {
    tls: Option<wsprobe_tls::Summary>,
    proxy: Option<String>,
}

impl Stamp {
    fn of(layer: &Layer) -> Stamp {
        match layer {
            Layer::Wrapped(w) => Stamp { tls: w.tls().map(|t| t.summary()), proxy: w.proxy.clone() },
            _ => Stamp::default(),
        }
    }

    /// `r`, with the wrapping said if it is the session's record.
    fn on(&self, mut r: Record) -> Record {
        if let Record::Session(s) = &mut r {
            if let Some(t) = &self.tls {
                s.tls_version = t.version.map(wsprobe_tls::hello::version_name);
                s.tls_suite = t.suite.map(wsprobe_tls::suite::suite_name);
                s.sni = t.sni.clone();
            }
            s.proxy = self.proxy.clone();
        }
        r
    }
}
