//! The transcript of one case: the handshake, every frame sent and received (first
//! bytes of each payload), timers and notes, with times relative to the case start.
//! Bounded: past [`MAX_ENTRIES`] entries only a count is kept.

use serde::Serialize;
use std::time::Instant;
use wsprobe_wire::FrameHeader;

/// Entries kept per transcript.
pub const MAX_ENTRIES: usize = 2000;

/// One line of a transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Milliseconds since the case started.
    pub ms: f64,
    /// `sent`, `received` or `note`.
    pub kind: &'static str,
    /// What happened.
    pub text: String,
}

/// What was sent and received in one case.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The handshake request as sent.
    pub request: String,
    /// The handshake response head, if one came.
    pub response: Option<String>,
    /// Frames and notes.
    pub entries: Vec<Entry>,
    /// Entries not kept.
    pub dropped: usize,
    #[serde(skip)]
    start: Option<Instant>,
}

impl Transcript {
    /// An empty transcript starting now.
    pub fn new(start: Instant) -> Self {
        Transcript {
            request: String::new(),
            response: None,
            entries: Vec::new(),
            dropped: 0,
            start: Some(start),
        }
    }

    fn push(&mut self, kind: &'static str, text: &str) {
        if self.entries.len() >= MAX_ENTRIES {
            self.dropped += 1;
            return;
        }
        let ms = self.start.map_or(0.0, |s| (s.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0);
        self.entries.push(Entry { ms, kind, text: text.to_owned() });
    }

    /// Something the tester sent.
    pub fn sent(&mut self, text: &str) {
        self.push("sent", text);
    }

    /// Something the target sent.
    pub fn received(&mut self, text: &str) {
        self.push("received", text);
    }

    /// A timer, a verdict-relevant event or an error.
    pub fn note(&mut self, text: &str) {
        self.push("note", text);
    }
}

/// One frame as a line: `TEXT fin=1 rsv=0 mask=... len=5 'hello'`.
pub fn frame_line(h: &FrameHeader, payload_start: &[u8]) -> String {
    let op = match h.opcode.0 {
        0 => "CONT".to_owned(),
        1 => "TEXT".to_owned(),
        2 => "BIN".to_owned(),
        8 => "CLOSE".to_owned(),
        9 => "PING".to_owned(),
        10 => "PONG".to_owned(),
        n => format!("OP{n}"),
    };
    let mask = match h.mask_key {
        Some(k) => format!(" mask={}", hex::encode(k)),
        None if h.masked => " mask=flag".to_owned(),
        None => String::new(),
    };
    let shown = if payload_start.is_empty() {
        String::new()
    } else if (payload_start.len() as u64) < h.payload_len {
        format!(" {}…", crate::steps::describe_bytes(payload_start))
    } else {
        format!(" {}", crate::steps::describe_bytes(payload_start))
    };
    format!("{op} fin={} rsv={} len={}{mask}{shown}", u8::from(h.fin), h.rsv(), h.payload_len)
}
