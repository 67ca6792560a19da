//! Test helpers: a scripted local HTTP server that records every request, passes minted and
//! verified the real way, and a broker in a temporary home.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axtary_connectors::Broker;
use axtary_core::json::Limits;
use axtary_core::normalize::{NormalizeOptions, normalize};
use axtary_core::pass::{self, Expected, MemoryJtiStore, NodeKey, PassClaims, VerifiedPass};
use axtary_core::{Action, ActionHash, ActionRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A scripted answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub fn reply(status: u16, body: serde_json::Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string(),
    }
}

pub struct Server {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

/// Starts a server on 127.0.0.1:0 that answers with `replies` in order (then 500s).
pub async fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(std::collections::VecDeque::from(replies)));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let record = Arc::clone(&record);
            let replies = Arc::clone(&replies);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap().split(' ');
                let method = first.next().unwrap().to_owned();
                let path = first.next().unwrap().to_owned();
                let mut headers = BTreeMap::new();
                for line in lines.filter(|l| !l.is_empty()) {
                    let (k, v) = line.split_once(':').unwrap();
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
                let len: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                record.lock().unwrap().push(Recorded {
                    method,
                    path,
                    headers,
                    body,
                });
                let r = replies.lock().unwrap().pop_front().unwrap_or(Reply {
                    status: 500,
                    headers: vec![],
                    body: "no scripted reply".into(),
                });
                let mut out = format!("HTTP/1.1 {} X\r\n", r.status);
                for (k, v) in &r.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n{}",
                    r.body.len(),
                    r.body
                ));
                let _ = sock.write_all(out.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { url, seen }
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).unwrap();
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("axtary-conn-{tag}-{hex}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A broker in a fresh home holding `secrets`.
pub fn broker(secrets: &[(&str, &str)]) -> Arc<Broker> {
    let b = Broker::open(&temp_dir("home")).unwrap();
    for (name, value) in secrets {
        b.set(name, Zeroizing::new((*value).to_owned())).unwrap();
    }
    Arc::new(b)
}

/// Normalizes a request the way the node does.
pub fn action(req: serde_json::Value) -> Action {
    let req = ActionRequest::from_slice(req.to_string().as_bytes(), Limits::default()).unwrap();
    normalize(&req, &NormalizeOptions::default()).unwrap()
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Mints a pass for `action` with audience `aud`, and verifies it (the only way to get a
/// `VerifiedPass`). Returns the verified pass and its token.
pub fn pass_for(action: &Action, aud: &str) -> (VerifiedPass, String) {
    pass_with_hash(action, aud, action.hash())
}

/// Like [`pass_for`] but for another action hash.
pub fn pass_with_hash(action: &Action, aud: &str, ah: ActionHash) -> (VerifiedPass, String) {
    let key = NodeKey::from_seed(&[7; 32]);
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).unwrap();
    let claims = PassClaims {
        v: 1,
        jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
        iss: key.key_id().into(),
        sub: action.agent.clone(),
        aud: aud.into(),
        op: action.operation.clone(),
        res: action.resource.clone(),
        ah,
        dec: 1,
        apr: vec![],
        pol: ActionHash::of_bytes(b"policy"),
        iat: now(),
        exp: now() + 60,
    };
    let token = pass::mint(&claims, &key).unwrap();
    let verified = pass::verify(
        &token,
        [key.verifying_key()].as_slice(),
        &Expected {
            audience: aud,
            subject: None,
            action_hash: ah,
            now: now(),
        },
        &mut MemoryJtiStore::default(),
    )
    .unwrap();
    (verified, token)
}

/// A server that accepts connections and reads requests but never answers. Returns its URL
/// and the number of connections accepted.
pub async fn serve_silent() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(Mutex::new(0));
    let c = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            *c.lock().unwrap() += 1;
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while sock.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    (url, count)
}

/// A URL where nothing listens.
pub async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}
