//! Crash safety: a real child process appending a burst is killed with SIGKILL at random
//! points, many times. Afterwards the ledger must verify, every entry the child saw
//! acknowledged must be there, and every pass issued without an outcome must get an
//! `outcome_unknown` entry on recovery.
//!
//! The child is this same test binary, re-run with `AXTARY_CRASH_CHILD` set to the ledger path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axtary_core::checkpoint::origin;
use axtary_core::ledger::{Entry, EntryKind};
use axtary_core::pass::NodeKey;
use axtary_node::ledger::{Ledger, LedgerOptions, Reader};
use serde_json::json;

const SEED: [u8; 32] = [11; 32];

fn key() -> NodeKey {
    NodeKey::from_seed(&SEED)
}

/// The child: appends from 8 threads, each pass_issued followed (mostly) by executed, printing
/// every acknowledged sequence number as soon as `append` returns.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os("AXTARY_CRASH_CHILD") else {
        return;
    };
    let round: u32 = std::env::var("AXTARY_CRASH_ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let options = LedgerOptions {
        checkpoint_every: 50,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(&PathBuf::from(path), &origin("crash"), key(), options).unwrap();
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for t in 0..8 {
            let (ledger, out) = (&ledger, &out);
            s.spawn(move || {
                let round = round;
                for i in 0.. {
                    let jti = format!("{round:08x}{t:08x}{i:016x}");
                    let a = ledger
                        .append(EntryKind::PassIssued, json!({"jti": jti, "exp": 0}))
                        .unwrap();
                    writeln!(out.lock().unwrap(), "{}", a.seq).unwrap();
                    if i % 3 != 0 {
                        let b = ledger
                            .append(EntryKind::Executed, json!({"jti": jti, "status": 200}))
                            .unwrap();
                        writeln!(out.lock().unwrap(), "{}", b.seq).unwrap();
                    }
                }
            });
        }
    });
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_mid_burst_loses_nothing_acknowledged() {
    let dir = std::env::temp_dir().join(format!("axtary-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.db");
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let rounds = 25;
    let mut acknowledged: Vec<u64> = Vec::new();
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("AXTARY_CRASH_CHILD", &path)
            .env("AXTARY_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(seq) = line.trim().parse::<u64>() {
                    if acked.is_empty() {
                        let _ = first_tx.send(());
                    }
                    acked.push(seq);
                }
            }
            acked
        });
        // Once the burst is under way, kill the child at a random point of it.
        first_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the child started appending");
        let wait = Duration::from_millis(5 + xorshift(&mut rng) % 120);
        let start = Instant::now();
        while start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        assert!(
            !acked.is_empty(),
            "the child acknowledged nothing in round {round}"
        );
        acknowledged.extend(acked);

        let reader = Reader::open(&path).unwrap();
        let verified = reader.verify(&[key().verifying_key()], &[], false).unwrap();
        let verified = verified.unwrap_or_else(|e| {
            panic!("round {round}: the ledger does not verify after SIGKILL: {e}")
        });
        let size = reader.size().unwrap();
        assert_eq!(verified.entries, size);
        for seq in &acknowledged {
            assert!(
                *seq <= size,
                "round {round}: acknowledged entry {seq} is missing (ledger has {size})"
            );
        }
    }

    // Recovery: every pass with no outcome gets exactly one outcome_unknown entry.
    let ledger = Ledger::open(&path, &origin("crash"), key(), LedgerOptions::default()).unwrap();
    let recovered = ledger.recover_outcomes(i64::MAX).unwrap();
    assert!(
        !recovered.is_empty(),
        "some passes should have been left without outcome"
    );
    assert!(
        ledger.recover_outcomes(i64::MAX).unwrap().is_empty(),
        "recovery is idempotent"
    );
    ledger.close().unwrap();
    let reader = Reader::open(&path).unwrap();
    let mut issued = std::collections::BTreeMap::new();
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    reader
        .for_each(1, |e| {
            let entry = Entry::decode(&e.bytes).unwrap();
            let jti = entry.body["jti"].as_str().unwrap_or_default().to_owned();
            match entry.kind {
                EntryKind::PassIssued => {
                    issued.insert(jti, entry.seq);
                }
                EntryKind::Executed | EntryKind::OutcomeUnknown => {
                    *outcomes.entry(jti).or_default() += 1
                }
                _ => {}
            }
            Ok(())
        })
        .unwrap();
    for jti in issued.keys() {
        assert_eq!(
            outcomes.get(jti),
            Some(&1),
            "pass {jti} must have exactly one outcome"
        );
    }
    assert!(
        reader
            .verify(&[key().verifying_key()], &[], true)
            .unwrap()
            .is_ok()
    );
    eprintln!(
        "crash test: {rounds} SIGKILLs, {} acknowledged appends all present, {} passes recovered as outcome_unknown",
        acknowledged.len(),
        recovered.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
