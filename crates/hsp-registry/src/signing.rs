//! `hsp sign`: a publisher's delegated TUF targets metadata
//! (`PUBLISHER_DIR/<name>.json`) over every document in `PUBLISHER_DIR/services/`,
//! version bumped, expiry set. The bytes signed are the bytes of the files,
//! which `hsp build` serves verbatim.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hsp_index::registry::{CONFIG_FILE, PUBLISHER_FILE, SERVICES_DIR};
use hsp_index::{Publisher, RegistryConfig};
use hsp_tuf::{self as tuf, Signed, Signer, Targets};
use rayon::prelude::*;

use crate::{clock, publishers};

/// What [`sign_publisher`] signed and wrote.
pub struct SignedPublisher {
    /// The publisher's name (from `publisher.json`).
    pub name: String,
    pub documents: usize,
    pub version: u64,
    pub expires: DateTime<Utc>,
    /// The metadata file written.
    pub path: PathBuf,
    /// Signatures made, and how many `publisher.json` asks for.
    pub signatures: usize,
    pub threshold: u32,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: invalid (hint: `hsp check` explains)", path.display()))
}

/// `services/...` paths of every `.json` file under `dir/services`, sorted.
fn documents(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let root = dir.join(SERVICES_DIR);
    let mut paths = Vec::new();
    if root.is_dir() {
        for e in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let e = e.with_context(|| format!("reading {}", root.display()))?;
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json") {
                paths.push(e.into_path());
            }
        }
    }
    paths
        .into_par_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .expect("under dir")
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok((rel, bytes))
        })
        .collect()
}

/// Signs the documents of the publisher folder `dir` with the private keys
/// in `key_files` (each listed in its `publisher.json`), expiring in
/// `expires_days` (default: the registry's `expiry.publisher_days`, else
/// 365), and writes `dir/<name>.json` atomically. `now` is `--now` as given
/// (see [`clock::now`]), read after the keys.
pub fn sign_publisher(
    dir: &Path,
    key_files: &[PathBuf],
    expires_days: Option<u32>,
    now: Option<&str>,
) -> anyhow::Result<SignedPublisher> {
    let record_path = dir.join(PUBLISHER_FILE);
    let publisher: Publisher = read_json(&record_path)?;
    let listed: Vec<tuf::KeyId> = publisher.keys.iter().map(tuf::key_id).collect();
    let mut keys = Vec::new();
    for path in key_files {
        let key = hsp_keys::read_private(path)?;
        if !listed.contains(key.key_id()) {
            bail!(
                "{}: key {} is not listed in {} (hint: add the contents of {} to its \"keys\" by \
                 pull request first)",
                path.display(),
                key.key_id(),
                record_path.display(),
                hsp_keys::public_path(path).display()
            );
        }
        keys.push(key);
    }
    let now = clock::now(now)?;
    let days = match expires_days {
        Some(d) => d,
        None => {
            let config = dir
                .parent()
                .and_then(Path::parent)
                .map(|r| r.join(CONFIG_FILE));
            match config.filter(|c| c.is_file()) {
                Some(c) => read_json::<RegistryConfig>(&c)?.expiry.publisher_days,
                None => 365,
            }
        }
    };
    let out = dir.join(format!("{}.json", publisher.name));
    let previous = std::fs::read(&out)
        .ok()
        .and_then(|b| Signed::<Targets>::from_bytes(b).ok())
        .map_or(0, |s| s.signed.version);
    let docs = documents(dir)?;
    let targets = publishers::targets_over(
        docs.par_iter().map(|(p, b)| (p.as_str(), b.as_slice())),
        previous + 1,
        clock::plus_days(now, days),
    );
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
    let signed = Signed::sign(targets, &signers)?;
    crate::publish::replace_file(&out, signed.raw(), true)?;
    Ok(SignedPublisher {
        name: publisher.name,
        documents: docs.len(),
        version: previous + 1,
        expires: signed.signed.expires,
        path: out,
        signatures: keys.len(),
        threshold: publisher.threshold,
    })
}
