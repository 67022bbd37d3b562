//! Writes the fixture captures under `captures/` (at the repository root) and
//! `captures/README.md` describing them:
//! `cargo run -p wsprobe-dissect --example make-captures [-- OUT_DIR]`.
//!
//! Everything is deterministic (fixed addresses, sequence numbers, masking keys and
//! timestamps), so running it again gives identical bytes; the `captures` test checks
//! that the committed files are what this generator writes.

mod fixtures;

fn main() -> std::io::Result<()> {
    let out = std::env::args().nth(1).map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&out)?;
    let all = fixtures::all();
    for f in &all {
        std::fs::write(out.join(f.name), &f.bytes)?;
    }
    std::fs::write(out.join("README.md"), fixtures::readme(&all))?;
    eprintln!("wrote {} captures to {}", all.len(), out.display());
    Ok(())
}
