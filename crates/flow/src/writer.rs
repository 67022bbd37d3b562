//! Capture writers: classic pcap and pcapng.
//!
//! Packet bytes are written as given: `data.len()` is the captured length and
//! `orig_len` the length on the wire (to simulate a snapshot length, pass a
//! shortened `data`).

use std::io::{self, Write};

use crate::capture::LinkType;

/// Options of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapOptions {
    /// Nanosecond timestamps (magic `a1b23c4d`) instead of microseconds.
    pub nanos: bool,
    /// Write the file big-endian.
    pub big_endian: bool,
    /// Snapshot length recorded in the file header.
    pub snaplen: u32,
    /// Link type of every packet.
    pub link_type: LinkType,
}

impl Default for PcapOptions {
    fn default() -> Self {
        PcapOptions { nanos: true, big_endian: false, snaplen: 262_144, link_type: LinkType::ETHERNET }
    }
}

fn put32(out: &mut Vec<u8>, v: u32, big: bool) {
    out.extend_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put16(out: &mut Vec<u8>, v: u16, big: bool) {
    out.extend_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// Writes a classic pcap file.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    opts: PcapOptions,
    scratch: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut w: W, opts: PcapOptions) -> io::Result<Self> {
        let big = opts.big_endian;
        let mut h = Vec::with_capacity(24);
        put32(&mut h, if opts.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, big);
        put16(&mut h, 2, big);
        put16(&mut h, 4, big);
        put32(&mut h, 0, big);
        put32(&mut h, 0, big);
        put32(&mut h, opts.snaplen, big);
        put32(&mut h, u32::from(opts.link_type.0), big);
        w.write_all(&h)?;
        Ok(PcapWriter { w, opts, scratch: Vec::with_capacity(16) })
    }

    /// Appends one packet record. Timestamps before 1970 or after 2106 are
    /// clamped to what the format can hold.
    pub fn write_packet(&mut self, ts_nanos: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let big = self.opts.big_endian;
        let secs = ts_nanos.div_euclid(1_000_000_000).clamp(0, i64::from(u32::MAX)) as u32;
        let ns = ts_nanos.rem_euclid(1_000_000_000) as u32;
        let frac = if self.opts.nanos { ns } else { ns / 1000 };
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        self.scratch.clear();
        put32(&mut self.scratch, secs, big);
        put32(&mut self.scratch, frac, big);
        put32(&mut self.scratch, caplen, big);
        put32(&mut self.scratch, orig_len.max(caplen), big);
        self.w.write_all(&self.scratch)?;
        self.w.write_all(data)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Writes a pcapng file: one Section Header Block, then Interface Description
/// Blocks and Enhanced Packet Blocks.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    w: W,
    big: bool,
    /// `if_tsresol` of each interface of the current section.
    ifaces: Vec<u8>,
    scratch: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes a little-endian Section Header Block.
    pub fn new(w: W) -> io::Result<Self> {
        Self::with_byte_order(w, false)
    }

    /// Writes a Section Header Block in the chosen byte order.
    pub fn with_byte_order(w: W, big_endian: bool) -> io::Result<Self> {
        let mut me = PcapngWriter { w, big: big_endian, ifaces: Vec::new(), scratch: Vec::with_capacity(64) };
        me.new_section()?;
        Ok(me)
    }

    /// Starts a new section (a new SHB): interface ids start again at 0.
    pub fn new_section(&mut self) -> io::Result<()> {
        self.ifaces.clear();
        let big = self.big;
        let mut body = Vec::with_capacity(16);
        put32(&mut body, 0x1A2B_3C4D, big);
        put16(&mut body, 1, big);
        put16(&mut body, 0, big);
        // Section length: unknown.
        body.extend_from_slice(&[0xff; 8]);
        self.write_block(0x0A0D_0D0A, &body)
    }

    /// Adds an interface with nanosecond timestamps (`if_tsresol` = 9); returns
    /// its id within the section.
    pub fn add_interface(&mut self, link_type: LinkType, snaplen: u32) -> io::Result<u32> {
        self.add_interface_with_tsresol(link_type, snaplen, 9)
    }

    /// Adds an interface with an explicit raw `if_tsresol` (bit 7 set: power of
    /// two); returns its id within the section.
    pub fn add_interface_with_tsresol(
        &mut self,
        link_type: LinkType,
        snaplen: u32,
        tsresol: u8,
    ) -> io::Result<u32> {
        let big = self.big;
        let mut body = Vec::with_capacity(24);
        put16(&mut body, link_type.0, big);
        put16(&mut body, 0, big);
        put32(&mut body, snaplen, big);
        if tsresol != 6 {
            put16(&mut body, 9, big);
            put16(&mut body, 1, big);
            body.extend_from_slice(&[tsresol, 0, 0, 0]);
            put16(&mut body, 0, big);
            put16(&mut body, 0, big);
        }
        self.write_block(1, &body)?;
        self.ifaces.push(tsresol);
        Ok(self.ifaces.len() as u32 - 1)
    }

    /// Appends an Enhanced Packet Block for `interface` (an id returned by
    /// [`add_interface`](Self::add_interface) in the current section).
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts_nanos: i64,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let tsresol = *self
            .ifaces
            .get(interface as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unknown pcapng interface"))?;
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let units = nanos_to_units(ts_nanos.max(0) as u64, tsresol);
        let big = self.big;
        let pad = (4 - data.len() % 4) % 4;
        let total = 32 + data.len() + pad;
        let total32 = u32::try_from(total)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        put32(&mut s, 6, big);
        put32(&mut s, total32, big);
        put32(&mut s, interface, big);
        put32(&mut s, (units >> 32) as u32, big);
        put32(&mut s, units as u32, big);
        put32(&mut s, caplen, big);
        put32(&mut s, orig_len.max(caplen), big);
        let r = self.w.write_all(&s).and_then(|()| self.w.write_all(data));
        s.clear();
        s.extend_from_slice(&[0; 3][..pad]);
        put32(&mut s, total32, big);
        let r = r.and_then(|()| self.w.write_all(&s));
        self.scratch = s;
        r
    }

    /// Appends a Simple Packet Block (interface 0, no timestamp). The captured
    /// length is `data.len()`.
    pub fn write_simple_packet(&mut self, data: &[u8], orig_len: u32) -> io::Result<()> {
        let mut body = Vec::with_capacity(data.len() + 8);
        put32(&mut body, orig_len.max(data.len() as u32), self.big);
        body.extend_from_slice(data);
        self.write_block(3, &body)
    }

    /// Appends a block of any type with `body` (padded to 4 bytes): for custom
    /// blocks, or to test readers with unknown ones.
    pub fn write_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let big = self.big;
        let pad = (4 - body.len() % 4) % 4;
        let total = u32::try_from(12 + body.len() + pad)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block too large"))?;
        let mut b = Vec::with_capacity(total as usize);
        put32(&mut b, block_type, big);
        put32(&mut b, total, big);
        b.extend_from_slice(body);
        b.extend_from_slice(&[0; 3][..pad]);
        put32(&mut b, total, big);
        self.w.write_all(&b)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Nanoseconds to `if_tsresol` units.
fn nanos_to_units(ns: u64, tsresol: u8) -> u64 {
    let ns = u128::from(ns);
    let v = if tsresol & 0x80 == 0 {
        let e = u32::from(tsresol).min(38);
        if e >= 9 { ns.saturating_mul(10u128.pow(e - 9)) } else { ns / 10u128.pow(9 - e) }
    } else {
        let e = u32::from(tsresol & 0x7f).min(64);
        (ns << e) / 1_000_000_000
    };
    u64::try_from(v).unwrap_or(u64::MAX)
}
