//! Deliberately broken reference servers: each fault must fail the cases that cover
//! its rule, and no other rule may be blamed for any failure.

mod common;

use wsprobe_conform::Faults;
use wsprobe_wire::Rule;

/// Cases run against every broken server (all categories whose rules a fault can touch).
const PATTERNS: &[&str] =
    &["1.1.1,1.1.8,2.*,5.6,6.3.*,6.4.1,6.6.1,6.6.2,7.1.*,7.3.*,7.7.1,7.9.*,7.13.*,H.*,M.*,S.*"];

async fn check(faults: Faults, rules: &[Rule], must_fail: &[&str]) {
    common::check_fault(faults, PATTERNS, rules, must_fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_unmasked_frames() {
    let f = Faults { accept_unmasked: true, ..Default::default() };
    // Its bytes break no rule (it echoes well-formed frames): the cases fail on the
    // behaviour (it should have failed the connection) and name no rule.
    check(f, &[], &["M.1", "M.2", "M.3", "M.4"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skips_utf8_validation() {
    let f = Faults { skip_utf8: true, ..Default::default() };
    check(f, &[Rule::Utf8TextInvalid], &["6.3.1", "6.3.2", "6.4.1", "6.6.1", "S.4.2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_pings_wrongly() {
    let f = Faults { wrong_pong: true, ..Default::default() };
    check(f, &[Rule::PongPayloadMismatch], &["2.1", "2.2", "2.3", "2.4", "2.10", "5.6", "M.6", "S.6.1"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoes_bad_close_codes() {
    let f = Faults { echo_bad_close_codes: true, ..Default::default() };
    let ids =
        ["7.9.1", "7.9.2", "7.9.3", "7.9.4", "7.9.5", "7.9.6", "7.9.7", "7.9.8", "7.9.9", "7.13.1", "7.13.2"];
    check(f, &[Rule::CloseCodeInvalid], &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_a_wrong_accept() {
    let f = Faults { wrong_accept: true, ..Default::default() };
    check(f, &[Rule::HsResponseAccept], &["1.1.1", "2.1", "H.5.1", "M.5"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_its_frames() {
    let f = Faults { mask_frames: true, ..Default::default() };
    check(f, &[Rule::MaskServerMasked], &["1.1.1", "M.5", "M.6", "7.7.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_tcp_open_after_closing() {
    let f = Faults { keep_tcp_open: true, ..Default::default() };
    check(f, &[Rule::CloseServerTcpNotClosed], &["1.1.1", "S.5.1", "7.7.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uses_non_minimal_lengths() {
    let f = Faults { non_minimal_length: true, ..Default::default() };
    check(f, &[Rule::FrameLengthNonMinimal], &["1.1.1", "1.1.8", "S.1.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_rsv_bits() {
    let f = Faults { rsv_bits: true, ..Default::default() };
    check(f, &[Rule::FrameRsvUnnegotiated], &["1.1.1", "S.2.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_data_after_close() {
    let f = Faults { data_after_close: true, ..Default::default() };
    check(f, &[Rule::CloseDataAfterClose], &["S.4.1", "S.4.2", "7.1.1", "7.7.1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_bad_requests() {
    let f = Faults { accept_bad_requests: true, ..Default::default() };
    check(
        f,
        &[Rule::HsBadRequestAccepted, Rule::HsVersionNotSupportedReply],
        &["H.1.1", "H.1.2", "H.1.4", "H.2.1", "H.2.3", "H.3.1", "H.4.1", "H.4.2"],
    )
    .await;
}
