//! A test PKI made at test time (shared with the dissect crate's tests through
//! `#[path]`): a CA and a server certificate for `localhost` signed by it.

#![allow(dead_code)]

use std::path::PathBuf;

/// A test PKI in a temporary directory: a CA and a server certificate for `localhost`
/// (only: 127.0.0.1 is a name it does not hold) signed by it.
pub struct Pki {
    _dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The CA's private key (PEM): a server that presents the CA certificate itself is
    /// one with a self-signed certificate marked as a CA.
    pub ca_key: PathBuf,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

impl Pki {
    /// Makes a fresh one.
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "wsprobe test CA");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        leaf.distinguished_name.push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().expect("server key");
        let cert = leaf.signed_by(&key, &Issuer::from_params(&ca, &ca_key)).expect("server certificate");
        let write = |name: &str, pem: String| {
            let p = dir.path().join(name);
            std::fs::write(&p, pem).expect("write PEM");
            p
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            ca_key: write("ca.key", ca_key.serialize_pem()),
            cert: write("server.pem", cert.pem()),
            key: write("server.key", key.serialize_pem()),
            _dir: dir,
        }
    }

    /// The peers' arguments to serve wss:// with it.
    pub fn server_args(&self) -> Vec<String> {
        let s = |p: &PathBuf| p.display().to_string();
        vec!["--tls-cert".into(), s(&self.cert), "--tls-key".into(), s(&self.key)]
    }
}
