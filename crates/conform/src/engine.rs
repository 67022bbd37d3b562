//! The case engine, sans-IO: one case played against one connection. Bytes from the
//! target and the time go in, bytes to write and the next deadline come out, the
//! observations (judged into a verdict by [`verdict`](crate::verdict)) at the end. It
//! owns no socket and reads no clock: the tokio runner ([`runner`](crate::runner))
//! drives it for `wsprobe test`, and other drivers (a server for `serve`, a fuzzer) can.

use crate::catalog::{Case, PmdUse};
use crate::runner::{KeyGen, RunOptions};
use crate::steps::{FrameStep, MaskMode, Payload, Step};
use crate::transcript::{Transcript, frame_line};
use crate::verdict::{self, Finding, Observed, Received};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use wsprobe_wire::close::code_allowed_on_wire;
use wsprobe_wire::deflate::{Deflater, PmdConfig};
use wsprobe_wire::encode::{FrameSpec, Masking};
use wsprobe_wire::{Established, Event, Limits, OpCode, Role, Rule, Session};

/// What the driver does to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes: in pieces of `chop` bytes each flushed on its own (and a
    /// short pause after), or flushed at once (`sync`), or as the transport likes.
    Write {
        /// The bytes.
        bytes: Vec<u8>,
        /// Write in pieces of this many bytes.
        chop: Option<usize>,
        /// Flush right after.
        sync: bool,
    },
    /// Close the connection (TCP FIN after what was written).
    Shutdown,
    /// Drop every earlier write not yet begun: the peer's Close is answered before the
    /// rest of a long message (§5.5.1: "as soon as practical"; a Close may come between
    /// fragments, §5.4). Writes hold whole frames, so the stream stays well-formed.
    Discard,
}

/// Frames of one message are handed out in writes of about this many bytes, so a
/// [`Output::Discard`] can stop a long message between frames.
const WRITE_GROUP: usize = 64 << 10;

/// What the steps wait for.
enum Waiting {
    /// A `wait` step: until then, or until `echoes` data messages have come in (then a
    /// mark, if any, notes the connection still open).
    Until { at: Instant, mark: Option<String>, echoes: Option<u64> },
    /// A `repeat` step: the `next`-th repetition of `msg` goes once `next` messages
    /// came back, up to `count`.
    Echo { msg: Step, next: u64, count: u64 },
}

/// Waits before dropping TCP once the closing handshake is over (Autobahn's
/// serverConnectionDropTimeout) and for the target's Close after ours.
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Frames logged in a transcript per direction.
const FRAME_LOG: usize = 400;

/// One case against one connection, sans-IO: what the target sends comes in through
/// [`receive`](Self::receive), [`eof`](Self::eof) and [`error`](Self::error), the time
/// through every call, and what to write comes out of [`poll_output`](Self::poll_output);
/// [`deadline`](Self::deadline) says when to call [`on_deadline`](Self::on_deadline) at
/// the latest. The steps are played and the timers kept the way Autobahn does.
pub struct CaseEngine<'a> {
    case: &'a Case,
    opts: &'a RunOptions,
    keys: KeyGen,
    obs: Observed,
    tr: Transcript,
    /// The tester's role: `Client` against a server (`wsprobe test`), `Server` against a
    /// client (`wsprobe serve`). Decides masking, whose bytes are judged as the peer's,
    /// and who closes TCP.
    role: Role,
    /// The time of the call being handled.
    now: Instant,
    /// Decodes and judges everything the target sends.
    session: Session,
    events: Vec<Event>,
    /// Received frames logged in the transcript so far.
    frames_in_logged: usize,
    /// The peer's (a client's) first and latest masking keys, and whether a
    /// predictable key was reported already.
    first_key: Option<[u8; 4]>,
    last_key: Option<[u8; 4]>,
    predictable_reported: bool,
    outputs: VecDeque<Output>,
    steps: Vec<Step>,
    /// Index of the next step.
    pc: usize,
    last_message: Option<Step>,
    wait: Option<Waiting>,
    /// The steps are over (played, or cut short by the connection's end).
    steps_done: bool,
    /// The case is over: nothing more to write or read.
    ended: bool,
    /// What the tester itself sent, judged as client output (to know whether it broke rules).
    self_check: Session,
    self_events: Vec<Event>,
    tester_violated: bool,
    close_sent: bool,
    close_sent_valid: bool,
    close_sent_at: Option<Instant>,
    close_received: bool,
    tcp_closed: bool,
    handshake_done_at: Option<Instant>,
    fail_at: Option<Instant>,
    close_at: Option<Instant>,
    watchdog: Instant,
    pings: VecDeque<Vec<u8>>,
    /// Pongs that answered no outstanding Ping while one was outstanding.
    stray_pongs: Vec<Vec<u8>>,
    messages_received: u64,
    flood_cap: usize,
    /// Payload bytes kept of the events received so far.
    received_bytes: usize,
    stream: Option<(OpCode, [u8; 4], u64, bool)>,
    frames_logged: usize,
    /// Compresses the data messages the tester sends, when permessage-deflate is on.
    deflater: Option<Deflater>,
    /// The data messages sent and not yet echoed (cases that check echoes).
    unechoed: VecDeque<(OpCode, Vec<u8>)>,
    /// What came back can no longer match any acceptable outcome.
    decided: bool,
    /// The case compares echoes with what was sent (`Case::checks_echo`, computed once).
    checks_echo: bool,
    /// Pings from the target are heartbeats, not events (an echo case expecting none).
    pings_are_heartbeats: bool,
}

/// Payload bytes of received events a case keeps; past it the target is flooding.
const RECEIVED_KEEP_MAX: usize = 32 << 20;
/// Pings a target may send during an echo case before it counts as flooding.
const HEARTBEATS_MAX: u32 = 1000;
/// Findings kept per case (the rest are counted in a note).
const FINDINGS_MAX: usize = 64;

impl<'a> CaseEngine<'a> {
    /// A Ping still unanswered at the end, with Pongs of other payloads received
    /// meanwhile: those were its answer, with the wrong payload (§5.5.3).
    fn judge_pongs(&mut self) {
        if let (Some(ping), Some(pong)) = (self.pings.front(), self.stray_pongs.first()) {
            let detail = format!(
                "ping {} was answered with pong {}",
                crate::steps::describe_bytes(ping),
                crate::steps::describe_bytes(pong)
            );
            self.obs.findings.push(Finding { rule: Rule::PongPayloadMismatch, detail });
        }
    }

    /// The engine for `case`, the tester in `role`, on a connection whose handshake is
    /// done (permessage-deflate as `pmd` says), at `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        case: &'a Case,
        opts: &'a RunOptions,
        role: Role,
        keys: KeyGen,
        obs: Observed,
        tr: Transcript,
        pmd: Option<PmdConfig>,
        now: Instant,
    ) -> Self {
        let keep = (case.keep_bytes() + 1).max(4096);
        let limits = Limits { message_keep: keep, frame_keep: 64, ..Limits::default() };
        let session = Session::established(limits, Established { pmd });
        // An offer with client_no_context_takeover is a promise kept even when the
        // answer leaves it out (RFC 7692 §7.1.1.2).
        let promised = role == Role::Client
            && case.offer.as_deref().is_some_and(|o| o.contains("client_no_context_takeover"));
        let deflater = pmd.map(|p| {
            let (bits, nct) = p.for_sender(role);
            // Level 1: the target must inflate any valid stream; the tester's CPU is
            // better spent elsewhere than on compression ratio.
            Deflater::with_level(bits, nct || promised, 1)
        });
        let self_limits = Limits { message_keep: 0, frame_keep: 0, ..Limits::default() };
        let self_check = Session::established(self_limits, Established { pmd });
        let timers: Duration = case
            .send
            .iter()
            .map(|s| match s {
                Step::Wait { dur, .. } | Step::FailAfter(dur) | Step::CloseAfter(dur) => *dur,
                _ => Duration::ZERO,
            })
            .sum();
        let watchdog =
            now + opts.scaled(timers.min(opts.max_case_time)) + opts.max_case_time.min(opts.timeout * 6);
        CaseEngine {
            case,
            opts,
            role,
            keys,
            obs,
            tr,
            now,
            session,
            events: Vec::new(),
            frames_in_logged: 0,
            first_key: None,
            last_key: None,
            predictable_reported: false,
            outputs: VecDeque::new(),
            steps: case.send.clone(),
            pc: 0,
            last_message: None,
            wait: None,
            steps_done: false,
            ended: false,
            self_check,
            self_events: Vec::new(),
            tester_violated: false,
            close_sent: false,
            close_sent_valid: false,
            close_sent_at: None,
            close_received: false,
            tcp_closed: false,
            handshake_done_at: None,
            fail_at: None,
            close_at: None,
            watchdog,
            pings: VecDeque::new(),
            stray_pongs: Vec::new(),
            messages_received: 0,
            flood_cap: case.ok_len() * 2 + 10_000,
            received_bytes: 0,
            stream: None,
            frames_logged: 0,
            deflater,
            unechoed: VecDeque::new(),
            decided: false,
            checks_echo: case.checks_echo(),
            pings_are_heartbeats: case.checks_echo() && !case.expects_ping(),
        }
    }

    /// How long the target has to answer the tester's Close.
    fn answer_wait(&self) -> Duration {
        self.opts.scaled(CLOSE_WAIT.max(self.opts.timeout.min(CLOSE_WAIT * 2)))
    }

    /// Fails fast: once what came back can no longer match any acceptable outcome, the
    /// case is decided (FAILED) and the tester closes instead of waiting for its timers.
    fn check_decided(&mut self) {
        if self.decided || self.case.informational || verdict::can_still_pass(self.case, &self.obs.received) {
            return;
        }
        self.decided = true;
        self.tr.note("decided: what came back can no longer match any acceptable outcome; the tester closes");
        self.send_close(1000);
    }

    fn add_finding(&mut self, rule: Rule, detail: String) {
        if self.obs.findings.len() < FINDINGS_MAX {
            self.tr.note(&format!("violation {rule}: {detail}"));
            self.obs.findings.push(Finding { rule, detail });
        } else if self.obs.findings.len() == FINDINGS_MAX {
            self.obs.notes.push(format!("more than {FINDINGS_MAX} violations: the rest are not listed"));
            self.obs.findings.push(Finding { rule, detail });
        }
    }

    /// The connection is OPEN in Autobahn's sense: no Close sent or received, TCP up.
    fn open(&self) -> bool {
        !self.close_sent && !self.close_received && !self.tcp_closed
    }

    fn write(&mut self, bytes: Vec<u8>, chop: Option<usize>, sync: bool) {
        if self.tcp_closed {
            return;
        }
        // (Performance cases send only well-formed frames; judging megabytes twice
        // would only cost time.)
        if !self.case.performance {
            self.self_check.feed(self.role.sends(), &bytes, &mut self.self_events);
        }
        for ev in self.self_events.drain(..) {
            if let Event::Violation(v) = ev
                && v.by == self.role
            {
                self.tester_violated = true;
            }
        }
        self.outputs.push_back(Output::Write { bytes, chop, sync });
    }

    fn log_sent(&mut self, spec: &FrameSpec) {
        if self.frames_logged < FRAME_LOG {
            self.frames_logged += 1;
            let h = wsprobe_wire::FrameHeader {
                fin: spec.fin,
                rsv1: spec.rsv & 4 != 0,
                rsv2: spec.rsv & 2 != 0,
                rsv3: spec.rsv & 1 != 0,
                opcode: spec.opcode,
                masked: !matches!(spec.masking, Masking::None),
                length_form: spec.length_form.unwrap_or(wsprobe_wire::LengthForm::minimal_for(
                    spec.declared_len.unwrap_or(spec.payload.len() as u64),
                )),
                payload_len: spec.declared_len.unwrap_or(spec.payload.len() as u64),
                mask_key: match spec.masking {
                    Masking::Key(k) => Some(k),
                    _ => None,
                },
                header_len: 0,
            };
            let line = frame_line(&h, &spec.payload[..spec.payload.len().min(64)]);
            self.tr.sent(&line);
        }
    }

    /// `spec` as the tester's role sends it: masked with a fresh key by a client,
    /// unmasked by a server (RFC 6455 §5.1).
    fn masked(&mut self, spec: FrameSpec) -> FrameSpec {
        match self.role {
            Role::Client => spec.masked(self.keys.mask_key()),
            Role::Server => spec,
        }
    }

    fn send_frame(&mut self, f: &FrameStep) {
        let payload = f.payload.bytes();
        let mut spec = FrameSpec::new(f.opcode, payload).fin(f.fin).rsv(f.rsv);
        spec.length_form = f.length_form;
        // `mask=none` is the wrong way round for the tester's role: unmasked from a
        // client, masked from a server.
        spec = match (f.mask, self.role) {
            (MaskMode::Key, _) => self.masked(spec),
            (MaskMode::None, Role::Server) => spec.masked(self.keys.mask_key()),
            (MaskMode::None, Role::Client) => spec,
        };
        if f.opcode == OpCode::PING && f.fin && f.payload.len() <= 125 {
            self.pings.push_back(spec.payload.clone());
        }
        if f.opcode == OpCode::CLOSE && f.fin && f.rsv == 0 && f.mask == MaskMode::Key {
            // A well-formed Close frame starts the closing handshake (a malformed one is
            // just a bad frame, as when Autobahn writes raw frames).
            self.note_close_sent(&spec.payload);
        }
        self.log_sent(&spec);
        match spec.encode() {
            Ok(bytes) => self.write(bytes, f.chop, f.sync),
            Err(e) => self.tr.note(&format!("cannot encode frame: {e}")),
        }
    }

    fn note_close_sent(&mut self, body: &[u8]) {
        if !self.close_sent {
            self.close_sent = true;
            self.close_sent_at = Some(self.now);
            if !self.close_received {
                self.obs.closed_by_me = true;
            }
            let (_, problems) = wsprobe_wire::close::parse_close(body);
            self.close_sent_valid = problems.is_empty() && body.len() <= 125 && !self.tester_violated;
        }
    }

    /// Sends the `nth` repetition of a message (compressed when permessage-deflate is
    /// on), cut into frames of `fragsize` bytes of payload as sent.
    fn send_message(
        &mut self,
        opcode: OpCode,
        payload: &Payload,
        fragsize: Option<usize>,
        chop: Option<usize>,
        sync: bool,
        nth: u64,
    ) {
        let mut data = payload.nth(nth);
        if self.checks_echo {
            self.unechoed.push_back((opcode, data.clone()));
        }
        let compressed = self.deflater.is_some();
        if let Some(d) = &mut self.deflater {
            data = d.compress_message(&data);
        }
        let size = fragsize.unwrap_or(data.len().max(1));
        let mut pieces: Vec<&[u8]> = data.chunks(size).collect();
        // As Autobahn cuts a message: when the length is a multiple of the fragment
        // size (and more than one fragment), the last frame is an empty FIN frame.
        if pieces.is_empty() || (data.len() > size && data.len().is_multiple_of(size)) {
            pieces.push(&[]);
        }
        let n = pieces.len();
        let mut all = Vec::with_capacity(data.len() + n * 14);
        for (i, p) in pieces.into_iter().enumerate() {
            let op = if i == 0 { opcode } else { OpCode::CONTINUATION };
            let rsv = if i == 0 && compressed { 4 } else { 0 };
            let spec = FrameSpec::new(op, p.to_vec()).fin(i + 1 == n).rsv(rsv);
            let spec = self.masked(spec);
            self.log_sent(&spec);
            if chop.is_some() || sync {
                if let Ok(b) = spec.encode() {
                    self.write(b, chop, sync);
                }
            } else if spec.encode_into(&mut all).is_err() {
                return;
            }
            if all.len() >= WRITE_GROUP {
                self.write(std::mem::take(&mut all), None, false);
            }
        }
        if !all.is_empty() {
            self.write(all, None, false);
        }
    }

    /// Starts the closing handshake with `code` (Autobahn's sendClose / failConnection).
    fn send_close(&mut self, code: u16) {
        if self.close_sent || self.tcp_closed {
            return;
        }
        let body = code.to_be_bytes().to_vec();
        let spec = self.masked(FrameSpec::new(OpCode::CLOSE, body.clone()));
        self.note_close_sent(&body);
        self.log_sent(&spec);
        if let Ok(b) = spec.encode() {
            self.write(b, None, false);
        }
    }

    /// Drops the writes not yet handed out, and asks the transport to drop those it
    /// has not begun.
    fn discard_unsent(&mut self) {
        let before = self.outputs.len();
        self.outputs.retain(|o| !matches!(o, Output::Write { .. }));
        if self.outputs.len() < before {
            self.tr.note("frames not yet written dropped to answer the Close");
        }
        self.outputs.push_back(Output::Discard);
    }

    fn drop_tcp(&mut self, why: &str) {
        if self.tcp_closed {
            return;
        }
        self.tr.note(why);
        self.obs.dropped_by_me = true;
        self.tcp_closed = true;
        self.outputs.push_back(Output::Shutdown);
    }

    fn finish_when_done(&mut self) {
        if self.case.close.by_tester
            && !self.close_sent
            && verdict::matches_all(self.case, &self.obs.received)
        {
            self.send_close(1000);
        }
    }

    /// TCP ended from the target's side (or failed).
    fn on_tcp_end(&mut self, error: Option<&str>) {
        if !self.tcp_closed {
            match error {
                None => self.tr.note("target closed TCP"),
                Some(e) => {
                    self.tr.note(&format!("connection error: {e}"));
                    self.obs.notes.push(format!("connection error: {e}"));
                }
            }
        }
        self.tcp_closed = true;
    }

    fn on_violation(&mut self, v: wsprobe_wire::Violation) {
        let detail = format!("{} (byte {} of the target's stream)", v.detail, v.offset);
        let rule = v.rule;
        self.add_finding(rule, detail);
        // A broken rule fails the case whatever else comes: decided. The tester fails the
        // connection as §7.1.7 says: a Close (1002), then TCP closed without waiting for
        // an answer.
        if !self.decided && !self.case.informational {
            self.decided = true;
            self.tr.note(&format!("decided: the target broke {rule}; the tester fails the connection"));
            self.send_close(1002);
            self.drop_tcp("the tester closed TCP after failing the connection");
        }
    }

    fn on_message(&mut self, m: wsprobe_wire::Message) {
        if self.obs.received.len() >= self.flood_cap || self.received_bytes > RECEIVED_KEEP_MAX {
            let note = format!(
                "flood: {} events ({} payload bytes kept) received; reading stopped",
                self.obs.received.len(),
                self.received_bytes
            );
            self.obs.notes.push(note.clone());
            self.drop_tcp(&note);
            return;
        }
        match m.opcode {
            OpCode::TEXT | OpCode::BINARY => {
                self.messages_received += 1;
                let mut data = m.payload;
                let mut echoed = false;
                if self.checks_echo {
                    // Type, length and bytes equal to the message sent in the same position.
                    echoed = self
                        .unechoed
                        .pop_front()
                        .is_some_and(|(op, sent)| op == m.opcode && !m.truncated && sent == data);
                    if echoed {
                        data = Vec::new();
                    }
                }
                self.received_bytes += data.len();
                self.obs.received.push(if m.opcode == OpCode::TEXT {
                    Received::Text { len: m.len, data, echoed }
                } else {
                    Received::Binary { len: m.len, data, echoed }
                });
                self.finish_when_done();
                self.check_decided();
            }
            OpCode::PING => {
                let p = m.payload;
                if !self.close_sent && !self.tcp_closed {
                    let spec = self.masked(FrameSpec::new(OpCode::PONG, p.clone()));
                    self.log_sent(&spec);
                    if let Ok(b) = spec.encode() {
                        self.write(b, None, false);
                    }
                }
                if self.pings_are_heartbeats {
                    // A heartbeat during an echo case (Autobahn 12/13 judge the echoes
                    // only): answered above, not an event of the case; a flood of them
                    // still ends the case.
                    self.obs.heartbeats += 1;
                    if self.obs.heartbeats == 1 {
                        self.tr.note("the target sent a Ping (a heartbeat): answered, not counted");
                    }
                    if self.obs.heartbeats > HEARTBEATS_MAX {
                        let note = format!("flood: more than {HEARTBEATS_MAX} Pings; reading stopped");
                        self.obs.notes.push(note.clone());
                        self.drop_tcp(&note);
                    }
                    return;
                }
                self.received_bytes += p.len();
                self.obs.received.push(Received::Ping(p));
                self.finish_when_done();
                self.check_decided();
            }
            OpCode::PONG => {
                let p = m.payload;
                if let Some(i) = self.pings.iter().position(|q| *q == p) {
                    // Answers this ping (and, as §5.5.3 allows, the earlier ones).
                    self.pings.drain(..=i);
                } else if !self.pings.is_empty() && self.stray_pongs.len() < 16 {
                    // Unsolicited (a heartbeat, §5.5.3 allows it) or a wrong answer: which
                    // one shows at the end, if the ping is still unanswered then.
                    self.stray_pongs.push(p.clone());
                }
                self.received_bytes += p.len();
                self.obs.received.push(Received::Pong(p));
                self.finish_when_done();
                self.check_decided();
            }
            OpCode::CLOSE => {
                let info =
                    m.close.unwrap_or(wsprobe_wire::close::CloseInfo { code: None, reason: Vec::new() });
                if !self.close_received {
                    self.close_received = true;
                    self.obs.remote_close_code = info.code;
                    self.obs.remote_close_reason = Some(info.reason_lossy());
                }
                if !self.close_sent {
                    self.discard_unsent();
                    // Echo the target's close (its code if it may be on the wire).
                    let body = match info.code {
                        Some(c) if code_allowed_on_wire(c) => c.to_be_bytes().to_vec(),
                        Some(_) => 1002u16.to_be_bytes().to_vec(),
                        None => Vec::new(),
                    };
                    let spec = self.masked(FrameSpec::new(OpCode::CLOSE, body.clone()));
                    self.note_close_sent(&body);
                    self.log_sent(&spec);
                    if let Ok(b) = spec.encode() {
                        self.write(b, None, false);
                    }
                }
                self.handshake_done_at = Some(self.now);
                if self.role == Role::Server {
                    // The server closes TCP first once the closing handshake is over
                    // (§7.1.1).
                    self.tr.note("closing handshake over: the server (the tester) closes TCP");
                    self.tcp_closed = true;
                    self.outputs.push_back(Output::Shutdown);
                }
            }
            _ => {}
        }
    }

    fn next_deadline(&self, until: Option<Instant>) -> Instant {
        let mut d = self.watchdog;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t
                && t < d
            {
                d = t;
            }
        };
        consider(until);
        if !self.obs.failed_by_me {
            consider(self.fail_at);
        }
        if !self.close_sent {
            consider(self.close_at);
        }
        if self.close_sent && !self.close_received {
            consider(self.close_sent_at.map(|t| t + self.answer_wait()));
        }
        consider(self.handshake_done_at.map(|t| t + self.opts.scaled(CLOSE_WAIT)));
        d
    }

    fn on_timers(&mut self, now: Instant) {
        if !self.tcp_closed && now >= self.watchdog {
            self.obs.notes.push("case watchdog expired".into());
            self.drop_tcp("case watchdog expired: the tester dropped the connection");
            return;
        }
        if let Some(t) = self.fail_at
            && now >= t
            && !self.obs.failed_by_me
            && !self.tcp_closed
        {
            self.obs.failed_by_me = true;
            self.fail_at = None;
            if self.open() || (!self.close_sent && self.close_received) {
                self.tr.note("fail-after timer: the tester fails the connection (1001)");
                self.send_close(1001);
            }
        }
        if let Some(t) = self.close_at
            && now >= t
            && !self.close_sent
            && !self.tcp_closed
        {
            self.close_at = None;
            self.tr.note("close-after timer: the tester closes (1000)");
            self.send_close(1000);
        }
        if self.close_sent
            && !self.close_received
            && let Some(t) = self.close_sent_at
            && now >= t + self.answer_wait()
        {
            if self.close_sent_valid && !self.tester_violated {
                let detail = "no Close frame came back within the closing handshake timeout".into();
                self.add_finding(Rule::CloseNotAnswered, detail);
            }
            self.drop_tcp("closing handshake timeout: the tester drops TCP");
            return;
        }
        if let Some(t) = self.handshake_done_at
            && now >= t + self.opts.scaled(CLOSE_WAIT)
            && !self.tcp_closed
        {
            let detail =
                format!("TCP still open {:?} after the closing handshake", self.opts.scaled(CLOSE_WAIT));
            self.add_finding(Rule::CloseServerTcpNotClosed, detail);
            self.drop_tcp("the target kept TCP open after the closing handshake: the tester drops it");
        }
    }

    /// Starts the case at `now` with `first`, the bytes that came right after the
    /// handshake response.
    pub fn start(&mut self, first: &[u8], now: Instant) {
        self.now = now;
        if self.case.pmd == PmdUse::Required && self.obs.pmd.is_none() {
            // Autobahn: UNIMPLEMENTED, the tester just closes.
            self.send_close(1000);
        }
        self.feed(first);
        self.advance();
    }

    /// Bytes from the target.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.now = now;
        self.feed(bytes);
        self.on_timers(now);
        self.advance();
    }

    /// The target closed TCP.
    pub fn eof(&mut self, now: Instant) {
        self.now = now;
        self.on_tcp_end(None);
        self.advance();
    }

    /// Reading from or writing to the target failed.
    pub fn error(&mut self, e: &str, now: Instant) {
        self.now = now;
        self.on_tcp_end(Some(e));
        self.advance();
    }

    /// Time passed: call at [`deadline`](Self::deadline) (or any time).
    pub fn on_deadline(&mut self, now: Instant) {
        self.now = now;
        self.on_timers(now);
        self.advance();
    }

    /// The next thing to write or do to the connection, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`on_deadline`](Self::on_deadline) must be called at the latest (`None`
    /// once the case is over).
    pub fn deadline(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let until = match &self.wait {
            Some(Waiting::Until { at, .. }) => Some(*at),
            _ => None,
        };
        Some(self.next_deadline(until))
    }

    /// Whether the case is over (TCP closed, steps done): the driver shuts the
    /// connection down after writing what [`poll_output`](Self::poll_output) still has.
    pub fn is_done(&self) -> bool {
        self.ended
    }

    /// What was observed and the transcript (after the judging of unanswered Pings).
    pub fn finish(mut self) -> (Observed, Transcript) {
        self.judge_pongs();
        (self.obs, self.tr)
    }

    /// Notes something in the transcript (for the driver: how writing went).
    pub fn note(&mut self, text: &str) {
        self.tr.note(text);
    }

    /// Decodes bytes from the target and handles its events. After the tester dropped
    /// TCP only violations still count (bytes already on their way were judged).
    fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        self.session.feed(self.role.peer().sends(), bytes, &mut events);
        for ev in events.drain(..) {
            let closed = self.tcp_closed;
            match ev {
                Event::Violation(v) if v.by == self.role.peer() => self.on_violation(v),
                _ if closed => {}
                Event::Message(m) => self.on_message(m),
                Event::Frame(f) => {
                    if let Some(key) = f.header.mask_key {
                        self.check_key(key);
                    }
                    if self.frames_in_logged < FRAME_LOG {
                        self.frames_in_logged += 1;
                        let line = frame_line(&f.header, &f.payload);
                        self.tr.received(&line);
                    }
                }
                _ => {}
            }
        }
        self.events = events;
    }

    /// Judges a client's masking key (§5.3, §10.3): all zero, or the same as the frame
    /// before, is predictable (reported once per connection).
    fn check_key(&mut self, key: [u8; 4]) {
        self.first_key.get_or_insert(key);
        let repeated = self.last_key == Some(key);
        self.last_key = Some(key);
        if self.predictable_reported || self.role != Role::Server {
            return;
        }
        let why = if key == [0; 4] {
            "an all-zero masking key (the payload goes out unmasked)"
        } else if repeated {
            "the same masking key as the frame before"
        } else {
            return;
        };
        self.predictable_reported = true;
        self.add_finding(Rule::MaskKeyPredictable, format!("client frame with {why}"));
    }

    /// The peer's first masking key (a client's), for checks across connections.
    pub fn first_mask_key(&self) -> Option<[u8; 4]> {
        self.first_key
    }

    /// Records a rule the peer broke outside this connection's bytes (across
    /// connections, as a nonce or masking key used again).
    pub fn add_peer_finding(&mut self, rule: Rule, detail: String) {
        self.add_finding(rule, detail);
    }

    /// Plays the steps as far as they can go now.
    fn advance(&mut self) {
        while !self.steps_done {
            if self.tcp_closed {
                self.steps_done = true;
                break;
            }
            match self.wait.take() {
                Some(Waiting::Until { at, mark, echoes }) => {
                    let echoed = echoes.is_some_and(|n| self.messages_received >= n);
                    if self.now < at && !echoed {
                        self.wait = Some(Waiting::Until { at, mark, echoes });
                        return;
                    }
                    if !self.open() {
                        self.steps_done = true;
                        break;
                    }
                    if let Some(m) = mark {
                        self.tr.note(&format!("still open after wait {m}"));
                        self.obs.received.push(Received::StillOpen(m));
                        self.check_decided();
                    }
                }
                Some(Waiting::Echo { msg, next, count }) => {
                    if self.messages_received < next && self.open() {
                        self.wait = Some(Waiting::Echo { msg, next, count });
                        return;
                    }
                    if self.open() {
                        match &msg {
                            Step::Frame(f) => self.send_frame(f),
                            Step::Message { opcode, payload, fragsize, chop, sync } => {
                                self.send_message(*opcode, payload, *fragsize, *chop, *sync, next)
                            }
                            _ => {}
                        }
                        if next + 1 < count {
                            self.wait = Some(Waiting::Echo { msg, next: next + 1, count });
                        }
                    }
                    continue;
                }
                None => {}
            }
            let Some(step) = self.steps.get(self.pc).cloned() else {
                self.steps_done = true;
                break;
            };
            self.pc += 1;
            self.play(step);
        }
        // No more steps: the case runs out (the target closes, a timer fires, or the
        // tester closes once the expected events are in).
        self.finish_when_done();
        if self.tcp_closed && !self.ended {
            self.ended = true;
            self.obs.was_clean = self.close_sent && self.close_received && !self.obs.failed_by_me;
            self.outputs.push_back(Output::Shutdown);
        }
    }

    /// Plays one step (a wait or a repetition sets `self.wait`).
    fn play(&mut self, step: Step) {
        match step {
            Step::Frame(ref f) => {
                self.send_frame(f);
                self.last_message = Some(step);
            }
            Step::Message { opcode, ref payload, fragsize, chop, sync } => {
                self.send_message(opcode, payload, fragsize, chop, sync, 0);
                self.last_message = Some(step);
            }
            Step::Wait { dur, mark, echoes } => {
                let d = dur.min(self.opts.max_case_time);
                self.wait = Some(Waiting::Until { at: self.now + d, mark, echoes });
            }
            Step::FailAfter(d) => {
                self.fail_at = Some(self.now + self.opts.scaled(d.min(self.opts.max_case_time)))
            }
            Step::CloseAfter(d) => {
                self.close_at = Some(self.now + self.opts.scaled(d.min(self.opts.max_case_time)))
            }
            Step::BeginMessage(op) => self.stream = Some((op, [0; 4], 0, true)),
            Step::BeginFrame(len) => {
                let key = if self.role == Role::Client { self.keys.mask_key() } else { [0; 4] };
                let (op, first) = match self.stream {
                    Some((op, _, _, first)) => (op, first),
                    None => (OpCode::TEXT, true),
                };
                let opcode = if first { op } else { OpCode::CONTINUATION };
                let mut spec = FrameSpec::new(opcode, Vec::new()).fin(false).declared_len(len);
                if self.role == Role::Client {
                    spec = spec.masked(key);
                }
                self.log_sent(&spec);
                if let Ok(b) = spec.encode() {
                    self.write(b, None, false);
                }
                self.stream = Some((op, key, 0, false));
            }
            Step::FrameData(p) => {
                let (op, key, off, first) = self.stream.unwrap_or((OpCode::TEXT, [0; 4], 0, false));
                let mut data = p.bytes();
                wsprobe_wire::mask::apply_mask(&mut data, key, (off % 4) as usize);
                let n = data.len() as u64;
                self.tr.sent(&format!("  frame data: {} bytes", n));
                self.write(data, None, false);
                self.stream = Some((op, key, off + n, first));
            }
            Step::EndMessage => {
                let spec = self.masked(FrameSpec::new(OpCode::CONTINUATION, Vec::new()));
                self.log_sent(&spec);
                if let Ok(b) = spec.encode() {
                    self.write(b, None, false);
                }
                self.stream = None;
            }
            Step::RepeatAfterEcho(n) => {
                if let Some(msg) = self.last_message.clone()
                    && n > 1
                {
                    self.wait = Some(Waiting::Echo { msg, next: 1, count: u64::from(n) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::runner::Target;
    use crate::verdict::{Outcome, judge};
    use wsprobe_wire::Dir;
    use wsprobe_wire::encode::close_payload;

    fn case(id: &str) -> Case {
        let all = Catalog::builtin().select(&[id.to_string()], &[]).expect("select");
        all.into_iter().next().expect("case")
    }

    fn opts() -> RunOptions {
        RunOptions::new(Target::parse("ws://127.0.0.1:9/").expect("url"))
    }

    /// What the runner knows when it hands a connection to the engine: upgraded.
    fn established() -> Observed {
        Observed { established: true, status: Some(101), ..Observed::default() }
    }

    /// The server's side of the conversation, decoded: what the engine wrote.
    fn written(e: &mut CaseEngine<'_>) -> (Vec<Event>, bool) {
        let mut s = Session::established(Limits::default(), Established { pmd: None });
        let (mut events, mut shutdown) = (Vec::new(), false);
        while let Some(o) = e.poll_output() {
            match o {
                Output::Write { bytes, .. } => s.feed(Dir::C2S, &bytes, &mut events),
                Output::Shutdown => shutdown = true,
                Output::Discard => {}
            }
        }
        (events, shutdown)
    }

    fn messages(events: &[Event]) -> Vec<(OpCode, Vec<u8>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some((m.opcode, m.payload.clone())),
                _ => None,
            })
            .collect()
    }

    /// An engine for `c` started at `t0` on a freshly upgraded connection, the tester
    /// in `role`.
    fn started_as<'a>(role: Role, c: &'a Case, o: &'a RunOptions, t0: Instant) -> CaseEngine<'a> {
        let keys = KeyGen::new(1, &c.id);
        let mut e = CaseEngine::new(c, o, role, keys, established(), Transcript::new(t0), None, t0);
        e.start(&[], t0);
        e
    }

    /// [`started_as`] for a client tester (`wsprobe test`).
    fn started<'a>(c: &'a Case, o: &'a RunOptions, t0: Instant) -> CaseEngine<'a> {
        started_as(Role::Client, c, o, t0)
    }

    fn server_frame(op: OpCode, payload: &[u8]) -> Vec<u8> {
        FrameSpec::new(op, payload.to_vec()).encode().expect("frame")
    }

    #[test]
    fn an_echoed_text_passes_without_a_socket_or_a_clock() {
        let (c, o) = (case("1.1.2"), opts());
        let t0 = Instant::now();
        let mut e = started(&c, &o, t0);
        let (sent, _) = written(&mut e);
        let sent = messages(&sent);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, OpCode::TEXT);
        // The echo: the engine has what it expected and closes.
        e.receive(&server_frame(OpCode::TEXT, &sent[0].1), t0 + Duration::from_millis(1));
        let (sent, shutdown) = written(&mut e);
        assert_eq!(messages(&sent).first().map(|m| m.0), Some(OpCode::CLOSE));
        assert!(!shutdown && !e.is_done());
        // The server answers the Close and closes TCP.
        e.receive(&server_frame(OpCode::CLOSE, &close_payload(1000, b"")), t0 + Duration::from_millis(2));
        e.eof(t0 + Duration::from_millis(3));
        assert!(e.is_done());
        assert!(written(&mut e).1, "the driver is told to shut the connection down");
        let (obs, tr) = e.finish();
        let v = judge(&c, &obs);
        assert_eq!(v.outcome, Outcome::Passed, "{v:?}\n{tr:?}");
    }

    #[test]
    fn a_silent_target_is_timed_out_by_the_deadlines_alone() {
        let (c, o) = (case("1.1.2"), opts());
        let t0 = Instant::now();
        let mut e = started(&c, &o, t0);
        written(&mut e);
        // Nothing comes back: the driver only follows the deadlines (virtual time).
        let mut now = t0;
        for _ in 0..100 {
            let Some(d) = e.deadline() else { break };
            assert!(d >= now, "deadlines move forward");
            now = d;
            e.on_deadline(now);
        }
        assert!(e.is_done(), "the case ends on its own timers");
        assert!(now - t0 <= o.max_case_time.min(o.timeout * 6) + Duration::from_secs(60));
        let (obs, _) = e.finish();
        assert!(obs.dropped_by_me);
        assert_eq!(judge(&c, &obs).outcome, Outcome::Failed);
    }

    #[test]
    fn a_masked_server_frame_fails_the_connection_at_once() {
        let (c, o) = (case("1.1.2"), opts());
        let t0 = Instant::now();
        let mut e = started(&c, &o, t0);
        written(&mut e);
        let masked =
            FrameSpec::new(OpCode::TEXT, b"x".to_vec()).masked([1, 2, 3, 4]).encode().expect("frame");
        e.receive(&masked, t0);
        let (sent, shutdown) = written(&mut e);
        let close = messages(&sent);
        assert_eq!(close.first().map(|m| m.0), Some(OpCode::CLOSE));
        assert_eq!(close[0].1[..2], 1002u16.to_be_bytes());
        assert!(shutdown && e.is_done());
        let (obs, _) = e.finish();
        let v = judge(&c, &obs);
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(v.blamed.contains(&Rule::MaskServerMasked), "{:?}", v.blamed);
    }

    #[test]
    fn as_a_server_it_sends_unmasked_judges_the_client_and_closes_tcp_first() {
        let (c, o) = (case("1.1.2"), opts());
        let t0 = Instant::now();
        let mut e = started_as(Role::Server, &c, &o, t0);
        let mut events = Vec::new();
        let mut client_view = Session::established(Limits::default(), Established { pmd: None });
        while let Some(Output::Write { bytes, .. }) = e.poll_output() {
            client_view.feed(Dir::S2C, &bytes, &mut events);
        }
        assert!(!events.iter().any(|e| matches!(e, Event::Violation(_))), "{events:?}");
        let sent = messages(&events);
        assert_eq!(sent.len(), 1, "{events:?}");
        // The client echoes, masked; then answers the server's Close.
        let echo =
            FrameSpec::new(OpCode::TEXT, sent[0].1.clone()).masked([9, 8, 7, 6]).encode().expect("frame");
        e.receive(&echo, t0);
        let close = FrameSpec::new(OpCode::CLOSE, close_payload(1000, b""))
            .masked([1, 1, 1, 1])
            .encode()
            .expect("frame");
        e.receive(&close, t0);
        assert!(e.is_done(), "the server closes TCP once the closing handshake is over");
        let (obs, tr) = e.finish();
        let v = judge(&c, &obs);
        assert_eq!(v.outcome, Outcome::Passed, "{v:?}\n{tr:?}");
        assert!(!obs.dropped_by_me);

        // An unmasked client frame is the client's violation.
        let mut e = started_as(Role::Server, &c, &o, t0);
        e.receive(&FrameSpec::new(OpCode::TEXT, b"x".to_vec()).encode().expect("frame"), t0);
        let (obs, _) = e.finish();
        assert!(judge(&c, &obs).blamed.contains(&Rule::MaskClientUnmasked));
    }

    #[test]
    fn a_close_in_the_middle_of_a_long_message_is_answered_before_the_rest() {
        // 9.3.1: 4 MiB of text in 64-byte frames, handed out in writes of whole frames.
        let (c, o) = (case("9.3.1"), opts());
        let t0 = Instant::now();
        let mut e = started_as(Role::Server, &c, &o, t0);
        let first = match e.poll_output() {
            Some(Output::Write { bytes, .. }) => bytes,
            other => panic!("a write first, got {other:?}"),
        };
        assert!(first.len() < 2 * WRITE_GROUP, "frames handed out in groups, not 4 MiB at once");
        let close = FrameSpec::new(OpCode::CLOSE, close_payload(1009, b"")).masked([1, 2, 3, 4]);
        e.receive(&close.encode().expect("frame"), t0);
        let rest: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
        assert!(matches!(rest.first(), Some(Output::Discard)), "{:?}", rest.first());
        let written: Vec<u8> = rest
            .iter()
            .filter_map(|o| match o {
                Output::Write { bytes, .. } => Some(bytes.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        // Only the Close is left to write (the frames after the first write are dropped).
        let mut events = Vec::new();
        let mut client_view = Session::established(Limits::default(), Established { pmd: None });
        client_view.feed(Dir::S2C, &first, &mut events);
        client_view.feed(Dir::S2C, &written, &mut events);
        assert!(!events.iter().any(|e| matches!(e, Event::Violation(_))), "still well-formed");
        assert!(events.iter().any(|e| matches!(e, Event::Frame(f) if f.header.opcode == OpCode::CLOSE)));
        assert!(written.len() < 16, "{} bytes after the Close came in", written.len());
        assert!(matches!(rest.last(), Some(Output::Shutdown)));
    }
}
