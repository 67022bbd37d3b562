//! The whole catalog against the built-in reference server: every case passes (the
//! informational cases stay informational).

mod common;

use wsprobe_conform::{Outcome, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_server_passes_its_whole_catalog() {
    let results = common::run_against_server(ServerConfig::default(), &[]).await;
    let all = wsprobe_conform::Catalog::builtin().select(&[], &[common::HEAVY.into()]).unwrap();
    assert_eq!(results.len(), all.len());
    assert!(results.iter().filter(|r| r.case.category == "12" || r.case.category == "13").count() == 48);
    let mut bad = Vec::new();
    for r in &results {
        let ok = match r.verdict.outcome {
            Outcome::Passed => !r.case.informational,
            Outcome::Informational => r.case.informational,
            _ => false,
        };
        if !ok || !r.verdict.findings.is_empty() {
            bad.push(format!(
                "{}: {:?} {}/{} findings {:?}; expected {}; got {}",
                r.case.id,
                r.verdict.outcome,
                r.verdict.behavior,
                r.verdict.behavior_close,
                r.verdict.findings,
                r.verdict.expected,
                r.verdict.actual
            ));
        }
    }
    assert!(bad.is_empty(), "{} cases not OK:\n{}", bad.len(), bad.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_is_exit_3_and_bad_url_exit_2() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let args = wsprobe_conform::app::TestArgs {
        url: Some(format!("ws://127.0.0.1:{port}/")),
        timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let err = wsprobe_conform::app::run_test(args, false).await.err().expect("must fail");
    assert_eq!(err.0, wsprobe_conform::app::EXIT_UNREACHABLE, "{}", err.1);
    for args in [
        wsprobe_conform::app::TestArgs { url: Some("http://x/".into()), ..Default::default() },
        wsprobe_conform::app::TestArgs { url: Some("ws://x/".into()), insecure: true, ..Default::default() },
        wsprobe_conform::app::TestArgs { proxy: Some("socks5://p:1".into()), ..Default::default() },
    ] {
        assert_eq!(
            wsprobe_conform::app::run_test(args, false).await.err().unwrap().0,
            wsprobe_conform::app::EXIT_USAGE
        );
    }
    let args = wsprobe_conform::app::TestArgs { cases: vec!["nope.*".into()], ..Default::default() };
    assert_eq!(
        wsprobe_conform::app::run_test(args, false).await.err().unwrap().0,
        wsprobe_conform::app::EXIT_USAGE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_written_and_readable() {
    let dir = std::env::temp_dir().join(format!("wsprobe-report-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let baseline = dir.join("baseline.json");
    let junit = dir.join("junit.xml");
    let args = wsprobe_conform::app::TestArgs {
        cases: vec!["1.1.*,7.9.1,H.1.1".into()],
        report: Some(dir.join("report")),
        junit: Some(junit.clone()),
        baseline: Some(baseline.clone()),
        update_baseline: true,
        agent: Some("ref".into()),
        ..Default::default()
    };
    let o = wsprobe_conform::app::run_test(args, false).await.expect("run");
    assert_eq!(o.exit, 0);
    assert!(
        o.console.trim_end().ends_with("10 passed, 0 failed, 0 non-strict, 0 informational, 0 unimplemented"),
        "{}",
        o.console
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report/index.json")).unwrap()).unwrap();
    let e = &index["ref"]["1.1.1"];
    assert_eq!(e["behavior"], "OK");
    assert_eq!(e["behaviorClose"], "OK");
    assert_eq!(e["remoteCloseCode"], 1000);
    let file = e["reportfile"].as_str().unwrap();
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report").join(file)).unwrap()).unwrap();
    assert!(!case["transcript"]["entries"].as_array().unwrap().is_empty());
    assert!(std::fs::read_to_string(dir.join("report/index.html")).unwrap().contains("7.9.1"));
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testsuite"));
    // A baseline that expects something else is reported both ways, and a failure it
    // does not expect gives exit code 1.
    let mut b = wsprobe_conform::report::read_baseline(&baseline).unwrap();
    b.get_mut("1.1.1").unwrap().behavior = "FAILED".into();
    b.get_mut("1.1.1").unwrap().outcome = Some(wsprobe_conform::Outcome::Failed);
    wsprobe_conform::report::write_baseline(&baseline, &b).unwrap();
    let args = wsprobe_conform::app::TestArgs {
        cases: vec!["1.1.*,7.9.1,H.1.1".into()],
        baseline: Some(baseline.clone()),
        ..Default::default()
    };
    let o = wsprobe_conform::app::run_test(args, false).await.expect("run");
    assert!(
        o.console.contains("Differences from the baseline") && o.console.contains("1.1.1"),
        "{}",
        o.console
    );
    let _ = std::fs::remove_dir_all(&dir);
}
