//! The fixture registry (`tests/fixtures/registry`) and the broken corpus
//! (`tests/fixtures/broken`, see its `make.py`): documents that each break
//! rules, with the diagnostics (code, line, column) their rows in `cases.tsv`
//! list.

use std::path::PathBuf;

/// `tests/fixtures/registry`: a small registry every rule accepts.
pub fn fixture_registry() -> PathBuf {
    crate::root().join("tests/fixtures/registry")
}

/// `tests/fixtures/broken`.
pub fn broken_dir() -> PathBuf {
    crate::root().join("tests/fixtures/broken")
}

/// One row of `cases.tsv`: the diagnostic `file`, placed at `path` of the
/// fixture registry, must produce.
pub struct Case {
    pub file: String,
    pub path: String,
    pub code: String,
    pub line: usize,
    pub column: usize,
}

/// The rows of `cases.tsv`.
pub fn cases() -> Vec<Case> {
    let table = std::fs::read_to_string(broken_dir().join("cases.tsv")).unwrap();
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "bad row in cases.tsv: {l}");
            Case {
                file: f[0].into(),
                path: f[1].into(),
                code: f[2].into(),
                line: f[3].parse().unwrap(),
                column: f[4].parse().unwrap(),
            }
        })
        .collect()
}
