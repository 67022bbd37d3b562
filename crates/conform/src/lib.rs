//! wsprobe conform (placeholder).
