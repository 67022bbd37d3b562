//! The jsonl writer: message and frame records (nearly all records of a big capture)
//! are written field by field, the rest through serde. The output is byte for byte
//! serde_json's (a test checks it over every bundled capture): a profile of a
//! small-frame capture spent a fifth of its time in serde's generic path.

use crate::records::{FrameRecord, MessageRecord, Record};
use wsprobe_wire::Dir;

/// Appends `r` as one JSON object (no newline) to `out`.
pub fn write_record(r: &Record, out: &mut Vec<u8>) {
    match r {
        Record::Message(m) => message(m, out),
        Record::Frame(f) => frame(f, out),
        other => {
            if serde_json::to_writer(&mut *out, other).is_err() {
                out.extend_from_slice(other.to_json().as_bytes());
            }
        }
    }
}

// The field writers are inlined so that each key is a constant: its copy is a few
// moves instead of a call to memcpy (a tenth of a small-message run).

/// Writes `"key":` (keys are plain ASCII).
#[inline(always)]
fn key(out: &mut Vec<u8>, k: &str) {
    out.push(b'"');
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

#[inline(always)]
fn uint(out: &mut Vec<u8>, k: &str, v: u64) {
    key(out, k);
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    out.push(b',');
}

#[inline(always)]
fn int(out: &mut Vec<u8>, k: &str, v: i64) {
    key(out, k);
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    out.push(b',');
}

#[inline(always)]
fn boolean(out: &mut Vec<u8>, k: &str, v: bool) {
    key(out, k);
    out.extend_from_slice(if v { b"true," } else { b"false," });
}

#[inline(always)]
fn opt_uint(out: &mut Vec<u8>, k: &str, v: Option<u64>) {
    match v {
        Some(v) => uint(out, k, v),
        None => null(out, k),
    }
}

#[inline(always)]
fn null(out: &mut Vec<u8>, k: &str) {
    key(out, k);
    out.extend_from_slice(b"null,");
}

#[inline(always)]
fn string(out: &mut Vec<u8>, k: &str, v: &str) {
    key(out, k);
    escaped(out, v);
    out.push(b',');
}

#[inline(always)]
fn opt_string(out: &mut Vec<u8>, k: &str, v: Option<&str>) {
    match v {
        Some(v) => string(out, k, v),
        None => null(out, k),
    }
}

#[inline(always)]
fn dir(out: &mut Vec<u8>, d: Dir) {
    key(out, "dir");
    out.extend_from_slice(match d {
        Dir::C2S => b"\"c2s\",",
        Dir::S2C => b"\"s2c\",",
    });
}

/// Bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether any of the 8 bytes of `w` needs escaping: one below 0x20 (Bit Twiddling
/// Hacks' `hasless`), `"` or `\` (`haszero` after XOR). Both tests are exact as a
/// yes or no; a flagged word is then scanned byte by byte.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
    (control | zero_byte(w ^ (u64::from(b'"') * ONES)) | zero_byte(w ^ (u64::from(b'\\') * ONES))) != 0
}

/// A JSON string, escaped as serde_json escapes: `"`, `\`, and control characters
/// (`\b \t \n \f \r` short, the others `\u00XX`). Runs that need no escaping are
/// found eight bytes at a time and copied whole.
fn escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok())
            && !word_needs_escape(u64::from_le_bytes(word))
        {
            i += 8;
            continue;
        }
        let b = bytes[i];
        if NEEDS_ESCAPE[usize::from(b)] {
            out.extend_from_slice(&bytes[start..i]);
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                }
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Replaces the trailing comma of the last field by the closing brace.
fn close(out: &mut Vec<u8>) {
    if out.last() == Some(&b',') {
        out.pop();
    }
    out.push(b'}');
}

fn message(m: &MessageRecord, out: &mut Vec<u8>) {
    out.reserve(400 + m.payload_preview.as_ref().map_or(0, String::len));
    out.extend_from_slice(b"{\"type\":\"message\",");
    uint(out, "session", m.session);
    dir(out, m.dir);
    uint(out, "packet", m.packet);
    int(out, "ts_nanos", m.ts_nanos);
    string(out, "opcode", &m.opcode);
    uint(out, "offset", m.offset);
    uint(out, "len", m.len);
    uint(out, "wire_len", m.wire_len);
    uint(out, "frames", u64::from(m.frames));
    boolean(out, "compressed", m.compressed);
    opt_uint(out, "close_code", m.close_code.map(u64::from));
    opt_string(out, "close_reason", m.close_reason.as_deref());
    opt_string(out, "payload_preview", m.payload_preview.as_deref());
    opt_string(out, "payload_b64", m.payload_b64.as_deref());
    boolean(out, "truncated", m.truncated);
    boolean(out, "incomplete", m.incomplete);
    match m.rtt_nanos {
        Some(v) => int(out, "rtt_nanos", v),
        None => null(out, "rtt_nanos"),
    }
    close(out);
}

fn frame(f: &FrameRecord, out: &mut Vec<u8>) {
    out.reserve(320);
    out.extend_from_slice(b"{\"type\":\"frame\",");
    uint(out, "session", f.session);
    dir(out, f.dir);
    uint(out, "packet", f.packet);
    int(out, "ts_nanos", f.ts_nanos);
    uint(out, "offset", f.offset);
    boolean(out, "fin", f.fin);
    boolean(out, "rsv1", f.rsv1);
    boolean(out, "rsv2", f.rsv2);
    boolean(out, "rsv3", f.rsv3);
    uint(out, "opcode", u64::from(f.opcode));
    string(out, "opcode_name", &f.opcode_name);
    boolean(out, "masked", f.masked);
    opt_string(out, "mask_key", f.mask_key.as_deref());
    uint(out, "payload_len", f.payload_len);
    opt_uint(out, "close_code", f.close_code.map(u64::from));
    uint(out, "missing", f.missing);
    close(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_serde_jsons() {
        let all: String = (0u8..=0x7f).map(char::from).collect::<String>() + "é✓\u{2028}";
        for s in [all.as_str(), "", "plain", "\"quoted\" \\ back"] {
            let mut out = Vec::new();
            escaped(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    proptest::proptest! {
        /// Any string, with bytes that need escaping at any place in or across the
        /// eight-byte words the fast scan steps over.
        #[test]
        fn any_string_escapes_as_serde_json(
            chars in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::char::range('\u{0}', '\u{7f}'),
                    proptest::sample::select(vec!['"', '\\', '\u{1f}', '\u{20}', 'é', '✓', '\u{7f}', '\u{80}']),
                    proptest::char::any(),
                ],
                0..40,
            )
        ) {
            let s: String = chars.into_iter().collect();
            let mut out = Vec::new();
            escaped(&mut out, &s);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }
    }
}
