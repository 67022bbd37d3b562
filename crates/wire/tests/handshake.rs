//! Opening handshake (RFC 6455 §4) and Sec-WebSocket-Extensions (§9.1) tests.

use proptest::prelude::*;
use wsprobe_wire::Rule;
use wsprobe_wire::extensions::{ExtParam, Extension, format_extensions, parse_extensions};
use wsprobe_wire::handshake::{
    GUID, MAX_HEAD, Progress, Request, RequestBuilder, Response, StdHeader, accept_key, check_request,
    check_response, key_is_valid, parse_request, parse_response, response_for,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The client handshake of RFC 6455 §1.3.
const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

/// The server handshake of RFC 6455 §1.3.
const RFC_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n";

fn req(bytes: &[u8]) -> Request {
    match parse_request(bytes) {
        Ok(Progress::Complete { value, consumed }) => {
            assert_eq!(consumed, bytes.len(), "whole head consumed");
            value
        }
        other => panic!("request did not parse: {other:?}\n{}", String::from_utf8_lossy(bytes)),
    }
}

fn resp(bytes: &[u8]) -> Response {
    match parse_response(bytes) {
        Ok(Progress::Complete { value, consumed }) => {
            assert_eq!(consumed, bytes.len(), "whole head consumed");
            value
        }
        other => panic!("response did not parse: {other:?}\n{}", String::from_utf8_lossy(bytes)),
    }
}

fn rules(v: &[(Rule, String)]) -> Vec<Rule> {
    v.iter().map(|(r, _)| *r).collect()
}

fn good() -> RequestBuilder {
    RequestBuilder::new("server.example.com", KEY)
}

// ---- accept key, RFC examples ----

#[test]
fn accept_key_rfc_example() {
    assert_eq!(GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert_eq!(accept_key(KEY), ACCEPT);
    // Surrounding whitespace of the field value is not part of the key (§4.1 step 4).
    assert_eq!(accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t"), ACCEPT);
    assert_ne!(accept_key("dGhlIHNhbXBsZSBub25jZQ"), ACCEPT);
}

#[test]
fn rfc_request_and_response_are_valid() {
    let r = req(RFC_REQUEST.as_bytes());
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/chat");
    assert_eq!(r.version_minor, 1);
    assert_eq!(r.headers.len(), 7);
    assert_eq!(r.header("host"), Some(&b"server.example.com"[..]));
    assert_eq!(r.header("SEC-WEBSOCKET-KEY"), Some(KEY.as_bytes()));
    assert_eq!(r.offered_protocols(), ["chat", "superchat"]);
    assert_eq!(r.offered_extensions(), Ok(vec![]));
    assert!(r.is_upgrade());
    assert_eq!(check_request(&r), vec![]);

    let s = resp(RFC_RESPONSE.as_bytes());
    assert_eq!((s.version_minor, s.status, s.reason.as_str()), (1, 101, "Switching Protocols"));
    let (neg, v) = check_response(&r, &s);
    assert_eq!(v, vec![]);
    assert!(neg.accepted);
    assert_eq!(neg.protocol.as_deref(), Some("chat"));
    assert!(neg.extensions.is_empty());
}

#[test]
fn builder_and_reference_response_agree_with_checker() {
    let bytes = good().path("/chat").origin("http://example.com").protocols(["chat", "superchat"]).build();
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), RFC_REQUEST);
    let r = req(&bytes);
    assert_eq!(check_request(&r), vec![]);
    let answer = response_for(&r, |offered| offered.last().cloned(), None);
    let s = resp(&answer);
    let (neg, v) = check_response(&r, &s);
    assert_eq!(v, vec![]);
    assert!(neg.accepted);
    assert_eq!(neg.protocol.as_deref(), Some("superchat"));
    // The reference answer to the RFC request is the RFC answer.
    let r = req(RFC_REQUEST.as_bytes());
    assert_eq!(response_for(&r, |o| o.first().cloned(), None), RFC_RESPONSE.as_bytes());
}

#[test]
fn reference_response_extensions_and_protocol_pick() {
    let r = req(&good().extensions("permessage-deflate; client_max_window_bits, x-foo").build());
    let answer = response_for(&r, |_| Some("not-offered".into()), Some("permessage-deflate"));
    let text = String::from_utf8(answer.clone()).unwrap();
    assert!(!text.contains("Sec-WebSocket-Protocol"), "a pick that was not offered is dropped");
    let (neg, v) = check_response(&r, &resp(&answer));
    assert_eq!(v, vec![]);
    assert!(neg.accepted);
    assert_eq!(neg.protocol, None);
    assert_eq!(neg.extensions, parse_extensions("permessage-deflate").unwrap());
}

#[test]
fn reference_response_refusals() {
    // Unsupported version: 426 with the supported version.
    let r = req(&good().version("8").build());
    let answer = resp(&response_for(&r, |_| None, None));
    assert_eq!(answer.status, 426);
    assert_eq!(answer.tokens("sec-websocket-version"), ["13"]);
    assert_eq!(check_response(&r, &answer).1, vec![]);
    // Invalid request: 400.
    let r = req(&good().omit(StdHeader::Host).build());
    let answer = resp(&response_for(&r, |_| None, None));
    assert_eq!(answer.status, 400);
    let (neg, v) = check_response(&r, &answer);
    assert_eq!(v, vec![]);
    assert!(!neg.accepted);
}

// ---- HTTP parsing ----

#[test]
fn every_prefix_of_a_valid_request_is_partial() {
    let bytes = RFC_REQUEST.as_bytes();
    for n in 0..bytes.len() {
        assert_eq!(parse_request(&bytes[..n]), Ok(Progress::Partial), "prefix of {n} bytes");
    }
    let bytes = RFC_RESPONSE.as_bytes();
    for n in 0..bytes.len() {
        assert_eq!(parse_response(&bytes[..n]), Ok(Progress::Partial), "prefix of {n} bytes");
    }
}

#[test]
fn bytes_after_the_head_are_not_consumed() {
    let mut bytes = RFC_RESPONSE.as_bytes().to_vec();
    bytes.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    match parse_response(&bytes) {
        Ok(Progress::Complete { consumed, .. }) => assert_eq!(consumed, RFC_RESPONSE.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_head_is_an_error_not_partial() {
    let mut bytes = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    while bytes.len() < MAX_HEAD + 100 {
        bytes.extend_from_slice(format!("X-Filler: {}\r\n", "a".repeat(300)).as_bytes());
    }
    // No terminating empty line and fewer than MAX_HEADERS fields: the size alone ends it.
    let e = parse_request(&bytes).unwrap_err();
    assert_eq!(e.offset, MAX_HEAD, "{e}");
    assert!(e.message.contains("16384"), "{e}");
    // The same with the empty line after the limit.
    bytes.extend_from_slice(b"\r\n");
    assert_eq!(parse_request(&bytes).unwrap_err().offset, MAX_HEAD);
    let one_long = [b"GET / HTTP/1.1\r\nX-Big: ".as_slice(), &vec![b'a'; MAX_HEAD]].concat();
    assert!(parse_request(&one_long).is_err());
    let resp_long = [b"HTTP/1.1 101 OK\r\nX-Big: ".as_slice(), &vec![b'a'; MAX_HEAD]].concat();
    assert!(parse_response(&resp_long).is_err());
    // Just under the limit is still Partial.
    assert_eq!(parse_request(&one_long[..MAX_HEAD - 1]), Ok(Progress::Partial));
}

#[test]
fn too_many_headers_is_an_error() {
    let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        bytes.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    assert!(bytes.len() < MAX_HEAD);
    let e = parse_request(&bytes).unwrap_err();
    assert!(e.message.contains("too many"), "{e}");
    // 64 headers are fine.
    let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..64 {
        bytes.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    assert_eq!(req(&bytes).headers.len(), 64);
}

#[test]
fn malformed_heads_are_errors_with_offsets() {
    let e = parse_request(b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n").unwrap_err();
    assert_eq!(e.offset, 16 + 9 + 3, "{e}");
    let e = parse_request(b"GET / HTTP/2.0\r\n\r\n").unwrap_err();
    assert_eq!(e.offset, 6, "{e}");
    let e = parse_response(b"HTTP/1.1 1x1 Switching\r\n\r\n").unwrap_err();
    assert_eq!(e.offset, 9, "{e}");
    let e = parse_request(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n").unwrap_err();
    assert_eq!(e.offset, 16 + 7, "{e}");
    assert!(parse_request(b"\x16\x03\x01\x02\x00").is_err(), "a TLS ClientHello is not HTTP");
}

#[test]
fn repeated_headers_are_kept_in_order() {
    let r = req(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nX: 1\r\nconnection: , Upgrade ,\r\n\r\n");
    assert_eq!(r.headers_named("CONNECTION").collect::<Vec<_>>(), [&b"keep-alive"[..], b", Upgrade ,"]);
    assert_eq!(r.header("connection"), Some(&b"keep-alive"[..]));
    assert_eq!(r.tokens("Connection"), ["keep-alive", "Upgrade"]);
    assert!(r.has_token("connection", "UPGRADE"));
    assert_eq!(r.header("missing"), None);
}

// ---- request judging ----

#[test]
fn valid_request_variants() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("odd case tokens", good().upgrade("WebSocket").connection("UPGRADE").build()),
        ("connection list", good().connection("keep-alive, Upgrade").build()),
        ("upgrade list", good().upgrade("h2c, websocket").build()),
        ("split connection", good().connection("keep-alive").header("Connection", "upgrade").build()),
        ("absolute target", good().path("http://server.example.com/chat?x=1").build()),
        ("extensions", good().extensions("permessage-deflate; client_max_window_bits").build()),
        ("two extension fields", good().extensions("x-foo").header("Sec-WebSocket-Extensions", "y").build()),
        ("rfc example key with pad bits", good().key("AQIDBAUGBwgJCgsMDQ4PEC==").build()),
        ("key with OWS", good().key("  dGhlIHNhbXBsZSBub25jZQ==  ").build()),
        (
            "header names in odd case, odd order",
            b"GET / HTTP/1.1\r\nsec-websocket-version: 13\r\nCONNECTION: upgrade\r\n\
sec-WEBSOCKET-key: dGhlIHNhbXBsZSBub25jZQ==\r\nupgrade: websocket\r\nhOsT: a\r\n\r\n"
                .to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let r = req(&bytes);
        assert_eq!(check_request(&r), vec![], "{name}");
    }
}

#[test]
fn broken_requests_name_exactly_the_expected_rules() {
    use Rule::*;
    let cases: Vec<(&str, Vec<u8>, Vec<Rule>)> = vec![
        ("missing Host", good().omit(StdHeader::Host).build(), vec![HsRequestHost]),
        ("empty Host", good().host("").build(), vec![HsRequestHost]),
        ("two Host", good().header("Host", "other").build(), vec![HsRequestHost]),
        ("missing Upgrade", good().omit(StdHeader::Upgrade).build(), vec![HsRequestUpgrade]),
        ("Upgrade: h2c", good().upgrade("h2c").build(), vec![HsRequestUpgrade]),
        ("missing Connection", good().omit(StdHeader::Connection).build(), vec![HsRequestConnection]),
        ("Connection: keep-alive", good().connection("keep-alive").build(), vec![HsRequestConnection]),
        ("Connection: upgraded", good().connection("upgraded").build(), vec![HsRequestConnection]),
        ("missing Key", good().omit(StdHeader::Key).build(), vec![HsRequestKey]),
        // 15 and 17 bytes, well-formed base64.
        ("key of 15 bytes", good().key("AAECAwQFBgcICQoLDA0O").build(), vec![HsRequestKey]),
        ("key of 17 bytes", good().key("AAECAwQFBgcICQoLDA0ODxA=").build(), vec![HsRequestKey]),
        ("key not base64", good().key("dGhlIHNhbXBsZSBub25jZQ!!").build(), vec![HsRequestKey]),
        ("key url-safe alphabet", good().key("-_-_-_-_-_-_-_-_-_-_-w==").build(), vec![HsRequestKey]),
        ("key unpadded", good().key("dGhlIHNhbXBsZSBub25jZQ").build(), vec![HsRequestKey]),
        ("key inner space", good().key("dGhlIHNhbXBs ZSBub25jZQ==").build(), vec![HsRequestKey]),
        (
            "duplicated key",
            good().header("Sec-WebSocket-Key", "AAECAwQFBgcICQoLDA0ODw==").build(),
            vec![HsHeaderRepeated],
        ),
        ("missing Version", good().omit(StdHeader::Version).build(), vec![HsRequestVersion]),
        ("version 8", good().version("8").build(), vec![HsRequestVersion]),
        ("version 13, 8", good().version("13, 8").build(), vec![HsRequestVersion]),
        ("version 013", good().version("013").build(), vec![HsRequestVersion]),
        ("duplicated version", good().header("Sec-WebSocket-Version", "13").build(), vec![HsHeaderRepeated]),
        ("method POST", good().method("POST").build(), vec![HsRequestMethod]),
        ("method get", good().method("get").build(), vec![HsRequestMethod]),
        ("HTTP/1.0", good().http_version("HTTP/1.0").build(), vec![HsRequestHttpVersion]),
        ("target with fragment", good().path("/chat#x").build(), vec![HsRequestMalformed]),
        ("target ws uri", good().path("ws://h/chat").build(), vec![HsRequestMalformed]),
        ("bad extensions", good().extensions("permessage-deflate;").build(), vec![HsExtensionsSyntax]),
        ("bad protocol token", good().protocol("a b").build(), vec![HsRequestProtocol]),
        ("repeated protocol", good().protocols(["chat", "chat"]).build(), vec![HsRequestProtocol]),
        (
            "empty protocol field",
            good().header("Sec-WebSocket-Protocol", " , ").build(),
            vec![HsRequestProtocol],
        ),
        (
            "plain GET",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            vec![HsRequestUpgrade, HsRequestConnection, HsRequestKey, HsRequestVersion],
        ),
    ];
    for (name, bytes, expected) in cases {
        let r = req(&bytes);
        let got = check_request(&r);
        assert_eq!(rules(&got), expected, "{name}: {got:?}");
        assert!(got.iter().all(|(_, d)| !d.is_empty()), "{name}: details are given");
    }
}

#[test]
fn key_validation() {
    assert!(key_is_valid(KEY.as_bytes()));
    assert!(key_is_valid(b"AQIDBAUGBwgJCgsMDQ4PEA=="));
    assert!(!key_is_valid(b""));
    assert!(!key_is_valid(b"AQIDBAUGBwgJCgsMDQ4PEA="));
    assert!(!key_is_valid(b"AQIDBAUGBwgJCgsMDQ4PEA==="));
}

// ---- response judging ----

fn rfc_req() -> Request {
    req(RFC_REQUEST.as_bytes())
}

fn response(status_line: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = format!("{status_line}\r\n");
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    resp(s.as_bytes())
}

const UP: (&str, &str) = ("Upgrade", "websocket");
const CONN: (&str, &str) = ("Connection", "Upgrade");
const ACC: (&str, &str) = ("Sec-WebSocket-Accept", ACCEPT);
const S101: &str = "HTTP/1.1 101 Switching Protocols";

#[test]
fn broken_responses_name_exactly_the_expected_rules() {
    use Rule::*;
    let cases: Vec<(&str, Response, Vec<Rule>, bool)> = vec![
        ("minimal ok", response(S101, &[UP, CONN, ACC]), vec![], true),
        (
            "odd case, list, OWS",
            response(
                S101,
                &[
                    ("upgrade", "WebSocket"),
                    ("connection", "keep-alive, upgrade"),
                    ("sec-websocket-accept", &format!(" {ACCEPT} ")),
                ],
            ),
            vec![],
            true,
        ),
        (
            "wrong Accept",
            response(S101, &[UP, CONN, ("Sec-WebSocket-Accept", "x3JJHMbDL1EzLkh9GBhXDw==")]),
            vec![HsResponseAccept],
            false,
        ),
        (
            "Accept of the raw key",
            response(S101, &[UP, CONN, ("Sec-WebSocket-Accept", KEY)]),
            vec![HsResponseAccept],
            false,
        ),
        ("missing Accept", response(S101, &[UP, CONN]), vec![HsResponseAccept], false),
        ("duplicated Accept", response(S101, &[UP, CONN, ACC, ACC]), vec![HsHeaderRepeated], false),
        ("200 status", response("HTTP/1.1 200 OK", &[]), vec![HsResponseStatus], false),
        ("400 to a valid request", response("HTTP/1.1 400 Bad Request", &[]), vec![HsResponseStatus], false),
        ("403 refusal is allowed", response("HTTP/1.1 403 Forbidden", &[]), vec![], false),
        ("302 redirect is allowed", response("HTTP/1.1 302 Found", &[("Location", "/x")]), vec![], false),
        ("401 auth is allowed", response("HTTP/1.1 401 Unauthorized", &[]), vec![], false),
        ("Upgrade missing", response(S101, &[CONN, ACC]), vec![HsResponseUpgrade], false),
        ("Upgrade: h2c", response(S101, &[("Upgrade", "h2c"), CONN, ACC]), vec![HsResponseUpgrade], false),
        (
            "Upgrade: two tokens",
            response(S101, &[("Upgrade", "websocket, h2c"), CONN, ACC]),
            vec![HsResponseUpgrade],
            false,
        ),
        ("Connection missing", response(S101, &[UP, ACC]), vec![HsResponseConnection], false),
        (
            "Connection: close",
            response(S101, &[UP, ("Connection", "close"), ACC]),
            vec![HsResponseConnection],
            false,
        ),
        (
            "extension not offered",
            response(S101, &[UP, CONN, ACC, ("Sec-WebSocket-Extensions", "permessage-deflate")]),
            vec![HsResponseExtensionNotOffered],
            true,
        ),
        (
            "extension syntax",
            response(S101, &[UP, CONN, ACC, ("Sec-WebSocket-Extensions", "a=b")]),
            vec![HsExtensionsSyntax],
            true,
        ),
        (
            "protocol not offered",
            response(S101, &[UP, CONN, ACC, ("Sec-WebSocket-Protocol", "mqtt")]),
            vec![HsResponseProtocolNotOffered],
            true,
        ),
        (
            "protocol in other case",
            response(S101, &[UP, CONN, ACC, ("Sec-WebSocket-Protocol", "Chat")]),
            vec![HsResponseProtocolNotOffered],
            true,
        ),
        (
            "two protocols in a list",
            response(S101, &[UP, CONN, ACC, ("Sec-WebSocket-Protocol", "chat, superchat")]),
            vec![HsResponseProtocolNotOffered],
            true,
        ),
        (
            "two protocol fields",
            response(
                S101,
                &[UP, CONN, ACC, ("Sec-WebSocket-Protocol", "chat"), ("Sec-WebSocket-Protocol", "chat")],
            ),
            vec![HsResponseProtocolNotOffered],
            true,
        ),
        (
            "empty protocol",
            response(S101, &[UP, CONN, ACC, ("Sec-WebSocket-Protocol", "")]),
            vec![HsResponseProtocolNotOffered],
            true,
        ),
        (
            "everything wrong",
            response(S101, &[("Sec-WebSocket-Protocol", "x")]),
            vec![HsResponseUpgrade, HsResponseConnection, HsResponseAccept, HsResponseProtocolNotOffered],
            false,
        ),
    ];
    let r = rfc_req();
    for (name, s, expected, accepted) in cases {
        let (neg, got) = check_response(&r, &s);
        assert_eq!(rules(&got), expected, "{name}: {got:?}");
        assert_eq!(neg.accepted, accepted, "{name}: accepted");
    }
}

#[test]
fn responses_to_unsupported_versions() {
    use Rule::*;
    let r8 = req(&good().version("8").build());
    let r13_8 = req(&good().version("13, 8").build());
    let cases: Vec<(&str, &Request, Response, Vec<Rule>)> = vec![
        (
            "426 with version",
            &r8,
            response("HTTP/1.1 426 Upgrade Required", &[("Sec-WebSocket-Version", "13")]),
            vec![],
        ),
        (
            "400 with versions split",
            &r8,
            response(
                "HTTP/1.1 400 Bad Request",
                &[("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Version", "8, 7")],
            ),
            vec![],
        ),
        (
            "426 without version",
            &r8,
            response("HTTP/1.1 426 Upgrade Required", &[]),
            vec![HsVersionNotSupportedReply],
        ),
        (
            "400 without version",
            &r13_8,
            response("HTTP/1.1 400 Bad Request", &[]),
            vec![HsVersionNotSupportedReply],
        ),
        (
            "200 with version",
            &r8,
            response("HTTP/1.1 200 OK", &[("Sec-WebSocket-Version", "13")]),
            vec![HsVersionNotSupportedReply],
        ),
        ("101 accepting it", &r8, response(S101, &[UP, CONN, ACC]), vec![HsVersionNotSupportedReply]),
    ];
    for (name, r, s, expected) in cases {
        let (neg, got) = check_response(r, &s);
        assert_eq!(rules(&got), expected, "{name}: {got:?}");
        assert!(!neg.accepted || s.status == 101, "{name}");
    }
}

#[test]
fn responses_to_invalid_requests() {
    use Rule::*;
    let no_host = req(&good().omit(StdHeader::Host).build());
    let cases: Vec<(&str, Response, Vec<Rule>)> = vec![
        ("400", response("HTTP/1.1 400 Bad Request", &[]), vec![]),
        ("any error", response("HTTP/1.1 500 Internal Server Error", &[]), vec![]),
        ("200 (not a violation: the request was bad)", response("HTTP/1.1 200 OK", &[]), vec![]),
        ("101", response(S101, &[UP, CONN, ACC]), vec![HsBadRequestAccepted]),
    ];
    for (name, s, expected) in cases {
        let (_, got) = check_response(&no_host, &s);
        assert_eq!(rules(&got), expected, "{name}: {got:?}");
    }
    // An unsupported version plus another fault, answered 101: both rules.
    let r = req(&good().version("8").method("POST").build());
    let (_, got) = check_response(&r, &response(S101, &[UP, CONN, ACC]));
    assert_eq!(rules(&got), vec![HsVersionNotSupportedReply, HsBadRequestAccepted], "{got:?}");
}

#[test]
fn negotiated_extensions_in_server_order() {
    let r = req(&good().extensions("permessage-deflate; client_max_window_bits, x-foo").build());
    let s = response(
        S101,
        &[
            UP,
            CONN,
            ACC,
            ("Sec-WebSocket-Extensions", "x-foo"),
            ("Sec-WebSocket-Extensions", "Permessage-Deflate; server_max_window_bits=10"),
        ],
    );
    let (neg, v) = check_response(&r, &s);
    assert_eq!(v, vec![]);
    assert!(neg.accepted);
    let names: Vec<&str> = neg.extensions.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["x-foo", "Permessage-Deflate"]);
    assert_eq!(neg.extensions[1].param("SERVER_MAX_WINDOW_BITS").unwrap().value.as_deref(), Some("10"));
}

// ---- §9.1 grammar ----

fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
    Extension {
        name: name.into(),
        params: params
            .iter()
            .map(|(n, v)| ExtParam { name: (*n).into(), value: v.map(Into::into) })
            .collect(),
    }
}

#[test]
fn extension_grammar_good() {
    let cases: Vec<(&str, Vec<Extension>)> = vec![
        ("permessage-deflate", vec![ext("permessage-deflate", &[])]),
        (
            "permessage-deflate; client_max_window_bits",
            vec![ext("permessage-deflate", &[("client_max_window_bits", None)])],
        ),
        (
            "permessage-deflate; server_max_window_bits=\"10\"",
            vec![ext("permessage-deflate", &[("server_max_window_bits", Some("10"))])],
        ),
        (
            "x-foo, permessage-deflate;client_no_context_takeover",
            vec![ext("x-foo", &[]), ext("permessage-deflate", &[("client_no_context_takeover", None)])],
        ),
        (
            "mux; max-channels=4; flow-control, deflate-stream",
            vec![
                ext("mux", &[("max-channels", Some("4")), ("flow-control", None)]),
                ext("deflate-stream", &[]),
            ],
        ),
        ("  a ;\tb = 1 ; c=\"\\x\" ,", vec![ext("a", &[("b", Some("1")), ("c", Some("x"))])]),
        (", , a,,b ,", vec![ext("a", &[]), ext("b", &[])]),
        ("a, a", vec![ext("a", &[]), ext("a", &[])]),
    ];
    for (s, expected) in cases {
        assert_eq!(parse_extensions(s), Ok(expected), "{s:?}");
    }
}

#[test]
fn extension_grammar_bad() {
    let cases: Vec<(&str, usize)> = vec![
        (";foo", 0),
        ("permessage-deflate;", 19),
        ("a=b", 1),
        ("permessage-deflate; x=\"a b\"", 22),
        ("", 0),
        (" , ", 0),
        ("a; =1", 3),
        ("a; b=", 5),
        ("a; b=\"unterminated", 5),
        ("a; b=\"\"", 5),
        ("a b", 2),
        ("a; b c", 5),
        ("a/b", 1),
        ("a; b=c=d", 6),
        ("a; b=\"x\"y", 8),
        ("a; b=1 2", 7),
        ("é", 0),
    ];
    for (s, pos) in cases {
        let e = parse_extensions(s).expect_err(s);
        assert_eq!(e.position, pos, "{s:?}: {e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn format_extensions_writes_the_canonical_form() {
    let v = vec![
        ext(
            "permessage-deflate",
            &[("client_max_window_bits", None), ("server_max_window_bits", Some("10"))],
        ),
        ext("x-foo", &[]),
    ];
    assert_eq!(
        format_extensions(&v),
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo"
    );
    assert_eq!(format_extensions(&[]), "");
    assert_eq!(format_extensions(&[ext("a", &[("b", Some("x \"y\""))])]), "a; b=\"x \\\"y\\\"\"");
}

// ---- properties ----

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
}

fn extension() -> impl Strategy<Value = Extension> {
    (token(), prop::collection::vec((token(), prop::option::of(token())), 0..4)).prop_map(|(name, ps)| {
        Extension { name, params: ps.into_iter().map(|(name, value)| ExtParam { name, value }).collect() }
    })
}

proptest! {
    #[test]
    fn parse_request_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(Progress::Complete { value, consumed }) = parse_request(&bytes) {
            prop_assert!(consumed <= bytes.len());
            let _ = check_request(&value);
            let _ = response_for(&value, |o| o.first().cloned(), None);
        }
        let _ = parse_response(&bytes);
    }

    #[test]
    fn parse_request_never_panics_near_valid(
        cut in 0usize..400,
        at in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut bytes = RFC_REQUEST.as_bytes().to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut);
        if let Ok(Progress::Complete { value, .. }) = parse_request(&bytes) {
            let _ = check_request(&value);
            let s = resp(RFC_RESPONSE.as_bytes());
            let _ = check_response(&value, &s);
        }
    }

    #[test]
    fn format_parse_round_trip(exts in prop::collection::vec(extension(), 1..5)) {
        let text = format_extensions(&exts);
        prop_assert_eq!(parse_extensions(&text), Ok(exts.clone()));
        // And the canonical text is a fixed point.
        prop_assert_eq!(format_extensions(&parse_extensions(&text).unwrap()), text);
    }

    #[test]
    fn quoting_and_whitespace_do_not_change_meaning(
        exts in prop::collection::vec(extension(), 1..4),
        quote in any::<bool>(),
        ws in "[ \t]{0,2}",
    ) {
        let mut s = String::new();
        for (i, e) in exts.iter().enumerate() {
            if i > 0 { s.push_str(&format!("{ws},{ws}")); }
            s.push_str(&e.name);
            for p in &e.params {
                s.push_str(&format!("{ws};{ws}{}", p.name));
                if let Some(v) = &p.value {
                    if quote { s.push_str(&format!("{ws}={ws}\"{v}\"")); } else { s.push_str(&format!("={v}")); }
                }
            }
        }
        prop_assert_eq!(parse_extensions(&s), Ok(exts));
    }

    #[test]
    fn parse_extensions_never_panics(s in "\\PC{0,64}") {
        if let Ok(v) = parse_extensions(&s) {
            prop_assert!(!v.is_empty());
            prop_assert_eq!(parse_extensions(&format_extensions(&v)), Ok(v));
        }
    }
}
