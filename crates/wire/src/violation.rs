//! Violations: a broken rule, where, and by whom. Violations are data, not errors:
//! decoding goes on after one wherever the RFC allows it.

use crate::{Role, Rule};
use serde::Serialize;

/// One rule broken by one endpoint at one place in its byte stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The endpoint that broke it.
    pub by: Role,
    /// Byte offset in the breaking endpoint's stream (after the handshake bytes are
    /// counted) where the problem was detected.
    pub offset: u64,
    /// What exactly was seen, in a short phrase.
    pub detail: String,
}

impl Violation {
    /// A violation of `rule` by `by` at `offset`.
    pub fn new(rule: Rule, by: Role, offset: u64, detail: impl Into<String>) -> Self {
        Violation { rule, by, offset, detail: detail.into() }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) by {} at byte {}: {}",
            self.rule,
            self.rule.citation(),
            self.by,
            self.offset,
            self.detail
        )
    }
}
