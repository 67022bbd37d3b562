//! Close frames, RFC 6455 §5.5.1 and §7.4: the status code, the reason, and which
//! codes may appear on the wire.

use crate::Rule;
use serde::Serialize;

/// Named status codes of §7.4.1 (the wire type stays an open `u16`).
pub mod code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Going away.
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Unsupported data type.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reserved; never on the wire.
    pub const RESERVED_1004: u16 = 1004;
    /// No status received; never on the wire.
    pub const NO_STATUS: u16 = 1005;
    /// Abnormal closure; never on the wire.
    pub const ABNORMAL: u16 = 1006;
    /// Invalid frame payload data (e.g. bad UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation.
    pub const POLICY: u16 = 1008;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;
    /// Mandatory extension missing (client only).
    pub const MANDATORY_EXT: u16 = 1010;
    /// Internal error.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// TLS handshake failure; never on the wire.
    pub const TLS_HANDSHAKE: u16 = 1015;
}

/// Whether `code` may be sent in a Close frame (§7.4.1, §7.4.2, and the IANA
/// registrations 1012-1014 that followed): 1000-1003, 1007-1014 and 3000-4999.
pub const fn code_allowed_on_wire(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A decoded Close payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseInfo {
    /// Status code, if the body had one.
    pub code: Option<u16>,
    /// Reason bytes after the code (kept raw; may be invalid UTF-8).
    #[serde(serialize_with = "lossy")]
    pub reason: Vec<u8>,
}

fn lossy<S: serde::Serializer>(r: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(r))
}

impl CloseInfo {
    /// The reason as text, with invalid UTF-8 replaced.
    pub fn reason_lossy(&self) -> String {
        String::from_utf8_lossy(&self.reason).into_owned()
    }
}

/// Decodes a Close payload and judges it. Problems come back as
/// `(rule, offset within the payload, detail)`.
pub fn parse_close(payload: &[u8]) -> (CloseInfo, Vec<(Rule, usize, String)>) {
    parse_close_kept(payload, true)
}

/// [`parse_close`] for a payload of which only the first bytes were kept
/// (`complete == false`): the reason is judged only as far as it goes, so a UTF-8
/// sequence cut at the end of the kept bytes is not a violation.
pub fn parse_close_kept(payload: &[u8], complete: bool) -> (CloseInfo, Vec<(Rule, usize, String)>) {
    let mut problems = Vec::new();
    match payload {
        [] => (CloseInfo { code: None, reason: Vec::new() }, problems),
        [b] => {
            problems.push((Rule::ClosePayloadOneByte, 0, format!("1-byte close body 0x{b:02X}")));
            (CloseInfo { code: None, reason: Vec::new() }, problems)
        }
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !code_allowed_on_wire(code) {
                problems.push((Rule::CloseCodeInvalid, 0, format!("close code {code}")));
            }
            let mut v = crate::utf8::Utf8Validator::new();
            let verdict = v.feed(reason).and_then(|()| if complete { v.finish() } else { Ok(()) });
            if let Err(e) = verdict {
                problems.push((
                    Rule::CloseReasonInvalidUtf8,
                    2 + e.at as usize,
                    format!("reason not UTF-8 at byte {} of the reason", e.at),
                ));
            }
            (CloseInfo { code: Some(code), reason: reason.to_vec() }, problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table() {
        let allowed: Vec<u16> = (0..=5000u16).filter(|&c| code_allowed_on_wire(c)).collect();
        assert_eq!(allowed.len(), 4 + 8 + 2000);
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!code_allowed_on_wire(c), "{c}");
        }
        for c in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(code_allowed_on_wire(c), "{c}");
        }
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_close(&[]).1, vec![]);
        assert_eq!(parse_close(&[3]).1[0].0, Rule::ClosePayloadOneByte);
        let (info, p) = parse_close(&[0x03, 0xE8, b'o', b'k']);
        assert_eq!((info.code, info.reason.as_slice(), p.len()), (Some(1000), &b"ok"[..], 0));
        let (_, p) = parse_close(&[0x03, 0xE8, b'a', 0xFF]);
        assert_eq!((p[0].0, p[0].1), (Rule::CloseReasonInvalidUtf8, 3));
        // Cut inside "é": invalid when the payload is whole, fine when only a prefix was kept.
        let cut = [0x03, 0xE8, b'a', 0xC3];
        assert_eq!(parse_close(&cut).1.len(), 1);
        assert!(parse_close_kept(&cut, false).1.is_empty());
    }
}
