//! Publisher records: `publishers/<name>/publisher.json` in a registry repo,
//! added by pull request. A publisher is a delegated TUF targets role signed with
//! its own keys and restricted to its namespaces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use hsp_tuf::{KeyVal, PublicKey};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `[a-z][a-z0-9-]*`; also the folder name and the TUF role name.
    pub name: String,
    /// Display name, e.g. `University Health Network`.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Reverse-DNS prefixes this publisher may publish under, e.g. `org.hapifhir`:
    /// it may publish `org.hapifhir` and `org.hapifhir.*`.
    pub namespaces: Vec<String>,
    /// ed25519 public keys that sign the publisher's metadata.
    pub keys: Vec<PublicKey>,
    /// How many of `keys` must sign.
    #[serde(default = "one")]
    pub threshold: u32,
}

fn one() -> u32 {
    1
}

impl Publisher {
    /// Whether `id` lies in one of this publisher's namespaces.
    pub fn owns(&self, id: &str) -> bool {
        self.namespaces.iter().any(|ns| {
            id == ns
                || id
                    .strip_prefix(ns.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_only_whole_labels() {
        let p = Publisher {
            schema: None,
            name: "hapi".into(),
            title: "HAPI".into(),
            homepage: None,
            contact: None,
            namespaces: vec!["org.hapifhir".into()],
            keys: vec![],
            threshold: 1,
        };
        for (id, owned) in [
            ("org.hapifhir", true),
            ("org.hapifhir.server", true),
            ("org.hapifhirx.server", false),
            ("org.hapi", false),
            ("com.example", false),
        ] {
            assert_eq!(p.owns(id), owned, "{id}");
        }
    }
}
