//! # wsprobe-wire
//!
//! The sans-IO core of wsprobe: RFC 6455 framing and RFC 7692 permessage-deflate,
//! judged against one [rules table](rules). No sockets, no clock, no randomness:
//! bytes go in, [events](session::Event) and [violations](Violation) come out.
#![forbid(unsafe_code)]

mod assembler;
pub mod close;
pub mod deflate;
pub mod encode;
pub mod event;
pub mod extensions;
pub mod frame;
#[doc(hidden)]
pub mod fuzz;
pub mod handshake;
pub mod mask;
pub mod role;
pub mod rules;
pub mod session;
pub mod sync;
pub mod transcript;
pub mod utf8;
pub mod violation;
pub mod xorshift;

pub use event::{Event, FrameEvent, Message};
pub use frame::{FrameHeader, LengthForm, OpCode, Parsed, parse_header};
pub use role::{Dir, Role};
pub use rules::{Level, Rule, RuleInfo};
pub use session::{Established, Limits, Session};
pub use violation::Violation;
