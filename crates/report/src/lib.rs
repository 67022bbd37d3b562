//! wsprobe report (placeholder).
