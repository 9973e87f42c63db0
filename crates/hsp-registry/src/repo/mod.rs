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
//! ```text
//! let repo = repo::load(Path::new("examples/registry"))?;
//! for d in &repo.diagnostics { eprintln!("{d}"); }
//! if repo.has_errors() { anyhow::bail!("the registry has errors"); }
//! for doc in &repo.documents { /* doc.path, doc.bytes, doc.value */ }
//! ```

mod cache;
mod folder;
mod scan;
mod walk;

use std::io;
use std::path::{Path, PathBuf};

use hsp_check::{self as validate, Kind, RepoInput, Source};
use hsp_index::registry::{
    CONFIG_FILE, INTERFACES_DIR, PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR,
};
use rayon::prelude::*;

pub use cache::{folder as cache_folder, now_ns, Cache, RoleRecord, StatKey};
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
    let mut input = RepoInput::default();
    for (kind, source) in read_all(root, rels)? {
        input.push(kind, source);
    }
    Ok(input)
}

/// The repo-relative paths of a registry repo's files.
struct Listing {
    /// `registry.json`, interfaces and publisher records.
    others: Vec<String>,
    /// `publishers/<name>/services/**.json`, sorted.
    documents: Vec<String>,
}

/// A registry repo's files other than documents, and its publisher folders.
struct Records {
    /// `registry.json`, interfaces and publisher records.
    others: Vec<String>,
    /// The names of the folders in `publishers/`, sorted.
    folders: Vec<String>,
}

fn records(root: &Path) -> Result<Records, LoadError> {
    if !root.join(CONFIG_FILE).is_file() {
        return Err(LoadError::NotARegistry {
            path: root.to_path_buf(),
        });
    }
    let mut others = vec![CONFIG_FILE.to_string()];
    others.extend(json_files(&root.join(INTERFACES_DIR), INTERFACES_DIR)?);
    let publishers = root.join(PUBLISHERS_DIR);
    let folders = subdirs(&publishers)?;
    others.extend(
        folders
            .iter()
            .filter(|name| publishers.join(name).join(PUBLISHER_FILE).is_file())
            .map(|name| format!("{PUBLISHERS_DIR}/{name}/{PUBLISHER_FILE}")),
    );
    Ok(Records { others, folders })
}

/// `publishers/<folder>/services`, repo-relative.
fn services_dir(folder: &str) -> String {
    format!("{PUBLISHERS_DIR}/{folder}/{SERVICES_DIR}")
}

fn list(root: &Path) -> Result<Listing, LoadError> {
    let Records { others, folders } = records(root)?;
    // One publisher folder per task: listing 100,000 documents is I/O-bound.
    let documents = folders
        .into_par_iter()
        .map(|name| {
            let mut rels = Vec::new();
            walk::json_files_at(root, &services_dir(&name), &mut |found| {
                rels.push(found.rel);
                Ok(())
            })?;
            rels.sort();
            Ok(rels)
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    Ok(Listing {
        others,
        documents: documents.into_iter().flatten().collect(),
    })
}

/// Reads loose files and folders that are not in a registry repo: every `.json`
/// file is a document, except `publisher.json` and files in an `interfaces`
/// folder. Paths in diagnostics are as given.
pub fn read_loose(paths: &[PathBuf]) -> Result<RepoInput, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p).sort_by_file_name() {
                let e = e.map_err(|e| LoadError::Read {
                    path: e.path().unwrap_or(p).to_path_buf(),
                    source: e.into(),
                })?;
                if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json") {
                    let path = e.path().strip_prefix(".").unwrap_or(e.path());
                    files.push(path.to_string_lossy().replace('\\', "/"));
                }
            }
        } else {
            files.push(p.to_string_lossy().replace('\\', "/"));
        }
    }
    let mut input = RepoInput::default();
    for (kind, source) in read_all(Path::new(""), files)? {
        input.push(kind, source);
    }
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

fn read_all(root: &Path, rels: Vec<String>) -> Result<Vec<(Kind, Source)>, LoadError> {
    let in_repo = !root.as_os_str().is_empty();
    rels.into_par_iter()
        .map(|rel| {
            let path = root.join(&rel);
            let bytes = std::fs::read(&path).map_err(read_err(&path))?;
            let kind = if in_repo {
                validate::classify(&rel).unwrap_or(Kind::Document)
            } else {
                loose_kind(&rel)
            };
            Ok((kind, Source { path: rel, bytes }))
        })
        .collect()
}

fn subdirs(dir: &Path) -> Result<Vec<String>, LoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(read_err(dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(read_err(dir))?;
        if e.file_type().map_err(read_err(dir))?.is_dir() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// `.json` files directly in `dir`, as `prefix/...` paths, sorted.
fn json_files(dir: &Path, prefix: &str) -> Result<Vec<String>, LoadError> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1).max_depth(1) {
        let e = e.map_err(|e| LoadError::Read {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into(),
        })?;
        if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json") {
            let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.push(format!("{prefix}/{rel}"));
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
