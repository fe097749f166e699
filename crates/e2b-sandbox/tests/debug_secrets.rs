//! `Debug` never prints a secret: every public options and builder type that
//! can carry one (environment values, headers, credentials, API keys, MCP
//! settings, proxy passwords) is filled with a sentinel and formatted. The
//! handles (`Sandbox`, `Git`) are checked against an in-process e2b-local in the
//! workspace's end-to-end tests (`tests/e2e/tests/debug_secrets.rs`).

use e2b_sandbox::*;
use serde_json::json;

const SENTINEL: &str = "s3ntinel-secret-value";
/// A well-formed API key is `e2b_` and hex digits.
const KEY_SENTINEL: &str = "e2b_5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

fn assert_hidden(what: &str, debug: String) {
    assert!(
        !debug.contains(SENTINEL) && !debug.contains(&KEY_SENTINEL[4..]),
        "{what} printed a secret: {debug}"
    );
}

#[test]
fn options_and_builders_hide_secrets() {
    let transform = NetworkTransform::new().header("Authorization", SENTINEL);
    assert_hidden("NetworkTransform", format!("{transform:?}"));
    let network = NetworkConfig::new()
        .rule("api.example.com", NetworkRule::transform(transform.clone()))
        .egress_proxy(EgressProxy::new("10.0.0.1:1080").credentials("u", SENTINEL));
    assert_hidden("NetworkConfig", format!("{network:?}"));
    let update = NetworkUpdate::new()
        .rule("api.example.com", NetworkRule::transform(transform))
        .egress_proxy(EgressProxy::new("10.0.0.1:1080").credentials("u", SENTINEL));
    assert_hidden("NetworkUpdate", format!("{update:?}"));
    let mcp = McpServers::new()
        .server("exa", json!({ "apiKey": SENTINEL }))
        .github("o/r", "run", None, [("TOKEN", SENTINEL)]);
    assert_hidden("McpServers", format!("{mcp:?}"));
    let builder = Sandbox::builder()
        .env("KEY", SENTINEL)
        .metadata([("token", SENTINEL)])
        .network(network)
        .mcp(mcp);
    assert_hidden("SandboxBuilder", format!("{builder:?}"));
    assert_hidden(
        "CommandOptions",
        format!("{:?}", CommandOptions::new().env("KEY", SENTINEL)),
    );
    assert_hidden(
        "PtyOptions",
        format!("{:?}", PtyOptions::new().env("KEY", SENTINEL)),
    );
    let creds = GitCredentials::new("me", SENTINEL);
    assert_hidden("GitCredentials", format!("{creds:?}"));
    assert_hidden(
        "CloneOptions",
        format!("{:?}", CloneOptions::new().credentials(creds.clone())),
    );
    assert_hidden(
        "RemoteOptions",
        format!("{:?}", RemoteOptions::new().credentials(creds)),
    );
    let config = ConnectionConfig::builder()
        .api_key(KEY_SENTINEL)
        .access_token(SENTINEL)
        .proxy(format!("http://u:{SENTINEL}@127.0.0.1:8080"));
    assert_hidden("ConnectionConfigBuilder", format!("{config:?}"));
    let config = config.build().unwrap();
    assert_hidden("ConnectionConfig", format!("{config:?}"));
    assert_hidden("Client", format!("{:?}", Client::new(config).unwrap()));
}
