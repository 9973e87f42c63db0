//! A small builder for in-memory indexes and environments (the model is cargo's
//! `cargo-test-support` registry builder), shared by the planner tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use hsp_index::document::{ConfigEntry, Port, Protocol, Provide, Requirement, Scope, Task};
use hsp_index::interface::{BindingField, FieldType};
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
        });
        self
    }
    fn env(mut self, key: &str, template: &str) -> Self {
        self.tasks[0].env.insert(key.into(), template.into());
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
