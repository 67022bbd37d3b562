//! The three commands (`wsprobe test`, `wsprobe cases`, `wsprobe reference-server`) as
//! library functions, so that the CLI stays a thin argument parser.

use crate::catalog::{Case, Catalog};
use crate::report::{self, Counts};
use crate::runner::{self, CaseResult, RunOptions, Target};
use crate::server::{self, ServerConfig};
use crate::transport::{ClientTls, Connector, Proxy};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Exit code: nothing failed outside the baseline.
pub const EXIT_OK: u8 = 0;
/// Exit code: a case failed outside the baseline.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage error (bad URL, pattern, file).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the target could not be reached.
pub const EXIT_UNREACHABLE: u8 = 3;

/// What `wsprobe test` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct TestArgs {
    /// Target URL; `None` tests the built-in reference server.
    pub url: Option<String>,
    /// Extra request headers, `Name: value`.
    pub headers: Vec<String>,
    /// Subprotocols to offer.
    pub protocols: Vec<String>,
    /// Origin to send.
    pub origin: Option<String>,
    /// Agent name in reports.
    pub agent: Option<String>,
    /// Case globs to run (all if empty).
    pub cases: Vec<String>,
    /// Case globs to skip.
    pub exclude: Vec<String>,
    /// Per-wait timeout.
    pub timeout: Duration,
    /// Parallel cases (0 = default).
    pub jobs: usize,
    /// Seed of masking keys and nonces.
    pub seed: Option<u64>,
    /// Report directory.
    pub report: Option<PathBuf>,
    /// JUnit file.
    pub junit: Option<PathBuf>,
    /// Baseline file.
    pub baseline: Option<PathBuf>,
    /// Rewrite the baseline from this run.
    pub update_baseline: bool,
    /// Load the catalog from this directory instead of the built-in one.
    pub catalog: Option<PathBuf>,
    /// Print no progress bar.
    pub quiet: bool,
    /// Progress lines (one per finished category) even when stderr is a terminal.
    pub progress_lines: bool,
    /// Factor for the timers that bound a case (0 = 1.0); see [`RunOptions::time_scale`].
    pub time_scale: f64,
    /// wss://: trust only the certificates in this PEM file.
    pub ca: Option<PathBuf>,
    /// wss://: accept any server certificate.
    pub insecure: bool,
    /// wss://: client certificate chain (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// wss://: client private key (PEM), with `cert`.
    pub key: Option<PathBuf>,
    /// HTTP CONNECT proxy, `http://[user:pass@]host:port`.
    pub proxy: Option<String>,
}

/// The connector `args` ask for `target` (TLS and proxy); an error is a usage error.
pub fn connector(args: &TestArgs, target: &Target) -> Result<Connector, String> {
    let proxy = args.proxy.as_deref().map(Proxy::parse).transpose()?;
    let tls_asked = args.ca.is_some() || args.insecure || args.cert.is_some() || args.key.is_some();
    if !target.tls {
        if tls_asked {
            return Err("--ca, --insecure, --cert and --key apply to wss:// targets only".into());
        }
        return Ok(Connector { tls: None, proxy });
    }
    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        (None, None) => None,
        _ => return Err("--cert and --key go together".into()),
    };
    let tls = ClientTls { ca: args.ca.as_deref(), insecure: args.insecure, identity }.config()?;
    Ok(Connector { tls: Some(tls), proxy })
}

fn load_catalog(dir: Option<&PathBuf>) -> Result<Catalog, String> {
    match dir {
        Some(d) => Catalog::load_dir(d).map_err(|e| e.to_string()),
        None => Ok(Catalog::builtin()),
    }
}

fn parse_header(h: &str) -> Result<(String, String), String> {
    let (n, v) = h.split_once(':').ok_or_else(|| format!("header {h:?}: expected 'Name: value'"))?;
    let n = n.trim();
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("header {h:?}: bad name"));
    }
    Ok((n.to_owned(), v.trim().to_owned()))
}

/// The outcome of [`run_test`]: results and the exit code.
pub struct TestOutcome {
    /// Per-case results, in catalog order.
    pub results: Vec<CaseResult>,
    /// Exit code.
    pub exit: u8,
    /// The console report.
    pub console: String,
    /// Wall time of the run.
    pub wall: Duration,
}

/// Runs `wsprobe test`: prints the report to stdout, messages to stderr, returns the exit code.
pub fn test_command(args: TestArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wsprobe: cannot start the runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match rt.block_on(run_test(args, true)) {
        Ok(o) => {
            // A closed pipe (`wsprobe test | head`) is not an error: the exit code stands.
            let mut out = std::io::stdout().lock();
            let _ = std::io::Write::write_all(&mut out, o.console.as_bytes());
            let _ = std::io::Write::flush(&mut out);
            o.exit
        }
        Err((code, msg)) => {
            eprintln!("wsprobe: {msg}");
            code
        }
    }
}

/// Runs the catalog as `args` says (inside a tokio runtime). `Err` carries an exit code
/// and a message for usage errors and an unreachable target.
pub async fn run_test(args: TestArgs, progress: bool) -> Result<TestOutcome, (u8, String)> {
    let usage = |m: String| (EXIT_USAGE, m);
    let catalog = load_catalog(args.catalog.as_ref()).map_err(usage)?;
    let cases: Vec<Case> = catalog.select(&args.cases, &args.exclude).map_err(usage)?;
    if cases.is_empty() {
        return Err(usage("no case matches the --cases/--exclude patterns".into()));
    }
    let headers =
        args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>().map_err(usage)?;
    let baseline = match &args.baseline {
        Some(p) if p.exists() => Some(report::read_baseline(p).map_err(usage)?),
        Some(p) if !args.update_baseline => {
            return Err(usage(format!("{}: baseline not found", p.display())));
        }
        _ => None,
    };
    let (target, _server, agent) = match &args.url {
        Some(url) => {
            let t = Target::parse(url).map_err(usage)?;
            let agent = args.agent.clone().unwrap_or_else(|| t.url());
            (t, None, agent)
        }
        None => {
            let (addr, h) = server::spawn("127.0.0.1:0", ServerConfig::default())
                .await
                .map_err(|e| (EXIT_UNREACHABLE, format!("cannot start the reference server: {e}")))?;
            let t = Target { host: addr.ip().to_string(), port: addr.port(), path: "/".into(), tls: false };
            (t, Some(h), args.agent.clone().unwrap_or_else(|| "wsprobe-reference-server".into()))
        }
    };
    let connector = connector(&args, &target).map_err(usage)?;
    let mut opts = RunOptions::new(target);
    opts.connector = connector;
    if let Err(e) = runner::probe(&opts, args.timeout.max(Duration::from_secs(1))).await {
        return Err((EXIT_UNREACHABLE, format!("target unreachable: {e}")));
    }
    opts.headers = headers;
    opts.protocols = args.protocols.clone();
    opts.origin = args.origin.clone();
    if !args.timeout.is_zero() {
        opts.timeout = args.timeout;
    }
    if args.jobs > 0 {
        opts.jobs = args.jobs;
    }
    if let Some(s) = args.seed {
        opts.seed = s;
    }
    if args.time_scale > 0.0 {
        opts.time_scale = args.time_scale;
    }
    let terminal = std::io::stderr().is_terminal();
    let show = progress && !args.quiet && terminal && !args.progress_lines;
    let lines = progress && !args.quiet && (!terminal || args.progress_lines);
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(cases.len() as u64),
        if show { indicatif::ProgressDrawTarget::stderr() } else { indicatif::ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {elapsed} {msg}") {
        bar.set_style(style);
    }
    let all_ran = args.cases.is_empty() && args.exclude.is_empty();
    let started = Instant::now();
    let b2 = bar.clone();
    let per_category = std::sync::Mutex::new(CategoryProgress::new(&cases, started));
    let outcome = runner::run(cases, opts, move |r| {
        b2.inc(1);
        if r.verdict.outcome == crate::Outcome::Failed {
            b2.set_message(format!("last failure: {}", r.case.id));
        }
        if let Ok(mut p) = per_category.lock()
            && let Some(line) = p.done(r)
            && lines
        {
            eprintln!("{line}");
        }
    })
    .await;
    bar.finish_and_clear();
    let results = outcome.results;
    let wall = started.elapsed();
    let diffs = baseline.as_ref().map(|b| report::diff_baseline(&results, b, all_ran)).unwrap_or_default();
    let mut console = report::console(&results, baseline.as_ref(), &diffs);
    let counts = Counts::of(&results);
    let summary_line = counts.line();
    if let Some(dir) = &args.report {
        let summary = format!(
            "{} cases against {} in {:.1} s\n{summary_line}",
            results.len(),
            agent,
            wall.as_secs_f64()
        );
        let one = report::AgentReport { agent: &agent, results: &results, summary };
        report::write_report_dir(dir, &[one]).map_err(usage)?;
    }
    if let Some(f) = &args.junit {
        let xml = report::junit(&agent, &results).map_err(usage)?;
        std::fs::write(f, xml).map_err(|e| usage(format!("{}: {e}", f.display())))?;
    }
    if args.update_baseline
        && let Some(p) = &args.baseline
    {
        let mut b = if all_ran { Default::default() } else { baseline.clone().unwrap_or_default() };
        b.extend(report::make_baseline(&results, baseline.as_ref()));
        report::write_baseline(p, &b).map_err(usage)?;
        eprintln!("wsprobe: baseline {} updated ({} cases)", p.display(), b.len());
    }
    let unexpected = results
        .iter()
        .filter(|r| {
            r.verdict.outcome == crate::Outcome::Failed && !report::failure_expected(r, baseline.as_ref())
        })
        .count();
    let mut exit = if unexpected > 0 && !args.update_baseline { EXIT_FAILED } else { EXIT_OK };
    if let Some(why) = &outcome.stopped {
        // Not the target's conformance: it stopped answering. Say so, and exit 3.
        console.push_str(&format!("\nThe run stopped early: {why}.\n"));
        eprintln!("wsprobe: run stopped: {why}");
        exit = EXIT_UNREACHABLE;
    }
    // Keep the summary line last.
    if let Some(pos) = console.rfind(&summary_line) {
        console.insert_str(
            pos,
            &format!("{} cases in {:.2} s against {}\n", results.len(), wall.as_secs_f64(), agent),
        );
    }
    Ok(TestOutcome { results, exit, console, wall })
}

/// Counts finished cases per category, for a progress line when a category is done.
struct CategoryProgress {
    started: Instant,
    left: std::collections::HashMap<String, (usize, usize, usize)>,
}

impl CategoryProgress {
    fn new(cases: &[Case], started: Instant) -> Self {
        let mut left = std::collections::HashMap::new();
        for c in cases {
            left.entry(c.category.clone()).or_insert((0, 0, 0)).0 += 1;
        }
        CategoryProgress { started, left }
    }

    /// Records `r`; returns a line when its category is complete.
    fn done(&mut self, r: &CaseResult) -> Option<String> {
        let e = self.left.get_mut(&r.case.category)?;
        e.0 = e.0.saturating_sub(1);
        e.1 += 1;
        if r.verdict.outcome == crate::Outcome::Failed {
            e.2 += 1;
        }
        (e.0 == 0).then(|| {
            format!(
                "wsprobe: category {} ({}) done: {} cases, {} failed, at {:.1} s",
                r.case.category,
                r.case.category_title,
                e.1,
                e.2,
                self.started.elapsed().as_secs_f64()
            )
        })
    }
}

/// What `wsprobe cases` prints.
pub fn cases_command(
    catalog_dir: Option<PathBuf>,
    patterns: &[String],
    json: bool,
) -> Result<String, String> {
    let catalog = load_catalog(catalog_dir.as_ref())?;
    let cases = catalog.select(patterns, &[])?;
    if json {
        let list: Vec<serde_json::Value> = cases
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "category": c.category,
                    "title": c.title,
                    "rules": c.rules.iter().map(|r| r.id()).collect::<Vec<_>>(),
                    "request": c.request_text,
                    "handshake": if c.handshake == crate::catalog::HandshakeExpect::Reject { "reject" } else { "accept" },
                    "send": c.send_text,
                    "ok": c.ok_text,
                    "non_strict": c.non_strict_text,
                    "close": {"by": if c.close.by_tester { "tester" } else { "peer" }, "codes": c.close.codes, "clean": c.close.clean},
                    "informational": c.informational,
                    "offer": c.offer,
                    "pmd_required": c.pmd == crate::catalog::PmdUse::Required,
                    "file": c.file,
                    "line": c.line,
                })
            })
            .collect();
        return serde_json::to_string_pretty(&list).map(|s| s + "\n").map_err(|e| e.to_string());
    }
    use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["id", "rules", "sends", "expects"]);
    for c in &cases {
        let mut sends = c.request_text.iter().map(|r| format!("request: {r}")).collect::<Vec<_>>();
        if let Some(o) = &c.offer {
            let needs = if c.pmd == crate::catalog::PmdUse::Required { " (required)" } else { "" };
            sends.push(format!("offer{needs}: {o}"));
        }
        sends.extend(c.send_text.iter().map(|s| {
            if s.len() > 90 { format!("{}…", s.chars().take(88).collect::<String>()) } else { s.clone() }
        }));
        let mut expects = if c.handshake == crate::catalog::HandshakeExpect::Reject {
            "handshake refused (not 101)".to_owned()
        } else if c.ok_text.is_empty() {
            "OK: nothing".to_owned()
        } else {
            format!("OK: {}", c.ok_text.join(" + "))
        };
        if let Some(ns) = &c.non_strict_text {
            expects.push_str(&format!(
                "\nNON-STRICT: {}",
                if ns.is_empty() { "nothing".into() } else { ns.join(" + ") }
            ));
        }
        if c.handshake != crate::catalog::HandshakeExpect::Reject {
            expects.push_str(&format!(
                "\nclose: {} closes, code {}, {}",
                if c.close.by_tester { "tester" } else { "target" },
                c.close.codes.iter().map(u16::to_string).collect::<Vec<_>>().join("/"),
                if c.close.clean { "clean" } else { "clean not required" }
            ));
        }
        if c.informational {
            expects.push_str("\n(informational)");
        }
        t.add_row(vec![
            c.id.clone(),
            c.rules.iter().map(|r| r.id()).collect::<Vec<_>>().join("\n"),
            sends.join("\n"),
            expects,
        ]);
    }
    Ok(format!("{t}\n{} cases\n", cases.len()))
}

/// Runs the reference server on `listen` until interrupted.
pub fn reference_server_command(listen: &str, faults: &[String]) -> Result<(), String> {
    let faults = crate::server::Faults::from_names(faults)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("LISTENING {}", addr.port());
        eprintln!("wsprobe reference server on ws://{addr}/ (Ctrl-C to stop)");
        if faults != crate::server::Faults::default() {
            eprintln!("deliberately broken: {faults:?}");
        }
        server::serve(listener, std::sync::Arc::new(ServerConfig { faults, ..Default::default() })).await;
        Ok(())
    })
}
