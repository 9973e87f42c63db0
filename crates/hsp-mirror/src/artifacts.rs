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
        // A path is made of it: refused before, not after.
        let dest = match archive::signed_sha256(a) {
            Ok(sha) => path_in(dir, &sha),
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn artifact(url: String, sha256: String, size: u64) -> Artifact {
        Artifact {
            platform: "linux-x86_64".into(),
            url,
            sha256,
            size,
            entrypoint: "bin/app".into(),
        }
    }

    #[test]
    fn copies_the_signed_bytes_and_refuses_others_and_unsafe_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app.tar.gz");
        std::fs::write(&src, b"release").unwrap();
        let url = format!("file://{}", src.display());
        let sha = hex::encode(Sha256::digest(b"release"));
        let mirror = dir.path().join("mirror");

        let good = artifact(url.clone(), sha.clone(), 7);
        let report = copy(std::slice::from_ref(&good), &mirror, None).unwrap();
        assert_eq!((report.copied, report.present), (1, 0));
        assert_eq!(std::fs::read(path_in(&mirror, &sha)).unwrap(), b"release");
        let again = copy(&[good], &mirror, None).unwrap();
        assert_eq!((again.copied, again.present), (0, 1));

        let other = artifact(url.clone(), "b".repeat(64), 7);
        let errors = copy(&[other], &mirror, None).unwrap_err();
        assert!(errors[0].contains("sha256"), "{errors:?}");
        assert!(!path_in(&mirror, &"b".repeat(64)).exists());

        let escape = artifact(url, "../../escaped".into(), 7);
        let errors = copy(&[escape], &mirror, None).unwrap_err();
        assert!(errors[0].contains("not a sha256"), "{errors:?}");
        assert!(!dir.path().join("escaped").exists());
    }
}
