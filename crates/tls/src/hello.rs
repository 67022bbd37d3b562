//! The two handshake messages read in clear: ClientHello and ServerHello (RFC 8446 §4.1.2,
//! §4.1.3; RFC 5246 §7.4.1), for the client random (the key log's index), the server name
//! (RFC 6066 §3), the version (RFC 8446 §4.2.1 `supported_versions`) and the suite.

/// What a ClientHello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Its random: the key log's index.
    pub random: [u8; 32],
    /// The server name asked for (SNI), if any.
    pub sni: Option<String>,
    /// It offered ALPN protocols (`http/1.1`, `h2`...).
    pub alpn: Vec<String>,
}

/// What a ServerHello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// Its random.
    pub random: [u8; 32],
    /// The version in force: 0x0304 for TLS 1.3 (from `supported_versions`), else the
    /// legacy version field.
    pub version: u16,
    /// The cipher suite chosen.
    pub suite: u16,
    /// A HelloRetryRequest (RFC 8446 §4.1.3: the special random), not a real ServerHello.
    pub retry: bool,
}

/// The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3).
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A cursor over a handshake message body; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    fn random(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }

    /// The extensions that follow, as (type, body) pairs; an absent block is empty.
    fn extensions(&mut self) -> Option<Vec<(u16, &'a [u8])>> {
        if self.0.is_empty() {
            return Some(Vec::new());
        }
        let mut r = Reader(self.vec16()?);
        let mut out = Vec::new();
        while !r.0.is_empty() {
            let ty = r.u16()?;
            out.push((ty, r.vec16()?));
        }
        Some(out)
    }
}

pub(crate) const EXT_SERVER_NAME: u16 = 0;
pub(crate) const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader(body);
    r.u16()?;
    let random = r.random()?;
    r.vec8()?; // session id
    r.vec16()?; // cipher suites
    r.vec8()?; // compression methods
    let mut hello = ClientHello { random, sni: None, alpn: Vec::new() };
    for (ty, ext) in r.extensions()? {
        let mut e = Reader(ext);
        match ty {
            EXT_SERVER_NAME => {
                let mut list = Reader(e.vec16()?);
                while !list.0.is_empty() {
                    let kind = list.u8()?;
                    let name = list.vec16()?;
                    if kind == 0 {
                        hello.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            EXT_ALPN => {
                let mut list = Reader(e.vec16()?);
                while !list.0.is_empty() {
                    hello.alpn.push(String::from_utf8_lossy(list.vec8()?).into_owned());
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

/// Parses a ServerHello body (after the 4-byte handshake header).
pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader(body);
    let legacy = r.u16()?;
    let random = r.random()?;
    r.vec8()?; // session id
    let suite = r.u16()?;
    r.u8()?; // compression
    let mut version = legacy;
    for (ty, ext) in r.extensions()? {
        if ty == EXT_SUPPORTED_VERSIONS {
            version = Reader(ext).u16()?;
        }
    }
    Some(ServerHello { random, version, suite, retry: random == HRR_RANDOM })
}

/// `TLS 1.3`, `TLS 1.2`... for a version code.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        v => format!("0x{v:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{client_hello_body, server_hello_body};

    #[test]
    fn hellos_parse_and_short_ones_do_not() {
        let ch = client_hello_body([9; 32], "example.com");
        let h = client_hello(&ch).unwrap();
        assert_eq!(
            (h.random, h.sni.as_deref(), h.alpn.clone()),
            ([9; 32], Some("example.com"), vec!["http/1.1".into()])
        );
        for n in 0..ch.len() - 1 {
            // Any cut inside the extensions or before them is refused, never a panic.
            let _ = client_hello(&ch[..n]);
        }
        let sh = server_hello(&server_hello_body([5; 32], 0x1302, true)).unwrap();
        assert_eq!((sh.version, sh.suite, sh.retry), (0x0304, 0x1302, false));
        let sh = server_hello(&server_hello_body(HRR_RANDOM, 0x1301, true)).unwrap();
        assert!(sh.retry);
        let sh = server_hello(&server_hello_body([5; 32], 0xc02f, false)).unwrap();
        assert_eq!((sh.version, version_name(sh.version).as_str()), (0x0303, "TLS 1.2"));
        assert!(server_hello(&[3, 3, 1]).is_none());
    }
}
