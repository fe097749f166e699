//! `Debug` of the handles never prints a secret: a secure sandbox created with a
//! secret environment value, its `Git` and the git option types, formatted. The
//! options and builders alone are checked in `e2b-sandbox`'s own tests.

use e2b_sandbox::*;
use e2b_test_support::sdk::Local;

const SENTINEL: &str = "s3ntinel-secret-value";

fn assert_hidden(what: &str, debug: String) {
    assert!(
        !debug.contains(SENTINEL),
        "{what} printed a secret: {debug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_hide_secrets() {
    let local = Local::start().await;
    let sbx = Sandbox::builder()
        .secure(true)
        .env("KEY", SENTINEL)
        .create(&local.client)
        .await
        .unwrap();
    let token = sbx.envd_access_token().unwrap().expose_secret().to_owned();
    let debug = format!("{sbx:?}");
    assert!(!debug.contains(&token), "Sandbox printed its access token");
    assert_hidden("Sandbox", debug);
    assert_hidden("Git", format!("{:?}", sbx.git()));
    assert_hidden(
        "GitOptions",
        format!(
            "{:?}",
            e2b_sandbox::GitOptions::new().env("GIT_TOKEN", SENTINEL)
        ),
    );
    assert_hidden(
        "CommitOptions",
        format!(
            "{:?}",
            e2b_sandbox::CommitOptions::new().envs([("GIT_TOKEN", SENTINEL)])
        ),
    );
    sbx.kill().await.unwrap();
    local.stop().await;
}
