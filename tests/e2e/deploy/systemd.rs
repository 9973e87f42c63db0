//! The host driver's systemd mode against a real systemd: a Debian container
//! running systemd as PID 1 (`hsp_test_support::systemd`), the test's folder (signed
//! dev index, artifacts, state dir, environment file) and the `hsp-agent` binary
//! mounted at the same paths, and `hsp-agent apply ENV` run inside with
//! `docker exec` (mode `auto` finds systemd). What the test checks it reads from
//! systemd (`systemctl show`, `is-active`), the unit files and the service's
//! health endpoint, not from the agent's journal.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use hsp_test_support::dev_index::{DevIndex, ID};
use hsp_test_support::show;
use hsp_test_support::systemd::Container;
use serde_json::{json, Value as Json};

/// The service's port inside the container (its own network namespace).
const PORT: u16 = 18080;

/// The environment's config: the service's `API_TOKEN` from the secret file.
fn config(token: &Path) -> Json {
    json!({"config": {ID: {"API_TOKEN": {"secret_file": token.display().to_string()}}}})
}

struct Site {
    index: DevIndex,
    c: Container,
    agent: PathBuf,
    env: String,
    state: PathBuf,
    env_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::Builder::new()
            .prefix("hsp-test-sd-")
            .tempdir()
            .unwrap();
        let mut index = DevIndex::new(dir.path()).with_secret();
        index.add_version("1.0.0", PORT, json!({}));
        index.build();
        let agent = hsp_test_support::bin("hsp-agent");
        let c = Container::start(&[dir.path(), &agent]);
        let env = format!("sd{}", std::process::id());
        let state = dir.path().join("state");
        let token = dir.path().join("token");
        std::fs::write(&token, "t0ken-one\n").unwrap();
        std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let env_file = index.write_env(&env, json!([{"id": ID}]), config(&token));
        let site = Site {
            index,
            c,
            agent,
            env,
            state,
            env_file,
            _dir: dir,
        };
        let out = site.agent(
            &["init", "--root"],
            &[&site.index.out().join("metadata/1.root.json")],
        );
        assert!(out.status.success(), "init: {}", show(&out));
        site
    }

    /// `hsp-agent ARGS PATHS... --state S` inside the container.
    fn agent(&self, args: &[&str], paths: &[&Path]) -> Output {
        let mut a: Vec<String> = vec![self.agent.display().to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        a.extend(paths.iter().map(|p| p.display().to_string()));
        a.push("--state".into());
        a.push(self.state.display().to_string());
        a.push("--index".into());
        a.push(self.index.out().display().to_string());
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        self.c.exec_env(&["RUST_LOG=info"], &refs)
    }

    fn token(&self) -> PathBuf {
        self.index.dir.join("token")
    }

    fn apply(&self) -> Output {
        self.agent(&["apply"], &[&self.env_file])
    }

    fn apply_ok(&self) -> String {
        let out = self.apply();
        assert!(out.status.success(), "apply failed:\n{}", show(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn status(&self) -> Json {
        let a = [
            self.agent.display().to_string(),
            "status".into(),
            self.env.clone(),
            "--json".into(),
            "--state".into(),
            self.state.display().to_string(),
        ];
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = self.c.exec(&refs);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{}", show(&out)))
    }

    /// Unit files in /etc/systemd/system named for this environment.
    fn unit_files(&self) -> Vec<String> {
        let out = self.c.exec(&["ls", "/etc/systemd/system"]);
        let prefix = format!("hsp-{}-", self.env);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&prefix) && l.ends_with(".service"))
            .map(str::to_string)
            .collect()
    }

    /// The ledger's unit names.
    fn ledger(&self) -> Vec<String> {
        let p = self.state.join(&self.env).join("units.json");
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice::<serde_json::Map<String, Json>>(&b)
                .unwrap()
                .keys()
                .cloned()
                .collect(),
            Err(_) => vec![],
        }
    }

    fn is_active(&self, unit: &str) -> String {
        let out = self.c.exec(&["systemctl", "is-active", unit]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Exactly one unit of this environment exists, runs `version`, is active,
    /// and serves `version` as healthy; returns its name.
    fn assert_converged(&self, version: &str) -> String {
        let files = self.unit_files();
        assert_eq!(files.len(), 1, "unit files: {files:?}");
        assert_eq!(
            self.ledger(),
            files,
            "the ledger lists exactly the unit files"
        );
        let unit = files[0].clone();
        assert_eq!(self.is_active(&unit), "active", "{unit}");
        assert_eq!(self.c.property(&unit, "SubState"), "running", "{unit}");
        assert_eq!(
            self.c.property(&unit, "FragmentPath"),
            format!("/etc/systemd/system/{unit}")
        );
        let wd = self.c.property(&unit, "WorkingDirectory");
        assert!(wd.contains(&format!("/releases/{version}-")), "{wd}");
        let text = String::from_utf8_lossy(
            &self
                .c
                .exec(&["cat", &format!("/etc/systemd/system/{unit}")])
                .stdout,
        )
        .into_owned();
        assert!(
            text.contains(&format!("X-HSP-Agent-Version={version}")),
            "{text}"
        );
        assert_eq!(self.c.get(PORT, "/version").as_deref(), Some(version));
        assert_eq!(self.c.get(PORT, "/healthz").as_deref(), Some("ok"));
        unit
    }
}

#[test]
fn systemd_mode_installs_upgrades_rolls_back_and_prunes() {
    let mut site = Site::new();

    // Install: a verified, enabled unit, the env in a 0600 file in the state dir.
    let out = site.apply_ok();
    assert!(out.contains("deployed 1.0.0, healthy"), "{out}");
    let unit = site.assert_converged("1.0.0");
    assert_eq!(site.c.property(&unit, "Restart"), "on-failure");
    assert_eq!(site.c.property(&unit, "TimeoutStopUSec"), "2s");
    assert_eq!(site.c.property(&unit, "UnitFileState"), "enabled");
    let env_file = site.state.join(&site.env).join(format!("units/{unit}.env"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&env_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "{}", env_file.display());
    assert!(
        site.c
            .property(&unit, "EnvironmentFiles")
            .contains(&env_file.display().to_string()),
        "the unit reads its env from the state dir"
    );
    let pid = site.c.property(&unit, "MainPID");
    let cgroup =
        String::from_utf8_lossy(&site.c.exec(&["cat", &format!("/proc/{pid}/cgroup")]).stdout)
            .into_owned();
    assert!(
        cgroup.contains(&unit),
        "the service runs in its unit's cgroup: {cgroup}"
    );
    let status = site.status();
    assert_eq!(status["target"], "systemd", "{status:#}");
    assert_eq!(status["services"][0]["health"], "healthy", "{status:#}");
    // The secret reaches the service through the env file only.
    let environ = |pid: &str| {
        String::from_utf8_lossy(
            &site
                .c
                .exec(&["cat", &format!("/proc/{pid}/environ")])
                .stdout,
        )
        .into_owned()
    };
    assert!(
        environ(&pid).contains("TOKEN=t0ken-one"),
        "{}",
        environ(&pid)
    );
    let unit_text = String::from_utf8_lossy(
        &site
            .c
            .exec(&["cat", &format!("/etc/systemd/system/{unit}")])
            .stdout,
    )
    .into_owned();
    let journal = std::fs::read_to_string(site.state.join(&site.env).join("journal.json")).unwrap();
    for text in [&unit_text, &journal, &out] {
        assert!(!text.contains("t0ken"), "the secret leaked: {text}");
    }
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("t0ken-one"));

    // The secret file's content changes: the unit restarts with the new value.
    std::fs::write(site.token(), "t0ken-two\n").unwrap();
    let out = site.apply_ok();
    assert!(out.contains("reconfigured 1.0.0, healthy"), "{out}");
    let unit = site.assert_converged("1.0.0");
    let pid = site.c.property(&unit, "MainPID");
    assert!(
        environ(&pid).contains("TOKEN=t0ken-two"),
        "{}",
        environ(&pid)
    );
    assert!(!out.contains("t0ken"), "{out}");

    // systemd restarts a crashed service by itself (Restart=on-failure).
    let out = site.c.exec(&["/bin/busybox", "kill", "-9", &pid]);
    assert!(out.status.success(), "{}", show(&out));
    let t = Instant::now();
    loop {
        let now = site.c.property(&unit, "MainPID");
        if now != pid && now != "0" && site.c.get(PORT, "/healthz").as_deref() == Some("ok") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "systemd did not restart {unit}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Upgrade: the new unit replaces the old one, which is stopped, disabled, removed.
    site.index.add_version("1.1.0", PORT, json!({}));
    site.index.build();
    let out = site.apply_ok();
    assert!(out.contains("upgraded 1.0.0 -> 1.1.0, healthy"), "{out}");
    let v11 = site.assert_converged("1.1.0");
    assert_ne!(v11, unit);
    assert_eq!(site.is_active(&unit), "inactive");

    // A broken release: rolled back to 1.1.0, marked bad, no unit of it left.
    site.index.add_version("1.2.0", PORT, json!({"FAIL": "3"}));
    site.index.build();
    let out = site.apply();
    assert!(!out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1.2.0 failed (unhealthy") && stdout.contains("rolled back to 1.1.0"),
        "{stdout}"
    );
    assert_eq!(site.assert_converged("1.1.0"), v11);
    let plan = site.agent(&["plan"], &[&site.env_file]);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("1.2.0: it was marked bad on this site"),
        "{}",
        show(&plan)
    );
    assert!(site.apply_ok().contains("1.1.0 unchanged, healthy"));

    // kill -9 of the agent mid-apply never orphans a unit: the next apply converges.
    site.index.add_version("1.3.0", PORT, json!({}));
    site.index.build();
    for (round, ms) in [150u64, 400, 700, 1000, 1500].into_iter().enumerate() {
        let cmd = format!(
            "RUST_LOG=off {} apply {} --state {} --index {} >/dev/null 2>&1 & p=$!; sleep {}; kill -9 $p; wait $p; true",
            site.agent.display(),
            site.env_file.display(),
            site.state.display(),
            site.index.out().display(),
            ms as f64 / 1000.0
        );
        site.c.exec(&["sh", "-c", &cmd]);
        let out = site.apply();
        assert!(
            out.status.success(),
            "round {round} ({ms} ms): {}",
            show(&out)
        );
        site.assert_converged("1.3.0");
    }

    // A foreign unit with the environment's name pattern is left alone by a prune.
    let foreign = format!("hsp-{}-web-app-0-000000000000.service", site.env);
    let foreign_path = format!("/etc/systemd/system/{foreign}");
    site.c.exec(&[
        "sh",
        "-c",
        &format!(
            "printf '[Service]\\nExecStart=/bin/busybox sleep 1000\\n' > {foreign_path} && systemctl daemon-reload && systemctl start {foreign}"
        ),
    ]);
    assert_eq!(site.is_active(&foreign), "active");
    site.env_file = site
        .index
        .write_env(&site.env, json!([]), config(&site.token()));
    let out = site.apply_ok();
    assert!(out.contains("web: removed 1.3.0"), "{out}");
    assert_eq!(
        site.unit_files(),
        vec![foreign.clone()],
        "only the foreign unit is left"
    );
    assert!(site.ledger().is_empty());
    assert_eq!(
        site.is_active(&foreign),
        "active",
        "the foreign unit was stopped"
    );
    assert_eq!(site.c.get(PORT, "/healthz"), None);
    assert_eq!(site.status()["services"], json!([]));

    // A foreign file exactly where the next unit would go: refused, untouched.
    site.env_file = site
        .index
        .write_env(&site.env, json!([{"id": ID}]), config(&site.token()));
    let out = site.agent(&["plan", "--json"], &[&site.env_file]);
    assert!(out.status.success(), "{}", show(&out));
    let plan: hsp_index::Plan = serde_json::from_slice(&out.stdout).unwrap();
    let inst = &plan.instances[0];
    let unit = format!(
        "hsp-{}-{}-app-0-{}.service",
        site.env,
        inst.name,
        hsp_deploy::spec_hash(inst)
    );
    let theirs = "[Service]\nExecStart=/bin/busybox sleep 1000\n";
    let path = format!("/etc/systemd/system/{unit}");
    site.c
        .exec(&["sh", "-c", &format!("printf '{theirs}' > {path}")]);
    let out = site.apply();
    assert!(!out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("does not carry the agent's labels; leaving it alone"),
        "{stdout}"
    );
    let content = site.c.exec(&["cat", &path]);
    assert_eq!(String::from_utf8_lossy(&content.stdout), theirs);
    assert!(site.ledger().is_empty(), "{:?}", site.ledger());
    // Once it is gone, the unit is installed. (The test removes its other
    // foreign unit too, so only the agent's are left to count.)
    site.c.exec(&[
        "sh",
        "-c",
        &format!(
            "rm {path} && systemctl stop {foreign} && rm {foreign_path} && systemctl daemon-reload"
        ),
    ]);
    assert!(site.apply_ok().contains("deployed 1.3.0, healthy"));
    site.assert_converged("1.3.0");

    // The daemon in systemd mode follows the index; its units outlive it.
    let cmd = format!(
        "RUST_LOG=off {} run {} --state {} --index {} --interval 1 --jitter 0 >/dev/null 2>&1 & echo $!",
        site.agent.display(),
        site.env_file.display(),
        site.state.display(),
        site.index.out().display(),
    );
    let out = site.c.exec(&["sh", "-c", &cmd]);
    let daemon = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(daemon.parse::<u32>().is_ok(), "{}", show(&out));
    site.index.add_version("1.4.0", PORT, json!({}));
    site.index.build();
    let t = Instant::now();
    while site.c.get(PORT, "/version").as_deref() != Some("1.4.0") {
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "the daemon did not upgrade to 1.4.0"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = site.c.exec(&["/bin/busybox", "kill", "-TERM", &daemon]);
    assert!(out.status.success(), "{}", show(&out));
    let t = Instant::now();
    while site
        .c
        .exec(&["test", "-e", &format!("/proc/{daemon}")])
        .status
        .success()
    {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the daemon ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    site.assert_converged("1.4.0");
}
