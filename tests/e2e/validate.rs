//! `hsp validate` on the real Docker engine (issue 18): one good service that
//! passes every rule, and one image per rule that fails (or warns on) exactly
//! that rule. The images are the `validate` fixture (busybox, built locally,
//! pushed to the registry on 127.0.0.1:5000 and pulled by digest), each with
//! its own image configuration (`docker import -c`).

use std::collections::BTreeMap;
use std::path::Path;

use hsp_test_support::images::variant;
use hsp_test_support::registry::{hsp, RegistryBuilder};
use hsp_test_support::s;
use serde_json::json;

const GOOD: &[&str] = &[
    "USER 1000",
    "EXPOSE 8080",
    "LABEL org.opencontainers.image.version=1.0.0",
    "LABEL org.opencontainers.image.licenses=GPL-2.0-only",
];

/// The image `name`: the good configuration, `drop` left out, `add` added.
fn image(name: &str, drop: &str, add: &[&str]) -> String {
    let mut changes: Vec<&str> = GOOD.iter().copied().filter(|c| *c != drop).collect();
    changes.extend_from_slice(add);
    variant("validate", &format!("validate-{name}"), &changes)
}

fn doc_json(image: &str) -> serde_json::Value {
    json!({
        "id": "org.hsp.test.validate",
        "version": "1.0.0",
        "name": "Validation test service",
        "summary": "A service that meets every packaging rule, or fails one.",
        "publisher": "hsp-test",
        "license": "GPL-2.0-only",
        "tasks": [{
            "name": "app",
            "image": image,
            "ports": [{"name": "http", "port": 8080}],
            "memory_mib": 64,
            "stop_timeout_s": 3,
            "volumes": [{"name": "data", "path": "/data"}],
            "health": {"http": {"port": "http", "path": "/healthz"},
                       "interval_s": 1, "timeout_s": 1, "start_period_s": 5, "retries": 2}
        }],
        "smoke_test": {"task": "app", "http": {"port": "http", "path": "/version"}, "timeout_s": 5,
                       "status": 200, "body_contains": "\"version\""}
    })
}

/// Validates `image`: the exit status and each rule's (outcome, evidence).
fn validate(image: &str) -> (bool, BTreeMap<String, (String, String)>) {
    let (ok, rules) = validate_json(&doc_json(image));
    (ok, by_rule(&rules, "docker"))
}

/// The rules that ran on `target` (`docker` or `host`), by name.
fn by_rule(rules: &[serde_json::Value], target: &str) -> BTreeMap<String, (String, String)> {
    rules
        .iter()
        .filter(|r| r["target"].as_str().unwrap_or("docker") == target)
        .map(|r| {
            let rule = r["rule"].as_str().unwrap().to_string();
            let outcome = r["outcome"].as_str().unwrap().to_string();
            (rule, (outcome, r["evidence"].as_str().unwrap().to_string()))
        })
        .collect()
}

/// Validates the document `doc`: the exit status and the report's rules.
fn validate_json(doc: &serde_json::Value) -> (bool, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let doc = if doc.get("artifacts").is_some() {
        // A lab registry: the only kind whose artifacts may be file:// URLs.
        let repo = dir.path().join("repo");
        RegistryBuilder::new("val", "Validated")
            .publisher("hsp-test", "HSP tests", &["org.hsp.test"])
            .document(doc.clone())
            .lab_artifact_urls()
            .write(&repo);
        repo.join("publishers/hsp-test/services/org.hsp.test.validate/1.0.0.json")
    } else {
        let path = dir.path().join("1.0.0.json");
        std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
        path
    };
    let report = dir.path().join("report.json");
    let o = hsp([
        "validate".as_ref(),
        doc.as_os_str(),
        "--out".as_ref(),
        report.as_os_str(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&report).unwrap_or_else(|e| panic!("no report ({e}): {text}")),
    )
    .unwrap();
    (
        o.status.success(),
        report["rules"].as_array().unwrap().clone(),
    )
}

/// The rules that did not pass, as (rule, outcome).
fn not_passed(rules: &BTreeMap<String, (String, String)>) -> Vec<(&str, &str)> {
    rules
        .iter()
        .filter(|(_, (o, _))| o != "pass")
        .map(|(r, (o, _))| (r.as_str(), o.as_str()))
        .collect()
}

const ALL: [&str; 13] = [
    "pullable",
    "non-root",
    "exposed-ports",
    "licences",
    "labels",
    "healthy",
    "declared-env",
    "ports",
    "smoke-test",
    "logs",
    "read-only-root",
    "memory",
    "stop",
];

#[test]
fn a_good_service_passes_every_rule() {
    let (ok, rules) = validate(&image("good", "", &[]));
    assert!(ok, "{rules:#?}");
    assert_eq!(rules.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut all = ALL.to_vec();
        all.sort();
        all
    });
    assert_eq!(not_passed(&rules), vec![], "{rules:#?}");
    // The evidence is the figure, the time, the file.
    assert!(rules["licences"].1.contains("/licenses"), "{rules:#?}");
    assert!(
        rules["memory"].1.contains("of the declared 64 MiB"),
        "{rules:#?}"
    );
    assert!(
        rules["stop"].1.contains("exit code 143") || rules["stop"].1.contains("exit code 0"),
        "{rules:#?}"
    );
    assert!(rules["logs"].1.contains("listening on 8080"), "{rules:#?}");
}

/// (image name, config left out, config added, the rules that must not pass)
type Case = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

fn case((name, drop, add, want): Case) {
    let (ok, rules) = validate(&image(name, drop, add));
    assert_eq!(not_passed(&rules), want.to_vec(), "{name}: {rules:#?}");
    let fails = want.iter().any(|(_, o)| *o == "fail" || *o == "not_run");
    assert_eq!(ok, !fails, "{name}: exit status");
}

#[test]
fn runs_as_root() {
    case(("root", "USER 1000", &[], &[("non-root", "warn")]));
}

#[test]
fn never_healthy() {
    case((
        "never-healthy",
        "",
        &["ENV MODE=never-healthy"],
        &[
            ("healthy", "fail"),
            ("logs", "not_run"),
            ("memory", "not_run"),
            ("ports", "not_run"),
            ("read-only-root", "not_run"),
            ("smoke-test", "not_run"),
            ("stop", "not_run"),
        ],
    ));
}

#[test]
fn smoke_test_wrong() {
    case((
        "smoke-wrong",
        "",
        &["ENV MODE=smoke-wrong"],
        &[("smoke-test", "fail")],
    ));
}

#[test]
fn ignores_sigterm() {
    let (_, rules) = validate(&image("ignores-term", "", &["ENV MODE=ignores-term"]));
    assert_eq!(not_passed(&rules), vec![("stop", "fail")], "{rules:#?}");
    assert!(rules["stop"].1.contains("ignored SIGTERM"), "{rules:#?}");
}

#[test]
fn exceeds_its_memory() {
    let (_, rules) = validate(&image("memory", "", &["ENV MODE=memory"]));
    assert_eq!(not_passed(&rules), vec![("memory", "fail")], "{rules:#?}");
    assert!(
        rules["memory"].1.contains("above the declared 64 MiB"),
        "{rules:#?}"
    );
    // The kernel's own peak, not a sample of the engine's stats (which a
    // loaded engine answers without a memory figure).
    assert!(rules["memory"].1.contains("(cgroup memory."), "{rules:#?}");
}

#[test]
fn writes_outside_its_volumes() {
    let (_, rules) = validate(&image("writes-outside", "", &["ENV MODE=writes-outside"]));
    assert_eq!(
        not_passed(&rules),
        vec![("read-only-root", "warn")],
        "{rules:#?}"
    );
    assert!(
        rules["read-only-root"].1.contains("/var/lib/app/state"),
        "{rules:#?}"
    );
}

#[test]
fn needs_an_undeclared_variable() {
    let (ok, rules) = validate(&image("needs-env", "", &["ENV MODE=needs-env"]));
    assert!(!ok);
    assert_eq!(rules["declared-env"].0, "fail", "{rules:#?}");
    assert!(
        rules["declared-env"].1.contains("DATABASE_URL"),
        "{rules:#?}"
    );
    assert_eq!(rules["healthy"].0, "fail", "{rules:#?}");
}

/// A required config entry without a default runs with its document's
/// `example`, and a required secret with a generated value; without an
/// example, the report's `configurable` rule fails naming the entry and
/// nothing runs.
#[test]
fn required_config_runs_with_its_example() {
    let mut doc = doc_json(&image("needs-config", "", &["ENV MODE=needs-env"]));
    doc["config"] = json!([
        {"name": "DATABASE_URL", "required": true},
        {"name": "DB_PASSWORD", "required": true, "secret": true}
    ]);
    doc["tasks"][0]["env"] = json!({
        "DATABASE_URL": "${config.DATABASE_URL}",
        "DB_PASSWORD": "${config.DB_PASSWORD}"
    });
    let (ok, rules) = validate_json(&doc);
    let rules = by_rule(&rules, "docker");
    assert!(!ok);
    let (outcome, evidence) = &rules["configurable"];
    assert_eq!(outcome, "fail", "{rules:#?}");
    assert!(
        evidence.contains("DATABASE_URL") && evidence.contains("`example`"),
        "{evidence}"
    );
    assert!(ALL.iter().all(|r| rules[*r].0 == "not_run"), "{rules:#?}");

    doc["config"][0]["example"] = json!("postgres://db.hospital.example/app");
    let (ok, rules) = validate_json(&doc);
    let rules = by_rule(&rules, "docker");
    assert!(ok, "{rules:#?}");
    assert_eq!(not_passed(&rules), vec![], "{rules:#?}");
}

#[test]
fn image_configuration_rules() {
    // Wrong EXPOSE and a version label that is not the document's.
    case((
        "wrong-labels",
        "LABEL org.opencontainers.image.version=1.0.0",
        &[
            "LABEL org.opencontainers.image.version=2.0.0",
            "EXPOSE 9090",
        ],
        &[("exposed-ports", "fail"), ("labels", "fail")],
    ));
}

#[test]
fn an_image_that_cannot_be_pulled_is_reported_not_skipped() {
    let missing = format!(
        "127.0.0.1:5000/hsp-test/validate-missing@sha256:{}",
        "0".repeat(64)
    );
    let (ok, rules) = validate(&missing);
    assert!(!ok);
    assert_eq!(rules["pullable"].0, "fail", "{rules:#?}");
    assert!(rules["pullable"].1.contains("not pullable"), "{rules:#?}");
    assert!(rules
        .iter()
        .filter(|(r, _)| *r != "pullable")
        .all(|(_, (o, _))| o == "not_run"));
}

/// A registry that requires validation: a build refuses the version until
/// `hsp build --validate` ran it, then publishes the report (registry-signed,
/// among the API files) and shows it on the version's page; a report of
/// other bytes than the document's is refused.
#[test]
fn a_registry_requires_and_publishes_validations() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let out = dir.path().join("out");
    let mut doc = doc_json(&image("good", "", &[]));
    doc["publisher"] = "hsp-test".into();
    RegistryBuilder::new("val", "Validated")
        .publisher("hsp-test", "HSP tests", &["org.hsp.test"])
        .document(doc.clone())
        .write(&repo);
    let config = repo.join("registry.json");
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["policy"] = json!({"require_validation": true});
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let build = |extra: &[&str]| {
        let mut args = vec!["build", s(&repo), "--dev-keys", "--out", s(&out)];
        args.extend_from_slice(extra);
        hsp(args)
    };
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let o = build(&[]);
    assert!(!o.status.success());
    let report_rel = "validations/org.hsp.test.validate/1.0.0.json";
    assert!(
        text(&o).contains("not validated (no validations/org.hsp.test.validate/1.0.0.json)"),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "published without validation");

    let o = build(&["--validate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("org.hsp.test.validate 1.0.0: 13/13 rules passed"),
        "{}",
        text(&o)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join(report_rel)).unwrap()).unwrap();
    // Published as a registry-signed target, and on the version's page.
    let published = std::fs::read_dir(out.join("targets/api/validations/org.hsp.test.validate"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".1.0.0.json"))
        .expect("the report is a target");
    let served: serde_json::Value =
        serde_json::from_slice(&std::fs::read(published).unwrap()).unwrap();
    assert_eq!(served, report);
    let page =
        std::fs::read_to_string(out.join("services/org.hsp.test.validate@1.0.0.html")).unwrap();
    let day = &report["validated_at"].as_str().unwrap()[..10];
    assert!(
        page.contains(&format!("Validated on {day}: 13/13 rules")),
        "the page shows the validation"
    );

    // A second --validate has nothing to do: OUT publishes these bytes.
    let o = build(&["--validate"]);
    assert!(text(&o).contains("validating 0 documents"), "{}", text(&o));
    // The document changes: its report no longer stands for it.
    doc["summary"] = "Changed.".into();
    hsp_test_support::registry::write_document(&repo, &doc);
    let o = build(&[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("{report_rel}: validated other bytes")),
        "{}",
        text(&o)
    );
}

/// A version with a requirement: the registry's provider is deployed first
/// (the agent's rollout, health-gated) in the validation's own network, and
/// the version then passes every rule with the binding in its environment.
#[test]
fn requirements_are_met_by_the_registrys_providers() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let provider = json!({
        "id": "org.hsp.test.ui", "version": "1.0.0", "name": "UI", "summary": "A provider.",
        "publisher": "hsp-test", "license": "GPL-2.0-only",
        "provides": [{"interface": "http-ui", "version": "1.0.0", "task": "app", "port": "http",
                      "binding": {"url": "http://${self.app.http}/"}}],
        "tasks": [{"name": "app", "image": hsp_test_support::images::reference("svc"),
                   "ports": [{"name": "http", "port": 8080}], "memory_mib": 64,
                   "health": {"http": {"port": "http", "path": "/healthz"},
                              "interval_s": 1, "timeout_s": 1, "start_period_s": 5, "retries": 5}}],
        "smoke_test": {"task": "app", "http": {"port": "http", "path": "/healthz"}}
    });
    let mut consumer = doc_json(&image("good", "", &[]));
    consumer["requires"] = json!([{"name": "ui", "interface": "http-ui", "version": "^1"}]);
    consumer["tasks"][0]["env"] = json!({"UI_URL": "${ui.url}"});
    RegistryBuilder::new("val", "Validated")
        .interface_from_examples("http-ui")
        .publisher("hsp-test", "HSP tests", &["org.hsp.test"])
        .document(provider)
        .document(consumer.clone())
        .write(&repo);
    let doc = repo.join("publishers/hsp-test/services/org.hsp.test.validate/1.0.0.json");
    let o = hsp(["validate", s(&doc), "--json"]);
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules = report["rules"].as_array().unwrap();
    assert_eq!(rules.len(), ALL.len() + 1);
    assert_eq!(rules[0]["rule"], "dependencies");
    assert!(
        rules[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("org.hsp.test.ui 1.0.0"),
        "{report}"
    );
    assert!(rules.iter().all(|r| r["outcome"] == "pass"), "{report:#}");
}

/// The example registry's images cannot be pulled here (no Docker Hub): each
/// version is reported "not pullable" (its dependencies' images too), with a
/// report, never silently skipped.
#[test]
fn the_example_registry_is_reported_not_pullable() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    hsp_test_support::fs::copy_tree(&hsp_test_support::root().join("examples/registry"), &repo);
    let out = dir.path().join("out");
    let o = hsp([
        "build",
        s(&repo),
        "--dev-keys",
        "--no-site",
        "--out",
        s(&out),
        "--validate",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("validating 18 documents"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.join("validations/org.axllent.mailpit/1.25.0.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["rules"][0]["rule"], "pullable");
    assert_eq!(report["rules"][0]["outcome"], "fail");
    assert!(report["rules"][0]["evidence"]
        .as_str()
        .unwrap()
        .contains("not pullable"));
    let with_deps: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.join("validations/org.hapifhir.server/8.0.0.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(with_deps["rules"][0]["rule"], "dependencies");
    assert_eq!(with_deps["rules"][0]["outcome"], "fail");
    // Required config runs with the documents' examples: every version has
    // a report.
    assert!(!err.contains("error:"), "{err}");
    let reports: usize = std::fs::read_dir(repo.join("validations"))
        .unwrap()
        .map(|service| std::fs::read_dir(service.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(reports, 18, "{err}");
    // Published, failed reports included: sites and the website see them.
    assert!(out
        .join("targets/api/validations/org.axllent.mailpit")
        .is_dir());
}

/// A smoke test's expected body that the answer lacks.
#[test]
fn a_smoke_test_expectation_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = doc_json(&image("good", "", &[]));
    doc["smoke_test"]["body_contains"] = "\"version\": \"2.0.0\"".into();
    let path = dir.path().join("1.0.0.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let o = hsp(["validate", s(&path), "--json"]);
    assert!(!o.status.success());
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let smoke = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "smoke-test")
        .unwrap()
        .clone();
    assert_eq!(smoke["outcome"], "fail", "{report:#}");
    let evidence = smoke["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("answered 200 without") && evidence.contains("1.0.0"),
        "{evidence}"
    );
}

/// A document whose bare-metal artifact (the fixture's `bin/start` with
/// `MODE`, and its licence) is validated on this host as well, on a free
/// port (a host's ports are the machine's). Its image is the good one.
fn host_doc(dir: &Path, mode: &str, platform: &str) -> serde_json::Value {
    let fixture = hsp_test_support::root().join("tests/fixtures/images/validate");
    let start = std::fs::read(fixture.join("bin/start")).unwrap();
    let run = format!(
        "#!/bin/busybox sh\nexport MODE={mode}\nexec /bin/busybox sh \"$(/bin/busybox dirname \"$0\")/start\"\n"
    );
    let licence = std::fs::read(fixture.join("licenses/LICENSE")).unwrap();
    let tarball = dir.join(format!("validate-{mode}.tar.gz"));
    hsp_deploy::host::archive::build_tar_gz(
        &[
            ("bin/start", &start, 0o755),
            ("bin/run", run.as_bytes(), 0o755),
            ("licenses/GPL-2.0-only.txt", &licence, 0o644),
        ],
        &tarball,
    )
    .unwrap();
    let bytes = std::fs::read(&tarball).unwrap();
    let port = hsp_test_support::free_port();
    let mut doc = doc_json(&image("good", "", &[]));
    doc["tasks"][0]["ports"][0]["port"] = json!(port);
    doc["tasks"][0]["env"] = json!({"PORT": port.to_string()});
    doc["artifacts"] = json!([{
        "platform": platform,
        "url": format!("file://{}", tarball.display()),
        "sha256": hsp_tuf::sha256_hex(&bytes),
        "size": bytes.len(),
        "entrypoint": "bin/run",
    }]);
    doc
}

/// The rules that run on a host: the image rules have no counterpart.
const HOST: [&str; 10] = [
    "licences",
    "declared-env",
    "healthy",
    "logs",
    "memory",
    "ports",
    "pullable",
    "read-only-root",
    "smoke-test",
    "stop",
];

#[test]
fn a_bare_metal_artifact_is_validated_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, rules) = validate_json(&host_doc(dir.path(), "good", &hsp_deploy::host::platform()));
    let host = by_rule(&rules, "host");
    let mut want = HOST.to_vec();
    want.sort();
    assert_eq!(
        host.keys().map(String::as_str).collect::<Vec<_>>(),
        want,
        "{rules:#?}"
    );
    assert_eq!(not_passed(&host), vec![], "{host:#?}");
    assert!(host["pullable"].1.contains("sha256 as signed"), "{host:#?}");
    assert!(host["licences"].1.contains("GPL-2.0-only.txt"), "{host:#?}");
    assert!(host["logs"].1.contains("listening on"), "{host:#?}");
    assert!(host["memory"].1.contains("VmHWM"), "{host:#?}");
    assert!(host["stop"].1.contains("exit code 143"), "{host:#?}");
    // The image's own rules ran too (its port is the host's here, so only
    // `exposed-ports` may differ from the good image's).
    let docker = by_rule(&rules, "docker");
    assert_eq!(
        not_passed(&docker),
        vec![("exposed-ports", "fail")],
        "{docker:#?}"
    );
    assert!(!ok);
}

#[test]
fn a_bare_metal_artifact_that_ignores_sigterm_or_exceeds_its_memory() {
    let dir = tempfile::tempdir().unwrap();
    let platform = hsp_deploy::host::platform();
    let (_, rules) = validate_json(&host_doc(dir.path(), "ignores-term", &platform));
    let host = by_rule(&rules, "host");
    assert_eq!(not_passed(&host), vec![("stop", "fail")], "{host:#?}");
    assert!(
        host["stop"]
            .1
            .contains("exit code 137: killed, it ignored SIGTERM"),
        "{host:#?}"
    );
    let (_, rules) = validate_json(&host_doc(dir.path(), "memory", &platform));
    let host = by_rule(&rules, "host");
    assert_eq!(not_passed(&host), vec![("memory", "fail")], "{host:#?}");
    assert!(
        host["memory"].1.contains("above the declared 64 MiB"),
        "{host:#?}"
    );
}

#[test]
fn an_artifact_for_another_platform_is_reported_not_run_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (_, rules) = validate_json(&host_doc(dir.path(), "good", "linux-riscv64"));
    let host = by_rule(&rules, "host");
    assert_eq!(host.len(), 1, "{host:#?}");
    assert_eq!(host["pullable"].0, "not_run");
    assert!(
        host["pullable"]
            .1
            .contains("no bare-metal artifact for linux-"),
        "{host:#?}"
    );
}
