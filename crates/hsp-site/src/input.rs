//! What the site is built from: the registry's parsed files, borrowed from the
//! caller (`hsp build`, `hsp serve`, tests, benches).

use std::path::PathBuf;

use hsp_index::{Document, Interface, Publisher, RegistryConfig};

/// Everything one render needs. The site does not read the registry repo itself;
/// the only files it reads are the optional template overrides and logo.
#[derive(Clone, Debug)]
pub struct SiteInput<'a> {
    pub config: &'a RegistryConfig,
    pub interfaces: &'a [Interface],
    pub publishers: Vec<PublisherInput<'a>>,
    pub documents: Vec<DocumentInput<'a>>,
    /// Folder of Tera templates overriding built-in ones by file name
    /// (`config.site.templates` resolved against the repo by the caller).
    pub templates_dir: Option<PathBuf>,
    /// Logo image file (`config.site.logo` resolved against the repo), copied
    /// into the site as `assets/logo.<ext>`.
    pub logo: Option<PathBuf>,
    /// Validation reports (`hsp validate`), shown on their versions' pages.
    pub validations: &'a [hsp_index::validation::Report],
}

/// A publisher record and the TUF key ids of its keys, in the order of
/// `publisher.keys` (lowercase hex, computed by the caller with `hsp-keys`).
#[derive(Clone, Debug)]
pub struct PublisherInput<'a> {
    pub publisher: &'a Publisher,
    pub key_ids: Vec<String>,
}

/// A conformance document and its TUF target path (`services/<id>/<version>.json`).
#[derive(Clone, Debug)]
pub struct DocumentInput<'a> {
    pub document: &'a Document,
    pub target: String,
}

impl<'a> SiteInput<'a> {
    /// An input with no template override and no logo.
    pub fn new(
        config: &'a RegistryConfig,
        interfaces: &'a [Interface],
        publishers: Vec<PublisherInput<'a>>,
        documents: Vec<DocumentInput<'a>>,
    ) -> Self {
        SiteInput {
            config,
            interfaces,
            publishers,
            documents,
            templates_dir: None,
            logo: None,
            validations: &[],
        }
    }
}
