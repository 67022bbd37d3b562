//! Servers that break no rule but answer wrongly, stay silent, flood or send garbage:
//! each gets the verdict and reason a user should see, the run decides every case as
//! soon as what came back can no longer pass (no case waits for its timers after
//! that), keeps a bounded amount of what it received, and a target that stops
//! answering handshakes ends the run with exit code 3.

mod common;

use wsprobe_conform::app::{self, TestArgs};
use wsprobe_conform::verdict::Received;
use wsprobe_conform::{Faults, Outcome, ServerConfig, server};

fn faulty(f: Faults) -> ServerConfig {
    ServerConfig { faults: f, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_echoed_as_binary_fails_fast_without_naming_a_rule() {
    let f = Faults { text_as_binary: true, ..Default::default() };
    let results = common::run_against_server(faulty(f), &["1.1.*,6.2.*,9.1.1,9.1.2,12.1.1,P.2.6"]).await;
    for r in &results {
        assert_eq!(r.verdict.outcome, Outcome::Failed, "{}: {}", r.case.id, r.verdict.actual);
        // The behaviour differed; no byte broke a rule.
        assert!(r.verdict.blamed.is_empty(), "{}: blames {:?}", r.case.id, r.verdict.blamed);
        assert!(r.verdict.actual.starts_with("BIN("), "{}: {}", r.case.id, r.verdict.actual);
        assert!(r.verdict.expected.contains("TEXT("), "{}: {}", r.case.id, r.verdict.expected);
        // Decided on the first wrong message: the tester closed at once, no timer ran out.
        let decided = r.transcript.entries.iter().any(|e| e.text.starts_with("decided:"));
        assert!(decided && r.observed.closed_by_me && !r.observed.failed_by_me, "{}", r.case.id);
    }
    assert!(results.len() > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_fails_every_case_that_expects_an_answer() {
    let f = Faults { silent: true, ..Default::default() };
    let results = common::run_against_server(faulty(f), &["1.1.1,2.2,5.1"]).await;
    for r in &results {
        assert_eq!(r.verdict.outcome, Outcome::Failed, "{}", r.case.id);
        // Its silence to our Close is the one rule it breaks on the wire.
        let rules: Vec<&str> = r.verdict.blamed.iter().map(|b| b.id()).collect();
        assert!(rules.iter().all(|b| *b == "close.not-answered"), "{}: {rules:?}", r.case.id);
        assert!(r.verdict.actual.starts_with("nothing"), "{}: {}", r.case.id, r.verdict.actual);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_cut_short_and_not_kept() {
    let f = Faults { flood: true, ..Default::default() };
    let results = common::run_against_server(faulty(f), &["1.1.1,1.2.1,9.1.1"]).await;
    for r in &results {
        assert_eq!(r.verdict.outcome, Outcome::Failed, "{}", r.case.id);
        // It never answers the tester's Close (if the tester did not drop it first).
        let rules: Vec<&str> = r.verdict.blamed.iter().map(|b| b.id()).collect();
        assert!(rules.iter().all(|b| *b == "close.not-answered"), "{}: {rules:?}", r.case.id);
        // What is kept of a judged case is bounded, whatever was sent.
        assert!(r.observed.received.len() <= 64, "{}", r.case.id);
        for e in &r.observed.received {
            if let Received::Binary { data, len, .. } = e {
                assert!(data.len() <= 64 && *len == 1 << 20, "{}", r.case.id);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_fails_with_the_rule_the_bytes_broke() {
    let f = Faults { garbage: true, ..Default::default() };
    let results = common::run_against_server(faulty(f), &["1.1.1,2.1,5.1"]).await;
    for r in &results {
        assert_eq!(r.verdict.outcome, Outcome::Failed, "{}", r.case.id);
        assert!(!r.verdict.findings.is_empty(), "{}: garbage must break a framing rule", r.case.id);
        // The first byte (0xff: FIN, RSV1-3, opcode 15) is already a frame violation.
        let first = r.verdict.findings[0].rule.id();
        assert!(first.starts_with("frame."), "{}: {:?}", r.case.id, r.verdict.findings);
        // A broken rule decides the case at once: the tester fails the connection.
        let decided = r.transcript.entries.iter().any(|e| e.text.starts_with("decided: the target broke"));
        assert!(decided, "{}", r.case.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_answers_handshakes_stops_the_run_with_exit_3() {
    let f = Faults { no_handshake_answer: true, ..Default::default() };
    let (addr, handle) = server::spawn("127.0.0.1:0", faulty(f)).await.expect("bind");
    let args = TestArgs {
        url: Some(format!("ws://{addr}/")),
        timeout: std::time::Duration::from_secs(1),
        jobs: 2,
        ..Default::default()
    };
    let o = app::run_test(args, false).await.expect("the run itself works");
    handle.abort();
    assert_eq!(o.exit, app::EXIT_UNREACHABLE, "{}", o.console);
    assert!(o.console.contains("did not answer 3 handshakes in a row"), "{}", o.console);
    let not_run = o.results.iter().filter(|r| r.verdict.actual.starts_with("not run:")).count();
    assert!(
        not_run + 4 >= o.results.len(),
        "at most the cases in flight ran: {not_run} of {}",
        o.results.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_ends_every_case_and_is_not_kept() {
    let f = Faults { ping_flood: true, ..Default::default() };
    let results = common::run_against_server(faulty(f), &["1.1.1,2.1,12.1.1,P.2.6"]).await;
    for r in &results {
        assert_eq!(r.verdict.outcome, Outcome::Failed, "{}", r.case.id);
        assert!(r.observed.received.len() <= 64, "{}", r.case.id);
    }
    // In echo cases pings are heartbeats, answered and not counted, until there are too many.
    let echo = results.iter().find(|r| r.case.id == "12.1.1").unwrap();
    assert!(
        echo.observed.notes.iter().any(|n| n.contains("more than 1000 Pings")),
        "{:?}",
        echo.observed.notes
    );
}

/// Hostile compressed output: an inflate bomb and a compressed message that never ends
/// are cut at the inflate limit (limit.inflated-size named), memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inflate_bombs_and_endless_compressed_messages_are_cut() {
    for f in
        [Faults { pmd_bomb: true, ..Default::default() }, Faults { pmd_endless: true, ..Default::default() }]
    {
        let name = format!("bomb {} endless {}", f.pmd_bomb, f.pmd_endless);
        let results = common::run_against_server(faulty(f), &["12.1.1,P.2.6"]).await;
        for r in &results {
            assert_eq!(r.verdict.outcome, Outcome::Failed, "{name} {}", r.case.id);
            let rules: Vec<&str> = r.verdict.blamed.iter().map(|b| b.id()).collect();
            assert!(rules.contains(&"limit.inflated-size"), "{name} {}: {rules:?}", r.case.id);
            assert!(r.observed.received.len() <= 64);
        }
    }
}
