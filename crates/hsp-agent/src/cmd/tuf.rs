//! `hsp-agent tuf`: the low-level TUF client, for debugging and interop. Its
//! flags follow the tuf-conformance client CLI: exit 0 on full success, 1 on
//! any failure; trusted metadata under non-versioned names in the metadata
//! dir; downloaded targets in the target dir named by their percent-encoded
//! target path.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hsp_tuf::client::{fetch, Updater};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  hsp-agent tuf --metadata-dir md init root.json
  hsp-agent tuf --metadata-dir md --metadata-url http://127.0.0.1:8000/metadata refresh
  hsp-agent tuf --metadata-dir md --metadata-url http://127.0.0.1:8000/metadata \\
      --target-name api/catalogue.json --target-base-url http://127.0.0.1:8000/targets \\
      --target-dir out download

URLs may also be file:// URLs or folders (an air-gapped mirror).")]
pub struct Args {
    /// Directory of the trusted metadata (root.json, timestamp.json, ...).
    #[arg(long, global = true)]
    metadata_dir: Option<PathBuf>,
    /// Base URL (or folder) of the repository's metadata.
    #[arg(long, global = true)]
    metadata_url: Option<String>,
    /// Target path to download (repeatable).
    #[arg(long = "target-name", global = true)]
    target_names: Vec<String>,
    /// Base URL (or folder) of the repository's targets.
    #[arg(long, global = true)]
    target_base_url: Option<String>,
    /// Directory to write verified targets into.
    #[arg(long, global = true)]
    target_dir: Option<PathBuf>,
    /// Print the requests made and bytes received to stderr, as JSON.
    #[arg(long, global = true)]
    stats: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Trust ROOT_FILE: write it as root.json in the metadata dir (no network).
    Init {
        /// A root.json obtained out of band.
        root_file: PathBuf,
    },
    /// Update root, timestamp, snapshot and targets by the TUF client workflow.
    Refresh,
    /// Refresh, then download and verify each --target-name into --target-dir
    /// (skipped when the file there already matches).
    Download,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args
        .metadata_dir
        .clone()
        .context("--metadata-dir is required")?;
    if let Action::Init { root_file } = &args.action {
        let root = std::fs::read(root_file)
            .with_context(|| format!("{}: cannot read", root_file.display()))?;
        Updater::init(&dir, root)
            .with_context(|| format!("{}: not a usable trusted root", root_file.display()))?;
        eprintln!("trusting {} in {}", root_file.display(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let url = args
        .metadata_url
        .as_deref()
        .context("--metadata-url is required")?;
    let mut updater = Updater::new(&dir, fetch::open(url)?);
    let target_dir = if let Action::Download = args.action {
        let base = args
            .target_base_url
            .as_deref()
            .context("--target-base-url is required for download")?;
        let target_dir = args
            .target_dir
            .clone()
            .context("--target-dir is required for download")?;
        updater = updater.with_targets(fetch::open(base)?, &target_dir);
        Some(target_dir)
    } else {
        None
    };
    let result = (|| -> anyhow::Result<()> {
        updater.refresh().context("refresh failed")?;
        if let Some(target_dir) = &target_dir {
            for name in &args.target_names {
                let fetched = updater
                    .download_target(name, target_dir)
                    .with_context(|| format!("target {name}"))?;
                eprintln!(
                    "{name}: {}",
                    if fetched {
                        "downloaded and verified"
                    } else {
                        "up to date"
                    }
                );
            }
        }
        Ok(())
    })();
    if args.stats {
        eprintln!("{}", serde_json::to_string(&updater.stats())?);
    }
    result?;
    Ok(ExitCode::SUCCESS)
}
