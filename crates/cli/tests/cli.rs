//! The binary as a user runs it: exit codes and messages for bad or partial input.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn wsprobe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wsprobe"))
}

fn repo_file(p: &str) -> String {
    format!("{}/../../{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn frame_reads_stdin_and_refuses_nothing() {
    let mut c = wsprobe().args(["frame", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    c.stdin.take().unwrap().write_all(b"81 85 37fa213d 7f9f4d5158\n").unwrap();
    let out = c.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Hello"));

    let out = wsprobe().args(["frame", ""]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no frame bytes"));

    // Cut short: not a clean exit.
    let out = wsprobe().args(["frame", "8105", "48656c"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn dissect_names_a_missing_session_and_an_unknown_rule() {
    let cap = repo_file("captures/basic-echo.pcap");
    let out = wsprobe().args(["dissect", &cap, "--session", "99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session 99 (the input holds sessions 1-1)"));
    let out = wsprobe().args(["dissect", &cap, "--rule", "nosuch.*"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches no rule id"));
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let mut c = wsprobe().arg("cases").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 16];
    c.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(c.stdout.take());
    let out = c.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0));
}

/// `dissect --format parquet --out DIR`, two captures written by two processes at once
/// into one DIR, read back by DuckDB: per record type and capture, as many rows as the
/// jsonl output has records.
#[test]
fn dissect_parquet_matches_jsonl_in_duckdb() {
    let py = std::path::PathBuf::from(repo_file("peers/.venv/bin/python"));
    let has_duckdb =
        py.is_file() && Command::new(&py).args(["-c", "import duckdb"]).status().is_ok_and(|s| s.success());
    if !has_duckdb {
        assert!(std::env::var_os("CI").is_none(), "DuckDB missing: run scripts/setup-peers.sh");
        eprintln!("SKIPPED: no DuckDB in peers/.venv (scripts/setup-peers.sh installs it)");
        return;
    }
    let out = std::env::temp_dir().join(format!("wsprobe-cli-parquet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let caps = ["captures/damage-reordered.pcap", "captures/violations-framing.pcap"];
    let children: Vec<_> = caps
        .iter()
        .map(|c| {
            wsprobe()
                .args(["dissect", &repo_file(c), "--frames", "--format", "parquet", "--out"])
                .arg(&out)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut want = std::collections::BTreeMap::new();
    for c in caps {
        let o = wsprobe().args(["dissect", &repo_file(c), "--frames", "--format", "jsonl"]).output().unwrap();
        let name = c.rsplit('/').next().unwrap();
        for line in String::from_utf8(o.stdout).unwrap().lines() {
            let ty = line.split("\"type\":\"").nth(1).unwrap().split('"').next().unwrap();
            *want.entry(format!("{ty}s {name}")).or_insert(0u64) += 1;
        }
    }
    let query = r#"
import duckdb, sys
for t in ["sessions", "messages", "frames", "violations", "events", "warnings"]:
    q = f"select capture, count(*) from read_parquet('{sys.argv[1]}/{t}/**/*.parquet', hive_partitioning=true) group by 1"
    for cap, n in duckdb.sql(q).fetchall():
        print(t, cap, n)
"#;
    let o = Command::new(&py).args(["-c", query]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut got = std::collections::BTreeMap::new();
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let mut f = line.split(' ');
        let (t, cap, n) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        got.insert(format!("{t} {cap}"), n.parse::<u64>().unwrap());
    }
    assert!(want.len() >= 8, "{want:?}");
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(&out);
}

/// `wsprobe fuzz` end to end: a planted bug found (exit 1), its case file written, and
/// `wsprobe test --catalog` replaying it against the conformant built-in server (exit 0).
#[test]
fn fuzz_finds_a_planted_bug_and_the_finding_replays() {
    let out = std::env::temp_dir().join(format!("wsprobe-cli-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let bin = env!("CARGO_BIN_EXE_wsprobe");
    let o = std::process::Command::new(bin)
        .args([
            "fuzz",
            "--reference-fault",
            "planted-crash",
            "--iterations",
            "600",
            "--seed",
            "3",
            "-j",
            "16",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("wsprobe fuzz");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("crash"), "{stdout}");
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    assert!(summary.contains("\"oracle\": \"crash\""), "{summary}");
    let o = std::process::Command::new(bin)
        .args(["test", "--quiet", "--catalog"])
        .arg(out.join("findings"))
        .output()
        .expect("wsprobe test");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let _ = std::fs::remove_dir_all(&out);
}
