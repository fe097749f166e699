//! Templates through the SDK against e2b-local: what its control plane serves today
//! (list, exists, delete), and a build that it cannot run yet failing with a typed,
//! clear error rather than a hang. (The build protocol itself is tested on the wire in
//! crates/e2b-template/tests/build_api.rs.)

use std::time::Duration;

use e2b::template::{BuildOptions, BuildStatus, Template, wait_for_port};
use e2b_test_support::sdk::Local;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_of_e2b_local_through_the_sdk() {
    let local = Local::start().await;
    let client = &local.client;

    let templates = Template::list(client).await.unwrap();
    let base = templates
        .iter()
        .find(|t| t.template_id == "base")
        .expect("the built-in base template");
    assert_eq!(base.build_status, BuildStatus::Ready);
    assert!(base.names.contains(&"base".to_owned()), "{base:?}");

    assert!(Template::exists(client, "base").await.unwrap());
    assert!(!Template::exists(client, "no-such-template").await.unwrap());
    assert!(!Template::delete(client, "no-such-template").await.unwrap());

    // e2b-local has no build service yet: the request is refused with a build error
    // saying which step of the protocol failed, within the request deadline.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), "print('hi')\n").unwrap();
    let template = Template::with_context(dir.path())
        .from_base_image()
        .copy("app.py", "/app/")
        .set_start_cmd("python3 /app/app.py", wait_for_port(8000));
    let err = Template::build_with(
        client,
        &template,
        "my-app",
        BuildOptions::new().timeout(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();
    assert!(err.is_build(), "{err}");
    assert!(err.to_string().contains("requesting the build"), "{err}");
    local.stop().await;
}
