//! Real traffic between real third-party peers, captured live and dissected.
//!
//! Each live test starts one echo server from `peers/` (Python `websockets` or
//! Node `ws`) on loopback, captures the loopback traffic of its port with
//! `dumpcap -i lo -f 'tcp port N'`, and runs the other language's scripted
//! client with [`SCRIPT`]: text, binary, a large (64-bit length) binary, two
//! fragmented messages, a ping, an empty text and a close with a code and a
//! reason. With permessage-deflate negotiated (two of the three pairs) the
//! messages go compressed, fragmented ones included. The capture is then
//! dissected and every decoded message is checked against the client's own
//! JSON lines: client-to-server messages against what it says it sent,
//! server-to-client ones against what it says it received (opcode, length,
//! SHA-256 of the payload, the bytes themselves where the client printed them,
//! frame count, close code and reason), and the session must have no violation.
//!
//! `recorded_real_traffic` checks the same way the recordings committed under
//! `captures/real/` (made by these tests with `WSPROBE_RECORD_REAL=1`), so the
//! check also runs where live capture is impossible.
//!
//! Needs root (or capture rights) for dumpcap. Without the peers the live tests
//! fail with a hint (`scripts/setup-peers.sh`) unless `WSPROBE_NO_PEERS=1`;
//! without dumpcap they fail unless `WSPROBE_NO_TSHARK=1`.

#[path = "../../conform/tests/common/pki.rs"]
mod pki;
#[path = "../../conform/tests/common/proxy.rs"]
mod proxy;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{ChildGuard, Lines, repo_root};
use wsprobe_dissect::{MessageRecord, Options, PayloadMode, Record, SessionRecord, dissect_path};
use wsprobe_wire::Dir;

/// What every client sends (see peers/README.md for the step format).
const SCRIPT: &str = r#"[
  {"type": "text", "data": "héllo, wörld ✓"},
  {"type": "binary", "hex": "00ff7f80"},
  {"type": "text", "size": 1000},
  {"type": "binary", "size": 70000},
  {"type": "text", "size": 30000, "fragments": 5},
  {"type": "binary", "size": 5000, "fragments": 3},
  {"type": "ping", "data": "are you there?"},
  {"type": "text", "data": ""},
  {"type": "close", "code": 4001, "reason": "done, bye ✓"}
]"#;

/// Seconds allowed for any single wait.
const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Python,
    Node,
}

/// One live run: which server, which client, with which options.
struct Scenario {
    name: &'static str,
    server: Peer,
    server_args: &'static [&'static str],
    client: Peer,
    client_args: &'static [&'static str],
    /// wss://: the server gets a certificate and writes its key log to `keys.log` in the
    /// scratch directory; the client trusts the test CA.
    tls: bool,
    /// The client goes through proxy.py (HTTP CONNECT); the capture holds both hops.
    proxy: bool,
}

fn peers_dir() -> PathBuf {
    repo_root().join("peers")
}

/// The command running `peer`'s `script` (`echo_server` or `client`).
fn peer_command(peer: Peer, script: &str) -> Command {
    let dir = peers_dir();
    match peer {
        Peer::Python => {
            let mut c = Command::new(dir.join(".venv/bin/python"));
            c.arg(dir.join(format!("python/{script}.py")));
            c
        }
        Peer::Node => {
            let mut c = Command::new("node");
            c.arg(dir.join(format!("node/{script}.js")));
            c
        }
    }
}

/// True when the peers are installed; `false` (skip, with a note) when they
/// are not and `WSPROBE_NO_PEERS=1`; panics with a hint otherwise.
fn require_peers() -> bool {
    let dir = peers_dir();
    let python_ok = dir.join(".venv/bin/python").is_file();
    let node_ok = dir.join("node/node_modules/ws/package.json").is_file() && support::tool_runs("node");
    if python_ok && node_ok {
        return true;
    }
    if std::env::var("WSPROBE_NO_PEERS").is_ok_and(|v| v == "1") {
        println!("note: peers not installed and WSPROBE_NO_PEERS=1: test skipped");
        return false;
    }
    panic!(
        "the real peers are not installed (python venv: {python_ok}, node ws: {node_ok}): \
         run scripts/setup-peers.sh, or set WSPROBE_NO_PEERS=1 to skip"
    );
}

/// A scratch directory removed on success (kept, and named, on failure).
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("wsprobe-real-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs `sc` live; returns the client's stdout lines. The capture is left at
/// `dir/capture.pcapng`.
fn run_live(sc: &Scenario, dir: &Path) -> Vec<String> {
    // 1. The server, on a port of the OS's choosing.
    let server_err = std::fs::File::create(dir.join("server.stderr")).expect("server log");
    let pki = sc.tls.then(pki::Pki::new);
    let mut tls_args = Vec::new();
    if let Some(p) = &pki {
        tls_args.extend(p.server_args());
        tls_args.extend(["--keylog".to_string(), dir.join("keys.log").display().to_string()]);
    }
    let mut server = ChildGuard::spawn(
        &format!("{:?} echo server", sc.server),
        peer_command(sc.server, "echo_server")
            .args(["--port", "0"])
            .args(sc.server_args)
            .args(&tls_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(server_err),
    );
    let mut server_out = Lines::new(server.stdout().expect("server stdout"));
    let port: u16 = server_out
        .wait_for(WAIT, |l| l.starts_with("LISTENING "))
        .and_then(|l| l.trim_start_matches("LISTENING ").trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{} did not print `LISTENING <port>` within {WAIT:?}; stdout: {:?}, stderr in {}",
                server.name,
                server_out.seen,
                dir.display()
            )
        });

    // The proxy (its port is captured too).
    let proxy = sc.proxy.then(|| proxy::start_proxy(None));
    let filter = match &proxy {
        Some(p) => format!("tcp port {port} or tcp port {}", p.port),
        None => format!("tcp port {port}"),
    };

    // 2. The capture, ready before the first SYN.
    let capture = dir.join("capture.pcapng");
    let mut dumpcap = ChildGuard::spawn(
        "dumpcap",
        Command::new("dumpcap")
            .args(["-i", "lo", "-f", &filter, "-w"])
            .arg(&capture)
            // Never outlive a killed test run.
            .args(["-a", "duration:180"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let mut dumpcap_err = Lines::new(dumpcap.stderr().expect("dumpcap stderr"));
    if dumpcap_err.wait_for(WAIT, |l| l.contains("Capturing on")).is_none() {
        let st = dumpcap.wait_timeout(Duration::from_millis(100));
        panic!(
            "dumpcap did not start capturing on lo within {WAIT:?} (exit {st:?}; it needs root or \
             the capture capabilities): {:?}",
            dumpcap_err.seen
        );
    }

    // 3. The client.
    let script = dir.join("script.json");
    std::fs::write(&script, SCRIPT).expect("write script");
    let url = match &pki {
        Some(_) => format!("wss://localhost:{port}/{}", sc.name),
        None => format!("ws://127.0.0.1:{port}/{}", sc.name),
    };
    let mut client_cmd = peer_command(sc.client, "client");
    if let Some(p) = &pki {
        // How each library is told to trust a CA: OpenSSL's and Node's variables.
        client_cmd.env("SSL_CERT_FILE", &p.ca).env("NODE_EXTRA_CA_CERTS", &p.ca);
    }
    if let Some(p) = &proxy {
        // websockets takes its proxy from the environment (urllib's getproxies).
        let url = format!("http://127.0.0.1:{}", p.port);
        client_cmd.env("https_proxy", &url).env("http_proxy", &url).env_remove("no_proxy");
    }
    let mut client = ChildGuard::spawn(
        &format!("{:?} client", sc.client),
        client_cmd
            .arg(url)
            .arg("--script")
            .arg(&script)
            .args(["--timeout", "10"])
            .args(sc.client_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut client_out = Lines::new(client.stdout().expect("client stdout"));
    let mut client_err = Lines::new(client.stderr().expect("client stderr"));
    let lines = client_out.drain(Duration::from_secs(60));
    let status = client.wait_timeout(WAIT);
    let stderr = client_err.drain(Duration::from_millis(200));
    assert!(
        status.is_some_and(|s| s.success()),
        "{} failed (exit {status:?}); stdout:\n{}\nstderr:\n{}",
        client.name,
        lines.join("\n"),
        stderr.join("\n")
    );

    // 4. Let the last segments (FINs, ACKs) reach the capture, then stop
    //    dumpcap cleanly so the file is complete.
    std::thread::sleep(Duration::from_millis(300));
    dumpcap.interrupt();
    let st = dumpcap.wait_timeout(WAIT);
    let tail = dumpcap_err.drain(Duration::from_millis(500));
    assert!(st.is_some(), "dumpcap did not stop within {WAIT:?} after SIGINT: {tail:?}");
    println!("{}: dumpcap: {}", sc.name, tail.join(" | "));

    server.terminate();
    let _ = server.wait_timeout(Duration::from_secs(5));
    lines
}

/// Parses the client's lines.
fn parse_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("client line {l:?}: {e}")))
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Frames on the wire for a message the client says it sent in `frames`
/// frames. websockets sends a fragmented message (an iterable) as its
/// fragments with FIN=0 and then an empty FIN=1 continuation, one more frame
/// than its client prints; ws sets FIN on the last fragment itself.
fn wire_frames(peer: &str, frames: u64) -> u64 {
    if peer.starts_with("python-websockets/") && frames > 1 { frames + 1 } else { frames }
}

/// Checks one decoded message against one client line; returns the problems.
/// `sender` is the `peer` of the endpoint that sent the message.
fn check_message(m: &MessageRecord, ev: &Value, sender: &str, problems: &mut Vec<String>) {
    let ty = ev["type"].as_str().unwrap_or("?");
    let at =
        format!("{:?} message at packet {} ({} {} bytes; client: {ev})", m.dir, m.packet, m.opcode, m.len);
    let mut bad = |what: String| problems.push(format!("{at}: {what}"));
    if m.opcode != ty {
        bad(format!("opcode {} but the client says {ty}", m.opcode));
        return;
    }
    if m.incomplete || m.truncated {
        bad(format!("incomplete {} / truncated {}", m.incomplete, m.truncated));
    }
    if ty == "close" {
        let code = ev["code"].as_u64().and_then(|c| u16::try_from(c).ok());
        if m.close_code != code {
            bad(format!("close code {:?}, client {code:?}", m.close_code));
        }
        let reason = ev["reason"].as_str().unwrap_or("");
        if m.close_reason.as_deref().unwrap_or("") != reason {
            bad(format!("close reason {:?}, client {reason:?}", m.close_reason));
        }
        return;
    }
    if Some(m.len) != ev["len"].as_u64() {
        bad(format!("length {} but the client says {}", m.len, ev["len"]));
    }
    let Some(b64) = &m.payload_b64 else {
        bad("no payload kept (payload_b64 missing)".into());
        return;
    };
    let payload = match base64::engine::general_purpose::STANDARD.decode(b64) {
        Ok(p) => p,
        Err(e) => {
            bad(format!("payload_b64 does not decode: {e}"));
            return;
        }
    };
    if Some(sha256_hex(&payload).as_str()) != ev["sha256"].as_str() {
        bad(format!("payload sha256 {} differs from the client's {}", sha256_hex(&payload), ev["sha256"]));
    }
    if let Some(text) = ev["data"].as_str()
        && payload != text.as_bytes()
    {
        bad(format!("payload {:?} but the client says {text:?}", String::from_utf8_lossy(&payload)));
    }
    if let Some(h) = ev["hex"].as_str()
        && hex(&payload) != h
    {
        bad(format!("payload {} but the client says {h}", hex(&payload)));
    }
    if let Some(frames) = ev["frames"].as_u64()
        && u64::from(m.frames) != wire_frames(sender, frames)
    {
        bad(format!(
            "{} frames but the client ({sender}) sent it in {frames} fragments, so {} frames",
            m.frames,
            wire_frames(sender, frames)
        ));
    }
}

/// Dissects `capture` and checks it against the client's `lines` (decrypting with
/// `keylog` if given).
fn check_capture(name: &str, capture: &Path, lines: &[String], keylog: Option<&Path>) {
    let events = parse_lines(lines);
    let done = events
        .iter()
        .find(|e| e["event"] == "done")
        .unwrap_or_else(|| panic!("{name}: the client log has no `done` line"));
    assert_eq!(done["ok"], Value::Bool(true), "{name}: the client failed: {done}");
    let open = events
        .iter()
        .find(|e| e["event"] == "open")
        .unwrap_or_else(|| panic!("{name}: the client log has no `open` line"));
    let deflate_agreed = open["extensions"].as_str().is_some_and(|x| x.contains("permessage-deflate"));
    let client_peer = open["peer"].as_str().unwrap_or("?");
    let sent: Vec<&Value> = events.iter().filter(|e| e["event"] == "sent").collect();
    let recv: Vec<&Value> = events.iter().filter(|e| e["event"] == "recv").collect();

    let mut opts = Options { payload: PayloadMode::Full, frames: true, ..Options::default() };
    opts.limits.message_keep = 4 << 20;
    opts.keylog = keylog
        .map(|k| std::sync::Arc::new(wsprobe_dissect::KeyLog::parse(&std::fs::read(k).expect("key log"))));
    let d = dissect_path(capture, &opts);
    assert!(d.error.is_none(), "{name}: dissection error: {:?}", d.error);

    let sessions: Vec<&SessionRecord> = d.sessions().collect();
    // Through a proxy the capture holds both hops: the client's, inside its CONNECT
    // tunnel, and the proxy's own connection to the server. The client's is checked.
    let proxied = sessions.iter().any(|s| s.proxy.is_some());
    assert_eq!(
        sessions.len(),
        if proxied { 2 } else { 1 },
        "{name}: expected one session per TCP hop in the capture, got {sessions:#?}"
    );
    let s = sessions.iter().find(|s| s.proxy.is_some()).unwrap_or(&sessions[0]);
    if proxied {
        let p = s.proxy.as_deref().unwrap_or_default();
        assert!(p.starts_with("via proxy 127.0.0.1:") && p.contains("(CONNECT localhost:"), "{name}: {p}");
    }
    let mut problems = Vec::new();
    let tls = open["url"].as_str().is_some_and(|u| u.starts_with("wss://"));
    let version_ok = matches!(s.tls_version.as_deref(), Some("TLS 1.3" | "TLS 1.2"));
    if tls != version_ok || tls != (s.sni.as_deref() == Some("localhost")) {
        problems.push(format!(
            "TLS: the client used {}, the session says {:?} {:?}",
            open["url"], s.tls_version, s.sni
        ));
    }
    if s.deflate.is_some() != deflate_agreed {
        problems.push(format!(
            "session deflate {:?} but the client saw extensions {}",
            s.deflate, open["extensions"]
        ));
    }
    for r in &d.records {
        match r {
            Record::Violation(v) => problems.push(format!("violation: {v:?}")),
            Record::Warning(w) => println!("{name}: warning: {}", w.message),
            _ => {}
        }
    }
    for (dir, expected) in [(Dir::C2S, &sent), (Dir::S2C, &recv)] {
        let msgs: Vec<&MessageRecord> =
            d.messages().filter(|m| m.session == s.session && m.dir == dir).collect();
        if msgs.len() != expected.len() {
            problems.push(format!(
                "{dir:?}: {} messages decoded, the client lists {}: decoded {:?}",
                msgs.len(),
                expected.len(),
                msgs.iter().map(|m| format!("{} {}", m.opcode, m.len)).collect::<Vec<_>>()
            ));
        }
        for (m, ev) in msgs.iter().zip(expected.iter()) {
            check_message(m, ev, client_peer, &mut problems);
        }
        let data: Vec<&&MessageRecord> =
            msgs.iter().filter(|m| m.opcode == "text" || m.opcode == "binary").collect();
        let compressed = data.iter().filter(|m| m.compressed).count();
        if !deflate_agreed && compressed > 0 {
            problems
                .push(format!("{dir:?}: {compressed} messages marked compressed without permessage-deflate"));
        }
        if deflate_agreed && compressed == 0 {
            problems.push(format!("{dir:?}: permessage-deflate agreed but no message decoded as compressed"));
        }
        println!(
            "{name}: {dir:?}: {} messages ({} data, {compressed} compressed, {} fragmented) match the client",
            msgs.len(),
            data.len(),
            data.iter().filter(|m| m.frames > 1).count()
        );
    }
    assert!(
        problems.is_empty(),
        "{name}: the dissection of {} disagrees with the client ({} problems):\n{}",
        capture.display(),
        problems.len(),
        problems.join("\n")
    );
}

fn live(sc: &Scenario) {
    if !require_peers() || !support::require_wireshark_tool("dumpcap") {
        return;
    }
    let scratch = Scratch::new(sc.name);
    let lines = run_live(sc, &scratch.path);
    let mut capture = scratch.path.join("capture.pcapng");
    let keylog = scratch.path.join("keys.log");
    if sc.tls {
        check_capture(sc.name, &capture, &lines, Some(&keylog));
        check_tls(sc.name, &capture, &keylog);
        // What is recorded carries its own secrets.
        capture = scratch.path.join("capture-with-secrets.pcapng");
    } else {
        check_capture(sc.name, &capture, &lines, None);
    }
    if std::env::var("WSPROBE_RECORD_REAL").is_ok_and(|v| v == "1") {
        let out = repo_root().join("captures/real");
        std::fs::create_dir_all(&out).expect("create captures/real");
        // Read and write rather than copy: dumpcap's file is private (0600).
        let bytes = std::fs::read(&capture).expect("read capture");
        std::fs::write(out.join(format!("{}.pcapng", sc.name)), bytes).expect("write capture");
        let mut log = lines.join("\n");
        log.push('\n');
        std::fs::write(out.join(format!("{}.client.jsonl", sc.name)), log).expect("write log");
        println!("{}: recorded into {}", sc.name, out.display());
    }
}

/// The TLS capture without keys, with the keys embedded in it, and against tshark with
/// the same key log.
fn check_tls(name: &str, capture: &Path, keylog: &Path) {
    // Without keys: no session, and a warning that says what the session is.
    let opts = Options { frames: true, ..Options::default() };
    let d = dissect_path(capture, &opts);
    assert_eq!(d.sessions().count(), 0, "{name}: a session decoded without keys");
    let warned = d.records.iter().any(|r| {
        matches!(r, Record::Warning(w) if w.message.contains("no keys") && w.message.contains("SNI localhost")
            && w.message.contains("TLS 1."))
    });
    assert!(warned, "{name}: no 'no keys' warning: {:?}", d.records);
    // The same secrets embedded in the capture by editcap: the same decoding, no --keylog.
    let with_secrets = capture.with_file_name("capture-with-secrets.pcapng");
    let st = Command::new("editcap")
        .arg("--inject-secrets")
        .arg(format!("tls,{}", keylog.display()))
        .arg(capture)
        .arg(&with_secrets)
        .status()
        .expect("editcap (scripts/setup-peers.sh installs Wireshark's tools)");
    assert!(st.success(), "{name}: editcap --inject-secrets failed");
    let keyed = dissect_path(
        capture,
        &Options {
            keylog: Some(std::sync::Arc::new(wsprobe_dissect::KeyLog::parse(
                &std::fs::read(keylog).expect("keys"),
            ))),
            ..opts.clone()
        },
    );
    let embedded = dissect_path(&with_secrets, &opts);
    let frames = |d: &wsprobe_dissect::Dissection| {
        d.frames().map(|f| (f.dir, f.packet, f.opcode, f.payload_len, f.fin)).collect::<Vec<_>>()
    };
    assert!(!frames(&keyed).is_empty(), "{name}: no frame decrypted");
    assert_eq!(frames(&keyed), frames(&embedded), "{name}: embedded secrets decode differently");
    // tshark with the key log: the same frames, packet by packet.
    let mode = support::TsharkMode { keylog: Some(keylog.to_path_buf()), ..Default::default() };
    let ts = support::tshark_frames(capture, &mode).expect("tshark");
    let mut ours: Vec<(u64, u8, u64)> = keyed.frames().map(|f| (f.packet, f.opcode, f.payload_len)).collect();
    let mut theirs: Vec<(u64, u8, u64)> =
        ts.frames.iter().map(|f| (f.packet, f.opcode, f.payload_len)).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{name}: frames (packet, opcode, length) differ from tshark's with the key log");
    println!("{name}: {} frames decrypted, as tshark with the same key log", ours.len());
}

#[test]
fn python_tls_server_node_client() {
    // wss:// with Python's ssl (OpenSSL) on the server, Node's TLS on the client; the
    // server's key log decrypts the capture.
    live(&Scenario {
        name: "python-tls-server-node-client",
        server: Peer::Python,
        server_args: &[],
        client: Peer::Node,
        client_args: &[],
        tls: true,
        proxy: false,
    });
}

#[test]
fn python_tls12_gcm_and_chacha_servers_node_client() {
    // TLS 1.2 with ECDHE: the key log's CLIENT_RANDOM master secret, the PRF key block.
    const GCM: &[&str] = &["--tls12", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"];
    const CHACHA: &[&str] = &["--tls12", "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"];
    for (name, server_args) in
        [("python-tls12-gcm-server-node-client", GCM), ("python-tls12-chacha-server-node-client", CHACHA)]
    {
        live(&Scenario {
            name,
            server: Peer::Python,
            server_args,
            client: Peer::Node,
            client_args: &[],
            tls: true,
            proxy: false,
        });
    }
}

#[test]
fn node_tls_server_python_client() {
    live(&Scenario {
        name: "node-tls-server-python-client",
        server: Peer::Node,
        server_args: &["--deflate"],
        client: Peer::Python,
        client_args: &[],
        tls: true,
        proxy: false,
    });
}

#[test]
fn node_tls_server_python_client_through_a_proxy() {
    // wss:// through an HTTP CONNECT proxy, as RFC 6455 §4.1 has clients do: the
    // session is found inside the tunnel, decrypted, with the proxy hop named.
    live(&Scenario {
        name: "node-tls-server-python-client-proxy",
        server: Peer::Node,
        server_args: &[],
        client: Peer::Python,
        client_args: &[],
        tls: true,
        proxy: true,
    });
}

#[test]
fn python_server_node_client_deflate() {
    // websockets accepts permessage-deflate by default (window bits 12); ws
    // offers it and compresses every message (threshold 0).
    live(&Scenario {
        name: "python-server-node-client",
        server: Peer::Python,
        server_args: &[],
        client: Peer::Node,
        client_args: &[],
        tls: false,
        proxy: false,
    });
}

#[test]
fn node_server_python_client_plain() {
    // ws' server refuses permessage-deflate by default: plain frames, the
    // 70000-byte binary with a 64-bit length over two loopback segments.
    live(&Scenario {
        name: "node-server-python-client",
        server: Peer::Node,
        server_args: &[],
        client: Peer::Python,
        client_args: &[],
        tls: false,
        proxy: false,
    });
}

#[test]
fn node_deflate_server_python_client() {
    // ws' server with permessage-deflate (its default parameters) against
    // websockets' client offer.
    live(&Scenario {
        name: "node-deflate-server-python-client",
        server: Peer::Node,
        server_args: &["--deflate"],
        client: Peer::Python,
        client_args: &[],
        tls: false,
        proxy: false,
    });
}

#[test]
fn recorded_real_traffic() {
    let dir = repo_root().join("captures/real");
    let mut n = 0;
    for cap in support::find_captures(&dir) {
        let log = cap.with_extension("client.jsonl");
        let Ok(text) = std::fs::read_to_string(&log) else {
            continue;
        };
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let name = cap.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        check_capture(&name, &cap, &lines, None);
        n += 1;
    }
    println!("{n} recorded captures checked in {}", dir.display());
}
