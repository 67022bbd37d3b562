//! Verdicts, as Autobahn|Testsuite gives them: the events a case received are
//! compared with its OK and NON-STRICT lists (`behavior`), and how the connection
//! ended is judged on its own (`behaviorClose`). On top of that every rule violation
//! found in what the target sent fails the case and is named. Pure: no I/O.

use crate::catalog::{Case, HandshakeExpect};
use crate::steps::{Expected, ExpectedRun, Match};
use serde::{Deserialize, Serialize};
use wsprobe_wire::Rule;

/// Autobahn's verdict words, for `behavior` and `behaviorClose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Behavior {
    /// As expected.
    #[serde(rename = "OK")]
    Ok,
    /// An acceptable but less strict outcome.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// Not as expected.
    #[serde(rename = "FAILED")]
    Failed,
    /// Reported, not judged.
    #[serde(rename = "INFORMATIONAL")]
    Informational,
    /// The target does not implement what the case needs.
    #[serde(rename = "UNIMPLEMENTED")]
    Unimplemented,
    /// The target's close code was not an expected one.
    #[serde(rename = "WRONG CODE")]
    WrongCode,
    /// The closing handshake did not complete although it had to.
    #[serde(rename = "UNCLEAN")]
    Unclean,
    /// The tester had to drop TCP after the closing handshake.
    #[serde(rename = "FAILED BY CLIENT")]
    FailedByClient,
}

impl Behavior {
    /// The word Autobahn uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::Ok => "OK",
            Behavior::NonStrict => "NON-STRICT",
            Behavior::Failed => "FAILED",
            Behavior::Informational => "INFORMATIONAL",
            Behavior::Unimplemented => "UNIMPLEMENTED",
            Behavior::WrongCode => "WRONG CODE",
            Behavior::Unclean => "UNCLEAN",
            Behavior::FailedByClient => "FAILED BY CLIENT",
        }
    }

    /// Parses an Autobahn word.
    pub fn parse(s: &str) -> Option<Behavior> {
        [
            Behavior::Ok,
            Behavior::NonStrict,
            Behavior::Failed,
            Behavior::Informational,
            Behavior::Unimplemented,
            Behavior::WrongCode,
            Behavior::Unclean,
            Behavior::FailedByClient,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }
}

impl std::fmt::Display for Behavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one-word result of a case, as counted in the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// OK.
    Passed,
    /// Not OK, or a rule was broken.
    Failed,
    /// NON-STRICT.
    #[serde(rename = "non-strict")]
    NonStrict,
    /// INFORMATIONAL.
    Informational,
    /// UNIMPLEMENTED.
    Unimplemented,
}

impl Outcome {
    /// Lower-case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NonStrict => "non-strict",
            Outcome::Informational => "informational",
            Outcome::Unimplemented => "unimplemented",
        }
    }
}

/// One event received from the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text message; `data` holds its first bytes.
    Text {
        /// Full length.
        len: u64,
        /// Bytes kept (none once `echoed` was decided true).
        data: Vec<u8>,
        /// It equals the data message the tester sent in the same position.
        echoed: bool,
    },
    /// A binary message.
    Binary {
        /// Full length.
        len: u64,
        /// Bytes kept (none once `echoed` was decided true).
        data: Vec<u8>,
        /// It equals the data message the tester sent in the same position.
        echoed: bool,
    },
    /// A Ping.
    Ping(Vec<u8>),
    /// A Pong.
    Pong(Vec<u8>),
    /// Still open at the end of a marked wait.
    StillOpen(String),
}

impl Received {
    /// In the catalog's notation.
    pub fn describe(&self) -> String {
        let body = |len: u64, data: &[u8]| {
            if data.len() as u64 == len {
                crate::steps::describe_bytes(data)
            } else {
                format!("length={len}")
            }
        };
        match self {
            Received::Text { echoed: true, .. } => "TEXT(echo)".into(),
            Received::Binary { echoed: true, .. } => "BIN(echo)".into(),
            Received::Text { len, data, .. } => format!("TEXT({})", body(*len, data)),
            Received::Binary { len, data, .. } => format!("BIN({})", body(*len, data)),
            Received::Ping(p) => format!("PING({})", body(p.len() as u64, p)),
            Received::Pong(p) => format!("PONG({})", body(p.len() as u64, p)),
            Received::StillOpen(t) => format!("still-open-after-wait-{t}"),
        }
    }
}

fn match_one(m: &Match, len: u64, data: &[u8]) -> bool {
    match m {
        Match::Length(n) => *n == len,
        // Decided by the runner, which knows what it sent (see `Received::Text::echoed`).
        Match::Echo => false,
        Match::Exact(p) => p.len() as u64 == len && data.len() as u64 == len && p.matches(data),
    }
}

fn event_matches(e: &Expected, r: &Received) -> bool {
    match (e, r) {
        (Expected::Text(Match::Echo), Received::Text { echoed, .. })
        | (Expected::Binary(Match::Echo), Received::Binary { echoed, .. }) => *echoed,
        (Expected::Text(m), Received::Text { len, data, .. })
        | (Expected::Binary(m), Received::Binary { len, data, .. }) => match_one(m, *len, data),
        (Expected::Ping(m), Received::Ping(p)) | (Expected::Pong(m), Received::Pong(p)) => {
            match_one(m, p.len() as u64, p)
        }
        (Expected::StillOpen(a), Received::StillOpen(b)) => a == b,
        _ => false,
    }
}

/// Whether `received` is exactly the expected list (Autobahn compares whole lists).
pub fn list_matches(expected: &[ExpectedRun], received: &[Received]) -> bool {
    let total: usize = expected.iter().map(|r| r.count as usize).sum();
    total == received.len() && list_prefix_matches(expected, received)
}

/// Whether `received` is the start of the expected list: more events may still make
/// it match.
pub fn list_prefix_matches(expected: &[ExpectedRun], received: &[Received]) -> bool {
    let mut left = received;
    for run in expected {
        for _ in 0..run.count {
            let Some((first, rest)) = left.split_first() else {
                return true;
            };
            if !event_matches(&run.event, first) {
                return false;
            }
            left = rest;
        }
    }
    left.is_empty()
}

/// Whether what was received can still become an acceptable outcome (OK or
/// NON-STRICT). Once it cannot, the case is decided: FAILED.
pub fn can_still_pass(case: &Case, received: &[Received]) -> bool {
    fits(case, &case.ok, received, false)
        || case.non_strict.as_ref().is_some_and(|ns| fits(case, ns, received, false))
}

/// Whether `received` matches `expected` (`whole`) or its start, Pongs apart when the
/// case says so ([`Case::pongs_apart`]).
fn fits(case: &Case, expected: &[ExpectedRun], received: &[Received], whole: bool) -> bool {
    let check = |e: &[ExpectedRun], r: &[Received]| {
        if whole { list_matches(e, r) } else { list_prefix_matches(e, r) }
    };
    if !case.pongs_apart {
        return check(expected, received);
    }
    let (pongs, rest): (Vec<ExpectedRun>, Vec<ExpectedRun>) =
        expected.iter().cloned().partition(|r| matches!(r.event, Expected::Pong(_)));
    let (got_pongs, got_rest): (Vec<Received>, Vec<Received>) =
        received.iter().cloned().partition(|r| matches!(r, Received::Pong(_)));
    check(&pongs, &got_pongs) && check(&rest, &got_rest)
}

/// Whether `received` matches every outcome list of the case (when the tester closes).
pub fn matches_all(case: &Case, received: &[Received]) -> bool {
    fits(case, &case.ok, received, true)
        && case.non_strict.as_ref().is_none_or(|ns| fits(case, ns, received, true))
}

/// A rule broken by the target, as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// What was seen.
    pub detail: String,
}

/// Everything the runner observed in one case.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The connection could not be made or the handshake did not come back.
    pub connect_error: Option<String>,
    /// Status of the handshake response.
    pub status: Option<u16>,
    /// The handshake established a WebSocket connection.
    pub established: bool,
    /// Events received, in order.
    pub received: Vec<Received>,
    /// Rules the target broke.
    pub findings: Vec<Finding>,
    /// The tester started the closing handshake.
    pub closed_by_me: bool,
    /// The tester failed the connection (a fail-after timer fired).
    pub failed_by_me: bool,
    /// The tester dropped TCP.
    pub dropped_by_me: bool,
    /// The closing handshake completed.
    pub was_clean: bool,
    /// Close code sent by the target.
    pub remote_close_code: Option<u16>,
    /// Close reason sent by the target.
    pub remote_close_reason: Option<String>,
    /// Operational notes (reset, flood, timeouts).
    pub notes: Vec<String>,
    /// Why no handshake response came back, when none did.
    pub response_failure: Option<ResponseFailure>,
    /// Pings answered but not counted as events (heartbeats during echo cases).
    pub heartbeats: u32,
    /// permessage-deflate as negotiated (`None`: not offered, or declined).
    pub pmd: Option<wsprobe_wire::deflate::PmdConfig>,
}

/// How a handshake response failed to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFailure {
    /// Nothing complete within the timeout: the target kept the connection and said nothing.
    TimedOut,
    /// The target closed the connection.
    Closed,
    /// The target answered something that is not an HTTP response.
    Malformed,
}

/// The judgement of one case.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Autobahn `behavior`.
    pub behavior: Behavior,
    /// Autobahn `behaviorClose`.
    pub behavior_close: Behavior,
    /// The counted result.
    pub outcome: Outcome,
    /// Rules broken (violations found in what the target sent).
    pub findings: Vec<Finding>,
    /// Rules blamed for a failure: only rules the target's bytes broke (empty when the
    /// behaviour alone differed; `expected` and `actual` then say how).
    pub blamed: Vec<Rule>,
    /// What was expected, in words.
    pub expected: String,
    /// What came back, in words.
    pub actual: String,
    /// Why the behaviour verdict is what it is.
    pub result: String,
    /// Why the close verdict is what it is.
    pub result_close: String,
}

fn describe_list(list: &[ExpectedRun]) -> String {
    if list.is_empty() {
        return "nothing".into();
    }
    list.iter()
        .map(|r| if r.count > 1 { format!("{}*{}", r.count, r.event.describe()) } else { r.event.describe() })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn describe_received(list: &[Received]) -> String {
    if list.is_empty() {
        return "nothing".into();
    }
    let mut parts: Vec<(usize, String)> = Vec::new();
    for r in list {
        let d = r.describe();
        match parts.last_mut() {
            Some((n, last)) if *last == d => *n += 1,
            _ => parts.push((1, d)),
        }
    }
    let shown: Vec<String> =
        parts.iter().take(12).map(|(n, d)| if *n > 1 { format!("{n}*{d}") } else { d.clone() }).collect();
    let mut s = shown.join(" + ");
    if parts.len() > 12 {
        s.push_str(&format!(" + … ({} events)", list.len()));
    }
    s
}

/// Judges one case from what was observed.
pub fn judge(case: &Case, obs: &Observed) -> Verdict {
    let mut expected = match &case.non_strict {
        Some(ns) => format!("OK: {}; NON-STRICT: {}", describe_list(&case.ok), describe_list(ns)),
        None => describe_list(&case.ok),
    };
    let close_words = format!(
        "{} closes; close code {} or none; clean close {}",
        if case.close.by_tester { "tester" } else { "target" },
        case.close.codes.iter().map(u16::to_string).collect::<Vec<_>>().join("/"),
        if case.close.clean { "required" } else { "not required" }
    );
    let mut actual = describe_received(&obs.received);
    let (mut behavior, mut behavior_close, mut result, result_close);
    if let Some(e) = &obs.connect_error {
        behavior = Behavior::Failed;
        behavior_close = Behavior::Failed;
        result = format!("no WebSocket connection: {e}");
        result_close = "no WebSocket connection".into();
        actual = e.clone();
    } else if case.handshake == HandshakeExpect::Reject {
        expected = "the handshake is refused (any status but 101)".into();
        actual = match obs.status {
            Some(s) => format!("status {s}"),
            None => "no response".into(),
        };
        if obs.status.is_some_and(|s| s != 101) {
            behavior = Behavior::Ok;
            result = "The invalid request was refused.".into();
        } else if obs.status.is_none() && obs.response_failure == Some(ResponseFailure::Closed) {
            behavior = Behavior::NonStrict;
            result = "The connection was dropped without a response.".into();
        } else if obs.status.is_none() {
            // RFC 6455 §4.2.1: the server answers an invalid request with an error status.
            behavior = Behavior::Failed;
            result = match obs.response_failure {
                Some(ResponseFailure::Malformed) => "The answer was not an HTTP response.".into(),
                _ => "No answer to the invalid request: the connection was held open in silence.".into(),
            };
        } else {
            behavior = Behavior::Failed;
            result = "The invalid request was accepted with 101.".into();
        }
        behavior_close = Behavior::Ok;
        result_close = "No WebSocket connection to close.".into();
    } else if !obs.established {
        behavior = Behavior::Failed;
        behavior_close = Behavior::Failed;
        result = match obs.status {
            Some(s) => format!("The handshake did not establish a connection (status {s})."),
            None => "The handshake got no response.".into(),
        };
        result_close = "No WebSocket connection.".into();
        actual = result.clone();
    } else {
        if fits(case, &case.ok, &obs.received, true) {
            behavior = Behavior::Ok;
            result = "Actual events match the OK outcome.".into();
        } else if case.non_strict.as_ref().is_some_and(|ns| fits(case, ns, &obs.received, true)) {
            behavior = Behavior::NonStrict;
            result = "Actual events match the NON-STRICT outcome.".into();
        } else {
            behavior = Behavior::Failed;
            result = "Actual events differ from any expected.".into();
        }
        (behavior_close, result_close) = if case.close.by_tester != obs.closed_by_me {
            (Behavior::Failed, "The connection was failed by the wrong endpoint.".to_owned())
        } else if case.close.clean && !obs.was_clean {
            (Behavior::Unclean, "The closing handshake had to complete cleanly here.".to_owned())
        } else if obs.remote_close_code.is_some_and(|c| !case.close.codes.contains(&c)) {
            (
                Behavior::WrongCode,
                format!(
                    "The close code should have been {} or none, got {}.",
                    case.close.codes.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
                    obs.remote_close_code.unwrap_or_default()
                ),
            )
        } else if obs.dropped_by_me {
            (Behavior::FailedByClient, "The target should close the TCP connection first.".to_owned())
        } else {
            (Behavior::Ok, "The connection was closed properly.".to_owned())
        };
        if case.tester_close_fails && obs.closed_by_me && !case.close.by_tester {
            behavior = Behavior::Failed;
            result = "The target did not fail the connection; the tester had to close it.".into();
        }
        if case.wrong_code_fails && behavior_close == Behavior::WrongCode {
            behavior = Behavior::Failed;
            result = result_close.clone();
        }
        if behavior == Behavior::Failed && !obs.closed_by_me {
            match obs.remote_close_code {
                Some(1009) => result.push_str(" The target refused a message as too big (1009)."),
                Some(1008) => result.push_str(" The target refused a message by policy (1008)."),
                _ => {}
            }
        }
        if case.pmd == crate::catalog::PmdUse::Required && obs.pmd.is_none() {
            behavior = Behavior::Unimplemented;
            result = "The target declined permessage-deflate: the case does not apply.".into();
        }
        if case.informational {
            behavior = Behavior::Informational;
            behavior_close = Behavior::Informational;
        }
        actual = format!(
            "{actual}; {} closed{}, close code {}{}",
            if obs.closed_by_me { "tester" } else { "target" },
            if obs.was_clean { " cleanly" } else { " uncleanly" },
            obs.remote_close_code.map_or("none".into(), |c| c.to_string()),
            if obs.dropped_by_me { ", tester dropped TCP" } else { "" }
        );
        expected = format!("{expected}; {close_words}");
    }
    let mut findings: Vec<Finding> = Vec::new();
    for f in &obs.findings {
        if !findings.iter().any(|g| g.rule == f.rule && g.detail == f.detail) {
            findings.push(f.clone());
        }
    }
    // A broken rule fails the case whatever the echo looked like, and Autobahn's
    // tooling reading index.json must see that too.
    if !findings.is_empty() {
        behavior = Behavior::Failed;
    }
    let behaviour_failed = matches!(behavior, Behavior::Failed)
        || matches!(
            behavior_close,
            Behavior::Failed | Behavior::WrongCode | Behavior::Unclean | Behavior::FailedByClient
        );
    // Without a WebSocket connection there is nothing to be informational about.
    let no_connection =
        obs.connect_error.is_some() || (case.handshake != HandshakeExpect::Reject && !obs.established);
    let outcome = if !findings.is_empty() || no_connection || (behaviour_failed && !case.informational) {
        Outcome::Failed
    } else if case.informational {
        Outcome::Informational
    } else if behavior == Behavior::NonStrict {
        Outcome::NonStrict
    } else if behavior == Behavior::Unimplemented {
        Outcome::Unimplemented
    } else {
        Outcome::Passed
    };
    let mut blamed: Vec<Rule> = Vec::new();
    // A rule is named only when the bytes broke it.
    for f in &findings {
        if !blamed.contains(&f.rule) {
            blamed.push(f.rule);
        }
    }
    Verdict { behavior, behavior_close, outcome, findings, blamed, expected, actual, result, result_close }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::parse_expected;

    fn text(s: &str) -> Received {
        Received::Text { len: s.len() as u64, data: s.as_bytes().to_vec(), echoed: false }
    }

    fn case(ok: &[&str], non_strict: Option<&[&str]>) -> Case {
        let list = |l: &[&str]| l.iter().map(|e| parse_expected(e).unwrap()).collect::<Vec<_>>();
        let mut c = crate::Catalog::builtin().cases[0].clone();
        c.ok = list(ok);
        c.non_strict = non_strict.map(list);
        c
    }

    #[test]
    fn a_case_is_decided_once_no_outcome_can_match() {
        let c = case(&["TEXT('a')", "2*TEXT('b')"], Some(&["TEXT('a')", "PONG('p')"]));
        assert!(can_still_pass(&c, &[]));
        assert!(can_still_pass(&c, &[text("a"), text("b")]));
        assert!(can_still_pass(&c, &[text("a"), Received::Pong(b"p".to_vec())]));
        assert!(!can_still_pass(&c, &[text("b")]));
        assert!(!can_still_pass(&c, &[text("a"), text("b"), text("b"), text("b")]));
        let bin = Received::Binary { len: 1, data: b"a".to_vec(), echoed: false };
        assert!(!can_still_pass(&c, &[bin]));
        let nothing = case(&[], None);
        assert!(can_still_pass(&nothing, &[]) && !can_still_pass(&nothing, &[text("x")]));
    }

    #[test]
    fn echoes_match_only_when_the_runner_saw_them_equal() {
        let c = case(&["2*TEXT(echo)"], None);
        let echoed = Received::Text { len: 3, data: Vec::new(), echoed: true };
        assert!(list_matches(&c.ok, &[echoed.clone(), echoed.clone()]));
        assert!(!can_still_pass(&c, &[echoed, text("abc")]));
    }

    #[test]
    fn a_failure_without_a_broken_rule_blames_none() {
        let c = case(&["TEXT('a')"], None);
        let obs = Observed {
            established: true,
            received: vec![text("b")],
            closed_by_me: true,
            ..Default::default()
        };
        let v = judge(&c, &obs);
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(v.blamed.is_empty() && v.findings.is_empty());
        assert!(v.expected.starts_with("TEXT('a')") && v.actual.starts_with("TEXT('b')"), "{v:?}");
    }
}
