//! `wsprobe`: a WebSocket (RFC 6455 / RFC 7692) conformance tester and protocol analyzer.
//!
//! Each subcommand lives in its own module with its own arguments; this file only
//! dispatches and turns errors into exit codes.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc: see the workspace Cargo.toml for why (cross-thread frees in dissect).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd_cases;
mod cmd_dissect;
mod cmd_frame;
mod cmd_fuzz;
mod cmd_reference_server;
mod cmd_rules;
mod cmd_serve;
mod cmd_test;
mod table_stream;

/// WebSocket conformance tester and protocol analyzer.
///
/// Every check wsprobe makes is a rule with a stable id and its RFC section; the
/// tester (`test`) and the analyzer (`dissect`) report the same rule ids.
#[derive(Parser)]
#[command(name = "wsprobe", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Decode WebSocket frames given as hex and judge them against RFC 6455 / 7692.
    Frame(cmd_frame::Args),
    /// Decode every WebSocket session in pcap/pcapng captures and flag RFC violations.
    Dissect(cmd_dissect::Args),
    /// Run the conformance catalog against a WebSocket server (the built-in one by default).
    Test(cmd_test::Args),
    /// List the conformance catalog.
    Cases(cmd_cases::Args),
    /// Test WebSocket clients: a server speaking Autobahn fuzzingserver's URL protocol.
    Serve(cmd_serve::Args),
    /// Fuzz a WebSocket server: mutated catalog cases, minimized replayable findings.
    Fuzz(cmd_fuzz::Args),
    /// Run the built-in conformant echo server.
    ReferenceServer(cmd_reference_server::Args),
    /// List the rules table: every check, its id, RFC section and requirement.
    Rules(cmd_rules::Args),
}

/// Writes `text` to standard output. A closed pipe (`wsprobe ... | head`) is not an
/// error worth a message: it surfaces as an `io::Error` of kind `BrokenPipe`, which
/// `main` turns into a quiet exit.
pub(crate) fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Frame(a) => cmd_frame::run(a),
        Command::Dissect(a) => cmd_dissect::run(a),
        Command::Test(a) => cmd_test::run(a),
        Command::Serve(a) => cmd_serve::run(a),
        Command::Fuzz(a) => cmd_fuzz::run(a),
        Command::Cases(a) => cmd_cases::run(a),
        Command::ReferenceServer(a) => cmd_reference_server::run(a),
        Command::Rules(a) => cmd_rules::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsprobe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
