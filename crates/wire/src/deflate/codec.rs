//! The message payload transformation, RFC 7692 §7.2: [`Deflater`] (§7.2.1) and
//! [`Inflater`] (§7.2.2), raw DEFLATE through flate2's zlib-rs backend.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The empty stored block's last 4 octets: removed from a compressed message by
/// the sender (§7.2.1 step 3) and appended again by the receiver (§7.2.2 step 1).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflated bytes are produced (and handed to the sink) in steps of this size.
const CHUNK: usize = 32 * 1024;

/// The largest LZ77 window (§7.2.1: 32,768 bytes); also what the inflater keeps
/// as history to carry the window over a `BFINAL` block.
const WINDOW: usize = 1 << 15;

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The message inflated to more than `limit` bytes; output stopped there.
    #[error("inflated message exceeds the limit of {limit} bytes")]
    Limit {
        /// The configured per-message limit.
        limit: usize,
    },
    /// The data is not a valid DEFLATE stream (or needs history this inflater
    /// does not have, e.g. after a reset).
    #[error("invalid DEFLATE data: {0}")]
    Corrupt(String),
    /// The message had no payload at all: with the `00 00 ff ff` tail alone that is an
    /// unfinished block, not a message (an empty message compresses to `00`, RFC 7692
    /// §7.2.3.6). Nothing was fed, so the window is intact.
    #[error("empty payload with the compression bit set (an empty message compresses to 0x00)")]
    EmptyPayload,
}

/// Inflates the compressed messages of one direction (RFC 7692 §7.2.2).
///
/// Always inflates with a 32 KiB window, which reads a stream built with any
/// smaller window (and avoids zlib's refusal of 8-bit raw windows). Memory stays
/// flat whatever the input: output is produced in 32 KiB steps and a message's
/// output is capped at `max_output` bytes.
pub struct Inflater {
    z: Decompress,
    window_bits: u8,
    no_context_takeover: bool,
    max_output: usize,
    /// Output of the current message so far.
    msg_out: usize,
    /// Compressed bytes of the current message so far.
    msg_in: usize,
    /// Output buffer of one step.
    chunk: Vec<u8>,
    /// The last [`WINDOW`] bytes inflated since the context started (a ring buffer,
    /// allocated on first use), to restore the window when a new DEFLATE stream
    /// follows a `BFINAL` block.
    history: History,
    /// The DEFLATE stream ended (a `BFINAL` block); further bytes start a new one.
    stream_ended: bool,
    /// The current message already failed with this error.
    failed: Option<InflateError>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .field("max_output", &self.max_output)
            .field("msg_out", &self.msg_out)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater for a direction whose sender agreed to `window_bits` (8..=15,
    /// informational: 15 is used) and `no_context_takeover` (then each message
    /// starts with an empty window, §7.2.2), allowing at most `max_output`
    /// inflated bytes per message.
    pub fn new(window_bits: u8, no_context_takeover: bool, max_output: usize) -> Self {
        Inflater {
            z: Decompress::new_with_window_bits(false, 15),
            window_bits,
            no_context_takeover,
            max_output,
            msg_out: 0,
            msg_in: 0,
            chunk: vec![0; CHUNK],
            history: History::default(),
            stream_ended: false,
            failed: None,
        }
    }

    /// The window bits given to [`Inflater::new`].
    pub fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// Whether each message starts with an empty window.
    pub fn no_context_takeover(&self) -> bool {
        self.no_context_takeover
    }

    /// The per-message output limit.
    pub fn max_output(&self) -> usize {
        self.max_output
    }

    /// Bytes inflated so far for the current message.
    pub fn message_output(&self) -> u64 {
        self.msg_out as u64
    }

    /// Feeds compressed bytes of the current message (any chunking) and appends
    /// what they inflate to to `out`.
    ///
    /// Once the message's output would pass `max_output`, returns
    /// [`InflateError::Limit`] with exactly `max_output` bytes delivered; invalid
    /// data returns [`InflateError::Corrupt`]. After an error the rest of the
    /// message is ignored (the same error is returned again) until
    /// [`finish_message`](Self::finish_message) or [`reset`](Self::reset).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), InflateError> {
        self.push_with(input, &mut |b| out.extend_from_slice(b))
    }

    /// Like [`push`](Self::push), but hands inflated bytes to `sink` in pieces of
    /// at most 32 KiB instead of collecting them.
    pub fn push_with(&mut self, input: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<(), InflateError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.msg_in += input.len();
        let r = self.feed(input, sink);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    /// Ends the current message: feeds the `00 00 ff ff` tail (§7.2.2 step 1),
    /// appends the rest of the output to `out`, and returns the message's total
    /// inflated size. The next message starts with an empty window under
    /// `no_context_takeover`, or after any error.
    pub fn finish_message(&mut self, out: &mut Vec<u8>) -> Result<u64, InflateError> {
        self.finish_message_with(&mut |b| out.extend_from_slice(b))
    }

    /// Like [`finish_message`](Self::finish_message), handing output to `sink`.
    pub fn finish_message_with(&mut self, sink: &mut dyn FnMut(&[u8])) -> Result<u64, InflateError> {
        if self.failed.is_none() && self.msg_in == 0 {
            // Feeding the tail alone would leave the inflater inside a stored block.
            self.msg_out = 0;
            return Err(InflateError::EmptyPayload);
        }
        self.msg_in = 0;
        let r = match self.failed.take() {
            Some(e) => Err(e),
            // A stream that ended exactly at the message's end (a `BFINAL` block
            // without the empty stored block after it) needs no tail: the next
            // message starts a new stream with the window carried over.
            None if self.stream_ended => Ok(self.msg_out as u64),
            None => self.feed(&TAIL, sink).map(|()| self.msg_out as u64),
        };
        if r.is_err() || self.no_context_takeover {
            self.reset_context();
        }
        self.msg_out = 0;
        r
    }

    /// Abandons the current message and empties the window, so that the next
    /// message can be tried. With context takeover, a later message that refers
    /// to the lost history fails with [`InflateError::Corrupt`].
    pub fn reset(&mut self) {
        self.reset_context();
        self.msg_out = 0;
        self.msg_in = 0;
        self.failed = None;
    }

    fn reset_context(&mut self) {
        self.z.reset(false);
        self.history.clear();
        self.stream_ended = false;
    }

    /// Starts a new DEFLATE stream after a `BFINAL` block, keeping the window.
    fn restart_stream(&mut self) -> Result<(), InflateError> {
        self.z.reset(false);
        self.stream_ended = false;
        let window = self.history.contents();
        if !window.is_empty() {
            self.z.set_dictionary(&window).map_err(|e| InflateError::Corrupt(e.to_string()))?;
        }
        Ok(())
    }

    fn feed(&mut self, mut input: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<(), InflateError> {
        loop {
            if self.stream_ended {
                if input.is_empty() {
                    return Ok(());
                }
                self.restart_stream()?;
            }
            let room = self.max_output - self.msg_out;
            // One byte more than allowed, to tell "exactly the limit" from "over".
            let cap = CHUNK.min(room.saturating_add(1));
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(input, &mut self.chunk[..cap], FlushDecompress::None)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            // Both deltas are bounded by the slice lengths given.
            let consumed = (self.z.total_in() - in0) as usize;
            let produced = (self.z.total_out() - out0) as usize;
            input = &input[consumed..];
            if produced > 0 {
                let keep = produced.min(room);
                let bytes = &self.chunk[..keep];
                sink(bytes);
                self.history.push(bytes);
                self.msg_out += keep;
                if produced > room {
                    return Err(InflateError::Limit { limit: self.max_output });
                }
            }
            match status {
                Status::StreamEnd => self.stream_ended = true,
                Status::Ok | Status::BufError => {
                    // Done when the input is used up and the output was not
                    // full (nothing pending), or when no progress is possible.
                    if (input.is_empty() && produced < cap) || (consumed == 0 && produced == 0) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// The last [`WINDOW`] bytes of output, kept in a ring so that each output byte is
/// copied once (no shifting).
#[derive(Default)]
struct History {
    ring: Vec<u8>,
    /// Where the next byte goes.
    head: usize,
    /// Bytes held (at most `WINDOW`).
    len: usize,
}

impl History {
    fn push(&mut self, mut bytes: &[u8]) {
        if self.ring.is_empty() {
            self.ring = vec![0; WINDOW];
        }
        if bytes.len() >= WINDOW {
            bytes = &bytes[bytes.len() - WINDOW..];
        }
        let first = bytes.len().min(WINDOW - self.head);
        self.ring[self.head..self.head + first].copy_from_slice(&bytes[..first]);
        self.ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.head = (self.head + bytes.len()) % WINDOW;
        self.len = (self.len + bytes.len()).min(WINDOW);
    }

    /// The bytes held, oldest first.
    fn contents(&self) -> Vec<u8> {
        let start = (self.head + WINDOW - self.len) % WINDOW;
        let mut out = Vec::with_capacity(self.len);
        if start + self.len <= WINDOW {
            out.extend_from_slice(&self.ring[start..start + self.len]);
        } else {
            out.extend_from_slice(&self.ring[start..]);
            out.extend_from_slice(&self.ring[..self.head]);
        }
        out
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// Compresses the messages of one direction (RFC 7692 §7.2.1).
pub struct Deflater {
    z: Compress,
    window_bits: u8,
    no_context_takeover: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor that uses at most a `window_bits` window (8..=15, clamped) and,
    /// under `no_context_takeover`, starts every message with an empty window.
    ///
    /// zlib refuses 8 for raw DEFLATE, so 8 compresses with 9 bits; zlib never
    /// emits a distance beyond the window size minus 262 bytes, which is 250 for
    /// a 512-byte window, so the stream still fits a 256-byte window.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Deflater::with_level(window_bits, no_context_takeover, Compression::default().level())
    }

    /// As [`Deflater::new`], with zlib compression `level` (0-9; 1 is the fastest that
    /// still finds matches, what a tester that only needs valid streams uses).
    pub fn with_level(window_bits: u8, no_context_takeover: bool, level: u32) -> Self {
        let bits = window_bits.clamp(9, 15);
        Deflater {
            z: Compress::new_with_window_bits(Compression::new(level.min(9)), false, bits),
            window_bits: window_bits.clamp(8, 15),
            no_context_takeover,
        }
    }

    /// The agreed window bits this compressor honours.
    pub fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// Compresses one whole message with a sync flush (§7.2.1 step 1-2) and
    /// returns the payload without the trailing `00 00 ff ff` (step 3). An empty
    /// message gives `00`, the header of an empty stored block (§7.2.3.6).
    pub fn compress_message(&mut self, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(msg.len() / 2 + 64);
        let mut input = msg;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            let in0 = self.z.total_in();
            let out0 = out.len();
            let res = self.z.compress_vec(input, &mut out, FlushCompress::Sync);
            // Bounded by input.len().
            let consumed = (self.z.total_in() - in0) as usize;
            input = &input[consumed..];
            let progress = consumed > 0 || out.len() > out0;
            // Done when all input is in and the flush fit (spare room left), or
            // when zlib has nothing to do (a repeated flush of no input).
            if res.is_err() || (input.is_empty() && out.len() < out.capacity()) || !progress {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        } else if out.is_empty() {
            // Nothing new to flush (an empty message right after a flush): add the
            // empty stored block ourselves (§7.2.1 step 2).
            out.push(0x00);
        }
        if self.no_context_takeover {
            self.z.reset();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_holds_the_last_window_of_output() {
        let mut h = History::default();
        let mut all = Vec::new();
        for (i, n) in [10usize, 40_000, 5, 32_768, 1, 20_000, 70_000, 3].into_iter().enumerate() {
            let piece: Vec<u8> = (0..n).map(|j| (i * 31 + j) as u8).collect();
            h.push(&piece);
            all.extend_from_slice(&piece);
            let want = &all[all.len().saturating_sub(WINDOW)..];
            assert_eq!(h.contents(), want, "after piece {i}");
        }
        h.clear();
        assert!(h.contents().is_empty());
    }
}
