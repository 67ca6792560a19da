//! The small AST the parser builds and the analysis walks.
//!
//! It keeps only what a static reading needs. `&&`, `||`, `;`, `&` and `!` are dropped: the
//! analysis assumes every command in a list may run, which over-approximates what a command line
//! can do, and that is the safe direction for a deny-oriented policy.

use std::cell::OnceCell;
use std::rc::Rc;

/// A sequence of pipelines, whatever separated them.
#[derive(Debug, Default)]
pub(super) struct List {
    pub(super) pipelines: Vec<Pipeline>,
}

/// Commands joined by `|` or `|&`.
#[derive(Debug)]
pub(super) struct Pipeline {
    pub(super) commands: Vec<Command>,
}

#[derive(Debug)]
pub(super) enum Command {
    Simple(SimpleCommand),
    Compound(Compound, Vec<Redirect>),
    /// `name() body` or `function name body`. The body is analyzed as if it ran, since a
    /// later command may call it.
    Function(Box<Command>),
}

/// `FOO=1 cmd arg >out`: prefix assignments, words (the command name first) and redirections.
#[derive(Debug, Default)]
pub(super) struct SimpleCommand {
    pub(super) assignments: Vec<Word>,
    pub(super) words: Vec<Word>,
    pub(super) redirects: Vec<Redirect>,
}

#[derive(Debug)]
pub(super) enum Compound {
    /// `( list )`
    Subshell(List),
    /// `{ list; }`
    Group(List),
    /// `if c; then b; elif c; then b; else b; fi`: every condition and every body.
    If(Vec<List>),
    /// `while`/`until`: the condition and the body.
    Loop(List, List),
    /// `for name in words; do body; done` (also `select`) and `for ((...))`: the words (or the
    /// arithmetic header) and the body.
    For(Vec<Word>, List),
    /// `case word in pattern) body;; esac`: the subject, every pattern and every body.
    Case(Word, Vec<Word>, Vec<List>),
    /// `(( expression ))`
    Arith(Word),
    /// `[[ expression ]]`: only its words matter (they may hold substitutions).
    Cond(Vec<Word>),
}

/// A shell word as written: its parts before expansion, plus the source text for display.
#[derive(Debug, Default)]
pub(super) struct Word {
    pub(super) parts: Vec<Part>,
    pub(super) raw: String,
}

#[derive(Debug)]
pub(super) enum Part {
    /// Literal text after quote removal. `quoted` text is never a glob or a reserved word.
    Lit { text: String, quoted: bool },
    /// `$x`, `${x...}`: unknown statically. The parts inside `${...}` (a default value, say)
    /// may hold command substitutions that run.
    Param(Vec<Part>),
    /// `$(...)` or `` `...` ``.
    CommandSub(List),
    /// `<(...)` or `>(...)`: the word becomes a pipe path such as `/dev/fd/63`.
    ProcessSub(List),
    /// `$((...))`: its parts, which may hold substitutions.
    Arith(Vec<Part>),
    /// `name=(a b c)`: the elements.
    Array(Vec<Word>),
}

#[derive(Debug)]
pub(super) struct Redirect {
    pub(super) op: RedirOp,
    pub(super) target: RedirTarget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RedirOp {
    /// `<`
    Read,
    /// `>`, `>>`, `>|`, `&>`, `&>>`
    Write,
    /// `<>`
    ReadWrite,
    /// `<&`
    DupIn,
    /// `>&`: a duplication when the target is a number or `-`, otherwise a write (bash).
    DupOut,
    /// `<<<`
    HereString,
    /// `<<` and `<<-`
    Heredoc { strip_tabs: bool },
}

#[derive(Debug)]
pub(super) enum RedirTarget {
    Word(Word),
    /// A heredoc body. The parser meets the body only after the rest of the line, so the
    /// redirection holds a cell that is filled when the body is read. An unquoted body is parsed
    /// like a double-quoted string: its `$(...)` run.
    Heredoc(Rc<OnceCell<Word>>),
}

/// Words that are reserved in command position (only when unquoted and alone).
const RESERVED: &[&str] = &[
    "if", "then", "elif", "else", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "select", "in", "function", "{", "}", "!", "[[", "]]", "coproc",
];

impl Word {
    /// The reserved word this word spells, if it is one.
    pub(super) fn reserved(&self) -> Option<&'static str> {
        match self.parts.as_slice() {
            [
                Part::Lit {
                    text,
                    quoted: false,
                },
            ] => RESERVED.iter().find(|k| **k == text).copied(),
            _ => None,
        }
    }

    /// `NAME=...` or `NAME+=...` at the start, unquoted.
    pub(super) fn is_assignment(&self) -> bool {
        let Some(Part::Lit {
            text,
            quoted: false,
        }) = self.parts.first()
        else {
            return false;
        };
        let Some(eq) = text.find('=') else {
            return false;
        };
        let name = text.get(..eq).unwrap_or_default();
        let name = name.strip_suffix('+').unwrap_or(name);
        is_name(name)
    }

    /// The word's value after quote removal when it can be known without running anything:
    /// no parameter, substitution, arithmetic, unquoted glob or brace expansion.
    pub(super) fn static_value(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit { text, quoted } => {
                    if !quoted && (has_glob(text) || has_brace_expansion(text)) {
                        return None;
                    }
                    out.push_str(text);
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// The word is exactly one process substitution, so its value is a pipe, not a file.
    pub(super) fn is_process_sub(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::ProcessSub(_)])
    }

    /// A word made of quoted literal text.
    pub(super) fn quoted_literal(text: String) -> Word {
        Word {
            raw: text.clone(),
            parts: vec![Part::Lit { text, quoted: true }],
        }
    }
}

pub(super) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `*`, `?` or a bracket expression `[...]` in unquoted text.
fn has_glob(text: &str) -> bool {
    if text.contains(['*', '?']) {
        return true;
    }
    // A lone `[` (the `test` command) or `[[` is not a pattern; `[abc]` is.
    text.find('[')
        .is_some_and(|open| text.get(open + 1..).is_some_and(|rest| rest.contains(']')))
}

/// `{a,b}` or `{1..3}` in unquoted text; `{}` (find's placeholder) and `{x}` are not.
/// One pass with a stack of open braces, so it stays linear on `{{{{...`.
fn has_brace_expansion(text: &str) -> bool {
    // For each open `{`, whether a `,` or `..` has been seen directly inside it.
    let mut open: Vec<bool> = Vec::new();
    let mut prev_dot = false;
    for c in text.chars() {
        match c {
            '{' => open.push(false),
            '}' if open.pop() == Some(true) => return true,
            ',' => {
                if let Some(sep) = open.last_mut() {
                    *sep = true;
                }
            }
            '.' if prev_dot => {
                if let Some(sep) = open.last_mut() {
                    *sep = true;
                }
            }
            _ => {}
        }
        prev_dot = c == '.';
    }
    false
}
