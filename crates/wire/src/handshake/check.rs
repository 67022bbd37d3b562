//! Judging a handshake request (RFC 6455 §4.1, §4.2.1) and the response to it
//! (§4.1 client-side validation, §4.2.2, §4.4).

use super::accept_key;
use super::http::{Request, Response};
use crate::Rule;
use crate::extensions::{Extension, is_token};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;

/// Standard alphabet, canonical padding required. Non-zero bits in the last
/// character's unused positions are accepted: RFC 6455 §4.1 item 7's own example key
/// (`AQIDBAUGBwgJCgsMDQ4PEC==`) has them, and the §4.3 ABNF allows any
/// base64-character there.
const KEY_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

const KEY: &str = "Sec-WebSocket-Key";
const VERSION: &str = "Sec-WebSocket-Version";
const ACCEPT: &str = "Sec-WebSocket-Accept";
const PROTOCOL: &str = "Sec-WebSocket-Protocol";
const EXTENSIONS: &str = "Sec-WebSocket-Extensions";

fn show(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let s = s.trim_matches([' ', '\t']);
    if s.chars().count() > 64 {
        format!("{:?}…", s.chars().take(64).collect::<String>())
    } else {
        format!("{s:?}")
    }
}

fn trimmed(v: &[u8]) -> String {
    String::from_utf8_lossy(v).trim_matches([' ', '\t']).to_owned()
}

/// Whether a Sec-WebSocket-Key value (surrounding whitespace ignored) is the base64
/// encoding of exactly 16 bytes (RFC 6455 §4.1 item 7, §4.2.1 item 5).
pub fn key_is_valid(value: &[u8]) -> bool {
    let v = trimmed(value);
    v.len() == 24 && KEY_B64.decode(v.as_bytes()).is_ok_and(|k| k.len() == 16)
}

/// What judging a request found beyond its violations.
struct RequestFacts {
    violations: Vec<(Rule, String)>,
    /// A version was asked for, but it is not 13 (§4.4 applies to the answer).
    version_unsupported: bool,
}

fn judge_request(req: &Request) -> RequestFacts {
    let mut v = Vec::new();

    if req.method != "GET" {
        v.push((Rule::HsRequestMethod, format!("method is {:?}, not GET", req.method)));
    }
    if req.version_minor < 1 {
        v.push((
            Rule::HsRequestHttpVersion,
            format!("HTTP/1.{} request; HTTP/1.1 or later is required", req.version_minor),
        ));
    }
    let t = req.target.as_str();
    let lower = t.to_ascii_lowercase();
    let target_ok = if t.starts_with('/') {
        !t.contains('#')
    } else {
        (lower.starts_with("http://") || lower.starts_with("https://")) && !t.contains('#')
    };
    if !target_ok {
        v.push((
            Rule::HsRequestMalformed,
            format!(
                "request-target {t:?} is neither a resource name nor an http(s) URI without fragment (§3, §4.1 item 3)"
            ),
        ));
    }

    let hosts: Vec<&[u8]> = req.headers_named("Host").collect();
    match hosts.as_slice() {
        [] => v.push((Rule::HsRequestHost, "no Host header field".to_owned())),
        [h] if trimmed(h).is_empty() => {
            v.push((Rule::HsRequestHost, "Host header field is empty".to_owned()));
        }
        [_] => {}
        _ => v.push((
            Rule::HsRequestHost,
            format!("{} Host header fields; exactly one is allowed (RFC 7230 §5.4)", hosts.len()),
        )),
    }

    let upgrade = req.tokens("Upgrade");
    if !upgrade.iter().any(|t| t.eq_ignore_ascii_case("websocket")) {
        v.push((
            Rule::HsRequestUpgrade,
            if req.header("Upgrade").is_none() {
                "no Upgrade header field".to_owned()
            } else {
                format!("Upgrade lists {upgrade:?}, not websocket")
            },
        ));
    }

    let connection = req.tokens("Connection");
    if !connection.iter().any(|t| t.eq_ignore_ascii_case("upgrade")) {
        v.push((
            Rule::HsRequestConnection,
            if req.header("Connection").is_none() {
                "no Connection header field".to_owned()
            } else {
                format!("Connection lists {connection:?}, not Upgrade")
            },
        ));
    }

    let keys: Vec<&[u8]> = req.headers_named(KEY).collect();
    if keys.is_empty() {
        v.push((Rule::HsRequestKey, "no Sec-WebSocket-Key header field".to_owned()));
    }
    if keys.len() > 1 {
        v.push((Rule::HsHeaderRepeated, format!("Sec-WebSocket-Key appears {} times", keys.len())));
    }
    for k in &keys {
        if !key_is_valid(k) {
            v.push((
                Rule::HsRequestKey,
                format!("Sec-WebSocket-Key {} is not the base64 encoding of 16 bytes", show(k)),
            ));
        }
    }

    let versions: Vec<&[u8]> = req.headers_named(VERSION).collect();
    if versions.is_empty() {
        v.push((Rule::HsRequestVersion, "no Sec-WebSocket-Version header field".to_owned()));
    }
    if versions.len() > 1 {
        v.push((Rule::HsHeaderRepeated, format!("Sec-WebSocket-Version appears {} times", versions.len())));
    }
    let mut version_unsupported = false;
    for ver in &versions {
        if trimmed(ver) != "13" {
            version_unsupported = true;
            v.push((Rule::HsRequestVersion, format!("Sec-WebSocket-Version is {}, not 13", show(ver))));
        }
    }

    let fields: Vec<&[u8]> = req.headers_named(PROTOCOL).collect();
    if !fields.is_empty() {
        let offered = req.offered_protocols();
        if offered.is_empty() {
            v.push((Rule::HsRequestProtocol, "Sec-WebSocket-Protocol lists no subprotocol".to_owned()));
        }
        for (i, p) in offered.iter().enumerate() {
            if !is_token(p) {
                v.push((Rule::HsRequestProtocol, format!("subprotocol {p:?} is not a token")));
            } else if offered[..i].contains(p) {
                v.push((Rule::HsRequestProtocol, format!("subprotocol {p:?} is offered twice")));
            }
        }
    }

    if let Err(e) = req.offered_extensions() {
        v.push((Rule::HsExtensionsSyntax, format!("request Sec-WebSocket-Extensions: {e}")));
    }

    RequestFacts { violations: v, version_unsupported }
}

/// Judges a client's opening handshake request, as a server reads it (RFC 6455 §4.1
/// client requirements, §4.2.1). Returns the broken rules with a short detail each,
/// in a fixed order; empty means a server must be willing to read it as a valid
/// WebSocket handshake.
///
/// Checked: method GET, HTTP/1.1 or later, a resource-name or http(s) target, exactly
/// one non-empty Host, `Upgrade` listing `websocket`, `Connection` listing `Upgrade`
/// (tokens case-insensitive, lists across repeated fields), exactly one
/// Sec-WebSocket-Key that base64-decodes to 16 bytes, exactly one
/// Sec-WebSocket-Version whose value is exactly `13`, Sec-WebSocket-Protocol a list
/// of unique tokens, Sec-WebSocket-Extensions per §9.1. Origin is not required (a
/// non-browser client may omit it).
pub fn check_request(req: &Request) -> Vec<(Rule, String)> {
    judge_request(req).violations
}

/// What a handshake response established.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Negotiated {
    /// Status 101 with a correct Upgrade, Connection and (single) Sec-WebSocket-Accept:
    /// the WebSocket connection is open from here on.
    pub accepted: bool,
    /// The subprotocol the server selected, if it named exactly one (even one that
    /// was not offered: that is reported as a violation, not hidden).
    pub protocol: Option<String>,
    /// The extensions the server selected, in its order (which is the order they
    /// apply in, §9.1). Empty if the header is missing or malformed.
    pub extensions: Vec<Extension>,
}

/// Statuses §4.2.2 lets a server use to turn away an otherwise valid handshake:
/// authentication (item 2), redirection (item 3), a refused origin or an unknown
/// resource (item 4).
fn is_legitimate_refusal(status: u16) -> bool {
    (300..400).contains(&status) || matches!(status, 401 | 403 | 404 | 407)
}

/// Judges a server's handshake response to `req` (RFC 6455 §4.1 client-side
/// validation, §4.2.2, §4.4, §11.3), and says what it established.
///
/// - A request asking for a version other than 13 must be refused with an error
///   status (4xx/5xx, typically 426) carrying Sec-WebSocket-Version
///   ([`Rule::HsVersionNotSupportedReply`] otherwise).
/// - Any other invalid request (see [`check_request`]) must not get 101
///   ([`Rule::HsBadRequestAccepted`]).
/// - A valid request answered with a status other than 101 is
///   [`Rule::HsResponseStatus`], except statuses §4.2.2 allows for refusing a
///   connection (3xx, 401, 403, 404, 407).
/// - A 101 must carry `Upgrade: websocket` (a single token) and a `Connection` that
///   lists `Upgrade`, exactly one Sec-WebSocket-Accept matching the request's key,
///   extensions that follow §9.1 and were offered by name, and at most one
///   subprotocol, one the client offered.
///
/// The request violations themselves are not repeated here.
pub fn check_response(req: &Request, resp: &Response) -> (Negotiated, Vec<(Rule, String)>) {
    let facts = judge_request(req);
    let mut v = Vec::new();
    let mut neg = Negotiated::default();
    let switching = resp.status == 101;

    if facts.version_unsupported {
        let lists_versions = !resp.tokens(VERSION).is_empty();
        let error_status = resp.status >= 400;
        if !error_status || !lists_versions {
            let mut why = Vec::new();
            if !error_status {
                why.push(format!("status {} is not an error status (426 expected)", resp.status));
            }
            if !lists_versions {
                why.push("no Sec-WebSocket-Version listing the supported versions".to_owned());
            }
            v.push((
                Rule::HsVersionNotSupportedReply,
                format!("request asked for an unsupported version; {}", why.join(", ")),
            ));
        }
    }
    let other_faults: Vec<&(Rule, String)> = facts
        .violations
        .iter()
        .filter(|(r, _)| !(facts.version_unsupported && *r == Rule::HsRequestVersion))
        .collect();
    if switching && !other_faults.is_empty() {
        let rules: Vec<&str> = other_faults.iter().map(|(r, _)| r.id()).collect();
        v.push((
            Rule::HsBadRequestAccepted,
            format!("101 answer to an invalid request ({})", rules.join(", ")),
        ));
    }
    if !switching {
        if facts.violations.is_empty() && !is_legitimate_refusal(resp.status) {
            v.push((
                Rule::HsResponseStatus,
                format!("status {} {:?} to a valid handshake request", resp.status, resp.reason),
            ));
        }
        return (neg, v);
    }

    let upgrade = resp.tokens("Upgrade");
    let upgrade_ok = matches!(upgrade.as_slice(), [u] if u.eq_ignore_ascii_case("websocket"));
    if !upgrade_ok {
        v.push((
            Rule::HsResponseUpgrade,
            if resp.header("Upgrade").is_none() {
                "no Upgrade header field".to_owned()
            } else {
                format!("Upgrade is {upgrade:?}, not websocket")
            },
        ));
    }

    let connection_ok = resp.has_token("Connection", "upgrade");
    if !connection_ok {
        v.push((
            Rule::HsResponseConnection,
            if resp.header("Connection").is_none() {
                "no Connection header field".to_owned()
            } else {
                format!("Connection lists {:?}, not Upgrade", resp.tokens("Connection"))
            },
        ));
    }

    let accepts: Vec<&[u8]> = resp.headers_named(ACCEPT).collect();
    let expected = req.header(KEY).map(|k| accept_key(&String::from_utf8_lossy(k)));
    let mut accept_ok = accepts.len() == 1;
    if accepts.is_empty() {
        v.push((Rule::HsResponseAccept, "no Sec-WebSocket-Accept header field".to_owned()));
    }
    if accepts.len() > 1 {
        v.push((Rule::HsHeaderRepeated, format!("Sec-WebSocket-Accept appears {} times", accepts.len())));
    }
    if let Some(expected) = &expected {
        for a in &accepts {
            if trimmed(a) != *expected {
                accept_ok = false;
                v.push((
                    Rule::HsResponseAccept,
                    format!("Sec-WebSocket-Accept is {}, expected {expected:?}", show(a)),
                ));
            }
        }
    }

    if resp.header(EXTENSIONS).is_some() {
        match resp.selected_extensions() {
            Ok(selected) => {
                let offered = req.offered_extensions().unwrap_or_default();
                for e in &selected {
                    if !offered.iter().any(|o| o.name.eq_ignore_ascii_case(&e.name)) {
                        v.push((
                            Rule::HsResponseExtensionNotOffered,
                            format!("server selected extension {:?}, which was not offered", e.name),
                        ));
                    }
                }
                neg.extensions = selected;
            }
            Err(e) => {
                v.push((Rule::HsExtensionsSyntax, format!("response Sec-WebSocket-Extensions: {e}")));
            }
        }
    }

    let fields: Vec<&[u8]> = resp.headers_named(PROTOCOL).collect();
    if !fields.is_empty() {
        let selected = resp.tokens(PROTOCOL);
        let offered = req.offered_protocols();
        match selected.as_slice() {
            [] => v.push((
                Rule::HsResponseProtocolNotOffered,
                "Sec-WebSocket-Protocol is empty (omit it to select none)".to_owned(),
            )),
            [p] if fields.len() == 1 => {
                neg.protocol = Some(p.clone());
                if !offered.contains(p) {
                    v.push((
                        Rule::HsResponseProtocolNotOffered,
                        format!("server selected subprotocol {p:?}, offered were {offered:?}"),
                    ));
                }
            }
            _ => v.push((
                Rule::HsResponseProtocolNotOffered,
                format!(
                    "server selected {} subprotocols {selected:?} in {} field(s); at most one may be selected",
                    selected.len(),
                    fields.len()
                ),
            )),
        }
    }

    neg.accepted = upgrade_ok && connection_ok && accept_ok && expected.is_some();
    (neg, v)
}

/// Whether `req` asks for a Sec-WebSocket-Version other than 13 (RFC 6455 §4.4).
pub(super) fn judge_version_unsupported(req: &Request) -> bool {
    judge_request(req).version_unsupported
}
