//! DESIGN.md's worked example planned end to end: the example environment
//! (`examples/environments/care-coordinator-docker.json`) against the example
//! registry, through the library (registry folder) and through the real
//! binaries (`hsp build --dev-keys`, `hsp-agent init`, `hsp-agent plan` over the
//! verified index).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hsp_index::plan::{Part, ProviderRef, SecretRef};
use hsp_index::Plan;
use hsp_planner::{self as planner, Deployed};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The example environment in a temp dir, with its secret files (mode 0600).
fn example_env(dir: &Path) -> PathBuf {
    let src = hsp_tests::root().join("examples/environments/care-coordinator-docker.json");
    let env = dir.join("env.json");
    std::fs::copy(&src, &env).unwrap();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    for f in [
        "hospital-smtp-password",
        "care-coordinator-oidc-client-secret",
        "keycloak-admin-password",
    ] {
        let p = dir.join("secrets").join(f);
        std::fs::write(&p, "not-a-real-secret\n").unwrap();
        set_mode(&p, 0o600);
    }
    env
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The facts DESIGN.md asks of the worked example, checked on a plan.
fn check_worked_example(plan: &Plan, secrets_dir: &Path) {
    let names: Vec<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} not in {names:?}"))
    };
    let app = &plan.instances[pos("care-coordinator")];
    assert_eq!(app.service, "com.acme.care-coordinator");
    // Its own database, dedicated, with schema rights, started before it.
    let db = &app.bindings["db"];
    let ProviderRef::Instance(db_name) = &db.provider else {
        panic!("db bound to {:?}", db.provider)
    };
    assert_eq!(db_name, "care-coordinator-db");
    let db_inst = &plan.instances[pos(db_name)];
    assert_eq!(db_inst.dedicated_to.as_deref(), Some("care-coordinator"));
    assert_eq!(
        db_inst.service, "org.hsp.community.postgresql",
        "the environment's preferred provider"
    );
    assert!(
        pos(db_name) < pos("care-coordinator"),
        "providers start first: {names:?}"
    );
    // The generated database password is a reference shared by provider and consumer.
    let pw = &app.tasks[0].env["DB_PASSWORD"];
    assert!(
        matches!(pw.0.as_slice(), [Part::Secret(SecretRef::Generated { instance, .. })] if instance == "care-coordinator-db"),
        "{pw:?}"
    );
    assert_eq!(
        app.tasks[0].env["DB_HOST"].as_plain().unwrap(),
        format!("{db_name}-{}", db_inst.tasks[0].name)
    );
    // OIDC from Keycloak (wanted by the environment), SMTP from the hospital's relay.
    assert_eq!(
        app.bindings["oidc"].provider,
        ProviderRef::Instance("keycloak".into())
    );
    assert!(pos("keycloak") < pos("care-coordinator"));
    assert_eq!(
        app.bindings["smtp"].provider,
        ProviderRef::External("hospital-smtp".into())
    );
    assert_eq!(
        plan.externals
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["hospital-smtp"]
    );
    // Client id as plain config, client secret by reference to its 0600 file.
    assert_eq!(
        app.tasks[0].env["OIDC_CLIENT_ID"].as_plain().unwrap(),
        "care-coordinator"
    );
    let secret_file = secrets_dir.join("care-coordinator-oidc-client-secret");
    let want = Part::Secret(SecretRef::File {
        path: secret_file.display().to_string(),
    });
    assert_eq!(app.tasks[0].env["OIDC_CLIENT_SECRET"].0, vec![want]);
    // 2 app tasks and 2 worker tasks at minimum, 2 GiB each.
    for t in ["app", "worker"] {
        let task = app.tasks.iter().find(|x| x.name == t).unwrap();
        assert!(
            task.instances.min >= 2 && task.memory_mib >= 2048,
            "{t}: {:?} {}",
            task.instances,
            task.memory_mib
        );
    }
    // No secret value anywhere in the plan.
    let json = serde_json::to_string(plan).unwrap();
    assert!(!json.contains("not-a-real-secret"));
}

#[test]
fn worked_example_from_the_registry_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let env = planner::read_environment(&example_env(tmp.path())).unwrap();
    let index = planner::read_registry_dir(&hsp_tests::root().join("examples/registry")).unwrap();
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

#[test]
fn worked_example_through_the_verified_index() {
    let tmp = tempfile::tempdir().unwrap();
    let env = example_env(tmp.path());
    let out = tmp.path().join("index");
    let repo = hsp_tests::root().join("examples/registry");
    let o = Command::new(hsp_tests::bin("hsp"))
        .args([
            "build",
            s(&repo),
            "--dev-keys",
            "--no-site",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "hsp build: {}", text(&o));
    let state = tmp.path().join("state");
    let agent = |args: &[&str]| {
        Command::new(hsp_tests::bin("hsp-agent"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = agent(&[
        "init",
        "--state",
        s(&state),
        "--root",
        s(&out.join("metadata/1.root.json")),
        "--index",
        s(&out),
    ]);
    assert!(o.status.success(), "init: {}", text(&o));

    let o = agent(&["plan", s(&env), "--state", s(&state), "--json"]);
    assert!(o.status.success(), "plan: {}", text(&o));
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
    assert!(o.status.success(), "plan --registry: {}", text(&o));
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
