//! The cipher suites that can be decrypted: every TLS 1.3 suite but the CCM ones, and the
//! TLS 1.2 AEAD suites (AES-GCM, ChaCha20-Poly1305) whatever their key exchange, since
//! the key log gives the master secret.

use ring::{aead, hkdf, hmac};

/// The AEAD of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aead {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
}

impl Aead {
    pub(crate) fn ring(self) -> &'static aead::Algorithm {
        match self {
            Aead::Aes128Gcm => &aead::AES_128_GCM,
            Aead::Aes256Gcm => &aead::AES_256_GCM,
            Aead::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        self.ring().key_len()
    }

    /// The IV bytes taken from the key schedule in TLS 1.2: the 4-byte salt of GCM (the
    /// rest of its nonce travels in each record), the whole 12-byte IV of ChaCha20.
    pub(crate) fn tls12_fixed_iv_len(self) -> usize {
        match self {
            Aead::ChaCha20Poly1305 => 12,
            _ => 4,
        }
    }

    /// Bytes of explicit nonce before each TLS 1.2 ciphertext.
    pub(crate) fn tls12_explicit_len(self) -> usize {
        match self {
            Aead::ChaCha20Poly1305 => 0,
            _ => 8,
        }
    }
}

/// The hash of a suite's key schedule (HKDF in 1.3, the PRF in 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl Hash {
    pub(crate) fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }

    pub(crate) fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// A cipher suite this crate decrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// The IANA code point.
    pub id: u16,
    /// IANA name.
    pub name: &'static str,
    /// A TLS 1.3 suite.
    pub tls13: bool,
    /// Its AEAD.
    pub aead: Aead,
    /// Its hash.
    pub hash: Hash,
}

const fn s(id: u16, name: &'static str, tls13: bool, aead: Aead, hash: Hash) -> Suite {
    Suite { id, name, tls13, aead, hash }
}

/// Every suite that can be decrypted.
pub const SUITES: &[Suite] = &[
    s(0x1301, "TLS_AES_128_GCM_SHA256", true, Aead::Aes128Gcm, Hash::Sha256),
    s(0x1302, "TLS_AES_256_GCM_SHA384", true, Aead::Aes256Gcm, Hash::Sha384),
    s(0x1303, "TLS_CHACHA20_POLY1305_SHA256", true, Aead::ChaCha20Poly1305, Hash::Sha256),
    s(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, Hash::Sha256),
    s(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, Hash::Sha384),
    s(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, Hash::Sha256),
    s(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, Hash::Sha384),
    s(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, Aead::ChaCha20Poly1305, Hash::Sha256),
    s(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false, Aead::ChaCha20Poly1305, Hash::Sha256),
    s(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, Aead::ChaCha20Poly1305, Hash::Sha256),
    s(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, Hash::Sha256),
    s(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, Hash::Sha384),
    s(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, Hash::Sha256),
    s(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, Hash::Sha384),
];

/// The suite with code point `id`, if it can be decrypted.
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// A name for any code point: the IANA name when this crate knows it, else `0xNNNN`.
pub fn suite_name(id: u16) -> String {
    suite(id).map_or_else(|| format!("0x{id:04x}"), |s| s.name.to_string())
}
