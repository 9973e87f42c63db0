//! `hsp check` with the real binary on good and bad inputs (the broken corpus
//! of `tests/fixtures/broken` placed in the fixture registry): its output,
//! `--json`, `--deny-warnings` and exit codes. The rules on the same corpus in
//! process are `hsp-check`'s `tests/corpus.rs`.

use std::path::Path;
use std::process::{Command, Output};

use hsp_check::Code;
use hsp_test_support::corpus::{self, broken_dir, fixture_registry};
use hsp_test_support::fs::tree;
use hsp_test_support::{bin, root};

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
    let mut files = tree(&fixture_registry());
    let rows = corpus::cases();
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
    let out = hsp(
        &["check", "--no-signatures", "tests/fixtures/registry"],
        &root(),
    );
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
    let out = hsp(
        &[
            "check",
            "--no-signatures",
            "--deny-warnings",
            "examples/registry",
        ],
        &root(),
    );
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
    let out = hsp(&["check", "--no-signatures", "."], reg.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows = corpus::cases();
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
    let out = hsp(&["check", "--no-signatures", "--json", "."], reg.path());
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
    let image = corpus::cases()
        .into_iter()
        .find(|c| c.file == "image-tag-only.json")
        .unwrap();
    let secret = corpus::cases()
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
    let out = hsp(&["check", "--no-signatures", "."], reg.path());
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("warning[W001]"),
        "{}",
        text(&out.stdout)
    );
    let out = hsp(
        &["check", "--no-signatures", "--deny-warnings", "."],
        reg.path(),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_file_inside_a_registry_gets_the_cross_file_rules() {
    let reg = registry_with(&["duplicate-version", "version-range"]);
    let file = "publishers/acme/services/com.acme.fhir/1.2.json";
    let out = hsp(&["check", "--no-signatures", file], reg.path());
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{file}:4:14: error[E072]")),
        "{stdout}"
    );
    // Only the named file's problems are shown.
    assert!(!stdout.contains("E012"), "{stdout}");
    // From a sub-folder, paths are still relative to where hsp runs.
    let out = hsp(
        &["check", "--no-signatures", "."],
        &reg.path().join("publishers/acme"),
    );
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
        let out = hsp(
            &["check", "--no-signatures", &format!("{name}.json")],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // Together they are three files of one version: duplicates are still found.
    let out = hsp(&["check", "--no-signatures", "."], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let dup = "unknown-publisher.json:4:14: error[E072]: version: com.acme.app 1.0.0 is already defined by";
    assert!(text(&out.stdout).starts_with(dup), "{}", text(&out.stdout));
    std::fs::copy(
        broken_dir().join("stop-timeout.json"),
        dir.path().join("stop-timeout.json"),
    )
    .unwrap();
    let out = hsp(
        &[
            "check",
            "--no-signatures",
            "stop-timeout.json",
            "namespace.json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let row = corpus::cases()
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
    let out = hsp(&["check", "--no-signatures", "no/such/dir"], &root());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no/such/dir: no such file or folder"),
        "{}",
        text(&out.stderr)
    );
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
/// `cargo run -p hsp -- schema --out schemas`.
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
            "schemas/{name} is stale: run `cargo run -p hsp -- schema --out schemas`"
        );
    }
}

/// What only the file system can hold (the corpus of `hsp-check` is bytes,
/// so E081 to E083 are exercised here): a name with a newline, a symbolic link,
/// a FIFO (which must be reported, not opened: opening it would block) and a
/// file above the size limit. Each is a finding at its path; the good
/// documents beside them are still checked.
#[test]
fn unreadable_files_are_findings_and_never_opened() {
    let reg = registry_with(&[]);
    let svc = reg.path().join("publishers/acme/services/com.acme.fhir");
    std::fs::write(svc.join("line\nbreak.json"), b"{}").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", svc.join("link.json")).unwrap();
    let fifo = svc.join("pipe.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let big = std::fs::File::create(svc.join("big.json")).unwrap();
    big.set_len(hsp_check::MAX_FILE_BYTES + 1).unwrap();

    let out = hsp(&["check", "--no-signatures", "--json", "."], reg.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let ds: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<(String, String)> = ds
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let p = |f: &str| format!("publishers/acme/services/com.acme.fhir/{f}");
    assert_eq!(
        got,
        vec![
            (p("big.json"), "E083".to_string()),
            (p("line\\nbreak.json"), "E081".to_string()),
            (p("link.json"), "E082".to_string()),
            (p("pipe.json"), "E082".to_string()),
        ],
        "{}",
        text(&out.stdout)
    );
}
