//! Claude Code hooks: the PreToolUse / PostToolUse payload and its mapping to an
//! [`ActionRequest`] (refs/PROTOCOLS.md §1).
//!
//! | tool | connector | operation | input |
//! |---|---|---|---|
//! | Bash | shell | exec | {command, cwd} |
//! | Read | fs | read | {path: file_path, cwd} |
//! | Write | fs | write | {path: file_path, content, cwd} |
//! | Edit, MultiEdit | fs | edit | {path: file_path, edits: [{old_string, new_string, replace_all?}], cwd} |
//! | Glob | fs | glob | {pattern, path?, cwd} |
//! | Grep | fs | search | {pattern, path?, cwd} |
//! | WebFetch | web | fetch | {url, prompt?} |
//! | WebSearch | web | search | {query, allowed_domains?, blocked_domains?} |
//! | mcp__&lt;server&gt;__&lt;tool&gt; | mcp:&lt;server&gt; | &lt;tool&gt; | tool_input as given |
//! | anything else | claude-code:&lt;tool&gt; | &lt;tool&gt; | {tool_input, cwd} |
//!
//! Fields of a mapped tool's input that the mapping does not name (Bash `timeout`, Read
//! `offset`, Grep `-i`, a field a later Claude Code adds) travel in `options`: bound by the
//! action hash like everything else and visible to policy by name (fact `options`). The one
//! exception is Bash's `description`, which is the model's summary of the command for the
//! permission prompt and does not change what runs; it is left out so that a retried call
//! whose description is worded differently still matches its approval.
//!
//! The envelope is read tolerantly (Claude Code adds fields; unknown ones are ignored), but
//! strictly as JSON: duplicate keys, invalid UTF-8 and the rest of [`json::parse_strict`]'s
//! refusals make the whole payload unreadable, which the hook answers with a deny.

use serde_json::{Map, Value};

use crate::action::{ActionRequest, type_name};
use crate::facts::{CLAUDE_CODE_PREFIX, is_server_name};
use crate::json::{self, JsonError, Limits};

/// The agent name of every request from the hook.
pub const AGENT: &str = "claude-code";

/// Which hook fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookEvent {
    PreToolUse,
    PostToolUse,
    /// Newer Claude Code versions report failed tool calls separately.
    PostToolUseFailure,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreToolUse => "PreToolUse",
            HookEvent::PostToolUse => "PostToolUse",
            HookEvent::PostToolUseFailure => "PostToolUseFailure",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            HookEvent::PreToolUse,
            HookEvent::PostToolUse,
            HookEvent::PostToolUseFailure,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// One hook invocation's input.
#[derive(Clone, Debug, PartialEq)]
pub struct HookInput {
    pub event: HookEvent,
    pub session_id: Option<String>,
    pub tool_use_id: Option<String>,
    /// Absolute working directory of the session, when given.
    pub cwd: Option<String>,
    pub permission_mode: Option<String>,
    pub tool_name: String,
    /// Always an object.
    pub tool_input: Value,
    /// PostToolUse only.
    pub tool_response: Option<Value>,
    /// PostToolUseFailure only: the error message.
    pub error: Option<String>,
}

/// Why a hook payload could not be read. The hook answers every one of these with a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("hook input is not valid JSON: {0}")]
    Json(#[from] JsonError),
    #[error("hook input: {0}")]
    Shape(String),
}

/// Parses a hook payload from untrusted bytes.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<HookInput, HookError> {
    from_value(json::parse_strict(bytes, limits)?)
}

/// Reads a hook payload from an already-parsed JSON value. Unknown fields are ignored.
pub fn from_value(value: Value) -> Result<HookInput, HookError> {
    let Value::Object(mut map) = value else {
        return Err(shape("must be a JSON object"));
    };
    let event_name = opt_string(&mut map, "hook_event_name")?
        .ok_or_else(|| shape("missing field `hook_event_name`"))?;
    let event = HookEvent::parse(&event_name).ok_or_else(|| {
        shape(&format!(
            "unsupported hook event `{}` (Axtary handles PreToolUse, PostToolUse and PostToolUseFailure)",
            event_name.escape_debug()
        ))
    })?;
    let tool_name = opt_string(&mut map, "tool_name")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| shape("missing field `tool_name`"))?;
    let tool_input = match map.remove("tool_input") {
        Some(v @ Value::Object(_)) => v,
        None | Some(Value::Null) => return Err(shape("missing field `tool_input`")),
        Some(v) => {
            return Err(shape(&format!(
                "`tool_input` must be an object, got {}",
                type_name(&v)
            )));
        }
    };
    let cwd = opt_string(&mut map, "cwd")?;
    if let Some(c) = &cwd
        && !c.starts_with('/')
    {
        return Err(shape(&format!(
            "`cwd` must be an absolute path (got `{}`)",
            c.escape_debug()
        )));
    }
    Ok(HookInput {
        event,
        session_id: opt_string(&mut map, "session_id")?,
        tool_use_id: opt_string(&mut map, "tool_use_id")?,
        cwd,
        permission_mode: opt_string(&mut map, "permission_mode")?,
        tool_name,
        tool_input,
        tool_response: map.remove("tool_response"),
        error: match map.remove("error") {
            Some(Value::String(s)) => Some(s),
            None | Some(Value::Null) => None,
            Some(other) => Some(other.to_string()),
        },
    })
}

fn shape(message: &str) -> HookError {
    HookError::Shape(message.to_owned())
}

fn opt_string(map: &mut Map<String, Value>, field: &str) -> Result<Option<String>, HookError> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(shape(&format!(
            "`{field}` must be a string, got {}",
            type_name(&v)
        ))),
    }
}

impl HookInput {
    /// The request's `context`: who asked, from where (bound by approvals and recorded).
    pub fn context(&self) -> Value {
        let mut c = Map::new();
        let fields = [
            ("session_id", &self.session_id),
            ("tool_use_id", &self.tool_use_id),
            ("cwd", &self.cwd),
            ("permission_mode", &self.permission_mode),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                c.insert(k.into(), Value::String(v.clone()));
            }
        }
        c.insert("tool_name".into(), Value::String(self.tool_name.clone()));
        Value::Object(c)
    }

    /// The action request this tool call asks for (see the module docs for the mapping).
    pub fn to_request(&self) -> ActionRequest {
        let (connector, operation, input) =
            map_tool(&self.tool_name, &self.tool_input, self.cwd.as_deref());
        ActionRequest {
            agent: AGENT.to_owned(),
            connector,
            operation,
            input,
            context: Some(self.context()),
        }
    }
}

/// How one tool's fields map onto a connector's input.
struct Mapping {
    connector: &'static str,
    operation: &'static str,
    /// (tool field, input field) pairs.
    fields: &'static [(&'static str, &'static str)],
    /// Tool fields dropped because they do not change what runs.
    dropped: &'static [&'static str],
    /// Whether the input takes `cwd`.
    cwd: bool,
}

fn mapping(tool: &str) -> Option<Mapping> {
    let m = |connector, operation, fields, dropped, cwd| Mapping {
        connector,
        operation,
        fields,
        dropped,
        cwd,
    };
    Some(match tool {
        "Bash" => m(
            "shell",
            "exec",
            &[("command", "command")],
            &["description"],
            true,
        ),
        "Read" => m("fs", "read", &[("file_path", "path")], &[], true),
        "Write" => m(
            "fs",
            "write",
            &[("file_path", "path"), ("content", "content")],
            &[],
            true,
        ),
        // Edit's own fields become a one-element `edits`, below.
        "Edit" => m("fs", "edit", &[("file_path", "path")], &[], true),
        "MultiEdit" => m(
            "fs",
            "edit",
            &[("file_path", "path"), ("edits", "edits")],
            &[],
            true,
        ),
        "Glob" => m(
            "fs",
            "glob",
            &[("pattern", "pattern"), ("path", "path")],
            &[],
            true,
        ),
        "Grep" => m(
            "fs",
            "search",
            &[("pattern", "pattern"), ("path", "path")],
            &[],
            true,
        ),
        "WebFetch" => m(
            "web",
            "fetch",
            &[("url", "url"), ("prompt", "prompt")],
            &[],
            false,
        ),
        "WebSearch" => m(
            "web",
            "search",
            &[
                ("query", "query"),
                ("allowed_domains", "allowed_domains"),
                ("blocked_domains", "blocked_domains"),
            ],
            &[],
            false,
        ),
        _ => return None,
    })
}

/// Maps one tool call to (connector, operation, input). Total: a tool input the connector
/// will refuse still maps, so the refusal is decided and recorded like any other deny.
pub fn map_tool(tool: &str, tool_input: &Value, cwd: Option<&str>) -> (String, String, Value) {
    let empty = Map::new();
    let ti = tool_input.as_object().unwrap_or(&empty);
    if let Some(rest) = tool.strip_prefix("mcp__") {
        // `mcp__<server>__<tool>`: the server name ends at the first `__`.
        if let Some((server, name)) = rest.split_once("__")
            && !server.is_empty()
            && !name.is_empty()
        {
            return (format!("mcp:{server}"), name.to_owned(), tool_input.clone());
        }
    }
    let Some(m) = mapping(tool) else {
        let connector = if is_server_name(tool) {
            format!("{CLAUDE_CODE_PREFIX}{tool}")
        } else {
            // Not a name a rule could spell; the normalizer refuses it (deny, recorded).
            format!("{CLAUDE_CODE_PREFIX}{}", tool.escape_debug())
        };
        let mut input = Map::new();
        input.insert("tool_input".into(), tool_input.clone());
        if let Some(c) = cwd {
            input.insert("cwd".into(), Value::String(c.to_owned()));
        }
        return (connector, tool.to_owned(), Value::Object(input));
    };
    let mut input = Map::new();
    let mut options = Map::new();
    let mut edit = Map::new();
    for (k, v) in ti {
        if let Some((_, to)) = m.fields.iter().find(|(from, _)| from == k) {
            input.insert((*to).to_owned(), v.clone());
        } else if tool == "Edit"
            && matches!(k.as_str(), "old_string" | "new_string" | "replace_all")
        {
            edit.insert(k.clone(), v.clone());
        } else if !m.dropped.contains(&k.as_str()) {
            options.insert(k.clone(), v.clone());
        }
    }
    if tool == "Edit" {
        input.insert("edits".into(), Value::Array(vec![Value::Object(edit)]));
    }
    if !options.is_empty() {
        input.insert("options".into(), Value::Object(options));
    }
    if m.cwd
        && let Some(c) = cwd
    {
        input.insert("cwd".into(), Value::String(c.to_owned()));
    }
    (
        m.connector.to_owned(),
        m.operation.to_owned(),
        Value::Object(input),
    )
}

/// Whether a PostToolUse `tool_response` reports a failure (an MCP `isError`, a tool's
/// `is_error`/`error`, or an interrupted command).
pub fn response_failed(response: &Value) -> bool {
    let Value::Object(map) = response else {
        return false;
    };
    let flag = |k: &str| matches!(map.get(k), Some(Value::Bool(true)));
    flag("isError")
        || flag("is_error")
        || flag("interrupted")
        || matches!(map.get("success"), Some(Value::Bool(false)))
        || matches!(map.get("error"), Some(Value::String(s)) if !s.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hook(tool: &str, input: Value) -> HookInput {
        let v = json!({
            "session_id": "s1", "transcript_path": "/t.jsonl", "cwd": "/home/u/repo",
            "permission_mode": "default", "hook_event_name": "PreToolUse",
            "tool_name": tool, "tool_input": input, "tool_use_id": "toolu_1",
            "some_future_field": {"x": 1}
        });
        from_value(v).unwrap()
    }

    fn req(tool: &str, input: Value) -> ActionRequest {
        hook(tool, input).to_request()
    }

    #[test]
    fn maps_every_tool() {
        let cases = [
            (
                "Bash",
                json!({"command": "ls", "description": "List", "timeout": 5000}),
                "shell",
                "exec",
                json!({"command": "ls", "cwd": "/home/u/repo", "options": {"timeout": 5000}}),
            ),
            (
                "Read",
                json!({"file_path": "/a", "offset": 1}),
                "fs",
                "read",
                json!({"path": "/a", "cwd": "/home/u/repo", "options": {"offset": 1}}),
            ),
            (
                "Write",
                json!({"file_path": "/a", "content": "x"}),
                "fs",
                "write",
                json!({"path": "/a", "content": "x", "cwd": "/home/u/repo"}),
            ),
            (
                "Edit",
                json!({"file_path": "/a", "old_string": "x", "new_string": "y"}),
                "fs",
                "edit",
                json!({"path": "/a", "edits": [{"old_string": "x", "new_string": "y"}], "cwd": "/home/u/repo"}),
            ),
            (
                "MultiEdit",
                json!({"file_path": "/a", "edits": [{"old_string": "x", "new_string": "y"}]}),
                "fs",
                "edit",
                json!({"path": "/a", "edits": [{"old_string": "x", "new_string": "y"}], "cwd": "/home/u/repo"}),
            ),
            (
                "Glob",
                json!({"pattern": "**/*.rs"}),
                "fs",
                "glob",
                json!({"pattern": "**/*.rs", "cwd": "/home/u/repo"}),
            ),
            (
                "Grep",
                json!({"pattern": "fn main", "path": "src", "-i": true}),
                "fs",
                "search",
                json!({"pattern": "fn main", "path": "src", "cwd": "/home/u/repo", "options": {"-i": true}}),
            ),
            (
                "WebFetch",
                json!({"url": "https://x.dev", "prompt": "sum"}),
                "web",
                "fetch",
                json!({"url": "https://x.dev", "prompt": "sum"}),
            ),
            (
                "WebSearch",
                json!({"query": "rust"}),
                "web",
                "search",
                json!({"query": "rust"}),
            ),
            (
                "mcp__github__create_issue",
                json!({"title": "t"}),
                "mcp:github",
                "create_issue",
                json!({"title": "t"}),
            ),
            (
                "mcp__my-srv__a__b",
                json!({}),
                "mcp:my-srv",
                "a__b",
                json!({}),
            ),
            (
                "TodoWrite",
                json!({"todos": []}),
                "claude-code:TodoWrite",
                "TodoWrite",
                json!({"tool_input": {"todos": []}, "cwd": "/home/u/repo"}),
            ),
        ];
        for (tool, input, connector, operation, expected) in cases {
            let r = req(tool, input);
            assert_eq!(r.agent, "claude-code");
            assert_eq!(
                (r.connector.as_str(), r.operation.as_str()),
                (connector, operation),
                "{tool}"
            );
            assert_eq!(r.input, expected, "{tool}");
            assert_eq!(
                r.context,
                Some(
                    json!({"session_id": "s1", "tool_use_id": "toolu_1", "cwd": "/home/u/repo",
                            "permission_mode": "default", "tool_name": tool})
                )
            );
        }
    }

    #[test]
    fn refuses_unreadable_envelopes() {
        let limits = Limits::default();
        for (input, needle) in [
            (&b"not json"[..], "not valid JSON"),
            (b"[]", "must be a JSON object"),
            (b"{\"tool_name\":\"Bash\",\"tool_input\":{}}", "hook_event_name"),
            (
                b"{\"hook_event_name\":\"Stop\",\"tool_name\":\"Bash\",\"tool_input\":{}}",
                "unsupported hook event `Stop`",
            ),
            (
                b"{\"hook_event_name\":\"PreToolUse\",\"tool_input\":{}}",
                "missing field `tool_name`",
            ),
            (
                b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\"}",
                "missing field `tool_input`",
            ),
            (
                b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":\"ls\"}",
                "must be an object",
            ),
            (
                b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{},\"cwd\":\"rel\"}",
                "absolute",
            ),
            (
                b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\",\"command\":\"rm -rf /\"}}",
                "duplicate key",
            ),
            (
                b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"\xff\"}}",
                "UTF-8",
            ),
        ] {
            let e = parse(input, limits).unwrap_err().to_string();
            assert!(e.contains(needle), "{}: {e}", String::from_utf8_lossy(input));
        }
    }

    /// The fuzz target's property, run deterministically in `cargo test`: mutated payloads
    /// for every tool map and normalize without panicking.
    #[test]
    fn mutated_payloads_never_panic() {
        use crate::normalize::{NormalizeOptions, normalize};
        let seeds = [
            r#"{"hook_event_name":"PreToolUse","cwd":"/r","tool_name":"Bash","tool_input":{"command":"bash -c 'cat ../.env' && $(x)","timeout":5}}"#,
            r#"{"hook_event_name":"PreToolUse","cwd":"/r","tool_name":"MultiEdit","tool_input":{"file_path":"../a","edits":[{"old_string":"a","new_string":"b"}]}}"#,
            r#"{"hook_event_name":"PreToolUse","cwd":"/r","tool_name":"Glob","tool_input":{"pattern":"**/../{a,b}/*","path":"~/x"}}"#,
            r#"{"hook_event_name":"PreToolUse","cwd":"/r","tool_name":"WebFetch","tool_input":{"url":"https://a@b.c:1/x","prompt":"p"}}"#,
            r#"{"hook_event_name":"PreToolUse","cwd":"/r","tool_name":"mcp__s__t","tool_input":{"a":[1,{"b":null}]}}"#,
            r#"{"hook_event_name":"PostToolUse","cwd":"/r","tool_name":"NotebookEdit","tool_input":{"notebook_path":"n"},"tool_response":{"isError":true}}"#,
        ];
        const NOISE: &[u8] = b"{}[]\":,/.~*$`'\\ _0aZ\x00\xff";
        let opts = NormalizeOptions {
            user_home: Some("/home/u".into()),
            ..Default::default()
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        for case in 0..6000 {
            let mut bytes = seeds[case % seeds.len()].as_bytes().to_vec();
            for _ in 0..=next(3) {
                let i = next(bytes.len());
                match next(3) {
                    0 => bytes.insert(i, NOISE[next(NOISE.len())]),
                    1 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => {
                        if let Some(b) = bytes.get_mut(i) {
                            *b = NOISE[next(NOISE.len())];
                        }
                    }
                }
            }
            if let Ok(hook) = parse(&bytes, Limits::default()) {
                let req = hook.to_request();
                if let Ok(a) = normalize(&req, &opts) {
                    let _ = a.hash();
                }
                if let Some(r) = &hook.tool_response {
                    let _ = response_failed(r);
                }
            }
        }
    }

    #[test]
    fn failures_in_responses() {
        assert!(response_failed(&json!({"isError": true})));
        assert!(response_failed(&json!({"interrupted": true, "stdout": ""})));
        assert!(!response_failed(
            &json!({"stdout": "ok", "interrupted": false})
        ));
        assert!(!response_failed(&json!("text")));
    }
}
