//! `hsp-agent apply` against the real dockerd and the OCI registry on
//! 127.0.0.1:5000 (both started by `.ci/install`), with busybox images built
//! locally and pulled by digest. Every test uses its own environment name, and
//! what it checks it reads back with the `docker` CLI, not with the agent's
//! own client.

mod deploy_support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use deploy_support::*;
use hsp_index::Plan;
use serde_json::Value as Json;

/// Removes everything labelled with the test's environment, whatever happens.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let filter = format!("label=org.hsp.agent.environment={}", self.0);
        let ids = docker(&["ps", "-aq", "--filter", &filter]);
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        let vols = docker(&["volume", "ls", "-q", "--filter", &filter]);
        for v in vols.split_whitespace() {
            let _ = Command::new("docker").args(["volume", "rm", v]).output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &format!("hsp-{}", self.0)])
            .output();
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI (run .ci/install)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn example(tag: &str) -> (Example, Cleanup) {
    assert!(
        Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success()),
        "dockerd is not running: run .ci/install"
    );
    let ex = Example::new(Kind::Docker, tag);
    let guard = Cleanup(ex.env.clone());
    (ex, guard)
}

/// `docker inspect` of every container labelled with the environment.
fn containers(env: &str) -> Vec<Json> {
    let filter = format!("label=org.hsp.agent.environment={env}");
    let ids: Vec<String> = docker(&["ps", "-aq", "--filter", &filter])
        .split_whitespace()
        .map(String::from)
        .collect();
    if ids.is_empty() {
        return vec![];
    }
    let mut args = vec!["inspect"];
    args.extend(ids.iter().map(String::as_str));
    serde_json::from_str(&docker(&args)).unwrap()
}

fn label<'a>(c: &'a Json, k: &str) -> &'a str {
    c["Config"]["Labels"][format!("org.hsp.agent.{k}")]
        .as_str()
        .unwrap_or("")
}

/// Exactly the plan's units run: right instance, task, spec and count, all running.
fn assert_converged(ex: &Example, plan: &Plan) {
    let mut seen: BTreeMap<(String, String, String), u32> = BTreeMap::new();
    for c in containers(&ex.env) {
        assert_eq!(
            c["State"]["Running"], true,
            "{} is not running: {}",
            c["Name"], c["State"]
        );
        *seen
            .entry((
                label(&c, "instance").into(),
                label(&c, "task").into(),
                label(&c, "spec").into(),
            ))
            .or_default() += 1;
    }
    let want: BTreeMap<_, _> = wanted(plan, Kind::Docker)
        .into_iter()
        .map(|(i, t, s, n)| ((i, t, s), n))
        .collect();
    assert_eq!(seen, want, "containers differ from the plan");
}

fn db_container(ex: &Example) -> Json {
    containers(&ex.env)
        .into_iter()
        .find(|c| label(c, "instance") == "fhir-db")
        .expect("a db container")
}

fn exec(c: &Json, cmd: &str) -> String {
    let id = c["Id"].as_str().unwrap();
    docker(&["exec", id, "/bin/busybox", "sh", "-c", cmd])
}

#[test]
fn worked_example_deploys_upgrades_and_rolls_back() {
    let (ex, _guard) = example("up");
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    let out = ex.apply_ok(&v1);
    assert!(
        out.contains("fhir-db: deployed 14.0.0, healthy")
            && out.contains("fhir: deployed 1.0.0, healthy"),
        "{out}"
    );
    assert_converged(&ex, &v1);

    // Pulled by digest from the registry; labelled; limited; aliased on the env network.
    let all = containers(&ex.env);
    let net = format!("hsp-{}", ex.env);
    for c in &all {
        assert!(
            c["Config"]["Image"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:5000/hsp-test/svc@sha256:"),
            "{}",
            c["Config"]["Image"]
        );
        assert_eq!(label(c, "environment"), ex.env);
        let mem = c["HostConfig"]["Memory"].as_i64().unwrap();
        assert!(mem == 64 << 20 || mem == 32 << 20, "memory limit {mem}");
        let alias = format!("{}-{}", label(c, "instance"), label(c, "task"));
        let aliases = &c["NetworkSettings"]["Networks"][&net]["Aliases"];
        assert!(
            aliases.as_array().unwrap().iter().any(|a| a == &alias),
            "{alias} not in {aliases}"
        );
    }
    // The app reached the db through its alias (its /healthz waits for that).
    let app = all.iter().find(|c| label(c, "task") == "app").unwrap();
    assert_eq!(exec(app, "cat /www-8080/.upstream"), "ok\n");
    // Secrets reach the container env only: generated one shared by db and app,
    // file one as written; neither in the journal nor in the agent's output.
    let env_of = |c: &Json, k: &str| {
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str()?.strip_prefix(&format!("{k}=")))
            .next()
            .map(String::from)
    };
    let db = db_container(&ex);
    let password = env_of(&db, "POSTGRES_PASSWORD").unwrap();
    assert_eq!(password.len(), 32);
    assert_eq!(
        env_of(app, "DATABASE_URL").unwrap(),
        format!("postgres://fhir:{password}@fhir-db-postgres:5432/fhir")
    );
    assert_eq!(
        env_of(app, "OAUTH_CLIENT_SECRET").unwrap(),
        "s3cr3t-oauth-value"
    );
    let journal = std::fs::read_to_string(ex.state().join(&ex.env).join("journal.json")).unwrap();
    assert!(!journal.contains(&password) && !journal.contains("s3cr3t-oauth-value"));
    assert!(!out.contains(&password));
    exec(&db, "echo precious > /data/marker");

    // Upgrade the app: new containers, the db is untouched.
    let v2 = ex.plan("1.1.0", "14.0.0", false);
    let out = ex.apply_ok(&v2);
    assert!(
        out.contains("fhir: upgraded 1.0.0 -> 1.1.0, healthy")
            && out.contains("fhir-db: 14.0.0 unchanged"),
        "{out}"
    );
    assert_converged(&ex, &v2);
    assert_eq!(db_container(&ex)["Id"], db["Id"]);
    let status = ex.status_json();
    let fhir = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["instance"] == "fhir")
        .unwrap()
        .clone();
    assert_eq!(
        (fhir["version"].as_str(), fhir["health"].as_str()),
        (Some("1.1.0"), Some("healthy")),
        "{status}"
    );
    assert_eq!(fhir["units_healthy"], 4);

    // A broken release: rolled back, marked bad, reported; 1.1.0 keeps serving.
    let v3 = ex.plan("1.2.0", "14.0.0", true);
    let out = ex.apply(&v3, &[]);
    assert!(!out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fhir: 1.2.0 was unhealthy") && stdout.contains("rolled back to 1.1.0"),
        "{stdout}"
    );
    assert_converged(&ex, &v2);
    let status = ex.status_json();
    let fhir = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["instance"] == "fhir")
        .unwrap()
        .clone();
    assert!(fhir["bad_versions"]["1.2.0"].is_string(), "{status}");
    assert_eq!(fhir["health"], "healthy");
    // Not retried while the plan still says 1.2.0 ...
    let t = Instant::now();
    let out = ex.apply(&v3, &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept 1.1.0 instead of 1.2.0"),
        "{}",
        show(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(60));
    // ... but a newer version is tried, and the db kept its data throughout.
    let v4 = ex.plan("1.3.0", "14.0.0", false);
    let out = ex.apply_ok(&v4);
    assert!(out.contains("upgraded 1.1.0 -> 1.3.0"), "{out}");
    assert_converged(&ex, &v4);
    assert_eq!(exec(&db_container(&ex), "cat /data/marker"), "precious\n");
}

#[test]
fn pruning_keeps_volumes_unless_purge() {
    let (ex, _guard) = example("prune");
    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    exec(&db_container(&ex), "echo kept > /data/marker");
    let volume = format!("hsp-{}-fhir-db-data", ex.env);

    let out = ex.apply_ok(&ex.empty_plan());
    assert!(
        out.contains("fhir: removed 1.0.0 (volumes kept")
            && out.contains("fhir-db: removed 14.0.0"),
        "{out}"
    );
    // Consumers are stopped before their providers.
    assert!(
        out.find("fhir:").unwrap() < out.find("fhir-db:").unwrap(),
        "{out}"
    );
    assert!(containers(&ex.env).is_empty());
    assert_eq!(
        docker(&["volume", "ls", "-q", "--filter", &format!("name={volume}")]).trim(),
        volume
    );
    assert!(docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("name=hsp-{}$", ex.env)
    ])
    .trim()
    .is_empty());

    // Back again: same volume, same data, second boot of the db.
    ex.apply_ok(&v1);
    let db = db_container(&ex);
    assert_eq!(exec(&db, "cat /data/marker"), "kept\n");
    assert_eq!(exec(&db, "cat /data/boots"), "2\n");

    let out = ex.apply(&ex.empty_plan(), &["--purge"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 14.0.0 and its volumes"));
    assert!(
        docker(&["volume", "ls", "-q", "--filter", &format!("name={volume}")])
            .trim()
            .is_empty()
    );
}

#[test]
fn foreign_containers_are_left_alone() {
    let (ex, _guard) = example("own");
    let image = images::reference("svc");
    // Named like one of ours, but without the agent's labels.
    let foreign = format!("hsp-{}-fhir-app-0-000000000000", ex.env);
    let run = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &foreign,
            "--label",
            "owner=someone-else",
            &image,
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", show(&run));
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
        }
    }
    let _rm = Rm(foreign.clone());

    let v1 = ex.plan("1.0.0", "14.0.0", false);
    ex.apply_ok(&v1);
    assert_converged(&ex, &v1);
    ex.apply_ok(&ex.empty_plan());
    let state = docker(&["inspect", "-f", "{{.State.Running}}", &foreign]);
    assert_eq!(state.trim(), "true", "the foreign container must still run");
}

#[test]
fn kill_minus_9_at_random_points_converges() {
    let (ex, _guard) = example("kill");
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
    let t = Instant::now();
    ex.apply_ok(&plans[1]);
    let full = t.elapsed();
    exec(&db_container(&ex), "echo survives > /data/marker");
    let mut rng = Rng::new();
    for round in 0..20 {
        let next = round % 2;
        // Kill somewhere inside an upgrade (both the app and the db change).
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
        // The next start converges to the wanted state.
        let out = ex.apply(&plans[next], &[]);
        assert!(
            out.status.success(),
            "round {round}, killed after {at:?}:\n{}",
            show(&out)
        );
        assert_converged(&ex, &plans[next]);
        assert_eq!(
            exec(&db_container(&ex), "cat /data/marker"),
            "survives\n",
            "round {round}: volume data lost"
        );
    }
}
