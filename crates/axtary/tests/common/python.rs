//! A Python interpreter with given packages, for tests that use real third-party clients
//! (PyJWT, the official MCP SDK). `AXTARY_TEST_PYTHON` names one (CI sets it); otherwise a venv
//! is created under `target/` and the packages installed. If that fails the test FAILS: these
//! tests never skip.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn imports_ok(python: &Path, modules: &[&str]) -> bool {
    Command::new(python)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python that can import `modules`, installing `requirements` into `target/<venv>` if needed.
pub fn with(venv: &str, modules: &[&str], requirements: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os("AXTARY_TEST_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            imports_ok(&p, modules),
            "AXTARY_TEST_PYTHON=`{}` cannot import {modules:?}; install {requirements:?}",
            p.display()
        );
        return p;
    }
    let venv = workspace().join("target").join(venv);
    let python = venv.join("bin/python");
    if imports_ok(&python, modules) {
        return python;
    }
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "cannot create a venv at `{}`: {}\nhint: install python3-venv, or set AXTARY_TEST_PYTHON",
        venv.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(requirements)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cannot install {requirements:?}: {}\nhint: set AXTARY_TEST_PYTHON to a Python that has them",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        imports_ok(&python, modules),
        "installed, but the imports still fail"
    );
    python
}

/// A Python with the official MCP SDK.
pub fn mcp() -> PathBuf {
    with("pyenv-mcp", &["mcp"], &["mcp>=2.3,<3"])
}
