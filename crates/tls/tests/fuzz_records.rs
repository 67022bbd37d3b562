//! The `tls_records` fuzz target on stable: committed seeds, and random inputs.

use proptest::prelude::*;

#[test]
fn committed_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/tls_records");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let seed = std::fs::read(e.expect("entry").path()).expect("seed");
        for cut in 0..=seed.len() {
            wsprobe_tls::testing::fuzz_records(&seed[..cut]);
        }
        n += 1;
    }
    assert!(n >= 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_records(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        wsprobe_tls::testing::fuzz_records(&data);
    }

    /// Valid records with one byte changed: never plaintext from a damaged record.
    #[test]
    fn damaged_records_never_decrypt(flip in 0usize..400, size in 1u8..200) {
        let s = wsprobe_tls::testing::tls13_session([7; 32], b"hello from the client", b"and from the server", 10);
        let mut stream = s.client.clone();
        // Past the client's Finished record: in the records that carry the data.
        let finished = 5 + usize::from(u16::from_be_bytes([stream[3], stream[4]]));
        let at = finished + flip % (stream.len() - finished);
        stream[at] ^= 0x01;
        let keys = wsprobe_tls::KeyLog::parse(s.keylog.as_bytes());
        let mut conn = wsprobe_tls::TlsConn::new();
        let mut out = Vec::new();
        let lookup = |r: &[u8; 32]| keys.get(r).cloned();
        conn.feed(true, &s.client_hello, &lookup, &mut out);
        conn.feed(false, &s.server_hello, &lookup, &mut out);
        for piece in stream.chunks(usize::from(size)) {
            conn.feed(true, piece, &lookup, &mut out);
        }
        let plain: Vec<u8> = out.iter().filter_map(|o| match o {
            wsprobe_tls::Output::Data { data, .. } => Some(data.clone()),
            _ => None,
        }).flatten().collect();
        // Whatever came out is a prefix of the real plaintext, never all of it (a
        // damaged length leaves a record waiting for bytes; anything else is refused
        // with a warning).
        prop_assert!(b"hello from the client".starts_with(&plain), "{:?}", String::from_utf8_lossy(&plain));
        prop_assert!(plain.len() < 21);
    }
}
