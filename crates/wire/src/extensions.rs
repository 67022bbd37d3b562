//! The Sec-WebSocket-Extensions header (RFC 6455 §9.1): a list of extensions, each a
//! token with parameters.

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
