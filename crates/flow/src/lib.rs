//! wsprobe flow: from capture files to reassembled TCP byte streams.
//!
//! This crate knows nothing about WebSocket. It reads pcap/pcapng captures
//! ([`capture`]), strips link and IP headers ([`link`], [`ip`]), parses TCP
//! ([`tcp`]), tracks connections ([`table`]) and reassembles each direction
//! into an ordered byte stream with explicit gaps ([`reassembly`] policies).
//! [`writer`] and [`synth`] produce captures for tests and benchmarks.
//!
//! ```
//! use wsprobe_flow::{CaptureReader, FlowConfig, FlowEvent, FlowTable};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let bytes = {
//! #     use wsprobe_flow::{PcapWriter, PcapOptions, TcpConversation, Side};
//! #     let mut c = TcpConversation::new("10.0.0.1:5000".parse()?, "10.0.0.2:80".parse()?);
//! #     let mut w = PcapWriter::new(Vec::new(), PcapOptions::default())?;
//! #     for p in c.handshake() { w.write_packet(0, &p, p.len() as u32)?; }
//! #     let p = c.send(Side::Initiator, b"GET / HTTP/1.1\r\n\r\n");
//! #     w.write_packet(1, &p, p.len() as u32)?;
//! #     w.into_inner()
//! # };
//! let mut reader = CaptureReader::new(&bytes[..])?;
//! let mut table = FlowTable::new(FlowConfig::default());
//! let mut received = Vec::new();
//! let mut sink = |e: FlowEvent<'_>| {
//!     if let FlowEvent::Data { data, .. } = e {
//!         received.extend_from_slice(data);
//!     }
//! };
//! while let Some(pkt) = reader.next_packet()? {
//!     table.push(&pkt, &mut sink);
//! }
//! table.finish(&mut sink);
//! assert_eq!(received, b"GET / HTTP/1.1\r\n\r\n");
//! # Ok(())
//! # }
//! ```

pub mod capture;
pub mod defrag;
pub mod events;
#[doc(hidden)]
pub mod fuzz;
pub mod ip;
pub mod link;
pub mod reassembly;
pub mod synth;
pub mod table;
pub mod tcp;
pub mod writer;

pub use capture::{CaptureError, CaptureErrorKind, CaptureFormat, CaptureReader, LinkType, Packet};
pub use events::{CloseReason, ConnId, FlowEvent, GapReason, Side};
pub use reassembly::Reorder;
pub use synth::{SynthLink, TcpConversation};
pub use table::{FlowConfig, FlowStats, FlowTable};
pub use tcp::{Decoded, TcpFlags, TcpSegment, decode_packet};
pub use writer::{PcapOptions, PcapWriter, PcapngWriter};
