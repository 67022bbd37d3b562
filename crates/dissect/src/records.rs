//! The records a dissection produces, and how they serialise (one JSON object each,
//! tagged by `"type"`; see the crate README for the schema).

use serde::{Serialize, Serializer};
use std::borrow::Cow;
use wsprobe_wire::Level;
pub use wsprobe_wire::deflate::PmdConfig;
pub use wsprobe_wire::{Dir, Role};

/// One thing found in a capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A WebSocket session (or an upgrade attempt) was found. Boxed: it is the largest
    /// record and the rarest, and every record is moved several times on its way out.
    Session(Box<SessionRecord>),
    /// A frame (only with [`Options::frames`](crate::Options::frames)).
    Frame(FrameRecord),
    /// A reassembled message or a control frame.
    Message(MessageRecord),
    /// A rule broken by one endpoint.
    Violation(ViolationRecord),
    /// Something about the capture or a connection that is not a WebSocket fact.
    Warning(WarningRecord),
    /// Any other event of a session: HTTP heads, the switch to WebSocket, bytes lost
    /// in capture, resynchronisation, the end of the TCP connection.
    Event(EventRecord),
}

impl Record {
    /// The session the record belongs to, if any.
    pub fn session(&self) -> Option<u64> {
        match self {
            Record::Session(r) => Some(r.session),
            Record::Frame(r) => Some(r.session),
            Record::Message(r) => Some(r.session),
            Record::Violation(r) => Some(r.session),
            Record::Warning(r) => r.session,
            Record::Event(r) => Some(r.session),
        }
    }

    /// Gives the record's session a new number (records without a session keep none).
    pub(crate) fn set_session(&mut self, n: u64) {
        match self {
            Record::Session(r) => r.session = n,
            Record::Frame(r) => r.session = n,
            Record::Message(r) => r.session = n,
            Record::Violation(r) => r.session = n,
            Record::Warning(r) => {
                if r.session.is_some() {
                    r.session = Some(n);
                }
            }
            Record::Event(r) => r.session = n,
        }
    }

    /// Packet number the record is tied to (for a session, its first packet).
    pub fn packet(&self) -> u64 {
        match self {
            Record::Session(r) => r.first_packet,
            Record::Frame(r) => r.packet,
            Record::Message(r) => r.packet,
            Record::Violation(r) => r.packet,
            Record::Warning(r) => r.packet,
            Record::Event(r) => r.packet,
        }
    }

    /// The record as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"type\":\"warning\",\"message\":\"unserialisable record: {e}\"}}")
        })
    }
}

/// How the opening handshake of a session went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeState {
    /// Upgrade request and 101 response both seen.
    Seen,
    /// The capture holds no handshake for it: found by frame synchronisation.
    NotSeen,
    /// The server answered the upgrade request with another status.
    Rejected {
        /// The status code.
        status: u16,
    },
    /// An upgrade request was seen but no response before the connection ended.
    Unanswered,
    /// Seen but cut by the capture's snapshot length: the request and status lines
    /// were read, the rest of the heads (and so the negotiated extensions) was not.
    Cut,
}

impl HandshakeState {
    /// `seen`, `not_seen`, `rejected` or `unanswered` (the JSON value).
    pub fn as_str(&self) -> &'static str {
        match self {
            HandshakeState::Seen => "seen",
            HandshakeState::NotSeen => "not_seen",
            HandshakeState::Rejected { .. } => "rejected",
            HandshakeState::Unanswered => "unanswered",
            HandshakeState::Cut => "cut",
        }
    }
}

impl std::fmt::Display for HandshakeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeState::Seen => f.write_str("handshake seen"),
            HandshakeState::NotSeen => f.write_str("no handshake seen"),
            HandshakeState::Rejected { status } => write!(f, "upgrade rejected ({status})"),
            HandshakeState::Unanswered => f.write_str("upgrade not answered"),
            HandshakeState::Cut => f.write_str("handshake cut by the snapshot length"),
        }
    }
}

impl Serialize for HandshakeState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A WebSocket session: one TCP connection that upgraded (or tried to), or that
/// frame synchronisation proved to carry WebSocket frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRecord {
    /// Session number, 1-based, in the order sessions were found.
    pub session: u64,
    /// The capture's name (as given to the dissector; `-` for stdin).
    pub file: String,
    /// TCP connection number in the capture (the flow table's id).
    pub conn: u64,
    /// Client address, `ip:port` or `[v6]:port`.
    pub client: String,
    /// Server address.
    pub server: String,
    /// How the handshake went.
    pub handshake: HandshakeState,
    /// The HTTP status of the answer to the upgrade request, if one was seen.
    pub status: Option<u16>,
    /// Request target of the upgrade request.
    pub path: Option<String>,
    /// The Host header of the upgrade request.
    pub host: Option<String>,
    /// The Origin header of the upgrade request.
    pub origin: Option<String>,
    /// Subprotocols the client offered (Sec-WebSocket-Protocol, as sent).
    pub offered_protocols: Option<String>,
    /// Extensions the client offered (Sec-WebSocket-Extensions, as sent).
    pub offered_extensions: Option<String>,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
    /// The extensions the server selected, normalised.
    pub extensions: Option<String>,
    /// permessage-deflate parameters in force, if negotiated.
    pub deflate: Option<PmdConfig>,
    /// The TLS version, when the session was decrypted (`TLS 1.3`, `TLS 1.2`).
    pub tls_version: Option<String>,
    /// The TLS cipher suite (IANA name).
    pub tls_suite: Option<String>,
    /// The server name the TLS client asked for (SNI).
    pub sni: Option<String>,
    /// The proxy hop, when the session went through an HTTP CONNECT tunnel:
    /// `via proxy ADDR (CONNECT host:port)`.
    pub proxy: Option<String>,
    /// Packet number of the connection's first packet.
    pub first_packet: u64,
    /// Its timestamp (nanoseconds since the Unix epoch).
    pub ts_nanos: i64,
}

/// One WebSocket frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameRecord {
    /// Session number.
    pub session: u64,
    /// Direction.
    pub dir: Dir,
    /// Packet in which the frame's last byte arrived.
    pub packet: u64,
    /// That packet's timestamp.
    pub ts_nanos: i64,
    /// Offset of the frame's first byte in its direction's stream.
    pub offset: u64,
    /// FIN bit.
    pub fin: bool,
    /// RSV1 bit.
    pub rsv1: bool,
    /// RSV2 bit.
    pub rsv2: bool,
    /// RSV3 bit.
    pub rsv3: bool,
    /// Raw opcode.
    pub opcode: u8,
    /// Opcode name (`text`, `binary`, `continuation`, `close`, `ping`, `pong`, `reserved-0x3`...).
    pub opcode_name: Cow<'static, str>,
    /// MASK bit.
    pub masked: bool,
    /// Masking key, 8 hex digits.
    pub mask_key: Option<String>,
    /// Declared payload length.
    pub payload_len: u64,
    /// Status code, for a Close frame with one.
    pub close_code: Option<u16>,
    /// Payload bytes lost in capture.
    pub missing: u64,
    /// Transcript line (not serialised).
    #[serde(skip)]
    pub text: String,
}

/// One message: a reassembled data message, or a control frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRecord {
    /// Session number.
    pub session: u64,
    /// Direction.
    pub dir: Dir,
    /// Packet in which the message's last byte arrived.
    pub packet: u64,
    /// That packet's timestamp.
    pub ts_nanos: i64,
    /// `text`, `binary`, `ping`, `pong` or `close`.
    pub opcode: Cow<'static, str>,
    /// Offset of its first frame in its direction's stream.
    pub offset: u64,
    /// Payload bytes after decompression.
    pub len: u64,
    /// Payload bytes on the wire.
    pub wire_len: u64,
    /// Number of frames.
    pub frames: u32,
    /// Sent compressed (permessage-deflate).
    pub compressed: bool,
    /// Close status code.
    pub close_code: Option<u16>,
    /// Close reason (invalid UTF-8 replaced).
    pub close_reason: Option<String>,
    /// Payload preview (`--payload preview`): quoted text or `0x` hex, with the length when cut.
    pub payload_preview: Option<String>,
    /// Payload, base64 (`--payload full`; as far as it was kept, see `truncated`).
    pub payload_b64: Option<String>,
    /// Fewer payload bytes were kept than `len` (a retention or inflate limit).
    pub truncated: bool,
    /// Bytes of it were lost in capture, or decoding stopped inside it.
    pub incomplete: bool,
    /// For a Pong answering a Ping of the other endpoint: time since that Ping.
    pub rtt_nanos: Option<i64>,
    /// Transcript line (not serialised).
    #[serde(skip)]
    pub text: String,
}

/// A rule broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViolationRecord {
    /// Session number.
    pub session: u64,
    /// Rule id, e.g. `mask.client-unmasked`.
    pub rule: String,
    /// RFC number.
    pub rfc: u16,
    /// RFC section.
    pub section: String,
    /// `MUST`, `SHOULD` or `LIMIT`.
    pub level: Level,
    /// The endpoint that broke it.
    pub by: Role,
    /// The direction of that endpoint's bytes.
    pub dir: Dir,
    /// Packet holding the byte where it was detected.
    pub packet: u64,
    /// That packet's timestamp.
    pub ts_nanos: i64,
    /// Byte offset in the endpoint's stream.
    pub offset: u64,
    /// What exactly was seen.
    pub detail: String,
    /// Transcript line (not serialised).
    #[serde(skip)]
    pub text: String,
}

/// A warning: about the capture (link type, ...) or about a session's connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarningRecord {
    /// Session concerned, if any.
    pub session: Option<u64>,
    /// The capture's name.
    pub file: String,
    /// Packet concerned.
    pub packet: u64,
    /// Description.
    pub message: String,
}

/// Another event of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Session number.
    pub session: u64,
    /// `request`, `response`, `established`, `http_error`, `gap`, `resynced` or `closed`.
    pub kind: String,
    /// Direction, where the event has one.
    pub dir: Option<Dir>,
    /// Packet it is tied to.
    pub packet: u64,
    /// That packet's timestamp.
    pub ts_nanos: i64,
    /// Stream offset, where the event has one.
    pub offset: Option<u64>,
    /// Bytes concerned: missing bytes for a gap, skipped bytes for a resynchronisation.
    pub len: Option<u64>,
    /// For a gap: `lost`, `snaplen` or `buffer_cap`; for `closed`: `fin`, `rst`,
    /// `idle`, `end_of_capture`, `evicted` or `superseded`.
    pub reason: Option<String>,
    /// The event in one line (the transcript's rendering).
    pub text: String,
}
