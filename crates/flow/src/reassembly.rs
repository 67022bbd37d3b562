//! Per-direction TCP byte-stream reassembly.
//!
//! One [`Stream`] turns the segments one side sent into an in-order byte stream,
//! reported as data and gap events with 64-bit stream offsets (so 32-bit sequence
//! wrap-around is invisible to the consumer).
//!
//! Policies:
//! * **Base sequence.** After a SYN, offset 0 is the byte after the SYN. Without
//!   one (capture started mid-connection) the segments are held until the peer
//!   sends a packet, 8 data segments are held, or a FIN/RST/flush comes; the
//!   lowest sequence number among them (the "first window") becomes offset 0.
//! * **Overlaps: first bytes received win.** Bytes already delivered or buffered
//!   are never replaced. When an overlap's bytes differ, a conflict is reported
//!   (against buffered bytes, and against the last `window` delivered bytes).
//! * **Holes** are declared lost ([`GapReason::Lost`]) only when the loss is
//!   proven: a FIN or RST, the connection's end (flush), or a peer ACK past the
//!   hole that has stayed unfilled for [`Reorder::packets`] more packets of the
//!   connection or [`Reorder::nanos`] of capture time. An ACK alone proves the
//!   bytes were sent, not that the capture missed them: with several capture
//!   points or multi-queue NICs they often come a few packets after the ACK.
//!   And ([`GapReason::BufferCap`]) when the out-of-order buffer passes its cap.
//! * **Snaplen cuts** become [`GapReason::Snaplen`] gaps at their own offsets.
//!
//! Segments more than 1 GiB ahead of (or behind) the next expected byte are
//! ignored as out of window.

use std::collections::{BTreeMap, VecDeque};

use crate::events::GapReason;

/// Segments whose sequence number lies further than this from the next
/// expected byte are ignored.
const MAX_WINDOW: i64 = 1 << 30;
/// Bookkeeping cost charged per buffered chunk against the buffer cap.
const CHUNK_OVERHEAD: usize = 64;
/// Data segments held before choosing a base sequence without a SYN.
const HOLD_SEGMENTS: usize = 8;

/// Peer ACKs remembered per direction while they are ahead of the delivered bytes.
const PROOFS_MAX: usize = 64;

/// How long a hole that a peer ACK proved sent may stay unfilled before it is
/// declared lost: whichever bound is reached first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reorder {
    /// Packets of the connection (either direction) seen since the ACK.
    pub packets: u64,
    /// Capture time since the ACK, in nanoseconds.
    pub nanos: i64,
}

impl Default for Reorder {
    fn default() -> Self {
        Reorder { packets: 64, nanos: 1_000_000_000 }
    }
}

/// A peer ACK ahead of the delivered bytes: everything before `target` was sent.
#[derive(Clone, Copy, Debug)]
struct Proof {
    target: u64,
    /// Connection packet count when the ACK was seen.
    count: u64,
    ts: i64,
}

/// What a [`Stream`] reports.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamEvent<'a> {
    Data {
        offset: u64,
        data: &'a [u8],
        packet: u64,
        ts: i64,
    },
    Gap {
        offset: u64,
        len: u64,
        reason: GapReason,
        packet: u64,
        ts: i64,
    },
    /// Overlapping bytes differ from the ones kept.
    Conflict {
        offset: u64,
        len: u64,
        packet: u64,
    },
}

/// One segment handed to a [`Stream`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegIn<'a> {
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub payload: &'a [u8],
    pub missing: u32,
    pub packet: u64,
    pub ts: i64,
}

/// A [`SegIn`] with its payload copied, kept for later.
pub(crate) struct OwnedSeg {
    seq: u32,
    syn: bool,
    fin: bool,
    payload: Vec<u8>,
    missing: u32,
    packet: u64,
    ts: i64,
}

impl OwnedSeg {
    /// A copy of `s`.
    pub(crate) fn new(s: &SegIn<'_>) -> Self {
        OwnedSeg {
            seq: s.seq,
            syn: s.syn,
            fin: s.fin,
            payload: s.payload.to_vec(),
            missing: s.missing,
            packet: s.packet,
            ts: s.ts,
        }
    }

    /// The segment, borrowing the payload.
    pub(crate) fn as_in(&self) -> SegIn<'_> {
        SegIn {
            seq: self.seq,
            syn: self.syn,
            fin: self.fin,
            payload: &self.payload,
            missing: self.missing,
            packet: self.packet,
            ts: self.ts,
        }
    }

    /// Payload bytes held.
    pub(crate) fn len(&self) -> usize {
        self.payload.len()
    }

    /// Capture time of the segment.
    pub(crate) fn ts(&self) -> i64 {
        self.ts
    }
}

struct Chunk {
    /// `None`: bytes cut by the snapshot length.
    bytes: Option<Vec<u8>>,
    len: u64,
    packet: u64,
    ts: i64,
}

/// Reassembler for one direction of a TCP connection.
pub(crate) struct Stream {
    anchored: bool,
    /// Sequence number of the byte at offset `next`.
    next_seq: u32,
    /// Offset of the next byte to deliver.
    next: u64,
    held: Vec<OwnedSeg>,
    held_bytes: usize,
    ooo: BTreeMap<u64, Chunk>,
    buffered: usize,
    /// The last delivered bytes (ending at `next`), for conflict checks: a ring, so
    /// that each delivered byte is copied once (a shifted `Vec` moved the whole
    /// window on every segment).
    tail: VecDeque<u8>,
    fin: Option<u64>,
    finished: bool,
    cap: usize,
    window: usize,
    reorder: Reorder,
    /// Peer ACKs (and this side's FIN) past `next`, in arrival order.
    proofs: VecDeque<Proof>,
    /// The connection's packet count at the latest [`tick`](Self::tick).
    count: u64,
}

type Out<'o> = &'o mut dyn FnMut(StreamEvent<'_>);

impl Stream {
    /// A stream with an out-of-order cap of `cap` bytes that remembers the last
    /// `window` delivered bytes for conflict detection.
    pub(crate) fn new(cap: usize, window: usize, reorder: Reorder) -> Self {
        Stream {
            anchored: false,
            next_seq: 0,
            next: 0,
            held: Vec::new(),
            held_bytes: 0,
            ooo: BTreeMap::new(),
            buffered: 0,
            tail: VecDeque::new(),
            fin: None,
            finished: false,
            cap,
            window,
            reorder,
            proofs: VecDeque::new(),
            count: 0,
        }
    }

    /// True once a FIN was processed.
    pub(crate) fn fin_seen(&self) -> bool {
        self.finished
    }

    /// Bytes currently buffered (held or out of order), bookkeeping included.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered + self.held_bytes
    }

    /// Handles one segment.
    pub(crate) fn segment(&mut self, s: SegIn<'_>, out: Out<'_>) {
        if !self.anchored {
            if s.syn {
                self.anchor(s.seq.wrapping_add(1), out);
            } else {
                if s.payload.is_empty() && s.missing == 0 && !s.fin {
                    return;
                }
                self.held_bytes += s.payload.len() + CHUNK_OVERHEAD;
                self.held.push(OwnedSeg::new(&s));
                if s.fin || self.held.len() >= HOLD_SEGMENTS || self.held_bytes > self.cap {
                    self.anchor_pending(out);
                }
                return;
            }
        }
        self.segment_anchored(s, out);
    }

    /// Chooses the base sequence from the held segments (lowest one) if no SYN
    /// fixed it yet.
    pub(crate) fn anchor_pending(&mut self, out: Out<'_>) {
        if self.anchored || self.held.is_empty() {
            return;
        }
        let first = self.held.first().map_or(0, |h| h.seq);
        let base =
            self.held.iter().map(|h| h.seq).min_by_key(|s| s.wrapping_sub(first) as i32).unwrap_or(first);
        self.anchor(base, out);
    }

    fn anchor(&mut self, base: u32, out: Out<'_>) {
        self.anchored = true;
        self.next_seq = base;
        self.next = 0;
        let held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        for h in &held {
            self.segment_anchored(h.as_in(), out);
        }
    }

    fn segment_anchored(&mut self, s: SegIn<'_>, out: Out<'_>) {
        if self.finished {
            return;
        }
        let data_seq = s.seq.wrapping_add(u32::from(s.syn));
        let delta = i64::from(data_seq.wrapping_sub(self.next_seq) as i32);
        if delta.abs() > MAX_WINDOW {
            return;
        }
        let start = self.next as i64 + delta;
        let total = s.payload.len() as i64 + i64::from(s.missing);
        if total > 0 {
            self.insert(start, s.payload, u64::from(s.missing), s.packet, s.ts, out);
        }
        if s.fin && self.fin.is_none() {
            // The FIN proves everything before it was sent; bytes before it may still
            // come (captures reorder), so holes before it wait like those an ACK
            // proves (see `tick`).
            let fin_at = (start + total).max(0) as u64;
            self.fin = Some(fin_at);
            if fin_at > self.next {
                self.proofs.push_back(Proof { target: fin_at, count: self.count, ts: s.ts });
            }
        }
        self.end_at_fin();
    }

    /// Ends the stream once every byte before the FIN was delivered (or declared lost).
    fn end_at_fin(&mut self) {
        if self.finished || self.fin.is_none_or(|f| self.next < f) {
            return;
        }
        self.finished = true;
        self.ooo.clear();
        self.buffered = 0;
        self.tail = VecDeque::new();
        self.proofs.clear();
    }

    /// Stream offset of sequence number `ack`, if it lies ahead of the next byte
    /// to deliver (and the stream is anchored and open).
    fn ahead(&self, ack: u32) -> Option<u64> {
        if !self.anchored || self.finished {
            return None;
        }
        let delta = i64::from(ack.wrapping_sub(self.next_seq) as i32);
        (delta > 0 && delta <= MAX_WINDOW).then(|| self.next + delta as u64)
    }

    /// Whether the peer acknowledged bytes of this stream that were not delivered
    /// yet: a segment carrying that ACK was sent after them.
    pub(crate) fn lags(&self, ack: u32) -> bool {
        self.ahead(ack).is_some()
    }

    /// The peer acknowledged up to `ack` in its `count`-th packet of the
    /// connection: the bytes before it were sent. Remembered as a proof; see
    /// [`tick`](Self::tick).
    pub(crate) fn note_ack(&mut self, ack: u32, count: u64, ts: i64) {
        let Some(target) = self.ahead(ack) else {
            return;
        };
        let full = self.proofs.len() >= PROOFS_MAX;
        match self.proofs.back_mut() {
            Some(last) if last.target >= target => {}
            Some(last) if full => last.target = target,
            _ => self.proofs.push_back(Proof { target, count, ts }),
        }
    }

    /// Declares lost the holes that proofs older than the reorder bound cover,
    /// as of the connection's `count`-th packet.
    pub(crate) fn tick(&mut self, count: u64, packet: u64, ts: i64, out: Out<'_>) {
        self.count = count;
        while let Some(p) = self.proofs.front().copied() {
            if p.target <= self.next {
                self.proofs.pop_front();
                continue;
            }
            let due = count.saturating_sub(p.count) >= self.reorder.packets
                || ts.saturating_sub(p.ts) >= self.reorder.nanos;
            if !due {
                return;
            }
            self.proofs.pop_front();
            // An ACK one past everything, with nothing buffered: it covers a FIN
            // the capture has not shown, not a byte.
            if p.target == self.next + 1 && self.ooo.is_empty() {
                continue;
            }
            self.declare_lost_until(p.target, GapReason::Lost, packet, ts, out);
            self.end_at_fin();
        }
    }

    /// Declares every remaining hole lost and delivers everything buffered.
    pub(crate) fn flush(&mut self, packet: u64, ts: i64, out: Out<'_>) {
        self.anchor_pending(out);
        let end = self.ooo.last_key_value().map_or(0, |(k, c)| k.saturating_add(c.len));
        let known = end.max(self.fin.unwrap_or(0)).max(self.next);
        // Bytes a peer ACK proved sent are lost now that the connection ended; an ACK
        // one past everything known covers a FIN, not a byte.
        let proved = self.proofs.back().map_or(0, |p| p.target);
        let target = if proved == known + 1 { known } else { known.max(proved) };
        self.declare_lost_until(target, GapReason::Lost, packet, ts, out);
        self.ooo.clear();
        self.buffered = 0;
        self.tail = VecDeque::new();
        self.held = Vec::new();
        self.held_bytes = 0;
        self.proofs.clear();
    }

    fn advance(&mut self, n: u64) {
        self.next += n;
        self.next_seq = self.next_seq.wrapping_add(n as u32);
    }

    fn deliver(&mut self, data: &[u8], packet: u64, ts: i64, out: Out<'_>) {
        if data.is_empty() {
            return;
        }
        out(StreamEvent::Data { offset: self.next, data, packet, ts });
        self.advance(data.len() as u64);
        if self.window == 0 {
            return;
        }
        let data = data.get(data.len().saturating_sub(self.window)..).unwrap_or_default();
        let excess = (self.tail.len() + data.len()).saturating_sub(self.window);
        self.tail.drain(..excess.min(self.tail.len()));
        self.tail.extend(data);
    }

    fn gap(&mut self, len: u64, reason: GapReason, packet: u64, ts: i64, out: Out<'_>) {
        if len == 0 {
            return;
        }
        out(StreamEvent::Gap { offset: self.next, len, reason, packet, ts });
        self.advance(len);
        self.tail.clear();
    }

    /// Compares bytes of a segment starting at `start` with the delivered tail.
    fn check_tail(&self, start: i64, payload: &[u8], packet: u64, out: Out<'_>) {
        // A TCP keep-alive probe repeats the byte before `next` with arbitrary
        // content: not a conflict.
        if payload.len() == 1 && start + 1 == self.next as i64 {
            return;
        }
        let tail_start = self.next as i64 - self.tail.len() as i64;
        let from = start.max(tail_start);
        let to = (start + payload.len() as i64).min(self.next as i64);
        if from >= to {
            return;
        }
        let a = payload.get((from - start) as usize..(to - start) as usize);
        let (lo, hi) = ((from - tail_start) as usize, (to - tail_start) as usize);
        if let Some(a) = a
            && hi <= self.tail.len()
            && !a.iter().eq(self.tail.range(lo..hi))
        {
            out(StreamEvent::Conflict { offset: from as u64, len: (to - from) as u64, packet });
        }
    }

    fn insert(&mut self, start: i64, payload: &[u8], missing: u64, packet: u64, ts: i64, out: Out<'_>) {
        let next = self.next as i64;
        let mut start = start;
        let mut payload = payload;
        let mut missing = missing;
        if start < next {
            self.check_tail(start, payload, packet, out);
            let skip = (next - start) as u64;
            if skip >= payload.len() as u64 {
                let past = skip - payload.len() as u64;
                missing = missing.saturating_sub(past);
                payload = &[];
            } else {
                payload = payload.get(skip as usize..).unwrap_or_default();
            }
            start = next;
            if payload.is_empty() && missing == 0 {
                return;
            }
        }
        let start = start as u64;
        if start == self.next {
            // Deliver straight from the packet up to the first buffered chunk.
            let room = self.ooo.first_key_value().map_or(u64::MAX, |(k, _)| k - self.next);
            let direct = (payload.len() as u64).min(room) as usize;
            let (now, rest) = payload.split_at(direct);
            self.deliver(now, packet, ts, out);
            payload = rest;
            let room_left = room - direct as u64;
            if payload.is_empty() && missing > 0 && missing <= room_left {
                self.gap(missing, GapReason::Snaplen, packet, ts, out);
                missing = 0;
            }
            if payload.is_empty() && missing == 0 {
                self.drain(out);
                return;
            }
            let at = self.next;
            self.insert_ooo(at, payload, missing, packet, ts, out);
        } else {
            self.insert_ooo(start, payload, missing, packet, ts, out);
        }
        self.drain(out);
        while self.buffered > self.cap {
            let Some(first) = self.ooo.first_key_value().map(|(k, _)| *k) else {
                break;
            };
            self.declare_lost_until(first, GapReason::BufferCap, packet, ts, out);
            if first == self.next {
                self.drain(out);
            }
        }
    }

    /// Buffers `[start, start + payload + missing)`, keeping bytes already
    /// buffered where they overlap.
    fn insert_ooo(&mut self, start: u64, payload: &[u8], missing: u64, packet: u64, ts: i64, out: Out<'_>) {
        let dend = start + payload.len() as u64;
        let end = dend + missing;
        let mut overlaps: Vec<(u64, u64)> = Vec::new();
        for (k, c) in self.ooo.range(..end).rev() {
            if k + c.len <= start {
                break;
            }
            overlaps.push((*k, c.len));
        }
        overlaps.reverse();
        let mut conflict: Option<(u64, u64)> = None;
        let mut cursor = start;
        for (cs, clen) in overlaps {
            let ce = cs + clen;
            if cs > cursor {
                self.add_piece(start, payload, cursor, cs, end, packet, ts);
            }
            // Compare the overlapping data bytes.
            let from = cs.max(start);
            let to = ce.min(dend);
            if from < to
                && let Some(Chunk { bytes: Some(old), .. }) = self.ooo.get(&cs)
            {
                let a = old.get((from - cs) as usize..(to - cs) as usize);
                let b = payload.get((from - start) as usize..(to - start) as usize);
                if a != b && conflict.is_none() {
                    conflict = Some((from, to - from));
                }
            }
            cursor = cursor.max(ce);
        }
        if cursor < end {
            self.add_piece(start, payload, cursor, end, end, packet, ts);
        }
        if let Some((offset, len)) = conflict {
            out(StreamEvent::Conflict { offset, len, packet });
        }
    }

    /// Adds the part `[a, b)` of a segment that starts at `start` (data then
    /// missing bytes up to `end`).
    #[allow(clippy::too_many_arguments)]
    fn add_piece(&mut self, start: u64, payload: &[u8], a: u64, b: u64, end: u64, packet: u64, ts: i64) {
        let dend = start + payload.len() as u64;
        let b = b.min(end);
        if a < dend {
            let to = b.min(dend);
            let bytes = payload.get((a - start) as usize..(to - start) as usize).unwrap_or_default().to_vec();
            self.buffered += bytes.len() + CHUNK_OVERHEAD;
            self.ooo.insert(a, Chunk { len: to - a, bytes: Some(bytes), packet, ts });
        }
        let ma = a.max(dend);
        if ma < b {
            self.buffered += CHUNK_OVERHEAD;
            self.ooo.insert(ma, Chunk { bytes: None, len: b - ma, packet, ts });
        }
    }

    /// Delivers buffered chunks that start at `next`.
    fn drain(&mut self, out: Out<'_>) {
        self.drain_chunks(out);
        self.end_at_fin();
    }

    fn drain_chunks(&mut self, out: Out<'_>) {
        while let Some(entry) = self.ooo.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let key = *entry.key();
            let c = entry.remove();
            self.buffered =
                self.buffered.saturating_sub(c.bytes.as_ref().map_or(0, Vec::len) + CHUNK_OVERHEAD);
            // Defensive: a chunk can only start before `next` if bookkeeping
            // went wrong; drop the stale prefix.
            let skip = self.next - key;
            if skip >= c.len {
                continue;
            }
            match c.bytes {
                Some(b) => {
                    let b = b.get(skip as usize..).unwrap_or_default();
                    self.deliver(b, c.packet, c.ts, out);
                }
                None => self.gap(c.len - skip, GapReason::Snaplen, c.packet, c.ts, out),
            }
        }
    }

    /// Delivers and declares holes lost until `next >= target`.
    fn declare_lost_until(&mut self, target: u64, reason: GapReason, packet: u64, ts: i64, out: Out<'_>) {
        loop {
            self.drain(out);
            if self.next >= target {
                break;
            }
            let hole_end = self.ooo.first_key_value().map_or(target, |(k, _)| (*k).min(target));
            self.gap(hole_end - self.next, reason, packet, ts, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collected output: concatenated data (gaps as `None` runs) and events.
    #[derive(Default, Debug)]
    struct Got {
        bytes: Vec<u8>,
        gaps: Vec<(u64, u64, GapReason)>,
        conflicts: usize,
    }

    fn run(stream: &mut Stream, got: &mut Got, seg: SegIn<'_>) {
        let mut f = |e: StreamEvent<'_>| collect(got, e);
        stream.segment(seg, &mut f);
    }

    fn collect(got: &mut Got, e: StreamEvent<'_>) {
        match e {
            StreamEvent::Data { offset, data, .. } => {
                assert_eq!(offset, got.bytes.len() as u64, "data out of order");
                got.bytes.extend_from_slice(data);
            }
            StreamEvent::Gap { offset, len, reason, .. } => {
                assert_eq!(offset, got.bytes.len() as u64, "gap out of order");
                got.gaps.push((offset, len, reason));
                got.bytes.extend(std::iter::repeat_n(b'?', len as usize));
            }
            StreamEvent::Conflict { .. } => got.conflicts += 1,
        }
    }

    fn seg(seq: u32, payload: &[u8]) -> SegIn<'_> {
        SegIn { seq, syn: false, fin: false, payload, missing: 0, packet: 0, ts: 0 }
    }

    fn syn(isn: u32) -> SegIn<'static> {
        SegIn { syn: true, ..seg(isn, &[]) }
    }

    #[test]
    fn in_order_reorder_and_retransmit() {
        let mut s = Stream::new(1 << 20, 64, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(100));
        run(&mut s, &mut g, seg(101, b"hello "));
        run(&mut s, &mut g, seg(113, b"!!"));
        run(&mut s, &mut g, seg(107, b"world "));
        run(&mut s, &mut g, seg(101, b"hello "));
        assert_eq!(g.bytes, b"hello world !!");
        assert!(g.gaps.is_empty());
        assert_eq!(g.conflicts, 0);
    }

    #[test]
    fn overlap_first_wins_and_conflicts() {
        let mut s = Stream::new(1 << 20, 64, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(0));
        run(&mut s, &mut g, seg(1, b"abcd"));
        // Overlaps delivered bytes with different content, and adds "ef".
        run(&mut s, &mut g, seg(3, b"XXef"));
        assert_eq!(g.bytes, b"abcdef");
        assert_eq!(g.conflicts, 1);
        // Buffered overlap: "kl" first, then "ijKLmn": kept "kl".
        run(&mut s, &mut g, seg(11, b"kl"));
        run(&mut s, &mut g, seg(9, b"ijKLmn"));
        run(&mut s, &mut g, seg(7, b"gh"));
        assert_eq!(g.bytes, b"abcdefghijklmn");
        assert_eq!(g.conflicts, 2);
        // Same-content overlap: no conflict.
        run(&mut s, &mut g, seg(13, b"mnop"));
        assert_eq!(g.bytes, b"abcdefghijklmnop");
        assert_eq!(g.conflicts, 2);
    }

    #[test]
    fn wraparound() {
        let mut s = Stream::new(1 << 20, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(u32::MAX - 3));
        run(&mut s, &mut g, seg(u32::MAX - 2, b"abc"));
        run(&mut s, &mut g, seg(3, b"gh"));
        run(&mut s, &mut g, seg(0, b"def"));
        assert_eq!(g.bytes, b"abcdefgh");
    }

    #[test]
    fn ack_past_hole_waits_then_cap() {
        let mut s = Stream::new(1 << 20, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(0));
        run(&mut s, &mut g, seg(1, b"ab"));
        run(&mut s, &mut g, seg(5, b"ef"));
        // An ACK past the hole proves it was sent; it may still come.
        s.note_ack(7, 1, 0);
        s.tick(63, 9, 999_999_999, &mut |e| collect(&mut g, e));
        assert!(g.gaps.is_empty());
        run(&mut s, &mut g, seg(3, b"cd"));
        assert_eq!(g.bytes, b"abcdef");
        // A later hole, proven by an ACK, is given up after 64 packets...
        run(&mut s, &mut g, seg(9, b"ij"));
        s.note_ack(11, 100, 0);
        s.tick(163, 9, 0, &mut |e| collect(&mut g, e));
        assert!(g.gaps.is_empty());
        s.tick(164, 9, 0, &mut |e| collect(&mut g, e));
        assert_eq!(g.bytes, b"abcdef??ij");
        assert_eq!(g.gaps, vec![(6, 2, GapReason::Lost)]);
        // ... or after a second of capture time.
        run(&mut s, &mut g, seg(13, b"mn"));
        s.note_ack(15, 200, 5);
        s.tick(201, 9, 1_000_000_005, &mut |e| collect(&mut g, e));
        assert_eq!(g.bytes, b"abcdef??ij??mn");

        let mut s = Stream::new(100 + 2 * CHUNK_OVERHEAD, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(0));
        run(&mut s, &mut g, seg(11, &[1; 60]));
        assert!(g.gaps.is_empty());
        run(&mut s, &mut g, seg(81, &[2; 60]));
        assert_eq!(g.gaps, vec![(0, 10, GapReason::BufferCap)]);
        assert_eq!(g.bytes.len(), 70);
        assert!(s.buffered() <= 100 + 2 * CHUNK_OVERHEAD);
    }

    #[test]
    fn snaplen_in_order_and_buffered() {
        let mut s = Stream::new(1 << 20, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(0));
        run(&mut s, &mut g, SegIn { missing: 6, ..seg(1, b"abcd") });
        run(&mut s, &mut g, seg(11, b"xy"));
        assert_eq!(g.gaps, vec![(4, 6, GapReason::Snaplen)]);
        // Out of order cut segment.
        run(&mut s, &mut g, seg(19, b"zz"));
        run(&mut s, &mut g, SegIn { missing: 4, ..seg(13, b"12") });
        assert_eq!(g.bytes, b"abcd??????xy12????zz");
        assert_eq!(g.gaps[1], (14, 4, GapReason::Snaplen));
    }

    #[test]
    fn midstream_base_is_lowest_of_first_window() {
        let mut s = Stream::new(1 << 20, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, seg(5010, b"world"));
        run(&mut s, &mut g, seg(5000, b"hello, the"));
        assert!(g.bytes.is_empty());
        s.anchor_pending(&mut |e| collect(&mut g, e));
        assert_eq!(g.bytes, b"hello, theworld");
    }

    #[test]
    fn fin_waits_for_reordered_bytes_then_declares_holes() {
        let mut s = Stream::new(1 << 20, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(0));
        run(&mut s, &mut g, seg(1, b"ab"));
        run(&mut s, &mut g, SegIn { fin: true, ..seg(5, b"ef") });
        assert_eq!(g.bytes, b"ab");
        assert!(!s.fin_seen());
        run(&mut s, &mut g, seg(3, b"cd"));
        assert_eq!(g.bytes, b"abcdef");
        assert!(s.fin_seen());
        run(&mut s, &mut g, seg(3, b"cd"));
        assert_eq!(g.bytes, b"abcdef");

        // A hole before the FIN that never fills is given up after the reorder bound.
        let mut s = Stream::new(1 << 20, 0, Reorder::default());
        let mut g = Got::default();
        run(&mut s, &mut g, syn(0));
        s.tick(10, 0, 0, &mut |e| collect(&mut g, e));
        run(&mut s, &mut g, seg(1, b"ab"));
        run(&mut s, &mut g, SegIn { fin: true, ..seg(5, b"ef") });
        s.tick(73, 0, 0, &mut |e| collect(&mut g, e));
        assert!(!s.fin_seen());
        s.tick(74, 0, 0, &mut |e| collect(&mut g, e));
        assert_eq!(g.bytes, b"ab??ef");
        assert!(s.fin_seen());
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_segmentation_reassembles(
                data in proptest::collection::vec(any::<u8>(), 1..400),
                cuts in proptest::collection::vec(0usize..400, 0..20),
                order in proptest::collection::vec(any::<u32>(), 0..40),
                dups in proptest::collection::vec((0usize..40, 0usize..400, 1usize..50), 0..10),
                isn in any::<u32>(),
            ) {
                let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % data.len()).collect();
                bounds.push(0);
                bounds.push(data.len());
                bounds.sort_unstable();
                bounds.dedup();
                let mut segs: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
                // Duplicates and overlapping retransmissions of the same bytes.
                for (_, a, l) in &dups {
                    let a = a % data.len();
                    segs.push((a, (a + l).min(data.len())));
                }
                // Shuffle deterministically from `order`.
                for (i, r) in order.iter().enumerate() {
                    if segs.len() > 1 {
                        let a = i % segs.len();
                        let b = (*r as usize) % segs.len();
                        segs.swap(a, b);
                    }
                }
                let mut s = Stream::new(1 << 20, 32, Reorder::default());
                let mut g = Got::default();
                run(&mut s, &mut g, syn(isn));
                for (a, b) in segs {
                    run(&mut s, &mut g, seg(isn.wrapping_add(1).wrapping_add(a as u32), &data[a..b]));
                }
                s.flush(0, 0, &mut |e| collect(&mut g, e));
                prop_assert!(g.gaps.is_empty());
                prop_assert_eq!(g.conflicts, 0);
                prop_assert_eq!(g.bytes, data);
            }
        }
    }
}
