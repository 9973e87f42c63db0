//! `hsp mirror` with real registries: an "upstream" distribution registry
//! holding images made here (skopeo), a site registry, an index built with
//! `hsp build --dev-keys` whose documents name the upstream images, and an
//! artifact served over HTTP. The mirror copies index, images and artifacts;
//! then the upstream is stopped and the agent deploys from the mirror on
//! the real Docker engine. Interrupted and corrupt blob copies, and bundles
//! (round trip and tampering), are here too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hsp_test_support::deploy::{docker, Cleanup, DockerCleanup};
use hsp_test_support::dev_index::host_artifact;
use hsp_test_support::hostile;
use hsp_test_support::oci::{push_multi_arch, push_single_arch, CutProxy, Filler, Mode, Registry};
use hsp_test_support::registry::{dev_build, write_document, RegistryBuilder};
use hsp_test_support::{bin, free_port, http_get, s, show};
use serde_json::{json, Value as Json};
use sha2::Digest as _;

const ID: &str = "com.acme.web";

/// A registry repo with one version of `com.acme.web` running `image` on
/// `port`, with an artifact (`artifact`, a document entry), built into
/// `dir/out`.
fn build_index(dir: &Path, image: &str, port: u16, artifact: Json) -> PathBuf {
    build_index_with(dir, image, port, artifact, &[])
}

/// [`build_index`] with more services: `(id, image)`, each a copy of the
/// first under another id.
fn build_index_with(
    dir: &Path,
    image: &str,
    port: u16,
    artifact: Json,
    more: &[(&str, &str)],
) -> PathBuf {
    let repo = dir.join("repo");
    RegistryBuilder::new("mirrortest", "mirror test registry")
        .lab_artifact_urls()
        .interface_from_examples("http-ui")
        .publisher("acme", "Acme", &["com.acme"])
        .write(&repo);
    write_document(
        &repo,
        &json!({
            "id": ID, "version": "1.0.0", "name": "Web", "summary": "busybox httpd.",
            "publisher": "acme", "license": "MIT",
            "provides": [{"interface": "http-ui", "version": "1.0.0", "task": "app", "port": "http",
                          "binding": {"url": "http://${self.app.http}/"}}],
            "tasks": [{
                "name": "app", "image": image,
                "ports": [{"name": "http", "port": port}],
                "env": {"PORT": port.to_string(), "VERSION": "1.0.0"},
                "memory_mib": 64,
                "health": {"http": {"port": "http", "path": "/healthz"},
                           "interval_s": 1, "timeout_s": 1, "start_period_s": 1, "retries": 3},
                "stop_timeout_s": 2
            }],
            "artifacts": [artifact],
            "smoke_test": {"task": "app", "http": {"port": "http", "path": "/healthz"}}
        }),
    );
    for (id, image) in more {
        let path = repo.join(format!("publishers/acme/services/{ID}/1.0.0.json"));
        let mut doc: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        doc["id"] = (*id).into();
        doc["tasks"][0]["image"] = (*image).into();
        doc["artifacts"] = json!([]);
        write_document(&repo, &doc);
    }
    let out = dir.join("out");
    dev_build(&repo, &out, &["--no-site"]);
    out
}

fn hsp(args: &[&str]) -> Output {
    Command::new(bin("hsp"))
        .args(args)
        .env("HSP_STALL_TIMEOUT_S", "3")
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap()
}

fn hsp_ok(args: &[&str]) -> Json {
    let out = hsp(args);
    assert!(out.status.success(), "hsp {args:?}: {}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap_or(Json::Null)
}

fn root_of(out: &Path) -> String {
    out.join("metadata/1.root.json").display().to_string()
}

/// The sha256 of every file under `dir`, by relative path.
fn files(dir: &Path) -> std::collections::BTreeMap<String, String> {
    hsp_test_support::fs::tree(dir)
        .into_iter()
        .map(|(k, v)| (k, hex::encode(sha2::Sha256::digest(&v))))
        .collect()
}

#[test]
fn mirror_copies_index_images_and_artifacts_and_the_agent_deploys_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut upstream = Registry::start();
    let web = push_multi_arch(&upstream, "acme/web", "1.0", "svc");
    let served = dir.path().join("served");
    let artifact = host_artifact(&served.join("web.tar.gz"), "1.0.0");
    let artifacts_server = hostile::Server::start(&served);
    let mut entry = artifact.clone();
    entry["url"] = format!("{}/web.tar.gz", artifacts_server.url).into();
    let image = format!("{}:1.0@{}", web.repo, web.index_digest);
    // A second image sharing the arm64 layer and config: each shared blob
    // is fetched once and pushed into both repositories.
    let web2 = push_multi_arch(&upstream, "acme/web2", "1.0", "svc");
    let image2 = format!("{}:1.0@{}", web2.repo, web2.index_digest);
    let port = free_port();
    let out = build_index_with(
        dir.path(),
        &image,
        port,
        entry,
        &[("com.acme.web2", &image2)],
    );

    let site = Registry::start();
    let mirror = dir.path().join("mirror");
    let artifacts = dir.path().join("artifacts");
    let args = [
        "mirror",
        s(&out),
        s(&mirror),
        "--root",
        &root_of(&out),
        "--images",
        &site.host(),
        "--artifacts",
        s(&artifacts),
        "--json",
    ];
    let first = hsp_ok(&args);
    assert_eq!(first["images"]["images"], 2, "{first:#}");
    assert_eq!(first["images"]["blobs_copied"], 8, "{first:#}");
    assert_eq!(first["artifacts"]["copied"], 1, "{first:#}");
    // The index is served as the source serves it, byte for byte.
    let (source_files, mirror_files) = (files(&out), files(&mirror));
    for (rel, sha) in &source_files {
        if rel.starts_with("metadata/") || rel.starts_with("targets/") {
            assert_eq!(mirror_files.get(rel), Some(sha), "{rel}");
        }
    }
    // The image keeps its digest (the repository path kept on the site).
    for d in [&web.index_digest, &web.amd64_digest, &web.arm64_digest] {
        assert_eq!(
            site.manifest_digest("acme/web", d).as_deref(),
            Some(d.as_str())
        );
    }
    for (repo, image) in [("acme/web", &web), ("acme/web2", &web2)] {
        for b in &image.blobs {
            assert!(
                site.has_blob(repo, b),
                "{b} not in {repo} on the site registry"
            );
        }
    }
    let sha = artifact["sha256"].as_str().unwrap();
    assert!(artifacts.join("sha256").join(sha).is_file());

    // A second run of an unchanged source copies nothing.
    let again = hsp_ok(&args);
    assert_eq!(again["index"]["written"], 0, "{again:#}");
    assert_eq!(again["images"]["images_present"], 2, "{again:#}");
    assert_eq!(again["images"]["blobs_copied"], 0, "{again:#}");
    assert_eq!(again["artifacts"]["present"], 1, "{again:#}");

    // The publishers' side is gone: the site deploys from its mirror alone.
    upstream.stop();
    drop(artifacts_server);
    let env_name = format!("mir{}", std::process::id());
    let _cleanup = DockerCleanup(env_name.clone());
    let state = dir.path().join("state");
    let agent = |args: &[&str]| {
        Command::new(bin("hsp-agent"))
            .args(args)
            .arg("--state")
            .arg(&state)
            .output()
            .unwrap()
    };
    let init = agent(&["init", "--root", &root_of(&mirror), "--index", s(&mirror)]);
    assert!(init.status.success(), "{}", show(&init));
    let env_file = dir.path().join("env.json");
    std::fs::write(
        &env_file,
        json!({
            "name": env_name,
            "index": {"url": s(&mirror), "root": root_of(&mirror)},
            "services": [{"id": ID}],
            "target": {"kind": "docker", "mirror": site.host()}
        })
        .to_string(),
    )
    .unwrap();
    let apply = agent(&["apply", s(&env_file), "--index", s(&mirror)]);
    assert!(apply.status.success(), "{}", show(&apply));
    let filter = format!("label=org.hsp.agent.environment={env_name}");
    let ids = docker(&["ps", "-q", "--filter", &filter]);
    let id = ids.split_whitespace().next().expect("a running container");
    let pulled = docker(&["inspect", "-f", "{{.Config.Image}}", id]);
    assert_eq!(
        pulled.trim(),
        format!("{}/acme/web@{}", site.host(), web.index_digest),
        "the container runs the mirror's copy, by the signed digest"
    );

    // The same index on a bare-metal host: its artifact comes from the
    // folder `--artifacts` filled (the signed URL's server is gone).
    let host_env = format!("mirh{}", std::process::id());
    // The host driver labels processes with the environment's state dir.
    let _processes = Cleanup(state.join(&host_env), host_env.clone());
    let host_file = dir.path().join("host-env.json");
    std::fs::write(
        &host_file,
        json!({
            "name": host_env,
            "index": {"url": s(&mirror), "root": root_of(&mirror)},
            "services": [{"id": ID}],
            "target": {"kind": "host", "root": s(&dir.path().join("hostroot")),
                       "mirror": s(&artifacts)}
        })
        .to_string(),
    )
    .unwrap();
    let apply = agent(&["apply", s(&host_file), "--index", s(&mirror)]);
    assert!(apply.status.success(), "{}", show(&apply));
    assert_eq!(http_get(port, "/version").as_deref(), Some("1.0.0"));
}

#[test]
fn an_interrupted_blob_copy_resumes_and_a_corrupt_blob_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Registry::start();
    let big = push_single_arch(
        &upstream,
        "acme/big",
        "1",
        "svc",
        Filler {
            bytes: 24 << 20,
            seed: 7,
        },
    );
    let proxy = CutProxy::start(&upstream.host());
    let image = format!("{}/acme/big:1@{}", proxy.host(), big.digest);
    let artifact = host_artifact(&dir.path().join("web.tar.gz"), "1.0.0");
    let out = build_index(dir.path(), &image, free_port(), artifact);
    let site = Registry::start();
    let mirror = dir.path().join("mirror");
    let args = [
        "mirror",
        s(&out),
        s(&mirror),
        "--root",
        &root_of(&out),
        "--images",
        &site.host(),
        "--json",
    ];

    // The layer stalls after 4 MB; the mirror is killed while it waits.
    proxy.set_mode(Mode::StallBlobAfter(4 << 20));
    let mut child = Command::new(bin("hsp"))
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let hex = big.layer.strip_prefix("sha256:").unwrap();
    let partial = mirror.join(format!(".hsp-mirror/blobs/sha256/{hex}.partial"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(
            Instant::now() < deadline,
            "no partial download at {}",
            partial.display()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror ended before the stall"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(
        !site.has_blob("acme/big", &big.layer),
        "a partial blob was published"
    );
    assert_eq!(site.manifest_digest("acme/big", &big.digest), None);

    // The rerun asks only for the rest, and publishes the verified blob.
    proxy.set_mode(Mode::Pass);
    let report = hsp_ok(&args);
    assert_eq!(report["images"]["images"], 1, "{report:#}");
    let ranges: Vec<String> = proxy
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&big.layer))
        .filter_map(|r| r.range.clone())
        .collect();
    assert_eq!(
        ranges,
        vec![format!("bytes={kept}-")],
        "{:#?}",
        proxy.requests()
    );
    let blob = site
        .request("GET", &format!("/v2/acme/big/blobs/{}", big.layer), &[])
        .unwrap();
    assert_eq!(hsp_test_support::oci::sha256(&blob.body), big.layer);
    assert_eq!(
        site.manifest_digest("acme/big", &big.digest).as_deref(),
        Some(big.digest.as_str())
    );
    assert!(!partial.exists());

    // An upstream blob whose bytes do not match its digest is refused, and
    // nothing of that image reaches the site.
    let bad = push_single_arch(
        &upstream,
        "acme/bad",
        "1",
        "svc",
        Filler {
            bytes: 1 << 20,
            seed: 9,
        },
    );
    upstream.corrupt_blob(&bad.layer);
    let dir2 = tempfile::tempdir().unwrap();
    let image = format!("{}/acme/bad:1@{}", upstream.host(), bad.digest);
    let artifact = host_artifact(&dir2.path().join("web.tar.gz"), "1.0.0");
    let out2 = build_index(dir2.path(), &image, free_port(), artifact);
    let mirror2 = dir2.path().join("mirror");
    let refused = hsp(&[
        "mirror",
        s(&out2),
        s(&mirror2),
        "--root",
        &root_of(&out2),
        "--images",
        &site.host(),
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&bad.layer) && stderr.contains("refused"),
        "{stderr}"
    );
    assert!(!site.has_blob("acme/bad", &bad.layer));
    assert_eq!(site.manifest_digest("acme/bad", &bad.digest), None);
}

/// Rewrites bundle `src` into `dst`, changing the file `target` with `edit`
/// and updating `bundle.json` to match (an attacker who knows the format).
fn tamper(src: &Path, dst: &Path, target: &dyn Fn(&str) -> bool, edit: &dyn Fn(&mut Vec<u8>)) {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(src).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
        files.push((path, bytes));
    }
    let mut changed = None;
    for (path, bytes) in files.iter_mut() {
        if changed.is_none() && target(path) {
            edit(bytes);
            changed = Some((
                path.clone(),
                hex::encode(sha2::Sha256::digest(&*bytes)),
                bytes.len(),
            ));
        }
    }
    let (path, sha, size) = changed.expect("a file to tamper with");
    for (p, bytes) in files.iter_mut() {
        if p == "bundle.json" {
            let mut contents: Json = serde_json::from_slice(bytes).unwrap();
            contents["files"][&path] = json!({"sha256": sha, "size": size});
            *bytes = serde_json::to_vec(&contents).unwrap();
        }
    }
    let mut builder = tar::Builder::new(std::fs::File::create(dst).unwrap());
    for (path, bytes) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        builder.append_data(&mut h, path, bytes.as_slice()).unwrap();
    }
    builder.finish().unwrap();
}

#[test]
fn a_bundle_round_trips_to_a_second_site_and_a_tampered_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut upstream = Registry::start();
    let web = push_multi_arch(&upstream, "acme/web", "1.0", "svc");
    let artifact = host_artifact(&dir.path().join("served/web.tar.gz"), "1.0.0");
    let image = format!("{}:1.0@{}", web.repo, web.index_digest);
    let out = build_index(dir.path(), &image, free_port(), artifact.clone());
    let bundle = dir.path().join("hsp.bundle");
    let staging = dir.path().join("outbound");
    hsp_ok(&[
        "mirror",
        s(&out),
        s(&staging),
        "--root",
        &root_of(&out),
        "--bundle",
        s(&bundle),
    ]);
    assert!(bundle.is_file());
    upstream.stop();

    // The site: a folder, its registry and artifact folder, nothing else.
    let site_dir = tempfile::tempdir().unwrap();
    let site = Registry::start();
    let imported = site_dir.path().join("index");
    let artifacts = site_dir.path().join("artifacts");
    let report = hsp_ok(&[
        "mirror",
        s(&bundle),
        s(&imported),
        "--root",
        &root_of(&out),
        "--images",
        &site.host(),
        "--artifacts",
        s(&artifacts),
        "--json",
    ]);
    assert_eq!(report["images"]["blobs_copied"], 4, "{report:#}");
    let (source_files, imported_files) = (files(&out), files(&imported));
    for (rel, sha) in &source_files {
        if rel.starts_with("metadata/") || rel.starts_with("targets/") {
            assert_eq!(imported_files.get(rel), Some(sha), "{rel}");
        }
    }
    assert_eq!(
        site.manifest_digest("acme/web", &web.index_digest)
            .as_deref(),
        Some(web.index_digest.as_str())
    );
    assert!(artifacts
        .join("sha256")
        .join(artifact["sha256"].as_str().unwrap())
        .is_file());
    // Leftover staging folders are gone.
    let leftovers: Vec<_> = std::fs::read_dir(site_dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".hsp-import"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Tampered layers and tampered documents are refused, nothing written.
    type Pick<'a> = &'a dyn Fn(&str) -> bool;
    let cases: [(&str, Pick); 3] = [
        ("a layer", &|p: &str| {
            p.ends_with(web.amd64_layer.strip_prefix("sha256:").unwrap())
        }),
        ("a document", &|p: &str| p.starts_with("targets/services/")),
        ("the timestamp", &|p: &str| p == "metadata/timestamp.json"),
    ];
    for (what, target) in cases {
        let bad = site_dir.path().join("bad.bundle");
        tamper(&bundle, &bad, target, &|b: &mut Vec<u8>| {
            let n = b.len() / 2;
            b[n] ^= 1;
        });
        let other = Registry::start();
        let into = site_dir.path().join("bad-index");
        let out = hsp(&[
            "mirror",
            s(&bad),
            s(&into),
            "--root",
            &root_of(&out),
            "--images",
            &other.host(),
            "--artifacts",
            s(&site_dir.path().join("bad-artifacts")),
        ]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("refused, nothing was written"),
            "{what}: {stderr}"
        );
        assert!(!into.exists(), "{what}: the index folder was written");
        assert!(!site_dir.path().join("bad-artifacts").exists(), "{what}");
        assert_eq!(
            other.manifest_digest("acme/web", &web.index_digest),
            None,
            "{what}"
        );
    }
    // A bundle damaged in transit (bundle.json not matching) says so.
    let damaged = site_dir.path().join("damaged.bundle");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let needle = br#""_type":"timestamp""#;
    let n = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the timestamp in the bundle");
    bytes[n + 2] ^= 0x20;
    std::fs::write(&damaged, bytes).unwrap();
    let out = hsp(&[
        "mirror",
        s(&damaged),
        s(&site_dir.path().join("dmg")),
        "--root",
        &root_of(&out),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match bundle.json"),
        "{}",
        show(&out)
    );
}

#[test]
fn mirror_env_copies_only_what_the_environment_resolves_to() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Registry::start();
    let web = push_single_arch(&upstream, "acme/web", "1", "svc", Filler::default());
    let other = push_single_arch(
        &upstream,
        "acme/other",
        "1",
        "svc",
        Filler {
            bytes: 4096,
            seed: 3,
        },
    );
    let artifact = host_artifact(&dir.path().join("web.tar.gz"), "1.0.0");
    let web_image = format!("{}:1@{}", web.repo, web.digest);
    let other_image = format!("{}:1@{}", other.repo, other.digest);
    let out = build_index_with(
        dir.path(),
        &web_image,
        free_port(),
        artifact,
        &[("com.acme.other", &other_image)],
    );
    let env_file = dir.path().join("env.json");
    std::fs::write(
        &env_file,
        json!({
            "name": "only-web",
            "index": {"url": s(&out), "root": root_of(&out)},
            "services": [{"id": ID}],
            "target": {"kind": "docker"}
        })
        .to_string(),
    )
    .unwrap();
    let site = Registry::start();
    let mirror = dir.path().join("mirror");
    let report = hsp_ok(&[
        "mirror",
        s(&out),
        s(&mirror),
        "--root",
        &root_of(&out),
        "--images",
        &site.host(),
        "--env",
        s(&env_file),
        "--json",
    ]);
    assert_eq!(report["documents"], 2, "{report:#}");
    assert_eq!(report["images"]["images"], 1, "{report:#}");
    assert_eq!(
        site.manifest_digest("acme/web", &web.digest).as_deref(),
        Some(web.digest.as_str())
    );
    assert_eq!(site.manifest_digest("acme/other", &other.digest), None);

    // A bundle of that subset imports; it carries nothing else.
    let bundle = dir.path().join("web.bundle");
    hsp_ok(&[
        "mirror",
        s(&out),
        s(&dir.path().join("outbound")),
        "--root",
        &root_of(&out),
        "--env",
        s(&env_file),
        "--bundle",
        s(&bundle),
    ]);
    let site2 = Registry::start();
    hsp_ok(&[
        "mirror",
        s(&bundle),
        s(&dir.path().join("imported")),
        "--root",
        &root_of(&out),
        "--images",
        &site2.host(),
    ]);
    assert!(site2.manifest_digest("acme/web", &web.digest).is_some());
    assert_eq!(site2.manifest_digest("acme/other", &other.digest), None);

    // An environment the index cannot satisfy is a clear error.
    std::fs::write(
        &env_file,
        json!({"name": "x", "index": {"url": s(&out), "root": root_of(&out)},
               "services": [{"id": "com.acme.missing"}], "target": {"kind": "docker"}})
        .to_string(),
    )
    .unwrap();
    let failed = hsp(&[
        "mirror",
        s(&out),
        s(&mirror),
        "--images",
        &site.host(),
        "--env",
        s(&env_file),
    ]);
    assert_eq!(failed.status.code(), Some(1), "{}", show(&failed));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("cannot be planned"),
        "{}",
        show(&failed)
    );
}
