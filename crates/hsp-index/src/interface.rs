//! Interface definitions: `interfaces/<id>.json` in a registry repo.
//!
//! An interface is a contract (FHIR R4 over HTTP, a Postgres database, SMTP...)
//! with typed binding fields that a provider fills and a consumer reads through
//! `${<requirement>.<field>}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `[a-z][a-z0-9-]*`, e.g. `fhir`, `postgres`.
    pub id: String,
    pub name: String,
    pub description: String,
    /// How versions of this interface are numbered, e.g. `FHIR release as
    /// semver: 4.0.1 is R4`.
    pub versioning: String,
    /// Binding fields a provider fills.
    pub fields: Vec<BindingField>,
    /// Optional features a provider may offer and a requirement may ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingField {
    /// `[a-z][a-z0-9_]*`.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether a provider must fill this field (default true).
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Host,
    Port,
    Url,
    String,
    /// Never printed; passed by reference.
    Secret,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub name: String,
    pub description: String,
}

impl Interface {
    pub fn field(&self, name: &str) -> Option<&BindingField> {
        self.fields.iter().find(|f| f.name == name)
    }
}
