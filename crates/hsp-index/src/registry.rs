//! The registry repo: its config file and folder layout.
//!
//! ```text
//! registry.json                                   RegistryConfig
//! interfaces/<id>.json                            Interface
//! publishers/<name>/publisher.json                Publisher
//! publishers/<name>/services/<id>/<version>.json  Document
//! publishers/<name>/<name>.json                   the publisher's signed TUF targets metadata (hsp sign)
//! keys/                                           public keys and signed root metadata (hsp init)
//! ```
//!
//! In the built index, a document's TUF target path is
//! [`document_target_path`]; the publisher's delegation covers
//! [`namespace_patterns`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const CONFIG_FILE: &str = "registry.json";
pub const INTERFACES_DIR: &str = "interfaces";
pub const PUBLISHERS_DIR: &str = "publishers";
pub const PUBLISHER_FILE: &str = "publisher.json";
pub const SERVICES_DIR: &str = "services";
pub const KEYS_DIR: &str = "keys";

/// The licences the HSPC marketplace accepts as open source.
pub const DEFAULT_OPEN_SOURCE_LICENSES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "GPL-2.0",
    "GPL-3.0",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Short name, `[a-z][a-z0-9-]*`.
    pub name: String,
    /// Title shown on the website.
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Public base URL where the built index is served, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub expiry: Expiry,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub site: SiteConfig,
    /// Maintainers' yanks: versions the registry marks yanked without the
    /// publisher's key (a broken or dangerous release). Published in the
    /// registry-signed API exactly as a publisher's yank; versions are never
    /// deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub yanks: Vec<Yank>,
}

/// A version yanked by the registry's maintainers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Yank {
    /// Service id.
    pub service: String,
    /// The version, as the document writes it or its semver form (`7.4` = `7.4.0`).
    pub version: String,
    /// Why, shown on the website and by the agent.
    pub reason: String,
}

impl Yank {
    /// Whether this yank names `version` of `service` (versions compared as
    /// semver, so `7.4` names `7.4.0`).
    pub fn names(&self, service: &str, version: &str) -> bool {
        self.service == service
            && match (
                crate::version::parse_version(&self.version),
                crate::version::parse_version(version),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => self.version == version,
            }
    }

    /// The yank reason a document carries when the maintainers yanked it.
    pub fn as_reason(&self) -> String {
        format!("{} (yanked by the registry's maintainers)", self.reason)
    }
}

/// Marks a document yanked when a maintainers' yank names it; a publisher's
/// own yank (and its reason) wins.
pub fn apply_yanks(yanks: &[Yank], id: &str, version: &str, yanked: &mut Option<String>) {
    if yanked.is_none() {
        *yanked = yanks
            .iter()
            .find(|y| y.names(id, version))
            .map(Yank::as_reason);
    }
}

/// Days until each role's metadata expires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expiry {
    pub root_days: u32,
    pub targets_days: u32,
    pub snapshot_days: u32,
    pub timestamp_days: u32,
    /// Default expiry `hsp sign` gives a publisher's metadata.
    pub publisher_days: u32,
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            root_days: 365,
            targets_days: 90,
            snapshot_days: 7,
            timestamp_days: 1,
            publisher_days: 365,
        }
    }
}

/// Largest host artifact a document may declare by default: 4 GiB.
pub const DEFAULT_MAX_ARTIFACT_SIZE: u64 = 4 << 30;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// SPDX ids accepted as open source (any SPDX form of these, e.g.
    /// `GPL-2.0-only`, `GPL-2.0-or-later`).
    pub open_source_licenses: Vec<String>,
    /// Also accept `http://` and `file://` artifact URLs: for a lab or test
    /// registry only. Sites would then fetch in clear text, or from a path of
    /// their own file system (the signed sha256 still guards the bytes).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lab_artifact_urls: bool,
    /// Largest host artifact (archive) a document may declare, in bytes.
    pub max_artifact_size: u64,
    /// Every version new in a build must have a passing validation report
    /// (`validations/<service>/<version>.json`, written by `hsp validate`
    /// or `hsp build --validate`) for its exact bytes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_validation: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            open_source_licenses: DEFAULT_OPEN_SOURCE_LICENSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            lab_artifact_urls: false,
            max_artifact_size: DEFAULT_MAX_ARTIFACT_SIZE,
            require_validation: false,
        }
    }
}

/// Website look: optional overrides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Path (relative to the repo) of a logo image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// CSS colour of headers and links, e.g. `#0b5394`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_colour: Option<String>,
    /// Folder (relative to the repo) of Tera templates overriding the built-in ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
}

/// TUF target path of a conformance document.
pub fn document_target_path(id: &str, version: &str) -> String {
    format!("{SERVICES_DIR}/{id}/{version}.json")
}

/// TUF path patterns a publisher's delegation covers, one pair per namespace
/// (`*` does not cross `/`).
pub fn namespace_patterns(namespaces: &[String]) -> Vec<String> {
    namespaces
        .iter()
        .flat_map(|ns| {
            [
                format!("{SERVICES_DIR}/{ns}/*"),
                format!("{SERVICES_DIR}/{ns}.*/*"),
            ]
        })
        .collect()
}
