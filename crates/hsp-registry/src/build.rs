//! `hsp build`: a registry repo into a TUF repository and website.
//!
//! [`build`] runs every `hsp check` rule (through [`crate::repo::load`]),
//! verifies each publisher's signed metadata against its record and documents
//! ([`publishers`]), computes the JSON API ([`api`]), signs targets, snapshot and
//! timestamp ([`metadata`]) and publishes the whole atomically ([`publish`]).
//! `hsp serve` calls [`build`] too. Each phase is a method of `Build`, which
//! holds what they share (the options, what OUT serves, the staging folder of
//! a first build, the report).
//!
//! Everything is a function of the repo, the keys and one instant
//! ([`BuildOptions::now`], see [`crate::clock`]): the same three give
//! byte-identical output.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hsp_tuf::{Signed, TargetFile, Timestamp};

use crate::metadata::{target_file_path, METADATA_DIR};
use crate::publish::{CopyFile, OutFile, Published};
use crate::repo::{RoleRecord, ScannedDoc};
use crate::summary::DocSummary;
use crate::trust::KeySource;
use crate::{api, bins, metadata, publish, publishers, trust};
use rayon::prelude::*;

/// What to build, from where, with which keys, at what time.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The registry repo (holds `registry.json`).
    pub repo: PathBuf,
    pub keys: KeySource,
    /// The output folder: TUF repository under `metadata/` and `targets/`,
    /// website at the top.
    pub out: PathBuf,
    /// The build's time: expiries and versions derive from it.
    pub now: DateTime<Utc>,
    /// Render the website too (`hsp_site::render`).
    pub site: bool,
    /// Use the content-hash cache beside OUT (see `crate::repo::scan`); without
    /// it every document is read and checked again (and the cache refreshed).
    pub cache: bool,
}

/// What a build produced.
#[derive(Debug, Default, Clone)]
pub struct BuildReport {
    pub documents: usize,
    pub publishers: usize,
    pub api_files: usize,
    /// Version of targets, snapshot and timestamp.
    pub version: u64,
    pub timestamp_bytes: usize,
    pub snapshot_bytes: usize,
    pub targets_bytes: usize,
    /// The largest metadata file: name and size.
    pub largest_metadata: (String, usize),
    pub published: Published,
    pub warnings: usize,
    /// Documents read and checked, and taken unchanged from the build cache.
    pub documents_read: usize,
    pub documents_cached: usize,
    /// Service API files not encoded again (unchanged since the last build).
    pub api_files_reused: usize,
    /// Seconds spent per phase, in order.
    pub phases: Vec<(&'static str, f64)>,
}

/// Role names a publisher may not take (they are top-level TUF roles).
const RESERVED: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Builds the repo into `opts.out`. Fails, leaving OUT as it was, on any check
/// error or signature problem; all problems are listed in the error.
///
/// The phases, in order, each a method of `Build` and timed in
/// [`BuildReport::phases`]: load and check, verify publishers and API, sign,
/// assemble and publish.
pub fn build(opts: &BuildOptions) -> anyhow::Result<BuildReport> {
    let clock = Instant::now();
    let cache = crate::repo::cache_folder(&opts.out, &opts.repo);
    let mode = match opts.cache {
        true => crate::repo::CacheMode::Use(cache),
        false => crate::repo::CacheMode::Refresh(cache),
    };
    let started = crate::repo::now_ns();
    // What OUT serves: a rebuild keeps what did not change.
    let previous = metadata::Previous::read(&opts.out);
    let mut build = Build::new(opts, &previous, started, clock)?;

    let mut scanned = build.load_and_check(&mode)?;
    let mut verified = build.verify_publishers_and_api(&mut scanned)?;
    let top = build.sign(&scanned, &mut verified)?;
    let documents = documents_to_copy(&verified.roles, &scanned.folders);
    let out = build.assemble(&scanned, &verified, &top, &documents);
    build.publish(&scanned, &verified, &out)
}

/// A build under way: its options, what OUT serves, the staging folder of a
/// first build, and the report so far. Each phase is a method.
struct Build<'a> {
    opts: &'a BuildOptions,
    previous: &'a metadata::Previous,
    /// The API files OUT serves, path to hex sha256. Without the cache,
    /// none: every file is checked (`--no-cache` restores a deleted one).
    served_api: HashMap<&'a str, &'a str>,
    /// A first build writes into a staging folder from the start: each
    /// document read is copied while it is in memory (see `publish`).
    staging: Option<publish::Staging>,
    /// When the scan began (ns since the epoch, see `crate::repo::scan`).
    started: i128,
    report: BuildReport,
    /// When the current phase began.
    clock: Instant,
}

/// What the phase "verify publishers and api" produced.
struct Verified {
    keys: trust::TopKeys,
    interfaces: Vec<hsp_index::Interface>,
    roles: Vec<publishers::PublisherRole>,
    api_files: Vec<api::ApiFile>,
    /// The API files as targets, for the `hsp-api` role (taken by `sign`).
    api_targets: BTreeMap<String, TargetFile>,
}

/// What the phase "assemble" produced: every file of OUT, in publication
/// order (see [`publish::publish`]).
struct Assembled<'a> {
    files: Vec<OutFile<'a>>,
    copies: Vec<CopyFile<'a>>,
    /// `root.json` and `timestamp.json`, written last (the commit point).
    entry: Vec<OutFile<'a>>,
}

impl<'a> Build<'a> {
    fn new(
        opts: &'a BuildOptions,
        previous: &'a metadata::Previous,
        started: i128,
        clock: Instant,
    ) -> anyhow::Result<Build<'a>> {
        let served_api = match opts.cache {
            true => previous.api_targets(),
            false => HashMap::new(),
        };
        Ok(Build {
            opts,
            previous,
            served_api,
            staging: publish::Staging::for_first_build(&opts.out)?,
            started,
            report: BuildReport::default(),
            clock,
        })
    }

    /// Ends the current phase, named `name`.
    fn phase(&mut self, name: &'static str) {
        self.report
            .phases
            .push((name, self.clock.elapsed().as_secs_f64()));
        self.clock = Instant::now();
    }

    /// Whether OUT serves the API file `path` with hex `sha256`.
    fn served(&self, path: &str, sha256: &str) -> bool {
        self.served_api.get(path) == Some(&sha256)
    }

    /// Whether OUT serves role `name` at `version` (never without the cache).
    fn serves(&self, name: &str, version: u64) -> bool {
        self.opts.cache && self.previous.serves(name, version)
    }

    /// Phase "load and check": scans the repo (every `hsp check` rule, the
    /// diagnostics printed), a first build copying each document read into
    /// its staging folder; fails on any error or a reserved publisher name.
    fn load_and_check(
        &mut self,
        mode: &crate::repo::CacheMode,
    ) -> anyhow::Result<crate::repo::Scanned> {
        let opts = self.opts;
        let staging = &self.staging;
        let stage =
            |rel: &str, bytes: &[u8], sha256: &str| match (staging, crate::repo::split_path(rel)) {
                (Some(s), Some((_, target))) => s.write_target(target, sha256, bytes),
                _ => Ok(()),
            };
        let sink = staging.is_some().then_some(&stage as &crate::repo::Sink);
        let served = |path: &str, sha256: &str| self.served(path, sha256);
        let scanned = crate::repo::scan(&opts.repo, mode, sink, &served)?;
        let repo = &scanned.repo;
        for d in &repo.diagnostics {
            eprintln!("{d}");
        }
        if repo.has_errors() {
            bail!(
                "{}: {} error(s) in the registry; nothing was published (hint: fix them; `hsp check {}` lists them)",
                opts.repo.display(),
                repo.errors(),
                opts.repo.display()
            );
        }
        self.report.warnings = repo.warnings();
        config_of(opts, repo)?;
        for p in &repo.publishers {
            if RESERVED.contains(&p.value.name.as_str()) || bins::is_api_role(&p.value.name) {
                bail!(
                    "{}: publisher name {:?} is reserved for a TUF role (hint: choose another name)",
                    p.path,
                    p.value.name
                );
            }
        }
        if let Some(s) = &mut self.staging {
            s.start_flush();
        }
        self.phase("load and check");
        Ok(scanned)
    }

    /// Phase "verify publishers and api": loads the keys, verifies (or, with
    /// development keys, signs) each publisher's metadata and computes the
    /// API files side by side, then keeps each folder's record for the next
    /// build.
    fn verify_publishers_and_api(
        &mut self,
        scanned: &mut crate::repo::Scanned,
    ) -> anyhow::Result<Verified> {
        let opts = self.opts;
        if matches!(opts.keys, KeySource::Dev) {
            eprintln!(
                "WARNING: DEVELOPMENT BUILD with public development keys: anyone can forge this \
                 index. Never serve it to real sites; use --keys KEYDIR for production."
            );
        }
        let keys = trust::load(&opts.keys, &opts.repo, opts.now)?;
        let interfaces: Vec<hsp_index::Interface> = scanned
            .repo
            .interfaces
            .iter()
            .map(|i| i.value.clone())
            .collect();
        check_not_older(&opts.out, opts.now)?;
        let fresh: Vec<Option<Vec<DocSummary>>> = scanned
            .folders
            .iter_mut()
            .map(|f| f.summaries.take())
            .collect();
        let (repo, folders) = (&scanned.repo, &scanned.folders);
        let config = config_of(opts, repo)?;
        // Independent: publisher verification and the API, side by side.
        let (roles, api) = rayon::join(
            || self.publisher_roles(repo, folders, config),
            || {
                let staging = &self.staging;
                let api_sink = |path: &str, target: &TargetFile, bytes: &[u8]| match staging {
                    Some(s) => s.write_target(path, target.sha256().expect("sha256 listed"), bytes),
                    None => Ok(()),
                };
                let api_sink = staging.is_some().then_some(&api_sink as &api::Sink);
                let served = |path: &str, sha256: &str| self.served(path, sha256);
                api_files(config, &interfaces, folders, fresh, api_sink, &served)
                    .context("writing the API files for publication")
            },
        );
        let (roles, (new_parts, api_files)) = (roles?, api?);
        let (roles, role_records): (Vec<_>, Vec<_>) = roles.into_iter().unzip();
        keep_records(
            &scanned.cache,
            &scanned.records,
            &mut scanned.folders,
            new_parts,
            &roles,
            role_records,
        );
        let api_targets: BTreeMap<String, TargetFile> = api_files
            .iter()
            .map(|f| (f.path.clone(), f.target.clone()))
            .collect();
        self.phase("verify publishers and api");
        Ok(Verified {
            keys,
            interfaces,
            roles,
            api_files,
            api_targets,
        })
    }

    /// Each publisher's role: its signed metadata verified against its
    /// record and documents, or with development keys signed afresh.
    fn publisher_roles(
        &self,
        repo: &crate::repo::Repo,
        folders: &[crate::repo::Folder],
        config: &hsp_index::RegistryConfig,
    ) -> anyhow::Result<Vec<publishers::Verified>> {
        let opts = self.opts;
        match &opts.keys {
            KeySource::Dir(_) => {
                let serves = |name: &str, version| self.serves(name, version);
                publishers::verify(
                    &opts.repo,
                    &repo.publishers,
                    folders,
                    &serves,
                    opts.now,
                    self.started,
                )
                .map_err(|errors| {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    anyhow::anyhow!(
                        "{} publisher signature problem(s); nothing was published:\n  {}",
                        errors.len(),
                        errors.join("\n  ")
                    )
                })
            }
            KeySource::Dev => {
                let documents = crate::repo::documents(folders);
                Ok(publishers::dev_sign(
                    &repo.publishers,
                    &documents,
                    opts.now,
                    config.expiry.publisher_days,
                )
                .into_iter()
                .map(|r| (r, None))
                .collect())
            }
        }
    }

    /// Phase "sign": targets (with the API files), the `hsp-api` role and its
    /// bins, snapshot and timestamp.
    fn sign(
        &mut self,
        scanned: &crate::repo::Scanned,
        verified: &mut Verified,
    ) -> anyhow::Result<metadata::TopLevel> {
        let opts = self.opts;
        let top = metadata::sign_top_level(
            &verified.keys,
            config_of(opts, &scanned.repo)?,
            std::mem::take(&mut verified.api_targets),
            &verified.roles,
            self.previous,
            opts.now,
        )?;
        self.phase("sign");
        Ok(top)
    }

    /// Phase "assemble": every metadata file, API file and document copy of
    /// OUT (those OUT has already marked present), and the report's figures.
    fn assemble<'v>(
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

    /// Phase "publish": OUT written (see [`publish::publish`]), the website
    /// rendered into it unless `--no-site`.
    fn publish(
        mut self,
        scanned: &crate::repo::Scanned,
        verified: &Verified,
        out: &Assembled,
    ) -> anyhow::Result<BuildReport> {
        let opts = self.opts;
        let config = config_of(opts, &scanned.repo)?;
        let render = |dir: &Path| render_site(opts, scanned, config, &verified.interfaces, dir);
        self.report.published = publish::publish(
            &opts.out,
            &out.files,
            &out.copies,
            &out.entry,
            opts.site.then_some(&render as &publish::SiteRenderer),
            self.staging.take(),
        )?;
        self.phase("publish");
        Ok(self.report)
    }
}

/// The registry's config (`registry.json`), which the checks require.
fn config_of<'r>(
    opts: &BuildOptions,
    repo: &'r crate::repo::Repo,
) -> anyhow::Result<&'r hsp_index::RegistryConfig> {
    Ok(&repo
        .config
        .as_ref()
        .with_context(|| format!("{}: no registry.json", opts.repo.display()))?
        .value)
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
fn documents_to_copy(
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
fn render_site(
    opts: &BuildOptions,
    scanned: &crate::repo::Scanned,
    config: &hsp_index::RegistryConfig,
    interfaces: &[hsp_index::Interface],
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
    let parsed = crate::repo::read_documents(&opts.repo, &documents)?;
    let docs = parsed
        .iter()
        .zip(&documents)
        .map(|(document, d)| hsp_site::DocumentInput {
            document,
            target: crate::repo::split_path(&d.path).map_or(String::new(), |(_, t)| t.to_string()),
        })
        .collect();
    let mut input = hsp_site::SiteInput::new(config, interfaces, site_publishers, docs);
    input.templates_dir = config.site.templates.as_ref().map(|t| opts.repo.join(t));
    input.logo = config.site.logo.as_ref().map(|l| opts.repo.join(l));
    hsp_site::render(&input, dir).context("rendering the website")?;
    Ok(())
}

/// Records what this build learnt of each folder for the next one (see
/// `crate::repo::scan`): the service parts computed (`new_parts`) and the
/// verification of each role. Only changed records are written.
fn keep_records(
    cache: &crate::repo::Cache,
    records: &str,
    folders: &mut [crate::repo::Folder],
    new_parts: NewParts,
    roles: &[publishers::PublisherRole],
    role_records: Vec<Option<RoleRecord>>,
) {
    let verified: HashMap<&str, RoleRecord> = roles
        .iter()
        .zip(role_records)
        .filter_map(|(p, r)| Some((p.delegation.name.as_str(), r?)))
        .collect();
    folders
        .par_iter_mut()
        .zip(new_parts)
        .for_each(|(f, parts)| {
            let role = verified.get(f.name.as_str()).cloned();
            let changed = parts.is_some() || role != f.role;
            if let Some(parts) = parts {
                f.products.services = parts;
            }
            f.role = role;
            if changed {
                if let Err(e) = cache.write_record(&f.name, &f.record(cache.context(), records)) {
                    eprintln!("warning: cannot write the build cache: {e}");
                }
            }
        });
}

/// The service parts computed for each folder (`None`: its record's kept).
type NewParts = Vec<Option<Vec<api::ServiceParts>>>;

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

/// The API files (see [`api`]), sorted by path, and the service parts of the
/// folders read by this build (`fresh`: their summaries; the others' parts
/// are those their records kept).
fn api_files(
    config: &hsp_index::RegistryConfig,
    interfaces: &[hsp_index::Interface],
    folders: &[crate::repo::Folder],
    fresh: Vec<Option<Vec<DocSummary>>>,
    sink: Option<&api::Sink>,
    served: &api::Served,
) -> std::io::Result<(NewParts, Vec<api::ApiFile>)> {
    let per_folder: Vec<(Option<Vec<api::ServiceParts>>, Vec<api::ApiFile>)> = folders
        .par_iter()
        .zip(fresh)
        .map(|(f, summaries)| match summaries {
            Some(summaries) => {
                let shas = f
                    .index
                    .iter()
                    .filter(|(.., parsed)| *parsed)
                    .map(|(_, _, _, sha256, _)| sha256);
                let (parts, files) = api::services(summaries.into_iter().zip(shas), sink, served)?
                    .into_iter()
                    .unzip();
                Ok((Some(parts), files))
            }
            None => Ok((
                None,
                f.products
                    .services
                    .iter()
                    .map(api::ServiceParts::served_file)
                    .collect(),
            )),
        })
        .collect::<std::io::Result<_>>()?;
    let mut new_parts = Vec::with_capacity(folders.len());
    let mut files = Vec::new();
    for (parts, fs) in per_folder {
        new_parts.push(parts);
        files.extend(fs);
    }
    let all: Vec<&api::ServiceParts> = folders
        .iter()
        .zip(&new_parts)
        .flat_map(|(f, parts)| parts.as_ref().unwrap_or(&f.products.services))
        .collect();
    let mut ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        // The checks rule this out (a service id belongs to one publisher).
        return Err(std::io::Error::other(format!(
            "service {} is in two publisher folders",
            w[0]
        )));
    }
    files.extend(api::indexes(config, interfaces, all, sink, served)?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((new_parts, files))
}

/// Refuses to publish metadata older than what OUT already serves (clients
/// would reject it as a rollback).
fn check_not_older(out: &Path, now: DateTime<Utc>) -> anyhow::Result<()> {
    let path = out.join(METADATA_DIR).join("timestamp.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(());
    };
    let Ok(previous) = Signed::<Timestamp>::from_bytes(bytes) else {
        return Ok(());
    };
    let version = crate::clock::version_at(now);
    if previous.signed.version > version {
        bail!(
            "{}: already at version {} (a later time than this build's {now}); clients would \
             reject this build as a rollback (hint: check the clock, --now or SOURCE_DATE_EPOCH)",
            path.display(),
            previous.signed.version
        );
    }
    Ok(())
}
