//! The grammar: a recursive-descent parser over the tokens of `lexer.rs`.
//!
//! ```text
//! program   = list EOF
//! list      = { and_or (";" | "&" | NEWLINE) }           stops at `)`, `;;`, `then`, `fi`, ...
//! and_or    = pipeline { ("&&" | "||") pipeline }
//! pipeline  = { "!" } command { ("|" | "|&") command }
//! command   = compound redirect* | function | simple
//! simple    = (assignment | word | redirect)+
//! ```

use super::ast::{
    Command, Compound, List, Pipeline, RedirOp, RedirTarget, Redirect, SimpleCommand, Word,
};
use super::lexer::{Op, PResult, ParseError, Parser, Tok, syntax};

/// Reserved words that end a list (the start of the next clause).
const LIST_END: &[&str] = &["then", "elif", "else", "fi", "do", "done", "esac", "}"];

impl Parser<'_> {
    /// Parses the whole input.
    pub(super) fn parse_program(&mut self) -> PResult<List> {
        if self.depth > super::lexer::MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        let list = self.parse_compound_list()?;
        match self.next()? {
            Tok::Eof => Ok(list),
            tok => syntax(format!("unexpected {}", tok.describe())),
        }
    }

    pub(super) fn parse_compound_list(&mut self) -> PResult<List> {
        let mut list = List::default();
        loop {
            self.skip_newlines()?;
            if self.at_list_end()? {
                break;
            }
            self.parse_and_or(&mut list.pipelines)?;
            match self.peek()? {
                Tok::Op(Op::Semi | Op::Amp) | Tok::Newline => {
                    self.next()?;
                }
                _ => break,
            }
        }
        Ok(list)
    }

    fn at_list_end(&mut self) -> PResult<bool> {
        Ok(match self.peek()? {
            Tok::Eof | Tok::Op(Op::RParen | Op::CaseEnd) => true,
            Tok::Word(w) => w.reserved().is_some_and(|r| LIST_END.contains(&r)),
            _ => false,
        })
    }

    fn skip_newlines(&mut self) -> PResult<()> {
        while matches!(self.peek()?, Tok::Newline) {
            self.next()?;
        }
        Ok(())
    }

    fn peek_op(&mut self) -> PResult<Option<Op>> {
        Ok(match self.peek()? {
            Tok::Op(op) => Some(*op),
            _ => None,
        })
    }

    fn peek_reserved(&mut self) -> PResult<Option<&'static str>> {
        Ok(match self.peek()? {
            Tok::Word(w) => w.reserved(),
            _ => None,
        })
    }

    fn expect_reserved(&mut self, word: &str, what: &str) -> PResult<()> {
        if self.peek_reserved()? == Some(word) {
            self.next()?;
            Ok(())
        } else {
            let found = self.peek()?.describe();
            syntax(format!("expected `{word}` in {what}, found {found}"))
        }
    }

    fn expect_op(&mut self, op: Op, what: &str) -> PResult<()> {
        if self.peek_op()? == Some(op) {
            self.next()?;
            Ok(())
        } else {
            syntax(format!("unterminated {what}"))
        }
    }

    fn next_word(&mut self, what: &str) -> PResult<Word> {
        match self.next()? {
            Tok::Word(w) => Ok(w),
            tok => syntax(format!("expected {what}, found {}", tok.describe())),
        }
    }

    fn parse_and_or(&mut self, out: &mut Vec<Pipeline>) -> PResult<()> {
        loop {
            out.push(self.parse_pipeline()?);
            if !matches!(self.peek_op()?, Some(Op::AndIf | Op::OrIf)) {
                return Ok(());
            }
            self.next()?;
            self.skip_newlines()?;
        }
    }

    fn parse_pipeline(&mut self) -> PResult<Pipeline> {
        while self.peek_reserved()? == Some("!") {
            self.next()?;
        }
        let mut commands = vec![self.parse_command()?];
        while matches!(self.peek_op()?, Some(Op::Pipe | Op::PipeAmp)) {
            self.next()?;
            self.skip_newlines()?;
            commands.push(self.parse_command()?);
        }
        Ok(Pipeline { commands })
    }

    fn parse_command(&mut self) -> PResult<Command> {
        let compound = match self.peek()? {
            Tok::Op(Op::LParen) => self.parse_paren()?,
            Tok::Word(w) => match w.reserved() {
                Some("{") => {
                    self.next()?;
                    self.enter()?;
                    let body = self.parse_compound_list()?;
                    self.expect_reserved("}", "brace group")?;
                    self.leave();
                    Compound::Group(body)
                }
                Some("if") => self.parse_if()?,
                Some("while" | "until") => self.parse_loop()?,
                Some("for" | "select") => self.parse_for()?,
                Some("case") => self.parse_case()?,
                Some("[[") => self.parse_cond()?,
                Some("function") => return self.parse_function_keyword(),
                Some("coproc") => return Err(ParseError::Unsupported("coproc")),
                Some(r) if r != "in" && r != "]]" => {
                    return syntax(format!("unexpected `{r}`"));
                }
                _ => return self.parse_simple(),
            },
            Tok::Redir(_) => return self.parse_simple(),
            tok => return syntax(format!("unexpected {}", tok.describe())),
        };
        let mut redirects = Vec::new();
        while let Tok::Redir(op) = self.peek()? {
            let op = *op;
            self.next()?;
            redirects.push(self.parse_redirect(op)?);
        }
        Ok(Command::Compound(compound, redirects))
    }

    /// `( list )`, or `(( expression ))` when the parentheses balance that way.
    fn parse_paren(&mut self) -> PResult<Compound> {
        // The `(` is peeked, so the cursor is just past it.
        if self.cur() == Some(b'(')
            && let Some(end) = self.arith_end(self.pos + 1)
        {
            let parts = self.arith_parts(self.pos + 1, end)?;
            self.pos = end + 2;
            self.peeked = None;
            return Ok(Compound::Arith(Word {
                parts,
                raw: String::new(),
            }));
        }
        self.next()?;
        self.enter()?;
        let body = self.parse_compound_list()?;
        self.expect_op(Op::RParen, "subshell")?;
        self.leave();
        Ok(Compound::Subshell(body))
    }

    fn parse_if(&mut self) -> PResult<Compound> {
        self.next()?;
        self.enter()?;
        let mut lists = Vec::new();
        loop {
            lists.push(self.parse_compound_list()?);
            self.expect_reserved("then", "if")?;
            lists.push(self.parse_compound_list()?);
            match self.peek_reserved()? {
                Some("elif") => {
                    self.next()?;
                }
                Some("else") => {
                    self.next()?;
                    lists.push(self.parse_compound_list()?);
                    self.expect_reserved("fi", "if")?;
                    break;
                }
                _ => {
                    self.expect_reserved("fi", "if")?;
                    break;
                }
            }
        }
        self.leave();
        Ok(Compound::If(lists))
    }

    fn parse_loop(&mut self) -> PResult<Compound> {
        self.next()?;
        self.enter()?;
        let cond = self.parse_compound_list()?;
        let body = self.parse_do_group()?;
        self.leave();
        Ok(Compound::Loop(cond, body))
    }

    fn parse_do_group(&mut self) -> PResult<List> {
        self.skip_newlines()?;
        self.expect_reserved("do", "loop")?;
        let body = self.parse_compound_list()?;
        self.expect_reserved("done", "loop")?;
        Ok(body)
    }

    fn parse_for(&mut self) -> PResult<Compound> {
        self.next()?;
        self.enter()?;
        let mut words = Vec::new();
        if self.peek_op()? == Some(Op::LParen) && self.cur() == Some(b'(') {
            // for (( init; cond; step ))
            let Some(end) = self.arith_end(self.pos + 1) else {
                return syntax("unterminated arithmetic for");
            };
            let parts = self.arith_parts(self.pos + 1, end)?;
            self.pos = end + 2;
            self.peeked = None;
            words.push(Word {
                parts,
                raw: String::new(),
            });
        } else {
            self.next_word("a loop variable")?;
            self.skip_newlines()?;
            if self.peek_reserved()? == Some("in") {
                self.next()?;
                while let Tok::Word(_) = self.peek()? {
                    words.push(self.next_word("a word")?);
                }
            }
        }
        if self.peek_op()? == Some(Op::Semi) {
            self.next()?;
        }
        let body = self.parse_do_group()?;
        self.leave();
        Ok(Compound::For(words, body))
    }

    fn parse_case(&mut self) -> PResult<Compound> {
        self.next()?;
        self.enter()?;
        let subject = self.next_word("a case subject")?;
        self.skip_newlines()?;
        self.expect_reserved("in", "case")?;
        let mut patterns = Vec::new();
        let mut bodies = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.peek_reserved()? == Some("esac") {
                self.next()?;
                break;
            }
            if self.peek_op()? == Some(Op::LParen) {
                self.next()?;
            }
            patterns.push(self.next_word("a case pattern")?);
            while self.peek_op()? == Some(Op::Pipe) {
                self.next()?;
                patterns.push(self.next_word("a case pattern")?);
            }
            self.expect_op(Op::RParen, "case pattern")?;
            bodies.push(self.parse_compound_list()?);
            match self.peek()? {
                Tok::Op(Op::CaseEnd) => {
                    self.next()?;
                }
                Tok::Word(w) if w.reserved() == Some("esac") => {}
                _ => return syntax("unterminated case"),
            }
        }
        self.leave();
        Ok(Compound::Case(subject, patterns, bodies))
    }

    /// `[[ ... ]]`: operators inside are not shell operators, so take every token up to `]]`
    /// and keep the words.
    fn parse_cond(&mut self) -> PResult<Compound> {
        self.next()?;
        let mut words = Vec::new();
        loop {
            match self.next()? {
                Tok::Word(w) if w.reserved() == Some("]]") => break,
                Tok::Word(w) => words.push(w),
                Tok::Eof => return syntax("unterminated `[[`"),
                _ => {}
            }
        }
        Ok(Compound::Cond(words))
    }

    /// `function name [()] body`
    fn parse_function_keyword(&mut self) -> PResult<Command> {
        self.next()?;
        self.next_word("a function name")?;
        if self.peek_op()? == Some(Op::LParen) {
            self.next()?;
            self.expect_op(Op::RParen, "function definition")?;
        }
        self.parse_function_body()
    }

    fn parse_function_body(&mut self) -> PResult<Command> {
        self.skip_newlines()?;
        self.enter()?;
        let body = self.parse_command()?;
        self.leave();
        Ok(Command::Function(Box::new(body)))
    }

    fn parse_simple(&mut self) -> PResult<Command> {
        let mut cmd = SimpleCommand::default();
        loop {
            match self.next()? {
                Tok::Word(w) if cmd.words.is_empty() && w.is_assignment() => {
                    cmd.assignments.push(w);
                }
                Tok::Word(w) => {
                    cmd.words.push(w);
                    // `name() { ...; }`
                    let first_only = cmd.words.len() == 1
                        && cmd.assignments.is_empty()
                        && cmd.redirects.is_empty();
                    if first_only && self.peek_op()? == Some(Op::LParen) {
                        self.next()?;
                        self.expect_op(Op::RParen, "function definition")?;
                        return self.parse_function_body();
                    }
                }
                Tok::Redir(op) => cmd.redirects.push(self.parse_redirect(op)?),
                tok => {
                    self.unread(tok);
                    break;
                }
            }
        }
        Ok(Command::Simple(cmd))
    }

    fn parse_redirect(&mut self, op: RedirOp) -> PResult<Redirect> {
        let word = self.next_word("a word after a redirection")?;
        let target = match op {
            RedirOp::Heredoc { strip_tabs } => {
                RedirTarget::Heredoc(self.push_heredoc(&word, strip_tabs))
            }
            _ => RedirTarget::Word(word),
        };
        Ok(Redirect { op, target })
    }
}
