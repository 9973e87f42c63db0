//! A resolved plan: the concrete instances an environment runs.
//!
//! The planner (in `hsp-agent`) produces it from an environment and a verified
//! index; the drivers (docker, host) and exporters (Kubernetes, Helm, Compose)
//! consume it. Everything is rendered except secrets, which stay references and
//! are read only by whoever finally starts a process.
//!
//! Naming and addresses (the planner renders templates with these, so drivers and
//! exporters must provide them):
//! - instance names are unique in a plan, `[a-z][a-z0-9-]*`: the wanted entry's
//!   `name`, else the name it is deployed under, else the last label of the
//!   service id (the dashed id when two would clash); a dedicated provider is
//!   `<consumer>-<requirement>` (`_` turned into `-`);
//! - on Docker (and in exports), each task of an instance is reachable under the
//!   DNS name `<instance>-<task>` on its declared port: `${self.<task>.<port>}`
//!   renders as `<instance>-<task>:<port>`, `.host` as `<instance>-<task>`,
//!   `.port` as the number; on a host target every task listens on the host, and
//!   the planner renders the host as `127.0.0.1`;
//! - instances are listed providers first; `depends_on` names the instances an
//!   instance's bindings point at;
//! - a volume belongs to its instance, not to a task: every task of the instance
//!   that declares a volume of that name mounts the same one (an app task and a
//!   worker task share `documents`), named [`volume_name`] and listed, with the
//!   tasks that mount it, by [`PlannedInstance::volumes`]. The Docker driver, the
//!   host driver and the three exporters all go through these two.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::document::{Artifact, Health, Instances, Port, Volume};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Environment name.
    pub environment: String,
    /// Instances in start order: every provider before its consumers.
    pub instances: Vec<PlannedInstance>,
    /// External services the plan binds to.
    #[serde(default)]
    pub externals: Vec<PlannedExternal>,
}

/// One deployed copy of one service version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedInstance {
    /// Unique in the plan, `[a-z][a-z0-9-]*`, e.g. `hapi` or `hapi-db`.
    pub name: String,
    /// Service id.
    pub service: String,
    pub version: String,
    pub license: String,
    /// Why this version of this service was chosen, in a sentence.
    pub reason: String,
    /// Set when the instance is a dedicated provider for one consumer instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_to: Option<String>,
    /// Requirement name -> what satisfies it.
    #[serde(default)]
    pub bindings: BTreeMap<String, Binding>,
    /// Names of instances that must be healthy before this one starts.
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub tasks: Vec<PlannedTask>,
}

impl PlannedInstance {
    /// The instance's volumes, each once, in the order the tasks first declare
    /// them, with every task that mounts it: the one sharing rule of drivers and
    /// exporters.
    pub fn volumes(&self) -> Vec<InstanceVolume<'_>> {
        let mut out: Vec<InstanceVolume<'_>> = Vec::new();
        for task in &self.tasks {
            for v in &task.volumes {
                match out.iter_mut().find(|iv| iv.volume == v.name) {
                    Some(iv) => iv.mounts.push((task, v)),
                    None => out.push(InstanceVolume {
                        instance: &self.name,
                        volume: &v.name,
                        mounts: vec![(task, v)],
                    }),
                }
            }
        }
        out
    }
}

/// The name of volume `volume` of instance `instance` in its environment:
/// `<instance>-<volume>`. It is the Compose volume and the Kubernetes
/// PersistentVolumeClaim; the Docker driver puts `hsp-<env>-` in front, as it
/// does for every object it creates (`hsp-<env>-<instance>-<volume>`, the names
/// deployed sites have, so they must not change); the host driver keeps the
/// volume in `<instance>/volumes/<volume>` under its root.
pub fn volume_name(instance: &str, volume: &str) -> String {
    format!("{instance}-{volume}")
}

/// One volume of an instance and the tasks that mount it.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceVolume<'a> {
    pub instance: &'a str,
    /// The volume's declared name, e.g. `documents`.
    pub volume: &'a str,
    /// Each task that declares it, with its declaration (the mount path).
    pub mounts: Vec<(&'a PlannedTask, &'a Volume)>,
}

impl InstanceVolume<'_> {
    /// [`volume_name`]: `<instance>-<volume>`.
    pub fn name(&self) -> String {
        volume_name(self.instance, self.volume)
    }

    /// How many containers (pods) may mount it at once: each mounting task's
    /// maximum instances, summed (a task counts at least once).
    pub fn max_mounts(&self) -> u32 {
        let mut tasks: Vec<&str> = Vec::new();
        let mut n = 0u32;
        for (task, _) in &self.mounts {
            if !tasks.contains(&task.name.as_str()) {
                tasks.push(&task.name);
                n = n.saturating_add(task.instances.max.max(1));
            }
        }
        n
    }

    /// Whether more than one container (pod) may mount it at once: replicas of
    /// a task, or two tasks. On Kubernetes such a volume needs ReadWriteMany.
    pub fn is_shared(&self) -> bool {
        self.max_mounts() > 1
    }
}

/// What satisfies a requirement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Binding {
    pub interface: String,
    /// Interface version offered.
    pub version: String,
    pub provider: ProviderRef,
    /// Binding field values.
    pub values: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum ProviderRef {
    /// An instance in this plan.
    Instance(String),
    /// An external service of the environment.
    External(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedExternal {
    pub name: String,
    pub interface: String,
    pub version: String,
    /// The values every consumer without a binding of its own gets.
    pub values: BTreeMap<String, Value>,
    /// Consumer instance -> the fields of its own binding (the environment's
    /// `per_consumer` entry), overriding `values` for that consumer only. Its
    /// bindings hold the merged values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_consumer: BTreeMap<String, BTreeMap<String, Value>>,
}

/// One task of an instance, fully rendered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedTask {
    pub name: String,
    /// Image pinned by digest.
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub ports: Vec<Port>,
    pub env: BTreeMap<String, Value>,
    pub memory_mib: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    pub instances: Instances,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    pub stop_timeout_s: u32,
    /// Bare-metal artifacts, for the host driver.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

/// A rendered value: literal text with secret parts kept as references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Value(pub Vec<Part>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Text(String),
    Secret(SecretRef),
}

/// Where a secret's value is read at deploy time.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum SecretRef {
    /// A file the operator wrote (mode 0600).
    File { path: String },
    /// Generated by the agent on first deployment and kept in its state dir under
    /// `secrets/<instance>/<name>`.
    Generated { instance: String, name: String },
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value(vec![Part::Text(s.into())])
    }

    /// Whether any part is a secret.
    pub fn is_secret(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Secret(_)))
    }

    /// The value as plain text, when it has no secret part.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Secret(_) => return None,
            }
        }
        Some(out)
    }

    /// Renders the value, asking `secret` for each secret part.
    pub fn render<E>(
        &self,
        mut secret: impl FnMut(&SecretRef) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Secret(r) => out.push_str(&secret(r)?),
            }
        }
        Ok(out)
    }
}

/// Displays secrets as `<secret>`: safe to print and log.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Part::Text(t) => f.write_str(t)?,
                Part::Secret(_) => f.write_str("<secret>")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(tasks: &[(&str, u32, &[&str])]) -> PlannedInstance {
        let task = |(name, max, volumes): &(&str, u32, &[&str])| PlannedTask {
            name: name.to_string(),
            image: "x".into(),
            command: None,
            ports: vec![],
            env: BTreeMap::new(),
            memory_mib: 64,
            cpus: None,
            instances: Instances { min: 1, max: *max },
            health: None,
            volumes: volumes
                .iter()
                .map(|v| Volume {
                    name: v.to_string(),
                    path: format!("/{name}/{v}"),
                })
                .collect(),
            stop_timeout_s: 5,
            artifacts: vec![],
        };
        PlannedInstance {
            name: "care".into(),
            service: "org.example.care".into(),
            version: "1.0.0".into(),
            license: "MIT".into(),
            reason: "r".into(),
            dedicated_to: None,
            bindings: BTreeMap::new(),
            depends_on: vec![],
            tasks: tasks.iter().map(task).collect(),
        }
    }

    #[test]
    fn volumes_belong_to_the_instance() {
        // (tasks: name, max instances, volumes) -> (volume, name, mounting tasks, shared)
        type Tasks = &'static [(&'static str, u32, &'static [&'static str])];
        type Want = (&'static str, &'static str, &'static [&'static str], bool);
        let cases: &[(Tasks, &[Want])] = &[
            (
                &[("app", 1, &["data"])],
                &[("data", "care-data", &["app"], false)],
            ),
            (
                &[("app", 3, &["data"])],
                &[("data", "care-data", &["app"], true)],
            ),
            (
                &[
                    ("app", 1, &["documents", "cache"]),
                    ("worker", 1, &["documents"]),
                ],
                &[
                    ("documents", "care-documents", &["app", "worker"], true),
                    ("cache", "care-cache", &["app"], false),
                ],
            ),
            (&[("app", 1, &[]), ("worker", 1, &[])], &[]),
        ];
        for (tasks, want) in cases {
            let i = instance(tasks);
            let got: Vec<_> = i
                .volumes()
                .iter()
                .map(|v| {
                    let tasks: Vec<&str> = v.mounts.iter().map(|(t, _)| t.name.as_str()).collect();
                    (v.volume, v.name(), tasks, v.is_shared())
                })
                .collect();
            let want: Vec<_> = want
                .iter()
                .map(|(v, n, t, s)| (*v, n.to_string(), t.to_vec(), *s))
                .collect();
            assert_eq!(got, want, "{tasks:?}");
        }
        assert_eq!(volume_name("hapi-db", "data"), "hapi-db-data");
    }

    #[test]
    fn display_hides_secrets() {
        let v = Value(vec![
            Part::Text("postgres://app:".into()),
            Part::Secret(SecretRef::Generated {
                instance: "db".into(),
                name: "PASSWORD".into(),
            }),
            Part::Text("@db:5432/app".into()),
        ]);
        assert_eq!(v.to_string(), "postgres://app:<secret>@db:5432/app");
        assert!(v.is_secret());
        assert_eq!(v.as_plain(), None);
        let rendered: Result<String, ()> = v.render(|_| Ok("s3cret".into()));
        assert_eq!(rendered.unwrap(), "postgres://app:s3cret@db:5432/app");
    }
}
