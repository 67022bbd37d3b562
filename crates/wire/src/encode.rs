//! The frame encoder: writes any frame, valid or deliberately malformed (arbitrary RSV
//! bits and opcode, a chosen or lying length form, a MASK bit with or without a key).

use crate::frame::{LengthForm, OpCode};
use crate::mask::apply_mask;

/// How the MASK bit and masking key are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masking {
    /// MASK=0, no key, payload sent as is.
    None,
    /// MASK=1, the key follows the length, payload masked with it.
    Key([u8; 4]),
    /// MASK=1 but no key written and the payload left as is (malformed on purpose).
    FlagOnly,
}

/// Everything the encoder needs to write one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// FIN bit.
    pub fin: bool,
    /// RSV bits (RSV1 = 4, RSV2 = 2, RSV3 = 1); higher bits are ignored.
    pub rsv: u8,
    /// Opcode (only the low 4 bits are written).
    pub opcode: OpCode,
    /// Masking.
    pub masking: Masking,
    /// Length form; `None` picks the minimal one.
    pub length_form: Option<LengthForm>,
    /// Length written in the header; `None` writes the real payload length.
    pub declared_len: Option<u64>,
    /// Payload, unmasked.
    pub payload: Vec<u8>,
}

impl FrameSpec {
    /// A final, unmasked, well-formed frame.
    pub fn new(opcode: OpCode, payload: impl Into<Vec<u8>>) -> Self {
        FrameSpec {
            fin: true,
            rsv: 0,
            opcode,
            masking: Masking::None,
            length_form: None,
            declared_len: None,
            payload: payload.into(),
        }
    }

    /// Sets FIN.
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Sets the RSV bits.
    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    /// Masks with `key`.
    pub fn masked(mut self, key: [u8; 4]) -> Self {
        self.masking = Masking::Key(key);
        self
    }

    /// Sets masking explicitly.
    pub fn masking(mut self, masking: Masking) -> Self {
        self.masking = masking;
        self
    }

    /// Forces a length form.
    pub fn length_form(mut self, form: LengthForm) -> Self {
        self.length_form = Some(form);
        self
    }

    /// Writes `len` as the payload length whatever the payload is.
    pub fn declared_len(mut self, len: u64) -> Self {
        self.declared_len = Some(len);
        self
    }

    /// Encodes into a new buffer.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.payload.len() + 14);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        let form = self.length_form.unwrap_or(LengthForm::minimal_for(len));
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | (self.opcode.0 & 0xF);
        let mask_bit = if matches!(self.masking, Masking::None) { 0 } else { 0x80 };
        match form {
            LengthForm::Short if len > 125 => return Err(EncodeError::ShortFormTooLong(len)),
            LengthForm::Short => out.extend_from_slice(&[b0, mask_bit | len as u8]),
            LengthForm::Ext16 => {
                let n = u16::try_from(len).map_err(|_| EncodeError::Ext16TooLong(len))?;
                out.extend_from_slice(&[b0, mask_bit | 126]);
                out.extend_from_slice(&n.to_be_bytes());
            }
            LengthForm::Ext64 => {
                out.extend_from_slice(&[b0, mask_bit | 127]);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        let start = out.len();
        match self.masking {
            Masking::Key(key) => {
                out.extend_from_slice(&key);
                out.extend_from_slice(&self.payload);
                apply_mask(&mut out[start + 4..], key, 0);
            }
            Masking::None | Masking::FlagOnly => out.extend_from_slice(&self.payload),
        }
        Ok(())
    }
}

/// A frame the encoder cannot write at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The 7-bit form holds at most 125.
    #[error("length {0} does not fit the 7-bit form (at most 125)")]
    ShortFormTooLong(u64),
    /// The 16-bit form holds at most 65535.
    #[error("length {0} does not fit the 16-bit form (at most 65535)")]
    Ext16TooLong(u64),
}

/// Builds a Close frame payload: the 2-byte code followed by `reason`.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(reason);
    p
}
