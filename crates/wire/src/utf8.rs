//! Incremental UTF-8 validation across frame and chunk boundaries, fail-fast: the
//! first byte that makes the text certainly invalid is reported at once, even when
//! the rest of the message has not arrived (RFC 6455 §8.1; Autobahn case group 6.4).

/// Where a text stopped being valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    /// Offset, counted from the first byte ever fed, of the byte that made the text
    /// invalid; for a text that ends inside a sequence, the total length.
    pub at: u64,
}

/// Validates a text fed in pieces. Carries at most 3 bytes of an unfinished
/// code point between pieces.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: usize,
    fed: u64,
}

/// Length of the sequence a lead byte starts (0 for a byte that cannot lead).
const fn seq_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Whether `b` may stand at position `pos` (1..=3) of a sequence led by `lead`.
const fn continuation_ok(lead: u8, pos: usize, b: u8) -> bool {
    if pos == 1 {
        match lead {
            0xE0 => matches!(b, 0xA0..=0xBF),
            0xED => matches!(b, 0x80..=0x9F),
            0xF0 => matches!(b, 0x90..=0xBF),
            0xF4 => matches!(b, 0x80..=0x8F),
            _ => matches!(b, 0x80..=0xBF),
        }
    } else {
        matches!(b, 0x80..=0xBF)
    }
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Whether the text fed so far ends inside a code point.
    pub fn in_sequence(&self) -> bool {
        self.pending_len > 0
    }

    /// Feeds the next piece. After an error the validator must not be fed again.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Utf8Error> {
        let base = self.fed;
        self.fed += data.len() as u64;
        let mut rest = data;
        // Finish a code point left open by the previous piece, byte by byte.
        while self.pending_len > 0 {
            let Some((&b, tail)) = rest.split_first() else {
                return Ok(());
            };
            let lead = self.pending[0];
            if !continuation_ok(lead, self.pending_len, b) {
                return Err(Utf8Error { at: base + (data.len() - rest.len()) as u64 });
            }
            self.pending[self.pending_len] = b;
            self.pending_len += 1;
            if self.pending_len == seq_len(lead) {
                self.pending_len = 0;
            }
            rest = tail;
        }
        let start = data.len() - rest.len();
        match simdutf8::compat::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    // A byte that can never lead fails where it stands; a good lead
                    // fails at the first byte that cannot continue it.
                    Some(n) => {
                        let bad = if seq_len(rest[valid]) == 0 { valid } else { valid + n };
                        Err(Utf8Error { at: base + (start + bad) as u64 })
                    }
                    None => {
                        let tail = &rest[valid..];
                        self.pending[..tail.len()].copy_from_slice(tail);
                        self.pending_len = tail.len();
                        Ok(())
                    }
                }
            }
        }
    }

    /// Ends the text: a code point left unfinished makes it invalid at its end.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        if self.pending_len > 0 { Err(Utf8Error { at: self.fed }) } else { Ok(()) }
    }
}

/// Validates a complete text; `Err` carries the fail-fast offset.
pub fn validate(data: &[u8]) -> Result<(), Utf8Error> {
    let mut v = Utf8Validator::new();
    v.feed(data)?;
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_fast_points() {
        // Surrogate: ED A0 fails at the A0.
        assert_eq!(validate(&hex(b"cebae1bdb9cf83cebcceb5eda080656469746564")), Err(Utf8Error { at: 12 }));
        // F4 90: beyond U+10FFFF, fails at the 90.
        assert_eq!(validate(&hex(b"cebae1bdb9cf83cebcceb5f4908080")), Err(Utf8Error { at: 12 }));
        // A lone continuation byte fails where it is.
        assert_eq!(validate(b"ab\x80"), Err(Utf8Error { at: 2 }));
        // Truncated sequence: invalid at the end only.
        assert_eq!(validate(&hex(b"cebae1")), Err(Utf8Error { at: 3 }));
        assert_eq!(validate("κόσμε".as_bytes()), Ok(()));
    }

    #[test]
    fn pieces_equal_whole() {
        let text = hex(b"cebae1bdb9cf83cebcceb5f4908080");
        for cut in 0..text.len() {
            let mut v = Utf8Validator::new();
            let r = v.feed(&text[..cut]).and_then(|_| v.feed(&text[cut..]));
            assert_eq!(r, Err(Utf8Error { at: 12 }), "cut {cut}");
        }
    }

    fn hex(s: &[u8]) -> Vec<u8> {
        s.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
    }
}
