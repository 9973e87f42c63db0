//! `hsp root rotate` and `hsp root sign`: new root metadata in `REPO/keys/`.
//!
//! A new root `N+1` must be signed by the root threshold of root `N` and by its
//! own root threshold (clients verify both). `rotate` writes it, signed by every
//! root key it can read from `--keys` (old keys) and `--new-keys`; when key
//! holders are elsewhere, each adds a signature with `sign`. `hsp build` refuses
//! a root chain with an under-signed root.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_index::registry::CONFIG_FILE;
use hsp_index::RegistryConfig;
use hsp_keys::PrivateKey;
use hsp_tuf::{self as tuf, Key, RoleName, Root, Signed, Signer};

use hsp_registry::trust;
use hsp_registry::{clock, keydir};

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
    #[arg(long, help = clock::HELP)]
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

/// Public keys of `role` in `dir`: the `.pub` halves of `<role>*.key` files.
fn public_keys(dir: &Path, role: &str) -> anyhow::Result<Vec<Key>> {
    keydir::role_key_files(dir, role)?
        .iter()
        .map(|p| hsp_keys::read_public(&hsp_keys::public_path(p)).map_err(Into::into))
        .collect()
}

fn keys_of(root: &Root, role: RoleName) -> (Vec<Key>, u32) {
    let rk = root.role(role).expect("a verified root has every role");
    let keys = rk
        .keyids
        .iter()
        .filter_map(|id| root.keys.get(id).cloned())
        .collect();
    (keys, rk.threshold)
}

/// Root keys in `dir` that `root` lists for its root role.
fn root_signers(dir: &Path, root: &Root) -> anyhow::Result<Vec<PrivateKey>> {
    let ids = &root.role(RoleName::Root).expect("root role").keyids;
    Ok(keydir::read_role_keys(dir, "root")?
        .into_iter()
        .filter(|k| ids.contains(k.key_id()))
        .collect())
}

fn rotate(args: RotateArgs) -> anyhow::Result<ExitCode> {
    let now = clock::now(args.now.as_deref())?;
    let chain = trust::read_root_chain(&args.repo)?;
    let current = &chain.last().expect("chain").signed;
    let config_path = args.repo.join(CONFIG_FILE);
    let config: RegistryConfig = serde_json::from_slice(
        &std::fs::read(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )
    .with_context(|| format!("{}: invalid", config_path.display()))?;

    let mut roles = Vec::new();
    for role in RoleName::ALL {
        let (mut keys, mut threshold) = keys_of(current, role);
        if let Some(dir) = &args.new_keys {
            let new = public_keys(dir, role.as_str())?;
            if !new.is_empty() {
                keys = new;
            }
        }
        if role == RoleName::Root {
            threshold = args.root_threshold.unwrap_or(threshold);
        }
        threshold = threshold.min(keys.len() as u32).max(1);
        if args.root_threshold.is_some_and(|t| t as usize > keys.len()) && role == RoleName::Root {
            bail!(
                "--root-threshold is above the number of root keys ({})",
                keys.len()
            );
        }
        roles.push((role, keys, threshold));
    }
    let next = trust::make_root(
        current.version + 1,
        clock::plus_days(now, config.expiry.root_days),
        &roles,
    );
    let mut signers = root_signers(&args.keys, current)?;
    if let Some(dir) = &args.new_keys {
        signers.extend(root_signers(dir, &next)?);
    }
    if signers.is_empty() {
        bail!(
            "{}: holds none of root v{}'s keys (hint: --keys must be the folder with the current root key)",
            args.keys.display(),
            current.version
        );
    }
    let refs: Vec<&dyn Signer> = signers.iter().map(|k| k as &dyn Signer).collect();
    let signed = Signed::sign(next, &refs)?;
    let path = trust::root_path(&args.repo, signed.signed.version);
    write_new(&path, signed.raw())?;
    eprintln!("wrote {} (root v{})", path.display(), signed.signed.version);
    report(&signed, current)
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Says whether `new` is complete, or which signatures are missing.
fn report(new: &Signed<Root>, previous: &Root) -> anyhow::Result<ExitCode> {
    match tuf::verify_root(new.clone(), previous) {
        Ok(_) => {
            eprintln!(
                "root v{} is signed by both thresholds; `hsp build` will publish it",
                new.signed.version
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "root v{} needs more signatures: {e} (hint: each root key holder runs `hsp root sign REPO --key KEY`; builds fail until then)",
                new.signed.version
            );
            Ok(ExitCode::from(2))
        }
    }
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = hsp_keys::read_private(&args.key)?;
    let mut latest = None;
    for n in 1.. {
        let p = trust::root_path(&args.repo, n);
        if !p.is_file() {
            break;
        }
        latest = Some((n, p));
    }
    let Some((n, path)) = latest else {
        bail!(
            "{}: no keys/1.root.json (hint: `hsp init` creates it)",
            args.repo.display()
        );
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let signed = Signed::<Root>::from_bytes(bytes)
        .with_context(|| format!("{}: not root metadata", path.display()))?;
    let previous = if n > 1 {
        let chain_head = trust::root_path(&args.repo, n - 1);
        let b = std::fs::read(&chain_head)
            .with_context(|| format!("reading {}", chain_head.display()))?;
        Signed::<Root>::from_bytes(b)?.signed
    } else {
        signed.signed.clone()
    };
    let allowed = |r: &Root| {
        r.role(RoleName::Root)
            .is_some_and(|rk| rk.keyids.contains(key.key_id()))
    };
    if !allowed(&signed.signed) && !allowed(&previous) {
        bail!(
            "{}: key {} is not a root key of root v{} or v{}",
            args.key.display(),
            key.key_id(),
            n.saturating_sub(1).max(1),
            n
        );
    }
    let signed = signed.add_signature(&key)?;
    let tmp = path.with_extension("json.hsp-tmp");
    std::fs::write(&tmp, signed.raw()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "added a signature by {} to {}",
        key.key_id(),
        path.display()
    );
    report(&signed, &previous)
}
