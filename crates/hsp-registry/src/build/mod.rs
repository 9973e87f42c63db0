//! `hsp build`: a registry repo into a TUF repository and website.
//!
//! [`build`] runs every `hsp check` rule (through [`crate::repo::load`]),
//! verifies each publisher's signed metadata against its record and documents
//! ([`publishers`]), computes the JSON API ([`api`]), signs targets, snapshot and
//! timestamp ([`metadata`]) and publishes the whole atomically ([`publish`]).
//! `hsp serve` calls [`build`] too. Each phase is a method of `Build`, which
//! holds what they share (the options, what OUT serves, the staging folder of
//! a first build, the report); the phase "assemble" is in `assemble`, and what
//! a build computes and keeps per publisher folder (service API parts, folder
//! records) in `folders`.
//!
//! Everything is a function of the repo, the keys and one instant
//! ([`BuildOptions::now`], see [`crate::clock`]): the same three give
//! byte-identical output.

mod assemble;
mod folders;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hsp_tuf::{Signed, TargetFile, Timestamp};

use crate::metadata::METADATA_DIR;
use crate::publish::Published;
use crate::summary::DocSummary;
use crate::trust::KeySource;
use crate::{api, bins, metadata, publish, publishers, trust};
use assemble::{documents_to_copy, render_site, Assembled};
use folders::{api_files, keep_records};

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
    build.keep_published(&scanned)?;
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
    /// The repo's validation reports (published among the API files).
    validations: Vec<hsp_index::validation::Report>,
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

    /// After the signatures verified: the versions OUT publishes are all
    /// still here, unchanged but for their yank (see `hsp_check::check_immutable`).
    /// Development builds (`hsp serve`, trying things out) may rewrite them.
    fn keep_published(&mut self, scanned: &crate::repo::Scanned) -> anyhow::Result<()> {
        let opts = self.opts;
        if matches!(opts.keys, KeySource::Dev) {
            return Ok(());
        }
        let Ok(served) = crate::published::Served::read(&opts.out) else {
            return Ok(()); // a first build
        };
        let now = crate::repo::documents(&scanned.folders);
        let by_target: HashMap<&str, &crate::repo::ScannedDoc> = now
            .iter()
            .filter_map(|d| Some((crate::repo::split_path(&d.path)?.1, d)))
            .collect();
        // Only what differs is read: a rebuild of a large registry stays a
        // comparison of hashes.
        let mut base = BTreeMap::new();
        let mut head = Vec::new();
        for d in served.documents() {
            let same = by_target.get(d.target).is_some_and(|n| {
                Some(n.sha256.as_str()) == d.file.sha256() && n.length == d.file.length
            });
            if same {
                continue;
            }
            let bytes = served.read_target(d.target, d.file)?;
            let path = d.repo_path();
            if let Some(n) = by_target.get(d.target) {
                let file = opts.repo.join(&n.path);
                let now =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                head.push((n.path.clone(), now));
            }
            base.insert(d.target.to_string(), hsp_check::Published { path, bytes });
        }
        let found = hsp_check::check_immutable(
            &base,
            head.iter().map(|(p, b)| (p.as_str(), b.as_slice())),
            |p| crate::repo::split_path(p).map(|(_, t)| t.to_string()),
        );
        if !found.is_empty() {
            for d in &found {
                eprintln!("{d}");
            }
            bail!(
                "{}: {} published version(s) deleted or changed; nothing was published (hint: \
                 restore them; publish changes as new versions, withdraw versions by yanking)",
                opts.repo.display(),
                found.len()
            );
        }
        Ok(())
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
        let (roles, (new_parts, mut api_files)) = (roles?, api?);
        let validations = self.validations(scanned, config, &mut api_files)?;
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
            validations,
        })
    }

    /// The repo's validation reports, checked (see [`crate::validations`]),
    /// added to the API files; with `policy.require_validation`, every
    /// version OUT does not publish yet must have a passing one.
    fn validations(
        &self,
        scanned: &crate::repo::Scanned,
        config: &hsp_index::RegistryConfig,
        api_files: &mut Vec<api::ApiFile>,
    ) -> anyhow::Result<Vec<hsp_index::validation::Report>> {
        let opts = self.opts;
        let docs = crate::repo::documents(&scanned.folders);
        let fail = |errors: Vec<String>| {
            for e in &errors {
                eprintln!("error: {e}");
            }
            anyhow::anyhow!(
                "{} validation problem(s); nothing was published:\n  {}",
                errors.len(),
                errors.join("\n  ")
            )
        };
        let found = crate::validations::read(&opts.repo, &docs).map_err(fail)?;
        if config.policy.require_validation {
            let published: std::collections::BTreeSet<String> =
                match crate::published::Served::read(&opts.out) {
                    Ok(served) => served.documents().map(|d| d.target.to_string()).collect(),
                    Err(_) => Default::default(),
                };
            let missing = crate::validations::require(&docs, &found, &published);
            if !missing.is_empty() {
                return Err(fail(missing));
            }
        }
        let staging = &self.staging;
        let sink = |path: &str, target: &TargetFile, bytes: &[u8]| match staging {
            Some(s) => s.write_target(path, target.sha256().expect("sha256 listed"), bytes),
            None => Ok(()),
        };
        let sink = staging.is_some().then_some(&sink as &api::Sink);
        let served = |path: &str, sha256: &str| self.served(path, sha256);
        for v in &found {
            let r = &v.report;
            let path = hsp_index::api::validation_path(&r.service, &r.version);
            let bytes = serde_json::to_vec(r).expect("reports encode");
            api_files.push(api::finish(path, bytes, sink, &served)?);
        }
        api_files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found.into_iter().map(|v| v.report).collect())
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
                    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
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
        let render = |dir: &Path| {
            render_site(
                opts,
                scanned,
                config,
                &verified.interfaces,
                &verified.validations,
                dir,
            )
        };
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
