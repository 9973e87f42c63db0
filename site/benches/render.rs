//! Benchmark (not a test): render the site of a synthetic registry of
//! 200 publishers x 50 services x 10 versions (100,000 documents), then, in the
//! same run, build a Hugo site of the same number of simple pages, and compare
//! pages per second and peak memory. Both write to a folder on disk.
//!
//! `cargo bench -p hsp-site --bench render` (`HSP_BENCH_DOCS=10000` for a smaller
//! run). Each side runs in its own process so that its peak memory (VmHWM) is its
//! own. Zola, the other reference, is not on crates.io nor in Debian, so it is not
//! run here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hsp_index::document::*;
use hsp_index::interface::{BindingField, FieldType};
use hsp_index::publisher::{KeyVal, PublicKey};
use hsp_index::{Document, Interface, Publisher, RegistryConfig};
use hsp_site::{DocumentInput, PublisherInput, SiteInput};

/// The allocator of the `hsp` binary, so the benchmark measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PUBLISHERS: usize = 200;
const SERVICES: usize = 50;

fn main() {
    if std::env::var("HSP_BENCH_ROLE").as_deref() == Ok("site") {
        let out = PathBuf::from(std::env::args().nth(1).expect("output folder"));
        child_site(&out);
        return;
    }
    let docs: usize = std::env::var("HSP_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let base = std::env::var_os("HSP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("hsp-site-bench-")
        .tempdir_in(&base)
        .unwrap();
    eprintln!(
        "bench: {docs} documents, output under {}",
        work.path().display()
    );

    // hsp-site, in a child process.
    let exe = std::env::current_exe().unwrap();
    let site_out = work.path().join("site");
    let mut cmd = Command::new(&exe);
    cmd.arg(&site_out)
        .env("HSP_BENCH_ROLE", "site")
        .env("HSP_BENCH_DOCS", docs.to_string());
    let site = measure(cmd);
    let line = String::from_utf8(site.stdout.clone()).unwrap();
    let r: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    let pages = r["pages"].as_u64().unwrap() as usize;
    let render_s = r["render_s"].as_f64().unwrap();
    let render_cpu_s = r["render_cpu_s"].as_f64().unwrap();
    let generate_s = r["generate_s"].as_f64().unwrap();
    let site_disk = du(&site_out);
    sync();

    // Hugo, same number of pages: default pretty URLs (a folder per page), then
    // `uglyURLs` (a file per page, like hsp-site).
    let hugo_src = work.path().join("hugo-src");
    hugo_tree(&hugo_src, pages);
    sync();
    let mut hugo = Vec::new();
    for (label, ugly) in [("hugo", "false"), ("hugo ugly", "true")] {
        let out = work.path().join(format!("hugo-out-{ugly}"));
        let mut cmd = Command::new("hugo");
        cmd.args(["--quiet", "--source"])
            .arg(&hugo_src)
            .arg("--destination")
            .arg(&out)
            .env("HUGO_UGLYURLS", ugly);
        let run = measure(cmd);
        hugo.push((label, count_html(&out), run, du(&out)));
        sync();
    }
    let hugo_version = Command::new("hugo")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "hsp-site render benchmark ({} cores, output in {}, load average {})",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        base.display(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
    );
    println!("  documents  {docs}");
    println!(
        "  {:<10} {:>7} {:>9} {:>9} {:>9} {:>11} {:>9} {:>9}",
        "", "pages", "wall s", "pages/s", "CPU s", "pages/CPU s", "peak MB", "out MB"
    );
    println!(
        "  {:<10} {pages:>7} {render_s:>9.2} {:>9.0} {render_cpu_s:>9.2} {:>11.0} {:>9.0} {:>9.0}   (render only; process {:.2} s wall incl. {generate_s:.2} s synthetic data)",
        "hsp-site",
        pages as f64 / render_s,
        pages as f64 / render_cpu_s,
        mb(site.hwm_kb),
        site_disk as f64 / 1e6,
        site.wall_s,
    );
    for (label, n, run, disk) in &hugo {
        println!(
            "  {label:<10} {n:>7} {:>9.2} {:>9.0} {:>9.2} {:>11.0} {:>9.0} {:>9.0}",
            run.wall_s,
            *n as f64 / run.wall_s,
            run.cpu_s,
            *n as f64 / run.cpu_s,
            mb(run.hwm_kb),
            *disk as f64 / 1e6
        );
    }
    for (label, n, run, _) in &hugo {
        println!(
            "  ratio vs {label:<10} pages/s {:.2}x, pages per CPU second {:.2}x, peak memory {:.2}x less",
            (pages as f64 / render_s) / (*n as f64 / run.wall_s),
            (pages as f64 / render_cpu_s) / (*n as f64 / run.cpu_s),
            run.hwm_kb as f64 / site.hwm_kb as f64
        );
    }
    println!("  {hugo_version}; Zola is not available here (not on crates.io, not in Debian 12)");
    eprintln!("bench: removing {}", work.path().display());
}

/// Flushes dirty pages so that one run's writeback does not slow the next.
fn sync() {
    let _ = Command::new("sync").status();
}

/// One measured process.
struct Run {
    wall_s: f64,
    /// Peak resident memory (VmHWM), kB.
    hwm_kb: u64,
    /// User + system CPU time, seconds.
    cpu_s: f64,
    stdout: Vec<u8>,
}

/// `/proc/<pid>/stat` user + system time in seconds (USER_HZ is 100 on Linux).
fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd`, sampling its peak memory and CPU time until it exits. The
/// machine is shared, so CPU time is the steadier figure; wall time is shown too.
fn measure(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning");
    let proc_dir = format!("/proc/{}", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let (mut hwm_kb, mut cpu_s) = (0, 0.0f64);
    loop {
        if let Some(kb) = std::fs::read_to_string(format!("{proc_dir}/status"))
            .ok()
            .as_deref()
            .and_then(vm_hwm)
        {
            hwm_kb = hwm_kb.max(kb);
        }
        if let Some(c) = std::fs::read_to_string(format!("{proc_dir}/stat"))
            .ok()
            .as_deref()
            .and_then(cpu_seconds)
        {
            cpu_s = cpu_s.max(c);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall_s = started.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap();
    // A child may report its own exact figures.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&stdout) {
        hwm_kb = hwm_kb.max(v["hwm_kb"].as_u64().unwrap_or(0));
        cpu_s = cpu_s.max(v["cpu_s"].as_f64().unwrap_or(0.0));
    }
    Run {
        wall_s,
        hwm_kb,
        cpu_s,
        stdout,
    }
}

fn child_site(out: &Path) {
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
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({"pages": report.pages, "files": report.files, "bytes": report.bytes,
                           "generate_s": generate_s, "render_s": render_s, "hwm_kb": hwm,
                           "cpu_s": cpu_s, "render_cpu_s": cpu_s - cpu_before})
    );
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
        }],
        tasks: vec![task("app", 1024), task("worker", 512)],
        artifacts: vec![],
        smoke_test: None,
    }
}

/// A Hugo site of `pages` simple pages (home and section included).
fn hugo_tree(dir: &Path, pages: usize) {
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

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let md = e.metadata().unwrap();
            if md.is_dir() {
                walk(&e.path(), f);
            } else {
                f(&e.path(), &md);
            }
        }
    }
}

fn count_html(dir: &Path) -> usize {
    let mut n = 0;
    walk(dir, &mut |p, _| {
        n += usize::from(p.extension().is_some_and(|e| e == "html"))
    });
    n
}

fn du(dir: &Path) -> u64 {
    let mut n = 0;
    walk(dir, &mut |_, md| n += md.len());
    n
}
