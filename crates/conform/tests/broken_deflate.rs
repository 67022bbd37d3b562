//! Deliberately broken permessage-deflate servers: each fault fails the `P.*` (and
//! Autobahn 12/13) cases that cover its rule family, naming only that rule, and the
//! conformant server fails nothing there.

mod common;

use wsprobe_conform::{Faults, Outcome, ServerConfig};
use wsprobe_wire::Rule;

/// Every P case, and the lightest 12/13 cases of each offer.
const PATTERNS: &[&str] = &["P.*,12.1.1,12.1.2,13.*.1,13.*.2"];

async fn check(faults: Faults, rules: &[Rule], must_fail: &[&str]) {
    common::check_fault(faults, PATTERNS, rules, must_fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformant_server_passes_every_compression_case() {
    let results = common::run_against_server(ServerConfig::default(), PATTERNS).await;
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.verdict.outcome != Outcome::Passed)
        .map(|r| {
            format!("{}: {:?} {} / {}", r.case.id, r.verdict.outcome, r.verdict.expected, r.verdict.actual)
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let required = results.iter().filter(|r| r.case.pmd == wsprobe_conform::catalog::PmdUse::Required);
    assert!(required.clone().count() > 20 && required.clone().all(|r| r.observed.pmd.is_some()));
    // Invalid offers are declined, not accepted.
    for id in ["P.1.2", "P.1.3", "P.1.4", "P.1.5"] {
        assert!(results.iter().any(|r| r.case.id == id && r.observed.pmd.is_none()), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_invalid_offers() {
    let f = Faults { pmd_accept_invalid: true, ..Default::default() };
    check(f, &[Rule::PmdResponseMismatch, Rule::PmdParamInvalid], &["P.1.2", "P.1.3", "P.1.4", "P.1.5"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_with_two_elements() {
    let f = Faults { pmd_two_answers: true, ..Default::default() };
    check(f, &[Rule::PmdResponseMismatch], &["P.1.1", "P.1.6", "12.1.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignores_the_agreed_window() {
    let f = Faults { pmd_ignore_window: true, ..Default::default() };
    check(f, &[Rule::PmdWindowExceeded], &["P.2.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_context_under_no_context_takeover() {
    let f = Faults { pmd_ignore_no_context: true, ..Default::default() };
    check(f, &[Rule::PmdContextTakeover], &["P.2.2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_rsv1_on_continuations() {
    let f = Faults { pmd_rsv1_continuation: true, ..Default::default() };
    check(f, &[Rule::PmdRsv1Continuation], &["P.2.3"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_rsv1_on_control_frames() {
    let f = Faults { pmd_rsv1_control: true, ..Default::default() };
    check(f, &[Rule::PmdRsv1Control], &["P.2.4"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_data_that_does_not_inflate() {
    // No rule is broken on the wire: the server just does not fail the connection.
    let f = Faults { pmd_ignore_inflate_errors: true, ..Default::default() };
    check(f, &[], &["P.2.5"]).await;
}
