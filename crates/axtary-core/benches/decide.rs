#![allow(clippy::expect_used)]

//! Benchmarks for the decision budgets of DESIGN.md §11.
//!
//! `cargo bench -p axtary-core --bench decide`. The mix is evaluated as one batch of ten
//! actions, so divide the reported time by 10 for the per-decision median.

use std::hint::black_box;

use axtary_core::action::{Action, ActionRequest};
use axtary_core::normalize::{NormalizeOptions, normalize};
use axtary_core::policy::{Policy, PolicyEnv};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

const POLICY: &str = include_str!("policy-52.yaml");

fn action(connector: &str, operation: &str, input: serde_json::Value) -> Action {
    let req = ActionRequest {
        agent: "claude-code".into(),
        connector: connector.into(),
        operation: operation.into(),
        input,
        context: None,
    };
    normalize(&req, &NormalizeOptions::default()).expect("bench request normalizes")
}

fn mix() -> Vec<Action> {
    vec![
        action(
            "fs",
            "read",
            json!({"path": "src/lib.rs", "cwd": "/home/dev/repo"}),
        ),
        action(
            "fs",
            "read",
            json!({"path": "../.env", "cwd": "/home/dev/repo"}),
        ),
        action(
            "shell",
            "exec",
            json!({"command": "cargo test 2>&1 | tail -n 20", "cwd": "/home/dev/repo"}),
        ),
        action(
            "slack",
            "chat.post",
            json!({"channel": "#eng-bots", "text": "deploy finished"}),
        ),
        action(
            "slack",
            "chat.post",
            json!({"channel": "#general", "text": "hello"}),
        ),
        action(
            "postgres",
            "query",
            json!({"database": "prod", "sql": "SELECT id FROM orders WHERE id = $1"}),
        ),
        action(
            "postgres",
            "query",
            json!({"database": "prod", "sql": "DROP TABLE users"}),
        ),
        action(
            "http",
            "request",
            json!({"upstream": "internal-api", "method": "GET", "path": "/v1/customers/7"}),
        ),
        action(
            "http",
            "request",
            json!({"upstream": "internal-api", "method": "DELETE", "path": "/v1/customers/7"}),
        ),
        action(
            "github",
            "pull_request.create",
            json!({"repo": "acme/api", "base": "main", "head": "agent/x", "title": "t",
                   "files": [{"path": "src/lib.rs", "content": "x"}, {"path": "infra/prod/main.tf", "content": "y"}]}),
        ),
    ]
}

fn pr_with_20_paths() -> Action {
    let files: Vec<_> = (0..20)
        .map(|i| {
            let dir = ["src", "tests", "docs", "infra/prod", "src/api"][i % 5];
            json!({"path": format!("{dir}/file_{i}.rs"), "content": "fn x() {}"})
        })
        .collect();
    action(
        "github",
        "pull_request.create",
        json!({"repo": "acme/api", "base": "main", "head": "agent/big", "title": "Big change", "files": files}),
    )
}

fn benches(c: &mut Criterion) {
    let env = PolicyEnv {
        axtary_home: Some("/home/dev/.axtary".into()),
        ..Default::default()
    };
    let policy = Policy::load(POLICY, &env)
        .expect("bench policy loads")
        .policy;
    let actions = mix();

    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Elements(actions.len() as u64));
    group.bench_function("evaluate_mix_of_10", |b| {
        b.iter(|| {
            for a in &actions {
                black_box(policy.evaluate(black_box(a)));
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    let pr = pr_with_20_paths();
    group.bench_function("evaluate_pr_20_paths", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&pr))))
    });
    group.bench_function("load_52_rules", |b| {
        b.iter(|| black_box(Policy::load(black_box(POLICY), &env).is_ok()))
    });
    group.finish();

    let mut group = c.benchmark_group("hash");
    let payload_1k = action(
        "slack",
        "chat.post",
        json!({"channel": "#eng-bots", "text": "x".repeat(1000)}),
    );
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("jcs_sha256_1KiB_payload", |b| {
        b.iter(|| black_box(black_box(&payload_1k).hash()))
    });
    group.finish();

    let mut group = c.benchmark_group("normalize");
    let req = ActionRequest {
        agent: "claude-code".into(),
        connector: "shell".into(),
        operation: "exec".into(),
        input: json!({"command": "git diff --stat && cargo test -p core 2>&1 | tee /tmp/log | tail -n 5", "cwd": "/home/dev/repo"}),
        context: None,
    };
    let opts = NormalizeOptions::default();
    group.bench_function("shell_command_and_decide", |b| {
        b.iter(|| {
            let a = normalize(black_box(&req), &opts).expect("normalizes");
            black_box(policy.evaluate(&a))
        })
    });
    group.finish();
}

criterion_group!(decide, benches);
criterion_main!(decide);
