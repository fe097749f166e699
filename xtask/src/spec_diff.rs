//! `cargo xtask spec-diff`.

pub(crate) fn run(_from: &str, _to: &str, _repo: &str) -> anyhow::Result<()> {
    anyhow::bail!("spec-diff is not implemented yet")
}
