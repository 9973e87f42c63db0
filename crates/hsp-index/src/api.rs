//! The JSON API: summary files that `hsp build` publishes as TUF targets (signed
//! by the top-level targets role), so that the website, `hsp-agent search/show`
//! and the planner fetch only what they need, all of it verified.
//!
//! ```text
//! api/catalogue.json            Catalogue: every service and interface, compact
//! api/services/<id>.json        ServiceIndex: every version of one service, newest first
//! api/interfaces/<id>.json      InterfaceIndex: the definition, its providers and consumers
//! services/<id>/<version>.json  the conformance document itself (publisher-signed)
//! ```
//!
//! A resolver reads `ServiceIndex` entries (which carry everything resolution
//! needs: licence, yanked, provides, requires) and fetches the full documents of
//! the versions it chose.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::document::{Document, Scope};
use crate::interface::Interface;

pub const CATALOGUE_PATH: &str = "api/catalogue.json";

/// TUF target path of a service's version list.
pub fn service_path(id: &str) -> String {
    format!("api/services/{id}.json")
}

/// TUF target path of a version's validation report (`hsp validate`),
/// registry-signed like every API file.
pub fn validation_path(id: &str, version: &str) -> String {
    format!("api/validations/{id}/{version}.json")
}

/// TUF target path of an interface's provider list.
pub fn interface_path(id: &str) -> String {
    format!("api/interfaces/{id}.json")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Catalogue {
    /// Registry name.
    pub registry: String,
    pub title: String,
    /// Sorted by id.
    pub services: Vec<CatalogueEntry>,
    /// Sorted by id.
    pub interfaces: Vec<InterfaceEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogueEntry {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub publisher: String,
    /// Licence of the latest version.
    pub license: String,
    /// Newest version that is not yanked (newest yanked one when all are).
    pub latest: String,
    /// Number of versions, yanked included.
    pub versions: usize,
    /// True when every version is yanked.
    pub yanked: bool,
    /// Interface ids the latest version provides.
    pub provides: Vec<String>,
    /// Interface ids the latest version requires.
    pub requires: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InterfaceEntry {
    pub id: String,
    pub name: String,
    /// Number of services with a version that provides it.
    pub providers: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceIndex {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub publisher: String,
    /// Newest first (semver order).
    pub versions: Vec<VersionEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VersionEntry {
    /// As written in the document (may be lenient, e.g. `7.4`).
    pub version: String,
    /// TUF target path of the document.
    pub target: String,
    pub license: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    pub provides: Vec<ProvideSummary>,
    pub requires: Vec<RequireSummary>,
}

impl VersionEntry {
    /// The resolution summary of a document whose TUF target path is `target`.
    pub fn new(doc: &Document, target: String) -> VersionEntry {
        VersionEntry {
            version: doc.version.clone(),
            target,
            license: doc.license.clone(),
            yanked: doc.yanked.clone(),
            provides: doc
                .provides
                .iter()
                .map(|p| ProvideSummary {
                    interface: p.interface.clone(),
                    version: p.version.clone(),
                    features: p.features.clone(),
                })
                .collect(),
            requires: doc
                .requires
                .iter()
                .map(|r| RequireSummary {
                    name: r.name.clone(),
                    interface: r.interface.clone(),
                    version: r.version.clone(),
                    scope: r.scope,
                    optional: r.optional,
                    features: r.features.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProvideSummary {
    pub interface: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequireSummary {
    pub name: String,
    pub interface: String,
    pub version: String,
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InterfaceIndex {
    pub interface: Interface,
    /// Sorted by service id, then version newest first.
    pub providers: Vec<ProviderEntry>,
    /// Sorted by service id, then version newest first.
    pub consumers: Vec<ConsumerEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderEntry {
    pub service: String,
    pub version: String,
    /// Interface version offered.
    pub interface_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub yanked: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsumerEntry {
    pub service: String,
    pub version: String,
    /// Requirement name.
    pub requirement: String,
    /// Accepted interface versions.
    pub range: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub yanked: bool,
}
