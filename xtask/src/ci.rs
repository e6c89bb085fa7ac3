//! `cargo xtask ci`: placeholder until the steps land.
use std::path::Path;

pub fn run(_root: &Path) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
