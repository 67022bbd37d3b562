//! `wsprobe dissect`'s default output: one row per thing found, printed as it is
//! decoded (memory bounded by the sessions open at once, whatever the capture's size).
//! By default the rows are what a person wants first on a big capture: each session
//! when it is found and when it ends (with its counts), every violation and warning;
//! `--messages` adds a row per message and per hole or resynchronisation.

use std::collections::HashMap;
use std::io::Write;
use wsprobe_dissect::{EventRecord, MessageRecord, Record, SessionRecord, ViolationRecord};

/// Counts kept for a session until it ends.
struct Open {
    t0: i64,
    messages: u64,
    bytes: u64,
    violations: u64,
}

/// Writes rows to `w` as records come.
pub struct TableStream<W: Write> {
    w: W,
    messages: bool,
    previews: bool,
    header: bool,
    open: HashMap<u64, Open>,
    sessions: u64,
}

/// Column header (the widths match [`TableStream::row`]).
const HEADER: &str = "packet    s since    session  what\n          session start\n";

impl<W: Write> TableStream<W> {
    /// A writer; `messages` adds message rows, `previews` their payload previews.
    pub fn new(w: W, messages: bool, previews: bool) -> Self {
        TableStream { w, messages, previews, header: false, open: HashMap::new(), sessions: 0 }
    }

    /// Starts the rows of one capture (a `== NAME` line when several are read).
    pub fn file(&mut self, name: &str, many: bool) -> std::io::Result<()> {
        if many {
            writeln!(self.w, "== {name}")?;
            self.header = false;
        }
        Ok(())
    }

    fn row(&mut self, packet: u64, ts: i64, session: Option<u64>, what: &str) -> std::io::Result<()> {
        if !self.header {
            self.header = true;
            self.w.write_all(HEADER.as_bytes())?;
        }
        let rel = match session.and_then(|s| self.open.get(&s)) {
            Some(o) => format!("{:.6}", (ts - o.t0) as f64 / 1e9),
            None => String::new(),
        };
        let session = session.map_or_else(|| "-".to_string(), |s| s.to_string());
        writeln!(self.w, "{packet:<9} {rel:<10} {session:<8} {what}")
    }

    /// Prints the rows of one record.
    pub fn record(&mut self, r: &Record) -> std::io::Result<()> {
        match r {
            Record::Session(s) => self.session(s),
            Record::Message(m) => self.message(m),
            Record::Violation(v) => self.violation(v),
            Record::Event(e) => self.event(e),
            Record::Warning(w) => self.row(w.packet, 0, w.session, &format!("warning: {}", w.message)),
            Record::Frame(_) => Ok(()),
        }
    }

    fn session(&mut self, s: &SessionRecord) -> std::io::Result<()> {
        self.sessions += 1;
        self.open.insert(s.session, Open { t0: s.ts_nanos, messages: 0, bytes: 0, violations: 0 });
        let mut what = format!("session {} -> {}, {}", s.client, s.server, s.handshake);
        if let Some(p) = &s.path {
            what.push_str(&format!(", GET {p}"));
        }
        if let Some(status) = s.status.filter(|&c| c != 101) {
            what.push_str(&format!(", status {status}"));
        }
        if let Some(p) = &s.protocol {
            what.push_str(&format!(", protocol {p}"));
        }
        if let Some(e) = &s.extensions {
            what.push_str(&format!(", extensions {e}"));
        }
        if let Some(t) = wsprobe_dissect::tls_text(s) {
            what.push_str(&format!(", {t}"));
        }
        if let Some(p) = &s.proxy {
            what.push_str(&format!(", {p}"));
        }
        self.row(s.first_packet, s.ts_nanos, Some(s.session), &what)
    }

    fn message(&mut self, m: &MessageRecord) -> std::io::Result<()> {
        if let Some(o) = self.open.get_mut(&m.session) {
            o.messages += 1;
            o.bytes += m.len;
        }
        if !self.messages {
            return Ok(());
        }
        let mut what = format!("{} {} {} bytes", m.dir, m.opcode, m.len);
        if m.frames > 1 {
            what.push_str(&format!(" in {} frames", m.frames));
        }
        if m.compressed {
            what.push_str(&format!(", compressed ({} on the wire)", m.wire_len));
        }
        if m.opcode == "close" {
            let code = m.close_code.map_or("none".into(), |c| c.to_string());
            what.push_str(&format!(", code {code} {:?}", m.close_reason.clone().unwrap_or_default()));
        } else if self.previews
            && let Some(p) = &m.payload_preview
        {
            what.push_str(&format!(": {p}"));
        }
        if let Some(rtt) = m.rtt_nanos {
            what.push_str(&format!(", rtt {:.3} ms", rtt as f64 / 1e6));
        }
        if m.incomplete {
            what.push_str(", incomplete (bytes missing from the capture)");
        }
        self.row(m.packet, m.ts_nanos, Some(m.session), &what)
    }

    fn violation(&mut self, v: &ViolationRecord) -> std::io::Result<()> {
        if let Some(o) = self.open.get_mut(&v.session) {
            o.violations += 1;
        }
        let what = format!(
            "violation by {}: {} (RFC {} §{}) at {} offset {}: {}",
            v.by, v.rule, v.rfc, v.section, v.dir, v.offset, v.detail
        );
        self.row(v.packet, v.ts_nanos, Some(v.session), &what)
    }

    fn event(&mut self, e: &EventRecord) -> std::io::Result<()> {
        if e.kind == "closed" {
            let o = self.open.get(&e.session);
            let (m, b, v) = o.map_or((0, 0, 0), |o| (o.messages, o.bytes, o.violations));
            let reason = e.reason.clone().unwrap_or_default();
            let what = format!("session ended ({reason}): {m} messages, {b} bytes, {v} violations");
            self.row(e.packet, e.ts_nanos, Some(e.session), &what)?;
            self.open.remove(&e.session);
            return Ok(());
        }
        if self.messages && matches!(e.kind.as_str(), "gap" | "resynced" | "http_error") {
            return self.row(e.packet, e.ts_nanos, Some(e.session), &e.text);
        }
        Ok(())
    }

    /// Ends the output (flushing it), returning the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }

    /// Flushes what was written so far.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }

    /// Sessions printed so far.
    pub fn sessions(&self) -> u64 {
        self.sessions
    }

    /// Writes a line of its own.
    pub fn note(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.w, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stream_and_sessions_end_with_counts() {
        let captures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures");
        let d = wsprobe_dissect::dissect_path(
            &captures.join("violations-framing.pcap"),
            &wsprobe_dissect::Options::default(),
        );
        let mut t = TableStream::new(Vec::new(), false, false);
        for r in &d.records {
            t.record(r).unwrap();
        }
        let text = String::from_utf8(t.finish().unwrap()).unwrap();
        let violations = d.violations().count();
        assert!(violations > 0);
        assert_eq!(text.matches("violation by").count(), violations, "{text}");
        assert_eq!(text.matches("session ended").count(), d.sessions().count(), "{text}");
        let messages = d.messages().count();
        assert!(text.contains(&format!("{messages} messages")), "{text}");
        // Message rows only with --messages.
        assert!(!text.contains(" bytes, rtt") && !text.contains("c2s text"));
        let mut t = TableStream::new(Vec::new(), true, true);
        for r in &d.records {
            t.record(r).unwrap();
        }
        let text = String::from_utf8(t.finish().unwrap()).unwrap();
        assert_eq!(text.lines().filter(|l| l.contains(" bytes") && !l.contains("ended")).count(), messages);
    }
}
