//! wsprobe dissect (placeholder).
