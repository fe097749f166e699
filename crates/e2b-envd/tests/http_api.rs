//! envd's plain HTTP API: enums a response carries accept values newer than the spec.

use e2b_envd::http_api::types::{EntryInfo, EntryInfoType};

#[test]
fn a_new_entry_type_decodes_and_round_trips() {
    let entries: Vec<EntryInfo> = serde_json::from_str(
        r#"[{"path":"/a","name":"a","type":"file"},{"path":"/d","name":"d","type":"directory"}]"#,
    )
    .expect("upload response decodes");
    assert_eq!(entries[0].type_, EntryInfoType::File);
    assert_eq!(
        entries[1].type_,
        EntryInfoType::UnknownValue("directory".to_owned())
    );
    assert_eq!(
        serde_json::to_value(&entries[1]).unwrap()["type"],
        "directory"
    );
}
