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
