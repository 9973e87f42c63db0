//! `hsp-agent apply` against the real dockerd and the OCI registry on
//! 127.0.0.1:5000 (both started by `.ci/install`), with busybox images built
//! locally and pulled by digest. Every test uses its own environment name, and
//! what it checks it reads back with the `docker` CLI, not with the agent's
//! own client. The scenarios shared with the host driver are in
//! `hsp_test_support::scenario`; the Docker-specific checks are here.

use std::collections::BTreeMap;
use std::process::Command;

use hsp_index::Plan;
use hsp_test_support::deploy::*;
use hsp_test_support::scenario::{self, Stage, Target};
use hsp_test_support::show;
use serde_json::Value as Json;

fn example(tag: &str) -> (Example, DockerCleanup) {
    assert!(
        Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success()),
        "dockerd is not running: run .ci/install"
    );
    let ex = Example::new(Kind::Docker, tag);
    let guard = DockerCleanup(ex.env.clone());
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

/// The Docker side of the shared scenarios, observed with the docker CLI.
struct Docker<'a>(&'a Example);

impl Target for Docker<'_> {
    fn example(&self) -> &Example {
        self.0
    }

    fn replicas(&self, instance: &str, task: &str, spec: &str) -> u32 {
        containers(&self.0.env)
            .iter()
            .filter(|c| c["State"]["Running"] == true)
            .filter(|c| {
                label(c, "instance") == instance
                    && label(c, "task") == task
                    && label(c, "spec") == spec
            })
            .count() as u32
    }

    fn running(&self) -> BTreeMap<(String, String, String), u32> {
        let mut seen: BTreeMap<(String, String, String), u32> = BTreeMap::new();
        for c in containers(&self.0.env) {
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
        seen
    }

    fn app_version(&self) -> Option<String> {
        let app = containers(&self.0.env)
            .into_iter()
            .find(|c| label(c, "task") == "app")?;
        let v = exec(
            &app,
            "/bin/busybox wget -q -O - http://127.0.0.1:8080/version",
        );
        (!v.is_empty()).then_some(v)
    }

    fn db_identity(&self) -> String {
        db_container(self.0)["Id"].as_str().unwrap().to_string()
    }

    fn volume_read(&self, file: &str) -> Option<String> {
        let v = exec(&db_container(self.0), &format!("cat /data/{file}"));
        (!v.is_empty()).then(|| v.trim_end().to_string())
    }

    fn volume_write(&self, file: &str, content: &str) {
        exec(
            &db_container(self.0),
            &format!("echo {content} > /data/{file}"),
        );
    }

    fn volume_exists(&self) -> bool {
        let volume = format!("hsp-{}-fhir-db-data", self.0.env);
        docker(&["volume", "ls", "-q", "--filter", &format!("name={volume}")]).trim() == volume
    }
}

fn assert_converged(ex: &Example, plan: &Plan) {
    scenario::assert_converged(&Docker(ex), plan)
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
    scenario::deploy_upgrade_rollback(&Docker(&ex), &mut |stage| {
        if let Stage::Deployed { out } = stage {
            deployed_checks(&ex, out)
        }
    });
}

/// Pulled by digest from the registry; labelled; limited; aliased on the env
/// network; the app reached the db through its alias; secrets only in the env.
fn deployed_checks(ex: &Example, out: &str) {
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
    // file one as written.
    let env_of = |c: &Json, k: &str| {
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str()?.strip_prefix(&format!("{k}=")))
            .next()
            .map(String::from)
    };
    let db = db_container(ex);
    let password = env_of(&db, "POSTGRES_PASSWORD").unwrap();
    assert_eq!(
        password,
        std::fs::read_to_string(ex.env_state().join("secrets/fhir-db/PASSWORD")).unwrap()
    );
    assert_eq!(
        env_of(app, "DATABASE_URL").unwrap(),
        format!("postgres://fhir:{password}@fhir-db-postgres:5432/fhir")
    );
    assert_eq!(
        env_of(app, "OAUTH_CLIENT_SECRET").unwrap(),
        "s3cr3t-oauth-value"
    );
    assert!(!out.contains(&password));
}

#[test]
fn pruning_keeps_volumes_unless_purge() {
    let (ex, _guard) = example("prune");
    scenario::prune_keeps_volumes_unless_purge(&Docker(&ex), &mut |stage| {
        if let Stage::Pruned = stage {
            // The environment's network goes with its last container.
            assert!(docker(&[
                "network",
                "ls",
                "-q",
                "--filter",
                &format!("name=hsp-{}$", ex.env)
            ])
            .trim()
            .is_empty());
        }
    });
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
    scenario::kill_minus_9_converges(&Docker(&ex));
}

/// The agent scales a task between min and max on the CPU use of its
/// containers (a busybox loop burning its 0.1 cpus), and back down.
#[test]
fn scales_between_min_and_max_on_load() {
    let (ex, _guard) = example("scale");
    let env = ex.env.clone();
    scenario::scales_on_load(&Docker(&ex), "/tmp/cool", &|| {
        for c in containers(&env)
            .iter()
            .filter(|c| label(c, "task") == "worker")
        {
            exec(c, "touch /tmp/cool");
        }
    });
}
