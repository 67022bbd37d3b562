//! `wsprobe serve` over TLS: the Python `websockets` and Node `ws` client drivers from
//! peers/ connect with wss:// (trusting the test CA through SSL_CERT_FILE and
//! NODE_EXTRA_CA_CERTS, as a user would) and get the verdicts of their plain baselines.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use wsprobe_conform::Catalog;
use wsprobe_conform::runner::CaseResult;
use wsprobe_conform::serve::{ServeConfig, serve};
use wsprobe_conform::transport;

/// Serves `include` minus the heavy compression sizes over TLS, runs `driver` against
/// it with `env`, and returns the agent's results.
async fn over_tls(driver: &[&str], env: &str, include: &[&str]) -> Vec<CaseResult> {
    let pki = common::Pki::new();
    let strings = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = Catalog::for_clients().select(&strings(include), &strings(&[common::HEAVY])).expect("cases");
    let count = cases.len();
    let cfg = ServeConfig {
        cases,
        opts: common::options("127.0.0.1".into(), 9),
        report: None,
        junit: None,
        once: true,
        agents: 1,
        progress: false,
        tls: Some(transport::server_config(&pki.cert, &pki.key).expect("TLS config")),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(serve(listener, Arc::new(cfg)));
    let root = common::repo();
    let program = root.join(driver[0]);
    let mut child = Command::new(if program.exists() { program.as_os_str() } else { driver[0].as_ref() })
        .args(&driver[1..])
        .arg(format!("wss://localhost:{port}"))
        .args(["--agent", "tls"])
        .env(env, &pki.ca)
        .current_dir(&root)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{driver:?} ({e}): run scripts/setup-peers.sh"));
    let outcome = tokio::time::timeout(Duration::from_secs(300), server).await;
    let _ = child.kill();
    let _ = child.wait();
    let outcome = outcome.expect("serve ended within 300 s").expect("serve task").expect("serve");
    let results = outcome.agents.get("tls").cloned().expect("the driver's results");
    assert_eq!(results.len(), count, "every case ran");
    let over_tls = |r: &CaseResult| r.transcript.entries.iter().any(|e| e.text.starts_with("TLS TLSv1_3"));
    assert!(results.iter().all(over_tls), "every case's transcript names its TLS 1.3 session");
    results
}

fn assert_same_as(results: &[CaseResult], baseline: &str) {
    let diffs = common::diff_with_baseline(results, baseline);
    assert!(diffs.is_empty(), "wss:// differs from reports/baselines/{baseline}:\n{}", diffs.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ws_client_over_tls_matches_its_plain_baseline() {
    let results = over_tls(&["node", "peers/node/fuzzingclient.js"], "NODE_EXTRA_CA_CERTS", &[]).await;
    assert_same_as(&results, "node-ws-client.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_client_over_tls_matches_its_plain_baseline() {
    // Not category 9: with Python it is 40 s of close timeouts that TLS does not change.
    let include = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*", "12.*", "13.*", "C.*"];
    let driver = ["peers/.venv/bin/python", "peers/python/fuzzingclient.py"];
    let results = over_tls(&driver, "SSL_CERT_FILE", &include).await;
    assert_same_as(&results, "python-websockets-client.json");
}
