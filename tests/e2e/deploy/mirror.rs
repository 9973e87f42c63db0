//! A host target with an artifact mirror (`target.mirror`, issue 15): the
//! signed artifact URLs point at a closed port on 127.0.0.1, and the agent
//! deploys from `<mirror>/sha256/<hex>` (a folder relative to the environment
//! file, or a server of one), checked against the signed size and sha256. A
//! file the mirror lacks marks nothing bad; tampered bytes are refused like a
//! bad download and leave what was deployed running.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hsp_index::artifact_mirror::path_in_mirror;
use hsp_test_support::deploy::Cleanup;
use hsp_test_support::dev_index::{DevIndex, ID};
use hsp_test_support::hostile::Server;
use hsp_test_support::{free_port, http_get as get, run_ok, show};
use serde_json::{json, Value as Json};

struct Site {
    index: DevIndex,
    dir: tempfile::TempDir,
    env: String,
    port: u16,
}

impl Site {
    /// A dev index whose artifacts' signed URLs are on a closed port.
    fn new(tag: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let closed = format!("http://127.0.0.1:{}", free_port());
        Site {
            index: DevIndex::new(dir.path()).with_artifact_base(&closed),
            dir,
            env: format!("mi{}-{tag}", std::process::id()),
            port: free_port(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Adds `version` and rebuilds the index.
    fn publish(&mut self, version: &str) {
        self.index.add_version(version, self.port, json!({}));
        self.index.build();
    }

    /// The artifact of `version` (as published) and its signed sha256.
    fn artifact(&self, version: &str) -> (Vec<u8>, String) {
        let bytes = std::fs::read(self.path(&format!("artifacts/web-{version}.tar.gz"))).unwrap();
        let sha = hsp_tuf::sha256_hex(&bytes);
        (bytes, sha)
    }

    /// Writes `bytes` as the mirror's copy of `version`'s artifact under `mirror`.
    fn mirror_copy(&self, mirror: &Path, version: &str, bytes: &[u8]) -> PathBuf {
        let (_, sha) = self.artifact(version);
        let p = mirror.join(path_in_mirror(&sha));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn env_file(&self, mirror: &str) -> PathBuf {
        let target = json!({"kind": "host", "root": self.path("hostroot").display().to_string(),
                            "mirror": mirror});
        self.index
            .write_env(&self.env, json!([{"id": ID}]), json!({"target": target}))
    }

    fn init(&self) {
        run_ok(
            Command::new(hsp_test_support::bin("hsp-agent"))
                .arg("init")
                .arg("--state")
                .arg(self.path("state"))
                .arg("--root")
                .arg(self.index.out().join("metadata/1.root.json"))
                .arg("--index")
                .arg(self.index.out()),
        );
    }

    fn apply(&self, env_file: &Path) -> Output {
        Command::new(hsp_test_support::bin("hsp-agent"))
            .arg("apply")
            .arg(env_file)
            .arg("--state")
            .arg(self.path("state"))
            .output()
            .unwrap()
    }

    fn bad_versions(&self) -> Json {
        let p = self.path("state").join(&self.env).join("journal.json");
        let j: Json = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        j["instances"]
            .as_object()
            .and_then(|i| i.values().next())
            .map(|r| r["bad_versions"].clone())
            .unwrap_or(Json::Null)
    }

    fn wait_serving(&self, version: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(self.port, "/version").as_deref() != Some(version) {
            assert!(Instant::now() < deadline, "{version} is not served");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn cleanup(&self) -> Cleanup {
        Cleanup(self.path("state").join(&self.env), self.env.clone())
    }
}

#[test]
fn a_folder_mirror_serves_artifacts_whose_signed_url_is_unreachable() {
    let mut site = Site::new("folder");
    let _guard = site.cleanup();
    site.publish("1.0.0");
    site.init();
    // `mirror` is relative to the environment file (`<dir>/site/env.json`).
    let env_file = site.env_file("mirror");
    let mirror = site.path("site/mirror");
    let (bytes, _) = site.artifact("1.0.0");
    site.mirror_copy(&mirror, "1.0.0", &bytes);
    let out = site.apply(&env_file);
    assert!(out.status.success(), "{}", show(&out));
    site.wait_serving("1.0.0");

    // 1.0.1 is published but not yet in the mirror: an infrastructure error
    // naming the signed URL and the mirror file, nothing marked bad, 1.0.0 kept.
    site.publish("1.0.1");
    let (bytes, sha) = site.artifact("1.0.1");
    let out = site.apply(&env_file);
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let location = mirror.join(path_in_mirror(&sha));
    assert!(
        stderr.contains("the artifact mirror has no")
            && stderr.contains(&location.display().to_string())
            && stderr.contains("/artifacts/web-1.0.1.tar.gz"),
        "{}",
        show(&out)
    );
    assert!(
        site.bad_versions()["1.0.1"].is_null(),
        "{:#}",
        site.bad_versions()
    );
    assert_eq!(get(site.port, "/version").as_deref(), Some("1.0.0"));

    // Once the mirror holds it, the same release deploys.
    site.mirror_copy(&mirror, "1.0.1", &bytes);
    let out = site.apply(&env_file);
    assert!(out.status.success(), "{}", show(&out));
    site.wait_serving("1.0.1");
}

#[test]
fn tampered_bytes_in_an_http_mirror_are_refused_and_the_deployed_version_keeps_running() {
    let mut site = Site::new("http");
    let _guard = site.cleanup();
    let served = site.path("served");
    std::fs::create_dir_all(&served).unwrap();
    let server = Server::start(&served);
    site.publish("1.0.0");
    site.init();
    let env_file = site.env_file(&format!("{}/", server.url));
    let (bytes, _) = site.artifact("1.0.0");
    site.mirror_copy(&served, "1.0.0", &bytes);
    let out = site.apply(&env_file);
    assert!(out.status.success(), "{}", show(&out));
    site.wait_serving("1.0.0");
    let releases = site.path("hostroot/web/releases");
    let before = hsp_test_support::fs::tree(&releases);

    // The mirror's copy of 1.1.0 has the signed size but other bytes.
    site.publish("1.1.0");
    let (bytes, sha) = site.artifact("1.1.0");
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    site.mirror_copy(&served, "1.1.0", &tampered);
    let out = site.apply(&env_file);
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}/sha256/{sha}", server.url))
            && stderr.contains("/artifacts/web-1.1.0.tar.gz")
            && stderr.contains("sha256"),
        "{}",
        show(&out)
    );
    // Refused as a bad download is: marked bad with the cause, nothing
    // unpacked, no partial download, 1.0.0 still serving.
    let why = site.bad_versions()["1.1.0"].as_str().map(str::to_string);
    assert!(
        why.as_deref().is_some_and(|w| w.contains("sha256")),
        "{why:?}\n{}",
        show(&out)
    );
    assert_eq!(hsp_test_support::fs::tree(&releases), before);
    let downloads: Vec<_> = std::fs::read_dir(site.path("hostroot/downloads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| !f.ends_with(".tar.gz"))
        .collect();
    assert!(downloads.is_empty(), "{downloads:?}");
    assert_eq!(get(site.port, "/version").as_deref(), Some("1.0.0"));
}
