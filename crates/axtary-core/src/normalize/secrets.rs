//! Content detector for secrets (`facts.secrets`).
//!
//! Detectors have stable names (the names are a contract: policies match on them). Those for
//! token formats with a recognizable prefix are regexes, compiled once, each on its own and
//! together as one alternation. The alternation is the prefilter: it answers "nothing here" for
//! most texts in one pass, and only when it matches are the regexes run one by one to name what
//! matched. `generic_high_entropy` is a hand-written scan instead (see `has_generic_secret`).
//!
//! Why not a `RegexSet` for all of them: a set cannot use the literal prefilters that single
//! regexes get, and measured 7 to 30 µs per KiB of ordinary text. The case-insensitive
//! `password|secret|token|...` assignment as a regex cost 5 µs per KiB of prose on its own,
//! because every mention of "token" starts a verification; the scan looks only at `:` and `=`.
//!
//! Only names leave this module: matched values are never stored or returned.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

/// Regex detectors: token formats with a recognizable prefix.
///
/// `(?-u:\b)` is an ASCII word boundary: a Unicode one would keep the regexes off their DFA.
const DETECTORS: &[(&str, &str)] = &[
    (
        "aws_access_key_id",
        r"(?-u:\b)(?:AKIA|ASIA)[A-Z0-9]{16}(?-u:\b)",
    ),
    (
        "aws_secret_access_key",
        r#"(?i-u:aws_?secret_?access_?key|secretaccesskey)["']?\s*(?::|=>?)\s*["']?[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    (
        "github_token",
        r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})",
    ),
    ("slack_token", r"(?-u:\b)xox[baprs]-[A-Za-z0-9-]{10,}"),
    (
        "slack_webhook",
        r"hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
    ),
    (
        "private_key",
        r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
    ),
    ("stripe_key", r"(?-u:\b)[sr]k_live_[A-Za-z0-9]{24,}"),
    ("google_api_key", r"(?-u:\b)AIza[0-9A-Za-z_-]{35}"),
    // Legacy keys are `sk-` and 48 alphanumerics; project, service-account and admin keys
    // carry a prefix and may contain `-` and `_`. Neither form matches `sk-ant-...`.
    (
        "openai_api_key",
        r"(?-u:\b)sk-(?:[A-Za-z0-9]{48}|(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})",
    ),
    ("anthropic_api_key", r"(?-u:\b)sk-ant-[A-Za-z0-9_-]{32,}"),
    (
        "jwt",
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}",
    ),
    ("linear_api_key", r"(?-u:\b)lin_api_[A-Za-z0-9]{40}"),
];

/// Bits per character a generic value needs to count as a secret.
const MIN_ENTROPY: f64 = 3.5;

/// Shortest generic value that can count as a secret.
const MIN_VALUE_BYTES: usize = 20;

/// Values longer than this are judged on their first this-many bytes (which also keeps the scan
/// linear on inputs such as `token=token=token=...`).
const MAX_VALUE_BYTES: usize = 256;

/// Longest assignment name looked at (its last bytes, where `_TOKEN` and the like are).
const MAX_NAME_BYTES: usize = 64;

/// Words that make an assignment's name say it holds a secret, matched in the name
/// lower-cased with `-` read as `_`: `DB_PASSWORD`, `client-secret`, `"apiKey"`, `GH_TOKEN`.
const SECRET_NAME_WORDS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"secret",
    b"token",
    b"api_key",
    b"apikey",
    b"access_key",
    b"accesskey",
    b"private_key",
    b"privatekey",
    b"credential",
];

/// The name of the generic detector.
const GENERIC: &str = "generic_high_entropy";

/// The compiled detectors: `any` is the alternation of all patterns, `each` has one regex per
/// entry of [`DETECTORS`], in order. Compiled separately: most texts never match the
/// alternation, and a process that decides once (the Claude Code hook) should not pay for
/// compiling the individual regexes it will not run.
static ANY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let alternation: Vec<String> = DETECTORS.iter().map(|(_, p)| format!("(?:{p})")).collect();
    Regex::new(&alternation.join("|")).ok()
});

static EACH: LazyLock<Option<Vec<(&'static str, Regex)>>> = LazyLock::new(|| {
    DETECTORS
        .iter()
        .map(|(name, pattern)| Regex::new(pattern).ok().map(|re| (*name, re)))
        .collect()
});

/// Literals at least one of which every match of a [`DETECTORS`] regex contains (each
/// detector's own test proves its positive case gets past this). Texts with none of them (most
/// texts) never reach a regex, so a process that decides once compiles none.
const LITERALS: &[&str] = &[
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "hooks.slack.com",
    "-----BEGIN ",
    "k_live_",
    "AIza",
    "sk-",
    "eyJ",
    "lin_api_",
];

/// Whether a regex detector could match `text`: one of [`LITERALS`], or (for the
/// case-insensitive AWS secret key names) both `secret` and `access` in any case. Kept tight:
/// ordinary prose ("secrets", "high") must not cost a process the regex compilation.
fn may_match(text: &str) -> bool {
    let contains_ci = |word: &[u8]| {
        text.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    LITERALS.iter().any(|l| text.contains(l)) || (contains_ci(b"secret") && contains_ci(b"access"))
}

/// Names of the detectors that match anywhere in `text`, added to `found`.
pub fn detect(text: &str, found: &mut BTreeSet<&'static str>) {
    if !may_match(text) {
        if has_generic_secret(text.as_bytes()) {
            found.insert(GENERIC);
        }
        return;
    }
    match ANY.as_ref().map(|any| any.is_match(text)) {
        Some(false) => {}
        Some(true) => match EACH.as_ref() {
            Some(each) => {
                for (name, re) in each {
                    if re.is_match(text) {
                        found.insert(name);
                    }
                }
            }
            None => found.extend(DETECTORS.iter().map(|(name, _)| *name)),
        },
        // The patterns are constants and compile (a test holds it); if one ever did not,
        // finding nothing would be wrong, so every regex detector is reported instead.
        None => found.extend(DETECTORS.iter().map(|(name, _)| *name)),
    }
    if has_generic_secret(text.as_bytes()) {
        found.insert(GENERIC);
    }
}

/// Whether `text` assigns a random-looking value to a name that says it holds a secret:
/// `name` `:` / `=` / `=>` `value`, with blanks and quotes allowed around the separator, as in
/// `password=...`, `secret: ...`, `"api_key": "..."`, `export GH_TOKEN='...'`.
///
/// Cost: each separator looks back over the blanks, quotes and name characters before it,
/// which contain no separator, so every byte is looked at a bounded number of times.
fn has_generic_secret(text: &[u8]) -> bool {
    text.iter().enumerate().any(|(i, b)| {
        matches!(b, b':' | b'=')
            && name_says_secret(text.get(..i).unwrap_or_default())
            && generic_value_is_secret(value_after(text.get(i + 1..).unwrap_or_default()))
    })
}

fn is_blank_or_quote(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'"' | b'\'')
}

fn is_name_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Characters a generic value may have: those of base64, hex, and common password symbols.
/// Parentheses, brackets, braces, quotes, blanks, `,`, `;` and `:` end it, so code such as
/// `request.get(...)` or `${{ secrets.X }}` stays short.
fn is_value_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || b"_+/=.~!@#$%^&*?-".contains(b)
}

/// Whether the name that ends `before` (after blanks and quotes) contains a secret word.
fn name_says_secret(before: &[u8]) -> bool {
    let end = before.len()
        - before
            .iter()
            .rev()
            .take_while(|b| is_blank_or_quote(b))
            .count();
    let name = before.get(..end).unwrap_or_default();
    let len = name
        .iter()
        .rev()
        .take_while(|b| is_name_byte(b))
        .take(MAX_NAME_BYTES)
        .count();
    let name = name.get(name.len() - len..).unwrap_or_default();
    let mut lower = [0u8; MAX_NAME_BYTES];
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = match src {
            b'-' => b'_',
            _ => src.to_ascii_lowercase(),
        };
    }
    let lower = lower.get(..len).unwrap_or_default();
    SECRET_NAME_WORDS
        .iter()
        .any(|word| lower.windows(word.len()).any(|w| w == *word))
}

/// The value at the start of `after`: past an optional `>` (of `=>`), blanks and quotes, the
/// run of value characters.
fn value_after(after: &[u8]) -> &[u8] {
    let after = after.strip_prefix(b">").unwrap_or(after);
    let start = after.iter().take_while(|b| is_blank_or_quote(b)).count();
    let after = after.get(start..).unwrap_or_default();
    let len = after
        .iter()
        .take_while(|b| is_value_byte(b))
        .take(MAX_VALUE_BYTES)
        .count();
    after.get(..len).unwrap_or_default()
}

/// Whether a value assigned to a secret-sounding name looks random enough to be a secret:
/// it is at least [`MIN_VALUE_BYTES`] long and has a digit; it is not a path or a reference
/// (`/`, `.`, `~`, `$` first); it is neither a UUID nor a 40-hex git sha (identifiers, not
/// secrets); and it carries at least [`MIN_ENTROPY`] bits per character.
fn generic_value_is_secret(value: &[u8]) -> bool {
    value.len() >= MIN_VALUE_BYTES
        && value.iter().any(u8::is_ascii_digit)
        && !value.first().is_some_and(|b| b"/.~$".contains(b))
        && !(value.len() == 40 && value.iter().all(u8::is_ascii_hexdigit))
        && !is_uuid(value)
        && shannon_entropy(value) >= MIN_ENTROPY
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Shannon entropy of `bytes` in bits per byte.
fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in bytes {
        counts[usize::from(*b)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests;
