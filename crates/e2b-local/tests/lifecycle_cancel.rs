//! Clients that give up mid-operation: every create finishes or is undone,
//! and nothing (processes, cgroups, frozen sandboxes) is left behind.

use e2b_test_support as support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

/// This server's per-sandbox pids cgroups (the directories under its
/// `e2b-local/srv-<pid>-*` instance directory), by sandbox id.
fn sandbox_cgroups() -> Option<BTreeSet<String>> {
    let prefix = format!("srv-{}-", std::process::id());
    let instance = support::find_cgroup(
        Path::new("/sys/fs/cgroup/pids"),
        &|n| n.starts_with(&prefix),
        &["pids.max"],
        6,
    )?;
    Some(
        std::fs::read_dir(instance)
            .ok()?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
    )
}

async fn listed(server: &e2b_local::Server) -> BTreeSet<String> {
    let list = support::api_get(server, "/v2/sandboxes?state=running,paused").await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["sandboxID"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_and_pauses_abandoned_by_their_clients_finish_or_undo() {
    let server = support::server().await;
    let api = server.api_url();
    let key = server.api_key().to_owned();
    // Clients that hang up after 1..40 ms, at every stage of a create.
    let mut abandoned = Vec::new();
    for i in 0..20u64 {
        let (api, key) = (api.clone(), key.clone());
        abandoned.push(tokio::spawn(async move {
            let _ = reqwest::Client::new()
                .post(format!("{api}/sandboxes"))
                .header("X-API-Key", key)
                .json(&json!({"templateID": "base", "timeout": 120}))
                .timeout(Duration::from_millis(1 + 2 * i))
                .send()
                .await;
        }));
    }
    for a in abandoned {
        a.await.unwrap();
    }
    // Every create has either finished (listed, answering) or been undone:
    // the sandboxes with processes are exactly the listed ones.
    let cgroups_usable = sandbox_cgroups().is_some();
    support::eventually(
        Duration::from_secs(30),
        "creates settle: listed sandboxes are those with processes",
        || async {
            let listed = listed(&server).await;
            !cgroups_usable || sandbox_cgroups().unwrap_or_default() == listed
        },
    )
    .await;
    let survivors = listed(&server).await;
    for id in &survivors {
        let (code, out, _) =
            support::exec(&server, id, None, &["sh", "-c", "echo alive"], None).await;
        assert_eq!((code, out.trim()), (0, "alive"), "{id}");
    }

    // A pause whose client leaves at once still completes, never leaving the
    // sandbox half-frozen: it ends paused, and resumes working.
    // The whole request is sent before the client hangs up (a client
    // timeout could give up before the server has seen anything).
    let id = support::create_base(&server, 120).await;
    {
        use tokio::io::AsyncWriteExt as _;
        let mut conn = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        let request = format!(
            "POST /sandboxes/{id}/pause HTTP/1.1\r\nHost: {}\r\nX-API-Key: {key}\r\nContent-Length: 0\r\n\r\n",
            server.local_addr()
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        conn.flush().await.unwrap();
    }
    support::eventually(Duration::from_secs(10), "the pause completes", || async {
        support::api_get(&server, &format!("/sandboxes/{id}")).await["state"] == "paused"
    })
    .await;
    let resp = support::authed_http(&server)
        .post(format!("{api}/sandboxes/{id}/connect"))
        .json(&json!({"timeout": 60}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let (code, _, _) = support::exec(&server, &id, None, &["true"], None).await;
    assert_eq!(code, 0);

    // Killing everything leaves no sandbox cgroup (so no process) behind.
    for id in listed(&server).await {
        let resp = support::authed_http(&server)
            .delete(format!("{api}/sandboxes/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
    }
    if cgroups_usable {
        support::eventually(
            Duration::from_secs(10),
            "no sandbox cgroup is left",
            || async { sandbox_cgroups().unwrap_or_default().is_empty() },
        )
        .await;
    }
    server.shutdown().await;
}
