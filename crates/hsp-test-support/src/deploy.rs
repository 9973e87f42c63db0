//! Shared by `e2e::deploy::docker` and `e2e::deploy::host` (and the scenarios in
//! [`crate::scenario`]): the worked example as a plan (a FHIR app with 2 app and
//! 2 worker replicas and its dedicated database), built by hand in the shape the
//! planner renders, for either target; running `hsp-agent`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::show;
use hsp_deploy::host::process::scan;
use hsp_index::Plan;
use serde_json::{json, Value as Json};

pub use crate::images;

/// Which driver a fixture targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Docker,
    Host,
}

impl Kind {
    pub fn arg(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Host => "host",
        }
    }
}

/// One test's environment: a unique name, a state dir, artifacts, a secret file.
pub struct Example {
    pub env: String,
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    /// Host ports (db, app); Docker uses the documents' ports.
    pub ports: (u16, u16),
    image: String,
}

impl Example {
    pub fn new(kind: Kind, tag: &str) -> Example {
        let env = format!(
            "{}{}-{tag}",
            if kind == Kind::Docker { "dk" } else { "hs" },
            std::process::id()
        );
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("oauth-secret");
        std::fs::write(&secret, "s3cr3t-oauth-value\n").unwrap();
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let image = if kind == Kind::Docker {
            images::reference("svc")
        } else {
            String::new()
        };
        let ports = if kind == Kind::Host {
            // The app's port and the next: room for two per-replica ports.
            (crate::free_port(), crate::free_port_pair())
        } else {
            (5432, 8080)
        };
        Example {
            env,
            kind,
            dir,
            ports,
            image,
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `<state>/<env>` as the agent canonicalizes it (the host label).
    pub fn env_state(&self) -> PathBuf {
        std::fs::canonicalize(self.state().join(&self.env))
            .unwrap_or_else(|_| self.state().join(&self.env))
    }

    pub fn secret_file(&self) -> PathBuf {
        self.dir.path().join("oauth-secret")
    }

    /// A host artifact for `version`: the fixture script plus a VERSION file.
    fn artifact(&self, version: &str) -> Json {
        let path = self
            .dir
            .path()
            .join(format!("artifacts/svc-{version}.tar.gz"));
        crate::dev_index::host_artifact(&path, version)
    }

    fn host(&self, instance: &str, task: &str) -> String {
        match self.kind {
            Kind::Docker => format!("{instance}-{task}"),
            Kind::Host => "127.0.0.1".into(),
        }
    }

    /// The worked example: `fhir-db` (dedicated database with a volume and a
    /// generated password) and `fhir` (2 `app` + 2 `worker`, OAuth secret from a
    /// file). `broken` makes the app exit at once, so it never gets healthy.
    pub fn plan(&self, fhir_version: &str, db_version: &str, broken: bool) -> Plan {
        let (db_port, app_port) = self.ports;
        let health = |port: Option<&str>, command: Option<Json>| {
            let mut h = json!({"interval_s": 1, "timeout_s": 2, "retries": 4, "start_period_s": 1});
            if let Some(p) = port {
                h["http"] = json!({"port": p, "path": "/healthz"});
            }
            if let Some(c) = command {
                h["command"] = c;
            }
            h
        };
        let text = |s: &str| json!([{"text": s}]);
        let upstream = format!("http://{}:{db_port}", self.host("fhir-db", "postgres"));
        let app_url = format!("http://{}:{app_port}", self.host("fhir", "app"));
        let password =
            json!({"secret": {"kind": "generated", "instance": "fhir-db", "name": "PASSWORD"}});
        let oauth =
            json!({"secret": {"kind": "file", "path": self.secret_file().display().to_string()}});
        let artifacts = |v: &str| {
            if self.kind == Kind::Host {
                json!([self.artifact(v)])
            } else {
                json!([])
            }
        };
        let db_data = if self.kind == Kind::Docker {
            "/data".to_string()
        } else {
            String::new()
        };
        let mut db_env = json!({
            "PORT": text(&db_port.to_string()),
            "VERSION": text(db_version),
            "POSTGRES_PASSWORD": [password.clone()],
        });
        if self.kind == Kind::Docker {
            db_env["DATA"] = text(&db_data);
        }
        let mut app_env = json!({
            "PORT": text(&app_port.to_string()),
            "VERSION": text(fhir_version),
            "UPSTREAM": text(&upstream),
            "DATABASE_URL": [{"text": format!("postgres://fhir:")}, password, {"text": format!("@{}:{db_port}/fhir", self.host("fhir-db", "postgres"))}],
            "OAUTH_CLIENT_SECRET": [oauth],
        });
        if broken {
            app_env["FAIL"] = text("3");
        }
        let worker_env = json!({"VERSION": text(fhir_version), "UPSTREAM": text(&app_url)});
        // (busybox 1.35's wget crashes with -T or -O /dev/null.)
        let worker_probe = json!([
            "/bin/busybox",
            "wget",
            "-q",
            "-O",
            "/tmp/probe",
            format!("{app_url}/healthz")
        ]);
        let image = &self.image;
        let plan = json!({
            "environment": self.env,
            "instances": [
                {
                    "name": "fhir-db", "service": "org.example.postgres", "version": db_version,
                    "license": "PostgreSQL", "reason": "dedicated database of fhir", "dedicated_to": "fhir",
                    "tasks": [{
                        "name": "postgres", "image": image,
                        "ports": [{"name": "pg", "port": db_port}],
                        "env": db_env, "memory_mib": 64,
                        "instances": {"min": 1, "max": 1},
                        "health": health(Some("pg"), None),
                        "volumes": [{"name": "data", "path": "/data"}],
                        "stop_timeout_s": 2,
                        "artifacts": artifacts(db_version),
                    }],
                },
                {
                    "name": "fhir", "service": "org.example.fhir", "version": fhir_version,
                    "license": "Apache-2.0", "reason": "wanted", "depends_on": ["fhir-db"],
                    "tasks": [
                        {
                            "name": "app", "image": image,
                            "ports": [{"name": "http", "port": app_port}],
                            "env": app_env, "memory_mib": 64,
                            "instances": {"min": 2, "max": 4},
                            "health": health(Some("http"), None),
                            "stop_timeout_s": 2,
                            "artifacts": artifacts(fhir_version),
                        },
                        {
                            "name": "worker", "image": image, "command": ["worker"],
                            "ports": [], "env": worker_env, "memory_mib": 32,
                            "instances": {"min": 2, "max": 2},
                            "health": health(None, Some(worker_probe)),
                            "stop_timeout_s": 2,
                            "artifacts": artifacts(fhir_version),
                        },
                    ],
                },
            ],
        });
        serde_json::from_value(plan).expect("the fixture is a valid plan")
    }

    pub fn empty_plan(&self) -> Plan {
        Plan {
            environment: self.env.clone(),
            instances: vec![],
            externals: vec![],
        }
    }

    /// Writes `plan` and returns its path.
    pub fn write_plan(&self, plan: &Plan, name: &str) -> PathBuf {
        let p = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&p, serde_json::to_vec_pretty(plan).unwrap()).unwrap();
        p
    }

    /// `hsp-agent apply --plan ... --target ... --state ...` (not yet run).
    pub fn apply_cmd(&self, plan: &Path) -> Command {
        let mut c = Command::new(crate::bin("hsp-agent"));
        c.arg("apply")
            .arg("--plan")
            .arg(plan)
            .args(["--target", self.kind.arg()])
            .arg("--state")
            .arg(self.state())
            .env("RUST_LOG", "info");
        c
    }

    /// Applies `plan`; returns the output (any exit code).
    pub fn apply(&self, plan: &Plan, extra: &[&str]) -> Output {
        let path = self.write_plan(plan, "plan");
        self.apply_cmd(&path).args(extra).output().unwrap()
    }

    /// Applies `plan` and asserts success.
    pub fn apply_ok(&self, plan: &Plan) -> String {
        let out = self.apply(plan, &[]);
        assert!(out.status.success(), "apply failed:\n{}", show(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn status_json(&self) -> Json {
        let out = Command::new(crate::bin("hsp-agent"))
            .args(["status", &self.env, "--json", "--state"])
            .arg(self.state())
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{}", show(&out)))
    }

    pub fn journal(&self) -> Json {
        serde_json::from_slice(
            &std::fs::read(self.state().join(&self.env).join("journal.json")).unwrap(),
        )
        .unwrap()
    }
}

/// The units a plan wants: `(instance, task, spec)` -> replicas.
pub fn wanted(plan: &Plan, kind: Kind) -> Vec<(String, String, String, u32)> {
    let mut out = Vec::new();
    for i in &plan.instances {
        let spec = hsp_deploy::spec_hash(i);
        for t in &i.tasks {
            let n = if kind == Kind::Host && !t.ports.iter().all(|p| p.per_replica) {
                1
            } else {
                t.instances.min
            };
            out.push((i.name.clone(), t.name.clone(), spec.clone(), n));
        }
    }
    out
}

/// A small deterministic PRNG (xorshift), seeded from `HSP_TEST_SEED` or the clock.
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Rng {
        Rng::new()
    }
}

impl Rng {
    pub fn new() -> Rng {
        let seed = std::env::var("HSP_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("random seed {seed} (set HSP_TEST_SEED to replay)");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Kills every host process labelled with an environment of the state dir
/// `.0` (environment `.1`) when dropped, whatever the test did.
pub struct Cleanup(pub PathBuf, pub String);

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

/// Removes every container, volume and the network labelled with the
/// environment `.0` when dropped, whatever the test did.
pub struct DockerCleanup(pub String);

impl Drop for DockerCleanup {
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

/// Stdout of the `docker` CLI (empty when it fails).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI (run .ci/install)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The task `task` of the planned instance `instance`, to edit a plan.
pub fn task_mut<'a>(
    plan: &'a mut Plan,
    instance: &str,
    task: &str,
) -> &'a mut hsp_index::plan::PlannedTask {
    plan.instances
        .iter_mut()
        .find(|i| i.name == instance)
        .and_then(|i| i.tasks.iter_mut().find(|t| t.name == task))
        .unwrap_or_else(|| panic!("no task {instance}/{task} in the plan"))
}
