//! The registry's top-level trust: the root chain in `REPO/keys/N.root.json`
//! and the private keys of targets, snapshot and timestamp (from a key folder,
//! or development keys).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hsp_index::registry::KEYS_DIR;
use hsp_keys::PrivateKey;
use hsp_tuf::{self as tuf, Key, RoleKeys, RoleName, Root, Signed, SPEC_VERSION};

use crate::keydir;

/// Where `hsp build` gets its private keys.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A key folder (see [`crate::keydir`]); root metadata from `REPO/keys/`.
    Dir(PathBuf),
    /// Development keys derived from a fixed public seed, and a root made on the
    /// fly: anyone can forge such a build. Never for production.
    Dev,
}

/// Root chain and online signing keys.
pub struct TopKeys {
    /// `1.root.json` ..= `N.root.json`, each verified by the one before.
    pub roots: Vec<Signed<Root>>,
    pub targets: Vec<PrivateKey>,
    pub snapshot: Vec<PrivateKey>,
    pub timestamp: Vec<PrivateKey>,
}

/// A root whose roles each have `keys` and `threshold`.
pub fn make_root(
    version: u64,
    expires: DateTime<Utc>,
    roles: &[(RoleName, Vec<Key>, u32)],
) -> Root {
    let mut keys = BTreeMap::new();
    let mut role_map = BTreeMap::new();
    for (role, role_keys, threshold) in roles {
        let mut keyids = Vec::new();
        for k in role_keys {
            let id = tuf::key_id(k);
            keys.insert(id.clone(), k.clone());
            keyids.push(id);
        }
        keyids.sort();
        keyids.dedup();
        role_map.insert(
            role.as_str().to_string(),
            RoleKeys {
                keyids,
                threshold: *threshold,
            },
        );
    }
    Root {
        type_: "root".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires,
        consistent_snapshot: true,
        keys,
        roles: role_map,
    }
}

/// Path of root version `n` in a registry repo.
pub fn root_path(repo: &Path, n: u64) -> PathBuf {
    repo.join(KEYS_DIR).join(format!("{n}.root.json"))
}

/// Reads and verifies `REPO/keys/1.root.json`, `2.root.json`, ...: each root
/// must be signed by the thresholds of the one before and of itself.
pub fn read_root_chain(repo: &Path) -> anyhow::Result<Vec<Signed<Root>>> {
    let mut chain: Vec<Signed<Root>> = Vec::new();
    for n in 1.. {
        let path = root_path(repo, n);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && n > 1 => break,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "{}: cannot read the registry's first root (hint: `hsp init` creates it)",
                        path.display()
                    )
                })
            }
        };
        let signed = Signed::<Root>::from_bytes(bytes)
            .with_context(|| format!("{}: not root metadata", path.display()))?;
        if signed.signed.version != n {
            bail!(
                "{}: says version {}, expected {n} (hint: file names must match versions)",
                path.display(),
                signed.signed.version
            );
        }
        let trusted = chain
            .last()
            .map(|r| r.signed.clone())
            .unwrap_or_else(|| signed.signed.clone());
        let verified = tuf::verify_root(signed, &trusted).with_context(|| {
            format!(
                "{}: not signed by enough root keys (hint: collect signatures with `hsp root sign`)",
                path.display()
            )
        })?;
        chain.push(verified.into_inner());
    }
    Ok(chain)
}

/// Loads the root chain and online keys, checking the keys are the root's.
pub fn load(source: &KeySource, repo: &Path, now: DateTime<Utc>) -> anyhow::Result<TopKeys> {
    let KeySource::Dir(dir) = source else {
        return Ok(dev());
    };
    let roots = read_root_chain(repo)?;
    let root = &roots.last().expect("chain is never empty").signed;
    if root.expires <= now {
        bail!(
            "{}: root v{} expired at {} (hint: sign a new root with `hsp root rotate`)",
            root_path(repo, root.version).display(),
            root.version,
            root.expires
        );
    }
    Ok(TopKeys {
        targets: keydir::signers(dir, root, RoleName::Targets)?,
        snapshot: keydir::signers(dir, root, RoleName::Snapshot)?,
        timestamp: keydir::signers(dir, root, RoleName::Timestamp)?,
        roots,
    })
}

/// Expiry of the development root (see [`dev`]).
pub const DEV_ROOT_EXPIRES: &str = "2099-12-31T23:59:59Z";

/// Development keys (see [`PrivateKey::dev`]) and a root v1 made for them.
///
/// The dev root does not depend on the build time: it expires at
/// [`DEV_ROOT_EXPIRES`], so every dev build has the same `1.root.json`, a dev
/// index can be rebuilt in place, and an agent that trusts it follows.
pub fn dev() -> TopKeys {
    let key = |role: RoleName| PrivateKey::dev(role.as_str());
    let roles: Vec<(RoleName, Vec<Key>, u32)> = RoleName::ALL
        .iter()
        .map(|r| (*r, vec![key(*r).public().clone()], 1))
        .collect();
    let expires = DEV_ROOT_EXPIRES.parse().expect("a valid RFC 3339 time");
    let root = make_root(1, expires, &roles);
    let signed = Signed::sign(root, &[&key(RoleName::Root)]).expect("root encodes");
    TopKeys {
        roots: vec![signed],
        targets: vec![key(RoleName::Targets)],
        snapshot: vec![key(RoleName::Snapshot)],
        timestamp: vec![key(RoleName::Timestamp)],
    }
}
