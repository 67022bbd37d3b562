//! IP fragment reassembly for IPv4 (RFC 791) and IPv6 (RFC 8200 §4.5, RFC 5722).
//!
//! A [`Defragmenter`] takes captured IP packets, buffers the fragments of each
//! datagram (keyed by source, destination, protocol for IPv4, and identification)
//! and hands every completed datagram back as an ordinary *unfragmented* IP packet,
//! which [`decode_ipv4`](crate::ip::decode_ipv4) and
//! [`decode_ipv6`](crate::ip::decode_ipv6) decode like any other packet.
//!
//! Policies:
//! * **Time** is the capture timestamp passed in, never the clock. A datagram still
//!   incomplete [`DefragConfig::timeout_ns`] after its first fragment arrived is
//!   dropped with a warning; a later fragment with the same key starts afresh.
//! * **IPv4 overlaps: first bytes received win.** When overlapping bytes differ,
//!   one [`DefragWarningKind::Conflict`] warning is given per datagram.
//! * **IPv6 overlaps** (RFC 5722): the datagram is discarded, its later fragments
//!   are ignored until its timeout, and one [`DefragWarningKind::Overlap`] warning
//!   is given. Exact duplicates (same offset, same bytes) are not overlaps.
//! * **Malformed fragments** (a non-last fragment whose length is not a multiple of
//!   8, a fragment contradicting the end set by the last fragment) are dropped with
//!   a warning. A datagram that would exceed the 65535-byte IP length limit, or that
//!   arrives in more than 2048 separate pieces, is dropped with a warning.
//! * **Snapshot length**: a fragment cut by the capture's snapshot length cannot be
//!   reassembled; it is counted, not buffered, and its datagram's warning says so.
//! * **Memory** is bounded by [`DefragConfig::max_datagrams`] and
//!   [`DefragConfig::max_bytes`]; passing either evicts the oldest datagrams.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// The datagram map's hasher: foldhash with a fixed seed, so runs are identical.
type Hasher = foldhash::fast::FixedState;
/// Where warnings go.
type Warn<'w> = &'w mut dyn FnMut(DefragWarning);

/// Largest IPv4 total length and IPv6 payload length.
const IP_MAX: usize = 65535;
/// Most separate pieces (non-overlapping byte runs) kept per datagram.
const MAX_PIECES: usize = 2048;
/// Bookkeeping cost charged per buffered piece against [`DefragConfig::max_bytes`].
const PIECE_OVERHEAD: usize = 64;
/// IPv6 extension header chains longer than this are not walked.
const MAX_EXT_HEADERS: usize = 16;
/// Byte ranges listed in one warning message.
const SHOWN_RANGES: usize = 8;

/// Reassembly settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// A datagram not complete this long (capture time) after its first fragment
    /// is dropped with a warning. Default 30 s.
    pub timeout_ns: i64,
    /// Most datagrams in progress at once; one more evicts the oldest. Default 4096.
    pub max_datagrams: usize,
    /// Cap on the bytes held by all datagrams in progress together (fragment bytes,
    /// first-fragment headers and 64 bytes of bookkeeping per piece); passing it
    /// evicts the oldest datagrams. Default 32 MiB.
    pub max_bytes: usize,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig { timeout_ns: 30_000_000_000, max_datagrams: 4096, max_bytes: 32 << 20 }
    }
}

/// What identifies the fragments of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatagramKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 protocol number; `None` for IPv6 (not part of its key).
    pub protocol: Option<u8>,
    /// Identification: 16 bits for IPv4, 32 bits for IPv6.
    pub id: u32,
}

impl fmt::Display for DatagramKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Some(p) => write!(f, "IPv4 {} > {} protocol {p} id {:#06x}", self.src, self.dst, self.id),
            None => write!(f, "IPv6 {} > {} fragment id {:#010x}", self.src, self.dst, self.id),
        }
    }
}

/// What a [`DefragWarning`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefragWarningKind {
    /// IPv4 fragments overlapped with different bytes; the bytes received first were kept.
    Conflict,
    /// IPv6 fragments overlapped: the datagram was discarded (RFC 5722).
    Overlap,
    /// A malformed fragment was dropped (bad length, or inconsistent with the last fragment).
    Malformed,
    /// The datagram would exceed 65535 bytes: dropped.
    Oversize,
    /// The datagram came in more separate pieces than are kept: dropped.
    TooFragmented,
    /// The datagram never completed: its timeout passed.
    TimedOut,
    /// The datagram never completed: evicted to stay within the limits.
    Evicted,
    /// The datagram never completed: the capture ended.
    Unfinished,
}

/// A reassembly problem, naming the datagram and what was received of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragWarning {
    /// What happened.
    pub kind: DefragWarningKind,
    /// The datagram.
    pub key: DatagramKey,
    /// Transport protocol, when known (IPv4 always; IPv6 once the first fragment came).
    pub protocol: Option<u8>,
    /// Byte ranges of the datagram's payload held when the warning was raised, in
    /// order, adjacent ones merged (empty in warnings about one malformed fragment).
    pub received: Vec<Range<usize>>,
    /// The payload length, known once the last fragment came.
    pub total_len: Option<usize>,
    /// Capture time of the packet (or expiry) that raised the warning.
    pub ts_nanos: i64,
    /// One-line human explanation.
    pub message: String,
}

/// Counters kept by the [`Defragmenter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Packets pushed.
    pub packets: u64,
    /// Fragments seen (including cut, malformed and ignored ones).
    pub fragments: u64,
    /// Valid IP packets that are not fragments (returned untouched as `None`).
    pub not_fragments: u64,
    /// Packets whose IP header is invalid or cut before the fragment information.
    pub invalid: u64,
    /// Fragments cut by the snapshot length (not buffered).
    pub truncated: u64,
    /// Fragments dropped as malformed (bad length, inconsistent with the last fragment).
    pub malformed: u64,
    /// Exact duplicate fragments ignored.
    pub duplicates: u64,
    /// IPv4 fragments overlapping bytes already received (not exact duplicates).
    pub overlaps: u64,
    /// IPv4 overlaps whose bytes differed from the ones kept.
    pub conflicts: u64,
    /// IPv6 datagrams discarded because their fragments overlapped (RFC 5722).
    pub overlap_discards: u64,
    /// Fragments of discarded or dropped datagrams ignored until their timeout.
    pub ignored: u64,
    /// Datagrams reassembled.
    pub completed: u64,
    /// Datagrams dropped for exceeding 65535 bytes.
    pub oversize: u64,
    /// Datagrams dropped for arriving in too many separate pieces.
    pub too_fragmented: u64,
    /// Incomplete datagrams dropped when their timeout passed.
    pub timed_out: u64,
    /// Incomplete datagrams evicted to stay within the limits.
    pub evicted: u64,
    /// Incomplete datagrams left at the end of the capture.
    pub unfinished: u64,
    /// Datagrams in progress now.
    pub in_progress: usize,
    /// Bytes held now (as charged against [`DefragConfig::max_bytes`]).
    pub buffered_bytes: usize,
}

impl DefragStats {
    /// Datagrams that never completed: timed out, evicted or unfinished at the end.
    pub fn incomplete(&self) -> u64 {
        self.timed_out + self.evicted + self.unfinished
    }
}

/// A parsed fragment whose bytes are all present.
struct Frag<'a> {
    key: DatagramKey,
    /// Byte offset of `data` in the datagram's payload.
    start: usize,
    /// More-fragments flag.
    more: bool,
    /// The fragment's payload.
    data: &'a [u8],
    /// Everything before the payload: the IPv4 header, or the IPv6 header chain
    /// before the Fragment header.
    head: &'a [u8],
    /// IPv6: index in `head` of the next-header byte naming the Fragment header,
    /// and the Fragment header's own next-header value.
    v6_next: Option<(usize, u8)>,
}

/// What one pushed packet is.
enum Parsed<'a> {
    NotFragment,
    Invalid,
    /// A fragment cut by the snapshot length (its key, if the capture holds it).
    Cut(Option<DatagramKey>),
    Fragment(Frag<'a>),
}

/// The unfragmentable part of the reassembled packet, from the first fragment.
struct Head {
    bytes: Vec<u8>,
    v6_next: Option<(usize, u8)>,
}

/// A run of payload bytes starting at `start`.
struct Piece {
    start: usize,
    data: Vec<u8>,
}

impl Piece {
    fn end(&self) -> usize {
        self.start.saturating_add(self.data.len())
    }
}

/// How a fragment's bytes fit with the ones already held.
enum Insert {
    Added,
    Duplicate,
    /// IPv4: overlapped bytes already held (kept); `conflict` when they differed.
    Overlap {
        conflict: bool,
    },
    /// IPv6: overlapped the given held range.
    Discard(Range<usize>),
    TooMany,
}

/// Why an incomplete datagram is forgotten.
#[derive(Clone, Copy)]
enum End {
    TimedOut,
    Evicted(&'static str),
    Unfinished,
}

/// A datagram in progress.
struct Datagram {
    /// First fragment's capture time and arrival sequence: the eviction order.
    order: (i64, u64),
    head: Option<Head>,
    /// Payload length, from the last fragment.
    end: Option<usize>,
    /// Sorted, non-overlapping, non-empty.
    pieces: Vec<Piece>,
    /// Sum of the pieces' lengths.
    data_len: usize,
    /// Bytes charged against the cap.
    cost: usize,
    fragments: u32,
    cut: u32,
    conflict_warned: bool,
    /// Discarded or dropped: holds nothing and ignores its fragments until the timeout.
    dead: bool,
}

impl Datagram {
    fn new(order: (i64, u64)) -> Self {
        Datagram {
            order,
            head: None,
            end: None,
            pieces: Vec::new(),
            data_len: 0,
            cost: 0,
            fragments: 0,
            cut: 0,
            conflict_warned: false,
            dead: false,
        }
    }

    fn compute_cost(&self) -> usize {
        let head = self.head.as_ref().map_or(0, |h| h.bytes.len());
        head.saturating_add(self.data_len).saturating_add(self.pieces.len().saturating_mul(PIECE_OVERHEAD))
    }

    /// Transport protocol, when known.
    fn protocol(&self, key: &DatagramKey) -> Option<u8> {
        key.protocol.or_else(|| self.head.as_ref().and_then(|h| h.v6_next).map(|(_, n)| n))
    }

    /// Why a fragment covering `start..end` contradicts the datagram's end, if it does.
    fn inconsistent(&self, end: usize, more: bool) -> Option<&'static str> {
        let max_end = self.pieces.last().map_or(0, Piece::end);
        match self.end {
            Some(e) if end > e => Some("it extends past the end set by the last fragment"),
            Some(e) if !more && end != e => Some("it is a second last fragment with a different end"),
            None if !more && end < max_end => {
                Some("it is a last fragment ending before bytes already received")
            }
            _ => None,
        }
    }

    /// Header bytes the reassembled packet's length field counts besides the payload.
    fn length_overhead(&self, f: &Frag<'_>) -> usize {
        let head = self.head.as_ref().map_or(f.head.len(), |h| h.bytes.len());
        if f.v6_next.is_some() { head.saturating_sub(40) } else { head }
    }

    fn insert(&mut self, f: &Frag<'_>) -> Insert {
        if f.data.is_empty() {
            return Insert::Added;
        }
        if f.v6_next.is_some() { self.insert_v6(f.start, f.data) } else { self.insert_v4(f.start, f.data) }
    }

    /// IPv4: bytes received first win; only the uncovered parts are added.
    fn insert_v4(&mut self, start: usize, data: &[u8]) -> Insert {
        let end = start.saturating_add(data.len());
        let mut gaps: Vec<Range<usize>> = Vec::new();
        let (mut cur, mut overlap, mut conflict) = (start, 0usize, false);
        let first = self.pieces.partition_point(|p| p.end() <= start);
        for p in self.pieces.get(first..).unwrap_or_default().iter().take_while(|p| p.start < end) {
            if p.start > cur {
                gaps.push(cur..p.start);
            }
            let (a, b) = (p.start.max(start), p.end().min(end));
            overlap += b.saturating_sub(a);
            let held = p.data.get(a.saturating_sub(p.start)..b.saturating_sub(p.start));
            conflict |= held != data.get(a - start..b.saturating_sub(start));
            cur = b;
        }
        if cur < end {
            gaps.push(cur..end);
        }
        if self.pieces.len().saturating_add(gaps.len()) > MAX_PIECES {
            return Insert::TooMany;
        }
        for g in gaps {
            let bytes = data.get(g.start - start..g.end - start).unwrap_or_default().to_vec();
            let i = self.pieces.partition_point(|p| p.start < g.start);
            self.data_len += bytes.len();
            self.pieces.insert(i, Piece { start: g.start, data: bytes });
        }
        match overlap {
            0 => Insert::Added,
            n if n == data.len() && !conflict => Insert::Duplicate,
            _ => Insert::Overlap { conflict },
        }
    }

    /// IPv6: any overlap other than an exact duplicate discards the datagram.
    fn insert_v6(&mut self, start: usize, data: &[u8]) -> Insert {
        let end = start.saturating_add(data.len());
        let i = self.pieces.partition_point(|p| p.end() <= start);
        if let Some(p) = self.pieces.get(i)
            && p.start < end
        {
            return if p.start == start && p.data == data {
                Insert::Duplicate
            } else {
                Insert::Discard(p.start..p.end())
            };
        }
        if self.pieces.len() >= MAX_PIECES {
            return Insert::TooMany;
        }
        self.data_len += data.len();
        self.pieces.insert(i, Piece { start, data: data.to_vec() });
        Insert::Added
    }

    /// Records what an accepted fragment says about the datagram's start and end.
    fn note_bounds(&mut self, f: &Frag<'_>) {
        if !f.more {
            self.end = Some(f.start.saturating_add(f.data.len()));
        }
        if f.start == 0 && self.head.is_none() {
            self.head = Some(Head { bytes: f.head.to_vec(), v6_next: f.v6_next });
        }
    }

    fn complete(&self) -> bool {
        self.head.is_some() && self.end == Some(self.data_len)
    }

    /// Received byte ranges, adjacent pieces merged.
    fn received(&self) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        for p in &self.pieces {
            match out.last_mut() {
                Some(last) if last.end == p.start => last.end = p.end(),
                _ => out.push(p.start..p.end()),
            }
        }
        out
    }

    /// Frees the bytes held and ignores the datagram's fragments from now on.
    fn kill(&mut self) {
        self.dead = true;
        self.pieces = Vec::new();
        self.data_len = 0;
        self.head = None;
    }

    /// Builds the unfragmented packet, or returns its length when it is too long.
    fn assemble(&self) -> Result<Vec<u8>, usize> {
        let Some(head) = self.head.as_ref() else {
            return Err(0);
        };
        let size = head.bytes.len().saturating_add(self.data_len);
        let limit = if head.v6_next.is_some() { IP_MAX + 40 } else { IP_MAX };
        if size > limit {
            return Err(size);
        }
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&head.bytes);
        for p in &self.pieces {
            out.extend_from_slice(&p.data);
        }
        match head.v6_next {
            None => finish_ipv4_header(&mut out, head.bytes.len()),
            Some((pos, next)) => {
                put16(&mut out, 4, u16::try_from(size - 40).unwrap_or(u16::MAX));
                if let Some(b) = out.get_mut(pos) {
                    *b = next;
                }
            }
        }
        Ok(out)
    }
}

/// Reassembles IPv4 and IPv6 fragments from captured packets. See the [module](self) docs.
pub struct Defragmenter {
    cfg: DefragConfig,
    map: HashMap<DatagramKey, Datagram, Hasher>,
    /// Eviction and expiry order: (first fragment's time, arrival sequence).
    order: BTreeMap<(i64, u64), DatagramKey>,
    seq: u64,
    bytes: usize,
    stats: DefragStats,
    last_expire: Option<i64>,
    last_ts: i64,
}

impl fmt::Debug for Defragmenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Defragmenter")
            .field("cfg", &self.cfg)
            .field("in_progress", &self.map.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Defragmenter {
    /// An empty defragmenter.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            map: HashMap::with_hasher(Hasher::default()),
            order: BTreeMap::new(),
            seq: 0,
            bytes: 0,
            stats: DefragStats::default(),
            last_expire: None,
            last_ts: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &DefragConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        DefragStats { in_progress: self.map.len(), buffered_bytes: self.bytes, ..self.stats }
    }

    /// Bytes held now, as charged against [`DefragConfig::max_bytes`].
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams in progress now (including discarded ones waiting for their timeout).
    pub fn in_progress(&self) -> usize {
        self.map.len()
    }

    /// Takes one captured IP packet (starting at its IPv4 or IPv6 header; it may be
    /// cut by the snapshot length) at capture time `ts_nanos`.
    ///
    /// Returns the reassembled datagram when this fragment completes one, as an
    /// unfragmented IP packet: for IPv4 the first fragment's header with the
    /// fragment offset and more-fragments flag cleared, the total length set and
    /// the checksum recomputed; for IPv6 the first fragment's header chain without
    /// the Fragment header, its next-header value moved into the previous header and
    /// the payload length set. Returns `None` otherwise, and for packets that are not
    /// fragments (counted in [`DefragStats::not_fragments`]; decode those directly).
    pub fn push(&mut self, ip: &[u8], ts_nanos: i64, warn: &mut dyn FnMut(DefragWarning)) -> Option<Vec<u8>> {
        self.stats.packets += 1;
        self.last_ts = ts_nanos;
        self.maybe_expire(ts_nanos, warn);
        match parse(ip) {
            Parsed::NotFragment => {
                self.stats.not_fragments += 1;
                None
            }
            Parsed::Invalid => {
                self.stats.invalid += 1;
                None
            }
            Parsed::Cut(key) => {
                self.stats.fragments += 1;
                self.stats.truncated += 1;
                if let Some(key) = key {
                    self.on_cut(key, ts_nanos, warn);
                }
                None
            }
            Parsed::Fragment(f) => {
                self.stats.fragments += 1;
                let out = self.on_fragment(&f, ts_nanos, warn);
                self.enforce_byte_cap(ts_nanos, warn);
                out
            }
        }
    }

    /// Drops the datagrams whose timeout has passed at capture time `now_ns`,
    /// warning for each that never completed.
    pub fn expire(&mut self, now_ns: i64, warn: &mut dyn FnMut(DefragWarning)) {
        self.last_expire = Some(now_ns);
        let timeout = self.timeout();
        while self
            .order
            .first_key_value()
            .is_some_and(|(&(first, _), _)| now_ns.saturating_sub(first) > timeout)
        {
            self.remove_oldest(End::TimedOut, now_ns, warn);
        }
    }

    /// End of capture: warns for every datagram that never completed, oldest
    /// first, and forgets them all.
    pub fn finish(&mut self, warn: &mut dyn FnMut(DefragWarning)) {
        while self.remove_oldest(End::Unfinished, self.last_ts, warn) {}
        self.map.clear();
        self.bytes = 0;
    }

    fn timeout(&self) -> i64 {
        self.cfg.timeout_ns.max(1)
    }

    /// Expires at most every quarter timeout of capture time.
    fn maybe_expire(&mut self, ts: i64, warn: Warn<'_>) {
        let step = (self.timeout() / 4).max(1);
        let last = *self.last_expire.get_or_insert(ts);
        if ts.saturating_sub(last) >= step || ts < last {
            self.expire(ts, warn);
        }
    }

    /// Makes sure a datagram for `key` exists (started afresh if missing or timed
    /// out) and counts the fragment for it.
    fn open(&mut self, key: DatagramKey, ts: i64, warn: Warn<'_>) {
        let timeout = self.timeout();
        if let Some(d) = self.map.get(&key)
            && ts.saturating_sub(d.order.0) > timeout
        {
            self.remove(key, End::TimedOut, ts, warn);
        }
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.cfg.max_datagrams.max(1)
                && self.remove_oldest(End::Evicted("too many datagrams in progress"), ts, warn)
            {}
            self.seq += 1;
            let order = (ts, self.seq);
            self.order.insert(order, key);
            self.map.insert(key, Datagram::new(order));
        }
        if let Some(d) = self.map.get_mut(&key) {
            d.fragments = d.fragments.saturating_add(1);
        }
    }

    fn on_cut(&mut self, key: DatagramKey, ts: i64, warn: Warn<'_>) {
        self.open(key, ts, warn);
        if let Some(d) = self.map.get_mut(&key) {
            d.cut = d.cut.saturating_add(1);
        }
    }

    fn on_fragment(&mut self, f: &Frag<'_>, ts: i64, warn: Warn<'_>) -> Option<Vec<u8>> {
        let end = f.start.saturating_add(f.data.len());
        if f.more && !f.data.len().is_multiple_of(8) {
            self.stats.malformed += 1;
            let why = format!("is {} bytes long with more-fragments set, not a multiple of 8", f.data.len());
            warn(fragment_warning(DefragWarningKind::Malformed, f, ts, &why, "dropped"));
            return None;
        }
        self.open(f.key, ts, warn);
        let d = self.map.get_mut(&f.key)?;
        if d.dead {
            self.stats.ignored += 1;
            return None;
        }
        if let Some(why) = d.inconsistent(end, f.more) {
            self.stats.malformed += 1;
            warn(fragment_warning(DefragWarningKind::Malformed, f, ts, why, "dropped"));
            return None;
        }
        let size = end.saturating_add(d.length_overhead(f));
        if size > IP_MAX {
            let why = format!("would make the datagram {size} bytes long, over the 65535-byte IP limit");
            self.drop_datagram(f.key, DefragWarningKind::Oversize, &why, ts, warn);
            return None;
        }
        let outcome = d.insert(f);
        self.apply(f, outcome, ts, warn)
    }

    /// Acts on how a fragment fitted; returns the datagram if it is now complete.
    fn apply(&mut self, f: &Frag<'_>, outcome: Insert, ts: i64, warn: Warn<'_>) -> Option<Vec<u8>> {
        match outcome {
            Insert::Added => {}
            Insert::Duplicate => self.stats.duplicates += 1,
            Insert::Overlap { conflict } => self.on_overlap(f, conflict, ts, warn),
            Insert::Discard(held) => {
                let why = format!("overlaps bytes {} already received", span(&held));
                self.drop_datagram(f.key, DefragWarningKind::Overlap, &why, ts, warn);
                return None;
            }
            Insert::TooMany => {
                let why =
                    format!("would be its piece number {}, more than the {MAX_PIECES} kept", MAX_PIECES + 1);
                self.drop_datagram(f.key, DefragWarningKind::TooFragmented, &why, ts, warn);
                return None;
            }
        }
        let d = self.map.get_mut(&f.key)?;
        d.note_bounds(f);
        let cost = d.compute_cost();
        self.bytes = self.bytes.saturating_sub(std::mem::replace(&mut d.cost, cost)).saturating_add(cost);
        if !d.complete() {
            return None;
        }
        match d.assemble() {
            Ok(packet) => {
                self.stats.completed += 1;
                self.forget(&f.key);
                Some(packet)
            }
            Err(size) => {
                let why = format!("completes a datagram of {size} bytes, over the 65535-byte IP limit");
                self.drop_datagram(f.key, DefragWarningKind::Oversize, &why, ts, warn);
                None
            }
        }
    }

    fn on_overlap(&mut self, f: &Frag<'_>, conflict: bool, ts: i64, warn: Warn<'_>) {
        self.stats.overlaps += 1;
        if !conflict {
            return;
        }
        self.stats.conflicts += 1;
        let Some(d) = self.map.get_mut(&f.key) else {
            return;
        };
        if std::mem::replace(&mut d.conflict_warned, true) {
            return;
        }
        let mut w = fragment_warning(
            DefragWarningKind::Conflict,
            f,
            ts,
            "overlaps bytes already received with different content",
            "kept the bytes received first",
        );
        w.received = d.received();
        w.total_len = d.end;
        warn(w);
    }

    /// Drops a datagram's bytes with a warning; its later fragments are ignored
    /// until its timeout.
    fn drop_datagram(
        &mut self,
        key: DatagramKey,
        kind: DefragWarningKind,
        why: &str,
        ts: i64,
        warn: Warn<'_>,
    ) {
        match kind {
            DefragWarningKind::Overlap => self.stats.overlap_discards += 1,
            DefragWarningKind::Oversize => self.stats.oversize += 1,
            _ => self.stats.too_fragmented += 1,
        }
        let Some(d) = self.map.get_mut(&key) else {
            return;
        };
        let (received, total_len, protocol) = (d.received(), d.end, d.protocol(&key));
        let action = if kind == DefragWarningKind::Overlap {
            "datagram discarded (RFC 5722); its later fragments are ignored"
        } else {
            "datagram dropped; its later fragments are ignored"
        };
        let message = format!("{key}: a fragment {why}: {action}");
        self.bytes = self.bytes.saturating_sub(d.cost);
        d.cost = 0;
        d.kill();
        warn(DefragWarning { kind, key, protocol, received, total_len, ts_nanos: ts, message });
    }

    /// Forgets the oldest datagram (see [`remove`](Self::remove)); false if there is none.
    fn remove_oldest(&mut self, why: End, ts: i64, warn: Warn<'_>) -> bool {
        let Some((_, key)) = self.order.pop_first() else {
            return false;
        };
        self.remove(key, why, ts, warn);
        true
    }

    fn enforce_byte_cap(&mut self, ts: i64, warn: Warn<'_>) {
        while self.bytes > self.cfg.max_bytes
            && self.remove_oldest(End::Evicted("fragment buffer full"), ts, warn)
        {}
    }

    /// Forgets a datagram without a word (completed).
    fn forget(&mut self, key: &DatagramKey) -> Option<Datagram> {
        let d = self.map.remove(key)?;
        self.order.remove(&d.order);
        self.bytes = self.bytes.saturating_sub(d.cost);
        Some(d)
    }

    /// Forgets an incomplete datagram, warning unless it was already dropped.
    fn remove(&mut self, key: DatagramKey, why: End, ts: i64, warn: Warn<'_>) {
        let Some(d) = self.forget(&key) else {
            return;
        };
        if d.dead {
            return;
        }
        let (kind, text) = match why {
            End::TimedOut => {
                self.stats.timed_out += 1;
                let t = format!("timed out {} s after its first fragment", secs(self.timeout()));
                (DefragWarningKind::TimedOut, t)
            }
            End::Evicted(reason) => {
                self.stats.evicted += 1;
                (DefragWarningKind::Evicted, format!("evicted: {reason}"))
            }
            End::Unfinished => {
                self.stats.unfinished += 1;
                (DefragWarningKind::Unfinished, "still incomplete at the end of the capture".to_owned())
            }
        };
        warn(incomplete_warning(key, &d, kind, &text, ts));
    }
}

/// The warning for a datagram that never completed.
fn incomplete_warning(
    key: DatagramKey,
    d: &Datagram,
    kind: DefragWarningKind,
    why: &str,
    ts: i64,
) -> DefragWarning {
    let received = d.received();
    let mut m = format!("{key}: never completed ({why}) after {} fragment(s): ", d.fragments);
    if received.is_empty() {
        m.push_str("no bytes received");
    } else {
        m.push_str(&format!("received bytes {}", spans(&received)));
    }
    let max_end = received.last().map_or(0, |r| r.end);
    let mut missing = spans(&holes(&received, d.end.unwrap_or(max_end)));
    match d.end {
        Some(e) => m.push_str(&format!(" of {e}")),
        None => {
            let sep = if missing.is_empty() { "" } else { ", " };
            missing
                .push_str(&format!("{sep}from byte {max_end} on (last fragment not seen, length unknown)"));
        }
    }
    if !missing.is_empty() {
        m.push_str(&format!("; missing {missing}"));
    }
    if d.cut > 0 {
        m.push_str(&format!("; {} fragment(s) cut by the snapshot length", d.cut));
    }
    let protocol = d.protocol(&key);
    DefragWarning { kind, key, protocol, received, total_len: d.end, ts_nanos: ts, message: m }
}

/// A warning about one fragment: "`key`: fragment at bytes a-b `why`: `action`".
fn fragment_warning(
    kind: DefragWarningKind,
    f: &Frag<'_>,
    ts: i64,
    why: &str,
    action: &str,
) -> DefragWarning {
    let range = f.start..f.start.saturating_add(f.data.len());
    let message = format!("{}: fragment at bytes {} {why}: {action}", f.key, span(&range));
    let protocol = f.key.protocol.or(f.v6_next.filter(|_| f.start == 0).map(|(_, n)| n));
    DefragWarning { kind, key: f.key, protocol, received: Vec::new(), total_len: None, ts_nanos: ts, message }
}

/// Gaps of `[0, end)` not covered by the sorted `ranges`.
fn holes(ranges: &[Range<usize>], end: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut cur = 0;
    for r in ranges {
        if r.start > cur {
            out.push(cur..r.start);
        }
        cur = cur.max(r.end);
    }
    if cur < end {
        out.push(cur..end);
    }
    out
}

/// "a-b" with both ends included ("a" for one byte, "empty" for none).
fn span(r: &Range<usize>) -> String {
    match r.end.checked_sub(1) {
        Some(last) if last > r.start => format!("{}-{last}", r.start),
        Some(last) if last == r.start => format!("{last}"),
        _ => format!("{} (empty)", r.start),
    }
}

/// Up to [`SHOWN_RANGES`] spans, comma separated.
fn spans(rs: &[Range<usize>]) -> String {
    let mut s = rs.iter().take(SHOWN_RANGES).map(span).collect::<Vec<_>>().join(", ");
    if rs.len() > SHOWN_RANGES {
        s.push_str(&format!(" and {} more range(s)", rs.len() - SHOWN_RANGES));
    }
    s
}

/// Nanoseconds as seconds ("30", "0.5").
fn secs(ns: i64) -> String {
    format!("{}", ns as f64 / 1e9)
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = b.get_mut(at..at.saturating_add(2)) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// The IPv4 header checksum of `header` (whose checksum field must be zero).
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| {
            u32::from(u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Makes `packet` (IPv4 header of `ihl` bytes first) unfragmented: total length,
/// fragment offset and more-fragments cleared (DF kept), checksum recomputed.
fn finish_ipv4_header(packet: &mut [u8], ihl: usize) {
    put16(packet, 2, u16::try_from(packet.len()).unwrap_or(u16::MAX));
    let flags = be16(packet, 6) & 0xc000;
    put16(packet, 6, flags);
    put16(packet, 10, 0);
    let sum = ipv4_checksum(packet.get(..ihl).unwrap_or_default());
    put16(packet, 10, sum);
}

/// True if `ip` (an IPv4 or IPv6 packet) is a fragment [`Defragmenter::push`]
/// would take: IPv4 with more-fragments or an offset, IPv6 with a Fragment header
/// that is not atomic (offset 0, more-fragments clear). Cut fragments count.
pub fn is_fragment(ip: &[u8]) -> bool {
    matches!(parse(ip), Parsed::Fragment(_) | Parsed::Cut(_))
}

fn parse(ip: &[u8]) -> Parsed<'_> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => parse_v4(ip),
        Some(6) => parse_v6(ip),
        _ => Parsed::Invalid,
    }
}

fn parse_v4(ip: &[u8]) -> Parsed<'_> {
    let Some(h) = ip.get(..20) else {
        return Parsed::Invalid;
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(be16(h, 2));
    if ihl < 20 || total < ihl {
        return Parsed::Invalid;
    }
    let frag = be16(h, 6);
    if frag & 0x3fff == 0 {
        return Parsed::NotFragment;
    }
    let key = DatagramKey {
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        protocol: Some(h[9]),
        id: u32::from(be16(h, 4)),
    };
    let (Some(head), Some(data)) = (ip.get(..ihl), ip.get(ihl..total)) else {
        return Parsed::Cut(Some(key));
    };
    let start = usize::from(frag & 0x1fff) * 8;
    Parsed::Fragment(Frag { key, start, more: frag & 0x2000 != 0, data, head, v6_next: None })
}

fn parse_v6(ip: &[u8]) -> Parsed<'_> {
    let Some(h) = ip.get(..40) else {
        return Parsed::Invalid;
    };
    let plen = usize::from(be16(h, 4));
    let chain_end = if plen == 0 { ip.len() } else { 40 + plen };
    let (mut next, mut nh_pos, mut pos) = (h[6], 6usize, 40usize);
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            44 => return parse_v6_fragment(ip, pos, nh_pos, plen),
            0 | 43 | 60 => ip.get(pos + 1).map(|l| (usize::from(*l) + 1) * 8),
            51 => ip.get(pos + 1).map(|l| (usize::from(*l) + 2) * 4),
            _ => return Parsed::NotFragment,
        };
        let (Some(len), Some(&nh)) = (len, ip.get(pos)) else {
            return Parsed::Invalid;
        };
        if pos + 2 > chain_end {
            return Parsed::Invalid;
        }
        (next, nh_pos, pos) = (nh, pos, pos + len);
    }
    Parsed::NotFragment
}

/// The IPv6 Fragment header is at `pos`; the next-header byte naming it at `nh_pos`.
fn parse_v6_fragment(ip: &[u8], pos: usize, nh_pos: usize, plen: usize) -> Parsed<'_> {
    let end = 40 + plen;
    if plen == 0 || pos + 8 > end {
        // A jumbogram cannot be fragmented; a Fragment header must fit the payload.
        return Parsed::Invalid;
    }
    let Some(fh) = ip.get(pos..pos + 8) else {
        return Parsed::Cut(None);
    };
    let fo = be16(fh, 2);
    let start = usize::from(fo >> 3) * 8;
    let more = fo & 1 != 0;
    if start == 0 && !more {
        // An atomic fragment: the whole datagram, decoded as it is.
        return Parsed::NotFragment;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(ip.get(8..24).unwrap_or(&[0; 16]));
    dst.copy_from_slice(ip.get(24..40).unwrap_or(&[0; 16]));
    let id = u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]);
    let key = DatagramKey {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: None,
        id,
    };
    let (Some(head), Some(data)) = (ip.get(..pos), ip.get(pos + 8..end)) else {
        return Parsed::Cut(Some(key));
    };
    Parsed::Fragment(Frag { key, start, more, data, head, v6_next: Some((nh_pos, fh[0])) })
}

/// Payload bytes per fragment: `max_payload` rounded down to a multiple of 8, at least 8.
fn chunk_size(max_payload: usize) -> usize {
    (max_payload / 8 * 8).max(8)
}

/// Splits an IPv4 packet into fragments of at most `max_payload` payload bytes
/// (rounded down to a multiple of 8, at least 8), with correct headers: the first
/// fragment keeps every option, the others only the options whose copied flag is
/// set; offsets, more-fragments, total lengths and checksums are set. A packet
/// that is already a fragment is split within its own range. A packet that fits,
/// or is not a valid IPv4 packet, is returned unchanged as the only element.
pub fn fragment_ipv4(packet: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    let whole = || vec![packet.to_vec()];
    let Some(h) = packet.get(..20).filter(|h| h[0] >> 4 == 4) else {
        return whole();
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(be16(h, 2));
    let (Some(head), Some(payload)) = (packet.get(..ihl), packet.get(ihl..total)) else {
        return whole();
    };
    let chunk = chunk_size(max_payload);
    if ihl < 20 || payload.len() <= chunk {
        return whole();
    }
    let frag = be16(h, 6);
    let base = usize::from(frag & 0x1fff) * 8;
    let later_head = copied_options_header(head);
    let count = payload.len().div_ceil(chunk);
    let mut out = Vec::with_capacity(count);
    for (i, piece) in payload.chunks(chunk).enumerate() {
        let head = if i == 0 { head } else { &later_head[..] };
        let more = i + 1 < count || frag & 0x2000 != 0;
        let Ok(offset) = u16::try_from((base + i * chunk) / 8) else {
            return whole();
        };
        let mut p = Vec::with_capacity(head.len() + piece.len());
        p.extend_from_slice(head);
        p.extend_from_slice(piece);
        if let Some(b) = p.first_mut() {
            *b = 0x40 | (head.len() / 4) as u8;
        }
        let total = u16::try_from(p.len()).unwrap_or(u16::MAX);
        put16(&mut p, 2, total);
        put16(&mut p, 6, (frag & 0xc000) | if more { 0x2000 } else { 0 } | (offset & 0x1fff));
        put16(&mut p, 10, 0);
        let sum = ipv4_checksum(p.get(..head.len()).unwrap_or_default());
        put16(&mut p, 10, sum);
        out.push(p);
    }
    out
}

/// The header for non-first fragments: the fixed 20 bytes and the options whose
/// copied flag is set, padded with end-of-options to a multiple of 4.
fn copied_options_header(head: &[u8]) -> Vec<u8> {
    let mut out = head.get(..20).unwrap_or_default().to_vec();
    let opts = head.get(20..).unwrap_or_default();
    let mut i = 0;
    while let Some(&t) = opts.get(i) {
        match t {
            0 => break,
            1 => i += 1,
            _ => {
                let Some(len) = opts.get(i + 1).map(|l| usize::from(*l)).filter(|l| *l >= 2) else {
                    break;
                };
                let Some(opt) = opts.get(i..i + len) else {
                    break;
                };
                if t & 0x80 != 0 {
                    out.extend_from_slice(opt);
                }
                i += len;
            }
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out
}

/// Splits an IPv6 packet into fragments of at most `max_payload` fragmentable bytes
/// each (rounded down to a multiple of 8, at least 8) with identification `id`: the
/// fixed header and any leading Hop-by-Hop and Routing headers are repeated in every
/// fragment, followed by a Fragment header. A packet that fits, already has a
/// Fragment header, or is not a valid IPv6 packet is returned unchanged as the only
/// element.
pub fn fragment_ipv6(packet: &[u8], max_payload: usize, id: u32) -> Vec<Vec<u8>> {
    let whole = || vec![packet.to_vec()];
    let Some(h) = packet.get(..40).filter(|h| h[0] >> 4 == 6) else {
        return whole();
    };
    let end = 40 + usize::from(be16(h, 4));
    let (mut next, mut nh_pos, mut pos) = (h[6], 6usize, 40usize);
    while next == 0 || next == 43 {
        let (Some(&nh), Some(&l)) = (packet.get(pos), packet.get(pos + 1)) else {
            return whole();
        };
        (next, nh_pos, pos) = (nh, pos, pos + (usize::from(l) + 1) * 8);
    }
    let (Some(head), Some(rest)) = (packet.get(..pos), packet.get(pos..end)) else {
        return whole();
    };
    let chunk = chunk_size(max_payload);
    if next == 44 || end == 40 || rest.len() <= chunk {
        return whole();
    }
    let count = rest.len().div_ceil(chunk);
    let mut out = Vec::with_capacity(count);
    for (i, piece) in rest.chunks(chunk).enumerate() {
        let (Ok(offset), Ok(plen)) =
            (u16::try_from(i * chunk), u16::try_from(head.len() - 40 + 8 + piece.len()))
        else {
            return whole();
        };
        let mut p = Vec::with_capacity(head.len() + 8 + piece.len());
        p.extend_from_slice(head);
        if let Some(b) = p.get_mut(nh_pos) {
            *b = 44;
        }
        put16(&mut p, 4, plen);
        p.extend_from_slice(&[next, 0]);
        p.extend_from_slice(&(offset | u16::from(i + 1 < count)).to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(piece);
        out.push(p);
    }
    out
}

/// Fuzz entry: reads `data` as records of a 2-byte big-endian length, a 1-byte
/// timestamp step (units of 20 ms) and that many packet bytes, pushes them through
/// a [`Defragmenter`] with small caps, and asserts that memory stays within the
/// caps and that every completed datagram decodes as an unfragmented IP packet.
#[doc(hidden)]
pub fn fuzz_defrag(data: &[u8]) {
    fuzz_run(data);
}

/// [`fuzz_defrag`]'s body; returns the counters (before [`Defragmenter::finish`]).
fn fuzz_run(data: &[u8]) -> DefragStats {
    use crate::ip::{IpError, decode_ipv4, decode_ipv6};
    let cfg = DefragConfig { timeout_ns: 1_000_000_000, max_datagrams: 16, max_bytes: 1 << 17 };
    let mut d = Defragmenter::new(cfg);
    let mut sink = |w: DefragWarning| assert!(!w.message.is_empty());
    let (mut rest, mut ts) = (data, 0i64);
    while let [a, b, step, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (packet, next) = tail.split_at(len);
        rest = next;
        ts = ts.saturating_add(i64::from(*step) * 20_000_000);
        if let Some(dgram) = d.push(packet, ts, &mut sink) {
            if dgram.first().is_some_and(|b| b >> 4 == 4) {
                let ip = decode_ipv4(&dgram).expect("a reassembled IPv4 datagram decodes");
                assert_eq!(ip.missing, 0);
                assert_eq!(usize::from(be16(&dgram, 2)), dgram.len());
            } else {
                assert_eq!(usize::from(be16(&dgram, 4)) + 40, dgram.len());
                let r = decode_ipv6(&dgram);
                assert!(r.is_ok() || r == Err(IpError::Fragment) || matches!(r, Err(IpError::Malformed(_))));
            }
        }
        assert!(d.buffered_bytes() <= cfg.max_bytes);
        assert!(d.in_progress() <= cfg.max_datagrams);
    }
    let stats = d.stats();
    d.finish(&mut sink);
    assert_eq!((d.buffered_bytes(), d.in_progress()), (0, 0));
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::{IpError, decode_ipv4, decode_ipv6};
    use proptest::prelude::*;
    use wsprobe_wire::xorshift::Xorshift;

    fn payload(n: usize, salt: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
    }

    fn udp(payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x30, 0x39, 0x00, 0x35, 0, 0, 0, 0];
        put16(&mut u, 4, (8 + payload.len()) as u16);
        u.extend_from_slice(payload);
        u
    }

    fn udp_v4(id: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7];
        p.extend_from_slice(&udp(payload));
        let n = p.len() as u16;
        put16(&mut p, 2, n);
        put16(&mut p, 4, id);
        let sum = ipv4_checksum(&p[..20]);
        put16(&mut p, 10, sum);
        p
    }

    fn udp_v6(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&udp(payload));
        let n = (p.len() - 40) as u16;
        put16(&mut p, 4, n);
        p
    }

    /// A permutation of `0..n` ending with its last element, with duplicates of
    /// random fragments inserted before that last one (so exactly the last push
    /// completes the datagram).
    fn shuffled_with_dups(n: usize, rng: &mut Xorshift) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            v.swap(i, rng.index(i + 1));
        }
        let last = v.pop().unwrap();
        for _ in 0..=n / 2 {
            if v.is_empty() {
                break;
            }
            let dup = v[rng.index(v.len())];
            v.insert(rng.index(v.len() + 1), dup);
        }
        v.push(last);
        v
    }

    fn orders(n: usize, rng: &mut Xorshift) -> Vec<Vec<usize>> {
        let mut last_first = vec![n - 1];
        last_first.extend(0..n - 1);
        let mut middle_first: Vec<usize> = (0..n).collect();
        middle_first.rotate_left(n / 2);
        vec![(0..n).collect(), (0..n).rev().collect(), last_first, middle_first, shuffled_with_dups(n, rng)]
    }

    fn small() -> DefragConfig {
        DefragConfig { timeout_ns: 1_000, max_datagrams: 8, max_bytes: 1 << 20 }
    }

    /// Pushes `frags` in `order` at times 0, 1, 2...; returns what completed and the warnings.
    fn run(
        d: &mut Defragmenter,
        frags: &[Vec<u8>],
        order: &[usize],
    ) -> (Vec<(usize, Vec<u8>)>, Vec<DefragWarning>) {
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        for (step, &i) in order.iter().enumerate() {
            if let Some(p) = d.push(&frags[i], step as i64, &mut |w| warnings.push(w)) {
                out.push((step, p));
            }
        }
        (out, warnings)
    }

    fn check_roundtrip(original: &[u8], frags: &[Vec<u8>], order: &[usize]) {
        let mut d = Defragmenter::new(DefragConfig::default());
        let (out, warnings) = run(&mut d, frags, order);
        assert_eq!(warnings, vec![], "order {order:?}");
        assert_eq!(out.len(), 1, "order {order:?}");
        let (step, packet) = &out[0];
        assert_eq!(*step, order.len() - 1);
        assert_eq!(packet, original, "order {order:?}");
        let (a, b) = if original[0] >> 4 == 4 {
            (decode_ipv4(packet).unwrap(), decode_ipv4(original).unwrap())
        } else {
            (decode_ipv6(packet).unwrap(), decode_ipv6(original).unwrap())
        };
        assert_eq!(a, b);
        let s = d.stats();
        assert_eq!((s.completed, s.in_progress, s.buffered_bytes), (1, 0, 0));
        assert_eq!(s.duplicates as usize, order.len() - frags.len());
        assert_eq!(s.fragments as usize, order.len());
    }

    #[test]
    fn ipv4_any_order_gives_the_original_packet() {
        let original = udp_v4(0x1234, &payload(3000, 7));
        let frags = fragment_ipv4(&original, 1480);
        assert_eq!(frags.len(), 3);
        for (i, f) in frags.iter().enumerate() {
            let (h, rest) = etherparse::Ipv4Header::from_slice(f).unwrap();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            assert_eq!(h.more_fragments, i + 1 < frags.len());
            assert_eq!(usize::from(h.fragment_offset.byte_offset()), i * 1480);
            assert_eq!(usize::from(h.total_len), f.len());
            assert_eq!(h.identification, 0x1234);
            assert_eq!(rest.len(), f.len() - 20);
            assert!(is_fragment(f));
            assert_eq!(decode_ipv4(f), Err(IpError::Fragment));
        }
        assert!(!is_fragment(&original));
        let mut rng = Xorshift::new(42);
        for order in orders(frags.len(), &mut rng) {
            check_roundtrip(&original, &frags, &order);
        }
        let frags = fragment_ipv4(&original, 64);
        for seed in 1..20 {
            check_roundtrip(&original, &frags, &shuffled_with_dups(frags.len(), &mut Xorshift::new(seed)));
        }
    }

    #[test]
    fn ipv6_any_order_gives_the_original_packet() {
        let original = udp_v6(&payload(3000, 9));
        let frags = fragment_ipv6(&original, 1232, 0xdead_beef);
        assert_eq!(frags.len(), 3);
        for (i, f) in frags.iter().enumerate() {
            let (h, rest) = etherparse::Ipv6Header::from_slice(f).unwrap();
            assert_eq!(h.next_header.0, 44);
            assert_eq!(usize::from(h.payload_length), f.len() - 40);
            // Not etherparse's Ipv6FragmentHeader: 0.18 reads the offset and M flag from
            // the wrong bits (etherparse issue #150, fixed in 0.20).
            assert_eq!((rest[0], &rest[4..8]), (17, &0xdead_beefu32.to_be_bytes()[..]));
            let fo = u16::from_be_bytes([rest[2], rest[3]]);
            assert_eq!(fo & 1 == 1, i + 1 < frags.len());
            assert_eq!(usize::from(fo >> 3) * 8, i * 1232);
            assert!(is_fragment(f));
            assert_eq!(decode_ipv6(f), Err(IpError::Fragment));
        }
        let mut rng = Xorshift::new(7);
        for order in orders(frags.len(), &mut rng) {
            check_roundtrip(&original, &frags, &order);
        }
    }

    #[test]
    fn ipv6_unfragmentable_headers_are_kept() {
        // Hop-by-hop options (8 bytes: next=17, len=0, PadN) before UDP.
        let mut original = udp_v6(&payload(500, 1));
        original[6] = 0;
        original.splice(40..40, [17, 0, 1, 4, 0, 0, 0, 0]);
        let n = (original.len() - 40) as u16;
        put16(&mut original, 4, n);
        let frags = fragment_ipv6(&original, 128, 5);
        assert!(frags.len() > 3);
        assert_eq!((frags[0][6], frags[0][40], frags[0][48]), (0, 44, 17));
        check_roundtrip(&original, &frags, &(0..frags.len()).rev().collect::<Vec<_>>());
        assert_eq!(decode_ipv6(&original).unwrap().protocol, 17);
    }

    #[test]
    fn ipv4_options_copied_only_when_flagged() {
        // Record route (0x07, not copied, 7 bytes) + NOP, then security (0x82, copied, 4 bytes).
        let mut original = udp_v4(9, &payload(200, 3));
        original.splice(20..20, [0x07, 7, 4, 0, 0, 0, 0, 1, 0x82, 4, 0xaa, 0xbb]);
        original[0] = 0x48;
        let n = original.len() as u16;
        put16(&mut original, 2, n);
        put16(&mut original, 10, 0);
        let sum = ipv4_checksum(&original[..32]);
        put16(&mut original, 10, sum);
        let frags = fragment_ipv4(&original, 64);
        assert_eq!(
            &frags[0][..32],
            &{
                let mut h = original[..32].to_vec();
                put16(&mut h, 2, frags[0].len() as u16);
                put16(&mut h, 6, 0x2000);
                put16(&mut h, 10, 0);
                let s = ipv4_checksum(&h);
                put16(&mut h, 10, s);
                h
            }[..]
        );
        assert_eq!(frags[1][0], 0x46);
        assert_eq!(&frags[1][20..24], &[0x82, 4, 0xaa, 0xbb]);
        for f in &frags {
            let (h, _) = etherparse::Ipv4Header::from_slice(f).unwrap();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
        }
        check_roundtrip(&original, &frags, &[2, 0, 3, 1]);
    }

    #[test]
    fn ipv4_conflicting_overlap_keeps_first_bytes_and_warns_once() {
        let original = udp_v4(77, &payload(40, 0)); // 48 transport bytes
        let frags = fragment_ipv4(&original, 16); // 0-15, 16-31, 32-47
        let mut d = Defragmenter::new(small());
        let mut warnings = Vec::new();
        assert_eq!(d.push(&frags[0], 0, &mut |x| warnings.push(x)), None);
        // Same range 16-31 with other bytes, twice, then the real one.
        let mut evil = frags[1].clone();
        for b in &mut evil[20..] {
            *b ^= 0xff;
        }
        assert_eq!(d.push(&evil, 1, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&frags[1], 2, &mut |x| warnings.push(x)), None);
        // Bytes 24-39: overlaps 24-31 with the bytes held: counted, no warning.
        let mut same = frags[0].clone();
        same.truncate(20);
        same.extend_from_slice(&evil[20 + 8..20 + 16]);
        same.extend_from_slice(&original[20 + 32..20 + 40]);
        put16(&mut same, 2, 36);
        put16(&mut same, 6, 0x2003);
        assert_eq!(d.push(&same, 3, &mut |x| warnings.push(x)), None);
        let out = d.push(&frags[2], 4, &mut |x| warnings.push(x)).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kind, DefragWarningKind::Conflict);
        assert!(warnings[0].message.contains("id 0x004d"), "{}", warnings[0].message);
        assert!(warnings[0].message.contains("bytes 16-31"), "{}", warnings[0].message);
        assert_eq!(&out[..20 + 16], &original[..20 + 16]);
        assert_eq!(&out[36..52], &evil[20..]);
        assert_eq!(&out[52..], &original[52..]);
        let s = d.stats();
        assert_eq!((s.overlaps, s.conflicts, s.completed), (3, 1, 1));
        // A second conflict on another datagram warns again; on the same, once.
        let mut evil2 = frags[0].clone();
        put16(&mut evil2, 4, 78);
        assert_eq!(d.push(&evil2, 5, &mut |x| warnings.push(x)), None);
        evil2[30] ^= 1;
        assert_eq!(d.push(&evil2, 6, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&evil2, 7, &mut |x| warnings.push(x)), None);
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn ipv6_overlap_discards_the_datagram_until_timeout() {
        let original = udp_v6(&payload(100, 5));
        let frags = fragment_ipv6(&original, 48, 3); // 0-47, 48-95, 96-107
        let mut d = Defragmenter::new(small());
        let mut warnings = Vec::new();
        assert_eq!(d.push(&frags[0], 0, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&frags[0], 1, &mut |x| warnings.push(x)), None); // exact duplicate: fine
        assert_eq!(d.stats().duplicates, 1);
        // Offset 40 (overlaps 40-47), same bytes as the original.
        let mut over = frags[1].clone();
        over[40 + 2..40 + 4].copy_from_slice(&(40u16 | 1).to_be_bytes());
        over.splice(48..48, original[40 + 40..40 + 48].iter().copied());
        over.truncate(48 + 48);
        assert_eq!(d.push(&over, 2, &mut |x| warnings.push(x)), None);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kind, DefragWarningKind::Overlap);
        assert!(warnings[0].message.contains("RFC 5722"));
        assert!(warnings[0].message.contains("0xdead") || warnings[0].message.contains("0x00000003"));
        assert_eq!(warnings[0].received, vec![0..48]);
        assert_eq!(d.buffered_bytes(), 0);
        for (t, f) in frags.iter().enumerate() {
            assert_eq!(d.push(f, 3 + t as i64, &mut |x| warnings.push(x)), None);
        }
        assert_eq!(warnings.len(), 1);
        let s = d.stats();
        assert_eq!((s.overlap_discards, s.ignored, s.completed), (1, 3, 0));
        // Same range, different bytes: an overlap too.
        let mut d2 = Defragmenter::new(small());
        let mut changed = frags[1].clone();
        changed[60] ^= 1;
        assert_eq!(d2.push(&frags[1], 0, &mut |x| warnings.push(x)), None);
        assert_eq!(d2.push(&changed, 0, &mut |x| warnings.push(x)), None);
        assert_eq!(d2.stats().overlap_discards, 1);
        // After the timeout the key starts afresh, silently for the dead one.
        let mut n = 0;
        for f in &frags {
            if let Some(p) = d.push(f, 2000, &mut |x| warnings.push(x)) {
                assert_eq!(p, original);
                n += 1;
            }
        }
        assert_eq!(n, 1);
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn incomplete_datagrams_warn_with_their_ranges() {
        let original = udp_v4(0x4242, &payload(4000, 2));
        let frags = fragment_ipv4(&original, 1480); // 0-1479, 1480-2959, 2960-4007
        let mut d = Defragmenter::new(DefragConfig { timeout_ns: 30_000_000_000, ..DefragConfig::default() });
        let mut warnings = Vec::new();
        assert_eq!(d.push(&frags[0], 0, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&frags[2], 1_000, &mut |x| warnings.push(x)), None);
        d.expire(30_000_000_000, &mut |x| warnings.push(x));
        assert!(warnings.is_empty());
        d.expire(30_000_000_001, &mut |x| warnings.push(x));
        assert_eq!(warnings.len(), 1);
        let m = &warnings[0];
        assert_eq!(m.kind, DefragWarningKind::TimedOut);
        assert_eq!(m.received, vec![0..1480, 2960..4008]);
        assert_eq!(m.total_len, Some(4008));
        assert_eq!(m.protocol, Some(17));
        for part in [
            "192.0.2.1 > 198.51.100.7",
            "id 0x4242",
            "0-1479, 2960-4007 of 4008",
            "missing 1480-2959",
            "30 s",
        ] {
            assert!(m.message.contains(part), "{part:?} not in {}", m.message);
        }
        assert_eq!((d.in_progress(), d.buffered_bytes()), (0, 0));
        // A later fragment starts afresh: alone it completes nothing.
        let t = 31_000_000_000;
        assert_eq!(d.push(&frags[1], t, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&frags[2], t, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&frags[0], t, &mut |x| warnings.push(x)).as_deref(), Some(&original[..]));
        // Timeout noticed by push itself (no expire call) for the same key.
        assert_eq!(d.push(&frags[1], t, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&frags[0], t + 40_000_000_000, &mut |x| warnings.push(x)), None);
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[1].received, vec![1480..2960]);
        assert!(warnings[1].message.contains("last fragment not seen"), "{}", warnings[1].message);
        // End of capture.
        let mut cut = frags[2].clone();
        cut.truncate(100);
        assert_eq!(d.push(&cut, t + 40_000_000_001, &mut |x| warnings.push(x)), None);
        d.finish(&mut |x| warnings.push(x));
        assert_eq!(warnings.len(), 3);
        assert_eq!(warnings[2].kind, DefragWarningKind::Unfinished);
        assert!(warnings[2].message.contains("missing from byte 1480 on"), "{}", warnings[2].message);
        assert!(
            warnings[2].message.contains("1 fragment(s) cut by the snapshot length"),
            "{}",
            warnings[2].message
        );
        let s = d.stats();
        assert_eq!((s.timed_out, s.unfinished, s.truncated, s.completed, s.incomplete()), (2, 1, 1, 1, 3));
        assert_eq!((d.in_progress(), d.buffered_bytes()), (0, 0));
    }

    #[test]
    fn eviction_by_count_and_by_bytes() {
        let cfg = DefragConfig { timeout_ns: 1 << 40, max_datagrams: 3, max_bytes: 5000 };
        let mut d = Defragmenter::new(cfg);
        let mut warnings = Vec::new();
        let packets: Vec<Vec<Vec<u8>>> =
            (0..5u16).map(|id| fragment_ipv4(&udp_v4(id, &payload(3000, id as u8)), 1480)).collect();
        for (t, p) in packets.iter().enumerate() {
            assert_eq!(d.push(&p[0], t as i64, &mut |x| warnings.push(x)), None);
            assert!(d.in_progress() <= 3);
        }
        assert_eq!(warnings.len(), 2);
        assert!(warnings.iter().all(|x| x.kind == DefragWarningKind::Evicted));
        assert!(
            warnings[0].message.contains("id 0x0000") && warnings[0].message.contains("too many datagrams")
        );
        assert!(warnings[1].message.contains("id 0x0001"));
        // Bytes: 3 x ~1500 held; one more fragment passes 5000 and evicts the oldest.
        assert_eq!(d.push(&packets[4][1], 10, &mut |x| warnings.push(x)), None);
        assert!(d.buffered_bytes() <= 5000);
        assert!(warnings.last().unwrap().message.contains("fragment buffer full"));
        assert_eq!(d.stats().evicted as usize, warnings.len());
    }

    #[test]
    fn flood_of_random_fragments_stays_within_the_caps() {
        flood(DefragConfig::default());
        flood(DefragConfig { max_bytes: 1 << 20, ..DefragConfig::default() });
    }

    fn flood(cfg: DefragConfig) {
        let mut d = Defragmenter::new(cfg);
        let mut rng = Xorshift::new(0x9e37_79b9_7f4a_7c15);
        let (mut warned, mut most) = (0usize, 0usize);
        let mut count = |_| warned += 1;
        let body = payload(1480, 0);
        for i in 0..100_000u32 {
            let len = 8 * (1 + rng.index(185));
            let off = rng.index(8192) as u16;
            let more = rng.index(4) != 0;
            let data = &body[..len];
            let p = if i % 2 == 0 {
                let mut p = udp_v4(i as u16, &[]);
                p.truncate(20);
                p[15] = (i >> 16) as u8;
                p.extend_from_slice(data);
                let n = p.len() as u16;
                put16(&mut p, 2, n);
                put16(&mut p, 6, off | if more { 0x2000 } else { 0 });
                p
            } else {
                let mut p = udp_v6(&[]);
                p.truncate(40);
                p[6] = 44;
                p.extend_from_slice(&[17, 0]);
                p.extend_from_slice(&((off << 3) | u16::from(more)).to_be_bytes());
                p.extend_from_slice(&i.to_be_bytes());
                p.extend_from_slice(data);
                let n = (p.len() - 40) as u16;
                put16(&mut p, 4, n);
                p
            };
            let _ = d.push(&p, i64::from(i) * 1_000, &mut count);
            assert!(d.buffered_bytes() <= cfg.max_bytes);
            assert!(d.in_progress() <= cfg.max_datagrams);
            most = most.max(d.buffered_bytes());
        }
        let s = d.stats();
        assert!(s.evicted > 90_000 && s.fragments + s.not_fragments == 100_000, "{s:?}");
        // Whichever cap is the tighter one was reached.
        assert!(most > cfg.max_bytes / 2 || s.in_progress == cfg.max_datagrams, "{most} {s:?}");
        d.finish(&mut count);
        assert_eq!((d.buffered_bytes(), d.in_progress()), (0, 0));
        assert!(warned as u64 >= s.evicted + s.oversize);
    }

    #[test]
    fn malformed_fragments_are_counted_never_panic() {
        let original = udp_v4(5, &payload(100, 4));
        let frags = fragment_ipv4(&original, 48);
        let mut d = Defragmenter::new(small());
        let mut warnings = Vec::new();
        // Cut by the snapshot length, at every length.
        for n in 0..frags[0].len() {
            assert_eq!(d.push(&frags[0][..n], 0, &mut |x| warnings.push(x)), None);
        }
        let s = d.stats();
        assert_eq!((s.invalid, s.truncated, d.buffered_bytes()), (20, frags[0].len() as u64 - 20, 0));
        // A middle fragment of 13 bytes (MF set).
        let mut odd = frags[1].clone();
        odd.truncate(20 + 13);
        put16(&mut odd, 2, 33);
        assert_eq!(d.push(&odd, 1, &mut |x| warnings.push(x)), None);
        assert_eq!(d.stats().malformed, 1);
        assert!(warnings.last().unwrap().message.contains("not a multiple of 8"));
        // Offset + length past 65535.
        let mut big = frags[2].clone();
        put16(&mut big, 4, 6);
        put16(&mut big, 6, 0x1fff);
        assert_eq!(d.push(&big, 2, &mut |x| warnings.push(x)), None);
        assert_eq!(d.stats().oversize, 1);
        assert_eq!(warnings.last().unwrap().kind, DefragWarningKind::Oversize);
        // IPv6 fragment past 65535 too.
        let v6 = fragment_ipv6(&udp_v6(&payload(100, 1)), 48, 9);
        let mut big6 = v6[2].clone();
        big6[42..44].copy_from_slice(&0xfff8u16.to_be_bytes());
        assert_eq!(d.push(&big6, 2, &mut |x| warnings.push(x)), None);
        assert_eq!(d.stats().oversize, 2);
        // A last fragment contradicting the known end.
        let mut d2 = Defragmenter::new(small());
        assert_eq!(d2.push(&frags[2], 0, &mut |x| warnings.push(x)), None);
        let mut early_end = frags[1].clone();
        put16(&mut early_end, 6, 6);
        assert_eq!(d2.push(&early_end, 0, &mut |x| warnings.push(x)), None);
        assert_eq!(d2.stats().malformed, 1);
        // Garbage and non-fragments.
        for g in [&[][..], &[0x45], &[0x60; 39], &[0x4f; 60], &[0x00; 80], &[0x46; 20]] {
            assert_eq!(d.push(g, 3, &mut |x| warnings.push(x)), None);
        }
        assert_eq!(d.push(&original, 3, &mut |x| warnings.push(x)), None);
        assert_eq!(d.push(&udp_v6(b"x"), 3, &mut |x| warnings.push(x)), None);
        assert_eq!(d.stats().not_fragments, 2);
        let mut rng = Xorshift::new(3);
        for _ in 0..20_000 {
            let mut p = frags[rng.index(frags.len())].clone();
            for _ in 0..1 + rng.index(4) {
                let i = rng.index(p.len());
                p[i] = rng.next() as u8;
            }
            p.truncate(rng.index(p.len() + 8));
            let _ = d.push(&p, 4, &mut |x| warnings.push(x));
        }
        assert!(d.buffered_bytes() <= small().max_bytes);
    }

    /// Fragments of one IPv4 or IPv6 datagram as fuzz records.
    fn fuzz_records(packets: &[Vec<u8>], steps: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            out.extend_from_slice(&(p.len() as u16).to_be_bytes());
            out.push(steps.get(i).copied().unwrap_or(0));
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn fuzz_entry_reassembles_real_fragments() {
        let a = fragment_ipv4(&udp_v4(1, &payload(900, 1)), 200);
        let b = fragment_ipv6(&udp_v6(&payload(900, 2)), 200, 77);
        let mut all: Vec<Vec<u8>> = a.iter().rev().cloned().collect();
        all.extend(b.iter().cloned());
        let s = fuzz_run(&fuzz_records(&all, &[]));
        assert_eq!((s.completed, s.fragments as usize), (2, all.len()));
        // Steps of 60 x 20 ms pass the 1 s timeout between fragments: nothing completes.
        let s = fuzz_run(&fuzz_records(&a, &[60; 16]));
        assert_eq!((s.completed, s.timed_out as usize), (0, a.len() - 1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_fragmentation_and_order_roundtrips(
            len in 1usize..5000,
            units in 1usize..200,
            seed in any::<u64>(),
            v6 in any::<bool>(),
        ) {
            let body = payload(len, seed as u8);
            let (original, frags) = if v6 {
                let p = udp_v6(&body);
                let f = fragment_ipv6(&p, units * 8, seed as u32);
                (p, f)
            } else {
                let p = udp_v4(seed as u16, &body);
                let f = fragment_ipv4(&p, units * 8);
                (p, f)
            };
            let order = shuffled_with_dups(frags.len(), &mut Xorshift::new(seed | 1));
            let mut d = Defragmenter::new(DefragConfig::default());
            let mut warnings = Vec::new();
            let mut out = Vec::new();
            for &i in &order {
                if let Some(p) = d.push(&frags[i], 0, &mut |w| warnings.push(w)) {
                    out.push(p);
                }
            }
            if frags.len() == 1 {
                prop_assert!(out.is_empty());
                prop_assert_eq!(d.stats().not_fragments as usize, order.len());
            } else {
                prop_assert_eq!(out.len(), 1);
                prop_assert_eq!(&out[0], &original);
                let decoded = if v6 { decode_ipv6(&out[0]) } else { decode_ipv4(&out[0]) };
                prop_assert_eq!(decoded.unwrap().payload, &udp(&body)[..]);
            }
            prop_assert!(warnings.is_empty());
            prop_assert_eq!(d.buffered_bytes(), 0);
        }

        #[test]
        fn fuzz_entry_never_panics(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            fuzz_defrag(&data);
        }

        #[test]
        fn fuzz_entry_on_mangled_fragments(
            seed in any::<u64>(),
            flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 0..12),
            steps in proptest::collection::vec(0u8..80, 0..40),
        ) {
            let mut rng = Xorshift::new(seed | 1);
            let mut packets = fragment_ipv4(&udp_v4(seed as u16, &payload(1500, 0)), 8 * (1 + rng.index(60)));
            packets.extend(fragment_ipv6(&udp_v6(&payload(1500, 1)), 8 * (1 + rng.index(60)), seed as u32));
            for _ in 0..packets.len() {
                let (a, b) = (rng.index(packets.len()), rng.index(packets.len()));
                packets.swap(a, b);
            }
            for (at, value) in flips {
                let i = usize::from(at) % packets.len();
                let p = &mut packets[i];
                let j = usize::from(at) % p.len();
                p[j] = value;
            }
            fuzz_defrag(&fuzz_records(&packets, &steps));
        }
    }
}
