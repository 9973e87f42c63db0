//! Rendering: built-in templates and assets (embedded with `include_str!`),
//! optional registry overrides, pages rendered and written in parallel with rayon.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Value};
use tera::Tera;

use crate::catalogue::Catalogue;
use crate::error::Error;
use crate::input::SiteInput;
use crate::pages::Page;

/// Built-in templates; a registry's `site.templates` folder overrides any of
/// them by name (e.g. its own `base.html`).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("services.html", include_str!("../templates/services.html")),
    ("service.html", include_str!("../templates/service.html")),
    ("version.html", include_str!("../templates/version.html")),
    (
        "interfaces.html",
        include_str!("../templates/interfaces.html"),
    ),
    (
        "interface.html",
        include_str!("../templates/interface.html"),
    ),
    (
        "publishers.html",
        include_str!("../templates/publishers.html"),
    ),
    (
        "publisher.html",
        include_str!("../templates/publisher.html"),
    ),
    (
        "docs/index.html",
        include_str!("../templates/docs/index.html"),
    ),
    (
        "docs/packaging.html",
        include_str!("../templates/docs/packaging.html"),
    ),
    (
        "docs/reference.html",
        include_str!("../templates/docs/reference.html"),
    ),
    (
        "docs/operators.html",
        include_str!("../templates/docs/operators.html"),
    ),
    (
        "docs/air-gap.html",
        include_str!("../templates/docs/air-gap.html"),
    ),
    (
        "docs/guide.html",
        include_str!("../templates/docs/guide.html"),
    ),
];

/// Static assets, written under `assets/`.
pub const ASSETS: &[(&str, &str)] = &[
    ("style.css", include_str!("../assets/style.css")),
    ("search.js", include_str!("../assets/search.js")),
    ("copy.js", include_str!("../assets/copy.js")),
    ("favicon.svg", include_str!("../assets/favicon.svg")),
];

/// What a render wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderReport {
    /// HTML pages written.
    pub pages: usize,
    /// Files written, pages included.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Renders the site of `input` into `out` (created if missing). Pages are
/// written at the top level of `out` (`index.html`, `services/`, `interfaces/`,
/// `publishers/`, `docs/`, `assets/`, `search.json`, `search-data.js`); other files
/// in `out` (such as the TUF `metadata/` and `targets/`) are left alone.
/// Output is deterministic: the same input gives the same bytes.
pub fn render(input: &SiteInput, out: &Path) -> Result<RenderReport, Error> {
    let cat = Catalogue::new(input)?;
    let tera = templates(input.templates_dir.as_deref())?;
    let mut report = RenderReport::default();

    let logo = match &input.logo {
        Some(path) => Some(copy_logo(path, out, &mut report)?),
        None => None,
    };
    let site = json!({
        "title": input.config.title,
        "description": input.config.description,
        "name": input.config.name,
        "colour": colour(input.config.site.primary_colour.as_deref())?,
        "logo": logo,
    });

    for (name, body) in ASSETS {
        write(&out.join("assets").join(name), body.as_bytes(), &mut report)?;
    }
    let (json, js) = crate::search::files(&cat);
    write(&out.join("search.json"), json.as_bytes(), &mut report)?;
    write(&out.join("search-data.js"), js.as_bytes(), &mut report)?;

    let pages = Page::all(&cat);
    for folder in crate::pages::FOLDERS {
        create_dir(&out.join(folder))?;
    }
    let written: Vec<u64> = pages
        .par_iter()
        .map_init(
            || Vec::with_capacity(64 * 1024),
            |html: &mut Vec<u8>, page| {
                html.clear();
                let path = page.path(&cat);
                let err = |source| Error::Render {
                    page: path.clone(),
                    template: page.template().to_string(),
                    source,
                };
                let context = page.context(&cat, &path, &site).map_err(err)?;
                tera.render_to(page.template(), &context, &mut *html)
                    .map_err(err)?;
                let file = out.join(&path);
                fs::write(&file, &html).map_err(|source| Error::Write { path: file, source })?;
                Ok(html.len() as u64)
            },
        )
        .collect::<Result<_, Error>>()?;
    report.pages = written.len();
    report.files += written.len();
    report.bytes += written.iter().sum::<u64>();
    Ok(report)
}

/// The built-in templates, then the overrides of `dir` (every `*.html` file, by
/// path relative to `dir`).
pub fn templates(dir: Option<&Path>) -> Result<Tera, Error> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    // Tera's default also escapes `/`, which makes every link unreadable.
    tera.set_escape_fn(crate::graph::esc);
    tera.register_filter("ticks", ticks_filter);
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|source| Error::Template {
            name: "built-in templates".into(),
            source,
        })?;
    if let Some(dir) = dir {
        let mut overrides: Vec<(String, String)> = Vec::new();
        collect_templates(dir, dir, &mut overrides)?;
        overrides.sort();
        tera.add_raw_templates(overrides)
            .map_err(|source| Error::Template {
                name: dir.display().to_string(),
                source,
            })?;
    }
    Ok(tera)
}

fn collect_templates(
    base: &Path,
    dir: &Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), Error> {
    let read_err = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_dir() {
            collect_templates(base, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            let body = fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let name = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((name, body));
        }
    }
    Ok(())
}

fn ticks_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("ticks: expected a string"))?;
    Ok(Value::String(crate::docs::ticks(s)))
}

/// The primary colour, if set: `#rgb`, `#rrggbb` or a CSS colour name, nothing
/// that could break out of the stylesheet.
fn colour(c: Option<&str>) -> Result<Option<String>, Error> {
    let Some(c) = c else { return Ok(None) };
    let hex = c
        .strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6) && h.chars().all(|x| x.is_ascii_hexdigit()));
    let name = !c.is_empty() && c.chars().all(|x| x.is_ascii_alphabetic());
    if hex || name {
        Ok(Some(c.to_string()))
    } else {
        Err(Error::Colour(c.to_string()))
    }
}

fn copy_logo(path: &Path, out: &Path, report: &mut RenderReport) -> Result<String, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| matches!(e.as_str(), "png" | "svg" | "jpg" | "jpeg" | "webp" | "gif"))
        .ok_or_else(|| Error::LogoType {
            path: path.to_path_buf(),
        })?;
    let bytes = fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = format!("assets/logo.{ext}");
    write(&out.join(&name), &bytes, report)?;
    Ok(name)
}

fn write(path: &Path, bytes: &[u8], report: &mut RenderReport) -> Result<(), Error> {
    write_file(path, bytes)?;
    report.files += 1;
    report.bytes += bytes.len() as u64;
    Ok(())
}

/// Writes a file, creating its folder.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    fs::write(path, bytes).map_err(|source| Error::Write {
        path: PathBuf::from(path),
        source,
    })
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: PathBuf::from(dir),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::DocPage;

    #[test]
    fn colours() {
        for (c, ok) in [
            ("#0b5394", true),
            ("#abc", true),
            ("navy", true),
            ("#12345", false),
            ("red;}body{display:none", false),
            ("url(x)", false),
            ("", false),
        ] {
            assert_eq!(colour(Some(c)).is_ok(), ok, "{c}");
        }
        assert_eq!(colour(None).unwrap(), None);
    }

    #[test]
    fn builtin_templates_parse() {
        templates(None).unwrap();
    }

    /// Every optional field left out (serde skips them): no template may
    /// assume they exist.
    #[test]
    fn minimal_files_render() {
        let config: hsp_index::RegistryConfig =
            serde_json::from_value(json!({"name": "r", "title": "R"})).unwrap();
        let interfaces: Vec<hsp_index::Interface> = vec![serde_json::from_value(json!({
            "id": "fhir", "name": "FHIR", "description": "d", "versioning": "v",
            "fields": [{"name": "url", "type": "url"}]
        }))
        .unwrap()];
        let publisher: hsp_index::Publisher = serde_json::from_value(json!({
            "name": "p", "title": "P", "namespaces": ["org.p"], "keys": []
        }))
        .unwrap();
        let docs: Vec<hsp_index::Document> = [
            json!({"id": "org.p.a", "version": "1", "name": "A", "summary": "s", "publisher": "p",
                   "license": "MIT", "tasks": [{"name": "app", "image": "x@sha256:00", "memory_mib": 64}],
                   "config": [{"name": "X"}],
                   "provides": [{"interface": "fhir", "version": "4.0.1", "task": "app", "port": "http"}]}),
            json!({"id": "org.p.b", "version": "2.0.0-rc.1", "name": "B", "summary": "s", "publisher": "nobody",
                   "license": "LicenseRef-X", "yanked": "bad", "tasks": [],
                   "requires": [{"name": "f", "interface": "fhir", "version": "^4"},
                                {"name": "g", "interface": "undefined", "version": "*", "optional": true}]}),
        ]
        .into_iter()
        .map(|d| serde_json::from_value(d).unwrap())
        .collect();
        let input = SiteInput::new(
            &config,
            &interfaces,
            vec![crate::PublisherInput {
                publisher: &publisher,
                key_ids: vec![],
            }],
            docs.iter()
                .map(|d| crate::DocumentInput {
                    document: d,
                    target: "t".into(),
                })
                .collect(),
        );
        let out = tempfile::tempdir().unwrap();
        let report = render(&input, out.path()).unwrap();
        assert_eq!(report.pages, 4 + DocPage::ALL.len() + 1 + 1 + 2 + 2);
        let b = fs::read_to_string(out.path().join("services/org.p.b@2.0.0-rc.1.html")).unwrap();
        assert!(b.contains("A 1"), "the provider of requirement f is linked");
        assert!(
            b.contains("No provider in this index"),
            "the undefined interface has no provider"
        );
    }
}
