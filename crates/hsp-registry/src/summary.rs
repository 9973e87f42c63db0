//! What the build keeps of each document: a [`DocSummary`], enough for the
//! cross-file rules (through [`hsp_check::Facts`]) and the JSON API, so that
//! neither needs the parsed document. The scan makes and caches them
//! ([`crate::repo`]); the API encodes them ([`crate::api`]).

use hsp_check::Facts;
use hsp_index::api::VersionEntry;
use hsp_index::Document;
use serde::{Deserialize, Serialize};

/// What the API needs of one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocSummary {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub publisher: String,
    pub entry: VersionEntry,
}

impl DocSummary {
    pub fn new(doc: &Document, target: String) -> DocSummary {
        DocSummary {
            id: doc.id.clone(),
            name: doc.name.clone(),
            summary: doc.summary.clone(),
            publisher: doc.publisher.clone(),
            entry: VersionEntry::new(doc, target),
        }
    }
}

impl Facts for DocSummary {
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> &str {
        &self.entry.version
    }
    fn publisher(&self) -> &str {
        &self.publisher
    }
    fn license(&self) -> &str {
        &self.entry.license
    }
    fn yanked(&self) -> bool {
        self.entry.yanked.is_some()
    }
    fn provides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entry
            .provides
            .iter()
            .map(|p| (p.interface.as_str(), p.version.as_str()))
    }
    fn requires(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.entry
            .requires
            .iter()
            .map(|r| (r.interface.as_str(), r.version.as_str(), r.optional))
    }
}
