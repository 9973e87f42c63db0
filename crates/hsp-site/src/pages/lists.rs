//! Data of the home page, the lists of services, interfaces and publishers, and
//! the page of each interface and publisher.

use hsp_index::{Interface, Publisher};
use serde::Serialize;

use super::{
    interface_path, keys, publisher_href, publisher_link, service_href, version_href, Key,
    PublisherLink,
};
use crate::catalogue::{Catalogue, Service};

/// A service in a listing, described by its latest version.
#[derive(Serialize)]
pub(super) struct ServiceRow<'a> {
    id: &'a str,
    name: &'a str,
    summary: &'a str,
    publisher: PublisherLink<'a>,
    license: &'a str,
    latest: &'a str,
    versions: usize,
    yanked: bool,
    provides: Vec<&'a str>,
    href: String,
}

fn service_row<'a>(cat: &Catalogue<'a>, s: &Service<'a>, root: &str) -> ServiceRow<'a> {
    let latest = s.latest().doc;
    ServiceRow {
        id: s.id,
        name: &latest.name,
        summary: &latest.summary,
        publisher: publisher_link(cat, root, &latest.publisher),
        license: &latest.license,
        latest: &latest.version,
        versions: s.versions.len(),
        yanked: s.all_yanked(),
        provides: latest
            .provides
            .iter()
            .map(|p| p.interface.as_str())
            .collect(),
        href: service_href(root, s.id),
    }
}

pub(super) fn service_rows<'a>(cat: &Catalogue<'a>, root: &str) -> Vec<ServiceRow<'a>> {
    cat.services
        .iter()
        .map(|s| service_row(cat, s, root))
        .collect()
}

/// The services list page.
#[derive(Serialize)]
pub(super) struct Services<'a> {
    pub(super) services: Vec<ServiceRow<'a>>,
}

#[derive(Serialize)]
pub(super) struct Home<'a> {
    services: Vec<ServiceRow<'a>>,
    yanked_count: usize,
    interfaces: Vec<Named<'a>>,
    publishers: Vec<Titled<'a>>,
    licenses: Vec<&'a str>,
}

#[derive(Serialize)]
struct Named<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Titled<'a> {
    name: &'a str,
    title: &'a str,
}

pub(super) fn home<'a>(cat: &Catalogue<'a>, root: &str) -> Home<'a> {
    let mut licenses: Vec<&str> = cat
        .services
        .iter()
        .map(|s| s.latest().doc.license.as_str())
        .collect();
    licenses.sort_unstable();
    licenses.dedup();
    Home {
        services: service_rows(cat, root),
        yanked_count: cat.services.iter().filter(|s| s.all_yanked()).count(),
        interfaces: cat
            .interfaces
            .iter()
            .map(|i| Named {
                id: &i.id,
                name: &i.name,
            })
            .collect(),
        publishers: cat
            .publishers
            .iter()
            .map(|p| Titled {
                name: &p.publisher.name,
                title: &p.publisher.title,
            })
            .collect(),
        licenses,
    }
}

#[derive(Serialize)]
pub(super) struct Interfaces<'a> {
    title: &'static str,
    interfaces: Vec<InterfaceRow<'a>>,
}

#[derive(Serialize)]
struct InterfaceRow<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    href: String,
    providers: usize,
    consumers: usize,
}

pub(super) fn interfaces<'a>(cat: &Catalogue<'a>, root: &str) -> Interfaces<'a> {
    let interfaces = cat
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
            InterfaceRow {
                id: &i.id,
                name: &i.name,
                description: &i.description,
                href: format!("{root}{}", interface_path(&i.id)),
                providers: providers.len(),
                consumers: consumers.len(),
            }
        })
        .collect();
    Interfaces {
        title: "Interfaces",
        interfaces,
    }
}

#[derive(Serialize)]
pub(super) struct InterfacePage<'a> {
    title: &'a str,
    interface: &'a Interface,
    providers: Vec<Group<'a, Offered<'a>>>,
    consumers: Vec<Group<'a, Needed<'a>>>,
}

/// A service and those of its versions that offer or need the interface.
#[derive(Serialize)]
struct Group<'a, T> {
    id: &'a str,
    name: &'a str,
    href: String,
    versions: Vec<T>,
}

#[derive(Serialize)]
struct Offered<'a> {
    version: &'a str,
    href: String,
    interface_version: &'a str,
    features: &'a [String],
    yanked: bool,
}

#[derive(Serialize)]
struct Needed<'a> {
    version: &'a str,
    href: String,
    requirement: &'a str,
    range: &'a str,
    optional: bool,
    yanked: bool,
}

pub(super) fn interface<'a>(cat: &Catalogue<'a>, i: usize, root: &str) -> InterfacePage<'a> {
    let iface = cat.interfaces[i];
    let group = |s: usize| {
        let svc = &cat.services[s];
        (
            svc,
            svc.latest().doc.name.as_str(),
            service_href(root, svc.id),
        )
    };
    let offers = cat
        .offers
        .get(iface.id.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let providers = offers
        .chunk_by(|a, b| a.service == b.service)
        .map(|offers| {
            let (svc, name, href) = group(offers[0].service);
            let versions = offers
                .iter()
                .map(|o| {
                    let d = svc.versions[o.version].doc;
                    Offered {
                        version: &d.version,
                        href: version_href(root, svc.id, &d.version),
                        interface_version: &d.provides[o.provide].version,
                        features: o.features,
                        yanked: d.yanked.is_some(),
                    }
                })
                .collect();
            Group {
                id: svc.id,
                name,
                href,
                versions,
            }
        })
        .collect();
    let needs = cat
        .needs
        .get(iface.id.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let consumers = needs
        .chunk_by(|a, b| a.service == b.service)
        .map(|needs| {
            let (svc, name, href) = group(needs[0].service);
            let versions = needs
                .iter()
                .map(|n| {
                    let d = svc.versions[n.version].doc;
                    Needed {
                        version: &d.version,
                        href: version_href(root, svc.id, &d.version),
                        requirement: &n.requirement.name,
                        range: &n.requirement.version,
                        optional: n.requirement.optional,
                        yanked: d.yanked.is_some(),
                    }
                })
                .collect();
            Group {
                id: svc.id,
                name,
                href,
                versions,
            }
        })
        .collect();
    InterfacePage {
        title: &iface.name,
        interface: iface,
        providers,
        consumers,
    }
}

#[derive(Serialize)]
pub(super) struct Publishers<'a> {
    title: &'static str,
    publishers: Vec<PublisherRow<'a>>,
}

#[derive(Serialize)]
struct PublisherRow<'a> {
    name: &'a str,
    title: &'a str,
    href: String,
    namespaces: &'a [String],
    services: usize,
}

pub(super) fn publishers<'a>(cat: &Catalogue<'a>, root: &str) -> Publishers<'a> {
    let publishers = cat
        .publishers
        .iter()
        .map(|p| {
            let name = p.publisher.name.as_str();
            PublisherRow {
                name,
                title: &p.publisher.title,
                href: publisher_href(root, name),
                namespaces: &p.publisher.namespaces,
                services: cat.services_of(name).count(),
            }
        })
        .collect();
    Publishers {
        title: "Publishers",
        publishers,
    }
}

#[derive(Serialize)]
pub(super) struct PublisherPage<'a> {
    title: &'a str,
    publisher: &'a Publisher,
    keys: Vec<Key<'a>>,
    services: Vec<ServiceRow<'a>>,
}

pub(super) fn publisher<'a>(cat: &Catalogue<'a>, p: usize, root: &str) -> PublisherPage<'a> {
    let pi = cat.publishers[p];
    PublisherPage {
        title: &pi.publisher.title,
        publisher: pi.publisher,
        keys: keys(pi),
        services: cat
            .services_of(&pi.publisher.name)
            .map(|s| service_row(cat, s, root))
            .collect(),
    }
}
