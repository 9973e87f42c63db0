//! The validation rules on the fixture corpus, in process:
//! `broken_corpus`: every document of `tests/fixtures/broken/` (see its
//! `make.py`), placed in a copy of the fixture registry, produces exactly the
//! diagnostics (code, line, column) its rows in `cases.tsv` list. The real
//! `hsp check` on the same corpus is the end-to-end test `e2e::check`.

use std::collections::BTreeMap;

use hsp_check::{classify, validate_repo, Code, RepoInput, Severity, Source};
use hsp_test_support::corpus::{broken_dir, cases, fixture_registry, Case};
use hsp_test_support::fs::tree;

fn input(files: &BTreeMap<String, Vec<u8>>) -> RepoInput {
    let mut input = RepoInput::default();
    for (path, bytes) in files {
        if let Some(kind) = classify(path) {
            input.push(
                kind,
                Source {
                    path: path.clone(),
                    bytes: bytes.clone(),
                },
            );
        }
    }
    input
}

#[test]
fn fixture_registry_is_clean() {
    let repo = validate_repo(input(&tree(&fixture_registry())));
    assert!(repo.diagnostics.is_empty(), "{:#?}", repo.diagnostics);
    assert_eq!(repo.documents.len(), 2);
}

#[test]
fn broken_corpus() {
    let base = tree(&fixture_registry());
    let cases = cases();
    let mut by_file: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in &cases {
        by_file.entry(&c.file).or_default().push(c);
    }
    assert!(
        by_file.len() >= 30,
        "the corpus needs at least 30 documents"
    );
    let on_disk: Vec<String> = std::fs::read_dir(broken_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    for n in &on_disk {
        assert!(
            by_file.contains_key(n.as_str()),
            "{n} has no row in cases.tsv"
        );
    }
    let mut seen_codes = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for (file, rows) in &by_file {
        let path = &rows[0].path;
        let mut files = base.clone();
        files.insert(
            path.clone(),
            std::fs::read(broken_dir().join(file)).unwrap(),
        );
        let repo = validate_repo(input(&files));
        let mut got: Vec<(String, String, usize, usize)> = repo
            .diagnostics
            .iter()
            .map(|d| (d.path.clone(), d.code.id().to_string(), d.line, d.column))
            .collect();
        let mut want: Vec<(String, String, usize, usize)> = rows
            .iter()
            .map(|c| (c.path.clone(), c.code.clone(), c.line, c.column))
            .collect();
        got.sort();
        want.sort();
        if got != want {
            let text: Vec<String> = repo.diagnostics.iter().map(|d| d.to_string()).collect();
            failures.push(format!(
                "{file}:\n  want {want:?}\n  got  {got:?}\n{}",
                text.join("\n")
            ));
        }
        seen_codes.extend(rows.iter().map(|c| c.code.clone()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every rule is exercised by at least one broken document, but those about
    // what only a file system holds (names, links, FIFOs, sizes): the e2e test
    // `check::unreadable_files_are_findings_and_never_opened` makes those;
    // and those only the network tells (`--online`), which the e2e tests
    // `airgap::pin` make against real registries.
    let on_disk_only = [
        Code::FileName,
        Code::FileKind,
        Code::FileSize,
        Code::ImageMissing,
        Code::ArtifactSize,
        Code::OnlineUnreachable,
        // Across the repo, its signed metadata and its base: e2e::review.
        Code::Unsigned,
        Code::PublisherMetadata,
        Code::VersionDeleted,
        Code::VersionChanged,
        Code::YankTarget,
    ];
    let untested: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !on_disk_only.contains(c))
        .map(|c| c.id())
        .filter(|id| !seen_codes.contains(*id))
        .collect();
    assert!(
        untested.is_empty(),
        "codes without a broken document: {untested:?}"
    );
}

#[test]
fn diagnostics_are_errors_or_warnings_by_code() {
    for c in Code::ALL {
        let d = hsp_check::Finding::new(*c, "", "m").resolve("f.json", b"{}");
        let want = if c.id().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        };
        assert_eq!(d.severity, want, "{c:?}");
    }
}
