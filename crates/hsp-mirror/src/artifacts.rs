//! Bare-metal artifacts copied into a content-addressed folder: the archive
//! whose signed sha256 is `HEX` is `DIR/sha256/HEX`, the layout the host
//! driver reads a mirror with (`target.mirror` of a host environment). Each
//! is read from its signed URL (or a bundle's copy), at most its signed size,
//! and kept only when its size and sha256 are the signed ones; one already
//! there and intact is not fetched again.

use std::path::{Path, PathBuf};

use hsp_deploy::host::archive;
use hsp_index::artifact_mirror::ArtifactMirror;
use hsp_index::document::Artifact;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct ArtifactReport {
    pub artifacts: usize,
    pub copied: usize,
    pub present: usize,
    pub bytes_copied: u64,
}

/// Where artifact `sha256` lives under `dir` (the host driver's rule,
/// `hsp_index::artifact_mirror`).
pub fn path_in(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(hsp_index::artifact_mirror::path_in_mirror(sha256))
}

/// Copies each artifact into `dir`, from `from` (a folder in the same
/// layout, e.g. a bundle's) when given, else from its signed URL, with the
/// host driver's verified download ([`hsp_deploy::host::archive::fetch_to`]).
/// Returns the report, or every artifact that failed with why.
pub fn copy(
    artifacts: &[Artifact],
    dir: &Path,
    from: Option<&Path>,
) -> Result<ArtifactReport, Vec<String>> {
    let mut report = ArtifactReport::default();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let from = from.map(|f| ArtifactMirror::Folder(f.to_path_buf()));
    for a in artifacts {
        if !seen.insert(a.sha256.to_ascii_lowercase()) {
            continue;
        }
        report.artifacts += 1;
        let dest = path_in(dir, &a.sha256);
        if verify(&dest, a).is_ok() {
            report.present += 1;
            continue;
        }
        match archive::fetch_to(a, &dest, from.as_ref()) {
            Ok(()) => {
                report.copied += 1;
                report.bytes_copied += a.size;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors)
    }
}

/// Whether `path` holds exactly the signed archive.
pub fn verify(path: &Path, a: &Artifact) -> Result<(), String> {
    archive::verify(path, a, None).map_err(|e| e.to_string())
}
