//! Listing sandboxes end to end against e2b-local: filters, order and pagination.

use std::time::{Duration, SystemTime};

use e2b_sandbox::{ListOptions, ListOrder, Sandbox, SandboxState};
use e2b_test_support::sdk::Local;
use futures_util::{StreamExt as _, TryStreamExt as _};

async fn labelled(local: &Local, i: usize, extra: &str) -> Sandbox {
    Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .metadata([
            ("run", "list-test"),
            ("n", &i.to_string()),
            ("extra", extra),
        ])
        .create(&local.client)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_order_and_pages() {
    let local = Local::start().await;
    let before_all = SystemTime::now() - Duration::from_secs(1);
    let mut created = Vec::new();
    for i in 0..3 {
        created.push(labelled(&local, i, "v-1.x_y~z").await);
    }
    let other = Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .metadata([("run", "other")])
        .create(&local.client)
        .await
        .unwrap();

    // Metadata filter (unit tests cover the encoding of reserved characters).
    let mine: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().metadata([("extra", "v-1.x_y~z")]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|s| s.metadata["run"] == "list-test"));

    // Order by start time, whole result set.
    let asc: Vec<String> = local
        .client
        .list_sandboxes_with(
            ListOptions::new()
                .metadata([("run", "list-test")])
                .order(ListOrder::Asc),
        )
        .map_ok(|s| s.metadata["n"].clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(asc, ["0", "1", "2"]);
    let desc: Vec<String> = local
        .client
        .list_sandboxes_with(
            ListOptions::new()
                .metadata([("run", "list-test")])
                .order(ListOrder::Desc),
        )
        .map_ok(|s| s.metadata["n"].clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(desc, ["2", "1", "0"]);

    // Pages of one, as a stream and page by page.
    let streamed: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 4);
    let mut pages = local
        .client
        .list_sandboxes_with(ListOptions::new().page_size(3).order(ListOrder::Asc));
    assert!(pages.has_next());
    let first = pages.next_page().await.unwrap().unwrap();
    assert_eq!(first.len(), 3);
    assert!(pages.has_next());
    let token = pages.next_token().unwrap().to_owned();
    let second = pages.next_page().await.unwrap().unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].sandbox_id, other.id());
    assert!(!pages.has_next());
    assert!(pages.next_page().await.unwrap().is_none());
    assert!(pages.next().await.is_none());
    // Resuming from a cursor.
    let resumed: Vec<_> = local
        .client
        .list_sandboxes_with(
            ListOptions::new()
                .page_size(3)
                .order(ListOrder::Asc)
                .next_token(token),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1);

    // State, template and start-time filters.
    assert!(created[0].pause().await.unwrap());
    let paused: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().state([SandboxState::Paused]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].sandbox_id, created[0].id());
    assert_eq!(paused[0].state, SandboxState::Paused);
    let running: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().state([SandboxState::Running]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(running.len(), 3);
    let base: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().template("base"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(base.len(), 4);
    let none: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().template("no-such-template"))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
    let recent: Vec<_> = local
        .client
        .list_sandboxes_with(ListOptions::new().started_after(before_all))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(recent.len(), 4);
    let future: Vec<_> = local
        .client
        .list_sandboxes_with(
            ListOptions::new().started_after(SystemTime::now() + Duration::from_secs(3600)),
        )
        .try_collect()
        .await
        .unwrap();
    assert!(future.is_empty());
    local.stop().await;
}
