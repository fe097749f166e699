//! Secrets through the SDK against e2b-local: every operation, pagination as a
//! stream, the not-found kind, and values that never come back.

use e2b_sandbox::{NotFoundKind, Secret, SecretListOptions, SecretOptions};
use e2b_test_support::sdk::Local;
use futures_util::TryStreamExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_round_trip_through_the_sdk() {
    let local = Local::start().await;
    let client = &local.client;
    let value = "sk-do-not-print-0123456789";
    let created = Secret::create_with(
        client,
        "Api-Key",
        value,
        SecretOptions::new().metadata([("team", "ml")]),
    )
    .await
    .unwrap();
    assert_eq!(created.name, "api-key");
    assert_eq!(created.version, 1);
    assert!(
        created.secret_id.starts_with("sec_"),
        "{}",
        created.secret_id
    );
    assert!(!format!("{created:?}").contains(value));

    let updated = Secret::update(client, "api-key", "second").await.unwrap();
    assert_eq!(updated.version, 2);
    let info = Secret::get_info(client, &created.secret_id).await.unwrap();
    assert_eq!((info.version, info.metadata["team"].as_str()), (2, "ml"));
    assert!(Secret::exists(client, "API-KEY").await.unwrap());

    for i in 0..4 {
        Secret::create(client, &format!("extra-{i}"), "x")
            .await
            .unwrap();
    }
    let names: Vec<String> = Secret::list_with(client, SecretListOptions::new().page_size(2))
        .map_ok(|s| s.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        names,
        ["api-key", "extra-0", "extra-1", "extra-2", "extra-3"]
    );

    assert!(Secret::destroy(client, "api-key").await.unwrap());
    assert!(!Secret::destroy(client, "api-key").await.unwrap());
    assert!(!Secret::exists(client, "api-key").await.unwrap());
    let err = Secret::get_info(client, "api-key").await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Secret), "{err}");
    assert_eq!(Secret::fill("api-key").unwrap(), "${e2b.secrets.api-key}");
    assert!(Secret::fill("bad}name").is_err());
    local.stop().await;
}
