//! The planner's suites, one test binary: scenarios (table-driven) with
//! explanation snapshots here, the worked example of DESIGN.md planned from the
//! example registry (`example`), and the brute-force oracle (`props`).

mod example;
mod externals;
mod props;

use hsp_index::document::Scope;
use hsp_index::plan::{Part, ProviderRef, SecretRef};
use hsp_planner::{self as planner, Action, PlanError};
use hsp_test_support::planner::*;
use serde_json::json;

fn pg(id: &str, v: &str) -> hsp_index::Document {
    doc(id, v).provides_with(
        "postgres",
        v,
        &["schema-owner"],
        &[
            ("host", "${self.app.http.host}"),
            ("port", "${self.app.http.port}"),
        ],
    )
}

fn app(v: &str) -> hsp_index::Document {
    doc("org.example.app", v)
}

#[test]
fn scenarios() {
    struct Case {
        name: &'static str,
        docs: Vec<hsp_index::Document>,
        env: serde_json::Value,
        want: Result<Vec<&'static str>, &'static str>,
    }
    let wants_app = json!([{"id": "org.example.app"}]);
    let cases = vec![
        Case {
            name: "newest provider release",
            docs: vec![
                app("1.0.0").requires("db", "postgres", ">=13"),
                pg("org.example.pg", "15.0.0"),
                pg("org.example.pg", "16.0.0"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec![
                "pg=org.example.pg@16.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "interface range limits the provider",
            docs: vec![
                app("1.0.0").requires("db", "postgres", ">=13, <16"),
                pg("org.example.pg", "15.0.0"),
                pg("org.example.pg", "16.0.0"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec![
                "pg=org.example.pg@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "newest consumer whose requirement can be met",
            docs: vec![
                app("1.0.0").requires("db", "postgres", "^15"),
                app("2.0.0").requires("db", "postgres", "^17"),
                pg("org.example.pg", "15.0.0"),
                pg("org.example.pg", "16.0.0"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec![
                "pg=org.example.pg@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "preferred provider wins over id order",
            docs: vec![
                app("1.0.0").requires("db", "postgres", "*"),
                pg("org.a.pg", "16.0.0"),
                pg("org.b.postgres", "15.0.0"),
            ],
            env: json!({"services": wants_app, "policy": {"preferred": {"postgres": "org.b.postgres"}}}),
            want: Ok(vec![
                "postgres=org.b.postgres@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "without preference, providers by id",
            docs: vec![
                app("1.0.0").requires("db", "postgres", "*"),
                pg("org.b.postgres", "16.0.0"),
                pg("org.a.pg", "15.0.0"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec!["pg=org.a.pg@15.0.0", "app=org.example.app@1.0.0"]),
        },
        Case {
            name: "a wanted provider is preferred to adding another service",
            docs: vec![
                app("1.0.0").requires("db", "postgres", "*"),
                pg("org.a.pg", "16.0.0"),
                pg("org.b.postgres", "15.0.0"),
            ],
            env: json!({"services": [{"id": "org.example.app"}, {"id": "org.b.postgres", "name": "main-db"}]}),
            want: Ok(vec![
                "main-db=org.b.postgres@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "an external pins the interface",
            docs: vec![
                app("1.0.0").requires("db", "postgres", ">=13"),
                pg("org.example.pg", "16.0.0"),
            ],
            env: json!({"services": wants_app, "externals": [{"name": "hospital-pg", "interface": "postgres", "version": "14"}]}),
            want: Ok(vec!["app=org.example.app@1.0.0"]),
        },
        Case {
            name: "yanked releases are not chosen",
            docs: vec![
                app("1.0.0").requires("db", "postgres", "*"),
                pg("org.example.pg", "15.0.0"),
                pg("org.example.pg", "16.0.0").yanked("data loss"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec![
                "pg=org.example.pg@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "licence policy",
            docs: vec![
                app("1.0.0").requires("db", "postgres", "*"),
                pg("org.example.pg", "15.0.0").license("MIT"),
                pg("org.example.pg", "16.0.0").license("PostgreSQL"),
            ],
            env: json!({"services": wants_app, "policy": {"licenses": ["Apache-2.0", "MIT"]}}),
            want: Ok(vec![
                "pg=org.example.pg@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "any SPDX form of an allowed licence",
            docs: vec![
                app("1.0.0")
                    .license("GPL-2.0-or-later OR LicenseRef-Acme")
                    .requires("db", "postgres", "*"),
                pg("org.example.pg", "15.0.0"),
            ],
            env: json!({"services": wants_app, "policy": {"licenses": ["Apache-2.0", "GPL-2.0"]}}),
            want: Ok(vec![
                "pg=org.example.pg@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "dedicated requirements get their own instances",
            docs: vec![
                doc("org.example.one", "1.0.0").requires_with(
                    "db",
                    "postgres",
                    "*",
                    Scope::Dedicated,
                    &[],
                    false,
                ),
                doc("org.example.two", "1.0.0").requires_with(
                    "db",
                    "postgres",
                    "*",
                    Scope::Dedicated,
                    &[],
                    false,
                ),
                pg("org.example.pg", "16.0.0"),
            ],
            env: json!({"services": [{"id": "org.example.one"}, {"id": "org.example.two"}]}),
            want: Ok(vec![
                "one-db=org.example.pg@16.0.0",
                "two-db=org.example.pg@16.0.0",
                "one=org.example.one@1.0.0",
                "two=org.example.two@1.0.0",
            ]),
        },
        Case {
            name: "shared requirements share one instance",
            docs: vec![
                doc("org.example.one", "1.0.0").requires("db", "postgres", "*"),
                doc("org.example.two", "1.0.0").requires("db", "postgres", "<17"),
                pg("org.example.pg", "16.0.0"),
                pg("org.example.pg", "17.0.0"),
            ],
            env: json!({"services": [{"id": "org.example.one"}, {"id": "org.example.two"}]}),
            want: Ok(vec![
                "pg=org.example.pg@16.0.0",
                "one=org.example.one@1.0.0",
                "two=org.example.two@1.0.0",
            ]),
        },
        Case {
            name: "features",
            docs: vec![
                app("1.0.0").requires_with(
                    "db",
                    "postgres",
                    "*",
                    Scope::Shared,
                    &["schema-owner"],
                    false,
                ),
                pg("org.example.pg", "15.0.0"),
                doc("org.example.pg", "16.0.0").provides("postgres", "16.0.0"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec![
                "pg=org.example.pg@15.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "optional requirement never adds a service",
            docs: vec![
                app("1.0.0").requires_with("mail", "smtp", "*", Scope::Shared, &[], true),
                doc("org.example.mailpit", "1.0.0").provides("smtp", "1.0.0"),
            ],
            env: json!({"services": wants_app}),
            want: Ok(vec!["app=org.example.app@1.0.0"]),
        },
        Case {
            name: "optional requirement binds a wanted provider",
            docs: vec![
                app("1.0.0").requires_with("mail", "smtp", "*", Scope::Shared, &[], true),
                doc("org.example.mailpit", "1.0.0").provides("smtp", "1.0.0"),
            ],
            env: json!({"services": [{"id": "org.example.app"}, {"id": "org.example.mailpit"}]}),
            want: Ok(vec![
                "mailpit=org.example.mailpit@1.0.0",
                "app=org.example.app@1.0.0",
            ]),
        },
        Case {
            name: "pins",
            docs: vec![app("1.0.0"), app("1.1.0"), app("1.2.0")],
            env: json!({"services": [{"id": "org.example.app", "pin": "1.1.0"}]}),
            want: Ok(vec!["app=org.example.app@1.1.0"]),
        },
        Case {
            name: "same last label: instance names fall back to the id",
            docs: vec![
                doc("org.a.server", "1.0.0").requires("db", "postgres", "*"),
                doc("org.b.server", "1.0.0").provides("postgres", "16.0.0"),
            ],
            env: json!({"services": [{"id": "org.a.server"}]}),
            want: Ok(vec![
                "org-b-server=org.b.server@1.0.0",
                "org-a-server=org.a.server@1.0.0",
            ]),
        },
        Case {
            name: "providers that need each other",
            docs: vec![
                doc("org.example.a", "1.0.0")
                    .provides("fhir", "4.0.1")
                    .requires("mail", "smtp", "*"),
                doc("org.example.b", "1.0.0")
                    .provides("smtp", "1.0.0")
                    .requires("fhir", "fhir", "*"),
            ],
            env: json!({"services": [{"id": "org.example.a"}]}),
            want: Err("dependency cycle among a, b"),
        },
        Case {
            name: "dedicated copies of itself stop at the depth limit",
            docs: vec![doc("org.example.pg", "1.0.0")
                .provides("postgres", "16.0.0")
                .requires_with("replica", "postgres", "*", Scope::Dedicated, &[], false)],
            env: json!({"services": [{"id": "org.example.pg"}]}),
            want: Err("would nest dedicated providers more than 6 deep"),
        },
    ];
    for c in cases {
        let index = index(c.docs);
        let env = environment(c.env);
        let got = plan(&index, &env)
            .map(|p| summary(&p))
            .map_err(|e| e.to_string());
        match (&got, &c.want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{}", c.name),
            (Err(got), Err(want)) => assert!(got.contains(want), "{}: {got}", c.name),
            _ => panic!("{}: got {got:?}, want {:?}", c.name, c.want),
        }
    }
}

#[test]
fn deployed_versions_move_within_the_update_mode() {
    let docs = vec![
        app("1.0.0").requires("db", "postgres", "*"),
        pg("org.example.pg", "15.1.0"),
        pg("org.example.pg", "15.1.5"),
        pg("org.example.pg", "15.2.0"),
        pg("org.example.pg", "15.3.0").yanked("broken"),
        pg("org.example.pg", "16.0.0"),
    ];
    let index = index(docs);
    let first = plan(
        &index,
        &environment(
            json!({"services": [{"id": "org.example.app"}], "policy": {"update": "none"}}),
        ),
    )
    .unwrap();
    // Pretend 15.1.0 and a yanked release are deployed.
    for (deployed_pg, mode, want) in [
        ("15.1.0", "none", "15.1.0"),
        ("15.1.0", "patch", "15.1.5"),
        ("15.1.0", "minor", "15.2.0"),
        ("15.1.0", "any", "16.0.0"),
        ("15.3.0", "none", "15.3.0"),
        ("15.3.0", "patch", "15.3.0"),
    ] {
        let mut deployed = first.clone();
        deployed.instances[0].version = deployed_pg.into();
        let env = environment(
            json!({"services": [{"id": "org.example.app"}], "policy": {"update": mode}}),
        );
        let next = plan_from(&index, &env, &deployed).unwrap();
        assert_eq!(
            next.instances[0].version, want,
            "deployed {deployed_pg}, mode {mode}: {}",
            next.instances[0].reason
        );
        let actions = planner::actions(Some(&deployed), &next);
        let expected = if want == deployed_pg {
            "keep"
        } else {
            "upgrade"
        };
        assert!(
            actions[0].to_string().starts_with(expected),
            "{deployed_pg} {mode}: {}",
            actions[0]
        );
    }
}

#[test]
fn deployed_provider_is_kept_over_the_preferred_one() {
    let docs = vec![
        app("1.0.0").requires("db", "postgres", "*"),
        pg("org.a.pg", "16.0.0"),
        pg("org.b.postgres", "16.0.0"),
    ];
    let index = index(docs);
    let env_b = environment(
        json!({"services": [{"id": "org.example.app"}], "policy": {"preferred": {"postgres": "org.b.postgres"}}}),
    );
    let deployed = plan(&index, &env_b).unwrap();
    assert_eq!(
        summary(&deployed),
        [
            "postgres=org.b.postgres@16.0.0",
            "app=org.example.app@1.0.0"
        ]
    );
    let env_a = environment(
        json!({"services": [{"id": "org.example.app"}], "policy": {"preferred": {"postgres": "org.a.pg"}}}),
    );
    let next = plan_from(&index, &env_a, &deployed).unwrap();
    assert_eq!(
        summary(&next),
        summary(&deployed),
        "the bound provider wins"
    );
    assert!(
        next.instances[0]
            .reason
            .contains("the provider it is bound to now"),
        "{}",
        next.instances[0].reason
    );
    // Without anything deployed, the preference applies.
    assert_eq!(
        summary(&plan(&index, &env_a).unwrap())[0],
        "pg=org.a.pg@16.0.0"
    );
}

#[test]
fn actions_against_what_is_deployed() {
    let index = index(vec![
        app("1.0.0").requires("db", "postgres", "*"),
        app("2.0.0").requires("db", "postgres", "*"),
        pg("org.example.pg", "16.0.0"),
        doc("org.example.old", "1.0.0"),
    ]);
    let before = plan(&index, &environment(json!({"services": [{"id": "org.example.app", "version": "^1"}, {"id": "org.example.old"}]}))).unwrap();
    let after = plan_from(
        &index,
        &environment(json!({"services": [{"id": "org.example.app", "version": "^2"}]})),
        &before,
    )
    .unwrap();
    let actions = planner::actions(Some(&before), &after);
    assert_eq!(
        actions,
        vec![
            Action::Keep {
                instance: "pg".into(),
                service: "org.example.pg".into(),
                version: "16.0.0".into(),
                reconfigure: false
            },
            Action::Upgrade {
                instance: "app".into(),
                service: "org.example.app".into(),
                from: "1.0.0".into(),
                to: "2.0.0".into()
            },
            Action::Remove {
                instance: "old".into(),
                service: "org.example.old".into(),
                version: "1.0.0".into()
            },
        ]
    );
}

#[test]
fn templates_are_rendered_and_secrets_stay_references() {
    let db = doc("org.example.pg", "16.0.0")
        .config("POSTGRES_PASSWORD", true, true, false, None)
        .provides_with(
            "postgres",
            "16.0.0",
            &[],
            &[
                (
                    "url",
                    "postgres://app:${config.POSTGRES_PASSWORD}@${self.app.http}/app",
                ),
                ("host", "${self.app.http.host}"),
                ("port", "${self.app.http.port}"),
            ],
        );
    let consumer = app("1.0.0")
        .requires_with("db", "postgres", "*", Scope::Dedicated, &[], false)
        .requires("mail", "smtp", "*")
        .config("TOKEN", true, false, true, None)
        .config("LEVEL", false, false, false, Some("info"))
        .env("DATABASE_URL", "${db.url}")
        .env("DB", "${db.host}:${db.port}")
        .env("MAIL", "${mail.host}:${mail.port} as ${mail.user}")
        .env("TOKEN", "Bearer ${config.TOKEN}")
        .env("LEVEL", "$${LEVEL}=${config.LEVEL}")
        .env("SELF", "http://${self.app.http}/");
    let index = index(vec![db, consumer]);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    let env = environment(json!({
        "services": [{"id": "org.example.app", "name": "portal"}],
        "externals": [{"name": "relay", "interface": "smtp", "version": "1.0.0",
                       "binding": {"host": "mail.example", "port": "25", "user": "portal"}}],
        "config": {"portal": {"TOKEN": {"secret_file": secret.display().to_string()}}}
    }));
    let plan = plan(&index, &env).unwrap();
    assert_eq!(
        summary(&plan),
        [
            "portal-db=org.example.pg@16.0.0",
            "portal=org.example.app@1.0.0"
        ]
    );
    let portal = &plan.instances[1];
    assert_eq!(portal.depends_on, ["portal-db"]);
    assert_eq!(plan.instances[0].dedicated_to.as_deref(), Some("portal"));
    let env_of = |k: &str| portal.tasks[0].env[k].clone();
    assert_eq!(
        env_of("DATABASE_URL").to_string(),
        "postgres://app:<secret>@portal-db-app:8080/app"
    );
    assert_eq!(
        env_of("DATABASE_URL").0[1],
        Part::Secret(SecretRef::Generated {
            instance: "portal-db".into(),
            name: "POSTGRES_PASSWORD".into()
        })
    );
    assert_eq!(env_of("DB").as_plain().unwrap(), "portal-db-app:8080");
    assert_eq!(
        env_of("MAIL").as_plain().unwrap(),
        "mail.example:25 as portal"
    );
    assert_eq!(
        env_of("TOKEN").0[1],
        Part::Secret(SecretRef::File {
            path: secret.display().to_string()
        })
    );
    assert_eq!(env_of("LEVEL").as_plain().unwrap(), "${LEVEL}=info");
    assert_eq!(
        env_of("SELF").as_plain().unwrap(),
        "http://portal-app:8080/"
    );
    assert_eq!(
        portal.bindings["mail"].provider,
        ProviderRef::External("relay".into())
    );
    assert_eq!(plan.externals.len(), 1);
    let json = serde_json::to_string(&plan).unwrap();
    assert!(!json.contains("s3cret"), "no secret values in plans");
}

#[test]
fn config_errors_say_what_to_do() {
    let consumer = app("1.0.0").config("TOKEN", true, false, true, None);
    let index = index(vec![consumer]);
    for (config, want) in [
        (json!({}), "instance app: config TOKEN is required by org.example.app and has no value (hint: add it to the environment under config.org.example.app.TOKEN)"),
        (json!({"app": {"TOKEN": "plain"}}), "config TOKEN is a secret but the environment gives it as plain text"),
    ] {
        let env = environment(json!({"services": [{"id": "org.example.app"}], "config": config}));
        let e = plan(&index, &env).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

fn explanation(docs: Vec<hsp_index::Document>, env: serde_json::Value) -> String {
    match plan(&index(docs), &environment(env)) {
        Err(PlanError::NoSolution(e)) => e.to_string(),
        other => panic!("expected no solution, got {other:?}"),
    }
}

#[test]
fn explains_a_licence_and_a_yanked_release() {
    let text = explanation(
        vec![
            app("1.0.0").requires("db", "postgres", ">=15"),
            pg("org.example.pg", "14.0.0"),
            pg("org.example.pg", "15.0.0").yanked("corrupts indexes"),
            pg("org.example.pg", "16.0.0").license("PostgreSQL"),
        ],
        json!({"services": [{"id": "org.example.app"}], "policy": {"licenses": ["Apache-2.0"]}}),
    );
    insta::assert_snapshot!("licence_and_yanked", text);
}

#[test]
fn explains_an_external_that_does_not_fit() {
    let text = explanation(
        vec![
            app("1.0.0").requires_with(
                "db",
                "postgres",
                ">=13",
                Scope::Dedicated,
                &["schema-owner"],
                false,
            ),
            pg("org.example.pg", "16.0.0"),
        ],
        json!({"services": [{"id": "org.example.app"}], "externals": [{"name": "hospital-pg", "interface": "postgres", "version": "12"}]}),
    );
    insta::assert_snapshot!("external_mismatch", text);
}

#[test]
fn explains_a_conflict_between_consumers() {
    let text = explanation(
        vec![
            doc("org.example.one", "1.0.0").requires("db", "postgres", "<16"),
            doc("org.example.two", "1.0.0").requires("db", "postgres", ">=16"),
            pg("org.example.pg", "15.0.0"),
            pg("org.example.pg", "16.0.0"),
        ],
        json!({"services": [{"id": "org.example.one"}, {"id": "org.example.two"}]}),
    );
    insta::assert_snapshot!("shared_conflict", text);
}

#[test]
fn explains_missing_features_and_providers() {
    let text = explanation(
        vec![
            app("1.0.0")
                .requires_with(
                    "db",
                    "postgres",
                    "*",
                    Scope::Shared,
                    &["schema-owner"],
                    false,
                )
                .requires("dir", "ldap", "^3"),
            doc("org.example.pg", "16.0.0").provides("postgres", "16.0.0"),
        ],
        json!({"services": [{"id": "org.example.app"}]}),
    );
    insta::assert_snapshot!("missing_feature", text);
}

#[test]
fn explains_an_unknown_service_and_a_wanted_range() {
    let text = explanation(
        vec![app("1.0.0"), app("1.1.0")],
        json!({"services": [{"id": "org.example.app", "version": "^2"}, {"id": "org.example.nope"}]}),
    );
    insta::assert_snapshot!("unknown_and_range", text);
}

#[test]
fn explains_the_update_mode() {
    let index = index(vec![
        app("1.0.0").requires("db", "postgres", "*"),
        app("2.0.0").requires("db", "postgres", ">=16"),
        pg("org.example.pg", "15.0.0"),
        pg("org.example.pg", "16.0.0"),
    ]);
    let env = environment(
        json!({"services": [{"id": "org.example.app", "version": "^1"}], "policy": {"update": "none"}}),
    );
    let mut deployed = plan(&index, &env).unwrap();
    deployed.instances[0].version = "15.0.0".into();
    let env = environment(
        json!({"services": [{"id": "org.example.app", "version": "^2"}], "policy": {"update": "minor"}}),
    );
    let text = match plan_from(&index, &env, &deployed) {
        Err(PlanError::NoSolution(e)) => e.to_string(),
        other => panic!("expected no solution, got {other:?}"),
    };
    insta::assert_snapshot!("update_mode", text);
}

/// On a host target only releases with an artifact for the host's platform
/// are candidates, and the plan says which newer ones were ruled out; docker
/// targets and callers that do not know the platform are not limited.
#[test]
fn a_host_target_plans_only_releases_with_an_artifact_for_its_platform() {
    let docs = vec![
        app("1.0.0").artifact("linux-x86_64"),
        app("1.1.0").artifact("linux-aarch64"),
        app("1.2.0"),
    ];
    let index = index(docs);
    let host = |fields: serde_json::Value| {
        let mut env = json!({"services": [{"id": "org.example.app"}], "target": {"kind": "host"}});
        for (k, v) in fields.as_object().unwrap() {
            env[k] = v.clone();
        }
        environment(env)
    };
    let on = |platform: &str| planner::PlanOptions {
        host_platform: Some(platform.into()),
    };
    let deployed = planner::Deployed::default();
    let p = planner::plan_with(&host(json!({})), &index, &deployed, &on("linux-x86_64")).unwrap();
    assert_eq!(summary(&p), ["app=org.example.app@1.0.0"]);
    let why = &p.instances[0].reason;
    assert!(
        why.contains("1.2.0: it has no artifact for this host's platform linux-x86_64 (it has: none)")
            && why.contains("1.1.0: it has no artifact for this host's platform linux-x86_64 (it has: linux-aarch64)"),
        "{why}"
    );
    let p = planner::plan_with(&host(json!({})), &index, &deployed, &on("linux-aarch64")).unwrap();
    assert_eq!(summary(&p), ["app=org.example.app@1.1.0"]);
    // Docker, or a platform not given: every release is a candidate.
    let docker = environment(json!({"services": [{"id": "org.example.app"}]}));
    let p = planner::plan_with(&docker, &index, &deployed, &on("linux-x86_64")).unwrap();
    assert_eq!(summary(&p), ["app=org.example.app@1.2.0"]);
    assert_eq!(
        summary(&plan(&index, &host(json!({}))).unwrap()),
        ["app=org.example.app@1.2.0"]
    );
    // None fits: the explanation names each release and why.
    let err =
        planner::plan_with(&host(json!({})), &index, &deployed, &on("linux-riscv64")).unwrap_err();
    let PlanError::NoSolution(e) = err else {
        panic!("expected no solution, got {err:?}")
    };
    insta::assert_snapshot!("host_platform", e.to_string());
}

/// A deployed release that was yanked since is kept, and reported with the
/// newest release that could replace it (and why the plan does not move), or
/// that none can.
#[test]
fn a_deployed_yanked_release_is_reported_with_its_replacement() {
    let env = environment(
        json!({"services": [{"id": "org.example.app"}], "policy": {"update": "patch"}}),
    );
    let first = plan(&index(vec![app("1.0.0")]), &env).unwrap();
    let options = planner::PlanOptions::default();
    let deployed = planner::Deployed::from(&first);
    for (docs, want) in [
        (
            vec![app("1.0.0").yanked("CVE-2026-1"), app("1.0.1").yanked(""), app("2.0.0")],
            "1.0.0 is yanked (CVE-2026-1); newest allowed replacement: 2.0.0 (not chosen: 1.0.0 is deployed and update mode `patch` allows only >=1.0.0, <1.1.0)",
        ),
        (
            vec![app("1.0.0").yanked(""), app("2.0.0").license("LicenseRef-Other")],
            "1.0.0 is yanked; no allowed replacement: every other release is yanked, not allowed by the policy, marked bad or outside the wanted range",
        ),
    ] {
        let index = index(docs);
        let env = environment(json!({"services": [{"id": "org.example.app"}], "policy": {"update": "patch", "licenses": ["Apache-2.0"]}}));
        let next = plan_from(&index, &env, &first).unwrap();
        assert_eq!(summary(&next), ["app=org.example.app@1.0.0"]);
        let y = planner::yanked(&env, &index, &deployed, &options, &next).unwrap();
        let lines: Vec<String> = y.iter().map(|y| format!("{}: {y}", y.instance)).collect();
        assert_eq!(lines, [format!("app: {want}")]);
    }
    // Not yanked: nothing to report.
    let index = index(vec![app("1.0.0"), app("1.0.1")]);
    let next = plan_from(&index, &env, &first).unwrap();
    assert_eq!(
        planner::yanked(&env, &index, &deployed, &options, &next).unwrap(),
        vec![]
    );
}

/// `policy.require_validated`: only releases with a passing validation report
/// in the index are candidates; the reason names the others.
#[test]
fn an_environment_can_require_validated_releases() {
    let report = |v: &str, failed: bool| -> hsp_index::validation::Report {
        serde_json::from_value(json!({
            "service": "org.example.app", "version": v, "document_sha256": "00",
            "validated_at": "2026-12-01T00:00:00Z", "engine": "docker 28",
            "rules": [{"rule": "healthy", "outcome": if failed { "fail" } else { "pass" }, "evidence": "x"}]
        }))
        .unwrap()
    };
    let index = index(vec![app("1.0.0"), app("1.1.0"), app("1.2.0")])
        .with_validation(report("1.0.0", false))
        .with_validation(report("1.1.0", true));
    let any = environment(json!({"services": [{"id": "org.example.app"}]}));
    assert_eq!(
        summary(&plan(&index, &any).unwrap()),
        ["app=org.example.app@1.2.0"]
    );
    let strict = environment(
        json!({"services": [{"id": "org.example.app"}], "policy": {"require_validated": true}}),
    );
    let p = plan(&index, &strict).unwrap();
    assert_eq!(summary(&p), ["app=org.example.app@1.0.0"]);
    let why = &p.instances[0].reason;
    assert!(
        why.contains("1.2.0: the registry has no validation of it")
            && why.contains("1.1.0: its validation failed 1 rule(s)"),
        "{why}"
    );
}
