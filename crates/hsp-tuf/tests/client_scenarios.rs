//! The python-tuf scenarios of `e2e::tuf::attacks` (run there with `hsp-agent tuf`), run in one process with
//! ONE `hsp_tuf::client::Updater` kept across all steps, as the agent daemon
//! polls: the updater resumes the previous refresh's verified metadata instead
//! of re-reading it, and must reach exactly the same verdicts, leave the
//! trusted files unchanged on every rejection (but for roots of the chain that
//! verified), trust the same versions and read the same files.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hsp_test_support::fs::tree;
use hsp_test_support::tuf::*;
use hsp_tuf::client::fetch::{DirFetcher, Fetch, Fetched, Stats, Validators};
use hsp_tuf::client::{Limits, UpdateError, Updater};

/// A folder source whose folder the test switches between stages; logs the
/// files it returned a body for.
#[derive(Clone)]
struct Switch(Arc<Mutex<PathBuf>>, Arc<Mutex<Vec<String>>>);

impl Switch {
    fn new(dir: PathBuf) -> Switch {
        Switch(Arc::new(Mutex::new(dir)), Arc::default())
    }
}

impl Fetch for Switch {
    fn fetch(
        &self,
        rel: &str,
        limit: u64,
        cond: Option<&Validators>,
    ) -> Result<Fetched, UpdateError> {
        let got = DirFetcher::new(self.0.lock().unwrap().as_path()).fetch(rel, limit, cond);
        if let Ok(Fetched::Body(..)) = &got {
            self.1.lock().unwrap().push(rel.to_string());
        }
        got
    }
    fn location(&self, rel: &str) -> String {
        DirFetcher::new(self.0.lock().unwrap().as_path()).location(rel)
    }
    fn stats(&self) -> Stats {
        Stats::default()
    }
}

fn run_in_process(name: &str) {
    run_with_limits(name, Limits::default());
}

/// With no delegated role kept in memory between lookups, every lookup reads
/// the roles it needs back from the metadata directory (verifying them
/// again): the same verdicts, and still no role downloaded twice.
#[test]
fn hash_bins_with_no_roles_cached() {
    let limits = Limits {
        cached_roles: 0,
        ..Limits::default()
    };
    run_with_limits("hash_bins", limits.clone());
    run_with_limits("delegated_rollback", limits.clone());
    run_with_limits("nonterminating_delegation", limits);
}

fn run_with_limits(name: &str, limits: Limits) {
    let sc = Scenario::build(name);
    let md = sc.dir("metadata");
    let tg = sc.dir("targets");
    Updater::init(&md, std::fs::read(sc.root()).unwrap()).unwrap();
    let stage = |n: u64, part: &str| sc.stage(n, part);
    let metadata = Switch::new(stage(0, "metadata"));
    let targets = Switch::new(stage(0, "targets"));
    let mut up = Updater::new(&md, Box::new(metadata.clone()))
        .with_targets(Box::new(targets.clone()), &tg)
        .with_limits(limits);

    for (i, step) in sc.steps.iter().enumerate() {
        let n = step["stage"].as_u64().unwrap();
        let ctx = format!("{name} step {i} ({step})");
        *metadata.0.lock().unwrap() = stage(n, "metadata");
        *targets.0.lock().unwrap() = stage(n, "targets");
        let days = step["faketime"].as_str().map(|f| {
            f.trim_start_matches('+')
                .trim_end_matches('d')
                .parse::<i64>()
                .unwrap()
        });
        up.set_time(days.map(|d| chrono::Utc::now() + chrono::Duration::days(d)));
        let before = tree(&md);
        metadata.1.lock().unwrap().clear();
        targets.1.lock().unwrap().clear();
        let result = match step["cmd"].as_str().unwrap() {
            "refresh" => up.refresh(),
            _ => up.refresh().and_then(|()| {
                up.download_target(step["target"].as_str().unwrap(), &tg)
                    .map(|_| ())
            }),
        };
        let expect_ok = step["expect"].as_i64() == Some(0);
        assert_eq!(result.is_ok(), expect_ok, "{ctx}: {result:?}");
        if !expect_ok {
            if step["cmd"] == "refresh" {
                assert_unchanged_but_persisted(&ctx, step, &md, before);
            }
            continue;
        }
        if let Some(expected) = expected_fetches(step) {
            // As over HTTP, except that a folder has no conditional GET: the
            // timestamp is read on every refresh.
            let fetched: Vec<String> = [("/metadata/", &metadata), ("/targets/", &targets)]
                .iter()
                .flat_map(|(base, s)| {
                    s.1.lock()
                        .unwrap()
                        .iter()
                        .map(|r| format!("{base}{r}"))
                        .collect::<Vec<_>>()
                })
                .filter(|p| p != "/metadata/timestamp.json")
                .collect();
            let expected: Vec<&str> = expected
                .into_iter()
                .filter(|p| *p != "/metadata/timestamp.json")
                .collect();
            assert_eq!(fetched, expected, "{ctx}: files read from the repository");
        }
        assert_accepted_state(&ctx, step, &md, &tg);
    }
}

macro_rules! in_process {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            run_in_process(stringify!($name));
        }
    )*};
}

in_process!(
    good,
    no_consistent_snapshot,
    timestamp_rollback,
    snapshot_rollback,
    targets_rollback,
    delegated_rollback,
    snapshot_drops_role,
    expired_timestamp,
    expired_snapshot,
    expired_targets,
    expired_acme,
    freeze,
    mix_and_match_snapshot,
    mix_and_match_targets,
    wrong_target_hash,
    root_rotation_chain,
    root_rotation_without_old_keys,
    delegation_path_abuse,
    delegation_path_patterns,
    canonical_json_edge_cases,
    delegation_cycle_and_chain_cap,
    hash_bins,
    root_persisted_when_timestamp_fails,
    root_chain_partly_valid,
    expired_root,
    fast_forward_timestamp_recovery,
    fast_forward_snapshot_recovery,
    fast_forward_without_rotation,
);
