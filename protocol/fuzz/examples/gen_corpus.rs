//! Writes the structured seed corpus for every target into `corpus/TARGET/`:
//! real envelopes, invites, sessions and frames built by a deterministic handshake.
//!
//! `cargo run --release --example gen_corpus` (from `protocol/fuzz/`).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in cairn_fuzz::TARGETS {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        let seeds = cairn_fuzz::seeds(target);
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed)?;
        }
        println!("{target}: {} seeds in {}", seeds.len(), dir.display());
    }
    Ok(())
}
