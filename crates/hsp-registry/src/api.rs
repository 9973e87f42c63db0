//! The JSON API files (`hsp_index::api`): a compact catalogue, one file per
//! service and one per interface.
//!
//! Each service is encoded once into its [`ServiceParts`]: its own file, its
//! catalogue entry and its entries of each interface file. The catalogue and
//! interface files are then joined from the parts of every service, so a
//! rebuild encodes only the services of the publisher folders that changed
//! (the build cache keeps the parts of the others, see `crate::repo::scan`).

use std::collections::BTreeMap;

use hsp_index::api::{
    self, CatalogueEntry, ConsumerEntry, InterfaceEntry, ProviderEntry, ServiceIndex,
};
use hsp_index::version::newest_first;
use hsp_index::{Interface, RegistryConfig};
use hsp_tuf::TargetFile;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::summary::DocSummary;

/// One API file: its TUF target path, length and hash, and content (compact
/// JSON and a newline).
pub struct ApiFile {
    pub path: String,
    pub target: TargetFile,
    pub content: Content,
}

/// An API file's bytes, or where they are instead.
pub enum Content {
    Bytes(Vec<u8>),
    /// Not kept: OUT serves a file with these bytes already.
    Served,
    /// Handed to the [`Sink`] as soon as encoded, and dropped.
    Written,
}

/// Receives each API file as soon as it is encoded (path, target, bytes):
/// a first build writes them straight into its staging folder.
pub type Sink<'a> = dyn Fn(&str, &TargetFile, &[u8]) -> std::io::Result<()> + Sync + 'a;

/// Whether OUT already serves a file at this path with this sha256 (hex).
pub type Served<'a> = dyn Fn(&str, &str) -> bool + Sync + 'a;

pub(crate) fn finish(
    path: String,
    mut bytes: Vec<u8>,
    sink: Option<&Sink>,
    served: &Served,
) -> std::io::Result<ApiFile> {
    bytes.push(b'\n');
    let target = TargetFile::from_bytes(&bytes);
    let content = match sink {
        Some(sink) => {
            sink(&path, &target, &bytes)?;
            Content::Written
        }
        None if served(&path, target.sha256().expect("sha256 listed")) => Content::Served,
        None => Content::Bytes(bytes),
    };
    Ok(ApiFile {
        path,
        target,
        content,
    })
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("API values encode")
}

/// What one service contributes to the API: its own file's length and
/// sha256, its entry of the catalogue, and its entries of each interface
/// file (compact JSON, entries comma-separated), so that a build reuses
/// them for every service whose documents did not change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceParts {
    pub id: String,
    pub length: u64,
    pub sha256: String,
    /// Its `CatalogueEntry`.
    pub catalogue: String,
    /// (interface, its `ProviderEntry`s) in interface order.
    pub providers: Vec<(String, String)>,
    /// (interface, its `ConsumerEntry`s) in interface order.
    pub consumers: Vec<(String, String)>,
}

impl ServiceParts {
    /// The service's own file as an [`ApiFile`] OUT already serves.
    pub fn served_file(&self) -> ApiFile {
        ApiFile {
            path: api::service_path(&self.id),
            target: TargetFile {
                length: self.length,
                hashes: hsp_tuf::Hashes::from([("sha256".to_string(), self.sha256.clone())]),
                custom: None,
            },
            content: Content::Served,
        }
    }
}

/// Appends `entry` to the comma-separated entries of `key` in `parts`.
fn push_entry<T: Serialize>(parts: &mut BTreeMap<String, String>, key: &str, entry: &T) {
    let list = parts.entry(key.to_string()).or_default();
    if !list.is_empty() {
        list.push(',');
    }
    list.push_str(&json(entry));
}

fn service(
    id: String,
    mut versions: Vec<(DocSummary, &str)>,
    sink: Option<&Sink>,
    served: &Served,
) -> std::io::Result<(ServiceParts, ApiFile)> {
    versions.sort_by(|a, b| {
        newest_first(&a.0.entry.version, &b.0.entry.version)
            .then_with(|| a.0.entry.target.cmp(&b.0.entry.target))
    });
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
    let mut providers = BTreeMap::new();
    let mut consumers = BTreeMap::new();
    for v in &s.versions {
        for p in &v.provides {
            let entry = ProviderEntry {
                service: s.id.clone(),
                version: v.version.clone(),
                interface_version: p.version.clone(),
                features: p.features.clone(),
                yanked: v.yanked.is_some(),
            };
            push_entry(&mut providers, &p.interface, &entry);
        }
        for r in &v.requires {
            let entry = ConsumerEntry {
                service: s.id.clone(),
                version: v.version.clone(),
                requirement: r.name.clone(),
                range: r.version.clone(),
                yanked: v.yanked.is_some(),
            };
            push_entry(&mut consumers, &r.interface, &entry);
        }
    }
    let bytes = serde_json::to_vec(&s).expect("API values encode");
    let file = finish(api::service_path(&s.id), bytes, sink, served)?;
    let parts = ServiceParts {
        catalogue: json(&catalogue_entry(&s)),
        id: s.id,
        length: file.target.length,
        sha256: file.target.sha256().expect("sha256 listed").to_string(),
        providers: providers.into_iter().collect(),
        consumers: consumers.into_iter().collect(),
    };
    Ok((parts, file))
}

/// The [`ServiceParts`] and file of every service of `docs` (each summary
/// with the sha256 of its document, in any order; consumed), by id. With a
/// `sink`, each file goes to it as soon as encoded; otherwise a file OUT
/// already serves (`served`) is not kept.
pub fn services<'a>(
    docs: impl IntoIterator<Item = (DocSummary, &'a str)>,
    sink: Option<&Sink>,
    served: &Served,
) -> std::io::Result<Vec<(ServiceParts, ApiFile)>> {
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
    by_service
        .into_par_iter()
        .map(|(id, versions)| service(id, versions, sink, served))
        .collect()
}

/// The catalogue and the interface files of a registry whose services are
/// `services` (each id once, in any order): the catalogue lists them by id,
/// and each interface file its providers and consumers by service id, then
/// version newest first. The bytes are those of encoding
/// [`Catalogue`] and [`InterfaceIndex`] (tested), joined from the parts.
pub fn indexes(
    config: &RegistryConfig,
    interfaces: &[Interface],
    mut services: Vec<&ServiceParts>,
    sink: Option<&Sink>,
    served: &Served,
) -> std::io::Result<Vec<ApiFile>> {
    services.sort_by(|a, b| a.id.cmp(&b.id));
    let mut sorted_interfaces: Vec<&Interface> = interfaces.iter().collect();
    sorted_interfaces.sort_by(|a, b| a.id.cmp(&b.id));
    let entries_of = |interface: &str, pick: fn(&ServiceParts) -> &[(String, String)]| {
        services
            .iter()
            .filter_map(|s| {
                let parts = pick(s);
                let i = parts
                    .binary_search_by(|(k, _)| k.as_str().cmp(interface))
                    .ok()?;
                Some(parts[i].1.as_str())
            })
            .collect::<Vec<&str>>()
    };
    fn provider_entries(s: &ServiceParts) -> &[(String, String)] {
        &s.providers
    }
    fn consumer_entries(s: &ServiceParts) -> &[(String, String)] {
        &s.consumers
    }
    let catalogue = || {
        let entries: Vec<InterfaceEntry> = sorted_interfaces
            .iter()
            .map(|i| InterfaceEntry {
                id: i.id.clone(),
                name: i.name.clone(),
                providers: entries_of(&i.id, provider_entries).len(),
            })
            .collect();
        let mut out = String::with_capacity(
            services
                .iter()
                .map(|s| s.catalogue.len() + 1)
                .sum::<usize>()
                + 256,
        );
        out.push_str("{\"registry\":");
        out.push_str(&json(&config.name));
        out.push_str(",\"title\":");
        out.push_str(&json(&config.title));
        out.push_str(",\"services\":");
        join_into(&mut out, services.iter().map(|s| s.catalogue.as_str()));
        out.push_str(",\"interfaces\":");
        out.push_str(&json(&entries));
        out.push('}');
        finish(
            api::CATALOGUE_PATH.to_string(),
            out.into_bytes(),
            sink,
            served,
        )
    };
    let interface_file = |i: &&Interface| {
        let (providers, consumers) = (
            entries_of(&i.id, provider_entries),
            entries_of(&i.id, consumer_entries),
        );
        let mut out = String::with_capacity(
            providers
                .iter()
                .chain(&consumers)
                .map(|e| e.len() + 1)
                .sum::<usize>()
                + 4096,
        );
        out.push_str("{\"interface\":");
        out.push_str(&json(*i));
        out.push_str(",\"providers\":");
        join_into(&mut out, providers.into_iter());
        out.push_str(",\"consumers\":");
        join_into(&mut out, consumers.into_iter());
        out.push('}');
        finish(api::interface_path(&i.id), out.into_bytes(), sink, served)
    };
    // The catalogue and the interface files are megabytes each: in parallel.
    let (catalogue, interface_files) = rayon::join(catalogue, || {
        sorted_interfaces
            .par_iter()
            .map(interface_file)
            .collect::<std::io::Result<Vec<_>>>()
    });
    let mut out = vec![catalogue?];
    out.extend(interface_files?);
    Ok(out)
}

/// Appends `[a,b,...]` of the JSON texts `items`.
fn join_into<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
}

/// Every API file of `docs` (see [`services`] and [`indexes`]), sorted by path.
#[cfg(test)]
pub fn files<'a>(
    config: &RegistryConfig,
    interfaces: &[Interface],
    docs: impl IntoIterator<Item = (DocSummary, &'a str)>,
    sink: Option<&Sink>,
    served: &Served,
) -> std::io::Result<Vec<ApiFile>> {
    let (parts, mut out): (Vec<ServiceParts>, Vec<ApiFile>) =
        services(docs, sink, served)?.into_iter().unzip();
    out.extend(indexes(
        config,
        interfaces,
        parts.iter().collect(),
        sink,
        served,
    )?);
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
    use hsp_index::api::{Catalogue, InterfaceIndex, VersionEntry};

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
        let none = |_: &str, _: &str| false;
        let with_hash = |docs: Vec<DocSummary>| docs.into_iter().map(|d| (d, "h"));
        let files = files(&config, &[], with_hash(docs.clone()), None, &none).unwrap();
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
        let again = super::files(&config, &[], with_hash(reversed), None, &none).unwrap();
        assert!(files.iter().zip(&again).all(|(a, b)| bytes(a) == bytes(b)));
    }

    /// The catalogue and interface files joined from parts are the bytes of
    /// encoding the whole values.
    #[test]
    fn joined_indexes_are_the_encoded_values() {
        let config: RegistryConfig =
            serde_json::from_str(r#"{"name":"r\"q","title":"T\u00e9 <x>"}"#).unwrap();
        let interface = |id: &str| -> Interface {
            serde_json::from_value(serde_json::json!({
                "id": id, "name": format!("The {id} \"API\""), "description": "d\n",
                "versioning": "semver", "fields": []
            }))
            .unwrap()
        };
        let interfaces = vec![interface("smtp"), interface("fhir"), interface("none")];
        let mut docs = [
            summary("b.c", "1.0.0", false, &["smtp", "fhir"]),
            summary("b.c", "2.0.0", true, &["fhir"]),
            summary("a.b", "1.0.0", false, &["fhir"]),
            summary("z.z", "0.1.0", false, &[]),
        ];
        docs[0].entry.requires.push(hsp_index::api::RequireSummary {
            name: "mail".into(),
            interface: "smtp".into(),
            version: ">=1".into(),
            scope: hsp_index::document::Scope::Dedicated,
            optional: true,
            features: vec!["tls".into()],
        });
        let none = |_: &str, _: &str| false;
        let files = files(
            &config,
            &interfaces,
            docs.iter().cloned().map(|d| (d, "h")),
            None,
            &none,
        )
        .unwrap();
        let bytes = |path: &str| match &files.iter().find(|f| f.path == path).unwrap().content {
            Content::Bytes(b) => b.clone(),
            _ => panic!("{path} not encoded"),
        };
        let encoded = |v: &dyn erased::Encode| v.encode();
        let cat: Catalogue = serde_json::from_slice(&bytes(api::CATALOGUE_PATH)).unwrap();
        assert_eq!(bytes(api::CATALOGUE_PATH), encoded(&cat));
        assert_eq!(cat.services.len(), 3);
        let fhir = cat.interfaces.iter().find(|i| i.id == "fhir").unwrap();
        assert_eq!(fhir.providers, 2);
        for i in &interfaces {
            let b = bytes(&api::interface_path(&i.id));
            let index: InterfaceIndex = serde_json::from_slice(&b).unwrap();
            assert_eq!(b, encoded(&index), "{}", i.id);
        }
        let smtp: InterfaceIndex =
            serde_json::from_slice(&bytes("api/interfaces/smtp.json")).unwrap();
        assert_eq!(smtp.consumers.len(), 1);
        assert_eq!(smtp.providers.len(), 1);
        let fhir: InterfaceIndex =
            serde_json::from_slice(&bytes("api/interfaces/fhir.json")).unwrap();
        let order: Vec<(&str, &str)> = fhir
            .providers
            .iter()
            .map(|p| (p.service.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            order,
            [("a.b", "1.0.0"), ("b.c", "2.0.0"), ("b.c", "1.0.0")]
        );
    }

    mod erased {
        /// Compact JSON and a newline, as API files are written.
        pub trait Encode {
            fn encode(&self) -> Vec<u8>;
        }
        impl<T: serde::Serialize> Encode for T {
            fn encode(&self) -> Vec<u8> {
                let mut b = serde_json::to_vec(self).unwrap();
                b.push(b'\n');
                b
            }
        }
    }
}
