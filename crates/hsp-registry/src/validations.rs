//! Validation reports in a registry repo (`validations/<service>/<version>.json`,
//! written by `hsp validate --out` or `hsp build --validate`): each is read
//! with the repo's file rules, parsed, and must name a document of the repo
//! and the exact bytes it validated (its `document_sha256`). The build
//! publishes each, registry-signed, as an API file
//! (`hsp_index::api::validation_path`), and with `policy.require_validation`
//! refuses a version new in the build without a passing report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hsp_index::validation::{repo_path, Report, VALIDATIONS_DIR};

use crate::repo::{read_file, split_path, ScannedDoc};

/// A report that names a document of the repo and its bytes.
pub struct Validation {
    pub path: String,
    pub report: Report,
}

/// The reports of the repo at `root`, checked against its `documents`;
/// every problem as `path: message (hint: ...)`.
pub fn read(root: &Path, documents: &[ScannedDoc]) -> Result<Vec<Validation>, Vec<String>> {
    // (id, version as the file name writes it) -> (document path, sha256).
    let docs: BTreeMap<(&str, &str), &ScannedDoc> = documents
        .iter()
        .filter_map(|d| {
            let (_, target) = split_path(&d.path)?;
            let (id, file) = target.strip_prefix("services/")?.split_once('/')?;
            Some(((id, file.strip_suffix(".json")?), d))
        })
        .collect();
    let dir = root.join(VALIDATIONS_DIR);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let Ok(services) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut paths = Vec::new();
    for s in services.flatten() {
        let Ok(files) = std::fs::read_dir(s.path()) else {
            errors.push(format!(
                "{VALIDATIONS_DIR}/{}: not a folder (hint: reports go in validations/<service>/<version>.json)",
                s.file_name().to_string_lossy()
            ));
            continue;
        };
        for f in files.flatten() {
            paths.push(format!(
                "{VALIDATIONS_DIR}/{}/{}",
                s.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            ));
        }
    }
    paths.sort();
    for path in paths {
        let bytes = match read_file(&root.join(&path)) {
            Ok(Ok(b)) => b,
            Ok(Err(why)) => {
                errors.push(why.diagnostic(&path).to_string());
                continue;
            }
            Err(e) => {
                errors.push(format!("{path}: cannot read: {e}"));
                continue;
            }
        };
        let report: Report = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!(
                    "{path}:{}:{}: not a validation report: {e} (hint: write it with `hsp validate DOC --out {path}`)",
                    e.line(),
                    e.column()
                ));
                continue;
            }
        };
        let Some((id, file)) = path
            .strip_prefix(&format!("{VALIDATIONS_DIR}/"))
            .and_then(|p| p.split_once('/'))
        else {
            continue;
        };
        let version = file.strip_suffix(".json").unwrap_or(file);
        if report.service != id || report.version != version {
            errors.push(format!(
                "{path}: reports {} {}, not what its path says (hint: move it to {})",
                report.service,
                report.version,
                repo_path(&report.service, &report.version)
            ));
            continue;
        }
        match docs.get(&(id, version)) {
            None => errors.push(format!(
                "{path}: no document {id} {version} in the registry (hint: remove the report, or add the document)"
            )),
            Some(d) if d.sha256 != report.document_sha256 => errors.push(format!(
                "{path}: validated other bytes than {} has now (hint: validate it again: `hsp validate {} --out {path}`)",
                d.path, d.path
            )),
            Some(_) => out.push(Validation { path, report }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// With `policy.require_validation`: every document not in `published`
/// (target paths OUT serves) needs a passing report among `validations`.
pub fn require(
    documents: &[ScannedDoc],
    validations: &[Validation],
    published: &BTreeSet<String>,
) -> Vec<String> {
    let passed: BTreeSet<(&str, &str)> = validations
        .iter()
        .filter(|v| v.report.passed())
        .map(|v| (v.report.service.as_str(), v.report.version.as_str()))
        .collect();
    let mut errors = Vec::new();
    for d in documents {
        let Some((_, target)) = split_path(&d.path) else {
            continue;
        };
        if published.contains(target) {
            continue;
        }
        let Some((id, file)) = target
            .strip_prefix("services/")
            .and_then(|t| t.split_once('/'))
        else {
            continue;
        };
        let version = file.strip_suffix(".json").unwrap_or(file);
        if !passed.contains(&(id, version)) {
            let report = repo_path(id, version);
            let why = match validations.iter().find(|v| v.path == report) {
                Some(v) => format!(
                    "its report {report} has {} failed rule(s)",
                    v.report.failures().max(1)
                ),
                None => format!("no {report}"),
            };
            errors.push(format!(
                "{}: not validated ({why}); the registry requires a passing validation for new versions (hint: `hsp validate {} --out {report}`, or `hsp build --validate`)",
                d.path, d.path
            ));
        }
    }
    errors
}

/// What `hsp build --validate` validates: each document of the repo at
/// `root` that OUT does not publish with the same bytes and that has no
/// report for its bytes; (document path, report path), repo-relative.
pub fn to_validate(root: &Path, out: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let repo = crate::repo::load(root)?;
    let served: BTreeMap<String, String> = match crate::published::Served::read(out) {
        Ok(s) => s
            .documents()
            .filter_map(|d| Some((d.target.to_string(), d.file.sha256()?.to_string())))
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    let mut todo = Vec::new();
    for d in &repo.documents {
        let Some((_, target)) = split_path(&d.path) else {
            continue;
        };
        let sha256 = hsp_tuf::sha256_hex(&d.bytes);
        if served.get(target) == Some(&sha256) {
            continue;
        }
        let report = repo_path(&d.value.id, &d.value.version);
        let current = std::fs::read(root.join(&report))
            .ok()
            .and_then(|b| serde_json::from_slice::<Report>(&b).ok())
            .is_some_and(|r| r.document_sha256 == sha256);
        if !current {
            todo.push((d.path.clone(), report));
        }
    }
    Ok(todo)
}
