//! Extension parameters and negotiation, RFC 7692 §7 and §7.1.

use crate::Role;
use crate::extensions::{ExtParam, Extension};
use crate::rules::Rule;
use serde::Serialize;

/// The registered extension name (RFC 7692 §7, §9.1).
pub const NAME: &str = "permessage-deflate";

const SERVER_NCT: &str = "server_no_context_takeover";
const CLIENT_NCT: &str = "client_no_context_takeover";
const SERVER_MWB: &str = "server_max_window_bits";
const CLIENT_MWB: &str = "client_max_window_bits";

/// Whether an element names this extension (ASCII case-insensitively, as the
/// session matches it).
fn is_pmd(e: &Extension) -> bool {
    e.name.eq_ignore_ascii_case(NAME)
}

/// The window size used when no `*_max_window_bits` was agreed (32,768 bytes,
/// RFC 7692 §7.1.2.1 / §7.1.2.2).
const DEFAULT_BITS: u8 = 15;

/// Parameters of one permessage-deflate element (offer or response), RFC 7692 §7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PmdParams {
    /// `server_no_context_takeover` (§7.1.1.1).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N` (§7.1.2.1), 8..=15.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits[=N]` (§7.1.2.2).
    pub client_max_window_bits: Option<ClientBits>,
}

/// The form of a `client_max_window_bits` parameter (RFC 7692 §7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientBits {
    /// Written without a value: only legal in an offer, where it says the client
    /// supports the parameter in the response.
    NoValue,
    /// Written with a value, 8..=15.
    Bits(u8),
}

/// Parses a window-bits value: `1*DIGIT`, no leading zeroes, 8..=15 (§7.1.2.1,
/// §7.1.2.2). The error is a short description of what is wrong.
fn parse_bits(v: &str) -> Result<u8, String> {
    if v.is_empty() {
        return Err("empty value".into());
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{v:?} is not a decimal integer"));
    }
    if v.len() > 1 && v.starts_with('0') {
        return Err(format!("{v:?} has a leading zero"));
    }
    match v.parse::<u8>() {
        Ok(b @ 8..=15) => Ok(b),
        _ => Err(format!("{v:?} is outside 8..=15")),
    }
}

/// Validates one permessage-deflate element against RFC 7692 §7: every parameter
/// must be one of the four defined in §7.1, appear at most once and have a valid
/// value (no value on the `*_no_context_takeover` flags; `1*DIGIT` without leading
/// zeroes in 8..=15 for window bits; `server_max_window_bits` always needs one).
///
/// A value-less `client_max_window_bits` is accepted here as
/// [`ClientBits::NoValue`]: it is legal in an offer only, and
/// [`accept_response`] rejects it in a response.
///
/// The element's name is not checked. Parameter names are matched exactly (they
/// are defined in lower case). On failure every problem found is listed,
/// each as `(Rule::PmdParamInvalid, detail)`.
pub fn parse_params(ext: &Extension) -> Result<PmdParams, Vec<(Rule, String)>> {
    let mut p = PmdParams::default();
    let mut errs = Vec::new();
    let mut seen = [false; 4];
    for ExtParam { name, value } in &ext.params {
        let idx = match name.as_str() {
            SERVER_NCT => 0,
            CLIENT_NCT => 1,
            SERVER_MWB => 2,
            CLIENT_MWB => 3,
            _ => {
                errs.push((Rule::PmdParamInvalid, format!("unknown parameter {name:?}")));
                continue;
            }
        };
        if std::mem::replace(&mut seen[idx], true) {
            errs.push((Rule::PmdParamInvalid, format!("{name} appears more than once")));
            continue;
        }
        let flag = idx < 2;
        match value {
            Some(v) if flag => {
                errs.push((Rule::PmdParamInvalid, format!("{name} takes no value, got {v:?}")))
            }
            None if idx == 0 => p.server_no_context_takeover = true,
            None if idx == 1 => p.client_no_context_takeover = true,
            None if idx == 2 => {
                errs.push((Rule::PmdParamInvalid, format!("{name} needs a value")));
            }
            None => p.client_max_window_bits = Some(ClientBits::NoValue),
            Some(v) => match parse_bits(v) {
                Ok(b) if idx == 2 => p.server_max_window_bits = Some(b),
                Ok(b) => p.client_max_window_bits = Some(ClientBits::Bits(b)),
                Err(e) => errs.push((Rule::PmdParamInvalid, format!("{name}: {e}"))),
            },
        }
    }
    if errs.is_empty() { Ok(p) } else { Err(errs) }
}

/// Builds the permessage-deflate element that carries `p`, parameters in the order
/// of §7.1 (for offers and answers).
pub fn format_params(p: &PmdParams) -> Extension {
    let mut params = Vec::new();
    let flag = |name: &str| ExtParam { name: name.to_owned(), value: None };
    let valued = |name: &str, v: u8| ExtParam { name: name.to_owned(), value: Some(v.to_string()) };
    if p.server_no_context_takeover {
        params.push(flag(SERVER_NCT));
    }
    if p.client_no_context_takeover {
        params.push(flag(CLIENT_NCT));
    }
    if let Some(b) = p.server_max_window_bits {
        params.push(valued(SERVER_MWB, b));
    }
    match p.client_max_window_bits {
        Some(ClientBits::NoValue) => params.push(flag(CLIENT_MWB)),
        Some(ClientBits::Bits(b)) => params.push(valued(CLIENT_MWB, b)),
        None => {}
    }
    Extension { name: NAME.to_owned(), params }
}

/// The agreed configuration of both directions (the "agreed parameters" of
/// RFC 7692 §7.2.1 / §7.2.2, with defaults filled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PmdConfig {
    /// The server starts every message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty window.
    pub client_no_context_takeover: bool,
    /// Base-2 log of the server's LZ77 window, 8..=15 (15 if not agreed).
    pub server_max_window_bits: u8,
    /// Base-2 log of the client's LZ77 window, 8..=15 (15 if not agreed).
    pub client_max_window_bits: u8,
}

impl Default for PmdConfig {
    /// Plain `permessage-deflate`: context takeover both ways, 32 KiB windows.
    fn default() -> Self {
        PmdConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: DEFAULT_BITS,
            client_max_window_bits: DEFAULT_BITS,
        }
    }
}

impl PmdConfig {
    /// The configuration the agreed parameters `r` (a server's response)
    /// describe: absent window bits, or a value-less `client_max_window_bits`,
    /// mean 15.
    pub fn from_params(r: &PmdParams) -> Self {
        PmdConfig {
            server_no_context_takeover: r.server_no_context_takeover,
            client_no_context_takeover: r.client_no_context_takeover,
            server_max_window_bits: r.server_max_window_bits.unwrap_or(DEFAULT_BITS),
            client_max_window_bits: match r.client_max_window_bits {
                Some(ClientBits::Bits(b)) => b,
                _ => DEFAULT_BITS,
            },
        }
    }

    /// What `sender` compresses with, and what its peer inflates: `(window bits,
    /// no_context_takeover)`.
    pub fn for_sender(&self, sender: Role) -> (u8, bool) {
        match sender {
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
        }
    }
}

/// Why the response `r` cannot accept the (valid) offer `o`; empty if it can.
fn incompatibilities(o: &PmdParams, r: &PmdParams) -> Vec<String> {
    let mut why = Vec::new();
    // §7.1.1.1: the server accepts this parameter by echoing it.
    if o.server_no_context_takeover && !r.server_no_context_takeover {
        why.push(format!("offer has {SERVER_NCT} but the response does not"));
    }
    // §7.1.2.1: the server accepts this parameter with the same or a smaller value.
    if let Some(ob) = o.server_max_window_bits {
        match r.server_max_window_bits {
            None => why.push(format!("offer has {SERVER_MWB}={ob} but the response does not")),
            Some(rb) if rb > ob => {
                why.push(format!("response {SERVER_MWB}={rb} is larger than the offered {ob}"))
            }
            Some(_) => {}
        }
    }
    // §7.1.2.2: client_max_window_bits in the response only if the offer had it.
    // A response value larger than the offered hint is allowed: §7.2.1 lets the
    // client compress with any window that fits the agreed value.
    if let Some(ClientBits::Bits(rb)) = r.client_max_window_bits
        && o.client_max_window_bits.is_none()
    {
        why.push(format!("response has {CLIENT_MWB}={rb} but the offer did not have {CLIENT_MWB}"));
    }
    why
}

/// Client side: judges the server's `response` (one element) against the
/// client's permessage-deflate `offers`, in the order sent (RFC 7692 §7, §7.1).
///
/// The response must be named `permessage-deflate`, its parameters must be valid
/// for a response ([`parse_params`], plus a value on `client_max_window_bits`), and
/// it must accept at least one valid offer: echo `server_no_context_takeover` and
/// a `server_max_window_bits` no larger than offered when the offer has them, and
/// carry `client_max_window_bits` only if the offer has it. The first such offer
/// is taken; the configuration is the one the response describes.
///
/// Errors are `(Rule::PmdParamInvalid, detail)` for invalid response parameters,
/// `(Rule::PmdResponseMismatch, detail)` when no offer fits.
pub fn accept_response(offers: &[Extension], response: &Extension) -> Result<PmdConfig, Vec<(Rule, String)>> {
    if !is_pmd(response) {
        return Err(vec![(
            Rule::PmdResponseMismatch,
            format!("response element is {:?}, not {NAME}", response.name),
        )]);
    }
    let (r, mut errs) = match parse_params(response) {
        Ok(r) => (Some(r), Vec::new()),
        Err(e) => (None, e),
    };
    if let Some(ClientBits::NoValue) = r.and_then(|r| r.client_max_window_bits) {
        errs.push((Rule::PmdParamInvalid, format!("{CLIENT_MWB} needs a value in a response")));
    }
    let Some(r) = r.filter(|_| errs.is_empty()) else {
        return Err(errs);
    };
    let mut reasons = Vec::new();
    let mut n = 0;
    for offer in offers.iter().filter(|o| is_pmd(o)) {
        n += 1;
        match parse_params(offer) {
            Ok(o) => {
                let why = incompatibilities(&o, &r);
                if why.is_empty() {
                    return Ok(PmdConfig::from_params(&r));
                }
                reasons.push(format!("offer {n}: {}", why.join(", ")));
            }
            Err(_) => reasons.push(format!("offer {n} is itself invalid")),
        }
    }
    let detail = if n == 0 {
        format!("the client made no {NAME} offer")
    } else {
        format!("the response fits no offer ({})", reasons.join("; "))
    };
    Err(vec![(Rule::PmdResponseMismatch, detail)])
}

/// Client side: what the server's selected extensions (`selected`, in its order) make
/// of the client's `offers` (all extensions offered): the configuration frames are
/// decoded with (`None` when permessage-deflate was not selected), and every problem
/// with the answer. A response holding more than one permessage-deflate element is
/// [`Rule::PmdResponseMismatch`] (RFC 7692 §7: the server accepts at most one offer);
/// frames are then decoded as the first one says.
pub fn negotiate(offers: &[Extension], selected: &[Extension]) -> (Option<PmdConfig>, Vec<(Rule, String)>) {
    let mut answers = selected.iter().filter(|e| is_pmd(e));
    let Some(ext) = answers.next() else {
        return (None, Vec::new());
    };
    let mut problems = Vec::new();
    let more = answers.count();
    if more > 0 {
        problems.push((
            Rule::PmdResponseMismatch,
            format!("the response holds {} {NAME} elements; a server accepts at most one offer", more + 1),
        ));
    }
    let offers: Vec<Extension> = offers.iter().filter(|e| is_pmd(e)).cloned().collect();
    match accept_response(&offers, ext) {
        Ok(cfg) => (Some(cfg), problems),
        Err(p) => {
            problems.extend(p);
            // The server compresses anyway: decode as it said it would, as far as that
            // is defined (defaults otherwise), so that its frames are not blamed for
            // the bad answer a second time.
            (Some(parse_params(ext).map(|p| PmdConfig::from_params(&p)).unwrap_or_default()), problems)
        }
    }
}

/// What a server asks of the client in its permessage-deflate answer (RFC 7692
/// §7.1.1.2, §7.1.2.2), on top of echoing the offer as [`answer_offers`] does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerAsk {
    /// Add `client_no_context_takeover` (a server may, offered or not).
    pub client_no_context_takeover: bool,
    /// `client_max_window_bits=N`: only for an offer that has `client_max_window_bits`,
    /// and no more than its value.
    pub client_max_window_bits: Option<u8>,
}

impl ServerAsk {
    /// Parses `client_no_context_takeover; client_max_window_bits=N` (either, both
    /// or neither, `;`-separated); the error names what is not one of them.
    pub fn parse(text: &str) -> Result<ServerAsk, String> {
        let mut ask = ServerAsk::default();
        for p in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match p.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                None if p == "client_no_context_takeover" => ask.client_no_context_takeover = true,
                Some(("client_max_window_bits", v)) => match v.parse::<u8>() {
                    Ok(b) if (8..=15).contains(&b) => ask.client_max_window_bits = Some(b),
                    _ => return Err(format!("client_max_window_bits={v}: not 8..15")),
                },
                _ => {
                    return Err(format!("{p:?}: not client_no_context_takeover or client_max_window_bits=N"));
                }
            }
        }
        Ok(ask)
    }
}

/// Server side (`wsprobe serve`): answers the first valid permessage-deflate offer
/// in `offers` that allows what `ask` asks for, echoing it as [`answer_offers`] does
/// otherwise; `None` if no offer allows it.
pub fn answer_offers_asking(offers: &[Extension], ask: ServerAsk) -> Option<(Extension, PmdConfig)> {
    offers.iter().filter(|o| is_pmd(o)).find_map(|o| {
        let o = parse_params(o).ok()?;
        let client_max_window_bits = match (ask.client_max_window_bits, o.client_max_window_bits) {
            (None, Some(ClientBits::Bits(b))) => Some(ClientBits::Bits(b)),
            (None, _) => None,
            (Some(n), Some(ClientBits::NoValue)) => Some(ClientBits::Bits(n)),
            (Some(n), Some(ClientBits::Bits(b))) if n <= b => Some(ClientBits::Bits(n)),
            (Some(_), _) => return None,
        };
        let r = PmdParams {
            client_no_context_takeover: o.client_no_context_takeover || ask.client_no_context_takeover,
            client_max_window_bits,
            ..o
        };
        Some((format_params(&r), PmdConfig::from_params(&r)))
    })
}

/// Server side (the reference server): answers the first valid
/// permessage-deflate offer in `offers`, or `None` if there is none (§7: invalid
/// offers are declined).
///
/// The answer echoes the offer's `server_no_context_takeover`,
/// `client_no_context_takeover` and `server_max_window_bits`, and echoes
/// `client_max_window_bits` when the offer gave it a value (a value-less one is
/// left out of the answer, i.e. 15).
pub fn answer_offers(offers: &[Extension]) -> Option<(Extension, PmdConfig)> {
    answer_offers_asking(offers, ServerAsk::default())
}
