//! Rules across the files of a registry repo: file locations, publishers and
//! their namespaces, duplicate versions, and (from `open_source`) the
//! open-source dependency rule.
//!
//! The document rules read only what [`Facts`] exposes, so they run the same over
//! parsed documents (`hsp check`) and over the compact summaries `hsp build`
//! keeps instead of the documents.

use std::collections::HashMap;

use semver::Version;

use super::open_source::open_source_dependencies;
use super::{Code, Diagnostic, Finding, LicencePolicy, Loaded};
use hsp_index::registry::{INTERFACES_DIR, PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR};
use hsp_index::version::parse_version;
use hsp_index::{Document, Interface, Publisher};

/// The maintainers' yanks of `config` (`registry.json`'s `yanks`) against
/// the service versions the registry has (`versions`: id and version as
/// written, of every document): each must name one of them, once (E104).
pub fn check_yanks<'a>(
    config: &Loaded<hsp_index::RegistryConfig>,
    versions: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Diagnostic> {
    let yanks = &config.value.yanks;
    if yanks.is_empty() {
        return Vec::new();
    }
    let mut named = vec![false; yanks.len()];
    for (id, version) in versions {
        for (i, y) in yanks.iter().enumerate() {
            named[i] |= y.names(id, version);
        }
    }
    let mut findings = Vec::new();
    for (i, y) in yanks.iter().enumerate() {
        if !named[i] {
            findings.push(
                Finding::new(
                    Code::YankTarget,
                    format!("/yanks/{i}/version"),
                    format!("{} {} is not in the registry", y.service, y.version),
                )
                .hint("name a version that has a document under publishers/*/services/; versions are never deleted, so a yank of a published version always names one"),
            );
        }
        if let Some(j) = yanks[..i]
            .iter()
            .position(|o| o.names(&y.service, &y.version))
        {
            findings.push(
                Finding::new(
                    Code::YankTarget,
                    format!("/yanks/{i}"),
                    format!(
                        "{} {} is yanked twice (also yanks[{j}])",
                        y.service, y.version
                    ),
                )
                .hint("keep one entry"),
            );
        }
        if y.reason.trim().is_empty() {
            findings.push(
                Finding::new(Code::EmptyField, format!("/yanks/{i}/reason"), "the reason is empty")
                    .hint("say why, for the sites that run it: e.g. \"data loss on upgrade, see https://...\""),
            );
        }
    }
    super::resolve_all(findings, &config.path, &config.bytes)
}

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
    let stem = file.strip_suffix(".json");
    if stem != Some(doc.version()) {
        let same = stem.is_some_and(|f| {
            matches!((parse_version(f), parse_version(doc.version())), (Ok(a), Ok(b)) if a == b)
        });
        out.push(match same {
            // `1.0` in `1.0.0.json`: the same version, spelled two ways.
            true => Finding::new(
                Code::FileLocation,
                "/version",
                format!(
                    "the file is {file} but the version is written {:?}: the same version, but the file name must spell it as the document does (sites fetch services/<id>/<version>.json by the version as written)",
                    doc.version()
                ),
            )
            .hint(format!(
                "write \"version\": {:?}, or move the file to {}",
                stem.unwrap_or_default(),
                want()
            )),
            false => location("/version", path, &want()),
        });
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
pub(crate) mod tests {
    use super::super::document::testing::{base, interfaces};
    use super::super::{validate_repo, RepoInput, Source};
    use super::*;

    /// A registry with publisher `acme` (namespace `com.acme`), the test
    /// interfaces and `docs`, each placed where its id and version say.
    pub(crate) fn registry(docs: &[Document]) -> Vec<(Code, String, String)> {
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
        let key = hsp_test_support::PLACEHOLDER_KEY;
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

    pub(crate) fn provider(id: &str, version: &str, license: &str) -> Document {
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
        // The same version spelled two ways: the message says so, and both fixes.
        let lenient = document_location(
            "publishers/example/services/org.example.app/7.4.0.json",
            &doc,
        );
        assert!(
            lenient[0].message.contains("the same version"),
            "{:?}",
            lenient[0]
        );
        let hint = lenient[0].hint.as_deref().unwrap();
        assert!(
            hint.contains("write \"version\": \"7.4.0\"") && hint.contains("/7.4.json"),
            "{hint}"
        );
        doc.version = "7.4.0".into();
        assert!(document_location(
            "publishers/example/services/org.example.app/7.4.0.json",
            &doc
        )
        .is_empty());
    }
}

#[cfg(test)]
mod yank_tests {
    use super::*;

    #[test]
    fn a_maintainers_yank_names_one_version_once_with_a_reason() {
        let text = br#"{"name": "t", "title": "T", "yanks": [
  {"service": "com.acme.app", "version": "7.4", "reason": "data loss"},
  {"service": "com.acme.app", "version": "9.9.9", "reason": "gone"},
  {"service": "com.acme.app", "version": "7.4.0", "reason": " "}
]}"#;
        let config = Loaded {
            path: "registry.json".into(),
            bytes: text.to_vec(),
            value: serde_json::from_slice(text).unwrap(),
        };
        let got: Vec<(String, usize, usize)> = check_yanks(&config, [("com.acme.app", "7.4.0")])
            .iter()
            .map(|d| (d.code.to_string(), d.line, d.column))
            .collect();
        let want = [("E104", 3, 42), ("E104", 4, 3), ("E015", 4, 61)];
        let want: Vec<(String, usize, usize)> = want
            .iter()
            .map(|(c, l, k)| (c.to_string(), *l, *k))
            .collect();
        assert_eq!(got, want);
    }
}
