//! `hsp timestamp`: re-signing `metadata/timestamp.json` of a built index (and
//! the snapshot too when it would expire before the new timestamp), so a
//! registry can run it on a schedule without rebuilding. The new snapshot is a
//! new versioned file; `timestamp.json` is replaced last, atomically.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hsp_index::registry::{Expiry, CONFIG_FILE};
use hsp_index::RegistryConfig;
use hsp_tuf::{self as tuf, RoleName, Root, Signed, Signer, Snapshot, Timestamp};

use crate::metadata::{self, METADATA_DIR};
use crate::{clock, keydir};

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "reading {} (hint: is OUT a folder `hsp build` wrote?)",
            path.display()
        )
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::publish::replace_file(path, bytes, true)
}

/// A built index being re-timestamped: [`Retimestamp::open`], then
/// [`Retimestamp::snapshot`], then [`Retimestamp::timestamp`].
pub struct Retimestamp {
    now: DateTime<Utc>,
    config: RegistryConfig,
    /// OUT's `metadata/`.
    meta: PathBuf,
    root: Root,
    /// `metadata/timestamp.json`.
    ts_path: PathBuf,
    /// The new timestamp's version.
    version: u64,
    snapshot: Signed<Snapshot>,
}

impl Retimestamp {
    /// Reads the index in `out` (a folder `hsp build` wrote): its root,
    /// timestamp and snapshot; the expiry settings from the registry repo
    /// `repo` (default: 1 day timestamp, 7 days snapshot).
    pub fn open(out: &Path, repo: Option<&Path>, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let expiry = match repo {
            Some(repo) => {
                let p = repo.join(CONFIG_FILE);
                serde_json::from_slice::<RegistryConfig>(&read(&p)?)
                    .with_context(|| format!("{}: invalid", p.display()))?
                    .expiry
            }
            None => Expiry::default(),
        };
        let config = RegistryConfig {
            expiry,
            ..serde_json::from_str(r#"{"name":"x","title":"x"}"#)?
        };
        let meta = out.join(METADATA_DIR);
        let root_path = meta.join("root.json");
        let root = Signed::<Root>::from_bytes(read(&root_path)?)
            .with_context(|| format!("{}: not root metadata", root_path.display()))?;
        let root = tuf::verify_root(root.clone(), &root.signed)
            .with_context(|| format!("{}: not signed by its root keys", root_path.display()))?;
        let ts_path = meta.join("timestamp.json");
        let old_ts = Signed::<Timestamp>::from_bytes(read(&ts_path)?)
            .with_context(|| format!("{}: not timestamp metadata", ts_path.display()))?;
        let snap_version = old_ts
            .signed
            .snapshot_meta()
            .with_context(|| format!("{}: lists no snapshot.json", ts_path.display()))?
            .version;
        let snap_path = meta.join(format!("{snap_version}.snapshot.json"));
        let snapshot = Signed::<Snapshot>::from_bytes(read(&snap_path)?)
            .with_context(|| format!("{}: not snapshot metadata", snap_path.display()))?;
        let version = (old_ts.signed.version + 1).max(clock::version_at(now));
        Ok(Retimestamp {
            now,
            config,
            meta,
            root: root.signed.clone(),
            ts_path,
            version,
            snapshot,
        })
    }

    /// Re-signs the snapshot with the snapshot key in `keys` when it expires
    /// before the new timestamp, as a new versioned file: its version, or
    /// `None` when it was still good.
    pub fn snapshot(&mut self, keys: &Path) -> anyhow::Result<Option<u64>> {
        let (now, expiry) = (self.now, &self.config.expiry);
        let ts_expires = clock::plus_days(now, expiry.timestamp_days);
        if self.snapshot.signed.expires > ts_expires {
            return Ok(None);
        }
        let keys = keydir::signers(keys, &self.root, RoleName::Snapshot)
            .context("the snapshot expires before the new timestamp and must be re-signed")?;
        let mut s = self.snapshot.signed.clone();
        s.version = (s.version + 1).max(clock::version_at(now));
        s.expires = clock::plus_days(now, expiry.snapshot_days);
        let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
        self.snapshot = Signed::sign(s, &signers)?;
        let path = self
            .meta
            .join(format!("{}.snapshot.json", self.snapshot.signed.version));
        if path.exists() {
            bail!(
                "{}: exists already (hint: use a later --now)",
                path.display()
            );
        }
        write_atomic(&path, self.snapshot.raw())?;
        Ok(Some(self.snapshot.signed.version))
    }

    /// Signs the new timestamp with the timestamp key in `keys` and replaces
    /// `timestamp.json` (atomically, flushed): its path and metadata.
    pub fn timestamp(self, keys: &Path) -> anyhow::Result<(PathBuf, Signed<Timestamp>)> {
        let keys = keydir::signers(keys, &self.root, RoleName::Timestamp)?;
        let timestamp =
            metadata::sign_timestamp(&keys, &self.config, self.version, self.now, &self.snapshot)?;
        write_atomic(&self.ts_path, timestamp.raw())?;
        std::fs::File::open(&self.meta)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("fsync {}", self.meta.display()))?;
        Ok((self.ts_path, timestamp))
    }
}
