//! `hsp mirror SOURCE OUT`: a verified copy of an index's TUF repository.
//!
//! The mirror is a TUF client with its own trusted metadata
//! (`OUT/.hsp-mirror/metadata`, started from the root the operator gives on
//! the first run and kept between runs, so a later source can never roll the
//! mirror back). Each run refreshes it with the client workflow, then walks
//! the *whole* delegation tree (every role any trusted role delegates to,
//! not only those on one target's path), and copies what a client of the
//! mirror will ask for, under the names the source serves them:
//!
//! - every target of every role (`targets/<dir>/<sha256>.<name>` with
//!   consistent snapshots), at most its signed length, checked against its
//!   signed hashes before it is written;
//! - every targets role's metadata at the version the snapshot lists, the
//!   snapshot, every root from version 1 (those after the mirror's trusted
//!   root verified forward by the client, older ones by the next root's
//!   signatures) and `root.json`;
//! - `timestamp.json` last: it is the commit point, so a client reading the
//!   mirror during a run sees the old complete repository or the new one.
//!
//! A file already in OUT with the same bytes is not written again, so a re-run
//! of an unchanged source writes nothing. Files are written atomically.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hsp_tuf::client::fetch::{self, Fetch, Fetched};
use hsp_tuf::client::store::{encode_name, write_atomic};
use hsp_tuf::client::{Limits, TrustedSet, UpdateError, Updater};
use hsp_tuf::TargetFile;

/// The mirror's own state inside OUT.
pub const STATE_DIR: &str = ".hsp-mirror";

/// Most targets roles walked (a registry has one per publisher plus its API
/// bins).
const MAX_ROLES: usize = 100_000;

/// What a run found and did.
#[derive(Debug, Default, serde::Serialize)]
pub struct IndexReport {
    pub root_version: u64,
    pub snapshot_version: u64,
    pub roles: usize,
    pub targets: usize,
    /// Files written (changed or new) and already there.
    pub written: usize,
    pub unchanged: usize,
    pub bytes_written: u64,
    /// Each top-level role's and the earliest delegated role's expiry.
    pub expires: BTreeMap<String, DateTime<Utc>>,
}

impl IndexReport {
    /// The roles that expire before `deadline`, earliest first.
    pub fn expiring_before(&self, deadline: DateTime<Utc>) -> Vec<(&str, DateTime<Utc>)> {
        let mut v: Vec<(&str, DateTime<Utc>)> = self
            .expires
            .iter()
            .filter(|(_, e)| **e < deadline)
            .map(|(r, e)| (r.as_str(), *e))
            .collect();
        v.sort_by_key(|(_, e)| *e);
        v
    }
}

/// The verified index: what the copy of images and artifacts reads.
pub struct Mirrored {
    pub report: IndexReport,
    /// Every target path with its signed info.
    pub targets: BTreeMap<String, TargetFile>,
    /// Where OUT serves them (relative to `OUT/targets`).
    pub locations: BTreeMap<String, String>,
}

impl Mirrored {
    /// The verified bytes of target `path`, read back from OUT.
    pub fn read_target(&self, out: &Path, path: &str) -> Result<Vec<u8>, UpdateError> {
        let info = self.targets.get(path).ok_or(UpdateError::UnknownTarget {
            path: path.to_string(),
        })?;
        let file = out.join("targets").join(&self.locations[path]);
        let bytes = std::fs::read(&file).map_err(|source| UpdateError::ReadFile {
            path: file.clone(),
            source,
        })?;
        hsp_tuf::client::updater::verify_target(path, info, &bytes)?;
        Ok(bytes)
    }
}

/// Copies the index at `source` (a URL or folder holding `metadata/` and
/// `targets/`) into `out`, verified. `root`: the trusted root to start from on
/// a first run (later runs use the mirror's own trusted metadata and may omit
/// it). `now`: the time expiry is judged against.
pub fn mirror_index(
    source: &str,
    out: &Path,
    root: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<Mirrored, UpdateError> {
    let trusted_dir = out.join(STATE_DIR).join("metadata");
    if !trusted_dir.join("root.json").exists() {
        let root = root.ok_or_else(|| UpdateError::BadSource {
            what: format!(
                "{} has no trusted root yet: give the index's root with --root FILE (e.g. its metadata/1.root.json, obtained out of band)",
                out.display()
            ),
        })?;
        let bytes = std::fs::read(root).map_err(|source| UpdateError::ReadFile {
            path: root.to_path_buf(),
            source,
        })?;
        Updater::init(&trusted_dir, bytes)?;
    }
    let initial_root =
        std::fs::read(trusted_dir.join("root.json")).map_err(|source| UpdateError::ReadFile {
            path: trusted_dir.join("root.json"),
            source,
        })?;
    let metadata_url = fetch::join(source, "metadata");
    let limits = Limits {
        max_delegations: MAX_ROLES,
        ..Limits::default()
    };
    let mut updater = Updater::new(&trusted_dir, fetch::open(&metadata_url)?)
        .with_targets(
            fetch::open(&fetch::join(source, "targets"))?,
            out.join(STATE_DIR).join("cache"),
        )
        .with_limits(limits.clone())
        .with_time(now);
    updater.refresh()?;

    // Every role of the tree, breadth first, each once (a role delegated
    // twice is loaded as its first delegator's).
    let mut roles: Vec<String> = vec!["targets".into()];
    let mut seen: BTreeSet<String> = roles.iter().cloned().collect();
    let mut queue: VecDeque<(String, String)> = VecDeque::from([("targets".into(), "root".into())]);
    while let Some((role, delegator)) = queue.pop_front() {
        let delegated: Vec<String> = updater
            .load_role(&role, &delegator)?
            .signed
            .delegations
            .iter()
            .flat_map(|d| d.roles.iter().map(|r| r.name.clone()))
            .collect();
        for child in delegated {
            if seen.insert(child.clone()) {
                if seen.len() > MAX_ROLES {
                    return Err(UpdateError::BadSource {
                        what: format!("the index delegates to more than {MAX_ROLES} roles"),
                    });
                }
                roles.push(child.clone());
                queue.push_back((child, role.clone()));
            }
        }
    }

    let set = updater.trusted().ok_or(UpdateError::NotRefreshed)?;
    let consistent = set.root().signed.consistent_snapshot;
    let mut report = IndexReport {
        root_version: set.root().signed.version,
        snapshot_version: set.snapshot().map_or(0, |s| s.signed.version),
        roles: roles.len(),
        ..IndexReport::default()
    };
    report
        .expires
        .insert("root".into(), set.root().signed.expires);
    if let Some(t) = set.timestamp() {
        report.expires.insert("timestamp".into(), t.signed.expires);
    }
    if let Some(s) = set.snapshot() {
        report.expires.insert("snapshot".into(), s.signed.expires);
    }

    // Targets: every role's, each path once (the first role in walk order).
    let mut targets: BTreeMap<String, TargetFile> = BTreeMap::new();
    let mut role_files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut earliest: Option<(String, DateTime<Utc>)> = None;
    for role in &roles {
        let t = set.targets(role).ok_or(UpdateError::NotRefreshed)?;
        if role == "targets" {
            report.expires.insert("targets".into(), t.signed.expires);
        } else if earliest.as_ref().is_none_or(|(_, e)| t.signed.expires < *e) {
            earliest = Some((role.clone(), t.signed.expires));
        }
        for (path, info) in &t.signed.targets {
            targets.entry(path.clone()).or_insert_with(|| info.clone());
        }
        let meta = set.targets_meta(role)?;
        let name = if consistent {
            format!("{}.{}.json", meta.version, encode_name(role))
        } else {
            format!("{}.json", encode_name(role))
        };
        role_files.push((name, t.raw().to_vec()));
    }
    if let Some((role, e)) = earliest {
        report.expires.insert(format!("delegated role {role}"), e);
    }
    report.targets = targets.len();

    let mut writer = Writer {
        out: out.to_path_buf(),
        report: &mut report,
    };
    let mut locations = BTreeMap::new();
    for (path, info) in &targets {
        let rel = updater.target_location(path, info)?;
        let file = out.join("targets").join(&rel);
        let have = std::fs::read(&file).ok();
        let bytes = match have {
            Some(b) if hsp_tuf::client::updater::verify_target(path, info, &b).is_ok() => b,
            _ => updater.fetch_target(path, info)?,
        };
        writer.put(&Path::new("targets").join(&rel), &bytes)?;
        locations.insert(path.clone(), rel);
    }

    // Metadata: delegated roles, targets, snapshot, the roots, timestamp last.
    for (name, bytes) in role_files.iter().rev() {
        writer.put(&Path::new("metadata").join(name), bytes)?;
    }
    let snapshot = set.snapshot().ok_or(UpdateError::NotRefreshed)?;
    let name = if consistent {
        format!("{}.snapshot.json", snapshot.signed.version)
    } else {
        "snapshot.json".to_string()
    };
    writer.put(&Path::new("metadata").join(name), snapshot.raw())?;
    let metadata = fetch::open(&metadata_url)?;
    for (version, bytes) in root_chain(&*metadata, &limits, &initial_root, set, now)? {
        writer.put(
            &Path::new("metadata").join(format!("{version}.root.json")),
            &bytes,
        )?;
    }
    writer.put(&Path::new("metadata").join("root.json"), set.root().raw())?;
    let timestamp = set.timestamp().ok_or(UpdateError::NotRefreshed)?;
    writer.put(
        &Path::new("metadata").join("timestamp.json"),
        timestamp.raw(),
    )?;
    Ok(Mirrored {
        report,
        targets,
        locations,
    })
}

/// Every root from version 1 to the trusted one, each checked: those after
/// the mirror's starting root forward (each signed by its predecessor's
/// threshold and its own, as the client checks), and those before it
/// backward (the next root, already trusted, must be signed by a threshold
/// of the older root's keys).
fn root_chain(
    metadata: &dyn Fetch,
    limits: &Limits,
    initial: &[u8],
    set: &TrustedSet,
    now: DateTime<Utc>,
) -> Result<Vec<(u64, Vec<u8>)>, UpdateError> {
    let start = TrustedSet::new(initial.to_vec(), now)?;
    let first = start.root().signed.version;
    let last = set.root().signed.version;
    let fetch_root = |v: u64| -> Result<Vec<u8>, UpdateError> {
        let rel = format!("{v}.root.json");
        match metadata.fetch(&rel, limits.root, None)? {
            Fetched::Body(b, _) => Ok(b),
            _ => Err(UpdateError::NotFound {
                url: metadata.location(&rel),
            }),
        }
    };
    let mut chain: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    chain.insert(first, initial.to_vec());
    let mut forward = start;
    for v in first + 1..=last {
        let bytes = fetch_root(v)?;
        forward.update_root(bytes.clone())?;
        chain.insert(v, bytes);
    }
    if forward.root().raw() != set.root().raw() {
        return Err(UpdateError::BadSource {
            what: "the source's root chain changed during the run; run again".into(),
        });
    }
    for v in (1..first).rev() {
        let bytes = fetch_root(v)?;
        let mut older = TrustedSet::new(bytes.clone(), now)?;
        if older.root().signed.version != v {
            return Err(UpdateError::BadSource {
                what: format!(
                    "{v}.root.json says it is version {}",
                    older.root().signed.version
                ),
            });
        }
        older.update_root(chain[&(v + 1)].clone())?;
        chain.insert(v, bytes);
    }
    Ok(chain.into_iter().collect())
}

struct Writer<'a> {
    out: PathBuf,
    report: &'a mut IndexReport,
}

impl Writer<'_> {
    /// Writes `bytes` at `rel` under OUT unless the file has them already.
    fn put(&mut self, rel: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
        let path = self.out.join(rel);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            self.report.unchanged += 1;
            return Ok(());
        }
        let dir = path.parent().expect("a file under OUT");
        std::fs::create_dir_all(dir).map_err(|source| UpdateError::WriteFile {
            path: dir.to_path_buf(),
            source,
        })?;
        write_atomic(&path, bytes)?;
        self.report.written += 1;
        self.report.bytes_written += bytes.len() as u64;
        Ok(())
    }
}
