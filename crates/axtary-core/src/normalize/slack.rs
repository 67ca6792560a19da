//! slack: chat.post.

use serde_json::Value;

use super::input::Input;
use super::{Failure, Normalized};
use crate::facts::{Fact, Facts};

/// Slack truncates messages past 40,000 characters; refuse rather than send something else.
const MAX_TEXT_CHARS: usize = 40_000;

pub(crate) fn normalize(op: &str, value: &Value) -> Result<Normalized, Failure> {
    if op != "chat.post" {
        return Err(Failure::UnknownOperation("chat.post"));
    }
    let input = Input::new(value, &["channel", "text", "thread_ts"])?;
    let channel = input.line("channel")?;
    let valid_channel = match channel.strip_prefix('#') {
        Some(name) => {
            !name.is_empty()
                && name.len() <= 80
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
                })
        }
        None => {
            channel.len() >= 9
                && channel.len() <= 24
                && matches!(channel.as_bytes().first(), Some(b'C' | b'G' | b'D'))
                && channel
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
    };
    if !valid_channel {
        return Err(Failure::Input(format!(
            "`channel` must be `#name` (lower-case) or a channel id like `C0123ABCDEF` (got `{}`)",
            channel.escape_debug()
        )));
    }
    let text = input.text("text", 4 * MAX_TEXT_CHARS)?;
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(Failure::Input(format!(
            "`text` is {chars} characters; Slack accepts at most {MAX_TEXT_CHARS}"
        )));
    }
    let in_thread = match input.opt_text("thread_ts", 32)? {
        Some(ts) => {
            let valid = ts.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            });
            if !valid {
                return Err(Failure::Input(format!(
                    "`thread_ts` must look like `1712345678.000100` (got `{}`)",
                    ts.escape_debug()
                )));
            }
            true
        }
        None => false,
    };
    let mut facts = Facts::new();
    facts.insert("channel".into(), channel.into());
    facts.insert(
        "text_length".into(),
        Fact::Int(i64::try_from(chars).unwrap_or(i64::MAX)),
    );
    facts.insert("mentions".into(), Fact::List(mentions(text)));
    facts.insert("has_links".into(), has_links(text).into());
    facts.insert("in_thread".into(), in_thread.into());
    Ok(Normalized {
        resource: format!("slack:{channel}"),
        payload: value.clone(),
        facts,
    })
}

/// Broadcast mentions and user/group ids, in Slack's escaped form (`<!here>`, `<@U123>`,
/// `<!subteam^S123>`) and as typed (`@here`).
fn mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |m: String| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    for word in ["here", "channel", "everyone"] {
        if text.contains(&format!("<!{word}")) || contains_word(text, &format!("@{word}")) {
            push(format!("@{word}"));
        }
    }
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let inner = &rest[..end];
        let id = inner.split('|').next().unwrap_or("");
        if let Some(user) = id.strip_prefix('@') {
            push(format!("@{user}"));
        } else if let Some(group) = id.strip_prefix("!subteam^") {
            push(format!("@{group}"));
        }
        rest = &rest[end..];
    }
    out
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let after = text[i + word.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

fn has_links(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("http://")
        || lower.contains("https://")
        || lower.contains("<mailto:")
        || lower.contains("www.")
}
