//! `hsp pin` and `hsp check --online` against a real distribution registry:
//! tags resolve to the index digest of a multi-arch image (or a single
//! image's manifest digest), only the image strings change, credentials come
//! from the Docker config, and a digest the registry does not have is an
//! error at its file and line.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use hsp_test_support::hostile;
use hsp_test_support::oci::{push_multi_arch, push_single_arch, Filler, Registry};
use hsp_test_support::registry::{write_document, RegistryBuilder};
use hsp_test_support::{bin, s, show};
use serde_json::json;

const FIXTURE: &str = "svc";

fn hsp(args: &[&str], docker_config: &Path) -> Output {
    std::process::Command::new(bin("hsp"))
        .args(args)
        .env("DOCKER_CONFIG", docker_config)
        .env("HSP_STALL_TIMEOUT_S", "10")
        .output()
        .unwrap()
}

/// A lab registry repo with one document whose tasks use `images`, and an
/// artifact `url` declared `size` bytes long.
fn repo_with(dir: &Path, images: &[&str], url: &str, size: u64) -> PathBuf {
    let repo = dir.join("repo");
    RegistryBuilder::new("pintest", "pin test registry")
        .lab_artifact_urls()
        .interface_from_examples("http-ui")
        .publisher("acme", "Acme", &["com.acme"])
        .write(&repo);
    let tasks: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({"name": format!("t{i}"), "image": image, "memory_mib": 64,
                   "ports": [{"name": "http", "port": 8080}],
                   "health": {"http": {"port": "http", "path": "/"}}})
        })
        .collect();
    let doc = json!({
        "id": "com.acme.app", "version": "1.0.0", "name": "App", "summary": "An app.",
        "publisher": "acme", "license": "MIT",
        "provides": [{"interface": "http-ui", "version": "1.0.0", "task": "t0", "port": "http",
                      "binding": {"url": "http://${self.t0.http}/"}}],
        "tasks": tasks,
        "artifacts": [{"platform": "linux-x86_64", "url": url, "size": size,
                       "sha256": "0".repeat(64), "entrypoint": "bin/start"}],
        "smoke_test": {"task": "t0", "http": {"port": "http", "path": "/"}}
    });
    write_document(&repo, &doc)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn pin_resolves_tags_and_keeps_every_other_byte() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let app = push_multi_arch(&registry, "acme/app", "1.0", FIXTURE);
    let worker = push_single_arch(&registry, "acme/worker", "2", FIXTURE, Filler::default());
    let host = registry.host();
    let app_tag = format!("{host}/acme/app:1.0");
    let worker_tag = format!("{host}/acme/worker:2");
    let artifact = dir.path().join("app.tar.gz");
    std::fs::write(&artifact, b"twelve bytes").unwrap();
    let url = format!("file://{}", artifact.display());
    let doc = repo_with(dir.path(), &[&app_tag, &worker_tag], &url, 12);
    let before = std::fs::read_to_string(&doc).unwrap();

    // Offline, tags are E060 and the run says what it did not ask.
    let offline = hsp(&["check", "--no-signatures", s(&doc)], dir.path());
    assert!(!offline.status.success(), "{}", show(&offline));

    let out = hsp(&["pin", s(&doc)], dir.path());
    assert!(out.status.success(), "{}", show(&out));
    let after = std::fs::read_to_string(&doc).unwrap();
    let app_pin = format!("{app_tag}@{}", app.index_digest);
    let worker_pin = format!("{worker_tag}@{}", worker.digest);
    assert_eq!(
        after,
        before
            .replace(&format!("\"{app_tag}\""), &format!("\"{app_pin}\""))
            .replace(&format!("\"{worker_tag}\""), &format!("\"{worker_pin}\"")),
        "only the image strings change"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("linux/amd64, linux/arm64"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sign them again"));

    // A second run finds nothing to do and writes nothing.
    let again = hsp(&["pin", s(&doc)], dir.path());
    assert!(again.status.success(), "{}", show(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("pinned 0 images, 2 already pinned"));

    // Online, every digest is in the registry and the artifact has its size.
    let online = hsp(
        &["check", "--no-signatures", "--online", s(&doc)],
        dir.path(),
    );
    assert!(online.status.success(), "{}", show(&online));
    assert!(
        String::from_utf8_lossy(&online.stderr)
            .contains("asked the network about 2 images and 1 artifact URL"),
        "{}",
        show(&online)
    );
    let offline = hsp(&["check", "--no-signatures", s(&doc)], dir.path());
    assert!(offline.status.success(), "{}", show(&offline));
    assert!(String::from_utf8_lossy(&offline.stderr)
        .contains("not checked online: 2 images and 1 artifact URL"));
}

#[test]
fn check_online_reports_missing_digests_wrong_sizes_and_unreachable_registries() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let app = push_multi_arch(&registry, "acme/app", "1.0", FIXTURE);
    let host = registry.host();
    let good = format!("{host}/acme/app:1.0@{}", app.index_digest);
    let missing = format!("{host}/acme/app:1.0@sha256:{}", "1".repeat(64));
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("app.tar.gz"), vec![7u8; 1000]).unwrap();
    let server = hostile::Server::start(&files);
    let url = format!("{}/app.tar.gz", server.url);
    let doc = repo_with(dir.path(), &[&good, &missing], &url, 999);
    let text = std::fs::read_to_string(&doc).unwrap();
    let name = s(&doc);

    let out = hsp(&["check", "--no-signatures", "--online", name], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = |needle: &str| format!("{name}:{}:", line_of(&text, needle));
    let e090: Vec<&str> = stdout.lines().filter(|l| l.contains("E090")).collect();
    assert_eq!(e090.len(), 1, "{stdout}");
    assert!(e090[0].starts_with(&at(&missing)), "{stdout}");
    assert!(e090[0].contains("tasks[1].image"), "{stdout}");
    let e091: Vec<&str> = stdout.lines().filter(|l| l.contains("E091")).collect();
    assert_eq!(e091.len(), 1, "{stdout}");
    assert!(e091[0].starts_with(&at(&url)), "{stdout}");
    assert!(
        e091[0].contains("is 1000 bytes, the document declares 999"),
        "{stdout}"
    );

    // JSON output carries the same findings.
    let json = hsp(
        &["check", "--no-signatures", "--online", "--json", name],
        dir.path(),
    );
    let findings: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let codes: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"E090") && codes.contains(&"E091"),
        "{codes:?}"
    );

    // The build asks the same questions first and publishes nothing.
    let repo = dir.path().join("repo");
    let out_dir = dir.path().join("out");
    let build = hsp(
        &[
            "build",
            s(&repo),
            "--dev-keys",
            "--no-site",
            "--verify-images",
            "--out",
            s(&out_dir),
        ],
        dir.path(),
    );
    assert_eq!(build.status.code(), Some(1), "{}", show(&build));
    assert!(
        String::from_utf8_lossy(&build.stdout).contains("E090"),
        "{}",
        show(&build)
    );
    assert!(
        !out_dir.exists(),
        "a build that failed its image checks wrote OUT"
    );

    // A registry that is gone is an error for every image it holds, never a pass.
    drop(registry);
    let out = hsp(&["check", "--no-signatures", "--online", name], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.contains("E092")).count(),
        2,
        "{stdout}"
    );
}

#[test]
fn pin_uses_the_docker_config_credentials_and_reports_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start_with_auth("isv", "s3cret");
    push_multi_arch(&registry, "acme/app", "1.0", FIXTURE);
    let host = registry.host();
    let tag = format!("{host}/acme/app:1.0");
    let absent = format!("{host}/acme/app:9.9");
    let doc = repo_with(
        dir.path(),
        &[&tag, &absent],
        "https://example.org/a.tar.gz",
        1,
    );
    let before = std::fs::read(&doc).unwrap();
    let text = String::from_utf8(before.clone()).unwrap();

    // Without credentials the registry refuses, and nothing is written.
    let empty = dir.path().join("no-config");
    std::fs::create_dir_all(&empty).unwrap();
    let out = hsp(&["pin", s(&doc)], &empty);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(std::fs::read(&doc).unwrap(), before);

    let config = dir.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("isv:s3cret");
    std::fs::write(
        config.join("config.json"),
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let out = hsp(&["pin", s(&doc)], &config);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:{}:", s(&doc), line_of(&text, &absent));
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&at) && l.contains("not found")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "a credential in the output: {stderr}"
    );
    // One image of the file failed: the file is left as it was.
    assert_eq!(std::fs::read(&doc).unwrap(), before);

    // With the tag fixed, the same credentials pin it.
    std::fs::write(&doc, text.replace(&absent, &tag)).unwrap();
    let out = hsp(&["pin", s(&doc)], &config);
    assert!(out.status.success(), "{}", show(&out));
}
