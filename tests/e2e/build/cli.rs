//! `hsp init`, `keygen`, `sign`, `build`, `root` with the real binary: files and
//! modes, determinism, incremental rebuilds equal to clean builds, atomic
//! failure, errors that name the file and the fix, publisher key rotation and
//! revocation, multi-holder root signing.

use std::collections::BTreeMap;

use hsp_test_support::fs::tree;
use hsp_test_support::registry::*;
use hsp_test_support::{mode, s};
use hsp_tuf::{self as tuf, Root, Signed};

#[test]
fn init_writes_a_repo_and_0600_private_keys_only_in_keydir() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, keys) = (tmp.path().join("reg"), tmp.path().join("keys"));
    hsp_ok([
        "init",
        s(&repo),
        "--keys",
        s(&keys),
        "--root-keys",
        "3",
        "--root-threshold",
        "2",
    ]);
    for f in [
        "registry.json",
        "interfaces/fhir.json",
        "interfaces/smtp.json",
        "keys/1.root.json",
    ] {
        assert!(repo.join(f).is_file(), "{f}");
    }
    assert!(repo.join("publishers").is_dir());
    assert_eq!(mode(&keys), 0o700);
    for k in [
        "root-1",
        "root-2",
        "root-3",
        "targets",
        "snapshot",
        "timestamp",
    ] {
        assert_eq!(mode(&keys.join(format!("{k}.key"))), 0o600, "{k}");
        assert!(keys.join(format!("{k}.key.pub")).is_file(), "{k}");
    }
    // No private key material in the repo.
    for (path, bytes) in tree(&repo) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("\"private\""),
            "{path}"
        );
    }
    let root =
        Signed::<Root>::from_bytes(std::fs::read(repo.join("keys/1.root.json")).unwrap()).unwrap();
    assert_eq!(root.signed.roles["root"].threshold, 2);
    assert_eq!(root.signatures.len(), 3);
    tuf::verify_root(root.clone(), &root.signed).unwrap();
    // The new repo passes `hsp check`, and a second init refuses to touch it.
    hsp_ok(["check", s(&repo)]);
    let err = hsp_fails(["init", s(&repo), "--keys", s(&tmp.path().join("k2"))]);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn keygen_writes_a_pair_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("me.key");
    let o = hsp(["keygen", "--out", s(&key)]);
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    let id = stdout
        .lines()
        .next()
        .unwrap()
        .strip_prefix("keyid: ")
        .unwrap()
        .to_string();
    assert_eq!(mode(&key), 0o600);
    let public = hsp_keys::read_public(&tmp.path().join("me.key.pub")).unwrap();
    assert_eq!(tuf::key_id(&public).as_str(), id);
    let before = std::fs::read(&key).unwrap();
    let err = hsp_fails(["keygen", "--out", s(&key)]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn same_inputs_keys_and_time_give_byte_identical_output() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = hsp_test_support::root().join("examples/registry");
    let now = "2026-11-26T00:00:00Z";
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        hsp_ok([
            "build",
            s(&repo),
            "--dev-keys",
            "--out",
            s(out),
            "--now",
            now,
        ]);
    }
    let (ta, tb) = (tree(&a), tree(&b));
    assert!(ta.len() > 50);
    assert!(ta == tb, "two dev builds differ");

    let f = Fixture::new();
    let (c, d) = (f.tmp.path().join("c"), f.tmp.path().join("d"));
    f.build(&c, &["--now", now]);
    f.build(&d, &["--now", now]);
    assert!(tree(&c) == tree(&d), "two keyed builds differ");
}

/// The versions the snapshot of the build in `tree` lists, by role name.
fn role_versions(tree: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, u64> {
    let timestamp: serde_json::Value =
        serde_json::from_slice(&tree["metadata/timestamp.json"]).unwrap();
    let v = timestamp["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let snapshot: serde_json::Value =
        serde_json::from_slice(&tree[&format!("metadata/{v}.snapshot.json")]).unwrap();
    snapshot["signed"]["meta"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(file, m)| {
            let name = file.strip_suffix(".json").unwrap().to_string();
            (name, m["version"].as_u64().unwrap())
        })
        .collect()
}

/// A role's signed content without `version` and `expires`.
fn role_content(tree: &BTreeMap<String, Vec<u8>>, name: &str, version: u64) -> serde_json::Value {
    let path = format!("metadata/{version}.{name}.json");
    let file = tree.get(&path).unwrap_or_else(|| panic!("{path} missing"));
    let mut v: serde_json::Value = serde_json::from_slice(file).unwrap();
    let signed = v["signed"].as_object_mut().unwrap();
    signed.remove("version");
    signed.remove("expires");
    v["signed"].take()
}

#[test]
fn rebuild_after_one_change_serves_what_a_clean_build_serves_and_keeps_unchanged_roles() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    let (first_v, second_v) = (1795651200, 1795654800); // Unix seconds of --now
    f.build(&out, &["--now", "2026-11-26T00:00:00Z"]);
    let first = tree(&out);
    let name = "axllent";
    let doc = f.a_document(name);
    let text = std::fs::read_to_string(&doc).unwrap();
    // The yank shows on the website and changes the API files (only a yank
    // may change a published version).
    let changed = text.replacen(
        "\"summary\": \"",
        "\"yanked\": \"Changed: withdrawn for a test\", \"summary\": \"",
        1,
    );
    assert_ne!(text, changed);
    std::fs::write(&doc, changed).unwrap();
    f.sign(name);
    let later = "2026-11-26T01:00:00Z";
    let stderr = f.build(&out, &["--now", later]);
    assert!(stderr.contains("reused"), "{stderr}");
    let clean = f.tmp.path().join("clean");
    f.build(&clean, &["--now", later]);
    let (inc, clean) = (tree(&out), tree(&clean));

    // Every target (documents and API files, content-addressed) and root are
    // the same bytes as a clean build's.
    for (path, bytes) in clean
        .iter()
        .filter(|(p, _)| p.starts_with("targets/") || p.ends_with("root.json"))
    {
        assert!(
            inc.get(path) == Some(bytes),
            "{path} differs from a clean build"
        );
    }
    // Every role has the same content as in the clean build; a role whose
    // content did not change since the first build keeps its version (clients
    // download nothing for it), the others are at the new version.
    let (v1, v2, vc) = (
        role_versions(&first),
        role_versions(&inc),
        role_versions(&clean),
    );
    assert_eq!(v2.keys().collect::<Vec<_>>(), vc.keys().collect::<Vec<_>>());
    assert!(v2.contains_key("hsp-api") && v2.keys().any(|r| r.starts_with("hsp-api-")));
    let mut kept = Vec::new();
    for (role, &version) in &v2 {
        assert_eq!(
            role_content(&inc, role, version),
            role_content(&clean, role, vc[role]),
            "{role}: content differs from a clean build"
        );
        let unchanged = v1.get(role).is_some_and(|&old| {
            role_content(&first, role, old) == role_content(&inc, role, version)
        });
        if unchanged && !f.publishers().contains(role) {
            assert_eq!(version, v1[role], "{role} is unchanged but was re-signed");
            kept.push(role.as_str());
        } else if !unchanged {
            assert!(
                version > v1.get(role).copied().unwrap_or(0),
                "{role}: version not bumped"
            );
        }
    }
    assert!(
        kept.contains(&"targets") && kept.contains(&"hsp-api"),
        "kept: {kept:?}"
    );
    assert!(
        v2[name] > v1[name],
        "the re-signed publisher role was not bumped"
    );
    assert_eq!(v2["targets"], first_v);

    // What else is there is the previous build's versioned metadata and
    // content-addressed targets, kept for clients mid-update.
    for path in inc.keys().filter(|p| !clean.contains_key(*p)) {
        let versioned = path.starts_with("metadata/")
            && path
                .split('/')
                .nth(1)
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .parse::<u64>()
                .is_ok();
        assert!(
            versioned || path.starts_with("targets/"),
            "unexpected leftover {path}"
        );
    }
    // A third build keeps what the second referenced and removes the first's.
    let changed_bin = v2
        .iter()
        .find(|(r, &v)| r.starts_with("hsp-api-") && v == second_v)
        .map(|(r, _)| r.clone())
        .expect("the bin holding the changed API files was re-signed");
    let first_bin = format!("metadata/{first_v}.{changed_bin}.json");
    assert!(inc.contains_key(&first_bin));
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replacen("Changed: ", "Changed again: ", 1)).unwrap();
    f.sign(name);
    let stderr = f.build(&out, &["--now", "2026-11-26T02:00:00Z"]);
    assert!(!stderr.contains(" 0 old removed"), "{stderr}");
    let third = tree(&out);
    assert!(
        !third.contains_key(&first_bin),
        "the first build's {changed_bin} stayed"
    );
    assert!(!third.contains_key(&format!("metadata/{first_v}.snapshot.json")));
    assert!(third.contains_key(&format!("metadata/{first_v}.targets.json")));
    assert!(third.contains_key("metadata/1.root.json"));
    for (path, _) in inc.iter().filter(|(p, _)| {
        p.starts_with(&format!("metadata/{second_v}.")) || p.starts_with("targets/")
    }) {
        if clean.contains_key(path) {
            assert!(
                third.contains_key(path),
                "the previous build's {path} was removed"
            );
        }
    }
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    f.build(&out, &["--now", "2026-11-26T00:00:00Z"]);
    let before = tree(&out);
    let doc = f.a_document("mariadb");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replacen("\"name\": \"", "\"name\": \"X", 1)).unwrap();
    let err = f.build_fails(&out, &["--now", "2026-11-26T01:00:00Z"]);
    assert!(
        err.contains("changed after publisher mariadb signed it"),
        "{err}"
    );
    assert!(tree(&out) == before, "a failed build changed OUT");
    std::fs::write(&doc, text).unwrap();
    // A failure after signing (a broken website template) also leaves OUT as it was.
    let tpl = f.repo.join("tpl");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(tpl.join("home.html"), "{% if %}").unwrap();
    let config = f.repo.join("registry.json");
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["site"]["templates"] = "tpl".into();
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let err = f.build_fails(&out, &["--now", "2026-11-26T02:00:00Z"]);
    assert!(err.contains("website"), "{err}");
    assert!(
        tree(&out) == before,
        "a build failing in the website changed OUT"
    );
    // A first build that fails (here in the website, after every document
    // and API file was written into its staging folder) creates nothing.
    let fresh = f.tmp.path().join("fresh");
    f.build_fails(&fresh, &[]);
    assert!(!fresh.exists());
    let siblings: Vec<_> = std::fs::read_dir(f.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("hsp-"))
        .collect();
    assert!(siblings.is_empty(), "staging left behind: {siblings:?}");
}

/// Each case breaks a fresh fixture and expects `hsp build` to fail naming the
/// file and the fix.
#[test]
fn build_errors_name_the_file_and_the_fix() {
    type Breaker = fn(&Fixture);
    let cases: Vec<(&str, Breaker, Vec<&str>)> = vec![
        (
            "missing publisher signature",
            |f| std::fs::remove_file(f.publisher_dir("keycloak").join("keycloak.json")).unwrap(),
            vec![
                "publishers/keycloak/services/org.keycloak.server/26.0.7.json: not signed",
                "(publishers/keycloak/keycloak.json is missing)",
                "hsp sign --key KEY publishers/keycloak",
            ],
        ),
        (
            "document changed after signing",
            |f| {
                let doc = f.a_document("openemr");
                let t = std::fs::read_to_string(&doc).unwrap();
                std::fs::write(&doc, t.replacen("\"summary\": \"", "\"summary\": \"x", 1)).unwrap();
            },
            vec![
                "publishers/openemr/services/",
                "changed after publisher openemr signed it",
                "hsp sign",
            ],
        ),
        (
            "bad signature bytes",
            |f| {
                let p = f.publisher_dir("axllent").join("axllent.json");
                let t = std::fs::read_to_string(&p).unwrap();
                let i = t.find("\"sig\":\"").unwrap() + 7;
                let mut b = t.into_bytes();
                b[i] = if b[i] == b'0' { b'1' } else { b'0' };
                std::fs::write(&p, b).unwrap();
            },
            vec![
                "publishers/axllent/axllent.json: 0 valid signature(s)",
                "changed after signing",
                "hsp sign",
            ],
        ),
        (
            "expired publisher metadata",
            |f| {
                let key = &f.publisher_keys["mariadb"];
                hsp_ok([
                    "sign",
                    "--key",
                    s(key),
                    s(&f.publisher_dir("mariadb")),
                    "--now",
                    "2020-01-01T00:00:00Z",
                    "--expires-days",
                    "1",
                ]);
            },
            vec![
                "publishers/mariadb/mariadb.json: expired at 2020-01-02",
                "renews it",
            ],
        ),
        (
            "unknown (revoked) key",
            |f| {
                let other = f.tmp.path().join("other.key");
                hsp_ok(["keygen", "--out", s(&other)]);
                f.set_publisher_keys("hapifhir", &[&other]);
            },
            vec![
                "publishers/hapifhir/hapifhir.json",
                "unknown key(s)",
                "does not list",
                "revoked",
            ],
        ),
        (
            "document outside the publisher's namespace",
            |f| {
                let from = f.a_document("openemr");
                let to = f
                    .publisher_dir("openemr")
                    .join("services/org.keycloak.evil/1.0.0.json");
                let doc: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(from).unwrap()).unwrap();
                let mut doc = doc.as_object().unwrap().clone();
                doc.insert("id".into(), "org.keycloak.evil".into());
                doc.insert("version".into(), "1.0.0".into());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::write(&to, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
                f.sign("openemr");
            },
            vec![
                "publishers/openemr/services/org.keycloak.evil/1.0.0.json",
                "may not publish `org.keycloak.evil`",
                "namespaces",
            ],
        ),
    ];
    for (name, break_it, expected) in cases {
        let f = Fixture::new();
        break_it(&f);
        let out = f.tmp.path().join("out");
        let err = f.build_fails(&out, &["--no-site"]);
        for e in expected {
            assert!(err.contains(e), "{name}: expected {e:?} in:\n{err}");
        }
        assert!(!out.exists(), "{name}: published anyway");
    }
}

#[test]
fn publisher_key_rotation_and_revocation() {
    let mut f = Fixture::new();
    let out = f.tmp.path().join("out");
    let old = f.publisher_keys["keycloak"].clone();
    let new = f.tmp.path().join("keycloak-2.key");
    hsp_ok(["keygen", "--out", s(&new)]);
    // Signing with a key publisher.json does not list is refused up front.
    let err = hsp_fails(["sign", "--key", s(&new), s(&f.publisher_dir("keycloak"))]);
    assert!(err.contains("is not listed in"), "{err}");
    // Rotation: list both, sign with the new key; then drop the old one.
    f.set_publisher_keys("keycloak", &[&old, &new]);
    f.publisher_keys.insert("keycloak".into(), new.clone());
    f.sign("keycloak");
    f.build(&out, &["--no-site", "--now", "2026-11-26T00:00:00Z"]);
    f.set_publisher_keys("keycloak", &[&new]);
    f.build(&out, &["--no-site", "--now", "2026-11-26T00:01:00Z"]);
    // Revocation: metadata signed by a key no longer listed is refused.
    let third = f.tmp.path().join("keycloak-3.key");
    hsp_ok(["keygen", "--out", s(&third)]);
    f.set_publisher_keys("keycloak", &[&third]);
    let err = f.build_fails(&out, &["--no-site", "--now", "2026-11-26T00:02:00Z"]);
    assert!(err.contains("unknown key(s)"), "{err}");
}

#[test]
fn a_root_threshold_of_two_needs_two_holders_to_sign_the_next_root() {
    let tmp = tempfile::tempdir().unwrap();
    let (init, keys) = (tmp.path().join("init"), tmp.path().join("keys"));
    hsp_ok([
        "init",
        s(&init),
        "--keys",
        s(&keys),
        "--root-keys",
        "2",
        "--root-threshold",
        "2",
    ]);
    // Holder 1 has only root-1 (and the online keys).
    let holder1 = tmp.path().join("holder1");
    std::fs::create_dir_all(&holder1).unwrap();
    for k in ["root-1", "targets", "snapshot", "timestamp"] {
        for ext in ["key", "key.pub"] {
            let name = format!("{k}.{ext}");
            std::fs::copy(keys.join(&name), holder1.join(&name)).unwrap();
        }
    }
    let o = hsp(["root", "rotate", s(&init), "--keys", s(&holder1)]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs more signatures"));
    let out = tmp.path().join("out");
    let err = hsp_fails([
        "build",
        s(&init),
        "--keys",
        s(&holder1),
        "--out",
        s(&out),
        "--no-site",
    ]);
    assert!(
        err.contains("keys/2.root.json: not signed by enough root keys"),
        "{err}"
    );
    let stderr = hsp_ok([
        "root",
        "sign",
        s(&init),
        "--key",
        s(&keys.join("root-2.key")),
    ]);
    assert!(stderr.contains("signed by both thresholds"), "{stderr}");
    hsp_ok([
        "build",
        s(&init),
        "--keys",
        s(&holder1),
        "--out",
        s(&out),
        "--no-site",
    ]);
    assert!(out.join("metadata/2.root.json").is_file());
}
