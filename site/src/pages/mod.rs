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
