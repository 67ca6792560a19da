//! `axtary init`: create the home directory with a node key, config and starter policy.

use anyhow::{Context, Result};
use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

use crate::exit::Exit;
use crate::home::{self, Created, Home};
use crate::output::{self, Format};

pub fn run(home: &Home, format: Format) -> Result<Exit> {
    home::ensure_private_dir(home.root())?;
    let key = create_key(home)?;
    let config = home::create_file(
        &home.config_path(),
        home::config_template().as_bytes(),
        0o600,
    )?;
    let policy_path = home.policy_path(&home.config()?);
    let policy = home::create_file(&policy_path, home::STARTER_POLICY.as_bytes(), 0o600)?;
    let report = [
        ("node key", home.key_path(), key),
        ("config", home.config_path(), config),
        ("policy", policy_path, policy),
    ];
    match format {
        Format::Json => {
            let files: Vec<_> = report
                .iter()
                .map(|(what, path, c)| {
                    serde_json::json!({"file": what, "path": path, "created": matches!(c, Created::New)})
                })
                .collect();
            output::print_json(&serde_json::json!({"home": home.root(), "files": files}))?;
        }
        Format::Text => {
            let mut text = format!("Axtary home: {}\n", home.root().display());
            for (what, path, c) in &report {
                let verb = if matches!(c, Created::New) {
                    "created"
                } else {
                    "kept   "
                };
                text.push_str(&format!("  {verb} {what:<8} {}\n", path.display()));
            }
            text.push_str(
                "\nnext:\n  axtary policy test             # run the starter policy's own tests\n  \
                 echo '{\"connector\":\"fs\",\"operation\":\"read\",\"input\":{\"path\":\"/repo/.env\"}}' | axtary decide\n",
            );
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}

/// A fresh Ed25519 node key, 0600. Kept if one exists.
fn create_key(home: &Home) -> Result<Created> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("cannot read the system random source: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let file = Zeroizing::new(format!(
        "axtary-node-key-v1\nalg: ed25519\nseed: {}\npublic: {}\n",
        hex(seed.as_slice()),
        hex(key.verifying_key().as_bytes())
    ));
    home::create_file(&home.key_path(), file.as_bytes(), 0o600)
        .context("cannot create the node key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
