//! `hsp-agent apply ENV`: refresh the verified index, plan, and converge the
//! target (Docker or this host) to the plan once. Also `apply --plan plan.json`
//! to deploy a plan reviewed beforehand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_deploy::docker::DockerDriver;
use hsp_deploy::host::{HostDriver, HostMode};
use hsp_deploy::journal::Journal;
use hsp_deploy::rollout::describe;
use hsp_deploy::{self as driver, ApplyOptions, Driver, EnvDir, Report};
use hsp_index::environment::{TargetKind, UpdateWindow};
use hsp_index::Plan;
use hsp_planner::{self as planner, Deployed, IndexSource};

use super::search::IndexArgs;

#[derive(clap::Args)]
#[command(
    after_help = "Refreshes the verified index (see `hsp-agent init`), plans ENV keeping what is
deployed, then for each instance in start order: starts the new version, waits until it is
healthy, stops the old one. An unhealthy version is rolled back and marked bad. Instances
that left the environment are removed; their volumes are kept unless --purge.

Examples:
  hsp-agent apply clinic.json
  hsp-agent plan clinic.json --json > plan.json && hsp-agent apply --plan plan.json --target docker
  hsp-agent apply --plan plan.json --target host --root /srv/hsp"
)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
    /// Also delete the volumes (and generated secrets) of removed instances.
    #[arg(long)]
    pub purge: bool,
    /// Print the outcome of each instance as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where the plan comes from and where it goes; shared by `apply` and `run`.
#[derive(clap::Args)]
pub struct Source {
    /// Environment file (JSON; `hsp-agent schema` prints its schema).
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    pub env: Option<PathBuf>,
    /// Deploy this plan (as `hsp-agent plan --json` prints it) instead of planning ENV.
    #[arg(long, value_name = "PLAN.json", requires = "target")]
    pub plan: Option<PathBuf>,
    /// With --plan: where to deploy (an environment file names its own target).
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    /// Host target: folder for releases, volumes and logs (default `<state>/<env>/host`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Host target: systemd services where systemd is PID 1 (`auto`), or always
    /// supervised processes, or always systemd services.
    #[arg(long, value_enum, default_value_t = HostMode::Auto, env = "HSP_AGENT_HOST_MODE")]
    pub host_mode: HostMode,
    /// Docker target: a registry serving the same digests, e.g. `127.0.0.1:5000`.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub mirror: Option<String>,
    /// DEVELOPMENT ONLY: plan against a registry repo folder, UNVERIFIED.
    #[arg(long, value_name = "DIR", conflicts_with = "plan")]
    pub registry: Option<PathBuf>,
    #[command(flatten)]
    pub index: IndexArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetArg {
    Docker,
    Host,
}

/// Where to deploy, known without planning.
pub struct Target {
    pub environment: String,
    pub kind: TargetArg,
    pub root: Option<PathBuf>,
    pub host_mode: HostMode,
    pub mirror: Option<String>,
    pub window: Option<UpdateWindow>,
}

impl Source {
    /// The environment and its target, from the environment or plan file alone
    /// (no index access).
    pub fn target(&self) -> anyhow::Result<Target> {
        if let Some(path) = &self.plan {
            let plan = read_plan(path)?;
            let kind = self.target.context("--plan needs --target docker|host")?;
            return Ok(Target {
                environment: plan.environment,
                kind,
                root: self.root.clone(),
                host_mode: self.host_mode,
                mirror: self.mirror.clone(),
                window: None,
            });
        }
        let path = self
            .env
            .as_ref()
            .context("give an environment file or --plan")?;
        let env = planner::read_environment(path)?.env;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Target {
            kind: match env.target.kind {
                TargetKind::Docker => TargetArg::Docker,
                TargetKind::Host => TargetArg::Host,
            },
            root: self
                .root
                .clone()
                .or_else(|| env.target.root.as_ref().map(|r| base.join(r))),
            host_mode: self.host_mode,
            mirror: self.mirror.clone().or_else(|| env.target.mirror.clone()),
            window: env.policy.window.clone(),
            environment: env.name,
        })
    }

    /// The plan: `--plan`, or ENV planned against the freshly refreshed index,
    /// keeping what the journal says is deployed.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        if let Some(path) = &self.plan {
            return read_plan(path);
        }
        let path = self
            .env
            .as_ref()
            .context("give an environment file or --plan")?;
        let loaded = planner::read_environment(path)?;
        let env = &loaded.env;
        let deployed = journal_plan(&self.index.state, &env.name)?
            .as_ref()
            .map(Deployed::from)
            .unwrap_or_default()
            .with_bad_versions(journal_bad_versions(&self.index.state, &env.name)?);
        match &self.registry {
            Some(dir) => {
                tracing::warn!(
                    "--registry reads {} UNVERIFIED; for development only",
                    dir.display()
                );
                planner::plan(env, &planner::read_registry_dir(dir)?, &deployed)
            }
            None => {
                let catalog = self.index.open()?;
                planner::plan(env, &catalog as &dyn IndexSource, &deployed)
            }
        }
        .with_context(|| format!("planning {}", path.display()))
    }
}

/// Opens the driver for the target.
pub fn open_driver(target: &Target, state: &EnvDir) -> anyhow::Result<Box<dyn Driver>> {
    Ok(match target.kind {
        TargetArg::Docker => Box::new(DockerDriver::connect(
            &state.environment,
            target.mirror.clone(),
        )?),
        TargetArg::Host => {
            let exe = std::env::current_exe().context("locating the hsp-agent binary")?;
            Box::new(HostDriver::new(
                &state.environment,
                &state.path,
                target.root.clone(),
                exe,
                target.host_mode,
            )?)
        }
    })
}

/// What the journal says is deployed (the last healthy spec of each instance).
pub fn journal_plan(state: &Path, environment: &str) -> anyhow::Result<Option<Plan>> {
    if !hsp_planner::env::is_name(environment) {
        bail!("environment name {environment:?} must be [a-z][a-z0-9-]*");
    }
    let path = state.join(environment).join("journal.json");
    if !path.exists() {
        return Ok(None);
    }
    let journal =
        Journal::read(&path, environment).with_context(|| format!("reading {}", path.display()))?;
    let instances = journal
        .order
        .iter()
        .filter_map(|n| journal.instances.get(n)?.good.clone())
        .collect();
    Ok(Some(Plan {
        environment: environment.to_string(),
        instances,
        externals: vec![],
    }))
}

/// The versions the journal marked bad after rollbacks, per instance: the
/// planner leaves them out until a newer release appears.
pub fn journal_bad_versions(
    state: &Path,
    environment: &str,
) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let path = state.join(environment).join("journal.json");
    if !hsp_planner::env::is_name(environment) || !path.exists() {
        return Ok(Vec::new());
    }
    let journal =
        Journal::read(&path, environment).with_context(|| format!("reading {}", path.display()))?;
    Ok(journal
        .instances
        .into_iter()
        .map(|(n, r)| (n, r.bad_versions))
        .collect())
}

pub fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {e} (hint: pass a plan as `hsp-agent plan --json` prints it)",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`); JSON for collectors.
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,pubgrub=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Prints a report: one line per instance, or JSON.
pub fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        for (name, outcome) in &report.outcomes {
            println!("{name}: {}", describe(outcome));
        }
        if report.outcomes.is_empty() {
            println!("environment {}: nothing to deploy", report.environment);
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(false);
    let target = args.source.target()?;
    let plan = args.source.plan()?;
    if plan.environment != target.environment {
        bail!(
            "the plan is for environment {:?}, not {:?}",
            plan.environment,
            target.environment
        );
    }
    let state = EnvDir::open(&args.source.index.state, &target.environment)?;
    let mut driver = open_driver(&target, &state)?;
    let opts = ApplyOptions {
        purge: args.purge,
        ..ApplyOptions::default()
    };
    let report = driver::apply(driver.as_mut(), &plan, &state, &opts)
        .with_context(|| format!("applying environment {}", plan.environment))?;
    print_report(&report, args.json)?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
