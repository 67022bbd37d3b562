//! `wsprobe frame`: decode frames given as hex and judge them.

use anyhow::{Context, bail};
use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::process::ExitCode;
use wsprobe_wire::deflate::{PmdConfig, parse_params};
use wsprobe_wire::extensions::parse_extensions;
use wsprobe_wire::{Established, Event, FrameEvent, Limits, Message, Role, Session, Violation};

/// Decode one or more WebSocket frames given in hex, print every field and judge them.
///
/// The hex arguments are joined into one byte stream (spaces, colons and a 0x prefix
/// are ignored), so several frames, or a frame cut short, can be given. Example (the
/// masked "Hello" of RFC 6455 §5.7):
///
///     wsprobe frame --role client 818537fa213d7f9f4d5158
///
/// `-` reads the hex from standard input instead.
///
/// Exit code 0 when no rule is broken, 1 when one is or the input ends inside a frame,
/// 2 for bad input (not hex, or no bytes at all).
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Who sent the bytes: a client must mask its frames, a server must not.
    #[arg(long, value_enum, default_value_t = RoleArg::Client)]
    role: RoleArg,
    /// permessage-deflate as negotiated, e.g. "client_no_context_takeover" or
    /// "permessage-deflate; client_max_window_bits=10". Enables RSV1 and inflating.
    #[arg(long, value_name = "PARAMS")]
    deflate: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The frame bytes, in hex (`-`: read them from standard input).
    #[arg(required = true, value_name = "HEX")]
    hex: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Client,
    Server,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Everything decoded, for the JSON output.
#[derive(Serialize)]
struct Decoded {
    frames: Vec<FrameOut>,
    messages: Vec<MessageOut>,
    violations: Vec<ViolationOut>,
    incomplete: Option<String>,
}

#[derive(Serialize)]
struct FrameOut {
    #[serde(flatten)]
    frame: FrameEvent,
    payload_hex: String,
}

#[derive(Serialize)]
struct MessageOut {
    #[serde(flatten)]
    message: Message,
    payload_text: Option<String>,
    payload_hex: String,
}

#[derive(Serialize)]
struct ViolationOut {
    #[serde(flatten)]
    violation: Violation,
    rfc: u16,
    section: &'static str,
    requirement: &'static str,
}

/// Parses hex with separators ignored; names the position of a bad digit.
fn parse_hex(args: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut digits = String::new();
    for a in args {
        let a = a.strip_prefix("0x").unwrap_or(a);
        digits.extend(a.chars().filter(|c| !matches!(c, ' ' | ':' | '-' | '_' | '\n' | '\t')));
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        bail!("not a hex digit: {c:?} at position {i} of the hex input");
    }
    if digits.len() % 2 == 1 {
        bail!("odd number of hex digits ({}): the last byte is incomplete", digits.len());
    }
    hex::decode(&digits).context("bad hex")
}

/// `--deflate` value to the negotiated configuration.
fn parse_deflate(spec: &str) -> anyhow::Result<PmdConfig> {
    let spec = spec.trim();
    let full = if spec.starts_with(wsprobe_wire::deflate::NAME) || spec.is_empty() {
        format!(
            "{}{}",
            wsprobe_wire::deflate::NAME,
            spec.strip_prefix(wsprobe_wire::deflate::NAME).unwrap_or("")
        )
    } else {
        format!("{}; {spec}", wsprobe_wire::deflate::NAME)
    };
    let exts = parse_extensions(&full).map_err(|e| anyhow::anyhow!("--deflate {full:?}: {e}"))?;
    let [ext] = exts.as_slice() else {
        bail!("--deflate: give the parameters of one permessage-deflate element")
    };
    let params = parse_params(ext).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|(r, d)| format!("{d} ({r})")).collect();
        anyhow::anyhow!("--deflate {full:?}: {}", list.join("; "))
    })?;
    Ok(PmdConfig::from_params(&params))
}

/// Decodes `bytes` as sent by `role`.
fn decode(bytes: &[u8], role: Role, pmd: Option<PmdConfig>) -> Decoded {
    let mut s = Session::established(Limits::default(), Established { pmd });
    let dir = role.sends();
    let mut events = Vec::new();
    s.feed(dir, bytes, &mut events);
    let incomplete = s.pending_header(dir).map(|(have, needed)| {
        format!("the input ends inside a frame header: {have} bytes given, at least {needed} more needed")
    });
    s.finish(&mut events);
    let mut d = Decoded { frames: Vec::new(), messages: Vec::new(), violations: Vec::new(), incomplete };
    for e in events {
        match e {
            Event::Frame(f) => {
                if f.missing > 0 && d.incomplete.is_none() {
                    d.incomplete = Some(format!(
                        "the input ends inside the payload of frame #{}: {} of {} payload bytes missing",
                        d.frames.len() + 1,
                        f.missing,
                        f.header.payload_len
                    ));
                }
                d.frames.push(FrameOut { payload_hex: hex::encode(&f.payload), frame: f });
            }
            Event::Message(m) => d.messages.push(MessageOut {
                payload_text: (m.opcode == wsprobe_wire::OpCode::TEXT)
                    .then(|| String::from_utf8_lossy(&m.payload).into_owned()),
                payload_hex: hex::encode(&m.payload),
                message: m,
            }),
            Event::Violation(v) => {
                let info = v.rule.info();
                d.violations.push(ViolationOut {
                    violation: v,
                    rfc: info.rfc,
                    section: info.section,
                    requirement: info.requirement,
                })
            }
            _ => {}
        }
    }
    d
}

fn preview(bytes: &[u8], total: u64) -> String {
    let shown = bytes.len().min(32);
    let text = match std::str::from_utf8(&bytes[..shown]) {
        Ok(t) if t.chars().all(|c| !c.is_control()) => format!("{t:?}"),
        _ => hex::encode(&bytes[..shown]),
    };
    if (shown as u64) < total { format!("{text}… ({total} B)") } else { text }
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    t
}

fn render_table(d: &Decoded, role: Role) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "Frames sent by the {role}:");
    let mut t = table(&["#", "offset", "FIN", "RSV", "opcode", "MASK", "key", "length", "payload"]);
    for (i, f) in d.frames.iter().enumerate() {
        let h = &f.frame.header;
        t.add_row(vec![
            (i + 1).to_string(),
            f.frame.offset.to_string(),
            u8::from(h.fin).to_string(),
            format!("{:03b}", h.rsv()),
            format!("{} (0x{:X})", h.opcode, h.opcode.0),
            u8::from(h.masked).to_string(),
            h.mask_key.map(hex::encode).unwrap_or_else(|| "-".into()),
            format!("{} ({}-bit form)", h.payload_len, h.length_form.bits()),
            preview(&f.frame.payload, h.payload_len),
        ]);
    }
    let _ = writeln!(o, "{t}");
    if !d.messages.is_empty() {
        let _ = writeln!(o, "Messages:");
        let mut t = table(&["opcode", "frames", "length", "compressed", "payload"]);
        for m in &d.messages {
            let m = &m.message;
            let mut payload = preview(&m.payload, m.len);
            if let Some(c) = &m.close {
                payload = format!(
                    "code {} reason {:?}",
                    c.code.map_or("none".into(), |c| c.to_string()),
                    c.reason_lossy()
                );
            }
            if m.incomplete {
                payload.push_str(" [incomplete]");
            }
            t.add_row(vec![
                m.opcode.to_string(),
                m.frames.to_string(),
                m.len.to_string(),
                m.compressed.to_string(),
                payload,
            ]);
        }
        let _ = writeln!(o, "{t}");
    }
    if let Some(why) = &d.incomplete {
        let _ = writeln!(o, "Incomplete: {why}.");
    }
    if d.violations.is_empty() {
        let _ = writeln!(o, "No violations.");
    } else {
        let _ = writeln!(o, "Violations:");
        let mut t = table(&["rule", "RFC", "by", "offset", "detail", "requirement"]);
        for v in &d.violations {
            t.add_row(vec![
                v.violation.rule.id().to_string(),
                format!("{} §{}", v.rfc, v.section),
                v.violation.by.to_string(),
                v.violation.offset.to_string(),
                v.violation.detail.clone(),
                v.requirement.to_string(),
            ]);
        }
        let _ = writeln!(o, "{t}");
    }
    o
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = if args.hex == ["-"] {
        use std::io::Read;
        let mut text = String::new();
        // Hex of at most 16 MiB of frames.
        std::io::stdin().take(32 << 20).read_to_string(&mut text).context("reading standard input")?;
        parse_hex(&[text])?
    } else {
        parse_hex(&args.hex)?
    };
    if bytes.is_empty() {
        bail!("no frame bytes given (hex digits, or - to read them from standard input)");
    }
    let pmd = args.deflate.as_deref().map(parse_deflate).transpose()?;
    let role = match args.role {
        RoleArg::Client => Role::Client,
        RoleArg::Server => Role::Server,
    };
    let d = decode(&bytes, role, pmd);
    match args.format {
        Format::Table => crate::print_out(&render_table(&d, role))?,
        Format::Json => crate::print_out(&(serde_json::to_string_pretty(&d)? + "\n"))?,
    }
    // Bytes cut short are not a clean frame either.
    Ok(if d.violations.is_empty() && d.incomplete.is_none() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_errors_name_the_position() {
        let e = parse_hex(&["81 8g".into()]).unwrap_err().to_string();
        assert!(e.contains("position 3"), "{e}");
        assert!(parse_hex(&["818".into()]).unwrap_err().to_string().contains("odd"));
        assert_eq!(parse_hex(&["0x81:05".into(), "48".into()]).unwrap(), vec![0x81, 0x05, 0x48]);
    }

    #[test]
    fn rfc_hello_decodes_clean() {
        let d = decode(&parse_hex(&["818537fa213d7f9f4d5158".into()]).unwrap(), Role::Client, None);
        assert_eq!(d.messages[0].payload_text.as_deref(), Some("Hello"));
        assert!(d.violations.is_empty() && d.incomplete.is_none());
    }

    #[test]
    fn truncated_header_says_how_much_is_missing() {
        let d = decode(&[0x81, 0xFE, 0x01], Role::Client, None);
        assert!(d.incomplete.unwrap().contains("at least"));
    }

    #[test]
    fn deflate_param_forms() {
        assert!(parse_deflate("client_no_context_takeover").unwrap().client_no_context_takeover);
        assert_eq!(
            parse_deflate("permessage-deflate; server_max_window_bits=10").unwrap().server_max_window_bits,
            10
        );
        assert!(parse_deflate("server_max_window_bits=7").is_err());
    }
}
