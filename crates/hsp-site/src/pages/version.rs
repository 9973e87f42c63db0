//! Data of the service pages (every version of a service) and the version pages
//! (one conformance document), and the environment snippet of a version page.

use std::collections::BTreeMap;

use hsp_index::document::Scope;
use hsp_index::environment::{
    ConfigValue, EnvPolicy, Environment, IndexSource, SecretFile, Target, TargetKind, WantedService,
};
use hsp_index::Document;
use serde::Serialize;

use super::{interface_href, keys, publisher_href, publisher_link, service_href, version_href};
use super::{Key, PublisherLink};
use crate::catalogue::Catalogue;
use crate::graph;

/// Where the built index is served when the registry does not say.
const PLACEHOLDER_URL: &str = "https://registry.example.org/";

#[derive(Serialize)]
pub(super) struct ServicePage<'a> {
    title: &'a str,
    id: &'a str,
    doc: &'a Document,
    publisher: PublisherLink<'a>,
    latest: &'a str,
    latest_href: String,
    all_yanked: bool,
    versions: Vec<VersionRow<'a>>,
}

#[derive(Serialize)]
struct VersionRow<'a> {
    version: &'a str,
    href: String,
    license: &'a str,
    yanked: Option<&'a str>,
    provides: Vec<String>,
    requires: Vec<String>,
}

pub(super) fn service<'a>(cat: &Catalogue<'a>, s: usize, root: &str) -> ServicePage<'a> {
    let svc = &cat.services[s];
    let latest = svc.latest().doc;
    let versions = svc
        .versions
        .iter()
        .map(|v| VersionRow {
            version: &v.doc.version,
            href: version_href(root, svc.id, &v.doc.version),
            license: &v.doc.license,
            yanked: v.doc.yanked.as_deref(),
            provides: v
                .doc
                .provides
                .iter()
                .map(|p| format!("{} {}", p.interface, p.version))
                .collect(),
            requires: v
                .doc
                .requires
                .iter()
                .map(|r| format!("{} {}", r.interface, r.version))
                .collect(),
        })
        .collect();
    ServicePage {
        title: &latest.name,
        id: svc.id,
        doc: latest,
        publisher: publisher_link(cat, root, &latest.publisher),
        latest: &latest.version,
        latest_href: version_href(root, svc.id, &latest.version),
        all_yanked: svc.all_yanked(),
        versions,
    }
}

#[derive(Serialize)]
pub(super) struct VersionPage<'a> {
    title: String,
    id: &'a str,
    doc: &'a Document,
    service_href: String,
    latest: &'a str,
    latest_href: String,
    is_latest: bool,
    newer_exists: bool,
    provides: Vec<ProvideRow<'a>>,
    requires: Vec<RequireRow<'a>>,
    open_source: bool,
    publisher: Signer<'a>,
    graph: String,
    snippet: String,
    index_url: &'a str,
    target: &'a str,
    /// Its validation report, if the registry has one.
    validation: Option<Validated<'a>>,
}

#[derive(Serialize)]
struct Validated<'a> {
    /// The day, `YYYY-MM-DD`.
    date: &'a str,
    passed: bool,
    ok: usize,
    all: usize,
    engine: &'a str,
    rules: &'a [hsp_index::validation::RuleResult],
}

#[derive(Serialize)]
struct ProvideRow<'a> {
    interface: &'a str,
    interface_name: &'a str,
    href: Option<String>,
    version: &'a str,
    task: &'a str,
    port: &'a str,
    port_number: Option<u16>,
    features: &'a [String],
    binding: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RequireRow<'a> {
    name: &'a str,
    interface: &'a str,
    interface_name: &'a str,
    href: Option<String>,
    range: &'a str,
    scope: Scope,
    optional: bool,
    features: &'a [String],
    description: &'a str,
    providers: Vec<ProviderLink<'a>>,
    more: usize,
}

#[derive(Serialize)]
struct ProviderLink<'a> {
    name: &'a str,
    id: &'a str,
    version: &'a str,
    href: String,
}

/// The publisher that signs a version, with its keys; `threshold` is left out
/// when the registry has no record of the publisher.
#[derive(Serialize)]
struct Signer<'a> {
    name: &'a str,
    title: &'a str,
    href: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<u32>,
    keys: Vec<Key<'a>>,
}

pub(super) fn version<'a>(cat: &Catalogue<'a>, s: usize, v: usize, root: &str) -> VersionPage<'a> {
    let svc = &cat.services[s];
    let ver = &svc.versions[v];
    let doc = ver.doc;
    let interface_name =
        |id: &'a str| -> &'a str { cat.interface(id).map(|i| i.name.as_str()).unwrap_or(id) };
    let provides = doc
        .provides
        .iter()
        .map(|p| ProvideRow {
            interface: &p.interface,
            interface_name: interface_name(&p.interface),
            href: interface_href(cat, root, &p.interface),
            version: &p.version,
            task: &p.task,
            port: &p.port,
            port_number: doc
                .task(&p.task)
                .and_then(|t| t.port(&p.port))
                .map(|p| p.port),
            features: &p.features,
            binding: &p.binding,
        })
        .collect();
    let requires = doc
        .requires
        .iter()
        .map(|r| {
            let providers = cat.providers(r);
            RequireRow {
                name: &r.name,
                interface: &r.interface,
                interface_name: interface_name(&r.interface),
                href: interface_href(cat, root, &r.interface),
                range: &r.version,
                scope: r.scope,
                optional: r.optional,
                features: &r.features,
                description: &r.description,
                providers: providers
                    .iter()
                    .take(graph::MAX_PROVIDERS)
                    .map(|&(ps, pv)| {
                        let d = cat.services[ps].versions[pv].doc;
                        ProviderLink {
                            name: &d.name,
                            id: &d.id,
                            version: &d.version,
                            href: version_href(root, &d.id, &d.version),
                        }
                    })
                    .collect(),
                more: providers.len().saturating_sub(graph::MAX_PROVIDERS),
            }
        })
        .collect();
    let publisher = match cat.publisher(&doc.publisher) {
        Some(p) => Signer {
            name: &p.publisher.name,
            title: &p.publisher.title,
            href: Some(publisher_href(root, &p.publisher.name)),
            threshold: Some(p.publisher.threshold),
            keys: keys(p),
        },
        None => Signer {
            name: &doc.publisher,
            title: &doc.publisher,
            href: None,
            threshold: None,
            keys: Vec::new(),
        },
    };
    let latest = &svc.latest().doc.version;
    VersionPage {
        title: format!("{} {}", doc.name, doc.version),
        id: svc.id,
        doc,
        service_href: service_href(root, svc.id),
        latest,
        latest_href: version_href(root, svc.id, latest),
        is_latest: v == svc.latest,
        newer_exists: svc.versions[..v].iter().any(|o| o.doc.yanked.is_none()),
        provides,
        requires,
        open_source: cat.is_open_source(&doc.license),
        publisher,
        graph: graph::svg(cat, s, v, root),
        snippet: environment_snippet(cat, s, v),
        index_url: index_url(cat),
        target: ver.target,
        validation: cat
            .input
            .validations
            .iter()
            .find(|r| r.service == svc.id && r.version == doc.version)
            .map(|r| {
                let (ok, all) = r.score();
                Validated {
                    date: r.validated_at.get(..10).unwrap_or(&r.validated_at),
                    passed: r.passed(),
                    ok,
                    all,
                    engine: &r.engine,
                    rules: &r.rules,
                }
            }),
    }
}

/// Where the built index is served: the registry's `url`, else a placeholder.
fn index_url<'a>(cat: &Catalogue<'a>) -> &'a str {
    cat.input.config.url.as_deref().unwrap_or(PLACEHOLDER_URL)
}

/// A complete environment file deploying this version: the services entry,
/// placeholders for the config it needs, secrets by file reference.
pub fn environment_snippet(cat: &Catalogue, s: usize, v: usize) -> String {
    let doc = cat.services[s].versions[v].doc;
    let semver = cat.services[s].versions[v].semver.as_ref();
    let mut config = BTreeMap::new();
    for c in doc
        .config
        .iter()
        .filter(|c| !c.generate && (c.required || c.secret) && c.default.is_none())
    {
        let value = if c.secret {
            ConfigValue::Secret(SecretFile {
                secret_file: format!("secrets/{}", c.name.to_lowercase()),
            })
        } else {
            ConfigValue::Literal(format!("<{}>", c.name))
        };
        config.insert(c.name.clone(), value);
    }
    let env = Environment {
        schema: None,
        name: "my-site".into(),
        index: IndexSource {
            url: index_url(cat).to_string(),
            root: "root.json".into(),
        },
        services: vec![WantedService {
            id: doc.id.clone(),
            version: format!(
                "={}",
                semver
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| doc.version.clone())
            ),
            name: None,
            pin: None,
        }],
        externals: vec![],
        config: if config.is_empty() {
            Default::default()
        } else {
            [(doc.id.clone(), config)].into_iter().collect()
        },
        policy: EnvPolicy::default(),
        target: Target {
            kind: TargetKind::Docker,
            mirror: None,
            root: None,
        },
    };
    let mut value = serde_json::to_value(&env).unwrap_or_default();
    if let Some(o) = value.as_object_mut() {
        o.remove("policy"); // defaults; keep the snippet short
        o.remove("externals");
        if o.get("config")
            .is_some_and(|c| c.as_object().is_some_and(|m| m.is_empty()))
        {
            o.remove("config");
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
