//! The reports of a run: the HTML page puts failures first with their broken rules
//! linked to the RFC, counts per category, links each case's JSON file and stays small
//! for a passing run; a failure without a broken rule says what differed and names no
//! rule as broken, in every report.

mod common;

use wsprobe_conform::report;
use wsprobe_conform::runner::CaseResult;
use wsprobe_conform::{Behavior, Faults, Outcome, ServerConfig};

/// `text` without its `<p class="checks">…</p>` paragraphs (the only place a case's own
/// rules may appear, labelled as what the case checks).
fn without_checks(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("<p class=\"checks\">") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("</p>").expect("closed paragraph");
        rest = &rest[i + end + 4..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_puts_failures_first_with_their_rules_linked() {
    let faults = Faults { wrong_pong: true, ..Default::default() };
    let results =
        common::run_against_server(ServerConfig { faults, ..Default::default() }, &["1.1.1,2.3,2.4"]).await;
    assert_eq!(results.len(), 3);
    let failed: Vec<&CaseResult> = results.iter().filter(|r| r.verdict.outcome == Outcome::Failed).collect();
    assert_eq!(failed.iter().map(|r| r.case.id.as_str()).collect::<Vec<_>>(), ["2.3", "2.4"]);
    let html = report::html("ref", &results, "3 cases");

    // Counts per category, the failed cell highlighted.
    assert!(
        html.contains("<tr><td>1</td><td>Framing</td><td class=\"n\">1</td><td class=\"n\">1</td>"),
        "{html}"
    );
    assert!(html.contains("<tr><td>2</td><td>Pings/Pongs</td><td class=\"n\">2</td><td class=\"n\">0</td><td class=\"n fail\">2</td>"), "{html}");

    // The failures come before the table of all cases.
    let failures = html.find("<h2 id=\"failures\">").expect("failures heading");
    let table = html.find("<h2 id=\"cases\">").expect("cases heading");
    assert!(failures < table);
    let detail = html.find("<div class=\"failure\" id=\"f-2.3\">").expect("2.3 in detail");
    assert!(failures < detail && detail < table);
    assert!(!html[failures..table].contains("id=\"f-1.1.1\""), "a passing case among the failures");

    // The broken rule with its RFC section linked.
    assert!(html[detail..table].contains("<code>pong.payload-mismatch</code>"));
    assert!(
        html.contains("<a href=\"https://www.rfc-editor.org/rfc/rfc6455#section-5.5.3\">RFC 6455 §5.5.3</a>")
    );
    assert!(html[detail..table].contains("clean close exchange"), "{}", &html[detail..table]);
    assert!(html[detail..table].contains("<summary>Transcript"));

    // Each case linked to its JSON file.
    for r in &results {
        let file = report::report_file("ref", &r.case.id);
        assert!(html[table..].contains(&format!("<a href=\"{file}\">{}</a>", r.case.id)), "{}", r.case.id);
    }
    assert!(html[detail..table].contains("<a href=\"ref_case_2_3.json\">case JSON</a>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_of_a_passing_run_stays_small() {
    let results = common::run_against_server(ServerConfig::default(), &["1.*,2.*"]).await;
    assert!(results.len() > 20);
    assert!(results.iter().all(|r| r.verdict.outcome == Outcome::Passed));
    let html = report::html("ref", &results, "all passed");
    eprintln!("HTML of a passing run of categories 1-2: {} bytes", html.len());
    assert!(html.len() < 150_000, "{} bytes", html.len());
    assert!(!html.contains("<details"), "no transcript for passing cases");
    assert!(html.contains("<h2 id=\"failures\">Failures (0)</h2>\n<p>None.</p>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_without_a_finding_names_no_rule_as_broken() {
    let mut results = common::run_against_server(ServerConfig::default(), &["1.1.1"]).await;
    let mut r = results.pop().expect("one result");
    assert_eq!(r.verdict.outcome, Outcome::Passed);
    assert!(!r.case.rules.is_empty());
    r.verdict.outcome = Outcome::Failed;
    r.verdict.behavior = Behavior::Failed;
    r.verdict.result = "Actual events differ from any expected.".into();
    r.verdict.actual = "BIN('')".into();
    assert!(r.verdict.blamed.is_empty() && r.verdict.findings.is_empty());
    let results = vec![r];
    let rules: Vec<&str> = results[0].case.rules.iter().map(|r| r.id()).collect();

    let html = report::html("ref", &results, "1 case");
    assert!(html.contains("Behaviour differed"), "{html}");
    assert!(html.contains("<tr><th>expected</th><td>TEXT("), "{html}");
    assert!(html.contains("<tr><th>got</th><td>BIN("), "{html}");
    assert!(html.contains("<p class=\"checks\">This case checks:"), "{html}");
    let table = &html[html.find("<h2 id=\"cases\">").unwrap()..];
    assert!(table.contains("<td>–</td></tr>"), "{table}");
    let console = report::console(&results, None, &[]);
    assert!(console.contains("behaviour differed"), "{console}");
    assert!(console.contains("expected:") && console.contains("got:      BIN('')"), "{console}");
    let junit = report::junit("ref", &results).unwrap();
    assert!(junit.contains("behaviour differed: expected TEXT(") && junit.contains("got BIN("), "{junit}");
    let baseline = report::make_baseline(&results, None);
    let reason = baseline["1.1.1"].reason.clone().expect("a reason");
    assert!(reason.starts_with("behaviour differed: expected TEXT("), "{reason}");
    assert!(reason.contains("got BIN('')"), "{reason}");
    for rule in &rules {
        assert!(!without_checks(&html).contains(rule), "HTML names {rule}:\n{html}");
        assert!(!console.contains(rule), "console names {rule}:\n{console}");
        assert!(!junit.contains(rule), "JUnit names {rule}:\n{junit}");
        assert!(!reason.contains(rule), "baseline reason names {rule}: {reason}");
    }
}

#[test]
fn payloads_are_shown_as_text_when_they_are_text() {
    let long = "x".repeat(300);
    let shown = report::show_payload(long.as_bytes(), Some(300));
    assert_eq!(shown, format!("'{}'… (300 bytes)", "x".repeat(200)));
    assert_eq!(report::show_payload(b"Hello, world!", Some(13)), "'Hello, world!'");
    let text = "é".repeat(40);
    assert_eq!(report::show_payload(text.as_bytes(), Some(80)), format!("'{text}' (80 bytes)"));
    // A kept prefix cut inside a character is still text.
    assert_eq!(
        report::show_payload(&text.as_bytes()[..79], Some(200)),
        format!("'{}'… (200 bytes)", "é".repeat(39))
    );
    assert_eq!(report::show_payload(&text.as_bytes()[..79], None), format!("'{}'…", "é".repeat(39)));
    assert_eq!(report::show_payload(&[0xfe; 125], Some(125)), format!("0x{}… (125 bytes)", "fe".repeat(32)));
    assert_eq!(report::show_payload(&[0xfe; 64], None), format!("0x{}…", "fe".repeat(32)));
    assert_eq!(report::show_payload(&[0, 0xff], Some(2)), "0x00ff");
    assert_eq!(report::show_payload(b"", Some(0)), "empty");
    assert_eq!(report::show_payload(b"", Some(9)), "9 bytes (not kept)");
}
