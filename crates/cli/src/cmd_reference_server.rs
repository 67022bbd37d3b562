//! `wsprobe reference-server`: the built-in conformant echo server.

use std::process::ExitCode;

/// Arguments of `wsprobe reference-server`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (printed as `LISTENING <port>`).
    #[arg(long, default_value = "127.0.0.1:9001", value_name = "ADDR")]
    pub listen: String,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    wsprobe_conform::app::reference_server_command(&a.listen).map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}
