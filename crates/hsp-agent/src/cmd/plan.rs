//! `hsp-agent plan ENV`: resolve an environment and print the plan and the
//! actions against what is deployed now. Changes nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hsp_deploy::journal::Journal;
use hsp_index::plan::ProviderRef;
use hsp_index::Plan;
use hsp_planner::{self as planner, Action, Deployed, IndexSource};

use super::search::IndexArgs;

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
    let loaded = planner::read_environment(&args.env)?;
    let env = &loaded.env;
    let now: Option<Plan> = match &args.deployed {
        Some(p) => Some(read_plan(p)?),
        None => journal_plan(&args.index.state, &env.name)?,
    };
    let deployed = now
        .as_ref()
        .map(Deployed::from)
        .unwrap_or_default()
        .with_bad_versions(super::apply::journal_bad_versions(
            &args.index.state,
            &env.name,
        )?);
    let plan = match &args.registry {
        Some(dir) => {
            eprintln!(
                "warning: --registry reads {} UNVERIFIED; for development only",
                dir.display()
            );
            let source = planner::read_registry_dir(dir)?;
            planner::plan(env, &source, &deployed)
        }
        None => {
            let catalog = args.index.open()?;
            planner::plan(env, &catalog as &dyn IndexSource, &deployed)
        }
    }
    .with_context(|| format!("planning {}", args.env.display()))?;
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
    let actions = planner::actions(now.as_ref(), &plan);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else if args.actions_json {
        println!("{}", serde_json::to_string_pretty(&actions)?);
    } else {
        print!("{}", describe(&plan, &actions));
    }
    Ok(ExitCode::SUCCESS)
}

fn read_plan(path: &Path) -> anyhow::Result<Plan> {
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

/// What the journal says is deployed (the last healthy spec of each instance), as a plan.
fn journal_plan(state: &Path, environment: &str) -> anyhow::Result<Option<Plan>> {
    let path = state.join(environment).join("journal.json");
    if !path.exists() {
        return Ok(None);
    }
    let journal =
        Journal::read(&path, environment).with_context(|| format!("reading {}", path.display()))?;
    let mut instances: Vec<_> = journal
        .order
        .iter()
        .filter_map(|n| journal.instances.get(n)?.good.clone())
        .collect();
    for (n, r) in &journal.instances {
        if !journal.order.contains(n) {
            instances.extend(r.good.clone());
        }
    }
    Ok(Some(Plan {
        environment: environment.to_string(),
        instances,
        externals: vec![],
    }))
}

/// The plan for people: instances in start order with why and bindings (secrets
/// hidden), externals, then actions.
fn describe(plan: &Plan, actions: &[Action]) -> String {
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
        }
    }
    let _ = writeln!(out, "\nactions against what is deployed now:");
    for a in actions {
        let _ = writeln!(out, "  {a}");
    }
    out
}
