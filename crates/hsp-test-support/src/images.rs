//! Test images built locally (no Docker Hub here) and served by the OCI registry
//! on 127.0.0.1:5000, so the agent pulls them by digest like a site does.
//!
//! An image is `tests/fixtures/images/<name>/` plus `/bin/busybox` (from the
//! machine's busybox-static), tarred deterministically and imported with
//! `docker import`. Its tag is derived from the tar's sha256: the registry
//! already holding the tag means nothing is built (idempotent across runs).
//! Within a test process each image is built once (a mutex); concurrent
//! processes at worst push the same content twice, and both digests stay valid.
//! After the push the local tag is removed, so the first deploy pulls by digest.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;

/// The test registry.
pub const REGISTRY: &str = "127.0.0.1:5000";

/// Every image runs `/bin/start`; a task's `command` becomes its arguments.
const IMPORT_CHANGE: &str = "ENTRYPOINT [\"/bin/start\"]";

/// `127.0.0.1:5000/hsp-test/<name>@sha256:...` for the fixture image `name`.
pub fn reference(name: &str) -> String {
    variant(name, name, &[])
}

/// The fixture image `fixture` with more `docker import` changes (`USER
/// 1000`, `EXPOSE 8080`, `LABEL k=v`, `ENV K=V`), pushed as
/// `hsp-test/<name>`: one rootfs, many image configurations.
pub fn variant(fixture: &str, name: &str, changes: &[&str]) -> String {
    static BUILT: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = built.get(name) {
        return r.clone();
    }
    let r = build(fixture, name, changes);
    built.insert(name.to_string(), r.clone());
    r
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e} (run .ci/install first)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build(fixture: &str, name: &str, changes: &[&str]) -> String {
    assert!(
        registry_up(),
        "no OCI registry on {REGISTRY}: run .ci/install first"
    );
    let tmp = tempfile::tempdir().unwrap();
    // The rootfs the OCI fixtures push too (its etc/hsp-image holds the
    // import instruction, so the instruction is part of the tag).
    let tar = tmp.path().join("rootfs.tar");
    std::fs::write(
        &tar,
        crate::oci::rootfs_tar(tmp.path(), fixture, crate::oci::Filler::default()),
    )
    .unwrap();
    let sum = run(Command::new("sha256sum").arg(&tar));
    // The changes are part of the image, so of its tag.
    let tag = if changes.is_empty() {
        sum[..16].to_string()
    } else {
        let key = tmp.path().join("key");
        std::fs::write(&key, format!("{sum}\n{}\n", changes.join("\n"))).unwrap();
        run(Command::new("sha256sum").arg(&key))[..16].to_string()
    };
    let tag = tag.as_str();
    let repo = format!("{REGISTRY}/hsp-test/{name}");
    if let Some(digest) = registry_digest(name, tag) {
        return format!("{repo}@{digest}");
    }
    let tagged = format!("{repo}:{tag}");
    let mut import = Command::new("docker");
    import.args(["import", "-c", IMPORT_CHANGE]);
    for c in changes {
        import.args(["-c", c]);
    }
    run(import.arg(&tar).arg(&tagged));
    run(Command::new("docker").args(["push", "-q", &tagged]));
    let digest = registry_digest(name, tag)
        .unwrap_or_else(|| panic!("{tagged} was pushed but the registry does not list it"));
    // Make the first deployment pull it by digest from the registry.
    let _ = Command::new("docker").args(["rmi", &tagged]).output();
    format!("{repo}@{digest}")
}

fn registry_up() -> bool {
    Command::new("curl")
        .args(["-fsS", "-o", "/dev/null", &format!("http://{REGISTRY}/v2/")])
        .status()
        .is_ok_and(|s| s.success())
}

/// The manifest digest the registry holds for `hsp-test/<name>:<tag>`.
fn registry_digest(name: &str, tag: &str) -> Option<String> {
    let out = Command::new("curl")
        .args([
            "-fsSI",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!(
            "http://{REGISTRY}/v2/hsp-test/{name}/manifests/{tag}"
        ))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("docker-content-digest")
            .then(|| v.trim().to_string())
    })
}
