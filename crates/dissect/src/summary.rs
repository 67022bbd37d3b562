//! Counts over a dissection.

use crate::records::{HandshakeState, Record};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts over a dissection (or over the records a filter let through: see [`Summary::add`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Packets read from the capture.
    pub packets: u64,
    /// TCP connections seen.
    pub connections: u64,
    /// WebSocket sessions found (including refused upgrades).
    pub sessions: u64,
    /// Sessions by handshake outcome (`seen`, `not_seen`, `rejected`, `unanswered`).
    pub handshakes: BTreeMap<String, u64>,
    /// Messages per opcode (`text`, `binary`, `ping`, `pong`, `close`).
    pub messages: BTreeMap<String, u64>,
    /// Payload bytes of all messages, after decompression.
    pub message_bytes: u64,
    /// Payload bytes of all messages on the wire.
    pub wire_bytes: u64,
    /// Frames (counted only when frame records are produced).
    pub frames: u64,
    /// Violations per rule id.
    pub violations: BTreeMap<String, u64>,
    /// Bytes lost in capture, in sessions.
    pub gap_bytes: u64,
    /// Holes in sessions' streams.
    pub gaps: u64,
    /// Warnings.
    pub warnings: u64,
}

/// Counts one more under `key`, allocating the key only the first time (this runs for
/// every record of a capture).
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

impl Summary {
    /// Counts one record in.
    pub fn add(&mut self, r: &Record) {
        match r {
            Record::Session(s) => {
                self.sessions += 1;
                let k = match s.handshake {
                    HandshakeState::Rejected { .. } => "rejected",
                    h => h.as_str(),
                };
                bump(&mut self.handshakes, k);
            }
            Record::Frame(_) => self.frames += 1,
            Record::Message(m) => {
                bump(&mut self.messages, &m.opcode);
                self.message_bytes += m.len;
                self.wire_bytes += m.wire_len;
            }
            Record::Violation(v) => bump(&mut self.violations, &v.rule),
            Record::Warning(_) => self.warnings += 1,
            Record::Event(e) => {
                if e.kind == "gap" {
                    self.gaps += 1;
                    self.gap_bytes += e.len.unwrap_or(0);
                }
            }
        }
    }

    /// The total number of violations.
    pub fn violation_count(&self) -> u64 {
        self.violations.values().sum()
    }

    /// The total number of messages.
    pub fn message_count(&self) -> u64 {
        self.messages.values().sum()
    }
}
