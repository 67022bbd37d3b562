//! `wsprobe test`: runs the conformance catalog against a WebSocket server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use wsprobe_conform::app;

/// Arguments of `wsprobe test`.
///
/// Exit codes: 0 nothing failed outside the baseline, 1 something did, 2 usage error,
/// 3 target unreachable.
#[derive(clap::Args)]
#[command(after_help = "\
What runs: Autobahn|Testsuite's server cases 1-7, 9, 10, 12, 13 under their own ids, and
wsprobe's own H.* (handshake), M.* (masking), S.* (server output) and P.* (permessage-deflate)
cases; `wsprobe cases [GLOB]` lists them. 12, 13 and the compressed P cases offer
permessage-deflate and are UNIMPLEMENTED when the target declines it. Every byte the target
sends is judged; a failure names a rule only when the bytes broke it.

Examples:
  wsprobe test                                    the built-in reference server
  wsprobe test ws://127.0.0.1:9001/ --junit junit.xml --report out/
  wsprobe test ws://127.0.0.1:9001/ --exclude '12.*,13.*'   skip the long compression runs
  wsprobe test ws://127.0.0.1:9001/ --baseline expected.json   known failures stay green
  wsprobe test wss://localhost:9443/ --ca ca.pem                 TLS, a private CA
  wsprobe test wss://example.com/ws --proxy http://user:pw@proxy:3128   through a proxy
  wsprobe reference-server --listen 127.0.0.1:9001 --fault text-as-binary   a broken target

TLS and proxies are transport: the same cases and verdicts as over ws://. A certificate,
protocol or alert failure of the TLS handshake, or a proxy that refuses CONNECT, ends the
run with exit code 3 and says which.

Exit codes: 0 nothing failed outside the baseline, 1 something did, 2 usage error,
3 target unreachable (TCP, proxy or TLS; or it stopped answering handshakes).")]
pub struct Args {
    /// Target, `ws://host[:port]/path`; without it the built-in reference server is started
    /// on a loopback port and tested.
    pub url: Option<String>,
    /// Extra request header, `-H 'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Subprotocol to offer (repeatable).
    #[arg(long = "protocol", value_name = "NAME")]
    pub protocols: Vec<String>,
    /// Origin header to send.
    #[arg(long)]
    pub origin: Option<String>,
    /// Agent name used in reports (default: the URL).
    #[arg(long)]
    pub agent: Option<String>,
    /// Cases to run, as globs over case ids (`1.*` is category 1 only); comma-separated or repeated.
    #[arg(long, value_name = "GLOBS")]
    pub cases: Vec<String>,
    /// Cases to skip, as globs; comma-separated or repeated.
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Vec<String>,
    /// Seconds allowed for each wait outside the cases' own timers (connect, handshake, close).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Cases run in parallel (default: 4 per CPU; category 9 runs one at a time).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Seed of the masking keys and Sec-WebSocket-Key nonces.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write an Autobahn-compatible report (index.json, per-case JSON, index.html) into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Write JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compare with expected results (case id -> behavior JSON).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Rewrite the --baseline file from this run.
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,
    /// Load the catalog from DIR instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// No progress output at all.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print a progress line per finished category instead of a progress bar (the
    /// default when stderr is not a terminal, as in CI).
    #[arg(long)]
    pub progress: bool,
    /// Multiply the timers that bound each case (fail-after, close-after, closing
    /// handshake waits) by F, for slow or loaded machines; waits that are part of a
    /// case keep their length. Passing cases do not wait for these timers.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub time_scale: f64,
    /// wss://: trust only the certificates in FILE (PEM: a CA, or the server's own
    /// self-signed certificate) instead of the system's root store.
    #[arg(long, value_name = "FILE", help_heading = "TLS and proxy")]
    pub ca: Option<PathBuf>,
    /// wss://: accept any server certificate (the handshake's signatures are still checked).
    #[arg(long, conflicts_with = "ca", help_heading = "TLS and proxy")]
    pub insecure: bool,
    /// wss://: present this client certificate chain (PEM); needs --key.
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "TLS and proxy")]
    pub cert: Option<PathBuf>,
    /// wss://: the private key of --cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "TLS and proxy")]
    pub key: Option<PathBuf>,
    /// Reach the target through an HTTP proxy with CONNECT (ws:// and wss://), as
    /// http://[user:pass@]host[:port] (port 8080 by default; Basic authentication).
    #[arg(long, value_name = "URL", help_heading = "TLS and proxy")]
    pub proxy: Option<String>,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 3600.0) {
        eprintln!("wsprobe: --timeout must be between 0 and 3600 seconds");
        return Ok(ExitCode::from(app::EXIT_USAGE));
    }
    if !(a.time_scale.is_finite() && (0.1..=100.0).contains(&a.time_scale)) {
        eprintln!("wsprobe: --time-scale must be between 0.1 and 100");
        return Ok(ExitCode::from(app::EXIT_USAGE));
    }
    let code = app::test_command(app::TestArgs {
        url: a.url,
        headers: a.headers,
        protocols: a.protocols,
        origin: a.origin,
        agent: a.agent,
        cases: a.cases,
        exclude: a.exclude,
        timeout: Duration::from_secs_f64(a.timeout),
        jobs: a.jobs.unwrap_or(0),
        seed: a.seed,
        report: a.report,
        junit: a.junit,
        baseline: a.baseline,
        update_baseline: a.update_baseline,
        catalog: a.catalog,
        quiet: a.quiet,
        progress_lines: a.progress,
        time_scale: a.time_scale,
        ca: a.ca,
        insecure: a.insecure,
        cert: a.cert,
        key: a.key,
        proxy: a.proxy,
    });
    Ok(ExitCode::from(code))
}
