//! web: Claude Code's WebFetch (`fetch` {url, prompt?}) and WebSearch (`search` {query,
//! allowed_domains?, blocked_domains?}). The payload is the input as given.
//!
//! The host is read the way a WHATWG URL parser reads it (what Claude Code itself uses), so
//! `https://good.example@evil.example/`, `https://evil.example\@good.example/` and
//! `HTTPS://Evil.Example./` all give the host `evil.example`. Anything that is not a plain
//! http(s) URL with a host is refused rather than guessed at.

use serde_json::Value;

use super::input::Input;
use super::{Failure, Normalized};
use crate::facts::{Fact, Facts};

pub(crate) fn normalize(op: &str, value: &Value) -> Result<Normalized, Failure> {
    match op {
        "fetch" => fetch(value),
        "search" => search(value),
        _ => Err(Failure::UnknownOperation("fetch, search")),
    }
}

fn fetch(value: &Value) -> Result<Normalized, Failure> {
    let input = Input::new(value, &["url", "prompt", "options"])?;
    let url = input.text("url", 8192)?;
    input.opt_text("prompt", 64 * 1024)?;
    let options = input.options()?;
    let (scheme, host) = parse_url(url).map_err(Failure::Input)?;
    let mut facts = Facts::new();
    facts.insert("url".into(), url.into());
    facts.insert("host".into(), host.clone().into());
    facts.insert("scheme".into(), scheme.into());
    if let Some((_, keys)) = options {
        facts.insert("options".into(), Fact::List(keys));
    }
    Ok(Normalized {
        resource: format!("web:{host}"),
        payload: value.clone(),
        facts,
    })
}

fn search(value: &Value) -> Result<Normalized, Failure> {
    let input = Input::new(
        value,
        &["query", "allowed_domains", "blocked_domains", "options"],
    )?;
    input.text("query", 4096)?;
    let options = input.options()?;
    let mut domains = Vec::new();
    for field in ["allowed_domains", "blocked_domains"] {
        let Some(v) = input.get(field) else { continue };
        let Value::Array(items) = v else {
            return Err(super::input::wrong_type(field, "an array of strings", v));
        };
        for item in items {
            let Value::String(d) = item else {
                return Err(super::input::wrong_type(field, "an array of strings", item));
            };
            if field == "allowed_domains" {
                domains.push(d.to_ascii_lowercase());
            }
        }
    }
    let mut facts = Facts::new();
    facts.insert("domains".into(), Fact::List(domains));
    if let Some((_, keys)) = options {
        facts.insert("options".into(), Fact::List(keys));
    }
    Ok(Normalized {
        resource: "web:search".into(),
        payload: value.clone(),
        facts,
    })
}

/// The scheme (`http` | `https`) and host of an absolute URL, WHATWG-style.
fn parse_url(url: &str) -> Result<(&'static str, String), String> {
    let bad = |why: &str| format!("`url` {why} (got `{}`)", url.escape_debug());
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("must not contain spaces or control characters"));
    }
    let (scheme, rest) = url
        .split_once(':')
        .ok_or_else(|| bad("must be an absolute http(s) URL"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => "http",
        "https" => "https",
        _ => return Err(bad("must use http or https")),
    };
    // Special schemes treat `\` like `/`, and any number of slashes may follow the scheme.
    let rest = rest.trim_start_matches(['/', '\\']);
    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // Credentials end at the last `@`.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        let end = v6
            .find(']')
            .ok_or_else(|| bad("has an unclosed IPv6 address"))?;
        format!("[{}]", &v6[..end])
    } else {
        host_port
            .rsplit_once(':')
            .map_or(host_port, |(h, _)| h)
            .to_owned()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    // Percent-encoded or otherwise unusual hosts are decoded differently by different
    // parsers; refuse rather than match the wrong name.
    if host.contains(['%', '@', ' ', '\\', '^', '|', '<', '>']) {
        return Err(bad("has a host Axtary does not read unambiguously"));
    }
    Ok((scheme, host))
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn hosts_read_like_a_browser() {
        for (url, host) in [
            ("https://example.com/x", "example.com"),
            ("HTTPS://Example.COM./", "example.com"),
            ("https://good.example@evil.example/", "evil.example"),
            ("https://a@b@evil.example:8443/p", "evil.example"),
            ("https://evil.example\\@good.example/", "evil.example"),
            ("http:evil.example/x", "evil.example"),
            ("https:///evil.example", "evil.example"),
            ("https://[::1]:80/", "[::1]"),
            ("https://example.com?q=@x", "example.com"),
            ("https://example.com#@x", "example.com"),
        ] {
            assert_eq!(parse_url(url).map(|(_, h)| h).as_deref(), Ok(host), "{url}");
        }
        for url in [
            "ftp://x",
            "file:///etc/passwd",
            "example.com",
            "https://",
            "https://%65vil.example/",
            "https://a b/",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }
}
