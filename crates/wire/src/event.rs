//! What a [`Session`](crate::session::Session) reports.

use crate::close::CloseInfo;
use crate::frame::{FrameHeader, OpCode};
use crate::handshake::{Negotiated, Request, Response};
use crate::{Dir, Violation};
use serde::Serialize;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameEvent {
    /// Direction it travelled.
    pub dir: Dir,
    /// Offset of its first byte in the direction's stream.
    pub offset: u64,
    /// Every header field.
    pub header: FrameHeader,
    /// The first bytes of the payload, unmasked (see [`Limits::frame_keep`](crate::session::Limits)).
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Payload bytes lost in capture.
    pub missing: u64,
}

/// One reassembled message (a data message of one or more frames, or a control frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Direction it travelled.
    pub dir: Dir,
    /// `text`, `binary`, `close`, `ping` or `pong`.
    pub opcode: OpCode,
    /// Offset of its first frame in the direction's stream.
    pub offset: u64,
    /// Offset just past its last frame.
    pub end: u64,
    /// Number of frames.
    pub frames: u32,
    /// Whether it was sent compressed (permessage-deflate).
    pub compressed: bool,
    /// Payload length after decompression (counted in full even when not all is kept).
    pub len: u64,
    /// Payload bytes on the wire.
    pub wire_len: u64,
    /// Payload after decompression, up to [`Limits::message_keep`](crate::session::Limits).
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Whether `payload` holds less than `len` bytes.
    pub truncated: bool,
    /// Whether bytes of it were lost in capture (or it was cut by a resynchronisation).
    pub incomplete: bool,
    /// Code and reason, for a Close.
    pub close: Option<CloseInfo>,
}

/// Something the session saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An HTTP request head (the upgrade request, or a plain request before it).
    Request {
        /// Offset in the client's stream.
        offset: u64,
        /// The parsed head.
        request: Request,
    },
    /// An HTTP response head.
    Response {
        /// Offset in the server's stream.
        offset: u64,
        /// The parsed head.
        response: Response,
        /// What it established (for a response to an upgrade request).
        negotiated: Option<Negotiated>,
    },
    /// The connection switched to WebSocket framing.
    Established,
    /// An HTTP head that could not be parsed; the direction is not decoded further.
    HttpError {
        /// Direction.
        dir: Dir,
        /// Offset of the bad head.
        offset: u64,
        /// What was wrong.
        message: String,
    },
    /// A frame.
    Frame(FrameEvent),
    /// A message.
    Message(Message),
    /// A rule broken.
    Violation(Violation),
    /// Bytes lost in capture.
    Gap {
        /// Direction.
        dir: Dir,
        /// Offset of the first missing byte.
        offset: u64,
        /// Number of missing bytes.
        len: u64,
    },
    /// Frame decoding found a proved frame boundary after lost or unknown bytes.
    Resynced {
        /// Direction.
        dir: Dir,
        /// Offset of the first frame decoded again.
        offset: u64,
        /// Bytes skipped before it.
        skipped: u64,
    },
}

impl Event {
    /// The message, if this is one.
    pub fn as_message(&self) -> Option<&Message> {
        if let Event::Message(m) = self { Some(m) } else { None }
    }

    /// The frame, if this is one.
    pub fn as_frame(&self) -> Option<&FrameEvent> {
        if let Event::Frame(f) = self { Some(f) } else { None }
    }

    /// The violation, if this is one.
    pub fn as_violation(&self) -> Option<&Violation> {
        if let Event::Violation(v) = self { Some(v) } else { None }
    }
}
