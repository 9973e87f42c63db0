//! `hsp-agent` over a real `hsp build --dev-keys examples/registry`: the TUF
//! client refreshes it over HTTP and from a folder, `init` sets up a state
//! directory, and `search` / `show` browse the verified JSON API.

use hsp_test_support::fs::tree;
use hsp_test_support::registry::{dev_build, examples_registry};
use hsp_test_support::tuf::*;
use hsp_test_support::{s, show};
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let o = agent(args, None);
    assert!(o.status.success(), "hsp-agent {args:?}: {}", show(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// Every document of examples/registry: (id, version, parsed JSON).
fn example_documents() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let publishers = hsp_test_support::root().join("examples/registry/publishers");
    for p in std::fs::read_dir(publishers).unwrap().flatten() {
        let Ok(services) = std::fs::read_dir(p.path().join("services")) else {
            continue;
        };
        for svc in services.flatten() {
            for doc in std::fs::read_dir(svc.path()).unwrap().flatten() {
                let v: Value = serde_json::from_slice(&std::fs::read(doc.path()).unwrap()).unwrap();
                out.push((
                    v["id"].as_str().unwrap().into(),
                    v["version"].as_str().unwrap().into(),
                    v,
                ));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

#[test]
fn tuf_client_refreshes_a_dev_build_and_downloads_every_document() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    dev_build(&examples_registry(), &out, &["--no-site"]);
    let server = Server::start(&out);
    let docs = example_documents();
    assert!(docs.len() >= 10);
    for (i, base) in [server.url.clone(), s(&out).to_string()].iter().enumerate() {
        let md = tmp.path().join(format!("md{i}"));
        let tg = tmp.path().join(format!("tg{i}"));
        ok(&[
            "tuf",
            "--metadata-dir",
            s(&md),
            "init",
            s(&out.join("metadata/1.root.json")),
        ]);
        let mut args = vec![
            "tuf".to_string(),
            "--metadata-dir".into(),
            s(&md).into(),
            "--metadata-url".into(),
            format!("{base}/metadata"),
            "--target-base-url".into(),
            format!("{base}/targets"),
            "--target-dir".into(),
            s(&tg).into(),
        ];
        for (id, version, _) in &docs {
            args.extend([
                "--target-name".into(),
                format!("services/{id}/{version}.json"),
            ]);
        }
        args.extend([
            "--target-name".into(),
            "api/catalogue.json".into(),
            "download".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&args);
        for (id, version, doc) in &docs {
            let file = tg.join(target_file_name(&format!("services/{id}/{version}.json")));
            let got: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            assert_eq!(
                &got, doc,
                "{id} {version}: served document differs from the repo's"
            );
        }
        // The publishers' delegated roles were verified and stored under their names.
        let stored = tree(&md);
        for role in [
            "root",
            "timestamp",
            "snapshot",
            "targets",
            "hapifhir",
            "keycloak",
        ] {
            assert!(
                stored.contains_key(&format!("{role}.json")),
                "{base}: {role}.json missing: {:?}",
                stored.keys()
            );
        }
    }
}

#[test]
fn init_search_and_show_browse_the_verified_index() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    dev_build(&examples_registry(), &out, &["--no-site"]);
    let server = Server::start(&out);
    let state = tmp.path().join("state");
    let root = out.join("metadata/1.root.json");
    ok(&[
        "init",
        "--state",
        s(&state),
        "--root",
        s(&root),
        "--index",
        &server.url,
    ]);
    // A second init would silently replace the trust anchor: refused.
    let again = agent(["init", "--state", s(&state), "--root", s(&root)], None);
    assert_eq!(again.status.code(), Some(1), "{}", show(&again));
    assert!(show(&again).contains("--force"), "{}", show(&again));

    let found: Value =
        serde_json::from_str(&ok(&["search", "fhir", "--state", s(&state), "--json"])).unwrap();
    let ids: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"org.hapifhir.server"), "{ids:?}");
    assert!(!ids.contains(&"org.mariadb.server"), "{ids:?}");
    let table = ok(&["search", "FHIR", "server", "--state", s(&state)]);
    assert!(
        table.lines().any(|l| l.starts_with("org.hapifhir.server ")),
        "{table}"
    );

    let service: Value = serde_json::from_str(&ok(&[
        "show",
        "org.hapifhir.server",
        "--state",
        s(&state),
        "--json",
    ]))
    .unwrap();
    let versions: Vec<&str> = service["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = {
        let mut v: Vec<String> = example_documents()
            .into_iter()
            .filter(|d| d.0 == "org.hapifhir.server")
            .map(|d| d.1)
            .collect();
        v.sort_by_key(|s| {
            std::cmp::Reverse(
                s.split('.')
                    .map(|n| n.parse::<u64>().unwrap())
                    .collect::<Vec<_>>(),
            )
        });
        v
    };
    assert_eq!(versions, expected);

    // Lenient version: 7.4 names 7.4.0; the document is the publisher's, verbatim.
    let doc: Value = serde_json::from_str(&ok(&[
        "show",
        "org.hapifhir.server@7.4",
        "--state",
        s(&state),
        "--json",
    ]))
    .unwrap();
    let want = example_documents()
        .into_iter()
        .find(|d| d.0 == "org.hapifhir.server" && d.1 == "7.4.0")
        .unwrap()
        .2;
    assert_eq!(doc, want);
    let human = ok(&["show", "org.hapifhir.server@7.4.0", "--state", s(&state)]);
    assert!(human.contains("requires: db = postgres"), "{human}");

    for (arg, needle) in [
        ("org.nope", "no service"),
        ("org.hapifhir.server@1.2.3", "no version"),
    ] {
        let o = agent(["show", arg, "--state", s(&state)], None);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        assert!(show(&o).contains(needle), "{arg}: {}", show(&o));
    }

    // The same state, pointed at a copy of the index on a folder (air-gapped
    // mirror): works without the server.
    drop(server);
    let listed = ok(&[
        "search",
        "postgres",
        "--state",
        s(&state),
        "--index",
        s(&out),
    ]);
    assert!(listed.contains("org.hsp.community.postgresql"), "{listed}");
    // With the server gone, browsing shows the last verified metadata with a
    // warning that says where the refresh failed (issue 15: sneakernet sites).
    let o = agent(["search", "postgres", "--state", s(&state)], None);
    assert!(o.status.success(), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(
            "warning: the index could not be refreshed; showing the last verified metadata"
        ) && stderr.contains("127.0.0.1"),
        "{}",
        show(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("org.hsp.community.postgresql"));
}

#[test]
fn tampered_build_is_rejected_and_state_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    dev_build(&examples_registry(), &out, &["--no-site"]);
    let md = tmp.path().join("md");
    let url = format!("{}/metadata", s(&out));
    ok(&[
        "tuf",
        "--metadata-dir",
        s(&md),
        "init",
        s(&out.join("metadata/1.root.json")),
    ]);
    ok(&[
        "tuf",
        "--metadata-dir",
        s(&md),
        "--metadata-url",
        &url,
        "refresh",
    ]);
    let before = tree(&md);
    // Flip one byte inside the signed part of the newest targets metadata (a
    // delegation's threshold).
    let targets = std::fs::read_dir(out.join("metadata"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".targets.json"))
        .unwrap();
    let mut bytes = std::fs::read(&targets).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"\"threshold\"")
        .unwrap()
        + 12;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&targets, &bytes).unwrap();
    std::fs::remove_file(md.join("targets.json")).unwrap();
    let o = agent(
        [
            "tuf",
            "--metadata-dir",
            s(&md),
            "--metadata-url",
            &url,
            "refresh",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let mut expected = before;
    expected.remove("targets.json");
    assert!(
        tree(&md) == expected,
        "a failed refresh changed the trusted metadata"
    );
}
