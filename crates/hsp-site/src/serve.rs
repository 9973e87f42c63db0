//! What `hsp serve` needs to serve a built site over HTTP: the file a URL path
//! names (never outside the site's folder) and its content type.
//!
//! **Invariant:** [`local_path`] never returns a path outside `dir` (`..`,
//! absolute parts and NUL bytes, percent-encoded or not, are refused).

use std::path::{Component, Path, PathBuf};

/// The file a URL path names under `dir`, or `None` when it would leave `dir`.
pub fn local_path(dir: &Path, url: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url)?;
    let rel = Path::new(decoded.trim_start_matches('/'));
    let mut out = dir.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    (!s.contains('\0')).then_some(s)
}

pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_stay_inside_the_site() {
        let dir = Path::new("/srv/site");
        for (url, want) in [
            ("/", Some("/srv/site")),
            ("/index.html", Some("/srv/site/index.html")),
            (
                "/services/a%2Eb/index.html",
                Some("/srv/site/services/a.b/index.html"),
            ),
            ("/../etc/passwd", None),
            ("/%2e%2e/etc/passwd", None),
            ("/a/../../x", None),
            ("/x%00", None),
            ("/x%zz", None),
        ] {
            assert_eq!(local_path(dir, url), want.map(PathBuf::from), "{url}");
        }
    }
}
