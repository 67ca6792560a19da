#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The http connector against a local upstream, and the credential broker on disk.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use axtary_connectors::config::{ConnectorsConfig, HttpConfig, SecretRef, Upstream};
use axtary_connectors::{Broker, BrokerError, Connectors, ExecOptions, Refusal, Status};
use common::{Reply, action, broker, pass_for, reply, serve, temp_dir};
use serde_json::json;
use zeroize::Zeroizing;

const API_KEY: &str = "internal-canary-key-0123456789";

fn http(url: &str, max_response_bytes: usize) -> Connectors {
    let cfg = ConnectorsConfig {
        http: Some(HttpConfig {
            upstreams: BTreeMap::from([(
                "internal-api".into(),
                Upstream {
                    base_url: format!("{url}/v2"),
                    methods: vec!["GET".into(), "POST".into()],
                    auth_header: Some("Authorization: Bearer {secret}".into()),
                    secret: Some(SecretRef::new("INTERNAL_KEY").unwrap()),
                    forward_pass: true,
                    timeout_secs: 5,
                    max_response_bytes,
                    dry_run: false,
                },
            )]),
        }),
        ..Default::default()
    };
    Connectors::from_config(&cfg, broker(&[("INTERNAL_KEY", API_KEY)])).unwrap()
}

fn req(method: &str) -> axtary_core::Action {
    action(
        json!({"agent": "a", "connector": "http", "operation": "request",
        "input": {"upstream": "internal-api", "method": method, "path": "/orders",
                  "query": {"status": "open now"}, "headers": {"X-Trace": "t1"},
                  "body": if method == "POST" { json!({"id": 1}) } else { serde_json::Value::Null }}}),
    )
}

#[tokio::test]
async fn http_injects_the_credential_and_forwards_the_pass() {
    let server = serve(vec![reply(201, json!({"created": true, "echo": API_KEY}))]).await;
    let c = http(&server.url, 4096);
    let a = req("POST");
    let (pass, token) = pass_for(&a, "http");
    let opts = ExecOptions {
        dry_run: false,
        pass_token: Some(token.clone()),
    };
    let out = c.execute(&pass, &a, &opts).await.unwrap();
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert_eq!(out.result["http_status"], 201);
    assert_eq!(out.result["body"]["echo"], "[REDACTED:INTERNAL_KEY]");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/v2/orders?status=open%20now")
    );
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {API_KEY}")
    );
    assert_eq!(reqs[0].headers["axtary-pass"], token);
    assert_eq!(reqs[0].headers["x-trace"], "t1");
    assert_eq!(reqs[0].json(), json!({"id": 1}));

    // Dry run: the credential is redacted, nothing is sent.
    let (pass, token) = pass_for(&a, "http");
    let out = c
        .execute(
            &pass,
            &a,
            &ExecOptions {
                dry_run: true,
                pass_token: Some(token),
            },
        )
        .await
        .unwrap();
    assert_eq!(out.status, Status::DryRun);
    assert!(!serde_json::to_string(&out).unwrap().contains(API_KEY));
    assert_eq!(
        out.result["requests"][0]["headers"]["authorization"],
        "Bearer [REDACTED:INTERNAL_KEY]"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn http_returns_redirects_instead_of_following_them() {
    let server = serve(vec![Reply {
        status: 302,
        headers: vec![("location".into(), "http://evil.example/steal".into())],
        body: String::new(),
    }])
    .await;
    let c = http(&server.url, 4096);
    let a = req("GET");
    let (pass, token) = pass_for(&a, "http");
    let out = c
        .execute(
            &pass,
            &a,
            &ExecOptions {
                dry_run: false,
                pass_token: Some(token),
            },
        )
        .await
        .unwrap();
    assert_eq!(out.result["http_status"], 302);
    assert_eq!(out.result["location"], "http://evil.example/steal");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn http_limits_response_size_and_refuses_other_methods_and_passes() {
    let server = serve(vec![reply(200, json!({"big": "x".repeat(10_000)}))]).await;
    let c = http(&server.url, 1024);
    let a = req("GET");
    let (pass, token) = pass_for(&a, "http");
    let out = c
        .execute(
            &pass,
            &a,
            &ExecOptions {
                dry_run: false,
                pass_token: Some(token),
            },
        )
        .await
        .unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(out.error.unwrap().contains("more than 1024 bytes"));

    let server = serve(vec![]).await;
    let c = http(&server.url, 1024);
    let del = action(
        json!({"agent": "a", "connector": "http", "operation": "request",
        "input": {"upstream": "internal-api", "method": "DELETE", "path": "/orders/1"}}),
    );
    let (pass, token) = pass_for(&del, "http");
    let e = c
        .execute(
            &pass,
            &del,
            &ExecOptions {
                dry_run: false,
                pass_token: Some(token),
            },
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("method DELETE is not allowed"),
        "{e}"
    );

    // The agent cannot set the credential header or the pass header itself. (The normalizer
    // already refuses `Authorization`; the connector refuses it for any configured name.)
    let mut spoof = req("GET");
    spoof.payload["headers"] = json!({"AUTHORIZATION": "Bearer mine"});
    let (pass, token) = pass_for(&spoof, "http");
    let e = c
        .execute(
            &pass,
            &spoof,
            &ExecOptions {
                dry_run: false,
                pass_token: Some(token),
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("set by the connector"), "{e}");

    // The forwarded token must be the verified pass, not some other one.
    let a = req("GET");
    let (pass, _) = pass_for(&a, "http");
    let (_, other_token) = pass_for(&a, "http");
    let e = c
        .execute(
            &pass,
            &a,
            &ExecOptions {
                dry_run: false,
                pass_token: Some(other_token),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Refusal::Config(_)), "{e}");
    // And a pass for github is refused outright.
    let (gh_pass, gh_token) = pass_for(&a, "github");
    let e = c
        .execute(
            &gh_pass,
            &a,
            &ExecOptions {
                dry_run: false,
                pass_token: Some(gh_token),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Refusal::Audience { .. }));
    assert!(server.requests().is_empty());
}

#[test]
fn broker_stores_0600_and_lists_names_only() {
    let home = temp_dir("broker");
    let b = Broker::open(&home).unwrap();
    assert!(b.list().is_empty());
    b.set("GITHUB_TOKEN", Zeroizing::new("ghp_canary_value_1".into()))
        .unwrap();
    b.set("SLACK_BOT", Zeroizing::new("xoxb-canary-value-2".into()))
        .unwrap();
    let mode = std::fs::metadata(home.join("secrets.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let reopened = Broker::open(&home).unwrap();
    assert_eq!(
        reopened.get("GITHUB_TOKEN").unwrap().as_str(),
        "ghp_canary_value_1"
    );
    let listed = serde_json::to_string(&reopened.list()).unwrap();
    assert!(listed.contains("GITHUB_TOKEN") && listed.contains("SLACK_BOT"));
    assert!(!listed.contains("canary"), "{listed}");
    assert!(!format!("{reopened:?}").contains("canary"));

    assert!(reopened.rm("SLACK_BOT").unwrap());
    assert!(!reopened.rm("SLACK_BOT").unwrap());
    let e = Broker::open(&home).unwrap().get("SLACK_BOT").unwrap_err();
    assert!(matches!(e, BrokerError::NotFound(_)));
    assert!(e.to_string().contains("axtary secrets set SLACK_BOT"));

    for bad in ["", "has space", "semi;colon"] {
        assert!(matches!(
            b.set(bad, Zeroizing::new("long enough value".into())),
            Err(BrokerError::Name(_))
        ));
    }
    assert!(matches!(
        b.set("SHORT", Zeroizing::new("abc".into())),
        Err(BrokerError::Value)
    ));
}

#[test]
fn broker_refuses_a_file_others_can_read() {
    let home = temp_dir("broker");
    let b = Broker::open(&home).unwrap();
    b.set("X", Zeroizing::new("canary-value-xyz".into()))
        .unwrap();
    let path = home.join("secrets.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Broker::open(&home).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, BrokerError::Permissions { mode: 0o644, .. }),
        "{msg}"
    );
    assert!(msg.contains("hint: run `chmod 600"), "{msg}");
    assert!(!msg.contains("canary"));

    // A corrupt file names the position, never the content.
    std::fs::write(
        &path,
        "{\"version\":1,\"secrets\":{\"X\":{\"value\":\"canary-value-xyz\",}}}",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let msg = Broker::open(&home).unwrap_err().to_string();
    assert!(msg.contains("line 1"), "{msg}");
    assert!(!msg.contains("canary"), "{msg}");
}

#[test]
fn config_refers_to_secrets_by_name_only() {
    let ok: ConnectorsConfig = serde_json::from_value(json!({
        "github": {"token": "secret:GITHUB_TOKEN"},
        "http": {"upstreams": {"internal-api": {"base_url": "https://api.internal", "methods": ["GET"],
                  "auth_header": "Authorization: Bearer {secret}", "secret": "secret:INTERNAL"}}}
    }))
    .unwrap();
    assert_eq!(ok.github.unwrap().base_url, "https://api.github.com");
    let e = serde_json::from_value::<ConnectorsConfig>(
        json!({"github": {"token": "ghp_literal_token_value"}}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("expected `secret:NAME`") && !e.contains("ghp_literal"),
        "{e}"
    );
    let e = serde_json::from_value::<ConnectorsConfig>(
        json!({"github": {"token": "secret:X", "tokn": 1}}),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `tokn`"), "{e}");
    let bad_url: ConnectorsConfig = serde_json::from_value(
        json!({"slack": {"token": "secret:S", "base_url": "https://user:pw@slack.com"}}),
    )
    .unwrap();
    let e = axtary_connectors::config::validate(&bad_url)
        .unwrap_err()
        .to_string();
    assert!(e.contains("credentials in a URL"), "{e}");
}

/// Tidy check: the config example in docs/connectors.md parses (as YAML, like the node config)
/// and validates, so the docs cannot drift from the types.
#[test]
fn the_documented_config_example_is_valid() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NodeConfig {
        connectors: ConnectorsConfig,
    }
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/connectors.md"
    ))
    .unwrap();
    let start = doc.find("```yaml\nconnectors:").expect("a yaml example") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let parsed: NodeConfig = serde_saphyr::from_str(&doc[start..end]).unwrap();
    let cfg = parsed.connectors;
    axtary_connectors::config::validate(&cfg).unwrap();
    assert_eq!(cfg.github.as_ref().unwrap().token.name(), "GITHUB_TOKEN");
    assert_eq!(cfg.slack.as_ref().unwrap().max_retry_after_secs, 10);
    assert_eq!(
        cfg.http.as_ref().unwrap().upstreams["internal-api"].methods,
        ["GET", "POST"]
    );
    assert_eq!(
        cfg.postgres.as_ref().unwrap().databases["prod"]
            .url_secret
            .name(),
        "PROD_DB_URL"
    );
    assert_eq!(
        cfg.sqlite.as_ref().unwrap().databases["local"].row_limit,
        1000
    );
    Connectors::from_config(&cfg, broker(&[])).unwrap();
}
