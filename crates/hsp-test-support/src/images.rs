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
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// The test registry.
pub const REGISTRY: &str = "127.0.0.1:5000";

/// Every image runs `/bin/start`; a task's `command` becomes its arguments.
const IMPORT_CHANGE: &str = "ENTRYPOINT [\"/bin/start\"]";

/// `127.0.0.1:5000/hsp-test/<name>@sha256:...` for the fixture image `name`.
pub fn reference(name: &str) -> String {
    static BUILT: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = built.get(name) {
        return r.clone();
    }
    let r = build(name);
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

fn build(name: &str) -> String {
    let src = crate::root().join("tests/fixtures/images").join(name);
    assert!(src.is_dir(), "{} is missing", src.display());
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: run .ci/install (busybox-static)"
    );
    assert!(
        registry_up(),
        "no OCI registry on {REGISTRY}: run .ci/install first"
    );
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(&rootfs));
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    for d in ["tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    // The import instruction is part of the content, so it is part of the tag.
    std::fs::write(rootfs.join("etc/hsp-image"), format!("{IMPORT_CHANGE}\n")).unwrap();
    run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")));
    let tar = tmp.path().join("rootfs.tar");
    run(Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
        ])
        .arg(&tar)
        .arg("-C")
        .arg(&rootfs)
        .arg("."));
    let sum = run(Command::new("sha256sum").arg(&tar));
    let tag = &sum[..16];
    let repo = format!("{REGISTRY}/hsp-test/{name}");
    if let Some(digest) = registry_digest(name, tag) {
        return format!("{repo}@{digest}");
    }
    let tagged = format!("{repo}:{tag}");
    run(Command::new("docker")
        .args(["import", "-c", IMPORT_CHANGE])
        .arg(&tar)
        .arg(&tagged));
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
