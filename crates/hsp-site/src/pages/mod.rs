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
//!
//! Template data is built from typed structs that borrow the catalogue
//! ([`version`] for service and version pages, [`lists`] for the list, interface
//! and publisher pages) and serialised once, straight into the Tera context: no
//! intermediate `serde_json::Value` is built and then copied.

mod lists;
mod version;

use serde::Serialize;
use serde_json::Value;
use tera::Context;

use crate::catalogue::Catalogue;
pub use crate::paths::{interface_path, publisher_path, service_path, version_path};

pub use version::environment_snippet;

/// The folders pages are written into, below the site root.
pub const FOLDERS: &[&str] = &["services", "interfaces", "publishers", "docs"];

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

    /// The navigation section the page belongs to.
    pub fn section(&self) -> &'static str {
        match self {
            Page::Home => "home",
            Page::Services | Page::Service(_) | Page::Version(..) => "services",
            Page::Interfaces | Page::Interface(_) => "interfaces",
            Page::Publishers | Page::Publisher(_) => "publishers",
            Page::Doc(_) => "docs",
        }
    }

    /// The template data of the page at `path` (from [`Page::path`]); `site` is
    /// the shared part (title, colour, logo).
    pub fn context(
        &self,
        cat: &Catalogue,
        path: &str,
        site: &Value,
    ) -> Result<Context, tera::Error> {
        let root = "../".repeat(path.matches('/').count());
        let root = root.as_str();
        let mut context = match *self {
            Page::Home => Context::from_serialize(lists::home(cat, root)),
            Page::Services => Context::from_serialize(lists::Services {
                services: lists::service_rows(cat, root),
            }),
            Page::Service(s) => Context::from_serialize(version::service(cat, s, root)),
            Page::Version(s, v) => Context::from_serialize(version::version(cat, s, v, root)),
            Page::Interfaces => Context::from_serialize(lists::interfaces(cat, root)),
            Page::Interface(i) => Context::from_serialize(lists::interface(cat, i, root)),
            Page::Publishers => Context::from_serialize(lists::publishers(cat, root)),
            Page::Publisher(p) => Context::from_serialize(lists::publisher(cat, p, root)),
            Page::Doc(d) => Context::from_value(d.context(cat)),
        }?;
        context.insert("root", root);
        context.insert("section", self.section());
        context.insert("site", site);
        Ok(context)
    }
}

fn service_href(root: &str, id: &str) -> String {
    format!("{root}services/{id}.html")
}
fn version_href(root: &str, id: &str, version: &str) -> String {
    format!("{root}services/{id}@{version}.html")
}
fn publisher_href(root: &str, name: &str) -> String {
    format!("{root}publishers/{name}.html")
}

/// A link to an interface page, or `None` (`null`) when the registry does not
/// define the interface.
fn interface_href(cat: &Catalogue, root: &str, id: &str) -> Option<String> {
    cat.interface(id)
        .map(|_| format!("{root}{}", interface_path(id)))
}

/// A publisher as linked from a listing: its title and page, or its bare name
/// and no link when the registry has no record of it.
#[derive(Serialize)]
struct PublisherLink<'a> {
    name: &'a str,
    title: &'a str,
    href: Option<String>,
}

fn publisher_link<'a>(cat: &Catalogue<'a>, root: &str, name: &'a str) -> PublisherLink<'a> {
    match cat.publisher(name) {
        Some(p) => PublisherLink {
            name,
            title: &p.publisher.title,
            href: Some(publisher_href(root, name)),
        },
        None => PublisherLink {
            name,
            title: name,
            href: None,
        },
    }
}

/// A publisher key: TUF key id, type, scheme and public key.
#[derive(Serialize)]
struct Key<'a> {
    id: Option<&'a str>,
    keytype: &'a str,
    scheme: &'a str,
    public: &'a str,
}

fn keys<'a>(p: &'a crate::input::PublisherInput) -> Vec<Key<'a>> {
    p.publisher
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| Key {
            id: p.key_ids.get(i).map(String::as_str),
            keytype: &k.keytype,
            scheme: &k.scheme,
            public: &k.keyval.public,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::input::{DocumentInput, PublisherInput, SiteInput};

    /// The variables each template gets: registries override templates by name
    /// and rely on them, so a change here is a breaking change.
    #[test]
    fn template_data_keeps_its_variables() {
        let config: hsp_index::RegistryConfig =
            serde_json::from_value(json!({"name": "r", "title": "R"})).unwrap();
        let interfaces: Vec<hsp_index::Interface> = vec![serde_json::from_value(json!({
            "id": "pg", "name": "PostgreSQL", "description": "d", "versioning": "v",
            "fields": [{"name": "url", "type": "url"}]
        }))
        .unwrap()];
        let publisher: hsp_index::Publisher = serde_json::from_value(json!({
            "name": "p", "title": "P", "namespaces": ["org.p"],
            "keys": [{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "ab"}}]
        }))
        .unwrap();
        let docs: Vec<hsp_index::Document> = [
            json!({"id": "org.p.db", "version": "1.0.0", "name": "DB", "summary": "s", "publisher": "p",
                   "license": "MIT", "tasks": [{"name": "db", "image": "x@sha256:00", "memory_mib": 64,
                   "ports": [{"name": "pg", "port": 5432}]}],
                   "provides": [{"interface": "pg", "version": "16.0.0", "task": "db", "port": "pg"}]}),
            json!({"id": "org.p.app", "version": "2.0.0", "name": "App", "summary": "s", "publisher": "ghost",
                   "license": "MIT", "tasks": [],
                   "requires": [{"name": "db", "interface": "pg", "version": ">=15"}]}),
        ]
        .into_iter()
        .map(|d| serde_json::from_value(d).unwrap())
        .collect();
        let input = SiteInput::new(
            &config,
            &interfaces,
            vec![PublisherInput {
                publisher: &publisher,
                key_ids: vec!["k1".into()],
            }],
            docs.iter()
                .map(|d| DocumentInput {
                    document: d,
                    target: format!("services/{}/{}.json", d.id, d.version),
                })
                .collect(),
        );
        let cat = Catalogue::new(&input).unwrap();
        let site = json!({"title": "R"});
        let common = ["root", "section", "site"];
        let app = cat.service("org.p.app").unwrap();
        let db = cat.service("org.p.db").unwrap();
        for (page, keys) in [
            (
                Page::Home,
                &[
                    "services",
                    "yanked_count",
                    "interfaces",
                    "publishers",
                    "licenses",
                ][..],
            ),
            (Page::Services, &["services"]),
            (
                Page::Service(db),
                &[
                    "title",
                    "id",
                    "doc",
                    "publisher",
                    "latest",
                    "latest_href",
                    "all_yanked",
                    "versions",
                ],
            ),
            (
                Page::Version(app, 0),
                &[
                    "title",
                    "id",
                    "doc",
                    "service_href",
                    "latest",
                    "latest_href",
                    "is_latest",
                    "newer_exists",
                    "provides",
                    "requires",
                    "open_source",
                    "publisher",
                    "graph",
                    "snippet",
                    "index_url",
                    "target",
                    "validation",
                ],
            ),
            (Page::Interfaces, &["title", "interfaces"]),
            (
                Page::Interface(0),
                &["title", "interface", "providers", "consumers"],
            ),
            (Page::Publishers, &["title", "publishers"]),
            (
                Page::Publisher(0),
                &["title", "publisher", "keys", "services"],
            ),
        ] {
            let path = page.path(&cat);
            let data = page.context(&cat, &path, &site).unwrap().into_json();
            let mut got: Vec<&str> = data
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut want: Vec<&str> = keys.iter().chain(&common).copied().collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{page:?}");
        }

        // Nested shapes the built-in templates use.
        let version = Page::Version(app, 0);
        let v = version
            .context(&cat, &version.path(&cat), &site)
            .unwrap()
            .into_json();
        assert_eq!(v["root"], "../");
        assert_eq!(
            v["requires"][0]["providers"][0]["href"],
            "../services/org.p.db@1.0.0.html"
        );
        assert_eq!(v["requires"][0]["href"], "../interfaces/pg.html");
        assert_eq!(v["requires"][0]["scope"], "shared");
        assert_eq!(v["requires"][0]["more"], 0);
        // A publisher without a record: no link, no threshold, no keys.
        assert_eq!(
            v["publisher"],
            json!({"name": "ghost", "title": "ghost", "href": null, "keys": []})
        );
        let db_version = Page::Version(db, 0);
        let d = db_version
            .context(&cat, &db_version.path(&cat), &site)
            .unwrap()
            .into_json();
        assert_eq!(d["provides"][0]["port_number"], 5432);
        assert_eq!(d["provides"][0]["interface_name"], "PostgreSQL");
        assert_eq!(
            d["publisher"]["keys"][0],
            json!({"id": "k1", "keytype": "ed25519", "scheme": "ed25519", "public": "ab"})
        );
        assert_eq!(d["publisher"]["threshold"], 1);
        assert_eq!(d["index_url"], "https://registry.example.org/");
    }
}
