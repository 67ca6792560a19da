//! The analysis walk: what the parsed commands may do.
//!
//! Every command in the tree is assumed to run (both sides of `&&`/`||`, every `case` arm, loop
//! bodies, function bodies), and every substitution runs. Then each simple command is read by
//! what its program is known to do with its arguments, see [`Analyzer::run`].

use std::collections::HashSet;

use super::ShellAnalysis;
use super::ast::{
    Command, Compound, List, Part, RedirOp, RedirTarget, Redirect, SimpleCommand, Word,
};
use super::lexer::{MAX_DEPTH, Parser};

mod programs;

/// Strings in order of first insertion, without duplicates, in linear time.
#[derive(Default)]
struct OrderedSet {
    items: Vec<String>,
    seen: HashSet<String>,
}

impl OrderedSet {
    fn insert(&mut self, item: &str) {
        if !self.seen.contains(item) {
            self.seen.insert(item.to_owned());
            self.items.push(item.to_owned());
        }
    }
}

#[derive(Default)]
pub(super) struct Analyzer {
    programs: OrderedSet,
    paths_read: OrderedSet,
    paths_written: OrderedSet,
    commands: OrderedSet,
    reasons: OrderedSet,
    network: bool,
    git_push: bool,
    force: bool,
    sudo: bool,
    destructive: bool,
    changes_dir: bool,
}

/// One argument of a simple command, with its value when it is static.
#[derive(Clone, Debug)]
struct Arg {
    value: Option<String>,
    display: String,
    /// The argument is exactly `<(...)` or `>(...)`: a pipe, not a file on disk.
    pipe: bool,
}

impl Arg {
    fn of(word: &Word) -> Arg {
        let value = word.static_value();
        Arg {
            display: value.clone().unwrap_or_else(|| word.raw.clone()),
            value,
            pipe: word.is_process_sub(),
        }
    }

    fn lit(text: &str) -> Arg {
        Arg {
            value: Some(text.to_owned()),
            display: text.to_owned(),
            pipe: false,
        }
    }

    fn v(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// `-x`, `--long`, `--long=value`; a lone `-` (stdin) is an operand.
    fn is_flag(&self) -> bool {
        self.v().is_some_and(|v| v.len() > 1 && v.starts_with('-'))
    }

    /// A single-dash flag cluster such as `-rf` containing `letter`.
    fn short_has(&self, letter: char) -> bool {
        self.v().is_some_and(|v| {
            v.len() > 1 && v.starts_with('-') && !v.starts_with("--") && v.contains(letter)
        })
    }
}

fn display(args: &[Arg]) -> String {
    args.iter()
        .map(|a| a.display.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/usr/bin/curl` -> `curl`.
fn base_name(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((_, "")) | None => path,
        Some((_, base)) => base,
    }
}

/// Redirection targets that are not files.
const NOT_FILES: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr"];

impl Analyzer {
    pub(super) fn finish(self) -> ShellAnalysis {
        ShellAnalysis {
            programs: self.programs.items,
            paths_read: self.paths_read.items,
            paths_written: self.paths_written.items,
            network: self.network,
            git_push: self.git_push,
            force: self.force,
            sudo: self.sudo,
            destructive: self.destructive,
            opaque: !self.reasons.items.is_empty(),
            opaque_reasons: self.reasons.items,
            commands: self.commands.items,
            changes_dir: self.changes_dir,
        }
    }

    pub(super) fn opaque(&mut self, reason: &str) {
        self.reasons.insert(reason);
    }

    /// Parses and analyzes shell code: the whole command, or an `sh -c` string inside it.
    pub(super) fn source(&mut self, src: &[u8], depth: usize) {
        if depth > MAX_DEPTH {
            self.opaque("nesting too deep");
            return;
        }
        let mut parser = Parser::new(src, depth);
        match parser.parse_program() {
            Ok(list) => self.list(&list, depth),
            Err(err) => self.opaque(&err.reason()),
        }
    }

    fn list(&mut self, list: &List, depth: usize) {
        for pipeline in &list.pipelines {
            for command in &pipeline.commands {
                self.command(command, depth);
            }
        }
    }

    fn command(&mut self, command: &Command, depth: usize) {
        match command {
            Command::Simple(simple) => self.simple(simple, depth),
            Command::Compound(compound, redirects) => {
                self.compound(compound, depth + 1);
                for redirect in redirects {
                    self.redirect(redirect, depth);
                }
            }
            Command::Function(body) => self.command(body, depth + 1),
        }
    }

    fn compound(&mut self, compound: &Compound, depth: usize) {
        match compound {
            Compound::Subshell(list) | Compound::Group(list) => self.list(list, depth),
            Compound::If(lists) => lists.iter().for_each(|l| self.list(l, depth)),
            Compound::Loop(cond, body) => {
                self.list(cond, depth);
                self.list(body, depth);
            }
            Compound::For(words, body) => {
                words.iter().for_each(|w| self.word(w, depth));
                self.list(body, depth);
            }
            Compound::Case(subject, patterns, bodies) => {
                self.word(subject, depth);
                patterns.iter().for_each(|w| self.word(w, depth));
                bodies.iter().for_each(|l| self.list(l, depth));
            }
            Compound::Arith(word) => self.word(word, depth),
            Compound::Cond(words) => words.iter().for_each(|w| self.word(w, depth)),
        }
    }

    /// Runs the substitutions inside a word.
    fn word(&mut self, word: &Word, depth: usize) {
        self.parts(&word.parts, depth);
    }

    fn parts(&mut self, parts: &[Part], depth: usize) {
        for part in parts {
            match part {
                Part::Lit { .. } => {}
                Part::Param(inner) | Part::Arith(inner) => self.parts(inner, depth + 1),
                Part::CommandSub(list) | Part::ProcessSub(list) => self.list(list, depth + 1),
                Part::Array(words) => words.iter().for_each(|w| self.word(w, depth + 1)),
            }
        }
    }

    fn simple(&mut self, simple: &SimpleCommand, depth: usize) {
        let args: Vec<Arg> = simple.words.iter().map(Arg::of).collect();
        // The command itself first, so `programs` and `commands` follow reading order
        // (`cat $(echo .env)` gives cat, then echo).
        if let Some(first) = args.first() {
            self.commands.insert(&display(&args));
            if let Some(name) = first.v() {
                self.insert_program(name);
            }
        }
        for word in simple.assignments.iter().chain(&simple.words) {
            self.word(word, depth);
        }
        for redirect in &simple.redirects {
            self.redirect(redirect, depth);
        }
        self.run(&args, depth);
    }

    fn insert_program(&mut self, path: &str) {
        let name = base_name(path);
        if !name.is_empty() {
            self.programs.insert(name);
        }
    }

    fn redirect(&mut self, redirect: &Redirect, depth: usize) {
        let word = match &redirect.target {
            RedirTarget::Word(word) => word,
            RedirTarget::Heredoc(body) => {
                if let Some(body) = body.get() {
                    self.word(body, depth);
                }
                return;
            }
        };
        self.word(word, depth);
        if word.is_process_sub() {
            return;
        }
        let value = word.static_value();
        let target = value.as_deref();
        match redirect.op {
            RedirOp::Read => self.redirect_path(target, true, false),
            RedirOp::Write => self.redirect_path(target, false, true),
            RedirOp::ReadWrite => self.redirect_path(target, true, true),
            // `>&2` and `>&-` duplicate or close; bash reads `>&file` as `&>file`.
            RedirOp::DupOut => {
                let is_fd =
                    target.is_some_and(|t| t == "-" || t.bytes().all(|b| b.is_ascii_digit()));
                if !is_fd {
                    self.redirect_path(target, false, true);
                }
            }
            RedirOp::DupIn | RedirOp::HereString | RedirOp::Heredoc { .. } => {}
        }
    }

    fn redirect_path(&mut self, target: Option<&str>, read: bool, write: bool) {
        match target {
            None => self.opaque("dynamic redirection target"),
            Some(path) if NOT_FILES.contains(&path) => {}
            // Bash opens a socket for these: `echo x > /dev/tcp/host/80`.
            Some(path) if path.starts_with("/dev/tcp/") || path.starts_with("/dev/udp/") => {
                self.network = true
            }
            Some(path) => self.note_path(path, read, write),
        }
    }

    /// Records a known path. `~user/...`, `~+` and `~-` name directories that cannot be known
    /// statically, so they make the command opaque instead of being taken as relative names.
    fn note_path(&mut self, path: &str, read: bool, write: bool) {
        if path.starts_with('~') && path != "~" && !path.starts_with("~/") {
            self.opaque("`~user`, `~+` or `~-` path cannot be resolved");
        }
        if read {
            self.paths_read.insert(path);
        }
        if write {
            self.paths_written.insert(path);
        }
    }

    /// A path argument of a program whose paths matter. A dynamic one cannot be reported, so
    /// the whole command becomes opaque; `-` (stdin/stdout) and pipes are not files.
    fn path(&mut self, arg: &Arg, read: bool, write: bool) {
        if arg.pipe {
            return;
        }
        match arg.v() {
            None => self.opaque("dynamic argument"),
            Some("-" | "") => {}
            Some(path) => self.note_path(path, read, write),
        }
    }

    fn read(&mut self, arg: &Arg) {
        self.path(arg, true, false);
    }

    fn write(&mut self, arg: &Arg) {
        self.path(arg, false, true);
    }

    /// Runs `args` as a command found inside another one (`sudo cmd`, `find -exec cmd`).
    fn inner(&mut self, args: &[Arg], depth: usize) {
        if args.is_empty() {
            return;
        }
        self.commands.insert(&display(args));
        self.run(args, depth + 1);
    }

    /// Analyzes a string of shell code found in an argument (`sh -c`, `eval`, `watch`).
    fn code(&mut self, arg: Option<&Arg>, depth: usize) {
        match arg.and_then(Arg::v) {
            Some(code) => self.source(code.as_bytes(), depth + 1),
            None if arg.is_some() => self.opaque("dynamic shell code"),
            None => {}
        }
    }
}
