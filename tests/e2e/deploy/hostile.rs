//! The agent against a hostile server ([`hsp_test_support::hostile`]) serving
//! its index and artifacts: every misbehaviour fails cleanly (no crash), within
//! the configured timeouts, without growing past the signed sizes, and loses
//! nothing the site had; a release whose artifact is refused is marked bad and
//! does not block the next good one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hsp_test_support::deploy::Cleanup;
use hsp_test_support::dev_index::{DevIndex, ID};
use hsp_test_support::hostile::{Misbehave, Server};
use hsp_test_support::{free_port, http_get as get, run_ok, show};
use serde_json::{json, Value as Json};

struct Site {
    index: DevIndex,
    server: Server,
    dir: tempfile::TempDir,
    env: String,
    port: u16,
}

impl Site {
    fn new(tag: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path());
        Site {
            index: DevIndex::new(dir.path()).with_artifact_base(&server.url),
            server,
            dir,
            env: format!("hs{}-{tag}", std::process::id()),
            port: free_port(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The index as the server serves it.
    fn url(&self) -> String {
        format!("{}/out", self.server.url)
    }

    /// `hsp-agent CMD ENV` against the server, with 2 s stall and 10 s
    /// overall timeouts (the defaults are 30 s and 5 minutes).
    fn agent(&self, cmd: &str, env_file: &Path) -> Command {
        let mut c = Command::new(hsp_test_support::bin("hsp-agent"));
        c.arg(cmd)
            .arg(env_file)
            .arg("--state")
            .arg(self.path("state"))
            .args(["--index", &self.url()])
            .env("HSP_STALL_TIMEOUT_S", "2")
            .env("HSP_OVERALL_TIMEOUT_S", "10");
        c
    }

    fn init(&self) {
        run_ok(
            Command::new(hsp_test_support::bin("hsp-agent"))
                .arg("init")
                .arg("--state")
                .arg(self.path("state"))
                .arg("--root")
                .arg(self.index.out().join("metadata/1.root.json"))
                .args(["--index", &self.url()]),
        );
    }

    fn env_file(&self) -> PathBuf {
        self.index
            .write_env(&self.env, json!([{"id": ID}]), json!({}))
    }

    fn journal(&self) -> Json {
        let p = self.path("state").join(&self.env).join("journal.json");
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }

    /// Files left in the host driver's download folder.
    fn downloads(&self) -> Vec<String> {
        let dir = self.path("hostroot/downloads");
        std::fs::read_dir(&dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
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

/// Runs `c`, which must fail as an error (not a panic or a signal) within `within`.
fn fails_cleanly(c: &mut Command, within: Duration, what: &str) -> Output {
    let started = Instant::now();
    let out = c.output().unwrap();
    let took = started.elapsed();
    assert!(!out.status.success(), "{what}: succeeded\n{}", show(&out));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: not a clean error\n{}",
        show(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{what}: panicked\n{}",
        show(&out)
    );
    assert!(took < within, "{what}: took {took:?}\n{}", show(&out));
    out
}

#[test]
fn a_hostile_index_server_fails_each_refresh_cleanly_and_in_bounded_time() {
    let mut site = Site::new("index");
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.env_file();
    run_ok(&mut site.agent("plan", &env_file));
    let trusted = site.path("state");
    let before = hsp_test_support::fs::tree(&trusted);

    // A new timestamp is published; the server misbehaves on it.
    site.index.build();
    let timestamp = "/out/metadata/timestamp.json";
    for (what, how, says) in [
        (
            "redirect to a local file",
            Misbehave::Redirect("file:///etc/passwd".into()),
            "file:///etc/passwd",
        ),
        ("stall mid-body", Misbehave::Stall, "timed out"),
        ("endless body", Misbehave::Endless, "timestamp"),
        (
            "announces more than it sends",
            Misbehave::Lie {
                announced: 100_000,
                body: b"{\"signed\":".to_vec(),
            },
            "timestamp",
        ),
    ] {
        site.server.set(timestamp, how);
        let hits = site.server.hits(timestamp);
        let out = fails_cleanly(
            &mut site.agent("plan", &env_file),
            Duration::from_secs(15),
            what,
        );
        assert!(site.server.hits(timestamp) > hits, "{what}: not fetched");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{what}: {stderr}");
        // The trusted metadata is what it was: nothing half-written, nothing lost.
        assert_eq!(hsp_test_support::fs::tree(&trusted), before, "{what}");
    }
    // The server behaves again: the agent follows to the new timestamp.
    site.server.clear(timestamp);
    run_ok(&mut site.agent("plan", &env_file));
}

/// Writes a `.tar.gz` whose one entry claims `claimed` bytes but holds a few:
/// the unpacker must refuse it from the header, before writing anything.
fn bomb(path: &Path, claimed: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_path("bin/start").unwrap();
    h.set_size(claimed);
    h.set_mode(0o755);
    h.set_cksum();
    let mut raw = h.as_bytes().to_vec();
    raw.extend_from_slice(&[0u8; 512]);
    b.get_mut().write_all(&raw).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

use std::io::Write as _;

#[test]
fn refused_artifacts_mark_their_release_bad_and_a_good_release_follows() {
    let mut site = Site::new("artifact");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.env_file();
    run_ok(&mut site.agent("apply", &env_file));
    site.wait_serving("1.0.0");

    // A stalled download is the network's fault: the apply fails within the
    // stall timeout, nothing is marked bad or left behind, and once the server
    // answers again the release deploys.
    site.index.add_version("1.0.1", site.port, json!({}));
    site.index.build();
    let stalled = "/artifacts/web-1.0.1.tar.gz";
    site.server.set(stalled, Misbehave::Stall);
    let started = Instant::now();
    let out = site.agent("apply", &env_file).output().unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(site.server.hits(stalled) > 0);
    assert_eq!(get(site.port, "/version").as_deref(), Some("1.0.0"));
    let journal = site.journal();
    assert!(
        journal["instances"]["web"]["bad_versions"]["1.0.1"].is_null(),
        "a stall marked 1.0.1 bad: {journal:#}"
    );
    assert_eq!(
        site.downloads()
            .iter()
            .filter(|f| !f.ends_with(".tar.gz"))
            .count(),
        0
    );
    site.server.clear(stalled);
    run_ok(&mut site.agent("apply", &env_file));
    site.wait_serving("1.0.1");

    // Each bad release: the agent refuses it, keeps 1.0.1 serving, marks it
    // bad with the cause and leaves no partial download behind.
    let cases: [(&str, &str, Option<Misbehave>, &str); 3] = [
        ("1.1.0", "endless body", Some(Misbehave::Endless), "size"),
        (
            "1.2.0",
            "announces more than it sends",
            Some(Misbehave::Lie {
                announced: 1 << 30,
                body: vec![0; 1000],
            }),
            "size",
        ),
        (
            "1.3.0",
            "decompression bomb",
            None,
            "unpacked size over the limit",
        ),
    ];
    for (version, what, how, cause) in cases {
        let file = format!("artifacts/web-{version}.tar.gz");
        if how.is_none() {
            bomb(&site.path(&file), 8 << 30);
        }
        site.index.add_version(version, site.port, json!({}));
        site.index.build();
        if let Some(how) = how {
            site.server.set(&format!("/{file}"), how);
        }
        let out = site.agent("apply", &env_file).output().unwrap();
        assert!(!out.status.success(), "{what}\n{}", show(&out));
        assert_eq!(
            get(site.port, "/version").as_deref(),
            Some("1.0.1"),
            "{what}"
        );
        let journal = site.journal();
        let why = journal["instances"]
            .as_object()
            .and_then(|i| i.values().next())
            .and_then(|r| r["bad_versions"][version].as_str())
            .unwrap_or_else(|| {
                panic!(
                    "{what}: {version} not marked bad\n{journal:#}\n{}",
                    show(&out)
                )
            })
            .to_string();
        assert!(why.contains(cause), "{what}: {why}");
        let leftovers: Vec<String> = site
            .downloads()
            .into_iter()
            .filter(|f| !f.ends_with(".tar.gz"))
            .collect();
        assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
    }
    // A newer good release is deployed over the bad ones.
    site.index.add_version("1.4.0", site.port, json!({}));
    site.index.build();
    run_ok(&mut site.agent("apply", &env_file));
    site.wait_serving("1.4.0");
}
