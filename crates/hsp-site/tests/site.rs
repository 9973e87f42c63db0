//! The website of the example registry, rendered with the library: every page
//! exists, no internal link is broken, representative pages match their
//! snapshots, the environment snippets parse as environment files.

use std::path::Path;

use hsp_test_support::site::{check_links, example, files};

fn render_example() -> (tempfile::TempDir, hsp_site::RenderReport) {
    let reg = example();
    let out = tempfile::tempdir().unwrap();
    let report = hsp_site::render(&reg.input(), out.path()).expect("render the example registry");
    (out, report)
}

fn page(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_service_version_interface_and_publisher_has_a_page() {
    let reg = example();
    let (out, report) = render_example();
    let dir = out.path();
    for d in &reg.documents {
        assert!(
            dir.join(format!("services/{}.html", d.id)).is_file(),
            "{}",
            d.id
        );
        assert!(
            dir.join(format!("services/{}@{}.html", d.id, d.version))
                .is_file(),
            "{} {}",
            d.id,
            d.version
        );
    }
    for i in &reg.interfaces {
        assert!(
            dir.join(format!("interfaces/{}.html", i.id)).is_file(),
            "{}",
            i.id
        );
    }
    for p in &reg.publishers {
        assert!(
            dir.join(format!("publishers/{}.html", p.name)).is_file(),
            "{}",
            p.name
        );
    }
    for doc in [
        "docs/index.html",
        "docs/packaging.html",
        "docs/reference.html",
        "docs/operators.html",
        "docs/air-gap.html",
        "index.html",
        "search-data.js",
    ] {
        assert!(dir.join(doc).is_file(), "{doc}");
    }
    let html = files(dir).iter().filter(|f| f.ends_with(".html")).count();
    assert_eq!(report.pages, html, "the report counts the pages written");
}

#[test]
fn no_broken_internal_links() {
    let (out, _) = render_example();
    let (broken, checked) = check_links(out.path());
    assert!(
        checked > 500,
        "only {checked} links checked: is the site empty?"
    );
    assert!(
        broken.is_empty(),
        "{} broken links:\n{:#?}",
        broken.len(),
        broken
    );
}

#[test]
fn the_link_checker_finds_broken_links() {
    let (out, _) = render_example();
    let dir = out.path();
    let home = page(dir, "index.html");
    let bad = home
        .replacen("href=\"docs/index.html\"", "href=\"docs/missing.html\"", 1)
        .replacen(
            "</main>",
            "<a href=\"/abs.html\">x</a><a href=\"services/\">y</a><a href=\"#nope\">z</a></main>",
            1,
        );
    std::fs::write(dir.join("index.html"), bad).unwrap();
    let (broken, _) = check_links(dir);
    let whys: Vec<&str> = broken.iter().map(|b| b.2).collect();
    for want in [
        "no such file",
        "absolute path: links must be relative",
        "points at a folder, not a file",
        "no element with that id",
    ] {
        assert!(whys.contains(&want), "{want} not reported in {broken:#?}");
    }
}

#[test]
fn pages_load_nothing_from_elsewhere() {
    let (out, _) = render_example();
    let remote =
        regex::Regex::new(r#"<(?:script|link|img|iframe)[^>]*(?:src|href)="(?:https?:)?//"#)
            .unwrap();
    for f in files(out.path())
        .iter()
        .filter(|f| f.ends_with(".html") || f.ends_with(".css"))
    {
        let body = page(out.path(), f);
        assert!(!remote.is_match(&body), "{f} loads a remote resource");
        assert!(
            !body.contains("@import") && !body.contains("url(http"),
            "{f} imports something"
        );
    }
}

#[test]
fn rendering_is_deterministic() {
    let (a, _) = render_example();
    let (b, _) = render_example();
    let fa = files(a.path());
    assert_eq!(fa, files(b.path()));
    for f in &fa {
        assert!(
            std::fs::read(a.path().join(f)).unwrap() == std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn environment_snippets_are_valid_environment_files() {
    let reg = example();
    let (out, _) = render_example();
    let pre = regex::Regex::new(r#"(?s)<pre id="snippet"[^>]*><code>(.*?)</code></pre>"#).unwrap();
    for d in &reg.documents {
        let html = page(out.path(), &format!("services/{}@{}.html", d.id, d.version));
        let text = pre
            .captures(&html)
            .unwrap_or_else(|| panic!("{} {}: no snippet", d.id, d.version))[1]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#x2F;", "/")
            .replace("&amp;", "&");
        let env: hsp_index::Environment = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} {}: {e}\n{text}", d.id, d.version));
        assert_eq!(env.services.len(), 1);
        assert_eq!(env.services[0].id, d.id);
        let range = hsp_index::version::parse_range(&env.services[0].version).unwrap();
        assert!(range.matches(&hsp_index::version::parse_version(&d.version).unwrap()));
        for c in d
            .config
            .iter()
            .filter(|c| c.required && !c.generate && c.default.is_none())
        {
            assert!(
                env.config[&d.id].contains_key(&c.name),
                "{}: {} missing from the snippet",
                d.id,
                c.name
            );
        }
    }
}

#[test]
fn version_pages_link_requirements_to_their_providers() {
    let reg = example();
    let (out, _) = render_example();
    let hapi = reg
        .documents
        .iter()
        .filter(|d| d.id == "org.hapifhir.server")
        .max_by_key(|d| hsp_index::version::parse_version(&d.version).unwrap())
        .unwrap();
    let html = page(
        out.path(),
        &format!("services/{}@{}.html", hapi.id, hapi.version),
    );
    assert!(html.contains("<svg"), "graph missing");
    assert!(
        html.contains("Dependency graph of HAPI FHIR"),
        "graph title missing"
    );
    let db = hapi
        .requires
        .iter()
        .find(|r| r.interface == "postgres")
        .expect("HAPI FHIR requires postgres");
    let pg = reg
        .documents
        .iter()
        .filter(|d| d.id == "org.hsp.community.postgresql" && d.yanked.is_none())
        .filter(|d| {
            d.provides.iter().any(|p| {
                p.interface == "postgres"
                    && hsp_index::version::parse_range(&db.version)
                        .unwrap()
                        .matches(&hsp_index::version::parse_version(&p.version).unwrap())
            })
        })
        .max_by_key(|d| hsp_index::version::parse_version(&d.version).unwrap())
        .expect("a postgres provider matches");
    let href = format!(
        "href=\"../services/org.hsp.community.postgresql@{}.html\"",
        pg.version
    );
    assert!(html.contains(&href), "no link to {href}");
}

/// Snapshots of representative pages (HTML is deterministic).
#[test]
fn snapshots_of_representative_pages() {
    let (out, _) = render_example();
    let reg = example();
    let newest = |id: &str| {
        reg.documents
            .iter()
            .filter(|d| d.id == id)
            .max_by_key(|d| hsp_index::version::parse_version(&d.version).unwrap())
            .unwrap()
            .version
            .clone()
    };
    for (name, rel) in [
        ("home", "index.html".to_string()),
        (
            "service_hapi",
            "services/org.hapifhir.server.html".to_string(),
        ),
        (
            "version_hapi",
            format!(
                "services/org.hapifhir.server@{}.html",
                newest("org.hapifhir.server")
            ),
        ),
        ("interface_fhir", "interfaces/fhir.html".to_string()),
        ("publisher_hapifhir", "publishers/hapifhir.html".to_string()),
        ("docs_packaging", "docs/packaging.html".to_string()),
    ] {
        insta::assert_snapshot!(name, page(out.path(), &rel));
    }
}

/// A registry's own templates, logo and colour replace the built-in look.
#[test]
fn registry_overrides_templates_logo_and_colour() {
    let mut reg = example();
    reg.config.site.primary_colour = Some("#7a1f5c".into());
    let custom = tempfile::tempdir().unwrap();
    std::fs::write(
        custom.path().join("home.html"),
        "{% extends \"base.html\" %}{% block content %}<h1>Our own catalogue</h1><p>{{ services | length }} services</p>{% endblock content %}",
    )
    .unwrap();
    let logo = custom.path().join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let mut input = reg.input();
    input.templates_dir = Some(custom.path().to_path_buf());
    input.logo = Some(logo);
    let out = tempfile::tempdir().unwrap();
    hsp_site::render(&input, out.path()).unwrap();
    let home = page(out.path(), "index.html");
    assert!(
        home.contains("<h1>Our own catalogue</h1>"),
        "template override not used"
    );
    assert!(home.contains("--primary: #7a1f5c"), "colour not applied");
    assert!(home.contains("src=\"assets/logo.svg\""), "logo not shown");
    assert!(out.path().join("assets/logo.svg").is_file());
    // Pages the registry did not override keep the built-in template.
    assert!(page(out.path(), "docs/packaging.html").contains("Packaging requirements"));

    // A colour that could break out of the stylesheet is refused.
    reg.config.site.primary_colour = Some("red;}body{display:none".into());
    let err = hsp_site::render(&reg.input(), out.path()).unwrap_err();
    assert!(err.to_string().contains("primary_colour"), "{err}");
}
