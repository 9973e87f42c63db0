//! `hsp-agent init`: set up a state directory trusting a root.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::catalog::StateDir;
use anyhow::Context;

#[derive(clap::Args)]
#[command(
    after_help = "The root file must come from the registry out of band (e.g. its website or a
signed release); everything else is verified against it. No network is used.

Example:
  hsp-agent init --state /var/lib/hsp-agent --root root.json --index https://index.example.org"
)]
pub struct Args {
    /// State directory to create (trusted metadata, target cache, index location).
    #[arg(long, env = "HSP_AGENT_STATE", default_value = "/var/lib/hsp-agent")]
    state: PathBuf,
    /// The registry's root.json to trust.
    #[arg(long)]
    root: PathBuf,
    /// Index location: https://, http://, file:// or a folder (holding metadata/ and targets/).
    #[arg(long)]
    index: Option<String>,
    /// Replace the trust anchor of an already initialized state directory.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = std::fs::read(&args.root)
        .with_context(|| format!("{}: cannot read", args.root.display()))?;
    let state = StateDir::new(&args.state);
    state
        .init(root, args.index.as_deref(), args.force)
        .with_context(|| format!("{}: not a usable trusted root", args.root.display()))?;
    eprintln!(
        "{}: trusting {}{}",
        args.state.display(),
        args.root.display(),
        args.index
            .map(|u| format!(", index {u}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
