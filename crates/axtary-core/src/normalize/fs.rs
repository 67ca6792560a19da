//! fs: read and write files (Claude Code's Read, Write, Edit, Glob and Grep map here).

use serde_json::{Map, Value};

use super::input::Input;
use super::paths::resolve;
use super::{Failure, NormalizeOptions, Normalized};
use crate::facts::{Fact, Facts};

pub(crate) fn normalize(
    op: &str,
    value: &Value,
    opts: &NormalizeOptions,
) -> Result<Normalized, Failure> {
    let input = match op {
        "read" => Input::new(value, &["path", "cwd"])?,
        "write" => Input::new(value, &["path", "content", "cwd"])?,
        _ => return Err(Failure::UnknownOperation("read, write")),
    };
    let raw = input.text("path", 4096)?;
    let cwd = input.opt_abs_dir("cwd")?;
    let resolved =
        resolve(raw, cwd.as_deref(), opts.user_home.as_deref()).map_err(Failure::Input)?;
    let Some(abs) = resolved.abs else {
        return Err(Failure::Input(format!(
            "relative path `{}` needs `cwd` (an absolute working directory)",
            raw.escape_debug()
        )));
    };
    let content = if op == "write" {
        let Some(Value::String(c)) = input.get("content") else {
            return Err(Failure::Input(
                "`content` must be a string (use \"\" for an empty file)".into(),
            ));
        };
        Some(c)
    } else {
        None
    };
    // The payload binds the resolved path, not the spelling the agent chose.
    let mut payload = Map::new();
    payload.insert("path".into(), Value::String(abs.clone()));
    if let Some(c) = content {
        payload.insert("content".into(), Value::String(c.clone()));
    }
    let mut facts = Facts::new();
    facts.insert("op".into(), op.into());
    facts.insert("path".into(), resolved.display.clone().into());
    facts.insert("paths".into(), Fact::List(vec![resolved.display]));
    facts.insert("abs_paths".into(), Fact::List(vec![abs.clone()]));
    facts.insert("in_project".into(), resolved.in_project.into());
    if let Some(cwd) = cwd {
        facts.insert("cwd".into(), cwd.into());
    }
    Ok(Normalized {
        resource: format!("fs:{abs}"),
        payload: Value::Object(payload),
        facts,
    })
}
