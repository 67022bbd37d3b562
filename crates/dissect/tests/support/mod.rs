//! Helpers shared by the dissector's integration tests that run external tools
//! (tshark, dumpcap, the peers under `peers/`): where things are, tshark's view
//! of a capture, and child processes that never outlive a test.
// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or(crate_dir)
}

/// `../shared/captures/public` beside the repository, when it exists; prints
/// a note otherwise (the public captures are never copied into the repo).
pub fn public_captures_dir() -> Option<PathBuf> {
    let d = repo_root().join("../shared/captures/public");
    if d.is_dir() {
        Some(d)
    } else {
        println!("note: {} does not exist; public captures skipped", d.display());
        None
    }
}

/// Every capture file under `dir`, recursively, sorted.
pub fn find_captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if is_capture_name(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn is_capture_name(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap" | "dump"))
}

/// True when `tool` runs (`tool --version` exits 0).
pub fn tool_runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Decides whether a test needing tshark/dumpcap runs: `true` when `tool`
/// works; `false` (with a note) when it is missing and `WSPROBE_NO_TSHARK=1`;
/// otherwise the test fails with a message saying how to install it.
pub fn require_wireshark_tool(tool: &str) -> bool {
    if tool_runs(tool) {
        return true;
    }
    if std::env::var("WSPROBE_NO_TSHARK").is_ok_and(|v| v == "1") {
        println!("note: {tool} not found and WSPROBE_NO_TSHARK=1: test skipped");
        return false;
    }
    panic!(
        "{tool} is not installed (or does not run): install it with scripts/setup-peers.sh \
         (Debian package tshark), or set WSPROBE_NO_TSHARK=1 to skip this test"
    );
}

/// First line of `tshark --version`.
pub fn tshark_version() -> String {
    Command::new("tshark")
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_owned))
        .unwrap_or_else(|| "tshark (version unknown)".to_owned())
}

// ---------------------------------------------------------------- tshark frames

/// One WebSocket frame as tshark decodes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsFrame {
    /// `frame.number`: the packet in which tshark shows the frame (the one
    /// completing it when it spans several segments).
    pub packet: u64,
    /// `tcp.stream`.
    pub stream: u64,
    /// `tcp.srcport`.
    pub src_port: u16,
    /// `tcp.dstport`.
    pub dst_port: u16,
    /// FIN bit.
    pub fin: bool,
    /// RSV bits as one number (RSV1 = 4, RSV2 = 2, RSV3 = 1).
    pub rsv: u8,
    /// Opcode.
    pub opcode: u8,
    /// MASK bit.
    pub masked: bool,
    /// Masking key, 8 lowercase hex digits.
    pub mask_key: Option<String>,
    /// Payload length (7-bit field, or the 16/64-bit extension).
    pub payload_len: u64,
    /// Close status code.
    pub close_code: Option<u16>,
}

/// The fields asked from tshark, in column order.
pub const TSHARK_FIELDS: &[&str] = &[
    "frame.number",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "websocket.fin",
    "websocket.rsv",
    "websocket.opcode",
    "websocket.mask",
    "websocket.masking_key",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.payload_length_ext_64",
    "websocket.payload.close.status_code",
];

/// How tshark is asked to find WebSocket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TsharkMode {
    /// A Decode-As rule `-d tcp.port==N,websocket` for each port.
    pub decode_as: Vec<u16>,
    /// `--enable-heuristic websocket_tcp`.
    pub heuristic: bool,
    /// `-o tcp.reassemble_out_of_order:TRUE` (off by default in tshark 4.0).
    pub out_of_order: bool,
    /// `-o tls.keylog_file:FILE`: decrypt TLS with this key log.
    pub keylog: Option<PathBuf>,
}

impl TsharkMode {
    /// A short description for messages (`default` for no option).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.out_of_order {
            parts.push("tcp.reassemble_out_of_order".to_owned());
        }
        if !self.decode_as.is_empty() {
            parts.push(format!("decode-as tcp.port {:?}", self.decode_as));
        }
        if self.heuristic {
            parts.push("heuristic websocket_tcp".to_owned());
        }
        if parts.is_empty() { "default".to_owned() } else { parts.join(" + ") }
    }
}

/// The tshark command line for `path` in `mode`.
pub fn tshark_command(path: &Path, mode: &TsharkMode) -> Vec<String> {
    let mut args: Vec<String> = vec!["-n".into(), "-r".into(), path.display().to_string()];
    if mode.out_of_order {
        args.push("-o".into());
        args.push("tcp.reassemble_out_of_order:TRUE".into());
    }
    if let Some(k) = &mode.keylog {
        args.push("-o".into());
        args.push(format!("tls.keylog_file:{}", k.display()));
    }
    for p in &mode.decode_as {
        args.push("-d".into());
        args.push(format!("tcp.port=={p},websocket"));
    }
    if mode.heuristic {
        args.push("--enable-heuristic".into());
        args.push("websocket_tcp".into());
    }
    for a in ["-Y", "websocket", "-T", "fields"] {
        args.push(a.into());
    }
    for f in TSHARK_FIELDS {
        args.push("-e".into());
        args.push((*f).into());
    }
    for a in ["-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"] {
        args.push(a.into());
    }
    args
}

/// What tshark decoded of a capture.
#[derive(Clone, Debug, Default)]
pub struct TsharkRun {
    /// WebSocket frames in packet order.
    pub frames: Vec<TsFrame>,
    /// Set when tshark read the capture only in part (a file cut short): its
    /// message.
    pub cut_short: Option<String>,
}

/// Runs tshark on `path` and returns its WebSocket frames in packet order. A
/// capture file cut in the middle of a packet makes tshark exit with status 2
/// after printing what it decoded: that is accepted and noted.
pub fn tshark_frames(path: &Path, mode: &TsharkMode) -> Result<TsharkRun, String> {
    let args = tshark_command(path, mode);
    let out = Command::new("tshark")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run tshark: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut run = TsharkRun::default();
    if !out.status.success() {
        match stderr.lines().find(|l| l.contains("cut short")) {
            Some(l) if out.status.code() == Some(2) => run.cut_short = Some(l.trim().to_owned()),
            _ => {
                return Err(format!("tshark {} failed ({}): {}", args.join(" "), out.status, stderr.trim()));
            }
        }
    }
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        parse_tshark_line(line, &mut run.frames).map_err(|e| format!("{e} in tshark line {line:?}"))?;
    }
    Ok(run)
}

fn split_values(col: &str) -> Vec<&str> {
    if col.is_empty() { Vec::new() } else { col.split(',').collect() }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "True" | "true" => Ok(true),
        "0" | "False" | "false" => Ok(false),
        _ => Err(format!("bad boolean {v:?}")),
    }
}

fn parse_uint(v: &str) -> Result<u64, String> {
    let r = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.map_err(|_| format!("bad number {v:?}"))
}

/// Splits one `-T fields` line (one packet, possibly several frames) into
/// frames. Per-frame columns have one value per frame; the masking key, the
/// extended lengths and the close code only exist for some frames, so they
/// are handed out in order to the frames that have them (masked frames,
/// 7-bit length 126 / 127, Close frames with at least two payload bytes).
fn parse_tshark_line(line: &str, out: &mut Vec<TsFrame>) -> Result<(), String> {
    let cols: Vec<&str> = line.split('\t').collect();
    if cols.len() != TSHARK_FIELDS.len() {
        return Err(format!("expected {} columns, got {}", TSHARK_FIELDS.len(), cols.len()));
    }
    let first = |i: usize| split_values(cols[i]).first().copied().unwrap_or("");
    let packet = parse_uint(first(0))?;
    let stream = parse_uint(first(1)).unwrap_or(u64::MAX);
    let src_port = parse_uint(first(2)).unwrap_or(0) as u16;
    let dst_port = parse_uint(first(3)).unwrap_or(0) as u16;
    let fins = split_values(cols[4]);
    let rsvs = split_values(cols[5]);
    let opcodes = split_values(cols[6]);
    let masks = split_values(cols[7]);
    let mut keys = split_values(cols[8]).into_iter();
    let lens = split_values(cols[9]);
    let mut ext16 = split_values(cols[10]).into_iter();
    let mut ext64 = split_values(cols[11]).into_iter();
    let mut codes = split_values(cols[12]).into_iter();
    let n = opcodes.len();
    if fins.len() != n || rsvs.len() != n || masks.len() != n || lens.len() != n {
        return Err(format!(
            "per-frame columns disagree on the frame count ({n} opcodes, {} fin, {} rsv, {} mask, {} lengths)",
            fins.len(),
            rsvs.len(),
            masks.len(),
            lens.len()
        ));
    }
    for i in 0..n {
        let masked = parse_bool(masks[i])?;
        let mask_key = if masked { keys.next().map(str::to_ascii_lowercase) } else { None };
        let short = parse_uint(lens[i])?;
        let payload_len = match short {
            126 => parse_uint(ext16.next().ok_or("missing 16-bit length")?)?,
            127 => parse_uint(ext64.next().ok_or("missing 64-bit length")?)?,
            l => l,
        };
        let opcode = parse_uint(opcodes[i])? as u8;
        let close_code = if opcode == 8 && payload_len >= 2 {
            codes.next().map(parse_uint).transpose()?.map(|c| c as u16)
        } else {
            None
        };
        out.push(TsFrame {
            packet,
            stream,
            src_port,
            dst_port,
            fin: parse_bool(fins[i])?,
            rsv: parse_uint(rsvs[i])? as u8,
            opcode,
            masked,
            mask_key,
            payload_len,
            close_code,
        });
    }
    if keys.next().is_some() || ext16.next().is_some() || ext64.next().is_some() {
        return Err("values left over after assigning them to frames".into());
    }
    Ok(())
}

/// Groups frames by packet, keeping their order within the packet.
pub fn by_packet<T: Clone>(items: &[T], packet: impl Fn(&T) -> u64) -> BTreeMap<u64, Vec<T>> {
    let mut m: BTreeMap<u64, Vec<T>> = BTreeMap::new();
    for it in items {
        m.entry(packet(it)).or_default().push(it.clone());
    }
    m
}

// ---------------------------------------------------------------- processes

/// A child process that is killed (and reaped) when dropped, so a failing
/// test never leaves servers or capture processes behind.
#[derive(Debug)]
pub struct ChildGuard {
    /// Name for messages.
    pub name: String,
    child: Option<Child>,
}

impl ChildGuard {
    /// Spawns `cmd`; panics with the command's name when it cannot start.
    pub fn spawn(name: &str, cmd: &mut Command) -> ChildGuard {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        ChildGuard { name: name.to_owned(), child: Some(child) }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Takes the child's stdout (once).
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Takes the child's stderr (once).
    pub fn stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.as_mut().and_then(|c| c.stderr.take())
    }

    /// Sends SIGINT (through `kill -INT`, as the crate forbids unsafe code).
    pub fn interrupt(&self) {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Waits at most `timeout` for the child to exit; `None` when it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return Some(st),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take()
            && c.try_wait().ok().flatten().is_none()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Lines of a child's output, read by a thread so every wait can time out.
#[derive(Debug)]
pub struct Lines {
    rx: Receiver<String>,
    /// Every line received so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `r` line by line.
    pub fn new(r: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx, seen: Vec::new() }
    }

    /// The next line, or `None` at end of output or after `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        match self.rx.recv_timeout(timeout) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Reads lines until one satisfies `pred` (returned) or `timeout` passes.
    pub fn wait_for(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.next_line(left)?;
            if pred(&line) {
                return Some(line);
            }
        }
    }

    /// Every remaining line until end of output or `timeout`.
    pub fn drain(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut v = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next_line(left) {
                Some(l) => v.push(l),
                None => break,
            }
        }
        v
    }
}
