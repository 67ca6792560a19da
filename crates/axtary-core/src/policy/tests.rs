//! Policy tests: diagnostics, combining, built-ins, operators, explain, run_tests, and a
//! no-panic mutation test. Data-driven: each table row is one case.

use serde_json::{Value as Json, json};

use super::*;
use crate::facts::Facts;

const HOME: &str = "/home/u/.axtary";

fn env() -> PolicyEnv {
    PolicyEnv {
        axtary_home: Some(HOME.to_owned()),
        ..Default::default()
    }
}

/// Loads `src` or fails the test with every diagnostic rendered.
fn load(src: &str) -> Policy {
    match Policy::load(src, &env()) {
        Ok(l) => l.policy,
        Err(diags) => {
            let text: String = diags.iter().map(|d| d.render("policy.yaml", src)).collect();
            panic!("policy did not load:\n{text}")
        }
    }
}

/// Every diagnostic of `src` (errors or warnings) as `line:column severity: message`.
fn diags(src: &str) -> Vec<String> {
    let all = match Policy::load(src, &env()) {
        Ok(l) => l.warnings,
        Err(d) => d,
    };
    all.iter()
        .map(|d| {
            format!(
                "{}:{} {}: {}",
                d.line,
                d.column,
                d.severity.as_str(),
                d.message
            )
        })
        .collect()
}

/// An action from a compact JSON description; missing fields get defaults.
fn act(v: Json) -> Action {
    let get = |k: &str, d: &str| v.get(k).and_then(Json::as_str).unwrap_or(d).to_owned();
    let facts: Facts = match v.get("facts") {
        Some(f) => serde_json::from_value(f.clone()).unwrap(),
        None => Facts::new(),
    };
    Action {
        v: 1,
        agent: get("agent", "claude-code"),
        connector: get("connector", "github"),
        operation: get("operation", "pull_request.create"),
        resource: get("resource", "github:acme/api"),
        payload: v.get("payload").cloned().unwrap_or(json!({})),
        facts,
    }
}

fn decide(p: &Policy, v: Json) -> (Effect, String) {
    let verdict = p.evaluate(&act(v));
    (verdict.effect, verdict.rule)
}

/// A realistic policy, also the seed of the mutation test.
const REFERENCE: &str = r##"version: 1
rules:
  - id: no-secret-files
    effect: deny
    reason: agents never read secrets files
    match: {connector: [fs, shell]}
    when: {any_path: ["**/.env", "**/.env.*", "**/*.pem", "**/id_rsa*"]}
  - id: prod-infra-needs-two-sre
    effect: require_approval
    approvers: {group: sre-oncall, count: 2}
    match: {connector: github, operation: ["pull_request.*"]}
    when: {any_path: ["infra/prod/**"]}
  - id: prs-to-our-repos
    effect: allow
    match: {connector: github, operation: ["pull_request.create", "issue.comment"], resource: ["github:acme/*"]}
  - id: bots-channel-only
    effect: allow
    match: {connector: slack, operation: chat.post}
    when: {fact: {channel: {in: ["#eng-bots"]}}, no_secrets: true}
  - id: no-mass-mentions
    effect: deny
    match: {connector: slack}
    when: {fact: {mentions: {any_in: ["@here", "@channel", "@everyone"]}}}
  - id: sql-reads
    effect: allow
    match: {connector: [postgres, sqlite], operation: query}
    when: {fact: {read_only: true, parse_error: false}}
  - id: prod-ddl-needs-dba
    effect: require_approval
    approvers: {group: dba, count: 1}
    approval_mode: ask
    match: {connector: postgres, resource: "postgres:prod*"}
    when: {fact: {statement_kinds: {any_in: [ddl]}}}
  - id: no-unbounded-writes
    effect: deny
    match: {connector: [postgres, sqlite]}
    when:
      any:
        - fact: {unbounded_write: true}
        - fact: {parse_error: true}
  - id: http-gets
    effect: allow
    match: {connector: http, operation: request}
    when: {fact: {method: {in: [GET, HEAD]}}}
  - id: project-reads
    effect: allow
    match: {connector: fs, operation: read}
    when: {fact: {in_project: true}}
  - id: source-writes
    effect: allow
    match: {connector: fs, operation: write}
    when: {all_paths: ["src/**", "tests/**", "docs/**"], no_secrets: true}
  - id: safe-shell
    effect: allow
    match: {connector: shell}
    when:
      fact:
        programs: {all_in: [ls, cat, grep, rg, cargo, git]}
        opaque: false
        network: false
      not: {fact: {git_push: true}}
  - id: mcp-read-tools
    effect: allow
    match: {connector: "mcp:*", operation: ["get_*", "list_*", "search_*"]}
tests:
  - name: prod infra PR needs approval
    action: {connector: github, operation: pull_request.create, resource: "github:acme/api", payload: {}, facts: {paths: ["infra/prod/main.tf"]}}
    expect: {effect: require_approval, rule: prod-infra-needs-two-sre}
  - name: docs PR is allowed
    request:
      agent: claude-code
      connector: github
      operation: pull_request.create
      input: {repo: acme/api, base: main, head: agent/docs, title: Docs, files: [{path: docs/a.md, content: hi}]}
    expect: {effect: allow, rule: prs-to-our-repos}
  - name: general channel is denied
    action: {connector: slack, operation: chat.post, resource: "slack:#general", facts: {channel: "#general", secrets: []}}
    expect: {effect: deny, rule: builtin:default-deny}
"##;

// ---- diagnostics -----------------------------------------------------------------------

#[test]
fn reference_policy_loads_cleanly_and_its_tests_pass() {
    let loaded = Policy::load(REFERENCE, &env()).unwrap();
    assert_eq!(loaded.warnings, vec![]);
    let report = loaded.policy.run_tests();
    assert!(report.all_passed(), "{report:#?}");
    assert_eq!(report.passed, 3);
}

/// One mistake per row: (rule fragment appended to `version: 1\nrules:\n`, diagnostics).
#[test]
fn each_diagnostic_kind_with_its_position() {
    let cases: &[(&str, &[&str])] = &[
        (
            "  - id: a\n    effect: alow\n",
            &["4:13 error: unknown effect `alow`"],
        ),
        (
            "  - id: a\n    efect: deny\n",
            &[
                "3:9 error: rule `a` is missing `effect`",
                "4:5 error: unknown field `efect` in a rule",
            ],
        ),
        (
            "  - id: a\n    effect: deny\n    effect: allow\n",
            &["5:5 error: duplicate key `effect` in a rule"],
        ),
        (
            "  - id: a\n    effect: [deny]\n",
            &["4:13 error: `effect` must be a string, found a list"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: {resource: \"github:[a\"}\n",
            &["5:23 error: invalid glob `github:[a`: unclosed character class; missing ']'"],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {fact: {channel: {regex: \"(x\"}}}\n",
            &["5:36 error: invalid regex `(x`"],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {fact: {chanel: \"#x\"}}\n",
            &["5:19 error: unknown fact `chanel`"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: {connector: slack}\n    when: {fact: {paths: {contains: x}}}\n",
            &["6:19 error: fact `paths` is never produced for connector `slack`"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: {connector: [slack, linear]}\n    when: {any_path: [\"**\"]}\n",
            &[
                "6:12 error: `any_path` reads facts `paths` and `abs_paths`, which are never produced for connectors `slack`, `linear`",
            ],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {fact: {channel: {gt: 3}}}\n",
            &["5:29 error: operator `gt` does not apply to fact `channel` (string)"],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {fact: {channel: {equals: x}}}\n",
            &["5:29 error: unknown operator `equals`"],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {fact: {text_length: {lt: \"3\"}}}\n",
            &["5:37 error: `lt` on fact `text_length` must be an integer, found a string"],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {fact: {mentions: \"@here\"}}\n",
            &[
                "5:29 error: fact `mentions` is a list of strings and cannot be compared with a single value",
            ],
        ),
        (
            "  - id: a\n    effect: deny\n    approvers: {group: x, count: 2}\n",
            &["5:5 error: `approvers` is only allowed on `require_approval` rules"],
        ),
        (
            "  - id: a\n    effect: allow\n    approval_mode: ask\n    match: {connector: fs}\n",
            &["5:5 error: `approval_mode` is only allowed on `require_approval` rules"],
        ),
        (
            "  - id: a\n    effect: require_approval\n    approvers: {count: 0}\n",
            &["5:24 error: approver `count` must be between 1 and 10, found 0"],
        ),
        (
            "  - id: a\n    effect: deny\n  - id: a\n    effect: deny\n    match: {connector: fs}\n",
            &["5:9 error: duplicate rule id `a`"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: {connector: ftp}\n",
            &["5:24 error: unknown connector `ftp`"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: {connector: \"m*p\"}\n",
            &["5:24 error: invalid connector pattern `m*p`"],
        ),
        (
            "  - id: Bad\n    effect: deny\n",
            &["3:9 error: invalid rule id `Bad`"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: {operation: []}\n",
            &["5:24 error: `operation` must not be an empty list"],
        ),
        (
            "  - id: a\n    effect: deny\n    when: {any: []}\n",
            &["5:17 error: `any` needs at least one condition"],
        ),
        (
            "  - id: a\n    effect: allow\n",
            &["3:9 warning: rule `a` allows every action"],
        ),
        (
            "  - id: deny-slack\n    effect: deny\n    match: {connector: slack}\n  - id: allow-bots\n    effect: allow\n    match: {connector: slack, operation: chat.post}\n",
            &["6:9 warning: rule `allow-bots` can never change a decision"],
        ),
        (
            "  - id: a\n    effect: allow\n    match: {connector: fs}\ntests:\n  - name: t\n    action: {connector: fs, operation: read, resource: \"fs:/x\"}\n    expect: {effect: allow, rule: b}\n",
            &["9:35 error: expected rule `b` is not in this policy"],
        ),
        (
            "  - id: a\n    effect: allow\n    match: {connector: fs}\ntests:\n  - name: t\n    action: {connector: fs, operation: read, resource: \"fs:/x\", facts: {op: 1}}\n    expect: {effect: allow}\n",
            &["8:77 error: fact `op` must be a string, found an integer"],
        ),
        (
            "  - id: a\n    effect: deny\n    match: [fs]\n",
            &["5:12 error: `match` must be a mapping, found a list"],
        ),
    ];
    for (fragment, expected) in cases {
        let src = format!("version: 1\nrules:\n{fragment}");
        assert_eq!(diags(&src), *expected, "for:\n{src}");
    }
}

#[test]
fn document_level_diagnostics() {
    let cases: &[(&str, &[&str])] = &[
        ("", &["1:1 error: the policy file is empty"]),
        (
            "rules: []\n",
            &[
                "1:1 error: missing `version`",
                "1:8 warning: `rules` is empty; every action will be denied",
            ],
        ),
        (
            "version: 2\nrules: []\n",
            &[
                "1:10 error: unsupported policy `version`",
                "2:8 warning: `rules` is empty; every action will be denied",
            ],
        ),
        (
            "version: 1\nrules:\n",
            &["2:1 warning: `rules` is empty; every action will be denied"],
        ),
        (
            "version: 1\nrule: []\n",
            &[
                "1:1 warning: the policy has no `rules`; every action will be denied",
                "2:1 error: unknown field `rule` in the policy file",
            ],
        ),
        (
            "version: 1\nversion: 1\nrules: []\n",
            &[
                "2:1 error: duplicate key `version` in the policy file",
                "3:8 warning: `rules` is empty; every action will be denied",
            ],
        ),
        (
            "- 1\n",
            &["1:1 error: the policy file must be a mapping, found a list"],
        ),
        (
            "version: 1\nrules: [\n",
            &["2:8 error: invalid YAML: unclosed bracket '['"],
        ),
        (
            "version: 1\nrules:\n  - id: *x\n",
            &["3:9 error: invalid YAML: alias references unknown anchor"],
        ),
    ];
    for (src, expected) in cases {
        assert_eq!(diags(src), *expected, "for:\n{src}");
    }
}

#[test]
fn hints_name_the_nearest_alternatives() {
    let hint = |src: &str| -> Vec<Option<String>> {
        Policy::load(src, &env())
            .err()
            .unwrap()
            .into_iter()
            .map(|d| d.hint)
            .collect()
    };
    assert_eq!(
        hint("version: 1\nrules:\n  - id: a\n    effect: alow\n"),
        [Some(
            "expected one of allow, deny, require_approval (did you mean `allow`?)".to_owned()
        )]
    );
    assert_eq!(
        hint("version: 1\nrules:\n  - id: a\n    effect: deny\n    when: {fact: {chanel: x}}\n"),
        [Some("did you mean `channel`?".to_owned())]
    );
    assert_eq!(
        hint("version: 1\nrules:\n  - id: a\n    effect: deny\n    mach: {}\n"),
        [Some("did you mean `match`? expected one of: id, effect, reason, match, when, approvers, approval_mode".to_owned())]
    );
    assert_eq!(
        hint(
            "version: 1\nrules:\n  - id: a\n    effect: deny\n    match: {connector: slack}\n    when: {fact: {paths: {contains: x}}}\n"
        ),
        [Some(
            "`paths` is produced for github, fs, shell, claude-code".to_owned()
        )]
    );
}

#[test]
fn every_mistake_in_one_file_is_reported_at_once() {
    let src = r##"version: 2
rules:
  - id: Bad_ID
    effect: alow
  - id: dup
    effect: deny
    colour: red
    match: {connector: ftp}
  - id: dup
    effect: allow
    effect: deny
    approvers: {group: sre, count: 2}
    match: {connector: slack}
    when:
      any_path: ["[oops"]
      fact:
        chanel: "#x"
        paths: {contains: x}
        text_length: {glob: "*"}
        mentions: {regex: "(unclosed"}
        has_links: "yes"
  - id: approve
    effect: require_approval
    approvers: {count: 11}
tests:
  - name: t
    action: {connector: github, operation: x, resource: "github:a/b"}
    expect: {effect: allow, rule: nope}
"##;
    assert_eq!(
        diags(src),
        [
            "1:10 error: unsupported policy `version`",
            "3:9 error: invalid rule id `Bad_ID`",
            "4:13 error: unknown effect `alow`",
            "7:5 error: unknown field `colour` in a rule",
            "8:24 error: unknown connector `ftp`",
            "9:9 error: duplicate rule id `dup`",
            "11:5 error: duplicate key `effect` in a rule",
            "12:5 error: `approvers` is only allowed on `require_approval` rules",
            "15:7 error: `any_path` reads facts `paths` and `abs_paths`, which are never produced for connector `slack`",
            "15:18 error: invalid glob `[oops`: unclosed character class; missing ']'",
            "17:9 error: unknown fact `chanel`",
            "18:9 error: fact `paths` is never produced for connector `slack`",
            "19:23 error: operator `glob` does not apply to fact `text_length` (integer)",
            "20:27 error: invalid regex `(unclosed`",
            "21:20 error: `eq` on fact `has_links` (boolean) must be `true` or `false`, found a string",
            "24:24 error: approver `count` must be between 1 and 10, found 11",
            "28:35 error: expected rule `nope` is not in this policy",
        ]
    );
}

#[test]
fn diagnostics_render_like_rustc() {
    let src = "version: 1\nrules:\n  - id: a\n    effect: alow\n";
    let d = Policy::load(src, &env()).unwrap_err();
    assert_eq!(
        d[0].render("policy.yaml", src),
        "error: unknown effect `alow`
 --> policy.yaml:4:13
  |
4 |     effect: alow
  |             ^^^^
  = hint: expected one of allow, deny, require_approval (did you mean `allow`?)
"
    );
    // Wider gutters for longer line numbers, and no snippet when the line is unknown.
    let mut wide = d[0].clone();
    wide.line = 12;
    let src12 = format!("{}    effect: alow\n", "#\n".repeat(11));
    assert!(wide.render("p.yaml", &src12).starts_with(
        "error: unknown effect `alow`\n  --> p.yaml:12:13\n   |\n12 |     effect: alow\n   |             ^^^^\n"
    ));
    wide.line = 0;
    assert_eq!(
        wide.render("p.yaml", &src12),
        "error: unknown effect `alow`\n --> p.yaml\n  = hint: expected one of allow, deny, require_approval (did you mean `allow`?)\n"
    );
    let json = serde_json::to_value(&d[0]).unwrap();
    assert_eq!(json["severity"], "error");
    assert_eq!(json["line"], 4);
    assert_eq!(json["column"], 13);
}

// ---- combining -------------------------------------------------------------------------

#[test]
fn deny_beats_approval_beats_allow_and_nothing_matched_is_deny() {
    let p = load(
        r#"version: 1
rules:
  - id: allow-github
    effect: allow
    match: {connector: github}
  - id: approve-infra
    effect: require_approval
    match: {connector: github}
    when: {any_path: ["infra/**"]}
  - id: deny-secrets
    effect: deny
    match: {connector: github}
    when: {no_secrets: false}
"#,
    );
    let facts = |paths: &[&str], secrets: &[&str]| json!({"paths": paths, "secrets": secrets});
    assert_eq!(
        decide(&p, json!({"facts": facts(&["src/a"], &[])})),
        (Effect::Allow, "allow-github".into())
    );
    assert_eq!(
        decide(&p, json!({"facts": facts(&["infra/a"], &[])})),
        (Effect::RequireApproval, "approve-infra".into())
    );
    assert_eq!(
        decide(
            &p,
            json!({"facts": facts(&["infra/a"], &["aws_access_key"])})
        ),
        (Effect::Deny, "deny-secrets".into())
    );
    let v = p.evaluate(&act(
        json!({"connector": "slack", "operation": "chat.post"}),
    ));
    assert_eq!(v, Verdict::deny(DEFAULT_DENY, "no rule allows this action"));
}

#[test]
fn verdicts_serialize_as_the_decision_contract() {
    let p = load(REFERENCE);
    let v = p.evaluate(&act(json!({"facts": {"paths": ["infra/prod/a.tf"]}})));
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        json!({"effect": "require_approval", "rule": "prod-infra-needs-two-sre",
               "reason": "matched rule `prod-infra-needs-two-sre`",
               "approvers": {"group": "sre-oncall", "count": 2}, "approval_mode": "approval"})
    );
    let v = p.evaluate(&act(json!({"connector": "slack"})));
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        json!({"effect": "deny", "rule": "builtin:default-deny", "reason": "no rule allows this action"})
    );
}

#[test]
fn several_approval_rules_take_the_strictest_whole() {
    let p = load(
        r#"version: 1
rules:
  - id: one-reviewer
    effect: require_approval
    reason: needs review
    approval_mode: ask
    match: {connector: github}
  - id: infra-two
    effect: require_approval
    approvers: {group: sre, count: 2}
    match: {connector: github}
    when: {any_path: ["infra/**"]}
  - id: prod-three
    effect: require_approval
    approvers: {group: sre, count: 3}
    match: {connector: github}
    when: {any_path: ["infra/prod/**"]}
"#,
    );
    let v = p.evaluate(&act(json!({"facts": {"paths": ["infra/prod/x"]}})));
    // The strictest rule applies whole (its group too), whatever the rule order; a rule that
    // wants a signed approval outranks `ask`.
    assert_eq!(v.rule, "prod-three");
    assert_eq!(
        v.approvers,
        Some(Approvers {
            group: "sre".into(),
            count: 3
        })
    );
    assert_eq!(v.approval_mode, Some(ApprovalMode::Approval));
    assert_eq!(
        v.reason,
        "matched rule `prod-three` (3 approval rules matched; the strictest, `prod-three`, applies)"
    );
    let v = p.evaluate(&act(json!({"facts": {"paths": ["src/x"]}})));
    assert_eq!(v.reason, "needs review");
    assert_eq!(v.approvers.map(|a| a.count), Some(1));
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Actions that exercise the reference policy (and the built-ins).
fn sample_actions() -> Vec<Json> {
    vec![
        json!({"facts": {"paths": ["infra/prod/main.tf"]}}),
        json!({"facts": {"paths": ["src/lib.rs"]}}),
        json!({"resource": "github:acme/x/y", "facts": {"paths": ["src/lib.rs"]}}),
        json!({"operation": "pull_request.merge", "facts": {"paths": []}}),
        json!({"connector": "slack", "operation": "chat.post", "resource": "slack:#eng-bots",
               "facts": {"channel": "#eng-bots", "secrets": [], "mentions": []}}),
        json!({"connector": "slack", "operation": "chat.post", "resource": "slack:#eng-bots",
               "facts": {"channel": "#eng-bots", "secrets": [], "mentions": ["@here"]}}),
        json!({"connector": "slack", "operation": "chat.post", "facts": {"channel": "#eng-bots", "secrets": ["slack_token"]}}),
        json!({"connector": "postgres", "operation": "query", "resource": "postgres:prod",
               "facts": {"statement_kinds": ["ddl"], "read_only": false, "parse_error": false, "unbounded_write": false}}),
        json!({"connector": "postgres", "operation": "query", "resource": "postgres:prod",
               "facts": {"statement_kinds": ["delete", "ddl"], "read_only": false, "parse_error": false, "unbounded_write": true}}),
        json!({"connector": "sqlite", "operation": "query", "resource": "sqlite:app",
               "facts": {"statement_kinds": ["select"], "read_only": true, "parse_error": false}}),
        json!({"connector": "http", "operation": "request", "facts": {"method": "GET"}}),
        json!({"connector": "http", "operation": "request", "facts": {"method": "DELETE"}}),
        json!({"connector": "fs", "operation": "read", "resource": "fs:/p/.env",
               "facts": {"op": "read", "paths": [".env"], "abs_paths": ["/p/.env"], "in_project": true}}),
        json!({"connector": "fs", "operation": "write", "facts": {"op": "write", "paths": ["src/a.rs"], "abs_paths": ["/p/src/a.rs"], "secrets": []}}),
        json!({"connector": "fs", "operation": "write", "facts": {"op": "write", "paths": ["build.rs"], "abs_paths": ["/p/build.rs"], "secrets": []}}),
        json!({"connector": "fs", "operation": "read", "facts": {"op": "read", "paths": ["/home/u/.axtary/keys/node.key"], "abs_paths": ["/home/u/.axtary/keys/node.key"], "in_project": false}}),
        json!({"connector": "shell", "operation": "exec", "facts": {"programs": ["ls", "grep"], "opaque": false, "network": false, "git_push": false}}),
        json!({"connector": "shell", "operation": "exec", "facts": {"programs": ["git"], "opaque": false, "network": false, "git_push": true}}),
        json!({"connector": "mcp:notion", "operation": "search_pages", "resource": "mcp:notion"}),
        json!({"connector": "mcp:notion", "operation": "delete_page", "resource": "mcp:notion"}),
    ]
}

#[test]
fn decisions_do_not_depend_on_rule_order() {
    let (head, rest) = REFERENCE.split_once("rules:\n").unwrap();
    let (rules, tests) = rest.split_once("tests:\n").unwrap();
    let blocks: Vec<String> = rules
        .split("  - id: ")
        .filter(|b| !b.is_empty())
        .map(|b| format!("  - id: {b}"))
        .collect();
    let base = load(REFERENCE);
    let expected: Vec<(Effect, Option<Approvers>)> = sample_actions()
        .into_iter()
        .map(|a| {
            let v = base.evaluate(&act(a));
            (v.effect, v.approvers)
        })
        .collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20 {
        let mut shuffled = blocks.clone();
        for i in (1..shuffled.len()).rev() {
            let j = rng.below(i + 1);
            shuffled.swap(i, j);
        }
        let src = format!("{head}rules:\n{}tests:\n{tests}", shuffled.concat());
        let p = load(&src);
        for (a, want) in sample_actions().into_iter().zip(&expected) {
            let v = p.evaluate(&act(a.clone()));
            assert_eq!((v.effect, v.approvers), *want, "{a}\n{src}");
        }
    }
}

#[test]
fn reference_policy_decisions() {
    let p = load(REFERENCE);
    let got: Vec<(Effect, String)> = sample_actions()
        .into_iter()
        .map(|a| decide(&p, a))
        .collect();
    use Effect::*;
    let want: Vec<(Effect, &str)> = vec![
        (RequireApproval, "prod-infra-needs-two-sre"),
        (Allow, "prs-to-our-repos"),
        (Deny, "builtin:default-deny"),
        (Deny, "builtin:default-deny"),
        (Allow, "bots-channel-only"),
        (Deny, "no-mass-mentions"),
        (Deny, "builtin:default-deny"),
        (RequireApproval, "prod-ddl-needs-dba"),
        (Deny, "no-unbounded-writes"),
        (Allow, "sql-reads"),
        (Allow, "http-gets"),
        (Deny, "builtin:default-deny"),
        (Deny, "no-secret-files"),
        (Allow, "source-writes"),
        (Deny, "builtin:default-deny"),
        (Deny, "builtin:self-protect-home"),
        (Allow, "safe-shell"),
        (Deny, "builtin:default-deny"),
        (Allow, "mcp-read-tools"),
        (Deny, "builtin:default-deny"),
    ];
    let want: Vec<(Effect, String)> = want.into_iter().map(|(e, r)| (e, r.to_owned())).collect();
    assert_eq!(got, want);
}

// ---- built-in self-protection ------------------------------------------------------------

#[test]
fn builtins_deny_before_any_user_rule() {
    let p = load(
        "version: 1\nrules:\n  - id: allow-everything\n    effect: allow\n  - id: allow-fs\n    effect: allow\n    match: {connector: [fs, shell, github]}\n",
    );
    let home = "builtin:self-protect-home";
    let hooks = "builtin:self-protect-hooks";
    let admin = "builtin:self-protect-admin";
    let ok = "allow-everything";
    let cases: Vec<(Json, &str)> = vec![
        (
            json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/home/u/.axtary/policy.yaml"]}}),
            home,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/home/u/.axtary"]}}),
            home,
        ),
        (
            json!({"connector": "shell", "facts": {"paths_read": ["/HOME/U/.AXTARY/keys/k"]}}),
            home,
        ),
        (
            json!({"connector": "github", "facts": {"paths": ["docs/.axtary/config.toml"]}}),
            home,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "write", "paths": [".axtary"]}}),
            home,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/home/u/.axtary-old/x"]}}),
            ok,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/home/u/axtary/x"]}}),
            ok,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "write", "paths": [".claude/settings.json"]}}),
            hooks,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "write", "abs_paths": ["/p/.claude/settings.local.json"]}}),
            hooks,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "write", "paths": ["x/.Claude/Settings-extra.json"]}}),
            hooks,
        ),
        (
            json!({"connector": "fs", "facts": {"paths": [".claude/settings.json"]}}),
            hooks,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "read", "paths": [".claude/settings.json"]}}),
            ok,
        ),
        (
            json!({"connector": "shell", "facts": {"paths_written": ["/p/.claude/settings.json"]}}),
            hooks,
        ),
        (
            json!({"connector": "shell", "facts": {"paths_read": ["/p/.claude/settings.json"]}}),
            ok,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["axtary approvals approve 7"]}}),
            admin,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["ls", "/usr/local/bin/axtary policy test"]}}),
            admin,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["sudo axtary secrets set GH"]}}),
            admin,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["axtary --home /tmp/h keys rotate"]}}),
            admin,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["axtary ledger verify"], "programs": ["axtary"], "opaque": false}}),
            ok,
        ),
        (
            json!({"connector": "shell", "facts": {"programs": ["axtary"], "opaque": true}}),
            admin,
        ),
        (
            json!({"connector": "shell", "facts": {"programs": ["bash"], "opaque": true}}),
            ok,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["echo approvals"]}}),
            ok,
        ),
        // A word the shell expands at run time may become an admin subcommand.
        (
            json!({"connector": "shell", "facts": {"commands": ["axtary $X approve apr_1"]}}),
            admin,
        ),
        (
            json!({"connector": "shell", "facts": {"commands": ["axtary appr* approve apr_1"]}}),
            admin,
        ),
        // A recursive search rooted at the home or above reaches into it; one beside it
        // does not.
        (
            json!({"connector": "fs", "operation": "search", "facts": {"op": "read", "recursive": true, "abs_paths": ["/home/u"]}}),
            home,
        ),
        (
            json!({"connector": "fs", "operation": "glob", "facts": {"op": "read", "recursive": true, "abs_paths": ["/"]}}),
            home,
        ),
        (
            json!({"connector": "fs", "operation": "search", "facts": {"op": "read", "recursive": true, "abs_paths": ["/home/u/repo"]}}),
            ok,
        ),
        (
            json!({"connector": "fs", "operation": "search", "facts": {"op": "read", "recursive": true, "abs_paths": ["/home/u/.axtary-old"]}}),
            ok,
        ),
        (
            json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/home/u"]}}),
            ok,
        ),
        // Claude Code tools without a normalizer may write the paths they name.
        (
            json!({"connector": "claude-code:NotebookEdit", "facts": {"paths": [".claude/settings.json"]}}),
            hooks,
        ),
        (
            json!({"connector": "claude-code:NotebookEdit", "facts": {"abs_paths": ["/home/u/.axtary/policy.yaml"]}}),
            home,
        ),
    ];
    for (a, want) in cases {
        let v = p.evaluate(&act(a.clone()));
        assert_eq!(v.rule, want, "{a}");
        assert_eq!(v.effect == Effect::Allow, want == ok, "{a}");
    }
    let v = p.evaluate(&act(
        json!({"connector": "shell", "facts": {"commands": ["axtary up"]}}),
    ));
    assert_eq!(
        v.reason,
        "agents may not run Axtary's admin commands: `axtary up`"
    );
    let v = p.evaluate(&act(
        json!({"connector": "fs", "facts": {"recursive": true, "abs_paths": ["/home/u"]}}),
    ));
    assert_eq!(
        v.reason,
        "agents may not read or write Axtary's home, and a recursive search of `/home/u` reaches it; search a directory that does not contain it"
    );
    let listed: Vec<&str> = p.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(listed, [home, hooks, admin, "allow-everything", "allow-fs"]);
}

#[test]
fn builtins_protect_the_real_path_of_a_symlinked_home() {
    let env = PolicyEnv {
        axtary_home: Some("/srv/link".into()),
        axtary_home_aliases: vec!["/data/axtary-state/".into()],
    };
    let p = Policy::load("version: 1\nrules:\n  - id: all\n    effect: allow\n", &env)
        .unwrap()
        .policy;
    for path in [
        "/srv/link/node.key",
        "/data/axtary-state/node.key",
        "/data/axtary-state",
    ] {
        let v = p.evaluate(&act(
            json!({"connector": "fs", "facts": {"op": "read", "abs_paths": [path]}}),
        ));
        assert_eq!(v.rule, "builtin:self-protect-home", "{path}");
    }
    let v = p.evaluate(&act(
        json!({"connector": "fs", "facts": {"recursive": true, "abs_paths": ["/data"]}}),
    ));
    assert_eq!(v.rule, "builtin:self-protect-home");
    let v = p.evaluate(&act(
        json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/data/axtary-state2/x"]}}),
    ));
    assert_eq!(v.effect, Effect::Allow);
}

#[test]
fn builtins_without_a_configured_home_still_cover_dot_axtary() {
    let p = Policy::load(
        "version: 1\nrules:\n  - id: all\n    effect: allow\n",
        &PolicyEnv::default(),
    )
    .unwrap()
    .policy;
    let v = p.evaluate(&act(
        json!({"connector": "fs", "facts": {"abs_paths": ["/root/.axtary/secrets/x"]}}),
    ));
    assert_eq!(v.rule, "builtin:self-protect-home");
    let v = p.evaluate(&act(
        json!({"connector": "fs", "facts": {"op": "read", "abs_paths": ["/srv/axtary-home/x"]}}),
    ));
    assert_eq!(v.effect, Effect::Allow);
}

// ---- operators and matching ------------------------------------------------------------------

/// Whether a single allow rule (`rule` is its YAML after `effect: allow`) matches `action`.
fn matches(rule: &str, action: Json) -> bool {
    let src = format!("version: 1\nrules:\n  - id: r\n    effect: allow\n    {rule}\n");
    let p = load(&src);
    let v = p.evaluate(&act(action));
    match v.effect {
        Effect::Allow => true,
        Effect::Deny if v.rule == DEFAULT_DENY => false,
        _ => panic!("unexpected verdict {v:?} for {src}"),
    }
}

#[test]
fn every_fact_operator() {
    // (condition on facts, facts of the action, expected)
    let cases: &[(&str, Json, bool)] = &[
        ("channel: '#eng'", json!({"channel": "#eng"}), true),
        ("channel: '#eng'", json!({"channel": "#general"}), false),
        ("channel: '#eng'", json!({}), false),
        ("channel: {eq: '#eng'}", json!({"channel": "#eng"}), true),
        (
            "channel: {ne: '#general'}",
            json!({"channel": "#eng"}),
            true,
        ),
        (
            "channel: {ne: '#general'}",
            json!({"channel": "#general"}),
            false,
        ),
        ("channel: {ne: '#general'}", json!({}), false),
        ("draft: {ne: true}", json!({"draft": false}), true),
        (
            "unbounded_write: true",
            json!({"unbounded_write": true}),
            true,
        ),
        (
            "unbounded_write: true",
            json!({"unbounded_write": false}),
            false,
        ),
        ("text_length: 5", json!({"text_length": 5}), true),
        (
            "channel: {in: ['#a', '#b']}",
            json!({"channel": "#b"}),
            true,
        ),
        (
            "channel: {in: ['#a', '#b']}",
            json!({"channel": "#c"}),
            false,
        ),
        ("channel: {in: '#a'}", json!({"channel": "#a"}), true),
        ("channel: {not_in: ['#a']}", json!({"channel": "#c"}), true),
        ("channel: {not_in: ['#a']}", json!({"channel": "#a"}), false),
        ("channel: {not_in: ['#a']}", json!({}), false),
        ("priority: {in: [1, 2]}", json!({"priority": 2}), true),
        ("priority: {in: [1, 2]}", json!({"priority": 3}), false),
        ("priority: {not_in: [1]}", json!({"priority": 3}), true),
        (
            "base: {glob: 'release/*'}",
            json!({"base": "release/1.0"}),
            true,
        ),
        (
            "base: {glob: 'release/*'}",
            json!({"base": "release/1/x"}),
            false,
        ),
        (
            "base: {glob: 'release/**'}",
            json!({"base": "release/1/x"}),
            true,
        ),
        (
            "paths: {glob: 'src/*.rs'}",
            json!({"paths": ["README", "src/x.rs"]}),
            true,
        ),
        (
            "paths: {glob: 'src/*.rs'}",
            json!({"paths": ["src/a/x.rs"]}),
            false,
        ),
        (
            "channel: {regex: '^#eng-'}",
            json!({"channel": "#eng-bots"}),
            true,
        ),
        (
            "channel: {regex: '^#eng-'}",
            json!({"channel": "#general"}),
            false,
        ),
        (
            "tables: {regex: ['^pg_', secret]}",
            json!({"tables": ["users", "top_secret"]}),
            true,
        ),
        (
            "tables: {regex: ['^pg_', secret]}",
            json!({"tables": ["users"]}),
            false,
        ),
        (
            "statement_kinds: {any_in: [ddl, delete]}",
            json!({"statement_kinds": ["select", "delete"]}),
            true,
        ),
        (
            "statement_kinds: {any_in: [ddl, delete]}",
            json!({"statement_kinds": ["select"]}),
            false,
        ),
        (
            "statement_kinds: {all_in: [select]}",
            json!({"statement_kinds": ["select"]}),
            true,
        ),
        (
            "statement_kinds: {all_in: [select]}",
            json!({"statement_kinds": ["select", "insert"]}),
            false,
        ),
        (
            "statement_kinds: {all_in: [select]}",
            json!({"statement_kinds": []}),
            false,
        ),
        (
            "statement_kinds: {none_in: [ddl]}",
            json!({"statement_kinds": ["select"]}),
            true,
        ),
        (
            "statement_kinds: {none_in: [ddl]}",
            json!({"statement_kinds": []}),
            true,
        ),
        (
            "statement_kinds: {none_in: [ddl]}",
            json!({"statement_kinds": ["ddl"]}),
            false,
        ),
        ("statement_kinds: {none_in: [ddl]}", json!({}), false),
        (
            "mentions: {contains: '@here'}",
            json!({"mentions": ["@x", "@here"]}),
            true,
        ),
        (
            "mentions: {contains: '@here'}",
            json!({"mentions": ["@x"]}),
            false,
        ),
        ("text_length: {gt: 10}", json!({"text_length": 11}), true),
        ("text_length: {gt: 10}", json!({"text_length": 10}), false),
        ("text_length: {gte: 10}", json!({"text_length": 10}), true),
        ("text_length: {lt: 10}", json!({"text_length": 9}), true),
        ("text_length: {lt: 10}", json!({"text_length": 10}), false),
        ("text_length: {lte: 10}", json!({"text_length": 10}), true),
        ("text_length: {lte: 10}", json!({"text_length": 11}), false),
        (
            "text_length: {gte: 1, lte: 100}",
            json!({"text_length": 50}),
            true,
        ),
        (
            "text_length: {gte: 1, lte: 100}",
            json!({"text_length": 101}),
            false,
        ),
        (
            "text_length: {gte: 1, lte: 100}",
            json!({"text_length": 0}),
            false,
        ),
        ("channel: {present: true}", json!({"channel": ""}), true),
        ("channel: {present: true}", json!({}), false),
        ("channel: {present: false}", json!({}), true),
        ("channel: {present: false}", json!({"channel": "#x"}), false),
        ("mentions: {empty: true}", json!({"mentions": []}), true),
        (
            "mentions: {empty: true}",
            json!({"mentions": ["@x"]}),
            false,
        ),
        ("mentions: {empty: true}", json!({}), false),
        ("channel: {empty: false}", json!({"channel": "#x"}), true),
        ("channel: {empty: false}", json!({"channel": ""}), false),
        // A fact of an unexpected type (a normalizer bug) fails every operator but `present`.
        ("channel: {eq: '#x'}", json!({"channel": 3}), false),
        ("channel: {ne: '#x'}", json!({"channel": 3}), false),
        ("channel: {present: true}", json!({"channel": 3}), true),
    ];
    for (cond, facts, want) in cases {
        let rule = format!("when: {{fact: {{{cond}}}}}");
        assert_eq!(
            matches(&rule, json!({"facts": facts})),
            *want,
            "{cond} on {facts}"
        );
    }
}

#[test]
fn combinators_and_secrets() {
    let cases: &[(&str, Json, bool)] = &[
        (
            "{any: [{fact: {channel: '#a'}}, {fact: {channel: '#b'}}]}",
            json!({"channel": "#b"}),
            true,
        ),
        (
            "{any: [{fact: {channel: '#a'}}, {fact: {channel: '#b'}}]}",
            json!({"channel": "#c"}),
            false,
        ),
        (
            "{all: [{fact: {channel: '#a'}}, {fact: {text_length: {lt: 5}}}]}",
            json!({"channel": "#a", "text_length": 3}),
            true,
        ),
        (
            "{all: [{fact: {channel: '#a'}}, {fact: {text_length: {lt: 5}}}]}",
            json!({"channel": "#a", "text_length": 9}),
            false,
        ),
        (
            "{not: {fact: {channel: '#a'}}}",
            json!({"channel": "#b"}),
            true,
        ),
        (
            "{not: {fact: {channel: '#a'}}}",
            json!({"channel": "#a"}),
            false,
        ),
        // `not` flips an absent fact's false into true: write `present: true` alongside.
        ("{not: {fact: {channel: '#a'}}}", json!({}), true),
        (
            "{fact: {channel: {present: true}}, not: {fact: {channel: '#a'}}}",
            json!({}),
            false,
        ),
        ("{no_secrets: true}", json!({"secrets": []}), true),
        (
            "{no_secrets: true}",
            json!({"secrets": ["aws_access_key"]}),
            false,
        ),
        ("{no_secrets: true}", json!({}), false),
        (
            "{no_secrets: false}",
            json!({"secrets": ["aws_access_key"]}),
            true,
        ),
        ("{no_secrets: false}", json!({}), false),
    ];
    for (when, facts, want) in cases {
        assert_eq!(
            matches(&format!("when: {when}"), json!({"facts": facts})),
            *want,
            "{when} on {facts}"
        );
    }
}

#[test]
fn path_conditions() {
    let cases: &[(&str, Json, bool)] = &[
        ("any_path: ['**/.env']", json!({"paths": [".env"]}), true),
        (
            "any_path: ['**/.env']",
            json!({"paths": ["src/a", "a/b/.env"]}),
            true,
        ),
        (
            "any_path: ['**/.env']",
            json!({"abs_paths": ["/p/.env"]}),
            true,
        ),
        (
            "any_path: ['**/.env']",
            json!({"paths": ["env", ".envrc"]}),
            false,
        ),
        ("any_path: ['**/.env']", json!({}), false),
        (
            "any_path: ['infra/prod/**']",
            json!({"paths": ["infra/prod/a/b.tf"]}),
            true,
        ),
        (
            "any_path: ['infra/*']",
            json!({"paths": ["infra/prod/a.tf"]}),
            false,
        ),
        (
            "all_paths: ['src/**', 'docs/*.md']",
            json!({"paths": ["src/a", "src/b/c", "docs/x.md"]}),
            true,
        ),
        (
            "all_paths: ['src/**', 'docs/*.md']",
            json!({"paths": ["src/a", "README"]}),
            false,
        ),
        ("all_paths: ['src/**']", json!({"paths": []}), false),
        ("all_paths: ['src/**']", json!({}), false),
        // `all_paths` reads only `paths`; absolute paths are for `any_path`.
        (
            "all_paths: ['src/**']",
            json!({"paths": ["src/a"], "abs_paths": ["/p/src/a"]}),
            true,
        ),
        (
            "all_paths: ['/p/**']",
            json!({"abs_paths": ["/p/src/a"]}),
            false,
        ),
        (
            "{any_path: ['src/**'], all_paths: ['src/**', 'x/**']}",
            json!({"paths": ["src/a", "x/b"]}),
            true,
        ),
    ];
    for (when, facts, want) in cases {
        let when = if when.starts_with('{') {
            when.to_string()
        } else {
            format!("{{{when}}}")
        };
        assert_eq!(
            matches(&format!("when: {when}"), json!({"facts": facts})),
            *want,
            "{when} on {facts}"
        );
    }
}

#[test]
fn a_glob_shared_by_several_rules_is_matched_once_but_counts_for_each() {
    let p = load(
        r#"version: 1
rules:
  - id: docs-only
    effect: allow
    match: {connector: github}
    when: {all_paths: ["docs/**", "*.md"]}
  - id: touches-docs
    effect: require_approval
    match: {connector: github}
    when: {any_path: ["docs/**"], all_paths: ["docs/**", "src/**"]}
  - id: readme
    effect: deny
    match: {connector: [github, fs]}
    when: {any_path: ["*.md"]}
"#,
    );
    let paths = |p: &[&str]| json!({"facts": {"paths": p}});
    assert_eq!(decide(&p, paths(&["docs/a"])).1, "touches-docs");
    assert_eq!(decide(&p, paths(&["docs/a", "src/b"])).1, "touches-docs");
    assert_eq!(decide(&p, paths(&["docs/a", "README.md"])).1, "readme");
    assert_eq!(decide(&p, paths(&["src/b"])).1, DEFAULT_DENY);
}

#[test]
fn match_fields() {
    let cases: &[(&str, Json, bool)] = &[
        (
            "match: {resource: 'github:acme/*'}",
            json!({"resource": "github:acme/api"}),
            true,
        ),
        (
            "match: {resource: 'github:acme/*'}",
            json!({"resource": "github:acme/x/y"}),
            false,
        ),
        (
            "match: {resource: 'github:acme/*'}",
            json!({"resource": "github:acme2/api"}),
            false,
        ),
        (
            "match: {resource: 'github:acme/**'}",
            json!({"resource": "github:acme/x/y"}),
            true,
        ),
        (
            "match: {resource: ['slack:#a', 'slack:#b']}",
            json!({"resource": "slack:#b"}),
            true,
        ),
        (
            "match: {agent: 'claude-*'}",
            json!({"agent": "claude-code"}),
            true,
        ),
        (
            "match: {agent: 'claude-*'}",
            json!({"agent": "codex"}),
            false,
        ),
        (
            "match: {operation: 'pull_request.*'}",
            json!({"operation": "pull_request.create"}),
            true,
        ),
        (
            "match: {operation: 'pull_request.*'}",
            json!({"operation": "issue.comment"}),
            false,
        ),
        (
            "match: {operation: '*.create'}",
            json!({"operation": "issue.create"}),
            true,
        ),
        (
            "match: {operation: 'pull_*.c*e'}",
            json!({"operation": "pull_request.create"}),
            true,
        ),
        (
            "match: {operation: 'pull_*.c*e'}",
            json!({"operation": "pull_request.merge"}),
            false,
        ),
        (
            "match: {operation: 'a*a'}",
            json!({"operation": "a"}),
            false,
        ),
        (
            "match: {operation: 'a*a'}",
            json!({"operation": "aa"}),
            true,
        ),
        (
            "match: {operation: '*'}",
            json!({"operation": "anything"}),
            true,
        ),
        (
            "match: {connector: 'mcp:*'}",
            json!({"connector": "mcp:notion"}),
            true,
        ),
        (
            "match: {connector: 'mcp:*'}",
            json!({"connector": "github"}),
            false,
        ),
        (
            "match: {connector: '*'}",
            json!({"connector": "slack"}),
            true,
        ),
        (
            "match: {connector: [github, 'mcp:*']}",
            json!({"connector": "github"}),
            true,
        ),
        (
            "match: {connector: [github, 'mcp:*']}",
            json!({"connector": "mcp:x"}),
            true,
        ),
        (
            "match: {connector: [github, 'mcp:*']}",
            json!({"connector": "slack"}),
            false,
        ),
        (
            "match: {connector: 'mcp:notion'}",
            json!({"connector": "mcp:notion"}),
            true,
        ),
        (
            "match: {connector: 'mcp:notion'}",
            json!({"connector": "mcp:jira"}),
            false,
        ),
    ];
    for (rule, a, want) in cases {
        assert_eq!(matches(rule, a.clone()), *want, "{rule} on {a}");
    }
}

#[test]
fn absent_facts_fail_safe_for_deny_rules_is_documented_behaviour() {
    // A deny rule on a fact the action lacks does not fire; the action then falls to the
    // allow rules (or default deny). Rules that must catch "unknown" write `present: false`.
    let p = load(
        r#"version: 1
rules:
  - id: allow-sql
    effect: allow
    match: {connector: postgres}
  - id: deny-ddl
    effect: deny
    match: {connector: postgres}
    when: {fact: {statement_kinds: {any_in: [ddl]}}}
  - id: deny-unknown
    effect: deny
    match: {connector: postgres}
    when: {fact: {statement_kinds: {present: false}}}
"#,
    );
    let base = json!({"connector": "postgres", "operation": "query", "resource": "postgres:db"});
    assert_eq!(decide(&p, base.clone()).1, "deny-unknown");
    let mut with = base;
    with["facts"] = json!({"statement_kinds": ["select"]});
    assert_eq!(decide(&p, with).1, "allow-sql");
}

// ---- explain -------------------------------------------------------------------------------

#[test]
fn explain_says_why_each_rule_held_or_failed() {
    let p = load(REFERENCE);
    let e = p.explain(&act(json!({
        "connector": "slack", "operation": "chat.post", "resource": "slack:#general",
        "facts": {"channel": "#general", "secrets": [], "mentions": []}
    })));
    assert_eq!(e.verdict.rule, DEFAULT_DENY);
    let by_id = |id: &str| e.rules.iter().find(|r| r.rule == id).unwrap();
    assert_eq!(
        e.rules
            .iter()
            .map(|r| r.rule.as_str())
            .take(4)
            .collect::<Vec<_>>(),
        [
            "builtin:self-protect-home",
            "builtin:self-protect-hooks",
            "builtin:self-protect-admin",
            "no-secret-files"
        ]
    );
    assert!(e.rules.iter().all(|r| !r.matched));
    assert_eq!(
        by_id("no-secret-files").reasons,
        [
            "connector `slack` not in [fs, shell]",
            "there are no paths, so none matches [**/.env, **/.env.*, **/*.pem, **/id_rsa*]"
        ]
    );
    assert_eq!(
        by_id("bots-channel-only").reasons,
        [
            "connector `slack` is in [slack]",
            "operation `chat.post` matches [chat.post]",
            "fact `channel` = `#general` not in [#eng-bots]",
            "no secrets detected"
        ]
    );
    assert_eq!(
        by_id("no-mass-mentions").reasons,
        [
            "connector `slack` is in [slack]",
            "fact `mentions` = [] has no element in [@channel, @everyone, @here]"
        ]
    );
    assert_eq!(
        by_id("builtin:self-protect-home").reasons,
        ["no path is in Axtary's home `/home/u/.axtary` or [**/.axtary, **/.axtary/**]"]
    );

    let e = p.explain(&act(
        json!({"facts": {"paths": ["src/a.rs", "infra/prod/x.tf"]}}),
    ));
    assert_eq!(e.verdict.rule, "prod-infra-needs-two-sre");
    let t = e
        .rules
        .iter()
        .find(|r| r.rule == "prod-infra-needs-two-sre")
        .unwrap();
    assert!(t.matched);
    assert_eq!(
        t.reasons,
        [
            "connector `github` is in [github]",
            "operation `pull_request.create` matches [pull_request.*]",
            "path `infra/prod/x.tf` matches [infra/prod/**]"
        ]
    );
    let e = p.explain(&act(
        json!({"connector": "shell", "operation": "exec", "resource": "shell:/p",
        "facts": {"programs": ["git"], "opaque": false, "network": false, "git_push": true}}),
    ));
    let t = e.rules.iter().find(|r| r.rule == "safe-shell").unwrap();
    assert_eq!(
        t.reasons,
        [
            "connector `shell` is in [shell]",
            "fact `programs` = [git] has every element in [cargo, cat, git, grep, ls, rg]",
            "fact `opaque` = false equals false",
            "fact `network` = false equals false",
            "not: the inner condition held, so `not` fails (fact `git_push` = true equals true)"
        ]
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["verdict"]["effect"], "deny");
    assert_eq!(json["rules"][0]["builtin"], true);
}

#[test]
fn explain_agrees_with_evaluate() {
    let p = load(REFERENCE);
    for a in sample_actions() {
        let action = act(a.clone());
        let e = p.explain(&action);
        assert_eq!(e.verdict, p.evaluate(&action));
        // Recompute the decision from the traces alone.
        let matched: Vec<&RuleTrace> = e.rules.iter().filter(|r| r.matched).collect();
        let from_traces = matched
            .iter()
            .find(|r| r.builtin)
            .or_else(|| matched.iter().find(|r| r.effect == Effect::Deny))
            .or_else(|| matched.iter().find(|r| r.effect == Effect::RequireApproval))
            .or_else(|| matched.iter().find(|r| r.effect == Effect::Allow))
            .map_or(DEFAULT_DENY, |r| r.rule.as_str());
        assert_eq!(from_traces, e.verdict.rule, "{a}");
    }
}

// ---- policy tests ------------------------------------------------------------------------------

#[test]
fn run_tests_reports_passes_failures_and_bad_requests() {
    let src = r##"version: 1
rules:
  - id: prs
    effect: allow
    match: {connector: github, operation: pull_request.create, resource: "github:acme/*"}
tests:
  - name: passes
    action: {connector: github, operation: pull_request.create, resource: "github:acme/api"}
    expect: {effect: allow, rule: prs}
  - name: wrong expectation
    action: {connector: github, operation: pull_request.create, resource: "github:other/api"}
    expect: {effect: allow}
  - name: through the normalizer
    request: {agent: a, connector: github, operation: pull_request.create,
              input: {repo: acme/api, base: main, head: x, title: T, files: [{path: a.md, content: hi}]}}
    expect: {effect: allow, rule: prs}
  - name: bad request is invalid input
    request: {connector: github, operation: pull_request.explode, input: {}}
    expect: {effect: deny, rule: builtin:invalid-input}
  - name: wrong rule
    request: {connector: github, operation: pull_request.explode, input: {}}
    expect: {effect: deny, rule: builtin:default-deny}
"##;
    let p = load(src);
    assert_eq!(p.tests().len(), 5);
    let r = p.run_tests();
    let summary: Vec<(&str, bool, Effect, &str)> = r
        .results
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.passed,
                t.actual.effect,
                t.actual.rule.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("passes", true, Effect::Allow, "prs"),
            ("wrong expectation", false, Effect::Deny, DEFAULT_DENY),
            ("through the normalizer", true, Effect::Allow, "prs"),
            (
                "bad request is invalid input",
                true,
                Effect::Deny,
                INVALID_INPUT
            ),
            ("wrong rule", false, Effect::Deny, INVALID_INPUT),
        ]
    );
    assert_eq!((r.passed, r.failed), (3, 2));
    assert!(!r.all_passed());
    let err = r.results[3].error.as_deref().unwrap();
    assert!(
        err.contains("unknown operation `pull_request.explode`"),
        "{err}"
    );
    assert_eq!(r.results[1].line, 10);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["results"][1]["expected"], json!({"effect": "allow"}));
    assert_eq!(
        json["results"][1]["actual"],
        json!({"effect": "deny", "rule": DEFAULT_DENY})
    );
}

#[test]
fn test_shapes_are_checked_at_load() {
    let base =
        "version: 1\nrules:\n  - id: a\n    effect: allow\n    match: {connector: fs}\ntests:\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "  - name: t\n    expect: {effect: allow}\n",
            &["7:5 error: test is missing `request` or `action`"],
        ),
        (
            "  - name: t\n    request: {connector: fs, operation: read, input: {}}\n    action: {connector: fs, operation: read, resource: x}\n    expect: {effect: allow}\n",
            &["9:5 error: a test has either `request` or `action`, not both"],
        ),
        (
            "  - name: t\n    request: {connector: fs, operation: read, input: {}, extra: 1}\n    expect: {effect: allow}\n",
            &["8:58 error: unknown field `extra` in a test `request`"],
        ),
        (
            "  - name: t\n    request: {connector: fs, operation: read, input: []}\n    expect: {effect: allow}\n",
            &["8:14 error: invalid test request: `input` must be an object, got an array"],
        ),
        (
            "  - name: t\n    action: {connector: fs, operation: read, resource: x, facts: {nope: 1}}\n    expect: {effect: allow}\n",
            &["8:67 error: unknown fact `nope`"],
        ),
        (
            "  - name: t\n    action: {connector: fs, operation: read}\n    expect: {effect: alow}\n",
            &[
                "8:13 error: test action is missing `resource`",
                "9:22 error: unknown effect `alow`",
            ],
        ),
        (
            "  - name: t\n    action: {connector: fs, operation: read, resource: x, payload: {a: 1, a: 2}}\n    expect: {effect: allow}\n",
            &["8:75 error: duplicate key `a` in a mapping"],
        ),
    ];
    for (tests, expected) in cases {
        let src = format!("{base}{tests}");
        assert_eq!(diags(&src), *expected, "for:\n{src}");
    }
}

#[test]
fn policy_hash_is_sha256_of_the_source_bytes() {
    let p = load(REFERENCE);
    assert_eq!(
        p.hash(),
        crate::action::ActionHash::of_bytes(REFERENCE.as_bytes())
    );
    assert!(p.hash().to_string().starts_with("sha256:"));
}

// ---- robustness ----------------------------------------------------------------------------------

#[test]
fn random_mutations_never_panic_load() {
    let seed = REFERENCE.as_bytes();
    let actions: Vec<Action> = sample_actions().into_iter().map(act).collect();
    const NOISE: &[u8] = b":-[]{}*&!|>'\"#\n  ,?%@`\t0aZ";
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut loaded = 0;
    for case in 0..5000 {
        let mut bytes = seed.to_vec();
        for _ in 0..=rng.below(4) {
            let len = bytes.len().max(1);
            match rng.below(5) {
                0 => {
                    let i = rng.below(len);
                    if let Some(b) = bytes.get_mut(i) {
                        *b = (rng.next() & 0x7f) as u8;
                    }
                }
                1 => {
                    let i = rng.below(len);
                    bytes.insert(i, NOISE[rng.below(NOISE.len())]);
                }
                2 => {
                    let i = rng.below(len);
                    if i < bytes.len() {
                        bytes.remove(i);
                    }
                }
                3 => bytes.truncate(rng.below(len)),
                _ => {
                    // Duplicate a random line somewhere else.
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let lines: Vec<&str> = text.lines().collect();
                    if !lines.is_empty() {
                        let l = lines[rng.below(lines.len())].to_owned();
                        let at = rng.below(lines.len());
                        let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                        out.insert(at, l);
                        bytes = out.join("\n").into_bytes();
                    }
                }
            }
        }
        let src = String::from_utf8_lossy(&bytes);
        match Policy::load(&src, &env()) {
            Ok(l) => {
                loaded += 1;
                if case % 10 == 0 {
                    for a in &actions {
                        let _ = l.policy.evaluate(a);
                        let _ = l.policy.explain(a);
                    }
                    let _ = l.policy.run_tests();
                }
            }
            Err(diags) => {
                assert!(diags.iter().any(Diagnostic::is_error), "{src}");
                for d in &diags {
                    let _ = d.render("p.yaml", &src);
                }
            }
        }
    }
    // The mutations must leave a fair share loadable, or the test exercises only the parser.
    assert!(loaded > 200, "only {loaded} mutants loaded");
}

// ---- documentation stays in sync ------------------------------------------------------------

const DOC: &str = include_str!("../../../../docs/policy.md");

#[test]
fn docs_worked_example_loads_passes_and_decides_as_documented() {
    let start = DOC.find("```yaml\n").unwrap() + "```yaml\n".len();
    let example = &DOC[start..start + DOC[start..].find("```").unwrap()];
    let loaded = Policy::load(example, &env()).unwrap();
    assert_eq!(loaded.warnings, vec![]);
    let report = loaded.policy.run_tests();
    assert!(report.all_passed(), "{report:#?}");
    let p = loaded.policy;
    let slack = |channel: &str, mentions: &[&str]| {
        json!({"connector": "slack", "operation": "chat.post", "resource": format!("slack:{channel}"),
               "facts": {"channel": channel, "mentions": mentions, "secrets": []}})
    };
    // The table under "What this policy decides".
    let rows: Vec<(Json, Effect, &str)> = vec![
        (
            json!({"facts": {"paths": ["src/lib.rs"]}}),
            Effect::Allow,
            "prs-to-our-repos",
        ),
        (
            json!({"facts": {"paths": ["src/lib.rs", "infra/prod/db.tf"]}}),
            Effect::RequireApproval,
            "prod-infra-needs-two-sre",
        ),
        (
            json!({"resource": "github:acme/api/forks", "facts": {"paths": ["src/lib.rs"]}}),
            Effect::Deny,
            DEFAULT_DENY,
        ),
        (slack("#eng-bots", &[]), Effect::Allow, "bots-channel-only"),
        (
            slack("#eng-bots", &["@here"]),
            Effect::Deny,
            "no-mass-mentions",
        ),
        (slack("#general", &[]), Effect::Deny, DEFAULT_DENY),
        (
            json!({"connector": "fs", "operation": "read", "resource": "fs:/home/me/proj/.env",
                "facts": {"op": "read", "paths": [".env"], "abs_paths": ["/home/me/proj/.env"]}}),
            Effect::Deny,
            "no-secret-files",
        ),
        (
            json!({"connector": "fs", "operation": "read", "resource": "fs:/home/u/.axtary/policy.yaml",
                "facts": {"op": "read", "paths": ["/home/u/.axtary/policy.yaml"], "abs_paths": ["/home/u/.axtary/policy.yaml"]}}),
            Effect::Deny,
            "builtin:self-protect-home",
        ),
    ];
    for (a, effect, rule) in rows {
        assert_eq!(decide(&p, a.clone()), (effect, rule.to_owned()), "{a}");
    }
}

#[test]
fn docs_list_every_operator_and_builtin() {
    for op in super::compile::OPERATORS {
        assert!(
            DOC.contains(&format!("`{op}")),
            "docs/policy.md misses operator `{op}`"
        );
    }
    for id in super::builtin::IDS {
        assert!(DOC.contains(id), "docs/policy.md misses {id}");
    }
}

#[test]
fn may_allow_is_false_only_when_no_payload_could_be_allowed() {
    let p = load(
        r#"version: 1
rules:
  - id: calc-tools
    effect: allow
    match: {connector: "mcp:calc", operation: [add, "get_*"], agent: [claude-code]}
  - id: refunds-ask
    effect: require_approval
    match: {connector: "mcp:calc", operation: refund}
  - id: no-drop
    effect: deny
    match: {connector: "mcp:calc", operation: [drop_table, add]}
    when: {fact: {tool: drop_table}}
  - id: never-admin
    effect: deny
    match: {connector: "mcp:*", operation: "get_admin*"}
"#,
    );
    let may = |op: &str, agent: &str| {
        p.may_allow(&act(json!({"connector": "mcp:calc", "operation": op,
                                "resource": "mcp:calc", "agent": agent})))
    };
    assert!(may("add", "claude-code"));
    assert!(!may("add", "other-agent"), "no rule matches another agent");
    assert!(may("refund", "anyone"), "an approval can allow it");
    assert!(!may("drop_table", "claude-code"), "nothing allows it");
    assert!(may("get_issue", "claude-code"));
    assert!(
        !may("get_admin_token", "claude-code"),
        "an unconditional deny"
    );
    assert!(!may("delete", "claude-code"), "default deny");
}

// ---- the policy cache --------------------------------------------------------------------------

#[test]
fn the_cache_is_used_only_for_its_own_intact_source() {
    let (first, cache) = Policy::load_cached(REFERENCE, &env(), None);
    assert!(first.is_ok());
    let cache = cache.expect("a policy that loads is cached");
    let whole = load(REFERENCE);

    // Its own source: used, and it decides as the whole policy does.
    let (hit, fresh) = Policy::load_cached(REFERENCE, &env(), Some(&cache));
    assert_eq!(fresh, None);
    let hit = hit.unwrap().policy;
    assert!(hit.tests().is_empty() && !whole.tests().is_empty());
    for a in sample_actions() {
        let action = act(a.clone());
        assert_eq!(hit.evaluate(&action), whole.evaluate(&action), "{a}");
        assert_eq!(hit.may_allow(&action), whole.may_allow(&action), "{a}");
        assert_eq!(hit.explain(&action), whole.explain(&action), "{a}");
    }

    // Another source (one byte changed): ignored, and the new source is cached instead.
    let edited = REFERENCE.replacen("count: 2", "count: 3", 1);
    let (other, fresh) = Policy::load_cached(&edited, &env(), Some(&cache));
    assert_eq!(
        other.unwrap().policy.hash(),
        ActionHash::of_bytes(edited.as_bytes())
    );
    assert!(fresh.is_some_and(|f| f != cache));

    // Any single flipped bit, and any truncation: refused...
    let hash = ActionHash::of_bytes(REFERENCE.as_bytes());
    assert!(super::cache::open(&cache, &hash).is_some());
    for i in 0..cache.len() {
        let mut bad = cache.clone();
        bad[i] ^= 1 << (i % 8);
        assert!(super::cache::open(&bad, &hash).is_none(), "flip at {i}");
        assert!(
            super::cache::open(&cache[..i], &hash).is_none(),
            "cut at {i}"
        );
    }
    // ...and then the source loads whole.
    let mut bad = cache.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let (loaded, fresh) = Policy::load_cached(REFERENCE, &env(), Some(&bad));
    assert!(loaded.unwrap().policy.tests().len() == whole.tests().len());
    assert_eq!(fresh.as_ref(), Some(&cache));
}

#[test]
fn a_policy_with_errors_is_never_cached() {
    let bad = "version: 1\nrules:\n  - id: a\n    effect: allow\n    when: {fact: {channel: {regex: \"(x\"}}}\n";
    let (loaded, fresh) = Policy::load_cached(bad, &env(), None);
    assert!(loaded.is_err());
    assert_eq!(fresh, None);
}

#[test]
fn a_set_that_cannot_be_built_on_first_use_denies_everything() {
    // Only a cache written by hand can hold such a tree (the loader never caches a policy with
    // errors): the regex is compiled on first use, fails, and the matcher fails closed.
    let src = "version: 1\nrules:\n  - id: eng\n    effect: allow\n    match: {connector: slack}\n    when: {fact: {channel: {regex: \"(x\"}}}\n  - id: everything\n    effect: allow\n";
    let hash = ActionHash::of_bytes(src.as_bytes());
    let forged = super::cache::seal(&super::yaml::parse(src).unwrap(), &hash);
    let (loaded, fresh) = Policy::load_cached(src, &env(), Some(&forged));
    assert_eq!(fresh, None, "the forged cache was used");
    let p = loaded.unwrap().policy;
    let github = act(json!({}));
    assert_eq!(
        p.evaluate(&github).rule,
        "everything",
        "no regex needed yet"
    );
    let slack =
        act(json!({"connector": "slack", "operation": "chat.post", "facts": {"channel": "#x"}}));
    let v = p.evaluate(&slack);
    assert_eq!(
        (v.effect, v.rule.as_str()),
        (Effect::Deny, crate::decision::INVALID_POLICY)
    );
    // From then on, every action is denied.
    assert_eq!(p.evaluate(&github).effect, Effect::Deny);
    assert!(!p.may_allow(&github));
}
