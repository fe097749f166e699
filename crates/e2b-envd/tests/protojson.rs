//! The generated messages follow the proto3 JSON mapping envd and the official
//! SDKs use (wire-protocol reference §2.4).

use e2b_envd::filesystem::{EntryInfo, FileType, ListDirResponse, StatResponse};
use e2b_envd::process::{
    self, ProcessEvent, SendSignalRequest, Signal, StartRequest, StartResponse, process_event,
};
use serde_json::json;

#[test]
fn int64_is_a_string_and_enums_are_names() {
    let entry = EntryInfo {
        name: "a.txt".into(),
        r#type: FileType::File as i32,
        path: "/home/user/a.txt".into(),
        size: 12,
        mode: 0o644,
        permissions: "-rw-r--r--".into(),
        owner: "user".into(),
        group: "user".into(),
        modified_time: Some(e2b_envd::wkt::Timestamp {
            seconds: 1_746_093_600,
            nanos: 123_456_789,
        }),
        symlink_target: None,
        ..Default::default()
    };
    let value = serde_json::to_value(&entry).unwrap();
    assert_eq!(value["size"], json!("12"));
    assert_eq!(value["type"], json!("FILE_TYPE_FILE"));
    assert_eq!(value["mode"], json!(420));
    assert_eq!(
        value["modifiedTime"],
        json!("2025-05-01T10:00:00.123456789Z")
    );
    assert!(value.get("symlinkTarget").is_none());
}

#[test]
fn zero_values_are_omitted_and_optionals_kept() {
    let end = ProcessEvent {
        event: Some(process_event::Event::End(process_event::EndEvent {
            exit_code: 0,
            exited: true,
            status: "exit status 0".into(),
            error: None,
        })),
    };
    let value = serde_json::to_value(&end).unwrap();
    assert_eq!(
        value,
        json!({"end": {"exited": true, "status": "exit status 0"}})
    );

    let start = StartRequest {
        process: Some(process::ProcessConfig {
            cmd: "/bin/bash".into(),
            args: vec!["-l".into(), "-c".into(), "echo hi".into()],
            ..Default::default()
        }),
        stdin: Some(false),
        ..Default::default()
    };
    let value = serde_json::to_value(&start).unwrap();
    assert_eq!(value["stdin"], json!(false));
    assert!(value.get("tag").is_none());
    assert!(value["process"].get("cwd").is_none());
}

#[test]
fn bytes_are_base64_and_parse_from_sdk_shapes() {
    let parsed: StartResponse =
        serde_json::from_str(r#"{"event":{"data":{"stdout":"aGkK"}}}"#).unwrap();
    let Some(process_event::Event::Data(data)) = parsed.event.unwrap().event else {
        panic!("expected a data event");
    };
    assert_eq!(
        data.output,
        Some(process_event::data_event::Output::Stdout(b"hi\n".to_vec()))
    );
    let round = serde_json::to_string(&data).unwrap();
    assert_eq!(round, r#"{"stdout":"aGkK"}"#);
}

#[test]
fn unknown_fields_are_ignored_and_proto_names_accepted() {
    let parsed: StatResponse = serde_json::from_str(
        r#"{"entry":{"name":"x","size":7,"symlink_target":"/t","futureField":{"a":1}},"other":true}"#,
    )
    .unwrap();
    let entry = parsed.entry.unwrap();
    assert_eq!(entry.size, 7, "int64 also accepted as a JSON number");
    assert_eq!(entry.symlink_target.as_deref(), Some("/t"));

    let list: ListDirResponse = serde_json::from_str(r#"{}"#).unwrap();
    assert!(list.entries.is_empty());
}

#[test]
fn enums_accept_names_and_numbers() {
    let by_name: SendSignalRequest =
        serde_json::from_str(r#"{"process":{"pid":123},"signal":"SIGNAL_SIGKILL"}"#).unwrap();
    assert_eq!(by_name.signal(), Signal::Sigkill);
    let by_number: SendSignalRequest = serde_json::from_str(r#"{"signal":15}"#).unwrap();
    assert_eq!(by_number.signal(), Signal::Sigterm);
}

#[test]
fn enum_values_newer_than_the_proto_do_not_fail_the_message() {
    // By name (what envd sends): the value is unknown here, so it reads as unspecified.
    let by_name: StatResponse =
        serde_json::from_str(r#"{"entry":{"name":"s","type":"FILE_TYPE_SOCKET","size":"1"}}"#)
            .unwrap();
    let entry = by_name.entry.unwrap();
    assert_eq!(entry.r#type(), FileType::Unspecified);
    assert_eq!(entry.size, 1, "the rest of the message is kept");
    // By number.
    let by_number: StatResponse =
        serde_json::from_str(r#"{"entry":{"name":"s","type":42}}"#).unwrap();
    assert_eq!(by_number.entry.unwrap().r#type(), FileType::Unspecified);
}
