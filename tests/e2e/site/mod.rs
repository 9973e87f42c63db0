//! The site `hsp build` writes, and the example site in a real browser.

use hsp_test_support::registry::{dev_build, examples_registry};
use hsp_test_support::site::check_links;

mod browser;

/// The site `hsp build` publishes next to the TUF repository: same checks.
#[test]
fn hsp_build_output_has_no_broken_links() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("out");
    dev_build(
        &examples_registry(),
        &dir,
        &["--now", "2026-01-01T00:00:00Z"],
    );
    assert!(dir.join("metadata/timestamp.json").is_file());
    assert!(dir.join("index.html").is_file());
    let (broken, checked) = check_links(&dir);
    assert!(checked > 500, "only {checked} links checked");
    assert!(
        broken.is_empty(),
        "{} broken links:\n{:#?}",
        broken.len(),
        broken
    );
    // A config entry's example is shown beside its description.
    let page =
        std::fs::read_to_string(dir.join("services/com.acme.care-coordinator@2.1.0.html")).unwrap();
    assert!(
        page.contains("for example <code>https://care.hospital.example</code>"),
        "no example for PUBLIC_URL"
    );
}
