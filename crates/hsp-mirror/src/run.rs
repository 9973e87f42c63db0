//! `hsp mirror`: the index, then what its verified documents name.
//!
//! The documents are read back from the mirrored (verified) targets, so the
//! image digests and artifact hashes copied are exactly those the publishers
//! signed; nothing is taken from the source's word.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use hsp_index::document::{Artifact, Document};
use hsp_index::image::ImageRef;
use serde::Serialize;

use crate::artifacts::{self, ArtifactReport};
use crate::images::{self, ImageReport, Side};
use crate::index::{self, IndexReport, Mirrored};
use crate::oci::Oci;

/// What to mirror where.
pub struct Options {
    /// The index: a URL, a folder, or (see [`crate::bundle`]) a bundle file.
    pub source: String,
    pub out: PathBuf,
    /// The trusted root for a first run.
    pub root: Option<PathBuf>,
    /// Copy every image into this registry (`host[:port]`).
    pub images: Option<String>,
    /// Copy every artifact into this folder (`DIR/sha256/HEX`).
    pub artifacts: Option<PathBuf>,
    /// Only the images and artifacts this environment file's plan names.
    pub env: Option<PathBuf>,
    /// Warn when a role expires sooner than this.
    pub min_valid: Option<Duration>,
    pub jobs: usize,
    pub plain_http: Vec<String>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub index: IndexReport,
    pub documents: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<ImageReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<ArtifactReport>,
    /// Roles expiring before `--min-valid`: `role expires at T`.
    pub warnings: Vec<String>,
}

/// Everything that failed, each with its cause; what succeeded was kept.
#[derive(Debug)]
pub struct Failure(pub Vec<String>);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// The documents of a mirrored index, verified.
pub fn documents(m: &Mirrored, out: &Path) -> Result<Vec<Document>, Failure> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for path in m.targets.keys() {
        if !(path.starts_with(hsp_index::registry::SERVICES_DIR) && path.ends_with(".json")) {
            continue;
        }
        match m.read_target(out, path) {
            Ok(bytes) => match serde_json::from_slice::<Document>(&bytes) {
                Ok(d) => docs.push(d),
                Err(e) => errors.push(format!("target {path}: not a conformance document: {e}")),
            },
            Err(e) => errors.push(format!("target {path}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(Failure(errors))
    }
}

/// Every pinned image and every artifact the documents name.
pub fn named(docs: &[Document]) -> (Vec<ImageRef>, Vec<Artifact>) {
    let images = docs
        .iter()
        .flat_map(|d| &d.tasks)
        .filter_map(|t| ImageRef::parse(&t.image))
        .collect();
    let artifacts = docs.iter().flat_map(|d| d.artifacts.clone()).collect();
    (images, artifacts)
}

/// What the documents name, or with `--env` what its plan names.
pub fn selected(
    mirrored: &Mirrored,
    docs: &[Document],
    opts: &Options,
) -> Result<(Vec<ImageRef>, Vec<Artifact>), Failure> {
    match &opts.env {
        Some(env) => crate::plan::named_by_environment(mirrored, &opts.out, env)
            .map_err(|e| Failure(vec![e])),
        None => Ok(named(docs)),
    }
}

/// The index into `out`, then images and artifacts as asked.
pub fn mirror(opts: &Options) -> Result<Summary, Failure> {
    let mirrored = index::mirror_index(&opts.source, &opts.out, opts.root.as_deref(), opts.now)
        .map_err(|e| Failure(vec![format!("the index at {}: {e}", opts.source)]))?;
    let docs = documents(&mirrored, &opts.out)?;
    let (images, artifacts) = selected(&mirrored, &docs, opts)?;
    deliver(
        opts,
        mirrored,
        docs.len(),
        &images,
        &artifacts,
        &Side::Registry(None),
        None,
    )
}

/// The summary of a mirrored index, after copying `images` (from `from`)
/// into `--images` and `artifacts` (from their URLs, or folder
/// `artifacts_from`) into `--artifacts`, as asked.
pub(crate) fn deliver(
    opts: &Options,
    mirrored: Mirrored,
    documents: usize,
    images: &[ImageRef],
    artifacts: &[Artifact],
    from: &Side,
    artifacts_from: Option<&Path>,
) -> Result<Summary, Failure> {
    let mut errors = Vec::new();
    let mut summary = Summary {
        warnings: expiry_warnings(&mirrored.report, opts),
        index: mirrored.report,
        documents,
        images: None,
        artifacts: None,
    };
    if let Some(registry) = &opts.images {
        let oci = Oci::new(opts.plain_http.clone())
            .map_err(|e| Failure(vec![format!("starting the OCI client: {e}")]))?;
        match images::copy(
            &oci,
            images,
            from,
            &Side::Registry(Some(registry.clone())),
            &opts.out.join(index::STATE_DIR),
            opts.jobs,
        ) {
            Ok(r) => summary.images = Some(r),
            Err(es) => errors.extend(es.into_iter().map(|e| e.to_string())),
        }
    }
    if let Some(dir) = &opts.artifacts {
        match artifacts::copy(artifacts, dir, artifacts_from) {
            Ok(r) => summary.artifacts = Some(r),
            Err(es) => errors.extend(es),
        }
    }
    if errors.is_empty() {
        Ok(summary)
    } else {
        Err(Failure(errors))
    }
}

/// `--min-valid`: the roles that expire too soon for the next delivery.
pub fn expiry_warnings(report: &IndexReport, opts: &Options) -> Vec<String> {
    let Some(min) = opts.min_valid else {
        return Vec::new();
    };
    report
        .expiring_before(opts.now + min)
        .into_iter()
        .map(|(role, at)| {
            let left = at - opts.now;
            format!(
                "the {role} metadata expires at {} ({} from now), before the {} asked for with --min-valid: ask the registry to re-sign it (`hsp timestamp`) or to give its offline channel longer lifetimes (registry.json `expiry`)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                human(left),
                human(min)
            )
        })
        .collect()
}

fn human(d: Duration) -> String {
    let hours = d.num_hours();
    if hours.abs() >= 48 {
        format!("{} days", d.num_days())
    } else {
        format!("{hours} h")
    }
}

/// `30d`, `12h`, `90m`, `45s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write e.g. 30d, 12h, 90m"))?;
    match unit {
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "m" => Ok(Duration::minutes(n)),
        "s" | "" => Ok(Duration::seconds(n)),
        _ => Err(format!("`{s}`: unknown unit `{unit}`: use d, h, m or s")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
