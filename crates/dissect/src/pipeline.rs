//! Decoding on two threads. The capture thread reads the file, decodes link/IP/TCP,
//! reassembles, and decodes the WebSocket sessions of odd-numbered connections
//! itself; the events of the other connections go, in owned batches through a bounded
//! channel, to a second engine on the calling thread. Every flow event has a sequence
//! number, every record the number of the event that produced it, and the calling
//! thread merges both engines' records in that order and numbers the sessions as
//! they appear: the output is exactly that of one engine on one thread, whatever the
//! scheduling. Memory stays bounded by the channel's few batches.

use crate::engine::Engine;
use crate::layers::Keys;
use crate::{Options, Record};
use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::sync::mpsc::sync_channel;
use wsprobe_flow::{CaptureError, CaptureReader, FlowEvent, FlowTable};

/// A batch is handed over once it holds this many payload bytes (a few batches are
/// in flight or waiting for reuse: larger ones cost peak memory, not speed)...
const BATCH_BYTES: usize = 256 << 10;
/// ...or this many events (so that a slow live capture on stdin is not held back long).
const BATCH_EVENTS: usize = 1024;
/// Batches in flight between the two threads.
const IN_FLIGHT: usize = 4;

/// Which engine decodes a connection's events: the capture thread's takes the odd
/// connections; the calling thread's the even ones and warnings about no connection.
fn on_capture_thread(e: &FlowEvent<'_>) -> bool {
    let conn = match e {
        FlowEvent::Opened { conn, .. }
        | FlowEvent::Data { conn, .. }
        | FlowEvent::Gap { conn, .. }
        | FlowEvent::Closed { conn, .. } => Some(*conn),
        FlowEvent::Warning { conn, .. } => *conn,
    };
    conn.is_some_and(|c| c.0 % 2 == 1)
}

/// What the capture thread hands over: the calling thread's events (without their
/// bytes, which follow one another in `data`), and the records the capture thread's
/// engine already produced, each with the sequence number of its event.
struct Batch {
    events: Vec<(u64, FlowEvent<'static>, Range<usize>)>,
    data: Vec<u8>,
    done: Vec<(u64, Record)>,
}

impl Batch {
    /// An empty batch with room for a full one (no regrowth while it fills).
    fn new() -> Self {
        Batch {
            events: Vec::with_capacity(BATCH_EVENTS + 64),
            data: Vec::with_capacity(BATCH_BYTES + (64 << 10)),
            done: Vec::new(),
        }
    }

    /// Empties the batch, keeping its allocations for the next one.
    fn clear(&mut self) {
        self.events.clear();
        self.data.clear();
        self.done.clear();
    }

    fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.events.len() + self.done.len() >= BATCH_EVENTS
    }
}

/// The capture thread's side: numbers events and sends each to its engine.
struct Router<'o> {
    engine: Engine<'o>,
    batch: Batch,
    seq: u64,
    /// Packet and time of the latest data or gap event (what ends connections at the
    /// end of the capture).
    last: Option<(u64, i64)>,
}

impl Router<'_> {
    fn route(&mut self, e: FlowEvent<'_>) {
        self.seq += 1;
        let seq = self.seq;
        if let FlowEvent::Data { packet, ts_nanos, .. } | FlowEvent::Gap { packet, ts_nanos, .. } = &e {
            self.last = Some((*packet, *ts_nanos));
        }
        if on_capture_thread(&e) {
            let done = &mut self.batch.done;
            self.engine.flow_event(e, &mut |r| done.push((seq, r)));
        } else {
            let start = self.batch.data.len();
            if let FlowEvent::Data { data, .. } = &e {
                self.batch.data.extend_from_slice(data);
            }
            self.batch.events.push((seq, e.with_data(&[]), start..self.batch.data.len()));
        }
    }
}

/// How the capture stage ended.
pub(crate) struct End {
    /// Packets read.
    pub packets: u64,
    /// TCP connections seen.
    pub connections: u64,
    /// The error that stopped reading, if any (every event before it was decoded).
    pub error: Option<CaptureError>,
}

/// The capture thread's last word: counts, the error if any, the latest position, and
/// what its engine reported when ending its open connections (with their numbers).
struct Last {
    end: End,
    last: Option<(u64, i64)>,
    finished: Vec<(u64, Record)>,
}

enum Msg {
    Batch(Batch),
    End(Last),
}

/// Gives the sessions of both engines one numbering, in order of appearance.
struct Numbering<'s> {
    next: u64,
    map: HashMap<(bool, u64), u64>,
    sink: &'s mut dyn FnMut(Record),
}

impl Numbering<'_> {
    fn emit(&mut self, capture_thread: bool, mut r: Record) {
        if let Some(local) = r.session() {
            let n = match r {
                Record::Session(_) => {
                    let n = self.next;
                    self.next += 1;
                    self.map.insert((capture_thread, local), n);
                    n
                }
                _ => self.map.get(&(capture_thread, local)).copied().unwrap_or(local),
            };
            if matches!(&r, Record::Event(e) if e.kind == "closed") {
                // A session's last record: forget it, so memory stays flat.
                self.map.remove(&(capture_thread, local));
            }
            r.set_session(n);
        }
        (self.sink)(r);
    }
}

/// Decodes `capture` to its end (or first error) as described above, giving every
/// record, in order, to `sink` on this thread.
pub(crate) fn run<R: Read + Send>(
    mut capture: CaptureReader<R>,
    opts: &Options,
    name: &str,
    sink: &mut dyn FnMut(Record),
) -> End {
    // Both engines number from 1; the merge renumbers from `first_session`.
    let local = Options { first_session: 1, ..opts.clone() };
    let keys = Keys { given: opts.keylog.clone(), ..Keys::default() };
    // Secrets embedded in the capture are added before any packet after them is read;
    // the other engine gets those packets' events later still.
    let embedded = keys.embedded.clone();
    capture.on_secrets(move |text| {
        if let Ok(mut log) = embedded.lock() {
            log.add(text);
        }
    });
    let keys = &keys;
    let mut numbering = Numbering { next: opts.first_session.max(1), map: HashMap::new(), sink };
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        // Emptied batches go back to the capture thread: a batch holds over a megabyte,
        // and allocating one per send cost page faults on every batch.
        let (recycle_tx, recycle_rx) = sync_channel::<Batch>(IN_FLIGHT + 2);
        let local_ref = &local;
        scope.spawn(move || {
            let mut table = FlowTable::new(local_ref.flow);
            let mut router = Router {
                engine: Engine::new(local_ref, keys, name),
                batch: Batch::new(),
                seq: 0,
                last: None,
            };
            let mut error = None;
            loop {
                match capture.next_packet() {
                    Ok(Some(pkt)) => table.push(&pkt, &mut |e| router.route(e)),
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
                if router.batch.full() {
                    let fresh = recycle_rx.try_recv().unwrap_or_else(|_| Batch::new());
                    if tx.send(Msg::Batch(std::mem::replace(&mut router.batch, fresh))).is_err() {
                        return;
                    }
                }
            }
            table.finish(&mut |e| router.route(e));
            if let Some((packet, ts)) = router.last {
                router.engine.set_last(packet, ts);
            }
            let mut finished = Vec::new();
            router.engine.finish_by_conn(&mut |conn, r| finished.push((conn, r)));
            let end = End { packets: capture.packets_read(), connections: table.stats().flows_opened, error };
            // The receiver only goes away if the calling thread unwinds.
            let _ = tx.send(Msg::Batch(router.batch));
            let _ = tx.send(Msg::End(Last { end, last: router.last, finished }));
        });
        let mut engine = Engine::new(&local, keys, name);
        let mut end = None;
        for msg in rx {
            match msg {
                Msg::Batch(mut batch) => {
                    let mut done = batch.done.drain(..).peekable();
                    for (seq, e, range) in batch.events.drain(..) {
                        while let Some((_, r)) = done.next_if(|(s, _)| *s < seq) {
                            numbering.emit(true, r);
                        }
                        engine.flow_event(e.with_data(&batch.data[range]), &mut |r| numbering.emit(false, r));
                    }
                    done.for_each(|(_, r)| numbering.emit(true, r));
                    batch.clear();
                    // The capture thread may have finished: then the batch is dropped.
                    let _ = recycle_tx.try_send(batch);
                }
                Msg::End(last) => {
                    if let Some((packet, ts)) = last.last {
                        engine.set_last(packet, ts);
                    }
                    let mut mine = Vec::new();
                    engine.finish_by_conn(&mut |conn, r| mine.push((conn, r)));
                    // Both lists are in connection order: merge them.
                    let mut theirs = last.finished.into_iter().peekable();
                    for (conn, r) in mine {
                        while let Some((_, t)) = theirs.next_if(|(c, _)| *c < conn) {
                            numbering.emit(true, t);
                        }
                        numbering.emit(false, r);
                    }
                    theirs.for_each(|(_, t)| numbering.emit(true, t));
                    end = Some(last.end);
                }
            }
        }
        end.unwrap_or(End { packets: 0, connections: 0, error: None })
    })
}
