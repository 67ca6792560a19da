//! github: `pull_request.create` (git data API), `issue.comment`, `pull_request.merge`.
//!
//! A pull request is opened without a clone, exactly as refs/PROTOCOLS.md §3 lists: read the
//! base ref and its commit, create a tree on top of the base tree (deletes as `sha: null`,
//! renames as delete + add), a commit, the head ref, and the pull request. A merge sends the
//! approved head sha, so GitHub refuses (409) if the pull request changed after approval.

use std::sync::Arc;

use axtary_core::Action;
use axtary_core::pass::VerifiedPass;
use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::broker::Broker;
use crate::config::GithubConfig;
use crate::http::{Body, Header, Planned, Response, SendError, Transport, encode_path, join};
use crate::{
    BoxFuture, ConfigError, Connector, ExecOptions, Outcome, Refusal, check_pass, field,
    input_error, str_field,
};

pub(crate) struct Github {
    cfg: GithubConfig,
    broker: Arc<Broker>,
    transport: Transport,
}

/// One failed step.
struct StepError {
    reached: bool,
    /// The provider may have acted.
    unknown: bool,
    message: String,
}

impl Github {
    pub fn new(cfg: GithubConfig, broker: Arc<Broker>) -> Result<Self, ConfigError> {
        let transport = Transport::new(&cfg)?;
        Ok(Self {
            cfg,
            broker,
            transport,
        })
    }

    fn planned(&self, token: &str, method: Method, path: &str, body: Body) -> Planned {
        Planned {
            method,
            url: join(&self.cfg.base_url, path),
            headers: vec![
                Header::secret(
                    "authorization",
                    "Bearer {secret}",
                    self.cfg.token.name(),
                    token,
                ),
                Header::plain("accept", "application/vnd.github+json"),
                Header::plain("x-github-api-version", "2022-11-28"),
                Header::plain("user-agent", crate::http::USER_AGENT),
            ],
            body,
        }
    }

    async fn call(
        &self,
        planned: &Planned,
        step: &str,
    ) -> Result<Value, (StepError, Option<Response>)> {
        match self.transport.send(planned).await {
            Err(e) => Err((
                StepError {
                    reached: !matches!(e, SendError::NotReached(_)),
                    unknown: matches!(e, SendError::Unknown(_)),
                    message: format!("github {step}: {}", e.message()),
                },
                None,
            )),
            Ok(resp) if resp.is_success() => Ok(resp.json().unwrap_or(Value::Null)),
            Ok(resp) => Err((
                StepError {
                    reached: true,
                    unknown: false,
                    message: format!(
                        "github {step}: HTTP {}: {}",
                        resp.status,
                        provider_message(&resp)
                    ),
                },
                Some(resp),
            )),
        }
    }

    async fn run(&self, action: &Action, dry_run: bool) -> Result<Outcome, Refusal> {
        let repo = str_field(action, "repo")?;
        if repo.split('/').count() != 2 {
            return Err(input_error(action, "`repo` must be `owner/name`"));
        }
        let repo_path = format!("/repos/{}", encode_path(repo, true));
        let token = self.broker.get(self.cfg.token.name())?;
        match action.operation.as_str() {
            "pull_request.create" => self.create_pr(action, &repo_path, &token, dry_run).await,
            "issue.comment" => {
                let number = number(action)?;
                let body = str_field(action, "body")?;
                let planned = self.planned(
                    &token,
                    Method::POST,
                    &format!("{repo_path}/issues/{number}/comments"),
                    Body::Json(json!({"body": body})),
                );
                if dry_run {
                    return Ok(dry(&[planned]));
                }
                Ok(match self.call(&planned, "comment").await {
                    Ok(v) => Outcome::succeeded(json!({
                        "id": v.get("id"), "html_url": v.get("html_url"),
                    })),
                    Err((e, resp)) => step_failure(e, resp, json!({})),
                })
            }
            "pull_request.merge" => {
                let number = number(action)?;
                let sha = str_field(action, "sha")?;
                let method = str_field(action, "method")?;
                let planned = self.planned(
                    &token,
                    Method::PUT,
                    &format!("{repo_path}/pulls/{number}/merge"),
                    Body::Json(json!({"merge_method": method, "sha": sha})),
                );
                if dry_run {
                    return Ok(dry(&[planned]));
                }
                Ok(match self.call(&planned, "merge").await {
                    Ok(v) => Outcome::succeeded(json!({
                        "merged": v.get("merged"), "sha": v.get("sha"), "message": v.get("message"),
                    })),
                    Err((mut e, resp)) => {
                        if let Some(r) = &resp {
                            let detail = provider_message(r);
                            match r.status {
                                405 => {
                                    e.message = format!(
                                        "github merge: pull request #{number} is not mergeable (HTTP 405): {detail}"
                                    );
                                }
                                409 => {
                                    e.message = format!(
                                        "github merge: the head of pull request #{number} is no longer the approved commit {sha}; nothing was merged (HTTP 409): {detail}"
                                    );
                                }
                                _ => {}
                            }
                        }
                        step_failure(e, resp, json!({}))
                    }
                })
            }
            other => Err(input_error(
                action,
                format!("github cannot execute operation `{other}`"),
            )),
        }
    }

    async fn create_pr(
        &self,
        action: &Action,
        repo_path: &str,
        token: &Zeroizing<String>,
        dry_run: bool,
    ) -> Result<Outcome, Refusal> {
        let base = str_field(action, "base")?;
        let head = str_field(action, "head")?;
        let title = str_field(action, "title")?;
        let tree = tree_entries(action)?;
        let mut pull = json!({"title": title, "head": head, "base": base});
        for key in ["body", "draft"] {
            if let Some(v) = field(action, key).filter(|v| !v.is_null()) {
                pull[key] = v.clone();
            }
        }
        let get_ref = |t: &str| {
            self.planned(
                t,
                Method::GET,
                &format!("{repo_path}/git/ref/heads/{}", encode_path(base, true)),
                Body::None,
            )
        };
        let get_commit = |t: &str, sha: &str| {
            self.planned(
                t,
                Method::GET,
                &format!("{repo_path}/git/commits/{sha}"),
                Body::None,
            )
        };
        let post_tree = |t: &str, base_tree: &str| {
            self.planned(
                t,
                Method::POST,
                &format!("{repo_path}/git/trees"),
                Body::Json(json!({"base_tree": base_tree, "tree": tree})),
            )
        };
        let post_commit = |t: &str, tree_sha: &str, parent: &str| {
            self.planned(
                t,
                Method::POST,
                &format!("{repo_path}/git/commits"),
                Body::Json(json!({"message": title, "tree": tree_sha, "parents": [parent]})),
            )
        };
        let post_ref = |t: &str, sha: &str| {
            self.planned(
                t,
                Method::POST,
                &format!("{repo_path}/git/refs"),
                Body::Json(json!({"ref": format!("refs/heads/{head}"), "sha": sha})),
            )
        };
        let post_pull = |t: &str| {
            self.planned(
                t,
                Method::POST,
                &format!("{repo_path}/pulls"),
                Body::Json(pull.clone()),
            )
        };
        if dry_run {
            // Values only known while running are shown as `{placeholders}`.
            return Ok(dry(&[
                get_ref(token),
                get_commit(token, "{base_sha}"),
                post_tree(token, "{base_tree_sha}"),
                post_commit(token, "{tree_sha}", "{base_sha}"),
                post_ref(token, "{commit_sha}"),
                post_pull(token),
            ]));
        }
        // Steps 1-4 create nothing visible (unreferenced git objects), so their failures are
        // plain failures; from the ref on, a lost answer means the outcome is unknown.
        let early = |(e, resp): (StepError, Option<Response>)| {
            let mut e = e;
            e.unknown = false;
            step_failure(e, resp, json!({}))
        };
        let base_ref = match self.call(&get_ref(token), "get base ref").await {
            Ok(v) => v,
            Err(e) => return Ok(early(e)),
        };
        let Some(base_sha) = base_ref.pointer("/object/sha").and_then(Value::as_str) else {
            return Ok(malformed("get base ref"));
        };
        let commit = match self
            .call(&get_commit(token, base_sha), "get base commit")
            .await
        {
            Ok(v) => v,
            Err(e) => return Ok(early(e)),
        };
        let Some(base_tree) = commit.pointer("/tree/sha").and_then(Value::as_str) else {
            return Ok(malformed("get base commit"));
        };
        let new_tree = match self.call(&post_tree(token, base_tree), "create tree").await {
            Ok(v) => v,
            Err(e) => return Ok(early(e)),
        };
        let Some(tree_sha) = new_tree.get("sha").and_then(Value::as_str) else {
            return Ok(malformed("create tree"));
        };
        let new_commit = match self
            .call(&post_commit(token, tree_sha, base_sha), "create commit")
            .await
        {
            Ok(v) => v,
            Err(e) => return Ok(early(e)),
        };
        let Some(commit_sha) = new_commit.get("sha").and_then(Value::as_str) else {
            return Ok(malformed("create commit"));
        };
        let progress = json!({"base_sha": base_sha, "commit_sha": commit_sha});
        if let Err((e, resp)) = self
            .call(&post_ref(token, commit_sha), "create branch")
            .await
        {
            return Ok(step_failure(e, resp, progress));
        }
        let progress = json!({
            "base_sha": base_sha, "commit_sha": commit_sha, "branch": format!("refs/heads/{head}"),
        });
        match self.call(&post_pull(token), "create pull request").await {
            Ok(pr) => Ok(Outcome::succeeded(json!({
                "number": pr.get("number"),
                "html_url": pr.get("html_url"),
                "head_sha": pr.pointer("/head/sha").cloned().unwrap_or_else(|| commit_sha.into()),
                "base_sha": base_sha,
                "branch": format!("refs/heads/{head}"),
            }))),
            Err((mut e, resp)) => {
                e.message = format!(
                    "{} (branch `{head}` was created at {commit_sha} and is left in place)",
                    e.message
                );
                Ok(step_failure(e, resp, progress))
            }
        }
    }
}

impl Connector for Github {
    fn name(&self) -> &str {
        "github"
    }

    fn execute<'a>(
        &'a self,
        pass: &'a VerifiedPass,
        action: &'a Action,
        opts: &'a ExecOptions,
    ) -> BoxFuture<'a, Result<Outcome, Refusal>> {
        Box::pin(async move {
            check_pass(self.name(), pass, action)?;
            let outcome = self.run(action, opts.dry_run || self.cfg.dry_run).await?;
            Ok(outcome.scrubbed(&self.broker.scrubber()))
        })
    }
}

fn number(action: &Action) -> Result<u64, Refusal> {
    field(action, "number")
        .and_then(Value::as_u64)
        .ok_or_else(|| input_error(action, "`number` must be a positive integer"))
}

/// The `tree` array of the git trees API for the action's `files`.
fn tree_entries(action: &Action) -> Result<Vec<Value>, Refusal> {
    let files = field(action, "files")
        .and_then(Value::as_array)
        .ok_or_else(|| input_error(action, "`files` must be an array"))?;
    let mut tree = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let path = f
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| input_error(action, format!("`files[{i}].path` must be a string")))?;
        let delete = f.get("delete").and_then(Value::as_bool).unwrap_or(false);
        if let Some(prev) = f.get("previous_path").and_then(Value::as_str) {
            // A rename is the old path deleted plus the new one added.
            tree.push(json!({"path": prev, "mode": "100644", "type": "blob", "sha": null}));
        }
        if delete {
            tree.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": null}));
        } else {
            let content = f.get("content").and_then(Value::as_str).ok_or_else(|| {
                input_error(action, format!("`files[{i}].content` must be a string"))
            })?;
            tree.push(json!({"path": path, "mode": "100644", "type": "blob", "content": content}));
        }
    }
    Ok(tree)
}

/// GitHub's `message` (and the first error) from an error body, else the body text.
fn provider_message(resp: &Response) -> String {
    match resp.json() {
        Some(v) => {
            let mut m = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_owned();
            if let Some(first) = v.pointer("/errors/0") {
                let detail = first
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| first.to_string(), str::to_owned);
                m = format!("{m} ({detail})");
            }
            m
        }
        None => truncate(&String::from_utf8_lossy(&resp.body), 500),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn step_failure(e: StepError, resp: Option<Response>, mut result: Value) -> Outcome {
    if let (Some(r), Value::Object(map)) = (&resp, &mut result) {
        map.insert("http_status".into(), r.status.into());
        map.insert("response".into(), r.body_value());
    }
    if e.unknown {
        Outcome::unknown(e.message, result)
    } else {
        Outcome::failed(e.reached, e.message, result)
    }
}

fn malformed(step: &str) -> Outcome {
    Outcome::failed(
        true,
        format!("github {step}: unexpected response shape"),
        json!({}),
    )
}

pub(crate) fn dry(planned: &[Planned]) -> Outcome {
    Outcome::dry_run(json!({
        "dry_run": true,
        "requests": planned.iter().map(Planned::render).collect::<Vec<_>>(),
    }))
}
