//! permessage-deflate, RFC 7692: parameter parsing and negotiation (§7.1) and the
//! per-message payload transformation (§7.2).
//!
//! Negotiation works on already-parsed [`Extension`](crate::extensions::Extension)
//! elements: [`parse_params`] validates one element, [`accept_response`] judges a
//! server's answer from the client's side, [`answer_offers`] is the reference
//! server's choice. The codec side is [`Inflater`] (one per received direction,
//! bounded output per message) and [`Deflater`] (one per sent direction).

mod codec;
pub mod distance;
mod params;

pub use codec::{Deflater, InflateError, Inflater, TAIL};
pub use params::{
    ClientBits, NAME, PmdConfig, PmdParams, ServerAsk, accept_response, answer_offers, answer_offers_asking,
    format_params, negotiate, parse_params,
};
