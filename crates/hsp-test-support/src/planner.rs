//! A small builder for in-memory indexes and environments (the model is cargo's
//! `cargo-test-support` registry builder), for the planner tests; and DESIGN.md's
//! worked example (the example environment and the facts its plan must show),
//! planned both from the registry folder and through the real binaries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hsp_index::document::{ConfigEntry, Port, Protocol, Provide, Requirement, Scope, Task};
use hsp_index::interface::{BindingField, FieldType};
use hsp_index::plan::{Part, ProviderRef, SecretRef};
use hsp_index::{Document, Environment, Interface, Plan};
use hsp_planner::{self as planner, Deployed, MemorySource, PlanError};

pub const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A document with one task `app` listening on `http` 8080.
pub fn doc(id: &str, version: &str) -> Document {
    Document {
        schema: None,
        id: id.into(),
        version: version.into(),
        name: id.into(),
        summary: format!("{id} for tests"),
        description: String::new(),
        publisher: "test".into(),
        homepage: None,
        support_url: None,
        license: "Apache-2.0".into(),
        licensing: None,
        release_notes: None,
        yanked: None,
        provides: vec![],
        requires: vec![],
        config: vec![],
        tasks: vec![Task {
            name: "app".into(),
            image: format!("example.org/{id}:{version}@{DIGEST}"),
            command: None,
            ports: vec![Port {
                name: "http".into(),
                port: 8080,
                protocol: Protocol::Http,
                per_replica: false,
            }],
            env: BTreeMap::new(),
            memory_mib: 256,
            cpus: None,
            instances: Default::default(),
            health: None,
            volumes: vec![],
            stop_timeout_s: 10,
        }],
        artifacts: vec![],
        smoke_test: None,
    }
}

pub trait DocExt {
    fn provides(self, interface: &str, version: &str) -> Self;
    fn provides_with(
        self,
        interface: &str,
        version: &str,
        features: &[&str],
        binding: &[(&str, &str)],
    ) -> Self;
    fn requires(self, name: &str, interface: &str, range: &str) -> Self;
    fn requires_with(
        self,
        name: &str,
        interface: &str,
        range: &str,
        scope: Scope,
        features: &[&str],
        optional: bool,
    ) -> Self;
    fn license(self, l: &str) -> Self;
    fn yanked(self, why: &str) -> Self;
    fn config(
        self,
        name: &str,
        secret: bool,
        generate: bool,
        required: bool,
        default: Option<&str>,
    ) -> Self;
    fn env(self, key: &str, template: &str) -> Self;
    /// Adds a host artifact for `platform` (a placeholder URL and hash).
    fn artifact(self, platform: &str) -> Self;
}

impl DocExt for Document {
    fn provides(self, interface: &str, version: &str) -> Self {
        self.provides_with(
            interface,
            version,
            &[],
            &[("url", "http://${self.app.http}/")],
        )
    }
    fn provides_with(
        mut self,
        interface: &str,
        version: &str,
        features: &[&str],
        binding: &[(&str, &str)],
    ) -> Self {
        self.provides.push(Provide {
            interface: interface.into(),
            version: version.into(),
            task: "app".into(),
            port: "http".into(),
            features: features.iter().map(|f| f.to_string()).collect(),
            binding: binding
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self
    }
    fn requires(self, name: &str, interface: &str, range: &str) -> Self {
        self.requires_with(name, interface, range, Scope::Shared, &[], false)
    }
    fn requires_with(
        mut self,
        name: &str,
        interface: &str,
        range: &str,
        scope: Scope,
        features: &[&str],
        optional: bool,
    ) -> Self {
        self.requires.push(Requirement {
            name: name.into(),
            interface: interface.into(),
            version: range.into(),
            scope,
            optional,
            features: features.iter().map(|f| f.to_string()).collect(),
            description: String::new(),
        });
        self
    }
    fn license(mut self, l: &str) -> Self {
        self.license = l.into();
        self
    }
    fn yanked(mut self, why: &str) -> Self {
        self.yanked = Some(why.into());
        self
    }
    fn config(
        mut self,
        name: &str,
        secret: bool,
        generate: bool,
        required: bool,
        default: Option<&str>,
    ) -> Self {
        self.config.push(ConfigEntry {
            name: name.into(),
            description: String::new(),
            required,
            secret,
            generate,
            default: default.map(str::to_string),
            pattern: None,
            example: None,
        });
        self
    }
    fn env(mut self, key: &str, template: &str) -> Self {
        self.tasks[0].env.insert(key.into(), template.into());
        self
    }
    fn artifact(mut self, platform: &str) -> Self {
        self.artifacts.push(hsp_index::document::Artifact {
            platform: platform.into(),
            url: format!(
                "https://example.org/{}-{}-{platform}.tar.gz",
                self.id, self.version
            ),
            sha256: "0".repeat(64),
            size: 1,
            entrypoint: "bin/start".into(),
        });
        self
    }
}

/// An interface with the given binding fields (all strings, `password` a secret).
pub fn iface(id: &str, fields: &[&str]) -> Interface {
    Interface {
        schema: None,
        id: id.into(),
        name: id.into(),
        description: String::new(),
        versioning: "semver".into(),
        fields: fields
            .iter()
            .map(|f| BindingField {
                name: f.to_string(),
                kind: if *f == "password" {
                    FieldType::Secret
                } else {
                    FieldType::String
                },
                description: String::new(),
                required: false,
            })
            .collect(),
        features: vec![],
    }
}

/// The interfaces every test index has.
pub fn interfaces() -> Vec<Interface> {
    ["postgres", "smtp", "fhir", "oidc", "ldap"]
        .iter()
        .map(|i| iface(i, &["url", "host", "port", "user", "password", "database"]))
        .collect()
}

pub fn index(docs: Vec<Document>) -> MemorySource {
    MemorySource::new(interfaces(), docs)
}

/// An environment from the interesting JSON fields; name, index and target are filled in.
pub fn environment(fields: serde_json::Value) -> Environment {
    let mut v = serde_json::json!({
        "name": "test",
        "index": {"url": "https://index.example", "root": "root.json"},
        "target": {"kind": "docker"}
    });
    for (k, x) in fields.as_object().expect("an object").clone() {
        v[k] = x;
    }
    serde_json::from_value(v).expect("a valid environment")
}

pub fn plan(index: &MemorySource, env: &Environment) -> Result<Plan, PlanError> {
    planner::plan(env, index, &Deployed::default())
}

pub fn plan_from(
    index: &MemorySource,
    env: &Environment,
    deployed: &Plan,
) -> Result<Plan, PlanError> {
    planner::plan(env, index, &Deployed::from(deployed))
}

/// `name=service@version` per instance, in start order.
pub fn summary(p: &Plan) -> Vec<String> {
    p.instances
        .iter()
        .map(|i| format!("{}={}@{}", i.name, i.service, i.version))
        .collect()
}

/// Rewrites the `index` of the environment file `env` to the built index
/// `out` and its first root, as a site does after `hsp-agent init --root
/// <out>/metadata/1.root.json --index <out>`.
pub fn point_at_index(env: &Path, out: &Path) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(env).unwrap()).unwrap();
    v["index"] = serde_json::json!({
        "url": out.display().to_string(),
        "root": out.join("metadata/1.root.json").display().to_string(),
    });
    crate::fs::write_json(env, &v);
}

/// The example environment in a temp dir, with its secret files (mode 0600).
pub fn example_env(dir: &Path) -> PathBuf {
    let src = crate::root().join("examples/environments/care-coordinator-docker.json");
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
        crate::set_mode(&p, 0o600);
    }
    env
}

/// The facts DESIGN.md asks of the worked example, checked on a plan.
pub fn check_worked_example(plan: &Plan, secrets_dir: &Path) {
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
