//! The catalog against real third-party servers (Python `websockets`, Node `ws`),
//! spawned from <repo>/peers: results are diffed with the committed baselines under
//! reports/baselines/, and the Python verdicts are calibrated against Autobahn's.

mod common;

use wsprobe_conform::runner::{CaseResult, RunOptions, run_all};
use wsprobe_conform::transport::{ClientTls, Connector, Proxy};
use wsprobe_conform::{Behavior, Catalog};

async fn run_peer(port: u16) -> Vec<CaseResult> {
    run_with(common::options("127.0.0.1".into(), port)).await
}

async fn run_with(opts: RunOptions) -> Vec<CaseResult> {
    run_all(Catalog::builtin().select(&[], &[common::HEAVY.into()]).unwrap(), opts, |_| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_matches_baseline_and_autobahn() {
    let peer = common::start_peer("python");
    let results = run_peer(peer.port).await;
    drop(peer);
    let diffs = common::diff_with_baseline(&results, "python-websockets.json");
    assert!(
        diffs.is_empty(),
        "differences from reports/baselines/python-websockets.json:\n{}",
        diffs.join("\n")
    );

    let reference = common::repo().join("../shared/reference/autobahn-results-websockets.json");
    if !reference.exists() {
        eprintln!("note: {} not found; Autobahn calibration skipped", reference.display());
        return;
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
    let cases = json["cases"].as_object().expect("cases");
    let exc = common::exceptions();
    let mut problems = Vec::new();
    let mut compared = 0;
    for r in &results {
        let cat = r.case.category.as_str();
        if !matches!(cat, "1" | "2" | "3" | "4" | "5" | "6" | "7" | "9" | "10" | "12" | "13") {
            continue;
        }
        let Some(a) = cases.get(&r.case.id) else {
            problems.push(format!("{}: not in the Autobahn reference", r.case.id));
            continue;
        };
        compared += 1;
        let (ab, ac) = (a["behavior"].as_str().unwrap_or(""), a["behaviorClose"].as_str().unwrap_or(""));
        let (wb, wc) = (r.verdict.behavior.as_str(), r.verdict.behavior_close.as_str());
        let same = ab == wb && ac == wc;
        let excused = match exc.get(&r.case.id).map(|e| e.kind.as_str()) {
            Some("timing") => ac == wc && common::timing_equivalent(ab, wb),
            Some("stricter") => true,
            _ => false,
        };
        if !same && !excused {
            problems
                .push(format!("{}: Autobahn {ab}/{ac}, wsprobe {wb}/{wc} ({})", r.case.id, r.verdict.actual));
        }
        if r.verdict.behavior == Behavior::Ok
            && !r.verdict.findings.is_empty()
            && !exc.contains_key(&r.case.id)
        {
            problems.push(format!(
                "{}: wsprobe found {:?} where Autobahn says OK",
                r.case.id, r.verdict.findings
            ));
        }
    }
    assert_eq!(compared, 301 + 48, "categories 1-7, 9, 10 hold 301 cases; the light part of 12 and 13, 48");
    assert!(problems.is_empty(), "calibration against Autobahn:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ws_matches_baseline() {
    let peer = common::start_peer("node");
    let results = run_peer(peer.port).await;
    drop(peer);
    let diffs = common::diff_with_baseline(&results, "node-ws.json");
    assert!(diffs.is_empty(), "differences from reports/baselines/node-ws.json:\n{}", diffs.join("\n"));
    // Without --deflate, ws declines permessage-deflate: 12, 13 and the compressed P
    // cases do not apply.
    let pmd: Vec<&CaseResult> = results.iter().filter(|r| r.case.category == "12").collect();
    assert!(
        !pmd.is_empty() && pmd.iter().all(|r| r.verdict.outcome == wsprobe_conform::Outcome::Unimplemented)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ws_with_deflate_matches_baseline() {
    let peer = common::start_peer_with("node", &["--deflate"]);
    let results = run_peer(peer.port).await;
    drop(peer);
    let diffs = common::diff_with_baseline(&results, "node-ws-deflate.json");
    assert!(
        diffs.is_empty(),
        "differences from reports/baselines/node-ws-deflate.json:\n{}",
        diffs.join("\n")
    );
    assert!(results.iter().filter(|r| r.case.category == "13").all(|r| r.observed.pmd.is_some()));
}

/// Options for wss://localhost:PORT/ trusting the test CA, through `proxy` if given.
fn tls_options(pki: &common::Pki, port: u16, proxy: Option<&str>) -> RunOptions {
    let mut opts = common::options("localhost".into(), port);
    opts.target.tls = true;
    let tls = ClientTls { ca: Some(&pki.ca), ..Default::default() }.config().expect("TLS config");
    opts.connector = Connector { tls: Some(tls), proxy: proxy.map(|p| Proxy::parse(p).expect("proxy URL")) };
    opts
}

/// The TLS layer agreed on by every case (it is transport: no case may see it fail).
fn assert_all_over_tls(results: &[CaseResult]) {
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.observed.connect_error.is_some())
        .map(|r| format!("{}: {:?}", r.case.id, r.observed.connect_error))
        .collect();
    assert!(bad.is_empty(), "cases that could not connect over TLS:\n{}", bad.join("\n"));
    let over_tls =
        |r: &CaseResult| r.transcript.entries.iter().any(|e| e.kind == "note" && e.text.starts_with("TLS "));
    assert!(results.iter().all(over_tls), "every case's transcript names its TLS session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_over_tls_matches_its_plain_baseline() {
    let pki = common::Pki::new();
    let peer = common::start_peer_with("python", &pki.server_args());
    let results = run_with(tls_options(&pki, peer.port, None)).await;
    drop(peer);
    assert_all_over_tls(&results);
    let diffs = common::diff_with_baseline(&results, "python-websockets.json");
    assert!(
        diffs.is_empty(),
        "wss:// differs from reports/baselines/python-websockets.json:\n{}",
        diffs.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ws_over_tls_through_a_connect_proxy_matches_its_plain_baseline() {
    let pki = common::Pki::new();
    let mut args = pki.server_args();
    args.push("--deflate".into());
    let peer = common::start_peer_with("node", &args);
    let proxy = common::start_proxy(Some("tester:s3cret"));
    let url = format!("http://tester:s3cret@127.0.0.1:{}", proxy.port);
    let results = run_with(tls_options(&pki, peer.port, Some(&url))).await;
    drop(peer);
    assert_all_over_tls(&results);
    let diffs = common::diff_with_baseline(&results, "node-ws-deflate.json");
    assert!(
        diffs.is_empty(),
        "wss:// through a proxy differs from reports/baselines/node-ws-deflate.json:\n{}",
        diffs.join("\n")
    );
    assert!(proxy.tunnels() >= results.len(), "every case went through the proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_proxy_failures_name_their_layer() {
    let pki = common::Pki::new();
    let peer = common::start_peer_with("node", &pki.server_args());
    let probe = |opts: RunOptions| async move {
        wsprobe_conform::runner::probe(&opts, std::time::Duration::from_secs(5)).await
    };
    // The system's roots do not know the test CA: a certificate error.
    let mut opts = tls_options(&pki, peer.port, None);
    let system = ClientTls::default().config();
    if let Ok(cfg) = system {
        opts.connector.tls = Some(cfg);
        let e = probe(opts.clone()).await.expect_err("unknown issuer");
        assert!(e.contains("TLS handshake") && e.contains("UnknownIssuer"), "{e}");
    }
    // A name the certificate does not hold (it names localhost only).
    let mut opts = tls_options(&pki, peer.port, None);
    opts.target.host = "127.0.0.1".into();
    let e = probe(opts).await.expect_err("wrong name");
    assert!(e.contains("certificate") && e.contains("127.0.0.1"), "{e}");
    // --insecure accepts it.
    let mut opts = tls_options(&pki, peer.port, None);
    opts.connector.tls = Some(ClientTls { insecure: true, ..Default::default() }.config().unwrap());
    opts.target.host = "127.0.0.1".into();
    probe(opts).await.expect("--insecure");
    // A self-signed certificate marked as a CA (as `openssl req -x509` makes them), given
    // with --ca: trusted as it is, though WebPKI refuses a CA as an end entity.
    let s = |p: &std::path::Path| p.display().to_string();
    let selfsigned =
        common::start_peer_with("node", &["--tls-cert", &s(&pki.ca), "--tls-key", &s(&pki.ca_key)]);
    probe(tls_options(&pki, selfsigned.port, None)).await.expect("a pinned self-signed certificate");
    let mut opts = tls_options(&pki, selfsigned.port, None);
    opts.connector.tls = Some(ClientTls { ca: Some(&pki.cert), ..Default::default() }.config().unwrap());
    let e = probe(opts).await.expect_err("not the pinned certificate");
    assert!(e.contains("certificate"), "{e}");
    // TLS to a plain server: a protocol error, quickly.
    let plain = common::start_peer("node");
    let e = probe(tls_options(&pki, plain.port, None)).await.expect_err("plain server");
    assert!(e.contains("TLS handshake"), "{e}");
    // The command: exit code 3, the layer named.
    let args = wsprobe_conform::app::TestArgs {
        url: Some(format!("wss://localhost:{}/", plain.port)),
        ca: Some(pki.ca.clone()),
        ..Default::default()
    };
    let (code, e) = wsprobe_conform::app::run_test(args, false).await.err().expect("TLS to a plain server");
    assert_eq!(code, wsprobe_conform::app::EXIT_UNREACHABLE, "{e}");
    assert!(e.contains("TLS handshake"), "{e}");
    // A proxy that wants credentials says so with its status.
    let proxy = common::start_proxy(Some("tester:s3cret"));
    for url in
        [format!("http://127.0.0.1:{}", proxy.port), format!("http://tester:wrong@127.0.0.1:{}", proxy.port)]
    {
        let e = probe(tls_options(&pki, peer.port, Some(&url))).await.expect_err("refused");
        assert!(e.contains("refused CONNECT") && e.contains("407"), "{e}");
    }
    // A CA file that is not one.
    let e = ClientTls { ca: Some(&pki.key), ..Default::default() }.config().expect_err("not a certificate");
    assert!(e.contains("server.key"), "{e}");
}
