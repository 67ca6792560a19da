//! http: requests to named upstreams from config, with the credential injected and the pass
//! forwarded in `Axtary-Pass`. Redirects are never followed: a 3xx is returned as the result
//! (with its `location`), so a redirect cannot carry the credential to another host.

use std::sync::Arc;

use axtary_core::Action;
use axtary_core::pass::{self, VerifiedPass};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::broker::Broker;
use crate::config::{HttpConfig, Upstream};
use crate::github::dry;
use crate::http::{Body, Header, Planned, Transport, join, parse_auth_header};
use crate::scrub::percent_encode;
use crate::{
    BoxFuture, ConfigError, Connector, ExecOptions, Outcome, Refusal, check_pass, field,
    input_error, str_field,
};

pub(crate) struct Http {
    upstreams: Vec<(String, Upstream, Transport)>,
    broker: Arc<Broker>,
}

impl Http {
    pub fn new(cfg: HttpConfig, broker: Arc<Broker>) -> Result<Self, ConfigError> {
        let mut upstreams = Vec::new();
        for (name, u) in cfg.upstreams {
            let t = Transport::new(&u)?;
            upstreams.push((name, u, t));
        }
        Ok(Self { upstreams, broker })
    }

    async fn run(
        &self,
        pass: &VerifiedPass,
        action: &Action,
        opts: &ExecOptions,
    ) -> Result<Outcome, Refusal> {
        let name = str_field(action, "upstream")?;
        let Some((_, up, transport)) = self.upstreams.iter().find(|(n, _, _)| n == name) else {
            return Err(Refusal::Config(format!(
                "unknown upstream `{name}`\nhint: add it under `connectors.http.upstreams`"
            )));
        };
        let method = str_field(action, "method")?.to_ascii_uppercase();
        if !up.methods.contains(&method) {
            return Err(Refusal::Config(format!(
                "method {method} is not allowed for upstream `{name}` (allowed: {})",
                up.methods.join(", ")
            )));
        }
        let path = str_field(action, "path")?;
        if !path.starts_with('/') {
            return Err(input_error(action, "`path` must start with `/`"));
        }
        let query = match field(action, "query") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(q)) => q.clone(),
            Some(Value::Object(map)) => {
                let mut pairs = Vec::new();
                for (k, v) in map {
                    let values: Vec<&str> = match v {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                        _ => return Err(input_error(action, "`query` values must be strings")),
                    };
                    for value in values {
                        pairs.push(format!(
                            "{}={}",
                            percent_encode(k.as_bytes(), true),
                            percent_encode(value.as_bytes(), true)
                        ));
                    }
                }
                pairs.join("&")
            }
            Some(_) => return Err(input_error(action, "`query` must be a string or an object")),
        };
        let mut url = join(&up.base_url, path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let auth = match (&up.auth_header, &up.secret) {
            (Some(h), Some(secret)) => {
                let (header_name, template) = parse_auth_header(h)
                    .map_err(|e| Refusal::Config(format!("upstream `{name}`: {e}")))?;
                Some((header_name.to_ascii_lowercase(), template, secret))
            }
            _ => None,
        };
        let mut headers = vec![Header::plain("user-agent", crate::http::USER_AGENT)];
        if let Some(Value::Object(map)) = field(action, "headers") {
            for (k, v) in map {
                let lower = k.to_ascii_lowercase();
                // The agent cannot set (or add a second value to) the credential or pass headers.
                if lower == "axtary-pass" || auth.as_ref().is_some_and(|(n, _, _)| *n == lower) {
                    return Err(input_error(
                        action,
                        format!("header `{k}` is set by the connector, not the agent"),
                    ));
                }
                let v = v
                    .as_str()
                    .ok_or_else(|| input_error(action, "header values must be strings"))?;
                headers.push(Header::plain(&k.to_ascii_lowercase(), v));
            }
        }
        if let Some((header_name, template, secret)) = &auth {
            let value = self.broker.get(secret.name())?;
            headers.push(Header::secret(header_name, template, secret.name(), &value));
        }
        if up.forward_pass {
            let token = opts.pass_token.as_deref().ok_or_else(|| {
                Refusal::Config(format!(
                    "upstream `{name}` forwards the pass, but no pass token was given"
                ))
            })?;
            // The forwarded token must be the very pass that was verified.
            let claims = pass::inspect(token)
                .map_err(|e| Refusal::Config(format!("pass token: {e}")))?
                .claims;
            let c = pass.claims();
            if claims.get("jti").and_then(Value::as_str) != Some(c.jti.as_str())
                || claims.get("ah").and_then(Value::as_str) != Some(c.ah.to_string().as_str())
            {
                return Err(Refusal::Config(
                    "the pass token given is not the verified pass".into(),
                ));
            }
            headers.push(Header::plain("axtary-pass", token));
        }
        let body = match field(action, "body") {
            None | Some(Value::Null) => Body::None,
            Some(Value::String(s)) => Body::Text(s.clone()),
            Some(v) => Body::Json(v.clone()),
        };
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| input_error(action, "invalid method"))?;
        let planned = Planned {
            method,
            url,
            headers,
            body,
        };
        if opts.dry_run || up.dry_run {
            return Ok(dry(&[planned]));
        }
        let resp = match transport.send(&planned).await {
            Ok(r) => r,
            Err(e) => return Ok(e.into_outcome(&format!("http {name}"))),
        };
        let (body, binary) = match (resp.json(), std::str::from_utf8(&resp.body)) {
            (Some(v), _) => (v, false),
            (None, Ok(text)) => (Value::String(text.to_owned()), false),
            (None, Err(_)) => (json!({"base64": STANDARD.encode(&resp.body)}), true),
        };
        let mut result = json!({"http_status": resp.status, "body": body});
        if binary {
            // Says how to read `body` back: a JSON answer could also be `{"base64": ...}`.
            result["body_encoding"] = "base64".into();
        }
        if let Some(ct) = &resp.content_type {
            result["content_type"] = ct.clone().into();
        }
        if let Some(loc) = &resp.location {
            // Returned, never followed.
            result["location"] = loc.clone().into();
        }
        Ok(if resp.status < 400 {
            Outcome::succeeded(result)
        } else {
            Outcome::failed(true, format!("http {name}: HTTP {}", resp.status), result)
        })
    }
}

impl Connector for Http {
    fn name(&self) -> &str {
        "http"
    }

    fn execute<'a>(
        &'a self,
        pass: &'a VerifiedPass,
        action: &'a Action,
        opts: &'a ExecOptions,
    ) -> BoxFuture<'a, Result<Outcome, Refusal>> {
        Box::pin(async move {
            check_pass(self.name(), pass, action)?;
            let outcome = self.run(pass, action, opts).await?;
            Ok(outcome.scrubbed(&self.broker.scrubber()))
        })
    }
}
