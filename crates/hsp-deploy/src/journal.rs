//! The agent's crash-safe record of an environment: `<state>/<env>/journal.json`,
//! in the environment's directory [`EnvDir`].
//!
//! It holds, per instance, the last version that was healthy (its full planned
//! spec, so a rollback needs neither the index nor the planner), the rollout in
//! progress, and the versions marked bad. It is written with
//! write-temp, fsync, rename, fsync-dir, so after a crash it is either the old or
//! the new file, never a torn one. What actually runs is always re-observed
//! through the drivers' labels, so a crash between a side effect and the next
//! save only means the next apply finds a unit it did not record, and adopts or
//! removes it.
//!
//! **Invariant:** the journal is written only through an [`EnvDir`], which holds
//! the environment's lock from its construction until it is dropped; commands
//! that change nothing read a snapshot without it ([`Journal::snapshot`]).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hsp_index::plan::PlannedInstance;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{check_name, Error};

const JOURNAL: &str = "journal.json";

/// `<state>/<env>/`, locked: journal, generated secrets, host releases. Having
/// one means holding the environment's lock (an exclusive `flock` of
/// `<state>/<env>/lock`), released when it is dropped.
#[derive(Debug)]
pub struct EnvDir {
    pub path: PathBuf,
    pub environment: String,
    _lock: Flock<File>,
}

impl EnvDir {
    /// Opens (creating, mode 0700) and locks the state dir of `environment`.
    pub fn open(state: &Path, environment: &str) -> Result<EnvDir, Error> {
        check_name("environment", environment)?;
        let path = state.join(environment);
        create_private_dir(&path)?;
        let lock_path = path.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io(&lock_path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| Error::Locked {
                path: lock_path.clone(),
            })?;
        let path = fs::canonicalize(&path).map_err(Error::io(&path))?;
        Ok(EnvDir {
            path,
            environment: environment.to_string(),
            _lock: lock,
        })
    }

    pub fn journal_path(&self) -> PathBuf {
        self.path.join(JOURNAL)
    }

    pub fn load(&self) -> Result<Journal, Error> {
        Journal::read(&self.journal_path(), &self.environment)
    }

    pub fn save(&self, journal: &Journal) -> Result<(), Error> {
        write_atomic(
            &self.journal_path(),
            &serde_json::to_vec_pretty(journal).expect("journal serializes"),
        )
    }
}

/// `<state>/<env>/journal.json`.
pub fn journal_path(state: &Path, environment: &str) -> PathBuf {
    state.join(environment).join(JOURNAL)
}

/// Creates `path` and its parents; the last component gets mode 0700.
pub fn create_private_dir(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(Error::io(path))
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new
/// content: temp file in the same dir, fsync, rename, fsync the dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_mode(path, bytes, 0o600)
}

/// [`write_atomic`] with the file mode `mode` (a unit file is 0644).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let written = (|| {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(mode)
            .open(&tmp)
            .map_err(Error::io(&tmp))?;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(Error::io(&tmp))?;
        f.write_all(bytes).map_err(Error::io(&tmp))?;
        f.sync_all().map_err(Error::io(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(Error::io(path))
    })();
    if written.is_err() {
        // Nothing is left behind: the old content stays, the temp goes.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))?;
    Ok(())
}

/// What the agent knows about an environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub environment: String,
    /// `docker` or `host`: the target of the last apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Instance names in the order of the last applied plan (providers first);
    /// pruning stops in reverse.
    #[serde(default)]
    pub order: Vec<String>,
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_apply: Option<DateTime<Utc>>,
    /// Last time the daemon tried to refresh the index, and whether it worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_ok: Option<DateTime<Utc>>,
    /// The last error of an apply or poll, cleared by a clean apply; set
    /// with [`Journal::set_error`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When `last_error` happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    /// Instances pruned without `--purge` whose volumes and generated secrets
    /// are kept: a later `apply --purge` deletes them, an instance of that name
    /// coming back reuses them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kept: BTreeMap<String, Kept>,
}

/// The data an instance left behind when it was pruned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub service: String,
    pub version: String,
    pub pruned: DateTime<Utc>,
}

/// What the agent knows about one instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The last spec that was healthy: what a rollback returns to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good: Option<PlannedInstance>,
    /// A rollout in progress, saved before its first unit starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Attempt>,
    /// Versions that failed their health check, or whose artifact was
    /// refused -> why; the planner leaves them out until `hsp-agent retry`
    /// clears the mark (a newer release is planned instead).
    #[serde(default)]
    pub bad_versions: BTreeMap<String, String>,
    /// The service this instance runs, recorded with each attempt: an instance
    /// whose first install failed has no `good` spec to say it, and the
    /// planner needs it to keep its bad versions out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The last rollout that failed for a reason outside the release (a host
    /// port in use, a download or image pull, the disk, the engine): nothing
    /// is marked bad and the next apply tries again; `run` waits until `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// The planned release is yanked (as of the last apply that planned
    /// against the index): kept because it is deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<YankedRelease>,
    /// Health at the end of the last apply: `healthy`, `unhealthy: ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Tasks the agent scaled away from `instances.min` on load ([`crate::scale`]),
    /// by task name: every rollout runs this many replicas (within the
    /// spec's min and max).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scale: BTreeMap<String, Scaled>,
}

/// A task's replica count as the scaler last set it, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaled {
    pub replicas: u32,
    pub at: DateTime<Utc>,
    /// `cpu 95% of 0.25 cpus per replica (target 80%): 1 -> 2`.
    pub reason: String,
    /// Since when the load has asked for fewer replicas (scale-down waits
    /// for it to last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_since: Option<DateTime<Utc>>,
}

/// A deployed release that is yanked, and what could replace it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct YankedRelease {
    pub version: String,
    /// Why it was yanked; empty when the index gives no reason.
    pub reason: String,
    /// The newest other release the environment's policy allows, if any.
    pub replacement: Option<String>,
    /// Why the plan does not move to `replacement`.
    pub not_chosen: Option<String>,
    /// When the index said so.
    pub checked: DateTime<Utc>,
}

/// A rollout that failed through no fault of the release, to be tried again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    pub version: String,
    /// Failed attempts in a row at this version.
    pub attempts: u32,
    /// Why the last one failed, e.g. "port 8080 on 127.0.0.1 is in use by another process".
    pub cause: String,
    pub failed: DateTime<Utc>,
    /// Before this, `run` does not try again (`apply` always does).
    pub next: DateTime<Utc>,
}

impl InstanceRecord {
    /// The service of the instance: its good spec's, or the one recorded with
    /// its attempts.
    pub fn service(&self) -> Option<&str> {
        self.good
            .as_ref()
            .map(|g| g.service.as_str())
            .or(self.service.as_deref())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub version: String,
    pub spec: String,
    pub started: DateTime<Utc>,
}

impl Journal {
    /// Records the last error (now), or clears it.
    pub fn set_error(&mut self, error: Option<String>) {
        self.last_error_at = error.as_ref().map(|_| Utc::now());
        self.last_error = error;
    }

    /// Reads the journal; a missing file is an empty journal.
    pub fn read(path: &Path, environment: &str) -> Result<Journal, Error> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| Error::JournalFormat {
                path: path.to_path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal {
                environment: environment.to_string(),
                ..Journal::default()
            }),
            Err(e) => Err(Error::Io {
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// The journal of `environment` under `state`, read without taking the
    /// lock (for commands that change nothing, while `run` may be working);
    /// `None` when the environment was never applied with this state dir.
    pub fn snapshot(state: &Path, environment: &str) -> Result<Option<Journal>, Error> {
        check_name("environment", environment)?;
        let path = journal_path(state, environment);
        if !path.exists() {
            return Ok(None);
        }
        Journal::read(&path, environment).map(Some)
    }

    pub fn record(&mut self, instance: &str) -> &mut InstanceRecord {
        self.instances.entry(instance.to_string()).or_default()
    }

    /// Removes the bad-version mark of `service` `version` (lenient: `1.2` is
    /// `1.2.0`) from every instance of that service; returns what was cleared:
    /// (instance, version as marked, why it was marked).
    pub fn clear_bad(&mut self, service: &str, version: &str) -> Vec<(String, String, String)> {
        let wanted = hsp_index::version::parse_version(version).ok();
        let same = |v: &str| match (&wanted, hsp_index::version::parse_version(v)) {
            (Some(w), Ok(v)) => *w == v,
            _ => v == version,
        };
        let mut cleared = Vec::new();
        for (name, rec) in &mut self.instances {
            if rec.service() != Some(service) {
                continue;
            }
            let marked: Vec<String> = rec
                .bad_versions
                .keys()
                .filter(|v| same(v))
                .cloned()
                .collect();
            for v in marked {
                let why = rec.bad_versions.remove(&v).unwrap_or_default();
                cleared.push((name.clone(), v, why));
            }
        }
        cleared
    }

    /// Every bad-version mark: (instance, service, version, why).
    pub fn bad_marks(&self) -> Vec<(&str, &str, &str, &str)> {
        self.instances
            .iter()
            .flat_map(|(n, r)| {
                r.bad_versions.iter().map(move |(v, why)| {
                    (
                        n.as_str(),
                        r.service().unwrap_or("?"),
                        v.as_str(),
                        why.as_str(),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.json");
        for content in [&b"one"[..], b"two two", b""] {
            write_atomic(&p, content).unwrap();
            assert_eq!(fs::read(&p).unwrap(), content);
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("journal.json")]);
    }

    #[test]
    fn a_failed_atomic_write_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty folder where the file should go: the rename fails.
        let p = dir.path().join("journal.json");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("keep"), "x").unwrap();
        assert!(write_atomic(&p, b"new").is_err());
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec![std::ffi::OsString::from("journal.json")]);
        assert_eq!(fs::read(p.join("keep")).unwrap(), b"x");
    }

    #[test]
    fn env_dir_is_locked_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = EnvDir::open(dir.path(), "prod").unwrap();
        assert!(matches!(
            EnvDir::open(dir.path(), "prod"),
            Err(Error::Locked { .. })
        ));
        let mut j = s.load().unwrap();
        assert_eq!(j.environment, "prod");
        j.record("db")
            .bad_versions
            .insert("2.0.0".into(), "unhealthy".into());
        s.save(&j).unwrap();
        assert_eq!(s.load().unwrap(), j);
        drop(s);
        EnvDir::open(dir.path(), "prod").unwrap();
    }

    #[test]
    fn snapshot_reads_without_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Journal::snapshot(dir.path(), "prod").unwrap(), None);
        let s = EnvDir::open(dir.path(), "prod").unwrap();
        assert_eq!(Journal::snapshot(dir.path(), "prod").unwrap(), None);
        let mut j = s.load().unwrap();
        j.record("db").health = Some("healthy".into());
        s.save(&j).unwrap();
        assert_eq!(Journal::snapshot(dir.path(), "prod").unwrap(), Some(j));
        let canonical = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(journal_path(&canonical, "prod"), s.journal_path());
        assert!(matches!(
            Journal::snapshot(dir.path(), "../prod"),
            Err(Error::BadName { .. })
        ));
    }

    #[test]
    fn clearing_a_bad_mark_names_what_it_cleared() {
        let mut j = Journal::default();
        let rec = j.record("web");
        rec.service = Some("org.example.web".into());
        rec.bad_versions
            .insert("1.2".into(), "unhealthy: exit 3".into());
        rec.bad_versions.insert("1.3.0".into(), "unhealthy".into());
        j.record("db")
            .bad_versions
            .insert("1.2.0".into(), "no service recorded".into());
        assert_eq!(j.clear_bad("org.example.other", "1.2.0"), vec![]);
        assert_eq!(
            j.clear_bad("org.example.web", "1.2.0"),
            vec![("web".into(), "1.2".into(), "unhealthy: exit 3".into())]
        );
        assert_eq!(j.clear_bad("org.example.web", "1.2.0"), vec![]);
        assert_eq!(
            j.bad_marks(),
            vec![
                ("db", "?", "1.2.0", "no service recorded"),
                ("web", "org.example.web", "1.3.0", "unhealthy")
            ]
        );
    }

    #[test]
    fn bad_names_and_bad_json_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            EnvDir::open(dir.path(), "../x"),
            Err(Error::BadName { .. })
        ));
        let s = EnvDir::open(dir.path(), "e").unwrap();
        fs::write(s.journal_path(), "{").unwrap();
        assert!(matches!(s.load(), Err(Error::JournalFormat { .. })));
    }
}
