//! `hsp check` and the validation rules behind it.
//!
//! - `broken_corpus`: every document of `tests/fixtures/broken/` (see its
//!   `make.py`), placed in a copy of the fixture registry, produces exactly the
//!   diagnostics (code, line, column) its rows in `cases.tsv` list.
//! - the other tests run the real `hsp` binary on good and bad inputs and check
//!   its output, `--json`, `--deny-warnings` and exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hsp_check::{classify, validate_repo, Code, RepoInput, Severity, Source};
use hsp_tests::{bin, root};

fn fixture_registry() -> PathBuf {
    root().join("tests/fixtures/registry")
}

fn broken_dir() -> PathBuf {
    root().join("tests/fixtures/broken")
}

/// Every file of the registry at `dir`, by repo-relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

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

struct Case {
    file: String,
    path: String,
    code: String,
    line: usize,
    column: usize,
}

fn cases() -> Vec<Case> {
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

#[test]
fn fixture_registry_is_clean() {
    let repo = validate_repo(input(&read_tree(&fixture_registry())));
    assert!(repo.diagnostics.is_empty(), "{:#?}", repo.diagnostics);
    assert_eq!(repo.documents.len(), 2);
}

#[test]
fn broken_corpus() {
    let base = read_tree(&fixture_registry());
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
    // Every rule is exercised by at least one broken document.
    let untested: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.id())
        .filter(|id| !seen_codes.contains(*id))
        .collect();
    assert!(
        untested.is_empty(),
        "codes without a broken document: {untested:?}"
    );
}

fn hsp(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin("hsp"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("running hsp")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A copy of the fixture registry with some broken documents placed in it. A
/// case named `name@id` is moved to service id `com.acme.<id>` so that cases
/// written for the same path can sit side by side.
fn registry_with(cases: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut files = read_tree(&fixture_registry());
    let rows = self::cases();
    for case in cases {
        let (name, id) = case.split_once('@').unwrap_or((case, "app"));
        let row = rows
            .iter()
            .find(|c| c.file == format!("{name}.json"))
            .unwrap();
        let mut text = std::fs::read_to_string(broken_dir().join(&row.file)).unwrap();
        let id = format!("com.acme.{id}");
        text = text.replace("\"com.acme.app\"", &format!("\"{id}\""));
        files.insert(
            row.path.replace("com.acme.app/", &format!("{id}/")),
            text.into_bytes(),
        );
    }
    for (rel, bytes) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}

#[test]
fn clean_registry_exits_zero() {
    let out = hsp(&["check", "tests/fixtures/registry"], &root());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("checked 7 files"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn examples_registry_is_clean() {
    let examples = root().join("examples/registry");
    assert!(
        examples.join("registry.json").is_file(),
        "examples/registry is missing"
    );
    let out = hsp(&["check", "--deny-warnings", "examples/registry"], &root());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn reports_every_problem_with_position_and_hint() {
    let reg = registry_with(&["unknown-field-and-rule", "version-range@range", "namespace"]);
    let out = hsp(&["check", "."], reg.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows = cases();
    for name in ["unknown-field-and-rule", "version-range", "namespace"] {
        for c in rows.iter().filter(|c| c.file == format!("{name}.json")) {
            let path = match name {
                "version-range" => c.path.replace("com.acme.app/", "com.acme.range/"),
                _ => c.path.clone(),
            };
            let want = format!("{path}:{}:{}: error[{}]: ", c.line, c.column, c.code);
            assert!(
                stdout.lines().any(|l| l.starts_with(&want)),
                "missing `{want}` in:\n{stdout}"
            );
        }
    }
    assert!(
        stdout.contains("  hint: did you mean `memory_mib`?"),
        "{stdout}"
    );
    let line =
        regex::Regex::new(r"^(\S+):(\d+):(\d+): (error|warning)\[[EW]\d{3}\]: \S.*$|^  hint: \S")
            .unwrap();
    for l in stdout.lines() {
        assert!(line.is_match(l), "badly formatted line: {l}");
    }
    assert!(
        text(&out.stderr).contains("4 errors, 0 warnings"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn json_output() {
    let reg = registry_with(&["image-tag-only", "secret-default@secret"]);
    let out = hsp(&["check", "--json", "."], reg.path());
    assert_eq!(out.status.code(), Some(1));
    let ds: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("stdout is a JSON array");
    let summary: Vec<(String, String, u64, String)> = ds
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["pointer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let image = cases()
        .into_iter()
        .find(|c| c.file == "image-tag-only.json")
        .unwrap();
    let secret = cases()
        .into_iter()
        .find(|c| c.file == "secret-default.json")
        .unwrap();
    assert!(
        summary.contains(&(
            "E060".into(),
            "error".into(),
            image.line as u64,
            "/tasks/0/image".into()
        )),
        "{summary:?}"
    );
    assert!(
        summary.contains(&(
            "W002".into(),
            "warning".into(),
            secret.line as u64,
            "/config/1/default".into()
        )),
        "{summary:?}"
    );
    assert!(ds
        .iter()
        .all(|d| d["path"].as_str().unwrap().starts_with("publishers/")));
}

#[test]
fn warnings_fail_only_when_denied() {
    let reg = registry_with(&["no-health-check"]);
    let out = hsp(&["check", "."], reg.path());
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("warning[W001]"),
        "{}",
        text(&out.stdout)
    );
    let out = hsp(&["check", "--deny-warnings", "."], reg.path());
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_file_inside_a_registry_gets_the_cross_file_rules() {
    let reg = registry_with(&["duplicate-version", "version-range"]);
    let file = "publishers/acme/services/com.acme.fhir/1.2.json";
    let out = hsp(&["check", file], reg.path());
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{file}:4:14: error[E072]")),
        "{stdout}"
    );
    // Only the named file's problems are shown.
    assert!(!stdout.contains("E012"), "{stdout}");
    // From a sub-folder, paths are still relative to where hsp runs.
    let out = hsp(&["check", "."], &reg.path().join("publishers/acme"));
    assert!(
        text(&out.stdout).contains("E012") && text(&out.stdout).contains("E072"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_lone_document_gets_the_per_file_rules_only() {
    let dir = tempfile::tempdir().unwrap();
    // Outside a registry the namespace, publisher and interface rules cannot run.
    for name in ["namespace", "unknown-interface", "unknown-publisher"] {
        std::fs::copy(
            broken_dir().join(format!("{name}.json")),
            dir.path().join(format!("{name}.json")),
        )
        .unwrap();
    }
    for name in ["namespace", "unknown-interface", "unknown-publisher"] {
        let out = hsp(&["check", &format!("{name}.json")], dir.path());
        assert!(
            out.status.success(),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // Together they are three files of one version: duplicates are still found.
    let out = hsp(&["check", "."], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let dup = "unknown-publisher.json:4:14: error[E072]: version: com.acme.app 1.0.0 is already defined by";
    assert!(text(&out.stdout).starts_with(dup), "{}", text(&out.stdout));
    std::fs::copy(
        broken_dir().join("stop-timeout.json"),
        dir.path().join("stop-timeout.json"),
    )
    .unwrap();
    let out = hsp(
        &["check", "stop-timeout.json", "namespace.json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let row = cases()
        .into_iter()
        .find(|c| c.file == "stop-timeout.json")
        .unwrap();
    let want = format!(
        "stop-timeout.json:{}:{}: error[E051]: tasks[0].stop_timeout_s: 30 s",
        row.line, row.column
    );
    assert!(
        text(&out.stdout).starts_with(&want),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let out = hsp(&["check", "no/such/dir"], &root());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no/such/dir: no such file or folder"),
        "{}",
        text(&out.stderr)
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

#[test]
fn codes_table_lists_every_code() {
    let out = hsp(&["check", "--codes"], &root());
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for c in Code::ALL {
        let sev = if c.is_warning() { "warning" } else { "error" };
        assert!(
            stdout.contains(&format!("| {} | {sev} | {} |", c.id(), c.summary())),
            "{c:?}"
        );
    }
    assert_eq!(stdout.lines().count(), Code::ALL.len() + 2);
    let doc = std::fs::read_to_string(root().join("docs/check.md")).unwrap();
    assert!(
        doc.ends_with(&stdout),
        "docs/check.md must end with the output of `hsp check --codes`"
    );
}

/// `schemas/` is what `hsp schema` writes from the types (editors validate with
/// it, `hsp check` walks the same schemas): regenerate with
/// `cargo run -p hsp-generator -- schema --out schemas`.
#[test]
fn committed_schemas_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let out = hsp(&["schema", "--out", dir.path().to_str().unwrap()], &root());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.contains(&"document.schema.json".to_string()),
        "{names:?}"
    );
    for name in names {
        let fresh = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        let committed = std::fs::read_to_string(root().join("schemas").join(&name))
            .unwrap_or_else(|e| panic!("schemas/{name}: {e}"));
        assert!(
            fresh == committed,
            "schemas/{name} is stale: run `cargo run -p hsp-generator -- schema --out schemas`"
        );
    }
}
