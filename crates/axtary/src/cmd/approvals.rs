//! `axtary approvals list|show|approve|deny`: humans review the exact payload and sign.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use axtary_core::Action;
use axtary_core::facts::Fact;
use axtary_core::ledger::EntryKind;
use axtary_node::approvals::{ApprovalRequest, Approvals, Approver};
use serde_json::Value;
use similar::TextDiff;

use crate::exit::Exit;
use crate::home::Home;
use crate::node;
use crate::output::{self, Format};

fn open(home: &Home) -> Result<Approvals> {
    if !home.ledger_path().exists() {
        bail!(
            "no ledger at `{}`\nhint: run `axtary init`",
            home.ledger_path().display()
        );
    }
    Approvals::open(&home.ledger_path()).context("cannot open approvals")
}

pub fn list(home: &Home, all: bool, format: Format) -> Result<Exit> {
    let approvals = open(home)?;
    let now = node::now_ms();
    let items = approvals.list(all, now)?;
    match format {
        Format::Json => {
            let rows: Vec<Value> = items.iter().map(|r| summary_json(r, now)).collect();
            output::print_json(&rows)?;
        }
        Format::Text => {
            if items.is_empty() {
                output::print(if all {
                    "no approval requests\n"
                } else {
                    "no pending approval requests\n"
                })?;
                return Ok(Exit::Ok);
            }
            let mut text = String::new();
            for r in &items {
                text.push_str(&format!(
                    "{}  {:<8} {}/{} from {:<12} {} {} on {}  (rule {}, agent {}, {})\n",
                    r.id,
                    r.state(now),
                    r.valid_approvals().len(),
                    r.approvers.count,
                    r.approvers.group,
                    r.action.connector,
                    r.action.operation,
                    r.action.resource,
                    r.rule,
                    r.agent,
                    expiry(r.expires_ms, now)
                ));
            }
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}

fn summary_json(r: &ApprovalRequest, now: i64) -> Value {
    serde_json::json!({
        "id": r.id, "status": r.state(now), "agent": r.agent, "rule": r.rule,
        "connector": r.action.connector, "operation": r.action.operation, "resource": r.action.resource,
        "action_hash": r.action_hash, "approvers": r.approvers, "approved_by": r.valid_approvals(),
        "uses": r.uses, "used": r.used, "created_at": r.created_ms, "expires_at": r.expires_ms,
    })
}

fn expiry(expires_ms: i64, now: i64) -> String {
    let secs = (expires_ms - now) / 1000;
    if secs <= 0 {
        "expired".to_owned()
    } else {
        format!("expires in {}m{:02}s", secs / 60, secs % 60)
    }
}

pub fn show(home: &Home, id: &str, format: Format) -> Result<Exit> {
    let r = open(home)?.get(id)?;
    let now = node::now_ms();
    match format {
        Format::Json => {
            let mut v = summary_json(&r, now);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("action".into(), serde_json::to_value(&r.action)?);
                obj.insert("votes".into(), serde_json::to_value(&r.votes)?);
            }
            output::print_json(&v)?;
        }
        Format::Text => output::print(&render_request(&r, now))?,
    }
    Ok(Exit::Ok)
}

fn render_request(r: &ApprovalRequest, now: i64) -> String {
    let mut text = format!(
        "approval {}  [{}]\n  agent:     {}\n  rule:      {}\n  approvers: {} of group `{}` (so far: {})\n  {}\n\n",
        r.id,
        r.state(now),
        r.agent,
        r.rule,
        r.approvers.count,
        r.approvers.group,
        if r.valid_approvals().is_empty() {
            "none".to_owned()
        } else {
            r.valid_approvals().join(", ")
        },
        expiry(r.expires_ms, now),
    );
    text.push_str(&render_action(&r.action));
    text.push_str(&format!("\naction hash: {}\n", r.action_hash));
    text
}

/// The exact payload, in the form a reviewer reads best.
pub fn render_action(a: &Action) -> String {
    let p = &a.payload;
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
    let mut out = format!("{} {} on {}\n", a.connector, a.operation, a.resource);
    match (a.connector.as_str(), a.operation.as_str()) {
        ("github", "pull_request.create") => {
            out.push_str(&format!(
                "pull request {} -> {}: {}\n",
                s("head"),
                s("base"),
                s("title")
            ));
            if !s("body").is_empty() {
                out.push_str(&format!("\n{}\n", s("body")));
            }
            out.push_str("(the base branch is not fetched locally; each file is shown as its full new content)\n\n");
            for f in p
                .get("files")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let path = f.get("path").and_then(Value::as_str).unwrap_or("?");
                if let Some(prev) = f.get("previous_path").and_then(Value::as_str) {
                    out.push_str(&format!("renamed: {prev} -> {path}\n"));
                }
                if f.get("delete").and_then(Value::as_bool) == Some(true) {
                    out.push_str(&format!("deleted: {path}\n\n"));
                } else {
                    let content = f.get("content").and_then(Value::as_str).unwrap_or("");
                    out.push_str(&diff("", content, "/dev/null", &format!("b/{path}")));
                    out.push('\n');
                }
            }
        }
        ("github", "issue.comment") => out.push_str(&format!(
            "comment on {}#{}:\n\n{}\n",
            s("repo"),
            p["number"],
            s("body")
        )),
        ("github", "pull_request.merge") => out.push_str(&format!(
            "merge {}#{} by {} at head commit {} (the merge fails if the PR changed)\n",
            s("repo"),
            p["number"],
            s("method"),
            s("sha")
        )),
        ("slack", _) => out.push_str(&format!("message to {}:\n\n{}\n", s("channel"), s("text"))),
        ("linear", _) => out.push_str(&format!(
            "issue in {}: {}\n\n{}\n",
            s("team"),
            s("title"),
            s("description")
        )),
        ("postgres" | "sqlite", _) => {
            out.push_str(&format!(
                "database `{}`:\n\n    {}\n\n",
                s("database"),
                s("sql").replace('\n', "\n    ")
            ));
            for fact in ["statement_kinds", "tables"] {
                if let Some(Fact::List(items)) = a.facts.get(fact) {
                    out.push_str(&format!("{fact}: {}\n", items.join(", ")));
                }
            }
            if let Some(params) = p.get("params") {
                out.push_str(&format!("params: {params}\n"));
            }
        }
        ("http", _) => {
            let query = p.get("query").map(|q| match q {
                Value::String(s) => format!("?{s}"),
                other => format!("?{other}"),
            });
            out.push_str(&format!(
                "{} {}{}  (upstream `{}`)\n",
                s("method").to_ascii_uppercase(),
                s("path"),
                query.unwrap_or_default(),
                s("upstream")
            ));
            if let Some(Value::Object(h)) = p.get("headers") {
                for (k, v) in h {
                    out.push_str(&format!("{k}: {}\n", v.as_str().unwrap_or("")));
                }
            }
            match p.get("body") {
                Some(Value::String(b)) => out.push_str(&format!("\n{b}\n")),
                Some(b) => out.push_str(&format!(
                    "\n{}\n",
                    serde_json::to_string_pretty(b).unwrap_or_default()
                )),
                None => {}
            }
        }
        ("fs", "write") => {
            let path = s("path");
            let current = std::fs::read_to_string(path).unwrap_or_default();
            out.push_str(&diff(
                &current,
                s("content"),
                &format!("a{path}"),
                &format!("b{path}"),
            ));
        }
        ("shell", _) => out.push_str(&format!("$ {}\n  (in {})\n", s("command"), s("cwd"))),
        _ => out.push_str(&format!(
            "{}\n",
            serde_json::to_string_pretty(p).unwrap_or_default()
        )),
    }
    out
}

fn diff(old: &str, new: &str, a: &str, b: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(a, b)
        .to_string()
}

fn approver_name(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "local".to_owned())
}

pub fn approve(
    home: &Home,
    id: &str,
    as_name: Option<String>,
    confirm_hash: Option<&str>,
) -> Result<Exit> {
    let mut approvals = open(home)?;
    let r = approvals.get(id)?;
    let now = node::now_ms();
    eprint!("{}", render_request(&r, now));
    match confirm_hash {
        Some(h) if h == r.action_hash => {}
        Some(h) => bail!(
            "`--confirm-hash {h}` does not match the action hash {}; nothing was approved",
            r.action_hash
        ),
        None => {
            if !std::io::stdin().is_terminal() {
                bail!(
                    "approving needs a person at a terminal to type the hash\nhint: from a script, pass `--confirm-hash {}` after reviewing `axtary approvals show {id}`",
                    r.action_hash
                );
            }
            let hex = r.action_hash.trim_start_matches("sha256:");
            let expected = hex.get(..8).unwrap_or(hex);
            eprint!("\nType the first 8 characters of the action hash to approve: ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            if line.trim() != expected {
                eprintln!("that does not match; nothing was approved");
                return Ok(Exit::Error);
            }
        }
    }
    let approver = Approver::load_or_create(home.root(), &approver_name(as_name))?;
    let (after, signed) = approvals.vote(id, &approver, true, None, now)?;
    record_vote(home, &after, signed)?;
    let have = after.valid_approvals().len();
    if after.status == "approved" {
        eprintln!(
            "approved {id} as `{}`: the agent may now run this exact action ({} use)",
            approver.name, after.uses
        );
    } else {
        eprintln!(
            "recorded `{}`'s approval of {id}: {have} of {} so far",
            approver.name, after.approvers.count
        );
    }
    Ok(Exit::Ok)
}

pub fn deny(home: &Home, id: &str, as_name: Option<String>, reason: &str) -> Result<Exit> {
    let mut approvals = open(home)?;
    let approver = Approver::load_or_create(home.root(), &approver_name(as_name))?;
    let (after, signed) = approvals.vote(id, &approver, false, Some(reason), node::now_ms())?;
    record_vote(home, &after, signed)?;
    eprintln!("denied {id} as `{}`", approver.name);
    Ok(Exit::Ok)
}

fn record_vote(home: &Home, after: &ApprovalRequest, signed: Value) -> Result<()> {
    let ledger = node::open_ledger(home)?;
    let body =
        serde_json::json!({"approval_id": after.id, "status": after.status, "signed": signed});
    let appended = ledger.append(EntryKind::Approval, body);
    ledger.close()?;
    appended.context("the approval was stored but could not be recorded in the ledger")?;
    Ok(())
}
