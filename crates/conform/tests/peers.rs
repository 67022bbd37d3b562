//! The catalog against real third-party servers (Python `websockets`, Node `ws`),
//! spawned from <repo>/peers: results are diffed with the committed baselines under
//! reports/baselines/, and the Python verdicts are calibrated against Autobahn's.

mod common;

use serde::Deserialize;
use std::collections::BTreeMap;
use wsprobe_conform::report::{self, Baseline};
use wsprobe_conform::runner::{CaseResult, run_all};
use wsprobe_conform::{Behavior, Catalog};

#[derive(Deserialize)]
struct Exceptions {
    exception: Vec<Exception>,
}

#[derive(Deserialize)]
struct Exception {
    id: String,
    kind: String,
    reason: String,
}

fn exceptions() -> BTreeMap<String, Exception> {
    let path = common::repo().join("reports/calibration-exceptions.toml");
    let text = std::fs::read_to_string(&path).expect("reports/calibration-exceptions.toml");
    let e: Exceptions = toml::from_str(&text).expect("valid exceptions file");
    for x in &e.exception {
        assert!(matches!(x.kind.as_str(), "timing" | "stricter"), "{}: kind {}", x.id, x.kind);
        assert!(!x.reason.is_empty(), "{}: no reason", x.id);
    }
    e.exception.into_iter().map(|x| (x.id.clone(), x)).collect()
}

/// Both are passes, and timing decides which one a run sees.
fn timing_equivalent(a: &str, b: &str) -> bool {
    let pass = |s: &str| s == "OK" || s == "NON-STRICT";
    pass(a) && pass(b)
}

async fn run_peer(port: u16) -> Vec<CaseResult> {
    let opts = common::options("127.0.0.1".into(), port);
    run_all(Catalog::builtin().select(&[], &[common::HEAVY.into()]).unwrap(), opts, |_| {}).await
}

fn diff_with_baseline(results: &[CaseResult], file: &str) -> Vec<String> {
    let path = common::repo().join("reports/baselines").join(file);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_matches_baseline_and_autobahn() {
    let peer = common::start_peer("python");
    let results = run_peer(peer.port).await;
    drop(peer);
    let diffs = diff_with_baseline(&results, "python-websockets.json");
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
    let exc = exceptions();
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
            Some("timing") => ac == wc && timing_equivalent(ab, wb),
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
    let diffs = diff_with_baseline(&results, "node-ws.json");
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
    let diffs = diff_with_baseline(&results, "node-ws-deflate.json");
    assert!(
        diffs.is_empty(),
        "differences from reports/baselines/node-ws-deflate.json:\n{}",
        diffs.join("\n")
    );
    assert!(results.iter().filter(|r| r.case.category == "13").all(|r| r.observed.pmd.is_some()));
}
