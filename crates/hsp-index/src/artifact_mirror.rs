//! A host target's artifact mirror (`target.mirror`): where an air-gapped site
//! keeps copies of the signed artifacts, so the host driver never needs the
//! signed URL's server.
//!
//! The layout is content-addressed and is a contract with
//! `hsp mirror --artifacts DIR`: the artifact whose signed sha256 is `HEX` is at
//! `<mirror>/sha256/<HEX>` (lowercase hex, no extension; [`path_in_mirror`]).
//! A mirror is a folder (absolute, or relative to the environment file), a
//! `file://` URL or an `http(s)://` base URL. What is read from it is still
//! capped at the signed size and checked against the signed sha256: the signed
//! URL stays the artifact's identity.

use std::path::{Path, PathBuf};

/// Where a host target reads artifacts from instead of their signed URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactMirror {
    /// A folder (from a path or a `file://` URL), absolute.
    Folder(PathBuf),
    /// An `http://` or `https://` base URL, without a trailing `/`.
    Http(String),
}

/// Where the artifact with signed sha256 `hex` is inside a mirror: `sha256/<hex>`.
pub fn path_in_mirror(hex: &str) -> String {
    format!("sha256/{}", hex.to_ascii_lowercase())
}

impl ArtifactMirror {
    /// Reads a `target.mirror` value; a relative folder is taken from `base`
    /// (the environment file's folder). The error says what is wrong.
    pub fn parse(value: &str, base: &Path) -> Result<ArtifactMirror, String> {
        let v = value.trim();
        if v.is_empty() {
            return Err("the artifact mirror is empty".into());
        }
        if let Some(rest) = v.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(format!(
                    "{value:?} is not a file:// URL of an absolute folder (file://HOST/... is not supported)"
                ));
            }
            return Ok(ArtifactMirror::Folder(PathBuf::from(rest)));
        }
        for scheme in ["http://", "https://"] {
            if let Some(rest) = v.strip_prefix(scheme) {
                if rest.is_empty() || rest.starts_with('/') {
                    return Err(format!("{value:?} names no server"));
                }
                return Ok(ArtifactMirror::Http(v.trim_end_matches('/').to_string()));
            }
        }
        // `s3://b`, `ftp://x`, `mirror:5000` (a Docker registry?), `http:/x`:
        // a colon before the first `/` is a scheme or a port, not a folder.
        let head = v.split('/').next().unwrap_or(v);
        if head.contains(':') {
            return Err(format!(
                "{value:?} is neither a folder nor a file://, http:// or https:// URL"
            ));
        }
        Ok(ArtifactMirror::Folder(base.join(v)))
    }

    /// Where the artifact with signed sha256 `hex` is: a path or a URL.
    pub fn locate(&self, hex: &str) -> String {
        match self {
            ArtifactMirror::Folder(dir) => dir.join(path_in_mirror(hex)).display().to_string(),
            ArtifactMirror::Http(base) => format!("{base}/{}", path_in_mirror(hex)),
        }
    }

    /// The value as written back into an environment (a folder made absolute).
    pub fn to_value(&self) -> String {
        match self {
            ArtifactMirror::Folder(dir) => dir.display().to_string(),
            ArtifactMirror::Http(base) => base.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_folders_file_urls_or_http_bases() {
        let base = Path::new("/site");
        let hex = "AB".repeat(32);
        for (value, want) in [
            ("/media/usb/hsp", Ok("/media/usb/hsp/sha256/")),
            ("mirror", Ok("/site/mirror/sha256/")),
            ("./a:b", Ok("/site/./a:b/sha256/")),
            ("file:///srv/mirror", Ok("/srv/mirror/sha256/")),
            (
                "http://10.0.0.5:8080/hsp/",
                Ok("http://10.0.0.5:8080/hsp/sha256/"),
            ),
            ("https://mirror.local", Ok("https://mirror.local/sha256/")),
            ("", Err("empty")),
            ("  ", Err("empty")),
            ("file://host/srv", Err("absolute folder")),
            ("file://relative", Err("absolute folder")),
            ("http://", Err("names no server")),
            ("https:///x", Err("names no server")),
            ("ftp://mirror/x", Err("neither a folder")),
            ("s3://bucket", Err("neither a folder")),
            ("127.0.0.1:5000", Err("neither a folder")),
            ("http:/mirror", Err("neither a folder")),
        ] {
            let got = ArtifactMirror::parse(value, base).map(|m| m.locate(&hex));
            match want {
                Ok(prefix) => {
                    let got = got.unwrap_or_else(|e| panic!("{value:?}: {e}"));
                    assert_eq!(got, format!("{prefix}{}", "ab".repeat(32)), "{value:?}");
                }
                Err(says) => {
                    let e = got.expect_err(value);
                    assert!(e.contains(says), "{value:?}: {e}");
                }
            }
        }
    }
}
