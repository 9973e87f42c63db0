//! `hsp-agent tuf` against repositories made with python-tuf's Metadata API
//! (`tests/tuf_attacks/scenarios.py`), served on 127.0.0.1: good repositories
//! are accepted; rollback, freeze, mix-and-match, endless data, bad root
//! chains, duplicate-key thresholds and delegation abuse are rejected with
//! exit 1 and the trusted metadata left byte for byte as it was; fast-forward
//! attacks are recovered from after a key rotation.

use hsp_test_support::fs::tree;
use hsp_test_support::tuf::*;
use hsp_test_support::{s, show};

/// Builds scenario `name` with python-tuf and runs its plan.
fn run_scenario(name: &str) {
    let sc = Scenario::build(name);
    let server = Server::start(&sc.stage(0, ""));
    let md = sc.dir("metadata");
    let tg = sc.dir("targets");
    let init = agent(
        ["tuf", "--metadata-dir", s(&md), "init", s(&sc.root())],
        None,
    );
    assert!(init.status.success(), "{name}: init: {}", show(&init));

    for (i, step) in sc.steps.iter().enumerate() {
        let stage = step["stage"].as_u64().unwrap();
        let expect = step["expect"].as_i64().unwrap() as i32;
        let why = step["why"].as_str().unwrap_or("");
        let ctx = format!("{name} step {i} (stage {stage}, {step}): {why}");
        server.set_root(&sc.stage(stage, ""));
        server.take_log();
        let (md_before, tg_before) = (tree(&md), tree(&tg));

        let metadata_url = format!("{}/metadata", server.url);
        let mut args = vec![
            "tuf".to_string(),
            "--metadata-dir".into(),
            s(&md).into(),
            "--metadata-url".into(),
            metadata_url,
        ];
        let target = step["target"].as_str();
        match step["cmd"].as_str().unwrap() {
            "refresh" => args.push("refresh".into()),
            "download" => {
                args.extend(["--target-name".into(), target.unwrap().into()]);
                args.extend([
                    "--target-base-url".into(),
                    format!("{}/targets", server.url),
                ]);
                args.extend(["--target-dir".into(), s(&tg).into(), "download".into()]);
            }
            other => panic!("{ctx}: unknown command {other}"),
        }
        let o = agent(&args, step["faketime"].as_str());
        let hits = server.take_log();
        assert_eq!(
            o.status.code(),
            Some(expect),
            "{ctx}\n{}\nrequests: {hits:?}",
            show(&o)
        );

        if expect != 0 {
            assert_unchanged_but_persisted(&ctx, step, &md, md_before);
            assert!(
                tree(&tg) == tg_before,
                "{ctx}: a rejected download changed the target dir"
            );
            continue;
        }
        assert_accepted_state(&ctx, step, &md, &tg);
        if let Some(expected) = expected_fetches(step) {
            let fetched: Vec<&str> = hits
                .iter()
                .filter(|h| h.status == 200)
                .map(|h| h.path.as_str())
                .collect();
            assert_eq!(fetched, expected, "{ctx}: files downloaded");
        }
        if step["cached"].as_bool() == Some(true) {
            let fetched: Vec<_> = hits
                .iter()
                .filter(|h| h.path.starts_with("/targets/"))
                .collect();
            assert!(
                fetched.is_empty(),
                "{ctx}: a cached target was downloaded again: {fetched:?}"
            );
        }
        // Every file in the metadata dir is trusted metadata under a non-versioned name.
        for file in tree(&md).keys() {
            let versioned = file
                .split('.')
                .next()
                .is_some_and(|p| p.parse::<u64>().is_ok());
            assert!(
                !versioned && !file.contains(".tmp."),
                "{ctx}: unexpected file {file}"
            );
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        const SCENARIOS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_scenario(stringify!($name));
            }
        )*
    };
}

scenarios!(
    good,
    no_consistent_snapshot,
    no_meta_hashes,
    timestamp_rollback,
    snapshot_rollback,
    targets_rollback,
    delegated_rollback,
    snapshot_drops_role,
    expired_root,
    expired_timestamp,
    expired_snapshot,
    expired_targets,
    expired_acme,
    freeze,
    mix_and_match_snapshot,
    mix_and_match_targets,
    targets_version_mismatch,
    wrong_target_hash,
    endless_target,
    endless_timestamp,
    endless_snapshot,
    root_rotation_chain,
    root_rotation_without_old_keys,
    root_rotation_without_new_keys,
    root_persisted_when_timestamp_fails,
    root_chain_partly_valid,
    root_version_skip,
    root_chain_cap,
    duplicate_signatures,
    duplicate_key_ids,
    threshold_two_keys,
    delegation_path_abuse,
    delegation_path_patterns,
    canonical_json_edge_cases,
    delegation_cycle_and_chain_cap,
    hash_bins,
    terminating_delegation,
    nonterminating_delegation,
    delegation_wrong_key,
    fast_forward_timestamp_recovery,
    fast_forward_snapshot_recovery,
    fast_forward_without_rotation,
);

#[test]
fn every_python_scenario_has_a_test() {
    assert_eq!(
        Scenario::names(),
        SCENARIOS,
        "tests/tuf_attacks/scenarios.py and this file list different scenarios"
    );
}

#[test]
fn folder_and_file_url_sources_work_like_http() {
    let sc = Scenario::build("good");
    let stage = sc.stage(0, "");
    for (i, base) in [s(&stage).to_string(), format!("file://{}", s(&stage))]
        .iter()
        .enumerate()
    {
        let md = sc.dir(&format!("md{i}"));
        let tg = sc.dir(&format!("tg{i}"));
        let o = agent(
            ["tuf", "--metadata-dir", s(&md), "init", s(&sc.root())],
            None,
        );
        assert!(o.status.success(), "{}", show(&o));
        let args = [
            "tuf",
            "--metadata-dir",
            s(&md),
            "--metadata-url",
            &format!("{base}/metadata"),
            "--target-name",
            "services/acme/app.json",
            "--target-base-url",
            &format!("{base}/targets"),
            "--target-dir",
            s(&tg),
            "download",
        ];
        let o = agent(args, None);
        assert!(o.status.success(), "{base}: {}", show(&o));
        assert_eq!(
            std::fs::read(tg.join("services%2Facme%2Fapp.json")).unwrap(),
            b"{\"app\": 1}\n"
        );
        assert_eq!(version_of(&md, "acme"), 1);
    }
}

#[test]
fn an_idle_poll_is_a_conditional_get_with_no_body() {
    let sc = Scenario::build("good");
    let server = Server::start(&sc.stage(0, ""));
    let md = sc.dir("md");
    agent(
        ["tuf", "--metadata-dir", s(&md), "init", s(&sc.root())],
        None,
    );
    let url = format!("{}/metadata", server.url);
    let refresh = || {
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
        assert!(o.status.success(), "{}", show(&o));
        server.take_log()
    };
    let first = refresh();
    assert!(
        first.iter().any(|h| h.path == "/metadata/1.snapshot.json"),
        "{first:?}"
    );
    let idle = refresh();
    let paths: Vec<(&str, u16)> = idle.iter().map(|h| (h.path.as_str(), h.status)).collect();
    assert_eq!(
        paths,
        [
            ("/metadata/2.root.json", 404),
            ("/metadata/timestamp.json", 304)
        ]
    );
    assert_eq!(
        idle.iter()
            .filter(|h| h.status != 404)
            .map(|h| h.bytes)
            .sum::<u64>(),
        0
    );
    // A changed timestamp is fetched again (the validator no longer matches).
    let ts = sc.stage(0, "metadata/timestamp.json");
    let bytes = std::fs::read(&ts).unwrap();
    std::fs::write(&ts, b"{}").unwrap();
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
    std::fs::write(&ts, bytes).unwrap();
}
