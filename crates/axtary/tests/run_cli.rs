//! `axtary run`: the whole pipeline in one process, against a local HTTP upstream. Each test
//! attacks one DESIGN.md §2 invariant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::upstream::Upstream;
use common::{Home, code, json, stderr, stdout};

const CANARY: &str = "canary-8f3b2c-SECRET-do-not-leak-6a1e";

/// An initialized home whose `http` connector points at `upstream` with a canary credential.
fn home_with(upstream: &Upstream, extra: &str) -> Home {
    common::upstream::home_with(upstream, CANARY, "        timeout_secs: 1\n", extra)
}

fn get(path: &str) -> String {
    format!(
        r#"{{"agent":"tester","connector":"http","operation":"request","input":{{"upstream":"internal-api","method":"GET","path":"{path}"}}}}"#
    )
}

fn assert_no_canary(home: &Home, outputs: &[&std::process::Output]) {
    for o in outputs {
        assert!(!stdout(o).contains(CANARY), "stdout leaks: {}", stdout(o));
        assert!(!stderr(o).contains(CANARY), "stderr leaks: {}", stderr(o));
    }
    assert!(!home.ledger_jsonl().contains(CANARY));
}

#[test]
fn an_allowed_action_runs_with_the_brokered_credential_and_is_recorded() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    let out = home.run(&["run"], &get("/v1/customers/7"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["status"], "executed");
    assert_eq!(r["decision"]["effect"], "allow");
    assert_eq!(r["result"]["http_status"], 200);

    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/v1/customers/7");
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {CANARY}"));
    // The provider echoed the credential back; the agent sees it scrubbed.
    assert!(stdout(&out).contains("[REDACTED"), "{}", stdout(&out));
    assert_no_canary(&home, &[&out]);

    // The forwarded pass is the one recorded, already spent: it cannot be replayed.
    let token = seen[0].headers["axtary-pass"].clone();
    let inspect = home.run(&["pass", "inspect", &token, "--format", "json"], "");
    let claims = &json(&inspect)["claims"];
    assert_eq!(claims["jti"], r["pass"]["jti"]);
    assert_eq!(claims["dec"], r["decision"]["ledger_seq"]);
    let action = home.0.with_file_name("action.json");
    std::fs::write(&action, get("/v1/customers/7")).unwrap();
    let replay = home.run(
        &[
            "pass",
            "verify",
            &token,
            "--action",
            action.to_str().unwrap(),
        ],
        "",
    );
    assert_ne!(code(&replay), 0, "a spent pass must not verify again");
    assert_eq!(code(&replay), 2, "{}", stderr(&replay));
    assert!(
        stderr(&replay).contains("already used"),
        "{}",
        stderr(&replay)
    );

    // decision and pass_issued were written together, before the effect; the outcome after.
    let ledger = home.ledger_jsonl();
    let kinds: Vec<String> = ledger
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .filter(|k| k != "checkpoint")
        .collect();
    assert_eq!(kinds, ["decision", "pass_issued", "executed"], "{ledger}");
    let verify = home.run(&["ledger", "verify"], "");
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn denied_and_invalid_actions_never_reach_the_provider() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    let post = r#"{"agent":"tester","connector":"http","operation":"request","input":{"upstream":"internal-api","method":"POST","path":"/v1/customers","body":{"name":"x"}}}"#;
    let out = home.run(&["run"], post);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "denied");

    let out = home.run(
        &["run"],
        r#"{"connector":"http","operation":"request","input":{"a":1,"a":2}}"#,
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "denied");
    assert_eq!(json(&out)["decision"]["rule"], "builtin:invalid-input");

    let out = home.run_bytes(&["run"], b"{\"connector\":\"\xff\"}");
    assert_eq!(code(&out), 3);
    assert!(upstream.requests().is_empty());
}

#[test]
fn a_corrupt_policy_denies_everything() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    std::fs::write(
        home.path("policy.yaml"),
        "version: 1\nrules: [{id: x, effect: alow}]\n",
    )
    .unwrap();
    let out = home.run(&["run"], &get("/v1/customers/7"));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(json(&out)["decision"]["rule"], "builtin:invalid-policy");
    assert!(upstream.requests().is_empty());
}

#[test]
fn an_unwritable_ledger_means_nothing_executes() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    // Create the ledger, then make every append fail the way a full disk would (root ignores
    // file modes, so a trigger plays the failing storage).
    assert_eq!(code(&home.run(&["run"], &get("/v1/first"))), 0);
    let db = rusqlite::Connection::open(home.path("ledger.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER full BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
    )
    .unwrap();
    let out = home.run(&["run"], &get("/v1/second"));
    assert_ne!(code(&out), 0);
    assert_eq!(json(&out)["status"], "denied");
    assert_eq!(json(&out)["decision"]["rule"], "builtin:ledger-unavailable");
    let paths: Vec<String> = upstream.requests().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        ["/v1/first"],
        "the second action ran without being recorded"
    );
}

#[test]
fn a_connector_timeout_is_recorded_as_failed() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    let out = home.run(&["run"], &get("/slow/v1/customers/7"));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["status"], "failed");
    assert_eq!(r["provider_reached"], true);
    let ledger = home.ledger_jsonl();
    let last = ledger
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .rfind(|e| e["kind"] != "checkpoint")
        .unwrap();
    assert_eq!(last["kind"], "failed", "{ledger}");
    assert_eq!(last["body"]["effect_unknown"], true);
    assert_no_canary(&home, &[&out]);
}

#[test]
fn dry_run_records_what_would_be_sent_and_sends_nothing() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    let out = home.run(&["run", "--dry-run"], &get("/v1/customers/7"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "dry_run");
    assert!(upstream.requests().is_empty());
    assert!(stdout(&out).contains("/v1/customers/7"));
    let ledger = home.ledger_jsonl();
    assert!(ledger.contains("would_send"), "{ledger}");
    assert_no_canary(&home, &[&out]);
}

#[test]
fn an_approved_action_runs_once_resubmitted_identically() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    let delete = r#"{"agent":"tester","connector":"http","operation":"request","input":{"upstream":"internal-api","method":"DELETE","path":"/v1/customers/7"}}"#;
    let out = home.run(&["run"], delete);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["status"], "pending_approval");
    let id = r["approval_id"].as_str().unwrap().to_owned();
    let hash = r["decision"]["action_hash"].as_str().unwrap().to_owned();
    assert!(upstream.requests().is_empty());

    home.approve(&id, &hash);

    // A different payload is a new request, not covered by the approval.
    let other = delete.replace("/v1/customers/7", "/v1/customers/8");
    assert_eq!(code(&home.run(&["run"], &other)), 4);
    let out = home.run(&["run"], delete);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "executed");
    assert_eq!(json(&out)["decision"]["approvals"][0], id.as_str());
    let ledger = home.ledger_jsonl();
    let approved = ledger
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["kind"] == "decision" && e["body"]["effect"] == "allow")
        .unwrap();
    assert_eq!(approved["body"]["approvals"][0], id.as_str(), "{ledger}");
    // Used once: the same action again needs a new approval.
    assert_eq!(code(&home.run(&["run"], delete)), 4);
    assert_eq!(upstream.requests().len(), 1);
}

#[test]
fn an_unconfigured_connector_fails_with_a_hint() {
    let home = Home::initialized();
    let out = home.run(&["run"], &get("/v1/customers/7"));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "failed");
    assert!(
        stderr(&out).contains("hint: add it under `connectors:`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_crash_between_pass_and_outcome_is_recorded_as_outcome_unknown() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, "");
    let mut config = std::fs::read_to_string(home.path("config.yaml")).unwrap();
    config.push_str("passes:\n  lifetime_seconds: 1\n");
    std::fs::write(home.path("config.yaml"), config).unwrap();
    let mut child = home
        .command(&["run"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(get("/slow/crash").as_bytes()).unwrap();
    }
    // Kill it while the upstream holds the request: the effect may have happened.
    let start = std::time::Instant::now();
    while upstream.requests().is_empty() {
        assert!(start.elapsed().as_secs() < 20, "the request never arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Once the pass has expired, the next process records what became of it.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(code(&home.run(&["run"], &get("/v1/after"))), 0);
    let entries: Vec<serde_json::Value> = home
        .ledger_jsonl()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let issued = entries.iter().find(|e| e["kind"] == "pass_issued").unwrap();
    let unknown = entries
        .iter()
        .find(|e| e["kind"] == "outcome_unknown")
        .expect("no outcome_unknown entry");
    assert_eq!(unknown["body"]["jti"], issued["body"]["jti"]);
    assert!(home.run(&["ledger", "verify"], "").status.success());
}
