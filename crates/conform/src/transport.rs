//! The transport under a case: TCP, optionally through an HTTP CONNECT proxy
//! (RFC 9110 §9.3.6, as RFC 6455 §4.1 asks of clients behind one), optionally TLS
//! (rustls). TLS and proxies are transport, never findings: a failure here is an error
//! that names the layer (TCP, proxy, TLS) and what it said.

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// One connection, plain or TLS, client or server side.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl Conn {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        }
    }

    /// A handle that can reset the TCP connection (SO_LINGER 0) after the stream
    /// itself has been split and handed to tasks.
    pub fn resetter(&self) -> Option<Resetter> {
        use std::os::fd::AsFd;
        self.tcp().as_fd().try_clone_to_owned().ok().map(Resetter)
    }

    /// Writes all of `bytes` and flushes them (TLS may otherwise keep a tail buffered).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes).await?;
        self.flush().await
    }

    /// What the TLS layer agreed, as `TLSv1_3 TLS13_AES_256_GCM_SHA384`; `None` in clear.
    pub fn tls_summary(&self) -> Option<String> {
        let Conn::Tls(s) = self else { return None };
        let (_, c) = s.get_ref();
        let version = c.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
        let suite = c.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
        Some(format!("{version} {suite}").trim().to_owned())
    }
}

/// A duplicate of a connection's socket, kept only to reset the connection.
#[derive(Debug)]
pub struct Resetter(std::os::fd::OwnedFd);

impl Resetter {
    /// Makes the connection's close a TCP reset instead of a FIN queued behind unsent data.
    pub fn reset(&self) {
        let _ = socket2::SockRef::from(&self.0).set_linger(Some(Duration::ZERO));
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An HTTP proxy reached with CONNECT.
#[derive(Clone)]
pub struct Proxy {
    /// Proxy host.
    pub host: String,
    /// Proxy port.
    pub port: u16,
    /// `Proxy-Authorization: Basic` credentials (`user:pass`, base64), if any.
    basic: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        write!(f, "Proxy({}:{}, auth: {})", self.host, self.port, self.basic.is_some())
    }
}

impl Proxy {
    /// Parses `http://[user:pass@]host[:port]` (port 8080 by default). User and password
    /// may be percent-encoded.
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--proxy {url:?}: expected http://[user:pass@]host:port"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport, 8080).map_err(|e| format!("--proxy {url:?}: {e}"))?;
        let basic =
            userinfo.map(|u| base64::engine::general_purpose::STANDARD.encode(percent_decode(u, false)));
        Ok(Proxy { host, port, basic })
    }

    /// The address to connect to.
    pub fn addr(&self) -> String {
        join_host_port(&self.host, self.port)
    }

    /// Asks the proxy for a tunnel to `authority` on `stream`; `Ok` once it answered 2xx.
    async fn tunnel(&self, stream: &mut TcpStream, authority: &str) -> Result<(), String> {
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(b) = &self.basic {
            head.push_str(&format!("Proxy-Authorization: Basic {b}\r\n"));
        }
        head.push_str("\r\n");
        let who = format!("proxy {}", self.addr());
        stream.write_all(head.as_bytes()).await.map_err(|e| format!("{who}: sending CONNECT: {e}"))?;
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 1024];
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let code = resp.code.unwrap_or(0);
                    let reason = resp.reason.unwrap_or("").to_owned();
                    if !(200..300).contains(&code) {
                        return Err(format!("{who} refused CONNECT {authority}: {code} {reason}"));
                    }
                    if n != buf.len() {
                        return Err(format!(
                            "{who} sent {} bytes after its {code} to CONNECT",
                            buf.len() - n
                        ));
                    }
                    return Ok(());
                }
                Ok(httparse::Status::Partial) if buf.len() < 16 * 1024 => {}
                Ok(httparse::Status::Partial) => return Err(format!("{who}: CONNECT answer over 16 KiB")),
                Err(e) => return Err(format!("{who}: malformed answer to CONNECT: {e}")),
            }
            match stream.read(&mut chunk).await {
                Ok(0) => return Err(format!("{who} closed the connection instead of answering CONNECT")),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("{who}: reading the answer to CONNECT: {e}")),
            }
        }
    }
}

/// How `wsprobe test` reaches its target: directly or through a proxy, in clear or TLS.
#[derive(Clone, Default)]
pub struct Connector {
    /// TLS client configuration; `None` for ws://.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// HTTP CONNECT proxy.
    pub proxy: Option<Proxy>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connector(tls: {}, proxy: {:?})", self.tls.is_some(), self.proxy)
    }
}

impl Connector {
    /// Connects to `host:port` through the proxy if any and does the TLS handshake if
    /// any, all within `limit`. The error names the layer that failed.
    pub async fn connect(&self, host: &str, port: u16, limit: Duration) -> Result<Conn, String> {
        let authority = join_host_port(host, port);
        let dial = self.proxy.as_ref().map_or_else(|| authority.clone(), Proxy::addr);
        let work = async {
            let mut tcp =
                TcpStream::connect(&dial).await.map_err(|e| format!("cannot connect to {dial}: {e}"))?;
            let _ = tcp.set_nodelay(true);
            if let Some(p) = &self.proxy {
                p.tunnel(&mut tcp, &authority).await?;
            }
            let Some(cfg) = &self.tls else { return Ok(Conn::Plain(tcp)) };
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {authority} failed: {}", tls_error(&e)))?;
            Ok(Conn::Tls(Box::new(tokio_rustls::TlsStream::Client(tls))))
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "connecting to {authority} (TCP{}{}) timed out after {limit:?}",
                if self.proxy.is_some() { ", proxy CONNECT" } else { "" },
                if self.tls.is_some() { ", TLS handshake" } else { "" }
            )),
        }
    }
}

/// What rustls said, without io::Error's wrapping.
fn tls_error(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => format!("the server sent the alert {a:?}"),
        Some(r) => r.to_string(),
        None => e.to_string(),
    }
}

/// What `--ca`, `--insecure` and `--cert`/`--key` ask of the TLS client.
#[derive(Debug, Clone, Default)]
pub struct ClientTls<'a> {
    /// Trust only these PEM files' certificates instead of the system's roots.
    pub ca: Option<&'a Path>,
    /// Accept any server certificate (signatures of the handshake are still checked).
    pub insecure: bool,
    /// A client certificate chain and its key, both PEM.
    pub identity: Option<(&'a Path, &'a Path)>,
}

/// The crypto provider every TLS configuration uses (ring). rustls 0.23.48 deprecated
/// it for lacking post-quantum key exchange (X25519MLKEM768); a tester gains nothing
/// from that, and every server still offers X25519 or the NIST curves.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl ClientTls<'_> {
    /// The rustls configuration, or an error naming the file or store that failed.
    pub fn config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let verifier = if self.insecure {
            Verifier { webpki: None, pinned: Vec::new(), provider: provider() }
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let mut pinned = Vec::new();
            match self.ca {
                Some(path) => {
                    for cert in read_certs(path)? {
                        roots.add(cert.clone()).map_err(|e| format!("--ca {}: {e}", path.display()))?;
                        pinned.push(cert);
                    }
                }
                None => {
                    let found = rustls_native_certs::load_native_certs();
                    roots.add_parsable_certificates(found.certs);
                    if roots.is_empty() {
                        return Err(format!(
                            "TLS: no system root certificates found ({}); give --ca FILE or --insecure",
                            found.errors.first().map_or_else(|| "empty store".into(), |e| e.to_string())
                        ));
                    }
                }
            }
            let webpki =
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| format!("TLS: {e}"))?;
            Verifier { webpki: Some(webpki), pinned, provider: provider() }
        };
        let builder = builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier));
        let mut cfg = match self.identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
                .map_err(|e| format!("--cert {} / --key {}: {e}", cert.display(), key.display()))?,
            None => builder.with_no_client_auth(),
        };
        // A WebSocket handshake is HTTP/1.1 (RFC 6455 §4.1); never h2.
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// The TLS server configuration of `wsprobe serve --tls-cert C --tls-key K`.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(read_certs(cert)?, read_key(key)?)
        .map_err(|e| format!("--tls-cert {} / --tls-key {}: {e}", cert.display(), key.display()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Accepts a server-side connection: the TLS handshake within `limit` when `tls` is set.
pub async fn accept(
    tcp: TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
    limit: Duration,
) -> Result<Conn, String> {
    let _ = tcp.set_nodelay(true);
    let Some(cfg) = tls else { return Ok(Conn::Plain(tcp)) };
    match tokio::time::timeout(limit, tokio_rustls::TlsAcceptor::from(cfg.clone()).accept(tcp)).await {
        Ok(Ok(s)) => Ok(Conn::Tls(Box::new(tokio_rustls::TlsStream::Server(s)))),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {}", tls_error(&e))),
        Err(_) => Err(format!("no TLS handshake within {limit:?}")),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("{}: no usable PEM private key: {e}", path.display()))
}

/// The server certificate check: WebPKI against the roots, except that a certificate
/// given itself with `--ca` is trusted as it is (a self-signed certificate, which WebPKI
/// refuses as an end entity when it is marked as a CA, as `openssl req -x509` makes them).
/// Without WebPKI (`--insecure`) any certificate is accepted. The handshake's signatures
/// are checked either way, so the session keys are the certificate holder's.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(_) if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Splits `host[:port]` or `[v6][:port]`.
pub(crate) fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("no host".into());
    }
    let port = |p: &str| p.parse::<u16>().map_err(|_| format!("bad port {p:?}"));
    if let Some(v6) = s.strip_prefix('[') {
        let (h, rest) = v6.split_once(']').ok_or("bad IPv6 address")?;
        let p = match rest.strip_prefix(':') {
            Some(p) => port(p)?,
            None if rest.is_empty() => default_port,
            None => return Err("bad authority".into()),
        };
        return Ok((h.to_owned(), p));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_owned(), port(p)?)),
        None => Ok((s.to_owned(), default_port)),
    }
}

/// `host:port`, brackets around an IPv6 host.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// `%XX` escapes decoded, and `+` as a space when `plus_as_space` (query strings);
/// invalid escapes are kept as they are.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(v) = u8::from_str_radix(v, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if plus_as_space && b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_parse_with_and_without_credentials() {
        let p = Proxy::parse("http://u%40x:p%3Aw@127.0.0.1:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        let basic = base64::engine::general_purpose::STANDARD.decode(p.basic.unwrap()).unwrap();
        assert_eq!(basic, b"u@x:p:w");
        let p = Proxy::parse("http://[::1]/").unwrap();
        assert_eq!((p.addr().as_str(), p.basic.is_none()), ("[::1]:8080", true));
        assert!(Proxy::parse("socks5://h:1").is_err());
        assert!(Proxy::parse("http://h:99999").is_err());
        assert!(Proxy::parse("http://").is_err());
        assert!(!format!("{:?}", Proxy::parse("http://u:secret@h:1").unwrap()).contains("secret"));
    }
}
