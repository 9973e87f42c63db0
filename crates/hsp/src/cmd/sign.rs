//! `hsp sign --key KEY PUBLISHER_DIR`: the publisher's delegated TUF targets
//! metadata (`PUBLISHER_DIR/<name>.json`) over every document in
//! `PUBLISHER_DIR/services/`, version bumped, expiry set (see
//! `hsp_registry::sign_publisher`).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The publisher's folder in the registry repo (holds publisher.json).
    publisher_dir: PathBuf,
    /// Private key file (repeat for a threshold above one). Its public half must
    /// be listed in publisher.json.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// Days until the metadata expires (default: the registry's
    /// expiry.publisher_days, else 365).
    #[arg(long)]
    expires_days: Option<u32>,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let s = hsp_registry::sign_publisher(
        &args.publisher_dir,
        &args.keys,
        args.expires_days,
        args.now.as_deref(),
    )?;
    eprintln!(
        "signed {} document(s) of publisher {} as version {}, expiring {}: {}",
        s.documents,
        s.name,
        s.version,
        s.expires,
        s.path.display()
    );
    if (s.signatures as u32) < s.threshold {
        eprintln!(
            "warning: {} signature(s) but publisher.json asks for {}: `hsp build` will refuse it \
             (hint: pass --key once per key holder's key)",
            s.signatures, s.threshold
        );
    }
    Ok(ExitCode::SUCCESS)
}
