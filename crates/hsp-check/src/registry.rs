//! Rules across the files of a registry repo: file locations, publishers and
//! their namespaces, duplicate versions, and the open-source dependency rule.
//!
//! The open-source rule (HSPC marketplace policy): an open-source service may
//! depend on a non-open service only if that dependency can itself be deployed on
//! HSP. Requirements name interfaces, so for every non-optional requirement of an
//! open-source, non-yanked document some non-yanked document of the index must
//! provide that interface at a version in the requirement's range; which licence
//! that provider has does not matter, since it is deployable either way.
//!
//! The document rules read only what [`Facts`] exposes, so they run the same over
//! parsed documents (`hsp check`) and over the compact summaries `hsp build`
//! keeps instead of the documents.

use std::collections::{BTreeMap, HashMap};

use semver::{Version, VersionReq};

use super::{Code, Diagnostic, Finding, LicencePolicy, Loaded};
use hsp_index::registry::{INTERFACES_DIR, PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR};
use hsp_index::version::{parse_range, parse_version};
use hsp_index::{Document, Interface, Publisher};

/// What the cross-file rules read of a document.
pub trait Facts {
    fn id(&self) -> &str;
    fn version(&self) -> &str;
    fn publisher(&self) -> &str;
    fn license(&self) -> &str;
    fn yanked(&self) -> bool;
    /// (interface, interface version) of each provided interface.
    fn provides(&self) -> impl Iterator<Item = (&str, &str)>;
    /// (interface, version range, optional) of each requirement, in order.
    fn requires(&self) -> impl Iterator<Item = (&str, &str, bool)>;
}

impl Facts for Document {
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> &str {
        &self.version
    }
    fn publisher(&self) -> &str {
        &self.publisher
    }
    fn license(&self) -> &str {
        &self.license
    }
    fn yanked(&self) -> bool {
        self.yanked.is_some()
    }
    fn provides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.provides
            .iter()
            .map(|p| (p.interface.as_str(), p.version.as_str()))
    }
    fn requires(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.requires
            .iter()
            .map(|r| (r.interface.as_str(), r.version.as_str(), r.optional))
    }
}

/// Rules on interface and publisher files: locations and namespace overlaps.
pub fn check_files(
    interfaces: &[Loaded<Interface>],
    publishers: &[Loaded<Publisher>],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut at = |path: &str, bytes: &[u8], f: Finding| out.push(f.resolve(path, bytes));
    for i in interfaces {
        let want = format!("{INTERFACES_DIR}/{}.json", i.value.id);
        if i.path != want {
            at(&i.path, &i.bytes, location("/id", &i.path, &want));
        }
    }
    let mut claimed: Vec<(&str, &str)> = Vec::new();
    for p in publishers {
        let want = format!("{PUBLISHERS_DIR}/{}/{PUBLISHER_FILE}", p.value.name);
        if p.path != want {
            at(&p.path, &p.bytes, location("/name", &p.path, &want));
        }
        for (k, ns) in p.value.namespaces.iter().enumerate() {
            let clash = claimed.iter().find(|(other, _)| overlaps(ns, other));
            if let Some((other, owner)) = clash {
                let msg = format!("namespace `{ns}` overlaps `{other}` of publisher `{owner}`");
                at(
                    &p.path,
                    &p.bytes,
                    Finding::new(Code::Namespace, format!("/namespaces/{k}"), msg)
                        .hint("each service id must belong to exactly one publisher"),
                );
            }
        }
        claimed.extend(
            p.value
                .namespaces
                .iter()
                .map(|ns| (ns.as_str(), p.value.name.as_str())),
        );
    }
    out
}

/// Rules across documents (`docs`: path and facts, sorted by path), each finding
/// with the index of its document: duplicate versions, and in a registry
/// (`registry_mode`) file locations, publishers, namespaces and the open-source
/// rule.
pub fn check_documents<D: Facts + Sync>(
    docs: &[(&str, &D)],
    interfaces: &[Loaded<Interface>],
    publishers: &[Loaded<Publisher>],
    registry_mode: bool,
    licences: &LicencePolicy,
) -> Vec<(usize, Finding)> {
    if !registry_mode {
        let mut out = Vec::new();
        duplicate_versions(docs, &mut |i, f| out.push((i, f)));
        return out;
    }
    // The open-source rule on one core, the others on the other.
    let (mut out, open_source) = rayon::join(
        || {
            let mut out = Vec::new();
            duplicate_versions(docs, &mut |i, f| out.push((i, f)));
            out.extend(per_document(docs, publishers));
            out
        },
        || {
            let mut out = Vec::new();
            open_source_dependencies(docs, interfaces, licences, &mut |i, f| out.push((i, f)));
            out
        },
    );
    out.extend(open_source);
    out
}

/// Each document's location, publisher and namespace.
fn per_document<D: Facts>(
    docs: &[(&str, &D)],
    publishers: &[Loaded<Publisher>],
) -> Vec<(usize, Finding)> {
    let mut out = Vec::new();
    let mut at = |i: usize, f: Finding| out.push((i, f));
    let publishers: HashMap<&str, _> = publishers
        .iter()
        .map(|p| (p.value.name.as_str(), &p.value))
        .collect();
    for (n, (path, doc)) in docs.iter().enumerate() {
        for f in document_location(path, *doc) {
            at(n, f);
        }
        match publishers.get(doc.publisher()) {
            None => at(
                n,
                Finding::new(
                    Code::UnknownPublisher,
                    "/publisher",
                    format!("publisher `{}` has no record", doc.publisher()),
                )
                .hint(format!(
                    "add {PUBLISHERS_DIR}/{}/{PUBLISHER_FILE}",
                    doc.publisher()
                )),
            ),
            Some(p) if !p.owns(doc.id()) => at(
                n,
                Finding::new(
                    Code::Namespace,
                    "/id",
                    format!("publisher `{}` may not publish `{}`", p.name, doc.id()),
                )
                .hint(format!(
                    "its namespaces are {}; ask the registry to add one",
                    p.namespaces.join(", ")
                )),
            ),
            Some(_) => {}
        }
    }
    out
}

fn location(ptr: &str, path: &str, want: &str) -> Finding {
    Finding::new(
        Code::FileLocation,
        ptr,
        format!("the file is at {path} but its content says {want}"),
    )
    .hint(format!("move it to {want}, or fix the value"))
}

/// Whether two namespaces overlap (one equals or contains the other).
fn overlaps(a: &str, b: &str) -> bool {
    let within = |x: &str, y: &str| x == y || x.strip_prefix(y).is_some_and(|r| r.starts_with('.'));
    within(a, b) || within(b, a)
}

/// `publishers/<publisher>/services/<id>/<version>.json` must match the content.
fn document_location(path: &str, doc: &impl Facts) -> Vec<Finding> {
    let want = || {
        format!(
            "{PUBLISHERS_DIR}/{}/{SERVICES_DIR}/{}/{}.json",
            doc.publisher(),
            doc.id(),
            doc.version()
        )
    };
    let parts: Vec<&str> = path.split('/').collect();
    let [_, publisher, _, id, file] = parts.as_slice() else {
        return vec![location("", path, &want())];
    };
    let mut out = Vec::new();
    if *publisher != doc.publisher() {
        out.push(location("/publisher", path, &want()));
    }
    if *id != doc.id() {
        out.push(location("/id", path, &want()));
    }
    if file.strip_suffix(".json") != Some(doc.version()) {
        out.push(location("/version", path, &want()));
    }
    out
}

/// Same id and same version (ignoring build metadata, `7.4` = `7.4.0`).
fn duplicate_versions<D: Facts>(docs: &[(&str, &D)], at: &mut impl FnMut(usize, Finding)) {
    let mut seen: HashMap<(&str, Version), &str> = HashMap::with_capacity(docs.len());
    for (n, (path, d)) in docs.iter().enumerate() {
        let Ok(mut v) = parse_version(d.version()) else {
            continue;
        };
        v.build = semver::BuildMetadata::EMPTY;
        match seen.get(&(d.id(), v.clone())) {
            Some(first) => at(
                n,
                Finding::new(
                    Code::DuplicateVersion,
                    "/version",
                    format!("{} {} is already defined by {first}", d.id(), d.version()),
                )
                .hint("versions are never replaced: publish a new version, or yank the old one"),
            ),
            None => {
                seen.insert((d.id(), v), path);
            }
        }
    }
}

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

fn open_source_dependencies<D: Facts>(
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

/// Whether the rules that look at one publisher's documents alone (file
/// locations, publisher, namespaces, duplicate versions among them) find
/// nothing in `docs` (one publisher folder's documents, sorted by path).
///
/// Across a registry whose publisher records have no errors (so namespaces do
/// not overlap), two documents with one service id belong to the same
/// publisher once these rules pass; so when every folder passes, the
/// registry-wide duplicate rule finds nothing either, and [`check_documents`]
/// reports only what the open-source rule does.
pub fn folder_is_clean<D: Facts>(docs: &[(&str, &D)], publishers: &[Loaded<Publisher>]) -> bool {
    let mut duplicates = false;
    duplicate_versions(docs, &mut |_, _| duplicates = true);
    !duplicates && per_document(docs, publishers).is_empty()
}

#[cfg(test)]
mod tests {
    use super::super::document::testing::{base, interfaces};
    use super::super::{validate_repo, RepoInput, Source};
    use super::*;

    /// A registry with publisher `acme` (namespace `com.acme`), the test
    /// interfaces and `docs`, each placed where its id and version say.
    fn registry(docs: &[Document]) -> Vec<(Code, String, String)> {
        let mut input = RepoInput {
            config: Some(Source {
                path: "registry.json".into(),
                bytes: br#"{"name": "t", "title": "T"}"#.to_vec(),
            }),
            ..Default::default()
        };
        for i in interfaces() {
            input.interfaces.push(Source {
                path: format!("interfaces/{}.json", i.id),
                bytes: serde_json::to_vec(&i).unwrap(),
            });
        }
        let key = "ab".repeat(32);
        let publisher = format!(
            r#"{{"name": "acme", "title": "Acme", "namespaces": ["com.acme"],
                "keys": [{{"keytype": "ed25519", "scheme": "ed25519", "keyval": {{"public": "{key}"}}}}]}}"#
        );
        input.publishers.push(Source {
            path: "publishers/acme/publisher.json".into(),
            bytes: publisher.into_bytes(),
        });
        for (n, d) in docs.iter().enumerate() {
            // Several documents of one version need distinct paths; the first keeps the right one.
            let file = if n == 0
                || docs[..n]
                    .iter()
                    .all(|o| o.id != d.id || o.version != d.version)
            {
                format!("{}.json", d.version)
            } else {
                format!("{}+{n}.json", d.version)
            };
            let path = format!("publishers/{}/services/{}/{file}", d.publisher, d.id);
            input.documents.push(Source {
                path,
                bytes: serde_json::to_vec_pretty(d).unwrap(),
            });
        }
        let repo = validate_repo(input);
        repo.diagnostics
            .into_iter()
            .filter(|d| d.code != Code::NoSmokeTest)
            .map(|d| (d.code, d.path, d.pointer))
            .collect()
    }

    fn provider(id: &str, version: &str, license: &str) -> Document {
        let mut d = base();
        d.id = id.into();
        d.license = license.into();
        d.requires.clear();
        d.tasks[0].env.clear();
        d.provides[0].interface = "postgres".into();
        d.provides[0].version = version.into();
        d.provides[0].features = vec!["schema-owner".into()];
        d.provides[0].binding = [
            ("host", "${self.app.http.host}"),
            ("port", "${self.app.http.port}"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        d
    }

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

    #[test]
    fn duplicate_versions_ignore_build_metadata_and_padding() {
        let pg = |v: &str| {
            let mut d = provider("com.acme.pg", "16.0", "MIT");
            d.version = v.into();
            d
        };
        let path = |f: &str| format!("publishers/acme/services/com.acme.pg/{f}");
        for (versions, want) in [
            (vec!["16.0", "16.1"], vec![]),
            // The later file in path order is the one reported.
            (vec!["16.0", "16.0.0"], vec![path("16.0.json")]),
            (vec!["16", "16.0.0+build5"], vec![path("16.json")]),
            (vec!["16.0.0-rc.1", "16.0.0"], vec![]),
        ] {
            let docs: Vec<Document> = versions.iter().map(|v| pg(v)).collect();
            let got: Vec<String> = registry(&docs)
                .into_iter()
                .filter(|(c, _, _)| *c == Code::DuplicateVersion)
                .map(|(_, p, _)| p)
                .collect();
            assert_eq!(got, want, "{versions:?}");
        }
    }

    #[test]
    fn namespaces_and_publishers() {
        let mut other = base();
        other.id = "org.other.app".into();
        let mut nobody = base();
        nobody.publisher = "nobody".into();
        let pg = provider("com.acme.pg", "16.0", "MIT");
        let got = registry(&[pg.clone(), base(), other]);
        assert!(
            got.contains(&(
                Code::Namespace,
                "publishers/acme/services/org.other.app/1.0.0.json".into(),
                "/id".into()
            )),
            "{got:?}"
        );
        let got = registry(&[pg, nobody]);
        assert!(
            got.contains(&(
                Code::UnknownPublisher,
                "publishers/nobody/services/com.acme.app/1.0.0.json".into(),
                "/publisher".into()
            )),
            "{got:?}"
        );
    }

    #[test]
    fn namespaces_overlap_on_whole_labels() {
        for (a, b, want) in [
            ("org.hapifhir", "org.hapifhir", true),
            ("org.hapifhir", "org.hapifhir.server", true),
            ("org.hapifhir.server", "org.hapifhir", true),
            ("org.hapi", "org.hapifhir", false),
            ("com.example", "org.example", false),
        ] {
            assert_eq!(overlaps(a, b), want, "{a} {b}");
        }
    }

    #[test]
    fn document_locations() {
        let mut doc: Document = serde_json::from_str(
            r#"{"id": "org.example.app", "version": "7.4", "name": "A", "summary": "s",
                "publisher": "example", "license": "MIT", "tasks": []}"#,
        )
        .unwrap();
        for (path, want) in [
            (
                "publishers/example/services/org.example.app/7.4.json",
                vec![],
            ),
            (
                "publishers/example/services/org.example.app/7.4.0.json",
                vec!["/version"],
            ),
            (
                "publishers/other/services/org.example.apq/7.4.json",
                vec!["/publisher", "/id"],
            ),
            ("publishers/example/services/7.4.json", vec![""]),
        ] {
            let got: Vec<String> = document_location(path, &doc)
                .into_iter()
                .map(|f| f.pointer)
                .collect();
            assert_eq!(got, want, "{path}");
        }
        doc.version = "7.4.0".into();
        assert!(document_location(
            "publishers/example/services/org.example.app/7.4.0.json",
            &doc
        )
        .is_empty());
    }
}
