//! The public TUF conformance suite (theupdateframework/tuf-conformance, the
//! pinned copy `.ci/install` puts in `.tools/tuf-conformance`, with its own
//! venv) run against `hsp-agent tuf` as the client under test. python-tuf, the
//! reference client, passes 112 of its 113 tests; so must we.

use std::path::Path;
use std::process::Command;

use hsp_test_support::{bin, root, s, tool};

/// Tests passed at least (python-tuf's count).
const MIN_PASSED: u64 = 112;

#[test]
fn tuf_conformance_suite_passes() {
    let pytest = tool(".tools/tuf-conformance-venv/bin/pytest");
    let suite = tool(".tools/tuf-conformance/tuf_conformance");
    let agent = bin("hsp-agent");
    let dir = tempfile::tempdir().unwrap();
    // The suite takes one executable (it splits --entrypoint on spaces).
    let client = dir.path().join("hsp-agent-tuf");
    std::fs::write(
        &client,
        format!("#!/bin/sh\nexec '{}' tuf \"$@\"\n", s(&agent)),
    )
    .unwrap();
    make_executable(&client);
    let report = dir.path().join("report.json");
    let started = std::time::Instant::now();
    let out = Command::new(&pytest)
        .arg(&suite)
        .args(["--entrypoint", s(&client)])
        .args(["-p", "no:cacheprovider", "-q", "--json-report"])
        .arg(format!("--json-report-file={}", s(&report)))
        .current_dir(dir.path())
        .env("PATH", path_with_faketime())
        .output()
        .expect("running pytest");
    let elapsed = started.elapsed();
    let text = std::fs::read(&report).unwrap_or_else(|e| {
        panic!(
            "{}: no report ({e}); pytest said:\n{}\n{}",
            s(&report),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let report: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let count = |k: &str| report["summary"][k].as_u64().unwrap_or(0);
    let failed: Vec<&str> = report["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["outcome"] != "passed")
        .filter_map(|t| t["nodeid"].as_str())
        .collect();
    eprintln!(
        "tuf-conformance: {} passed, {} failed, {} total in {:.0?}; not passed: {failed:#?}",
        count("passed"),
        count("failed"),
        count("total"),
        elapsed
    );
    assert!(
        count("total") >= 113,
        "the suite ran {} tests, expected 113:\n{}",
        count("total"),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        count("passed") >= MIN_PASSED,
        "{} of {} conformance tests passed, at least {MIN_PASSED} must; failed: {failed:#?}\n\
         (rerun one: {} {} --entrypoint CLIENT -k NAME)",
        count("passed"),
        count("total"),
        s(&pytest),
        s(&suite)
    );
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The suite runs `faketime` for its expiry tests; `.ci/install` installs it
/// in /usr/bin. `.tools/bin` first, as the other tests do.
fn path_with_faketime() -> String {
    let mut path = std::env::var("PATH").unwrap_or_default();
    path = format!("{}:{path}:/usr/bin", s(&root().join(".tools/bin")));
    path
}
