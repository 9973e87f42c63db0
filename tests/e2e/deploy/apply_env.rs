//! `hsp-agent apply ENV` end to end on the host driver: a registry repo written
//! here (one service whose artifact is a local tar.gz running busybox httpd),
//! `hsp build --dev-keys`, `hsp-agent init`, then apply, upgrade and prune,
//! checked against the port, `status --json` and /proc.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hsp_deploy::host::process::scan;
use hsp_test_support::deploy::Cleanup;
use hsp_test_support::dev_index::{DevIndex, ID};
use hsp_test_support::{free_port, http_get as get, run_ok, show};
use serde_json::{json, Value as Json};

struct Site {
    index: DevIndex,
    dir: tempfile::TempDir,
    env: String,
    port: u16,
}

impl Site {
    fn new(tag: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        Site {
            index: DevIndex::new(dir.path()),
            dir,
            env: format!("ae{}-{tag}", std::process::id()),
            port: free_port(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_env(&self, services: Json) -> PathBuf {
        self.index.write_env(&self.env, services, json!({}))
    }

    fn agent(&self, args: &[&str], env_file: &Path) -> Command {
        let mut c = Command::new(hsp_test_support::bin("hsp-agent"));
        c.arg(args[0])
            .arg(env_file)
            .args(&args[1..])
            .arg("--state")
            .arg(self.path("state"));
        c
    }

    /// `hsp-agent init` trusting the root of the first build.
    fn init(&self) {
        let index = self.index.out();
        let mut c = Command::new(hsp_test_support::bin("hsp-agent"));
        c.arg("init")
            .arg("--state")
            .arg(self.path("state"))
            .arg("--root")
            .arg(index.join("metadata/1.root.json"))
            .arg("--index")
            .arg(&index);
        run_ok(&mut c);
    }

    /// `hsp-agent apply ENV` (any exit code).
    fn try_apply(&self, env_file: &Path) -> Output {
        self.agent(&["apply"], env_file)
            .arg("--index")
            .arg(self.index.out())
            .output()
            .unwrap()
    }

    fn apply(&self, env_file: &Path) -> Output {
        run_ok(
            self.agent(&["apply"], env_file)
                .arg("--index")
                .arg(self.index.out()),
        )
    }

    fn status(&self, env_file: &Path) -> Json {
        let out = self
            .agent(&["status", "--json"], env_file)
            .args(["--root", &self.path("hostroot").display().to_string()])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{}", show(&out)))
    }

    fn pids(&self) -> Vec<i32> {
        let state = self.path("state").join(&self.env);
        let state = std::fs::canonicalize(&state).unwrap_or(state);
        scan(&state, &self.env).iter().map(|p| p.pid).collect()
    }

    /// Waits until the service serves `version` at /version and /healthz is ok.
    fn wait_serving(&self, version: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = get(self.port, "/version");
            if v.as_deref() == Some(version) && get(self.port, "/healthz").as_deref() == Some("ok")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "service on port {} does not serve version {version} (got {v:?})",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `status --json` lists exactly this service, at `version`, healthy.
    fn assert_status(&self, env_file: &Path, version: &str) {
        let status = self.status(env_file);
        assert_eq!(status["environment"], self.env.as_str(), "{status:#}");
        let services = status["services"].as_array().expect("services array");
        assert_eq!(services.len(), 1, "{status:#}");
        let s = &services[0];
        assert_eq!(s["service"], ID, "{status:#}");
        assert_eq!(s["version"], version, "{status:#}");
        assert_eq!(s["health"], "healthy", "{status:#}");
        assert_eq!(s["units_healthy"], s["units_wanted"], "{status:#}");
        assert!(s["rollout_in_progress"].is_null(), "{status:#}");
    }

    fn cleanup(&self) -> Cleanup {
        Cleanup(self.path("state").join(&self.env), self.env.clone())
    }
}

#[test]
fn apply_env_installs_upgrades_and_prunes_on_host() {
    let mut site = Site::new("up");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();

    // Install.
    let env_file = site.write_env(json!([{"id": ID}]));
    site.apply(&env_file);
    site.wait_serving("1.0.0");
    site.assert_status(&env_file, "1.0.0");
    let first = site.pids();
    assert!(!first.is_empty(), "no labelled process after apply");

    // Upgrade: a newer version in the index, applied under the minor policy.
    site.index.add_version("1.1.0", site.port, json!({}));
    // Rebuilt in place; the agent keeps the trust it has and follows.
    site.index.build();
    site.apply(&env_file);
    site.wait_serving("1.1.0");
    site.assert_status(&env_file, "1.1.0");
    let second = site.pids();
    assert!(!second.is_empty(), "no labelled process after the upgrade");
    let kept: Vec<_> = first.iter().filter(|p| second.contains(p)).collect();
    assert!(
        kept.is_empty(),
        "processes of 1.0.0 survived the upgrade: {kept:?}"
    );

    // Prune: the service leaves the environment.
    let env_file = site.write_env(json!([]));
    site.apply(&env_file);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !site.pids().is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes left after prune: {:?}",
            site.pids()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(site.port, "/version"), None, "port still answers");
    let status = site.status(&env_file);
    assert_eq!(status["services"], json!([]), "{status:#}");
}

/// A version that was rolled back is left out by the planner (`plan` says why)
/// until a newer one is published, which is then deployed.
#[test]
fn a_version_marked_bad_is_not_planned_again_until_a_newer_one_appears() {
    let mut site = Site::new("bad");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    site.apply(&env_file);
    site.wait_serving("1.0.0");

    // 1.1.0 exits at once: rolled back, marked bad.
    site.index
        .add_version("1.1.0", site.port, json!({"FAIL": "3"}));
    site.index.build();
    let out = site.try_apply(&env_file);
    assert!(!out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1.1.0 failed (unhealthy") && stdout.contains("rolled back to 1.0.0"),
        "{stdout}"
    );
    site.wait_serving("1.0.0");

    // The planner now keeps 1.0.0 and says why it skipped 1.1.0.
    let plan = run_ok(&mut site.agent(&["plan"], &env_file));
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains("1.1.0: it was marked bad on this site"),
        "plan does not say why 1.1.0 is skipped:\n{plan}"
    );
    assert!(
        plan.contains(&format!("keep       {ID}")) || plan.contains("keep "),
        "{plan}"
    );
    // apply deploys what the planner chose: nothing to retry, exit 0.
    let out = site.apply(&env_file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1.0.0 unchanged, healthy"), "{stdout}");
    site.assert_status(&env_file, "1.0.0");

    // A newer version appears: it is tried (and works).
    site.index.add_version("1.2.0", site.port, json!({}));
    site.index.build();
    let out = site.apply(&env_file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("upgraded 1.0.0 -> 1.2.0"), "{stdout}");
    site.wait_serving("1.2.0");
    let status = site.status(&env_file);
    assert!(
        status["services"][0]["bad_versions"]["1.1.0"].is_string(),
        "{status:#}"
    );
}
