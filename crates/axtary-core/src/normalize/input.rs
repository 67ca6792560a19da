//! Strict readers for request inputs, with messages that name the field.

use serde_json::{Map, Value};

use super::Failure;
use crate::action::type_name;
use crate::facts::is_server_name;

/// A request input object whose fields were checked against an allow-list.
pub(crate) struct Input<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Input<'a> {
    /// Checks that `value` is an object holding only `allowed` fields.
    pub fn new(value: &'a Value, allowed: &[&str]) -> Result<Self, Failure> {
        let Value::Object(map) = value else {
            return Err(Failure::Input(format!(
                "input must be an object, got {}",
                type_name(value)
            )));
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Failure::Input(format!(
                "unknown field `{unknown}` (expected one of: {})",
                allowed.join(", ")
            )));
        }
        Ok(Self { map })
    }

    /// A field, treating `null` as absent.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn required(&self, field: &str) -> Result<&'a Value, Failure> {
        self.get(field)
            .ok_or_else(|| Failure::Input(format!("missing field `{field}`")))
    }

    /// A required non-empty string of at most `max` bytes.
    pub fn text(&self, field: &str, max: usize) -> Result<&'a str, Failure> {
        let v = self.required(field)?;
        as_text(v, field, max)
    }

    /// An optional string of at most `max` bytes.
    pub fn opt_text(&self, field: &str, max: usize) -> Result<Option<&'a str>, Failure> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => {
                let Value::String(s) = v else {
                    return Err(wrong_type(field, "a string", v));
                };
                if s.len() > max {
                    return Err(Failure::Input(format!(
                        "`{field}` is longer than {max} bytes"
                    )));
                }
                Ok(Some(s))
            }
        }
    }

    /// A required single-line name (branch, team, channel): no control characters, at most 256 bytes.
    pub fn line(&self, field: &str) -> Result<&'a str, Failure> {
        let s = self.text(field, 256)?;
        if s.chars().any(char::is_control) {
            return Err(Failure::Input(format!(
                "`{field}` must not contain control characters"
            )));
        }
        Ok(s)
    }

    /// A required config name: 1 to 64 of `[A-Za-z0-9_.-]`.
    pub fn name(&self, field: &str) -> Result<&'a str, Failure> {
        let s = self.text(field, 64)?;
        if !is_server_name(s) {
            return Err(Failure::Input(format!(
                "`{field}` must be a name of letters, digits, `_`, `-` or `.` (got `{}`)",
                s.escape_debug()
            )));
        }
        Ok(s)
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, Failure> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong_type(field, "a boolean", v)),
        }
    }

    /// A required integer in `min..=max`.
    pub fn int(&self, field: &str, min: i64, max: i64) -> Result<i64, Failure> {
        let v = self.required(field)?;
        as_int(v, field, min, max)
    }

    pub fn opt_int(&self, field: &str, min: i64, max: i64) -> Result<Option<i64>, Failure> {
        self.get(field)
            .map(|v| as_int(v, field, min, max))
            .transpose()
    }

    /// A required array.
    pub fn array(&self, field: &str) -> Result<&'a [Value], Failure> {
        match self.required(field)? {
            Value::Array(items) => Ok(items),
            v => Err(wrong_type(field, "an array", v)),
        }
    }

    /// An optional absolute directory (used for `cwd`), lexically normalized.
    pub fn opt_abs_dir(&self, field: &str) -> Result<Option<String>, Failure> {
        let Some(s) = self.opt_text(field, 4096)? else {
            return Ok(None);
        };
        if !s.starts_with('/') {
            return Err(Failure::Input(format!(
                "`{field}` must be an absolute path (got `{}`)",
                s.escape_debug()
            )));
        }
        super::paths::normalize_lexically(s)
            .map(Some)
            .map_err(Failure::Input)
    }
}

impl Input<'_> {
    /// The optional `options` object (tool fields a surface passes along unmapped): its keys,
    /// sorted, for the `options` fact. Its values stay in the payload, bound by the hash.
    pub fn options(&self) -> Result<Option<(&Value, Vec<String>)>, Failure> {
        match self.get("options") {
            None => Ok(None),
            Some(v @ Value::Object(map)) => {
                let mut keys: Vec<String> = map.keys().cloned().collect();
                keys.sort();
                Ok(Some((v, keys)))
            }
            Some(v) => Err(wrong_type("options", "an object", v)),
        }
    }

    /// The optional `real_paths` object: absolute path → absolute real path (see
    /// [`super::paths::RealPaths`]).
    pub fn real_paths(&self) -> Result<Option<super::paths::RealPaths>, Failure> {
        let Some(v) = self.get("real_paths") else {
            return Ok(None);
        };
        let Value::Object(map) = v else {
            return Err(wrong_type("real_paths", "an object", v));
        };
        if map.len() > 1024 {
            return Err(Failure::Input(
                "`real_paths` has more than 1024 entries".into(),
            ));
        }
        let mut out = super::paths::RealPaths::new();
        for (k, v) in map {
            let Value::String(real) = v else {
                return Err(wrong_type("real_paths", "an object of strings", v));
            };
            for p in [k, real] {
                if !p.starts_with('/') || p.len() > 4096 || p.contains('\0') {
                    return Err(Failure::Input(format!(
                        "`real_paths` holds only absolute paths (got `{}`)",
                        p.escape_debug()
                    )));
                }
            }
            let key = super::paths::normalize_lexically(k).map_err(Failure::Input)?;
            let real = super::paths::normalize_lexically(real).map_err(Failure::Input)?;
            out.insert(key, real);
        }
        Ok(Some(out))
    }
}

pub(crate) fn as_text<'v>(v: &'v Value, field: &str, max: usize) -> Result<&'v str, Failure> {
    let Value::String(s) = v else {
        return Err(wrong_type(field, "a string", v));
    };
    if s.is_empty() {
        return Err(Failure::Input(format!("`{field}` must not be empty")));
    }
    if s.len() > max {
        return Err(Failure::Input(format!(
            "`{field}` is longer than {max} bytes"
        )));
    }
    Ok(s)
}

fn as_int(v: &Value, field: &str, min: i64, max: i64) -> Result<i64, Failure> {
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(Failure::Input(format!(
            "`{field}` must be between {min} and {max}"
        ))),
        None => Err(wrong_type(field, "an integer", v)),
    }
}

pub(crate) fn wrong_type(field: &str, expected: &str, got: &Value) -> Failure {
    Failure::Input(format!(
        "`{field}` must be {expected}, got {}",
        type_name(got)
    ))
}
