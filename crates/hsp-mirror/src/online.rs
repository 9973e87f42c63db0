//! `hsp check --online` and `hsp build --verify-images`: what only the
//! network can tell about documents. Every pinned image's manifest must exist
//! in its registry (a HEAD of the manifest by digest, E090); every artifact
//! URL must answer with the size the document declares (a one-byte Range
//! request read for its `Content-Range` total, or the `Content-Length` of a
//! server that ignores Range; `file://` URLs are `stat`ed: E091); a registry
//! or server that cannot be asked is E092, so an unreachable registry never
//! passes as a good image. Each image and URL is asked once, however many
//! documents name it, and the questions run concurrently.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};
use hsp_check::{Code, Diagnostic, Finding, Loaded};
use hsp_index::document::Document;
use hsp_index::image::ImageRef;
use hsp_tuf::client::http::Http;

use crate::oci::{Error, Oci};

/// How many registry questions run at once.
const CONCURRENCY: usize = 8;

/// What was asked, for the summary line.
#[derive(Debug, Default)]
pub struct Asked {
    pub images: usize,
    pub artifacts: usize,
}

/// The documents' images and artifact URLs that are pinned or written well
/// enough to ask about (the others have offline findings already).
pub fn counts(documents: &[Loaded<Document>]) -> Asked {
    let mut images = std::collections::BTreeSet::new();
    let mut urls = std::collections::BTreeSet::new();
    for d in documents {
        for t in &d.value.tasks {
            if ImageRef::parse(&t.image).is_some() {
                images.insert(t.image.as_str());
            }
        }
        for a in &d.value.artifacts {
            urls.insert((a.url.as_str(), a.size));
        }
    }
    Asked {
        images: images.len(),
        artifacts: urls.len(),
    }
}

/// The online findings for `documents` (paths as they are to be shown).
pub fn check(oci: &Oci, documents: &[Loaded<Document>]) -> (Vec<Diagnostic>, Asked) {
    let mut images: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut urls: BTreeMap<(String, u64), Vec<(usize, String)>> = BTreeMap::new();
    for (n, d) in documents.iter().enumerate() {
        for (i, t) in d.value.tasks.iter().enumerate() {
            if ImageRef::parse(&t.image).is_some() {
                images
                    .entry(t.image.clone())
                    .or_default()
                    .push((n, format!("/tasks/{i}/image")));
            }
        }
        for (i, a) in d.value.artifacts.iter().enumerate() {
            urls.entry((a.url.clone(), a.size))
                .or_default()
                .push((n, format!("/artifacts/{i}/url")));
        }
    }
    let asked = Asked {
        images: images.len(),
        artifacts: urls.len(),
    };
    let image_answers: Vec<(String, Result<bool, Error>)> = oci.block_on(
        stream::iter(images.keys().cloned())
            .map(|image| async move {
                let r = ImageRef::parse(&image).expect("only pinned images are asked");
                let answer = oci.manifest_exists(&r).await;
                (image, answer)
            })
            .buffer_unordered(CONCURRENCY)
            .collect(),
    );
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    for (image, answer) in image_answers {
        let finding = match answer {
            Ok(true) => continue,
            Ok(false) => Finding::new(
                Code::ImageMissing,
                "",
                format!("image `{image}` is not in its registry"),
            )
            .hint("push the image, or pin the digest the registry has: `hsp pin FILE` resolves a `repo:tag`"),
            Err(e) => Finding::new(Code::OnlineUnreachable, "", format!("image `{image}`: {e}"))
                .hint("check the registry's address, the network and your credentials (`docker login`); offline, run `hsp check` without --online"),
        };
        for (n, pointer) in &images[&image] {
            findings.push((
                *n,
                Finding {
                    pointer: pointer.clone(),
                    ..finding.clone()
                },
            ));
        }
    }
    let http = Http::new(hsp_tuf::client::http::Timeouts::with_overrides(|v| {
        std::env::var(v).ok()
    }));
    let url_answers: Vec<((String, u64), Result<u64, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = urls
            .keys()
            .cloned()
            .map(|key| {
                let http = &http;
                s.spawn(move || {
                    let answer = artifact_size(http, &key.0);
                    (key, answer)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an artifact check panicked"))
            .collect()
    });
    for ((url, size), answer) in url_answers {
        let finding = match answer {
            Ok(n) if n == size => continue,
            Ok(n) => Finding::new(
                Code::ArtifactSize,
                "",
                format!("artifact `{url}` is {n} bytes, the document declares {size}"),
            )
            .hint("set `size` (and `sha256`) to those of the archive the URL serves"),
            Err(e) => Finding::new(Code::OnlineUnreachable, "", format!("artifact `{url}`: {e}"))
                .hint("check that the URL is public and the server is up; offline, run `hsp check` without --online"),
        };
        for (n, pointer) in &urls[&(url.clone(), size)] {
            findings.push((
                *n,
                Finding {
                    pointer: pointer.clone(),
                    ..finding.clone()
                },
            ));
        }
    }
    let mut out: Vec<Diagnostic> = findings
        .into_iter()
        .map(|(n, f)| f.resolve(&documents[n].path, &documents[n].bytes))
        .collect();
    out.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    (out, asked)
}

/// The size `url` answers with, without downloading the body.
fn artifact_size(http: &Http, url: &str) -> Result<u64, String> {
    if let Some(path) = url.strip_prefix("file://") {
        return std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| format!("{path}: {e}"));
    }
    let response = http
        .get(url, &[("Range", "bytes=0-0")])
        .map_err(|e| e.to_string())?;
    match response.status() {
        206 => response
            .header("content-range")
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, total)| total.trim().parse().ok())
            .ok_or_else(|| "answered 206 without a total in Content-Range".to_string()),
        200 => response
            .header("content-length")
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| "answered without a Content-Length".to_string()),
        s => Err(format!("answered HTTP {s}")),
    }
}
