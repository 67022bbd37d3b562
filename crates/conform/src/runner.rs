//! The tokio runner: runs cases against a live target, each on its own connection,
//! several at a time. Per case it connects, does the handshake, and drives the sans-IO
//! [`CaseEngine`](crate::engine::CaseEngine) (which plays the steps and the timers and
//! judges every byte): reads go in as they arrive, deadlines are slept to, a writer task
//! writes what the engine asks for.

use crate::catalog::{Case, HandshakeExpect, PmdUse, RequestEdit};
use crate::engine::{CaseEngine, Output};
use crate::steps::Step;
use crate::transcript::Transcript;
use crate::transport::{self, Conn, Connector};
use crate::verdict::{self, Finding, Observed, Received, ResponseFailure};
use base64::Engine as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::WriteHalf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use wsprobe_wire::Role;
use wsprobe_wire::deflate;
use wsprobe_wire::handshake::{self, Progress, RequestBuilder, StdHeader};

/// Where and how to reach the target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Request path (with query).
    pub path: String,
    /// `wss://`: TLS to the target.
    pub tls: bool,
}

impl Target {
    /// Parses a `ws://host[:port]/path` or `wss://host[:port]/path` URL.
    pub fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
            (Some(r), _) => (false, r),
            (_, Some(r)) => (true, r),
            _ => return Err(format!("{url:?}: expected a ws:// or wss:// URL")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        if authority.contains('@') {
            return Err(format!("{url:?}: expected ws[s]://host[:port]/path (no user info)"));
        }
        let (host, port) = transport::split_host_port(authority, if tls { 443 } else { 80 })
            .map_err(|e| format!("{url:?}: {e}"))?;
        Ok(Target { host, port, path, tls })
    }

    /// The port the scheme implies.
    fn default_port(&self) -> u16 {
        if self.tls { 443 } else { 80 }
    }

    /// The Host header value.
    pub fn host_header(&self) -> String {
        let h = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == self.default_port() { h } else { format!("{h}:{}", self.port) }
    }

    /// `host:port` for connecting.
    pub fn addr(&self) -> String {
        transport::join_host_port(&self.host, self.port)
    }

    /// The URL again.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.host_header(), self.path)
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
    /// How the target is reached: TLS (for wss://) and proxy.
    pub connector: Connector,
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
            connector: Connector::default(),
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

enum WriteCmd {
    /// Bytes to write, queued in discard epoch `epoch`.
    Data {
        bytes: Vec<u8>,
        chop: Option<usize>,
        sync: bool,
        epoch: u64,
    },
    Shutdown,
}

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
    stream: &mut Conn,
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
    let mut stream = match opts.connector.connect(&opts.target.host, opts.target.port, opts.timeout).await {
        Ok(s) => s,
        Err(e) => {
            tr.note(&e);
            obs.connect_error = Some(e);
            return CaseRun { observed: obs, transcript: tr, duration: start.elapsed() };
        }
    };
    if let Some(p) = &opts.connector.proxy {
        tr.note(&format!("through the proxy {} (CONNECT {})", p.addr(), opts.target.addr()));
    }
    if let Some(t) = stream.tls_summary() {
        tr.note(&format!("TLS {t}"));
    }
    let request_bytes = build_request(case, opts, &key);
    tr.request = String::from_utf8_lossy(&request_bytes).into_owned();
    let request = match handshake::parse_request(&request_bytes) {
        Ok(Progress::Complete { value, .. }) => Some(value),
        _ => None,
    };
    if let Err(e) = stream.send(&request_bytes).await {
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
    let (obs, tr) =
        drive(CaseEngine::new(case, opts, Role::Client, keys, obs, tr, pmd, Instant::now()), stream, &rest)
            .await
            .finish();
    CaseRun { observed: obs, transcript: tr, duration: start.elapsed() }
}

/// Plays a case engine on an established connection: what the target sends goes in as
/// it arrives, the engine's deadlines are slept to, what it writes goes to a writer task
/// (which chops and flushes as asked).
pub(crate) async fn drive<'a>(mut engine: CaseEngine<'a>, stream: Conn, first: &[u8]) -> CaseEngine<'a> {
    let resetter = stream.resetter();
    let (mut rd, wr) = tokio::io::split(stream);
    let (wtx, wrx) = mpsc::unbounded_channel();
    // Bumped by a Discard: the writer skips data queued in an earlier epoch.
    let epoch = Arc::new(AtomicU64::new(0));
    let mut writer = tokio::spawn(writer_task(wr, wrx, epoch.clone()));
    engine.start(first, Instant::now());
    let mut buf = vec![0u8; 64 * 1024];
    let mut reading = true;
    loop {
        while let Some(o) = engine.poll_output() {
            let cmd = match o {
                Output::Write { bytes, chop, sync } => {
                    WriteCmd::Data { bytes, chop, sync, epoch: epoch.load(Ordering::Relaxed) }
                }
                Output::Shutdown => WriteCmd::Shutdown,
                Output::Discard => {
                    epoch.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            // The writer stops at a Shutdown or when the target is gone; the reader
            // reports how.
            let _ = wtx.send(cmd);
        }
        let Some(deadline) = engine.deadline() else {
            break;
        };
        tokio::select! {
            r = rd.read(&mut buf), if reading => match r {
                Ok(0) => {
                    reading = false;
                    engine.eof(Instant::now());
                }
                Ok(n) => engine.receive(&buf[..n], Instant::now()),
                Err(e) => {
                    reading = false;
                    engine.error(&e.to_string(), Instant::now());
                }
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                engine.on_deadline(Instant::now());
            }
        }
    }
    let _ = wtx.send(WriteCmd::Shutdown);
    if timeout(Duration::from_millis(200), &mut writer).await.is_err() {
        // The target stopped reading with our bytes still queued (in the kernel too):
        // a FIN would wait behind them for as long as the target waits for it. Reset.
        engine.note("the target did not read what was still queued at the end of the case: TCP reset");
        writer.abort();
        let _ = writer.await;
        if let Some(r) = &resetter {
            r.reset();
        }
    }
    engine
}

async fn writer_task(
    mut wr: WriteHalf<Conn>,
    mut rx: mpsc::UnboundedReceiver<WriteCmd>,
    epoch: Arc<AtomicU64>,
) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            WriteCmd::Data { epoch: queued, .. } if queued < epoch.load(Ordering::Relaxed) => {}
            WriteCmd::Data { bytes, chop, sync, .. } => {
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
                    // A TLS stream may keep the tail of a write in its buffer until
                    // flushed (a no-op on plain TCP).
                    None => match wr.write_all(&bytes).await {
                        Ok(()) => wr.flush().await,
                        e => e,
                    },
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

/// Whether the target can be reached: TCP, through the proxy if any, and the TLS
/// handshake for wss://.
pub async fn probe(opts: &RunOptions, limit: Duration) -> Result<(), String> {
    opts.connector.connect(&opts.target.host, opts.target.port, limit).await.map(drop)
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
        let t = Target::parse("wss://example.com/a").unwrap();
        assert_eq!((t.port, t.tls, t.url().as_str()), (443, true, "wss://example.com/a"));
        let t = Target::parse("wss://example.com:80").unwrap();
        assert_eq!(t.host_header(), "example.com:80");
        assert!(Target::parse("http://x/").is_err());
        assert!(Target::parse("ws://u@x/").is_err());
        assert!(Target::parse("ws:///").is_err());
    }

    #[test]
    fn keys_are_reproducible() {
        let a = KeyGen::new(1, "1.1.1").nonce();
        assert_eq!(a, KeyGen::new(1, "1.1.1").nonce());
        assert_ne!(a, KeyGen::new(1, "1.1.2").nonce());
        assert!(handshake::key_is_valid(a.as_bytes()));
    }
}
