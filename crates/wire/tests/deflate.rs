//! permessage-deflate (RFC 7692): negotiation vectors, the §7.2.3 examples
//! byte-exact, round-trip properties, decompression-bomb and corrupt-input guards.

use proptest::prelude::*;
use wsprobe_wire::Role;
use wsprobe_wire::deflate::{
    ClientBits, Deflater, InflateError, Inflater, NAME, PmdConfig, PmdParams, ServerAsk, accept_response,
    answer_offers, answer_offers_asking, format_params, parse_params,
};
use wsprobe_wire::extensions::{ExtParam, Extension};
use wsprobe_wire::rules::Rule;

const MIB: usize = 1 << 20;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// `ext("server_max_window_bits=10; client_max_window_bits")`.
fn ext(params: &str) -> Extension {
    let params = params
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => ExtParam { name: n.into(), value: Some(v.into()) },
            None => ExtParam { name: p.into(), value: None },
        })
        .collect();
    Extension { name: NAME.into(), params }
}

fn inflate_one(inf: &mut Inflater, payload: &[u8]) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    // After a failed push the message still ends with finish_message (which
    // reports the same error and prepares the next message).
    let pushed = inf.push(payload, &mut out);
    let n = inf.finish_message(&mut out);
    assert!(pushed.is_ok() || n == pushed.clone().map(|()| 0));
    let n = n?;
    assert_eq!(n, out.len() as u64);
    Ok(out)
}

fn rules_of(errs: &[(Rule, String)]) -> Vec<Rule> {
    errs.iter().map(|(r, _)| *r).collect()
}

// ---- RFC 7692 §7.2.3 examples ----

#[test]
fn rfc_7_2_3_1_hello_one_block() {
    let payload = Deflater::new(15, false).compress_message(b"Hello");
    assert_eq!(payload, h("f2 48 cd c9 c9 07 00"));
    assert_eq!(inflate_one(&mut Inflater::new(15, false, MIB), &payload).unwrap(), b"Hello");
}

#[test]
fn rfc_7_2_3_1_fragmented_through_push() {
    // The 3- and 4-octet fragments of the example, then every single octet.
    let mut inf = Inflater::new(15, false, MIB);
    let mut out = Vec::new();
    inf.push(&h("f2 48 cd"), &mut out).unwrap();
    inf.push(&h("c9 c9 07 00"), &mut out).unwrap();
    assert_eq!(inf.finish_message(&mut out).unwrap(), 5);
    assert_eq!(out, b"Hello");

    let mut inf = Inflater::new(15, true, MIB);
    let mut out = Vec::new();
    for b in h("f2 48 cd c9 c9 07 00") {
        inf.push(&[b], &mut out).unwrap();
    }
    inf.push(&[], &mut out).unwrap();
    inf.finish_message(&mut out).unwrap();
    assert_eq!(out, b"Hello");
}

#[test]
fn rfc_7_2_3_2_sharing_the_window() {
    let mut d = Deflater::new(15, false);
    assert_eq!(d.compress_message(b"Hello"), h("f2 48 cd c9 c9 07 00"));
    assert_eq!(d.compress_message(b"Hello"), h("f2 00 11 00 00"));

    let mut d = Deflater::new(15, true);
    assert_eq!(d.compress_message(b"Hello"), h("f2 48 cd c9 c9 07 00"));
    assert_eq!(d.compress_message(b"Hello"), h("f2 48 cd c9 c9 07 00"));

    // Context takeover: the second payload refers to the first message.
    let mut inf = Inflater::new(15, false, MIB);
    assert_eq!(inflate_one(&mut inf, &h("f2 48 cd c9 c9 07 00")).unwrap(), b"Hello");
    assert_eq!(inflate_one(&mut inf, &h("f2 00 11 00 00")).unwrap(), b"Hello");

    // no_context_takeover: the window is emptied, so the back reference is invalid.
    let mut inf = Inflater::new(15, true, MIB);
    assert_eq!(inflate_one(&mut inf, &h("f2 48 cd c9 c9 07 00")).unwrap(), b"Hello");
    assert!(matches!(inflate_one(&mut inf, &h("f2 00 11 00 00")), Err(InflateError::Corrupt(_))));
}

#[test]
fn rfc_7_2_3_3_stored_block() {
    let mut inf = Inflater::new(15, false, MIB);
    assert_eq!(inflate_one(&mut inf, &h("00 05 00 fa ff 48 65 6c 6c 6f 00")).unwrap(), b"Hello");
}

#[test]
fn rfc_7_2_3_4_bfinal_block_keeps_the_window() {
    let mut inf = Inflater::new(15, false, MIB);
    assert_eq!(inflate_one(&mut inf, &h("f3 48 cd c9 c9 07 00 00")).unwrap(), b"Hello");
    // The window survives the BFINAL block: the next message may refer to it.
    assert_eq!(inflate_one(&mut inf, &h("f2 00 11 00 00")).unwrap(), b"Hello");
    // Also without the trailing empty-block header, and split inside the block.
    let mut inf = Inflater::new(15, false, MIB);
    let mut out = Vec::new();
    inf.push(&h("f3 48 cd c9"), &mut out).unwrap();
    inf.push(&h("c9 07 00"), &mut out).unwrap();
    inf.finish_message(&mut out).unwrap();
    assert_eq!(out, b"Hello");
    assert_eq!(inflate_one(&mut inf, &h("f2 00 11 00 00")).unwrap(), b"Hello");
}

#[test]
fn rfc_7_2_3_5_two_blocks() {
    let mut inf = Inflater::new(15, false, MIB);
    let payload = h("f2 48 05 00 00 00 ff ff ca c9 c9 07 00");
    assert_eq!(inflate_one(&mut inf, &payload).unwrap(), b"Hello");
}

#[test]
fn rfc_7_2_3_6_empty_message() {
    let mut inf = Inflater::new(15, false, MIB);
    assert_eq!(inflate_one(&mut inf, &[0x00]).unwrap(), b"");
    // Our compressor produces that octet, even for repeated empty messages.
    let mut d = Deflater::new(15, false);
    for _ in 0..3 {
        let p = d.compress_message(b"");
        assert_eq!(p, [0x00]);
        assert_eq!(inflate_one(&mut inf, &p).unwrap(), b"");
    }
}

// ---- Negotiation, §7.1 ----

#[test]
fn parses_every_parameter() {
    let p = parse_params(&ext(
        "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    ))
    .unwrap();
    assert_eq!(
        p,
        PmdParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(10),
            client_max_window_bits: Some(ClientBits::Bits(12)),
        }
    );
    assert_eq!(parse_params(&ext("")).unwrap(), PmdParams::default());
    assert_eq!(
        parse_params(&ext("client_max_window_bits")).unwrap().client_max_window_bits,
        Some(ClientBits::NoValue)
    );
    assert_eq!(parse_params(&format_params(&p)).unwrap(), p);
}

#[test]
fn window_bits_values() {
    for (v, ok) in [
        ("8", true),
        ("9", true),
        ("15", true),
        ("7", false),
        ("16", false),
        ("0", false),
        ("010", false),
        ("08", false),
        ("", false),
        ("+9", false),
        ("9a", false),
        (" 9", false),
        ("300", false),
        ("99999999999999999999", false),
    ] {
        for name in ["server_max_window_bits", "client_max_window_bits"] {
            let r = parse_params(&ext(&format!("{name}={v}")));
            assert_eq!(r.is_ok(), ok, "{name}={v:?}: {r:?}");
            if let Err(e) = r {
                assert_eq!(rules_of(&e), [Rule::PmdParamInvalid]);
            }
        }
    }
}

#[test]
fn invalid_elements_list_every_problem() {
    for bad in [
        "server_no_context_takeover; server_no_context_takeover",
        "client_max_window_bits; client_max_window_bits=10",
        "server_max_window_bits=10; server_max_window_bits=10",
        "mystery",
        "server_no_context_takeover=1",
        "client_no_context_takeover=",
        "server_max_window_bits",
        "Server_No_Context_Takeover",
    ] {
        let e = parse_params(&ext(bad)).unwrap_err();
        assert_eq!(rules_of(&e), [Rule::PmdParamInvalid], "{bad}: {e:?}");
    }
    let e = parse_params(&ext(
        "x; y=1; server_max_window_bits=7; client_no_context_takeover; client_no_context_takeover",
    ))
    .unwrap_err();
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[3].1.contains("more than once"), "{e:?}");
}

#[test]
fn value_less_client_bits_legal_in_offer_only() {
    let offer = ext("client_max_window_bits");
    // The reference server accepts the offer ...
    let (answer, cfg) = answer_offers(std::slice::from_ref(&offer)).unwrap();
    assert_eq!(cfg, PmdConfig::default());
    assert_eq!(accept_response(std::slice::from_ref(&offer), &answer), Ok(cfg));
    // ... but a response may not carry the parameter without a value.
    let e = accept_response(&[offer], &ext("client_max_window_bits")).unwrap_err();
    assert_eq!(rules_of(&e), [Rule::PmdParamInvalid]);
}

#[test]
fn response_vectors() {
    let mismatch = |offers: &[&str], resp: &str| {
        let offers: Vec<_> = offers.iter().map(|o| ext(o)).collect();
        let e = accept_response(&offers, &ext(resp)).unwrap_err();
        assert_eq!(rules_of(&e), [Rule::PmdResponseMismatch], "{offers:?} / {resp}: {e:?}");
    };
    // client_max_window_bits answered although not offered (§7.1.2.2, §7.1.3).
    mismatch(&[""], "client_max_window_bits=15");
    // server_max_window_bits larger than requested, or dropped (§7.1.2.1).
    mismatch(&["server_max_window_bits=10"], "server_max_window_bits=11");
    mismatch(&["server_max_window_bits=10"], "");
    // server_no_context_takeover must be echoed (§7.1.1.1).
    mismatch(&["server_no_context_takeover"], "");
    // No offer at all, or only an invalid one.
    mismatch(&[], "");
    mismatch(&["bogus"], "");
    // Every offer is tried.
    mismatch(&["server_max_window_bits=9", "server_no_context_takeover"], "server_max_window_bits=10");

    let ok = |offers: &[&str], resp: &str| {
        let offers: Vec<_> = offers.iter().map(|o| ext(o)).collect();
        accept_response(&offers, &ext(resp)).unwrap()
    };
    // §7.1.3: the fallback offer list, accepted both ways.
    let offers = ["client_max_window_bits; server_max_window_bits=10", "client_max_window_bits"];
    assert_eq!(ok(&offers, "server_max_window_bits=10").server_max_window_bits, 10);
    assert_eq!(ok(&offers, ""), PmdConfig::default());
    // The server may add server_* parameters and client_no_context_takeover freely.
    let c = ok(&[""], "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8");
    assert_eq!(
        c,
        PmdConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 8,
            client_max_window_bits: 15,
        }
    );
    assert_eq!(c.for_sender(Role::Server), (8, true));
    assert_eq!(c.for_sender(Role::Client), (15, true));
    // A smaller server window than offered, and a client window equal/smaller.
    assert_eq!(ok(&["server_max_window_bits=12"], "server_max_window_bits=9").server_max_window_bits, 9);
    let c = ok(&["client_max_window_bits=10"], "client_max_window_bits=9");
    assert_eq!(c.for_sender(Role::Client), (9, false));
    // A client value larger than the offered hint is still a legal agreement
    // (§7.2.1: the hint does not bind; the client compresses within the agreed value).
    assert_eq!(ok(&["client_max_window_bits=10"], "client_max_window_bits=12").client_max_window_bits, 12);

    // Names match ASCII case-insensitively, like the session's matching.
    let upper = Extension { name: NAME.to_uppercase(), params: vec![] };
    assert_eq!(accept_response(std::slice::from_ref(&upper), &upper), Ok(PmdConfig::default()));
    assert!(answer_offers(&[upper]).is_some());
    // A response naming another extension, and an invalid response.
    let e = accept_response(&[ext("")], &Extension { name: "x-webkit-deflate-frame".into(), params: vec![] });
    assert_eq!(rules_of(&e.unwrap_err()), [Rule::PmdResponseMismatch]);
    let e = accept_response(&[ext("")], &ext("server_max_window_bits=7; foo")).unwrap_err();
    assert_eq!(rules_of(&e), [Rule::PmdParamInvalid, Rule::PmdParamInvalid]);
}

#[test]
fn reference_server_answers() {
    // Invalid offers are declined; the first valid one is answered.
    assert_eq!(answer_offers(&[ext("server_max_window_bits=7"), ext("foo")]), None);
    assert_eq!(answer_offers(&[]), None);
    let offers = [
        ext("server_max_window_bits=16"),
        ext(
            "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9",
        ),
    ];
    let (answer, cfg) = answer_offers(&offers).unwrap();
    assert_eq!(answer, format_params(&parse_params(&offers[1]).unwrap()));
    assert_eq!(cfg.for_sender(Role::Server), (8, true));
    assert_eq!(cfg.for_sender(Role::Client), (9, true));
    assert_eq!(accept_response(&offers, &answer), Ok(cfg));
}

#[test]
fn a_server_asks_for_what_the_offer_allows() {
    let ask = |t: &str| ServerAsk::parse(t).unwrap();
    let both = ask("client_no_context_takeover; client_max_window_bits=9");
    assert_eq!(both, ServerAsk { client_no_context_takeover: true, client_max_window_bits: Some(9) });
    assert!(ServerAsk::parse("client_max_window_bits=16").is_err());
    assert!(ServerAsk::parse("server_no_context_takeover").is_err());
    // client_no_context_takeover may always be asked (§7.1.1.2); window bits only of an
    // offer with client_max_window_bits, and no more than its value (§7.1.2.2).
    let bare = [ext("")];
    let (answer, cfg) = answer_offers_asking(&bare, ask("client_no_context_takeover")).unwrap();
    assert_eq!(answer, ext("client_no_context_takeover"));
    assert_eq!(cfg.for_sender(Role::Client), (15, true));
    assert_eq!(accept_response(&bare, &answer), Ok(cfg));
    assert_eq!(answer_offers_asking(&bare, both), None);
    let bits = [ext("client_max_window_bits")];
    let (answer, cfg) = answer_offers_asking(&bits, both).unwrap();
    assert_eq!(cfg.for_sender(Role::Client), (9, true));
    assert_eq!(accept_response(&bits, &answer), Ok(cfg));
    assert_eq!(answer_offers_asking(&[ext("client_max_window_bits=8")], both), None);
    // The first offer that allows it is answered.
    let offers = [ext(""), ext("client_max_window_bits=12")];
    let (answer, _) = answer_offers_asking(&offers, both).unwrap();
    assert_eq!(answer, ext("client_no_context_takeover; client_max_window_bits=9"));
    assert_eq!(answer_offers_asking(&offers, ServerAsk::default()), answer_offers(&offers));
}

// ---- Window bits 8 ----

#[test]
fn window_8_compresses_within_256_bytes() {
    // Text with repeats at many distances, some within 256 bytes, most beyond.
    let mut msg = Vec::new();
    for i in 0u32..4000 {
        msg.extend_from_slice(format!("w{} {} ", i % 97, i % 13).as_bytes());
    }
    for nct in [false, true] {
        let mut d = Deflater::new(8, nct);
        let mut inf = Inflater::new(8, nct, MIB);
        let mut stream = Vec::new();
        for _ in 0..3 {
            let p = d.compress_message(&msg);
            assert!(p.len() < msg.len() / 2, "window 8 still compresses");
            assert_eq!(inflate_one(&mut inf, &p).unwrap(), msg);
            stream.extend_from_slice(&p);
            stream.extend_from_slice(&[0, 0, 0xff, 0xff]);
        }
        let max = deflate_scan::max_distance(&stream);
        assert!(max <= 256, "distance {max} exceeds a 2^8 window");
        assert!(max > 200, "test data should use most of the window ({max})");
    }
    // A 2^15 window does use long distances on the same data (the scanner works).
    let p = Deflater::new(15, false).compress_message(&msg);
    let mut s = p.clone();
    s.extend_from_slice(&[0, 0, 0xff, 0xff]);
    assert!(deflate_scan::max_distance(&s) > 256);
}

// ---- Limits and corrupt input ----

#[test]
fn decompression_bomb_stops_at_the_limit() {
    let zeros = vec![0u8; 10 * 1000 * 1000];
    let bomb = Deflater::new(15, false).compress_message(&zeros);
    assert!(bomb.len() < 20_000);
    drop(zeros);

    let mut inf = Inflater::new(15, false, MIB);
    let (mut total, mut biggest, mut calls) = (0usize, 0usize, 0usize);
    let mut sink = |b: &[u8]| {
        total += b.len();
        biggest = biggest.max(b.len());
        calls += 1;
        assert!(b.iter().all(|&x| x == 0));
    };
    let r = inf.push_with(&bomb, &mut sink);
    assert_eq!(r, Err(InflateError::Limit { limit: MIB }));
    // Further input of the same message is refused without work.
    assert_eq!(inf.push_with(&bomb, &mut sink), Err(InflateError::Limit { limit: MIB }));
    assert_eq!(inf.finish_message_with(&mut sink), Err(InflateError::Limit { limit: MIB }));
    assert_eq!(total, MIB, "exactly the limit is delivered");
    assert!(biggest <= 32 * 1024, "output comes in bounded steps ({biggest})");
    assert!(calls >= MIB / (32 * 1024));

    // The Vec variant holds exactly the limit.
    let mut inf = Inflater::new(15, true, MIB);
    let mut out = Vec::new();
    assert_eq!(inf.push(&bomb, &mut out), Err(InflateError::Limit { limit: MIB }));
    assert_eq!(out.len(), MIB);
    // And the inflater is usable for the next message.
    assert_eq!(inf.finish_message(&mut out), Err(InflateError::Limit { limit: MIB }));
    assert_eq!(inflate_one(&mut inf, &h("f2 48 cd c9 c9 07 00")).unwrap(), b"Hello");
}

#[test]
fn limit_boundary_is_inclusive() {
    let msg = vec![7u8; 100_000];
    let p = Deflater::new(15, true).compress_message(&msg);
    let mut inf = Inflater::new(15, true, 100_000);
    assert_eq!(inflate_one(&mut inf, &p).unwrap(), msg);
    let mut inf = Inflater::new(15, true, 99_999);
    let mut out = Vec::new();
    let r = inf.push(&p, &mut out).and_then(|()| inf.finish_message(&mut out).map(drop));
    assert_eq!(r, Err(InflateError::Limit { limit: 99_999 }));
    assert_eq!(out.len(), 99_999);
    // Also when the limit is only passed by the bytes the tail flushes out.
    let mut inf = Inflater::new(15, true, 4);
    let mut out = Vec::new();
    let r =
        inf.push(&h("f2 48 cd c9 c9 07 00"), &mut out).and_then(|()| inf.finish_message(&mut out).map(drop));
    assert_eq!(r, Err(InflateError::Limit { limit: 4 }));
    assert_eq!(out, b"Hell");
    let mut inf = Inflater::new(15, true, 0);
    assert_eq!(inflate_one(&mut inf, &[0x00]).unwrap(), b"");
}

#[test]
fn corrupt_input_is_an_error_and_reset_recovers() {
    let mut inf = Inflater::new(15, false, MIB);
    // BTYPE 11 is reserved (RFC 1951 §3.2.3).
    let e = inflate_one(&mut inf, &[0xff, 0xff, 0xff]).unwrap_err();
    assert!(matches!(e, InflateError::Corrupt(_)), "{e:?}");
    // A stored block whose NLEN is not the complement of LEN.
    let e = inflate_one(&mut inf, &h("00 05 00 00 00 48 65 6c 6c 6f")).unwrap_err();
    assert!(matches!(e, InflateError::Corrupt(_)), "{e:?}");
    // After an error the next message starts fresh.
    assert_eq!(inflate_one(&mut inf, &h("f2 48 cd c9 c9 07 00")).unwrap(), b"Hello");

    // reset() abandons a half-fed message.
    let mut out = Vec::new();
    inf.push(&h("f2 00"), &mut out).unwrap();
    inf.reset();
    out.clear();
    assert_eq!(inflate_one(&mut inf, &h("00 05 00 fa ff 48 65 6c 6c 6f 00")).unwrap(), b"Hello");
    // With context takeover a message that needs the lost history fails.
    inf.reset();
    assert!(matches!(inflate_one(&mut inf, &h("f2 00 11 00 00")), Err(InflateError::Corrupt(_))));
}

// ---- Properties ----

fn chop(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for p in points.into_iter().chain([data.len()]) {
        pieces.push(data[at..p].to_vec());
        at = p;
    }
    pieces
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2000),
        // Compressible: few distinct bytes, long runs.
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b' ')], 0..5000),
        (any::<u8>(), 0usize..70_000).prop_map(|(b, n)| vec![b; n]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip(
        bits in 8u8..=15,
        nct in any::<bool>(),
        msgs in proptest::collection::vec((message(), proptest::collection::vec(any::<usize>(), 0..6)), 1..6),
    ) {
        let mut d = Deflater::new(bits, nct);
        let mut inf = Inflater::new(bits, nct, 1 << 17);
        for (msg, cuts) in &msgs {
            let payload = d.compress_message(msg);
            let mut out = Vec::new();
            for piece in chop(&payload, cuts) {
                inf.push(&piece, &mut out).unwrap();
            }
            prop_assert_eq!(inf.finish_message(&mut out).unwrap(), msg.len() as u64);
            prop_assert_eq!(&out, msg);
        }
    }

    #[test]
    fn arbitrary_input_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..4),
        limit in 0usize..4096,
    ) {
        let mut inf = Inflater::new(15, false, limit);
        let mut out = Vec::new();
        let mut r = Ok(());
        for piece in chop(&data, &cuts) {
            r = r.and(inf.push(&piece, &mut out));
        }
        let r = r.and_then(|()| inf.finish_message(&mut out).map(drop));
        prop_assert!(out.len() <= limit);
        if let Err(InflateError::Limit { limit: l }) = r {
            prop_assert_eq!(l, limit);
            prop_assert_eq!(out.len(), limit);
        }
        // The inflater still works afterwards (fresh window after an error).
        inf.reset();
        let mut out = Vec::new();
        inf.push(&[0x00], &mut out).unwrap();
        prop_assert_eq!(inf.finish_message(&mut out), Ok(0));
    }

    #[test]
    fn answers_are_accepted(
        snct in any::<bool>(), cnct in any::<bool>(),
        smwb in proptest::option::of(8u8..=15),
        cmwb in proptest::option::of(proptest::option::of(8u8..=15)),
    ) {
        let offer = format_params(&PmdParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: smwb,
            client_max_window_bits: cmwb.map(|b| b.map_or(ClientBits::NoValue, ClientBits::Bits)),
        });
        let offers = [offer];
        let (answer, cfg) = answer_offers(&offers).unwrap();
        prop_assert_eq!(accept_response(&offers, &answer), Ok(cfg));
        prop_assert_eq!(cfg.server_no_context_takeover, snct);
        prop_assert_eq!(cfg.server_max_window_bits, smwb.unwrap_or(15));
    }
}

/// A minimal DEFLATE reader (RFC 1951) that only reports the largest match
/// distance used, to check the window a compressor really used.
mod deflate_scan {
    struct Bits<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl Bits<'_> {
        fn bit(&mut self) -> u32 {
            let b = (self.data[self.pos / 8] >> (self.pos % 8)) & 1;
            self.pos += 1;
            u32::from(b)
        }
        fn bits(&mut self, n: u32) -> u32 {
            (0..n).fold(0, |acc, i| acc | (self.bit() << i))
        }
        fn align(&mut self) {
            self.pos = self.pos.div_ceil(8) * 8;
        }
        fn done(&self) -> bool {
            self.pos >= self.data.len() * 8
        }
    }

    /// Canonical Huffman decoder: (code length counts, symbols by code).
    struct Huff {
        counts: Vec<u32>,
        symbols: Vec<u32>,
    }

    impl Huff {
        fn new(lengths: &[u32]) -> Huff {
            let mut counts = vec![0u32; 16];
            for &l in lengths {
                counts[l as usize] += 1;
            }
            counts[0] = 0;
            let mut offs = [0u32; 16];
            for l in 1..16 {
                offs[l] = offs[l - 1] + counts[l - 1];
            }
            let mut symbols = vec![0; lengths.len()];
            for (s, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    symbols[offs[l as usize] as usize] = s as u32;
                    offs[l as usize] += 1;
                }
            }
            Huff { counts, symbols }
        }
        fn decode(&self, b: &mut Bits) -> u32 {
            let (mut code, mut first, mut index) = (0i64, 0i64, 0i64);
            for len in 1..16 {
                code |= i64::from(b.bit());
                let count = i64::from(self.counts[len]);
                if code - count < first {
                    return self.symbols[(index + code - first) as usize];
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            panic!("bad code");
        }
    }

    const LEXT: [u32; 29] =
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    const DBASE: [u32; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
        3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DEXT: [u32; 30] =
        [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

    /// Largest distance in a sequence of non-final blocks ending in a stored block.
    pub fn max_distance(data: &[u8]) -> u32 {
        let mut b = Bits { data, pos: 0 };
        let mut max = 0;
        while !b.done() {
            let _bfinal = b.bit();
            match b.bits(2) {
                0 => {
                    b.align();
                    let len = b.bits(16);
                    b.bits(16);
                    b.pos += 8 * len as usize;
                }
                t @ (1 | 2) => {
                    let (lit, dist) = if t == 1 {
                        let mut l = vec![8; 144];
                        l.extend([9; 112]);
                        l.extend([7; 24]);
                        l.extend([8; 8]);
                        (Huff::new(&l), Huff::new(&[5; 30]))
                    } else {
                        dynamic_tables(&mut b)
                    };
                    loop {
                        let sym = lit.decode(&mut b);
                        if sym < 256 {
                            continue;
                        }
                        if sym == 256 {
                            break;
                        }
                        let i = (sym - 257) as usize;
                        b.bits(LEXT[i]);
                        let d = dist.decode(&mut b) as usize;
                        max = max.max(DBASE[d] + b.bits(DEXT[d]));
                    }
                }
                _ => panic!("reserved block type"),
            }
        }
        max
    }

    fn dynamic_tables(b: &mut Bits) -> (Huff, Huff) {
        let hlit = b.bits(5) as usize + 257;
        let hdist = b.bits(5) as usize + 1;
        let hclen = b.bits(4) as usize + 4;
        const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
        let mut cl = [0u32; 19];
        for &o in &ORDER[..hclen] {
            cl[o] = b.bits(3);
        }
        let clh = Huff::new(&cl);
        let mut lengths = Vec::new();
        while lengths.len() < hlit + hdist {
            match clh.decode(b) {
                s @ 0..=15 => lengths.push(s),
                16 => {
                    let prev = *lengths.last().unwrap();
                    let n = 3 + b.bits(2);
                    lengths.extend((0..n).map(|_| prev));
                }
                17 => {
                    let n = 3 + b.bits(3);
                    lengths.extend((0..n).map(|_| 0));
                }
                _ => {
                    let n = 11 + b.bits(7);
                    lengths.extend((0..n).map(|_| 0));
                }
            }
        }
        (Huff::new(&lengths[..hlit]), Huff::new(&lengths[hlit..]))
    }
}

/// An empty payload with RSV1 is not a compressed message (found by review: it left
/// the inflater inside a stored block and the next, valid message was blamed).
#[test]
fn empty_compressed_payload_is_reported_and_the_window_survives() {
    let mut d = Deflater::new(15, false);
    let mut inf = Inflater::new(15, false, 1 << 20);
    let first = d.compress_message(b"hello hello hello");
    let second = d.compress_message(b"hello hello hello");
    let mut out = Vec::new();
    inf.push(&first, &mut out).unwrap();
    inf.finish_message(&mut out).unwrap();
    assert_eq!(inf.finish_message(&mut Vec::new()), Err(InflateError::EmptyPayload));
    let mut out2 = Vec::new();
    inf.push(&second, &mut out2).unwrap();
    inf.finish_message(&mut out2).unwrap();
    assert_eq!(out2, b"hello hello hello");
}
