//! `wsprobe fuzz` against servers with planted bugs (the reference server's `planted-*`
//! faults, each reached only by a combination of conditions no catalog case has) and
//! against conformant servers (the reference server, Python `websockets`, Node `ws`):
//! with a fixed seed and a bounded number of executions it finds every planted bug,
//! minimizes it, and the finding's case file fails against the buggy server and passes
//! against the conformant one; against the conformant servers it finds nothing.

mod common;

use wsprobe_conform::catalog::parse_file;
use wsprobe_conform::fuzz::oracle::Oracle;
use wsprobe_conform::fuzz::{FuzzConfig, FuzzReport, fuzz};
use wsprobe_conform::runner::run_all;
use wsprobe_conform::{Faults, Outcome, ServerConfig, server};

const SEED: u64 = 20261205;

fn config(port: u16, iterations: u64) -> FuzzConfig {
    let mut opts = common::options("127.0.0.1".into(), port);
    opts.time_scale = 1.0;
    opts.timeout = std::time::Duration::from_secs(1);
    FuzzConfig {
        opts,
        seed: SEED,
        iterations: Some(iterations),
        duration: None,
        jobs: 16,
        timer: 1.0,
        confirm: 3,
        max_findings: None,
    }
}

async fn fuzz_server(faults: Faults, iterations: u64, max_findings: Option<usize>) -> FuzzReport {
    let (addr, handle) =
        server::spawn("127.0.0.1:0", ServerConfig { faults, ..Default::default() }).await.expect("bind");
    let cfg = FuzzConfig { max_findings, ..config(addr.port(), iterations) };
    let report = fuzz(&cfg, |_| {}).await;
    handle.abort();
    report
}

fn describe(r: &FuzzReport) -> String {
    let mut s = format!("{} executions, {} behaviours\n", r.progress.executions, r.progress.behaviours);
    for f in &r.findings {
        s.push_str(&format!("  {} {}: {:?}\n", f.name(), f.detail, f.input.steps()));
    }
    s
}

/// Runs a finding's case file against a reference server with `faults`.
async fn replay(case: &str, faults: Faults) -> Outcome {
    let cases = parse_file("finding.toml", case).unwrap_or_else(|e| panic!("{e}\n{case}"));
    let (addr, handle) =
        server::spawn("127.0.0.1:0", ServerConfig { faults, ..Default::default() }).await.expect("bind");
    let results = run_all(cases, common::options("127.0.0.1".into(), addr.port()), |_| {}).await;
    handle.abort();
    results[0].verdict.outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_gives_no_finding() {
    let r = fuzz_server(Faults::default(), 3000, None).await;
    assert!(r.findings.is_empty(), "{}", describe(&r));
    assert!(r.progress.behaviours > 10, "{}", describe(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_bug_is_found_minimized_and_replayed() {
    let planted = [
        ("planted-crash", Oracle::Crash),
        ("planted-hang", Oracle::Hang),
        ("planted-wrong-echo", Oracle::WrongEcho),
        ("planted-violation", Oracle::Violation),
        ("planted-contradiction", Oracle::Contradiction),
    ];
    let mut problems = Vec::new();
    for (name, oracle) in planted {
        let faults = Faults::from_names(&[name.to_string()]).expect("fault");
        // Each planted bug is the only one of its server: the first finding must be it.
        let r = fuzz_server(faults.clone(), 4000, Some(1)).await;
        let Some(f) = r.findings.iter().find(|f| f.oracle == oracle) else {
            problems.push(format!("{name}: no {} finding; {}", oracle.as_str(), describe(&r)));
            continue;
        };
        println!("{name}: found at execution {}, minimized to {:?}", f.at, f.input.steps());
        if f.reproduced != f.confirmations {
            problems.push(format!("{name}: reproduced {}/{}", f.reproduced, f.confirmations));
        }
        if replay(&f.case, faults).await != Outcome::Failed {
            problems.push(format!("{name}: the case file passes against the buggy server:\n{}", f.case));
        }
        if replay(&f.case, Faults::default()).await != Outcome::Passed {
            problems.push(format!("{name}: the case file fails against the conformant server:\n{}", f.case));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_and_node_ws_give_no_finding() {
    let mut problems = Vec::new();
    for (kind, args) in [("python", &[][..]), ("node", &[][..]), ("node", &["--deflate"][..])] {
        let peer = common::start_peer_with(kind, args);
        let mut cfg = config(peer.port, 1500);
        // Slower targets than the in-process server: the timers of a loaded machine.
        cfg.timer = 2.0;
        cfg.opts.timeout = std::time::Duration::from_secs(2);
        cfg.jobs = 4;
        let r = fuzz(&cfg, |_| {}).await;
        drop(peer);
        println!("{kind} {args:?}: {:.0} executions/s, {} behaviours", r.rate(), r.progress.behaviours);
        if !r.findings.is_empty() || r.progress.behaviours < 10 {
            problems.push(format!("{kind} {args:?}: {}", describe(&r)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_minimal_lengths_may_be_processed_or_refused() {
    use wsprobe_conform::fuzz::input::{Frame, Input, Op};
    use wsprobe_conform::fuzz::oracle::Class;
    use wsprobe_wire::LengthForm;
    // A 16-bit length for 3 bytes, a 64-bit one for 200: Python and Node process
    // them, the reference server fails the connection (1002). Both are right.
    let frame = |len: usize, form| {
        let mut f = Frame::new(2, vec![7; len]);
        f.form = Some(form);
        Op::Frame(f)
    };
    let input =
        Input { headers: Vec::new(), ops: vec![frame(3, LengthForm::Ext16), frame(200, LengthForm::Ext64)] };
    assert!(input.steps()[0].contains("form=16"), "{:?}", input.steps());
    let (addr, handle) = server::spawn("127.0.0.1:0", ServerConfig::default()).await.expect("bind");
    let mut classes = vec![(
        "reference",
        wsprobe_conform::fuzz::run_input(&input, &config(addr.port(), 1).opts, 1.0).await,
    )];
    handle.abort();
    for kind in ["python", "node"] {
        let peer = common::start_peer_with(kind, &[] as &[&str]);
        classes.push((kind, wsprobe_conform::fuzz::run_input(&input, &config(peer.port, 1).opts, 2.0).await));
    }
    for (who, class) in classes {
        assert_eq!(class, Some(Class::Fine), "{who}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_end_the_run_in_bounded_time() {
    // Floods, endless Pings, garbage, silence after the handshake, no handshake at all:
    // every execution ends within its timers, and the run within its iterations.
    for name in ["flood", "ping-flood", "garbage", "silent", "no-handshake-answer"] {
        let faults = Faults::from_names(&[name.to_string()]).expect("fault");
        let start = std::time::Instant::now();
        let r = tokio::time::timeout(std::time::Duration::from_secs(120), fuzz_server(faults, 16, Some(1)))
            .await
            .unwrap_or_else(|_| panic!("{name}: the fuzzer did not end within 120 s"));
        println!(
            "{name}: {} executions, {} findings in {:?}",
            r.progress.executions,
            r.findings.len(),
            start.elapsed()
        );
        assert!(!r.findings.is_empty(), "{name}: a hostile target gives findings");
    }
}
