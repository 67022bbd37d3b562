//! The capture stage on a thread of its own: reading the file, link/IP/TCP decoding
//! and reassembly run beside session decoding, handing over owned batches of flow
//! events through a bounded channel. The order of events is exactly that of a single
//! thread, so output does not depend on scheduling; memory stays bounded by the
//! channel's few batches.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::mpsc::sync_channel;
use wsprobe_flow::{
    CaptureError, CaptureReader, CloseReason, ConnId, FlowConfig, FlowEvent, FlowTable, GapReason, Side,
};

/// A batch is handed over once it holds this many payload bytes...
const BATCH_BYTES: usize = 1 << 20;
/// ...or this many events (so that a slow live capture on stdin is not held back long).
const BATCH_EVENTS: usize = 1024;
/// Batches in flight between the two threads.
const IN_FLIGHT: usize = 4;

/// A [`FlowEvent`] whose payload lives in its batch's buffer.
enum Owned {
    Opened {
        conn: ConnId,
        initiator: SocketAddr,
        responder: SocketAddr,
        syn_seen: bool,
        packet: u64,
        ts_nanos: i64,
    },
    Data {
        conn: ConnId,
        side: Side,
        offset: u64,
        start: usize,
        end: usize,
        packet: u64,
        ts_nanos: i64,
    },
    Gap {
        conn: ConnId,
        side: Side,
        offset: u64,
        len: u64,
        reason: GapReason,
        packet: u64,
        ts_nanos: i64,
    },
    Closed {
        conn: ConnId,
        reason: CloseReason,
        packet: u64,
        ts_nanos: i64,
    },
    Warning {
        conn: Option<ConnId>,
        packet: u64,
        message: String,
    },
}

struct Batch {
    events: Vec<Owned>,
    data: Vec<u8>,
}

impl Batch {
    /// An empty batch with room for a full one (no regrowth while it fills).
    fn new() -> Self {
        Batch {
            events: Vec::with_capacity(BATCH_EVENTS + 64),
            data: Vec::with_capacity(BATCH_BYTES + (64 << 10)),
        }
    }

    fn add(&mut self, e: FlowEvent<'_>) {
        self.events.push(match e {
            FlowEvent::Opened { conn, initiator, responder, syn_seen, packet, ts_nanos } => {
                Owned::Opened { conn, initiator, responder, syn_seen, packet, ts_nanos }
            }
            FlowEvent::Data { conn, side, offset, data, packet, ts_nanos } => {
                let start = self.data.len();
                self.data.extend_from_slice(data);
                Owned::Data { conn, side, offset, start, end: self.data.len(), packet, ts_nanos }
            }
            FlowEvent::Gap { conn, side, offset, len, reason, packet, ts_nanos } => {
                Owned::Gap { conn, side, offset, len, reason, packet, ts_nanos }
            }
            FlowEvent::Closed { conn, reason, packet, ts_nanos } => {
                Owned::Closed { conn, reason, packet, ts_nanos }
            }
            FlowEvent::Warning { conn, packet, message } => Owned::Warning { conn, packet, message },
        });
    }

    fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.events.len() >= BATCH_EVENTS
    }

    fn replay(&self, consume: &mut dyn FnMut(FlowEvent<'_>)) {
        for e in &self.events {
            consume(match e {
                Owned::Opened { conn, initiator, responder, syn_seen, packet, ts_nanos } => {
                    FlowEvent::Opened {
                        conn: *conn,
                        initiator: *initiator,
                        responder: *responder,
                        syn_seen: *syn_seen,
                        packet: *packet,
                        ts_nanos: *ts_nanos,
                    }
                }
                Owned::Data { conn, side, offset, start, end, packet, ts_nanos } => FlowEvent::Data {
                    conn: *conn,
                    side: *side,
                    offset: *offset,
                    data: &self.data[*start..*end],
                    packet: *packet,
                    ts_nanos: *ts_nanos,
                },
                Owned::Gap { conn, side, offset, len, reason, packet, ts_nanos } => FlowEvent::Gap {
                    conn: *conn,
                    side: *side,
                    offset: *offset,
                    len: *len,
                    reason: *reason,
                    packet: *packet,
                    ts_nanos: *ts_nanos,
                },
                Owned::Closed { conn, reason, packet, ts_nanos } => {
                    FlowEvent::Closed { conn: *conn, reason: *reason, packet: *packet, ts_nanos: *ts_nanos }
                }
                Owned::Warning { conn, packet, message } => {
                    FlowEvent::Warning { conn: *conn, packet: *packet, message: message.clone() }
                }
            });
        }
    }
}

/// How the capture stage ended.
pub(crate) struct End {
    /// Packets read.
    pub packets: u64,
    /// TCP connections seen.
    pub connections: u64,
    /// The error that stopped reading, if any (every event before it was handed over).
    pub error: Option<CaptureError>,
}

enum Msg {
    Batch(Batch),
    End(End),
}

/// Reads `capture` to its end (or first error) on a second thread, reassembling TCP
/// with `flow`, and gives every flow event, in order, to `consume` on this thread.
pub(crate) fn run<R: Read + Send>(
    mut capture: CaptureReader<R>,
    flow: FlowConfig,
    consume: &mut dyn FnMut(FlowEvent<'_>),
) -> End {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        scope.spawn(move || {
            let mut table = FlowTable::new(flow);
            let mut batch = Batch::new();
            let mut error = None;
            loop {
                match capture.next_packet() {
                    Ok(Some(pkt)) => table.push(&pkt, &mut |e| batch.add(e)),
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
                if batch.full() && tx.send(Msg::Batch(std::mem::replace(&mut batch, Batch::new()))).is_err() {
                    return;
                }
            }
            table.finish(&mut |e| batch.add(e));
            let end = End { packets: capture.packets_read(), connections: table.stats().flows_opened, error };
            // The receiver only goes away if this thread's caller unwinds.
            let _ = tx.send(Msg::Batch(batch));
            let _ = tx.send(Msg::End(end));
        });
        let mut end = None;
        for msg in rx {
            match msg {
                Msg::Batch(b) => b.replay(consume),
                Msg::End(e) => end = Some(e),
            }
        }
        end.unwrap_or(End { packets: 0, connections: 0, error: None })
    })
}
