//! The `dissect`, `snaplen`, `wrapped` and `defrag` fuzz targets on stable, with overflow checks
//! on: the committed seeds (whole and cut), the fixture captures with bytes flipped,
//! and random inputs.

use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("fuzz/corpus").join(target);
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.expect("entry").path()).expect("seed"))
        .collect();
    v.sort();
    v
}

#[test]
fn committed_seeds() {
    for (target, f) in [
        ("dissect", wsprobe_dissect::fuzz::dissect as fn(&[u8])),
        ("snaplen", wsprobe_dissect::fuzz::snaplen),
        ("wrapped", wsprobe_dissect::fuzz::wrapped),
        ("defrag", wsprobe_flow::defrag::fuzz_defrag),
    ] {
        let all = seeds(target);
        assert!(all.len() >= 2, "{target}: seeds");
        for s in &all {
            for cut in (0..=s.len()).step_by(s.len() / 64 + 1) {
                f(&s[..cut]);
            }
        }
    }
}

/// Every fixture capture with one byte in every 97 flipped, at several phases.
#[test]
fn fixture_captures_with_flipped_bytes() {
    let mut n = 0;
    for e in std::fs::read_dir(root().join("captures")).expect("captures/") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "pcap") {
            continue;
        }
        let bytes = std::fs::read(&p).expect("capture");
        if bytes.len() > 64 << 10 {
            continue;
        }
        for phase in [24, 61, 90] {
            let mut b = bytes.clone();
            for i in (phase..b.len()).step_by(97) {
                b[i] ^= 0x5a;
            }
            wsprobe_dissect::fuzz::dissect(&b);
        }
        n += 1;
    }
    assert!(n >= 10);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_snaplen_conversations(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        wsprobe_dissect::fuzz::snaplen(&data);
    }

    #[test]
    fn random_wrapped_conversations(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        wsprobe_dissect::fuzz::wrapped(&data);
    }

    #[test]
    fn random_fragment_streams(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
        wsprobe_flow::defrag::fuzz_defrag(&data);
    }
}
