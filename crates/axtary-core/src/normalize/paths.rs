//! Lexical path resolution for the fs and shell normalizers.
//!
//! Paths are resolved against the request's working directory and normalized *lexically*:
//! `.` and empty components vanish, `..` removes the previous component (never above `/`), so
//! `./a/../.env`, `//etc/passwd` and `../../.env` all become the file they name. Symlinks are
//! not followed here (this crate does no I/O); a surface that can see the file system resolves
//! them before asking. Names are case-sensitive: `.ENV` on a case-insensitive file system is out
//! of scope for lexical matching, and policy globs should list such variants explicitly.

/// Normalizes an absolute path lexically. Errors on NUL and relative input.
pub fn normalize_lexically(path: &str) -> Result<String, String> {
    if path.contains('\0') {
        return Err("paths must not contain NUL".into());
    }
    if !path.starts_with('/') {
        return Err(format!("`{}` is not absolute", path.escape_debug()));
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Normalizes a relative path lexically, keeping leading `..` it cannot resolve.
fn normalize_relative(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// One path, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Absolute and normalized, when knowable (relative paths need a cwd).
    pub abs: Option<String>,
    /// Project-relative when inside the cwd, else absolute; relative as written (normalized) when
    /// there is no cwd.
    pub display: String,
    pub in_project: bool,
}

/// Resolves `path` against `cwd` (absolute, normalized) and `user_home` (for `~/`).
pub fn resolve(path: &str, cwd: Option<&str>, user_home: Option<&str>) -> Result<Resolved, String> {
    if path.is_empty() {
        return Err("path must not be empty".into());
    }
    if path.contains('\0') {
        return Err("paths must not contain NUL".into());
    }
    let expanded;
    let path = match (path.strip_prefix('~'), user_home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            expanded = format!("{home}/{rest}");
            expanded.as_str()
        }
        _ => path,
    };
    let abs = if path.starts_with('/') {
        Some(normalize_lexically(path)?)
    } else {
        match cwd {
            Some(cwd) => Some(normalize_lexically(&format!("{cwd}/{path}"))?),
            None => None,
        }
    };
    let Some(abs) = abs else {
        return Ok(Resolved {
            abs: None,
            display: normalize_relative(path),
            in_project: false,
        });
    };
    let relative = cwd.and_then(|cwd| {
        if abs == cwd {
            Some(".".to_owned())
        } else if cwd == "/" {
            abs.strip_prefix('/').map(str::to_owned)
        } else {
            abs.strip_prefix(cwd)
                .and_then(|r| r.strip_prefix('/'))
                .map(str::to_owned)
        }
    });
    Ok(match relative {
        Some(display) => Resolved {
            abs: Some(abs),
            display,
            in_project: true,
        },
        None => Resolved {
            display: abs.clone(),
            abs: Some(abs),
            in_project: false,
        },
    })
}

/// Symlink-free forms of paths, found by a surface that can see the file system (the Claude
/// Code hook): lexically normalized absolute path → the real path the kernel would reach.
/// Lexical resolution cannot see symlinks, so a surface adds these and policy sees both names.
pub type RealPaths = std::collections::BTreeMap<String, String>;

/// [`resolve`], then the real form of the result when `real` knows one: resolved against the
/// real working directory, so a project under a symlinked directory stays "in the project".
pub fn resolve_with_real(
    path: &str,
    cwd: Option<&str>,
    user_home: Option<&str>,
    real: &RealPaths,
) -> Result<(Resolved, Option<Resolved>), String> {
    let r = resolve(path, cwd, user_home)?;
    let real_form = r
        .abs
        .as_ref()
        .and_then(|abs| real.get(abs))
        .filter(|p| p.starts_with('/'))
        .and_then(|p| {
            let real_cwd = cwd.map(|c| real.get(c).map_or(c, String::as_str));
            resolve(p, real_cwd, None).ok()
        })
        .filter(|rr| rr.abs != r.abs);
    Ok((r, real_form))
}

/// Collects resolved paths for the `paths` and `abs_paths` facts, deduplicated in order.
pub(crate) struct PathSet<'a> {
    cwd: Option<&'a str>,
    user_home: Option<&'a str>,
    real: Option<&'a RealPaths>,
    paths: Vec<String>,
    abs_paths: Vec<String>,
}

impl<'a> PathSet<'a> {
    pub fn new(cwd: Option<&'a str>, user_home: Option<&'a str>) -> Self {
        Self {
            cwd,
            user_home,
            real: None,
            paths: Vec::new(),
            abs_paths: Vec::new(),
        }
    }

    /// Also reports the real form of every path `real` knows (see [`RealPaths`]).
    pub fn with_real(mut self, real: &'a RealPaths) -> Self {
        self.real = Some(real);
        self
    }

    /// Resolves each path and returns their display forms (a path's real form right after
    /// it). A path that cannot be resolved (NUL) is kept as written, so policy still sees it.
    pub fn add_all(&mut self, raw: &[String]) -> Vec<String> {
        let empty = RealPaths::new();
        let real = self.real.unwrap_or(&empty);
        let mut out = Vec::with_capacity(raw.len());
        for p in raw {
            let (resolved, real_form) = match resolve_with_real(p, self.cwd, self.user_home, real) {
                Ok((r, rr)) => (Some(r), rr),
                Err(_) => (None, None),
            };
            let forms: Vec<(String, Option<String>)> = match resolved {
                None => vec![(p.clone(), None)],
                Some(r) => std::iter::once(r)
                    .chain(real_form)
                    .map(|r| (r.display, r.abs))
                    .collect(),
            };
            for (display, abs) in forms {
                push_unique(&mut self.paths, &display);
                if let Some(abs) = abs {
                    push_unique(&mut self.abs_paths, &abs);
                }
                push_unique(&mut out, &display);
            }
        }
        out
    }

    pub fn finish(self) -> (Vec<String>, Vec<String>) {
        (self.paths, self.abs_paths)
    }
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|p| p == item) {
        list.push(item.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_path_tricks() {
        let cwd = Some("/home/u/repo");
        let home = Some("/home/u");
        for (input, abs, display, inside) in [
            ("../../.env", "/home/.env", "/home/.env", false),
            ("./a/../.env", "/home/u/repo/.env", ".env", true),
            ("//etc/passwd", "/etc/passwd", "/etc/passwd", false),
            ("/etc/../etc/./shadow", "/etc/shadow", "/etc/shadow", false),
            ("src/lib.rs", "/home/u/repo/src/lib.rs", "src/lib.rs", true),
            (
                "~/.ssh/id_rsa",
                "/home/u/.ssh/id_rsa",
                "/home/u/.ssh/id_rsa",
                false,
            ),
            ("/../../..", "/", "/", false),
            (".", "/home/u/repo", ".", true),
            (
                "/home/u/repository/x",
                "/home/u/repository/x",
                "/home/u/repository/x",
                false,
            ),
        ] {
            let r = resolve(input, cwd, home).unwrap();
            assert_eq!(r.abs.as_deref(), Some(abs), "{input}");
            assert_eq!(r.display, display, "{input}");
            assert_eq!(r.in_project, inside, "{input}");
        }
    }

    #[test]
    fn without_cwd_relative_paths_stay_relative() {
        let r = resolve("a/../../.env", None, None).unwrap();
        assert_eq!(r.abs, None);
        assert_eq!(r.display, "../.env");
        let r = resolve("~/.aws/credentials", None, None).unwrap();
        assert_eq!(r.display, "~/.aws/credentials");
    }

    #[test]
    fn rejects_nul_and_empty() {
        assert!(resolve("a\0b", None, None).is_err());
        assert!(resolve("", None, None).is_err());
        assert!(normalize_lexically("rel").is_err());
    }
}
