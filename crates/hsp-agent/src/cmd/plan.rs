//! `hsp-agent plan ENV`: resolve an environment and print the plan and the
//! actions against what is deployed now. Changes nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hsp_index::plan::ProviderRef;
use hsp_index::Plan;
use hsp_planner::{self as planner, Action};

use super::search::IndexArgs;
use crate::context::{read_plan, Deployment, EnvContext};

#[derive(clap::Args)]
#[command(
    after_help = "Reads the verified index of the state directory (see `hsp-agent init`) and
what is deployed from <state>/<environment>/journal.json. Nothing is changed.

Examples:
  hsp-agent plan clinic.json --state /var/lib/hsp-agent
  hsp-agent plan clinic.json --json > plan.json     # the plan, for export/apply
  hsp-agent plan clinic.json --registry examples/registry   # development only"
)]
pub struct Args {
    /// Environment file (JSON; `hsp-agent schema` prints its schema).
    env: PathBuf,
    #[command(flatten)]
    index: IndexArgs,
    /// DEVELOPMENT ONLY: read the services of a registry repo folder directly,
    /// UNVERIFIED (no signatures checked). Sites use the verified index.
    #[arg(long, value_name = "DIR")]
    registry: Option<PathBuf>,
    /// Treat this plan (JSON, as `--json` prints) as what is deployed now,
    /// instead of the state directory's journal.
    #[arg(long, value_name = "PLAN.json")]
    deployed: Option<PathBuf>,
    /// Print the plan as JSON (the input of `export --plan` and the drivers).
    #[arg(long)]
    json: bool,
    /// Print the actions against what is deployed now as JSON.
    #[arg(long, conflicts_with = "json")]
    actions_json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ctx = EnvContext::load(&args.env, &args.index, args.registry.as_deref())?;
    let env = ctx.env();
    let deployment = deployment(&ctx, args.deployed.as_deref())?;
    if let Some(warning) = ctx.unverified_warning() {
        eprintln!("warning: {warning}");
    }
    let index = ctx.open_index()?;
    let plan = ctx.plan(&*index, &deployment)?;
    let yanked = ctx.yanked(&*index, &deployment, &plan)?;
    for scope in env.config.keys() {
        let used = plan
            .instances
            .iter()
            .any(|i| i.name == *scope || i.service == *scope);
        if !used {
            eprintln!(
                "warning: {}: config.{scope} matches no instance name or service id of the plan (instances: {})",
                args.env.display(),
                plan.instances.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let actions = planner::actions(deployment.now.as_ref(), &plan);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else if args.actions_json {
        println!("{}", serde_json::to_string_pretty(&actions)?);
    } else {
        print!("{}", describe(&plan, &actions, &yanked));
    }
    Ok(ExitCode::SUCCESS)
}

/// What is deployed now: the journal's snapshot, or `--deployed PLAN.json`
/// with the journal's bad-version marks.
pub(crate) fn deployment(ctx: &EnvContext, deployed: Option<&Path>) -> anyhow::Result<Deployment> {
    let now = deployed.map(read_plan).transpose()?;
    let mut deployment = ctx.snapshot()?;
    if now.is_some() {
        deployment.now = now;
    }
    Ok(deployment)
}

/// The plan for people: instances in start order with why and bindings (secrets
/// hidden), externals, then actions.
fn describe(plan: &Plan, actions: &[Action], yanked: &[planner::Yanked]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "environment {}: {} instances, {} externals",
        plan.environment,
        plan.instances.len(),
        plan.externals.len()
    );
    for i in &plan.instances {
        let _ = writeln!(out);
        let dedicated = i
            .dedicated_to
            .as_deref()
            .map(|c| format!(" (dedicated to {c})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {} {}  [{}]{dedicated}",
            i.name, i.service, i.version, i.license
        );
        let _ = writeln!(out, "  why: {}", i.reason);
        for y in yanked.iter().filter(|y| y.instance == i.name) {
            let _ = writeln!(out, "  yanked: {y}");
        }
        for (req, b) in &i.bindings {
            let provider = match &b.provider {
                ProviderRef::Instance(n) => n.clone(),
                ProviderRef::External(n) => format!("external {n}"),
            };
            let _ = writeln!(out, "  {req} -> {provider} ({} {})", b.interface, b.version);
            for (k, v) in &b.values {
                let _ = writeln!(out, "      {k} = {v}");
            }
        }
        for t in &i.tasks {
            let _ = writeln!(
                out,
                "  task {}: {} x{}..{}, {} MiB",
                t.name, t.image, t.instances.min, t.instances.max, t.memory_mib
            );
        }
    }
    if !plan.externals.is_empty() {
        let _ = writeln!(out, "\nexternals:");
        for e in &plan.externals {
            let values: Vec<String> = e.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "  {} ({} {}): {}",
                e.name,
                e.interface,
                e.version,
                values.join(", ")
            );
            for (consumer, own) in &e.per_consumer {
                let values: Vec<String> = own.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = writeln!(out, "    for {consumer}: {}", values.join(", "));
            }
        }
    }
    let _ = writeln!(out, "\nactions against what is deployed now:");
    for a in actions {
        let _ = writeln!(out, "  {a}");
    }
    out
}
