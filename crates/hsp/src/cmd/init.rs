//! `hsp init DIR --keys KEYDIR`: a new registry repo and its key ceremony
//! (see `hsp_registry::init`).
//!
//! Writes `DIR/registry.json`, the standard interfaces, an empty `publishers/`
//! and `DIR/keys/1.root.json` (root metadata signed by every new root key), and
//! new private keys in KEYDIR (mode 0600, folder 0700): `root.key` (or
//! `root-1.key` ... `root-N.key`), `targets.key`, `snapshot.key`, `timestamp.key`.
//! KEYDIR must stay out of the repo; keep the root keys offline. Also writes
//! the repo's CI workflow (`.github/workflows/hsp.yml`, see
//! `hsp_registry::scaffold`).

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_index::registry::PUBLISHERS_DIR;
use hsp_registry::InitOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of the new registry repo (must not exist, or be empty).
    dir: PathBuf,
    /// Folder for the new private keys (created; must not hold keys already).
    #[arg(long)]
    keys: PathBuf,
    /// Registry short name, `[a-z][a-z0-9-]*` (default: DIR's name).
    #[arg(long)]
    name: Option<String>,
    /// Title shown on the website.
    #[arg(long)]
    title: Option<String>,
    /// How many root keys to create.
    #[arg(long, default_value_t = 1)]
    root_keys: u32,
    /// How many root keys must sign a new root (at most --root-keys).
    #[arg(long, default_value_t = 1)]
    root_threshold: u32,
    /// Type of every new key (root, targets, snapshot, timestamp).
    #[arg(long, value_enum, default_value = "ed25519")]
    key_type: super::keygen::Type,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    hsp_registry::init(&InitOptions {
        dir: &args.dir,
        keys: &args.keys,
        name: args.name.as_deref(),
        title: args.title.as_deref(),
        root_keys: args.root_keys,
        root_threshold: args.root_threshold,
        key_type: args.key_type.into(),
        now: args.now.as_deref(),
    })?;
    let workflow = hsp_registry::scaffold::write_workflow(&args.dir)?;
    eprintln!(
        "wrote {}: checks pull requests, publishes the main branch, re-signs the timestamp daily",
        workflow.display()
    );
    eprintln!(
        "created registry {} and keys in {} (root threshold {} of {})",
        args.dir.display(),
        args.keys.display(),
        args.root_threshold,
        args.root_keys
    );
    eprintln!(
        "keep {} out of the repo; move the root key(s) offline",
        args.keys.display()
    );
    eprintln!(
        "next: add publishers under {}/{PUBLISHERS_DIR}/, then `hsp build {} --keys {} --out OUT`",
        args.dir.display(),
        args.dir.display(),
        args.keys.display()
    );
    Ok(ExitCode::SUCCESS)
}
