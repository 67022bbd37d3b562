//! The Sec-WebSocket-Extensions header (RFC 6455 §9.1): a list of extensions, each a
//! token with parameters.
//!
//! [`parse_extensions`] implements the §9.1 grammar (also collected in §4.3):
//! a comma list of at least one extension, each an extension token followed by
//! `;`-separated parameters, a parameter being a token with an optional value that is
//! a token or a quoted-string whose unescaped content is itself a token. Optional
//! whitespace (SP / HTAB) is accepted around `,`, `;` and `=` (the "implied LWS" of
//! the RFC 2616 notation §9.1 uses), and empty list elements are skipped as the list
//! rule of RFC 7230 §7 allows, but the list must hold at least one extension.
//! A value that breaks the grammar is a [`Rule::HsExtensionsSyntax`](crate::Rule)
//! violation for whoever sent it.

use serde::Serialize;

/// One extension parameter: `name` or `name=value` (a quoted value is unquoted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtParam {
    /// Parameter name, as written.
    pub name: String,
    /// Value, unquoted, if one was given.
    pub value: Option<String>,
}

/// One element of an extension list: `name; p1; p2=v`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    /// Extension token, as written.
    pub name: String,
    /// Parameters in order of appearance.
    pub params: Vec<ExtParam>,
}

impl Extension {
    /// The first parameter named `name` (ASCII case-insensitive), if any.
    pub fn param(&self, name: &str) -> Option<&ExtParam> {
        self.params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// A Sec-WebSocket-Extensions value that does not follow the RFC 6455 §9.1 grammar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("extension list syntax error at byte {position}: {message}")]
pub struct ExtensionSyntaxError {
    /// Byte offset in the header value where the grammar broke.
    pub position: usize,
    /// What was expected or found.
    pub message: String,
}

/// Whether `b` is a `tchar` (RFC 7230 §3.2.6; RFC 2616 token characters).
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn err(&self, message: impl Into<String>) -> ExtensionSyntaxError {
        ExtensionSyntaxError { position: self.pos, message: message.into() }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of value".to_owned(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        }
    }

    /// A token, or an error naming `what` was expected.
    fn token(&mut self, what: &str) -> Result<&'a str, ExtensionSyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.err(format!("expected {what}, found {}", self.found())));
        }
        // tchar is ASCII, so this slice is valid UTF-8.
        Ok(std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default())
    }

    /// A quoted-string (RFC 7230 §3.2.6), cursor on the opening DQUOTE; returns the
    /// unescaped bytes.
    fn quoted(&mut self) -> Result<Vec<u8>, ExtensionSyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExtensionSyntaxError {
                        position: open,
                        message: "quoted-string is not closed".to_owned(),
                    });
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80 => {
                            out.push(b);
                            self.pos += 1;
                        }
                        _ => return Err(self.err(format!("bad quoted-pair: {}", self.found()))),
                    }
                }
                Some(b) if b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80 => {
                    out.push(b);
                    self.pos += 1;
                }
                Some(_) => return Err(self.err(format!("{} inside quoted-string", self.found()))),
            }
        }
    }
}

/// Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1 `extension-list`).
///
/// ```
/// use wsprobe_wire::extensions::parse_extensions;
/// let exts = parse_extensions("permessage-deflate; server_max_window_bits=\"10\", x-foo").unwrap();
/// assert_eq!(exts[0].params[0].value.as_deref(), Some("10"));
/// assert_eq!(exts[1].name, "x-foo");
/// assert!(parse_extensions("permessage-deflate;").is_err());
/// ```
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, ExtensionSyntaxError> {
    parse_extension_bytes(value.as_bytes())
}

/// [`parse_extensions`] over raw header bytes (bytes outside ASCII can only occur
/// inside a quoted-string, whose content must then fail the token check anyway).
pub(crate) fn parse_extension_bytes(value: &[u8]) -> Result<Vec<Extension>, ExtensionSyntaxError> {
    let mut c = Cursor { s: value, pos: 0 };
    let mut out = Vec::new();
    loop {
        // Empty list elements: `, ,` and leading or trailing commas (RFC 7230 §7).
        c.skip_ows();
        match c.peek() {
            Some(b',') => {
                c.pos += 1;
                continue;
            }
            None => break,
            Some(_) => {}
        }
        let name = c.token("an extension token")?.to_owned();
        let mut params = Vec::new();
        loop {
            c.skip_ows();
            match c.peek() {
                None | Some(b',') => break,
                Some(b';') => c.pos += 1,
                Some(_) => return Err(c.err(format!("expected ';' or ',', found {}", c.found()))),
            }
            c.skip_ows();
            let pname = c.token("a parameter name after ';'")?.to_owned();
            c.skip_ows();
            let mut pvalue = None;
            if c.peek() == Some(b'=') {
                c.pos += 1;
                c.skip_ows();
                if c.peek() == Some(b'"') {
                    let start = c.pos;
                    let raw = c.quoted()?;
                    match String::from_utf8(raw) {
                        Ok(v) if is_token(&v) => pvalue = Some(v),
                        _ => {
                            return Err(ExtensionSyntaxError {
                                position: start,
                                message: format!(
                                    "quoted value of parameter '{pname}' is not a token once unquoted"
                                ),
                            });
                        }
                    }
                } else {
                    pvalue = Some(c.token(&format!("a value for parameter '{pname}'"))?.to_owned());
                }
            }
            params.push(ExtParam { name: pname, value: pvalue });
        }
        out.push(Extension { name, params });
    }
    if out.is_empty() {
        return Err(ExtensionSyntaxError {
            position: 0,
            message: "the list holds no extension (at least one is required)".to_owned(),
        });
    }
    Ok(out)
}

/// Formats extensions as a Sec-WebSocket-Extensions value: `a; p; q=v, b`.
///
/// A value that is a token is written bare; any other value is written as a
/// quoted-string (escaping `"` and `\`) — which [`parse_extensions`] will reject,
/// since §9.1 requires the unquoted value to be a token. Names are written as given.
/// For extensions whose names and values are tokens,
/// `parse_extensions(&format_extensions(x)) == Ok(x)` for any non-empty `x`.
pub fn format_extensions(exts: &[Extension]) -> String {
    let mut s = String::new();
    for (i, e) in exts.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&e.name);
        for p in &e.params {
            s.push_str("; ");
            s.push_str(&p.name);
            if let Some(v) = &p.value {
                s.push('=');
                if is_token(v) {
                    s.push_str(v);
                } else {
                    s.push('"');
                    for ch in v.chars() {
                        if ch == '"' || ch == '\\' {
                            s.push('\\');
                        }
                        s.push(ch);
                    }
                    s.push('"');
                }
            }
        }
    }
    s
}
