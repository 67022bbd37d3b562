//! Streaming reader for classic pcap and pcapng capture files.
//!
//! [`CaptureReader`] reads from any [`std::io::Read`] (a file, stdin, a byte slice)
//! with a buffer that only grows to hold the largest block seen, capped at
//! [`MAX_BLOCK_LEN`]. Packets are returned zero-copy: a [`Packet`] borrows the
//! reader's buffer until the next call to [`CaptureReader::next_packet`].
//!
//! Supported: pcap with micro- or nanosecond magic in both byte orders (and the
//! rare "modified" pcap with 24-byte record headers); pcapng with several sections,
//! several interfaces per section, Enhanced, Simple and obsolete Packet Blocks,
//! `if_tsresol` (power of 10 and power of 2) and `if_tsoffset`. Unknown pcapng
//! blocks are skipped. pcapng Interface Description Blocks are decoded with
//! `pcap-parser`.

use std::fmt;
use std::io::{ErrorKind, Read};

/// Largest block (pcapng) or packet record (pcap) accepted, in bytes.
///
/// The read buffer never grows beyond this plus a few bytes.
pub const MAX_BLOCK_LEN: usize = 16 << 20;

const INITIAL_BUF: usize = 64 << 10;

/// A link-layer header type (`LINKTYPE_*` value from the tcpdump.org registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (`DLT_RAW` on most platforms; pcap files from old libpcap).
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP (`DLT_RAW` on OpenBSD).
    pub const RAW_14: LinkType = LinkType(14);
    /// Raw IPv4 or IPv6, version taken from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family in big-endian order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (SLL).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (SLL2).
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "ETHERNET",
            LinkType::RAW_12 | LinkType::RAW_14 | LinkType::RAW => "RAW",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            _ => return write!(f, "{}", self.0),
        };
        write!(f, "{} ({})", self.0, name)
    }
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based packet number across the whole file (all sections and interfaces).
    pub number: u64,
    /// Capture timestamp, nanoseconds since the Unix epoch (saturating).
    ///
    /// Simple Packet Blocks carry no timestamp: they get the previous packet's.
    pub ts_nanos: i64,
    /// Interface index across the file: pcap files have only interface 0; in pcapng,
    /// interfaces are numbered in the order their IDBs appear, sections included
    /// (the second section's first interface follows the first section's last).
    pub interface: u32,
    /// Link-layer type of the interface.
    pub link_type: LinkType,
    /// Captured bytes (at most the snapshot length).
    pub data: &'a [u8],
    /// Length of the packet on the wire (may exceed `data.len()`).
    pub orig_len: u32,
}

/// An error while reading a capture, with the byte offset where it was found.
///
/// After an error, [`CaptureReader::next_packet`] returns `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.kind, *.offset))]
pub struct CaptureError {
    /// Byte offset in the input of the record, block or header at fault.
    pub offset: u64,
    /// What went wrong.
    pub kind: CaptureErrorKind,
}

/// What went wrong while reading a capture.
#[derive(Debug)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The input is empty.
    Empty,
    /// The first bytes are no pcap or pcapng magic number.
    NotACapture {
        /// The first (up to four) bytes of the input.
        magic: Vec<u8>,
    },
    /// A fixed-size header is cut by the end of the input.
    TruncatedHeader {
        /// Which header (e.g. "pcap file header").
        what: &'static str,
        /// Bytes the header needs.
        needed: u64,
        /// Bytes left in the input.
        available: u64,
    },
    /// A record or block whose header declares more bytes than the input holds.
    Truncated {
        /// Which record (e.g. "packet record").
        what: &'static str,
        /// Bytes declared by the header.
        declared: u64,
        /// Bytes present before the end of the input.
        available: u64,
    },
    /// A length field above [`MAX_BLOCK_LEN`].
    TooLarge {
        /// Which record.
        what: &'static str,
        /// Declared length.
        declared: u64,
    },
    /// A structurally invalid block or record.
    Corrupt {
        /// Human-readable reason.
        reason: String,
    },
    /// The underlying reader failed.
    Io(std::io::Error),
}

fn render(kind: &CaptureErrorKind, offset: u64) -> String {
    match kind {
        CaptureErrorKind::Empty => "empty input: not a pcap or pcapng capture".to_string(),
        CaptureErrorKind::NotACapture { magic } => {
            let hex: String = magic.iter().map(|b| format!("{b:02x}")).collect();
            format!("not a pcap or pcapng capture: unknown magic number 0x{hex} at byte {offset}")
        }
        CaptureErrorKind::TruncatedHeader { what, needed, available } => {
            format!("truncated {what} at byte {offset}: needs {needed} bytes, file ends after {available}")
        }
        CaptureErrorKind::Truncated { what, declared, available } => format!(
            "truncated {what} at byte {offset}: header says {declared} bytes, file ends after {available}"
        ),
        CaptureErrorKind::TooLarge { what, declared } => format!(
            "{what} at byte {offset} declares {declared} bytes, more than the {MAX_BLOCK_LEN}-byte limit"
        ),
        CaptureErrorKind::Corrupt { reason } => {
            format!("corrupt capture at byte {offset}: {reason}")
        }
        CaptureErrorKind::Io(e) => format!("read error at byte {offset}: {e}"),
    }
}

/// The container format detected by [`CaptureReader::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap {
        /// Nanosecond timestamps (magic `a1b23c4d`).
        nanos: bool,
        /// Big-endian file.
        big_endian: bool,
    },
    /// pcapng (the byte order may change per section).
    PcapNg,
}

#[derive(Clone, Copy, Debug)]
struct Iface {
    link: LinkType,
    snaplen: u32,
    /// Raw `if_tsresol` value.
    tsresol: u8,
    tsoffset_secs: i64,
}

#[derive(Debug)]
enum State {
    Pcap {
        big: bool,
        nanos: bool,
        record_header: usize,
        link: LinkType,
    },
    PcapNg {
        big: bool,
        /// Interfaces of the current section.
        ifaces: Vec<Iface>,
        /// Global index of the current section's interface 0.
        iface_base: u32,
    },
    Done,
}

/// Where a reader hands the TLS key log text of Decryption Secrets Blocks.
type SecretsSink = Box<dyn FnMut(&[u8]) + Send>;

/// Streaming pcap/pcapng reader with bounded memory.
pub struct CaptureReader<R: Read> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    /// Bytes of the previously returned record still to consume.
    pending: usize,
    state: State,
    format: CaptureFormat,
    number: u64,
    last_ts: i64,
    /// Where the TLS key log text of Decryption Secrets Blocks goes as soon as it is
    /// read (skipped without one).
    on_secrets: Option<SecretsSink>,
}

impl<R: Read> fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("offset", &self.offset)
            .field("packets", &self.number)
            .finish_non_exhaustive()
    }
}

fn rd_u32(b: &[u8], at: usize, big: bool) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
}

fn rd_u16(b: &[u8], at: usize, big: bool) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    if big { u16::from_be_bytes(a) } else { u16::from_le_bytes(a) }
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
/// pcapng Decryption Secrets Block (what `editcap --inject-secrets` writes).
const DSB: u32 = 0x0A;
/// Its secrets type for TLS key log text ("TLSK").
const DSB_TLS_KEYLOG: u32 = 0x544c_534b;
const BOM: u32 = 0x1A2B_3C4D;

/// Converts a pcapng timestamp in `if_tsresol` units to epoch nanoseconds.
fn ng_ts_nanos(raw: u64, tsresol: u8, tsoffset_secs: i64) -> i64 {
    let raw = u128::from(raw);
    let ns: u128 = if tsresol & 0x80 == 0 {
        let exp = u32::from(tsresol);
        if exp <= 9 {
            raw.saturating_mul(10u128.pow(9 - exp))
        } else if exp <= 38 {
            raw / 10u128.pow(exp - 9)
        } else {
            0
        }
    } else {
        let exp = u32::from(tsresol & 0x7f);
        if exp < 127 { raw.saturating_mul(1_000_000_000) >> exp } else { 0 }
    };
    let ns = i64::try_from(ns).unwrap_or(i64::MAX);
    ns.saturating_add(tsoffset_secs.saturating_mul(1_000_000_000))
}

impl<R: Read> CaptureReader<R> {
    /// Detects the format from the first bytes and reads the file header
    /// (pcap) or the first Section Header Block (pcapng).
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let mut me = CaptureReader {
            src: reader,
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            pending: 0,
            state: State::Done,
            format: CaptureFormat::PcapNg,
            number: 0,
            last_ts: 0,
            on_secrets: None,
        };
        let have = me.fill(4)?;
        if have == 0 {
            return Err(me.err(CaptureErrorKind::Empty));
        }
        let head = me.avail();
        let magic_le = rd_u32(head, 0, false);
        let pcap = match magic_le {
            0xa1b2_c3d4 => Some((false, false, 16)),
            0xa1b2_3c4d => Some((false, true, 16)),
            0xd4c3_b2a1 => Some((true, false, 16)),
            0x4d3c_b2a1 => Some((true, true, 16)),
            0xa1b2_cd34 => Some((false, false, 24)),
            0x34cd_b2a1 => Some((true, false, 24)),
            _ => None,
        };
        if have < 4 || (pcap.is_none() && magic_le != SHB) {
            let magic = head.get(..4.min(have)).unwrap_or_default().to_vec();
            return Err(me.err(CaptureErrorKind::NotACapture { magic }));
        }
        if let Some((big, nanos, record_header)) = pcap {
            let have = me.fill(24)?;
            if have < 24 {
                return Err(me.err(CaptureErrorKind::TruncatedHeader {
                    what: "pcap file header",
                    needed: 24,
                    available: have as u64,
                }));
            }
            let h = me.avail();
            let network = rd_u32(h, 20, big);
            let link = LinkType((network & 0xffff) as u16);
            me.consume(24);
            me.state = State::Pcap { big, nanos, record_header, link };
            me.format = CaptureFormat::Pcap { nanos, big_endian: big };
        } else {
            me.state = State::PcapNg { big: false, ifaces: Vec::new(), iface_base: 0 };
            me.format = CaptureFormat::PcapNg;
        }
        Ok(me)
    }

    /// The detected container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Byte offset of the next unread record.
    pub fn offset(&self) -> u64 {
        self.offset + self.pending as u64
    }

    /// Number of packets returned so far.
    pub fn packets_read(&self) -> u64 {
        self.number
    }

    fn avail(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    fn err(&self, kind: CaptureErrorKind) -> CaptureError {
        CaptureError { offset: self.offset, kind }
    }

    fn fail(&mut self, kind: CaptureErrorKind) -> CaptureError {
        self.state = State::Done;
        self.err(kind)
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes at least `n` bytes available if the input has them; returns how many
    /// are available (may be less than `n` only at end of input).
    fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                let new_len = n.max(self.buf.len().saturating_mul(2)).min(MAX_BLOCK_LEN + 64);
                self.buf.resize(new_len.max(n), 0);
            }
        }
        while self.end - self.start < n && !self.eof {
            let Some(dst) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.src.read(dst) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let at = self.offset + (self.end - self.start) as u64;
                    self.state = State::Done;
                    return Err(CaptureError { offset: at, kind: CaptureErrorKind::Io(e) });
                }
            }
        }
        Ok(self.end - self.start)
    }

    /// Returns the next packet, `Ok(None)` at the end of the input (or after an
    /// error was returned).
    ///
    /// A truncated or corrupt record yields an error only after every packet
    /// before it was returned.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let pending = std::mem::take(&mut self.pending);
        self.consume(pending);
        let meta = match self.state {
            State::Done => return Ok(None),
            State::Pcap { .. } => self.next_pcap()?,
            State::PcapNg { .. } => self.next_pcapng()?,
        };
        let Some(m) = meta else {
            self.state = State::Done;
            return Ok(None);
        };
        self.number += 1;
        self.last_ts = m.ts_nanos;
        self.pending = m.record_len;
        let from = self.start + m.data_at;
        let data = self.buf.get(from..from + m.caplen).unwrap_or_default();
        Ok(Some(Packet {
            number: self.number,
            ts_nanos: m.ts_nanos,
            interface: m.interface,
            link_type: m.link,
            data,
            orig_len: m.orig_len,
        }))
    }

    fn next_pcap(&mut self) -> Result<Option<Meta>, CaptureError> {
        let State::Pcap { big, nanos, record_header, link } = self.state else {
            return Ok(None);
        };
        let have = self.fill(record_header)?;
        if have == 0 {
            return Ok(None);
        }
        if have < record_header {
            return Err(self.fail(CaptureErrorKind::TruncatedHeader {
                what: "packet record header",
                needed: record_header as u64,
                available: have as u64,
            }));
        }
        let h = self.avail();
        let ts_sec = i64::from(rd_u32(h, 0, big));
        let frac = i64::from(rd_u32(h, 4, big));
        let caplen = rd_u32(h, 8, big);
        let orig_len = rd_u32(h, 12, big);
        if caplen as usize > MAX_BLOCK_LEN {
            return Err(
                self.fail(CaptureErrorKind::TooLarge { what: "packet record", declared: u64::from(caplen) })
            );
        }
        let total = record_header + caplen as usize;
        let have = self.fill(total)?;
        if have < total {
            return Err(self.fail(CaptureErrorKind::Truncated {
                what: "packet record",
                declared: u64::from(caplen),
                available: (have - record_header) as u64,
            }));
        }
        let frac_ns = if nanos { frac } else { frac * 1000 };
        Ok(Some(Meta {
            ts_nanos: ts_sec * 1_000_000_000 + frac_ns,
            interface: 0,
            link,
            data_at: record_header,
            caplen: caplen as usize,
            orig_len,
            record_len: total,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Meta>, CaptureError> {
        loop {
            let have = self.fill(12)?;
            if have == 0 {
                return Ok(None);
            }
            if have < 8 {
                return Err(self.fail(CaptureErrorKind::TruncatedHeader {
                    what: "pcapng block header",
                    needed: 8,
                    available: have as u64,
                }));
            }
            let State::PcapNg { big, .. } = self.state else {
                return Ok(None);
            };
            let h = self.avail();
            let mut big = big;
            let btype = rd_u32(h, 0, big);
            if btype == SHB {
                if have < 12 {
                    return Err(self.fail(CaptureErrorKind::TruncatedHeader {
                        what: "pcapng section header block",
                        needed: 12,
                        available: have as u64,
                    }));
                }
                big = match rd_u32(h, 8, false) {
                    BOM => false,
                    0x4D3C_2B1A => true,
                    other => {
                        return Err(self.fail(CaptureErrorKind::Corrupt {
                            reason: format!("section header block has bad byte-order magic 0x{other:08x}"),
                        }));
                    }
                };
            }
            let len = rd_u32(h, 4, big) as usize;
            if len < 12 || !len.is_multiple_of(4) {
                return Err(self.fail(CaptureErrorKind::Corrupt {
                    reason: format!(
                        "pcapng block of type 0x{btype:08x} has invalid length {len} (must be a multiple of 4, at least 12)"
                    ),
                }));
            }
            if len > MAX_BLOCK_LEN {
                return Err(
                    self.fail(CaptureErrorKind::TooLarge { what: "pcapng block", declared: len as u64 })
                );
            }
            let have = self.fill(len)?;
            if have < len {
                return Err(self.fail(CaptureErrorKind::Truncated {
                    what: "pcapng block",
                    declared: len as u64,
                    available: have as u64,
                }));
            }
            let block = self.avail().get(..len).unwrap_or_default();
            let trailer = rd_u32(block, len - 4, big) as usize;
            if trailer != len {
                return Err(self.fail(CaptureErrorKind::Corrupt {
                    reason: format!(
                        "pcapng block of type 0x{btype:08x}: leading length {len} and trailing length {trailer} differ"
                    ),
                }));
            }
            match btype {
                SHB => {
                    if let Err(e) = pcap_parser::pcapng::parse_sectionheaderblock(block) {
                        return Err(self.fail(CaptureErrorKind::Corrupt {
                            reason: format!("invalid section header block: {e:?}"),
                        }));
                    }
                    if let State::PcapNg { big: b, ifaces, iface_base } = &mut self.state {
                        *b = big;
                        *iface_base = iface_base.saturating_add(ifaces.len() as u32);
                        ifaces.clear();
                    }
                    self.consume(len);
                }
                IDB => {
                    let iface = match parse_idb(block, big) {
                        Ok(i) => i,
                        Err(reason) => return Err(self.fail(CaptureErrorKind::Corrupt { reason })),
                    };
                    if let State::PcapNg { ifaces, .. } = &mut self.state {
                        // Bounded by the file: each IDB costs at least 20 bytes of input,
                        // but refuse absurd counts anyway.
                        if ifaces.len() >= 1 << 16 {
                            return Err(self.fail(CaptureErrorKind::Corrupt {
                                reason: "more than 65536 interfaces in one section".into(),
                            }));
                        }
                        ifaces.push(iface);
                    }
                    self.consume(len);
                }
                EPB | OPB => {
                    if len < 32 {
                        return Err(self.fail(CaptureErrorKind::Corrupt {
                            reason: format!("packet block of {len} bytes is shorter than 32"),
                        }));
                    }
                    let if_id =
                        if btype == EPB { rd_u32(block, 8, big) } else { u32::from(rd_u16(block, 8, big)) };
                    let ts_raw =
                        (u64::from(rd_u32(block, 12, big)) << 32) | u64::from(rd_u32(block, 16, big));
                    let caplen = rd_u32(block, 20, big) as usize;
                    let orig_len = rd_u32(block, 24, big);
                    if 28 + caplen > len - 4 {
                        return Err(self.fail(CaptureErrorKind::Corrupt {
                            reason: format!(
                                "packet block says {caplen} captured bytes but the {len}-byte block holds at most {}",
                                len - 32
                            ),
                        }));
                    }
                    let (iface, global) = match self.iface(if_id) {
                        Ok(v) => v,
                        Err(kind) => return Err(self.fail(kind)),
                    };
                    return Ok(Some(Meta {
                        ts_nanos: ng_ts_nanos(ts_raw, iface.tsresol, iface.tsoffset_secs),
                        interface: global,
                        link: iface.link,
                        data_at: 28,
                        caplen,
                        orig_len,
                        record_len: len,
                    }));
                }
                SPB => {
                    if len < 16 {
                        return Err(self.fail(CaptureErrorKind::Corrupt {
                            reason: format!("simple packet block of {len} bytes is shorter than 16"),
                        }));
                    }
                    let orig_len = rd_u32(block, 8, big);
                    let (iface, global) = match self.iface(0) {
                        Ok(v) => v,
                        Err(kind) => return Err(self.fail(kind)),
                    };
                    let mut caplen = (orig_len as usize).min(len - 16);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    return Ok(Some(Meta {
                        ts_nanos: self.last_ts,
                        interface: global,
                        link: iface.link,
                        data_at: 12,
                        caplen,
                        orig_len,
                        record_len: len,
                    }));
                }
                DSB => {
                    // Type, length, then the secrets (padded to 4 bytes); other secret
                    // types (WireGuard, ZigBee...) are not ours.
                    let kind = rd_u32(block, 8, big);
                    let n = rd_u32(block, 12, big) as usize;
                    let text = match block.get(16..16 + n).filter(|_| 16 + n <= len - 4) {
                        Some(text) => (kind == DSB_TLS_KEYLOG).then(|| text.to_vec()),
                        None => {
                            return Err(self.fail(CaptureErrorKind::Corrupt {
                                reason: format!("decryption secrets block of {len} bytes says it holds {n}"),
                            }));
                        }
                    };
                    if let (Some(t), Some(f)) = (text, &mut self.on_secrets) {
                        f(&t);
                    }
                    self.consume(len);
                }
                _ => self.consume(len),
            }
        }
    }

    /// Gives the TLS key log text of each Decryption Secrets Block to `f` as soon as the
    /// block is read, before any packet after it is returned.
    pub fn on_secrets(&mut self, f: impl FnMut(&[u8]) + Send + 'static) {
        self.on_secrets = Some(Box::new(f));
    }

    fn iface(&self, if_id: u32) -> Result<(Iface, u32), CaptureErrorKind> {
        if let State::PcapNg { ifaces, iface_base, .. } = &self.state
            && let Some(i) = ifaces.get(if_id as usize)
        {
            return Ok((*i, iface_base.saturating_add(if_id)));
        }
        Err(CaptureErrorKind::Corrupt {
            reason: format!(
                "packet refers to interface {if_id}, which no interface description block defined"
            ),
        })
    }
}

fn parse_idb(block: &[u8], big: bool) -> Result<Iface, String> {
    let parsed = if big {
        pcap_parser::pcapng::parse_interfacedescriptionblock_be(block)
    } else {
        pcap_parser::pcapng::parse_interfacedescriptionblock_le(block)
    };
    let idb = parsed.map(|(_, b)| b).map_err(|e| format!("invalid interface description block: {e:?}"))?;
    let mut tsoffset_secs = 0i64;
    for opt in &idb.options {
        if opt.code == pcap_parser::pcapng::OptionCode::IfTsoffset
            && let Some(v) = opt.value().get(..8)
        {
            let mut a = [0u8; 8];
            a.copy_from_slice(v);
            tsoffset_secs = if big { i64::from_be_bytes(a) } else { i64::from_le_bytes(a) };
        }
    }
    Ok(Iface {
        link: LinkType((idb.linktype.0 & 0xffff) as u16),
        snaplen: idb.snaplen,
        tsresol: idb.if_tsresol,
        tsoffset_secs,
    })
}

struct Meta {
    ts_nanos: i64,
    interface: u32,
    link: LinkType,
    /// Offset of the packet data from the record start.
    data_at: usize,
    caplen: usize,
    orig_len: u32,
    record_len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_forms() {
        assert_eq!(ng_ts_nanos(1_500_000, 6, 0), 1_500_000_000);
        assert_eq!(ng_ts_nanos(1_500_000_000, 9, 0), 1_500_000_000);
        assert_eq!(ng_ts_nanos(15, 1, 0), 1_500_000_000);
        // 2^-10 s units: 1024 units = 1 s.
        assert_eq!(ng_ts_nanos(1024 + 512, 0x80 | 10, 0), 1_500_000_000);
        assert_eq!(ng_ts_nanos(1, 0, 10), 11_000_000_000);
        assert_eq!(ng_ts_nanos(u64::MAX, 0, 0), i64::MAX);
    }
}
