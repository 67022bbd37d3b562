//! `wsprobe reference-server`: the built-in conformant echo server.

use std::process::ExitCode;

/// Arguments of `wsprobe reference-server`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (printed as `LISTENING <port>`).
    #[arg(long, default_value = "127.0.0.1:9001", value_name = "ADDR")]
    pub listen: String,
    /// Break the server on purpose, to see what wsprobe reports (repeatable):
    /// text-as-binary, silent, flood, garbage, no-handshake-answer, wrong-pong,
    /// mask-frames, pmd-ignore-window, ... (an unknown name lists them all).
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    wsprobe_conform::app::reference_server_command(&a.listen, &a.faults).map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}
