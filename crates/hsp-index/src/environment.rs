//! The environment file: what a site wants, read by `hsp-agent`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `[a-z][a-z0-9-]*`; prefixes container names, networks and folders.
    pub name: String,
    pub index: IndexSource,
    /// Services the site wants.
    #[serde(default)]
    pub services: Vec<WantedService>,
    /// Services the site already runs, pinning interfaces.
    #[serde(default)]
    pub externals: Vec<ExternalService>,
    /// Config values per service id (or instance name): `NAME -> value`.
    #[serde(default)]
    pub config: BTreeMap<String, BTreeMap<String, ConfigValue>>,
    #[serde(default)]
    pub policy: EnvPolicy,
    pub target: Target,
}

/// Where the index is and which root the site trusts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexSource {
    /// `https://...`, `http://...` or a local folder (air-gapped sites;
    /// relative to the environment file): the index the state directory was
    /// set up for with `hsp-agent init --index` (another one is an error;
    /// `--index` overrides it for one run).
    pub url: String,
    /// Path of the trusted root metadata file (relative to the environment
    /// file): the root given to `hsp-agent init --root` (another one is an error).
    pub root: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WantedService {
    /// Service id, e.g. `org.hapifhir.server`.
    pub id: String,
    /// Accepted versions, a semver range; default any.
    #[serde(default = "any")]
    pub version: String,
    /// Instance name; default derived from the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Pin this exact version (overrides update policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

fn any() -> String {
    "*".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalService {
    /// Name used in plans, e.g. `hospital-smtp`.
    pub name: String,
    pub interface: String,
    /// Interface version it offers.
    pub version: String,
    /// Features it offers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Binding field values: what every consumer gets, unless `per_consumer`
    /// overrides a field for it.
    #[serde(default)]
    pub binding: BTreeMap<String, ConfigValue>,
    /// Instance names (or service ids) this external may serve; absent or
    /// empty: any consumer. A consumer not listed does not see this external
    /// (when no external of the interface serves it, index providers are
    /// candidates for it again). E.g. `["keycloak", "care"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<String>,
    /// Bindings of their own for some consumers, by instance name (or service
    /// id): each field given here overrides the `binding` field of the same
    /// name for that consumer only, e.g. its own database, user and password on
    /// one server: `{"keycloak": {"database": "keycloak", "user": "keycloak",
    /// "password": {"secret_file": "secrets/pg-keycloak"}}}`. A dedicated
    /// requirement needs a binding no other consumer uses: an entry here, or
    /// being the external's only consumer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_consumer: BTreeMap<String, BTreeMap<String, ConfigValue>>,
}

impl ExternalService {
    /// Whether `consumers` lets the external serve a consumer known by any of
    /// `names` (its instance name, its service id).
    pub fn serves(&self, names: &[&str]) -> bool {
        self.consumers.is_empty() || self.consumers.iter().any(|c| names.contains(&c.as_str()))
    }

    /// The `per_consumer` key that applies to a consumer known by `names`, the
    /// first name that has an entry (the instance name before the service id).
    pub fn own_binding(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.per_consumer.get_key_value(*n))
            .map(|(k, _)| k.as_str())
    }
}

/// A literal value, or a secret read from a file (mode 0600) at deploy time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    Literal(String),
    Secret(SecretFile),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretFile {
    /// Path of a file holding the value (trailing newline ignored); must be mode 0600.
    pub secret_file: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvPolicy {
    /// SPDX ids allowed; absent means any licence the registry accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<Vec<String>>,
    #[serde(default)]
    pub update: UpdateMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<UpdateWindow>,
    /// Preferred provider service id per interface id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preferred: BTreeMap<String, String>,
    /// Choose only versions the registry validated with a passing report
    /// (`hsp validate`, published in its index).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_validated: bool,
}

impl Default for EnvPolicy {
    fn default() -> Self {
        EnvPolicy {
            licenses: None,
            update: UpdateMode::Minor,
            window: None,
            preferred: BTreeMap::new(),
            require_validated: false,
        }
    }
}

/// How far the agent may move a deployed service without being asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMode {
    None,
    Patch,
    #[default]
    Minor,
    Any,
}

/// When updates may be applied (UTC).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWindow {
    /// Days of the week, e.g. `["sat", "sun"]`; empty means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`; may be earlier than `start` (window spans midnight).
    pub end: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub kind: TargetKind,
    /// Docker: a registry mirror that serves the same digests, e.g. `127.0.0.1:5000`.
    /// Host: an artifact mirror the artifacts are fetched from instead of their
    /// signed URLs (still checked against the signed size and sha256): a folder
    /// (absolute, or relative to the environment file), a `file://` URL or an
    /// `http(s)://` base URL, holding the artifact with signed sha256 `HEX` at
    /// `<mirror>/sha256/<HEX>` (what `hsp mirror --artifacts DIR` writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// Host: folder where artifacts are unpacked and processes run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Docker,
    Host,
}
