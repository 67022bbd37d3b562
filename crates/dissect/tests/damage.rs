//! Capture damage: the 50-message echo session of `captures/damage-clean.pcap`,
//! reordered, duplicated, answered before its request, IP-fragmented and cut by a
//! short snapshot length, must give the clean capture's messages (for the snaplen
//! capture: their directions, opcodes and lengths, payloads marked missing). The
//! property test permutes the segments of the session within random windows.

#[path = "../examples/make-captures/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use fixtures::damage;
use proptest::prelude::*;
use wsprobe_dissect::{Dir, Dissection, HandshakeState, Options, PayloadMode, Record, dissect_bytes};

fn opts() -> Options {
    Options { frames: true, payload: PayloadMode::Full, ..Options::default() }
}

/// What must survive damage: per message direction, opcode, length, a digest of the
/// payload (FNV-1a of its base64, to keep failure output short) and completeness.
type Msg = (Dir, String, u64, Option<u64>, bool);

fn digest(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn messages(d: &Dissection) -> Vec<Msg> {
    d.messages()
        .map(|m| (m.dir, m.opcode.to_string(), m.len, m.payload_b64.as_deref().map(digest), m.incomplete))
        .collect()
}

/// Frames without packet numbers and times.
fn frames(d: &Dissection) -> Vec<(Dir, u64, bool, u8, u64, u64)> {
    d.frames().map(|f| (f.dir, f.offset, f.fin, f.opcode, f.payload_len, f.missing)).collect()
}

fn violations(d: &Dissection) -> Vec<(String, Dir, u64)> {
    d.violations().map(|v| (v.rule.clone(), v.dir, v.offset)).collect()
}

fn gaps(d: &Dissection) -> usize {
    d.records.iter().filter(|r| matches!(r, Record::Event(e) if e.kind == "gap")).count()
}

fn capture(name: &str) -> Vec<u8> {
    damage::all().into_iter().find(|(n, _, _)| *n == name).map(|(_, _, b)| b).expect("capture")
}

fn clean() -> Dissection {
    dissect_bytes(&capture("damage-clean.pcap"), &opts())
}

#[test]
fn clean_session_has_fifty_messages_and_two_closes() {
    let d = clean();
    assert!(d.error.is_none(), "{:?}", d.error);
    let sessions: Vec<_> = d.sessions().collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].handshake, HandshakeState::Seen);
    let m = messages(&d);
    let data = m.iter().filter(|m| m.1 == "text" || m.1 == "binary").count();
    assert_eq!(data, 2 * damage::ROUNDS);
    assert_eq!(m.iter().filter(|m| m.1 == "close").count(), 2);
    assert!(m.iter().all(|m| !m.4 && m.3.is_some()), "complete messages with payloads");
    assert_eq!(violations(&d), vec![]);
    assert_eq!(gaps(&d), 0);
}

/// The damaged capture decodes exactly as the clean one.
fn same_as_clean(name: &str) {
    let want = clean();
    let got = dissect_bytes(&capture(name), &opts());
    assert!(got.error.is_none(), "{name}: {:?}", got.error);
    let sessions: Vec<_> = got.sessions().collect();
    assert_eq!(sessions.len(), 1, "{name}: sessions");
    assert_eq!(sessions[0].handshake, HandshakeState::Seen, "{name}: handshake");
    let (g, w) = (messages(&got), messages(&want));
    if let Some(i) = (0..g.len().max(w.len())).find(|&i| g.get(i) != w.get(i)) {
        panic!("{name}: message {i} differs: {:?} != {:?}\n{}", g.get(i), w.get(i), got.transcript());
    }
    assert_eq!(frames(&got), frames(&want), "{name}: frames");
    assert_eq!(violations(&got), vec![], "{name}: violations");
    assert_eq!(gaps(&got), 0, "{name}: gaps");
}

#[test]
fn reordered_and_duplicated_segments() {
    same_as_clean("damage-reordered.pcap");
}

#[test]
fn response_captured_before_its_request() {
    same_as_clean("damage-response-first.pcap");
}

#[test]
fn ipv4_fragments_in_any_order() {
    same_as_clean("damage-ipv4-fragments.pcap");
}

#[test]
fn ipv6_fragments_in_any_order() {
    let want = dissect_bytes(&damage::echo_session(true).pcap(wsprobe_flow::LinkType::ETHERNET), &opts());
    let got = dissect_bytes(&capture("damage-ipv6-fragments.pcap"), &opts());
    assert_eq!(messages(&want).len(), 2 * damage::ROUNDS + 2);
    assert_eq!(messages(&got), messages(&want));
    assert_eq!(frames(&got), frames(&want));
    assert_eq!(violations(&got), vec![]);
    assert_eq!(gaps(&got), 0);
}

#[test]
fn snaplen_128_finds_every_message_without_payloads() {
    let want = clean();
    let got = dissect_bytes(&capture("damage-snaplen-128.pcap"), &opts());
    assert!(got.error.is_none(), "{:?}", got.error);
    let sessions: Vec<_> = got.sessions().collect();
    assert_eq!(sessions.len(), 1);
    let shape = |d: &Dissection| d.messages().map(|m| (m.dir, m.opcode.clone(), m.len)).collect::<Vec<_>>();
    assert_eq!(shape(&got), shape(&want));
    // A payload is only shown where every byte of it was captured.
    for (m, w) in got.messages().zip(want.messages()) {
        if let Some(p) = &m.payload_b64 {
            assert!(!m.incomplete, "message at {} shows a payload it lacks", m.offset);
            assert_eq!(Some(p), w.payload_b64.as_ref());
        }
    }
    assert!(got.messages().any(|m| m.incomplete), "cut payloads are marked");
    assert!(
        got.warnings().any(|w| w.message.contains("128")),
        "a warning names the snapshot length: {:?}",
        got.warnings().collect::<Vec<_>>()
    );
    assert_eq!(violations(&got), vec![]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn any_reordering_within_a_window_gives_the_clean_result(
        seed in any::<u64>(),
        window in 1u64..10,
        dups in 0u64..30,
        everything in any::<bool>(),
    ) {
        let clean_pk = damage::echo_session(false);
        let want = dissect_bytes(&clean_pk.pcap(wsprobe_flow::LinkType::ETHERNET), &opts());
        let damaged = damage::reorder(&clean_pk, window, dups, seed, everything);
        let got = dissect_bytes(&damaged.pcap(wsprobe_flow::LinkType::ETHERNET), &opts());
        prop_assert_eq!(messages(&got), messages(&want));
        prop_assert_eq!(frames(&got), frames(&want));
        prop_assert_eq!(violations(&got), violations(&want));
        prop_assert_eq!(gaps(&got), 0);
    }
}
