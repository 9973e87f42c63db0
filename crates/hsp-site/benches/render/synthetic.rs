//! The synthetic registry (200 publishers x 50 services x 10 versions at
//! 100,000 documents), the child process that renders it, and the Hugo site of
//! the same number of simple pages.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use hsp_index::document::*;
use hsp_index::interface::{BindingField, FieldType};
use hsp_index::publisher::{KeyVal, PublicKey};
use hsp_index::{Document, Interface, Publisher, RegistryConfig};
use hsp_site::{DocumentInput, PublisherInput, SiteInput};

use crate::measure::{cpu_seconds, vm_hwm};

const PUBLISHERS: usize = 200;
const SERVICES: usize = 50;

/// The child process: generates the registry, renders it into `out` and prints
/// its own figures as one JSON line (render time and CPU exclude the generation).
pub fn child_site(out: &Path) {
    let docs: usize = std::env::var("HSP_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let started = Instant::now();
    let reg = Synthetic::new(docs);
    let generate_s = started.elapsed().as_secs_f64();
    let input = reg.input();
    let own_cpu = || {
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(cpu_seconds)
            .unwrap_or(0.0)
    };
    let cpu_before = own_cpu();
    let started = Instant::now();
    let report = hsp_site::render(&input, out).expect("render");
    let render_s = started.elapsed().as_secs_f64();
    let cpu_s = own_cpu();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(vm_hwm)
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({"pages": report.pages, "files": report.files, "bytes": report.bytes,
                           "generate_s": generate_s, "render_s": render_s, "hwm_kb": hwm,
                           "cpu_s": cpu_s, "render_cpu_s": cpu_s - cpu_before})
    );
}

/// How many pages hsp-site renders for `docs` documents.
pub fn page_count(docs: usize) -> usize {
    let reg = Synthetic::new(docs);
    let input = reg.input();
    let cat = hsp_site::catalogue::Catalogue::new(&input).expect("catalogue");
    hsp_site::pages::Page::all(&cat).len()
}

struct Synthetic {
    config: RegistryConfig,
    interfaces: Vec<Interface>,
    publishers: Vec<Publisher>,
    documents: Vec<Document>,
}

impl Synthetic {
    fn new(docs: usize) -> Self {
        let config: RegistryConfig = serde_json::from_value(serde_json::json!({
            "name": "synthetic", "title": "Synthetic registry",
            "description": "200 publishers x 50 services x 10 versions"
        }))
        .unwrap();
        let field = |name: &str, kind| BindingField {
            name: name.into(),
            kind,
            description: String::new(),
            required: true,
        };
        let interfaces = ["fhir", "postgres", "oidc", "smtp", "http-ui"]
            .iter()
            .map(|id| Interface {
                schema: None,
                id: id.to_string(),
                name: format!("{id} interface"),
                description: format!("The {id} interface."),
                versioning: "semver".into(),
                fields: vec![
                    field("host", FieldType::Host),
                    field("port", FieldType::Port),
                    field("url", FieldType::Url),
                ],
                features: vec![],
            })
            .collect();
        let versions = (docs / (PUBLISHERS * SERVICES)).max(1);
        let mut publishers = Vec::new();
        let mut documents = Vec::with_capacity(docs);
        'outer: for p in 0..PUBLISHERS {
            publishers.push(Publisher {
                schema: None,
                name: format!("pub{p:03}"),
                title: format!("Publisher {p}"),
                homepage: Some(format!("https://pub{p}.example.org/")),
                contact: None,
                namespaces: vec![format!("org.pub{p:03}")],
                keys: vec![PublicKey {
                    keytype: "ed25519".into(),
                    scheme: "ed25519".into(),
                    keyval: KeyVal {
                        public: format!("{:064x}", p * 7919 + 1),
                    },
                }],
                threshold: 1,
            });
            for s in 0..SERVICES {
                for v in 0..versions {
                    if documents.len() == docs {
                        break 'outer;
                    }
                    documents.push(document(p, s, v));
                }
            }
        }
        Synthetic {
            config,
            interfaces,
            publishers,
            documents,
        }
    }

    fn input(&self) -> SiteInput<'_> {
        let publishers = self
            .publishers
            .iter()
            .map(|p| PublisherInput {
                publisher: p,
                key_ids: vec![format!("{:064x}", p.name.len() * 31 + 7)],
            })
            .collect();
        let documents = self
            .documents
            .iter()
            .map(|d| DocumentInput {
                document: d,
                target: hsp_index::registry::document_target_path(&d.id, &d.version),
            })
            .collect();
        SiteInput::new(&self.config, &self.interfaces, publishers, documents)
    }
}

/// A ~2 KB document; the service's kind (database, identity provider, FHIR
/// server, application, mail) follows its number.
fn document(p: usize, s: usize, v: usize) -> Document {
    let kind = s % 5;
    type Provides<'a> = Vec<(&'a str, String)>;
    type Requires<'a> = Vec<(&'a str, &'a str, &'a str)>;
    let (provides, requires): (Provides, Requires) = match kind {
        0 => (vec![("postgres", format!("{}.{v}.0", 13 + v % 5))], vec![]),
        1 => (
            vec![("oidc", "1.0.0".into())],
            vec![("db", "postgres", ">=13, <18")],
        ),
        2 => (
            vec![("fhir", format!("4.0.{}", v % 2))],
            vec![("db", "postgres", ">=14"), ("auth", "oidc", "^1")],
        ),
        3 => (
            vec![("http-ui", "1.0.0".into())],
            vec![
                ("fhir", "fhir", "^4.0"),
                ("mail", "smtp", "*"),
                ("auth", "oidc", "^1"),
            ],
        ),
        _ => (vec![("smtp", "1.0.0".into())], vec![]),
    };
    let mut env = BTreeMap::new();
    for (name, _, _) in &requires {
        env.insert(
            format!("{}_URL", name.to_uppercase()),
            format!("${{{name}.url}}"),
        );
    }
    env.insert("LOG_FORMAT".into(), "json".into());
    let task = |name: &str, mem| Task {
        name: name.into(),
        image: format!(
            "registry.example.org/pub{p:03}/svc{s:02}@sha256:{:064x}",
            p * 1_000_000 + s * 1000 + v
        ),
        command: None,
        ports: vec![Port {
            name: "http".into(),
            port: 8080,
            protocol: Protocol::Http,
            per_replica: false,
        }],
        env: env.clone(),
        memory_mib: mem,
        cpus: Some(1.0),
        instances: Instances { min: 1, max: 2 },
        health: Some(Health {
            http: Some(HttpProbe {
                port: "http".into(),
                path: "/livez".into(),
            }),
            command: None,
            interval_s: 10,
            timeout_s: 5,
            start_period_s: 30,
            retries: 3,
        }),
        volumes: vec![],
        stop_timeout_s: 10,
    };
    Document {
        schema: None,
        id: format!("org.pub{p:03}.svc{s:02}"),
        version: format!("1.{v}.0"),
        name: format!("Service {s} of publisher {p}"),
        summary: format!("Synthetic service {s} ({}) for the benchmark.", ["database", "identity", "fhir", "app", "mail"][kind]),
        description: "A synthetic service used to measure the renderer. It has a description of a few sentences, \
                      like real documents, with `code` spans and more than one paragraph.\n\nSecond paragraph."
            .into(),
        publisher: format!("pub{p:03}"),
        homepage: Some(format!("https://pub{p}.example.org/svc{s}")),
        support_url: None,
        license: if s.is_multiple_of(11) { "LicenseRef-Commercial".into() } else { "Apache-2.0".into() },
        licensing: None,
        release_notes: Some(format!("Release 1.{v}.0: fixes and improvements.")),
        yanked: (s.is_multiple_of(7) && v == 3).then(|| "broken migration".to_string()),
        provides: provides
            .into_iter()
            .map(|(i, version)| Provide {
                interface: i.into(),
                version,
                task: "app".into(),
                port: "http".into(),
                features: vec![],
                binding: [("url".to_string(), "http://${self.app.http}/".to_string())].into_iter().collect(),
            })
            .collect(),
        requires: requires
            .into_iter()
            .map(|(name, i, range)| Requirement {
                name: name.into(),
                interface: i.into(),
                version: range.into(),
                scope: Scope::Shared,
                optional: false,
                features: vec![],
                description: String::new(),
            })
            .collect(),
        config: vec![ConfigEntry {
            name: "ADMIN_EMAIL".into(),
            description: "Where alerts go.".into(),
            required: true,
            secret: false,
            generate: false,
            default: None,
            pattern: None,
            example: None,
        }],
        tasks: vec![task("app", 1024), task("worker", 512)],
        artifacts: vec![],
        smoke_test: None,
    }
}

/// A Hugo site of `pages` simple pages (home and section included).
pub fn hugo_tree(dir: &Path, pages: usize) {
    let w = |rel: &str, body: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    w(
        "hugo.toml",
        "baseURL = 'http://example.org/'\ntitle = 'Bench'\nlanguageCode = 'en'\n\
         disableKinds = ['taxonomy', 'term', 'RSS', 'sitemap', 'robotsTXT', '404']\n",
    );
    w(
        "layouts/_default/baseof.html",
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title>\
         <link rel=\"stylesheet\" href=\"/style.css\"></head><body><header><a href=\"/\">{{ .Site.Title }}</a></header>\
         <main>{{ block \"main\" . }}{{ end }}</main><footer>footer</footer></body></html>\n",
    );
    w(
        "layouts/_default/single.html",
        "{{ define \"main\" }}<h1>{{ .Title }}</h1>{{ .Content }}{{ end }}\n",
    );
    w(
        "layouts/_default/list.html",
        "{{ define \"main\" }}<h1>{{ .Title }}</h1><p>{{ len .Pages }} pages</p><ul>{{ range first 100 .Pages }}\
         <li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n",
    );
    w("content/docs/_index.md", "---\ntitle: Docs\n---\n");
    for i in 0..pages.saturating_sub(2) {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create({
                let d = dir.join(format!("content/docs/d{:03}", i % 200));
                if i < 200 {
                    std::fs::create_dir_all(&d).unwrap();
                }
                d.join(format!("p{i}.md"))
            })
            .unwrap(),
        );
        write!(
            f,
            "---\ntitle: \"Page {i}\"\n---\n\n## Summary\n\nService page number {i}, a simple page with a few paragraphs \
             of text, a list and some `code`, about the size of a conformance document page.\n\n\
             - provides: fhir 4.0.1\n- requires: postgres >=13, <17\n- licence: Apache-2.0\n\n\
             Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et \
             dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip \
             ex ea commodo consequat.\n\n### Tasks\n\nTask `app` runs 1 to 2 instances with 2048 MiB each; task \
             `worker` runs 2 instances. Health: HTTP GET /livez every 10 s.\n"
        )
        .unwrap();
    }
}
