//! envd's protobuf services: prost messages, ProtoJSON serde, Connect stubs.

use std::path::Path;

pub(crate) fn generate(_root: &Path) -> anyhow::Result<Vec<(String, proc_macro2::TokenStream)>> {
    Ok(Vec::new())
}
