//! Secrets on the control plane: CRUD, pagination, 404s and 401s, values never returned
//! nor stored in the clear, the key file, and durability across restarts.

use e2b_test_support as support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use e2b_api::control::types;
use e2b_local::Server;
use serde_json::{Value, json};

const KEY: &str = "e2b_00112233445566778899aabbccddeeff";
const VALUE: &str = "s3cr3t-VALUE-do-not-leak";

async fn start(dir: &Path) -> Server {
    Server::start(support::options().with_data_dir(dir).with_api_key(KEY))
        .await
        .expect("server starts")
}

/// Status, the raw body text (checked for the value) and the body as JSON.
async fn call(req: reqwest::RequestBuilder) -> (u16, String, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let mut head = String::new();
    for (name, value) in resp.headers() {
        head.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
    }
    let text = resp.text().await.unwrap();
    assert!(
        !head.contains(VALUE) && !text.contains(VALUE),
        "a response carries the value: {head}{text}"
    );
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, json)
}

/// The server's records under `dir` (regular files up to 1 MiB, symlinks not followed;
/// sandbox disks and image layers are large and hold no records), none of which may
/// contain the value.
fn assert_value_absent_from_disk(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            assert_value_absent_from_disk(&path);
        } else if meta.is_file() && meta.len() <= 1 << 20 {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
                "{} holds the value in the clear",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_without_ever_returning_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let http = support::authed_http(&server);
    let api = server.api_url();

    let (status, _, created) = call(http.post(format!("{api}/secrets")).json(&json!({
        "name": "OpenAI-Key", "value": VALUE, "metadata": {"team": "ml"}
    })))
    .await;
    assert_eq!(status, 201, "{created}");
    // The spec's shape, through the generated type.
    let secret: types::Secret = serde_json::from_value(created.clone()).unwrap();
    assert!(secret.secret_id.starts_with("sec_"), "{created}");
    assert_eq!(secret.name, "openai-key");
    assert_eq!(secret.current_version, 1);
    assert_eq!(created["metadata"], json!({"team": "ml"}));
    assert_eq!(secret.created_at, secret.updated_at);

    // By id and by name (any case).
    for reference in [secret.secret_id.as_str(), "openai-key", "OPENAI-KEY"] {
        let (status, _, got) = call(http.get(format!("{api}/secrets/{reference}"))).await;
        assert_eq!(status, 200, "{reference}: {got}");
        assert_eq!(got, created, "{reference}");
    }

    // The name is taken, in any case.
    let (status, _, body) = call(
        http.post(format!("{api}/secrets"))
            .json(&json!({"name": "OPENAI-key", "value": "other"})),
    )
    .await;
    assert_eq!((status, body["code"].as_i64()), (409, Some(409)), "{body}");

    // Update: a new version; metadata kept when absent, replaced when given.
    let (status, _, v2) = call(
        http.post(format!("{api}/secrets/openai-key"))
            .json(&json!({"value": format!("{VALUE}-2")})),
    )
    .await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["currentVersion"], 2);
    assert_eq!(v2["metadata"], json!({"team": "ml"}));
    assert_eq!(v2["createdAt"], created["createdAt"]);
    let (status, _, v3) = call(
        http.post(format!("{api}/secrets/{}", secret.secret_id))
            .json(&json!({"value": VALUE, "metadata": {}})),
    )
    .await;
    assert_eq!(status, 200, "{v3}");
    assert_eq!(v3["currentVersion"], 3);
    assert_eq!(v3["metadata"], json!({}));

    // The list carries no value either.
    let (status, _, list) = call(http.get(format!("{api}/secrets"))).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0], v3);

    // Values are sealed on disk; the key file is private.
    assert_value_absent_from_disk(dir.path());
    let key = dir.path().join("secrets.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::metadata(&key).unwrap().len(), 32);

    // Delete, then everything about it is a 404.
    let (status, _, _) = call(http.delete(format!("{api}/secrets/openai-key"))).await;
    assert_eq!(status, 204);
    assert!(
        !dir.path()
            .join(format!("secrets/{}.json", secret.secret_id))
            .exists()
    );
    for req in [
        http.get(format!("{api}/secrets/openai-key")),
        http.get(format!("{api}/secrets/{}", secret.secret_id)),
        http.post(format!("{api}/secrets/openai-key"))
            .json(&json!({"value": VALUE})),
        http.delete(format!("{api}/secrets/openai-key")),
    ] {
        let (status, _, body) = call(req).await;
        assert_eq!((status, body["code"].as_i64()), (404, Some(404)), "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("not found"),
            "{body}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_400_and_a_wrong_key_a_401() {
    let server = support::server().await;
    let http = support::authed_http(&server);
    let api = server.api_url();
    let long = "a".repeat(129);
    let too_many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("k{i}"), json!("v"))).collect();
    for body in [
        json!({"name": "", "value": VALUE}),
        json!({"name": "has space", "value": VALUE}),
        json!({"name": "dot.ted", "value": VALUE}),
        json!({"name": long, "value": VALUE}),
        json!({"name": "sec_reserved", "value": VALUE}),
        json!({"name": "SEC_reserved", "value": VALUE}),
        json!({"name": "no-value"}),
        json!({"value": VALUE}),
        json!({"name": "meta", "value": VALUE, "metadata": too_many}),
        json!({"name": "meta", "value": VALUE, "metadata": {"k": "v".repeat(1025)}}),
        json!({"name": "huge", "value": "x".repeat(64 * 1024 + 1)}),
    ] {
        let (status, text, json) = call(http.post(format!("{api}/secrets")).json(&body)).await;
        assert_eq!(
            (status, json["code"].as_i64()),
            (400, Some(400)),
            "{body}: {text}"
        );
    }
    let (status, _, _) = call(http.get(format!("{api}/secrets?nextToken=%%%"))).await;
    assert_eq!(status, 400);
    let (status, _, _) = call(http.get(format!("{api}/secrets?limit=0"))).await;
    assert_eq!(status, 400);
    let (status, _, list) = call(http.get(format!("{api}/secrets"))).await;
    assert_eq!((status, list), (200, json!([])));

    // Every route wants the API key.
    let anonymous = support::http();
    for (req, what) in [
        (anonymous.get(format!("{api}/secrets")), "list"),
        (
            anonymous
                .post(format!("{api}/secrets"))
                .header("X-API-Key", "e2b_0000")
                .json(&json!({"name": "x", "value": VALUE})),
            "create",
        ),
        (anonymous.get(format!("{api}/secrets/x")), "get"),
        (
            anonymous
                .post(format!("{api}/secrets/x"))
                .json(&json!({"value": VALUE})),
            "update",
        ),
        (
            anonymous
                .delete(format!("{api}/secrets/x"))
                .header("X-API-Key", "e2b_0000"),
            "delete",
        ),
    ] {
        let (status, _, body) = call(req).await;
        assert_eq!((status, body["code"].as_i64()), (401, Some(401)), "{what}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_x_next_token() {
    let server = support::server().await;
    let http = support::authed_http(&server);
    let api = server.api_url();
    let mut names = BTreeSet::new();
    for i in 0..7 {
        let name = format!("key-{i}");
        let (status, _, _) = call(
            http.post(format!("{api}/secrets"))
                .json(&json!({"name": name, "value": VALUE})),
        )
        .await;
        assert_eq!(status, 201);
        names.insert(name);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = http.get(format!("{api}/secrets")).query(&[("limit", "3")]);
        if let Some(t) = &token {
            req = req.query(&[("nextToken", t.as_str())]);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let next = resp
            .headers()
            .get("x-next-token")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Vec<types::Secret> = resp.json().await.unwrap();
        pages += 1;
        assert!(page.len() <= 3);
        seen.extend(page.into_iter().map(|s| s.name));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names.iter().cloned().collect::<Vec<_>>());

    // A cursor stays valid when the secret it points after is deleted.
    let resp = http
        .get(format!("{api}/secrets?limit=3"))
        .send()
        .await
        .unwrap();
    let cursor = resp.headers()["x-next-token"].to_str().unwrap().to_owned();
    let (status, _, _) = call(http.delete(format!("{api}/secrets/key-2"))).await;
    assert_eq!(status, 204);
    let (_, _, rest) = call(
        http.get(format!("{api}/secrets"))
            .query(&[("limit", "100"), ("nextToken", cursor.as_str())]),
    )
    .await;
    let rest: Vec<&str> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["key-3", "key-4", "key-5", "key-6"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_their_key_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).await;
    let http = support::authed_http(&first);
    let (status, _, created) = call(
        http.post(format!("{}/secrets", first.api_url()))
            .json(&json!({"name": "durable", "value": VALUE, "metadata": {"a": "b"}})),
    )
    .await;
    assert_eq!(status, 201);
    let key_before = std::fs::read(dir.path().join("secrets.key")).unwrap();
    first.shutdown().await;

    let second = start(dir.path()).await;
    let http = support::authed_http(&second);
    let api = second.api_url();
    assert_eq!(
        std::fs::read(dir.path().join("secrets.key")).unwrap(),
        key_before,
        "the key is reused, not replaced"
    );
    let (status, _, got) = call(http.get(format!("{api}/secrets/durable"))).await;
    assert_eq!(status, 200);
    assert_eq!(got, created);
    let (status, _, updated) = call(
        http.post(format!("{api}/secrets/durable"))
            .json(&json!({"value": VALUE})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["currentVersion"], 2);
    assert_value_absent_from_disk(dir.path());
    second.shutdown().await;
}
