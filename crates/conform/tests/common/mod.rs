//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use wsprobe_conform::runner::{CaseResult, RunOptions, Target, run_all};
use wsprobe_conform::{Catalog, ServerConfig, server};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Runs the cases matching `patterns` against a reference server with `cfg`.
pub async fn run_against_server(cfg: ServerConfig, patterns: &[&str]) -> Vec<CaseResult> {
    let (addr, handle) = server::spawn("127.0.0.1:0", cfg).await.expect("bind");
    let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
    let cases = Catalog::builtin().select(&patterns, &[]).expect("patterns");
    let mut opts =
        RunOptions::new(Target { host: addr.ip().to_string(), port: addr.port(), path: "/".into() });
    opts.jobs = 32;
    let results = run_all(cases, opts, |_| {}).await;
    handle.abort();
    results
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
