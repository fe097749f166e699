//! Enums a response can carry decode values newer than the pinned spec instead of failing
//! the whole response; enums that are only sent stay strict.

use e2b_api::CommaSeparated;
use e2b_api::control::types::{
    ListedSandbox, LogLevel, OrderDirection, SandboxDetail, SandboxState, TemplateBuildInfo,
    TemplateBuildStatus,
};
use e2b_api::volume_content::types::{VolumeEntryStat, VolumeEntryStatType};

fn listed(state: &str) -> String {
    format!(
        r#"{{"templateID":"base","sandboxID":"isbx1","clientID":"c","startedAt":"2030-01-01T00:00:00Z",
            "endAt":"2030-01-01T00:05:00Z","cpuCount":2,"memoryMB":512,"diskSizeMB":1024,
            "envdVersion":"0.5.0","state":"{state}"}}"#
    )
}

#[test]
fn a_page_with_a_new_sandbox_state_decodes() {
    let page = format!("[{},{}]", listed("running"), listed("hibernating"));
    let page: Vec<ListedSandbox> = serde_json::from_str(&page).expect("page decodes");
    assert_eq!(page[0].state, SandboxState::Running);
    assert_eq!(
        page[1].state,
        SandboxState::UnknownValue("hibernating".to_owned())
    );
    // The value round-trips as sent.
    let again = serde_json::to_value(&page[1]).unwrap();
    assert_eq!(again["state"], "hibernating");
}

#[test]
fn a_new_timeout_action_decodes() {
    let mut detail: serde_json::Value = serde_json::from_str(&listed("paused")).unwrap();
    detail["lifecycle"] = serde_json::json!({"autoResume": false, "onTimeout": "hibernate"});
    let detail: SandboxDetail = serde_json::from_value(detail).expect("detail decodes");
    let lifecycle = detail.lifecycle.unwrap();
    assert_eq!(lifecycle.on_timeout.as_str(), "hibernate");
    assert_eq!(detail.state, SandboxState::Paused);
}

#[test]
fn a_new_build_status_and_log_level_decode() {
    let info: TemplateBuildInfo = serde_json::from_str(
        r#"{"templateID":"t","buildID":"b","status":"queued","logs":[],
            "logEntries":[{"timestamp":"2030-01-01T00:00:00Z","message":"m","level":"trace"},
                          {"timestamp":"2030-01-01T00:00:01Z","message":"n","level":"warn"}]}"#,
    )
    .expect("build status decodes");
    assert_eq!(
        info.status,
        TemplateBuildStatus::UnknownValue("queued".to_owned())
    );
    assert_eq!(info.status.to_string(), "queued");
    assert_eq!(
        info.log_entries[0].level,
        LogLevel::UnknownValue("trace".to_owned())
    );
    assert_eq!(info.log_entries[1].level, LogLevel::Warn);
}

fn stat(kind: &str) -> VolumeEntryStat {
    let at = "2030-01-01T00:00:00Z";
    serde_json::from_value(serde_json::json!({
        "name": "s", "path": "/s", "type": kind, "size": 0, "mode": 420, "uid": 0, "gid": 0,
        "atime": at, "ctime": at, "mtime": at,
    }))
    .expect("stat decodes")
}

#[test]
fn a_new_volume_entry_type_decodes() {
    assert_eq!(
        stat("socket").type_,
        VolumeEntryStatType::UnknownValue("socket".to_owned())
    );
    // The spec's own `unknown` value is a known variant.
    assert_eq!(stat("unknown").type_, VolumeEntryStatType::Unknown);
}

#[test]
fn open_enums_parse_print_and_convert_every_value() {
    for state in [
        SandboxState::Running,
        SandboxState::Paused,
        SandboxState::UnknownValue("hibernating".to_owned()),
    ] {
        let text = state.to_string();
        assert_eq!(text, state.as_str());
        assert_eq!(text.parse::<SandboxState>(), Ok(state.clone()));
        assert_eq!(SandboxState::from(text.clone()), state);
        assert_eq!(serde_json::to_value(&state).unwrap(), text.as_str());
    }
    // A newer filter value travels as given.
    let filter = CommaSeparated(vec![
        SandboxState::Running,
        SandboxState::from("hibernating"),
    ]);
    assert_eq!(serde_json::to_value(filter).unwrap(), "running,hibernating");
}

#[test]
fn enums_that_are_only_sent_stay_strict() {
    assert!(serde_json::from_str::<OrderDirection>(r#""sideways""#).is_err());
    assert!("sideways".parse::<OrderDirection>().is_err());
}
