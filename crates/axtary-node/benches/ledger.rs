#![allow(clippy::expect_used, clippy::unwrap_used)]

//! Ledger and ActionPass benchmarks (DESIGN.md §11): durable append throughput and latency
//! under 1, 8 and 64 writer threads, `verify` speed over a 200k-entry ledger, pass mint/verify.
//!
//! `cargo bench -p axtary-node --bench ledger`. The append and verify figures are measured by
//! hand (they need fresh files and many threads) and printed as a block to paste into notes;
//! pass mint/verify and Verifier push go through criterion. About two minutes in all.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axtary_core::checkpoint::origin;
use axtary_core::ledger::{EntryKind, Verifier};
use axtary_core::normalize::{NormalizeOptions, normalize};
use axtary_core::pass::{Expected, JtiStore, NodeKey, mint, verify};
use axtary_core::{Action, ActionHash, ActionRequest};
use axtary_node::ledger::{Ledger, LedgerOptions, Reader};
use axtary_node::passes::{Grant, SqliteJtiStore, mint_for, new_jti};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

const NOW: i64 = 1_790_000_000;
const VERIFY_ENTRIES: usize = 200_000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("axtary-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(dir: &Path) -> Ledger {
    Ledger::open(
        &dir.join("ledger.db"),
        &origin("bench"),
        NodeKey::from_seed(&[1; 32]),
        LedgerOptions::default(),
    )
    .unwrap()
}

/// A decision-sized body (~400 bytes of canonical JSON).
fn body(t: usize, i: usize) -> serde_json::Value {
    json!({
        "surface": "bench", "effect": "allow", "rule": "slack-bots-channel",
        "reason": "agents post to #eng-bots", "agent": "claude-code", "connector": "slack",
        "operation": "chat.post", "resource": "slack:#eng-bots",
        "payload": {"channel": "#eng-bots", "text": format!("thread {t} message {i}")},
        "action_hash": "sha256:1cc26546116897dc770c7452712fdc8841f73d2425bb8ee40707424df0dfa467",
        "policy_hash": "sha256:331af4e816bfb41bf0e46414b55b8457db04651714ea25f413f3c9623b1404e2",
    })
}

struct AppendRun {
    threads: usize,
    total: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// `threads` writers, `per_thread` durable appends each, every latency recorded.
fn appends(threads: usize, per_thread: usize) -> AppendRun {
    let dir = scratch(&format!("append-{threads}"));
    let ledger = Arc::new(open(&dir));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let b = body(t, i);
                        let at = Instant::now();
                        ledger.append(EntryKind::Decision, b).unwrap();
                        at.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    ledger.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    AppendRun {
        threads,
        total: latencies.len(),
        per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

/// Fills a ledger with `n` entries from 64 writers.
fn filled(n: usize) -> PathBuf {
    let dir = scratch("verify");
    let ledger = Arc::new(open(&dir));
    let threads = 64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                for i in 0..n / threads {
                    ledger.append(EntryKind::Decision, body(t, i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    ledger.checkpoint().unwrap();
    ledger.close().unwrap();
    dir
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = None;
    for _ in 0..runs {
        let at = Instant::now();
        let v = f();
        let d = at.elapsed();
        if best.as_ref().is_none_or(|(b, _)| d < *b) {
            best = Some((d, v));
        }
    }
    best.unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The hand-measured figures, printed as one block.
fn report(_: &mut Criterion) {
    let mut lines = vec![
        "ledger benchmark (durable: WAL, synchronous=FULL, group commit)".to_owned(),
        format!(
            "cores: {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
    ];
    for (threads, per_thread) in [(1, 1000), (8, 625), (64, 80)] {
        let r = appends(threads, per_thread);
        lines.push(format!(
            "append, {:>2} writer threads: {:>7.0} entries/s  p50 {}  p99 {}  ({} appends)",
            r.threads,
            r.per_sec,
            ms(r.p50),
            ms(r.p99),
            r.total
        ));
    }

    let fill_start = Instant::now();
    let dir = filled(VERIFY_ENTRIES);
    let fill = fill_start.elapsed();
    lines.push(format!(
        "filled {VERIFY_ENTRIES} entries with 64 writers in {:.1} s ({:.0} entries/s)",
        fill.as_secs_f64(),
        VERIFY_ENTRIES as f64 / fill.as_secs_f64()
    ));
    let path = dir.join("ledger.db");
    let reader = Reader::open(&path).unwrap();
    let keys = [NodeKey::from_seed(&[1; 32]).verifying_key()];
    let (d, verified) = best_of(3, || reader.verify(&keys, &[], false).unwrap().unwrap());
    assert_eq!(verified.entries as usize, VERIFY_ENTRIES);
    lines.push(format!(
        "Reader::verify (SQLite):          {:>9.0} entries/s  ({} for {} entries, {} checkpoints)",
        VERIFY_ENTRIES as f64 / d.as_secs_f64(),
        ms(d),
        VERIFY_ENTRIES,
        verified.checkpoints
    ));
    let (d, _) = best_of(1, || reader.verify(&keys, &[], true).unwrap().unwrap());
    lines.push(format!(
        "Reader::verify --deep (SQLite):   {:>9.0} entries/s",
        VERIFY_ENTRIES as f64 / d.as_secs_f64()
    ));
    let mut bytes = Vec::with_capacity(VERIFY_ENTRIES);
    reader
        .for_each(1, |e| {
            bytes.push(e.bytes);
            Ok(())
        })
        .unwrap();
    let notes = reader.checkpoints().unwrap();
    let total_bytes: usize = bytes.iter().map(Vec::len).sum();
    let (d, _) = best_of(3, || {
        let mut v = Verifier::new(false);
        for b in &bytes {
            v.push(b, None).unwrap();
        }
        v.finish(&origin("bench"), &notes, &[], &keys).unwrap()
    });
    lines.push(format!(
        "Verifier (in memory):             {:>9.0} entries/s  ({:.0} MB/s, mean entry {} bytes)",
        VERIFY_ENTRIES as f64 / d.as_secs_f64(),
        total_bytes as f64 / d.as_secs_f64() / 1e6,
        total_bytes / VERIFY_ENTRIES
    ));
    drop(reader);
    let _ = std::fs::remove_dir_all(&dir);

    // Durable single use: one INSERT (one fsync) per pass.
    let dir = scratch("jti");
    let mut store = SqliteJtiStore::open(&dir.join("ledger.db")).unwrap();
    let n = 300;
    let jtis: Vec<String> = (0..n).map(|_| new_jti().unwrap()).collect();
    let at = Instant::now();
    for j in &jtis {
        assert!(store.claim(j, NOW).unwrap());
    }
    let d = at.elapsed();
    lines.push(format!(
        "SqliteJtiStore::claim (durable):  {:>9.0} passes/s  (mean {})",
        n as f64 / d.as_secs_f64(),
        ms(d / n)
    ));
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n{}\n", lines.join("\n"));
}

fn action() -> Action {
    let req = ActionRequest::from_value(json!({
        "agent": "claude-code", "connector": "slack", "operation": "chat.post",
        "input": {"channel": "#eng-bots", "text": "deployed v1.2.3 to staging"}
    }))
    .unwrap();
    normalize(&req, &NormalizeOptions::default()).unwrap()
}

/// A store that accepts every id, so verification can repeat one token.
struct Fresh;

impl JtiStore for Fresh {
    fn claim(&mut self, _: &str, _: i64) -> Result<bool, String> {
        Ok(true)
    }
}

fn passes(c: &mut Criterion) {
    let key = NodeKey::from_seed(&[2; 32]);
    let action = action();
    let grant = Grant::new(7, ActionHash::of_bytes(b"policy"), NOW);
    let (token, claims) = mint_for(&key, &action, &grant).unwrap();
    let keys = [key.verifying_key()];
    let expected = Expected {
        audience: "slack",
        subject: None,
        action_hash: action.hash(),
        now: NOW + 1,
    };
    let mut g = c.benchmark_group("pass");
    g.throughput(Throughput::Elements(1));
    g.bench_function("mint (sign, claims fixed)", |b| {
        b.iter(|| mint(black_box(&claims), &key).unwrap());
    });
    g.bench_function("mint_for (random jti + sign)", |b| {
        b.iter(|| mint_for(&key, black_box(&action), &grant).unwrap());
    });
    g.bench_function("verify (all checks, no store)", |b| {
        b.iter(|| verify(black_box(&token), keys.as_slice(), &expected, &mut Fresh).unwrap());
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = report, passes
}
criterion_main!(benches);
