//! `wsprobe rules`: the rules table, every check with its id and RFC section.

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::process::ExitCode;
use wsprobe_wire::Rule;

/// List every rule wsprobe checks: its stable id, RFC section, level and requirement.
///
/// The same ids appear in `wsprobe dissect` violations and in `wsprobe test` failures.
#[derive(clap::Args)]
pub struct Args {
    /// Only rules whose id starts with this prefix (e.g. `close.`, `hs.`).
    prefix: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rules: Vec<_> = Rule::ALL
        .iter()
        .map(|r| r.info())
        .filter(|i| args.prefix.as_deref().is_none_or(|p| i.id.starts_with(p)))
        .collect();
    if rules.is_empty() {
        anyhow::bail!(
            "no rule id starts with {:?}; `wsprobe rules` lists them all",
            args.prefix.unwrap_or_default()
        );
    }
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&rules)? + "\n",
        Format::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(vec!["rule", "RFC", "level", "requirement"]);
            for i in &rules {
                t.add_row(vec![
                    i.id.to_string(),
                    format!("{} §{}", i.rfc, i.section),
                    format!("{:?}", i.level).to_uppercase(),
                    i.requirement.to_string(),
                ]);
            }
            format!("{t}\n{} rules\n", rules.len())
        }
    };
    crate::print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}
