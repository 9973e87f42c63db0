//! [`Updater`]: the TUF client workflow over a [`Fetch`] source, persisting
//! trusted metadata in a [`MetadataStore`].
//!
//! [`Updater::refresh`] runs §5.1–§5.6.6 (root chain, timestamp, snapshot,
//! top-level targets); [`Updater::target_info`] walks delegations (§5.6.7)
//! and [`Updater::get_target`] / [`Updater::download_target`] verify target
//! files (§5.7). As the spec says (§5.3.8, §5.4.5, §5.5.7, §5.6.6), each role
//! is persisted as soon as it verified, even when a later step fails: a
//! refresh that verifies a new timestamp and then fails on the snapshot keeps
//! the new timestamp. What did not verify is never written; each file is
//! replaced atomically (write, fsync, rename).
//!
//! [`Updater::last_verified`] is the one way to read persisted metadata
//! without checking expiry, as a [`LastVerified`] (browsing only).

use std::path::{Path, PathBuf};

use crate::{TargetFile, Targets, Verified};
use chrono::{DateTime, Utc};

use super::checks::{check_hashes, check_length};
use super::error::UpdateError;
use super::fetch::{Fetch, Fetched, Stats};
use super::store::{encode_name, write_atomic, Changes, MetadataStore, SavedValidators};
use super::trusted::{TimestampUpdate, TrustedSet};

/// Caps against endless data and endless chains.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes of one root file.
    pub root: u64,
    /// Bytes of timestamp.json.
    pub timestamp: u64,
    /// Bytes of snapshot.json when the timestamp lists no length.
    pub snapshot: u64,
    /// Bytes of a targets role when the snapshot lists no length.
    pub targets: u64,
    /// Root versions fetched in one refresh.
    pub max_root_rotations: u64,
    /// Targets roles visited looking up one target.
    pub max_delegations: usize,
    /// Delegated targets roles kept in memory between lookups (the most
    /// recently used); the others are read back from the metadata directory
    /// (and verified again) when a lookup needs them.
    pub cached_roles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            root: 512 * 1024,
            timestamp: 16 * 1024,
            snapshot: 4 * 1024 * 1024,
            targets: 32 * 1024 * 1024,
            max_root_rotations: 256,
            max_delegations: 32,
            cached_roles: 4,
        }
    }
}

/// A TUF client for one repository.
pub struct Updater {
    store: MetadataStore,
    metadata: Box<dyn Fetch>,
    targets: Option<Box<dyn Fetch>>,
    cache: Option<PathBuf>,
    limits: Limits,
    now: Option<DateTime<Utc>>,
    trusted: Option<TrustedSet>,
    /// Delegated roles of the last lookups, most recent first.
    recent: Vec<String>,
}

impl Updater {
    /// An updater whose trusted metadata is in `metadata_dir` (which must hold
    /// a `root.json`) and whose repository metadata comes from `metadata`.
    pub fn new(metadata_dir: impl Into<PathBuf>, metadata: Box<dyn Fetch>) -> Updater {
        Updater {
            store: MetadataStore::new(metadata_dir),
            metadata,
            targets: None,
            cache: None,
            limits: Limits::default(),
            now: None,
            trusted: None,
            recent: Vec::new(),
        }
    }

    /// Where target files come from, and the folder that caches verified
    /// target files (named by their percent-encoded target path).
    pub fn with_targets(
        mut self,
        targets: Box<dyn Fetch>,
        cache_dir: impl Into<PathBuf>,
    ) -> Updater {
        self.targets = Some(targets);
        self.cache = Some(cache_dir.into());
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Updater {
        self.limits = limits;
        self
    }

    /// Verify as of `now` instead of the clock (tests, replaying a mirror).
    pub fn with_time(mut self, now: DateTime<Utc>) -> Updater {
        self.now = Some(now);
        self
    }

    /// Like [`Updater::with_time`], on an existing updater (`None`: the clock).
    pub fn set_time(&mut self, now: Option<DateTime<Utc>>) {
        self.now = now;
    }

    /// The metadata trusted by the last successful [`Updater::refresh`].
    pub fn trusted(&self) -> Option<&TrustedSet> {
        self.trusted.as_ref()
    }

    /// Requests and bytes fetched from the metadata and target sources.
    pub fn stats(&self) -> Stats {
        let m = self.metadata.stats();
        let t = self.targets.as_ref().map(|t| t.stats()).unwrap_or_default();
        Stats {
            requests: m.requests + t.requests,
            bytes: m.bytes + t.bytes,
        }
    }

    /// Writes `root` as the trusted root of a new metadata directory, after
    /// checking that it is a root signed by its own threshold (no network).
    pub fn init(metadata_dir: &Path, root: Vec<u8>) -> Result<(), UpdateError> {
        TrustedSet::new(root.clone(), Utc::now())?;
        let store = MetadataStore::new(metadata_dir);
        store.create_dir()?;
        write_atomic(&store.path("root"), &root)
    }

    /// Refreshes root, timestamp, snapshot and top-level targets (§5.1–§5.6).
    /// On error, the roles that verified before it are persisted.
    pub fn refresh(&mut self) -> Result<(), UpdateError> {
        let now = self.now.unwrap_or_else(Utc::now);
        // A previous refresh of this process is resumed (nothing re-verified
        // while nothing changed); otherwise start from the stored root.
        let mut set = match self.trusted.take() {
            Some(prev) => TrustedSet::resume(prev, now),
            None => {
                let root_path = self.store.path("root");
                let root = self
                    .store
                    .read("root")?
                    .ok_or_else(|| UpdateError::ReadFile {
                        path: root_path,
                        source: std::io::ErrorKind::NotFound.into(),
                    })?;
                TrustedSet::new(root, now)?
            }
        };
        let initial_root = set.root().signed.clone();

        // §5.3: the root chain, N+1 at a time. Each verified root is
        // persisted (§5.3.8) even when a later step fails, and so is the
        // removal of a timestamp and snapshot whose keys rotated (§5.3.11).
        let mut roots = Changes::default();
        let chain = self.root_chain(&mut set, &mut roots);
        let rotated = set.timestamp_or_snapshot_keys_rotated(&initial_root);
        if rotated {
            roots.delete("timestamp");
            roots.delete("snapshot");
        }
        self.store.commit(roots)?;
        chain?;
        set.check_final_root()?;
        let mut changes = Changes::default();

        // §5.4: timestamp; the trusted one (if still usable) is the rollback
        // reference and lets an unchanged timestamp be a 304.
        let mut local_ts = None;
        let resume = set.can_resume();
        if !rotated && resume {
            if set.resume_timestamp() {
                local_ts = set.timestamp().map(|t| crate::sha256_hex(t.raw()));
            }
        } else if !rotated {
            if let Some(bytes) = self.store.read("timestamp")? {
                // An expired local timestamp still loads as intermediate.
                let _ = set.update_timestamp(bytes.clone());
                if set.timestamp().is_some() {
                    local_ts = Some(crate::sha256_hex(&bytes));
                }
            }
        }
        let cond = self
            .store
            .validators()
            .filter(|v| Some(&v.sha256) == local_ts.as_ref());
        let cond = cond.as_ref().map(|v| &v.validators);
        let ts_url = self.metadata.location("timestamp.json");
        match self
            .metadata
            .fetch("timestamp.json", self.limits.timestamp, cond)?
        {
            Fetched::NotFound => return Err(UpdateError::NotFound { url: ts_url }),
            Fetched::NotModified if local_ts.is_some() => set.check_final_timestamp()?,
            Fetched::NotModified => {
                return Err(UpdateError::Status {
                    url: ts_url,
                    status: 304,
                })
            }
            Fetched::Body(bytes, validators) => {
                let sha256 = crate::sha256_hex(&bytes);
                match set.update_timestamp(bytes.clone())? {
                    TimestampUpdate::Updated => changes.write("timestamp", bytes),
                    TimestampUpdate::Unchanged => set.check_final_timestamp()?,
                }
                // Validators are saved with a new trusted timestamp, or when
                // none are saved for the trusted one yet (not on every poll:
                // an unchanged timestamp then changes no file).
                let kept = set.timestamp().map(|t| crate::sha256_hex(t.raw()));
                let saved = self.store.validators().map(|v| v.sha256);
                if !validators.is_empty()
                    && kept.as_deref() == Some(sha256.as_str())
                    && saved.as_deref() != Some(sha256.as_str())
                {
                    changes.set_validators(SavedValidators { sha256, validators });
                }
            }
        }

        // §5.4.5: the new timestamp is persisted now, whatever follows.
        self.store.commit(std::mem::take(&mut changes))?;

        // §5.5: snapshot; a stored one that is still final is used as is.
        let mut snapshot_final = false;
        if !rotated && resume {
            snapshot_final = set.resume_snapshot().unwrap_or(false);
        } else if !rotated {
            if let Some(bytes) = self.store.read("snapshot")? {
                snapshot_final = set.update_snapshot(bytes, true).is_ok();
            }
        }
        if !snapshot_final {
            let meta = set
                .timestamp()
                .and_then(|t| t.signed.snapshot_meta().cloned())
                .ok_or(UpdateError::NotRefreshed)?;
            let rel = if set.root().signed.consistent_snapshot {
                format!("{}.snapshot.json", meta.version)
            } else {
                "snapshot.json".to_string()
            };
            let limit = meta.length.unwrap_or(self.limits.snapshot);
            let bytes = self.fetch_required(&rel, limit)?;
            set.update_snapshot(bytes.clone(), false)?;
            // §5.5.7
            changes.write("snapshot", bytes);
            self.store.commit(changes)?;
        }

        // §5.6: top-level targets.
        self.load_targets(&mut set, "targets", "root")?;

        self.trusted = Some(set);
        Ok(())
    }

    /// Gives up refreshing and opens, read-only, the metadata earlier
    /// refreshes persisted: for browsing when the index expired or cannot be
    /// reached. Root, timestamp, snapshot and top-level targets are read from
    /// the metadata directory and verified by [`TrustedSet::last_verified`]
    /// (signatures, versions, lengths and hashes; not expiry); nothing is
    /// fetched for them. The result is a [`LastVerified`], which has no
    /// refresh and is not an `Updater`, so nothing that plans or deploys can
    /// take it by accident.
    pub fn last_verified(mut self) -> Result<LastVerified, UpdateError> {
        let now = self.now.unwrap_or_else(Utc::now);
        let stored = |store: &MetadataStore, role: &str| {
            store.read(role)?.ok_or_else(|| UpdateError::ReadFile {
                path: store.path(role),
                source: std::io::ErrorKind::NotFound.into(),
            })
        };
        let mut set = TrustedSet::last_verified(stored(&self.store, "root")?, now)?;
        set.update_timestamp(stored(&self.store, "timestamp")?)?;
        // Stored by us once it matched the timestamp it was listed in.
        set.update_snapshot(stored(&self.store, "snapshot")?, true)?;
        self.load_targets(&mut set, "targets", "root")?;
        self.trusted = Some(set);
        Ok(LastVerified { updater: self })
    }

    /// §5.3.2–5.3.9: fetches and verifies root N+1 until there is none (or
    /// the cap), collecting each verified root in `roots`.
    fn root_chain(&self, set: &mut TrustedSet, roots: &mut Changes) -> Result<(), UpdateError> {
        for _ in 0..self.limits.max_root_rotations {
            let next = set.root().signed.version + 1;
            match self
                .metadata
                .fetch(&format!("{next}.root.json"), self.limits.root, None)?
            {
                Fetched::Body(bytes, _) => {
                    set.update_root(bytes.clone())?;
                    roots.write("root", bytes);
                }
                Fetched::NotFound | Fetched::NotModified => break,
            }
        }
        Ok(())
    }

    /// Loads a targets role: the stored file when it still matches the
    /// snapshot, otherwise the repository's, persisted once verified (§5.6.6).
    fn load_targets(
        &self,
        set: &mut TrustedSet,
        role: &str,
        delegator: &str,
    ) -> Result<(), UpdateError> {
        if set.has_targets(role, delegator) || set.resume_targets(role, delegator) {
            return Ok(());
        }
        if let Some(bytes) = self.store.read(role)? {
            if set.update_targets(bytes, role, delegator).is_ok() {
                return Ok(());
            }
        }
        let meta = set.targets_meta(role)?.clone();
        let encoded = encode_name(role);
        let rel = if set.root().signed.consistent_snapshot {
            format!("{}.{encoded}.json", meta.version)
        } else {
            format!("{encoded}.json")
        };
        let bytes = self.fetch_required(&rel, meta.length.unwrap_or(self.limits.targets))?;
        set.update_targets(bytes.clone(), role, delegator)?;
        let mut changes = Changes::default();
        changes.write(role, bytes);
        self.store.commit(changes)
    }

    fn fetch_required(&self, rel: &str, limit: u64) -> Result<Vec<u8>, UpdateError> {
        match self.metadata.fetch(rel, limit, None)? {
            Fetched::Body(bytes, _) => Ok(bytes),
            _ => Err(UpdateError::NotFound {
                url: self.metadata.location(rel),
            }),
        }
    }

    /// The trusted length and hashes of `path` (§5.6.7): a pre-order
    /// depth-first search of the delegation tree, in delegation order,
    /// stopping at terminating delegations, visiting each role once and at
    /// most [`Limits::max_delegations`] roles. Refreshes first if needed.
    pub fn target_info(&mut self, path: &str) -> Result<TargetFile, UpdateError> {
        check_target_path(path)?;
        if self.trusted.is_none() {
            self.refresh()?;
        }
        let mut set = self.trusted.take().ok_or(UpdateError::NotRefreshed)?;
        let mut visited = Vec::new();
        let found = self.walk(&mut set, path, &mut visited);
        let result = match found {
            Ok(Some(info)) => Ok(info),
            Ok(None) => Err(UpdateError::UnknownTarget { path: path.into() }),
            Err(e) => Err(e),
        };
        // Keep the delegated roles of the last few lookups; the rest are on
        // disk (persisted as they verified).
        visited.retain(|r| r != "targets");
        let mut recent = visited;
        for r in std::mem::take(&mut self.recent) {
            if !recent.contains(&r) {
                recent.push(r);
            }
        }
        recent.truncate(self.limits.cached_roles);
        set.retain_delegated(|role| recent.iter().any(|r| r == role));
        self.recent = recent;
        self.trusted = Some(set);
        result
    }

    fn walk(
        &self,
        set: &mut TrustedSet,
        path: &str,
        visited: &mut Vec<String>,
    ) -> Result<Option<TargetFile>, UpdateError> {
        let mut to_visit = vec![("targets".to_string(), "root".to_string())];
        while let Some((role, delegator)) = to_visit.pop() {
            if visited.len() >= self.limits.max_delegations {
                break;
            }
            if visited.contains(&role) {
                continue;
            }
            let loaded = self.load_targets(set, &role, &delegator);
            visited.push(role.clone());
            loaded?;
            let targets = set.targets(&role).ok_or(UpdateError::NotRefreshed)?;
            if let Some(info) = targets.signed.targets.get(path) {
                return Ok(Some(info.clone()));
            }
            let mut children = Vec::new();
            for d in set.delegations_for(&role, path) {
                children.push((d.name.clone(), role.clone()));
                if d.terminating {
                    to_visit.clear();
                    break;
                }
            }
            children.reverse();
            to_visit.extend(children);
        }
        Ok(None)
    }

    /// The verified bytes of target `path`, from the cache when the cached
    /// file still matches, downloaded (and cached) otherwise.
    pub fn get_target(&mut self, path: &str) -> Result<Vec<u8>, UpdateError> {
        let info = self.target_info(path)?;
        let cache = self.cache.clone().ok_or(UpdateError::BadSource {
            what: "no target source configured".into(),
        })?;
        let file = cache.join(encode_name(path));
        if let Some(bytes) = read_if_matches(&file, path, &info) {
            return Ok(bytes);
        }
        let bytes = self.fetch_target(path, &info)?;
        std::fs::create_dir_all(&cache).map_err(|source| UpdateError::WriteFile {
            path: cache.clone(),
            source,
        })?;
        write_atomic(&file, &bytes)?;
        Ok(bytes)
    }

    /// Downloads target `path` into `dir` (named by its percent-encoded path,
    /// as python-tuf does) unless the file there already matches. Returns
    /// whether it was downloaded.
    pub fn download_target(&mut self, path: &str, dir: &Path) -> Result<bool, UpdateError> {
        let info = self.target_info(path)?;
        let file = dir.join(encode_name(path));
        if read_if_matches(&file, path, &info).is_some() {
            return Ok(false);
        }
        let bytes = self.fetch_target(path, &info)?;
        std::fs::create_dir_all(dir).map_err(|source| UpdateError::WriteFile {
            path: dir.to_path_buf(),
            source,
        })?;
        write_atomic(&file, &bytes)?;
        Ok(true)
    }

    /// Loads the targets role `role` that the trusted role `delegator`
    /// delegates to (the stored file while it matches the snapshot, else
    /// fetched and verified) and returns it: what a mirror walks the whole
    /// delegation tree with. Refreshes first if needed.
    pub fn load_role(
        &mut self,
        role: &str,
        delegator: &str,
    ) -> Result<&Verified<Targets>, UpdateError> {
        if self.trusted.is_none() {
            self.refresh()?;
        }
        let mut set = self.trusted.take().ok_or(UpdateError::NotRefreshed)?;
        let loaded = self.load_targets(&mut set, role, delegator);
        self.trusted = Some(set);
        loaded?;
        self.trusted
            .as_ref()
            .and_then(|s| s.targets(role))
            .ok_or(UpdateError::NotRefreshed)
    }

    /// Where target `path` is served, relative to the targets source: its
    /// segments percent-encoded, and with consistent snapshots the file name
    /// prefixed by its sha256 (`dir/<hash>.<name>`).
    pub fn target_location(&self, path: &str, info: &TargetFile) -> Result<String, UpdateError> {
        check_target_path(path)?;
        let set = self.trusted.as_ref().ok_or(UpdateError::NotRefreshed)?;
        let encoded: Vec<String> = path.split('/').map(encode_name).collect();
        Ok(if set.root().signed.consistent_snapshot {
            let hash = info
                .sha256()
                .or_else(|| info.hashes.values().next().map(String::as_str))
                .ok_or(UpdateError::NoHashes {
                    name: path.into(),
                    listed_by: "its targets role".into(),
                })?;
            let (dir, base) = encoded.split_at(encoded.len() - 1);
            let mut parts = dir.to_vec();
            parts.push(format!("{hash}.{}", base[0]));
            parts.join("/")
        } else {
            encoded.join("/")
        })
    }

    /// §5.7: downloads at most `length` bytes of target `path` and checks its
    /// length and hashes against `info` (which the caller took from trusted
    /// metadata).
    pub fn fetch_target(&self, path: &str, info: &TargetFile) -> Result<Vec<u8>, UpdateError> {
        let source = self.targets.as_ref().ok_or(UpdateError::BadSource {
            what: "no target source configured".into(),
        })?;
        let rel = self.target_location(path, info)?;
        let bytes = match source.fetch(&rel, info.length, None)? {
            Fetched::Body(b, _) => b,
            _ => {
                return Err(UpdateError::NotFound {
                    url: source.location(&rel),
                })
            }
        };
        verify_target(path, info, &bytes)?;
        Ok(bytes)
    }
}

/// The metadata earlier refreshes persisted, verified without checking
/// expiry ([`Updater::last_verified`]): target files can be read (verified
/// against it), nothing can be refreshed. For browsing only.
pub struct LastVerified {
    updater: Updater,
}

impl LastVerified {
    /// The top-level roles that are expired (name, expiry), root first.
    pub fn expired(&self) -> Vec<(String, String)> {
        self.updater
            .trusted()
            .map(TrustedSet::expired)
            .unwrap_or_default()
    }

    /// The verified bytes of target `path` (as [`Updater::get_target`]).
    pub fn get_target(&mut self, path: &str) -> Result<Vec<u8>, UpdateError> {
        self.updater.get_target(path)
    }
}

/// Length and every hash of a target file.
pub fn verify_target(path: &str, info: &TargetFile, bytes: &[u8]) -> Result<(), UpdateError> {
    let listed_by = "its targets role";
    if info.hashes.is_empty() {
        return Err(UpdateError::NoHashes {
            name: path.into(),
            listed_by: listed_by.into(),
        });
    }
    check_length(path, listed_by, bytes.len() as u64, info.length)?;
    check_hashes(path, listed_by, bytes, &info.hashes)
}

fn read_if_matches(file: &Path, path: &str, info: &TargetFile) -> Option<Vec<u8>> {
    let len = std::fs::metadata(file).ok()?.len();
    if len != info.length {
        return None;
    }
    let bytes = std::fs::read(file).ok()?;
    verify_target(path, info, &bytes).ok().map(|()| bytes)
}

/// Target paths are relative `/`-separated paths with no empty, `.` or `..`
/// segments.
fn check_target_path(path: &str) -> Result<(), UpdateError> {
    let bad = path.is_empty()
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(UpdateError::BadTargetPath { path: path.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_paths() {
        for (path, ok) in [
            ("api/catalogue.json", true),
            ("services/org.x/1.0.0.json", true),
            ("a", true),
            ("", false),
            ("/etc/passwd", false),
            ("a/../b", false),
            ("a//b", false),
            ("./a", false),
            ("a\\b", false),
        ] {
            assert_eq!(check_target_path(path).is_ok(), ok, "{path}");
        }
    }
}
