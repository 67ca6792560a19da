//! `axtary init`: create the home directory with a node key, config, starter policy and ledger.

use anyhow::{Context, Result};
use axtary_node::keys;

use crate::exit::Exit;
use crate::home::{self, Created, Home};
use crate::node;
use crate::output::{self, Format};

/// What `init` found or created.
struct Initialized {
    key_id: String,
    files: Vec<(&'static str, std::path::PathBuf, Created)>,
}

/// Creates whatever is missing; keeps everything that exists.
fn create(home: &Home) -> Result<Initialized> {
    home::ensure_private_dir(home.root())?;
    let key = if keys::create_node_key(&home.key_path()).context("cannot create the node key")? {
        Created::New
    } else {
        Created::Kept
    };
    let token = if axtary_node::token::create(&home.agent_token_path())
        .context("cannot create the agent token")?
    {
        Created::New
    } else {
        Created::Kept
    };
    let node_key = keys::load_node_key(&home.key_path())?;
    let node_name = format!("node-{}", node_key.key_id().get(..8).unwrap_or("local"));
    let config = home::create_file(
        &home.config_path(),
        home::config_template(&node_name).as_bytes(),
        0o600,
    )?;
    let policy_path = home.policy_path(&home.config()?);
    let policy = home::create_file(&policy_path, home::STARTER_POLICY.as_bytes(), 0o600)?;
    let ledger_existed = home.ledger_path().exists();
    node::open_ledger(home)?.close()?;
    let ledger = if ledger_existed {
        Created::Kept
    } else {
        Created::New
    };
    let files = vec![
        ("node key", home.key_path(), key),
        ("config", home.config_path(), config),
        ("policy", policy_path, policy),
        ("ledger", home.ledger_path(), ledger),
        ("agent token", home.agent_token_path(), token),
    ];
    Ok(Initialized {
        key_id: node_key.key_id().to_owned(),
        files,
    })
}

/// Initializes `home` if needed and describes it (for `axtary up`).
pub fn report(home: &Home) -> Result<String> {
    Ok(describe(home, &create(home)?))
}

fn describe(home: &Home, init: &Initialized) -> String {
    let mut text = format!("Axtary home: {}\n", home.root().display());
    for (what, path, c) in &init.files {
        let verb = if matches!(c, Created::New) {
            "created"
        } else {
            "kept   "
        };
        text.push_str(&format!("  {verb} {what:<11} {}\n", path.display()));
    }
    text.push_str(&format!("  node key id: {}\n", init.key_id));
    text
}

pub fn run(home: &Home, format: Format) -> Result<Exit> {
    let init = create(home)?;
    let (report, node_key) = (&init.files, &init.key_id);
    match format {
        Format::Json => {
            let files: Vec<_> = report
                .iter()
                .map(|(what, path, c)| serde_json::json!({"file": what, "path": path, "created": matches!(c, Created::New)}))
                .collect();
            output::print_json(
                &serde_json::json!({"home": home.root(), "key_id": node_key, "files": files}),
            )?;
        }
        Format::Text => {
            let mut text = describe(home, &init);
            text.push_str(
                "\nnext:\n  axtary policy test             # run the starter policy's own tests\n  \
                 echo '{\"connector\":\"fs\",\"operation\":\"read\",\"input\":{\"path\":\"/repo/.env\"}}' | axtary decide\n  \
                 axtary serve                   # the local HTTP API for agents (token: agent.token)\n",
            );
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}
