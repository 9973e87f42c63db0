//! Shared by the site tests: reads a registry repo into an owned value the site
//! input borrows from, and checks the links of a built site.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use hsp_index::{Document, Interface, Publisher, RegistryConfig};
use hsp_site::{DocumentInput, PublisherInput, SiteInput};

pub struct Registry {
    pub root: PathBuf,
    pub config: RegistryConfig,
    pub interfaces: Vec<Interface>,
    pub publishers: Vec<Publisher>,
    pub documents: Vec<Document>,
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sorted_dir(path: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Reads `registry.json`, `interfaces/*.json`, `publishers/*/publisher.json` and
/// `publishers/*/services/*/*.json` with serde.
pub fn read(root: &Path) -> Registry {
    let config = json(&root.join("registry.json"));
    let interfaces = sorted_dir(&root.join("interfaces"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| json(p))
        .collect();
    let mut publishers = Vec::new();
    let mut documents = Vec::new();
    for dir in sorted_dir(&root.join("publishers")) {
        if !dir.join("publisher.json").is_file() {
            continue;
        }
        publishers.push(json(&dir.join("publisher.json")));
        for svc in sorted_dir(&dir.join("services")) {
            for file in sorted_dir(&svc) {
                if file.extension().is_some_and(|e| e == "json") {
                    documents.push(json(&file));
                }
            }
        }
    }
    Registry {
        root: root.to_path_buf(),
        config,
        interfaces,
        publishers,
        documents,
    }
}

pub fn example() -> Registry {
    read(&crate::registry::examples_registry())
}

impl Registry {
    pub fn input(&self) -> SiteInput<'_> {
        let publishers = self
            .publishers
            .iter()
            .map(|p| PublisherInput {
                publisher: p,
                key_ids: p
                    .keys
                    .iter()
                    .map(|k| hsp_tuf::key_id(k).to_string())
                    .collect(),
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
        let mut input = SiteInput::new(&self.config, &self.interfaces, publishers, documents);
        input.templates_dir = self
            .config
            .site
            .templates
            .as_ref()
            .map(|t| self.root.join(t));
        input.logo = self.config.site.logo.as_ref().map(|l| self.root.join(l));
        input
    }
}

/// Every file under `dir`, relative, with `/` separators, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for p in sorted_dir(dir) {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// A broken link: page, link as written, why.
pub type Broken = (String, String, &'static str);

/// Checks every `href` and `src` of every HTML page of the site at `dir`:
/// internal links must be relative, point at an existing file (not a folder,
/// which `file://` cannot open), and their `#fragment` at an existing `id`.
/// Links with a scheme (`https:`, `mailto:`) are external and not followed.
/// Returns the broken links and the number of internal links checked.
pub fn check_links(dir: &Path) -> (Vec<Broken>, usize) {
    let attr = regex::Regex::new(r#"\s(?:href|src)="([^"]*)""#).unwrap();
    let id = regex::Regex::new(r#"\sid="([^"]*)""#).unwrap();
    let pages: Vec<String> = files(dir)
        .into_iter()
        .filter(|f| f.ends_with(".html"))
        .collect();
    let mut ids: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut bodies = Vec::new();
    for p in &pages {
        let body = std::fs::read_to_string(dir.join(p)).unwrap();
        ids.insert(
            p.clone(),
            id.captures_iter(&body).map(|c| unescape(&c[1])).collect(),
        );
        bodies.push(body);
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for (page, body) in pages.iter().zip(&bodies) {
        for c in attr.captures_iter(body) {
            let link = unescape(&c[1]);
            if link.contains(':') && !link.starts_with('#') {
                let scheme = link.split(':').next().unwrap();
                if !["http", "https", "mailto"].contains(&scheme) {
                    broken.push((page.clone(), link.clone(), "unexpected scheme"));
                }
                continue;
            }
            checked += 1;
            if link.starts_with('/') {
                broken.push((page.clone(), link, "absolute path: links must be relative"));
                continue;
            }
            let (path, fragment) = match link.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                page.clone()
            } else {
                match resolve(page, path) {
                    Some(t) => t,
                    None => {
                        broken.push((page.clone(), link.clone(), "leaves the site"));
                        continue;
                    }
                }
            };
            let full = dir.join(&target);
            if !full.is_file() {
                let why = if full.is_dir() {
                    "points at a folder, not a file"
                } else {
                    "no such file"
                };
                broken.push((page.clone(), link.clone(), why));
                continue;
            }
            if let Some(f) = fragment {
                if target.ends_with(".html") && !ids.get(&target).is_some_and(|s| s.contains(f)) {
                    broken.push((page.clone(), link.clone(), "no element with that id"));
                }
            }
        }
    }
    (broken, checked)
}

/// `base` page path joined with a relative `link`, normalised; `None` above the root.
fn resolve(base: &str, link: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for seg in link.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
