//! `axtary normalize`: show the Action (with facts and hash) that policy will see.

use anyhow::Result;
use axtary_core::ActionRequest;
use axtary_core::normalize::{NormalizeOptions, normalize};

use crate::exit::Exit;
use crate::home::{self, Home};
use crate::output::{self, Format};
use crate::request;

pub fn run(home: &Home, format: Format) -> Result<Exit> {
    let config = home.config()?;
    let parsed = request::read_stdin(config.json_limits()).and_then(|bytes| {
        ActionRequest::from_slice(&bytes, config.json_limits()).map_err(|e| e.to_string())
    });
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let opts = NormalizeOptions {
        limits: config.json_limits(),
        user_home: home::user_home(),
    };
    let action = match normalize(&req, &opts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            return Ok(Exit::Invalid);
        }
    };
    let hash = action.hash();
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(&action)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("action_hash".into(), hash.to_string().into());
            }
            output::print_json(&value)?;
        }
        Format::Text => {
            let mut text = format!(
                "{} {} on {}\naction_hash: {hash}\nfacts:\n",
                action.connector, action.operation, action.resource
            );
            for (name, fact) in &action.facts {
                text.push_str(&format!("  {name}: {}\n", serde_json::to_string(fact)?));
            }
            text.push_str(&format!(
                "payload: {}\n",
                serde_json::to_string(&action.payload)?
            ));
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}
