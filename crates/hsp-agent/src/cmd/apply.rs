//! `hsp-agent apply ENV`: refresh the verified index, plan, and converge the
//! target (Docker or this host) to the plan once. Also `apply --plan plan.json`
//! to deploy a plan reviewed beforehand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_deploy::docker::DockerDriver;
use hsp_deploy::host::{HostDriver, HostMode};
use hsp_deploy::rollout::describe;
use hsp_deploy::{self as driver, ApplyOptions, Driver, EnvDir, Report};
use hsp_index::artifact_mirror::ArtifactMirror;
use hsp_index::environment::{TargetKind, UpdateWindow};
use hsp_index::Plan;

use super::search::IndexArgs;
use crate::context::{read_plan, record_yanked, EnvContext, Locked};

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
    /// Host target: an artifact mirror (`<mirror>/sha256/<hex>`): a folder, a
    /// file:// URL or an http(s):// base URL.
    #[arg(long, value_name = "MIRROR")]
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

/// The environment or plan file, read once.
pub enum Input {
    /// An environment file, planned under the lock.
    Env(Box<EnvContext>),
    /// A plan reviewed beforehand (`--plan`), deployed as it is.
    Plan(Plan),
}

impl Source {
    /// Reads the environment or plan file (no index access) and works out
    /// where it goes.
    pub fn load(&self) -> anyhow::Result<(Target, Input)> {
        if let Some(path) = &self.plan {
            let plan = read_plan(path)?;
            let kind = self.target.context("--plan needs --target docker|host")?;
            let target = Target {
                environment: plan.environment.clone(),
                kind,
                root: self.root.clone(),
                host_mode: self.host_mode,
                mirror: self.mirror.clone(),
                window: None,
            };
            return Ok((target, Input::Plan(plan)));
        }
        let path = self
            .env
            .as_ref()
            .context("give an environment file or --plan")?;
        let ctx = EnvContext::load(path, &self.index, self.registry.as_deref())?;
        let env = ctx.env();
        let base = path.parent().unwrap_or(Path::new("."));
        let target = Target {
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
            environment: env.name.clone(),
        };
        Ok((target, Input::Env(Box::new(ctx))))
    }
}

impl Input {
    /// The plan to deploy: `--plan` as it is, or ENV planned against the
    /// freshly refreshed index, keeping what the journal read under `locked`
    /// says is deployed.
    pub fn plan(self, locked: &Locked) -> anyhow::Result<Planned> {
        let ctx = match self {
            Input::Plan(plan) => return Ok(Planned { plan, yanked: None }),
            Input::Env(ctx) => ctx,
        };
        if let Some(warning) = ctx.unverified_warning() {
            tracing::warn!("{warning}");
        }
        let index = ctx.open_index()?;
        let deployment = locked.deployment();
        let plan = ctx.plan(&*index, &deployment)?;
        let yanked = ctx.yanked(&*index, &deployment, &plan)?;
        for y in &yanked {
            tracing::warn!(instance = %y.instance, "{y}");
        }
        Ok(Planned {
            plan,
            yanked: Some(yanked),
        })
    }
}

/// A plan to deploy, and which of its releases are yanked (`None`: not known,
/// a `--plan` file).
pub struct Planned {
    pub plan: Plan,
    pub yanked: Option<Vec<hsp_planner::Yanked>>,
}

impl Planned {
    /// After an apply: records the yanked releases in the journal for `status`.
    pub fn record(&self, dir: &EnvDir) -> anyhow::Result<()> {
        match &self.yanked {
            Some(y) => record_yanked(dir, &self.plan, y),
            None => Ok(()),
        }
    }
}

/// Opens the driver for the target.
pub fn open_driver(target: &Target, dir: &EnvDir) -> anyhow::Result<Box<dyn Driver>> {
    Ok(match target.kind {
        TargetArg::Docker => Box::new(DockerDriver::connect(
            &dir.environment,
            target.mirror.clone(),
        )?),
        TargetArg::Host => {
            let exe = std::env::current_exe().context("locating the hsp-agent binary")?;
            // An environment file's mirror is already absolute; --mirror is
            // taken from the working directory.
            let mirror = target
                .mirror
                .as_deref()
                .map(|m| ArtifactMirror::parse(m, Path::new(".")))
                .transpose()
                .map_err(|problem| anyhow::anyhow!("--mirror: {problem} (hint: a host target's artifact mirror is a folder, a file:// URL or an http(s):// base URL)"))?;
            Box::new(
                HostDriver::new(
                    &dir.environment,
                    &dir.path,
                    target.root.clone(),
                    exe,
                    target.host_mode,
                )?
                .with_mirror(mirror),
            )
        }
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
    let (target, input) = args.source.load()?;
    let locked = Locked::open(&args.source.index.state, &target.environment)?;
    let planned = input.plan(&locked)?;
    let plan = &planned.plan;
    if plan.environment != target.environment {
        bail!(
            "the plan is for environment {:?}, not {:?}",
            plan.environment,
            target.environment
        );
    }
    let mut driver = open_driver(&target, &locked.dir)?;
    let opts = ApplyOptions {
        purge: args.purge,
        ..ApplyOptions::default()
    };
    let report = driver::apply(driver.as_mut(), plan, &locked.dir, &opts)
        .with_context(|| format!("applying environment {}", plan.environment))?;
    planned.record(&locked.dir)?;
    print_report(&report, args.json)?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
