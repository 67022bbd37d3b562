//! `wsprobe cases`: lists the conformance catalog.

use std::path::PathBuf;
use std::process::ExitCode;

/// Output format.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A table.
    Table,
    /// JSON.
    Json,
}

/// Arguments of `wsprobe cases`.
#[derive(clap::Args)]
pub struct Args {
    /// Globs over case ids (`6.4.*`, `H.*`); comma-separated or repeated. All cases if none.
    pub pattern: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Load the catalog from DIR instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match wsprobe_conform::app::cases_command(a.catalog, &a.pattern, matches!(a.format, Format::Json)) {
        Ok(text) => {
            crate::print_out(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("wsprobe: {e}");
            Ok(ExitCode::from(wsprobe_conform::app::EXIT_USAGE))
        }
    }
}
