//! Writing handshake requests (for the conformance tester) and conformant responses
//! (for the reference server).

use super::accept_key;
use super::check::judge_version_unsupported;
use super::http::Request;

/// A standard header field [`RequestBuilder`] writes, for [`RequestBuilder::omit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StdHeader {
    /// `Host`.
    Host,
    /// `Upgrade: websocket`.
    Upgrade,
    /// `Connection: Upgrade`.
    Connection,
    /// `Sec-WebSocket-Key`.
    Key,
    /// `Origin` (written only if set).
    Origin,
    /// `Sec-WebSocket-Protocol` (written only if protocols were added).
    Protocol,
    /// `Sec-WebSocket-Extensions` (written only if set).
    Extensions,
    /// `Sec-WebSocket-Version: 13`.
    Version,
}

/// Builds an opening handshake request, conformant by default (RFC 6455 §4.1) and
/// bendable for tests: any standard field can be omitted or given another value, the
/// method and HTTP version changed, and extra fields (including repeats of standard
/// ones) appended. Values are written verbatim, unchecked.
///
/// Fields are written in this order: Host, Upgrade, Connection, Sec-WebSocket-Key,
/// Origin, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions, Sec-WebSocket-Version,
/// then the extra fields in the order they were added.
///
/// ```
/// use wsprobe_wire::handshake::{RequestBuilder, StdHeader};
/// let bytes = RequestBuilder::new("server.example.com", "dGhlIHNhbXBsZSBub25jZQ==")
///     .path("/chat")
///     .protocol("chat")
///     .omit(StdHeader::Version)
///     .build();
/// assert!(bytes.starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBuilder {
    method: String,
    path: String,
    http_version: String,
    host: Option<String>,
    upgrade: Option<String>,
    connection: Option<String>,
    key: Option<String>,
    origin: Option<String>,
    protocols: Vec<String>,
    protocol_field: bool,
    extensions: Option<String>,
    version: Option<String>,
    extra: Vec<(String, String)>,
}

impl RequestBuilder {
    /// `GET / HTTP/1.1` to `host` (the Host value, `host[:port]`) with the given
    /// Sec-WebSocket-Key value (the caller draws the 16 random bytes and
    /// base64-encodes them; the core has no randomness), `Upgrade: websocket`,
    /// `Connection: Upgrade` and `Sec-WebSocket-Version: 13`.
    pub fn new(host: impl Into<String>, key: impl Into<String>) -> Self {
        RequestBuilder {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            http_version: "HTTP/1.1".to_owned(),
            host: Some(host.into()),
            upgrade: Some("websocket".to_owned()),
            connection: Some("Upgrade".to_owned()),
            key: Some(key.into()),
            origin: None,
            protocols: Vec::new(),
            protocol_field: true,
            extensions: None,
            version: Some("13".to_owned()),
            extra: Vec::new(),
        }
    }

    /// The request-target (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The method (default `GET`).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    /// The HTTP-version of the request line, e.g. `HTTP/1.0` (default `HTTP/1.1`).
    pub fn http_version(mut self, version: impl Into<String>) -> Self {
        self.http_version = version.into();
        self
    }

    /// The Host value.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The Upgrade value (default `websocket`).
    pub fn upgrade(mut self, value: impl Into<String>) -> Self {
        self.upgrade = Some(value.into());
        self
    }

    /// The Connection value (default `Upgrade`).
    pub fn connection(mut self, value: impl Into<String>) -> Self {
        self.connection = Some(value.into());
        self
    }

    /// The Sec-WebSocket-Key value.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The Sec-WebSocket-Version value (default `13`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// An Origin value (none by default).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers one more subprotocol; all are written comma-separated in one
    /// Sec-WebSocket-Protocol field, in order.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self.protocol_field = true;
        self
    }

    /// Offers these subprotocols (appended to any already added).
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols.extend(protocols.into_iter().map(Into::into));
        self.protocol_field = true;
        self
    }

    /// The Sec-WebSocket-Extensions value, written as given (e.g.
    /// `permessage-deflate; client_max_window_bits`).
    pub fn extensions(mut self, value: impl Into<String>) -> Self {
        self.extensions = Some(value.into());
        self
    }

    /// Appends a header field after the standard ones (repeats allowed).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Leaves a standard field out of the request.
    pub fn omit(mut self, which: StdHeader) -> Self {
        match which {
            StdHeader::Host => self.host = None,
            StdHeader::Upgrade => self.upgrade = None,
            StdHeader::Connection => self.connection = None,
            StdHeader::Key => self.key = None,
            StdHeader::Origin => self.origin = None,
            StdHeader::Protocol => self.protocol_field = false,
            StdHeader::Extensions => self.extensions = None,
            StdHeader::Version => self.version = None,
        }
        self
    }

    /// The request head, ending with the empty line.
    pub fn build(&self) -> Vec<u8> {
        let mut s = format!("{} {} {}\r\n", self.method, self.path, self.http_version);
        let mut field = |name: &str, value: &str| {
            s.push_str(name);
            s.push_str(": ");
            s.push_str(value);
            s.push_str("\r\n");
        };
        let protocols = self.protocols.join(", ");
        let standard = [
            ("Host", self.host.as_deref()),
            ("Upgrade", self.upgrade.as_deref()),
            ("Connection", self.connection.as_deref()),
            ("Sec-WebSocket-Key", self.key.as_deref()),
            ("Origin", self.origin.as_deref()),
            (
                "Sec-WebSocket-Protocol",
                (self.protocol_field && !self.protocols.is_empty()).then_some(protocols.as_str()),
            ),
            ("Sec-WebSocket-Extensions", self.extensions.as_deref()),
            ("Sec-WebSocket-Version", self.version.as_deref()),
        ];
        for (name, value) in standard {
            if let Some(value) = value {
                field(name, value);
            }
        }
        for (name, value) in &self.extra {
            field(name, value);
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

/// The answer a conformant server gives to `req` (RFC 6455 §4.2.2, §4.4):
///
/// - a request asking for a Sec-WebSocket-Version other than 13:
///   `426 Upgrade Required` with `Sec-WebSocket-Version: 13` (and the `Upgrade`
///   field RFC 7231 §6.5.15 requires in a 426);
/// - any other request that [`check_request`](super::check_request) rejects:
///   `400 Bad Request`;
/// - otherwise `101 Switching Protocols` with Upgrade, Connection and the
///   Sec-WebSocket-Accept for the request's key, plus Sec-WebSocket-Protocol if
///   `choose_protocol` (given the offered subprotocols, in order of preference) picks
///   one of them (a pick that was not offered is dropped), plus
///   Sec-WebSocket-Extensions if `extensions_header` is a non-blank value (written
///   as given: choosing among the offered extensions is the caller's business).
///
/// Error answers carry `Content-Length: 0`.
pub fn response_for(
    req: &Request,
    choose_protocol: impl Fn(&[String]) -> Option<String>,
    extensions_header: Option<&str>,
) -> Vec<u8> {
    if judge_version_unsupported(req) {
        return b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
            .to_vec();
    }
    if !super::check_request(req).is_empty() {
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec();
    }
    let key = String::from_utf8_lossy(req.header("Sec-WebSocket-Key").unwrap_or_default());
    let mut s = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {}\r\n",
        accept_key(&key)
    );
    let offered = req.offered_protocols();
    if let Some(p) = choose_protocol(&offered).filter(|p| offered.contains(p)) {
        s.push_str("Sec-WebSocket-Protocol: ");
        s.push_str(&p);
        s.push_str("\r\n");
    }
    if let Some(ext) = extensions_header.filter(|e| !e.trim().is_empty()) {
        s.push_str("Sec-WebSocket-Extensions: ");
        s.push_str(ext);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}
