//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use wsprobe_conform::report::{self, Baseline};
use wsprobe_conform::runner::{CaseResult, RunOptions, Target, run_all};
use wsprobe_conform::{Catalog, Faults, Outcome, ServerConfig, server};
use wsprobe_wire::Rule;

mod pki;
mod proxy;
#[allow(unused_imports)]
pub use pki::Pki;
#[allow(unused_imports)]
pub use proxy::start_proxy;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// The compression cases that send 1000 messages of 4 KiB and more (Autobahn 12.x.5 to
/// 12.x.18 and 13.x.5 to 13.x.18): minutes in a debug build, so the tests run the
/// first four sizes of every subcategory (16 to 1024 bytes) and `scripts/` the rest.
pub const HEAVY: &str = "1[23].*.[5-9],1[23].*.1[0-9]";

/// Run options for tests: the timers that bound a case are scaled (default 4, or
/// `WSPROBE_TEST_TIME_SCALE`) so that a loaded machine and a debug build do not turn a
/// pass into a timeout; passing cases never wait for those timers.
pub fn options(host: String, port: u16) -> RunOptions {
    let mut opts = RunOptions::new(Target { host, port, path: "/".into(), tls: false });
    opts.time_scale =
        std::env::var("WSPROBE_TEST_TIME_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(4.0);
    opts
}

/// Runs the cases matching `patterns` (all if empty), but not [`HEAVY`], against a
/// reference server with `cfg`.
pub async fn run_against_server(cfg: ServerConfig, patterns: &[&str]) -> Vec<CaseResult> {
    run_selected(cfg, patterns, &[HEAVY]).await
}

/// Runs the cases matching `include` (all if empty) and not `exclude` against a
/// reference server with `cfg`.
pub async fn run_selected(cfg: ServerConfig, include: &[&str], exclude: &[&str]) -> Vec<CaseResult> {
    let (addr, handle) = server::spawn("127.0.0.1:0", cfg).await.expect("bind");
    let strings = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = Catalog::builtin().select(&strings(include), &strings(exclude)).expect("patterns");
    let mut opts = options(addr.ip().to_string(), addr.port());
    opts.jobs = 32;
    let results = run_all(cases, opts, |_| {}).await;
    handle.abort();
    results
}

/// Runs `patterns` against a reference server with `faults`: every case of `must_fail`
/// fails, and no failure names a rule outside `rules` (a rule is named only when the
/// bytes broke it).
pub async fn check_fault(faults: Faults, patterns: &[&str], rules: &[Rule], must_fail: &[&str]) {
    let name = format!("{faults:?}");
    let results = run_against_server(ServerConfig { faults, ..Default::default() }, patterns).await;
    let mut problems = Vec::new();
    for id in must_fail {
        match results.iter().find(|r| r.case.id == *id) {
            None => problems.push(format!("case {id} did not run")),
            Some(r) if r.verdict.outcome != Outcome::Failed => {
                problems.push(format!("case {id} should fail but is {:?}", r.verdict.outcome))
            }
            Some(_) => {}
        }
    }
    for r in results.iter().filter(|r| r.verdict.outcome == Outcome::Failed) {
        let wrong: Vec<Rule> = r.verdict.blamed.iter().copied().filter(|b| !rules.contains(b)).collect();
        if !wrong.is_empty() {
            problems.push(format!(
                "case {} blames {:?} (expected only {:?}); findings {:?}; got {}",
                r.case.id, wrong, rules, r.verdict.findings, r.verdict.actual
            ));
        }
    }
    let named = results
        .iter()
        .filter(|r| must_fail.contains(&r.case.id.as_str()))
        .any(|r| r.verdict.blamed.iter().any(|b| rules.contains(b)));
    if !rules.is_empty() && !named {
        problems.push(format!("no case of {must_fail:?} names any of {rules:?}"));
    }
    assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
}

/// A peer echo server started by a test; killed (by its own handle) when dropped.
pub struct Peer {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a peer echo server (`python` or `node`); panics with setup advice if it is not installed.
pub fn start_peer(kind: &str) -> Peer {
    start_peer_with::<&str>(kind, &[])
}

/// As [`start_peer`], with extra arguments for the peer (e.g. `--deflate` for Node).
pub fn start_peer_with<S: AsRef<std::ffi::OsStr>>(kind: &str, extra: &[S]) -> Peer {
    let root = repo();
    let mut cmd = match kind {
        "python" => {
            let py = root.join("peers/.venv/bin/python");
            assert!(
                py.exists(),
                "{} is missing: run scripts/setup-peers.sh to install the peer servers",
                py.display()
            );
            let mut c = Command::new(py);
            c.arg(root.join("peers/python/echo_server.py"));
            c
        }
        _ => {
            let modules = root.join("peers/node/node_modules");
            assert!(
                modules.exists(),
                "{} is missing: run scripts/setup-peers.sh to install the peer servers",
                modules.display()
            );
            let mut c = Command::new("node");
            c.arg(root.join("peers/node/echo_server.js"));
            c
        }
    };
    let mut child = cmd
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {kind} peer ({e}): run scripts/setup-peers.sh"));
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("peer output");
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{kind} peer printed {line:?} instead of LISTENING <port>"));
    Peer { child, port }
}

#[derive(Deserialize)]
struct Exceptions {
    exception: Vec<Exception>,
}

#[derive(Deserialize)]
pub struct Exception {
    pub id: String,
    pub kind: String,
    pub reason: String,
}

pub fn exceptions() -> BTreeMap<String, Exception> {
    let path = repo().join("reports/calibration-exceptions.toml");
    let text = std::fs::read_to_string(&path).expect("reports/calibration-exceptions.toml");
    let e: Exceptions = toml::from_str(&text).expect("valid exceptions file");
    for x in &e.exception {
        assert!(matches!(x.kind.as_str(), "timing" | "stricter"), "{}: kind {}", x.id, x.kind);
        assert!(!x.reason.is_empty(), "{}: no reason", x.id);
    }
    e.exception.into_iter().map(|x| (x.id.clone(), x)).collect()
}

/// Both are passes, and timing decides which one a run sees.
pub fn timing_equivalent(a: &str, b: &str) -> bool {
    let pass = |s: &str| s == "OK" || s == "NON-STRICT";
    pass(a) && pass(b)
}

/// The differences of `results` from the committed baseline `file`, without those that
/// reports/calibration-exceptions.toml lists as timing (both passes, same close).
pub fn diff_with_baseline(results: &[CaseResult], file: &str) -> Vec<String> {
    let path = repo().join("reports/baselines").join(file);
    let baseline: Baseline = report::read_baseline(&path).expect("committed baseline");
    let exc = exceptions();
    report::diff_baseline(results, &baseline, false)
        .into_iter()
        .filter(|d| {
            let timing = exc.get(&d.id).is_some_and(|e| e.kind == "timing");
            let (Some(r), Some(b)) = (results.iter().find(|r| r.case.id == d.id), baseline.get(&d.id)) else {
                return true;
            };
            let same_close = b.behavior_close.as_deref() == Some(r.verdict.behavior_close.as_str());
            !(timing && same_close && timing_equivalent(&b.behavior, r.verdict.behavior.as_str()))
        })
        .map(|d| format!("{}: baseline {} / now {}", d.id, d.expected, d.got))
        .collect()
}
