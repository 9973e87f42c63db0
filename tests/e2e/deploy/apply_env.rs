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

/// A host port held by another process on first install is the site's
/// problem, not the release's: the apply fails naming the port, nothing is
/// marked bad, `plan` still adds the version, and the next apply deploys it
/// once the port is free.
#[test]
fn a_port_in_use_on_first_install_is_retried_not_marked_bad() {
    let mut site = Site::new("port");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    let holder = std::net::TcpListener::bind(("127.0.0.1", site.port)).unwrap();

    let out = site.try_apply(&env_file);
    assert!(!out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "port {} on 127.0.0.1 is in use by another process",
            site.port
        )) && stdout.contains("not marked bad"),
        "{stdout}"
    );
    assert!(site.pids().is_empty(), "a unit was left running: {stdout}");
    let status = site.status(&env_file);
    let s = &status["services"][0];
    assert_eq!(s["bad_versions"], json!({}), "{status:#}");
    assert!(
        s["rollout_in_progress"].is_null(),
        "not interrupted: {status:#}"
    );
    assert_eq!(s["retry"]["version"], "1.0.0", "{status:#}");
    assert_eq!(s["retry"]["attempts"], 1, "{status:#}");
    assert!(
        s["retry"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains(&format!("port {}", site.port))),
        "{status:#}"
    );
    // plan and apply agree: the version is still the one to add.
    let plan = run_ok(&mut site.agent(&["plan"], &env_file));
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains(&format!("add        web: {ID} 1.0.0")),
        "{plan}"
    );
    // Still held: a second failure counts up, still nothing marked.
    let out = site.try_apply(&env_file);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(attempt 2)"),
        "{}",
        show(&out)
    );

    drop(holder);
    let out = site.apply(&env_file);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deployed 1.0.0, healthy"),
        "{}",
        show(&out)
    );
    site.wait_serving("1.0.0");
    site.assert_status(&env_file, "1.0.0");
    let status = site.status(&env_file);
    assert!(status["services"][0]["retry"].is_null(), "{status:#}");
}

/// An unhealthy first install is marked bad: `plan` and `apply` both leave it
/// out and say why; `hsp-agent retry` clears the mark (and says what it
/// cleared), after which both plan it again.
#[test]
fn retry_clears_a_bad_mark_and_plan_and_apply_agree() {
    let mut site = Site::new("retry");
    let _guard = site.cleanup();
    site.index
        .add_version("1.0.0", site.port, json!({"FAIL": "3"}));
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    let out = site.try_apply(&env_file);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1.0.0 failed: unhealthy"),
        "{}",
        show(&out)
    );
    let status = site.status(&env_file);
    assert!(
        status["services"][0]["bad_versions"]["1.0.0"].is_string(),
        "{status:#}"
    );

    // Marked: plan explains why 1.0.0 is left out, and apply plans the same
    // (no unit starts).
    let marked = "1.0.0: it was marked bad on this site";
    let plan = site.agent(&["plan"], &env_file).output().unwrap();
    assert!(!plan.status.success(), "{}", show(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stderr).contains(marked),
        "{}",
        show(&plan)
    );
    let apply = site.try_apply(&env_file);
    assert!(!apply.status.success(), "{}", show(&apply));
    assert!(
        String::from_utf8_lossy(&apply.stderr).contains(marked),
        "{}",
        show(&apply)
    );
    assert!(site.pids().is_empty());

    // A version that is not marked: an error with a hint naming the marks.
    let none = site
        .agent(&["retry"], &env_file)
        .arg(format!("{ID}@9.9.9"))
        .output()
        .unwrap();
    assert!(!none.status.success(), "{}", show(&none));
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .contains(&format!("is not marked bad (hint: marked bad: {ID}@1.0.0")),
        "{}",
        show(&none)
    );

    let out = run_ok(site.agent(&["retry"], &env_file).arg(format!("{ID}@1.0.0")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("web: cleared the bad mark of {ID} 1.0.0")),
        "{stdout}"
    );
    let status = site.status(&env_file);
    assert_eq!(
        status["services"][0]["bad_versions"],
        json!({}),
        "{status:#}"
    );

    // Cleared: plan adds it, and apply tries it (it fails again, and is
    // marked again).
    let plan = run_ok(&mut site.agent(&["plan"], &env_file));
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains(&format!("add        web: {ID} 1.0.0")),
        "{plan}"
    );
    let out = site.try_apply(&env_file);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1.0.0 failed: unhealthy"),
        "{}",
        show(&out)
    );
    let status = site.status(&env_file);
    assert!(
        status["services"][0]["bad_versions"]["1.0.0"].is_string(),
        "{status:#}"
    );
}

/// `plan` offers only versions this host can run (an artifact for its
/// platform) and says which it ruled out; `apply` deploys what it planned.
#[test]
fn a_host_target_plans_only_versions_with_an_artifact_for_this_platform() {
    let mut site = Site::new("plat");
    let _guard = site.cleanup();
    let here = hsp_deploy::host::platform();
    let elsewhere = if here == "linux-s390x" {
        "linux-ppc64le"
    } else {
        "linux-s390x"
    };
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index
        .add_version_on("1.1.0", site.port, json!({}), elsewhere);
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    let plan = run_ok(&mut site.agent(&["plan"], &env_file));
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains(&format!("add        web: {ID} 1.0.0"))
            && plan.contains(&format!(
                "1.1.0: it has no artifact for this host's platform {here} (it has: {elsewhere})"
            )),
        "{plan}"
    );
    let out = site.apply(&env_file);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deployed 1.0.0, healthy"),
        "{}",
        show(&out)
    );
    site.wait_serving("1.0.0");
    site.assert_status(&env_file, "1.0.0");
}

/// A deployed release yanked since keeps running; `plan` and `status` say it
/// is yanked, why, and the newest release that could replace it (or none).
#[test]
fn a_deployed_release_that_is_yanked_shows_in_plan_and_status() {
    let mut site = Site::new("yank");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    site.apply(&env_file);
    site.wait_serving("1.0.0");
    let status = site.status(&env_file);
    assert!(status["services"][0]["yanked"].is_null(), "{status:#}");

    // Yanked, and nothing replaces it: kept, and said so.
    site.index.yank("1.0.0", "leaks sessions");
    site.index.build();
    let plan = run_ok(&mut site.agent(&["plan"], &env_file));
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains("yanked: 1.0.0 is yanked (leaks sessions); no allowed replacement"),
        "{plan}"
    );
    site.apply(&env_file);
    let status = site.status(&env_file);
    let y = &status["services"][0]["yanked"];
    assert_eq!(
        (y["version"].as_str(), y["reason"].as_str()),
        (Some("1.0.0"), Some("leaks sessions")),
        "{status:#}"
    );
    assert!(y["replacement"].is_null(), "{status:#}");

    // A major release appears, outside the update mode (`minor`): named as the
    // replacement with why the plan does not move to it.
    site.index.add_version("2.0.0", site.port, json!({}));
    site.index.build();
    let plan = run_ok(&mut site.agent(&["plan"], &env_file));
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains("yanked: 1.0.0 is yanked (leaks sessions); newest allowed replacement: 2.0.0 (not chosen: 1.0.0 is deployed and update mode `minor`"),
        "{plan}"
    );
    site.apply(&env_file);
    let status = site.status(&env_file);
    assert_eq!(
        status["services"][0]["yanked"]["replacement"], "2.0.0",
        "{status:#}"
    );
    let text = site.agent(&["status"], &env_file).output().unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout)
            .contains("yanked: 1.0.0 (leaks sessions); newest allowed replacement: 2.0.0"),
        "{}",
        show(&text)
    );
    site.wait_serving("1.0.0");
}

/// The environment's `index` must name the index and root the state
/// directory was set up with: a disagreement is an error at the field's
/// position saying which to change; `--index` overrides the location.
#[test]
fn an_environment_index_that_disagrees_with_the_state_is_an_error() {
    let mut site = Site::new("idx");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    run_ok(&mut site.agent(&["plan"], &env_file));

    let mut env: Json = serde_json::from_slice(&std::fs::read(&env_file).unwrap()).unwrap();
    let good = env.clone();
    let elsewhere = site.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    env["index"]["url"] = elsewhere.display().to_string().into();
    hsp_test_support::fs::write_json(&env_file, &env);
    let out = site.agent(&["plan"], &env_file).output().unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:", env_file.display()))
            && stderr.contains(": index.url: ")
            && stderr.contains("is not the index the state directory")
            && stderr.contains("hint: change index.url to"),
        "{stderr}"
    );
    // The same for apply, which changes nothing; --index overrides the location.
    let out = site.agent(&["apply"], &env_file).output().unwrap();
    assert!(
        !out.status.success() && site.pids().is_empty(),
        "{}",
        show(&out)
    );
    run_ok(
        site.agent(&["plan"], &env_file)
            .arg("--index")
            .arg(site.index.out()),
    );

    // A root that is not the one `init` trusted.
    let mut env = good;
    let other_root = site.path("other-root.json");
    std::fs::write(
        &other_root,
        br#"{"signed": {"_type": "root", "version": 1}, "signatures": []}"#,
    )
    .unwrap();
    env["index"]["root"] = other_root.display().to_string().into();
    hsp_test_support::fs::write_json(&env_file, &env);
    let out = site.agent(&["plan"], &env_file).output().unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(": index.root: ")
            && stderr.contains("is not the root the state directory")
            && stderr.contains("hint: point index.root at the root.json given to `hsp-agent init"),
        "{stderr}"
    );
}

/// The daemon the test started; killed if the test fails before stopping it.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `run` retries a rollout that failed through no fault of the release only
/// after its backoff (polls in between leave it alone, `status` says until
/// when), then deploys it once the port is free.
#[test]
fn run_backs_off_before_retrying_a_port_in_use() {
    let mut site = Site::new("runport");
    let _guard = site.cleanup();
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    site.init();
    let env_file = site.write_env(json!([{"id": ID}]));
    let holder = std::net::TcpListener::bind(("127.0.0.1", site.port)).unwrap();
    let mut daemon = Daemon(
        site.agent(&["run"], &env_file)
            .args(["--interval", "1", "--jitter", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let journal = || -> Json {
        let path = site.path("state").join(&site.env).join("journal.json");
        std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Json::Null)
    };
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "timed out waiting for {what}: {:#}",
                journal()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("a failed attempt", &|| {
        journal()["instances"]["web"]["retry"]["attempts"] == 1
    });
    let retry = journal()["instances"]["web"]["retry"].clone();
    assert!(
        retry["cause"]
            .as_str()
            .is_some_and(|c| c.contains(&format!("port {} on 127.0.0.1", site.port))),
        "{retry:#}"
    );
    // Later polls wait for the backoff: no second attempt, and they say so.
    let first_poll = journal()["last_poll"].clone();
    wait_for("three more polls", &|| {
        let j = journal();
        j["last_poll"] != first_poll
            && j["instances"]["web"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("skipped: retrying 1.0.0 after"))
    });
    let status = site.status(&env_file);
    let s = &status["services"][0];
    assert_eq!(s["retry"]["attempts"], 1, "{status:#}");
    let time = |v: &Json| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default()).ok();
    assert!(
        time(&s["retry"]["next_retry"]).is_some()
            && time(&s["retry"]["next_retry"]) == time(&retry["next"]),
        "{status:#}"
    );
    assert_eq!(s["bad_versions"], json!({}), "{status:#}");

    // Port freed: the next poll after the backoff deploys it.
    drop(holder);
    wait_for("the deploy after the backoff", &|| {
        get(site.port, "/version").as_deref() == Some("1.0.0")
    });
    site.wait_serving("1.0.0");
    wait_for("the retry cleared", &|| {
        journal()["instances"]["web"]["retry"].is_null()
    });
    let pid = daemon.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    while daemon.0.try_wait().unwrap().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the daemon ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
