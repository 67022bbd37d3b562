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

/// Writes `"key":` (keys are plain ASCII).
fn key(out: &mut Vec<u8>, k: &str) {
    out.push(b'"');
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

fn uint(out: &mut Vec<u8>, k: &str, v: u64) {
    key(out, k);
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    out.push(b',');
}

fn int(out: &mut Vec<u8>, k: &str, v: i64) {
    key(out, k);
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    out.push(b',');
}

fn boolean(out: &mut Vec<u8>, k: &str, v: bool) {
    key(out, k);
    out.extend_from_slice(if v { b"true," } else { b"false," });
}

fn opt_uint(out: &mut Vec<u8>, k: &str, v: Option<u64>) {
    match v {
        Some(v) => uint(out, k, v),
        None => null(out, k),
    }
}

fn null(out: &mut Vec<u8>, k: &str) {
    key(out, k);
    out.extend_from_slice(b"null,");
}

fn string(out: &mut Vec<u8>, k: &str, v: &str) {
    key(out, k);
    escaped(out, v);
    out.push(b',');
}

fn opt_string(out: &mut Vec<u8>, k: &str, v: Option<&str>) {
    match v {
        Some(v) => string(out, k, v),
        None => null(out, k),
    }
}

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

/// A JSON string, escaped as serde_json escapes: `"`, `\`, and control characters
/// (`\b \t \n \f \r` short, the others `\u00XX`). Runs that need no escaping are
/// copied whole.
fn escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(k) = bytes[start..].iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]) {
        let i = start + k;
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
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
}
