//! The `wsprobe` command line.
fn main() {}
