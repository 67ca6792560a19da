//! claude-code:<tool>: Claude Code tools with no normalizer of their own (Task, TodoWrite,
//! NotebookEdit, tools added in later versions, ...). Input `{tool_input, cwd?, real_paths?}`;
//! operation = the tool name; payload = the input as given.
//!
//! Policy cannot know what an unknown tool does, so the starter policy denies them unless a
//! rule allows one by name. Path-like fields (`file_path`, `notebook_path`, `path`) still
//! become the `paths` facts, so the built-in self-protection rules see them.

use serde_json::Value;

use super::input::Input;
use super::paths::PathSet;
use super::{Failure, NormalizeOptions, Normalized};
use crate::facts::{CLAUDE_CODE_PREFIX, Fact, Facts};

/// Fields of a tool's input that name a file or directory.
const PATH_FIELDS: &[&str] = &["file_path", "notebook_path", "path"];

pub(crate) fn normalize(
    connector: &str,
    op: &str,
    value: &Value,
    opts: &NormalizeOptions,
) -> Result<Normalized, Failure> {
    let tool = connector
        .strip_prefix(CLAUDE_CODE_PREFIX)
        .unwrap_or(connector);
    if op != tool {
        return Err(Failure::Input(format!(
            "the operation of `{connector}` must be the tool name `{tool}` (got `{}`)",
            op.escape_debug()
        )));
    }
    let input = Input::new(value, &["tool_input", "cwd", "real_paths"])?;
    let Some(Value::Object(tool_input)) = input.get("tool_input") else {
        return Err(Failure::Input("`tool_input` must be an object".into()));
    };
    let cwd = input.opt_abs_dir("cwd")?;
    let real = input.real_paths()?.unwrap_or_default();
    let raw: Vec<String> = PATH_FIELDS
        .iter()
        .filter_map(|f| tool_input.get(*f))
        .filter_map(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let mut facts = Facts::new();
    facts.insert("tool".into(), tool.into());
    if !raw.is_empty() {
        let mut set = PathSet::new(cwd.as_deref(), opts.user_home.as_deref()).with_real(&real);
        set.add_all(&raw);
        let (paths, abs_paths) = set.finish();
        // In the project only if every form of every path is (a relative path without a cwd
        // is not known to be).
        let in_project = cwd.as_deref().is_some_and(|c| {
            let real_cwd = real.get(c).map_or(c, String::as_str);
            abs_paths.len() >= raw.len()
                && abs_paths.iter().all(|p| {
                    [c, real_cwd].iter().any(|base| {
                        p == base || p.starts_with(&format!("{}/", base.trim_end_matches('/')))
                    })
                })
        });
        facts.insert("paths".into(), Fact::List(paths));
        facts.insert("abs_paths".into(), Fact::List(abs_paths));
        facts.insert("in_project".into(), in_project.into());
    }
    if let Some(cwd) = cwd {
        facts.insert("cwd".into(), cwd.into());
    }
    Ok(Normalized {
        resource: connector.to_owned(),
        payload: value.clone(),
        facts,
    })
}
