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
//!   instance's bindings point at.

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
    pub values: BTreeMap<String, Value>,
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
