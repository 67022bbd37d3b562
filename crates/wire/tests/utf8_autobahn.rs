//! Autobahn|Testsuite category 6 (UTF-8 handling): every payload, its verdict, and the
//! fail-fast point, checked against an independent oracle (std's `from_utf8`).

use wsprobe_wire::utf8::{Utf8Error, Utf8Validator, validate};

fn cases() -> Vec<(String, Vec<u8>, bool)> {
    include_str!("data/autobahn-utf8.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), hex::decode(f[1]).unwrap(), f[2] == "valid")
        })
        .collect()
}

/// Whether `b` could still be the start of valid UTF-8 (valid, or cut inside a sequence).
fn valid_prefix(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

#[test]
fn verdicts_match_autobahn() {
    let all = cases();
    assert!(all.len() > 130, "{} cases", all.len());
    for (id, bytes, valid) in all {
        assert_eq!(validate(&bytes).is_ok(), valid, "case {id}");
    }
}

#[test]
fn fail_fast_point_is_the_first_impossible_byte() {
    for (id, bytes, valid) in cases() {
        let Err(Utf8Error { at }) = validate(&bytes) else {
            assert!(valid, "case {id}");
            continue;
        };
        let at = at as usize;
        assert!(valid_prefix(&bytes[..at.min(bytes.len())]), "case {id}: prefix before {at} is valid");
        if at < bytes.len() {
            assert!(!valid_prefix(&bytes[..=at]), "case {id}: byte {at} makes it invalid");
        } else {
            assert!(std::str::from_utf8(&bytes).is_err(), "case {id}: truncated");
        }
    }
}

#[test]
fn byte_by_byte_feeding_fails_at_the_same_byte() {
    for (id, bytes, _) in cases() {
        let whole = validate(&bytes);
        let mut v = Utf8Validator::new();
        let mut r = Ok(());
        for b in &bytes {
            r = v.feed(std::slice::from_ref(b));
            if r.is_err() {
                break;
            }
        }
        let r = r.and_then(|_| v.finish());
        assert_eq!(r, whole, "case {id}");
    }
}

#[test]
fn section_6_4_fails_before_the_message_ends() {
    // 6.4.x: the text becomes invalid at byte 12 (F4 90), long before its end.
    for (id, bytes, _) in cases().into_iter().filter(|c| c.0.starts_with("6.4.")) {
        let mut v = Utf8Validator::new();
        assert!(v.feed(&bytes[..12]).is_ok(), "case {id}");
        assert_eq!(v.feed(&bytes[12..13]), Err(Utf8Error { at: 12 }), "case {id}");
    }
}
