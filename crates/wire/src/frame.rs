//! The base framing protocol, RFC 6455 §5.2: frame header fields and the streaming,
//! bit-level nom parser. The parser never refuses a frame: it decodes whatever the
//! bits say and leaves judging to [`header_violations`].

use crate::{Role, Rule, Violation};
use nom::bits::streaming::take as take_bits;
use nom::number::streaming::{be_u16, be_u64};
use nom::{IResult, Parser};
use serde::Serialize;

/// A frame opcode, open to all 16 values so that reserved opcodes stay representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpCode(pub u8);

impl OpCode {
    /// Continuation frame (0x0).
    pub const CONTINUATION: OpCode = OpCode(0x0);
    /// Text frame (0x1).
    pub const TEXT: OpCode = OpCode(0x1);
    /// Binary frame (0x2).
    pub const BINARY: OpCode = OpCode(0x2);
    /// Connection close (0x8).
    pub const CLOSE: OpCode = OpCode(0x8);
    /// Ping (0x9).
    pub const PING: OpCode = OpCode(0x9);
    /// Pong (0xA).
    pub const PONG: OpCode = OpCode(0xA);

    /// Control opcodes have the high bit of the 4-bit opcode set (§5.5).
    pub const fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// Opcodes 0x3-0x7 and 0xB-0xF are reserved (§5.2).
    pub const fn is_reserved(self) -> bool {
        matches!(self.0 & 0xF, 0x3..=0x7 | 0xB..=0xF)
    }

    /// `text`, `binary`, `continuation`, `close`, `ping`, `pong` or `reserved-0xN`
    /// (borrowed for the named ones: a record per message need not allocate it).
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self.0 {
            0x0 => "continuation".into(),
            0x1 => "text".into(),
            0x2 => "binary".into(),
            0x8 => "close".into(),
            0x9 => "ping".into(),
            0xA => "pong".into(),
            n => format!("reserved-0x{n:X}").into(),
        }
    }
}

impl std::fmt::Display for OpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for OpCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Which payload-length encoding a frame used (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LengthForm {
    /// 7-bit length in the second byte (0-125).
    #[serde(rename = "7")]
    Short,
    /// 126 marker followed by a 16-bit length.
    #[serde(rename = "16")]
    Ext16,
    /// 127 marker followed by a 64-bit length.
    #[serde(rename = "64")]
    Ext64,
}

impl LengthForm {
    /// The smallest form that can hold `len`.
    pub const fn minimal_for(len: u64) -> LengthForm {
        if len <= 125 {
            LengthForm::Short
        } else if len <= 0xFFFF {
            LengthForm::Ext16
        } else {
            LengthForm::Ext64
        }
    }

    /// Bytes the length occupies after the first two header bytes.
    pub const fn extra_bytes(self) -> usize {
        match self {
            LengthForm::Short => 0,
            LengthForm::Ext16 => 2,
            LengthForm::Ext64 => 8,
        }
    }

    /// Number of bits of the form (7, 16 or 64).
    pub const fn bits(self) -> u8 {
        match self {
            LengthForm::Short => 7,
            LengthForm::Ext16 => 16,
            LengthForm::Ext64 => 64,
        }
    }
}

/// Every raw field of one frame header, exactly as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FrameHeader {
    /// FIN bit.
    pub fin: bool,
    /// RSV1 bit (the Per-Message Compressed bit under permessage-deflate).
    pub rsv1: bool,
    /// RSV2 bit.
    pub rsv2: bool,
    /// RSV3 bit.
    pub rsv3: bool,
    /// Raw 4-bit opcode.
    pub opcode: OpCode,
    /// MASK bit.
    pub masked: bool,
    /// Length encoding used.
    pub length_form: LengthForm,
    /// Declared payload length (never trusted for allocation).
    pub payload_len: u64,
    /// Masking key, present when the MASK bit is set (serialised as 8 hex digits).
    #[serde(serialize_with = "key_hex")]
    pub mask_key: Option<[u8; 4]>,
    /// Header size in bytes (2 to 14); the payload starts at this offset.
    pub header_len: u8,
}

fn key_hex<S: serde::Serializer>(key: &Option<[u8; 4]>, s: S) -> Result<S::Ok, S::Error> {
    match key {
        Some(k) => s.serialize_str(&format!("{:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3])),
        None => s.serialize_none(),
    }
}

impl FrameHeader {
    /// RSV bits as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1).
    pub const fn rsv(&self) -> u8 {
        ((self.rsv1 as u8) << 2) | ((self.rsv2 as u8) << 1) | (self.rsv3 as u8)
    }
}

/// Result of feeding bytes to [`parse_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A complete header; the payload starts at `header.header_len`.
    Header(FrameHeader),
    /// The input is a prefix of a header: at least `needed` more bytes are required.
    Incomplete {
        /// Minimum number of further bytes needed.
        needed: usize,
    },
}

type BitsIn<'a> = (&'a [u8], usize);

/// FIN+RSV1-3 (4 bits), opcode (4 bits), MASK (1 bit), 7-bit length.
type FirstTwo = (u8, u8, u8, u8);

/// First two bytes: FIN, RSV1-3, opcode, MASK, 7-bit length.
fn first_two(i: BitsIn<'_>) -> IResult<BitsIn<'_>, FirstTwo> {
    (take_bits(4usize), take_bits(4usize), take_bits(1usize), take_bits(7usize)).parse(i)
}

fn header(input: &[u8]) -> IResult<&[u8], FrameHeader> {
    let (rest, (flags, opcode, mask, len7)) = nom::bits::bits(first_two).parse(input)?;
    let (rest, length_form, payload_len) = match len7 {
        126 => {
            let (rest, n) = be_u16(rest)?;
            (rest, LengthForm::Ext16, u64::from(n))
        }
        127 => {
            let (rest, n) = be_u64(rest)?;
            (rest, LengthForm::Ext64, n)
        }
        n => (rest, LengthForm::Short, u64::from(n)),
    };
    let (rest, mask_key) = if mask == 1 {
        let (rest, key) = nom::bytes::streaming::take(4usize).parse(rest)?;
        (rest, Some([key[0], key[1], key[2], key[3]]))
    } else {
        (rest, None)
    };
    let header_len = (input.len() - rest.len()) as u8;
    Ok((
        rest,
        FrameHeader {
            fin: flags & 0b1000 != 0,
            rsv1: flags & 0b0100 != 0,
            rsv2: flags & 0b0010 != 0,
            rsv3: flags & 0b0001 != 0,
            opcode: OpCode(opcode),
            masked: mask == 1,
            length_form,
            payload_len,
            mask_key,
            header_len,
        },
    ))
}

/// Parses one frame header from the start of `input`. Any prefix of a header gives
/// [`Parsed::Incomplete`]; there is no error case, because every bit pattern is a
/// header (judging it is [`header_violations`]'s job).
pub fn parse_header(input: &[u8]) -> Parsed {
    match header(input) {
        Ok((_, h)) => Parsed::Header(h),
        Err(nom::Err::Incomplete(nom::Needed::Size(n))) => Parsed::Incomplete { needed: n.get() },
        Err(_) => Parsed::Incomplete { needed: 1 },
    }
}

/// What the receiver of a frame knows when judging its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderContext {
    /// The endpoint that sent the frame.
    pub sender: Role,
    /// RSV bits that a negotiated extension defines (RSV1 = 4, RSV2 = 2, RSV3 = 1).
    pub rsv_allowed: u8,
    /// Whether the role of the sender is known (masking is judged only then).
    pub roles_known: bool,
}

/// Judges one header on its own (§5.1, §5.2, §5.5). `offset` is where the frame starts
/// in the sender's stream. Message-level rules (fragmentation, RSV1 placement under
/// permessage-deflate) are judged by the message assembler.
pub fn header_violations(h: &FrameHeader, ctx: HeaderContext, offset: u64, out: &mut Vec<Violation>) {
    let v = |rule, detail: String| Violation::new(rule, ctx.sender, offset, detail);
    if h.opcode.is_reserved() {
        out.push(v(Rule::FrameOpcodeReserved, format!("opcode 0x{:X}", h.opcode.0)));
    }
    let bad_rsv = h.rsv() & !ctx.rsv_allowed;
    if bad_rsv != 0 {
        out.push(v(
            Rule::FrameRsvUnnegotiated,
            format!("RSV bits {bad_rsv:03b} set, not defined by any negotiated extension"),
        ));
    }
    let msb_set = h.length_form == LengthForm::Ext64 && h.payload_len >> 63 == 1;
    if !msb_set && h.length_form != LengthForm::minimal_for(h.payload_len) {
        out.push(v(
            Rule::FrameLengthNonMinimal,
            format!("length {} encoded in the {}-bit form", h.payload_len, h.length_form.bits()),
        ));
    }
    if msb_set {
        out.push(v(Rule::FrameLengthMsbSet, format!("64-bit length 0x{:016X}", h.payload_len)));
    }
    if h.opcode.is_control() {
        if h.payload_len > 125 {
            out.push(v(
                Rule::ControlPayloadTooLong,
                format!("{} payload of {} bytes", h.opcode, h.payload_len),
            ));
        }
        if !h.fin {
            out.push(v(Rule::ControlFragmented, format!("{} frame with FIN=0", h.opcode)));
        }
    }
    if ctx.roles_known {
        match (ctx.sender, h.masked) {
            (Role::Client, false) => out.push(v(Rule::MaskClientUnmasked, "client frame with MASK=0".into())),
            (Role::Server, true) => out.push(v(Rule::MaskServerMasked, "server frame with MASK=1".into())),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_is_incomplete_with_exact_need() {
        // Masked, 64-bit length: 14-byte header.
        let bytes = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for cut in 0..bytes.len() {
            match parse_header(&bytes[..cut]) {
                Parsed::Incomplete { needed } => {
                    assert!(needed >= 1 && cut + needed <= bytes.len(), "cut {cut}")
                }
                Parsed::Header(h) => panic!("complete at {cut}: {h:?}"),
            }
        }
        let Parsed::Header(h) = parse_header(&bytes) else { panic!() };
        assert_eq!((h.header_len, h.payload_len, h.mask_key), (14, 65536, Some([1, 2, 3, 4])));
    }

    #[test]
    fn reserved_opcodes() {
        let reserved: Vec<u8> = (0..16).filter(|&n| OpCode(n).is_reserved()).collect();
        assert_eq!(reserved, vec![3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
    }
}
