//! Reports of a run: the console summary (a table per category, then each failure with
//! its rule, requirement, expectation and what came back), the Autobahn-compatible
//! report directory (`index.json`, one JSON file per case, a static `index.html`),
//! JUnit XML, and baselines (expected results, diffed both ways).

use crate::catalog::id_key;
use crate::runner::CaseResult;
use crate::verdict::{Behavior, Outcome, Received, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// NON-STRICT.
    pub non_strict: usize,
    /// INFORMATIONAL.
    pub informational: usize,
    /// UNIMPLEMENTED.
    pub unimplemented: usize,
}

impl Counts {
    /// Adds one outcome.
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::NonStrict => self.non_strict += 1,
            Outcome::Informational => self.informational += 1,
            Outcome::Unimplemented => self.unimplemented += 1,
        }
    }

    /// Counts the outcomes of `results`.
    pub fn of(results: &[CaseResult]) -> Counts {
        let mut c = Counts::default();
        for r in results {
            c.add(r.verdict.outcome);
        }
        c
    }

    /// The summary line: `N passed, N failed, N non-strict, N informational, N unimplemented`.
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} non-strict, {} informational, {} unimplemented",
            self.passed, self.failed, self.non_strict, self.informational, self.unimplemented
        )
    }
}

/// One baseline entry: what a case is expected to give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// Autobahn behavior.
    pub behavior: String,
    /// Autobahn behaviorClose.
    #[serde(rename = "behaviorClose", default, skip_serializing_if = "Option::is_none")]
    pub behavior_close: Option<String>,
    /// wsprobe outcome (`passed`, `failed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Why, for a case that is not OK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A baseline: case id → expected result (tungstenite's `expected-results.json` style).
pub type Baseline = BTreeMap<String, Expected>;

/// Reads a baseline file.
pub fn read_baseline(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The baseline that describes `results` (keeping the reasons of `old` where the result did not change).
pub fn make_baseline(results: &[CaseResult], old: Option<&Baseline>) -> Baseline {
    results
        .iter()
        .map(|r| {
            let mut e = Expected {
                behavior: r.verdict.behavior.as_str().to_owned(),
                behavior_close: Some(r.verdict.behavior_close.as_str().to_owned()),
                outcome: Some(r.verdict.outcome),
                reason: None,
            };
            if let Some(prev) = old.and_then(|o| o.get(&r.case.id)) {
                let same = prev.behavior == e.behavior && prev.outcome.is_none_or(|o| Some(o) == e.outcome);
                if same {
                    e.reason = prev.reason.clone();
                }
            }
            if e.reason.is_none() && r.verdict.outcome == Outcome::Failed {
                e.reason = Some(match r.verdict.findings.first() {
                    Some(f) => format!("{}: {}", f.rule, f.detail),
                    // No rule broken on the wire: say what differed, name no rule.
                    None if r.verdict.blamed.is_empty() => {
                        let why = why_failed(&r.verdict);
                        if why.is_empty() {
                            behaviour_differed(&r.verdict)
                        } else {
                            format!("{}. {why}", behaviour_differed(&r.verdict))
                        }
                    }
                    None => {
                        let rules: Vec<&str> = r.verdict.blamed.iter().map(|r| r.id()).collect();
                        let code = match r.observed.remote_close_code {
                            Some(c) if !r.verdict.result.contains(&c.to_string()) => {
                                format!(" The target closed with {c}.")
                            }
                            _ => String::new(),
                        };
                        format!("{}{code} ({})", r.verdict.result, rules.join(", "))
                    }
                });
            }
            (r.case.id.clone(), e)
        })
        .collect()
}

/// Cuts `s` to at most `max` characters, marking a cut with `…`.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The short words for a failure in which no rule was broken on the wire:
/// `behaviour differed: expected …, got …`.
fn behaviour_differed(v: &Verdict) -> String {
    format!("behaviour differed: expected {}, got {}", cut(&v.expected, 160), cut(&v.actual, 160))
}

/// Whether a close verdict is a failing one.
fn close_failed(b: Behavior) -> bool {
    matches!(b, Behavior::Failed | Behavior::WrongCode | Behavior::Unclean | Behavior::FailedByClient)
}

/// The result sentences that explain a failure: the behaviour's when it failed, the
/// close's when it failed.
fn why_failed(v: &Verdict) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !matches!(v.behavior, Behavior::Ok | Behavior::NonStrict | Behavior::Informational) {
        parts.push(&v.result);
    }
    if close_failed(v.behavior_close) && v.result_close != v.result {
        parts.push(&v.result_close);
    }
    parts.join(" ")
}

/// Writes a baseline file (sorted by case id, pretty JSON).
pub fn write_baseline(path: &Path, b: &Baseline) -> Result<(), String> {
    let mut entries: Vec<(&String, &Expected)> = b.iter().collect();
    entries.sort_by_cached_key(|(k, _)| id_key(k));
    let mut out = String::from("{\n");
    for (i, (k, v)) in entries.iter().enumerate() {
        let v = serde_json::to_string(v).map_err(|e| e.to_string())?;
        let _ = write!(
            out,
            "  {}: {v}{}",
            serde_json::to_string(k).unwrap_or_default(),
            if i + 1 < entries.len() { ",\n" } else { "\n" }
        );
    }
    out.push_str("}\n");
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

/// A difference between a run and its baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Case id.
    pub id: String,
    /// Expected (`-` if the case is not in the baseline).
    pub expected: String,
    /// Got (`-` if the case did not run).
    pub got: String,
    /// The current result fails where the baseline did not expect it.
    pub regression: bool,
}

fn describe(behavior: &str, close: Option<&str>, outcome: Option<Outcome>) -> String {
    let mut s = behavior.to_owned();
    if let Some(c) = close {
        s.push('/');
        s.push_str(c);
    }
    if let Some(o) = outcome {
        s.push_str(&format!(" ({})", o.as_str()));
    }
    s
}

/// Compares `results` with `baseline` both ways (cases of the baseline that did not run
/// are reported only if `all_ran`).
pub fn diff_baseline(results: &[CaseResult], baseline: &Baseline, all_ran: bool) -> Vec<Difference> {
    let mut out = Vec::new();
    for r in results {
        let got_b = r.verdict.behavior.as_str();
        let got_c = r.verdict.behavior_close.as_str();
        let got = describe(got_b, Some(got_c), Some(r.verdict.outcome));
        match baseline.get(&r.case.id) {
            None => out.push(Difference {
                id: r.case.id.clone(),
                expected: "-".into(),
                got,
                regression: r.verdict.outcome == Outcome::Failed,
            }),
            Some(e) => {
                let differs = e.behavior != got_b
                    || e.behavior_close.as_deref().is_some_and(|c| c != got_c)
                    || e.outcome.is_some_and(|o| o != r.verdict.outcome);
                if differs {
                    let expected_fail = e.expects_failure();
                    out.push(Difference {
                        id: r.case.id.clone(),
                        expected: describe(&e.behavior, e.behavior_close.as_deref(), e.outcome),
                        got,
                        regression: r.verdict.outcome == Outcome::Failed && !expected_fail,
                    });
                }
            }
        }
    }
    if all_ran {
        for (id, e) in baseline {
            if !results.iter().any(|r| &r.case.id == id) {
                out.push(Difference {
                    id: id.clone(),
                    expected: describe(&e.behavior, e.behavior_close.as_deref(), e.outcome),
                    got: "-".into(),
                    regression: false,
                });
            }
        }
    }
    out.sort_by_cached_key(|d| id_key(&d.id));
    out
}

impl Expected {
    /// Whether the entry expects the case to fail: its outcome says so, or (for an
    /// entry in Autobahn's words only) its behavior or its close verdict does.
    pub fn expects_failure(&self) -> bool {
        const FAILING_CLOSE: [&str; 4] = ["FAILED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT"];
        self.outcome.map_or_else(
            || {
                self.behavior == "FAILED"
                    || self.behavior_close.as_deref().is_some_and(|c| FAILING_CLOSE.contains(&c))
            },
            |o| o == Outcome::Failed,
        )
    }
}

/// Whether a failed case is expected to fail by the baseline.
pub fn failure_expected(r: &CaseResult, baseline: Option<&Baseline>) -> bool {
    baseline.and_then(|b| b.get(&r.case.id)).is_some_and(Expected::expects_failure)
}

fn categories(results: &[CaseResult]) -> Vec<(String, String, Counts)> {
    let mut cats: Vec<(String, String, Counts)> = Vec::new();
    for r in results {
        let cat = &r.case.category;
        match cats.iter_mut().find(|(c, _, _)| c == cat) {
            Some((_, _, counts)) => counts.add(r.verdict.outcome),
            None => {
                let mut counts = Counts::default();
                counts.add(r.verdict.outcome);
                cats.push((cat.clone(), r.case.category_title.clone(), counts));
            }
        }
    }
    cats.sort_by_cached_key(|(c, _, _)| id_key(c));
    cats
}

/// The console report: a table per category, each failure in detail, baseline
/// differences, and the summary line last.
pub fn console(results: &[CaseResult], baseline: Option<&Baseline>, diffs: &[Difference]) -> String {
    use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};
    let mut out = String::new();
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "category",
        "title",
        "cases",
        "passed",
        "failed",
        "non-strict",
        "informational",
        "unimplemented",
    ]);
    for (cat, title, c) in categories(results) {
        let total = c.passed + c.failed + c.non_strict + c.informational + c.unimplemented;
        t.add_row(vec![
            Cell::new(cat),
            Cell::new(title),
            Cell::new(total),
            Cell::new(c.passed),
            Cell::new(c.failed),
            Cell::new(c.non_strict),
            Cell::new(c.informational),
            Cell::new(c.unimplemented),
        ]);
    }
    let _ = writeln!(out, "{t}");
    let failures: Vec<&CaseResult> =
        results.iter().filter(|r| r.verdict.outcome == Outcome::Failed).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nFailures:");
    }
    for r in failures {
        let v = &r.verdict;
        let tag = if failure_expected(r, baseline) { " [expected by the baseline]" } else { "" };
        let _ = writeln!(
            out,
            "\n  {} {} — behavior {}, close {}{tag}",
            r.case.id, r.case.title, v.behavior, v.behavior_close
        );
        if v.blamed.is_empty() {
            let _ = writeln!(out, "    behaviour differed (no rule broken on the wire)");
        }
        for rule in &v.blamed {
            let info = rule.info();
            let _ = writeln!(
                out,
                "    rule {} ({}, {:?}): {}",
                info.id,
                rule.citation(),
                info.level,
                info.requirement
            );
        }
        for f in v.findings.iter().take(5) {
            let _ = writeln!(out, "    found: {}: {}", f.rule, f.detail);
        }
        if v.findings.len() > 5 {
            let _ = writeln!(out, "    … {} more findings", v.findings.len() - 5);
        }
        let _ = writeln!(out, "    expected: {}", v.expected);
        let _ = writeln!(out, "    got:      {}", v.actual);
        if v.behavior != Behavior::Ok {
            let _ = writeln!(out, "    {}", v.result);
        }
        if !matches!(v.behavior_close, Behavior::Ok | Behavior::Informational) {
            let _ = writeln!(out, "    {}", v.result_close);
        }
        for n in &r.observed.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    if !diffs.is_empty() {
        let _ = writeln!(out, "\nDifferences from the baseline:");
        for d in diffs {
            let _ = writeln!(
                out,
                "  {:<10} expected {:<32} got {}{}",
                d.id,
                d.expected,
                d.got,
                if d.regression { "  <- regression" } else { "" }
            );
        }
    }
    let _ = writeln!(out, "\n{}", Counts::of(results).line());
    out
}

/// The file name Autobahn uses for a case report.
pub fn report_file(agent: &str, id: &str) -> String {
    format!("{}_case_{}.json", file_stem(agent), id.replace('.', "_"))
}

/// An agent's name as it appears in file names: lower case, `_` for anything else.
fn file_stem(agent: &str) -> String {
    agent.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// One agent's results, for [`write_report_dir`].
pub struct AgentReport<'a> {
    /// The agent's name (the key of index.json).
    pub agent: &'a str,
    /// Its results, in case order.
    pub results: &'a [CaseResult],
    /// The summary shown at the top of its HTML page.
    pub summary: String,
}

#[derive(Serialize)]
struct IndexEntry {
    behavior: Behavior,
    #[serde(rename = "behaviorClose")]
    behavior_close: Behavior,
    duration: u64,
    #[serde(rename = "remoteCloseCode")]
    remote_close_code: Option<u16>,
    reportfile: String,
}

#[derive(Serialize)]
struct CaseReport<'a> {
    agent: &'a str,
    case: usize,
    id: &'a str,
    title: &'a str,
    description: String,
    expectation: &'a str,
    rules: Vec<serde_json::Value>,
    behavior: Behavior,
    #[serde(rename = "behaviorClose")]
    behavior_close: Behavior,
    outcome: Outcome,
    result: &'a str,
    #[serde(rename = "resultClose")]
    result_close: &'a str,
    received: &'a str,
    findings: &'a [crate::verdict::Finding],
    duration: u64,
    #[serde(rename = "closedByMe")]
    closed_by_me: bool,
    #[serde(rename = "failedByMe")]
    failed_by_me: bool,
    #[serde(rename = "droppedByMe")]
    dropped_by_me: bool,
    #[serde(rename = "wasClean")]
    was_clean: bool,
    #[serde(rename = "remoteCloseCode")]
    remote_close_code: Option<u16>,
    #[serde(rename = "remoteCloseReason")]
    remote_close_reason: Option<&'a str>,
    notes: &'a [String],
    #[serde(rename = "httpRequest")]
    http_request: &'a str,
    #[serde(rename = "httpResponse")]
    http_response: Option<&'a str>,
    transcript: &'a crate::transcript::Transcript,
}

/// Writes `index.json`, one JSON file per case and `index.html` into `dir`.
pub fn write_report_dir(dir: &Path, agents: &[AgentReport<'_>]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut all = serde_json::Map::new();
    for a in agents {
        all.insert(a.agent.to_owned(), write_case_reports(dir, a.agent, a.results)?);
    }
    let text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("index.json"), text).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    match agents {
        [a] => write("index.html", html(a.agent, a.results, &a.summary)),
        _ => {
            let mut list = String::from(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wsprobe reports</title>\
</head><body style=\"font-family:system-ui,sans-serif;margin:2em\">\n<h1>wsprobe conformance reports</h1>\n<ul>\n",
            );
            for a in agents {
                let page = format!("{}_index.html", file_stem(a.agent));
                write(&page, html(a.agent, a.results, &a.summary))?;
                let _ =
                    writeln!(list, "<li><a href=\"{page}\">{}</a>: {}</li>", esc(a.agent), esc(&a.summary));
            }
            list.push_str("</ul>\n</body></html>\n");
            write("index.html", list)
        }
    }
}

/// Writes one agent's per-case JSON reports; returns its index.json entries.
fn write_case_reports(dir: &Path, agent: &str, results: &[CaseResult]) -> Result<serde_json::Value, String> {
    let mut index: BTreeMap<&str, IndexEntry> = BTreeMap::new();
    for (n, r) in results.iter().enumerate() {
        let file = report_file(agent, &r.case.id);
        let v = &r.verdict;
        let o = &r.observed;
        let duration = r.duration.as_millis() as u64;
        index.insert(
            &r.case.id,
            IndexEntry {
                behavior: v.behavior,
                behavior_close: v.behavior_close,
                duration,
                remote_close_code: o.remote_close_code,
                reportfile: file.clone(),
            },
        );
        let mut description = r.case.send_text.join(" ; ");
        if !r.case.request_text.is_empty() {
            description = format!("request: {} ; {description}", r.case.request_text.join(" ; "));
        }
        let report = CaseReport {
            agent,
            case: n + 1,
            id: &r.case.id,
            title: &r.case.title,
            description,
            expectation: &v.expected,
            rules: r
                .case
                .rules
                .iter()
                .map(|rule| {
                    let i = rule.info();
                    serde_json::json!({"id": i.id, "rfc": i.rfc, "section": i.section, "level": i.level, "requirement": i.requirement})
                })
                .collect(),
            behavior: v.behavior,
            behavior_close: v.behavior_close,
            outcome: v.outcome,
            result: &v.result,
            result_close: &v.result_close,
            received: &v.actual,
            findings: &v.findings,
            duration,
            closed_by_me: o.closed_by_me,
            failed_by_me: o.failed_by_me,
            dropped_by_me: o.dropped_by_me,
            was_clean: o.was_clean,
            remote_close_code: o.remote_close_code,
            remote_close_reason: o.remote_close_reason.as_deref(),
            notes: &o.notes,
            http_request: &r.transcript.request,
            http_response: r.transcript.response.as_deref(),
            transcript: &r.transcript,
        };
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(&file), text).map_err(|e| format!("{}: {e}", dir.join(&file).display()))?;
    }
    let mut sorted: Vec<(&str, IndexEntry)> = index.into_iter().collect();
    sorted.sort_by_cached_key(|(k, _)| id_key(k));
    let mut map = serde_json::Map::new();
    for (k, v) in sorted {
        map.insert(k.to_owned(), serde_json::to_value(v).map_err(|e| e.to_string())?);
    }
    Ok(serde_json::Value::Object(map))
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn class_of(b: Behavior) -> &'static str {
    match b {
        Behavior::Ok => "ok",
        Behavior::NonStrict => "ns",
        Behavior::Informational | Behavior::Unimplemented => "info",
        _ => "fail",
    }
}

/// Escapes `s` for a double-quoted attribute value.
fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

/// Transcript entries shown per failed case in the HTML report.
const HTML_TRANSCRIPT_ENTRIES: usize = 200;

/// Events received shown per failed case in the HTML report (runs of equal events count as one).
const HTML_RECEIVED_EVENTS: usize = 20;

/// Characters of a text payload shown before it is cut.
const SHOWN_TEXT_CHARS: usize = 200;

/// Bytes of a binary payload shown (as hex) before it is cut.
const SHOWN_HEX_BYTES: usize = 32;

/// Where an RFC section is on the web.
fn rfc_url(rfc: u16, section: &str) -> String {
    format!("https://www.rfc-editor.org/rfc/rfc{rfc}#section-{section}")
}

/// A payload for a reader: valid UTF-8 as quoted text (control characters escaped, cut
/// after [`SHOWN_TEXT_CHARS`] characters), anything else as hex (cut after
/// [`SHOWN_HEX_BYTES`] bytes). `data` is the payload or its first bytes; `len`, when
/// known, its full length, added when the payload is long or not all of it is shown.
pub fn show_payload(data: &[u8], len: Option<u64>) -> String {
    let total = len.unwrap_or(data.len() as u64);
    if total == 0 {
        return "empty".into();
    }
    if data.is_empty() {
        return format!("{total} bytes (not kept)");
    }
    let partial = (data.len() as u64) < total;
    // A kept prefix may end inside a character: the complete part is still text.
    let text = match std::str::from_utf8(data) {
        Ok(s) => Some(s),
        Err(e) if (partial || len.is_none()) && e.error_len().is_none() => {
            std::str::from_utf8(&data[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let bytes = |cut: bool| match len {
        Some(len) if cut || len > 64 => format!(" ({len} bytes)"),
        _ => String::new(),
    };
    match text {
        Some(t) if !t.is_empty() => {
            let mut shown = String::new();
            let mut cut = partial || t.len() < data.len();
            for (n, c) in t.chars().enumerate() {
                if n == SHOWN_TEXT_CHARS {
                    cut = true;
                    break;
                }
                if c.is_control() {
                    shown.extend(c.escape_default());
                } else {
                    shown.push(c);
                }
            }
            format!("'{shown}'{}{}", if cut { "…" } else { "" }, bytes(cut))
        }
        _ => {
            let n = data.len().min(SHOWN_HEX_BYTES);
            let cut = n < data.len() || partial;
            format!("0x{}{}{}", hex::encode(&data[..n]), if cut { "…" } else { "" }, bytes(cut))
        }
    }
}

/// One received event for a reader (payloads through [`show_payload`]; a control
/// frame's payload may have been cut after judging, so no length is claimed for it).
fn show_received(r: &Received) -> String {
    match r {
        // Nothing kept (an echo already recognised as such): the catalog's words.
        Received::Text { len, data, .. } | Received::Binary { len, data, .. }
            if data.is_empty() && *len > 0 =>
        {
            r.describe()
        }
        Received::Text { len, data, .. } => format!("TEXT {}", show_payload(data, Some(*len))),
        Received::Binary { len, data, .. } => format!("BIN {}", show_payload(data, Some(*len))),
        Received::Ping(p) => format!("PING {}", show_payload(p, None)),
        Received::Pong(p) => format!("PONG {}", show_payload(p, None)),
        Received::StillOpen(t) => format!("still open after the {t} wait"),
    }
}

/// The events received, runs of equal ones folded (`3 × PONG 'x'`), at most
/// [`HTML_RECEIVED_EVENTS`] runs.
fn show_received_list(list: &[Received]) -> String {
    if list.is_empty() {
        return "nothing".into();
    }
    let mut runs: Vec<(usize, String)> = Vec::new();
    for r in list {
        let d = show_received(r);
        match runs.last_mut() {
            Some((n, last)) if *last == d => *n += 1,
            _ => runs.push((1, d)),
        }
    }
    let mut parts: Vec<String> = runs
        .iter()
        .take(HTML_RECEIVED_EVENTS)
        .map(|(n, d)| if *n > 1 { format!("{n} × {d}") } else { d.clone() })
        .collect();
    if runs.len() > HTML_RECEIVED_EVENTS {
        let shown: usize = runs.iter().take(HTML_RECEIVED_EVENTS).map(|(n, _)| n).sum();
        parts.push(format!("… at least {} more events", list.len() - shown));
    }
    parts.join(" + ")
}

/// How the transcript shows the connection ending: a clean close exchange when the
/// tester sent a Close frame and the target sent one.
pub fn close_exchange(t: &crate::transcript::Transcript) -> &'static str {
    let close = |kind: &str| t.entries.iter().any(|e| e.kind == kind && e.text.starts_with("CLOSE "));
    match (close("sent"), close("received")) {
        (true, true) => "clean close exchange",
        (true, false) => "the tester sent a Close frame, none came back",
        (false, true) => "the target sent a Close frame, the tester sent none",
        (false, false) => "no Close frame exchanged",
    }
}

/// A rule as an HTML list item: id, RFC section linked, level, requirement.
fn rule_item(h: &mut String, rule: wsprobe_wire::Rule) {
    let i = rule.info();
    let _ = writeln!(
        h,
        "<li><code>{}</code> (<a href=\"{}\">{}</a>, {:?}): {}</li>",
        esc(i.id),
        attr(&rfc_url(i.rfc, i.section)),
        esc(&rule.citation()),
        i.level,
        esc(i.requirement)
    );
}

/// One failed case in detail.
fn failure_html(h: &mut String, agent: &str, r: &CaseResult) {
    let v = &r.verdict;
    let o = &r.observed;
    let id = &r.case.id;
    let json = attr(&report_file(agent, id));
    let _ = writeln!(
        h,
        "<div class=\"failure\" id=\"f-{aid}\">\n<h3><a href=\"{json}\">{id}</a> {t}</h3>\n\
<p>behavior <span class=\"{bc}\">{b}</span>, close <span class=\"{cc}\">{c}</span> · {ex} · close code {code} · {ms} ms · <a href=\"{json}\">case JSON</a></p>",
        aid = attr(id),
        id = esc(id),
        t = esc(&r.case.title),
        bc = class_of(v.behavior),
        b = v.behavior,
        cc = class_of(v.behavior_close),
        c = v.behavior_close,
        ex = close_exchange(&r.transcript),
        code = o.remote_close_code.map_or("none".into(), |c| c.to_string()),
        ms = r.duration.as_millis(),
    );
    if v.blamed.is_empty() {
        h.push_str("<p><b>Behaviour differed</b> (no rule broken on the wire).</p>\n");
    } else {
        h.push_str("<p><b>Broken rules</b>:</p>\n<ul>\n");
        for rule in &v.blamed {
            rule_item(h, *rule);
        }
        h.push_str("</ul>\n");
    }
    if !v.findings.is_empty() {
        h.push_str("<ul class=\"found\">\n");
        for f in v.findings.iter().take(10) {
            let _ = writeln!(h, "<li>found: <code>{}</code>: {}</li>", esc(f.rule.id()), esc(&f.detail));
        }
        if v.findings.len() > 10 {
            let _ = writeln!(h, "<li>… {} more findings</li>", v.findings.len() - 10);
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<table class=\"kv\">\n");
    let mut row = |k: &str, val: &str| {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{}</td></tr>", esc(val));
    };
    row("expected", &v.expected);
    row("got", &v.actual);
    row("received", &show_received_list(&o.received));
    row("behavior", &v.result);
    row("close", &v.result_close);
    if let Some(reason) = o.remote_close_reason.as_deref().filter(|r| !r.is_empty()) {
        row("close reason", &format!("'{}'", cut(reason, SHOWN_TEXT_CHARS)));
    }
    if !r.case.request_text.is_empty() {
        row("request", &r.case.request_text.join(" ; "));
    }
    row("sent", &r.case.send_text.join(" ; "));
    for n in &o.notes {
        row("note", n);
    }
    h.push_str("</table>\n");
    if !r.case.rules.is_empty() {
        let ids: Vec<&str> = r.case.rules.iter().map(|r| r.id()).collect();
        let _ =
            writeln!(h, "<p class=\"checks\">This case checks: <code>{}</code></p>", esc(&ids.join(", ")));
    }
    let mut t = String::new();
    t.push_str(&r.transcript.request);
    if let Some(resp) = &r.transcript.response {
        t.push_str(resp);
    }
    let entries = &r.transcript.entries;
    for e in entries.iter().take(HTML_TRANSCRIPT_ENTRIES) {
        let arrow = match e.kind {
            "sent" => "->",
            "received" => "<-",
            _ => "--",
        };
        let _ = writeln!(t, "{:>10.3} ms {arrow} {}", e.ms, cut(&e.text, 300));
    }
    let left_out = entries.len().saturating_sub(HTML_TRANSCRIPT_ENTRIES);
    if left_out > 0 {
        let _ = writeln!(t, "… {left_out} more entries left out here (the case JSON has them)");
    }
    if r.transcript.dropped > 0 {
        let _ = writeln!(t, "… {} more entries not recorded", r.transcript.dropped);
    }
    let _ = writeln!(
        h,
        "<details><summary>Transcript ({} entries)</summary><pre>{}</pre></details>\n</div>",
        entries.len() + r.transcript.dropped,
        esc(&t)
    );
}

/// A self-contained HTML page (inline CSS, no scripts): the agent and summary, counts
/// per category, every failure in detail (broken rules with their RFC sections linked,
/// expected and got, transcript), then one compact table of all cases, each linked to
/// its JSON file. Passing cases carry no transcript, so a passing run stays small.
pub fn html(agent: &str, results: &[CaseResult], summary: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wsprobe report: {a}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}td.n{{text-align:right}}\
.ok{{background:#cfc}}.ns{{background:#ffc}}.info{{background:#cdf}}.fail{{background:#fcc}}\
.failure{{border-left:4px solid #c33;padding:.1em 1em;margin:1.5em 0}}.kv th{{width:7em}}.checks{{color:#666}}\
pre{{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:85%}}details{{margin:.3em 0}}code{{font-size:90%}}\
</style></head><body>\n<h1>wsprobe conformance report</h1>\n<p>Agent: <b>{a}</b></p>\n<pre>{s}</pre>\n",
        a = esc(agent),
        s = esc(summary)
    );
    h.push_str(
        "<h2 id=\"categories\">Categories</h2>\n<table class=\"counts\"><tr><th>category</th><th>title</th><th>cases</th>\
<th>passed</th><th>failed</th><th>non-strict</th><th>informational</th><th>unimplemented</th></tr>\n",
    );
    let count_row = |h: &mut String, cat: &str, title: &str, c: &Counts| {
        let total = c.passed + c.failed + c.non_strict + c.informational + c.unimplemented;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{total}</td><td class=\"n\">{}</td><td class=\"n{}\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(cat),
            esc(title),
            c.passed,
            if c.failed > 0 { " fail" } else { "" },
            c.failed,
            c.non_strict,
            c.informational,
            c.unimplemented
        );
    };
    for (cat, title, c) in categories(results) {
        count_row(&mut h, &cat, &title, &c);
    }
    count_row(&mut h, "all", "", &Counts::of(results));
    h.push_str("</table>\n");
    let failures: Vec<&CaseResult> =
        results.iter().filter(|r| r.verdict.outcome == Outcome::Failed).collect();
    let _ = writeln!(h, "<h2 id=\"failures\">Failures ({})</h2>", failures.len());
    if failures.is_empty() {
        h.push_str("<p>None.</p>\n");
    }
    for r in failures {
        failure_html(&mut h, agent, r);
    }
    h.push_str(
        "<h2 id=\"cases\">All cases</h2>\n<table class=\"cases\"><tr><th>case</th><th>title</th><th>behavior</th>\
<th>close</th><th>ms</th><th>close code</th><th>broken rules</th></tr>\n",
    );
    for r in results {
        let v = &r.verdict;
        let failed = v.outcome == Outcome::Failed;
        let title = if failed {
            format!("<a href=\"#f-{}\">{}</a>", attr(&r.case.id), esc(&r.case.title))
        } else {
            esc(&r.case.title)
        };
        let broken = if v.blamed.is_empty() {
            "–".to_owned()
        } else {
            let ids: Vec<&str> = v.blamed.iter().map(|r| r.id()).collect();
            format!("<code>{}</code>", esc(&ids.join(", ")))
        };
        let _ = writeln!(
            h,
            "<tr><td><a href=\"{json}\">{id}</a></td><td>{title}</td><td class=\"{bc}\">{b}</td><td class=\"{cc}\">{c}</td>\
<td class=\"n\">{ms}</td><td>{code}</td><td>{broken}</td></tr>",
            json = attr(&report_file(agent, &r.case.id)),
            id = esc(&r.case.id),
            bc = if failed { "fail" } else { class_of(v.behavior) },
            b = v.behavior,
            cc = class_of(v.behavior_close),
            c = v.behavior_close,
            ms = r.duration.as_millis(),
            code = r.observed.remote_close_code.map_or("–".into(), |c| c.to_string()),
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

/// JUnit XML: one test suite per category, one test case per case.
pub fn junit(agent: &str, results: &[CaseResult]) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new(format!("wsprobe {agent}"));
    for (cat, title, _) in categories(results) {
        let mut suite = TestSuite::new(format!("{cat} {title}"));
        for r in results.iter().filter(|r| r.case.category == cat) {
            let v = &r.verdict;
            let status = match v.outcome {
                Outcome::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    if v.blamed.is_empty() {
                        s.set_message(format!(
                            "{} / {}: {}",
                            v.behavior,
                            v.behavior_close,
                            behaviour_differed(v)
                        ));
                    } else {
                        let rules: Vec<&str> = v.blamed.iter().map(|r| r.id()).collect();
                        s.set_message(format!(
                            "{} / {} ({})",
                            v.behavior,
                            v.behavior_close,
                            rules.join(", ")
                        ));
                    }
                    s.set_description(format!("expected: {}\ngot: {}", v.expected, v.actual));
                    s
                }
                Outcome::Unimplemented => TestCaseStatus::skipped(),
                _ => TestCaseStatus::success(),
            };
            let mut tc = TestCase::new(format!("{} {}", r.case.id, r.case.title), status);
            tc.set_classname(format!("wsprobe.{cat}"));
            tc.set_time(r.duration);
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}
