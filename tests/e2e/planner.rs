//! DESIGN.md's worked example planned through the real binaries: `hsp build
//! --dev-keys` of the example registry, `hsp-agent init`, `hsp-agent plan` over
//! the verified index (the library half is `hsp-planner`'s
//! `crates/hsp-planner/tests/planner/example.rs`).

use std::process::Command;

use hsp_index::Plan;
use hsp_test_support::planner::{check_worked_example, example_env, point_at_index};
use hsp_test_support::registry::{dev_build, examples_registry};
use hsp_test_support::{bin, s, set_mode, show};

#[test]
fn worked_example_through_the_verified_index() {
    let tmp = tempfile::tempdir().unwrap();
    let env = example_env(tmp.path());
    let out = tmp.path().join("index");
    let repo = examples_registry();
    dev_build(&repo, &out, &["--no-site"]);
    let state = tmp.path().join("state");
    let agent = |args: &[&str]| Command::new(bin("hsp-agent")).args(args).output().unwrap();
    let o = agent(&[
        "init",
        "--state",
        s(&state),
        "--root",
        s(&out.join("metadata/1.root.json")),
        "--index",
        s(&out),
    ]);
    assert!(o.status.success(), "init: {}", show(&o));
    point_at_index(&env, &out);

    let o = agent(&["plan", s(&env), "--state", s(&state), "--json"]);
    assert!(o.status.success(), "plan: {}", show(&o));
    let verified: Plan = serde_json::from_slice(&o.stdout).unwrap();
    check_worked_example(&verified, &tmp.path().join("secrets"));
    // The developer-only registry-folder path gives the same plan.
    let o = agent(&[
        "plan",
        s(&env),
        "--registry",
        s(&repo),
        "--state",
        s(&state),
        "--json",
    ]);
    assert!(o.status.success(), "plan --registry: {}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("UNVERIFIED"));
    let dev: Plan = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(dev, verified);

    // People get the graph, reasons, hidden secrets and actions.
    let o = agent(&["plan", s(&env), "--state", s(&state)]);
    let human = String::from_utf8(o.stdout).unwrap();
    for want in [
        "care-coordinator-db  org.hsp.community.postgresql",
        "(dedicated to care-coordinator)",
        "the environment's preferred provider",
        "smtp -> external hospital-smtp (smtp 1.0.0)",
        "password = <secret>",
        "actions against what is deployed now:",
        "add        care-coordinator: com.acme.care-coordinator",
    ] {
        assert!(human.contains(want), "missing {want:?} in\n{human}");
    }
    assert!(!human.contains("not-a-real-secret"));

    // What is deployed comes from --deployed (or the journal): nothing to do.
    let deployed = tmp.path().join("deployed.json");
    std::fs::write(&deployed, serde_json::to_vec(&verified).unwrap()).unwrap();
    let o = agent(&[
        "plan",
        s(&env),
        "--state",
        s(&state),
        "--deployed",
        s(&deployed),
        "--actions-json",
    ]);
    let actions: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        actions
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["action"] == "keep"),
        "{actions}"
    );

    // A policy that rules out the worked example's licence fails with sentences, exit 1.
    let text_env = std::fs::read_to_string(&env)
        .unwrap()
        .replace("\"LicenseRef-Acme-Commercial\"", "\"MIT\"");
    std::fs::write(&env, text_env).unwrap();
    let o = agent(&["plan", s(&env), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot be planned")
            && err.contains("its licence LicenseRef-Acme-Commercial is not allowed"),
        "{err}"
    );

    // A secret file others can read is refused at load time, with its position.
    set_mode(&tmp.path().join("secrets/keycloak-admin-password"), 0o644);
    let o = agent(&["plan", s(&env), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("env.json:")
            && err.contains("KC_BOOTSTRAP_ADMIN_PASSWORD.secret_file")
            && err.contains("chmod 600"),
        "{err}"
    );
}
