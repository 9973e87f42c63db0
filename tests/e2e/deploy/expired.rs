//! A sneakernet site whose copy of the index expired (issue 15 item 6): the
//! agent runs two days after the index was built (`faketime`, the timestamp
//! lives one day). `search` and `show` browse the last verified metadata
//! with a warning naming the expired role, `status` works, and `plan` and
//! `apply` still refuse expired metadata (TUF's freeze-attack protection)
//! while the deployed service keeps running.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hsp_test_support::deploy::Cleanup;
use hsp_test_support::dev_index::{DevIndex, ID};
use hsp_test_support::{free_port, http_get as get, run_ok, show};
use serde_json::json;

struct Site {
    index: DevIndex,
    dir: tempfile::TempDir,
    env: String,
    port: u16,
}

impl Site {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `hsp-agent ARGS --state S`, under `faketime -f OFFSET` when given.
    fn agent(&self, args: &[&str], faketime: Option<&str>) -> Command {
        let bin = hsp_test_support::bin("hsp-agent");
        let mut c = match faketime {
            Some(offset) => {
                let ft = Path::new("/usr/bin/faketime");
                assert!(ft.exists(), "faketime is missing: run .ci/install first");
                let mut c = Command::new(ft);
                c.arg("-f").arg(offset).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        c.args(args).arg("--state").arg(self.path("state"));
        c
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_expired_index_is_browsed_with_a_warning_but_never_deployed() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = Site {
        index: DevIndex::new(dir.path()),
        dir,
        env: format!("ex{}-host", std::process::id()),
        port: free_port(),
    };
    let _guard = Cleanup(site.path("state").join(&site.env), site.env.clone());
    site.index.add_version("1.0.0", site.port, json!({}));
    site.index.build();
    let out = site.index.out();
    run_ok(&mut site.agent(
        &[
            "init",
            "--root",
            &out.join("metadata/1.root.json").display().to_string(),
            "--index",
            &out.display().to_string(),
        ],
        None,
    ));
    let env_file = site
        .index
        .write_env(&site.env, json!([{"id": ID}]), json!({}));
    let env_arg = env_file.display().to_string();
    run_ok(&mut site.agent(&["apply", &env_arg], None));
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(site.port, "/version").as_deref() != Some("1.0.0") {
        assert!(Instant::now() < deadline, "1.0.0 is not served");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The registry publishes 1.1.0, then the site's copy ages two days: the
    // persisted timestamp and the new one have both expired.
    site.index.add_version("1.1.0", site.port, json!({}));
    site.index.build();
    let later = Some("+2d");
    let metadata = hsp_test_support::fs::tree(&site.path("state/metadata"));

    let warned = |out: &Output, what: &str| {
        assert!(out.status.success(), "{what}\n{}", show(out));
        let e = stderr(out);
        assert!(
            e.contains("warning: the index's timestamp expired at ")
                && e.contains("Z; showing the last verified metadata (refresh: ")
                && e.contains("timestamp.json: expired at"),
            "{what}\n{}",
            show(out)
        );
    };
    let search = site
        .agent(&["search", "apply test"], later)
        .output()
        .unwrap();
    warned(&search, "search");
    let listed = String::from_utf8_lossy(&search.stdout);
    assert!(
        listed.contains(ID) && listed.contains("1.0.0") && !listed.contains("1.1.0"),
        "the last verified catalogue, not the unverified new one: {listed}"
    );
    let shown = site.agent(&["show", ID], later).output().unwrap();
    warned(&shown, "show");
    let versions = String::from_utf8_lossy(&shown.stdout);
    assert!(
        versions.contains("1.0.0") && !versions.contains("1.1.0"),
        "{versions}"
    );
    let document = site
        .agent(&["show", &format!("{ID}@1.0.0"), "--json"], later)
        .output()
        .unwrap();
    warned(&document, "show @1.0.0");
    let status = site
        .agent(&["status", &site.env, "--json"], later)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", show(&status));
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("1.0.0"),
        "{}",
        show(&status)
    );

    // Plans and deployments still refuse expired metadata; nothing stops.
    for cmd in ["plan", "apply"] {
        let out = site.agent(&[cmd, &env_arg], later).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}\n{}", show(&out));
        let e = stderr(&out);
        assert!(
            e.contains("timestamp.json: expired at") && !e.contains("warning:"),
            "{cmd}\n{}",
            show(&out)
        );
        assert_eq!(
            get(site.port, "/version").as_deref(),
            Some("1.0.0"),
            "{cmd}"
        );
    }
    // Browsing wrote nothing: the trusted metadata is as it was.
    assert_eq!(
        hsp_test_support::fs::tree(&site.path("state/metadata")),
        metadata
    );

    // An unreachable index (today): browsed from the last verified metadata,
    // which has not expired; plan refuses.
    let gone = site.path("gone").display().to_string();
    let out = site
        .agent(&["search", "apply test", "--index", &gone], None)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stderr(&out).contains(
            "warning: the index could not be refreshed; showing the last verified metadata"
        ),
        "{}",
        show(&out)
    );
    let out = site
        .agent(&["plan", &env_arg, "--index", &gone], None)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(get(site.port, "/version").as_deref(), Some("1.0.0"));
}
