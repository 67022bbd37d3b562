//! `wsprobe test` (being written).

use std::process::ExitCode;

/// Arguments of `wsprobe test`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
