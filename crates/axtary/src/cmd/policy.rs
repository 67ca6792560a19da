//! `axtary policy check|test|explain`.

use std::path::Path;

use anyhow::{Context, Result};
use axtary_core::decision::{Decision, decide_bytes};
use axtary_core::normalize::NormalizeOptions;
use axtary_core::policy::Severity;

use crate::exit::Exit;
use crate::home::{self, Home};
use crate::output::{self, Format};
use crate::{policy_file, request};

/// `axtary policy check [FILE]`: load the policy and report every error and warning.
pub fn check(home: &Home, file: Option<&Path>, format: Format) -> Result<Exit> {
    let config = home.config()?;
    let path = policy_file::path(home, &config, file);
    let shown = path.display().to_string();
    let (ok, diagnostics, rules, tests, source) =
        match policy_file::load(&path, &policy_file::env(home)) {
            Ok((loaded, source)) => {
                let user_rules = loaded.policy.rules().iter().filter(|r| !r.builtin).count();
                (
                    true,
                    loaded.warnings,
                    user_rules,
                    loaded.policy.tests().len(),
                    source,
                )
            }
            Err(failure) => {
                if failure.diagnostics.is_empty() {
                    // The file could not even be read.
                    match format {
                        Format::Json => output::print_json(&serde_json::json!({
                            "ok": false, "path": shown, "error": failure.summary, "diagnostics": [],
                        }))?,
                        Format::Text => eprint!("{}", failure.details),
                    }
                    return Ok(Exit::Invalid);
                }
                let source = std::fs::read_to_string(&path).unwrap_or_default();
                (false, failure.diagnostics, 0, 0, source)
            }
        };
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "ok": ok, "path": shown, "rules": rules, "tests": tests,
            "errors": errors, "warnings": warnings, "diagnostics": diagnostics,
        }))?,
        Format::Text => {
            eprint!("{}", policy_file::render_all(&diagnostics, &shown, &source));
            if ok {
                output::print(&format!(
                    "{shown}: ok, {rules} rules, {tests} tests, {warnings} warning(s)\n"
                ))?;
            } else {
                eprintln!("{shown}: {errors} error(s), {warnings} warning(s)");
            }
        }
    }
    Ok(if ok { Exit::Ok } else { Exit::Invalid })
}

/// `axtary policy test [FILE]`: run the tests written in the policy file.
pub fn test(home: &Home, file: Option<&Path>, format: Format) -> Result<Exit> {
    let config = home.config()?;
    let path = policy_file::path(home, &config, file);
    let shown = path.display().to_string();
    let loaded = match policy_file::load(&path, &policy_file::env(home)) {
        Ok((loaded, _)) => loaded,
        Err(failure) => {
            eprint!("{}", failure.details);
            return Ok(Exit::Invalid);
        }
    };
    let report = loaded.policy.run_tests();
    match format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            let mut text = String::new();
            for r in &report.results {
                if r.passed {
                    text.push_str(&format!("ok     {}\n", r.name));
                } else {
                    let expected = match &r.expected.rule {
                        Some(rule) => format!("{} by {rule}", r.expected.effect),
                        None => r.expected.effect.to_string(),
                    };
                    text.push_str(&format!(
                        "FAILED {} ({shown}:{})\n         expected {expected}, got {} by {}\n",
                        r.name, r.line, r.actual.effect, r.actual.rule
                    ));
                    if let Some(e) = &r.error {
                        text.push_str(&format!("         input error: {e}\n"));
                    }
                }
            }
            if report.results.is_empty() {
                text.push_str(&format!(
                    "{shown} has no tests\nhint: add a `tests:` list (see docs/policy.md)\n"
                ));
            }
            text.push_str(&format!(
                "\npolicy tests: {} passed, {} failed\n",
                report.passed, report.failed
            ));
            output::print(&text)?;
        }
    }
    Ok(if report.all_passed() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

/// `axtary policy explain --action FILE`: every rule considered and why it matched or not.
pub fn explain(
    home: &Home,
    file: Option<&Path>,
    action_file: &Path,
    format: Format,
) -> Result<Exit> {
    let config = home.config()?;
    let limits = config.json_limits();
    let path = policy_file::path(home, &config, file);
    let loaded = match policy_file::load(&path, &policy_file::env(home)) {
        Ok((loaded, _)) => loaded,
        Err(failure) => {
            eprint!("{}", failure.details);
            return Ok(Exit::Invalid);
        }
    };
    let bytes = if action_file == Path::new("-") {
        request::read_stdin(limits)
    } else {
        let f = std::fs::File::open(action_file)
            .with_context(|| format!("cannot open `{}`", action_file.display()))?;
        request::read_bounded(f, limits)
    };
    let opts = NormalizeOptions {
        limits,
        user_home: home::user_home(),
    };
    let decided = match bytes {
        Ok(bytes) => decide_bytes(&bytes, Ok(&loaded.policy), &opts),
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(Exit::Invalid);
        }
    };
    let Some(action) = decided.action else {
        let e = decided.input_error.map(|e| e.message).unwrap_or_default();
        eprintln!("error: {e}");
        print_invalid(&decided.decision, format)?;
        return Ok(Exit::Invalid);
    };
    let explanation = loaded.policy.explain(&action);
    match format {
        Format::Json => output::print_json(&serde_json::json!({
            "decision": decided.decision,
            "action": action,
            "rules": explanation.rules,
        }))?,
        Format::Text => {
            let d = &decided.decision;
            let mut text = format!(
                "decision: {} by {}: {}\naction:   {} {} on {}\n          {}\n\n",
                d.effect,
                d.rule,
                d.reason,
                action.connector,
                action.operation,
                action.resource,
                action.hash()
            );
            for rule in &explanation.rules {
                let mark = if rule.matched { "MATCH" } else { "-    " };
                text.push_str(&format!("{mark} {} ({})\n", rule.rule, rule.effect));
                for reason in &rule.reasons {
                    text.push_str(&format!("        {reason}\n"));
                }
            }
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}

fn print_invalid(decision: &Decision, format: Format) -> Result<()> {
    if format == Format::Json {
        output::print_json(&serde_json::json!({"decision": decision}))?;
    }
    Ok(())
}
