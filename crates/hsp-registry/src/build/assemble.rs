//! The phase "assemble" of a build: every file of OUT (metadata, API files,
//! document copies) in publication order, which of them OUT already has, and
//! the report's figures; and the website's input.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;

use super::{Build, BuildOptions, Verified};
use crate::metadata::{self, target_file_path, METADATA_DIR};
use crate::publish::{CopyFile, OutFile};
use crate::repo::ScannedDoc;
use crate::{api, publishers};

/// What the phase "assemble" produced: every file of OUT, in publication
/// order (see [`publish::publish`]).
pub(super) struct Assembled<'a> {
    pub(super) files: Vec<OutFile<'a>>,
    pub(super) copies: Vec<CopyFile<'a>>,
    /// `root.json` and `timestamp.json`, written last (the commit point).
    pub(super) entry: Vec<OutFile<'a>>,
}

impl<'a> Build<'a> {
    /// Phase "assemble": every metadata file, API file and document copy of
    /// OUT (those OUT has already marked present), and the report's figures.
    pub(super) fn assemble<'v>(
        &mut self,
        scanned: &'v crate::repo::Scanned,
        verified: &'v Verified,
        top: &'v metadata::TopLevel,
        documents: &'v [Vec<ScannedDoc>],
    ) -> Assembled<'v>
    where
        'a: 'v,
    {
        let (keys, roles) = (&verified.keys, &verified.roles);
        let mut files: Vec<OutFile> = Vec::new();
        // Targets of roles OUT serves at the same version are known to be there
        // (a clean build, `--no-cache`, checks every file).
        let served_api_roles: HashSet<&str> = top
            .api_roles
            .iter()
            .filter(|(name, m)| self.serves(name, m.signed.version))
            .flat_map(|(_, m)| m.signed.targets.keys().map(String::as_str))
            .collect();
        for r in &keys.roots {
            files.push(meta(format!("{}.root.json", r.signed.version), r.raw()));
        }
        files.push(meta(
            format!("{}.targets.json", top.targets.signed.version),
            top.targets.raw(),
        ));
        for p in roles {
            let path = format!("{}.{}.json", p.version, p.delegation.name);
            files.push(match &p.metadata {
                Some(m) => meta(path, m.raw()),
                // Served as it is (see `PublisherRole::metadata`).
                None => OutFile {
                    present: true,
                    ..meta(path, &[])
                },
            });
        }
        for (name, m) in &top.api_roles {
            files.push(meta(format!("{}.{name}.json", m.signed.version), m.raw()));
        }
        files.push(meta(
            format!("{}.snapshot.json", top.snapshot.signed.version),
            top.snapshot.raw(),
        ));
        for f in &verified.api_files {
            let sha = f.target.sha256().expect("sha256 listed");
            let (bytes, placed): (&[u8], bool) = match &f.content {
                api::Content::Bytes(b) => (b, false),
                api::Content::Served | api::Content::Written => (&[], true),
            };
            files.push(OutFile {
                path: target_file_path(&f.path, sha),
                bytes: Cow::Borrowed(bytes),
                present: placed || served_api_roles.contains(f.path.as_str()),
            });
        }
        let copies = self.copies(roles, documents);
        let newest_root = keys.roots.last().expect("chain has a root");
        let entry = vec![
            meta("root.json".into(), newest_root.raw()),
            meta("timestamp.json".into(), top.timestamp.raw()),
        ];
        let out = Assembled {
            files,
            copies,
            entry,
        };
        self.count(scanned, verified, top, &out);
        self.phase("assemble");
        out
    }

    /// The document copies of the roles verified by this build, checked
    /// against the signed hash as they are copied from the repo (`documents`:
    /// see [`documents_to_copy`]).
    fn copies<'v>(
        &self,
        roles: &'v [publishers::PublisherRole],
        documents: &'v [Vec<ScannedDoc>],
    ) -> Vec<CopyFile<'v>>
    where
        'a: 'v,
    {
        let mut copies: Vec<CopyFile> = Vec::new();
        for (p, docs) in roles.iter().zip(documents) {
            let Some(m) = &p.metadata else { continue };
            let served = self.serves(&p.delegation.name, p.version);
            let by_target: HashMap<&str, &ScannedDoc> = docs
                .iter()
                .filter_map(|d| Some((crate::repo::split_path(&d.path)?.1, d)))
                .collect();
            for (target, tf) in &m.signed.targets {
                let doc = by_target[target.as_str()];
                let sha256 = tf.sha256().expect("sha256 listed");
                copies.push(CopyFile {
                    path: target_file_path(target, sha256),
                    root: &self.opts.repo,
                    from: &doc.path,
                    length: tf.length,
                    sha256,
                    // Verified: the staged copy has the signed sha256.
                    present: served || doc.copied,
                });
            }
        }
        copies
    }

    /// The report's figures of what was assembled.
    fn count(
        &mut self,
        scanned: &crate::repo::Scanned,
        verified: &Verified,
        top: &metadata::TopLevel,
        out: &Assembled,
    ) {
        let report = &mut self.report;
        let api_files = &verified.api_files;
        report.documents = scanned
            .folders
            .iter()
            .map(|f| f.index.iter().filter(|(.., parsed)| *parsed).count())
            .sum();
        report.documents_read = scanned.read;
        report.documents_cached = scanned.cached;
        report.api_files_reused = api_files
            .iter()
            .filter(|f| {
                f.path.starts_with("api/services/") && matches!(f.content, api::Content::Served)
            })
            .count();
        report.publishers = verified.roles.len();
        report.api_files = api_files.len();
        report.version = top.timestamp.signed.version;
        report.timestamp_bytes = top.timestamp.raw().len();
        report.snapshot_bytes = top.snapshot.raw().len();
        report.targets_bytes = top.targets.raw().len();
        report.largest_metadata = out
            .files
            .iter()
            .chain(&out.entry)
            .filter(|f| f.path.starts_with(METADATA_DIR))
            .map(|f| (f.path.clone(), f.bytes.len()))
            .max_by_key(|(_, n)| *n)
            .unwrap_or_default();
    }
}

/// A metadata file of OUT (`metadata/<name>`).
fn meta(name: String, bytes: &[u8]) -> OutFile<'_> {
    OutFile {
        path: format!("{METADATA_DIR}/{name}"),
        bytes: Cow::Borrowed(bytes),
        present: false,
    }
}

/// The documents to copy for each role, in `roles` order: those of the roles
/// verified by this build. Those of a role OUT serves unchanged are not
/// listed: `publish` never looks in their folders (see
/// `publish::collect_garbage`).
pub(super) fn documents_to_copy(
    roles: &[publishers::PublisherRole],
    folders: &[crate::repo::Folder],
) -> Vec<Vec<ScannedDoc>> {
    roles
        .iter()
        .map(
            |p| match (&p.metadata, folder_of(folders, &p.delegation.name)) {
                (Some(_), Some(f)) => f.documents(),
                _ => Vec::new(),
            },
        )
        .collect()
}

/// Renders the website into `dir` (see [`hsp_site::render`]).
pub(super) fn render_site(
    opts: &BuildOptions,
    scanned: &crate::repo::Scanned,
    config: &hsp_index::RegistryConfig,
    interfaces: &[hsp_index::Interface],
    validations: &[hsp_index::validation::Report],
    dir: &Path,
) -> anyhow::Result<()> {
    let repo = &scanned.repo;
    let site_publishers = repo
        .publishers
        .iter()
        .map(|p| hsp_site::PublisherInput {
            publisher: &p.value,
            key_ids: p
                .value
                .keys
                .iter()
                .map(|k| hsp_keys::key_id(k).to_string())
                .collect(),
        })
        .collect();
    let documents = crate::repo::documents(&scanned.folders);
    let mut parsed = crate::repo::read_documents(&opts.repo, &documents)?;
    for d in &mut parsed {
        hsp_index::registry::apply_yanks(&config.yanks, &d.id, &d.version, &mut d.yanked);
    }
    let docs = parsed
        .iter()
        .zip(&documents)
        .map(|(document, d)| hsp_site::DocumentInput {
            document,
            target: crate::repo::split_path(&d.path).map_or(String::new(), |(_, t)| t.to_string()),
        })
        .collect();
    let mut input = hsp_site::SiteInput::new(config, interfaces, site_publishers, docs);
    input.validations = validations;
    input.templates_dir = config.site.templates.as_ref().map(|t| opts.repo.join(t));
    input.logo = config.site.logo.as_ref().map(|l| opts.repo.join(l));
    hsp_site::render(&input, dir).context("rendering the website")?;
    Ok(())
}

/// The folder named `name` of `folders` (sorted by name).
fn folder_of<'a>(
    folders: &'a [crate::repo::Folder],
    name: &str,
) -> Option<&'a crate::repo::Folder> {
    let i = folders
        .binary_search_by(|f| f.name.as_str().cmp(name))
        .ok()?;
    Some(&folders[i])
}
