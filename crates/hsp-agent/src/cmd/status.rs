//! `hsp-agent status ENV`: services, versions, health, last poll and last error.
//!
//! Reads the journal (without taking the lock, so it works while `run` is
//! running) and probes every unit once through the driver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hsp_deploy::docker::DockerDriver;
use hsp_deploy::host::{HostDriver, HostMode};
use hsp_deploy::journal::journal_path;
use hsp_deploy::{secrets, spec_hash, Driver, Probe};
use serde::Serialize;

use crate::context::{in_start_order, read_journal};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  hsp-agent status clinic
  hsp-agent status clinic.json --json")]
pub struct Args {
    /// Environment name, or its environment file.
    env: String,
    /// State directory.
    #[arg(long, env = "HSP_AGENT_STATE", default_value = "/var/lib/hsp-agent")]
    state: PathBuf,
    /// Host target: the folder given to `apply --root`, if any.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Status {
    environment: String,
    target: Option<String>,
    last_apply: Option<String>,
    last_poll: Option<String>,
    last_poll_ok: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    /// Why the units could not be observed (engine down, ...).
    observe_error: Option<String>,
    services: Vec<Service>,
    /// Instances removed without `--purge`: their volumes and generated
    /// secrets are kept until `apply --purge`.
    kept: Vec<KeptData>,
}

#[derive(Serialize)]
struct KeptData {
    instance: String,
    service: String,
    version: String,
    pruned: String,
}

#[derive(Serialize)]
struct Service {
    instance: String,
    service: String,
    version: String,
    health: String,
    units_healthy: u32,
    units_wanted: u32,
    rollout_in_progress: Option<String>,
    bad_versions: BTreeMap<String, String>,
    /// A rollout that failed through no fault of the release, tried again by
    /// the next apply (and by `run` after `next_retry`).
    retry: Option<RetryStatus>,
    /// The deployed release is yanked (as of the last apply or poll that
    /// planned against the index).
    yanked: Option<YankedStatus>,
    /// Each task's replicas: how many run, its min and max, and the
    /// scaler's last change.
    tasks: Vec<TaskStatus>,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct TaskStatus {
    task: String,
    replicas: u32,
    min: u32,
    max: u32,
    /// When the scaler last changed the count, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    scaled: Option<String>,
}

#[derive(Serialize)]
struct YankedStatus {
    version: String,
    reason: String,
    replacement: Option<String>,
    not_chosen: Option<String>,
    checked: String,
}

#[derive(Serialize)]
struct RetryStatus {
    version: String,
    attempts: u32,
    cause: String,
    failed: String,
    next_retry: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = if args.env.ends_with(".json") || Path::new(&args.env).is_file() {
        hsp_planner::read_environment(Path::new(&args.env))?
            .env
            .name
    } else {
        args.env.clone()
    };
    hsp_deploy::check_name("environment", &name)?;
    let Some(journal) = read_journal(&args.state, &name)? else {
        anyhow::bail!(
            "{}: no journal: environment {name} was never applied with this state dir (hint: --state, or run `hsp-agent apply`)",
            journal_path(&args.state, &name).display()
        );
    };
    let dir = args.state.join(&name);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let mut driver: Result<Box<dyn Driver>, String> = match journal.target.as_deref() {
        Some("docker") => DockerDriver::connect(&name, None)
            .map(|d| Box::new(d) as Box<dyn Driver>)
            .map_err(|e| format!("{e}")),
        Some(kind @ ("host" | "systemd")) => {
            let exe = std::env::current_exe()?;
            let mode = if kind == "systemd" {
                HostMode::Systemd
            } else {
                HostMode::Process
            };
            HostDriver::new(&name, &dir, args.root.clone(), exe, mode)
                .map(|d| Box::new(d) as Box<dyn Driver>)
                .map_err(|e| format!("{e}"))
        }
        other => Err(format!("unknown target {other:?}")),
    };
    let units = match &mut driver {
        Ok(d) => d.units().map_err(|e| format!("{e}")),
        Err(e) => Err(e.clone()),
    };
    let mut status = Status {
        environment: name.clone(),
        target: journal.target.clone(),
        last_apply: journal.last_apply.map(|t| t.to_rfc3339()),
        last_poll: journal.last_poll.map(|t| t.to_rfc3339()),
        last_poll_ok: journal.last_poll_ok.map(|t| t.to_rfc3339()),
        last_error: journal.last_error.clone(),
        last_error_at: journal.last_error_at.map(|t| t.to_rfc3339()),
        observe_error: units.as_ref().err().cloned(),
        services: Vec::new(),
        kept: journal
            .kept
            .iter()
            .map(|(n, k)| KeptData {
                instance: n.clone(),
                service: k.service.clone(),
                version: k.version.clone(),
                pruned: k.pruned.to_rfc3339(),
            })
            .collect(),
    };
    for (n, rec) in in_start_order(&journal) {
        let mut svc = Service {
            instance: n.clone(),
            service: rec.service().unwrap_or_default().to_string(),
            version: rec
                .good
                .as_ref()
                .map(|g| g.version.clone())
                .unwrap_or_else(|| "-".into()),
            health: rec.health.clone().unwrap_or_else(|| "unknown".into()),
            units_healthy: 0,
            units_wanted: 0,
            rollout_in_progress: rec.attempt.as_ref().map(|a| a.version.clone()),
            bad_versions: rec.bad_versions.clone(),
            retry: rec.retry.as_ref().map(|r| RetryStatus {
                version: r.version.clone(),
                attempts: r.attempts,
                cause: r.cause.clone(),
                failed: r.failed.to_rfc3339(),
                next_retry: r.next.to_rfc3339(),
            }),
            yanked: rec
                .yanked
                .as_ref()
                .filter(|y| rec.good.as_ref().is_some_and(|g| g.version == y.version))
                .map(|y| YankedStatus {
                    version: y.version.clone(),
                    reason: y.reason.clone(),
                    replacement: y.replacement.clone(),
                    not_chosen: y.not_chosen.clone(),
                    checked: y.checked.to_rfc3339(),
                }),
            tasks: Vec::new(),
            last_error: rec.last_error.clone(),
        };
        if let (Some(good), Ok(units), Ok(d)) = (&rec.good, &units, &mut driver) {
            let spec = spec_hash(good);
            let mut problems = Vec::new();
            for task in &good.tasks {
                let replicas = hsp_deploy::rollout::replicas(d.as_ref(), &journal, n, task);
                svc.units_wanted += replicas;
                svc.tasks.push(TaskStatus {
                    task: task.name.clone(),
                    replicas,
                    min: task.instances.min.max(1),
                    max: task.instances.max.max(task.instances.min.max(1)),
                    scaled: rec
                        .scale
                        .get(&task.name)
                        .filter(|s| !s.reason.is_empty())
                        .map(|s| format!("{} at {}", s.reason, s.at.to_rfc3339())),
                });
                let env = secrets::render_env(&dir, task).unwrap_or_default();
                for u in units
                    .iter()
                    .filter(|u| u.instance == *n && u.spec == spec && u.task == task.name)
                {
                    match d.probe(u, task, &env) {
                        Probe::Healthy => svc.units_healthy += 1,
                        Probe::Unhealthy(m) | Probe::Exited(m) => {
                            problems.push(format!("{}: {m}", u.name))
                        }
                    }
                }
            }
            svc.health = if svc.units_healthy >= svc.units_wanted {
                "healthy".into()
            } else if let Some(p) = problems.first() {
                format!("unhealthy: {p}")
            } else {
                "down".into()
            };
        }
        status.services.push(svc);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status));
    }
    let all_healthy = status.services.iter().all(|s| s.health == "healthy");
    Ok(if all_healthy && status.observe_error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn render(s: &Status) -> String {
    let mut out = format!(
        "environment {} ({})\nlast apply: {}\nlast poll:  {}{}\nlast error: {}\n",
        s.environment,
        s.target.as_deref().unwrap_or("?"),
        s.last_apply.as_deref().unwrap_or("never"),
        s.last_poll.as_deref().unwrap_or("never (apply only)"),
        match (&s.last_poll, &s.last_poll_ok) {
            (Some(p), Some(ok)) if p != ok => format!(" (last successful: {ok})"),
            (Some(_), None) => " (never successful)".to_string(),
            _ => String::new(),
        },
        match (&s.last_error, &s.last_error_at) {
            (Some(e), Some(at)) => format!("{e} (at {at})"),
            (Some(e), None) => e.clone(),
            (None, _) => "none".to_string(),
        },
    );
    if let Some(e) = &s.observe_error {
        out.push_str(&format!("cannot observe units: {e}\n"));
    }
    out.push_str(&format!(
        "\n{:<20} {:<28} {:<10} {:<6} {}\n",
        "INSTANCE", "SERVICE", "VERSION", "UNITS", "HEALTH"
    ));
    for v in &s.services {
        out.push_str(&format!(
            "{:<20} {:<28} {:<10} {:<6} {}\n",
            v.instance,
            v.service,
            v.version,
            format!("{}/{}", v.units_healthy, v.units_wanted),
            v.health
        ));
        for t in v.tasks.iter().filter(|t| t.max > t.min) {
            out.push_str(&format!(
                "{:<20} {}: {} replicas ({}..{}){}\n",
                "",
                t.task,
                t.replicas,
                t.min,
                t.max,
                t.scaled
                    .as_ref()
                    .map(|s| format!(", scaled: {s}"))
                    .unwrap_or_default()
            ));
        }
        for (bad, why) in &v.bad_versions {
            out.push_str(&format!(
                "{:<20} marked bad: {bad} ({why}); `hsp-agent retry ENV {}@{bad}` clears it\n",
                "", v.service
            ));
        }
        if let Some(y) = &v.yanked {
            let why = if y.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", y.reason)
            };
            let instead = match (&y.replacement, &y.not_chosen) {
                (Some(r), Some(n)) => format!("newest allowed replacement: {r} (not chosen: {n})"),
                (Some(r), None) => format!("newest allowed replacement: {r}"),
                (None, _) => "no allowed replacement".to_string(),
            };
            out.push_str(&format!(
                "{:<20} yanked: {}{why}; {instead} (index checked {})\n",
                "", y.version, y.checked
            ));
        }
        if let Some(r) = &v.retry {
            out.push_str(&format!(
                "{:<20} {} not deployed, attempt {} failed ({}); not marked bad: `run` tries again after {}, `apply` at once\n",
                "", r.version, r.attempts, r.cause, r.next_retry
            ));
        }
        if let Some(a) = &v.rollout_in_progress {
            out.push_str(&format!(
                "{:<20} rollout of {a} was interrupted; the next apply resumes it\n",
                ""
            ));
        }
    }
    if !s.kept.is_empty() {
        out.push_str("\nkept data of removed instances (`hsp-agent apply --purge` deletes it):\n");
        for k in &s.kept {
            out.push_str(&format!(
                "{:<20} {:<28} {:<10} removed {}\n",
                k.instance, k.service, k.version, k.pruned
            ));
        }
    }
    out
}
