//! `hsp root rotate` and `hsp root sign`: new root metadata in `REPO/keys/`.
//!
//! A new root `N+1` must be signed by the root threshold of root `N` and by its
//! own root threshold (clients verify both). `rotate` writes it, signed by every
//! root key it can read from `--keys` (old keys) and `--new-keys`; when key
//! holders are elsewhere, each adds a signature with `sign`. `hsp build` refuses
//! a root chain with an under-signed root.

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_registry::NewRoot;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write root N+1: new keys for any role found in --new-keys, a fresh expiry.
    Rotate(RotateArgs),
    /// Add a signature to the newest root in REPO/keys/.
    Sign(SignArgs),
}

#[derive(clap::Args)]
pub struct RotateArgs {
    /// The registry repo.
    repo: PathBuf,
    /// Folder with the current root key(s), which sign the new root.
    #[arg(long)]
    keys: PathBuf,
    /// Folder with new keys (`<role>.key` or `<role>-N.key`, with `.pub` halves):
    /// each role with keys there gets exactly those keys. Without it, only the
    /// expiry is renewed.
    #[arg(long)]
    new_keys: Option<PathBuf>,
    /// Root threshold of the new root (default: the current one, capped at the
    /// number of root keys).
    #[arg(long)]
    root_threshold: Option<u32>,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

#[derive(clap::Args)]
pub struct SignArgs {
    /// The registry repo.
    repo: PathBuf,
    /// A root private key of the previous or the new root.
    #[arg(long)]
    key: PathBuf,
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Rotate(a) => rotate(a),
        Command::Sign(a) => sign(a),
    }
}

fn rotate(args: RotateArgs) -> anyhow::Result<ExitCode> {
    let now = hsp_registry::now(args.now.as_deref())?;
    let new = hsp_registry::rotate_root(
        &args.repo,
        &args.keys,
        args.new_keys.as_deref(),
        args.root_threshold,
        now,
    )?;
    eprintln!(
        "wrote {} (root v{})",
        new.path.display(),
        new.root.signed.version
    );
    report(&new)
}

/// Says whether `new` is complete, or which signatures are missing.
fn report(new: &NewRoot) -> anyhow::Result<ExitCode> {
    match new.verify() {
        Ok(()) => {
            eprintln!(
                "root v{} is signed by both thresholds; `hsp build` will publish it",
                new.root.signed.version
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "root v{} needs more signatures: {e} (hint: each root key holder runs `hsp root sign REPO --key KEY`; builds fail until then)",
                new.root.signed.version
            );
            Ok(ExitCode::from(2))
        }
    }
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let (new, key_id) = hsp_registry::sign_root(&args.repo, &args.key)?;
    eprintln!("added a signature by {key_id} to {}", new.path.display());
    report(&new)
}
