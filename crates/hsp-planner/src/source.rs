//! Where the planner reads the index from: the [`IndexSource`] trait.
//!
//! The solver never touches files or the network: it asks an `IndexSource` for a
//! service's version list, an interface's providers and, once versions are
//! chosen, the full documents. The agent's implementation reads the verified TUF
//! index (`api/services/<id>.json`, `api/interfaces/<id>.json`,
//! `services/<id>/<version>.json`); [`MemorySource`] holds everything in memory for
//! tests, benchmarks and the developer-only `--registry DIR` flag
//! ([`read_registry_dir`], which reads a registry repo folder *unverified*).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hsp_index::api::{ConsumerEntry, InterfaceIndex, ProviderEntry, ServiceIndex, VersionEntry};
use hsp_index::registry::{document_target_path, INTERFACES_DIR, PUBLISHERS_DIR, SERVICES_DIR};
use hsp_index::validation::Report;
use hsp_index::version::newest_first;
use hsp_index::{Document, Interface};

/// An error from an index source, e.g. a failed download or verification.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// What the planner needs from an index. Implementations may fetch lazily: the
/// planner asks only for the services and interfaces it reaches.
pub trait IndexSource {
    /// Every version of a service, newest first; `None` when the index has no such service.
    fn service(&self, id: &str) -> Result<Option<ServiceIndex>, SourceError>;
    /// An interface's definition and providers; `None` when the index has no such interface.
    fn interface(&self, id: &str) -> Result<Option<InterfaceIndex>, SourceError>;
    /// The conformance document of one version (`version` as written in its [`VersionEntry`]).
    fn document(&self, id: &str, version: &str) -> Result<Document, SourceError>;
    /// The registry's validation report of one version (`hsp validate`),
    /// when it published one.
    fn validation(&self, _id: &str, _version: &str) -> Result<Option<Report>, SourceError> {
        Ok(None)
    }
}

/// An index held in memory, built from interfaces and documents.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    services: BTreeMap<String, ServiceIndex>,
    interfaces: BTreeMap<String, InterfaceIndex>,
    documents: BTreeMap<(String, String), Document>,
    validations: BTreeMap<(String, String), Report>,
}

impl MemorySource {
    /// Builds the per-service and per-interface summaries the way `hsp build`
    /// publishes them (versions newest first, providers sorted by service).
    pub fn new(interfaces: Vec<Interface>, documents: Vec<Document>) -> MemorySource {
        let mut services: BTreeMap<String, ServiceIndex> = BTreeMap::new();
        let mut by_iface: BTreeMap<String, InterfaceIndex> = interfaces
            .into_iter()
            .map(|i| {
                let id = i.id.clone();
                (
                    id,
                    InterfaceIndex {
                        interface: i,
                        providers: vec![],
                        consumers: vec![],
                    },
                )
            })
            .collect();
        let mut docs = BTreeMap::new();
        for d in documents {
            let entry = version_entry(&d);
            let s = services
                .entry(d.id.clone())
                .or_insert_with(|| ServiceIndex {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    summary: d.summary.clone(),
                    publisher: d.publisher.clone(),
                    versions: vec![],
                });
            s.versions.push(entry);
            for p in &d.provides {
                if let Some(ix) = by_iface.get_mut(&p.interface) {
                    ix.providers.push(ProviderEntry {
                        service: d.id.clone(),
                        version: d.version.clone(),
                        interface_version: p.version.clone(),
                        features: p.features.clone(),
                        yanked: d.yanked.is_some(),
                    });
                }
            }
            for r in &d.requires {
                if let Some(ix) = by_iface.get_mut(&r.interface) {
                    ix.consumers.push(ConsumerEntry {
                        service: d.id.clone(),
                        version: d.version.clone(),
                        requirement: r.name.clone(),
                        range: r.version.clone(),
                        yanked: d.yanked.is_some(),
                    });
                }
            }
            docs.insert((d.id.clone(), d.version.clone()), d);
        }
        for s in services.values_mut() {
            s.versions
                .sort_by(|a, b| newest_first(&a.version, &b.version));
        }
        for ix in by_iface.values_mut() {
            ix.providers.sort_by(|a, b| {
                a.service
                    .cmp(&b.service)
                    .then(newest_first(&a.version, &b.version))
            });
            ix.consumers.sort_by(|a, b| {
                a.service
                    .cmp(&b.service)
                    .then(newest_first(&a.version, &b.version))
            });
        }
        MemorySource {
            services,
            interfaces: by_iface,
            documents: docs,
            validations: BTreeMap::new(),
        }
    }

    /// Every service id, sorted.
    pub fn service_ids(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}

/// The resolution summary of a document, as published in `api/services/<id>.json`.
pub fn version_entry(d: &Document) -> VersionEntry {
    VersionEntry::new(d, document_target_path(&d.id, &d.version))
}

impl MemorySource {
    /// The same index with `report` published for its version.
    pub fn with_validation(mut self, report: Report) -> MemorySource {
        let key = (report.service.clone(), report.version.clone());
        self.validations.insert(key, report);
        self
    }
}

impl IndexSource for MemorySource {
    fn validation(&self, id: &str, version: &str) -> Result<Option<Report>, SourceError> {
        Ok(self
            .validations
            .get(&(id.to_string(), version.to_string()))
            .cloned())
    }

    fn service(&self, id: &str) -> Result<Option<ServiceIndex>, SourceError> {
        Ok(self.services.get(id).cloned())
    }

    fn interface(&self, id: &str) -> Result<Option<InterfaceIndex>, SourceError> {
        Ok(self.interfaces.get(id).cloned())
    }

    fn document(&self, id: &str, version: &str) -> Result<Document, SourceError> {
        self.documents
            .get(&(id.to_string(), version.to_string()))
            .cloned()
            .ok_or_else(|| format!("the index has no document for {id} {version}").into())
    }
}

impl<T: IndexSource + ?Sized> IndexSource for &T {
    fn service(&self, id: &str) -> Result<Option<ServiceIndex>, SourceError> {
        (**self).service(id)
    }
    fn interface(&self, id: &str) -> Result<Option<InterfaceIndex>, SourceError> {
        (**self).interface(id)
    }
    fn document(&self, id: &str, version: &str) -> Result<Document, SourceError> {
        (**self).document(id, version)
    }
    fn validation(&self, id: &str, version: &str) -> Result<Option<Report>, SourceError> {
        (**self).validation(id, version)
    }
}

/// Reading a registry repo folder failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryDirError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON of this kind")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Reads `interfaces/*.json` and `publishers/*/services/*/*.json` of a registry
/// repo folder. **Unverified**: for development and tests only; sites read the
/// signed index.
pub fn read_registry_dir(root: &Path) -> Result<MemorySource, RegistryDirError> {
    let mut interfaces = Vec::new();
    for path in json_files(&root.join(INTERFACES_DIR))? {
        interfaces.push(read_json::<Interface>(&path)?);
    }
    let mut documents = Vec::new();
    for publisher in sub_dirs(&root.join(PUBLISHERS_DIR))? {
        for service in sub_dirs(&publisher.join(SERVICES_DIR))? {
            for path in json_files(&service)? {
                documents.push(read_json::<Document>(&path)?);
            }
        }
    }
    Ok(MemorySource::new(interfaces, documents))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RegistryDirError> {
    let bytes = std::fs::read(path).map_err(|source| RegistryDirError::Read {
        path: path.into(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| RegistryDirError::Parse {
        path: path.into(),
        source,
    })
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, RegistryDirError> {
    if !dir.exists() {
        return Ok(vec![]);
    }
    let read = std::fs::read_dir(dir).map_err(|source| RegistryDirError::Read {
        path: dir.into(),
        source,
    })?;
    let mut out = Vec::new();
    for e in read {
        let e = e.map_err(|source| RegistryDirError::Read {
            path: dir.into(),
            source,
        })?;
        out.push(e.path());
    }
    out.sort();
    Ok(out)
}

fn sub_dirs(dir: &Path) -> Result<Vec<PathBuf>, RegistryDirError> {
    Ok(entries(dir)?.into_iter().filter(|p| p.is_dir()).collect())
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, RegistryDirError> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect())
}
