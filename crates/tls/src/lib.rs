//! # wsprobe-tls
//!
//! Decrypts captured TLS sessions with the secrets of an NSS key log, sans-IO: what a
//! capture holds of each direction goes in, the application data comes out, with the
//! version, cipher suite and server name of the session. For `wsprobe dissect --keylog`.
//!
//! - [`keylog`]: the key log format (`SSLKEYLOGFILE`), and secrets embedded in pcapng;
//! - [`hello`]: ClientHello and ServerHello, read in clear;
//! - [`suite`]: the cipher suites that can be decrypted (TLS 1.3; TLS 1.2 AEAD suites);
//! - [`keys`]: the key schedules (HKDF-Expand-Label, the TLS 1.2 PRF) and record opening;
//! - [`conn`]: one connection's records, epochs and outputs.
//!
//! The primitives (AES-GCM, ChaCha20-Poly1305, HKDF, HMAC) are ring's; nothing
//! cryptographic is written here.
//!
//! ```
//! use wsprobe_tls::{KeyLog, TlsConn, Output};
//! let keys = KeyLog::parse(b"# empty");
//! let mut conn = TlsConn::new();
//! let mut out = Vec::new();
//! conn.feed(true, b"\x16\x03\x01\x00\x00", &|r| keys.get(r).cloned(), &mut out);
//! assert!(out.is_empty());
//! ```
#![forbid(unsafe_code)]

pub mod conn;
pub mod hello;
pub mod keylog;
pub mod keys;
pub mod suite;
#[doc(hidden)]
pub mod testing;

pub use conn::{Keys, Output, Summary, TlsConn, looks_like_client_hello};
pub use keylog::{KeyLog, Secrets};
