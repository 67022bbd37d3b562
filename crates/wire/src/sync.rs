//! Frame-boundary synchronisation: finding where frames start in a byte stream whose
//! beginning is unknown (a capture that started mid-connection, or bytes lost in
//! capture). A boundary is accepted only when it is proved by the bytes after it.

use crate::Role;
use crate::frame::{FrameHeader, LengthForm, Parsed, parse_header};

/// Longest frame payload the heuristic believes (1 GiB): longer declared lengths in a
/// candidate header are taken as evidence that it is not a header.
const MAX_PLAUSIBLE_LEN: u64 = 1 << 30;

/// Whether a header could have been sent by a sane endpoint: no reserved opcode, no
/// RSV2/RSV3, minimal length, well-formed control frames, and the expected MASK bit.
pub fn plausible(h: &FrameHeader, sender: Option<Role>) -> bool {
    let mask_ok = match sender {
        Some(Role::Client) => h.masked,
        Some(Role::Server) => !h.masked,
        None => true,
    };
    mask_ok
        && !h.opcode.is_reserved()
        && !h.rsv2
        && !h.rsv3
        && h.length_form == LengthForm::minimal_for(h.payload_len)
        && h.payload_len < MAX_PLAUSIBLE_LEN
        && (!h.opcode.is_control() || (h.fin && h.payload_len <= 125 && !h.rsv1))
}

/// Where a proved chain of frames starts in `buf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundary {
    /// Offset in `buf` of the first frame.
    pub at: usize,
    /// Whether the frames there are masked (so, sent by a client).
    pub masked: bool,
}

/// Longest chain followed from one start: that many plausible frames in a row prove it.
const CHAIN_MAX: usize = 64;

/// Undecided starts an incremental [`Search`] keeps; later ones count as rejected.
const UNDECIDED_MAX: usize = 4096;

/// What the bytes from one start position prove about a frame boundary there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// A boundary: the chain of frames from here is proved.
    Proved {
        /// Whether the frames are masked (so, sent by a client).
        masked: bool,
    },
    /// Not a boundary, whatever bytes follow.
    Rejected,
    /// The chain runs into the end of the bytes before anything is proved.
    Undecided,
}

/// Follows plausible headers from `at`. The chain is proved when it ends exactly at
/// the end of `buf` (a TCP segment usually ends with a frame), when at least two
/// complete frames lead into an unfinished one, or when it reaches [`CHAIN_MAX`]
/// frames. All frames must agree on the MASK bit. An empty non-final data frame
/// rejects the start: runs of zero bytes parse as chains of them.
pub fn chain_at(buf: &[u8], at: usize, sender: Option<Role>) -> Chain {
    let mut pos = at;
    let mut complete = 0usize;
    let mut masked = None;
    loop {
        let h = match parse_header(&buf[pos..]) {
            Parsed::Header(h) => h,
            Parsed::Incomplete { .. } if complete >= 2 => {
                return Chain::Proved { masked: masked.unwrap_or(false) };
            }
            Parsed::Incomplete { .. } => return Chain::Undecided,
        };
        let empty_fragment = !h.fin && h.payload_len == 0 && !h.opcode.is_control();
        if !plausible(&h, sender) || masked.is_some_and(|m| m != h.masked) || empty_fragment {
            return Chain::Rejected;
        }
        masked = Some(h.masked);
        let end = (pos as u64).saturating_add(u64::from(h.header_len)).saturating_add(h.payload_len);
        let len = buf.len() as u64;
        if end == len || (end > len && complete >= 2) || complete + 1 >= CHAIN_MAX {
            return Chain::Proved { masked: h.masked };
        }
        if end > len {
            return Chain::Undecided;
        }
        complete += 1;
        pos = end as usize;
    }
}

/// Finds the first offset in `buf` from which a chain of frames is proved
/// ([`chain_at`]).
pub fn find_boundary(buf: &[u8], sender: Option<Role>) -> Option<Boundary> {
    (0..buf.len()).find_map(|at| match chain_at(buf, at, sender) {
        Chain::Proved { masked } => Some(Boundary { at, masked }),
        _ => None,
    })
}

/// An incremental boundary search over a buffer that grows at its end: starts already
/// rejected are never looked at again, so each feed costs what it adds plus the few
/// starts still undecided, not the whole buffer again.
#[derive(Debug, Clone, Default)]
pub struct Search {
    undecided: Vec<usize>,
    scanned: usize,
}

impl Search {
    /// The first proved boundary in `buf` (which holds the earlier bytes unchanged).
    pub fn find(&mut self, buf: &[u8], sender: Option<Role>) -> Option<Boundary> {
        let earlier = std::mem::take(&mut self.undecided);
        let mut still = Vec::new();
        for at in earlier.into_iter().chain(self.scanned..buf.len()) {
            match chain_at(buf, at, sender) {
                Chain::Proved { masked } => return Some(Boundary { at, masked }),
                Chain::Rejected => {}
                Chain::Undecided if still.len() < UNDECIDED_MAX => still.push(at),
                Chain::Undecided => {}
            }
        }
        self.undecided = still;
        self.scanned = buf.len();
        None
    }

    /// The buffer dropped its first `n` bytes.
    pub fn shift(&mut self, n: usize) {
        self.undecided.retain(|&a| a >= n);
        for a in &mut self.undecided {
            *a -= n;
        }
        self.scanned = self.scanned.saturating_sub(n);
    }
}

/// How much a byte stream whose start is unknown looks like WebSocket frames: the
/// first chain [`find_boundary`] proves whose frames are also believable together, and
/// how many of them carry weight. A dissector weighs it before it calls a connection
/// WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// Offset in `buf` of the chain's first frame.
    pub at: usize,
    /// Whether its frames are masked (so, sent by a client).
    pub masked: bool,
    /// Complete frames of the chain that count as evidence: control frames, and final
    /// data frames with a payload. Empty or non-final data frames prove little: a run
    /// of zero bytes parses as a chain of empty continuations, and length-prefixed
    /// binary records often parse as non-final continuations.
    pub frames: usize,
    /// Whether the last complete frame ends exactly at the end of `buf`.
    pub to_end: bool,
}

/// Finds the first proved chain of frames in `buf` (see [`find_boundary`]) whose frames
/// are also believable together: fragmentation is consistent along the chain (a
/// continuation only inside a fragmented message, no new data message inside one),
/// the payload of an uncompressed text frame is not invalid UTF-8 (as far as it is in
/// `buf`), a Close body is empty or a code allowed on the wire and a UTF-8 reason,
/// and masked frames do not all use the all-zero key. Returns it with its weight.
pub fn evidence(buf: &[u8], sender: Option<Role>) -> Option<Evidence> {
    let mut from = 0;
    while from < buf.len() {
        let b = find_boundary(&buf[from..], sender)?;
        let at = from + b.at;
        if let Some((frames, to_end)) = count_believable(buf, at) {
            return Some(Evidence { at, masked: b.masked, frames, to_end });
        }
        from = at + 1;
    }
    None
}

/// Follows the chain from `at` (already proved plausible): the weight of its complete
/// frames and whether the last one ends at the end of `buf`; `None` when the chain is
/// not believable.
fn count_believable(buf: &[u8], at: usize) -> Option<(usize, bool)> {
    use crate::OpCode;
    let mut pos = at;
    let mut frames = 0;
    let mut seen = 0;
    let mut zero_keys = 0;
    // Inside a fragmented message? Unknown for the first frame.
    let mut open: Option<bool> = None;
    while let Parsed::Header(h) = parse_header(&buf[pos..]) {
        let start = pos + usize::from(h.header_len);
        let avail = (buf.len() - start) as u64;
        let n = h.payload_len.min(avail) as usize;
        match h.opcode {
            OpCode::CONTINUATION if open == Some(false) => return None,
            OpCode::TEXT | OpCode::BINARY if open == Some(true) => return None,
            _ => {}
        }
        if !h.opcode.is_control() {
            open = Some(!h.fin);
        }
        if !payload_believable(&h, &buf[start..start + n]) {
            return None;
        }
        if h.payload_len > avail {
            break;
        }
        seen += 1;
        if h.mask_key == Some([0; 4]) {
            zero_keys += 1;
        }
        if h.fin && (h.opcode.is_control() || h.payload_len > 0) {
            frames += 1;
        }
        pos = start + n;
        if pos == buf.len() {
            break;
        }
    }
    if seen > 0 && zero_keys == seen {
        return None;
    }
    Some((frames, pos == buf.len() && seen > 0))
}

fn payload_believable(h: &FrameHeader, payload: &[u8]) -> bool {
    use crate::OpCode;
    let check_text = h.opcode == OpCode::TEXT && !h.rsv1;
    if h.opcode != OpCode::CLOSE && !check_text {
        return true;
    }
    let mut bytes = payload.to_vec();
    if let Some(key) = h.mask_key {
        crate::mask::apply_mask(&mut bytes, key, 0);
    }
    if h.opcode == OpCode::CLOSE {
        let complete = bytes.len() as u64 == h.payload_len;
        return match bytes.as_slice() {
            [] => true,
            [_] => !complete,
            [hi, lo, reason @ ..] => {
                crate::close::code_allowed_on_wire(u16::from_be_bytes([*hi, *lo]))
                    && crate::utf8::Utf8Validator::new().feed(reason).is_ok()
            }
        };
    }
    crate::utf8::Utf8Validator::new().feed(&bytes).is_ok()
}

/// Infers which endpoint sent `buf` (a prefix of one direction of a connection whose
/// handshake was not seen) from the MASK bit of the frames found in it.
pub fn infer_sender(buf: &[u8]) -> Option<Role> {
    find_boundary(buf, None).map(|b| if b.masked { Role::Client } else { Role::Server })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpCode;
    use crate::encode::FrameSpec;

    fn frames(masked: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in ["hello", "", "a much longer message payload"].iter().enumerate() {
            let mut f = FrameSpec::new(OpCode::TEXT, p.as_bytes().to_vec());
            if masked {
                f = f.masked([i as u8, 7, 9, 200]);
            }
            f.encode_into(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn finds_boundary_after_garbage_tail_of_previous_frame() {
        for masked in [false, true] {
            let mut buf = b"ail of an earlier frame".to_vec();
            let skip = buf.len();
            buf.extend(frames(masked));
            let b = find_boundary(&buf, None).unwrap();
            assert_eq!(b, Boundary { at: skip, masked });
            let role = if masked { Role::Client } else { Role::Server };
            assert_eq!(infer_sender(&buf[skip..]), Some(role));
        }
    }

    #[test]
    fn evidence_counts_frames_and_skips_unbelievable_text() {
        let mut buf = vec![0x81, 0x02, 0xC3, 0x28]; // text frame with invalid UTF-8
        let skip = buf.len();
        buf.extend(frames(false));
        let e = evidence(&buf, None).unwrap();
        assert_eq!(e, Evidence { at: skip, masked: false, frames: 2, to_end: true });
        let masked = frames(true);
        let e = evidence(&masked[..masked.len() - 3], Some(Role::Client)).unwrap();
        assert_eq!((e.at, e.masked, e.frames, e.to_end), (0, true, 1, false));
        assert_eq!(evidence(b"SSH-2.0-OpenSSH_9.6\r\n", None), None);
    }

    #[test]
    fn rejects_wrong_mask_for_role() {
        let buf = frames(true);
        assert_eq!(find_boundary(&buf, Some(Role::Server)), None);
        assert_eq!(find_boundary(&buf, Some(Role::Client)).map(|b| b.at), Some(0));
    }
}
