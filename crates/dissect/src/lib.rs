//! # wsprobe-dissect
//!
//! Decodes every WebSocket session in a pcap or pcapng capture: TCP reassembly comes
//! from `wsprobe-flow`, everything WebSocket from the sans-IO core `wsprobe-wire`; this
//! crate only decides which connections are WebSocket, keeps the packet bookkeeping
//! (which packet, which time) and turns the core's events into [`Record`]s.
//!
//! ```no_run
//! let opts = wsprobe_dissect::Options { frames: true, ..Default::default() };
//! let d = wsprobe_dissect::dissect_path(std::path::Path::new("session.pcapng"), &opts);
//! for m in d.messages() {
//!     println!("session {} {} {} bytes", m.session, m.opcode, m.len);
//! }
//! print!("{}", d.transcript());
//! ```
//!
//! [`dissect_reader`] streams records to a callback with flat memory (bounded by
//! [`FlowConfig`](wsprobe_flow::FlowConfig) and [`Limits`](wsprobe_wire::Limits));
//! [`dissect_path`] and [`dissect_bytes`] collect them into a [`Dissection`].
//! The JSON schema of the records and the transcript format are described in the
//! crate's README.
#![forbid(unsafe_code)]

mod engine;
#[doc(hidden)]
pub mod fuzz;
mod json;
mod layers;
mod pipeline;
pub mod records;
mod summary;
mod transcript;

pub use json::write_record;
pub use layers::Keys;
pub use records::{
    EventRecord, FrameRecord, HandshakeState, MessageRecord, Record, SessionRecord, ViolationRecord,
    WarningRecord,
};
pub use summary::Summary;
pub use transcript::{render_transcript, tls_text};
pub use wsprobe_tls::KeyLog;
pub use wsprobe_wire::{Dir, Role};

use std::io::Read;
use std::path::Path;
use wsprobe_flow::CaptureReader;

/// How much of message payloads the records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadMode {
    /// No payload.
    None,
    /// A short preview: quoted text, or hex (the default).
    #[default]
    Preview,
    /// The preview and the whole payload, base64 (as far as [`Limits::message_keep`](wsprobe_wire::Limits) kept it).
    Full,
}

/// What to decode and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Look for WebSocket frames in connections whose handshake is not in the capture
    /// (frame synchronisation heuristics). Default true.
    pub sync: bool,
    /// Memory limits of each session.
    pub limits: wsprobe_wire::Limits,
    /// Flow table settings (connection cap, idle timeout, reassembly buffer).
    pub flow: wsprobe_flow::FlowConfig,
    /// Message payload in records.
    pub payload: PayloadMode,
    /// Emit a [`FrameRecord`] for every frame. Default false.
    pub frames: bool,
    /// Build each record's transcript line (the `text` field), which
    /// [`Dissection::transcript`] and the table output print. Costs a formatted line per
    /// record: off for jsonl output. Default true.
    pub text: bool,
    /// Number given to the first session found (to keep numbers unique over several
    /// captures). Default 1.
    pub first_session: u64,
    /// Secrets to decrypt TLS sessions with (an NSS key log); secrets embedded in a
    /// pcapng capture are used as well. Default none.
    pub keylog: Option<std::sync::Arc<wsprobe_tls::KeyLog>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: true,
            limits: wsprobe_wire::Limits::default(),
            flow: wsprobe_flow::FlowConfig::default(),
            payload: PayloadMode::Preview,
            frames: false,
            text: true,
            first_session: 1,
            keylog: None,
        }
    }
}

/// A capture that could not be read to its end (truncated, corrupt, not a capture).
/// Everything decoded before the fault has been reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DissectError {
    /// The capture's name.
    pub file: String,
    /// Byte offset in the capture file of the fault.
    pub offset: u64,
    /// What is wrong (mentions the offset).
    pub message: String,
}

/// Decodes a capture, giving each record to `sink` as soon as it is decoded. Memory
/// stays flat whatever the capture's size. Returns the summary, or the capture-level
/// error that stopped reading (after every record decoded before it was given out and
/// every open session was ended).
pub fn dissect_reader<R: Read + Send>(
    reader: R,
    name: &str,
    opts: &Options,
    sink: &mut dyn FnMut(Record),
) -> Result<Summary, DissectError> {
    let mut summary = Summary::default();
    let mut counting = |r: Record| {
        summary.add(&r);
        sink(r);
    };
    let reader = match CaptureReader::new(reader) {
        Ok(r) => r,
        Err(e) => {
            return Err(DissectError { file: name.to_string(), offset: e.offset, message: e.to_string() });
        }
    };
    let end = pipeline::run(reader, opts, name, &mut counting);
    summary.packets = end.packets;
    summary.connections = end.connections;
    let error =
        end.error.map(|e| DissectError { file: name.to_string(), offset: e.offset, message: e.to_string() });
    match error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Everything a capture held, collected.
#[derive(Debug, Clone, PartialEq)]
pub struct Dissection {
    /// Records in the order they were decoded.
    pub records: Vec<Record>,
    /// Counts over all records.
    pub summary: Summary,
    /// The capture-level error that stopped reading, if any (records before it are kept).
    pub error: Option<DissectError>,
}

impl Dissection {
    /// The stable text transcript (see the README for the format).
    pub fn transcript(&self) -> String {
        render_transcript(&self.records, self.error.as_ref())
    }

    /// Session records.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Session(s) => Some(&**s),
            _ => None,
        })
    }

    /// Frame records (present with [`Options::frames`]).
    pub fn frames(&self) -> impl Iterator<Item = &FrameRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Frame(f) => Some(f),
            _ => None,
        })
    }

    /// Message records.
    pub fn messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
    }

    /// Violation records.
    pub fn violations(&self) -> impl Iterator<Item = &ViolationRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Violation(v) => Some(v),
            _ => None,
        })
    }

    /// Warning records.
    pub fn warnings(&self) -> impl Iterator<Item = &WarningRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Warning(w) => Some(w),
            _ => None,
        })
    }
}

fn collect<R: Read + Send>(reader: R, name: &str, opts: &Options) -> Dissection {
    let mut records = Vec::new();
    let result = dissect_reader(reader, name, opts, &mut |r| records.push(r));
    let (mut summary, error) = match result {
        Ok(s) => (s, None),
        Err(e) => (Summary::default(), Some(e)),
    };
    if error.is_some() {
        for r in &records {
            summary.add(r);
        }
    }
    Dissection { records, summary, error }
}

/// Decodes a capture file (`-` reads standard input).
pub fn dissect_path(path: &Path, opts: &Options) -> Dissection {
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        return collect(std::io::stdin(), "-", opts);
    }
    match std::fs::File::open(path) {
        Ok(f) => collect(std::io::BufReader::new(f), &name, opts),
        Err(e) => Dissection {
            records: Vec::new(),
            summary: Summary::default(),
            error: Some(DissectError { file: name, offset: 0, message: format!("cannot open: {e}") }),
        },
    }
}

/// Decodes a capture held in memory.
pub fn dissect_bytes(bytes: &[u8], opts: &Options) -> Dissection {
    collect(bytes, "<memory>", opts)
}

/// Whether a rule id matches a pattern where `*` stands for any run of characters and
/// `?` for one (e.g. `close.*`, `mask.*-unmasked`). Used by the `--rule` filter.
pub fn rule_matches(pattern: &str, id: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = id.chars().collect();
    go(&p, &s)
}
