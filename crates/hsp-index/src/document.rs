//! The conformance document: one JSON file per service version.
//!
//! In a registry repo it lives at
//! `publishers/<publisher>/services/<id>/<version>.json`; in the built index its
//! TUF target path is `services/<id>/<version>.json` and its bytes are exactly the
//! bytes the publisher signed.
//!
//! Templates: task `env` values and provider `binding` values may contain
//! `${<requirement>.<field>}` (a binding field of the interface a requirement names),
//! `${config.<NAME>}` (a declared config entry) and `${self.<task>.<port>}` (this
//! service's own port as `host:port`; `.host` and `.port` suffixes select a part).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One version of one service, as its publisher describes and signs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// URL or path of the JSON Schema, for editors. Ignored by HSP.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Reverse-DNS service id, e.g. `org.hapifhir.server`; lowercase
    /// `[a-z0-9-]` labels separated by dots, at least two labels.
    #[schemars(regex(
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"
    ))]
    pub id: String,
    /// Semantic version of this release; `7.4` is read as `7.4.0`.
    pub version: String,
    /// Human name, e.g. `HAPI FHIR Server`.
    pub name: String,
    /// One line shown in listings.
    pub summary: String,
    /// Longer description (plain text or Markdown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Name of the publisher record that signs this document.
    pub publisher: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    /// SPDX licence expression, e.g. `Apache-2.0` or `MIT OR Apache-2.0`.
    pub license: String,
    /// Required when the licence is not one of the registry's open-source licences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensing: Option<Licensing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// Set when the version is withdrawn: kept in the index, never chosen for new
    /// deployments. The value is the reason shown to operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    /// Interfaces this service offers.
    #[serde(default)]
    pub provides: Vec<Provide>,
    /// Interfaces this service needs; any provider can satisfy them.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// Settings the operator supplies.
    #[serde(default)]
    pub config: Vec<ConfigEntry>,
    /// Entry processes (`app`, `worker`, ...), at least one.
    pub tasks: Vec<Task>,
    /// Bare-metal artifacts, per platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// What a validator runs to prove this version works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke_test: Option<SmokeTest>,
}

/// An interface this service offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provide {
    /// Interface id, e.g. `fhir`.
    pub interface: String,
    /// Version of the interface offered, e.g. `4.0.1`.
    pub version: String,
    /// Task that serves it.
    pub task: String,
    /// Name of the task port that serves it.
    pub port: String,
    /// Optional features offered (e.g. `schema-owner` for postgres), matched
    /// against a requirement's `features`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Values of the interface's binding fields, templated.
    #[serde(default)]
    pub binding: BTreeMap<String, String>,
}

/// Whether a requirement may share its provider with other consumers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One provider instance may serve many consumers.
    #[default]
    Shared,
    /// This consumer gets a provider instance of its own.
    Dedicated,
}

/// A named dependency on an interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Name used in templates: `${<name>.<field>}`; `[a-z][a-z0-9_]*`.
    pub name: String,
    /// Interface id.
    pub interface: String,
    /// Accepted interface versions, a semver range such as `>=13, <17`.
    pub version: String,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Features the provider must offer (see [`Provide::features`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// An operator-supplied setting, exposed to templates as `${config.NAME}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigEntry {
    /// `[A-Z0-9_]+`.
    #[schemars(regex(pattern = r"^[A-Z0-9_]+$"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Never printed or logged; passed by reference.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// Generated randomly by the agent on first deployment and kept in its state
    /// (e.g. a dedicated database password). Implies a value is always present.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Regular expression the value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A value `hsp validate` runs the version with when the entry is required
    /// and has no default (e.g. `https://app.hospital.example`); never used by
    /// sites. Not for secrets: the validator generates those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

/// One entry process of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// `[a-z][a-z0-9-]*`, e.g. `app`, `worker`.
    pub name: String,
    /// OCI image pinned by digest: `repo[:tag]@sha256:<64 hex>`.
    #[schemars(regex(pattern = r"^[^@\s]+@sha256:[0-9a-f]{64}$"))]
    pub image: String,
    /// Overrides the image's entrypoint arguments (and, on hosts, the
    /// artifact's entrypoint arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Environment variables, names `[A-Z0-9_]+`, values templated.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Memory limit in MiB.
    pub memory_mib: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub instances: Instances,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Seconds between SIGTERM and SIGKILL; at most 15.
    #[serde(default = "default_stop_timeout")]
    #[schemars(range(max = 15))]
    pub stop_timeout_s: u32,
}

fn default_stop_timeout() -> u32 {
    10
}

/// A named port of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// `[a-z][a-z0-9-]*`, e.g. `http`.
    pub name: String,
    pub port: u16,
    #[serde(default)]
    pub protocol: Protocol,
    /// On a host, where a task's ports are the machine's: replica `r` listens
    /// on `port + r`, which the host driver passes in `HSP_PORT_<NAME>`, so
    /// the task runs `instances.min` replicas there (and scales up to `max`).
    /// Without it a task with this port runs one replica on a host, and `hsp
    /// check` refuses an `instances.min` above 1 in a document with artifacts.
    /// Containers each have their own address and always use `port`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_replica: bool,
}

impl Port {
    /// The port replica `replica` listens on, on a host.
    pub fn on_host(&self, replica: u32) -> u16 {
        if self.per_replica {
            self.port
                .saturating_add(u16::try_from(replica).unwrap_or(u16::MAX))
        } else {
            self.port
        }
    }

    /// `HSP_PORT_<NAME>`: the variable a host replica reads its port from.
    pub fn env_var(&self) -> String {
        format!(
            "HSP_PORT_{}",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Http,
    Tcp,
}

/// How many copies of a task run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Instances {
    pub min: u32,
    pub max: u32,
}

impl Default for Instances {
    fn default() -> Self {
        Instances { min: 1, max: 1 }
    }
}

/// Health check: exactly one of `http` or `command`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// Command run inside the task; exit 0 is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Seconds between probes, 1 to 3600.
    #[serde(default = "default_interval")]
    #[schemars(range(min = 1, max = 3600))]
    pub interval_s: u32,
    /// Seconds a probe may take, 1 to `interval_s`.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_s: u32,
    /// Grace period after start before failures count, at most 3600 seconds.
    #[serde(default)]
    #[schemars(range(max = 3600))]
    pub start_period_s: u32,
    /// Failed probes in a row that make the task unhealthy, at most 100.
    #[serde(default = "default_retries")]
    #[schemars(range(max = 100))]
    pub retries: u32,
}

/// Bounds of the health timings (the schema's ranges, which `hsp check` enforces).
pub const MAX_HEALTH_SECONDS: u32 = 3600;
pub const MAX_HEALTH_RETRIES: u32 = 100;

fn default_interval() -> u32 {
    10
}
fn default_timeout() -> u32 {
    5
}
fn default_retries() -> u32 {
    3
}

/// An HTTP GET that must answer 2xx.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// Name of one of the task's ports.
    pub port: String,
    /// Absolute path, e.g. `/livez`.
    pub path: String,
}

/// A persistent named volume, kept across upgrades and rollbacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// `[a-z][a-z0-9-]*`.
    pub name: String,
    /// Absolute mount path inside the task.
    pub path: String,
}

/// A bare-metal build of the service for one platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// `<os>-<arch>`, e.g. `linux-x86_64`, `linux-aarch64`.
    pub platform: String,
    /// `https://`, `http://` or `file://` URL of a `.tar.gz` archive.
    pub url: String,
    /// Lowercase hex sha256 of the archive.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// Size of the archive in bytes.
    pub size: u64,
    /// Program to run, relative to the unpacked archive, e.g. `bin/mailpit`.
    /// A task's `command` is passed to it as arguments.
    pub entrypoint: String,
}

/// What a validator runs to prove the version works.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeTest {
    /// Task to probe.
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default = "default_smoke_timeout")]
    pub timeout_s: u32,
    /// With `http`: the status the request must answer (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// With `http`: text the response body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
}

fn default_smoke_timeout() -> u32 {
    120
}

/// The base-form declaration required for licences outside the open-source list
/// (HSPC marketplace policy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Licensing {
    /// e.g. `freemium`.
    pub model: String,
    /// What the core does in its free base form.
    pub base_form: String,
    /// Must be true: the base form has no trial period.
    pub no_trial_period: bool,
    /// Must be true: the base form cannot be revoked.
    pub no_revocation: bool,
    /// URL of the licence terms.
    pub terms_url: String,
}

impl Document {
    /// The task with this name.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

impl Task {
    /// The port with this name.
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }
}
