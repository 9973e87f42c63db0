//! Registry pull requests (issue 19): `hsp check` verifies publisher
//! signatures as `hsp build` does, `--base` keeps published versions (a git
//! revision, a built index folder, its URL), `hsp build` keeps what the index
//! it replaces published, maintainers' yanks reach the API, the website and
//! the agent, `hsp diff`, the GitHub and SARIF outputs (checked by
//! Microsoft's SARIF Multitool and the SARIF 2.1.0 JSON Schema), the CI
//! workflow `hsp init` writes (checked against the GitHub workflow schema by
//! check-jsonschema) and `hsp new`'s scaffold. Every registry is a signed
//! copy of examples/registry with real keys (`Fixture`), in its own temp dir.

use std::path::Path;
use std::process::{Command, Output};

use hsp_test_support::fs::tree;
use hsp_test_support::hostile::Server;
use hsp_test_support::registry::{hsp, hsp_ok, Fixture};
use hsp_test_support::{s, tool};

const MAILPIT: &str = "publishers/axllent/services/org.axllent.mailpit";

fn out_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `hsp check ARGS` in `dir`: exit code and stdout (stdout and stderr when
/// it printed nothing).
fn check(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(hsp_test_support::bin("hsp"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = match o.stdout.is_empty() {
        true => out_text(&o),
        false => String::from_utf8_lossy(&o.stdout).into_owned(),
    };
    (o.status.code().unwrap_or(-1), text)
}

/// (code, path, line) of every diagnostic of `hsp check --json ARGS`.
fn codes(dir: &Path, args: &[&str]) -> Vec<(String, String, u64)> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (_, stdout) = check(dir, &all);
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    json.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["path"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}: no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The 1-based line of the first occurrence of `needle` in `path`.
fn line_of(path: &Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text.find(needle).unwrap_or_else(|| panic!("no {needle:?}"));
    text[..at].matches('\n').count() as u64 + 1
}

/// `hsp ARGS`, which must succeed: its stdout.
fn stdout_of(args: &[&str]) -> String {
    let o = hsp(args);
    assert!(o.status.success(), "hsp {args:?}: {}", out_text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(["-c", "user.email=ci@example.org", "-c", "user.name=ci"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", out_text(&o));
}

/// The fixture's repo as a git repository with one commit (the "published" base).
fn committed() -> Fixture {
    let f = Fixture::new();
    git(&f.repo, &["init", "-q", "-b", "main"]);
    git(&f.repo, &["add", "-A"]);
    git(&f.repo, &["commit", "-q", "-m", "published"]);
    f
}

/// A new version of mailpit (1.26.0, from 1.25.0), optionally changed, signed.
fn add_version(f: &Fixture, from: &str, to: &str) {
    let old = f.repo.join(MAILPIT).join("1.25.0.json");
    let new = f.repo.join(MAILPIT).join("1.26.0.json");
    let text = std::fs::read_to_string(old).unwrap();
    let text = text
        .replacen("\"version\": \"1.25.0\"", "\"version\": \"1.26.0\"", 1)
        .replacen(from, to, 1);
    std::fs::write(new, text).unwrap();
    f.sign("axllent");
}

#[test]
fn check_verifies_publisher_signatures_like_the_build() {
    let f = Fixture::new();
    let repo = &f.repo;
    assert_eq!(check(repo, &["."]).0, 0, "a signed registry passes");
    // A document edited after signing: E100 at it, with the fix.
    let doc = repo.join(MAILPIT).join("1.21.7.json");
    edit(&doc, "\"summary\": \"", "\"summary\": \"Edited: ");
    let rel = format!("{MAILPIT}/1.21.7.json");
    assert_eq!(codes(repo, &["."]), vec![("E100".into(), rel.clone(), 1)]);
    let (code, text) = check(repo, &["."]);
    assert_eq!(code, 1);
    assert!(
        text.contains("changed after publisher axllent signed it"),
        "{text}"
    );
    assert!(
        text.contains("hint: hsp sign --key KEY publishers/axllent"),
        "{text}"
    );
    // A draft skips the signature rules; checking one folder shows only its files.
    assert_eq!(check(repo, &["--no-signatures", "."]).0, 0);
    assert_eq!(check(repo, &["publishers/keycloak"]).0, 0);
    // A new, unsigned version.
    f.sign("axllent");
    let new = repo.join(MAILPIT).join("1.26.0.json");
    std::fs::copy(repo.join(MAILPIT).join("1.25.0.json"), &new).unwrap();
    edit(&new, "\"version\": \"1.25.0\"", "\"version\": \"1.26.0\"");
    let (_, text) = check(repo, &["."]);
    assert!(
        text.contains("1.26.0.json:1:1: error[E100]: not signed by publisher axllent"),
        "{text}"
    );
    std::fs::remove_file(&new).unwrap();
    // Expired publisher metadata (the fixture signs for 365 days): E101 at
    // its `expires` line.
    let meta = repo.join("publishers/axllent/axllent.json");
    let got = codes(
        repo,
        &["--now", "2100-01-01T00:00:00Z", "publishers/axllent"],
    );
    let line = line_of(&meta, "\"expires\"");
    assert_eq!(
        got,
        vec![(
            "E101".into(),
            "publishers/axllent/axllent.json".into(),
            line
        )]
    );
}

#[test]
fn published_versions_are_kept_against_a_git_base() {
    let f = committed();
    let repo = &f.repo;
    // Adding a version and yanking one are allowed.
    add_version(&f, "", "");
    let yanked = repo.join(MAILPIT).join("1.21.7.json");
    edit(
        &yanked,
        "\"summary\": \"",
        "\"yanked\": \"relay bug\", \"summary\": \"",
    );
    f.sign("axllent");
    assert_eq!(codes(repo, &["--base", "main", "."]), vec![]);
    let diff = stdout_of(&["diff", "main", "--repo", s(repo), "--format", "json"]);
    let diff: serde_json::Value = serde_json::from_str(&diff).unwrap();
    assert_eq!(diff["added"][0]["version"], "1.26.0", "{diff}");
    assert_eq!(diff["yanked"][0]["reason"], "relay bug", "{diff}");
    assert_eq!(diff["changed"], serde_json::json!([]), "{diff}");

    // A published value changed (and re-signed): E103 at that value.
    edit(&yanked, "\"memory_mib\": 128", "\"memory_mib\": 256");
    f.sign("axllent");
    let line = line_of(&yanked, "\"memory_mib\": 256");
    let rel = format!("{MAILPIT}/1.21.7.json");
    assert_eq!(
        codes(repo, &["--base", "main", "."]),
        vec![("E103".into(), rel.clone(), line)]
    );
    let (_, text) = check(repo, &["--base", "main", "."]);
    assert!(
        text.contains("first difference at tasks[0].memory_mib"),
        "{text}"
    );
    edit(&yanked, "\"memory_mib\": 256", "\"memory_mib\": 128");

    // A published version deleted (and the metadata re-signed): E102 at its path.
    let gone = repo.join("publishers/mariadb/services/org.mariadb.server/10.11.10.json");
    std::fs::remove_file(&gone).unwrap();
    f.sign("mariadb");
    f.sign("axllent");
    let gone_rel = "publishers/mariadb/services/org.mariadb.server/10.11.10.json";
    assert_eq!(
        codes(repo, &["--base", "main", "."]),
        vec![("E102".into(), gone_rel.into(), 1)]
    );
    // The same through a commit: the base may be any revision.
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "head"]);
    assert_eq!(codes(repo, &["--base", "HEAD~1", "."]).len(), 1);
    assert_eq!(codes(repo, &["--base", "HEAD", "."]), vec![]);
    let (code, text) = check(repo, &["--base", "no-such-branch", "."]);
    assert_ne!(code, 0, "{text}");
}

#[test]
fn a_build_keeps_what_the_index_it_replaces_published() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    f.build(&out, &["--no-site", "--now", "2026-12-01T00:00:00Z"]);
    let before = tree(&out);
    let later = ["--no-site", "--now", "2026-12-01T01:00:00Z"];
    // A published version rewritten and re-signed: refused, OUT untouched.
    let doc = f.repo.join(MAILPIT).join("1.21.7.json");
    let original = std::fs::read(&doc).unwrap();
    edit(&doc, "\"memory_mib\": 128", "\"memory_mib\": 256");
    f.sign("axllent");
    let err = f.build_fails(&out, &later);
    assert!(
        err.contains("error[E103]") && err.contains("1.21.7.json"),
        "{err}"
    );
    assert!(tree(&out) == before, "a refused build changed OUT");
    // `hsp check --base OUT` says the same before a build is tried.
    let rel = format!("{MAILPIT}/1.21.7.json");
    let got = codes(&f.repo, &["--base", s(&out), "."]);
    assert_eq!(
        got.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["E103"],
        "{got:?}"
    );
    assert_eq!(got[0].1, rel);
    // ... and so does the index served over HTTP, verified from the repo's root.
    let server = Server::start(&out);
    let url = format!("{}/", server.url);
    let at = ["--now", "2026-12-01T01:30:00Z"];
    assert_eq!(codes(&f.repo, &[at[0], at[1], "--base", &url, "."]), got);
    std::fs::write(&doc, original).unwrap();
    f.sign("axllent");

    // A deleted version: refused.
    let gone = f.repo.join(MAILPIT).join("1.25.0.json");
    let kept = std::fs::read(&gone).unwrap();
    std::fs::remove_file(&gone).unwrap();
    f.sign("axllent");
    let err = f.build_fails(&out, &later);
    assert!(
        err.contains("error[E102]") && err.contains("1.25.0.json was published and is gone"),
        "{err}"
    );
    assert!(tree(&out) == before);
    std::fs::write(&gone, kept).unwrap();

    // A yank (re-signed) publishes, and the API carries it.
    edit(
        &doc,
        "\"summary\": \"",
        "\"yanked\": \"relay bug\", \"summary\": \"",
    );
    f.sign("axllent");
    f.build(&out, &later);
    let api = api_service(&out, "org.axllent.mailpit");
    let v = version_entry(&api, "1.21.7");
    assert_eq!(v["yanked"], "relay bug");
}

/// The published API file of a service.
fn api_service(out: &Path, id: &str) -> serde_json::Value {
    let dir = out.join("targets/api/services");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(&format!(".{id}.json")))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

fn version_entry(api: &serde_json::Value, version: &str) -> serde_json::Value {
    api["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == version)
        .unwrap()
        .clone()
}

#[test]
fn a_maintainers_yank_reaches_the_api_the_site_and_the_agent() {
    let f = Fixture::new();
    let config = f.repo.join("registry.json");
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["yanks"] = serde_json::json!([
        {"service": "org.axllent.mailpit", "version": "1.25.0", "reason": "drops mail over 10 MB"}
    ]);
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    // No publisher key was used: the documents are as the publisher signed them.
    assert_eq!(check(&f.repo, &["."]).0, 0);
    let out = f.tmp.path().join("out");
    f.build(&out, &[]);
    let reason = "drops mail over 10 MB (yanked by the registry's maintainers)";
    let v = version_entry(&api_service(&out, "org.axllent.mailpit"), "1.25.0");
    assert_eq!(v["yanked"], reason);
    let page =
        std::fs::read_to_string(out.join("services/org.axllent.mailpit@1.25.0.html")).unwrap();
    assert!(
        page.contains("drops mail over 10 MB"),
        "the version page shows the reason"
    );

    // The agent: `show` gives the reason, and a plan takes the newest version
    // that is not yanked, as for a publisher's yank.
    let state = f.tmp.path().join("state");
    let root = out.join("metadata/1.root.json");
    let agent = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--state", s(&state)]);
        hsp_test_support::tuf::agent(&all, None)
    };
    let o = agent(&["init", "--root", s(&root), "--index", s(&out)]);
    assert!(o.status.success(), "{}", out_text(&o));
    let o = agent(&["show", "org.axllent.mailpit"]);
    assert!(out_text(&o).contains(reason), "{}", out_text(&o));
    let env = f.tmp.path().join("env.json");
    let envj = serde_json::json!({
        "name": format!("yank{}", std::process::id()),
        "index": {"url": s(&out), "root": s(&root)},
        "services": [{"id": "org.axllent.mailpit", "name": "mailpit"}],
        "policy": {"licenses": ["MIT"]},
        "target": {"kind": "docker"}
    });
    std::fs::write(&env, serde_json::to_vec_pretty(&envj).unwrap()).unwrap();
    let o = agent(&["plan", s(&env), "--json"]);
    assert!(o.status.success(), "{}", out_text(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(
        plan.contains("\"1.21.7\"") && !plan.contains("\"1.25.0\""),
        "{plan}"
    );

    // A yank naming no version is an error at its line.
    c["yanks"][0]["version"] = "9.9.9".into();
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let got = codes(&f.repo, &["."]);
    assert_eq!(
        got.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["E104"],
        "{got:?}"
    );
}

#[test]
fn diff_shows_what_changes_for_sites() {
    let f = committed();
    let repo = &f.repo;
    // 1.26.0 needs a newer SMTP interface version range and changes licence;
    // an interface is added.
    add_version(&f, "\"license\": \"MIT\"", "\"license\": \"Apache-2.0\"");
    let new = repo.join(MAILPIT).join("1.26.0.json");
    edit(
        &new,
        "\"version\": \"1.0.0\",\n      \"task\": \"app\",\n      \"port\": \"smtp\"",
        "\"version\": \"1.1.0\",\n      \"task\": \"app\",\n      \"port\": \"smtp\"",
    );
    f.sign("axllent");
    std::fs::copy(
        repo.join("interfaces/smtp.json"),
        repo.join("interfaces/smtp2.json"),
    )
    .unwrap();
    edit(
        &repo.join("interfaces/smtp2.json"),
        "\"id\": \"smtp\"",
        "\"id\": \"smtp2\"",
    );
    let json = stdout_of(&["diff", "main", "--repo", s(repo), "--format", "json"]);
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(d["added"][0]["path"], format!("{MAILPIT}/1.26.0.json"));
    assert_eq!(
        d["interfaces"],
        serde_json::json!([{"interface": "smtp2", "change": "added"}])
    );
    assert_eq!(d["licences"][0]["from"], "MIT");
    assert_eq!(d["licences"][0]["to"], "Apache-2.0");
    let changes = &d["requirements"][0];
    assert_eq!(changes["previous"], "1.25.0", "{d}");
    assert_eq!(
        changes["changes"],
        serde_json::json!(["provides smtp 1.0.0 -> smtp 1.1.0"]),
        "{d}"
    );
    let md = stdout_of(&["diff", "main", "--repo", s(repo), "--format", "markdown"]);
    assert!(
        md.starts_with("## Registry changes\n\n### Added\n\n- `org.axllent.mailpit` 1.26.0\n"),
        "{md}"
    );
    // The same between two built indexes.
    let (a, b) = (f.tmp.path().join("a"), f.tmp.path().join("b"));
    git(repo, &["stash", "-u", "-q"]);
    f.build(&a, &["--no-site", "--now", "2026-12-01T00:00:00Z"]);
    git(repo, &["stash", "pop", "-q"]);
    f.build(&b, &["--no-site", "--now", "2026-12-01T01:00:00Z"]);
    let between = stdout_of(&["diff", s(&a), s(&b), "--repo", s(repo), "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&between).unwrap(),
        d
    );
    let none = stdout_of(&["diff", s(&b), s(&b), "--repo", s(repo)]);
    assert_eq!(none, "No changes to services or interfaces.\n");
}

#[test]
fn github_annotations_and_sarif_follow_their_formats() {
    let f = Fixture::new();
    let repo = &f.repo;
    edit(
        &repo.join(MAILPIT).join("1.21.7.json"),
        "\"memory_mib\": 128",
        "\"memory_mib\": \"lots\"",
    );
    edit(
        &repo.join(MAILPIT).join("1.25.0.json"),
        "\"smoke_test\"",
        "\"smoke\"",
    );
    let diagnostics = codes(repo, &["--no-signatures", "."]);
    assert!(diagnostics.len() >= 2, "{diagnostics:?}");

    let (code, gh) = check(repo, &["--no-signatures", "--format", "github", "."]);
    assert_eq!(code, 1);
    let re = regex::Regex::new(
        r"^::(error|warning) file=[^,:]+,line=[1-9][0-9]*,col=[1-9][0-9]*,title=[EW][0-9]{3} [^:,]*::[^\r\n]+$",
    )
    .unwrap();
    let lines: Vec<&str> = gh.lines().collect();
    assert_eq!(lines.len(), diagnostics.len(), "{gh}");
    for l in &lines {
        assert!(re.is_match(l), "not a workflow command: {l}");
    }
    for (c, path, line) in &diagnostics {
        let want = format!("file={path},line={line},");
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&want) && l.contains(&format!("title={c} "))),
            "{want} in {gh}"
        );
    }

    let (_, sarif) = check(repo, &["--no-signatures", "--format", "sarif", "."]);
    let file = f.tmp.path().join("check.sarif");
    std::fs::write(&file, &sarif).unwrap();
    let log: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        diagnostics.len()
    );
    // The SARIF 2.1.0 JSON Schema, with an independent validator.
    let schema = tool(".tools/sarif/sarif-2.1.0.json");
    let py = format!(
        "import json, jsonschema; jsonschema.validate(json.load(open({:?})), json.load(open({:?}))); print('valid')",
        s(&file),
        s(&schema)
    );
    let o = Command::new(tool(".venv/bin/python"))
        .args(["-c", &py])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    // Microsoft's SARIF Multitool: schema and SARIF rules, no error.
    let o = Command::new(tool(".tools/sarif/Sarif.Multitool"))
        .args(["validate", s(&file)])
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .output()
        .unwrap();
    let text = out_text(&o);
    assert!(o.status.success() && !text.contains(": error "), "{text}");
}

#[test]
fn init_writes_a_workflow_that_checks_diffs_builds_and_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("reg");
    hsp_ok(["init", s(&repo), "--keys", s(&tmp.path().join("keys"))]);
    let wf = repo.join(".github/workflows/hsp.yml");
    // The GitHub workflow schema (schemastore's, vendored by check-jsonschema).
    let o = Command::new(tool(".venv/bin/check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows", s(&wf)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let y: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(&wf).unwrap()).unwrap();
    for on in ["pull_request", "push", "schedule"] {
        assert!(y["on"].get(on).is_some(), "no trigger {on}");
    }
    let runs = |job: &str| -> String {
        y["jobs"][job]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pr = runs("check");
    assert!(
        pr.contains("hsp check . --base") && pr.contains("--format github"),
        "{pr}"
    );
    assert!(
        pr.contains("hsp diff") && pr.contains("--format markdown"),
        "{pr}"
    );
    let publish = runs("publish");
    assert!(
        publish.contains("hsp build . --keys") && publish.contains("hsp timestamp"),
        "{publish}"
    );
    // Never the root key in CI.
    assert!(!std::fs::read_to_string(&wf).unwrap().contains("root.key"));
    // A second init does not overwrite it.
    let o = hsp(["init", s(&repo), "--keys", s(&tmp.path().join("k2"))]);
    assert!(!o.status.success());
}

#[test]
fn a_new_document_is_reported_until_its_todos_are_filled_in() {
    let f = Fixture::new();
    let repo = &f.repo;
    let o = hsp([
        "new",
        "com.acme.widget",
        "--publisher",
        "acme-health",
        "--repo",
        s(repo),
    ]);
    assert!(o.status.success(), "{}", out_text(&o));
    let path = repo.join("publishers/acme-health/services/com.acme.widget/0.1.0.json");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), s(&path));
    let text = std::fs::read_to_string(&path).unwrap();
    let todos = text.matches("\"TODO").count();
    let got = codes(
        repo,
        &[
            "--no-signatures",
            "publishers/acme-health/services/com.acme.widget",
        ],
    );
    assert_eq!(
        got.iter().filter(|c| c.0 == "E105").count(),
        todos,
        "{got:?}"
    );
    // A second `new` of the same version, and an unknown publisher, are refused.
    assert!(!hsp([
        "new",
        "com.acme.widget",
        "--publisher",
        "acme-health",
        "--repo",
        s(repo)
    ])
    .status
    .success());
    let o = hsp([
        "new",
        "com.acme.other",
        "--publisher",
        "nobody",
        "--repo",
        s(repo),
    ]);
    assert!(
        out_text(&o).contains("no such publisher"),
        "{}",
        out_text(&o)
    );

    // Filled in, pinned and signed, it passes every check.
    let filled = text
        .replace(
            "\"TODO: the service's name, e.g. Acme Care\"",
            "\"Acme Widget\"",
        )
        .replace(
            "\"TODO: one line shown in listings\"",
            "\"Widgets for clinics.\"",
        )
        .replace(
            "\"TODO: what it does, what it needs and how to run it (Markdown)\"",
            "\"Serves widgets.\"",
        )
        .replace(
            "\"TODO: an SPDX expression, e.g. Apache-2.0\"",
            "\"Apache-2.0\"",
        )
        .replace(
            "\"TODO: registry/repository:tag, then run `hsp pin` on this file\"",
            &format!("\"acme/widget:1@sha256:{}\"", "a".repeat(64)),
        )
        .replace(
            "\"TODO: the path that answers 200 when the service is healthy, e.g. /health\"",
            "\"/health\"",
        )
        .replace(
            "\"TODO: a path that proves the service works, e.g. /api/version\"",
            "\"/api/version\"",
        );
    assert!(!filled.contains("TODO"), "{filled}");
    std::fs::write(&path, filled).unwrap();
    f.sign("acme-health");
    let (code, text) = check(repo, &["--deny-warnings", "."]);
    assert_eq!(code, 0, "{text}");
}
