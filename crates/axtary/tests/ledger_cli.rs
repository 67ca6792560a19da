#![allow(clippy::unwrap_used, clippy::expect_used)]

//! End-to-end tests of `axtary ledger`, `axtary keys` and `axtary pass`: the real binary, a
//! temporary `AXTARY_HOME`, and a real `ledger.db` that the tests tamper with through SQLite.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axtary_core::ledger::{Entry, GENESIS_PREV, entry_bytes};
use axtary_core::merkle::leaf_hash;
use axtary_core::normalize::{NormalizeOptions, normalize};
use axtary_core::{ActionHash, ActionRequest};
use axtary_node::passes::{Grant, mint_for};
use serde_json::{Value, json};

use common::{Home, code, json, stderr, stdout};

/// What these tests add to the shared harness.
trait LedgerHome {
    fn with_decisions(n: usize) -> Home;
    fn decide(&self, text: &str);
    fn scratch(&self, name: &str) -> PathBuf;
    fn db(&self) -> rusqlite::Connection;
    fn public_key(&self) -> String;
}

impl LedgerHome for Home {
    /// An initialized home with `n` recorded decisions.
    fn with_decisions(n: usize) -> Home {
        let home = Home::initialized();
        for i in 0..n {
            home.decide(&format!("message {i}"));
        }
        home
    }

    fn decide(&self, text: &str) {
        let req = json!({"agent": "claude-code", "connector": "slack", "operation": "chat.post",
                         "input": {"channel": "#eng-bots", "text": text}});
        let out = self.run(&["decide"], &req.to_string());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }

    /// A scratch file beside the home (survives deleting the home).
    fn scratch(&self, name: &str) -> PathBuf {
        self.0.parent().unwrap().join(name)
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("ledger.db")).unwrap()
    }

    fn public_key(&self) -> String {
        let out = self.run(&["keys", "show", "--format", "json"], "");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        json(&out)["public_key"].as_str().unwrap().to_owned()
    }
}

fn failure(home: &Home, args: &[&str]) -> (String, Value) {
    let out = home.run(args, "");
    assert_eq!(
        code(&out),
        1,
        "expected a verification failure: {}",
        stdout(&out)
    );
    let line = stderr(&out)
        .lines()
        .find(|l| l.starts_with("FAILED"))
        .unwrap_or_else(|| panic!("no FAILED line: {}", stderr(&out)))
        .to_owned();
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let out = home.run(&json_args, "");
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["ok"], false);
    (line, v["failure"].clone())
}

/// Rewrites every entry's body with `edit`, keeping hashes and links consistent: a rewrite by
/// someone who can write the database, which only checkpoints can expose.
fn rewrite_consistently(home: &Home, edit: impl Fn(u64, &mut Value)) {
    let db = home.db();
    let rows: Vec<(i64, Vec<u8>)> = db
        .prepare("SELECT seq, bytes FROM entries ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = GENESIS_PREV;
    for (seq, bytes) in rows {
        let entry = Entry::decode(&bytes).unwrap();
        let mut body = entry.body.clone();
        edit(entry.seq, &mut body);
        let bytes = entry_bytes(entry.seq, entry.ts, entry.kind, &body, &prev);
        prev = leaf_hash(&bytes);
        db.execute(
            "UPDATE entries SET bytes = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![bytes, prev.to_vec(), seq],
        )
        .unwrap();
    }
}

fn newest_checkpoint_size(home: &Home) -> i64 {
    home.db()
        .query_row("SELECT MAX(size) FROM checkpoints", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn verify_reports_counts_and_root() {
    let home = Home::with_decisions(3);
    let out = home.run(&["ledger", "checkpoint"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = home.run(&["ledger", "verify"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.starts_with("ok: 3 entries, ") && line.contains("newest checkpoint covers 3, root "),
        "{line}"
    );
    let out = home.run(&["ledger", "verify", "--deep", "--format", "json"], "");
    let v = json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["result"]["entries"], 3);
    assert_eq!(v["result"]["checkpointed"], 3);
    assert_eq!(v["result"]["root"].as_str().unwrap().len(), 64);
    // A home without a ledger is an error, not a pass.
    let empty = Home::new();
    let out = empty.run(&["ledger", "verify"], "");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no ledger"), "{}", stderr(&out));
}

#[test]
fn an_edited_entry_is_a_bad_hash() {
    let home = Home::with_decisions(5);
    home.db()
        .execute(
            "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), 'message 2', 'message X') AS BLOB) WHERE seq = 3",
            [],
        )
        .unwrap();
    let (line, f) = failure(&home, &["ledger", "verify"]);
    assert!(line.starts_with("FAILED at entry 3: bad hash ("), "{line}");
    assert_eq!(
        (f["kind"].as_str(), f["seq"].as_u64()),
        (Some("bad_hash"), Some(3))
    );
    // `show` points at it too.
    let out = home.run(&["ledger", "show", "3"], "");
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("DOES NOT match the stored hash"));
}

#[test]
fn an_edited_and_rehashed_entry_breaks_the_chain() {
    let home = Home::with_decisions(5);
    let db = home.db();
    db.execute(
        "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), 'message 2', 'message X') AS BLOB) WHERE seq = 3",
        [],
    )
    .unwrap();
    let bytes: Vec<u8> = db
        .query_row("SELECT bytes FROM entries WHERE seq = 3", [], |r| r.get(0))
        .unwrap();
    db.execute(
        "UPDATE entries SET hash = ?1 WHERE seq = 3",
        [leaf_hash(&bytes).to_vec()],
    )
    .unwrap();
    let (line, f) = failure(&home, &["ledger", "verify"]);
    assert!(
        line.starts_with("FAILED at entry 4: broken chain (its `prev` is not the hash of entry 3"),
        "{line}"
    );
    assert_eq!(f["kind"], "broken_chain");
    assert_eq!(f["seq"], 4);
    let out = home.run(&["ledger", "show", "4", "--format", "json"], "");
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["prev_matches"], false);
}

#[test]
fn removed_entries_are_truncation() {
    let home = Home::with_decisions(5);
    assert_eq!(code(&home.run(&["ledger", "checkpoint"], "")), 0);
    home.db()
        .execute("DELETE FROM entries WHERE seq > 3", [])
        .unwrap();
    let (line, f) = failure(&home, &["ledger", "verify"]);
    assert!(
        line.starts_with(
            "FAILED at entry 4: truncated (the checkpoint covers 5 entries, but only 3 are present"
        ),
        "{line}"
    );
    assert_eq!(f["kind"], "truncated");
}

#[test]
fn swapped_entries_are_reordered() {
    let home = Home::with_decisions(5);
    let db = home.db();
    db.execute_batch(
        "UPDATE entries SET seq = -2 WHERE seq = 2;
         UPDATE entries SET seq = 2 WHERE seq = 3;
         UPDATE entries SET seq = 3 WHERE seq = -2;",
    )
    .unwrap();
    let (line, f) = failure(&home, &["ledger", "verify"]);
    assert!(
        line.starts_with("FAILED at entry 2: reordered (expected sequence number 2, found 3"),
        "{line}"
    );
    assert_eq!(f["kind"], "reordered");
}

#[test]
fn a_forged_checkpoint_signature_is_found() {
    let home = Home::with_decisions(4);
    assert_eq!(code(&home.run(&["ledger", "checkpoint"], "")), 0);
    let db = home.db();
    let note: String = db
        .query_row("SELECT note FROM checkpoints WHERE size = 4", [], |r| {
            r.get(0)
        })
        .unwrap();
    // Flip one character of the signature (the last base64 group before the padding).
    let sig_start = note.rfind(' ').unwrap() + 10;
    let mut forged = note.clone().into_bytes();
    forged[sig_start] = if forged[sig_start] == b'A' {
        b'B'
    } else {
        b'A'
    };
    db.execute(
        "UPDATE checkpoints SET note = ?1 WHERE size = 4",
        [String::from_utf8(forged).unwrap()],
    )
    .unwrap();
    let (line, f) = failure(&home, &["ledger", "verify"]);
    assert!(
        line.starts_with("FAILED at checkpoint 4: bad signature ("),
        "{line}"
    );
    assert_eq!(f["kind"], "bad_signature");
    assert_eq!(f["checkpoint"], 4);
}

#[test]
fn a_consistent_rewrite_contradicts_the_checkpoints() {
    let home = Home::with_decisions(3);
    assert_eq!(code(&home.run(&["ledger", "checkpoint"], "")), 0);
    home.decide("after the checkpoint");
    home.decide("and one more");
    assert_eq!(code(&home.run(&["ledger", "checkpoint"], "")), 0);
    let sizes: Vec<i64> = home
        .db()
        .prepare("SELECT size FROM checkpoints ORDER BY size")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sizes.last(), Some(&5));
    let below = sizes.iter().filter(|s| **s < 5).max().copied().unwrap();
    // Rewrite only entries above the older checkpoint: the chain stays intact, the newest
    // checkpoint no longer matches, and the report narrows the rewrite down.
    rewrite_consistently(&home, |seq, body| {
        if seq as i64 > below {
            body["reason"] = json!("forged");
        }
    });
    let (line, f) = failure(&home, &["ledger", "verify"]);
    assert!(
        line.starts_with(&format!(
            "FAILED at checkpoint 5: inconsistent checkpoint (the checkpoint was signed over different entries: the log was rewritten after it was signed, somewhere in entries {}..=5",
            below + 1
        )),
        "{line}"
    );
    assert_eq!(f["kind"], "inconsistent_checkpoint");
    // A ledger that does not verify is never signed again.
    let out = home.run(&["ledger", "checkpoint"], "");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no checkpoint was signed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bundles_verify_with_nothing_else() {
    let home = Home::with_decisions(4);
    let key = home.public_key();
    let bundle = home.scratch("b.json");
    let out = home.run(&["ledger", "export", "--out", bundle.to_str().unwrap()], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("exported 4 entries"),
        "{}",
        stdout(&out)
    );
    // The export signed a checkpoint covering everything.
    assert_eq!(newest_checkpoint_size(&home), 4);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(v["format"], "axtary-ledger-bundle");
    assert_eq!(v["version"], 1);
    assert_eq!(v["keys"][0]["public_key"], key.as_str());
    assert!(
        v["keys"][0]["vkey"]
            .as_str()
            .unwrap()
            .starts_with(v["origin"].as_str().unwrap())
    );
    // Entries are the exact stored bytes.
    let stored: Vec<u8> = home
        .db()
        .query_row("SELECT bytes FROM entries WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        v["entries"][1].as_str().unwrap().as_bytes(),
        stored.as_slice()
    );

    // Another machine: no home at all.
    std::fs::remove_dir_all(&home.0).unwrap();
    let b = bundle.to_str().unwrap();
    let out = home.run(&["ledger", "verify", "--bundle", b], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ok: 4 entries, "),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("warning: no key pinned"),
        "{}",
        stderr(&out)
    );
    let out = home.run(
        &["ledger", "verify", "--bundle", b, "--key", &key, "--deep"],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let vkey = v["keys"][0]["vkey"].as_str().unwrap();
    let out = home.run(&["ledger", "verify", "--bundle", b, "--vkey", vkey], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Pinning another key: the checkpoints are not by it.
    let other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let (line, _) = failure(&home, &["ledger", "verify", "--bundle", b, "--key", other]);
    assert!(line.contains("bad signature"), "{line}");
    // Bad flags are invalid input.
    assert_eq!(
        code(&home.run(&["ledger", "verify", "--bundle", b, "--key", "xyz"], "")),
        3
    );
}

#[test]
fn hand_edited_bundles_fail_at_the_first_bad_entry() {
    let home = Home::with_decisions(5);
    let key = home.public_key();
    let bundle = home.scratch("b.json");
    let out = home.run(&["ledger", "export", "--out", bundle.to_str().unwrap()], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let edited = home.scratch("edited.json");
    let e = edited.to_str().unwrap();
    let check = |edit: &dyn Fn(&mut Value)| {
        let mut v = original.clone();
        edit(&mut v);
        std::fs::write(&edited, serde_json::to_string(&v).unwrap()).unwrap();
        failure(&home, &["ledger", "verify", "--bundle", e, "--key", &key])
    };
    let entry = |v: &Value, i: usize| v["entries"][i].as_str().unwrap().to_owned();

    let (line, f) = check(&|v| {
        v["entries"][1] = entry(v, 1).replace("message 1", "message 9").into();
    });
    assert!(
        line.starts_with("FAILED at entry 3: broken chain"),
        "{line}"
    );
    assert_eq!(f["seq"], 3);

    let (line, _) = check(&|v| {
        v["entries"][4] = entry(v, 4).replace("message 4", "message 9").into();
    });
    assert!(
        line.starts_with("FAILED at checkpoint 5: inconsistent checkpoint"),
        "{line}"
    );

    let (line, _) = check(&|v| {
        v["entries"].as_array_mut().unwrap().remove(2);
    });
    assert!(
        line.starts_with("FAILED at entry 3: reordered (expected sequence number 3, found 4"),
        "{line}"
    );

    let (line, _) = check(&|v| {
        v["entries"].as_array_mut().unwrap().truncate(3);
    });
    assert!(line.starts_with("FAILED at entry 4: truncated"), "{line}");

    let (line, _) = check(&|v| {
        v["entries"][2] = "{\"not\":\"an entry\"}".into();
    });
    assert!(line.starts_with("FAILED at entry 3: malformed"), "{line}");

    let (line, f) = check(&|v| {
        v["format"] = "something-else".into();
    });
    assert!(line.starts_with("FAILED: not a bundle"), "{line}");
    assert_eq!(f["kind"], "not_a_bundle");

    let (line, _) = check(&|v| {
        // Claim a bigger tree than was signed.
        let cps = v["checkpoints"].as_array_mut().unwrap();
        let mut lines: Vec<String> = cps[0]
            .as_str()
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines[1] = (lines[1].parse::<u64>().unwrap() + 1).to_string();
        cps[0] = format!("{}\n", lines.join("\n")).into();
    });
    assert!(line.contains("bad signature"), "{line}");
}

#[test]
fn a_saved_checkpoint_exposes_a_rewritten_ledger() {
    let home = Home::with_decisions(4);
    let key = home.public_key();
    let cp = home.scratch("cp.txt");
    let out = home.run(&["ledger", "checkpoint", "--out", cp.to_str().unwrap()], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("checkpoint at size 4 saved"),
        "{}",
        stdout(&out)
    );
    assert!(std::fs::read_to_string(&cp).unwrap().contains("\n4\n"));
    let c = cp.to_str().unwrap();
    home.decide("later");
    let out = home.run(&["ledger", "verify", "--checkpoint", c], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("extends the saved checkpoint at 4"),
        "{}",
        stdout(&out)
    );

    // Someone holding the node key replaces the ledger with a different history and signs it:
    // on its own it verifies, against the saved checkpoint it does not.
    std::fs::remove_file(home.path("ledger.db")).unwrap();
    let _ = std::fs::remove_file(home.path("ledger.db-wal"));
    let _ = std::fs::remove_file(home.path("ledger.db-shm"));
    assert_eq!(code(&home.run(&["init"], "")), 0);
    for i in 0..6 {
        home.decide(&format!("rewritten {i}"));
    }
    assert_eq!(code(&home.run(&["ledger", "checkpoint"], "")), 0);
    assert_eq!(code(&home.run(&["ledger", "verify"], "")), 0);
    let (line, f) = failure(&home, &["ledger", "verify", "--checkpoint", c]);
    assert!(
        line.starts_with(
            "FAILED at checkpoint 4: inconsistent checkpoint (the checkpoint saved in"
        ),
        "{line}"
    );
    assert_eq!(f["kind"], "inconsistent_checkpoint");
    let bundle = home.scratch("b.json");
    assert_eq!(
        code(&home.run(&["ledger", "export", "--out", bundle.to_str().unwrap()], "")),
        0
    );
    let (line, _) = failure(
        &home,
        &[
            "ledger",
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--checkpoint",
            c,
            "--key",
            &key,
        ],
    );
    assert!(line.contains("inconsistent checkpoint"), "{line}");

    // A shorter replacement is truncation.
    let short = Home::initialized();
    std::fs::copy(home.path("node.key"), short.path("node.key")).unwrap();
    std::fs::copy(home.path("config.yaml"), short.path("config.yaml")).unwrap();
    std::fs::remove_file(short.path("ledger.db")).unwrap();
    assert_eq!(code(&short.run(&["init"], "")), 0);
    short.decide("only one");
    let (line, _) = failure(&short, &["ledger", "verify", "--checkpoint", c]);
    assert!(line.starts_with("FAILED at entry 2: truncated"), "{line}");

    // A file that is not a checkpoint is invalid input.
    let junk = home.scratch("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    assert_eq!(
        code(&home.run(
            &["ledger", "verify", "--checkpoint", junk.to_str().unwrap()],
            ""
        )),
        3
    );
}

#[test]
fn checkpoint_prints_the_note_and_refuses_an_empty_ledger() {
    let home = Home::initialized();
    let out = home.run(&["ledger", "checkpoint"], "");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
    home.decide("x");
    let out = home.run(&["ledger", "checkpoint"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let note = stdout(&out);
    let lines: Vec<&str> = note.lines().collect();
    assert!(
        lines[0].starts_with("axtary/node-") && lines[0].ends_with("/v1"),
        "{note}"
    );
    assert_eq!(lines[1], "1");
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("\u{2014} axtary/node-"), "{note}");
}

#[test]
fn analyst_exports_stream_decoded_entries_without_secrets() {
    let home = Home::initialized();
    home.decide("plain");
    // An agent name made to break a CSV and to run as a spreadsheet formula.
    let req = json!({"agent": "=HYPERLINK(\"x\"),evil", "connector": "slack", "operation": "chat.post",
                     "input": {"channel": "#eng-bots", "text": "hi"}});
    home.run(&["decide"], &req.to_string());
    // A payload carrying a secret: the ledger keeps only its hash.
    let secret = "AKIAIOSFODNN7EXAMPLE";
    let req = json!({"agent": "claude-code", "connector": "slack", "operation": "chat.post",
                     "input": {"channel": "#eng-bots", "text": format!("key {secret}")}});
    home.run(&["decide"], &req.to_string());

    let jsonl = home.scratch("l.jsonl");
    let out = home.run(
        &[
            "ledger",
            "export",
            "--out",
            jsonl.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["kind"], "decision");
    assert_eq!(lines[0]["body"]["payload"]["text"], "plain");
    assert_eq!(lines[0]["hash"].as_str().unwrap().len(), 64);

    let csv = home.scratch("l.csv");
    let out = home.run(
        &[
            "ledger",
            "export",
            "--out",
            csv.to_str().unwrap(),
            "--format",
            "csv",
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "seq,ts,kind,hash,agent,connector,operation,resource,effect,rule,action_hash"
    );
    assert_eq!(rows.len(), 4);
    assert!(rows[1].starts_with("1,20"), "{}", rows[1]);
    assert!(
        rows[1].contains(
            ",claude-code,slack,chat.post,slack:#eng-bots,allow,slack-bots-channel,sha256:"
        ),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains(",\"'=HYPERLINK(\"\"x\"\"),evil\",slack,"),
        "{}",
        rows[2]
    );

    let bundle = home.scratch("b.json");
    assert_eq!(
        code(&home.run(&["ledger", "export", "--out", bundle.to_str().unwrap()], "")),
        0
    );
    for file in [&jsonl, &csv, &bundle] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(secret),
            "{} leaks the secret",
            file.display()
        );
    }
    assert!(!std::fs::read_to_string(&bundle).unwrap().contains("seed"));
}

#[test]
fn a_tampered_ledger_is_exported_as_stored_but_not_signed() {
    let home = Home::with_decisions(3);
    home.db()
        .execute("UPDATE entries SET hash = zeroblob(32) WHERE seq = 2", [])
        .unwrap();
    let before: i64 = home
        .db()
        .query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0))
        .unwrap();
    let bundle = home.scratch("b.json");
    let out = home.run(&["ledger", "export", "--out", bundle.to_str().unwrap()], "");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("FAILED at entry 2: bad hash"),
        "{}",
        stderr(&out)
    );
    assert!(bundle.exists());
    let after: i64 = home
        .db()
        .query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(before, after, "no checkpoint over a tampered ledger");
}

#[test]
fn inclusion_proofs_verify_offline() {
    let home = Home::with_decisions(5);
    let key = home.public_key();
    let proof = home.scratch("p.json");
    let out = home.run(
        &["ledger", "prove", "2", "--out", proof.to_str().unwrap()],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A checkpoint covering entry 2 exists now; the proof uses its size.
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(r["format"], "axtary-inclusion-proof");
    assert_eq!(r["version"], 1);
    assert_eq!(r["seq"], 2);
    assert_eq!(r["tree_size"], newest_checkpoint_size(&home));
    assert!(
        r["checkpoint"]
            .as_str()
            .unwrap()
            .contains(&format!("\n{}\n", r["tree_size"]))
    );
    let stored: Vec<u8> = home
        .db()
        .query_row("SELECT bytes FROM entries WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(r["entry"].as_str().unwrap().as_bytes(), stored.as_slice());
    assert_eq!(
        r["proof"].as_array().unwrap().len(),
        3,
        "size 5, leaf 1: 3 siblings"
    );

    // Offline, without the home.
    let gone = Home::new();
    let p = proof.to_str().unwrap();
    let out = gone.run(&["ledger", "verify-proof", p, "--key", &key], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ok: entry 2 (decision, "),
        "{}",
        stdout(&out)
    );
    assert!(!stderr(&out).contains("warning"));
    let out = gone.run(&["ledger", "verify-proof", p, "--format", "json"], "");
    assert_eq!(code(&out), 0);
    assert_eq!(json(&out)["result"]["seq"], 2);
    assert!(stderr(&out).contains("no key pinned"));

    let other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let out = gone.run(&["ledger", "verify-proof", p, "--key", other], "");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("FAILED: checkpoint"),
        "{}",
        stderr(&out)
    );

    let edited = gone.scratch("edited.json");
    for (field, value) in [
        (
            "entry",
            json!(
                r["entry"]
                    .as_str()
                    .unwrap()
                    .replace("message 1", "message 7")
            ),
        ),
        ("seq", json!(3)),
        ("proof", json!(r["proof"].as_array().unwrap()[..2])),
    ] {
        let mut bad = r.clone();
        bad[field] = value;
        std::fs::write(&edited, bad.to_string()).unwrap();
        let out = gone.run(
            &[
                "ledger",
                "verify-proof",
                edited.to_str().unwrap(),
                "--key",
                &key,
            ],
            "",
        );
        assert_eq!(code(&out), 1, "{field}: {}", stdout(&out));
        assert!(
            stderr(&out).starts_with("FAILED: "),
            "{field}: {}",
            stderr(&out)
        );
    }

    // An entry past the newest checkpoint gets a fresh one.
    home.decide("new");
    let out = home.run(&["ledger", "prove", "6"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["tree_size"], 6);
    assert_eq!(code(&home.run(&["ledger", "prove", "0"], "")), 3);
    assert_eq!(code(&home.run(&["ledger", "prove", "99"], "")), 3);
}

#[test]
fn tail_prints_the_newest_entries() {
    let home = Home::with_decisions(4);
    let out = home.run(&["ledger", "tail", "-n", "2"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(fields[0], "3");
    assert!(fields[1].ends_with('Z'));
    assert_eq!(
        &fields[2..],
        [
            "decision",
            "allow",
            "slack-bots-channel",
            "claude-code",
            "slack",
            "chat.post",
            "slack:#eng-bots"
        ]
    );
    let out = home.run(&["ledger", "tail", "--format", "json"], "");
    let entries: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[3]["seq"], 4);
    assert_eq!(entries[3]["body"]["payload"]["text"], "message 3");
}

#[test]
fn tail_follows_and_ends_quietly_on_a_closed_pipe() {
    let home = Home::with_decisions(1);
    let mut child = home
        .command(&["ledger", "tail", "-f", "-n", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("1 "));
    home.decide("followed");
    let second = lines.next().unwrap().unwrap();
    assert!(
        second.starts_with("2 ") && second.contains(" decision allow "),
        "{second}"
    );
    // Close the pipe; the next entry's write fails and tail exits 0 without a message.
    drop(lines);
    home.decide("nobody reads this");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "tail -f did not exit on a closed pipe"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(err, "");
}

#[test]
fn show_decodes_one_entry() {
    let home = Home::with_decisions(2);
    let out = home.run(&["ledger", "show", "2"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("entry 2 (decision)\n"), "{text}");
    assert!(text.contains("(matches the stored hash)"), "{text}");
    assert!(text.contains("(the hash of entry 1)"), "{text}");
    assert!(text.contains("\"text\": \"message 1\""), "{text}");
    let out = home.run(&["ledger", "show", "1", "--format", "json"], "");
    let v = json(&out);
    assert_eq!(v["hash_matches"], true);
    assert_eq!(v["prev_matches"], true);
    assert_eq!(v["prev"], "0".repeat(64));
    assert_eq!(v["hash"], v["stored_hash"]);
    assert_eq!(code(&home.run(&["ledger", "show", "3"], "")), 3);
}

#[test]
fn key_rotation_keeps_the_ledger_verifiable() {
    let home = Home::with_decisions(3);
    let old = home.public_key();
    let out = home.run(&["keys", "rotate", "--format", "json"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rotated = json(&out);
    let new = home.public_key();
    assert_ne!(old, new);
    assert_eq!(rotated["new_public_key"], new.as_str());
    let shown = json(&home.run(&["keys", "show", "--format", "json"], ""));
    assert_eq!(shown["previous_keys"][0]["public_key"], old.as_str());
    assert!(
        shown["vkey"]
            .as_str()
            .unwrap()
            .starts_with(shown["origin"].as_str().unwrap())
    );

    // The rotation is an entry, covered by a checkpoint signed with the new key.
    let seq = rotated["ledger_seq"].as_u64().unwrap();
    assert_eq!(seq, 4);
    let entry = json(&home.run(&["ledger", "show", "4", "--format", "json"], ""));
    assert_eq!(entry["kind"], "key_rotated");
    assert_eq!(
        entry["body"],
        json!({"old_kid": rotated["old_kid"], "new_kid": rotated["new_kid"], "new_public_key": new})
    );
    assert_eq!(newest_checkpoint_size(&home), 4);
    let out = home.run(&["ledger", "verify"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    home.decide("after rotation");
    assert_eq!(code(&home.run(&["ledger", "checkpoint"], "")), 0);
    assert_eq!(code(&home.run(&["ledger", "verify", "--deep"], "")), 0);

    // A bundle verifies with both keys pinned; with only the new one, the old checkpoints fail.
    let bundle = home.scratch("b.json");
    assert_eq!(
        code(&home.run(&["ledger", "export", "--out", bundle.to_str().unwrap()], "")),
        0
    );
    let b = bundle.to_str().unwrap();
    let out = home.run(
        &[
            "ledger", "verify", "--bundle", b, "--key", &old, "--key", &new,
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (line, _) = failure(&home, &["ledger", "verify", "--bundle", b, "--key", &new]);
    assert!(line.contains("bad signature"), "{line}");
}

const ACTION: &str = r##"{"agent":"claude-code","connector":"slack","operation":"chat.post","input":{"channel":"#eng-bots","text":"deployed"}}"##;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn mint(home: &Home, action_json: &str, now: i64) -> String {
    let key = axtary_node::keys::load_node_key(&home.path("node.key")).unwrap();
    let req = ActionRequest::from_slice(action_json.as_bytes(), Default::default()).unwrap();
    let action = normalize(&req, &NormalizeOptions::default()).unwrap();
    mint_for(
        &key,
        &action,
        &Grant::new(1, ActionHash::of_bytes(b"policy"), now),
    )
    .unwrap()
    .0
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn pass_inspect_is_labelled_unverified() {
    let home = Home::initialized();
    let token = mint(&home, ACTION, now());
    let out = home.run(&["pass", "inspect", &token], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("UNVERIFIED pass\n"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("NOT checked"));
    let v = json(&home.run(&["pass", "inspect", &token, "--format", "json"], ""));
    assert_eq!(v["verified"], false);
    assert_eq!(v["header"]["typ"], "axtary-pass+jwt");
    assert_eq!(v["claims"]["aud"], "slack");
    assert_eq!(code(&home.run(&["pass", "inspect", "not-a-pass"], "")), 3);
}

#[test]
fn pass_verify_checks_everything_and_is_single_use() {
    let home = Home::initialized();
    let action = write(&home.scratch("action.json"), ACTION);
    let t = now();
    let token = mint(&home, ACTION, t);

    // Another payload: the action hash differs. The failed check does not use the pass up.
    let changed = write(
        &home.scratch("changed.json"),
        &ACTION.replace("deployed", "deployed to prod"),
    );
    let out = home.run(&["pass", "verify", &token, "--action", &changed], "");
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("invalid: pass authorizes action"),
        "{}",
        stderr(&out)
    );

    // Another connector: the audience differs.
    let github = write(
        &home.scratch("github.json"),
        r#"{"agent":"claude-code","connector":"github","operation":"issue.comment","input":{"repo":"acme/api","number":1,"body":"x"}}"#,
    );
    let out = home.run(&["pass", "verify", &token, "--action", &github], "");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not `github`"), "{}", stderr(&out));

    // Expired.
    let late = (t + 3600).to_string();
    let out = home.run(
        &[
            "pass", "verify", &token, "--action", &action, "--now", &late,
        ],
        "",
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));

    // Valid once, then a replay, also from another process.
    let out = home.run(
        &[
            "pass", "verify", &token, "--action", &action, "--format", "json",
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["claims"]["sub"], "claude-code");
    let out = home.run(&["pass", "verify", &token, "--action", &action], "");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("already used"), "{}", stderr(&out));
    let used: i64 = home
        .db()
        .query_row("SELECT COUNT(*) FROM used_jti", [], |r| r.get(0))
        .unwrap();
    assert_eq!(used, 1);

    // A pass signed by another key, and `alg` confusion: HS256 with the public key as secret.
    let other = Home::initialized();
    let foreign = mint(&other, ACTION, t);
    let out = home.run(&["pass", "verify", &foreign, "--action", &action], "");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown key"), "{}", stderr(&out));
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let fresh = mint(&home, ACTION, t);
    let (_, rest) = fresh.split_once('.').unwrap();
    let (claims, _) = rest.split_once('.').unwrap();
    let kid = json(&home.run(&["keys", "show", "--format", "json"], ""))["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = b64.encode(format!(
        r#"{{"alg":"HS256","kid":"{kid}","typ":"axtary-pass+jwt"}}"#
    ));
    let forged = format!("{header}.{claims}.{}", b64.encode([0u8; 32]));
    let out = home.run(&["pass", "verify", &forged, "--action", &action], "");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`alg` must be `EdDSA`"),
        "{}",
        stderr(&out)
    );

    // An action file that is not an action is invalid input.
    let junk = write(&home.scratch("junk.json"), "{\"connector\":");
    assert_eq!(
        code(&home.run(&["pass", "verify", &fresh, "--action", &junk], "")),
        3
    );
}
