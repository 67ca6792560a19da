//! `axtary pass inspect TOKEN` and `axtary pass verify TOKEN --action FILE`.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axtary_core::ActionRequest;
use axtary_core::normalize::{NormalizeOptions, normalize};
use axtary_core::pass::{self, Expected};
use axtary_node::passes::SqliteJtiStore;
use serde_json::{Value, json};

use crate::cmd::ledger::{fmt_ts, open_reader, trusted_keys};
use crate::exit::Exit;
use crate::home::{self, Home};
use crate::output::{self, Format};
use crate::request;

#[derive(clap::Subcommand)]
pub enum PassCommand {
    /// Decode a pass's header and claims WITHOUT verifying anything. Exit 3 if it is not a pass
    Inspect {
        token: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Verify a pass for an action: signature (trusted node keys), `alg`/`typ`, audience (the
    /// action's connector), action hash, expiry, and single use; a valid pass is used up.
    /// Exit 0 valid, 2 invalid (deny, reason on stderr), 3 invalid action file, 1 error
    Verify {
        token: String,
        /// File holding the ActionRequest the pass must authorize (`-` for stdin)
        #[arg(long, value_name = "FILE")]
        action: PathBuf,
        /// The time to check against, in seconds since the Unix epoch [default: now]
        #[arg(long, value_name = "UNIX")]
        now: Option<i64>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub fn run(home: &Home, command: &PassCommand) -> Result<Exit> {
    match command {
        PassCommand::Inspect { token, format } => inspect(token, *format),
        PassCommand::Verify {
            token,
            action,
            now,
            format,
        } => verify(home, token, action, *now, *format),
    }
}

const UNVERIFIED: &str = "UNVERIFIED: decoded only; the signature, expiry, audience, action hash and single use were NOT checked (use `axtary pass verify`)";

fn inspect(token: &str, format: Format) -> Result<Exit> {
    let inspected = match pass::inspect(token.trim()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    match format {
        Format::Json => output::print_json(&json!({
            "verified": false,
            "warning": UNVERIFIED,
            "header": inspected.header,
            "claims": inspected.claims,
        }))?,
        Format::Text => {
            eprintln!("warning: {UNVERIFIED}");
            let mut text = format!(
                "UNVERIFIED pass\nheader: {}\nclaims: {}\n",
                serde_json::to_string_pretty(&inspected.header)?,
                serde_json::to_string_pretty(&inspected.claims)?
            );
            let time = |k: &str| inspected.claims.get(k).and_then(Value::as_i64);
            if let (Some(iat), Some(exp)) = (time("iat"), time("exp")) {
                text.push_str(&format!(
                    "issued {} expires {} (claimed)\n",
                    fmt_ts(iat.saturating_mul(1000)),
                    fmt_ts(exp.saturating_mul(1000))
                ));
            }
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}

fn verify(
    home: &Home,
    token: &str,
    action_path: &std::path::Path,
    now: Option<i64>,
    format: Format,
) -> Result<Exit> {
    let config = home.config()?;
    let limits = config.json_limits();
    let bytes = if action_path.as_os_str() == "-" {
        request::read_stdin(limits)
    } else {
        std::fs::File::open(action_path)
            .map_err(|e| format!("cannot read `{}`: {e}", action_path.display()))
            .and_then(|f| request::read_bounded(f, limits))
    };
    let action = bytes
        .and_then(|b| ActionRequest::from_slice(&b, limits).map_err(|e| e.to_string()))
        .and_then(|req| {
            let opts = NormalizeOptions {
                limits,
                user_home: home::user_home(),
            };
            normalize(&req, &opts).map_err(|e| e.to_string())
        });
    let action = match action {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    open_reader(home)?; // the used-pass table lives in the ledger database
    let keys = trusted_keys(home)?;
    let mut store =
        SqliteJtiStore::open(&home.ledger_path()).context("cannot open the used-pass table")?;
    let now = now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    });
    let expected = Expected {
        audience: &action.connector,
        subject: Some(&action.agent),
        action_hash: action.hash(),
        now,
    };
    let result = pass::verify(token.trim(), keys.as_slice(), &expected, &mut store);
    // Housekeeping only; a failure here changes nothing about this pass.
    let _ = store.purge_expired(now);
    match result {
        Ok(verified) => {
            let c = verified.claims();
            match format {
                Format::Json => output::print_json(&json!({"valid": true, "claims": c}))?,
                Format::Text => output::print(&format!(
                    "valid: pass {} for {} {} on {} by {} (decision {}); it is now used\n",
                    c.jti, c.aud, c.op, c.res, c.sub, c.dec
                ))?,
            }
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("invalid: {e}");
            if format == Format::Json {
                output::print_json(&json!({"valid": false, "reason": e.to_string()}))?;
            }
            Ok(Exit::Deny)
        }
    }
}
