//! JSON Schemas generated from the types, so editors complete and validate
//! fields. `schemas/*.schema.json` at the repo root are these, written by
//! `hsp schema --out schemas` (a test keeps them in sync).

use schemars::schema::RootSchema;
use schemars::schema_for;

use crate::{Document, Environment, Interface, Publisher, RegistryConfig};

/// File name and schema of every file type.
pub fn all() -> Vec<(&'static str, RootSchema)> {
    vec![
        ("document.schema.json", schema_for!(Document)),
        ("interface.schema.json", schema_for!(Interface)),
        ("publisher.schema.json", schema_for!(Publisher)),
        ("registry.schema.json", schema_for!(RegistryConfig)),
        ("environment.schema.json", schema_for!(Environment)),
        (
            "validation.schema.json",
            schema_for!(crate::validation::Report),
        ),
    ]
}
