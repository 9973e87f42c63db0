//! The catalogue the pages are rendered from: services with their versions
//! newest first, and for every interface its providers and consumers. Built once,
//! read by every page in parallel.

use std::collections::{BTreeSet, HashMap};

use hsp_index::document::Requirement;
use hsp_index::version::{parse_range, parse_version};
use hsp_index::{Document, Interface};
use rayon::prelude::*;

use crate::error::Error;
use crate::input::{PublisherInput, SiteInput};

/// One version of a service.
pub struct Version<'a> {
    pub doc: &'a Document,
    pub target: &'a str,
    pub semver: Option<semver::Version>,
}

/// A service: every version of one id, newest first.
pub struct Service<'a> {
    pub id: &'a str,
    pub versions: Vec<Version<'a>>,
    /// Index in `versions` of the newest version that is not yanked (0 when all are).
    pub latest: usize,
}

impl<'a> Service<'a> {
    pub fn latest(&self) -> &Version<'a> {
        &self.versions[self.latest]
    }
    pub fn all_yanked(&self) -> bool {
        self.versions.iter().all(|v| v.doc.yanked.is_some())
    }
}

/// A version (`service`, `version` indices) offering an interface.
#[derive(Clone, Copy)]
pub struct Offer<'a> {
    pub service: usize,
    pub version: usize,
    /// Index in the version's `provides`.
    pub provide: usize,
    pub features: &'a [String],
}

/// A version (`service`, `version` indices) requiring an interface.
#[derive(Clone, Copy)]
pub struct Need<'a> {
    pub service: usize,
    pub version: usize,
    pub requirement: &'a Requirement,
}

/// Services able to satisfy a requirement: each appears once, with its newest
/// matching version that is not yanked. Sorted by service id.
pub type Matches = Vec<(usize, usize)>;

pub struct Catalogue<'a> {
    pub input: &'a SiteInput<'a>,
    /// Sorted by id.
    pub services: Vec<Service<'a>>,
    /// Sorted by id.
    pub interfaces: Vec<&'a Interface>,
    /// Sorted by name.
    pub publishers: Vec<&'a PublisherInput<'a>>,
    /// Interface id -> offers, by service then version order.
    pub offers: HashMap<&'a str, Vec<Offer<'a>>>,
    /// Interface id -> needs, by service then version order.
    pub needs: HashMap<&'a str, Vec<Need<'a>>>,
    /// Parsed provider versions, parallel to `services[s].versions[v].doc.provides`.
    provide_versions: Vec<Vec<Vec<Option<semver::Version>>>>,
    matches: HashMap<MatchKey<'a>, Matches>,
    service_index: HashMap<&'a str, usize>,
    interface_index: HashMap<&'a str, usize>,
    publisher_index: HashMap<&'a str, usize>,
}

type MatchKey<'a> = (&'a str, &'a str, &'a [String]);

fn key(r: &Requirement) -> MatchKey<'_> {
    (
        r.interface.as_str(),
        r.version.as_str(),
        r.features.as_slice(),
    )
}

impl<'a> Catalogue<'a> {
    pub fn new(input: &'a SiteInput<'a>) -> Result<Self, Error> {
        let mut by_id: HashMap<&'a str, Vec<Version<'a>>> = HashMap::new();
        for d in &input.documents {
            check_segment("service id", &d.document.id)?;
            check_segment("version", &d.document.version)?;
            by_id
                .entry(d.document.id.as_str())
                .or_default()
                .push(Version {
                    doc: d.document,
                    target: d.target.as_str(),
                    semver: parse_version(&d.document.version).ok(),
                });
        }
        let mut services: Vec<Service<'a>> = by_id
            .into_iter()
            .map(|(id, mut versions)| {
                versions.sort_by(|a, b| newest_first(a, b));
                let latest = versions
                    .iter()
                    .position(|v| v.doc.yanked.is_none())
                    .unwrap_or(0);
                Service {
                    id,
                    versions,
                    latest,
                }
            })
            .collect();
        services.sort_by(|a, b| a.id.cmp(b.id));
        for s in &services {
            for w in s.versions.windows(2) {
                if w[0].doc.version == w[1].doc.version {
                    return Err(Error::DuplicateVersion {
                        id: s.id.to_string(),
                        version: w[0].doc.version.clone(),
                    });
                }
            }
        }

        let mut interfaces: Vec<&Interface> = input.interfaces.iter().collect();
        interfaces.sort_by(|a, b| a.id.cmp(&b.id));
        for i in &interfaces {
            check_segment("interface id", &i.id)?;
            check_not_index("interface id", &i.id)?;
        }
        let mut publishers: Vec<&PublisherInput> = input.publishers.iter().collect();
        publishers.sort_by(|a, b| a.publisher.name.cmp(&b.publisher.name));
        for p in &publishers {
            check_segment("publisher name", &p.publisher.name)?;
            check_not_index("publisher name", &p.publisher.name)?;
        }

        let provide_versions: Vec<Vec<Vec<Option<semver::Version>>>> = services
            .iter()
            .map(|s| {
                s.versions
                    .iter()
                    .map(|v| {
                        v.doc
                            .provides
                            .iter()
                            .map(|p| parse_version(&p.version).ok())
                            .collect()
                    })
                    .collect()
            })
            .collect();

        let mut cat = Catalogue {
            input,
            service_index: services
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id, i))
                .collect(),
            interface_index: interfaces
                .iter()
                .enumerate()
                .map(|(i, f)| (f.id.as_str(), i))
                .collect(),
            publisher_index: publishers
                .iter()
                .enumerate()
                .map(|(i, p)| (p.publisher.name.as_str(), i))
                .collect(),
            services,
            interfaces,
            publishers,
            offers: HashMap::new(),
            needs: HashMap::new(),
            provide_versions,
            matches: HashMap::new(),
        };
        cat.index_offers_and_needs();
        cat.compute_matches();
        Ok(cat)
    }

    fn index_offers_and_needs(&mut self) {
        let mut offers: HashMap<&'a str, Vec<Offer<'a>>> = HashMap::new();
        let mut needs: HashMap<&'a str, Vec<Need<'a>>> = HashMap::new();
        for (si, s) in self.services.iter().enumerate() {
            for (vi, v) in s.versions.iter().enumerate() {
                let doc: &'a Document = v.doc;
                for (pi, p) in doc.provides.iter().enumerate() {
                    offers.entry(p.interface.as_str()).or_default().push(Offer {
                        service: si,
                        version: vi,
                        provide: pi,
                        features: p.features.as_slice(),
                    });
                }
                for r in &doc.requires {
                    needs.entry(r.interface.as_str()).or_default().push(Need {
                        service: si,
                        version: vi,
                        requirement: r,
                    });
                }
            }
        }
        self.offers = offers;
        self.needs = needs;
    }

    /// Parsed version of the `p`-th provide of a version.
    pub fn provide_version(
        &self,
        service: usize,
        version: usize,
        p: usize,
    ) -> Option<&semver::Version> {
        self.provide_versions[service][version][p].as_ref()
    }

    fn compute_matches(&mut self) {
        let keys: BTreeSet<MatchKey<'a>> = self
            .services
            .iter()
            .flat_map(|s| s.versions.iter())
            .flat_map(|v| v.doc.requires.iter().map(key))
            .collect();
        let this = &*self;
        let matches: HashMap<MatchKey<'a>, Matches> = keys
            .into_par_iter()
            .map(|k| (k, this.find_providers(k)))
            .collect();
        self.matches = matches;
    }

    fn find_providers(&self, (interface, range, features): MatchKey<'a>) -> Matches {
        let Ok(range) = parse_range(range) else {
            return Vec::new();
        };
        let mut out: Matches = Vec::new();
        for o in self
            .offers
            .get(interface)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if out.last().is_some_and(|&(s, _)| s == o.service) {
                continue; // already have this service's newest match
            }
            let v = &self.services[o.service].versions[o.version];
            if v.doc.yanked.is_some() || !features.iter().all(|f| o.features.contains(f)) {
                continue;
            }
            if self
                .provide_version(o.service, o.version, o.provide)
                .is_some_and(|pv| range.matches(pv))
            {
                out.push((o.service, o.version));
            }
        }
        out
    }

    /// Services (with their newest suitable version) that can satisfy `r`.
    pub fn providers(&self, r: &'a Requirement) -> &[(usize, usize)] {
        self.matches
            .get(&key(r))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn service(&self, id: &str) -> Option<usize> {
        self.service_index.get(id).copied()
    }
    pub fn interface(&self, id: &str) -> Option<&'a Interface> {
        self.interface_index.get(id).map(|&i| self.interfaces[i])
    }
    pub fn publisher(&self, name: &str) -> Option<&'a PublisherInput<'a>> {
        self.publisher_index.get(name).map(|&i| self.publishers[i])
    }
    /// Services whose latest version is published by `name`.
    pub fn services_of(&self, name: &str) -> impl Iterator<Item = &Service<'a>> + '_ {
        let name = name.to_string();
        self.services
            .iter()
            .filter(move |s| s.latest().doc.publisher == name)
    }
    pub fn is_open_source(&self, license: &str) -> bool {
        is_open_source(license, &self.input.config.policy.open_source_licenses)
    }
}

/// Semver order, newest first; unparsable versions sort last, by text.
fn newest_first(a: &Version, b: &Version) -> std::cmp::Ordering {
    match (&a.semver, &b.semver) {
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.doc.version.cmp(&b.doc.version),
    }
}

/// Whether every licence id of an SPDX expression is (a form of) an accepted
/// open-source licence: `GPL-2.0-only` and `GPL-2.0-or-later` are forms of `GPL-2.0`.
pub fn is_open_source(expr: &str, accepted: &[String]) -> bool {
    let ids: Vec<&str> = expr
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty() && !matches!(*t, "AND" | "OR" | "WITH"))
        .collect();
    !ids.is_empty()
        && ids.iter().all(|id| {
            let base = id.trim_end_matches('+');
            let base = base
                .strip_suffix("-only")
                .or_else(|| base.strip_suffix("-or-later"))
                .unwrap_or(base);
            accepted.iter().any(|a| a == base)
        })
}

/// A name used as a path segment of the site must stay inside its folder.
fn check_segment(what: &'static str, s: &str) -> Result<(), Error> {
    let bad = s.is_empty()
        || s == "."
        || s == ".."
        || s.chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || matches!(c, '#' | '?' | '%' | '@'));
    if bad {
        return Err(Error::UnsafeName {
            what,
            name: s.to_string(),
        });
    }
    Ok(())
}

/// `index` names the list page of its folder.
fn check_not_index(what: &'static str, s: &str) -> Result<(), Error> {
    if s == "index" {
        return Err(Error::UnsafeName {
            what,
            name: s.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_source_forms() {
        let accepted: Vec<String> = hsp_index::registry::DEFAULT_OPEN_SOURCE_LICENSES
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (expr, want) in [
            ("MIT", true),
            ("Apache-2.0", true),
            ("GPL-2.0-only", true),
            ("GPL-3.0-or-later", true),
            ("MIT OR Apache-2.0", true),
            ("(MIT AND BSD-3-Clause)", true),
            ("AGPL-3.0-only", false),
            ("LicenseRef-Proprietary", false),
            ("MIT AND LicenseRef-X", false),
            ("", false),
        ] {
            assert_eq!(is_open_source(expr, &accepted), want, "{expr}");
        }
    }

    #[test]
    fn unsafe_segments() {
        for (s, ok) in [
            ("org.hapifhir.server", true),
            ("7.4.0+build.1", true),
            ("..", false),
            ("a/b", false),
            ("", false),
            ("a\\b", false),
            ("x?y", false),
            ("a@b", false),
        ] {
            assert_eq!(check_segment("t", s).is_ok(), ok, "{s}");
        }
    }
}
