//! The opening handshake, RFC 6455 §4.
//!
//! Sans-IO, like the rest of the crate: [`parse_request`] / [`parse_response`] read an
//! HTTP/1.1 head out of a buffer (returning [`Progress::Partial`] until it is
//! complete), [`check_request`] and [`check_response`] judge the two halves against
//! the rules table, and [`RequestBuilder`] / [`response_for`] write them for the
//! conformance tester and the reference server. No randomness: the caller supplies the
//! Sec-WebSocket-Key nonce.
//!
//! Header names and the `websocket` / `Upgrade` tokens compare ASCII
//! case-insensitively, header order does not matter, repeated header fields are kept
//! in order and comma lists are read across all repeats (RFC 7230 §3.2.2).

mod build;
mod check;
mod http;

pub use build::{RequestBuilder, StdHeader, response_for};
pub use check::{Negotiated, check_request, check_response, key_is_valid};
pub use http::{
    Header, HttpError, MAX_HEAD, MAX_HEADERS, Progress, Request, Response, parse_request, parse_response,
};

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// The GUID a server appends to the client's key (RFC 6455 §1.3, §4.2.2).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key value (RFC 6455 §4.2.2
/// step 5.4): base64 of the SHA-1 of the key, as sent but without leading and
/// trailing whitespace, followed by [`GUID`]. The key is not base64-decoded.
///
/// ```
/// use wsprobe_wire::handshake::accept_key;
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim_matches([' ', '\t']).as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}
