//! `hsp timestamp OUT --keys KEYDIR`: re-sign `metadata/timestamp.json` of a
//! built index (and the snapshot too when it would expire before the new
//! timestamp), so a registry can run it on a schedule without rebuilding
//! (see `hsp_registry::Retimestamp`).

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_registry::Retimestamp;

#[derive(clap::Args)]
pub struct Args {
    /// A folder `hsp build` wrote.
    out: PathBuf,
    /// Folder with the timestamp key (and the snapshot key, used when needed).
    #[arg(long)]
    keys: PathBuf,
    /// The registry repo, for its expiry settings (default: 1 day timestamp, 7 days snapshot).
    #[arg(long)]
    repo: Option<PathBuf>,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = hsp_registry::now(args.now.as_deref())?;
    let mut index = Retimestamp::open(&args.out, args.repo.as_deref(), now)?;
    if let Some(version) = index.snapshot(&args.keys)? {
        eprintln!("re-signed the snapshot as version {version}");
    }
    let (path, timestamp) = index.timestamp(&args.keys)?;
    eprintln!(
        "re-signed {} as version {}, expiring {}",
        path.display(),
        timestamp.signed.version,
        timestamp.signed.expires
    );
    Ok(ExitCode::SUCCESS)
}
