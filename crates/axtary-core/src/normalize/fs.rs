//! fs: files. Claude Code's Read (`read`), Write (`write`), Edit and MultiEdit (`edit`), Glob
//! (`glob`) and Grep (`search`) map here.
//!
//! The payload binds the resolved absolute path, not the spelling the agent chose, so two
//! spellings of one file hash alike. `options` (tool fields with no meaning for policy, such
//! as Read's `offset`) and `real_paths` (symlink targets a surface found) are bound as given.

use serde_json::{Map, Value};

use super::input::{Input, wrong_type};
use super::paths::{Resolved, resolve_with_real};
use super::{Failure, NormalizeOptions, Normalized};
use crate::facts::{Fact, Facts};

/// Most edits in one `edit` (MultiEdit).
const MAX_EDITS: usize = 1000;

pub(crate) fn normalize(
    op: &str,
    value: &Value,
    opts: &NormalizeOptions,
) -> Result<Normalized, Failure> {
    const COMMON: [&str; 3] = ["cwd", "options", "real_paths"];
    let fields: &[&str] = match op {
        "read" => &["path"],
        "write" => &["path", "content"],
        "edit" => &["path", "edits"],
        "glob" | "search" => &["pattern", "path"],
        _ => return Err(Failure::UnknownOperation("read, write, edit, glob, search")),
    };
    let allowed: Vec<&str> = fields.iter().chain(COMMON.iter()).copied().collect();
    let input = Input::new(value, &allowed)?;
    let cwd = input.opt_abs_dir("cwd")?;
    let real = input.real_paths()?.unwrap_or_default();
    let options = input.options()?;
    let searching = matches!(op, "glob" | "search");

    // The path the operation names: for glob and search, the directory searched (default cwd).
    let raw = if searching {
        match input.opt_text("path", 4096)? {
            Some(p) if !p.is_empty() => p,
            _ => cwd
                .as_deref()
                .ok_or_else(|| Failure::Input("`glob` and `search` need `path` or `cwd`".into()))?,
        }
    } else {
        input.text("path", 4096)?
    };
    let resolved = super::paths::resolve(raw, cwd.as_deref(), opts.user_home.as_deref())
        .map_err(Failure::Input)?;
    let Some(abs) = resolved.abs else {
        return Err(Failure::Input(format!(
            "relative path `{}` needs `cwd` (an absolute working directory)",
            raw.escape_debug()
        )));
    };

    let mut payload = Map::new();
    payload.insert("path".into(), Value::String(abs.clone()));
    let mut facts = Facts::new();
    // Where the operation reaches: the file, or for glob the deepest directory the pattern
    // names literally (`../.axtary/*` from `/r` reaches `/.axtary`).
    let mut reach = abs.clone();
    match op {
        "write" => {
            let Some(Value::String(c)) = input.get("content") else {
                return Err(Failure::Input(
                    "`content` must be a string (use \"\" for an empty file)".into(),
                ));
            };
            payload.insert("content".into(), Value::String(c.clone()));
        }
        "edit" => {
            payload.insert("edits".into(), Value::Array(edits(input.array("edits")?)?));
        }
        "glob" | "search" => {
            let max = if op == "glob" { 4096 } else { 64 * 1024 };
            let pattern = input.text("pattern", max)?;
            if pattern.contains('\0') {
                return Err(Failure::Input("`pattern` must not contain NUL".into()));
            }
            if op == "glob" {
                reach = glob_root(&abs, pattern, opts.user_home.as_deref())?;
            }
            payload.insert("pattern".into(), Value::String(pattern.to_owned()));
            facts.insert("pattern".into(), pattern.into());
        }
        _ => {}
    }
    if let Some((v, _)) = &options {
        payload.insert("options".into(), (*v).clone());
    }
    if !real.is_empty() {
        payload.insert(
            "real_paths".into(),
            Value::Object(
                real.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
    }

    // The reach, and its real form when a surface found one.
    let (reach, reach_real) =
        resolve_with_real(&reach, cwd.as_deref(), None, &real).map_err(Failure::Input)?;
    let forms: Vec<&Resolved> = std::iter::once(&reach).chain(reach_real.as_ref()).collect();
    let write = matches!(op, "write" | "edit");
    facts.insert("op".into(), if write { "write" } else { "read" }.into());
    facts.insert("path".into(), reach.display.clone().into());
    let mut paths: Vec<String> = forms.iter().map(|r| r.display.clone()).collect();
    paths.dedup();
    facts.insert("paths".into(), Fact::List(paths));
    facts.insert(
        "abs_paths".into(),
        Fact::List(forms.iter().filter_map(|r| r.abs.clone()).collect()),
    );
    facts.insert(
        "in_project".into(),
        forms.iter().all(|r| r.in_project).into(),
    );
    if searching {
        facts.insert("recursive".into(), true.into());
    }
    if let Some((_, keys)) = options {
        facts.insert("options".into(), Fact::List(keys));
    }
    if let Some(cwd) = cwd {
        facts.insert("cwd".into(), cwd.into());
    }
    Ok(Normalized {
        resource: format!("fs:{abs}"),
        payload: Value::Object(payload),
        facts,
    })
}

/// Checks MultiEdit-style edits: `[{old_string, new_string, replace_all?}]`.
fn edits(items: &[Value]) -> Result<Vec<Value>, Failure> {
    if items.is_empty() || items.len() > MAX_EDITS {
        return Err(Failure::Input(format!(
            "`edits` must hold 1 to {MAX_EDITS} edits"
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let field = format!("edits[{i}]");
            let Value::Object(map) = e else {
                return Err(wrong_type(&field, "an object", e));
            };
            if let Some(k) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "old_string" | "new_string" | "replace_all"))
            {
                return Err(Failure::Input(format!(
                    "unknown field `{k}` in `{field}` (expected old_string, new_string, replace_all)"
                )));
            }
            for f in ["old_string", "new_string"] {
                match map.get(f) {
                    Some(Value::String(_)) => {}
                    Some(v) => return Err(wrong_type(&format!("{field}.{f}"), "a string", v)),
                    None => return Err(Failure::Input(format!("`{field}` needs `{f}`"))),
                }
            }
            match map.get("replace_all") {
                None | Some(Value::Bool(_)) | Some(Value::Null) => {}
                Some(v) => return Err(wrong_type(&format!("{field}.replace_all"), "a boolean", v)),
            }
            Ok(e.clone())
        })
        .collect()
}

/// The deepest directory a glob `pattern`, relative to `base` (or absolute), names literally:
/// the components before the first one with a glob character. A `..` after a glob character
/// could climb anywhere, so the root is then `/`.
fn glob_root(base: &str, pattern: &str, user_home: Option<&str>) -> Result<String, Failure> {
    let is_glob = |c: &str| c.contains(['*', '?', '[', ']', '{', '}', '\\']);
    let comps: Vec<&str> = pattern.split('/').collect();
    let first_glob = comps.iter().position(|c| is_glob(c)).unwrap_or(comps.len());
    if comps[first_glob..].contains(&"..") {
        return Ok("/".to_owned());
    }
    // Without a glob character the last component is the file itself; its directory is listed.
    let literal_end = if first_glob == comps.len() {
        comps.len().saturating_sub(1)
    } else {
        first_glob
    };
    let literal = comps[..literal_end].join("/");
    let literal = if literal.is_empty() && pattern.starts_with('/') {
        "/".to_owned()
    } else {
        literal
    };
    if literal.is_empty() {
        return Ok(base.to_owned());
    }
    let r = super::paths::resolve(&literal, Some(base), user_home).map_err(Failure::Input)?;
    Ok(r.abs.unwrap_or_else(|| base.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::glob_root;

    #[test]
    fn glob_roots() {
        for (pattern, root) in [
            ("**/*.rs", "/r"),
            ("src/**/*.rs", "/r/src"),
            ("*.md", "/r"),
            ("../.axtary/*", "/.axtary"),
            ("/home/u/.axtary/**", "/home/u/.axtary"),
            ("/**/x", "/"),
            ("a/{b,c}/d", "/r/a"),
            ("**/../../x", "/"),
            ("docs/readme.md", "/r/docs"),
            ("~/.axtary/*", "/home/u/.axtary"),
        ] {
            assert_eq!(
                glob_root("/r", pattern, Some("/home/u")).ok().as_deref(),
                Some(root),
                "{pattern}"
            );
        }
    }
}
