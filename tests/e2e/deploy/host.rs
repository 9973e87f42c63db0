//! `hsp-agent apply --target host`: the same scenarios as `deploy::docker`
//! with small local tar.gz artifacts (the busybox httpd script), supervised
//! processes on unique 127.0.0.1 ports, no Docker. What the tests check they
//! read from /proc, the ports and the files, not from the agent's journal.
//! The scenarios shared with the Docker driver are in `hsp_test_support::scenario`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hsp_deploy::host::process::{scan, Labelled};
use hsp_index::Plan;
use hsp_test_support::deploy::*;
use hsp_test_support::scenario::{self, Stage, Target};
use hsp_test_support::{bin, show};

fn example(tag: &str) -> (Example, Cleanup) {
    let ex = Example::new(Kind::Host, tag);
    let guard = Cleanup(ex.state().join(&ex.env), ex.env.clone());
    (ex, guard)
}

fn processes(ex: &Example) -> Vec<Labelled> {
    scan(&ex.env_state(), &ex.env)
}

fn label<'a>(p: &'a Labelled, k: &str) -> &'a str {
    p.labels
        .get(&format!("org.hsp.agent.{k}"))
        .map_or("", String::as_str)
}

/// The host side of the shared scenarios, observed in /proc, the ports and files.
struct Host<'a>(&'a Example);

impl Target for Host<'_> {
    fn example(&self) -> &Example {
        self.0
    }

    fn replicas(&self, instance: &str, task: &str, spec: &str) -> u32 {
        processes(self.0)
            .iter()
            .filter(|p| p.supervisor)
            .filter(|p| {
                label(p, "instance") == instance
                    && label(p, "task") == task
                    && label(p, "spec") == spec
            })
            .count() as u32
    }

    /// Supervisors by labels; each has its task running under it, and no task
    /// process is left without a supervisor.
    fn running(&self) -> BTreeMap<(String, String, String), u32> {
        let procs = processes(self.0);
        let mut seen: BTreeMap<(String, String, String), u32> = BTreeMap::new();
        for s in procs.iter().filter(|p| p.supervisor) {
            *seen
                .entry((
                    label(s, "instance").into(),
                    label(s, "task").into(),
                    label(s, "spec").into(),
                ))
                .or_default() += 1;
            assert!(
                procs.iter().any(|c| !c.supervisor && c.ppid == s.pid),
                "supervisor {} has no task process",
                s.pid
            );
        }
        for c in procs.iter().filter(|p| !p.supervisor) {
            let mut cur = c.ppid;
            let mut ok = false;
            for _ in 0..64 {
                match procs.iter().find(|p| p.pid == cur) {
                    Some(p) if p.supervisor => {
                        ok = true;
                        break;
                    }
                    Some(p) => cur = p.ppid,
                    None => break,
                }
            }
            assert!(
                ok,
                "process {} ({:?}) has no supervisor: an orphan",
                c.pid, c.labels
            );
        }
        seen
    }

    fn app_version(&self) -> Option<String> {
        get(self.0.ports.1, "/version")
    }

    fn db_identity(&self) -> String {
        processes(self.0)
            .into_iter()
            .find(|p| p.supervisor && label(p, "instance") == "fhir-db")
            .expect("a db supervisor")
            .pid
            .to_string()
    }

    fn volume_read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(volume(self.0).join(file))
            .ok()
            .map(|s| s.trim_end().to_string())
    }

    fn volume_write(&self, file: &str, content: &str) {
        std::fs::write(volume(self.0).join(file), content).unwrap();
    }

    fn volume_exists(&self) -> bool {
        volume(self.0).exists()
    }
}

/// Exactly the plan's supervisors run, with no orphan.
fn assert_converged(ex: &Example, plan: &Plan) {
    scenario::assert_converged(&Host(ex), plan)
}

fn get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.starts_with("HTTP/1.1 200")
        .then(|| body.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

fn volume(ex: &Example) -> PathBuf {
    ex.env_state().join("host/fhir-db/volumes/data")
}

#[test]
fn worked_example_deploys_upgrades_and_rolls_back() {
    let (ex, _guard) = example("up");
    let root = ex.env_state().join("host");
    let current = || {
        std::fs::read_link(root.join("fhir/current"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    scenario::deploy_upgrade_rollback(&Host(&ex), &mut |stage| match stage {
        Stage::Deployed { .. } => {
            deployed_checks(&ex);
            assert!(current().starts_with("releases/1.0.0-"), "{}", current());
        }
        // New release folder and link; after the rollback the kept release
        // folder of 1.1.0 runs again.
        Stage::Upgraded | Stage::RolledBack => {
            assert!(current().starts_with("releases/1.1.0-"), "{}", current())
        }
        Stage::Pruned => {}
    });
}

/// The app reached the db on 127.0.0.1; two workers (no ports) but one app
/// process (a host port is taken once); secrets reach the process env only.
fn deployed_checks(ex: &Example) {
    let (db_port, app_port) = ex.ports;
    assert_eq!(
        get(app_port, "/.upstream").as_deref(),
        Some("ok\n"),
        "the app reached the db on 127.0.0.1"
    );
    assert_eq!(
        processes(ex)
            .iter()
            .filter(|p| p.supervisor && label(p, "task") == "worker")
            .count(),
        2
    );
    let app = processes(ex)
        .into_iter()
        .find(|p| !p.supervisor && label(p, "task") == "app")
        .unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", app.pid)).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("OAUTH_CLIENT_SECRET=s3cr3t-oauth-value"));
    let password =
        std::fs::read_to_string(ex.env_state().join("secrets/fhir-db/PASSWORD")).unwrap();
    assert!(environ.contains(&format!(
        "DATABASE_URL=postgres://fhir:{password}@127.0.0.1:{db_port}/fhir"
    )));
}

#[test]
fn pruning_keeps_volumes_unless_purge() {
    let (ex, _guard) = example("prune");
    scenario::prune_keeps_volumes_unless_purge(&Host(&ex), &mut |_| {});
}

#[test]
fn purge_deletes_data_kept_by_earlier_prunes() {
    let (ex, _guard) = example("kept");
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    std::fs::write(volume(&ex).join("marker"), "kept").unwrap();
    let password = ex.env_state().join("secrets/fhir-db/PASSWORD");
    assert!(password.exists());
    let out = ex.apply_ok(&ex.empty_plan());
    assert!(
        out.contains("fhir-db: removed 14.0.0 (volumes kept"),
        "{out}"
    );
    // Another apply without --purge keeps it too, and status says so.
    ex.apply_ok(&ex.empty_plan());
    assert!(volume(&ex).join("marker").exists() && password.exists());
    let status = ex.status_json();
    let kept: Vec<(String, String)> = status["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["instance"].as_str().unwrap().to_string(),
                k["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("fhir".to_string(), "1.0.0".to_string()),
            ("fhir-db".to_string(), "14.0.0".to_string())
        ],
        "{status:#}"
    );
    let text = Command::new(bin("hsp-agent"))
        .args(["status", &ex.env, "--state"])
        .arg(ex.state())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("apply --purge"),
        "{}",
        show(&text)
    );
    // --purge now deletes data pruned earlier.
    let out = ex.apply(&ex.empty_plan(), &["--purge"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fhir-db: deleted the volumes 14.0.0 left"),
        "{stdout}"
    );
    assert!(!volume(&ex).exists(), "the kept volume is gone");
    assert!(!password.exists(), "the generated secret is gone");
    assert_eq!(ex.status_json()["kept"], serde_json::json!([]));
}

/// A secret file whose content changes (same path) restarts exactly the units
/// whose env uses it; the values appear nowhere but in their environment.
#[test]
fn a_changed_secret_file_restarts_the_units_that_use_it() {
    let (ex, _guard) = example("secret");
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    let supervisors = || -> BTreeMap<(String, String, String), i32> {
        processes(&ex)
            .iter()
            .filter(|p| p.supervisor)
            .map(|p| {
                (
                    (
                        label(p, "instance").to_string(),
                        label(p, "task").to_string(),
                        label(p, "replica").to_string(),
                    ),
                    p.pid,
                )
            })
            .collect()
    };
    let before = supervisors();
    let out = ex.apply_ok(&v1);
    assert!(out.contains("fhir: 1.0.0 unchanged"), "{out}");
    assert_eq!(supervisors(), before, "nothing changed, nothing restarted");

    std::fs::write(ex.secret_file(), "n3w-oauth-value\n").unwrap();
    let out = ex.apply(&v1, &[]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fhir: reconfigured 1.0.0, healthy"),
        "{stdout}"
    );
    assert!(stdout.contains("fhir-db: 14.0.0 unchanged"), "{stdout}");
    assert_converged(&ex, &v1);
    let after = supervisors();
    for (key, pid) in &before {
        let uses_secret = key.0 == "fhir" && key.1 == "app";
        assert_eq!(
            after.get(key) != Some(pid),
            uses_secret,
            "{key:?}: restarted iff its env uses the secret"
        );
    }
    let app = processes(&ex)
        .into_iter()
        .find(|p| !p.supervisor && label(p, "task") == "app")
        .unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", app.pid)).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains("OAUTH_CLIENT_SECRET=n3w-oauth-value"));
    let journal = std::fs::read_to_string(ex.env_state().join("journal.json")).unwrap();
    let output = format!("{}{}", stdout, String::from_utf8_lossy(&out.stderr));
    for text in [&journal, &output] {
        assert!(
            !text.contains("n3w-oauth-value") && !text.contains("s3cr3t-oauth-value"),
            "a secret value leaked: {text}"
        );
    }
}

/// An environment deployed by one target is not silently re-deployed by
/// another with the same state dir (its units would be invisible to it).
#[test]
fn another_target_for_a_deployed_environment_is_refused() {
    let (ex, _guard) = example("target");
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    let path = ex.write_plan(&v1, "plan");
    let out = Command::new(bin("hsp-agent"))
        .args(["apply", "--target", "docker", "--plan"])
        .arg(&path)
        .arg("--state")
        .arg(ex.state())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("was deployed to the host target, not docker"),
        "{stderr}"
    );
    assert_converged(&ex, &v1);
}

#[test]
fn foreign_processes_are_left_alone() {
    let (ex, _guard) = example("own");
    // Same environment name and labels, but another agent's state dir; and an
    // unlabelled process running the same kind of program.
    let mut labelled = Command::new("sleep")
        .arg("300")
        .env("HSP_AGENT_ENVIRONMENT", &ex.env)
        .env("HSP_AGENT_STATE", "/var/lib/someone-else")
        .env("HSP_AGENT_SUPERVISOR", "1")
        .env("HSP_AGENT_INSTANCE", "fhir")
        .spawn()
        .unwrap();
    let mut plain = Command::new("/bin/busybox")
        .args(["sleep", "300"])
        .spawn()
        .unwrap();
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    assert_converged(&ex, &v1);
    ex.apply_ok(&ex.empty_plan());
    for c in [&mut labelled, &mut plain] {
        assert!(
            c.try_wait().unwrap().is_none(),
            "a foreign process was stopped"
        );
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

#[test]
fn artifact_with_wrong_hash_is_refused_before_unpacking() {
    let (ex, _guard) = example("hash");
    let mut plan = ex.plan("1.0.0", "14.0.0", false);
    plan.instances[0].tasks[0].artifacts[0].sha256 = "0".repeat(64);
    let out = ex.apply(&plan, &[]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fhir-db: failed: 14.0.0 failed: refused: artifact file://")
            && stdout.contains("sha256"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fhir: skipped: waiting for fhir-db"),
        "{stdout}"
    );
    assert!(!ex.env_state().join("host/fhir-db/releases").exists());
    assert!(processes(&ex).is_empty());
    // The release is at fault, not the network: its version is marked bad with
    // the cause, so the next apply does not fetch it again.
    let why = ex.journal()["instances"]["fhir-db"]["bad_versions"]["14.0.0"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(why.contains("sha256"), "{}", ex.journal());
    let again = String::from_utf8_lossy(&ex.apply(&plan, &[]).stdout).to_string();
    assert!(again.contains("14.0.0 is marked bad"), "{again}");
}

#[test]
fn kill_minus_9_at_random_points_converges() {
    let (ex, _guard) = example("kill");
    scenario::kill_minus_9_converges(&Host(&ex));
}

/// The unit files the host driver renders for systemd pass `systemd-analyze verify`.
#[test]
fn systemd_units_verify() {
    use hsp_deploy::host::systemd::{env_file, render, UnitFile};
    let analyze = PathBuf::from("/usr/bin/systemd-analyze");
    assert!(
        analyze.exists(),
        "systemd-analyze is missing: run .ci/install (systemd)"
    );
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("bin/start");
    std::fs::create_dir_all(program.parent().unwrap()).unwrap();
    std::fs::copy(
        hsp_test_support::root().join("tests/fixtures/images/svc/bin/start"),
        &program,
    )
    .unwrap();
    let env = dir.path().join("app.env");
    std::fs::write(
        &env,
        env_file(&[("OAUTH_SECRET".into(), "a \"quoted\" $ecret%".into())]),
    )
    .unwrap();
    let labels = vec![("HSP_AGENT_ENVIRONMENT".to_string(), "clinic".to_string())];
    let markers = vec![
        ("X-HSP-Agent-Environment".to_string(), "clinic".to_string()),
        (
            "X-HSP-Agent-State".to_string(),
            "/var/lib/hsp-agent/clinic".to_string(),
        ),
    ];
    let unit = render(&UnitFile {
        description: "HSP clinic/fhir app 0 (org.example.fhir 1.0.0)".into(),
        program: &program,
        args: &["worker".to_string(), "100% $HOME".to_string()],
        working_dir: dir.path(),
        markers: &markers,
        labels: &labels,
        env_file: &env,
        memory_mib: 64,
        cpus: Some(0.5),
        stop_timeout_s: 10,
        restart_steps: false,
        private_tmp: true,
    });
    let path = dir.path().join("hsp-clinic-fhir-app-0.service");
    std::fs::write(&path, &unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("hsp-clinic-fhir-app-0"))
        .collect();
    assert!(
        out.status.success() && problems.is_empty(),
        "{unit}\n{stderr}"
    );
    assert!(
        unit.contains("ExecStart=") && unit.contains("\"100%% $$HOME\""),
        "{unit}"
    );
    assert!(
        unit.contains("Restart=on-failure") && !unit.contains("a \"quoted\""),
        "secrets stay in the env file: {unit}"
    );
    assert_eq!(
        hsp_deploy::host::systemd::markers(&unit),
        markers,
        "the ownership markers read back"
    );
}

/// The daemon: deploys, keeps services running while its plan source is gone
/// (status says so), and stops on SIGTERM leaving the services up.
#[test]
fn run_daemon_polls_survives_an_unreachable_source_and_drains_on_sigterm() {
    let (ex, _guard) = example("run");
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    let plan = ex.write_plan(&v1, "daemon");
    let mut daemon = Command::new(bin("hsp-agent"))
        .args([
            "run",
            "--target",
            "host",
            "--interval",
            "1",
            "--jitter",
            "0",
            "--max-backoff",
            "2",
            "--plan",
        ])
        .arg(&plan)
        .arg("--state")
        .arg(ex.state())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for("the first deploy", &|| {
        get(ex.ports.1, "/version").as_deref() == Some("1.0.0\n")
    });
    // The source disappears: polls fail, services keep running, status says why.
    std::fs::remove_file(&plan).unwrap();
    wait_for("a failed poll in the journal", &|| {
        ex.journal()["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("poll failed"))
    });
    let status = ex.status_json();
    assert!(
        status["last_poll"].is_string() && status["last_poll_ok"].is_string(),
        "{status}"
    );
    assert_ne!(status["last_poll"], status["last_poll_ok"]);
    // When the error happened, too.
    let at = status["last_error_at"].as_str().unwrap_or_default();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{status}");
    assert_eq!(get(ex.ports.1, "/version").as_deref(), Some("1.0.0\n"));
    // It comes back with a new version: the daemon upgrades.
    std::fs::write(
        &plan,
        serde_json::to_vec(&ex.plan("1.1.0", "14.0.0", false)).unwrap(),
    )
    .unwrap();
    wait_for("the upgrade", &|| {
        get(ex.ports.1, "/version").as_deref() == Some("1.1.0\n")
    });
    let pid = daemon.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    let code = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the daemon ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(code.success(), "{code}");
    assert_eq!(
        get(ex.ports.1, "/version").as_deref(),
        Some("1.1.0\n"),
        "services keep running"
    );
}

/// The agent scales a host task without ports between min and max on the
/// CPU time of its processes, and back down.
#[test]
fn scales_between_min_and_max_on_load() {
    let (ex, _guard) = example("scale");
    let cool = ex.dir.path().join("cool");
    scenario::scales_on_load(&Host(&ex), cool.to_str().unwrap(), &|| {
        std::fs::write(&cool, "").unwrap()
    });
}

/// A task whose port is `per_replica` runs `instances.min` replicas on a
/// host, replica r on `port + r` (told in `HSP_PORT_HTTP`), each
/// health-checked on its own port; status counts both.
#[test]
fn per_replica_ports_run_every_replica() {
    let (ex, _guard) = example("ports");
    let mut plan = ex.plan("1.0.0", "14.0.0", false);
    let app = task_mut(&mut plan, "fhir", "app");
    assert_eq!(app.instances.min, 2);
    app.ports[0].per_replica = true;
    let out = ex.apply_ok(&plan);
    assert!(out.contains("fhir: deployed 1.0.0, healthy"), "{out}");
    assert_converged(&ex, &plan);
    let app_port = ex.ports.1;
    for port in [app_port, app_port + 1] {
        assert_eq!(
            get(port, "/version").as_deref(),
            Some("1.0.0\n"),
            "nothing answers on {port}"
        );
    }
    let status = ex.status_json();
    let fhir = scenario::service(&status, "fhir");
    // 2 app replicas and 2 workers, all healthy.
    assert_eq!(
        (
            fhir["units_healthy"].as_u64(),
            fhir["units_wanted"].as_u64()
        ),
        (Some(4), Some(4)),
        "{status:#}"
    );
}
