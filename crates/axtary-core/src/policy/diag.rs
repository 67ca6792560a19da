//! Load-time diagnostics: what is wrong, where, and a hint how to fix it.

use serde::Serialize;

use super::yaml::Span;

/// How bad a diagnostic is. Errors stop a policy from loading; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found while loading a policy, with its position in the source.
///
/// `line` and `column` are 1-based (the column counts characters, not bytes); both are 0
/// when the position is unknown. `length` is how many characters to underline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, span, message)
    }

    pub(crate) fn warning(span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, span, message)
    }

    fn new(severity: Severity, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            line: span.line,
            column: span.column,
            length: span.len.max(1),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic as plain text, rustc style, quoting the source line:
    ///
    /// ```text
    /// error: unknown effect `alow`
    ///   --> policy.yaml:12:13
    ///    |
    /// 12 |     effect: alow
    ///    |             ^^^^
    ///    = hint: expected one of allow, deny, require_approval (did you mean `allow`?)
    /// ```
    ///
    /// `origin` names the file; `source` is the text the policy was loaded from.
    pub fn render(&self, origin: &str, source: &str) -> String {
        use std::fmt::Write as _;

        let mut out = String::new();
        let _ = writeln!(out, "{}: {}", self.severity.as_str(), self.message);
        let line_text = self
            .line
            .checked_sub(1)
            .and_then(|i| source.split('\n').nth(i))
            .map(|l| l.strip_suffix('\r').unwrap_or(l));
        let gutter = match line_text {
            Some(_) => self.line.to_string().len(),
            None => 1,
        };
        let pad = " ".repeat(gutter);
        match line_text {
            Some(text) => {
                let _ = writeln!(out, "{pad}--> {origin}:{}:{}", self.line, self.column);
                let _ = writeln!(out, "{pad} |");
                // Tabs and other control characters would break the alignment of the caret
                // line (and must not reach a terminal raw): show each as one space.
                let shown: String = text
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let _ = writeln!(out, "{} | {}", self.line, shown.trim_end());
                let width = shown.chars().count();
                let start = self.column.saturating_sub(1).min(width);
                let len = self.length.max(1).min(width.saturating_sub(start).max(1));
                let _ = writeln!(out, "{pad} | {}{}", " ".repeat(start), "^".repeat(len));
            }
            None => {
                let _ = writeln!(out, "{pad}--> {origin}");
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = hint: {hint}");
        }
        out
    }
}

/// Levenshtein distance, in characters. Inputs here are short identifiers.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidates closest to `word` (at most three, nearest first), if any is close enough
/// to be a plausible typo.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// `did you mean `x`?` / `did you mean `x` or `y`?`, or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let near = nearest(word, candidates);
    if near.is_empty() {
        return None;
    }
    let quoted: Vec<String> = near.iter().map(|c| format!("`{c}`")).collect();
    Some(format!("did you mean {}?", quoted.join(" or ")))
}
