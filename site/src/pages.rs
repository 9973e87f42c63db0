//! The pages of the site and the data each template gets. Pure: takes the
//! catalogue, returns values; `render` does the I/O.
//!
//! Every link is relative to the page (`root` is `../` repeated), and points at
//! a file, never a folder, so the site works from `file://`, from any folder and
//! from any static server.
//!
//! Layout: one flat file per page inside a folder per kind
//! (`services/<id>.html`, `services/<id>@<version>.html`, `interfaces/<id>.html`,
//! `publishers/<name>.html`, `docs/<page>.html`, lists at `<kind>/index.html`).
//! Not a folder per page: creating 100,000 folders costs more than rendering
//! the pages on ext4 (see the render benchmark).

use hsp_index::environment::{
    ConfigValue, Environment, IndexSource, SecretFile, Target, TargetKind,
};
use hsp_index::environment::{EnvPolicy, WantedService};
use serde_json::{json, Value};

use crate::catalogue::{Catalogue, Service};
use crate::graph;

/// One page to write.
#[derive(Clone, Copy, Debug)]
pub enum Page {
    Home,
    Services,
    Service(usize),
    Version(usize, usize),
    Interfaces,
    Interface(usize),
    Publishers,
    Publisher(usize),
    Doc(crate::docs::DocPage),
}

impl Page {
    /// Every page of the catalogue, in a stable order.
    pub fn all(cat: &Catalogue) -> Vec<Page> {
        let mut pages = vec![
            Page::Home,
            Page::Services,
            Page::Interfaces,
            Page::Publishers,
        ];
        pages.extend(crate::docs::DocPage::ALL.iter().map(|&d| Page::Doc(d)));
        pages.extend((0..cat.interfaces.len()).map(Page::Interface));
        pages.extend((0..cat.publishers.len()).map(Page::Publisher));
        for (s, svc) in cat.services.iter().enumerate() {
            pages.push(Page::Service(s));
            pages.extend((0..svc.versions.len()).map(|v| Page::Version(s, v)));
        }
        pages
    }

    /// Path of the page file, relative to the site root.
    pub fn path(&self, cat: &Catalogue) -> String {
        match *self {
            Page::Home => "index.html".into(),
            Page::Services => "services/index.html".into(),
            Page::Service(s) => service_path(cat.services[s].id),
            Page::Version(s, v) => {
                version_path(cat.services[s].id, &cat.services[s].versions[v].doc.version)
            }
            Page::Interfaces => "interfaces/index.html".into(),
            Page::Interface(i) => interface_path(&cat.interfaces[i].id),
            Page::Publishers => "publishers/index.html".into(),
            Page::Publisher(p) => publisher_path(&cat.publishers[p].publisher.name),
            Page::Doc(d) => d.path().into(),
        }
    }

    pub fn template(&self) -> &'static str {
        match self {
            Page::Home => "home.html",
            Page::Services => "services.html",
            Page::Service(_) => "service.html",
            Page::Version(..) => "version.html",
            Page::Interfaces => "interfaces.html",
            Page::Interface(_) => "interface.html",
            Page::Publishers => "publishers.html",
            Page::Publisher(_) => "publisher.html",
            Page::Doc(d) => d.template(),
        }
    }

    /// The template data; `site` is the shared part (title, colour, logo).
    pub fn context(&self, cat: &Catalogue, site: &Value) -> Value {
        let path = self.path(cat);
        let root = "../".repeat(path.matches('/').count());
        let (section, mut data) = match *self {
            Page::Home => ("home", home(cat, &root)),
            Page::Services => ("services", json!({"services": service_rows(cat, &root)})),
            Page::Service(s) => ("services", service(cat, s, &root)),
            Page::Version(s, v) => ("services", version(cat, s, v, &root)),
            Page::Interfaces => ("interfaces", interfaces(cat, &root)),
            Page::Interface(i) => ("interfaces", interface(cat, i, &root)),
            Page::Publishers => ("publishers", publishers(cat, &root)),
            Page::Publisher(p) => ("publishers", publisher(cat, p, &root)),
            Page::Doc(d) => ("docs", d.context(cat)),
        };
        let obj = data.as_object_mut().expect("page data is an object");
        obj.insert("root".into(), json!(root));
        obj.insert("section".into(), json!(section));
        obj.insert("site".into(), site.clone());
        data
    }
}

/// Site-relative path of a service page.
pub fn service_path(id: &str) -> String {
    format!("services/{id}.html")
}
/// Site-relative path of a version page.
pub fn version_path(id: &str, version: &str) -> String {
    format!("services/{id}@{version}.html")
}
/// Site-relative path of an interface page.
pub fn interface_path(id: &str) -> String {
    format!("interfaces/{id}.html")
}
/// Site-relative path of a publisher page.
pub fn publisher_path(name: &str) -> String {
    format!("publishers/{name}.html")
}

fn service_href(root: &str, id: &str) -> String {
    format!("{root}{}", service_path(id))
}
fn version_href(root: &str, id: &str, version: &str) -> String {
    format!("{root}{}", version_path(id, version))
}
fn publisher_href(root: &str, name: &str) -> String {
    format!("{root}{}", publisher_path(name))
}

/// A link to an interface page, or `null` when the registry does not define it.
fn interface_href(cat: &Catalogue, root: &str, id: &str) -> Value {
    match cat.interface(id) {
        Some(_) => json!(format!("{root}{}", interface_path(id))),
        None => Value::Null,
    }
}
fn publisher_link(cat: &Catalogue, root: &str, name: &str) -> Value {
    match cat.publisher(name) {
        Some(p) => json!({"name": name, "title": p.publisher.title,
                          "href": publisher_href(root, name)}),
        None => json!({"name": name, "title": name, "href": null}),
    }
}

fn service_row(cat: &Catalogue, s: &Service, root: &str) -> Value {
    let latest = s.latest().doc;
    json!({
        "id": s.id,
        "name": latest.name,
        "summary": latest.summary,
        "publisher": publisher_link(cat, root, &latest.publisher),
        "license": latest.license,
        "latest": latest.version,
        "versions": s.versions.len(),
        "yanked": s.all_yanked(),
        "provides": latest.provides.iter().map(|p| p.interface.as_str()).collect::<Vec<_>>(),
        "href": service_href(root, s.id),
    })
}

fn service_rows(cat: &Catalogue, root: &str) -> Vec<Value> {
    cat.services
        .iter()
        .map(|s| service_row(cat, s, root))
        .collect()
}

fn home(cat: &Catalogue, root: &str) -> Value {
    let mut licenses: Vec<&str> = cat
        .services
        .iter()
        .map(|s| s.latest().doc.license.as_str())
        .collect();
    licenses.sort_unstable();
    licenses.dedup();
    let yanked = cat.services.iter().filter(|s| s.all_yanked()).count();
    json!({
        "services": service_rows(cat, root),
        "yanked_count": yanked,
        "interfaces": cat.interfaces.iter().map(|i| json!({"id": i.id, "name": i.name})).collect::<Vec<_>>(),
        "publishers": cat.publishers.iter()
            .map(|p| json!({"name": p.publisher.name, "title": p.publisher.title}))
            .collect::<Vec<_>>(),
        "licenses": licenses,
    })
}

fn service(cat: &Catalogue, s: usize, root: &str) -> Value {
    let svc = &cat.services[s];
    let latest = svc.latest().doc;
    let versions: Vec<Value> = svc
        .versions
        .iter()
        .map(|v| {
            json!({
                "version": v.doc.version,
                "href": version_href(root, svc.id, &v.doc.version),
                "license": v.doc.license,
                "yanked": v.doc.yanked,
                "provides": v.doc.provides.iter().map(|p| format!("{} {}", p.interface, p.version)).collect::<Vec<_>>(),
                "requires": v.doc.requires.iter().map(|r| format!("{} {}", r.interface, r.version)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "title": latest.name,
        "id": svc.id,
        "doc": latest,
        "publisher": publisher_link(cat, root, &latest.publisher),
        "latest": latest.version,
        "latest_href": version_href(root, svc.id, &latest.version),
        "all_yanked": svc.all_yanked(),
        "versions": versions,
    })
}

fn version(cat: &Catalogue, s: usize, v: usize, root: &str) -> Value {
    let svc = &cat.services[s];
    let ver = &svc.versions[v];
    let doc = ver.doc;
    let provides: Vec<Value> = doc
        .provides
        .iter()
        .map(|p| {
            let port = doc.task(&p.task).and_then(|t| t.port(&p.port)).map(|p| p.port);
            json!({
                "interface": p.interface,
                "interface_name": cat.interface(&p.interface).map(|i| i.name.as_str()).unwrap_or(&p.interface),
                "href": interface_href(cat, root, &p.interface),
                "version": p.version, "task": p.task, "port": p.port, "port_number": port,
                "features": p.features, "binding": p.binding,
            })
        })
        .collect();
    let requires: Vec<Value> = doc
        .requires
        .iter()
        .map(|r| {
            let providers = cat.providers(r);
            let shown: Vec<Value> = providers
                .iter()
                .take(graph::MAX_PROVIDERS)
                .map(|&(ps, pv)| {
                    let d = cat.services[ps].versions[pv].doc;
                    json!({"name": d.name, "id": d.id, "version": d.version,
                           "href": version_href(root, &d.id, &d.version)})
                })
                .collect();
            json!({
                "name": r.name, "interface": r.interface,
                "interface_name": cat.interface(&r.interface).map(|i| i.name.as_str()).unwrap_or(&r.interface),
                "href": interface_href(cat, root, &r.interface),
                "range": r.version, "scope": r.scope, "optional": r.optional,
                "features": r.features, "description": r.description,
                "providers": shown, "more": providers.len().saturating_sub(graph::MAX_PROVIDERS),
            })
        })
        .collect();
    let publisher = match cat.publisher(&doc.publisher) {
        Some(p) => json!({
            "name": p.publisher.name, "title": p.publisher.title,
            "href": publisher_href(root, &p.publisher.name),
            "threshold": p.publisher.threshold,
            "keys": keys(p),
        }),
        None => json!({"name": doc.publisher, "title": doc.publisher, "href": null, "keys": []}),
    };
    let newer = svc.versions[..v].iter().any(|o| o.doc.yanked.is_none());
    json!({
        "title": format!("{} {}", doc.name, doc.version),
        "id": svc.id,
        "doc": doc,
        "service_href": service_href(root, svc.id),
        "latest": svc.latest().doc.version,
        "latest_href": version_href(root, svc.id, &svc.latest().doc.version),
        "is_latest": v == svc.latest,
        "newer_exists": newer,
        "provides": provides,
        "requires": requires,
        "open_source": cat.is_open_source(&doc.license),
        "publisher": publisher,
        "graph": graph::svg(cat, s, v, root),
        "snippet": environment_snippet(cat, s, v),
        "index_url": index_url(cat),
        "target": ver.target,
    })
}

fn keys(p: &crate::input::PublisherInput) -> Vec<Value> {
    p.publisher
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            json!({"id": p.key_ids.get(i), "keytype": k.keytype, "scheme": k.scheme, "public": k.keyval.public})
        })
        .collect()
}

/// Where the built index is served: the registry's `url`, else a placeholder.
fn index_url(cat: &Catalogue) -> String {
    cat.input
        .config
        .url
        .clone()
        .unwrap_or_else(|| "https://registry.example.org/".into())
}

/// A complete environment file deploying this version: the services entry,
/// placeholders for the config it needs, secrets by file reference.
pub fn environment_snippet(cat: &Catalogue, s: usize, v: usize) -> String {
    let doc = cat.services[s].versions[v].doc;
    let semver = cat.services[s].versions[v].semver.as_ref();
    let mut config = std::collections::BTreeMap::new();
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
            url: cat
                .input
                .config
                .url
                .clone()
                .unwrap_or_else(|| "https://registry.example.org/".into()),
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

fn interfaces(cat: &Catalogue, root: &str) -> Value {
    let rows: Vec<Value> = cat
        .interfaces
        .iter()
        .map(|i| {
            let offers = cat
                .offers
                .get(i.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let needs = cat
                .needs
                .get(i.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut providers: Vec<usize> = offers.iter().map(|o| o.service).collect();
            providers.dedup();
            let mut consumers: Vec<usize> = needs.iter().map(|n| n.service).collect();
            consumers.dedup();
            json!({"id": i.id, "name": i.name, "description": i.description,
                   "href": format!("{root}{}", interface_path(&i.id)),
                   "providers": providers.len(), "consumers": consumers.len()})
        })
        .collect();
    json!({"title": "Interfaces", "interfaces": rows})
}

fn interface(cat: &Catalogue, i: usize, root: &str) -> Value {
    let iface = cat.interfaces[i];
    let mut providers: Vec<Value> = Vec::new();
    let offers = cat
        .offers
        .get(iface.id.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for group in offers.chunk_by(|a, b| a.service == b.service) {
        let svc = &cat.services[group[0].service];
        let versions: Vec<Value> = group
            .iter()
            .map(|o| {
                let d = svc.versions[o.version].doc;
                json!({"version": d.version, "href": version_href(root, svc.id, &d.version),
                       "interface_version": d.provides[o.provide].version,
                       "features": o.features, "yanked": d.yanked.is_some()})
            })
            .collect();
        providers.push(json!({"id": svc.id, "name": svc.latest().doc.name,
                              "href": service_href(root, svc.id), "versions": versions}));
    }
    let mut consumers: Vec<Value> = Vec::new();
    let needs = cat
        .needs
        .get(iface.id.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for group in needs.chunk_by(|a, b| a.service == b.service) {
        let svc = &cat.services[group[0].service];
        let versions: Vec<Value> = group
            .iter()
            .map(|n| {
                let d = svc.versions[n.version].doc;
                json!({"version": d.version, "href": version_href(root, svc.id, &d.version),
                       "requirement": n.requirement.name, "range": n.requirement.version,
                       "optional": n.requirement.optional, "yanked": d.yanked.is_some()})
            })
            .collect();
        consumers.push(json!({"id": svc.id, "name": svc.latest().doc.name,
                              "href": service_href(root, svc.id), "versions": versions}));
    }
    json!({"title": iface.name, "interface": iface, "providers": providers, "consumers": consumers})
}

fn publishers(cat: &Catalogue, root: &str) -> Value {
    let rows: Vec<Value> = cat
        .publishers
        .iter()
        .map(|p| {
            let name = p.publisher.name.as_str();
            json!({"name": name, "title": p.publisher.title,
                   "href": publisher_href(root, name),
                   "namespaces": p.publisher.namespaces,
                   "services": cat.services_of(name).count()})
        })
        .collect();
    json!({"title": "Publishers", "publishers": rows})
}

fn publisher(cat: &Catalogue, p: usize, root: &str) -> Value {
    let pi = cat.publishers[p];
    let services: Vec<Value> = cat
        .services_of(&pi.publisher.name)
        .map(|s| service_row(cat, s, root))
        .collect();
    json!({"title": pi.publisher.title, "publisher": pi.publisher, "keys": keys(pi), "services": services})
}
