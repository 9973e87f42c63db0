//! Bare-metal artifacts copied into a content-addressed folder: the archive
//! whose signed sha256 is `HEX` is `DIR/sha256/HEX`, the layout the host
//! driver reads a mirror with (`target.mirror` of a host environment). Each
//! is read from its signed URL (or a bundle's copy), at most its signed size,
//! and kept only when its size and sha256 are the signed ones; one already
//! there and intact is not fetched again.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hsp_index::document::Artifact;
use hsp_tuf::client::http::{Deadline, Http, Timeouts};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

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
/// layout, e.g. a bundle's) when given, else from its signed URL. Returns
/// the report, or every artifact that failed with why.
pub fn copy(
    artifacts: &[Artifact],
    dir: &Path,
    from: Option<&Path>,
) -> Result<ArtifactReport, Vec<String>> {
    let mut report = ArtifactReport::default();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let http = Http::new(Timeouts::with_overrides(|v| std::env::var(v).ok()));
    for a in artifacts {
        if !seen.insert(a.sha256.clone()) {
            continue;
        }
        report.artifacts += 1;
        if !is_hex64(&a.sha256) {
            errors.push(format!(
                "{}: signed sha256 `{}` is not 64 lowercase hex digits",
                a.url, a.sha256
            ));
            continue;
        }
        let dest = path_in(dir, &a.sha256);
        if verify(&dest, a).is_ok() {
            report.present += 1;
            continue;
        }
        let result = (|| -> Result<(), String> {
            let source: Box<dyn Read> = match from {
                Some(folder) => {
                    let p = path_in(folder, &a.sha256);
                    Box::new(std::fs::File::open(&p).map_err(|e| format!("{}: {e}", p.display()))?)
                }
                None => open_url(&http, a)?,
            };
            let folder = dest.parent().expect("under sha256/");
            std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
            let mut tmp = tempfile::NamedTempFile::new_in(folder)
                .map_err(|e| format!("{}: {e}", folder.display()))?;
            let mut hasher = Sha256::new();
            let mut n = 0u64;
            let mut buf = vec![0u8; 1 << 16];
            let mut source = source.take(a.size + 1);
            loop {
                let k = source.read(&mut buf).map_err(|e| format!("reading: {e}"))?;
                if k == 0 {
                    break;
                }
                hasher.update(&buf[..k]);
                tmp.write_all(&buf[..k])
                    .map_err(|e| format!("writing: {e}"))?;
                n += k as u64;
            }
            let actual = hex::encode(hasher.finalize());
            if n != a.size {
                return Err(format!(
                    "is {n} bytes (or more), the document signed {}: refused",
                    a.size
                ));
            }
            if actual != a.sha256 {
                return Err(format!(
                    "hashes to {actual}, not to the signed {}: refused",
                    a.sha256
                ));
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| format!("writing: {e}"))?;
            tmp.persist(&dest)
                .map_err(|e| format!("{}: {}", dest.display(), e.error))?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                report.copied += 1;
                report.bytes_copied += a.size;
            }
            Err(e) => errors.push(format!("artifact {} (sha256 {}): {e}", a.url, a.sha256)),
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors)
    }
}

fn open_url(http: &Http, a: &Artifact) -> Result<Box<dyn Read>, String> {
    if let Some(path) = a.url.strip_prefix("file://") {
        return Ok(Box::new(
            std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?,
        ));
    }
    if !(a.url.starts_with("http://") || a.url.starts_with("https://")) {
        return Err("only http://, https:// and file:// URLs are supported".into());
    }
    let resp = http.get(&a.url, &[]).map_err(|e| e.to_string())?;
    if let Some(l) = resp
        .header("Content-Length")
        .and_then(|l| l.parse::<u64>().ok())
    {
        if l != a.size {
            return Err(format!(
                "the server announces {l} bytes, the document signed {}: refused",
                a.size
            ));
        }
    }
    let within = http.timeouts().overall + Duration::from_secs(a.size >> 20);
    Ok(Box::new(Deadline::new(resp.into_reader(), within)))
}

/// Whether `path` holds exactly the signed archive.
pub fn verify(path: &Path, a: &Artifact) -> Result<(), String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let n =
        std::io::copy(&mut (&mut f).take(a.size + 1), &mut hasher).map_err(|e| e.to_string())?;
    if n != a.size || hex::encode(hasher.finalize()) != a.sha256 {
        return Err("not the signed archive".into());
    }
    Ok(())
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
