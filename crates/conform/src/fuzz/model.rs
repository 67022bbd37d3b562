//! What RFC 6455 says a conformant echo server does with an input, frame by frame, and
//! the input with that expectation as a case of the catalog (TOML), so that what the
//! fuzzer runs is exactly what `wsprobe test --catalog` replays.
//!
//! The server echoes every data message and answers every Ping (the catalog's echo
//! convention, §5.5.2). It must fail the connection (§7.1.7) on: RSV bits without an
//! extension (§5.2), a reserved opcode (§5.2), an unmasked frame (§5.1), a fragmented or
//! over-long control frame (§5.5), a continuation with no message or a new data frame
//! inside a message (§5.4), invalid UTF-8 in a text message (§8.1) or a Close reason
//! (§5.5.1), a one-byte Close body or a code not allowed on the wire (§7.4). It answers a
//! valid Close with a Close and processes nothing after it (§5.5.1).

use super::input::{Frame, INVALID_CODES, Input, Op, VALID_CODES};
use wsprobe_wire::Rule;

/// One expected event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The echo of a text message.
    Text(Vec<u8>),
    /// The echo of a binary message.
    Binary(Vec<u8>),
    /// The answer to a Ping.
    Pong(Vec<u8>),
}

/// What a conformant server does with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Events in order, failing as early as possible.
    pub ok: Vec<Event>,
    /// Events when invalid UTF-8 is found only at the end of its message (both are
    /// allowed, §8.1 says "as soon as"; many servers check whole messages).
    pub late: Option<Vec<Event>>,
    /// The server must fail the connection, for this rule (with 1002 or 1007: which
    /// of the two is the catalog's business, not the fuzzer's).
    pub fail: Option<Rule>,
    /// The frame the server must fail on is a Close the tester's engine counts as its
    /// own closing handshake (FIN, no RSV, masked): the catalog then has the
    /// tester close (as Autobahn's 7.3.x, 7.5.x and 7.9.x do).
    pub fail_on_close: bool,
    /// Conformant servers may differ on the input (invalid UTF-8 in a message the input
    /// never finishes: failing at once or waiting are both right): not run.
    pub ambiguous: bool,
    /// The tester sends a valid Close (its code, if any): the server must answer it.
    pub closed: Option<Option<u16>>,
    /// A frame's length is encoded in more bytes than needed. RFC 6455 §5.2 binds the
    /// sender to the minimal form and says nothing of the receiver: a server may
    /// process the frame or fail the connection (with a Close) there.
    pub may_refuse: bool,
    /// Steps actually sent (nothing after the tester's own Close).
    pub sent: usize,
}

impl Expectation {
    /// The input is valid and the connection is still open after it (a liveness Ping
    /// can be added).
    pub fn open(&self) -> bool {
        self.fail.is_none() && self.closed.is_none()
    }
}

fn utf8_state(bytes: &[u8]) -> Utf8 {
    match std::str::from_utf8(bytes) {
        Ok(_) => Utf8::Valid,
        Err(e) if e.error_len().is_none() => Utf8::Incomplete,
        Err(_) => Utf8::Invalid,
    }
}

#[derive(PartialEq, Eq)]
enum Utf8 {
    Valid,
    Incomplete,
    Invalid,
}

/// Whether a close body is valid (§5.5.1, §7.4): empty, or a valid code and a UTF-8
/// reason. Returns the rule it breaks otherwise.
fn close_problem(body: &[u8]) -> Option<Rule> {
    match body {
        [] => None,
        [_] => Some(Rule::ClosePayloadOneByte),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !VALID_CODES.contains(&code) {
                // Only codes every implementation judges the same are generated; any
                // other (from a seed) is held invalid if it is on the known-bad list.
                if INVALID_CODES.contains(&code) || !(3000..5000).contains(&code) {
                    return Some(Rule::CloseCodeInvalid);
                }
            }
            (utf8_state(reason) != Utf8::Valid).then_some(Rule::CloseReasonInvalidUtf8)
        }
    }
}

/// Plays the input against the model.
pub fn expect(input: &Input) -> Expectation {
    let mut ok = Vec::new();
    let mut late: Option<Vec<Event>> = None;
    let mut message: Option<(u8, Vec<u8>)> = None;
    let mut sent = 0;
    let mut fail = None;
    let mut fail_on_close = false;
    let mut closed = None;
    let mut may_refuse = false;
    for op in &input.ops {
        sent += 1;
        let Op::Frame(f) = op else { continue };
        may_refuse |= f.non_minimal();
        let problem = frame_problem(f, message.is_some());
        if let Some(p) = problem {
            fail = Some(p);
            fail_on_close = f.opcode == 8 && f.fin && f.rsv == 0 && !f.unmasked;
            break;
        }
        match f.opcode {
            0x9 => ok.push(Event::Pong(f.payload.clone())),
            0xa => {}
            0x8 => {
                closed = Some(f.payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]])));
                break;
            }
            _ => {
                let (opcode, buf) = message.get_or_insert_with(|| (f.opcode, Vec::new()));
                buf.extend_from_slice(&f.payload);
                let text = *opcode == 1;
                if text && utf8_state(buf) == Utf8::Invalid && late.is_none() {
                    // Failing now is right; failing at the message's end is too.
                    late = Some(ok.clone());
                }
                if f.fin {
                    let Some((opcode, buf)) = message.take() else { continue };
                    if opcode == 1 && utf8_state(&buf) != Utf8::Valid {
                        fail = Some(Rule::Utf8TextInvalid);
                        break;
                    }
                    ok.push(if opcode == 1 { Event::Text(buf) } else { Event::Binary(buf) });
                }
            }
        }
    }
    // Invalid UTF-8 in a message that is never finished: a server that checks whole
    // messages does not fail at all.
    let ambiguous = late.is_some() && fail.is_none() && closed.is_none();
    if late.is_some() && fail.is_none() {
        fail = Some(Rule::Utf8TextInvalid);
    }
    // `late` holds the events up to the invalid fragment (failing at once); the list
    // goes on to the message's end or the next bad frame (failing there).
    let late = late.filter(|l| *l != ok);
    let (ok, late) = match late {
        Some(early) => (early, Some(ok)),
        None => (ok, None),
    };
    Expectation { ok, late, fail, fail_on_close, ambiguous, closed, may_refuse, sent }
}

/// What is wrong with a frame, given whether a message is in progress.
fn frame_problem(f: &Frame, in_message: bool) -> Option<Rule> {
    if f.unmasked {
        return Some(Rule::MaskClientUnmasked);
    }
    if f.rsv != 0 {
        return Some(Rule::FrameRsvUnnegotiated);
    }
    match f.opcode {
        3..=7 | 11..=15 => Some(Rule::FrameOpcodeReserved),
        8..=10 if !f.fin => Some(Rule::ControlFragmented),
        8..=10 if f.payload.len() > 125 => Some(Rule::ControlPayloadTooLong),
        8 => close_problem(&f.payload),
        0 if !in_message => Some(Rule::FragmentOrphanContinuation),
        1 | 2 if in_message => Some(Rule::FragmentInterleavedData),
        _ => None,
    }
}

fn event_text(e: &Event) -> String {
    let (name, p) = match e {
        Event::Text(p) => ("TEXT", p),
        Event::Binary(p) => ("BIN", p),
        Event::Pong(p) => ("PONG", p),
    };
    format!("{name}(0x{})", hex::encode(p))
}

/// `s` as a TOML basic string (quoted, escaped as TOML wants, not as Rust's `{:?}`).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| toml_str(&s)).collect();
    format!("[{}]", v.join(", "))
}

/// The longest pause after each complete message for its echo (see [`case_toml`]):
/// the pause ends as soon as the echo is in.
const ECHO_WAIT: &str = "0.5s";

/// The payload of the liveness Ping added at the end of an input that leaves the
/// connection open.
pub const LIVENESS: &[u8] = b"wsprobe-fuzz-liveness";

/// The input and its expectation as one catalog case (TOML, category `category`), with
/// `timer` seconds for the tester's timers.
pub fn case_toml(input: &Input, category: &str, id: &str, title: &str, rules: &[Rule], timer: f64) -> String {
    let e = expect(input);
    let mut send = Vec::new();
    let mut in_message = false;
    let mut messages = 0;
    let last = e.sent.min(input.ops.len());
    for (i, (op, step)) in input.ops.iter().zip(input.steps()).take(last).enumerate() {
        send.push(step);
        // A server's echo is its application's answer: after a message ends, wait for
        // the echo before anything else is sent (a bad frame next would otherwise race
        // it). Pongs, its library's answer, are matched apart (`pongs_apart`).
        let Op::Frame(f) = op else { continue };
        let ends = match f.opcode {
            0 => in_message && f.fin,
            1 | 2 => !in_message && f.fin,
            _ => false,
        };
        if f.opcode <= 2 {
            in_message = match f.opcode {
                0 => in_message && !f.fin,
                _ => in_message || !f.fin,
            };
        }
        messages += u64::from(ends);
        if ends && (i + 1 < last || e.open()) {
            send.push(format!("wait {ECHO_WAIT} echoes={messages}"));
        }
    }
    let mut ok: Vec<String> = e.ok.iter().map(event_text).collect();
    let mut late: Option<Vec<String>> = e.late.as_ref().map(|l| l.iter().map(event_text).collect());
    if e.open() {
        send.push(format!("PING[0x{}]", hex::encode(LIVENESS)));
        ok.push(event_text(&Event::Pong(LIVENESS.to_vec())));
        if let Some(l) = &mut late {
            l.push(event_text(&Event::Pong(LIVENESS.to_vec())));
        }
    }
    let close = match (e.fail, e.closed) {
        (Some(_), _) => {
            send.push(format!("fail-after {timer}s"));
            let by = if e.fail_on_close { "tester" } else { "peer" };
            format!("{{ by = \"{by}\", codes = [1002, 1007], clean = false }}")
        }
        (None, Some(code)) => {
            send.push(format!("fail-after {timer}s"));
            format!("{{ by = \"tester\", codes = [{}], clean = true }}", code.unwrap_or(1000))
        }
        (None, None) => {
            send.push(format!("close-after {timer}s"));
            "{ by = \"tester\", codes = [1000], clean = true }".to_string()
        }
    };
    let mut rule_ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
    if rule_ids.is_empty() {
        rule_ids.push(e.fail.unwrap_or(Rule::PingUnanswered).id());
    }
    let mut t = format!(
        "category = {}\ntitle = \"wsprobe fuzz findings\"\n\n[[case]]\nid = {}\n",
        toml_str(category),
        toml_str(id)
    );
    t.push_str(&format!("title = {}\n", toml_str(title)));
    t.push_str(&format!("rules = {}\n", list(rule_ids.iter().map(|s| s.to_string()))));
    if !input.headers.is_empty() {
        t.push_str(&format!(
            "request = {}\n",
            list(input.headers.iter().map(|(n, v)| format!("add {n}: {v}")))
        ));
    }
    t.push_str(&format!("send = {}\n", list(send)));
    t.push_str(&format!("ok = {}\n", list(ok)));
    if let Some(l) = late {
        t.push_str(&format!("non_strict = {}\n", list(l)));
    }
    t.push_str(&format!("close = {close}\npongs_apart = true\n"));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(frames: Vec<Frame>) -> Input {
        Input { headers: Vec::new(), ops: frames.into_iter().map(Op::Frame).collect() }
    }

    fn frag(opcode: u8, p: &[u8], fin: bool) -> Frame {
        let mut f = Frame::new(opcode, p.to_vec());
        f.fin = fin;
        f
    }

    #[test]
    fn echoes_pongs_and_failures() {
        let e = expect(&input(vec![
            frag(1, b"he", false),
            Frame::new(9, b"p".to_vec()),
            frag(0, b"llo", true),
            Frame::new(2, vec![1]),
        ]));
        assert_eq!(
            e.ok,
            [Event::Pong(b"p".to_vec()), Event::Text(b"hello".to_vec()), Event::Binary(vec![1])]
        );
        assert!(e.open());
        let e = expect(&input(vec![Frame::new(9, vec![0; 126]), Frame::new(1, b"x".to_vec())]));
        assert_eq!((e.ok.len(), e.fail), (0, Some(Rule::ControlPayloadTooLong)));
        let e = expect(&input(vec![frag(0, b"x", true)]));
        assert_eq!(e.fail, Some(Rule::FragmentOrphanContinuation));
        let e = expect(&input(vec![Frame::new(8, vec![0x03, 0xe8, b'o', b'k']), Frame::new(9, vec![])]));
        assert_eq!((e.closed, e.sent, e.ok.len()), (Some(Some(1000)), 1, 0));
        let e = expect(&input(vec![Frame::new(8, vec![0x03, 0xed])]));
        assert_eq!(e.fail, Some(Rule::CloseCodeInvalid));
        // Invalid UTF-8 in a message never finished: servers may differ.
        assert!(expect(&input(vec![frag(1, &[0xff], false)])).ambiguous);
        // A non-minimal length: processing it and refusing it are both right.
        let mut long = Frame::new(2, vec![1, 2]);
        assert!(!expect(&input(vec![long.clone()])).may_refuse);
        long.form = Some(wsprobe_wire::LengthForm::Ext64);
        let e = expect(&input(vec![long]));
        assert!(e.may_refuse && e.open() && e.ok == [Event::Binary(vec![1, 2])]);
    }

    #[test]
    fn invalid_utf8_may_fail_early_or_at_the_end() {
        // Invalid in the first fragment, a Ping, then the end of the message.
        let e = expect(&input(vec![
            frag(1, &[b'a', 0xff], false),
            Frame::new(9, b"p".to_vec()),
            frag(0, b"b", true),
        ]));
        assert_eq!(e.fail, Some(Rule::Utf8TextInvalid));
        assert_eq!(e.ok, []);
        assert_eq!(e.late, Some(vec![Event::Pong(b"p".to_vec())]));
        // A character split across fragments is valid.
        let e = expect(&input(vec![frag(1, &[0xc3], false), frag(0, &[0xa9], true)]));
        assert_eq!(e.ok, [Event::Text("é".as_bytes().to_vec())]);
    }

    #[test]
    fn cases_parse() {
        let t = case_toml(
            &input(vec![frag(1, b"a", false), frag(0, b"b", true), Frame::new(8, vec![0x03, 0xe8])]),
            "F1",
            "F1.1",
            "crash",
            &[],
            2.0,
        );
        let cases = crate::catalog::parse_file("f.toml", &t).unwrap_or_else(|e| panic!("{e}\n{t}"));
        assert_eq!(cases.len(), 1, "{t}");
        // Any title (a detail quoting what the target sent) stays valid TOML.
        let odd = "PONG(' 匩Q\u{59f}\u{7f}\u{0}') \"quoted\" \\ \n";
        let t = case_toml(&input(vec![Frame::new(9, vec![1])]), "F1", "F1.1", odd, &[], 2.0);
        let cases = crate::catalog::parse_file("f.toml", &t).unwrap_or_else(|e| panic!("{e}\n{t}"));
        assert_eq!(cases[0].title, odd);
    }
}
