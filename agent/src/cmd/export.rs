//! `hsp-agent export`: write an environment's plan as Kubernetes manifests, a
//! Helm chart or a Compose project.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_agent::export::{self, Format, Options, SystemSecrets};
use hsp_index::Plan;

#[derive(clap::Args)]
pub struct Args {
    /// Environment file to plan and export.
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    env: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// Output folder: created if missing; may be an earlier export, whose files are replaced.
    #[arg(long)]
    out: PathBuf,
    /// Export this plan (JSON, as `hsp-agent plan --json` prints it) instead of planning ENV.
    #[arg(long, value_name = "PLAN.json")]
    plan: Option<PathBuf>,
    /// Write secret values into the export (reads secret files, generates generated
    /// secrets); otherwise the export holds placeholders and lists what to fill.
    #[arg(long)]
    inline_secrets: bool,
    /// Pull every image from this registry (`host[:port]`), a mirror serving the same digests.
    #[arg(long, value_name = "HOST[:PORT]")]
    registry: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Kubernetes,
    Helm,
    Compose,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let plan = match (&args.plan, &args.env) {
        (Some(path), _) => read_plan(path)?,
        (None, Some(env)) => bail!(
            "{}: planning an environment file is not wired into export yet (hint: run `hsp-agent plan --json {} > plan.json` and pass --plan plan.json)",
            env.display(),
            env.display()
        ),
        (None, None) => unreachable!("clap requires ENV or --plan"),
    };
    let format = match args.format {
        FormatArg::Kubernetes => Format::Kubernetes,
        FormatArg::Helm => Format::Helm,
        FormatArg::Compose => Format::Compose,
    };
    let options = Options {
        inline_secrets: args.inline_secrets,
        registry: args.registry,
    };
    let exported = export::export(&plan, format, &options, &mut SystemSecrets)
        .with_context(|| format!("exporting environment {}", plan.environment))?;
    exported.write(&args.out)?;
    let secret_files = exported.files.values().filter(|f| f.secret).count();
    eprintln!(
        "exported environment {} to {} ({} files{}); see {}",
        plan.environment,
        args.out.display(),
        exported.files.len(),
        if secret_files > 0 {
            format!(", {secret_files} holding secret values, mode 0600")
        } else {
            String::new()
        },
        args.out.join("README.md").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {} (hint: the file must be a plan as `hsp-agent plan --json` prints it)",
            path.display(),
            e.line(),
            e.column(),
            e
        )
    })
}
