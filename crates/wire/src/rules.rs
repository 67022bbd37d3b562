//! The rules table: every check wsprobe makes, with one stable id, its RFC section,
//! its requirement level and the requirement in one sentence (paraphrased; the RFC
//! section is the authority).
//!
//! A [`Violation`](crate::Violation) found by the dissector and a failed conformance
//! case name the same [`Rule`], so a user can move between the two tools.

use serde::{Serialize, Serializer};

/// How strongly the RFC words a requirement (RFC 2119 keywords), or `Limit` for a
/// resource limit wsprobe enforces on the RFC's advice (RFC 6455 §10.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// An absolute requirement (MUST, MUST NOT, REQUIRED).
    Must,
    /// A recommendation (SHOULD, SHOULD NOT).
    Should,
    /// A limit wsprobe applies so that hostile input cannot exhaust memory.
    Limit,
}

/// What the rules table says about one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Stable id, e.g. `frame.opcode-reserved`.
    pub id: &'static str,
    /// RFC number: 6455 or 7692.
    pub rfc: u16,
    /// Section of that RFC, e.g. `5.2`.
    pub section: &'static str,
    /// Requirement level.
    pub level: Level,
    /// The requirement, in one sentence.
    pub requirement: &'static str,
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $variant:ident = ($id:literal, $rfc:literal, $section:literal, $level:ident, $text:literal); )*) => {
        /// A rule of the rules table. Serialises as its stable id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $( $(#[$doc])* $variant, )*
        }

        impl Rule {
            /// Every rule, in table order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// The table row for this rule.
            pub const fn info(self) -> RuleInfo {
                match self {
                    $( Rule::$variant => RuleInfo {
                        id: $id, rfc: $rfc, section: $section, level: Level::$level, requirement: $text,
                    }, )*
                }
            }
        }
    };
}

rules! {
    // ---- Base framing, RFC 6455 §5.2 ----
    /// An opcode that RFC 6455 reserves (3-7, 0xB-0xF) was used.
    FrameOpcodeReserved = ("frame.opcode-reserved", 6455, "5.2", Must,
        "An endpoint that receives a frame with a reserved (unknown) opcode must fail the connection.");
    /// RSV1, RSV2 or RSV3 set although no negotiated extension defines it.
    FrameRsvUnnegotiated = ("frame.rsv-unnegotiated", 6455, "5.2", Must,
        "RSV1, RSV2 and RSV3 must be 0 unless a negotiated extension defines their meaning.");
    /// A payload length encoded in a longer form than needed.
    FrameLengthNonMinimal = ("frame.length-non-minimal", 6455, "5.2", Must,
        "The payload length must be encoded in the minimal number of bytes (7-bit, then 16-bit, then 64-bit form).");
    /// The most significant bit of a 64-bit payload length is set.
    FrameLengthMsbSet = ("frame.length-msb-set", 6455, "5.2", Must,
        "In the 64-bit length form the most significant bit must be 0.");

    // ---- Masking, RFC 6455 §5.1 / §5.3 ----
    /// A client sent a frame without the MASK bit.
    MaskClientUnmasked = ("mask.client-unmasked", 6455, "5.1", Must,
        "A client must mask every frame it sends; a server must close the connection on an unmasked frame.");
    /// A server sent a masked frame.
    MaskServerMasked = ("mask.server-masked", 6455, "5.1", Must,
        "A server must not mask any frame it sends; a client must close the connection on a masked frame.");
    /// A client's masking keys are predictable: all zero, or repeated.
    MaskKeyPredictable = ("mask.key-predictable", 6455, "5.3", Must,
        "The masking key must be a fresh random 32-bit value for each frame, from a strong source of entropy; it must not let a server or proxy predict the key of a later frame (see also §10.3).");

    // ---- Fragmentation, RFC 6455 §5.4 ----
    /// A continuation frame arrived with no fragmented message to continue.
    FragmentOrphanContinuation = ("fragment.orphan-continuation", 6455, "5.4", Must,
        "A continuation frame may only follow a non-final data frame of the same message.");
    /// A new text or binary frame started while a fragmented message was unfinished.
    FragmentInterleavedData = ("fragment.interleaved-data", 6455, "5.4", Must,
        "Fragments of one message must not be interleaved with another data message; only control frames may be injected.");

    // ---- Control frames, RFC 6455 §5.5 ----
    /// A control frame with more than 125 bytes of payload.
    ControlPayloadTooLong = ("control.payload-too-long", 6455, "5.5", Must,
        "All control frames must have a payload length of 125 bytes or less.");
    /// A control frame with FIN clear.
    ControlFragmented = ("control.fragmented", 6455, "5.5", Must,
        "Control frames must not be fragmented.");
    /// A Pong that answers a Ping carries different application data.
    PongPayloadMismatch = ("pong.payload-mismatch", 6455, "5.5.3", Must,
        "A Pong sent in response to a Ping must carry the Ping's application data unchanged.");
    /// A Ping was not answered with a Pong.
    PingUnanswered = ("ping.unanswered", 6455, "5.5.2", Must,
        "On receiving a Ping an endpoint must send a Pong in response, unless it already received a Close.");

    // ---- Close, RFC 6455 §5.5.1 / §7 ----
    /// A Close frame with a 1-byte payload.
    ClosePayloadOneByte = ("close.payload-one-byte", 6455, "5.5.1", Must,
        "A Close frame body, if present, must start with a 2-byte status code, so a 1-byte body is invalid.");
    /// A Close frame carries a status code that may not appear on the wire.
    CloseCodeInvalid = ("close.code-invalid", 6455, "7.4", Must,
        "A Close status code must be one defined for use on the wire (1000-1003, 1007-1014) or in the 3000-4999 range; 0-999, 1004-1006, 1015, 1016-2999 and 5000+ are invalid.");
    /// A Close frame's reason is not valid UTF-8.
    CloseReasonInvalidUtf8 = ("close.reason-invalid-utf8", 6455, "5.5.1", Must,
        "The reason that follows the status code in a Close frame must be UTF-8 encoded.");
    /// A data frame sent after the sender's own Close frame.
    CloseDataAfterClose = ("close.data-after-close", 6455, "5.5.1", Must,
        "After sending a Close frame an endpoint must not send any further data frames.");
    /// An endpoint received a Close and never answered with its own.
    CloseNotAnswered = ("close.not-answered", 6455, "5.5.1", Must,
        "An endpoint that receives a Close frame and has not sent one must send a Close frame in response.");
    /// The server did not close the TCP connection after the closing handshake.
    CloseServerTcpNotClosed = ("close.server-tcp-not-closed", 6455, "7.1.1", Should,
        "After the closing handshake the server should close the underlying TCP connection first.");

    // ---- Data, RFC 6455 §5.6 / §8.1 ----
    /// A text message that is not valid UTF-8.
    Utf8TextInvalid = ("utf8.text-invalid", 6455, "8.1", Must,
        "A text message must contain valid UTF-8; the receiver must fail the connection on invalid data.");

    // ---- Opening handshake, RFC 6455 §4 ----
    /// The request could not be parsed as HTTP/1.1.
    HsRequestMalformed = ("hs.request-malformed", 6455, "4.1", Must,
        "The opening handshake must be a valid HTTP request.");
    /// The request method is not GET.
    HsRequestMethod = ("hs.request-method", 6455, "4.1", Must,
        "The method of the opening handshake request must be GET.");
    /// The request is not HTTP/1.1 or later.
    HsRequestHttpVersion = ("hs.request-http-version", 6455, "4.1", Must,
        "The HTTP version of the opening handshake request must be at least 1.1.");
    /// The request has no Host header.
    HsRequestHost = ("hs.request-host", 6455, "4.1", Must,
        "The request must contain a Host header field.");
    /// The request's Upgrade header does not name websocket.
    HsRequestUpgrade = ("hs.request-upgrade", 6455, "4.1", Must,
        "The request must contain an Upgrade header field whose value includes the keyword websocket (case-insensitive).");
    /// The request's Connection header does not include Upgrade.
    HsRequestConnection = ("hs.request-connection", 6455, "4.1", Must,
        "The request must contain a Connection header field that includes the token Upgrade (case-insensitive).");
    /// The Sec-WebSocket-Key header is missing or not base64 of 16 bytes.
    HsRequestKey = ("hs.request-key", 6455, "4.1", Must,
        "The request must include one Sec-WebSocket-Key header whose value is the base64 encoding of 16 bytes.");
    /// A client sent a Sec-WebSocket-Key it had used on an earlier connection.
    HsRequestKeyReused = ("hs.request-key-reused", 6455, "4.1", Must,
        "The Sec-WebSocket-Key nonce must be selected randomly for each connection.");
    /// The Sec-WebSocket-Version header is missing or not 13.
    HsRequestVersion = ("hs.request-version", 6455, "4.1", Must,
        "The request must include a Sec-WebSocket-Version header field with the value 13.");
    /// The request's Sec-WebSocket-Protocol list is empty, or holds a non-token or a repeat.
    HsRequestProtocol = ("hs.request-protocol", 6455, "4.1", Must,
        "Each subprotocol offered in Sec-WebSocket-Protocol must be a token, the list must not be empty and no value may appear twice.");
    /// A header that may appear only once appears several times.
    HsHeaderRepeated = ("hs.header-repeated", 6455, "11.3", Must,
        "Sec-WebSocket-Key, Sec-WebSocket-Accept and (in a request) Sec-WebSocket-Version must not appear more than once.");
    /// The Sec-WebSocket-Extensions value does not follow the §9.1 grammar.
    HsExtensionsSyntax = ("hs.extensions-syntax", 6455, "9.1", Must,
        "Sec-WebSocket-Extensions must follow the grammar of extension-list (token; param[=value], ...).");
    /// The response could not be parsed as HTTP/1.1.
    HsResponseMalformed = ("hs.response-malformed", 6455, "4.1", Must,
        "The server's handshake response must be a valid HTTP response.");
    /// The response status is not 101.
    HsResponseStatus = ("hs.response-status", 6455, "4.1", Must,
        "A server that accepts the connection must answer 101 Switching Protocols; any other status means the connection is not established.");
    /// The response's Upgrade header does not name websocket.
    HsResponseUpgrade = ("hs.response-upgrade", 6455, "4.1", Must,
        "The 101 response must carry an Upgrade header field with the value websocket (case-insensitive).");
    /// The response's Connection header does not include Upgrade.
    HsResponseConnection = ("hs.response-connection", 6455, "4.1", Must,
        "The 101 response must carry a Connection header field with the token Upgrade (case-insensitive).");
    /// Sec-WebSocket-Accept is missing or does not match the key.
    HsResponseAccept = ("hs.response-accept", 6455, "4.2.2", Must,
        "Sec-WebSocket-Accept must be base64(SHA-1(Sec-WebSocket-Key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)).");
    /// The server selected an extension the client did not offer.
    HsResponseExtensionNotOffered = ("hs.response-extension-not-offered", 6455, "4.1", Must,
        "The response must not select an extension that the client did not offer.");
    /// The server selected a subprotocol the client did not offer.
    HsResponseProtocolNotOffered = ("hs.response-protocol-not-offered", 6455, "4.1", Must,
        "The response must not select a subprotocol that the client did not offer, and must select at most one.");
    /// A request with an unsupported version was not answered 426 with Sec-WebSocket-Version.
    HsVersionNotSupportedReply = ("hs.version-unsupported-reply", 6455, "4.4", Must,
        "A server that does not support the requested version must abort the handshake with an error status (426) and list the versions it supports in Sec-WebSocket-Version.");
    /// A malformed handshake request was accepted with 101.
    HsBadRequestAccepted = ("hs.bad-request-accepted", 6455, "4.2.1", Must,
        "A server that receives a handshake request missing a required field or with an invalid value must not accept it (it answers 400 Bad Request).");

    // ---- permessage-deflate, RFC 7692 ----
    /// A permessage-deflate parameter is unknown, has an invalid value or is repeated.
    PmdParamInvalid = ("pmd.param-invalid", 7692, "7", Must,
        "A permessage-deflate element must not contain an unknown parameter, an invalid value or a repeated parameter.");
    /// The server's permessage-deflate answer does not fit the client's offer.
    PmdResponseMismatch = ("pmd.response-mismatch", 7692, "7.1", Must,
        "The server's permessage-deflate response must be acceptable for an offer the client made (client_max_window_bits only if offered, at most one element).");
    /// RSV1 set on a control frame.
    PmdRsv1Control = ("pmd.rsv1-control", 7692, "6", Must,
        "The Per-Message Compressed bit (RSV1) must not be set on control frames.");
    /// RSV1 set on a continuation frame.
    PmdRsv1Continuation = ("pmd.rsv1-continuation", 7692, "6", Must,
        "The Per-Message Compressed bit (RSV1) must be set only on the first frame of a message.");
    /// A compressed message failed to inflate.
    PmdInflateError = ("pmd.inflate-error", 7692, "6.2", Must,
        "A compressed message must be a valid DEFLATE stream; the receiver fails the connection otherwise.");
    /// A back-reference reaches farther than the agreed LZ77 window.
    PmdWindowExceeded = ("pmd.window-exceeded", 7692, "7.1.2", Must,
        "A sender must not use an LZ77 window larger than the one agreed (server_max_window_bits / client_max_window_bits): no back-reference farther than 2^bits bytes.");
    /// A back-reference reaches into an earlier message under no_context_takeover.
    PmdContextTakeover = ("pmd.context-takeover", 7692, "7.1.1", Must,
        "A sender that agreed to *_no_context_takeover must start every message with an empty LZ77 window: no back-reference into an earlier message.");
    /// A message grew past the configured inflate limit.
    LimitInflatedSize = ("limit.inflated-size", 6455, "10.4", Limit,
        "A decompressed message exceeded the configured size limit; decoding of the message stopped there (decompression-bomb protection).");
}

impl Rule {
    /// The stable id.
    pub const fn id(self) -> &'static str {
        self.info().id
    }

    /// Looks a rule up by its stable id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// `RFC 6455 §5.2` style citation.
    pub fn citation(self) -> String {
        let i = self.info();
        format!("RFC {} §{}", i.rfc, i.section)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert_eq!(Rule::from_id(r.id()), Some(r));
            let i = r.info();
            assert!(i.rfc == 6455 || i.rfc == 7692);
            assert!(!i.requirement.is_empty());
        }
        assert_eq!(Rule::from_id("no.such-rule"), None);
    }
}
