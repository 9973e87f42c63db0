//! The streaming load of `hsp build`: every check rule, but only a compact
//! summary kept per document.
//!
//! [`scan`] reads the registry config, interfaces and publisher records whole
//! (they are few and small), then reads, hashes, parses and checks each
//! document in parallel and keeps its [`ScannedDoc`] (path, length, sha256 and
//! the [`DocSummary`] the cross-file rules, the API and the publisher checks
//! need), dropping its bytes and parsed value. The cross-file rules then run
//! over the summaries; a document they report on is read again to place the
//! problem at its line and column. With the cache ([`super::cache`]), documents
//! whose identity on disk did not change are not read at all.
//!
//! The diagnostics are those of [`super::load`] (`hsp check`), the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hsp_index::validate::{
    self, check_documents, Context, Diagnostic, Facts, Finding, Repo, Source,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::cache::{self, Cache, CachedDiagnostic, Entry};
use super::walk::{self, Found};
use super::{read_err, records, services_dir, LoadError, Records};
use crate::build::api::DocSummary;

/// What the build keeps of one document's file (its summary is in
/// [`Scanned::summaries`]).
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

/// A scanned repo.
pub struct Scanned {
    /// Config, interfaces and publishers; every diagnostic, sorted. No documents.
    pub repo: Repo,
    /// Documents that parsed (or whose only problems were unknown fields), by path.
    pub documents: Vec<ScannedDoc>,
    /// The summary of each of `documents`, in the same order.
    pub summaries: Vec<DocSummary>,
    /// Documents read from disk, and taken from the cache.
    pub read: usize,
    pub cached: usize,
    /// The build cache the scan used (it also records the API files).
    pub cache: Cache,
}

/// How [`scan`] uses the content-hash cache in a folder (see [`cache::folder`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// Read and update it.
    Use(PathBuf),
    /// Ignore what it holds (a clean build), but write what this scan learnt.
    Refresh(PathBuf),
}

impl Facts for DocSummary {
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> &str {
        &self.entry.version
    }
    fn publisher(&self) -> &str {
        &self.publisher
    }
    fn license(&self) -> &str {
        &self.entry.license
    }
    fn yanked(&self) -> bool {
        self.entry.yanked.is_some()
    }
    fn provides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entry
            .provides
            .iter()
            .map(|p| (p.interface.as_str(), p.version.as_str()))
    }
    fn requires(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.entry
            .requires
            .iter()
            .map(|r| (r.interface.as_str(), r.version.as_str(), r.optional))
    }
}

/// A document's TUF target path (`services/<id>/<file>`) from its repo path.
fn target_of(path: &str) -> &str {
    crate::build::publishers::split_path(path).map_or(path, |(_, target)| target)
}

/// Reads, hashes, parses and checks one document.
fn read_document(
    root: &Path,
    found: Found,
    ctx: &Context,
    sink: Option<&Sink>,
) -> Result<Entry, LoadError> {
    let bytes = found.read(root)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(sink) = sink {
        sink(&found.rel, &bytes, &sha256).map_err(|source| LoadError::Copy {
            path: root.join(&found.rel),
            source,
        })?;
    }
    let key = found.key;
    let src = Source {
        path: found.rel,
        bytes,
    };
    let (doc, diagnostics) = validate::check_source(&src, ctx);
    let summary = doc.map(|d| DocSummary::new(&d, target_of(&src.path).to_string()));
    Ok(Entry {
        // The stat was taken before the read: if the file changed in between,
        // the key is stale and the next scan reads the file again.
        key: (key.len == src.bytes.len() as u64).then_some(key),
        length: src.bytes.len() as u64,
        sha256,
        summary,
        diagnostics: diagnostics.iter().map(CachedDiagnostic::new).collect(),
        path: src.path,
        read_now: true,
    })
}

/// Reads and validates the registry repo at `root`, keeping a summary per
/// document (see the module docs), and hands each document read to `sink`.
pub fn scan(root: &Path, mode: &CacheMode, sink: Option<&Sink>) -> Result<Scanned, LoadError> {
    scan_at(root, mode, sink, cache::now_ns())
}

/// [`scan`], taking `started` (ns since the epoch) as the time the scan began.
fn scan_at(
    root: &Path,
    mode: &CacheMode,
    sink: Option<&Sink>,
    started: i128,
) -> Result<Scanned, LoadError> {
    let Records { others, folders } = records(root)?;
    let small = super::read_all(root, others)?;
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
    let mut repo = validate::validate_files(input.config, input.interfaces, input.publishers);
    let licences = repo.licence_policy();
    let by_id = repo.interfaces_by_id();
    let ctx = Context {
        licences: &licences,
        interfaces: Some(&by_id),
    };
    let cache = match mode {
        CacheMode::Use(dir) | CacheMode::Refresh(dir) => Cache::new(dir, context),
    };

    // Documents, one publisher folder (cache shard) at a time, in parallel.
    let results: Vec<Result<(Vec<Entry>, usize), LoadError>> = folders
        .par_iter()
        .map(|folder| {
            let mut known = match mode {
                CacheMode::Use(_) => cache.read(folder),
                CacheMode::Refresh(_) => HashMap::new(),
            };
            let recorded = known.len();
            // Shards already run in parallel: one shard's files in order.
            let mut hits = 0;
            let mut entries = Vec::with_capacity(recorded);
            walk::json_files_at(root, &services_dir(folder), &mut |found| {
                match known.remove(&found.rel) {
                    Some(e) if e.key == Some(found.key) && restorable(&e) => {
                        hits += 1;
                        entries.push(e);
                    }
                    _ => entries.push(read_document(root, found, &ctx, sink)?),
                }
                Ok(())
            })?;
            let changed = hits != entries.len() || recorded != entries.len();
            if changed {
                for e in &mut entries {
                    e.key = e.key.filter(|k| !k.is_racy(started));
                }
                if let Err(e) = cache.write(folder, &entries) {
                    eprintln!(
                        "warning: cannot write the build cache in {}: {e} (the next build reads every document again)",
                        cache.dir().display()
                    );
                }
            }
            Ok((entries, hits))
        })
        .collect();
    cache.retain(&folders.iter().map(String::as_str).collect::<Vec<_>>());

    let found: usize = results.iter().flatten().map(|(e, _)| e.len()).sum();
    let mut documents = Vec::with_capacity(found);
    let mut summaries = Vec::with_capacity(found);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut cached = 0;
    for r in results {
        let (entries, hits) = r?;
        cached += hits;
        for e in entries {
            diags.extend(e.diagnostics.iter().filter_map(|d| d.restore(&e.path)));
            if let Some(summary) = e.summary {
                documents.push(ScannedDoc {
                    path: e.path,
                    length: e.length,
                    sha256: e.sha256,
                    copied: e.read_now && sink.is_some(),
                });
                summaries.push(summary);
            }
        }
    }
    // By path, as `load` orders them (rules report the later of two duplicates).
    if !documents.windows(2).all(|w| w[0].path < w[1].path) {
        let mut pairs: Vec<(ScannedDoc, DocSummary)> =
            documents.into_iter().zip(summaries).collect();
        pairs.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        (documents, summaries) = pairs.into_iter().unzip();
    }

    let facts: Vec<(&str, &DocSummary)> = documents
        .iter()
        .zip(&summaries)
        .map(|(d, s)| (d.path.as_str(), s))
        .collect();
    let findings = check_documents(&facts, &repo.interfaces, &repo.publishers, true, &licences);
    diags.extend(locate_all(root, &documents, findings));
    drop(by_id);
    repo.diagnostics.append(&mut diags);
    repo.sort_diagnostics();
    repo.files += found;
    let read = found - cached;
    Ok(Scanned {
        repo,
        documents,
        summaries,
        read,
        cached,
        cache,
    })
}

/// Whether every diagnostic of a cached entry is known to this `hsp`.
fn restorable(e: &Entry) -> bool {
    e.diagnostics.iter().all(|d| d.restore(&e.path).is_some())
}

/// Places cross-file findings in their documents, reading each such document
/// again (only those: a valid registry has none).
fn locate_all(
    root: &Path,
    docs: &[ScannedDoc],
    findings: Vec<(usize, Finding)>,
) -> Vec<Diagnostic> {
    let mut by_doc: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
    for (n, f) in findings {
        by_doc.entry(n).or_default().push(f);
    }
    by_doc
        .into_par_iter()
        .flat_map_iter(|(n, fs)| {
            let path = &docs[n].path;
            // A file that vanished since is placed at 1:1; the build fails anyway.
            let bytes = std::fs::read(root.join(path)).unwrap_or_default();
            fs.into_iter()
                .map(|f| f.resolve(path, &bytes))
                .collect::<Vec<_>>()
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
            let bytes = std::fs::read(&path).map_err(read_err(&path))?;
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
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
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
            let scanned = scan_at(root, &mode, None, later).unwrap();
            assert_eq!(scanned.repo.diagnostics, full.diagnostics, "{name}");
            assert_eq!(scanned.repo.files, full.files, "{name}");
            let paths: Vec<&str> = scanned.documents.iter().map(|d| d.path.as_str()).collect();
            let want: Vec<&str> = full.documents.iter().map(|d| d.path.as_str()).collect();
            assert_eq!(paths, want, "{name}");
            let docs = scanned.documents.iter().zip(&scanned.summaries);
            for ((d, summary), f) in docs.zip(&full.documents) {
                assert_eq!(d.sha256, hsp_index::tuf::sha256_hex(&f.bytes), "{name}");
                assert_eq!(d.length, f.bytes.len() as u64);
                let want = DocSummary::new(&f.value, target_of(&f.path).to_string());
                assert_eq!(summary, &want);
            }
            if let Some(read) = read {
                assert_eq!(scanned.read, read, "{name}");
                let documents = full.files - 1 - full.interfaces.len() - full.publishers.len();
                assert_eq!(scanned.cached, documents, "{name}");
            }
        }
    }
}
