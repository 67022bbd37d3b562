//! `wsprobe serve --once` against real third-party clients: the Python `websockets` and
//! Node `ws` clients from `peers/`, each run by an Autobahn-style driver (getCaseCount,
//! runCase echoing every message, updateReports), and headless Chromium running the
//! server's own page on `/`. Their results must match the committed
//! baselines (exit code 0), the reports must be written, and the Python client's verdicts
//! must equal Autobahn fuzzingserver's own (../shared/reference) except for the listed
//! timing races. Without the peers the tests fail under CI and are skipped otherwise.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The peer's program, or a skip (outside CI) when `scripts/setup-peers.sh` was not run.
fn peer(program: &Path) -> Option<PathBuf> {
    if program.exists() {
        return Some(program.to_path_buf());
    }
    assert!(std::env::var_os("CI").is_none(), "{} missing: run scripts/setup-peers.sh", program.display());
    eprintln!("SKIPPED: {} missing (scripts/setup-peers.sh installs it)", program.display());
    None
}

/// Starts `wsprobe serve --once` on a free loopback port with `extra` arguments;
/// returns the child and its base URL (read from the line it prints first).
fn serve(extra: &[&str]) -> (Child, String) {
    let (child, url, _) = serve_logged(extra);
    (child, url)
}

/// [`serve`], and what it writes to stderr after its first line (its per-case lines),
/// read to the end by a thread so that the server never blocks on a full pipe.
fn serve_logged(extra: &[&str]) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsprobe"))
        .args(["serve", "--once", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsprobe serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("first line");
    let url = line.split_whitespace().find(|w| w.contains("://")).expect("URL in the first line").to_string();
    let log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });
    (child, url.trim_end_matches('/').to_string(), log)
}

/// Waits for `child` at most `limit`; kills it and fails after that.
fn wait(child: &mut Child, limit: Duration, what: &str) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client process killed when dropped (a browser does not exit by itself).
struct Client(Child);

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a client against `wsprobe serve --once` with the peer's baseline: `client` gets
/// the server's base URL and starts the driver. With `exits`, the driver must end by
/// itself with status 0; otherwise it is killed once the server has ended. Every case
/// must have run and every compression case passed; returns the agent's results.
fn run_peer(
    name: &str,
    client: impl FnOnce(&str) -> Child,
    exits: bool,
    baseline: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let out = std::env::temp_dir().join(format!("wsprobe-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let junit = out.join("junit.xml");
    std::fs::create_dir_all(&out).expect("temp dir");
    let baseline = repo().join(baseline);
    let (mut server, url) = serve(&[
        "--report",
        out.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--baseline",
        baseline.to_str().expect("utf-8"),
        "--exclude",
        &large_compression(),
    ]);
    let mut client = Client(client(&url));
    if exits {
        assert_eq!(wait(&mut client.0, Duration::from_secs(600), "the driver"), 0, "{name}: driver failed");
    }
    let code = wait(&mut server, Duration::from_secs(if exits { 30 } else { 600 }), "wsprobe serve");
    let mut stdout = String::new();
    if let Some(mut s) = server.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut stdout);
    }
    assert_eq!(code, 0, "{name}: results differ from {}:\n{stdout}", baseline.display());
    assert!(junit.exists(), "JUnit written");
    let got = index(&out, name);
    assert_eq!(got.len(), RUN_CASES);
    compressed_everywhere(&got);
    got
}

/// The compression cases left out of the test runs: of every subcategory of 12 and 13
/// only the first four message sizes run (16 B to 1 KiB, 1,000 messages each); the
/// larger ones take minutes in a debug build (scripts/bench-serve-vs-autobahn.sh runs
/// everything).
fn large_compression() -> String {
    (5..=18).flat_map(|n| [format!("12.*.{n}"), format!("13.*.{n}")]).collect::<Vec<_>>().join(",")
}

/// Cases of a test run: Autobahn's 1-7, 9, 10 (301), C.* (8) and 12, 13 cut to four
/// sizes (12 subcategories x 4).
const RUN_CASES: usize = 301 + 8 + 12 * 4;

/// Every compression case (12, 13) passed: the client's offer was answered as the case
/// asks and every compressed echo came back (not UNIMPLEMENTED, not FAILED).
fn compressed_everywhere(got: &serde_json::Map<String, serde_json::Value>) {
    let pmd: Vec<_> = got.iter().filter(|(id, _)| id.starts_with("12.") || id.starts_with("13.")).collect();
    assert_eq!(pmd.len(), 48);
    for (id, r) in pmd {
        assert_eq!(r["behavior"], "OK", "{id}: {r}");
    }
}

/// An Autobahn-style driver program: `driver BASE --agent NAME`, run from the repository.
fn driver(name: &str, program: &[&str]) -> impl FnOnce(&str) -> Child + use<> {
    let (name, program): (String, Vec<String>) =
        (name.into(), program.iter().map(|s| s.to_string()).collect());
    move |url| {
        Command::new(&program[0])
            .args(&program[1..])
            .arg(url)
            .args(["--agent", &name])
            .current_dir(repo())
            .spawn()
            .expect("driver")
    }
}

/// Headless Chromium opening the page at `base` + `query` (`WSPROBE_CHROMIUM` names the
/// browser; default Debian's `/usr/bin/chromium`, which `scripts/setup-peers.sh` installs).
fn chromium(query: &str) -> Option<impl FnOnce(&str) -> Child + use<>> {
    let program = std::env::var_os("WSPROBE_CHROMIUM").map(PathBuf::from);
    let program = peer(&program.unwrap_or_else(|| PathBuf::from("/usr/bin/chromium")))?;
    let query = query.to_string();
    Some(move |url: &str| {
        static PROFILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = PROFILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = std::env::temp_dir().join(format!("wsprobe-chromium-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let page = format!("{}/{query}", url.replacen("ws", "http", 1));
        Command::new(program)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            // The TLS test's certificate is self-signed for the run.
            .arg("--ignore-certificate-errors")
            .args(["--disable-dev-shm-usage", "--disable-extensions"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(page)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium")
    })
}

fn index(out: &Path, agent: &str) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(out.join("index.json")).expect("index.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v.get(agent).and_then(|a| a.as_object()).cloned().expect("the agent's results")
}

#[test]
fn python_websockets_client_matches_its_baseline_and_autobahn() {
    let Some(py) = peer(&repo().join("peers/.venv/bin/python")) else { return };
    let py = py.to_str().expect("utf-8").to_string();
    let client = driver("python-websockets", &[&py, "peers/python/fuzzingclient.py"]);
    let got = run_peer("python-websockets", client, true, "reports/baselines/python-websockets-client.json");
    // Calibration against Autobahn fuzzingserver's verdicts on the same client.
    let reference = repo().join("../shared/reference/autobahn-results-websockets-client.json");
    let Ok(text) = std::fs::read_to_string(&reference) else {
        eprintln!("SKIPPED calibration: {} missing", reference.display());
        return;
    };
    let reference: serde_json::Value = serde_json::from_str(&text).expect("reference json");
    let cases = reference["cases"].as_object().expect("cases");
    let exceptions = std::fs::read_to_string(repo().join("reports/calibration-exceptions-client.toml"))
        .expect("exceptions");
    let exceptions: toml::Value = toml::from_str(&exceptions).expect("toml");
    let timing: Vec<&str> = exceptions["exception"]
        .as_array()
        .expect("exceptions")
        .iter()
        .filter(|e| e["kind"].as_str() == Some("timing"))
        .filter_map(|e| e["id"].as_str())
        .collect();
    let mut differences = Vec::new();
    for (id, want) in cases {
        let have = &got[id];
        let pass = |b: &serde_json::Value| matches!(b.as_str(), Some("OK" | "NON-STRICT"));
        let same = have["behavior"] == want["behavior"]
            || (timing.contains(&id.as_str()) && pass(&have["behavior"]) && pass(&want["behavior"]));
        if !same
            || have["behaviorClose"] != want["behaviorClose"]
            || have["remoteCloseCode"] != want["remoteCloseCode"]
        {
            differences.push(format!("{id}: wsprobe {have}, Autobahn {want}"));
        }
    }
    assert!(differences.is_empty(), "unlisted differences from Autobahn:\n{}", differences.join("\n"));
}

#[test]
fn node_ws_client_matches_its_baseline() {
    let node_ok = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !node_ok || peer(&repo().join("peers/node/node_modules/ws")).is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "node or peers/node/node_modules missing: run scripts/setup-peers.sh"
        );
        return;
    }
    let client = driver("node-ws", &["node", "peers/node/fuzzingclient.js"]);
    run_peer("node-ws", client, true, "reports/baselines/node-ws-client.json");
}

#[test]
fn chromium_runs_the_catalog_from_the_page() {
    let Some(browser) = chromium("?agent=chromium") else { return };
    run_peer("chromium", browser, false, "reports/baselines/chromium-client.json");
}

#[test]
fn the_page_names_the_browser_as_the_agent() {
    let Some(browser) = chromium("") else { return };
    let out = std::env::temp_dir().join(format!("wsprobe-serve-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let (mut server, url) = serve(&["--cases", "1.1.1,C.3.1", "--report", out.to_str().expect("utf-8")]);
    let _browser = Client(browser(&url));
    assert_eq!(wait(&mut server, Duration::from_secs(120), "wsprobe serve"), 0);
    let text = std::fs::read_to_string(out.join("index.json")).expect("index.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let agents: Vec<&String> = v.as_object().expect("agents").keys().collect();
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert!(agents[0].starts_with("HeadlessChrome-") || agents[0].starts_with("Chrome-"), "{agents:?}");
    assert_eq!(index(&out, agents[0]).len(), 2);
}

#[test]
fn chromium_runs_the_page_over_https_and_wss() {
    let Some(browser) = chromium("?agent=chromium") else { return };
    let dir = std::env::temp_dir().join(format!("wsprobe-serve-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key");
    let baseline = repo().join("reports/baselines/chromium-client.json");
    let path = |p: &Path| p.to_str().expect("utf-8").to_string();
    let (mut server, url) = serve(&[
        "--cases",
        "1.*,2.*,5.*,6.2.*,6.3.*,7.1.*,7.9.*,C.*",
        "--tls-cert",
        &path(&cert),
        "--tls-key",
        &path(&key),
        "--baseline",
        &path(&baseline),
        "--report",
        &path(&dir),
    ]);
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let _browser = Client(browser(&url.replacen("127.0.0.1", "localhost", 1)));
    let code = wait(&mut server, Duration::from_secs(300), "wsprobe serve");
    let mut stdout = String::new();
    if let Some(mut s) = server.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut stdout);
    }
    assert_eq!(code, 0, "over TLS the results differ from {}:\n{stdout}", baseline.display());
    let got = index(&dir, "chromium");
    assert!(got.len() > 70 && got.keys().any(|id| id.starts_with("C.")), "{} cases", got.len());
    let case = std::fs::read_to_string(dir.join("chromium_case_1_1_1.json")).unwrap_or_default();
    assert!(case.contains("TLS TLSv1_3"), "the transcript names the TLS session");
}

/// Opens `path` on the server with a raw upgrade request; returns the stream after the
/// 101 (read up to the end of its head).
fn raw_upgrade(base: &str, path: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("ws://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("request");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).expect("101"), 1, "closed during the 101");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    s
}

#[test]
fn hostile_clients_end_with_verdicts_not_hangs() {
    use std::io::{Read, Write};
    let out = std::env::temp_dir().join(format!("wsprobe-serve-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let (mut server, url) =
        serve(&["--cases", "1.1.1,1.1.2", "--timeout", "1", "--report", out.to_str().expect("utf-8")]);
    let start = Instant::now();
    // Connects and never sends a request: dropped after --timeout, nothing recorded.
    let _silent = std::net::TcpStream::connect(url.trim_start_matches("ws://")).expect("connect");
    // Garbage after the handshake: a reserved opcode fails the case at once.
    let mut garbage = raw_upgrade(&url, "/runCase?case=1&agent=hostile");
    garbage.write_all(&[0xff; 64]).expect("garbage");
    let mut sink = Vec::new();
    let _ = garbage.read_to_end(&mut sink);
    // Upgrades and then says nothing: the case's own timers end it.
    let mut hang = raw_upgrade(&url, "/runCase?case=2&agent=hostile");
    let _ = hang.read_to_end(&mut sink);
    let mut report = raw_upgrade(&url, "/updateReports?agent=hostile");
    let _ = report.read_to_end(&mut sink);
    let code = wait(&mut server, Duration::from_secs(60), "wsprobe serve");
    assert_eq!(code, 1, "failed cases fail the run");
    assert!(start.elapsed() < Duration::from_secs(60));
    let got = index(&out, "hostile");
    assert_eq!(got.len(), 2);
    for (id, r) in &got {
        assert_eq!(r["behavior"], "FAILED", "{id}: {r}");
    }
    let case1 = std::fs::read_to_string(out.join("hostile_case_1_1_1.json")).expect("case report");
    assert!(case1.contains("frame.opcode-reserved") || case1.contains("rsv"), "the rule is named: {case1}");
}

/// One deliberately broken client per C.* rule family (`peers/python/broken_client.py`),
/// and the same client without a fault: each fails exactly the cases of its rule, and
/// the reports name that rule and no other.
#[test]
fn broken_clients_fail_exactly_their_rule() {
    let Some(py) = peer(&repo().join("peers/.venv/bin/python")) else { return };
    const ALL: &[&str] = &["C.1.1", "C.1.2", "C.2.1", "C.2.2", "C.2.3", "C.2.4", "C.2.5", "C.3.1"];
    // (fault, the rule its bytes break, or the rule of the cases it fails by trusting
    // the server, and the cases that fail: in case order, so later connections see what
    // earlier ones reused).
    let faults: &[(&str, &str, &[&str])] = &[
        ("none", "", &[]),
        ("unmasked", "mask.client-unmasked", &["C.1.1", "C.1.2", "C.3.1"]),
        ("zero-key", "mask.key-predictable", &["C.1.1", "C.1.2", "C.3.1"]),
        ("constant-key", "mask.key-predictable", &["C.1.2", "C.3.1"]),
        ("reused-nonce", "hs.request-key-reused", &ALL[1..]),
        ("short-nonce", "hs.request-key", ALL),
        ("no-host", "hs.request-host", ALL),
        ("trusts-handshake", "hs.response-", &["C.2.1", "C.2.2", "C.2.3", "C.2.4", "C.2.5"]),
        ("trusts-frames", "mask.server-masked", &["C.1.1", "C.1.2"]),
    ];
    let runs: Vec<_> = faults
        .iter()
        .map(|&(fault, rule, failing)| {
            let py = py.clone();
            std::thread::spawn(move || {
                let out = std::env::temp_dir().join(format!("wsprobe-broken-{fault}-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&out);
                let report = out.to_str().expect("utf-8").to_string();
                let (mut server, url) = serve(&["--cases", "C.*", "--report", &report]);
                let mut client = Client(
                    Command::new(&py)
                        .args(["peers/python/broken_client.py", &url, "--fault", fault, "--agent", fault])
                        .current_dir(repo())
                        .spawn()
                        .expect("broken client"),
                );
                assert_eq!(wait(&mut client.0, Duration::from_secs(120), fault), 0, "{fault}: driver failed");
                let code = wait(&mut server, Duration::from_secs(30), "wsprobe serve");
                assert_eq!(code, i32::from(!failing.is_empty()), "{fault}: exit code");
                check_broken(&out, fault, rule, failing);
            })
        })
        .collect();
    for r in runs {
        r.join().expect("a broken client's run");
    }
}

/// The reports of one broken client: `failing` failed, the rest passed; every finding
/// names `rule`, and a failed case without findings is one whose own rules are `rule`'s.
fn check_broken(out: &Path, fault: &str, rule: &str, failing: &[&str]) {
    let results = index(out, fault);
    assert_eq!(results.len(), 8, "{fault}: all C.* cases ran");
    for (id, r) in &results {
        let name = format!("{}_case_{}.json", fault.replace('-', "_"), id.replace('.', "_"));
        let text = std::fs::read_to_string(out.join(&name)).expect("case report");
        let case: serde_json::Value = serde_json::from_str(&text).expect("case json");
        let findings: Vec<&str> = case["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        let failed = r["behavior"] == "FAILED" || r["behaviorClose"] == "FAILED";
        assert_eq!(failed, failing.contains(&id.as_str()), "{fault} {id}: {r}");
        assert!(findings.iter().all(|f| *f == rule), "{fault} {id}: findings {findings:?}, not {rule}");
        if failed && findings.is_empty() {
            let own = case["rules"].as_array().expect("rules");
            assert!(
                own.iter().any(|c| c["id"].as_str().is_some_and(|c| c.starts_with(rule))),
                "{fault} {id}: failed without a finding, and the case is not about {rule}"
            );
        }
        if !failed {
            assert!(findings.is_empty(), "{fault} {id}: passed with findings {findings:?}");
        }
    }
}

/// Two drivers at once under `--agents 2`: the run ends after both have asked for the
/// reports, and index.json holds both agents with every case.
#[test]
fn agents_run_concurrently_and_share_the_reports() {
    let Some(py) = peer(&repo().join("peers/.venv/bin/python")) else { return };
    let out = std::env::temp_dir().join(format!("wsprobe-serve-agents-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let report = out.to_str().expect("utf-8").to_string();
    let (mut server, url, log) = serve_logged(&["--cases", "C.*", "--agents", "2", "--report", &report]);
    let clients: Vec<Client> = ["first", "second"]
        .iter()
        .map(|agent| {
            Client(
                Command::new(&py)
                    .args(["peers/python/broken_client.py", &url, "--agent", agent])
                    .current_dir(repo())
                    .spawn()
                    .expect("driver"),
            )
        })
        .collect();
    assert_eq!(wait(&mut server, Duration::from_secs(60), "wsprobe serve"), 0);
    drop(clients);
    let log = log.join().expect("stderr");
    for agent in ["first", "second"] {
        assert_eq!(index(&out, agent).len(), 8, "{agent}");
        assert!(out.join(format!("{agent}_index.html")).exists());
        // A line per case as it ends.
        assert!(log.contains(&format!("{agent}: case 8/8 C.3.1 OK")), "{log}");
        assert_eq!(log.lines().filter(|l| l.starts_with(&format!("{agent}: case "))).count(), 8, "{log}");
    }
}

/// Without an upgrade, `/` is the browser page and anything else a 426 naming the URLs.
#[test]
fn plain_http_gets_the_page_or_426() {
    use std::io::{Read, Write};
    let (mut server, url) = serve(&["--cases", "1.1.1"]);
    let addr = url.trim_start_matches("ws://").to_string();
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).expect("request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("response");
        text
    };
    let page = get("/");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page:.80}");
    assert!(page.contains("text/html") && page.contains("/runCase") && page.contains("/updateReports"));
    let other = get("/runCase?case=1");
    assert!(other.starts_with("HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"), "{other}");
    assert!(other.contains("/getCaseCount"));
    let _ = server.kill();
    let _ = server.wait();
}
