//! Events reported by the [`FlowTable`](crate::FlowTable).

use std::fmt;
use std::net::SocketAddr;

/// Connection identifier: 1-based, increasing in the order of each
/// connection's first packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which endpoint sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that sent the SYN (or, without a SYN, the first packet).
    Initiator,
    /// The other endpoint.
    Responder,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Initiator => Side::Responder,
            Side::Responder => Side::Initiator,
        }
    }
}

/// Why bytes of a stream are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// The segment never appeared in the capture (declared on a peer ACK past
    /// the hole, FIN, RST, idle eviction or end of capture).
    Lost,
    /// The segment was captured but cut by the snapshot length.
    Snaplen,
    /// The out-of-order buffer exceeded its cap, so the hole before it was given up.
    BufferCap,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Both sides sent FIN.
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for longer than the idle timeout.
    Idle,
    /// The capture ended while the connection was open.
    EndOfCapture,
    /// Removed to make room when the table was full.
    Evicted,
    /// A new SYN with a different initial sequence number reused the 4-tuple
    /// while this connection was still open.
    Superseded,
}

/// What the [`FlowTable`](crate::FlowTable) reports.
///
/// `Data` borrows the bytes: from the packet being pushed or from the table's
/// reassembly buffers. Copy them if they must outlive the callback.
///
/// For one connection the order is: `Opened`, then `Data`/`Gap`/`Warning` in
/// stream order per side, then `Closed`. Each side's `Data` and `Gap` events
/// tile its stream: every event's `offset` is the previous event's
/// `offset + len`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowEvent<'a> {
    /// A new connection.
    Opened {
        /// Its id.
        conn: ConnId,
        /// Who sent the SYN (or the first packet when `syn_seen` is false).
        initiator: SocketAddr,
        /// The other endpoint.
        responder: SocketAddr,
        /// A SYN or SYN-ACK was seen, so the roles and stream starts are certain.
        syn_seen: bool,
        /// Packet number of the first packet.
        packet: u64,
        /// Its timestamp.
        ts_nanos: i64,
    },
    /// In-order stream bytes.
    Data {
        /// Connection.
        conn: ConnId,
        /// Sender.
        side: Side,
        /// Stream offset of `data[0]`: 0 is the first byte after the SYN (or the
        /// lowest sequence number of the first window when no SYN was seen).
        offset: u64,
        /// The bytes.
        data: &'a [u8],
        /// Packet number that carried them.
        packet: u64,
        /// Its timestamp.
        ts_nanos: i64,
    },
    /// Bytes of the stream that cannot be delivered.
    Gap {
        /// Connection.
        conn: ConnId,
        /// Sender.
        side: Side,
        /// Stream offset of the first missing byte.
        offset: u64,
        /// Number of missing bytes.
        len: u64,
        /// Why.
        reason: GapReason,
        /// Packet that caused the gap to be declared (for `Snaplen`, the cut packet).
        packet: u64,
        /// Its timestamp.
        ts_nanos: i64,
    },
    /// The connection ended; no more events for it.
    Closed {
        /// Connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
        /// Packet that closed it (the last packet read for end of capture/eviction).
        packet: u64,
        /// Its timestamp.
        ts_nanos: i64,
    },
    /// Something noteworthy that is not an error (conflicting retransmission,
    /// unsupported link type, ...).
    Warning {
        /// Connection concerned, if any.
        conn: Option<ConnId>,
        /// Packet concerned.
        packet: u64,
        /// Description.
        message: String,
    },
}

impl<'a> FlowEvent<'a> {
    /// The same event with its payload (for `Data`) replaced by `data`: lets a caller
    /// keep events without their borrowed bytes (`with_data(&[])`) and put the bytes
    /// back later from its own buffer.
    pub fn with_data<'b>(self, data: &'b [u8]) -> FlowEvent<'b> {
        match self {
            FlowEvent::Opened { conn, initiator, responder, syn_seen, packet, ts_nanos } => {
                FlowEvent::Opened { conn, initiator, responder, syn_seen, packet, ts_nanos }
            }
            FlowEvent::Data { conn, side, offset, packet, ts_nanos, .. } => {
                FlowEvent::Data { conn, side, offset, data, packet, ts_nanos }
            }
            FlowEvent::Gap { conn, side, offset, len, reason, packet, ts_nanos } => {
                FlowEvent::Gap { conn, side, offset, len, reason, packet, ts_nanos }
            }
            FlowEvent::Closed { conn, reason, packet, ts_nanos } => {
                FlowEvent::Closed { conn, reason, packet, ts_nanos }
            }
            FlowEvent::Warning { conn, packet, message } => FlowEvent::Warning { conn, packet, message },
        }
    }
}
