//! Externals shared by several consumers: bindings of their own
//! (`per_consumer`), which consumers an external serves (`consumers`), and the
//! rule that a dedicated requirement never shares a binding.

use hsp_index::document::Scope;
use hsp_index::plan::{Part, ProviderRef, SecretRef};
use hsp_planner::PlanError;
use hsp_test_support::planner::*;
use serde_json::json;

/// A consumer whose `db` (postgres, dedicated or shared) is rendered into its env.
fn consumer(id: &str, scope: Scope) -> hsp_index::Document {
    doc(id, "1.0.0")
        .requires_with("db", "postgres", "*", scope, &[], false)
        .env("DB_HOST", "${db.host}")
        .env("DB_NAME", "${db.database}")
        .env("DB_USER", "${db.user}")
        .env("DB_PASSWORD", "${db.password}")
}

fn pg_provider() -> hsp_index::Document {
    doc("org.example.pg", "16.0.0").provides_with(
        "postgres",
        "16.0.0",
        &[],
        &[("host", "${self.app.http.host}")],
    )
}

fn services() -> serde_json::Value {
    json!([{"id": "org.keycloak.keycloak"}, {"id": "org.example.care"}])
}

fn pg_main(extra: serde_json::Value) -> serde_json::Value {
    let mut e = json!({
        "name": "pg-main", "interface": "postgres", "version": "16",
        "binding": {"host": "db.hospital.example", "port": "5432", "database": "shared",
                    "user": "shared", "password": {"secret_file": "/s/pg-shared"}}
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn per_consumer() -> serde_json::Value {
    json!({
        "keycloak": {"database": "keycloak", "user": "keycloak", "password": {"secret_file": "/s/pg-keycloak"}},
        "care": {"database": "care", "user": "care_app", "password": {"secret_file": "/s/pg-care"}}
    })
}

fn text(p: &hsp_index::Plan, instance: &str, key: &str) -> String {
    let i = p.instances.iter().find(|i| i.name == instance).unwrap();
    i.tasks[0].env[key].to_string()
}

fn secret(p: &hsp_index::Plan, instance: &str, key: &str) -> Part {
    let i = p.instances.iter().find(|i| i.name == instance).unwrap();
    i.tasks[0].env[key].0[0].clone()
}

fn file(path: &str) -> Part {
    Part::Secret(SecretRef::File { path: path.into() })
}

fn reasons(p: &hsp_index::Plan) -> String {
    p.instances
        .iter()
        .map(|i| format!("{}: {}", i.name, i.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn dedicated_consumers_get_their_own_binding_on_one_external() {
    let index = index(vec![
        consumer("org.keycloak.keycloak", Scope::Dedicated),
        consumer("org.example.care", Scope::Dedicated),
        pg_provider(),
    ]);
    let env = environment(json!({
        "services": services(),
        "externals": [pg_main(json!({"per_consumer": per_consumer()}))]
    }));
    let p = plan(&index, &env).unwrap();
    assert_eq!(
        summary(&p),
        [
            "care=org.example.care@1.0.0",
            "keycloak=org.keycloak.keycloak@1.0.0"
        ],
        "no provider instance: the external serves both"
    );
    for (instance, db, user, password) in [
        ("keycloak", "keycloak", "keycloak", "/s/pg-keycloak"),
        ("care", "care", "care_app", "/s/pg-care"),
    ] {
        assert_eq!(text(&p, instance, "DB_NAME"), db);
        assert_eq!(text(&p, instance, "DB_USER"), user);
        assert_eq!(text(&p, instance, "DB_HOST"), "db.hospital.example");
        assert_eq!(secret(&p, instance, "DB_PASSWORD"), file(password));
        let i = p.instances.iter().find(|i| i.name == instance).unwrap();
        assert_eq!(
            i.bindings["db"].provider,
            ProviderRef::External("pg-main".into())
        );
        assert_eq!(i.bindings["db"].values["database"].to_string(), db);
    }
    assert_eq!(p.externals.len(), 1);
    let own: Vec<&String> = p.externals[0].per_consumer.keys().collect();
    assert_eq!(own, ["care", "keycloak"]);
    assert_eq!(p.externals[0].values["database"].to_string(), "shared");
    insta::assert_snapshot!("externals_own_bindings", reasons(&p));
}

#[test]
fn two_dedicated_consumers_on_one_binding_is_an_explained_failure() {
    let index = index(vec![
        consumer("org.keycloak.keycloak", Scope::Dedicated),
        consumer("org.example.care", Scope::Dedicated),
    ]);
    let cases = [
        ("no per_consumer", json!({})),
        (
            "both named in consumers, no bindings of their own",
            json!({"consumers": ["keycloak", "care"]}),
        ),
    ];
    let mut texts = Vec::new();
    for (name, extra) in cases {
        let env = environment(json!({"services": services(), "externals": [pg_main(extra)]}));
        match plan(&index, &env) {
            Err(e @ PlanError::SharedExternal { .. }) => {
                let t = e.to_string();
                for want in [
                    "pg-main",
                    "keycloak's `db` (dedicated)",
                    "care's `db` (dedicated)",
                    "externals[0].per_consumer",
                ] {
                    assert!(t.contains(want), "{name}: {t}");
                }
                texts.push(t);
            }
            other => panic!("{name}: expected SharedExternal, got {other:?}"),
        }
    }
    insta::assert_snapshot!("externals_shared_dedicated", texts.join("\n\n"));
}

#[test]
fn a_dedicated_requirement_does_not_share_with_a_shared_one() {
    // keycloak has its own binding; care's dedicated db and reports' shared db
    // would both use the external's binding.
    let index = index(vec![
        consumer("org.keycloak.keycloak", Scope::Dedicated),
        consumer("org.example.care", Scope::Dedicated),
        consumer("org.example.reports", Scope::Shared),
    ]);
    let own = json!({"keycloak": per_consumer()["keycloak"]});
    let env = environment(json!({
        "services": [{"id": "org.keycloak.keycloak"}, {"id": "org.example.care"}, {"id": "org.example.reports"}],
        "externals": [pg_main(json!({"per_consumer": own}))]
    }));
    let e = plan(&index, &env).unwrap_err().to_string();
    assert!(
        e.contains("care's `db` (dedicated) and reports's `db` (shared) would use its binding"),
        "{e}"
    );
    // A dedicated consumer alone on the external's binding is fine.
    let index2 = hsp_test_support::planner::index(vec![
        consumer("org.keycloak.keycloak", Scope::Dedicated),
        consumer("org.example.care", Scope::Dedicated),
    ]);
    let env = environment(json!({
        "services": services(),
        "externals": [pg_main(json!({"per_consumer": own}))]
    }));
    let p = plan(&index2, &env).unwrap();
    assert_eq!(text(&p, "care", "DB_NAME"), "shared");
    assert_eq!(text(&p, "keycloak", "DB_NAME"), "keycloak");
    assert!(
        p.instances.iter().any(|i| i.name == "care"
            && i.reason
                .contains("dedicated: external pg-main's binding, which no other consumer uses")),
        "{}",
        reasons(&p)
    );
}

#[test]
fn shared_requirements_may_share_an_external_as_before() {
    let index = index(vec![
        consumer("org.keycloak.keycloak", Scope::Shared),
        consumer("org.example.care", Scope::Shared),
    ]);
    let env = environment(json!({"services": services(), "externals": [pg_main(json!({}))]}));
    let p = plan(&index, &env).unwrap();
    for instance in ["keycloak", "care"] {
        assert_eq!(text(&p, instance, "DB_NAME"), "shared");
        assert_eq!(secret(&p, instance, "DB_PASSWORD"), file("/s/pg-shared"));
    }
    assert!(p.externals[0].per_consumer.is_empty());
    insta::assert_snapshot!("externals_shared", reasons(&p));
}

#[test]
fn consumers_say_which_external_serves_whom() {
    let index = index(vec![
        consumer("org.keycloak.keycloak", Scope::Dedicated),
        consumer("org.example.care", Scope::Dedicated),
        pg_provider(),
    ]);
    // Two servers: each serves one consumer, which then is its only user.
    let pg_b = json!({"name": "pg-b", "interface": "postgres", "version": "16", "consumers": ["care"],
                      "binding": {"host": "b.hospital.example", "database": "care"}});
    let env = environment(json!({
        "services": services(),
        "externals": [pg_main(json!({"consumers": ["keycloak"]})), pg_b]
    }));
    let p = plan(&index, &env).unwrap();
    assert_eq!(text(&p, "keycloak", "DB_HOST"), "db.hospital.example");
    assert_eq!(text(&p, "care", "DB_HOST"), "b.hospital.example");
    assert_eq!(text(&p, "care", "DB_NAME"), "care");
    let names: Vec<&str> = p.externals.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["pg-main", "pg-b"]);
    insta::assert_snapshot!("externals_consumers", reasons(&p));

    // A consumer no external serves gets an index provider of its own again.
    let env = environment(json!({
        "services": services(),
        "externals": [pg_main(json!({"consumers": ["org.keycloak.keycloak"]}))]
    }));
    let p = plan(&index, &env).unwrap();
    assert_eq!(
        summary(&p),
        [
            "care-db=org.example.pg@16.0.0",
            "keycloak=org.keycloak.keycloak@1.0.0",
            "care=org.example.care@1.0.0"
        ]
    );
    assert_eq!(text(&p, "care", "DB_HOST"), "care-db-app");
    assert_eq!(text(&p, "keycloak", "DB_HOST"), "db.hospital.example");
}

#[test]
fn the_solver_gives_dedicated_consumers_different_externals() {
    // Two servers, neither restricted: each dedicated consumer gets one alone.
    let index = index(vec![
        consumer("org.keycloak.keycloak", Scope::Dedicated),
        consumer("org.example.care", Scope::Dedicated),
    ]);
    let pg_b = json!({"name": "pg-b", "interface": "postgres", "version": "16",
                      "binding": {"host": "b.hospital.example"}});
    let env = environment(json!({"services": services(), "externals": [pg_main(json!({})), pg_b]}));
    let p = plan(&index, &env).unwrap();
    let mut hosts = [text(&p, "keycloak", "DB_HOST"), text(&p, "care", "DB_HOST")];
    hosts.sort();
    assert_eq!(hosts, ["b.hospital.example", "db.hospital.example"]);
    assert_eq!(p.externals.len(), 2);
}

#[test]
fn one_consumer_with_two_dedicated_requirements_needs_two_externals() {
    let app = doc("org.example.care", "1.0.0")
        .requires_with("db", "postgres", "*", Scope::Dedicated, &[], false)
        .requires_with("audit", "postgres", "*", Scope::Dedicated, &[], false);
    let env = environment(json!({
        "services": [{"id": "org.example.care"}],
        "externals": [pg_main(json!({"per_consumer": {"care": per_consumer()["care"]}}))]
    }));
    let e = plan(&index(vec![app]), &env).unwrap_err().to_string();
    assert!(
        e.contains("care's `db` (dedicated) and care's `audit` (dedicated) would use the binding per_consumer.care"),
        "{e}"
    );
    assert!(
        e.contains("declare another external of `postgres` and name care in its `consumers`"),
        "{e}"
    );
}
