//! `hsp build` output checked by an independent TUF client: python-tuf's
//! ngclient refreshes it over HTTP and from a plain folder, downloads and
//! verifies every target, rejects any changed byte, and follows root rotation.

use hsp_test_support::fs::{copy_tree, files_under, tree};
use hsp_test_support::registry::*;
use hsp_test_support::s;
use hsp_test_support::tuf::python_tuf;

/// python-tuf's `refresh` of the repository at `repo` over `transport`
/// (`http` or `file`), trusting `root` first.
fn refresh(
    repo: &str,
    transport: &str,
    root: &str,
    targets: &[String],
) -> Result<serde_json::Value, String> {
    let args = [
        "refresh",
        "--repo",
        repo,
        "--transport",
        transport,
        "--bootstrap",
        root,
    ];
    python_tuf(&args, targets)
}

#[test]
fn python_tuf_refreshes_a_dev_build_over_http_and_from_a_copied_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    dev_build(&examples_registry(), &out, &[]);
    // A plain copy, as on a USB stick.
    let copy = tmp.path().join("copy");
    copy_tree(&out, &copy);
    let targets = expected_targets(&hsp_test_support::root().join("examples/registry"));
    assert!(targets.len() > 30, "{targets:?}");
    let root = out.join("metadata/1.root.json");
    for (dir, transport) in [(&out, "http"), (&copy, "file")] {
        let result = refresh(s(dir), transport, s(&root), &targets)
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
        assert_eq!(result["downloaded"], targets.len(), "{transport}");
        assert_eq!(result["root_version"], 1, "{transport}");
    }
}

#[test]
fn python_tuf_rejects_any_changed_byte_of_metadata_or_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    dev_build(&examples_registry(), &out, &["--no-site"]);
    let targets = expected_targets(&hsp_test_support::root().join("examples/registry"));
    let result = python_tuf(&["flip", "--repo", s(&out), "--positions", "3"], &targets).unwrap();
    let files = tree(&out).len();
    assert_eq!(
        result["files"], files,
        "every metadata and target file is changed"
    );
    assert!(result["checked"].as_u64().unwrap() >= 3 * files as u64 - 6);
    assert_eq!(
        result["survived"],
        serde_json::json!([]),
        "changes python-tuf accepted"
    );
}

#[test]
fn python_tuf_accepts_a_production_build_and_resigned_timestamps() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    f.build(&out, &["--no-site"]);
    let targets = expected_targets(&f.repo);
    let refresh_http = |out: &std::path::Path| {
        let root = f.repo.join("keys/1.root.json");
        refresh(s(out), "http", s(&root), &targets).unwrap_or_else(|e| panic!("{e}"))
    };
    refresh_http(&out);

    let version = |out: &std::path::Path| -> u64 {
        let ts: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("metadata/timestamp.json")).unwrap())
                .unwrap();
        ts["signed"]["version"].as_u64().unwrap()
    };
    let snapshots = |out: &std::path::Path| {
        files_under(&out.join("metadata"))
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".snapshot.json"))
            .count()
    };
    let v0 = version(&out);
    let now = chrono_now();
    // An hour later: only the timestamp is re-signed.
    hsp_ok([
        "timestamp",
        s(&out),
        "--keys",
        s(&f.keys),
        "--repo",
        s(&f.repo),
        "--now",
        &(now + 3600).to_string(),
    ]);
    assert!(version(&out) > v0);
    assert_eq!(snapshots(&out), 1);
    refresh_http(&out);
    // Six and a half days later the 7-day snapshot would expire before the new
    // timestamp: it is re-signed too.
    let later = (now + 6 * 86400 + 43200).to_string();
    hsp_ok([
        "timestamp",
        s(&out),
        "--keys",
        s(&f.keys),
        "--repo",
        s(&f.repo),
        "--now",
        &later,
    ]);
    assert_eq!(snapshots(&out), 2);
    refresh_http(&out);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn python_tuf_holding_root_v1_follows_rotation_to_root_v3() {
    let f = Fixture::new();
    let v1 = f.repo.join("keys/1.root.json");
    let mut old = f.keys.clone();
    for n in 2..=3 {
        let new = f.tmp.path().join(format!("keys-v{n}"));
        std::fs::create_dir_all(&new).unwrap();
        for role in ["root", "targets", "snapshot", "timestamp"] {
            hsp_ok(["keygen", "--out", s(&new.join(format!("{role}.key")))]);
        }
        let stderr = hsp_ok([
            "root",
            "rotate",
            s(&f.repo),
            "--keys",
            s(&old),
            "--new-keys",
            s(&new),
        ]);
        assert!(stderr.contains("signed by both thresholds"), "{stderr}");
        old = new;
    }
    // The old online keys no longer sign.
    let out = f.tmp.path().join("out");
    let stderr = f.build_fails(&out, &["--no-site"]);
    assert!(stderr.contains("targets key(s) root v3 needs"), "{stderr}");
    hsp_ok([
        "build",
        s(&f.repo),
        "--keys",
        s(&old),
        "--out",
        s(&out),
        "--no-site",
    ]);
    for n in 1..=3 {
        assert!(out.join(format!("metadata/{n}.root.json")).is_file());
    }
    let targets = expected_targets(&f.repo);
    let result = refresh(s(&out), "file", s(&v1), &targets).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result["root_version"], 3);
    assert_eq!(result["downloaded"], targets.len());
}

/// A registry signed with ECDSA P-256 (`hsp init --key-type ecdsa-p256`),
/// publishers alternating ECDSA and ed25519, one of them needing both (its
/// threshold 2 of an ed25519 and an ECDSA key): python-tuf and the agent's
/// client both verify it and download every target.
#[test]
fn python_tuf_and_the_agent_verify_a_build_signed_with_mixed_key_types() {
    let f = Fixture::with_key_types("ecdsa-p256", &["ecdsa-p256", "ed25519"]);
    let both = f.publishers()[0].clone();
    let ed = f.tmp.path().join("pkeys/both-ed25519.key");
    hsp_ok(["keygen", "--out", s(&ed), "--type", "ed25519"]);
    let ecdsa = f.publisher_keys[&both].clone();
    f.set_publisher_keys(&both, &[&ecdsa, &ed]);
    let record = f.publisher_dir(&both).join("publisher.json");
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    p["threshold"] = 2.into();
    std::fs::write(&record, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
    // One signature of two: `hsp check` says so, as the build would.
    let o = hsp(["check", s(&f.repo)]);
    let err = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("error[E101]") && err.contains("threshold 2"),
        "{err}"
    );
    hsp_ok([
        "sign",
        "--key",
        s(&ecdsa),
        "--key",
        s(&ed),
        s(&f.publisher_dir(&both)),
    ]);
    hsp_ok(["check", "--deny-warnings", s(&f.repo)]);

    let out = f.tmp.path().join("out");
    f.build(&out, &["--no-site"]);
    let root = f.repo.join("keys/1.root.json");
    let root_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&root).unwrap()).unwrap();
    let types: std::collections::BTreeSet<&str> = root_json["signed"]["keys"]
        .as_object()
        .unwrap()
        .values()
        .map(|k| k["keytype"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ecdsa"].into(), "{root_json}");
    let targets = expected_targets(&f.repo);
    let result = refresh(s(&out), "http", s(&root), &targets).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result["downloaded"], targets.len());

    let md = f.tmp.path().join("agent-md");
    let tg = f.tmp.path().join("agent-tg");
    let agent = |args: &[&str]| {
        hsp_test_support::run_ok(
            std::process::Command::new(hsp_test_support::bin("hsp-agent"))
                .args(["tuf", "--metadata-dir", s(&md)])
                .args(args),
        )
    };
    agent(&["init", s(&root)]);
    let metadata = format!("{}/metadata", s(&out));
    let target_base = format!("{}/targets", s(&out));
    let mut args = vec![
        "--metadata-url",
        &metadata,
        "--target-base-url",
        &target_base,
        "--target-dir",
        s(&tg),
    ];
    for t in &targets {
        args.extend(["--target-name", t]);
    }
    args.push("download");
    agent(&args);
    assert_eq!(files_under(&tg).len(), targets.len());
}
