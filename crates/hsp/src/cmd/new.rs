//! `hsp new SERVICE-ID --publisher NAME`: a new conformance document for an
//! ISV to fill in (see `hsp_registry::scaffold`): every value to supply is
//! marked `TODO`, which `hsp check` reports (E105) until it is replaced.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The service id, reverse DNS of a domain the publisher owns (e.g. com.acme.care).
    id: String,
    /// The publisher (its `publishers/NAME/publisher.json` must exist).
    #[arg(long)]
    publisher: String,
    /// The first version.
    #[arg(long, default_value = "0.1.0")]
    version: String,
    /// The registry repo (default: the one holding the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let repo = super::registry_root(args.repo.as_deref())?;
    let path =
        hsp_registry::scaffold::new_document(&repo, &args.id, &args.publisher, &args.version)?;
    println!("{}", path.display());
    eprintln!(
        "next: replace every TODO (`hsp check {}` lists them), `hsp pin` the image, then `hsp sign --key KEY {}`",
        path.display(),
        repo.join("publishers").join(&args.publisher).display()
    );
    Ok(ExitCode::SUCCESS)
}
