//! `wsprobe serve`: conformance testing of WebSocket clients. A server that speaks
//! Autobahn fuzzingserver's URL protocol, so client drivers written for it work
//! unchanged:
//!
//! | URL | what the server does |
//! |---|---|
//! | `/getCaseCount` | sends the number of cases as a text message, closes |
//! | `/runCase?case=N&agent=A` | plays the N-th case (1-based) against the connecting client |
//! | `/getCaseInfo?case=N` | sends `{"id": ..., "description": ...}` |
//! | `/getCaseStatus?case=N&agent=A` | sends `{"behavior": ...}` of A's last run of case N |
//! | `/updateReports?agent=A` | writes the reports (all agents, or A), closes |
//!
//! Each case is played by the sans-IO [`CaseEngine`] in the server role (frames
//! unmasked, every byte the client sends judged as the client's), driven by the same
//! tokio driver as `wsprobe test`. Every wait has a timeout: a client that never
//! sends its request, hangs or floods ends with a verdict, never a hang of the server.

use crate::catalog::{Case, PmdUse, RequestEdit};
use crate::engine::CaseEngine;
use crate::report;
use crate::runner::{CaseResult, KeyGen, RunOptions, drive};
use crate::transcript::Transcript;
use crate::transport::{self, Conn};
use crate::verdict::{self, Finding, Observed};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsprobe_wire::deflate::{self, PmdConfig, ServerAsk};
use wsprobe_wire::encode::{FrameSpec, close_payload};
use wsprobe_wire::handshake::{self, Progress, Request};
use wsprobe_wire::{OpCode, Role, Rule};

/// What `wsprobe serve` runs and writes.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The client catalog, in the order `runCase` numbers it (1-based).
    pub cases: Vec<Case>,
    /// Timeouts, time scale and seed (the target URL is unused).
    pub opts: RunOptions,
    /// Directory of the Autobahn-style reports (index.json, per-case JSON, HTML).
    pub report: Option<PathBuf>,
    /// JUnit file.
    pub junit: Option<PathBuf>,
    /// Stop after the first `updateReports` (of `agents` different agents).
    pub once: bool,
    /// With `once`: how many agents' `updateReports` end the run (agents run at once).
    pub agents: usize,
    /// Write a line per case to stderr as it ends.
    pub progress: bool,
    /// TLS (wss://) with this server configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// How a `serve` run ended (with `--once`).
#[derive(Debug)]
pub struct ServeOutcome {
    /// Results per agent, in case order.
    pub agents: BTreeMap<String, Vec<CaseResult>>,
    /// The agent whose `updateReports` ended the run.
    pub agent: String,
}

impl ServeOutcome {
    /// Whether any case of any agent failed.
    pub fn failed(&self) -> bool {
        self.agents.values().flatten().any(|r| r.verdict.outcome == crate::Outcome::Failed)
    }
}

/// Results kept per agent: case number to result.
type Results = Mutex<BTreeMap<String, BTreeMap<usize, CaseResult>>>;

/// What the server keeps across connections.
#[derive(Default)]
struct State {
    results: Results,
    /// Cases being played, as (agent, case number): a status request for one waits.
    running: Mutex<std::collections::HashSet<(String, usize)>>,
    seen: Mutex<Seen>,
}

/// A case being played: listed in [`State::running`] until dropped.
struct Playing<'a> {
    state: &'a State,
    run: (String, usize),
}

impl Drop for Playing<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.state.running.lock() {
            r.remove(&self.run);
        }
    }
}

impl State {
    /// Lists `agent`'s case `n` as being played, until the guard is dropped.
    fn playing(&self, agent: &str, n: usize) -> Playing<'_> {
        let run = (agent.to_string(), n);
        if let Ok(mut r) = self.running.lock() {
            r.insert(run.clone());
        }
        Playing { state: self, run }
    }

    /// Waits (at most `limit`) until `agent`'s case `number` (or every case of `agent`)
    /// has been recorded: a driver asks for a status or the reports as soon as it sees
    /// the close, which can be before the server has judged the case.
    async fn settle(&self, agent: &str, number: Option<usize>, limit: Duration) {
        let deadline = Instant::now() + limit;
        let busy = |r: &std::collections::HashSet<(String, usize)>| {
            r.iter().any(|(a, n)| a == agent && number.is_none_or(|m| m == *n))
        };
        while self.running.lock().is_ok_and(|r| busy(&r)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The page served on `GET /`: a driver that runs the catalog with the browser's own
/// WebSocket and shows the results as they come.
const PAGE: &str = include_str!("serve_page.html");

/// What a client showed on its earlier connections: its handshake nonces and the first
/// masking key of each connection (first keys only: 32-bit random keys of thousands of
/// frames would collide by chance, a few hundred connections' first keys not).
#[derive(Default)]
struct Seen {
    nonces: std::collections::HashMap<String, std::collections::HashSet<String>>,
    keys: std::collections::HashMap<String, std::collections::HashSet<[u8; 4]>>,
}

/// Largest request head a client may send.
const HEAD_MAX: usize = 16 << 10;

/// Serves until an `updateReports` when `cfg.once` (returning the results), forever
/// otherwise. Errors only when the reports cannot be written.
pub async fn serve(listener: TcpListener, cfg: Arc<ServeConfig>) -> Result<ServeOutcome, String> {
    let state: Arc<State> = Arc::default();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<Result<String, String>>(4);
    let mut reported = std::collections::BTreeSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (cfg, state, done_tx) = (cfg.clone(), state.clone(), done_tx.clone());
                tokio::spawn(async move {
                    let stream = match transport::accept(stream, cfg.tls.as_ref(), cfg.opts.timeout).await {
                        Ok(s) => s,
                        Err(e) => {
                            if cfg.progress {
                                let _ = writeln!(std::io::stderr(), "wsprobe serve: a connection failed: {e}");
                            }
                            return;
                        }
                    };
                    if let Some(r) = connection(stream, &cfg, &state).await {
                        let _ = done_tx.send(r).await;
                    }
                });
            }
            Some(r) = done_rx.recv() => {
                let agent = r?;
                reported.insert(agent.clone());
                if cfg.once && reported.len() >= cfg.agents {
                    let agents = take_results(&state.results);
                    return Ok(ServeOutcome { agents, agent });
                }
            }
        }
    }
}

fn take_results(results: &Results) -> BTreeMap<String, Vec<CaseResult>> {
    let map = results.lock().map(|m| m.clone()).unwrap_or_default();
    map.into_iter().map(|(a, r)| (a, r.into_values().collect())).collect()
}

/// One client connection: its request, then what its URL asks for. Returns the
/// outcome of an `updateReports` (the agent, or why the reports failed).
async fn connection(mut stream: Conn, cfg: &ServeConfig, state: &State) -> Option<Result<String, String>> {
    let (req, rest) = read_request(&mut stream, cfg.opts.timeout).await?;
    let (path, query) = split_target(&req.target);
    let Some(key) = req.header("sec-websocket-key").map(|k| String::from_utf8_lossy(k).trim().to_string())
    else {
        plain_http(&mut stream, path).await;
        return None;
    };
    let number = query.get("case").and_then(|c| c.parse::<usize>().ok());
    let agent = query.get("agent").cloned().unwrap_or_else(|| "unknown".into());
    let case = number.and_then(|n| Some((n, cfg.cases.get(n.checked_sub(1)?)?)));
    let (edits, pmd) = match (path, case) {
        ("/runCase", Some((_, c))) => answer(c, &req),
        _ => (Vec::new(), None),
    };
    // Registered before the 101 goes out: from then on the client can see the case end.
    let _playing = match (path, case) {
        ("/runCase", Some((n, _))) => Some(state.playing(&agent, n)),
        _ => None,
    };
    let response = switching(&key, &edits);
    if stream.send(&response).await.is_err() {
        return None;
    }
    match path {
        "/runCase" => {
            let Some((n, case)) = case else {
                say_and_close(&mut stream, &format!("no case {:?}", query.get("case"))).await;
                return None;
            };
            let response = String::from_utf8_lossy(&response);
            let client = Client { req: &req, response: response.trim_end(), key: &key, agent: &agent, pmd };
            let r = run_case(case, &cfg.opts, client, &state.seen, stream, &rest).await;
            if cfg.progress {
                let v = &r.verdict;
                let line = format!(
                    "{agent}: case {n}/{} {} {} (close {}, {} ms)",
                    cfg.cases.len(),
                    case.id,
                    v.behavior.as_str(),
                    v.behavior_close.as_str(),
                    r.duration.as_millis()
                );
                // A closed stderr must not stop the server.
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            if let Ok(mut m) = state.results.lock() {
                m.entry(agent).or_default().insert(n, r);
            }
            None
        }
        "/getCaseCount" => {
            say_and_close(&mut stream, &cfg.cases.len().to_string()).await;
            None
        }
        "/getCaseInfo" => {
            let info = number
                .and_then(|n| cfg.cases.get(n.checked_sub(1)?))
                .map(|c| serde_json::json!({ "id": c.id, "description": c.title }).to_string());
            say_and_close(&mut stream, &info.unwrap_or_else(|| "{}".into())).await;
            None
        }
        "/getCaseStatus" => {
            state.settle(&agent, number, cfg.opts.timeout).await;
            let behavior = state.results.lock().ok().and_then(|m| {
                let r = m.get(&agent)?.get(&number?)?;
                serde_json::to_value(r.verdict.behavior).ok()
            });
            let status = serde_json::json!({ "behavior": behavior.unwrap_or("UNKNOWN".into()) });
            say_and_close(&mut stream, &status.to_string()).await;
            None
        }
        "/updateReports" => {
            state.settle(&agent, None, cfg.opts.timeout).await;
            let written = write_reports(cfg, &take_results(&state.results));
            say_and_close(&mut stream, "").await;
            Some(written.map(|()| agent))
        }
        _ => {
            say_and_close(&mut stream, &format!("unknown URL {path}")).await;
            None
        }
    }
}

/// Answers a request without an upgrade: the browser page on `/`, a 426 naming the
/// URL protocol elsewhere.
async fn plain_http(stream: &mut Conn, path: &str) {
    let (status, kind, body) = match path {
        "/" | "/index.html" => ("200 OK", "text/html; charset=utf-8", PAGE),
        _ => (
            "426 Upgrade Required\r\nUpgrade: websocket",
            "text/plain",
            "wsprobe serve: WebSocket client testing (Autobahn fuzzingserver URLs: /getCaseCount, \
             /runCase?case=N&agent=A, /getCaseInfo?case=N, /getCaseStatus?case=N&agent=A, \
             /updateReports?agent=A; open / in a browser to test the browser)\n",
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.send(format!("{head}{body}").as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A case's edits of its 101 answer to `req`, with the permessage-deflate answer its
/// `accept` asks for (the first the client's offer allows), and the configuration that
/// answer agrees to. A compression case whose answer the offer allows none of gets no
/// extension (and ends UNIMPLEMENTED, as with Autobahn).
fn answer(case: &Case, req: &Request) -> (Vec<RequestEdit>, Option<PmdConfig>) {
    let mut edits = case.response.clone();
    if case.pmd != PmdUse::Required && case.accept.is_empty() {
        return (edits, None);
    }
    let offers = req.offered_extensions().unwrap_or_default();
    let defaults = [ServerAsk::default()];
    let asks = if case.accept.is_empty() { &defaults[..] } else { &case.accept };
    let Some((ext, cfg)) = asks.iter().find_map(|&a| deflate::answer_offers_asking(&offers, a)) else {
        return (edits, None);
    };
    let value = wsprobe_wire::extensions::format_extensions(&[ext]);
    edits.push(RequestEdit::Add("Sec-WebSocket-Extensions".into(), value));
    (edits, Some(cfg))
}

/// The 101 answer to a request with nonce `key`, with a case's `edits` applied.
fn switching(key: &str, edits: &[RequestEdit]) -> Vec<u8> {
    let mut headers: Vec<(String, String)> = vec![
        ("Upgrade".into(), "websocket".into()),
        ("Connection".into(), "Upgrade".into()),
        ("Sec-WebSocket-Accept".into(), handshake::accept_key(key)),
    ];
    for e in edits {
        match e {
            RequestEdit::Omit(n) => headers.retain(|(h, _)| !h.eq_ignore_ascii_case(n)),
            RequestEdit::Set(n, v) => {
                for (h, value) in headers.iter_mut() {
                    if h.eq_ignore_ascii_case(n) {
                        *value = v.clone();
                    }
                }
            }
            RequestEdit::Add(n, v) => headers.push((n.clone(), v.clone())),
            RequestEdit::Method(_) | RequestEdit::HttpVersion(_) => {}
        }
    }
    let mut out = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (h, v) in headers {
        out.push_str(&format!("{h}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The connecting client of a case: its request, the 101 it got, its nonce and agent
/// name, and the permessage-deflate configuration the 101 agreed to.
struct Client<'a> {
    req: &'a Request,
    /// The head of the 101 it got.
    response: &'a str,
    key: &'a str,
    agent: &'a str,
    pmd: Option<PmdConfig>,
}

/// Plays `case` against `client`, and judges what the client reused from its earlier
/// connections.
async fn run_case(
    case: &Case,
    opts: &RunOptions,
    client: Client<'_>,
    seen: &Mutex<Seen>,
    stream: Conn,
    rest: &[u8],
) -> CaseResult {
    let Client { req, response, key, agent, pmd } = client;
    let start = Instant::now();
    let mut obs = Observed { established: true, status: Some(101), pmd, ..Observed::default() };
    let mut tr = Transcript::new(start);
    tr.request = format!("{} {}", req.method, req.target);
    tr.response = Some(response.to_string());
    if let Some(t) = stream.tls_summary() {
        tr.note(&format!("TLS {t}"));
    }
    for (rule, detail) in handshake::check_request(req) {
        tr.note(&format!("handshake: {rule}: {detail}"));
        obs.findings.push(Finding { rule, detail });
    }
    let reused_nonce = seen
        .lock()
        .is_ok_and(|mut s| !s.nonces.entry(agent.to_string()).or_default().insert(key.to_string()));
    if reused_nonce {
        let detail = format!("Sec-WebSocket-Key {key} was sent on an earlier connection");
        tr.note(&format!("handshake: {}: {detail}", Rule::HsRequestKeyReused));
        obs.findings.push(Finding { rule: Rule::HsRequestKeyReused, detail });
    }
    let keys = KeyGen::new(opts.seed, &case.id);
    let engine = CaseEngine::new(case, opts, Role::Server, keys, obs, tr, pmd, start);
    let mut engine = drive(engine, stream, rest).await;
    if let Some(k) = engine.first_mask_key()
        && seen.lock().is_ok_and(|mut s| !s.keys.entry(agent.to_string()).or_default().insert(k))
    {
        let detail = format!("masking key {} was the first key of an earlier connection too", hex4(k));
        engine.add_peer_finding(Rule::MaskKeyPredictable, detail);
    }
    let (observed, transcript) = engine.finish();
    let verdict = verdict::judge(case, &observed);
    CaseResult { case: Arc::new(case.clone()), verdict, observed, transcript, duration: start.elapsed() }
}

fn hex4(k: [u8; 4]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the reports of every agent, JUnit of all results.
fn write_reports(cfg: &ServeConfig, agents: &BTreeMap<String, Vec<CaseResult>>) -> Result<(), String> {
    if let Some(dir) = &cfg.report {
        let all: Vec<report::AgentReport<'_>> = agents
            .iter()
            .map(|(agent, results)| report::AgentReport {
                agent,
                results,
                summary: format!(
                    "{} cases against {agent}\n{}",
                    results.len(),
                    report::Counts::of(results).line()
                ),
            })
            .collect();
        report::write_report_dir(dir, &all)?;
    }
    if let Some(f) = &cfg.junit {
        let all: Vec<CaseResult> = agents.values().flatten().cloned().collect();
        let agent = agents.keys().cloned().collect::<Vec<_>>().join(", ");
        let xml = report::junit(&agent, &all)?;
        std::fs::write(f, xml).map_err(|e| format!("{}: {e}", f.display()))?;
    }
    Ok(())
}

/// Reads the request head (within `limit`); returns it with the bytes after it.
async fn read_request(stream: &mut Conn, limit: Duration) -> Option<(Request, Vec<u8>)> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = Vec::with_capacity(1024);
    loop {
        match handshake::parse_request(&buf) {
            Ok(Progress::Complete { value, consumed }) => return Some((value, buf.split_off(consumed))),
            Ok(Progress::Partial) if buf.len() < HEAD_MAX => {}
            _ => return None,
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// Sends `text` as a text message (if not empty) and a Close, waits a moment for the
/// client's Close, and closes TCP.
async fn say_and_close(stream: &mut Conn, text: &str) {
    let mut out = Vec::new();
    if !text.is_empty() {
        let _ = FrameSpec::new(OpCode::TEXT, text.as_bytes().to_vec()).encode_into(&mut out);
    }
    let _ = FrameSpec::new(OpCode::CLOSE, close_payload(1000, b"")).encode_into(&mut out);
    if stream.send(&out).await.is_ok() {
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut sink)).await;
    }
    let _ = stream.shutdown().await;
}

/// The path and the decoded query parameters of a request target.
fn split_target(target: &str) -> (&str, BTreeMap<String, String>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    (path, params)
}

/// `%XX` and `+` decoding of a query parameter (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&transport::percent_decode(s, true)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_escapes() {
        let (p, q) = split_target("/runCase?case=12&agent=Python%20websockets+17");
        assert_eq!(p, "/runCase");
        assert_eq!(q.get("case").map(String::as_str), Some("12"));
        assert_eq!(q.get("agent").map(String::as_str), Some("Python websockets 17"));
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(split_target("/getCaseCount").0, "/getCaseCount");
    }

    #[test]
    fn compression_cases_answer_the_offer_as_they_ask() {
        let catalog = crate::catalog::Catalog::for_clients();
        let case = |id: &str| catalog.cases.iter().find(|c| c.id == id).expect("case").clone();
        let request = |ext: &str| {
            let head = format!(
                "GET /runCase?case=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
            );
            match handshake::parse_request(head.as_bytes()) {
                Ok(Progress::Complete { value, .. }) => value,
                other => panic!("{other:?}"),
            }
        };
        let offer = request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        let bare = request("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let header = |(edits, _): (Vec<RequestEdit>, Option<PmdConfig>)| match edits.as_slice() {
            [RequestEdit::Add(n, v)] if n == "Sec-WebSocket-Extensions" => Some(v.clone()),
            [] => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(header(answer(&case("12.1.1"), &offer)).as_deref(), Some("permessage-deflate"));
        assert_eq!(
            header(answer(&case("13.5.1"), &offer)).as_deref(),
            Some("permessage-deflate; client_no_context_takeover; client_max_window_bits=9")
        );
        // 13.3 asks for window bits the bare offer does not allow: no compression.
        assert_eq!(answer(&case("13.3.1"), &bare).1, None);
        assert_eq!(
            header(answer(&case("13.7.1"), &bare)).as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
        assert_eq!(header(answer(&case("12.1.1"), &request(""))), None);
        assert_eq!(header(answer(&case("1.1.1"), &offer)), None, "no compression outside 12 and 13");
    }
}
