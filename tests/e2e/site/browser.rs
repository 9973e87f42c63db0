//! The example site in a real browser (Debian's chromium driven by
//! playwright-core, tests/browser/site.mjs) served by `hsp serve`, plus axe-core
//! accessibility checks, and `hsp serve` rebuilding on changes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hsp_test_support::fs::copy_tree;
use hsp_test_support::registry::examples_registry;
use hsp_test_support::site;
use serde_json::{json, Value};

/// A running `hsp serve`, killed on drop.
struct Serve {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(repo: &Path, extra: &[&str]) -> Serve {
    let mut child = Command::new(hsp_test_support::bin("hsp"))
        .arg("serve")
        .arg(repo)
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting hsp serve");
    let stderr = Arc::new(Mutex::new(String::new()));
    let pipe = child.stderr.take().unwrap();
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    // The URL is the first line of stdout, printed once the server listens.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    let s = Serve { child, url, stderr };
    assert!(
        s.url.starts_with("http://127.0.0.1:"),
        "no URL from hsp serve; stderr:\n{}",
        s.stderr.lock().unwrap()
    );
    s
}

/// A plain HTTP/1.0 GET: (status, body).
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn node() -> PathBuf {
    hsp_test_support::tool("tests/browser/node_modules/playwright-core");
    hsp_test_support::tool("tests/browser/node_modules/axe-core");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run .ci/install"
    );
    let node = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("node"))
        .find(|p| p.is_file());
    node.expect("node is missing: run .ci/install (Debian package nodejs)")
}

fn newest(reg: &site::Registry, id: &str) -> String {
    reg.documents
        .iter()
        .filter(|d| d.id == id && d.yanked.is_none())
        .max_by_key(|d| hsp_index::version::parse_version(&d.version).unwrap())
        .unwrap_or_else(|| panic!("{id} is not in the example registry"))
        .version
        .clone()
}

#[test]
fn example_site_in_chromium_search_graph_links_and_accessibility() {
    let reg = site::example();
    let server = serve(
        &hsp_test_support::root().join("examples/registry"),
        &["--no-watch"],
    );
    assert!(
        server.stderr.lock().unwrap().contains("THROWAWAY"),
        "hsp serve must say it uses throwaway keys"
    );
    // The same site in a plain folder, opened with file://.
    let folder = tempfile::tempdir().unwrap();
    hsp_site::render(&reg.input(), folder.path()).unwrap();
    let out = hsp_test_support::root().join("tests/output");
    let version = format!(
        "services/org.hapifhir.server@{}.html",
        newest(&reg, "org.hapifhir.server")
    );
    let cfg = json!({
        "base": server.url,
        "file": format!("file://{}/index.html", folder.path().display()),
        "version": version,
        "query": "fhir",
        "axe": ["index.html", "services/org.hapifhir.server.html", version,
                "interfaces/fhir.html", "publishers/hapifhir.html",
                "docs/packaging.html", "docs/reference.html"],
        "out": out,
    });
    let run = Command::new(node())
        .arg(hsp_test_support::root().join("tests/browser/site.mjs"))
        .arg(cfg.to_string())
        .current_dir(hsp_test_support::root().join("tests/browser"))
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "site.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(r["errors"], json!([]), "browser errors");

    // Nothing is fetched from anywhere but the site itself.
    for u in r["requests"].as_array().unwrap() {
        let u = u.as_str().unwrap();
        assert!(
            u.starts_with(&server.url) || u.starts_with("file://") || u.starts_with("data:"),
            "request to {u}"
        );
    }

    // Searching "fhir" lists HAPI FHIR, and filters the list.
    let hapi_name = &reg
        .documents
        .iter()
        .find(|d| d.id == "org.hapifhir.server")
        .unwrap()
        .name;
    for (where_, s) in [("served", &r["search"]), ("file://", &r["file"])] {
        let names: Vec<&str> = s["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(
            names.contains(&hapi_name.as_str()),
            "{where_}: {hapi_name} not in {names:?}"
        );
        assert!(
            names.len() < s["before"].as_u64().unwrap() as usize,
            "{where_}: search did not filter: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.contains("Mailpit")),
            "{where_}: Mailpit matched fhir: {names:?}"
        );
    }
    assert!(r["file"]["clicked"]["url"]
        .as_str()
        .unwrap()
        .starts_with("file://"));
    assert_eq!(
        r["file"]["clicked"]["h1"].as_str().unwrap().trim(),
        hapi_name.as_str()
    );

    // Yanked services are hidden until asked for.
    let all_yanked = {
        let mut ids: Vec<&str> = reg.documents.iter().map(|d| d.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .filter(|id| {
                reg.documents
                    .iter()
                    .filter(|d| d.id == *id)
                    .all(|d| d.yanked.is_some())
            })
            .count()
    };
    let f = &r["filters"];
    assert_eq!(
        f["yankedShown"].as_u64().unwrap() - f["default"].as_u64().unwrap(),
        all_yanked as u64
    );

    // The version page shows its graph, and every graph and requirement link opens a page.
    let v = &r["version"];
    assert_eq!(v["status"], 200);
    assert_eq!(v["graphVisible"], true);
    assert!(
        v["graphBox"]["width"].as_f64().unwrap() > 300.0,
        "graph too small: {}",
        v["graphBox"]
    );
    assert!(v["graphTitle"]
        .as_str()
        .unwrap()
        .contains(hapi_name.as_str()));
    assert!(
        !v["graphLinks"].as_array().unwrap().is_empty(),
        "graph has no links"
    );
    assert!(
        !v["requirementLinks"].as_array().unwrap().is_empty(),
        "requirements have no provider links"
    );
    for f in v["followed"].as_array().unwrap() {
        assert_eq!(f["status"], 200, "{f}");
        assert!(!f["h1"].as_str().unwrap_or("").trim().is_empty(), "{f}");
    }
    assert!(v["followed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["url"].as_str().unwrap().contains("postgresql")));
    assert_ne!(
        v["clicked"]["url"].as_str().unwrap(),
        format!("{}{version}", server.url)
    );

    // axe-core: no serious or critical violation.
    for (page, violations) in r["axe"].as_object().unwrap() {
        let bad: Vec<&Value> = violations
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(bad.is_empty(), "{page}: {bad:#?}");
    }

    for shot in ["site-search.png", "site-version.png"] {
        let bytes = std::fs::read(out.join(shot)).unwrap();
        assert!(
            bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"),
            "{shot} is not a screenshot"
        );
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_rebuilds_on_change_and_keeps_serving_after_a_bad_edit() {
    let reg = site::example();
    let repo = tempfile::tempdir().unwrap();
    copy_tree(&examples_registry(), repo.path());
    let server = serve(repo.path(), &[]);
    let page = format!("{}services/org.axllent.mailpit.html", server.url);
    let (status, body) = get(&page);
    assert_eq!(status, 200);
    // The signed index is served next to the site.
    let (status, timestamp) = get(&format!("{}metadata/timestamp.json", server.url));
    assert_eq!(status, 200);
    assert!(
        timestamp.contains("\"_type\":\"timestamp\"")
            || timestamp.contains("\"_type\": \"timestamp\""),
        "{timestamp}"
    );
    let v = newest(&reg, "org.axllent.mailpit");
    let file = repo.path().join(format!(
        "publishers/axllent/services/org.axllent.mailpit/{v}.json"
    ));
    assert!(file.is_file(), "{} missing", file.display());
    let original = std::fs::read_to_string(&file).unwrap();
    let mut doc: Value = serde_json::from_str(&original).unwrap();
    let marker = format!("Edited while serving {}", std::process::id());
    assert!(!body.contains(&marker));
    doc["summary"] = json!(marker);
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    wait_for("the rebuilt page", || get(&page).1.contains(&marker));

    // A broken document: the build fails, the last good site keeps serving.
    std::fs::write(&file, "{ not json").unwrap();
    wait_for("the failed rebuild", || {
        server.stderr.lock().unwrap().contains("rebuild failed")
    });
    let (status, body) = get(&page);
    assert_eq!(status, 200);
    assert!(body.contains(&marker));

    // Paths outside the site are refused.
    assert_ne!(
        get(&format!("{}%2e%2e/%2e%2e/etc/passwd", server.url)).0,
        200
    );
    assert_eq!(get(&format!("{}no/such/page.html", server.url)).0, 404);
}
