//! `hsp diff BASE [HEAD]`: what changed between two states of a registry
//! (see `hsp_registry::diff`), as text, JSON or Markdown for a pull-request
//! comment. Each side is a built index (folder or URL), a registry folder or
//! a git revision of the repo; HEAD defaults to the repo as it is on disk.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(clap::Args)]
pub struct Args {
    /// The state compared against: OUT, URL, registry folder or git revision.
    base: String,
    /// The new state (default: the registry repo on disk).
    head: Option<String>,
    /// The registry repo whose git revisions BASE and HEAD may name (default:
    /// the one holding the current folder).
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// For a URL side: the root its metadata is verified from (default: the
    /// repo's keys/1.root.json).
    #[arg(long, value_name = "FILE")]
    base_root: Option<PathBuf>,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = hsp_registry::now(args.now.as_deref())?;
    let repo = super::registry_root(args.repo.as_deref())?;
    let load = |arg: &str| {
        super::load_base(arg, &repo, args.base_root.as_deref(), now)
            .with_context(|| format!("reading {arg}"))
    };
    let base = load(&args.base)?;
    let head = match &args.head {
        Some(h) => load(h)?,
        None => load(&repo.to_string_lossy())?,
    };
    let diff = hsp_registry::diff::diff(&base, &head);
    let text = match args.format {
        Format::Text => hsp_registry::diff::text(&diff),
        Format::Markdown => hsp_registry::diff::markdown(&diff),
        Format::Json => serde_json::to_string_pretty(&diff)? + "\n",
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    Ok(ExitCode::SUCCESS)
}
