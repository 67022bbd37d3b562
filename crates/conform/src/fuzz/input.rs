//! What the fuzzer sends: a sequence of frames and pauses (plus extra request headers),
//! the catalog's own step language one level down, and how it is mutated. Every choice
//! comes from a seeded xorshift, so a run is the same for a given seed and target.

use crate::catalog::Case;
use crate::steps::{MaskMode, Step};
use wsprobe_wire::xorshift::Xorshift;
use wsprobe_wire::{LengthForm, OpCode};

/// One frame the tester writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Raw opcode (0-15).
    pub opcode: u8,
    /// FIN bit.
    pub fin: bool,
    /// RSV bits (RSV1 = 4).
    pub rsv: u8,
    /// Payload (a Close frame's whole body).
    pub payload: Vec<u8>,
    /// Written in pieces of this many bytes (inside the header too).
    pub chop: Option<usize>,
    /// Sent without a mask (a client violation).
    pub unmasked: bool,
    /// The length written in this form rather than the minimal one (when it fits).
    pub form: Option<LengthForm>,
}

impl Frame {
    /// A masked final frame without RSV bits.
    pub fn new(opcode: u8, payload: Vec<u8>) -> Frame {
        Frame { opcode, fin: true, rsv: 0, payload, chop: None, unmasked: false, form: None }
    }

    /// The length form written: the one asked for if the payload fits it, else the
    /// minimal one.
    pub fn length_form(&self) -> LengthForm {
        let len = self.payload.len() as u64;
        let minimal = LengthForm::minimal_for(len);
        match self.form {
            Some(LengthForm::Short) | None => minimal,
            Some(LengthForm::Ext16) if len > 0xffff => minimal,
            Some(f) => f,
        }
    }

    /// The length is encoded in more bytes than needed (RFC 6455 §5.2: the sender
    /// must not; the RFC does not say what a receiver does with it).
    pub fn non_minimal(&self) -> bool {
        self.length_form() != LengthForm::minimal_for(self.payload.len() as u64)
    }
}

/// One step of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A frame.
    Frame(Frame),
    /// A pause, in milliseconds.
    Wait(u16),
}

/// A whole input: request headers added to the default request, then the steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// Extra request headers (`add NAME: VALUE`).
    pub headers: Vec<(String, String)>,
    /// The steps.
    pub ops: Vec<Op>,
}

/// Largest payload taken from a catalog seed or made by a mutation.
pub const PAYLOAD_MAX: usize = 4096;
/// A catalog seed's pauses are cut to this many milliseconds (the pause is what
/// matters, a fail-fast server answers within it on loopback).
const SEED_WAIT_MAX_MS: u128 = 100;
/// Steps an input may grow to.
pub const OPS_MAX: usize = 24;

/// UTF-8 pieces texts are made of: ASCII, 2-, 3- and 4-byte characters.
const VALID_UTF8: &[&str] = &["hello", " ", "é", "κόσμε", "€", "😀", "ab", "\u{10ffff}", "\u{fffd}"];
/// Byte sequences that are not UTF-8 (RFC 3629): stray and overlong bytes, surrogates,
/// past U+10FFFF, a sequence cut short.
const INVALID_UTF8: &[&[u8]] = &[
    &[0xff],
    &[0xc0, 0xaf],
    &[0xed, 0xa0, 0x80],
    &[0xf4, 0x90, 0x80, 0x80],
    &[0xe2, 0x82],
    &[0x80],
    &[0xf8, 0x88, 0x80, 0x80, 0x80],
];
/// Close codes every implementation agrees are valid on the wire (RFC 6455 §7.4).
pub const VALID_CODES: &[u16] =
    &[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
/// Close codes not allowed on the wire.
pub const INVALID_CODES: &[u16] = &[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
/// Control payload lengths tried: around the 125-byte limit too.
const CONTROL_LENS: &[usize] = &[0, 4, 30, 100, 110, 125, 126];
/// Data payload lengths at the edges of the length forms (7-bit up to 125, 16-bit up
/// to 65535, 64-bit beyond).
const EDGE_LENS: &[usize] = &[0, 1, 125, 126, 127, 65535, 65536];
/// Extra request headers tried (none changes what a server must do).
const HEADERS: &[(&str, &str)] = &[
    ("X-Fuzz", "1"),
    ("Origin", "http://fuzz.example"),
    ("Sec-WebSocket-Protocol", "chat"),
    ("User-Agent", "wsprobe-fuzz"),
    ("Cache-Control", "no-cache"),
];

fn pick<'a, T>(rng: &mut Xorshift, items: &'a [T]) -> &'a T {
    &items[rng.index(items.len())]
}

fn bytes(rng: &mut Xorshift, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

/// A text of a few pieces, with an invalid sequence among them when `invalid`.
pub fn text(rng: &mut Xorshift, invalid: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let pieces = 1 + rng.index(6);
    let bad_at = invalid.then(|| rng.index(pieces));
    for i in 0..pieces {
        if Some(i) == bad_at {
            out.extend_from_slice(pick::<&[u8]>(rng, INVALID_UTF8));
        } else {
            out.extend_from_slice(pick(rng, VALID_UTF8).as_bytes());
        }
    }
    out
}

fn control(rng: &mut Xorshift) -> Frame {
    let opcode = if rng.below(3) == 0 { 0xa } else { 0x9 };
    let len = *pick(rng, CONTROL_LENS);
    Frame::new(opcode, bytes(rng, len))
}

fn close(rng: &mut Xorshift) -> Frame {
    let body = match rng.below(8) {
        0 => Vec::new(),
        1 => vec![0x03],
        n => {
            let code = if n <= 5 { *pick(rng, VALID_CODES) } else { *pick(rng, INVALID_CODES) };
            let mut b = code.to_be_bytes().to_vec();
            let reason_len = [0, 5, 19, 20, 25, 40, 123][rng.index(7)];
            let mut reason = Vec::new();
            while reason.len() < reason_len {
                reason.extend_from_slice(pick(rng, VALID_UTF8).as_bytes());
            }
            reason.truncate(reason_len);
            // Cut inside a character: sometimes valid (ASCII), sometimes not.
            if rng.below(4) == 0 {
                reason.extend_from_slice(pick::<&[u8]>(rng, INVALID_UTF8));
            }
            b.extend_from_slice(&reason);
            b
        }
    };
    Frame::new(0x8, body)
}

fn data(rng: &mut Xorshift) -> Frame {
    if rng.below(2) == 0 {
        let invalid = rng.below(4) == 0;
        Frame::new(0x1, text(rng, invalid))
    } else {
        let len = [0, 1, 10, 64, 100, 200, 1000][rng.index(7)];
        Frame::new(0x2, bytes(rng, len))
    }
}

/// A data message in 2 to 5 fragments (cut anywhere, inside a character too), often
/// with a Ping or Pong between two of them.
fn fragmented(rng: &mut Xorshift) -> Vec<Frame> {
    let first = data(rng);
    let n = 2 + rng.index(4);
    let mut cuts: Vec<usize> = (1..n).map(|_| rng.index(first.payload.len() + 1)).collect();
    cuts.sort_unstable();
    let mut frames = Vec::new();
    let mut prev = 0;
    for (i, &c) in cuts.iter().chain(std::iter::once(&first.payload.len())).enumerate() {
        let mut f = Frame::new(if i == 0 { first.opcode } else { 0 }, first.payload[prev..c].to_vec());
        f.fin = i + 1 == n;
        frames.push(f);
        prev = c;
    }
    if rng.below(3) != 0 {
        let at = 1 + rng.index(n - 1);
        frames.insert(at, control(rng));
    }
    frames
}

impl Input {
    /// The fuzzer's form of a catalog case: its frames and messages (messages cut as
    /// they are sent), pauses; `None` for cases it cannot carry (streamed frames,
    /// repetitions, compression, handshake edits, large payloads).
    pub fn from_case(case: &Case) -> Option<Input> {
        if !case.request.is_empty() || case.offer.is_some() || case.performance {
            return None;
        }
        let mut ops = Vec::new();
        for s in &case.send {
            match s {
                Step::Frame(f) => {
                    if f.payload.len() > PAYLOAD_MAX {
                        return None;
                    }
                    ops.push(Op::Frame(Frame {
                        opcode: f.opcode.0,
                        fin: f.fin,
                        rsv: f.rsv,
                        payload: f.payload.bytes(),
                        chop: f.chop,
                        unmasked: f.mask == MaskMode::None,
                        form: f.length_form,
                    }));
                }
                Step::Message { opcode, payload, fragsize, chop, .. } => {
                    if payload.len() > PAYLOAD_MAX {
                        return None;
                    }
                    let bytes = payload.bytes();
                    let size = fragsize.unwrap_or(bytes.len()).max(1);
                    let mut pieces: Vec<&[u8]> = bytes.chunks(size).collect();
                    if pieces.is_empty() || (fragsize.is_some() && bytes.len() % size == 0) {
                        pieces.push(&[]);
                    }
                    let n = pieces.len();
                    for (i, p) in pieces.into_iter().enumerate() {
                        let opcode = if i == 0 { opcode.0 } else { 0 };
                        let mut f = Frame::new(opcode, p.to_vec());
                        f.fin = i + 1 == n;
                        f.chop = *chop;
                        ops.push(Op::Frame(f));
                    }
                }
                Step::Wait { dur, .. } => ops.push(Op::Wait(dur.as_millis().min(SEED_WAIT_MAX_MS) as u16)),
                Step::FailAfter(_) | Step::CloseAfter(_) => {}
                _ => return None,
            }
        }
        (!ops.is_empty() && ops.len() <= OPS_MAX).then_some(Input { headers: Vec::new(), ops })
    }

    /// The input changed in one to three ways; `other` (another input of the corpus)
    /// may lend a run of its steps (crossover).
    pub fn mutate(&self, rng: &mut Xorshift, other: &Input) -> Input {
        let mut out = self.clone();
        for _ in 0..1 + rng.index(3) {
            if rng.below(8) == 0 && !other.ops.is_empty() {
                let from = rng.index(other.ops.len());
                let len = 1 + rng.index((other.ops.len() - from).min(4));
                let at = rng.index(out.ops.len() + 1);
                out.ops.splice(at..at, other.ops[from..from + len].iter().cloned());
            } else {
                out.mutate_once(rng);
            }
        }
        out.ops.truncate(OPS_MAX);
        out
    }

    fn frame_indices(&self, pred: impl Fn(&Frame) -> bool) -> Vec<usize> {
        self.ops
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Op::Frame(f) if pred(f) => Some(i),
                _ => None,
            })
            .collect()
    }

    fn mutate_once(&mut self, rng: &mut Xorshift) {
        let at = rng.index(self.ops.len() + 1);
        match rng.below(16) {
            // Payload lengths at the edges of the length forms; a data payload grown
            // past the usual sizes is written in one piece.
            14 => {
                let frames = self.frame_indices(|_| true);
                if let Some(&i) = frames.get(rng.index(frames.len())) {
                    let Op::Frame(f) = &mut self.ops[i] else { return };
                    let len = if f.opcode >= 8 { *pick(rng, CONTROL_LENS) } else { *pick(rng, EDGE_LENS) };
                    // ASCII keeps a text valid (cutting may not: the model judges it).
                    let fill = if f.opcode == 2 { rng.next() as u8 } else { b'a' };
                    f.payload.resize(len, fill);
                    if len > PAYLOAD_MAX {
                        f.chop = None;
                    }
                }
            }
            // The length in a longer form than needed.
            15 => {
                let frames = self.frame_indices(|_| true);
                if let Some(&i) = frames.get(rng.index(frames.len())) {
                    let Op::Frame(f) = &mut self.ops[i] else { return };
                    f.form = [None, Some(LengthForm::Ext16), Some(LengthForm::Ext64)][rng.index(3)];
                }
            }
            // A whole fragmented message, with a control frame among its fragments.
            12 | 13 => {
                let msg = fragmented(rng);
                self.ops.splice(at..at, msg.into_iter().map(Op::Frame));
            }
            // Fragment a data frame, anywhere in its payload (inside a character too).
            0 | 1 => {
                let data = self.frame_indices(|f| f.opcode <= 2 && f.payload.len() > 1);
                if let Some(&i) = data.get(rng.index(data.len())) {
                    let Op::Frame(f) = &mut self.ops[i] else { return };
                    let cut = 1 + rng.index(f.payload.len() - 1);
                    let tail = f.payload.split_off(cut);
                    let mut second = Frame::new(0, tail);
                    second.fin = f.fin;
                    f.fin = false;
                    self.ops.insert(i + 1, Op::Frame(second));
                }
            }
            // A control frame anywhere (between fragments too).
            2 | 3 => self.ops.insert(at, Op::Frame(control(rng))),
            4 => self.ops.insert(at, Op::Frame(data(rng))),
            5 => {
                // A Close at the end (or replacing the one there).
                if matches!(self.ops.last(), Some(Op::Frame(f)) if f.opcode == 8) {
                    self.ops.pop();
                }
                self.ops.push(Op::Frame(close(rng)));
            }
            6 if !self.ops.is_empty() => {
                self.ops.remove(rng.index(self.ops.len()));
            }
            // An invalid sequence, or a multi-byte character, into a text frame.
            7 => {
                let text = self.frame_indices(|f| f.opcode == 1 || f.opcode == 0);
                if let Some(&i) = text.get(rng.index(text.len())) {
                    let Op::Frame(f) = &mut self.ops[i] else { return };
                    let piece: Vec<u8> = if rng.below(2) == 0 {
                        pick(rng, INVALID_UTF8).to_vec()
                    } else {
                        pick(rng, VALID_UTF8).as_bytes().to_vec()
                    };
                    let pos = rng.index(f.payload.len() + 1);
                    f.payload.splice(pos..pos, piece);
                }
            }
            // Header bits: RSV, a reserved opcode, FIN, the mask.
            8 => {
                let frames = self.frame_indices(|_| true);
                if let Some(&i) = frames.get(rng.index(frames.len())) {
                    let Op::Frame(f) = &mut self.ops[i] else { return };
                    match rng.below(4) {
                        0 => f.rsv = 1 + rng.below(7) as u8,
                        1 => f.opcode = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15][rng.index(10)],
                        2 => f.fin = !f.fin,
                        _ => f.unmasked = true,
                    }
                }
            }
            // TCP writes cut inside the frame (its header too).
            9 => {
                let frames = self.frame_indices(|f| f.payload.len() <= PAYLOAD_MAX);
                if let Some(&i) = frames.get(rng.index(frames.len())) {
                    let Op::Frame(f) = &mut self.ops[i] else { return };
                    f.chop = Some(1 + rng.index(7));
                }
            }
            10 => self.ops.insert(at, Op::Wait(10 + 10 * rng.below(5) as u16)),
            _ => {
                let (n, v) = *pick(rng, HEADERS);
                if !self.headers.iter().any(|(h, _)| h == n) {
                    self.headers.push((n.to_string(), v.to_string()));
                }
            }
        }
    }

    /// Simpler variants, simplest first, for minimization: a whole fragmented message
    /// removed, two fragments merged, one step removed, a header removed, a frame
    /// without its chop or its long length form, a payload halved.
    pub fn simpler(&self) -> Vec<Input> {
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let Op::Frame(f) = op else { continue };
            if !(f.opcode == 1 || f.opcode == 2) || f.fin {
                continue;
            }
            // The message's frames: up to the continuation with FIN (control frames
            // and pauses among them stay).
            let mut members = vec![i];
            for (j, op) in self.ops.iter().enumerate().skip(i + 1) {
                let Op::Frame(g) = op else { continue };
                if g.opcode == 0 {
                    members.push(j);
                    if g.fin {
                        break;
                    }
                } else if g.opcode <= 2 {
                    break;
                }
            }
            if members.len() > 1 {
                let mut c = self.clone();
                let mut k = 0;
                c.ops.retain(|_| {
                    k += 1;
                    !members.contains(&(k - 1))
                });
                out.push(c);
            }
        }
        for i in 1..self.ops.len() {
            let (Op::Frame(a), Op::Frame(b)) = (&self.ops[i - 1], &self.ops[i]) else { continue };
            if a.opcode <= 2 && !a.fin && b.opcode == 0 && a.rsv == b.rsv && a.unmasked == b.unmasked {
                let mut c = self.clone();
                let Op::Frame(b) = c.ops.remove(i) else { continue };
                if let Op::Frame(a) = &mut c.ops[i - 1] {
                    a.payload.extend_from_slice(&b.payload);
                    a.fin = b.fin;
                }
                out.push(c);
            }
        }
        for i in (0..self.ops.len()).rev() {
            let mut c = self.clone();
            c.ops.remove(i);
            out.push(c);
        }
        for i in 0..self.headers.len() {
            let mut c = self.clone();
            c.headers.remove(i);
            out.push(c);
        }
        for (i, op) in self.ops.iter().enumerate() {
            let Op::Frame(f) = op else { continue };
            if f.chop.is_some() {
                let mut c = self.clone();
                if let Op::Frame(g) = &mut c.ops[i] {
                    g.chop = None;
                }
                out.push(c);
            }
            if f.form.is_some() {
                let mut c = self.clone();
                if let Op::Frame(g) = &mut c.ops[i] {
                    g.form = None;
                }
                out.push(c);
            }
            if f.payload.len() > 8 && f.opcode != 8 {
                let mut c = self.clone();
                if let Op::Frame(g) = &mut c.ops[i] {
                    g.payload.truncate(f.payload.len() / 2);
                }
                out.push(c);
            }
        }
        out
    }

    /// Steps in the catalog's step language.
    pub fn steps(&self) -> Vec<String> {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Wait(ms) => format!("wait {}s", f64::from(*ms) / 1000.0),
                Op::Frame(f) => {
                    let name = match OpCode(f.opcode) {
                        OpCode::CONTINUATION => "CONT".to_string(),
                        OpCode::TEXT => "TEXT".to_string(),
                        OpCode::BINARY => "BIN".to_string(),
                        OpCode::CLOSE => "CLOSE".to_string(),
                        OpCode::PING => "PING".to_string(),
                        OpCode::PONG => "PONG".to_string(),
                        o => format!("OP{}", o.0),
                    };
                    let mut args = Vec::new();
                    if !f.fin {
                        args.push("fin=0".to_string());
                    }
                    if f.rsv != 0 {
                        args.push(format!("rsv={}", f.rsv));
                    }
                    if let Some(c) = f.chop {
                        args.push(format!("chop={c}"));
                    }
                    if f.unmasked {
                        args.push("mask=none".into());
                    }
                    if f.non_minimal() {
                        args.push(format!("form={}", f.length_form().bits()));
                    }
                    let body = format!("0x{}", hex::encode(&f.payload));
                    args.push(if f.opcode == 8 { format!("raw={body}") } else { body });
                    format!("{name}[{}]", args.join(","))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let seed = Input { headers: Vec::new(), ops: vec![Op::Frame(Frame::new(1, b"hello".to_vec()))] };
        let run = |s| {
            let mut rng = Xorshift::new(s);
            let mut x = seed.clone();
            for _ in 0..200 {
                x = x.mutate(&mut rng, &seed);
            }
            x
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).ops.len() <= OPS_MAX);
    }

    #[test]
    fn simpler_variants_drop_messages_and_merge_fragments() {
        let frag = |opcode, p: &[u8], fin| {
            let mut f = Frame::new(opcode, p.to_vec());
            f.fin = fin;
            Op::Frame(f)
        };
        let x = Input {
            headers: Vec::new(),
            ops: vec![
                frag(1, b"a", false),
                Op::Frame(Frame::new(9, vec![])),
                frag(0, b"b", true),
                frag(2, b"c", true),
            ],
        };
        let s = x.simpler();
        // The whole message gone, its Ping kept.
        assert_eq!(s[0].ops, [Op::Frame(Frame::new(9, vec![])), frag(2, b"c", true)]);
        // No merge across the Ping; one step removed next.
        assert_eq!(s[1].ops.len(), 3);
        let y = Input { headers: Vec::new(), ops: vec![frag(1, b"a", false), frag(0, b"b", true)] };
        assert!(y.simpler().iter().any(|c| c.ops == [frag(1, b"ab", true)]));
    }

    #[test]
    fn steps_parse_back() {
        let mut rng = Xorshift::new(3);
        let mut x = Input { headers: Vec::new(), ops: vec![Op::Frame(Frame::new(2, vec![1, 2, 3]))] };
        for _ in 0..300 {
            x = x.mutate(&mut rng, &Input::default());
            for s in x.steps() {
                crate::steps::parse_step(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    }
}
