//! NSS key log files (what `SSLKEYLOGFILE` makes browsers, curl, Python and Node write):
//! one `LABEL <client random, 64 hex> <secret, hex>` per line, `#` comments. The
//! secrets of one TLS connection are found by its ClientHello's random.

use std::collections::HashMap;

/// The secrets logged for one connection (one client random).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 and earlier: the 48-byte master secret (`CLIENT_RANDOM`).
    pub master: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_EARLY_TRAFFIC_SECRET` (0-RTT data).
    pub client_early: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic: Option<Vec<u8>>,
}

/// A line of a key log that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number (in the file, or in the block's text for embedded secrets).
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// Secrets by client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], Secrets>,
    /// Lines that were not understood (kept for a warning; the first 100).
    pub skipped: Vec<Skipped>,
    /// How many lines were skipped in all.
    pub skipped_count: usize,
}

/// Lines whose reasons are kept.
const SKIPPED_KEPT: usize = 100;
/// Longest secret accepted (TLS secrets are 32 to 64 bytes).
const SECRET_MAX: usize = 64;

impl KeyLog {
    /// Parses key log text; lines it does not understand are counted in
    /// [`KeyLog::skipped`], never an error: a key log is often appended to by several
    /// programs.
    pub fn parse(text: &[u8]) -> KeyLog {
        let mut log = KeyLog::default();
        log.add(text);
        log
    }

    /// Adds the lines of `text` (another file, or secrets embedded in a capture).
    pub fn add(&mut self, text: &[u8]) {
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if let Err(reason) = self.add_line(line) {
                self.skipped_count += 1;
                if self.skipped.len() < SKIPPED_KEPT {
                    self.skipped.push(Skipped { line: i + 1, reason });
                }
            }
        }
    }

    fn add_line(&mut self, line: &[u8]) -> Result<(), String> {
        let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut parts = line.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected LABEL CLIENT_RANDOM SECRET".into());
        };
        let random: [u8; 32] = hex::decode(random)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| format!("{label}: the client random is not 32 bytes of hex"))?;
        let secret = hex::decode(secret).map_err(|_| format!("{label}: the secret is not hex"))?;
        if secret.is_empty() || secret.len() > SECRET_MAX {
            return Err(format!("{label}: a secret of {} bytes", secret.len()));
        }
        let s = self.by_random.entry(random).or_default();
        let slot = match label {
            "CLIENT_RANDOM" => {
                if secret.len() != 48 {
                    return Err(format!("CLIENT_RANDOM: a master secret of {} bytes, not 48", secret.len()));
                }
                &mut s.master
            }
            "CLIENT_EARLY_TRAFFIC_SECRET" => &mut s.client_early,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut s.client_handshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut s.server_handshake,
            "CLIENT_TRAFFIC_SECRET_0" => &mut s.client_traffic,
            "SERVER_TRAFFIC_SECRET_0" => &mut s.server_traffic,
            // Known, and not needed to decrypt records.
            "EXPORTER_SECRET" | "EARLY_EXPORTER_SECRET" => return Ok(()),
            other => return Err(format!("unknown label {other:?}")),
        };
        *slot = Some(secret);
        Ok(())
    }

    /// The secrets of the connection whose ClientHello carried `random`.
    pub fn get(&self, random: &[u8; 32]) -> Option<&Secrets> {
        self.by_random.get(random)
    }

    /// Connections with secrets.
    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    /// No secrets at all.
    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_junk() {
        let r = "11".repeat(32);
        let text = format!(
            "# a comment\n\nCLIENT_RANDOM {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\r\n\
             EXPORTER_SECRET {r} {}\nBOGUS {r} 00\nCLIENT_RANDOM {r} 0011\nCLIENT_RANDOM zz 00\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {r}\n\u{ff}",
            "ab".repeat(48),
            "cd".repeat(32),
            "ef".repeat(32)
        );
        let log = KeyLog::parse(text.as_bytes());
        let s = log.get(&[0x11; 32]).expect("secrets");
        assert_eq!(s.master.as_deref(), Some(&[0xab; 48][..]));
        assert_eq!(s.server_traffic.as_deref(), Some(&[0xcd; 32][..]));
        assert_eq!(s.client_traffic, None);
        let lines: Vec<usize> = log.skipped.iter().map(|k| k.line).collect();
        // Line 10 is valid UTF-8 ("ÿ") but no key log line.
        assert_eq!(lines, [6, 7, 8, 9, 10]);
        assert_eq!(log.skipped_count, 5);
        assert!(log.skipped[0].reason.contains("BOGUS"), "{:?}", log.skipped);
        assert_eq!(log.len(), 1);
    }
}
