//! Tokens and words.
//!
//! Shell lexing cannot be done in a separate pass: the end of `$(...)` is only known by parsing
//! the command inside it (a `case` pattern has an unbalanced `)`), and heredoc bodies start at the
//! next newline token. So, as in bash, the lexer and the parser share one cursor: this file holds
//! the token-level half of [`Parser`], `parser.rs` the grammar.

use std::cell::OnceCell;
use std::rc::Rc;

use super::ast::{List, Part, RedirOp, Word};

/// Nesting deeper than this (substitutions, compound commands, quotes inside `${...}`, nested
/// `sh -c` strings) is refused, so recursion is bounded whatever the input.
pub(super) const MAX_DEPTH: usize = 32;

#[derive(Debug)]
pub(super) enum ParseError {
    Syntax(String),
    Unsupported(&'static str),
    TooDeep,
}

impl ParseError {
    /// A short lowercase sentence for `opaque_reasons`.
    pub(super) fn reason(&self) -> String {
        match self {
            ParseError::Syntax(msg) => format!("parse error: {msg}"),
            ParseError::Unsupported(what) => format!("unsupported syntax: {what}"),
            ParseError::TooDeep => "nesting too deep".to_owned(),
        }
    }
}

pub(super) type PResult<T> = Result<T, ParseError>;

pub(super) fn syntax<T>(msg: impl Into<String>) -> PResult<T> {
    Err(ParseError::Syntax(msg.into()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    AndIf,
    OrIf,
    Semi,
    /// `;;`, `;&`, `;;&`: a case arm ends.
    CaseEnd,
    Amp,
    Pipe,
    PipeAmp,
    LParen,
    RParen,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::AndIf => "&&",
            Op::OrIf => "||",
            Op::Semi => ";",
            Op::CaseEnd => ";;",
            Op::Amp => "&",
            Op::Pipe => "|",
            Op::PipeAmp => "|&",
            Op::LParen => "(",
            Op::RParen => ")",
        }
    }
}

#[derive(Debug)]
pub(super) enum Tok {
    Word(Word),
    Op(Op),
    Redir(RedirOp),
    Newline,
    Eof,
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("word `{}`", w.raw),
            Tok::Op(op) => format!("`{}`", op.text()),
            Tok::Redir(_) => "redirection".to_owned(),
            Tok::Newline => "newline".to_owned(),
            Tok::Eof => "end of input".to_owned(),
        }
    }
}

/// A heredoc whose body has not been read yet.
struct PendingHeredoc {
    delimiter: Vec<u8>,
    quoted: bool,
    strip_tabs: bool,
    body: Rc<OnceCell<Word>>,
}

/// Where word parts are being read; it decides which characters end them and what quoting means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// An ordinary word: metacharacters end it.
    Word,
    /// Inside `"..."`.
    DoubleQuote,
    /// Inside `${...}`: `}` ends it, blanks are literal.
    Brace,
    /// An unquoted heredoc body or an arithmetic expression: like double quotes without the
    /// closing `"`, read to the end of the text.
    Body,
}

pub(super) struct Parser<'s> {
    src: &'s [u8],
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) peeked: Option<Tok>,
    pending: Vec<PendingHeredoc>,
}

/// Accumulates literal bytes and finished parts of one word.
#[derive(Default)]
struct PartsBuilder {
    parts: Vec<Part>,
    buf: Vec<u8>,
    quoted: bool,
}

impl PartsBuilder {
    fn push(&mut self, bytes: &[u8], quoted: bool) {
        if !self.buf.is_empty() && self.quoted != quoted {
            self.flush();
        }
        self.quoted = quoted;
        self.buf.extend_from_slice(bytes);
    }

    fn part(&mut self, part: Part) {
        self.flush();
        self.parts.push(part);
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            self.buf.clear();
            self.parts.push(Part::Lit {
                text,
                quoted: self.quoted,
            });
        }
    }

    /// Nothing but unquoted `NAME=` or `NAME+=` so far: a `(` now opens an array.
    fn is_array_start(&self) -> bool {
        self.parts.is_empty()
            && !self.quoted
            && self.buf.last() == Some(&b'=')
            && std::str::from_utf8(&self.buf).is_ok_and(|s| {
                let name = s.get(..s.len() - 1).unwrap_or_default();
                super::ast::is_name(name.strip_suffix('+').unwrap_or(name))
            })
    }

    fn finish(mut self) -> Vec<Part> {
        self.flush();
        self.parts
    }
}

impl<'s> Parser<'s> {
    pub(super) fn new(src: &'s [u8], depth: usize) -> Self {
        Parser {
            src,
            pos: 0,
            depth,
            peeked: None,
            pending: Vec::new(),
        }
    }

    pub(super) fn byte(&self, at: usize) -> Option<u8> {
        self.src.get(at).copied()
    }

    pub(super) fn cur(&self) -> Option<u8> {
        self.byte(self.pos)
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.src
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s))
    }

    pub(super) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(super) fn peek(&mut self) -> PResult<&Tok> {
        let tok = match self.peeked.take() {
            Some(tok) => tok,
            None => self.lex_token()?,
        };
        Ok(self.peeked.insert(tok))
    }

    pub(super) fn next(&mut self) -> PResult<Tok> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lex_token(),
        }
    }

    /// Puts back the token just taken by [`Parser::next`].
    pub(super) fn unread(&mut self, tok: Tok) {
        self.peeked = Some(tok);
    }

    /// Parses text that is itself shell code (a backquoted command, a heredoc body) with a fresh
    /// cursor one level deeper.
    fn sub_parser<'t>(&self, text: &'t [u8]) -> PResult<Parser<'t>> {
        if self.depth + 1 > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        Ok(Parser::new(text, self.depth + 1))
    }

    fn lex_token(&mut self) -> PResult<Tok> {
        // Blanks, line continuations and comments separate tokens. `#` starts a comment only
        // here, at the start of a token; inside a word it is literal.
        loop {
            match self.cur() {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\\') if self.byte(self.pos + 1) == Some(b'\n') => self.pos += 2,
                Some(b'#') => {
                    while self.cur().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let Some(c) = self.cur() else {
            if let Some(h) = self.pending.first() {
                let delim = String::from_utf8_lossy(&h.delimiter).into_owned();
                return syntax(format!("missing heredoc body for `{delim}`"));
            }
            return Ok(Tok::Eof);
        };
        let next = self.byte(self.pos + 1);
        let (op, len) = match (c, next) {
            (b'\n', _) => {
                self.pos += 1;
                self.read_heredoc_bodies()?;
                return Ok(Tok::Newline);
            }
            (b'&', Some(b'&')) => (Tok::Op(Op::AndIf), 2),
            (b'&', Some(b'>')) if self.byte(self.pos + 2) == Some(b'>') => {
                (Tok::Redir(RedirOp::Write), 3)
            }
            (b'&', Some(b'>')) => (Tok::Redir(RedirOp::Write), 2),
            (b'&', _) => (Tok::Op(Op::Amp), 1),
            (b'|', Some(b'|')) => (Tok::Op(Op::OrIf), 2),
            (b'|', Some(b'&')) => (Tok::Op(Op::PipeAmp), 2),
            (b'|', _) => (Tok::Op(Op::Pipe), 1),
            (b';', Some(b';')) if self.byte(self.pos + 2) == Some(b'&') => {
                (Tok::Op(Op::CaseEnd), 3)
            }
            (b';', Some(b';' | b'&')) => (Tok::Op(Op::CaseEnd), 2),
            (b';', _) => (Tok::Op(Op::Semi), 1),
            (b'(', _) => (Tok::Op(Op::LParen), 1),
            (b')', _) => (Tok::Op(Op::RParen), 1),
            (b'<' | b'>', Some(b'(')) => return Ok(Tok::Word(self.read_word()?)),
            (b'<' | b'>', _) => self.redirection_op(),
            (b'0'..=b'9', _) => {
                // `2>file`: digits directly before `<` or `>` name a file descriptor.
                let mut end = self.pos;
                while self.byte(end).is_some_and(|b| b.is_ascii_digit()) {
                    end += 1;
                }
                let is_fd =
                    matches!(self.byte(end), Some(b'<' | b'>')) && self.byte(end + 1) != Some(b'(');
                if !is_fd {
                    return Ok(Tok::Word(self.read_word()?));
                }
                self.pos = end;
                self.redirection_op()
            }
            _ => return Ok(Tok::Word(self.read_word()?)),
        };
        self.pos += len;
        Ok(op)
    }

    /// The redirection operator at the cursor, which is on `<` or `>`.
    fn redirection_op(&self) -> (Tok, usize) {
        let ops: &[(&[u8], RedirOp)] = &[
            (b"<<<", RedirOp::HereString),
            (b"<<-", RedirOp::Heredoc { strip_tabs: true }),
            (b"<<", RedirOp::Heredoc { strip_tabs: false }),
            (b"<&", RedirOp::DupIn),
            (b"<>", RedirOp::ReadWrite),
            (b"<", RedirOp::Read),
            (b">>", RedirOp::Write),
            (b">&", RedirOp::DupOut),
            (b">|", RedirOp::Write),
            (b">", RedirOp::Write),
        ];
        for (text, op) in ops {
            if self.starts_with(text) {
                return (Tok::Redir(*op), text.len());
            }
        }
        // INVARIANT: only called with the cursor on `<` or `>`, which the last entries match.
        (Tok::Redir(RedirOp::Write), 1)
    }

    /// Registers a heredoc whose body starts after the next newline token.
    pub(super) fn push_heredoc(
        &mut self,
        delimiter: &Word,
        strip_tabs: bool,
    ) -> Rc<OnceCell<Word>> {
        let mut text = String::new();
        let mut quoted = false;
        for part in &delimiter.parts {
            match part {
                Part::Lit { text: t, quoted: q } => {
                    text.push_str(t);
                    quoted |= *q;
                }
                // bash takes `<<$X` literally; the raw text is the closest we have.
                _ => {
                    return self.push_pending(delimiter.raw.clone().into_bytes(), true, strip_tabs);
                }
            }
        }
        self.push_pending(text.into_bytes(), quoted, strip_tabs)
    }

    fn push_pending(
        &mut self,
        delimiter: Vec<u8>,
        quoted: bool,
        strip_tabs: bool,
    ) -> Rc<OnceCell<Word>> {
        let body = Rc::new(OnceCell::new());
        self.pending.push(PendingHeredoc {
            delimiter,
            quoted,
            strip_tabs,
            body: Rc::clone(&body),
        });
        body
    }

    /// Reads the bodies of the heredocs opened on the line that just ended.
    fn read_heredoc_bodies(&mut self) -> PResult<()> {
        for heredoc in std::mem::take(&mut self.pending) {
            let mut body = Vec::new();
            let mut terminated = false;
            while self.pos < self.src.len() {
                let rest = self.src.get(self.pos..).unwrap_or_default();
                let line_len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let mut line = rest.get(..line_len).unwrap_or_default();
                self.pos = (self.pos + line_len + 1).min(self.src.len());
                if heredoc.strip_tabs {
                    while let Some((b'\t', tail)) = line.split_first() {
                        line = tail;
                    }
                }
                if line == heredoc.delimiter.as_slice() {
                    terminated = true;
                    break;
                }
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            if !terminated {
                let delim = String::from_utf8_lossy(&heredoc.delimiter).into_owned();
                return syntax(format!("missing heredoc terminator `{delim}`"));
            }
            let word = if heredoc.quoted {
                Word::quoted_literal(String::from_utf8_lossy(&body).into_owned())
            } else {
                let mut sub = self.sub_parser(&body)?;
                let parts = sub.read_parts(Ctx::Body)?;
                Word {
                    parts,
                    raw: String::from_utf8_lossy(&body).into_owned(),
                }
            };
            // The cell is fresh, so `set` cannot fail; ignoring its result is safe.
            let _ = heredoc.body.set(word);
        }
        Ok(())
    }

    /// Reads one word at the cursor.
    fn read_word(&mut self) -> PResult<Word> {
        let start = self.pos;
        let parts = self.read_parts(Ctx::Word)?;
        if self.pos == start {
            // Unreachable by construction (callers only come here on a word character), but a
            // token that consumes nothing would loop forever, so refuse it.
            return syntax("unexpected character");
        }
        let raw = self.src.get(start..self.pos).unwrap_or_default();
        Ok(Word {
            parts,
            raw: String::from_utf8_lossy(raw).into_owned(),
        })
    }

    /// Reads word parts in `ctx` up to (not including) what ends them.
    fn read_parts(&mut self, ctx: Ctx) -> PResult<Vec<Part>> {
        self.enter()?;
        let mut b = PartsBuilder::default();
        // Text inside double quotes, a heredoc body or `$((...))` is never globbed or split.
        let quoted = matches!(ctx, Ctx::DoubleQuote | Ctx::Body);
        while let Some(c) = self.cur() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b')' if ctx == Ctx::Word => {
                    break;
                }
                b'<' | b'>' if ctx == Ctx::Word => {
                    if b.parts.is_empty()
                        && b.buf.is_empty()
                        && self.byte(self.pos + 1) == Some(b'(')
                    {
                        self.pos += 2;
                        let list = self.parse_nested_list("process substitution")?;
                        b.part(Part::ProcessSub(list));
                    } else {
                        break;
                    }
                }
                b'(' if ctx == Ctx::Word => {
                    if !b.is_array_start() {
                        break;
                    }
                    self.pos += 1;
                    let words = self.read_array()?;
                    b.part(Part::Array(words));
                }
                b'"' if ctx == Ctx::DoubleQuote => break,
                b'}' if ctx == Ctx::Brace => break,
                b'\'' if matches!(ctx, Ctx::Word | Ctx::Brace) => {
                    let rest = self.src.get(self.pos + 1..).unwrap_or_default();
                    let Some(len) = rest.iter().position(|&x| x == b'\'') else {
                        return syntax("unterminated single quote");
                    };
                    b.push(rest.get(..len).unwrap_or_default(), true);
                    self.pos += len + 2;
                }
                b'"' if matches!(ctx, Ctx::Word | Ctx::Brace) => {
                    self.pos += 1;
                    let inner = self.read_parts(Ctx::DoubleQuote)?;
                    if self.cur() != Some(b'"') {
                        return syntax("unterminated double quote");
                    }
                    self.pos += 1;
                    // `""` still makes a (quoted, empty) word: `cat ""` has one argument.
                    if inner.is_empty() {
                        b.part(Part::Lit {
                            text: String::new(),
                            quoted: true,
                        });
                    }
                    for part in inner {
                        match part {
                            Part::Lit { text, .. } => b.push(text.as_bytes(), true),
                            other => b.part(other),
                        }
                    }
                }
                b'\\' => self.read_backslash(ctx, &mut b),
                b'$' => self.read_dollar(ctx, &mut b)?,
                b'`' => {
                    let list = self.read_backquote(ctx)?;
                    b.part(Part::CommandSub(list));
                }
                _ => {
                    b.push(&[c], quoted);
                    self.pos += 1;
                }
            }
        }
        if ctx == Ctx::Brace && self.cur() != Some(b'}') {
            return syntax("unterminated parameter expansion");
        }
        if ctx == Ctx::DoubleQuote && self.cur() != Some(b'"') {
            return syntax("unterminated double quote");
        }
        self.leave();
        Ok(b.finish())
    }

    fn read_backslash(&mut self, ctx: Ctx, b: &mut PartsBuilder) {
        let next = self.byte(self.pos + 1);
        match next {
            // A line continuation disappears.
            Some(b'\n') => self.pos += 2,
            None => {
                b.push(b"\\", true);
                self.pos += 1;
            }
            Some(n) => {
                let escapes = match ctx {
                    Ctx::Word | Ctx::Brace => true,
                    Ctx::DoubleQuote => matches!(n, b'$' | b'`' | b'"' | b'\\'),
                    Ctx::Body => matches!(n, b'$' | b'`' | b'\\'),
                };
                if escapes {
                    // Keep a multi-byte character whole so the text stays valid UTF-8.
                    let len = utf8_len(n);
                    let end = (self.pos + 1 + len).min(self.src.len());
                    b.push(self.src.get(self.pos + 1..end).unwrap_or_default(), true);
                    self.pos = end;
                } else {
                    b.push(b"\\", true);
                    self.pos += 1;
                }
            }
        }
    }

    fn read_dollar(&mut self, ctx: Ctx, b: &mut PartsBuilder) -> PResult<()> {
        let next = self.byte(self.pos + 1);
        match next {
            Some(b'(') => {
                // `$((` is arithmetic when the parentheses close with `))`; otherwise it is
                // `$( (cmd) )` written without the space.
                if self.byte(self.pos + 2) == Some(b'(')
                    && let Some(end) = self.arith_end(self.pos + 3)
                {
                    let parts = self.arith_parts(self.pos + 3, end)?;
                    self.pos = end + 2;
                    b.part(Part::Arith(parts));
                    return Ok(());
                }
                self.pos += 2;
                let list = self.parse_nested_list("command substitution")?;
                b.part(Part::CommandSub(list));
            }
            Some(b'{') => {
                self.pos += 2;
                let inner = self.read_parts(Ctx::Brace)?;
                // read_parts(Brace) returns only at `}`.
                self.pos += 1;
                b.part(Part::Param(inner));
            }
            Some(b'\'') if ctx == Ctx::Word => {
                self.pos += 2;
                let text = self.read_ansi_c()?;
                b.push(&text, true);
            }
            Some(b'"') if ctx == Ctx::Word => {
                // `$"..."` is a translated string; it reads like `"..."`.
                self.pos += 1;
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                self.pos += 1;
                while self
                    .cur()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                b.part(Part::Param(Vec::new()));
            }
            Some(b'0'..=b'9' | b'@' | b'*' | b'#' | b'?' | b'-' | b'$' | b'!') => {
                self.pos += 2;
                b.part(Part::Param(Vec::new()));
            }
            _ => {
                let quoted = matches!(ctx, Ctx::DoubleQuote | Ctx::Body);
                b.push(b"$", quoted);
                self.pos += 1;
            }
        }
        Ok(())
    }

    /// Parses the commands of `$(...)`, `<(...)` or `>(...)` with the shared cursor (just past the
    /// opening parenthesis), through the closing one.
    fn parse_nested_list(&mut self, what: &str) -> PResult<List> {
        self.enter()?;
        // INVARIANT: called while lexing a token, so nothing is peeked; the nested parse leaves
        // nothing peeked either, because it ends by taking the `)`.
        let saved = self.peeked.take();
        let list = self.parse_compound_list()?;
        match self.next()? {
            Tok::Op(Op::RParen) => {}
            _ => return syntax(format!("unterminated {what}")),
        }
        self.peeked = saved;
        self.leave();
        Ok(list)
    }

    /// The index of the `))` that closes an arithmetic expression starting at `from`, if the
    /// parentheses balance that way.
    pub(super) fn arith_end(&self, from: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = from;
        while let Some(c) = self.byte(i) {
            match c {
                b'(' => depth += 1,
                b')' if depth == 0 => return (self.byte(i + 1) == Some(b')')).then_some(i),
                b')' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// The parts of the arithmetic text `src[from..end]`: literal, except for expansions.
    pub(super) fn arith_parts(&self, from: usize, end: usize) -> PResult<Vec<Part>> {
        let text = self.src.get(from..end).unwrap_or_default();
        let mut sub = self.sub_parser(text)?;
        sub.read_parts(Ctx::Body)
    }

    /// `` `...` ``: the text up to the closing backquote, with its backslash escapes undone,
    /// parsed as a program of its own.
    fn read_backquote(&mut self, ctx: Ctx) -> PResult<List> {
        self.pos += 1;
        let mut text = Vec::new();
        loop {
            match self.cur() {
                None => return syntax("unterminated backquote"),
                Some(b'`') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let n = self.byte(self.pos + 1);
                    let unescapes = matches!(n, Some(b'`' | b'\\' | b'$'))
                        || (ctx == Ctx::DoubleQuote && n == Some(b'"'));
                    match n {
                        Some(n) if unescapes => {
                            text.push(n);
                            self.pos += 2;
                        }
                        _ => {
                            text.push(b'\\');
                            self.pos += 1;
                        }
                    }
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        let mut sub = self.sub_parser(&text)?;
        sub.parse_program()
    }

    /// `$'...'` after the opening quote: ANSI-C escapes decoded.
    fn read_ansi_c(&mut self) -> PResult<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.cur() else {
                return syntax("unterminated ansi-c quote");
            };
            self.pos += 1;
            match c {
                b'\'' => return Ok(out),
                b'\\' => {
                    let Some(e) = self.cur() else {
                        return syntax("unterminated ansi-c quote");
                    };
                    self.pos += 1;
                    match e {
                        b'a' => out.push(0x07),
                        b'b' => out.push(0x08),
                        b'e' | b'E' => out.push(0x1b),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(0x0b),
                        b'\\' | b'\'' | b'"' | b'?' => out.push(e),
                        b'0'..=b'7' => {
                            let mut value = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.cur() {
                                    Some(d @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((value & 0xff) as u8);
                        }
                        b'x' => {
                            let value = self.hex_digits(2);
                            match value {
                                Some(v) => out.push((v & 0xff) as u8),
                                None => out.extend_from_slice(b"\\x"),
                            }
                        }
                        b'u' | b'U' => {
                            let max = if e == b'u' { 4 } else { 8 };
                            match self.hex_digits(max).and_then(char::from_u32) {
                                Some(ch) => {
                                    let mut buf = [0u8; 4];
                                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                                }
                                None => out.extend_from_slice(&[b'\\', e]),
                            }
                        }
                        b'c' => {
                            if let Some(ch) = self.cur() {
                                self.pos += 1;
                                out.push(ch & 0x1f);
                            }
                        }
                        other => out.extend_from_slice(&[b'\\', other]),
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn hex_digits(&mut self, max: usize) -> Option<u32> {
        let mut value: Option<u32> = None;
        for _ in 0..max {
            let Some(d) = self.cur().and_then(|c| char::from(c).to_digit(16)) else {
                break;
            };
            value = Some(value.unwrap_or(0).wrapping_mul(16).wrapping_add(d));
            self.pos += 1;
        }
        value
    }

    /// The elements of `name=(...)` after the `(`, through the `)`.
    fn read_array(&mut self) -> PResult<Vec<Word>> {
        self.enter()?;
        let mut words = Vec::new();
        loop {
            match self.lex_token()? {
                Tok::Word(w) => words.push(w),
                Tok::Newline => {}
                Tok::Op(Op::RParen) => break,
                Tok::Eof => return syntax("unterminated array"),
                other => return syntax(format!("unexpected {} in array", other.describe())),
            }
        }
        self.leave();
        Ok(words)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}
