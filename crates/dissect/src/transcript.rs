//! The text transcript: sessions in number order, each with its events in decoding
//! order, one line each, rendered by `wsprobe_wire::transcript`; packet numbers and
//! times relative to the session's first packet, never absolute times.

use crate::DissectError;
use crate::records::{PmdConfig, Record, SessionRecord};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Renders records as the transcript described in the README.
pub fn render_transcript(records: &[Record], error: Option<&DissectError>) -> String {
    let mut sessions: BTreeMap<u64, (Option<&SessionRecord>, Vec<&Record>)> = BTreeMap::new();
    let mut loose = Vec::new();
    for r in records {
        match (r, r.session()) {
            (Record::Session(s), _) => sessions.entry(s.session).or_default().0 = Some(s),
            (_, Some(n)) => sessions.entry(n).or_default().1.push(r),
            (_, None) => loose.push(r),
        }
    }
    let mut out = String::new();
    if sessions.is_empty() {
        out.push_str("no WebSocket sessions\n");
    }
    for (n, (head, lines)) in &sessions {
        let t0 = head.map_or(0, |s| s.ts_nanos);
        match head {
            Some(s) => {
                let _ = writeln!(out, "{}", session_line(s));
            }
            None => {
                let _ = writeln!(out, "session {n}");
            }
        }
        for r in lines {
            let (packet, ts, text) = match r {
                Record::Frame(f) => (f.packet, f.ts_nanos, f.text.as_str()),
                Record::Message(m) => (m.packet, m.ts_nanos, m.text.as_str()),
                Record::Violation(v) => (v.packet, v.ts_nanos, v.text.as_str()),
                Record::Event(e) => (e.packet, e.ts_nanos, e.text.as_str()),
                Record::Warning(w) => {
                    let _ = writeln!(out, "  #{} warning: {}", w.packet, w.message);
                    continue;
                }
                Record::Session(_) => continue,
            };
            let _ = writeln!(out, "  #{packet} {} {text}", rel_time(ts - t0));
        }
    }
    if !loose.is_empty() {
        out.push_str("capture\n");
        for r in loose {
            if let Record::Warning(w) = r {
                let _ = writeln!(out, "  #{} warning: {}", w.packet, w.message);
            }
        }
    }
    if let Some(e) = error {
        let _ = writeln!(out, "error at byte {}: {}", e.offset, e.message);
    }
    out
}

/// `+1.000250s`: seconds and microseconds since the session's first packet.
fn rel_time(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    let us = ns.unsigned_abs() / 1000;
    format!("{sign}{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

/// The session's heading line.
pub(crate) fn session_line(s: &SessionRecord) -> String {
    let mut l = format!(
        "session {} (conn {}) client {} server {}: {}",
        s.session, s.conn, s.client, s.server, s.handshake
    );
    if let Some(p) = &s.path {
        let _ = write!(l, ", path {p:?}");
    }
    if let Some(p) = &s.protocol {
        let _ = write!(l, ", protocol {p:?}");
    }
    if let Some(e) = &s.extensions {
        let _ = write!(l, ", extensions {e:?}");
    }
    if let Some(d) = &s.deflate {
        let _ = write!(l, ", {}", deflate_text(d));
    }
    if let Some(t) = tls_text(s) {
        let _ = write!(l, ", {t}");
    }
    if let Some(p) = &s.proxy {
        let _ = write!(l, ", {p}");
    }
    l
}

/// `TLS 1.3 TLS_AES_128_GCM_SHA256, SNI example.com` for a decrypted session.
pub fn tls_text(s: &SessionRecord) -> Option<String> {
    let mut t = s.tls_version.clone()?;
    if let Some(suite) = &s.tls_suite {
        let _ = write!(t, " {suite}");
    }
    if let Some(n) = &s.sni {
        let _ = write!(t, ", SNI {n}");
    }
    Some(t)
}

/// `deflate(client 15 bits takeover, server 10 bits no-takeover)`.
pub(crate) fn deflate_text(d: &PmdConfig) -> String {
    let ctx = |no: bool| if no { "no-takeover" } else { "takeover" };
    format!(
        "deflate(client {} bits {}, server {} bits {})",
        d.client_max_window_bits,
        ctx(d.client_no_context_takeover),
        d.server_max_window_bits,
        ctx(d.server_no_context_takeover)
    )
}
