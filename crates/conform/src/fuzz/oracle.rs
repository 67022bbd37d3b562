//! What an execution says about the target: a finding (crash, hang, violation,
//! contradiction, wrong echo, valid input refused) or nothing, and a signature of its
//! outcome for novelty search.
//!
//! Only the events and who ended the connection make a finding; the close code alone
//! does not (which code a failure carries is the catalog's business: `wsprobe test`).

use super::model::{Event, Expectation};
use crate::runner::CaseRun;
use crate::verdict::{Behavior, Observed, Outcome, Received, ResponseFailure, Verdict};
use std::hash::{DefaultHasher, Hash, Hasher};
use wsprobe_wire::Rule;

/// The kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Oracle {
    /// The connection was reset or closed without a Close where one was owed, or the
    /// target stopped accepting connections.
    Crash,
    /// No answer (to the liveness Ping, to an echo, to a Close) within the timer.
    Hang,
    /// The target's bytes broke a rule.
    Violation,
    /// The target accepted what the RFC says it must reject.
    Contradiction,
    /// An echo differs from what was sent.
    WrongEcho,
    /// The target failed a connection whose input was valid.
    Refused,
}

impl Oracle {
    /// `crash`, `hang`, `violation`, `contradiction`, `wrong-echo`, `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Oracle::Crash => "crash",
            Oracle::Hang => "hang",
            Oracle::Violation => "violation",
            Oracle::Contradiction => "contradiction",
            Oracle::WrongEcho => "wrong-echo",
            Oracle::Refused => "refused",
        }
    }
}

/// The classification of one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// Nothing wrong.
    Fine,
    /// A finding.
    Finding {
        /// Which oracle.
        oracle: Oracle,
        /// The rule (violations: the one broken; contradictions: the one not enforced).
        rule: Option<Rule>,
        /// What happened.
        detail: String,
    },
}

fn finding(oracle: Oracle, rule: Option<Rule>, detail: impl Into<String>) -> Class {
    Class::Finding { oracle, rule, detail: detail.into() }
}

/// The payload of an expected event, if it is a data echo.
fn echo_of(e: &Event) -> Option<(&'static str, &[u8])> {
    match e {
        Event::Text(p) => Some(("text", p)),
        Event::Binary(p) => Some(("binary", p)),
        Event::Pong(_) => None,
    }
}

fn received_data(r: &Received) -> Option<(&'static str, u64, &[u8])> {
    match r {
        Received::Text { len, data, .. } => Some(("text", *len, data)),
        Received::Binary { len, data, .. } => Some(("binary", *len, data)),
        _ => None,
    }
}

/// Classifies one execution of an input whose expectation is `e`.
pub fn classify(e: &Expectation, obs: &Observed, v: &Verdict) -> Class {
    if !obs.established {
        let why = obs.connect_error.clone().unwrap_or_else(|| "no WebSocket connection".into());
        return match obs.response_failure {
            Some(ResponseFailure::TimedOut) => finding(Oracle::Hang, None, format!("handshake: {why}")),
            _ => finding(Oracle::Crash, None, format!("handshake: {why}")),
        };
    }
    let events_failed = v.behavior == Behavior::Failed;
    // An echo that came back different (before any point where the target had to fail).
    let sent: Vec<(&str, &[u8])> = e.ok.iter().filter_map(echo_of).collect();
    let got: Vec<(&str, u64, &[u8])> = obs.received.iter().filter_map(received_data).collect();
    for ((kind, want), (gkind, glen, gdata)) in sent.iter().zip(&got) {
        if kind != gkind || *glen != want.len() as u64 || !want.starts_with(gdata) {
            let detail = format!(
                "sent {kind} of {} bytes, the echo is {gkind} of {glen} bytes that differ",
                want.len()
            );
            return finding(Oracle::WrongEcho, None, detail);
        }
    }
    let timer_acted = obs.failed_by_me || obs.dropped_by_me;
    // A non-minimal length the target refused, with a Close and breaking nothing.
    if e.may_refuse && obs.remote_close_code.is_some() && !timer_acted && v.findings.is_empty() {
        return Class::Fine;
    }
    let broken = |f: &crate::verdict::Finding| {
        // No answer to a Close, or TCP kept open after it: the target hangs.
        let oracle = match f.rule {
            Rule::CloseNotAnswered | Rule::CloseServerTcpNotClosed => Oracle::Hang,
            _ => Oracle::Violation,
        };
        finding(oracle, Some(f.rule), f.detail.clone())
    };
    // A rule the target broke on its own (the tester then fails the connection at once,
    // so what follows says nothing). Breaking the rule the input broke is its own too,
    // unless an answer carries the input's defect over (an echo of invalid UTF-8, a
    // Close echoing a bad code, a Pong of an over-long Ping).
    let consequence = |r: Rule| e.fail == Some(r) && carried_over(r);
    if let Some(f) = v.findings.iter().find(|f| !consequence(f.rule)) {
        return broken(f);
    }
    // Input the target had to fail on, and it went on (its echo of the input may break
    // the same rule: that is the consequence, the contradiction is the finding).
    if let Some(rule) = e.fail
        && (timer_acted || events_failed || !v.findings.is_empty())
        && v.outcome == Outcome::Failed
    {
        let what = if timer_acted { "kept the connection open" } else { "went on answering" };
        let detail = format!("{what} after input that breaks {}: {}", rule.id(), v.actual);
        return finding(Oracle::Contradiction, Some(rule), detail);
    }
    if let Some(f) = v.findings.first() {
        return broken(f);
    }
    if v.outcome != Outcome::Failed || e.fail.is_some() {
        return Class::Fine;
    }
    if !events_failed {
        // Every event came; only the close went otherwise. A Close the target never
        // answered is a hang; a code or a clean close is not ours.
        if e.closed.is_some() && timer_acted {
            return finding(Oracle::Hang, None, format!("the Close was not answered: {}", v.actual));
        }
        return Class::Fine;
    }
    let dropped = obs.remote_close_code.is_none() && !obs.closed_by_me && !timer_acted;
    if dropped {
        return finding(Oracle::Crash, None, format!("closed without a Close frame: {}", v.actual));
    }
    if let (Some(code), false) = (obs.remote_close_code, obs.closed_by_me) {
        return finding(Oracle::Refused, None, format!("failed valid input with {code}: {}", v.actual));
    }
    finding(Oracle::Hang, None, format!("no answer within the timer: {}", v.actual))
}

/// Rules an answer breaks when it copies a defective input: the defect of the payload
/// (not of the frame's header bits, which a server writes afresh).
fn carried_over(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::Utf8TextInvalid
            | Rule::CloseCodeInvalid
            | Rule::CloseReasonInvalidUtf8
            | Rule::ClosePayloadOneByte
            | Rule::ControlPayloadTooLong
    )
}

/// A hash of what came back: events (kinds), who closed and how, a coarse timing
/// class, and the classification.
pub fn signature(class: &Class, run: &CaseRun, v: &Verdict) -> u64 {
    let o = &run.observed;
    let mut h = DefaultHasher::new();
    match class {
        Class::Fine => 0u8.hash(&mut h),
        Class::Finding { oracle, rule, .. } => {
            oracle.hash(&mut h);
            rule.map(|r| r.id()).hash(&mut h);
        }
    }
    v.behavior.as_str().hash(&mut h);
    v.behavior_close.as_str().hash(&mut h);
    for r in o.received.iter().take(16) {
        std::mem::discriminant(r).hash(&mut h);
    }
    o.received.len().min(16).hash(&mut h);
    (o.remote_close_code, o.closed_by_me, o.failed_by_me, o.dropped_by_me, o.was_clean).hash(&mut h);
    (run.duration.as_millis() >= 1000).hash(&mut h);
    h.finish()
}
