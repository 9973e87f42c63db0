//! `hsp-agent export`: write an environment's plan as Kubernetes manifests, a
//! Helm chart or a Compose project.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hsp_export::{self as export, Format, Options, SystemSecrets};
use hsp_index::Plan;

use super::search::IndexArgs;
use crate::context::{read_plan, Deployment, EnvContext};

#[derive(clap::Args)]
#[command(
    after_help = "Plans ENV against the verified index of the state directory (as `hsp-agent plan`
does, keeping what is deployed), then writes the files. Secret values are not written
unless --inline-secrets is given: the export then holds placeholders, and README.md in
the output folder lists what to fill.

Examples:
  hsp-agent export clinic.json --format kubernetes --out k8s/
  hsp-agent export clinic.json --format helm --out charts/clinic --image-registry registry.local:5000
  hsp-agent export --plan plan.json --format compose --out clinic/ --inline-secrets"
)]
pub struct Args {
    /// Environment file to plan and export.
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    env: Option<PathBuf>,
    #[command(flatten)]
    index: IndexArgs,
    /// DEVELOPMENT ONLY: plan against a registry repo folder, UNVERIFIED (no
    /// signatures checked). Sites use the verified index.
    #[arg(long, value_name = "DIR", conflicts_with = "plan")]
    registry: Option<PathBuf>,
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
    /// Pull every image from this registry (`host[:port]`), a mirror serving the
    /// same digests (Helm: the default of value `imageRegistry`).
    #[arg(long, value_name = "HOST[:PORT]")]
    image_registry: Option<String>,
    /// Print what was written as JSON: files (and which hold secret values) and
    /// every secret with its placeholder, source and uses.
    #[arg(long)]
    json: bool,
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
        (None, Some(env)) => plan_environment(env, &args)?,
        (None, None) => unreachable!("clap requires ENV or --plan"),
    };
    let format = match args.format {
        FormatArg::Kubernetes => Format::Kubernetes,
        FormatArg::Helm => Format::Helm,
        FormatArg::Compose => Format::Compose,
    };
    let options = Options {
        inline_secrets: args.inline_secrets,
        registry: args.image_registry,
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
    if args.json {
        let files: Vec<_> = exported
            .files
            .iter()
            .map(|(path, f)| serde_json::json!({"path": path, "secret": f.secret}))
            .collect();
        let secrets: Vec<_> = exported
            .secrets
            .iter()
            .map(|s| {
                let used_by: Vec<_> = s
                    .used_by
                    .iter()
                    .map(|(unit, env)| serde_json::json!({"unit": unit, "env": env}))
                    .collect();
                serde_json::json!({
                    "key": s.key,
                    "placeholder": s.placeholder,
                    "reference": s.reference,
                    "used_by": used_by,
                })
            })
            .collect();
        let report = serde_json::json!({
            "environment": plan.environment,
            "out": args.out,
            "inline_secrets": args.inline_secrets,
            "files": files,
            "secrets": secrets,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Plans `env` the way `hsp-agent plan` does: against the verified index (or,
/// for development, a registry folder), preferring what is deployed now and
/// leaving out the versions this site marked bad.
fn plan_environment(path: &Path, args: &Args) -> anyhow::Result<Plan> {
    let ctx = EnvContext::load(path, &args.index, args.registry.as_deref())?;
    let deployment = deployment(&ctx)?;
    if let Some(warning) = ctx.unverified_warning() {
        eprintln!("warning: {warning}");
    }
    ctx.plan(&*ctx.open_index()?, &deployment)
}

/// What export plans from: the journal's snapshot, bad-version marks included.
pub(crate) fn deployment(ctx: &EnvContext) -> anyhow::Result<Deployment> {
    ctx.snapshot()
}
