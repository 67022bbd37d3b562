//! Endpoint roles and stream directions.

use serde::Serialize;

/// One endpoint of a WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The endpoint that sent the opening handshake request (masks its frames).
    Client,
    /// The endpoint that answered the handshake (never masks).
    Server,
}

impl Role {
    /// The other endpoint.
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// The direction of the bytes this endpoint sends.
    pub const fn sends(self) -> Dir {
        match self {
            Role::Client => Dir::C2S,
            Role::Server => Dir::S2C,
        }
    }

    /// `client` or `server`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The direction of a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Dir {
    /// Client to server.
    #[serde(rename = "c2s")]
    C2S,
    /// Server to client.
    #[serde(rename = "s2c")]
    S2C,
}

impl Dir {
    /// The endpoint that sends in this direction.
    pub const fn sender(self) -> Role {
        match self {
            Dir::C2S => Role::Client,
            Dir::S2C => Role::Server,
        }
    }

    /// `c2s` or `s2c`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dir::C2S => "c2s",
            Dir::S2C => "s2c",
        }
    }

    /// Index 0 for c2s, 1 for s2c (for per-direction arrays).
    pub const fn index(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }
}

impl std::fmt::Display for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
