//! Compiles envd's protos with protox (no `protoc` needed) into a
//! `FileDescriptorSet`, then has connectrpc-build generate buffa messages and
//! connectrpc service traits from it.

use std::path::PathBuf;

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let spec = manifest.join("../../spec/envd");
    let files = ["process/process.proto", "filesystem/filesystem.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={}", spec.join(f).display());
    }

    let mut compiler = protox::Compiler::new([&spec]).expect("protox include path");
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(files).expect("compiling envd protos");
    let fds = out.join("envd.fds.bin");
    std::fs::write(&fds, compiler.encode_file_descriptor_set()).expect("writing descriptor set");

    connectrpc_build::Config::new()
        .descriptor_set(&fds)
        .files(&files)
        .include_file("_connectrpc.rs")
        .compile()
        .expect("connectrpc code generation");
}
