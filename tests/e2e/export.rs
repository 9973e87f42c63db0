//! `hsp-agent export` of the worked example (tests/fixtures/plans/worked-example.json:
//! HAPI FHIR with a dedicated Postgres, OIDC client secret, external SMTP, 2 app and
//! 2 worker tasks at 2 GiB; its digests are made-up examples) checked by the real
//! tools: kubernetes-validate --strict for two Kubernetes versions, helm lint and
//! template, docker compose config. Snapshots pin the exported files.

mod compose_up;

use hsp_test_support::export::*;
use hsp_test_support::registry::{dev_build, examples_registry};
use hsp_test_support::{mode, set_mode};
use serde_json::Value as Json;

#[test]
fn kubernetes_manifests_match_snapshots_and_validate() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("k8s");
    export(&worked_example_plan(), &["--format", "kubernetes"], &dir).success();
    let files = exported_files(&dir);
    for (rel, text) in &files {
        insta::assert_snapshot!(format!("kubernetes-{}", rel.replace('/', "-")), text);
    }
    let yamls: Vec<_> = files
        .keys()
        .filter(|f| f.ends_with(".yaml"))
        .map(|f| dir.join(f))
        .collect();
    kubernetes_validate(&yamls);

    let docs = yaml_docs_in(&dir);
    let deployment = find(&docs, "Deployment", "hapi-app");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["limits"]["memory"], "2048Mi");
    assert_eq!(container["resources"]["requests"]["memory"], "2048Mi");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"],
        "/fhir/metadata"
    );
    assert!(container["image"].as_str().unwrap().contains("@sha256:"));
    let worker = find(&docs, "Deployment", "hapi-worker");
    assert_eq!(worker["spec"]["replicas"], 2);
    let db = find(&docs, "Deployment", "hapi-db-postgres");
    assert_eq!(
        db["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"][0],
        "pg_isready"
    );
    assert_eq!(db["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        find(&docs, "PersistentVolumeClaim", "hapi-db-data")["spec"]["accessModes"][0],
        "ReadWriteOnce",
        "one single-replica task mounts it"
    );

    let hpa = find(&docs, "HorizontalPodAutoscaler", "hapi-app");
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone()
        ),
        (2.into(), 4.into())
    );
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "HorizontalPodAutoscaler"
                && d["metadata"]["name"] == "hapi-worker"),
        "min == max: no autoscaler"
    );

    // Services carry the DNS names the planner renders into env values.
    for name in ["hapi-app", "hapi-worker", "hapi-db-postgres"] {
        find(&docs, "Service", name);
    }
    let smtp = find(&docs, "Service", "hospital-smtp");
    assert_eq!(
        (
            smtp["spec"]["type"].as_str(),
            smtp["spec"]["externalName"].as_str()
        ),
        (Some("ExternalName"), Some("smtp.hospital.example"))
    );
    assert!(
        !docs.iter().any(|d| d["kind"] == "Deployment"
            && d["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("hospital")),
        "externals are not workloads"
    );

    let allow_db = find(&docs, "NetworkPolicy", "allow-to-hapi-db");
    let allowed =
        &allow_db["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"];
    assert_eq!(allowed, &serde_json::json!(["hapi", "hapi-db"]));

    let secret = find(&docs, "Secret", "hapi-app");
    assert_eq!(
        secret["stringData"]["SPRING_DATASOURCE_URL"],
        "jdbc:postgresql://hapi-db-postgres:5432/hapi?user=hapi&password=<hsp:hapi-db-postgres-password>",
        "a value mixing text and a secret goes whole into the Secret"
    );
    let config = find(&docs, "ConfigMap", "hapi-app");
    assert!(config["data"].get("SPRING_DATASOURCE_URL").is_none());
    assert_eq!(config["data"]["SPRING_MAIL_PORT"], "587");
    let readme = &files["README.md"];
    assert!(
        readme.contains(
            "`<hsp:oidc-client-secret>`: the contents of `/etc/hsp/clinic/oidc-client-secret`"
        ),
        "{readme}"
    );
    for d in &docs {
        let labels = &d["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/part-of"], "clinic", "{d}");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "hsp-agent", "{d}");
    }
}

#[test]
fn helm_chart_matches_snapshots_lints_and_renders_valid_manifests() {
    let out = tempfile::tempdir().unwrap();
    let chart = out.path().join("clinic");
    export(&worked_example_plan(), &["--format", "helm"], &chart).success();
    let files = exported_files(&chart);
    for (rel, text) in &files {
        insta::assert_snapshot!(format!("helm-{}", rel.replace('/', "-")), text);
    }
    let secrets = SecretFiles::new(out.path());
    let set_files = secrets.helm_set_files();

    let lint = helm(out.path())
        .arg("lint")
        .arg("--strict")
        .arg(&chart)
        .args(&set_files)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "helm lint --strict:\n{}{}",
        text(&lint.stdout),
        text(&lint.stderr)
    );
    assert!(
        text(&lint.stdout).contains("0 chart(s) failed"),
        "{}",
        text(&lint.stdout)
    );

    let rendered = helm_template(out.path(), &chart, &set_files);
    let manifest = out.path().join("rendered.yaml");
    std::fs::write(&manifest, &rendered).unwrap();
    kubernetes_validate(std::slice::from_ref(&manifest));

    let docs = yaml_docs(&rendered);
    let app = find(&docs, "Secret", "hapi-app");
    assert_eq!(
        app["stringData"]["OIDC_CLIENT_SECRET"], secrets.oidc,
        "--set-file value, trailing newline trimmed"
    );
    let db_password = find(&docs, "Secret", "hapi-db-postgres")["stringData"]["POSTGRES_PASSWORD"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(db_password.len(), 32, "generated at install");
    assert_eq!(
        app["stringData"]["SPRING_DATASOURCE_URL"],
        format!("jdbc:postgresql://hapi-db-postgres:5432/hapi?user=hapi&password={db_password}"),
        "one generated value in every place that uses it"
    );
    assert_eq!(find(&docs, "Deployment", "hapi-app")["spec"]["replicas"], 2);
    let labels = &find(&docs, "Deployment", "hapi-app")["metadata"]["labels"];
    assert_eq!(labels["helm.sh/chart"], "clinic-0.1.0");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert!(docs.iter().any(|d| d["kind"] == "NetworkPolicy"));

    // Values override replicas, the registry (a mirror) and generated secrets; the
    // autoscaler follows maxReplicas; NetworkPolicies can be turned off.
    let mut args = set_files.clone();
    args.extend(
        [
            "--set=imageRegistry=mirror.hospital.example:5000",
            "--set=tasks.hapi-worker.maxReplicas=5",
            "--set=generatedSecrets.hapi-db-postgres-password=chosen-by-operator",
            "--set=networkPolicies.enabled=false",
        ]
        .map(String::from),
    );
    let docs = yaml_docs(&helm_template(out.path(), &chart, &args));
    for d in docs.iter().filter(|d| d["kind"] == "Deployment") {
        let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap();
        assert!(
            image.starts_with("mirror.hospital.example:5000/") && image.contains("@sha256:"),
            "{image}"
        );
    }
    assert_eq!(
        find(&docs, "HorizontalPodAutoscaler", "hapi-worker")["spec"]["maxReplicas"],
        5
    );
    assert_eq!(
        find(&docs, "Secret", "hapi-db-postgres")["stringData"]["POSTGRES_PASSWORD"],
        "chosen-by-operator"
    );
    assert!(!docs.iter().any(|d| d["kind"] == "NetworkPolicy"));

    // A missing operator secret stops the install with the fix.
    let missing = helm(out.path())
        .args(["template", "clinic"])
        .arg(&chart)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("secrets.oidc-client-secret is required"),
        "{}",
        text(&missing.stderr)
    );
    // values.schema.json rejects nonsense.
    let bad = helm(out.path())
        .args(["template", "clinic"])
        .arg(&chart)
        .args(&set_files)
        .arg("--set=tasks.hapi-app.replicas=-1")
        .output()
        .unwrap();
    assert!(!bad.status.success(), "schema must reject replicas=-1");
    assert!(
        text(&bad.stderr).contains("replicas"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn compose_project_matches_snapshots_and_passes_compose_config() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("compose");
    export(&worked_example_plan(), &["--format", "compose"], &dir).success();
    let files = exported_files(&dir);
    for (rel, text) in &files {
        insta::assert_snapshot!(format!("compose-{}", rel.replace('/', "-")), text);
    }
    // Without the filled env files Compose refuses the project.
    let refused = docker_compose(&dir)
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "compose must refuse missing secret env files"
    );
    assert!(
        text(&refused.stderr).contains("secrets/"),
        "{}",
        text(&refused.stderr)
    );
    let placeholder = regex::Regex::new("<hsp:[a-z0-9-]+>").unwrap();
    for (rel, text) in files.iter().filter(|(r, _)| r.ends_with(".env.example")) {
        let filled = placeholder.replace_all(text, "filled");
        std::fs::write(dir.join(rel.trim_end_matches(".example")), filled.as_ref()).unwrap();
    }
    let ok = docker_compose(&dir)
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "docker compose config -q: {}",
        text(&ok.stderr)
    );

    let config = docker_compose(&dir)
        .args(["config", "--format", "json"])
        .output()
        .unwrap();
    assert!(config.status.success(), "{}", text(&config.stderr));
    let config: Json = serde_json::from_slice(&config.stdout).unwrap();
    let app = &config["services"]["hapi-app"];
    assert_eq!(
        app["depends_on"]["hapi-db-postgres"]["condition"],
        "service_healthy"
    );
    assert_eq!(app["deploy"]["replicas"], 2);
    assert_eq!(
        app["deploy"]["resources"]["limits"]["memory"], "2147483648",
        "2 GiB"
    );
    assert_eq!(
        app["environment"]["SPRING_DATASOURCE_URL"],
        "jdbc:postgresql://hapi-db-postgres:5432/hapi?user=hapi&password=filled"
    );
    assert_eq!(app["healthcheck"]["test"][0], "CMD-SHELL");
    assert_eq!(config["services"]["hapi-worker"]["deploy"]["replicas"], 2);
    assert!(config["volumes"]["hapi-db-data"].is_object());
}

/// An instance whose `app` task (up to `app_max` replicas) and `worker` task
/// both declare volume `documents`.
fn shared_volume_plan(app_max: u32) -> Json {
    let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let task = |name: &str, max: u32, path: &str| {
        serde_json::json!({
            "name": name, "image": format!("registry.example/care@{d}"), "ports": [], "env": {},
            "memory_mib": 64, "instances": {"min": 1, "max": max}, "stop_timeout_s": 5,
            "volumes": [{"name": "documents", "path": path}], "artifacts": [],
        })
    };
    serde_json::json!({
        "environment": "care-env",
        "instances": [{
            "name": "care", "service": "org.example.care", "version": "1.0.0", "license": "MIT",
            "reason": "test", "bindings": {}, "depends_on": [],
            "tasks": [task("app", app_max, "/srv/documents"), task("worker", 1, "/work/documents")],
        }],
        "externals": [],
    })
}

/// The exports share a volume among an instance's tasks as the agent does,
/// under the agent's name: one Compose volume, one PersistentVolumeClaim
/// (ReadWriteMany, since two tasks and up to 3 replicas mount it), both
/// accepted by the real tools.
#[test]
fn tasks_of_an_instance_share_one_volume_in_every_export() {
    let out = tempfile::tempdir().unwrap();
    let plan = out.path().join("plan.json");
    std::fs::write(&plan, serde_json::to_vec(&shared_volume_plan(3)).unwrap()).unwrap();

    let dir = out.path().join("compose");
    export(&plan, &["--format", "compose"], &dir).success();
    let config = docker_compose(&dir)
        .args(["config", "--format", "json"])
        .output()
        .unwrap();
    assert!(config.status.success(), "{}", text(&config.stderr));
    let config: Json = serde_json::from_slice(&config.stdout).unwrap();
    let volumes: Vec<&String> = config["volumes"].as_object().unwrap().keys().collect();
    assert_eq!(volumes, ["care-documents"], "one volume for both tasks");
    for (service, path) in [
        ("care-app", "/srv/documents"),
        ("care-worker", "/work/documents"),
    ] {
        let mount = &config["services"][service]["volumes"][0];
        assert_eq!(
            (mount["source"].as_str(), mount["target"].as_str()),
            (Some("care-documents"), Some(path)),
            "{service}"
        );
    }
    // The agent's Docker volume for the instance's `documents` is the name the
    // Compose export gives it, behind the driver's `hsp-<env>-` prefix: one rule
    // (hsp_index::plan::volume_name) for both.
    assert_eq!(
        hsp_deploy::docker::volume_name("care-env", "care", "documents"),
        format!("hsp-care-env-{}", volumes[0])
    );
    assert_eq!(
        hsp_index::plan::volume_name("care", "documents"),
        *volumes[0]
    );

    let k8s = out.path().join("k8s");
    export(&plan, &["--format", "kubernetes"], &k8s).success();
    let yamls: Vec<_> = exported_files(&k8s)
        .keys()
        .filter(|f| f.ends_with(".yaml"))
        .map(|f| k8s.join(f))
        .collect();
    kubernetes_validate(&yamls);
    let docs = yaml_docs_in(&k8s);
    let claims: Vec<&Json> = docs
        .iter()
        .filter(|d| d["kind"] == "PersistentVolumeClaim")
        .collect();
    assert_eq!(claims.len(), 1, "one claim for both tasks");
    assert_eq!(claims[0]["metadata"]["name"], *volumes[0]);
    assert_eq!(
        claims[0]["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );
    for unit in ["care-app", "care-worker"] {
        assert_eq!(
            find(&docs, "Deployment", unit)["spec"]["template"]["spec"]["volumes"][0]
                ["persistentVolumeClaim"]["claimName"],
            "care-documents",
            "{unit}"
        );
    }
    let readme = std::fs::read_to_string(k8s.join("README.md")).unwrap();
    assert!(
        readme.contains("needs a storage class that offers it"),
        "{readme}"
    );

    let chart = out.path().join("chart");
    export(&plan, &["--format", "helm"], &chart).success();
    let docs = yaml_docs(&helm_template(out.path(), &chart, &[]));
    let claim = find(&docs, "PersistentVolumeClaim", "care-documents");
    assert_eq!(
        claim["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );
    let docs = yaml_docs(&helm_template(
        out.path(),
        &chart,
        &["--set=volumes.care-documents.accessMode=ReadWriteOncePod".to_string()],
    ));
    assert_eq!(
        find(&docs, "PersistentVolumeClaim", "care-documents")["spec"]["accessModes"],
        serde_json::json!(["ReadWriteOncePod"]),
        "the operator may choose another mode"
    );
}

#[test]
fn secret_values_appear_only_with_inline_secrets_and_only_in_0600_files() {
    let out = tempfile::tempdir().unwrap();
    let secrets = SecretFiles::new(out.path());
    let plan = secrets.plan(out.path());
    for format in ["kubernetes", "helm", "compose"] {
        let plain = out.path().join(format!("{format}-placeholders"));
        let report = export(&plan, &["--format", format, "--json"], &plain).success();
        let report: Json = serde_json::from_slice(&report.stdout).unwrap();
        let oidc = report["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == "oidc-client-secret")
            .unwrap();
        assert_eq!(oidc["placeholder"], "<hsp:oidc-client-secret>");
        assert_eq!(
            oidc["reference"]["path"],
            secrets.oidc_path.to_str().unwrap()
        );
        assert!(oidc["used_by"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"unit": "hapi-app", "env": "OIDC_CLIENT_SECRET"})));
        assert_eq!(
            report["secrets"].as_array().unwrap().len(),
            3,
            "two files and the generated database password"
        );
        assert!(report["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["secret"] == false));
        for (rel, text) in exported_files(&plain) {
            for value in [&secrets.oidc, &secrets.smtp] {
                assert!(
                    !text.contains(value.as_str()),
                    "{format}: {rel} holds a secret value without --inline-secrets"
                );
            }
        }

        let inline = out.path().join(format!("{format}-inline"));
        export(&plan, &["--format", format, "--inline-secrets"], &inline).success();
        let mut seen = 0;
        for (rel, text) in exported_files(&inline) {
            if text.contains(&secrets.oidc) || text.contains(&secrets.smtp) {
                seen += 1;
                assert_eq!(
                    mode(&inline.join(&rel)),
                    0o600,
                    "{format}: {rel} holds secrets"
                );
            }
        }
        assert!(seen > 0, "{format}: --inline-secrets wrote the values");
    }
    // The generated database password is the same wherever it is used.
    let docs = yaml_docs_in(&out.path().join("kubernetes-inline"));
    let password = find(&docs, "Secret", "hapi-db-postgres")["stringData"]["POSTGRES_PASSWORD"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(password.len(), 32);
    for unit in ["hapi-app", "hapi-worker"] {
        let s = &find(&docs, "Secret", unit)["stringData"];
        assert_eq!(s["SPRING_DATASOURCE_PASSWORD"], password.as_str());
        assert!(s["SPRING_DATASOURCE_URL"]
            .as_str()
            .unwrap()
            .ends_with(&format!("password={password}")));
        assert_eq!(s["SPRING_MAIL_PASSWORD"], secrets.smtp.as_str());
    }
}

#[test]
fn export_refuses_readable_secret_files_bad_plans_and_foreign_folders() {
    let out = tempfile::tempdir().unwrap();
    let secrets = SecretFiles::new(out.path());
    let plan = secrets.plan(out.path());
    set_mode(&secrets.oidc_path, 0o644);
    let failed = export(
        &plan,
        &["--format", "kubernetes", "--inline-secrets"],
        &out.path().join("a"),
    )
    .failure();
    let err = text(&failed.stderr);
    assert!(
        err.contains("chmod 600") && err.contains("oidc-client-secret"),
        "{err}"
    );

    let foreign = out.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let failed = export(&worked_example_plan(), &["--format", "compose"], &foreign).failure();
    assert!(text(&failed.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "mine"
    );

    let text_plan = std::fs::read_to_string(worked_example_plan()).unwrap();
    let unpinned = out.path().join("unpinned.json");
    std::fs::write(
        &unpinned,
        text_plan
            .replace("postgres:16.4@sha256:", "postgres:16.4-")
            .as_str(),
    )
    .unwrap();
    let failed = export(&unpinned, &["--format", "helm"], &out.path().join("b")).failure();
    let err = text(&failed.stderr);
    assert!(
        err.contains("not pinned by digest") && err.contains("hapi-db"),
        "{err}"
    );

    let broken = out.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"environment\": 3\n}\n").unwrap();
    let failed = export(&broken, &["--format", "helm"], &out.path().join("c")).failure();
    let err = text(&failed.stderr);
    assert!(err.contains("broken.json:2:"), "{err}");
}

/// The whole path a site takes: the example registry built into a TUF index,
/// `hsp-agent init` trusting its root, then `hsp-agent export ENV` planning the
/// worked example (examples/environments/care-coordinator-docker.json) against
/// the verified index; every format passes the real tools, and exporting ENV
/// equals exporting the plan `hsp-agent plan --json` prints.
#[test]
fn export_of_an_environment_plans_against_the_verified_index() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let run = |bin: &str, args: &[&str]| {
        let out = std::process::Command::new(hsp_test_support::bin(bin))
            .args(args)
            .current_dir(t)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{bin} {}:\n{}",
            args.join(" "),
            text(&out.stderr)
        );
        out
    };
    let index = t.join("index");
    dev_build(&examples_registry(), &index, &["--no-site"]);
    let root = index.join("metadata/root.json");
    run(
        "hsp-agent",
        &[
            "init",
            "--state",
            "state",
            "--root",
            root.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
        ],
    );
    let env = std::fs::read_to_string(
        hsp_test_support::root().join("examples/environments/care-coordinator-docker.json"),
    )
    .unwrap();
    std::fs::write(t.join("env.json"), env).unwrap();
    hsp_test_support::planner::point_at_index(&t.join("env.json"), &index);
    std::fs::create_dir(t.join("secrets")).unwrap();
    for f in [
        "hospital-smtp-password",
        "care-coordinator-oidc-client-secret",
        "keycloak-admin-password",
    ] {
        std::fs::write(t.join("secrets").join(f), format!("value-of-{f}\n")).unwrap();
        set_mode(&t.join("secrets").join(f), 0o600);
    }
    let plan = run(
        "hsp-agent",
        &["plan", "env.json", "--state", "state", "--json"],
    );
    std::fs::write(t.join("plan.json"), &plan.stdout).unwrap();

    for format in ["kubernetes", "helm", "compose"] {
        let from_env = format!("{format}-env");
        run(
            "hsp-agent",
            &[
                "export", "env.json", "--state", "state", "--format", format, "--out", &from_env,
            ],
        );
        let from_plan = format!("{format}-plan");
        run(
            "hsp-agent",
            &[
                "export",
                "--plan",
                "plan.json",
                "--format",
                format,
                "--out",
                &from_plan,
            ],
        );
        assert_eq!(
            exported_files(&t.join(&from_env)),
            exported_files(&t.join(&from_plan)),
            "{format}"
        );
    }
    let k8s = t.join("kubernetes-env");
    let yamls: Vec<_> = exported_files(&k8s)
        .keys()
        .filter(|f| f.ends_with(".yaml"))
        .map(|f| k8s.join(f))
        .collect();
    kubernetes_validate(&yamls);
    let docs = yaml_docs_in(&k8s);
    let app = find(&docs, "Deployment", "care-coordinator-app");
    assert!(app["spec"]["replicas"].as_u64().unwrap() >= 2);
    assert_eq!(
        app["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "2048Mi"
    );
    find(&docs, "Service", "hospital-smtp");

    let chart = t.join("helm-env");
    let set_files: Vec<String> = [
        "hospital-smtp-password",
        "care-coordinator-oidc-client-secret",
        "keycloak-admin-password",
    ]
    .iter()
    .map(|k| {
        format!(
            "--set-file=secrets.{k}={}",
            t.join("secrets").join(k).display()
        )
    })
    .collect();
    let lint = helm(t)
        .arg("lint")
        .arg("--strict")
        .arg(&chart)
        .args(&set_files)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "helm lint --strict:\n{}{}",
        text(&lint.stdout),
        text(&lint.stderr)
    );
    let rendered = t.join("rendered.yaml");
    std::fs::write(&rendered, helm_template(t, &chart, &set_files)).unwrap();
    kubernetes_validate(&[rendered]);

    run(
        "hsp-agent",
        &[
            "export",
            "env.json",
            "--state",
            "state",
            "--format",
            "compose",
            "--inline-secrets",
            "--out",
            "compose-inline",
        ],
    );
    let ok = docker_compose(&t.join("compose-inline"))
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "docker compose config -q: {}",
        text(&ok.stderr)
    );
}

/// The guides only use options `hsp-agent export` has.
#[test]
fn guides_use_existing_export_options() {
    let help = std::process::Command::new(hsp_test_support::bin("hsp-agent"))
        .args(["export", "--help"])
        .output()
        .unwrap();
    let help = text(&help.stdout);
    let flag = regex::Regex::new(r"--[a-z][a-z-]*").unwrap();
    let mut checked = 0;
    for guide in ["docs/kubernetes.md", "docs/kubernetes-eks.md"] {
        let text = std::fs::read_to_string(hsp_test_support::root().join(guide)).unwrap();
        for line in text.lines().filter(|l| l.contains("hsp-agent export ")) {
            let command = line
                .split("hsp-agent export ")
                .nth(1)
                .unwrap()
                .split('`')
                .next()
                .unwrap();
            for f in flag.find_iter(command) {
                assert!(
                    help.contains(&format!("{} ", f.as_str()))
                        || help.contains(&format!("{}\n", f.as_str())),
                    "{guide}: {} is not an option of hsp-agent export:\n{help}",
                    f.as_str()
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 8,
        "the guides show export commands ({checked} options checked)"
    );
}
