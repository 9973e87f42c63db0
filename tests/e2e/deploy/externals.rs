//! One external Postgres serving two dedicated consumers on the real Docker
//! engine: `per_consumer` gives each its own database, user and password, and
//! the containers' environments show each got its own (read back with
//! `docker inspect`); the passwords never appear in what the agent prints.

use std::path::Path;
use std::process::Command;

use hsp_test_support::deploy::{docker, images, DockerCleanup};
use hsp_test_support::registry::{dev_build, write_document, RegistryBuilder};
use hsp_test_support::{bin, s, show};
use serde_json::{json, Value as Json};

/// A consumer of a dedicated `db` (postgres) that passes the binding on in env.
fn consumer(id: &str, image: &str) -> Json {
    json!({
        "id": id, "version": "1.0.0", "name": id, "summary": "busybox httpd using a database.",
        "publisher": "acme", "license": "MIT",
        "requires": [{"name": "db", "interface": "postgres", "version": ">=15", "scope": "dedicated"}],
        "tasks": [{
            "name": "app", "image": image,
            "ports": [{"name": "http", "port": 8080}],
            "env": {"PORT": "8080", "VERSION": "1.0.0",
                    "DB_HOST": "${db.host}", "DB_NAME": "${db.database}",
                    "DB_USER": "${db.user}", "DB_PASSWORD": "${db.password}"},
            "memory_mib": 64,
            "health": {"http": {"port": "http", "path": "/healthz"},
                       "interval_s": 1, "timeout_s": 1, "start_period_s": 1, "retries": 3},
            "stop_timeout_s": 2
        }],
        "smoke_test": {"task": "app", "http": {"port": "http", "path": "/healthz"}}
    })
}

fn secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{value}\n")).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    s(&p).to_string()
}

/// `KEY=VALUE` of a container's environment.
fn container_env(env_name: &str, instance: &str) -> Vec<String> {
    let filter = format!("label=org.hsp.agent.environment={env_name}");
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        &filter,
        "--filter",
        &format!("label=org.hsp.agent.instance={instance}"),
    ]);
    let id = ids
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no container for {instance}"));
    let inspect: Json = serde_json::from_str(&docker(&["inspect", id])).unwrap();
    inspect[0]["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_dedicated_consumers_get_their_own_database_on_one_external() {
    assert!(
        Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success()),
        "dockerd is not running: run .ci/install"
    );
    let dir = tempfile::tempdir().unwrap();
    let image = images::reference("svc");
    let repo = dir.path().join("repo");
    RegistryBuilder::new("externalstest", "externals test registry")
        .interface_from_examples("postgres")
        .publisher("acme", "Acme", &["com.acme"])
        .write(&repo);
    write_document(&repo, &consumer("com.acme.keycloak", &image));
    write_document(&repo, &consumer("com.acme.care", &image));
    // The registry must offer a provider (open-source consumers need one);
    // the external pins the interface, so it is not deployed.
    let mut pg = consumer("com.acme.pg", &image);
    pg["requires"] = json!([]);
    pg["tasks"][0]["env"] = json!({"PORT": "8080", "VERSION": "16.4.0"});
    pg["provides"] = json!([{"interface": "postgres", "version": "16.4.0", "task": "app", "port": "http",
        "binding": {"host": "${self.app.http.host}", "port": "${self.app.http.port}",
                    "database": "app", "user": "app", "password": "${config.PASSWORD}"}}]);
    pg["config"] = json!([{"name": "PASSWORD", "secret": true, "generate": true,
                           "description": "Password of the app role."}]);
    write_document(&repo, &pg);
    let out = dir.path().join("out");
    dev_build(&repo, &out, &["--no-site"]);

    let env_name = format!("ext{}", std::process::id());
    let _cleanup = DockerCleanup(env_name.clone());
    let state = dir.path().join("state");
    let agent = |args: &[&str]| {
        Command::new(bin("hsp-agent"))
            .args(args)
            .arg("--state")
            .arg(&state)
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    };
    let root = s(&out.join("metadata/1.root.json")).to_string();
    let init = agent(&["init", "--root", &root, "--index", s(&out)]);
    assert!(init.status.success(), "{}", show(&init));
    let (kc_pw, care_pw, shared_pw) = ("kc-Pa55-7f3a9", "care-Pa55-b81c2", "shared-Pa55-0d4e6");
    let env_file = dir.path().join("env.json");
    let env = json!({
        "name": env_name,
        "index": {"url": s(&out), "root": root},
        "services": [{"id": "com.acme.keycloak"}, {"id": "com.acme.care"}],
        "externals": [{
            "name": "pg-main", "interface": "postgres", "version": "16.4",
            "binding": {"host": "pg.hospital.example", "port": "5432",
                        "user": "admin", "password": {"secret_file": secret(dir.path(), "pg-admin", shared_pw)}},
            "per_consumer": {
                "keycloak": {"database": "keycloak", "user": "keycloak",
                             "password": {"secret_file": secret(dir.path(), "pg-keycloak", kc_pw)}},
                "care": {"database": "care", "user": "care_app",
                         "password": {"secret_file": secret(dir.path(), "pg-care", care_pw)}}
            }
        }],
        "target": {"kind": "docker"}
    });
    std::fs::write(&env_file, env.to_string()).unwrap();

    let plan = agent(&["plan", s(&env_file), "--index", s(&out)]);
    assert!(plan.status.success(), "{}", show(&plan));
    let apply = agent(&["apply", s(&env_file), "--index", s(&out)]);
    assert!(apply.status.success(), "{}", show(&apply));
    let status = agent(&["status", &env_name, "--json"]);
    let status: Json = serde_json::from_slice(&status.stdout).unwrap();
    let mut deployed: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["instance"].as_str())
        .collect();
    deployed.sort();
    assert_eq!(
        deployed,
        ["care", "keycloak"],
        "no provider instance: {status:#}"
    );
    let printed = format!("{}{}", show(&plan), show(&apply));
    assert!(
        printed.contains("its own database keycloak"),
        "the plan says which binding keycloak got:\n{printed}"
    );
    for pw in [kc_pw, care_pw, shared_pw] {
        assert!(
            !printed.contains(pw),
            "a password in the agent's output:\n{printed}"
        );
    }

    for (instance, db, user, pw) in [
        ("keycloak", "keycloak", "keycloak", kc_pw),
        ("care", "care", "care_app", care_pw),
    ] {
        let env = container_env(&env_name, instance);
        // Names only in messages: the values hold passwords.
        let keys: Vec<&str> = env.iter().filter_map(|kv| kv.split('=').next()).collect();
        let has = |kv: String| {
            let key = kv.split('=').next().unwrap_or_default().to_string();
            assert!(
                env.contains(&kv),
                "{instance}: {key} is not as planned (env: {keys:?})"
            )
        };
        has(format!("DB_NAME={db}"));
        has(format!("DB_USER={user}"));
        has("DB_HOST=pg.hospital.example".into());
        has(format!("DB_PASSWORD={pw}"));
    }
}
