//! `wsprobe serve`: conformance testing of WebSocket clients through Autobahn
//! fuzzingserver's URL protocol.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wsprobe_conform::catalog::Catalog;
use wsprobe_conform::report;
use wsprobe_conform::runner::{RunOptions, Target};
use wsprobe_conform::serve::{ServeConfig, serve};
use wsprobe_conform::transport;

/// Arguments of `wsprobe serve`.
#[derive(clap::Args)]
#[command(after_help = "\
The URL protocol (Autobahn fuzzingserver's, so existing client drivers work unchanged):
  /getCaseCount                    a text message with the number of cases
  /runCase?case=N&agent=A          the N-th case (1-based) against the connecting client:
                                   echo every message back, answer pings and closes
  /getCaseInfo?case=N              {\"id\": ..., \"description\": ...}
  /getCaseStatus?case=N&agent=A    {\"behavior\": ...} of A's last run of case N
  /updateReports?agent=A           writes the reports (and ends the run with --once)

A driver, with Python websockets (peers/python/fuzzingclient.py is a complete one):
  import asyncio, websockets
  async def main(base='ws://127.0.0.1:9001', agent='my-client'):
      async with websockets.connect(f'{base}/getCaseCount') as ws:
          n = int(await ws.recv())
      for i in range(1, n + 1):
          try:
              async with websockets.connect(f'{base}/runCase?case={i}&agent={agent}',
                                            max_size=None) as ws:
                  async for message in ws:
                      await ws.send(message)
          except websockets.ConnectionClosed:
              pass
      async with websockets.connect(f'{base}/updateReports?agent={agent}') as ws:
          pass
  asyncio.run(main())

The catalog: Autobahn's categories 1-7, 9, 10, 12 and 13 in the server-to-client direction
(in 12 and 13 the server accepts the client's permessage-deflate offer, asking what
Autobahn's fuzzingserver asks in 13.2-13.7: client_no_context_takeover and/or
client_max_window_bits=9 or 15; a client that offers nothing gets UNIMPLEMENTED), and
wsprobe's C.* cases (a masked server frame, a 101 with a wrong Accept, without Upgrade or
Connection, with an extension or subprotocol the client did not offer: the client must fail
the connection; eight echoes with fresh masking keys). In every case the client's request
is judged (hs.request-*), its masking keys (mask.key-predictable: all-zero, repeated, or
reused from another connection) and its Sec-WebSocket-Key against its earlier connections
(hs.request-key-reused).

In CI:  wsprobe serve --once --report out/ --junit junit.xml & ./my-client-driver; wait
Several clients at once: give each driver its own agent name and --agents N.
A browser: open http://ADDR/ (the page runs the catalog with the browser's WebSocket and
reports under the browser's name; ?agent=NAME to choose one, ?cases=N for the first N).
wss:// clients: --tls-cert cert.pem --tls-key key.pem (the page is then at https://ADDR/).

Exit codes (with --once): 0 nothing failed outside the baseline, 1 something did, 2 usage
error.")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001", value_name = "ADDR")]
    listen: String,
    /// Write Autobahn-compatible reports (index.json, per-case JSON, index.html) into DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Write JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Exit after the first updateReports, with the exit code of `wsprobe test`.
    #[arg(long)]
    once: bool,
    /// With --once: exit after the updateReports of N different agents (drivers that
    /// run at the same time; their cases run concurrently).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    agents: u32,
    /// No line per case on stderr (by default each case's verdict is written as it ends:
    /// AGENT: case N/TOTAL ID BEHAVIOR (close BEHAVIOR, MS ms)).
    #[arg(long, short)]
    quiet: bool,
    /// Compare with expected results (case id -> behavior JSON, as `wsprobe test` writes):
    /// failures it lists do not fail the run.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Rewrite the --baseline file from this run (with --once).
    #[arg(long, requires = "baseline")]
    update_baseline: bool,
    /// Cases to serve, as globs over case ids; comma-separated or repeated (default: all of
    /// the client catalog: Autobahn's 1-7, 9, 10, 12, 13 and wsprobe's C.*).
    #[arg(long, value_name = "GLOBS")]
    cases: Vec<String>,
    /// Cases to leave out, as globs.
    #[arg(long, value_name = "GLOBS")]
    exclude: Vec<String>,
    /// Seconds allowed for each wait outside the cases' own timers (request, close).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    timeout: f64,
    /// Multiply the cases' own timers (waits, fail-after) by this factor.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    time_scale: f64,
    /// Serve wss:// (and https:// for the browser page) with this certificate chain
    /// (PEM, leaf first); needs --tls-key. Clients must trust it (for example
    /// NODE_EXTRA_CA_CERTS=FILE for Node, SSL_CERT_FILE=FILE for Python).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cases = match Catalog::for_clients().select(&args.cases, &args.exclude) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            eprintln!("wsprobe: --cases selects no case (`wsprobe cases` lists them)");
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("wsprobe: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let positive = |v: f64| v > 0.0 && v.is_finite();
    if !positive(args.timeout) || !positive(args.time_scale) {
        eprintln!("wsprobe: --timeout and --time-scale must be positive");
        return Ok(ExitCode::from(2));
    }
    let mut opts = RunOptions::new(Target::parse("ws://127.0.0.1:9/").map_err(anyhow::Error::msg)?);
    opts.timeout = Duration::from_secs_f64(args.timeout);
    opts.time_scale = args.time_scale;
    let baseline = match &args.baseline {
        Some(p) if p.exists() || !args.update_baseline => match report::read_baseline(p) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("wsprobe: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        _ => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => match transport::server_config(c, k) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                eprintln!("wsprobe: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        _ => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let all_ran = args.cases.is_empty() && args.exclude.is_empty();
    let n = cases.len();
    let cfg = Arc::new(ServeConfig {
        cases,
        opts,
        report: args.report,
        junit: args.junit,
        once: args.once,
        agents: args.agents as usize,
        progress: !args.quiet,
        tls,
    });
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("wsprobe: cannot listen on {}: {e}", args.listen);
                return Ok(ExitCode::from(2));
            }
        };
        let addr = listener.local_addr()?;
        eprintln!("wsprobe serve: {n} cases at {scheme}://{addr}/ (getCaseCount, runCase, updateReports)");
        let outcome = match serve(listener, cfg).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("wsprobe: writing the reports: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        let mut unexpected = 0;
        for (agent, results) in &outcome.agents {
            let diffs =
                baseline.as_ref().map(|b| report::diff_baseline(results, b, all_ran)).unwrap_or_default();
            crate::print_out(&report::console(results, baseline.as_ref(), &diffs))?;
            crate::print_out(&format!("{agent}: {}\n", report::Counts::of(results).line()))?;
            unexpected += results
                .iter()
                .filter(|r| {
                    r.verdict.outcome == wsprobe_conform::Outcome::Failed
                        && !report::failure_expected(r, baseline.as_ref())
                })
                .count();
            if args.update_baseline
                && let Some(p) = &args.baseline
            {
                let b = report::make_baseline(results, baseline.as_ref());
                if let Err(e) = report::write_baseline(p, &b) {
                    eprintln!("wsprobe: {e}");
                    return Ok(ExitCode::from(2));
                }
                eprintln!("wsprobe: baseline {} updated ({} cases)", p.display(), b.len());
            }
        }
        Ok(if unexpected > 0 && !args.update_baseline { ExitCode::from(1) } else { ExitCode::SUCCESS })
    })
}
