//! linear: issue.create.

use serde_json::Value;

use super::input::{Input, as_text};
use super::{Failure, Normalized};
use crate::facts::{Fact, Facts};

pub(crate) fn normalize(op: &str, value: &Value) -> Result<Normalized, Failure> {
    if op != "issue.create" {
        return Err(Failure::UnknownOperation("issue.create"));
    }
    let input = Input::new(
        value,
        &["team", "title", "description", "priority", "labels"],
    )?;
    let team = input.line("team")?;
    input.text("title", 1024)?;
    input.opt_text("description", 256 * 1024)?;
    let priority = input.opt_int("priority", 0, 4)?;
    let labels = match input.get("labels") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, l)| as_text(l, &format!("labels[{i}]"), 256).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(super::input::wrong_type(
                "labels",
                "an array of strings",
                other,
            ));
        }
    };
    let mut facts = Facts::new();
    facts.insert("team".into(), team.into());
    if let Some(p) = priority {
        facts.insert("priority".into(), Fact::Int(p));
    }
    facts.insert("labels".into(), Fact::List(labels));
    Ok(Normalized {
        resource: format!("linear:{team}"),
        payload: value.clone(),
        facts,
    })
}
