//! The metadata directory: trusted metadata under non-versioned names
//! (`root.json`, `timestamp.json`, `snapshot.json`, `targets.json`,
//! `<role>.json`), written atomically.
//!
//! Changes of one update are collected in a [`Changes`] and applied only after
//! the whole update verified; each file is written to a temporary file in the
//! same directory and fsynced, then renamed over the old one, and the
//! directory is fsynced, so a crash leaves either the old or the new bytes,
//! never a torn file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::error::UpdateError;
use super::fetch::Validators;

/// File holding the HTTP validators of the trusted timestamp; not metadata.
const VALIDATORS_FILE: &str = ".http-validators";

/// A role name made safe as one path segment and one URL segment: like
/// python-tuf, everything outside `A-Za-z0-9._~-` is percent-encoded.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // `.` and `..` would name directories.
    if out == "." || out == ".." {
        return out.replace('.', "%2E");
    }
    out
}

/// Writes `bytes` to `path` atomically: temp file in the same directory,
/// fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    let err = |source| UpdateError::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// A temporary file name beside `path`, unique in this process.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    dir.join(format!(
        ".{}.tmp.{}.{}",
        file_name.unwrap_or_default(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// The trusted metadata directory.
#[derive(Clone, Debug)]
pub struct MetadataStore {
    dir: PathBuf,
}

/// The HTTP validators saved with the trusted timestamp's bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedValidators {
    /// sha256 of the timestamp bytes these validators were served with.
    pub sha256: String,
    #[serde(flatten)]
    pub validators: Validators,
}

impl MetadataStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        MetadataStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a role's file: `<dir>/<encoded role>.json`.
    pub fn path(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{}.json", encode_name(role)))
    }

    /// The stored bytes of a role, `None` when there are none.
    pub fn read(&self, role: &str) -> Result<Option<Vec<u8>>, UpdateError> {
        let path = self.path(role);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(UpdateError::ReadFile { path, source }),
        }
    }

    /// Creates the directory if needed.
    pub fn create_dir(&self) -> Result<(), UpdateError> {
        fs::create_dir_all(&self.dir).map_err(|source| UpdateError::WriteFile {
            path: self.dir.clone(),
            source,
        })
    }

    /// HTTP validators saved for the trusted timestamp, if any.
    pub fn validators(&self) -> Option<SavedValidators> {
        let bytes = fs::read(self.dir.join(VALIDATORS_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Applies `changes`: deletions first, then writes in the order roles
    /// were verified (root before timestamp before snapshot ...).
    ///
    /// Each new file is written to a temporary file and fsynced before it is
    /// renamed over the old one; the fsyncs run in parallel (the filesystem
    /// journal then commits them together) and the directory is fsynced once
    /// at the end, so a crash leaves each file old or new, never torn.
    pub fn commit(&self, changes: Changes) -> Result<(), UpdateError> {
        if changes.is_empty() {
            return Ok(());
        }
        for role in &changes.deletes {
            let path = self.path(role);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(UpdateError::WriteFile { path, source }),
            }
        }
        let mut files: Vec<(PathBuf, &[u8])> = changes
            .writes
            .iter()
            .map(|(role, bytes)| (self.path(role), bytes.as_slice()))
            .collect();
        let validators = changes
            .validators
            .as_ref()
            .map(|v| serde_json::to_vec(v).expect("validators serialize"));
        if let Some(bytes) = &validators {
            files.push((self.dir.join(VALIDATORS_FILE), bytes));
        }
        let staged = stage_all(&files)?;
        for (tmp, (path, _)) in staged.iter().zip(&files) {
            if let Err(source) = fs::rename(tmp, path) {
                for t in &staged {
                    let _ = fs::remove_file(t);
                }
                return Err(UpdateError::WriteFile {
                    path: path.clone(),
                    source,
                });
            }
        }
        sync_dir(&self.dir).map_err(|source| UpdateError::WriteFile {
            path: self.dir.clone(),
            source,
        })
    }
}

/// Writes each `(path, bytes)` to a temporary file beside `path` and fsyncs
/// them all (in parallel); returns the temporary paths. On error none is left.
fn stage_all(files: &[(PathBuf, &[u8])]) -> Result<Vec<PathBuf>, UpdateError> {
    let tmps: Vec<PathBuf> = files.iter().map(|(p, _)| temp_path(p)).collect();
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .zip(&tmps)
            .map(|((_, bytes), tmp)| {
                scope.spawn(move || {
                    let mut f = fs::File::create(tmp)?;
                    f.write_all(bytes)?;
                    f.sync_all()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("panicked")))
            })
            .collect()
    });
    if let Some(i) = results.iter().position(Result::is_err) {
        for t in &tmps {
            let _ = fs::remove_file(t);
        }
        let source = results.into_iter().nth(i).and_then(Result::err);
        return Err(UpdateError::WriteFile {
            path: files[i].0.clone(),
            source: source.unwrap_or_else(|| std::io::Error::other("write failed")),
        });
    }
    Ok(tmps)
}

/// Metadata files to write and delete once an update has fully verified.
#[derive(Debug, Default)]
pub struct Changes {
    deletes: Vec<String>,
    /// In verification order.
    writes: Vec<(String, Vec<u8>)>,
    validators: Option<SavedValidators>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.writes.is_empty() && self.validators.is_none()
    }

    /// Stores `bytes` as the trusted file of `role` (replacing an earlier
    /// write of the same role in this update).
    pub fn write(&mut self, role: &str, bytes: Vec<u8>) {
        self.deletes.retain(|r| r != role);
        if let Some(w) = self.writes.iter_mut().find(|(r, _)| r == role) {
            w.1 = bytes;
        } else {
            self.writes.push((role.to_string(), bytes));
        }
    }

    /// Removes the trusted file of `role` (fast-forward attack recovery).
    pub fn delete(&mut self, role: &str) {
        self.writes.retain(|(r, _)| r != role);
        if !self.deletes.iter().any(|r| r == role) {
            self.deletes.push(role.to_string());
        }
    }

    pub fn set_validators(&mut self, v: SavedValidators) {
        self.validators = Some(v);
    }

    /// Roles written by this change set, in order.
    pub fn written(&self) -> impl Iterator<Item = &str> {
        self.writes.iter().map(|(r, _)| r.as_str())
    }

    /// Moves `other`'s changes after this one's.
    pub fn extend(&mut self, other: Changes) {
        for r in other.deletes {
            self.delete(&r);
        }
        for (r, b) in other.writes {
            self.write(&r, b);
        }
        if other.validators.is_some() {
            self.validators = other.validators;
        }
    }
}

/// Role file names in a directory listing, for tools and tests.
pub fn list(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(b) = fs::read(e.path()) {
                out.insert(e.file_name().to_string_lossy().into_owned(), b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_safe_segment() {
        for (name, encoded) in [
            ("timestamp", "timestamp"),
            ("org.hapifhir", "org.hapifhir"),
            ("a/b", "a%2Fb"),
            ("..", "%2E%2E"),
            ("x y", "x%20y"),
            ("é", "%C3%A9"),
        ] {
            assert_eq!(encode_name(name), encoded);
        }
    }

    #[test]
    fn commit_applies_deletes_then_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        std::fs::write(store.path("snapshot"), b"old").unwrap();
        std::fs::write(store.path("timestamp"), b"old").unwrap();
        let mut c = Changes::default();
        c.delete("snapshot");
        c.delete("timestamp");
        c.write("timestamp", b"new".to_vec());
        c.write("root", b"r1".to_vec());
        c.write("root", b"r2".to_vec());
        assert_eq!(c.written().collect::<Vec<_>>(), ["timestamp", "root"]);
        store.commit(c).unwrap();
        let files = list(dir.path());
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["root.json", "timestamp.json"],
            "no temp files left"
        );
        assert_eq!(files["root.json"], b"r2");
        assert_eq!(store.read("snapshot").unwrap(), None);
    }

    #[test]
    fn a_failed_commit_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(dir.path());
        // A directory where a file should go: its rename fails.
        std::fs::create_dir(store.path("targets")).unwrap();
        std::fs::create_dir(store.path("targets").join("x")).unwrap();
        let mut c = Changes::default();
        c.write("timestamp", b"t".to_vec());
        c.write("targets", b"x".to_vec());
        let err = store.commit(c).unwrap_err();
        assert!(matches!(err, UpdateError::WriteFile { .. }), "{err}");
        let left: Vec<String> = list(dir.path())
            .into_keys()
            .filter(|n| n.contains(".tmp."))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
