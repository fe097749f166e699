//! `cargo xtask codegen`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Write,
    Check,
}

pub(crate) fn run(_mode: Mode) -> anyhow::Result<()> {
    anyhow::bail!("codegen is not implemented yet")
}
