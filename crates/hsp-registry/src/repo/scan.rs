//! The streaming load of `hsp build`: every check rule, but only a compact
//! summary kept per document, and per publisher folder what the later steps
//! need.
//!
//! [`scan`] reads the registry config, interfaces and publisher records whole
//! (they are few and small), then walks each publisher folder in parallel.
//!
//! - A folder whose files all have the identity on disk its
//!   [`FolderRecord`](super::cache::FolderRecord)
//!   recorded (and whose record was made under the same publisher records,
//!   and whose service API files OUT still serves) is taken from the record:
//!   its diagnostics, documents (path, length, sha256) and
//!   [`Products`](super::cache::Products), with no document read and no
//!   summary decoded.
//!   ([`super::folder`] scans one folder either way.)
//! - Any other folder is read as before: each document not in the content-hash
//!   shard ([`super::cache`]) is read, hashed, parsed and checked, the others'
//!   summaries are decoded from the shard, and its products are computed
//!   afresh ([`Folder::summaries`] is then set; the build adds the service
//!   API parts and writes the record).
//!
//! The cross-file rules ([`check_documents`]) then need every summary, except
//! when the registry is provably clean: no error anywhere, every folder clean
//! by itself ([`validate::folder_is_clean`]) and every open-source need met
//! by the providers of all folders. Then they find nothing (see
//! `folder_is_clean`); otherwise every folder is read with its summaries and
//! the rules run over all of them, a document they report on read again to
//! place the problem at its line and column.
//!
//! The diagnostics are those of [`super::load`] (`hsp check`), the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hsp_check::{
    self as validate, check_documents, Context, Diagnostic, Finding, LicencePolicy, Loaded,
    Providers, Repo, Source,
};
use hsp_index::{Interface, Publisher};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::cache::{self, Cache};
use super::folder::{scan_folder, Folder};
use super::{read_err, records, LoadError, Records};
use crate::summary::DocSummary;

/// What the build keeps of one document's file.
#[derive(Clone, Debug, PartialEq)]
pub struct ScannedDoc {
    /// Repo-relative path.
    pub path: String,
    pub length: u64,
    /// Hex sha256 of the bytes validated.
    pub sha256: String,
    /// Whether these bytes were handed to the scan's [`Sink`] (read in this
    /// scan, not taken from the cache).
    pub copied: bool,
}

/// Receives each document read, as read (repo-relative path, bytes, hex
/// sha256): `hsp build` writes a first build's copies while scanning.
pub type Sink<'a> = dyn Fn(&str, &[u8], &str) -> std::io::Result<()> + Sync + 'a;

/// Whether OUT serves an API file at this path with this hex sha256.
pub type Served<'a> = crate::api::Served<'a>;

/// A scanned repo.
pub struct Scanned {
    /// Config, interfaces and publishers; every diagnostic, sorted. No documents.
    pub repo: Repo,
    /// Every publisher folder, by name.
    pub folders: Vec<Folder>,
    /// Documents read from disk, and taken from the cache.
    pub read: usize,
    pub cached: usize,
    /// The build cache the scan used.
    pub cache: Cache,
    /// sha256 over the publisher records (see `FolderRecord::records`).
    pub records: String,
}

/// Every parsed document of `folders`, by path.
pub fn documents(folders: &[Folder]) -> Vec<ScannedDoc> {
    let mut docs: Vec<ScannedDoc> = folders.iter().flat_map(Folder::documents).collect();
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    docs
}

/// How [`scan`] uses the content-hash cache in a folder (see [`cache::folder`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// Read and update it.
    Use(PathBuf),
    /// Ignore what it holds (a clean build), but write what this scan learnt.
    Refresh(PathBuf),
}

/// sha256 over the publisher records (paths and bytes).
fn records_hash(publishers: &[Source]) -> String {
    let mut h = Sha256::new();
    for p in publishers {
        h.update((p.path.len() as u64).to_le_bytes());
        h.update(p.path.as_bytes());
        h.update((p.bytes.len() as u64).to_le_bytes());
        h.update(&p.bytes);
    }
    hex::encode(h.finalize())
}

/// What scanning one folder needs of the whole scan.
pub(super) struct Env<'a> {
    pub(super) root: &'a Path,
    pub(super) cache: &'a Cache,
    pub(super) mode: &'a CacheMode,
    pub(super) sink: Option<&'a Sink<'a>>,
    pub(super) started: i128,
    pub(super) ctx: &'a Context<'a>,
    pub(super) records: &'a str,
    pub(super) publishers: &'a [Loaded<Publisher>],
    pub(super) interfaces: &'a [Loaded<Interface>],
    pub(super) licences: &'a LicencePolicy,
    pub(super) served: &'a Served<'a>,
}

/// Reads and validates the registry repo at `root`, keeping a summary per
/// document (see the module docs), and hands each document read to `sink`.
pub fn scan(
    root: &Path,
    mode: &CacheMode,
    sink: Option<&Sink>,
    served: &Served,
) -> Result<Scanned, LoadError> {
    scan_at(root, mode, sink, served, cache::now_ns())
}

/// [`scan`], taking `started` (ns since the epoch) as the time the scan began.
fn scan_at(
    root: &Path,
    mode: &CacheMode,
    sink: Option<&Sink>,
    served: &Served,
    started: i128,
) -> Result<Scanned, LoadError> {
    let Records {
        others,
        folders,
        mut unread,
    } = records(root)?;
    let (small, more) = super::read_all(root, others)?;
    unread.extend(more);
    let mut input = validate::RepoInput::default();
    for (kind, source) in small {
        input.push(kind, source);
    }
    let context = cache::context(
        input
            .config
            .iter()
            .chain(&input.interfaces)
            .map(|s| (s.path.as_str(), s.bytes.as_slice())),
    );
    let records = records_hash(&input.publishers);
    let mut repo = validate::validate_files(input.config, input.interfaces, input.publishers);
    repo.files += unread.len();
    let licences = repo.licence_policy();
    let by_id = repo.interfaces_by_id();
    let yanks = repo
        .config
        .as_ref()
        .map_or(&[][..], |c| c.value.yanks.as_slice());
    let ctx = Context {
        licences: &licences,
        artifacts: repo.artifact_policy(),
        interfaces: Some(&by_id),
        yanks,
    };
    let cache = match mode {
        CacheMode::Use(dir) | CacheMode::Refresh(dir) => Cache::new(dir, context),
    };
    let env = Env {
        root,
        cache: &cache,
        mode,
        sink,
        started,
        ctx: &ctx,
        records: &records,
        publishers: &repo.publishers,
        interfaces: &repo.interfaces,
        licences: &licences,
        served,
    };

    let mut scanned: Vec<Folder> = folders
        .par_iter()
        .map(|name| scan_folder(&env, name, true))
        .collect::<Result<_, _>>()?;
    cache.retain(&folders.iter().map(String::as_str).collect::<Vec<_>>());

    let mut diags: Vec<Diagnostic> = unread
        .iter()
        .map(|(path, why)| why.diagnostic(path))
        .collect();
    for f in &scanned {
        let paths: Vec<&str> = f.index.iter().map(|(p, ..)| p).collect();
        for (i, d) in &f.diagnostics {
            let path = paths.get(*i as usize).copied().unwrap_or_default();
            diags.extend(d.restore(path));
        }
    }
    let clean = !repo.has_errors()
        && !diags.iter().any(|d| !d.code.is_warning())
        && scanned.iter().all(|f| f.products.clean)
        && needs_met(&scanned);
    if !clean {
        // Every summary is needed: read the folders taken from their records.
        for f in scanned.iter_mut().filter(|f| f.summaries.is_none()) {
            *f = scan_folder(&env, &f.name, false)?;
        }
        let mut docs: Vec<(ScannedDoc, &DocSummary)> = scanned
            .iter()
            .flat_map(|f| f.documents().into_iter().zip(f.summaries.iter().flatten()))
            .collect();
        docs.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        let facts: Vec<(&str, &DocSummary)> =
            docs.iter().map(|(d, s)| (d.path.as_str(), *s)).collect();
        let findings = check_documents(&facts, &repo.interfaces, &repo.publishers, true, &licences);
        let paths: Vec<&str> = docs.iter().map(|(d, _)| d.path.as_str()).collect();
        diags.extend(locate_all(root, &paths, findings));
    }
    if let Some(config) = &repo.config {
        // Every document's location is its id and version (E070), so the
        // paths name the registry's versions without reading a document.
        let versions = scanned
            .iter()
            .flat_map(|f| f.index.iter())
            .filter_map(|(p, ..)| {
                let (_, target) = super::split_path(p)?;
                let (id, file) = target.strip_prefix("services/")?.split_once('/')?;
                Some((id, file.strip_suffix(".json")?))
            });
        diags.extend(validate::check_yanks(config, versions));
    }
    let found: usize = scanned.iter().map(|f| f.index.len()).sum();
    let cached = scanned.iter().map(|f| f.cached).sum();
    let read = scanned.iter().map(|f| f.read).sum();
    drop(by_id);
    repo.diagnostics.append(&mut diags);
    repo.sort_diagnostics();
    repo.files += found;
    Ok(Scanned {
        repo,
        folders: scanned,
        read,
        cached,
        cache,
        records,
    })
}

/// Whether every open-source need of every folder is met by the providers
/// of all folders (the open-source rule finds nothing).
fn needs_met(folders: &[Folder]) -> bool {
    let mut providers = Providers::default();
    for (interface, version, id) in folders.iter().flat_map(|f| &f.products.provides) {
        providers.add(interface, version, id);
    }
    folders
        .iter()
        .flat_map(|f| &f.products.needs)
        .all(|(interface, range, id)| {
            hsp_index::version::parse_range(range)
                .is_ok_and(|r| providers.satisfies(interface, &r, id))
        })
}

/// Places cross-file findings in their documents, reading each such document
/// again (only those: a valid registry has none).
fn locate_all(root: &Path, paths: &[&str], findings: Vec<(usize, Finding)>) -> Vec<Diagnostic> {
    let mut by_doc: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
    for (n, f) in findings {
        by_doc.entry(n).or_default().push(f);
    }
    by_doc
        .into_par_iter()
        .flat_map_iter(|(n, fs)| {
            let path = paths[n];
            // A file that vanished or changed kind since is placed at 1:1;
            // the build fails anyway.
            let bytes = super::read_file(&root.join(path))
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            validate::resolve_all(fs, path, &bytes)
        })
        .collect()
}

/// The documents `docs` describe, read and parsed again (for the website),
/// each checked to still have the bytes the scan validated.
pub fn read_documents(
    root: &Path,
    docs: &[ScannedDoc],
) -> anyhow::Result<Vec<hsp_index::Document>> {
    docs.par_iter()
        .map(|d| {
            let path = root.join(&d.path);
            let bytes = super::read_file(&path)
                .map_err(read_err(&path))?
                .map_err(|why| {
                    anyhow::anyhow!(
                        "{}: {} (hint: build again)",
                        path.display(),
                        why.diagnostic(&d.path).message
                    )
                })?;
            if bytes.len() as u64 != d.length || hex::encode(Sha256::digest(&bytes)) != d.sha256 {
                anyhow::bail!(
                    "{}: changed during the build (hint: build again)",
                    path.display()
                );
            }
            serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e} (hint: build again)", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::folder::target_of;
    use super::*;

    fn copy_tree(from: &Path, to: &Path) {
        for e in walkdir::WalkDir::new(from) {
            let e = e.unwrap();
            let dest = to.join(e.path().strip_prefix(from).unwrap());
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&dest).unwrap();
            } else {
                std::fs::copy(e.path(), &dest).unwrap();
            }
        }
    }

    /// The fixture registry plus every broken document of the check corpus, in
    /// the folder of a publisher.
    fn broken_registry() -> tempfile::TempDir {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&fixtures.join("registry"), dir.path());
        let publisher = std::fs::read_dir(dir.path().join("publishers"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let services = publisher.join("services/broken.cases");
        std::fs::create_dir_all(&services).unwrap();
        for e in std::fs::read_dir(fixtures.join("broken")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                std::fs::copy(&p, services.join(p.file_name().unwrap())).unwrap();
            }
        }
        dir
    }

    #[test]
    fn the_scan_reports_what_a_full_load_reports_with_and_without_the_cache() {
        let repo = broken_registry();
        let root = repo.path();
        let full = super::super::load(root).unwrap();
        assert!(full.errors() > 40, "the corpus has errors");
        let (cache, unused) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cases = [
            (
                "without a cache",
                CacheMode::Refresh(unused.path().into()),
                None,
            ),
            (
                "filling the cache",
                CacheMode::Refresh(cache.path().into()),
                None,
            ),
            (
                "from the cache",
                CacheMode::Use(cache.path().into()),
                Some(0),
            ),
        ];
        // As if the scans ran an hour later: the files just copied are not
        // racy, so they are recorded with their identity.
        let later = cache::now_ns() + 3600 * 1_000_000_000;
        for (name, mode, read) in cases {
            let scanned = scan_at(root, &mode, None, &|_, _| false, later).unwrap();
            assert_eq!(scanned.repo.diagnostics, full.diagnostics, "{name}");
            assert_eq!(scanned.repo.files, full.files, "{name}");
            let documents = documents(&scanned.folders);
            let paths: Vec<&str> = documents.iter().map(|d| d.path.as_str()).collect();
            let want: Vec<&str> = full.documents.iter().map(|d| d.path.as_str()).collect();
            assert_eq!(paths, want, "{name}");
            let summaries: HashMap<&str, &DocSummary> = scanned
                .folders
                .iter()
                .flat_map(|f| {
                    let docs = f.index.iter().filter(|(.., parsed)| *parsed);
                    docs.map(|(p, ..)| p).zip(f.summaries.iter().flatten())
                })
                .collect();
            for (d, f) in documents.iter().zip(&full.documents) {
                assert_eq!(d.sha256, hsp_tuf::sha256_hex(&f.bytes), "{name}");
                assert_eq!(d.length, f.bytes.len() as u64);
                let want = DocSummary::new(&f.value, target_of(&f.path).to_string());
                assert_eq!(summaries[d.path.as_str()], &want);
            }
            if let Some(read) = read {
                assert_eq!(scanned.read, read, "{name}");
                let documents = full.files - 1 - full.interfaces.len() - full.publishers.len();
                assert_eq!(scanned.cached, documents, "{name}");
            }
        }
    }
}
