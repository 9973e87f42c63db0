//! Support for the tests of every crate (the model is cargo's
//! `cargo-test-support`): the real binaries, built once per test process;
//! fixture registries written by a small builder ([`registry`]); the python-tuf
//! scenarios ([`tuf`]); and the tools `.ci/install` puts under the repo
//! (`.venv`, `.tools`, node_modules), found with [`tool`].
//!
//! Library crates use the parts that need only their own crate: the in-memory
//! indexes of [`planner`] (feature `planner`) and the site input of [`site`]
//! (feature `site`). The deploy fixtures (feature `deploy`) pull `hsp-deploy`
//! and with it the Docker client: only the end-to-end tests enable it. It
//! implies `oci`: throwaway registries, multi-arch images and a stalling proxy
//! ([`oci`]).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

pub mod corpus;
#[cfg(feature = "deploy")]
pub mod deploy;
#[cfg(feature = "deploy")]
pub mod dev_index;
pub mod examples;
pub mod export;
pub mod fs;
pub mod hostile;
#[cfg(feature = "deploy")]
pub mod images;
#[cfg(feature = "oci")]
pub mod oci;
#[cfg(feature = "planner")]
pub mod planner;
pub mod registry;
#[cfg(feature = "deploy")]
pub mod scenario;
#[cfg(feature = "site")]
pub mod site;
#[cfg(feature = "deploy")]
pub mod systemd;
pub mod tuf;

/// A valid ed25519 public key for publisher files that are checked but never
/// signed with (the key of the seed `[1; 32]`, so its private part is public
/// too: a placeholder, never a key to trust). `tests/fixtures/registry` lists it.
pub const PLACEHOLDER_KEY: &str =
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

/// The workspace root.
pub fn root() -> PathBuf {
    // crates/hsp-test-support -> crates -> the workspace
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
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
/// with the same profile as the tests: the one way the tests find them
/// (`CARGO_BIN_EXE_*` is only set for a package's own binaries).
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

/// Status, stdout and stderr of a finished command, for failure messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` and asserts it succeeded.
pub fn run_ok(cmd: &mut std::process::Command) -> Output {
    let out = cmd.output().expect("running a binary");
    assert!(out.status.success(), "{cmd:?} failed:\n{}", show(&out));
    out
}

/// A path as `&str` (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A free TCP port on 127.0.0.1 (bind 0, read back, release).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free port whose next one is free too (for a per-replica port with two
/// replicas on a host).
pub fn free_port_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// `GET path` on 127.0.0.1:`port`: the trimmed body of a 200 answer, else `None`.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.trim().to_string())
}

/// Sets the permission bits of `p`.
pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The permission bits of `p`.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}
