//! Planning benchmark: a 30-service environment against a synthetic index.
//!
//! ```text
//! cargo run --release -p hsp-planner --example plan_bench [RUNS]
//! ```
//!
//! The index has 5 interfaces, 3 provider services per interface and 30
//! application services, 10 releases each (450 documents). Each application
//! release needs 2 or 3 interfaces (postgres dedicated, with a feature), with
//! ranges that rule out some provider releases; some releases are yanked or
//! under a licence the policy refuses. The environment wants all 30 applications.
//! Two scenarios: `fresh` (nothing deployed) and `backtrack` (the newest release
//! of every application needs an interface version no provider offers, so the
//! solver must back off each one). Prints the median, p90 and minimum wall time
//! of a full `planner::plan` (solve and render) over RUNS runs (default 51).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hsp_index::document::{Port, Protocol, Provide, Requirement, Scope, Task};
use hsp_index::interface::{BindingField, FieldType};
use hsp_index::{Document, Environment, Interface};
use hsp_planner::{self as planner, Deployed, MemorySource};

const IFACES: [&str; 5] = ["postgres", "smtp", "fhir", "oidc", "ldap"];

fn task(id: &str, v: &str, env: BTreeMap<String, String>) -> Task {
    Task {
        name: "app".into(),
        image: format!("example.org/{id}:{v}@sha256:{}", "0".repeat(64)),
        command: None,
        ports: vec![Port {
            name: "http".into(),
            port: 8080,
            protocol: Protocol::Http,
            per_replica: false,
        }],
        env,
        memory_mib: 512,
        cpus: None,
        instances: Default::default(),
        health: None,
        volumes: vec![],
        stop_timeout_s: 10,
    }
}

fn doc(id: &str, v: &str, license: &str) -> Document {
    serde_json::from_value(serde_json::json!({
        "id": id, "version": v, "name": id, "summary": "benchmark", "publisher": "bench",
        "license": license, "tasks": []
    }))
    .expect("a document")
}

fn index(backtrack: bool) -> MemorySource {
    let interfaces: Vec<Interface> = IFACES
        .iter()
        .map(|i| Interface {
            schema: None,
            id: i.to_string(),
            name: i.to_string(),
            description: String::new(),
            versioning: "semver".into(),
            fields: ["host", "port", "url"]
                .iter()
                .map(|f| BindingField {
                    name: f.to_string(),
                    kind: FieldType::String,
                    description: String::new(),
                    required: true,
                })
                .collect(),
            features: vec![],
        })
        .collect();
    let mut docs = Vec::new();
    for (n, iface) in IFACES.iter().enumerate() {
        for p in 0..3 {
            let id = format!("org.bench.{iface}{p}");
            for r in 0..10 {
                let v = format!("{}.{r}.0", 10 + r / 3);
                let mut d = doc(
                    &id,
                    &v,
                    if r == 9 && p == 0 {
                        "LicenseRef-Proprietary"
                    } else {
                        "Apache-2.0"
                    },
                );
                if r == 8 {
                    d.yanked = Some("benchmark".into());
                }
                d.provides.push(Provide {
                    interface: iface.to_string(),
                    version: format!("{}.{}.0", 1 + r / 4, n),
                    task: "app".into(),
                    port: "http".into(),
                    features: if r % 2 == 0 {
                        vec!["schema-owner".into()]
                    } else {
                        vec![]
                    },
                    binding: [
                        ("host", "${self.app.http.host}"),
                        ("port", "${self.app.http.port}"),
                        ("url", "http://${self.app.http}/"),
                    ]
                    .iter()
                    .map(|(k, t)| (k.to_string(), t.to_string()))
                    .collect(),
                });
                d.tasks.push(task(&id, &v, BTreeMap::new()));
                docs.push(d);
            }
        }
    }
    for a in 0..30 {
        let id = format!("org.bench.app{a}");
        for r in 0..10 {
            let v = format!("1.{r}.0");
            let mut d = doc(&id, &v, "MIT");
            let mut env = BTreeMap::new();
            let needs = [0, 1 + a % 4, 1 + (a + r) % 4];
            for (k, i) in needs.iter().enumerate() {
                if k == 2 && a % 2 == 0 {
                    continue;
                }
                let name = format!("need{k}");
                let range = if backtrack && r == 9 {
                    ">=9".to_string()
                } else {
                    format!(">={}, <4", 1 + (a + r) % 2)
                };
                d.requires.push(Requirement {
                    name: name.clone(),
                    interface: IFACES[*i].to_string(),
                    version: range,
                    scope: if *i == 0 {
                        Scope::Dedicated
                    } else {
                        Scope::Shared
                    },
                    optional: false,
                    features: if *i == 0 {
                        vec!["schema-owner".into()]
                    } else {
                        vec![]
                    },
                    description: String::new(),
                });
                env.insert(format!("NEED{k}_URL"), format!("${{{name}.url}}"));
            }
            d.tasks.push(task(&id, &v, env));
            docs.push(d);
        }
    }
    MemorySource::new(interfaces, docs)
}

fn environment() -> Environment {
    let services: Vec<serde_json::Value> = (0..30)
        .map(|a| serde_json::json!({"id": format!("org.bench.app{a}"), "version": "^1"}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "name": "bench",
        "index": {"url": "https://index.example", "root": "root.json"},
        "services": services,
        "policy": {"licenses": ["MIT", "Apache-2.0"], "preferred": {"smtp": "org.bench.smtp2"}},
        "target": {"kind": "docker"}
    }))
    .expect("an environment")
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("RUNS is a number"))
        .unwrap_or(51);
    let env = environment();
    for (name, backtrack) in [("fresh", false), ("backtrack", true)] {
        let index = index(backtrack);
        let plan = planner::plan(&env, &index, &Deployed::default())
            .expect("the benchmark environment plans");
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let p = planner::plan(&env, &index, &Deployed::default()).expect("plans");
                let e = t.elapsed();
                assert_eq!(p.instances.len(), plan.instances.len());
                e
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:9}  {} wanted, {} instances: median {:.2} ms, p90 {:.2} ms, min {:.2} ms ({runs} runs)",
            env.services.len(),
            plan.instances.len(),
            ms(times[runs / 2]),
            ms(times[runs * 9 / 10]),
            ms(times[0])
        );
    }
}
