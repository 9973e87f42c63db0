//! Support for the workspace integration tests: locating the real binaries and
//! the tools `.ci/install` puts under the repo (`.venv`, `.tools`, node_modules).

use std::path::{Path, PathBuf};

pub mod deploy;
pub mod dev_index;
pub mod examples;
pub mod images;
pub mod scenario;
pub mod systemd;
pub mod tuf_scenario;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A tool `.ci/install` provides; panics with the fix when it is missing, so a
/// test never silently skips.
pub fn tool(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run .ci/install first",
        p.display()
    );
    p
}

/// Path of a workspace binary (`hsp`, `hsp-agent`), built once per test process
/// with the same profile as the tests.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--bins", "-p", "hsp", "-p", "hsp-agent"])
            .current_dir(root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    // target/<profile>/deps/<test-exe> -> target/<profile>/<name>
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join(name)
}
