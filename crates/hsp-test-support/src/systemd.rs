//! A real systemd for tests: a Debian bookworm image made with `debootstrap
//! --variant=minbase --include=systemd,systemd-sysv,dbus` from the machine's
//! configured Debian mirror, imported into dockerd, and containers running it
//! as PID 1 (see TOOLS.md for the flags).
//!
//! The image tag is a hash of everything that goes into it (suite, variant,
//! packages, mirror, this recipe's version), so it is built once per machine;
//! builds are serialized with `flock` on a lock file, and a process that waits
//! finds the image built. Containers get unique names (`hsp-test-sd-<pid>-<n>`),
//! no network (`--network none`: loopback only), `/bin/busybox` mounted
//! read-only, and are removed when the [`Container`] is dropped.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Bump when the recipe changes.
const RECIPE: &str = "hsp-systemd-image 1";
const SUITE: &str = "bookworm";
const INCLUDE: &str = "systemd,systemd-sysv,dbus";

/// The first Debian mirror configured for apt on this machine.
fn mirror() -> String {
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    if let Ok(d) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = d.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            let url = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| w.starts_with("http"))
            } else {
                None
            };
            if let Some(u) = url.filter(|u| !u.contains("security")) {
                return u.trim_end_matches('/').to_string();
            }
        }
    }
    panic!("no Debian mirror in /etc/apt/sources.list*: configure apt first");
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running docker {args:?}: {e} (run .ci/install first)"))
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The image tag, built if missing (~35-110 s the first time on this machine).
pub fn image() -> String {
    let mirror = mirror();
    let key = format!("{RECIPE}\n{SUITE}\n{INCLUDE}\n{mirror}\n");
    let tag = format!(
        "hsp-test/systemd:{}",
        hex::encode(&Sha256::digest(key.as_bytes())[..6])
    );
    if docker(&["image", "inspect", &tag]).status.success() {
        return tag;
    }
    for tool in ["/usr/sbin/debootstrap", "/usr/bin/flock"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: run .ci/install (debootstrap, util-linux)"
        );
    }
    let work = tempfile::Builder::new()
        .prefix("hsp-systemd-image-")
        .tempdir()
        .unwrap();
    // One build at a time on this machine; whoever waited finds the image.
    let script = format!(
        "set -e
docker image inspect {tag} >/dev/null 2>&1 && exit 0
debootstrap --variant=minbase --include={INCLUDE} {SUITE} {dir}/rootfs {mirror} >{dir}/debootstrap.log 2>&1 \
  || {{ tail -30 {dir}/debootstrap.log >&2; exit 1; }}
tar -C {dir}/rootfs -c . | docker import -c 'CMD [\"/lib/systemd/systemd\"]' -c 'ENV container=docker' - {tag} >/dev/null",
        dir = work.path().display()
    );
    ok(
        Command::new("flock")
            .arg("/tmp/hsp-test-systemd-image.lock")
            .args(["bash", "-c", &script])
            .output()
            .unwrap(),
        "building the systemd image",
    );
    tag
}

/// A container running systemd as PID 1, removed on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// Starts a container from [`image`] with `mounts` (host path, same path
    /// inside) and waits until systemd has finished booting.
    pub fn start(mounts: &[&Path]) -> Container {
        static N: AtomicU32 = AtomicU32::new(0);
        let image = image();
        let name = format!(
            "hsp-test-sd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
            "--cgroupns=host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "-v",
            "/bin/busybox:/bin/busybox:ro",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for m in mounts {
            args.push("-v".into());
            args.push(format!("{0}:{0}", m.display()));
        }
        args.push(image);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(docker(&refs), "docker run (systemd container)");
        let c = Container { name };
        let t = Instant::now();
        loop {
            let out = c.exec(&["systemctl", "is-system-running"]);
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "systemd in {} did not finish booting: {state:?} {}",
                c.name,
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    /// `docker exec` in the container (any exit code).
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut a = vec!["exec", &self.name];
        a.extend_from_slice(args);
        docker(&a)
    }

    /// `docker exec` with extra environment variables (`KEY=value`).
    pub fn exec_env(&self, env: &[&str], args: &[&str]) -> Output {
        let mut a = vec!["exec"];
        for e in env {
            a.push("-e");
            a.push(e);
        }
        a.push(&self.name);
        a.extend_from_slice(args);
        docker(&a)
    }

    /// `systemctl show -p PROPERTY --value UNIT`.
    pub fn property(&self, unit: &str, property: &str) -> String {
        let out = self.exec(&["systemctl", "show", "-p", property, "--value", unit]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// An HTTP GET from inside the container (busybox wget): the body, if 200.
    pub fn get(&self, port: u16, path: &str) -> Option<String> {
        let url = format!("http://127.0.0.1:{port}{path}");
        let out = self.exec(&["/bin/busybox", "wget", "-q", "-O", "-", &url]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}
