//! Key ceremonies: `hsp init` (a new registry repo, its keys and its first
//! root) and `hsp root` (root `N+1` written and signed in `REPO/keys/`).
//!
//! A new root `N+1` must be signed by the root threshold of root `N` and by its
//! own root threshold (clients verify both). [`rotate_root`] writes it, signed
//! by every root key it can read from the old and new key folders; when key
//! holders are elsewhere, each adds a signature with [`sign_root`]. `hsp build`
//! refuses a root chain with an under-signed root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hsp_index::registry::{Expiry, CONFIG_FILE, INTERFACES_DIR, KEYS_DIR, PUBLISHERS_DIR};
use hsp_index::RegistryConfig;
use hsp_keys::PrivateKey;
use hsp_tuf::{Key, KeyId, RoleName, Root, Signed, Signer};

use crate::{clock, keydir, trust};

/// The standard interfaces every new registry starts with.
const INTERFACES: &[(&str, &str)] = &[
    (
        "cds-hooks",
        include_str!("../../../examples/registry/interfaces/cds-hooks.json"),
    ),
    (
        "fhir",
        include_str!("../../../examples/registry/interfaces/fhir.json"),
    ),
    (
        "ldap",
        include_str!("../../../examples/registry/interfaces/ldap.json"),
    ),
    (
        "mysql",
        include_str!("../../../examples/registry/interfaces/mysql.json"),
    ),
    (
        "oidc",
        include_str!("../../../examples/registry/interfaces/oidc.json"),
    ),
    (
        "postgres",
        include_str!("../../../examples/registry/interfaces/postgres.json"),
    ),
    (
        "smart-on-fhir",
        include_str!("../../../examples/registry/interfaces/smart-on-fhir.json"),
    ),
    (
        "smtp",
        include_str!("../../../examples/registry/interfaces/smtp.json"),
    ),
];

/// A new registry repo: see [`init`].
pub struct InitOptions<'a> {
    /// Folder of the new registry repo (must not exist, or be empty).
    pub dir: &'a Path,
    /// Folder for the new private keys (created; must not hold keys already).
    pub keys: &'a Path,
    /// Registry short name (default: `dir`'s name, lowercased).
    pub name: Option<&'a str>,
    /// Title shown on the website (default: "<name> registry").
    pub title: Option<&'a str>,
    /// How many root keys to create, and how many must sign a new root.
    pub root_keys: u32,
    pub root_threshold: u32,
    /// The type of every new key.
    pub key_type: hsp_keys::KeyType,
    /// `--now` as given (see [`clock::now`]), read after the checks of the
    /// other options.
    pub now: Option<&'a str>,
}

fn empty_or_missing(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut e) => e.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn write_new_text(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Creates a registry repo in `opts.dir`: `registry.json`, the standard
/// interfaces, an empty `publishers/` and `keys/1.root.json` (root metadata
/// signed by every new root key); and new private keys in `opts.keys` (mode
/// 0600, folder 0700): `root.key` (or `root-1.key` ... `root-N.key`),
/// `targets.key`, `snapshot.key`, `timestamp.key`. The keys are made first:
/// if the key folder already holds keys, the repo is not touched.
pub fn init(opts: &InitOptions) -> anyhow::Result<()> {
    if opts.root_threshold == 0 || opts.root_threshold > opts.root_keys {
        bail!(
            "--root-threshold {} must be between 1 and --root-keys {}",
            opts.root_threshold,
            opts.root_keys
        );
    }
    if !empty_or_missing(opts.dir) {
        bail!(
            "{}: exists and is not empty (hint: choose a new folder)",
            opts.dir.display()
        );
    }
    let now = clock::now(opts.now)?;
    let name = match opts.name {
        Some(n) => n.to_string(),
        None => opts
            .dir
            .file_name()
            .context("DIR needs a name, or pass --name")?
            .to_string_lossy()
            .to_lowercase(),
    };
    let config = RegistryConfig {
        schema: None,
        title: opts
            .title
            .map(str::to_string)
            .unwrap_or_else(|| format!("{name} registry")),
        name,
        description: String::new(),
        url: None,
        expiry: Expiry::default(),
        policy: Default::default(),
        site: Default::default(),
        yanks: Vec::new(),
    };

    // Keys first: if KEYDIR already holds keys, stop before touching DIR.
    std::fs::create_dir_all(opts.keys)
        .with_context(|| format!("creating {}", opts.keys.display()))?;
    std::fs::set_permissions(opts.keys, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 700 {}", opts.keys.display()))?;
    let key_file = |stem: String| -> anyhow::Result<PrivateKey> {
        let key = PrivateKey::generate_of(opts.key_type);
        hsp_keys::write_private(&opts.keys.join(format!("{stem}.key")), &key)?;
        Ok(key)
    };
    let root_keys: Vec<PrivateKey> = if opts.root_keys == 1 {
        vec![key_file("root".into())?]
    } else {
        (1..=opts.root_keys)
            .map(|i| key_file(format!("root-{i}")))
            .collect::<anyhow::Result<_>>()?
    };
    let mut roles = vec![(
        RoleName::Root,
        root_keys.iter().map(|k| k.public().clone()).collect(),
        opts.root_threshold,
    )];
    for role in [RoleName::Targets, RoleName::Snapshot, RoleName::Timestamp] {
        let key = key_file(role.as_str().to_string())?;
        roles.push((role, vec![key.public().clone()], 1));
    }
    let root = trust::make_root(1, clock::plus_days(now, config.expiry.root_days), &roles);
    let signers: Vec<&dyn Signer> = root_keys.iter().map(|k| k as &dyn Signer).collect();
    let root = Signed::sign(root, &signers)?;

    for sub in [KEYS_DIR, INTERFACES_DIR, PUBLISHERS_DIR] {
        let d = opts.dir.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    write_new_text(
        &opts.dir.join(CONFIG_FILE),
        &(serde_json::to_string_pretty(&config)? + "\n"),
    )?;
    for (id, text) in INTERFACES {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        if let Some(o) = value.as_object_mut() {
            o.remove("$schema");
        }
        let path = opts.dir.join(INTERFACES_DIR).join(format!("{id}.json"));
        write_new_text(&path, &(serde_json::to_string_pretty(&value)? + "\n"))?;
    }
    write_new_text(&opts.dir.join(PUBLISHERS_DIR).join(".gitkeep"), "")?;
    let root_path = trust::root_path(opts.dir, 1);
    std::fs::write(&root_path, root.raw())
        .with_context(|| format!("writing {}", root_path.display()))?;
    Ok(())
}

/// A new root written to `REPO/keys/`, or one signed again: see
/// [`rotate_root`] and [`sign_root`].
pub struct NewRoot {
    pub path: PathBuf,
    pub root: Signed<Root>,
    /// The root before it (itself for root 1), whose threshold must sign too.
    pub previous: Root,
}

impl NewRoot {
    /// Whether the root is signed by both thresholds (`hsp build` publishes
    /// it), or which signatures are missing.
    pub fn verify(&self) -> Result<(), hsp_tuf::TufError> {
        hsp_tuf::verify_root(self.root.clone(), &self.previous).map(|_| ())
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

/// Writes root `N+1` of the repo `repo`: new keys for any role found in
/// `new_keys` (`<role>.key` or `<role>-N.key`, with `.pub` halves; without
/// it, only the expiry is renewed), root threshold `root_threshold` (default:
/// the current one, capped at the number of root keys), signed by the root
/// keys in `keys` (current) and `new_keys`.
pub fn rotate_root(
    repo: &Path,
    keys: &Path,
    new_keys: Option<&Path>,
    root_threshold: Option<u32>,
    now: DateTime<Utc>,
) -> anyhow::Result<NewRoot> {
    let chain = trust::read_root_chain(repo)?;
    let current = &chain.last().expect("chain").signed;
    let config_path = repo.join(CONFIG_FILE);
    let config: RegistryConfig = serde_json::from_slice(
        &std::fs::read(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )
    .with_context(|| format!("{}: invalid", config_path.display()))?;

    let mut roles = Vec::new();
    for role in RoleName::ALL {
        let (mut keys, mut threshold) = keys_of(current, role);
        if let Some(dir) = new_keys {
            let new = public_keys(dir, role.as_str())?;
            if !new.is_empty() {
                keys = new;
            }
        }
        if role == RoleName::Root {
            threshold = root_threshold.unwrap_or(threshold);
        }
        threshold = threshold.min(keys.len() as u32).max(1);
        if root_threshold.is_some_and(|t| t as usize > keys.len()) && role == RoleName::Root {
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
    let mut signers = root_signers(keys, current)?;
    if let Some(dir) = new_keys {
        signers.extend(root_signers(dir, &next)?);
    }
    if signers.is_empty() {
        bail!(
            "{}: holds none of root v{}'s keys (hint: --keys must be the folder with the current root key)",
            keys.display(),
            current.version
        );
    }
    let refs: Vec<&dyn Signer> = signers.iter().map(|k| k as &dyn Signer).collect();
    let signed = Signed::sign(next, &refs)?;
    let path = trust::root_path(repo, signed.signed.version);
    write_new(&path, signed.raw())?;
    Ok(NewRoot {
        path,
        root: signed,
        previous: current.clone(),
    })
}

/// Adds a signature by the root key in `key_file` (of the newest root or the
/// one before) to the newest root in `repo/keys/`: the root and the signer's
/// key id.
pub fn sign_root(repo: &Path, key_file: &Path) -> anyhow::Result<(NewRoot, KeyId)> {
    let key = hsp_keys::read_private(key_file)?;
    let mut latest = None;
    for n in 1.. {
        let p = trust::root_path(repo, n);
        if !p.is_file() {
            break;
        }
        latest = Some((n, p));
    }
    let Some((n, path)) = latest else {
        bail!(
            "{}: no keys/1.root.json (hint: `hsp init` creates it)",
            repo.display()
        );
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let signed = Signed::<Root>::from_bytes(bytes)
        .with_context(|| format!("{}: not root metadata", path.display()))?;
    let previous = if n > 1 {
        let chain_head = trust::root_path(repo, n - 1);
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
            key_file.display(),
            key.key_id(),
            n.saturating_sub(1).max(1),
            n
        );
    }
    let signed = signed.add_signature(&key)?;
    crate::publish::replace_file(&path, signed.raw(), true)?;
    Ok((
        NewRoot {
            path,
            root: signed,
            previous,
        },
        key.key_id().clone(),
    ))
}
