//! The JSON API files (`hsp_index::api`): a compact catalogue, one file per
//! service and one per interface, computed from per-document summaries so an
//! incremental build can reuse the summaries of unchanged documents.

use std::collections::BTreeMap;

use hsp_index::api::{
    self, Catalogue, CatalogueEntry, ConsumerEntry, InterfaceEntry, InterfaceIndex, ProviderEntry,
    ServiceIndex, VersionEntry,
};
use hsp_index::tuf::TargetFile;
use hsp_index::version::newest_first;
use hsp_index::{Document, Interface, RegistryConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// One API file: its TUF target path, length and hash, and content (compact
/// JSON and a newline).
pub struct ApiFile {
    pub path: String,
    pub target: TargetFile,
    pub content: Content,
    /// For a service file: the [`service_key`] of what it was computed from.
    pub key: Option<String>,
}

/// An API file's bytes, or where they are instead.
pub enum Content {
    Bytes(Vec<u8>),
    /// Not encoded again: OUT serves it (see [`Reuse`]).
    Reused,
    /// Handed to the [`Sink`] as soon as encoded, and dropped.
    Written,
}

/// Receives each API file as soon as it is encoded (path, target, bytes):
/// a first build writes them straight into its staging folder.
pub type Sink<'a> = dyn Fn(&str, &TargetFile, &[u8]) -> std::io::Result<()> + Sync + 'a;

fn encode<T: Serialize>(path: String, value: &T, sink: Option<&Sink>) -> std::io::Result<ApiFile> {
    let mut bytes = serde_json::to_vec(value).expect("API values encode");
    bytes.push(b'\n');
    let target = TargetFile::from_bytes(&bytes);
    let content = match sink {
        Some(sink) => {
            sink(&path, &target, &bytes)?;
            Content::Written
        }
        None => Content::Bytes(bytes),
    };
    Ok(ApiFile {
        path,
        target,
        content,
        key: None,
    })
}

/// Decides whether a service's API file need not be encoded again: given its
/// path and [`service_key`], the length and hash of a file with that content
/// that is already published (from the build cache, checked against what OUT
/// serves), or `None`.
pub type Reuse<'a> = dyn Fn(&str, &str) -> Option<TargetFile> + Sync + 'a;

/// What a service's API file is computed from, as a hex sha256 over the
/// target path and sha256 of each of its documents (newest first): a
/// document's summary is a function of its bytes and path (for one `hsp`).
fn service_key(versions: &[(DocSummary, &str)]) -> String {
    let mut h = Sha256::new();
    for (d, sha256) in versions {
        h.update((d.entry.target.len() as u64).to_le_bytes());
        h.update(d.entry.target.as_bytes());
        h.update(sha256.as_bytes());
    }
    hex::encode(h.finalize())
}

/// One service's API file and what the catalogue and the interface files need
/// of it (its index is dropped once encoded, to keep the peak memory low).
struct ServiceDone {
    file: ApiFile,
    entry: CatalogueEntry,
    provides: Vec<(String, ProviderEntry)>,
    requires: Vec<(String, ConsumerEntry)>,
}

fn service(
    id: String,
    mut versions: Vec<(DocSummary, &str)>,
    reuse: &Reuse,
    sink: Option<&Sink>,
) -> std::io::Result<ServiceDone> {
    versions.sort_by(|a, b| {
        newest_first(&a.0.entry.version, &b.0.entry.version)
            .then_with(|| a.0.entry.target.cmp(&b.0.entry.target))
    });
    let key = service_key(&versions);
    let path = api::service_path(&id);
    let reused = reuse(&path, &key);
    let head = &versions[0].0;
    let (name, summary, publisher) = (
        head.name.clone(),
        head.summary.clone(),
        head.publisher.clone(),
    );
    let s = ServiceIndex {
        id,
        name,
        summary,
        publisher,
        versions: versions.into_iter().map(|(d, _)| d.entry).collect(),
    };
    let mut provides = Vec::new();
    let mut requires = Vec::new();
    for v in &s.versions {
        for p in &v.provides {
            provides.push((
                p.interface.clone(),
                ProviderEntry {
                    service: s.id.clone(),
                    version: v.version.clone(),
                    interface_version: p.version.clone(),
                    features: p.features.clone(),
                    yanked: v.yanked.is_some(),
                },
            ));
        }
        for r in &v.requires {
            requires.push((
                r.interface.clone(),
                ConsumerEntry {
                    service: s.id.clone(),
                    version: v.version.clone(),
                    requirement: r.name.clone(),
                    range: r.version.clone(),
                    yanked: v.yanked.is_some(),
                },
            ));
        }
    }
    let file = match reused {
        Some(target) => ApiFile {
            path,
            target,
            content: Content::Reused,
            key: Some(key),
        },
        None => ApiFile {
            key: Some(key),
            ..encode(path, &s, sink)?
        },
    };
    Ok(ServiceDone {
        file,
        entry: catalogue_entry(&s),
        provides,
        requires,
    })
}

/// Every API file, sorted by path. `docs` (each summary with the sha256 of
/// its document) may be in any order; they are consumed (moved into the
/// service indexes, not copied). A service file `reuse` vouches for is not
/// encoded again; with a `sink`, each file goes to it as soon as encoded.
pub fn files<'a>(
    config: &RegistryConfig,
    interfaces: &[Interface],
    docs: impl IntoIterator<Item = (DocSummary, &'a str)>,
    reuse: &Reuse,
    sink: Option<&Sink>,
) -> std::io::Result<Vec<ApiFile>> {
    // Runs of one service (documents come by path, so a service's versions
    // are adjacent), then in id order, runs of one id merged.
    let mut runs: Vec<Vec<(DocSummary, &str)>> = Vec::new();
    for d in docs {
        match runs.last_mut() {
            Some(run) if run[0].0.id == d.0.id => run.push(d),
            _ => runs.push(vec![d]),
        }
    }
    runs.sort_by(|a, b| a[0].0.id.cmp(&b[0].0.id));
    let mut by_service: Vec<(String, Vec<(DocSummary, &str)>)> = Vec::with_capacity(runs.len());
    for run in runs {
        match by_service.last_mut() {
            Some((id, versions)) if *id == run[0].0.id => versions.extend(run),
            _ => by_service.push((run[0].0.id.clone(), run)),
        }
    }
    // In id order (an order-preserving parallel map), so each interface lists
    // its providers and consumers by service id, then version newest first.
    let done: Vec<ServiceDone> = by_service
        .into_par_iter()
        .map(|(id, versions)| service(id, versions, reuse, sink))
        .collect::<std::io::Result<_>>()?;
    let mut providers: BTreeMap<String, Vec<ProviderEntry>> = BTreeMap::new();
    let mut consumers: BTreeMap<String, Vec<ConsumerEntry>> = BTreeMap::new();
    let mut entries = Vec::with_capacity(done.len());
    let mut out = Vec::with_capacity(done.len() + interfaces.len() + 1);
    for d in done {
        for (interface, p) in d.provides {
            providers.entry(interface).or_default().push(p);
        }
        for (interface, c) in d.requires {
            consumers.entry(interface).or_default().push(c);
        }
        entries.push(d.entry);
        out.push(d.file);
    }

    let mut sorted_interfaces: Vec<&Interface> = interfaces.iter().collect();
    sorted_interfaces.sort_by(|a, b| a.id.cmp(&b.id));
    let provider_count = |id: &str| {
        let mut services: Vec<&str> = providers
            .get(id)
            .map(|ps| ps.iter().map(|p| p.service.as_str()).collect())
            .unwrap_or_default();
        services.dedup();
        services.len()
    };
    let catalogue = Catalogue {
        registry: config.name.clone(),
        title: config.title.clone(),
        services: entries,
        interfaces: sorted_interfaces
            .iter()
            .map(|i| InterfaceEntry {
                id: i.id.clone(),
                name: i.name.clone(),
                providers: provider_count(&i.id),
            })
            .collect(),
    };
    let indexes: Vec<InterfaceIndex> = sorted_interfaces
        .iter()
        .map(|i| InterfaceIndex {
            interface: (*i).clone(),
            providers: providers.remove(i.id.as_str()).unwrap_or_default(),
            consumers: consumers.remove(i.id.as_str()).unwrap_or_default(),
        })
        .collect();
    // The catalogue and the interface files are megabytes each: in parallel.
    let (catalogue, interface_files) = rayon::join(
        || encode(api::CATALOGUE_PATH.to_string(), &catalogue, sink),
        || {
            indexes
                .par_iter()
                .map(|index| encode(api::interface_path(&index.interface.id), index, sink))
                .collect::<std::io::Result<Vec<_>>>()
        },
    );
    out.push(catalogue?);
    out.extend(interface_files?);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn catalogue_entry(s: &ServiceIndex) -> CatalogueEntry {
    let latest = s
        .versions
        .iter()
        .find(|v| v.yanked.is_none())
        .unwrap_or(&s.versions[0]);
    let ids = |xs: Vec<&String>| {
        let mut v: Vec<String> = xs.into_iter().cloned().collect();
        v.sort();
        v.dedup();
        v
    };
    CatalogueEntry {
        id: s.id.clone(),
        name: s.name.clone(),
        summary: s.summary.clone(),
        publisher: s.publisher.clone(),
        license: latest.license.clone(),
        latest: latest.version.clone(),
        versions: s.versions.len(),
        yanked: s.versions.iter().all(|v| v.yanked.is_some()),
        provides: ids(latest.provides.iter().map(|p| &p.interface).collect()),
        requires: ids(latest.requires.iter().map(|r| &r.interface).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsp_index::api::ProvideSummary;

    fn summary(id: &str, version: &str, yanked: bool, provides: &[&str]) -> DocSummary {
        DocSummary {
            id: id.into(),
            name: id.into(),
            summary: String::new(),
            publisher: "p".into(),
            entry: VersionEntry {
                version: version.into(),
                target: hsp_index::registry::document_target_path(id, version),
                license: "MIT".into(),
                yanked: yanked.then(|| "broken".to_string()),
                provides: provides
                    .iter()
                    .map(|i| ProvideSummary {
                        interface: i.to_string(),
                        version: "1.0.0".into(),
                        features: vec![],
                    })
                    .collect(),
                requires: vec![],
            },
        }
    }

    #[test]
    fn catalogue_picks_newest_unyanked_and_orders_versions() {
        let config: RegistryConfig = serde_json::from_str(r#"{"name":"r","title":"R"}"#).unwrap();
        let docs = vec![
            summary("a.b", "1.10.0", true, &["fhir"]),
            summary("a.b", "1.9", false, &["fhir"]),
            summary("a.b", "1.2.0", false, &[]),
            summary("c.d", "2.0.0", false, &["fhir"]),
        ];
        let none = |_: &str, _: &str| None;
        let with_hash = |docs: Vec<DocSummary>| docs.into_iter().map(|d| (d, "h"));
        let files = files(&config, &[], with_hash(docs.clone()), &none, None).unwrap();
        let bytes = |f: &ApiFile| match &f.content {
            Content::Bytes(b) => b.clone(),
            _ => panic!("{} not encoded", f.path),
        };
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "api/catalogue.json",
                "api/services/a.b.json",
                "api/services/c.d.json"
            ]
        );
        let cat: Catalogue = serde_json::from_slice(&bytes(&files[0])).unwrap();
        assert_eq!(cat.services[0].latest, "1.9");
        assert_eq!(cat.services[0].versions, 3);
        assert_eq!(cat.services[0].provides, ["fhir"]);
        let svc: ServiceIndex = serde_json::from_slice(&bytes(&files[1])).unwrap();
        let order: Vec<&str> = svc.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["1.10.0", "1.9", "1.2.0"]);
        // Input order does not matter.
        let mut reversed = docs.clone();
        reversed.reverse();
        let again = super::files(&config, &[], with_hash(reversed), &none, None).unwrap();
        assert!(files.iter().zip(&again).all(|(a, b)| bytes(a) == bytes(b)));
    }
}
