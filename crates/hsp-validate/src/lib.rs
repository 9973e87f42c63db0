//! `hsp validate`: a service version run on the real Docker engine, and the
//! packaging rules it must meet checked one by one, each with its evidence.
//!
//! The version is planned as a site would plan it (the planner, with the
//! registry's providers for its requirements and test values for config
//! without defaults), its dependencies deployed first with the agent's own
//! rollout and Docker driver (health-gated), in an environment of its own (a
//! throwaway network, a temporary state folder), and then each of its tasks
//! is started by the driver and watched:
//!
//! - `pullable`: the image pulls by its digest;
//! - `non-root` (warning): the image's user is not root;
//! - `exposed-ports`: the image's `EXPOSE`d ports are the declared ports;
//! - `licences`: licence files in the image (`/licenses`, `/LICENSE`, ...);
//! - `labels`: `org.opencontainers.image.version` and `.licenses`, when set,
//!   agree with the document (warning when absent);
//! - `healthy`: healthy by its own health check within its start period;
//! - `declared-env`: it starts with only the declared environment (a variable
//!   its logs say is missing is a finding);
//! - `ports`: every declared port accepts a connection;
//! - `smoke-test`: the document's smoke test passes;
//! - `logs`: it logs to stdout/stderr, and writes no log files in the image;
//! - `read-only-root` (warning): it writes nothing outside its volumes and
//!   `/tmp`, so it runs with a read-only root file system;
//! - `memory`: its peak (the kernel's, from its memory cgroup) stays within
//!   `memory_mib` (the container gets headroom above it, so the peak is seen,
//!   not killed);
//! - `stop`: SIGTERM stops it within `stop_timeout_s`, with exit code 0 or 143.
//!
//! Rules that need a healthy task are `not_run` when it never became healthy.
//! Everything the run created is removed at the end, whatever happened.
//!
//! A version with a bare-metal artifact for this machine's platform is then validated the same way on the host driver (rules with
//! `target: host`), as supervised processes in a temporary host root: the
//! artifact downloads and matches its sha256 (`pullable`), has licence files
//! (`licences`), and `healthy` to `stop` as above, where `logs` and
//! `read-only-root` look at what it wrote in its release folder, `memory` at
//! the peak resident size of its processes, and `stop` at the supervisor's
//! account of the SIGTERM. The image rules (`non-root`, `exposed-ports`,
//! `labels`) have no host counterpart.

mod engine;

mod site;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hsp_deploy::{secrets, spec_hash, Driver, EnvDir, Probe, UnitSpec};
use hsp_index::document::{Document, Health};
use hsp_index::plan::{Part, Plan, PlannedInstance, PlannedTask};
use hsp_index::validation::{Outcome, Report, RuleResult, Target};
use hsp_index::{Environment, Interface};
use hsp_planner::{Deployed, MemorySource, PlanOptions};

pub use engine::Engine;
use site::Site;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
    #[error("{what}")]
    Engine {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("planning {service} {version} (hint: give config values with --config NAME=VALUE, or add its providers to the registry)")]
    Plan {
        service: String,
        version: String,
        #[source]
        source: Box<hsp_planner::PlanError>,
    },
    #[error(transparent)]
    Deploy(#[from] hsp_deploy::Error),
    #[error("a temporary folder")]
    Temp(#[source] std::io::Error),
}

/// What to validate.
pub struct Options<'a> {
    pub document: &'a Document,
    /// Hex sha256 of the document's bytes.
    pub document_sha256: String,
    /// The registry's documents (providers for the requirements) and interfaces.
    pub documents: Vec<Document>,
    pub interfaces: Vec<Interface>,
    /// Test values for config entries, by name.
    pub config: BTreeMap<String, String>,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The `hsp-agent` binary whose `supervise` runs host processes
    /// ([`find_agent`]); without it, bare-metal artifacts are reported as not
    /// run.
    pub agent: Option<PathBuf>,
}

/// `hsp-agent` beside the running program, else on `PATH`.
pub fn find_agent() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("hsp-agent")));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("hsp-agent"));
    beside.into_iter().chain(on_path).find(|p| p.is_file())
}

/// The rules of each task, in the order they run.
const RULES: &[&str] = &[
    "pullable",
    "non-root",
    "exposed-ports",
    "licences",
    "labels",
    "healthy",
    "declared-env",
    "ports",
    "smoke-test",
    "logs",
    "read-only-root",
    "memory",
    "stop",
];

/// The rules that look at the image, and have no host counterpart.
const IMAGE_RULES: [&str; 3] = ["non-root", "exposed-ports", "labels"];

/// The rules of each task on `target`, in the order they run.
fn rules(target: Target) -> Vec<&'static str> {
    RULES
        .iter()
        .copied()
        .filter(|r| target == Target::Docker || !IMAGE_RULES.contains(r))
        .collect()
}

/// The rules of `target` after `rule`.
fn after(target: Target, rule: &str) -> Vec<&'static str> {
    let all = rules(target);
    let at = all.iter().position(|r| *r == rule).expect("a rule");
    all[at + 1..].to_vec()
}

/// The instance name the validated version gets in its plan.
const INSTANCE: &str = "svc";

/// Runs the rules (see the module docs) and returns the report.
pub fn validate(opts: &Options) -> Result<Report, Error> {
    let doc = opts.document;
    let engine = Engine::connect()?;
    let mut report = Report {
        service: doc.id.clone(),
        version: doc.version.clone(),
        document_sha256: opts.document_sha256.clone(),
        validated_at: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        engine: engine.version(),
        rules: Vec::new(),
    };
    let id = format!(
        "{}-{}",
        std::process::id(),
        opts.now.timestamp_subsec_nanos() % 100_000
            + u32::try_from(opts.now.timestamp() % 1000).unwrap_or(0)
    );
    run_on(
        opts,
        Target::Docker,
        &format!("val-{id}"),
        Some(&engine),
        &mut report.rules,
    )?;
    if doc.artifacts.is_empty() {
        return Ok(report);
    }
    let platform = hsp_deploy::host::platform();
    let why = if !doc.artifacts.iter().any(|a| a.platform == platform) {
        Some(format!(
            "no bare-metal artifact for {platform}, this machine's platform (it has {})",
            doc.artifacts
                .iter()
                .map(|a| a.platform.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else if opts.agent.is_none() {
        Some(
            "no hsp-agent program beside hsp or on PATH to supervise the processes: install it"
                .to_string(),
        )
    } else {
        None
    };
    match why {
        Some(why) => report.rules.push(RuleResult {
            rule: "pullable".into(),
            task: None,
            target: Target::Host,
            outcome: Outcome::NotRun,
            evidence: why,
        }),
        None => run_on(
            opts,
            Target::Host,
            &format!("valh-{id}"),
            None,
            &mut report.rules,
        )?,
    }
    Ok(report)
}

/// One run of the version on `target`, its rules appended to `rules`.
fn run_on(
    opts: &Options,
    target: Target,
    env_name: &str,
    engine: Option<&Engine>,
    rules: &mut Vec<RuleResult>,
) -> Result<(), Error> {
    let state = tempfile::tempdir().map_err(Error::Temp)?;
    let plan = match plan(opts, env_name, target, state.path()) {
        Err(Error::Plan { source, .. })
            if matches!(*source, hsp_planner::PlanError::Config { .. }) =>
        {
            // Reported, not an error: the version cannot run without values
            // its document does not give.
            let evidence = format!(
                "{source} (the validator runs each required entry without a default with its `example`, and generates secrets; or give --config NAME=VALUE)"
            );
            let mut result = |rule: &str, task: Option<&str>, outcome, evidence: &str| {
                rules.push(RuleResult {
                    rule: rule.to_string(),
                    task: task.map(str::to_string),
                    target,
                    outcome,
                    evidence: evidence.to_string(),
                })
            };
            result("configurable", None, Outcome::Fail, &evidence);
            for task in &opts.document.tasks {
                for r in self::rules(target) {
                    result(r, Some(&task.name), Outcome::NotRun, "not configured");
                }
            }
            return Ok(());
        }
        plan => plan?,
    };
    let env_dir = EnvDir::open(state.path(), env_name)?;
    let site = match (target, engine) {
        (Target::Docker, Some(engine)) => Site::docker(engine, env_name)?,
        _ => Site::host(
            env_name,
            state.path(),
            opts.agent.clone().unwrap_or_default(),
        )?,
    };
    let mut run = Run {
        site,
        target,
        rules: Vec::new(),
        started: Vec::new(),
    };
    let result = run.all(&plan, &env_dir, state.path(), opts.document, env_name);
    // Whatever happened: every unit, the dependencies, volumes and network.
    let started = std::mem::take(&mut run.started);
    run.site.stop_all(&started);
    let driver = run.site.driver();
    let empty = Plan {
        environment: plan.environment.clone(),
        instances: Vec::new(),
        externals: Vec::new(),
    };
    let purge = hsp_deploy::ApplyOptions {
        purge: true,
        ..Default::default()
    };
    let _ = hsp_deploy::apply(driver, &empty, &env_dir, &purge);
    let _ = driver.remove_volumes(INSTANCE);
    let _ = driver.teardown();
    rules.append(&mut run.rules);
    result
}

/// The plan a site wanting exactly this version would get.
fn plan(
    opts: &Options,
    env_name: &str,
    target: Target,
    state: &std::path::Path,
) -> Result<Plan, Error> {
    let doc = opts.document;
    let mut documents: Vec<Document> = opts
        .documents
        .iter()
        .filter(|d| !(d.id == doc.id && d.version == doc.version))
        .cloned()
        .map(for_a_test_run)
        .collect();
    // A yanked version is still validated (sites may run it).
    let mut wanted = for_a_test_run(doc.clone());
    wanted.yanked = None;
    documents.push(wanted);
    let source = MemorySource::new(opts.interfaces.clone(), documents);
    let env: Environment = serde_json::from_value(serde_json::json!({
        "name": env_name,
        "index": {"url": "validation", "root": "validation"},
        "services": [{"id": doc.id, "version": format!("={}", doc.version), "name": INSTANCE}],
        "config": {INSTANCE: given_config(opts, state)?},
        "target": match target {
            Target::Docker => serde_json::json!({"kind": "docker"}),
            Target::Host => serde_json::json!({"kind": "host", "root": state.join("host")}),
        },
    }))
    .expect("a valid environment");
    let options = PlanOptions {
        host_platform: Some(hsp_deploy::host::platform()),
    };
    let plan_err = |source| Error::Plan {
        service: doc.id.clone(),
        version: doc.version.clone(),
        source: Box::new(source),
    };
    hsp_planner::plan_with(&env, &source, &Deployed::default(), &options).map_err(plan_err)
}

/// `opts.config` as environment config values: a secret entry's value in a
/// file of `state` (mode 0600), as a site gives secrets.
fn given_config(
    opts: &Options,
    state: &std::path::Path,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let mut out = serde_json::Map::new();
    for (name, value) in &opts.config {
        let secret = opts
            .document
            .config
            .iter()
            .any(|c| &c.name == name && c.secret);
        let value = if secret {
            let path = state.join(format!("given-{name}"));
            hsp_deploy::journal::write_atomic(&path, value.as_bytes())?;
            serde_json::json!({"secret_file": path})
        } else {
            serde_json::json!(value)
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// `doc` as a throwaway run needs it: a required config entry without a
/// default gets its `example`, and a required secret is generated.
fn for_a_test_run(mut doc: Document) -> Document {
    for c in doc
        .config
        .iter_mut()
        .filter(|c| c.required && c.default.is_none())
    {
        if c.secret {
            c.generate = true;
        } else if c.example.is_some() {
            c.default = c.example.clone();
        }
    }
    doc
}

struct Run<'a> {
    site: Site<'a>,
    target: Target,
    rules: Vec<RuleResult>,
    /// Names of the units started outside the rollout.
    started: Vec<String>,
}

impl Run<'_> {
    fn rule(
        &mut self,
        rule: &str,
        task: Option<&str>,
        outcome: Outcome,
        evidence: impl Into<String>,
    ) {
        self.rules.push(RuleResult {
            rule: rule.to_string(),
            task: task.map(str::to_string),
            target: self.target,
            outcome,
            evidence: evidence.into(),
        });
    }

    fn all(
        &mut self,
        plan: &Plan,
        env_dir: &EnvDir,
        state: &std::path::Path,
        doc: &Document,
        env_name: &str,
    ) -> Result<(), Error> {
        let Some(inst) = plan.instances.iter().find(|i| i.name == INSTANCE) else {
            unreachable!("the wanted service is in its plan");
        };
        let deps = Plan {
            environment: plan.environment.clone(),
            instances: plan
                .instances
                .iter()
                .filter(|i| i.name != INSTANCE)
                .cloned()
                .collect(),
            externals: plan.externals.clone(),
        };
        if !deps.instances.is_empty() {
            let names: Vec<String> = deps
                .instances
                .iter()
                .map(|i| format!("{} {} ({})", i.service, i.version, i.name))
                .collect();
            let driver = self.site.driver();
            let problem = match hsp_deploy::apply(driver, &deps, env_dir, &Default::default()) {
                Ok(report) => report.first_problem(),
                Err(e) => Some(format!("{e}")),
            };
            if let Some(bad) = problem {
                // Reported, not skipped: the version was not run.
                let evidence = format!("{}: {bad}", names.join(", "));
                self.rule("dependencies", None, Outcome::Fail, evidence);
                for task in &inst.tasks {
                    for r in rules(self.target) {
                        let why = "its dependencies did not start";
                        self.rule(r, Some(&task.name), Outcome::NotRun, why);
                    }
                }
                return Ok(());
            }
            let evidence = format!("started and healthy: {}", names.join(", "));
            self.rule("dependencies", None, Outcome::Pass, evidence);
        }
        let pulled = self.site.prepare(inst);
        for task in &inst.tasks {
            self.task(inst, task, &pulled, state, doc, env_name)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn task(
        &mut self,
        inst: &PlannedInstance,
        task: &PlannedTask,
        pulled: &Result<(), hsp_deploy::Error>,
        state: &std::path::Path,
        doc: &Document,
        env_name: &str,
    ) -> Result<(), Error> {
        let t = Some(task.name.as_str());
        let what = self.site.what(task);
        if let Err(e) = pulled {
            let evidence = format!("{what}: not pullable: {e}");
            self.rule("pullable", t, Outcome::Fail, evidence);
            for r in after(self.target, "pullable") {
                self.rule(
                    r,
                    t,
                    Outcome::NotRun,
                    format!("{what} could not be fetched"),
                );
            }
            return Ok(());
        }
        let evidence = match self.target {
            Target::Docker => format!("pulled {what}"),
            Target::Host => format!("downloaded {what}, its size and sha256 as signed"),
        };
        self.rule("pullable", t, Outcome::Pass, evidence);
        match self.target {
            Target::Docker => self.image_rules(task, doc, env_name)?,
            Target::Host => {
                let (outcome, evidence) = match self.site.release_licences() {
                    Some((path, files)) => (Outcome::Pass, format!("{path}: {}", files.join(", "))),
                    None => (Outcome::Fail, "no licence files in the artifact: put them under licenses/ (or LICENSE, COPYING) at its root".to_string()),
                };
                self.rule("licences", t, outcome, evidence);
            }
        }

        // Started by the driver as the agent starts it, with memory headroom
        // so that the peak above `memory_mib` is measured, not killed.
        let mut measured = task.clone();
        measured.memory_mib = (task.memory_mib * 2).max(task.memory_mib + 256);
        let env = secrets::render_env(state, task)?;
        let secret_values: Vec<String> = task
            .env
            .iter()
            .filter(|(_, v)| v.0.iter().any(|p| matches!(p, Part::Secret(_))))
            .filter_map(|(k, _)| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .filter(|v| v.len() >= 4)
            .collect();
        let redact = |line: &str| {
            let mut l = line.to_string();
            for s in &secret_values {
                l = l.replace(s.as_str(), "<secret>");
            }
            l
        };
        let spec = spec_hash(inst);
        let env_hash = secrets::env_hash(state, &env)?;
        let unit_spec = UnitSpec {
            environment: env_name,
            instance: inst,
            task: &measured,
            replica: 0,
            spec: &spec,
            env: env.clone(),
            env_hash: &env_hash,
        };
        let name = unit_spec.name();
        let started = Instant::now();
        self.site.driver().start(&unit_spec)?;
        // Removed at the end by name (the engine takes a name for an id).
        self.started.push(name.clone());
        let find = |driver: &mut dyn Driver| -> Option<hsp_deploy::Unit> {
            driver.units().ok()?.into_iter().find(|u| u.name == name)
        };
        let health = task.health.clone();
        let start_period = health.as_ref().map_or(0, |h| h.start_period_s);
        let window = health.as_ref().map_or(10, |h| {
            h.start_period_s + h.interval_s * h.retries.max(1) + h.timeout_s
        });
        let deadline = started + Duration::from_secs(u64::from(window.max(5)));
        let mut last = String::from("not probed");
        let mut unit_found = None;
        let healthy_after = loop {
            let driver = self.site.driver();
            if let Some(u) = find(driver) {
                match driver.probe(&u, task, &env) {
                    Probe::Healthy => {
                        unit_found = Some(u);
                        break Some(started.elapsed());
                    }
                    Probe::Unhealthy(why) | Probe::Exited(why) => last = why,
                }
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let logs: Vec<String> = self
            .site
            .logs(&name, task)
            .iter()
            .map(|l| redact(l))
            .collect();
        let Some(healthy_in) = healthy_after else {
            let evidence = format!(
                "not healthy {:.1} s after start (start period {start_period} s): {last}{}",
                started.elapsed().as_secs_f64(),
                logs.last()
                    .map(|l| format!("; last log line: {l}"))
                    .unwrap_or_default()
            );
            self.rule("healthy", t, Outcome::Fail, evidence);
            self.declared_env(task, &logs, false);
            // Every rule after `declared-env` needs a healthy task.
            for r in after(self.target, "declared-env") {
                self.rule(r, t, Outcome::NotRun, "the task never became healthy");
            }
            return Ok(());
        };
        let secs = healthy_in.as_secs_f64();
        let (outcome, evidence) = if secs <= f64::from(start_period) + 1.0 {
            (
                Outcome::Pass,
                format!("healthy {secs:.1} s after start (start period {start_period} s)"),
            )
        } else {
            (Outcome::Warn, format!("healthy only {secs:.1} s after start, after its start period of {start_period} s: raise start_period_s"))
        };
        self.rule("healthy", t, outcome, evidence);
        self.declared_env(task, &logs, true);
        let u = unit_found.expect("healthy");

        // Ports.
        let mut closed = Vec::new();
        let mut open = Vec::new();
        for p in &task.ports {
            let Some(ip) = u.address else { break };
            let addr = std::net::SocketAddr::new(ip, p.port);
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                Ok(_) => open.push(format!("{} ({})", p.port, p.name)),
                Err(e) => closed.push(format!("{} ({}): {e}", p.port, p.name)),
            }
        }
        match (closed.is_empty(), task.ports.is_empty()) {
            (_, true) => self.rule("ports", t, Outcome::Pass, "declares no ports"),
            (true, false) => self.rule(
                "ports",
                t,
                Outcome::Pass,
                format!("accepting connections: {}", open.join(", ")),
            ),
            (false, _) => self.rule(
                "ports",
                t,
                Outcome::Fail,
                format!("not answering: {}", closed.join("; ")),
            ),
        }

        // The smoke test, on its task.
        match &doc.smoke_test {
            Some(smoke) if smoke.task == task.name => {
                let probe_task = PlannedTask {
                    health: Some(Health {
                        http: smoke.http.clone(),
                        command: smoke.command.clone(),
                        interval_s: smoke.timeout_s.max(1),
                        timeout_s: smoke.timeout_s.max(1),
                        start_period_s: 0,
                        retries: 1,
                    }),
                    ..task.clone()
                };
                let what = match (&smoke.http, &smoke.command) {
                    (Some(h), _) => format!("GET {} on port {}", h.path, h.port),
                    (_, Some(c)) => format!("command {c:?}"),
                    _ => "nothing".into(),
                };
                let expects = smoke.status.is_some() || smoke.body_contains.is_some();
                let port = probe_task
                    .health
                    .as_ref()
                    .and_then(|h| hsp_deploy::health::http_port(&probe_task, h))
                    .map(|p| p.port);
                match (expects, &smoke.http, port, u.address) {
                    (true, Some(h), Some(port), Some(ip)) => {
                        let addr = std::net::SocketAddr::new(ip, port);
                        let timeout = Duration::from_secs(u64::from(smoke.timeout_s.max(1)));
                        let (outcome, evidence) = match http_get(addr, &h.path, timeout) {
                            Err(e) => (Outcome::Fail, format!("{what}: {e}")),
                            Ok((code, body)) => expect(smoke, code, &body),
                        };
                        self.rule(
                            "smoke-test",
                            t,
                            outcome,
                            format!("{what}: {}", redact(&evidence)),
                        );
                    }
                    _ => match self.site.driver().probe(&u, &probe_task, &env) {
                        Probe::Healthy => {
                            self.rule("smoke-test", t, Outcome::Pass, format!("{what}: passed"))
                        }
                        Probe::Unhealthy(why) | Probe::Exited(why) => self.rule(
                            "smoke-test",
                            t,
                            Outcome::Fail,
                            format!("{what}: {}", redact(&why)),
                        ),
                    },
                }
            }
            Some(_) => {}
            None => self.rule(
                "smoke-test",
                t,
                Outcome::Fail,
                "the document declares no smoke test",
            ),
        }

        // Logs and file-system writes.
        let logs: Vec<String> = self
            .site
            .logs(&name, task)
            .iter()
            .map(|l| redact(l))
            .collect();
        let changes = self.site.changes(&name);
        let log_files: Vec<&String> = changes
            .iter()
            .filter(|p| p.starts_with("/var/log/") || p.ends_with(".log"))
            .collect();
        match (
            logs.iter().find(|l| !l.trim().is_empty()),
            log_files.is_empty(),
        ) {
            (_, false) => self.rule(
                "logs",
                t,
                Outcome::Fail,
                format!(
                    "writes log files in the image's file system: {}",
                    list(&log_files)
                ),
            ),
            (Some(l), true) => self.rule(
                "logs",
                t,
                Outcome::Pass,
                format!("logs to stdout/stderr, e.g. {l:?}"),
            ),
            (None, true) => self.rule(
                "logs",
                t,
                Outcome::Fail,
                "wrote nothing to stdout or stderr",
            ),
        }
        let roots = self.site.writable(task);
        let allowed = |p: &str| {
            roots
                .iter()
                .any(|r| p == *r || p.starts_with(&format!("{}/", r.trim_end_matches('/'))))
        };
        // Docker lists each changed file and its folders: only the deepest
        // paths (files, and folders where nothing under them changed) count.
        let outside: Vec<&String> = changes
            .iter()
            .filter(|p| !allowed(p))
            .filter(|p| !changes.iter().any(|c| c.starts_with(&format!("{p}/"))))
            .collect();
        if outside.is_empty() {
            self.rule(
                "read-only-root",
                t,
                Outcome::Pass,
                "wrote nothing outside its volumes and /tmp",
            );
        } else {
            let evidence = match self.target {
                Target::Docker => format!("writes outside its volumes, so it cannot run with a read-only root file system: {}", list(&outside)),
                Target::Host => format!("writes in its release folder, which a managed host keeps read-only: {}", list(&outside)),
            };
            self.rule("read-only-root", t, Outcome::Warn, evidence);
        }

        // Memory: read once, at the end of the run, from the peak the
        // kernel keeps (see `Engine::memory_peak`). No figure is a warning
        // that says so, never a pass.
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let declared = task.memory_mib;
        let (outcome, evidence) = if self.site.oom_killed(&name) {
            (
                Outcome::Fail,
                format!(
                    "killed for memory above {} MiB (declared {declared} MiB)",
                    measured.memory_mib
                ),
            )
        } else {
            match self.site.memory_peak(&name, task) {
                None => (
                    Outcome::Warn,
                    "not measured: the engine gave no memory figure for the container".to_string(),
                ),
                Some(m) if m.bytes > u64::from(declared) * 1024 * 1024 => (
                    Outcome::Fail,
                    format!(
                        "peak {:.1} MiB, above the declared {declared} MiB ({})",
                        mib(m.bytes),
                        m.source
                    ),
                ),
                Some(m) => (
                    Outcome::Pass,
                    format!(
                        "peak {:.1} MiB of the declared {declared} MiB ({})",
                        mib(m.bytes),
                        m.source
                    ),
                ),
            }
        };
        self.rule("memory", t, outcome, evidence);

        // SIGTERM.
        let limit = task.stop_timeout_s;
        let stopped = self.site.stop(&name, task, limit)?;
        let ok_code = matches!(stopped.exit_code, 0 | 143);
        let evidence = format!(
            "stopped {:.1} s after SIGTERM (stop_timeout_s {limit}), exit code {}",
            stopped.seconds, stopped.exit_code
        );
        if ok_code && stopped.seconds <= f64::from(limit) {
            self.rule("stop", t, Outcome::Pass, evidence);
        } else if stopped.exit_code == 137 {
            self.rule(
                "stop",
                t,
                Outcome::Fail,
                format!("{evidence}: killed, it ignored SIGTERM"),
            );
        } else {
            self.rule("stop", t, Outcome::Fail, evidence);
        }
        Ok(())
    }

    fn image_rules(
        &mut self,
        task: &PlannedTask,
        doc: &Document,
        env_name: &str,
    ) -> Result<(), Error> {
        let t = Some(task.name.as_str());
        let image = hsp_deploy::docker::image_ref(&task.image, None);
        let engine = self.site.engine();
        let facts = engine.image(&image)?;
        match facts.user.as_str() {
            "" | "root" | "0" | "0:0" => self.rule(
                "non-root",
                t,
                Outcome::Warn,
                format!(
                    "runs as root (image user {:?}): set USER in the image",
                    facts.user
                ),
            ),
            u => self.rule("non-root", t, Outcome::Pass, format!("runs as {u}")),
        }
        let declared: Vec<String> = {
            let mut v: Vec<String> = task
                .ports
                .iter()
                .map(|p| format!("{}/tcp", p.port))
                .collect();
            v.sort();
            v
        };
        if facts.exposed.is_empty() && !declared.is_empty() {
            self.rule(
                "exposed-ports",
                t,
                Outcome::Warn,
                format!(
                    "the image exposes no ports; the document declares {}",
                    declared.join(", ")
                ),
            );
        } else if facts.exposed == declared {
            self.rule(
                "exposed-ports",
                t,
                Outcome::Pass,
                format!(
                    "exposes {}",
                    if declared.is_empty() {
                        "nothing, as declared".into()
                    } else {
                        declared.join(", ")
                    }
                ),
            );
        } else {
            self.rule(
                "exposed-ports",
                t,
                Outcome::Fail,
                format!(
                    "the image exposes {} but the document declares {}",
                    or_none(&facts.exposed),
                    or_none(&declared)
                ),
            );
        }
        let reader = format!("hsp-{env_name}-files-{}", task.name);
        let found = engine.find_files(
            &image,
            &reader,
            &[
                "/licenses",
                "/LICENSE",
                "/LICENSE.txt",
                "/LICENSE.md",
                "/COPYING",
                "/usr/share/licenses",
            ],
        )?;
        match found {
            Some((path, files)) => self.rule("licences", t, Outcome::Pass, format!("{path}: {}", files.join(", "))),
            None => self.rule("licences", t, Outcome::Fail, "no licence files in the image: put them under /licenses (the licence of the service and of what it bundles)"),
        }
        let mut wrong = Vec::new();
        let mut absent = Vec::new();
        for (label, want) in [
            ("org.opencontainers.image.version", &doc.version),
            ("org.opencontainers.image.licenses", &doc.license),
        ] {
            match facts.labels.get(label) {
                Some(v) if v == want => {}
                Some(v) => wrong.push(format!("{label}={v:?}, the document says {want:?}")),
                None => absent.push(label),
            }
        }
        if !wrong.is_empty() {
            self.rule("labels", t, Outcome::Fail, wrong.join("; "));
        } else if !absent.is_empty() {
            self.rule(
                "labels",
                t,
                Outcome::Warn,
                format!("not labelled: {}", absent.join(", ")),
            );
        } else {
            self.rule(
                "labels",
                t,
                Outcome::Pass,
                "version and licence labels agree with the document",
            );
        }
        Ok(())
    }

    /// A task that did not start may say in its logs which variable it
    /// missed: an upper-case name next to "not set", "missing", "required"
    /// or "undefined" that the task does not declare.
    fn declared_env(&mut self, task: &PlannedTask, logs: &[String], healthy: bool) {
        let t = Some(task.name.as_str());
        let words = ["not set", "missing", "required", "undefined", "unset"];
        for line in logs {
            let lower = line.to_lowercase();
            if !words.iter().any(|w| lower.contains(w)) {
                continue;
            }
            let names = line
                .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .filter(|w| {
                    w.len() >= 3
                        && w.contains('_')
                        && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                });
            for n in names {
                if !task.env.contains_key(n) {
                    self.rule(
                        "declared-env",
                        t,
                        Outcome::Fail,
                        format!("needs {n}, which the document does not declare: {line:?}"),
                    );
                    return;
                }
            }
        }
        let evidence = match healthy {
            true => "started with only the declared environment",
            false => "its logs name no undeclared variable",
        };
        self.rule("declared-env", t, Outcome::Pass, evidence);
    }
}

/// The smoke test's expectations against an answer.
fn expect(smoke: &hsp_index::document::SmokeTest, code: u16, body: &str) -> (Outcome, String) {
    let status_ok = match smoke.status {
        Some(want) => code == want,
        None => (200..300).contains(&code),
    };
    if !status_ok {
        let want = smoke.status.map_or("2xx".to_string(), |s| s.to_string());
        return (Outcome::Fail, format!("answered {code}, expected {want}"));
    }
    match &smoke.body_contains {
        Some(text) if !body.contains(text.as_str()) => {
            let start: String = body.chars().take(120).collect();
            (
                Outcome::Fail,
                format!("answered {code} without {text:?} in its body (it begins {start:?})"),
            )
        }
        Some(text) => (
            Outcome::Pass,
            format!("answered {code} with {text:?} in its body"),
        ),
        None => (Outcome::Pass, format!("answered {code}")),
    }
}

/// `GET path` over HTTP/1.0: the status and at most 1 MiB of the body.
fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: hsp-validate\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.take(1 << 20).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((code, body))
}

fn list(paths: &[&String]) -> String {
    let mut shown: Vec<&str> = paths.iter().take(5).map(|s| s.as_str()).collect();
    if paths.len() > 5 {
        shown.push("...");
    }
    shown.join(", ")
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsp_index::plan::{SecretRef, Value};

    fn doc(example: Option<&str>) -> Document {
        let mut config = serde_json::json!([
            {"name": "DATABASE_URL", "required": true},
            {"name": "DB_PASSWORD", "required": true, "secret": true}
        ]);
        if let Some(e) = example {
            config[0]["example"] = serde_json::json!(e);
        }
        serde_json::from_value(serde_json::json!({
            "id": "org.hsp.test.validate", "version": "1.0.0", "name": "V", "summary": "s",
            "publisher": "hsp-test", "license": "MIT", "config": config,
            "tasks": [{"name": "app", "image": format!("127.0.0.1:5000/t@sha256:{}", "a".repeat(64)), "memory_mib": 64,
                       "env": {"DATABASE_URL": "${config.DATABASE_URL}",
                               "DB_PASSWORD": "${config.DB_PASSWORD}"}}]
        }))
        .unwrap()
    }

    fn options<'a>(doc: &'a Document, config: &[(&str, &str)]) -> Options<'a> {
        Options {
            document: doc,
            document_sha256: String::new(),
            documents: Vec::new(),
            interfaces: Vec::new(),
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            now: chrono::Utc::now(),
            agent: None,
        }
    }

    fn env(plan: &Plan) -> &BTreeMap<String, Value> {
        &plan.instances[0].tasks[0].env
    }

    #[test]
    fn required_config_takes_the_example_and_secrets_are_generated() {
        let state = tempfile::tempdir().unwrap();
        let doc = doc(Some("postgres://db/app"));
        let opts = options(&doc, &[]);
        let plan = plan(&opts, "v", Target::Docker, state.path()).unwrap();
        assert_eq!(env(&plan)["DATABASE_URL"], Value::text("postgres://db/app"));
        assert!(matches!(
            env(&plan)["DB_PASSWORD"].0[..],
            [Part::Secret(SecretRef::Generated { .. })]
        ));
    }

    #[test]
    fn a_given_secret_goes_through_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let state = tempfile::tempdir().unwrap();
        let doc = doc(None);
        let opts = options(
            &doc,
            &[
                ("DATABASE_URL", "postgres://x/y"),
                ("DB_PASSWORD", "s3cret"),
            ],
        );
        let plan = plan(&opts, "v", Target::Docker, state.path()).unwrap();
        assert_eq!(env(&plan)["DATABASE_URL"], Value::text("postgres://x/y"));
        let [Part::Secret(SecretRef::File { path })] = &env(&plan)["DB_PASSWORD"].0[..] else {
            panic!("{:?}", env(&plan)["DB_PASSWORD"]);
        };
        assert_eq!(std::fs::read_to_string(path).unwrap(), "s3cret");
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!serde_json::to_string(&plan).unwrap().contains("s3cret"));
    }

    #[test]
    fn without_an_example_planning_names_the_entry() {
        let state = tempfile::tempdir().unwrap();
        let doc = doc(None);
        let opts = options(&doc, &[]);
        let Err(Error::Plan { source, .. }) = plan(&opts, "v", Target::Docker, state.path()) else {
            panic!("planned without a value");
        };
        assert!(
            matches!(&*source, hsp_planner::PlanError::Config { name, .. } if name == "DATABASE_URL"),
            "{source}"
        );
    }
}
