#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The golden corpus: request + policy + expected decision and rule, in `tests/corpus/*.yaml`.
//!
//! Each file names a policy (`starter` is the policy `axtary init` writes; anything else is a
//! file under `tests/corpus/policies/`) and lists cases. A case gives the request as YAML
//! (`request`), as exact text (`raw`, for malformed JSON), as hex bytes (`raw_hex`, for invalid
//! UTF-8), or generated (`generate`, for huge or deeply nested input), and the decision it must
//! get. Every case runs through `decide_bytes`, the function every surface calls.

use std::path::{Path, PathBuf};

use axtary_core::decision::decide_bytes;
use axtary_core::normalize::NormalizeOptions;
use axtary_core::policy::{Effect, Policy, PolicyEnv};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    policy: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    request: Option<serde_json::Value>,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    raw_hex: Option<String>,
    #[serde(default)]
    generate: Option<Generate>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    prefix: String,
    repeat: String,
    times: usize,
    #[serde(default)]
    suffix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    effect: Effect,
    rule: String,
    /// A substring the input error must contain (only for invalid input).
    #[serde(default)]
    error: Option<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The policy `name`, loaded whole, and loaded again from its cache (as the hook does).
fn load_policy(name: &str) -> (Policy, Policy) {
    let path = if name == "starter" {
        root().join("crates/axtary-node/src/starter-policy.yaml")
    } else {
        root().join("tests/corpus/policies").join(name)
    };
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env = PolicyEnv {
        axtary_home: Some("/home/dev/.axtary".into()),
        ..Default::default()
    };
    let whole = match Policy::load(&source, &env) {
        Ok(loaded) => loaded.policy,
        Err(diags) => panic!("{}: {diags:#?}", path.display()),
    };
    let (first, cache) = Policy::load_cached(&source, &env, None);
    assert!(first.is_ok(), "{}", path.display());
    let cache = cache.expect("a policy that loads is cached");
    let (cached, again) = Policy::load_cached(&source, &env, Some(&cache));
    assert!(
        again.is_none(),
        "{}: the cache was not used",
        path.display()
    );
    let cached = cached.unwrap_or_else(|d| panic!("{}: {d:#?}", path.display()));
    assert!(
        cached.policy.tests().is_empty(),
        "the cache leaves tests out"
    );
    assert_eq!(cached.policy.hash(), whole.hash());
    (whole, cached.policy)
}

fn case_bytes(case: &Case) -> Vec<u8> {
    match (&case.request, &case.raw, &case.raw_hex, &case.generate) {
        (Some(req), None, None, None) => serde_json::to_vec(req).unwrap(),
        (None, Some(raw), None, None) => raw.as_bytes().to_vec(),
        (None, None, Some(hex), None) => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect(),
        (None, None, None, Some(g)) => {
            let mut s =
                String::with_capacity(g.prefix.len() + g.repeat.len() * g.times + g.suffix.len());
            s.push_str(&g.prefix);
            for _ in 0..g.times {
                s.push_str(&g.repeat);
            }
            s.push_str(&g.suffix);
            s.into_bytes()
        }
        _ => panic!(
            "case `{}` must give exactly one of request, raw, raw_hex, generate",
            case.name
        ),
    }
}

#[test]
fn golden_corpus() {
    let dir = root().join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let opts = NormalizeOptions {
        user_home: Some("/home/dev".into()),
        ..Default::default()
    };
    let (mut total, mut failures) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let corpus: CorpusFile =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (policy, cached) = load_policy(&corpus.policy);
        for case in &corpus.cases {
            total += 1;
            let decided = decide_bytes(&case_bytes(case), Ok(&policy), &opts);
            let d = &decided.decision;
            let mut problems = Vec::new();
            // The cached policy (lazy sets, no YAML) must decide exactly as the whole one.
            let from_cache = decide_bytes(&case_bytes(case), Ok(&cached), &opts).decision;
            if from_cache != *d {
                problems.push(format!(
                    "loaded from its cache, the policy decided {} by {} ({}) instead",
                    from_cache.effect, from_cache.rule, from_cache.reason
                ));
            }
            if d.effect != case.expect.effect || d.rule != case.expect.rule {
                problems.push(format!(
                    "expected {} by {}, got {} by {} ({})",
                    case.expect.effect, case.expect.rule, d.effect, d.rule, d.reason
                ));
            }
            if let Some(needle) = &case.expect.error {
                let got = decided
                    .input_error
                    .as_ref()
                    .map(|e| e.message.as_str())
                    .unwrap_or("<no error>");
                if !got.contains(needle.as_str()) {
                    problems.push(format!(
                        "expected an error containing `{needle}`, got `{got}`"
                    ));
                }
            }
            if decided.input_error.is_some() && d.effect != Effect::Deny {
                problems.push("invalid input must be denied".into());
            }
            if !problems.is_empty() {
                let file_name = file.file_name().unwrap().to_string_lossy();
                failures.push(format!(
                    "{file_name}: {}: {}",
                    case.name,
                    problems.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= 150,
        "the corpus must hold at least 150 cases, has {total}"
    );
    eprintln!("golden corpus: {total} cases passed");
}
