//! `hsp init DIR --keys KEYDIR`: a new registry repo and its key ceremony.
//!
//! Writes `DIR/registry.json`, the standard interfaces, an empty `publishers/`
//! and `DIR/keys/1.root.json` (root metadata signed by every new root key), and
//! new private keys in KEYDIR (mode 0600, folder 0700): `root.key` (or
//! `root-1.key` ... `root-N.key`), `targets.key`, `snapshot.key`, `timestamp.key`.
//! KEYDIR must stay out of the repo; keep the root keys offline.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_index::registry::{Expiry, INTERFACES_DIR, KEYS_DIR, PUBLISHERS_DIR};
use hsp_index::RegistryConfig;
use hsp_keys::PrivateKey;
use hsp_tuf::{RoleName, Signed, Signer};

use hsp_registry::clock;
use hsp_registry::trust;

/// The standard interfaces every new registry starts with.
const INTERFACES: &[(&str, &str)] = &[
    (
        "cds-hooks",
        include_str!("../../../../examples/registry/interfaces/cds-hooks.json"),
    ),
    (
        "fhir",
        include_str!("../../../../examples/registry/interfaces/fhir.json"),
    ),
    (
        "ldap",
        include_str!("../../../../examples/registry/interfaces/ldap.json"),
    ),
    (
        "mysql",
        include_str!("../../../../examples/registry/interfaces/mysql.json"),
    ),
    (
        "oidc",
        include_str!("../../../../examples/registry/interfaces/oidc.json"),
    ),
    (
        "postgres",
        include_str!("../../../../examples/registry/interfaces/postgres.json"),
    ),
    (
        "smart-on-fhir",
        include_str!("../../../../examples/registry/interfaces/smart-on-fhir.json"),
    ),
    (
        "smtp",
        include_str!("../../../../examples/registry/interfaces/smtp.json"),
    ),
];

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
    #[arg(long, help = clock::HELP)]
    now: Option<String>,
}

fn empty_or_missing(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut e) => e.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.root_threshold == 0 || args.root_threshold > args.root_keys {
        bail!(
            "--root-threshold {} must be between 1 and --root-keys {}",
            args.root_threshold,
            args.root_keys
        );
    }
    if !empty_or_missing(&args.dir) {
        bail!(
            "{}: exists and is not empty (hint: choose a new folder)",
            args.dir.display()
        );
    }
    let now = clock::now(args.now.as_deref())?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .dir
            .file_name()
            .context("DIR needs a name, or pass --name")?
            .to_string_lossy()
            .to_lowercase(),
    };
    let config = RegistryConfig {
        schema: None,
        title: args
            .title
            .clone()
            .unwrap_or_else(|| format!("{name} registry")),
        name,
        description: String::new(),
        url: None,
        expiry: Expiry::default(),
        policy: Default::default(),
        site: Default::default(),
    };

    // Keys first: if KEYDIR already holds keys, stop before touching DIR.
    std::fs::create_dir_all(&args.keys)
        .with_context(|| format!("creating {}", args.keys.display()))?;
    std::fs::set_permissions(&args.keys, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 700 {}", args.keys.display()))?;
    let key_file = |stem: String| -> anyhow::Result<PrivateKey> {
        let key = PrivateKey::generate();
        hsp_keys::write_private(&args.keys.join(format!("{stem}.key")), &key)?;
        Ok(key)
    };
    let root_keys: Vec<PrivateKey> = if args.root_keys == 1 {
        vec![key_file("root".into())?]
    } else {
        (1..=args.root_keys)
            .map(|i| key_file(format!("root-{i}")))
            .collect::<anyhow::Result<_>>()?
    };
    let mut roles = vec![(
        RoleName::Root,
        root_keys.iter().map(|k| k.public().clone()).collect(),
        args.root_threshold,
    )];
    for role in [RoleName::Targets, RoleName::Snapshot, RoleName::Timestamp] {
        let key = key_file(role.as_str().to_string())?;
        roles.push((role, vec![key.public().clone()], 1));
    }
    let root = trust::make_root(1, clock::plus_days(now, config.expiry.root_days), &roles);
    let signers: Vec<&dyn Signer> = root_keys.iter().map(|k| k as &dyn Signer).collect();
    let root = Signed::sign(root, &signers)?;

    for sub in [KEYS_DIR, INTERFACES_DIR, PUBLISHERS_DIR] {
        let d = args.dir.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    write_new(
        &args.dir.join(hsp_index::registry::CONFIG_FILE),
        &(serde_json::to_string_pretty(&config)? + "\n"),
    )?;
    for (id, text) in INTERFACES {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        if let Some(o) = value.as_object_mut() {
            o.remove("$schema");
        }
        let path = args.dir.join(INTERFACES_DIR).join(format!("{id}.json"));
        write_new(&path, &(serde_json::to_string_pretty(&value)? + "\n"))?;
    }
    write_new(&args.dir.join(PUBLISHERS_DIR).join(".gitkeep"), "")?;
    let root_path = trust::root_path(&args.dir, 1);
    std::fs::write(&root_path, root.raw())
        .with_context(|| format!("writing {}", root_path.display()))?;

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
