//! Support for the workspace integration tests: locating the real binaries and
//! the tools `.ci/install` puts under the repo (`.venv`, `.tools`, node_modules).

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A tool `.ci/install` provides; panics with the fix when it is missing, so a
/// test never silently skips.
pub fn tool(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(p.exists(), "{} is missing: run .ci/install first", p.display());
    p
}
