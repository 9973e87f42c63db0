//! The streaming load of `hsp build`: every check rule, but only a compact
//! summary kept per document, and per publisher folder what the later steps
//! need.
//!
//! [`scan`] reads the registry config, interfaces and publisher records whole
//! (they are few and small), then walks each publisher folder in parallel.
//!
//! - A folder whose files all have the identity on disk its [`FolderRecord`]
//!   recorded (and whose record was made under the same publisher records,
//!   and whose service API files OUT still serves) is taken from the record:
//!   its diagnostics, documents (path, length, sha256) and [`Products`], with
//!   no document read and no summary decoded.
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use hsp_check::{
    self as validate, check_documents, open_source_needs, Context, Diagnostic, Facts, Finding,
    LicencePolicy, Loaded, Providers, Repo, Source,
};
use hsp_index::{Interface, Publisher};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::cache::{
    self, Cache, CachedDiagnostic, Entry, FolderRecord, Index, Products, RoleRecord, StatKey,
};
use super::split_path;
use super::walk::{self, Found};
use super::{read_err, records, services_dir, LoadError, Records};
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

/// One publisher folder as scanned.
pub struct Folder {
    /// The folder's name (the publisher's, in a valid registry).
    pub name: String,
    /// Every document file, parsed or not, in walk order.
    pub index: Index,
    /// Each file's diagnostics, by position in `index`.
    pub diagnostics: Vec<(u32, CachedDiagnostic)>,
    pub products: Products,
    /// The summary of each parsed document (in `index` order), when the
    /// folder was read rather than taken from its record; its
    /// `products.services` are then still to be computed.
    pub summaries: Option<Vec<DocSummary>>,
    /// Which files this scan read and handed to the sink (empty: none).
    pub copied: Vec<bool>,
    /// The publisher's metadata as a previous build verified it.
    pub role: Option<RoleRecord>,
    /// Files read from disk, and taken from the cache.
    pub read: usize,
    pub cached: usize,
}

impl Folder {
    /// The parsed documents, in `index` order.
    pub fn documents(&self) -> Vec<ScannedDoc> {
        self.index
            .iter()
            .enumerate()
            .filter(|(_, (_, _, _, _, parsed))| *parsed)
            .map(|(i, (path, _, length, sha256, _))| ScannedDoc {
                path: path.to_string(),
                length,
                sha256: sha256.to_string(),
                copied: self.copied.get(i).copied().unwrap_or(false),
            })
            .collect()
    }

    /// The folder's record, to keep for the next build.
    pub fn record(&self, context: &str, records: &str) -> FolderRecord {
        FolderRecord {
            format: cache::FORMAT,
            context: context.to_string(),
            records: records.to_string(),
            index: self.index.clone(),
            diagnostics: self.diagnostics.clone(),
            products: self.products.clone(),
            role: self.role.clone(),
        }
    }
}

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
    /// sha256 over the publisher records (see [`FolderRecord::records`]).
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

/// A document's TUF target path (`services/<id>/<file>`) from its repo path.
fn target_of(path: &str) -> &str {
    split_path(path).map_or(path, |(_, target)| target)
}

/// Hashes, parses and checks one document's bytes (`key`: the identity
/// taken before they were read).
fn check_bytes(
    root: &Path,
    rel: String,
    key: StatKey,
    bytes: Vec<u8>,
    ctx: &Context,
    sink: Option<&Sink>,
) -> Result<Entry, LoadError> {
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(sink) = sink {
        sink(&rel, &bytes, &sha256).map_err(|source| LoadError::Copy {
            path: root.join(&rel),
            source,
        })?;
    }
    let src = Source { path: rel, bytes };
    let (doc, diagnostics) = validate::check_source(&src, ctx);
    let summary = doc.map(|d| DocSummary::new(&d, target_of(&src.path).to_string()));
    Ok(Entry {
        // If the file changed between the stat and the read, the key is
        // stale and the next scan reads the file again.
        key: (key.len == src.bytes.len() as u64).then_some(key),
        length: src.bytes.len() as u64,
        sha256,
        summary,
        diagnostics: diagnostics.iter().map(CachedDiagnostic::new).collect(),
        path: src.path,
        read_now: true,
    })
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
struct Env<'a> {
    root: &'a Path,
    cache: &'a Cache,
    mode: &'a CacheMode,
    sink: Option<&'a Sink<'a>>,
    started: i128,
    ctx: &'a Context<'a>,
    records: &'a str,
    publishers: &'a [Loaded<Publisher>],
    interfaces: &'a [Loaded<Interface>],
    licences: &'a LicencePolicy,
    served: &'a Served<'a>,
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
    let records = records_hash(&input.publishers);
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

    let mut diags: Vec<Diagnostic> = Vec::new();
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

/// The walk of one folder against its record: files found in the recorded
/// order with the recorded identities, until the first that is not.
struct Walked<'r> {
    record: Option<&'r FolderRecord>,
    /// How many leading files matched the record.
    matched: usize,
    /// From the first mismatch on: what the shard knew, and the entries.
    known: Option<HashMap<String, Entry>>,
    /// How many entries the shard held.
    recorded: usize,
    entries: Vec<Entry>,
    hits: usize,
}

/// Scans one publisher folder (see the module docs); with `use_record`
/// false, its record is not used (every summary is then at hand).
fn scan_folder(env: &Env, name: &str, use_record: bool) -> Result<Folder, LoadError> {
    let using = matches!(env.mode, CacheMode::Use(_));
    let record = (using && use_record)
        .then(|| env.cache.read_record(name))
        .flatten()
        .filter(|r| r.records == env.records && r.index.is_consistent())
        .filter(|r| {
            r.products
                .services
                .iter()
                .all(|s| (env.served)(&hsp_index::api::service_path(&s.id), &s.sha256))
        });
    let mut w = Walked {
        record: record.as_ref(),
        matched: 0,
        known: None,
        recorded: 0,
        entries: Vec::new(),
        hits: 0,
    };
    let recorded: Vec<(&str, Option<StatKey>)> = record
        .iter()
        .flat_map(|r| r.index.iter().map(|(p, k, ..)| (p, k)))
        .collect();
    walk::json_files_at(env.root, &services_dir(name), &mut |found| {
        if w.known.is_none() {
            match recorded.get(w.matched) {
                Some((path, Some(key))) if *path == found.rel && *key == found.key => {
                    w.matched += 1;
                    return Ok(());
                }
                _ => start_entries(env, name, &mut w)?,
            }
        }
        take_or_read(env, found, &mut w)
    })?;
    let whole = w.known.is_none() && w.matched == recorded.len();
    drop(recorded);
    match record {
        Some(r) if whole => {
            let n = r.index.len();
            return Ok(Folder {
                name: name.to_string(),
                index: r.index,
                diagnostics: r.diagnostics,
                products: r.products,
                summaries: None,
                copied: Vec::new(),
                role: r.role,
                read: 0,
                cached: n,
            });
        }
        _ if w.known.is_none() => start_entries(env, name, &mut w)?,
        _ => {}
    }
    let Walked {
        mut entries,
        hits,
        recorded,
        ..
    } = w;
    let changed = hits != entries.len() || recorded != entries.len();
    if changed {
        for e in &mut entries {
            e.key = e.key.filter(|k| !k.is_racy(env.started));
        }
        if let Err(e) = env.cache.write(name, &entries) {
            eprintln!(
                "warning: cannot write the build cache in {}: {e} (the next build reads every document again)",
                env.cache.dir().display()
            );
        }
    }
    Ok(folder_of(env, name, entries, hits))
}

/// Switches the walk of `name` to reading entries: loads the shard, and takes
/// the files that matched the record so far from it (or reads them).
fn start_entries(env: &Env, name: &str, w: &mut Walked) -> Result<(), LoadError> {
    let mut known = match env.mode {
        CacheMode::Use(_) => env.cache.read(name),
        CacheMode::Refresh(_) => HashMap::new(),
    };
    w.recorded = known.len();
    if let Some(r) = w.record {
        for (path, key, ..) in r.index.iter().take(w.matched) {
            let key = key.expect("matched files are keyed");
            match known.remove(path) {
                Some(e) if e.key == Some(key) && restorable(&e) => {
                    w.hits += 1;
                    w.entries.push(e);
                }
                _ => {
                    let full = env.root.join(path);
                    let bytes = std::fs::read(&full).map_err(read_err(&full))?;
                    w.entries.push(check_bytes(
                        env.root,
                        path.to_string(),
                        key,
                        bytes,
                        env.ctx,
                        env.sink,
                    )?);
                }
            }
        }
    }
    w.known = Some(known);
    Ok(())
}

fn take_or_read(env: &Env, found: Found, w: &mut Walked) -> Result<(), LoadError> {
    let known = w.known.as_mut().expect("reading entries");
    match known.remove(&found.rel) {
        Some(e) if e.key == Some(found.key) && restorable(&e) => {
            w.hits += 1;
            w.entries.push(e);
        }
        _ => {
            let bytes = found.read(env.root)?;
            w.entries.push(check_bytes(
                env.root, found.rel, found.key, bytes, env.ctx, env.sink,
            )?);
        }
    }
    Ok(())
}

/// A folder from its entries (in walk order): index, diagnostics, summaries
/// and the check products.
fn folder_of(env: &Env, name: &str, entries: Vec<Entry>, hits: usize) -> Folder {
    let mut index = Index::default();
    let mut diagnostics = Vec::new();
    let mut summaries = Vec::new();
    let mut copied = Vec::with_capacity(entries.len());
    let mut paths = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        index.push(&e.path, e.key, e.length, &e.sha256, e.summary.is_some());
        diagnostics.extend(e.diagnostics.into_iter().map(|d| (i as u32, d)));
        copied.push(e.read_now && env.sink.is_some());
        if let Some(s) = e.summary {
            paths.push(e.path);
            summaries.push(s);
        }
    }
    let n = index.len();
    let products = check_products(env, &paths, &summaries);
    Folder {
        name: name.to_string(),
        index,
        diagnostics,
        products,
        summaries: Some(summaries),
        copied,
        role: None,
        read: n - hits,
        cached: hits,
    }
}

/// What the cross-file rules need of one folder's documents.
fn check_products(env: &Env, paths: &[String], summaries: &[DocSummary]) -> Products {
    let mut docs: Vec<(&str, &DocSummary)> =
        paths.iter().map(String::as_str).zip(summaries).collect();
    docs.sort_by(|a, b| a.0.cmp(b.0));
    let clean = validate::folder_is_clean(&docs, env.publishers);
    let mut provides = HashSet::new();
    let mut needs = HashSet::new();
    let known = |id: &str| env.interfaces.iter().any(|i| i.value.id == id);
    let is_open = |license: &str| env.licences.is_open(license).unwrap_or(false);
    for (_, d) in &docs {
        if !d.yanked() {
            for (interface, version) in d.provides() {
                provides.insert((interface, version, d.id()));
            }
        }
        for need in open_source_needs(*d, known, is_open) {
            needs.insert((need.interface, need.range_text, d.id()));
        }
    }
    let owned = |set: HashSet<(&str, &str, &str)>| {
        let mut v: Vec<(String, String, String)> = set
            .into_iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        v.sort();
        v
    };
    Products {
        clean,
        provides: owned(provides),
        needs: owned(needs),
        services: Vec::new(),
    }
}

/// Whether every diagnostic of a cached entry is known to this `hsp`.
fn restorable(e: &Entry) -> bool {
    e.diagnostics.iter().all(|d| d.restore(&e.path).is_some())
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
