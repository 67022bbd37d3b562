//! `wsprobe fuzz`: structure-aware fuzzing of a live WebSocket server with replayable,
//! minimized findings. The search is `wsprobe_conform::fuzz`'s; this module parses
//! options, shows progress and writes the findings.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use wsprobe_conform::app::{self, TestArgs};
use wsprobe_conform::fuzz::{self, FuzzConfig};
use wsprobe_conform::runner::{RunOptions, Target};
use wsprobe_conform::{Faults, ServerConfig, server};

/// Arguments of `wsprobe fuzz`.
#[derive(clap::Args)]
#[command(after_help = "\
What it does: starts from the catalog's cases (1-7, 10 and wsprobe's frame cases, as
frames) and mutates them: fragments cut anywhere (inside UTF-8 characters too), Pings and
Pongs between fragments, RSV bits, reserved opcodes, unmasked frames, payload lengths at
the edges of the 7/16/64-bit forms, lengths written in a longer form than needed (which a
server may process or refuse: both pass), close codes and reasons, invalid UTF-8, TCP
writes cut inside headers, pauses, extra request headers.
Each input is run as a catalog case whose expectation is what RFC 6455 asks of an echo
server (the catalog's convention), judged by the same verdicts as `wsprobe test`. Inputs
whose outcome has a new signature (events, who closed and how, timing) are kept.

Oracles: crash (reset, or closed without a Close, or no more connections), hang (no
answer to a Ping, to a Close, or after each batch to a fresh handshake and Ping, within
--timer), violation (the target's bytes broke
a rule), contradiction (it accepted what it must reject), wrong-echo, refused (it failed
valid input). Each finding is minimized, confirmed three times and written to
DIR/findings/ORACLE[-RULE].toml; DIR/summary.json lists them.

Examples:
  wsprobe fuzz ws://127.0.0.1:9001/ --duration 60 --out fuzz-out
  wsprobe fuzz ws://127.0.0.1:9001/ --iterations 5000 --seed 7 -j 16
  wsprobe test ws://127.0.0.1:9001/ --catalog fuzz-out/findings   replay: fails what reproduces
  wsprobe fuzz --reference-fault planted-wrong-echo --iterations 2000   a server with a bug

Exit codes: 0 nothing found, 1 findings, 2 usage error, 3 target unreachable.")]
pub struct Args {
    /// Target, `ws://` or `wss://`; without it the built-in reference server is fuzzed.
    url: Option<String>,
    /// Seed of every random choice (the same seed and target give the same run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many seconds (default 60 unless --iterations is given).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Stop after this many executions.
    #[arg(long, value_name = "N")]
    iterations: Option<u64>,
    /// Stop after this many findings.
    #[arg(long, value_name = "N")]
    max_findings: Option<usize>,
    /// Directory of the findings (DIR/findings/*.toml) and DIR/summary.json.
    #[arg(long, value_name = "DIR", default_value = "wsprobe-fuzz")]
    out: PathBuf,
    /// Inputs run at once.
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N")]
    jobs: usize,
    /// Seconds to wait for what must come back (an echo, a Pong, a Close) before a hang.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    timer: f64,
    /// Seconds for connecting and the opening handshake.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    timeout: f64,
    /// The built-in reference server with a fault (see `wsprobe reference-server
    /// --fault`), e.g. planted-crash, planted-hang, planted-wrong-echo,
    /// planted-violation, planted-contradiction.
    #[arg(long, value_name = "NAME", conflicts_with = "url")]
    reference_fault: Vec<String>,
    /// wss://: trust only the certificates in FILE (PEM).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// wss://: accept any server certificate.
    #[arg(long)]
    insecure: bool,
    /// Through an HTTP CONNECT proxy, http://[user:pass@]host[:port].
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// No progress display.
    #[arg(short, long)]
    quiet: bool,
}

fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0 && v <= 3600.0
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !positive(a.timer) || !positive(a.timeout) || a.duration.is_some_and(|d| !(d.is_finite() && d > 0.0)) {
        eprintln!("wsprobe: --timer, --timeout and --duration must be positive");
        return Ok(ExitCode::from(app::EXIT_USAGE));
    }
    let faults = match Faults::from_names(&a.reference_fault) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("wsprobe: {e}");
            return Ok(ExitCode::from(app::EXIT_USAGE));
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let (target, _server) = match &a.url {
            Some(url) => match Target::parse(url) {
                Ok(t) => (t, None),
                Err(e) => {
                    eprintln!("wsprobe: {e}");
                    return Ok(ExitCode::from(app::EXIT_USAGE));
                }
            },
            None => {
                let (addr, h) =
                    server::spawn("127.0.0.1:0", ServerConfig { faults, ..Default::default() }).await?;
                let t =
                    Target { host: addr.ip().to_string(), port: addr.port(), path: "/".into(), tls: false };
                (t, Some(h))
            }
        };
        let transport =
            TestArgs { ca: a.ca.clone(), insecure: a.insecure, proxy: a.proxy.clone(), ..Default::default() };
        let connector = match app::connector(&transport, &target) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("wsprobe: {e}");
                return Ok(ExitCode::from(app::EXIT_USAGE));
            }
        };
        let mut opts = RunOptions::new(target);
        opts.connector = connector;
        opts.timeout = Duration::from_secs_f64(a.timeout);
        if let Err(e) = wsprobe_conform::runner::probe(&opts, opts.timeout).await {
            eprintln!("wsprobe: target unreachable: {e}");
            return Ok(ExitCode::from(app::EXIT_UNREACHABLE));
        }
        let duration = match (a.duration, a.iterations) {
            (Some(d), _) => Some(Duration::from_secs_f64(d)),
            (None, None) => Some(Duration::from_secs(60)),
            (None, Some(_)) => None,
        };
        let cfg = FuzzConfig {
            opts,
            seed: a.seed,
            iterations: a.iterations,
            duration,
            jobs: a.jobs.max(1),
            timer: a.timer,
            confirm: 3,
            max_findings: a.max_findings,
        };
        let bar = if a.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new_spinner()
        };
        eprintln!(
            "wsprobe fuzz: {} from {} catalog seeds, seed {}",
            cfg.opts.target.url(),
            fuzz::seeds().len(),
            cfg.seed
        );
        let report = fuzz::fuzz(&cfg, |p| {
            bar.set_message(format!(
                "{} executions ({:.0}/s), {} behaviours, {} findings, corpus {}",
                p.executions,
                p.executions as f64 / p.elapsed.as_secs_f64().max(1e-9),
                p.behaviours,
                p.findings,
                p.corpus
            ));
            bar.tick();
        })
        .await;
        bar.finish_and_clear();
        let files = match fuzz::write_findings(&a.out, &report, &cfg) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("wsprobe: writing the findings: {e}");
                return Ok(ExitCode::from(app::EXIT_USAGE));
            }
        };
        let mut out = format!(
            "{} executions in {:.1} s ({:.0}/s), {} behaviours, {} findings\n",
            report.progress.executions,
            report.progress.elapsed.as_secs_f64(),
            report.rate(),
            report.progress.behaviours,
            report.findings.len()
        );
        for (f, path) in report.findings.iter().zip(&files) {
            out.push_str(&format!(
                "{}: {} ({} steps, reproduced {}/{}) -> {}\n",
                f.name(),
                f.detail,
                f.input.ops.len(),
                f.reproduced,
                f.confirmations,
                path.display()
            ));
        }
        if let Some(why) = &report.stopped {
            out.push_str(&format!("stopped: {why}\n"));
        }
        out.push_str(&format!("summary: {}\n", a.out.join("summary.json").display()));
        crate::print_out(&out)?;
        Ok(ExitCode::from(if report.findings.is_empty() { app::EXIT_OK } else { app::EXIT_FAILED }))
    })
}
