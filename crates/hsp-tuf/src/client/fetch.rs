//! Getting repository files: over HTTP(S) with ureq, or from a folder (an
//! air-gapped site's mirror, a USB stick, `file://`).
//!
//! Every read is capped: a response longer than the caller's limit is cut off
//! and rejected while streaming, so a hostile mirror cannot feed endless data.
//! Timestamps are fetched with a conditional GET (`If-None-Match` /
//! `If-Modified-Since`) so an idle poll moves no body at all.

use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::UpdateError;
use super::http::{Deadline, GetError, Http};

/// HTTP cache validators of a previously fetched file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What a fetch returned.
#[derive(Debug)]
pub enum Fetched {
    /// The file's bytes (at most the limit) and its validators.
    Body(Vec<u8>, Validators),
    /// The conditional request matched: the file is unchanged.
    NotModified,
    /// 404/403, or no such file in the folder.
    NotFound,
}

/// Bytes and requests a fetcher has made, for `--stats` and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub bytes: u64,
}

/// A place repository files come from, addressed by paths relative to a base.
pub trait Fetch: Send + Sync {
    /// Fetches `rel` (already URL-safe), failing with [`UpdateError::TooLarge`]
    /// when it is longer than `limit` bytes.
    fn fetch(
        &self,
        rel: &str,
        limit: u64,
        cond: Option<&Validators>,
    ) -> Result<Fetched, UpdateError>;
    /// The URL or path of `rel`, for messages.
    fn location(&self, rel: &str) -> String;
    /// Totals since this fetcher was made.
    fn stats(&self) -> Stats;
}

/// Opens a source: `http://` and `https://` URLs, `file://` URLs and plain
/// folder paths.
pub fn open(source: &str) -> Result<Box<dyn Fetch>, UpdateError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        Ok(Box::new(HttpFetcher::new(source)))
    } else if let Some(path) = source.strip_prefix("file://") {
        Ok(Box::new(DirFetcher::new(path)))
    } else if source.contains("://") || source.is_empty() {
        Err(UpdateError::BadSource {
            what: source.to_string(),
        })
    } else {
        Ok(Box::new(DirFetcher::new(source)))
    }
}

/// Joins a base location and a relative part: `base` + `/` + `rel`.
pub fn join(base: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

#[derive(Default)]
struct Counter {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Counter {
    fn add(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn get(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// HTTP(S) through [`Http`]: its timeouts and redirect rules.
pub struct HttpFetcher {
    base: String,
    http: Http,
    counter: Counter,
}

impl HttpFetcher {
    pub fn new(base: &str) -> Self {
        HttpFetcher::with(base, Http::default())
    }

    pub fn with(base: &str, http: Http) -> Self {
        HttpFetcher {
            base: base.trim_end_matches('/').to_string(),
            http,
            counter: Counter::default(),
        }
    }
}

impl Fetch for HttpFetcher {
    fn fetch(
        &self,
        rel: &str,
        limit: u64,
        cond: Option<&Validators>,
    ) -> Result<Fetched, UpdateError> {
        let url = join(&self.base, rel);
        let mut headers = Vec::new();
        if let Some(v) = cond {
            if let Some(etag) = &v.etag {
                headers.push(("If-None-Match", etag.as_str()));
            }
            if let Some(lm) = &v.last_modified {
                headers.push(("If-Modified-Since", lm.as_str()));
            }
        }
        let resp = match self.http.get(&url, &headers) {
            Ok(r) => r,
            Err(GetError::Status(403 | 404 | 410)) => {
                self.counter.add(0);
                return Ok(Fetched::NotFound);
            }
            Err(GetError::Status(status)) => {
                self.counter.add(0);
                return Err(UpdateError::Status { url, status });
            }
            Err(source) => return Err(UpdateError::Http { url, source }),
        };
        match resp.status() {
            304 => {
                self.counter.add(0);
                return Ok(Fetched::NotModified);
            }
            200 => {}
            status => return Err(UpdateError::Status { url, status }),
        }
        // Refuse early when the server announces too much; the streaming cap
        // below catches servers that lie or announce nothing.
        if let Some(len) = resp
            .header("Content-Length")
            .and_then(|l| l.parse::<u64>().ok())
        {
            if len > limit {
                self.counter.add(0);
                return Err(UpdateError::TooLarge { url, limit });
            }
        }
        let validators = Validators {
            etag: resp.header("ETag").map(str::to_string),
            last_modified: resp.header("Last-Modified").map(str::to_string),
        };
        let body = read_capped(
            Deadline::new(resp.into_reader(), self.http.timeouts().overall),
            limit,
            &url,
        )?;
        self.counter.add(body.len());
        Ok(Fetched::Body(body, validators))
    }

    fn location(&self, rel: &str) -> String {
        join(&self.base, rel)
    }

    fn stats(&self) -> Stats {
        self.counter.get()
    }
}

/// A folder holding the repository (e.g. a mirror on removable media).
pub struct DirFetcher {
    base: PathBuf,
    counter: Counter,
}

impl DirFetcher {
    pub fn new(base: impl AsRef<Path>) -> Self {
        DirFetcher {
            base: base.as_ref().to_path_buf(),
            counter: Counter::default(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        let mut p = self.base.clone();
        // `rel` comes from percent-encoded role names and checked target paths;
        // join it segment by segment so it stays under the base.
        for seg in rel
            .split('/')
            .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        {
            p.push(seg);
        }
        p
    }
}

impl Fetch for DirFetcher {
    fn fetch(
        &self,
        rel: &str,
        limit: u64,
        _cond: Option<&Validators>,
    ) -> Result<Fetched, UpdateError> {
        let path = self.path(rel);
        let url = path.display().to_string();
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.counter.add(0);
                return Ok(Fetched::NotFound);
            }
            Err(source) => return Err(UpdateError::ReadFile { path, source }),
        };
        let body = read_capped(file, limit, &url)?;
        self.counter.add(body.len());
        Ok(Fetched::Body(body, Validators::default()))
    }

    fn location(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn stats(&self) -> Stats {
        self.counter.get()
    }
}

/// Reads at most `limit` bytes; one byte more means the source is too long.
fn read_capped(reader: impl Read, limit: u64, url: &str) -> Result<Vec<u8>, UpdateError> {
    let mut body = Vec::with_capacity(limit.min(64 * 1024) as usize);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|source| UpdateError::Read {
            url: url.to_string(),
            source,
        })?;
    if body.len() as u64 > limit {
        return Err(UpdateError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        for (source, http) in [
            ("http://127.0.0.1:1/metadata", Some(true)),
            ("https://example.org/index/", Some(true)),
            ("file:///srv/index", Some(false)),
            ("/srv/index", Some(false)),
            ("index", Some(false)),
            ("ftp://example.org/x", None),
            ("", None),
        ] {
            let got = open(source);
            match http {
                None => assert!(got.is_err(), "{source}"),
                Some(true) => assert!(got.unwrap().location("a").starts_with("http"), "{source}"),
                Some(false) => assert!(!got.unwrap().location("a").contains("://"), "{source}"),
            }
        }
    }

    #[test]
    fn folder_reads_are_capped_and_stay_under_the_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), b"0123456789").unwrap();
        let f = DirFetcher::new(dir.path());
        for (rel, limit, expected) in [
            ("a.json", 10, Some(10)),
            ("a.json", 9, None),
            ("../a.json", 10, Some(10)),
        ] {
            match (f.fetch(rel, limit, None), expected) {
                (Ok(Fetched::Body(b, _)), Some(n)) => assert_eq!(b.len(), n),
                (Err(UpdateError::TooLarge { .. }), None) => {}
                (other, _) => panic!("{rel} {limit}: {other:?}"),
            }
        }
        assert!(matches!(
            f.fetch("missing.json", 10, None),
            Ok(Fetched::NotFound)
        ));
        assert_eq!(f.stats().requests, 3);
    }
}
