//! The step language of the catalog: what the tester sends (`TEXT[fin=0,'frag']`,
//! `wait 1s`, `fail-after 1s`, ...) and what it expects back (`TEXT('x')`,
//! `PONG(0xfe)`, `still-open-after-wait-A`). It follows the notation of the Autobahn
//! case table so that a case file can be checked against Autobahn line by line; the
//! full grammar is in `cases/README.md`.

use std::time::Duration;
use wsprobe_wire::{LengthForm, OpCode};

/// Bytes to send or to expect, written compactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Literal bytes (`'text'` or `0xHEX`).
    Bytes(Vec<u8>),
    /// `len=N(repeat UNIT)`: `unit` repeated and cut to `len` bytes.
    Repeat {
        /// Total length.
        len: usize,
        /// The repeated unit (never empty).
        unit: Vec<u8>,
    },
    /// `corpus=NAME(LEN)`: `len` bytes of a sample corpus ([`crate::corpus`]); the
    /// n-th repetition of a message takes the n-th slice.
    Corpus {
        /// Corpus name.
        name: String,
        /// Length of each slice.
        len: usize,
    },
}

impl Payload {
    /// The empty payload.
    pub fn empty() -> Self {
        Payload::Bytes(Vec::new())
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Repeat { len, .. } | Payload::Corpus { len, .. } => *len,
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes themselves.
    pub fn bytes(&self) -> Vec<u8> {
        self.nth(0)
    }

    /// The bytes of the `n`-th repetition (differs from the first only for a corpus slice).
    pub fn nth(&self, n: u64) -> Vec<u8> {
        match self {
            Payload::Corpus { name, len } => crate::corpus::slice(name, *len, n),
            Payload::Bytes(b) => b.clone(),
            Payload::Repeat { len, unit } => {
                let mut out = Vec::with_capacity(*len);
                while out.len() + unit.len() <= *len {
                    out.extend_from_slice(unit);
                }
                out.extend_from_slice(&unit[..*len - out.len()]);
                out
            }
        }
    }

    /// Whether `data` equals the payload (without building it).
    pub fn matches(&self, data: &[u8]) -> bool {
        match self {
            Payload::Bytes(b) => b == data,
            Payload::Repeat { len, unit } => {
                data.len() == *len && data.chunks(unit.len()).all(|c| c == &unit[..c.len()])
            }
            Payload::Corpus { .. } => self.bytes() == data,
        }
    }

    /// A short human-readable form (the notation it was written in).
    pub fn describe(&self) -> String {
        match self {
            Payload::Bytes(b) if b.is_empty() => "empty".into(),
            Payload::Bytes(b) => describe_bytes(b),
            Payload::Repeat { len, unit } => format!("len={len}(repeat {})", describe_bytes(unit)),
            Payload::Corpus { name, len } => format!("corpus={name}({len})"),
        }
    }
}

/// `'text'` for printable UTF-8 (cut after 160 characters), `0xHEX` otherwise (cut
/// after 48 bytes).
pub fn describe_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if s.chars().all(|c| !c.is_control()) && s.chars().count() <= 160 => format!("'{s}'"),
        Ok(s) if s.chars().all(|c| !c.is_control()) => {
            format!("'{}…' ({} bytes)", s.chars().take(160).collect::<String>(), b.len())
        }
        _ if b.len() <= 48 => format!("0x{}", hex::encode(b)),
        _ => format!("0x{}… ({} bytes)", hex::encode(&b[..48]), b.len()),
    }
}

/// How the MASK bit and key of a sent frame are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskMode {
    /// Masked with a fresh key (what a client must do).
    Key,
    /// Not masked (`mask=none`): a protocol violation by the client.
    None,
}

/// One frame the tester writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameStep {
    /// Opcode (any of the 16).
    pub opcode: OpCode,
    /// FIN bit.
    pub fin: bool,
    /// RSV bits (RSV1 = 4).
    pub rsv: u8,
    /// Payload (for Close: the whole body, code included).
    pub payload: Payload,
    /// Write the frame in pieces of this many bytes, each its own write.
    pub chop: Option<usize>,
    /// Write the frame on its own and flush before going on.
    pub sync: bool,
    /// Masking.
    pub mask: MaskMode,
    /// The length written in this form (`form=16`, `form=64`) instead of the minimal
    /// one: a non-minimal encoding (RFC 6455 §5.2) when the payload is shorter.
    pub length_form: Option<LengthForm>,
}

/// One step of a case's `send` list.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One frame.
    Frame(FrameStep),
    /// A whole message, cut into frames of `fragsize` bytes (`MSG-TEXT[..., fragsize=N]`).
    Message {
        /// TEXT or BINARY.
        opcode: OpCode,
        /// The message.
        payload: Payload,
        /// Bytes per frame; `None` is one frame.
        fragsize: Option<usize>,
        /// As for a frame: each frame written in pieces.
        chop: Option<usize>,
        /// Each frame written on its own.
        sync: bool,
    },
    /// Pause; with a mark, record `still-open-after-wait-MARK` if the connection is
    /// still open when the pause ends; with `echoes=N`, the pause ends early once N data
    /// messages in all have come back.
    Wait {
        /// How long.
        dur: Duration,
        /// Mark recorded.
        mark: Option<String>,
        /// Ends once this many data messages have been received in the case.
        echoes: Option<u64>,
    },
    /// From now on, if the connection is still open after this long, the tester fails it.
    FailAfter(Duration),
    /// From now on, if the connection is still open after this long, the tester closes it (1000).
    CloseAfter(Duration),
    /// Start a streamed message (`beginMessage[TEXT]`).
    BeginMessage(OpCode),
    /// Start a frame of the streamed message, declaring its length (`beginFrame[len=N]`).
    BeginFrame(u64),
    /// Payload bytes of the current streamed frame (`frameData[...]`).
    FrameData(Payload),
    /// End the streamed message with an empty final continuation frame.
    EndMessage,
    /// Send the previous message again each time its echo arrives, `n` messages in all.
    RepeatAfterEcho(u32),
}

/// What a received payload is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Exactly these bytes.
    Exact(Payload),
    /// Any bytes of this length (`length=N`).
    Length(u64),
    /// `echo`: exactly the next data message the tester sent (type, length and bytes),
    /// in order (Autobahn's echo check of categories 12 and 13).
    Echo,
}

impl Match {
    /// Bytes to keep of a received message to judge it.
    pub fn keep(&self) -> usize {
        match self {
            Match::Exact(p) => p.len(),
            Match::Length(_) | Match::Echo => 0,
        }
    }

    /// Human-readable.
    pub fn describe(&self) -> String {
        match self {
            Match::Exact(p) => p.describe(),
            Match::Length(n) => format!("length={n}"),
            Match::Echo => "echo".into(),
        }
    }
}

/// One expected event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// A text message.
    Text(Match),
    /// A binary message.
    Binary(Match),
    /// A Ping.
    Ping(Match),
    /// A Pong.
    Pong(Match),
    /// The connection was still open at the end of `wait ... mark=M`.
    StillOpen(String),
}

impl Expected {
    /// Human-readable, in the catalog's notation.
    pub fn describe(&self) -> String {
        match self {
            Expected::Text(m) => format!("TEXT({})", m.describe()),
            Expected::Binary(m) => format!("BIN({})", m.describe()),
            Expected::Ping(m) => format!("PING({})", m.describe()),
            Expected::Pong(m) => format!("PONG({})", m.describe()),
            Expected::StillOpen(t) => format!("still-open-after-wait-{t}"),
        }
    }
}

/// `count` times the same expected event (`1000*TEXT(length=16)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRun {
    /// Repetitions.
    pub count: u32,
    /// The event.
    pub event: Expected,
}

/// Parses a duration such as `1s`, `0.5s` or `200ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(format!("duration {s:?} needs a unit (s or ms)"));
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    if !(0.0..=100_000.0).contains(&v) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// Splits `a,b,'c,d',len=3(repeat ',')` at top-level commas.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quote => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '\'' => {
                quote = !quote;
                cur.push(c);
            }
            '(' if !quote => {
                depth += 1;
                cur.push(c);
            }
            ')' if !quote => {
                depth -= 1;
                cur.push(c);
            }
            ',' if !quote && depth == 0 => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    if quote {
        return Err(format!("unterminated quote in {s:?}"));
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in {s:?}"));
    }
    if !cur.trim().is_empty() || !out.is_empty() {
        out.push(cur.trim().to_owned());
    }
    Ok(out)
}

/// Parses a single-quoted literal with `\\`, `\'` and `\xNN` escapes.
fn parse_quoted(s: &str) -> Result<Vec<u8>, String> {
    let inner = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .ok_or_else(|| format!("expected a quoted string, got {s:?}"))?;
    let mut out = Vec::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match it.next() {
            Some('\\') => out.push(b'\\'),
            Some('\'') => out.push(b'\''),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&h, 16).map_err(|_| format!("bad \\x escape in {s:?}"))?);
            }
            other => {
                return Err(format!("unknown escape \\{} in {s:?}", other.unwrap_or(' ')));
            }
        }
    }
    Ok(out)
}

/// Whether `s` is written as a payload (and not as a `key=value` option).
fn looks_like_payload(s: &str) -> bool {
    s.starts_with('\'') || s.starts_with("0x") || s.starts_with("len=") || s.starts_with("corpus=")
}

/// Parses `'text'`, `0xHEX` or `len=N(repeat 'unit')` / `len=N(repeat 0xHEX)`.
pub fn parse_payload(s: &str) -> Result<Payload, String> {
    let s = s.trim();
    if s.starts_with('\'') {
        return parse_quoted(s).map(Payload::Bytes);
    }
    if let Some(h) = s.strip_prefix("0x") {
        return hex::decode(h).map(Payload::Bytes).map_err(|e| format!("bad hex {s:?}: {e}"));
    }
    if let Some(rest) = s.strip_prefix("corpus=") {
        let bad = || format!("{s:?}: expected corpus=NAME(LEN) with NAME one of {:?}", crate::corpus::NAMES);
        let (name, len) = rest.strip_suffix(')').and_then(|r| r.split_once('(')).ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let size = crate::corpus::get(name).ok_or_else(bad)?.len();
        if len == 0 || len > size {
            return Err(format!("{s:?}: the length must be 1..={size} (the size of corpus {name})"));
        }
        return Ok(Payload::Corpus { name: name.to_owned(), len });
    }
    if let Some(rest) = s.strip_prefix("len=") {
        let open = rest.find('(').ok_or_else(|| format!("{s:?}: expected len=N(repeat ...)"))?;
        let len: usize = rest[..open].parse().map_err(|_| format!("{s:?}: bad length"))?;
        let inner = rest[open + 1..]
            .strip_suffix(')')
            .and_then(|r| r.strip_prefix("repeat "))
            .ok_or_else(|| format!("{s:?}: expected len=N(repeat ...)"))?;
        let unit = match parse_payload(inner)? {
            Payload::Bytes(b) if !b.is_empty() => b,
            _ => {
                return Err(format!("{s:?}: the repeated unit must be non-empty literal bytes"));
            }
        };
        if len > 64 << 20 {
            return Err(format!("{s:?}: payloads are limited to 64 MiB"));
        }
        return Ok(Payload::Repeat { len, unit });
    }
    Err(format!("expected a payload ('text', 0xHEX, len=N(repeat ...) or corpus=NAME(N)), got {s:?}"))
}

fn opcode_named(name: &str) -> Option<OpCode> {
    Some(match name {
        "TEXT" => OpCode::TEXT,
        "BIN" => OpCode::BINARY,
        "CONT" => OpCode::CONTINUATION,
        "PING" => OpCode::PING,
        "PONG" => OpCode::PONG,
        "CLOSE" => OpCode::CLOSE,
        _ => {
            let n: u8 = name.strip_prefix("OP")?.parse().ok()?;
            if n > 15 {
                return None;
            }
            OpCode(n)
        }
    })
}

/// Splits `NAME[args]` into the name and its arguments.
fn name_and_args(s: &str) -> Result<(&str, Vec<String>), String> {
    match s.find('[') {
        None => Ok((s, Vec::new())),
        Some(i) => {
            let inner = s[i + 1..].strip_suffix(']').ok_or_else(|| format!("{s:?}: missing closing ]"))?;
            Ok((&s[..i], split_args(inner)?))
        }
    }
}

fn parse_usize(key: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{key}={v}: expected a positive number")),
    }
}

/// Parses one `send` step.
pub fn parse_step(s: &str) -> Result<Step, String> {
    let s = s.trim();
    let mut words = s.split_whitespace();
    let head = words.next().ok_or("empty step")?;
    match head {
        "wait" => {
            let dur = parse_duration(words.next().ok_or("wait: missing duration")?)?;
            let (mut mark, mut echoes) = (None, None);
            for w in words {
                match w.split_once('=') {
                    Some(("mark", m)) if !m.is_empty() => mark = Some(m.to_owned()),
                    Some(("echoes", n)) => echoes = Some(parse_usize("echoes", n)? as u64),
                    _ => return Err(format!("wait: unknown option {w:?}")),
                }
            }
            return Ok(Step::Wait { dur, mark, echoes });
        }
        "fail-after" => {
            return Ok(Step::FailAfter(parse_duration(words.next().ok_or("fail-after: missing duration")?)?));
        }
        "close-after" => {
            return Ok(Step::CloseAfter(parse_duration(
                words.next().ok_or("close-after: missing duration")?,
            )?));
        }
        "repeat-after-echo" => {
            let n: u32 = words
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| (1..=1_000_000).contains(&n))
                .ok_or("repeat-after-echo: expected a message count")?;
            return Ok(Step::RepeatAfterEcho(n));
        }
        "endMessage" => return Ok(Step::EndMessage),
        _ => {}
    }
    let (name, args) = name_and_args(s)?;
    match name {
        "beginMessage" => {
            let op = match args.as_slice() {
                [] => OpCode::TEXT,
                [a] if a == "TEXT" => OpCode::TEXT,
                [a] if a == "BIN" => OpCode::BINARY,
                _ => {
                    return Err(format!("{s:?}: expected beginMessage or beginMessage[TEXT|BIN]"));
                }
            };
            return Ok(Step::BeginMessage(op));
        }
        "beginFrame" => {
            let len = match args.as_slice() {
                [a] => a.strip_prefix("len=").and_then(|n| n.parse::<u64>().ok()),
                _ => None,
            };
            return Ok(Step::BeginFrame(len.ok_or_else(|| format!("{s:?}: expected beginFrame[len=N]"))?));
        }
        "frameData" => {
            return match args.as_slice() {
                [a] => Ok(Step::FrameData(parse_payload(a)?)),
                _ => Err(format!("{s:?}: expected frameData[payload]")),
            };
        }
        _ => {}
    }
    let (is_msg, opname) = match name.strip_prefix("MSG-") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let opcode = opcode_named(opname).ok_or_else(|| format!("unknown step {s:?}"))?;
    let mut fin = true;
    let mut rsv = 0u8;
    let mut chop = None;
    let mut sync = false;
    let mut mask = MaskMode::Key;
    let mut length_form = None;
    let mut fragsize = None;
    let mut payload: Option<Payload> = None;
    let mut close_code: Option<u16> = None;
    let mut raw_close = false;
    for a in &args {
        if looks_like_payload(a) {
            if payload.is_some() {
                return Err(format!("{s:?}: two payloads"));
            }
            payload = Some(parse_payload(a)?);
            continue;
        }
        if opcode == OpCode::CLOSE
            && !is_msg
            && close_code.is_none()
            && payload.is_none()
            && !raw_close
            && let Ok(code) = a.parse::<u16>()
        {
            close_code = Some(code);
            continue;
        }
        let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
        match (k, v) {
            ("fin", "0") => fin = false,
            ("fin", "1") => fin = true,
            ("rsv", v) => {
                rsv = v.parse().ok().filter(|&r: &u8| r < 8).ok_or_else(|| format!("{s:?}: rsv is 0-7"))?
            }
            ("chop", v) => chop = Some(parse_usize(k, v)?),
            ("sync", "") => sync = true,
            ("mask", "none") => mask = MaskMode::None,
            ("form", "7") => length_form = Some(LengthForm::Short),
            ("form", "16") => length_form = Some(LengthForm::Ext16),
            ("form", "64") => length_form = Some(LengthForm::Ext64),
            ("fragsize" | "autofrag", v) if is_msg => fragsize = Some(parse_usize(k, v)?),
            ("raw", v) if opcode == OpCode::CLOSE && !is_msg => {
                raw_close = true;
                payload = Some(parse_payload(v)?);
            }
            _ => return Err(format!("{s:?}: unknown option {a:?}")),
        }
    }
    let mut payload = payload.unwrap_or_else(Payload::empty);
    if let Some(code) = close_code {
        let mut body = code.to_be_bytes().to_vec();
        body.extend(payload.bytes());
        payload = Payload::Bytes(body);
    }
    if is_msg {
        if opcode != OpCode::TEXT && opcode != OpCode::BINARY {
            return Err(format!("{s:?}: MSG- steps are MSG-TEXT or MSG-BIN"));
        }
        if !fin || rsv != 0 || mask != MaskMode::Key || length_form.is_some() {
            return Err(format!("{s:?}: fin/rsv/mask/form are frame options, not message options"));
        }
        return Ok(Step::Message { opcode, payload, fragsize, chop, sync });
    }
    let fits = match length_form {
        Some(LengthForm::Short) => payload.len() <= 125,
        Some(LengthForm::Ext16) => payload.len() <= 0xffff,
        _ => true,
    };
    if !fits {
        return Err(format!("{s:?}: a payload of {} bytes does not fit that length form", payload.len()));
    }
    Ok(Step::Frame(FrameStep { opcode, fin, rsv, payload, chop, sync, mask, length_form }))
}

fn parse_match(s: &str) -> Result<Match, String> {
    if s == "echo" {
        return Ok(Match::Echo);
    }
    match s.strip_prefix("length=") {
        Some(n) => n.parse().map(Match::Length).map_err(|_| format!("bad length {s:?}")),
        None => parse_payload(s).map(Match::Exact),
    }
}

/// Parses one expected event, e.g. `TEXT('hi')`, `1000*BIN(length=16)`, `still-open-after-wait-A`.
pub fn parse_expected(s: &str) -> Result<ExpectedRun, String> {
    let s = s.trim();
    let (count, rest) = match s.split_once('*') {
        Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
            (n.parse::<u32>().map_err(|_| format!("bad count in {s:?}"))?, rest)
        }
        _ => (1, s),
    };
    if count == 0 || count > 1_000_000 {
        return Err(format!("{s:?}: count out of range"));
    }
    if let Some(tag) = rest.strip_prefix("still-open-after-wait-") {
        return Ok(ExpectedRun { count, event: Expected::StillOpen(tag.to_owned()) });
    }
    let open = rest.find('(').ok_or_else(|| format!("{s:?}: expected KIND(payload)"))?;
    let inner = rest[open + 1..].strip_suffix(')').ok_or_else(|| format!("{s:?}: missing )"))?;
    let m = parse_match(inner)?;
    let event = match &rest[..open] {
        "TEXT" => Expected::Text(m),
        "BIN" => Expected::Binary(m),
        "PING" => Expected::Ping(m),
        "PONG" => Expected::Pong(m),
        k => {
            return Err(format!(
                "{s:?}: unknown event kind {k:?} (TEXT, BIN, PING, PONG, still-open-after-wait-X)"
            ));
        }
    };
    Ok(ExpectedRun { count, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(parse_payload("'a\\'b'").unwrap(), Payload::Bytes(b"a'b".to_vec()));
        assert_eq!(parse_payload("0x00ff").unwrap(), Payload::Bytes(vec![0, 255]));
        let p = parse_payload("len=5(repeat 'ab')").unwrap();
        assert_eq!(p.bytes(), b"ababa");
        assert!(p.matches(b"ababa") && !p.matches(b"abab") && !p.matches(b"ababb"));
        assert!(parse_payload("len=5(repeat '')").is_err());
        let c = parse_payload("corpus=json(16)").unwrap();
        assert_eq!((c.bytes().len(), c.describe().as_str()), (16, "corpus=json(16)"));
        assert_ne!(c.nth(1), c.nth(2));
        assert!(parse_payload("corpus=nope(16)").is_err() && parse_payload("corpus=json(0)").is_err());
        assert_eq!(parse_expected("1000*TEXT(echo)").unwrap().event, Expected::Text(Match::Echo));
    }

    #[test]
    fn steps() {
        let Step::Frame(f) = parse_step("TEXT[fin=0,'a,b',chop=1]").unwrap() else { panic!() };
        assert_eq!((f.fin, f.payload.bytes(), f.chop), (false, b"a,b".to_vec(), Some(1)));
        let Step::Frame(f) = parse_step("CLOSE[1000,'x']").unwrap() else { panic!() };
        assert_eq!(f.payload.bytes(), vec![3, 0xe8, b'x']);
        let Step::Frame(f) = parse_step("CLOSE[raw='a']").unwrap() else { panic!() };
        assert_eq!(f.payload.bytes(), b"a");
        let Step::Frame(f) = parse_step("OP11").unwrap() else { panic!() };
        assert_eq!(f.opcode, OpCode(11));
        assert_eq!(
            parse_step("wait 1s mark=A").unwrap(),
            Step::Wait { dur: Duration::from_secs(1), mark: Some("A".into()), echoes: None }
        );
        assert_eq!(
            parse_step("wait 0.5s echoes=2").unwrap(),
            Step::Wait { dur: Duration::from_millis(500), mark: None, echoes: Some(2) }
        );
        assert!(parse_step("wait 1s echoes=x").is_err());
        assert!(parse_step("TEXT[bogus=1]").is_err());
        assert!(parse_step("OP16").is_err());
        let Step::Frame(f) = parse_step("BIN[form=64,0x01]").unwrap() else { panic!() };
        assert_eq!(f.length_form, Some(LengthForm::Ext64));
        assert!(parse_step("BIN[form=7,len=126(repeat 0x00)]").is_err());
        assert!(parse_step("BIN[form=32,0x01]").is_err());
        assert!(parse_step("MSG-BIN[form=16,0x01]").is_err());
        assert!(matches!(
            parse_step("MSG-BIN[len=10(repeat 0xfe),fragsize=3]").unwrap(),
            Step::Message { .. }
        ));
    }

    #[test]
    fn expected() {
        let r = parse_expected("1000*TEXT(length=16)").unwrap();
        assert_eq!((r.count, r.event), (1000, Expected::Text(Match::Length(16))));
        assert!(parse_expected("FOO('x')").is_err());
    }
}
