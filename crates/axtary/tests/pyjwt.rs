#![allow(clippy::unwrap_used, clippy::expect_used)]

//! A real third-party verifier: passes minted by Axtary are checked by PyJWT running exactly
//! the snippet in docs/actionpass.md (with a real key in place of the placeholder).
//!
//! Needs Python 3 with `pyjwt[crypto]` and `rfc8785` (see `common/python.rs`): `AXTARY_TEST_PYTHON` names such an
//! interpreter; otherwise the test creates a venv in `target/pyenv` and installs them. If that
//! fails the test FAILS: it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use axtary_core::normalize::{NormalizeOptions, normalize};
use axtary_core::pass::NodeKey;
use axtary_core::{Action, ActionHash, ActionRequest};
use axtary_node::passes::{Grant, mint_for};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const REQUIREMENTS: &[&str] = &["pyjwt[crypto]>=2.13", "rfc8785"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Python with PyJWT, cryptography and rfc8785, installing them if needed.
fn python() -> PathBuf {
    common::python::with("pyenv", &["jwt", "rfc8785", "cryptography"], REQUIREMENTS)
}

/// The first ```python block of docs/actionpass.md.
fn documented_snippet() -> String {
    let doc = std::fs::read_to_string(workspace().join("docs/actionpass.md")).unwrap();
    let start = doc
        .find("```python\n")
        .expect("a python block in docs/actionpass.md")
        + 10;
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

/// Runs each case through the snippet's `verify_pass`; `forge` cases are built in Python.
const HARNESS: &str = r#"
import json, sys, tempfile, os
cases = json.load(open(sys.argv[1]))
used = open_used_passes(os.path.join(tempfile.mkdtemp(), "used.db"))
results = []
for case in cases:
    token = case.get("token")
    forge = case.get("forge")
    if forge == "hs256":
        # alg confusion: an HMAC "signature" keyed with the public key bytes.
        token = jwt.encode(case["claims"], bytes.fromhex(case["public_key"]), algorithm="HS256",
                           headers={"kid": case["claims"]["iss"], "typ": "axtary-pass+jwt"})
    elif forge == "none":
        token = jwt.encode(case["claims"], None, algorithm="none",
                           headers={"kid": case["claims"]["iss"], "typ": "axtary-pass+jwt"})
    try:
        claims = verify_pass(token, case["action"], used)
        results.append({"name": case["name"], "ok": True, "jti": claims["jti"]})
    except jwt.InvalidTokenError as e:
        results.append({"name": case["name"], "ok": False, "error": type(e).__name__ + ": " + str(e)})
print(json.dumps(results))
"#;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn action(text: &str) -> Action {
    let req = ActionRequest::from_value(json!({
        "agent": "claude-code", "connector": "http", "operation": "request",
        "input": {"upstream": "billing", "method": "POST", "path": "/v1/refunds",
                  "body": {"charge": "ch_1", "amount": 500, "note": text}}
    }))
    .unwrap();
    normalize(&req, &NormalizeOptions::default()).unwrap()
}

/// What the service sees and hashes: the normalized action's hashed fields.
fn as_seen(a: &Action) -> Value {
    json!({"connector": a.connector, "operation": a.operation, "resource": a.resource, "payload": a.payload})
}

fn mint(key: &NodeKey, a: &Action, now: i64) -> (String, Value) {
    let (token, claims) =
        mint_for(key, a, &Grant::new(3, ActionHash::of_bytes(b"policy"), now)).unwrap();
    (token, serde_json::to_value(claims).unwrap())
}

/// A correctly signed token with another header.
fn with_header(key: &NodeKey, header: &Value, claims: &Value) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    token
}

#[test]
fn pyjwt_verifies_axtary_passes_as_documented() {
    let python = python();
    let key = NodeKey::from_seed(&[42; 32]);
    let public_key: String = key
        .verifying_key()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let t = now();
    let original = action("refund for order 7");
    let changed = action("refund for order 8");
    let (valid, claims) = mint(&key, &original, t);
    let (for_changed, _) = mint(&key, &original, t);
    let (for_wrong_audience, _) = mint(&key, &original, t);
    let (expired, _) = mint(&key, &original, t - 3600);
    let other = NodeKey::from_seed(&[43; 32]);
    let (foreign, _) = mint(&other, &original, t);
    let untyped = with_header(
        &key,
        &json!({"alg": "EdDSA", "kid": key.key_id(), "typ": "JWT"}),
        &{
            let mut c = claims.clone();
            c["jti"] = json!("0123456789abcdef0123456789abcdef");
            c
        },
    );
    let mut elsewhere = as_seen(&original);
    elsewhere["connector"] = json!("github");

    let cases = json!([
        {"name": "valid", "token": valid, "action": as_seen(&original), "expect": null},
        {"name": "replayed", "token": valid, "action": as_seen(&original), "expect": "pass already used"},
        {"name": "payload changed", "token": for_changed, "action": as_seen(&changed), "expect": "InvalidTokenError: pass is for another action (ah differs)"},
        {"name": "wrong audience", "token": for_wrong_audience, "action": elsewhere, "expect": "InvalidAudienceError"},
        {"name": "expired", "token": expired, "action": as_seen(&original), "expect": "ExpiredSignatureError"},
        {"name": "another key", "token": foreign, "action": as_seen(&original), "expect": "InvalidSignatureError"},
        {"name": "typ JWT", "token": untyped, "action": as_seen(&original), "expect": "not an ActionPass (typ)"},
        {"name": "alg HS256", "forge": "hs256", "claims": claims, "public_key": public_key, "action": as_seen(&original), "expect": "InvalidAlgorithmError"},
        {"name": "alg none", "forge": "none", "claims": claims, "action": as_seen(&original), "expect": "InvalidAlgorithmError"},
    ]);

    let dir = std::env::temp_dir().join(format!("axtary-pyjwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let snippet = documented_snippet();
    assert!(
        snippet.contains("algorithms=[\"EdDSA\"]"),
        "the snippet pins alg"
    );
    assert!(
        snippet.contains("PUBLIC_KEY_HEX"),
        "the snippet has the key placeholder"
    );
    let script = dir.join("verify.py");
    std::fs::write(
        &script,
        format!(
            "{}\n{HARNESS}",
            snippet.replace("PUBLIC_KEY_HEX", &public_key)
        ),
    )
    .unwrap();
    let cases_path = dir.join("cases.json");
    std::fs::write(&cases_path, cases.to_string()).unwrap();
    let out = Command::new(&python)
        .arg(&script)
        .arg(&cases_path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    for (case, result) in cases.iter().zip(&results) {
        let name = &case["name"];
        match case["expect"].as_str() {
            None => {
                assert_eq!(result["ok"], true, "{name}: {result}");
                assert_eq!(result["jti"], claims["jti"]);
            }
            Some(expected) => {
                assert_eq!(result["ok"], false, "{name} must be rejected: {result}");
                let error = result["error"].as_str().unwrap();
                assert!(
                    error.contains(expected),
                    "{name}: got `{error}`, expected `{expected}`"
                );
            }
        }
    }
    // "valid" passing shows the service's own `ah` equals Axtary's; "payload changed" failing
    // on `ah` alone needs the two actions to differ only in what the hash covers.
    assert_ne!(original.hash(), changed.hash());
}
