//! proxy.py, the third-party HTTP CONNECT proxy of the tests (shared with the dissect
//! crate's tests through `#[path]`).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// proxy.py (a third-party HTTP proxy from PyPI, in peers/.venv), killed when dropped.
pub struct HttpProxy {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
    /// Its port.
    pub port: u16,
}

impl HttpProxy {
    /// The CONNECT tunnels it has opened so far (from its access log).
    pub fn tunnels(&self) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("access_log") && l.contains("CONNECT") && !l.contains("None:None"))
            .count()
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts proxy.py on a loopback port, with Basic authentication `user:pass` if given.
pub fn start_proxy(auth: Option<&str>) -> HttpProxy {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers/.venv/bin/proxy");
    assert!(bin.exists(), "{} is missing: run scripts/setup-peers.sh", bin.display());
    let dir = tempfile::tempdir().expect("temp dir");
    let port_file = dir.path().join("port");
    let log = dir.path().join("log");
    let mut cmd = Command::new(bin);
    cmd.args(["--hostname", "127.0.0.1", "--port", "0", "--num-acceptors", "1", "--num-workers", "2"])
        .arg("--port-file")
        .arg(&port_file)
        .arg("--log-file")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(a) = auth {
        cmd.args(["--basic-auth", a]);
    }
    let child = cmd.spawn().expect("start proxy.py");
    let mut proxy = HttpProxy { child, log, _dir: dir, port: 0 };
    for _ in 0..200 {
        if let Some(p) = std::fs::read_to_string(&port_file).ok().and_then(|s| s.trim().parse().ok()) {
            proxy.port = p;
            return proxy;
        }
        if let Ok(Some(status)) = proxy.child.try_wait() {
            panic!("proxy.py exited with {status} before listening");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("proxy.py did not write its port within 10 s");
}
