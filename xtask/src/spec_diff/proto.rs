//! Structural diff of two versions of a protobuf file, compiled with protox.
//!
//! Files come straight from git, so they are compiled from memory: every `.proto` under
//! upstream's `spec/envd/` is importable by its path relative to that directory (the import
//! root upstream's buf configuration uses), and the well-known `google/protobuf/*` files come
//! from protox. Comments do not reach the descriptors, so comment-only edits show no change.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use protox::prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Syntax,
};

use super::{Entry, Group, push_group};

/// The import root of the protobuf files, relative to `spec/`.
const PROTO_ROOT: &str = "envd/";

/// Diffs one protobuf file (`file`, relative to `spec/`) between two snapshots, each given as
/// all the files of its `spec/` plus the file's bytes (absent when the file does not exist).
pub(super) fn diff(
    file: &str,
    old: (&BTreeMap<String, Vec<u8>>, Option<&[u8]>),
    new: (&BTreeMap<String, Vec<u8>>, Option<&[u8]>),
) -> anyhow::Result<Vec<Group>> {
    let model = |(files, bytes): (&BTreeMap<String, Vec<u8>>, Option<&[u8]>)| match bytes {
        Some(_) => ProtoModel::compile(files, file),
        None => Ok(ProtoModel::default()),
    };
    Ok(diff_models(&model(old)?, &model(new)?))
}

/// The parts of a compiled file that generated code depends on. Names are fully qualified
/// minus the file's package.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ProtoModel {
    package: String,
    /// service → rpc name → signature.
    services: BTreeMap<String, BTreeMap<String, String>>,
    /// message → field name → declaration.
    messages: BTreeMap<String, BTreeMap<String, String>>,
    /// enum → value name → number.
    enums: BTreeMap<String, BTreeMap<String, i32>>,
}

/// Serves in-memory sources by name.
#[derive(Debug)]
struct MemoryResolver(BTreeMap<String, String>);

impl FileResolver for MemoryResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

impl ProtoModel {
    /// Compiles `file` (relative to `spec/`) with every `.proto` of `files` importable.
    fn compile(files: &BTreeMap<String, Vec<u8>>, file: &str) -> anyhow::Result<Self> {
        let mut sources = BTreeMap::new();
        for (path, bytes) in files {
            if let Some(name) = path.strip_prefix(PROTO_ROOT)
                && name.ends_with(".proto")
            {
                let source = String::from_utf8(bytes.clone())
                    .with_context(|| format!("spec/{path} is not UTF-8"))?;
                sources.insert(name.to_owned(), source);
            }
        }
        let name = file
            .strip_prefix(PROTO_ROOT)
            .with_context(|| format!("spec/{file} is not under spec/{PROTO_ROOT}"))?;
        Self::compile_sources(sources, name).with_context(|| format!("cannot compile spec/{file}"))
    }

    /// Compiles `name` out of `sources` (keyed by import name).
    fn compile_sources(sources: BTreeMap<String, String>, name: &str) -> anyhow::Result<Self> {
        let mut resolver = ChainFileResolver::new();
        resolver.add(MemoryResolver(sources));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.open_file(name)?;
        let pool = compiler.descriptor_pool();
        Ok(Self::from_pool(&pool, name))
    }

    fn from_pool(pool: &DescriptorPool, name: &str) -> Self {
        let mut model = ProtoModel::default();
        let Some(file) = pool.get_file_by_name(name) else {
            return model;
        };
        model.package = file.package_name().to_owned();
        let package = model.package.clone();
        let local = |full: &str| -> String {
            match full
                .strip_prefix(&package)
                .and_then(|s| s.strip_prefix('.'))
            {
                Some(rest) if !package.is_empty() => rest.to_owned(),
                _ => full.to_owned(),
            }
        };

        for service in file.services() {
            let methods = service
                .methods()
                .map(|m| {
                    let stream = |yes: bool| if yes { "stream " } else { "" };
                    let signature = format!(
                        "rpc {}({}{}) returns ({}{})",
                        m.name(),
                        stream(m.is_client_streaming()),
                        local(m.input().full_name()),
                        stream(m.is_server_streaming()),
                        local(m.output().full_name()),
                    );
                    (m.name().to_owned(), signature)
                })
                .collect();
            model.services.insert(local(service.full_name()), methods);
        }

        let mut messages: Vec<MessageDescriptor> = file.messages().collect();
        let mut enums: Vec<EnumDescriptor> = file.enums().collect();
        while let Some(message) = messages.pop() {
            messages.extend(message.child_messages());
            enums.extend(message.child_enums());
            if message.is_map_entry() {
                continue;
            }
            let fields = message
                .fields()
                .map(|f| (f.name().to_owned(), field_declaration(&f, &local)))
                .collect();
            model.messages.insert(local(message.full_name()), fields);
        }
        for e in enums {
            let values = e
                .values()
                .map(|v| (v.name().to_owned(), v.number()))
                .collect();
            model.enums.insert(local(e.full_name()), values);
        }
        model
    }
}

/// `optional string cwd = 4`, `repeated Entry entries = 1`, `map<string, string> envs = 3`,
/// `StartEvent start = 1 (oneof event)`.
fn field_declaration(field: &FieldDescriptor, local: &dyn Fn(&str) -> String) -> String {
    let ty = if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields have a message kind")
        };
        format!(
            "map<{}, {}>",
            kind_name(&entry.map_entry_key_field().kind(), local),
            kind_name(&entry.map_entry_value_field().kind(), local)
        )
    } else {
        let label = if field.is_list() {
            "repeated "
        } else if field.field_descriptor_proto().proto3_optional() {
            "optional "
        } else {
            match field.cardinality() {
                Cardinality::Required => "required ",
                Cardinality::Optional if field.parent_file().syntax() == Syntax::Proto2 => {
                    "optional "
                }
                _ => "",
            }
        };
        format!("{label}{}", kind_name(&field.kind(), local))
    };
    let mut declaration = format!("{ty} {} = {}", field.name(), field.number());
    if let Some(oneof) = field.containing_oneof()
        && !oneof.is_synthetic()
    {
        declaration.push_str(&format!(" (oneof {})", oneof.name()));
    }
    declaration
}

fn kind_name(kind: &Kind, local: &dyn Fn(&str) -> String) -> String {
    match kind {
        Kind::Double => "double".to_owned(),
        Kind::Float => "float".to_owned(),
        Kind::Int32 => "int32".to_owned(),
        Kind::Int64 => "int64".to_owned(),
        Kind::Uint32 => "uint32".to_owned(),
        Kind::Uint64 => "uint64".to_owned(),
        Kind::Sint32 => "sint32".to_owned(),
        Kind::Sint64 => "sint64".to_owned(),
        Kind::Fixed32 => "fixed32".to_owned(),
        Kind::Fixed64 => "fixed64".to_owned(),
        Kind::Sfixed32 => "sfixed32".to_owned(),
        Kind::Sfixed64 => "sfixed64".to_owned(),
        Kind::Bool => "bool".to_owned(),
        Kind::String => "string".to_owned(),
        Kind::Bytes => "bytes".to_owned(),
        Kind::Message(m) => local(m.full_name()),
        Kind::Enum(e) => local(e.full_name()),
    }
}

fn diff_models(old: &ProtoModel, new: &ProtoModel) -> Vec<Group> {
    let mut groups = Vec::new();
    if old.package != new.package && !(old.package.is_empty() || new.package.is_empty()) {
        push_group(
            &mut groups,
            "Package",
            vec![Entry::changed(format!(
                "package: {} → {}",
                old.package, new.package
            ))],
        );
    }
    push_group(
        &mut groups,
        "Services",
        diff_maps(&old.services, &new.services, "service", |_, sig| {
            sig.clone()
        }),
    );
    push_group(
        &mut groups,
        "Messages",
        diff_maps(&old.messages, &new.messages, "message", |name, decl| {
            format!("field {name}: {decl}")
        }),
    );
    push_group(
        &mut groups,
        "Enums",
        diff_maps(&old.enums, &new.enums, "enum", |name, number| {
            format!("{name} = {number}")
        }),
    );
    groups
}

/// Added / removed / changed containers (services, messages, enums), with their members: all
/// of them under added ones, the differing ones under changed ones.
fn diff_maps<V: PartialEq>(
    old: &BTreeMap<String, BTreeMap<String, V>>,
    new: &BTreeMap<String, BTreeMap<String, V>>,
    what: &str,
    show: impl Fn(&str, &V) -> String,
) -> Vec<Entry> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut entries = Vec::new();
    let empty = BTreeMap::new();
    for name in names {
        let (a, b) = (old.get(name), new.get(name));
        let (members_a, members_b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
        let keys: BTreeSet<&String> = members_a.keys().chain(members_b.keys()).collect();
        let mut children = Vec::new();
        for key in keys {
            match (members_a.get(key), members_b.get(key)) {
                (None, Some(v)) if a.is_none() => children.push(Entry::note(show(key, v))),
                (None, Some(v)) => children.push(Entry::added(show(key, v))),
                (Some(v), None) => children.push(Entry::removed(show(key, v))),
                (Some(x), Some(y)) if x != y => children.push(Entry::changed(format!(
                    "{} → {}",
                    show(key, x),
                    show(key, y)
                        .split_once(": ")
                        .map_or(show(key, y), |(_, d)| d.to_owned())
                ))),
                _ => {}
            }
        }
        let entry = match (a, b) {
            (None, Some(_)) => Entry::added(format!("{what} {name}")).with_children(children),
            (Some(_), None) => Entry::removed(format!("{what} {name}")),
            _ if children.is_empty() => continue,
            _ => Entry::changed(format!("{what} {name}")).with_children(children),
        };
        entries.push(entry);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(source: &str) -> ProtoModel {
        let sources = BTreeMap::from([("process/process.proto".to_owned(), source.to_owned())]);
        ProtoModel::compile_sources(sources, "process/process.proto").unwrap()
    }

    fn render(old: &str, new: &str) -> String {
        let groups = diff_models(&model(old), &model(new));
        let mut out = String::new();
        super::super::render_groups(&mut out, &groups);
        out
    }

    const BASE: &str = r#"
syntax = "proto3";
package process;
import "google/protobuf/timestamp.proto";

service Process {
    rpc List(ListRequest) returns (ListResponse);
    rpc Start(StartRequest) returns (stream StartResponse);
}

message ListRequest {}
message ListResponse { repeated ProcessInfo processes = 1; }
message ProcessInfo {
    uint32 pid = 1;
    optional string tag = 2;
    map<string, string> envs = 3;
    google.protobuf.Timestamp started = 4;
}
message StartRequest {
    string cmd = 1;
    Signal signal = 2;
}
message StartResponse {
    oneof event {
        Start start = 1;
        End end = 2;
    }
    message Start { uint32 pid = 1; }
    message End { int32 exit_code = 1; }
}
enum Signal {
    SIGNAL_UNSPECIFIED = 0;
    SIGNAL_SIGTERM = 15;
}
"#;

    #[test]
    fn model_shape() {
        let m = model(BASE);
        assert_eq!(m.package, "process");
        assert_eq!(
            m.services["Process"]["Start"],
            "rpc Start(StartRequest) returns (stream StartResponse)"
        );
        let info = &m.messages["ProcessInfo"];
        assert_eq!(info["pid"], "uint32 pid = 1");
        assert_eq!(info["tag"], "optional string tag = 2");
        assert_eq!(info["envs"], "map<string, string> envs = 3");
        assert_eq!(info["started"], "google.protobuf.Timestamp started = 4");
        assert_eq!(
            m.messages["StartResponse"]["start"],
            "StartResponse.Start start = 1 (oneof event)"
        );
        assert!(m.messages.contains_key("StartResponse.End"));
        assert!(
            !m.messages.keys().any(|k| k.contains("Entry")),
            "map entries are skipped"
        );
        assert_eq!(m.enums["Signal"]["SIGNAL_SIGTERM"], 15);
    }

    #[test]
    fn identical_and_comment_only() {
        assert_eq!(render(BASE, BASE), "");
        let commented = BASE.replace(
            "message ListRequest {}",
            "// Lists.\nmessage ListRequest {}",
        );
        assert_eq!(render(BASE, &commented), "");
    }

    #[test]
    fn changes() {
        let new = BASE
            .replace(
                "    rpc Start(StartRequest) returns (stream StartResponse);\n",
                "    rpc Start(stream StartRequest) returns (stream StartResponse);\n    rpc CloseStdin(CloseStdinRequest) returns (CloseStdinResponse);\n",
            )
            .replace(
                "message ListRequest {}\n",
                "message ListRequest {}\nmessage CloseStdinRequest { uint32 pid = 1; }\nmessage CloseStdinResponse {}\n",
            )
            .replace("    optional string tag = 2;\n", "    string tag = 2;\n    bool stdin = 5;\n")
            .replace("    uint32 pid = 1;\n    string tag", "    uint64 pid = 1;\n    string tag")
            .replace("    string cmd = 1;\n", "")
            .replace("    SIGNAL_SIGTERM = 15;\n", "    SIGNAL_SIGTERM = 15;\n    SIGNAL_SIGKILL = 9;\n");
        let expected = "\
Services (1 changed):
  ~ service Process
      + rpc CloseStdin(CloseStdinRequest) returns (CloseStdinResponse)
      ~ rpc Start(StartRequest) returns (stream StartResponse) → rpc Start(stream StartRequest) returns (stream StartResponse)
Messages (2 added, 2 changed):
  + message CloseStdinRequest
        field pid: uint32 pid = 1
  + message CloseStdinResponse
  ~ message ProcessInfo
      ~ field pid: uint32 pid = 1 → uint64 pid = 1
      + field stdin: bool stdin = 5
      ~ field tag: optional string tag = 2 → string tag = 2
  ~ message StartRequest
      - field cmd: string cmd = 1
Enums (1 changed):
  ~ enum Signal
      + SIGNAL_SIGKILL = 9
";
        assert_eq!(render(BASE, &new), expected);
        let back = render(&new, BASE);
        assert!(back.contains("  - message CloseStdinRequest\n"), "{back}");
        assert!(back.contains("      - rpc CloseStdin("), "{back}");
    }

    #[test]
    fn missing_file_and_bad_source() {
        let groups = diff_models(&ProtoModel::default(), &model(BASE));
        assert!(groups.iter().all(|g| {
            g.entries
                .iter()
                .all(|e| e.marker == super::super::Marker::Added)
        }));
        let sources = BTreeMap::from([(
            "a/a.proto".to_owned(),
            "syntax = \"proto3\"; message {".to_owned(),
        )]);
        assert!(ProtoModel::compile_sources(sources, "a/a.proto").is_err());
    }
}
