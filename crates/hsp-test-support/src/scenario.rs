//! Driver-agnostic deploy scenarios, run by `e2e::deploy::docker` and
//! `e2e::deploy::host` against their own [`Target`]: the worked example deployed,
//! upgraded and rolled back; pruning with and without `--purge`; kill -9 of
//! `apply` at random points. Each scenario asserts what holds for every driver
//! (outcome lines, the units observed through the driver's own labels, the app's
//! answers, the db's volume data, status, no secret in the journal); a driver
//! adds its own checks at the [`Stage`]s it is called back at.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hsp_index::Plan;
use serde_json::Value as Json;

use crate::deploy::{task_mut, wanted, Example, Rng};
use crate::show;

/// What a scenario observes of a deployment, read with the target's own tools
/// (the docker CLI, /proc and the ports), never with the agent's client.
pub trait Target {
    fn example(&self) -> &Example;
    /// Running units of the environment: (instance, task, spec) -> count.
    /// Panics on a unit that is not running (or, on a host, has no supervisor).
    fn running(&self) -> BTreeMap<(String, String, String), u32>;
    /// The app's `GET /version` body, as the target's network sees it.
    fn app_version(&self) -> Option<String>;
    /// Something that changes when the db unit is restarted (container id, pid).
    fn db_identity(&self) -> String;
    /// A file of the db's data volume, `None` if it (or the volume) is missing.
    fn volume_read(&self, file: &str) -> Option<String>;
    fn volume_write(&self, file: &str, content: &str);
    /// Whether the db's data volume exists.
    fn volume_exists(&self) -> bool;
    /// Running units of one task of one spec, while the agent may be
    /// starting or stopping some (no unit state is an error here).
    fn replicas(&self, instance: &str, task: &str, spec: &str) -> u32 {
        let key = (instance.to_string(), task.to_string(), spec.to_string());
        self.running().get(&key).copied().unwrap_or(0)
    }
}

/// Where a scenario calls the driver's own checks.
pub enum Stage<'a> {
    /// v1 deployed; `out` is the apply's stdout.
    Deployed { out: &'a str },
    /// v2 (1.1.0) replaced v1.
    Upgraded,
    /// The broken 1.2.0 was rolled back to 1.1.0.
    RolledBack,
    /// Everything was pruned (volumes kept).
    Pruned,
}

/// Exactly the plan's units run.
pub fn assert_converged(t: &dyn Target, plan: &Plan) {
    let want: BTreeMap<_, _> = wanted(plan, t.example().kind)
        .into_iter()
        .map(|(i, t, s, n)| ((i, t, s), n))
        .collect();
    assert_eq!(t.running(), want, "units differ from the plan");
}

/// The service `instance` in `hsp-agent status --json`.
pub fn service<'a>(status: &'a Json, instance: &str) -> &'a Json {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["instance"] == instance)
        .unwrap_or_else(|| panic!("{instance} not in status: {status:#}"))
}

/// The worked example: deploy 1.0.0 (db 14.0.0), upgrade the app to 1.1.0 with
/// the db untouched, a broken 1.2.0 rolled back and held, 1.3.0 deployed; the
/// db's data survives throughout and no secret reaches the journal or output.
pub fn deploy_upgrade_rollback(t: &dyn Target, checks: &mut dyn FnMut(Stage)) {
    let ex = t.example();
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    let out = ex.apply_ok(&v1);
    assert!(
        out.contains("fhir-db: deployed 14.0.0, healthy")
            && out.contains("fhir: deployed 1.0.0, healthy"),
        "{out}"
    );
    assert_converged(t, &v1);
    assert_eq!(t.app_version().as_deref(), Some("1.0.0\n"));
    // The generated password is in the state dir only: not in the journal or output.
    let password =
        std::fs::read_to_string(ex.env_state().join("secrets/fhir-db/PASSWORD")).unwrap();
    assert_eq!(password.len(), 32);
    let journal = std::fs::read_to_string(ex.env_state().join("journal.json")).unwrap();
    for text in [&journal, &out] {
        assert!(
            !text.contains(&password) && !text.contains("s3cr3t-oauth-value"),
            "a secret leaked: {text}"
        );
    }
    checks(Stage::Deployed { out: &out });
    t.volume_write("marker", "precious");

    // Upgrade the app: new units, the db is untouched.
    let db = t.db_identity();
    let v2 = ex.plan("1.1.0", "14.0.0", false);
    let out = ex.apply_ok(&v2);
    assert!(
        out.contains("fhir: upgraded 1.0.0 -> 1.1.0, healthy")
            && out.contains("fhir-db: 14.0.0 unchanged"),
        "{out}"
    );
    assert_converged(t, &v2);
    assert_eq!(t.app_version().as_deref(), Some("1.1.0\n"));
    assert_eq!(t.db_identity(), db, "the db was restarted");
    let status = ex.status_json();
    let fhir = service(&status, "fhir");
    assert_eq!(
        (fhir["version"].as_str(), fhir["health"].as_str()),
        (Some("1.1.0"), Some("healthy")),
        "{status}"
    );
    let units: u32 = wanted(&v2, ex.kind)
        .iter()
        .filter(|(i, ..)| i == "fhir")
        .map(|(.., n)| n)
        .sum();
    assert_eq!(fhir["units_healthy"], units, "{status}");
    checks(Stage::Upgraded);

    // A broken release: rolled back, marked bad, reported; 1.1.0 keeps serving.
    let v3 = ex.plan("1.2.0", "14.0.0", true);
    let out = ex.apply(&v3, &[]);
    assert!(!out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fhir: 1.2.0 failed (unhealthy") && stdout.contains("rolled back to 1.1.0"),
        "{stdout}"
    );
    assert_converged(t, &v2);
    assert_eq!(t.app_version().as_deref(), Some("1.1.0\n"));
    let status = ex.status_json();
    let fhir = service(&status, "fhir");
    assert!(fhir["bad_versions"]["1.2.0"].is_string(), "{status}");
    assert_eq!(fhir["health"], "healthy", "{status}");
    checks(Stage::RolledBack);
    // Not retried while the plan still says 1.2.0 ...
    let started = Instant::now();
    let out = ex.apply(&v3, &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept 1.1.0 instead of 1.2.0"),
        "{}",
        show(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // ... but a newer version is tried, and the db kept its data throughout.
    let v4 = ex.plan("1.3.0", "14.0.0", false);
    let out = ex.apply_ok(&v4);
    assert!(out.contains("upgraded 1.1.0 -> 1.3.0"), "{out}");
    assert_converged(t, &v4);
    assert_eq!(t.volume_read("marker").as_deref(), Some("precious"));
}

/// Pruning stops consumers first and keeps volumes; the instances come back to
/// their data; `--purge` deletes it.
pub fn prune_keeps_volumes_unless_purge(t: &dyn Target, checks: &mut dyn FnMut(Stage)) {
    let ex = t.example();
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    t.volume_write("marker", "kept");

    let out = ex.apply_ok(&ex.empty_plan());
    assert!(
        out.contains("fhir: removed 1.0.0 (volumes kept")
            && out.contains("fhir-db: removed 14.0.0"),
        "{out}"
    );
    assert!(
        out.find("fhir:").unwrap() < out.find("fhir-db:").unwrap(),
        "consumers stop first: {out}"
    );
    assert!(t.running().is_empty());
    assert!(t.volume_exists());
    assert_eq!(t.app_version(), None);
    assert_eq!(
        ex.status_json()["kept"].as_array().map(Vec::len),
        Some(2),
        "both pruned instances left data"
    );
    checks(Stage::Pruned);

    // Back again: same volume, same data, second boot of the db.
    ex.apply_ok(&v1);
    assert_eq!(
        ex.status_json()["kept"],
        serde_json::json!([]),
        "instances that came back use their data again"
    );
    assert_eq!(t.volume_read("marker").as_deref(), Some("kept"));
    assert_eq!(t.volume_read("boots").as_deref(), Some("2"));

    let out = ex.apply(&ex.empty_plan(), &["--purge"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 14.0.0 and its volumes"),
        "{}",
        show(&out)
    );
    assert!(!t.volume_exists());
    assert!(t.running().is_empty());
}

/// kill -9 of `apply` at 20 random points inside an upgrade (app and db both
/// change): the next apply converges every time and the db's data survives.
pub fn kill_minus_9_converges(t: &dyn Target) {
    let ex = t.example();
    // One replica per task keeps the 40 applies short; the scenario is the same.
    let plans = [
        ex.plan("1.0.0", "14.0.0", false),
        ex.plan("1.1.0", "14.0.1", false),
    ]
    .map(|mut p| {
        for t in p.instances.iter_mut().flat_map(|i| i.tasks.iter_mut()) {
            t.instances.min = 1;
        }
        p
    });
    let paths = [
        ex.write_plan(&plans[0], "p0"),
        ex.write_plan(&plans[1], "p1"),
    ];
    ex.apply_ok(&plans[0]);
    // How long an upgrade takes: the kills land anywhere inside one.
    let started = Instant::now();
    ex.apply_ok(&plans[1]);
    let full = started.elapsed();
    t.volume_write("marker", "survives");
    let mut rng = Rng::new();
    for round in 0..20 {
        let next = round % 2;
        let mut child = ex
            .apply_cmd(&paths[next])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let at = Duration::from_millis(rng.below(full.as_millis() as u64));
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let out = ex.apply(&plans[next], &[]);
        assert!(
            out.status.success(),
            "round {round}, killed after {at:?}:\n{}",
            show(&out)
        );
        assert_converged(t, &plans[next]);
        assert_eq!(
            t.volume_read("marker").as_deref(),
            Some("survives"),
            "round {round}: volume data lost"
        );
    }
}

/// Kills a child process (an `hsp-agent run` daemon) when dropped.
struct Daemon(Option<std::process::Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `hsp-agent run` scales the worker (min 1, max 3, 0.1 cpus) of the worked
/// example on its CPU use: the workers burn a CPU until `cool_file` exists,
/// so it scales up to 3, step by step; `cool` (the target makes the file
/// exist for every worker) ends the load and it scales back down to 1.
/// `status` shows the count and why.
pub fn scales_on_load(t: &dyn Target, cool_file: &str, cool: &dyn Fn()) {
    let ex = t.example();
    let mut plan = ex.plan("1.0.0", "14.0.0", false);
    let worker = task_mut(&mut plan, "fhir", "worker");
    worker.instances = hsp_index::document::Instances { min: 1, max: 3 };
    worker.cpus = Some(0.1);
    worker.env.insert(
        "BURN_UNTIL".into(),
        hsp_index::plan::Value(vec![hsp_index::plan::Part::Text(cool_file.into())]),
    );
    let spec = hsp_deploy::spec_hash(plan.instances.iter().find(|i| i.name == "fhir").unwrap());
    let path = ex.write_plan(&plan, "scaled");
    let cmd = ex.apply_cmd(&path);
    // `apply_cmd` is `hsp-agent apply ...`: the same arguments for `run`.
    let args: Vec<std::ffi::OsString> = cmd.get_args().skip(1).map(|a| a.to_owned()).collect();
    let mut run = std::process::Command::new(cmd.get_program());
    run.arg("run")
        .args(args)
        .args([
            "--interval",
            "3600",
            "--scale-every",
            "2",
            "--scale-down-after",
            "3",
        ])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut daemon = Daemon(Some(run.spawn().unwrap()));
    let workers = || t.replicas("fhir", "worker", &spec);
    let wait_for = |n: u32, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(150);
        let mut seen = Vec::new();
        while workers() != n {
            let now = workers();
            if seen.last() != Some(&now) {
                seen.push(now);
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {n} workers never ran (seen {seen:?}); status: {:#}",
                ex.status_json()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        seen
    };
    let seen = wait_for(3, "scaling up");
    // One step at a time: never straight past what the load asked for.
    assert!(seen.iter().all(|n| *n <= 3), "{seen:?}");
    let status = ex.status_json();
    let task = &service(&status, "fhir")["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "worker")
        .unwrap()
        .clone();
    assert_eq!(
        (
            task["replicas"].as_u64(),
            task["min"].as_u64(),
            task["max"].as_u64()
        ),
        (Some(3), Some(1), Some(3)),
        "{status:#}"
    );
    let why = task["scaled"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("cpu ") && why.contains("-> 3"),
        "{status:#}"
    );

    cool();
    wait_for(1, "scaling down");
    let status = ex.status_json();
    let fhir = service(&status, "fhir");
    assert_eq!(fhir["health"], "healthy", "{status:#}");
    let child = daemon.0.take().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("scaling: cpu"), "{log}");
}
