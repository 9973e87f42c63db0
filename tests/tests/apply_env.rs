//! `hsp-agent apply ENV` end to end on the host driver: a registry repo written
//! here (one service whose artifact is a local tar.gz running busybox httpd),
//! `hsp build --dev-keys`, `hsp-agent init`, then apply, upgrade and prune,
//! checked against the port, `status --json` and /proc.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hsp_agent::driver::host::process::scan;
use serde_json::{json, Value as Json};

const ID: &str = "org.apply.web";

/// Kills every process labelled with the test's environment, whatever happens.
struct Cleanup(PathBuf, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let state = std::fs::canonicalize(&self.0).unwrap_or(self.0.clone());
        for p in scan(&state, &self.1) {
            let _ = Command::new("kill")
                .args(["-9", &p.pid.to_string()])
                .status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("running a binary");
    assert!(out.status.success(), "{cmd:?} failed:\n{}", show(&out));
    out
}

fn write_json(path: &Path, v: &Json) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// The artifact for `version`: the test service script and a VERSION file.
fn artifact(dir: &Path, version: &str) -> Json {
    let path = dir.join(format!("artifacts/web-{version}.tar.gz"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script =
        std::fs::read(hsp_tests::root().join("tests/fixtures/images/svc/bin/start")).unwrap();
    hsp_agent::driver::host::archive::build_tar_gz(
        &[
            ("bin/start", &script, 0o755),
            ("VERSION", version.as_bytes(), 0o644),
        ],
        &path,
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let sha = Command::new("sha256sum").arg(&path).output().unwrap();
    assert!(sha.status.success(), "sha256sum failed: {}", show(&sha));
    json!({
        "platform": hsp_agent::driver::host::platform(),
        "url": format!("file://{}", path.display()),
        "sha256": String::from_utf8_lossy(&sha.stdout)[..64].to_string(),
        "size": bytes.len(),
        "entrypoint": "bin/start",
    })
}

/// Adds version `version` of the service to the registry repo.
fn add_version(dir: &Path, repo: &Path, version: &str, port: u16) {
    let doc = json!({
        "id": ID,
        "version": version,
        "name": "Apply test web",
        "summary": "busybox httpd serving its version.",
        "publisher": "apply",
        "license": "MIT",
        "provides": [{"interface": "http-ui", "version": "1.0.0", "task": "app", "port": "http",
                      "binding": {"url": "http://${self.app.http}/"}}],
        "tasks": [{
            "name": "app",
            "image": format!("example.org/apply/web:{version}@sha256:{}", "3".repeat(64)),
            "ports": [{"name": "http", "port": port}],
            "env": {"PORT": port.to_string(), "VERSION": version},
            "memory_mib": 64,
            "health": {"http": {"port": "http", "path": "/healthz"},
                       "interval_s": 1, "timeout_s": 1, "start_period_s": 1, "retries": 5},
            "stop_timeout_s": 2
        }],
        "artifacts": [artifact(dir, version)],
        "smoke_test": {"task": "app", "http": {"port": "http", "path": "/healthz"}},
    });
    write_json(
        &repo.join(format!("publishers/apply/services/{ID}/{version}.json")),
        &doc,
    );
}

fn write_repo(repo: &Path) {
    write_json(
        &repo.join("registry.json"),
        &json!({"name": "applytest", "title": "apply ENV test registry"}),
    );
    std::fs::create_dir_all(repo.join("interfaces")).unwrap();
    std::fs::copy(
        hsp_tests::root().join("examples/registry/interfaces/http-ui.json"),
        repo.join("interfaces/http-ui.json"),
    )
    .unwrap();
    write_json(
        &repo.join("publishers/apply/publisher.json"),
        &json!({
            "name": "apply",
            "title": "Apply test",
            "namespaces": ["org.apply"],
            "keys": [{"keytype": "ed25519", "scheme": "ed25519",
                      "keyval": {"public": "ab".repeat(32)}}]
        }),
    );
}

/// `hsp build --dev-keys` at `now` (Unix seconds), into `out` (in place when
/// it already holds a build).
fn build(repo: &Path, out: &Path, now: u64) {
    run_ok(
        Command::new(hsp_tests::bin("hsp"))
            .arg("build")
            .arg(repo)
            .args([
                "--dev-keys",
                "--no-site",
                "--now",
                &now.to_string(),
                "--out",
            ])
            .arg(out),
    );
}

fn get(port: u16, path: &str) -> Option<String> {
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

struct Site {
    dir: tempfile::TempDir,
    env: String,
    port: u16,
}

impl Site {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_env(&self, index: &Path, services: Json) -> PathBuf {
        let p = self.path("site/env.json");
        write_json(
            &p,
            &json!({
                "name": self.env,
                "index": {"url": index.display().to_string(),
                          "root": self.path("out/metadata/1.root.json").display().to_string()},
                "services": services,
                "target": {"kind": "host", "root": self.path("hostroot").display().to_string()}
            }),
        );
        p
    }

    fn agent(&self, args: &[&str], env_file: &Path) -> Command {
        let mut c = Command::new(hsp_tests::bin("hsp-agent"));
        c.arg(args[0])
            .arg(env_file)
            .args(&args[1..])
            .arg("--state")
            .arg(self.path("state"));
        c
    }

    /// `hsp-agent init` trusting the root of the build in `index`.
    fn init(&self, index: &Path) {
        let mut c = Command::new(hsp_tests::bin("hsp-agent"));
        c.arg("init")
            .arg("--state")
            .arg(self.path("state"))
            .arg("--root")
            .arg(index.join("metadata/1.root.json"))
            .arg("--index")
            .arg(index);
        run_ok(&mut c);
    }

    fn apply(&self, env_file: &Path, index: &Path) -> Output {
        run_ok(self.agent(&["apply"], env_file).arg("--index").arg(index))
    }

    fn status(&self, env_file: &Path) -> Json {
        let out = run_ok(
            self.agent(&["status", "--json"], env_file)
                .args(["--root", &self.path("hostroot").display().to_string()]),
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{}", show(&out)))
    }

    fn pids(&self) -> Vec<i32> {
        let state = self.path("state").join(&self.env);
        let state = std::fs::canonicalize(&state).unwrap_or(state);
        scan(&state, &self.env).iter().map(|p| p.pid).collect()
    }

    /// Waits until the service serves `version` at /version and /healthz is ok.
    fn wait_serving(&self, version: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = get(self.port, "/version");
            if v.as_deref() == Some(version) && get(self.port, "/healthz").as_deref() == Some("ok")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "service on port {} does not serve version {version} (got {v:?})",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `status --json` lists exactly this service, at `version`, healthy.
    fn assert_status(&self, env_file: &Path, version: &str) {
        let status = self.status(env_file);
        assert_eq!(status["environment"], self.env.as_str(), "{status:#}");
        let services = status["services"].as_array().expect("services array");
        assert_eq!(services.len(), 1, "{status:#}");
        let s = &services[0];
        assert_eq!(s["service"], ID, "{status:#}");
        assert_eq!(s["version"], version, "{status:#}");
        assert_eq!(s["health"], "healthy", "{status:#}");
        assert_eq!(s["units_healthy"], s["units_wanted"], "{status:#}");
        assert!(s["rollout_in_progress"].is_null(), "{status:#}");
    }
}

#[test]
fn apply_env_installs_upgrades_and_prunes_on_host() {
    let site = Site {
        dir: tempfile::tempdir().unwrap(),
        env: format!("ae{}", std::process::id()),
        port: free_port(),
    };
    let _guard = Cleanup(site.path("state").join(&site.env), site.env.clone());
    let repo = site.path("repo");
    let out = site.path("out");
    write_repo(&repo);
    add_version(site.dir.path(), &repo, "1.0.0", site.port);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    build(&repo, &out, now);
    site.init(&out);

    // Install.
    let env_file = site.write_env(&out, json!([{"id": ID}]));
    site.apply(&env_file, &out);
    site.wait_serving("1.0.0");
    site.assert_status(&env_file, "1.0.0");
    let first = site.pids();
    assert!(!first.is_empty(), "no labelled process after apply");

    // Upgrade: a newer version in the index, applied under the minor policy.
    add_version(site.dir.path(), &repo, "1.1.0", site.port);
    // Rebuilt in place; the agent keeps the trust it has and follows.
    build(&repo, &out, now + 1);
    let env_file = site.write_env(&out, json!([{"id": ID}]));
    site.apply(&env_file, &out);
    site.wait_serving("1.1.0");
    site.assert_status(&env_file, "1.1.0");
    let second = site.pids();
    assert!(!second.is_empty(), "no labelled process after the upgrade");
    let kept: Vec<_> = first.iter().filter(|p| second.contains(p)).collect();
    assert!(
        kept.is_empty(),
        "processes of 1.0.0 survived the upgrade: {kept:?}"
    );

    // Prune: the service leaves the environment.
    let env_file = site.write_env(&out, json!([]));
    site.apply(&env_file, &out);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !site.pids().is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes left after prune: {:?}",
            site.pids()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(site.port, "/version"), None, "port still answers");
    let status = site.status(&env_file);
    assert_eq!(status["services"], json!([]), "{status:#}");
}
