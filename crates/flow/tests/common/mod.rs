//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use wsprobe_flow::{
    CaptureReader, CloseReason, ConnId, FlowConfig, FlowEvent, FlowTable, GapReason, LinkType, Packet, Side,
};

/// An owned copy of a flow event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Opened { conn: u64, initiator: String, responder: String, syn_seen: bool },
    Data { conn: u64, side: Side, offset: u64, data: Vec<u8>, packet: u64 },
    Gap { conn: u64, side: Side, offset: u64, len: u64, reason: GapReason },
    Closed { conn: u64, reason: CloseReason },
    Warning { conn: Option<u64>, message: String },
}

pub fn own(e: FlowEvent<'_>) -> Ev {
    match e {
        FlowEvent::Opened { conn, initiator, responder, syn_seen, .. } => Ev::Opened {
            conn: conn.0,
            initiator: initiator.to_string(),
            responder: responder.to_string(),
            syn_seen,
        },
        FlowEvent::Data { conn, side, offset, data, packet, .. } => {
            Ev::Data { conn: conn.0, side, offset, data: data.to_vec(), packet }
        }
        FlowEvent::Gap { conn, side, offset, len, reason, .. } => {
            Ev::Gap { conn: conn.0, side, offset, len, reason }
        }
        FlowEvent::Closed { conn, reason, .. } => Ev::Closed { conn: conn.0, reason },
        FlowEvent::Warning { conn, message, .. } => Ev::Warning { conn: conn.map(|c: ConnId| c.0), message },
    }
}

/// Per-connection, per-side reassembled bytes (`?` for gap bytes), checking
/// that Data/Gap events tile each stream.
#[derive(Debug, Default)]
pub struct Streams {
    pub bytes: BTreeMap<(u64, u8), Vec<u8>>,
    pub gaps: Vec<(u64, Side, u64, u64, GapReason)>,
    pub opened: Vec<(u64, String, String, bool)>,
    pub closed: Vec<(u64, CloseReason)>,
    pub warnings: Vec<String>,
}

fn side_ix(s: Side) -> u8 {
    match s {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

impl Streams {
    pub fn add(&mut self, e: Ev) {
        match e {
            Ev::Opened { conn, initiator, responder, syn_seen } => {
                self.opened.push((conn, initiator, responder, syn_seen))
            }
            Ev::Data { conn, side, offset, data, .. } => {
                let b = self.bytes.entry((conn, side_ix(side))).or_default();
                assert_eq!(offset, b.len() as u64, "data does not tile the stream");
                b.extend_from_slice(&data);
            }
            Ev::Gap { conn, side, offset, len, reason } => {
                let b = self.bytes.entry((conn, side_ix(side))).or_default();
                assert_eq!(offset, b.len() as u64, "gap does not tile the stream");
                b.extend(std::iter::repeat_n(b'?', len as usize));
                self.gaps.push((conn, side, offset, len, reason));
            }
            Ev::Closed { conn, reason } => {
                assert!(!self.closed.iter().any(|(c, _)| *c == conn), "closed twice");
                self.closed.push((conn, reason));
            }
            Ev::Warning { message, .. } => self.warnings.push(message),
        }
    }

    pub fn get(&self, conn: u64, side: Side) -> &[u8] {
        self.bytes.get(&(conn, side_ix(side))).map_or(&[], Vec::as_slice)
    }
}

/// Runs frames (all on one link type, timestamps 1 ms apart) through a table.
pub fn run_frames(link: LinkType, frames: &[Vec<u8>], cfg: FlowConfig) -> (Streams, Vec<Ev>) {
    let mut table = FlowTable::new(cfg);
    let mut evs = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let pkt = Packet {
            number: i as u64 + 1,
            ts_nanos: 1_000_000_000_000 + i as i64 * 1_000_000,
            interface: 0,
            link_type: link,
            data: f,
            orig_len: f.len() as u32,
        };
        table.push(&pkt, &mut |e| evs.push(own(e)));
    }
    table.finish(&mut |e| evs.push(own(e)));
    let mut s = Streams::default();
    for e in &evs {
        s.add(e.clone());
    }
    (s, evs)
}

/// Reads a whole capture through a flow table.
pub fn run_capture(bytes: &[u8], cfg: FlowConfig) -> (Streams, wsprobe_flow::FlowStats) {
    let mut reader = CaptureReader::new(bytes).expect("capture header");
    let mut table = FlowTable::new(cfg);
    let mut s = Streams::default();
    while let Some(p) = reader.next_packet().expect("packet") {
        table.push(&p, &mut |e| s.add(own(e)));
    }
    table.finish(&mut |e| s.add(own(e)));
    (s, table.stats())
}
