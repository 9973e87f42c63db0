//! The open-source dependency rule (HSPC marketplace policy): an open-source
//! service may depend on a non-open service only if that dependency can itself
//! be deployed on HSP. Requirements name interfaces, so for every non-optional
//! requirement of an open-source, non-yanked document some non-yanked document
//! of the index must provide that interface at a version in the requirement's
//! range; which licence that provider has does not matter, since it is
//! deployable either way.
//!
//! Like the other cross-file rules it reads only what [`Facts`] exposes.

use std::collections::{BTreeMap, HashMap};

use semver::{Version, VersionReq};

use super::registry::Facts;
use super::{Code, Finding, LicencePolicy, Loaded};
use hsp_index::version::{parse_range, parse_version};
use hsp_index::Interface;

/// The providers the open-source rule consults: for each interface and
/// version offered by a non-yanked document, up to two distinct service ids
/// (enough to find one that is not the consumer itself), so each lookup is
/// O(versions). Which two does not matter: only whether a service other than
/// the consumer offers a version does.
#[derive(Default)]
pub struct Providers<'a> {
    by_interface: HashMap<&'a str, BTreeMap<Version, Vec<&'a str>>>,
}

impl<'a> Providers<'a> {
    /// Records that service `id` provides `interface` at `version` (ignored
    /// when the version does not parse: reported by the per-document rules).
    pub fn add(&mut self, interface: &'a str, version: &str, id: &'a str) {
        if let Ok(v) = parse_version(version) {
            let ids = self
                .by_interface
                .entry(interface)
                .or_default()
                .entry(v)
                .or_default();
            if ids.len() < 2 && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    /// Records what a non-yanked document provides (a yanked one provides nothing).
    pub fn add_document<D: Facts>(&mut self, doc: &'a D) {
        if !doc.yanked() {
            for (interface, version) in doc.provides() {
                self.add(interface, version, doc.id());
            }
        }
    }

    /// The versions of `interface` that services other than `consumer` offer.
    fn offered_to<'s>(
        &'s self,
        interface: &str,
        consumer: &'s str,
    ) -> impl Iterator<Item = &'s Version> + Clone + 's {
        self.by_interface
            .get(interface)
            .into_iter()
            .flatten()
            .filter(move |(_, ids)| ids.iter().any(|id| *id != consumer))
            .map(|(v, _)| v)
    }

    /// Whether a service other than `consumer` provides `interface` at a
    /// version `range` accepts.
    pub fn satisfies(&self, interface: &str, range: &VersionReq, consumer: &str) -> bool {
        self.offered_to(interface, consumer)
            .any(|v| range.matches(v))
    }
}

/// One requirement the open-source rule checks: of the document, its index
/// among the requirements, the interface and the parsed range.
pub struct Need<'d> {
    pub requirement: usize,
    pub interface: &'d str,
    pub range_text: &'d str,
    pub range: VersionReq,
}

/// The requirements of `doc` the open-source rule checks: every non-optional
/// one on a known interface with a valid range, when `doc` is open source
/// (per `is_open`, by licence) and not yanked.
pub fn open_source_needs<'d, D: Facts>(
    doc: &'d D,
    known: impl Fn(&str) -> bool,
    is_open: impl FnOnce(&'d str) -> bool,
) -> Vec<Need<'d>> {
    if doc.yanked() || doc.requires().all(|(_, _, optional)| optional) || !is_open(doc.license()) {
        return Vec::new();
    }
    doc.requires()
        .enumerate()
        .filter(|(_, (interface, _, optional))| !optional && known(interface))
        .filter_map(|(requirement, (interface, range_text, _))| {
            Some(Need {
                requirement,
                interface,
                range_text,
                range: parse_range(range_text).ok()?,
            })
        })
        .collect()
}

pub(super) fn open_source_dependencies<D: Facts>(
    docs: &[(&str, &D)],
    interfaces: &[Loaded<Interface>],
    licences: &LicencePolicy,
    at: &mut impl FnMut(usize, Finding),
) {
    let mut providers = Providers::default();
    for (_, d) in docs {
        providers.add_document(*d);
    }
    let known = |id: &str| interfaces.iter().any(|i| i.value.id == id);
    let mut open_cache: HashMap<&str, bool> = HashMap::new();
    for (n, (_, doc)) in docs.iter().enumerate() {
        let is_open = |license| {
            *open_cache
                .entry(license)
                .or_insert_with(|| licences.is_open(license).unwrap_or(false))
        };
        for need in open_source_needs(*doc, known, is_open) {
            if providers.satisfies(need.interface, &need.range, doc.id()) {
                continue;
            }
            let interface = need.interface;
            let mut others = providers.offered_to(interface, doc.id()).peekable();
            let msg = if others.peek().is_none() {
                format!("open-source `{}` requires interface `{interface}` but no service in this registry provides it", doc.id())
            } else {
                let vs: Vec<String> = others.map(|v| v.to_string()).collect();
                format!(
                    "open-source `{}` requires `{interface}` {} but this registry provides only {}",
                    doc.id(),
                    need.range_text,
                    vs.join(", ")
                )
            };
            at(n, Finding::new(Code::OpenSourceDependency, format!("/requires/{}", need.requirement), msg).hint(
                "an open-source service may depend on a service only if it is deployable from the index: add a provider, widen the range, or mark the requirement `optional`",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::testing::base;
    use super::super::registry::tests::{provider, registry};
    use super::*;
    use hsp_index::Document;

    fn licensed(mut d: Document) -> Document {
        d.licensing = Some(hsp_index::document::Licensing {
            model: "freemium".into(),
            base_form: "all of it".into(),
            no_trial_period: true,
            no_revocation: true,
            terms_url: "https://acme.example/terms".into(),
        });
        d
    }

    #[test]
    fn open_source_dependencies_need_a_provider_in_the_index() {
        let consumer = base(); // Apache-2.0, requires postgres >=13
        let app = "publishers/acme/services/com.acme.app/1.0.0.json".to_string();
        let missing = vec![(
            Code::OpenSourceDependency,
            app.clone(),
            "/requires/0".to_string(),
        )];
        let mut optional = base();
        optional.requires[0].optional = true;
        let mut yanked = provider("com.acme.pg", "16.0", "MIT");
        yanked.yanked = Some("broken".into());
        let mut closed = base();
        closed.license = "LicenseRef-Acme".into();
        for (name, docs, want) in [
            ("no provider", vec![consumer.clone()], missing.clone()),
            (
                "open provider",
                vec![consumer.clone(), provider("com.acme.pg", "16.0", "MIT")],
                vec![],
            ),
            // Deployable from the index: its licence does not matter.
            (
                "non-open provider",
                vec![
                    consumer.clone(),
                    licensed(provider("com.acme.pg", "16.0", "LicenseRef-X")),
                ],
                vec![],
            ),
            (
                "provider out of range",
                vec![consumer.clone(), provider("com.acme.pg", "12.0", "MIT")],
                missing.clone(),
            ),
            (
                "yanked provider",
                vec![consumer.clone(), yanked],
                missing.clone(),
            ),
            ("optional requirement", vec![optional], vec![]),
            ("non-open consumer", vec![licensed(closed)], vec![]),
        ] {
            assert_eq!(registry(&docs), want, "{name}");
        }
    }
}
