//! github: pull_request.create, issue.comment, pull_request.merge.

use serde_json::Value;

use super::input::{Input, as_text, wrong_type};
use super::{Failure, Normalized};
use crate::facts::{Fact, Facts};

const OPERATIONS: &str = "pull_request.create, issue.comment, pull_request.merge";
/// More files than this in one PR is refused: policy must be able to see every path.
const MAX_FILES: usize = 1000;

pub(crate) fn normalize(op: &str, value: &Value) -> Result<Normalized, Failure> {
    let mut facts = Facts::new();
    let repo = match op {
        "pull_request.create" => {
            let input = Input::new(
                value,
                &["repo", "base", "head", "title", "body", "draft", "files"],
            )?;
            let repo = repo_name(&input)?;
            let base = branch(&input, "base")?;
            let head = branch(&input, "head")?;
            if base == head {
                return Err(Failure::Input("`head` must differ from `base`".into()));
            }
            input.text("title", 1024)?;
            let body_len = input
                .opt_text("body", 65536)?
                .map_or(0, |b| b.chars().count());
            let draft = input.opt_bool("draft")?.unwrap_or(false);
            let files = input.array("files")?;
            if files.is_empty() {
                return Err(Failure::Input(
                    "`files` must list at least one change".into(),
                ));
            }
            if files.len() > MAX_FILES {
                return Err(Failure::Input(format!(
                    "`files` lists more than {MAX_FILES} changes"
                )));
            }
            let mut paths: Vec<String> = Vec::with_capacity(files.len());
            let mut deleted = Vec::new();
            for (i, file) in files.iter().enumerate() {
                let change = FileChange::read(file, i)?;
                for p in [Some(change.path), change.previous_path]
                    .into_iter()
                    .flatten()
                {
                    if paths.iter().any(|q| q == p) {
                        return Err(Failure::Input(format!(
                            "`files[{i}]`: path `{p}` appears twice"
                        )));
                    }
                    paths.push(p.to_owned());
                }
                if change.delete {
                    deleted.push(change.path.to_owned());
                }
                if let Some(prev) = change.previous_path {
                    deleted.push(prev.to_owned());
                }
            }
            facts.insert("base".into(), base.into());
            facts.insert("head".into(), head.into());
            facts.insert(
                "files_changed".into(),
                Fact::Int(i64::try_from(files.len()).unwrap_or(i64::MAX)),
            );
            facts.insert("paths".into(), Fact::List(paths));
            facts.insert("deleted_paths".into(), Fact::List(deleted));
            facts.insert("draft".into(), draft.into());
            facts.insert("body_length".into(), Fact::Int(len_i64(body_len)));
            repo
        }
        "issue.comment" => {
            let input = Input::new(value, &["repo", "number", "body"])?;
            let repo = repo_name(&input)?;
            let number = input.int("number", 1, i64::from(u32::MAX))?;
            let body = input.text("body", 65536)?;
            facts.insert("number".into(), Fact::Int(number));
            facts.insert(
                "body_length".into(),
                Fact::Int(len_i64(body.chars().count())),
            );
            repo
        }
        "pull_request.merge" => {
            let input = Input::new(value, &["repo", "number", "sha", "method"])?;
            let repo = repo_name(&input)?;
            let number = input.int("number", 1, i64::from(u32::MAX))?;
            let sha = input.text("sha", 64)?;
            if !(sha.len() == 40 || sha.len() == 64) || !sha.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(Failure::Input(
                    "`sha` must be the full 40-character head commit sha the approver saw".into(),
                ));
            }
            let method = input.text("method", 16)?;
            if !matches!(method, "merge" | "squash" | "rebase") {
                return Err(Failure::Input(format!(
                    "`method` must be merge, squash or rebase (got `{}`)",
                    method.escape_debug()
                )));
            }
            facts.insert("number".into(), Fact::Int(number));
            facts.insert("merge_method".into(), method.into());
            repo
        }
        _ => return Err(Failure::UnknownOperation(OPERATIONS)),
    };
    facts.insert("repo".into(), repo.clone().into());
    Ok(Normalized {
        resource: format!("github:{repo}"),
        payload: value.clone(),
        facts,
    })
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn repo_name(input: &Input<'_>) -> Result<String, Failure> {
    let repo = input.text("repo", 200)?;
    let valid_part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(repo.to_owned()),
        _ => Err(Failure::Input(format!(
            "`repo` must be `owner/name` (got `{}`)",
            repo.escape_debug()
        ))),
    }
}

/// Branch names per git-check-ref-format, simplified to what is safe to put in a URL path.
fn branch<'a>(input: &Input<'a>, field: &str) -> Result<&'a str, Failure> {
    let b = input.line(field)?;
    let bad = b.starts_with('/')
        || b.ends_with('/')
        || b.ends_with(".lock")
        || b.starts_with('-')
        || b.contains("..")
        || b.contains("//")
        || b.contains("@{")
        || b.bytes()
            .any(|c| matches!(c, b' ' | b'~' | b'^' | b':' | b'?' | b'*' | b'[' | b'\\'));
    if bad {
        return Err(Failure::Input(format!(
            "`{field}` is not a valid branch name: `{}`",
            b.escape_debug()
        )));
    }
    Ok(b)
}

struct FileChange<'a> {
    path: &'a str,
    previous_path: Option<&'a str>,
    delete: bool,
}

impl<'a> FileChange<'a> {
    fn read(v: &'a Value, i: usize) -> Result<Self, Failure> {
        let Value::Object(map) = v else {
            return Err(wrong_type(&format!("files[{i}]"), "an object", v));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "path" | "content" | "delete" | "previous_path"))
        {
            return Err(Failure::Input(format!(
                "`files[{i}]`: unknown field `{k}` (expected path, content, delete, previous_path)"
            )));
        }
        let field = |name: &str| format!("files[{i}].{name}");
        let path = repo_path(
            map.get("path")
                .ok_or_else(|| Failure::Input(format!("missing field `{}`", field("path"))))?,
            &field("path"),
        )?;
        let previous_path = match map.get("previous_path") {
            None | Some(Value::Null) => None,
            Some(p) => Some(repo_path(p, &field("previous_path"))?),
        };
        let delete = match map.get("delete") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(other) => return Err(wrong_type(&field("delete"), "a boolean", other)),
        };
        match (map.get("content"), delete) {
            (Some(Value::String(_)), false) => {}
            (Some(other), false) => return Err(wrong_type(&field("content"), "a string", other)),
            (None, false) => {
                return Err(Failure::Input(format!(
                    "`files[{i}]` needs `content`, or `delete: true`"
                )));
            }
            (Some(_), true) => {
                return Err(Failure::Input(format!(
                    "`files[{i}]` has both `content` and `delete: true`"
                )));
            }
            (None, true) => {}
        }
        if delete && previous_path.is_some() {
            return Err(Failure::Input(format!(
                "`files[{i}]` cannot both delete and rename"
            )));
        }
        Ok(Self {
            path,
            previous_path,
            delete,
        })
    }
}

/// A repo-relative path: no leading `/`, no `.`/`..`/empty components, no `.git` directory.
fn repo_path<'v>(v: &'v Value, field: &str) -> Result<&'v str, Failure> {
    let p = as_text(v, field, 4096)?;
    let bad_component = p
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == ".." || c.eq_ignore_ascii_case(".git"));
    if bad_component || p.contains('\\') || p.chars().any(char::is_control) {
        return Err(Failure::Input(format!(
            "`{field}` must be a repository-relative path without `.`, `..`, `.git` or empty components (got `{}`)",
            p.escape_debug()
        )));
    }
    Ok(p)
}
