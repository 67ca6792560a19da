//! Glob and regex sets that are compiled either while the policy loads or on first use.
//!
//! [`Policy::load`](super::Policy::load) builds every set at once, so each error is reported
//! with the file. A policy loaded from its cached tree (the Claude Code hook, one process per
//! tool call) was already loaded that way by this same build, so it builds only the sets one
//! decision needs. Should a set still fail to build then, [`Matcher`](super::compile::Matcher)
//! marks itself broken and denies every action from then on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, OnceLock};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::{RegexSet, RegexSetBuilder};

/// The largest compiled size of one regex (the regex crate's default is 10 MiB).
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

static NO_GLOBS: LazyLock<GlobSet> = LazyLock::new(GlobSet::empty);
static NO_REGEXES: LazyLock<RegexSet> = LazyLock::new(RegexSet::empty);

/// A set of globs.
#[derive(Debug)]
pub(crate) struct Globs {
    globs: Vec<Glob>,
    set: OnceLock<Option<GlobSet>>,
}

impl Globs {
    pub fn new(globs: Vec<Glob>) -> Self {
        Globs {
            globs,
            set: OnceLock::new(),
        }
    }

    /// How many globs the set holds (known without building it).
    pub fn len(&self) -> usize {
        self.globs.len()
    }

    fn compile(&self) -> Result<GlobSet, globset::Error> {
        let mut b = GlobSetBuilder::new();
        for g in &self.globs {
            b.add(g.clone());
        }
        b.build()
    }

    /// Compiles the set now.
    pub fn build(&self) -> Result<(), globset::Error> {
        let set = self.compile()?;
        let _ = self.set.set(Some(set));
        Ok(())
    }

    /// The set, or an empty one after recording in `broken` that it could not be built.
    pub fn or_broken(&self, broken: &AtomicBool) -> &GlobSet {
        match self.set.get_or_init(|| self.compile().ok()) {
            Some(s) => s,
            None => {
                broken.store(true, Ordering::Relaxed);
                &NO_GLOBS
            }
        }
    }
}

/// A set of regexes, and their sources (for explanations).
#[derive(Debug)]
pub(crate) struct Regexes {
    patterns: Vec<String>,
    set: OnceLock<Option<RegexSet>>,
}

impl Regexes {
    pub fn new(patterns: Vec<String>) -> Self {
        Regexes {
            patterns,
            set: OnceLock::new(),
        }
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    fn compile(&self) -> Result<RegexSet, regex::Error> {
        RegexSetBuilder::new(&self.patterns)
            .size_limit(REGEX_SIZE_LIMIT * self.patterns.len().max(1))
            .build()
    }

    /// Compiles the set now.
    pub fn build(&self) -> Result<(), regex::Error> {
        let set = self.compile()?;
        let _ = self.set.set(Some(set));
        Ok(())
    }

    /// The set, or an empty one after recording in `broken` that it could not be built.
    pub fn or_broken(&self, broken: &AtomicBool) -> &RegexSet {
        match self.set.get_or_init(|| self.compile().ok()) {
            Some(s) => s,
            None => {
                broken.store(true, Ordering::Relaxed);
                &NO_REGEXES
            }
        }
    }
}
