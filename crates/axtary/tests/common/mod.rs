//! The harness shared by the binary's end-to-end tests: a throwaway `AXTARY_HOME` and the real
//! `axtary` binary driven through stdin, stdout, stderr and exit codes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod daemon;
pub mod http;
pub mod python;
pub mod upstream;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh `AXTARY_HOME` (`<tmp>/axtary-<suite>-<pid>-<n>/home`); the whole directory is removed
/// on drop. `HOME` is its parent, so `~/` never reaches the real home.
pub struct Home(pub PathBuf);

impl Home {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "axtary-{}-{}-{}",
            env!("CARGO_CRATE_NAME"),
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Home(dir.join("home"))
    }

    pub fn initialized() -> Self {
        let home = Self::new();
        let out = home.run(&["init"], "");
        assert!(out.status.success(), "init failed: {}", stderr(&out));
        home
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_axtary"));
        c.args(args)
            .env("AXTARY_HOME", &self.0)
            .env("HOME", self.0.parent().unwrap())
            .env_remove("NO_COLOR");
        c
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.run_bytes(args, stdin.as_bytes())
    }

    pub fn run_bytes(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        // The child may stop reading early (size limit); a broken pipe here is expected.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Approves approval `id` (of the action hashed `hash`) as `alice`, as a human would.
    pub fn approve(&self, id: &str, hash: &str) {
        let out = self.run(
            &[
                "approvals",
                "approve",
                id,
                "--as",
                "alice",
                "--confirm-hash",
                hash,
            ],
            "",
        );
        assert!(out.status.success(), "approve failed: {}", stderr(&out));
    }

    /// The whole ledger, decoded, one JSON entry per line (`ledger export --format jsonl`).
    pub fn ledger_jsonl(&self) -> String {
        let file = self.0.with_file_name("export.jsonl");
        let out = self.run(
            &[
                "ledger",
                "export",
                "--format",
                "jsonl",
                "--out",
                file.to_str().unwrap(),
            ],
            "",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read_to_string(file).unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}
