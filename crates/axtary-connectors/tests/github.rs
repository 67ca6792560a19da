#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The github connector against a local server that speaks the documented subset
//! (refs/PROTOCOLS.md §3) and asserts the exact requests.

mod common;

use axtary_connectors::config::{ConnectorsConfig, GithubConfig, SecretRef};
use axtary_connectors::{Connectors, ExecOptions, Refusal, Status};
use common::{Recorded, action, broker, pass_for, pass_with_hash, reply, serve};
use serde_json::json;

const TOKEN: &str = "ghp_canaryTOKEN0123456789abcdef";

fn connectors(url: &str) -> Connectors {
    let cfg = ConnectorsConfig {
        github: Some(GithubConfig {
            base_url: url.into(),
            token: SecretRef::new("GITHUB_TOKEN").unwrap(),
            timeout_secs: 5,
            max_response_bytes: 64 * 1024,
            dry_run: false,
        }),
        ..Default::default()
    };
    Connectors::from_config(&cfg, broker(&[("GITHUB_TOKEN", TOKEN)])).unwrap()
}

fn assert_headers(r: &Recorded) {
    assert_eq!(r.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(r.headers["accept"], "application/vnd.github+json");
    assert_eq!(r.headers["x-github-api-version"], "2022-11-28");
    assert!(r.headers["user-agent"].starts_with("axtary/"));
}

fn pr_action() -> axtary_core::Action {
    action(json!({
        "agent": "claude-code", "connector": "github", "operation": "pull_request.create",
        "input": {"repo": "acme/api", "base": "main", "head": "agent/fix-typo", "title": "Fix typo",
                  "body": "Typos.", "files": [
                      {"path": "src/lib.rs", "content": "fn main() {}\n"},
                      {"path": "old.txt", "delete": true},
                      {"path": "docs/new.md", "previous_path": "docs/old.md", "content": "# Moved\n"}
                  ]}
    }))
}

#[tokio::test]
async fn pull_request_create_uses_the_git_data_api_in_order() {
    let server = serve(vec![
        reply(200, json!({"ref": "refs/heads/main", "object": {"sha": "base111", "type": "commit"}})),
        reply(200, json!({"sha": "base111", "tree": {"sha": "tree222"}})),
        reply(201, json!({"sha": "tree333"})),
        reply(201, json!({"sha": "commit444"})),
        reply(201, json!({"ref": "refs/heads/agent/fix-typo", "object": {"sha": "commit444"}})),
        reply(201, json!({"number": 7, "html_url": "https://github.com/acme/api/pull/7", "head": {"sha": "commit444"}})),
    ])
    .await;
    let c = connectors(&server.url);
    let a = pr_action();
    let (pass, _) = pass_for(&a, "github");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert!(out.provider_reached);
    assert_eq!(out.result["number"], 7);
    assert_eq!(out.result["head_sha"], "commit444");

    let reqs = server.requests();
    let shape: Vec<(&str, &str)> = reqs
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("GET", "/repos/acme/api/git/ref/heads/main"),
            ("GET", "/repos/acme/api/git/commits/base111"),
            ("POST", "/repos/acme/api/git/trees"),
            ("POST", "/repos/acme/api/git/commits"),
            ("POST", "/repos/acme/api/git/refs"),
            ("POST", "/repos/acme/api/pulls"),
        ]
    );
    reqs.iter().for_each(assert_headers);
    assert_eq!(reqs[0].body, "");
    assert_eq!(
        reqs[2].json(),
        json!({"base_tree": "tree222", "tree": [
            {"path": "src/lib.rs", "mode": "100644", "type": "blob", "content": "fn main() {}\n"},
            {"path": "old.txt", "mode": "100644", "type": "blob", "sha": null},
            {"path": "docs/old.md", "mode": "100644", "type": "blob", "sha": null},
            {"path": "docs/new.md", "mode": "100644", "type": "blob", "content": "# Moved\n"},
        ]})
    );
    assert_eq!(reqs[2].headers["content-type"], "application/json");
    assert_eq!(
        reqs[3].json(),
        json!({"message": "Fix typo", "tree": "tree333", "parents": ["base111"]})
    );
    assert_eq!(
        reqs[4].json(),
        json!({"ref": "refs/heads/agent/fix-typo", "sha": "commit444"})
    );
    assert_eq!(
        reqs[5].json(),
        json!({"title": "Fix typo", "head": "agent/fix-typo", "base": "main", "body": "Typos."})
    );
}

#[tokio::test]
async fn issue_comment_posts_the_body() {
    let server = serve(vec![reply(
        201,
        json!({"id": 99, "html_url": "https://x/c/99"}),
    )])
    .await;
    let c = connectors(&server.url);
    let a = action(
        json!({"agent": "a", "connector": "github", "operation": "issue.comment",
        "input": {"repo": "acme/api", "number": 12, "body": "LGTM"}}),
    );
    let (pass, _) = pass_for(&a, "github");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(out.result["id"], 99);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/repos/acme/api/issues/12/comments")
    );
    assert_headers(&reqs[0]);
    assert_eq!(reqs[0].json(), json!({"body": "LGTM"}));
}

fn merge_action() -> axtary_core::Action {
    action(
        json!({"agent": "a", "connector": "github", "operation": "pull_request.merge",
        "input": {"repo": "acme/api", "number": 7, "sha": "0123456789abcdef0123456789abcdef01234567", "method": "squash"}}),
    )
}

#[tokio::test]
async fn merge_sends_the_approved_sha_and_explains_409() {
    let server = serve(vec![reply(
        409,
        json!({"message": "Head branch was modified. Review and try the merge again."}),
    )])
    .await;
    let c = connectors(&server.url);
    let a = merge_action();
    let (pass, _) = pass_for(&a, "github");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(out.provider_reached);
    let err = out.error.unwrap();
    assert!(
        err.contains("no longer the approved commit 0123456789abcdef0123456789abcdef01234567"),
        "{err}"
    );
    assert!(err.contains("409"), "{err}");
    let reqs = server.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("PUT", "/repos/acme/api/pulls/7/merge")
    );
    assert_headers(&reqs[0]);
    assert_eq!(
        reqs[0].json(),
        json!({"merge_method": "squash", "sha": "0123456789abcdef0123456789abcdef01234567"})
    );
}

#[tokio::test]
async fn merge_405_is_not_mergeable() {
    let server = serve(vec![reply(
        405,
        json!({"message": "Pull Request is not mergeable"}),
    )])
    .await;
    let c = connectors(&server.url);
    let a = merge_action();
    let (pass, _) = pass_for(&a, "github");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(
        out.error
            .unwrap()
            .contains("pull request #7 is not mergeable")
    );
}

#[tokio::test]
async fn a_token_echoed_in_an_error_body_is_redacted() {
    let server = serve(vec![reply(
        401,
        json!({"message": format!("Bad credentials: Bearer {TOKEN}"), "echo": TOKEN}),
    )])
    .await;
    let c = connectors(&server.url);
    let a = merge_action();
    let (pass, _) = pass_for(&a, "github");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    let printed = serde_json::to_string(&out).unwrap();
    assert!(!printed.contains(TOKEN), "{printed}");
    assert!(printed.contains("[REDACTED:GITHUB_TOKEN]"), "{printed}");
    assert!(out.error.unwrap().contains("[REDACTED:GITHUB_TOKEN]"));
}

#[tokio::test]
async fn dry_run_shows_every_request_without_the_token_and_sends_nothing() {
    let server = serve(vec![]).await;
    let c = connectors(&server.url);
    let a = pr_action();
    let (pass, _) = pass_for(&a, "github");
    let opts = ExecOptions {
        dry_run: true,
        ..Default::default()
    };
    let out = c.execute(&pass, &a, &opts).await.unwrap();
    assert_eq!(out.status, Status::DryRun);
    assert!(!out.provider_reached);
    let printed = serde_json::to_string(&out).unwrap();
    assert!(!printed.contains(TOKEN), "{printed}");
    let reqs = out.result["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 6);
    assert_eq!(reqs[0]["method"], "GET");
    assert_eq!(
        reqs[0]["url"],
        format!("{}/repos/acme/api/git/ref/heads/main", server.url)
    );
    assert_eq!(
        reqs[0]["headers"]["authorization"],
        "Bearer [REDACTED:GITHUB_TOKEN]"
    );
    assert_eq!(reqs[3]["body"]["tree"], "{tree_sha}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_pass_for_another_connector_or_action_is_refused_before_sending() {
    let server = serve(vec![reply(200, json!({}))]).await;
    let c = connectors(&server.url);
    let a = merge_action();
    // Audience: a pass for slack.
    let (slack_pass, _) = pass_for(&a, "slack");
    let e = c
        .execute(&slack_pass, &a, &ExecOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Refusal::Audience { .. }), "{e}");
    // Another action's hash (e.g. a different sha than the one approved).
    let other = action(
        json!({"agent": "a", "connector": "github", "operation": "pull_request.merge",
        "input": {"repo": "acme/api", "number": 7, "sha": "ffffffffffffffffffffffffffffffffffffffff", "method": "squash"}}),
    );
    let (other_pass, _) = pass_with_hash(&a, "github", other.hash());
    let e = c
        .execute(&other_pass, &a, &ExecOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Refusal::ActionHash { .. }), "{e}");
    assert!(e.to_string().contains("authorizes action"));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(server.requests().is_empty(), "the server saw a request");
}
