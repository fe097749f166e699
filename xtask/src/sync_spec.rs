//! `cargo xtask sync-spec`.

pub(crate) fn run(_tag: &str, _repo: &str) -> anyhow::Result<()> {
    anyhow::bail!("sync-spec is not implemented yet")
}
