//! Files `hsp` writes for people to fill in or keep: a new conformance
//! document for an ISV (`hsp new`), with every value they must supply marked
//! `TODO` (which `hsp check` reports, E105, until it is replaced), and the
//! registry repo's CI workflow (`hsp init`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use hsp_index::registry::{PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR};

/// Where `hsp init` writes the registry's CI workflow.
pub const WORKFLOW_PATH: &str = ".github/workflows/hsp.yml";

/// The registry's GitHub Actions workflow: on pull requests, `hsp check`
/// against the published index with annotations on the changed files and
/// `hsp diff` as a comment; on the main branch, a build published to GitHub
/// Pages; on a schedule, the timestamp re-signed before it expires.
pub const WORKFLOW: &str = include_str!("workflow.yml");

/// Writes a scaffold document for `id`, version `version`, published by
/// `publisher` (which must have a `publisher.json` in `repo`), and the
/// schemas it names if the repo has none. Returns its path.
pub fn new_document(
    repo: &Path,
    id: &str,
    publisher: &str,
    version: &str,
) -> anyhow::Result<PathBuf> {
    if !hsp_index::name::is_reverse_dns(id) {
        bail!("{id:?} is not a service id (hint: reverse DNS of a domain you own, e.g. com.example.app)");
    }
    hsp_index::version::parse_version(version)
        .with_context(|| format!("--version {version:?} is not semver (hint: e.g. 1.0.0)"))?;
    let record = repo
        .join(PUBLISHERS_DIR)
        .join(publisher)
        .join(PUBLISHER_FILE);
    if !record.is_file() {
        bail!(
            "{}: no such publisher (hint: the registry's maintainers add publishers/{publisher}/publisher.json by pull request first)",
            record.display()
        );
    }
    let rel = format!("{PUBLISHERS_DIR}/{publisher}/{SERVICES_DIR}/{id}/{version}.json");
    let path = repo.join(&rel);
    if path.exists() {
        bail!(
            "{}: already exists (hint: a new version gets a new file)",
            path.display()
        );
    }
    let schemas = repo.join("schemas");
    if !schemas.join("document.schema.json").exists() {
        std::fs::create_dir_all(&schemas)?;
        for (name, schema) in hsp_index::schema::all() {
            let text = serde_json::to_string_pretty(&schema)? + "\n";
            std::fs::write(schemas.join(name), text)?;
        }
    }
    let text = include_str!("scaffold.json")
        .replace("@ID@", id)
        .replace("@VERSION@", version)
        .replace("@PUBLISHER@", publisher);
    std::fs::create_dir_all(path.parent().expect("has a folder"))?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Writes [`WORKFLOW`] into `repo` unless a file is there already.
pub fn write_workflow(repo: &Path) -> anyhow::Result<PathBuf> {
    let path = repo.join(WORKFLOW_PATH);
    if path.exists() {
        bail!("{}: already exists; not overwritten", path.display());
    }
    std::fs::create_dir_all(path.parent().expect("has a folder"))?;
    std::fs::write(&path, WORKFLOW).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_scaffold_is_a_document_once_filled_in() {
        let text = include_str!("scaffold.json")
            .replace("@ID@", "com.example.app")
            .replace("@VERSION@", "1.0.0")
            .replace("@PUBLISHER@", "example");
        let doc: hsp_index::Document = serde_json::from_str(&text).unwrap();
        assert_eq!(doc.id, "com.example.app");
        assert!(text.matches("TODO").count() >= 5);
    }
}
