//! One direction of a connection: frame decoding (header bytes, payload chunks,
//! resynchronisation after lost bytes) and message assembly (fragmentation, control
//! frames between fragments, UTF-8, permessage-deflate, close), with every rule that
//! applies judged as the bytes arrive.

use crate::close::parse_close_kept;
use crate::deflate::distance::{self, WalkError};
use crate::deflate::{InflateError, Inflater, PmdConfig, TAIL};
use crate::event::{Event, FrameEvent, Message};
use crate::frame::{FrameHeader, HeaderContext, OpCode, Parsed, header_violations, parse_header};
use crate::mask::mask_into;
use crate::session::Limits;
use crate::sync::Search;
use crate::utf8::Utf8Validator;
use crate::{Dir, Role, Rule, Violation};

/// Largest compressed message kept to check its back-references against the agreed
/// window and context (RFC 7692 §7.1.1, §7.1.2); larger ones are inflated, not checked.
const WINDOW_CHECK_MAX: usize = 4 << 20;

/// Largest control payload kept for judging (control frames over 125 bytes are a
/// violation; this only bounds memory).
const CONTROL_KEEP: usize = 4096;

enum Phase {
    /// Collecting header bytes; `start` is the offset of the header's first byte.
    Header { buf: [u8; 14], len: usize, start: u64 },
    /// Inside a frame's payload.
    Payload,
    /// Looking for a frame boundary; `base` is the offset of `buf[0]`.
    Resync { buf: Vec<u8>, base: u64, search: Search },
}

/// Where the payload of the current frame goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Message,
    Control,
    Discard,
}

struct Current {
    header: FrameHeader,
    offset: u64,
    remaining: u64,
    done: u64,
    keep: Vec<u8>,
    control: Vec<u8>,
    route: Route,
    missing: u64,
}

/// A data message being assembled.
struct Partial {
    msg: Message,
    utf8: Option<Utf8Validator>,
    /// Inflating stopped (error or limit); the rest is counted on the wire only.
    inflate_stopped: bool,
    /// The compressed payload so far, when its back-references are to be checked
    /// (`None` when not, or past [`WINDOW_CHECK_MAX`]).
    deflated: Option<Vec<u8>>,
}

/// Decoder and assembler of one direction.
pub(crate) struct Assembler {
    sender: Role,
    limits: Limits,
    roles_known: bool,
    /// Extensions unknown (mid-stream): RSV1 taken as compression, no RSV/inflate verdicts.
    unknown_ext: bool,
    /// Bytes were lost in capture (or never inflated) while the compression window
    /// carries over between messages: a later message may refer to history the
    /// inflater never saw, so its failing to inflate is not the sender's fault. Ends
    /// once a full window (32 KiB) has been inflated again.
    window_lost: bool,
    /// Bytes inflated since the window was lost.
    rebuilt: u64,
    /// Bytes inflated since the compression context last started (the history a
    /// message may refer to, up to 32 KiB).
    history: u64,
    pmd: Option<(u8, bool)>,
    inflater: Option<Inflater>,
    phase: Phase,
    /// Offset of the next byte fed.
    pos: u64,
    cur: Option<Current>,
    partial: Option<Partial>,
    /// Whether the fragmentation state is known (false after a resynchronisation).
    frag_known: bool,
    close_sent: bool,
    scratch: Vec<u8>,
}

impl Assembler {
    pub(crate) fn new(sender: Role, limits: Limits) -> Self {
        Assembler {
            sender,
            limits,
            roles_known: true,
            unknown_ext: false,
            window_lost: false,
            rebuilt: 0,
            history: 0,
            pmd: None,
            inflater: None,
            phase: Phase::Header { buf: [0; 14], len: 0, start: 0 },
            pos: 0,
            cur: None,
            partial: None,
            frag_known: true,
            close_sent: false,
            scratch: Vec::new(),
        }
    }

    fn dir(&self) -> Dir {
        self.sender.sends()
    }

    pub(crate) fn set_negotiated(&mut self, pmd: Option<&PmdConfig>) {
        self.pmd = pmd.map(|c| c.for_sender(self.sender));
        self.inflater = self.pmd.map(|(bits, no_ctx)| Inflater::new(bits, no_ctx, self.limits.inflate_max));
    }

    pub(crate) fn set_unknown_start(&mut self) {
        self.roles_known = false;
        self.unknown_ext = true;
        self.frag_known = false;
        self.phase = Phase::Resync { buf: Vec::new(), base: self.pos, search: Search::default() };
    }

    /// The handshake was seen but not which extensions it agreed (cut by the
    /// capture): RSV1 is read as compression, with no RSV or inflate verdicts.
    pub(crate) fn set_unknown_extensions(&mut self) {
        self.unknown_ext = true;
    }

    pub(crate) fn set_position(&mut self, pos: u64) {
        self.pos = pos;
        match &mut self.phase {
            Phase::Header { start, len: 0, .. } => *start = pos,
            Phase::Resync { buf, base, .. } if buf.is_empty() => *base = pos,
            _ => {}
        }
    }

    fn violation(&self, rule: Rule, offset: u64, detail: impl Into<String>, out: &mut Vec<Event>) {
        out.push(Event::Violation(Violation::new(rule, self.sender, offset, detail)));
    }

    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let mut i = 0;
        while i < data.len() {
            match &mut self.phase {
                Phase::Header { buf, len, start } => {
                    let take = (14 - *len).min(data.len() - i);
                    let mut tmp = *buf;
                    tmp[*len..*len + take].copy_from_slice(&data[i..i + take]);
                    match parse_header(&tmp[..*len + take]) {
                        Parsed::Incomplete { .. } => {
                            *buf = tmp;
                            *len += take;
                            i += take;
                            self.pos += take as u64;
                        }
                        Parsed::Header(h) => {
                            let used = usize::from(h.header_len) - *len;
                            let start = *start;
                            i += used;
                            self.pos += used as u64;
                            self.start_frame(h, start, out);
                        }
                    }
                }
                Phase::Payload => {
                    let Some(cur) = &self.cur else { break };
                    let n = (cur.remaining.min((data.len() - i) as u64)) as usize;
                    self.payload(&data[i..i + n], out);
                    i += n;
                    self.pos += n as u64;
                    if self.cur.as_ref().is_some_and(|c| c.remaining == 0) {
                        self.end_frame(out);
                    }
                }
                Phase::Resync { buf, base, search } => {
                    let room = self.limits.resync_buffer.saturating_sub(buf.len());
                    let take = room.min(data.len() - i);
                    buf.extend_from_slice(&data[i..i + take]);
                    i += take;
                    self.pos += take as u64;
                    let sender = self.roles_known.then_some(self.sender);
                    if let Some(b) = search.find(buf, sender) {
                        let at = b.at;
                        let buf = std::mem::take(buf);
                        let base = *base;
                        out.push(Event::Resynced {
                            dir: self.dir(),
                            offset: base + at as u64,
                            skipped: at as u64,
                        });
                        self.pos = base + at as u64;
                        self.phase = Phase::Header { buf: [0; 14], len: 0, start: self.pos };
                        self.feed(&buf[at..], out);
                    } else if buf.len() >= self.limits.resync_buffer {
                        // No proof in a full buffer: drop its older half and keep looking.
                        let half = buf.len() / 2;
                        buf.drain(..half);
                        search.shift(half);
                        *base += half as u64;
                    }
                }
            }
        }
    }

    fn start_frame(&mut self, h: FrameHeader, offset: u64, out: &mut Vec<Event>) {
        let ctx = HeaderContext {
            sender: self.sender,
            rsv_allowed: if self.pmd.is_some() || self.unknown_ext { 0b100 } else { 0 },
            roles_known: self.roles_known,
        };
        let mut vs = Vec::new();
        header_violations(&h, ctx, offset, &mut vs);
        out.extend(vs.into_iter().map(Event::Violation));
        let compression = self.pmd.is_some() && !self.unknown_ext;
        if compression && h.rsv1 && h.opcode.is_control() {
            self.violation(Rule::PmdRsv1Control, offset, format!("RSV1 on a {} frame", h.opcode), out);
        }
        if compression && h.rsv1 && h.opcode == OpCode::CONTINUATION {
            self.violation(Rule::PmdRsv1Continuation, offset, "RSV1 on a continuation frame", out);
        }
        let data = matches!(h.opcode, OpCode::TEXT | OpCode::BINARY | OpCode::CONTINUATION);
        if data && self.close_sent {
            self.violation(Rule::CloseDataAfterClose, offset, format!("{} frame after Close", h.opcode), out);
        }
        let route = match h.opcode {
            OpCode::CLOSE | OpCode::PING | OpCode::PONG => Route::Control,
            OpCode::TEXT | OpCode::BINARY => {
                if let Some(old) = self.partial.take() {
                    if self.frag_known {
                        self.violation(
                            Rule::FragmentInterleavedData,
                            offset,
                            format!(
                                "{} frame while a fragmented {} message is unfinished",
                                h.opcode, old.msg.opcode
                            ),
                            out,
                        );
                    }
                    self.abandon(old, false, out);
                }
                self.frag_known = true;
                let compressed = h.rsv1 && (self.pmd.is_some() || self.unknown_ext);
                if compressed && self.inflater.is_none() {
                    self.inflater = Some(Inflater::new(15, false, self.limits.inflate_max));
                }
                self.partial = Some(Partial {
                    msg: Message {
                        dir: self.dir(),
                        opcode: h.opcode,
                        offset,
                        end: offset,
                        frames: 0,
                        compressed,
                        len: 0,
                        wire_len: 0,
                        payload: Vec::new(),
                        truncated: false,
                        incomplete: false,
                        close: None,
                    },
                    utf8: (h.opcode == OpCode::TEXT).then(Utf8Validator::new),
                    inflate_stopped: false,
                    deflated: (compressed && self.checks_references()).then(Vec::new),
                });
                Route::Message
            }
            OpCode::CONTINUATION if self.partial.is_some() => Route::Message,
            OpCode::CONTINUATION => {
                if self.frag_known {
                    self.violation(
                        Rule::FragmentOrphanContinuation,
                        offset,
                        "continuation with no message to continue",
                        out,
                    );
                }
                Route::Discard
            }
            _ => Route::Discard,
        };
        self.cur = Some(Current {
            header: h,
            offset,
            remaining: h.payload_len,
            done: 0,
            keep: Vec::new(),
            control: Vec::new(),
            route,
            missing: 0,
        });
        self.phase = Phase::Payload;
        if h.payload_len == 0 {
            self.end_frame(out);
        }
    }

    /// Handles payload bytes (still masked) of the current frame. Only a masked
    /// payload is copied (into the scratch buffer, to unmask it).
    fn payload(&mut self, chunk: &[u8], out: &mut Vec<Event>) {
        let Some(cur) = self.cur.as_ref() else { return };
        let need = self.unmasked_needed(cur, chunk.len());
        let Some(cur) = self.cur.as_mut() else { return };
        let chunk_offset = self.pos;
        let mut scratch = std::mem::take(&mut self.scratch);
        // The leading bytes of the chunk that anything looks at, unmasked: all of them
        // unless only counts matter past what is kept.
        let seen: &[u8] = match cur.header.mask_key {
            Some(key) => {
                scratch.clear();
                mask_into(&mut scratch, &chunk[..need], key, (cur.done % 4) as usize);
                &scratch
            }
            None => chunk,
        };
        let keep = self.limits.frame_keep.saturating_sub(cur.keep.len()).min(seen.len());
        cur.keep.extend_from_slice(&seen[..keep]);
        cur.done += chunk.len() as u64;
        cur.remaining -= chunk.len() as u64;
        match cur.route {
            Route::Control => {
                let room = CONTROL_KEEP.saturating_sub(cur.control.len()).min(seen.len());
                cur.control.extend_from_slice(&seen[..room]);
            }
            Route::Message if seen.len() == chunk.len() => self.message_data(seen, chunk_offset, out),
            Route::Message => {
                if let Some(p) = self.partial.as_mut() {
                    p.msg.wire_len += chunk.len() as u64;
                    count(p, seen, chunk.len(), self.limits.message_keep);
                }
            }
            Route::Discard => {}
        }
        self.scratch = scratch;
    }

    /// How many leading bytes of the next `len` payload bytes of `cur` must be seen
    /// unmasked. All of them for a control frame, a compressed message (inflated) and
    /// text (UTF-8 checked); of a frame that is discarded, or of a binary message (or
    /// text already found invalid) that is not compressed, only what is still to be
    /// kept: the rest only counts (unmasking it was a tenth of dissecting large
    /// binary messages).
    fn unmasked_needed(&self, cur: &Current, len: usize) -> usize {
        let frame = self.limits.frame_keep.saturating_sub(cur.keep.len());
        let message = match (cur.route, &self.partial) {
            (Route::Control, _) => return len,
            (Route::Message, Some(p)) if p.msg.compressed => {
                if p.inflate_stopped || p.msg.incomplete {
                    0
                } else {
                    return len;
                }
            }
            (Route::Message, Some(p)) if p.utf8.is_some() => return len,
            (Route::Message, Some(p)) => self.limits.message_keep.saturating_sub(p.msg.payload.len()),
            (Route::Message, None) | (Route::Discard, _) => 0,
        };
        frame.max(message).min(len)
    }

    /// Adds unmasked payload bytes of a data frame to the message being assembled.
    fn message_data(&mut self, data: &[u8], offset: u64, out: &mut Vec<Event>) {
        let Some(p) = self.partial.as_mut() else {
            return;
        };
        p.msg.wire_len += data.len() as u64;
        if !p.msg.compressed {
            if let Some((in_chunk, in_text)) = absorb(p, data, self.limits.message_keep) {
                self.violation(
                    Rule::Utf8TextInvalid,
                    offset + in_chunk,
                    format!("invalid UTF-8 at byte {in_text} of the text"),
                    out,
                );
            }
            return;
        }
        if p.inflate_stopped || p.msg.incomplete {
            return;
        }
        let Some(inf) = self.inflater.as_mut() else {
            return;
        };
        if let Some(d) = p.deflated.as_mut() {
            if d.len() + data.len() <= WINDOW_CHECK_MAX {
                d.extend_from_slice(data);
            } else {
                p.deflated = None;
            }
        }
        let keep = self.limits.message_keep;
        let mut bad_utf8 = None;
        let r = inf.push_with(data, &mut |bytes| {
            if let Some((_, in_text)) = absorb(p, bytes, keep) {
                bad_utf8.get_or_insert(in_text);
            }
        });
        self.inflate_result(r, offset, out);
        if let Some(at) = bad_utf8 {
            self.violation(
                Rule::Utf8TextInvalid,
                offset,
                format!("invalid UTF-8 at byte {at} of the decompressed text"),
                out,
            );
        }
    }

    /// Whether the agreed parameters restrict back-references (a window under 32 KiB,
    /// or no context takeover) and the history is known, so that they are checked.
    fn checks_references(&self) -> bool {
        matches!(self.pmd, Some((bits, no_ctx)) if bits < 15 || no_ctx)
            && !self.unknown_ext
            && !self.window_lost
    }

    /// Checks the back-references of a completely inflated message against the
    /// agreed window (§7.1.2) and context (§7.1.1).
    fn check_references(&mut self, deflated: &mut Vec<u8>, end: u64, out: &mut Vec<Event>) {
        let Some((bits, no_ctx)) = self.pmd else { return };
        let history = if no_ctx { 0 } else { self.history.min(1 << 15) as usize };
        deflated.extend_from_slice(&TAIL);
        match distance::walk(deflated, history, self.limits.inflate_max as u64) {
            Ok(r) if u64::from(r.max_distance) > 1u64 << bits => self.violation(
                Rule::PmdWindowExceeded,
                end,
                format!(
                    "a back-reference of {} bytes in a message, where {}_max_window_bits={bits} allows {}",
                    r.max_distance,
                    self.sender,
                    1u32 << bits
                ),
                out,
            ),
            Err(WalkError::TooFarBack { distance, .. }) if no_ctx => {
                self.context_violation(distance, end, out)
            }
            _ => {}
        }
    }

    fn context_violation(&self, distance: u32, offset: u64, out: &mut Vec<Event>) {
        self.violation(
            Rule::PmdContextTakeover,
            offset,
            format!(
                "a back-reference of {distance} bytes reaches into an earlier message, \
                 although {}_no_context_takeover was agreed",
                self.sender
            ),
            out,
        );
    }

    fn inflate_result(&mut self, r: Result<(), InflateError>, offset: u64, out: &mut Vec<Event>) {
        let Err(e) = r else { return };
        if e == InflateError::EmptyPayload {
            // Nothing reached the inflater: its window is intact.
            self.violation(Rule::PmdInflateError, offset, e.to_string(), out);
            return;
        }
        let unknown = self.unknown_ext || self.window_lost;
        if let Some(p) = self.partial.as_mut() {
            p.inflate_stopped = true;
            p.msg.truncated = true;
            if unknown {
                p.msg.incomplete = true;
            }
        }
        // After a limit, the rest of the message never reaches the window: later
        // messages may refer to it.
        if matches!(e, InflateError::Limit { .. })
            && self.inflater.as_ref().is_some_and(|i| !i.no_context_takeover())
        {
            self.lose_window();
        }
        if let Some(inf) = self.inflater.as_mut() {
            inf.reset();
        }
        self.history = 0;
        match e {
            InflateError::Limit { limit } => self.violation(
                Rule::LimitInflatedSize,
                offset,
                format!("message inflates past the {limit}-byte limit"),
                out,
            ),
            InflateError::Corrupt(msg) if !unknown => {
                // Under no_context_takeover the inflater starts each message afresh: a
                // reference into the previous message is that promise broken, not junk.
                let no_ctx = no_context_takeover(self.pmd);
                let deflated = self.partial.as_ref().and_then(|p| p.deflated.as_deref());
                match deflated.map(|d| distance::walk(d, 0, self.limits.inflate_max as u64)) {
                    Some(Err(WalkError::TooFarBack { distance, .. })) if no_ctx => {
                        self.context_violation(distance, offset, out)
                    }
                    _ => self.violation(Rule::PmdInflateError, offset, msg, out),
                }
            }
            InflateError::Corrupt(_) | InflateError::EmptyPayload => {}
        }
    }

    fn end_frame(&mut self, out: &mut Vec<Event>) {
        let Some(cur) = self.cur.take() else { return };
        self.phase = Phase::Header { buf: [0; 14], len: 0, start: self.pos };
        let end = cur
            .offset
            .saturating_add(u64::from(cur.header.header_len))
            .saturating_add(cur.header.payload_len);
        let h = cur.header;
        out.push(Event::Frame(FrameEvent {
            dir: self.dir(),
            offset: cur.offset,
            header: h,
            payload: cur.keep,
            missing: cur.missing,
        }));
        match cur.route {
            Route::Control => {
                let mut msg = Message {
                    dir: self.dir(),
                    opcode: h.opcode,
                    offset: cur.offset,
                    end,
                    frames: 1,
                    compressed: false,
                    len: h.payload_len,
                    wire_len: h.payload_len,
                    truncated: (cur.control.len() as u64) < h.payload_len,
                    incomplete: cur.missing > 0,
                    payload: cur.control,
                    close: None,
                };
                if h.opcode == OpCode::CLOSE {
                    let whole = msg.payload.len() as u64 == h.payload_len;
                    let (info, problems) = parse_close_kept(&msg.payload, whole);
                    if cur.missing == 0 {
                        let body = cur.offset + u64::from(h.header_len);
                        for (rule, at, detail) in problems {
                            self.violation(rule, body + at as u64, detail, out);
                        }
                    }
                    msg.close = Some(info);
                    self.close_sent = true;
                }
                out.push(Event::Message(msg));
            }
            Route::Message => {
                let Some(p) = self.partial.as_mut() else {
                    return;
                };
                p.msg.frames += 1;
                p.msg.end = end;
                if cur.missing > 0 {
                    p.msg.incomplete = true;
                }
                if h.fin
                    && let Some(p) = self.partial.take()
                {
                    self.finish_message(p, end, out);
                }
            }
            Route::Discard => {}
        }
    }

    fn finish_message(&mut self, mut p: Partial, end: u64, out: &mut Vec<Event>) {
        if p.msg.compressed && !p.inflate_stopped && !p.msg.incomplete {
            if let Some(inf) = self.inflater.as_mut() {
                let keep = self.limits.message_keep;
                let mut bad_utf8 = false;
                let r =
                    inf.finish_message_with(&mut |bytes| bad_utf8 |= absorb(&mut p, bytes, keep).is_some());
                if bad_utf8 {
                    self.violation(Rule::Utf8TextInvalid, end, "invalid UTF-8 in the decompressed text", out);
                }
                if let Ok(len) = r {
                    if let Some(mut d) = p.deflated.take()
                        && self.checks_references()
                    {
                        self.check_references(&mut d, end, out);
                    }
                    self.history =
                        if no_context_takeover(self.pmd) { 0 } else { self.history.saturating_add(len) };
                    if self.window_lost {
                        self.rebuilt += len;
                        self.window_lost = self.rebuilt < 1 << 15;
                    }
                } else {
                    self.history = 0;
                }
                self.partial = Some(p);
                self.inflate_result(r.map(|_| ()), end, out);
                let Some(q) = self.partial.take() else { return };
                p = q;
            }
        } else if p.msg.compressed
            && let Some(inf) = self.inflater.as_mut()
        {
            inf.reset();
        }
        if let Some(v) = &p.utf8
            && !p.msg.incomplete
            && !p.inflate_stopped
            && v.finish().is_err()
        {
            self.violation(Rule::Utf8TextInvalid, end, "text ends inside a UTF-8 sequence", out);
        }
        out.push(Event::Message(p.msg));
    }

    /// Notes that the compression history is incomplete from here on.
    fn lose_window(&mut self) {
        self.window_lost = true;
        self.rebuilt = 0;
    }

    /// Reports an unfinished message as incomplete.
    /// `in_frame`: whether the message's last frame was cut short (so it ends here).
    fn abandon(&mut self, mut p: Partial, in_frame: bool, out: &mut Vec<Event>) {
        p.msg.incomplete = true;
        if in_frame {
            p.msg.end = self.pos;
        }
        if p.msg.compressed
            && let Some(inf) = self.inflater.as_mut()
        {
            inf.reset();
            self.history = 0;
        }
        out.push(Event::Message(p.msg));
    }

    pub(crate) fn gap(&mut self, len: u64, out: &mut Vec<Event>) {
        out.push(Event::Gap { dir: self.dir(), offset: self.pos, len });
        if self.inflater.as_ref().is_some_and(|i| !i.no_context_takeover()) {
            self.lose_window();
        }
        let mut left = len;
        if let (Phase::Payload, Some(cur)) = (&self.phase, self.cur.as_mut()) {
            let n = left.min(cur.remaining);
            cur.remaining -= n;
            cur.done += n;
            cur.missing += n;
            self.pos += n;
            left -= n;
            if let Some(p) = self.partial.as_mut().filter(|_| cur.route == Route::Message) {
                p.msg.incomplete = true;
                p.msg.wire_len += n;
                if !p.msg.compressed {
                    // The frame header declared these bytes: the length stays exact.
                    p.msg.len += n;
                }
                p.utf8 = None;
            }
            if cur.remaining == 0 {
                self.end_frame(out);
            }
            if left == 0 {
                return;
            }
        }
        // The gap reaches past the current frame: where the next frame starts is unknown.
        self.cut_short(out);
        self.pos += left;
        self.frag_known = false;
        self.phase = Phase::Resync { buf: Vec::new(), base: self.pos, search: Search::default() };
    }

    /// Header bytes held and how many more the header needs, if it is unfinished.
    pub(crate) fn pending_header(&self) -> Option<(usize, usize)> {
        match &self.phase {
            Phase::Header { buf, len, .. } if *len > 0 => match parse_header(&buf[..*len]) {
                Parsed::Incomplete { needed } => Some((*len, needed)),
                Parsed::Header(_) => None,
            },
            _ => None,
        }
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<Event>) {
        self.cut_short(out);
    }

    /// Reports the frame in progress (its unreceived bytes as missing) and the message
    /// in progress (as incomplete), and forgets both.
    fn cut_short(&mut self, out: &mut Vec<Event>) {
        let in_frame = self.cur.as_ref().is_some_and(|c| c.route == Route::Message);
        if let Some(cur) = self.cur.take() {
            out.push(Event::Frame(FrameEvent {
                dir: self.dir(),
                offset: cur.offset,
                header: cur.header,
                payload: cur.keep,
                missing: cur.missing + cur.remaining,
            }));
        }
        if let Some(p) = self.partial.take() {
            self.abandon(p, in_frame, out);
        }
    }
}

/// Adds decoded message bytes: counts them, keeps up to `keep`, validates text.
fn absorb(p: &mut Partial, bytes: &[u8], keep: usize) -> Option<(u64, u64)> {
    count(p, bytes, bytes.len(), keep);
    let v = p.utf8.as_mut()?;
    let before = v.fed();
    match v.feed(bytes) {
        Ok(()) => None,
        Err(e) => {
            p.utf8 = None;
            Some((e.at - before, e.at))
        }
    }
}

/// Counts `total` decoded message bytes, of which `seen` are the first, and keeps up
/// to `keep` of the message (`seen` holds at least what is kept of these).
fn count(p: &mut Partial, seen: &[u8], total: usize, keep: usize) {
    p.msg.len += total as u64;
    let room = keep.saturating_sub(p.msg.payload.len()).min(total);
    p.msg.payload.extend_from_slice(&seen[..room.min(seen.len())]);
    if room < total {
        p.msg.truncated = true;
    }
}

/// Whether the agreed parameters reset the context after every message.
fn no_context_takeover(pmd: Option<(u8, bool)>) -> bool {
    matches!(pmd, Some((_, true)))
}
