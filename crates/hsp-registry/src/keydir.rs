//! A key folder (`--keys KEYDIR`): the registry's private keys, one file per key,
//! named by role: `root.key` (or `root-1.key`, `root-2.key`, ... for a root
//! threshold above one), `targets.key`, `snapshot.key`, `timestamp.key`, each
//! with its public half in `<file>.pub`. `hsp init` creates one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use hsp_keys::PrivateKey;
use hsp_tuf::{RoleName, Root};

/// Private key files of `role` in `dir`, sorted: `<role>.key`, `<role>-*.key`.
pub fn role_key_files(dir: &Path, role: &str) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading key folder {}", dir.display()))?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("reading key folder {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".key") else {
            continue;
        };
        if stem == role || stem.strip_prefix(role).is_some_and(|r| r.starts_with('-')) {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Every private key of `role` in `dir`.
pub fn read_role_keys(dir: &Path, role: &str) -> anyhow::Result<Vec<PrivateKey>> {
    role_key_files(dir, role)?
        .iter()
        .map(|p| hsp_keys::read_private(p).map_err(anyhow::Error::from))
        .collect()
}

/// The keys of `role` in `dir` that `root` lists for it; at least its threshold.
pub fn signers(dir: &Path, root: &Root, role: RoleName) -> anyhow::Result<Vec<PrivateKey>> {
    let Some(rk) = root.role(role) else {
        bail!("root v{} defines no {role} role", root.version);
    };
    let files = role_key_files(dir, role.as_str())?;
    let mut found = Vec::new();
    for path in &files {
        let key = hsp_keys::read_private(path)?;
        if rk.keyids.contains(key.key_id()) {
            found.push(key);
        }
    }
    if found.len() < rk.threshold as usize {
        bail!(
            "{}: has {} of the {} {role} key(s) root v{} needs (key ids {}); found {} file(s) \
             named {role}.key or {role}-N.key (hint: use the folder `hsp init` or `hsp root rotate` \
             wrote, or rotate keys with `hsp root rotate`)",
            dir.display(),
            found.len(),
            rk.threshold,
            root.version,
            rk.keyids.iter().map(|k| &k.as_str()[..12]).collect::<Vec<_>>().join(", "),
            files.len(),
        );
    }
    Ok(found)
}
