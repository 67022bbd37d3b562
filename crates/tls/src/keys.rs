//! The TLS key schedules that turn logged secrets into record keys, and opening one
//! record: TLS 1.3 (RFC 8446 §7.1 HKDF-Expand-Label, §7.2 key update, §5.2-5.3 record
//! protection and nonces) and TLS 1.2 (RFC 5246 §5 PRF, §6.3 key block; RFC 5288 §3 GCM
//! nonces; RFC 7905 §2 ChaCha20-Poly1305 nonces). The primitives are ring's.

use crate::suite::{Hash, Suite};
use ring::{aead, hkdf, hmac};

/// Output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, context, len) of RFC 8446 §7.1.
pub fn expand_label(hash: Hash, secret: &[u8], label: &str, context: &[u8], len: usize) -> Option<Vec<u8>> {
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    let full = format!("tls13 {label}");
    let out_len = u16::try_from(len).ok()?.to_be_bytes();
    let label_len = [u8::try_from(full.len()).ok()?];
    let context_len = [u8::try_from(context.len()).ok()?];
    let info = [&out_len[..], &label_len, full.as_bytes(), &context_len, context];
    let okm = prk.expand(&info, Len(len)).ok()?;
    let mut out = vec![0; len];
    okm.fill(&mut out).ok()?;
    Some(out)
}

/// The TLS 1.2 PRF of RFC 5246 §5: P_hash(secret, label + seed), `len` bytes.
pub fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.hmac(), secret);
    let label_seed = [label, seed].concat();
    let mut a = hmac::sign(&key, &label_seed);
    let mut out = Vec::with_capacity(len + hash.output_len());
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, a.as_ref());
    }
    out.truncate(len);
    out
}

/// What opening a record gave.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The real content type (TLS 1.3: from the inner plaintext).
    pub content_type: u8,
    /// The plaintext.
    pub data: Vec<u8>,
}

/// The keys of one direction in one epoch, with its record sequence number.
pub struct RecordKey {
    key: aead::LessSafeKey,
    iv: [u8; 12],
    suite: Suite,
    /// Sequence number of the next record.
    pub seq: u64,
    /// TLS 1.3: the traffic secret (for the next key update).
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordKey({}, seq {})", self.suite.name, self.seq)
    }
}

impl RecordKey {
    fn new(suite: Suite, key: &[u8], iv: &[u8], secret: Option<Vec<u8>>) -> Option<RecordKey> {
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(suite.aead.ring(), key).ok()?);
        let mut full = [0u8; 12];
        full.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(RecordKey { key, iv: full, suite, seq: 0, secret })
    }

    /// TLS 1.3 keys from a traffic secret (RFC 8446 §7.3).
    pub fn tls13(suite: Suite, secret: &[u8]) -> Option<RecordKey> {
        let key = expand_label(suite.hash, secret, "key", b"", suite.aead.key_len())?;
        let iv = expand_label(suite.hash, secret, "iv", b"", 12)?;
        RecordKey::new(suite, &key, &iv, Some(secret.to_vec()))
    }

    /// The keys after a KeyUpdate (RFC 8446 §7.2), TLS 1.3 only.
    pub fn updated(&self) -> Option<RecordKey> {
        let next = expand_label(
            self.suite.hash,
            self.secret.as_ref()?,
            "traffic upd",
            b"",
            self.suite.hash.output_len(),
        )?;
        RecordKey::tls13(self.suite, &next)
    }

    /// Both directions' TLS 1.2 keys (client's, server's) from the master secret.
    pub fn tls12(
        suite: Suite,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> Option<(RecordKey, RecordKey)> {
        let (k, iv) = (suite.aead.key_len(), suite.aead.tls12_fixed_iv_len());
        let seed = [&server_random[..], &client_random[..]].concat();
        let block = prf(suite.hash, master, b"key expansion", &seed, 2 * k + 2 * iv);
        let (ck, rest) = block.split_at(k);
        let (sk, rest) = rest.split_at(k);
        let (civ, siv) = rest.split_at(iv);
        Some((RecordKey::new(suite, ck, civ, None)?, RecordKey::new(suite, sk, siv, None)?))
    }

    /// The per-record nonce: the IV XOR the sequence number (TLS 1.3, ChaCha20 in 1.2),
    /// or the 4-byte salt and the record's explicit part (AES-GCM in 1.2).
    fn nonce(&self, explicit: &[u8]) -> aead::Nonce {
        let mut n = self.iv;
        if explicit.is_empty() {
            for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *b ^= s;
            }
        } else {
            n[4..].copy_from_slice(explicit);
        }
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Opens the record with header `header` (5 bytes) and `payload`; on success the
    /// sequence number moves on. `None`: it does not authenticate with these keys.
    pub fn open(&mut self, header: [u8; 5], payload: &[u8]) -> Option<Opened> {
        let tag = self.suite.aead.ring().tag_len();
        let opened = if self.suite.tls13 {
            let mut buf = payload.to_vec();
            let plain = self.key.open_in_place(self.nonce(&[]), aead::Aad::from(header), &mut buf).ok()?;
            let end = plain.iter().rposition(|&b| b != 0)?;
            let content_type = plain[end];
            let mut data = buf;
            data.truncate(end);
            Opened { content_type, data }
        } else {
            let explicit_len = self.suite.aead.tls12_explicit_len();
            if payload.len() < explicit_len + tag {
                return None;
            }
            let (explicit, sealed) = payload.split_at(explicit_len);
            let plain_len = u16::try_from(sealed.len() - tag).ok()?;
            let mut aad = [0u8; 13];
            aad[..8].copy_from_slice(&self.seq.to_be_bytes());
            aad[8..11].copy_from_slice(&header[..3]);
            aad[11..].copy_from_slice(&plain_len.to_be_bytes());
            let mut buf = sealed.to_vec();
            let n = self.key.open_in_place(self.nonce(explicit), aead::Aad::from(aad), &mut buf).ok()?.len();
            buf.truncate(n);
            Opened { content_type: header[0], data: buf }
        };
        self.seq += 1;
        Some(opened)
    }

    /// Seals `data` as a record of `content_type` (for tests: what a peer would send).
    pub fn seal(&mut self, content_type: u8, data: &[u8]) -> Vec<u8> {
        let tag = self.suite.aead.ring().tag_len();
        let mut out;
        if self.suite.tls13 {
            let mut inner = data.to_vec();
            inner.push(content_type);
            let len = u16::try_from(inner.len() + tag).unwrap_or(u16::MAX).to_be_bytes();
            let header = [23, 3, 3, len[0], len[1]];
            let sealed =
                self.key.seal_in_place_append_tag(self.nonce(&[]), aead::Aad::from(header), &mut inner);
            out = header.to_vec();
            if sealed.is_ok() {
                out.extend_from_slice(&inner);
            }
        } else {
            let explicit = self.seq.to_be_bytes();
            let explicit = &explicit[..self.suite.aead.tls12_explicit_len()];
            let mut aad = [0u8; 13];
            aad[..8].copy_from_slice(&self.seq.to_be_bytes());
            aad[8..11].copy_from_slice(&[content_type, 3, 3]);
            aad[11..].copy_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
            let mut body = data.to_vec();
            let _ = self.key.seal_in_place_append_tag(self.nonce(explicit), aead::Aad::from(aad), &mut body);
            let len = u16::try_from(explicit.len() + body.len()).unwrap_or(u16::MAX).to_be_bytes();
            out = vec![content_type, 3, 3, len[0], len[1]];
            out.extend_from_slice(explicit);
            out.extend_from_slice(&body);
        }
        self.seq += 1;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::suite;

    #[test]
    fn tls12_prf_matches_the_published_sha256_vector() {
        // The widely used TLS 1.2 PRF (P_SHA256) test vector from the IETF TLS WG list:
        // secret 9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35, label "test label".
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").unwrap();
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap();
        let out = prf(Hash::Sha256, &secret, b"test label", &seed, 100);
        assert_eq!(
            hex::encode(&out[..32]),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        );
    }

    #[test]
    fn expand_label_matches_an_independent_hmac_computation() {
        // Computed with Python's hmac module from RFC 8446 §7.1 and RFC 5869 §2.3.
        let e = |h, secret: &[u8], label, len| hex::encode(expand_label(h, secret, label, b"", len).unwrap());
        assert_eq!(e(Hash::Sha256, &[1; 32], "key", 16), "e6773b2c89dee2b43ad3f9686fcb0133");
        assert_eq!(e(Hash::Sha256, &[1; 32], "iv", 12), "5fae678ed5298223de915447");
        assert_eq!(
            e(Hash::Sha384, &[2; 48], "traffic upd", 48),
            "1fb80bedf36de6ffd5d405ae9d81ffbc8294e6678a7ca1f0c8747f0a17a8a18c5880bab5abcfe0dbf26ef1c7bc0ecd07"
        );
    }

    #[test]
    fn both_versions_open_what_they_seal_and_refuse_the_wrong_key() {
        for &id in &[0x1301u16, 0x1302, 0x1303, 0xc02f, 0xc030, 0xcca8] {
            let s = *suite(id).unwrap();
            let (mut tx, mut rx, mut wrong) = if s.tls13 {
                let k = |b| RecordKey::tls13(s, &[b; 48][..s.hash.output_len()]).unwrap();
                (k(1), k(1), k(2))
            } else {
                let k = |b| RecordKey::tls12(s, &[b; 48], &[3; 32], &[4; 32]).unwrap().0;
                (k(1), k(1), k(2))
            };
            for msg in [&b"hello"[..], &[0u8; 3000], b""] {
                let rec = tx.seal(23, msg);
                let header: [u8; 5] = rec[..5].try_into().unwrap();
                assert!(wrong.open(header, &rec[5..]).is_none(), "{}", s.name);
                let got = rx.open(header, &rec[5..]).expect(s.name);
                assert_eq!((got.content_type, &got.data[..]), (23, msg), "{}", s.name);
            }
            // Out of sequence: the nonce (or the AAD) differs.
            let rec = tx.seal(23, b"x");
            let _ = tx.seal(23, b"y");
            let rec2 = tx.seal(23, b"z");
            assert!(rx.open(rec2[..5].try_into().unwrap(), &rec2[5..]).is_none(), "{}", s.name);
            assert!(rx.open(rec[..5].try_into().unwrap(), &rec[5..]).is_some(), "{}", s.name);
        }
    }

    #[test]
    fn key_update_changes_the_keys_the_same_way_on_both_sides() {
        let s = *suite(0x1301).unwrap();
        let mut a = RecordKey::tls13(s, &[7; 32]).unwrap().updated().unwrap();
        let mut b = RecordKey::tls13(s, &[7; 32]).unwrap().updated().unwrap();
        let rec = a.seal(23, b"after the update");
        assert_eq!(b.open(rec[..5].try_into().unwrap(), &rec[5..]).unwrap().data, b"after the update");
        let mut old = RecordKey::tls13(s, &[7; 32]).unwrap();
        let rec = a.seal(23, b"x");
        assert!(old.open(rec[..5].try_into().unwrap(), &rec[5..]).is_none());
    }
}
