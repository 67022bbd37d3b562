//! A stable, human-readable text rendering of [`Event`]s, one line each: no times,
//! no addresses, nothing that changes between runs. The dissector's transcript and
//! the core's snapshot tests are built from it.

use crate::OpCode;
use crate::event::{Event, FrameEvent, Message};
use std::fmt::Write;

/// Longest payload preview, in bytes.
const PREVIEW: usize = 48;

/// Renders a payload preview: quoted text when it is printable UTF-8, hex otherwise,
/// with the full length when only a part is shown.
pub fn preview(bytes: &[u8], total: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let shown = &bytes[..bytes.len().min(PREVIEW)];
    // Built as bytes and copied whole: with the pushes char by char, previews were
    // about 5% of a small-message dissect.
    let mut buf = [0u8; 2 + 2 * PREVIEW];
    let mut s = String::with_capacity(2 * shown.len() + 32);
    // Printable ASCII without quotes or backslashes (most text) reads the same
    // quoted as Debug-escaped: copied as it is.
    if shown.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        s.push('"');
        s.push_str(std::str::from_utf8(shown).unwrap_or_default());
        s.push('"');
    } else {
        match std::str::from_utf8(shown) {
            Ok(t) if !t.chars().any(char::is_control) => {
                let _ = write!(s, "{t:?}");
            }
            _ => {
                buf[..2].copy_from_slice(b"0x");
                for (pair, &b) in buf[2..].chunks_exact_mut(2).zip(shown) {
                    pair[0] = HEX[usize::from(b >> 4)];
                    pair[1] = HEX[usize::from(b & 15)];
                }
                s.push_str(std::str::from_utf8(&buf[..2 + 2 * shown.len()]).unwrap_or_default());
            }
        }
    }
    if (shown.len() as u64) < total {
        s.push_str("…(");
        push_decimal(&mut s, total);
        s.push_str(" bytes)");
    }
    s
}

/// Appends `n` in decimal (without the formatting machinery: a preview is built for
/// every message of a capture).
fn push_decimal(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// One frame: `frame c2s @0 FIN=1 RSV=000 text MASK=1 key=37fa213d len=5/7 "Hello"`.
pub fn frame_line(f: &FrameEvent) -> String {
    let h = &f.header;
    let key = h
        .mask_key
        .map_or(String::new(), |k| format!(" key={:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3]));
    let mut s = format!(
        "frame {} @{} FIN={} RSV={:03b} {}(0x{:X}) MASK={}{} len={}/{}-bit {}",
        f.dir,
        f.offset,
        u8::from(h.fin),
        h.rsv(),
        h.opcode,
        h.opcode.0,
        u8::from(h.masked),
        key,
        h.payload_len,
        h.length_form.bits(),
        preview(&f.payload, h.payload_len),
    );
    if f.missing > 0 {
        let _ = write!(s, " missing={}", f.missing);
    }
    s
}

/// One message: `message s2c text @0..7 frames=1 len=5 "Hello"`.
pub fn message_line(m: &Message) -> String {
    let mut s =
        format!("message {} {} @{}..{} frames={} len={}", m.dir, m.opcode, m.offset, m.end, m.frames, m.len);
    if m.compressed {
        let _ = write!(s, " compressed(wire={})", m.wire_len);
    }
    match &m.close {
        Some(c) if m.opcode == OpCode::CLOSE => {
            let code = c.code.map_or("none".to_string(), |c| c.to_string());
            let _ = write!(s, " code={code} reason={:?}", c.reason_lossy());
        }
        _ => {
            let _ = write!(s, " {}", preview(&m.payload, m.len));
        }
    }
    if m.truncated {
        s.push_str(" [truncated]");
    }
    if m.incomplete {
        s.push_str(" [incomplete]");
    }
    s
}

/// One line for any event.
pub fn event_line(e: &Event) -> String {
    match e {
        Event::Request { offset, request } => {
            format!(
                "request c2s @{offset} {} {} HTTP/1.{}",
                request.method, request.target, request.version_minor
            )
        }
        Event::Response { offset, response, negotiated } => {
            let mut s = format!("response s2c @{offset} {} {}", response.status, response.reason);
            if let Some(n) = negotiated {
                if let Some(p) = &n.protocol {
                    let _ = write!(s, " protocol={p}");
                }
                if !n.extensions.is_empty() {
                    let _ =
                        write!(s, " extensions={:?}", crate::extensions::format_extensions(&n.extensions));
                }
            }
            s
        }
        Event::Established => "established".to_string(),
        Event::HttpError { dir, offset, message } => format!("http-error {dir} @{offset} {message}"),
        Event::Frame(f) => frame_line(f),
        Event::Message(m) => message_line(m),
        Event::Violation(v) => {
            format!("VIOLATION {} ({}) by {} @{}: {}", v.rule, v.rule.citation(), v.by, v.offset, v.detail)
        }
        Event::Gap { dir, offset, len } => format!("gap {dir} @{offset} len={len}"),
        Event::Resynced { dir, offset, skipped } => format!("resynced {dir} @{offset} skipped={skipped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain definition the fast paths of [`preview`] must match.
    fn reference(bytes: &[u8], total: u64) -> String {
        let shown = &bytes[..bytes.len().min(PREVIEW)];
        let mut s = match std::str::from_utf8(shown) {
            Ok(t) if !t.chars().any(char::is_control) => format!("{t:?}"),
            _ => format!("0x{}", shown.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        };
        if (shown.len() as u64) < total {
            s.push_str(&format!("…({total} bytes)"));
        }
        s
    }

    proptest! {
        #[test]
        fn preview_is_the_reference(
            bytes in proptest::collection::vec(prop_oneof![0x20u8..0x7f, any::<u8>(), Just(b'"'), Just(b'\\')], 0..80),
            extra in prop_oneof![0u64..3, 0u64..100_000, any::<u64>()],
        ) {
            let total = (bytes.len() as u64).saturating_add(extra);
            prop_assert_eq!(preview(&bytes, total), reference(&bytes, total));
            let text = "é ü \"q\" \\ ✓".as_bytes();
            prop_assert_eq!(preview(text, 99), reference(text, 99));
        }
    }
}
