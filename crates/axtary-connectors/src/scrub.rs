//! Redaction of known secret values from anything that leaves a connector.
//!
//! Providers echo credentials back more often than one would hope (error bodies quoting the
//! `Authorization` header, URLs with tokens, base64 basic-auth). The [`Scrubber`] replaces every
//! known secret value, and its common encodings, with `[REDACTED:NAME]`: raw, JSON-escaped,
//! percent-encoded (upper and lower case hex), and base64 (standard and URL-safe, padded or
//! not, and the aligned middle of the secret embedded at any offset, as in `user:token`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;
use zeroize::Zeroizing;

/// Shortest needle searched for; shorter fragments would match ordinary text.
const MIN_NEEDLE: usize = 8;

/// Replaces known secret values. Build it with [`Broker::scrubber`](crate::broker::Broker::scrubber).
pub struct Scrubber {
    /// (needle, replacement), longest needle first so full encodings win over fragments.
    needles: Vec<(Zeroizing<String>, String)>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("needles", &self.needles.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for `(name, value)` pairs.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut needles: Vec<(Zeroizing<String>, String)> = Vec::new();
        for (name, value) in secrets {
            let replacement = format!("[REDACTED:{name}]");
            let mut all = encodings(value);
            // A connection URL's password is a credential on its own (drivers may quote it).
            if let Some(password) = url_password(value) {
                all.extend(encodings(&password));
            }
            for needle in all {
                if needle.len() >= MIN_NEEDLE && !needles.iter().any(|(n, _)| **n == *needle) {
                    needles.push((needle, replacement.clone()));
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
        Self { needles }
    }

    /// A scrubber that redacts nothing.
    pub fn empty() -> Self {
        Self {
            needles: Vec::new(),
        }
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `s` with every known secret replaced.
    pub fn scrub(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (needle, replacement) in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), replacement);
            }
        }
        out
    }

    /// Scrubs every string (and object key) in `v`, in place.
    pub fn scrub_json(&self, v: &mut Value) {
        if self.needles.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                let scrubbed = self.scrub(s);
                if scrubbed != *s {
                    *s = scrubbed;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.scrub_json(i)),
            Value::Object(map) => {
                let old = std::mem::take(map);
                for (k, mut val) in old {
                    self.scrub_json(&mut val);
                    map.insert(self.scrub(&k), val);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// The decoded password of a `scheme://user:password@host` value, if it is one.
fn url_password(value: &str) -> Option<Zeroizing<String>> {
    if !value.contains("://") {
        return None;
    }
    let url = reqwest::Url::parse(value).ok()?;
    let raw = url.password()?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(raw.len()));
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex: String = it.by_ref().take(2).map(char::from).collect();
            bytes.push(u8::from_str_radix(&hex, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes.to_vec()).ok().map(Zeroizing::new)
}

fn encodings(value: &str) -> Vec<Zeroizing<String>> {
    let bytes = value.as_bytes();
    let mut out = vec![Zeroizing::new(value.to_owned())];
    // JSON-escaped (what a raw JSON body shows for a secret with quotes or backslashes).
    let json = serde_json::to_string(value).unwrap_or_default();
    if let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
        out.push(Zeroizing::new(inner.to_owned()));
    }
    out.push(Zeroizing::new(percent_encode(bytes, true)));
    out.push(Zeroizing::new(percent_encode(bytes, false)));
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        out.push(Zeroizing::new(engine.encode(bytes)));
    }
    // The secret embedded at offset k (mod 3) in a longer base64 message: the groups that
    // encode only secret bytes do not depend on what surrounds it.
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for k in 0..3usize {
            let mut buf = Zeroizing::new(vec![0u8; k]);
            buf.extend_from_slice(bytes);
            let encoded = Zeroizing::new(engine.encode(&*buf));
            let first_group = k.div_ceil(3);
            let end_group = (k + bytes.len()) / 3;
            if end_group > first_group
                && let Some(mid) = encoded.get(first_group * 4..end_group * 4)
            {
                out.push(Zeroizing::new(mid.to_owned()));
            }
        }
    }
    out
}

/// Percent-encodes every byte outside RFC 3986 unreserved characters.
pub(crate) fn percent_encode(bytes: &[u8], upper: bool) -> String {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let hex = if upper { UPPER } else { LOWER };
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(hex[usize::from(b >> 4)]));
            out.push(char::from(hex[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ghp_CanaryToken/with+odd=chars";

    #[test]
    fn redacts_raw_and_encoded_forms() {
        let s = Scrubber::new([("GH", TOKEN)]);
        let embedded = STANDARD.encode(format!("x-access-token:{TOKEN}"));
        for text in [
            format!("bad token {TOKEN}!"),
            format!("q=token%3D{}", percent_encode(TOKEN.as_bytes(), true)),
            format!("q={}", percent_encode(TOKEN.as_bytes(), false)),
            format!("Basic {}", STANDARD.encode(TOKEN)),
            format!("b64url {}", URL_SAFE_NO_PAD.encode(TOKEN)),
            format!("Basic {embedded}"),
        ] {
            let out = s.scrub(&text);
            assert!(out.contains("[REDACTED:GH]"), "{text} -> {out}");
            assert!(!out.contains(TOKEN), "{out}");
            assert!(!out.contains(&STANDARD_NO_PAD.encode(TOKEN)), "{out}");
        }
        let mut v = serde_json::json!({"echo": {TOKEN: [format!("Bearer {TOKEN}")]}});
        s.scrub_json(&mut v);
        let printed = v.to_string();
        assert!(!printed.contains(TOKEN), "{printed}");
        assert_eq!(printed.matches("[REDACTED:GH]").count(), 2);
    }

    #[test]
    fn redacts_the_password_of_a_connection_url() {
        let s = Scrubber::new([("PG", "postgres://app:s3cret%2Fpassw0rd@db.internal/prod")]);
        let out = s.scrub("auth failed for password s3cret/passw0rd");
        assert_eq!(out, "auth failed for password [REDACTED:PG]");
    }

    #[test]
    fn leaves_other_text_alone() {
        let s = Scrubber::new([("GH", TOKEN)]);
        assert_eq!(s.scrub("nothing secret here"), "nothing secret here");
        assert_eq!(Scrubber::empty().scrub(TOKEN), TOKEN);
    }
}
