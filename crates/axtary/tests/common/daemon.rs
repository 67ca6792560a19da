//! A running `axtary serve` for end-to-end tests: started on a free port, its output drained
//! and kept, requests made with or without the agent token.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Home;
use super::http::{Response, request};

/// A running `axtary serve`. Stopped with SIGKILL on drop unless [`Daemon::stop`] ran.
pub struct Daemon {
    child: Option<Child>,
    pub url: String,
    pub token: String,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

fn drain(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

impl Daemon {
    pub fn start(home: &Home) -> Daemon {
        Self::launch(home, &["serve", "--listen", "127.0.0.1:0"])
    }

    pub fn launch(home: &Home, args: &[&str]) -> Daemon {
        let mut child = home
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let Some(url) = first
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_owned)
        else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            let _ = child.kill();
            panic!("serve did not start: stdout {first:?}, stderr {err}");
        };
        let out = Arc::new(Mutex::new(first));
        let err = Arc::new(Mutex::new(String::new()));
        drain(stdout, Arc::clone(&out));
        drain(child.stderr.take().unwrap(), Arc::clone(&err));
        let token = std::fs::read_to_string(home.path("agent.token"))
            .unwrap()
            .trim()
            .to_owned();
        Daemon {
            child: Some(child),
            url,
            token,
            out,
            err,
        }
    }

    /// A request with the agent token.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Response {
        self.call_with(method, path, &[], body.as_bytes())
    }

    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let auth = format!("Bearer {}", self.token);
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        request(&self.url, method, path, &all, body)
    }

    /// A request without the token.
    pub fn anonymous(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        request(&self.url, method, path, headers, body.as_bytes())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (at most 30 s) for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                // Let the drain threads catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the daemon did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.wait()
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    pub fn health(&self) -> Value {
        self.anonymous("GET", "/healthz", &[], "").json()
    }

    /// Polls `/healthz` until `check` holds (at most 15 s).
    pub fn until_health(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let h = self.health();
            if check(&h) {
                return h;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "never {what}: {h}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
