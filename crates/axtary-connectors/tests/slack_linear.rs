#![allow(clippy::unwrap_used, clippy::expect_used)]
//! slack and linear against local servers that speak the documented subsets
//! (refs/PROTOCOLS.md §4-5) and assert the exact requests.

mod common;

use std::collections::BTreeMap;

use axtary_connectors::config::{
    ConnectorsConfig, LinearAuth, LinearConfig, SecretRef, SlackConfig,
};
use axtary_connectors::{Connectors, ExecOptions, Refusal, Status};
use common::{Reply, action, broker, closed_port, pass_for, reply, serve, serve_silent};
use serde_json::json;

const SLACK_TOKEN: &str = "xoxb-canary-1234567890-abcdefghij";
const LINEAR_KEY: &str = "lin_api_canaryKEY0123456789";
const TEAM_ID: &str = "9cfb482a-81e3-4154-b5b9-2c805e70a02d";

fn slack(url: &str) -> Connectors {
    let cfg = ConnectorsConfig {
        slack: Some(SlackConfig {
            base_url: format!("{url}/api"),
            token: SecretRef::new("SLACK_BOT").unwrap(),
            timeout_secs: 5,
            max_response_bytes: 64 * 1024,
            max_retry_after_secs: 2,
            dry_run: false,
        }),
        ..Default::default()
    };
    Connectors::from_config(&cfg, broker(&[("SLACK_BOT", SLACK_TOKEN)])).unwrap()
}

fn post() -> axtary_core::Action {
    action(
        json!({"agent": "bot", "connector": "slack", "operation": "chat.post",
        "input": {"channel": "C0123ABCDEF", "text": "deploy done", "thread_ts": "1712345678.000100"}}),
    )
}

fn assert_slack_request(r: &common::Recorded) {
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/chat.postMessage")
    );
    assert_eq!(r.headers["authorization"], format!("Bearer {SLACK_TOKEN}"));
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.json(),
        json!({"channel": "C0123ABCDEF", "text": "deploy done", "thread_ts": "1712345678.000100"})
    );
}

#[tokio::test]
async fn slack_posts_and_checks_ok() {
    let server = serve(vec![reply(
        200,
        json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1712345679.000200", "message": {}}),
    )])
    .await;
    let c = slack(&server.url);
    let a = post();
    let (pass, _) = pass_for(&a, "slack");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(
        out.result,
        json!({"channel": "C0123ABCDEF", "ts": "1712345679.000200"})
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_slack_request(&reqs[0]);
}

#[tokio::test]
async fn slack_ok_false_with_http_200_is_a_failure() {
    let server = serve(vec![reply(
        200,
        json!({"ok": false, "error": "channel_not_found"}),
    )])
    .await;
    let c = slack(&server.url);
    let a = post();
    let (pass, _) = pass_for(&a, "slack");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(out.provider_reached);
    let e = out.error.unwrap();
    assert!(
        e.contains("channel not found") && e.contains("channel_not_found"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn slack_honours_429_retry_after_once() {
    let limited = || Reply {
        status: 429,
        headers: vec![("retry-after".into(), "1".into())],
        body: String::new(),
    };
    let server = serve(vec![
        limited(),
        reply(
            200,
            json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1.2"}),
        ),
    ])
    .await;
    let c = slack(&server.url);
    let a = post();
    let (pass, _) = pass_for(&a, "slack");
    let started = std::time::Instant::now();
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    reqs.iter().for_each(assert_slack_request);

    // Twice limited: one retry only, then a failure.
    let server = serve(vec![limited(), limited(), reply(200, json!({"ok": true}))]).await;
    let c = slack(&server.url);
    let (pass, _) = pass_for(&a, "slack");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(out.error.unwrap().contains("rate limited"));
    assert_eq!(server.requests().len(), 2);

    // A Retry-After beyond the cap is not waited for.
    let server = serve(vec![Reply {
        status: 429,
        headers: vec![("retry-after".into(), "60".into())],
        body: String::new(),
    }])
    .await;
    let c = slack(&server.url);
    let (pass, _) = pass_for(&a, "slack");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(out.error.unwrap().contains("retry after 60 s"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn slack_token_echo_and_dry_run_never_show_the_token() {
    let server = serve(vec![reply(
        200,
        json!({"ok": false, "error": "invalid_auth", "token": SLACK_TOKEN}),
    )])
    .await;
    let c = slack(&server.url);
    let a = post();
    let (pass, _) = pass_for(&a, "slack");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    let printed = serde_json::to_string(&out).unwrap();
    assert!(!printed.contains(SLACK_TOKEN));
    assert!(out.error.unwrap().contains("token was rejected"));

    let (pass, _) = pass_for(&a, "slack");
    let dry = c
        .execute(
            &pass,
            &a,
            &ExecOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let printed = serde_json::to_string(&dry).unwrap();
    assert!(!printed.contains(SLACK_TOKEN), "{printed}");
    assert_eq!(
        dry.result["requests"][0]["headers"]["authorization"],
        "Bearer [REDACTED:SLACK_BOT]"
    );
    assert_eq!(dry.result["requests"][0]["body"]["text"], "deploy done");
    assert_eq!(server.requests().len(), 1);
}

fn linear(url: &str, auth: LinearAuth) -> Connectors {
    linear_with_timeout(url, auth, 5)
}

fn linear_with_timeout(url: &str, auth: LinearAuth, timeout_secs: u64) -> Connectors {
    let cfg = ConnectorsConfig {
        linear: Some(LinearConfig {
            base_url: url.into(),
            token: SecretRef::new("LINEAR_KEY").unwrap(),
            auth,
            teams: BTreeMap::from([("ENG".into(), TEAM_ID.into())]),
            labels: BTreeMap::from([("bug".into(), "0b3c4a2e-0000-4000-8000-000000000001".into())]),
            timeout_secs,
            max_response_bytes: 64 * 1024,
            dry_run: false,
        }),
        ..Default::default()
    };
    Connectors::from_config(&cfg, broker(&[("LINEAR_KEY", LINEAR_KEY)])).unwrap()
}

fn issue() -> axtary_core::Action {
    action(
        json!({"agent": "a", "connector": "linear", "operation": "issue.create",
        "input": {"team": "ENG", "title": "Flaky test", "description": "It *flakes*.", "priority": 2, "labels": ["bug"]}}),
    )
}

#[tokio::test]
async fn linear_creates_an_issue_with_the_documented_mutation() {
    let server = serve(vec![reply(200, json!({"data": {"issueCreate": {"success": true, "issue": {
        "id": "i-1", "identifier": "ENG-42", "url": "https://linear.app/x/issue/ENG-42", "title": "Flaky test"}}}}))]).await;
    let c = linear(&server.url, LinearAuth::ApiKey);
    let a = issue();
    let (pass, _) = pass_for(&a, "linear");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert_eq!(out.result["identifier"], "ENG-42");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/graphql")
    );
    // Personal API keys are sent bare (no `Bearer`).
    assert_eq!(reqs[0].headers["authorization"], LINEAR_KEY);
    assert_eq!(reqs[0].headers["content-type"], "application/json");
    assert_eq!(
        reqs[0].json(),
        json!({
            "query": "mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier url title } } }",
            "variables": {"input": {"teamId": TEAM_ID, "title": "Flaky test", "description": "It *flakes*.",
                                    "priority": 2, "labelIds": ["0b3c4a2e-0000-4000-8000-000000000001"]}}
        })
    );
}

#[tokio::test]
async fn linear_errors_with_http_200_fail_and_are_never_retried() {
    let server = serve(vec![
        reply(200, json!({"data": null, "errors": [{"message": "Argument Validation Error", "path": ["issueCreate"]}]})),
        reply(200, json!({"data": {"issueCreate": {"success": true, "issue": {}}}})),
    ])
    .await;
    let c = linear(&server.url, LinearAuth::Oauth);
    let a = issue();
    let (pass, _) = pass_for(&a, "linear");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(out.error.unwrap().contains("Argument Validation Error"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "a create must never be retried");
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {LINEAR_KEY}")
    );

    // success: false without errors is a failure too; a 500 is not retried either.
    let server = serve(vec![reply(
        200,
        json!({"data": {"issueCreate": {"success": false, "issue": null}}}),
    )])
    .await;
    let c = linear(&server.url, LinearAuth::ApiKey);
    let (pass, _) = pass_for(&a, "linear");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    let server = serve(vec![reply(500, json!({"echo": LINEAR_KEY}))]).await;
    let c = linear(&server.url, LinearAuth::ApiKey);
    let (pass, _) = pass_for(&a, "linear");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed);
    assert!(!serde_json::to_string(&out).unwrap().contains(LINEAR_KEY));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn linear_unknown_team_is_refused_before_sending() {
    let server = serve(vec![]).await;
    let c = linear(&server.url, LinearAuth::ApiKey);
    let a = action(
        json!({"agent": "a", "connector": "linear", "operation": "issue.create",
        "input": {"team": "OPS", "title": "x"}}),
    );
    let (pass, _) = pass_for(&a, "linear");
    let e = c
        .execute(&pass, &a, &ExecOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Refusal::Config(_)));
    assert!(e.to_string().contains("unknown linear team `OPS`"));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_timeout_after_sending_is_unknown_and_never_retried() {
    let (url, connections) = serve_silent().await;
    let c = linear_with_timeout(&url, LinearAuth::ApiKey, 1);
    let a = issue();
    let (pass, _) = pass_for(&a, "linear");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Unknown, "{out:?}");
    assert!(out.provider_reached);
    assert!(out.error.unwrap().contains("may have been created"));
    assert_eq!(
        *connections.lock().unwrap(),
        1,
        "a create must never be retried"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_failure_that_reached_nothing() {
    let c = slack(&closed_port().await);
    let a = post();
    let (pass, _) = pass_for(&a, "slack");
    let out = c.execute(&pass, &a, &ExecOptions::default()).await.unwrap();
    assert_eq!(out.status, Status::Failed, "{out:?}");
    assert!(!out.provider_reached);
    assert!(out.error.unwrap().contains("could not reach"));
}
