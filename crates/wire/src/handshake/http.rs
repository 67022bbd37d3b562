//! HTTP/1.x heads: parsing (with `httparse`) and header look-ups.

use crate::extensions::{Extension, ExtensionSyntaxError, parse_extension_bytes};
use serde::{Serialize, Serializer};

/// The largest request or response head accepted, in bytes (request line or status
/// line, header fields and the empty line). A longer head is an [`HttpError`], so a
/// peer cannot make a reader buffer without bound (RFC 6455 §10.4).
pub const MAX_HEAD: usize = 16 * 1024;

/// The most header fields accepted in one head.
pub const MAX_HEADERS: usize = 128;

/// The outcome of parsing a head out of a buffer. Incomplete input is a normal return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<T> {
    /// A whole head was read.
    Complete {
        /// What was parsed.
        value: T,
        /// Bytes of the buffer the head took, up to and including its empty line;
        /// anything after it belongs to the next protocol (frames).
        consumed: usize,
    },
    /// The head is not complete yet: read more bytes and call again with all of them.
    Partial,
}

/// One header field, as sent. Serialises with the value as a (lossy UTF-8) string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Field name, in the case it was sent.
    pub name: String,
    /// Field value bytes (leading and trailing whitespace as left by the parser).
    #[serde(serialize_with = "lossy")]
    pub value: Vec<u8>,
}

fn lossy<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(v))
}

/// A parsed HTTP request head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Request method, case as sent.
    pub method: String,
    /// Request-target (Request-URI), as sent.
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version_minor: u8,
    /// Header fields in order, repeats kept.
    pub headers: Vec<Header>,
}

/// A parsed HTTP response head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version_minor: u8,
    /// Status code.
    pub status: u16,
    /// Reason phrase, as sent (empty if absent or not UTF-8).
    pub reason: String,
    /// Header fields in order, repeats kept.
    pub headers: Vec<Header>,
}

/// A head that is not valid HTTP/1.x, or is too large.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad HTTP head at byte {offset}: {message}")]
pub struct HttpError {
    /// Where in the buffer the head goes wrong (best effort; 0 if unknown).
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Shared look-ups over a header list.
fn first<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_slice())
}

fn named<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_slice())
}

fn tokens(headers: &[Header], name: &str) -> Vec<String> {
    named(headers, name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|t| !t.is_empty())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect()
}

fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    tokens(headers, name).iter().any(|t| t.eq_ignore_ascii_case(token))
}

/// Parses every field named `name` as a §9.1 extension list, concatenating them in
/// order (several fields are equivalent to one comma-joined field, §9.1). No field at
/// all is an empty list. A syntax error's position is within the failing field.
pub(crate) fn extensions_in(headers: &[Header], name: &str) -> Result<Vec<Extension>, ExtensionSyntaxError> {
    let mut out = Vec::new();
    for v in named(headers, name) {
        out.extend(parse_extension_bytes(v)?);
    }
    Ok(out)
}

macro_rules! header_helpers {
    ($t:ty) => {
        impl $t {
            /// The first field named `name` (ASCII case-insensitive), its value as sent.
            pub fn header(&self, name: &str) -> Option<&[u8]> {
                first(&self.headers, name)
            }

            /// Every field named `name` (ASCII case-insensitive), in order.
            pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
                named(&self.headers, name)
            }

            /// The comma-separated elements of every field named `name`, in order,
            /// whitespace-trimmed, empty elements dropped (e.g. `Connection:
            /// keep-alive, Upgrade` gives `keep-alive` and `Upgrade`).
            pub fn tokens(&self, name: &str) -> Vec<String> {
                tokens(&self.headers, name)
            }

            /// Whether a `name` field lists `token` (both ASCII case-insensitive).
            pub fn has_token(&self, name: &str, token: &str) -> bool {
                has_token(&self.headers, name, token)
            }
        }
    };
}

header_helpers!(Request);
header_helpers!(Response);

impl Request {
    /// The subprotocols offered in Sec-WebSocket-Protocol, in order of preference.
    pub fn offered_protocols(&self) -> Vec<String> {
        self.tokens("Sec-WebSocket-Protocol")
    }

    /// The extensions offered in Sec-WebSocket-Extensions (all fields, in order).
    pub fn offered_extensions(&self) -> Result<Vec<Extension>, ExtensionSyntaxError> {
        extensions_in(&self.headers, "Sec-WebSocket-Extensions")
    }

    /// Whether the request asks to upgrade to WebSocket (an `Upgrade` field lists the
    /// token `websocket`, case-insensitive). Says nothing about the rest of the head.
    pub fn is_upgrade(&self) -> bool {
        self.has_token("Upgrade", "websocket")
    }
}

impl Response {
    /// The extensions the server selected in Sec-WebSocket-Extensions, in order.
    pub fn selected_extensions(&self) -> Result<Vec<Extension>, ExtensionSyntaxError> {
        extensions_in(&self.headers, "Sec-WebSocket-Extensions")
    }
}

fn to_headers(hs: &[httparse::Header<'_>]) -> Vec<Header> {
    hs.iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| Header { name: h.name.to_owned(), value: h.value.to_vec() })
        .collect()
}

fn too_large() -> HttpError {
    HttpError { offset: MAX_HEAD, message: format!("head is not complete within {MAX_HEAD} bytes") }
}

/// Parses an HTTP request head from the start of `buf`.
///
/// Returns [`Progress::Partial`] while the head may still complete; an error for a
/// head that is not HTTP/1.x, has more than [`MAX_HEADERS`] fields or does not end
/// within [`MAX_HEAD`] bytes.
pub fn parse_request(buf: &[u8]) -> Result<Progress<Request>, HttpError> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    match req.parse(window) {
        Ok(httparse::Status::Complete(consumed)) => Ok(Progress::Complete {
            value: Request {
                method: req.method.unwrap_or_default().to_owned(),
                target: req.path.unwrap_or_default().to_owned(),
                version_minor: req.version.unwrap_or_default(),
                headers: to_headers(req.headers),
            },
            consumed,
        }),
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Err(too_large()),
        Ok(httparse::Status::Partial) => Ok(Progress::Partial),
        Err(e) => Err(locate(window, e, true)),
    }
}

/// Parses an HTTP response head from the start of `buf`. Same contract as
/// [`parse_request`].
pub fn parse_response(buf: &[u8]) -> Result<Progress<Response>, HttpError> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hs);
    match resp.parse(window) {
        Ok(httparse::Status::Complete(consumed)) => Ok(Progress::Complete {
            value: Response {
                version_minor: resp.version.unwrap_or_default(),
                status: resp.code.unwrap_or_default(),
                reason: resp.reason.unwrap_or_default().to_owned(),
                headers: to_headers(resp.headers),
            },
            consumed,
        }),
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Err(too_large()),
        Ok(httparse::Status::Partial) => Ok(Progress::Partial),
        Err(e) => Err(locate(window, e, false)),
    }
}

/// Turns an `httparse` error (which carries no position) into an [`HttpError`] with a
/// best-effort offset, found by re-scanning the head line by line.
fn locate(buf: &[u8], e: httparse::Error, request: bool) -> HttpError {
    use httparse::Error as E;
    let message = match e {
        E::HeaderName => "invalid header field name",
        E::HeaderValue => "invalid header field value",
        E::NewLine => "invalid line ending",
        E::Status => "invalid status code",
        E::Token => "invalid method or request-target",
        E::TooManyHeaders => "too many header fields",
        E::Version => "invalid HTTP version (HTTP/1.0 or HTTP/1.1 expected)",
    };
    let message = if matches!(e, E::TooManyHeaders) {
        format!("{message} (more than {MAX_HEADERS})")
    } else {
        message.to_owned()
    };
    // Requests may be preceded by empty lines (RFC 7230 §3.5), httparse skips them.
    let mut start = 0;
    if request {
        while let Some(rest) = buf.get(start..) {
            if rest.starts_with(b"\r\n") {
                start += 2;
            } else if rest.starts_with(b"\n") {
                start += 1;
            } else {
                break;
            }
        }
    }
    let line_end = |from: usize| buf[from..].iter().position(|&b| b == b'\n').map(|i| from + i);
    let offset = match e {
        E::Token => start,
        E::Version if request => {
            // After the second space of `METHOD SP target SP HTTP/1.x`.
            buf[start..]
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b' ')
                .nth(1)
                .map_or(start, |(i, _)| start + i + 1)
        }
        E::Version => 0,
        E::Status => buf.iter().position(|&b| b == b' ').map_or(0, |i| i + 1),
        E::HeaderName | E::HeaderValue | E::NewLine | E::TooManyHeaders => {
            let mut pos = line_end(start).map_or(start, |i| i + 1);
            let mut index = 0;
            let mut found = None;
            while pos < buf.len() {
                let end = line_end(pos).unwrap_or(buf.len());
                let line = &buf[pos..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    break;
                }
                index += 1;
                if index > MAX_HEADERS {
                    found = Some(pos);
                    break;
                }
                if let Some(bad) = bad_header_byte(line) {
                    found = Some(pos + bad);
                    break;
                }
                pos = end + 1;
            }
            found.unwrap_or(start)
        }
    };
    HttpError { offset, message }
}

/// The index of the first byte that makes `line` (without its line ending) an invalid
/// `field-name ":" OWS field-value OWS` line, if any.
fn bad_header_byte(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':');
    let name_end = colon.unwrap_or(line.len());
    if let Some(i) = line[..name_end].iter().position(|&b| !crate::extensions::is_tchar(b)) {
        return Some(i);
    }
    let Some(colon) = colon else {
        return Some(line.len());
    };
    if colon == 0 {
        return Some(0);
    }
    line[colon + 1..].iter().position(|&b| !(b == b'\t' || b >= 0x20) || b == 0x7f).map(|i| colon + 1 + i)
}
