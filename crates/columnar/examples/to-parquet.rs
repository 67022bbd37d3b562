//! Dissects captures into a Parquet dataset directory, streaming (what
//! `wsprobe dissect --format parquet --out DIR` does):
//!
//! ```sh
//! cargo run -p wsprobe-columnar --example to-parquet -- out/ captures/*.pcap
//! ```

use std::path::Path;
use std::process::ExitCode;
use wsprobe_columnar::ParquetSink;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, captures)) = args.split_first() else {
        eprintln!("usage: to-parquet OUT_DIR CAPTURE...");
        return ExitCode::from(2);
    };
    let opts = wsprobe_dissect::Options { frames: true, text: false, ..Default::default() };
    let mut status = ExitCode::SUCCESS;
    for cap in captures {
        let file = match std::fs::File::open(cap) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => {
                eprintln!("{cap}: {e}");
                status = ExitCode::from(2);
                continue;
            }
        };
        let mut sink = match ParquetSink::create(Path::new(out), cap) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let mut failed = None;
        let result = wsprobe_dissect::dissect_reader(file, cap, &opts, &mut |r| {
            if failed.is_none() {
                failed = sink.push(&r).err();
            }
        });
        if let Some(e) = failed {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        if let Err(e) = result {
            eprintln!("{e}");
            status = ExitCode::from(2);
        }
        match sink.finish() {
            Ok(n) => println!(
                "{cap}: {} sessions, {} messages, {} frames, {} violations, {} events, {} warnings",
                n.sessions, n.messages, n.frames, n.violations, n.events, n.warnings
            ),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    status
}
