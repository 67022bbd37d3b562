//! The tokio runner: runs cases against a live target, each on its own connection,
//! several at a time. Per case a reader task feeds everything the target sends to a
//! [`Session`] (which judges every byte), a writer task writes the frames, and the
//! controller plays the steps and the timers the way Autobahn does.

use crate::catalog::{Case, HandshakeExpect, PmdUse, RequestEdit};
use crate::steps::{FrameStep, MaskMode, Payload, Step};
use crate::transcript::{Transcript, frame_line};
use crate::verdict::{self, Finding, Observed, Received, ResponseFailure};
use base64::Engine as _;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::timeout;
use wsprobe_wire::close::code_allowed_on_wire;
use wsprobe_wire::deflate::{self, Deflater, PmdConfig};
use wsprobe_wire::encode::{FrameSpec, Masking};
use wsprobe_wire::handshake::{self, Progress, RequestBuilder, StdHeader};
use wsprobe_wire::{Dir, Established, Event, Limits, OpCode, Role, Rule, Session};

/// Where and how to reach the target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Request path (with query).
    pub path: String,
}

impl Target {
    /// Parses a `ws://host[:port]/path` URL.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("{url:?}: only ws:// URLs are supported (wss:// is not)"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{url:?}: expected ws://host[:port]/path"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, rest) = v6.split_once(']').ok_or_else(|| format!("{url:?}: bad IPv6 address"))?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("{url:?}: bad port"))?,
                None if rest.is_empty() => 80,
                None => return Err(format!("{url:?}: bad authority")),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?),
                None => (authority.to_owned(), 80),
            }
        };
        Ok(Target { host, port, path })
    }

    /// The Host header value.
    pub fn host_header(&self) -> String {
        let h = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 { h } else { format!("{h}:{}", self.port) }
    }

    /// `host:port` for connecting.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL again.
    pub fn url(&self) -> String {
        format!("ws://{}{}", self.host_header(), self.path)
    }
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The target.
    pub target: Target,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Subprotocols offered.
    pub protocols: Vec<String>,
    /// Origin sent.
    pub origin: Option<String>,
    /// Limit of every wait that is not a case timer (connect, handshake, closing handshake).
    pub timeout: Duration,
    /// Upper bound of any case timer and of a whole case beyond its timers.
    pub max_case_time: Duration,
    /// Cases run at once.
    pub jobs: usize,
    /// Category 9 (performance) cases run at once (within `jobs`).
    pub perf_jobs: usize,
    /// Seed of masking keys and Sec-WebSocket-Key nonces.
    pub seed: u64,
    /// Factor applied to the timers that bound a case (`fail-after`, `close-after`, the
    /// closing-handshake waits, the watchdog): above 1 on a slow or loaded machine.
    /// `wait` steps keep their length (they are part of what a case does).
    pub time_scale: f64,
    /// Handshakes that time out one after the other before the run stops (the
    /// target accepts TCP but no longer answers).
    pub max_handshake_timeouts: usize,
}

impl RunOptions {
    /// `d` scaled by [`RunOptions::time_scale`].
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale.clamp(0.1, 100.0))
    }

    /// Defaults for `target`.
    pub fn new(target: Target) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        RunOptions {
            target,
            headers: Vec::new(),
            protocols: Vec::new(),
            origin: None,
            timeout: Duration::from_secs(5),
            max_case_time: Duration::from_secs(600),
            jobs: (cpus * 4).max(4),
            perf_jobs: 4,
            seed: 0x0057_5350_524f_4245,
            time_scale: 1.0,
            max_handshake_timeouts: 3,
        }
    }
}

/// SplitMix64: masking keys and nonces from a seed (no OS randomness, reproducible).
#[derive(Debug, Clone)]
pub struct KeyGen(u64);

impl KeyGen {
    /// A generator for one case.
    pub fn new(seed: u64, case_id: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in case_id.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        KeyGen(seed ^ h)
    }

    /// Next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A masking key.
    pub fn mask_key(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_be_bytes()
    }

    /// A Sec-WebSocket-Key value (base64 of 16 bytes).
    pub fn nonce(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        base64::engine::general_purpose::STANDARD.encode(b)
    }
}

/// The raw result of running one case.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// What was observed.
    pub observed: Observed,
    /// Everything sent and received, abridged.
    pub transcript: Transcript,
    /// Wall time of the case.
    pub duration: Duration,
}

enum Inbound {
    Message(wsprobe_wire::Message),
    Violation(wsprobe_wire::Violation),
    Frame(String),
    Eof,
    Error(String),
}

enum WriteCmd {
    Data { bytes: Vec<u8>, chop: Option<usize>, sync: bool },
    Shutdown,
}

/// Waits before dropping TCP once the closing handshake is over (Autobahn's
/// serverConnectionDropTimeout) and for the target's Close after ours.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Frames logged in a transcript per direction.
const FRAME_LOG: usize = 400;

fn build_request(case: &Case, opts: &RunOptions, key: &str) -> Vec<u8> {
    let mut b = RequestBuilder::new(opts.target.host_header(), key).path(opts.target.path.clone());
    if !opts.protocols.is_empty() {
        b = b.protocols(opts.protocols.iter().cloned());
    }
    if let Some(o) = &opts.origin {
        b = b.origin(o.clone());
    }
    if let Some(offer) = &case.offer {
        b = b.extensions(offer.clone());
    }
    for (n, v) in &opts.headers {
        b = b.header(n.clone(), v.clone());
    }
    let std_header = |n: &str| match n.to_ascii_lowercase().as_str() {
        "host" => StdHeader::Host,
        "upgrade" => StdHeader::Upgrade,
        "connection" => StdHeader::Connection,
        "sec-websocket-key" => StdHeader::Key,
        "origin" => StdHeader::Origin,
        "sec-websocket-protocol" => StdHeader::Protocol,
        "sec-websocket-extensions" => StdHeader::Extensions,
        _ => StdHeader::Version,
    };
    for e in &case.request {
        b = match e {
            RequestEdit::Omit(n) => b.omit(std_header(n)),
            RequestEdit::Set(n, v) => {
                let v = v.replace("$KEY", key);
                match std_header(n) {
                    StdHeader::Host => b.host(v),
                    StdHeader::Upgrade => b.upgrade(v),
                    StdHeader::Connection => b.connection(v),
                    StdHeader::Key => b.key(v),
                    StdHeader::Origin => b.origin(v),
                    StdHeader::Protocol => b.omit(StdHeader::Protocol).header("Sec-WebSocket-Protocol", v),
                    StdHeader::Extensions => b.extensions(v),
                    StdHeader::Version => b.version(v),
                }
            }
            RequestEdit::Add(n, v) => b.header(n.clone(), v.replace("$KEY", key)),
            RequestEdit::Method(m) => b.method(m.clone()),
            RequestEdit::HttpVersion(v) => b.http_version(v.clone()),
        };
    }
    b.build()
}

/// Reads an HTTP response head; returns it with the bytes that followed it, or why
/// none came (with a description).
async fn read_response(
    stream: &mut TcpStream,
    limit: Duration,
) -> Result<(handshake::Response, Vec<u8>, Vec<u8>), (ResponseFailure, String)> {
    let mut buf = Vec::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match handshake::parse_response(&buf) {
            Ok(Progress::Complete { value, consumed }) => {
                let rest = buf.split_off(consumed);
                return Ok((value, buf, rest));
            }
            Ok(Progress::Partial) => {}
            Err(e) => {
                return Err((
                    ResponseFailure::Malformed,
                    format!("malformed handshake response: {}", e.message),
                ));
            }
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => {
                return Err((
                    ResponseFailure::TimedOut,
                    format!("no complete handshake response within {limit:?}"),
                ));
            }
            Ok(Ok(0)) if buf.is_empty() => {
                return Err((
                    ResponseFailure::Closed,
                    "connection closed before any handshake response".into(),
                ));
            }
            Ok(Ok(0)) => {
                return Err((
                    ResponseFailure::Closed,
                    "connection closed inside the handshake response".into(),
                ));
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => {
                return Err((ResponseFailure::Closed, format!("reading the handshake response: {e}")));
            }
        }
    }
}

/// Runs one case against the target.
pub async fn run_case(case: &Case, opts: &RunOptions) -> CaseRun {
    let start = Instant::now();
    let mut obs = Observed::default();
    let mut tr = Transcript::new(start);
    let mut keys = KeyGen::new(opts.seed, &case.id);
    let key = keys.nonce();
    let stream = match timeout(opts.timeout, TcpStream::connect(opts.target.addr())).await {
        Err(_) => Err(format!("connecting to {} timed out after {:?}", opts.target.addr(), opts.timeout)),
        Ok(Err(e)) => Err(format!("connecting to {}: {e}", opts.target.addr())),
        Ok(Ok(s)) => Ok(s),
    };
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            tr.note(&e);
            obs.connect_error = Some(e);
            return CaseRun { observed: obs, transcript: tr, duration: start.elapsed() };
        }
    };
    let _ = stream.set_nodelay(true);
    let request_bytes = build_request(case, opts, &key);
    tr.request = String::from_utf8_lossy(&request_bytes).into_owned();
    let request = match handshake::parse_request(&request_bytes) {
        Ok(Progress::Complete { value, .. }) => Some(value),
        _ => None,
    };
    if let Err(e) = stream.write_all(&request_bytes).await {
        let e = format!("sending the handshake request: {e}");
        tr.note(&e);
        obs.connect_error = Some(e);
        return CaseRun { observed: obs, transcript: tr, duration: start.elapsed() };
    }
    let (response, head, rest) = match read_response(&mut stream, opts.timeout).await {
        Ok(r) => r,
        Err((failure, e)) => {
            tr.note(&e);
            obs.response_failure = Some(failure);
            if case.handshake == HandshakeExpect::Reject {
                obs.notes.push(e);
            } else {
                obs.connect_error = Some(e);
            }
            return CaseRun { observed: obs, transcript: tr, duration: start.elapsed() };
        }
    };
    tr.response = Some(String::from_utf8_lossy(&head).into_owned());
    obs.status = Some(response.status);
    let mut pmd = None;
    let negotiated = match &request {
        Some(req) => {
            let (neg, mut problems) = handshake::check_response(req, &response);
            if neg.accepted {
                let offers = req.offered_extensions().unwrap_or_default();
                let (cfg, more) = deflate::negotiate(&offers, &neg.extensions);
                problems.extend(more);
                pmd = cfg;
            }
            for (rule, detail) in problems {
                tr.note(&format!("handshake: {rule}: {detail}"));
                obs.findings.push(Finding { rule, detail });
            }
            neg.accepted
        }
        None => response.status == 101,
    };
    obs.pmd = pmd;
    if response.status != 101 || !negotiated {
        if response.status == 101 {
            tr.note("the 101 response is not valid: no WebSocket connection");
        }
        let _ = stream.shutdown().await;
        return CaseRun { observed: obs, transcript: tr, duration: start.elapsed() };
    }
    obs.established = true;
    if case.pmd == PmdUse::Required && pmd.is_none() {
        tr.note("permessage-deflate was not accepted: the case is UNIMPLEMENTED; the tester closes");
    }
    let (rd, wr) = stream.into_split();
    let mut ctl = Controller::new(case, opts, keys, obs, tr, rd, wr, rest, pmd);
    ctl.run().await;
    ctl.judge_pongs();
    let Controller { obs, tr, .. } = ctl;
    CaseRun { observed: obs, transcript: tr, duration: start.elapsed() }
}

async fn reader_task(
    mut rd: OwnedReadHalf,
    first: Vec<u8>,
    keep: usize,
    pmd: Option<PmdConfig>,
    tx: mpsc::Sender<Inbound>,
) {
    let limits = Limits { message_keep: keep, frame_keep: 64, ..Limits::default() };
    let mut session = Session::established(limits, Established { pmd });
    let mut events = Vec::new();
    let mut frames_logged = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = first;
    loop {
        if !pending.is_empty() {
            session.feed(Dir::S2C, &pending, &mut events);
            pending.clear();
            for ev in events.drain(..) {
                let msg = match ev {
                    Event::Message(m) => Inbound::Message(m),
                    Event::Violation(v) if v.by == Role::Server => Inbound::Violation(v),
                    Event::Frame(f) if frames_logged < FRAME_LOG => {
                        frames_logged += 1;
                        Inbound::Frame(frame_line(&f.header, &f.payload))
                    }
                    _ => continue,
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
        }
        match rd.read(&mut buf).await {
            Ok(0) => {
                let _ = tx.send(Inbound::Eof).await;
                return;
            }
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => {
                let _ = tx.send(Inbound::Error(e.to_string())).await;
                return;
            }
        }
    }
}

async fn writer_task(mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<WriteCmd>) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            WriteCmd::Data { bytes, chop, sync } => {
                let r = match chop {
                    Some(n) => {
                        let mut r = Ok(());
                        for piece in bytes.chunks(n) {
                            r = wr.write_all(piece).await;
                            if r.is_err() {
                                break;
                            }
                            let _ = wr.flush().await;
                            tokio::task::yield_now().await;
                        }
                        // Let the target see the chopped frame on its own before the next one.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        r
                    }
                    None => wr.write_all(&bytes).await,
                };
                if r.is_err() {
                    // The target is gone; the reader reports how.
                    while let Some(WriteCmd::Data { .. }) = rx.recv().await {}
                    return;
                }
                if sync {
                    let _ = wr.flush().await;
                    tokio::task::yield_now().await;
                }
            }
            WriteCmd::Shutdown => {
                let _ = wr.shutdown().await;
                return;
            }
        }
    }
}

struct Controller<'a> {
    case: &'a Case,
    opts: &'a RunOptions,
    keys: KeyGen,
    obs: Observed,
    tr: Transcript,
    inbound: mpsc::Receiver<Inbound>,
    out: mpsc::UnboundedSender<WriteCmd>,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
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

impl<'a> Controller<'a> {
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

    #[allow(clippy::too_many_arguments)]
    fn new(
        case: &'a Case,
        opts: &'a RunOptions,
        keys: KeyGen,
        obs: Observed,
        tr: Transcript,
        rd: OwnedReadHalf,
        wr: OwnedWriteHalf,
        first: Vec<u8>,
        pmd: Option<PmdConfig>,
    ) -> Self {
        let (tx, inbound) = mpsc::channel(256);
        let (out, wrx) = mpsc::unbounded_channel();
        let keep = (case.keep_bytes() + 1).max(4096);
        let reader = tokio::spawn(reader_task(rd, first, keep, pmd, tx));
        // An offer with client_no_context_takeover is a promise kept even when the
        // answer leaves it out (RFC 7692 §7.1.1.2).
        let promised = case.offer.as_deref().is_some_and(|o| o.contains("client_no_context_takeover"));
        let deflater = pmd.map(|p| {
            let (bits, nct) = p.for_sender(Role::Client);
            // Level 1: the target must inflate any valid stream; the tester's CPU is
            // better spent elsewhere than on compression ratio.
            Deflater::with_level(bits, nct || promised, 1)
        });
        let writer = tokio::spawn(writer_task(wr, wrx));
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
        let watchdog = Instant::now()
            + opts.scaled(timers.min(opts.max_case_time))
            + opts.max_case_time.min(opts.timeout * 6);
        Controller {
            case,
            opts,
            keys,
            obs,
            tr,
            inbound,
            out,
            reader,
            writer,
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
            self.self_check.feed(Dir::C2S, &bytes, &mut self.self_events);
        }
        for ev in self.self_events.drain(..) {
            if let Event::Violation(v) = ev
                && v.by == Role::Client
            {
                self.tester_violated = true;
            }
        }
        let _ = self.out.send(WriteCmd::Data { bytes, chop, sync });
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
                length_form: wsprobe_wire::LengthForm::minimal_for(spec.payload.len() as u64),
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

    fn send_frame(&mut self, f: &FrameStep) {
        let payload = f.payload.bytes();
        let mut spec = FrameSpec::new(f.opcode, payload).fin(f.fin).rsv(f.rsv);
        if f.mask == MaskMode::Key {
            spec = spec.masked(self.keys.mask_key());
        }
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
            self.close_sent_at = Some(Instant::now());
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
            let spec = FrameSpec::new(op, p.to_vec()).fin(i + 1 == n).rsv(rsv).masked(self.keys.mask_key());
            self.log_sent(&spec);
            if chop.is_some() || sync {
                if let Ok(b) = spec.encode() {
                    self.write(b, chop, sync);
                }
            } else if spec.encode_into(&mut all).is_err() {
                return;
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
        let spec = FrameSpec::new(OpCode::CLOSE, body.clone()).masked(self.keys.mask_key());
        self.note_close_sent(&body);
        self.log_sent(&spec);
        if let Ok(b) = spec.encode() {
            self.write(b, None, false);
        }
    }

    fn drop_tcp(&mut self, why: &str) {
        if self.tcp_closed {
            return;
        }
        self.tr.note(why);
        self.obs.dropped_by_me = true;
        self.tcp_closed = true;
        let _ = self.out.send(WriteCmd::Shutdown);
        self.reader.abort();
    }

    fn finish_when_done(&mut self) {
        if self.case.close.by_tester
            && !self.close_sent
            && verdict::matches_all(self.case, &self.obs.received)
        {
            self.send_close(1000);
        }
    }

    fn on_inbound(&mut self, ev: Option<Inbound>) {
        match ev {
            None | Some(Inbound::Eof) => {
                if !self.tcp_closed {
                    self.tr.note("target closed TCP");
                }
                self.tcp_closed = true;
            }
            Some(Inbound::Error(e)) => {
                if !self.tcp_closed {
                    self.tr.note(&format!("connection error: {e}"));
                    self.obs.notes.push(format!("connection error: {e}"));
                }
                self.tcp_closed = true;
            }
            Some(Inbound::Frame(line)) => self.tr.received(&line),
            Some(Inbound::Violation(v)) => {
                let detail = format!("{} (byte {} of the target's stream)", v.detail, v.offset);
                let rule = v.rule;
                self.add_finding(rule, detail);
                // A broken rule fails the case whatever else comes: decided. The tester
                // fails the connection as §7.1.7 says: a Close (1002), then TCP closed
                // without waiting for an answer.
                if !self.decided && !self.case.informational {
                    self.decided = true;
                    self.tr
                        .note(&format!("decided: the target broke {rule}; the tester fails the connection"));
                    self.send_close(1002);
                    self.drop_tcp("the tester closed TCP after failing the connection");
                }
            }
            Some(Inbound::Message(m)) => self.on_message(m),
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
                    let spec = FrameSpec::new(OpCode::PONG, p.clone()).masked(self.keys.mask_key());
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
                    // Echo the target's close (its code if it may be on the wire).
                    let body = match info.code {
                        Some(c) if code_allowed_on_wire(c) => c.to_be_bytes().to_vec(),
                        Some(_) => 1002u16.to_be_bytes().to_vec(),
                        None => Vec::new(),
                    };
                    let spec = FrameSpec::new(OpCode::CLOSE, body.clone()).masked(self.keys.mask_key());
                    self.note_close_sent(&body);
                    self.log_sent(&spec);
                    if let Ok(b) = spec.encode() {
                        self.write(b, None, false);
                    }
                }
                self.handshake_done_at = Some(Instant::now());
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

    /// Processes what arrives until `until` (or until TCP is closed).
    async fn pump(&mut self, until: Option<Instant>) {
        loop {
            if self.tcp_closed {
                return;
            }
            let now = Instant::now();
            if until.is_some_and(|u| now >= u) {
                return;
            }
            let deadline = self.next_deadline(until);
            tokio::select! {
                ev = self.inbound.recv() => self.on_inbound(ev),
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    self.on_timers(Instant::now());
                }
            }
            // Drain what is already queued before looking at the clock again.
            while let Ok(ev) = self.inbound.try_recv() {
                self.on_inbound(Some(ev));
                if self.tcp_closed {
                    break;
                }
            }
            self.on_timers(Instant::now());
        }
    }

    async fn run(&mut self) {
        let steps = self.case.send.clone();
        let mut last_message: Option<Step> = None;
        if self.case.pmd == PmdUse::Required && self.obs.pmd.is_none() {
            // Autobahn: UNIMPLEMENTED, the tester just closes.
            self.send_close(1000);
        }
        for step in &steps {
            // Let what already arrived be seen before each step (as an event loop would).
            while let Ok(ev) = self.inbound.try_recv() {
                self.on_inbound(Some(ev));
            }
            if self.tcp_closed {
                break;
            }
            match step {
                Step::Frame(f) => {
                    self.send_frame(f);
                    last_message = Some(step.clone());
                }
                Step::Message { opcode, payload, fragsize, chop, sync } => {
                    self.send_message(*opcode, payload, *fragsize, *chop, *sync, 0);
                    last_message = Some(step.clone());
                }
                Step::Wait { dur, mark } => {
                    let d = (*dur).min(self.opts.max_case_time);
                    self.pump(Some(Instant::now() + d)).await;
                    if !self.open() {
                        break;
                    }
                    if let Some(m) = mark {
                        self.tr.note(&format!("still open after wait {m}"));
                        self.obs.received.push(Received::StillOpen(m.clone()));
                        self.check_decided();
                    }
                }
                Step::FailAfter(d) => {
                    self.fail_at = Some(Instant::now() + self.opts.scaled((*d).min(self.opts.max_case_time)))
                }
                Step::CloseAfter(d) => {
                    self.close_at = Some(Instant::now() + self.opts.scaled((*d).min(self.opts.max_case_time)))
                }
                Step::BeginMessage(op) => self.stream = Some((*op, [0; 4], 0, true)),
                Step::BeginFrame(len) => {
                    let key = self.keys.mask_key();
                    let (op, first) = match self.stream {
                        Some((op, _, _, first)) => (op, first),
                        None => (OpCode::TEXT, true),
                    };
                    let opcode = if first { op } else { OpCode::CONTINUATION };
                    let spec = FrameSpec::new(opcode, Vec::new()).fin(false).masked(key).declared_len(*len);
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
                    let spec = FrameSpec::new(OpCode::CONTINUATION, Vec::new()).masked(self.keys.mask_key());
                    self.log_sent(&spec);
                    if let Ok(b) = spec.encode() {
                        self.write(b, None, false);
                    }
                    self.stream = None;
                }
                Step::RepeatAfterEcho(n) => {
                    let Some(msg) = last_message.clone() else {
                        continue;
                    };
                    for i in 1..u64::from(*n) {
                        while self.messages_received < i && !self.tcp_closed && self.open() {
                            let before = self.messages_received;
                            self.pump_once().await;
                            if self.messages_received == before && !self.open() {
                                break;
                            }
                        }
                        if !self.open() {
                            break;
                        }
                        match &msg {
                            Step::Frame(f) => self.send_frame(f),
                            Step::Message { opcode, payload, fragsize, chop, sync } => {
                                self.send_message(*opcode, payload, *fragsize, *chop, *sync, i)
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        // No more steps: let the case run out (the target closes, a timer fires, or the
        // tester closes once the expected events are in).
        self.finish_when_done();
        self.pump(None).await;
        self.obs.was_clean = self.close_sent && self.close_received && !self.obs.failed_by_me;
        let _ = self.out.send(WriteCmd::Shutdown);
        self.reader.abort();
        let writer = std::mem::replace(&mut self.writer, tokio::spawn(async {}));
        if timeout(Duration::from_millis(200), writer).await.is_err() {
            self.tr.note("writer still busy at the end of the case");
        }
        // Whatever the target sent is judged, even events that arrived late.
        while let Ok(ev) = self.inbound.try_recv() {
            if let Inbound::Violation(_) = ev {
                self.on_inbound(Some(ev));
            }
        }
    }

    /// Processes one inbound event or one timer expiry.
    async fn pump_once(&mut self) {
        if self.tcp_closed {
            return;
        }
        let deadline = self.next_deadline(None);
        tokio::select! {
            ev = self.inbound.recv() => self.on_inbound(ev),
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {}
        }
        self.on_timers(Instant::now());
    }
}

/// One case's result, judged.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub case: Arc<Case>,
    /// The verdict.
    pub verdict: verdict::Verdict,
    /// The raw observations.
    pub observed: Observed,
    /// The transcript.
    pub transcript: Transcript,
    /// Wall time.
    pub duration: Duration,
}

/// Runs `cases` against the target, `opts.jobs` at a time (performance cases
/// `opts.perf_jobs` at a time), calling `progress` after each; results come back in
/// catalog order. See [`run`] for a run that can stop early.
pub async fn run_all(
    cases: Vec<Case>,
    opts: RunOptions,
    progress: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Vec<CaseResult> {
    run(cases, opts, progress).await.results
}

/// The results of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// Per-case results, in catalog order (cases not run after a stop say so).
    pub results: Vec<CaseResult>,
    /// Why the run stopped before its end (the target stopped answering handshakes).
    pub stopped: Option<String>,
}

/// Shared state of a run: consecutive handshake timeouts and why it stopped.
#[derive(Default)]
struct RunState {
    timeouts_in_a_row: usize,
    stopped: Option<String>,
}

/// Keeps what the reports need of a judged case and drops the payloads (memory stays
/// bounded per run whatever the target sent).
fn trim(obs: &mut Observed) {
    const EVENTS_KEPT: usize = 64;
    obs.received.truncate(EVENTS_KEPT);
    for r in &mut obs.received {
        match r {
            Received::Text { data, .. }
            | Received::Binary { data, .. }
            | Received::Ping(data)
            | Received::Pong(data) => {
                data.truncate(64);
                data.shrink_to_fit();
            }
            Received::StillOpen(_) => {}
        }
    }
    obs.received.shrink_to_fit();
}

/// [`run_all`], which also stops the run when `opts.max_handshake_timeouts` handshakes
/// in a row got no answer (the cases not run then say so).
pub async fn run(
    cases: Vec<Case>,
    opts: RunOptions,
    progress: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> RunOutcome {
    let opts = Arc::new(opts);
    let state: Arc<std::sync::Mutex<RunState>> = Arc::default();
    let general = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));
    let perf = Arc::new(tokio::sync::Semaphore::new(opts.perf_jobs.max(1)));
    let progress = Arc::new(progress);
    // Set when a performance case established a connection but got nothing back at all
    // (no message, no Close): the other performance cases (minutes of timers each)
    // are then not run.
    let perf_dead: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let mut handles = Vec::new();
    // Cases that spend seconds in `wait` steps first, then the performance cases (one
    // chain), then the rest: the long ones overlap with everything else.
    let waits = |c: &Case| -> Duration {
        c.send
            .iter()
            .map(|s| match s {
                Step::Wait { dur, .. } => *dur,
                _ => Duration::ZERO,
            })
            .sum()
    };
    let mut order: Vec<(usize, Case)> = cases.into_iter().enumerate().collect();
    order.sort_by_key(|(i, c)| (std::cmp::Reverse(waits(c)), !c.performance, *i));
    for (i, case) in order {
        let (opts, general, perf, progress) = (opts.clone(), general.clone(), perf.clone(), progress.clone());
        let perf_dead = perf_dead.clone();
        let state = state.clone();
        let case = Arc::new(case);
        let mine = case.clone();
        handles.push((i, mine, tokio::spawn(async move {
            // A performance case needs a permit of its own small pool as well, so
            // that they do not starve each other of bandwidth.
            let _p = if case.performance {
                Some(perf.acquire_owned().await.expect("open semaphore"))
            } else {
                None
            };
            let _g = general.acquire_owned().await.expect("open semaphore");
            let dead = if case.performance { perf_dead.lock().ok().and_then(|d| d.clone()) } else { None };
            let stopped = state.lock().ok().and_then(|s| s.stopped.clone());
            let run = match (stopped, dead) {
                (Some(why), _) => skipped(format!("not run: {why}")),
                (None, Some(first)) => {
                    skipped(format!("not run: performance case {first} got nothing back at all"))
                }
                (None, None) => {
                    let run = run_case(&case, &opts).await;
                    if let Ok(mut s) = state.lock() {
                        if run.observed.response_failure == Some(ResponseFailure::TimedOut) {
                            s.timeouts_in_a_row += 1;
                            if s.timeouts_in_a_row >= opts.max_handshake_timeouts.max(1) && s.stopped.is_none() {
                                s.stopped = Some(format!(
                                    "the target accepted TCP but did not answer {} handshakes in a row within {:?}",
                                    s.timeouts_in_a_row, opts.timeout
                                ));
                            }
                        } else if run.observed.status.is_some() {
                            s.timeouts_in_a_row = 0;
                        }
                    }
                    run
                }
            };
            // Silent: connected, then nothing at all came back (no message, no Close).
            let silent = run.observed.established
                && run.observed.received.is_empty()
                && run.observed.heartbeats == 0
                && run.observed.remote_close_code.is_none();
            if case.performance
                && silent
                && let Ok(mut d) = perf_dead.lock()
            {
                d.get_or_insert_with(|| case.id.clone());
            }
            let verdict = verdict::judge(&case, &run.observed);
            let mut observed = run.observed;
            trim(&mut observed);
            let r = CaseResult {
                case,
                verdict,
                observed,
                transcript: run.transcript,
                duration: run.duration,
            };
            progress(&r);
            r
        })));
    }
    let mut out = Vec::with_capacity(handles.len());
    for (i, case, h) in handles {
        match h.await {
            Ok(r) => out.push((i, r)),
            // A case task that panicked is reported under its id, never dropped.
            Err(e) => out.push((i, crashed(case, &e.to_string()))),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    let stopped = state.lock().ok().and_then(|s| s.stopped.clone());
    RunOutcome { results: out.into_iter().map(|(_, r)| r).collect(), stopped }
}

/// The result of `case` whose task failed (an internal error), so that it is reported.
fn crashed(case: Arc<Case>, why: &str) -> CaseResult {
    let run = skipped(format!("internal error: the case task failed: {why}"));
    let verdict = verdict::judge(&case, &run.observed);
    CaseResult { case, verdict, observed: run.observed, transcript: run.transcript, duration: run.duration }
}

/// The run of a case that was not run, with the reason.
fn skipped(why: String) -> CaseRun {
    let mut transcript = Transcript::new(Instant::now());
    transcript.note(&why);
    let observed = Observed { connect_error: Some(why), ..Observed::default() };
    CaseRun { observed, transcript, duration: Duration::ZERO }
}

/// Whether anything listens at the target (a plain TCP connect).
pub async fn probe(target: &Target, limit: Duration) -> Result<(), String> {
    match timeout(limit, TcpStream::connect(target.addr())).await {
        Err(_) => Err(format!("connecting to {} timed out after {limit:?}", target.addr())),
        Ok(Err(e)) => Err(format!("cannot connect to {}: {e}", target.addr())),
        Ok(Ok(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("ws://127.0.0.1:9001/chat?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("127.0.0.1", 9001, "/chat?x=1"));
        assert_eq!(t.host_header(), "127.0.0.1:9001");
        let t = Target::parse("ws://example.com").unwrap();
        assert_eq!((t.port, t.path.as_str(), t.host_header().as_str()), (80, "/", "example.com"));
        let t = Target::parse("ws://[::1]:80/").unwrap();
        assert_eq!((t.host.as_str(), t.addr().as_str()), ("::1", "[::1]:80"));
        assert!(Target::parse("wss://x/").is_err());
        assert!(Target::parse("http://x/").is_err());
    }

    #[test]
    fn keys_are_reproducible() {
        let a = KeyGen::new(1, "1.1.1").nonce();
        assert_eq!(a, KeyGen::new(1, "1.1.1").nonce());
        assert_ne!(a, KeyGen::new(1, "1.1.2").nonce());
        assert!(handshake::key_is_valid(a.as_bytes()));
    }
}
