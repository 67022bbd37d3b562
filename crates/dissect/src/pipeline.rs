//! The capture stage on a thread of its own: reading the file, link/IP/TCP decoding
//! and reassembly run beside session decoding, handing over owned batches of flow
//! events through a bounded channel. The order of events is exactly that of a single
//! thread, so output does not depend on scheduling; memory stays bounded by the
//! channel's few batches.

use std::io::Read;
use std::sync::mpsc::sync_channel;
use wsprobe_flow::{CaptureError, CaptureReader, FlowConfig, FlowEvent, FlowTable};

/// A batch is handed over once it holds this many payload bytes...
const BATCH_BYTES: usize = 1 << 20;
/// ...or this many events (so that a slow live capture on stdin is not held back long).
const BATCH_EVENTS: usize = 1024;
/// Batches in flight between the two threads.
const IN_FLIGHT: usize = 4;

/// Flow events without their bytes, and the bytes of the `Data` events, one after the
/// other, in `data` (`range` gives each event's part).
struct Batch {
    events: Vec<(FlowEvent<'static>, std::ops::Range<usize>)>,
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
        let start = self.data.len();
        if let FlowEvent::Data { data, .. } = &e {
            self.data.extend_from_slice(data);
        }
        self.events.push((e.with_data(&[]), start..self.data.len()));
    }

    fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.events.len() >= BATCH_EVENTS
    }

    fn replay(self, consume: &mut dyn FnMut(FlowEvent<'_>)) {
        for (e, range) in self.events {
            consume(e.with_data(&self.data[range]));
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
