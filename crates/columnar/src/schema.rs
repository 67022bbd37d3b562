//! The Parquet schema of each table: one definition per record type, from which both the
//! Parquet message type and the column buffers are built (so they cannot disagree).

/// Physical and logical type of a leaf column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `INT64`.
    I64,
    /// `INT64 (INTEGER(64,false))`: unsigned, for lengths taken from a frame header's
    /// 64-bit length field, which a broken frame can set to 2^63 or more.
    U64,
    /// `INT64 (TIMESTAMP(NANOS, true))`: nanoseconds since the Unix epoch, UTC.
    Ts,
    /// `BOOLEAN`.
    Bool,
    /// `BYTE_ARRAY (STRING)`, UTF-8.
    Str,
}

/// A leaf column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leaf {
    /// Column name (the JSON field name).
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Nullable (the JSON value can be `null`).
    pub optional: bool,
}

/// A top-level field: a leaf, or an optional group of required leaves (a JSON object
/// that can be `null`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    /// A plain column.
    Leaf(Leaf),
    /// An optional struct.
    Group {
        /// Field name.
        name: &'static str,
        /// Its members, all required within the group.
        members: &'static [Leaf],
    },
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field::Leaf(Leaf { name, kind, optional: false })
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field::Leaf(Leaf { name, kind, optional: true })
}

const fn member(name: &'static str, kind: Kind) -> Leaf {
    Leaf { name, kind, optional: false }
}

use Kind::{Bool, I64, Str, Ts, U64};

/// `sessions`: [`SessionRecord`](wsprobe_dissect::SessionRecord).
pub(crate) const SESSIONS: &[Field] = &[
    req("session", I64),
    req("file", Str),
    req("conn", I64),
    req("client", Str),
    req("server", Str),
    req("handshake", Str),
    opt("status", I64),
    opt("path", Str),
    opt("host", Str),
    opt("origin", Str),
    opt("offered_protocols", Str),
    opt("offered_extensions", Str),
    opt("protocol", Str),
    opt("extensions", Str),
    Field::Group {
        name: "deflate",
        members: &[
            member("server_no_context_takeover", Bool),
            member("client_no_context_takeover", Bool),
            member("server_max_window_bits", I64),
            member("client_max_window_bits", I64),
        ],
    },
    opt("tls_version", Str),
    opt("tls_suite", Str),
    opt("sni", Str),
    opt("proxy", Str),
    req("first_packet", I64),
    req("ts_nanos", I64),
    req("ts", Ts),
];

/// `messages`: [`MessageRecord`](wsprobe_dissect::MessageRecord).
pub(crate) const MESSAGES: &[Field] = &[
    req("session", I64),
    req("dir", Str),
    req("packet", I64),
    req("ts_nanos", I64),
    req("ts", Ts),
    req("opcode", Str),
    req("offset", I64),
    req("len", U64),
    req("wire_len", U64),
    req("frames", I64),
    req("compressed", Bool),
    opt("close_code", I64),
    opt("close_reason", Str),
    opt("payload_preview", Str),
    opt("payload_b64", Str),
    req("truncated", Bool),
    req("incomplete", Bool),
    opt("rtt_nanos", I64),
];

/// `frames`: [`FrameRecord`](wsprobe_dissect::FrameRecord).
pub(crate) const FRAMES: &[Field] = &[
    req("session", I64),
    req("dir", Str),
    req("packet", I64),
    req("ts_nanos", I64),
    req("ts", Ts),
    req("offset", I64),
    req("fin", Bool),
    req("rsv1", Bool),
    req("rsv2", Bool),
    req("rsv3", Bool),
    req("opcode", I64),
    req("opcode_name", Str),
    req("masked", Bool),
    opt("mask_key", Str),
    req("payload_len", U64),
    opt("close_code", I64),
    req("missing", U64),
];

/// `violations`: [`ViolationRecord`](wsprobe_dissect::ViolationRecord).
pub(crate) const VIOLATIONS: &[Field] = &[
    req("session", I64),
    req("rule", Str),
    req("rfc", I64),
    req("section", Str),
    req("level", Str),
    req("by", Str),
    req("dir", Str),
    req("packet", I64),
    req("ts_nanos", I64),
    req("ts", Ts),
    req("offset", I64),
    req("detail", Str),
];

/// `events`: [`EventRecord`](wsprobe_dissect::EventRecord).
pub(crate) const EVENTS: &[Field] = &[
    req("session", I64),
    req("kind", Str),
    opt("dir", Str),
    req("packet", I64),
    req("ts_nanos", I64),
    req("ts", Ts),
    opt("offset", I64),
    opt("len", I64),
    opt("reason", Str),
    req("text", Str),
];

/// `warnings`: [`WarningRecord`](wsprobe_dissect::WarningRecord).
pub(crate) const WARNINGS: &[Field] =
    &[opt("session", I64), req("file", Str), req("packet", I64), req("message", Str)];

fn leaf_line(out: &mut String, indent: &str, l: &Leaf) {
    let rep = if l.optional { "optional" } else { "required" };
    let ty = match l.kind {
        I64 | U64 | Ts => "int64",
        Bool => "boolean",
        Str => "binary",
    };
    let ann = match l.kind {
        I64 | Bool => "",
        U64 => " (INTEGER(64,false))",
        Ts => " (TIMESTAMP(NANOS,true))",
        Str => " (STRING)",
    };
    out.push_str(&format!("{indent}{rep} {ty} {}{ann};\n", l.name));
}

/// The Parquet message type (schema text for `parse_message_type`) of a table.
pub(crate) fn message_type(table: &str, fields: &[Field]) -> String {
    let mut s = format!("message {table} {{\n");
    for f in fields {
        match f {
            Field::Leaf(l) => leaf_line(&mut s, "  ", l),
            Field::Group { name, members } => {
                s.push_str(&format!("  optional group {name} {{\n"));
                for m in *members {
                    leaf_line(&mut s, "    ", m);
                }
                s.push_str("  }\n");
            }
        }
    }
    s.push_str("}\n");
    s
}

/// The leaf columns of a table in schema order, with whether each can be absent
/// (a nullable leaf, or a leaf of a nullable group: maximum definition level 1).
pub(crate) fn leaves(fields: &[Field]) -> Vec<(Kind, bool)> {
    let mut v = Vec::new();
    for f in fields {
        match f {
            Field::Leaf(l) => v.push((l.kind, l.optional)),
            Field::Group { members, .. } => v.extend(members.iter().map(|m| (m.kind, true))),
        }
    }
    v
}
