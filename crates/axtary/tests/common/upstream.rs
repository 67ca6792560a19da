//! A local HTTP upstream for end-to-end tests: records every request, answers JSON, and can be
//! told to stall (`/slow...` paths sleep before answering), to answer another status
//! (`/status/NNN...`) or to answer bytes that are not UTF-8 (`/binary...`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// What `/binary` answers: bytes that are not UTF-8.
pub const BINARY: &[u8] = &[0xff, 0x00, 0xfe, b'a', 0x80, 0x81];

pub struct Upstream {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// Answers `{"ok": true, "path": ..., "echo": <Authorization header>}` to everything: the
    /// echo plays a provider that reflects the credential back, which must be scrubbed.
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let record = Arc::clone(&record);
                std::thread::spawn(move || {
                    let _ = handle(stream, &record);
                });
            }
        });
        Upstream { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(stream: std::net::TcpStream, record: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let auth = headers.get("authorization").cloned().unwrap_or_default();
        record.lock().unwrap().push(Seen {
            method,
            path: path.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        if path.starts_with("/slow") {
            std::thread::sleep(Duration::from_secs(4));
        }
        if path.starts_with("/binary") {
            let reply = BINARY;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
                reply.len()
            )?;
            writer.write_all(reply)?;
            writer.flush()?;
            continue;
        }
        let status: u16 = path
            .strip_prefix("/status/")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        let reply = serde_json::json!({"ok": status < 400, "path": path, "echo": auth}).to_string();
        write!(
            writer,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        )?;
        writer.flush()?;
    }
}

/// An initialized home whose `http` connector calls `upstream` as `internal-api` (GET, POST,
/// DELETE) with the credential `Authorization: Bearer <secret>`, stored in the broker as
/// `api-token`. `upstream_extra` is added to the upstream's settings (indented 8 spaces),
/// `extra` to the top level of `config.yaml`.
pub fn home_with(
    upstream: &Upstream,
    secret: &str,
    upstream_extra: &str,
    extra: &str,
) -> super::Home {
    let home = super::Home::initialized();
    let mut config = std::fs::read_to_string(home.path("config.yaml")).unwrap();
    config.push_str(&format!(
        "connectors:\n  http:\n    upstreams:\n      internal-api:\n        base_url: {}\n        methods: [GET, POST, DELETE]\n        auth_header: \"Authorization: Bearer {{secret}}\"\n        secret: \"secret:api-token\"\n{upstream_extra}{extra}",
        upstream.url
    ));
    std::fs::write(home.path("config.yaml"), config).unwrap();
    let out = home.run(&["secrets", "set", "api-token"], secret);
    assert!(out.status.success(), "{}", super::stderr(&out));
    home
}
