//! `wsprobe dissect`: every WebSocket session in pcap/pcapng captures, with its
//! frames, messages and violations. The decoding is `wsprobe_dissect`'s; this module
//! parses options, filters records and prints them.

use crate::table_stream::TableStream;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use wsprobe_dissect::{DissectError, Options, PayloadMode, Record, Summary, rule_matches};

/// Output format.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Rows as they are decoded: sessions (found, ended with their counts), violations
    /// and warnings, then a summary; `--messages` adds every message.
    Table,
    /// One JSON object per line (schema in crates/dissect/README.md).
    Jsonl,
    /// The stable text transcript (format in crates/dissect/README.md).
    Transcript,
    /// Parquet files under `--out DIR`, one dataset per record type, partitioned by
    /// capture file (layout and columns in crates/columnar/README.md).
    Parquet,
}

/// How much message payload to show.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Payload {
    /// None.
    None,
    /// A short preview (quoted text or hex).
    Preview,
    /// The whole payload, base64, in jsonl (`payload_b64`).
    Full,
}

/// Arguments of `wsprobe dissect`.
#[derive(clap::Args)]
pub struct Args {
    /// Capture files, pcap or pcapng; `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Directory of the Parquet datasets (`--format parquet`): DIR/messages/capture=NAME/part-0.parquet
    /// and so on; several processes may write different captures into one DIR at once.
    #[arg(long, value_name = "DIR", required_if_eq("format", "parquet"))]
    out: Option<PathBuf>,
    /// Message payload shown.
    #[arg(long, value_enum, default_value = "preview")]
    payload: Payload,
    /// Also report every frame (jsonl "frame" records; the transcript always lists frames).
    #[arg(long)]
    frames: bool,
    /// Table output: a row for every message (and every hole or resynchronisation) too.
    #[arg(long)]
    messages: bool,
    /// Print counts at the end: sessions, messages per opcode, bytes, violations per rule
    /// (always printed with the table output).
    #[arg(long)]
    summary: bool,
    /// Show only this session (repeatable).
    #[arg(long = "session", value_name = "N")]
    sessions: Vec<u64>,
    /// Show only violations of rules matching this id (`*` and `?` wildcards; repeatable).
    #[arg(long = "rule", value_name = "ID")]
    rules: Vec<String>,
    /// Exit with status 1 when a violation (after filters) is reported.
    #[arg(long)]
    fail_on_violation: bool,
    /// Do not look for WebSocket frames in connections whose handshake is not captured.
    #[arg(long)]
    no_sync: bool,
    /// Largest decompressed message, in bytes; past it limit.inflated-size is reported.
    #[arg(long, value_name = "BYTES")]
    inflate_max: Option<usize>,
    /// Decrypt TLS sessions (wss://) with this NSS key log (what SSLKEYLOGFILE makes
    /// browsers, curl, Python and Node write; repeatable). Secrets embedded in a pcapng
    /// capture (`editcap --inject-secrets tls,FILE`) are used without it.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
}

/// Reads the key logs; lines that are not key log lines are counted and named on stderr.
fn read_keylogs(files: &[PathBuf]) -> Result<Option<std::sync::Arc<wsprobe_dissect::KeyLog>>, String> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut log = wsprobe_dissect::KeyLog::default();
    for f in files {
        let text = std::fs::read(f).map_err(|e| format!("--keylog {}: {e}", f.display()))?;
        let (before, kept) = (log.skipped_count, log.skipped.len());
        log.add(&text);
        let skipped = log.skipped_count - before;
        if skipped > 0 {
            let first = log.skipped.get(kept);
            let example = first.map(|k| format!(" (line {}: {})", k.line, k.reason)).unwrap_or_default();
            eprintln!("wsprobe: --keylog {}: {skipped} lines skipped{example}", f.display());
        }
    }
    if log.is_empty() {
        return Err(format!(
            "--keylog: no TLS secrets in {}",
            files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(Some(std::sync::Arc::new(log)))
}

impl Args {
    fn keep(&self, r: &Record) -> bool {
        if !self.sessions.is_empty() && !r.session().is_some_and(|s| self.sessions.contains(&s)) {
            return false;
        }
        match r {
            Record::Violation(v) if !self.rules.is_empty() => {
                self.rules.iter().any(|p| rule_matches(p, &v.rule))
            }
            _ => true,
        }
    }
}

/// A reader that advances a progress bar by the bytes it reads.
struct Progress<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: std::io::Read> std::io::Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// A bar over the file's size, on standard error when it is a terminal (hidden
/// otherwise, so piped and CI output stay clean).
fn progress_bar(f: &std::fs::File, name: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {elapsed} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(name.to_string());
    bar
}

/// JSON bytes handed to the writer thread at a time.
const JSONL_BATCH: usize = 256 << 10;

/// Writes blocks of JSON lines to standard output until the channel closes, handing
/// each emptied block back through `spent` for reuse.
fn write_jsonl(rx: Receiver<Vec<u8>>, spent: SyncSender<Vec<u8>>) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for mut block in rx {
        w.write_all(&block)?;
        block.clear();
        // Full: the decoding side has blocks enough; this one is dropped.
        let _ = spent.try_send(block);
    }
    w.flush()
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let table_rows = args.format == Format::Table;
    // The table prints messages only with --messages: without them, no previews or
    // transcript lines are built.
    let quiet_table = table_rows && !args.messages;
    let mut opts = Options {
        sync: !args.no_sync,
        frames: args.frames || args.format == Format::Transcript,
        text: args.format == Format::Transcript || (table_rows && args.messages),
        payload: match args.payload {
            _ if quiet_table => PayloadMode::None,
            Payload::None => PayloadMode::None,
            Payload::Preview => PayloadMode::Preview,
            Payload::Full => PayloadMode::Full,
        },
        ..Options::default()
    };
    if let Some(n) = args.inflate_max {
        opts.limits.inflate_max = n;
    }
    match read_keylogs(&args.keylog) {
        Ok(k) => opts.keylog = k,
        Err(e) => {
            eprintln!("wsprobe: {e}");
            return Ok(ExitCode::from(2));
        }
    }
    // A --rule pattern that matches no rule id is a typo: say so instead of showing nothing.
    for p in &args.rules {
        if !wsprobe_wire::Rule::ALL.iter().any(|r| rule_matches(p, r.id())) {
            eprintln!("wsprobe: --rule {p:?} matches no rule id (`wsprobe rules` lists them)");
            return Ok(ExitCode::from(2));
        }
    }
    let mut summary = Summary::default();
    let mut errors: Vec<DissectError> = Vec::new();
    let many = args.files.len() > 1;
    // Rows go out as they are decoded: line by line when someone may be watching (a
    // terminal, or a live capture on standard input), in blocks otherwise.
    let live = std::io::stdout().is_terminal() || args.files.iter().any(|f| f.as_os_str() == "-");
    let out: Box<dyn Write> = if live {
        Box::new(std::io::LineWriter::new(std::io::stdout()))
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
    };
    let mut table = TableStream::new(out, args.messages, args.payload != Payload::None);
    for path in &args.files {
        let name = path.display().to_string();
        if table_rows {
            table.file(&name, many)?;
        }
        let mut table_err: Option<std::io::Error> = None;
        let mut parquet = match (&args.out, args.format) {
            (Some(dir), Format::Parquet) => Some(wsprobe_columnar::ParquetSink::create(dir, &name)?),
            _ => None,
        };
        let mut parquet_err: Option<wsprobe_columnar::ColumnarError> = None;
        let mut kept: Vec<Record> = Vec::new();
        let mut out_err: Option<std::io::Error> = None;
        let mut next_session = opts.first_session;
        let result = std::thread::scope(|scope| {
            // jsonl is serialised where the records arrive (so that each record is freed
            // by the thread that took it, not a third one) and written on a thread of its
            // own, in blocks, so that decoding never waits for the terminal. Written
            // blocks come back for reuse: fresh ones cost page faults.
            let (tx, rx) = sync_channel::<Vec<u8>>(4);
            let (spent_tx, spent_rx) = sync_channel::<Vec<u8>>(4);
            let writer =
                (args.format == Format::Jsonl).then(|| scope.spawn(move || write_jsonl(rx, spent_tx)));
            let mut batch: Vec<u8> = Vec::with_capacity(JSONL_BATCH + 4096);
            let mut sink = |r: Record| {
                if let Record::Session(s) = &r {
                    next_session = next_session.max(s.session + 1);
                }
                if !args.keep(&r) {
                    return;
                }
                summary.add(&r);
                match args.format {
                    Format::Jsonl => {
                        wsprobe_dissect::write_record(&r, &mut batch);
                        batch.push(b'\n');
                        if batch.len() >= JSONL_BATCH {
                            // A send fails only when the writer stopped on an output
                            // error, which is reported below.
                            let next = spent_rx
                                .try_recv()
                                .unwrap_or_else(|_| Vec::with_capacity(JSONL_BATCH + 4096));
                            let _ = tx.send(std::mem::replace(&mut batch, next));
                        }
                    }
                    Format::Table => {
                        if table_err.is_none()
                            && let Err(e) = table.record(&r)
                        {
                            table_err = Some(e);
                        }
                    }
                    Format::Transcript => kept.push(r),
                    Format::Parquet => {
                        if parquet_err.is_none()
                            && let Some(p) = parquet.as_mut()
                            && let Err(e) = p.push(&r)
                        {
                            parquet_err = Some(e);
                        }
                    }
                }
            };
            let res = if name == "-" {
                wsprobe_dissect::dissect_reader(std::io::stdin(), "-", &opts, &mut sink)
            } else {
                match std::fs::File::open(path) {
                    Ok(f) => {
                        let bar = progress_bar(&f, &name);
                        let res = wsprobe_dissect::dissect_reader(
                            Progress { inner: f, bar: bar.clone() },
                            &name,
                            &opts,
                            &mut sink,
                        );
                        bar.finish_and_clear();
                        res
                    }
                    Err(e) => Err(DissectError {
                        file: name.clone(),
                        offset: 0,
                        message: format!("cannot open: {e}"),
                    }),
                }
            };
            let _ = tx.send(batch);
            drop(tx);
            if let Some(w) = writer {
                match w.join() {
                    Ok(Err(e)) => out_err = Some(e),
                    Ok(Ok(())) => {}
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            res
        });
        if let Some(e) = out_err.or(table_err) {
            return Err(e.into());
        }
        if let Some(e) = parquet_err {
            return Err(e.into());
        }
        if let Some(p) = parquet {
            let rows = p.finish()?;
            eprintln!("wsprobe: {name}: {} Parquet rows written", rows.total());
        }
        let error = match result {
            Ok(s) => {
                summary.packets += s.packets;
                summary.connections += s.connections;
                None
            }
            Err(e) => Some(e),
        };
        opts.first_session = next_session;
        let unreadable = kept.is_empty() && error.is_some();
        match args.format {
            Format::Jsonl | Format::Parquet => {}
            _ if unreadable => {}
            Format::Transcript => {
                let mut text = String::new();
                if many {
                    text.push_str(&format!("== {name}\n"));
                }
                text.push_str(&wsprobe_dissect::render_transcript(&kept, error.as_ref()));
                crate::print_out(&text)?;
            }
            Format::Table => table.flush()?,
        }
        if let Some(e) = error {
            eprintln!("wsprobe: error: {e}");
            errors.push(e);
        }
    }
    if table_rows {
        if table.sessions() == 0 {
            table.note(if args.sessions.is_empty() {
                "no WebSocket sessions"
            } else {
                "no such session here"
            })?;
        }
        table.finish()?;
    }
    if args.summary || table_rows {
        let text = match args.format {
            Format::Jsonl | Format::Parquet => {
                let mut v = serde_json::to_value(&summary)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("type".into(), "summary".into());
                }
                format!("{v}\n")
            }
            _ => summary_text(&summary),
        };
        crate::print_out(&text)?;
    }
    let last = opts.first_session - 1;
    let missing: Vec<String> =
        args.sessions.iter().filter(|&&n| n == 0 || n > last).map(|n| n.to_string()).collect();
    if !missing.is_empty() {
        let held = if last == 0 { "no WebSocket sessions".to_owned() } else { format!("sessions 1-{last}") };
        eprintln!("wsprobe: no session {} (the input holds {held})", missing.join(", "));
        return Ok(ExitCode::from(2));
    }
    if !errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    if args.fail_on_violation && summary.violation_count() > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn new_table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    t
}

fn summary_text(s: &Summary) -> String {
    let mut t = new_table(&["summary", "count"]);
    t.add_row(vec!["packets".to_string(), s.packets.to_string()]);
    t.add_row(vec!["TCP connections".to_string(), s.connections.to_string()]);
    t.add_row(vec!["sessions".to_string(), s.sessions.to_string()]);
    for (k, v) in &s.handshakes {
        t.add_row(vec![format!("  handshake {k}"), v.to_string()]);
    }
    t.add_row(vec!["messages".to_string(), s.message_count().to_string()]);
    for (k, v) in &s.messages {
        t.add_row(vec![format!("  {k}"), v.to_string()]);
    }
    t.add_row(vec!["message bytes (decompressed)".to_string(), s.message_bytes.to_string()]);
    t.add_row(vec!["message bytes (wire)".to_string(), s.wire_bytes.to_string()]);
    if s.gaps > 0 {
        t.add_row(vec!["bytes lost in capture".to_string(), format!("{} in {} holes", s.gap_bytes, s.gaps)]);
    }
    t.add_row(vec!["violations".to_string(), s.violation_count().to_string()]);
    for (k, v) in &s.violations {
        t.add_row(vec![format!("  {k}"), v.to_string()]);
    }
    if s.warnings > 0 {
        t.add_row(vec!["warnings".to_string(), s.warnings.to_string()]);
    }
    format!("{t}\n")
}
