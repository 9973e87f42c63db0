//! The bundled example registry (`examples/registry`) and environments
//! (`examples/environments`): every file parses into the `hsp-index` types (which
//! deny unknown fields), sits where its content says, and the catalogue holds what
//! DESIGN.md promises, including the worked example.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hsp_index::document::Scope;
use hsp_index::interface::FieldType;
use hsp_index::registry::CONFIG_FILE;
use hsp_index::version::{parse_range, parse_version};
use hsp_index::{Document, Environment};
use hsp_test_support::examples::{json_files, load, name_of, parse};

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `repo[:tag]@sha256:<64 hex>` -> the repository part.
fn image_repo(image: &str) -> &str {
    let (name, digest) = image
        .split_once("@sha256:")
        .unwrap_or_else(|| panic!("`{image}` is not pinned by digest"));
    assert!(
        is_hex64(digest),
        "`{image}`: the digest is not 64 lowercase hex digits"
    );
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    }
}

#[test]
fn every_file_parses_and_sits_where_its_content_says() {
    let reg = load();
    assert_eq!(reg.config.name, "example");
    assert!(!reg.documents.is_empty() && !reg.interfaces.is_empty() && !reg.publishers.is_empty());
    for (path, d) in &reg.documents {
        let (_, p) = reg
            .publishers
            .get(&d.publisher)
            .unwrap_or_else(|| panic!("{}: unknown publisher", path.display()));
        assert!(
            p.owns(&d.id),
            "{}: `{}` is outside the namespaces of `{}`",
            path.display(),
            d.id,
            p.name
        );
        parse_version(&d.version).unwrap_or_else(|e| panic!("{}: version: {e}", path.display()));
    }
    let mut seen = BTreeSet::new();
    for (path, d) in &reg.documents {
        let v = parse_version(&d.version).unwrap();
        assert!(
            seen.insert((d.id.clone(), v)),
            "{}: duplicate version",
            path.display()
        );
    }
}

#[test]
fn schema_references_resolve_to_the_committed_schemas() {
    let reg = load();
    let mut files: Vec<(PathBuf, Option<String>, &str)> = vec![(
        reg.root.join(CONFIG_FILE),
        reg.config.schema.clone(),
        "registry",
    )];
    files.extend(
        reg.interfaces
            .values()
            .map(|(p, i)| (p.clone(), i.schema.clone(), "interface")),
    );
    files.extend(
        reg.publishers
            .values()
            .map(|(p, x)| (p.clone(), x.schema.clone(), "publisher")),
    );
    files.extend(
        reg.documents
            .iter()
            .map(|(p, d)| (p.clone(), d.schema.clone(), "document")),
    );
    for path in json_files(&hsp_test_support::root().join("examples/environments")) {
        let e: Environment = parse(&path);
        files.push((path, e.schema, "environment"));
    }
    for (path, schema, kind) in files {
        let schema = schema.unwrap_or_else(|| panic!("{}: no `$schema`", path.display()));
        assert_eq!(
            name_of(Path::new(&schema)),
            format!("{kind}.schema.json"),
            "{}",
            path.display()
        );
        let target = path.parent().unwrap().join(&schema);
        let target = target
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: `$schema` {schema}: {e}", path.display()));
        assert_eq!(
            target,
            hsp_test_support::root()
                .join("schemas")
                .join(format!("{kind}.schema.json"))
                .canonicalize()
                .unwrap()
        );
    }
}

#[test]
fn catalogue_has_what_the_design_promises() {
    let reg = load();
    let ids = reg.ids();
    assert!(
        ids.len() >= 9,
        "{} services, want at least 9: {ids:?}",
        ids.len()
    );
    assert!(
        reg.interfaces.len() >= 8,
        "{} interfaces, want at least 8",
        reg.interfaces.len()
    );
    for i in [
        "fhir",
        "smart-on-fhir",
        "oidc",
        "ldap",
        "postgres",
        "mysql",
        "smtp",
        "cds-hooks",
    ] {
        reg.interface(i);
    }
    // Real public images named in DESIGN.md's catalogue, plus a CDS Hooks provider.
    let repos: BTreeSet<&str> = reg.images().into_iter().map(image_repo).collect();
    for want in [
        "hapiproject/hapi",
        "quay.io/keycloak/keycloak",
        "openemr/openemr",
        "smartonfhir/smart-launcher-2",
        "axllent/mailpit",
        "postgres",
        "mariadb",
        "bitnamilegacy/openldap",
    ] {
        assert!(repos.contains(want), "no service runs `{want}`: {repos:?}");
    }
    let provided: BTreeSet<&str> = reg
        .documents
        .iter()
        .flat_map(|(_, d)| d.provides.iter().map(|p| p.interface.as_str()))
        .collect();
    for i in [
        "fhir",
        "smart-on-fhir",
        "oidc",
        "ldap",
        "postgres",
        "mysql",
        "smtp",
        "cds-hooks",
    ] {
        assert!(provided.contains(i), "no service provides `{i}`");
    }
    let multi = ids.iter().filter(|id| reg.versions(id).len() >= 2).count();
    assert!(multi >= 3, "only {multi} services have several versions");
    assert!(
        reg.documents.iter().any(|(_, d)| d.yanked.is_some()),
        "no yanked version"
    );

    // Health, stop timeouts and the DESIGN rule that example digests are marked.
    for (path, d) in &reg.documents {
        for t in &d.tasks {
            assert!(
                t.health.is_some(),
                "{}: task `{}` has no health check",
                path.display(),
                t.name
            );
            assert!(
                t.stop_timeout_s <= 15,
                "{}: task `{}` stop timeout",
                path.display(),
                t.name
            );
            assert!(
                t.instances.min <= t.instances.max && t.memory_mib > 0,
                "{}: task `{}`",
                path.display(),
                t.name
            );
        }
        assert!(
            d.description.contains("example value"),
            "{}: example digests must be marked as examples",
            path.display()
        );
    }

    // Bare-metal artifacts.
    let artifacts: Vec<_> = reg
        .documents
        .iter()
        .flat_map(|(_, d)| d.artifacts.iter())
        .collect();
    assert!(
        !artifacts.is_empty(),
        "no service has a bare-metal artifact"
    );
    for a in artifacts {
        assert!(is_hex64(&a.sha256) && a.size > 0, "{a:?}");
        assert!(
            a.url.starts_with("https://") && a.url.ends_with(".tar.gz"),
            "{a:?}"
        );
        assert!(
            !a.entrypoint.starts_with('/') && !a.entrypoint.contains(".."),
            "{a:?}"
        );
    }

    // Licences: open source per the registry policy, or a complete base-form declaration.
    let open = &reg.config.policy.open_source_licenses;
    let non_open: Vec<&Document> = reg
        .documents
        .iter()
        .map(|(_, d)| d)
        .filter(|d| {
            !d.license
                .split(" OR ")
                .any(|l| open.iter().any(|o| l.trim().starts_with(o.as_str())))
        })
        .collect();
    assert!(
        !non_open.is_empty(),
        "no non-open-source service to show the licensing declaration"
    );
    for d in non_open {
        let l = d
            .licensing
            .as_ref()
            .unwrap_or_else(|| panic!("{} {}: `{}` needs `licensing`", d.id, d.version, d.license));
        assert!(
            l.no_trial_period
                && l.no_revocation
                && !l.base_form.is_empty()
                && l.terms_url.starts_with("https://")
        );
    }
}

#[test]
fn worked_example_is_expressed() {
    let reg = load();
    let docs = reg.versions("com.acme.care-coordinator");
    assert!(
        !docs.is_empty(),
        "the worked example com.acme.care-coordinator is missing"
    );
    for d in docs {
        let what = format!("{} {}", d.id, d.version);
        assert!(
            d.provides.iter().any(|p| p.interface == "fhir"),
            "{what}: a FHIR application provides fhir"
        );
        let req = |iface: &str| {
            d.requires
                .iter()
                .find(|r| r.interface == iface && !r.optional)
                .unwrap_or_else(|| panic!("{what}: requires {iface}"))
        };
        let db = req("postgres");
        assert_eq!(db.scope, Scope::Dedicated, "{what}: its own database");
        assert!(
            db.features.iter().any(|f| f == "schema-owner"),
            "{what}: schema rights"
        );
        req("oidc");
        req("smtp");
        let config = |name: &str| {
            d.config
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{what}: config {name}"))
        };
        assert!(!config("OIDC_CLIENT_ID").secret && config("OIDC_CLIENT_ID").required);
        assert!(config("OIDC_CLIENT_SECRET").secret && config("OIDC_CLIENT_SECRET").required);
        for task in ["app", "worker"] {
            let t = d
                .task(task)
                .unwrap_or_else(|| panic!("{what}: task {task}"));
            assert!(
                t.instances.min >= 2,
                "{what}: {task} runs at least 2 instances"
            );
            assert_eq!(t.memory_mib, 2048, "{what}: {task} has 2 GiB");
            for (name, value) in &t.env {
                assert!(
                    !value.contains("${config.OIDC_CLIENT_SECRET}") || name.contains("SECRET"),
                    "{what}: {name}"
                );
            }
            let env: String = t.env.values().cloned().collect();
            for r in [
                "${db.password}",
                "${oidc.issuer_url}",
                "${config.OIDC_CLIENT_ID}",
                "${config.OIDC_CLIENT_SECRET}",
                "${smtp.host}",
            ] {
                assert!(env.contains(r), "{what}: task {task} does not use {r}");
            }
        }
        assert!(
            d.licensing.is_some(),
            "{what}: the ISV product is the non-open-source example"
        );
    }
}

#[test]
fn interfaces_bindings_and_templates_resolve() {
    let reg = load();
    for (path, d) in &reg.documents {
        let at = path.display();
        for p in &d.provides {
            let i = reg.interface(&p.interface);
            parse_version(&p.version)
                .unwrap_or_else(|e| panic!("{at}: provides {}: {e}", p.interface));
            let t = d
                .task(&p.task)
                .unwrap_or_else(|| panic!("{at}: provides {}: no task {}", p.interface, p.task));
            assert!(
                t.port(&p.port).is_some(),
                "{at}: provides {}: no port {}",
                p.interface,
                p.port
            );
            for key in p.binding.keys() {
                assert!(
                    i.field(key).is_some(),
                    "{at}: `{}` has no binding field `{key}`",
                    i.id
                );
            }
            for f in i.fields.iter().filter(|f| f.required) {
                assert!(
                    p.binding.contains_key(&f.name),
                    "{at}: provides {} without `{}`",
                    i.id,
                    f.name
                );
            }
            for f in &p.features {
                assert!(
                    i.features.iter().any(|x| &x.name == f),
                    "{at}: `{}` has no feature `{f}`",
                    i.id
                );
            }
            for f in i.fields.iter().filter(|f| f.kind == FieldType::Secret) {
                if let Some(v) = p.binding.get(&f.name) {
                    assert!(
                        v.starts_with("${config.") && v.ends_with('}'),
                        "{at}: secret `{}` must come from config",
                        f.name
                    );
                    let name = &v["${config.".len()..v.len() - 1];
                    assert!(
                        d.config.iter().any(|c| c.name == name && c.secret),
                        "{at}: `{name}` must be a secret config entry"
                    );
                }
            }
        }
        for r in &d.requires {
            let i = reg.interface(&r.interface);
            let range = parse_range(&r.version)
                .unwrap_or_else(|e| panic!("{at}: requires {}: {e}", r.name));
            for f in &r.features {
                assert!(
                    i.features.iter().any(|x| &x.name == f),
                    "{at}: `{}` has no feature `{f}`",
                    i.id
                );
            }
            // Something in the index can satisfy every requirement.
            let satisfiable = reg.documents.iter().any(|(_, o)| {
                o.yanked.is_none()
                    && o.provides.iter().any(|p| {
                        p.interface == r.interface
                            && range.matches(&parse_version(&p.version).unwrap())
                            && r.features.iter().all(|f| p.features.contains(f))
                    })
            });
            assert!(
                satisfiable,
                "{at}: nothing in the index satisfies requirement `{}`",
                r.name
            );
        }
        let mut values: Vec<&str> = d
            .provides
            .iter()
            .flat_map(|p| p.binding.values().map(String::as_str))
            .collect();
        values.extend(
            d.tasks
                .iter()
                .flat_map(|t| t.env.values().map(String::as_str)),
        );
        for v in values {
            for reference in references(v) {
                let parts: Vec<&str> = reference.split('.').collect();
                let ok = match parts.as_slice() {
                    ["config", name] => d.config.iter().any(|c| c.name == *name),
                    ["self", task, port, ..] => {
                        d.task(task).is_some_and(|t| t.port(port).is_some())
                    }
                    [req, field] => d
                        .requires
                        .iter()
                        .find(|r| r.name == *req)
                        .is_some_and(|r| reg.interface(&r.interface).field(field).is_some()),
                    _ => false,
                };
                assert!(ok, "{at}: `${{{reference}}}` does not resolve");
            }
        }
    }
}

/// The `${...}` references in a template value.
fn references(v: &str) -> Vec<&str> {
    v.split("${")
        .skip(1)
        .map(|s| s.split_once('}').expect("closed template").0)
        .collect()
}

#[test]
fn environments_name_real_services_and_config() {
    let reg = load();
    let envs = json_files(&hsp_test_support::root().join("examples/environments"));
    assert!(envs.len() >= 2, "want a docker and a host environment");
    let mut kinds = BTreeSet::new();
    for path in envs {
        let at = path.display();
        let e: Environment = parse(&path);
        kinds.insert(format!("{:?}", e.target.kind));
        assert!(
            !e.index.root.starts_with('/') && !e.index.root.contains(".."),
            "{at}: root is relative to the file"
        );
        let mut instances = BTreeMap::new();
        for w in &e.services {
            let range =
                parse_range(&w.version).unwrap_or_else(|err| panic!("{at}: {}: {err}", w.id));
            let matching: Vec<&Document> = reg
                .versions(&w.id)
                .into_iter()
                .filter(|d| {
                    d.yanked.is_none() && range.matches(&parse_version(&d.version).unwrap())
                })
                .collect();
            assert!(
                !matching.is_empty(),
                "{at}: no version of {} matches {}",
                w.id,
                w.version
            );
            instances.insert(
                w.name.clone().unwrap_or_else(|| w.id.clone()),
                matching.clone(),
            );
            instances.insert(w.id.clone(), matching);
        }
        for (instance, values) in &e.config {
            let docs = instances
                .get(instance)
                .unwrap_or_else(|| panic!("{at}: config for unknown `{instance}`"));
            for name in values.keys() {
                for d in docs {
                    assert!(
                        d.config.iter().any(|c| &c.name == name),
                        "{at}: {} {} has no config `{name}`",
                        d.id,
                        d.version
                    );
                }
            }
            for d in docs {
                for c in d
                    .config
                    .iter()
                    .filter(|c| c.required && c.default.is_none() && !c.generate)
                {
                    assert!(
                        values.contains_key(&c.name),
                        "{at}: {} needs `{}`",
                        d.id,
                        c.name
                    );
                }
            }
        }
        for x in &e.externals {
            let i = reg.interface(&x.interface);
            for c in x.consumers.iter().chain(x.per_consumer.keys()) {
                assert!(
                    instances.contains_key(c),
                    "{at}: external {} names `{c}`, which the environment does not want",
                    x.name
                );
            }
            let own = x.per_consumer.values().flat_map(|fields| fields.keys());
            for key in x.binding.keys().chain(own) {
                assert!(
                    i.field(key).is_some(),
                    "{at}: external {}: `{}` has no field `{key}`",
                    x.name,
                    i.id
                );
            }
        }
    }
    assert!(
        kinds.contains("Docker") && kinds.contains("Host"),
        "{kinds:?}"
    );
}
