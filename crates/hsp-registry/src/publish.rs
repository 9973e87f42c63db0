//! Atomic publication of a build into OUT.
//!
//! - OUT does not exist: everything is written into a sibling [`Staging`]
//!   folder (`.<OUT>.hsp-new-<pid>`), documents and API files as soon as the
//!   build has them, flushed to disk (`syncfs`, started in the background
//!   after the scan), then renamed to OUT in one step.
//! - OUT holds a previous build: every file of the new build except the two
//!   entry points is either content-addressed (`targets/**/<sha256>.<name>`) or
//!   versioned (`metadata/N.<role>.json`), so it never replaces a file the
//!   current metadata references. Those are written first (temp file + rename),
//!   the website is swapped in, everything is flushed, and only then are
//!   `metadata/root.json` and `metadata/timestamp.json` renamed into place: the
//!   timestamp is the commit point. A client (or a build that fails half-way)
//!   sees the old consistent repository or the new one, never a mix. Files
//!   the previous build referenced stay for clients that are mid-update;
//!   older ones (except every `N.root.json`) are then removed, looking only in
//!   `metadata/` and the folders of roles that changed (see [`collect_garbage`]).
//!
//! Document targets are [`CopyFile`]s: unless already in place (staged by the
//! scan under the sha256 it computed, which verification then found to be the
//! signed one; or a target of a role OUT serves unchanged, see
//! [`OutFile::present`]), read again from the registry repo while publishing
//! and written only if their length and sha256 are the ones the publisher
//! signed, so the build never holds every document in memory and never
//! serves bytes that differ from the signed hash.
//!
//! Flushing: a new OUT, or an update writing many files, is flushed with one
//! `syncfs`; an update writing at most [`FSYNC_MAX_FILES`] files (a rebuild
//! after a small change) fsyncs those files and their folders instead, so it
//! does not wait for every other dirty file of the file system.
//!
//! **Invariant:** no existing file under `targets/` or `metadata/N.*` is ever
//! rewritten with different bytes.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rayon::prelude::*;

use hsp_tuf::{Signed, Targets};
use sha2::{Digest, Sha256};

use crate::metadata::{served_snapshot, target_file_path, METADATA_DIR, TARGETS_DIR};

/// One file of a build: OUT-relative path and bytes.
pub struct OutFile<'a> {
    pub path: String,
    pub bytes: Cow<'a, [u8]>,
    /// Already in place, not written or looked up again: a target of a role
    /// the build in OUT serves at the same version (see
    /// `metadata::Previous::serves`), or written into the [`Staging`] folder.
    pub present: bool,
}

/// A target copied from the registry repo: OUT-relative path, source file
/// (`root`/`from`), and the length and sha256 (hex) its bytes must have.
pub struct CopyFile<'a> {
    pub path: String,
    pub root: &'a Path,
    pub from: &'a str,
    pub length: u64,
    pub sha256: &'a str,
    /// As [`OutFile::present`].
    pub present: bool,
}

/// Updates writing at most this many files fsync them one by one rather than
/// flushing the whole file system.
pub const FSYNC_MAX_FILES: usize = 1000;

/// A file to write: bytes in memory, or a verified copy.
#[derive(Clone, Copy)]
enum Job<'a> {
    Bytes(&'a OutFile<'a>),
    Copy(&'a CopyFile<'a>),
}

impl Job<'_> {
    fn path(&self) -> &str {
        match self {
            Job::Bytes(f) => &f.path,
            Job::Copy(c) => &c.path,
        }
    }

    fn present(&self) -> bool {
        match self {
            Job::Bytes(f) => f.present,
            Job::Copy(c) => c.present,
        }
    }

    fn len(&self) -> u64 {
        match self {
            Job::Bytes(f) => f.bytes.len() as u64,
            Job::Copy(c) => c.length,
        }
    }

    /// The bytes to write (a copy's, checked against its length and sha256).
    fn bytes(&self) -> anyhow::Result<Cow<'_, [u8]>> {
        match self {
            Job::Bytes(f) => Ok(Cow::Borrowed(&f.bytes)),
            Job::Copy(c) => {
                let from = c.root.join(c.from);
                let bytes =
                    fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
                let sha256 = hex::encode(Sha256::digest(&bytes));
                if bytes.len() as u64 != c.length || sha256 != c.sha256 {
                    bail!(
                        "{}: changed during the build: now {} bytes with sha256 {sha256}, but the \
                         publisher signed {} bytes with sha256 {}; nothing was published (hint: \
                         build again; if the change is wanted, re-sign with `hsp sign`)",
                        from.display(),
                        bytes.len(),
                        c.length,
                        c.sha256
                    );
                }
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

fn jobs<'a>(files: &'a [OutFile<'a>], copies: &'a [CopyFile<'a>]) -> Vec<Job<'a>> {
    files
        .iter()
        .map(Job::Bytes)
        .chain(copies.iter().map(Job::Copy))
        .collect()
}

/// What publication did.
#[derive(Debug, Default, Clone)]
pub struct Published {
    /// Files written (new content).
    pub written: usize,
    /// Files already present with the same name and length (content-addressed).
    pub reused: usize,
    /// Seconds spent flushing to disk (`syncfs`), part of the publish phase.
    pub sync_seconds: f64,
    /// Files of older builds removed (neither this build nor the previous one
    /// references them).
    pub removed: usize,
}

/// Renders the website into the given folder.
pub type SiteRenderer<'a> = dyn Fn(&Path) -> anyhow::Result<()> + Sync + 'a;

fn is_previous_build(out: &Path) -> bool {
    out.join(METADATA_DIR).join("timestamp.json").is_file()
}

/// The folder a first build (no OUT yet) is written into and renamed to OUT
/// by [`publish`]; removed if the build fails (dropped unpublished). Files go
/// in as soon as they are known (documents while they are scanned), and a
/// flush started early overlaps the disk writes with the rest of the build.
pub struct Staging {
    path: PathBuf,
    flush: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    published: bool,
}

impl Staging {
    /// A new staging folder beside `out`, or `None` when OUT exists (the
    /// build then updates it in place).
    pub fn for_first_build(out: &Path) -> anyhow::Result<Option<Staging>> {
        if fs::symlink_metadata(out).is_ok() {
            return Ok(None);
        }
        Staging::new(out).map(Some)
    }

    fn new(out: &Path) -> anyhow::Result<Staging> {
        let path = staging_path(out, "new")?;
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Staging {
            path,
            flush: None,
            published: false,
        })
    }

    /// Writes `bytes` as the copy of target `target` with hex `sha256`
    /// ([`target_file_path`]), creating its folders.
    pub fn write_target(&self, target: &str, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path.join(target_file_path(target, sha256));
        let file = match fs::File::create(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(path.parent().unwrap_or(&self.path))?;
                fs::File::create(&path)
            }
            other => other,
        };
        file?.write_all(bytes)
    }

    /// Starts flushing what was written so far, in the background.
    pub fn start_flush(&mut self) {
        let path = self.path.clone();
        self.flush = Some(std::thread::spawn(move || sync_fs(&path)));
    }

    /// Waits for the flush [`Staging::start_flush`] started, if any.
    fn join_flush(&mut self) -> anyhow::Result<()> {
        match self.flush.take() {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the flush thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = self.join_flush();
        if !self.published {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Publishes `files` and `copies`, then `entry` (written last, the commit
/// point), and the site. With `staging` (a first build), into it and then
/// renamed to OUT.
pub fn publish(
    out: &Path,
    files: &[OutFile],
    copies: &[CopyFile],
    entry: &[OutFile],
    site: Option<&SiteRenderer>,
    staging: Option<Staging>,
) -> anyhow::Result<Published> {
    let files = jobs(files, copies);
    match fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let staging = match staging {
                Some(s) => s,
                None => Staging::new(out)?,
            };
            fresh(out, &files, entry, site, staging)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", out.display())),
        Ok(_) if staging.is_some() => bail!(
            "{}: created by something else during this build; nothing was published (hint: \
             build again)",
            out.display()
        ),
        Ok(mut entries) => {
            if entries.next().is_some() && !is_previous_build(out) {
                bail!(
                    "{}: exists and is not an `hsp build` output (no metadata/timestamp.json); \
                     refusing to write into it (hint: choose a new or empty folder)",
                    out.display()
                );
            }
            in_place(out, &files, entry, site)
        }
    }
}

/// The folder holding `out` (`.` for a bare relative name).
fn parent_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn staging_path(out: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let name = out
        .file_name()
        .with_context(|| format!("{}: OUT needs a folder name", out.display()))?
        .to_string_lossy();
    Ok(parent_of(out).join(format!(".{name}.hsp-{what}-{}", std::process::id())))
}

fn fresh(
    out: &Path,
    files: &[Job],
    entry: &[OutFile],
    site: Option<&SiteRenderer>,
    mut staging: Staging,
) -> anyhow::Result<Published> {
    let dir = staging.path.clone();
    let todo: Vec<&Job> = files.iter().filter(|f| !f.present()).collect();
    create_dirs(
        &dir,
        todo.iter()
            .map(|f| f.path())
            .chain(entry.iter().map(|f| f.path.as_str())),
    )?;
    todo.par_iter()
        .try_for_each(|f| write_file(&dir.join(f.path()), &f.bytes()?, false))?;
    entry
        .iter()
        .try_for_each(|f| write_file(&dir.join(&f.path), &f.bytes, false))?;
    if let Some(render) = site {
        render(&dir)?;
    }
    let sync_seconds = timed(|| {
        staging.join_flush()?;
        sync_fs(&dir)
    })?;
    fs::rename(&dir, out)
        .with_context(|| format!("renaming {} to {}", dir.display(), out.display()))?;
    staging.published = true;
    sync_dir(&parent_of(out))?;
    Ok(Published {
        written: files.len() + entry.len(),
        reused: 0,
        sync_seconds,
        removed: 0,
    })
}

fn in_place(
    out: &Path,
    files: &[Job],
    entry: &[OutFile],
    site: Option<&SiteRenderer>,
) -> anyhow::Result<Published> {
    // Versioned metadata that exists must be identical: a different file under
    // the same version means two builds at the same time with different inputs.
    for f in files
        .iter()
        .filter(|f| !f.present() && f.path().starts_with(METADATA_DIR))
    {
        if let Ok(existing) = fs::read(out.join(f.path())) {
            if existing != *f.bytes()? {
                bail!(
                    "{}: already published with different content; the previous build used the \
                     same time (hint: build with a later --now or SOURCE_DATE_EPOCH)",
                    out.join(f.path()).display()
                );
            }
        }
    }
    // What the published repository references now: kept for clients that are
    // mid-update; anything older is removed after the commit.
    let current: HashSet<&str> = files
        .iter()
        .map(Job::path)
        .chain(entry.iter().map(|f| f.path.as_str()))
        .collect();
    let previous = referenced(out, &current);
    // Only files of roles the served build does not list at the same version
    // are looked up: a rebuild after a small change stats a few hundred files.
    let missing: Vec<Job> = files
        .par_iter()
        .filter(|f| !f.present())
        .filter(|f| match fs::symlink_metadata(out.join(f.path())) {
            Ok(m) => !(m.is_file() && m.len() == f.len()),
            Err(_) => true,
        })
        .copied()
        .collect();
    // Few new files: fsync them and their folders rather than the file system.
    let each = site.is_none() && missing.len() + entry.len() <= FSYNC_MAX_FILES;
    // The site is rendered first, so that a template error publishes nothing.
    let staging = match site {
        Some(render) => {
            let staging = staging_path(out, "site")?;
            let _ = fs::remove_dir_all(&staging);
            if let Err(e) = render(&staging) {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
            Some(staging)
        }
        None => None,
    };
    let mut committing = false;
    let result = (|| {
        let created = create_dirs(out, missing.iter().map(Job::path))?;
        missing
            .par_iter()
            .try_for_each(|f| replace_file(&out.join(f.path()), &f.bytes()?, each))?;
        if let Some(staging) = &staging {
            move_tree(staging, out)?;
        }
        let sync_seconds = timed(|| {
            if each {
                sync_dirs(out, missing.iter().map(Job::path), &created)
            } else {
                sync_fs(out)
            }
        })?;
        committing = true;
        for f in entry {
            replace_file(&out.join(&f.path), &f.bytes, each)?;
        }
        sync_dir(&out.join(METADATA_DIR))?;
        Ok(sync_seconds)
    })();
    if let Some(staging) = &staging {
        let _ = fs::remove_dir_all(staging);
    }
    let sync_seconds = match result {
        Ok(s) => s,
        Err(e) => {
            if !committing {
                // Nothing references the new files yet: take them back.
                for f in &missing {
                    let _ = fs::remove_file(out.join(f.path()));
                }
            }
            return Err(e);
        }
    };
    let removed = match previous {
        Some(previous) => collect_garbage(out, &current, &previous),
        None => 0,
    };
    Ok(Published {
        written: missing.len() + entry.len(),
        reused: files.len() - missing.len(),
        sync_seconds,
        removed,
    })
}

/// Every file the repository currently published in `out` references
/// (metadata and targets) that this build does not publish too, or `None` if
/// it cannot be read completely. A role this build publishes at the same
/// version (the same bytes, checked before) is not read: its targets are this
/// build's too.
fn referenced(out: &Path, current: &HashSet<&str>) -> Option<HashSet<String>> {
    let meta = out.join(METADATA_DIR);
    let read = |name: &str| fs::read(meta.join(name)).ok();
    let (snap_name, snapshot) = served_snapshot(out)?;
    let mut set = HashSet::new();
    set.insert(format!("{METADATA_DIR}/{snap_name}"));
    let changed: Vec<String> = snapshot
        .signed
        .meta
        .iter()
        .map(|(file, m)| format!("{}.{file}", m.version))
        .filter(|name| !current.contains(format!("{METADATA_DIR}/{name}").as_str()))
        .collect();
    let targets: Vec<Vec<String>> = changed
        .par_iter()
        .map(|name| {
            let targets = Signed::<Targets>::from_bytes(read(name)?).ok()?;
            let mut paths = vec![format!("{METADATA_DIR}/{name}")];
            for (path, t) in &targets.signed.targets {
                paths.push(target_file_path(path, t.sha256()?));
            }
            Some(paths)
        })
        .collect::<Option<_>>()?;
    set.extend(targets.into_iter().flatten());
    Some(set)
}

/// Removes metadata and targets that neither this build nor the previous one
/// references (every `N.root.json` stays: clients walk the chain). Best effort:
/// returns how many files were removed.
///
/// Only `metadata/` and the folders of the targets of roles this build changed
/// (those in `previous`, see [`referenced`]) are looked at: a file becomes
/// garbage when its role changes, so a folder whose roles did not change since
/// the previous build has nothing new; a replaced file stays until its role
/// changes again. A rebuild after a small change so lists a few folders
/// instead of every target.
fn collect_garbage(out: &Path, current: &HashSet<&str>, previous: &HashSet<String>) -> usize {
    let mut dirs: BTreeSet<&str> = previous
        .iter()
        .filter(|p| p.starts_with(TARGETS_DIR))
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    dirs.insert(METADATA_DIR);
    dirs.into_par_iter()
        .map(|dir| {
            let Ok(entries) = fs::read_dir(out.join(dir)) else {
                return 0;
            };
            let mut removed = 0;
            for e in entries.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let name = e.file_name();
                let rel = format!("{dir}/{}", name.to_string_lossy());
                let keep = current.contains(rel.as_str())
                    || previous.contains(&rel)
                    || rel.ends_with(".root.json")
                    || rel.contains(".hsp-tmp-");
                if !keep && fs::remove_file(e.path()).is_ok() {
                    removed += 1;
                }
            }
            removed
        })
        .sum()
}

/// Creates the folders of `paths` under `root`; returns those that did not
/// exist (root-relative), parents first.
fn create_dirs<'a>(
    root: &Path,
    paths: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Vec<String>> {
    let mut dirs: BTreeSet<&str> = BTreeSet::new();
    for p in paths {
        let mut d = p;
        while let Some((parent, _)) = d.rsplit_once('/') {
            if !dirs.insert(parent) {
                break;
            }
            d = parent;
        }
    }
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let mut created = Vec::new();
    for d in dirs {
        let p = root.join(d);
        match fs::create_dir(&p) {
            Ok(()) => created.push(d.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && p.is_dir() => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
        }
    }
    Ok(created)
}

/// Creates `path` with `bytes` in one create and write (and an fsync if `sync`).
fn write_file(path: &Path, bytes: &[u8], sync: bool) -> anyhow::Result<()> {
    let mut f = fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| if sync { f.sync_data() } else { Ok(()) })
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes `path` through a temporary sibling and a rename; on failure the
/// temporary file is removed (nothing is left behind) and `path` is as it was.
pub(crate) fn replace_file(path: &Path, bytes: &[u8], sync: bool) -> anyhow::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.hsp-tmp-{}", std::process::id()));
    let result = write_file(&tmp, bytes, sync).and_then(|()| {
        fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Flushes the folders holding `paths` (their new entries) and the parents of
/// the folders in `created`.
fn sync_dirs<'a>(
    root: &Path,
    paths: impl Iterator<Item = &'a str>,
    created: &[String],
) -> anyhow::Result<()> {
    let mut dirs: BTreeSet<&str> = paths
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    for d in created {
        dirs.insert(d.rsplit_once('/').map_or("", |(parent, _)| parent));
    }
    dirs.into_iter().try_for_each(|d| sync_dir(&root.join(d)))
}

/// Moves every file of `from` into the same place under `to`.
fn move_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for e in walkdir::WalkDir::new(from).min_depth(1) {
        let e = e.with_context(|| format!("reading {}", from.display()))?;
        let rel = e
            .path()
            .strip_prefix(from)
            .expect("walk stays under its root");
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
        } else {
            fs::rename(e.path(), &dest)
                .with_context(|| format!("moving the site file into {}", dest.display()))?;
        }
    }
    Ok(())
}

/// Runs `f`, returning the seconds it took.
fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let start = std::time::Instant::now();
    f()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Flushes the file system holding `dir` (one `syncfs`, not one fsync per file).
fn sync_fs(dir: &Path) -> anyhow::Result<()> {
    let f = fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    nix::unistd::syncfs(f.as_raw_fd()).with_context(|| format!("syncfs {}", dir.display()))
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("fsync {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_replace_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("a.json");
        replace_file(&ok, b"one", true).unwrap();
        replace_file(&ok, b"two", false).unwrap();
        assert_eq!(fs::read(&ok).unwrap(), b"two");
        // A non-empty folder in the way: the rename fails.
        let blocked = dir.path().join("b.json");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("keep"), "x").unwrap();
        assert!(replace_file(&blocked, b"new", true).is_err());
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.json", "b.json"], "no temporary file is left");
    }
}
