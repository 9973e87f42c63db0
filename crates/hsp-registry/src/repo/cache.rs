//! The content-hash cache of [`super::scan`]: for each document, what reading,
//! hashing, parsing and checking it gave, keyed by the file's identity on disk,
//! so a rebuild re-reads only the documents that changed.
//!
//! Layout: `.hsp_cache/<repo id>/docs-v<FORMAT>/<publisher folder>.json` beside
//! OUT (see [`folder`]), one shard per publisher folder (a rebuild rewrites only
//! the shards that changed), each written to a temporary file and renamed into
//! place. A shard starts with the
//! *context*: a sha256 over the cache format, the `hsp` executable's identity
//! and the bytes of `registry.json` and every interface, since the per-document
//! rules depend on them. A shard whose context differs, or that does not
//! decode, is ignored (and rewritten); a cache is never trusted for more than
//! skipping the work whose result it recorded.
//!
//! An entry is used only when the file's length, mtime, ctime, inode and device
//! all match what was recorded. Files changed within [`RACY_SECONDS`] of the
//! scan that recorded them are stored without a key (re-read next time): their
//! timestamps could repeat within the file system's clock tick.
//!
//! Beside each shard, `<publisher folder>.bin` holds the folder's
//! [`FolderRecord`] (postcard, written by `hsp build` after verification):
//! every file's identity, length and hash in walk order, the diagnostics, and
//! what the cross-file rules, the API and the publisher's verification gave.
//! A rebuild in which every file of the folder kept its identity takes the
//! folder from it without decoding the shard (see `super::scan`); the shard
//! stays the source of each document's summary when any file changed.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use hsp_check::{Code, Diagnostic, Severity};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::summary::DocSummary;

/// Bumped whenever an entry's meaning or encoding changes.
pub const FORMAT: u32 = 2;

/// The name of the cache folder, beside OUT.
pub const CACHE_DIR: &str = ".hsp_cache";

/// Where the cache of builds of `repo` into `out` lives: `.hsp_cache/<repo id>`
/// in OUT's parent folder, `<repo id>` a hash of the repo's absolute path.
///
/// Beside OUT rather than in the repo: the repo stays untouched (a read-only CI
/// checkout, the examples in the source tree), the cache is never served
/// (publication only writes under OUT), `hsp build` already writes its staging
/// folder there, and builds into several OUTs of one folder share it.
pub fn folder(out: &Path, repo: &Path) -> PathBuf {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let repo = std::path::absolute(repo).unwrap_or_else(|_| repo.to_path_buf());
    let id = hex::encode(Sha256::digest(repo.as_os_str().as_encoded_bytes()));
    parent.join(CACHE_DIR).join(&id[..16])
}

/// Files whose ctime is this close to the scan's start are not keyed.
pub const RACY_SECONDS: i64 = 2;

/// A file's identity on disk: any write changes at least one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatKey {
    pub len: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
    pub dev: u64,
}

impl StatKey {
    /// The identity in a `stat` result (see `super::walk`).
    pub fn of(s: &rustix::fs::Stat) -> StatKey {
        let ns = |secs: i64, nanos: u64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        StatKey {
            len: s.st_size as u64,
            mtime_ns: ns(s.st_mtime, s.st_mtime_nsec),
            ctime_ns: ns(s.st_ctime, s.st_ctime_nsec),
            ino: s.st_ino,
            dev: s.st_dev,
        }
    }

    /// Whether the file changed so recently (relative to `scan_start_ns`) that a
    /// later write could leave the same timestamps.
    pub fn is_racy(&self, scan_start_ns: i128) -> bool {
        self.ctime_ns.max(self.mtime_ns) >= scan_start_ns - i128::from(RACY_SECONDS) * 1_000_000_000
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// A diagnostic of a document, without its path (the entry's).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedDiagnostic {
    line: usize,
    column: usize,
    code: String,
    pointer: String,
    field: String,
    message: String,
    hint: Option<String>,
}

impl CachedDiagnostic {
    pub fn new(d: &Diagnostic) -> CachedDiagnostic {
        CachedDiagnostic {
            line: d.line,
            column: d.column,
            code: d.code.id().to_string(),
            pointer: d.pointer.clone(),
            field: d.field.clone(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }

    /// The diagnostic in `path`, or `None` for a code this `hsp` does not know.
    pub fn restore(&self, path: &str) -> Option<Diagnostic> {
        let code = *Code::ALL.iter().find(|c| c.id() == self.code)?;
        Some(Diagnostic {
            path: path.to_string(),
            line: self.line,
            column: self.column,
            severity: if code.is_warning() {
                Severity::Warning
            } else {
                Severity::Error
            },
            code,
            pointer: self.pointer.clone(),
            field: self.field.clone(),
            message: self.message.clone(),
            hint: self.hint.clone(),
        })
    }
}

/// What the scan learnt of one document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Repo-relative path.
    pub path: String,
    /// `None`: do not trust this entry next time (see [`StatKey::is_racy`]).
    pub key: Option<StatKey>,
    pub length: u64,
    /// Hex sha256 of the bytes read.
    pub sha256: String,
    /// `None` when the document did not parse.
    pub summary: Option<DocSummary>,
    pub diagnostics: Vec<CachedDiagnostic>,
    /// Read from disk by this scan (not recorded: `false` when restored).
    #[serde(skip)]
    pub read_now: bool,
}

/// What a build learnt of one publisher folder as a whole, beside its shard
/// (`<folder>.bin`, postcard): the identity of every document file, their
/// diagnostics, and what the later steps need of them (see
/// `crate::repo::scan`), so that a rebuild in which the folder did not change
/// decodes none of its documents' summaries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FolderRecord {
    pub format: u32,
    /// The shard's context (see [`context`]).
    pub context: String,
    /// sha256 over every publisher record: `products.clean` and `role`
    /// depend on them.
    pub records: String,
    pub index: Index,
    /// Each document's diagnostics, by its position in `index`.
    pub diagnostics: Vec<(u32, CachedDiagnostic)>,
    pub products: Products,
    /// The publisher's metadata as last verified (with these documents).
    pub role: Option<RoleRecord>,
}

/// The document files of a folder, in walk order, as columns (a few
/// allocations per folder rather than several per document).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Repo-relative paths, each followed by a newline.
    pub paths: String,
    pub keys: Vec<Option<StatKey>>,
    pub lengths: Vec<u64>,
    /// Hex sha256 of each file, concatenated.
    pub sha256: String,
    /// Whether each file parsed as a document.
    pub parsed: Vec<bool>,
}

impl Index {
    pub fn push(
        &mut self,
        path: &str,
        key: Option<StatKey>,
        length: u64,
        sha256: &str,
        parsed: bool,
    ) {
        self.paths.push_str(path);
        self.paths.push('\n');
        self.keys.push(key);
        self.lengths.push(length);
        self.sha256.push_str(sha256);
        self.parsed.push(parsed);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// (path, key, length, sha256, parsed) of each file (of as many as
    /// every column has: see [`Index::is_consistent`]). Paths never hold a
    /// newline: the walk reports such a name escaped (`hsp_check::path_text`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<StatKey>, u64, &str, bool)> {
        let sha = |i: usize| self.sha256.get(i * 64..(i + 1) * 64).unwrap_or("");
        self.paths
            .split_terminator('\n')
            .zip(&self.keys)
            .zip(&self.lengths)
            .zip(&self.parsed)
            .enumerate()
            .map(move |(i, (((p, k), l), parsed))| (p, *k, *l, sha(i), *parsed))
    }

    /// Whether the record is whole: every column has one value per path.
    pub fn is_consistent(&self) -> bool {
        let n = self.keys.len();
        self.paths.split_terminator('\n').count() == n
            && self.lengths.len() == n
            && self.parsed.len() == n
            && self.sha256.len() == n * 64
    }
}

/// What the cross-file rules and the API need of a folder's documents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Products {
    /// [`hsp_check::folder_is_clean`] held (under the records).
    pub clean: bool,
    /// (interface, version, service id) of what each non-yanked document
    /// provides, without repeats.
    pub provides: Vec<(String, String, String)>,
    /// (interface, range, service id) of every requirement the open-source
    /// rule checks ([`hsp_check::open_source_needs`]), without repeats.
    pub needs: Vec<(String, String, String)>,
    /// The folder's services, by id.
    pub services: Vec<crate::api::ServiceParts>,
}

/// A publisher's signed metadata as a build verified it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleRecord {
    /// The identity of `<name>.json` when verified.
    pub key: StatKey,
    pub version: u64,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Deserialize)]
struct Shard {
    format: u32,
    context: String,
    entries: Vec<Entry>,
}

#[derive(Serialize)]
struct ShardRef<'a> {
    format: u32,
    context: &'a str,
    entries: &'a [Entry],
}

fn load<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The cache of one repo: its folder and the context entries must match.
pub struct Cache {
    dir: PathBuf,
    context: String,
}

/// A sha256 over everything the per-document results depend on besides the
/// document itself: the cache format, this executable and `inputs` (registry
/// config and interfaces, each path and bytes).
pub fn context<'a>(inputs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut h = Sha256::new();
    h.update(FORMAT.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // A rebuilt `hsp` may check differently under the same version number.
    if let Some(s) = std::env::current_exe()
        .ok()
        .and_then(|e| rustix::fs::stat(e).ok())
    {
        let k = StatKey::of(&s);
        h.update(format!("{}:{}:{}:{}", k.len, k.mtime_ns, k.ino, k.dev).as_bytes());
    }
    for (path, bytes) in inputs {
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

impl Cache {
    /// The cache in `folder` (see [`folder`]) for documents checked in `context`.
    pub fn new(folder: &Path, context: String) -> Cache {
        Cache {
            dir: folder.join(format!("docs-v{FORMAT}")),
            context,
        }
    }

    /// The folder holding the shards.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn shard_path(&self, folder: &str) -> PathBuf {
        self.dir.join(format!("{folder}.json"))
    }

    /// The entries of the shard of publisher folder `folder`, by path: empty
    /// when the shard is missing, unreadable, or from another context.
    pub fn read(&self, folder: &str) -> HashMap<String, Entry> {
        match load::<Shard>(&self.shard_path(folder)) {
            Some(s) if s.format == FORMAT && s.context == self.context => {
                s.entries.into_iter().map(|e| (e.path.clone(), e)).collect()
            }
            _ => HashMap::new(),
        }
    }

    /// Replaces the shard of `folder` with `entries`.
    pub fn write(&self, folder: &str, entries: &[Entry]) -> std::io::Result<()> {
        let shard = ShardRef {
            format: FORMAT,
            context: &self.context,
            entries,
        };
        let bytes = serde_json::to_vec(&shard).map_err(std::io::Error::other)?;
        self.store(&self.shard_path(folder), &bytes)
    }

    fn record_path(&self, folder: &str) -> PathBuf {
        self.dir.join(format!("{folder}.bin"))
    }

    /// The [`FolderRecord`] of publisher folder `folder`, when there is one
    /// from this context.
    pub fn read_record(&self, folder: &str) -> Option<FolderRecord> {
        let bytes = fs::read(self.record_path(folder)).ok()?;
        let record: FolderRecord = postcard::from_bytes(&bytes).ok()?;
        (record.format == FORMAT && record.context == self.context).then_some(record)
    }

    /// Replaces the [`FolderRecord`] of `folder`.
    pub fn write_record(&self, folder: &str, record: &FolderRecord) -> std::io::Result<()> {
        let bytes = postcard::to_stdvec(record).map_err(std::io::Error::other)?;
        self.store(&self.record_path(folder), &bytes)
    }

    /// The context records are made in (see [`FolderRecord::context`]).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// Writes `bytes` at `path` in the cache (temporary file + rename).
    fn store(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes shards and records of publisher folders that no longer exist.
    pub fn retain(&self, folders: &[&str]) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(folder) = name.strip_suffix(".json").or(name.strip_suffix(".bin")) {
                if !folder.starts_with('.') && !folders.contains(&folder) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn racy_files_are_not_keyed() {
        let second = 1_000_000_000i128;
        let key = |ctime_s: i128| StatKey {
            len: 1,
            mtime_ns: 0,
            ctime_ns: ctime_s * second,
            ino: 1,
            dev: 1,
        };
        let start = 100 * second;
        for (ctime_s, racy) in [
            (50, false),
            (97, false),
            (98, true),
            (100, true),
            (101, true),
        ] {
            assert_eq!(key(ctime_s).is_racy(start), racy, "ctime {ctime_s}");
        }
    }

    #[test]
    fn a_shard_of_another_context_or_format_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let entry = Entry {
            path: "publishers/p/services/a.b/1.json".into(),
            key: None,
            length: 2,
            sha256: "00".into(),
            summary: None,
            diagnostics: vec![],
            read_now: false,
        };
        let cache = Cache::new(dir.path(), "ctx".into());
        cache.write("p", &[entry]).unwrap();
        assert_eq!(cache.read("p").len(), 1);
        assert!(Cache::new(dir.path(), "other".into()).read("p").is_empty());
        assert!(cache.read("q").is_empty());
        std::fs::write(cache.shard_path("p"), b"{not json").unwrap();
        assert!(cache.read("p").is_empty(), "a corrupt shard is ignored");
        cache.write("q", &[]).unwrap();
        cache.retain(&["p"]);
        assert!(!cache.shard_path("q").exists());
    }

    #[test]
    fn diagnostics_round_trip() {
        let d = hsp_check::Finding::new(Code::NoSmokeTest, "", "no smoke test")
            .hint("add one")
            .resolve("a/b.json", b"{}");
        let back = CachedDiagnostic::new(&d).restore("a/b.json").unwrap();
        assert_eq!(back, d);
        let mut unknown = CachedDiagnostic::new(&d);
        unknown.code = "E999".into();
        assert_eq!(unknown.restore("a/b.json"), None);
    }
}
