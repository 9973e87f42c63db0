//! `hsp pin DOC...`: every task image written by tag (`repo:tag`) becomes
//! `repo:tag@sha256:...`, the digest its registry serves for the tag now (for
//! a multi-platform image, the index's, once its linux/amd64 manifest was
//! found). Only the image strings change: every other byte of the file,
//! formatting and key order included, is kept, so the diff a publisher
//! reviews is the pins and nothing else. A document already pinned is left
//! alone unless `update` asks to re-resolve its tag.
//!
//! The file is written (temp, rename) only when every image of it resolved;
//! a document that was signed must be signed again (`hsp sign`), which the
//! command says.

use std::path::{Path, PathBuf};

use hsp_check::locate::{position_of, value_offsets};
use hsp_index::image::ImageRef;
use serde::Serialize;

use crate::oci::{Error, Oci, Resolved};

/// One image string rewritten (or that would be, with `dry_run`).
#[derive(Clone, Debug, Serialize)]
pub struct Pinned {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub from: String,
    pub to: String,
    pub platforms: Vec<String>,
}

/// One image that could not be pinned, with its position.
#[derive(Debug)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}\n  hint: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message,
            self.hint
        )
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub pinned: Vec<Pinned>,
    /// Images left as they were (already pinned).
    pub kept: usize,
    pub problems: Vec<Problem>,
    /// Files rewritten.
    pub written: Vec<PathBuf>,
}

/// An image string's place in the file: the byte range of its JSON string
/// literal (quotes included) and its value.
struct Site {
    start: usize,
    end: usize,
    value: String,
}

/// The `tasks[i].image` strings of a document's text.
fn image_sites(text: &[u8]) -> Result<Vec<Site>, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(tasks) = doc.get("tasks").and_then(|t| t.as_array()) else {
        return Ok(Vec::new());
    };
    let pointers: Vec<String> = (0..tasks.len())
        .map(|i| format!("/tasks/{i}/image"))
        .collect();
    let refs: Vec<&str> = pointers.iter().map(String::as_str).collect();
    let offsets = value_offsets(text, &refs);
    let mut out = Vec::new();
    for (task, offset) in tasks.iter().zip(offsets) {
        let (Some(value), Some(start)) = (task.get("image").and_then(|v| v.as_str()), offset)
        else {
            continue;
        };
        let end = string_end(text, start).ok_or("an unterminated string")?;
        out.push(Site {
            start,
            end,
            value: value.to_string(),
        });
    }
    Ok(out)
}

/// The offset just past the JSON string literal that starts at `start`.
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    if text.get(start) != Some(&b'"') {
        return None;
    }
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Pins the images of each file; writes a file only when all of its images
/// resolved (and not with `dry_run`).
pub fn pin(oci: &Oci, files: &[PathBuf], update: bool, dry_run: bool) -> Report {
    let mut report = Report::default();
    for file in files {
        pin_file(oci, file, update, dry_run, &mut report);
    }
    report
}

fn pin_file(oci: &Oci, file: &Path, update: bool, dry_run: bool, report: &mut Report) {
    let problem = |offset: usize, text: &[u8], message: String, hint: &str| {
        let at = position_of(text, offset);
        Problem {
            file: file.to_path_buf(),
            line: at.line,
            column: at.column,
            message,
            hint: hint.to_string(),
        }
    };
    let text = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(Problem {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
                message: format!("cannot be read: {e}"),
                hint: "name a conformance document (.json)".into(),
            });
            return;
        }
    };
    let sites = match image_sites(&text) {
        Ok(s) => s,
        Err(message) => {
            report.problems.push(problem(
                0,
                &text,
                message,
                "run `hsp check` on the file and fix what it reports first",
            ));
            return;
        }
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let problems_before = report.problems.len();
    for site in &sites {
        let Some(image) = ImageRef::parse_any(&site.value) else {
            report.problems.push(problem(
                site.start,
                &text,
                format!("`{}` is not an image reference", site.value),
                "write `registry/repository:tag`",
            ));
            continue;
        };
        if image.digest.is_some() && !update {
            report.kept += 1;
            continue;
        }
        if image.tag.is_none() {
            report.problems.push(problem(
                site.start,
                &text,
                format!("`{}` has no tag to resolve", site.value),
                "write the tag the digest is to come from, e.g. `repo:1.2.3`",
            ));
            continue;
        }
        let by_tag = ImageRef {
            digest: None,
            ..image.clone()
        };
        match oci.block_on(oci.resolve(&by_tag)) {
            Ok(Resolved { digest, platforms }) => {
                let name = site.value.split('@').next().unwrap_or(&site.value);
                let to = format!("{name}@{digest}");
                let at = position_of(&text, site.start);
                if to != site.value {
                    edits.push((site.start, site.end, to.clone()));
                }
                report.pinned.push(Pinned {
                    file: file.to_path_buf(),
                    line: at.line,
                    column: at.column,
                    from: site.value.clone(),
                    to,
                    platforms,
                });
            }
            Err(e) => {
                let hint = match &e {
                    Error::NotFound { .. } => "check the repository and tag; `docker buildx imagetools inspect IMAGE` shows what the registry has",
                    Error::Registry { .. } => "check the registry's address and your credentials (`docker login REGISTRY` writes them to the Docker config)",
                    _ => "push a linux/amd64 image under that tag, then run `hsp pin` again",
                };
                report
                    .problems
                    .push(problem(site.start, &text, e.to_string(), hint));
            }
        }
    }
    if report.problems.len() > problems_before || edits.is_empty() || dry_run {
        return;
    }
    let mut out = Vec::with_capacity(text.len() + 80 * edits.len());
    let mut at = 0;
    for (start, end, value) in &edits {
        out.extend_from_slice(&text[at..*start]);
        out.extend_from_slice(
            serde_json::to_string(value)
                .expect("a string serializes")
                .as_bytes(),
        );
        at = *end;
    }
    out.extend_from_slice(&text[at..]);
    match write_replacing(file, &out) {
        Ok(()) => report.written.push(file.to_path_buf()),
        Err(e) => report.problems.push(Problem {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot be written: {e}"),
            hint: "check the folder's permissions; the file was left as it was".into(),
        }),
    }
}

/// Replaces `path` by `bytes` atomically (temp file beside it, rename),
/// keeping its permissions.
fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    let perms = std::fs::metadata(path)?.permissions();
    std::fs::set_permissions(tmp.path(), perms)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_the_image_literals() {
        let text = br#"{
  "tasks": [
    {"name": "app", "image": "acme/app:1.0"},
    {"name": "worker", "image" :  "acme\/worker:2"}
  ],
  "x": {"image": "not/a-task:1"}
}"#;
        let sites = image_sites(text).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(&text[sites[0].start..sites[0].end], br#""acme/app:1.0""#);
        assert_eq!(sites[1].value, "acme/worker:2");
        assert_eq!(&text[sites[1].start..sites[1].end], br#""acme\/worker:2""#);
    }

    #[test]
    fn documents_without_tasks_have_no_sites() {
        assert!(image_sites(br#"{"id": "x"}"#).unwrap().is_empty());
        assert!(image_sites(b"{").is_err());
    }
}
