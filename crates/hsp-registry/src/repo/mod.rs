//! Loading a registry repo from disk: the only I/O of validation.
//!
//! [`load`] reads every file the layout in `hsp_index::registry` names
//! (`registry.json`, `interfaces/*.json`, `publishers/<name>/publisher.json`,
//! `publishers/<name>/services/**.json`; the signed `publishers/<name>/<name>.json`
//! and `keys/` are not read), in parallel, and hands the exact bytes to
//! [`hsp_check::validate_repo`], which parses them and runs every rule.
//! The result keeps each file's repo-relative path and bytes next to its parsed
//! value, so `hsp build` serves and signs exactly what was validated.
//!
//! Files are read by the rules of `hsp_check::Unread` ([`file`]): symbolic
//! links are never followed (named on the command line or met in a folder),
//! FIFOs and devices never opened, bad file names and files above the size
//! limit never read; each such file is a finding, not an abort.
//!
//! ```text
//! let repo = repo::load(Path::new("examples/registry"))?;
//! for d in &repo.diagnostics { eprintln!("{d}"); }
//! if repo.has_errors() { anyhow::bail!("the registry has errors"); }
//! for doc in &repo.documents { /* doc.path, doc.bytes, doc.value */ }
//! ```

mod cache;
mod file;
mod folder;
pub mod git;
mod scan;
mod walk;

use std::io;
use std::path::{Path, PathBuf};

use hsp_check::{self as validate, path_text, Kind, RepoInput, Source, Unread};
use hsp_index::registry::{
    CONFIG_FILE, INTERFACES_DIR, PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR,
};
use rayon::prelude::*;

pub use cache::{folder as cache_folder, now_ns, Cache, RoleRecord, StatKey};
pub use file::read_file;
pub use folder::Folder;
pub use hsp_check::Repo;
pub use scan::{documents, read_documents, scan, CacheMode, Scanned, ScannedDoc, Sink};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("writing the copy of {} for publication", path.display())]
    Copy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a registry repo (no {CONFIG_FILE}); `hsp init` creates one", path.display())]
    NotARegistry { path: PathBuf },
}

fn read_err(path: &Path) -> impl FnOnce(io::Error) -> LoadError + '_ {
    move |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// A document's TUF target path (`services/<id>/<file>`), from its repo path
/// `publishers/<name>/services/<id>/<file>`; and the publisher folder name.
pub fn split_path(repo_path: &str) -> Option<(&str, &str)> {
    let rest = repo_path.strip_prefix(PUBLISHERS_DIR)?.strip_prefix('/')?;
    rest.split_once('/')
}

/// The registry repo containing `path` (a file or folder): the nearest ancestor
/// (or `path` itself) holding `registry.json`.
pub fn find_root(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let start = if abs.is_file() {
        abs.parent()?.to_path_buf()
    } else {
        abs
    };
    start
        .ancestors()
        .find(|d| d.join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}

/// Reads and validates the registry repo at `root`.
pub fn load(root: &Path) -> Result<Repo, LoadError> {
    Ok(validate::validate_repo(read_input(root)?))
}

/// Reads the exact bytes of every file of the registry repo at `root`.
pub fn read_input(root: &Path) -> Result<RepoInput, LoadError> {
    let files = list(root)?;
    let mut rels = files.others;
    rels.extend(files.documents);
    let mut input = RepoInput {
        unread: files.unread,
        ..RepoInput::default()
    };
    let (read, unread) = read_all(root, rels)?;
    for (kind, source) in read {
        input.push(kind, source);
    }
    input.unread.extend(unread);
    input.unread.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(input)
}

/// The repo-relative paths of a registry repo's files.
struct Listing {
    /// `registry.json`, interfaces and publisher records.
    others: Vec<String>,
    /// `publishers/<name>/services/**.json`, sorted.
    documents: Vec<String>,
    /// What the listing found and will not read.
    unread: Vec<(String, Unread)>,
}

/// A registry repo's files other than documents, and its publisher folders.
pub(crate) struct Records {
    /// `registry.json`, interfaces and publisher records.
    pub(crate) others: Vec<String>,
    /// The names of the folders in `publishers/`, sorted.
    pub(crate) folders: Vec<String>,
    /// What the listing found and will not read.
    pub(crate) unread: Vec<(String, Unread)>,
}

fn records(root: &Path) -> Result<Records, LoadError> {
    if !root.join(CONFIG_FILE).is_file() {
        return Err(LoadError::NotARegistry {
            path: root.to_path_buf(),
        });
    }
    let mut unread = Vec::new();
    let mut others = vec![CONFIG_FILE.to_string()];
    others.extend(json_files(
        &root.join(INTERFACES_DIR),
        INTERFACES_DIR,
        &mut unread,
    )?);
    let publishers = root.join(PUBLISHERS_DIR);
    let folders = subdirs(&publishers, &mut unread)?;
    others.extend(
        folders
            .iter()
            .filter(|name| {
                std::fs::symlink_metadata(publishers.join(name).join(PUBLISHER_FILE)).is_ok()
            })
            .map(|name| format!("{PUBLISHERS_DIR}/{name}/{PUBLISHER_FILE}")),
    );
    Ok(Records {
        others,
        folders,
        unread,
    })
}

/// `publishers/<folder>/services`, repo-relative.
fn services_dir(folder: &str) -> String {
    format!("{PUBLISHERS_DIR}/{folder}/{SERVICES_DIR}")
}

fn list(root: &Path) -> Result<Listing, LoadError> {
    let Records {
        others,
        folders,
        mut unread,
    } = records(root)?;
    // One publisher folder per task: listing 100,000 documents is I/O-bound.
    let found = folders
        .into_par_iter()
        .map(|name| {
            let mut rels = Vec::new();
            let mut unread = Vec::new();
            walk::json_files_at(root, &services_dir(&name), &mut |found| {
                match found.unread {
                    Some(why) => unread.push((found.rel, why)),
                    None => rels.push(found.rel),
                }
                Ok(())
            })?;
            rels.sort();
            Ok((rels, unread))
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    let mut documents = Vec::new();
    for (rels, u) in found {
        documents.extend(rels);
        unread.extend(u);
    }
    Ok(Listing {
        others,
        documents,
        unread,
    })
}

/// A path as shown in diagnostics (`/`-separated; a bad name escaped), and
/// whether its name is bad.
fn shown(path: &Path) -> (String, bool) {
    match path_text(path.as_os_str().as_encoded_bytes()) {
        Ok(text) => (text.replace('\\', "/"), false),
        Err(escaped) => (escaped, true),
    }
}

/// Reads loose files and folders that are not in a registry repo: every `.json`
/// file is a document, except `publisher.json` and files in an `interfaces`
/// folder. Paths in diagnostics are as given. A path named here is taken by
/// the same rules as a file met in a folder: a symbolic link is reported, not
/// followed.
pub fn read_loose(paths: &[PathBuf]) -> Result<RepoInput, LoadError> {
    let mut files = Vec::new();
    let mut unread = Vec::new();
    for p in paths {
        let meta = std::fs::symlink_metadata(p).map_err(read_err(p))?;
        let (text, bad) = shown(p);
        if bad {
            unread.push((text, Unread::Name));
        } else if meta.file_type().is_symlink() {
            unread.push((text, Unread::Link));
        } else if meta.is_dir() {
            for e in walkdir::WalkDir::new(p).sort_by_file_name() {
                let e = e.map_err(|e| LoadError::Read {
                    path: e.path().unwrap_or(p).to_path_buf(),
                    source: e.into(),
                })?;
                let path = e.path().strip_prefix(".").unwrap_or(e.path());
                let (text, bad) = shown(path);
                let ft = e.file_type();
                let is_json = e.path().extension().is_some_and(|x| x == "json");
                if bad && (is_json || ft.is_dir()) {
                    unread.push((text, Unread::Name));
                } else if ft.is_symlink() {
                    unread.push((text, Unread::Link));
                } else if is_json && !ft.is_dir() {
                    files.push(text);
                }
            }
        } else {
            files.push(text);
        }
    }
    let (read, more) = read_all(Path::new(""), files)?;
    let mut input = RepoInput {
        unread,
        ..RepoInput::default()
    };
    for (kind, source) in read {
        input.push(kind, source);
    }
    input.unread.extend(more);
    Ok(input)
}

fn loose_kind(path: &str) -> Kind {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or("");
    let dir = parts.next().unwrap_or("");
    if file == PUBLISHER_FILE {
        Kind::Publisher
    } else if dir == INTERFACES_DIR {
        Kind::Interface
    } else {
        Kind::Document
    }
}

/// The files read, and those that were not (see [`read_file`]).
type ReadAll = (Vec<(Kind, Source)>, Vec<(String, Unread)>);

pub(crate) fn read_all(root: &Path, rels: Vec<String>) -> Result<ReadAll, LoadError> {
    let in_repo = !root.as_os_str().is_empty();
    let results = rels
        .into_par_iter()
        .map(|rel| {
            let path = root.join(&rel);
            let bytes = match read_file(&path).map_err(read_err(&path))? {
                Ok(bytes) => bytes,
                Err(why) => return Ok(Err((rel, why))),
            };
            let kind = if in_repo {
                validate::classify(&rel).unwrap_or(Kind::Document)
            } else {
                loose_kind(&rel)
            };
            Ok(Ok((kind, Source { path: rel, bytes })))
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    let mut read = Vec::new();
    let mut unread = Vec::new();
    for r in results {
        match r {
            Ok(file) => read.push(file),
            Err(u) => unread.push(u),
        }
    }
    Ok((read, unread))
}

/// The folders in `dir`, sorted; a link or a folder with a bad name goes to
/// `unread` (as `prefix/<name>`, repo-relative when `dir` is `publishers/`).
fn subdirs(dir: &Path, unread: &mut Vec<(String, Unread)>) -> Result<Vec<String>, LoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(read_err(dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(read_err(dir))?;
        let ft = e.file_type().map_err(read_err(dir))?;
        let name = e.file_name();
        let rel = |text: &str| format!("{PUBLISHERS_DIR}/{text}");
        match path_text(name.as_encoded_bytes()) {
            Err(shown) if ft.is_dir() => unread.push((rel(&shown), Unread::Name)),
            Ok(text) if ft.is_symlink() => unread.push((rel(text), Unread::Link)),
            Ok(text) if ft.is_dir() => out.push(text.to_string()),
            _ => {}
        }
    }
    out.sort();
    Ok(out)
}

/// The `.json` entries directly in `dir` that are not folders, as
/// `prefix/...` paths, sorted; a bad name goes to `unread`.
fn json_files(
    dir: &Path,
    prefix: &str,
    unread: &mut Vec<(String, Unread)>,
) -> Result<Vec<String>, LoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(vec![])
        }
        Err(e) => return Err(read_err(dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(read_err(dir))?;
        let ft = e.file_type().map_err(read_err(dir))?;
        let name = e.file_name();
        if Path::new(&name).extension().is_none_or(|x| x != "json") || ft.is_dir() {
            continue;
        }
        match path_text(name.as_encoded_bytes()) {
            Err(shown) => unread.push((format!("{prefix}/{shown}"), Unread::Name)),
            // Read by `read_file`, which refuses a link, FIFO or device.
            Ok(text) => out.push(format!("{prefix}/{text}")),
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn reads_the_layout_and_skips_signed_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "registry.json", r#"{"name": "t", "title": "T"}"#);
        write(root, "interfaces/fhir.json", "{}");
        write(root, "interfaces/README.md", "x");
        write(root, "publishers/acme/publisher.json", "{}");
        write(root, "publishers/acme/acme.json", "{\"signed\": {}}");
        write(
            root,
            "publishers/acme/services/com.acme.app/1.0.0.json",
            "{}",
        );
        write(root, "publishers/acme/services/stray.json", "{}");
        write(root, "keys/root.json", "{}");
        let input = read_input(root).unwrap();
        let paths = |v: &[Source]| v.iter().map(|s| s.path.clone()).collect::<Vec<_>>();
        assert_eq!(input.config.as_ref().unwrap().path, "registry.json");
        assert_eq!(paths(&input.interfaces), ["interfaces/fhir.json"]);
        assert_eq!(paths(&input.publishers), ["publishers/acme/publisher.json"]);
        let mut docs = paths(&input.documents);
        docs.sort();
        assert_eq!(
            docs,
            [
                "publishers/acme/services/com.acme.app/1.0.0.json",
                "publishers/acme/services/stray.json"
            ]
        );
        assert_eq!(
            input
                .documents
                .iter()
                .find(|s| s.path.ends_with("1.0.0.json"))
                .unwrap()
                .bytes,
            b"{}"
        );
    }

    #[test]
    fn finds_the_root_from_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "registry.json", "{}");
        write(root, "publishers/a/services/x.y/1.json", "{}");
        let found = find_root(&root.join("publishers/a/services/x.y/1.json")).unwrap();
        assert_eq!(found, std::path::absolute(root).unwrap());
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(find_root(outside.path()), None);
        assert!(matches!(
            read_input(outside.path()),
            Err(LoadError::NotARegistry { .. })
        ));
    }

    #[test]
    fn loose_kinds() {
        for (path, kind) in [
            ("a/b/1.0.json", Kind::Document),
            ("x/publisher.json", Kind::Publisher),
            ("reg/interfaces/fhir.json", Kind::Interface),
            ("doc.json", Kind::Document),
        ] {
            assert_eq!(loose_kind(path), kind, "{path}");
        }
    }
}
