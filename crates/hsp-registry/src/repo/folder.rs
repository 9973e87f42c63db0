//! One publisher folder, scanned (see [`super::scan`]): taken whole from its
//! [`FolderRecord`] when every file kept the identity the record holds, or
//! walked, each document taken from the content-hash shard or read, hashed,
//! parsed and checked, and the folder's [`Products`] computed afresh.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use hsp_check::{self as validate, open_source_needs, Context, Facts, Source, Unread};
use sha2::{Digest, Sha256};

use super::cache::{
    self, CachedDiagnostic, Entry, FolderRecord, Index, Products, RoleRecord, StatKey,
};
use super::scan::{CacheMode, Env, ScannedDoc, Sink};
use super::walk::{self, Found};
use super::{read_err, read_file, services_dir, split_path, LoadError};
use crate::summary::DocSummary;

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

/// A document's TUF target path (`services/<id>/<file>`) from its repo path.
pub(super) fn target_of(path: &str) -> &str {
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
    let summary = doc.map(|mut d| {
        hsp_index::registry::apply_yanks(ctx.yanks, &d.id, &d.version, &mut d.yanked);
        DocSummary::new(&d, target_of(&src.path).to_string())
    });
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
pub(super) fn scan_folder(env: &Env, name: &str, use_record: bool) -> Result<Folder, LoadError> {
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
            if found.unread.is_some() {
                // Never in a record: the folder is read entry by entry.
                start_entries(env, name, &mut w)?;
                return take_or_read(env, found, &mut w);
            }
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
                    let entry = match read_file(&full).map_err(read_err(&full))? {
                        Ok(bytes) => {
                            check_bytes(env.root, path.to_string(), key, bytes, env.ctx, env.sink)?
                        }
                        Err(why) => unread_entry(path.to_string(), &why),
                    };
                    w.entries.push(entry);
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
            let entry = match found.read(env.root)? {
                Ok(bytes) => check_bytes(env.root, found.rel, found.key, bytes, env.ctx, env.sink)?,
                Err(why) => unread_entry(found.rel, &why),
            };
            w.entries.push(entry);
        }
    }
    Ok(())
}

/// The entry of a file that is not read: its finding, no key (so it is
/// looked at again by every scan), no summary.
fn unread_entry(path: String, why: &Unread) -> Entry {
    Entry {
        key: None,
        length: 0,
        sha256: "0".repeat(64),
        summary: None,
        diagnostics: vec![CachedDiagnostic::new(&why.diagnostic(&path))],
        path,
        read_now: false,
    }
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
