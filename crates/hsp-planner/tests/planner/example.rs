//! DESIGN.md's worked example planned through the library: the example
//! environment (`examples/environments/care-coordinator-docker.json`) against
//! the example registry folder. The same plan through the real binaries
//! (`hsp build --dev-keys`, `hsp-agent plan` over the verified index) is the
//! end-to-end test `e2e::planner`.

use hsp_planner::{self as planner, Deployed};
use hsp_test_support::planner::{check_worked_example, example_env};
use hsp_test_support::registry::examples_registry;

#[test]
fn worked_example_from_the_registry_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let env = planner::read_environment(&example_env(tmp.path())).unwrap();
    let index = planner::read_registry_dir(&examples_registry()).unwrap();
    let plan = planner::plan(&env.env, &index, &Deployed::default()).unwrap();
    check_worked_example(&plan, &tmp.path().join("secrets"));
    // Planning again from what that plan deployed changes nothing.
    let again = planner::plan(&env.env, &index, &Deployed::from(&plan)).unwrap();
    let actions = planner::actions(Some(&plan), &again);
    assert!(
        actions
            .iter()
            .all(|a| a.to_string().starts_with("keep ") && !a.to_string().contains("reconfigured")),
        "{actions:?}"
    );
}
